//! The deletion of a whole account: the tombstone `DELETE /api/account` writes comes in on the
//! table's stream (filtered by
//! [`ACCOUNT_DELETION_FILTER`](thumbforge_catalog::schema::ACCOUNT_DELETION_FILTER)), and every
//! trace of the user goes out, in this order:
//!
//! 1. each image: every version of its renditions and upload ([`purge`](crate::store::purge)),
//!    then its item (which also removes its tag and album entries and its share of the profile);
//! 2. every other item of the user but the tombstone: albums, memberships, markers, the profile;
//! 3. the user in the identity provider ([`Directory`]), so they cannot sign in again;
//! 4. the tombstone is marked `deleted` (it stays, with a TTL longer than any token lives, so a
//!    token still valid creates nothing: every creating write is conditioned on its absence).
//!
//! Every step is safe to redo. A pass stops before its deadline (the invocation's remaining
//! time, less a margin) and bumps the tombstone's `pass`: that change comes back on the stream
//! and starts the next pass, so an account of any size is deleted in bounded invocations. A pass
//! that fails is retried by the event source mapping, as the image clean-up is.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;
use thumbforge_catalog::schema::{self, TOMBSTONE_SK};
use thumbforge_catalog::{AccountState, Catalog, CatalogError, Owner};

use crate::store::{self, ObjectStore, StoreError};

/// How much of the invocation a pass leaves unused: enough for the last image's calls to finish
/// and the tombstone to be bumped.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// Images read per query.
const IMAGE_BATCH: u16 = 25;
/// Other items deleted per call.
const ITEM_BATCH: u16 = 25;

/// The identity provider failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("deleting user {username:?} from the identity provider: {message}")]
pub struct DirectoryError {
    /// Whom.
    pub username: String,
    /// What went wrong.
    pub message: String,
    /// Whether retrying may help.
    pub transient: bool,
}

/// The identity provider's users.
pub trait Directory: Send + Sync {
    /// Deletes the user; `false` when there was no such user (deleted by an earlier pass).
    fn delete_user(&self, username: &str) -> impl Future<Output = Result<bool, DirectoryError>> + Send;
}

/// A Cognito user pool (or, locally, the embedded issuer, which answers the same API).
#[derive(Debug, Clone)]
pub struct CognitoDirectory {
    client: aws_sdk_cognitoidentityprovider::Client,
    pool_id: String,
}

impl CognitoDirectory {
    /// The users of `pool_id`.
    pub fn new(client: aws_sdk_cognitoidentityprovider::Client, pool_id: impl Into<String>) -> Self {
        Self { client, pool_id: pool_id.into() }
    }
}

impl Directory for CognitoDirectory {
    async fn delete_user(&self, username: &str) -> Result<bool, DirectoryError> {
        use aws_sdk_cognitoidentityprovider::operation::admin_delete_user::AdminDeleteUserError;
        match self.client.admin_delete_user().user_pool_id(&self.pool_id).username(username).send().await {
            Ok(_) => Ok(true),
            Err(err)
                if matches!(err.as_service_error(), Some(AdminDeleteUserError::UserNotFoundException(_))) =>
            {
                Ok(false)
            }
            Err(err) => Err(DirectoryError {
                username: username.to_owned(),
                transient: thumbforge_lambda::is_transient(&err),
                message: thumbforge_lambda::describe(&err),
            }),
        }
    }
}

/// No directory of ours: with `provider = "oidc"` the users live in the operator's own identity
/// provider, which this stack cannot change; the data is deleted and the log says so.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExternalDirectory;

impl Directory for ExternalDirectory {
    async fn delete_user(&self, username: &str) -> Result<bool, DirectoryError> {
        tracing::warn!(
            username,
            "the user's data is deleted; their account in the external identity provider is not"
        );
        Ok(false)
    }
}

/// Why a pass failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The bucket failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The table failed.
    #[error("catalog: {0}")]
    Catalog(#[from] CatalogError),
    /// The identity provider failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// Not a tombstone record this function can read.
    #[error("malformed tombstone record: {0}")]
    Malformed(String),
}

impl AccountError {
    /// Whether retrying may help.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Store(e) => e.transient,
            Self::Catalog(e) => e.is_transient(),
            Self::Directory(e) => e.transient,
            Self::Malformed(_) => false,
        }
    }
}

/// What a pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pass {
    /// Everything is gone; the tombstone says `deleted`.
    Finished {
        /// Images deleted by this pass.
        images: usize,
        /// Other items deleted by this pass.
        items: usize,
        /// Whether the identity provider had the user still.
        user_deleted: bool,
    },
    /// The deadline came first; the tombstone was bumped, so another pass follows.
    Continued {
        /// Images deleted by this pass.
        images: usize,
    },
    /// The account is not being deleted (already finished by an earlier delivery).
    Skipped,
}

/// The owner and user name of a tombstone record; `None` for any other record.
pub fn parse_tombstone(record: &Value) -> Result<Option<(Owner, String)>, AccountError> {
    let text = |pointer: &str| record.pointer(pointer).and_then(Value::as_str);
    if text("/dynamodb/Keys/sk/S") != Some(TOMBSTONE_SK) || text("/eventName") == Some("REMOVE") {
        return Ok(None);
    }
    let malformed = |what: &str| AccountError::Malformed(what.to_owned());
    let owner = text("/dynamodb/Keys/pk/S")
        .and_then(schema::parse_user_pk)
        .and_then(|owner| Owner::new(owner).ok())
        .ok_or_else(|| malformed("the partition key is not USER#<owner>"))?;
    let username = text("/dynamodb/NewImage/username/S")
        .filter(|name| !name.is_empty())
        .ok_or_else(|| malformed("no NewImage.username"))?;
    Ok(Some((owner, username.to_owned())))
}

/// One pass over `owner`'s account, stopping before `deadline`; `now_ms` (epoch ms) dates the
/// tombstone's changes.
///
/// # Errors
///
/// The first failure of the bucket, the table or the identity provider (the stream retries).
pub async fn purge_account<S: ObjectStore, C: Catalog, D: Directory>(
    store: &S,
    catalog: &C,
    directory: &D,
    (owner, username): (&Owner, &str),
    deadline: Instant,
    now_ms: u64,
) -> Result<Pass, AccountError> {
    if !matches!(catalog.account_state(owner).await?, AccountState::Deleting { .. }) {
        return Ok(Pass::Skipped);
    }
    let late = || Instant::now() + DEADLINE_MARGIN >= deadline;
    let mut images = 0;
    loop {
        let batch = catalog.account_images(owner, IMAGE_BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for image in batch {
            if late() {
                catalog.begin_account_deletion(owner, username, now_ms).await?;
                tracing::info!(images, "account deletion continues in another pass");
                return Ok(Pass::Continued { images });
            }
            store::purge(store, &image.id.hyphenated().to_string()).await?;
            catalog.delete(owner, image.id).await?;
            images += 1;
        }
    }
    let mut items = 0;
    loop {
        let deleted = catalog.clear_account(owner, ITEM_BATCH).await?;
        if deleted == 0 {
            break;
        }
        items += deleted;
    }
    let user_deleted = directory.delete_user(username).await?;
    catalog.finish_account_deletion(owner, now_ms).await?;
    tracing::info!(images, items, user_deleted, "account deleted: nothing of the user is left");
    Ok(Pass::Finished { images, items, user_deleted })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use serde_json::json;

    use super::*;

    fn tombstone(event: &str) -> Value {
        json!({
            "eventName": event,
            "eventSource": "aws:dynamodb",
            "dynamodb": {
                "Keys": {"pk": {"S": "USER#alice"}, "sk": {"S": "DELETED"}},
                "NewImage": {"status": {"S": "deleting"}, "username": {"S": "alice-name"}},
                "SequenceNumber": "7",
            },
        })
    }

    #[test]
    fn tombstones_are_read() {
        for event in ["INSERT", "MODIFY"] {
            let (owner, username) = parse_tombstone(&tombstone(event)).unwrap().unwrap();
            assert_eq!((owner.as_str(), username.as_str()), ("alice", "alice-name"));
        }
        assert!(parse_tombstone(&tombstone("REMOVE")).unwrap().is_none());
        let mut image = tombstone("INSERT");
        image["dynamodb"]["Keys"]["sk"] = json!({"S": "IMAGE#x"});
        assert!(parse_tombstone(&image).unwrap().is_none());
    }

    #[test]
    fn damaged_tombstones_are_errors() {
        let mut nameless = tombstone("INSERT");
        nameless["dynamodb"]["NewImage"]["username"] = json!({"S": ""});
        assert!(matches!(parse_tombstone(&nameless), Err(AccountError::Malformed(_))));
        let mut ownerless = tombstone("INSERT");
        ownerless["dynamodb"]["Keys"]["pk"] = json!({"S": "USER#"});
        assert!(matches!(parse_tombstone(&ownerless), Err(AccountError::Malformed(_))));
    }
}
