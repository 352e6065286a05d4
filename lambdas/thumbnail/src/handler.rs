//! The S3 event handler: which records to act on, and what to do for each.
//!
//! For every `ObjectCreated:*` record of the configured bucket under `raw/{uuid}.{ext}`:
//!
//! 1. `HeadObject` the upload: gone → nothing to do; no valid `owner` metadata (percent-encoded
//!    `sub`, signed into the upload URL by the API) → not uploaded through the API: a warning,
//!    skipped, nothing written.
//! 2. Read the image's item: none (deleted, or never created) → remove whatever the image left
//!    in the bucket; already finished → a duplicate delivery, nothing to do.
//! 3. Gate on the size, download with a cap, run the [`engine`](crate::engine), write the
//!    renditions under `thumbs/{id}/`.
//! 4. Record the outcome on the item ([`Catalog::finish`]): the table is the one record of what
//!    happened. Finished → done; already finished by a concurrent delivery → nothing more;
//!    missing (deleted while we worked) → delete the renditions, then the upload.
//!
//! A bad image is a `rejected` item and a successful invocation. An image our code could not
//! process (the engine panicked, an encoder failed) is a `failed` item — the user is told it is
//! not their file — and a failed invocation, like a store or catalog failure or a permanent
//! catalog error (our bug or damaged data): Lambda retries it and the dead-letter queue keeps
//! what still fails, for a replay once fixed. The upload is kept; every step is safe to redo.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::s3::S3EventRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thumbforge_catalog::{Catalog, CatalogError, Finish, ImageState, Owner};
use thumbforge_core::config::{THUMBNAIL, human_bytes};
use thumbforge_core::keys::{self, KeyError};
use thumbforge_core::manifest::{Rendition, Source};
use thumbforge_core::{FailReason, Outcome, RejectReason, RuntimeConfig, metrics};
use thumbforge_lambda::emf::{Metrics, Unit};
use tracing::Instrument;
use uuid::Uuid;

use crate::store::{self, Fetched, Head, ObjectStore, StoreError};
use thumbforge_engine::watermark::Mark;
use thumbforge_engine::{self as engine, Failure, Reject};

/// What the handler needs: a store, the catalog, the bucket it serves and the runtime config.
#[derive(Debug)]
pub struct Handler<S, C> {
    store: S,
    catalog: C,
    bucket: String,
    config: RuntimeConfig,
    watermark: Option<Arc<Mark>>,
}

/// Reads and checks the watermark `config` names, at cold start: `None` when none is
/// configured; an error (the function does not start) when it is configured but missing, too
/// large or not a PNG with alpha, so that no rendition is ever written without a watermark
/// that was asked for.
pub async fn load_watermark<S: ObjectStore>(
    store: &S,
    config: &RuntimeConfig,
) -> Result<Option<Mark>, String> {
    let settings = &config.watermark;
    if !settings.is_on() {
        return Ok(None);
    }
    let key = settings.image.as_str();
    let cap = u64::try_from(thumbforge_core::watermark::MAX_BYTES).unwrap_or(u64::MAX);
    let data = match store.get(key, cap).await.map_err(|e| format!("reading the watermark: {e}"))? {
        Fetched::Body(data) => data,
        Fetched::Missing => return Err(format!("the watermark {key} is not in the bucket")),
        Fetched::TooLarge => {
            return Err(format!("the watermark {key} is larger than {}", human_bytes(cap)));
        }
    };
    let mark = Mark::from_png(&data, settings).map_err(|e| format!("the watermark {key}: {e}"))?;
    tracing::info!(key, bytes = data.len(), "watermark loaded");
    Ok(Some(mark))
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RecordOutcome {
    /// Thumbnails were written and the item is now `ready`.
    Ready {
        /// The image id.
        id: String,
    },
    /// The item is now `rejected`; no thumbnail was written.
    Rejected {
        /// The image id.
        id: String,
        /// Why.
        reason: RejectReason,
    },
    /// The item is now `failed` (our code could not process it); the record then fails with
    /// [`RecordError::Internal`], so this is never in a [`Summary`].
    Failed {
        /// The image id.
        id: String,
    },
    /// The item was already finished (a duplicate delivery, or a concurrent one finished
    /// first); nothing more was changed.
    AlreadyDone {
        /// The image id.
        id: String,
    },
    /// The image has no item (deleted before or while it was processed, or never created): its
    /// renditions and its upload were deleted, so nothing is left behind.
    Discarded {
        /// The image id.
        id: String,
    },
    /// The object was deleted before it could be read.
    Gone {
        /// Its key.
        key: String,
    },
    /// Not uploaded through the API (no valid owner metadata, or a key that is not
    /// `raw/{uuid}.{ext}`): left as it is, nothing written.
    Skipped {
        /// Its key.
        key: String,
        /// Why.
        reason: String,
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

/// Why one record failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The bucket failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The metadata table failed, or answered with something we cannot use.
    #[error("catalog: {0}")]
    Catalog(#[from] CatalogError),
    /// Our code could not process the image (recorded as `failed`): the invocation fails so the
    /// event reaches the dead-letter queue, to be replayed once the bug is fixed.
    #[error("image {id} failed internally: {what}")]
    Internal {
        /// The image id.
        id: String,
        /// What failed (the panic's or the encoder's message).
        what: String,
    },
}

impl RecordError {
    /// Whether trying again later may help (a time-out, throttling, a 5xx…). The invocation
    /// fails either way; a permanent error is also logged as a bug or damaged data.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Store(err) => err.transient,
            Self::Catalog(err) => err.is_transient(),
            Self::Internal { .. } => false,
        }
    }
}

/// The invocation failed; Lambda retries it (records already done are skipped then).
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} records failed; first: {first}")]
pub struct HandlerError {
    /// How many records failed.
    pub failed: usize,
    /// How many records there were.
    pub total: usize,
    /// The first failure.
    pub first: RecordError,
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

/// Now, in epoch milliseconds (when the outcome is recorded).
fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, millis)
}

/// The image id of a `raw/` key's name: a UUID in its canonical (lower-case, hyphenated) form,
/// as the API makes them, so that the item's key and the `thumbs/{id}/` keys agree.
fn parse_id(id: &str) -> Result<Uuid, String> {
    match Uuid::try_parse(id) {
        Ok(uuid) if uuid.hyphenated().to_string() == id => Ok(uuid),
        Ok(_) => Err(format!("the id {id:?} is not a UUID in lower-case hyphenated form")),
        Err(err) => Err(format!("the id {id:?} is not a UUID: {err}")),
    }
}

/// The upload's owner from its `owner` metadata (percent-encoded UTF-8, checked by
/// [`Owner::new`]); the error says what is wrong.
pub fn owner_of(head: &Head) -> Result<Owner, String> {
    let Some(encoded) = head.metadata.get(keys::OWNER_METADATA) else {
        return Err(format!("the upload has no `{}` metadata", keys::OWNER_METADATA));
    };
    let decoded = percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .map_err(|err| format!("the `{}` metadata does not decode to UTF-8: {err}", keys::OWNER_METADATA))?;
    Owner::new(decoded).map_err(|err| format!("the `{}` metadata: {err}", keys::OWNER_METADATA))
}

/// What an image's processing leaves before the invocation's deadline: time to write its
/// renditions and record the outcome.
pub const FINISH_MARGIN: Duration = Duration::from_secs(3);

impl<S: ObjectStore, C: Catalog> Handler<S, C> {
    /// A handler for `bucket`, recording outcomes in `catalog`.
    pub fn new(store: S, catalog: C, bucket: impl Into<String>, config: RuntimeConfig) -> Self {
        Self { store, catalog, bucket: bucket.into(), config, watermark: None }
    }

    /// The handler, drawing `mark` on the renditions it applies to.
    #[must_use]
    pub fn with_watermark(mut self, mark: Option<Mark>) -> Self {
        self.watermark = mark.map(Arc::new);
        self
    }

    /// Handles one invocation's payload. Every record is attempted; if any failed, the whole
    /// invocation fails (records already done are skipped on retry).
    pub async fn handle(&self, event: &Value) -> Result<Summary, HandlerError> {
        self.handle_until(event, None).await
    }

    /// [`handle`](Self::handle) within the invocation's `deadline`: an image whose processing
    /// would not leave [`FINISH_MARGIN`] to write and record it is rejected `too_slow` (a
    /// success, so Lambda does not retry it three times to the same end).
    pub async fn handle_until(
        &self,
        event: &Value,
        deadline: Option<Instant>,
    ) -> Result<Summary, HandlerError> {
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
            match self.handle_record(record, deadline).await {
                Ok(outcome) => summary.records.push(outcome),
                Err(err) if err.is_transient() => {
                    tracing::error!(error = %err, transient = true, "record failed; the invocation will be retried");
                    failures.push(err);
                }
                Err(err) => {
                    tracing::error!(
                        error = %err,
                        transient = false,
                        "record failed permanently (a bug or damaged data); failing the invocation"
                    );
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

    fn skip(key: String, reason: String) -> RecordOutcome {
        tracing::warn!(%key, %reason, "not uploaded through the API; skipped, nothing written");
        RecordOutcome::Skipped { key, reason }
    }

    async fn handle_record(
        &self,
        record: &Value,
        deadline: Option<Instant>,
    ) -> Result<RecordOutcome, RecordError> {
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
        let uuid = match parse_id(&id) {
            Ok(uuid) => uuid,
            Err(reason) => return Ok(Self::skip(key, reason)),
        };
        let span = tracing::info_span!("record", %key, %id);
        self.process(uuid, id, key, object.size, deadline).instrument(span).await
    }

    /// Processes one upload: `raw/{id}.*` at `key`, of `size` bytes if the event said.
    async fn process(
        &self,
        uuid: Uuid,
        id: String,
        key: String,
        size: Option<u64>,
        deadline: Option<Instant>,
    ) -> Result<RecordOutcome, RecordError> {
        let Some(head) = self.store.head(&key).await? else {
            tracing::warn!("object is gone (deleted before processing); nothing to do");
            return Ok(RecordOutcome::Gone { key });
        };
        let owner = match owner_of(&head) {
            Ok(owner) => owner,
            Err(reason) => return Ok(Self::skip(key, reason)),
        };
        let created_at_ms = match self.catalog.get(&owner, uuid).await? {
            None => {
                tracing::info!(%owner, "the image has no item (deleted, or never created)");
                return self.discard(&id).await;
            }
            Some(record) if record.state.is_final() => {
                tracing::info!(
                    status = record.state.status(),
                    "already finished: duplicate delivery, nothing to do"
                );
                // A retry after the rejected upload's deletion failed: finish that.
                if matches!(record.state, ImageState::Finished(Outcome::Rejected { .. })) {
                    self.drop_rejected_upload(&id).await?;
                }
                return Ok(RecordOutcome::AlreadyDone { id });
            }
            Some(record) => {
                if record.state != ImageState::Pending {
                    tracing::info!(status = record.state.status(), "failed before; processing it again");
                }
                record.created_at_ms
            }
        };
        let image = Image { owner, uuid, id, key };

        let limits = &self.config.limits;
        // The object's own size is the truth; the event's is the fallback.
        let size = head.size.or(size);
        let early = match size {
            Some(0) => Some(Reject { reason: RejectReason::Empty, message: "the file is empty".into() }),
            Some(size) if size > limits.max_upload_bytes => Some(too_large(limits.max_upload_bytes)),
            _ => None,
        };
        if let Some(reject) = early {
            tracing::info!(size, "rejected from its size, without downloading");
            return self.reject(&image, reject).await;
        }

        let started = Instant::now();
        let data = match self.store.get(&image.key, limits.max_upload_bytes).await? {
            Fetched::Body(data) => data,
            Fetched::Missing => {
                tracing::warn!("object is gone (deleted before it was read); nothing to do");
                return Ok(RecordOutcome::Gone { key: image.key });
            }
            Fetched::TooLarge => return self.reject(&image, too_large(limits.max_upload_bytes)).await,
        };
        let download = started.elapsed();
        let bytes = u64::try_from(data.len()).unwrap_or(u64::MAX);
        let config = self.config.clone();
        let watermark = self.watermark.clone();
        // The engine stops at its first stage boundary past this, leaving time to record.
        let engine_deadline = deadline.map(|d| d.checked_sub(FINISH_MARGIN).unwrap_or(started));
        if engine_deadline.is_some_and(|d| Instant::now() >= d) {
            let message = format!(
                "processing the image took too long: {} ms in, after downloading it, there was no time left",
                download.as_millis()
            );
            return self.reject(&image, Reject { reason: RejectReason::TooSlow, message }).await;
        }
        let processed = tokio::task::spawn_blocking(move || {
            let options = engine::Options { watermark: watermark.as_deref(), deadline: engine_deadline };
            engine::process_with(&data, &config, options)
        })
        .await;
        let thumbs = match processed {
            Ok(Ok(thumbs)) => thumbs,
            Ok(Err(Failure::Rejected(reject))) => return self.reject(&image, reject).await,
            Ok(Err(Failure::Internal(what))) => return self.fail(&image, what).await,
            // The engine catches its own panics; this is one outside it, ours just the same.
            Err(join) => return self.fail(&image, format!("the engine's task failed: {join}")).await,
        };

        let started = Instant::now();
        let cache_control = self.config.thumbnails.cache_control();
        let mut renditions = Vec::with_capacity(thumbs.renditions.len());
        for r in thumbs.renditions {
            let rendition_key = keys::rendition_key(&image.id, r.size, r.format);
            let len = u64::try_from(r.data.len()).unwrap_or(u64::MAX);
            self.store.put(&rendition_key, r.data, r.format.content_type(), &cache_control).await?;
            renditions.push(Rendition {
                key: rendition_key,
                size: r.size,
                width: r.width,
                height: r.height,
                format: r.format,
                bytes: len,
            });
        }
        let upload = started.elapsed();
        let source = Source {
            format: thumbs.source.format,
            width: thumbs.source.width,
            height: thumbs.source.height,
            bytes,
        };
        let outcome = Outcome::Ready { source, renditions, placeholder: Some(thumbs.placeholder) };
        let recorded = self.record(&image, &outcome).await?;
        if matches!(recorded, RecordOutcome::Ready { .. }) {
            let bytes_out: u64 = match &outcome {
                Outcome::Ready { renditions, .. } => renditions.iter().map(|r| r.bytes).sum(),
                Outcome::Rejected { .. } | Outcome::Failed { .. } => 0,
            };
            Metrics::new()
                .dimension(metrics::FUNCTION, THUMBNAIL)
                .dimension(metrics::OUTCOME, metrics::READY)
                .value(metrics::IMAGES, Unit::Count, 1.0)
                .value(metrics::DOWNLOAD_MS, Unit::Milliseconds, millis(download) as f64)
                .value(metrics::DECODE_MS, Unit::Milliseconds, millis(thumbs.timings.decode) as f64)
                .value(metrics::RESIZE_MS, Unit::Milliseconds, millis(thumbs.timings.resize) as f64)
                .value(metrics::ENCODE_MS, Unit::Milliseconds, millis(thumbs.timings.encode) as f64)
                .value(metrics::UPLOAD_MS, Unit::Milliseconds, millis(upload) as f64)
                .value(metrics::BYTES_IN, Unit::Bytes, bytes as f64)
                .value(metrics::BYTES_OUT, Unit::Bytes, bytes_out as f64)
                .value(
                    metrics::TIME_TO_READY_MS,
                    Unit::Milliseconds,
                    now_ms().saturating_sub(created_at_ms) as f64,
                )
                .property("imageId", image.id.as_str())
                .emit();
            tracing::info!(
                outcome = "ready",
                bytes,
                download_ms = millis(download),
                decode_ms = millis(thumbs.timings.decode),
                resize_ms = millis(thumbs.timings.resize),
                encode_ms = millis(thumbs.timings.encode),
                upload_ms = millis(upload),
                "thumbnails written"
            );
        }
        Ok(recorded)
    }

    async fn reject(&self, image: &Image, reject: Reject) -> Result<RecordOutcome, RecordError> {
        let reason = reject.reason;
        let outcome = Outcome::Rejected { reason, message: reject.message.clone() };
        let recorded = self.record(image, &outcome).await?;
        if matches!(recorded, RecordOutcome::Rejected { .. }) {
            tracing::info!(outcome = "rejected", %reason, message = %reject.message, "upload rejected");
            Metrics::new()
                .dimension(metrics::FUNCTION, THUMBNAIL)
                .dimension(metrics::OUTCOME, metrics::REJECTED)
                .dimension(metrics::REASON, reason.code())
                .value(metrics::IMAGES, Unit::Count, 1.0)
                .property("imageId", image.id.as_str())
                .emit();
            self.drop_rejected_upload(&image.id).await?;
        }
        Ok(recorded)
    }

    /// Our code could not process the image: it is recorded as `failed` (with words that do not
    /// blame the file), logged at error level and counted, and the record fails, so the
    /// invocation fails and the event reaches the dead-letter queue after Lambda's retries. The
    /// upload stays for the replay. A concurrent delivery that finished it, or its deletion,
    /// ends the record as usual.
    async fn fail(&self, image: &Image, what: String) -> Result<RecordOutcome, RecordError> {
        let reason = FailReason::InternalError;
        let outcome = Outcome::Failed { reason, message: FAILED_MESSAGE.to_owned() };
        let recorded = self.record(image, &outcome).await?;
        if !matches!(recorded, RecordOutcome::Failed { .. }) {
            return Ok(recorded);
        }
        tracing::error!(
            outcome = "failed",
            %reason,
            error = %what,
            "our code could not process the image; failing the invocation so the event reaches the dead-letter queue"
        );
        Metrics::new()
            .dimension(metrics::FUNCTION, THUMBNAIL)
            .dimension(metrics::OUTCOME, metrics::FAILED)
            .dimension(metrics::REASON, reason.code())
            .value(metrics::IMAGES, Unit::Count, 1.0)
            .property("imageId", image.id.as_str())
            .emit();
        Err(RecordError::Internal { id: image.id.clone(), what })
    }

    /// A rejected upload stops costing money: every version of it goes (the rejection stays in
    /// the table). A failure fails the invocation, and the retry finds the item rejected and
    /// comes back here.
    async fn drop_rejected_upload(&self, id: &str) -> Result<(), RecordError> {
        let deleted = store::purge(&self.store, id).await?;
        tracing::info!(deleted, "the rejected upload is deleted; its rejection stays recorded");
        Ok(())
    }

    /// Records `outcome` on the image's item.
    async fn record(&self, image: &Image, outcome: &Outcome) -> Result<RecordOutcome, RecordError> {
        let id = image.id.clone();
        match self.catalog.finish(&image.owner, image.uuid, outcome, now_ms()).await? {
            Finish::Finished => Ok(match outcome {
                Outcome::Ready { .. } => RecordOutcome::Ready { id },
                Outcome::Rejected { reason, .. } => RecordOutcome::Rejected { id, reason: *reason },
                Outcome::Failed { .. } => RecordOutcome::Failed { id },
            }),
            Finish::AlreadyFinished(record) => {
                tracing::info!(
                    status = record.state.status(),
                    "a concurrent delivery finished the image first; nothing more to do"
                );
                Ok(RecordOutcome::AlreadyDone { id })
            }
            Finish::Missing => {
                tracing::info!(owner = %image.owner, "the image's item was deleted while it was processed");
                self.discard(&image.id).await
            }
        }
    }

    /// Deletes what an image without an item left in the bucket: every version of every
    /// rendition (this delivery's and any an earlier one wrote) and of the upload, the upload
    /// last, so that a failure part-way leaves the upload for the retry to find.
    async fn discard(&self, id: &str) -> Result<RecordOutcome, RecordError> {
        let deleted = store::purge(&self.store, id).await?;
        tracing::info!(
            deleted,
            "every version of the renditions and the upload deleted: nothing left behind"
        );
        Ok(RecordOutcome::Discarded { id: id.to_owned() })
    }
}

/// The image a record is about, once its owner is known.
#[derive(Debug)]
struct Image {
    owner: Owner,
    uuid: Uuid,
    /// The id as it appears in keys (the canonical form of `uuid`).
    id: String,
    /// The upload's key.
    key: String,
}

/// What a `failed` image tells its owner: not their file's fault, and what happens next.
pub const FAILED_MESSAGE: &str = "we could not process this photo because of a problem on our side, not with \
     your file; it has been reported, and the photo will be processed again once it is fixed";

fn too_large(limit: u64) -> Reject {
    Reject {
        reason: RejectReason::FileTooLarge,
        message: format!("the file is larger than the {} limit", human_bytes(limit)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use serde_json::json;
    use thumbforge_catalog::interfere::{Interference, Interfering};
    use thumbforge_catalog::{MEMORY_TABLE, MemoryCatalog, NewImage};

    use super::*;

    const OWNER: &str = "eu-west-3:6f1c2d9e-0000-4000-8000-000000000001";
    const ID: &str = "0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e";

    /// An object in [`MemoryStore`]: its body and user metadata.
    type Stored = (Vec<u8>, BTreeMap<String, String>);

    /// The bucket in memory, with a log of every call.
    #[derive(Debug, Default)]
    struct MemoryStore {
        objects: Mutex<BTreeMap<String, Stored>>,
        calls: Mutex<Vec<String>>,
        /// `head` leaves out the size (as a store that sends no `Content-Length` would).
        hide_size: bool,
    }

    impl MemoryStore {
        fn insert(&self, key: &str, body: &[u8], metadata: &[(&str, &str)]) {
            let metadata = metadata.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            self.objects.lock().unwrap().insert(key.to_owned(), (body.to_vec(), metadata));
        }
        fn keys(&self) -> Vec<String> {
            self.objects.lock().unwrap().keys().cloned().collect()
        }
        fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }
        fn log(&self, call: &str, key: &str) {
            self.calls.lock().unwrap().push(format!("{call} {key}"));
        }
    }

    impl ObjectStore for MemoryStore {
        async fn get(&self, key: &str, max_bytes: u64) -> Result<Fetched, StoreError> {
            self.log("get", key);
            Ok(match self.objects.lock().unwrap().get(key) {
                None => Fetched::Missing,
                Some((body, _)) if body.len() as u64 > max_bytes => Fetched::TooLarge,
                Some((body, _)) => Fetched::Body(body.clone()),
            })
        }
        async fn head(&self, key: &str) -> Result<Option<Head>, StoreError> {
            self.log("head", key);
            Ok(self.objects.lock().unwrap().get(key).map(|(body, metadata)| Head {
                size: (!self.hide_size).then_some(body.len() as u64),
                metadata: metadata.clone(),
            }))
        }
        async fn put(&self, key: &str, body: Vec<u8>, _: &str, _: &str) -> Result<(), StoreError> {
            self.log("put", key);
            self.objects.lock().unwrap().insert(key.to_owned(), (body, BTreeMap::new()));
            Ok(())
        }
        async fn list_versions(&self, prefix: &str) -> Result<Vec<store::Version>, StoreError> {
            self.log("list", prefix);
            let keys =
                self.objects.lock().unwrap().keys().filter(|k| k.starts_with(prefix)).cloned().collect();
            Ok(keys_as_versions(keys))
        }
        async fn delete_versions(&self, versions: &[store::Version]) -> Result<(), StoreError> {
            for version in versions {
                self.log("delete", &version.key);
                self.objects.lock().unwrap().remove(&version.key);
            }
            Ok(())
        }
    }

    fn keys_as_versions(keys: Vec<String>) -> Vec<store::Version> {
        keys.into_iter().map(|key| store::Version { key, version_id: "null".into() }).collect()
    }

    /// A [`MemoryCatalog`] with something happening just before `finish`.
    type Racing = Interfering<MemoryCatalog>;

    fn owner() -> Owner {
        Owner::new(OWNER).unwrap()
    }

    fn uuid() -> Uuid {
        Uuid::parse_str(ID).unwrap()
    }

    fn raw_key() -> String {
        format!("raw/{ID}.png")
    }

    fn new_image() -> NewImage {
        NewImage {
            id: uuid(),
            filename: "a.png".into(),
            content_type: "image/png".into(),
            size: 1,
            created_at_ms: 1,
            expires_at_s: 2,
        }
    }

    fn picture() -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::new_rgb8(300, 200).write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// The owner as the API signs it into the upload: percent-encoded.
    fn encoded_owner() -> String {
        percent_encoding::utf8_percent_encode(OWNER, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    fn event(key: &str, size: usize) -> Value {
        json!({"Records": [{
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "media"}, "object": {"key": key, "size": size}}
        }]})
    }

    /// A handler over an upload of `body` at `raw/{ID}.png` with a pending item.
    async fn setup(body: &[u8], before_finish: Interference) -> Handler<MemoryStore, Racing> {
        let store = MemoryStore::default();
        store.insert(&raw_key(), body, &[(keys::OWNER_METADATA, &encoded_owner())]);
        let catalog = Interfering::new(MemoryCatalog::new(), before_finish);
        catalog.create(&owner(), &new_image()).await.unwrap();
        Handler::new(store, catalog, "media", RuntimeConfig::default())
    }

    async fn state(handler: &Handler<MemoryStore, Racing>) -> Option<ImageState> {
        handler.catalog.get(&owner(), uuid()).await.unwrap().map(|r| r.state)
    }

    fn transient() -> CatalogError {
        CatalogError::Unavailable {
            operation: "finish",
            table: MEMORY_TABLE.into(),
            key: "k".into(),
            transient: true,
            message: "throttled".into(),
        }
    }

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

    #[test]
    fn ids_are_canonical_uuids() {
        assert_eq!(parse_id(ID), Ok(uuid()));
        for bad in ["dup", "0195896B-6A13-7C3A-9B1E-6F4D2C1A0B9E", "0195896b6a137c3a9b1e6f4d2c1a0b9e", ""] {
            assert!(parse_id(bad).is_err(), "{bad:?}");
        }
        assert!(parse_id("{0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e}").unwrap_err().contains("hyphenated"));
    }

    #[test]
    fn owners_come_percent_decoded_from_the_metadata() {
        let head = |value: &str| Head {
            size: None,
            metadata: BTreeMap::from([(keys::OWNER_METADATA.to_owned(), value.to_owned())]),
        };
        assert_eq!(owner_of(&head(&encoded_owner())), Ok(owner()));
        assert_eq!(owner_of(&head("g%C3%BCnter%7C42")).unwrap().as_str(), "günter|42");
        assert!(owner_of(&Head::default()).unwrap_err().contains("no `owner` metadata"));
        assert!(owner_of(&head("%FF")).unwrap_err().contains("UTF-8"));
        assert!(owner_of(&head("")).unwrap_err().contains("empty"));
        assert!(owner_of(&head("a%0Ab")).unwrap_err().contains("control character"));
    }

    #[tokio::test]
    async fn a_picture_ends_ready_with_its_renditions() {
        let body = picture();
        let handler = setup(&body, Interference::Nothing).await;
        let summary = handler.handle(&event(&raw_key(), body.len())).await.unwrap();
        assert_eq!(summary.records, [RecordOutcome::Ready { id: ID.into() }]);

        let record = handler.catalog.get(&owner(), uuid()).await.unwrap().unwrap();
        assert!(record.finished_at_ms.is_some_and(|at| at > 1_700_000_000_000), "{record:?}");
        let ImageState::Finished(Outcome::Ready { source, renditions, placeholder }) = record.state else {
            panic!("{record:?}")
        };
        assert_eq!((source.width, source.height, source.bytes), (300, 200, body.len() as u64));
        assert_eq!(placeholder.map(|p| p.color).as_deref(), Some("#000000"), "a black picture");
        let mut written: Vec<String> = renditions.iter().map(|r| r.key.clone()).collect();
        assert_eq!(written.len(), 4, "{written:?}");
        written.push(raw_key());
        written.sort();
        assert_eq!(handler.store.keys(), written);
    }

    #[tokio::test]
    async fn a_text_file_ends_rejected_and_writes_nothing() {
        let handler = setup(b"not a picture at all", Interference::Nothing).await;
        let summary = handler.handle(&event(&raw_key(), 20)).await.unwrap();
        assert_eq!(
            summary.records,
            [RecordOutcome::Rejected { id: ID.into(), reason: RejectReason::NotAnImage }]
        );
        let Some(ImageState::Finished(Outcome::Rejected { reason, .. })) = state(&handler).await else {
            panic!("{:?}", state(&handler).await)
        };
        assert_eq!(reason, RejectReason::NotAnImage);
        assert_eq!(handler.store.keys(), Vec::<String>::new(), "the rejected upload is deleted");
    }

    /// Our failure is not the file's: a panic in the engine (the test build's fault injection,
    /// not caught by this test) records `failed` with words that do not blame the file, keeps
    /// the upload and fails the invocation; a retry processes it again, and once the engine
    /// gets through (here: the same picture without the marker, standing in for a fixed build)
    /// the image becomes ready.
    #[tokio::test]
    async fn a_panic_in_the_engine_fails_the_image_and_the_invocation_not_the_file() {
        let mut marked = picture();
        marked.extend_from_slice(thumbforge_engine::fault::PANIC_MARKER);
        let handler = setup(&marked, Interference::Nothing).await;
        let err = handler.handle(&event(&raw_key(), marked.len())).await.unwrap_err();
        let RecordError::Internal { id, what } = &err.first else { panic!("{err}") };
        assert_eq!(id, ID);
        assert!(what.contains("injected fault"), "{what}");
        assert!(!err.first.is_transient());
        let Some(ImageState::Finished(Outcome::Failed { reason, message })) = state(&handler).await else {
            panic!("{:?}", state(&handler).await)
        };
        assert_eq!((reason, message.as_str()), (FailReason::InternalError, FAILED_MESSAGE));
        assert_eq!(handler.store.keys(), [raw_key()], "the upload is kept, nothing else written");

        // Lambda's retry processes it again (a failed image is not final).
        let calls = handler.store.calls().len();
        assert!(handler.handle(&event(&raw_key(), marked.len())).await.is_err());
        assert!(handler.store.calls()[calls..].contains(&format!("get {}", raw_key())), "downloaded again");

        let clean = picture();
        handler.store.insert(&raw_key(), &clean, &[(keys::OWNER_METADATA, &encoded_owner())]);
        let summary = handler.handle(&event(&raw_key(), clean.len())).await.unwrap();
        assert_eq!(summary.records, [RecordOutcome::Ready { id: ID.into() }]);
        assert!(matches!(state(&handler).await, Some(ImageState::Finished(Outcome::Ready { .. }))));
    }

    #[tokio::test]
    async fn a_finished_image_is_not_processed_again() {
        let body = picture();
        let handler = setup(&body, Interference::Nothing).await;
        handler.handle(&event(&raw_key(), body.len())).await.unwrap();
        let before = handler.catalog.get(&owner(), uuid()).await.unwrap();
        let calls = handler.store.calls().len();

        let again = handler.handle(&event(&raw_key(), body.len())).await.unwrap();
        assert_eq!(again.records, [RecordOutcome::AlreadyDone { id: ID.into() }]);
        assert_eq!(handler.store.calls()[calls..], [format!("head {}", raw_key())]);
        assert_eq!(handler.catalog.get(&owner(), uuid()).await.unwrap(), before);
    }

    #[tokio::test]
    async fn an_image_deleted_while_processed_leaves_nothing_behind() {
        let body = picture();
        let handler = setup(&body, Interference::Delete).await;
        let summary = handler.handle(&event(&raw_key(), body.len())).await.unwrap();
        assert_eq!(summary.records, [RecordOutcome::Discarded { id: ID.into() }]);
        assert!(handler.store.keys().is_empty(), "{:?}", handler.store.keys());
        assert!(handler.catalog.inner.all_images().is_empty(), "no item was created");
        // The renditions first, the upload last.
        let calls = handler.store.calls();
        let puts = calls.iter().filter(|c| c.starts_with("put ")).count();
        assert_eq!(puts, 4);
        assert_eq!(calls.last(), Some(&format!("delete {}", raw_key())));
        for call in calls.iter().filter(|c| c.starts_with("put ")) {
            assert!(calls.contains(&call.replacen("put", "delete", 1)), "{call} not deleted: {calls:?}");
        }
    }

    #[tokio::test]
    async fn an_upload_without_an_item_is_removed_without_processing() {
        let handler = setup(&picture(), Interference::Nothing).await;
        handler.catalog.delete(&owner(), uuid()).await.unwrap();
        // What an earlier, interrupted clean-up may have left.
        handler.store.insert(&format!("thumbs/{ID}/256.webp"), b"x", &[]);
        let summary = handler.handle(&event(&raw_key(), 10)).await.unwrap();
        assert_eq!(summary.records, [RecordOutcome::Discarded { id: ID.into() }]);
        assert!(handler.store.keys().is_empty(), "{:?}", handler.store.keys());
        let calls = handler.store.calls();
        let touches = |c: &String| ["head ", "list ", "delete "].iter().any(|p| c.starts_with(p));
        assert!(calls.iter().all(touches), "{calls:?}");
        assert_eq!(calls.last(), Some(&format!("delete {}", raw_key())));
    }

    #[tokio::test]
    async fn uploads_without_a_valid_owner_are_skipped_untouched() {
        let body = picture();
        for metadata in [vec![], vec![(keys::OWNER_METADATA, "%FF")], vec![(keys::OWNER_METADATA, "a%00b")]] {
            let handler = setup(&body, Interference::Nothing).await;
            handler.store.insert(&raw_key(), &body, &metadata);
            let summary = handler.handle(&event(&raw_key(), body.len())).await.unwrap();
            let [RecordOutcome::Skipped { key, reason }] = &summary.records[..] else {
                panic!("{summary:?}")
            };
            assert_eq!(key, &raw_key());
            assert!(reason.contains("`owner` metadata"), "{reason}");
            assert_eq!(handler.store.calls(), [format!("head {}", raw_key())]);
            assert_eq!(state(&handler).await, Some(ImageState::Pending));
        }
    }

    #[tokio::test]
    async fn keys_that_are_not_uuids_are_skipped_without_a_call() {
        let handler = setup(b"x", Interference::Nothing).await;
        let summary = handler.handle(&event("raw/holiday.jpg", 10)).await.unwrap();
        let [RecordOutcome::Skipped { key, reason }] = &summary.records[..] else { panic!("{summary:?}") };
        assert_eq!(key, "raw/holiday.jpg");
        assert!(reason.contains("not a UUID"), "{reason}");
        assert!(handler.store.calls().is_empty());
    }

    #[tokio::test]
    async fn a_transient_catalog_error_fails_the_invocation_and_the_retry_completes() {
        let body = picture();
        let handler = setup(&body, Interference::Nothing).await;
        handler.catalog.inner.fail_next(transient());
        let err = handler.handle(&event(&raw_key(), body.len())).await.unwrap_err();
        assert!(err.first.is_transient(), "{err}");
        assert!(matches!(err.first, RecordError::Catalog(_)), "{err}");
        assert_eq!(handler.store.keys(), [raw_key()], "nothing written");
        assert_eq!(state(&handler).await, Some(ImageState::Pending));

        let summary = handler.handle(&event(&raw_key(), body.len())).await.unwrap();
        assert_eq!(summary.records, [RecordOutcome::Ready { id: ID.into() }]);
    }

    #[tokio::test]
    async fn a_failed_finish_fails_the_invocation_and_the_retry_records_it() {
        let body = picture();
        let handler = setup(&body, Interference::Fail(transient())).await;
        let err = handler.handle(&event(&raw_key(), body.len())).await.unwrap_err();
        assert!(err.to_string().contains("finish in memory"), "{err}");
        assert_eq!(state(&handler).await, Some(ImageState::Pending));
        let summary = handler.handle(&event(&raw_key(), body.len())).await.unwrap();
        assert_eq!(summary.records, [RecordOutcome::Ready { id: ID.into() }]);
        assert_eq!(handler.store.keys().len(), 5);
    }

    #[tokio::test]
    async fn a_permanent_catalog_error_fails_the_invocation_too() {
        let handler = setup(&picture(), Interference::Nothing).await;
        handler.catalog.inner.fail_next(CatalogError::Corrupt {
            table: MEMORY_TABLE.into(),
            pk: "USER#x".into(),
            sk: "IMAGE#y".into(),
            what: "no status".into(),
        });
        let err = handler.handle(&event(&raw_key(), 10)).await.unwrap_err();
        assert!(!err.first.is_transient());
        assert!(err.to_string().contains("corrupt item"), "{err}");
        assert_eq!(handler.store.keys(), [raw_key()]);
    }

    #[tokio::test]
    async fn sizes_are_gated_before_downloading() {
        let mut handler = setup(&picture(), Interference::Nothing).await;
        handler.config.limits.max_upload_bytes = 100;
        // The object's size wins over the event's.
        let summary = handler.handle(&event(&raw_key(), 10)).await.unwrap();
        assert_eq!(
            summary.records,
            [RecordOutcome::Rejected { id: ID.into(), reason: RejectReason::FileTooLarge }]
        );
        assert!(handler.store.calls().iter().all(|c| !c.starts_with("get ")));

        // Without a size from the store, the download stops at the cap.
        let mut handler = setup(&picture(), Interference::Nothing).await;
        handler.config.limits.max_upload_bytes = 100;
        handler.store.hide_size = true;
        let summary = handler.handle(&event(&raw_key(), 10)).await.unwrap();
        assert_eq!(
            summary.records,
            [RecordOutcome::Rejected { id: ID.into(), reason: RejectReason::FileTooLarge }]
        );

        let handler = setup(b"", Interference::Nothing).await;
        let summary = handler.handle(&event(&raw_key(), 0)).await.unwrap();
        assert_eq!(summary.records, [RecordOutcome::Rejected { id: ID.into(), reason: RejectReason::Empty }]);
        assert!(handler.store.calls().iter().all(|c| !c.starts_with("get ")));
    }

    #[tokio::test]
    async fn a_gone_upload_is_left_alone() {
        let handler = setup(b"x", Interference::Nothing).await;
        handler.store.objects.lock().unwrap().clear();
        let summary = handler.handle(&event(&raw_key(), 1)).await.unwrap();
        assert_eq!(summary.records, [RecordOutcome::Gone { key: raw_key() }]);
        assert_eq!(state(&handler).await, Some(ImageState::Pending));
    }
}
