//! The API core end to end over the in-memory catalog and fake ports, driven by API Gateway HTTP
//! API (payload 2.0) event fixtures (`tests/events/`, each signed in as [`SUB`]).
//!
//! The catalog is reached through `Api::catalog()` (the crate's own accessor): `Catalog` is a
//! foreign trait, so it cannot be implemented here for `Arc<MemoryCatalog>`, and the API owning
//! the catalog is all the tests need.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use serde_json::{Value, json};
use thumbforge_catalog::{
    Catalog, CatalogError, Details, Finish, ImageRecord, ImageState, MEMORY_TABLE, MemoryCatalog, NewImage,
    Owner, Profile,
};
use thumbforge_core::manifest::{Rendition, Source};
use thumbforge_core::{InputFormat, Outcome, OutputFormat, RejectReason, RuntimeConfig, keys};
use uuid::{Builder, Uuid};

use crate::api::Api;
use crate::ports::{
    Clock, GetRequest, IdGenerator, PresignError, PresignedGet, PresignedPut, Presigner, UploadRequest,
};

const POST_UPLOAD: &str = include_str!("../tests/events/post_upload.json");
pub(crate) const GET_IMAGE: &str = include_str!("../tests/events/get_image_proxy.json");
const LIST_STAGED: &str = include_str!("../tests/events/list_images_staged.json");
const PATCH_IMAGE: &str = include_str!("../tests/events/patch_image.json");

/// The `sub` claim every fixture carries (a Cognito user).
pub(crate) const SUB: &str = "6f1c2d9e-3b7a-4c55-9e21-8d4f0a7b1c36";
/// Another user.
pub(crate) const OTHER: &str = "b7e0c4a1-9d2f-4e63-8a15-3c6f9e2d7b40";

/// 2025-03-12T14:03:11.123Z, the fixtures' time.
pub(crate) const NOW_MS: u64 = 1_741_788_191_123;
/// `expiresAt` of an upload authorised at [`NOW_MS`] with the default 300 s URL: + 24 h grace.
const PENDING_EXPIRY_S: u64 = 1_741_788_191 + 300 + 24 * 3600;

pub(crate) fn at(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

/// A UUIDv7 of a given millisecond; `n` fills the random bits, so ids of one millisecond sort
/// by `n`.
pub(crate) fn id_at(ms: u64, n: u64) -> Uuid {
    let mut bytes = [0u8; 10];
    bytes[2..].copy_from_slice(&n.to_be_bytes());
    Builder::from_unix_timestamp_millis(ms, &bytes).into_uuid()
}

pub(crate) fn owner(sub: &str) -> Owner {
    Owner::new(sub).unwrap()
}

/// A failure of the metadata table, as `MemoryCatalog::fail_next` injects it.
pub(crate) fn unavailable(transient: bool) -> CatalogError {
    CatalogError::Unavailable {
        operation: "test",
        table: MEMORY_TABLE.into(),
        key: "pk=USER#x sk=IMAGE#y".into(),
        transient,
        message: "injected failure".into(),
    }
}

#[derive(Debug, Default)]
pub(crate) struct FakePresigner {
    pub(crate) requests: Mutex<Vec<UploadRequest>>,
    /// Every download signed (`presign_get`).
    pub(crate) gets: Mutex<Vec<GetRequest>>,
    pub(crate) fail: bool,
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

    async fn presign_get(&self, request: &GetRequest) -> Result<PresignedGet, PresignError> {
        if self.fail {
            return Err(PresignError { key: request.key.clone(), message: "no credentials".into() });
        }
        self.gets.lock().unwrap().push(request.clone());
        Ok(PresignedGet {
            url: format!(
                "https://media.s3.example/{}?X-Amz-Expires={}&X-Amz-Signature=beef",
                request.key,
                request.expires_in.as_secs()
            ),
            expires_at: request.start + request.expires_in,
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct FixedClock(SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// Ids of [`NOW_MS`] numbered 1, 2, 3…; or, `stuck`, always number 1 (a collision).
#[derive(Debug, Default)]
pub(crate) struct SequentialIds {
    n: Mutex<u64>,
    stuck: bool,
}

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> Uuid {
        let mut n = self.n.lock().unwrap();
        if !self.stuck || *n == 0 {
            *n += 1;
        }
        id_at(NOW_MS, *n)
    }
}

pub(crate) type TestApi = Api<MemoryCatalog, Arc<FakePresigner>, FixedClock, SequentialIds>;

pub(crate) struct Harness {
    pub(crate) api: TestApi,
    pub(crate) presigner: Arc<FakePresigner>,
}

pub(crate) fn harness_with(config: RuntimeConfig, presigner: FakePresigner, ids: SequentialIds) -> Harness {
    let presigner = Arc::new(presigner);
    let sign_in = thumbforge_core::auth::SignIn {
        client_id: "client".into(),
        authorize_url: "https://id.example/oauth2/authorize".into(),
        token_url: "https://id.example/oauth2/token".into(),
        logout_url: None,
        scopes: vec!["openid".into()],
    };
    let api = Api::new(MemoryCatalog::new(), Arc::clone(&presigner), config, sign_in)
        .with_clock(FixedClock(at(NOW_MS)))
        .with_ids(ids);
    Harness { api, presigner }
}

pub(crate) fn harness() -> Harness {
    harness_with(RuntimeConfig::default(), FakePresigner::default(), SequentialIds::default())
}

/// A fixture with its method, path (raw and in the request context) and query replaced.
pub(crate) fn event(fixture: &str, method: &str, raw_path: &str, query: &[(&str, &str)]) -> Value {
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

/// An event signed in as `sub` (the JWT authorizer's verified claims).
fn as_user(mut event: Value, sub: &str) -> Value {
    let claims = &mut event["requestContext"]["authorizer"]["jwt"]["claims"];
    assert!(claims.is_object(), "the fixture has verified claims");
    claims["sub"] = json!(sub);
    claims["username"] = json!(sub);
    event
}

/// [`event`] signed in as `sub`.
pub(crate) fn event_as(
    sub: &str,
    fixture: &str,
    method: &str,
    raw_path: &str,
    query: &[(&str, &str)],
) -> Value {
    as_user(event(fixture, method, raw_path, query), sub)
}

/// The event without any authorizer block (a route API Gateway did not authorise).
fn anonymous(mut event: Value) -> Value {
    event["requestContext"].as_object_mut().unwrap().remove("authorizer");
    event
}

pub(crate) fn post_as(sub: &str, body: &str) -> Value {
    let mut event = as_user(serde_json::from_str(POST_UPLOAD).unwrap(), sub);
    event["body"] = json!(body);
    event
}

fn post(body: &str) -> Value {
    post_as(SUB, body)
}

pub(crate) fn get_as(sub: &str, path: &str, query: &[(&str, &str)]) -> Value {
    event_as(sub, GET_IMAGE, "GET", path, query)
}

pub(crate) fn get(path: &str, query: &[(&str, &str)]) -> Value {
    get_as(SUB, path, query)
}

pub(crate) fn delete_as(sub: &str, path: &str) -> Value {
    event_as(sub, GET_IMAGE, "DELETE", path, &[])
}

fn delete(path: &str) -> Value {
    delete_as(SUB, path)
}

/// `PATCH path` by `sub` with a plain (not base64) body, from the `PATCH /api/images/{id}`
/// fixture (the segment after `/api/images/` is also its `id` path parameter).
pub(crate) fn patch_as(sub: &str, path: &str, body: &str) -> Value {
    let mut event = event_as(sub, PATCH_IMAGE, "PATCH", path, &[]);
    event["pathParameters"]["id"] = json!(path.rsplit('/').next().unwrap());
    event["body"] = json!(body);
    event
}

fn patch(path: &str, body: &str) -> Value {
    patch_as(SUB, path, body)
}

pub(crate) struct Answer {
    pub(crate) status: i64,
    pub(crate) body: Value,
    pub(crate) response: ApiGatewayV2httpResponse,
}

impl Harness {
    pub(crate) fn catalog(&self) -> &MemoryCatalog {
        self.api.catalog()
    }

    pub(crate) async fn call(&self, event: Value) -> Answer {
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
            assert_eq!(body.as_object().unwrap().len(), 1, "only the error: {body}");
            assert!(!response.headers.contains_key("location"), "{body}");
        }
        Answer { status: response.status_code, body, response }
    }

    pub(crate) async fn error(&self, event: Value) -> (i64, String, String) {
        let answer = self.call(event).await;
        assert!(answer.status >= 400, "{}", answer.body);
        let error = &answer.body["error"];
        (
            answer.status,
            error["code"].as_str().unwrap().to_owned(),
            error["message"].as_str().unwrap().to_owned(),
        )
    }

    /// A pending image of `sub` authorised at `created_ms`, written straight to the catalog.
    pub(crate) async fn seed(&self, sub: &str, id: Uuid, created_ms: u64) {
        let image = NewImage {
            id,
            filename: format!("{id}.jpg"),
            content_type: "image/jpeg".into(),
            size: 1000,
            created_at_ms: created_ms,
            expires_at_s: created_ms / 1000 + 300 + 86_400,
        };
        self.catalog().create(&owner(sub), &image).await.unwrap();
    }

    /// Records the thumbnail function's outcome, as it would.
    pub(crate) async fn finish(&self, sub: &str, id: Uuid, outcome: Outcome) {
        let done = self.catalog().finish(&owner(sub), id, &outcome, NOW_MS).await.unwrap();
        assert_eq!(done, Finish::Finished);
    }

    /// Checks that the catalog was not called since `fail_next`: the injected failure is still
    /// queued, so the next real call meets it (and consumes it).
    pub(crate) async fn assert_catalog_untouched(&self) {
        let answer = self.call(get("/api/images", &[])).await;
        assert_eq!(answer.status, 503, "the injected failure was still pending: {}", answer.body);
        assert_eq!(self.call(get("/api/images", &[])).await.status, 200);
    }
}

pub(crate) fn ready(id: &Uuid) -> Outcome {
    let rendition = |size, width, height, format| Rendition {
        key: keys::rendition_key(&id.to_string(), size, format),
        size,
        width,
        height,
        format,
        bytes: 1000,
    };
    Outcome::Ready {
        placeholder: Some(thumbforge_core::manifest::Placeholder {
            color: "#8a7f6e".into(),
            blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj".into(),
        }),
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
async fn post_uploads_hands_out_a_signed_put_and_records_a_pending_image() {
    let h = harness();
    let answer = h.call(serde_json::from_str(POST_UPLOAD).unwrap()).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let uuid = id_at(NOW_MS, 1);
    let id = uuid.to_string();
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
                    "x-amz-meta-owner": SUB,
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
            metadata: BTreeMap::from([
                ("filename".into(), "IMG_2041.JPG".into()),
                ("owner".into(), SUB.into()),
            ]),
            if_none_match_any: true,
            start: at(NOW_MS),
            expires_in: Duration::from_secs(300),
        }]
    );
    // The image is pending in the caller's partition, and only there.
    let record = ImageRecord {
        id: uuid,
        owner: SUB.into(),
        filename: "IMG_2041.JPG".into(),
        content_type: "image/jpeg".into(),
        size: 352_727,
        created_at_ms: NOW_MS,
        finished_at_ms: None,
        expires_at_s: Some(PENDING_EXPIRY_S),
        state: ImageState::Pending,
        details: Details::default(),
        revision: 0,
        albums: Vec::new(),
    };
    assert_eq!(h.catalog().get(&owner(SUB), uuid).await.unwrap(), Some(record.clone()));
    assert_eq!(h.catalog().all_images(), [record]);
    assert_eq!(h.catalog().get(&owner(OTHER), uuid).await.unwrap(), None);
    assert_eq!(
        h.catalog().profile(&owner(SUB)).await.unwrap(),
        Profile { images: 1, bytes: 352_727, albums: 0 }
    );
    // Its status is known at once.
    let status = h.call(get(&format!("/api/images/{id}"), &[])).await;
    assert_eq!((status.status, status.body["status"].as_str()), (200, Some("pending")), "{}", status.body);
    assert_eq!(status.body["createdAt"], "2025-03-12T14:03:11.123Z");
    assert_eq!(status.body["filename"], "IMG_2041.JPG");
}

#[tokio::test]
async fn the_owner_is_signed_percent_encoded_and_recorded_as_given() {
    let h = harness();
    let sub = "google-oauth2|1047 é/x";
    let answer = h.call(post_as(sub, r#"{"filename":"a.gif","contentType":"image/gif","size":9}"#)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let encoded = "google-oauth2%7C1047%20%C3%A9%2Fx";
    assert_eq!(answer.body["upload"]["headers"]["x-amz-meta-owner"], encoded);
    assert_eq!(h.presigner.requests.lock().unwrap()[0].metadata["owner"], encoded);
    let images = h.catalog().all_images();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].owner, sub);
    assert_eq!((images[0].content_type.as_str(), images[0].size), ("image/gif", 9));
    // The same user finds it; the fixture's user does not.
    let path = format!("/api/images/{}", images[0].id);
    assert_eq!(h.call(get_as(sub, &path, &[])).await.status, 200);
    assert_eq!(h.error(get(&path, &[])).await.1, "image_not_found");
}

#[tokio::test]
async fn the_key_comes_from_the_type_never_the_name() {
    let mut config = RuntimeConfig::default();
    config.upload.presign_expiry_seconds = 3600;
    config.thumbnails.formats = vec![OutputFormat::Jpeg];
    let h = harness_with(config, FakePresigner::default(), SequentialIds::default());
    let name = "../../thumbs/x/manifest.json\u{0}.jpg";
    let body = json!({"filename": name, "contentType": "image/webp", "size": 5});
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
    // The record keeps the name as given (it is only ever shown), and expires a day after the
    // longer URL does.
    let record = &h.catalog().all_images()[0];
    assert_eq!((record.filename.as_str(), record.content_type.as_str()), (name, "image/webp"));
    assert_eq!(record.expires_at_s, Some(1_741_788_191 + 3600 + 86_400));
    // Two requests, two ids.
    let again = h.call(serde_json::from_str(POST_UPLOAD).unwrap()).await;
    assert_eq!(again.body["id"], id_at(NOW_MS, 2).to_string());
    assert_eq!(h.catalog().all_images().len(), 2);
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
    assert_eq!(h.catalog().all_images().len(), 1);
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
    h.catalog().fail_next(unavailable(true));
    for (body, status, code, needle) in cases {
        let (got_status, got_code, message) = h.error(post(&body)).await;
        let shown = &body[..body.len().min(80)];
        assert_eq!((got_status, got_code.as_str()), (status, code), "{shown}: {message}");
        assert!(message.contains(needle), "{shown}: {message:?} lacks {needle:?}");
    }
    assert!(h.presigner.requests.lock().unwrap().is_empty(), "nothing was signed");
    assert!(h.catalog().all_images().is_empty(), "nothing was recorded");
    h.assert_catalog_untouched().await;
}

#[tokio::test]
async fn a_signing_failure_is_a_503_and_records_nothing() {
    let h = harness_with(
        RuntimeConfig::default(),
        FakePresigner { fail: true, ..FakePresigner::default() },
        SequentialIds::default(),
    );
    let answer = h.call(serde_json::from_str(POST_UPLOAD).unwrap()).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.body["error"]["code"], "signing_unavailable");
    assert_eq!(answer.response.headers["retry-after"], "1");
    assert!(h.catalog().all_images().is_empty(), "no pending image without a URL");
}

#[tokio::test]
async fn a_catalog_failure_hands_out_no_url() {
    let h = harness();
    for (transient, status, code) in [(true, 503, "storage_unavailable"), (false, 502, "storage_error")] {
        h.catalog().fail_next(unavailable(transient));
        let answer = h.call(serde_json::from_str(POST_UPLOAD).unwrap()).await;
        assert_eq!((answer.status, answer.body["error"]["code"].as_str()), (status, Some(code)));
        assert_eq!(answer.response.headers.contains_key("retry-after"), transient);
        let text = answer.body.to_string();
        assert!(!text.contains("X-Amz-Signature") && !text.contains("raw/"), "no URL, no key: {text}");
        assert!(!text.contains("injected"), "details stay in the log: {text}");
        assert!(h.catalog().all_images().is_empty());
    }
    // The URLs were signed, then withheld; the next request goes through.
    assert_eq!(h.presigner.requests.lock().unwrap().len(), 2);
    let answer = h.call(serde_json::from_str(POST_UPLOAD).unwrap()).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(h.catalog().all_images().len(), 1);
    assert_eq!(h.catalog().all_images()[0].id.to_string(), answer.body["id"].as_str().unwrap());
}

#[tokio::test]
async fn an_id_already_taken_is_never_handed_out_again() {
    let h = harness_with(
        RuntimeConfig::default(),
        FakePresigner::default(),
        SequentialIds { stuck: true, ..SequentialIds::default() },
    );
    let first = h.call(serde_json::from_str(POST_UPLOAD).unwrap()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let (status, code, _) = h.error(post(r#"{"filename":"b.png","contentType":"image/png","size":3}"#)).await;
    assert_eq!((status, code.as_str()), (502, "storage_error"));
    let images = h.catalog().all_images();
    assert_eq!(images.len(), 1);
    assert_eq!((images[0].filename.as_str(), images[0].size), ("IMG_2041.JPG", 352_727), "unchanged");
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
        ("PUT", format!("/api/images/{id}"), "GET, PATCH, DELETE"),
        ("POST", "/api/images/not-an-id".to_owned(), "GET, PATCH, DELETE"),
        ("OPTIONS", format!("/api/images/{id}"), "GET, PATCH, DELETE"),
        ("PATCH", "/api/images".to_owned(), "GET"),
        ("PATCH", "/api/uploads".to_owned(), "POST"),
        ("PATCH", "/api/config".to_owned(), "GET"),
        ("DELETE", "/api/images".to_owned(), "GET"),
        ("HEAD", "/api/images".to_owned(), "GET"),
        ("POST", "/api/config".to_owned(), "GET"),
    ] {
        // Routing comes first: signed in or not, the answer is the same.
        let signed = event(GET_IMAGE, method, &path, &[]);
        for event in [signed.clone(), anonymous(signed)] {
            let answer = h.call(event).await;
            assert_eq!(answer.status, 405, "{method} {path}");
            assert_eq!(answer.response.headers["allow"], allow, "{method} {path}");
            assert_eq!(answer.body["error"]["code"], "method_not_allowed");
        }
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
        for method in ["GET", "POST", "PATCH"] {
            let signed = event(GET_IMAGE, method, path, &[]);
            for event in [signed.clone(), anonymous(signed)] {
                let (status, code, _) = h.error(event).await;
                assert_eq!((status, code.as_str()), (404, "not_found"), "{method} {path}");
            }
        }
    }
    assert!(h.catalog().all_images().is_empty());
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
async fn no_identity_is_a_500_on_every_signed_in_route() {
    let h = harness();
    let id = id_at(NOW_MS, 1);
    h.seed(SUB, id, NOW_MS).await;
    let signed_in = [
        post(r#"{"filename":"a.png","contentType":"image/png","size":10}"#),
        get(&format!("/api/images/{id}"), &[]),
        get("/api/images/not-an-id", &[]),
        get("/api/images", &[]),
        get("/api/images", &[("limit", "0"), ("cursor", "x")]),
        get("/api/images", &[("tag", "sea")]),
        get("/api/images", &[("tag", "not a tag!")]),
        patch(&format!("/api/images/{id}"), r#"{"title":"mine now"}"#),
        patch("/api/images/not-an-id", r#"{"title":"mine now"}"#),
        patch(&format!("/api/images/{id}"), "not json"),
        delete(&format!("/api/images/{id}")),
    ];
    /// Changes an event.
    type Edit = fn(&mut Value);
    let lose_identity: [(&str, Edit); 6] = [
        ("no authorizer", |event| {
            event["requestContext"].as_object_mut().unwrap().remove("authorizer");
        }),
        ("an authorizer without jwt", |event| {
            // A Lambda authorizer's context is not a verified identity, whatever it says.
            event["requestContext"]["authorizer"] = json!({"lambda": {"sub": SUB}});
        }),
        ("claims without sub", |event| {
            event["requestContext"]["authorizer"]["jwt"]["claims"].as_object_mut().unwrap().remove("sub");
        }),
        ("null claims", |event| {
            event["requestContext"]["authorizer"]["jwt"]["claims"] = Value::Null;
        }),
        ("an empty sub", |event| {
            event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("");
        }),
        ("a sub with a control character", |event| {
            event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("a\nb");
        }),
    ];
    h.catalog().fail_next(unavailable(true));
    for (what, lose) in lose_identity {
        for event in &signed_in {
            let mut event = event.clone();
            lose(&mut event);
            let path = event["rawPath"].clone();
            let answer = h.call(event).await;
            assert_eq!(answer.status, 500, "{what}, {path}: {}", answer.body);
            assert_eq!(answer.body["error"]["code"], "no_identity", "{what}, {path}");
            assert!(answer.body["error"]["message"].as_str().unwrap().contains("deployment fault"));
            assert!(!answer.response.headers.contains_key("retry-after"));
        }
    }
    assert!(h.presigner.requests.lock().unwrap().is_empty(), "nothing was signed");
    assert_eq!(h.catalog().all_images().len(), 1, "nothing was recorded");
    assert_eq!(h.catalog().all_images()[0].details, Details::default(), "nothing was edited");
    assert_eq!(h.catalog().all_images()[0].revision, 0);
    h.assert_catalog_untouched().await;
}

#[tokio::test]
async fn the_config_is_public() {
    let h = harness();
    let signed = event(GET_IMAGE, "GET", "/api/config", &[]);
    // The catalog is not involved: an injected failure stays queued.
    h.catalog().fail_next(unavailable(true));
    for event in [anonymous(signed.clone()), signed] {
        let answer = h.call(event).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["maxUploadBytes"], 26_214_400);
        assert_eq!(
            answer.body["allowedContentTypes"],
            json!(["image/jpeg", "image/png", "image/webp", "image/gif"])
        );
        assert_eq!(answer.body["uploadExpirySeconds"], 300);
        assert_eq!(answer.body["auth"]["clientId"], "client");
        // The page checks edits against the limits the API enforces.
        assert_eq!(
            answer.body["details"],
            json!({"titleMaxChars": 200, "descriptionMaxChars": 2000, "tagsMax": 20, "tagMaxChars": 32})
        );
    }
    h.assert_catalog_untouched().await;
}

#[tokio::test]
async fn only_requests_carrying_the_origin_secret_are_served() {
    use crate::origin::{ORIGIN_SECRET_HEADER, OriginSecret};
    let secret = "4f9c2e7a1b8d3f6e0a5c9b2d7e1f4a8c";
    let Harness { api, presigner } = harness();
    let h = Harness { api: api.with_origin_secret(OriginSecret::new(secret).unwrap()), presigner };
    let upload = event(POST_UPLOAD, "POST", "/api/uploads", &[]);
    let config = anonymous(event(GET_IMAGE, "GET", "/api/config", &[]));
    for (presented, status) in
        [(None, 403), (Some("4f9c2e7a1b8d3f6e0a5c9b2d7e1f4a8d"), 403), (Some(secret), 0)]
    {
        for request in [&upload, &config] {
            let mut request = request.clone();
            if let Some(presented) = presented {
                request["headers"][ORIGIN_SECRET_HEADER] = json!(presented);
            }
            let answer = h.call(request).await;
            if status == 403 {
                assert_eq!(answer.status, 403, "{presented:?}: {}", answer.body);
                assert_eq!(answer.body["error"]["code"], "direct_access_forbidden");
            } else {
                assert!([200, 201].contains(&answer.status), "{}", answer.body);
            }
        }
    }
    // Only the admitted upload was signed and recorded.
    assert_eq!(h.presigner.requests.lock().unwrap().len(), 1);
    assert_eq!(h.catalog().all_images().len(), 1);
}

#[tokio::test]
async fn image_status_pending_ready_rejected() {
    let h = harness();
    let id = id_at(NOW_MS - 5000, 7);
    let path = format!("/api/images/{id}");

    let (status, code, _) = h.error(get(&path, &[])).await;
    assert_eq!((status, code.as_str()), (404, "image_not_found"));

    h.seed(SUB, id, NOW_MS - 4000).await;
    let answer = h.call(get(&path, &[])).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        json!({
            "id": id.to_string(), "filename": format!("{id}.jpg"), "title": null, "description": null,
            "tags": [], "albums": [], "status": "pending", "reason": null,
            "message": null, "source": null, "thumbnails": [], "placeholder": null,
            "createdAt": "2025-03-12T14:03:07.123Z",
        })
    );

    h.finish(SUB, id, ready(&id)).await;
    let answer = h.call(get(&path, &[])).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["status"], "ready");
    assert_eq!(answer.body["reason"], Value::Null);
    assert_eq!(answer.body["message"], Value::Null);
    assert_eq!(
        answer.body["source"],
        json!({"format": "jpeg", "width": 1800, "height": 1200, "bytes": 352727})
    );
    assert_eq!(answer.body["thumbnails"].as_array().unwrap().len(), 4);
    assert_eq!(
        answer.body["thumbnails"][0],
        json!({"url": format!("/thumbs/{id}/1024.jpg"), "width": 1024, "height": 683, "format": "jpeg"})
    );
    assert_eq!(
        answer.body["thumbnails"][3],
        json!({"url": format!("/thumbs/{id}/256.webp"), "width": 256, "height": 171, "format": "webp"})
    );
    assert_eq!(
        answer.body["placeholder"],
        json!({"color": "#8a7f6e", "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj"})
    );
    assert_eq!(answer.body["createdAt"], "2025-03-12T14:03:07.123Z", "the upload's time, not the outcome's");

    let other = id_at(NOW_MS - 3000, 1);
    h.seed(SUB, other, NOW_MS - 2000).await;
    h.finish(
        SUB,
        other,
        Outcome::Rejected { reason: RejectReason::NotAnImage, message: "the bytes are not an image".into() },
    )
    .await;
    let answer = h.call(get(&format!("/api/images/{other}"), &[])).await;
    assert_eq!(
        answer.body,
        json!({
            "id": other.to_string(), "filename": format!("{other}.jpg"), "title": null, "description": null,
            "tags": [], "albums": [], "status": "rejected", "reason": "not_an_image",
            "message": "the bytes are not an image", "source": null, "thumbnails": [], "placeholder": null,
            "createdAt": "2025-03-12T14:03:09.123Z",
        })
    );
}

#[tokio::test]
async fn another_users_image_is_not_found() {
    let h = harness();
    let answer = h.call(serde_json::from_str(POST_UPLOAD).unwrap()).await;
    let id = answer.body["id"].as_str().unwrap().to_owned();
    let uuid: Uuid = id.parse().unwrap();
    let path = format!("/api/images/{id}");
    h.finish(SUB, uuid, ready(&uuid)).await;
    assert_eq!(h.call(get(&path, &[])).await.status, 200);

    let theirs = h.call(get_as(OTHER, &path, &[])).await;
    assert_eq!((theirs.status, theirs.body["error"]["code"].as_str()), (404, Some("image_not_found")));
    // Exactly what an id nobody has gets: nothing tells that the image exists.
    h.catalog().delete(&owner(SUB), uuid).await.unwrap().unwrap();
    let unknown = h.call(get(&path, &[])).await;
    assert_eq!((unknown.status, &unknown.body), (404, &theirs.body));
    assert_eq!(unknown.response.headers, theirs.response.headers);
}

#[tokio::test]
async fn delete_removes_the_callers_image_and_nobody_elses() {
    let h = harness();
    let (mine, kept) = (id_at(NOW_MS, 1), id_at(NOW_MS, 2));
    h.seed(SUB, mine, NOW_MS).await;
    h.seed(SUB, kept, NOW_MS).await;
    h.finish(SUB, mine, ready(&mine)).await;
    let path = format!("/api/images/{mine}");

    // Another user's delete is a 404, exactly as their read is, and deletes nothing.
    let theirs = h.call(delete_as(OTHER, &path)).await;
    assert_eq!((theirs.status, theirs.body["error"]["code"].as_str()), (404, Some("image_not_found")));
    assert_eq!(h.call(get(&path, &[])).await.status, 200);

    let response = h.api.handle_event(delete(&path)).await;
    assert_eq!(response.status_code, 204);
    assert_eq!(response.body, None, "204 has no body");
    assert_eq!(response.headers["cache-control"], "no-store");
    assert!(!response.headers.contains_key("content-type"));
    assert_eq!(h.error(get(&path, &[])).await.1, "image_not_found");
    let listed = h.call(get("/api/images", &[])).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["items"][0]["id"], kept.to_string());
    assert_eq!(
        h.catalog().profile(&owner(SUB)).await.unwrap(),
        Profile { images: 1, bytes: 1000, albums: 0 }
    );

    // Deleting it again: it is gone, as an id nobody has.
    let again = h.call(delete(&path)).await;
    assert_eq!((again.status, &again.body), (404, &theirs.body));
    // A pending image can be deleted too (an upload the user gave up on).
    assert_eq!(h.api.handle_event(delete(&format!("/api/images/{kept}"))).await.status_code, 204);
    assert!(h.catalog().all_images().is_empty());
}

#[tokio::test]
async fn delete_refuses_malformed_ids_and_reports_catalog_failures() {
    let h = harness();
    let id = id_at(NOW_MS, 1);
    h.seed(SUB, id, NOW_MS).await;
    h.catalog().fail_next(unavailable(true));
    for bad in ["x".to_owned(), id.to_string().to_uppercase(), format!("{id}.jpg"), "..".into()] {
        let (status, code, _) = h.error(delete(&format!("/api/images/{bad}"))).await;
        assert_eq!((status, code.as_str()), (404, "image_not_found"), "{bad}");
    }
    h.assert_catalog_untouched().await;
    for (failure, status, code) in
        [(unavailable(true), 503, "storage_unavailable"), (unavailable(false), 502, "storage_error")]
    {
        h.catalog().fail_next(failure);
        let answer = h.call(delete(&format!("/api/images/{id}"))).await;
        assert_eq!((answer.status, answer.body["error"]["code"].as_str()), (status, Some(code)));
    }
    assert_eq!(h.catalog().all_images().len(), 1, "a failed delete deletes nothing");
}

#[tokio::test]
async fn malformed_ids_are_404_without_touching_the_catalog() {
    let h = harness();
    let id = id_at(NOW_MS, 1).to_string();
    // No id at all is no route.
    let (status, code, _) = h.error(get("/api/images/", &[])).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    h.catalog().fail_next(unavailable(true));
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
    h.assert_catalog_untouched().await;
}

#[tokio::test]
async fn the_fixture_paths_route_with_and_without_a_stage_prefix() {
    let h = harness();
    for fixture in [POST_UPLOAD, GET_IMAGE, LIST_STAGED] {
        let request: aws_lambda_events::apigw::ApiGatewayV2httpRequest =
            serde_json::from_str(fixture).unwrap();
        assert_eq!(crate::http::owner(&request).unwrap().as_str(), SUB);
    }
    let id: Uuid = "0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e".parse().unwrap();
    h.seed(SUB, id, NOW_MS).await;
    // `ANY /api/{proxy+}` through a custom domain (stage `prod`, no prefix in rawPath).
    let answer = h.call(serde_json::from_str(GET_IMAGE).unwrap()).await;
    assert_eq!((answer.status, answer.body["status"].as_str()), (200, Some("pending")), "{}", answer.body);
    // The default endpoint of stage `prod`: `/prod/api/images`, after the fixture's cursor.
    let older = id_at(0x0195_896b_6a13 - 1, 1);
    let newer = id_at(0x0195_896b_6a13 + 1, 1);
    h.seed(SUB, older, NOW_MS).await;
    h.seed(SUB, newer, NOW_MS).await;
    h.seed(OTHER, id_at(0x0195_896b_6a13 - 2, 1), NOW_MS).await;
    let answer = h.call(serde_json::from_str(LIST_STAGED).unwrap()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(answer.body["items"][0]["id"], older.to_string());
    assert_eq!(answer.body["next"], Value::Null);
}

#[tokio::test]
async fn catalog_failures_are_502_or_503_never_500() {
    let h = harness();
    let id = id_at(NOW_MS, 1);
    h.seed(SUB, id, NOW_MS).await;
    let path = format!("/api/images/{id}");
    let corrupt = CatalogError::Corrupt {
        table: MEMORY_TABLE.into(),
        pk: format!("USER#{SUB}"),
        sk: format!("IMAGE#{id}"),
        what: "injected: size is of type S, not N".into(),
    };
    for (failure, status, code) in [
        (unavailable(true), 503, "storage_unavailable"),
        (unavailable(false), 502, "storage_error"),
        (corrupt, 502, "storage_error"),
    ] {
        let transient = failure.is_transient();
        for event in [
            get(&path, &[]),
            get("/api/images", &[]),
            get("/api/images", &[("cursor", &id.to_string())]),
            get("/api/images", &[("tag", "Sea")]),
            get("/api/images", &[("tag", "sea"), ("cursor", &id.to_string())]),
            patch(&path, r#"{"title":"Sunset"}"#),
        ] {
            h.catalog().fail_next(failure.clone());
            let answer = h.call(event).await;
            assert_eq!((answer.status, answer.body["error"]["code"].as_str()), (status, Some(code)));
            assert_eq!(answer.response.headers.contains_key("retry-after"), transient);
            let text = answer.body.to_string();
            assert!(!text.contains("injected") && !text.contains("USER#"), "details stay in the log: {text}");
        }
    }
    let answer = h.call(get(&path, &[])).await;
    assert_eq!((answer.status, answer.body["status"].as_str()), (200, Some("pending")));
    assert_eq!(answer.body["title"], Value::Null, "no failed edit applied");
    assert_eq!(h.catalog().all_images()[0].revision, 0);
}

#[tokio::test]
async fn bad_limits_and_cursors_are_400() {
    let h = harness();
    let id = id_at(NOW_MS, 1).to_string();
    let upper = id.to_uppercase();
    h.catalog().fail_next(unavailable(true));
    for (query, code) in [
        (vec![("limit", "0")], "invalid_limit"),
        (vec![("limit", "101")], "invalid_limit"),
        (vec![("limit", "ten")], "invalid_limit"),
        (vec![("limit", "")], "invalid_limit"),
        (vec![("limit", "5,6")], "invalid_limit"),
        (vec![("cursor", "")], "invalid_cursor"),
        (vec![("cursor", "abc")], "invalid_cursor"),
        (vec![("cursor", "0195896b-6a13-4c3a-9b1e-6f4d2c1a0b9e")], "invalid_cursor"),
        (vec![("cursor", "IMAGE#0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e")], "invalid_cursor"),
        (vec![("cursor", "USER#someone")], "invalid_cursor"),
        (vec![("limit", "5"), ("cursor", upper.as_str())], "invalid_cursor"),
    ] {
        let (status, got, message) = h.error(get("/api/images", &query)).await;
        assert_eq!((status, got.as_str()), (400, code), "{query:?}: {message}");
    }
    h.assert_catalog_untouched().await;
    // The largest limit the API accepts is one the catalog serves (not a 502).
    assert_eq!(crate::images::MAX_LIMIT, usize::from(thumbforge_catalog::MAX_PAGE));
    let answer =
        h.call(get("/api/images", &[("limit", "100"), ("cursor", id.as_str()), ("other", "x")])).await;
    assert_eq!(answer.body, json!({"items": [], "next": null}));
}

/// Pages through `sub`'s whole listing with `limit`, checking the page sizes and the cursors;
/// returns the ids and the page sizes.
async fn read_all(h: &Harness, sub: &str, limit: usize) -> (Vec<String>, Vec<usize>) {
    read_pages(h, sub, limit, &[]).await
}

/// [`read_all`] with more query parameters on every page (`tag`).
async fn read_pages(
    h: &Harness,
    sub: &str,
    limit: usize,
    extra: &[(&str, &str)],
) -> (Vec<String>, Vec<usize>) {
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let limit_text = limit.to_string();
        let mut query = vec![("limit", limit_text.as_str())];
        query.extend_from_slice(extra);
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let answer = h.call(get_as(sub, "/api/images", &query)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let items = answer.body["items"].as_array().unwrap();
        sizes.push(items.len());
        ids.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match answer.body["next"].as_str() {
            Some(next) => {
                assert_eq!(items.len(), limit);
                assert_eq!(items.last().unwrap()["id"], next);
                cursor = Some(next.to_owned());
            }
            None => return (ids, sizes),
        }
    }
}

#[tokio::test]
async fn listing_pages_newest_first_with_defaults() {
    let h = harness();
    let mut expected = Vec::new();
    // Written out of order: the listing orders by id (creation time), not by insertion.
    for n in (0..30u64).map(|n| (n * 7) % 30) {
        let id = id_at(NOW_MS - 30_000 + n * 1000, n);
        h.seed(SUB, id, NOW_MS - 30_000 + n * 1000).await;
        expected.push(id);
    }
    expected.sort_unstable();
    expected.reverse();
    let expected: Vec<String> = expected.iter().map(Uuid::to_string).collect();
    let oldest = id_at(NOW_MS - 30_000, 0);
    h.finish(SUB, oldest, ready(&oldest)).await;

    let answer = h.call(get("/api/images", &[])).await;
    let items = answer.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 24, "the default limit");
    assert_eq!(answer.body["next"], expected[23]);
    assert_eq!(items[0]["status"], "pending");
    assert_eq!(items[0]["createdAt"], "2025-03-12T14:03:10.123Z");
    assert_eq!(items[5]["createdAt"], "2025-03-12T14:03:05.123Z");

    assert_eq!(read_all(&h, SUB, 12).await, (expected.clone(), vec![12, 12, 6]));
    // A last page that is exactly full still ends the listing.
    assert_eq!(read_all(&h, SUB, 10).await, (expected.clone(), vec![10, 10, 10]));
    assert_eq!(read_all(&h, SUB, 30).await, (expected.clone(), vec![30]));
    assert_eq!(read_all(&h, SUB, 100).await, (expected.clone(), vec![30]));
    let answer = h.call(get("/api/images", &[("limit", "1"), ("cursor", expected[28].as_str())])).await;
    assert_eq!(answer.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(answer.body["items"][0]["id"], expected[29]);
    assert_eq!(answer.body["items"][0]["status"], "ready");
    assert_eq!(answer.body["items"][0]["thumbnails"].as_array().unwrap().len(), 4);
    assert_eq!(answer.body["next"], Value::Null);
    // After the oldest: nothing, and no cursor.
    let answer = h.call(get("/api/images", &[("cursor", expected[29].as_str())])).await;
    assert_eq!(answer.body, json!({"items": [], "next": null}));
    // Someone who has never uploaded has an empty listing.
    let answer = h.call(get_as(OTHER, "/api/images", &[])).await;
    assert_eq!((answer.status, &answer.body), (200, &json!({"items": [], "next": null})));
}

#[tokio::test]
async fn listings_never_cross_users() {
    let h = harness();
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    // Interleaved in time: every third image is the other user's.
    for n in 0..45u64 {
        let id = id_at(NOW_MS - 45_000 + n * 1000, 1);
        if n % 3 == 0 {
            h.seed(OTHER, id, NOW_MS).await;
            theirs.push(id);
        } else {
            h.seed(SUB, id, NOW_MS).await;
            mine.push(id);
        }
    }
    let newest_first = |ids: &[Uuid]| ids.iter().rev().map(Uuid::to_string).collect::<Vec<_>>();
    assert_eq!(read_all(&h, SUB, 7).await.0, newest_first(&mine));
    assert_eq!(read_all(&h, OTHER, 7).await.0, newest_first(&theirs));
    assert_eq!(read_all(&h, OTHER, 100).await, (newest_first(&theirs), vec![15]));

    // A cursor that is one of my ids, used by the other user: their images older than it, none
    // of mine.
    for cursor in [mine[20], mine[0], mine[29], theirs[7]] {
        let answer = h.call(get_as(OTHER, "/api/images", &[("cursor", &cursor.to_string())])).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let ids: Vec<&str> =
            answer.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
        let older: Vec<String> =
            newest_first(&theirs).into_iter().filter(|id| *id < cursor.to_string()).collect();
        assert_eq!(ids, older, "after {cursor}");
        assert_eq!(answer.body["next"], Value::Null);
    }
    // My status URLs are not theirs.
    let path = format!("/api/images/{}", mine[3]);
    assert_eq!(h.error(get_as(OTHER, &path, &[])).await.1, "image_not_found");
    assert_eq!(h.call(get(&path, &[])).await.status, 200);
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
async fn listing_matches_a_full_sort_over_bursts_and_sparse_years() {
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
        if all.insert(id.to_string()) {
            h.seed(SUB, id, ms).await;
        }
    }
    // One from the future (a skewed clock elsewhere) is still listed, first.
    let future = id_at(NOW_MS + 3_600_000, 1);
    h.seed(SUB, future, NOW_MS).await;
    all.insert(future.to_string());
    let expected: Vec<String> = all.into_iter().rev().collect();
    assert_eq!(expected[0], future.to_string());
    for limit in [1, 7, 24, 100] {
        assert_eq!(read_all(&h, SUB, limit).await.0, expected, "limit {limit}");
    }
}

/// A seeded pending image of [`SUB`] created at [`NOW_MS`], as the API shows it with these details.
fn seeded_image(id: Uuid, title: Value, description: Value, tags: Value) -> Value {
    json!({
        "id": id.to_string(), "filename": format!("{id}.jpg"),
        "title": title, "description": description, "tags": tags, "albums": [],
        "status": "pending", "reason": null, "message": null, "source": null, "thumbnails": [],
        "placeholder": null, "createdAt": "2025-03-12T14:03:11.123Z",
    })
}

#[tokio::test]
async fn patch_sets_and_clears_each_field_and_get_shows_the_same() {
    let h = harness();
    let id = id_at(NOW_MS, 1);
    h.seed(SUB, id, NOW_MS).await;
    let path = format!("/api/images/{id}");
    let null = Value::Null;
    let steps = [
        (json!({"title": "  Sunset  "}), seeded_image(id, json!("Sunset"), null.clone(), json!([]))),
        (
            json!({"tags": ["Sea", "beach", "New  York"]}),
            seeded_image(id, json!("Sunset"), null.clone(), json!(["beach", "new-york", "sea"])),
        ),
        (
            json!({"description": " From the pier,\nat low tide.\tWindy. "}),
            seeded_image(
                id,
                json!("Sunset"),
                json!("From the pier,\nat low tide.\tWindy."),
                json!(["beach", "new-york", "sea"]),
            ),
        ),
        (
            json!({"title": "Dusk", "tags": ["SEA"]}),
            seeded_image(id, json!("Dusk"), json!("From the pier,\nat low tide.\tWindy."), json!(["sea"])),
        ),
        (
            json!({"title": null}),
            seeded_image(id, null.clone(), json!("From the pier,\nat low tide.\tWindy."), json!(["sea"])),
        ),
        (json!({"description": "   "}), seeded_image(id, null.clone(), null.clone(), json!(["sea"]))),
        (json!({"tags": []}), seeded_image(id, null.clone(), null.clone(), json!([]))),
        (json!({"tags": ["x"], "title": "x"}), seeded_image(id, json!("x"), null.clone(), json!(["x"]))),
        (json!({"tags": null}), seeded_image(id, json!("x"), null.clone(), json!([]))),
        (
            json!({"title": "東京 😀 — über", "description": "é", "tags": ["東京", "ÉTÉ_2026"]}),
            seeded_image(id, json!("東京 😀 — über"), json!("é"), json!(["été_2026", "東京"])),
        ),
    ];
    for (body, expected) in steps {
        let answer = h.call(patch(&path, &body.to_string())).await;
        assert_eq!(answer.status, 200, "{body}: {}", answer.body);
        assert_eq!(answer.body, expected, "{body}");
        assert!(!answer.response.headers.contains_key("location"));
        let shown = h.call(get(&path, &[])).await;
        assert_eq!((shown.status, &shown.body), (200, &answer.body), "GET after {body}");
    }
    let record = h.catalog().get(&owner(SUB), id).await.unwrap().unwrap();
    assert_eq!(
        record.details,
        Details {
            title: Some("東京 😀 — über".into()),
            description: Some("é".into()),
            tags: vec!["été_2026".into(), "東京".into()],
        }
    );
    assert_eq!(record.revision, 10, "one revision per edit");
    assert_eq!(record.state, ImageState::Pending, "an edit leaves the upload's state alone");
    // The listing shows the same.
    let listed = h.call(get("/api/images", &[])).await;
    assert_eq!(
        listed.body,
        json!({"items": [seeded_image(id, json!("東京 😀 — über"), json!("é"), json!(["été_2026", "東京"]))], "next": null})
    );

    // A ready image stays ready, thumbnails and all.
    h.finish(SUB, id, ready(&id)).await;
    let answer = h.call(patch(&path, r#"{"title":"Ready now"}"#)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        (answer.body["status"].as_str(), answer.body["title"].as_str()),
        (Some("ready"), Some("Ready now"))
    );
    assert_eq!(answer.body["thumbnails"].as_array().unwrap().len(), 4);
    assert_eq!(answer.body["source"]["width"], 1800);
    assert_eq!(h.call(get(&path, &[])).await.body, answer.body);
}

#[tokio::test]
async fn the_patch_fixture_and_base64_bodies_are_read() {
    let h = harness();
    let id: Uuid = "0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e".parse().unwrap();
    h.seed(SUB, id, NOW_MS).await;
    // The event exactly as API Gateway sends it for `PATCH /api/images/{id}`.
    let answer = h.call(serde_json::from_str(PATCH_IMAGE).unwrap()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body,
        seeded_image(
            id,
            json!("Sunset over the bay"),
            json!("From the pier,\nat low tide."),
            json!(["low-tide", "sea", "sunset"])
        )
    );
    // The same edit base64-encoded (API Gateway encodes bodies it does not take for text).
    let mut event = patch(&format!("/api/images/{id}"), "");
    event["body"] = json!(aws_smithy_types::base64::encode(r#"{"tags":["Beach"]}"#));
    event["isBase64Encoded"] = json!(true);
    let answer = h.call(event.clone()).await;
    assert_eq!((answer.status, &answer.body["tags"]), (200, &json!(["beach"])), "{}", answer.body);
    event["body"] = json!("%%% not base64");
    let (status, code, message) = h.error(event).await;
    assert_eq!((status, code.as_str()), (400, "invalid_request"), "{message}");
    assert!(message.contains("not valid base64"), "{message}");
    assert_eq!(h.catalog().get(&owner(SUB), id).await.unwrap().unwrap().revision, 2);
}

#[tokio::test]
async fn every_edit_problem_is_listed_in_one_400() {
    let h = harness();
    let id = id_at(NOW_MS, 1);
    h.seed(SUB, id, NOW_MS).await;
    let path = format!("/api/images/{id}");
    assert_eq!(h.call(patch(&path, r#"{"title":"Kept","tags":["kept"]}"#)).await.status, 200);
    let kept = h.catalog().get(&owner(SUB), id).await.unwrap().unwrap();

    let mut tags = vec![json!("sea"), json!("Sea "), json!("a#b"), json!(7), json!("a".repeat(33))];
    tags.extend((1..=17).map(|n| json!(format!("t{n}"))));
    let body = json!({
        "title": "x".repeat(201),
        "description": 5,
        "tags": tags,
        "owner": OTHER,
    });
    h.catalog().fail_next(unavailable(true));
    let (status, code, message) = h.error(patch(&path, &body.to_string())).await;
    assert_eq!((status, code.as_str()), (400, "invalid_request"));
    assert_eq!(
        message,
        "unknown field `owner` (allowed: `title`, `description`, `tags`); \
         `title` is 201 characters long, at most 200 are allowed; \
         `description` must be a string or null; \
         the tag \"sea\" is given twice; \
         the tag \"a#b\" holds '#': tags are letters, digits, `-` and `_`; \
         every tag must be a string; \
         the tag \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is longer than 32 characters; \
         22 tags given, at most 20 are allowed"
    );

    let oversized = json!({"title": "x".repeat(16 * 1024)}).to_string();
    let cases: Vec<(String, i64, &str, &str)> = vec![
        (
            "{}".into(),
            400,
            "invalid_request",
            "nothing to change: give any of `title`, `description`, `tags`",
        ),
        (String::new(), 400, "invalid_json", "the body must be JSON of the form {\"title\"?: string | null"),
        ("not json".into(), 400, "invalid_json", "must be JSON"),
        (r#"{"title": "a""#.into(), 400, "invalid_json", "must be JSON"),
        ("title=a".into(), 400, "invalid_json", "must be JSON"),
        ("[]".into(), 400, "invalid_request", "the body must be a JSON object"),
        ("null".into(), 400, "invalid_request", "the body must be a JSON object"),
        (r#""title""#.into(), 400, "invalid_request", "the body must be a JSON object"),
        (r#"{"id": "x", "revision": 3}"#.into(), 400, "invalid_request", "unknown field `id`"),
        (r#"{"title": 5}"#.into(), 400, "invalid_request", "`title` must be a string or null"),
        (r#"{"title": ["a"]}"#.into(), 400, "invalid_request", "`title` must be a string or null"),
        (
            r#"{"description": false}"#.into(),
            400,
            "invalid_request",
            "`description` must be a string or null",
        ),
        (r#"{"tags": "a,b"}"#.into(), 400, "invalid_request", "`tags` must be a list of strings"),
        (r#"{"tags": {"a": 1}}"#.into(), 400, "invalid_request", "`tags` must be a list of strings"),
        (r#"{"tags": [["a"]]}"#.into(), 400, "invalid_request", "every tag must be a string"),
        (r#"{"tags": ["  "]}"#.into(), 400, "invalid_request", "a tag is empty"),
        (
            r#"{"tags": ["beach", "BEACH"]}"#.into(),
            400,
            "invalid_request",
            "the tag \"beach\" is given twice",
        ),
        (r#"{"title": "a\nb"}"#.into(), 400, "invalid_request", "`title` holds control characters"),
        (
            json!({"description": "d".repeat(2001)}).to_string(),
            400,
            "invalid_request",
            "`description` is 2001 characters long, at most 2000 are allowed",
        ),
        (
            json!({"tags": (0..21).map(|n| format!("t{n}")).collect::<Vec<_>>()}).to_string(),
            400,
            "invalid_request",
            "21 tags given, at most 20 are allowed",
        ),
        (oversized, 413, "payload_too_large", "the request body is larger than 16 KiB"),
    ];
    for (body, status, code, needle) in cases {
        let (got_status, got_code, message) = h.error(patch(&path, &body)).await;
        let shown = &body[..body.len().min(80)];
        assert_eq!((got_status, got_code.as_str()), (status, code), "{shown}: {message}");
        assert!(message.contains(needle), "{shown}: {message:?} lacks {needle:?}");
    }
    // At the limits exactly, an edit is accepted.
    let at_limits = json!({
        "title": "t".repeat(200),
        "description": "d".repeat(2000),
        "tags": (0..20).map(|n| format!("{n:0>32}")).collect::<Vec<_>>(),
    });
    h.assert_catalog_untouched().await;
    assert_eq!(h.catalog().get(&owner(SUB), id).await.unwrap().unwrap(), kept, "nothing changed");
    let answer = h.call(patch(&path, &at_limits.to_string())).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["tags"].as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn another_users_image_cannot_be_edited() {
    let h = harness();
    let id = id_at(NOW_MS, 1);
    h.seed(SUB, id, NOW_MS).await;
    let path = format!("/api/images/{id}");
    assert_eq!(h.call(patch(&path, r#"{"title":"Mine","tags":["mine"]}"#)).await.status, 200);
    let before = h.catalog().all_images();

    let theirs = h.call(patch_as(OTHER, &path, r#"{"title":"Theirs now","tags":["stolen"]}"#)).await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);
    assert_eq!(
        theirs.body,
        json!({"error": {"code": "image_not_found", "message": format!("no image has the id \"{id}\"")}})
    );
    // Exactly what an id nobody has gets.
    let unknown = id_at(NOW_MS, 2);
    let nobody = h.call(patch(&format!("/api/images/{unknown}"), r#"{"title":"x"}"#)).await;
    assert_eq!(nobody.status, 404);
    assert_eq!(nobody.body["error"]["message"], format!("no image has the id \"{unknown}\""));
    assert_eq!(nobody.response.headers, theirs.response.headers);

    assert_eq!(h.catalog().all_images(), before, "nothing changed, nothing was created");
    let mine = h.call(get(&path, &[])).await;
    assert_eq!((mine.body["title"].as_str(), &mine.body["tags"]), (Some("Mine"), &json!(["mine"])));
    let tagged = h.call(get_as(OTHER, "/api/images", &[("tag", "stolen")])).await;
    assert_eq!(tagged.body, json!({"items": [], "next": null}));
    let tagged = h.call(get_as(OTHER, "/api/images", &[("tag", "mine")])).await;
    assert_eq!(tagged.body, json!({"items": [], "next": null}), "my tags list nothing of theirs");
}

#[tokio::test]
async fn patch_refuses_malformed_ids_without_touching_the_catalog() {
    let h = harness();
    let id = id_at(NOW_MS, 1).to_string();
    h.seed(SUB, id_at(NOW_MS, 1), NOW_MS).await;
    h.catalog().fail_next(unavailable(true));
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
        let path = format!("/api/images/{bad}");
        for body in [r#"{"title":"x"}"#, "{}", "not json"] {
            let (status, code, message) = h.error(patch(&path, body)).await;
            assert_eq!((status, code.as_str()), (404, "image_not_found"), "{bad} {body}: {message}");
        }
    }
    h.assert_catalog_untouched().await;
    let all = h.catalog().all_images();
    assert_eq!((all.len(), all[0].revision), (1, 0));
}

#[tokio::test]
async fn a_failed_edit_changes_nothing() {
    let h = harness();
    let id = id_at(NOW_MS, 1);
    h.seed(SUB, id, NOW_MS).await;
    let path = format!("/api/images/{id}");
    for (failure, status, code) in
        [(unavailable(true), 503, "storage_unavailable"), (unavailable(false), 502, "storage_error")]
    {
        h.catalog().fail_next(failure);
        let answer = h.call(patch(&path, r#"{"title":"Sunset","tags":["sea"]}"#)).await;
        assert_eq!((answer.status, answer.body["error"]["code"].as_str()), (status, Some(code)));
        assert_eq!(answer.response.headers.contains_key("retry-after"), status == 503);
        assert!(!answer.body.to_string().contains("injected"), "{}", answer.body);
    }
    let record = h.catalog().get(&owner(SUB), id).await.unwrap().unwrap();
    assert_eq!((record.details, record.revision), (Details::default(), 0));
    let tagged = h.call(get("/api/images", &[("tag", "sea")])).await;
    assert_eq!(tagged.body, json!({"items": [], "next": null}));
    // The retry goes through.
    let answer = h.call(patch(&path, r#"{"title":"Sunset","tags":["sea"]}"#)).await;
    assert_eq!((answer.status, answer.body["title"].as_str()), (200, Some("Sunset")));
}

#[tokio::test]
async fn tagged_listings_page_the_callers_tagged_images_newest_first() {
    let h = harness();
    let (mut sea, mut beach, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..20u64 {
        let ms = NOW_MS - 20_000 + n * 1000;
        let id = id_at(ms, n);
        h.seed(SUB, id, ms).await;
        let tags = match n % 3 {
            0 => r#"{"tags":["Sea","beach"]}"#,
            1 => r#"{"tags":["beach"]}"#,
            _ => r#"{"title":"untagged"}"#,
        };
        assert_eq!(h.call(patch(&format!("/api/images/{id}"), tags)).await.status, 200);
        if n % 3 == 0 {
            sea.push(id);
        }
        if n % 3 != 2 {
            beach.push(id);
        }
        // The other user's images, interleaved in time, all tagged `sea`.
        if n % 4 == 0 {
            let other = id_at(ms, 100 + n);
            h.seed(OTHER, other, ms).await;
            let answer =
                h.call(patch_as(OTHER, &format!("/api/images/{other}"), r#"{"tags":["sea"]}"#)).await;
            assert_eq!(answer.status, 200);
            theirs.push(other);
        }
    }
    let newest_first = |ids: &[Uuid]| ids.iter().rev().map(Uuid::to_string).collect::<Vec<_>>();
    let sea = newest_first(&sea);
    let beach = newest_first(&beach);
    let theirs = newest_first(&theirs);
    assert_eq!((sea.len(), beach.len(), theirs.len()), (7, 14, 5));

    // The tag is normalised as stored tags are.
    for tag in ["sea", "Sea", " SEA "] {
        assert_eq!(read_pages(&h, SUB, 3, &[("tag", tag)]).await, (sea.clone(), vec![3, 3, 1]), "{tag}");
    }
    // A last page that is exactly full still ends the listing.
    assert_eq!(read_pages(&h, SUB, 7, &[("tag", "sea")]).await, (sea.clone(), vec![7]));
    assert_eq!(read_pages(&h, SUB, 5, &[("tag", "beach")]).await, (beach.clone(), vec![5, 5, 4]));
    assert_eq!(read_pages(&h, OTHER, 2, &[("tag", "sea")]).await, (theirs.clone(), vec![2, 2, 1]));
    // Default limit, and unknown parameters ignored as in the plain listing.
    let answer = h.call(get("/api/images", &[("tag", "beach"), ("other", "x"), ("Tag", "nope")])).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let ids: Vec<&str> =
        answer.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, beach);
    assert_eq!(answer.body["next"], Value::Null);
    // Items are the images as `GET` shows them, tags included.
    let first = &answer.body["items"][0];
    assert_eq!(first["id"], beach[0]);
    assert_eq!(h.call(get(&format!("/api/images/{}", beach[0]), &[])).await.body, *first);
    assert_eq!(first["tags"], json!(["beach"]), "the newest, n = 19, is `beach` only");
    let sea_first = h.call(get("/api/images", &[("tag", "sea"), ("limit", "1")])).await;
    assert_eq!(sea_first.body["items"][0]["tags"], json!(["beach", "sea"]));
    assert_eq!(sea_first.body["next"], sea[0]);

    // A cursor of mine, used by the other user: only their older `sea` images, none of mine.
    for cursor in [&sea[2], &beach[0], &sea[6]] {
        let answer = h.call(get_as(OTHER, "/api/images", &[("tag", "sea"), ("cursor", cursor)])).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let ids: Vec<&str> =
            answer.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
        let older: Vec<&str> = theirs.iter().map(String::as_str).filter(|id| *id < cursor.as_str()).collect();
        assert_eq!(ids, older, "after {cursor}");
    }
    let after = h.call(get_as(OTHER, "/api/images", &[("tag", "sea"), ("cursor", &sea[2])])).await;
    assert_eq!(after.body["items"].as_array().unwrap().len(), 3, "theirs of n = 8, 4, 0");
    // A tag nobody has; an image untagged leaves the listing.
    let none = h.call(get("/api/images", &[("tag", "mountains")])).await;
    assert_eq!((none.status, &none.body), (200, &json!({"items": [], "next": null})));
    assert_eq!(h.call(patch(&format!("/api/images/{}", sea[0]), r#"{"tags":[]}"#)).await.status, 200);
    assert_eq!(read_pages(&h, SUB, 100, &[("tag", "sea")]).await, (sea[1..].to_vec(), vec![6]));
    // `New York` is the tag `new-york`.
    assert_eq!(
        h.call(patch(&format!("/api/images/{}", sea[1]), r#"{"tags":["New York"]}"#)).await.status,
        200
    );
    let ny = h.call(get("/api/images", &[("tag", "New York")])).await;
    assert_eq!(ny.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(ny.body["items"][0]["id"], sea[1]);
}

#[tokio::test]
async fn bad_tags_are_400_without_touching_the_catalog() {
    let h = harness();
    h.catalog().fail_next(unavailable(true));
    let long = "a".repeat(33);
    for (query, code, message) in [
        (vec![("tag", "")], "invalid_tag", Some("`tag`: a tag is empty")),
        (vec![("tag", "   ")], "invalid_tag", Some("`tag`: a tag is empty")),
        (
            vec![("tag", "a#b")],
            "invalid_tag",
            Some("`tag`: the tag \"a#b\" holds '#': tags are letters, digits, `-` and `_`"),
        ),
        (
            vec![("tag", "sea/../x")],
            "invalid_tag",
            Some("`tag`: the tag \"sea/../x\" holds '/': tags are letters, digits, `-` and `_`"),
        ),
        (
            vec![("tag", long.as_str())],
            "invalid_tag",
            Some("`tag`: the tag \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is longer than 32 characters"),
        ),
        // Repeated (API Gateway joins repeated values with commas): refused either way.
        (vec![("tag", "sea,beach")], "invalid_tag", None),
        (vec![("tag", "sea"), ("limit", "0")], "invalid_limit", None),
        (vec![("tag", "sea"), ("cursor", "x")], "invalid_cursor", None),
    ] {
        let (status, got, text) = h.error(get("/api/images", &query)).await;
        assert_eq!((status, got.as_str()), (400, code), "{query:?}: {text}");
        if let Some(message) = message {
            assert_eq!(text, message, "{query:?}");
        }
    }
    h.assert_catalog_untouched().await;
}

#[tokio::test]
async fn uploads_past_a_daily_quota_get_429_with_when_it_resets() {
    let mut config = RuntimeConfig::default();
    config.quotas.uploads_per_day = 2;
    let h = harness_with(config, FakePresigner::default(), SequentialIds::default());
    let body = json!({"filename": "a.jpg", "contentType": "image/jpeg", "size": 10}).to_string();
    for _ in 0..2 {
        assert_eq!(h.call(post_as(SUB, &body)).await.status, 201);
    }
    let refused = h.call(post_as(SUB, &body)).await;
    assert_eq!(
        (refused.status, refused.body["error"]["code"].as_str()),
        (429, Some("daily_upload_quota_exceeded")),
        "{}",
        refused.body
    );
    // NOW_MS is 2025-03-12T14:03:11.123Z: the day's counts start again 9 h 56 min 49 s later.
    assert_eq!(refused.response.headers["retry-after"], "35809");
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("2 uploads today"), "{message}");
    assert!(message.contains("00:00 UTC (2025-03-13T00:00:00Z), in 9 h 56 min"), "{message}");
    assert_eq!(h.catalog().profile(&owner(SUB)).await.unwrap().images, 2, "nothing recorded");
    // Another user is not affected.
    assert_eq!(h.call(post_as(OTHER, &body)).await.status, 201);
}

#[tokio::test]
async fn uploads_past_a_storage_quota_get_413_until_photos_are_deleted() {
    let mut config = RuntimeConfig::default();
    config.quotas.photos_stored = 1;
    config.quotas.bytes_stored = config.limits.max_upload_bytes;
    let h = harness_with(config.clone(), FakePresigner::default(), SequentialIds::default());
    let upload =
        |size: u64| json!({"filename": "a.jpg", "contentType": "image/jpeg", "size": size}).to_string();
    let first = h.call(post_as(SUB, &upload(10))).await;
    assert_eq!(first.status, 201);
    let (status, code, message) = h.error(post_as(SUB, &upload(10))).await;
    assert_eq!((status, code.as_str()), (413, "photo_quota_exceeded"), "{message}");
    assert!(message.contains("you keep 1 photos") && message.contains("delete some"), "{message}");
    let id = Uuid::parse_str(first.body["id"].as_str().unwrap()).unwrap();
    assert!(h.catalog().delete(&owner(SUB), id).await.unwrap().is_some());
    assert_eq!(h.call(post_as(SUB, &upload(10))).await.status, 201, "room again once deleted");

    let mut bytes = config;
    bytes.quotas.photos_stored = 100;
    let h = harness_with(bytes.clone(), FakePresigner::default(), SequentialIds::default());
    assert_eq!(h.call(post_as(SUB, &upload(bytes.limits.max_upload_bytes - 5))).await.status, 201);
    assert_eq!(h.call(post_as(OTHER, &upload(10))).await.status, 201, "another user's storage is their own");
    let refused = h.call(post_as(SUB, &upload(10))).await;
    assert_eq!(refused.body["error"]["code"], "storage_quota_exceeded", "{}", refused.body);
    assert!(
        refused.body["error"]["message"].as_str().unwrap().contains("past 25 MiB stored"),
        "{}",
        refused.body
    );
    assert!(!refused.response.headers.contains_key("retry-after"), "storage does not reset with time");
}
