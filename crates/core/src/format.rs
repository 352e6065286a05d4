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
    /// AVIF (AV1 still image, 4:4:4), written when `thumbnails.formats` lists it: the smallest
    /// files, the slowest to encode.
    Avif,
}

impl OutputFormat {
    /// Every output format, in the manifest's order (JPEG first).
    pub const ALL: [Self; 3] = [Self::Jpeg, Self::Webp, Self::Avif];

    /// The format of a config name (`jpeg`, `webp`, `avif`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The manifest name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Webp => "webp",
            Self::Avif => "avif",
        }
    }

    /// The exact `Content-Type` of a stored rendition.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
            Self::Avif => "image/avif",
        }
    }

    /// The extension in `thumbs/` keys.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
            Self::Avif => "avif",
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

    /// The page's `<picture>` (`frontend/lib.js`, `PICTURE_SOURCES`) offers exactly the formats
    /// besides JPEG, best first as `Thumbnails::negotiated_formats` orders them, with their media
    /// types: a format added here and not there, or a stale or reordered one there, fails.
    #[test]
    fn the_page_offers_every_format_but_jpeg_best_first() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../frontend/lib.js");
        let page = std::fs::read_to_string(&path).unwrap();
        let start =
            page.find("export const PICTURE_SOURCES = Object.freeze([").expect("PICTURE_SOURCES in lib.js");
        let body = &page[start..];
        let body = &body[body.find('[').unwrap() + 1..body.find("]);").unwrap()];
        let on_page: Vec<(String, String)> = body
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| {
                let quoted: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
                assert!(line.starts_with("{ format: ") && quoted.len() == 2, "unexpected line {line:?}");
                (quoted[0].to_owned(), quoted[1].to_owned())
            })
            .collect();
        let thumbnails = crate::config::Thumbnails {
            formats: OutputFormat::ALL.to_vec(),
            ..crate::config::Thumbnails::default()
        };
        let defined: Vec<(String, String)> = thumbnails
            .negotiated_formats()
            .into_iter()
            .map(|f| (f.name().to_owned(), f.content_type().to_owned()))
            .collect();
        assert_eq!(on_page, defined, "frontend/lib.js PICTURE_SOURCES against OutputFormat::ALL");
    }

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
