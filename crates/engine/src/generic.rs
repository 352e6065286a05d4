//! PNG, GIF and WebP through the `image` crate, with `image::Limits` on every reader.
//!
//! The header is read by a reader whose allocation budget is small, so metadata bombs (a
//! compressed ICC profile or text chunk that inflates to gigabytes) cannot cost more than that
//! budget before the dimensions are known and checked. Only then is a second reader given the
//! budget the pixels need, capped by `limits.max_decode_bytes`.
//!
//! A GIF's unknown extension blocks are dropped before decoding ([`skip_unknown_gif_extensions`]),
//! as browsers skip them; the `gif` crate would refuse the whole file.

use std::borrow::Cow;
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

/// The GIF extension labels the decoder knows: plain text, graphic control, comment, application.
const GIF_KNOWN_EXTENSIONS: [u8; 4] = [0x01, 0xF9, 0xFE, 0xFF];

/// A GIF without its unknown extension blocks (an extension introducer `0x21` whose label the
/// decoder does not know, with its sub-blocks), which browsers skip and the `gif` crate refuses.
/// Borrowed unchanged when there is none, or when the structure ends or breaks before the
/// trailer (the decoder then reports the damage itself).
pub fn skip_unknown_gif_extensions(data: &[u8]) -> Cow<'_, [u8]> {
    /// The end of the sub-blocks starting at `pos` (just past their zero terminator).
    fn sub_blocks_end(data: &[u8], mut pos: usize) -> Option<usize> {
        loop {
            let len = usize::from(*data.get(pos)?);
            pos += 1 + len;
            if len == 0 {
                return (pos <= data.len()).then_some(pos);
            }
        }
    }
    let table = |flags: u8| if flags & 0x80 != 0 { 3 << ((flags & 0x07) + 1) } else { 0 };
    let Some(&screen_flags) = data.get(10) else { return Cow::Borrowed(data) };
    let mut pos = 13 + table(screen_flags);
    let mut unknown: Vec<(usize, usize)> = Vec::new();
    loop {
        match data.get(pos) {
            Some(0x21) => {
                let Some(&label) = data.get(pos + 1) else { break };
                let Some(end) = sub_blocks_end(data, pos + 2) else { break };
                if !GIF_KNOWN_EXTENSIONS.contains(&label) {
                    unknown.push((pos, end));
                }
                pos = end;
            }
            Some(0x2C) => {
                let Some(&flags) = data.get(pos + 9) else { break };
                // Descriptor, local colour table, LZW minimum code size, then the data.
                let Some(end) = sub_blocks_end(data, pos + 10 + table(flags) + 1) else { break };
                pos = end;
            }
            _ => break,
        }
    }
    if unknown.is_empty() {
        return Cow::Borrowed(data);
    }
    let mut kept = Vec::with_capacity(data.len());
    let mut from = 0;
    for (start, end) in unknown {
        kept.extend_from_slice(&data[from..start]);
        from = end;
    }
    kept.extend_from_slice(&data[from..]);
    Cow::Owned(kept)
}

/// The bytes the decoder reads: a GIF without its unknown extension blocks, anything else as is.
fn lenient(data: &[u8], format: InputFormat) -> Cow<'_, [u8]> {
    if format == InputFormat::Gif { skip_unknown_gif_extensions(data) } else { Cow::Borrowed(data) }
}

/// Reads only the header, under a small allocation budget.
pub fn header(data: &[u8], format: InputFormat, limits: &ConfigLimits) -> Result<Header, Failure> {
    let data = lenient(data, format);
    // `max_side` is checked by the caller with a precise message; here it only bounds the reader.
    let decoder =
        reader(&data, format, u32::MAX, HEADER_BUDGET.min(limits.max_decode_bytes)).into_decoder()?;
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
    let data = lenient(data, format);
    let budget = header.total_bytes.saturating_add(DECODER_SLACK).min(limits.max_decode_bytes);
    let mut decoder = reader(&data, format, limits.max_side, budget).into_decoder()?;
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
