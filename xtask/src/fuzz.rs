//! `cargo xtask fuzz`: the engine's fuzz targets (`crates/engine/fuzz`), run with what the
//! machine has: cargo-fuzz (libFuzzer, coverage-guided) where a nightly toolchain and
//! `cargo fuzz` exist, otherwise `thumbforge-fuzz`, a stable mutation search seeded from the
//! committed seeds, the regressions and the fixture photos. Either way a crash ends up under
//! `crates/engine/fuzz/regressions/<target>/`, which the engine's tests run as regression tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::flags;
use crate::util;

/// The fuzz targets, as `crates/engine/fuzz/Cargo.toml` and `thumbforge_engine::fuzzing` name them.
pub const TARGETS: [&str; 4] = ["process", "jpeg_scan", "jpeg_dc", "peek"];

/// `crates/engine/fuzz`.
fn fuzz_dir() -> PathBuf {
    util::project_root().join("crates").join("engine").join("fuzz")
}

/// Whether `cargo +nightly fuzz` can run here.
fn has_cargo_fuzz() -> bool {
    let nightly = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .is_ok_and(|out| out.status.success() && String::from_utf8_lossy(&out.stdout).contains("nightly"));
    nightly
        && Command::new("cargo")
            .args(["+nightly", "fuzz", "--version"])
            .output()
            .is_ok_and(|out| out.status.success())
}

/// The fixture photos, extra seeds for the stable search.
fn fixture_photos() -> anyhow::Result<Vec<PathBuf>> {
    let dir = util::project_root().join("fixtures").join("photos");
    let mut photos: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    photos.sort();
    Ok(photos)
}

impl flags::Fuzz {
    fn targets(&self) -> anyhow::Result<Vec<&str>> {
        if self.targets.is_empty() {
            return Ok(TARGETS.to_vec());
        }
        self.targets
            .iter()
            .map(|t| match TARGETS.iter().find(|known| **known == t.as_str()) {
                Some(known) => Ok(*known),
                None => bail!("no fuzz target {t:?}; the targets are {}", TARGETS.join(", ")),
            })
            .collect()
    }

    /// `cargo run` of the stable search over `targets`.
    fn stable_command(&self, targets: &[&str], photos: &[PathBuf]) -> Command {
        let mut command = util::cargo(&[
            "run",
            "--release",
            "--package",
            "thumbforge-cli",
            "--bin",
            "thumbforge-fuzz",
            "--",
        ]);
        command.arg("--dir").arg(fuzz_dir()).args(["--seconds", &self.seconds.to_string()]);
        for target in targets {
            command.args(["--target", target]);
        }
        if let Some(seed) = self.seed {
            command.args(["--seed", &seed.to_string()]);
        }
        command.args(photos);
        command
    }

    /// Runs the targets for `--seconds` each.
    pub fn run(self) -> anyhow::Result<()> {
        let targets = self.targets()?;
        if has_cargo_fuzz() {
            println!("==> nightly and cargo-fuzz found: libFuzzer, {} s per target", self.seconds);
            for target in &targets {
                run_cargo_fuzz(target, self.seconds)?;
            }
            return Ok(());
        }
        println!(
            "==> no nightly toolchain with cargo-fuzz here: the stable mutation search, {} s per target",
            self.seconds
        );
        let photos = fixture_photos()?;
        util::run(
            &mut self.stable_command(&targets, &photos),
            "the search found crashes (written under crates/engine/fuzz/regressions/, now regression tests), or could not run",
        )
    }
}

/// `cargo +nightly fuzz run TARGET` on the committed seeds for `seconds`, then copies its crash
/// artifacts into the regressions.
fn run_cargo_fuzz(target: &str, seconds: u64) -> anyhow::Result<()> {
    let dir = fuzz_dir();
    let corpus = util::project_root().join("target").join("fuzz-corpus").join(target);
    std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let mut command = Command::new("cargo");
    command.current_dir(&dir).args(["+nightly", "fuzz", "run", target]);
    command.arg(&corpus).arg(dir.join("seeds").join(target));
    command.args(["--", &format!("-max_total_time={seconds}")]);
    let outcome =
        util::run(&mut command, "cargo fuzz failed or found a crash (its artifacts are copied below)");
    copy_artifacts(&dir, target)?;
    outcome
}

/// Copies cargo-fuzz's crash artifacts of `target` into `regressions/<target>/`.
fn copy_artifacts(dir: &Path, target: &str) -> anyhow::Result<()> {
    let artifacts = dir.join("artifacts").join(target);
    let Ok(entries) = std::fs::read_dir(&artifacts) else { return Ok(()) };
    let regressions = dir.join("regressions").join(target);
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("crash-") {
            std::fs::create_dir_all(&regressions)
                .with_context(|| format!("creating {}", regressions.display()))?;
            let to = regressions.join(&name);
            std::fs::copy(entry.path(), &to).with_context(|| format!("copying to {}", to.display()))?;
            println!("    crash kept as a regression test: {}", to.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(targets: &[&str]) -> flags::Fuzz {
        flags::Fuzz { seconds: 5, targets: targets.iter().map(|t| (*t).to_owned()).collect(), seed: Some(7) }
    }

    #[test]
    fn targets_are_checked_and_default_to_all() {
        assert_eq!(flags(&[]).targets().unwrap(), TARGETS);
        assert_eq!(flags(&["peek"]).targets().unwrap(), ["peek"]);
        assert!(flags(&["nope"]).targets().unwrap_err().to_string().contains("jpeg_dc"));
    }

    #[test]
    fn the_targets_match_the_cargo_fuzz_layout() {
        let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
        for target in TARGETS {
            assert!(manifest.contains(&format!("name = \"{target}\"")), "{target} in fuzz/Cargo.toml");
            assert!(fuzz_dir().join("fuzz_targets").join(format!("{target}.rs")).is_file(), "{target}.rs");
            assert!(fuzz_dir().join("seeds").join(target).is_dir(), "seeds/{target}/");
        }
    }

    #[test]
    fn the_stable_search_gets_the_flags() {
        let shown = util::display(&flags(&["peek"]).stable_command(&["peek"], &[PathBuf::from("/p.jpg")]));
        assert!(
            shown.contains("--bin thumbforge-fuzz -- --dir ")
                && shown.ends_with("--seconds 5 --target peek --seed 7 /p.jpg"),
            "{shown}"
        );
    }

    #[test]
    fn crash_artifacts_become_regressions() {
        let dir = tempfile::tempdir().unwrap();
        let artifacts = dir.path().join("artifacts").join("peek");
        std::fs::create_dir_all(&artifacts).unwrap();
        std::fs::write(artifacts.join("crash-abc"), b"boom").unwrap();
        std::fs::write(artifacts.join("slow-unit-def"), b"slow").unwrap();
        copy_artifacts(dir.path(), "peek").unwrap();
        let kept = dir.path().join("regressions").join("peek");
        assert_eq!(std::fs::read(kept.join("crash-abc")).unwrap(), b"boom");
        assert!(!kept.join("slow-unit-def").exists());
    }
}
