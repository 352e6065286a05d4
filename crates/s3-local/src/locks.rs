//! One async mutex per object being written, so that a conditional write's check and its write
//! happen with no other write to the same key in between.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// `(bucket, key)`.
type ObjectId = (String, String);

/// Locks keyed by `(bucket, key)`. An entry lives only while someone holds or waits for it, so the
/// map is bounded by the number of writes in flight.
#[derive(Default)]
pub(crate) struct KeyLocks {
    map: Mutex<HashMap<ObjectId, Arc<AsyncMutex<()>>>>,
}

impl KeyLocks {
    pub(crate) async fn lock(&self, bucket: &str, key: &str) -> KeyGuard<'_> {
        let id = (bucket.to_owned(), key.to_owned());
        let mutex = {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(map.entry(id.clone()).or_default())
        };
        let guard = mutex.lock_owned().await;
        KeyGuard { locks: self, id, guard: Some(guard) }
    }
}

/// Holds a key's lock; dropping it releases the lock and forgets the entry if nobody else wants it.
pub(crate) struct KeyGuard<'a> {
    locks: &'a KeyLocks,
    id: ObjectId,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        // Release first: the guard holds a reference to the entry's Arc.
        drop(self.guard.take());
        let mut map = self.locks.map.lock().unwrap_or_else(PoisonError::into_inner);
        // Waiters clone the Arc while holding the map lock, so a count of 1 (the map's own) means
        // that no one holds or waits for this key.
        if map.get(&self.id).is_some_and(|m| Arc::strong_count(m) == 1) {
            map.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_are_dropped_when_unused() {
        let locks = KeyLocks::default();
        {
            let _a = locks.lock("b", "k").await;
            let _b = locks.lock("b", "other").await;
            assert_eq!(locks.map.lock().map(|m| m.len()).ok(), Some(2));
        }
        assert_eq!(locks.map.lock().map(|m| m.len()).ok(), Some(0));
    }

    #[tokio::test]
    async fn same_key_is_exclusive() {
        let locks = Arc::new(KeyLocks::default());
        let first = locks.lock("b", "k").await;
        let l2 = Arc::clone(&locks);
        let waiter = tokio::spawn(async move {
            let _g = l2.lock("b", "k").await;
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(first);
        waiter.await.expect("waiter finishes once the lock is released");
        assert_eq!(locks.map.lock().map(|m| m.len()).ok(), Some(0));
    }
}
