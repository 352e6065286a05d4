//! Counting the tests a step ran, from the closing lines each test runner prints.

use std::fmt;
use std::ops::Add;

use anyhow::bail;

/// Which runner's closing lines to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// libtest: `test result: ok. 5 passed; 0 failed; 1 ignored; 0 measured; 2 filtered out; …`,
    /// once per test binary (doc-tests included).
    Cargo,
    /// `node --test --test-reporter=tap`: `# pass 5`, `# fail 0`, `# skipped 1`, `# todo 0`.
    NodeTap,
    /// `terraform test`: `Success! 12 passed, 0 failed.` (or `Failure! …`).
    Terraform,
    /// xtask's own check reports (`cargo xtask moto`): `N checks passed`.
    Checks,
}

/// How many tests a step ran, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Passed.
    pub passed: u64,
    /// Failed.
    pub failed: u64,
    /// Marked `#[ignore]` and not asked for (cargo).
    pub ignored: u64,
    /// Skipped or left to do at run time (node's `skip` and `todo`).
    pub skipped: u64,
}

impl Add for Tally {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self {
            passed: self.passed + other.passed,
            failed: self.failed + other.failed,
            ignored: self.ignored + other.ignored,
            skipped: self.skipped + other.skipped,
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)?;
        if self.ignored > 0 {
            write!(f, ", {} ignored", self.ignored)?;
        }
        if self.skipped > 0 {
            write!(f, ", {} skipped", self.skipped)?;
        }
        Ok(())
    }
}

/// The number just before `word` in `text` (`"5 passed"` → 5 for `passed`).
fn count_before(text: &str, word: &str) -> Option<u64> {
    let mut previous = None;
    for token in text.split(|c: char| c.is_whitespace() || c == ';' || c == ',' || c == '.') {
        if token == word {
            return previous.and_then(|p: &str| p.parse().ok());
        }
        if !token.is_empty() {
            previous = Some(token);
        }
    }
    None
}

/// `line` without ANSI escape sequences (Terraform colours its summary even into a pipe).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters… final byte in @..~
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Counter {
    /// Adds what one line of output says to `tally`.
    pub fn feed(self, line: &str, tally: &mut Tally) {
        let plain = strip_ansi(line);
        let line = plain.trim();
        match self {
            Self::Cargo => {
                let Some(rest) = line.strip_prefix("test result: ") else { return };
                tally.passed += count_before(rest, "passed").unwrap_or(0);
                tally.failed += count_before(rest, "failed").unwrap_or(0);
                tally.ignored += count_before(rest, "ignored").unwrap_or(0);
            }
            Self::NodeTap => {
                let Some(rest) = line.strip_prefix("# ") else { return };
                let mut words = rest.split_whitespace();
                let (Some(word), Some(Ok(n)), None) =
                    (words.next(), words.next().map(str::parse::<u64>), words.next())
                else {
                    return;
                };
                match word {
                    "pass" => tally.passed += n,
                    "fail" | "cancelled" => tally.failed += n,
                    "skipped" | "todo" => tally.skipped += n,
                    _ => {}
                }
            }
            Self::Terraform => {
                let Some(rest) = line.strip_prefix("Success! ").or_else(|| line.strip_prefix("Failure! "))
                else {
                    return;
                };
                tally.passed += count_before(rest, "passed").unwrap_or(0);
                tally.failed += count_before(rest, "failed").unwrap_or(0);
            }
            Self::Checks => {
                if let Some(n) = line.strip_suffix(" checks passed").and_then(|n| n.parse::<u64>().ok()) {
                    tally.passed += n;
                }
            }
        }
    }
}

impl Tally {
    /// Fails a step that ran no test, or whose runner reports a failure or a skip (its exit code
    /// aside: a runner that exits 0 after skipping a check has not passed it).
    pub fn judge(self, counter: Counter) -> anyhow::Result<()> {
        if self.failed > 0 {
            bail!("{} failed", self.failed);
        }
        if self.skipped > 0 {
            bail!("{self}: a skipped check is not a passed one; install what it needs (`cargo xtask setup`)");
        }
        if self.passed == 0 {
            bail!("ran no test ({counter:?} output with no passed test): a filter or a rename left it empty");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(counter: Counter, output: &str) -> Tally {
        let mut tally = Tally::default();
        for line in output.lines() {
            counter.feed(line, &mut tally);
        }
        tally
    }

    #[test]
    fn cargo_results_add_up_over_every_test_binary() {
        let output = "\
running 3 tests
test a ... ok
test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s

     Running tests/stack.rs (target/debug/deps/stack-1234)
test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 7 filtered out; finished in 0.00s
   Doc-tests thumbforge_core
test result: FAILED. 10 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.2s
test a_test_named_test_result: ok. 9 passed ... ok
";
        assert_eq!(tally(Counter::Cargo, output), Tally { passed: 13, failed: 2, ignored: 1, skipped: 0 });
    }

    #[test]
    fn node_tap_totals_are_read() {
        let output = "\
TAP version 13
# Subtest: the test objects also pass under njs
ok 22 - the test objects also pass under njs # SKIP njs is not installed
1..22
# tests 22
# suites 0
# pass 21
# fail 0
# cancelled 0
# skipped 1
# todo 0
# duration_ms 474.25
";
        assert_eq!(tally(Counter::NodeTap, output), Tally { passed: 21, failed: 0, ignored: 0, skipped: 1 });
    }

    #[test]
    fn terraform_and_check_totals_are_read() {
        let output = "tests/plan.tftest.hcl... pass\n\nSuccess! 42 passed, 0 failed.\n";
        assert_eq!(tally(Counter::Terraform, output).passed, 42);
        assert_eq!(tally(Counter::Terraform, "Failure! 40 passed, 2 failed.\n").failed, 2);
        // As `terraform test` prints it into a pipe: coloured.
        let coloured = "\u{1b}[32mSuccess!\u{1b}[0m\u{1b}[0m 41 passed, 0 failed.\n";
        assert_eq!(tally(Counter::Terraform, coloured).passed, 41);
        assert_eq!(tally(Counter::Checks, "ok   x\n57 checks passed\n12 checks passed\n").passed, 69);
    }

    #[test]
    fn nothing_run_nothing_failed_nothing_skipped_is_judged() {
        assert!(Tally { passed: 1, ..Tally::default() }.judge(Counter::Cargo).is_ok());
        let none = Tally { ignored: 3, ..Tally::default() }.judge(Counter::Cargo).unwrap_err();
        assert!(none.to_string().contains("ran no test"), "{none}");
        let failed = Tally { passed: 3, failed: 1, ..Tally::default() }.judge(Counter::Cargo).unwrap_err();
        assert!(failed.to_string().contains("1 failed"), "{failed}");
        let skipped =
            Tally { passed: 3, skipped: 1, ..Tally::default() }.judge(Counter::NodeTap).unwrap_err();
        assert!(skipped.to_string().contains("1 skipped"), "{skipped}");
    }

    #[test]
    fn tallies_print_like_the_closing_line_ci_reads() {
        let t = Tally { passed: 5, failed: 0, ignored: 2, skipped: 0 };
        assert_eq!(t.to_string(), "5 passed, 0 failed, 2 ignored");
        assert_eq!((t + t).passed, 10);
    }
}
