//! What the API core depends on, as small ports: the metadata table
//! ([`thumbforge_catalog::Catalog`]), a URL signer, a clock and an id generator. `s3.rs`
//! implements the signer over `aws_sdk_s3`; the tests use the in-memory catalog and fakes.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, SystemTime};

use uuid::Uuid;

/// The upload a URL is signed for. Every field is signed: S3 refuses a request that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    /// The object key (`raw/{id}.{ext}`).
    pub key: String,
    /// The exact `Content-Type`.
    pub content_type: String,
    /// The exact `Content-Length`.
    pub content_length: u64,
    /// `x-amz-meta-*` headers (names without the prefix) and their ASCII values.
    pub metadata: BTreeMap<String, String>,
    /// Sign `If-None-Match: *`: S3 refuses to overwrite an existing object.
    pub if_none_match_any: bool,
    /// The signing time.
    pub start: SystemTime,
    /// How long the URL stays valid from `start`.
    pub expires_in: Duration,
}

/// A pre-signed `PUT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPut {
    /// The URL, signature in the query string.
    pub url: String,
    /// Every header the client must send with it (lower-case names; `Host` excluded, as the
    /// HTTP client sets it from the URL).
    pub headers: BTreeMap<String, String>,
    /// When the URL stops working (the credentials' expiry can make it earlier than asked).
    pub expires_at: SystemTime,
}

/// The download a URL is signed for: a `GET` of one object, answered with the given
/// `Content-Type` and `Content-Disposition` (S3's `response-content-*` parameters, signed into the
/// query string, so a client cannot change them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetRequest {
    /// The object key (`raw/{id}.{ext}`).
    pub key: String,
    /// The `Content-Type` S3 answers with (`response-content-type`).
    pub response_content_type: String,
    /// The `Content-Disposition` S3 answers with (`response-content-disposition`).
    pub response_content_disposition: String,
    /// The signing time.
    pub start: SystemTime,
    /// How long the URL stays valid from `start`.
    pub expires_in: Duration,
}

/// A pre-signed `GET`: needs no header but `Host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedGet {
    /// The URL, signature in the query string.
    pub url: String,
    /// When the URL stops working (the credentials' expiry can make it earlier than asked).
    pub expires_at: SystemTime,
}

/// The URL could not be signed (no credentials, typically).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("presigning a request of {key}: {message}")]
pub struct PresignError {
    /// The key.
    pub key: String,
    /// What went wrong.
    pub message: String,
}

/// Signs upload and download URLs.
pub trait Presigner: Send + Sync {
    /// Signs a `PUT` of exactly `request`.
    fn presign_put(
        &self,
        request: &UploadRequest,
    ) -> impl Future<Output = Result<PresignedPut, PresignError>> + Send;

    /// Signs a `GET` of exactly `request`.
    fn presign_get(
        &self,
        request: &GetRequest,
    ) -> impl Future<Output = Result<PresignedGet, PresignError>> + Send;
}

/// The current time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Makes image ids.
pub trait IdGenerator: Send + Sync {
    /// A new UUIDv7.
    fn new_id(&self) -> Uuid;
}

/// [`Uuid::now_v7`]: time-ordered, and strictly increasing within the process.
#[derive(Debug, Clone, Copy, Default)]
pub struct V7Ids;

impl IdGenerator for V7Ids {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}
