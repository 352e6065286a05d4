//! What the browser tests (`crates/dev/tests/browser.rs`, `e2e/browser.test.mjs`) need:
//! Node.js 20 or newer, Debian's chromium (installed through apt when run as root), and a pinned
//! `playwright-core` from npm in `target/tools/node` (it drives that chromium: it never
//! downloads a browser of its own).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::tools;
use crate::util::{self, run};

/// The npm package that drives the browser, pinned.
pub const PLAYWRIGHT_CORE: &str = "playwright-core";
/// Its version.
pub const PLAYWRIGHT_CORE_VERSION: &str = "1.65.1";

/// The variable naming the chromium executable (read by the browser tests).
pub const CHROMIUM_ENV: &str = "THUMBFORGE_CHROMIUM";
/// The variable naming the `node_modules` folder that holds `playwright-core`.
pub const NODE_MODULES_ENV: &str = "THUMBFORGE_NODE_MODULES";

/// The oldest Node.js `playwright-core` supports.
const NODE_MAJOR: u32 = 20;

/// Where `playwright-core` is installed (`npm install --prefix` this folder).
pub fn node_dir() -> PathBuf {
    tools::tools_dir().join("node")
}

/// The `node_modules` folder the browser tests load `playwright-core` from.
pub fn node_modules() -> PathBuf {
    node_dir().join("node_modules")
}

/// The chromium executable: `THUMBFORGE_CHROMIUM` if set, else `chromium` on `PATH`.
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(CHROMIUM_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join("chromium")).find(|p| p.is_file())
}

/// Installs what is missing (chromium through apt when root; `playwright-core` through npm)
/// and checks Node.js. Returns the chromium executable.
pub fn ensure() -> anyhow::Result<PathBuf> {
    check_node()?;
    let chromium = ensure_chromium()?;
    ensure_playwright_core()?;
    Ok(chromium)
}

fn check_node() -> anyhow::Result<()> {
    tools::require("node", "install Node.js 20 or newer (Debian 13: apt-get install nodejs npm)")?;
    let output = Command::new("node").arg("--version").output().context("running `node --version`")?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    match node_major(&version) {
        Some(major) if major >= NODE_MAJOR => Ok(()),
        _ => bail!(
            "the browser tests need Node.js {NODE_MAJOR} or newer, and `node --version` says {version:?}"
        ),
    }
}

/// The major version from `node --version` ("v20.20.2" → 20).
fn node_major(version: &str) -> Option<u32> {
    version.trim().strip_prefix('v')?.split('.').next()?.parse().ok()
}

fn ensure_chromium() -> anyhow::Result<PathBuf> {
    if let Some(path) = chromium() {
        if !path.is_file() {
            bail!("{CHROMIUM_ENV} names {}, which does not exist", path.display());
        }
        return Ok(path);
    }
    if !(util::is_root() && util::on_path("apt-get")) {
        bail!("chromium is not installed: install Debian's `chromium` package, or set {CHROMIUM_ENV}");
    }
    run(Command::new("apt-get").args(["update", "-qq"]), "check the network and apt sources")?;
    run(
        Command::new("apt-get").args(["install", "-y", "-qq", "--no-install-recommends", "chromium"]),
        "install Debian's chromium by hand, or set THUMBFORGE_CHROMIUM",
    )?;
    chromium().context("apt installed chromium, but there is no `chromium` on PATH")
}

/// The version of an npm package installed in `node_modules`, if any.
fn installed_version(node_modules: &Path, package: &str) -> Option<String> {
    let manifest = std::fs::read_to_string(node_modules.join(package).join("package.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&manifest).ok()?;
    manifest["version"].as_str().map(str::to_owned)
}

fn ensure_playwright_core() -> anyhow::Result<()> {
    if installed_version(&node_modules(), PLAYWRIGHT_CORE).as_deref() == Some(PLAYWRIGHT_CORE_VERSION) {
        return Ok(());
    }
    tools::require("npm", "install npm (it comes with Node.js)")?;
    let dir = node_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    run(
        Command::new("npm")
            .args(["install", "--prefix"])
            .arg(&dir)
            .args(["--no-audit", "--no-fund", "--save-exact"])
            .arg(format!("{PLAYWRIGHT_CORE}@{PLAYWRIGHT_CORE_VERSION}")),
        "check that the npm registry is reachable (npm's own message is above)",
    )?;
    match installed_version(&node_modules(), PLAYWRIGHT_CORE) {
        Some(version) if version == PLAYWRIGHT_CORE_VERSION => Ok(()),
        other => bail!(
            "npm finished, but {} holds {PLAYWRIGHT_CORE} {other:?}, not {PLAYWRIGHT_CORE_VERSION}",
            node_modules().display()
        ),
    }
}

/// `command` with the variables that tell the browser tests where chromium and
/// `playwright-core` are.
pub fn with_env(mut command: Command) -> Command {
    if let Some(path) = chromium() {
        command.env(CHROMIUM_ENV, path);
    }
    command.env(NODE_MODULES_ENV, node_modules());
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_versions_are_read() {
        assert_eq!(node_major("v20.20.2\n"), Some(20));
        assert_eq!(node_major("v18.19.0"), Some(18));
        assert_eq!(node_major("20.1.0"), None);
        assert_eq!(node_major(""), None);
    }

    #[test]
    fn installed_versions_come_from_the_package_manifest() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(installed_version(dir.path(), "pkg"), None);
        std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("pkg/package.json"), r#"{"name": "pkg", "version": "1.2.3"}"#)
            .unwrap();
        assert_eq!(installed_version(dir.path(), "pkg").as_deref(), Some("1.2.3"));
    }

    #[test]
    fn the_browser_tests_are_told_where_playwright_core_is() {
        let command = with_env(Command::new("cargo"));
        let modules = command.get_envs().find(|(name, _)| *name == NODE_MODULES_ENV).and_then(|(_, v)| v);
        assert_eq!(modules, Some(node_modules().as_os_str()));
    }
}
