//! The optional watermark (`[watermark]` in `thumbforge.toml`): which PNG, how strong, where, how
//! large, and on which renditions; the check every copy of the PNG passes (xtask before it is
//! deployed, the thumbnail function when it reads it at cold start, the local stack when it
//! seeds it); and where on a rendition it goes.
//!
//! The PNG lives at [`crate::keys::WATERMARK`] in the media bucket: private (CloudFront serves
//! `thumbs/` only), uploaded by Terraform, read once per cold start. Originals are never touched:
//! the watermark is drawn on renditions only.

use serde::{Deserialize, Serialize};

/// The largest watermark file accepted, in bytes.
pub const MAX_BYTES: usize = 1 << 20;
/// The largest width or height of a watermark, in pixels.
pub const MAX_SIDE: u32 = 4096;
/// The PNG signature.
const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// Where on a rendition the watermark sits: a corner, the middle of an edge, or the centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Gravity {
    /// Top left.
    NorthWest,
    /// Top, centred horizontally.
    North,
    /// Top right.
    NorthEast,
    /// Left, centred vertically.
    West,
    /// The middle.
    Center,
    /// Right, centred vertically.
    East,
    /// Bottom left.
    SouthWest,
    /// Bottom, centred horizontally.
    South,
    /// Bottom right.
    #[default]
    SouthEast,
}

impl Gravity {
    /// Every gravity, in reading order.
    pub const ALL: [Self; 9] = [
        Self::NorthWest,
        Self::North,
        Self::NorthEast,
        Self::West,
        Self::Center,
        Self::East,
        Self::SouthWest,
        Self::South,
        Self::SouthEast,
    ];

    /// The config and environment name (`south-east`).
    pub fn name(self) -> &'static str {
        match self {
            Self::NorthWest => "north-west",
            Self::North => "north",
            Self::NorthEast => "north-east",
            Self::West => "west",
            Self::Center => "center",
            Self::East => "east",
            Self::SouthWest => "south-west",
            Self::South => "south",
            Self::SouthEast => "south-east",
        }
    }

    /// The gravity called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.name() == name)
    }

    /// Where a span of `length` goes along an axis of `extent` with `margin` from each end,
    /// given the gravity's position along that axis (0 start, 1 middle, 2 end).
    fn offset(position: u8, extent: u32, length: u32, margin: u32) -> u32 {
        match position {
            0 => margin,
            1 => (extent - length) / 2,
            _ => extent - length - margin,
        }
    }

    /// (column, row) of the gravity in the 3 × 3 grid.
    fn cell(self) -> (u8, u8) {
        let index = Self::ALL.iter().position(|&g| g == self).unwrap_or(8);
        let index = u8::try_from(index).unwrap_or(8);
        (index % 3, index / 3)
    }
}

/// The watermark, as configured. Off unless `image` names a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Watermark {
    /// Where the PNG is: in `thumbforge.toml`, a path relative to that file (empty: no
    /// watermark); in the functions' configuration, its key in the media bucket.
    pub image: String,
    /// How opaque the watermark is drawn, in percent (1–100) of its own alpha.
    pub opacity_percent: u8,
    /// Where it sits.
    pub gravity: Gravity,
    /// Its width, in percent (1–100) of the rendition's shorter side; smaller if it would not
    /// fit inside the margins.
    pub scale_percent: u8,
    /// Its distance from the rendition's edges, in percent (0–25) of the shorter side.
    pub margin_percent: u8,
    /// The smallest rendition box, in pixels, that gets it (renditions smaller than this are
    /// left clean: on a 256 px thumbnail a mark is mostly noise). At most the largest size.
    pub min_size: u32,
}

impl Default for Watermark {
    fn default() -> Self {
        Self {
            image: String::new(),
            opacity_percent: 60,
            gravity: Gravity::SouthEast,
            scale_percent: 20,
            margin_percent: 3,
            min_size: 512,
        }
    }
}

/// Where and how large the watermark is drawn on one rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Drawn width.
    pub width: u32,
    /// Drawn height.
    pub height: u32,
}

impl Watermark {
    /// Whether a watermark is configured.
    pub fn is_on(&self) -> bool {
        !self.image.trim().is_empty()
    }

    /// The PNG named by `thumbforge.toml` at `config_file`, read and checked ([`check_png`]):
    /// `None` when no watermark is configured. What xtask deploys and the local stack seeds.
    pub fn read_beside(&self, config_file: &std::path::Path) -> Result<Option<Vec<u8>>, String> {
        if !self.is_on() {
            return Ok(None);
        }
        let path = config_file.parent().unwrap_or(std::path::Path::new(".")).join(self.image.trim());
        let data = std::fs::read(&path)
            .map_err(|e| format!("`watermark.image`: cannot read {}: {e}", path.display()))?;
        check_png(&data).map_err(|e| format!("`watermark.image` ({}): {e}", path.display()))?;
        Ok(Some(data))
    }

    /// Whether a rendition of box `size` gets the watermark.
    pub fn applies_to(&self, size: u32) -> bool {
        self.is_on() && size >= self.min_size
    }

    /// Where a `mark_width` × `mark_height` watermark goes on a `width` × `height` rendition,
    /// or `None` when it would be under a pixel or the rendition has no room inside its margins.
    pub fn place(&self, width: u32, height: u32, mark_width: u32, mark_height: u32) -> Option<Placement> {
        if mark_width == 0 || mark_height == 0 {
            return None;
        }
        let shorter = u64::from(width.min(height));
        let margin = u32::try_from(shorter * u64::from(self.margin_percent) / 100).ok()?;
        let room_w = u64::from(width.checked_sub(margin.checked_mul(2)?)?);
        let room_h = u64::from(height.checked_sub(margin.checked_mul(2)?)?);
        let (mw, mh) = (u64::from(mark_width), u64::from(mark_height));
        // The width asked for, then the largest size of the mark's shape that fits the room.
        let mut w = (shorter * u64::from(self.scale_percent) + 50) / 100;
        w = w.min(room_w).min(room_h * mw / mh);
        let h = (w * mh + mw / 2) / mw;
        if w == 0 || h == 0 || h > room_h {
            return None;
        }
        let (w, h) = (u32::try_from(w).ok()?, u32::try_from(h).ok()?);
        let (column, row) = self.gravity.cell();
        Some(Placement {
            x: Gravity::offset(column, width, w, margin),
            y: Gravity::offset(row, height, h, margin),
            width: w,
            height: h,
        })
    }

    /// Every problem with the settings (not the file), each naming its `[watermark]` field.
    pub fn problems(&self, largest_size: Option<u32>) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.is_on() {
            return problems;
        }
        let mut range = |field: &str, value: u32, min: u32, max: u32| {
            if value < min || value > max {
                problems.push(format!("`watermark.{field}` is {value}, must be between {min} and {max}"));
            }
        };
        range("opacity_percent", u32::from(self.opacity_percent), 1, 100);
        range("scale_percent", u32::from(self.scale_percent), 1, 100);
        range("margin_percent", u32::from(self.margin_percent), 0, 25);
        if let Some(largest) = largest_size.filter(|&largest| self.min_size > largest) {
            problems.push(format!(
                "`watermark.min_size` is {}, larger than the largest rendition ({largest} px): \
                 no rendition would get the watermark",
                self.min_size
            ));
        }
        problems
    }
}

/// What [`check_png`] found: the watermark's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PngInfo {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Checks a watermark file without decoding it: a PNG (signature and header chunk), at most
/// [`MAX_BYTES`], at most [`MAX_SIDE`] pixels a side, and with an alpha channel (colour type 4,
/// grey + alpha, or 6, RGBA): a mark without transparency would cover a box of the photo.
pub fn check_png(data: &[u8]) -> Result<PngInfo, String> {
    if data.len() > MAX_BYTES {
        return Err(format!("the watermark is {} bytes; the limit is {} (1 MiB)", data.len(), MAX_BYTES));
    }
    // Signature, then the IHDR chunk: length 13, "IHDR", width, height, depth, colour type.
    if data.len() < 33 || !data.starts_with(PNG_SIGNATURE) || &data[12..16] != b"IHDR" {
        return Err("the watermark is not a PNG file".to_owned());
    }
    let be = |at: usize| u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
    let (width, height, colour) = (be(16), be(20), data[25]);
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!("the watermark is {width}×{height} pixels; each side must be 1 to {MAX_SIDE}"));
    }
    if colour != 4 && colour != 6 {
        return Err(format!(
            "the watermark has no alpha channel (PNG colour type {colour}); save it as RGBA \
             (colour type 6) or grey + alpha (4)"
        ));
    }
    Ok(PngInfo { width, height })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_header(width: u32, height: u32, colour: u8) -> Vec<u8> {
        let mut data = PNG_SIGNATURE.to_vec();
        data.extend_from_slice(&13u32.to_be_bytes());
        data.extend_from_slice(b"IHDR");
        data.extend_from_slice(&width.to_be_bytes());
        data.extend_from_slice(&height.to_be_bytes());
        data.extend_from_slice(&[8, colour, 0, 0, 0, 0, 0, 0, 0]);
        data
    }

    fn on() -> Watermark {
        Watermark { image: "mark.png".into(), ..Watermark::default() }
    }

    #[test]
    fn the_png_check_takes_alpha_pngs_and_names_what_is_wrong_with_the_rest() {
        assert_eq!(check_png(&png_header(120, 40, 6)), Ok(PngInfo { width: 120, height: 40 }));
        assert_eq!(check_png(&png_header(1, 1, 4)), Ok(PngInfo { width: 1, height: 1 }));
        for (data, needle) in [
            (png_header(120, 40, 2), "no alpha channel (PNG colour type 2)"),
            (png_header(120, 40, 3), "no alpha channel (PNG colour type 3)"),
            (png_header(5000, 40, 6), "5000×40 pixels"),
            (png_header(0, 40, 6), "0×40 pixels"),
            (b"GIF89a and then some more bytes to be long enough".to_vec(), "not a PNG"),
            (png_header(1, 1, 6)[..20].to_vec(), "not a PNG"),
            ([png_header(1, 1, 6), vec![0; MAX_BYTES]].concat(), "the limit is 1048576"),
        ] {
            let error = check_png(&data).unwrap_err();
            assert!(error.contains(needle), "{error} should contain {needle}");
        }
    }

    #[test]
    fn placement_follows_gravity_scale_and_margin() {
        // A 1000 × 600 rendition: shorter side 600, margin 3 % = 18 px, width 20 % = 120 px; a
        // 2:1 mark is 120 × 60.
        let mark = on();
        let place = |gravity| Watermark { gravity, ..mark.clone() }.place(1000, 600, 200, 100).unwrap();
        let expected = [
            (18, 18),
            (440, 18),
            (862, 18),
            (18, 270),
            (440, 270),
            (862, 270),
            (18, 522),
            (440, 522),
            (862, 522),
        ];
        for (gravity, (x, y)) in Gravity::ALL.into_iter().zip(expected) {
            assert_eq!(place(gravity), Placement { x, y, width: 120, height: 60 }, "{gravity:?}");
        }
    }

    #[test]
    fn a_mark_too_large_for_the_room_shrinks_to_fit_and_one_with_no_room_is_left_out() {
        let wide = Watermark { scale_percent: 100, margin_percent: 0, ..on() };
        // 100 % of the shorter side (100) fits the width; a tall mark is limited by the height.
        assert_eq!(wide.place(300, 100, 50, 100), Some(Placement { x: 250, y: 0, width: 50, height: 100 }));
        let huge_margin = Watermark { margin_percent: 25, scale_percent: 100, ..on() };
        assert_eq!(huge_margin.place(40, 40, 1, 1).map(|p| (p.width, p.height)), Some((20, 20)));
        assert_eq!(on().place(2, 2, 10, 10), None, "under a pixel");
        assert_eq!(on().place(100, 100, 0, 10), None);
    }

    #[test]
    fn min_size_decides_which_renditions_get_it() {
        let mark = Watermark { min_size: 1024, ..on() };
        assert!(mark.applies_to(1024) && mark.applies_to(2048));
        assert!(!mark.applies_to(256));
        assert!(!Watermark::default().applies_to(4096), "off without an image");
    }

    #[test]
    fn settings_problems_name_their_field() {
        assert!(Watermark { opacity_percent: 0, ..Watermark::default() }.problems(Some(1)).is_empty(), "off");
        let bad =
            Watermark { opacity_percent: 0, scale_percent: 101, margin_percent: 26, min_size: 2000, ..on() };
        let problems = bad.problems(Some(1024)).join("\n");
        for needle in [
            "`watermark.opacity_percent` is 0",
            "`watermark.scale_percent` is 101",
            "`watermark.margin_percent` is 26",
            "`watermark.min_size` is 2000, larger than the largest rendition (1024 px)",
        ] {
            assert!(problems.contains(needle), "{problems} should contain {needle}");
        }
        assert!(on().problems(Some(1024)).is_empty());
    }

    #[test]
    fn gravity_names_round_trip() {
        for gravity in Gravity::ALL {
            assert_eq!(Gravity::from_name(gravity.name()), Some(gravity));
        }
        assert_eq!(Gravity::from_name("middle"), None);
    }
}
