//! The object store the handler talks to: a small port, and its implementation over S3.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_s3::primitives::ByteStream;
use thumbforge_core::keys;
use thumbforge_lambda::http_status as status;

/// What a `get` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The whole object.
    Body(Vec<u8>),
    /// The object is larger than the cap; reading stopped there.
    TooLarge,
    /// No such object (deleted before we got to it).
    Missing,
}

/// What a `head` found about an existing object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    /// Its size in bytes (`Content-Length`), when the store said.
    pub size: Option<u64>,
    /// Its user metadata (`x-amz-meta-*`), by lower-case name without the prefix, values as
    /// stored.
    pub metadata: BTreeMap<String, String>,
}

/// One version of an object, or one delete marker, as `ListObjectVersions` names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// The key.
    pub key: String,
    /// Its version id (`null` in a bucket that was never versioned).
    pub version_id: String,
}

/// A store failure. The handler fails the invocation on any of them, so Lambda retries it.
pub use thumbforge_lambda::StoreError;

/// The handler's view of the bucket.
pub trait ObjectStore: Send + Sync {
    /// Reads an object, refusing to hold more than `max_bytes` of it.
    fn get(&self, key: &str, max_bytes: u64) -> impl Future<Output = Result<Fetched, StoreError>> + Send;
    /// An object's size and user metadata; `None` when there is no such object.
    fn head(&self, key: &str) -> impl Future<Output = Result<Option<Head>, StoreError>> + Send;
    /// Writes an object with its `Content-Type` and `Cache-Control`, replacing any.
    fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        cache_control: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every version and delete marker of every key under `prefix`, all pages read.
    fn list_versions(&self, prefix: &str) -> impl Future<Output = Result<Vec<Version>, StoreError>> + Send;
    /// Deletes these versions for good (not a delete marker); a version already gone succeeds.
    fn delete_versions(&self, versions: &[Version]) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// [`ObjectStore`] over one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

/// The thumbnail function's S3 timeouts: a stalled call fails (and the invocation is retried)
/// well inside the function's 30 s timeout (`functions.thumbnail`).
pub fn timeouts() -> aws_sdk_s3::config::timeout::TimeoutConfig {
    use std::time::Duration;
    thumbforge_lambda::timeouts(Duration::from_secs(3), Duration::from_secs(10), Duration::from_secs(25))
}

/// The thumbnail function's DynamoDB timeouts. Its table calls are single small items (a read
/// and a conditional update per image), so a stalled one fails (and the invocation is retried)
/// after at most 8 s: with the S3 calls of a normal image, well inside the function's 30 s.
pub fn catalog_timeouts() -> aws_sdk_s3::config::timeout::TimeoutConfig {
    use std::time::Duration;
    thumbforge_lambda::timeouts(Duration::from_secs(2), Duration::from_secs(3), Duration::from_secs(8))
}

impl S3Store {
    /// Wraps a client and a bucket name.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }
}

impl ObjectStore for S3Store {
    async fn get(&self, key: &str, max_bytes: u64) -> Result<Fetched, StoreError> {
        let fail = |message: String| StoreError {
            operation: "GetObject",
            key: key.to_owned(),
            message,
            transient: true,
        };
        let response = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(response) => response,
            Err(err)
                if err.as_service_error().is_some_and(|e| e.is_no_such_key())
                    || status(&err) == Some(404) =>
            {
                return Ok(Fetched::Missing);
            }
            Err(err) => return Err(StoreError::from_sdk("GetObject", key, &err)),
        };
        if response.content_length().is_some_and(|len| u64::try_from(len).unwrap_or(u64::MAX) > max_bytes) {
            return Ok(Fetched::TooLarge);
        }
        let mut body: ByteStream = response.body;
        let mut data =
            Vec::with_capacity(usize::try_from(response.content_length.unwrap_or(0).max(0)).unwrap_or(0));
        while let Some(chunk) = body.try_next().await.map_err(|e| fail(format!("reading the body: {e}")))? {
            if u64::try_from(data.len() + chunk.len()).unwrap_or(u64::MAX) > max_bytes {
                return Ok(Fetched::TooLarge);
            }
            data.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body(data))
    }

    async fn head(&self, key: &str) -> Result<Option<Head>, StoreError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Ok(Some(Head {
                size: out.content_length().and_then(|len| u64::try_from(len).ok()),
                metadata: out
                    .metadata()
                    .map(|m| m.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect())
                    .unwrap_or_default(),
            })),
            Err(err)
                if err.as_service_error().is_some_and(|e| e.is_not_found()) || status(&err) == Some(404) =>
            {
                Ok(None)
            }
            Err(err) => Err(StoreError::from_sdk("HeadObject", key, &err)),
        }
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        cache_control: &str,
    ) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .cache_control(cache_control)
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| StoreError::from_sdk("PutObject", key, &err))
    }

    async fn list_versions(&self, prefix: &str) -> Result<Vec<Version>, StoreError> {
        let mut versions = Vec::new();
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|err| StoreError::from_sdk("ListObjectVersions", prefix, &err))?;
            let found = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(page.delete_markers().iter().map(|m| (m.key(), m.version_id())));
            for (key, version_id) in found {
                if let Some(key) = key {
                    let version_id = version_id.unwrap_or("null").to_owned();
                    versions.push(Version { key: key.to_owned(), version_id });
                }
            }
            if page.is_truncated() != Some(true) {
                return Ok(versions);
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
            if key_marker.is_none() && version_marker.is_none() {
                return Err(StoreError {
                    operation: "ListObjectVersions",
                    key: prefix.to_owned(),
                    message: "a truncated page without a marker to continue from".to_owned(),
                    transient: false,
                });
            }
        }
    }

    async fn delete_versions(&self, versions: &[Version]) -> Result<(), StoreError> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        // DeleteObjects takes at most 1,000 keys per call.
        for chunk in versions.chunks(1000) {
            let first = chunk.first().map_or("", |v| v.key.as_str());
            let fail = |message: String, transient: bool| StoreError {
                operation: "DeleteObjects",
                key: first.to_owned(),
                message,
                transient,
            };
            let objects = chunk
                .iter()
                .map(|v| ObjectIdentifier::builder().key(&v.key).version_id(&v.version_id).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| fail(format!("building the request: {e}"), false))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| fail(format!("building the request: {e}"), false))?;
            let out = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|err| StoreError::from_sdk("DeleteObjects", first, &err))?;
            if let Some(error) = out.errors().first() {
                let code = error.code().unwrap_or("unknown");
                return Err(StoreError {
                    operation: "DeleteObjects",
                    key: error.key().unwrap_or(first).to_owned(),
                    message: format!(
                        "{} of {} versions not deleted; first: {code}: {}",
                        out.errors().len(),
                        chunk.len(),
                        error.message().unwrap_or("")
                    ),
                    transient: matches!(
                        code,
                        "InternalError" | "SlowDown" | "ServiceUnavailable" | "RequestTimeout"
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Deletes everything image `id` has in the bucket, for good: every version and delete marker of
/// its renditions (`thumbs/{id}/…`), then of its upload (`raw/{id}.{ext}`), the upload last so that
/// a failure part-way leaves it for the retry to find. How many versions went.
///
/// # Errors
///
/// The first store failure; whatever was already deleted stays deleted, and running it again
/// finishes the job.
pub async fn purge<S: ObjectStore>(store: &S, id: &str) -> Result<usize, StoreError> {
    let renditions = store.list_versions(&format!("{}{id}/", keys::THUMBS_PREFIX)).await?;
    // `raw/{id}` also lists `raw/{id}x…`: keep the uploads of exactly this id.
    let uploads: Vec<Version> = store
        .list_versions(&format!("{}{id}", keys::RAW_PREFIX))
        .await?
        .into_iter()
        .filter(|v| keys::id_from_raw_key(&v.key) == Ok(id))
        .collect();
    store.delete_versions(&renditions).await?;
    store.delete_versions(&uploads).await?;
    Ok(renditions.len() + uploads.len())
}
