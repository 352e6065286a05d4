//! [`DynamoCatalog`]: the catalog over one DynamoDB table (aws-sdk-dynamodb).
//!
//! Reads are strongly consistent (a status read right after the thumbnail function's write sees
//! it). Writes that touch the profile are transactions; one cancelled only by a conflicting
//! transaction on the same items (DynamoDB's `TransactionConflict`, which concurrent uploads of
//! one user can cause) is tried again a few times with jittered back-off, each attempt with its
//! own `ClientRequestToken` (so the SDK's own retries of one attempt are idempotent).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, DeleteRequest, Put,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update, WriteRequest,
};
use thumbforge_core::describe::{ALBUMS_MAX, ALBUMS_PER_PHOTO_MAX};
use thumbforge_core::manifest::Outcome;
use uuid::Uuid;

use crate::item::{
    Item, album_item, album_key, decode_album, decode_image, decode_profile, decode_tombstone, decode_usage,
    image_key, member_item, member_key, n, outcome_attrs, pending_item, profile_key, s, stale_outcome_attrs,
    tombstone_item, tombstone_key,
};
use crate::schema::{
    ALBUM_PREFIX, ALBUMS, BYTES, DAY, DAY_BYTES, DAY_UPLOADS, DELETED_AT, DELETING, DESCRIPTION, FINISHED_AT,
    ID, IMAGE_PREFIX, IMAGES, NAME, PASS, PK, PROFILE_SK, RELEASED_MARKER_TTL_S, REVISION, SK, STATUS,
    STATUS_DELETED, STATUS_DELETING, STATUS_FAILED, STATUS_PENDING, TAGS, TITLE, TOMBSTONE_SK,
    TOMBSTONE_TTL_S, TTL_ATTRIBUTE, TYPE, TYPE_PROFILE, TYPE_RELEASED, TYPE_TAG, album_sk, image_sk,
    member_prefix, member_sk, released_sk, tag_prefix, tag_sk, user_pk,
};
use crate::{
    AccountState, Album, Catalog, CatalogError, Edit, Finish, ImageRecord, Membership, NewAlbum, NewImage,
    Owner, Page, Profile, Quotas, Usage, apply_edit, check_album_name, check_edit, check_limit,
    check_limit_of, utc_day,
};

/// How many times a write cancelled by a conflicting transaction is attempted in all.
const MAX_ATTEMPTS: u32 = 6;

/// The back-off before the second attempt; it doubles for each further one (full jitter).
const FIRST_BACKOFF: Duration = Duration::from_millis(25);

/// Error codes (service errors and cancellation reasons) worth retrying later.
const TRANSIENT_CODES: [&str; 10] = [
    "ThrottlingException",
    "ThrottlingError",
    "ProvisionedThroughputExceededException",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionConflict",
    "TransactionInProgressException",
];

/// The catalog in a DynamoDB table laid out as [`crate::schema`] describes.
#[derive(Debug, Clone)]
pub struct DynamoCatalog {
    client: Client,
    table: String,
}

/// A transaction that did not go through.
enum TxError {
    /// A condition failed: the cancellation reasons, one per action, in order.
    ConditionFailed(Vec<CancellationReason>),
    /// Anything else.
    Failed(CatalogError),
}

impl DynamoCatalog {
    /// The catalog in `table`, through `client`.
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The table name.
    #[must_use]
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The client.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn unavailable<E>(
        &self,
        operation: &'static str,
        key: &str,
        err: &SdkError<E, HttpResponse>,
    ) -> CatalogError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        unavailable(operation, &self.table, key, err)
    }

    fn build_error(&self, operation: &'static str, key: &str, err: impl std::fmt::Display) -> CatalogError {
        CatalogError::Unavailable {
            operation,
            table: self.table.clone(),
            key: key.to_owned(),
            transient: false,
            message: format!("building the request: {err}"),
        }
    }

    /// The profile update adding `images` and `bytes` (negative to subtract).
    fn profile_update(
        &self,
        owner: &Owner,
        images: i128,
        bytes: i128,
        operation: &'static str,
        key: &str,
    ) -> Result<TransactWriteItem, CatalogError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(profile_key(owner)))
            .update_expression("SET #type = :profile ADD #images :images, #bytes :bytes")
            .expression_attribute_names("#type", TYPE)
            .expression_attribute_names("#images", IMAGES)
            .expression_attribute_names("#bytes", BYTES)
            .expression_attribute_values(":profile", s(TYPE_PROFILE.to_owned()))
            .expression_attribute_values(":images", n(images))
            .expression_attribute_values(":bytes", n(bytes))
            .build()
            .map_err(|e| self.build_error(operation, key, e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The profile's update for one more image of `size` bytes, conditioned on every quota: on
    /// today's counts (`same_day`), or starting them for `today` (the profile holds another
    /// day's, or none). The caller has checked that `size` fits each byte quota on its own.
    fn counted_profile_update(
        &self,
        owner: &Owner,
        size: u64,
        quotas: &Quotas,
        today: u64,
        same_day: bool,
        key: &str,
    ) -> Result<TransactWriteItem, CatalogError> {
        let room = |limit: u64| n(i128::from(limit.saturating_sub(size)));
        let storage = "(attribute_not_exists(#images) OR #images < :maxPhotos) \
                       AND (attribute_not_exists(#bytes) OR #bytes <= :bytesRoom)";
        let (set, condition) = if same_day {
            (
                "#dayUploads = #dayUploads + :one, #dayBytes = #dayBytes + :size",
                format!(
                    "#day = :today AND #dayUploads < :maxUploads AND #dayBytes <= :dayRoom AND {storage}"
                ),
            )
        } else {
            (
                "#day = :today, #dayUploads = :one, #dayBytes = :size",
                format!("(attribute_not_exists(#day) OR #day <> :today) AND {storage}"),
            )
        };
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(profile_key(owner)))
            .update_expression(format!("SET #type = :profile, {set} ADD #images :one, #bytes :size"))
            .condition_expression(condition)
            .expression_attribute_names("#type", TYPE)
            .expression_attribute_names("#images", IMAGES)
            .expression_attribute_names("#bytes", BYTES)
            .expression_attribute_names("#day", DAY)
            .expression_attribute_names("#dayUploads", DAY_UPLOADS)
            .expression_attribute_names("#dayBytes", DAY_BYTES)
            .expression_attribute_values(":profile", s(TYPE_PROFILE.to_owned()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":size", n(i128::from(size)))
            .expression_attribute_values(":today", n(i128::from(today)))
            .expression_attribute_values(":maxPhotos", n(i128::from(quotas.photos_stored)))
            .expression_attribute_values(":bytesRoom", room(quotas.bytes_stored))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if same_day {
            update = update
                .expression_attribute_values(":maxUploads", n(i128::from(quotas.uploads_per_day)))
                .expression_attribute_values(":dayRoom", room(quotas.bytes_per_day));
        }
        let update = update.build().map_err(|e| self.build_error("create", key, e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Runs a transaction, trying again when only a conflicting transaction cancelled it.
    async fn transact(
        &self,
        operation: &'static str,
        key: &str,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), TxError> {
        let mut attempt = 1;
        loop {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(Uuid::now_v7().hyphenated().to_string())
                .send()
                .await;
            let err = match sent {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            let cancelled = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => e,
                _ if is_transient(&err) && attempt < MAX_ATTEMPTS => {
                    // E.g. `TransactionInProgressException`, after the SDK's own retries.
                    tracing::debug!(operation, key, attempt, "transaction failed transiently; trying again");
                    backoff(attempt).await;
                    attempt += 1;
                    continue;
                }
                _ => return Err(TxError::Failed(self.unavailable(operation, key, &err))),
            };
            let reasons = cancelled.cancellation_reasons();
            let code = |wanted: &str| reasons.iter().any(|r| r.code() == Some(wanted));
            if code("ConditionalCheckFailed") {
                return Err(TxError::ConditionFailed(reasons.to_vec()));
            }
            let transient = reasons.iter().any(|r| r.code().is_some_and(|c| TRANSIENT_CODES.contains(&c)));
            if transient && attempt < MAX_ATTEMPTS {
                tracing::debug!(operation, key, attempt, "transaction cancelled by a conflict; trying again");
                backoff(attempt).await;
                attempt += 1;
                continue;
            }
            let listed: Vec<String> = reasons
                .iter()
                .map(|r| format!("{} ({})", r.code().unwrap_or("?"), r.message().unwrap_or("")))
                .collect();
            return Err(TxError::Failed(CatalogError::Unavailable {
                operation,
                table: self.table.clone(),
                key: key.to_owned(),
                transient,
                message: format!("transaction cancelled after {attempt} attempt(s): {}", listed.join(", ")),
            }));
        }
    }

    /// One strongly consistent `GetItem`.
    async fn get_item(
        &self,
        operation: &'static str,
        key: Item,
        key_text: &str,
    ) -> Result<Option<Item>, CatalogError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.unavailable(operation, key_text, &e))?;
        Ok(got.item)
    }
}

impl Catalog for DynamoCatalog {
    async fn create_within(
        &self,
        owner: &Owner,
        image: &NewImage,
        quotas: &Quotas,
    ) -> Result<(), CatalogError> {
        let key = key_text(owner, &image_sk(image.id));
        let today = utc_day(image.created_at_ms);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(pending_item(owner, image)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| self.build_error("create", &key, e))?;
        // What the profile held when last read: `None` before the first attempt, which guesses
        // that today's counts are there (the usual case).
        let mut seen: Option<(Usage, Option<u64>)> = None;
        for _ in 0..MAX_ATTEMPTS {
            let usage = seen.map_or_else(Usage::default, |(usage, _)| usage);
            if let Some((quota, limit)) = usage.exceeded_by(image.size, quotas) {
                return Err(CatalogError::QuotaExceeded { quota, limit });
            }
            let same_day = seen.is_none_or(|(_, day)| day == Some(today));
            let items = vec![
                TransactWriteItem::builder().put(put.clone()).build(),
                self.counted_profile_update(owner, image.size, quotas, today, same_day, &key)?,
                self.tombstone_absent(owner, "create", &key)?,
            ];
            match self.transact("create", &key, items).await {
                Ok(()) => return Ok(()),
                Err(TxError::ConditionFailed(reasons)) if failed_at(&reasons, 2) => {
                    return Err(CatalogError::AccountDeleted);
                }
                Err(TxError::ConditionFailed(reasons)) if failed_at(&reasons, 0) => {
                    return Err(CatalogError::AlreadyExists {
                        operation: "create",
                        table: self.table.clone(),
                        key,
                    });
                }
                // The profile was not as guessed: decide again on what it holds.
                Err(TxError::ConditionFailed(reasons)) => {
                    let item = reasons.get(1).and_then(CancellationReason::item);
                    seen = Some(decode_usage(item, today, &self.table)?);
                }
                Err(TxError::Failed(e)) => return Err(e),
            }
        }
        Err(self.kept_changing("create", key))
    }

    async fn usage(&self, owner: &Owner, now_ms: u64) -> Result<Usage, CatalogError> {
        let key = key_text(owner, PROFILE_SK);
        let item = self.get_item("usage", profile_key(owner), &key).await?;
        decode_usage(item.as_ref(), utc_day(now_ms), &self.table).map(|(usage, _)| usage)
    }

    async fn get(&self, owner: &Owner, id: Uuid) -> Result<Option<ImageRecord>, CatalogError> {
        let key = key_text(owner, &image_sk(id));
        match self.get_item("get", image_key(owner, id), &key).await? {
            Some(item) => decode_image(&item, &self.table).map(Some),
            None => Ok(None),
        }
    }

    async fn list(&self, owner: &Owner, limit: u16, after: Option<Uuid>) -> Result<Page, CatalogError> {
        check_limit(limit)?;
        // One more than asked, to know whether another page follows.
        let wanted = usize::from(limit) + 1;
        let found = self
            .query_newest_first(
                "list",
                owner,
                SortKey::Prefix(IMAGE_PREFIX),
                after.map(image_sk),
                wanted,
                false,
            )
            .await?;
        let mut items =
            found.iter().map(|item| decode_image(item, &self.table)).collect::<Result<Vec<_>, _>>()?;
        let next = if items.len() > usize::from(limit) {
            items.truncate(usize::from(limit));
            items.last().map(|record| record.id)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn finish(
        &self,
        owner: &Owner,
        id: Uuid,
        outcome: &Outcome,
        finished_at_ms: u64,
    ) -> Result<Finish, CatalogError> {
        let key = key_text(owner, &image_sk(id));
        let mut sets = vec!["#finishedAt = :finishedAt".to_owned()];
        let mut names = HashMap::from([
            ("#pk".to_owned(), PK.to_owned()),
            ("#status".to_owned(), STATUS.to_owned()),
            ("#finishedAt".to_owned(), FINISHED_AT.to_owned()),
            ("#expiresAt".to_owned(), TTL_ATTRIBUTE.to_owned()),
        ]);
        let mut values = HashMap::from([
            (":pending".to_owned(), s(STATUS_PENDING.to_owned())),
            (":failed".to_owned(), s(STATUS_FAILED.to_owned())),
            (":finishedAt".to_owned(), n(finished_at_ms)),
        ]);
        for (name, value) in outcome_attrs(outcome)? {
            sets.push(format!("#{name} = :{name}"));
            names.insert(format!("#{name}"), name.to_owned());
            values.insert(format!(":{name}"), value);
        }
        let mut removes = vec!["#expiresAt".to_owned()];
        for name in stale_outcome_attrs(outcome) {
            removes.push(format!("#{name}"));
            names.insert(format!("#{name}"), (*name).to_owned());
        }
        let expression = format!("SET {} REMOVE {}", sets.join(", "), removes.join(", "));

        let mut attempt = 1;
        loop {
            let updated = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(image_key(owner, id)))
                .update_expression(&expression)
                .condition_expression("attribute_exists(#pk) AND (#status = :pending OR #status = :failed)")
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            let err = match updated {
                Ok(_) => return Ok(Finish::Finished),
                Err(err) => err,
            };
            if let Some(UpdateItemError::ConditionalCheckFailedException(failed)) = err.as_service_error() {
                let Some(item) = failed.item() else { return Ok(Finish::Missing) };
                let record = decode_image(item, &self.table)?;
                if !record.state.is_final() {
                    return Err(CatalogError::Unavailable {
                        operation: "finish",
                        table: self.table.clone(),
                        key,
                        transient: false,
                        message: format!(
                            "the condition failed although the image is {}",
                            record.state.status()
                        ),
                    });
                }
                return Ok(Finish::AlreadyFinished(Box::new(record)));
            }
            // A delete's transaction on this item in progress: try again (it may then be Missing).
            if is_transient(&err) && attempt < MAX_ATTEMPTS {
                tracing::debug!(key, attempt, "finish failed transiently; trying again");
                backoff(attempt).await;
                attempt += 1;
                continue;
            }
            return Err(self.unavailable("finish", &key, &err));
        }
    }

    async fn delete(&self, owner: &Owner, id: Uuid) -> Result<Option<ImageRecord>, CatalogError> {
        let key = key_text(owner, &image_sk(id));
        let mut current = self.get(owner, id).await?;
        for _ in 0..MAX_ATTEMPTS {
            let Some(record) = current.take() else { return Ok(None) };
            // Deletes exactly what was read: its status and its details' revision (so the tag
            // index items deleted with it are all it has).
            let (revision_condition, revision_value) = revision_condition(record.revision);
            let mut delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(image_key(owner, id)))
                .condition_expression(format!("#status = :status AND {revision_condition}"))
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_names("#revision", REVISION)
                .expression_attribute_values(":status", s(record.state.status().to_owned()))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            if let Some(value) = revision_value {
                delete = delete.expression_attribute_values(":revision", value);
            }
            let delete = delete.build().map_err(|e| self.build_error("delete", &key, e))?;
            let mut items = vec![
                TransactWriteItem::builder().delete(delete).build(),
                self.profile_update(owner, -1, -i128::from(record.size), "delete", &key)?,
            ];
            for tag in &record.details.tags {
                items.push(self.delete_tag_entry(owner, tag, id, "delete", &key)?);
            }
            // Its memberships: the `albums` read is the one deleted (the revision says so), and
            // ALBUMS_PER_PHOTO_MAX keeps the whole within one transaction.
            for album in &record.albums {
                items.push(self.delete_key(member_key(owner, *album, id), "delete", &key)?);
            }
            match self.transact("delete", &key, items).await {
                Ok(()) => return Ok(Some(record)),
                // Deleted meanwhile (no item) or finished meanwhile (try again with what is there).
                Err(TxError::ConditionFailed(reasons)) => match reasons.first().and_then(|r| r.item()) {
                    Some(item) => current = Some(decode_image(item, &self.table)?),
                    None => return Ok(None),
                },
                Err(TxError::Failed(e)) => return Err(e),
            }
        }
        Err(CatalogError::Unavailable {
            operation: "delete",
            table: self.table.clone(),
            key,
            transient: true,
            message: format!("the image kept changing during {MAX_ATTEMPTS} attempts to delete it"),
        })
    }

    async fn release_expired(
        &self,
        owner: &Owner,
        id: Uuid,
        size: u64,
        now_s: u64,
    ) -> Result<bool, CatalogError> {
        let key = key_text(owner, &released_sk(id));
        let marker = HashMap::from([
            (PK.to_owned(), s(user_pk(owner))),
            (SK.to_owned(), s(released_sk(id))),
            (TYPE.to_owned(), s(TYPE_RELEASED.to_owned())),
            (TTL_ATTRIBUTE.to_owned(), n(now_s.saturating_add(RELEASED_MARKER_TTL_S))),
        ]);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(marker))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| self.build_error("release_expired", &key, e))?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            self.profile_update(owner, -1, -i128::from(size), "release_expired", &key)?,
        ];
        match self.transact("release_expired", &key, items).await {
            Ok(()) => Ok(true),
            Err(TxError::ConditionFailed(_)) => Ok(false),
            Err(TxError::Failed(e)) => Err(e),
        }
    }

    async fn edit(&self, owner: &Owner, id: Uuid, edit: &Edit) -> Result<Option<ImageRecord>, CatalogError> {
        check_edit(edit)?;
        let key = key_text(owner, &image_sk(id));
        let mut current = self.get(owner, id).await?;
        for _ in 0..MAX_ATTEMPTS {
            let Some(record) = current.take() else { return Ok(None) };
            let mut details = record.details.clone();
            apply_edit(&mut details, edit);
            let (condition, revision_value) = revision_condition(record.revision);
            let mut sets = vec!["#revision = :next".to_owned()];
            let mut removes = Vec::new();
            let mut update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(image_key(owner, id)))
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#revision", REVISION)
                .expression_attribute_values(":next", n(record.revision + 1))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            if let Some(value) = revision_value {
                update = update.expression_attribute_values(":revision", value);
            }
            for (name, value) in [(TITLE, &details.title), (DESCRIPTION, &details.description)] {
                update = update.expression_attribute_names(format!("#{name}"), name);
                match value {
                    Some(text) => {
                        sets.push(format!("#{name} = :{name}"));
                        update = update.expression_attribute_values(format!(":{name}"), s(text.clone()));
                    }
                    None => removes.push(format!("#{name}")),
                }
            }
            update = update.expression_attribute_names("#tags", TAGS);
            if details.tags.is_empty() {
                removes.push("#tags".to_owned());
            } else {
                sets.push("#tags = :tags".to_owned());
                update =
                    update.expression_attribute_values(":tags", AttributeValue::Ss(details.tags.clone()));
            }
            let mut expression = format!("SET {}", sets.join(", "));
            if !removes.is_empty() {
                expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
            }
            let update = update
                .update_expression(expression)
                .condition_expression(format!("attribute_exists(#pk) AND {condition}"))
                .build()
                .map_err(|e| self.build_error("edit", &key, e))?;
            let mut items = vec![TransactWriteItem::builder().update(update).build()];
            for tag in record.details.tags.iter().filter(|t| !details.tags.contains(t)) {
                items.push(self.delete_tag_entry(owner, tag, id, "edit", &key)?);
            }
            for tag in details.tags.iter().filter(|t| !record.details.tags.contains(t)) {
                let entry = HashMap::from([
                    (PK.to_owned(), s(user_pk(owner))),
                    (SK.to_owned(), s(tag_sk(tag, id))),
                    (TYPE.to_owned(), s(TYPE_TAG.to_owned())),
                    (ID.to_owned(), s(id.hyphenated().to_string())),
                ]);
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(entry))
                    .build()
                    .map_err(|e| self.build_error("edit", &key, e))?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
            items.push(self.tombstone_absent(owner, "edit", &key)?);
            let tombstone = items.len() - 1;
            match self.transact("edit", &key, items).await {
                Ok(()) => {
                    return Ok(Some(ImageRecord { details, revision: record.revision + 1, ..record }));
                }
                Err(TxError::ConditionFailed(reasons)) if failed_at(&reasons, tombstone) => {
                    return Err(CatalogError::AccountDeleted);
                }
                // Deleted meanwhile (no item), or edited meanwhile: apply the edit to what is there.
                Err(TxError::ConditionFailed(reasons)) => match reasons.first().and_then(|r| r.item()) {
                    Some(item) => current = Some(decode_image(item, &self.table)?),
                    None => return Ok(None),
                },
                Err(TxError::Failed(e)) => return Err(e),
            }
        }
        Err(CatalogError::Unavailable {
            operation: "edit",
            table: self.table.clone(),
            key,
            transient: true,
            message: format!("the image kept changing during {MAX_ATTEMPTS} attempts to edit it"),
        })
    }

    async fn list_tagged(
        &self,
        owner: &Owner,
        tag: &str,
        limit: u16,
        after: Option<Uuid>,
    ) -> Result<Page, CatalogError> {
        check_limit(limit)?;
        let prefix = tag_prefix(tag);
        self.filtered_page("list_tagged", owner, &prefix, |id| tag_sk(tag, id), limit, after, None).await
    }

    async fn profile(&self, owner: &Owner) -> Result<Profile, CatalogError> {
        let key = key_text(owner, PROFILE_SK);
        let item = self.get_item("profile", profile_key(owner), &key).await?;
        decode_profile(item.as_ref(), &self.table)
    }

    async fn create_album(&self, owner: &Owner, album: &NewAlbum) -> Result<Album, CatalogError> {
        check_album_name("create_album", &album.name)?;
        let key = key_text(owner, &album_sk(album.id));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(album_item(owner, album)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| self.build_error("create_album", &key, e))?;
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(profile_key(owner)))
            .update_expression("SET #type = :profile ADD #albums :one")
            .condition_expression("attribute_not_exists(#albums) OR #albums < :max")
            .expression_attribute_names("#type", TYPE)
            .expression_attribute_names("#albums", ALBUMS)
            .expression_attribute_values(":profile", s(TYPE_PROFILE.to_owned()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(ALBUMS_MAX))
            .build()
            .map_err(|e| self.build_error("create_album", &key, e))?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(count).build(),
            self.tombstone_absent(owner, "create_album", &key)?,
        ];
        match self.transact("create_album", &key, items).await {
            Ok(()) => Ok(Album {
                id: album.id,
                name: album.name.clone(),
                created_at_ms: album.created_at_ms,
                count: 0,
                cover: None,
            }),
            Err(TxError::ConditionFailed(reasons)) if failed_at(&reasons, 2) => {
                Err(CatalogError::AccountDeleted)
            }
            Err(TxError::ConditionFailed(reasons)) if failed_at(&reasons, 1) => {
                Err(CatalogError::LimitReached { what: "albums", limit: ALBUMS_MAX })
            }
            Err(TxError::ConditionFailed(_)) => {
                Err(CatalogError::AlreadyExists { operation: "create_album", table: self.table.clone(), key })
            }
            Err(TxError::Failed(e)) => Err(e),
        }
    }

    async fn list_albums(&self, owner: &Owner) -> Result<Vec<Album>, CatalogError> {
        let found = self
            .query_newest_first("list_albums", owner, SortKey::Prefix(ALBUM_PREFIX), None, ALBUMS_MAX, false)
            .await?;
        let mut albums = Vec::with_capacity(found.len());
        for item in &found {
            let (album, deleting) = decode_album(item, &self.table)?;
            if !deleting {
                let (count, cover) = self.album_members("list_albums", owner, album.id).await?;
                albums.push((album, count, cover));
            }
        }
        let covers: Vec<Uuid> = albums.iter().filter_map(|(_, _, cover)| *cover).collect();
        let images = self.get_many("list_albums", owner, &covers).await?;
        Ok(albums
            .into_iter()
            .map(|(album, count, cover)| Album {
                id: album.id,
                name: album.name,
                created_at_ms: album.created_at_ms,
                count,
                cover: cover.and_then(|id| images.get(&id)).cloned().map(Box::new),
            })
            .collect())
    }

    async fn get_album(&self, owner: &Owner, id: Uuid) -> Result<Option<Album>, CatalogError> {
        match self.read_album("get_album", owner, id).await? {
            Some((album, false)) => self.with_members("get_album", owner, album).await.map(Some),
            _ => Ok(None),
        }
    }

    async fn rename_album(&self, owner: &Owner, id: Uuid, name: &str) -> Result<Option<Album>, CatalogError> {
        check_album_name("rename_album", name)?;
        let key = key_text(owner, &album_sk(id));
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(album_key(owner, id)))
            .update_expression("SET #name = :name")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#deleting)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#name", NAME)
            .expression_attribute_names("#deleting", DELETING)
            .expression_attribute_values(":name", s(name.to_owned()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match updated {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                let (album, _) = decode_album(&item, &self.table)?;
                self.with_members("rename_album", owner, album).await.map(Some)
            }
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.unavailable("rename_album", &key, &e)),
        }
    }

    async fn delete_album(&self, owner: &Owner, id: Uuid) -> Result<bool, CatalogError> {
        let key = key_text(owner, &album_sk(id));
        // 1. Mark it, so that no membership can be added any more (a repeated call marks again
        //    and carries on with what an interrupted one left).
        let marked = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(album_key(owner, id)))
            .update_expression("SET #deleting = :true")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#deleting", DELETING)
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await;
        match marked {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(self.unavailable("delete_album", &key, &e)),
        }
        // 2. Take every photo out of it, a membership at a time, until none is left.
        let prefix = member_prefix(id);
        loop {
            let found = self
                .query_newest_first("delete_album", owner, SortKey::Prefix(&prefix), None, 100, true)
                .await?;
            if found.is_empty() {
                break;
            }
            for image in self.ids_after(owner, &prefix, &found)? {
                self.unlink(owner, id, image).await?;
            }
        }
        // 3. The album itself and its count, once (a concurrent call may have done it).
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(album_key(owner, id)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| self.build_error("delete_album", &key, e))?;
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(profile_key(owner)))
            .update_expression("ADD #albums :minus")
            .expression_attribute_names("#albums", ALBUMS)
            .expression_attribute_values(":minus", n(-1))
            .build()
            .map_err(|e| self.build_error("delete_album", &key, e))?;
        let items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().update(count).build(),
        ];
        match self.transact("delete_album", &key, items).await {
            Ok(()) | Err(TxError::ConditionFailed(_)) => Ok(true),
            Err(TxError::Failed(e)) => Err(e),
        }
    }

    async fn add_to_album(
        &self,
        owner: &Owner,
        album: Uuid,
        image: Uuid,
    ) -> Result<Membership, CatalogError> {
        let key = key_text(owner, &member_sk(album, image));
        if !matches!(self.read_album("add_to_album", owner, album).await?, Some((_, false))) {
            return Ok(Membership::NoAlbum);
        }
        let mut current = self.get(owner, image).await?;
        for _ in 0..MAX_ATTEMPTS {
            let Some(record) = current.take() else { return Ok(Membership::NoImage) };
            if record.albums.contains(&album) {
                return Ok(Membership::AlreadyMember);
            }
            if record.albums.len() >= ALBUMS_PER_PHOTO_MAX {
                return Ok(Membership::TooManyAlbums);
            }
            let album_open = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(album_key(owner, album)))
                .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#deleting)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#deleting", DELETING)
                .build()
                .map_err(|e| self.build_error("add_to_album", &key, e))?;
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(member_item(owner, album, image)))
                .build()
                .map_err(|e| self.build_error("add_to_album", &key, e))?;
            let items = vec![
                TransactWriteItem::builder().condition_check(album_open).build(),
                self.albums_update(owner, &record, "ADD", album, "add_to_album", &key)?,
                TransactWriteItem::builder().put(put).build(),
                self.tombstone_absent(owner, "add_to_album", &key)?,
            ];
            match self.transact("add_to_album", &key, items).await {
                Ok(()) => return Ok(Membership::Added),
                Err(TxError::ConditionFailed(reasons)) if failed_at(&reasons, 3) => {
                    return Err(CatalogError::AccountDeleted);
                }
                Err(TxError::ConditionFailed(reasons)) if failed_at(&reasons, 0) => {
                    return Ok(Membership::NoAlbum);
                }
                // Deleted meanwhile (no item), or changed meanwhile: decide again on what is there.
                Err(TxError::ConditionFailed(reasons)) => match reasons.get(1).and_then(|r| r.item()) {
                    Some(item) => current = Some(decode_image(item, &self.table)?),
                    None => return Ok(Membership::NoImage),
                },
                Err(TxError::Failed(e)) => return Err(e),
            }
        }
        Err(self.kept_changing("add_to_album", key))
    }

    async fn remove_from_album(
        &self,
        owner: &Owner,
        album: Uuid,
        image: Uuid,
    ) -> Result<Membership, CatalogError> {
        let key = key_text(owner, &member_sk(album, image));
        if !matches!(self.read_album("remove_from_album", owner, album).await?, Some((_, false))) {
            return Ok(Membership::NoAlbum);
        }
        let mut current = self.get(owner, image).await?;
        for _ in 0..MAX_ATTEMPTS {
            let Some(record) = current.take() else { return Ok(Membership::NoImage) };
            if !record.albums.contains(&album) {
                return Ok(Membership::NotMember);
            }
            let items = vec![
                self.albums_update(owner, &record, "DELETE", album, "remove_from_album", &key)?,
                self.delete_key(member_key(owner, album, image), "remove_from_album", &key)?,
            ];
            match self.transact("remove_from_album", &key, items).await {
                Ok(()) => return Ok(Membership::Removed),
                Err(TxError::ConditionFailed(reasons)) => match reasons.first().and_then(|r| r.item()) {
                    Some(item) => current = Some(decode_image(item, &self.table)?),
                    None => return Ok(Membership::NoImage),
                },
                Err(TxError::Failed(e)) => return Err(e),
            }
        }
        Err(self.kept_changing("remove_from_album", key))
    }

    async fn list_album(
        &self,
        owner: &Owner,
        album: Uuid,
        tag: Option<&str>,
        limit: u16,
        after: Option<Uuid>,
    ) -> Result<Option<Page>, CatalogError> {
        check_limit(limit)?;
        if !matches!(self.read_album("list_album", owner, album).await?, Some((_, false))) {
            return Ok(None);
        }
        let prefix = member_prefix(album);
        let page = self
            .filtered_page("list_album", owner, &prefix, |id| member_sk(album, id), limit, after, tag)
            .await?;
        Ok(Some(page))
    }

    async fn begin_account_deletion(
        &self,
        owner: &Owner,
        username: &str,
        now_ms: u64,
    ) -> Result<AccountState, CatalogError> {
        let key = key_text(owner, TOMBSTONE_SK);
        for _ in 0..MAX_ATTEMPTS {
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(tombstone_item(owner, username, now_ms)))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .send()
                .await;
            match put {
                Ok(_) => {
                    return Ok(AccountState::Deleting {
                        requested_at_ms: now_ms,
                        pass: 0,
                        username: username.to_owned(),
                    });
                }
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(PutItemError::ConditionalCheckFailedException(_))
                    ) => {}
                Err(e) => return Err(self.unavailable("begin_account_deletion", &key, &e)),
            }
            // There is one: bump its pass while it is deleting (a MODIFY the worker acts on).
            let bumped = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(tombstone_key(owner)))
                .update_expression("SET #pass = if_not_exists(#pass, :zero) + :one")
                .condition_expression("#status = :deleting")
                .expression_attribute_names("#pass", PASS)
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":deleting", s(STATUS_DELETING.to_owned()))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            match bumped {
                Ok(out) => return decode_tombstone(out.attributes.as_ref(), &self.table),
                Err(e) => match e.as_service_error() {
                    // Deleted already: left as it is. (No item: gone by its TTL between the two
                    // writes, so write it anew.)
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                        if let Some(item) = failed.item() {
                            return decode_tombstone(Some(item), &self.table);
                        }
                    }
                    _ => return Err(self.unavailable("begin_account_deletion", &key, &e)),
                },
            }
        }
        Err(CatalogError::Unavailable {
            operation: "begin_account_deletion",
            table: self.table.clone(),
            key,
            transient: true,
            message: format!("the tombstone kept changing during {MAX_ATTEMPTS} attempts"),
        })
    }

    async fn account_state(&self, owner: &Owner) -> Result<AccountState, CatalogError> {
        let key = key_text(owner, TOMBSTONE_SK);
        let item = self.get_item("account_state", tombstone_key(owner), &key).await?;
        decode_tombstone(item.as_ref(), &self.table)
    }

    async fn account_images(&self, owner: &Owner, limit: u16) -> Result<Vec<ImageRecord>, CatalogError> {
        check_limit_of("account_images", limit)?;
        let found = self
            .query_newest_first(
                "account_images",
                owner,
                SortKey::Prefix(IMAGE_PREFIX),
                None,
                usize::from(limit),
                false,
            )
            .await?;
        found.iter().map(|item| decode_image(item, &self.table)).collect()
    }

    async fn clear_account(&self, owner: &Owner, limit: u16) -> Result<usize, CatalogError> {
        check_limit_of("clear_account", limit)?;
        let wanted = usize::from(limit);
        // Everything but the images, whose keys sort between `IMAGE#` and `IMAGE$` ('$' follows
        // '#'): the two ranges around them, the tombstone and the profile left out.
        let mut keys: Vec<Item> = Vec::with_capacity(wanted);
        for range in [SortKey::Below(IMAGE_PREFIX), SortKey::From(IMAGES_END)] {
            if keys.len() >= wanted {
                break;
            }
            // Two more, as the tombstone and the profile may be among them.
            let found = self
                .query_newest_first("clear_account", owner, range, None, wanted - keys.len() + 2, true)
                .await?;
            keys.extend(found.into_iter().filter(|item| {
                !matches!(item.get(SK), Some(AttributeValue::S(sk)) if sk == TOMBSTONE_SK || sk == PROFILE_SK)
            }));
        }
        keys.truncate(wanted);
        // The profile last of all: once nothing else, and no image, is left.
        if keys.is_empty() {
            let images = self
                .query_newest_first("clear_account", owner, SortKey::Prefix(IMAGE_PREFIX), None, 1, true)
                .await?;
            let key = key_text(owner, PROFILE_SK);
            if images.is_empty() && self.get_item("clear_account", profile_key(owner), &key).await?.is_some()
            {
                keys.push(profile_key(owner));
            }
        }
        let deleted = keys.len();
        self.delete_many("clear_account", owner, keys).await?;
        Ok(deleted)
    }

    async fn finish_account_deletion(&self, owner: &Owner, now_ms: u64) -> Result<bool, CatalogError> {
        let key = key_text(owner, TOMBSTONE_SK);
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(tombstone_key(owner)))
            .update_expression("SET #status = :deleted, #deletedAt = :now, #expiresAt = :expires")
            .condition_expression("#status = :deleting")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#deletedAt", DELETED_AT)
            .expression_attribute_names("#expiresAt", TTL_ATTRIBUTE)
            .expression_attribute_values(":deleted", s(STATUS_DELETED.to_owned()))
            .expression_attribute_values(":deleting", s(STATUS_DELETING.to_owned()))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":expires", n(now_ms / 1000 + TOMBSTONE_TTL_S))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.unavailable("finish_account_deletion", &key, &e)),
        }
    }
}

/// The first sort key after every image's (`IMAGE#…`): `$` follows `#`.
const IMAGES_END: &str = "IMAGE$";

/// The condition that an image's details are still at `revision` (an item never edited has no
/// revision attribute), and the value it needs for `:revision`, if any.
fn revision_condition(revision: u64) -> (&'static str, Option<AttributeValue>) {
    if revision == 0 {
        ("attribute_not_exists(#revision)", None)
    } else {
        ("#revision = :revision", Some(n(revision)))
    }
}

impl DynamoCatalog {
    /// The deletion of the tag index item of `tag` on image `id`.
    fn delete_tag_entry(
        &self,
        owner: &Owner,
        tag: &str,
        id: Uuid,
        operation: &'static str,
        key: &str,
    ) -> Result<TransactWriteItem, CatalogError> {
        let key_item =
            HashMap::from([(PK.to_owned(), s(user_pk(owner))), (SK.to_owned(), s(tag_sk(tag, id)))]);
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key_item))
            .build()
            .map_err(|e| self.build_error(operation, key, e))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Up to `wanted` of the owner's items whose sort key is in `range`, newest (largest sort
    /// key) first, strictly after `start_sk` when given: one `Query`, continued when a page stops
    /// short at 1 MB (`keys_only`: their keys only). The partition comes only from `owner`.
    async fn query_newest_first(
        &self,
        operation: &'static str,
        owner: &Owner,
        range: SortKey<'_>,
        start_sk: Option<String>,
        wanted: usize,
        keys_only: bool,
    ) -> Result<Vec<Item>, CatalogError> {
        let pk = user_pk(owner);
        let (condition, bound) = match range {
            SortKey::Prefix(prefix) => ("#pk = :pk AND begins_with(#sk, :bound)", prefix),
            SortKey::Below(bound) => ("#pk = :pk AND #sk < :bound", bound),
            SortKey::From(bound) => ("#pk = :pk AND #sk >= :bound", bound),
        };
        let key = format!("pk={pk} sk={bound}*");
        let mut start: Option<Item> =
            start_sk.map(|sk| HashMap::from([(PK.to_owned(), s(pk.clone())), (SK.to_owned(), s(sk))]));
        let mut items = Vec::with_capacity(wanted.min(QUERY_PAGE_MAX));
        loop {
            let remaining = i32::try_from((wanted - items.len()).min(QUERY_PAGE_MAX)).unwrap_or(i32::MAX);
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(condition)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":bound", s(bound.to_owned()))
                .set_projection_expression(keys_only.then(|| "#pk, #sk".to_owned()))
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(remaining)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.unavailable(operation, &key, &e))?;
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key {
                Some(last) if items.len() < wanted => start = Some(last),
                _ => return Ok(items),
            }
        }
    }

    /// One page of images listed through index items (tag index or memberships) whose sort key
    /// is `prefix` + an image id (`sk_of` builds it back): the ids newest first from
    /// [`Self::query_newest_first`], the images from [`Self::get_many`], only those carrying
    /// `tag` when given. Queries go on until the page is full or the index items end, and
    /// [`Page::next`] is the last image returned, so a filtered page continues where it ended.
    #[allow(clippy::too_many_arguments, reason = "one private helper shared by the listings")]
    async fn filtered_page(
        &self,
        operation: &'static str,
        owner: &Owner,
        prefix: &str,
        sk_of: impl Fn(Uuid) -> String + Send + Sync,
        limit: u16,
        after: Option<Uuid>,
        tag: Option<&str>,
    ) -> Result<Page, CatalogError> {
        let limit = usize::from(limit);
        let mut items: Vec<ImageRecord> = Vec::with_capacity(limit + 1);
        let mut start = after.map(&sk_of);
        loop {
            // One more than asked, to know whether another page follows; with a filter, a
            // whole page's worth, as some will be left out.
            let wanted =
                if tag.is_some() { usize::from(crate::MAX_PAGE) + 1 } else { limit + 1 - items.len() };
            let found = self
                .query_newest_first(operation, owner, SortKey::Prefix(prefix), start.take(), wanted, true)
                .await?;
            let ids = self.ids_after(owner, prefix, &found)?;
            let mut images = self.get_many(operation, owner, &ids).await?;
            // An image and its index items change in one transaction, so every id is there; an
            // image deleted between the two reads is simply left out.
            for id in &ids {
                let Some(record) = images.remove(id) else { continue };
                if tag.is_none_or(|tag| record.details.tags.iter().any(|t| t == tag)) {
                    items.push(record);
                    if items.len() > limit {
                        break;
                    }
                }
            }
            match ids.last() {
                Some(last) if items.len() <= limit && found.len() >= wanted => start = Some(sk_of(*last)),
                _ => break,
            }
        }
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|record| record.id)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// The image ids in index items whose sort key is `prefix` + an id.
    fn ids_after(&self, owner: &Owner, prefix: &str, found: &[Item]) -> Result<Vec<Uuid>, CatalogError> {
        found
            .iter()
            .map(|item| {
                let sk = match item.get(SK) {
                    Some(AttributeValue::S(sk)) => sk.as_str(),
                    _ => "",
                };
                sk.strip_prefix(prefix).and_then(|id| Uuid::try_parse(id).ok()).ok_or_else(|| {
                    CatalogError::Corrupt {
                        table: self.table.clone(),
                        pk: user_pk(owner),
                        sk: sk.to_owned(),
                        what: format!("an index item whose sort key is not {prefix}<uuid>"),
                    }
                })
            })
            .collect()
    }

    /// The owner's images with these ids (strongly consistent, 100 per `BatchGetItem`), by id;
    /// ids with no image are absent.
    async fn get_many(
        &self,
        operation: &'static str,
        owner: &Owner,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, ImageRecord>, CatalogError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = HashMap::with_capacity(ids.len());
        let key = format!("pk={} sk={IMAGE_PREFIX}…", user_pk(owner));
        let mut unique = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        for chunk in unique.chunks(100) {
            let keys: Vec<Item> = chunk.iter().map(|id| image_key(owner, *id)).collect();
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| self.build_error(operation, &key, e))?,
            );
            let mut attempt = 0;
            while let Some(keys) = request.take() {
                attempt += 1;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .send()
                    .await
                    .map_err(|e| self.unavailable(operation, &key, &e))?;
                for item in out.responses().and_then(|r| r.get(&self.table)).into_iter().flatten() {
                    let record = decode_image(item, &self.table)?;
                    found.insert(record.id, record);
                }
                // Keys DynamoDB did not get to (throttling, size): ask again, backing off.
                request = out.unprocessed_keys().and_then(|u| u.get(&self.table)).cloned();
                if request.is_some() {
                    if attempt >= MAX_ATTEMPTS {
                        return Err(CatalogError::Unavailable {
                            operation,
                            table: self.table.clone(),
                            key,
                            transient: true,
                            message: format!("keys still unprocessed after {MAX_ATTEMPTS} attempts"),
                        });
                    }
                    tokio::time::sleep(FIRST_BACKOFF * 2_u32.pow(attempt - 1)).await;
                }
            }
        }
        Ok(found)
    }

    /// Deletes these items (25 per `BatchWriteItem`, unprocessed ones sent again with back-off).
    async fn delete_many(
        &self,
        operation: &'static str,
        owner: &Owner,
        keys: Vec<Item>,
    ) -> Result<(), CatalogError> {
        let key = format!("pk={} sk=*", user_pk(owner));
        let mut keys = keys;
        while !keys.is_empty() {
            let rest = keys.split_off(keys.len().min(25));
            let mut requests = Vec::with_capacity(keys.len());
            for item in keys {
                let delete = DeleteRequest::builder()
                    .set_key(Some(item))
                    .build()
                    .map_err(|e| self.build_error(operation, &key, e))?;
                requests.push(WriteRequest::builder().delete_request(delete).build());
            }
            let mut attempt = 0;
            while !requests.is_empty() {
                attempt += 1;
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| self.unavailable(operation, &key, &e))?;
                requests =
                    out.unprocessed_items().and_then(|u| u.get(&self.table)).cloned().unwrap_or_default();
                if !requests.is_empty() {
                    if attempt >= MAX_ATTEMPTS {
                        return Err(CatalogError::Unavailable {
                            operation,
                            table: self.table.clone(),
                            key,
                            transient: true,
                            message: format!("items still unprocessed after {MAX_ATTEMPTS} attempts"),
                        });
                    }
                    tokio::time::sleep(FIRST_BACKOFF * 2_u32.pow(attempt - 1)).await;
                }
            }
            keys = rest;
        }
        Ok(())
    }

    /// The transaction item deleting `key_item`, unconditionally.
    fn delete_key(
        &self,
        key_item: Item,
        operation: &'static str,
        key: &str,
    ) -> Result<TransactWriteItem, CatalogError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key_item))
            .build()
            .map_err(|e| self.build_error(operation, key, e))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// The transaction item checking that the owner's account is not being deleted: every
    /// creating write carries it.
    fn tombstone_absent(
        &self,
        owner: &Owner,
        operation: &'static str,
        key: &str,
    ) -> Result<TransactWriteItem, CatalogError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(tombstone_key(owner)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| self.build_error(operation, key, e))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// The owner's album `id` and whether it is being deleted; `None` when there is none.
    async fn read_album(
        &self,
        operation: &'static str,
        owner: &Owner,
        id: Uuid,
    ) -> Result<Option<(NewAlbum, bool)>, CatalogError> {
        let key = key_text(owner, &album_sk(id));
        match self.get_item(operation, album_key(owner, id), &key).await? {
            Some(item) => decode_album(&item, &self.table).map(Some),
            None => Ok(None),
        }
    }

    /// How many photos album `id` holds and the newest one's id: one keys-only `Query` of its
    /// memberships.
    async fn album_members(
        &self,
        operation: &'static str,
        owner: &Owner,
        id: Uuid,
    ) -> Result<(u64, Option<Uuid>), CatalogError> {
        let prefix = member_prefix(id);
        let found = self
            .query_newest_first(operation, owner, SortKey::Prefix(&prefix), None, usize::MAX, true)
            .await?;
        let newest = self.ids_after(owner, &prefix, found.get(..1).unwrap_or_default())?;
        Ok((u64::try_from(found.len()).unwrap_or(u64::MAX), newest.first().copied()))
    }

    /// `album` with its count and cover.
    async fn with_members(
        &self,
        operation: &'static str,
        owner: &Owner,
        album: NewAlbum,
    ) -> Result<Album, CatalogError> {
        let (count, cover) = self.album_members(operation, owner, album.id).await?;
        let cover = match cover {
            Some(id) => self.get(owner, id).await?.map(Box::new),
            None => None,
        };
        Ok(Album { id: album.id, name: album.name, created_at_ms: album.created_at_ms, count, cover })
    }

    /// Takes image `image` out of album `album` during the album's delete: the membership item
    /// and the id in the image's `albums` (bumping its revision) in one transaction, or only the
    /// membership item when the image is gone.
    async fn unlink(&self, owner: &Owner, album: Uuid, image: Uuid) -> Result<(), CatalogError> {
        let key = key_text(owner, &member_sk(album, image));
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(image_key(owner, image)))
            .update_expression("DELETE #albums :album SET #revision = if_not_exists(#revision, :zero) + :one")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#albums", ALBUMS)
            .expression_attribute_names("#revision", REVISION)
            .expression_attribute_values(":album", AttributeValue::Ss(vec![album.hyphenated().to_string()]))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(|e| self.build_error("delete_album", &key, e))?;
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.delete_key(member_key(owner, album, image), "delete_album", &key)?,
        ];
        match self.transact("delete_album", &key, items).await {
            Ok(()) => Ok(()),
            Err(TxError::ConditionFailed(_)) => {
                let alone = vec![self.delete_key(member_key(owner, album, image), "delete_album", &key)?];
                self.transact("delete_album", &key, alone).await.map_err(|e| match e {
                    TxError::Failed(e) => e,
                    TxError::ConditionFailed(_) => {
                        self.build_error("delete_album", &key, "an unconditional delete failed its condition")
                    }
                })
            }
            Err(TxError::Failed(e)) => Err(e),
        }
    }

    /// The image update of an album change: `ADD` or `DELETE` `album` in its `albums`, the
    /// revision bumped, conditioned on the revision read.
    fn albums_update(
        &self,
        owner: &Owner,
        record: &ImageRecord,
        action: &str,
        album: Uuid,
        operation: &'static str,
        key: &str,
    ) -> Result<TransactWriteItem, CatalogError> {
        let (condition, revision_value) = revision_condition(record.revision);
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(image_key(owner, record.id)))
            .update_expression(format!("{action} #albums :album SET #revision = :next"))
            .condition_expression(format!("attribute_exists(#pk) AND {condition}"))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#albums", ALBUMS)
            .expression_attribute_names("#revision", REVISION)
            .expression_attribute_values(":album", AttributeValue::Ss(vec![album.hyphenated().to_string()]))
            .expression_attribute_values(":next", n(record.revision + 1))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(value) = revision_value {
            update = update.expression_attribute_values(":revision", value);
        }
        let update = update.build().map_err(|e| self.build_error(operation, key, e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The error of a write that kept meeting concurrent changes.
    fn kept_changing(&self, operation: &'static str, key: String) -> CatalogError {
        CatalogError::Unavailable {
            operation,
            table: self.table.clone(),
            key,
            transient: true,
            message: format!("the image kept changing during {MAX_ATTEMPTS} attempts"),
        }
    }
}

/// Which sort keys a query reads.
#[derive(Debug, Clone, Copy)]
enum SortKey<'a> {
    /// Those starting with this.
    Prefix(&'a str),
    /// Those before this.
    Below(&'a str),
    /// This and those after it.
    From(&'a str),
}

/// The most items one `Query` page is asked for (DynamoDB stops at 1 MB anyway).
const QUERY_PAGE_MAX: usize = 1000;

/// Whether the `index`th action of a cancelled transaction failed its condition.
fn failed_at(reasons: &[CancellationReason], index: usize) -> bool {
    reasons.get(index).and_then(CancellationReason::code) == Some("ConditionalCheckFailed")
}

/// `pk=… sk=…` for error messages.
fn key_text(owner: &Owner, sk: &str) -> String {
    format!("pk={} sk={sk}", user_pk(owner))
}

/// Whether trying again later may succeed: time-outs, connection failures, throttling, 5xx and
/// transaction conflicts.
fn is_transient<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            service.raw().status().is_server_error()
                || service.err().code().is_some_and(|code| TRANSIENT_CODES.contains(&code))
        }
        _ => false,
    }
}

/// An SDK error as [`CatalogError::Unavailable`].
pub(crate) fn unavailable<E>(
    operation: &'static str,
    table: &str,
    key: &str,
    err: &SdkError<E, HttpResponse>,
) -> CatalogError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = match err {
        // The service's code and message say it all; the full context would add the raw response.
        SdkError::ServiceError(service) => format!(
            "{} (HTTP {}): {}",
            service.err().code().unwrap_or("unknown error"),
            service.raw().status().as_u16(),
            service.err().message().unwrap_or("no message"),
        ),
        other => DisplayErrorContext(other).to_string(),
    };
    CatalogError::Unavailable {
        operation,
        table: table.to_owned(),
        key: key.to_owned(),
        transient: is_transient(err),
        message,
    }
}

/// Sleeps a random time up to `FIRST_BACKOFF × 2^(attempt-1)`.
async fn backoff(attempt: u32) {
    let ceiling = FIRST_BACKOFF.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    let random = RandomState::new().hash_one(attempt);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    tokio::time::sleep(Duration::from_nanos(random % nanos.max(1))).await;
}
