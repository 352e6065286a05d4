//! The upload page in a real browser: headless Chromium, driven by `playwright-core` from
//! `e2e/browser.test.mjs`, against the local stack with the real function binaries (booted here
//! exactly like `tests/stack.rs` does).
//!
//! `cargo xtask test` installs Debian's chromium and a pinned `playwright-core` when they are
//! missing and runs this test with `THUMBFORGE_CHROMIUM` and `THUMBFORGE_NODE_MODULES` naming
//! them. Alone: `cargo test -p thumbforge-dev --test browser -- --ignored --nocapture`.
//! Screenshots go to `target/e2e/`.
//!
//! The script ends by deleting an account through the page; it then names that account on one
//! line of its output (`THUMBFORGE_DELETED_ACCOUNT {"sub", "email", "images"}`), and this test
//! looks through the stack itself: no version or delete marker of any of its objects in the
//! bucket, no item of its partition in the table but the `DELETED` tombstone, no user in the
//! identity issuer.
#![allow(clippy::unwrap_used, clippy::print_stderr, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use thumbforge_catalog::schema::{PK, SK, TOMBSTONE_SK};
use thumbforge_core::Config;
use thumbforge_dev::{BUCKET, LogSink, Stack, StackOptions, TABLE, binaries};

/// The longest the browser script may take (it bounds each of its own waits far below this).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(660);

/// How the script names the account it deleted (followed by JSON).
const DELETED_ACCOUNT_MARKER: &str = "THUMBFORGE_DELETED_ACCOUNT ";

/// How long the deleted account's last traces may take to go (the clean-up runs off the table's
/// stream) after the script saw its thumbnails answer 404.
const CLEAN_UP_WAIT: Duration = Duration::from_secs(30);

/// The account the script deleted, as it named it.
struct DeletedAccount {
    sub: String,
    email: String,
    images: Vec<String>,
}

impl DeletedAccount {
    fn from_output(stdout: &str) -> Option<Self> {
        let line = stdout.lines().find_map(|line| line.strip_prefix(DELETED_ACCOUNT_MARKER))?;
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        Some(Self {
            sub: value["sub"].as_str()?.to_owned(),
            email: value["email"].as_str()?.to_owned(),
            images: value["images"]
                .as_array()?
                .iter()
                .filter_map(|id| id.as_str().map(str::to_owned))
                .collect(),
        })
    }

    /// Whether an object key belongs to one of the account's images (`raw/{id}.ext`, `thumbs/{id}/…`).
    fn owns_key(&self, key: &str) -> bool {
        self.images.iter().any(|id| key.contains(id.as_str()))
    }
}

/// Everything of `account` still in the stack: object versions and delete markers, table items
/// (its partition but the tombstone, or any item naming it or its images), its sign-in user.
async fn leftovers(stack: &Stack, account: &DeletedAccount) -> Vec<String> {
    let mut found = Vec::new();
    let s3 = stack.s3().client();
    let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
    let mut objects = 0;
    loop {
        let page = s3
            .list_object_versions()
            .bucket(BUCKET)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
            .unwrap();
        for version in page.versions() {
            objects += 1;
            let key = version.key().unwrap_or_default();
            if account.owns_key(key) {
                found.push(format!("object version {key} ({:?})", version.version_id()));
            } else if key.starts_with("raw/") {
                // An upload of another image: it must not be the deleted account's.
                let head = s3
                    .head_object()
                    .bucket(BUCKET)
                    .key(key)
                    .set_version_id(version.version_id().map(str::to_owned))
                    .send()
                    .await
                    .unwrap();
                if head.metadata().and_then(|m| m.get("owner")).is_some_and(|owner| owner == &account.sub) {
                    found.push(format!(
                        "object version {key} ({:?}) owned by {}",
                        version.version_id(),
                        account.sub
                    ));
                }
            }
        }
        for marker in page.delete_markers() {
            let key = marker.key().unwrap_or_default();
            if account.owns_key(key) {
                found.push(format!("delete marker {key} ({:?})", marker.version_id()));
            }
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
    }
    assert!(objects > 0, "the other account's files should still be in the bucket");

    let partition = format!("USER#{}", account.sub);
    let dynamo = stack.dynamo().client();
    let mut start = None;
    let mut tombstone = false;
    loop {
        let page = dynamo.scan().table_name(TABLE).set_exclusive_start_key(start).send().await.unwrap();
        for item in page.items() {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let (pk, sk) = (text(PK), text(SK));
            if pk == partition && sk == TOMBSTONE_SK {
                tombstone = true;
                continue;
            }
            let names_it = item.values().filter_map(|v| v.as_s().ok()).any(|value| {
                value.contains(account.sub.as_str())
                    || account.images.iter().any(|id| value.contains(id.as_str()))
            });
            if pk == partition || names_it {
                found.push(format!("table item {pk} / {sk}"));
            }
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    if !tombstone {
        found.push(format!("no {TOMBSTONE_SK} tombstone in {partition} (it should stay a while)"));
    }
    if let Some(sub) = stack.identity().admin_user_sub(&account.email).await {
        found.push(format!("the sign-in user {} ({sub})", account.email));
    }
    found
}

/// Waits (up to [`CLEAN_UP_WAIT`]) until nothing of `account` is left; panics naming what is.
async fn assert_nothing_left(stack: &Stack, account: &DeletedAccount) {
    let started = Instant::now();
    loop {
        let found = leftovers(stack, account).await;
        if found.is_empty() {
            eprintln!(
                "nothing of the deleted account {} ({} images) is left in the bucket, the table or the issuer ({:?})",
                account.sub,
                account.images.len(),
                started.elapsed()
            );
            return;
        }
        assert!(
            started.elapsed() < CLEAN_UP_WAIT,
            "after {CLEAN_UP_WAIT:?}, the deleted account {} still has:\n{}",
            account.sub,
            found.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

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
    let mut deleted = None;
    let passed = match &outcome {
        Ok(Ok(output)) => {
            let stdout = String::from_utf8_lossy(&output.stdout);
            eprint!("{stdout}");
            eprint!("{}", String::from_utf8_lossy(&output.stderr));
            deleted = DeletedAccount::from_output(&stdout);
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
    if passed {
        let account = deleted.as_ref().unwrap_or_else(|| {
            panic!(
                "the browser script passed without naming the account it deleted ({DELETED_ACCOUNT_MARKER}…)"
            )
        });
        assert_nothing_left(&stack, account).await;
    }
    stack.shutdown().await;
    assert!(
        passed,
        "the browser tests failed (their output and the stack's logs are above; screenshots in {})",
        screenshots.display()
    );
}
