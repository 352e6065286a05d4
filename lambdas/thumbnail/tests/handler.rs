//! The handler against a real S3-compatible server (SigV4 on) over HTTP, through aws-sdk-s3.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is a failed test with its message")]

use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use serde_json::{Value, json};
use thumbforge_core::{Manifest, Outcome, OutputFormat, RejectReason, RuntimeConfig};
use thumbforge_s3_local::{LocalS3, Operation, Options};
use thumbnail::handler::{Handler, RecordOutcome};
use thumbnail::store::S3Store;

const BUCKET: &str = "media";
const PHOTO: &[u8] = include_bytes!("../../../fixtures/photos/orient_6.jpg");
const AWS_PUT: &str = include_str!("events/aws_put.json");

struct Stack {
    s3: LocalS3,
    client: aws_sdk_s3::Client,
    handler: Handler<S3Store>,
    _dir: tempfile::TempDir,
}

async fn stack() -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let s3 = LocalS3::start(Options::new(dir.path()).bucket(BUCKET)).await.unwrap();
    let retry = RetryConfig::standard().with_max_attempts(2).with_initial_backoff(Duration::from_millis(5));
    let client = aws_sdk_s3::Client::from_conf(s3.client_config().retry_config(retry).build());
    let handler = Handler::new(S3Store::new(client.clone(), BUCKET), BUCKET, RuntimeConfig::default());
    Stack { s3, client, handler, _dir: dir }
}

impl Stack {
    async fn upload(&self, key: &str, body: &[u8]) {
        self.client.put_object().bucket(BUCKET).key(key).body(body.to_vec().into()).send().await.unwrap();
    }

    async fn object(&self, key: &str) -> Option<(Vec<u8>, String, String)> {
        let out = self.client.get_object().bucket(BUCKET).key(key).send().await.ok()?;
        let content_type = out.content_type().unwrap_or_default().to_owned();
        let cache_control = out.cache_control().unwrap_or_default().to_owned();
        Some((out.body.collect().await.unwrap().to_vec(), content_type, cache_control))
    }

    async fn manifest(&self, id: &str) -> Option<Manifest> {
        let (body, content_type, _) = self.object(&format!("thumbs/{id}/manifest.json")).await?;
        assert_eq!(content_type, "application/json");
        Some(serde_json::from_slice(&body).unwrap())
    }

    async fn keys(&self, prefix: &str) -> Vec<String> {
        let out = self.client.list_objects_v2().bucket(BUCKET).prefix(prefix).send().await.unwrap();
        let mut keys: Vec<String> =
            out.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
        keys.sort();
        keys
    }
}

/// The AWS fixture with its bucket, key (already encoded as S3 encodes it), size and event name
/// replaced.
fn event(bucket: &str, encoded_key: &str, size: u64, name: &str) -> Value {
    let mut event: Value = serde_json::from_str(AWS_PUT).unwrap();
    let record = &mut event["Records"][0];
    record["eventName"] = json!(name);
    record["s3"]["bucket"]["name"] = json!(bucket);
    record["s3"]["bucket"]["arn"] = json!(format!("arn:aws:s3:::{bucket}"));
    record["s3"]["object"]["key"] = json!(encoded_key);
    record["s3"]["object"]["size"] = json!(size);
    event
}

fn put(key: &str, size: usize) -> Value {
    event(BUCKET, key, size as u64, "ObjectCreated:Put")
}

#[tokio::test]
async fn an_upload_becomes_renditions_then_a_manifest() {
    let stack = stack().await;
    let id = "0192f0c4-7d1e-7c3a-9b1e-6f4d2c1a0b9e";
    stack.upload(&format!("raw/{id}.jpg"), PHOTO).await;
    let mut created = stack.s3.subscribe();

    let summary = stack.handler.handle(&put(&format!("raw/{id}.jpg"), PHOTO.len())).await.unwrap();
    assert_eq!(summary.records, [RecordOutcome::Ready { id: id.into() }]);

    let manifest = stack.manifest(id).await.unwrap();
    assert_eq!(manifest.raw_key, format!("raw/{id}.jpg"));
    let Outcome::Ready { source, renditions } = manifest.outcome else { panic!("{manifest:?}") };
    assert_eq!((source.width, source.height, source.bytes), (1800, 1200, PHOTO.len() as u64));
    let expected = [
        (1024, 1024, 683, OutputFormat::Jpeg),
        (1024, 1024, 683, OutputFormat::Webp),
        (256, 256, 171, OutputFormat::Jpeg),
        (256, 256, 171, OutputFormat::Webp),
    ];
    assert_eq!(
        renditions.iter().map(|r| (r.size, r.width, r.height, r.format)).collect::<Vec<_>>(),
        expected
    );
    for r in &renditions {
        assert_eq!(r.key, format!("thumbs/{id}/{}.{}", r.size, r.format.extension()));
        let (body, content_type, cache_control) = stack.object(&r.key).await.unwrap();
        assert_eq!(body.len() as u64, r.bytes);
        assert_eq!(content_type, r.format.content_type());
        assert_eq!(cache_control, "public, max-age=31536000, immutable");
    }

    // The manifest is the last object written.
    let mut order = Vec::new();
    while let Ok(event) = created.try_recv() {
        order.push(event.key);
    }
    assert_eq!(order.len(), 5, "{order:?}");
    assert_eq!(order.last().map(String::as_str), Some(format!("thumbs/{id}/manifest.json").as_str()));
}

#[tokio::test]
async fn duplicate_deliveries_change_nothing() {
    let stack = stack().await;
    stack.upload("raw/dup.jpg", PHOTO).await;
    let event = put("raw/dup.jpg", PHOTO.len());

    // Two concurrent deliveries, then a late third one.
    let (a, b) = tokio::join!(stack.handler.handle(&event), stack.handler.handle(&event));
    let outcomes = [a.unwrap().records, b.unwrap().records].concat();
    assert!(outcomes.contains(&RecordOutcome::Ready { id: "dup".into() }), "{outcomes:?}");
    let before: Vec<_> = {
        let mut all = Vec::new();
        for key in stack.keys("thumbs/dup/").await {
            all.push((key.clone(), stack.object(&key).await.unwrap().0));
        }
        all
    };
    assert_eq!(before.len(), 5);

    stack.s3.faults().reset_calls();
    let again = stack.handler.handle(&event).await.unwrap();
    assert_eq!(again.records, [RecordOutcome::AlreadyDone { id: "dup".into() }]);
    assert_eq!(stack.s3.calls(Operation::GetObject), 0);
    assert_eq!(stack.s3.calls(Operation::PutObject), 0);
    for (key, body) in before {
        assert_eq!(stack.object(&key).await.unwrap().0, body, "{key} changed");
    }
}

#[tokio::test]
async fn keys_with_spaces_plus_signs_and_unicode() {
    let stack = stack().await;
    let key = "raw/sun flower +1 100% üñî 東京 😀.jpg";
    stack.upload(key, PHOTO).await;
    // As S3 writes it in the event: form-encoded.
    let encoded = "raw/sun+flower+%2B1+100%25+%C3%BC%C3%B1%C3%AE+%E6%9D%B1%E4%BA%AC+%F0%9F%98%80.jpg";
    let summary = stack.handler.handle(&put(encoded, PHOTO.len())).await.unwrap();
    let id = "sun flower +1 100% üñî 東京 😀";
    assert_eq!(summary.records, [RecordOutcome::Ready { id: id.into() }]);
    assert!(stack.manifest(id).await.is_some());
    assert!(stack.object(&format!("thumbs/{id}/256.jpg")).await.is_some());
}

#[tokio::test]
async fn events_that_are_not_ours_are_ignored_without_touching_s3() {
    let stack = stack().await;
    stack.upload("thumbs/x/256.jpg", PHOTO).await;
    stack.upload("rawfoo/a.jpg", PHOTO).await;
    stack.s3.faults().reset_calls();
    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-22T05:00:00.000Z", "Bucket": BUCKET, "RequestId": "X", "HostId": "Y"});
    for event in [
        put("thumbs/x/256.jpg", 10),
        put("thumbs/x/manifest.json", 10),
        put("rawfoo/a.jpg", 10),
        put("RAW/a.jpg", 10),
        put("raw", 10),
        put("raw/", 10),
        put("raw/a/b.jpg", 10),
        event("another-bucket", "raw/a.jpg", 10, "ObjectCreated:Put"),
        event(BUCKET, "raw/a.jpg", 10, "ObjectRemoved:Delete"),
        test_event,
        json!({"Records": []}),
        json!({"hello": "world"}),
    ] {
        let summary = stack.handler.handle(&event).await.unwrap();
        assert!(
            summary.records.iter().all(|r| matches!(r, RecordOutcome::Ignored { .. })),
            "{event}: {summary:?}"
        );
    }
    for op in [Operation::GetObject, Operation::PutObject, Operation::HeadObject] {
        assert_eq!(stack.s3.calls(op), 0, "{op:?}");
    }
}

#[tokio::test]
async fn a_deleted_object_is_logged_and_skipped() {
    let stack = stack().await;
    let summary = stack.handler.handle(&put("raw/gone.jpg", 1234)).await.unwrap();
    assert_eq!(summary.records, [RecordOutcome::Gone { key: "raw/gone.jpg".into() }]);
    assert!(stack.keys("thumbs/").await.is_empty());
}

#[tokio::test]
async fn hostile_files_get_a_rejected_manifest_and_nothing_else() {
    let stack = stack().await;
    let text = b"this is not a picture, whatever its name says";
    stack.upload("raw/text.jpg", text).await;
    let truncated = &PHOTO[..PHOTO.len() / 2];
    stack.upload("raw/half.jpg", truncated).await;

    let summary = stack.handler.handle(&put("raw/text.jpg", text.len())).await.unwrap();
    assert_eq!(
        summary.records,
        [RecordOutcome::Rejected { id: "text".into(), reason: RejectReason::NotAnImage }]
    );
    let summary = stack.handler.handle(&put("raw/half.jpg", truncated.len())).await.unwrap();
    assert_eq!(
        summary.records,
        [RecordOutcome::Rejected { id: "half".into(), reason: RejectReason::Corrupt }]
    );

    let manifest = stack.manifest("half").await.unwrap();
    let Outcome::Rejected { reason, message } = manifest.outcome else { panic!("{manifest:?}") };
    assert_eq!(reason, RejectReason::Corrupt);
    assert!(message.contains("truncated"), "{message}");
    assert_eq!(stack.keys("thumbs/").await, ["thumbs/half/manifest.json", "thumbs/text/manifest.json"]);
}

#[tokio::test]
async fn sizes_from_the_event_are_gated_before_downloading() {
    let stack = stack().await;
    stack.upload("raw/big.jpg", PHOTO).await;
    stack.upload("raw/empty.jpg", b"").await;
    stack.s3.faults().reset_calls();
    let summary = stack.handler.handle(&put("raw/big.jpg", 5 << 30)).await.unwrap();
    assert_eq!(
        summary.records,
        [RecordOutcome::Rejected { id: "big".into(), reason: RejectReason::FileTooLarge }]
    );
    let summary = stack.handler.handle(&put("raw/empty.jpg", 0)).await.unwrap();
    assert_eq!(
        summary.records,
        [RecordOutcome::Rejected { id: "empty".into(), reason: RejectReason::Empty }]
    );
    assert_eq!(stack.s3.calls(Operation::GetObject), 0);

    // An event that understates the size: the download stops at the limit.
    let mut config = RuntimeConfig::default();
    config.limits.max_upload_bytes = 10_000;
    let small = Handler::new(S3Store::new(stack.client.clone(), BUCKET), BUCKET, config);
    stack.upload("raw/liar.jpg", PHOTO).await;
    let summary = small.handle(&put("raw/liar.jpg", 100)).await.unwrap();
    assert_eq!(
        summary.records,
        [RecordOutcome::Rejected { id: "liar".into(), reason: RejectReason::FileTooLarge }]
    );
}

#[tokio::test]
async fn transient_failures_fail_the_invocation_and_a_retry_completes_it() {
    let stack = stack().await;
    stack.upload("raw/flaky.jpg", PHOTO).await;
    let event = put("raw/flaky.jpg", PHOTO.len());

    stack.s3.faults().fail_next(Operation::GetObject, 2, 503);
    let err = stack.handler.handle(&event).await.unwrap_err();
    assert!(err.to_string().contains("GetObject raw/flaky.jpg"), "{err}");
    assert!(stack.manifest("flaky").await.is_none());

    // The manifest write fails: still an error, and still no manifest.
    stack.s3.faults().fail_next(Operation::PutObject, 10, 500);
    assert!(stack.handler.handle(&event).await.is_err());
    stack.s3.faults().clear();
    assert!(stack.manifest("flaky").await.is_none());

    // Lambda's retry.
    let summary = stack.handler.handle(&event).await.unwrap();
    assert_eq!(summary.records, [RecordOutcome::Ready { id: "flaky".into() }]);
}

#[tokio::test]
async fn every_record_is_attempted_when_one_fails() {
    let stack = stack().await;
    stack.upload("raw/one.jpg", PHOTO).await;
    stack.upload("raw/two.jpg", PHOTO).await;
    let mut event = put("raw/one.jpg", PHOTO.len());
    let records = event["Records"].as_array_mut().unwrap();
    let mut second = records[0].clone();
    second["s3"]["object"]["key"] = json!("raw/two.jpg");
    let mut third = records[0].clone();
    third["s3"]["object"]["key"] = json!("thumbs/one/256.jpg");
    records.push(second);
    records.push(third);

    // Both of the SDK's attempts fail for the first record.
    stack.s3.faults().fail_next(Operation::HeadObject, 2, 500);
    let err = stack.handler.handle(&event).await.unwrap_err();
    assert_eq!((err.failed, err.total), (1, 3));
    assert!(stack.manifest("two").await.is_some(), "the second record was still processed");
    let summary = stack.handler.handle(&event).await.unwrap();
    assert_eq!(
        summary.records,
        [
            RecordOutcome::Ready { id: "one".into() },
            RecordOutcome::AlreadyDone { id: "two".into() },
            RecordOutcome::Ignored { why: "key \"thumbs/one/256.jpg\" is not under raw/".into() }
        ]
    );
}

#[tokio::test]
async fn emulator_shaped_events_are_understood() {
    let stack = stack().await;
    stack.upload("raw/moto style.jpg", PHOTO).await;
    // No timezone, no sequencer, the key not encoded: what some emulators send.
    let event = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventTime": "2026-11-22T05:00:00",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": "raw/moto+style.jpg", "size": PHOTO.len()}}
    }]});
    let summary = stack.handler.handle(&event).await.unwrap();
    assert_eq!(summary.records, [RecordOutcome::Ready { id: "moto style".into() }]);
}

#[test]
fn the_binary_refuses_to_start_on_a_bad_config() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_thumbnail"))
        .env_clear()
        .env("THUMBFORGE_SIZES", "256,0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    // One structured JSON log line naming the problem.
    let log = String::from_utf8_lossy(&out.stdout);
    let line: Value = serde_json::from_str(log.lines().next().unwrap_or_default()).unwrap();
    assert_eq!(line["level"], "ERROR", "{log}");
    assert_eq!(line["fields"]["message"], "invalid configuration; refusing to start");
    let error = line["fields"]["error"].as_str().unwrap();
    assert!(error.contains("THUMBFORGE_JPEG_QUALITY"), "{error}");
}
