//! `cargo xtask setup`: the one list of what `cargo xtask test` needs on the machine, checked up
//! front. What Debian or Ubuntu packages can give is installed with apt (as root, or through
//! `sudo -n` where that works, as on GitHub's runners); everything else is named, with how to
//! install it, in one message. `cargo xtask test` runs the same code first, and the CI workflow
//! calls `cargo xtask setup` before it, so both go through this list.

use std::path::Path;
use std::process::Command;

use anyhow::bail;

use crate::flags;
use crate::util::{self, run};
use crate::{browser, tools};

/// One thing the test suite needs from the machine.
#[derive(Debug, Clone, Copy)]
pub struct Need {
    /// What it is, as a person names it.
    pub what: &'static str,
    /// Which steps need it.
    pub why: &'static str,
    /// The apt package that provides it, when there is one that is good enough.
    pub apt: Option<&'static str>,
    /// How to get it by hand.
    pub hint: &'static str,
    /// Whether it is there.
    pub present: fn() -> bool,
}

/// Every prerequisite of `cargo xtask test` on this kind of machine (the machine-independent
/// ones, and the ones its architecture calls for). Python venvs, cargo-lambda, zig, moto, checkov,
/// actionlint and playwright-core are not here: xtask installs them into `target/tools/` itself.
pub fn needs() -> Vec<Need> {
    let mut needs = vec![
        Need {
            what: "cargo fmt and cargo clippy",
            why: "formatting and lints",
            apt: None,
            hint: "rustup component add rustfmt clippy",
            present: || ["fmt", "clippy"].iter().all(|tool| succeeds(&mut util::cargo(&[tool, "--version"]))),
        },
        Need {
            what: "Terraform 1.9 or newer",
            why: "the Terraform checks and the moto deployment",
            apt: None,
            hint: "https://developer.hashicorp.com/terraform/install, then put `terraform` on PATH",
            present: || version_at_least("terraform", &["version"], "Terraform v", (1, 9)),
        },
        Need {
            what: "Python 3 with venv and ensurepip",
            why: "cargo-lambda, zig, moto, checkov and actionlint, installed into target/tools/",
            apt: Some("python3-venv"),
            hint: "install Python 3 with its venv module",
            present: || succeeds(Command::new("python3").args(["-c", "import venv, ensurepip"])),
        },
        Need {
            what: "Node.js 20 or newer, with npm",
            why: "the page's unit tests and the browser tests",
            apt: None,
            hint: "https://nodejs.org (Debian 13: apt-get install nodejs npm; Debian 12's nodejs is 18)",
            present: || version_at_least("node", &["--version"], "v", (20, 0)) && util::on_path("npm"),
        },
        Need {
            what: "njs (nginx JavaScript)",
            why: "the CloudFront Function's tests, which also run it under njs",
            apt: Some("njs"),
            hint: "https://nginx.org/en/docs/njs/install.html",
            present: || util::on_path("njs"),
        },
        Need {
            what: "chromium",
            why: "the browser tests",
            apt: Some("chromium"),
            hint: "install Chromium or Chrome and set THUMBFORGE_CHROMIUM to its executable",
            present: || browser::chromium().is_some_and(|path| path.is_file()),
        },
    ];
    if cfg!(target_arch = "x86_64") {
        needs.push(Need {
            what: "nasm",
            why: "libjpeg-turbo's x86 SIMD, without which the engine is slow",
            apt: Some("nasm"),
            hint: "https://www.nasm.us",
            present: || util::on_path("nasm"),
        });
    }
    if !cfg!(target_arch = "aarch64") {
        needs.push(Need {
            what: "qemu-aarch64",
            why: "running the aarch64 Lambda zips in the local stack",
            apt: Some("qemu-user-static"),
            hint: "install qemu's user-mode emulator for aarch64",
            present: || util::on_path("qemu-aarch64-static") || util::on_path("qemu-aarch64"),
        });
        needs.push(Need {
            what: "the aarch64 C library (/usr/aarch64-linux-gnu/lib)",
            why: "qemu runs the aarch64 Lambda zips against it",
            apt: Some("libc6-arm64-cross"),
            hint: "install glibc for aarch64-linux-gnu under /usr/aarch64-linux-gnu",
            present: || Path::new("/usr/aarch64-linux-gnu/lib").is_dir(),
        });
    }
    needs
}

fn succeeds(command: &mut Command) -> bool {
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `program ARGS` prints a version, after `prefix`, of at least `min` (major, minor).
fn version_at_least(program: &str, args: &[&str], prefix: &str, min: (u32, u32)) -> bool {
    let Ok(output) = Command::new(program).args(args).output() else { return false };
    let text = String::from_utf8_lossy(&output.stdout);
    output.status.success() && text.lines().any(|line| parse_version(line, prefix).is_some_and(|v| v >= min))
}

/// `(major, minor)` from a line such as "Terraform v1.11.4" or "v20.20.2".
fn parse_version(line: &str, prefix: &str) -> Option<(u32, u32)> {
    let mut parts = line.trim().strip_prefix(prefix)?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok());
    Some((major, minor.unwrap_or(0)))
}

/// The one message for everything missing: each thing, why it is needed, how to install it.
pub fn missing_message(missing: &[&Need]) -> String {
    let mut text = format!("{} prerequisite(s) of `cargo xtask test` are missing:\n", missing.len());
    for need in missing {
        text.push_str(&format!("  - {} (for {}): ", need.what, need.why));
        match need.apt {
            Some(package) => text.push_str(&format!("apt-get install {package}, or {}\n", need.hint)),
            None => text.push_str(&format!("{}\n", need.hint)),
        }
    }
    let apt: Vec<_> = missing.iter().filter_map(|n| n.apt).collect();
    if !apt.is_empty() {
        text.push_str(&format!(
            "as root (or with sudo), `cargo xtask setup` installs the apt ones: apt-get install {}",
            apt.join(" ")
        ));
    }
    text.trim_end().to_owned()
}

/// How apt can be run here: directly as root, through passwordless sudo, or not at all.
fn apt_prefix() -> Option<Vec<&'static str>> {
    if !util::on_path("apt-get") {
        return None;
    }
    if util::is_root() {
        return Some(Vec::new());
    }
    succeeds(Command::new("sudo").args(["-n", "true"])).then(|| vec!["sudo", "-n"])
}

fn apt(prefix: &[&str], args: &[&str]) -> Command {
    let mut command = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg("apt-get");
            c
        }
        None => Command::new("apt-get"),
    };
    command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    command
}

/// Checks every prerequisite, installs what apt can give when `install` (and apt can be run),
/// then fails with one message naming all that is still missing.
pub fn ensure(install: bool) -> anyhow::Result<()> {
    let needs = needs();
    let missing: Vec<&Need> = needs.iter().filter(|n| !(n.present)()).collect();
    if missing.is_empty() {
        println!("==> every prerequisite is installed");
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().filter_map(|n| n.apt).collect();
    if install
        && !packages.is_empty()
        && let Some(prefix) = apt_prefix()
    {
        println!("==> installing {} with apt", packages.join(" "));
        run(&mut apt(&prefix, &["update", "-qq"]), "check the network and apt sources")?;
        let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
        args.extend(&packages);
        run(&mut apt(&prefix, &args), "install these packages by hand")?;
    }
    let still: Vec<&Need> = needs.iter().filter(|n| !(n.present)()).collect();
    if !still.is_empty() {
        bail!(missing_message(&still));
    }
    Ok(())
}

impl flags::Setup {
    /// Installs and checks the machine's prerequisites, then xtask's own tools.
    pub fn run(self) -> anyhow::Result<()> {
        if self.apt_packages {
            let packages: Vec<&str> = needs().iter().filter_map(|n| n.apt).collect();
            println!("{}", packages.join(" "));
            return Ok(());
        }
        ensure(!self.no_install)?;
        tools_for_tests(true)
    }
}

/// What xtask installs itself into `target/tools/` for the tests: the Python venvs and
/// `playwright-core`.
pub fn tools_for_tests(lint: bool) -> anyhow::Result<()> {
    tools::MAIN_VENV.ensure()?;
    if lint {
        tools::CHECKOV_VENV.ensure()?;
    }
    browser::ensure_playwright_core()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_the_tools_own_words() {
        assert_eq!(parse_version("Terraform v1.11.4", "Terraform v"), Some((1, 11)));
        assert_eq!(parse_version("v20.20.2", "v"), Some((20, 20)));
        assert_eq!(parse_version("Terraform v1.9.0-beta1", "Terraform v"), Some((1, 9)));
        assert_eq!(parse_version("on linux_amd64", "Terraform v"), None);
        assert!((1, 8) < (1, 9) && (2, 0) > (1, 9), "tuples order as versions do");
    }

    #[test]
    fn everything_missing_is_named_in_one_message_with_how_to_install_it() {
        let needs = needs();
        let all: Vec<&Need> = needs.iter().collect();
        let message = missing_message(&all);
        assert!(message.starts_with(&format!("{} prerequisite(s)", needs.len())), "{message}");
        for need in &needs {
            assert!(message.contains(need.what) && message.contains(need.hint), "{message}");
        }
        let apt_line = message.lines().last().unwrap();
        for package in needs.iter().filter_map(|n| n.apt) {
            assert!(apt_line.contains(package), "{apt_line}");
        }
        for name in ["Terraform", "Node.js", "venv", "chromium", "njs"] {
            assert!(message.contains(name), "{name} is not in the list: {message}");
        }
    }

    #[test]
    fn a_missing_tool_is_not_present() {
        assert!(!version_at_least("/nonexistent/terraform", &["version"], "Terraform v", (1, 9)));
        assert!(!succeeds(&mut Command::new("/nonexistent/python3")));
        assert!(succeeds(&mut Command::new("true")));
    }

    #[test]
    fn apt_runs_through_sudo_when_not_root() {
        let command = apt(&["sudo", "-n"], &["install", "-y", "njs"]);
        assert_eq!(util::display(&command), "sudo -n apt-get install -y njs");
        assert_eq!(util::display(&apt(&[], &["update"])), "apt-get update");
    }
}
