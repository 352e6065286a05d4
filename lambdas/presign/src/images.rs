//! `GET /api/images/{id}`, `GET /api/images[?tag]`, `PATCH /api/images/{id}` and
//! `DELETE /api/images/{id}`: the caller's images in the metadata table.
//!
//! Every read stays inside the caller's partition (`USER#<sub>`, the `sub` of the verified token):
//! another user's id is simply not there (`404`, never `403`), and the listing cursor is only an
//! image id, turned into the sort key inside the caller's partition, so an edited cursor reaches
//! nothing of anyone else's. A page is one `Query`, newest first (ids are UUIDv7, their text sorts
//! by creation time). `?tag=` lists only the images carrying the tag (normalised as edits
//! normalise tags, so `?tag=Sea` finds `sea`), paged the same way.
//!
//! An edit (`PATCH`, a JSON object with any of `title`, `description`, `tags`) is checked by
//! [`thumbforge_core::describe::parse_edit`], every problem reported at once (`400
//! invalid_request`), then applied in one transaction with the tag index; the answer is the image
//! as `GET` then shows it.
//!
//! A delete removes the item (and its share of the profile's counts) in one transaction and
//! answers `204`; the table's stream then hands the removed item to the thumbnail function, which
//! deletes every version of the upload and every rendition, retrying until it has (see the
//! README's "Deleting a photo"). Deleting an id that is not the caller's, or no longer exists, is
//! `404`, as reading it is.

use serde::Serialize;
use thumbforge_catalog::{Catalog, ImageRecord, ImageState, Owner};
use thumbforge_core::describe::{self, normalize_tag};
use thumbforge_core::manifest::{Placeholder, Source};
use thumbforge_core::{Outcome, OutputFormat, keys};
use uuid::Uuid;

use crate::api::{Api, Listing};
use crate::http::{ApiError, json_body, rfc3339_millis};
use crate::ports::{Clock, IdGenerator, Presigner};

/// `limit` when none is given.
pub const DEFAULT_LIMIT: usize = 24;
/// Largest `limit`.
pub const MAX_LIMIT: usize = 100;

/// An image as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// The id.
    pub id: String,
    /// The file name the user gave when uploading.
    pub filename: String,
    /// The title the user gave it, if any.
    pub title: Option<String>,
    /// The description the user gave it, if any.
    pub description: Option<String>,
    /// Its tags: normalised, sorted, unique (empty when it has none).
    pub tags: Vec<String>,
    /// The ids of the albums it is in (empty when none).
    pub albums: Vec<String>,
    /// `pending`, `ready`, `rejected` or `failed`.
    pub status: Status,
    /// Why it was rejected or failed (a `RejectReason` or `FailReason` code; those two only).
    pub reason: Option<&'static str>,
    /// The explanation (`rejected` and `failed` only).
    pub message: Option<String>,
    /// The decoded source (`ready` only).
    pub source: Option<Source>,
    /// The thumbnails (`ready` only; empty otherwise).
    pub thumbnails: Vec<Thumbnail>,
    /// The colour and BlurHash to show while a thumbnail loads (`ready` only, when recorded).
    pub placeholder: Option<Placeholder>,
    /// When the upload was asked for (RFC 3339, UTC).
    pub created_at: String,
}

/// Where an image is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Asked for; not processed yet (or not uploaded yet).
    Pending,
    /// Thumbnails written.
    Ready,
    /// Not an acceptable image.
    Rejected,
    /// Our code could not process it (not the file's fault); a later delivery may still
    /// finish it.
    Failed,
}

/// A written thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Thumbnail {
    /// `/thumbs/{id}/{size}.{ext}`.
    pub url: String,
    /// Actual width.
    pub width: u32,
    /// Actual height.
    pub height: u32,
    /// Encoding.
    pub format: OutputFormat,
}

/// One page of `GET /api/images`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImagePage {
    /// Newest first.
    pub items: Vec<Image>,
    /// The cursor of the next page, `None` after the last.
    pub next: Option<String>,
}

/// Parses an image id as this API issues them: a canonical (lower-case, hyphenated) UUIDv7.
pub fn parse_id(text: &str) -> Option<Uuid> {
    let id = Uuid::try_parse(text).ok()?;
    (id.get_version_num() == 7 && id.hyphenated().to_string() == text).then_some(id)
}

/// The shape of a `PATCH /api/images/{id}` body, for error messages.
pub const EDIT_SHAPE: &str = r#"{"title"?: string | null, "description"?: string | null, "tags"?: [string]}"#;

/// The `tag` query parameter, normalised as stored tags are; `400 invalid_tag` naming the
/// problem otherwise.
pub fn parse_tag(text: Option<&str>) -> Result<Option<String>, ApiError> {
    text.map(|text| {
        normalize_tag(text).map_err(|problem| ApiError::new(400, "invalid_tag", format!("`tag`: {problem}")))
    })
    .transpose()
}

/// `404 image_not_found`: no such id in the caller's partition (another user's id included).
pub(crate) fn not_found(text: &str) -> ApiError {
    ApiError::new(404, "image_not_found", format!("no image has the id {text:?}"))
}

/// What the API shows of a record.
pub fn describe(record: &ImageRecord) -> Image {
    let id = record.id.hyphenated().to_string();
    let mut image = Image {
        status: Status::Pending,
        reason: None,
        message: None,
        source: None,
        thumbnails: Vec::new(),
        placeholder: None,
        created_at: rfc3339_millis(record.created_at_ms),
        filename: record.filename.clone(),
        title: record.details.title.clone(),
        description: record.details.description.clone(),
        tags: record.details.tags.clone(),
        albums: record.albums.iter().map(|album| album.hyphenated().to_string()).collect(),
        id,
    };
    match &record.state {
        ImageState::Pending => {}
        ImageState::Finished(Outcome::Ready { source, renditions, placeholder }) => {
            image.status = Status::Ready;
            image.source = Some(source.clone());
            image.placeholder.clone_from(placeholder);
            image.thumbnails = renditions
                .iter()
                .map(|r| Thumbnail {
                    url: format!("/{}", keys::rendition_key(&image.id, r.size, r.format)),
                    width: r.width,
                    height: r.height,
                    format: r.format,
                })
                .collect();
        }
        ImageState::Finished(Outcome::Rejected { reason, message }) => {
            image.status = Status::Rejected;
            image.reason = Some(reason.code());
            image.message = Some(message.clone());
        }
        ImageState::Finished(Outcome::Failed { reason, message }) => {
            image.status = Status::Failed;
            image.reason = Some(reason.code());
            image.message = Some(message.clone());
        }
    }
    image
}

impl<K: Catalog, P: Presigner, C: Clock, I: IdGenerator> Api<K, P, C, I> {
    pub(crate) async fn image(&self, owner: &Owner, text: &str) -> Result<Image, ApiError> {
        let id = parse_id(text).ok_or_else(|| not_found(text))?;
        let record = self.catalog().get(owner, id).await.map_err(|e| ApiError::catalog(&e))?;
        record.as_ref().map(describe).ok_or_else(|| not_found(text))
    }

    /// Deletes one of the caller's images; the record as it was when deleted.
    pub(crate) async fn delete_image(&self, owner: &Owner, text: &str) -> Result<ImageRecord, ApiError> {
        let id = parse_id(text).ok_or_else(|| not_found(text))?;
        let deleted = self.catalog().delete(owner, id).await.map_err(|e| ApiError::catalog(&e))?;
        let record = deleted.ok_or_else(|| not_found(text))?;
        tracing::info!(id = text, status = record.state.status(), "image deleted");
        Ok(record)
    }

    /// Edits one of the caller's images with the decoded `PATCH` body; the image as it now is.
    pub(crate) async fn edit_image(&self, owner: &Owner, text: &str, body: &[u8]) -> Result<Image, ApiError> {
        let id = parse_id(text).ok_or_else(|| not_found(text))?;
        let edit = describe::parse_edit(&json_body(body, EDIT_SHAPE)?)
            .map_err(|problems| ApiError::invalid_request(problems.join("; ")))?;
        let edited = self.catalog().edit(owner, id, &edit).await.map_err(|e| ApiError::catalog(&e))?;
        let record = edited.ok_or_else(|| not_found(text))?;
        tracing::info!(
            id = text,
            revision = record.revision,
            tags = record.details.tags.len(),
            "image edited"
        );
        Ok(describe(&record))
    }

    /// One page of the caller's images: of one album's when `album` is given, of those tagged
    /// `tag` (normalised) when that is given.
    pub(crate) async fn images(&self, owner: &Owner, listing: &Listing) -> Result<ImagePage, ApiError> {
        let Listing { tag, album, limit, after } = listing;
        let limit = u16::try_from(*limit).unwrap_or(u16::MAX);
        let catalog = self.catalog();
        let page = match (album, tag.as_deref()) {
            (Some(album), tag) => catalog
                .list_album(owner, *album, tag, limit, *after)
                .await
                .map_err(|e| ApiError::catalog(&e))?
                .ok_or_else(|| crate::albums::album_not_found(&album.hyphenated().to_string()))?,
            (None, Some(tag)) => {
                catalog.list_tagged(owner, tag, limit, *after).await.map_err(|e| ApiError::catalog(&e))?
            }
            (None, None) => catalog.list(owner, limit, *after).await.map_err(|e| ApiError::catalog(&e))?,
        };
        Ok(ImagePage {
            items: page.items.iter().map(describe).collect(),
            next: page.next.map(|id| id.hyphenated().to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_in_queries_are_normalised() {
        assert_eq!(parse_tag(None).unwrap(), None);
        assert_eq!(parse_tag(Some(" Sea ")).unwrap().as_deref(), Some("sea"));
        assert_eq!(parse_tag(Some("New York")).unwrap().as_deref(), Some("new-york"));
        for (bad, needle) in [("", "empty"), ("a#b", "holds '#'"), (&"a".repeat(33), "longer than 32")] {
            let err = parse_tag(Some(bad)).unwrap_err();
            assert_eq!((err.status, err.code), (400, "invalid_tag"), "{bad}");
            assert!(err.message.starts_with("`tag`: ") && err.message.contains(needle), "{}", err.message);
        }
    }

    #[test]
    fn ids_are_canonical_uuidv7() {
        let id = "0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e";
        assert_eq!(parse_id(id).map(|u| u.to_string()).as_deref(), Some(id));
        for bad in [
            "0195896B-6A13-7C3A-9B1E-6F4D2C1A0B9E",
            "0195896b6a137c3a9b1e6f4d2c1a0b9e",
            "{0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e}",
            "urn:uuid:0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e",
            "0195896b-6a13-4c3a-9b1e-6f4d2c1a0b9e",
            "0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9",
            "0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e ",
            "",
            "..",
        ] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
    }
}
