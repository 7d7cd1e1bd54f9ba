//! Several servers on one object store collecting garbage safely: a lease
//! so that one collects at a time, and write intents so that what the other
//! servers' pushes use during a collection is never swept.
//!
//! The protocol (objects under `_regctl/gc/`, beside `docker/`):
//!
//! 1. The collector takes the lease (`lease`, a conditional create; an
//!    expired lease is taken over by a conditional replace of the version it
//!    read) and renews it every [`LEASE_TTL`]/3. It then waits
//!    [`LEASE_SETTLE`] before it marks: every server reads the lease at most
//!    [`LEASE_POLL`] apart, and a write that began before it saw the lease
//!    must write its links within [`WRITE_WINDOW`] of that look or fail
//!    (`confirm`), so when the mark starts, every write either is already
//!    in the store or announces itself.
//! 2. While the lease is held, every write first records an *intent* (the
//!    digests it will check and link), then waits while any of them is in
//!    the batch the collector is deleting (`sweeping`), then checks and links
//!    as usual.
//! 3. Before deleting a batch, the collector publishes it as `sweeping`,
//!    then reads every intent and keeps the digests they name.
//!
//! Why that is enough: a write whose intent was written before the
//! collector read the intents is kept. One written after was written after
//! `sweeping` was published, so the write sees its digests there and waits
//! for the batch to finish, then checks the store as it is (a blob deleted
//! is reported unknown, or uploaded again). Later batches are published
//! after its intent, so they read it. Assumes S3's strong read-after-write
//! consistency (AWS since 2020, MinIO, SeaweedFS) and clocks within a few
//! seconds of each other (lease expiry only).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::backend::Backend;
use super::error::{Result, StorageError};
use super::paths;
use crate::types::Digest;

/// How long a lease lasts without renewal (a collector that died frees it
/// after this).
pub const LEASE_TTL: Duration = Duration::from_secs(30);

/// How stale a server's knowledge of the lease may be.
pub const LEASE_POLL: Duration = Duration::from_secs(1);

/// The longest a write may take from its look at the lease to its links.
pub const WRITE_WINDOW: Duration = Duration::from_secs(2);

/// Between taking the lease and marking: [`LEASE_POLL`] + [`WRITE_WINDOW`]
/// and a margin.
pub const LEASE_SETTLE: Duration = Duration::from_millis(3500);

/// Longest a write waits for a batch being swept.
const SWEEP_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize, Deserialize)]
struct Lease {
    holder: String,
    /// Milliseconds since the Unix epoch.
    expires_ms: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct DigestList {
    digests: Vec<String>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn coordination_missing() -> StorageError {
    StorageError::Io(std::io::Error::other(
        "this storage has no conditional writes for a collection lease",
    ))
}

fn encode<T: Serialize>(v: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

/// What a write learnt before it began: when it looked, and whether a
/// collection was running (then its intent is recorded).
pub struct Announcement {
    looked: Instant,
    during_collection: bool,
}

/// This server's side of the protocol, over a store with conditional writes.
pub struct Cluster {
    backend: Arc<dyn Backend>,
    /// Names this server in the lease.
    id: String,
    /// Whether a lease was seen, and when it was looked at.
    view: tokio::sync::Mutex<Option<(Instant, bool)>>,
}

impl Cluster {
    /// `None` for a store without conditional writes (a directory).
    pub fn over(backend: &Arc<dyn Backend>) -> Option<Self> {
        backend.coordination()?;
        Some(Cluster {
            backend: backend.clone(),
            id: uuid::Uuid::new_v4().simple().to_string(),
            view: tokio::sync::Mutex::new(None),
        })
    }

    async fn lease(&self) -> Result<Option<(Lease, String)>> {
        let c = self
            .backend
            .coordination()
            .ok_or_else(coordination_missing)?;
        Ok(c.get_versioned(&paths::gc_lease())
            .await?
            .and_then(|(bytes, version)| Some((serde_json::from_slice(&bytes).ok()?, version))))
    }

    /// Whether a collection holds the lease, as seen at most [`LEASE_POLL`] ago.
    async fn collecting(&self) -> Result<(Instant, bool)> {
        let mut view = self.view.lock().await;
        if let Some((at, active)) = *view
            && at.elapsed() < LEASE_POLL
        {
            return Ok((at, active));
        }
        let at = Instant::now();
        let active = self
            .lease()
            .await?
            .is_some_and(|(lease, _)| lease.expires_ms > now_ms());
        *view = Some((at, active));
        Ok((at, active))
    }

    /// Called by a write before it checks and links `digests`: records an
    /// intent while a collection runs, and waits out a batch being swept
    /// that holds any of them.
    pub async fn announce(&self, digests: &[&Digest]) -> Result<Announcement> {
        let (looked, during_collection) = self.collecting().await?;
        if !during_collection {
            return Ok(Announcement {
                looked,
                during_collection,
            });
        }
        let intent = DigestList {
            digests: digests.iter().map(|d| d.to_string()).collect(),
        };
        self.backend
            .put(&paths::gc_intent(&uuid::Uuid::new_v4()), encode(&intent))
            .await?;
        let mine: HashSet<String> = intent.digests.into_iter().collect();
        let deadline = Instant::now() + SWEEP_WAIT;
        loop {
            let sweeping: DigestList = match self.backend.get(&paths::gc_sweeping()).await? {
                Some(b) => serde_json::from_slice(&b).unwrap_or_default(),
                None => DigestList::default(),
            };
            if !sweeping.digests.iter().any(|d| mine.contains(d)) {
                break;
            }
            if Instant::now() > deadline {
                return Err(StorageError::Io(std::io::Error::other(
                    "a garbage collection on another server is deleting content this write uses; retry",
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Announcement {
            looked: Instant::now(),
            during_collection,
        })
    }

    /// Called just before a write's links: a write that saw no collection
    /// must link within [`WRITE_WINDOW`] of that look, or look again (and
    /// fail if a collection started meanwhile: its mark may have missed it).
    pub async fn confirm(&self, a: &Announcement) -> Result<()> {
        if a.during_collection || a.looked.elapsed() < WRITE_WINDOW {
            return Ok(());
        }
        *self.view.lock().await = None;
        let (_, active) = self.collecting().await?;
        if active {
            return Err(StorageError::Io(std::io::Error::other(
                "a garbage collection started on another server during this write; retry",
            )));
        }
        Ok(())
    }

    /// Takes the lease for a collection; `None` while another server holds
    /// it. Waits [`LEASE_SETTLE`] before returning so that the mark sees
    /// every write (see the module doc).
    pub async fn acquire(&self) -> Result<Option<LeaseGuard>> {
        let c = self
            .backend
            .coordination()
            .ok_or_else(coordination_missing)?;
        let mine = Lease {
            holder: self.id.clone(),
            expires_ms: now_ms() + LEASE_TTL.as_millis() as u64,
        };
        let key = paths::gc_lease();
        let taken = if c.create(&key, encode(&mine)).await? {
            true
        } else {
            match self.lease().await? {
                Some((held, version)) if held.expires_ms <= now_ms() => {
                    // Expired: the holder died or stalled. Replace exactly the
                    // version read, so two servers cannot both take it over.
                    c.replace_if(&key, encode(&mine), &version).await?
                }
                Some(_) => false,
                // Released between the create and the read: try once more.
                None => c.create(&key, encode(&mine)).await?,
            }
        };
        if !taken {
            return Ok(None);
        }
        *self.view.lock().await = Some((Instant::now(), true));
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = tokio::spawn(renew(self.backend.clone(), self.id.clone(), lost.clone()));
        tokio::time::sleep(LEASE_SETTLE).await;
        Ok(Some(LeaseGuard {
            backend: self.backend.clone(),
            holder: self.id.clone(),
            lost,
            renewer,
            released: false,
        }))
    }
}

/// Renews the lease every third of its life; marks it lost when another
/// server holds it (it expired while this one stalled).
async fn renew(backend: Arc<dyn Backend>, holder: String, lost: Arc<AtomicBool>) {
    let key = paths::gc_lease();
    loop {
        tokio::time::sleep(LEASE_TTL / 3).await;
        let Some(c) = backend.coordination() else {
            return;
        };
        let renewed = async {
            let Some((bytes, version)) = c.get_versioned(&key).await? else {
                return Ok::<bool, std::io::Error>(false);
            };
            let held: Option<Lease> = serde_json::from_slice(&bytes).ok();
            if held.is_none_or(|l| l.holder != holder) {
                return Ok(false);
            }
            let next = Lease {
                holder: holder.clone(),
                expires_ms: now_ms() + LEASE_TTL.as_millis() as u64,
            };
            c.replace_if(&key, encode(&next), &version).await
        }
        .await;
        match renewed {
            Ok(true) => {}
            Ok(false) => {
                tracing::error!(target: "regctl::gc", "the collection lease was lost; the collection stops");
                lost.store(true, Ordering::SeqCst);
                return;
            }
            // A failed request: try again before the lease runs out.
            Err(e) => {
                tracing::warn!(target: "regctl::gc", error = %e, "could not renew the collection lease")
            }
        }
    }
}

/// The lease, held by a running collection; released when dropped.
pub struct LeaseGuard {
    backend: Arc<dyn Backend>,
    holder: String,
    lost: Arc<AtomicBool>,
    renewer: tokio::task::JoinHandle<()>,
    released: bool,
}

impl LeaseGuard {
    fn check(&self) -> Result<()> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(StorageError::Io(std::io::Error::other(
                "the collection lease expired (the collector stalled longer than its lease); collect again",
            )));
        }
        Ok(())
    }

    /// Before deleting `batch`: publishes it as being swept, then returns
    /// the digests of every intent recorded so far (to be kept).
    pub async fn sweeping(&self, batch: &[&Digest]) -> Result<HashSet<Digest>> {
        self.check()?;
        let list = DigestList {
            digests: batch.iter().map(|d| d.to_string()).collect(),
        };
        self.backend
            .put(&paths::gc_sweeping(), encode(&list))
            .await?;
        self.intents().await
    }

    async fn intents(&self) -> Result<HashSet<Digest>> {
        let dir = paths::gc_intents_dir();
        let names = self.backend.list(&dir).await?;
        let keys = names.iter().map(|n| format!("{dir}/{n}")).collect();
        let mut used = HashSet::new();
        for body in self.backend.get_many(keys).await?.into_iter().flatten() {
            let list: DigestList = serde_json::from_slice(&body).unwrap_or_default();
            used.extend(list.digests.iter().filter_map(|d| d.parse().ok()));
        }
        Ok(used)
    }

    /// Ends the collection (see [`end_collection`]).
    pub async fn release(mut self) -> Result<()> {
        self.renewer.abort();
        self.released = true;
        end_collection(self.backend.as_ref(), &self.holder).await
    }
}

/// The batch marker, the intents there now and the lease (if still this
/// holder's) are removed. An intent written after this protects its
/// digests through the next collection too, which removes it.
async fn end_collection(backend: &dyn Backend, holder: &str) -> Result<()> {
    let dir = paths::gc_intents_dir();
    let names = backend.list(&dir).await?;
    backend
        .delete_many(names.iter().map(|n| format!("{dir}/{n}")).collect())
        .await?;
    backend.delete(&paths::gc_sweeping()).await?;
    if let Some(c) = backend.coordination()
        && let Some((bytes, _)) = c.get_versioned(&paths::gc_lease()).await?
        && serde_json::from_slice::<Lease>(&bytes).is_ok_and(|l| l.holder == holder)
    {
        backend.delete(&paths::gc_lease()).await?;
    }
    Ok(())
}

impl Drop for LeaseGuard {
    /// A collection dropped without [`LeaseGuard::release`] (a dry run, an
    /// error) frees the lease at once rather than after [`LEASE_TTL`].
    fn drop(&mut self) {
        self.renewer.abort();
        if self.released {
            return;
        }
        let (backend, holder) = (self.backend.clone(), self.holder.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = end_collection(backend.as_ref(), &holder).await {
                    tracing::warn!(target: "regctl::gc", error = %e, "could not release the collection lease; it expires by itself");
                }
            });
        }
    }
}
