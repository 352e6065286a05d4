//! The embedded server over real HTTP with the AWS SDK: start and stop, persistence across a
//! restart, the data directory lock, and the TTL sweeper.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use thumbforge_dynamo_local::{DATABASE_FILE, Error, LocalDynamo, Options};

const TABLE: &str = "thumbforge-test-items";

async fn create_table(client: &Client, ttl: bool) {
    client
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap();
    if ttl {
        client
            .update_time_to_live()
            .table_name(TABLE)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().attribute_name("expiresAt").enabled(true).build().unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
}

async fn put(client: &Client, pk: &str, extra: Option<(&str, AttributeValue)>) {
    let mut request = client.put_item().table_name(TABLE).item("pk", AttributeValue::S(pk.to_owned()));
    if let Some((name, value)) = extra {
        request = request.item(name, value);
    }
    request.send().await.unwrap();
}

async fn get(client: &Client, pk: &str) -> Option<HashMap<String, AttributeValue>> {
    client
        .get_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(pk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn serves_until_shut_down_then_refuses_connections() {
    let dynamo = LocalDynamo::start(Options::default()).await.unwrap();
    assert!(dynamo.endpoint().starts_with("http://127.0.0.1:"), "{}", dynamo.endpoint());
    assert_eq!(dynamo.data_dir(), None);
    let client = dynamo.client();

    create_table(&client, false).await;
    put(&client, "a", Some(("n", AttributeValue::N("7".into())))).await;
    let item = get(&client, "a").await.unwrap();
    assert_eq!(item["n"], AttributeValue::N("7".into()));
    let tables = client.list_tables().send().await.unwrap();
    assert_eq!(tables.table_names(), [TABLE]);

    let addr = dynamo.local_addr();
    dynamo.shutdown().await;
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "still accepting connections on {addr} after shutdown");
}

#[tokio::test]
async fn data_survives_a_restart_on_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();

    let first = LocalDynamo::start(Options::default().data_dir(dir.path())).await.unwrap();
    assert_eq!(first.data_dir(), Some(dir.path().canonicalize().unwrap().as_path()));
    let client = first.client();
    create_table(&client, false).await;
    put(&client, "kept", Some(("v", AttributeValue::S("hello".into())))).await;
    first.shutdown().await;
    assert!(dir.path().join(DATABASE_FILE).is_file(), "no {DATABASE_FILE} in the data directory");

    let second = LocalDynamo::start(Options::default().data_dir(dir.path())).await.unwrap();
    let client = second.client();
    let item = get(&client, "kept").await.expect("the item written before the restart");
    assert_eq!(item["v"], AttributeValue::S("hello".into()));
    second.shutdown().await;
}

#[tokio::test]
async fn a_second_server_on_a_locked_directory_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let first = LocalDynamo::start(Options::default().data_dir(dir.path())).await.unwrap();

    let error = LocalDynamo::start(Options::default().data_dir(dir.path())).await.unwrap_err();
    assert!(matches!(error, Error::Locked { .. }), "{error:?}");
    let message = error.to_string();
    let canonical = dir.path().canonicalize().unwrap();
    assert!(message.contains(&canonical.display().to_string()), "{message}");
    assert!(message.contains("in use by another server"), "{message}");

    // The first server is unaffected, and the lock goes with it.
    let client = first.client();
    create_table(&client, false).await;
    first.shutdown().await;
    let again = LocalDynamo::start(Options::default().data_dir(dir.path())).await.unwrap();
    again.shutdown().await;
}

#[tokio::test]
async fn the_sweeper_removes_expired_items_and_keeps_live_ones() {
    let dynamo =
        LocalDynamo::start(Options::default().ttl_sweep_every(Duration::from_millis(100))).await.unwrap();
    let client = dynamo.client();
    create_table(&client, true).await;

    let past = (now_s() - 60).to_string();
    let future = (now_s() + 3600).to_string();
    put(&client, "expired", Some(("expiresAt", AttributeValue::N(past)))).await;
    put(&client, "live", Some(("expiresAt", AttributeValue::N(future)))).await;
    put(&client, "no-ttl", None).await;

    // Waits for the timer's sweep (bounded, so a sweeper that never runs fails the test).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while get(&client, "expired").await.is_some() {
        assert!(tokio::time::Instant::now() < deadline, "the expired item was never swept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(get(&client, "live").await.is_some(), "an item with a future expiry was swept");
    assert!(get(&client, "no-ttl").await.is_some(), "an item without the TTL attribute was swept");
    dynamo.shutdown().await;
}

#[tokio::test]
async fn an_on_demand_sweep_reports_what_it_deleted() {
    // A sweep interval far beyond the test (the first timed sweep comes one interval after
    // start), so only the explicit sweeps run.
    let dynamo =
        LocalDynamo::start(Options::default().ttl_sweep_every(Duration::from_secs(3600))).await.unwrap();
    let client = dynamo.client();
    create_table(&client, true).await;
    for pk in ["x", "y"] {
        put(&client, pk, Some(("expiresAt", AttributeValue::N((now_s() - 5).to_string())))).await;
    }
    assert_eq!(dynamo.sweep_ttl().await.unwrap(), 2);
    assert!(get(&client, "x").await.is_none());
    assert_eq!(dynamo.sweep_ttl().await.unwrap(), 0);
    dynamo.shutdown().await;
}

#[tokio::test]
async fn a_dropped_server_stops_and_frees_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let first = LocalDynamo::start(Options::default().data_dir(dir.path())).await.unwrap();
    let client = first.client();
    create_table(&client, false).await;
    put(&client, "before-drop", None).await;
    let addr = first.local_addr();
    drop(first);

    // The background tasks end on their own; the lock goes with the last of them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let second = loop {
        match LocalDynamo::start(Options::default().data_dir(dir.path())).await {
            Ok(server) => break server,
            Err(Error::Locked { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => panic!("the directory was never freed: {error}"),
        }
    };
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the dropped server still listens");
    assert!(get(&second.client(), "before-drop").await.is_some());
    second.shutdown().await;
}
