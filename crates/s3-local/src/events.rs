//! Notifications of object creations, the raw material of an S3 → Lambda event emulator.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;

/// Which API call created an object, as S3 event notifications name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventName {
    /// `ObjectCreated:Put`: `PutObject`, including presigned PUTs.
    Put,
    /// `ObjectCreated:Copy`: `CopyObject`.
    Copy,
    /// `ObjectCreated:CompleteMultipartUpload`.
    CompleteMultipartUpload,
}

impl EventName {
    /// The S3 event name, e.g. `"ObjectCreated:Put"` (the `eventName` of an S3 event record
    /// is this with the `s3:` prefix of the notification configuration dropped).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Put => "ObjectCreated:Put",
            Self::Copy => "ObjectCreated:Copy",
            Self::CompleteMultipartUpload => "ObjectCreated:CompleteMultipartUpload",
        }
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An object was created (or overwritten) successfully.
///
/// Sent after the object and its metadata are in place, so a consumer that reacts to it by
/// reading the object sees the new content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    /// The bucket's name.
    pub bucket: String,
    /// The object key, raw (not URL-encoded; S3 event records carry it form-encoded, which is the
    /// consumer's job).
    pub key: String,
    /// The object's size in bytes.
    pub size: u64,
    /// The object's ETag without quotes (the MD5 hex digest, or `<hex>-<parts>` for multipart).
    pub etag: String,
    /// Orders events for the same key like S3's `sequencer`: upper-case hexadecimal of fixed
    /// width (16 digits), strictly increasing over the server's lifetime (seeded from the clock at
    /// start, so it also grows across restarts on the same data), so later writes compare greater
    /// both as strings and as numbers.
    pub sequencer: String,
    /// Which API call created the object.
    pub event_name: EventName,
    /// When the object was created (the server's clock).
    pub time: SystemTime,
}

/// The sending side: a bounded broadcast channel and the sequencer.
pub(crate) struct Events {
    tx: broadcast::Sender<ObjectCreated>,
    sequencer: AtomicU64,
}

impl Events {
    pub(crate) fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX / 2));
        Self { tx, sequencer: AtomicU64::new(seed) }
    }

    /// Another handle on the channel, from which receivers subscribe.
    pub(crate) fn sender(&self) -> broadcast::Sender<ObjectCreated> {
        self.tx.clone()
    }

    /// Publishes one event; callers hold the key's write lock so that sequencers for one key
    /// are issued in the order the writes took effect.
    pub(crate) fn publish(
        &self,
        bucket: String,
        key: String,
        size: u64,
        etag: String,
        event_name: EventName,
    ) {
        let seq = self.sequencer.fetch_add(1, Ordering::SeqCst);
        let event = ObjectCreated {
            bucket,
            key,
            size,
            etag,
            sequencer: format!("{seq:016X}"),
            event_name,
            time: SystemTime::now(),
        };
        // No subscriber is not an error: events are only for those who listen.
        let _ = self.tx.send(event);
    }
}
