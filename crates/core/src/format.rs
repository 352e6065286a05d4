//! Image formats: what may come in and what goes out.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A format thumbforge accepts, always detected from the bytes (never from a name or a header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// JPEG (baseline or progressive).
    Jpeg,
    /// PNG (first image; APNG animation is ignored).
    Png,
    /// WebP (lossy or lossless; first frame).
    Webp,
    /// GIF (first frame).
    Gif,
}

impl InputFormat {
    /// Every supported input format.
    pub const ALL: [Self; 4] = [Self::Jpeg, Self::Png, Self::Webp, Self::Gif];

    /// The config and manifest name (`jpeg`, `png`, `webp`, `gif`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Gif => "gif",
        }
    }

    /// Parses a config name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The media type an upload of this format declares.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
        }
    }

    /// Parses a declared media type (exactly, as S3 signs it).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.content_type() == content_type)
    }

    /// The file extension used in `raw/` keys.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Gif => "gif",
        }
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format thumbforge writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Baseline JPEG, always written: every browser decodes it.
    Jpeg,
    /// Lossy WebP, written when `thumbnails.formats` lists it.
    Webp,
}

impl OutputFormat {
    /// Every output format, in the manifest's order (JPEG first).
    pub const ALL: [Self; 2] = [Self::Jpeg, Self::Webp];

    /// The format of a config name (`jpeg`, `webp`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The manifest name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Webp => "webp",
        }
    }

    /// The exact `Content-Type` of a stored rendition.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
        }
    }

    /// The extension in `thumbs/` keys.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_types_round_trip() {
        for format in InputFormat::ALL {
            assert_eq!(InputFormat::from_name(format.name()), Some(format));
            assert_eq!(InputFormat::from_content_type(format.content_type()), Some(format));
            let json = serde_json::to_string(&format).unwrap();
            assert_eq!(json, format!("\"{}\"", format.name()));
        }
        assert_eq!(InputFormat::from_content_type("image/jpeg; charset=utf-8"), None);
        assert_eq!(InputFormat::from_name("svg"), None);
        for format in OutputFormat::ALL {
            assert_eq!(OutputFormat::from_name(format.name()), Some(format));
            let json = serde_json::to_string(&format).unwrap();
            assert_eq!(json, format!("\"{}\"", format.name()));
        }
        assert_eq!(OutputFormat::from_name("jpg"), None);
    }
}
