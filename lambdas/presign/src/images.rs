//! `GET /api/images/{id}` and `GET /api/images`: an image's status from its `raw/` object and its
//! manifest, and the newest images first.
//!
//! # The listing cursor
//!
//! Ids are UUIDv7: their first 48 bits are the creation time in milliseconds, and their canonical
//! text sorts like their bytes, so `raw/{id}.{ext}` keys sort by creation time. S3 lists keys in
//! ascending order only, so a page of the `limit` newest ids below a bound is found by listing
//! *time windows* backwards from the bound: first the keys after `raw/{time − 1 h}` (as a key
//! prefix, `raw/0195896b-6a13` is smaller than every key of that millisecond), then the 4× longer
//! window before it, and so on until `limit + 1` uploads are found or the window reaches the
//! start of `raw/`. Each window is listed once, ascending, keeping only its last
//! `limit + 1 − found` valid keys in a ring buffer, so memory is O(limit) whatever the bucket
//! holds; keys that are not `raw/{uuidv7}.{known ext}` are skipped.
//!
//! The cursor is opaque to clients; it is the last id returned, and the next page is the newest
//! ids strictly older than it. Paging is therefore stable: no duplicates and no gaps for the
//! images that existed when the first page was read, whatever is uploaded or deleted meanwhile
//! (a new upload appears on a new first page; an upload whose URL was signed before the cursor
//! but completed after the reader passed it is not shown to that reader).
//!
//! Trade-off: a page costs one `ListObjectsV2` call per 1000 keys in the window that completes it
//! plus one call per empty or sparse window before it (at most about 12 for 100 years of
//! history). Very dense buckets (tens of thousands of uploads per hour) would want a smaller
//! first window or an index; this bucket's traffic is far from that.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use thumbforge_core::manifest::Source;
use thumbforge_core::{InputFormat, Manifest, Outcome, OutputFormat, RejectReason, keys};
use uuid::Uuid;

use crate::api::Api;
use crate::http::{ApiError, rfc3339};
use crate::ports::{Bucket, Clock, IdGenerator, Presigner, StoreError};

/// `limit` when none is given.
pub const DEFAULT_LIMIT: usize = 24;
/// Largest `limit`.
pub const MAX_LIMIT: usize = 100;
/// A manifest larger than this is not one of ours.
pub const MAX_MANIFEST_BYTES: u64 = 256 * 1024;
/// Keys per `ListObjectsV2` call (S3's maximum).
const LIST_PAGE_KEYS: u16 = 1000;
/// The first time window listed back from the bound.
const FIRST_WINDOW: Duration = Duration::from_secs(3600);
/// How much longer each next window is.
const WINDOW_GROWTH: u64 = 4;
/// Manifests read at once for a listing.
const MANIFEST_READS_IN_FLIGHT: usize = 8;

/// An image as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// The id.
    pub id: String,
    /// `pending`, `ready` or `rejected`.
    pub status: Status,
    /// Why it was rejected (`rejected` only).
    pub reason: Option<RejectReason>,
    /// The rejection's explanation (`rejected` only).
    pub message: Option<String>,
    /// The decoded source (`ready` only).
    pub source: Option<Source>,
    /// The thumbnails (`ready` only; empty otherwise).
    pub thumbnails: Vec<Thumbnail>,
    /// When the upload landed (the `raw/` object's `LastModified`, RFC 3339).
    pub created_at: String,
}

/// Where an image is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Uploaded; no manifest yet.
    Pending,
    /// Thumbnails written.
    Ready,
    /// Not an acceptable image.
    Rejected,
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

/// An upload found under `raw/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawUpload {
    /// Its id.
    pub id: Uuid,
    /// Its `LastModified`.
    pub created: SystemTime,
}

/// Parses an image id as this API issues them: a canonical (lower-case, hyphenated) UUIDv7.
pub fn parse_id(text: &str) -> Option<Uuid> {
    let id = Uuid::try_parse(text).ok()?;
    (id.get_version_num() == 7 && id.hyphenated().to_string() == text).then_some(id)
}

/// The id of a `raw/{uuidv7}.{ext}` key whose extension is one this service writes.
pub fn upload_id(key: &str) -> Option<Uuid> {
    let id = keys::id_from_raw_key(key).ok()?;
    let ext = key.get(keys::RAW_PREFIX.len() + id.len() + 1..)?;
    if !InputFormat::ALL.iter().any(|f| f.extension() == ext) {
        return None;
    }
    parse_id(id)
}

/// The creation time in Unix milliseconds of a UUIDv7.
fn id_millis(id: &Uuid) -> u64 {
    id.as_bytes()[..6].iter().fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// The greatest string below every `raw/` key of an id created at or after `millis`.
fn time_floor_key(millis: u64) -> String {
    format!("{}{:08x}-{:04x}", keys::RAW_PREFIX, millis >> 16, millis & 0xffff)
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn describe(id: &Uuid, created: SystemTime, manifest: Option<Manifest>) -> Image {
    let id = id.hyphenated().to_string();
    let mut image = Image {
        status: Status::Pending,
        reason: None,
        message: None,
        source: None,
        thumbnails: Vec::new(),
        created_at: rfc3339(created),
        id,
    };
    match manifest.map(|m| m.outcome) {
        None => {}
        Some(Outcome::Ready { source, renditions }) => {
            image.status = Status::Ready;
            image.source = Some(source);
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
        Some(Outcome::Rejected { reason, message }) => {
            image.status = Status::Rejected;
            image.reason = Some(reason);
            image.message = Some(message);
        }
    }
    image
}

impl<B: Bucket, P: Presigner, C: Clock, I: IdGenerator> Api<B, P, C, I> {
    /// `GET /api/images/{id}`: 404 for a malformed or unknown id.
    pub(crate) async fn image(&self, text: &str) -> Result<Image, ApiError> {
        let not_found = || ApiError::new(404, "image_not_found", format!("no image has the id {text:?}"));
        let id = parse_id(text).ok_or_else(not_found)?;
        let prefix = format!("{}{}.", keys::RAW_PREFIX, id.hyphenated());
        let listed = self.bucket().list(&prefix, None, 10).await.map_err(|e| ApiError::store(&e))?;
        let raw = listed.objects.into_iter().find(|o| upload_id(&o.key) == Some(id)).ok_or_else(not_found)?;
        self.with_manifest(RawUpload { id, created: raw.last_modified }).await
    }

    /// `GET /api/images`: `limit` newest images strictly older than `before`.
    pub(crate) async fn images(&self, limit: usize, before: Option<Uuid>) -> Result<ImagePage, ApiError> {
        let (uploads, more) = self.newest(limit, before).await.map_err(|e| ApiError::store(&e))?;
        let next = more.then(|| uploads.last().map(|u| u.id.hyphenated().to_string())).flatten();
        let items = stream::iter(uploads)
            .map(|upload| self.with_manifest(upload))
            .buffered(MANIFEST_READS_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(ImagePage { items, next })
    }

    async fn with_manifest(&self, upload: RawUpload) -> Result<Image, ApiError> {
        let id = upload.id.hyphenated().to_string();
        let key = keys::manifest_key(&id);
        let manifest =
            match self.bucket().get(&key, MAX_MANIFEST_BYTES).await.map_err(|e| ApiError::store(&e))? {
                None => None,
                Some(bytes) => Some(serde_json::from_slice::<Manifest>(&bytes).map_err(|e| {
                    ApiError::store(&StoreError {
                        operation: "GetObject",
                        key: key.clone(),
                        message: format!("not a manifest: {e}"),
                        transient: false,
                    })
                })?),
            };
        Ok(describe(&upload.id, upload.created, manifest))
    }

    /// The `limit` newest uploads older than `before` (all when `None`), newest first, and
    /// whether older ones exist. See the module documentation.
    async fn newest(&self, limit: usize, before: Option<Uuid>) -> Result<(Vec<RawUpload>, bool), StoreError> {
        let wanted = limit + 1;
        let top = before.map_or_else(|| millis(self.clock().now()), |id| id_millis(&id));
        // Ascending; everything in it is newer than anything still unlisted.
        let mut found: VecDeque<RawUpload> = VecDeque::with_capacity(wanted);
        let mut below = before.map(|id| format!("{}{}", keys::RAW_PREFIX, id.hyphenated()));
        let mut window = u64::try_from(FIRST_WINDOW.as_millis()).unwrap_or(u64::MAX);
        loop {
            let floor = match top.checked_sub(window) {
                Some(floor) if floor > 0 => time_floor_key(floor),
                _ => keys::RAW_PREFIX.to_owned(),
            };
            let older = self.scan(&floor, below.as_deref(), wanted - found.len()).await?;
            for upload in older.into_iter().rev() {
                found.push_front(upload);
            }
            if found.len() >= wanted || floor == keys::RAW_PREFIX {
                break;
            }
            below = Some(floor);
            window = window.saturating_mul(WINDOW_GROWTH);
        }
        let more = found.len() > limit;
        Ok((found.into_iter().rev().take(limit).collect(), more))
    }

    /// The last `keep` valid uploads with keys after `after` and below `below`, ascending.
    async fn scan(
        &self,
        after: &str,
        below: Option<&str>,
        keep: usize,
    ) -> Result<VecDeque<RawUpload>, StoreError> {
        let mut kept: VecDeque<RawUpload> = VecDeque::with_capacity(keep + 1);
        let mut cursor = after.to_owned();
        loop {
            let page = self.bucket().list(keys::RAW_PREFIX, Some(&cursor), LIST_PAGE_KEYS).await?;
            for object in &page.objects {
                if below.is_some_and(|below| object.key.as_str() >= below) {
                    return Ok(kept);
                }
                let Some(id) = upload_id(&object.key) else { continue };
                // One id with two extensions (never issued, but possible): list it once.
                if kept.back().is_some_and(|last| last.id == id) {
                    continue;
                }
                kept.push_back(RawUpload { id, created: object.last_modified });
                if kept.len() > keep {
                    kept.pop_front();
                }
            }
            match page.objects.last() {
                Some(last) if page.truncated && last.key > cursor => cursor = last.key.clone(),
                _ => return Ok(kept),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn upload_keys() {
        let id = "0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e";
        for ext in ["jpg", "png", "webp", "gif"] {
            assert!(upload_id(&format!("raw/{id}.{ext}")).is_some(), "{ext}");
        }
        for key in [
            format!("raw/{id}"),
            format!("raw/{id}.jpeg"),
            format!("raw/{id}.jpg.png"),
            format!("raw/x/{id}.jpg"),
            format!("thumbs/{id}/256.jpg"),
            format!("raw/{}.jpg", id.to_uppercase()),
            "raw/0195896b-6a13-4c3a-9b1e-6f4d2c1a0b9e.jpg".to_owned(),
            "raw/photo.jpg".to_owned(),
        ] {
            assert_eq!(upload_id(&key), None, "{key}");
        }
    }

    #[test]
    fn time_floor_keys_sort_just_below_their_millisecond() {
        let id = Uuid::parse_str("0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e").unwrap();
        let ms = id_millis(&id);
        assert_eq!(ms, 0x0195_896b_6a13);
        let key = format!("raw/{id}.jpg");
        assert_eq!(time_floor_key(ms), "raw/0195896b-6a13");
        assert!(time_floor_key(ms) < key);
        assert!(time_floor_key(ms + 1) > key);
        assert!(time_floor_key(ms - 1) < time_floor_key(ms));
    }
}
