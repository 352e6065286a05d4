//! Operations on decoded 8-bit pixels: resize, orient, convert to sRGB, flatten alpha.

use std::borrow::Cow;

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, RgbImage, RgbaImage};
use moxcms::{ColorProfile, Layout, TransformOptions};
use thumbforge_core::manifest::Placeholder;

use super::Pixels;

/// Lanczos3: the sharpest of the common downscaling filters without visible ringing at
/// thumbnail sizes (libvips' default too).
const FILTER: FilterType = FilterType::Lanczos3;

fn pixel_type(channels: u8) -> PixelType {
    if channels == 4 { PixelType::U8x4 } else { PixelType::U8x3 }
}

/// Resizes to exactly `width × height` (alpha is premultiplied while filtering).
pub fn resize(src: &Pixels, width: u32, height: u32) -> Result<Pixels, String> {
    if (src.width, src.height) == (width, height) {
        return Ok(src.clone());
    }
    let kind = pixel_type(src.channels);
    let source = fast_image_resize::images::ImageRef::new(src.width, src.height, &src.data, kind)
        .map_err(|e| format!("resize source: {e}"))?;
    let mut target = Image::new(width, height, kind);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FILTER));
    Resizer::new().resize(&source, &mut target, &options).map_err(|e| format!("resize: {e}"))?;
    Ok(Pixels { width, height, channels: src.channels, data: target.into_vec() })
}

/// [`resize`], taking the source: returned as it is when it already has the size, dropped
/// after resizing otherwise.
pub fn resize_owned(src: Pixels, width: u32, height: u32) -> Result<Pixels, String> {
    if (src.width, src.height) == (width, height) {
        return Ok(src);
    }
    resize(&src, width, height)
}

/// Applies an EXIF orientation (all eight cases).
pub fn orient(pixels: Pixels, orientation: Orientation) -> Pixels {
    if orientation == Orientation::NoTransforms {
        return pixels;
    }
    let Pixels { width, height, channels, data } = pixels;
    let mut image = if channels == 4 {
        RgbaImage::from_raw(width, height, data).map(DynamicImage::ImageRgba8)
    } else {
        RgbImage::from_raw(width, height, data).map(DynamicImage::ImageRgb8)
    }
    .unwrap_or_default();
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());
    let data = if channels == 4 { image.into_rgba8().into_raw() } else { image.into_rgb8().into_raw() };
    Pixels { width, height, channels, data }
}

/// A prepared conversion from an embedded ICC profile to sRGB, built once per image: of RGB(A)
/// pixels through an RGB profile ([`ToSrgb::new`]), or of a CMYK JPEG's inks through its CMYK
/// profile's `A2B` table ([`ToSrgb::from_cmyk`]).
#[derive(Clone)]
pub struct ToSrgb {
    transform: std::sync::Arc<moxcms::Transform8BitExecutor>,
}

impl std::fmt::Debug for ToSrgb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ToSrgb")
    }
}

impl ToSrgb {
    /// Parses an ICC profile and prepares its transform for pixels of `channels` (3 or 4);
    /// `None` when it is unusable or not an RGB profile (the pixels are then taken as sRGB,
    /// which is what browsers do with an untagged image).
    pub fn new(icc: &[u8], channels: u8) -> Option<Self> {
        let layout = if channels == 4 { Layout::Rgba } else { Layout::Rgb };
        Self::prepare(icc, moxcms::DataColorSpace::Rgb, layout, layout)
    }

    /// Parses an ICC profile and prepares its transform from CMYK inks (4 bytes a pixel, 0 no
    /// ink) to RGB; `None` when it is unusable or not a CMYK profile (the caller then uses the
    /// naive formula, as browsers do for an untagged CMYK JPEG).
    pub fn from_cmyk(icc: &[u8]) -> Option<Self> {
        // CMYK samples are laid out as RGBA (moxcms's convention for 4 channels).
        Self::prepare(icc, moxcms::DataColorSpace::Cmyk, Layout::Rgba, Layout::Rgb)
    }

    fn prepare(icc: &[u8], space: moxcms::DataColorSpace, from: Layout, to: Layout) -> Option<Self> {
        let profile = ColorProfile::new_from_slice(icc)
            .inspect_err(|e| tracing::debug!(error = %e, "the ICC profile does not parse; taken as sRGB"))
            .ok()?;
        if profile.color_space != space {
            tracing::debug!(found = ?profile.color_space, expected = ?space, "an ICC profile of another colour space");
            return None;
        }
        let transform = profile
            .create_transform_8bit(from, &ColorProfile::new_srgb(), to, TransformOptions::default())
            .inspect_err(|e| tracing::debug!(error = %e, "no transform from the ICC profile"))
            .ok()?;
        Some(Self { transform })
    }

    /// Converts RGB(A) pixels in place; leaves them untouched if the transform fails.
    pub fn apply(&self, pixels: &mut Pixels) {
        let mut out = vec![0; pixels.data.len()];
        if self.transform.transform(&pixels.data, &mut out).is_ok() {
            pixels.data = out;
        }
    }

    /// CMYK `inks` as RGB (of a [`ToSrgb::from_cmyk`]); `None` if the transform fails.
    pub fn cmyk_to_rgb(&self, inks: &[u8]) -> Option<Vec<u8>> {
        let mut rgb = vec![0; inks.len() / 4 * 3];
        self.transform.transform(inks, &mut rgb).ok()?;
        Some(rgb)
    }
}

/// The longest side of the image a placeholder is computed from.
const PLACEHOLDER_SIDE: u32 = 32;

/// The colour and BlurHash of `pixels` (upright, sRGB): computed on a copy at most
/// `PLACEHOLDER_SIDE` (32) pixels long, alpha composited onto white (as in the JPEG renditions).
pub fn placeholder(pixels: &Pixels) -> Result<Placeholder, String> {
    let (width, height) = crate::geometry::fit(pixels.width, pixels.height, PLACEHOLDER_SIDE)
        .ok_or_else(|| format!("no placeholder size for {}×{}", pixels.width, pixels.height))?;
    let small = resize(pixels, width, height)?;
    let rgb = flatten(&small);
    let count = u64::from(width) * u64::from(height);
    let mut sums = [0u64; 3];
    let mut rgba = Vec::with_capacity(rgb.len() / 3 * 4);
    for px in rgb.chunks_exact(3) {
        for (sum, &value) in sums.iter_mut().zip(px) {
            *sum += u64::from(value);
        }
        rgba.extend_from_slice(&[px[0], px[1], px[2], u8::MAX]);
    }
    let [r, g, b] = sums.map(|sum| (sum + count / 2) / count.max(1));
    // Up to four components along the longer side, fewer along the shorter (at least three).
    let (x, y) = if width >= height { (4, 3) } else { (3, 4) };
    let blurhash = blurhash::encode(x, y, width, height, &rgba).map_err(|e| format!("blurhash: {e:?}"))?;
    Ok(Placeholder { color: format!("#{r:02x}{g:02x}{b:02x}"), blurhash })
}

/// Composites RGBA onto white and drops alpha (for JPEG, which has none); RGB is borrowed.
pub fn flatten(pixels: &Pixels) -> Cow<'_, [u8]> {
    if pixels.channels == 3 {
        return Cow::Borrowed(&pixels.data);
    }
    Cow::Owned(flatten_rgba(pixels))
}

fn flatten_rgba(pixels: &Pixels) -> Vec<u8> {
    pixels
        .data
        .chunks_exact(4)
        .flat_map(|p| {
            let a = u16::from(p[3]);
            let blend = move |c: u8| {
                u8::try_from((u16::from(c) * a + 255 * (255 - a) + 127) / 255).unwrap_or(u8::MAX)
            };
            [blend(p[0]), blend(p[1]), blend(p[2])]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(width: u32, height: u32, rgb: [u8; 3]) -> Pixels {
        let data = (0..width * height).flat_map(|_| rgb).collect();
        Pixels { width, height, channels: 3, data }
    }

    #[test]
    fn resize_keeps_flat_colour() {
        let out = resize(&solid(300, 200, [200, 100, 50]), 30, 20).unwrap();
        assert_eq!((out.width, out.height, out.data.len()), (30, 20, 30 * 20 * 3));
        assert!(out.data.chunks_exact(3).all(|p| p == [200, 100, 50]));
    }

    #[test]
    fn orientation_swaps_sides_for_rotations() {
        let p = solid(4, 2, [1, 2, 3]);
        assert_eq!(
            (orient(p.clone(), Orientation::Rotate90).width, orient(p.clone(), Orientation::Rotate90).height),
            (2, 4)
        );
        assert_eq!(orient(p.clone(), Orientation::FlipHorizontal).width, 4);
    }

    #[test]
    fn flatten_composites_on_white() {
        let p = Pixels { width: 2, height: 1, channels: 4, data: vec![0, 0, 0, 0, 10, 20, 30, 255] };
        assert_eq!(*flatten(&p), [255, 255, 255, 10, 20, 30]);
    }

    #[test]
    fn a_placeholder_has_the_colour_and_a_blurhash_of_the_picture() {
        let flat = placeholder(&solid(300, 200, [200, 100, 50])).unwrap();
        assert_eq!(flat.color, "#c86432");
        // The same string the page's decoder is tested with (frontend/tests/lib.test.mjs).
        assert_eq!(flat.blurhash, "L8N6;w=dfQ=d}XoKfQoKfQfQfQfQ");
        // Decoded, it averages to the colour (BlurHash's cosines sum to a little at the edges).
        let decoded = blurhash::decode(&flat.blurhash, 32, 21, 1.0).unwrap();
        let mean = |channel: usize| {
            decoded.chunks_exact(4).map(|px| u32::from(px[channel])).sum::<u32>() / (32 * 21)
        };
        for (channel, want) in [(0, 200), (1, 100), (2, 50)] {
            assert!(mean(channel).abs_diff(want) <= 4, "channel {channel}: {}", mean(channel));
        }
        let tall = placeholder(&solid(20, 300, [0, 0, 0])).unwrap();
        assert_eq!((tall.color.as_str(), tall.blurhash.len()), ("#000000", 28), "3 × 4 components");
        // Transparent pixels count as white, as in the JPEG.
        let clear = Pixels { width: 8, height: 8, channels: 4, data: [0, 0, 0, 0].repeat(64) };
        assert_eq!(placeholder(&clear).unwrap().color, "#ffffff");
    }

    #[test]
    fn garbage_icc_is_ignored() {
        assert!(ToSrgb::new(b"not a profile", 3).is_none());
    }
}
