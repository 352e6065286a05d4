//! What the browser tests (`crates/dev/tests/browser.rs`, `e2e/browser.test.mjs`) need beyond
//! the machine's prerequisites (Node.js and chromium, see `setup.rs`): a pinned `playwright-core`
//! from npm in `target/tools/node` (it drives that chromium: it never downloads a browser of its
//! own) and a pinned `axe-core` beside it (the accessibility checks the test injects into the
//! page).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::tools;
use crate::util::run;

/// The npm package that drives the browser, pinned.
pub const PLAYWRIGHT_CORE: &str = "playwright-core";
/// Its version.
pub const PLAYWRIGHT_CORE_VERSION: &str = "1.65.1";
/// The accessibility engine the browser test runs on the page's main states (`axe.run()`), pinned.
pub const AXE_CORE: &str = "axe-core";
/// Its version.
pub const AXE_CORE_VERSION: &str = "4.14.1";

/// Every npm package the browser tests load from [`node_modules`], with its pinned version.
pub const NODE_PACKAGES: [(&str, &str); 2] =
    [(PLAYWRIGHT_CORE, PLAYWRIGHT_CORE_VERSION), (AXE_CORE, AXE_CORE_VERSION)];

/// The variable naming the chromium executable (read by the browser tests).
pub const CHROMIUM_ENV: &str = "THUMBFORGE_CHROMIUM";
/// The variable naming the `node_modules` folder that holds `playwright-core` and `axe-core`.
pub const NODE_MODULES_ENV: &str = "THUMBFORGE_NODE_MODULES";

/// Where `playwright-core` and `axe-core` are installed (`npm install --prefix` this folder).
pub fn node_dir() -> PathBuf {
    tools::tools_dir().join("node")
}

/// The `node_modules` folder the browser tests load `playwright-core` and `axe-core` from.
pub fn node_modules() -> PathBuf {
    node_dir().join("node_modules")
}

/// The browsers looked for on `PATH`, in this order: Debian's chromium, then Google's Chrome
/// (which GitHub's Ubuntu runners carry, where apt's chromium is only a snap stub).
const BROWSERS: [&str; 3] = ["chromium", "google-chrome", "google-chrome-stable"];

/// The chromium executable: `THUMBFORGE_CHROMIUM` if set, else the first of [`BROWSERS`] on `PATH`.
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(CHROMIUM_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let paths: Vec<PathBuf> = std::env::split_paths(&std::env::var_os("PATH")?).collect();
    BROWSERS.iter().find_map(|name| paths.iter().map(|dir| dir.join(name)).find(|p| p.is_file()))
}

/// The version of an npm package installed in `node_modules`, if any.
fn installed_version(node_modules: &Path, package: &str) -> Option<String> {
    let manifest = std::fs::read_to_string(node_modules.join(package).join("package.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&manifest).ok()?;
    manifest["version"].as_str().map(str::to_owned)
}

/// The packages of [`NODE_PACKAGES`] that `node_modules` does not hold at their pinned version.
fn missing_packages(node_modules: &Path) -> Vec<(&'static str, &'static str)> {
    NODE_PACKAGES
        .into_iter()
        .filter(|(package, version)| installed_version(node_modules, package).as_deref() != Some(*version))
        .collect()
}

/// Installs the pinned `playwright-core` and `axe-core` ([`NODE_PACKAGES`]) into [`node_dir`]
/// unless they are there (one `npm install` for those missing).
pub fn ensure_playwright_core() -> anyhow::Result<()> {
    let missing = missing_packages(&node_modules());
    if missing.is_empty() {
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
            .args(missing.iter().map(|(package, version)| format!("{package}@{version}"))),
        "check that the npm registry is reachable (npm's own message is above)",
    )?;
    let still: Vec<String> = missing_packages(&node_modules())
        .into_iter()
        .map(|(package, version)| {
            let found = installed_version(&node_modules(), package);
            format!("{package} {found:?} instead of {version}")
        })
        .collect();
    if still.is_empty() {
        Ok(())
    } else {
        bail!("npm finished, but {} holds {}", node_modules().display(), still.join(", "))
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
    fn installed_versions_come_from_the_package_manifest() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(installed_version(dir.path(), "pkg"), None);
        std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("pkg/package.json"), r#"{"name": "pkg", "version": "1.2.3"}"#)
            .unwrap();
        assert_eq!(installed_version(dir.path(), "pkg").as_deref(), Some("1.2.3"));
    }

    #[test]
    fn only_packages_missing_at_their_pinned_version_are_installed() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(missing_packages(dir.path()), NODE_PACKAGES.to_vec());
        let write = |package: &str, version: &str| {
            std::fs::create_dir_all(dir.path().join(package)).unwrap();
            std::fs::write(
                dir.path().join(package).join("package.json"),
                format!(r#"{{"name": "{package}", "version": "{version}"}}"#),
            )
            .unwrap();
        };
        write(PLAYWRIGHT_CORE, PLAYWRIGHT_CORE_VERSION);
        write(AXE_CORE, "4.0.0");
        assert_eq!(missing_packages(dir.path()), [(AXE_CORE, AXE_CORE_VERSION)]);
        write(AXE_CORE, AXE_CORE_VERSION);
        assert!(missing_packages(dir.path()).is_empty());
    }

    #[test]
    fn the_browser_tests_are_told_where_playwright_core_is() {
        let command = with_env(Command::new("cargo"));
        let modules = command.get_envs().find(|(name, _)| *name == NODE_MODULES_ENV).and_then(|(_, v)| v);
        assert_eq!(modules, Some(node_modules().as_os_str()));
    }
}
