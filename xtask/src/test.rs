//! `cargo xtask test`: every check, in the order CI runs them. Checks the machine's
//! prerequisites first (`setup.rs`), installs xtask's own tools, then runs each step, counting the
//! tests of every step that runs tests: a step that ran none fails, a skipped test is reported as
//! skipped, and a per-step timing table closes every run.

mod tally;

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;

use self::tally::{Counter, Tally};
use crate::flags;
use crate::util::{self, cargo};
use crate::{browser, setup, terraform, tools};

/// A named step.
struct Step {
    name: &'static str,
    command: Command,
    hint: &'static str,
    /// How the step's output tells how many tests it ran; `None` for a step that runs no tests.
    counter: Option<Counter>,
    /// Whether it runs tests that the workspace run (`tests`) ignores.
    runs_ignored: bool,
}

impl Step {
    fn plain(name: &'static str, command: Command, hint: &'static str) -> Self {
        Self { name, command, hint, counter: None, runs_ignored: false }
    }

    fn counted(name: &'static str, command: Command, hint: &'static str, counter: Counter) -> Self {
        Self { name, command, hint, counter: Some(counter), runs_ignored: false }
    }

    fn ignored_elsewhere(mut self) -> Self {
        self.runs_ignored = true;
        self
    }
}

/// The flags every `cargo test` step shares, so that all of them resolve the same features and
/// reuse one build (a step with other flags would compile part of the tree again); the local
/// stack's tests build the functions with the same flags.
const CARGO_TEST: [&str; 3] = thumbforge_dev::binaries::WORKSPACE_TEST;

/// The one test of the local stack that runs the aarch64 zips under qemu (`crates/dev/tests/stack.rs`).
pub const AARCH64_TEST: &str = "the_aarch64_artifacts_serve_the_whole_journey_under_qemu";

fn cargo_test(args: &[&str]) -> Command {
    let mut command = cargo(&CARGO_TEST);
    command.args(args);
    command
}

/// The steps, pure so that their order and arguments are tested; `moto` adds the end-to-end
/// deployment to a local moto server.
fn steps(lint: bool, moto: bool) -> Vec<Step> {
    let mut steps = Vec::new();
    if lint {
        steps.push(Step::plain(
            "formatting",
            cargo(&["fmt", "--all", "--", "--check"]),
            "run `cargo fmt --all` and commit the result",
        ));
        steps.push(Step::plain(
            "lints",
            cargo(&["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"]),
            "fix the clippy findings above",
        ));
        steps.extend(infra_lint_steps());
    }
    steps.extend(infra_steps());
    let mut page_tests = Command::new("node");
    page_tests.args(["--test", "--test-reporter=tap", "frontend/tests", "cloudfront/tests"]);
    steps.push(Step::counted(
        "page unit tests",
        page_tests,
        "see the failing tests above; rerun them with `node --test frontend/tests cloudfront/tests`",
        Counter::NodeTap,
    ));
    steps.push(Step::counted(
        "tests",
        cargo_test(&[]),
        "see the failing tests above; rerun one with `cargo test -p <crate> <name>`",
        Counter::Cargo,
    ));
    steps.push(Step::counted(
        "local stack on the aarch64 zips",
        cargo_test(&["--test", "stack", "--", "--ignored", "--exact", AARCH64_TEST]),
        "the shipped binaries failed under qemu; rerun with `cargo xtask dev --arm64` to watch their logs",
        Counter::Cargo,
    ).ignored_elsewhere());
    steps.push(
        Step::counted(
            "browser tests",
            browser::with_env(cargo_test(&["--test", "browser", "--", "--ignored"])),
            "see the failing step above and the screenshots in target/e2e/; rerun with \
         `cargo test -p thumbforge-dev --test browser -- --ignored --nocapture`",
            Counter::Cargo,
        )
        .ignored_elsewhere(),
    );
    if moto {
        steps.push(
            Step::counted(
                "moto server",
                cargo_test(&["--bin", "xtask", "--", "--ignored", "moto::tests::server_"]),
                "the moto launcher (xtask/moto/serve.py) misbehaves; see the failing test above",
                Counter::Cargo,
            )
            .ignored_elsewhere(),
        );
        steps.push(Step::counted(
            "deploy to moto",
            cargo(&["xtask", "moto"]),
            "see the failing step above; rerun it alone with `cargo xtask moto`",
            Counter::Checks,
        ));
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
        Step::plain("terraform formatting", fmt, "run `terraform -chdir=terraform fmt -recursive`"),
        Step::plain(
            "generated tfvars",
            cargo(&["xtask", "tfvars", "--check"]),
            "run `cargo xtask tfvars` and commit terraform/generated.auto.tfvars.json",
        ),
        Step::plain(
            "checkov",
            checkov,
            "fix the finding, or skip it in place with `# checkov:skip=ID: why` (a written reason)",
        ),
        Step::plain(
            "actionlint",
            Command::new(tools::MAIN_VENV.bin("actionlint")),
            "fix the workflow findings above (.github/workflows)",
        ),
    ]
}

/// Terraform's own checks (a mocked provider: no account), then the arm64 zips every later
/// step uses (the local stack's `--arm64` check and the moto deployment).
fn infra_steps() -> Vec<Step> {
    let mut steps: Vec<Step> = terraform::check_commands(tools::plugin_dir(None).as_deref())
        .into_iter()
        .map(|(name, command, hint)| {
            let counter = (name == "terraform test").then_some(Counter::Terraform);
            Step { name, command, hint, counter, runs_ignored: false }
        })
        .collect();
    steps.push(Step::plain(
        "lambda zips",
        cargo(&["xtask", "build"]),
        "see the build output above; `cargo xtask build` reruns it",
    ));
    steps
}

/// What one step did.
#[derive(Debug, Clone)]
struct Outcome {
    name: &'static str,
    took: Duration,
    tally: Option<Tally>,
    passed: bool,
    runs_ignored: bool,
}

/// Echoes and runs a step; a step that runs tests has its output read as it goes (and shown
/// unchanged) to count them. Fails on a non-zero exit, on a failed or skipped test, and on a
/// step that ran no test at all.
fn run_step(step: &mut Step) -> anyhow::Result<Option<Tally>> {
    let Some(counter) = step.counter else {
        util::run(&mut step.command, step.hint)?;
        return Ok(None);
    };
    let mut tally = Tally::default();
    util::run_lines(&mut step.command, step.hint, |line| counter.feed(line, &mut tally))?;
    tally.judge(counter).with_context(|| format!("`{}`", util::display(&step.command)))?;
    Ok(Some(tally))
}

/// The timing table printed at the end of every run, failed or not.
fn summary(outcomes: &[Outcome], total: usize, elapsed: Duration) -> String {
    let mut text = String::from("==> summary (step, time, tests)\n");
    let width = outcomes.iter().map(|o| o.name.len()).max().unwrap_or(0);
    for (i, outcome) in outcomes.iter().enumerate() {
        let tests = outcome.tally.map_or_else(|| "-".to_owned(), |t| t.to_string());
        let mark = if outcome.passed { "ok  " } else { "FAIL" };
        text.push_str(&format!(
            "  {mark} [{:>2}/{total}] {:<width$}  {:>7}  {tests}\n",
            i + 1,
            outcome.name,
            format_duration(outcome.took),
        ));
    }
    if outcomes.len() < total {
        text.push_str(&format!("  ({} later steps did not run)\n", total - outcomes.len()));
    }
    let sum = outcomes.iter().filter_map(|o| o.tally).fold(Tally::default(), |a, b| a + b);
    // The tests the workspace run ignores are the ones later steps run by name: ignored there and
    // run later is not skipped; ignored and never run is.
    let ran_later: u64 =
        outcomes.iter().filter(|o| o.runs_ignored).filter_map(|o| o.tally).map(|t| t.passed + t.failed).sum();
    let skipped = sum.skipped + sum.ignored.saturating_sub(ran_later);
    text.push_str(&format!("  in {}\n", format_duration(elapsed)));
    text.push_str(&format!("total: {} passed, {} failed, {skipped} skipped", sum.passed, sum.failed));
    text
}

fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 { format!("{}m{:02}s", secs / 60, secs % 60) } else { format!("{:.1}s", d.as_secs_f64()) }
}

impl flags::Test {
    /// Runs every step; stops at the first failure; prints the summary either way.
    pub fn run(self) -> anyhow::Result<()> {
        let started = Instant::now();
        setup::ensure(true)?;
        setup::tools_for_tests(!self.no_lint)?;
        let steps = steps(!self.no_lint, !self.no_moto);
        let total = steps.len();
        let mut outcomes = Vec::new();
        let mut failure = None;
        for (i, mut step) in steps.into_iter().enumerate() {
            println!("==> [{}/{total}] {}", i + 1, step.name);
            let step_started = Instant::now();
            let result = run_step(&mut step);
            let took = step_started.elapsed();
            let passed = result.is_ok();
            let tally = result.as_ref().ok().copied().flatten();
            outcomes.push(Outcome { name: step.name, took, tally, passed, runs_ignored: step.runs_ignored });
            match result {
                Ok(tally) => {
                    let tests = tally.map(|t| format!(" ({t})")).unwrap_or_default();
                    println!(
                        "==> [{}/{total}] {} passed in {}{tests}",
                        i + 1,
                        step.name,
                        format_duration(took)
                    );
                }
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        println!("{}", summary(&outcomes, total, started.elapsed()));
        match failure {
            Some(err) => Err(err),
            None => {
                println!("==> all {total} checks passed");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `name vX|features` of every package in one feature resolution (`cargo tree` is cheap).
    fn resolution(args: &[&str]) -> std::collections::BTreeSet<String> {
        let mut command = cargo(&["tree", "--quiet", "--locked", "--prefix", "none", "--format", "{p}|{f}"]);
        let output = command.args(args).current_dir(util::project_root()).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let text = String::from_utf8(output.stdout).unwrap();
        text.lines().map(|line| line.replace(" (*)", "").replace(" (proc-macro)", "")).collect()
    }

    /// Every action a workflow uses is pinned to a full commit id, with the release it is in a
    /// comment (`uses: owner/repo@<40 hex> # v1.2.3`): a moved tag cannot change what runs
    /// with the deploy role's credentials.
    #[test]
    fn workflows_pin_every_action_to_a_commit() {
        let dir = util::project_root().join(".github/workflows");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines().filter(|l| l.trim_start().trim_start_matches("- ").starts_with("uses:"))
            {
                let uses = line.split_once("uses:").unwrap().1.trim();
                let (action, rest) = uses.split_once('@').unwrap_or((uses, ""));
                let (commit, comment) = rest.split_once(" # ").unwrap_or((rest, ""));
                assert!(action.contains('/'), "{}: {line}", path.display());
                assert!(
                    commit.len() == 40
                        && commit.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                    "{}: {action} is not pinned to a commit id: {line}",
                    path.display()
                );
                assert!(
                    !comment.trim().is_empty(),
                    "{}: say which release {commit} is: {line}",
                    path.display()
                );
                seen += 1;
            }
        }
        assert!(seen >= 10, "{seen} actions found in {}", dir.display());
    }

    /// `cargo run -p xtask` gives every dependency the features `cargo test --workspace
    /// --all-features` gives it; otherwise the tests compile the AWS SDK and the engine again
    /// (fix: the pins in xtask/Cargo.toml).
    #[test]
    fn the_xtask_build_resolves_the_features_of_the_workspace_tests() {
        let tests = resolution(&["--workspace", "--all-features", "--edges", "normal,build,dev"]);
        let differ: Vec<_> =
            resolution(&["-p", "xtask", "--edges", "normal,build"]).difference(&tests).cloned().collect();
        assert!(differ.is_empty(), "`cargo run -p xtask` resolves other features: {differ:?}");
    }

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
                "moto server",
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

    #[test]
    fn every_step_that_runs_tests_counts_them() {
        for step in steps(true, true) {
            let shown = util::display(&step.command);
            let runs_tests = shown.contains(" test") || shown.contains("--test") || shown.contains("moto");
            assert_eq!(step.counter.is_some(), runs_tests, "{}: {shown}", step.name);
        }
    }

    /// Every `cargo test` step resolves the same features, so none rebuilds what another built.
    #[test]
    fn every_cargo_test_step_shares_the_same_flags() {
        let cargo_tests: Vec<String> = steps(true, true)
            .iter()
            .map(|s| util::display(&s.command))
            .filter(|shown| shown.contains(" test"))
            .filter(|shown| !shown.contains("terraform"))
            .collect();
        assert_eq!(cargo_tests.len(), 4, "{cargo_tests:?}");
        for shown in &cargo_tests {
            assert!(shown.contains(&CARGO_TEST.join(" ")), "{shown}");
        }
    }

    /// The aarch64 step names its test exactly, and that test exists under that name.
    #[test]
    fn the_aarch64_step_names_a_test_that_exists() {
        let stack = std::fs::read_to_string(util::project_root().join("crates/dev/tests/stack.rs")).unwrap();
        assert!(stack.contains(&format!("async fn {AARCH64_TEST}()")), "{AARCH64_TEST} is not in stack.rs");
        let step = steps(false, false).into_iter().find(|s| s.name.contains("aarch64")).unwrap();
        assert!(util::display(&step.command).ends_with(&format!("--ignored --exact {AARCH64_TEST}")));
    }

    fn shell_step(script: &str, counter: Counter) -> Step {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        Step::counted("fake", command, "hint", counter)
    }

    #[test]
    fn a_test_step_that_ran_no_test_fails() {
        let ok = "echo 'running 0 tests'; echo 'test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 9 filtered out; finished in 0.00s'";
        let err = run_step(&mut shell_step(ok, Counter::Cargo)).unwrap_err();
        assert!(format!("{err:#}").contains("ran no test"), "{err:#}");

        let one = "echo 'test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 9 filtered out; finished in 0.00s'";
        let tally = run_step(&mut shell_step(one, Counter::Cargo)).unwrap().unwrap();
        assert_eq!(tally.passed, 1);
    }

    #[test]
    fn a_skipped_node_test_fails_the_step() {
        let out = "printf '# tests 3\\n# pass 2\\n# fail 0\\n# skipped 1\\n# todo 0\\n'";
        let err = run_step(&mut shell_step(out, Counter::NodeTap)).unwrap_err();
        assert!(format!("{err:#}").contains("1 skipped"), "{err:#}");
    }

    #[test]
    fn a_failing_exit_fails_the_step_whatever_it_printed() {
        let out = "echo 'test result: ok. 5 passed; 0 failed; 0 ignored'; exit 3";
        let err = run_step(&mut shell_step(out, Counter::Cargo)).unwrap_err();
        assert!(format!("{err:#}").contains("failed"), "{err:#}");
    }

    #[test]
    fn the_summary_lists_every_step_and_closes_with_the_totals() {
        let outcomes = [
            Outcome {
                name: "formatting",
                took: Duration::from_secs(3),
                tally: None,
                passed: true,
                runs_ignored: false,
            },
            Outcome {
                name: "tests",
                took: Duration::from_secs(600),
                tally: Some(Tally { passed: 100, failed: 0, ignored: 2, skipped: 0 }),
                passed: true,
                runs_ignored: false,
            },
            Outcome {
                name: "local stack on the aarch64 zips",
                took: Duration::from_secs(30),
                tally: Some(Tally { passed: 1, failed: 0, ignored: 0, skipped: 0 }),
                passed: false,
                runs_ignored: true,
            },
        ];
        let text = summary(&outcomes, 5, Duration::from_secs(700));
        assert!(text.contains("formatting") && text.contains("10m00s") && text.contains("FAIL"), "{text}");
        assert!(text.contains("(2 later steps did not run)"), "{text}");
        // One of the two ignored tests ran in its own step; the other never ran: skipped.
        assert_eq!(text.lines().last(), Some("total: 101 passed, 0 failed, 1 skipped"), "{text}");
    }
}
