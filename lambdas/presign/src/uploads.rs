//! `POST /api/uploads`: checks what the client says it will upload, picks the key, and hands out a
//! pre-signed `PUT` that S3 itself holds the client to.
//!
//! The URL signs the key, the exact `Content-Length` and `Content-Type`, the file name metadata
//! and `If-None-Match: *`, so S3 refuses a bigger or smaller body, another type, another key,
//! a late request and any second write of the key. The client's file name never reaches the key.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde_json::{Map, Value};
use thumbforge_catalog::{Catalog, CatalogError, NewImage, Owner};
use thumbforge_core::config::{Limits, PRESIGN, human_bytes};
use thumbforge_core::{InputFormat, OutputFormat, RuntimeConfig, keys, metrics};
use thumbforge_lambda::emf::{Metrics, Unit};
use uuid::Uuid;

use crate::api::Api;
use crate::http::{ApiError, json_body, rfc3339};
use crate::ports::{Clock, IdGenerator, Presigner, UploadRequest};

/// Longest accepted `filename`, in Unicode scalar values.
pub const MAX_FILENAME_CHARS: usize = 255;
/// The `x-amz-meta-*` name the file name is kept under.
pub const FILENAME_METADATA: &str = "filename";
/// The most bytes of percent-encoded file name kept as metadata. S3 caps all user metadata of an
/// object at 2 KiB; a long non-ASCII name (up to 9 encoded bytes per character) is cut at a
/// character boundary to fit. The name is informational only.
pub const MAX_FILENAME_METADATA_BYTES: usize = 1024;

/// Everything but RFC 3986's unreserved characters is percent-encoded, so the value is plain
/// ASCII (as browsers require of header values) and `decodeURIComponent` restores it.
const FILENAME_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A validated `POST /api/uploads` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadIntent {
    /// The client's file name, as given.
    pub filename: String,
    /// The declared format (an exact, allowed `contentType`).
    pub format: InputFormat,
    /// The exact size in bytes.
    pub size: u64,
}

/// The `201` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadTicket {
    /// The image id (UUIDv7).
    pub id: String,
    /// The object key the upload goes to.
    pub key: String,
    /// How to upload.
    pub upload: UploadInstructions,
    /// When the URL stops working (RFC 3339).
    pub expires_at: String,
    /// Where to poll for the outcome.
    pub status_url: String,
    /// Where the thumbnails will be once ready.
    pub thumbnails: Vec<PlannedThumbnail>,
}

/// The pre-signed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadInstructions {
    /// Always `PUT`.
    pub method: &'static str,
    /// The pre-signed URL.
    pub url: String,
    /// Every header to send, exactly (lower-case names). Browsers set `content-length`
    /// themselves from the body, which must then be exactly `size` bytes.
    pub headers: BTreeMap<String, String>,
}

/// A thumbnail's final URL, known before processing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedThumbnail {
    /// The configured box size (the actual width is known once ready).
    pub width: u32,
    /// The encoding.
    pub format: OutputFormat,
    /// `/thumbs/{id}/{size}.{ext}`.
    pub url: String,
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads and checks the body: 400 for what is not the documented shape, 415 for a type off the
/// allow-list, 413 for an empty or too large file.
pub fn parse_intent(body: &[u8], limits: &Limits) -> Result<UploadIntent, ApiError> {
    const SHAPE: &str = r#"{"filename": string, "contentType": string, "size": integer}"#;
    let value = json_body(body, SHAPE)?;
    let Value::Object(fields) = value else {
        return Err(ApiError::invalid_request(format!(
            "the body must be a JSON object of the form {SHAPE}, not {}",
            kind(&value)
        )));
    };
    let mut problems = Vec::new();
    let filename = string_field(&fields, "filename", &mut problems);
    let content_type = string_field(&fields, "contentType", &mut problems);
    let size = match fields.get("size") {
        None => {
            problems.push("`size` is missing".to_owned());
            None
        }
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(Value::Number(n)) => {
            problems.push(format!("`size` must be a whole, non-negative number of bytes, not {n}"));
            None
        }
        Some(other) => {
            problems.push(format!("`size` must be an integer, not {}", kind(other)));
            None
        }
    };
    if let Some(name) = filename {
        let chars = name.chars().count();
        if chars == 0 {
            problems.push("`filename` must not be empty".to_owned());
        } else if chars > MAX_FILENAME_CHARS {
            problems.push(format!(
                "`filename` is {chars} characters long, at most {MAX_FILENAME_CHARS} are accepted"
            ));
        }
    }
    let (Some(filename), Some(content_type), Some(size)) = (filename, content_type, size) else {
        return Err(ApiError::invalid_request(problems.join("; ")));
    };
    if !problems.is_empty() {
        return Err(ApiError::invalid_request(problems.join("; ")));
    }
    let format = InputFormat::from_content_type(content_type)
        .filter(|f| limits.allowed_types.contains(f))
        .ok_or_else(|| {
            let allowed: Vec<&str> = limits.allowed_types.iter().map(|f| f.content_type()).collect();
            ApiError::new(
                415,
                "unsupported_media_type",
                format!(
                    "`contentType` {content_type:?} is not accepted; use exactly one of {}",
                    allowed.join(", ")
                ),
            )
        })?;
    if size == 0 {
        return Err(ApiError::new(413, "empty_file", "the file is empty (`size` is 0)"));
    }
    if size > limits.max_upload_bytes {
        return Err(ApiError::new(
            413,
            "file_too_large",
            format!(
                "the file is {}, larger than the {} limit",
                human_bytes(size),
                human_bytes(limits.max_upload_bytes)
            ),
        ));
    }
    Ok(UploadIntent { filename: filename.to_owned(), format, size })
}

fn string_field<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
    problems: &mut Vec<String>,
) -> Option<&'a str> {
    match fields.get(name) {
        Some(Value::String(s)) => Some(s),
        None => {
            problems.push(format!("`{name}` is missing"));
            None
        }
        Some(other) => {
            problems.push(format!("`{name}` must be a string, not {}", kind(other)));
            None
        }
    }
}

/// How long after its URL expires a `pending` image that never arrived is kept before the table's
/// TTL removes it: far beyond S3's event delivery and Lambda's retries (6 h at most).
pub const PENDING_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The owner's `sub` as a metadata value: percent-encoded like the file name (Cognito's subs are
/// UUIDs and pass unchanged; other providers' may hold `|` or non-ASCII).
pub fn encode_owner(sub: &str) -> String {
    utf8_percent_encode(sub, FILENAME_ENCODE).to_string()
}

/// `time` in milliseconds since the Unix epoch (0 before it).
pub(crate) fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The file name as a metadata value: percent-encoded UTF-8, cut to
/// [`MAX_FILENAME_METADATA_BYTES`] at a character boundary.
pub fn encode_filename(name: &str) -> String {
    let mut encoded = String::new();
    for (i, c) in name.char_indices() {
        let piece = utf8_percent_encode(&name[i..i + c.len_utf8()], FILENAME_ENCODE).to_string();
        if encoded.len() + piece.len() > MAX_FILENAME_METADATA_BYTES {
            break;
        }
        encoded.push_str(&piece);
    }
    encoded
}

/// The object key of an upload: `raw/{id}.{ext}`, from the id and the validated type only.
pub fn raw_key(id: &Uuid, format: InputFormat) -> String {
    format!("{}{}.{}", keys::RAW_PREFIX, id.hyphenated(), format.extension())
}

/// The status URL of an image.
pub fn status_url(id: &str) -> String {
    format!("/api/images/{id}")
}

/// Every thumbnail the configuration will produce for `id`, largest box first, JPEG before WebP
/// (the order the thumbnail function records them in).
pub fn planned_thumbnails(id: &str, config: &RuntimeConfig) -> Vec<PlannedThumbnail> {
    let formats = config.thumbnails.output_formats();
    config
        .sizes_largest_first()
        .into_iter()
        .flat_map(|size| {
            formats.iter().map(move |&format| PlannedThumbnail {
                width: size,
                format,
                url: format!("/{}", keys::rendition_key(id, size, format)),
            })
        })
        .collect()
}

impl<K: Catalog, P: Presigner, C: Clock, I: IdGenerator> Api<K, P, C, I> {
    /// `POST /api/uploads` by `owner` with the decoded body: signs the upload, then records the
    /// `pending` image in the owner's partition (so a URL is only handed out for a recorded
    /// image), then answers.
    pub(crate) async fn create_upload(&self, owner: &Owner, body: &[u8]) -> Result<UploadTicket, ApiError> {
        let intent = parse_intent(body, &self.config().limits)?;
        let id = self.ids().new_id();
        let key = raw_key(&id, intent.format);
        let now = self.clock().now();
        let expires_in = Duration::from_secs(u64::from(self.config().upload.presign_expiry_seconds));
        let request = UploadRequest {
            key: key.clone(),
            content_type: intent.format.content_type().to_owned(),
            content_length: intent.size,
            metadata: BTreeMap::from([
                (FILENAME_METADATA.to_owned(), encode_filename(&intent.filename)),
                (keys::OWNER_METADATA.to_owned(), encode_owner(owner.as_str())),
            ]),
            if_none_match_any: true,
            start: now,
            expires_in,
        };
        let presigned = self.presigner().presign_put(&request).await.map_err(|e| ApiError::presign(&e))?;
        let created_at_ms = unix_millis(now);
        let image = NewImage {
            id,
            filename: intent.filename.clone(),
            content_type: intent.format.content_type().to_owned(),
            size: intent.size,
            created_at_ms,
            expires_at_s: (created_at_ms / 1000) + expires_in.as_secs() + PENDING_GRACE.as_secs(),
        };
        self.catalog().create_within(owner, &image, &self.config().quotas).await.map_err(|e| match e {
            CatalogError::QuotaExceeded { quota, limit } => {
                let refusal = ApiError::quota(quota, limit, created_at_ms);
                Metrics::new()
                    .dimension(metrics::FUNCTION, PRESIGN)
                    .dimension(metrics::REASON, refusal.code)
                    .value(metrics::QUOTA_REFUSALS, Unit::Count, 1.0)
                    .emit();
                refusal
            }
            e => ApiError::catalog(&e),
        })?;
        let id = id.hyphenated().to_string();
        // With the request line's source IP and request id: who uploaded what.
        tracing::info!(
            %id,
            %key,
            owner = owner.as_str(),
            size = intent.size,
            format = %intent.format,
            "upload URL issued"
        );
        Metrics::new()
            .dimension(metrics::FUNCTION, PRESIGN)
            .value(metrics::UPLOADS_STARTED, Unit::Count, 1.0)
            .value(metrics::BYTES_IN, Unit::Bytes, intent.size as f64)
            .property("imageId", id.as_str())
            .emit();
        Ok(UploadTicket {
            key,
            upload: UploadInstructions { method: "PUT", url: presigned.url, headers: presigned.headers },
            expires_at: rfc3339(presigned.expires_at),
            status_url: status_url(&id),
            thumbnails: planned_thumbnails(&id, self.config()),
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<UploadIntent, ApiError> {
        parse_intent(body.as_bytes(), &Limits::default())
    }

    #[track_caller]
    fn refused(body: &str, status: u16, code: &str, needle: &str) {
        let err = parse(body).expect_err(body);
        assert_eq!((err.status, err.code), (status, code), "{body}: {err}");
        assert!(err.message.contains(needle), "{body}: {:?} lacks {needle:?}", err.message);
    }

    #[test]
    fn a_valid_intent() {
        let intent =
            parse(r#"{"filename":"IMG_2041.JPG","contentType":"image/jpeg","size":352727,"extra":1}"#);
        assert_eq!(
            intent.unwrap(),
            UploadIntent { filename: "IMG_2041.JPG".into(), format: InputFormat::Jpeg, size: 352727 }
        );
        let max = Limits::default().max_upload_bytes;
        let at_limit =
            format!(r#"{{"filename":"{}","contentType":"image/gif","size":{max}}}"#, "é".repeat(255));
        assert_eq!(parse(&at_limit).unwrap().size, max);
    }

    #[test]
    fn shape_errors_are_400() {
        refused("", 400, "invalid_json", "must be JSON");
        refused("{", 400, "invalid_json", "must be JSON");
        refused("filename=a.jpg", 400, "invalid_json", "must be JSON");
        refused("[]", 400, "invalid_request", "not an array");
        refused("null", 400, "invalid_request", "not null");
        refused(
            "{}",
            400,
            "invalid_request",
            "`filename` is missing; `contentType` is missing; `size` is missing",
        );
        refused(
            r#"{"filename":1,"contentType":"image/png","size":1}"#,
            400,
            "invalid_request",
            "not a number",
        );
        refused(
            r#"{"filename":"a","contentType":null,"size":1}"#,
            400,
            "invalid_request",
            "`contentType` must be a string",
        );
        refused(
            r#"{"filename":"a","contentType":"image/png","size":"12"}"#,
            400,
            "invalid_request",
            "not a string",
        );
        refused(
            r#"{"filename":"a","contentType":"image/png","size":1.5}"#,
            400,
            "invalid_request",
            "not 1.5",
        );
        refused(
            r#"{"filename":"a","contentType":"image/png","size":-1}"#,
            400,
            "invalid_request",
            "non-negative",
        );
        refused(r#"{"filename":"a","contentType":"image/png","size":1e400}"#, 400, "invalid_json", "");
        refused(
            r#"{"filename":"a","contentType":"image/png","size":18446744073709551616}"#,
            400,
            "invalid_request",
            "whole",
        );
        refused(r#"{"filename":"","contentType":"image/png","size":1}"#, 400, "invalid_request", "empty");
        let long = format!(r#"{{"filename":"{}","contentType":"image/png","size":1}}"#, "a".repeat(256));
        refused(&long, 400, "invalid_request", "256 characters");
        // A shape error wins over a bad type or size: the client must fix the request first.
        refused(r#"{"filename":7,"contentType":"text/html","size":0}"#, 400, "invalid_request", "`filename`");
    }

    #[test]
    fn types_are_matched_exactly_against_the_allow_list() {
        for ct in
            ["image/jpeg; charset=x", "IMAGE/JPEG", " image/jpeg", "image/jpg", "image/bmp", "text/html", ""]
        {
            let body = format!(r#"{{"filename":"a","contentType":"{ct}","size":10}}"#);
            refused(&body, 415, "unsupported_media_type", "image/jpeg, image/png, image/webp, image/gif");
        }
        let limits = Limits { allowed_types: vec![InputFormat::Png], ..Limits::default() };
        let err =
            parse_intent(br#"{"filename":"a","contentType":"image/jpeg","size":10}"#, &limits).unwrap_err();
        assert_eq!(err.status, 415);
        assert!(err.message.ends_with("use exactly one of image/png"), "{}", err.message);
    }

    #[test]
    fn sizes_out_of_bounds_are_413_with_the_limit() {
        refused(r#"{"filename":"a","contentType":"image/png","size":0}"#, 413, "empty_file", "empty");
        let over = (25 << 20) + 1;
        refused(
            &format!(r#"{{"filename":"a","contentType":"image/png","size":{over}}}"#),
            413,
            "file_too_large",
            "larger than the 25 MiB limit",
        );
        refused(
            r#"{"filename":"a","contentType":"image/png","size":18446744073709551615}"#,
            413,
            "file_too_large",
            "25 MiB",
        );
    }

    #[test]
    fn file_names_become_ascii_metadata() {
        assert_eq!(encode_filename("IMG_2041.JPG"), "IMG_2041.JPG");
        assert_eq!(encode_filename("sun flower +1 (copy).jpg"), "sun%20flower%20%2B1%20%28copy%29.jpg");
        assert_eq!(encode_filename("東京 😀.png"), "%E6%9D%B1%E4%BA%AC%20%F0%9F%98%80.png");
        assert_eq!(encode_filename("../../etc/passwd\r\n"), "..%2F..%2Fetc%2Fpasswd%0D%0A");
        let long = "東".repeat(255);
        let encoded = encode_filename(&long);
        assert_eq!(encoded.len(), 1017, "113 whole characters of 9 bytes");
        assert_eq!(encoded, "%E6%9D%B1".repeat(113));
        assert!(encode_filename(&"a".repeat(255)).len() == 255);
    }

    #[test]
    fn keys_and_planned_thumbnails() {
        let id = Uuid::parse_str("0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e").unwrap();
        assert_eq!(raw_key(&id, InputFormat::Jpeg), "raw/0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e.jpg");
        assert_eq!(raw_key(&id, InputFormat::Webp), "raw/0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e.webp");
        let mut config = RuntimeConfig::default();
        let urls: Vec<_> =
            planned_thumbnails("x", &config).into_iter().map(|t| (t.width, t.format, t.url)).collect();
        assert_eq!(
            urls,
            [
                (1024, OutputFormat::Jpeg, "/thumbs/x/1024.jpg".to_owned()),
                (1024, OutputFormat::Webp, "/thumbs/x/1024.webp".to_owned()),
                (256, OutputFormat::Jpeg, "/thumbs/x/256.jpg".to_owned()),
                (256, OutputFormat::Webp, "/thumbs/x/256.webp".to_owned()),
            ]
        );
        config.thumbnails.formats = vec![OutputFormat::Jpeg];
        config.thumbnails.sizes = thumbforge_core::config::Sizes::from([("small", 128)]);
        let planned = planned_thumbnails("x", &config);
        assert_eq!(
            planned,
            [PlannedThumbnail { width: 128, format: OutputFormat::Jpeg, url: "/thumbs/x/128.jpg".into() }]
        );
    }
}
