//! [`MemoryCatalog`]: the catalog in memory, for pure unit tests of the code that uses it.
//!
//! Same semantics as [`DynamoCatalog`](crate::DynamoCatalog) (the contract suite holds both to
//! them), one mutex around everything, so every operation is atomic. It never expires pending
//! items (neither does DynamoDB promptly). [`MemoryCatalog::fail_next`] makes the next operation
//! fail, to test error paths.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use thumbforge_core::manifest::Outcome;
use uuid::Uuid;

use crate::schema::{image_sk, user_pk};
use crate::{
    Catalog, CatalogError, Details, Edit, Finish, ImageRecord, ImageState, NewImage, Owner, Page, Profile,
    apply_edit, check_edit, check_limit,
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

#[derive(Debug, Default)]
struct User {
    /// By id; `Uuid`'s order is the hyphenated form's order, so this is the sort key order.
    images: BTreeMap<Uuid, ImageRecord>,
    profile: Profile,
    /// Expired images already subtracted ([`Catalog::release_expired`]).
    released: std::collections::BTreeSet<Uuid>,
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
    async fn create(&self, owner: &Owner, image: &NewImage) -> Result<(), CatalogError> {
        let mut state = self.begin()?;
        let user = state.users.entry(owner.as_str().to_owned()).or_default();
        if user.images.contains_key(&image.id) {
            return Err(CatalogError::AlreadyExists {
                operation: "create",
                table: MEMORY_TABLE.to_owned(),
                key: format!("pk={} sk={}", user_pk(owner), image_sk(image.id)),
            });
        }
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
            },
        );
        user.profile.images += 1;
        user.profile.bytes = user.profile.bytes.saturating_add(image.size);
        Ok(())
    }

    async fn get(&self, owner: &Owner, id: Uuid) -> Result<Option<ImageRecord>, CatalogError> {
        let state = self.begin()?;
        Ok(state.users.get(owner.as_str()).and_then(|user| user.images.get(&id)).cloned())
    }

    async fn list(&self, owner: &Owner, limit: u16, after: Option<Uuid>) -> Result<Page, CatalogError> {
        check_limit(limit)?;
        let state = self.begin()?;
        let Some(user) = state.users.get(owner.as_str()) else { return Ok(Page::default()) };
        let mut older = match after {
            Some(after) => user.images.range(..after),
            None => user.images.range(..),
        }
        .rev()
        .map(|(_, record)| record.clone());
        let items: Vec<ImageRecord> = older.by_ref().take(usize::from(limit)).collect();
        let next = if older.next().is_some() { items.last().map(|record| record.id) } else { None };
        Ok(Page { items, next })
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
        if record.state != ImageState::Pending {
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
        user.profile.images = user.profile.images.saturating_sub(1);
        user.profile.bytes = user.profile.bytes.saturating_sub(record.size);
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
        user.profile.images = user.profile.images.saturating_sub(1);
        user.profile.bytes = user.profile.bytes.saturating_sub(size);
        Ok(true)
    }

    async fn edit(&self, owner: &Owner, id: Uuid, edit: &Edit) -> Result<Option<ImageRecord>, CatalogError> {
        check_edit(edit)?;
        let mut state = self.begin()?;
        let Some(record) = state.users.get_mut(owner.as_str()).and_then(|user| user.images.get_mut(&id))
        else {
            return Ok(None);
        };
        apply_edit(&mut record.details, edit);
        record.revision += 1;
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
        let mut older = match after {
            Some(after) => user.images.range(..after),
            None => user.images.range(..),
        }
        .rev()
        .map(|(_, record)| record)
        .filter(|record| record.details.tags.iter().any(|t| t == tag))
        .cloned();
        let items: Vec<ImageRecord> = older.by_ref().take(usize::from(limit)).collect();
        let next = if older.next().is_some() { items.last().map(|record| record.id) } else { None };
        Ok(Page { items, next })
    }

    async fn profile(&self, owner: &Owner) -> Result<Profile, CatalogError> {
        let state = self.begin()?;
        Ok(state.users.get(owner.as_str()).map(|user| user.profile).unwrap_or_default())
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
        assert_eq!(catalog.profile(&owner).await.unwrap(), Profile { images: 1, bytes: 5 });
    }
}
