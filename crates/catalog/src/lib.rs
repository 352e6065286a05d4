//! The image metadata store: one DynamoDB table partitioned by user.
//!
//! - The model: [`Owner`] (a verified `sub`), [`NewImage`], [`ImageRecord`] and its
//!   [`ImageState`], [`Page`], [`Profile`], [`Finish`].
//! - The port: [`Catalog`], which the API and thumbnail cores depend on.
//! - Its implementations: [`DynamoCatalog`] (aws-sdk-dynamodb) and [`MemoryCatalog`] (for pure
//!   unit tests elsewhere), both held to the same contract ([`contract`], feature `contract`).
//! - The table layout, attribute names and a `create_table` for the local stack: [`schema`].
//! - The conversion between JSON values and DynamoDB attribute values: [`attr`].
//!
//! Every access is inside the caller's partition: `pk` is derived from the [`Owner`] only, so no
//! id or cursor passed in can reach another user's items.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo(client: aws_sdk_dynamodb::Client) -> Result<(), thumbforge_catalog::CatalogError> {
//! use thumbforge_catalog::{Catalog, DynamoCatalog, NewImage, Owner};
//!
//! let catalog = DynamoCatalog::new(client, "thumbforge-dev-images");
//! let owner = Owner::new("6f1c2d9e-0000-4000-8000-000000000001")?;
//! let image = NewImage {
//!     id: uuid::Uuid::now_v7(),
//!     filename: "cat.jpg".into(),
//!     content_type: "image/jpeg".into(),
//!     size: 12_345,
//!     created_at_ms: 1_750_000_000_000,
//!     expires_at_s: 1_750_000_000 + 86_400,
//! };
//! catalog.create(&owner, &image).await?;
//! let page = catalog.list(&owner, 20, None).await?;
//! # Ok(()) }
//! ```

pub mod attr;
#[cfg(feature = "contract")]
pub mod contract;
mod dynamo;
mod error;
mod item;
mod memory;
pub mod schema;

use std::fmt;
use std::future::Future;

pub use thumbforge_core::describe::Edit;
use thumbforge_core::manifest::Outcome;
use uuid::Uuid;

pub use dynamo::DynamoCatalog;
pub use error::CatalogError;
pub use memory::{MEMORY_TABLE, MemoryCatalog};

/// The largest page [`Catalog::list`] returns.
pub const MAX_PAGE: u16 = 100;

/// The longest owner id accepted, in bytes.
pub const MAX_OWNER_LEN: usize = 256;

/// Whose items an operation touches: the verified `sub` claim of the caller. Every key the store
/// builds starts from it (`pk = USER#<owner>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner(String);

impl Owner {
    /// Checks `id`: non-empty, at most [`MAX_OWNER_LEN`] bytes, no control characters.
    ///
    /// # Errors
    ///
    /// [`CatalogError::InvalidOwner`] saying which rule failed.
    pub fn new(id: impl Into<String>) -> Result<Self, CatalogError> {
        let id = id.into();
        if id.is_empty() {
            return Err(CatalogError::InvalidOwner("the owner id is empty".to_owned()));
        }
        if id.len() > MAX_OWNER_LEN {
            return Err(CatalogError::InvalidOwner(format!(
                "the owner id is {} bytes long, more than {MAX_OWNER_LEN}",
                id.len()
            )));
        }
        if let Some(c) = id.chars().find(|c| c.is_control()) {
            return Err(CatalogError::InvalidOwner(format!(
                "the owner id contains the control character {:?}",
                c
            )));
        }
        Ok(Self(id))
    }

    /// The id as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An upload about to be made: what [`Catalog::create`] writes as a pending image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewImage {
    /// The image id (a UUIDv7, so ids sort by creation time).
    pub id: Uuid,
    /// The file name the user gave.
    pub filename: String,
    /// The declared `Content-Type`.
    pub content_type: String,
    /// The declared size in bytes.
    pub size: u64,
    /// When the upload was authorised (epoch milliseconds).
    pub created_at_ms: u64,
    /// When the pending item expires if the upload never arrives (epoch seconds; the table's
    /// TTL attribute).
    pub expires_at_s: u64,
}

/// Where an image stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageState {
    /// Upload authorised; no thumbnail result yet.
    Pending,
    /// The thumbnail function's outcome: ready with renditions, or rejected with a reason.
    Finished(Outcome),
}

impl ImageState {
    /// The `status` attribute: `pending`, `ready` or `rejected`.
    #[must_use]
    pub fn status(&self) -> &'static str {
        match self {
            Self::Pending => schema::STATUS_PENDING,
            Self::Finished(Outcome::Ready { .. }) => schema::STATUS_READY,
            Self::Finished(Outcome::Rejected { .. }) => schema::STATUS_REJECTED,
        }
    }
}

/// What the user said about an image (`PATCH /api/images/{id}`): checked by
/// [`thumbforge_core::describe`] before it gets here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    /// Its title.
    pub title: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its tags: normalised, sorted, unique; each also has a tag index item.
    pub tags: Vec<String>,
}

/// One image as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    /// The image id.
    pub id: Uuid,
    /// The owner id (the partition it lives in).
    pub owner: String,
    /// The file name the user gave.
    pub filename: String,
    /// The declared `Content-Type`.
    pub content_type: String,
    /// The declared size in bytes.
    pub size: u64,
    /// When the upload was authorised (epoch milliseconds).
    pub created_at_ms: u64,
    /// When the outcome was recorded (epoch milliseconds); `None` while pending.
    pub finished_at_ms: Option<u64>,
    /// When a pending item expires (epoch seconds); `None` once finished.
    pub expires_at_s: Option<u64>,
    /// Pending or finished.
    pub state: ImageState,
    /// Title, description and tags.
    pub details: Details,
    /// How many times its details were edited: every write that depends on them is conditioned
    /// on it, so concurrent edits and deletes never leave the tag index out of step.
    pub revision: u64,
}

/// One page of [`Catalog::list`], newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The images, newest (largest id) first.
    pub items: Vec<ImageRecord>,
    /// The cursor for the next page (the last item's id): `Some` only when more items follow.
    pub next: Option<Uuid>,
}

/// A user's totals over their image items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Profile {
    /// How many image items they have (pending and finished).
    pub images: u64,
    /// The sum of those images' declared sizes in bytes.
    pub bytes: u64,
}

/// What [`Catalog::finish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// The pending image now carries the outcome.
    Finished,
    /// The image was already finished (a duplicate delivery); it is left unchanged, as returned.
    AlreadyFinished(Box<ImageRecord>),
    /// There is no such image (deleted meanwhile, or never created); nothing was written.
    Missing,
}

/// The image metadata store.
pub trait Catalog: Send + Sync {
    /// Writes a pending image and adds it to the owner's profile counts, atomically.
    ///
    /// # Errors
    ///
    /// [`CatalogError::AlreadyExists`] when the owner already has an image with this id (nothing
    /// changes then); [`CatalogError::Unavailable`] when the store fails.
    fn create(
        &self,
        owner: &Owner,
        image: &NewImage,
    ) -> impl Future<Output = Result<(), CatalogError>> + Send;

    /// Reads one image of the owner's (strongly consistent).
    ///
    /// # Errors
    ///
    /// [`CatalogError::Corrupt`] when the item cannot be read; [`CatalogError::Unavailable`].
    fn get(
        &self,
        owner: &Owner,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<ImageRecord>, CatalogError>> + Send;

    /// The owner's images, newest first, at most `limit` (1..=[`MAX_PAGE`]), continuing strictly
    /// after `after` (an id from a previous page's [`Page::next`]). The partition comes only
    /// from `owner`: `after` only ever becomes a sort key, so no cursor reaches another user's
    /// items. [`Page::next`] is `Some` only when more items follow.
    ///
    /// # Errors
    ///
    /// [`CatalogError::InvalidRequest`] for a `limit` out of range; [`CatalogError::Corrupt`];
    /// [`CatalogError::Unavailable`].
    fn list(
        &self,
        owner: &Owner,
        limit: u16,
        after: Option<Uuid>,
    ) -> impl Future<Output = Result<Page, CatalogError>> + Send;

    /// Records the outcome of a pending image (`pending` → `ready` | `rejected`), sets its
    /// `finishedAt` and removes its expiry. Only a pending image changes: a finished one is
    /// reported as [`Finish::AlreadyFinished`], a missing one as [`Finish::Missing`], and no
    /// item is ever created.
    ///
    /// # Errors
    ///
    /// [`CatalogError::Corrupt`]; [`CatalogError::Unavailable`].
    fn finish(
        &self,
        owner: &Owner,
        id: Uuid,
        outcome: &Outcome,
        finished_at_ms: u64,
    ) -> impl Future<Output = Result<Finish, CatalogError>> + Send;

    /// Deletes the image and subtracts it from the profile counts in one transaction, returning
    /// the record deleted (as it was at that moment); `None` when there was no such image (then
    /// nothing changes).
    ///
    /// # Errors
    ///
    /// [`CatalogError::Corrupt`]; [`CatalogError::Unavailable`].
    fn delete(
        &self,
        owner: &Owner,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<ImageRecord>, CatalogError>> + Send;

    /// Subtracts an image that DynamoDB's TTL removed (a pending upload that never arrived) from
    /// the owner's profile counts, once: a marker item written in the same transaction makes a
    /// repeated call (the stream delivers at least once) change nothing and return `false`.
    /// `size` is the removed item's declared size; `now_s` (epoch seconds) dates the marker.
    ///
    /// # Errors
    ///
    /// [`CatalogError::Unavailable`].
    fn release_expired(
        &self,
        owner: &Owner,
        id: Uuid,
        size: u64,
        now_s: u64,
    ) -> impl Future<Output = Result<bool, CatalogError>> + Send;

    /// Applies `edit` to the owner's image (its title, description and tags, with the tag index
    /// kept in the same transaction), returning the image as it now is; `None` when there is no
    /// such image (nothing is created). Concurrent edits of one image each apply in turn.
    ///
    /// # Errors
    ///
    /// [`CatalogError::InvalidRequest`] for an edit that is not normalised (see
    /// [`thumbforge_core::describe::parse_edit`]); [`CatalogError::Corrupt`];
    /// [`CatalogError::Unavailable`].
    fn edit(
        &self,
        owner: &Owner,
        id: Uuid,
        edit: &Edit,
    ) -> impl Future<Output = Result<Option<ImageRecord>, CatalogError>> + Send;

    /// The owner's images tagged `tag` (normalised), newest first, paged as [`Catalog::list`]:
    /// one `Query` of the tag index, then the images themselves.
    ///
    /// # Errors
    ///
    /// As [`Catalog::list`].
    fn list_tagged(
        &self,
        owner: &Owner,
        tag: &str,
        limit: u16,
        after: Option<Uuid>,
    ) -> impl Future<Output = Result<Page, CatalogError>> + Send;

    /// The owner's totals (zero when they have never had an image).
    ///
    /// # Errors
    ///
    /// [`CatalogError::Corrupt`]; [`CatalogError::Unavailable`].
    fn profile(&self, owner: &Owner) -> impl Future<Output = Result<Profile, CatalogError>> + Send;
}

/// Checks that an edit is what [`thumbforge_core::describe::parse_edit`] makes: normalised,
/// sorted, unique tags, at most [`TAGS_MAX`](thumbforge_core::describe::TAGS_MAX) of them.
pub(crate) fn check_edit(edit: &Edit) -> Result<(), CatalogError> {
    use thumbforge_core::describe::{TAGS_MAX, normalize_tag};
    let invalid = |message: String| Err(CatalogError::InvalidRequest { operation: "edit", message });
    let Some(tags) = &edit.tags else { return Ok(()) };
    if tags.len() > TAGS_MAX {
        return invalid(format!("{} tags, at most {TAGS_MAX}", tags.len()));
    }
    if let Some(tag) = tags.iter().find(|tag| normalize_tag(tag).as_deref() != Ok(tag.as_str())) {
        return invalid(format!("the tag {tag:?} is not normalised"));
    }
    if tags.windows(2).any(|pair| pair[0] >= pair[1]) {
        return invalid("the tags are not sorted and unique".to_owned());
    }
    Ok(())
}

/// `details` after `edit`.
pub(crate) fn apply_edit(details: &mut Details, edit: &Edit) {
    if let Some(title) = &edit.title {
        details.title.clone_from(title);
    }
    if let Some(description) = &edit.description {
        details.description.clone_from(description);
    }
    if let Some(tags) = &edit.tags {
        details.tags.clone_from(tags);
    }
}

/// Checks a page size for [`Catalog::list`].
pub(crate) fn check_limit(limit: u16) -> Result<(), CatalogError> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(())
    } else {
        Err(CatalogError::InvalidRequest {
            operation: "list",
            message: format!("the page size must be 1 to {MAX_PAGE}, not {limit}"),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn owners_are_checked() {
        assert_eq!(Owner::new("abc").unwrap().as_str(), "abc");
        assert_eq!(Owner::new("a#b:c/é").unwrap().to_string(), "a#b:c/é");
        assert!(Owner::new("x".repeat(MAX_OWNER_LEN)).is_ok());

        let empty = Owner::new("").unwrap_err();
        assert!(matches!(empty, CatalogError::InvalidOwner(_)));
        assert!(empty.to_string().contains("empty"), "{empty}");

        let long = Owner::new("x".repeat(MAX_OWNER_LEN + 1)).unwrap_err();
        assert!(long.to_string().contains("257 bytes"), "{long}");
        // The limit is in bytes: 129 two-byte characters are too many.
        assert!(Owner::new("é".repeat(129)).is_err());

        for bad in ["a\nb", "\u{0}", "tab\there", "del\u{7f}", "c1\u{85}"] {
            let error = Owner::new(bad).unwrap_err();
            assert!(error.to_string().contains("control character"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn page_sizes_are_checked() {
        assert!(check_limit(1).is_ok());
        assert!(check_limit(MAX_PAGE).is_ok());
        for bad in [0, MAX_PAGE + 1, u16::MAX] {
            let error = check_limit(bad).unwrap_err();
            assert!(matches!(error, CatalogError::InvalidRequest { operation: "list", .. }));
            assert!(error.to_string().contains(&bad.to_string()), "{error}");
        }
    }

    #[test]
    fn states_name_their_status() {
        use thumbforge_core::manifest::RejectReason;
        assert_eq!(ImageState::Pending.status(), "pending");
        let rejected = Outcome::Rejected { reason: RejectReason::Empty, message: "empty".into() };
        assert_eq!(ImageState::Finished(rejected).status(), "rejected");
        let ready = Outcome::Ready {
            source: thumbforge_core::manifest::Source {
                format: thumbforge_core::InputFormat::Png,
                width: 1,
                height: 1,
                bytes: 1,
            },
            renditions: Vec::new(),
        };
        assert_eq!(ImageState::Finished(ready).status(), "ready");
    }
}
