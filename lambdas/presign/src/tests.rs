//! The API core end to end over in-memory ports, driven by API Gateway HTTP API (payload 2.0)
//! event fixtures (`tests/events/`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use serde_json::{Value, json};
use thumbforge_core::manifest::{MANIFEST_VERSION, Rendition, Source};
use thumbforge_core::{InputFormat, Manifest, Outcome, OutputFormat, RejectReason, RuntimeConfig, keys};
use uuid::{Builder, Uuid};

use crate::api::Api;
use crate::ports::{
    Bucket, Clock, IdGenerator, ListPage, Listed, PresignError, PresignedPut, Presigner, StoreError,
    UploadRequest,
};

const POST_UPLOAD: &str = include_str!("../tests/events/post_upload.json");
const GET_IMAGE: &str = include_str!("../tests/events/get_image_proxy.json");
const LIST_STAGED: &str = include_str!("../tests/events/list_images_staged.json");

/// 2025-03-12T14:03:11.123Z, the fixtures' time.
const NOW_MS: u64 = 1_741_788_191_123;

fn at(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

/// A UUIDv7 of a given millisecond; `n` fills the random bits, so ids of one millisecond sort
/// by `n`.
fn id_at(ms: u64, n: u64) -> Uuid {
    let mut bytes = [0u8; 10];
    bytes[2..].copy_from_slice(&n.to_be_bytes());
    Builder::from_unix_timestamp_millis(ms, &bytes).into_uuid()
}

#[derive(Debug, Default)]
struct MemoryBucket {
    objects: Mutex<BTreeMap<String, (Vec<u8>, SystemTime)>>,
    lists: AtomicUsize,
    gets: AtomicUsize,
    fail: Mutex<Option<StoreError>>,
}

impl MemoryBucket {
    fn put(&self, key: &str, body: &[u8], modified: SystemTime) {
        self.objects.lock().unwrap().insert(key.to_owned(), (body.to_vec(), modified));
    }

    fn fail_with(&self, transient: bool) {
        *self.fail.lock().unwrap() =
            Some(StoreError { operation: "Test", key: "k".into(), message: "injected".into(), transient });
    }

    fn check(&self) -> Result<(), StoreError> {
        self.fail.lock().unwrap().clone().map_or(Ok(()), Err)
    }
}

impl Bucket for Arc<MemoryBucket> {
    async fn get(&self, key: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.check()?;
        let objects = self.objects.lock().unwrap();
        match objects.get(key) {
            Some((body, _)) if body.len() as u64 > max_bytes => Err(StoreError {
                operation: "GetObject",
                key: key.into(),
                message: "big".into(),
                transient: false,
            }),
            found => Ok(found.map(|(body, _)| body.clone())),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        max_keys: u16,
    ) -> Result<ListPage, StoreError> {
        self.lists.fetch_add(1, Ordering::Relaxed);
        self.check()?;
        let objects = self.objects.lock().unwrap();
        let mut matching = objects
            .iter()
            .filter(|(key, _)| {
                key.starts_with(prefix) && start_after.is_none_or(|after| key.as_str() > after)
            })
            .map(|(key, (_, modified))| Listed { key: key.clone(), last_modified: *modified });
        let objects: Vec<Listed> = matching.by_ref().take(usize::from(max_keys)).collect();
        Ok(ListPage { objects, truncated: matching.next().is_some() })
    }
}

#[derive(Debug, Default)]
struct FakePresigner {
    requests: Mutex<Vec<UploadRequest>>,
    fail: bool,
}

impl Presigner for Arc<FakePresigner> {
    async fn presign_put(&self, request: &UploadRequest) -> Result<PresignedPut, PresignError> {
        if self.fail {
            return Err(PresignError { key: request.key.clone(), message: "no credentials".into() });
        }
        self.requests.lock().unwrap().push(request.clone());
        let mut headers = BTreeMap::from([
            ("content-length".to_owned(), request.content_length.to_string()),
            ("content-type".to_owned(), request.content_type.clone()),
            ("if-none-match".to_owned(), "*".to_owned()),
        ]);
        for (name, value) in &request.metadata {
            headers.insert(format!("x-amz-meta-{name}"), value.clone());
        }
        Ok(PresignedPut {
            url: format!("https://media.s3.example/{}?X-Amz-Signature=f00d", request.key),
            headers,
            expires_at: request.start + request.expires_in,
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct FixedClock(SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

#[derive(Debug, Default)]
struct SequentialIds(Mutex<u64>);

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> Uuid {
        let mut n = self.0.lock().unwrap();
        *n += 1;
        id_at(NOW_MS, *n)
    }
}

type TestApi = Api<Arc<MemoryBucket>, Arc<FakePresigner>, FixedClock, SequentialIds>;

struct Harness {
    api: TestApi,
    bucket: Arc<MemoryBucket>,
    presigner: Arc<FakePresigner>,
}

fn harness_with(config: RuntimeConfig, presigner: FakePresigner) -> Harness {
    let bucket = Arc::new(MemoryBucket::default());
    let presigner = Arc::new(presigner);
    let sign_in = thumbforge_core::auth::SignIn {
        client_id: "client".into(),
        authorize_url: "https://id.example/oauth2/authorize".into(),
        token_url: "https://id.example/oauth2/token".into(),
        logout_url: None,
        scopes: vec!["openid".into()],
    };
    let api = Api::new(Arc::clone(&bucket), Arc::clone(&presigner), config, sign_in)
        .with_clock(FixedClock(at(NOW_MS)))
        .with_ids(SequentialIds::default());
    Harness { api, bucket, presigner }
}

fn harness() -> Harness {
    harness_with(RuntimeConfig::default(), FakePresigner::default())
}

/// A fixture with its method, path (raw and in the request context) and query replaced.
fn event(fixture: &str, method: &str, raw_path: &str, query: &[(&str, &str)]) -> Value {
    let mut event: Value = serde_json::from_str(fixture).unwrap();
    event["requestContext"]["http"]["method"] = json!(method);
    event["rawPath"] = json!(raw_path);
    event["requestContext"]["http"]["path"] = json!(raw_path);
    let raw_query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    event["rawQueryString"] = json!(raw_query.join("&"));
    if query.is_empty() {
        event.as_object_mut().unwrap().remove("queryStringParameters");
    } else {
        let params: serde_json::Map<String, Value> =
            query.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
        event["queryStringParameters"] = Value::Object(params);
    }
    event
}

fn post(body: &str) -> Value {
    let mut event: Value = serde_json::from_str(POST_UPLOAD).unwrap();
    event["body"] = json!(body);
    event
}

fn get(path: &str, query: &[(&str, &str)]) -> Value {
    event(GET_IMAGE, "GET", path, query)
}

struct Answer {
    status: i64,
    body: Value,
    response: ApiGatewayV2httpResponse,
}

impl Harness {
    async fn call(&self, event: Value) -> Answer {
        let response = self.api.handle_event(event).await;
        assert_eq!(response.headers["content-type"], "application/json");
        assert_eq!(response.headers["cache-control"], "no-store");
        assert!(!response.is_base64_encoded);
        let Some(Body::Text(text)) = &response.body else { panic!("a text body: {response:?}") };
        let body: Value = serde_json::from_str(text).unwrap();
        if response.status_code >= 400 {
            let error = body["error"].as_object().unwrap_or_else(|| panic!("an error body: {body}"));
            assert_eq!(error.len(), 2, "{body}");
            let code = error["code"].as_str().unwrap();
            assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{code}");
            assert!(!error["message"].as_str().unwrap().is_empty());
        }
        Answer { status: response.status_code, body, response }
    }

    async fn error(&self, event: Value) -> (i64, String, String) {
        let answer = self.call(event).await;
        assert!(answer.status >= 400, "{}", answer.body);
        let error = &answer.body["error"];
        (
            answer.status,
            error["code"].as_str().unwrap().to_owned(),
            error["message"].as_str().unwrap().to_owned(),
        )
    }

    fn upload(&self, id: &Uuid, ext: &str, created: SystemTime) {
        self.bucket.put(&format!("raw/{id}.{ext}"), b"bytes", created);
    }

    fn manifest(&self, id: &Uuid, outcome: Outcome) {
        let id = id.to_string();
        let manifest =
            Manifest { version: MANIFEST_VERSION, raw_key: format!("raw/{id}.jpg"), id: id.clone(), outcome };
        self.bucket.put(&keys::manifest_key(&id), &manifest.to_json(), at(NOW_MS));
    }
}

fn ready(id: &Uuid) -> Outcome {
    let rendition = |size, width, height, format| Rendition {
        key: keys::rendition_key(&id.to_string(), size, format),
        size,
        width,
        height,
        format,
        bytes: 1000,
    };
    Outcome::Ready {
        source: Source { format: InputFormat::Jpeg, width: 1800, height: 1200, bytes: 352_727 },
        renditions: vec![
            rendition(1024, 1024, 683, OutputFormat::Jpeg),
            rendition(1024, 1024, 683, OutputFormat::Webp),
            rendition(256, 256, 171, OutputFormat::Jpeg),
            rendition(256, 256, 171, OutputFormat::Webp),
        ],
    }
}

#[tokio::test]
async fn post_uploads_hands_out_a_signed_put() {
    let h = harness();
    let answer = h.call(serde_json::from_str(POST_UPLOAD).unwrap()).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let id = id_at(NOW_MS, 1).to_string();
    let key = format!("raw/{id}.jpg");
    assert_eq!(
        answer.body,
        json!({
            "id": id,
            "key": key,
            "upload": {
                "method": "PUT",
                "url": format!("https://media.s3.example/{key}?X-Amz-Signature=f00d"),
                "headers": {
                    "content-length": "352727",
                    "content-type": "image/jpeg",
                    "if-none-match": "*",
                    "x-amz-meta-filename": "IMG_2041.JPG",
                },
            },
            "expiresAt": "2025-03-12T14:08:11.123Z",
            "statusUrl": format!("/api/images/{id}"),
            "thumbnails": [
                {"width": 1024, "format": "jpeg", "url": format!("/thumbs/{id}/1024.jpg")},
                {"width": 1024, "format": "webp", "url": format!("/thumbs/{id}/1024.webp")},
                {"width": 256, "format": "jpeg", "url": format!("/thumbs/{id}/256.jpg")},
                {"width": 256, "format": "webp", "url": format!("/thumbs/{id}/256.webp")},
            ],
        })
    );
    assert_eq!(answer.response.headers["location"], format!("/api/images/{id}"));
    let requests = h.presigner.requests.lock().unwrap().clone();
    assert_eq!(
        requests,
        [UploadRequest {
            key,
            content_type: "image/jpeg".into(),
            content_length: 352_727,
            metadata: BTreeMap::from([("filename".into(), "IMG_2041.JPG".into())]),
            if_none_match_any: true,
            start: at(NOW_MS),
            expires_in: Duration::from_secs(300),
        }]
    );
    // Issuing a URL reads nothing from the bucket.
    assert_eq!(h.bucket.lists.load(Ordering::Relaxed) + h.bucket.gets.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn the_key_comes_from_the_type_never_the_name() {
    let mut config = RuntimeConfig::default();
    config.upload.presign_expiry_seconds = 3600;
    config.thumbnails.webp = false;
    let h = harness_with(config, FakePresigner::default());
    let body =
        json!({"filename": "../../thumbs/x/manifest.json\u{0}.jpg", "contentType": "image/webp", "size": 5});
    let answer = h.call(post(&body.to_string())).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let id = id_at(NOW_MS, 1).to_string();
    assert_eq!(answer.body["key"], format!("raw/{id}.webp"));
    assert_eq!(
        answer.body["upload"]["headers"]["x-amz-meta-filename"],
        "..%2F..%2Fthumbs%2Fx%2Fmanifest.json%00.jpg"
    );
    assert_eq!(answer.body["expiresAt"], "2025-03-12T15:03:11.123Z");
    assert_eq!(answer.body["thumbnails"].as_array().unwrap().len(), 2);
    // Two requests, two ids.
    let again = h.call(serde_json::from_str(POST_UPLOAD).unwrap()).await;
    assert_eq!(again.body["id"], id_at(NOW_MS, 2).to_string());
}

#[tokio::test]
async fn base64_bodies_are_decoded() {
    let h = harness();
    let mut event = post("");
    event["body"] = json!(aws_smithy_types::base64::encode(
        r#"{"filename":"a.png","contentType":"image/png","size":10}"#
    ));
    event["isBase64Encoded"] = json!(true);
    let answer = h.call(event.clone()).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert!(answer.body["key"].as_str().unwrap().ends_with(".png"));

    event["body"] = json!("%%% not base64");
    assert_eq!(h.error(event).await.0, 400);
}

#[tokio::test]
async fn every_bad_upload_request_gets_a_clear_answer() {
    let h = harness();
    let cases: Vec<(String, i64, &str, &str)> = vec![
        ("x".repeat(16 * 1024 + 1), 413, "payload_too_large", "16 KiB"),
        (
            format!(r#"{{"filename":"{}","contentType":"image/png","size":1}}"#, "a".repeat(17_000)),
            413,
            "payload_too_large",
            "",
        ),
        (String::new(), 400, "invalid_json", "must be JSON"),
        ("not json".into(), 400, "invalid_json", "must be JSON"),
        ("[1]".into(), 400, "invalid_request", "JSON object"),
        (
            r#"{"filename":"a.jpg"}"#.into(),
            400,
            "invalid_request",
            "`contentType` is missing; `size` is missing",
        ),
        (
            r#"{"filename":"a.jpg","contentType":"image/jpeg","size":"10"}"#.into(),
            400,
            "invalid_request",
            "`size`",
        ),
        (
            r#"{"filename":"a.jpg","contentType":"image/jpeg; charset=x","size":10}"#.into(),
            415,
            "unsupported_media_type",
            "image/jpeg",
        ),
        (
            r#"{"filename":"a.svg","contentType":"image/svg+xml","size":10}"#.into(),
            415,
            "unsupported_media_type",
            "not accepted",
        ),
        (r#"{"filename":"a.jpg","contentType":"image/jpeg","size":0}"#.into(), 413, "empty_file", "empty"),
        (
            r#"{"filename":"a.jpg","contentType":"image/jpeg","size":26214401}"#.into(),
            413,
            "file_too_large",
            "25 MiB limit",
        ),
    ];
    for (body, status, code, needle) in cases {
        let (got_status, got_code, message) = h.error(post(&body)).await;
        let shown = &body[..body.len().min(80)];
        assert_eq!((got_status, got_code.as_str()), (status, code), "{shown}: {message}");
        assert!(message.contains(needle), "{shown}: {message:?} lacks {needle:?}");
    }
    assert!(h.presigner.requests.lock().unwrap().is_empty(), "nothing was signed");
}

#[tokio::test]
async fn a_signing_failure_is_a_503() {
    let h = harness_with(RuntimeConfig::default(), FakePresigner { fail: true, ..FakePresigner::default() });
    let answer = h.call(serde_json::from_str(POST_UPLOAD).unwrap()).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.body["error"]["code"], "signing_unavailable");
    assert_eq!(answer.response.headers["retry-after"], "1");
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let h = harness();
    let id = id_at(NOW_MS, 1).to_string();
    for (method, path, allow) in [
        ("GET", "/api/uploads".to_owned(), "POST"),
        ("PUT", "/api/uploads".to_owned(), "POST"),
        ("OPTIONS", "/api/uploads".to_owned(), "POST"),
        ("POST", "/api/images".to_owned(), "GET"),
        ("DELETE", format!("/api/images/{id}"), "GET"),
        ("POST", "/api/images/not-an-id".to_owned(), "GET"),
        ("HEAD", "/api/images".to_owned(), "GET"),
    ] {
        let answer = h.call(event(GET_IMAGE, method, &path, &[])).await;
        assert_eq!(answer.status, 405, "{method} {path}");
        assert_eq!(answer.response.headers["allow"], allow, "{method} {path}");
        assert_eq!(answer.body["error"]["code"], "method_not_allowed");
    }
    for path in [
        "/",
        "/api",
        "/api/",
        "/api/uploads/",
        "/api/images/a/b",
        "/thumbs/x/256.jpg",
        "/API/images",
        "/stage/api/images",
    ] {
        for method in ["GET", "POST"] {
            let (status, code, _) = h.error(event(GET_IMAGE, method, path, &[])).await;
            assert_eq!((status, code.as_str()), (404, "not_found"), "{method} {path}");
        }
    }
}

#[tokio::test]
async fn events_that_are_not_http_api_requests_are_400() {
    let h = harness();
    for event in
        [json!({}), json!([]), json!("x"), json!({"Records": []}), json!({"requestContext": {"http": {}}})]
    {
        let (status, code, _) = h.error(event).await;
        assert_eq!((status, code.as_str()), (400, "bad_event"));
    }
}

#[tokio::test]
async fn image_status_pending_ready_rejected() {
    let h = harness();
    let id = id_at(NOW_MS - 5000, 7);
    let path = format!("/api/images/{id}");

    let (status, code, _) = h.error(get(&path, &[])).await;
    assert_eq!((status, code.as_str()), (404, "image_not_found"));

    h.upload(&id, "jpg", at(NOW_MS - 4000));
    let answer = h.call(get(&path, &[])).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        json!({
            "id": id.to_string(), "status": "pending", "reason": null, "message": null, "source": null,
            "thumbnails": [], "createdAt": "2025-03-12T14:03:07.123Z",
        })
    );

    h.manifest(&id, ready(&id));
    let answer = h.call(get(&path, &[])).await;
    assert_eq!(answer.body["status"], "ready");
    assert_eq!(answer.body["reason"], Value::Null);
    assert_eq!(answer.body["message"], Value::Null);
    assert_eq!(
        answer.body["source"],
        json!({"format": "jpeg", "width": 1800, "height": 1200, "bytes": 352727})
    );
    assert_eq!(
        answer.body["thumbnails"][0],
        json!({"url": format!("/thumbs/{id}/1024.jpg"), "width": 1024, "height": 683, "format": "jpeg"})
    );
    assert_eq!(
        answer.body["thumbnails"][3],
        json!({"url": format!("/thumbs/{id}/256.webp"), "width": 256, "height": 171, "format": "webp"})
    );
    assert_eq!(answer.body["createdAt"], "2025-03-12T14:03:07.123Z");

    let other = id_at(NOW_MS - 3000, 1);
    h.upload(&other, "gif", at(NOW_MS - 2000));
    h.manifest(
        &other,
        Outcome::Rejected { reason: RejectReason::NotAnImage, message: "the bytes are not an image".into() },
    );
    let answer = h.call(get(&format!("/api/images/{other}"), &[])).await;
    assert_eq!(
        answer.body,
        json!({
            "id": other.to_string(), "status": "rejected", "reason": "not_an_image",
            "message": "the bytes are not an image", "source": null, "thumbnails": [],
            "createdAt": "2025-03-12T14:03:09.123Z",
        })
    );
}

#[tokio::test]
async fn malformed_ids_are_404_without_touching_the_bucket() {
    let h = harness();
    let id = id_at(NOW_MS, 1).to_string();
    // No id at all is no route.
    let (status, code, _) = h.error(get("/api/images/", &[])).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    for bad in [
        "x".to_owned(),
        id.to_uppercase(),
        id.replace('-', ""),
        format!("{id}.jpg"),
        format!("{{{id}}}"),
        "0195896b-6a13-4c3a-9b1e-6f4d2c1a0b9e".into(),
        "%2e%2e".into(),
        "..".into(),
    ] {
        let (status, code, _) = h.error(get(&format!("/api/images/{bad}"), &[])).await;
        assert_eq!((status, code.as_str()), (404, "image_not_found"), "{bad}");
    }
    assert_eq!(h.bucket.lists.load(Ordering::Relaxed) + h.bucket.gets.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn the_fixture_paths_route_with_and_without_a_stage_prefix() {
    let h = harness();
    let id: Uuid = "0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e".parse().unwrap();
    h.upload(&id, "png", at(NOW_MS));
    // `ANY /api/{proxy+}` through a custom domain (stage `prod`, no prefix in rawPath).
    let answer = h.call(serde_json::from_str(GET_IMAGE).unwrap()).await;
    assert_eq!((answer.status, answer.body["status"].as_str()), (200, Some("pending")), "{}", answer.body);
    // The default endpoint of stage `prod`: `/prod/api/images`, older than the fixture's cursor.
    let older = id_at(0x0195_896b_6a13 - 1, 1);
    h.upload(&older, "jpg", at(NOW_MS));
    let answer = h.call(serde_json::from_str(LIST_STAGED).unwrap()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(answer.body["items"][0]["id"], older.to_string());
    assert_eq!(answer.body["next"], Value::Null);
}

#[tokio::test]
async fn store_failures_are_502_or_503_never_500() {
    let h = harness();
    let id = id_at(NOW_MS, 1);
    h.upload(&id, "jpg", at(NOW_MS));
    let path = format!("/api/images/{id}");
    for (transient, status, code) in [(true, 503, "storage_unavailable"), (false, 502, "storage_error")] {
        h.bucket.fail_with(transient);
        for event in [get(&path, &[]), get("/api/images", &[])] {
            let answer = h.call(event).await;
            assert_eq!((answer.status, answer.body["error"]["code"].as_str()), (status, Some(code)));
            assert_eq!(answer.response.headers.contains_key("retry-after"), transient);
            assert!(!answer.body.to_string().contains("injected"), "details stay in the log");
        }
    }
    *h.bucket.fail.lock().unwrap() = None;
    // A manifest that is not one: our bug or tampering, reported as a bad upstream answer.
    h.bucket.put(&keys::manifest_key(&id.to_string()), b"{\"status\":\"maybe\"}", at(NOW_MS));
    let (status, code, _) = h.error(get(&path, &[])).await;
    assert_eq!((status, code.as_str()), (502, "storage_error"));
}

#[tokio::test]
async fn bad_limits_and_cursors_are_400() {
    let h = harness();
    let id = id_at(NOW_MS, 1).to_string();
    let upper = id.to_uppercase();
    for (query, code) in [
        (vec![("limit", "0")], "invalid_limit"),
        (vec![("limit", "101")], "invalid_limit"),
        (vec![("limit", "ten")], "invalid_limit"),
        (vec![("limit", "")], "invalid_limit"),
        (vec![("limit", "5,6")], "invalid_limit"),
        (vec![("cursor", "")], "invalid_cursor"),
        (vec![("cursor", "abc")], "invalid_cursor"),
        (vec![("cursor", "0195896b-6a13-4c3a-9b1e-6f4d2c1a0b9e")], "invalid_cursor"),
        (vec![("limit", "5"), ("cursor", upper.as_str())], "invalid_cursor"),
    ] {
        let (status, got, message) = h.error(get("/api/images", &query)).await;
        assert_eq!((status, got.as_str()), (400, code), "{query:?}: {message}");
    }
    let answer =
        h.call(get("/api/images", &[("limit", "100"), ("cursor", id.as_str()), ("other", "x")])).await;
    assert_eq!(answer.body, json!({"items": [], "next": null}));
}

/// Pages through the whole listing with `limit`, checking the page sizes and the cursors.
async fn read_all(h: &Harness, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let limit_text = limit.to_string();
        let mut query = vec![("limit", limit_text.as_str())];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let answer = h.call(get("/api/images", &query)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let items = answer.body["items"].as_array().unwrap();
        ids.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match answer.body["next"].as_str() {
            Some(next) => {
                assert_eq!(items.len(), limit);
                assert_eq!(items.last().unwrap()["id"], next);
                cursor = Some(next.to_owned());
            }
            None => return ids,
        }
    }
}

#[tokio::test]
async fn listing_pages_newest_first_with_defaults() {
    let h = harness();
    let mut expected = Vec::new();
    for n in 0..30u64 {
        let id = id_at(NOW_MS - 30_000 + n * 1000, n);
        h.upload(&id, ["jpg", "png", "webp", "gif"][(n % 4) as usize], at(NOW_MS));
        expected.push(id.to_string());
    }
    h.manifest(&id_at(NOW_MS - 30_000, 0), ready(&id_at(NOW_MS - 30_000, 0)));
    expected.reverse();

    let answer = h.call(get("/api/images", &[])).await;
    let items = answer.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 24, "the default limit");
    assert_eq!(answer.body["next"], expected[23]);
    assert_eq!(items[0]["status"], "pending");
    assert_eq!(items[0]["createdAt"], "2025-03-12T14:03:11.123Z");

    let lists_before = h.bucket.lists.load(Ordering::Relaxed);
    let ids = read_all(&h, 12).await;
    assert_eq!(ids, expected);
    // Three pages, each one listing call (every upload is in the first window).
    // The first two pages are found in the first window; the last one widens back to the start
    // of `raw/` (11 windows from 2025 back to 1970) to know that nothing older exists.
    assert_eq!(h.bucket.lists.load(Ordering::Relaxed) - lists_before, 1 + 1 + 11);
    let answer = h.call(get("/api/images", &[("limit", "1"), ("cursor", expected[28].as_str())])).await;
    assert_eq!(answer.body["items"][0]["id"], expected[29]);
    assert_eq!(answer.body["items"][0]["status"], "ready");
    assert_eq!(answer.body["items"][0]["thumbnails"].as_array().unwrap().len(), 4);
    assert_eq!(answer.body["next"], Value::Null);
}

#[tokio::test]
async fn listing_skips_what_is_not_an_upload_and_lists_an_id_once() {
    let h = harness();
    let a = id_at(NOW_MS - 2000, 1);
    let b = id_at(NOW_MS - 1000, 1);
    h.upload(&a, "jpg", at(NOW_MS));
    h.upload(&b, "gif", at(NOW_MS));
    h.upload(&b, "jpg", at(NOW_MS));
    for junk in [
        "raw/".to_owned(),
        "raw/.hidden".to_owned(),
        "raw/photo.jpg".to_owned(),
        "raw/zzz".to_owned(),
        format!("raw/{a}.bmp"),
        format!("raw/{a}"),
        format!("raw/nested/{a}.jpg"),
        format!("raw/{}.jpg", id_at(NOW_MS, 9).to_string().to_uppercase()),
        "raw/0195896b-6a13-4c3a-9b1e-6f4d2c1a0b9e.jpg".to_owned(),
        format!("thumbs/{a}/256.jpg"),
        format!("rawfoo/{a}.jpg"),
    ] {
        h.bucket.put(&junk, b"x", at(NOW_MS));
    }
    assert_eq!(read_all(&h, 1).await, [b.to_string(), a.to_string()]);
    assert_eq!(read_all(&h, 100).await, [b.to_string(), a.to_string()]);
}

/// A small deterministic generator (no `rand` dependency).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[tokio::test]
async fn listing_matches_a_full_sort_over_sparse_and_dense_histories() {
    const YEAR_MS: u64 = 365 * 24 * 3600 * 1000;
    let mut rng = Lcg(7);
    let h = harness();
    let mut all = BTreeSet::new();
    // Bursts (many per millisecond and per second), sparse years, and the far past.
    for _ in 0..150 {
        let ms = match rng.next(4) {
            0 => NOW_MS - rng.next(1000),
            1 => NOW_MS - rng.next(3_600_000 * 10),
            2 => NOW_MS - rng.next(YEAR_MS * 5),
            _ => rng.next(NOW_MS),
        };
        let id = id_at(ms, rng.next(1 << 40));
        h.upload(&id, "jpg", at(ms));
        all.insert(id.to_string());
    }
    // One from the future (a skewed clock elsewhere) is still listed, first.
    let future = id_at(NOW_MS + 3_600_000, 1);
    h.upload(&future, "png", at(NOW_MS));
    all.insert(future.to_string());
    let expected: Vec<String> = all.into_iter().rev().collect();
    assert_eq!(expected[0], future.to_string());
    for limit in [1, 7, 24, 100] {
        assert_eq!(read_all(&h, limit).await, expected, "limit {limit}");
    }
}

#[tokio::test]
async fn sparse_history_costs_a_bounded_number_of_list_calls() {
    let h = harness();
    let old = id_at(NOW_MS - 40 * 365 * 24 * 3600 * 1000, 1);
    h.upload(&old, "jpg", at(NOW_MS));
    let answer = h.call(get("/api/images", &[])).await;
    assert_eq!(answer.body["items"][0]["id"], old.to_string());
    let lists = h.bucket.lists.load(Ordering::Relaxed);
    assert!(lists <= 14, "{lists} list calls for one page");
}
