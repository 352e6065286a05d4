//! Engine tests over real bytes: images are built here (or are the committed photos under
//! `fixtures/photos`), hostile files are written header by header.

use std::io::Write;

use image::metadata::Orientation;
use mozjpeg::{ColorSpace, Compress, Decompress, Marker};
use thumbforge_core::config::Sizes;
use thumbforge_core::{InputFormat, OutputFormat, RejectReason, RuntimeConfig};

use super::*;

const PHOTO_1: &[u8] = include_bytes!("../../../fixtures/photos/orient_1.jpg");
const PHOTO_6: &[u8] = include_bytes!("../../../fixtures/photos/orient_6.jpg");

fn config() -> RuntimeConfig {
    RuntimeConfig::default()
}

/// The engine's [`super::process`], for tests about good and bad files: a [`Failure::Internal`]
/// (our bug) fails the test, a rejection is the file's.
fn process(data: &[u8], config: &RuntimeConfig) -> Result<Thumbnails, Reject> {
    process_with(data, config, Options::default())
}

/// [`super::process_with`] likewise.
pub(crate) fn process_with(
    data: &[u8],
    config: &RuntimeConfig,
    options: Options<'_>,
) -> Result<Thumbnails, Reject> {
    match super::process_with(data, config, options) {
        Ok(thumbs) => Ok(thumbs),
        Err(Failure::Rejected(reject)) => Err(reject),
        Err(Failure::Internal(what)) => panic!("the engine failed internally: {what}"),
    }
}

fn reason(data: &[u8], config: &RuntimeConfig) -> RejectReason {
    match process(data, config) {
        Ok(t) => panic!("expected a rejection, got {:?}", t.source),
        Err(reject) => {
            assert!(!reject.message.is_empty());
            reject.reason
        }
    }
}

// ---- builders ---------------------------------------------------------------------------------

/// An upright 3:2 test card: red top-left quadrant, blue bottom-right, green elsewhere.
fn card(width: u32, height: u32) -> Pixels {
    let mut data = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let left = x < width / 2;
            let top = y < height / 2;
            data.extend_from_slice(match (left, top) {
                (true, true) => &[230, 20, 20],
                (false, false) => &[20, 20, 230],
                _ => &[20, 200, 20],
            });
        }
    }
    Pixels { width, height, channels: 3, data }
}

fn encode_jpeg(pixels: &Pixels, markers: &[(Marker, Vec<u8>)], icc: Option<&[u8]>) -> Vec<u8> {
    let mut compress = Compress::new(ColorSpace::JCS_RGB);
    compress.set_size(pixels.width as usize, pixels.height as usize);
    compress.set_quality(92.0);
    let mut started = compress.start_compress(Vec::new()).unwrap();
    for (marker, data) in markers {
        started.write_marker(*marker, data);
    }
    if let Some(icc) = icc {
        started.write_icc_profile(icc);
    }
    started.write_scanlines(&pixels.data).unwrap();
    started.finish().unwrap()
}

/// An EXIF APP1 payload holding one IFD0 entry: orientation.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut v = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    v.extend_from_slice(&1u16.to_be_bytes()); // one entry
    v.extend_from_slice(&0x0112u16.to_be_bytes());
    v.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    v.extend_from_slice(&1u32.to_be_bytes());
    v.extend_from_slice(&value.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    v
}

fn decode_output(data: &[u8]) -> Pixels {
    let mut started = Decompress::new_mem(data).unwrap().rgb().unwrap();
    let (width, height) = (started.width() as u32, started.height() as u32);
    let data: Vec<u8> = started.read_scanlines().unwrap();
    Pixels { width, height, channels: 3, data }
}

fn pixel(p: &Pixels, x: u32, y: u32) -> [u8; 3] {
    let i = ((y * p.width + x) * 3) as usize;
    [p.data[i], p.data[i + 1], p.data[i + 2]]
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) < 40)
}

fn png_chunk(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(body);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// A PNG written chunk by chunk: 8-bit colour type `color`, optional extra chunks before IDAT.
fn png(width: u32, height: u32, color: u8, extra: &[Vec<u8>], idat: Option<&[u8]>) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, color, 0, 0, 0]);
    out.extend(png_chunk(b"IHDR", &ihdr));
    for chunk in extra {
        out.extend_from_slice(chunk);
    }
    if let Some(idat) = idat {
        out.extend(png_chunk(b"IDAT", idat));
    }
    out.extend(png_chunk(b"IEND", b""));
    out
}

/// A complete grey PNG (filter byte 0 per row).
fn grey_png(width: u32, height: u32, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(((width + 1) * height) as usize);
    for _ in 0..height {
        raw.push(0);
        raw.extend(std::iter::repeat_n(128, width as usize));
    }
    png(width, height, 0, extra, Some(&zlib(&raw)))
}

fn encode_with_image(image: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

// ---- happy path -------------------------------------------------------------------------------

#[test]
fn renditions_have_exact_sizes_and_every_format() {
    let jpeg = encode_jpeg(&card(3000, 2000), &[], None);
    let thumbs = process(&jpeg, &config()).unwrap();
    assert_eq!(thumbs.source, SourceInfo { format: InputFormat::Jpeg, width: 3000, height: 2000 });
    let summary: Vec<_> = thumbs.renditions.iter().map(|r| (r.size, r.width, r.height, r.format)).collect();
    assert_eq!(
        summary,
        [
            (1024, 1024, 683, OutputFormat::Jpeg),
            (1024, 1024, 683, OutputFormat::Webp),
            (256, 256, 171, OutputFormat::Jpeg),
            (256, 256, 171, OutputFormat::Webp),
        ]
    );
    for r in &thumbs.renditions {
        match r.format {
            OutputFormat::Jpeg => {
                assert_eq!((decode_output(&r.data).width, decode_output(&r.data).height), (r.width, r.height))
            }
            OutputFormat::Avif => panic!("AVIF is off by default"),
            OutputFormat::Webp => {
                let img = image::load_from_memory_with_format(&r.data, image::ImageFormat::WebP).unwrap();
                assert_eq!((img.width(), img.height()), (r.width, r.height));
            }
        }
    }
}

/// What an independent parser (`avif-parse`: the HEIF boxes and the AV1 sequence header) reads
/// from an AVIF rendition: its size, bit depth, chroma subsampling and whether it has alpha.
fn avif_summary(data: &[u8]) -> (u32, u32, u8, (bool, bool), bool) {
    assert_eq!(&data[4..8], b"ftyp", "an ISO-BMFF file");
    assert_eq!(&data[8..12], b"avif", "major brand avif");
    let avif = avif_parse::read_avif(&mut &data[..]).expect("a valid AVIF");
    let meta = avif.primary_item_metadata().expect("an AV1 sequence header");
    assert!(meta.still_picture, "a still picture, not a sequence");
    (
        meta.max_frame_width.get(),
        meta.max_frame_height.get(),
        meta.bit_depth,
        meta.chroma_subsampling,
        avif.alpha_item.is_some(),
    )
}

/// With `avif` in the formats, every rendition also comes as a still AVIF of exactly its size:
/// 8-bit, full-resolution chroma, alpha only where the source has it; written after JPEG and
/// WebP and much smaller than the JPEG.
#[test]
fn avif_renditions_are_still_images_of_the_rendition_size() {
    let mut config = config();
    config.thumbnails.formats = OutputFormat::ALL.to_vec();
    let thumbs = process(PHOTO_6, &config).unwrap();
    let formats: Vec<_> = thumbs.renditions.iter().map(|r| (r.size, r.format)).collect();
    assert_eq!(
        formats,
        [
            (1024, OutputFormat::Jpeg),
            (1024, OutputFormat::Webp),
            (1024, OutputFormat::Avif),
            (256, OutputFormat::Jpeg),
            (256, OutputFormat::Webp),
            (256, OutputFormat::Avif),
        ]
    );
    for pair in thumbs.renditions.chunks(3) {
        let (jpeg, avif) = (&pair[0], &pair[2]);
        assert_eq!(avif_summary(&avif.data), (avif.width, avif.height, 8, (false, false), false));
        assert_eq!((avif.width, avif.height), (jpeg.width, jpeg.height));
        assert!(avif.data.len() < jpeg.data.len(), "{} vs {} bytes", avif.data.len(), jpeg.data.len());
    }
    // Lower quality, fewer bytes: the knob reaches the encoder.
    config.thumbnails.avif_quality = 20;
    let low = process(PHOTO_6, &config).unwrap();
    assert!(low.renditions[2].data.len() < thumbs.renditions[2].data.len());

    let mut rgba = image::RgbaImage::new(120, 80);
    for (x, _, p) in rgba.enumerate_pixels_mut() {
        *p = if x < 60 { image::Rgba([255, 0, 0, 255]) } else { image::Rgba([0, 0, 255, 0]) };
    }
    let png = encode_with_image(image::DynamicImage::ImageRgba8(rgba), image::ImageFormat::Png);
    let thumbs = process(&png, &config).unwrap();
    let avif = thumbs.renditions.iter().find(|r| r.format == OutputFormat::Avif).unwrap();
    assert_eq!(avif_summary(&avif.data), (120, 80, 8, (false, false), true), "alpha kept");
}

/// The encoder refuses knobs outside ravif's range as our error (the config never lets them
/// through; ravif itself would panic).
#[test]
fn avif_knobs_out_of_range_are_an_encoder_error() {
    let card = card(32, 32);
    assert!(encode::avif(&card, 0, 5).unwrap_err().starts_with("avif encoder: "));
    assert!(encode::avif(&card, 60, 11).unwrap_err().starts_with("avif encoder: "));
    let short = Pixels { width: 64, height: 64, channels: 3, data: vec![0; 64 * 3] };
    assert!(encode::avif(&short, 60, 9).unwrap_err().starts_with("avif encoder: "));
}

#[test]
fn webp_can_be_turned_off() {
    let mut config = config();
    config.thumbnails.formats = vec![OutputFormat::Jpeg];
    config.thumbnails.sizes = Sizes::from([("small", 64)]);
    let thumbs = process(&encode_jpeg(&card(300, 200), &[], None), &config).unwrap();
    assert_eq!(thumbs.renditions.len(), 1);
    assert_eq!(thumbs.renditions[0].format, OutputFormat::Jpeg);
}

#[test]
fn small_images_are_never_upscaled() {
    let png = encode_with_image(
        image::DynamicImage::ImageRgb8(image::RgbImage::new(100, 50)),
        image::ImageFormat::Png,
    );
    let thumbs = process(&png, &config()).unwrap();
    assert!(thumbs.renditions.iter().all(|r| (r.width, r.height) == (100, 50)), "{:?}", thumbs.renditions);
}

#[test]
fn all_eight_orientations_come_out_upright() {
    let upright = card(300, 200);
    let mut config = config();
    config.thumbnails.sizes = Sizes::from([("small", 150)]);
    for value in 1..=9u16 {
        let orientation = Orientation::from_exif(value as u8).unwrap_or(Orientation::NoTransforms);
        // Store the pixels so that applying `orientation` gives the upright card back.
        let inverse = match orientation {
            Orientation::Rotate90 => Orientation::Rotate270,
            Orientation::Rotate270 => Orientation::Rotate90,
            other => other,
        };
        let stored = pixels::orient(upright.clone(), inverse);
        let jpeg = encode_jpeg(&stored, &[(Marker::APP(1), exif_orientation(value))], None);
        let thumbs = process(&jpeg, &config).unwrap();
        assert_eq!((thumbs.source.width, thumbs.source.height), (300, 200), "orientation {value}");
        let out = decode_output(&thumbs.renditions[0].data);
        assert_eq!((out.width, out.height), (150, 100), "orientation {value}");
        assert!(
            close(pixel(&out, 10, 10), [230, 20, 20]),
            "orientation {value}: top-left {:?}",
            pixel(&out, 10, 10)
        );
        assert!(
            close(pixel(&out, 140, 90), [20, 20, 230]),
            "orientation {value}: bottom-right {:?}",
            pixel(&out, 140, 90)
        );
        assert!(
            close(pixel(&out, 140, 10), [20, 200, 20]),
            "orientation {value}: top-right {:?}",
            pixel(&out, 140, 10)
        );
    }
}

#[test]
fn real_photo_with_orientation_6_matches_the_upright_one() {
    let a = process(PHOTO_1, &config()).unwrap();
    let b = process(PHOTO_6, &config()).unwrap();
    assert_eq!((b.source.width, b.source.height), (1800, 1200));
    let (a, b) = (decode_output(&a.renditions[2].data), decode_output(&b.renditions[2].data));
    assert_eq!((a.width, a.height), (256, 171));
    assert_eq!((b.width, b.height), (256, 171));
    let diff: u64 = a.data.iter().zip(&b.data).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
    let mean = diff as f64 / a.data.len() as f64;
    assert!(mean < 6.0, "mean difference {mean}");
}

#[test]
fn outputs_carry_no_metadata() {
    let mut gps_exif = exif_orientation(1);
    gps_exif.extend_from_slice(b"GPS 51.5N 0.1W secret-location");
    let xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>secret-xmp</x:xmpmeta>".to_vec();
    let icc = moxcms::ColorProfile::new_display_p3().encode().unwrap();
    let jpeg = encode_jpeg(
        &card(600, 400),
        &[
            (Marker::APP(1), gps_exif),
            (Marker::APP(1), xmp),
            (Marker::COM, b"<script>alert(1)</script>".to_vec()),
        ],
        Some(&icc),
    );
    let mut all = config();
    all.thumbnails.formats = OutputFormat::ALL.to_vec();
    let thumbs = process(&jpeg, &all).unwrap();
    for r in &thumbs.renditions {
        for needle in [&b"secret"[..], b"Exif", b"ICC_PROFILE", b"<script", b"http://ns.adobe.com"] {
            assert!(
                !r.data.windows(needle.len()).any(|w| w == needle),
                "{:?} output holds {:?}",
                r.format,
                String::from_utf8_lossy(needle)
            );
        }
        match r.format {
            OutputFormat::Jpeg => {
                // Only APP0 (JFIF) may precede the image data.
                let info = jpeg::scan(&r.data).unwrap();
                assert!(info.exif.is_none() && info.icc.is_none());
                let mut pos = 2;
                while r.data[pos + 1] != 0xDA {
                    let marker = r.data[pos + 1];
                    assert!(
                        !(0xE1..=0xEF).contains(&marker) && marker != 0xFE,
                        "marker 0x{marker:02X} in output"
                    );
                    pos += 2 + usize::from(u16::from_be_bytes([r.data[pos + 2], r.data[pos + 3]]));
                }
            }
            OutputFormat::Webp => {
                let mut pos = 12;
                while pos + 8 <= r.data.len() {
                    let kind = &r.data[pos..pos + 4];
                    assert!(
                        matches!(kind, b"VP8 " | b"VP8L" | b"VP8X" | b"ALPH"),
                        "chunk {:?}",
                        String::from_utf8_lossy(kind)
                    );
                    let len = u32::from_le_bytes(r.data[pos + 4..pos + 8].try_into().unwrap()) as usize;
                    pos += 8 + len + (len & 1);
                }
            }
            OutputFormat::Avif => {
                // Top-level boxes: the file type, the item metadata, the coded data; in the
                // metadata, colour is signalled as nclx code points only (never an ICC `prof`).
                let mut pos = 0;
                while pos + 8 <= r.data.len() {
                    let len = u32::from_be_bytes(r.data[pos..pos + 4].try_into().unwrap()) as usize;
                    let kind = &r.data[pos + 4..pos + 8];
                    assert!(
                        matches!(kind, b"ftyp" | b"meta" | b"mdat"),
                        "box {:?}",
                        String::from_utf8_lossy(kind)
                    );
                    assert!(len >= 8);
                    pos += len;
                }
                assert!(!r.data.windows(4).any(|w| w == b"prof" || w == b"Exif" || w == b"mime"));
            }
        }
    }
}

#[test]
fn wide_gamut_colours_are_converted_to_srgb() {
    let icc = moxcms::ColorProfile::new_display_p3().encode().unwrap();
    let flat = Pixels { width: 64, height: 64, channels: 3, data: [40u8, 180, 90].repeat(64 * 64) };
    let tagged = process(&encode_jpeg(&flat, &[], Some(&icc)), &config()).unwrap();
    let untagged = process(&encode_jpeg(&flat, &[], None), &config()).unwrap();
    let tagged = pixel(&decode_output(&tagged.renditions[0].data), 32, 32);
    let untagged = pixel(&decode_output(&untagged.renditions[0].data), 32, 32);
    assert!(close(untagged, [40, 180, 90]), "{untagged:?}");
    // P3 green is more saturated than sRGB green: in sRGB the red channel drops, green rises.
    assert!(
        tagged[0] + 10 < untagged[0] && tagged[1] > untagged[1],
        "tagged {tagged:?} untagged {untagged:?}"
    );
}

#[test]
fn outputs_are_deterministic() {
    let a = process(PHOTO_6, &config()).unwrap();
    let b = process(PHOTO_6, &config()).unwrap();
    assert_eq!(a.renditions, b.renditions);
}

#[test]
fn png_gif_webp_inputs_and_alpha() {
    let mut rgba = image::RgbaImage::new(400, 200);
    for (x, _, p) in rgba.enumerate_pixels_mut() {
        *p = if x < 200 { image::Rgba([255, 0, 0, 255]) } else { image::Rgba([0, 0, 255, 0]) };
    }
    let png = encode_with_image(image::DynamicImage::ImageRgba8(rgba.clone()), image::ImageFormat::Png);
    let thumbs = process(&png, &config()).unwrap();
    assert_eq!(thumbs.source.format, InputFormat::Png);
    let jpeg = decode_output(&thumbs.renditions[0].data);
    assert!(
        close(pixel(&jpeg, 300, 100), [255, 255, 255]),
        "transparent → white in JPEG: {:?}",
        pixel(&jpeg, 300, 100)
    );
    let webp = image::load_from_memory(&thumbs.renditions[1].data).unwrap().into_rgba8();
    assert_eq!(webp.get_pixel(300, 100).0[3], 0, "WebP keeps alpha");

    let rgb16 =
        image::DynamicImage::ImageRgb16(image::ImageBuffer::from_pixel(90, 60, image::Rgb([65535u16, 0, 0])));
    let thumbs = process(&encode_with_image(rgb16, image::ImageFormat::Png), &config()).unwrap();
    assert!(close(pixel(&decode_output(&thumbs.renditions[0].data), 5, 5), [255, 0, 0]));

    let webp_in = encode_with_image(
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(500, 300, image::Rgb([0, 128, 0]))),
        image::ImageFormat::WebP,
    );
    let thumbs = process(&webp_in, &config()).unwrap();
    assert_eq!((thumbs.source.format, thumbs.renditions[0].width), (InputFormat::Webp, 500));

    let grey = Pixels { width: 80, height: 80, channels: 3, data: [90u8; 80 * 80 * 3].to_vec() };
    let mut compress = Compress::new(ColorSpace::JCS_GRAYSCALE);
    compress.set_size(80, 80);
    let mut started = compress.start_compress(Vec::new()).unwrap();
    started.write_scanlines(&grey.data[..80 * 80]).unwrap();
    let grey_jpeg = started.finish().unwrap();
    let thumbs = process(&grey_jpeg, &config()).unwrap();
    assert!(close(pixel(&decode_output(&thumbs.renditions[0].data), 40, 40), [90, 90, 90]));
}

#[test]
fn cmyk_jpeg_is_converted() {
    // Adobe-style inverted CMYK: stored bytes are 255 - ink. Pure cyan ink → (0, 255, 255)-ish.
    let mut compress = Compress::new(ColorSpace::JCS_CMYK);
    compress.set_size(32, 32);
    let mut started = compress.start_compress(Vec::new()).unwrap();
    started.write_scanlines(&[0u8, 255, 255, 255].repeat(32 * 32)).unwrap();
    let cmyk = started.finish().unwrap();
    let thumbs = process(&cmyk, &config()).unwrap();
    let p = pixel(&decode_output(&thumbs.renditions[0].data), 16, 16);
    assert!(close(p, [0, 255, 255]), "{p:?}");
}

/// `fixtures/cmyk-press.jpg` (Adobe-inverted CMYK with its own profile, `fixtures/make_cmyk.py`)
/// and what LittleCMS makes of each of its blocks.
mod cmyk_press {
    pub const JPEG: &[u8] = include_bytes!("../fixtures/cmyk-press.jpg");
    pub const ICC: &[u8] = include_bytes!("../fixtures/cmyk-press.icc");
    const EXPECTED: &str = include_str!("../fixtures/cmyk-press.expected.json");

    /// Each block's centre, its colour through the profile and the naive formula's.
    pub fn blocks() -> Vec<([u32; 2], [u8; 3], [u8; 3])> {
        let expected: serde_json::Value = serde_json::from_str(EXPECTED).unwrap();
        let triple = |v: &serde_json::Value| -> [u8; 3] {
            let v: Vec<u8> = v.as_array().unwrap().iter().map(|c| c.as_u64().unwrap() as u8).collect();
            [v[0], v[1], v[2]]
        };
        expected["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let centre = b["center"].as_array().unwrap();
                let centre = [centre[0].as_u64().unwrap() as u32, centre[1].as_u64().unwrap() as u32];
                (centre, triple(&b["srgb"]), triple(&b["naive"]))
            })
            .collect()
    }
}

/// Checks a 64 × 32 rendition of the CMYK test card against LittleCMS's colours, and that the
/// blocks where the profile matters are far from what the naive formula gives.
fn assert_converted_through_the_press_profile(jpeg: &[u8]) {
    let mut config = config();
    config.thumbnails.sizes = Sizes::from([("small", 64)]);
    let thumbs = process(jpeg, &config).unwrap();
    let out = decode_output(&thumbs.renditions[0].data);
    assert_eq!((out.width, out.height), (64, 32));
    let blocks = cmyk_press::blocks();
    assert_eq!(blocks.len(), 8);
    let mut profile_mattered = 0;
    for ([x, y], through_profile, naive) in blocks {
        let got = pixel(&out, x, y);
        let distance = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).map(|(p, q)| p.abs_diff(q)).max().unwrap();
        assert!(
            distance(got, through_profile) <= 8,
            "block at {x},{y}: {got:?}, LittleCMS {through_profile:?}"
        );
        if distance(through_profile, naive) > 40 {
            assert!(distance(got, naive) > 30, "block at {x},{y}: {got:?} is the naive {naive:?}");
            profile_mattered += 1;
        }
    }
    assert!(profile_mattered >= 5, "{profile_mattered} blocks tell the profile from the naive formula");
}

#[test]
fn a_cmyk_jpeg_is_converted_through_its_embedded_profile() {
    assert_converted_through_the_press_profile(cmyk_press::JPEG);
}

#[test]
fn a_ycck_jpeg_is_converted_through_its_embedded_profile() {
    // The same stored (Adobe-inverted) CMYK samples, written as YCCK with the same profile.
    let mut started =
        Decompress::new_mem(cmyk_press::JPEG).unwrap().to_colorspace(ColorSpace::JCS_CMYK).unwrap();
    let (width, height) = (started.width(), started.height());
    let stored: Vec<u8> = started.read_scanlines().unwrap();
    started.finish().unwrap();
    let mut compress = Compress::new(ColorSpace::JCS_CMYK);
    compress.set_color_space(ColorSpace::JCS_YCCK);
    compress.set_size(width, height);
    compress.set_quality(100.0);
    for component in compress.components_mut() {
        component.h_samp_factor = 1;
        component.v_samp_factor = 1;
    }
    let mut started = compress.start_compress(Vec::new()).unwrap();
    let mut marker = b"ICC_PROFILE\0\x01\x01".to_vec();
    marker.extend_from_slice(cmyk_press::ICC);
    started.write_marker(Marker::APP(2), &marker);
    started.write_scanlines(&stored).unwrap();
    let ycck = started.finish().unwrap();
    let info = jpeg::scan(&ycck).unwrap();
    assert_eq!((info.components, info.adobe_transform), (4, Some(2)), "an Adobe YCCK file");
    assert_converted_through_the_press_profile(&ycck);
}

#[test]
fn a_cmyk_jpeg_with_a_profile_that_is_not_cmyk_gets_the_naive_formula() {
    // The fixture's pixels with an sRGB profile in place of its CMYK one.
    let srgb = moxcms::ColorProfile::new_srgb().encode().unwrap();
    let jpeg = replace_icc(cmyk_press::JPEG, &srgb);
    let mut config = config();
    config.thumbnails.sizes = Sizes::from([("small", 64)]);
    let out = decode_output(&process(&jpeg, &config).unwrap().renditions[0].data);
    for ([x, y], _, naive) in cmyk_press::blocks() {
        let got = pixel(&out, x, y);
        assert!(got.iter().zip(naive).all(|(a, b)| a.abs_diff(b) <= 8), "{x},{y}: {got:?}, naive {naive:?}");
    }
}

/// `jpeg` with its APP2 ICC segments replaced by one holding `icc`.
fn replace_icc(jpeg: &[u8], icc: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    let mut marker = b"ICC_PROFILE\0\x01\x01".to_vec();
    marker.extend_from_slice(icc);
    out.extend_from_slice(&[0xFF, 0xE2]);
    out.extend_from_slice(&u16::try_from(marker.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(&marker);
    let mut at = 2;
    while jpeg[at] == 0xFF && jpeg[at + 1] != 0xDA {
        let length = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        if !(jpeg[at + 1] == 0xE2 && jpeg[at + 4..].starts_with(b"ICC_PROFILE\0")) {
            out.extend_from_slice(&jpeg[at..at + 2 + length]);
        }
        at += 2 + length;
    }
    out.extend_from_slice(&jpeg[at..]);
    out
}

#[test]
fn gif_takes_the_first_frame_of_many() {
    use image::codecs::gif::GifEncoder;
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        for i in 0..400u32 {
            let colour = if i == 0 { [250, 0, 0, 255] } else { [0, 0, 250, 255] };
            let frame = image::Frame::new(image::RgbaImage::from_pixel(256, 256, image::Rgba(colour)));
            encoder.encode_frame(frame).unwrap();
        }
    }
    let thumbs = process(&out, &config()).unwrap();
    assert_eq!(thumbs.source.format, InputFormat::Gif);
    assert!(close(pixel(&decode_output(&thumbs.renditions[0].data), 100, 100), [250, 0, 0]));
}

// ---- rejections -------------------------------------------------------------------------------

#[test]
fn non_images_and_empty_files() {
    assert_eq!(reason(b"", &config()), RejectReason::Empty);
    assert_eq!(reason(b"just some text renamed to .jpg", &config()), RejectReason::NotAnImage);
    assert_eq!(reason(b"<!DOCTYPE html><script>alert(1)</script>", &config()), RejectReason::NotAnImage);
    assert_eq!(reason(b"\xFF\xD8\xFF\xD9", &config()), RejectReason::NotAnImage);
    assert_eq!(reason(b"\x89PNG\r\n\x1a\n", &config()), RejectReason::Corrupt);
    assert_eq!(
        reason(b"<svg xmlns='http://www.w3.org/2000/svg'><script>x</script></svg>", &config()),
        RejectReason::UnsupportedFormat
    );
    let bmp = encode_with_image(
        image::DynamicImage::ImageRgb8(image::RgbImage::new(4, 4)),
        image::ImageFormat::Png,
    );
    let mut bmp_like = b"BM".to_vec();
    bmp_like.extend_from_slice(&bmp);
    assert_eq!(reason(&bmp_like, &config()), RejectReason::UnsupportedFormat);
}

#[test]
fn allow_list_is_enforced() {
    let mut config = config();
    config.limits.allowed_types = vec![InputFormat::Jpeg];
    let png = grey_png(10, 10, &[]);
    let reject = process(&png, &config).unwrap_err();
    assert_eq!(reject.reason, RejectReason::UnsupportedFormat);
    assert!(reject.message.contains("accepted formats: JPEG"), "{}", reject.message);
}

#[test]
fn header_bombs_are_refused_before_any_pixel_buffer() {
    let png_bomb = png(100_000, 100_000, 2, &[], None);
    assert_eq!(reason(&png_bomb, &config()), RejectReason::DimensionsTooLarge);
    let png_bomb = png(16_000, 16_000, 6, &[], None);
    assert_eq!(reason(&png_bomb, &config()), RejectReason::TooManyPixels);

    let mut jpeg_bomb = encode_jpeg(&card(16, 16), &[], None);
    let sof = jpeg_bomb.windows(2).position(|w| w[0] == 0xFF && matches!(w[1], 0xC0 | 0xC2)).unwrap();
    jpeg_bomb[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]); // 65000 × 65000
    assert_eq!(reason(&jpeg_bomb, &config()), RejectReason::DimensionsTooLarge);
    jpeg_bomb[sof + 5..sof + 9].copy_from_slice(&[0x3A, 0x98, 0x3A, 0x98]); // 15000 × 15000
    assert_eq!(reason(&jpeg_bomb, &config()), RejectReason::TooManyPixels);
    jpeg_bomb[sof + 5..sof + 9].copy_from_slice(&[0x00, 0x00, 0x00, 0x10]); // 16 × 0
    assert_eq!(reason(&jpeg_bomb, &config()), RejectReason::InvalidDimensions);

    let mut gif_bomb = b"GIF89a\xFF\xFF\xFF\xFF\x00\x00\x00".to_vec();
    gif_bomb.extend_from_slice(b"\x2C\0\0\0\0\xFF\xFF\xFF\xFF\x00\x02\x02\x44\x01\x00\x3B");
    assert!(matches!(
        reason(&gif_bomb, &config()),
        RejectReason::DimensionsTooLarge | RejectReason::TooManyPixels
    ));

    // VP8X canvas of 16384 × 16384: within the side limit, far over the pixel limit.
    let mut vp8x = vec![0u8; 10];
    vp8x[4..7].copy_from_slice(&(16383u32.to_le_bytes()[..3]));
    vp8x[7..10].copy_from_slice(&(16383u32.to_le_bytes()[..3]));
    let mut webp_bomb = b"RIFF".to_vec();
    webp_bomb.extend_from_slice(&(4u32 + 18).to_le_bytes());
    webp_bomb.extend_from_slice(b"WEBPVP8X");
    webp_bomb.extend_from_slice(&10u32.to_le_bytes());
    webp_bomb.extend_from_slice(&vp8x);
    assert!(matches!(reason(&webp_bomb, &config()), RejectReason::TooManyPixels | RejectReason::Corrupt));
}

#[test]
fn real_decompression_bomb_is_refused_by_the_pixel_cap() {
    // 8000 × 8000 grey: 64 MP of valid, highly compressible data.
    let bomb = grey_png(8000, 8000, &[]);
    assert!(bomb.len() < 200_000, "{}", bomb.len());
    assert_eq!(reason(&bomb, &config()), RejectReason::TooManyPixels);
}

#[test]
fn metadata_bombs_cost_no_more_than_a_budget() {
    let mut iccp = b"icc\0\0".to_vec();
    iccp.extend(zlib(&vec![0u8; 256 << 20]));
    let mut ztxt = b"Comment\0\0".to_vec();
    ztxt.extend(zlib(&vec![b'a'; 256 << 20]));
    for extra in [png_chunk(b"iCCP", &iccp), png_chunk(b"zTXt", &ztxt)] {
        let file = grey_png(64, 64, &[extra]);
        // A thumbnail with the metadata ignored, or a rejection: never an allocation of 256 MiB.
        match process(&file, &config()) {
            Ok(thumbs) => assert_eq!(thumbs.renditions[0].width, 64),
            Err(reject) => assert!(
                matches!(reject.reason, RejectReason::DecodeLimitExceeded | RejectReason::Corrupt),
                "{reject}"
            ),
        }
    }
}

#[test]
fn decode_memory_budget_is_enforced() {
    let mut config = config();
    config.limits.max_decode_bytes = 16 << 20;
    let big = image::DynamicImage::ImageRgba16(image::ImageBuffer::new(2000, 2000));
    let reject = process(&encode_with_image(big, image::ImageFormat::Png), &config).unwrap_err();
    assert_eq!(reject.reason, RejectReason::DecodeLimitExceeded);
    assert!(reject.message.contains("16 MiB"), "{}", reject.message);
}

#[test]
fn extreme_aspect_ratios_are_refused() {
    let thin = grey_png(16_000, 1, &[]);
    assert_eq!(reason(&thin, &config()), RejectReason::ExtremeAspectRatio);
    let tall = grey_png(1, 9_000, &[]);
    assert_eq!(reason(&tall, &config()), RejectReason::ExtremeAspectRatio);
}

#[test]
fn oversized_uploads_are_refused() {
    let mut config = config();
    config.limits.max_upload_bytes = 1000;
    let reject = process(PHOTO_1, &config).unwrap_err();
    assert_eq!(reject.reason, RejectReason::FileTooLarge);
}

#[test]
fn corrupt_png_checksums_are_refused() {
    let mut file = grey_png(32, 32, &[]);
    let idat = file.windows(4).position(|w| w == b"IDAT").unwrap();
    let len = u32::from_be_bytes(file[idat - 4..idat].try_into().unwrap()) as usize;
    file[idat + 4 + len] ^= 0xFF; // IDAT CRC
    assert_eq!(reason(&file, &config()), RejectReason::Corrupt);
    let mut file = grey_png(32, 32, &[]);
    file[29] ^= 0xFF; // IHDR CRC
    assert_eq!(reason(&file, &config()), RejectReason::Corrupt);
}

// ---- truncation and corruption sweeps ----------------------------------------------------------

/// Offsets to cut at: every 37th byte of the first 1000, then 150 points spread over the rest.
fn cuts(len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = (0..1000.min(len)).step_by(37).collect();
    cuts.extend((1..150).map(|i| len * i / 150));
    cuts.push(len / 2);
    cuts.push(len - 1);
    cuts
}

#[test]
fn every_prefix_of_a_real_photo_is_refused_never_a_grey_half_picture() {
    for photo in [PHOTO_1, PHOTO_6] {
        for cut in cuts(photo.len()) {
            let reject = process(&photo[..cut], &config()).unwrap_err();
            assert!(
                matches!(
                    reject.reason,
                    RejectReason::Corrupt | RejectReason::Empty | RejectReason::NotAnImage
                ),
                "cut at {cut}: {reject}"
            );
        }
    }
    let half = process(&PHOTO_1[..PHOTO_1.len() / 2], &config()).unwrap_err();
    assert_eq!(half.reason, RejectReason::Corrupt);
    assert!(half.message.contains("truncated"), "{}", half.message);
}

#[test]
fn every_prefix_of_other_formats_gets_an_outcome() {
    let photo = decode_output(&process(PHOTO_1, &config()).unwrap().renditions[2].data);
    let image = image::DynamicImage::ImageRgb8(
        image::RgbImage::from_raw(photo.width, photo.height, photo.data).unwrap(),
    );
    for format in [image::ImageFormat::Png, image::ImageFormat::Gif, image::ImageFormat::WebP] {
        let file = encode_with_image(image.clone(), format);
        process(&file, &config()).unwrap();
        for cut in cuts(file.len()) {
            // Any outcome but a panic; a PNG cut before its final (empty) IEND chunk must be
            // refused.
            let outcome = process(&file[..cut], &config());
            if format == image::ImageFormat::Png && cut < file.len() - 12 {
                assert!(outcome.is_err(), "{format:?} cut at {cut} accepted");
            }
        }
    }
}

/// Damaged files are the file's fault: every seeded flip of a JPEG's or a PNG's bytes ends
/// ready or rejected, never as an internal failure (which is what a panic inside becomes).
#[test]
fn seeded_byte_flips_are_ready_or_rejected_never_internal() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let small = encode_jpeg(&card(96, 64), &[(Marker::APP(1), exif_orientation(6))], None);
    let small_png = grey_png(40, 30, &[]);
    let (mut ready, mut rejected) = (0, 0);
    for base in [&small, &small_png] {
        for _ in 0..300 {
            let mut file = base.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % file.len() as u64) as usize;
                file[at] = next() as u8;
            }
            match super::process(&file, &config()) {
                Ok(thumbs) => {
                    assert!(!thumbs.renditions.is_empty());
                    ready += 1;
                }
                Err(Failure::Rejected(reject)) => {
                    assert!(!reject.message.is_empty());
                    rejected += 1;
                }
                Err(Failure::Internal(what)) => panic!("a damaged file failed internally: {what}"),
            }
        }
    }
    // The flips exercise both ends: some damage is harmless, some is refused.
    assert!(ready > 0 && rejected > 0, "{ready} ready, {rejected} rejected");
}

/// A panic inside the engine is ours: an internal failure with the panic's message, never a
/// rejection of the file. The panic is real (the test build's fault injection, while encoding)
/// and the test does not catch it: `process` does.
#[test]
fn a_panic_inside_is_an_internal_failure_not_the_files_fault() {
    let card = card(96, 64);
    let clean = encode_jpeg(&card, &[], None);
    let marked = encode_jpeg(&card, &[(Marker::COM, fault::PANIC_MARKER.to_vec())], None);
    assert!(super::process(&clean, &config()).is_ok(), "the same picture without the marker is fine");
    match super::process(&marked, &config()) {
        Err(Failure::Internal(what)) => {
            assert!(what.starts_with("panic: injected fault"), "{what}");
        }
        other => panic!("expected an internal failure, got {other:?}"),
    }
}

/// An encoder that fails is ours too: pixels that do not match their size (an impossible state
/// for `process`) make libjpeg's encoder fail, and the error says which encoder.
#[test]
fn an_encoder_error_is_reported_with_the_encoder() {
    let short = Pixels { width: 64, height: 64, channels: 3, data: vec![0; 64 * 3] };
    let err = encode::jpeg(&short, 80).unwrap_err();
    assert!(err.starts_with("jpeg encoder: "), "{err}");
}

/// libjpeg's own fatal errors are sorted: bad data is the file's, misuse and memory are ours.
#[test]
fn libjpeg_errors_about_data_are_the_files_and_the_rest_ours() {
    use jpeg::DecodeError;
    let data = "libjpeg fatal error: Corrupt JPEG data: bad Huffman code".to_owned();
    assert!(matches!(jpeg::classify_decoder_panic(data), DecodeError::Corrupt(_)));
    for ours in [
        "libjpeg fatal error: Improper call to JPEG library in state 205",
        "libjpeg fatal error: Insufficient memory (case 4)",
        "index out of bounds: the len is 3 but the index is 7",
    ] {
        assert!(matches!(jpeg::classify_decoder_panic(ours.to_owned()), DecodeError::Internal(_)), "{ours}");
    }
}

#[test]
fn an_icc_profile_over_the_cap_is_not_parsed() {
    let mut icc = moxcms::ColorProfile::new_display_p3().encode().unwrap();
    icc.resize(ICC_MAX_BYTES + 1, 0);
    assert!(pixels::ToSrgb::new(&icc, 3).is_some(), "the padded profile is one that would convert");
    let flat = Pixels { width: 64, height: 64, channels: 3, data: [40u8, 180, 90].repeat(64 * 64) };
    let oversized = process(&encode_jpeg(&flat, &[], Some(&icc)), &config()).unwrap();
    let oversized = pixel(&decode_output(&oversized.renditions[0].data), 32, 32);
    assert!(close(oversized, [40, 180, 90]), "taken as sRGB, unconverted: {oversized:?}");
}

#[test]
fn past_its_deadline_the_engine_stops_at_the_next_stage_as_too_slow() {
    let late =
        process_with(PHOTO_1, &config(), Options { deadline: Some(Instant::now()), ..Options::default() });
    let Err(reject) = late else { panic!("finished despite the deadline") };
    assert_eq!(reject.reason, RejectReason::TooSlow);
    assert!(reject.message.contains("after decoding"), "{}", reject.message);
    // With time to spare it finishes.
    let spare = Instant::now() + Duration::from_secs(600);
    let options = Options { deadline: Some(spare), ..Options::default() };
    assert_eq!(process_with(PHOTO_1, &config(), options).unwrap().renditions.len(), 4);
}

/// Golden: a GIF with an extension block of a label nobody knows (browsers skip it) gives
/// exactly the renditions of the same GIF without it; the `gif` crate alone refuses it.
#[test]
fn a_gif_with_an_unknown_extension_block_is_read_as_browsers_read_it() {
    const PLAIN: &[u8] = include_bytes!("../fixtures/gif-plain.gif");
    const UNKNOWN: &[u8] = include_bytes!("../fixtures/gif-unknown-extension.gif");
    assert!(image::load_from_memory_with_format(UNKNOWN, image::ImageFormat::Gif).is_err());
    assert_eq!(generic::skip_unknown_gif_extensions(UNKNOWN).as_ref(), PLAIN);
    let plain = process(PLAIN, &config()).unwrap();
    let lenient = process(UNKNOWN, &config()).unwrap();
    assert_eq!(lenient.source, plain.source);
    assert_eq!(lenient.renditions, plain.renditions, "byte-identical renditions");
}

#[test]
fn the_gif_block_walk_leaves_what_it_cannot_follow_to_the_decoder() {
    const UNKNOWN: &[u8] = include_bytes!("../fixtures/gif-unknown-extension.gif");
    // Cut inside the unknown block: nothing is dropped, and the decoder calls it damaged.
    let cut = &UNKNOWN[..22];
    assert!(matches!(generic::skip_unknown_gif_extensions(cut), std::borrow::Cow::Borrowed(_)));
    assert_eq!(reason(cut, &config()), RejectReason::Corrupt);
    // Not a GIF at all, or too short for a screen descriptor: unchanged.
    for data in [&b"GIF89a"[..], b"", b"\x89PNG\r\n\x1a\n"] {
        assert_eq!(generic::skip_unknown_gif_extensions(data).as_ref(), data);
    }
}

#[test]
fn the_fault_marker_goes_into_a_comment_after_the_start_of_image() {
    let marked = fault::marked_jpeg(PHOTO_1);
    assert_eq!(&marked[..4], &[0xFF, 0xD8, 0xFF, 0xFE]);
    assert_eq!(usize::from(u16::from_be_bytes([marked[4], marked[5]])), fault::PANIC_MARKER.len() + 2);
    assert_eq!(&marked[6..6 + fault::PANIC_MARKER.len()], fault::PANIC_MARKER);
    assert_eq!(&marked[6 + fault::PANIC_MARKER.len()..], &PHOTO_1[2..]);
    assert!(jpeg::scan(&marked).is_ok(), "still a well-formed JPEG");
}

// ---- watermark --------------------------------------------------------------------------------

#[test]
fn the_watermark_marks_the_large_renditions_only_and_the_small_ones_stay_byte_identical() {
    let settings = thumbforge_core::watermark::Watermark {
        image: "watermark.png".into(),
        min_size: 1024,
        ..thumbforge_core::watermark::Watermark::default()
    };
    let mark = watermark::Mark::from_png(include_bytes!("../fixtures/watermark.png"), &settings).unwrap();
    let clean = process(PHOTO_1, &config()).unwrap();
    let options = Options { watermark: Some(&mark), ..Options::default() };
    let marked = process_with(PHOTO_1, &config(), options).unwrap();
    assert_eq!(marked.placeholder, clean.placeholder, "the placeholder comes from clean pixels");
    assert_eq!(marked.renditions.len(), clean.renditions.len());
    for (m, c) in marked.renditions.iter().zip(&clean.renditions) {
        assert_eq!((m.size, m.format, m.width, m.height), (c.size, c.format, c.width, c.height));
        if m.size < 1024 {
            assert_eq!(m.data, c.data, "{} px {:?} is below min_size: untouched", m.size, m.format);
        } else {
            assert_ne!(m.data, c.data, "{} px {:?} carries the mark", m.size, m.format);
        }
    }
    // The 1024 px JPEG (1024 × 683): the mark is 20 % of 683 = 137 px wide, 3 % (20 px) from the
    // south-east corner. Inside its band the pixels move; far from it they do not.
    let at = settings.place(1024, 683, 48, 24).unwrap();
    let (m, c) = (decode_output(&marked.renditions[0].data), decode_output(&clean.renditions[0].data));
    let mean_diff = |x0: u32, y0: u32, x1: u32, y1: u32| {
        let mut total = 0u64;
        for y in y0..y1 {
            for x in x0..x1 {
                let (a, b) = (pixel(&m, x, y), pixel(&c, x, y));
                total += a.iter().zip(b).map(|(&a, b)| u64::from(a.abs_diff(b))).sum::<u64>();
            }
        }
        total as f64 / f64::from((x1 - x0) * (y1 - y0) * 3)
    };
    let band =
        mean_diff(at.x + at.width / 2, at.y + at.height / 3, at.x + at.width, at.y + 2 * at.height / 3);
    assert!(band > 20.0, "the mark's opaque band changed the rendition by only {band:.1} levels");
    let far = mean_diff(0, 0, at.x - 32, at.y - 32);
    assert!(far < 0.05, "far from the mark the rendition changed by {far:.3} levels");
}
