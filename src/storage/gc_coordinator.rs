//! Coordination between a garbage collection and the writes of a server in
//! the same process: the write gate and the record of touched digests. The
//! registry (writes) and the collector (`gc.rs`) both use it, so neither
//! needs the other's internals.
//!
//! From the moment a collection begins, every digest the server links,
//! checks or stores is recorded as *touched*, and the sweep skips touched
//! digests. Writes hold the gate shared across "check every referenced blob
//! exists" and "write the links"; the sweep holds it exclusively while it
//! deletes.

use std::collections::HashSet;
use std::sync::Mutex;

use tokio::sync::{MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::types::Digest;

/// Coordination between a running collection and the writes of a server in
/// the same process. Held by the [`super::Registry`].
#[derive(Default)]
pub struct GcCoordinator {
    gate: RwLock<()>,
    touched: Mutex<Option<HashSet<Digest>>>,
    running: tokio::sync::Mutex<()>,
}

impl GcCoordinator {
    /// Held (shared) by a write across its checks and its links.
    pub(crate) async fn writing(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().await
    }

    /// Records that a write or a check used these digests.
    pub(crate) fn touch<'a>(&self, digests: impl IntoIterator<Item = &'a Digest>) {
        let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(set) = touched.as_mut() {
            set.extend(digests.into_iter().cloned());
        }
    }

    pub(crate) fn is_touched(&self, d: &Digest) -> bool {
        self.touched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|s| s.contains(d))
    }

    pub(crate) fn set_recording(&self, on: bool) {
        *self.touched.lock().unwrap_or_else(|e| e.into_inner()) = on.then(HashSet::new);
    }

    /// Held by the sweep while it deletes: no write is between its checks
    /// and its links meanwhile.
    pub(crate) async fn exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write().await
    }

    /// The right to run the one collection of this process; `None` while
    /// another runs.
    pub(crate) fn try_run(&self) -> Option<MutexGuard<'_, ()>> {
        self.running.try_lock().ok()
    }
}
