//! The server over real HTTP: aws-sdk-s3 for the API, a bare hyper client for presigned URLs.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tempfile::TempDir;
use thumbforge_s3_local::{CorsRule, EventName, Fault, LocalS3, ObjectCreated, Operation, Options, REGION};
use tokio::net::TcpStream;
use tokio::sync::broadcast;

const BUCKET: &str = "uploads";

async fn start() -> (TempDir, LocalS3) {
    let dir = tempfile::tempdir().unwrap();
    let s3 = LocalS3::start(Options::new(dir.path()).bucket(BUCKET).bucket("thumbs")).await.unwrap();
    (dir, s3)
}

/// A client that retries quickly, so retry tests stay fast.
fn fast_retry_client(s3: &LocalS3) -> aws_sdk_s3::Client {
    let retry = RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(5));
    aws_sdk_s3::Client::from_conf(s3.client_config().retry_config(retry).build())
}

fn no_retry_client(s3: &LocalS3) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3.client_config().retry_config(RetryConfig::disabled()).build())
}

async fn get_bytes(client: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    let out = client.get_object().bucket(BUCKET).key(key).send().await.unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

async fn exists(client: &aws_sdk_s3::Client, key: &str) -> bool {
    match client.head_object().bucket(BUCKET).key(key).send().await {
        Ok(_) => true,
        Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => false,
        Err(e) => panic!("HeadObject {key}: {e:?}"),
    }
}

async fn next_event(rx: &mut broadcast::Receiver<ObjectCreated>) -> ObjectCreated {
    tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("an event within 5 s").unwrap()
}

#[tokio::test]
async fn put_get_head_list_delete_round_trip() {
    let (_dir, s3) = start().await;
    let client = s3.client();
    assert_eq!(s3.region(), REGION);
    assert!(s3.endpoint().starts_with("http://127.0.0.1:"), "{}", s3.endpoint());

    let body = b"\xff\xd8\xff not really a jpeg".to_vec();
    let cache = "public, max-age=31536000, immutable";
    let put = client
        .put_object()
        .bucket(BUCKET)
        .key("photos/2024/cat.jpg")
        .body(ByteStream::from(body.clone()))
        .content_type("image/jpeg")
        .cache_control(cache)
        .metadata("upload-id", "0193-abc")
        .metadata("owner", "Zoë")
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().to_owned();

    let got = client.get_object().bucket(BUCKET).key("photos/2024/cat.jpg").send().await.unwrap();
    assert_eq!(got.content_type(), Some("image/jpeg"));
    assert_eq!(got.cache_control(), Some(cache));
    assert_eq!(got.e_tag(), Some(etag.as_str()));
    let meta = got.metadata().unwrap();
    assert_eq!(meta.get("upload-id").map(String::as_str), Some("0193-abc"));
    // Non-ASCII metadata comes back RFC 2047-encoded, as S3 does it.
    assert_eq!(meta.get("owner").map(String::as_str), Some("=?UTF-8?B?Wm/Dqw==?="));
    assert_eq!(meta.len(), 2);
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), body.as_slice());

    let head = client.head_object().bucket(BUCKET).key("photos/2024/cat.jpg").send().await.unwrap();
    assert_eq!(head.content_type(), Some("image/jpeg"));
    assert_eq!(head.cache_control(), Some(cache));
    assert_eq!(head.content_length(), Some(i64::try_from(body.len()).unwrap()));
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!(head.metadata().unwrap().get("upload-id").map(String::as_str), Some("0193-abc"));

    // Without `.content_type(..)` the SDK sends application/octet-stream, kept as is. (With no
    // Content-Type header at all the server answers binary/octet-stream: see the presigned test.)
    client
        .put_object()
        .bucket(BUCKET)
        .key("photos/2024/raw")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let head = client.head_object().bucket(BUCKET).key("photos/2024/raw").send().await.unwrap();
    assert_eq!(head.content_type(), Some("application/octet-stream"));

    client
        .put_object()
        .bucket(BUCKET)
        .key("other/dog.png")
        .body(ByteStream::from_static(b"png"))
        .send()
        .await
        .unwrap();
    let listed = client.list_objects_v2().bucket(BUCKET).prefix("photos/").send().await.unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["photos/2024/cat.jpg", "photos/2024/raw"]);

    client.delete_object().bucket(BUCKET).key("photos/2024/cat.jpg").send().await.unwrap();
    let err = client.get_object().bucket(BUCKET).key("photos/2024/cat.jpg").send().await.unwrap_err();
    assert!(err.as_service_error().unwrap().is_no_such_key(), "{err:?}");
    assert!(!exists(&client, "photos/2024/cat.jpg").await);
    assert!(exists(&client, "other/dog.png").await);

    s3.shutdown().await;
}

#[tokio::test]
async fn wrong_secret_is_refused() {
    let (_dir, s3) = start().await;
    let creds = Credentials::new(s3.access_key(), "not-the-secret", None, None, "test");
    let client = aws_sdk_s3::Client::from_conf(s3.client_config().credentials_provider(creds).build());
    let err = client
        .put_object()
        .bucket(BUCKET)
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403), "{err:?}");
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"), "{err:?}");

    let creds = Credentials::new("someone-else", s3.secret_key(), None, None, "test");
    let client = aws_sdk_s3::Client::from_conf(s3.client_config().credentials_provider(creds).build());
    let err = client.get_object().bucket(BUCKET).key("k").send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403), "{err:?}");

    // Refused before reaching the store: neither counted nor stored.
    assert_eq!(s3.calls(Operation::PutObject), 0);
    assert_eq!(s3.calls(Operation::GetObject), 0);
    assert!(!exists(&s3.client(), "k").await);
}

/// PUTs `body` to a presigned URL the way a browser would: the URL's path and query, its
/// signed headers (optionally overridden), and an honest Content-Length.
async fn send_presigned(
    addr: SocketAddr,
    path_and_query: &str,
    headers: &[(String, String)],
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let mut req =
        hyper::Request::builder().method("PUT").uri(path_and_query).header("host", addr.to_string());
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("content-type") {
            req = req.header(name, value);
        }
    }
    if let Some(content_type) = content_type {
        req = req.header("content-type", content_type);
    }
    let req = req.header("content-length", body.len()).body(Full::new(Bytes::copy_from_slice(body))).unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let text = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&text).into_owned())
}

struct Presigned {
    path_and_query: String,
    headers: Vec<(String, String)>,
}

async fn presign_put(
    client: &aws_sdk_s3::Client,
    key: &str,
    content_type: Option<&str>,
    len: usize,
    config: PresigningConfig,
) -> Presigned {
    let req = client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .set_content_type(content_type.map(str::to_owned))
        .content_length(i64::try_from(len).unwrap())
        .presigned(config)
        .await
        .unwrap();
    assert_eq!(req.method(), "PUT");
    let uri: hyper::Uri = req.uri().parse().unwrap();
    let query = uri.query().unwrap();
    // Length and type are signed, so S3 (and this server) enforce them.
    let signed =
        if content_type.is_some() { "content-length%3Bcontent-type%3Bhost" } else { "content-length%3Bhost" };
    assert!(query.contains(signed), "{query}");
    Presigned {
        path_and_query: uri.path_and_query().unwrap().to_string(),
        headers: req.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
    }
}

/// One presigned upload attempt: signs a PUT of `signed_key` with `signed_type` and the length of
/// `signed_body`, then sends `sent_body` with `sent_type` to that URL, its path changed to
/// `sent_key`.
struct Attempt<'a> {
    signed_key: &'a str,
    sent_key: &'a str,
    signed_type: Option<&'a str>,
    sent_type: Option<&'a str>,
    signed_body: &'a [u8],
    sent_body: &'a [u8],
}

impl Attempt<'_> {
    async fn run(&self, s3: &LocalS3, config: PresigningConfig) -> (u16, String) {
        let p = presign_put(&s3.client(), self.signed_key, self.signed_type, self.signed_body.len(), config)
            .await;
        let from = format!("/{BUCKET}/{}?", self.signed_key);
        assert!(p.path_and_query.starts_with(&from), "{}", p.path_and_query);
        let path_and_query = p.path_and_query.replacen(&from, &format!("/{BUCKET}/{}?", self.sent_key), 1);
        send_presigned(s3.local_addr(), &path_and_query, &p.headers, self.sent_type, self.sent_body).await
    }
}

#[tokio::test]
async fn presigned_put_enforces_signed_key_length_type_and_expiry() {
    let (_dir, s3) = start().await;
    let client = s3.client();
    let mut events = s3.subscribe();
    let body = b"0123456789abcdef-a-small-jpeg".as_slice();
    let minute = || PresigningConfig::expires_in(Duration::from_secs(60)).unwrap();
    let exact = |key| Attempt {
        signed_key: key,
        sent_key: key,
        signed_type: Some("image/jpeg"),
        sent_type: Some("image/jpeg"),
        signed_body: body,
        sent_body: body,
    };

    // The exact body and type: stored, with that type.
    let (status, text) = exact("in/ok.jpg").run(&s3, minute()).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(get_bytes(&client, "in/ok.jpg").await, body);
    let head = client.head_object().bucket(BUCKET).key("in/ok.jpg").send().await.unwrap();
    assert_eq!(head.content_type(), Some("image/jpeg"));
    let event = next_event(&mut events).await;
    assert_eq!((event.key.as_str(), event.size), ("in/ok.jpg", body.len() as u64));

    // Signed and sent without a type: stored as binary/octet-stream, as S3 does.
    let untyped = Attempt { signed_type: None, sent_type: None, ..exact("in/untyped") };
    let (status, text) = untyped.run(&s3, minute()).await;
    assert_eq!(status, 200, "{text}");
    let head = client.head_object().bucket(BUCKET).key("in/untyped").send().await.unwrap();
    assert_eq!(head.content_type(), Some("binary/octet-stream"));
    assert_eq!(next_event(&mut events).await.key, "in/untyped");

    let longer = [body, b"!"].concat();
    let refused = [
        Attempt { sent_body: &longer, ..exact("in/long.jpg") },
        Attempt { sent_body: &body[..body.len() - 1], ..exact("in/short.jpg") },
        Attempt { sent_type: Some("text/html"), ..exact("in/type.jpg") },
        Attempt { sent_type: None, ..exact("in/notype.jpg") },
        Attempt { sent_key: "in/theirs.jpg", ..exact("in/mine.jpg") },
    ];
    for attempt in &refused {
        let (status, text) = attempt.run(&s3, minute()).await;
        assert_eq!(status, 403, "{}: {text}", attempt.signed_key);
        assert!(text.contains("<Code>SignatureDoesNotMatch</Code>"), "{text}");
    }

    // Expired: signed an hour ago for one minute.
    let expired = PresigningConfig::builder()
        .start_time(SystemTime::now() - Duration::from_secs(3600))
        .expires_in(Duration::from_secs(60))
        .build()
        .unwrap();
    let (status, text) = exact("in/late.jpg").run(&s3, expired).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("<Code>AccessDenied</Code><Message>Request has expired"), "{text}");

    let stored_nothing = refused.iter().flat_map(|a| [a.signed_key, a.sent_key]);
    for key in stored_nothing.chain(["in/late.jpg"]) {
        assert!(!exists(&client, key).await, "{key} must not be stored");
    }
    // Only the good uploads reached the store and produced events.
    assert_eq!(s3.calls(Operation::PutObject), 2);
    assert!(matches!(events.try_recv(), Err(broadcast::error::TryRecvError::Empty)));
}

#[tokio::test]
async fn if_none_match_star_refuses_to_overwrite() {
    let (_dir, s3) = start().await;
    let client = s3.client();
    let put = |body: &'static [u8]| {
        client
            .put_object()
            .bucket(BUCKET)
            .key("manifests/m.json")
            .if_none_match("*")
            .body(ByteStream::from_static(body))
            .send()
    };
    put(b"first").await.unwrap();
    let err = put(b"second").await.unwrap_err();
    // The SDK has no modeled error for it: it surfaces as a service error whose code is
    // `PreconditionFailed` (`PutObjectError::Unhandled`), on an HTTP 412 response.
    let service = err.as_service_error().expect("a service error");
    assert_eq!(service.code(), Some("PreconditionFailed"), "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(412));
    assert_eq!(get_bytes(&client, "manifests/m.json").await, b"first");

    // Many racing conditional creates of one new key: exactly one wins.
    let attempts: Vec<_> = (0..8)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .put_object()
                    .bucket(BUCKET)
                    .key("race/one")
                    .if_none_match("*")
                    .body(ByteStream::from(vec![b'a' + i; 64 * 1024]))
                    .send()
                    .await
            })
        })
        .collect();
    let mut won = Vec::new();
    for (i, task) in attempts.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(_) => won.push(i),
            Err(e) => assert_eq!(e.code(), Some("PreconditionFailed"), "{e:?}"),
        }
    }
    assert_eq!(won.len(), 1, "winners: {won:?}");
    let stored = get_bytes(&client, "race/one").await;
    assert_eq!(stored, vec![b'a' + u8::try_from(won[0]).unwrap(); 64 * 1024]);
}

#[tokio::test]
async fn injected_faults_and_call_counters() {
    let (_dir, s3) = start().await;
    let client = fast_retry_client(&s3);
    client.put_object().bucket(BUCKET).key("a").body(ByteStream::from_static(b"hello")).send().await.unwrap();
    assert_eq!(s3.calls(Operation::PutObject), 1);
    assert_eq!(s3.calls(Operation::GetObject), 0, "no GetObject was made");

    // A transient 503: the SDK retries and succeeds on the second call.
    let faults = s3.faults();
    faults.fail_next(Operation::GetObject, 1, 503);
    assert_eq!(get_bytes(&client, "a").await, b"hello");
    assert_eq!(s3.calls(Operation::GetObject), 2);
    assert_eq!(faults.pending(Operation::GetObject), 0);

    // Without retries the fault is what the caller sees, then the next call works.
    let plain = no_retry_client(&s3);
    faults.fail_next(Operation::GetObject, 1, 500);
    let err = plain.get_object().bucket(BUCKET).key("a").send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    assert_eq!(err.code(), Some("InternalError"));
    faults.fail_next(Operation::GetObject, 1, Fault::new(503, "ServiceUnavailable"));
    let err = plain.get_object().bucket(BUCKET).key("a").send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    assert_eq!(err.code(), Some("ServiceUnavailable"));
    assert_eq!(get_bytes(&plain, "a").await, b"hello");

    // Passes queue with faults: the first call goes through, the second fails.
    faults.pass_next(Operation::GetObject, 1);
    faults.fail_next(Operation::GetObject, 1, 500);
    assert_eq!(faults.pending(Operation::GetObject), 1, "only faults are pending");
    assert_eq!(get_bytes(&plain, "a").await, b"hello");
    let err = plain.get_object().bucket(BUCKET).key("a").send().await.unwrap_err();
    assert_eq!(err.code(), Some("InternalError"));
    assert_eq!(get_bytes(&plain, "a").await, b"hello");

    // More faults than retries: the error reaches the caller after 3 attempts.
    faults.fail_next(Operation::HeadObject, 5, 503);
    let err = client.head_object().bucket(BUCKET).key("a").send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    assert_eq!(s3.calls(Operation::HeadObject), 3);
    assert_eq!(faults.pending(Operation::HeadObject), 2);
    faults.clear();
    assert!(exists(&client, "a").await);

    // A failed PutObject stores nothing, and the retried upload (body re-sent) lands intact.
    let mut events = s3.subscribe();
    faults.fail_next(Operation::PutObject, 1, Fault::slow_down());
    client
        .put_object()
        .bucket(BUCKET)
        .key("b")
        .body(ByteStream::from(vec![7u8; 100_000]))
        .send()
        .await
        .unwrap();
    assert_eq!(s3.calls(Operation::PutObject), 3);
    assert_eq!(get_bytes(&client, "b").await, vec![7u8; 100_000]);
    assert_eq!(next_event(&mut events).await.key, "b");
    assert!(events.try_recv().is_err(), "one event per stored object");

    faults.reset_calls();
    assert_eq!(s3.calls(Operation::GetObject), 0);
}

#[tokio::test]
async fn object_created_events() {
    let (_dir, s3) = start().await;
    let client = s3.client();
    let mut events = s3.subscribe();

    let key = "raw key/with spaces+plus&é.jpg";
    let put = client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from_static(b"12345"))
        .send()
        .await
        .unwrap();
    let put_event = next_event(&mut events).await;
    assert_eq!(put_event.bucket, BUCKET);
    assert_eq!(put_event.key, key);
    assert_eq!(put_event.size, 5);
    assert_eq!(put_event.etag, put.e_tag().unwrap().trim_matches('"'));
    assert_eq!(put_event.etag, "827ccb0eea8a706c4c34a16891f84e7b"); // md5("12345")
    assert_eq!(put_event.event_name, EventName::Put);
    assert_eq!(put_event.event_name.as_str(), "ObjectCreated:Put");
    assert_eq!(put_event.sequencer.len(), 16);
    assert!(put_event.sequencer.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
    assert!(put_event.time <= SystemTime::now());

    client
        .copy_object()
        .copy_source(format!("{BUCKET}/raw%20key/with%20spaces%2Bplus%26%C3%A9.jpg"))
        .bucket("thumbs")
        .key("copied.jpg")
        .send()
        .await
        .unwrap();
    let copy_event = next_event(&mut events).await;
    assert_eq!(
        (copy_event.bucket.as_str(), copy_event.key.as_str(), copy_event.size),
        ("thumbs", "copied.jpg", 5)
    );
    assert_eq!(copy_event.event_name, EventName::Copy);
    assert_eq!(copy_event.etag, put_event.etag);
    assert!(copy_event.sequencer > put_event.sequencer);

    let upload = client
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("big.bin")
        .content_type("application/x-test")
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap();
    let part = client
        .upload_part()
        .bucket(BUCKET)
        .key("big.bin")
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from(vec![1u8; 1000]))
        .send()
        .await
        .unwrap();
    assert!(events.try_recv().is_err(), "no event before completion");
    client
        .complete_multipart_upload()
        .bucket(BUCKET)
        .key("big.bin")
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mpu_event = next_event(&mut events).await;
    assert_eq!((mpu_event.key.as_str(), mpu_event.size), ("big.bin", 1000));
    assert_eq!(mpu_event.event_name.as_str(), "ObjectCreated:CompleteMultipartUpload");
    assert!(mpu_event.etag.ends_with("-1"), "{}", mpu_event.etag);
    assert!(mpu_event.sequencer > copy_event.sequencer);
    let head = client.head_object().bucket(BUCKET).key("big.bin").send().await.unwrap();
    assert_eq!(head.content_type(), Some("application/x-test"));

    // Failed writes produce nothing.
    let _ = client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .if_none_match("*")
        .body(ByteStream::from_static(b"again"))
        .send()
        .await
        .unwrap_err();
    assert!(events.try_recv().is_err());
}

#[tokio::test]
async fn lagging_subscriber_is_told_how_many_it_missed() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = LocalS3::start(Options::new(dir.path()).bucket(BUCKET).event_capacity(2)).await.unwrap();
    let client = s3.client();
    let mut events = s3.subscribe();
    for i in 0..5 {
        client
            .put_object()
            .bucket(BUCKET)
            .key(format!("k{i}"))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    assert!(matches!(events.recv().await, Err(broadcast::error::RecvError::Lagged(3))));
    assert_eq!(events.recv().await.unwrap().key, "k3");
    assert_eq!(events.recv().await.unwrap().key, "k4");
}

#[tokio::test]
async fn data_survives_restart_and_shutdown_closes_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = LocalS3::start(Options::new(dir.path().join("data")).bucket(BUCKET)).await.unwrap();
    s3.client()
        .put_object()
        .bucket(BUCKET)
        .key("keep/me")
        .content_type("text/plain")
        .body(ByteStream::from_static(b"kept"))
        .send()
        .await
        .unwrap();
    let addr = s3.local_addr();
    s3.shutdown().await;
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed");

    let s3 = LocalS3::start(
        Options::new(dir.path().join("data")).bucket(BUCKET).credentials("other-key", "other-secret"),
    )
    .await
    .unwrap();
    assert_eq!(s3.access_key(), "other-key");
    let client = s3.client();
    assert_eq!(get_bytes(&client, "keep/me").await, b"kept");
    let buckets = client.list_buckets().send().await.unwrap();
    let names: Vec<_> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, [BUCKET]);
    drop(s3);
}

#[tokio::test]
async fn invalid_bucket_names_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let err = LocalS3::start(Options::new(dir.path()).bucket("Not_A_Bucket")).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn overlong_keys_are_refused_cleanly() {
    let (_dir, s3) = start().await;
    let client = no_retry_client(&s3);
    let longest = "k".repeat(161);
    client
        .put_object()
        .bucket(BUCKET)
        .key(&longest)
        .content_type("text/plain")
        .body(ByteStream::from_static(b"fits"))
        .send()
        .await
        .unwrap();
    let head = client.head_object().bucket(BUCKET).key(&longest).send().await.unwrap();
    assert_eq!(head.content_type(), Some("text/plain"));

    let err = client
        .put_object()
        .bucket(BUCKET)
        .key("k".repeat(162))
        .body(ByteStream::from_static(b"too long"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    assert_eq!(err.code(), Some("KeyTooLongError"));
    let err = client.create_multipart_upload().bucket(BUCKET).key("m".repeat(150)).send().await.unwrap_err();
    assert_eq!(err.code(), Some("KeyTooLongError"));

    let listed = client.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, [longest.as_str()], "nothing else stored");
}

/// Sends a bare request with `headers` and returns the status and the response headers.
async fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, hyper::HeaderMap) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder().method(method).uri(path).header("host", addr.to_string());
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = sender.send_request(req.body(Full::new(Bytes::new())).unwrap()).await.unwrap();
    (resp.status().as_u16(), resp.headers().clone())
}

#[tokio::test]
async fn cors_rules_answer_preflights_and_mark_allowed_answers() {
    let dir = tempfile::tempdir().unwrap();
    let page = "http://127.0.0.1:8080";
    let rule = CorsRule {
        allowed_origins: vec![page.into()],
        allowed_methods: vec!["PUT".into()],
        allowed_headers: vec!["content-type".into(), "if-none-match".into()],
        expose_headers: vec!["ETag".into()],
        max_age: Duration::from_secs(600),
    };
    let s3 = LocalS3::start(Options::new(dir.path()).bucket(BUCKET).cors(rule)).await.unwrap();
    let addr = s3.local_addr();
    let path = format!("/{BUCKET}/raw/a.jpg");

    let preflight = |origin, method, headers| {
        let path = path.clone();
        async move {
            raw_request(
                addr,
                "OPTIONS",
                &path,
                &[
                    ("origin", origin),
                    ("access-control-request-method", method),
                    ("access-control-request-headers", headers),
                ],
            )
            .await
        }
    };
    let (status, headers) = preflight(page, "PUT", "Content-Type, if-none-match").await;
    assert_eq!(status, 200);
    assert_eq!(headers["access-control-allow-origin"], page);
    assert_eq!(headers["access-control-allow-methods"], "PUT");
    assert_eq!(headers["access-control-allow-headers"], "content-type, if-none-match");
    assert_eq!(headers["access-control-max-age"], "600");

    // Another origin, another method or a header outside the rule: refused, as S3 does.
    for (origin, method, asked) in [
        ("http://evil.example", "PUT", "content-type"),
        (page, "DELETE", "content-type"),
        (page, "PUT", "content-type, x-amz-acl"),
    ] {
        let (status, headers) = preflight(origin, method, asked).await;
        assert_eq!(status, 403, "{origin} {method} {asked}");
        assert!(headers.get("access-control-allow-origin").is_none());
    }

    // A real request from the page carries the CORS headers (even an S3 error does); one from
    // elsewhere or without an Origin does not.
    let (status, headers) = raw_request(addr, "PUT", &path, &[("origin", page)]).await;
    assert_eq!(status, 403, "unsigned");
    assert_eq!(headers["access-control-allow-origin"], page);
    assert_eq!(headers["access-control-expose-headers"], "ETag");
    let (_, headers) = raw_request(addr, "PUT", &path, &[("origin", "http://evil.example")]).await;
    assert!(headers.get("access-control-allow-origin").is_none());
    let (_, headers) = raw_request(addr, "PUT", &path, &[]).await;
    assert!(headers.get("access-control-allow-origin").is_none());
    s3.shutdown().await;
}
