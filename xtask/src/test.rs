//! `cargo xtask test`: every check, in the order CI runs them. Installs what it needs first.

use std::process::Command;

use crate::flags;
use crate::util::{self, run};
use crate::{browser, terraform, tools};

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

/// The steps, pure so that their order and arguments are tested; `moto` adds the end-to-end
/// deployment to a local moto server.
fn steps(lint: bool, moto: bool) -> Vec<Step> {
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
        steps.extend(infra_lint_steps());
    }
    steps.extend(infra_steps());
    let mut page_tests = Command::new("node");
    page_tests.args(["--test", "frontend/tests", "cloudfront/tests"]);
    steps.push(Step {
        name: "page unit tests",
        command: page_tests,
        hint: "see the failing tests above; rerun them with `node --test frontend/tests cloudfront/tests`",
    });
    steps.push(Step {
        name: "tests",
        command: cargo(&["test", "--workspace", "--all-features"]),
        hint: "see the failing tests above; rerun one with `cargo test -p <crate> <name>`",
    });
    steps.push(Step {
        name: "local stack on the aarch64 zips",
        command: cargo(&["test", "-p", "thumbforge-dev", "--test", "stack", "--", "--ignored", "aarch64"]),
        hint: "the shipped binaries failed under qemu; rerun with `cargo xtask dev --arm64` to watch their logs",
    });
    let browser_tests = cargo(&["test", "-p", "thumbforge-dev", "--test", "browser", "--", "--ignored"]);
    steps.push(Step {
        name: "browser tests",
        command: browser::with_env(browser_tests),
        hint: "see the failing step above and the screenshots in target/e2e/; rerun with \
               `cargo test -p thumbforge-dev --test browser -- --ignored --nocapture`",
    });
    if moto {
        steps.push(Step {
            name: "deploy to moto",
            command: cargo(&["xtask", "moto"]),
            hint: "see the failing step above; rerun it alone with `cargo xtask moto`",
        });
    }
    steps
}

/// Static checks of the infrastructure code: Terraform formatting, the committed tfvars,
/// checkov, actionlint.
fn infra_lint_steps() -> Vec<Step> {
    let mut fmt = Command::new("terraform");
    fmt.args(["-chdir=terraform", "fmt", "-check", "-recursive", "-diff"]);
    let mut checkov = Command::new(tools::CHECKOV_VENV.bin("checkov"));
    checkov.args([
        "--directory",
        "terraform",
        "--framework",
        "terraform",
        "--quiet",
        "--compact",
        "--skip-download",
    ]);
    vec![
        Step {
            name: "terraform formatting",
            command: fmt,
            hint: "run `terraform -chdir=terraform fmt -recursive`",
        },
        Step {
            name: "generated tfvars",
            command: cargo(&["xtask", "tfvars", "--check"]),
            hint: "run `cargo xtask tfvars` and commit terraform/generated.auto.tfvars.json",
        },
        Step {
            name: "checkov",
            command: checkov,
            hint: "fix the finding, or skip it in place with `# checkov:skip=ID: why` (a written reason)",
        },
        Step {
            name: "actionlint",
            command: Command::new(tools::MAIN_VENV.bin("actionlint")),
            hint: "fix the workflow findings above (.github/workflows)",
        },
    ]
}

/// Terraform's own checks (a mocked provider: no account), then the arm64 zips every later
/// step uses (the local stack's `--arm64` check and the moto deployment).
fn infra_steps() -> Vec<Step> {
    let mut steps: Vec<Step> = terraform::check_commands(tools::plugin_dir(None).as_deref())
        .into_iter()
        .map(|(name, command, hint)| Step { name, command, hint })
        .collect();
    steps.push(Step {
        name: "lambda zips",
        command: cargo(&["xtask", "build"]),
        hint: "see the build output above; `cargo xtask build` reruns it",
    });
    steps
}

/// Installs the system packages the build wants, where we can.
fn install_prerequisites() -> anyhow::Result<()> {
    let mut missing = Vec::new();
    // nasm gives libjpeg-turbo its x86 SIMD; without it the build still works, only slower.
    if cfg!(target_arch = "x86_64") && !util::on_path("nasm") {
        missing.push("nasm");
    }
    // qemu runs the aarch64 deployment zips in the local stack's `--arm64` check.
    if !cfg!(target_arch = "aarch64") {
        if !util::on_path("qemu-aarch64-static") && !util::on_path("qemu-aarch64") {
            missing.push("qemu-user-static");
        }
        if !std::path::Path::new("/usr/aarch64-linux-gnu/lib").is_dir() {
            missing.push("libc6-arm64-cross");
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    if util::is_root() && util::on_path("apt-get") {
        run(Command::new("apt-get").args(["update", "-qq"]), "check the network and apt sources")?;
        run(
            Command::new("apt-get").args(["install", "-y", "-qq", "--no-install-recommends"]).args(&missing),
            "install these packages by hand",
        )?;
    } else {
        println!("note: missing packages {missing:?}; install them (e.g. with apt-get) for the full suite");
    }
    Ok(())
}

impl flags::Test {
    /// Runs every step; stops at the first failure.
    pub fn run(self) -> anyhow::Result<()> {
        install_prerequisites()?;
        browser::ensure()?;
        tools::terraform()?;
        tools::MAIN_VENV.ensure()?;
        if !self.no_lint {
            tools::CHECKOV_VENV.ensure()?;
        }
        let steps = steps(!self.no_lint, !self.no_moto);
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
        let names: Vec<_> = steps(true, true).iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "formatting",
                "lints",
                "terraform formatting",
                "generated tfvars",
                "checkov",
                "actionlint",
                "terraform init",
                "terraform validate",
                "terraform test",
                "lambda zips",
                "page unit tests",
                "tests",
                "local stack on the aarch64 zips",
                "browser tests",
                "deploy to moto"
            ]
        );
        let names: Vec<_> = steps(false, false).iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "terraform init",
                "terraform validate",
                "terraform test",
                "lambda zips",
                "page unit tests",
                "tests",
                "local stack on the aarch64 zips",
                "browser tests"
            ]
        );
        let clippy = util::display(&steps(true, true)[1].command);
        assert!(
            clippy.ends_with("clippy --workspace --all-targets --all-features -- -D warnings"),
            "{clippy}"
        );
    }
}
