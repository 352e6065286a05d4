//! `GET /api/account`, `GET /api/account/export` and `DELETE /api/account`: the caller's
//! account as a whole.
//!
//! Deleting an account writes one tombstone item (`DELETED`, in the caller's partition) and
//! answers `202`. From then on every write for that user is refused (`410 account_deleted`: the
//! tombstone is a condition of every creating transaction), so a token that is still valid
//! creates nothing. The table's stream hands the tombstone to the thumbnail function, which
//! deletes every image (every object version and rendition first, then the item), every other
//! item, and then the user in the identity provider, and finally marks the tombstone `deleted`
//! (kept, with a TTL, longer than any token lives). It works in bounded passes: a pass that runs
//! out of time bumps the tombstone, whose change on the stream starts the next one; a failing
//! pass is retried by the event source mapping. `DELETE /api/account` again, while deleting,
//! starts another pass too. `GET /api/account` shows how far it is.

use serde::Serialize;
use thumbforge_catalog::{AccountState, Catalog, DAY_MS, ImageState, MAX_PAGE, Owner, Profile, utc_day};
use thumbforge_core::Outcome;

use crate::albums::{self, AlbumView};
use crate::api::Api;
use crate::http::{ApiError, rfc3339, rfc3339_millis};
use crate::images::{self, Image};
use crate::ports::{Clock, IdGenerator, Presigner};
use crate::uploads::unix_millis;

/// `GET /api/account` (and the answer to `DELETE /api/account`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AccountView {
    /// In use.
    #[serde(rename_all = "camelCase")]
    Active {
        /// How many images the caller has (pending and finished).
        images: u64,
        /// The sum of their declared sizes, in bytes.
        bytes: u64,
        /// How many albums.
        albums: u64,
        /// Uploads started today (UTC), against `quotas.uploadsPerDay` of `GET /api/config`.
        uploads_today: u64,
        /// Their bytes, against `quotas.bytesPerDay`.
        bytes_today: u64,
        /// When today's counts start again: the next 00:00 UTC (RFC 3339).
        day_resets_at: String,
    },
    /// Its deletion is under way.
    #[serde(rename_all = "camelCase")]
    Deleting {
        /// When the deletion was asked for (RFC 3339, UTC).
        requested_at: String,
        /// How many images are still to delete.
        images_left: u64,
    },
    /// Everything is gone, the sign-in account included.
    #[serde(rename_all = "camelCase")]
    Deleted {
        /// When the deletion was asked for.
        requested_at: String,
        /// When it finished.
        deleted_at: String,
    },
}

/// The largest export answered, in bytes of JSON: below Lambda's 6 MB response limit, with room
/// for the envelope.
pub const EXPORT_MAX_BYTES: usize = 5 * 1024 * 1024;

/// `GET /api/account/export`: everything stored about the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Export {
    /// When the document was made (RFC 3339, UTC).
    pub exported_at: String,
    /// The caller's user id (the `sub` every item is filed under).
    pub owner: String,
    /// Their totals.
    pub profile: ExportedProfile,
    /// Every image, newest first, each as `GET /api/images/{id}` shows it, with a short-lived
    /// link to its original when it has one.
    pub images: Vec<ExportedImage>,
    /// Every album, newest first, with the ids of its photos.
    pub albums: Vec<ExportedAlbum>,
}

/// The profile's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExportedProfile {
    /// Images (pending and finished).
    pub images: u64,
    /// Their declared sizes, in bytes.
    pub bytes: u64,
    /// Albums.
    pub albums: u64,
}

impl From<Profile> for ExportedProfile {
    fn from(profile: Profile) -> Self {
        Self { images: profile.images, bytes: profile.bytes, albums: profile.albums }
    }
}

/// An image in an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportedImage {
    /// The image as the API shows it.
    #[serde(flatten)]
    pub image: Image,
    /// Its original, for a ready image; `None` otherwise.
    pub original: Option<OriginalLink>,
}

/// A pre-signed download of an original.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginalLink {
    /// The URL (S3 answers it with `Content-Disposition: attachment` and the file's name).
    pub url: String,
    /// When it stops working (RFC 3339, UTC).
    pub expires_at: String,
}

/// An album in an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedAlbum {
    /// The id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: String,
    /// Its photos' ids, newest first.
    pub images: Vec<String>,
}

/// The name the identity provider knows the caller by: the access token's `username` claim
/// (Cognito's, and the local issuer's, equal to `sub` in a pool signing in by email), else
/// `cognito:username` (ID tokens), else the `sub` itself.
pub fn username(request: &aws_lambda_events::apigw::ApiGatewayV2httpRequest, owner: &Owner) -> String {
    let claims =
        request.request_context.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|jwt| &jwt.claims);
    ["username", "cognito:username"]
        .iter()
        .find_map(|name| claims.and_then(|c| c.get(*name)).filter(|v| !v.is_empty()).cloned())
        .unwrap_or_else(|| owner.as_str().to_owned())
}

impl<K: Catalog, P: Presigner, C: Clock, I: IdGenerator> Api<K, P, C, I> {
    /// The caller's account: its totals, or how far its deletion is.
    pub(crate) async fn account(&self, owner: &Owner) -> Result<AccountView, ApiError> {
        let state = self.catalog().account_state(owner).await.map_err(|e| ApiError::catalog(&e))?;
        self.account_view(owner, state).await
    }

    async fn account_view(&self, owner: &Owner, state: AccountState) -> Result<AccountView, ApiError> {
        Ok(match state {
            AccountState::Active => {
                let now_ms = unix_millis(self.clock().now());
                let profile = self.catalog().profile(owner).await.map_err(|e| ApiError::catalog(&e))?;
                let usage = self.catalog().usage(owner, now_ms).await.map_err(|e| ApiError::catalog(&e))?;
                AccountView::Active {
                    images: profile.images,
                    bytes: profile.bytes,
                    albums: profile.albums,
                    uploads_today: usage.uploads_today,
                    bytes_today: usage.bytes_today,
                    day_resets_at: rfc3339_millis((utc_day(now_ms) + 1) * DAY_MS),
                }
            }
            AccountState::Deleting { requested_at_ms, .. } => {
                let profile = self.catalog().profile(owner).await.map_err(|e| ApiError::catalog(&e))?;
                AccountView::Deleting {
                    requested_at: rfc3339_millis(requested_at_ms),
                    images_left: profile.images,
                }
            }
            AccountState::Deleted { requested_at_ms, deleted_at_ms } => AccountView::Deleted {
                requested_at: rfc3339_millis(requested_at_ms),
                deleted_at: rfc3339_millis(deleted_at_ms),
            },
        })
    }

    /// Everything stored about the caller, as one document: `413 export_too_large` past
    /// [`EXPORT_MAX_BYTES`].
    pub(crate) async fn export(&self, owner: &Owner) -> Result<Export, ApiError> {
        let catalog = self.catalog();
        let profile = catalog.profile(owner).await.map_err(|e| ApiError::catalog(&e))?;
        let mut records = Vec::new();
        let mut after = None;
        loop {
            let page = catalog.list(owner, MAX_PAGE, after).await.map_err(|e| ApiError::catalog(&e))?;
            records.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let mut exported = Vec::with_capacity(records.len());
        for record in &records {
            let original = match &record.state {
                // A failed image's upload is kept (our failure, not the file's): it is exported.
                ImageState::Finished(Outcome::Ready { .. } | Outcome::Failed { .. }) => {
                    let signed = self.original_url(record).await?;
                    Some(OriginalLink { url: signed.url, expires_at: rfc3339(signed.expires_at) })
                }
                _ => None,
            };
            exported.push(ExportedImage { image: images::describe(record), original });
        }
        let albums = catalog.list_albums(owner).await.map_err(|e| ApiError::catalog(&e))?;
        let albums = albums
            .iter()
            .map(|album| {
                let AlbumView { id, name, created_at, .. } = albums::view(album);
                // Each image lists its albums: the album's photos come from them, newest first.
                let images = records
                    .iter()
                    .filter(|r| r.albums.contains(&album.id))
                    .map(|r| r.id.hyphenated().to_string());
                ExportedAlbum { id, name, created_at, images: images.collect() }
            })
            .collect();
        let export = Export {
            exported_at: rfc3339(self.clock().now()),
            owner: owner.as_str().to_owned(),
            profile: profile.into(),
            images: exported,
            albums,
        };
        let size = serde_json::to_vec(&export).map_or(usize::MAX, |bytes| bytes.len());
        if size > EXPORT_MAX_BYTES {
            tracing::warn!(size, images = records.len(), "export too large for one answer");
            return Err(ApiError::new(
                413,
                "export_too_large",
                format!(
                    "the export of {} images is {size} bytes, more than one answer can hold ({EXPORT_MAX_BYTES})",
                    records.len()
                ),
            ));
        }
        tracing::info!(images = export.images.len(), albums = export.albums.len(), size, "account exported");
        Ok(export)
    }

    /// Starts (or, while it runs, nudges) the deletion of the caller's account.
    pub(crate) async fn delete_account(
        &self,
        owner: &Owner,
        username: &str,
    ) -> Result<AccountView, ApiError> {
        let now_ms = unix_millis(self.clock().now());
        let state = self
            .catalog()
            .begin_account_deletion(owner, username, now_ms)
            .await
            .map_err(|e| ApiError::catalog(&e))?;
        if let AccountState::Deleting { pass, .. } = &state {
            tracing::info!(pass, "account deletion requested");
        }
        self.account_view(owner, state).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::tests::{
        GET_IMAGE, NOW_MS, OTHER, SUB, delete_as, event_as, get, get_as, harness, id_at, owner, patch_as,
        post_as, ready,
    };

    #[test]
    fn views_are_tagged_by_status() {
        let active = AccountView::Active {
            images: 2,
            bytes: 10,
            albums: 1,
            uploads_today: 1,
            bytes_today: 4,
            day_resets_at: "r".into(),
        };
        assert_eq!(
            serde_json::to_value(&active).unwrap(),
            json!({"status": "active", "images": 2, "bytes": 10, "albums": 1, "uploadsToday": 1, "bytesToday": 4, "dayResetsAt": "r"})
        );
        let deleting = AccountView::Deleting { requested_at: "t".into(), images_left: 3 };
        assert_eq!(
            serde_json::to_value(&deleting).unwrap(),
            json!({"status": "deleting", "requestedAt": "t", "imagesLeft": 3})
        );
        let deleted = AccountView::Deleted { requested_at: "a".into(), deleted_at: "b".into() };
        assert_eq!(
            serde_json::to_value(&deleted).unwrap(),
            json!({"status": "deleted", "requestedAt": "a", "deletedAt": "b"})
        );
    }

    #[tokio::test]
    async fn a_deleted_account_accepts_no_more_writes_and_shows_its_progress() {
        let h = harness();
        let image = id_at(NOW_MS, 1);
        h.seed(SUB, image, NOW_MS).await;
        h.finish(SUB, image, ready(&image)).await;
        h.seed(OTHER, id_at(NOW_MS, 2), NOW_MS).await;
        let account = h.call(get("/api/account", &[])).await;
        assert_eq!(
            account.body,
            json!({"status": "active", "images": 1, "bytes": 1000, "albums": 0, "uploadsToday": 1, "bytesToday": 1000, "dayResetsAt": "2025-03-13T00:00:00Z"})
        );

        let deleting = h.call(delete_as(SUB, "/api/account")).await;
        assert_eq!(deleting.status, 202, "{}", deleting.body);
        assert_eq!(deleting.response.headers["location"], "/api/account");
        let expected =
            json!({"status": "deleting", "requestedAt": "2025-03-12T14:03:11.123Z", "imagesLeft": 1});
        assert_eq!(deleting.body, expected);
        assert_eq!(h.call(get("/api/account", &[])).await.body, expected);
        match h.catalog().account_state(&owner(SUB)).await.unwrap() {
            AccountState::Deleting { username, pass, .. } => assert_eq!((username.as_str(), pass), (SUB, 0)),
            other => panic!("{other:?}"),
        }

        // A token that is still valid creates nothing.
        let upload = json!({"filename": "a.jpg", "contentType": "image/jpeg", "size": 10}).to_string();
        let mut album = event_as(SUB, GET_IMAGE, "POST", "/api/albums", &[]);
        album["body"] = json!(r#"{"name":"x"}"#);
        album["isBase64Encoded"] = json!(false);
        for refused in
            [post_as(SUB, &upload), album, patch_as(SUB, &format!("/api/images/{image}"), r#"{"title":"t"}"#)]
        {
            let (status, code, _) = h.error(refused).await;
            assert_eq!((status, code.as_str()), (410, "account_deleted"));
        }
        // Another user is not affected.
        assert_eq!(h.call(post_as(OTHER, &upload)).await.status, 201);

        // Asking again while it runs starts another pass.
        assert_eq!(h.call(delete_as(SUB, "/api/account")).await.status, 202);
        assert!(matches!(
            h.catalog().account_state(&owner(SUB)).await.unwrap(),
            AccountState::Deleting { pass: 1, .. }
        ));

        // Once the function has finished (as it would), the account says so.
        let me = owner(SUB);
        for image in h.catalog().account_images(&me, 10).await.unwrap() {
            h.catalog().delete(&me, image.id).await.unwrap();
        }
        while h.catalog().clear_account(&me, 10).await.unwrap() > 0 {}
        assert!(h.catalog().finish_account_deletion(&me, NOW_MS + 5000).await.unwrap());
        let done = json!({"status": "deleted", "requestedAt": "2025-03-12T14:03:11.123Z", "deletedAt": "2025-03-12T14:03:16.123Z"});
        assert_eq!(h.call(get("/api/account", &[])).await.body, done);
        let again = h.call(delete_as(SUB, "/api/account")).await;
        assert_eq!((again.status, &again.body), (200, &done));
        assert_eq!(h.call(get_as(OTHER, "/api/account", &[])).await.body["status"], "active");
    }

    #[tokio::test]
    async fn the_export_holds_every_image_album_and_a_link_to_each_original() {
        let h = harness();
        let (photo, pending) = (id_at(NOW_MS, 1), id_at(NOW_MS, 2));
        h.seed(SUB, photo, NOW_MS).await;
        h.finish(SUB, photo, ready(&photo)).await;
        h.seed(SUB, pending, NOW_MS).await;
        h.seed(OTHER, id_at(NOW_MS, 3), NOW_MS).await;
        let album =
            thumbforge_catalog::NewAlbum { id: id_at(NOW_MS, 9), name: "Trip".into(), created_at_ms: NOW_MS };
        h.catalog().create_album(&owner(SUB), &album).await.unwrap();
        h.catalog().add_to_album(&owner(SUB), album.id, photo).await.unwrap();

        let answer = h.call(get("/api/account/export", &[])).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(
            answer.response.headers["content-disposition"],
            "attachment; filename=\"thumbforge-export.json\""
        );
        let export = answer.body;
        assert_eq!(export["owner"], SUB);
        assert_eq!(export["exportedAt"], "2025-03-12T14:03:11.123Z");
        assert_eq!(export["profile"], json!({"images": 2, "bytes": 2000, "albums": 1}));
        let images = export["images"].as_array().unwrap();
        let ids: Vec<&str> = images.iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [pending.to_string(), photo.to_string()], "every image, newest first");
        assert_eq!(images[0]["original"], Value::Null, "a pending image has no original yet");
        let ready_one = &images[1];
        assert_eq!(
            (ready_one["status"].as_str(), &ready_one["albums"]),
            (Some("ready"), &json!([album.id.to_string()]))
        );
        let url = ready_one["original"]["url"].as_str().unwrap();
        assert!(url.contains(&format!("raw/{photo}.jpg")), "{url}");
        assert_eq!(ready_one["original"]["expiresAt"], "2025-03-12T14:04:11.123Z", "the download expiry");
        let signed = h.presigner.gets.lock().unwrap().clone();
        assert_eq!(signed.len(), 1);
        assert!(signed[0].response_content_disposition.starts_with("attachment; filename=\""), "{signed:?}");
        assert_eq!(
            export["albums"],
            json!([{"id": album.id.to_string(), "name": "Trip", "createdAt": "2025-03-12T14:03:11.123Z", "images": [photo.to_string()]}])
        );
        // Someone else's export holds only theirs.
        let theirs = h.call(get_as(OTHER, "/api/account/export", &[])).await.body;
        assert_eq!(theirs["images"].as_array().unwrap().len(), 1);
        assert!(!theirs.to_string().contains(&photo.to_string()));
    }
}
