//! PNG, GIF and WebP through the `image` crate, with `image::Limits` on every reader.
//!
//! The header is read by a reader whose allocation budget is small, so metadata bombs (a
//! compressed ICC profile or text chunk that inflates to gigabytes) cannot cost more than that
//! budget before the dimensions are known and checked. Only then is a second reader given the
//! budget the pixels need, capped by `limits.max_decode_bytes`.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};
use thumbforge_core::InputFormat;
use thumbforge_core::config::Limits as ConfigLimits;

use super::Pixels;

/// Allocation budget of the reader that only reads the header.
const HEADER_BUDGET: u64 = 16 << 20;
/// Slack allowed on top of the pixel buffer for the decoder's own state.
const DECODER_SLACK: u64 = 16 << 20;

/// What the header said.
#[derive(Debug)]
pub struct Header {
    /// Width of the (first) image.
    pub width: u32,
    /// Height of the (first) image.
    pub height: u32,
    /// Bytes of the decoded buffer.
    pub total_bytes: u64,
}

/// A decoder failure, classified.
#[derive(Debug)]
pub enum Failure {
    /// Over a configured limit.
    Limit(String),
    /// Corrupt or truncated data.
    Corrupt(String),
    /// A feature of the format the decoder does not support.
    Unsupported(String),
}

impl From<ImageError> for Failure {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::Limits(e) => Self::Limit(e.to_string()),
            ImageError::Unsupported(e) => Self::Unsupported(e.to_string()),
            other => Self::Corrupt(other.to_string()),
        }
    }
}

fn image_format(format: InputFormat) -> ImageFormat {
    match format {
        InputFormat::Jpeg => ImageFormat::Jpeg,
        InputFormat::Png => ImageFormat::Png,
        InputFormat::Webp => ImageFormat::WebP,
        InputFormat::Gif => ImageFormat::Gif,
    }
}

fn reader(data: &[u8], format: InputFormat, max_side: u32, budget: u64) -> ImageReader<Cursor<&[u8]>> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(max_side);
    limits.max_image_height = Some(max_side);
    limits.max_alloc = Some(budget);
    let mut reader = ImageReader::with_format(Cursor::new(data), image_format(format));
    reader.limits(limits);
    reader
}

/// The declared size from the fixed-position header fields of PNG (IHDR) and GIF (logical
/// screen), read without any decoder so that absurd sizes are refused even when the rest of
/// the file is missing.
pub fn peek_dimensions(data: &[u8], format: InputFormat) -> Option<(u32, u32)> {
    match format {
        InputFormat::Png if data.get(12..16) == Some(b"IHDR") => {
            let be = |at: usize| data.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            Some((be(16)?, be(20)?))
        }
        InputFormat::Gif => {
            let le = |at: usize| data.get(at..at + 2).map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])));
            Some((le(6)?, le(8)?))
        }
        _ => None,
    }
}

/// Reads only the header, under a small allocation budget.
pub fn header(data: &[u8], format: InputFormat, limits: &ConfigLimits) -> Result<Header, Failure> {
    // `max_side` is checked by the caller with a precise message; here it only bounds the reader.
    let decoder =
        reader(data, format, u32::MAX, HEADER_BUDGET.min(limits.max_decode_bytes)).into_decoder()?;
    let (width, height) = decoder.dimensions();
    Ok(Header { width, height, total_bytes: decoder.total_bytes() })
}

/// The decoded first image with its orientation and ICC profile.
#[derive(Debug)]
pub struct Decoded {
    /// 8-bit RGB or RGBA pixels.
    pub pixels: Pixels,
    /// EXIF orientation (PNG `eXIf`, WebP `EXIF`), identity when absent or invalid.
    pub orientation: Orientation,
    /// Embedded ICC profile.
    pub icc: Option<Vec<u8>>,
}

/// Decodes the first image. The caller has checked the header against the limits.
pub fn decode(
    data: &[u8],
    format: InputFormat,
    header: &Header,
    limits: &ConfigLimits,
) -> Result<Decoded, Failure> {
    let budget = header.total_bytes.saturating_add(DECODER_SLACK).min(limits.max_decode_bytes);
    let mut decoder = reader(data, format, limits.max_side, budget).into_decoder()?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let image = DynamicImage::from_decoder(decoder)?;
    Ok(Decoded { pixels: to_pixels(image), orientation, icc })
}

/// Converts to 8-bit RGB, or RGBA when some pixel is not fully opaque.
fn to_pixels(image: DynamicImage) -> Pixels {
    let (width, height) = (image.width(), image.height());
    if image.color().has_alpha() {
        let rgba = image.into_rgba8();
        if rgba.pixels().any(|p| p.0[3] != u8::MAX) {
            return Pixels { width, height, channels: 4, data: rgba.into_raw() };
        }
        let data = rgba.into_raw().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        return Pixels { width, height, channels: 3, data };
    }
    Pixels { width, height, channels: 3, data: image.into_rgb8().into_raw() }
}
