//! Encoders. All three write pixels only: no EXIF, XMP, ICC or comments ever reach an output.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mozjpeg::{ColorSpace, Compress};

use super::Pixels;
use super::jpeg::panic_message;

/// Baseline JPEG, 4:2:0, libjpeg-turbo's fast path with the standard Huffman tables: optimised
/// tables would take a second pass over the coefficients for a few per cent fewer bytes.
pub fn jpeg(pixels: &Pixels, quality: u8) -> Result<Vec<u8>, String> {
    let rgb = super::pixels::flatten(pixels);
    let width = usize::try_from(pixels.width).map_err(|e| e.to_string())?;
    let height = usize::try_from(pixels.height).map_err(|e| e.to_string())?;
    let result = catch_unwind(AssertUnwindSafe(|| -> std::io::Result<Vec<u8>> {
        let mut compress = Compress::new(ColorSpace::JCS_RGB);
        compress.set_fastest_defaults();
        compress.set_size(width, height);
        compress.set_quality(f32::from(quality));
        compress.set_optimize_coding(false);
        let mut started = compress.start_compress(Vec::with_capacity(width * height / 4))?;
        started.write_scanlines(&rgb)?;
        started.finish()
    }));
    match result {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(format!("jpeg encoder: {e}")),
        Err(panic) => Err(format!("jpeg encoder: {}", panic_message(panic.as_ref()))),
    }
}

/// Lossy WebP (alpha kept), single-threaded so the bytes are deterministic.
pub fn webp(pixels: &Pixels, quality: u8, effort: u8) -> Result<Vec<u8>, String> {
    let encoder = if pixels.channels == 4 {
        webp::Encoder::from_rgba(&pixels.data, pixels.width, pixels.height)
    } else {
        webp::Encoder::from_rgb(&pixels.data, pixels.width, pixels.height)
    };
    let mut config = webp::WebPConfig::new().map_err(|()| "webp encoder: bad default config".to_owned())?;
    config.lossless = 0;
    config.quality = f32::from(quality);
    config.method = i32::from(effort.min(6));
    config.thread_level = 0;
    config.alpha_compression = 1;
    let memory = encoder.encode_advanced(&config).map_err(|e| format!("webp encoder: {e:?}"))?;
    Ok(memory.to_vec())
}

/// AVIF through rav1e (`ravif`): 8-bit 4:4:4 YCbCr (BT.601, full range, sRGB primaries and
/// transfer), alpha kept, on the calling thread only (no `threading` feature), so the bytes are
/// deterministic. 8-bit rather than ravif's default 10-bit: about a quarter faster to encode, and
/// these are 8-bit sRGB pixels shown at thumbnail size. `speed` 1–10 and `quality` 1–100 are
/// checked by the config; out of range they are our bug and reported as an encoder error (ravif
/// would panic).
pub fn avif(pixels: &Pixels, quality: u8, speed: u8) -> Result<Vec<u8>, String> {
    if !(1..=100).contains(&quality) || !(1..=10).contains(&speed) {
        return Err(format!("avif encoder: quality {quality} or speed {speed} out of range"));
    }
    let width = usize::try_from(pixels.width).map_err(|e| e.to_string())?;
    let height = usize::try_from(pixels.height).map_err(|e| e.to_string())?;
    let encoder = ravif::Encoder::new()
        .with_quality(f32::from(quality))
        .with_alpha_quality(f32::from(quality))
        .with_speed(speed)
        .with_bit_depth(ravif::BitDepth::Eight)
        .with_num_threads(Some(1));
    let result = catch_unwind(AssertUnwindSafe(|| {
        if pixels.channels == 4 {
            let rgba: Vec<ravif::RGBA8> =
                pixels.data.chunks_exact(4).map(|p| ravif::RGBA8::new(p[0], p[1], p[2], p[3])).collect();
            encoder.encode_rgba(ravif::Img::new(&rgba[..], width, height))
        } else {
            let rgb: Vec<ravif::RGB8> =
                pixels.data.chunks_exact(3).map(|p| ravif::RGB8::new(p[0], p[1], p[2])).collect();
            encoder.encode_rgb(ravif::Img::new(&rgb[..], width, height))
        }
    }));
    match result {
        Ok(Ok(encoded)) => Ok(encoded.avif_file),
        Ok(Err(e)) => Err(format!("avif encoder: {e}")),
        Err(panic) => Err(format!("avif encoder: {}", panic_message(panic.as_ref()))),
    }
}
