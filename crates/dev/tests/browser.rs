//! The upload page in a real browser: headless Chromium, driven by `playwright-core` from
//! `e2e/browser.test.mjs`, against the local stack with the real function binaries (booted here
//! exactly like `tests/stack.rs` does).
//!
//! `cargo xtask test` installs Debian's chromium and a pinned `playwright-core` when they are
//! missing and runs this test with `THUMBFORGE_CHROMIUM` and `THUMBFORGE_NODE_MODULES` naming
//! them. Alone: `cargo test -p thumbforge-dev --test browser -- --ignored --nocapture`.
//! Screenshots go to `target/e2e/`.
#![allow(clippy::unwrap_used, clippy::print_stderr, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use thumbforge_core::Config;
use thumbforge_dev::{LogSink, Stack, StackOptions, binaries};

/// The longest the browser script may take (it bounds each of its own waits far below this).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(420);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A path from the environment, else the default; it must exist.
fn located(variable: &str, default: PathBuf) -> PathBuf {
    let path = std::env::var_os(variable).filter(|v| !v.is_empty()).map_or(default, PathBuf::from);
    assert!(
        path.exists(),
        "{} does not exist: set {variable}, or run `cargo xtask test`, which installs chromium \
         (apt) and playwright-core (npm, into target/tools/node) and runs this test",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs chromium and playwright-core; cargo xtask test installs them and runs it"]
async fn the_upload_page_works_in_a_real_browser() {
    let chromium = located("THUMBFORGE_CHROMIUM", PathBuf::from("/usr/bin/chromium"));
    let node_modules = located("THUMBFORGE_NODE_MODULES", workspace().join("target/tools/node/node_modules"));
    let script = workspace().join("e2e/browser.test.mjs");
    let screenshots = workspace().join("target/e2e");

    let binaries = binaries::test_build(&workspace()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let (logs, lines) = LogSink::memory();
    let mut options =
        StackOptions::new(Config::default(), data.path().to_owned(), workspace().join("frontend"), binaries);
    options.listen = "127.0.0.1:0".parse().unwrap();
    options.logs = logs;
    let dump_logs = || {
        eprintln!("---- the stack's logs ----");
        for line in lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            eprintln!("{line}");
        }
    };
    let stack = match Stack::start(options).await {
        Ok(stack) => stack,
        Err(err) => {
            dump_logs();
            panic!("the stack did not start: {err:#}");
        }
    };

    let node = std::env::var_os("THUMBFORGE_NODE").unwrap_or_else(|| "node".into());
    let child = tokio::process::Command::new(&node)
        .arg(&script)
        .current_dir(workspace())
        .env("THUMBFORGE_URL", stack.url())
        .env("THUMBFORGE_OUTBOX", stack.identity().outbox_path())
        .env("THUMBFORGE_CHROMIUM", &chromium)
        .env("THUMBFORGE_NODE_MODULES", &node_modules)
        .env("THUMBFORGE_E2E_OUT", &screenshots)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start `{} {}` (is Node.js installed?): {e}", node.display(), script.display())
        });
    let outcome = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output()).await;
    let passed = match &outcome {
        Ok(Ok(output)) => {
            eprint!("{}", String::from_utf8_lossy(&output.stdout));
            eprint!("{}", String::from_utf8_lossy(&output.stderr));
            output.status.success()
        }
        Ok(Err(err)) => {
            eprintln!("waiting for the browser script failed: {err}");
            false
        }
        Err(_) => {
            eprintln!("the browser script did not finish within {SCRIPT_TIMEOUT:?} (it was killed)");
            false
        }
    };
    if !passed {
        dump_logs();
    }
    stack.shutdown().await;
    assert!(
        passed,
        "the browser tests failed (their output and the stack's logs are above; screenshots in {})",
        screenshots.display()
    );
}
