//! The object store the handler talks to: a small port, and its implementation over S3.

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

/// What a conditional `put` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The object was written.
    Written,
    /// `if_absent` was set and the object already existed; nothing was written.
    AlreadyExists,
}

/// A store failure. The handler fails the invocation on any of them, so Lambda retries it.
pub use thumbforge_lambda::StoreError;

/// The handler's view of the bucket.
pub trait ObjectStore: Send + Sync {
    /// Reads an object, refusing to hold more than `max_bytes` of it.
    fn get(&self, key: &str, max_bytes: u64) -> impl Future<Output = Result<Fetched, StoreError>> + Send;
    /// Whether an object exists.
    fn exists(&self, key: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Writes an object with its `Content-Type` and `Cache-Control`; with `if_absent`, only if
    /// no object has the key yet (S3 `If-None-Match: *`).
    fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        cache_control: &str,
        if_absent: bool,
    ) -> impl Future<Output = Result<Put, StoreError>> + Send;
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

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => Ok(true),
            Err(err)
                if err.as_service_error().is_some_and(|e| e.is_not_found()) || status(&err) == Some(404) =>
            {
                Ok(false)
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
        if_absent: bool,
    ) -> Result<Put, StoreError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .cache_control(cache_control)
            .body(ByteStream::from(body));
        if if_absent {
            request = request.if_none_match("*");
        }
        match request.send().await {
            Ok(_) => Ok(Put::Written),
            Err(err) if if_absent && status(&err) == Some(412) => Ok(Put::AlreadyExists),
            Err(err) => Err(StoreError::from_sdk("PutObject", key, &err)),
        }
    }
}
