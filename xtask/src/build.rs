//! `cargo xtask build`: both Lambdas cross-built for Graviton (`aarch64-unknown-linux-gnu`) by
//! cargo-lambda, then repacked into reproducible zips at `target/dist/{presign,thumbnail}.zip`.
//!
//! Reproducible: the zip holds one entry, `bootstrap`, with a fixed timestamp (1980-01-01) and
//! mode (0755), so the same binary always gives the same zip, the same `source_code_hash`, and
//! Terraform does not redeploy a function whose code did not change.

use std::io::{Cursor, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use thumbforge_core::config::human_bytes;
use zip::write::SimpleFileOptions;

use crate::flags;
use crate::tools;
use crate::util::{self, run};

/// The Lambda binaries (each a workspace package with a bin of the same name).
pub const LAMBDAS: [&str; 2] = thumbforge_core::config::FUNCTION_NAMES;

/// The Rust target of `cargo lambda build --arm64`.
pub const TARGET: &str = "aarch64-unknown-linux-gnu";

/// Where the final zips are written (read by Terraform and by the local stack's `--arm64` mode).
pub fn dist_zip(lambda: &str) -> PathBuf {
    util::project_root().join("target").join("dist").join(format!("{lambda}.zip"))
}

/// cargo-lambda's own target dir (its `--target-dir` flag is broken, so it gets `CARGO_TARGET_DIR`):
/// apart from `target/` so that host builds and cross builds never invalidate each other.
pub fn lambda_target_dir() -> PathBuf {
    util::project_root().join("target").join("lambda-build")
}

/// One built zip.
#[derive(Debug, Clone)]
pub struct Built {
    /// `target/dist/{lambda}.zip`.
    pub zip: PathBuf,
    /// The zip's size in bytes.
    pub zip_bytes: u64,
    /// The executable's size in bytes.
    pub binary_bytes: u64,
    /// Base64 SHA-256 of the zip, as Lambda (`CodeSha256`) and Terraform (`filebase64sha256`) show it.
    pub sha256: String,
}

impl flags::Build {
    /// Builds both zips and prints their sizes.
    pub fn run(self) -> anyhow::Result<()> {
        build()?;
        Ok(())
    }
}

/// Cross-builds both Lambdas and writes their reproducible zips.
pub fn build() -> anyhow::Result<Vec<Built>> {
    let venv = tools::MAIN_VENV.ensure()?;
    tools::ensure_rust_target(TARGET)?;
    let mut command = util::cargo(&["lambda", "build", "--release", "--arm64", "--output-format", "zip"]);
    for lambda in LAMBDAS {
        command.args(["-p", lambda]);
    }
    command.env("CARGO_TARGET_DIR", lambda_target_dir()).env("PATH", venv.path_env()?);
    println!(
        "==> cross-building {} for {TARGET} (a fresh build takes a while; later ones are quick)",
        LAMBDAS.join(" and ")
    );
    let started = std::time::Instant::now();
    run(
        &mut command,
        "see the compiler output above; `cargo build -p presign -p thumbnail` reproduces most errors faster",
    )?;
    println!("==> built in {:.0?}", started.elapsed());

    let mut built = Vec::new();
    for lambda in LAMBDAS {
        let from = lambda_target_dir().join("lambda").join(lambda).join("bootstrap.zip");
        let binary = read_bootstrap(&from)?;
        refuse_test_code(lambda, &binary)?;
        let zip = reproducible_zip(&binary)?;
        let to = dist_zip(lambda);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        // Rewrite only on change, so that the file's mtime says when the code last changed.
        if std::fs::read(&to).ok().as_deref() != Some(zip.as_slice()) {
            std::fs::write(&to, &zip).with_context(|| format!("writing {}", to.display()))?;
        }
        let item = Built {
            zip_bytes: zip.len() as u64,
            binary_bytes: binary.len() as u64,
            sha256: base64_sha256(&zip),
            zip: to,
        };
        println!(
            "{:<28} {:>10} (bootstrap {:>10})  sha256 {}",
            item.zip.strip_prefix(util::project_root()).unwrap_or(&item.zip).display(),
            human_bytes(item.zip_bytes),
            human_bytes(item.binary_bytes),
            item.sha256
        );
        built.push(item);
    }
    Ok(built)
}

/// Fails when a release binary carries the engine's test-only fault injection (its marker is
/// in the binary only when the code that panics on it is).
fn refuse_test_code(lambda: &str, binary: &[u8]) -> anyhow::Result<()> {
    let marker = thumbforge_core::fault::PANIC_MARKER;
    if binary.windows(marker.len()).any(|window| window == marker) {
        bail!(
            "the {lambda} release binary contains the engine's fault injection (the `fault-injection` \
             feature of thumbforge-engine, for tests only): something in its dependency tree turns it on"
        );
    }
    Ok(())
}

/// Reads the `bootstrap` executable out of cargo-lambda's zip.
fn read_bootstrap(zip: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(zip)
        .with_context(|| format!("opening {} (did cargo lambda build write it?)", zip.display()))?;
    let mut archive = zip::ZipArchive::new(file).with_context(|| format!("reading {}", zip.display()))?;
    let mut entry =
        archive.by_name("bootstrap").with_context(|| format!("no `bootstrap` in {}", zip.display()))?;
    let mut binary = Vec::new();
    entry.read_to_end(&mut binary).with_context(|| format!("unpacking {}", zip.display()))?;
    if binary.is_empty() {
        bail!("{} holds an empty bootstrap", zip.display());
    }
    Ok(binary)
}

/// A Lambda zip with one executable entry, `bootstrap`, and nothing that varies between builds.
pub fn reproducible_zip(binary: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755);
    writer.start_file("bootstrap", options).context("starting the zip entry")?;
    writer.write_all(binary).context("compressing bootstrap")?;
    Ok(writer.finish().context("finishing the zip")?.into_inner())
}

/// Base64 of the SHA-256 of `bytes`.
pub fn base64_sha256(bytes: &[u8]) -> String {
    aws_smithy_types::base64::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_with_the_fault_injection_is_refused() {
        let clean = b"\x7fELF code and data".repeat(100);
        refuse_test_code("thumbnail", &clean).unwrap();
        let mut tainted = clean.clone();
        tainted.splice(500..500, thumbforge_core::fault::PANIC_MARKER.iter().copied());
        let err = refuse_test_code("thumbnail", &tainted).unwrap_err();
        assert!(err.to_string().contains("fault-injection"), "{err}");
    }

    #[test]
    fn zips_are_reproducible_and_hold_one_executable_bootstrap() {
        let binary = b"\x7fELF pretend this is an aarch64 executable".repeat(100);
        let first = reproducible_zip(&binary).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let second = reproducible_zip(&binary).unwrap();
        assert_eq!(first, second, "same input, same bytes, whatever the time");
        assert_eq!(base64_sha256(&first), base64_sha256(&second));

        let mut archive = zip::ZipArchive::new(Cursor::new(first)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
        assert_eq!(entry.last_modified(), Some(zip::DateTime::default()));
        let mut back = Vec::new();
        entry.read_to_end(&mut back).unwrap();
        assert_eq!(back, binary);
    }

    #[test]
    fn a_different_binary_gives_a_different_hash() {
        let a = reproducible_zip(b"one").unwrap();
        let b = reproducible_zip(b"two").unwrap();
        assert_ne!(base64_sha256(&a), base64_sha256(&b));
    }

    #[test]
    fn hashes_read_like_lambda_code_sha256() {
        // `printf '' | openssl dgst -sha256 -binary | base64`
        assert_eq!(base64_sha256(b""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }
}
