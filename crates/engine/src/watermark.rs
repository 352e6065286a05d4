//! The watermark: a PNG with alpha, decoded once (the thumbnail function does it at cold start),
//! scaled to each rendition it applies to and drawn "over" it with integer arithmetic, so the same
//! inputs give the same pixels on every machine. Drawing saves the pixels it covers and gives them
//! back afterwards: the next, smaller rendition is resized from the clean pixels, and the
//! placeholder too.

use thumbforge_core::watermark::{self, Placement, Watermark};

use super::{Pixels, pixels};

/// A watermark ready to draw: its straight-alpha RGBA pixels and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    image: Pixels,
    settings: Watermark,
}

/// Opacity and alpha are combined on this scale: `alpha (0–255) × opacity (0–100)`.
const FULL: u32 = 255 * 100;

impl Mark {
    /// Checks the file ([`watermark::check_png`]: a PNG with alpha, at most 1 MiB and 4096 px a
    /// side) and decodes it.
    pub fn from_png(data: &[u8], settings: &Watermark) -> Result<Self, String> {
        watermark::check_png(data)?;
        let decoded = image::load_from_memory_with_format(data, image::ImageFormat::Png)
            .map_err(|e| format!("the watermark PNG cannot be decoded: {e}"))?
            .into_rgba8();
        let (width, height) = decoded.dimensions();
        let image = Pixels { width, height, channels: 4, data: decoded.into_raw() };
        Ok(Self { image, settings: settings.clone() })
    }

    /// The settings it was made with.
    pub fn settings(&self) -> &Watermark {
        &self.settings
    }

    /// Whether a rendition of box `size` gets it.
    pub fn applies_to(&self, size: u32) -> bool {
        size >= self.settings.min_size
    }

    /// Draws the watermark on `pixels` (RGB or RGBA), returning what it covered so that
    /// [`Covered::restore`] can put it back; `None` when the rendition has no room for it.
    pub fn draw(&self, pixels: &mut Pixels) -> Result<Option<Covered>, String> {
        let Some(at) = self.settings.place(pixels.width, pixels.height, self.image.width, self.image.height)
        else {
            return Ok(None);
        };
        let scaled = pixels::resize(&self.image, at.width, at.height)?;
        let covered = Covered::save(pixels, at);
        let opacity = u32::from(self.settings.opacity_percent);
        let channels = usize::from(pixels.channels);
        let row_bytes = pixels.width as usize * channels;
        for row in 0..at.height as usize {
            let start = (at.y as usize + row) * row_bytes + at.x as usize * channels;
            let dst = &mut pixels.data[start..start + at.width as usize * channels];
            let src = &scaled.data[row * at.width as usize * 4..][..at.width as usize * 4];
            for (d, s) in dst.chunks_exact_mut(channels).zip(src.chunks_exact(4)) {
                over(d, s, u32::from(s[3]) * opacity);
            }
        }
        Ok(Some(covered))
    }
}

/// `mark` (straight RGBA) over `dst` (RGB, or straight RGBA), the mark's coverage being `alpha`
/// on the [`FULL`] scale. Rounded to nearest.
fn over(dst: &mut [u8], mark: &[u8], alpha: u32) {
    if alpha == 0 {
        return;
    }
    let rest = FULL - alpha;
    if dst.len() == 3 {
        for (d, &m) in dst.iter_mut().zip(mark) {
            *d = ((u32::from(m) * alpha + u32::from(*d) * rest + FULL / 2) / FULL) as u8;
        }
        return;
    }
    // With an alpha below: out_a = a + d_a (1 − a); out_c = (m a + d d_a (1 − a)) / out_a,
    // everything on the FULL scale (u64: the products reach 255 × FULL²).
    let (alpha, rest, full) = (u64::from(alpha), u64::from(rest), u64::from(FULL));
    let below = u64::from(dst[3]) * 100;
    let out = alpha * full + below * rest;
    for (d, &m) in dst[..3].iter_mut().zip(mark) {
        *d = ((u64::from(m) * alpha * full + u64::from(*d) * below * rest + out / 2) / out) as u8;
    }
    dst[3] = ((out + full * 50) / (full * 100)) as u8;
}

/// The pixels a drawn watermark covers, to put back.
#[derive(Debug)]
pub struct Covered {
    at: Placement,
    saved: Vec<u8>,
}

impl Covered {
    fn save(pixels: &Pixels, at: Placement) -> Self {
        let channels = usize::from(pixels.channels);
        let row_bytes = pixels.width as usize * channels;
        let mut saved = Vec::with_capacity(at.width as usize * at.height as usize * channels);
        for row in at.y as usize..(at.y + at.height) as usize {
            let start = row * row_bytes + at.x as usize * channels;
            saved.extend_from_slice(&pixels.data[start..start + at.width as usize * channels]);
        }
        Self { at, saved }
    }

    /// Where the watermark was drawn.
    pub fn placement(&self) -> Placement {
        self.at
    }

    /// Puts the covered pixels back, leaving `pixels` as they were before [`Mark::draw`].
    pub fn restore(self, pixels: &mut Pixels) {
        let channels = usize::from(pixels.channels);
        let row_bytes = pixels.width as usize * channels;
        let width = self.at.width as usize * channels;
        for (row, saved) in (self.at.y as usize..).zip(self.saved.chunks_exact(width)) {
            let start = row * row_bytes + self.at.x as usize * channels;
            pixels.data[start..start + width].copy_from_slice(saved);
        }
    }
}

#[cfg(test)]
mod tests {
    use thumbforge_core::watermark::Gravity;

    use super::*;

    const MARK: &[u8] = include_bytes!("../fixtures/watermark.png");
    /// Pillow's "over" of the mark on the card's corner (`fixtures/make_watermark.py`).
    const EXPECTED: &[u8] = include_bytes!("../fixtures/watermark.expected.png");

    /// The fixtures' settings: 16 % of the 300 px shorter side is the mark's own 48 px width,
    /// so it is drawn unscaled, 9 px (3 %) from the south-east corner.
    fn settings() -> Watermark {
        Watermark {
            image: "watermark.png".into(),
            opacity_percent: 60,
            gravity: Gravity::SouthEast,
            scale_percent: 16,
            margin_percent: 3,
            min_size: 256,
        }
    }

    /// The card of `make_watermark.py`.
    fn card() -> Pixels {
        let (width, height) = (400u32, 300u32);
        let mut data = Vec::with_capacity(400 * 300 * 3);
        for y in 0..height {
            for x in 0..width {
                data.extend_from_slice(&[(7 * x + 3 * y) as u8, (2 * x + 5 * y) as u8, (x + 11 * y) as u8]);
            }
        }
        Pixels { width, height, channels: 3, data }
    }

    #[test]
    fn the_drawn_corner_matches_pillow_and_every_other_pixel_is_unchanged() {
        let mark = Mark::from_png(MARK, &settings()).unwrap();
        let clean = card();
        let mut drawn = clean.clone();
        let covered = mark.draw(&mut drawn).unwrap().expect("room for the mark");
        let at = covered.placement();
        assert_eq!((at.x, at.y, at.width, at.height), (343, 267, 48, 24));

        let expected = image::load_from_memory(EXPECTED).unwrap().into_rgb8();
        let (mut changed, mut worst) = (0, 0);
        for y in 0..300 {
            for x in 0..400 {
                let i = ((y * 400 + x) * 3) as usize;
                let (got, was) = (&drawn.data[i..i + 3], &clean.data[i..i + 3]);
                let inside = (343..391).contains(&x) && (267..291).contains(&y);
                if !inside {
                    assert_eq!(got, was, "({x}, {y}) is outside the mark and must not change");
                    continue;
                }
                let want = expected.get_pixel(x - 343, y - 267).0;
                for (g, w) in got.iter().zip(want) {
                    worst = worst.max(g.abs_diff(w));
                }
                changed += usize::from(got != was);
            }
        }
        assert!(worst <= 1, "the corner is {worst} levels from Pillow's composite");
        // The band's 16 rows but its fully transparent first column: most of the 48 × 24 box.
        assert!(changed >= 16 * 44, "only {changed} pixels of the mark's box changed");

        covered.restore(&mut drawn);
        assert_eq!(drawn, clean, "restoring gives back every covered pixel");
    }

    #[test]
    fn the_mark_is_scaled_with_the_rendition_and_drawn_the_same_every_time() {
        let mark = Mark::from_png(MARK, &Watermark { scale_percent: 32, ..settings() }).unwrap();
        let mut first = card();
        let at = mark.draw(&mut first).unwrap().unwrap().placement();
        assert_eq!((at.width, at.height), (96, 48), "twice the size: 32 % of 300 px");
        let mut second = card();
        mark.draw(&mut second).unwrap();
        assert_eq!(first, second, "deterministic");
        assert_ne!(first, card());
    }

    #[test]
    fn over_an_alpha_channel_the_mark_adds_coverage() {
        // A clear pixel takes the mark's colour and alpha × opacity; an opaque one stays opaque.
        let mut clear = [10, 20, 30, 0];
        over(&mut clear, &[200, 100, 50, 255], 255 * 60);
        assert_eq!(clear, [200, 100, 50, 153]);
        let mut opaque = [0, 0, 0, 255];
        over(&mut opaque, &[200, 100, 50, 255], 255 * 50);
        assert_eq!(opaque, [100, 50, 25, 255]);
        let mut half = [0, 0, 0, 128];
        over(&mut half, &[255, 255, 255, 255], 0);
        assert_eq!(half, [0, 0, 0, 128], "a clear mark pixel changes nothing");
    }

    #[test]
    fn a_watermark_without_alpha_or_that_is_not_a_png_is_refused() {
        let mut rgb = Vec::new();
        image::RgbImage::new(8, 8)
            .write_to(&mut std::io::Cursor::new(&mut rgb), image::ImageFormat::Png)
            .unwrap();
        let error = Mark::from_png(&rgb, &settings()).unwrap_err();
        assert!(error.contains("no alpha channel"), "{error}");
        let error = Mark::from_png(b"\x89PNG\r\n\x1a\n", &settings()).unwrap_err();
        assert!(error.contains("not a PNG"), "{error}");
        // A valid header over a broken body gets past the check, not past the decoder.
        let mut broken = MARK[..40].to_vec();
        broken.extend_from_slice(&[0; 20]);
        let error = Mark::from_png(&broken, &settings()).unwrap_err();
        assert!(error.contains("cannot be decoded"), "{error}");
    }
}
