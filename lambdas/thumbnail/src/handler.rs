//! The S3 event handler: which records to act on, and what to write for each.
//!
//! For every `ObjectCreated:*` record of the configured bucket under `raw/`: skip if the
//! manifest already exists (a duplicate delivery), gate on the event's size, download with a
//! cap, run the [`engine`](crate::engine), write the renditions under `thumbs/{id}/`, then the
//! manifest last and only if absent. A bad image is a `rejected` manifest and a successful
//! invocation; a store failure is an error, so Lambda retries and the dead-letter queue catches
//! what still fails.

use std::time::{Duration, Instant};

use aws_lambda_events::event::s3::S3EventRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thumbforge_core::config::human_bytes;
use thumbforge_core::keys::{self, KeyError};
use thumbforge_core::manifest::{MANIFEST_VERSION, Rendition, Source};
use thumbforge_core::{Manifest, Outcome, RejectReason, RuntimeConfig};
use tracing::Instrument;

use crate::engine::{self, Reject};
use crate::store::{Fetched, ObjectStore, Put, StoreError};

use thumbforge_core::web::{MANIFEST_CACHE_CONTROL, THUMBS_CACHE_CONTROL};
/// `Content-Type` of a manifest.
pub const MANIFEST_CONTENT_TYPE: &str = "application/json";

/// What the handler needs: a store, the bucket it serves and the runtime config.
#[derive(Debug)]
pub struct Handler<S> {
    store: S,
    bucket: String,
    config: RuntimeConfig,
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RecordOutcome {
    /// Thumbnails and a `ready` manifest were written.
    Ready {
        /// The image id.
        id: String,
    },
    /// A `rejected` manifest was written.
    Rejected {
        /// The image id.
        id: String,
        /// Why.
        reason: RejectReason,
    },
    /// The manifest already existed: a duplicate delivery; nothing was written.
    AlreadyDone {
        /// The image id.
        id: String,
    },
    /// The object was deleted before it could be read.
    Gone {
        /// Its key.
        key: String,
    },
    /// Not a record this function acts on.
    Ignored {
        /// Why.
        why: String,
    },
}

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// One entry per record, in order.
    pub records: Vec<RecordOutcome>,
}

/// The invocation failed for a reason worth retrying.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} records failed; first: {first}")]
pub struct HandlerError {
    /// How many records failed.
    pub failed: usize,
    /// How many records there were.
    pub total: usize,
    /// The first failure.
    pub first: StoreError,
}

/// The fields of an S3 record the handler uses.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ObjectCreated {
    event_name: String,
    bucket: String,
    /// The key as it appears in the event (form-encoded).
    encoded_key: String,
    size: Option<u64>,
}

/// Decodes an S3 event key: `+` is a space, then percent-decoding (as S3 encodes them).
/// `None` when the result is not UTF-8.
pub fn decode_key(encoded: &str) -> Option<String> {
    let spaced = encoded.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8().ok().map(|k| k.into_owned())
}

/// Reads a record with the AWS types, or, for emulators that send another shape (no timezone,
/// no sequencer), by the few fields needed.
fn parse_record(record: &Value) -> Option<ObjectCreated> {
    if let Ok(typed) = S3EventRecord::deserialize(record) {
        return Some(ObjectCreated {
            event_name: typed.event_name.unwrap_or_default(),
            bucket: typed.s3.bucket.name.unwrap_or_default(),
            encoded_key: typed.s3.object.key?,
            size: typed.s3.object.size.and_then(|s| u64::try_from(s).ok()),
        });
    }
    let text = |pointer: &str| record.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    Some(ObjectCreated {
        event_name: text("/eventName")?,
        bucket: text("/s3/bucket/name")?,
        encoded_key: text("/s3/object/key")?,
        size: record.pointer("/s3/object/size").and_then(Value::as_u64),
    })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl<S: ObjectStore> Handler<S> {
    /// A handler for `bucket`.
    pub fn new(store: S, bucket: impl Into<String>, config: RuntimeConfig) -> Self {
        Self { store, bucket: bucket.into(), config }
    }

    /// Handles one invocation's payload. Every record is attempted; if any failed in a way worth
    /// retrying, the whole invocation fails (records already done are skipped on retry).
    pub async fn handle(&self, event: &Value) -> Result<Summary, HandlerError> {
        let mut summary = Summary::default();
        let Some(records) = event.get("Records").and_then(Value::as_array) else {
            let why = if event.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
                "s3:TestEvent"
            } else {
                "not an S3 event"
            };
            tracing::info!(why, "ignoring event");
            summary.records.push(RecordOutcome::Ignored { why: why.to_owned() });
            return Ok(summary);
        };
        let mut failures = Vec::new();
        for record in records {
            match self.handle_record(record).await {
                Ok(outcome) => summary.records.push(outcome),
                Err(err) => {
                    tracing::error!(error = %err, "record failed; the invocation will be retried");
                    failures.push(err);
                }
            }
        }
        let failed = failures.len();
        match failures.into_iter().next() {
            None => Ok(summary),
            Some(first) => Err(HandlerError { failed, total: records.len(), first }),
        }
    }

    fn ignore(why: String) -> RecordOutcome {
        tracing::info!(why, "ignoring record");
        RecordOutcome::Ignored { why }
    }

    async fn handle_record(&self, record: &Value) -> Result<RecordOutcome, StoreError> {
        let Some(object) = parse_record(record) else {
            return Ok(Self::ignore("record without an event name, bucket or key".into()));
        };
        if !object.event_name.starts_with("ObjectCreated:") {
            return Ok(Self::ignore(format!("event {} is not ObjectCreated", object.event_name)));
        }
        if object.bucket != self.bucket {
            return Ok(Self::ignore(format!("bucket {} is not {}", object.bucket, self.bucket)));
        }
        let Some(key) = decode_key(&object.encoded_key) else {
            return Ok(Self::ignore(format!("key {} does not decode to UTF-8", object.encoded_key)));
        };
        let id = match keys::id_from_raw_key(&key) {
            Ok(id) => id.to_owned(),
            Err(KeyError::NotRaw) => {
                return Ok(Self::ignore(format!("key {key:?} is not under {}", keys::RAW_PREFIX)));
            }
            Err(err) => return Ok(Self::ignore(format!("key {key:?}: {err}"))),
        };
        let span = tracing::info_span!("record", %key, %id);
        self.process(id, key, object.size).instrument(span).await
    }

    /// Processes one upload: `raw/{id}.*` at `key`, of `size` bytes if the event said.
    async fn process(&self, id: String, key: String, size: Option<u64>) -> Result<RecordOutcome, StoreError> {
        let manifest_key = keys::manifest_key(&id);
        if self.store.exists(&manifest_key).await? {
            tracing::info!("manifest exists: duplicate delivery, nothing to do");
            return Ok(RecordOutcome::AlreadyDone { id });
        }
        let limits = &self.config.limits;
        let early = match size {
            Some(0) => Some(Reject { reason: RejectReason::Empty, message: "the file is empty".into() }),
            Some(size) if size > limits.max_upload_bytes => Some(too_large(limits.max_upload_bytes)),
            _ => None,
        };
        if let Some(reject) = early {
            tracing::info!(size, "rejected from the event size, without downloading");
            return self.reject(&id, &key, reject).await;
        }

        let started = Instant::now();
        let data = match self.store.get(&key, limits.max_upload_bytes).await? {
            Fetched::Body(data) => data,
            Fetched::Missing => {
                tracing::warn!("object is gone (deleted before processing); nothing to do");
                return Ok(RecordOutcome::Gone { key });
            }
            Fetched::TooLarge => {
                return self.reject(&id, &key, too_large(limits.max_upload_bytes)).await;
            }
        };
        let download = started.elapsed();
        let bytes = u64::try_from(data.len()).unwrap_or(u64::MAX);
        let config = self.config.clone();
        let processed = tokio::task::spawn_blocking(move || engine::process(&data, &config)).await;
        let thumbs = match processed {
            Ok(Ok(thumbs)) => thumbs,
            Ok(Err(reject)) => return self.reject(&id, &key, reject).await,
            Err(join) => {
                let reject = Reject {
                    reason: RejectReason::Corrupt,
                    message: format!("the image could not be decoded: {join}"),
                };
                return self.reject(&id, &key, reject).await;
            }
        };

        let started = Instant::now();
        let mut renditions = Vec::with_capacity(thumbs.renditions.len());
        for r in thumbs.renditions {
            let rendition_key = keys::rendition_key(&id, r.size, r.format);
            let len = u64::try_from(r.data.len()).unwrap_or(u64::MAX);
            self.store
                .put(&rendition_key, r.data, r.format.content_type(), THUMBS_CACHE_CONTROL, false)
                .await?;
            renditions.push(Rendition {
                key: rendition_key,
                size: r.size,
                width: r.width,
                height: r.height,
                format: r.format,
                bytes: len,
            });
        }
        let source = Source {
            format: thumbs.source.format,
            width: thumbs.source.width,
            height: thumbs.source.height,
            bytes,
        };
        let written = self.write_manifest(&id, &key, Outcome::Ready { source, renditions }).await?;
        tracing::info!(
            outcome = "ready",
            bytes,
            manifest = ?written,
            download_ms = millis(download),
            decode_ms = millis(thumbs.timings.decode),
            resize_ms = millis(thumbs.timings.resize),
            encode_ms = millis(thumbs.timings.encode),
            upload_ms = millis(started.elapsed()),
            "thumbnails written"
        );
        Ok(RecordOutcome::Ready { id })
    }

    async fn reject(&self, id: &str, key: &str, reject: Reject) -> Result<RecordOutcome, StoreError> {
        let reason = reject.reason;
        let written = self
            .write_manifest(id, key, Outcome::Rejected { reason, message: reject.message.clone() })
            .await?;
        tracing::info!(outcome = "rejected", %reason, message = %reject.message, manifest = ?written, "upload rejected");
        Ok(RecordOutcome::Rejected { id: id.to_owned(), reason })
    }

    async fn write_manifest(&self, id: &str, key: &str, outcome: Outcome) -> Result<Put, StoreError> {
        let manifest =
            Manifest { version: MANIFEST_VERSION, id: id.to_owned(), raw_key: key.to_owned(), outcome };
        let written = self
            .store
            .put(
                &keys::manifest_key(id),
                manifest.to_json(),
                MANIFEST_CONTENT_TYPE,
                MANIFEST_CACHE_CONTROL,
                true,
            )
            .await?;
        if written == Put::AlreadyExists {
            tracing::info!("a concurrent delivery wrote the manifest first");
        }
        Ok(written)
    }
}

fn too_large(limit: u64) -> Reject {
    Reject {
        reason: RejectReason::FileTooLarge,
        message: format!("the file is larger than the {} limit", human_bytes(limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode_as_s3_encodes_them() {
        assert_eq!(decode_key("raw/a+b.jpg").as_deref(), Some("raw/a b.jpg"));
        assert_eq!(decode_key("raw/a%2Bb.jpg").as_deref(), Some("raw/a+b.jpg"));
        assert_eq!(
            decode_key("raw/sun+flower+%2B1+100%25+%C3%BC%C3%B1%C3%AE+%E6%9D%B1%E4%BA%AC+%F0%9F%98%80+%28copy%29%3D%23%3F%26.jpg").as_deref(),
            Some("raw/sun flower +1 100% üñî 東京 😀 (copy)=#?&.jpg")
        );
        assert_eq!(decode_key("raw/%FF.jpg"), None);
    }
}
