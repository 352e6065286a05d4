//! The contract suite against both implementations: `MemoryCatalog`, and `DynamoCatalog` over
//! real HTTP on the embedded DynamoDB server (dynoxide); plus the table setup and the errors
//! only the DynamoDB implementation can meet (corrupt items, a missing table, a dead server).

#![allow(clippy::unwrap_used, reason = "tests")]

use aws_sdk_dynamodb::types::{AttributeValue, StreamViewType, TimeToLiveStatus};
use thumbforge_catalog::contract::{self, CHECKS};
use thumbforge_catalog::schema::{self, TableSetup};
use thumbforge_catalog::{Catalog, CatalogError, DynamoCatalog, MemoryCatalog, NewImage, Owner};
use thumbforge_dynamo_local::{LocalDynamo, Options};
use uuid::Uuid;

const TABLE: &str = "thumbforge-test-images";

/// An embedded server with the table created; keep the server alive as long as the catalog.
async fn dynamo() -> (LocalDynamo, DynamoCatalog) {
    let server = LocalDynamo::start(Options::default()).await.unwrap();
    let client = server.client();
    assert_eq!(schema::create_table(&client, TABLE).await.unwrap(), TableSetup::Created);
    (server, DynamoCatalog::new(client, TABLE))
}

/// One test per check and implementation, so a failure names both.
macro_rules! contract_tests {
    ($($check:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $check() {
                    let catalog = thumbforge_catalog::MemoryCatalog::new();
                    if let Err(e) = thumbforge_catalog::contract::$check(&catalog).await {
                        panic!("{}", e);
                    }
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let (server, catalog) = super::dynamo().await;
                    if let Err(e) = thumbforge_catalog::contract::$check(&catalog).await {
                        panic!("{}", e);
                    }
                    server.shutdown().await;
                }
            )*
        }
        #[test]
        fn every_check_has_a_test() {
            let tested = [$(stringify!($check)),*];
            assert_eq!(tested, CHECKS);
        }
    };
}

contract_tests!(
    create_then_get_round_trips,
    duplicate_create_is_refused,
    list_pages_newest_first,
    owners_are_isolated,
    foreign_cursor_stays_in_partition,
    finish_records_the_outcome,
    second_finish_changes_nothing,
    finish_after_delete_creates_nothing,
    delete_returns_the_record_and_counts_follow,
    concurrent_creates_and_deletes_count_exactly,
    finish_racing_delete_leaves_nothing,
    page_size_is_checked,
    release_expired_subtracts_once,
    edits_set_and_clear_details_and_keep_the_tag_index,
    tagged_listing_pages_newest_first_inside_the_partition,
    concurrent_edits_and_a_delete_leave_one_consistent_state,
    albums_are_invisible_to_other_owners,
    albums_hold_each_photo_once_and_count_it,
    deleting_an_album_keeps_its_photos,
    deleting_a_photo_removes_its_memberships,
    concurrent_album_changes_leave_one_consistent_state,
    album_listing_pages_newest_first_with_a_tag_filter,
    album_limits_are_enforced,
    account_deletion_refuses_writes_then_clears_everything,
    quotas_refuse_what_would_exceed_them_and_change_nothing,
    concurrent_creates_at_a_quota_never_exceed_it,
    a_failed_image_takes_a_later_outcome,
);

#[tokio::test]
async fn run_all_passes_on_memory_twice_over_the_same_data() {
    let catalog = MemoryCatalog::new();
    assert_eq!(contract::run_all(&catalog).await.unwrap(), CHECKS.len());
    assert_eq!(contract::run_all(&catalog).await.unwrap(), CHECKS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_passes_on_a_shared_non_empty_table() {
    let (server, catalog) = dynamo().await;
    assert_eq!(contract::run_all(&catalog).await.unwrap(), CHECKS.len());
    // Again, over everything the first run left behind.
    assert_eq!(contract::run_all(&catalog).await.unwrap(), CHECKS.len());
    server.shutdown().await;
}

#[tokio::test]
async fn create_table_sets_keys_billing_stream_and_ttl_and_is_idempotent() {
    let server = LocalDynamo::start(Options::default()).await.unwrap();
    let client = server.client();
    assert_eq!(schema::create_table(&client, TABLE).await.unwrap(), TableSetup::Created);
    assert_eq!(schema::create_table(&client, TABLE).await.unwrap(), TableSetup::Existed);

    let table = client.describe_table().table_name(TABLE).send().await.unwrap().table.unwrap();
    let keys: Vec<(&str, &str)> =
        table.key_schema().iter().map(|k| (k.attribute_name(), k.key_type().as_str())).collect();
    assert_eq!(keys, [(schema::PK, "HASH"), (schema::SK, "RANGE")]);
    let mut attrs: Vec<(&str, &str)> = table
        .attribute_definitions()
        .iter()
        .map(|a| (a.attribute_name(), a.attribute_type().as_str()))
        .collect();
    attrs.sort_unstable();
    assert_eq!(attrs, [(schema::PK, "S"), (schema::SK, "S")]);
    let billing = table.billing_mode_summary().and_then(|b| b.billing_mode()).map(|m| m.as_str());
    assert_eq!(billing, Some(schema::BILLING_MODE));
    let stream = table.stream_specification().unwrap();
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type(), Some(&StreamViewType::from(schema::STREAM_VIEW_TYPE)));
    assert_eq!(stream.stream_view_type(), Some(&StreamViewType::NewAndOldImages));

    let ttl = client.describe_time_to_live().table_name(TABLE).send().await.unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(ttl.attribute_name(), Some(schema::TTL_ATTRIBUTE));
    server.shutdown().await;
}

#[tokio::test]
async fn create_table_refuses_short_names_and_foreign_tables() {
    let server = LocalDynamo::start(Options::default()).await.unwrap();
    let client = server.client();
    let error = schema::create_table(&client, "images").await.unwrap_err();
    assert!(matches!(error, CatalogError::InvalidRequest { .. }), "{error:?}");
    assert!(error.to_string().contains("shorter than 11"), "{error}");
    assert!(client.list_tables().send().await.unwrap().table_names().is_empty());

    client
        .create_table()
        .table_name("someone-elses-table")
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let error = schema::create_table(&client, "someone-elses-table").await.unwrap_err();
    assert!(error.to_string().contains("exists with the key schema"), "{error}");
    server.shutdown().await;
}

fn image() -> NewImage {
    NewImage {
        id: Uuid::now_v7(),
        filename: "x.jpg".into(),
        content_type: "image/jpeg".into(),
        size: 10,
        created_at_ms: 1,
        expires_at_s: 4_000_000_000,
    }
}

#[tokio::test]
async fn a_corrupt_item_is_reported_with_its_key() {
    let (server, catalog) = dynamo().await;
    let owner = Owner::new("corrupt-owner").unwrap();
    let image = image();
    catalog.create(&owner, &image).await.unwrap();
    let sk = schema::image_sk(image.id);
    catalog
        .client()
        .update_item()
        .table_name(TABLE)
        .key(schema::PK, AttributeValue::S("USER#corrupt-owner".into()))
        .key(schema::SK, AttributeValue::S(sk.clone()))
        .update_expression("SET #size = :text")
        .expression_attribute_names("#size", schema::SIZE)
        .expression_attribute_values(":text", AttributeValue::S("ten".into()))
        .send()
        .await
        .unwrap();

    let error = catalog.get(&owner, image.id).await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, CatalogError::Corrupt { .. }), "{error:?}");
    assert!(message.contains(TABLE), "{message}");
    assert!(message.contains(&format!("pk=USER#corrupt-owner sk={sk}")), "{message}");
    assert!(message.contains("size is of type S, not N"), "{message}");
    let listed = catalog.list(&owner, 10, None).await.unwrap_err();
    assert!(matches!(listed, CatalogError::Corrupt { .. }), "{listed:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_missing_table_is_a_permanent_error_naming_it() {
    let server = LocalDynamo::start(Options::default()).await.unwrap();
    let catalog = DynamoCatalog::new(server.client(), "thumbforge-no-such-table");
    let owner = Owner::new("o").unwrap();
    let error = catalog.get(&owner, Uuid::nil()).await.unwrap_err();
    assert!(matches!(error, CatalogError::Unavailable { transient: false, .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.starts_with("get in thumbforge-no-such-table at pk=USER#o sk=IMAGE#"), "{message}");
    assert!(message.contains("ResourceNotFoundException"), "{message}");
    let error = catalog.create(&owner, &image()).await.unwrap_err();
    assert!(
        matches!(error, CatalogError::Unavailable { operation: "create", transient: false, .. }),
        "{error:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_that_is_gone_is_a_transient_error() {
    let server = LocalDynamo::start(Options::default()).await.unwrap();
    let config =
        server.client_config().retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled());
    let catalog = DynamoCatalog::new(aws_sdk_dynamodb::Client::from_conf(config.build()), TABLE);
    server.shutdown().await;
    let owner = Owner::new("o").unwrap();
    let error = catalog.profile(&owner).await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert!(error.to_string().starts_with(&format!("profile in {TABLE} at pk=USER#o sk=PROFILE")), "{error}");
}

/// Every item of `owner`'s partition, as `(sk, type)`.
async fn partition(catalog: &DynamoCatalog, owner: &Owner) -> Vec<(String, String)> {
    let out = catalog
        .client()
        .query()
        .table_name(TABLE)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", schema::PK)
        .expression_attribute_values(":pk", AttributeValue::S(schema::user_pk(owner)))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let text = |item: &std::collections::HashMap<String, AttributeValue>, name: &str| match item.get(name) {
        Some(AttributeValue::S(text)) => text.clone(),
        other => format!("{other:?}"),
    };
    out.items().iter().map(|item| (text(item, schema::SK), text(item, schema::TYPE))).collect()
}

#[tokio::test]
async fn an_interrupted_album_delete_completes_in_memory() {
    let catalog = MemoryCatalog::new();
    let interrupt = |owner: Owner, album: Uuid| {
        let marked = catalog.interrupt_album_delete(&owner, album);
        async move { if marked { Ok(()) } else { Err("no album to interrupt".to_owned()) } }
    };
    contract::interrupted_album_delete_completes(&catalog, interrupt).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_album_delete_completes_in_dynamodb() {
    let (server, catalog) = dynamo().await;
    let client = catalog.client().clone();
    let interrupt = |owner: Owner, album: Uuid| async move {
        // What the first step of delete_album writes, and nothing more.
        client
            .update_item()
            .table_name(TABLE)
            .key(schema::PK, AttributeValue::S(schema::user_pk(&owner)))
            .key(schema::SK, AttributeValue::S(schema::album_sk(album)))
            .update_expression("SET #deleting = :true")
            .expression_attribute_names("#deleting", schema::DELETING)
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    contract::interrupted_album_delete_completes(&catalog, interrupt).await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_photo_leaves_no_membership_or_tag_item() {
    use thumbforge_catalog::{Edit, Membership, NewAlbum};
    let (server, catalog) = dynamo().await;
    let owner = Owner::new(format!("raw-{}", Uuid::now_v7())).unwrap();
    let photo = image();
    catalog.create(&owner, &photo).await.unwrap();
    let edit = Edit { tags: Some(vec!["a".into(), "b".into()]), ..Edit::default() };
    catalog.edit(&owner, photo.id, &edit).await.unwrap();
    let mut albums = Vec::new();
    for i in 0..3 {
        let album = NewAlbum { id: Uuid::now_v7(), name: format!("album {i}"), created_at_ms: 1 };
        catalog.create_album(&owner, &album).await.unwrap();
        assert_eq!(catalog.add_to_album(&owner, album.id, photo.id).await.unwrap(), Membership::Added);
        albums.push(album.id);
    }
    let kinds = |items: &[(String, String)], kind: &str| items.iter().filter(|(_, t)| t == kind).count();
    let before = partition(&catalog, &owner).await;
    assert_eq!(
        (kinds(&before, "member"), kinds(&before, "tag"), kinds(&before, "album")),
        (3, 2, 3),
        "{before:?}"
    );
    let item = catalog
        .client()
        .get_item()
        .table_name(TABLE)
        .key(schema::PK, AttributeValue::S(schema::user_pk(&owner)))
        .key(schema::SK, AttributeValue::S(schema::image_sk(photo.id)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let Some(AttributeValue::Ss(set)) = item.get(schema::ALBUMS) else { panic!("{item:?}") };
    assert_eq!(set.len(), 3);

    catalog.delete(&owner, photo.id).await.unwrap().unwrap();
    let after = partition(&catalog, &owner).await;
    assert!(after.iter().all(|(sk, _)| !sk.starts_with("MEMBER#") && !sk.starts_with("TAG#")), "{after:?}");
    assert_eq!(kinds(&after, "album"), 3, "{after:?}");
    // Taking a photo out of its last album removes the attribute (DynamoDB has no empty set).
    let other = image();
    catalog.create(&owner, &other).await.unwrap();
    catalog.add_to_album(&owner, albums[0], other.id).await.unwrap();
    catalog.remove_from_album(&owner, albums[0], other.id).await.unwrap();
    assert_eq!(catalog.get(&owner, other.id).await.unwrap().unwrap().albums, Vec::<Uuid>::new());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_leaves_only_its_tombstone() {
    let (server, catalog) = dynamo().await;
    let memory = MemoryCatalog::new();
    // The contract's account check, then the partition it used, read raw.
    contract::account_deletion_refuses_writes_then_clears_everything(&catalog).await.unwrap();
    contract::account_deletion_refuses_writes_then_clears_everything(&memory).await.unwrap();
    let scanned = catalog.client().scan().table_name(TABLE).send().await.unwrap();
    let items = scanned.items();
    assert!(!items.is_empty());
    for item in items {
        let sk = item.get(schema::SK).cloned();
        assert_eq!(sk, Some(AttributeValue::S(schema::TOMBSTONE_SK.into())), "{item:?}");
        assert_eq!(item.get(schema::STATUS), Some(&AttributeValue::S(schema::STATUS_DELETED.into())));
        let number = |name: &str| match item.get(name) {
            Some(AttributeValue::N(n)) => n.parse::<u64>().unwrap(),
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(
            number(schema::TTL_ATTRIBUTE),
            number(schema::DELETED_AT) / 1000 + schema::TOMBSTONE_TTL_S
        );
        assert!(matches!(item.get(schema::USERNAME), Some(AttributeValue::S(u)) if u == "alice@example.com"));
        assert_eq!(number(schema::PASS), 1);
    }
    server.shutdown().await;
}
