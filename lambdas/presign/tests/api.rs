//! The API against a real S3-compatible server (SigV4 verified) and the real metadata table on
//! an embedded DynamoDB, both over HTTP: the upload URLs it hands out are used with a bare HTTP
//! client, as a browser would, S3 enforces their terms, and every answer comes from the table.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is a failed test with its message")]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::retry::RetryConfig;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use presign::Api;
use presign::s3::S3Presigner;
use serde_json::{Value, json};
use thumbforge_catalog::schema::{self, TableSetup};
use thumbforge_catalog::{Catalog, DynamoCatalog, Finish, ImageState, Owner};
use thumbforge_core::manifest::{Rendition, Source};
use thumbforge_core::{InputFormat, Outcome, OutputFormat, RejectReason, RuntimeConfig, keys};
use thumbforge_dynamo_local::LocalDynamo;
use thumbforge_s3_local::{LocalS3, Operation, Options};
use tokio::net::TcpStream;
use uuid::Uuid;

const BUCKET: &str = "media";
const TABLE: &str = "thumbforge-test-images";
const POST_UPLOAD: &str = include_str!("events/post_upload.json");
const GET_IMAGE: &str = include_str!("events/get_image_proxy.json");
const PATCH_IMAGE: &str = include_str!("events/patch_image.json");

/// The fixtures' user.
const SUB: &str = "6f1c2d9e-3b7a-4c55-9e21-8d4f0a7b1c36";
/// Another user, whose `sub` is not a UUID (another identity provider's style).
const OTHER: &str = "google-oauth2|104 Zoë";

struct Stack {
    s3: LocalS3,
    /// `None` once a test has shut it down.
    dynamo: Option<LocalDynamo>,
    client: aws_sdk_s3::Client,
    catalog: DynamoCatalog,
    api: Api<DynamoCatalog, S3Presigner>,
    _dir: tempfile::TempDir,
}

/// Both servers, and the API over them; with `create_table` false the table does not exist.
async fn stack_with(config: RuntimeConfig, create_table: bool) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let s3 = LocalS3::start(Options::new(dir.path()).bucket(BUCKET)).await.unwrap();
    let retry = RetryConfig::standard().with_max_attempts(2).with_initial_backoff(Duration::from_millis(5));
    let client = aws_sdk_s3::Client::from_conf(s3.client_config().retry_config(retry.clone()).build());
    let dynamo = LocalDynamo::start(thumbforge_dynamo_local::Options::default()).await.unwrap();
    let dynamo_client =
        aws_sdk_dynamodb::Client::from_conf(dynamo.client_config().retry_config(retry).build());
    if create_table {
        assert_eq!(schema::create_table(&dynamo_client, TABLE).await.unwrap(), TableSetup::Created);
    }
    let catalog = DynamoCatalog::new(dynamo_client, TABLE);
    let sign_in = thumbforge_core::auth::SignIn {
        client_id: "client".into(),
        authorize_url: "https://id.example/oauth2/authorize".into(),
        token_url: "https://id.example/oauth2/token".into(),
        logout_url: None,
        scopes: vec!["openid".into()],
    };
    let api = Api::new(catalog.clone(), S3Presigner::new(client.clone(), BUCKET), config, sign_in);
    Stack { s3, dynamo: Some(dynamo), client, catalog, api, _dir: dir }
}

async fn stack() -> Stack {
    stack_with(RuntimeConfig::default(), true).await
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

/// The fixture signed in as `sub`.
fn as_user(fixture: &str, sub: &str) -> Value {
    let mut event: Value = serde_json::from_str(fixture).unwrap();
    event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!(sub);
    event["requestContext"]["authorizer"]["jwt"]["claims"]["username"] = json!(sub);
    event
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

    async fn post_as(&self, sub: &str, filename: &str, content_type: &str, size: usize) -> (i64, Value) {
        let mut event = as_user(POST_UPLOAD, sub);
        event["body"] =
            json!(json!({"filename": filename, "contentType": content_type, "size": size}).to_string());
        self.call(event).await
    }

    async fn ticket_as(&self, sub: &str, filename: &str, content_type: &str, size: usize) -> Value {
        let (status, body) = self.post_as(sub, filename, content_type, size).await;
        assert_eq!(status, 201, "{body}");
        body
    }

    async fn ticket(&self, filename: &str, content_type: &str, size: usize) -> Value {
        self.ticket_as(SUB, filename, content_type, size).await
    }

    async fn get_as(&self, sub: &str, path: &str, query: &[(&str, &str)]) -> (i64, Value) {
        let mut event = as_user(GET_IMAGE, sub);
        event["rawPath"] = json!(path);
        event["requestContext"]["http"]["path"] = json!(path);
        let params: serde_json::Map<String, Value> =
            query.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
        event["queryStringParameters"] = Value::Object(params);
        self.call(event).await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> (i64, Value) {
        self.get_as(SUB, path, query).await
    }

    /// `PATCH path` by `sub` with `body`, from the `PATCH /api/images/{id}` fixture.
    async fn patch_as(&self, sub: &str, path: &str, body: &Value) -> (i64, Value) {
        let mut event = as_user(PATCH_IMAGE, sub);
        event["rawPath"] = json!(path);
        event["requestContext"]["http"]["path"] = json!(path);
        event["pathParameters"]["id"] = json!(path.rsplit('/').next().unwrap());
        event["body"] = json!(body.to_string());
        self.call(event).await
    }

    async fn patch(&self, path: &str, body: &Value) -> (i64, Value) {
        self.patch_as(SUB, path, body).await
    }

    async fn keys(&self, prefix: &str) -> Vec<String> {
        let out = self.client.list_objects_v2().bucket(BUCKET).prefix(prefix).send().await.unwrap();
        out.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
    }

    async fn object(&self, key: &str) -> Vec<u8> {
        let out = self.client.get_object().bucket(BUCKET).key(key).send().await.unwrap();
        out.body.collect().await.unwrap().to_vec()
    }

    /// Records the thumbnail function's outcome in the table, as it would.
    async fn finish(&self, sub: &str, id: &str, outcome: Outcome) {
        let owner = Owner::new(sub).unwrap();
        let done = self.catalog.finish(&owner, id.parse().unwrap(), &outcome, 1_741_788_200_000).await;
        assert_eq!(done.unwrap(), Finish::Finished);
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

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn the_signed_put_stores_exactly_the_declared_upload_of_a_recorded_image() {
    let s = stack().await;
    let data = body(4096);
    let before = unix_seconds(SystemTime::now());
    let ticket = s.ticket("Sunset über Zürich (1).JPG", "image/jpeg", data.len()).await;
    let after = unix_seconds(SystemTime::now());
    let id = ticket["id"].as_str().unwrap();
    let key = ticket["key"].as_str().unwrap();
    assert_eq!(key, format!("raw/{id}.jpg"));
    let url = ticket["upload"]["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/{BUCKET}/{key}?", s.s3.endpoint())), "{url}");
    assert!(
        url.contains(
            "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match%3B\
             x-amz-meta-filename%3Bx-amz-meta-owner"
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
            "x-amz-meta-owner": SUB,
        })
    );
    // A browser sets Content-Length itself; every other header must pass the bucket's CORS rule.
    for name in ticket["upload"]["headers"].as_object().unwrap().keys() {
        if name != "content-length" {
            assert!(thumbforge_core::web::UPLOAD_CORS_ALLOWED_HEADERS.contains(&name.as_str()), "{name}");
        }
    }

    // Issued, not yet uploaded: already a pending image in the caller's partition of the table.
    let uuid: Uuid = id.parse().unwrap();
    let record = s.catalog.get(&Owner::new(SUB).unwrap(), uuid).await.unwrap().unwrap();
    assert_eq!(record.state, ImageState::Pending);
    assert_eq!(record.filename, "Sunset über Zürich (1).JPG");
    assert_eq!((record.content_type.as_str(), record.size), ("image/jpeg", 4096));
    let expires = record.expires_at_s.unwrap();
    assert!((before + 300 + 86_400..=after + 300 + 86_400).contains(&expires), "{expires}");
    assert_eq!(s.catalog.get(&Owner::new(OTHER).unwrap(), uuid).await.unwrap(), None);
    // The item as stored: its key and the table's TTL attribute.
    let item = s
        .catalog
        .client()
        .get_item()
        .table_name(TABLE)
        .key(schema::PK, AttributeValue::S(format!("USER#{SUB}")))
        .key(schema::SK, AttributeValue::S(format!("IMAGE#{id}")))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item[schema::STATUS], AttributeValue::S("pending".into()));
    assert_eq!(item[schema::TTL_ATTRIBUTE], AttributeValue::N(expires.to_string()));
    let status_url = ticket["statusUrl"].as_str().unwrap();
    let (status, image) = s.get(status_url, &[]).await;
    assert_eq!((status, image["status"].as_str()), (200, Some("pending")), "{image}");

    let (status, text) = Upload::from_ticket(&ticket, &data).send().await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(s.object(key).await, data);
    let head = s.client.head_object().bucket(BUCKET).key(key).send().await.unwrap();
    assert_eq!(head.content_type(), Some("image/jpeg"));
    let metadata = head.metadata().unwrap();
    assert_eq!(
        metadata.get("filename").map(String::as_str),
        Some("Sunset%20%C3%BCber%20Z%C3%BCrich%20%281%29.JPG")
    );
    assert_eq!(metadata.get(keys::OWNER_METADATA).map(String::as_str), Some(SUB));
    assert_eq!(s.keys("").await, [key]);
}

#[tokio::test]
async fn an_owner_that_is_not_a_uuid_is_signed_percent_encoded() {
    let s = stack().await;
    let data = body(64);
    let ticket = s.ticket_as(OTHER, "z.webp", "image/webp", data.len()).await;
    let encoded = "google-oauth2%7C104%20Zo%C3%AB";
    assert_eq!(ticket["upload"]["headers"]["x-amz-meta-owner"], encoded);
    let (status, text) = Upload::from_ticket(&ticket, &data).send().await;
    assert_eq!(status, 200, "{text}");
    let key = ticket["key"].as_str().unwrap();
    let head = s.client.head_object().bucket(BUCKET).key(key).send().await.unwrap();
    assert_eq!(head.metadata().unwrap().get("owner").map(String::as_str), Some(encoded));
    // Recorded under the `sub` as given.
    let id: Uuid = ticket["id"].as_str().unwrap().parse().unwrap();
    let record = s.catalog.get(&Owner::new(OTHER).unwrap(), id).await.unwrap().unwrap();
    assert_eq!(record.owner, OTHER);
    let (status, _) = s.get_as(OTHER, ticket["statusUrl"].as_str().unwrap(), &[]).await;
    assert_eq!(status, 200);
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
    let mut impostor = exact.clone();
    impostor.headers.insert("x-amz-meta-owner".into(), "b7e0c4a1-9d2f-4e63-8a15-3c6f9e2d7b40".into());
    attempts.push(("another owner", impostor));
    let mut ownerless = exact.clone();
    ownerless.headers.remove("x-amz-meta-owner");
    attempts.push(("no owner", ownerless));
    let mut extra = exact.clone();
    extra.headers.insert("x-amz-meta-owner".into(), format!("{SUB},{SUB}"));
    attempts.push(("an owner list", extra));
    let mut elsewhere = exact.clone();
    elsewhere.url = exact.url.replacen(&key, &other_key, 1);
    assert_ne!(elsewhere.url, exact.url);
    attempts.push(("another key", elsewhere));
    let mut thumbs = exact.clone();
    thumbs.url = exact.url.replacen(&key, "thumbs/x/256.jpg", 1);
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
    let s = stack_with(config, true).await;
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
    s.finish(SUB, &id, Outcome::Ready { source, renditions, placeholder: None }).await;
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
    s.finish(SUB, &other, outcome).await;
    let (status, image) = s.get(&format!("/api/images/{other}"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(image["status"], "rejected");
    assert_eq!(image["reason"], "corrupt");
    assert_eq!(image["message"], "truncated or corrupt data");
    assert_eq!((&image["source"], &image["thumbnails"]), (&Value::Null, &json!([])));

    // Unknown ids, malformed ids and another user's ids are all simply not there.
    let unknown = format!("/api/images/{}", uuid_like_other(&format!("raw/{id}.jpg")));
    let (_, not_found) = s.get(&unknown, &[]).await;
    for (sub, path) in [(SUB, unknown.clone()), (SUB, "/api/images/nope".into()), (OTHER, path.clone())] {
        let (status, error) = s.get_as(sub, &path, &[]).await;
        assert_eq!((status, error["error"]["code"].as_str()), (404, Some("image_not_found")), "{path}");
    }
    let (_, theirs) = s.get_as(OTHER, &unknown, &[]).await;
    assert_eq!(theirs, not_found);
}

#[tokio::test]
async fn listing_pages_newest_first_within_the_callers_partition() {
    let s = stack().await;
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..30 {
        let ticket = s.ticket(&format!("{i}.png"), "image/png", 10 + i).await;
        mine.push(ticket["id"].as_str().unwrap().to_owned());
        if i % 3 == 0 {
            let ticket = s.ticket_as(OTHER, "x.gif", "image/gif", 5).await;
            theirs.push(ticket["id"].as_str().unwrap().to_owned());
        }
    }
    s.finish(SUB, &mine[29], Outcome::Rejected { reason: RejectReason::Empty, message: "empty".into() })
        .await;

    let read_all = async |sub: &str, limit: &str| {
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("limit", limit)];
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor.as_str()));
            }
            let (status, page) = s.get_as(sub, "/api/images", &query).await;
            assert_eq!(status, 200, "{page}");
            let items = page["items"].as_array().unwrap();
            sizes.push(items.len());
            seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
            match page["next"].as_str() {
                Some(next) => {
                    assert_eq!(items.last().unwrap()["id"], next);
                    cursor = Some(next.to_owned());
                }
                None => return (seen, sizes),
            }
        }
    };
    let expected: Vec<String> = mine.iter().rev().cloned().collect();
    let (seen, sizes) = read_all(SUB, "12").await;
    assert_eq!(sizes, [12, 12, 6]);
    assert_eq!(seen, expected, "newest first, each once, none of the other user's");
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 30);
    assert_eq!(read_all(SUB, "10").await, (expected.clone(), vec![10, 10, 10]));
    let their_expected: Vec<String> = theirs.iter().rev().cloned().collect();
    assert_eq!(read_all(OTHER, "4").await, (their_expected.clone(), vec![4, 4, 2]));

    let (_, page) = s.get("/api/images", &[("limit", "1")]).await;
    assert_eq!(page["items"][0]["status"], "rejected");
    assert_eq!(page["items"][0]["reason"], "empty");
    assert_eq!(page["next"], mine[29]);

    let (_, page) = s.get("/api/images", &[]).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 24);

    // One of my ids as the other user's cursor: only their older images.
    let (status, page) = s.get_as(OTHER, "/api/images", &[("cursor", mine[15].as_str())]).await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> =
        page["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    let older: Vec<&str> =
        their_expected.iter().map(String::as_str).filter(|id| *id < mine[15].as_str()).collect();
    assert_eq!(ids, older);
    assert_eq!(older.len(), 5, "their images of rounds 0, 3, …, 12");

    for (name, value) in [("cursor", "garbage"), ("cursor", ""), ("limit", "0"), ("limit", "1000")] {
        let (status, error) = s.get("/api/images", &[(name, value)]).await;
        assert_eq!(status, 400, "{name}={value}: {error}");
        assert_eq!(error["error"]["code"], format!("invalid_{name}"));
    }
}

#[tokio::test]
async fn edits_round_trip_through_the_table_and_its_tag_index() {
    let s = stack().await;
    let mut ids = Vec::new();
    let mut their = String::new();
    for i in 0..5 {
        ids.push(s.ticket(&format!("{i}.jpg"), "image/jpeg", 10).await["id"].as_str().unwrap().to_owned());
        if i == 2 {
            // The other user's image, between my third and fourth in time.
            their = s.ticket_as(OTHER, "x.gif", "image/gif", 5).await["id"].as_str().unwrap().to_owned();
        }
    }
    let path = |id: &str| format!("/api/images/{id}");

    let (status, edited) = s
        .patch(
            &path(&ids[1]),
            &json!({"title": " Low tide ", "description": "Pier,\nwest side.", "tags": ["Sea", "New York"]}),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(
        (&edited["id"], &edited["filename"], &edited["status"]),
        (&json!(ids[1]), &json!("1.jpg"), &json!("pending"))
    );
    assert_eq!(
        (&edited["title"], &edited["description"], &edited["tags"]),
        (&json!("Low tide"), &json!("Pier,\nwest side."), &json!(["new-york", "sea"]))
    );
    let (status, shown) = s.get(&path(&ids[1]), &[]).await;
    assert_eq!((status, &shown), (200, &edited), "GET shows what PATCH answered");
    for (id, body) in [
        (&ids[3], json!({"tags": ["sea"]})),
        (&ids[4], json!({"tags": ["beach"]})),
        (&ids[0], json!({"tags": ["SEA", "beach"], "title": "First"})),
    ] {
        assert_eq!(s.patch(&path(id), &body).await.0, 200, "{body}");
    }
    let (status, theirs) = s.patch_as(OTHER, &path(&their), &json!({"tags": ["sea"]})).await;
    assert_eq!(status, 200, "{theirs}");

    let tagged = async |sub: &str, query: &[(&str, &str)]| {
        let (status, page) = s.get_as(sub, "/api/images", query).await;
        assert_eq!(status, 200, "{page}");
        let ids: Vec<String> =
            page["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect();
        (ids, page["next"].as_str().map(str::to_owned))
    };
    // Newest first, mine only, paged with a cursor.
    let first = tagged(SUB, &[("tag", "Sea"), ("limit", "2")]).await;
    assert_eq!(first, (vec![ids[3].clone(), ids[1].clone()], Some(ids[1].clone())));
    let rest = tagged(SUB, &[("tag", "sea"), ("limit", "2"), ("cursor", &ids[1])]).await;
    assert_eq!(rest, (vec![ids[0].clone()], None));
    assert_eq!(tagged(SUB, &[("tag", "beach")]).await, (vec![ids[4].clone(), ids[0].clone()], None));
    assert_eq!(tagged(SUB, &[("tag", "New York")]).await, (vec![ids[1].clone()], None));
    assert_eq!(tagged(OTHER, &[("tag", "sea")]).await, (vec![their.clone()], None));
    // My ids as their cursor only ever become a sort key in their partition.
    assert_eq!(tagged(OTHER, &[("tag", "sea"), ("cursor", &ids[4])]).await, (vec![their.clone()], None));
    assert_eq!(tagged(OTHER, &[("tag", "sea"), ("cursor", &ids[2])]).await, (vec![], None));
    // Clearing the tags takes the image out of the tag's listing (the index follows in step).
    let (status, cleared) = s.patch(&path(&ids[3]), &json!({"tags": []})).await;
    assert_eq!((status, &cleared["tags"]), (200, &json!([])), "{cleared}");
    assert_eq!(tagged(SUB, &[("tag", "sea")]).await, (vec![ids[1].clone(), ids[0].clone()], None));
    let (_, listed) = s.get("/api/images", &[("limit", "5")]).await;
    assert_eq!(listed["items"][3], shown, "the plain listing shows the same image");

    // Another user's id is not there; nothing of mine changes.
    let (status, error) = s.patch_as(OTHER, &path(&ids[1]), &json!({"title": "mine now"})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (404, Some("image_not_found")), "{error}");
    assert_eq!(s.get(&path(&ids[1]), &[]).await.1, shown);
    let (status, error) = s.patch(&path(&ids[1]), &json!({"tags": ["a#b", "x", "X"], "owner": OTHER})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("invalid_request")), "{error}");
    assert_eq!(
        error["error"]["message"],
        "unknown field `owner` (allowed: `title`, `description`, `tags`); \
         the tag \"a#b\" holds '#': tags are letters, digits, `-` and `_`; the tag \"x\" is given twice"
    );
    let (status, error) = s.get("/api/images", &[("tag", "a b!")]).await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("invalid_tag")), "{error}");

    // The fixture as API Gateway sends it, for an image of its id.
    let fixture_id: Uuid = "0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e".parse().unwrap();
    let image = thumbforge_catalog::NewImage {
        id: fixture_id,
        filename: "pier.jpg".into(),
        content_type: "image/jpeg".into(),
        size: 10,
        created_at_ms: 1_741_788_191_123,
        expires_at_s: 1_741_788_191 + 86_700,
    };
    s.catalog.create(&Owner::new(SUB).unwrap(), &image).await.unwrap();
    let (status, edited) = s.call(serde_json::from_str(PATCH_IMAGE).unwrap()).await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["tags"], json!(["low-tide", "sea", "sunset"]));
    assert_eq!(edited["title"], "Sunset over the bay");
    let record = s.catalog.get(&Owner::new(SUB).unwrap(), fixture_id).await.unwrap().unwrap();
    assert_eq!(record.details.description.as_deref(), Some("From the pier,\nat low tide."));
    assert_eq!(record.revision, 1);
}

#[tokio::test]
async fn a_missing_table_is_a_502_and_no_url_is_handed_out() {
    let s = stack_with(RuntimeConfig::default(), false).await;
    let (status, error) = s.post_as(SUB, "a.jpg", "image/jpeg", 10).await;
    assert_eq!((status, error["error"]["code"].as_str()), (502, Some("storage_error")), "{error}");
    assert!(!error.to_string().contains("X-Amz-Signature"), "{error}");
    let id = Uuid::now_v7().to_string();
    for (path, query) in [
        (format!("/api/images/{id}"), vec![]),
        ("/api/images".to_owned(), vec![("limit", "5")]),
        ("/api/images".to_owned(), vec![("tag", "sea")]),
    ] {
        let (status, error) = s.get(&path, &query).await;
        assert_eq!((status, error["error"]["code"].as_str()), (502, Some("storage_error")), "{error}");
        assert!(!error.to_string().contains(TABLE), "details stay in the log: {error}");
    }
    let (status, error) = s.patch(&format!("/api/images/{id}"), &json!({"title": "x"})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (502, Some("storage_error")), "{error}");
}

#[tokio::test]
async fn a_table_that_is_gone_is_a_503_and_no_url_is_handed_out() {
    let mut s = stack().await;
    let id = s.upload(&body(5)).await;
    s.dynamo.take().unwrap().shutdown().await;
    let (status, error) = s.post_as(SUB, "a.jpg", "image/jpeg", 10).await;
    assert_eq!((status, error["error"]["code"].as_str()), (503, Some("storage_unavailable")), "{error}");
    assert!(!error.to_string().contains("X-Amz-Signature"), "{error}");
    for path in [format!("/api/images/{id}"), "/api/images".to_owned()] {
        let (status, error) = s.get(&path, &[]).await;
        assert_eq!((status, error["error"]["code"].as_str()), (503, Some("storage_unavailable")), "{error}");
    }
    let (status, error) = s.patch(&format!("/api/images/{id}"), &json!({"tags": ["sea"]})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (503, Some("storage_unavailable")), "{error}");
    // The public configuration needs no table.
    let mut config = as_user(GET_IMAGE, SUB);
    config["rawPath"] = json!("/api/config");
    config["requestContext"]["http"]["path"] = json!("/api/config");
    config["requestContext"].as_object_mut().unwrap().remove("authorizer");
    assert_eq!(s.call(config).await.0, 200);
}
