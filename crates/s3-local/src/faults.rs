//! Fault injection and per-operation call counters.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hyper::StatusCode;
use s3s::{S3Error, S3ErrorCode};

/// The S3 operations the server implements (those `s3s-fs` provides).
///
/// Each is counted ([`Faults::calls`]) and can be made to fail ([`Faults::fail_next`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Operation {
    /// `AbortMultipartUpload`
    AbortMultipartUpload,
    /// `CompleteMultipartUpload`
    CompleteMultipartUpload,
    /// `CopyObject`
    CopyObject,
    /// `CreateBucket`
    CreateBucket,
    /// `CreateMultipartUpload`
    CreateMultipartUpload,
    /// `DeleteBucket`
    DeleteBucket,
    /// `DeleteObject`
    DeleteObject,
    /// `DeleteObjects`
    DeleteObjects,
    /// `GetBucketLocation`
    GetBucketLocation,
    /// `GetObject`
    GetObject,
    /// `HeadBucket`
    HeadBucket,
    /// `HeadObject`
    HeadObject,
    /// `ListBuckets`
    ListBuckets,
    /// `ListObjects` (v1)
    ListObjects,
    /// `ListObjectsV2`
    ListObjectsV2,
    /// `ListObjectVersions` (buckets here are unversioned: one `null` version per object)
    ListObjectVersions,
    /// `ListParts`
    ListParts,
    /// `PutObject` (SDK calls and presigned PUTs alike)
    PutObject,
    /// `UploadPart`
    UploadPart,
    /// `UploadPartCopy`
    UploadPartCopy,
}

impl Operation {
    /// Every operation, in declaration order.
    pub const ALL: [Self; 20] = [
        Self::AbortMultipartUpload,
        Self::CompleteMultipartUpload,
        Self::CopyObject,
        Self::CreateBucket,
        Self::CreateMultipartUpload,
        Self::DeleteBucket,
        Self::DeleteObject,
        Self::DeleteObjects,
        Self::GetBucketLocation,
        Self::GetObject,
        Self::HeadBucket,
        Self::HeadObject,
        Self::ListBuckets,
        Self::ListObjects,
        Self::ListObjectsV2,
        Self::ListObjectVersions,
        Self::ListParts,
        Self::PutObject,
        Self::UploadPart,
        Self::UploadPartCopy,
    ];

    /// The operation's name in the S3 API, e.g. `"GetObject"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AbortMultipartUpload => "AbortMultipartUpload",
            Self::CompleteMultipartUpload => "CompleteMultipartUpload",
            Self::CopyObject => "CopyObject",
            Self::CreateBucket => "CreateBucket",
            Self::CreateMultipartUpload => "CreateMultipartUpload",
            Self::DeleteBucket => "DeleteBucket",
            Self::DeleteObject => "DeleteObject",
            Self::DeleteObjects => "DeleteObjects",
            Self::GetBucketLocation => "GetBucketLocation",
            Self::GetObject => "GetObject",
            Self::HeadBucket => "HeadBucket",
            Self::HeadObject => "HeadObject",
            Self::ListBuckets => "ListBuckets",
            Self::ListObjects => "ListObjects",
            Self::ListObjectsV2 => "ListObjectsV2",
            Self::ListObjectVersions => "ListObjectVersions",
            Self::ListParts => "ListParts",
            Self::PutObject => "PutObject",
            Self::UploadPart => "UploadPart",
            Self::UploadPartCopy => "UploadPartCopy",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An S3 error answer to inject: an HTTP status and an S3 error code.
///
/// `Fault::from(503)` (or just `503` where an `impl Into<Fault>` is taken) picks the code S3 uses
/// for that status: 500 `InternalError`, 503 `SlowDown`, 403 `AccessDenied`, 404 `NoSuchKey`,
/// 412 `PreconditionFailed`, 501 `NotImplemented`; any other status gets the code `InjectedFault`.
/// A status outside 400–599 is answered as 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    status: u16,
    code: String,
}

impl Fault {
    /// A fault with an explicit status and S3 error code (e.g. `Fault::new(503, "ServiceUnavailable")`).
    #[must_use]
    pub fn new(status: u16, code: impl Into<String>) -> Self {
        Self { status, code: code.into() }
    }

    /// 500 `InternalError`.
    #[must_use]
    pub fn internal_error() -> Self {
        Self::new(500, "InternalError")
    }

    /// 503 `SlowDown`, S3's throttling answer.
    #[must_use]
    pub fn slow_down() -> Self {
        Self::new(503, "SlowDown")
    }

    /// The HTTP status this fault answers with.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The S3 error code this fault answers with.
    #[must_use]
    pub fn code(&self) -> &str {
        &self.code
    }

    fn to_s3_error(&self, op: Operation) -> S3Error {
        let code = S3ErrorCode::from_bytes(self.code.as_bytes())
            .unwrap_or_else(|| S3ErrorCode::Custom(self.code.clone().into()));
        let mut err = S3Error::with_message(code, format!("fault injected into {op} by thumbforge-s3-local"));
        let status = StatusCode::from_u16(self.status)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        err.set_status_code(status);
        err
    }
}

impl From<u16> for Fault {
    fn from(status: u16) -> Self {
        let code = match status {
            403 => "AccessDenied",
            404 => "NoSuchKey",
            412 => "PreconditionFailed",
            500 => "InternalError",
            501 => "NotImplemented",
            503 => "SlowDown",
            _ => "InjectedFault",
        };
        Self::new(status, code)
    }
}

/// A cloneable handle on the server's fault injection and call counters.
///
/// Obtained from [`LocalS3::faults`](crate::LocalS3::faults); every clone acts on the same server.
///
/// A call is counted, and may be failed, once it has been authenticated and routed to an
/// operation: requests with a bad signature are neither counted nor consume a fault.
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<Inner>,
}

/// One operation's queue: (calls left, the fault; `None`: let them through).
type Queue = VecDeque<(u32, Option<Fault>)>;

#[derive(Default)]
struct Inner {
    calls: [AtomicU64; Operation::ALL.len()],
    /// Per operation, a queue of (calls left, the fault; `None`: let them through).
    pending: Mutex<[Queue; Operation::ALL.len()]>,
}

impl Faults {
    /// Makes the next `n` calls of `op` answer with `fault` (e.g. `503`, `500`, or a [`Fault`])
    /// instead of reaching the store.
    ///
    /// Calls queue: after these `n` faults, faults requested earlier or later for `op` follow in
    /// the order they were requested, then calls succeed again.
    pub fn fail_next(&self, op: Operation, n: u32, fault: impl Into<Fault>) {
        if n == 0 {
            return;
        }
        self.pending_queues()[op.index()].push_back((n, Some(fault.into())));
    }

    /// Lets the next `n` calls of `op` through, in the same queue as [`fail_next`](Self::fail_next):
    /// `pass_next(op, 2)` then `fail_next(op, 1, 503)` fails the third call.
    pub fn pass_next(&self, op: Operation, n: u32) {
        if n == 0 {
            return;
        }
        self.pending_queues()[op.index()].push_back((n, None));
    }

    /// How many injected faults are still waiting for calls of `op`.
    #[must_use]
    pub fn pending(&self, op: Operation) -> u64 {
        self.pending_queues()[op.index()]
            .iter()
            .filter(|(_, f)| f.is_some())
            .map(|(n, _)| u64::from(*n))
            .sum()
    }

    /// Drops every fault not yet delivered.
    pub fn clear(&self) {
        self.pending_queues().iter_mut().for_each(VecDeque::clear);
    }

    /// How many calls of `op` the server has received (including those answered with an
    /// injected fault).
    #[must_use]
    pub fn calls(&self, op: Operation) -> u64 {
        self.inner.calls[op.index()].load(Ordering::SeqCst)
    }

    /// Sets every call counter back to zero.
    pub fn reset_calls(&self) {
        for c in &self.inner.calls {
            c.store(0, Ordering::SeqCst);
        }
    }

    /// Counts a call of `op` and answers with the next pending fault, if any.
    pub(crate) fn enter(&self, op: Operation) -> Result<(), S3Error> {
        self.inner.calls[op.index()].fetch_add(1, Ordering::SeqCst);
        let mut queues = self.pending_queues();
        let queue = &mut queues[op.index()];
        let Some((left, fault)) = queue.front_mut() else {
            return Ok(());
        };
        let err = fault.as_ref().map(|fault| fault.to_s3_error(op));
        *left -= 1;
        if *left == 0 {
            queue.pop_front();
        }
        err.map_or(Ok(()), Err)
    }

    fn pending_queues(&self) -> MutexGuard<'_, [Queue; Operation::ALL.len()]> {
        self.inner.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for op in Operation::ALL {
            let (calls, pending) = (self.calls(op), self.pending(op));
            if calls != 0 || pending != 0 {
                m.entry(&op.as_str(), &format_args!("calls={calls} pending_faults={pending}"));
            }
        }
        m.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_index_order() {
        for (i, op) in Operation::ALL.into_iter().enumerate() {
            assert_eq!(op.index(), i, "{op}");
        }
    }

    #[test]
    fn faults_are_delivered_in_order_then_calls_pass() {
        let faults = Faults::default();
        faults.fail_next(Operation::GetObject, 2, 503);
        faults.fail_next(Operation::GetObject, 1, Fault::internal_error());
        assert_eq!(faults.pending(Operation::GetObject), 3);

        let codes: Vec<_> = (0..4)
            .map(|_| faults.enter(Operation::GetObject).err().map(|e| e.code().as_str().to_owned()))
            .collect();
        assert_eq!(
            codes,
            [Some("SlowDown".into()), Some("SlowDown".into()), Some("InternalError".into()), None]
        );
        assert_eq!(faults.calls(Operation::GetObject), 4);
        assert_eq!(faults.calls(Operation::PutObject), 0);
        assert!(faults.enter(Operation::PutObject).is_ok());
    }

    #[test]
    fn statuses_map_to_s3_codes() {
        let err = Fault::from(503).to_s3_error(Operation::HeadObject);
        assert_eq!(err.status_code(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(err.code().as_str(), "SlowDown");
        let err = Fault::new(599, "Weird").to_s3_error(Operation::HeadObject);
        assert_eq!(err.status_code().map(|s| s.as_u16()), Some(599));
        assert_eq!(err.code().as_str(), "Weird");
        let err = Fault::from(200).to_s3_error(Operation::HeadObject);
        assert_eq!(err.status_code(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    }
}
