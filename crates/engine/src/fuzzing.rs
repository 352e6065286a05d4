//! Fuzzing: the targets' bodies and a mutation search, shared by the cargo-fuzz targets
//! (`crates/engine/fuzz/fuzz_targets/`, for a nightly toolchain), the stable search of
//! `thumbforge-fuzz` (`cargo xtask fuzz`) and the tests, which run every committed seed and
//! regression through its target and a short seeded search on each.
//!
//! A target panics on a finding: a panic inside a hand-written parser, or, for the whole engine,
//! any [`Failure::Internal`] (which is what a panic inside `process` becomes).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::LazyLock;

use thumbforge_core::config::{Limits, Sizes};
use thumbforge_core::{InputFormat, RuntimeConfig};

use crate::{Failure, generic, jpeg, jpeg_dc, sniff};

/// One fuzz target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The whole engine (`process`) under small limits: never an internal failure.
    Process,
    /// The JPEG structure scan (`jpeg::scan`): never a panic.
    JpegScan,
    /// The DC-only JPEG decoder, on files the scan accepts within the limits.
    JpegDc,
    /// The header peeks: the magic-byte sniffer, the PNG/GIF size fields and the GIF block walk
    /// that drops unknown extensions.
    Peek,
}

impl Target {
    /// Every target, in the order they are run.
    pub const ALL: [Self; 4] = [Self::Process, Self::JpegScan, Self::JpegDc, Self::Peek];

    /// Its name: the cargo-fuzz target's and the seed and regression folders'.
    pub fn name(self) -> &'static str {
        match self {
            Self::Process => "process",
            Self::JpegScan => "jpeg_scan",
            Self::JpegDc => "jpeg_dc",
            Self::Peek => "peek",
        }
    }

    /// The target of a name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Runs the target on one input; panics on a finding.
    pub fn run(self, data: &[u8]) {
        match self {
            Self::Process => process(data),
            // A zero height is legal here (a DNL marker may give it later); `plan` refuses it.
            Self::JpegScan => {
                let _ = jpeg::scan(data);
            }
            Self::JpegDc => jpeg_dc(data),
            Self::Peek => {
                let _ = sniff::sniff(data);
                let kept = generic::skip_unknown_gif_extensions(data);
                assert!(kept.len() <= data.len(), "skipping blocks made the GIF longer");
                for format in InputFormat::ALL {
                    let _ = generic::peek_dimensions(data, format);
                }
            }
        }
    }
}

/// Small renditions and limits, so that each input costs milliseconds (built once, not per input).
static FUZZ_CONFIG: LazyLock<RuntimeConfig> = LazyLock::new(|| {
    let mut config = RuntimeConfig::default();
    config.thumbnails.sizes = Sizes::from([("small", 48)]);
    config.limits =
        Limits { max_pixels: 4_000_000, max_side: 4096, max_decode_bytes: 64 << 20, ..Limits::default() };
    config
});

fn process(data: &[u8]) {
    if let Err(Failure::Internal(what)) = crate::process(data, &FUZZ_CONFIG) {
        panic!("the engine failed internally: {what}");
    }
}

fn jpeg_dc(data: &[u8]) {
    let Ok(info) = jpeg::scan(data) else { return };
    if u64::from(info.width) * u64::from(info.height) > FUZZ_CONFIG.limits.max_pixels {
        return;
    }
    if let Ok(pixels) = jpeg_dc::decode(data) {
        let (width, height) = (info.width.div_ceil(8), info.height.div_ceil(8));
        assert_eq!((pixels.width, pixels.height, pixels.channels), (width, height, 3), "the 1/8 size");
        assert_eq!(pixels.data.len(), width as usize * height as usize * 3, "the pixel buffer");
    }
}

/// A small, fast, seedable generator (xorshift64*): the same seed gives the same inputs.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; 0 is replaced).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Values that tend to sit on boundaries: lengths, markers, sizes.
const INTERESTING: [u8; 10] = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF, 0xD8, 0xD9, 0xDA, 0xC0];

/// Mutates a copy of one of `seeds` with one to eight edits (bit flips, interesting bytes,
/// inserted, deleted or repeated runs, a truncation, a splice with another seed, a JPEG marker).
pub fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(8) {
        if data.is_empty() {
            data.push(rng.next_u64() as u8);
            continue;
        }
        let at = rng.below(data.len());
        match rng.below(9) {
            0 => data[at] ^= 1 << rng.below(8),
            1 => data[at] = rng.next_u64() as u8,
            2 => data[at] = INTERESTING[rng.below(INTERESTING.len())],
            3 => {
                let run: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next_u64() as u8).collect();
                data.splice(at..at, run);
            }
            4 => {
                let end = (at + 1 + rng.below(64)).min(data.len());
                data.drain(at..end);
            }
            5 => {
                let end = (at + 1 + rng.below(64)).min(data.len());
                let run = data[at..end].to_vec();
                data.splice(at..at, run);
            }
            6 => data.truncate(at),
            7 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            _ => {
                let marker = [0xFF, INTERESTING[rng.below(INTERESTING.len())]];
                data.splice(at..at, marker);
            }
        }
    }
    data
}

/// Whether running `target` on `data` panicked, with the panic's message.
pub fn finding(target: Target, data: &[u8]) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| target.run(data))).err().map(|panic| jpeg::panic_message(panic.as_ref()))
}

/// Mutates `seeds` and runs `target` on each result while `more()` says so, handing every
/// input that panicked (with the message) to `found`; returns how many inputs were run.
pub fn search(
    target: Target,
    seeds: &[Vec<u8>],
    rng: &mut Rng,
    mut more: impl FnMut(u64) -> bool,
    mut found: impl FnMut(&[u8], String),
) -> u64 {
    let mut runs = 0;
    if seeds.is_empty() {
        return 0;
    }
    while more(runs) {
        let input = mutate(rng, seeds);
        if let Some(message) = finding(target, &input) {
            found(&input, message);
        }
        runs += 1;
    }
    runs
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn fuzz_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
    }

    /// The files of `fuzz/<kind>/<target>/`, sorted (none when the folder does not exist).
    fn files(kind: &str, target: Target) -> Vec<(PathBuf, Vec<u8>)> {
        let dir = fuzz_dir().join(kind).join(target.name());
        let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
        let mut paths: Vec<PathBuf> =
            entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
        paths.sort();
        paths.into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect()
    }

    #[test]
    fn names_round_trip() {
        for target in Target::ALL {
            assert_eq!(Target::parse(target.name()), Some(target));
        }
        assert_eq!(Target::parse("nope"), None);
    }

    /// Every committed seed passes its target, and so does every committed regression (a crash
    /// the search found once, kept so that it never comes back).
    #[test]
    fn every_seed_and_regression_passes_its_target() {
        for target in Target::ALL {
            let seeds = files("seeds", target);
            assert!(seeds.len() >= 3, "{}: at least three seeds, got {}", target.name(), seeds.len());
            for (path, data) in seeds.iter().chain(&files("regressions", target)) {
                if let Some(message) = finding(target, data) {
                    panic!("{}: {} panicked: {message}", target.name(), path.display());
                }
            }
        }
    }

    /// A short search with a fixed seed (the same inputs every run) finds nothing.
    #[test]
    fn a_seeded_search_of_each_target_finds_nothing() {
        for target in Target::ALL {
            let seeds: Vec<Vec<u8>> = files("seeds", target).into_iter().map(|(_, data)| data).collect();
            let mut rng = Rng::new(0x7468_756D_6266_6F72);
            let mut findings = Vec::new();
            let runs = search(
                target,
                &seeds,
                &mut rng,
                |runs| runs < 200,
                |input, message| {
                    findings.push((input.len(), message));
                },
            );
            assert_eq!(runs, 200);
            assert!(findings.is_empty(), "{}: {findings:?}", target.name());
        }
    }

    /// The search reports what panics: a target that panics on every input is found each time.
    #[test]
    fn a_panicking_input_is_a_finding() {
        let photo =
            std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/photos/orient_1.jpg"))
                .unwrap();
        let marked = crate::fault::marked_jpeg(&photo);
        let message = finding(Target::Process, &marked).expect("the injected panic is a finding");
        assert!(message.contains("failed internally: panic: injected fault"), "{message}");
        assert_eq!(finding(Target::Process, &photo), None);
    }

    #[test]
    fn mutations_are_deterministic_and_vary() {
        let seeds = vec![b"0123456789abcdef".to_vec()];
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..50).map(|_| mutate(&mut rng, &seeds)).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        let outputs = run(1);
        assert!(outputs.iter().filter(|o| **o != seeds[0]).count() > 40, "most inputs change");
    }
}
