//! [`MemoryCatalog`]: the catalog in memory, for pure unit tests of the code that uses it.
//!
//! Same semantics as [`DynamoCatalog`](crate::DynamoCatalog) (the contract suite holds both to
//! them), one mutex around everything, so every operation is atomic. It never expires pending
//! items (neither does DynamoDB promptly). [`MemoryCatalog::fail_next`] makes the next operation
//! fail, to test error paths.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use thumbforge_core::describe::{ALBUMS_MAX, ALBUMS_PER_PHOTO_MAX};
use thumbforge_core::manifest::Outcome;
use uuid::Uuid;

use crate::schema::{image_sk, user_pk};
use crate::{
    AccountState, Album, Catalog, CatalogError, Details, Edit, Finish, ImageRecord, ImageState, Membership,
    NewAlbum, NewImage, Owner, Page, Profile, Quotas, Usage, apply_edit, check_album_name, check_edit,
    check_limit, check_limit_of, utc_day,
};

/// The table name [`MemoryCatalog`] gives in errors.
pub const MEMORY_TABLE: &str = "memory";

/// The catalog in memory.
#[derive(Debug, Default)]
pub struct MemoryCatalog {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    users: BTreeMap<String, User>,
    /// Errors the next operations return instead of running, first first.
    failures: Vec<CatalogError>,
}

/// One partition: what the table holds under `USER#<owner>`, item for item.
#[derive(Debug, Default)]
struct User {
    /// By id; `Uuid`'s order is the hyphenated form's order, so this is the sort key order.
    images: BTreeMap<Uuid, ImageRecord>,
    /// The profile item, once written.
    profile: Option<Profile>,
    /// Expired images already subtracted ([`Catalog::release_expired`]): the release markers.
    released: BTreeSet<Uuid>,
    /// The tag index items: (tag, image id).
    tags: BTreeSet<(String, Uuid)>,
    /// The albums by id, each with its membership items.
    albums: BTreeMap<Uuid, AlbumEntry>,
    /// The account tombstone.
    tombstone: Option<AccountState>,
    /// The profile's daily counts: (UTC day, uploads, bytes), once an upload was counted.
    today: Option<(u64, u64, u64)>,
}

#[derive(Debug)]
struct AlbumEntry {
    name: String,
    created_at_ms: u64,
    deleting: bool,
    /// The ids of its photos (its membership items).
    members: BTreeSet<Uuid>,
}

impl User {
    /// The owner's quota usage on `day`.
    fn usage(&self, day: u64) -> Usage {
        let profile = self.profile.unwrap_or_default();
        let (uploads_today, bytes_today) = match self.today {
            Some((counted, uploads, bytes)) if counted == day => (uploads, bytes),
            _ => (0, 0),
        };
        Usage { photos: profile.images, bytes: profile.bytes, uploads_today, bytes_today }
    }

    fn profile_mut(&mut self) -> &mut Profile {
        self.profile.get_or_insert_with(Profile::default)
    }

    fn deleting(&self) -> bool {
        self.tombstone.is_some()
    }

    /// The album, unless there is none or it is being deleted.
    fn open_album(&self, id: Uuid) -> Option<&AlbumEntry> {
        self.albums.get(&id).filter(|album| !album.deleting)
    }

    fn album(&self, id: Uuid, entry: &AlbumEntry) -> Album {
        let cover = entry.members.iter().next_back().and_then(|image| self.images.get(image));
        Album {
            id,
            name: entry.name.clone(),
            created_at_ms: entry.created_at_ms,
            count: u64::try_from(entry.members.len()).unwrap_or(u64::MAX),
            cover: cover.cloned().map(Box::new),
        }
    }
}

/// Removes up to `budget` items of `set`, counting them off it.
fn drain<T: Ord>(set: &mut BTreeSet<T>, budget: &mut usize) {
    while *budget > 0 && set.pop_first().is_some() {
        *budget -= 1;
    }
}

/// One page of `records` (newest first), as [`Catalog::list`] pages.
fn page<'a>(records: impl Iterator<Item = &'a ImageRecord>, limit: u16) -> Page {
    let mut records = records.cloned();
    let items: Vec<ImageRecord> = records.by_ref().take(usize::from(limit)).collect();
    let next = if records.next().is_some() { items.last().map(|record| record.id) } else { None };
    Page { items, next }
}

impl MemoryCatalog {
    /// An empty catalog.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next operation (whichever it is) return `error` without doing anything; calls
    /// queue up, one error per operation.
    pub fn fail_next(&self, error: CatalogError) {
        self.lock().failures.push(error);
    }

    /// Every image of every owner, ordered by owner then id (for assertions).
    #[must_use]
    pub fn all_images(&self) -> Vec<ImageRecord> {
        self.lock().users.values().flat_map(|user| user.images.values().cloned()).collect()
    }

    /// Marks the owner's album as being deleted and leaves its memberships: the state a
    /// [`Catalog::delete_album`] interrupted after its first step leaves (for tests). `false`
    /// when there is no such album.
    pub fn interrupt_album_delete(&self, owner: &Owner, album: Uuid) -> bool {
        let mut state = self.lock();
        let entry = state.users.get_mut(owner.as_str()).and_then(|user| user.albums.get_mut(&album));
        entry.map(|entry| entry.deleting = true).is_some()
    }

    /// How many items the owner's partition holds besides the tombstone (images, tag index
    /// items, albums, memberships, release markers, the profile), for assertions.
    #[must_use]
    pub fn items_besides_tombstone(&self, owner: &Owner) -> usize {
        let state = self.lock();
        let Some(user) = state.users.get(owner.as_str()) else { return 0 };
        user.images.len()
            + user.tags.len()
            + user.released.len()
            + user.albums.values().map(|album| 1 + album.members.len()).sum::<usize>()
            + usize::from(user.profile.is_some())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock leaves consistent data: every operation
        // checks before it writes.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks, or takes the next injected failure.
    fn begin(&self) -> Result<MutexGuard<'_, State>, CatalogError> {
        let mut state = self.lock();
        if state.failures.is_empty() { Ok(state) } else { Err(state.failures.remove(0)) }
    }
}

impl Catalog for MemoryCatalog {
    async fn create_within(
        &self,
        owner: &Owner,
        image: &NewImage,
        quotas: &Quotas,
    ) -> Result<(), CatalogError> {
        let mut state = self.begin()?;
        let user = state.users.entry(owner.as_str().to_owned()).or_default();
        if user.deleting() {
            return Err(CatalogError::AccountDeleted);
        }
        if user.images.contains_key(&image.id) {
            return Err(CatalogError::AlreadyExists {
                operation: "create",
                table: MEMORY_TABLE.to_owned(),
                key: format!("pk={} sk={}", user_pk(owner), image_sk(image.id)),
            });
        }
        let today = utc_day(image.created_at_ms);
        let usage = user.usage(today);
        if let Some((quota, limit)) = usage.exceeded_by(image.size, quotas) {
            return Err(CatalogError::QuotaExceeded { quota, limit });
        }
        user.today = Some((today, usage.uploads_today + 1, usage.bytes_today.saturating_add(image.size)));
        user.images.insert(
            image.id,
            ImageRecord {
                id: image.id,
                owner: owner.as_str().to_owned(),
                filename: image.filename.clone(),
                content_type: image.content_type.clone(),
                size: image.size,
                created_at_ms: image.created_at_ms,
                finished_at_ms: None,
                expires_at_s: Some(image.expires_at_s),
                state: ImageState::Pending,
                details: Details::default(),
                revision: 0,
                albums: Vec::new(),
            },
        );
        let profile = user.profile_mut();
        profile.images += 1;
        profile.bytes = profile.bytes.saturating_add(image.size);
        Ok(())
    }

    async fn usage(&self, owner: &Owner, now_ms: u64) -> Result<Usage, CatalogError> {
        let state = self.begin()?;
        Ok(state.users.get(owner.as_str()).map(|user| user.usage(utc_day(now_ms))).unwrap_or_default())
    }

    async fn get(&self, owner: &Owner, id: Uuid) -> Result<Option<ImageRecord>, CatalogError> {
        let state = self.begin()?;
        Ok(state.users.get(owner.as_str()).and_then(|user| user.images.get(&id)).cloned())
    }

    async fn list(&self, owner: &Owner, limit: u16, after: Option<Uuid>) -> Result<Page, CatalogError> {
        check_limit(limit)?;
        let state = self.begin()?;
        let Some(user) = state.users.get(owner.as_str()) else { return Ok(Page::default()) };
        let older = match after {
            Some(after) => user.images.range(..after),
            None => user.images.range(..),
        };
        Ok(page(older.rev().map(|(_, record)| record), limit))
    }

    async fn finish(
        &self,
        owner: &Owner,
        id: Uuid,
        outcome: &Outcome,
        finished_at_ms: u64,
    ) -> Result<Finish, CatalogError> {
        let mut state = self.begin()?;
        let Some(record) = state.users.get_mut(owner.as_str()).and_then(|user| user.images.get_mut(&id))
        else {
            return Ok(Finish::Missing);
        };
        if record.state.is_final() {
            return Ok(Finish::AlreadyFinished(Box::new(record.clone())));
        }
        record.state = ImageState::Finished(outcome.clone());
        record.finished_at_ms = Some(finished_at_ms);
        record.expires_at_s = None;
        Ok(Finish::Finished)
    }

    async fn delete(&self, owner: &Owner, id: Uuid) -> Result<Option<ImageRecord>, CatalogError> {
        let mut state = self.begin()?;
        let Some(user) = state.users.get_mut(owner.as_str()) else { return Ok(None) };
        let Some(record) = user.images.remove(&id) else { return Ok(None) };
        for tag in &record.details.tags {
            user.tags.remove(&(tag.clone(), id));
        }
        for album in &record.albums {
            if let Some(album) = user.albums.get_mut(album) {
                album.members.remove(&id);
            }
        }
        let profile = user.profile_mut();
        profile.images = profile.images.saturating_sub(1);
        profile.bytes = profile.bytes.saturating_sub(record.size);
        Ok(Some(record))
    }

    async fn release_expired(
        &self,
        owner: &Owner,
        id: Uuid,
        size: u64,
        _now_s: u64,
    ) -> Result<bool, CatalogError> {
        let mut state = self.begin()?;
        let user = state.users.entry(owner.as_str().to_owned()).or_default();
        if !user.released.insert(id) {
            return Ok(false);
        }
        let profile = user.profile_mut();
        profile.images = profile.images.saturating_sub(1);
        profile.bytes = profile.bytes.saturating_sub(size);
        Ok(true)
    }

    async fn edit(&self, owner: &Owner, id: Uuid, edit: &Edit) -> Result<Option<ImageRecord>, CatalogError> {
        check_edit(edit)?;
        let mut state = self.begin()?;
        let Some(user) = state.users.get_mut(owner.as_str()) else { return Ok(None) };
        let deleting = user.deleting();
        let Some(record) = user.images.get_mut(&id) else { return Ok(None) };
        if deleting {
            return Err(CatalogError::AccountDeleted);
        }
        for tag in &record.details.tags {
            user.tags.remove(&(tag.clone(), id));
        }
        apply_edit(&mut record.details, edit);
        record.revision += 1;
        for tag in &record.details.tags {
            user.tags.insert((tag.clone(), id));
        }
        Ok(Some(record.clone()))
    }

    async fn list_tagged(
        &self,
        owner: &Owner,
        tag: &str,
        limit: u16,
        after: Option<Uuid>,
    ) -> Result<Page, CatalogError> {
        check_limit(limit)?;
        let state = self.begin()?;
        let Some(user) = state.users.get(owner.as_str()) else { return Ok(Page::default()) };
        let older = match after {
            Some(after) => user.images.range(..after),
            None => user.images.range(..),
        };
        let tagged = older.rev().filter(|(id, _)| user.tags.contains(&(tag.to_owned(), **id)));
        Ok(page(tagged.map(|(_, record)| record), limit))
    }

    async fn profile(&self, owner: &Owner) -> Result<Profile, CatalogError> {
        let state = self.begin()?;
        Ok(state.users.get(owner.as_str()).and_then(|user| user.profile).unwrap_or_default())
    }

    async fn create_album(&self, owner: &Owner, album: &NewAlbum) -> Result<Album, CatalogError> {
        check_album_name("create_album", &album.name)?;
        let mut state = self.begin()?;
        let user = state.users.entry(owner.as_str().to_owned()).or_default();
        if user.deleting() {
            return Err(CatalogError::AccountDeleted);
        }
        if user.profile.is_some_and(|p| p.albums >= ALBUMS_MAX as u64) {
            return Err(CatalogError::LimitReached { what: "albums", limit: ALBUMS_MAX });
        }
        if user.albums.contains_key(&album.id) {
            return Err(CatalogError::AlreadyExists {
                operation: "create_album",
                table: MEMORY_TABLE.to_owned(),
                key: format!("pk={} sk={}", user_pk(owner), crate::schema::album_sk(album.id)),
            });
        }
        let entry = AlbumEntry {
            name: album.name.clone(),
            created_at_ms: album.created_at_ms,
            deleting: false,
            members: BTreeSet::new(),
        };
        let created = user.album(album.id, &entry);
        user.albums.insert(album.id, entry);
        user.profile_mut().albums += 1;
        Ok(created)
    }

    async fn list_albums(&self, owner: &Owner) -> Result<Vec<Album>, CatalogError> {
        let state = self.begin()?;
        let Some(user) = state.users.get(owner.as_str()) else { return Ok(Vec::new()) };
        Ok(user
            .albums
            .iter()
            .rev()
            .filter(|(_, entry)| !entry.deleting)
            .map(|(id, entry)| user.album(*id, entry))
            .collect())
    }

    async fn get_album(&self, owner: &Owner, id: Uuid) -> Result<Option<Album>, CatalogError> {
        let state = self.begin()?;
        let Some(user) = state.users.get(owner.as_str()) else { return Ok(None) };
        Ok(user.open_album(id).map(|entry| user.album(id, entry)))
    }

    async fn rename_album(&self, owner: &Owner, id: Uuid, name: &str) -> Result<Option<Album>, CatalogError> {
        check_album_name("rename_album", name)?;
        let mut state = self.begin()?;
        let Some(user) = state.users.get_mut(owner.as_str()) else { return Ok(None) };
        let Some(entry) = user.albums.get_mut(&id).filter(|entry| !entry.deleting) else { return Ok(None) };
        name.clone_into(&mut entry.name);
        Ok(user.open_album(id).map(|entry| user.album(id, entry)))
    }

    async fn delete_album(&self, owner: &Owner, id: Uuid) -> Result<bool, CatalogError> {
        let mut state = self.begin()?;
        let Some(user) = state.users.get_mut(owner.as_str()) else { return Ok(false) };
        let Some(entry) = user.albums.remove(&id) else { return Ok(false) };
        for image in &entry.members {
            if let Some(record) = user.images.get_mut(image) {
                record.albums.retain(|album| *album != id);
                record.revision += 1;
            }
        }
        let profile = user.profile_mut();
        profile.albums = profile.albums.saturating_sub(1);
        Ok(true)
    }

    async fn add_to_album(
        &self,
        owner: &Owner,
        album: Uuid,
        image: Uuid,
    ) -> Result<Membership, CatalogError> {
        let mut state = self.begin()?;
        let Some(user) = state.users.get_mut(owner.as_str()) else { return Ok(Membership::NoAlbum) };
        if user.open_album(album).is_none() {
            return Ok(Membership::NoAlbum);
        }
        let deleting = user.deleting();
        let Some(record) = user.images.get_mut(&image) else { return Ok(Membership::NoImage) };
        if record.albums.contains(&album) {
            return Ok(Membership::AlreadyMember);
        }
        if record.albums.len() >= ALBUMS_PER_PHOTO_MAX {
            return Ok(Membership::TooManyAlbums);
        }
        if deleting {
            return Err(CatalogError::AccountDeleted);
        }
        record.albums.push(album);
        record.albums.sort_unstable();
        record.revision += 1;
        if let Some(entry) = user.albums.get_mut(&album) {
            entry.members.insert(image);
        }
        Ok(Membership::Added)
    }

    async fn remove_from_album(
        &self,
        owner: &Owner,
        album: Uuid,
        image: Uuid,
    ) -> Result<Membership, CatalogError> {
        let mut state = self.begin()?;
        let Some(user) = state.users.get_mut(owner.as_str()) else { return Ok(Membership::NoAlbum) };
        if user.open_album(album).is_none() {
            return Ok(Membership::NoAlbum);
        }
        let Some(record) = user.images.get_mut(&image) else { return Ok(Membership::NoImage) };
        if !record.albums.contains(&album) {
            return Ok(Membership::NotMember);
        }
        record.albums.retain(|id| *id != album);
        record.revision += 1;
        if let Some(entry) = user.albums.get_mut(&album) {
            entry.members.remove(&image);
        }
        Ok(Membership::Removed)
    }

    async fn list_album(
        &self,
        owner: &Owner,
        album: Uuid,
        tag: Option<&str>,
        limit: u16,
        after: Option<Uuid>,
    ) -> Result<Option<Page>, CatalogError> {
        check_limit(limit)?;
        let state = self.begin()?;
        let Some(user) = state.users.get(owner.as_str()) else { return Ok(None) };
        let Some(entry) = user.open_album(album) else { return Ok(None) };
        let older = match after {
            Some(after) => entry.members.range(..after),
            None => entry.members.range(..),
        };
        let records = older
            .rev()
            .filter_map(|id| user.images.get(id))
            .filter(|record| tag.is_none_or(|tag| record.details.tags.iter().any(|t| t == tag)));
        Ok(Some(page(records, limit)))
    }

    async fn begin_account_deletion(
        &self,
        owner: &Owner,
        username: &str,
        now_ms: u64,
    ) -> Result<AccountState, CatalogError> {
        let mut state = self.begin()?;
        let user = state.users.entry(owner.as_str().to_owned()).or_default();
        let tombstone = user.tombstone.get_or_insert_with(|| AccountState::Deleting {
            requested_at_ms: now_ms,
            pass: u64::MAX,
            username: username.to_owned(),
        });
        if let AccountState::Deleting { pass, .. } = tombstone {
            // A new tombstone starts at pass 0 (from MAX), an existing one goes one further.
            *pass = pass.wrapping_add(1);
        }
        Ok(tombstone.clone())
    }

    async fn account_state(&self, owner: &Owner) -> Result<AccountState, CatalogError> {
        let state = self.begin()?;
        Ok(state
            .users
            .get(owner.as_str())
            .and_then(|user| user.tombstone.clone())
            .unwrap_or(AccountState::Active))
    }

    async fn account_images(&self, owner: &Owner, limit: u16) -> Result<Vec<ImageRecord>, CatalogError> {
        check_limit_of("account_images", limit)?;
        let state = self.begin()?;
        let Some(user) = state.users.get(owner.as_str()) else { return Ok(Vec::new()) };
        Ok(user.images.values().rev().take(usize::from(limit)).cloned().collect())
    }

    async fn clear_account(&self, owner: &Owner, limit: u16) -> Result<usize, CatalogError> {
        check_limit_of("clear_account", limit)?;
        let mut state = self.begin()?;
        let Some(user) = state.users.get_mut(owner.as_str()) else { return Ok(0) };
        let mut budget = usize::from(limit);
        for entry in user.albums.values_mut() {
            drain(&mut entry.members, &mut budget);
        }
        drain(&mut user.tags, &mut budget);
        drain(&mut user.released, &mut budget);
        while budget > 0 && user.albums.values().next().is_some_and(|entry| entry.members.is_empty()) {
            user.albums.pop_first();
            budget -= 1;
        }
        let mut deleted = usize::from(limit) - budget;
        // The profile last of all: once nothing else, and no image, is left.
        if deleted == 0 && user.images.is_empty() && user.albums.is_empty() && user.profile.take().is_some() {
            user.today = None;
            deleted = 1;
        }
        Ok(deleted)
    }

    async fn finish_account_deletion(&self, owner: &Owner, now_ms: u64) -> Result<bool, CatalogError> {
        let mut state = self.begin()?;
        let Some(tombstone) = state.users.get_mut(owner.as_str()).and_then(|user| user.tombstone.as_mut())
        else {
            return Ok(false);
        };
        let AccountState::Deleting { requested_at_ms, .. } = *tombstone else { return Ok(false) };
        *tombstone = AccountState::Deleted { requested_at_ms, deleted_at_ms: now_ms };
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn image(size: u64) -> NewImage {
        NewImage {
            id: Uuid::now_v7(),
            filename: "a.png".into(),
            content_type: "image/png".into(),
            size,
            created_at_ms: 1,
            expires_at_s: 2,
        }
    }

    #[tokio::test]
    async fn injected_failures_come_once_each_and_change_nothing() {
        let catalog = MemoryCatalog::new();
        let owner = Owner::new("o").unwrap();
        let failure = CatalogError::Unavailable {
            operation: "create",
            table: MEMORY_TABLE.into(),
            key: "k".into(),
            transient: true,
            message: "injected".into(),
        };
        catalog.fail_next(failure.clone());
        let first = image(5);
        assert_eq!(catalog.create(&owner, &first).await.unwrap_err(), failure);
        assert!(catalog.all_images().is_empty());
        catalog.create(&owner, &first).await.unwrap();
        assert_eq!(catalog.all_images().len(), 1);
        assert_eq!(catalog.profile(&owner).await.unwrap(), Profile { images: 1, bytes: 5, albums: 0 });
    }
}
