//! The thumbnail engine: bytes in, encoded renditions and a placeholder out, or a [`Failure`]:
//! a typed rejection when the file is at fault, an internal failure when our code is.
//!
//! Pure and synchronous: no AWS, no async runtime, no environment, no clock but the stage
//! timings and the optional deadline. The pipeline is
//! sniff → header → limits → decode once (JPEG at a reduced DCT scale) → resize the largest
//! rendition, then each smaller one from the previous → orient → sRGB → watermark (the renditions
//! it applies to, drawn on and taken off again) → encode. Same bytes, config and watermark give
//! byte-identical outputs.

pub mod encode;
pub mod fuzzing;
mod generic;
pub mod geometry;
pub mod jpeg;
mod jpeg_dc;
pub mod pixels;
pub mod sniff;
#[cfg(test)]
mod tests;
pub mod watermark;

/// Test builds only (the `fault-injection` feature, which `cargo xtask test` turns on and no
/// release build does): an upload carrying [`PANIC_MARKER`] makes the engine panic while
/// encoding, so the tests of every layer above prove the internal-failure path with a real
/// panic instead of a stand-in.
#[cfg(any(test, feature = "fault-injection"))]
pub mod fault {
    /// The bytes that, anywhere in an upload (a JPEG comment, say), trigger the panic.
    pub const PANIC_MARKER: &[u8] = thumbforge_core::fault::PANIC_MARKER;

    /// `jpeg` with [`PANIC_MARKER`] in a comment segment right after its start-of-image marker:
    /// the same picture, which this build panics on.
    pub fn marked_jpeg(jpeg: &[u8]) -> Vec<u8> {
        let (soi, rest) = jpeg.split_at(jpeg.len().min(2));
        let length = u16::try_from(PANIC_MARKER.len() + 2).unwrap_or(u16::MAX);
        [soi, &[0xFF, 0xFE], &length.to_be_bytes(), PANIC_MARKER, rest].concat()
    }

    /// Panics when `data` carries the marker.
    pub(crate) fn check(data: &[u8]) {
        if memchr::memmem::find(data, PANIC_MARKER).is_some() {
            panic!("injected fault: the upload carries the fault-injection marker");
        }
    }
}

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use image::metadata::Orientation;
use thumbforge_core::config::human_bytes;
use thumbforge_core::manifest::Placeholder;
use thumbforge_core::{InputFormat, OutputFormat, RejectReason, RuntimeConfig};

use self::sniff::Sniffed;

/// Decoded 8-bit pixels, RGB or RGBA, rows packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixels {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 3 (RGB) or 4 (RGBA, straight alpha).
    pub channels: u8,
    /// `width * height * channels` bytes.
    pub data: Vec<u8>,
}

/// Why an upload is not turned into thumbnails. Permanent: the same bytes always get it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct Reject {
    /// Stable code.
    pub reason: RejectReason,
    /// Human explanation.
    pub message: String,
}

impl Reject {
    fn new(reason: RejectReason, message: impl Into<String>) -> Self {
        Self { reason, message: message.into() }
    }
}

/// The source image as detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceInfo {
    /// Format from the magic bytes.
    pub format: InputFormat,
    /// Width after EXIF orientation.
    pub width: u32,
    /// Height after EXIF orientation.
    pub height: u32,
}

/// One encoded rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The configured box size.
    pub size: u32,
    /// Actual width.
    pub width: u32,
    /// Actual height.
    pub height: u32,
    /// Encoding.
    pub format: OutputFormat,
    /// The file.
    pub data: Vec<u8>,
}

/// Time spent per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Header parsing and decoding.
    pub decode: Duration,
    /// Resizing, orientation and colour conversion.
    pub resize: Duration,
    /// Encoding every output.
    pub encode: Duration,
}

/// Every rendition of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnails {
    /// The source.
    pub source: SourceInfo,
    /// Largest box first; JPEG then WebP for each box.
    pub renditions: Vec<Encoded>,
    /// The colour and blurred sketch a page shows while a thumbnail loads.
    pub placeholder: Placeholder,
    /// Stage timings.
    pub timings: Timings,
}

/// The largest embedded ICC profile parsed; a larger one is ignored (the pixels are taken as
/// sRGB), so a hostile profile cannot cost more than this much parsing.
pub const ICC_MAX_BYTES: usize = 1 << 20;

/// What a job may take besides the upload and the configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// The watermark drawn on the renditions it applies to (built from `config.watermark` and
    /// the PNG by the caller; none: no watermark, whatever the config says).
    pub watermark: Option<&'a watermark::Mark>,
    /// Give up with a `too_slow` rejection at the first stage boundary (after the decode, each
    /// resize, each encode) past this.
    pub deadline: Option<Instant>,
}

/// Turns an upload into thumbnails, or says why not. Never panics: a panic anywhere inside
/// becomes a [`Failure::Internal`].
pub fn process(data: &[u8], config: &RuntimeConfig) -> Result<Thumbnails, Failure> {
    process_with(data, config, Options::default())
}

/// [`process`] with a watermark and a deadline.
pub fn process_with(
    data: &[u8],
    config: &RuntimeConfig,
    options: Options<'_>,
) -> Result<Thumbnails, Failure> {
    catch_unwind(AssertUnwindSafe(|| process_unguarded(data, config, options)))
        .unwrap_or_else(|panic| Err(internal(format!("panic: {}", jpeg::panic_message(panic.as_ref())))))
}

/// Why no thumbnails came out of an upload: the file's fault, or ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The file is not acceptable; permanent: the same bytes always get it.
    #[error(transparent)]
    Rejected(#[from] Reject),
    /// Our code failed (a panic, an encoder error, an impossible state), logged at error level
    /// where it happened. Not the file's fault: a fixed build may succeed on the same bytes.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A [`Failure::Internal`], logged at error level with what went wrong.
fn internal(what: String) -> Failure {
    tracing::error!(error = %what, "the engine failed (a bug of ours, not the file's fault)");
    Failure::Internal(what)
}

fn allowed_list(config: &RuntimeConfig) -> String {
    let names: Vec<String> = config.limits.allowed_types.iter().map(|f| f.name().to_uppercase()).collect();
    names.join(", ")
}

fn detect(data: &[u8], config: &RuntimeConfig) -> Result<InputFormat, Reject> {
    let limits = &config.limits;
    if u64::try_from(data.len()).unwrap_or(u64::MAX) > limits.max_upload_bytes {
        return Err(Reject::new(
            RejectReason::FileTooLarge,
            format!("the file is larger than the {} limit", human_bytes(limits.max_upload_bytes)),
        ));
    }
    match sniff::sniff(data) {
        Sniffed::Empty => Err(Reject::new(RejectReason::Empty, "the file is empty")),
        Sniffed::Unknown => Err(Reject::new(
            RejectReason::NotAnImage,
            format!("the file is not an image; accepted formats: {}", allowed_list(config)),
        )),
        Sniffed::OtherImage(name) => Err(Reject::new(
            RejectReason::UnsupportedFormat,
            format!("{name} images are not accepted; accepted formats: {}", allowed_list(config)),
        )),
        Sniffed::Supported(format) if !limits.allowed_types.contains(&format) => Err(Reject::new(
            RejectReason::UnsupportedFormat,
            format!(
                "{} images are not accepted; accepted formats: {}",
                format.name().to_uppercase(),
                allowed_list(config)
            ),
        )),
        Sniffed::Supported(format) => Ok(format),
    }
}

/// One rendition to make: its configured box and its exact size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    size: u32,
    width: u32,
    height: u32,
}

/// Checks the header's size against the limits and returns each rendition's target size.
fn plan(width: u32, height: u32, config: &RuntimeConfig) -> Result<Vec<Target>, Reject> {
    let limits = &config.limits;
    if width == 0 || height == 0 {
        return Err(Reject::new(
            RejectReason::InvalidDimensions,
            format!("the image is {width}×{height} pixels"),
        ));
    }
    if width > limits.max_side || height > limits.max_side {
        return Err(Reject::new(
            RejectReason::DimensionsTooLarge,
            format!(
                "the image is {width}×{height} pixels; each side must be at most {} pixels",
                limits.max_side
            ),
        ));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(Reject::new(
            RejectReason::TooManyPixels,
            format!(
                "the image has {:.1} megapixels ({width}×{height}); the limit is {:.1} megapixels",
                pixels as f64 / 1e6,
                limits.max_pixels as f64 / 1e6
            ),
        ));
    }
    config
        .sizes_largest_first()
        .into_iter()
        .map(|size| {
            geometry::fit(width, height, size).map(|(w, h)| Target { size, width: w, height: h }).ok_or_else(
                || {
                    Reject::new(
                        RejectReason::ExtremeAspectRatio,
                        format!("the image is {width}×{height} pixels, too narrow for a {size} px thumbnail"),
                    )
                },
            )
        })
        .collect()
}

fn over_budget(needed: u64, config: &RuntimeConfig) -> Result<(), Reject> {
    let budget = config.limits.max_decode_bytes;
    if needed > budget {
        return Err(Reject::new(
            RejectReason::DecodeLimitExceeded,
            format!(
                "decoding would need {} of memory; the limit is {}",
                human_bytes(needed),
                human_bytes(budget)
            ),
        ));
    }
    Ok(())
}

/// One decode of the source, ready for resizing.
struct Source {
    pixels: Pixels,
    orientation: Orientation,
    icc: Option<Vec<u8>>,
    width: u32,
    height: u32,
}

fn decode(
    data: &[u8],
    format: InputFormat,
    config: &RuntimeConfig,
) -> Result<(Source, Vec<Target>), Failure> {
    let corrupt = |why: String| Reject::new(RejectReason::Corrupt, why);
    if format == InputFormat::Jpeg {
        let info = jpeg::scan(data).map_err(|e| match e {
            jpeg::ScanError::NoFrame => {
                Reject::new(RejectReason::NotAnImage, "the file has a JPEG signature but no picture inside")
            }
            jpeg::ScanError::Truncated(why) => corrupt(format!("the JPEG is truncated: {why}")),
            jpeg::ScanError::Malformed(why) => corrupt(format!("the JPEG is malformed: {why}")),
            jpeg::ScanError::Unsupported(why) => Reject::new(RejectReason::UnsupportedFormat, why),
        })?;
        let targets = plan(info.width, info.height, config)?;
        let largest = targets.first().map_or((info.width, info.height), |t| (t.width, t.height));
        let numerator = geometry::dct_numerator(info.width, info.height, largest);
        let (w, h) = geometry::dct_scaled(info.width, info.height, numerator);
        over_budget(
            info.working_bytes + u64::from(w) * u64::from(h) * u64::from(info.components.max(3)),
            config,
        )?;
        let pixels = jpeg::decode(data, &info, numerator).map_err(|e| match e {
            jpeg::DecodeError::Corrupt(why) => Failure::from(corrupt(format!("the JPEG is corrupt: {why}"))),
            jpeg::DecodeError::Internal(why) => internal(format!("libjpeg: {why}")),
        })?;
        let orientation =
            info.exif.and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
        let source = Source { pixels, orientation, icc: info.icc, width: info.width, height: info.height };
        return Ok((source, targets));
    }
    let name = format.name().to_uppercase();
    let classify = |e: generic::Failure| match e {
        generic::Failure::Limit(why) => Reject::new(
            RejectReason::DecodeLimitExceeded,
            format!("the {name} exceeds a decoding limit: {why}"),
        ),
        generic::Failure::Corrupt(why) => corrupt(format!("the {name} is corrupt or truncated: {why}")),
        generic::Failure::Unsupported(why) => Reject::new(
            RejectReason::UnsupportedFormat,
            format!("this {name} variant is not supported: {why}"),
        ),
    };
    if let Some((width, height)) = generic::peek_dimensions(data, format) {
        plan(width, height, config)?;
    }
    let header = generic::header(data, format, &config.limits).map_err(classify)?;
    let targets = plan(header.width, header.height, config)?;
    over_budget(header.total_bytes, config)?;
    let decoded = generic::decode(data, format, &header, &config.limits).map_err(classify)?;
    let source = Source {
        width: decoded.pixels.width,
        height: decoded.pixels.height,
        pixels: decoded.pixels,
        orientation: decoded.orientation,
        icc: decoded.icc,
    };
    Ok((source, targets))
}

fn swaps_sides(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// `Err(too_slow)` once `deadline` has passed, naming the stage just done.
fn in_time(deadline: Option<Instant>, began: Instant, stage: &str) -> Result<(), Reject> {
    match deadline {
        Some(deadline) if Instant::now() >= deadline => Err(Reject::new(
            RejectReason::TooSlow,
            format!(
                "processing the image took too long: {} ms in, after {stage}, there was no time left",
                began.elapsed().as_millis()
            ),
        )),
        _ => Ok(()),
    }
}

fn process_unguarded(
    data: &[u8],
    config: &RuntimeConfig,
    options: Options<'_>,
) -> Result<Thumbnails, Failure> {
    let deadline = options.deadline;
    let format = detect(data, config)?;
    let began = Instant::now();
    let (source, targets) = decode(data, format, config)?;
    let mut timings = Timings { decode: began.elapsed(), ..Timings::default() };
    in_time(deadline, began, "decoding")?;

    let icc = source.icc.as_deref().filter(|icc| {
        let fits = icc.len() <= ICC_MAX_BYTES;
        if !fits {
            tracing::warn!(
                bytes = icc.len(),
                "an ICC profile over 1 MiB is ignored: the pixels are taken as sRGB"
            );
        }
        fits
    });
    let to_srgb = icc.and_then(|icc| pixels::ToSrgb::new(icc, source.pixels.channels));
    let quality = &config.thumbnails;
    let mut renditions = Vec::with_capacity(targets.len() * 2);
    // The largest rendition is resized from the decoded source, then oriented and converted to
    // sRGB; each smaller one is resized from the previous output, which is upright and sRGB
    // already (so the source is freed after the first resize, and nothing is copied).
    let mut previous = source.pixels;
    let mut prepared = false;
    for Target { size, width, height } in targets {
        let started = Instant::now();
        let (width, height) =
            if prepared && swaps_sides(source.orientation) { (height, width) } else { (width, height) };
        let resized = pixels::resize_owned(previous, width, height).map_err(internal)?;
        let mut out = if prepared {
            resized
        } else {
            let mut out = pixels::orient(resized, source.orientation);
            if let Some(to_srgb) = &to_srgb {
                to_srgb.apply(&mut out);
            }
            prepared = true;
            out
        };
        // Drawn on this rendition's pixels for its encodes only, then taken off again.
        let covered = match options.watermark {
            Some(mark) if mark.applies_to(size) => mark.draw(&mut out).map_err(internal)?,
            _ => None,
        };
        let encode_started = Instant::now();
        timings.resize += encode_started - started;
        in_time(deadline, began, "resizing")?;

        #[cfg(any(test, feature = "fault-injection"))]
        fault::check(data);
        for format in quality.output_formats() {
            let encoded = match format {
                OutputFormat::Jpeg => encode::jpeg(&out, quality.jpeg_quality),
                OutputFormat::Webp => encode::webp(&out, quality.webp_quality, quality.webp_effort),
                OutputFormat::Avif => encode::avif(&out, quality.avif_quality, quality.avif_speed),
            };
            let data = encoded.map_err(internal)?;
            renditions.push(Encoded { size, width: out.width, height: out.height, format, data });
            in_time(deadline, began, "encoding")?;
        }
        timings.encode += encode_started.elapsed();
        if let Some(covered) = covered {
            covered.restore(&mut out);
        }
        previous = out;
    }
    // From the smallest rendition, upright and sRGB already (resizing stays in `resize`).
    let started = Instant::now();
    let placeholder = pixels::placeholder(&previous).map_err(internal)?;
    timings.resize += started.elapsed();
    let (width, height) = if swaps_sides(source.orientation) {
        (source.height, source.width)
    } else {
        (source.width, source.height)
    };
    Ok(Thumbnails { source: SourceInfo { format, width, height }, renditions, placeholder, timings })
}
