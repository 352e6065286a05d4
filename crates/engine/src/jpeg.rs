//! JPEG: a structural scan that proves the file is complete, then a reduced-scale decode.
//!
//! The scan walks every marker segment and the entropy-coded data up to the first end-of-image
//! marker, without decoding anything. It yields the frame header (size, components, sampling,
//! process), the EXIF and ICC payloads, and it rejects files that end early: libjpeg-family
//! decoders would otherwise fill the missing part with grey and call it a picture.
//!
//! Decoding uses libjpeg-turbo (through `mozjpeg`) with DCT scaling, so a 48 MP photo bound for a
//! 1024 px thumbnail is decoded at 1/4 or 1/8 of its size and never exists at full resolution.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mozjpeg::{ColorSpace, Decompress};

use super::Pixels;
use crate::pixels::ToSrgb;

/// What the structural scan learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegInfo<'a> {
    /// Width from the frame header.
    pub width: u32,
    /// Height from the frame header.
    pub height: u32,
    /// Number of colour components (1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK).
    pub components: u8,
    /// Progressive (SOF2) rather than sequential.
    pub progressive: bool,
    /// Bytes the decoder must hold beyond its output: the whole coefficient buffer for progressive
    /// files, a few rows of blocks for sequential ones.
    pub working_bytes: u64,
    /// The TIFF payload of the first `Exif` APP1 segment.
    pub exif: Option<&'a [u8]>,
    /// The ICC profile, reassembled from its APP2 chunks.
    pub icc: Option<Vec<u8>>,
    /// The transform flag of an Adobe APP14 segment, if present.
    pub adobe_transform: Option<u8>,
}

/// Why the scan refused the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// The signature is there but no frame header follows.
    NoFrame,
    /// The data stops before the end-of-image marker.
    Truncated(&'static str),
    /// The structure is broken.
    Malformed(String),
    /// A JPEG process this build does not decode (lossless, arithmetic, hierarchical, 12-bit).
    Unsupported(String),
}

#[derive(Debug, Default)]
struct Frame {
    width: u32,
    height: u32,
    precision: u8,
    /// (horizontal, vertical) sampling factor per component.
    sampling: Vec<(u8, u8)>,
    progressive: bool,
}

/// Walks the file from SOI to the first EOI.
pub fn scan(data: &[u8]) -> Result<JpegInfo<'_>, ScanError> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err(ScanError::Malformed("missing start-of-image marker".into()));
    }
    let mut pos = 2;
    let mut frame: Option<Frame> = None;
    let mut exif = None;
    let mut icc_chunks: Vec<(u8, &[u8])> = Vec::new();
    let mut adobe_transform = None;
    loop {
        // Find the next marker, tolerating stray bytes (libjpeg warns and carries on; real
        // cameras write them) and fill bytes.
        let Some(ff) = memchr::memchr(0xFF, &data[pos.min(data.len())..]) else {
            return Err(truncated_or_no_frame(&frame, "the file ends before its end-of-image marker"));
        };
        pos += ff;
        while pos < data.len() && data[pos] == 0xFF {
            pos += 1;
        }
        let Some(&marker) = data.get(pos) else {
            return Err(truncated_or_no_frame(&frame, "the file ends inside a marker"));
        };
        pos += 1;
        match marker {
            0xD9 => break,
            0xD8 => return Err(ScanError::Malformed("second start-of-image marker".into())),
            0x00 | 0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(len_bytes) = data.get(pos..pos + 2) else {
            return Err(truncated_or_no_frame(&frame, "the file ends inside a segment header"));
        };
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        if len < 2 {
            return Err(ScanError::Malformed(format!("segment 0x{marker:02X} has length {len}")));
        }
        let Some(body) = data.get(pos + 2..pos + len) else {
            return Err(truncated_or_no_frame(&frame, "the file ends inside a segment"));
        };
        pos += len;
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if frame.is_some() {
                    return Err(ScanError::Unsupported("more than one frame (hierarchical JPEG)".into()));
                }
                frame = Some(parse_frame(marker, body)?);
            }
            0xE1 if exif.is_none() && body.starts_with(b"Exif\0\0") => exif = Some(&body[6..]),
            0xE2 if body.starts_with(b"ICC_PROFILE\0") && body.len() > 14 => {
                icc_chunks.push((body[12], &body[14..]));
            }
            0xEE if body.starts_with(b"Adobe") && body.len() >= 12 => adobe_transform = Some(body[11]),
            0xDA => {
                if frame.is_none() {
                    return Err(ScanError::Malformed("scan before the frame header".into()));
                }
                pos = skip_entropy_coded_data(data, pos)
                    .ok_or(ScanError::Truncated("the image data stops before the end of the picture"))?;
            }
            _ => {}
        }
    }
    let frame = frame.ok_or(ScanError::NoFrame)?;
    icc_chunks.sort_by_key(|&(seq, _)| seq);
    let icc = (!icc_chunks.is_empty()).then(|| icc_chunks.iter().flat_map(|c| c.1.iter().copied()).collect());
    Ok(JpegInfo {
        width: frame.width,
        height: frame.height,
        components: u8::try_from(frame.sampling.len()).unwrap_or(u8::MAX),
        progressive: frame.progressive,
        working_bytes: working_bytes(&frame),
        exif,
        icc,
        adobe_transform,
    })
}

fn truncated_or_no_frame(frame: &Option<Frame>, why: &'static str) -> ScanError {
    if frame.is_some() { ScanError::Truncated(why) } else { ScanError::NoFrame }
}

fn parse_frame(marker: u8, body: &[u8]) -> Result<Frame, ScanError> {
    let process = match marker {
        0xC0 | 0xC1 => None,
        0xC2 => None,
        0xC3 => Some("lossless"),
        0xC5..=0xC7 | 0xCD..=0xCF => Some("hierarchical"),
        _ => Some("arithmetic-coded"),
    };
    if let Some(process) = process {
        return Err(ScanError::Unsupported(format!("{process} JPEG is not supported")));
    }
    if body.len() < 6 {
        return Err(ScanError::Malformed("frame header too short".into()));
    }
    let precision = body[0];
    let height = u32::from(u16::from_be_bytes([body[1], body[2]]));
    let width = u32::from(u16::from_be_bytes([body[3], body[4]]));
    let count = usize::from(body[5]);
    if precision != 8 {
        return Err(ScanError::Unsupported(format!("{precision}-bit JPEG is not supported")));
    }
    if !matches!(count, 1 | 3 | 4) || body.len() < 6 + 3 * count {
        return Err(ScanError::Malformed(format!("frame header declares {count} components")));
    }
    let sampling =
        body[6..6 + 3 * count].chunks_exact(3).map(|c| (c[1] >> 4, c[1] & 0x0F)).collect::<Vec<_>>();
    if sampling.iter().any(|&(h, v)| !(1..=4).contains(&h) || !(1..=4).contains(&v)) {
        return Err(ScanError::Malformed("invalid sampling factors".into()));
    }
    Ok(Frame { width, height, precision, sampling, progressive: marker == 0xC2 })
}

/// Returns the position of the marker that ends the entropy-coded segment starting at `pos`.
fn skip_entropy_coded_data(data: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        pos += memchr::memchr(0xFF, data.get(pos..)?)?;
        match *data.get(pos + 1)? {
            0x00 | 0xD0..=0xD7 => pos += 2,
            0xFF => pos += 1,
            _ => return Some(pos),
        }
    }
}

/// An upper bound of what libjpeg allocates besides the output rows.
fn working_bytes(frame: &Frame) -> u64 {
    debug_assert_eq!(frame.precision, 8);
    let h_max = u64::from(frame.sampling.iter().map(|s| s.0).max().unwrap_or(1));
    let v_max = u64::from(frame.sampling.iter().map(|s| s.1).max().unwrap_or(1));
    let mcu_w = 8 * h_max;
    let mcu_h = 8 * v_max;
    let mcus_x = u64::from(frame.width).div_ceil(mcu_w);
    let mcus_y = u64::from(frame.height).div_ceil(mcu_h);
    let blocks_per_mcu: u64 = frame.sampling.iter().map(|&(h, v)| u64::from(h) * u64::from(v)).sum();
    // 64 coefficients of 2 bytes per block.
    let row_of_mcus = mcus_x * blocks_per_mcu * 128;
    if frame.progressive {
        mcus_x * mcus_y * blocks_per_mcu * 128
    } else {
        // A couple of MCU rows of coefficients plus upsampling context rows.
        4 * row_of_mcus + u64::from(frame.width) * mcu_h * 3 * 2
    }
}

/// Why a JPEG that passed the structural scan did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// libjpeg refused the data (a corrupt entropy-coded segment, a bad table…): the file's fault.
    Corrupt(String),
    /// libjpeg was misused or ran out of memory, or something else panicked: ours.
    Internal(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Corrupt(why) | Self::Internal(why) => f.write_str(why),
        }
    }
}

/// The prefix `mozjpeg` gives libjpeg's fatal errors when it unwinds with them.
const LIBJPEG_FATAL: &str = "libjpeg fatal error: ";

/// libjpeg's messages for errors of the caller or the machine, not of the data (`jerror.h`:
/// `JERR_BAD_STATE`, `JERR_BAD_VIRTUAL_ACCESS`, `JERR_OUT_OF_MEMORY`, `JERR_NOT_COMPILED`,
/// `JERR_BAD_BUFFER_MODE`, `JERR_BUFFER_SIZE`, `JERR_BAD_LIB_VERSION`, `JERR_BAD_STRUCT_SIZE`).
const LIBJPEG_OURS: [&str; 8] = [
    "Improper call to JPEG library",
    "Bogus virtual array access",
    "Insufficient memory",
    "omitted at compile time",
    "Bogus buffer control mode",
    "Buffer passed to JPEG library is too small",
    "Wrong JPEG library version",
    "JPEG parameter struct mismatch",
];

/// Sorts a caught panic of the decoder: libjpeg's own fatal errors about the data are the
/// file's fault; its misuse and any other panic are ours.
pub(crate) fn classify_decoder_panic(message: String) -> DecodeError {
    match message.strip_prefix(LIBJPEG_FATAL) {
        Some(text) if !LIBJPEG_OURS.iter().any(|ours| text.contains(ours)) => DecodeError::Corrupt(message),
        _ => DecodeError::Internal(message),
    }
}

/// Decodes at `numerator / 8` of the full size into 8-bit RGB.
///
/// At 1/8 the block averages are all a thumbnail needs: the `jpeg_dc` module computes them from
/// the DC coefficients alone (and skips the AC scans of progressive files); a file it declines
/// goes to libjpeg like every other scale (logged at debug level, with why).
pub fn decode(data: &[u8], info: &JpegInfo<'_>, numerator: u8) -> Result<Pixels, DecodeError> {
    if numerator == 1 {
        match super::jpeg_dc::decode(data) {
            Ok(pixels) => return Ok(pixels),
            Err(why) => {
                tracing::debug!(why = why.0, "the DC-only decoder declined the file; libjpeg decodes it")
            }
        }
    }
    decode_libjpeg(data, info, numerator)
}

/// Decodes at `numerator / 8` of the full size into 8-bit RGB with libjpeg-turbo.
///
/// libjpeg reports fatal errors by unwinding; they come back as `Err` with its message.
pub fn decode_libjpeg(data: &[u8], info: &JpegInfo<'_>, numerator: u8) -> Result<Pixels, DecodeError> {
    let result = catch_unwind(AssertUnwindSafe(|| -> std::io::Result<Pixels> {
        let mut decompress = Decompress::new_mem(data)?;
        decompress.scale(numerator);
        let cmyk = info.components == 4;
        let mut started =
            if cmyk { decompress.to_colorspace(ColorSpace::JCS_CMYK)? } else { decompress.rgb()? };
        let width = u32::try_from(started.width()).map_err(std::io::Error::other)?;
        let height = u32::try_from(started.height()).map_err(std::io::Error::other)?;
        let raw: Vec<u8> = started.read_scanlines()?;
        started.finish()?;
        let data = if cmyk {
            let icc = info.icc.as_deref().filter(|icc| icc.len() <= crate::ICC_MAX_BYTES);
            cmyk_to_srgb(raw, info.adobe_transform.is_some(), icc)
        } else {
            raw
        };
        Ok(Pixels { width, height, channels: 3, data })
    }));
    match result {
        Ok(Ok(pixels)) => Ok(pixels),
        // mozjpeg's own checks of what libjpeg read (a short read, a size that does not fit).
        Ok(Err(e)) => Err(DecodeError::Corrupt(e.to_string())),
        Err(panic) => Err(classify_decoder_panic(panic_message(panic.as_ref()))),
    }
}

/// CMYK (libjpeg turns YCCK into CMYK) → sRGB. `stored` is as the file holds it: Adobe files
/// (with an APP14 segment, as Photoshop writes them) store it inverted (255 is no ink), others
/// as ink amounts. Through the embedded CMYK profile when there is a usable one
/// ([`ToSrgb::from_cmyk`]); otherwise with the naive formula browsers use for an untagged CMYK
/// JPEG (each channel `(255 - ink) × (255 - black) / 255`).
fn cmyk_to_srgb(mut stored: Vec<u8>, adobe_inverted: bool, icc: Option<&[u8]>) -> Vec<u8> {
    if adobe_inverted {
        for v in &mut stored {
            *v = 255 - *v;
        }
    }
    let inks = stored;
    if let Some(rgb) = icc.and_then(ToSrgb::from_cmyk).and_then(|t| t.cmyk_to_rgb(&inks)) {
        return rgb;
    }
    let mut rgb = Vec::with_capacity(inks.len() / 4 * 3);
    for px in inks.chunks_exact(4) {
        let white = 255 - u16::from(px[3]);
        for &ink in &px[..3] {
            rgb.push(u8::try_from(((255 - u16::from(ink)) * white + 127) / 255).unwrap_or(u8::MAX));
        }
    }
    rgb
}

/// The text of a caught panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        "the decoder failed".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal structurally valid baseline JPEG header: SOI, SOF0 (w×h, 3 components 4:2:0),
    /// SOS, some entropy bytes, EOI.
    fn skeleton(width: u16, height: u16, progressive: bool) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        v.extend_from_slice(&[0xFF, 0xE1, 0x00, 0x0A]);
        v.extend_from_slice(b"Exif\0\0MM");
        v.extend_from_slice(&[0xFF, if progressive { 0xC2 } else { 0xC0 }, 0x00, 0x11, 0x08]);
        v.extend_from_slice(&height.to_be_bytes());
        v.extend_from_slice(&width.to_be_bytes());
        v.extend_from_slice(&[0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
        v.extend_from_slice(&[
            0xFF, 0xDA, 0x00, 0x0C, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3F, 0x00,
        ]);
        v.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56]);
        v.extend_from_slice(&[0xFF, 0xD9]);
        v
    }

    #[test]
    fn scan_reads_the_frame_and_exif() {
        let data = skeleton(640, 480, false);
        let info = scan(&data).unwrap();
        assert_eq!((info.width, info.height, info.components), (640, 480, 3));
        assert!(!info.progressive);
        assert_eq!(info.exif, Some(&b"MM"[..]));
        assert!(scan(&skeleton(640, 480, true)).unwrap().progressive);
    }

    #[test]
    fn every_truncation_is_caught() {
        let data = skeleton(640, 480, false);
        for cut in 2..data.len() {
            let err = scan(&data[..cut]).unwrap_err();
            assert!(matches!(err, ScanError::Truncated(_) | ScanError::NoFrame), "cut at {cut}: {err:?}");
        }
    }

    #[test]
    fn trailing_data_after_eoi_is_fine() {
        let mut data = skeleton(64, 48, false);
        data.extend_from_slice(b"\xFF\xD8 a second picture, as in Ultra HDR gain maps");
        assert!(scan(&data).is_ok());
    }

    #[test]
    fn unsupported_processes_are_named() {
        let mut data = skeleton(64, 48, false);
        let sof = data.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        data[sof + 1] = 0xC3;
        assert!(matches!(scan(&data), Err(ScanError::Unsupported(m)) if m.contains("lossless")));
        data[sof + 1] = 0xC9;
        assert!(matches!(scan(&data), Err(ScanError::Unsupported(m)) if m.contains("arithmetic")));
    }

    #[test]
    fn progressive_files_need_their_whole_coefficient_buffer() {
        let sequential = scan(&skeleton(6000, 4000, false)).unwrap().working_bytes;
        let progressive = scan(&skeleton(6000, 4000, true)).unwrap().working_bytes;
        // 4:2:0 → 1.5 blocks of 128 bytes per 64 pixels = 3 bytes per pixel.
        assert_eq!(progressive, 6000 * 4000 * 3);
        assert!(sequential < 2 << 20, "{sequential}");
    }
}
