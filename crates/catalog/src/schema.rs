//! The table's layout: key and attribute names, item kinds, statuses, and [`create_table`] for
//! the local stack and tests.
//!
//! These constants are the single source of the schema; the Terraform table definition is
//! checked against them.
//!
//! | item    | `pk`           | `sk`                 | attributes |
//! |---------|----------------|----------------------|------------|
//! | image   | `USER#<owner>` | `IMAGE#<uuidv7>`     | `type`=`image`, `id`, `owner`, `filename`, `contentType`, `size` (N bytes), `createdAt` (N ms), `status`; once edited: `title`, `description`, `tags` (SS), `revision` (N); in albums: `albums` (SS of album ids, at most 32; absent when none); pending: `expiresAt` (N s); finished: `finishedAt` (N ms); ready: `source` (M), `renditions` (L of M), `placeholder` (M); rejected or failed: `reason`, `message` |
//! | profile | `USER#<owner>` | `PROFILE`            | `type`=`profile`, `images` (N), `bytes` (N), `albums` (N); once an upload was counted against the quotas: `day` (N, UTC days since the epoch), `dayUploads` (N), `dayBytes` (N) |
//! | tag index | `USER#<owner>` | `TAG#<tag>#<uuidv7>` | `type`=`tag`, `id` |
//! | release marker | `USER#<owner>` | `RELEASED#<uuidv7>` | `type`=`released`, `expiresAt` (N s) |
//! | album   | `USER#<owner>` | `ALBUM#<uuidv7>`     | `type`=`album`, `id`, `name`, `createdAt` (N ms); while being deleted: `deleting` (BOOL true) |
//! | membership | `USER#<owner>` | `MEMBER#<albumId>#<imageId>` | `type`=`member`, `album`, `image` |
//! | account tombstone | `USER#<owner>` | `DELETED` | `type`=`deleted`, `status` (`deleting`/`deleted`), `requestedAt` (N ms), `username` (S), `pass` (N); once deleted: `deletedAt` (N ms), `expiresAt` (N s) |
//!
//! The id in `sk` is hyphenated lower-case, so the sort key orders images by id, which for
//! UUIDv7 is creation time. The same holds for albums, and for an album's memberships, which
//! sort by their image's id: an album's photos newest first are one `Query` (backwards).
//!
//! An image's `albums` set and its membership items change in one transaction (adding to or
//! removing from an album, deleting the image), each conditioned on the image's `revision`,
//! which they bump; so the set always names exactly the albums with a membership item of it.
//! While an album is being deleted it carries `deleting`, so no membership can be added to it.
//! The account tombstone exists from the moment the user asked for their account to be deleted:
//! every write that creates something is conditioned on its absence.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, StreamSpecification,
    StreamViewType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use uuid::Uuid;

use crate::{CatalogError, Owner};

/// The partition key attribute (S).
pub const PK: &str = "pk";
/// The sort key attribute (S).
pub const SK: &str = "sk";
/// The TTL attribute (N, epoch seconds): set on pending images only.
pub const TTL_ATTRIBUTE: &str = "expiresAt";
/// The billing mode, as the API and Terraform spell it.
pub const BILLING_MODE: &str = "PAY_PER_REQUEST";
/// The stream view type, as the API and Terraform spell it.
pub const STREAM_VIEW_TYPE: &str = "NEW_AND_OLD_IMAGES";
/// The shortest table name [`create_table`] accepts: dynoxide's stream shard ids
/// (`shardId-00000001-{table}`) must be at least 28 characters for the AWS SDKs to read them.
pub const MIN_TABLE_NAME_LEN: usize = 11;

/// `pk` = this + the owner id.
pub const USER_PREFIX: &str = "USER#";
/// An image's `sk` = this + its hyphenated lower-case id.
pub const IMAGE_PREFIX: &str = "IMAGE#";
/// The profile item's `sk`.
pub const PROFILE_SK: &str = "PROFILE";

/// The table stream's filter (EventBridge pattern syntax, as Lambda event source mappings take
/// it) for the clean-up: removed image items only, whether deleted through the API or expired
/// by TTL. Terraform's event source mapping gets it through the generated tfvars; the local
/// stack's stream poller applies the same pattern.
pub const REMOVED_IMAGES_FILTER: &str =
    r#"{"eventName":["REMOVE"],"dynamodb":{"Keys":{"sk":{"S":[{"prefix":"IMAGE#"}]}}}}"#;

/// A tag index item's `sk` = this + the tag + `#` + the image id: one per tag of each image, so
/// that the images with a tag are one `Query` (tags never hold `#`).
pub const TAG_PREFIX: &str = "TAG#";
/// [`TYPE`] of a tag index item.
pub const TYPE_TAG: &str = "tag";
/// Image: its title (S; absent when none).
pub const TITLE: &str = "title";
/// Image: its description (S; absent when none).
pub const DESCRIPTION: &str = "description";
/// Image: its tags (SS; absent when none).
pub const TAGS: &str = "tags";
/// Image: how many times its details were edited (N; absent means 0).
pub const REVISION: &str = "revision";

/// A released expired upload's `sk` = this + its id: the marker that makes
/// [`Catalog::release_expired`](crate::Catalog::release_expired) subtract an image once however
/// often the stream delivers its removal. It expires by TTL after [`RELEASED_MARKER_TTL_S`].
pub const RELEASED_PREFIX: &str = "RELEASED#";
/// How long a release marker is kept, in seconds: longer than the stream keeps records (a day).
pub const RELEASED_MARKER_TTL_S: u64 = 2 * 86_400;
/// [`TYPE`] of a release marker.
pub const TYPE_RELEASED: &str = "released";

/// An album's `sk` = this + its hyphenated lower-case id.
pub const ALBUM_PREFIX: &str = "ALBUM#";
/// A membership item's `sk` = this + the album id + `#` + the image id.
pub const MEMBER_PREFIX: &str = "MEMBER#";
/// The account tombstone's `sk`.
pub const TOMBSTONE_SK: &str = "DELETED";
/// [`TYPE`] of an album.
pub const TYPE_ALBUM: &str = "album";
/// [`TYPE`] of a membership item.
pub const TYPE_MEMBER: &str = "member";
/// [`TYPE`] of the account tombstone.
pub const TYPE_DELETED: &str = "deleted";
/// Album: its name (S).
pub const NAME: &str = "name";
/// Album: present (BOOL true) while it is being deleted.
pub const DELETING: &str = "deleting";
/// Membership: the album id (S).
pub const ALBUM: &str = "album";
/// Membership: the image id (S).
pub const IMAGE: &str = "image";
/// Image: the albums it is in (SS of album ids; absent when none). Profile: how many albums
/// (N).
pub const ALBUMS: &str = "albums";
/// Tombstone: when the deletion was asked for (N, epoch ms).
pub const REQUESTED_AT: &str = "requestedAt";
/// Tombstone: the identity provider's user name to delete (S).
pub const USERNAME: &str = "username";
/// Tombstone: bumped to run the deletion worker again through the stream (N).
pub const PASS: &str = "pass";
/// Tombstone: when everything was deleted (N, epoch ms).
pub const DELETED_AT: &str = "deletedAt";
/// [`STATUS`] of a tombstone whose account is being deleted.
pub const STATUS_DELETING: &str = "deleting";
/// [`STATUS`] of a tombstone whose account is deleted.
pub const STATUS_DELETED: &str = "deleted";
/// How long a `deleted` tombstone is kept, in seconds (its [`TTL_ATTRIBUTE`] is set to this
/// after `deletedAt`): longer than the stream keeps records (a day).
pub const TOMBSTONE_TTL_S: u64 = 2 * 86_400;

/// The table stream's filter (EventBridge pattern syntax) for the account deletion worker: the
/// tombstone inserted, or modified (its `pass` bumped), while its status is `deleting`.
pub const ACCOUNT_DELETION_FILTER: &str = r#"{"eventName":["INSERT","MODIFY"],"dynamodb":{"Keys":{"sk":{"S":["DELETED"]}},"NewImage":{"status":{"S":["deleting"]}}}}"#;

/// The item kind attribute (S).
pub const TYPE: &str = "type";
/// [`TYPE`] of an image item.
pub const TYPE_IMAGE: &str = "image";
/// [`TYPE`] of a profile item.
pub const TYPE_PROFILE: &str = "profile";

/// Image: its id (S, hyphenated lower-case).
pub const ID: &str = "id";
/// Image: the owner id (S).
pub const OWNER: &str = "owner";
/// Image: the file name the user gave (S).
pub const FILENAME: &str = "filename";
/// Image: the declared `Content-Type` (S).
pub const CONTENT_TYPE: &str = "contentType";
/// Image: the declared size (N, bytes).
pub const SIZE: &str = "size";
/// Image: when the upload was authorised (N, epoch ms).
pub const CREATED_AT: &str = "createdAt";
/// Image: [`STATUS_PENDING`], [`STATUS_READY`], [`STATUS_REJECTED`] or [`STATUS_FAILED`] (S).
pub const STATUS: &str = "status";
/// Image: when the outcome was recorded (N, epoch ms).
pub const FINISHED_AT: &str = "finishedAt";
/// Ready image: the decoded source (M: `format` S, `width` N, `height` N, `bytes` N).
pub const SOURCE: &str = "source";
/// Ready image: the renditions (L of M: `key` S, `size` N, `width` N, `height` N, `format` S,
/// `bytes` N).
pub const RENDITIONS: &str = "renditions";
/// Ready image: its placeholder (M: `color` S, `blurhash` S); absent on images processed before
/// placeholders existed.
pub const PLACEHOLDER: &str = "placeholder";
/// Rejected or failed image: the `RejectReason` or `FailReason` snake_case code (S).
pub const REASON: &str = "reason";
/// Rejected or failed image: the human-readable explanation (S).
pub const MESSAGE: &str = "message";
/// Profile: how many image items (N).
pub const IMAGES: &str = "images";
/// Profile: the sum of their sizes (N, bytes).
pub const BYTES: &str = "bytes";
/// Profile: the UTC day ([`crate::utc_day`]) the daily counts are of (N).
pub const DAY: &str = "day";
/// Profile: uploads started on [`DAY`] (N).
pub const DAY_UPLOADS: &str = "dayUploads";
/// Profile: bytes of those uploads (N).
pub const DAY_BYTES: &str = "dayBytes";

/// [`STATUS`] of an image waiting for its upload and thumbnails.
pub const STATUS_PENDING: &str = "pending";
/// [`STATUS`] of an image with its renditions.
pub const STATUS_READY: &str = "ready";
/// [`STATUS`] of a refused upload.
pub const STATUS_REJECTED: &str = "rejected";
/// [`STATUS`] of an upload our code could not process (not final: a later delivery may finish it).
pub const STATUS_FAILED: &str = "failed";

/// The partition key of everything `owner` has.
#[must_use]
pub fn user_pk(owner: &Owner) -> String {
    format!("{USER_PREFIX}{}", owner.as_str())
}

/// The sort key of image `id`.
#[must_use]
pub fn image_sk(id: Uuid) -> String {
    format!("{IMAGE_PREFIX}{}", id.hyphenated())
}

/// The sort key of the tag index item of `tag` on image `id`.
#[must_use]
pub fn tag_sk(tag: &str, id: Uuid) -> String {
    format!("{TAG_PREFIX}{tag}#{}", id.hyphenated())
}

/// The sort key prefix of every tag index item of `tag`.
#[must_use]
pub fn tag_prefix(tag: &str) -> String {
    format!("{TAG_PREFIX}{tag}#")
}

/// The sort key of the release marker of image `id`.
#[must_use]
pub fn released_sk(id: Uuid) -> String {
    format!("{RELEASED_PREFIX}{}", id.hyphenated())
}

/// The sort key of album `id`.
#[must_use]
pub fn album_sk(id: Uuid) -> String {
    format!("{ALBUM_PREFIX}{}", id.hyphenated())
}

/// The sort key of the membership of image `image` in album `album`.
#[must_use]
pub fn member_sk(album: Uuid, image: Uuid) -> String {
    format!("{MEMBER_PREFIX}{}#{}", album.hyphenated(), image.hyphenated())
}

/// The sort key prefix of every membership of album `album`.
#[must_use]
pub fn member_prefix(album: Uuid) -> String {
    format!("{MEMBER_PREFIX}{}#", album.hyphenated())
}

/// The album id in an album sort key, if it is one (canonical hyphenated lower-case only).
#[must_use]
pub fn parse_album_sk(sk: &str) -> Option<Uuid> {
    canonical_uuid(sk.strip_prefix(ALBUM_PREFIX)?)
}

/// The album and image ids in a membership sort key, if it is one.
#[must_use]
pub fn parse_member_sk(sk: &str) -> Option<(Uuid, Uuid)> {
    let (album, image) = sk.strip_prefix(MEMBER_PREFIX)?.split_once('#')?;
    Some((canonical_uuid(album)?, canonical_uuid(image)?))
}

fn canonical_uuid(text: &str) -> Option<Uuid> {
    let parsed = Uuid::try_parse(text).ok()?;
    (parsed.hyphenated().to_string() == text).then_some(parsed)
}

/// The owner id in a partition key, if it is one.
#[must_use]
pub fn parse_user_pk(pk: &str) -> Option<&str> {
    pk.strip_prefix(USER_PREFIX).filter(|owner| !owner.is_empty())
}

/// The image id in an image sort key, if it is one (canonical hyphenated lower-case only).
#[must_use]
pub fn parse_image_sk(sk: &str) -> Option<Uuid> {
    canonical_uuid(sk.strip_prefix(IMAGE_PREFIX)?)
}

/// What [`create_table`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableSetup {
    /// The table was created.
    Created,
    /// The table existed with the right keys (its TTL was enabled if it was not).
    Existed,
}

/// How long [`create_table`] waits for a new table to become `ACTIVE`.
const ACTIVE_WAIT: Duration = Duration::from_secs(120);

/// Creates the table as Terraform does (for the local stack and tests): `pk` (S) hash key,
/// `sk` (S) range key, on-demand billing, a `NEW_AND_OLD_IMAGES` stream, then TTL on
/// [`TTL_ATTRIBUTE`]. An existing table is kept when its keys match (and its TTL is enabled if
/// it was not), so this can run on every start of a persistent local stack.
///
/// # Errors
///
/// [`CatalogError::InvalidRequest`] for a name shorter than [`MIN_TABLE_NAME_LEN`] or an
/// existing table with other keys; [`CatalogError::Unavailable`] when a call fails or the table
/// does not become `ACTIVE` within two minutes.
pub async fn create_table(client: &Client, table: &str) -> Result<TableSetup, CatalogError> {
    if table.len() < MIN_TABLE_NAME_LEN {
        return Err(CatalogError::InvalidRequest {
            operation: "create_table",
            message: format!(
                "table name {table:?} is shorter than {MIN_TABLE_NAME_LEN} characters: the local \
                 DynamoDB's stream shard ids would then be too short for the AWS SDK to read"
            ),
        });
    }
    let failed = |operation: &'static str, transient: bool, message: String| CatalogError::Unavailable {
        operation,
        table: table.to_owned(),
        key: "(table)".to_owned(),
        transient,
        message,
    };
    let invalid = |message: String| CatalogError::InvalidRequest { operation: "create_table", message };

    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| invalid(e.to_string()))
    };
    let string_attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| invalid(e.to_string()))
    };
    let stream = StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::from(STREAM_VIEW_TYPE))
        .build()
        .map_err(|e| invalid(e.to_string()))?;

    let created = client
        .create_table()
        .table_name(table)
        .attribute_definitions(string_attr(PK)?)
        .attribute_definitions(string_attr(SK)?)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .billing_mode(BillingMode::from(BILLING_MODE))
        .stream_specification(stream)
        .send()
        .await;
    let setup = match created {
        Ok(_) => TableSetup::Created,
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {
            TableSetup::Existed
        }
        Err(e) => return Err(crate::dynamo::unavailable("create_table", table, "(table)", &e)),
    };

    // Wait for ACTIVE (immediate on the local servers; seconds on AWS), and check the keys of a
    // table that was already there.
    let deadline = tokio::time::Instant::now() + ACTIVE_WAIT;
    loop {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| crate::dynamo::unavailable("create_table", table, "(table)", &e))?;
        let description = described
            .table
            .ok_or_else(|| failed("create_table", false, "DescribeTable returned no table".into()))?;
        let keys: Vec<(String, String)> = description
            .key_schema()
            .iter()
            .map(|k| (k.attribute_name().to_owned(), k.key_type().as_str().to_owned()))
            .collect();
        let expected = [(PK.to_owned(), "HASH".to_owned()), (SK.to_owned(), "RANGE".to_owned())];
        if keys != expected {
            return Err(invalid(format!(
                "table {table} exists with the key schema {keys:?}, not {PK} (HASH) + {SK} (RANGE)"
            )));
        }
        if description.table_status() == Some(&TableStatus::Active) {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(failed(
                "create_table",
                true,
                format!("the table is still {:?} after {ACTIVE_WAIT:?}", description.table_status()),
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| crate::dynamo::unavailable("create_table", table, "(table)", &e))?;
    let current = ttl.time_to_live_description();
    let status = current.and_then(|d| d.time_to_live_status());
    let attribute = current.and_then(|d| d.attribute_name());
    match status {
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling) if attribute == Some(TTL_ATTRIBUTE) => {}
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling) => {
            return Err(invalid(format!("table {table} has TTL on {attribute:?}, not {TTL_ATTRIBUTE}")));
        }
        _ => {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(|e| invalid(e.to_string()))?;
            client
                .update_time_to_live()
                .table_name(table)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|e| crate::dynamo::unavailable("create_table", table, "(table)", &e))?;
        }
    }
    Ok(setup)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn keys_are_built_from_the_owner_and_the_id() {
        let owner = Owner::new("sub-1").unwrap();
        assert_eq!(user_pk(&owner), "USER#sub-1");
        let id = Uuid::parse_str("0190A1B2-C3D4-7E5F-8A6B-7C8D9E0F1A2B").unwrap();
        assert_eq!(image_sk(id), "IMAGE#0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b");
        assert_eq!(parse_image_sk(&image_sk(id)), Some(id));
    }

    #[test]
    fn only_canonical_image_keys_parse() {
        assert_eq!(parse_image_sk("PROFILE"), None);
        assert_eq!(parse_image_sk("IMAGE#"), None);
        assert_eq!(parse_image_sk("IMAGE#not-a-uuid"), None);
        assert_eq!(parse_image_sk("IMAGE#0190A1B2-C3D4-7E5F-8A6B-7C8D9E0F1A2B"), None);
        assert_eq!(parse_image_sk("IMAGE#0190a1b2c3d47e5f8a6b7c8d9e0f1a2b"), None);
        assert_eq!(parse_image_sk("image#0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"), None);
    }

    #[test]
    fn hyphenated_ids_sort_like_the_ids() {
        let ids: Vec<Uuid> = (0..50).map(|_| Uuid::now_v7()).collect();
        let mut by_key: Vec<Uuid> = ids.clone();
        by_key.sort_by_key(|id| image_sk(*id));
        let mut by_id = ids;
        by_id.sort();
        assert_eq!(by_key, by_id);
    }

    #[test]
    fn album_and_membership_keys_round_trip() {
        let (album, image) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(parse_album_sk(&album_sk(album)), Some(album));
        assert_eq!(parse_member_sk(&member_sk(album, image)), Some((album, image)));
        assert!(member_sk(album, image).starts_with(&member_prefix(album)));
        assert_eq!(parse_album_sk(&image_sk(album)), None);
        assert_eq!(parse_member_sk(&format!("{MEMBER_PREFIX}{album}")), None);
        assert_eq!(parse_member_sk(&format!("{MEMBER_PREFIX}{album}#x")), None);
    }

    #[test]
    fn the_account_deletion_filter_is_json_matching_the_tombstone() {
        let filter: serde_json::Value = serde_json::from_str(ACCOUNT_DELETION_FILTER).unwrap();
        assert_eq!(filter["dynamodb"]["Keys"]["sk"]["S"][0], TOMBSTONE_SK);
        assert_eq!(filter["dynamodb"]["NewImage"][STATUS]["S"][0], STATUS_DELETING);
        assert_eq!(filter["eventName"], serde_json::json!(["INSERT", "MODIFY"]));
    }
}
