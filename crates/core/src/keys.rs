//! The object key layout of the media bucket.
//!
//! Uploads land at `raw/{id}.{ext}`; the thumbnail function writes `thumbs/{id}/{size}.{ext}`
//! (what happened to an image is recorded in the metadata table, not in the bucket). Keys are
//! opaque S3 strings: they are never normalised as paths.

use crate::format::OutputFormat;

/// Where uploads land; the only prefix that triggers the thumbnail function.
pub const RAW_PREFIX: &str = "raw/";
/// Where thumbnails are written.
pub const THUMBS_PREFIX: &str = "thumbs/";
/// The watermark PNG (`[watermark]`): uploaded by Terraform, seeded by the local stack, read by
/// the thumbnail function at cold start. Neither under `raw/` nor `thumbs/`: nothing triggers on
/// it and CloudFront never serves it.
pub const WATERMARK: &str = "settings/watermark.png";
/// The user metadata (`x-amz-meta-owner`) naming the upload's owner (the verified `sub`,
/// percent-encoded): signed into the upload URL, read by the thumbnail function to find the
/// image's item in the metadata table.
pub const OWNER_METADATA: &str = "owner";
/// S3's limit on a key's length in bytes.
pub const S3_MAX_KEY_BYTES: usize = 1024;
/// Longest id accepted, so that every derived key stays well under S3's limit.
pub const MAX_ID_BYTES: usize = 512;

/// Why a `raw/` key cannot be turned into an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key is not under `raw/` (including look-alikes such as `rawfoo/`).
    #[error("key is not under `raw/`")]
    NotRaw,
    /// The key is `raw/` itself, or its name is only an extension.
    #[error("key has an empty name")]
    Empty,
    /// The key's name holds a `/`, so it is not a direct child of `raw/`.
    #[error("key is nested below `raw/`")]
    Nested,
    /// The name is `.` or `..`, which proxies and browsers may normalise away.
    #[error("key name is a dot segment")]
    DotSegment,
    /// The name holds control characters.
    #[error("key name holds control characters")]
    ControlCharacter,
    /// The id is too long for the derived keys.
    #[error("key name is longer than {MAX_ID_BYTES} bytes")]
    TooLong,
}

/// Extracts the image id from an upload key: `raw/{id}.{ext}` → `{id}` (the last extension is
/// dropped; a name without one is its own id).
pub fn id_from_raw_key(key: &str) -> Result<&str, KeyError> {
    let name = key.strip_prefix(RAW_PREFIX).ok_or(KeyError::NotRaw)?;
    if name.contains('/') {
        return Err(KeyError::Nested);
    }
    let id = match name.rfind('.') {
        Some(dot) if dot > 0 => &name[..dot],
        _ => name,
    };
    if id.is_empty() {
        return Err(KeyError::Empty);
    }
    if id == "." || id == ".." {
        return Err(KeyError::DotSegment);
    }
    if id.chars().any(char::is_control) {
        return Err(KeyError::ControlCharacter);
    }
    if id.len() > MAX_ID_BYTES {
        return Err(KeyError::TooLong);
    }
    Ok(id)
}

/// The key of one rendition: `thumbs/{id}/{size}.{ext}`, named by the configured box size so that
/// the URL is known before the image is processed.
pub fn rendition_key(id: &str, size: u32, format: OutputFormat) -> String {
    format!("{THUMBS_PREFIX}{id}/{size}.{}", format.extension())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_direct_children_of_raw() {
        assert_eq!(
            id_from_raw_key("raw/0192f0c4-7d1e-7c3a-9b1e-6f4d2c1a0b9e.jpg"),
            Ok("0192f0c4-7d1e-7c3a-9b1e-6f4d2c1a0b9e")
        );
        assert_eq!(id_from_raw_key("raw/sun flower +1.jpg"), Ok("sun flower +1"));
        assert_eq!(id_from_raw_key("raw/東京 😀.tar.png"), Ok("東京 😀.tar"));
        assert_eq!(id_from_raw_key("raw/noext"), Ok("noext"));
        assert_eq!(id_from_raw_key("raw/.hidden"), Ok(".hidden"));
    }

    #[test]
    fn everything_else_is_refused() {
        assert_eq!(id_from_raw_key("rawfoo/a.jpg"), Err(KeyError::NotRaw));
        assert_eq!(id_from_raw_key("RAW/a.jpg"), Err(KeyError::NotRaw));
        assert_eq!(id_from_raw_key("raw"), Err(KeyError::NotRaw));
        assert_eq!(id_from_raw_key("thumbs/a/256.jpg"), Err(KeyError::NotRaw));
        assert_eq!(id_from_raw_key("raw/"), Err(KeyError::Empty));
        assert_eq!(id_from_raw_key("raw/../x.jpg"), Err(KeyError::Nested));
        assert_eq!(id_from_raw_key("raw/a/b.jpg"), Err(KeyError::Nested));
        assert_eq!(id_from_raw_key("raw/...jpg"), Err(KeyError::DotSegment));
        assert_eq!(id_from_raw_key("raw/a\nb.jpg"), Err(KeyError::ControlCharacter));
        assert_eq!(id_from_raw_key(&format!("raw/{}.jpg", "a".repeat(600))), Err(KeyError::TooLong));
    }

    #[test]
    fn derived_keys() {
        assert_eq!(rendition_key("abc", 256, OutputFormat::Jpeg), "thumbs/abc/256.jpg");
        assert_eq!(rendition_key("abc", 1024, OutputFormat::Webp), "thumbs/abc/1024.webp");
        let longest = "x".repeat(MAX_ID_BYTES);
        assert!(rendition_key(&longest, 4096, OutputFormat::Webp).len() < S3_MAX_KEY_BYTES);
    }
}
