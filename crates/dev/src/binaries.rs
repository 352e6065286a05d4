//! The function binaries the stack runs: built natively for the host with cargo, or the
//! aarch64 deployment zips run under qemu.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use serde_json::Value;
use thumbforge_core::config::{PRESIGN, THUMBNAIL};

/// The two functions, by binary name.
pub const FUNCTIONS: [&str; 2] = thumbforge_core::config::FUNCTION_NAMES;

/// How to start the two functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    /// The API function's executable.
    pub presign: PathBuf,
    /// The thumbnail function's executable.
    pub thumbnail: PathBuf,
    /// An emulator to run them with (qemu for aarch64 on another host), if any.
    pub runner: Option<Runner>,
}

/// A program that runs the function binaries, e.g. `qemu-aarch64-static BOOTSTRAP`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    /// The emulator.
    pub program: PathBuf,
    /// Variables it needs (e.g. `QEMU_LD_PREFIX`).
    pub env: BTreeMap<String, String>,
}

impl Binaries {
    /// The program, arguments and extra variables that start `executable`.
    #[must_use]
    pub fn command(&self, executable: &Path) -> (PathBuf, Vec<OsString>, BTreeMap<String, String>) {
        match &self.runner {
            None => (executable.to_owned(), Vec::new(), BTreeMap::new()),
            Some(runner) => {
                (runner.program.clone(), vec![executable.as_os_str().to_owned()], runner.env.clone())
            }
        }
    }
}

/// The flags every `cargo test` of the workspace runs with (`cargo xtask test`'s steps and
/// [`test_build`]): the same flags resolve the same features, so no step compiles again what
/// another built.
pub const WORKSPACE_TEST: [&str; 3] = ["test", "--workspace", "--all-features"];

/// Builds both functions for the host with `cargo build` (the dev profile, or `--release`) in
/// `workspace`, echoing the command, and returns their executables.
///
/// # Errors
///
/// cargo fails or does not report both executables.
pub fn cargo_build(workspace: &Path, release: bool) -> anyhow::Result<Binaries> {
    let mut args = vec!["build"];
    for name in FUNCTIONS {
        args.extend(["--package", name, "--bin", name]);
    }
    if release {
        args.push("--release");
    }
    build_functions(workspace, &args)
}

/// The functions' executables exactly as `cargo test --workspace --all-features` builds them
/// (`--no-run`): what the tests of the local stack run. Inside that test run, everything is
/// already built with the same features, so this compiles nothing; `cargo build -p presign`
/// would resolve other features and compile a good part of the tree a second time.
///
/// # Errors
///
/// cargo fails or does not report both executables.
pub fn test_build(workspace: &Path) -> anyhow::Result<Binaries> {
    let mut args = WORKSPACE_TEST.to_vec();
    args.push("--no-run");
    build_functions(workspace, &args)
}

/// Runs `cargo ARGS --message-format=json-render-diagnostics` and takes the functions' binaries
/// (not their unit-test harnesses) from what it reports.
fn build_functions(workspace: &Path, args: &[&str]) -> anyhow::Result<Binaries> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command.current_dir(workspace).args(args).arg("--message-format=json-render-diagnostics");
    let shown = format!(
        "{} {}",
        Path::new(&cargo).file_name().map_or("cargo".into(), |n| n.to_string_lossy()),
        args.join(" ")
    );
    let _ = writeln_stderr(&format!("$ {shown}"));
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting `{shown}` (is cargo on PATH?)"))?;
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.context("reading cargo's output")?;
            let Ok(message) = serde_json::from_str::<Value>(&line) else { continue };
            if message["reason"] != "compiler-artifact" || message["profile"]["test"] == true {
                continue;
            }
            let is_bin = message["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin"));
            let (Some(name), Some(executable)) =
                (message["target"]["name"].as_str(), message["executable"].as_str())
            else {
                continue;
            };
            if is_bin && FUNCTIONS.contains(&name) {
                found.insert(name.to_owned(), PathBuf::from(executable));
            }
        }
    }
    let status = child.wait().with_context(|| format!("waiting for `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status}); its errors are above");
    }
    let mut take = |name: &str| {
        found.remove(name).with_context(|| format!("`{shown}` did not report the `{name}` executable"))
    };
    Ok(Binaries { presign: take(PRESIGN)?, thumbnail: take(THUMBNAIL)?, runner: None })
}

fn writeln_stderr(line: &str) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(std::io::stderr().lock(), "{line}")
}

/// Unpacks the aarch64 deployment zips `{dist}/presign.zip` and `{dist}/thumbnail.zip` (as
/// `cargo xtask build` writes them) into `work/arm64/{name}/bootstrap` and finds qemu to run
/// them with (on an aarch64 host they run as they are).
///
/// # Errors
///
/// A zip is missing or has no `bootstrap`, or qemu is not installed.
pub fn arm64_from_zips(dist: &Path, work: &Path) -> anyhow::Result<Binaries> {
    // An aarch64 host runs them as they are.
    let runner = if cfg!(target_arch = "aarch64") { None } else { Some(qemu()?) };
    let unpack = |name: &str| -> anyhow::Result<PathBuf> {
        let zip_path = dist.join(format!("{name}.zip"));
        let file = fs::File::open(&zip_path)
            .with_context(|| format!("opening {} (run `cargo xtask build` first)", zip_path.display()))?;
        let mut archive =
            zip::ZipArchive::new(file).with_context(|| format!("reading {} as a zip", zip_path.display()))?;
        let mut entry = archive
            .by_name("bootstrap")
            .with_context(|| format!("{} has no `bootstrap` file", zip_path.display()))?;
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).with_context(|| format!("unpacking {}", zip_path.display()))?;
        let dir = work.join("arm64").join(name);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let bootstrap = dir.join("bootstrap");
        fs::write(&bootstrap, &bytes).with_context(|| format!("writing {}", bootstrap.display()))?;
        make_executable(&bootstrap)?;
        Ok(bootstrap)
    };
    Ok(Binaries { presign: unpack(PRESIGN)?, thumbnail: unpack(THUMBNAIL)?, runner })
}

#[cfg(unix)]
fn make_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// The aarch64 emulator: `qemu-aarch64-static` or `qemu-aarch64` on `PATH`, with the aarch64
/// C library of Debian's `libc6-arm64-cross` (or `$QEMU_LD_PREFIX`).
///
/// # Errors
///
/// Neither is installed.
pub fn qemu() -> anyhow::Result<Runner> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let program = ["qemu-aarch64-static", "qemu-aarch64"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .context(
            "qemu-aarch64 is not installed; on Debian or Ubuntu: \
             `sudo apt-get install qemu-user-static libc6-arm64-cross`",
        )?;
    let prefix = std::env::var("QEMU_LD_PREFIX").unwrap_or_else(|_| "/usr/aarch64-linux-gnu".to_owned());
    if !Path::new(&prefix).join("lib").is_dir() {
        bail!(
            "the aarch64 C library is not at {prefix}; on Debian or Ubuntu: \
             `sudo apt-get install libc6-arm64-cross` (or set QEMU_LD_PREFIX)"
        );
    }
    Ok(Runner { program, env: BTreeMap::from([("QEMU_LD_PREFIX".to_owned(), prefix)]) })
}
