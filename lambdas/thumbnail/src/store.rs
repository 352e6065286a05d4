//! The object store the handler talks to: a small port, and its implementation over S3.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_s3::primitives::ByteStream;
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
    /// Deletes an object (its current version); deleting a missing key succeeds.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
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

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.client.delete_object().bucket(&self.bucket).key(key).send().await {
            // S3 answers 204 for a missing key; some emulators answer 404.
            Err(err) if status(&err) == Some(404) => Ok(()),
            Ok(_) => Ok(()),
            Err(err) => Err(StoreError::from_sdk("DeleteObject", key, &err)),
        }
    }
}
