//! What happened to an upload: [`Outcome`] (ready with its [`Source`] and [`Rendition`]s,
//! rejected with a [`RejectReason`] — the file's fault — or failed with a [`FailReason`] — ours).
//!
//! The thumbnail function decides it and records it on the image's item in the metadata table
//! (`thumbforge-catalog`); the API reads it from there. Its JSON form (a `status` tag, the other
//! fields flat beside it) is the one both the table and the API's answers use.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::format::{InputFormat, OutputFormat};

/// What happened to the upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Every rendition was written.
    Ready {
        /// The decoded source.
        source: Source,
        /// Every rendition, largest box first, JPEG before WebP.
        renditions: Vec<Rendition>,
        /// What a page shows while a thumbnail loads (absent on images processed before it
        /// existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        placeholder: Option<Placeholder>,
    },
    /// The upload is not an acceptable image; no rendition was written.
    Rejected {
        /// Stable machine-readable reason.
        reason: RejectReason,
        /// Human-readable explanation.
        message: String,
    },
    /// Our code could not process the upload (a panic, an encoder error, an impossible state):
    /// not the file's fault. The upload is kept, the invocation fails so the dead-letter queue
    /// keeps the event, and a later delivery (a retry, or a replay after a fix) may still finish
    /// the image as ready or rejected.
    Failed {
        /// Stable machine-readable reason.
        reason: FailReason,
        /// Human-readable explanation (says nothing of our internals; the logs have those).
        message: String,
    },
}

impl Outcome {
    /// Whether a later delivery of the same upload must leave the outcome as it is (ready and
    /// rejected are final; failed is not: a retry or a replay after a fix may succeed).
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Failed { .. })
    }
}

/// Why our side could not process an upload. The snake_case names are a stable API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// A decoder or encoder panic, an encoder error or an impossible state: a bug of ours.
    InternalError,
}

impl FailReason {
    /// Every reason, for documentation and exhaustive tests.
    pub const ALL: [Self; 1] = [Self::InternalError];

    /// The stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Self::InternalError => "internal_error",
        }
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The uploaded image as detected from its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Detected format.
    pub format: InputFormat,
    /// Width after EXIF orientation.
    pub width: u32,
    /// Height after EXIF orientation.
    pub height: u32,
    /// Size of the upload in bytes.
    pub bytes: u64,
}

/// A stand-in for the photo while its thumbnail loads: its colour and a blurred sketch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placeholder {
    /// The photo's dominant colour as `#rrggbb`: the mean of its smallest rendition (alpha
    /// composited onto white, as in its JPEG).
    pub color: String,
    /// A [BlurHash](https://blurha.sh) of the upright photo (up to 4 × 4 components, more
    /// along the longer side), about 30 characters, that a page decodes into a blurred image.
    pub blurhash: String,
}

/// One written thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendition {
    /// Its key under `thumbs/`.
    pub key: String,
    /// The configured box it fits in.
    pub size: u32,
    /// Actual width.
    pub width: u32,
    /// Actual height.
    pub height: u32,
    /// Encoding.
    pub format: OutputFormat,
    /// Size in bytes.
    pub bytes: u64,
}

/// Why an upload was rejected. The snake_case names are a stable API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The upload is empty.
    Empty,
    /// The upload is larger than `limits.max_upload_bytes`.
    FileTooLarge,
    /// The bytes are not an image at all.
    NotAnImage,
    /// An image format that is not on the allow-list.
    UnsupportedFormat,
    /// A width or height of zero.
    InvalidDimensions,
    /// A side longer than `limits.max_side`.
    DimensionsTooLarge,
    /// More pixels than `limits.max_pixels`.
    TooManyPixels,
    /// So long and thin that a thumbnail side would be 0 px.
    ExtremeAspectRatio,
    /// Decoding would need more memory than `limits.max_decode_bytes`.
    DecodeLimitExceeded,
    /// Truncated or corrupt data.
    Corrupt,
    /// Processing would not finish before the function's deadline (a file made to be slow):
    /// rejected in that invocation instead of timing out on every retry.
    TooSlow,
}

impl RejectReason {
    /// Every reason, for documentation and exhaustive tests.
    pub const ALL: [Self; 11] = [
        Self::Empty,
        Self::FileTooLarge,
        Self::NotAnImage,
        Self::UnsupportedFormat,
        Self::InvalidDimensions,
        Self::DimensionsTooLarge,
        Self::TooManyPixels,
        Self::ExtremeAspectRatio,
        Self::DecodeLimitExceeded,
        Self::Corrupt,
        Self::TooSlow,
    ];

    /// The stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::FileTooLarge => "file_too_large",
            Self::NotAnImage => "not_an_image",
            Self::UnsupportedFormat => "unsupported_format",
            Self::InvalidDimensions => "invalid_dimensions",
            Self::DimensionsTooLarge => "dimensions_too_large",
            Self::TooManyPixels => "too_many_pixels",
            Self::ExtremeAspectRatio => "extreme_aspect_ratio",
            Self::DecodeLimitExceeded => "decode_limit_exceeded",
            Self::Corrupt => "corrupt",
            Self::TooSlow => "too_slow",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page (`frontend/lib.js`, `REASONS`) has words for exactly the reasons these enums
    /// define: a reason added here without words there, or a stale one there, fails.
    #[test]
    fn the_page_explains_every_reason_and_no_other() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../frontend/lib.js");
        let page = std::fs::read_to_string(&path).unwrap();
        let start = page.find("export const REASONS = Object.freeze({").expect("REASONS in lib.js");
        let body = &page[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find("});").unwrap()];
        let mut on_page: Vec<&str> = body
            .lines()
            .filter_map(|line| line.trim().split_once(':').map(|(key, _)| key.trim()))
            .filter(|key| !key.is_empty())
            .collect();
        on_page.sort_unstable();
        let mut defined: Vec<&str> = RejectReason::ALL.iter().map(|r| r.code()).collect();
        defined.extend(FailReason::ALL.iter().map(|r| r.code()));
        defined.sort_unstable();
        assert_eq!(on_page, defined, "frontend/lib.js REASONS against RejectReason::ALL and FailReason::ALL");
    }

    #[test]
    fn reason_codes_match_serde_names() {
        for reason in RejectReason::ALL {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.code());
        }
        for reason in FailReason::ALL {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.code());
        }
        let rejects: Vec<&str> = RejectReason::ALL.iter().map(|r| r.code()).collect();
        assert!(FailReason::ALL.iter().all(|r| !rejects.contains(&r.code())), "one code, one meaning");
    }

    #[test]
    fn outcomes_serialise_flat_with_a_status_tag() {
        let ready = Outcome::Ready {
            placeholder: Some(Placeholder {
                color: "#336699".into(),
                blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj".into(),
            }),
            source: Source { format: InputFormat::Jpeg, width: 4000, height: 3000, bytes: 123 },
            renditions: vec![Rendition {
                key: "thumbs/abc/256.jpg".into(),
                size: 256,
                width: 256,
                height: 192,
                format: OutputFormat::Jpeg,
                bytes: 9000,
            }],
        };
        let value = serde_json::to_value(&ready).unwrap();
        assert_eq!(value["status"], "ready");
        assert_eq!(value["source"]["format"], "jpeg");
        assert_eq!(value["renditions"][0]["height"], 192);
        assert_eq!(value["placeholder"]["color"], "#336699");
        // An image recorded before placeholders existed still reads.
        let mut old = value.clone();
        old.as_object_mut().unwrap().remove("placeholder");
        let Outcome::Ready { placeholder, .. } = serde_json::from_value::<Outcome>(old).unwrap() else {
            panic!()
        };
        assert_eq!(placeholder, None);
        assert_eq!(serde_json::from_value::<Outcome>(value).unwrap(), ready);

        let rejected = Outcome::Rejected { reason: RejectReason::Corrupt, message: "truncated".into() };
        let value = serde_json::to_value(&rejected).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"status": "rejected", "reason": "corrupt", "message": "truncated"})
        );
        assert_eq!(serde_json::from_value::<Outcome>(value).unwrap(), rejected);
        assert!(ready.is_final() && rejected.is_final());

        let failed = Outcome::Failed { reason: FailReason::InternalError, message: "ours".into() };
        let value = serde_json::to_value(&failed).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"status": "failed", "reason": "internal_error", "message": "ours"})
        );
        assert_eq!(serde_json::from_value::<Outcome>(value).unwrap(), failed);
        assert!(!failed.is_final());
    }
}
