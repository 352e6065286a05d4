//! The clean-up of deleted images: the metadata table's stream in, the images' objects out.
//!
//! `DELETE /api/images/{id}` removes only the image's item (with its share of the profile's
//! counts, in one transaction), so the API answers at once and never leaves an item pointing at
//! half-deleted objects. The table's stream carries the removal here (an event source mapping
//! filtered to removed image items: [`REMOVED_IMAGES_FILTER`](thumbforge_catalog::schema::REMOVED_IMAGES_FILTER)),
//! and for each record, in order:
//!
//! 1. every version and delete marker of the image's renditions, then of its upload, are deleted
//!    for good ([`purge`](crate::store::purge));
//! 2. a removal made by DynamoDB's TTL (a pending upload that never arrived; the API's deletes
//!    already adjusted the counts) is subtracted from the owner's profile, once
//!    ([`Catalog::release_expired`]).
//!
//! Both steps are safe to redo. The first record that fails stops the batch and is reported in
//! `batchItemFailures` (`ReportBatchItemFailures`): the records before it are done, and the
//! mapping retries from it (splitting the batch on function errors), until its retries run out
//! and the batch's description goes to the clean-up dead-letter queue.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use thumbforge_catalog::schema::{self, IMAGE_PREFIX};
use thumbforge_catalog::{Catalog, CatalogError, Owner};
use tracing::Instrument;
use uuid::Uuid;

use crate::account::{self, AccountError, Directory, ExternalDirectory, Pass};
use crate::store::{self, ObjectStore, StoreError};

/// `eventSource` of a DynamoDB stream record.
pub const EVENT_SOURCE: &str = "aws:dynamodb";

/// Whether an invocation's payload is a batch of DynamoDB stream records (rather than S3 events).
pub fn is_stream_event(event: &Value) -> bool {
    event
        .pointer("/Records/0/eventSource")
        .and_then(Value::as_str)
        .is_some_and(|source| source == EVENT_SOURCE)
}

/// The answer to the event source mapping (`ReportBatchItemFailures`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    /// The first record that failed (at most one: the mapping retries from it); empty when the
    /// whole batch is done.
    pub batch_item_failures: Vec<ItemFailure>,
}

/// A record to retry from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailure {
    /// Its `dynamodb.SequenceNumber`.
    pub item_identifier: String,
}

/// What was done for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleaned {
    /// The image's objects are gone.
    Purged {
        /// The image id.
        id: Uuid,
        /// How many object versions were deleted.
        versions: usize,
        /// A TTL removal subtracted from the profile now (`false`: not a TTL removal, or
        /// already subtracted by an earlier delivery).
        released: bool,
    },
    /// A pass of an account's deletion (see [`account`](crate::account)).
    Account(Pass),
    /// Not a removed image item (the mapping's filter lets none through; logged).
    Ignored(String),
}

/// Why a record failed.
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    /// The bucket failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The table failed.
    #[error("catalog: {0}")]
    Catalog(#[from] CatalogError),
    /// An account's deletion failed.
    #[error("account deletion: {0}")]
    Account(#[from] AccountError),
    /// The record lacks what a removal of an image item carries (a bug upstream, or not a
    /// stream record): retried, then dead-lettered for an operator.
    #[error("malformed stream record: {0}")]
    Malformed(String),
}

/// The clean-up: the bucket and the catalog it works on, and the identity provider whose users
/// an account's deletion removes.
#[derive(Debug)]
pub struct Cleanup<S, C, D = ExternalDirectory> {
    store: S,
    catalog: C,
    directory: D,
}

/// The fields of a stream record the clean-up reads.
#[derive(Debug, PartialEq, Eq)]
struct Removal {
    owner: Owner,
    id: Uuid,
    /// Removed by DynamoDB's TTL rather than by a caller.
    by_ttl: bool,
    /// The removed item's declared size (`OldImage.size`), when it had one.
    size: Option<u64>,
}

fn text<'a>(record: &'a Value, pointer: &str) -> Option<&'a str> {
    record.pointer(pointer).and_then(Value::as_str)
}

/// Reads a removal of an image item; `Ok(None)` for any other record.
fn parse_removal(record: &Value) -> Result<Option<Removal>, CleanupError> {
    let malformed = |what: &str| CleanupError::Malformed(what.to_owned());
    let event = text(record, "/eventName").ok_or_else(|| malformed("no eventName"))?;
    let sk = text(record, "/dynamodb/Keys/sk/S").ok_or_else(|| malformed("no dynamodb.Keys.sk.S"))?;
    if event != "REMOVE" || !sk.starts_with(IMAGE_PREFIX) {
        return Ok(None);
    }
    let id = schema::parse_image_sk(sk).ok_or_else(|| malformed("the sort key is not IMAGE#<uuid>"))?;
    let pk = text(record, "/dynamodb/Keys/pk/S").ok_or_else(|| malformed("no dynamodb.Keys.pk.S"))?;
    let owner = schema::parse_user_pk(pk)
        .and_then(|owner| Owner::new(owner).ok())
        .ok_or_else(|| malformed("the partition key is not USER#<owner>"))?;
    // DynamoDB marks the deletions its TTL makes with this identity.
    let by_ttl = text(record, "/userIdentity/type") == Some("Service")
        && text(record, "/userIdentity/principalId") == Some("dynamodb.amazonaws.com");
    let size = text(record, "/dynamodb/OldImage/size/N").and_then(|n| n.parse().ok());
    Ok(Some(Removal { owner, id, by_ttl, size }))
}

impl<S: ObjectStore, C: Catalog> Cleanup<S, C> {
    /// A clean-up over this bucket and catalog, for users whose accounts are not ours to delete
    /// ([`ExternalDirectory`]).
    pub fn new(store: S, catalog: C) -> Self {
        Self { store, catalog, directory: ExternalDirectory }
    }
}

impl<S: ObjectStore, C: Catalog, D: Directory> Cleanup<S, C, D> {
    /// The same clean-up deleting deleted accounts' users from `directory`.
    pub fn with_directory<D2: Directory>(self, directory: D2) -> Cleanup<S, C, D2> {
        Cleanup { store: self.store, catalog: self.catalog, directory }
    }

    /// [`Cleanup::handle_until`] with a quarter of an hour to go (Lambda's longest timeout).
    pub async fn handle(&self, event: &Value, now_s: u64) -> BatchResponse {
        self.handle_until(event, now_s, Instant::now() + Duration::from_secs(900)).await
    }

    /// Handles one batch, in order, stopping at the first failure (reported for a retry from
    /// it). `now_s` (epoch seconds) dates the release markers; an account's deletion stops its
    /// pass before `deadline` (the invocation's).
    pub async fn handle_until(&self, event: &Value, now_s: u64, deadline: Instant) -> BatchResponse {
        let records = event.get("Records").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        for record in records {
            let sequence = text(record, "/dynamodb/SequenceNumber").unwrap_or_default().to_owned();
            let span = tracing::info_span!("stream_record", sequence = %sequence);
            match self.record(record, now_s, deadline).instrument(span).await {
                Ok(Cleaned::Purged { id, versions, released }) => {
                    tracing::info!(%id, versions, released, "deleted image cleaned up: nothing left in the bucket");
                }
                Ok(Cleaned::Account(pass)) => tracing::info!(?pass, "account deletion pass"),
                Ok(Cleaned::Ignored(why)) => tracing::warn!(sequence, why, "stream record ignored"),
                Err(err) => {
                    let transient = match &err {
                        CleanupError::Store(e) => e.transient,
                        CleanupError::Catalog(e) => e.is_transient(),
                        CleanupError::Account(e) => e.is_transient(),
                        CleanupError::Malformed(_) => false,
                    };
                    tracing::error!(
                        sequence,
                        error = %err,
                        transient,
                        "clean-up failed; the batch is retried from this record"
                    );
                    return BatchResponse {
                        batch_item_failures: vec![ItemFailure { item_identifier: sequence }],
                    };
                }
            }
        }
        BatchResponse::default()
    }

    /// Cleans up after one record.
    ///
    /// # Errors
    ///
    /// A store or catalog failure, or a record that is not what the stream sends.
    pub async fn record(
        &self,
        record: &Value,
        now_s: u64,
        deadline: Instant,
    ) -> Result<Cleaned, CleanupError> {
        if text(record, "/dynamodb/SequenceNumber").is_none_or(str::is_empty) {
            return Err(CleanupError::Malformed("no dynamodb.SequenceNumber".into()));
        }
        if let Some((owner, username)) = account::parse_tombstone(record)? {
            let now_ms = now_s.saturating_mul(1000);
            let who = (&owner, username.as_str());
            let pass =
                account::purge_account(&self.store, &self.catalog, &self.directory, who, deadline, now_ms)
                    .await?;
            return Ok(Cleaned::Account(pass));
        }
        let Some(removal) = parse_removal(record)? else {
            return Ok(Cleaned::Ignored("not the removal of an image item".into()));
        };
        let id = removal.id.hyphenated().to_string();
        let versions = store::purge(&self.store, &id).await?;
        let released = if removal.by_ttl {
            let size = removal
                .size
                .ok_or_else(|| CleanupError::Malformed("a TTL removal without OldImage.size".into()))?;
            self.catalog.release_expired(&removal.owner, removal.id, size, now_s).await?
        } else {
            false
        };
        Ok(Cleaned::Purged { id: removal.id, versions, released })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use serde_json::json;

    use super::*;

    const ID: &str = "0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e";

    fn removal(sk: &str) -> Value {
        json!({
            "eventID": "1",
            "eventName": "REMOVE",
            "eventSource": "aws:dynamodb",
            "dynamodb": {
                "Keys": {"pk": {"S": "USER#alice"}, "sk": {"S": sk}},
                "OldImage": {"pk": {"S": "USER#alice"}, "sk": {"S": sk}, "size": {"N": "123"}},
                "SequenceNumber": "100",
            },
        })
    }

    #[test]
    fn removals_of_image_items_are_read() {
        let record = removal(&format!("IMAGE#{ID}"));
        let parsed = parse_removal(&record).unwrap().unwrap();
        assert_eq!(parsed.owner.as_str(), "alice");
        assert_eq!(parsed.id.to_string(), ID);
        assert_eq!(parsed.size, Some(123));
        assert!(!parsed.by_ttl);

        let mut ttl = record;
        ttl["userIdentity"] = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
        assert!(parse_removal(&ttl).unwrap().unwrap().by_ttl);
    }

    #[test]
    fn other_records_are_not_removals() {
        assert_eq!(parse_removal(&removal("PROFILE")).unwrap(), None);
        assert_eq!(parse_removal(&removal(&format!("RELEASED#{ID}"))).unwrap(), None);
        let mut insert = removal(&format!("IMAGE#{ID}"));
        insert["eventName"] = json!("INSERT");
        assert_eq!(parse_removal(&insert).unwrap(), None);
    }

    #[test]
    fn damaged_removals_are_errors_not_skips() {
        for sk in ["IMAGE#not-a-uuid", &format!("IMAGE#{}", ID.to_uppercase())] {
            assert!(matches!(parse_removal(&removal(sk)), Err(CleanupError::Malformed(_))), "{sk}");
        }
        let mut no_owner = removal(&format!("IMAGE#{ID}"));
        no_owner["dynamodb"]["Keys"]["pk"] = json!({"S": "USER#"});
        assert!(matches!(parse_removal(&no_owner), Err(CleanupError::Malformed(_))));
    }

    #[test]
    fn stream_events_are_told_from_s3_events() {
        assert!(is_stream_event(&json!({"Records": [removal("PROFILE")]})));
        assert!(!is_stream_event(&json!({"Records": [{"eventSource": "aws:s3"}]})));
        assert!(!is_stream_event(&json!({"Records": []})));
        assert!(!is_stream_event(&json!({"Event": "s3:TestEvent"})));
    }
}
