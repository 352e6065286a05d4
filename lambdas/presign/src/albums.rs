//! `POST/GET /api/albums`, `GET/PATCH/DELETE /api/albums/{id}` and
//! `PUT/DELETE /api/albums/{id}/photos/{imageId}`: the caller's albums.
//!
//! An album is an item of its own in the caller's partition (`ALBUM#<id>`); each photo in it is a
//! membership item (`MEMBER#<album>#<image>`) and the album's id in the photo's `albums` set, so
//! that an album's photos are one `Query` and deleting a photo removes its memberships in the
//! same transaction. Deleting an album keeps its photos. Adding a photo twice, or removing one
//! that is not in the album, changes nothing and answers `204` as the first time did. Another
//! user's album or photo id is `404`, as an id nobody has is.

use serde::Serialize;
use thumbforge_catalog::{Album, Catalog, Membership, NewAlbum, Owner};
use thumbforge_core::describe::{self, ALBUMS_PER_PHOTO_MAX};
use uuid::Uuid;

use crate::api::Api;
use crate::http::{ApiError, json_body, rfc3339_millis};
use crate::images::{self, Image, parse_id};
use crate::ports::{Clock, IdGenerator, Presigner};

/// The shape of a `POST /api/albums` or `PATCH /api/albums/{id}` body, for error messages.
pub const ALBUM_SHAPE: &str = r#"{"name": string}"#;

/// An album as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlbumView {
    /// The id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// How many photos are in it.
    pub count: u64,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// Its newest photo, if it has any.
    pub cover: Option<Image>,
}

/// `GET /api/albums`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlbumList {
    /// Newest first.
    pub items: Vec<AlbumView>,
}

/// What the API shows of an album.
pub fn view(album: &Album) -> AlbumView {
    AlbumView {
        id: album.id.hyphenated().to_string(),
        name: album.name.clone(),
        count: album.count,
        created_at: rfc3339_millis(album.created_at_ms),
        cover: album.cover.as_deref().map(images::describe),
    }
}

/// `404 album_not_found`: no such album in the caller's partition (another user's included).
pub fn album_not_found(text: &str) -> ApiError {
    ApiError::new(404, "album_not_found", format!("no album has the id {text:?}"))
}

/// An album id as this API issues them (a canonical UUIDv7), or `404`.
pub fn parse_album_id(text: &str) -> Result<Uuid, ApiError> {
    parse_id(text).ok_or_else(|| album_not_found(text))
}

fn name_of(body: &[u8]) -> Result<String, ApiError> {
    describe::parse_album_name(&json_body(body, ALBUM_SHAPE)?)
        .map_err(|problems| ApiError::invalid_request(problems.join("; ")))
}

impl<K: Catalog, P: Presigner, C: Clock, I: IdGenerator> Api<K, P, C, I> {
    /// Creates an album named by the `POST` body.
    pub(crate) async fn create_album(&self, owner: &Owner, body: &[u8]) -> Result<AlbumView, ApiError> {
        let name = name_of(body)?;
        let created_at_ms = crate::uploads::unix_millis(self.clock().now());
        let album = NewAlbum { id: self.ids().new_id(), name, created_at_ms };
        let created = self.catalog().create_album(owner, &album).await.map_err(|e| ApiError::catalog(&e))?;
        tracing::info!(album = %created.id, "album created");
        Ok(view(&created))
    }

    /// The caller's albums, newest first.
    pub(crate) async fn albums(&self, owner: &Owner) -> Result<AlbumList, ApiError> {
        let albums = self.catalog().list_albums(owner).await.map_err(|e| ApiError::catalog(&e))?;
        Ok(AlbumList { items: albums.iter().map(view).collect() })
    }

    /// One of the caller's albums.
    pub(crate) async fn album(&self, owner: &Owner, text: &str) -> Result<AlbumView, ApiError> {
        let id = parse_album_id(text)?;
        let album = self.catalog().get_album(owner, id).await.map_err(|e| ApiError::catalog(&e))?;
        album.as_ref().map(view).ok_or_else(|| album_not_found(text))
    }

    /// Renames one of the caller's albums with the `PATCH` body.
    pub(crate) async fn rename_album(
        &self,
        owner: &Owner,
        text: &str,
        body: &[u8],
    ) -> Result<AlbumView, ApiError> {
        let id = parse_album_id(text)?;
        let name = name_of(body)?;
        let renamed =
            self.catalog().rename_album(owner, id, &name).await.map_err(|e| ApiError::catalog(&e))?;
        renamed.as_ref().map(view).ok_or_else(|| album_not_found(text))
    }

    /// Deletes one of the caller's albums (its photos stay).
    pub(crate) async fn delete_album(&self, owner: &Owner, text: &str) -> Result<(), ApiError> {
        let id = parse_album_id(text)?;
        let deleted = self.catalog().delete_album(owner, id).await.map_err(|e| ApiError::catalog(&e))?;
        if !deleted {
            return Err(album_not_found(text));
        }
        tracing::info!(album = text, "album deleted");
        Ok(())
    }

    /// Adds (`add`) or removes a photo of the caller's to or from one of their albums. Both are
    /// idempotent.
    pub(crate) async fn membership(
        &self,
        owner: &Owner,
        album_text: &str,
        image_text: &str,
        add: bool,
    ) -> Result<(), ApiError> {
        let album = parse_album_id(album_text)?;
        let image = parse_id(image_text).ok_or_else(|| images::not_found(image_text))?;
        let catalog = self.catalog();
        let outcome = if add {
            catalog.add_to_album(owner, album, image).await
        } else {
            catalog.remove_from_album(owner, album, image).await
        }
        .map_err(|e| ApiError::catalog(&e))?;
        match outcome {
            Membership::Added | Membership::AlreadyMember | Membership::Removed | Membership::NotMember => {
                tracing::info!(album = album_text, image = image_text, ?outcome, "album membership");
                Ok(())
            }
            Membership::NoAlbum => Err(album_not_found(album_text)),
            Membership::NoImage => Err(images::not_found(image_text)),
            Membership::TooManyAlbums => Err(ApiError::new(
                409,
                "too_many_albums_for_photo",
                format!("a photo can be in at most {ALBUMS_PER_PHOTO_MAX} albums; take it out of one first"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::tests::{
        GET_IMAGE, Harness, NOW_MS, OTHER, SUB, delete_as, event_as, get, get_as, harness, id_at, patch_as,
        ready,
    };

    #[test]
    fn album_ids_are_canonical_uuidv7_or_not_found() {
        let id = "0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e";
        assert_eq!(parse_album_id(id).unwrap().to_string(), id);
        for bad in ["", "x", &id.to_uppercase(), "0195896b-6a13-4c3a-9b1e-6f4d2c1a0b9e"] {
            let err = parse_album_id(bad).unwrap_err();
            assert_eq!((err.status, err.code), (404, "album_not_found"), "{bad}");
        }
    }

    fn create_as(sub: &str, body: &str) -> Value {
        let mut event = event_as(sub, GET_IMAGE, "POST", "/api/albums", &[]);
        event["body"] = json!(body);
        event["isBase64Encoded"] = json!(false);
        event
    }

    fn put_as(sub: &str, album: &str, image: &str) -> Value {
        event_as(sub, GET_IMAGE, "PUT", &format!("/api/albums/{album}/photos/{image}"), &[])
    }

    fn take_out_as(sub: &str, album: &str, image: &str) -> Value {
        delete_as(sub, &format!("/api/albums/{album}/photos/{image}"))
    }

    /// The status of an answer that must have no body (`204`).
    async fn status_of(h: &Harness, event: Value) -> (i64, ()) {
        let response = h.api.handle_event(event).await;
        assert_eq!(response.status_code, 204, "{response:?}");
        assert_eq!(response.headers["cache-control"], "no-store");
        assert_eq!(response.body, None, "204 has no body");
        (response.status_code, ())
    }

    async fn album_named(h: &Harness, sub: &str, name: &str) -> String {
        let created = h.call(create_as(sub, &json!({"name": name}).to_string())).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let id = created.body["id"].as_str().unwrap().to_owned();
        assert_eq!(created.response.headers["location"], format!("/api/albums/{id}"));
        id
    }

    async fn ready_image(h: &Harness, sub: &str, n: u64) -> String {
        let id = id_at(NOW_MS, n);
        h.seed(sub, id, NOW_MS).await;
        h.finish(sub, id, ready(&id)).await;
        id.to_string()
    }

    #[tokio::test]
    async fn albums_are_created_listed_renamed_and_read() {
        let h = harness();
        let id = album_named(&h, SUB, "  Summer 2025 ").await;
        let album = h.call(get(&format!("/api/albums/{id}"), &[])).await;
        assert_eq!(album.status, 200);
        assert_eq!(
            album.body,
            json!({"id": id, "name": "Summer 2025", "count": 0, "createdAt": "2025-03-12T14:03:11.123Z", "cover": null})
        );
        let second = album_named(&h, SUB, "Cats").await;
        let listed = h.call(get("/api/albums", &[])).await;
        let names: Vec<&str> =
            listed.body["items"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Cats", "Summer 2025"], "newest first");

        let renamed = h.call(patch_as(SUB, &format!("/api/albums/{second}"), r#"{"name":"Kittens"}"#)).await;
        assert_eq!((renamed.status, renamed.body["name"].as_str()), (200, Some("Kittens")));
        assert_eq!(h.call(get(&format!("/api/albums/{second}"), &[])).await.body["name"], "Kittens");

        // Every problem of a name at once; nothing created.
        for (body, needle) in [
            (r#"{"name":"   "}"#, "empty"),
            (&json!({"name": "x".repeat(101)}).to_string(), "100"),
            (r#"{"name":"a\u0007b"}"#, "control"),
            (r#"{"name":5}"#, "string"),
            (r#"{"title":"x"}"#, "title"),
        ] {
            let (status, code, message) = h.error(create_as(SUB, body)).await;
            assert_eq!((status, code.as_str()), (400, "invalid_request"), "{body}: {message}");
            assert!(message.contains(needle), "{body}: {message}");
        }
        assert_eq!(h.error(create_as(SUB, "not json")).await.1, "invalid_json");
        assert_eq!(h.call(get("/api/albums", &[])).await.body["items"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn another_users_album_and_photos_are_not_found() {
        let h = harness();
        let album = album_named(&h, SUB, "Mine").await;
        let image = ready_image(&h, SUB, 1).await;
        let theirs = ready_image(&h, OTHER, 2).await;
        let path = format!("/api/albums/{album}");
        assert_eq!(h.error(get_as(OTHER, &path, &[])).await.1, "album_not_found");
        assert_eq!(h.error(patch_as(OTHER, &path, r#"{"name":"x"}"#)).await.1, "album_not_found");
        assert_eq!(h.error(delete_as(OTHER, &path)).await.1, "album_not_found");
        assert_eq!(h.error(put_as(OTHER, &album, &theirs)).await.1, "album_not_found");
        // My album, their photo.
        assert_eq!(
            h.error(put_as(SUB, &album, &theirs)).await,
            (404, "image_not_found".into(), format!("no image has the id \"{theirs}\""))
        );
        assert_eq!(h.error(get_as(OTHER, "/api/images", &[("album", &album)])).await.1, "album_not_found");
        assert!(h.call(get_as(OTHER, "/api/albums", &[])).await.body["items"].as_array().unwrap().is_empty());
        // Malformed ids are as unknown as another user's.
        assert_eq!(h.error(get("/api/albums/nope", &[])).await.1, "album_not_found");
        assert_eq!(h.error(put_as(SUB, &album, "nope")).await.1, "image_not_found");
        assert_eq!(h.error(get("/api/images", &[("album", "nope")])).await.1, "album_not_found");
        // Nothing changed.
        assert_eq!(h.call(get(&path, &[])).await.body["name"], "Mine");
        assert_eq!(h.call(get(&format!("/api/images/{image}"), &[])).await.body["albums"], json!([]));
    }

    #[tokio::test]
    async fn memberships_are_idempotent_and_photos_outlive_their_albums() {
        let h = harness();
        let album = album_named(&h, SUB, "Trip").await;
        let (first, second) = (ready_image(&h, SUB, 1).await, ready_image(&h, SUB, 2).await);
        for _ in 0..2 {
            assert_eq!(status_of(&h, put_as(SUB, &album, &first)).await.0, 204);
        }
        assert_eq!(status_of(&h, put_as(SUB, &album, &second)).await.0, 204);
        let read = h.call(get(&format!("/api/albums/{album}"), &[])).await.body;
        assert_eq!(read["count"], 2, "adding a photo twice makes one membership: {read}");
        assert_eq!(read["cover"]["id"], second, "the newest photo is the cover");
        assert_eq!(h.call(get(&format!("/api/images/{first}"), &[])).await.body["albums"], json!([album]));
        let listed = h.call(get("/api/images", &[("album", &album)])).await.body;
        let ids: Vec<&str> =
            listed["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [second.as_str(), first.as_str()]);

        for _ in 0..2 {
            assert_eq!(status_of(&h, take_out_as(SUB, &album, &first)).await.0, 204);
        }
        assert_eq!(h.call(get(&format!("/api/albums/{album}"), &[])).await.body["count"], 1);
        assert_eq!(h.call(get(&format!("/api/images/{first}"), &[])).await.body["albums"], json!([]));

        // Deleting the album keeps its photos.
        assert_eq!(status_of(&h, delete_as(SUB, &format!("/api/albums/{album}"))).await.0, 204);
        assert_eq!(h.error(get(&format!("/api/albums/{album}"), &[])).await.1, "album_not_found");
        assert_eq!(h.error(delete_as(SUB, &format!("/api/albums/{album}"))).await.1, "album_not_found");
        let kept = h.call(get(&format!("/api/images/{second}"), &[])).await.body;
        assert_eq!((kept["status"].as_str(), &kept["albums"]), (Some("ready"), &json!([])));
        assert_eq!(h.call(get("/api/images", &[])).await.body["items"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn deleting_a_photo_takes_it_out_of_its_albums_and_tag_filters_combine() {
        let h = harness();
        let (a, b) = (album_named(&h, SUB, "A").await, album_named(&h, SUB, "B").await);
        let (sea, town) = (ready_image(&h, SUB, 1).await, ready_image(&h, SUB, 2).await);
        for (album, image) in [(&a, &sea), (&a, &town), (&b, &sea)] {
            assert_eq!(status_of(&h, put_as(SUB, album, image)).await.0, 204);
        }
        let tagged = h.call(patch_as(SUB, &format!("/api/images/{sea}"), r#"{"tags":["Sea"]}"#)).await;
        assert_eq!(tagged.status, 200, "{}", tagged.body);
        let filtered = h.call(get("/api/images", &[("album", &a), ("tag", "sea")])).await.body;
        let ids: Vec<&str> =
            filtered["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [sea.as_str()]);

        assert_eq!(status_of(&h, delete_as(SUB, &format!("/api/images/{sea}"))).await.0, 204);
        assert_eq!(h.call(get(&format!("/api/albums/{a}"), &[])).await.body["count"], 1);
        let b_now = h.call(get(&format!("/api/albums/{b}"), &[])).await.body;
        assert_eq!((b_now["count"].as_u64(), &b_now["cover"]), (Some(0), &Value::Null));
        assert!(
            h.call(get("/api/images", &[("tag", "sea")])).await.body["items"].as_array().unwrap().is_empty()
        );
    }

    #[tokio::test]
    async fn a_photo_is_in_at_most_so_many_albums() {
        let h = harness();
        let image = ready_image(&h, SUB, 1).await;
        for n in 0..ALBUMS_PER_PHOTO_MAX {
            let album = album_named(&h, SUB, &format!("album {n}")).await;
            assert_eq!(status_of(&h, put_as(SUB, &album, &image)).await.0, 204);
        }
        let one_more = album_named(&h, SUB, "one more").await;
        let (status, code, message) = h.error(put_as(SUB, &one_more, &image)).await;
        assert_eq!((status, code.as_str()), (409, "too_many_albums_for_photo"));
        assert!(message.contains(&ALBUMS_PER_PHOTO_MAX.to_string()), "{message}");
    }

    #[tokio::test]
    async fn the_album_limit_is_a_409() {
        let h = harness();
        for n in 0..describe::ALBUMS_MAX {
            album_named(&h, SUB, &format!("album {n}")).await;
        }
        let (status, code, message) = h.error(create_as(SUB, r#"{"name":"too many"}"#)).await;
        assert_eq!((status, code.as_str()), (409, "too_many_albums"), "{message}");
        assert!(message.contains(&describe::ALBUMS_MAX.to_string()), "{message}");
        // Another user is not affected.
        album_named(&h, OTHER, "theirs").await;
    }
}
