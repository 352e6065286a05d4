//! `cargo xtask test`: every check, in the order CI runs them. Installs what it needs first.

use std::process::Command;

use crate::flags;
use crate::util::{self, run};

/// A named step.
struct Step {
    name: &'static str,
    command: Command,
    hint: &'static str,
}

fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(args);
    command
}

/// The steps, pure so that their order and arguments are tested.
fn steps(lint: bool) -> Vec<Step> {
    let mut steps = Vec::new();
    if lint {
        steps.push(Step {
            name: "formatting",
            command: cargo(&["fmt", "--all", "--", "--check"]),
            hint: "run `cargo fmt --all` and commit the result",
        });
        steps.push(Step {
            name: "lints",
            command: cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ]),
            hint: "fix the clippy findings above",
        });
    }
    steps.push(Step {
        name: "tests",
        command: cargo(&["test", "--workspace", "--all-features"]),
        hint: "see the failing tests above; rerun one with `cargo test -p <crate> <name>`",
    });
    steps
}

/// Installs the system packages the build wants, where we can.
fn install_prerequisites() -> anyhow::Result<()> {
    // nasm gives libjpeg-turbo its x86 SIMD; without it the build still works, only slower.
    if cfg!(target_arch = "x86_64") && !util::on_path("nasm") {
        if util::is_root() && util::on_path("apt-get") {
            run(Command::new("apt-get").args(["update", "-qq"]), "check the network and apt sources")?;
            run(Command::new("apt-get").args(["install", "-y", "-qq", "nasm"]), "install nasm by hand")?;
        } else {
            println!("note: nasm is not installed; JPEG code builds without SIMD (install nasm for speed)");
        }
    }
    Ok(())
}

impl flags::Test {
    /// Runs every step; stops at the first failure.
    pub fn run(self) -> anyhow::Result<()> {
        install_prerequisites()?;
        let steps = steps(!self.no_lint);
        let total = steps.len();
        for (i, mut step) in steps.into_iter().enumerate() {
            println!("==> [{}/{total}] {}", i + 1, step.name);
            let started = std::time::Instant::now();
            run(&mut step.command, step.hint)?;
            println!("==> [{}/{total}] {} passed in {:.0?}", i + 1, step.name, started.elapsed());
        }
        println!("==> all {total} checks passed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lint_steps_come_first_and_can_be_skipped() {
        let names: Vec<_> = steps(true).iter().map(|s| s.name).collect();
        assert_eq!(names, ["formatting", "lints", "tests"]);
        let names: Vec<_> = steps(false).iter().map(|s| s.name).collect();
        assert_eq!(names, ["tests"]);
        let clippy = util::display(&steps(true)[1].command);
        assert!(
            clippy.ends_with("clippy --workspace --all-targets --all-features -- -D warnings"),
            "{clippy}"
        );
    }
}
