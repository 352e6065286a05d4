//! The API against a real S3-compatible server (SigV4 verified) over HTTP: the upload URLs it
//! hands out are used with a bare HTTP client, as a browser would, and S3 enforces their terms.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is a failed test with its message")]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::primitives::ByteStream;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use presign::Api;
use presign::s3::{S3Bucket, S3Presigner};
use serde_json::{Value, json};
use thumbforge_core::manifest::{MANIFEST_VERSION, Rendition, Source};
use thumbforge_core::{InputFormat, Manifest, Outcome, OutputFormat, RejectReason, RuntimeConfig, keys};
use thumbforge_s3_local::{Fault, LocalS3, Operation, Options};
use tokio::net::TcpStream;

const BUCKET: &str = "media";
const POST_UPLOAD: &str = include_str!("events/post_upload.json");
const GET_IMAGE: &str = include_str!("events/get_image_proxy.json");

struct Stack {
    s3: LocalS3,
    client: aws_sdk_s3::Client,
    api: Api<S3Bucket, S3Presigner>,
    _dir: tempfile::TempDir,
}

async fn stack_with(config: RuntimeConfig) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let s3 = LocalS3::start(Options::new(dir.path()).bucket(BUCKET)).await.unwrap();
    let retry = RetryConfig::standard().with_max_attempts(2).with_initial_backoff(Duration::from_millis(5));
    let client = aws_sdk_s3::Client::from_conf(s3.client_config().retry_config(retry).build());
    let sign_in = thumbforge_core::auth::SignIn {
        client_id: "client".into(),
        authorize_url: "https://id.example/oauth2/authorize".into(),
        token_url: "https://id.example/oauth2/token".into(),
        logout_url: None,
        scopes: vec!["openid".into()],
    };
    let api = Api::new(
        S3Bucket::new(client.clone(), BUCKET),
        S3Presigner::new(client.clone(), BUCKET),
        config,
        sign_in,
    );
    Stack { s3, client, api, _dir: dir }
}

async fn stack() -> Stack {
    stack_with(RuntimeConfig::default()).await
}

/// The upload a ticket describes, and how far an attempt departs from it.
#[derive(Debug, Clone)]
struct Upload {
    url: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Upload {
    fn from_ticket(ticket: &Value, body: &[u8]) -> Self {
        assert_eq!(ticket["upload"]["method"], "PUT");
        let headers = ticket["upload"]["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        Self { url: ticket["upload"]["url"].as_str().unwrap().to_owned(), headers, body: body.to_vec() }
    }

    /// PUTs the body to the URL with the headers, as a browser would: `Content-Length` is the
    /// body's real length whatever the ticket says.
    async fn send(&self) -> (u16, String) {
        let uri: hyper::Uri = self.url.parse().unwrap();
        let authority = uri.authority().unwrap().to_string();
        let stream = TcpStream::connect(&authority).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        let mut request = hyper::Request::builder()
            .method("PUT")
            .uri(uri.path_and_query().unwrap().as_str())
            .header("host", authority);
        for (name, value) in &self.headers {
            if name != "content-length" {
                request = request.header(name, value);
            }
        }
        let request = request
            .header("content-length", self.body.len())
            .body(Full::new(Bytes::copy_from_slice(&self.body)))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let text = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&text).into_owned())
    }
}

impl Stack {
    async fn call(&self, event: Value) -> (i64, Value) {
        let response = self.api.handle_event(event).await;
        assert_eq!(response.headers["content-type"], "application/json");
        let Some(aws_lambda_events::encodings::Body::Text(text)) = response.body else {
            panic!("a text body")
        };
        (response.status_code, serde_json::from_str(&text).unwrap())
    }

    async fn ticket(&self, filename: &str, content_type: &str, size: usize) -> Value {
        let mut event: Value = serde_json::from_str(POST_UPLOAD).unwrap();
        event["body"] =
            json!(json!({"filename": filename, "contentType": content_type, "size": size}).to_string());
        let (status, body) = self.call(event).await;
        assert_eq!(status, 201, "{body}");
        body
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> (i64, Value) {
        let mut event: Value = serde_json::from_str(GET_IMAGE).unwrap();
        event["rawPath"] = json!(path);
        event["requestContext"]["http"]["path"] = json!(path);
        let params: serde_json::Map<String, Value> =
            query.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
        event["queryStringParameters"] = Value::Object(params);
        self.call(event).await
    }

    async fn keys(&self, prefix: &str) -> Vec<String> {
        let out = self.client.list_objects_v2().bucket(BUCKET).prefix(prefix).send().await.unwrap();
        out.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
    }

    async fn object(&self, key: &str) -> Vec<u8> {
        let out = self.client.get_object().bucket(BUCKET).key(key).send().await.unwrap();
        out.body.collect().await.unwrap().to_vec()
    }

    async fn write_manifest(&self, id: &str, outcome: Outcome) {
        let manifest = Manifest {
            version: MANIFEST_VERSION,
            id: id.to_owned(),
            raw_key: format!("raw/{id}.jpg"),
            outcome,
        };
        self.client
            .put_object()
            .bucket(BUCKET)
            .key(keys::manifest_key(id))
            .content_type("application/json")
            .body(ByteStream::from(manifest.to_json()))
            .send()
            .await
            .unwrap();
    }

    /// Issues a ticket and uploads `body` through it.
    async fn upload(&self, body: &[u8]) -> String {
        let ticket = self.ticket("photo.jpg", "image/jpeg", body.len()).await;
        let (status, text) = Upload::from_ticket(&ticket, body).send().await;
        assert_eq!(status, 200, "{text}");
        ticket["id"].as_str().unwrap().to_owned()
    }
}

fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn the_signed_put_stores_exactly_the_declared_upload() {
    let s = stack().await;
    let data = body(4096);
    let ticket = s.ticket("Sunset über Zürich (1).JPG", "image/jpeg", data.len()).await;
    let id = ticket["id"].as_str().unwrap();
    let key = ticket["key"].as_str().unwrap();
    assert_eq!(key, format!("raw/{id}.jpg"));
    assert!(
        ticket["upload"]["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/{BUCKET}/{key}?", s.s3.endpoint()))
    );
    let url = ticket["upload"]["url"].as_str().unwrap();
    assert!(
        url.contains(
            "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match%3Bx-amz-meta-filename"
        ),
        "{url}"
    );
    assert_eq!(
        ticket["upload"]["headers"],
        json!({
            "content-length": "4096",
            "content-type": "image/jpeg",
            "if-none-match": "*",
            "x-amz-meta-filename": "Sunset%20%C3%BCber%20Z%C3%BCrich%20%281%29.JPG",
        })
    );
    // Issued, not yet uploaded: unknown.
    let status_url = ticket["statusUrl"].as_str().unwrap();
    assert_eq!(s.get(status_url, &[]).await.0, 404);

    let (status, text) = Upload::from_ticket(&ticket, &data).send().await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(s.object(key).await, data);
    let head = s.client.head_object().bucket(BUCKET).key(key).send().await.unwrap();
    assert_eq!(head.content_type(), Some("image/jpeg"));
    assert_eq!(
        head.metadata().unwrap().get("filename").map(String::as_str),
        Some("Sunset%20%C3%BCber%20Z%C3%BCrich%20%281%29.JPG")
    );
    assert_eq!(s.keys("").await, [key]);
}

#[tokio::test]
async fn s3_refuses_every_departure_from_the_ticket() {
    let s = stack().await;
    let data = body(1000);
    let ticket = s.ticket("a.png", "image/png", data.len()).await;
    let key = ticket["key"].as_str().unwrap().to_owned();
    let exact = Upload::from_ticket(&ticket, &data);
    let other_key = format!("raw/{}.png", uuid_like_other(&key));

    let mut attempts: Vec<(&str, Upload)> = Vec::new();
    attempts.push(("a longer body", Upload { body: body(1001), ..exact.clone() }));
    attempts.push(("a shorter body", Upload { body: body(999), ..exact.clone() }));
    let mut typed = exact.clone();
    typed.headers.insert("content-type".into(), "image/jpeg".into());
    attempts.push(("another type", typed));
    let mut html = exact.clone();
    html.headers.insert("content-type".into(), "text/html".into());
    attempts.push(("text/html", html));
    let mut unconditional = exact.clone();
    unconditional.headers.remove("if-none-match");
    attempts.push(("no If-None-Match", unconditional));
    let mut renamed = exact.clone();
    renamed.headers.insert("x-amz-meta-filename".into(), "evil.html".into());
    attempts.push(("another file name", renamed));
    let mut elsewhere = exact.clone();
    elsewhere.url = exact.url.replacen(&key, &other_key, 1);
    assert_ne!(elsewhere.url, exact.url);
    attempts.push(("another key", elsewhere));
    let mut thumbs = exact.clone();
    thumbs.url = exact.url.replacen(&key, "thumbs/x/manifest.json", 1);
    attempts.push(("a thumbs/ key", thumbs));

    for (what, attempt) in &attempts {
        let (status, text) = attempt.send().await;
        assert_eq!(status, 403, "{what}: {text}");
        assert!(text.contains("<Code>SignatureDoesNotMatch</Code>"), "{what}: {text}");
    }
    assert!(s.keys("").await.is_empty(), "nothing was stored");
    assert_eq!(s.s3.calls(Operation::PutObject), 0, "refused before reaching the store");

    // The exact upload works once; the same URL can never overwrite it.
    assert_eq!(exact.send().await.0, 200);
    let replay = Upload { body: vec![0xAB; 1000], ..exact.clone() };
    let (status, text) = replay.send().await;
    assert_eq!(status, 412, "{text}");
    assert!(text.contains("<Code>PreconditionFailed</Code>"), "{text}");
    assert_eq!(s.object(&key).await, data, "the first upload is intact");
    assert_eq!(s.keys("").await, [key]);
}

/// Another valid-looking id: the key's id with its last hex digit changed.
fn uuid_like_other(key: &str) -> String {
    let id = keys::id_from_raw_key(key).unwrap();
    let last = id.chars().last().unwrap();
    format!("{}{}", &id[..id.len() - 1], if last == '0' { '1' } else { '0' })
}

#[tokio::test]
async fn an_expired_url_is_refused() {
    let mut config = RuntimeConfig::default();
    config.upload.presign_expiry_seconds = 1;
    let s = stack_with(config).await;
    let data = body(10);
    let issued = SystemTime::now();
    let ticket = s.ticket("late.gif", "image/gif", data.len()).await;
    let expires_at = ticket["expiresAt"].as_str().unwrap();
    let expires_at =
        aws_smithy_types::DateTime::from_str(expires_at, aws_smithy_types::date_time::Format::DateTime)
            .map(SystemTime::try_from)
            .unwrap()
            .unwrap();
    assert!(expires_at <= issued + Duration::from_secs(2), "{expires_at:?} vs {issued:?}");
    assert!(expires_at > issued - Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, text) = Upload::from_ticket(&ticket, &data).send().await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("<Code>AccessDenied</Code>") && text.contains("expired"), "{text}");
    assert!(s.keys("").await.is_empty());
}

#[tokio::test]
async fn status_goes_from_pending_to_ready_or_rejected() {
    let s = stack().await;
    let before = SystemTime::now() - Duration::from_secs(2);
    let id = s.upload(&body(300)).await;
    let path = format!("/api/images/{id}");
    let (status, image) = s.get(&path, &[]).await;
    assert_eq!(status, 200, "{image}");
    assert_eq!(image["id"], id);
    assert_eq!(image["status"], "pending");
    assert_eq!(
        (&image["reason"], &image["message"], &image["source"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    assert_eq!(image["thumbnails"], json!([]));
    let created = aws_smithy_types::DateTime::from_str(
        image["createdAt"].as_str().unwrap(),
        aws_smithy_types::date_time::Format::DateTime,
    )
    .unwrap();
    let created = SystemTime::try_from(created).unwrap();
    assert!(created >= before && created <= SystemTime::now() + Duration::from_secs(2), "{created:?}");

    let renditions = [(1024, OutputFormat::Jpeg, 1024, 683), (256, OutputFormat::Webp, 256, 171)]
        .into_iter()
        .map(|(size, format, width, height)| Rendition {
            key: keys::rendition_key(&id, size, format),
            size,
            width,
            height,
            format,
            bytes: 100,
        })
        .collect();
    let source = Source { format: InputFormat::Jpeg, width: 1800, height: 1200, bytes: 300 };
    s.write_manifest(&id, Outcome::Ready { source, renditions }).await;
    let (status, image) = s.get(&path, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(image["status"], "ready");
    assert_eq!(image["source"], json!({"format": "jpeg", "width": 1800, "height": 1200, "bytes": 300}));
    assert_eq!(
        image["thumbnails"],
        json!([
            {"url": format!("/thumbs/{id}/1024.jpg"), "width": 1024, "height": 683, "format": "jpeg"},
            {"url": format!("/thumbs/{id}/256.webp"), "width": 256, "height": 171, "format": "webp"},
        ])
    );

    let other = s.upload(&body(20)).await;
    let outcome =
        Outcome::Rejected { reason: RejectReason::Corrupt, message: "truncated or corrupt data".into() };
    s.write_manifest(&other, outcome).await;
    let (status, image) = s.get(&format!("/api/images/{other}"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(image["status"], "rejected");
    assert_eq!(image["reason"], "corrupt");
    assert_eq!(image["message"], "truncated or corrupt data");
    assert_eq!((&image["source"], &image["thumbnails"]), (&Value::Null, &json!([])));

    for unknown in
        [format!("/api/images/{}", uuid_like_other(&format!("raw/{id}.jpg"))), "/api/images/nope".into()]
    {
        let (status, error) = s.get(&unknown, &[]).await;
        assert_eq!((status, error["error"]["code"].as_str()), (404, Some("image_not_found")), "{unknown}");
    }
}

#[tokio::test]
async fn listing_pages_newest_first() {
    let s = stack().await;
    let mut uploaded = Vec::new();
    for i in 0..30 {
        uploaded.push(s.upload(&body(10 + i)).await);
    }
    // Not uploads: ignored.
    for junk in ["raw/readme.txt", "raw/nested/x.jpg", "thumbs/a/manifest.json"] {
        s.client
            .put_object()
            .bucket(BUCKET)
            .key(junk)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    s.write_manifest(
        &uploaded[29],
        Outcome::Rejected { reason: RejectReason::Empty, message: "empty".into() },
    )
    .await;

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "12")];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let (status, page) = s.get("/api/images", &query).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        sizes.push(items.len());
        seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(sizes, [12, 12, 6]);
    let expected: Vec<String> = uploaded.iter().rev().cloned().collect();
    assert_eq!(seen, expected, "newest first, each once");
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 30);

    let (_, page) = s.get("/api/images", &[("limit", "1")]).await;
    assert_eq!(page["items"][0]["status"], "rejected");
    assert_eq!(page["items"][0]["reason"], "empty");
    assert_eq!(page["next"], uploaded[29]);

    let (_, page) = s.get("/api/images", &[]).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 24);

    for (name, value) in [("cursor", "garbage"), ("cursor", ""), ("limit", "0"), ("limit", "1000")] {
        let (status, error) = s.get("/api/images", &[(name, value)]).await;
        assert_eq!(status, 400, "{name}={value}: {error}");
        assert_eq!(error["error"]["code"], format!("invalid_{name}"));
    }
}

#[tokio::test]
async fn bucket_failures_are_503_or_502() {
    let s = stack().await;
    let id = s.upload(&body(5)).await;
    let faults = s.s3.faults();

    faults.fail_next(Operation::ListObjectsV2, 5, 503);
    let (status, error) = s.get("/api/images", &[]).await;
    assert_eq!((status, error["error"]["code"].as_str()), (503, Some("storage_unavailable")), "{error}");
    faults.clear();

    faults.fail_next(Operation::GetObject, 5, Fault::new(403, "AccessDenied"));
    let (status, error) = s.get(&format!("/api/images/{id}"), &[]).await;
    assert_eq!((status, error["error"]["code"].as_str()), (502, Some("storage_error")), "{error}");
    faults.clear();

    let (status, image) = s.get(&format!("/api/images/{id}"), &[]).await;
    assert_eq!((status, image["status"].as_str()), (200, Some("pending")));
}
