//! The handler against a real S3-compatible server (SigV4 on) and a real DynamoDB-compatible one
//! (the metadata table), both over HTTP, through aws-sdk-s3 and aws-sdk-dynamodb.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is a failed test with its message")]

use std::time::{Duration, Instant};

use aws_sdk_s3::config::retry::RetryConfig;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use thumbforge_catalog::interfere::{Interference, Interfering};
use thumbforge_catalog::{
    AccountState, Catalog, CatalogError, DynamoCatalog, Edit, ImageRecord, ImageState, Membership, NewAlbum,
    NewImage, Owner, Profile, schema,
};
use thumbforge_core::keys::{self, OWNER_METADATA};
use thumbforge_core::watermark::Watermark;
use thumbforge_core::{Outcome, OutputFormat, RejectReason, RuntimeConfig, env};
use thumbforge_dynamo_local::LocalDynamo;
use thumbforge_s3_local::{LocalS3, Operation, Options};
use thumbnail::cleanup::{BatchResponse, Cleanup, ItemFailure};
use thumbnail::handler::{FINISH_MARGIN, Handler, RecordOutcome, load_watermark};
use thumbnail::store::S3Store;
use uuid::Uuid;

const BUCKET: &str = "media";
const TABLE: &str = "thumbforge-test-images";
const PHOTO: &[u8] = include_bytes!("../../../fixtures/photos/orient_6.jpg");
/// The engine's watermark fixture: 48 × 24 RGBA.
const WATERMARK_PNG: &[u8] = include_bytes!("../../../crates/engine/fixtures/watermark.png");
const AWS_PUT: &str = include_str!("events/aws_put.json");
/// A DynamoDB stream record of a removed image item, as Lambda delivers it.
const AWS_DDB_REMOVE: &str = include_str!("events/aws_ddb_remove.json");
/// A `sub` with characters that must be encoded in a header.
const OWNER: &str = "eu-west-3:6f1c2d9e-0000-4000-8000-000000000001 günter|42";
/// How the API encodes metadata values (lambdas/presign/src/uploads.rs, `FILENAME_ENCODE`):
/// everything but RFC 3986's unreserved characters.
const METADATA_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

struct Stack<C = DynamoCatalog> {
    s3: LocalS3,
    client: aws_sdk_s3::Client,
    handler: Handler<S3Store, C>,
    cleanup: Cleanup<S3Store, DynamoCatalog>,
    dynamodb: aws_sdk_dynamodb::Client,
    _dynamo: LocalDynamo,
    catalog: DynamoCatalog,
    _dir: tempfile::TempDir,
}

async fn stack() -> Stack {
    stack_with(RuntimeConfig::default(), |catalog| catalog).await
}

/// A stack whose handler sees the table through `wrap` and uses `config`.
async fn stack_with<C: Catalog>(config: RuntimeConfig, wrap: impl FnOnce(DynamoCatalog) -> C) -> Stack<C> {
    let dir = tempfile::tempdir().unwrap();
    let s3 = LocalS3::start(Options::new(dir.path()).bucket(BUCKET)).await.unwrap();
    let retry = RetryConfig::standard().with_max_attempts(2).with_initial_backoff(Duration::from_millis(5));
    let client = aws_sdk_s3::Client::from_conf(s3.client_config().retry_config(retry).build());
    let dynamo = LocalDynamo::start(thumbforge_dynamo_local::Options::default()).await.unwrap();
    let dynamodb = dynamo.client();
    schema::create_table(&dynamodb, TABLE).await.unwrap();
    let catalog = DynamoCatalog::new(dynamodb.clone(), TABLE);
    let handler = Handler::new(S3Store::new(client.clone(), BUCKET), wrap(catalog.clone()), BUCKET, config);
    let cleanup = Cleanup::new(S3Store::new(client.clone(), BUCKET), catalog.clone());
    Stack { s3, client, handler, cleanup, dynamodb, _dynamo: dynamo, catalog, _dir: dir }
}

fn owner() -> Owner {
    Owner::new(OWNER).unwrap()
}

fn raw_key(id: Uuid) -> String {
    format!("raw/{id}.jpg")
}

impl<C: Catalog> Stack<C> {
    /// What the API does: a pending item, then the upload carrying its owner.
    async fn upload_through_the_api(&self, body: &[u8]) -> Uuid {
        let id = Uuid::now_v7();
        let image = NewImage {
            id,
            filename: "cat.jpg".into(),
            content_type: "image/jpeg".into(),
            size: body.len() as u64,
            created_at_ms: 1_750_000_000_000,
            expires_at_s: 1_750_086_400,
        };
        self.catalog.create(&owner(), &image).await.unwrap();
        let encoded = utf8_percent_encode(OWNER, METADATA_ENCODE).to_string();
        self.upload(&raw_key(id), body, Some(&encoded)).await;
        id
    }

    async fn upload(&self, key: &str, body: &[u8], owner: Option<&str>) {
        let mut put = self.client.put_object().bucket(BUCKET).key(key).body(body.to_vec().into());
        if let Some(owner) = owner {
            put = put.metadata(OWNER_METADATA, owner);
        }
        put.send().await.unwrap();
    }

    async fn object(&self, key: &str) -> Option<(Vec<u8>, String, String)> {
        let out = self.client.get_object().bucket(BUCKET).key(key).send().await.ok()?;
        let content_type = out.content_type().unwrap_or_default().to_owned();
        let cache_control = out.cache_control().unwrap_or_default().to_owned();
        Some((out.body.collect().await.unwrap().to_vec(), content_type, cache_control))
    }

    async fn record(&self, id: Uuid) -> Option<ImageRecord> {
        self.catalog.get(&owner(), id).await.unwrap()
    }

    async fn state(&self, id: Uuid) -> Option<ImageState> {
        self.record(id).await.map(|r| r.state)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_becomes_renditions_and_a_ready_item() {
    let stack = stack().await;
    let id = stack.upload_through_the_api(PHOTO).await;
    let mut created = stack.s3.subscribe();

    let summary = stack.handler.handle(&put(&raw_key(id), PHOTO.len())).await.unwrap();
    assert_eq!(summary.records, [RecordOutcome::Ready { id: id.to_string() }]);

    let record = stack.record(id).await.unwrap();
    assert!(record.finished_at_ms.is_some() && record.expires_at_s.is_none(), "{record:?}");
    let ImageState::Finished(Outcome::Ready { source, renditions, placeholder }) = record.state else {
        panic!("{record:?}")
    };
    assert_eq!((source.width, source.height, source.bytes), (1800, 1200, PHOTO.len() as u64));
    // The placeholder went through the table: a #rrggbb colour and a 4 × 3 BlurHash.
    let placeholder = placeholder.expect("a placeholder");
    assert!(
        placeholder.color.len() == 7
            && placeholder.color.starts_with('#')
            && placeholder.color[1..].bytes().all(|b| b.is_ascii_hexdigit()),
        "{placeholder:?}"
    );
    assert_eq!(placeholder.blurhash.len(), 28, "{placeholder:?}");
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
        assert_eq!(cache_control, "public, max-age=3600", "thumbnails.cache_seconds bounds every cache");
    }

    // Only the renditions are written to the bucket: no manifest any more.
    let mut order = Vec::new();
    while let Ok(event) = created.try_recv() {
        order.push(event.key);
    }
    order.sort();
    assert_eq!(order, stack.keys("thumbs/").await);
    assert_eq!(order.len(), 4);
    assert_eq!(stack.keys("raw/").await, [raw_key(id)], "the upload stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_deliveries_change_nothing() {
    let stack = stack().await;
    let id = stack.upload_through_the_api(PHOTO).await;
    let event = put(&raw_key(id), PHOTO.len());

    // Two concurrent deliveries, then a late third one.
    let (a, b) = tokio::join!(stack.handler.handle(&event), stack.handler.handle(&event));
    let outcomes = [a.unwrap().records, b.unwrap().records].concat();
    assert!(outcomes.contains(&RecordOutcome::Ready { id: id.to_string() }), "{outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(o, RecordOutcome::Ready { .. } | RecordOutcome::AlreadyDone { .. })),
        "{outcomes:?}"
    );
    let record = stack.record(id).await.unwrap();
    let mut before = Vec::new();
    for key in stack.keys("thumbs/").await {
        before.push((key.clone(), stack.object(&key).await.unwrap().0));
    }
    assert_eq!(before.len(), 4);

    stack.s3.faults().reset_calls();
    let again = stack.handler.handle(&event).await.unwrap();
    assert_eq!(again.records, [RecordOutcome::AlreadyDone { id: id.to_string() }]);
    for op in [Operation::GetObject, Operation::PutObject, Operation::DeleteObject] {
        assert_eq!(stack.s3.calls(op), 0, "{op:?}");
    }
    assert_eq!(stack.record(id).await.unwrap(), record, "the item is unchanged");
    for (key, body) in before {
        assert_eq!(stack.object(&key).await.unwrap().0, body, "{key} changed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_files_end_rejected_with_nothing_written() {
    let stack = stack().await;
    let text = b"this is not a picture, whatever its name says";
    let text_id = stack.upload_through_the_api(text).await;
    let truncated = &PHOTO[..PHOTO.len() / 2];
    let half_id = stack.upload_through_the_api(truncated).await;

    // Deleting the rejected upload fails at first: the invocation fails, the rejection stays.
    stack.s3.faults().fail_next(Operation::DeleteObjects, 2, 503);
    let event = put(&raw_key(text_id), text.len());
    assert!(stack.handler.handle(&event).await.is_err(), "a failed deletion fails the invocation");
    let Some(ImageState::Finished(Outcome::Rejected { reason, .. })) = stack.state(text_id).await else {
        panic!("{:?}", stack.record(text_id).await)
    };
    assert_eq!(reason, RejectReason::NotAnImage);
    assert_eq!(stack.keys_of(text_id).await, [raw_key(text_id)], "the upload is still there");
    // Lambda's retry finds it rejected and deletes the upload: nothing of it costs any more.
    let summary = stack.handler.handle(&event).await.unwrap();
    assert_eq!(summary.records, [RecordOutcome::AlreadyDone { id: text_id.to_string() }]);
    assert_eq!(stack.versions(&raw_key(text_id)).await, Vec::<String>::new(), "every version is gone");
    assert!(matches!(stack.state(text_id).await, Some(ImageState::Finished(Outcome::Rejected { .. }))));

    let summary = stack.handler.handle(&put(&raw_key(half_id), truncated.len())).await.unwrap();
    assert_eq!(
        summary.records,
        [RecordOutcome::Rejected { id: half_id.to_string(), reason: RejectReason::Corrupt }]
    );
    let Some(ImageState::Finished(Outcome::Rejected { reason, message })) = stack.state(half_id).await else {
        panic!("{:?}", stack.record(half_id).await)
    };
    assert_eq!(reason, RejectReason::Corrupt);
    assert!(message.contains("truncated"), "{message}");
    assert!(stack.keys("thumbs/").await.is_empty());
    assert_eq!(
        stack.versions(&raw_key(half_id)).await,
        Vec::<String>::new(),
        "the rejected upload is deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_deleted_before_its_event_leaves_nothing_behind() {
    let stack = stack().await;
    let id = stack.upload_through_the_api(PHOTO).await;
    // The user deletes it before the event arrives (the API removes the item first).
    stack.catalog.delete(&owner(), id).await.unwrap();

    stack.s3.faults().reset_calls();
    let summary = stack.handler.handle(&put(&raw_key(id), PHOTO.len())).await.unwrap();
    assert_eq!(summary.records, [RecordOutcome::Discarded { id: id.to_string() }]);
    assert_eq!(stack.s3.calls(Operation::GetObject), 0, "not processed");
    assert_eq!(stack.s3.calls(Operation::PutObject), 0);
    assert!(stack.keys("").await.is_empty(), "{:?}", stack.keys("").await);
    assert_eq!(stack.record(id).await, None, "no item was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_deleted_while_processed_leaves_nothing_behind() {
    let stack =
        stack_with(RuntimeConfig::default(), |table| Interfering::new(table, Interference::Delete)).await;
    let id = stack.upload_through_the_api(PHOTO).await;
    let summary = stack.handler.handle(&put(&raw_key(id), PHOTO.len())).await.unwrap();
    assert_eq!(summary.records, [RecordOutcome::Discarded { id: id.to_string() }]);
    assert_eq!(stack.s3.calls(Operation::PutObject), 4 + 1, "the renditions were written (and the upload)");
    assert!(stack.keys("").await.is_empty(), "{:?}", stack.keys("").await);
    assert_eq!(stack.record(id).await, None, "finish created no item");
    assert_eq!(stack.catalog.profile(&owner()).await.unwrap(), Profile::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_not_made_through_the_api_are_skipped() {
    let stack = stack().await;
    let id = stack.upload_through_the_api(PHOTO).await;
    // The same image again, without its owner: as if written to the bucket directly.
    stack.upload(&raw_key(id), PHOTO, None).await;
    let stray = Uuid::now_v7();
    stack.upload(&raw_key(stray), PHOTO, Some("%00")).await;
    stack.upload("raw/sun flower +1.jpg", PHOTO, Some("x")).await;

    stack.s3.faults().reset_calls();
    for (encoded_key, key, reason) in [
        (raw_key(id), raw_key(id), "no `owner` metadata"),
        (raw_key(stray), raw_key(stray), "control character"),
        ("raw/sun+flower+%2B1.jpg".to_owned(), "raw/sun flower +1.jpg".to_owned(), "not a UUID"),
    ] {
        let summary = stack.handler.handle(&put(&encoded_key, PHOTO.len())).await.unwrap();
        let [RecordOutcome::Skipped { key: skipped, reason: why }] = &summary.records[..] else {
            panic!("{summary:?}")
        };
        assert_eq!(skipped, &key);
        assert!(why.contains(reason), "{why}");
    }
    for op in [Operation::GetObject, Operation::PutObject, Operation::DeleteObject] {
        assert_eq!(stack.s3.calls(op), 0, "{op:?}");
    }
    assert_eq!(stack.state(id).await, Some(ImageState::Pending));
    assert_eq!(stack.keys("raw/").await.len(), 3, "nothing deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_that_are_not_ours_are_ignored_without_touching_s3() {
    let stack = stack().await;
    stack.upload("thumbs/x/256.jpg", PHOTO, None).await;
    stack.upload("rawfoo/a.jpg", PHOTO, None).await;
    stack.s3.faults().reset_calls();
    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-22T05:00:00.000Z", "Bucket": BUCKET, "RequestId": "X", "HostId": "Y"});
    for event in [
        put("thumbs/x/256.jpg", 10),
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
    for op in [Operation::GetObject, Operation::PutObject, Operation::HeadObject, Operation::DeleteObject] {
        assert_eq!(stack.s3.calls(op), 0, "{op:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_object_is_logged_and_skipped() {
    let stack = stack().await;
    let id = Uuid::now_v7();
    let summary = stack.handler.handle(&put(&raw_key(id), 1234)).await.unwrap();
    assert_eq!(summary.records, [RecordOutcome::Gone { key: raw_key(id) }]);
    assert!(stack.keys("").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_are_gated_before_downloading() {
    let mut config = RuntimeConfig::default();
    config.limits.max_upload_bytes = 10_000;
    let stack = stack_with(config, |catalog| catalog).await;
    let big = stack.upload_through_the_api(PHOTO).await;
    let empty = stack.upload_through_the_api(b"").await;
    stack.s3.faults().reset_calls();

    // The event understates the size: the object's own size counts.
    let summary = stack.handler.handle(&put(&raw_key(big), 100)).await.unwrap();
    assert_eq!(
        summary.records,
        [RecordOutcome::Rejected { id: big.to_string(), reason: RejectReason::FileTooLarge }]
    );
    let summary = stack.handler.handle(&put(&raw_key(empty), 0)).await.unwrap();
    assert_eq!(
        summary.records,
        [RecordOutcome::Rejected { id: empty.to_string(), reason: RejectReason::Empty }]
    );
    assert_eq!(stack.s3.calls(Operation::GetObject), 0);
    let Some(ImageState::Finished(Outcome::Rejected { message, .. })) = stack.state(big).await else {
        panic!("{:?}", stack.record(big).await)
    };
    assert!(message.contains("limit"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_fail_the_invocation_and_a_retry_completes_it() {
    let stack = stack().await;
    let id = stack.upload_through_the_api(PHOTO).await;
    let event = put(&raw_key(id), PHOTO.len());

    stack.s3.faults().fail_next(Operation::GetObject, 2, 503);
    let err = stack.handler.handle(&event).await.unwrap_err();
    assert!(err.to_string().contains(&format!("GetObject {}", raw_key(id))), "{err}");
    assert!(err.first.is_transient());
    assert_eq!(stack.state(id).await, Some(ImageState::Pending));

    // A rendition write fails: still an error, and the item still pending.
    stack.s3.faults().fail_next(Operation::PutObject, 10, 500);
    assert!(stack.handler.handle(&event).await.is_err());
    stack.s3.faults().clear();
    assert_eq!(stack.state(id).await, Some(ImageState::Pending));

    // Lambda's retry.
    let summary = stack.handler.handle(&event).await.unwrap();
    assert_eq!(summary.records, [RecordOutcome::Ready { id: id.to_string() }]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_table_fails_the_invocation_as_transient() {
    let stack = stack().await;
    let id = stack.upload_through_the_api(PHOTO).await;
    // A catalog on a port nobody listens on (the server's, once it is shut down).
    let dead = LocalDynamo::start(thumbforge_dynamo_local::Options::default()).await.unwrap();
    let client = aws_sdk_dynamodb_client(&dead);
    dead.shutdown().await;
    let handler = Handler::new(
        S3Store::new(stack.client.clone(), BUCKET),
        DynamoCatalog::new(client, TABLE),
        BUCKET,
        RuntimeConfig::default(),
    );
    let err = handler.handle(&put(&raw_key(id), PHOTO.len())).await.unwrap_err();
    assert!(err.first.is_transient(), "{err}");
    assert!(err.to_string().starts_with("1 of 1 records failed; first: catalog: get in"), "{err}");
    assert!(stack.keys("thumbs/").await.is_empty());
    assert_eq!(stack.state(id).await, Some(ImageState::Pending));
}

/// A client for `server` that gives up quickly (one attempt).
fn aws_sdk_dynamodb_client(server: &LocalDynamo) -> aws_sdk_dynamodb::Client {
    let retry = RetryConfig::standard().with_max_attempts(1);
    aws_sdk_dynamodb::Client::from_conf(server.client_config().retry_config(retry).build())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_is_attempted_when_one_fails() {
    let stack = stack().await;
    let one = stack.upload_through_the_api(PHOTO).await;
    let two = stack.upload_through_the_api(PHOTO).await;
    let mut event = put(&raw_key(one), PHOTO.len());
    let records = event["Records"].as_array_mut().unwrap();
    let mut second = records[0].clone();
    second["s3"]["object"]["key"] = json!(raw_key(two));
    let mut third = records[0].clone();
    third["s3"]["object"]["key"] = json!(format!("thumbs/{one}/256.jpg"));
    records.push(second);
    records.push(third);

    // Both of the SDK's attempts fail for the first record.
    stack.s3.faults().fail_next(Operation::HeadObject, 2, 500);
    let err = stack.handler.handle(&event).await.unwrap_err();
    assert_eq!((err.failed, err.total), (1, 3));
    assert!(
        matches!(stack.state(two).await, Some(ImageState::Finished(Outcome::Ready { .. }))),
        "the second record was still processed"
    );
    let summary = stack.handler.handle(&event).await.unwrap();
    assert_eq!(
        summary.records,
        [
            RecordOutcome::Ready { id: one.to_string() },
            RecordOutcome::AlreadyDone { id: two.to_string() },
            RecordOutcome::Ignored { why: format!("key \"thumbs/{one}/256.jpg\" is not under raw/") }
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_shaped_events_are_understood() {
    let stack = stack().await;
    let id = stack.upload_through_the_api(PHOTO).await;
    // No timezone, no sequencer: what some emulators send.
    let event = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventTime": "2026-11-22T05:00:00",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": raw_key(id), "size": PHOTO.len()}}
    }]});
    let summary = stack.handler.handle(&event).await.unwrap();
    assert_eq!(summary.records, [RecordOutcome::Ready { id: id.to_string() }]);
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

/// The stream record of the removal of `id`'s item (owner [`OWNER`]), with this sequence number;
/// `by_ttl` marks it as DynamoDB's TTL marks its deletions.
fn removal(id: Uuid, sequence: &str, size: usize, by_ttl: bool) -> Value {
    let event: Value = serde_json::from_str(AWS_DDB_REMOVE).unwrap();
    let mut record = event["Records"][0].clone();
    let (pk, sk) = (format!("USER#{OWNER}"), format!("IMAGE#{id}"));
    for image in ["Keys", "OldImage"] {
        record["dynamodb"][image]["pk"] = json!({"S": pk});
        record["dynamodb"][image]["sk"] = json!({"S": sk});
    }
    record["dynamodb"]["OldImage"]["id"] = json!({"S": id.to_string()});
    record["dynamodb"]["OldImage"]["size"] = json!({"N": size.to_string()});
    record["dynamodb"]["SequenceNumber"] = json!(sequence);
    if by_ttl {
        record["userIdentity"] = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
    }
    record
}

fn batch(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

fn retry_from(sequence: &str) -> BatchResponse {
    BatchResponse { batch_item_failures: vec![ItemFailure { item_identifier: sequence.into() }] }
}

impl<C: Catalog> Stack<C> {
    /// An image uploaded and processed: its upload and renditions are in the bucket.
    async fn ready_image(&self) -> Uuid {
        let id = self.upload_through_the_api(PHOTO).await;
        let summary = self.handler.handle(&put(&raw_key(id), PHOTO.len())).await.unwrap();
        assert_eq!(summary.records, [RecordOutcome::Ready { id: id.to_string() }]);
        id
    }

    /// Every version and delete marker under `prefix`, as `key@version`.
    async fn versions(&self, prefix: &str) -> Vec<String> {
        let out = self.client.list_object_versions().bucket(BUCKET).prefix(prefix).send().await.unwrap();
        let versions = out.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = out.delete_markers().iter().map(|m| (m.key(), m.version_id()));
        versions
            .chain(markers)
            .map(|(key, version)| format!("{}@{}", key.unwrap_or_default(), version.unwrap_or_default()))
            .collect()
    }

    /// Every key of `id` in the bucket.
    async fn keys_of(&self, id: Uuid) -> Vec<String> {
        let mut keys = self.keys(&format!("thumbs/{id}/")).await;
        keys.extend(self.keys(&raw_key(id)).await);
        keys
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_images_removal_leaves_nothing_in_the_bucket() {
    let stack = stack().await;
    let (deleted, kept) = (stack.ready_image().await, stack.ready_image().await);
    assert_eq!(stack.keys_of(deleted).await.len(), 5, "the upload and four renditions");
    stack.catalog.delete(&owner(), deleted).await.unwrap().unwrap();

    let response = stack.cleanup.handle(&batch(vec![removal(deleted, "1", PHOTO.len(), false)]), 0).await;
    assert_eq!(response, BatchResponse::default());
    assert!(stack.keys_of(deleted).await.is_empty(), "{:?}", stack.keys_of(deleted).await);
    assert_eq!(stack.keys_of(kept).await.len(), 5, "another image is untouched");
    assert_eq!(serde_json::to_value(&response).unwrap(), json!({"batchItemFailures": []}));

    // A second delivery of the same record finds nothing to do, and succeeds.
    let again = stack.cleanup.handle(&batch(vec![removal(deleted, "1", PHOTO.len(), false)]), 0).await;
    assert_eq!(again, BatchResponse::default());
    // Not a TTL removal: the API's delete already adjusted the counts.
    assert_eq!(
        stack.catalog.profile(&owner()).await.unwrap(),
        Profile { images: 1, bytes: PHOTO.len() as u64, albums: 0 }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_failure_stops_the_batch_at_its_record_and_the_retry_finishes() {
    let stack = stack().await;
    let (first, second, third) =
        (stack.ready_image().await, stack.ready_image().await, stack.ready_image().await);
    for id in [first, second, third] {
        stack.catalog.delete(&owner(), id).await.unwrap().unwrap();
    }
    let records = batch(vec![
        removal(first, "10", PHOTO.len(), false),
        removal(second, "11", PHOTO.len(), false),
        removal(third, "12", PHOTO.len(), false),
    ]);
    // The first record's two DeleteObjects calls go through; the second record's fail on every
    // attempt the client makes.
    let before = stack.s3.calls(Operation::DeleteObjects);
    assert_eq!(before, 0);
    stack.s3.faults().pass_next(Operation::DeleteObjects, 2);
    stack.s3.faults().fail_next(Operation::DeleteObjects, 2, 503);
    let response = stack.cleanup.handle(&records, 0).await;
    assert_eq!(response, retry_from("11"));
    assert!(stack.keys_of(first).await.is_empty(), "the records before the failure are done");
    assert_eq!(stack.keys_of(second).await.len(), 5, "the failed record's renditions went first; none did");
    assert_eq!(stack.keys_of(third).await.len(), 5, "nothing after the failed record was attempted");

    // The event source mapping retries from the failed record.
    let retry = batch(records["Records"].as_array().unwrap()[1..].to_vec());
    assert_eq!(stack.cleanup.handle(&retry, 0).await, BatchResponse::default());
    for id in [first, second, third] {
        assert!(stack.keys_of(id).await.is_empty(), "{id}: {:?}", stack.keys_of(id).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_pending_upload_is_released_from_the_profile_once() {
    let stack = stack().await;
    let id = Uuid::now_v7();
    let image = NewImage {
        id,
        filename: "never.jpg".into(),
        content_type: "image/jpeg".into(),
        size: 4_321,
        created_at_ms: 1_750_000_000_000,
        expires_at_s: 1_750_086_400,
    };
    stack.catalog.create(&owner(), &image).await.unwrap();
    assert_eq!(
        stack.catalog.profile(&owner()).await.unwrap(),
        Profile { images: 1, bytes: 4_321, albums: 0 }
    );
    // What DynamoDB's TTL does: the item goes, nothing else changes.
    stack
        .dynamodb
        .delete_item()
        .table_name(TABLE)
        .key(schema::PK, aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{OWNER}")))
        .key(schema::SK, aws_sdk_dynamodb::types::AttributeValue::S(schema::image_sk(id)))
        .send()
        .await
        .unwrap();

    let expired = batch(vec![removal(id, "20", 4_321, true)]);
    assert_eq!(stack.cleanup.handle(&expired, 1_750_100_000).await, BatchResponse::default());
    assert_eq!(stack.catalog.profile(&owner()).await.unwrap(), Profile::default());
    // The stream delivers at least once: a second delivery subtracts nothing more.
    assert_eq!(stack.cleanup.handle(&expired, 1_750_100_000).await, BatchResponse::default());
    assert_eq!(stack.catalog.profile(&owner()).await.unwrap(), Profile::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_record_is_reported_for_the_dead_letter_queue() {
    let stack = stack().await;
    let kept = stack.ready_image().await;
    let mut damaged = removal(kept, "30", PHOTO.len(), false);
    damaged["dynamodb"]["Keys"]["sk"] = json!({"S": "IMAGE#not-an-id"});
    assert_eq!(stack.cleanup.handle(&batch(vec![damaged]), 0).await, retry_from("30"));
    assert_eq!(stack.keys_of(kept).await.len(), 5, "nothing deleted on a guess");
}

/// The identity provider, as far as an account's deletion sees it: who was deleted.
#[derive(Debug, Default)]
struct Users {
    deleted: std::sync::Mutex<Vec<String>>,
    fail: std::sync::atomic::AtomicBool,
}

impl thumbnail::account::Directory for &Users {
    async fn delete_user(&self, username: &str) -> Result<bool, thumbnail::account::DirectoryError> {
        if self.fail.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Err(thumbnail::account::DirectoryError {
                username: username.to_owned(),
                message: "injected".into(),
                transient: true,
            });
        }
        let mut deleted = self.deleted.lock().unwrap();
        let first = !deleted.iter().any(|u| u == username);
        deleted.push(username.to_owned());
        Ok(first)
    }
}

/// The stream record of the tombstone `DELETE /api/account` wrote (or bumped) for [`OWNER`].
fn tombstone(event: &str, sequence: &str) -> Value {
    json!({
        "eventID": sequence,
        "eventName": event,
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-3",
        "dynamodb": {
            "Keys": {"pk": {"S": format!("USER#{OWNER}")}, "sk": {"S": schema::TOMBSTONE_SK}},
            "NewImage": {
                "pk": {"S": format!("USER#{OWNER}")},
                "sk": {"S": schema::TOMBSTONE_SK},
                "status": {"S": "deleting"},
                "username": {"S": "the-username"},
            },
            "SequenceNumber": sequence,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    })
}

/// Every item of [`OWNER`]'s partition, by sort key.
async fn partition(stack: &Stack) -> Vec<String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let out = stack
        .dynamodb
        .query()
        .table_name(TABLE)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{OWNER}")))
        .send()
        .await
        .unwrap();
    out.items().iter().map(|item| item[schema::SK].as_s().unwrap().clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_leaves_nothing_but_its_tombstone_even_after_failures() {
    let stack = stack().await;
    let (first, second) = (stack.ready_image().await, stack.ready_image().await);
    let pending = stack.upload_through_the_api(PHOTO).await; // uploaded, not processed yet
    let album = NewAlbum { id: Uuid::now_v7(), name: "Trip".into(), created_at_ms: 1_750_000_000_000 };
    stack.catalog.create_album(&owner(), &album).await.unwrap();
    assert_eq!(stack.catalog.add_to_album(&owner(), album.id, first).await.unwrap(), Membership::Added);
    let edit = Edit { title: None, description: None, tags: Some(vec!["sea".into()]) };
    stack.catalog.edit(&owner(), second, &edit).await.unwrap().unwrap();
    // Someone else's image, which must survive.
    let theirs = Owner::new("someone-else").unwrap();
    let kept = Uuid::now_v7();
    let image = NewImage {
        id: kept,
        filename: "kept.jpg".into(),
        content_type: "image/jpeg".into(),
        size: 10,
        created_at_ms: 1_750_000_000_000,
        expires_at_s: 1_750_086_400,
    };
    stack.catalog.create(&theirs, &image).await.unwrap();
    stack.upload(&raw_key(kept), PHOTO, None).await;

    let state =
        stack.catalog.begin_account_deletion(&owner(), "the-username", 1_750_000_000_000).await.unwrap();
    assert!(matches!(state, AccountState::Deleting { pass: 0, .. }), "{state:?}");
    let users = Users::default();
    let cleanup = Cleanup::new(S3Store::new(stack.client.clone(), BUCKET), stack.catalog.clone())
        .with_directory(&users);

    // The bucket fails on the second image's deletes (past the client's own retries), then the
    // identity provider fails once: each failure stops the pass, and the retry goes on.
    stack.s3.faults().pass_next(Operation::DeleteObjects, 2);
    stack.s3.faults().fail_next(Operation::DeleteObjects, 2, 503);
    let failed = cleanup.handle(&batch(vec![tombstone("INSERT", "50")]), 1_750_000_001).await;
    assert_eq!(failed, retry_from("50"));
    let left = stack.catalog.account_images(&owner(), 10).await.unwrap();
    assert_eq!(left.len(), 2, "one image went before the failure: {left:?}");
    users.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        cleanup.handle(&batch(vec![tombstone("INSERT", "50")]), 1_750_000_002).await,
        retry_from("50")
    );
    assert!(stack.catalog.account_images(&owner(), 10).await.unwrap().is_empty());
    assert!(users.deleted.lock().unwrap().is_empty(), "the failed call deleted nobody");
    assert_eq!(
        cleanup.handle(&batch(vec![tombstone("INSERT", "50")]), 1_750_000_003).await,
        BatchResponse::default()
    );

    assert_eq!(*users.deleted.lock().unwrap(), ["the-username"]);
    for id in [first, second, pending] {
        assert!(stack.keys_of(id).await.is_empty(), "{id}: {:?}", stack.keys_of(id).await);
    }
    assert_eq!(partition(&stack).await, [schema::TOMBSTONE_SK], "nothing but the tombstone");
    assert!(matches!(
        stack.catalog.account_state(&owner()).await.unwrap(),
        AccountState::Deleted { deleted_at_ms: 1_750_000_003_000, .. }
    ));
    // A token still valid creates nothing.
    let again = NewImage { id: Uuid::now_v7(), ..image.clone() };
    assert!(matches!(stack.catalog.create(&owner(), &again).await, Err(CatalogError::AccountDeleted)));
    // The same record delivered again does nothing more.
    assert_eq!(
        cleanup.handle(&batch(vec![tombstone("MODIFY", "51")]), 1_750_000_004).await,
        BatchResponse::default()
    );
    assert_eq!(users.deleted.lock().unwrap().len(), 1);
    // The other user is untouched.
    assert!(stack.catalog.get(&theirs, kept).await.unwrap().is_some());
    assert_eq!(stack.keys(&raw_key(kept)).await, [raw_key(kept)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_deletion_out_of_time_continues_in_another_pass() {
    let stack = stack().await;
    let id = stack.ready_image().await;
    stack.catalog.begin_account_deletion(&owner(), "the-username", 1_750_000_000_000).await.unwrap();
    let users = Users::default();
    let cleanup = Cleanup::new(S3Store::new(stack.client.clone(), BUCKET), stack.catalog.clone())
        .with_directory(&users);
    // No time left: the pass bumps the tombstone (whose change on the stream starts the next).
    let now = Instant::now();
    assert_eq!(
        cleanup.handle_until(&batch(vec![tombstone("INSERT", "60")]), 1, now).await,
        BatchResponse::default()
    );
    assert!(matches!(
        stack.catalog.account_state(&owner()).await.unwrap(),
        AccountState::Deleting { pass: 1, .. }
    ));
    assert_eq!(stack.keys_of(id).await.len(), 5, "nothing was started");
    // The next pass has time.
    assert_eq!(cleanup.handle(&batch(vec![tombstone("MODIFY", "61")]), 2).await, BatchResponse::default());
    assert!(stack.keys_of(id).await.is_empty());
    assert_eq!(partition(&stack).await, [schema::TOMBSTONE_SK]);
    assert_eq!(*users.deleted.lock().unwrap(), ["the-username"]);
}

/// A file that cannot be processed before the invocation's deadline (here, a deadline that
/// leaves no time): rejected `too_slow` in that one invocation, a success, so Lambda does not
/// retry it; nothing is written and its upload goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_cannot_finish_in_time_is_rejected_too_slow_in_one_invocation() {
    let stack = stack().await;
    let id = stack.upload_through_the_api(PHOTO).await;
    let deadline = Instant::now() + FINISH_MARGIN;
    let summary = stack.handler.handle_until(&put(&raw_key(id), PHOTO.len()), Some(deadline)).await.unwrap();
    assert_eq!(
        summary.records,
        [RecordOutcome::Rejected { id: id.to_string(), reason: RejectReason::TooSlow }]
    );
    let Some(ImageState::Finished(Outcome::Rejected { reason, message })) = stack.state(id).await else {
        panic!("{:?}", stack.record(id).await)
    };
    assert_eq!(reason, RejectReason::TooSlow);
    assert!(message.contains("took too long"), "{message}");
    assert!(stack.keys_of(id).await.is_empty(), "no rendition, and the upload deleted");

    // With the usual time, the same photo is fine.
    let other = stack.upload_through_the_api(PHOTO).await;
    let roomy = Instant::now() + FINISH_MARGIN + Duration::from_secs(120);
    let summary = stack.handler.handle_until(&put(&raw_key(other), PHOTO.len()), Some(roomy)).await.unwrap();
    assert_eq!(summary.records, [RecordOutcome::Ready { id: other.to_string() }]);
}

/// The watermark as the function reads it at cold start, then draws it: none configured, none
/// read; configured but missing or without alpha, no start; present, the large renditions are the
/// engine's with the mark, the small ones and the upload are untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watermark_is_read_once_checked_and_drawn_on_the_large_renditions_only() {
    let mut config = RuntimeConfig::default();
    let stack = stack_with(config.clone(), |catalog| catalog).await;
    let store = S3Store::new(stack.client.clone(), BUCKET);
    assert!(load_watermark(&store, &config).await.unwrap().is_none(), "off: nothing read");
    assert_eq!(stack.s3.calls(Operation::GetObject), 0);

    config.watermark = Watermark { image: keys::WATERMARK.into(), min_size: 1024, ..Watermark::default() };
    let error = load_watermark(&store, &config).await.unwrap_err();
    assert!(error.contains("settings/watermark.png is not in the bucket"), "{error}");
    let mut rgb = Vec::new();
    image::RgbImage::new(4, 4)
        .write_to(&mut std::io::Cursor::new(&mut rgb), image::ImageFormat::Png)
        .unwrap();
    stack.upload(keys::WATERMARK, &rgb, None).await;
    let error = load_watermark(&store, &config).await.unwrap_err();
    assert!(error.contains("no alpha channel"), "{error}");
    stack.upload(keys::WATERMARK, WATERMARK_PNG, None).await;
    let mark = load_watermark(&store, &config).await.unwrap().expect("the watermark");

    let handler =
        Handler::new(store, stack.catalog.clone(), BUCKET, config.clone()).with_watermark(Some(mark.clone()));
    let id = stack.upload_through_the_api(PHOTO).await;
    let summary = handler.handle(&put(&raw_key(id), PHOTO.len())).await.unwrap();
    assert_eq!(summary.records, [RecordOutcome::Ready { id: id.to_string() }]);

    let options = thumbforge_engine::Options { watermark: Some(&mark), deadline: None };
    let marked = thumbforge_engine::process_with(PHOTO, &config, options).unwrap();
    let clean = thumbforge_engine::process(PHOTO, &config).unwrap();
    for (m, c) in marked.renditions.iter().zip(&clean.renditions) {
        let key = format!("thumbs/{id}/{}.{}", m.size, m.format.extension());
        let (stored, _, _) = stack.object(&key).await.unwrap();
        assert_eq!(stored, m.data, "{key} is the engine's output with the watermark");
        assert_eq!(stored == c.data, m.size < 1024, "{key}: watermarked from min_size (1024) up only");
    }
    let (original, _, _) = stack.object(&raw_key(id)).await.unwrap();
    assert_eq!(original, PHOTO, "the upload is never altered");
}

/// Configured with a watermark the bucket does not hold, the binary logs why and exits before
/// taking any event: no rendition is ever written without a watermark that was asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_refuses_to_start_without_its_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = LocalS3::start(Options::new(dir.path()).bucket(BUCKET)).await.unwrap();
    let config = RuntimeConfig {
        watermark: Watermark { image: keys::WATERMARK.into(), ..Watermark::default() },
        ..RuntimeConfig::default()
    };
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_thumbnail"));
    command
        .env_clear()
        .envs(config.to_env())
        .env(env::BUCKET, BUCKET)
        .env(env::TABLE, TABLE)
        .env(env::S3_ENDPOINT, s3.endpoint())
        .env(env::DYNAMODB_ENDPOINT, "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", s3.access_key())
        .env("AWS_SECRET_ACCESS_KEY", s3.secret_key())
        .env("AWS_REGION", s3.region())
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9");
    // Blocking, off the runtime's threads: the local S3 keeps answering meanwhile.
    let out = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stdout);
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["level"] == "ERROR")
        .unwrap_or_else(|| panic!("no error line in {log}"));
    assert_eq!(
        line["fields"]["message"],
        "the configured watermark cannot be used; the function does not start"
    );
    let error = line["fields"]["error"].as_str().unwrap();
    assert!(error.contains("settings/watermark.png is not in the bucket"), "{error}");
}
