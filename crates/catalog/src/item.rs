//! Image, profile, album and tombstone items: building them from the model and reading them
//! back.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value};
use thumbforge_core::manifest::Outcome;

use crate::attr::{attr_to_json, json_to_attr, type_name};
use crate::schema::{
    ALBUM, ALBUM_PREFIX, ALBUMS, CONTENT_TYPE, CREATED_AT, DELETED_AT, DELETING, DESCRIPTION, FILENAME,
    FINISHED_AT, ID, IMAGE, IMAGE_PREFIX, MESSAGE, NAME, OWNER, PASS, PK, PLACEHOLDER, REASON, RENDITIONS,
    REQUESTED_AT, REVISION, SIZE, SK, SOURCE, STATUS, STATUS_DELETED, STATUS_DELETING, STATUS_FAILED,
    STATUS_PENDING, STATUS_READY, STATUS_REJECTED, TAGS, TITLE, TOMBSTONE_SK, TTL_ATTRIBUTE, TYPE,
    TYPE_ALBUM, TYPE_DELETED, TYPE_IMAGE, TYPE_MEMBER, USERNAME, album_sk, image_sk, member_sk,
    parse_album_sk, parse_image_sk, user_pk,
};
use crate::{
    AccountState, CatalogError, Details, ImageRecord, ImageState, NewAlbum, NewImage, Owner, Profile, Usage,
};

/// An item as the SDK carries it.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// The key of `owner`'s image `id`.
pub(crate) fn image_key(owner: &Owner, id: uuid::Uuid) -> Item {
    HashMap::from([(PK.to_owned(), s(user_pk(owner))), (SK.to_owned(), s(image_sk(id)))])
}

/// The key of `owner`'s profile.
pub(crate) fn profile_key(owner: &Owner) -> Item {
    HashMap::from([
        (PK.to_owned(), s(user_pk(owner))),
        (SK.to_owned(), s(crate::schema::PROFILE_SK.to_owned())),
    ])
}

/// The key of `owner`'s album `id`.
pub(crate) fn album_key(owner: &Owner, id: uuid::Uuid) -> Item {
    HashMap::from([(PK.to_owned(), s(user_pk(owner))), (SK.to_owned(), s(album_sk(id)))])
}

/// The key of the membership of `image` in `album`.
pub(crate) fn member_key(owner: &Owner, album: uuid::Uuid, image: uuid::Uuid) -> Item {
    HashMap::from([(PK.to_owned(), s(user_pk(owner))), (SK.to_owned(), s(member_sk(album, image)))])
}

/// The key of `owner`'s account tombstone.
pub(crate) fn tombstone_key(owner: &Owner) -> Item {
    HashMap::from([(PK.to_owned(), s(user_pk(owner))), (SK.to_owned(), s(TOMBSTONE_SK.to_owned()))])
}

/// A new album item.
pub(crate) fn album_item(owner: &Owner, album: &NewAlbum) -> Item {
    let mut item = album_key(owner, album.id);
    item.extend([
        (TYPE.to_owned(), s(TYPE_ALBUM.to_owned())),
        (ID.to_owned(), s(album.id.hyphenated().to_string())),
        (NAME.to_owned(), s(album.name.clone())),
        (CREATED_AT.to_owned(), n(album.created_at_ms)),
    ]);
    item
}

/// A membership item.
pub(crate) fn member_item(owner: &Owner, album: uuid::Uuid, image: uuid::Uuid) -> Item {
    let mut item = member_key(owner, album, image);
    item.extend([
        (TYPE.to_owned(), s(TYPE_MEMBER.to_owned())),
        (ALBUM.to_owned(), s(album.hyphenated().to_string())),
        (IMAGE.to_owned(), s(image.hyphenated().to_string())),
    ]);
    item
}

/// A new `deleting` tombstone.
pub(crate) fn tombstone_item(owner: &Owner, username: &str, now_ms: u64) -> Item {
    let mut item = tombstone_key(owner);
    item.extend([
        (TYPE.to_owned(), s(TYPE_DELETED.to_owned())),
        (STATUS.to_owned(), s(STATUS_DELETING.to_owned())),
        (REQUESTED_AT.to_owned(), n(now_ms)),
        (USERNAME.to_owned(), s(username.to_owned())),
        (PASS.to_owned(), n(0)),
    ]);
    item
}

/// An album item read back: the album (count and cover not filled in) and whether it is being
/// deleted.
pub(crate) fn decode_album(item: &Item, table: &str) -> Result<(NewAlbum, bool), CatalogError> {
    let corrupt = corrupt_in(item, table);
    let sk = key_text(item, SK);
    let id =
        parse_album_sk(&sk).ok_or_else(|| corrupt(format!("the sort key is not {ALBUM_PREFIX}<uuid>")))?;
    let kind = string(item, TYPE).map_err(&corrupt)?;
    if kind != TYPE_ALBUM {
        return Err(corrupt(format!("{TYPE} is {kind:?}, not {TYPE_ALBUM:?}")));
    }
    let deleting = match item.get(DELETING) {
        None => false,
        Some(AttributeValue::Bool(flag)) => *flag,
        Some(other) => return Err(corrupt(format!("{DELETING} is of type {}, not BOOL", type_name(other)))),
    };
    let album = NewAlbum {
        id,
        name: string(item, NAME).map_err(&corrupt)?,
        created_at_ms: number(item, CREATED_AT).map_err(&corrupt)?,
    };
    Ok((album, deleting))
}

/// The tombstone read back (`None` = no tombstone: active).
pub(crate) fn decode_tombstone(item: Option<&Item>, table: &str) -> Result<AccountState, CatalogError> {
    let Some(item) = item else { return Ok(AccountState::Active) };
    let corrupt = corrupt_in(item, table);
    let requested_at_ms = number(item, REQUESTED_AT).map_err(&corrupt)?;
    match string(item, STATUS).map_err(&corrupt)?.as_str() {
        STATUS_DELETING => Ok(AccountState::Deleting {
            requested_at_ms,
            pass: optional_number(item, PASS).map_err(&corrupt)?.unwrap_or(0),
            username: string(item, USERNAME).map_err(&corrupt)?,
        }),
        STATUS_DELETED => Ok(AccountState::Deleted {
            requested_at_ms,
            deleted_at_ms: number(item, DELETED_AT).map_err(&corrupt)?,
        }),
        other => Err(corrupt(format!("unknown {STATUS} {other:?}"))),
    }
}

/// A [`CatalogError::Corrupt`] maker for `item`.
fn corrupt_in<'a>(item: &'a Item, table: &'a str) -> impl Fn(String) -> CatalogError + 'a {
    move |what| CatalogError::Corrupt {
        table: table.to_owned(),
        pk: key_text(item, PK),
        sk: key_text(item, SK),
        what,
    }
}

/// A new pending image item.
pub(crate) fn pending_item(owner: &Owner, image: &NewImage) -> Item {
    let mut item = image_key(owner, image.id);
    item.extend([
        (TYPE.to_owned(), s(TYPE_IMAGE.to_owned())),
        (ID.to_owned(), s(image.id.hyphenated().to_string())),
        (OWNER.to_owned(), s(owner.as_str().to_owned())),
        (FILENAME.to_owned(), s(image.filename.clone())),
        (CONTENT_TYPE.to_owned(), s(image.content_type.clone())),
        (SIZE.to_owned(), n(image.size)),
        (CREATED_AT.to_owned(), n(image.created_at_ms)),
        (STATUS.to_owned(), s(STATUS_PENDING.to_owned())),
        (TTL_ATTRIBUTE.to_owned(), n(image.expires_at_s)),
    ]);
    item
}

/// The attributes an outcome sets on an image: `status` plus `source` and `renditions`
/// (ready) or `reason` and `message` (rejected, failed), from the outcome's serde form.
pub(crate) fn outcome_attrs(outcome: &Outcome) -> Result<Vec<(&'static str, AttributeValue)>, CatalogError> {
    let value = serde_json::to_value(outcome).map_err(|e| CatalogError::InvalidRequest {
        operation: "finish",
        message: format!("the outcome does not serialise: {e}"),
    })?;
    let field = |name: &str| value.get(name).map(json_to_attr).unwrap_or(AttributeValue::Null(true));
    Ok(match outcome {
        Outcome::Ready { placeholder, .. } => {
            let mut attrs = vec![
                (STATUS, s(STATUS_READY.to_owned())),
                (SOURCE, field("source")),
                (RENDITIONS, field("renditions")),
            ];
            if placeholder.is_some() {
                attrs.push((PLACEHOLDER, field("placeholder")));
            }
            attrs
        }
        Outcome::Rejected { .. } => vec![
            (STATUS, s(STATUS_REJECTED.to_owned())),
            (REASON, field("reason")),
            (MESSAGE, field("message")),
        ],
        Outcome::Failed { .. } => vec![
            (STATUS, s(STATUS_FAILED.to_owned())),
            (REASON, field("reason")),
            (MESSAGE, field("message")),
        ],
    })
}

/// The outcome attributes an outcome does not set, removed when it is recorded (a failed image
/// that becomes ready loses its `reason` and `message`).
pub(crate) fn stale_outcome_attrs(outcome: &Outcome) -> &'static [&'static str] {
    match outcome {
        Outcome::Ready { .. } => &[REASON, MESSAGE],
        Outcome::Rejected { .. } | Outcome::Failed { .. } => &[SOURCE, RENDITIONS, PLACEHOLDER],
    }
}

/// Reads an image item; `table` names it in errors.
pub(crate) fn decode_image(item: &Item, table: &str) -> Result<ImageRecord, CatalogError> {
    let pk = key_text(item, PK);
    let sk = key_text(item, SK);
    let corrupt = |what: String| CatalogError::Corrupt {
        table: table.to_owned(),
        pk: pk.clone(),
        sk: sk.clone(),
        what,
    };

    let sk_id =
        parse_image_sk(&sk).ok_or_else(|| corrupt(format!("the sort key is not {IMAGE_PREFIX}<uuid>")))?;
    let id_text = string(item, ID).map_err(&corrupt)?;
    if id_text != sk_id.hyphenated().to_string() {
        return Err(corrupt(format!("{ID} {id_text:?} differs from the sort key's id")));
    }
    let owner = string(item, OWNER).map_err(&corrupt)?;
    if pk != format!("{}{owner}", crate::schema::USER_PREFIX) {
        return Err(corrupt(format!("{OWNER} {owner:?} differs from the partition key")));
    }
    let kind = string(item, TYPE).map_err(&corrupt)?;
    if kind != TYPE_IMAGE {
        return Err(corrupt(format!("{TYPE} is {kind:?}, not {TYPE_IMAGE:?}")));
    }
    let status = string(item, STATUS).map_err(&corrupt)?;
    let state = match status.as_str() {
        STATUS_PENDING => ImageState::Pending,
        STATUS_READY | STATUS_REJECTED | STATUS_FAILED => {
            let names: &[&str] =
                if status == STATUS_READY { &[SOURCE, RENDITIONS] } else { &[REASON, MESSAGE] };
            let mut fields = Map::new();
            fields.insert(STATUS.to_owned(), Value::String(status.clone()));
            for name in names {
                let value =
                    item.get(*name).ok_or_else(|| corrupt(format!("a {status} image has no {name}")))?;
                let json = attr_to_json(value).map_err(|e| corrupt(format!("{name}: {e}")))?;
                fields.insert((*name).to_owned(), json);
            }
            // Optional: images made before placeholders existed have none.
            if status == STATUS_READY
                && let Some(value) = item.get(PLACEHOLDER)
            {
                let json = attr_to_json(value).map_err(|e| corrupt(format!("{PLACEHOLDER}: {e}")))?;
                fields.insert(PLACEHOLDER.to_owned(), json);
            }
            let outcome: Outcome = serde_json::from_value(Value::Object(fields))
                .map_err(|e| corrupt(format!("the {status} outcome does not read: {e}")))?;
            ImageState::Finished(outcome)
        }
        other => return Err(corrupt(format!("unknown {STATUS} {other:?}"))),
    };
    let finished_at_ms = optional_number(item, FINISHED_AT).map_err(&corrupt)?;
    if matches!(state, ImageState::Finished(_)) && finished_at_ms.is_none() {
        return Err(corrupt(format!("a {status} image has no {FINISHED_AT}")));
    }
    Ok(ImageRecord {
        id: sk_id,
        owner,
        filename: string(item, FILENAME).map_err(&corrupt)?,
        content_type: string(item, CONTENT_TYPE).map_err(&corrupt)?,
        size: number(item, SIZE).map_err(&corrupt)?,
        created_at_ms: number(item, CREATED_AT).map_err(&corrupt)?,
        finished_at_ms,
        expires_at_s: optional_number(item, TTL_ATTRIBUTE).map_err(&corrupt)?,
        state,
        details: Details {
            title: optional_string(item, TITLE).map_err(&corrupt)?,
            description: optional_string(item, DESCRIPTION).map_err(&corrupt)?,
            tags: string_set(item, TAGS).map_err(&corrupt)?,
        },
        revision: optional_number(item, REVISION).map_err(&corrupt)?.unwrap_or(0),
        albums: uuid_set(item, ALBUMS).map_err(&corrupt)?,
    })
}

/// Reads a profile item (`None` = no item: zero counts).
pub(crate) fn decode_profile(item: Option<&Item>, table: &str) -> Result<Profile, CatalogError> {
    let Some(item) = item else { return Ok(Profile::default()) };
    let corrupt = |what: String| CatalogError::Corrupt {
        table: table.to_owned(),
        pk: key_text(item, PK),
        sk: key_text(item, SK),
        what,
    };
    Ok(Profile {
        images: optional_number(item, crate::schema::IMAGES).map_err(&corrupt)?.unwrap_or(0),
        bytes: optional_number(item, crate::schema::BYTES).map_err(&corrupt)?.unwrap_or(0),
        albums: optional_number(item, ALBUMS).map_err(&corrupt)?.unwrap_or(0),
    })
}

/// What a profile item says of its owner's quota usage on `day` (the daily counts are zero
/// when they are of another day), with the day they are of (`None`: never counted).
pub(crate) fn decode_usage(
    item: Option<&Item>,
    day: u64,
    table: &str,
) -> Result<(Usage, Option<u64>), CatalogError> {
    let profile = decode_profile(item, table)?;
    let Some(item) = item else { return Ok((Usage::default(), None)) };
    let corrupt = |what: String| CatalogError::Corrupt {
        table: table.to_owned(),
        pk: key_text(item, PK),
        sk: key_text(item, SK),
        what,
    };
    let counted = optional_number(item, crate::schema::DAY).map_err(&corrupt)?;
    let mut usage = Usage { photos: profile.images, bytes: profile.bytes, ..Usage::default() };
    if counted == Some(day) {
        usage.uploads_today =
            optional_number(item, crate::schema::DAY_UPLOADS).map_err(&corrupt)?.unwrap_or(0);
        usage.bytes_today = optional_number(item, crate::schema::DAY_BYTES).map_err(&corrupt)?.unwrap_or(0);
    }
    Ok((usage, counted))
}

/// A key attribute's text for error messages (or a description of what is there instead).
fn key_text(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(text)) => text.clone(),
        Some(other) => format!("<{}>", type_name(other)),
        None => "<missing>".to_owned(),
    }
}

fn string(item: &Item, name: &str) -> Result<String, String> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Ok(text.clone()),
        Some(other) => Err(format!("{name} is of type {}, not S", type_name(other))),
        None => Err(format!("no {name}")),
    }
}

fn optional_string(item: &Item, name: &str) -> Result<Option<String>, String> {
    match item.get(name) {
        None => Ok(None),
        Some(_) => string(item, name).map(Some),
    }
}

/// A string set, sorted (absent: empty; DynamoDB has no empty sets).
fn string_set(item: &Item, name: &str) -> Result<Vec<String>, String> {
    match item.get(name) {
        None => Ok(Vec::new()),
        Some(AttributeValue::Ss(items)) => {
            let mut items = items.clone();
            items.sort_unstable();
            Ok(items)
        }
        Some(other) => Err(format!("{name} is of type {}, not SS", type_name(other))),
    }
}

/// A string set of canonical ids, sorted (absent: empty).
fn uuid_set(item: &Item, name: &str) -> Result<Vec<uuid::Uuid>, String> {
    let mut ids = Vec::new();
    for text in string_set(item, name)? {
        let id = uuid::Uuid::try_parse(&text)
            .ok()
            .filter(|id| id.hyphenated().to_string() == text)
            .ok_or_else(|| format!("{name} holds {text:?}, not a canonical id"))?;
        ids.push(id);
    }
    ids.sort_unstable();
    Ok(ids)
}

fn number(item: &Item, name: &str) -> Result<u64, String> {
    optional_number(item, name)?.ok_or_else(|| format!("no {name}"))
}

fn optional_number(item: &Item, name: &str) -> Result<Option<u64>, String> {
    match item.get(name) {
        Some(AttributeValue::N(text)) => text
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("{name} is {text:?}, not a non-negative integer")),
        Some(other) => Err(format!("{name} is of type {}, not N", type_name(other))),
        None => Ok(None),
    }
}

pub(crate) fn s(text: String) -> AttributeValue {
    AttributeValue::S(text)
}

pub(crate) fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use thumbforge_core::manifest::{RejectReason, Rendition, Source};
    use thumbforge_core::{InputFormat, OutputFormat};
    use uuid::Uuid;

    use super::*;

    fn owner() -> Owner {
        Owner::new("sub-1").unwrap()
    }

    fn new_image() -> NewImage {
        NewImage {
            id: Uuid::parse_str("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b").unwrap(),
            filename: "cat.jpg".into(),
            content_type: "image/jpeg".into(),
            size: 1234,
            created_at_ms: 1_700_000_000_123,
            expires_at_s: 1_700_086_400,
        }
    }

    fn ready() -> Outcome {
        Outcome::Ready {
            placeholder: Some(thumbforge_core::manifest::Placeholder {
                color: "#102030".into(),
                blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj".into(),
            }),
            source: Source { format: InputFormat::Jpeg, width: 4000, height: 3000, bytes: 1234 },
            renditions: vec![Rendition {
                key: "thumbs/x/256.jpg".into(),
                size: 256,
                width: 256,
                height: 192,
                format: OutputFormat::Jpeg,
                bytes: 9000,
            }],
        }
    }

    fn finished(outcome: &Outcome) -> Item {
        let mut item = pending_item(&owner(), &new_image());
        item.remove(TTL_ATTRIBUTE);
        item.insert(FINISHED_AT.into(), n(1_700_000_001_000_u64));
        for (name, value) in outcome_attrs(outcome).unwrap() {
            item.insert(name.into(), value);
        }
        item
    }

    #[test]
    fn a_pending_item_has_every_attribute() {
        let item = pending_item(&owner(), &new_image());
        assert_eq!(item[PK], s("USER#sub-1".into()));
        assert_eq!(item[SK], s("IMAGE#0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b".into()));
        assert_eq!(item[TYPE], s("image".into()));
        assert_eq!(item[ID], s("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b".into()));
        assert_eq!(item[OWNER], s("sub-1".into()));
        assert_eq!(item["filename"], s("cat.jpg".into()));
        assert_eq!(item["contentType"], s("image/jpeg".into()));
        assert_eq!(item["size"], n(1234));
        assert_eq!(item["createdAt"], n(1_700_000_000_123_u64));
        assert_eq!(item["status"], s("pending".into()));
        assert_eq!(item["expiresAt"], n(1_700_086_400));
        assert_eq!(item.len(), 11);

        let record = decode_image(&item, "t").unwrap();
        assert_eq!(record.state, ImageState::Pending);
        assert_eq!(record.expires_at_s, Some(1_700_086_400));
        assert_eq!(record.finished_at_ms, None);
        assert_eq!(record.size, 1234);
    }

    #[test]
    fn a_ready_outcome_is_stored_as_native_maps_and_lists() {
        let item = finished(&ready());
        let AttributeValue::M(source) = &item[SOURCE] else { panic!("{:?}", item[SOURCE]) };
        assert_eq!(source["format"], s("jpeg".into()));
        assert_eq!(source["width"], n(4000));
        assert_eq!(source["height"], n(3000));
        assert_eq!(source["bytes"], n(1234));
        let AttributeValue::L(renditions) = &item[RENDITIONS] else { panic!("{:?}", item[RENDITIONS]) };
        let AttributeValue::M(first) = &renditions[0] else { panic!("{:?}", renditions[0]) };
        assert_eq!(first["key"], s("thumbs/x/256.jpg".into()));
        assert_eq!(first["format"], s("jpeg".into()));
        assert_eq!(first["height"], n(192));
        assert_eq!(item[STATUS], s("ready".into()));

        let record = decode_image(&item, "t").unwrap();
        assert_eq!(record.state, ImageState::Finished(ready()));
        assert_eq!(record.finished_at_ms, Some(1_700_000_001_000));
        assert_eq!(record.expires_at_s, None);
    }

    #[test]
    fn a_rejected_outcome_stores_its_reason_code() {
        let outcome = Outcome::Rejected { reason: RejectReason::TooManyPixels, message: "too big".into() };
        let item = finished(&outcome);
        assert_eq!(item[STATUS], s("rejected".into()));
        assert_eq!(item[REASON], s("too_many_pixels".into()));
        assert_eq!(item[MESSAGE], s("too big".into()));
        assert!(!item.contains_key(SOURCE));
        assert_eq!(decode_image(&item, "t").unwrap().state, ImageState::Finished(outcome));
    }

    #[test]
    fn corrupt_items_are_named_with_their_key() {
        let check = |item: Item, expect: &str| {
            let error = decode_image(&item, "tbl").unwrap_err();
            let CatalogError::Corrupt { table, pk, sk, what } = &error else { panic!("{error:?}") };
            assert_eq!(table, "tbl");
            assert_eq!(pk, "USER#sub-1", "{error}");
            assert!(sk.starts_with("IMAGE#") || sk == "<missing>", "{error}");
            assert!(what.contains(expect), "{what:?} should mention {expect:?}");
        };
        let good = pending_item(&owner(), &new_image());

        let mut item = good.clone();
        item.remove("size");
        check(item, "no size");
        let mut item = good.clone();
        item.insert("size".into(), s("12".into()));
        check(item, "size is of type S, not N");
        let mut item = good.clone();
        item.insert("createdAt".into(), n(-1));
        check(item, "not a non-negative integer");
        let mut item = good.clone();
        item.insert("status".into(), s("weird".into()));
        check(item, "unknown status");
        let mut item = good.clone();
        item.insert(ID.into(), s(Uuid::nil().to_string()));
        check(item, "differs from the sort key");
        let mut item = good.clone();
        item.insert(OWNER.into(), s("someone-else".into()));
        check(item, "differs from the partition key");
        let mut item = good.clone();
        item.remove(SK);
        check(item, "sort key");
        let mut item = good.clone();
        item.insert(TYPE.into(), s("profile".into()));
        check(item, "type is \"profile\"");

        let mut item = finished(&ready());
        item.remove(RENDITIONS);
        check(item, "a ready image has no renditions");
        let mut item = finished(&ready());
        item.remove(FINISHED_AT);
        check(item, "no finishedAt");
        let mut item = finished(&Outcome::Rejected { reason: RejectReason::Empty, message: String::new() });
        item.insert(REASON.into(), s("no_such_reason".into()));
        check(item, "outcome does not read");
    }

    #[test]
    fn profiles_read_with_defaults() {
        assert_eq!(decode_profile(None, "t").unwrap(), Profile::default());
        let mut item = profile_key(&owner());
        item.insert("images".into(), n(3));
        item.insert("bytes".into(), n(99));
        assert_eq!(decode_profile(Some(&item), "t").unwrap(), Profile { images: 3, bytes: 99, albums: 0 });
        item.insert("albums".into(), n(4));
        assert_eq!(decode_profile(Some(&item), "t").unwrap(), Profile { images: 3, bytes: 99, albums: 4 });
        item.insert("images".into(), n(-1));
        let error = decode_profile(Some(&item), "t").unwrap_err();
        assert!(error.to_string().contains("pk=USER#sub-1 sk=PROFILE"), "{error}");
    }

    #[test]
    fn albums_of_an_image_read_sorted() {
        let mut item = pending_item(&owner(), &new_image());
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        item.insert(ALBUMS.into(), AttributeValue::Ss(vec![b.to_string(), a.to_string()]));
        assert_eq!(decode_image(&item, "t").unwrap().albums, [a, b]);
        item.insert(ALBUMS.into(), AttributeValue::Ss(vec!["nope".into()]));
        let error = decode_image(&item, "t").unwrap_err();
        assert!(error.to_string().contains("albums holds \"nope\""), "{error}");
    }

    #[test]
    fn albums_and_tombstones_round_trip() {
        let album = NewAlbum { id: Uuid::now_v7(), name: "Été".into(), created_at_ms: 12 };
        let mut item = album_item(&owner(), &album);
        assert_eq!(item[TYPE], s("album".into()));
        assert_eq!(decode_album(&item, "t").unwrap(), (album.clone(), false));
        item.insert(DELETING.into(), AttributeValue::Bool(true));
        assert_eq!(decode_album(&item, "t").unwrap(), (album, true));
        let member = member_item(&owner(), Uuid::nil(), Uuid::max());
        assert_eq!(member[TYPE], s("member".into()));
        assert!(matches!(&member[SK], AttributeValue::S(sk) if sk.starts_with("MEMBER#00000000-")));

        assert_eq!(decode_tombstone(None, "t").unwrap(), AccountState::Active);
        let mut item = tombstone_item(&owner(), "alice", 5);
        let deleting = AccountState::Deleting { requested_at_ms: 5, pass: 0, username: "alice".into() };
        assert_eq!(decode_tombstone(Some(&item), "t").unwrap(), deleting);
        item.insert(STATUS.into(), s("deleted".into()));
        item.insert(DELETED_AT.into(), n(9));
        let deleted = AccountState::Deleted { requested_at_ms: 5, deleted_at_ms: 9 };
        assert_eq!(decode_tombstone(Some(&item), "t").unwrap(), deleted);
        item.insert(STATUS.into(), s("odd".into()));
        assert!(decode_tombstone(Some(&item), "t").is_err());
    }
}
