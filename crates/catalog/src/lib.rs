//! The image metadata store: one DynamoDB table partitioned by user.
//!
//! - The model: [`Owner`] (a verified `sub`), [`NewImage`], [`ImageRecord`] and its
//!   [`ImageState`], [`Page`], [`Profile`], [`Finish`]; albums ([`NewAlbum`], [`Album`],
//!   [`Membership`]) and an account's deletion ([`AccountState`]).
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
#[cfg(feature = "contract")]
pub mod interfere;
mod item;
mod memory;
pub mod schema;

use std::fmt;
use std::future::Future;

pub use thumbforge_core::config::Quotas;
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
    /// The thumbnail function's outcome: ready with renditions, rejected with a reason, or failed
    /// (our fault; a later delivery may still finish it: see [`ImageState::is_final`]).
    Finished(Outcome),
}

impl ImageState {
    /// The `status` attribute: `pending`, `ready`, `rejected` or `failed`.
    #[must_use]
    pub fn status(&self) -> &'static str {
        match self {
            Self::Pending => schema::STATUS_PENDING,
            Self::Finished(Outcome::Ready { .. }) => schema::STATUS_READY,
            Self::Finished(Outcome::Rejected { .. }) => schema::STATUS_REJECTED,
            Self::Finished(Outcome::Failed { .. }) => schema::STATUS_FAILED,
        }
    }

    /// Whether [`Catalog::finish`] leaves the image as it is: ready and rejected are final;
    /// pending and failed images take an outcome.
    #[must_use]
    pub fn is_final(&self) -> bool {
        match self {
            Self::Pending => false,
            Self::Finished(outcome) => outcome.is_final(),
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
    /// How many times its details or albums changed: every write that depends on them is
    /// conditioned on it, so concurrent edits, album changes and deletes never leave the tag
    /// index or the memberships out of step.
    pub revision: u64,
    /// The albums it is in (sorted; at most
    /// [`ALBUMS_PER_PHOTO_MAX`](thumbforge_core::describe::ALBUMS_PER_PHOTO_MAX)): each has a
    /// membership item of it, changed in the same transactions as this.
    pub albums: Vec<Uuid>,
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
    /// How many albums they have (those being deleted included).
    pub albums: u64,
}

/// The milliseconds of a day: quotas count per UTC calendar day.
pub const DAY_MS: u64 = 86_400_000;

/// The UTC day (days since 1970-01-01) of an epoch-milliseconds instant.
#[must_use]
pub const fn utc_day(at_ms: u64) -> u64 {
    at_ms / DAY_MS
}

/// One of a user's quotas ([`Quotas`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quota {
    /// `quotas.uploads_per_day`.
    UploadsPerDay,
    /// `quotas.bytes_per_day`.
    BytesPerDay,
    /// `quotas.photos_stored`.
    PhotosStored,
    /// `quotas.bytes_stored`.
    BytesStored,
}

impl Quota {
    /// Whether the quota starts again each day (else it frees up only as photos are deleted).
    #[must_use]
    pub const fn is_daily(self) -> bool {
        matches!(self, Self::UploadsPerDay | Self::BytesPerDay)
    }
}

/// What a user has used of their quotas, as of one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Images kept (pending ones included).
    pub photos: u64,
    /// Their declared sizes, in bytes.
    pub bytes: u64,
    /// Uploads started that day.
    pub uploads_today: u64,
    /// Bytes of those uploads.
    pub bytes_today: u64,
}

impl Usage {
    /// The first quota that one more upload of `size` bytes would exceed, storage ones first
    /// (they do not pass with the day).
    #[must_use]
    pub fn exceeded_by(&self, size: u64, quotas: &Quotas) -> Option<(Quota, u64)> {
        let fits = |used: u64, limit: u64| used.checked_add(size).is_some_and(|total| total <= limit);
        if self.photos >= u64::from(quotas.photos_stored) {
            Some((Quota::PhotosStored, u64::from(quotas.photos_stored)))
        } else if !fits(self.bytes, quotas.bytes_stored) {
            Some((Quota::BytesStored, quotas.bytes_stored))
        } else if self.uploads_today >= u64::from(quotas.uploads_per_day) {
            Some((Quota::UploadsPerDay, u64::from(quotas.uploads_per_day)))
        } else if !fits(self.bytes_today, quotas.bytes_per_day) {
            Some((Quota::BytesPerDay, quotas.bytes_per_day))
        } else {
            None
        }
    }
}

/// An album about to be created ([`Catalog::create_album`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlbum {
    /// Its id (a UUIDv7, so albums sort by creation time).
    pub id: Uuid,
    /// Its name, as [`thumbforge_core::describe::parse_album_name`] gives it.
    pub name: String,
    /// When it was created (epoch milliseconds).
    pub created_at_ms: u64,
}

/// An album as read, with what its memberships say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Album {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// When it was created (epoch milliseconds).
    pub created_at_ms: u64,
    /// How many photos are in it.
    pub count: u64,
    /// The newest photo in it; `None` when it is empty.
    pub cover: Option<Box<ImageRecord>>,
}

/// What [`Catalog::add_to_album`] or [`Catalog::remove_from_album`] did (or found).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// The photo is now in the album.
    Added,
    /// The photo was already in the album; nothing changed.
    AlreadyMember,
    /// The photo is no longer in the album.
    Removed,
    /// The photo was not in the album; nothing changed.
    NotMember,
    /// There is no such album (or it is being deleted); nothing changed.
    NoAlbum,
    /// There is no such photo; nothing changed.
    NoImage,
    /// The photo is already in
    /// [`ALBUMS_PER_PHOTO_MAX`](thumbforge_core::describe::ALBUMS_PER_PHOTO_MAX) albums;
    /// nothing changed.
    TooManyAlbums,
}

/// Where an account stands, from its tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountState {
    /// No deletion asked for.
    Active,
    /// Being deleted: every creating write is refused with [`CatalogError::AccountDeleted`].
    Deleting {
        /// When the deletion was asked for (epoch milliseconds).
        requested_at_ms: u64,
        /// How many times the deletion was asked for again (each one runs the worker again).
        pass: u64,
        /// The identity provider's user name to delete.
        username: String,
    },
    /// Deleted: only the tombstone is left, until its TTL removes it.
    Deleted {
        /// When the deletion was asked for (epoch milliseconds).
        requested_at_ms: u64,
        /// When it completed (epoch milliseconds).
        deleted_at_ms: u64,
    },
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
    /// Writes a pending image and adds it to the owner's profile counts (what they keep, and
    /// what they uploaded on the UTC day of `image.created_at_ms`), atomically, only if that
    /// stays within `quotas`: concurrent creates never take a user past one.
    ///
    /// # Errors
    ///
    /// [`CatalogError::QuotaExceeded`] naming the first quota it would exceed (nothing changes
    /// then); [`CatalogError::AlreadyExists`] when the owner already has an image with this id;
    /// [`CatalogError::AccountDeleted`]; [`CatalogError::Unavailable`] when the store fails.
    fn create_within(
        &self,
        owner: &Owner,
        image: &NewImage,
        quotas: &Quotas,
    ) -> impl Future<Output = Result<(), CatalogError>> + Send;

    /// [`create_within`](Self::create_within) without any quota (tests, tools).
    ///
    /// # Errors
    ///
    /// As [`create_within`](Self::create_within), never [`CatalogError::QuotaExceeded`].
    fn create(
        &self,
        owner: &Owner,
        image: &NewImage,
    ) -> impl Future<Output = Result<(), CatalogError>> + Send {
        self.create_within(owner, image, &Quotas::UNLIMITED)
    }

    /// What the owner has used of their quotas on the UTC day of `now_ms`.
    ///
    /// # Errors
    ///
    /// [`CatalogError::Corrupt`]; [`CatalogError::Unavailable`].
    fn usage(&self, owner: &Owner, now_ms: u64) -> impl Future<Output = Result<Usage, CatalogError>> + Send;

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

    /// Records the outcome of a pending or failed image (`pending` | `failed` → `ready` |
    /// `rejected` | `failed`), sets its `finishedAt` and removes its expiry (and the attributes of
    /// an earlier failure). A ready or rejected one ([`ImageState::is_final`]) is reported as
    /// [`Finish::AlreadyFinished`], a missing one as [`Finish::Missing`], and no item is ever
    /// created.
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

    /// Creates an empty album and counts it in the profile, in one transaction.
    ///
    /// # Errors
    ///
    /// [`CatalogError::InvalidRequest`] for a name that is not checked (see
    /// [`thumbforge_core::describe::parse_album_name`]); [`CatalogError::LimitReached`] when the
    /// owner already has [`ALBUMS_MAX`](thumbforge_core::describe::ALBUMS_MAX) albums;
    /// [`CatalogError::AccountDeleted`]; [`CatalogError::AlreadyExists`] for an id the owner
    /// has; [`CatalogError::Unavailable`]. Nothing changes on an error.
    fn create_album(
        &self,
        owner: &Owner,
        album: &NewAlbum,
    ) -> impl Future<Output = Result<Album, CatalogError>> + Send;

    /// Every album of the owner's (at most
    /// [`ALBUMS_MAX`](thumbforge_core::describe::ALBUMS_MAX)), newest first, with its count
    /// and cover; albums being deleted are left out.
    ///
    /// # Errors
    ///
    /// [`CatalogError::Corrupt`]; [`CatalogError::Unavailable`].
    fn list_albums(&self, owner: &Owner) -> impl Future<Output = Result<Vec<Album>, CatalogError>> + Send;

    /// One album of the owner's with its count and cover; `None` when there is none (or it is
    /// being deleted).
    ///
    /// # Errors
    ///
    /// [`CatalogError::Corrupt`]; [`CatalogError::Unavailable`].
    fn get_album(
        &self,
        owner: &Owner,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<Album>, CatalogError>> + Send;

    /// Renames an album, returning it as it now is; `None` (and nothing created) when there is
    /// no such album or it is being deleted.
    ///
    /// # Errors
    ///
    /// [`CatalogError::InvalidRequest`] for a name that is not checked;
    /// [`CatalogError::Corrupt`]; [`CatalogError::Unavailable`].
    fn rename_album(
        &self,
        owner: &Owner,
        id: Uuid,
        name: &str,
    ) -> impl Future<Output = Result<Option<Album>, CatalogError>> + Send;

    /// Deletes an album (its photos are kept): marks it as being deleted (so nothing more can be
    /// added to it), takes every photo out of it, then deletes it and uncounts it from the
    /// profile. Calling it again on an album whose delete was interrupted completes that delete.
    /// `false` only when there is no such album.
    ///
    /// # Errors
    ///
    /// [`CatalogError::Corrupt`]; [`CatalogError::Unavailable`] (the album then stays marked,
    /// invisible, until a call completes it).
    fn delete_album(
        &self,
        owner: &Owner,
        id: Uuid,
    ) -> impl Future<Output = Result<bool, CatalogError>> + Send;

    /// Puts a photo into an album (idempotent): [`Membership::Added`], or what stopped it
    /// ([`Membership::NoAlbum`] is checked first, then [`Membership::NoImage`],
    /// [`Membership::AlreadyMember`], [`Membership::TooManyAlbums`]). The photo's `albums`, its
    /// revision and the membership item change in one transaction, conditioned on the revision
    /// read, the album still there and not being deleted, and the account not being deleted.
    ///
    /// # Errors
    ///
    /// [`CatalogError::AccountDeleted`]; [`CatalogError::Corrupt`];
    /// [`CatalogError::Unavailable`].
    fn add_to_album(
        &self,
        owner: &Owner,
        album: Uuid,
        image: Uuid,
    ) -> impl Future<Output = Result<Membership, CatalogError>> + Send;

    /// Takes a photo out of an album (idempotent): [`Membership::Removed`],
    /// [`Membership::NotMember`], [`Membership::NoAlbum`] or [`Membership::NoImage`].
    ///
    /// # Errors
    ///
    /// [`CatalogError::Corrupt`]; [`CatalogError::Unavailable`].
    fn remove_from_album(
        &self,
        owner: &Owner,
        album: Uuid,
        image: Uuid,
    ) -> impl Future<Output = Result<Membership, CatalogError>> + Send;

    /// The photos of an album, newest first, paged as [`Catalog::list`] (the cursor is a photo
    /// id); with `tag` (normalised), only those carrying it. `None` when there is no such album
    /// (or it is being deleted). Queries of the album's memberships only, never a scan.
    ///
    /// # Errors
    ///
    /// As [`Catalog::list`].
    fn list_album(
        &self,
        owner: &Owner,
        album: Uuid,
        tag: Option<&str>,
        limit: u16,
        after: Option<Uuid>,
    ) -> impl Future<Output = Result<Option<Page>, CatalogError>> + Send;

    /// Starts deleting the owner's account: writes its tombstone (`deleting`, pass 0) if there is
    /// none; if it is already `deleting`, bumps its pass (which runs the deletion worker again
    /// through the table's stream); either way returns the tombstone's state (`Deleted` when the
    /// deletion had completed, unchanged). From then on every creating write is refused.
    ///
    /// # Errors
    ///
    /// [`CatalogError::Corrupt`]; [`CatalogError::Unavailable`].
    fn begin_account_deletion(
        &self,
        owner: &Owner,
        username: &str,
        now_ms: u64,
    ) -> impl Future<Output = Result<AccountState, CatalogError>> + Send;

    /// The state of the owner's account, from its tombstone.
    ///
    /// # Errors
    ///
    /// [`CatalogError::Corrupt`]; [`CatalogError::Unavailable`].
    fn account_state(&self, owner: &Owner)
    -> impl Future<Output = Result<AccountState, CatalogError>> + Send;

    /// Up to `limit` (1..=[`MAX_PAGE`]) of the owner's remaining images, whatever their status
    /// (for the deletion worker, which deletes each with [`Catalog::delete`]).
    ///
    /// # Errors
    ///
    /// [`CatalogError::InvalidRequest`] for a `limit` out of range; [`CatalogError::Corrupt`];
    /// [`CatalogError::Unavailable`].
    fn account_images(
        &self,
        owner: &Owner,
        limit: u16,
    ) -> impl Future<Output = Result<Vec<ImageRecord>, CatalogError>> + Send;

    /// Deletes up to `limit` (1..=[`MAX_PAGE`]) of the owner's remaining items that are neither
    /// images nor the tombstone (albums, memberships, tag index items, release markers), and the
    /// profile last of all: only once nothing else but images' absence is left. Returns how many
    /// it deleted: `0` means only images (if any) and the tombstone remain.
    ///
    /// # Errors
    ///
    /// [`CatalogError::InvalidRequest`] for a `limit` out of range; [`CatalogError::Unavailable`].
    fn clear_account(
        &self,
        owner: &Owner,
        limit: u16,
    ) -> impl Future<Output = Result<usize, CatalogError>> + Send;

    /// Marks the owner's account deleted (`deletedAt`, and the tombstone's TTL
    /// [`TOMBSTONE_TTL_S`](schema::TOMBSTONE_TTL_S) later), if it is being deleted; `false`
    /// (nothing changed) otherwise.
    ///
    /// # Errors
    ///
    /// [`CatalogError::Unavailable`].
    fn finish_account_deletion(
        &self,
        owner: &Owner,
        now_ms: u64,
    ) -> impl Future<Output = Result<bool, CatalogError>> + Send;
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
    check_limit_of("list", limit)
}

/// Checks a page size for `operation`.
pub(crate) fn check_limit_of(operation: &'static str, limit: u16) -> Result<(), CatalogError> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(())
    } else {
        Err(CatalogError::InvalidRequest {
            operation,
            message: format!("the page size must be 1 to {MAX_PAGE}, not {limit}"),
        })
    }
}

/// Checks that an album name is what [`thumbforge_core::describe::parse_album_name`] makes.
pub(crate) fn check_album_name(operation: &'static str, name: &str) -> Result<(), CatalogError> {
    match thumbforge_core::describe::check_album_name(name) {
        Ok(checked) if checked == name => Ok(()),
        Ok(_) => Err(CatalogError::InvalidRequest {
            operation,
            message: format!("the album name {name:?} is not trimmed"),
        }),
        Err(problems) => Err(CatalogError::InvalidRequest { operation, message: problems.join("; ") }),
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
            placeholder: None,
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
