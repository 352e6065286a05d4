//! `thumbforge-fuzz`: the engine's fuzz targets under a stable mutation search, for machines
//! without a nightly toolchain (`cargo xtask fuzz` runs it there).
//!
//! ```text
//! thumbforge-fuzz [--dir crates/engine/fuzz] [--target NAME]... [--seconds N] [--seed S] [SEED_FILE...]
//! ```
//!
//! For each target (all of them by default) it loads the seeds of `DIR/seeds/<target>/`, the
//! regressions of `DIR/regressions/<target>/` and the extra seed files given, then mutates them
//! for `--seconds` (default 60) per target. Each input that makes the target panic is written to
//! `DIR/regressions/<target>/crash-<hash>`, where the engine's tests pick it up as a regression
//! test (`fuzzing::tests::every_seed_and_regression_passes_its_target`). Exits 1 when it found
//! anything.

#![allow(clippy::print_stderr, reason = "a command-line tool reports its progress on stderr")]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use thumbforge_engine::fuzzing::{self, Rng, Target};

/// The engine's fuzz targets under a stable mutation search.
#[derive(Debug, Parser)]
#[command(name = "thumbforge-fuzz")]
struct Args {
    /// The fuzz folder: `seeds/<target>/` and `regressions/<target>/` are read there.
    #[arg(long, default_value = "crates/engine/fuzz")]
    dir: PathBuf,
    /// A target to run (`process`, `jpeg_scan`, `jpeg_dc`, `peek`); every target by default.
    #[arg(long = "target", value_parser = parse_target)]
    targets: Vec<Target>,
    /// How long to search each target.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// The generator's seed: the same seed and seeds give the same inputs [default: the clock].
    #[arg(long)]
    seed: Option<u64>,
    /// More seed files for every target (the fixture photos, say).
    extra: Vec<PathBuf>,
}

fn parse_target(name: &str) -> Result<Target, String> {
    Target::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
        format!("no target {name:?}; the targets are {}", names.join(", "))
    })
}

/// The files directly in `dir`, sorted; none when it does not exist.
fn read_dir_files(dir: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    let mut paths: Vec<PathBuf> =
        entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display()))).collect()
}

/// FNV-1a, for the name of a crash file (the same input always gets the same name).
fn fnv1a(data: &[u8]) -> u64 {
    data.iter()
        .fold(0xCBF2_9CE4_8422_2325, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3))
}

/// What one target's search did.
#[derive(Debug, Default, PartialEq, Eq)]
struct Report {
    runs: u64,
    /// The crash files written (or already there), one per distinct input.
    crashes: Vec<PathBuf>,
}

/// Searches `target` for `budget`, writing what panics under `dir/regressions/<target>/`.
fn fuzz_target(
    target: Target,
    dir: &Path,
    extra: &[Vec<u8>],
    rng: &mut Rng,
    budget: Duration,
) -> anyhow::Result<Report> {
    let mut seeds = read_dir_files(&dir.join("seeds").join(target.name()))?;
    seeds.extend(read_dir_files(&dir.join("regressions").join(target.name()))?);
    seeds.extend(extra.iter().cloned());
    anyhow::ensure!(
        !seeds.is_empty(),
        "{}: no seeds under {} and none given",
        target.name(),
        dir.join("seeds").join(target.name()).display()
    );
    let regressions = dir.join("regressions").join(target.name());
    let started = Instant::now();
    let failure = std::cell::RefCell::new(None);
    let mut crashes = Vec::new();
    let more = |_| started.elapsed() < budget && failure.borrow().is_none();
    let runs = fuzzing::search(target, &seeds, rng, more, |input, message| {
        let path = regressions.join(format!("crash-{:016x}", fnv1a(input)));
        match std::fs::create_dir_all(&regressions).and_then(|()| std::fs::write(&path, input)) {
            Ok(()) => {
                eprintln!("{}: FOUND ({message}); the input is {}", target.name(), path.display());
                if !crashes.contains(&path) {
                    crashes.push(path);
                }
            }
            Err(e) => *failure.borrow_mut() = Some(format!("writing {}: {e}", path.display())),
        }
    });
    if let Some(failure) = failure.into_inner() {
        anyhow::bail!(failure);
    }
    Ok(Report { runs, crashes })
}

fn run(args: &Args) -> anyhow::Result<bool> {
    let targets = if args.targets.is_empty() { Target::ALL.to_vec() } else { args.targets.clone() };
    let extra = args
        .extra
        .iter()
        .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!("seed {seed} (pass --seed {seed} to repeat this run)");
    let mut rng = Rng::new(seed);
    let mut clean = true;
    for target in targets {
        let started = Instant::now();
        let report = fuzz_target(target, &args.dir, &extra, &mut rng, Duration::from_secs(args.seconds))?;
        let seconds = started.elapsed().as_secs_f64().max(1e-3);
        eprintln!(
            "{:<10} {:>9} inputs in {seconds:.0} s ({:.0}/s), {} crash{}",
            target.name(),
            report.runs,
            report.runs as f64 / seconds,
            report.crashes.len(),
            if report.crashes.len() == 1 { "" } else { "es" }
        );
        clean &= report.crashes.is_empty();
    }
    Ok(clean)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!(
                "crashes found: each is now a regression test (`cargo test -p thumbforge-engine fuzzing`); fix, then keep the file"
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("thumbforge-fuzz: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy of the committed seeds of `target` in a fresh fuzz folder (so that a finding is
    /// written there, not into the source tree).
    fn fuzz_dir_with_seeds(target: Target) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/fuzz/seeds").join(target.name());
        let to = dir.path().join("seeds").join(target.name());
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
        dir
    }

    #[test]
    fn a_short_search_of_the_committed_seeds_runs_and_finds_nothing() {
        let dir = fuzz_dir_with_seeds(Target::JpegScan);
        let mut rng = Rng::new(42);
        let report =
            fuzz_target(Target::JpegScan, dir.path(), &[], &mut rng, Duration::from_millis(300)).unwrap();
        assert!(report.runs > 10, "{report:?}");
        assert_eq!(report.crashes, Vec::<PathBuf>::new());
        assert!(!dir.path().join("regressions").exists());
    }

    #[test]
    fn a_target_without_seeds_is_an_error_not_a_silent_pass() {
        let empty = tempfile::tempdir().unwrap();
        let mut rng = Rng::new(1);
        let err =
            fuzz_target(Target::Peek, empty.path(), &[], &mut rng, Duration::from_millis(10)).unwrap_err();
        assert!(err.to_string().contains("no seeds"), "{err}");
    }

    #[test]
    fn crash_names_are_stable() {
        assert_eq!(fnv1a(b""), 0xCBF2_9CE4_8422_2325);
        assert_eq!(fnv1a(b"a"), fnv1a(b"a"));
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
        assert!(parse_target("process").is_ok());
        assert!(parse_target("nope").unwrap_err().contains("jpeg_scan"));
    }
}
