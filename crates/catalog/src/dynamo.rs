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
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use thumbforge_core::manifest::Outcome;
use uuid::Uuid;

use crate::item::{
    Item, decode_image, decode_profile, image_key, n, outcome_attrs, pending_item, profile_key, s,
};
use crate::schema::{
    BYTES, DESCRIPTION, FINISHED_AT, ID, IMAGE_PREFIX, IMAGES, PK, PROFILE_SK, RELEASED_MARKER_TTL_S,
    REVISION, SK, STATUS, STATUS_PENDING, TAGS, TITLE, TTL_ATTRIBUTE, TYPE, TYPE_PROFILE, TYPE_RELEASED,
    TYPE_TAG, image_sk, released_sk, tag_prefix, tag_sk, user_pk,
};
use crate::{
    Catalog, CatalogError, Edit, Finish, ImageRecord, NewImage, Owner, Page, Profile, apply_edit, check_edit,
    check_limit,
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
    async fn create(&self, owner: &Owner, image: &NewImage) -> Result<(), CatalogError> {
        let key = key_text(owner, &image_sk(image.id));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(pending_item(owner, image)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| self.build_error("create", &key, e))?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            self.profile_update(owner, 1, i128::from(image.size), "create", &key)?,
        ];
        match self.transact("create", &key, items).await {
            Ok(()) => Ok(()),
            Err(TxError::ConditionFailed(_)) => {
                Err(CatalogError::AlreadyExists { operation: "create", table: self.table.clone(), key })
            }
            Err(TxError::Failed(e)) => Err(e),
        }
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
        let found = self.query_newest_first("list", owner, IMAGE_PREFIX, after.map(image_sk), wanted).await?;
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
            (":finishedAt".to_owned(), n(finished_at_ms)),
        ]);
        for (name, value) in outcome_attrs(outcome)? {
            sets.push(format!("#{name} = :{name}"));
            names.insert(format!("#{name}"), name.to_owned());
            values.insert(format!(":{name}"), value);
        }
        let expression = format!("SET {} REMOVE #expiresAt", sets.join(", "));

        let mut attempt = 1;
        loop {
            let updated = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(image_key(owner, id)))
                .update_expression(&expression)
                .condition_expression("attribute_exists(#pk) AND #status = :pending")
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
                if record.state == crate::ImageState::Pending {
                    return Err(CatalogError::Unavailable {
                        operation: "finish",
                        table: self.table.clone(),
                        key,
                        transient: false,
                        message: "the condition failed although the image is pending".to_owned(),
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
            match self.transact("edit", &key, items).await {
                Ok(()) => {
                    return Ok(Some(ImageRecord { details, revision: record.revision + 1, ..record }));
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
        let pk = user_pk(owner);
        let prefix = tag_prefix(tag);
        let wanted = usize::from(limit) + 1;
        let found = self
            .query_newest_first("list_tagged", owner, &prefix, after.map(|id| tag_sk(tag, id)), wanted)
            .await?;
        let mut ids = Vec::with_capacity(found.len());
        for item in &found {
            let sk = match item.get(SK) {
                Some(AttributeValue::S(sk)) => sk.as_str(),
                _ => "",
            };
            let id = sk.strip_prefix(prefix.as_str()).and_then(|id| Uuid::try_parse(id).ok()).ok_or_else(
                || CatalogError::Corrupt {
                    table: self.table.clone(),
                    pk: pk.clone(),
                    sk: sk.to_owned(),
                    what: format!("a tag index item whose sort key is not {prefix}<uuid>"),
                },
            )?;
            ids.push(id);
        }
        let next = if ids.len() > usize::from(limit) {
            ids.truncate(usize::from(limit));
            ids.last().copied()
        } else {
            None
        };
        let mut found = self.get_many(owner, &ids).await?;
        // An image and its tag index items change in one transaction, so every id is there; an
        // image deleted between the two reads is simply left out.
        let items = ids.iter().filter_map(|id| found.remove(id)).collect();
        Ok(Page { items, next })
    }

    async fn profile(&self, owner: &Owner) -> Result<Profile, CatalogError> {
        let key = key_text(owner, PROFILE_SK);
        let item = self.get_item("profile", profile_key(owner), &key).await?;
        decode_profile(item.as_ref(), &self.table)
    }
}

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

    /// Up to `wanted` of the owner's items whose sort key starts with `prefix`, newest (largest
    /// sort key) first, strictly after `start_sk` when given: one `Query`, continued when a page
    /// stops short at 1 MB. The partition comes only from `owner`.
    async fn query_newest_first(
        &self,
        operation: &'static str,
        owner: &Owner,
        prefix: &str,
        start_sk: Option<String>,
        wanted: usize,
    ) -> Result<Vec<Item>, CatalogError> {
        let pk = user_pk(owner);
        let key = format!("pk={pk} sk={prefix}*");
        let mut start: Option<Item> =
            start_sk.map(|sk| HashMap::from([(PK.to_owned(), s(pk.clone())), (SK.to_owned(), s(sk))]));
        let mut items = Vec::with_capacity(wanted);
        loop {
            let remaining = i32::try_from(wanted - items.len()).unwrap_or(i32::MAX);
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s(prefix.to_owned()))
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

    /// The owner's images with these ids (strongly consistent, 100 per `BatchGetItem`), by id;
    /// ids with no image are absent.
    async fn get_many(
        &self,
        owner: &Owner,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, ImageRecord>, CatalogError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = HashMap::with_capacity(ids.len());
        let key = format!("pk={} sk={IMAGE_PREFIX}…", user_pk(owner));
        for chunk in ids.chunks(100) {
            let keys: Vec<Item> = chunk.iter().map(|id| image_key(owner, *id)).collect();
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| self.build_error("list_tagged", &key, e))?,
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
                    .map_err(|e| self.unavailable("list_tagged", &key, &e))?;
                for item in out.responses().and_then(|r| r.get(&self.table)).into_iter().flatten() {
                    let record = decode_image(item, &self.table)?;
                    found.insert(record.id, record);
                }
                // Keys DynamoDB did not get to (throttling, size): ask again, backing off.
                request = out.unprocessed_keys().and_then(|u| u.get(&self.table)).cloned();
                if request.is_some() {
                    if attempt >= MAX_ATTEMPTS {
                        return Err(CatalogError::Unavailable {
                            operation: "list_tagged",
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
