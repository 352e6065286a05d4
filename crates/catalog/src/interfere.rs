//! A [`Catalog`] that meddles once, just before the next [`Catalog::finish`]: the image is
//! deleted meanwhile, or the write fails. The thumbnail function's tests use it to race a user's
//! delete against its conditional write, on the in-memory and the DynamoDB catalogs alike.

use std::sync::{Mutex, MutexGuard, PoisonError};

use uuid::Uuid;

use thumbforge_core::manifest::Outcome;

use crate::{
    AccountState, Album, Catalog, CatalogError, Edit, Finish, ImageRecord, Membership, NewAlbum, NewImage,
    Owner, Page, Profile, Quotas, Usage,
};

/// What happens just before the next `finish`.
#[derive(Debug)]
pub enum Interference {
    /// Nothing: `finish` goes through.
    Nothing,
    /// The user deletes the image first.
    Delete,
    /// `finish` fails with this, changing nothing.
    Fail(CatalogError),
}

/// `inner`, with [`Interference`] before its next `finish` (once; later calls go through).
#[derive(Debug)]
pub struct Interfering<C> {
    /// The catalog every call reaches.
    pub inner: C,
    next: Mutex<Interference>,
}

impl<C> Interfering<C> {
    /// `inner` with `next` before its next `finish`.
    pub fn new(inner: C, next: Interference) -> Self {
        Self { inner, next: Mutex::new(next) }
    }

    fn lock(&self) -> MutexGuard<'_, Interference> {
        self.next.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C: Catalog> Catalog for Interfering<C> {
    async fn create_within(
        &self,
        owner: &Owner,
        image: &NewImage,
        quotas: &Quotas,
    ) -> Result<(), CatalogError> {
        self.inner.create_within(owner, image, quotas).await
    }
    async fn usage(&self, owner: &Owner, now_ms: u64) -> Result<Usage, CatalogError> {
        self.inner.usage(owner, now_ms).await
    }
    async fn get(&self, owner: &Owner, id: Uuid) -> Result<Option<ImageRecord>, CatalogError> {
        self.inner.get(owner, id).await
    }
    async fn list(&self, owner: &Owner, limit: u16, after: Option<Uuid>) -> Result<Page, CatalogError> {
        self.inner.list(owner, limit, after).await
    }
    async fn finish(
        &self,
        owner: &Owner,
        id: Uuid,
        outcome: &Outcome,
        at: u64,
    ) -> Result<Finish, CatalogError> {
        let next = std::mem::replace(&mut *self.lock(), Interference::Nothing);
        match next {
            Interference::Nothing => {}
            Interference::Delete => {
                self.inner.delete(owner, id).await?;
            }
            Interference::Fail(err) => return Err(err),
        }
        self.inner.finish(owner, id, outcome, at).await
    }
    async fn delete(&self, owner: &Owner, id: Uuid) -> Result<Option<ImageRecord>, CatalogError> {
        self.inner.delete(owner, id).await
    }
    async fn edit(&self, owner: &Owner, id: Uuid, edit: &Edit) -> Result<Option<ImageRecord>, CatalogError> {
        self.inner.edit(owner, id, edit).await
    }
    async fn list_tagged(
        &self,
        owner: &Owner,
        tag: &str,
        limit: u16,
        after: Option<Uuid>,
    ) -> Result<Page, CatalogError> {
        self.inner.list_tagged(owner, tag, limit, after).await
    }
    async fn release_expired(
        &self,
        owner: &Owner,
        id: Uuid,
        size: u64,
        now_s: u64,
    ) -> Result<bool, CatalogError> {
        self.inner.release_expired(owner, id, size, now_s).await
    }
    async fn profile(&self, owner: &Owner) -> Result<Profile, CatalogError> {
        self.inner.profile(owner).await
    }
    async fn create_album(&self, owner: &Owner, album: &NewAlbum) -> Result<Album, CatalogError> {
        self.inner.create_album(owner, album).await
    }
    async fn list_albums(&self, owner: &Owner) -> Result<Vec<Album>, CatalogError> {
        self.inner.list_albums(owner).await
    }
    async fn get_album(&self, owner: &Owner, id: Uuid) -> Result<Option<Album>, CatalogError> {
        self.inner.get_album(owner, id).await
    }
    async fn rename_album(&self, owner: &Owner, id: Uuid, name: &str) -> Result<Option<Album>, CatalogError> {
        self.inner.rename_album(owner, id, name).await
    }
    async fn delete_album(&self, owner: &Owner, id: Uuid) -> Result<bool, CatalogError> {
        self.inner.delete_album(owner, id).await
    }
    async fn add_to_album(
        &self,
        owner: &Owner,
        album: Uuid,
        image: Uuid,
    ) -> Result<Membership, CatalogError> {
        self.inner.add_to_album(owner, album, image).await
    }
    async fn remove_from_album(
        &self,
        owner: &Owner,
        album: Uuid,
        image: Uuid,
    ) -> Result<Membership, CatalogError> {
        self.inner.remove_from_album(owner, album, image).await
    }
    async fn list_album(
        &self,
        owner: &Owner,
        album: Uuid,
        tag: Option<&str>,
        limit: u16,
        after: Option<Uuid>,
    ) -> Result<Option<Page>, CatalogError> {
        self.inner.list_album(owner, album, tag, limit, after).await
    }
    async fn begin_account_deletion(
        &self,
        owner: &Owner,
        username: &str,
        now_ms: u64,
    ) -> Result<AccountState, CatalogError> {
        self.inner.begin_account_deletion(owner, username, now_ms).await
    }
    async fn account_state(&self, owner: &Owner) -> Result<AccountState, CatalogError> {
        self.inner.account_state(owner).await
    }
    async fn account_images(&self, owner: &Owner, limit: u16) -> Result<Vec<ImageRecord>, CatalogError> {
        self.inner.account_images(owner, limit).await
    }
    async fn clear_account(&self, owner: &Owner, limit: u16) -> Result<usize, CatalogError> {
        self.inner.clear_account(owner, limit).await
    }
    async fn finish_account_deletion(&self, owner: &Owner, now_ms: u64) -> Result<bool, CatalogError> {
        self.inner.finish_account_deletion(owner, now_ms).await
    }
}
