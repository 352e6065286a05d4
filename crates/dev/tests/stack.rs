//! The local stack end to end, over HTTP, with the real function binaries: what a user of
//! `cargo xtask dev` (or of the page) does, and what must never happen.
#![allow(clippy::unwrap_used, clippy::print_stderr, reason = "tests")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::HeaderMap;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use thumbforge_catalog::{Catalog, Owner};
use thumbforge_core::{Config, OutputFormat};
use thumbforge_dev::{Binaries, LogSink, RetryPolicy, Stack, StackOptions, binaries};
use thumbforge_s3_local::Operation;
use tokio::net::TcpStream;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The functions built for this host once per test binary, as the workspace's test run builds
/// them (cargo's own build lock orders this with any other build).
fn native() -> Binaries {
    static BUILT: OnceLock<Binaries> = OnceLock::new();
    BUILT.get_or_init(|| binaries::test_build(&workspace()).unwrap()).clone()
}

struct Booted {
    stack: Stack,
    logs: Arc<Mutex<Vec<String>>>,
    _data: tempfile::TempDir,
}

impl Booted {
    fn dump_logs(&self) {
        for line in self.logs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            eprintln!("{line}");
        }
    }
}

/// A failing test shows what the functions logged.
impl Drop for Booted {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
    }
}

/// Options for a stack on free ports with its data in `data`, logging to memory.
fn options(binaries: Binaries, data: &Path) -> (StackOptions, Arc<Mutex<Vec<String>>>) {
    let (logs, lines) = LogSink::memory();
    let mut options =
        StackOptions::new(Config::default(), data.to_owned(), workspace().join("frontend"), binaries);
    options.listen = "127.0.0.1:0".parse().unwrap();
    options.logs = logs;
    (options, lines)
}

async fn boot(binaries: Binaries, retry: RetryPolicy) -> Booted {
    let data = tempfile::tempdir().unwrap();
    let (mut options, lines) = options(binaries, data.path());
    options.retry = retry;
    let stack = match Stack::start(options).await {
        Ok(stack) => stack,
        Err(err) => {
            for line in lines.lock().unwrap().iter() {
                eprintln!("{line}");
            }
            panic!("the stack did not start: {err:#}");
        }
    };
    Booted { stack, logs: lines, _data: data }
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy { delays: vec![Duration::from_millis(20), Duration::from_millis(40)] }
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

/// One HTTP/1.1 request on a fresh connection.
async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Answer {
    let uri: hyper::Uri = url.parse().unwrap();
    let authority = uri.authority().unwrap().to_string();
    let stream = TcpStream::connect(&authority).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let body = body.into();
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header("host", &authority)
        .header("content-length", body.len());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender.send_request(request.body(Full::new(body)).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer { status, headers, body }
}

async fn get(url: &str) -> Answer {
    send("GET", url, &[], Bytes::new()).await
}

/// The stack's usual test user.
const JOURNEY_USER: &str = "journey@example.com";

/// `Authorization: Bearer …` for `email`, signed up once per stack through the issuer's admin
/// call (the browser test signs up through the pages).
async fn bearer_for(stack: &Stack, email: &str) -> String {
    static TOKENS: Mutex<BTreeMap<(String, String), String>> = Mutex::new(BTreeMap::new());
    let cache_key = (stack.url().to_owned(), email.to_owned());
    if let Some(token) = TOKENS.lock().unwrap().get(&cache_key) {
        return token.clone();
    }
    let identity = stack.identity();
    // Concurrent first calls race to create the user: one wins, the others find it there.
    match identity.admin_create_confirmed_user(email, "Journey-passw0rd").await {
        Ok(_) | Err(thumbforge_oidc_local::Error::UserExists(_)) => {}
        Err(err) => panic!("creating the test user: {err}"),
    }
    let tokens = identity.tokens_for_tests(email, thumbforge_dev::CLIENT_ID).await.unwrap();
    let header = format!("Bearer {}", tokens.access_token);
    TOKENS.lock().unwrap().insert(cache_key, header.clone());
    header
}

async fn bearer(stack: &Stack) -> String {
    bearer_for(stack, JOURNEY_USER).await
}

/// The metadata table's owner of `email`'s images.
async fn owner_of(stack: &Stack, email: &str) -> Owner {
    Owner::new(stack.identity().admin_user_sub(email).await.unwrap()).unwrap()
}

/// `GET` on the API as the stack's test user.
async fn api_get(stack: &Stack, url: &str) -> Answer {
    send("GET", url, &[("authorization", &bearer(stack).await)], Bytes::new()).await
}

/// `POST /api/uploads` for `bytes`.
async fn presign(stack: &Stack, filename: &str, content_type: &str, size: usize) -> Value {
    presign_as(stack, JOURNEY_USER, filename, content_type, size).await
}

/// `POST /api/uploads` for `bytes`, as `email`.
async fn presign_as(stack: &Stack, email: &str, filename: &str, content_type: &str, size: usize) -> Value {
    let auth = bearer_for(stack, email).await;
    let answer = send(
        "POST",
        &format!("{}/api/uploads", stack.url()),
        &[("content-type", "application/json"), ("authorization", &auth)],
        json!({"filename": filename, "contentType": content_type, "size": size}).to_string(),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    answer.json()
}

/// The upload a browser makes: every returned header but Content-Length (the client sets that
/// from the body), sent from the page's origin.
async fn put(ticket: &Value, origin: &str, body: &[u8]) -> Answer {
    let headers: Vec<(String, String)> = ticket["upload"]["headers"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| *name != "content-length")
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .chain([("origin".to_owned(), origin.to_owned())])
        .collect();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    send("PUT", ticket["upload"]["url"].as_str().unwrap(), &headers, body.to_vec()).await
}

/// Polls the status URL until it is no longer `pending`.
async fn wait_done(stack: &Stack, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut pause = Duration::from_millis(20);
    loop {
        let answer = api_get(stack, &format!("{}/api/images/{id}", stack.url())).await;
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
        let image = answer.json();
        if image["status"] != "pending" {
            return image;
        }
        assert!(Instant::now() < deadline, "{id} still pending after 120 s");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(workspace().join("fixtures/photos").join(name)).unwrap()
}

/// The whole user journey through one stack: the page, an upload to thumbnails, a hostile file,
/// tampered uploads, a duplicate event.
async fn user_journey(booted: &Booted) {
    let stack = &booted.stack;
    let origin = stack.url();

    // The page, under the distribution's headers.
    let page = get(&format!("{origin}/")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(page.header("cache-control"), "no-cache");
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert_eq!(page.header("cross-origin-opener-policy"), "same-origin");
    assert!(page.header("permissions-policy").contains("camera=()"));
    assert_eq!(page.header("cross-origin-resource-policy"), "", "the page itself may be linked to");
    let csp = page.header("content-security-policy");
    assert!(
        csp.contains(&format!("connect-src 'self' {} {};", stack.s3().endpoint(), stack.identity().url())),
        "{csp}"
    );

    // API Gateway's authorizer: only the configuration is public.
    for (method, path) in
        [("GET", "/api/images"), ("POST", "/api/uploads"), ("GET", "/api/images/x"), ("PUT", "/api/nothing")]
    {
        let refused = send(method, &format!("{origin}{path}"), &[], Bytes::new()).await;
        assert_eq!(
            (refused.status, refused.json()),
            (401, json!({"message": "Unauthorized"})),
            "{method} {path}"
        );
        assert_eq!(refused.header("www-authenticate"), "Bearer");
        let forged =
            send(method, &format!("{origin}{path}"), &[("authorization", "Bearer a.b.c")], Bytes::new())
                .await;
        assert_eq!(forged.status, 401, "{method} {path}");
    }
    assert_eq!(get(&format!("{origin}/api")).await.json(), json!({"message": "Not Found"}));
    for path in ["/../Cargo.toml", "/%2e%2e/Cargo.toml", "/README.md", "/tests/lib.test.mjs", "/.git/config"]
    {
        assert_eq!(get(&format!("{origin}{path}")).await.status, 404, "{path}");
    }
    assert_eq!(send("POST", &format!("{origin}/index.html"), &[], "x").await.status, 403);

    // The limits the page checks files against.
    let config = get(&format!("{origin}/api/config")).await;
    assert_eq!(config.status, 200);
    assert_eq!(config.json()["maxUploadBytes"], 26_214_400);
    assert!(!config.header("content-security-policy").is_empty());

    // A photo with EXIF orientation 6 → ready, upright renditions, each served with its type.
    let photo = fixture("orient_6.jpg");
    let ticket = presign(stack, "IMG 6 (été).jpg", "image/jpeg", photo.len()).await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    let upload_url = ticket["upload"]["url"].as_str().unwrap().to_owned();
    assert!(upload_url.starts_with(&stack.s3().endpoint()), "{upload_url}");
    // The browser's preflight, then the upload, both from the page's origin. The preflight asks
    // for every header the ticket tells the page to send (as Chromium does), so a header the SDK
    // slips into the signature (Lambda's `x-amzn-trace-id`, say) fails here as it would in S3.
    let mut requested: Vec<&str> =
        ticket["upload"]["headers"].as_object().unwrap().keys().map(String::as_str).collect();
    requested.retain(|h| *h != "content-length");
    assert!(requested.contains(&"content-type"), "{requested:?}");
    let requested = requested.join(",");
    let preflight = send(
        "OPTIONS",
        &upload_url,
        &[
            ("origin", origin),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", &requested),
        ],
        Bytes::new(),
    )
    .await;
    assert_eq!(preflight.status, 200);
    assert_eq!(preflight.header("access-control-allow-origin"), origin);
    let uploaded = put(&ticket, origin, &photo).await;
    assert_eq!(uploaded.status, 200, "{}", String::from_utf8_lossy(&uploaded.body));
    assert_eq!(uploaded.header("access-control-allow-origin"), origin);

    let image = wait_done(stack, &id).await;
    assert_eq!(image["status"], "ready", "{image}");
    let thumbnails = image["thumbnails"].as_array().unwrap();
    assert_eq!(thumbnails.len(), 4, "{image}");
    for thumbnail in thumbnails {
        let (width, height) = (thumbnail["width"].as_u64().unwrap(), thumbnail["height"].as_u64().unwrap());
        // Stored 1200×1800 with orientation 6, shown 1800×1200: the renditions follow the
        // orientation (the pixel check is in the engine's tests and the browser tests).
        assert!(width > height, "{thumbnail}");
        let served = get(&format!("{origin}{}", thumbnail["url"].as_str().unwrap())).await;
        assert_eq!(served.status, 200, "{thumbnail}");
        assert_eq!(served.header("cache-control"), "public, max-age=3600");
        assert_eq!(served.header("cross-origin-resource-policy"), "same-origin", "no other site embeds it");
        assert_eq!(served.header("vary"), "Accept");
        match thumbnail["format"].as_str().unwrap() {
            "jpeg" => {
                assert_eq!(served.header("content-type"), "image/jpeg");
                assert_eq!(&served.body[..3], &[0xFF, 0xD8, 0xFF]);
            }
            "webp" => {
                assert_eq!(served.header("content-type"), "image/webp");
                assert_eq!(&served.body[8..12], b"WEBP");
            }
            other => panic!("unexpected format {other}"),
        }
    }
    assert_eq!(get(&format!("{origin}/thumbs/{id}/999.jpg")).await.status, 404);
    // The extension-less URL: WebP for a browser that names it, JPEG for any other.
    let chrome = [("accept", "image/avif,image/webp,image/apng,image/*,*/*;q=0.8")];
    let negotiated = send("GET", &format!("{origin}/thumbs/{id}/256"), &chrome, Bytes::new()).await;
    assert_eq!((negotiated.status, negotiated.header("content-type")), (200, "image/webp"));
    let plain =
        send("GET", &format!("{origin}/thumbs/{id}/256"), &[("accept", "image/*")], Bytes::new()).await;
    assert_eq!((plain.status, plain.header("content-type")), (200, "image/jpeg"));

    // A text file that claims to be a JPEG → rejected, with its reason.
    let text = b"just some text, not a picture\n";
    let hostile = presign(stack, "notes.jpg", "image/jpeg", text.len()).await;
    assert_eq!(put(&hostile, origin, text).await.status, 200);
    let rejected = wait_done(stack, hostile["id"].as_str().unwrap()).await;
    assert_eq!(rejected["status"], "rejected", "{rejected}");
    assert_eq!(rejected["reason"], "not_an_image", "{rejected}");
    // Its bytes stop costing money: the upload goes once the rejection is recorded.
    settle(stack).await;
    assert_eq!(versions_of(stack, hostile["id"].as_str().unwrap()).await, Vec::<String>::new());

    // Tampered uploads are refused by S3 itself, and nothing is stored.
    let small = fixture("orient_1.jpg");
    let ticket = presign(stack, "a.jpg", "image/jpeg", small.len()).await;
    let mut longer = small.clone();
    longer.push(0);
    assert_eq!(put(&ticket, origin, &longer).await.status, 403, "a longer body");
    let mut other_type = ticket.clone();
    other_type["upload"]["headers"]["content-type"] = json!("image/png");
    assert_eq!(put(&other_type, origin, &small).await.status, 403, "another type");
    let mut other_key = ticket.clone();
    let signed_url = ticket["upload"]["url"].as_str().unwrap();
    let moved = signed_url.replace(ticket["id"].as_str().unwrap(), "0192f0c4-7d1e-7c3a-9b1e-6f4d2c1a0b9e");
    assert_ne!(moved, signed_url);
    other_key["upload"]["url"] = json!(moved);
    assert_eq!(put(&other_key, origin, &small).await.status, 403, "another key");
    let nothing = api_get(stack, &format!("{origin}/api/images/{}", ticket["id"].as_str().unwrap())).await;
    assert_eq!(
        nothing.json()["status"],
        "pending",
        "recorded when the URL was handed out, nothing stored yet"
    );
    assert_eq!(
        stack
            .s3()
            .client()
            .head_object()
            .bucket(thumbforge_dev::BUCKET)
            .key(ticket["key"].as_str().unwrap())
            .send()
            .await
            .ok()
            .map(|_| ()),
        None,
        "nothing under the ticket's key"
    );
    // The ticket still works once, and only once.
    assert_eq!(put(&ticket, origin, &small).await.status, 200);
    assert_eq!(put(&ticket, origin, &small).await.status, 412, "a second write of the key");
    assert_eq!(wait_done(stack, ticket["id"].as_str().unwrap()).await["status"], "ready");

    // A duplicate event changes nothing: no write, the image's record as it was.
    let notifications = stack.notifications();
    notifications.wait_idle().await;
    let delivery = notifications.deliveries().into_iter().find(|d| d.key.contains(&id)).unwrap();
    let owner = owner_of(stack, JOURNEY_USER).await;
    let image_id: uuid::Uuid = id.parse().unwrap();
    let record = stack.catalog().get(&owner, image_id).await.unwrap().unwrap();
    assert_eq!(record.state.status(), "ready");
    let puts = stack.s3().calls(Operation::PutObject);
    let again = notifications.deliver(delivery.key.clone(), delivery.event.clone(), Instant::now()).await;
    let summary = again.outcome.unwrap();
    assert_eq!(summary["records"][0]["outcome"], "already_done", "{summary}");
    assert_eq!(stack.s3().calls(Operation::PutObject), puts);
    assert_eq!(stack.catalog().get(&owner, image_id).await.unwrap().unwrap(), record);

    // The gallery lists them newest first; nothing went to the dead-letter folder.
    let list = api_get(stack, &format!("{origin}/api/images")).await.json();
    let ids: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [ticket["id"].as_str().unwrap(), hostile["id"].as_str().unwrap(), id.as_str()]);
    assert!(!notifications.dead_letter_dir().exists());
    assert!(notifications.deliveries().iter().all(|d| d.attempts == 1 && d.outcome.is_ok()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_native_stack_serves_the_whole_journey() {
    let booted = boot(native(), quick_retries()).await;
    user_journey(&booted).await;
    // Cold starts are measured from process start to the first request for an event.
    assert_eq!(booted.stack.thumbnail().cold_starts().len(), 2, "two environments, no restart");
}

/// The shipped artifacts: the aarch64 zips `cargo xtask build` writes, run under qemu.
/// `cargo xtask test` builds them and runs this test; alone it needs `cargo xtask build` first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs target/dist/*.zip from `cargo xtask build` and qemu; `cargo xtask test` runs it"]
async fn the_aarch64_artifacts_serve_the_whole_journey_under_qemu() {
    let work = tempfile::tempdir().unwrap();
    let binaries = binaries::arm64_from_zips(&workspace().join("target/dist"), work.path()).unwrap();
    let booted = boot(binaries, quick_retries()).await;
    user_journey(&booted).await;
    drop(booted);
    // rav1e's aarch64 assembly, as the zips carry it: AVIF on, under qemu. The bytes are not
    // compared with this machine's engine (SIMD resizing may round differently on NEON).
    let again = tempfile::tempdir().unwrap();
    let binaries = binaries::arm64_from_zips(&workspace().join("target/dist"), again.path()).unwrap();
    avif_is_served_by_accept(binaries, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_events_are_retried_then_dead_lettered_and_can_be_replayed() {
    let booted = boot(native(), quick_retries()).await;
    let stack = &booted.stack;
    let photo = fixture("orient_1.jpg");
    let faults = stack.s3().faults();
    // S3 fails every duplicate check of the thumbnail function: each invocation fails.
    faults.fail_next(Operation::HeadObject, 10_000, 503);
    let ticket = presign(stack, "a.jpg", "image/jpeg", photo.len()).await;
    assert_eq!(put(&ticket, stack.url(), &photo).await.status, 200);
    let deadline = Instant::now() + Duration::from_secs(120);
    while stack.notifications().deliveries().is_empty() {
        assert!(Instant::now() < deadline, "no delivery finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    faults.clear();
    let delivery = stack.notifications().deliveries().remove(0);
    assert_eq!(delivery.attempts, 3, "one attempt and Lambda's two retries");
    assert!(delivery.outcome.is_err());
    let letters: Vec<_> = std::fs::read_dir(stack.notifications().dead_letter_dir()).unwrap().collect();
    assert_eq!(letters.len(), 1);
    let letter: Value =
        serde_json::from_slice(&std::fs::read(letters[0].as_ref().unwrap().path()).unwrap()).unwrap();
    assert_eq!(letter["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(letter["requestContext"]["approximateInvokeCount"], 3);
    assert_eq!(letter["requestPayload"], delivery.event);
    assert_eq!(wait_status(stack, ticket["id"].as_str().unwrap()).await, "pending");

    // Replaying the dead letter, once S3 is back, completes the work.
    let replay =
        stack.notifications().deliver(delivery.key, letter["requestPayload"].clone(), Instant::now()).await;
    assert_eq!(replay.outcome.unwrap()["records"][0]["outcome"], "ready");
    assert_eq!(wait_done(stack, ticket["id"].as_str().unwrap()).await["status"], "ready");
}

/// A photo our code cannot process (the test build's fault injection makes the engine panic on
/// it) is `failed`, not `rejected`: the user is told it is not their file, the invocation fails
/// three times and the event is dead-lettered for a replay, and the upload is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_photo_our_code_cannot_process_is_failed_and_dead_lettered_not_blamed_on_the_file() {
    let booted = boot(native(), quick_retries()).await;
    let stack = &booted.stack;
    let photo = fixture("orient_1.jpg");
    let marker = thumbforge_core::fault::PANIC_MARKER;
    let binary = std::fs::read(&native().thumbnail).unwrap();
    assert!(
        binary.windows(marker.len()).any(|window| window == marker),
        "the test build of the thumbnail function carries the fault injection (release builds are refused with it)"
    );
    let marked = thumbforge_engine::fault::marked_jpeg(&photo);
    let ticket = presign(stack, "hard.jpg", "image/jpeg", marked.len()).await;
    assert_eq!(put(&ticket, stack.url(), &marked).await.status, 200);
    let id = ticket["id"].as_str().unwrap();
    let image = wait_done(stack, id).await;
    assert_eq!(
        (image["status"].as_str(), image["reason"].as_str()),
        (Some("failed"), Some("internal_error")),
        "{image}"
    );
    let message = image["message"].as_str().unwrap();
    assert!(message.contains("not with your file"), "{message}");
    assert!(!message.contains("panic"), "the internals stay in the logs: {message}");

    let deadline = Instant::now() + Duration::from_secs(120);
    while stack.notifications().deliveries().is_empty() {
        assert!(Instant::now() < deadline, "no delivery finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivery = stack.notifications().deliveries().remove(0);
    assert_eq!(delivery.attempts, 3, "the invocation failed: one attempt and Lambda's two retries");
    let letters: Vec<_> = std::fs::read_dir(stack.notifications().dead_letter_dir()).unwrap().collect();
    assert_eq!(letters.len(), 1, "the event is kept for a replay");
    assert_eq!(wait_status(stack, id).await, "failed");
    // Nothing the user uploaded is lost: the original is still there to download.
    let original = api_get(stack, &format!("{}/api/images/{id}/content?size=original", stack.url())).await;
    assert_eq!(original.status, 302, "{}", String::from_utf8_lossy(&original.body));
    // The thumbnail function's log has the panic's message, at error level.
    let logs = booted.logs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    assert!(
        logs.iter().any(|line| line.contains("injected fault") && line.contains("ERROR")),
        "the panic's message is logged at error level"
    );
}

async fn wait_status(stack: &Stack, id: &str) -> String {
    api_get(stack, &format!("{}/api/images/{id}", stack.url())).await.json()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_uploads_from_32_clients_all_become_ready() {
    const UPLOADS: usize = 200;
    const CLIENTS: usize = 32;
    let booted = Arc::new(boot(native(), quick_retries()).await);
    let photo = Arc::new(fixture("orient_1.jpg"));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let (booted, photo, next) = (Arc::clone(&booted), Arc::clone(&photo), Arc::clone(&next));
        clients.spawn(async move {
            let stack = &booted.stack;
            let mut latencies = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < UPLOADS {
                let ticket = presign(stack, "load.jpg", "image/jpeg", photo.len()).await;
                let started = Instant::now();
                assert_eq!(put(&ticket, stack.url(), &photo).await.status, 200);
                let image = wait_done(stack, ticket["id"].as_str().unwrap()).await;
                assert_eq!(image["status"], "ready", "{image}");
                latencies.push(started.elapsed());
            }
            latencies
        });
    }
    let mut latencies = Vec::new();
    while let Some(done) = clients.join_next().await {
        match done {
            Ok(mine) => latencies.extend(mine),
            Err(panic) => {
                booted.dump_logs();
                std::panic::resume_unwind(panic.into_panic());
            }
        }
    }
    latencies.sort();
    assert_eq!(latencies.len(), UPLOADS, "every upload became ready");
    let notifications = booted.stack.notifications();
    notifications.wait_idle().await;
    let deliveries = notifications.deliveries();
    assert_eq!(deliveries.len(), UPLOADS, "one delivery per upload, none lost");
    assert!(deliveries.iter().all(|d| d.outcome.is_ok()));
    assert!(!notifications.dead_letter_dir().exists(), "the dead-letter folder is empty");
    let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    let report = format!(
        "{UPLOADS} uploads ({} KiB JPEG) from {CLIENTS} clients, 2 environments per function: \
         upload-to-ready p50 {:.0?}, p95 {:.0?}, max {:.0?}\n",
        photo.len() / 1024,
        percentile(50),
        percentile(95),
        latencies[latencies.len() - 1]
    );
    eprint!("{report}");
    // Kept for people to read (`cargo test` hides the output of passing tests).
    let reports = workspace().join("target/reports");
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::write(reports.join("dev-load.txt"), report).unwrap();
}

#[tokio::test]
async fn a_function_that_cannot_start_fails_the_stack_with_its_reason() {
    let mut broken = native();
    broken.presign = PathBuf::from("/bin/false");
    let data = tempfile::tempdir().unwrap();
    let (options, _lines) = options(broken, data.path());
    let err = Stack::start(options).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("thumbforge-dev-presign") && text.contains("exited"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_stops_the_functions_and_frees_the_ports() {
    let data = tempfile::tempdir().unwrap();
    let (options, _lines) = options(native(), data.path());
    let stack = Stack::start(options).await.unwrap();
    let (url, s3) = (stack.url().to_owned(), stack.s3().local_addr());
    let api = stack.api_url().to_owned();
    let presign = stack.presign().clone();
    assert_eq!(get(&format!("{url}/api/config")).await.status, 200);
    stack.shutdown().await;
    assert_eq!(presign.invoke("{}").await, Err(thumbforge_dev::InvokeError::Stopped));
    for (what, url) in [("the edge", &url), ("the API endpoint", &api)] {
        let addr = url.trim_start_matches("http://").to_owned();
        assert!(TcpStream::connect(&addr).await.is_err(), "{what} still listens");
    }
    assert!(TcpStream::connect(s3).await.is_err(), "S3 still listens");
}

/// Only the edge reaches the API: API Gateway's own endpoint passes requests through unchanged,
/// and the function refuses those without the edge's origin secret, signed in or not; through
/// the edge a forged header is replaced by the real one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_api_refuses_requests_that_skip_the_edge() {
    const HEADER: &str = thumbforge_core::web::ORIGIN_SECRET_HEADER;
    let booted = boot(native(), RetryPolicy::default()).await;
    let stack = &booted.stack;
    let (edge, api) = (stack.url(), stack.api_url());
    let token = bearer(stack).await;
    let signed_in = [("authorization", token.as_str())];

    for (path, headers) in [("/api/config", &[][..]), ("/api/images", &signed_in[..])] {
        let direct = send("GET", &format!("{api}{path}"), headers, Bytes::new()).await;
        assert_eq!(direct.status, 403, "{path}: {}", String::from_utf8_lossy(&direct.body));
        assert_eq!(direct.json()["error"]["code"], "direct_access_forbidden");

        let forged = [headers, &[(HEADER, "0123456789abcdef0123456789abcdef0123")][..]].concat();
        let wrong = send("GET", &format!("{api}{path}"), &forged, Bytes::new()).await;
        assert_eq!(wrong.status, 403, "{path} with a wrong secret");

        let with_secret = [headers, &[(HEADER, stack.origin_secret())][..]].concat();
        let served = send("GET", &format!("{api}{path}"), &with_secret, Bytes::new()).await;
        assert_eq!(served.status, 200, "{path} with the secret: {}", String::from_utf8_lossy(&served.body));

        let through_edge = send("GET", &format!("{edge}{path}"), &forged, Bytes::new()).await;
        assert_eq!(through_edge.status, 200, "{path} through the edge, a forged header replaced");
    }
    // The authorizer still runs first on API Gateway's endpoint; the page is not served there.
    assert_eq!(get(&format!("{api}/api/images")).await.status, 401);
    assert_eq!(get(&format!("{api}/index.html")).await.status, 404);
    assert_eq!(get(&format!("{edge}/index.html")).await.status, 200);
}

/// Every photo has an owner: over real HTTP, with real tokens, one user reaches nothing of
/// another's, whatever id or cursor they send.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn users_see_only_their_own_images() {
    let booted = boot(native(), quick_retries()).await;
    let stack = &booted.stack;
    let origin = stack.url();
    let (ana, ben) = ("ana@example.com", "ben@example.com");
    let photo = fixture("orient_1.jpg");
    // Ben uploads first, Ana twice after him: Ana's ids are newer than Ben's.
    let mut uploaded = BTreeMap::new();
    for email in [ben, ana, ana] {
        let ticket = presign_as(stack, email, "a.jpg", "image/jpeg", photo.len()).await;
        assert_eq!(put(&ticket, origin, &photo).await.status, 200);
        uploaded.entry(email).or_insert_with(Vec::new).push(ticket["id"].as_str().unwrap().to_owned());
    }
    let as_user = |email: &'static str, path: String| async move {
        let auth = bearer_for(stack, email).await;
        send("GET", &format!("{origin}{path}"), &[("authorization", &auth)], Bytes::new()).await
    };
    for (email, ids) in &uploaded {
        for id in ids {
            let image = as_user(email, format!("/api/images/{id}")).await;
            assert_eq!(image.status, 200, "{email} reads their own {id}");
        }
    }
    let listed = |answer: Answer| -> Vec<String> {
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
        answer.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut anas = uploaded[ana].clone();
    anas.reverse();
    assert_eq!(listed(as_user(ana, "/api/images".into()).await), anas, "Ana's, newest first");
    assert_eq!(listed(as_user(ben, "/api/images".into()).await), uploaded[ben], "Ben's only");
    for id in &uploaded[ana] {
        // Another user's image is not there at all: the same 404 as an unknown id.
        let other = as_user(ben, format!("/api/images/{id}")).await;
        assert_eq!((other.status, other.json()["error"]["code"].clone()), (404, json!("image_not_found")));
        // A cursor holding one of Ana's ids only moves Ben through his own images.
        assert_eq!(listed(as_user(ben, format!("/api/images?cursor={id}")).await), uploaded[ben]);
    }
    // Ana's cursor at her older image reaches nothing of Ben's older one.
    let older = &uploaded[ana][0];
    assert_eq!(listed(as_user(ana, format!("/api/images?cursor={older}")).await), Vec::<String>::new());
    // The table holds each image in its owner's partition only.
    let catalog = stack.catalog();
    let ben_owner = owner_of(stack, ben).await;
    assert_eq!(catalog.profile(&ben_owner).await.unwrap().images, 1);
    assert_eq!(catalog.profile(&owner_of(stack, ana).await).await.unwrap().images, 2);
}

/// `DELETE /api/images/{id}` as `email`.
async fn delete_as(stack: &Stack, email: &str, id: &str) -> Answer {
    let auth = bearer_for(stack, email).await;
    send("DELETE", &format!("{}/api/images/{id}", stack.url()), &[("authorization", &auth)], Bytes::new())
        .await
}

/// Every version and delete marker the bucket holds for image `id` (upload and renditions).
async fn versions_of(stack: &Stack, id: &str) -> Vec<String> {
    let client = stack.s3().client();
    let mut keys = Vec::new();
    for prefix in [format!("raw/{id}"), format!("thumbs/{id}/")] {
        let out =
            client.list_object_versions().bucket(thumbforge_dev::BUCKET).prefix(prefix).send().await.unwrap();
        keys.extend(out.versions().iter().filter_map(|v| v.key().map(str::to_owned)));
        keys.extend(out.delete_markers().iter().filter_map(|m| m.key().map(str::to_owned)));
    }
    keys
}

/// Waits until every S3 event and every stream record so far has been handled.
async fn settle(stack: &Stack) {
    tokio::time::timeout(Duration::from_secs(120), async {
        stack.notifications().wait_idle().await;
        stack.streams().wait_drained().await.unwrap();
        // The thumbnail function's own clean-up may have written to the table meanwhile.
        stack.notifications().wait_idle().await;
        stack.streams().wait_drained().await.unwrap();
    })
    .await
    .expect("the stack settled within 120 s");
}

/// An image of `email`'s, uploaded and ready; its id and thumbnail URLs.
async fn ready_image_of(stack: &Stack, email: &str, photo: &[u8]) -> (String, Vec<String>) {
    let ticket = presign_as(stack, email, "a.jpg", "image/jpeg", photo.len()).await;
    assert_eq!(put(&ticket, stack.url(), photo).await.status, 200);
    let id = ticket["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    let auth = bearer_for(stack, email).await;
    loop {
        let answer = send(
            "GET",
            &format!("{}/api/images/{id}", stack.url()),
            &[("authorization", &auth)],
            Bytes::new(),
        )
        .await;
        let image = answer.json();
        if image["status"] == "ready" {
            let urls = image["thumbnails"].as_array().unwrap().iter();
            return (id, urls.map(|t| t["url"].as_str().unwrap().to_owned()).collect());
        }
        assert_eq!(image["status"], "pending", "{image}");
        assert!(Instant::now() < deadline, "{id} not ready after 120 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_image_leaves_nothing_behind_and_only_its_owner_can_delete_it() {
    let booted = boot(native(), quick_retries()).await;
    let stack = &booted.stack;
    let (ana, ben) = ("ana@example.com", "ben@example.com");
    let photo = fixture("orient_1.jpg");
    let (gone, gone_urls) = ready_image_of(stack, ana, &photo).await;
    let (kept, kept_urls) = ready_image_of(stack, ana, &photo).await;
    let (bens, _) = ready_image_of(stack, ben, &photo).await;
    assert_eq!(versions_of(stack, &gone).await.len(), 5, "the upload and four renditions");
    for url in &gone_urls {
        assert_eq!(get(&format!("{}{url}", stack.url())).await.status, 200, "{url}");
    }

    // Ben cannot delete Ana's image: it is not there for him.
    let refused = delete_as(stack, ben, &gone).await;
    assert_eq!((refused.status, refused.json()["error"]["code"].clone()), (404, json!("image_not_found")));
    // Without a token the authorizer answers first.
    let anonymous = send("DELETE", &format!("{}/api/images/{gone}", stack.url()), &[], Bytes::new()).await;
    assert_eq!(anonymous.status, 401);

    let deleted = delete_as(stack, ana, &gone).await;
    assert_eq!(deleted.status, 204, "{}", String::from_utf8_lossy(&deleted.body));
    assert!(deleted.body.is_empty());
    // Gone from the API at once.
    let auth = bearer_for(stack, ana).await;
    let status =
        send("GET", &format!("{}/api/images/{gone}", stack.url()), &[("authorization", &auth)], Bytes::new())
            .await;
    assert_eq!(status.status, 404);
    assert_eq!(delete_as(stack, ana, &gone).await.status, 404, "a second delete finds nothing");

    // Its files go through the table's stream.
    settle(stack).await;
    assert_eq!(versions_of(stack, &gone).await, Vec::<String>::new());
    for url in &gone_urls {
        assert_eq!(get(&format!("{}{url}", stack.url())).await.status, 404, "{url}");
    }
    assert!(
        stack.streams().deliveries().iter().any(|d| d.payload.to_string().contains(&gone)),
        "the clean-up came from the stream"
    );
    // Nothing else was touched.
    assert_eq!(versions_of(stack, &kept).await.len(), 5);
    assert_eq!(versions_of(stack, &bens).await.len(), 5);
    for url in &kept_urls {
        assert_eq!(get(&format!("{}{url}", stack.url())).await.status, 200, "{url}");
    }
    let catalog = stack.catalog();
    assert_eq!(catalog.profile(&owner_of(stack, ana).await).await.unwrap().images, 1);
    assert_eq!(catalog.profile(&owner_of(stack, ben).await).await.unwrap().images, 1);
    assert!(stack.streams().dead_letters().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_racing_the_thumbnail_function_leave_nothing_behind() {
    let booted = boot(native(), quick_retries()).await;
    let stack = &booted.stack;
    let photo = fixture("orient_1.jpg");
    let email = "racer@example.com";
    // Deleted before the upload, right after it, and while the function works on it.
    let mut ids = Vec::new();
    for delay_ms in [None, Some(0), Some(5), Some(20), Some(60), Some(150)] {
        let ticket = presign_as(stack, email, "a.jpg", "image/jpeg", photo.len()).await;
        let id = ticket["id"].as_str().unwrap().to_owned();
        match delay_ms {
            None => {
                assert_eq!(delete_as(stack, email, &id).await.status, 204);
                // The URL is still valid: the upload lands after the delete.
                assert_eq!(put(&ticket, stack.url(), &photo).await.status, 200);
            }
            Some(ms) => {
                assert_eq!(put(&ticket, stack.url(), &photo).await.status, 200);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                assert_eq!(delete_as(stack, email, &id).await.status, 204);
            }
        }
        ids.push(id);
    }
    settle(stack).await;
    for id in &ids {
        assert_eq!(versions_of(stack, id).await, Vec::<String>::new(), "{id}");
        assert_eq!(delete_as(stack, email, id).await.status, 404);
    }
    let owner = owner_of(stack, email).await;
    assert_eq!(stack.catalog().profile(&owner).await.unwrap().images, 0);
    assert!(stack.catalog().list(&owner, 10, None).await.unwrap().items.is_empty(), "no item came back");
    assert!(stack.streams().dead_letters().is_empty());
    assert!(stack.notifications().deliveries().iter().all(|d| d.outcome.is_ok()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_failure_during_the_clean_up_is_retried_until_clean() {
    let booted = boot(native(), quick_retries()).await;
    let stack = &booted.stack;
    let photo = fixture("orient_1.jpg");
    let email = "unlucky@example.com";
    let (id, _) = ready_image_of(stack, email, &photo).await;
    // S3 refuses the deletes for longer than the function's own retries last: the first
    // invocation reports its record failed, the mapping retries it.
    let faults = stack.s3().faults();
    faults.fail_next(Operation::DeleteObjects, 6, 503);
    assert_eq!(delete_as(stack, email, &id).await.status, 204);
    settle(stack).await;
    assert_eq!(faults.pending(Operation::DeleteObjects), 0, "every injected failure was met");
    assert_eq!(versions_of(stack, &id).await, Vec::<String>::new());
    let deliveries: Vec<_> =
        stack.streams().deliveries().into_iter().filter(|d| d.payload.to_string().contains(&id)).collect();
    assert!(deliveries.len() >= 2, "retried: {deliveries:?}");
    assert!(
        matches!(&deliveries[0].outcome, thumbforge_dev::BatchOutcome::PartiallyFailed { failed } if failed.len() == 1),
        "{:?}",
        deliveries[0].outcome
    );
    assert_eq!(deliveries.last().unwrap().outcome, thumbforge_dev::BatchOutcome::Succeeded);
    assert!(stack.streams().dead_letters().is_empty());
}

/// `GET /api/images/{id}/content`: a named size redirects to a rendition the edge serves, the
/// original to a short-lived signed download of exactly the uploaded bytes, named as the user's
/// file; another user gets the 404 of an unknown id; the signed URL stops working once expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_retrieved_by_size_name_and_originals_through_short_signed_urls() {
    let data = tempfile::tempdir().unwrap();
    let (mut options, lines) = options(native(), data.path());
    options.retry = quick_retries();
    // Signed at a whole second (SigV4's X-Amz-Date), so valid for 1 to 2 s.
    options.config.download.url_expiry_seconds = 2;
    let stack = Stack::start(options).await.unwrap();
    let booted = Booted { stack, logs: lines, _data: data };
    let stack = &booted.stack;
    let origin = stack.url();
    let photo = fixture("orient_1.jpg");
    let filename = "Plage d'été \"2024\".jpg";
    let ticket = presign(stack, filename, "image/jpeg", photo.len()).await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    assert_eq!(put(&ticket, origin, &photo).await.status, 200);
    assert_eq!(wait_done(stack, &id).await["status"], "ready");
    let content = |query: &str| format!("{origin}/api/images/{id}/content?{query}");

    // A named size → the rendition's path on the same origin, which the edge serves.
    let answer = api_get(stack, &content("size=small&format=webp")).await;
    assert_eq!(answer.status, 302, "{}", String::from_utf8_lossy(&answer.body));
    let location = answer.header("location").to_owned();
    assert_eq!(location, format!("/thumbs/{id}/256.webp"));
    assert_eq!(answer.header("cache-control"), "no-store");
    assert_eq!(answer.json(), json!({ "url": location }));
    let thumbnail = get(&format!("{origin}{location}")).await;
    assert_eq!(thumbnail.status, 200);
    assert_eq!(thumbnail.header("content-type"), "image/webp");
    assert_eq!(&thumbnail.body[8..12], b"WEBP");
    let bad = api_get(stack, &content("size=huge")).await;
    assert_eq!((bad.status, bad.json()["error"]["code"].clone()), (400, json!("invalid_size")));

    // The original → a signed GET of the upload: the same bytes, as an attachment named as the
    // user's file, readable by the page (CORS) from its own origin.
    let answer = api_get(stack, &content("size=original")).await;
    assert_eq!(answer.status, 302, "{}", String::from_utf8_lossy(&answer.body));
    let signed = answer.header("location").to_owned();
    assert!(
        signed.starts_with(&format!("{}/{}/raw/{id}.jpg?", stack.s3().endpoint(), thumbforge_dev::BUCKET))
            || signed.starts_with(&format!("{}/raw/{id}.jpg?", stack.s3().endpoint())),
        "{signed}"
    );
    assert!(signed.contains("X-Amz-Expires=2"), "{signed}");
    assert_eq!(answer.json(), json!({ "url": signed }));
    let download = send("GET", &signed, &[("origin", origin)], Bytes::new()).await;
    assert_eq!(download.status, 200, "{}", String::from_utf8_lossy(&download.body));
    assert_eq!(download.body.as_ref(), photo.as_slice(), "exactly the uploaded bytes");
    assert_eq!(download.header("content-type"), "image/jpeg");
    assert_eq!(
        download.header("content-disposition"),
        "attachment; filename=\"Plage d'_t_ _2024_.jpg\"; filename*=UTF-8''Plage%20d%27%C3%A9t%C3%A9%20%222024%22.jpg"
    );
    assert_eq!(download.header("access-control-allow-origin"), origin);
    assert!(download.header("access-control-expose-headers").contains("Content-Disposition"));

    // Another user: the 404 of an id nobody has.
    let auth = bearer_for(stack, "ben@example.com").await;
    for query in ["size=original", "size=small"] {
        let theirs = send("GET", &content(query), &[("authorization", &auth)], Bytes::new()).await;
        assert_eq!((theirs.status, theirs.json()["error"]["code"].clone()), (404, json!("image_not_found")));
    }

    // Expired: the embedded S3 refuses the URL, as S3 does.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let late = send("GET", &signed, &[("origin", origin)], Bytes::new()).await;
    assert_eq!(late.status, 403, "{}", String::from_utf8_lossy(&late.body));
}

/// `method path` on the API as `email`, with a JSON body when given.
async fn call_as(stack: &Stack, email: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
    let auth = bearer_for(stack, email).await;
    let mut headers = vec![("authorization", auth.as_str())];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
    send(method, &format!("{}{path}", stack.url()), &headers, body).await
}

/// The `error.code` of an error answer, with its status.
fn refusal(answer: &Answer) -> (u16, String) {
    (answer.status, answer.json()["error"]["code"].as_str().unwrap_or_default().to_owned())
}

/// The ids of a `GET /api/images` page.
fn ids_of(answer: &Answer) -> Vec<String> {
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    answer.json()["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

/// Albums over HTTP: each user's own, membership idempotent, `?album=&tag=` filtering, and
/// deleting an album (its photos stay) or a photo (its memberships go).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn albums_belong_to_their_owner_and_keep_photos_when_deleted() {
    let booted = boot(native(), quick_retries()).await;
    let stack = &booted.stack;
    let (ana, ben) = ("ana@example.com", "ben@example.com");
    let photo = fixture("orient_1.jpg");
    let (first, _) = ready_image_of(stack, ana, &photo).await;
    let (second, _) = ready_image_of(stack, ana, &photo).await;
    let (bens, _) = ready_image_of(stack, ben, &photo).await;

    let created = call_as(stack, ana, "POST", "/api/albums", Some(json!({"name": "  Summer  "}))).await;
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let album = created.json();
    let id = album["id"].as_str().unwrap().to_owned();
    assert_eq!(created.header("location"), format!("/api/albums/{id}"));
    assert_eq!((album["name"].as_str(), album["count"].as_u64()), (Some("Summer"), Some(0)), "{album}");
    let invalid = call_as(stack, ana, "POST", "/api/albums", Some(json!({"name": " "}))).await;
    assert_eq!(refusal(&invalid).0, 400);

    // Ben sees nothing of Ana's album, and cannot put anything in it or take anything out.
    let members = format!("/api/albums/{id}/photos");
    for (method, path, body) in [
        ("GET", format!("/api/albums/{id}"), None),
        ("PATCH", format!("/api/albums/{id}"), Some(json!({"name": "Mine"}))),
        ("DELETE", format!("/api/albums/{id}"), None),
        ("PUT", format!("{members}/{bens}"), None),
        ("DELETE", format!("{members}/{first}"), None),
    ] {
        let theirs = call_as(stack, ben, method, &path, body).await;
        assert_eq!(refusal(&theirs), (404, "album_not_found".into()), "{method} {path}");
    }
    let filtered = call_as(stack, ben, "GET", &format!("/api/images?album={id}"), None).await;
    assert_eq!(refusal(&filtered), (404, "album_not_found".into()), "filtering by it is the same 404");
    let listed = call_as(stack, ben, "GET", "/api/albums", None).await.json();
    assert_eq!(listed["items"], json!([]), "Ben has no album");
    // Ana cannot put Ben's photo in her album.
    let foreign = call_as(stack, ana, "PUT", &format!("{members}/{bens}"), None).await;
    assert_eq!(refusal(&foreign), (404, "image_not_found".into()));

    // Adding twice is one membership.
    for _ in 0..2 {
        for image in [&first, &second] {
            assert_eq!(call_as(stack, ana, "PUT", &format!("{members}/{image}"), None).await.status, 204);
        }
    }
    let album = call_as(stack, ana, "GET", &format!("/api/albums/{id}"), None).await.json();
    assert_eq!(album["count"], 2, "{album}");
    assert!(album["cover"].is_object(), "a cover once it has a ready photo: {album}");
    let in_album = call_as(stack, ana, "GET", &format!("/api/images?album={id}"), None).await;
    assert_eq!(ids_of(&in_album), [second.clone(), first.clone()], "newest first");

    // A tag narrows the album.
    let tagged =
        call_as(stack, ana, "PATCH", &format!("/api/images/{first}"), Some(json!({"tags": ["Beach"]}))).await;
    assert_eq!(tagged.status, 200, "{}", String::from_utf8_lossy(&tagged.body));
    let both = call_as(stack, ana, "GET", &format!("/api/images?album={id}&tag=beach"), None).await;
    assert_eq!(ids_of(&both), [first.as_str()]);
    let unknown =
        call_as(stack, ana, "GET", "/api/images?album=0190c3a1-2b3c-7d4e-8f90-123456789abc", None).await;
    assert_eq!(refusal(&unknown), (404, "album_not_found".into()));

    // Renamed, then a photo removed (twice: idempotent), then a photo deleted: its membership goes.
    let renamed =
        call_as(stack, ana, "PATCH", &format!("/api/albums/{id}"), Some(json!({"name": "Été"}))).await;
    assert_eq!((renamed.status, renamed.json()["name"].clone()), (200, json!("Été")));
    for _ in 0..2 {
        assert_eq!(call_as(stack, ana, "DELETE", &format!("{members}/{second}"), None).await.status, 204);
    }
    assert_eq!(call_as(stack, ana, "GET", &format!("/api/albums/{id}"), None).await.json()["count"], 1);
    assert_eq!(call_as(stack, ana, "PUT", &format!("{members}/{second}"), None).await.status, 204);
    assert_eq!(delete_as(stack, ana, &first).await.status, 204);
    settle(stack).await;
    assert_eq!(
        ids_of(&call_as(stack, ana, "GET", &format!("/api/images?album={id}"), None).await),
        [second.as_str()]
    );
    assert_eq!(call_as(stack, ana, "GET", &format!("/api/albums/{id}"), None).await.json()["count"], 1);
    let by_tag = call_as(stack, ana, "GET", "/api/images?tag=beach", None).await;
    assert_eq!(ids_of(&by_tag), [""; 0], "the deleted photo's tag entry went with it");

    // Deleting the album keeps its photos.
    assert_eq!(call_as(stack, ana, "DELETE", &format!("/api/albums/{id}"), None).await.status, 204);
    let gone = call_as(stack, ana, "GET", &format!("/api/albums/{id}"), None).await;
    assert_eq!(refusal(&gone), (404, "album_not_found".into()));
    assert_eq!(ids_of(&call_as(stack, ana, "GET", "/api/images", None).await), [second.as_str()]);
    assert_eq!(versions_of(stack, &second).await.len(), 5, "the photo's files are all there");
    let image = call_as(stack, ana, "GET", &format!("/api/images/{second}"), None).await.json();
    assert_eq!(image["albums"], json!([]), "{image}");
    assert_eq!(stack.catalog().profile(&owner_of(stack, ana).await).await.unwrap().albums, 0);
    assert!(stack.streams().dead_letters().is_empty());
}

/// Every table item in `owner`'s partition, by sort key.
async fn partition_of(stack: &Stack, owner: &Owner) -> Vec<String> {
    use thumbforge_catalog::schema::{PK, SK};
    let out = stack
        .dynamo()
        .client()
        .query()
        .table_name(thumbforge_dev::TABLE)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", PK)
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{}", owner.as_str())),
        )
        .send()
        .await
        .unwrap();
    out.items().iter().filter_map(|item| item.get(SK).and_then(|v| v.as_s().ok()).cloned()).collect()
}

/// `DELETE /api/account` end to end, with the bucket failing halfway through: the deletion
/// completes on the stream's retry, nothing of the user is left but the tombstone (no object
/// version, no item, no sign-in user), a still-valid token creates nothing, and another user
/// keeps everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_leaves_nothing_even_when_storage_fails_halfway() {
    let booted = boot(native(), quick_retries()).await;
    let stack = &booted.stack;
    let (ana, ben) = ("leaving@example.com", "staying@example.com");
    let photo = fixture("orient_1.jpg");
    let mut anas = Vec::new();
    for _ in 0..3 {
        anas.push(ready_image_of(stack, ana, &photo).await.0);
    }
    let (bens, bens_urls) = ready_image_of(stack, ben, &photo).await;
    let album = call_as(stack, ana, "POST", "/api/albums", Some(json!({"name": "Trip"}))).await.json();
    let album = album["id"].as_str().unwrap().to_owned();
    for image in &anas {
        assert_eq!(
            call_as(stack, ana, "PUT", &format!("/api/albums/{album}/photos/{image}"), None).await.status,
            204
        );
    }
    let first = format!("/api/images/{}", anas[0]);
    assert_eq!(call_as(stack, ana, "PATCH", &first, Some(json!({"tags": ["x"]}))).await.status, 200);
    let owner = owner_of(stack, ana).await;
    let active = call_as(stack, ana, "GET", "/api/account", None).await.json();
    assert_eq!((active["status"].as_str(), active["images"].as_u64()), (Some("active"), Some(3)), "{active}");

    // The first image's files go, then S3 fails longer than the function's own retries.
    let faults = stack.s3().faults();
    faults.pass_next(Operation::DeleteObjects, 1);
    faults.fail_next(Operation::DeleteObjects, 6, 503);
    let asked = call_as(stack, ana, "DELETE", "/api/account", None).await;
    assert_eq!(asked.status, 202, "{}", String::from_utf8_lossy(&asked.body));
    assert_eq!(asked.json()["status"], "deleting");
    assert_eq!(asked.header("location"), "/api/account");
    settle(stack).await;
    assert_eq!(faults.pending(Operation::DeleteObjects), 0, "every injected failure was met");

    let deliveries: Vec<_> = stack
        .streams()
        .deliveries()
        .into_iter()
        .filter(|d| d.payload.to_string().contains(thumbforge_catalog::schema::TOMBSTONE_SK))
        .collect();
    assert!(
        deliveries.iter().any(|d| matches!(d.outcome, thumbforge_dev::BatchOutcome::PartiallyFailed { .. })),
        "the failure reached the stream, which retried: {deliveries:?}"
    );
    assert!(stack.streams().dead_letters().is_empty());

    let done = call_as(stack, ana, "GET", "/api/account", None).await;
    assert_eq!(done.status, 200);
    let done = done.json();
    assert_eq!(done["status"], "deleted", "{done}");
    assert!(done["deletedAt"].is_string(), "{done}");
    for image in &anas {
        assert_eq!(versions_of(stack, image).await, Vec::<String>::new(), "{image}");
    }
    assert_eq!(
        partition_of(stack, &owner).await,
        [thumbforge_catalog::schema::TOMBSTONE_SK],
        "only the tombstone"
    );
    assert_eq!(stack.identity().admin_user_sub(ana).await, None, "the sign-in user is gone");

    // The token is still valid, but nothing can be created or read with it.
    let upload = json!({"filename": "a.jpg", "contentType": "image/jpeg", "size": photo.len()});
    for (method, path, body) in [
        ("POST", "/api/uploads".to_owned(), Some(upload)),
        ("POST", "/api/albums".to_owned(), Some(json!({"name": "Again"}))),
    ] {
        let refused = call_as(stack, ana, method, &path, body).await;
        assert_eq!(refusal(&refused), (410, "account_deleted".into()), "{method} {path}");
    }
    assert!(ids_of(&call_as(stack, ana, "GET", "/api/images", None).await).is_empty());
    settle(stack).await;
    assert_eq!(partition_of(stack, &owner).await, [thumbforge_catalog::schema::TOMBSTONE_SK]);

    // Ben keeps everything.
    assert_eq!(versions_of(stack, &bens).await.len(), 5);
    for url in &bens_urls {
        assert_eq!(get(&format!("{}{url}", stack.url())).await.status, 200, "{url}");
    }
    assert_eq!(call_as(stack, ben, "GET", "/api/account", None).await.json()["status"], "active");
    assert!(stack.identity().admin_user_sub(ben).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_webp_the_extension_less_url_serves_the_jpeg_that_was_written() {
    let data = tempfile::tempdir().unwrap();
    let (mut options, lines) = options(native(), data.path());
    options.config.thumbnails.formats = vec![OutputFormat::Jpeg];
    let stack = Stack::start(options).await.unwrap();
    let booted = Booted { stack, logs: lines, _data: data };
    let stack = &booted.stack;
    let (id, urls) = ready_image_of(stack, JOURNEY_USER, &fixture("orient_1.jpg")).await;
    assert!(urls.iter().all(|u| u.ends_with(".jpg")), "{urls:?}");
    let chrome = [("accept", "image/avif,image/webp,image/apng,image/*,*/*;q=0.8")];
    let served = send("GET", &format!("{}/thumbs/{id}/256", stack.url()), &chrome, Bytes::new()).await;
    assert_eq!((served.status, served.header("content-type")), (200, "image/jpeg"));
    assert_eq!(&served.body[..3], &[0xFF, 0xD8, 0xFF]);
    let config = api_get(stack, &format!("{}/api/config", stack.url())).await.json();
    assert_eq!(config["formats"], json!(["jpeg"]), "{config}");
}

/// AVIF on (`formats = ["jpeg", "webp", "avif"]`), end to end: the real thumbnail binary writes
/// every rendition in all three formats, byte for byte as the engine encodes them; the API lists
/// them and redirects `format=avif` to one; the edge gives an extension-less URL the AVIF when the
/// browser accepts it, else the WebP, else the JPEG, each with its own content type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_avif_on_the_edge_serves_avif_then_webp_then_jpeg_by_accept() {
    avif_is_served_by_accept(native(), true).await;
}

/// The AVIF journey on `binaries`; `exact`: the renditions are byte for byte this machine's
/// engine's, else only AVIF files (an `ftyp` box of brand `avif`).
async fn avif_is_served_by_accept(binaries: Binaries, exact: bool) {
    let data = tempfile::tempdir().unwrap();
    let (mut options, lines) = options(binaries, data.path());
    options.config.thumbnails.formats = OutputFormat::ALL.to_vec();
    let runtime = options.config.runtime();
    let stack = Stack::start(options).await.unwrap();
    let booted = Booted { stack, logs: lines, _data: data };
    let stack = &booted.stack;
    let photo = fixture("orient_1.jpg");
    let (id, urls) = ready_image_of(stack, JOURNEY_USER, &photo).await;
    let expected = thumbforge_engine::process(&photo, &runtime).unwrap();
    let avif: Vec<_> = expected.renditions.iter().filter(|r| r.format == OutputFormat::Avif).collect();
    assert_eq!(avif.len(), 2);
    for r in &avif {
        let path = format!("/thumbs/{id}/{}.avif", r.size);
        assert!(urls.iter().any(|u| u.ends_with(&path)), "{path} listed in {urls:?}");
        let served = get(&format!("{}{path}", stack.url())).await;
        assert_eq!((served.status, served.header("content-type")), (200, "image/avif"), "{path}");
        if exact {
            assert_eq!(served.body.as_ref(), r.data.as_slice(), "{path} as the engine encodes it");
        } else {
            assert_eq!(&served.body[4..12], b"ftypavif", "{path} is an AVIF file");
        }
    }
    let small = avif.iter().map(|r| r.size).min().unwrap();
    for (accept, content_type) in [
        ("image/avif,image/webp,image/apng,image/*,*/*;q=0.8", "image/avif"),
        ("image/webp,image/apng,*/*;q=0.8", "image/webp"),
        ("image/avif;q=0,image/webp,*/*", "image/webp"),
        ("image/png,image/*;q=0.8,*/*;q=0.5", "image/jpeg"),
    ] {
        let url = format!("{}/thumbs/{id}/{small}", stack.url());
        let served = send("GET", &url, &[("accept", accept)], Bytes::new()).await;
        assert_eq!((served.status, served.header("content-type")), (200, content_type), "Accept: {accept}");
    }
    let config = api_get(stack, &format!("{}/api/config", stack.url())).await.json();
    // In order of preference, as `PublicConfig::formats` promises.
    assert_eq!(config["formats"], json!(["avif", "webp", "jpeg"]), "{config}");
    let content =
        api_get(stack, &format!("{}/api/images/{id}/content?size=small&format=avif", stack.url())).await;
    assert_eq!(content.status, 302, "{}", String::from_utf8_lossy(&content.body));
    assert!(
        content.header("location").ends_with(&format!("/thumbs/{id}/{small}.avif")),
        "{}",
        content.header("location")
    );
}

/// A configured watermark, end to end: the stack seeds the PNG at its private key, the real
/// thumbnail binary reads it at cold start, and the edge serves the 1024 px renditions exactly as
/// the engine draws them with it, the 256 px ones and the original untouched; the PNG itself is
/// never served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watermark_is_drawn_on_the_large_renditions_and_never_on_the_original() {
    let png = include_bytes!("../../engine/fixtures/watermark.png");
    let data = tempfile::tempdir().unwrap();
    let (mut options, lines) = options(native(), data.path());
    options.config.watermark.image = "watermark.png".into();
    options.config.watermark.min_size = 1024;
    options.watermark = Some(png.to_vec());
    let runtime = options.config.runtime();
    let mark = thumbforge_engine::watermark::Mark::from_png(png, &runtime.watermark).unwrap();
    let stack = Stack::start(options).await.unwrap();
    let booted = Booted { stack, logs: lines, _data: data };
    let stack = &booted.stack;
    let photo = fixture("orient_1.jpg");
    let (id, _) = ready_image_of(stack, JOURNEY_USER, &photo).await;

    let engine_options = thumbforge_engine::Options { watermark: Some(&mark), deadline: None };
    let marked = thumbforge_engine::process_with(&photo, &runtime, engine_options).unwrap();
    let clean = thumbforge_engine::process(&photo, &runtime).unwrap();
    for (m, c) in marked.renditions.iter().zip(&clean.renditions) {
        let url = format!("{}/thumbs/{id}/{}.{}", stack.url(), m.size, m.format.extension());
        let served = get(&url).await;
        assert_eq!(served.status, 200, "{url}");
        assert_eq!(served.body.as_ref(), m.data.as_slice(), "{url} is drawn as the engine draws it");
        assert_eq!(
            served.body.as_ref() == c.data.as_slice(),
            m.size < 1024,
            "{url}: marked from 1024 px up only"
        );
    }
    let original = api_get(stack, &format!("{}/api/images/{id}/content?size=original", stack.url())).await;
    assert_eq!(original.status, 302, "{}", String::from_utf8_lossy(&original.body));
    let download = get(original.header("location")).await;
    assert_eq!(download.body.as_ref(), photo.as_slice(), "the original is kept as uploaded");
    let leaked = get(&format!("{}/settings/watermark.png", stack.url())).await;
    assert!(leaked.body.as_ref() != png.as_slice(), "the edge never serves the watermark");
}

/// The quotas over HTTP: with three uploads a day, the fourth `POST /api/uploads` of a user gets
/// `429` with `Retry-After` and the limit in the message, another user is unaffected, and the
/// account shows today's usage; concurrent requests at the edge never pass the quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_upload_quota_is_enforced_per_user() {
    let data = tempfile::tempdir().unwrap();
    let (mut options, lines) = options(native(), data.path());
    options.config.quotas.uploads_per_day = 3;
    let stack = Stack::start(options).await.unwrap();
    let booted = Booted { stack, logs: lines, _data: data };
    let stack = &booted.stack;
    let (ana, ben) = ("quota-ana@example.com", "quota-ben@example.com");
    let upload = json!({"filename": "a.jpg", "contentType": "image/jpeg", "size": 1000});
    // Six at once: exactly three get a ticket.
    let ask = || call_as(stack, ana, "POST", "/api/uploads", Some(upload.clone()));
    let (a, b, c, d, e, f) = tokio::join!(ask(), ask(), ask(), ask(), ask(), ask());
    let answers = [a, b, c, d, e, f];
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 201, 201, 429, 429, 429]);
    let refused = answers.iter().find(|a| a.status == 429).unwrap();
    assert_eq!(refusal(refused).1, "daily_upload_quota_exceeded");
    let retry_after: u64 = refused.header("retry-after").parse().unwrap();
    assert!((1..=86_400).contains(&retry_after), "{retry_after}");
    let message = refused.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("3 uploads today") && message.contains("00:00 UTC"), "{message}");
    assert_eq!(ids_of(&call_as(stack, ana, "GET", "/api/images", None).await).len(), 3);

    let account = call_as(stack, ana, "GET", "/api/account", None).await.json();
    assert_eq!(
        (account["uploadsToday"].as_u64(), account["bytesToday"].as_u64()),
        (Some(3), Some(3000)),
        "{account}"
    );
    let config = get(&format!("{}/api/config", stack.url())).await.json();
    assert_eq!(config["quotas"]["uploadsPerDay"], 3);

    // Ben has his own quota.
    assert_eq!(call_as(stack, ben, "POST", "/api/uploads", Some(upload.clone())).await.status, 201);
    // Deleting a photo frees stored room, not the day's count.
    let first = ids_of(&call_as(stack, ana, "GET", "/api/images", None).await).remove(0);
    assert_eq!(delete_as(stack, ana, &first).await.status, 204);
    assert_eq!(call_as(stack, ana, "POST", "/api/uploads", Some(upload)).await.status, 429);
}
