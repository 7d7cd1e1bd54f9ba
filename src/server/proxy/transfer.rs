//! One upstream download per blob, however many clients ask at once.
//!
//! The first request for an uncached blob starts a [`Transfer`] on its own
//! task: the upstream body is appended batch by batch to an ordinary upload
//! session (on disk, so memory stays bounded), and how far it got is
//! published on a watch channel. Every client of that blob, the first
//! included, reads the upload file up to the published length, then the
//! committed blob. The upload is finished (digest checked again, moved into
//! the blob store, linked) only when the upstream's bytes hashed to the
//! digest; the last batch is published only then. A failed or corrupt
//! download cancels the upload and fails every reader with an error, so the
//! HTTP response is cut short (never a wrong byte served as complete), and
//! the next request starts a new transfer.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::watch;

use super::Proxy;
use super::upstream::UpstreamError;
use crate::server::AppState;
use crate::storage::{ByteStream, RepoName, paths};
use crate::types::Digest;

/// Bytes gathered before they are written and shown to readers: large
/// enough that appends are cheap, small enough to stream promptly (a
/// smaller batch is written whenever the upstream has nothing more ready).
const BATCH: usize = 1024 * 1024;

/// Batches read from the upstream ahead of the one being written.
const IN_FLIGHT: usize = 2;

/// Chunk size readers stream from disk.
const READ_CHUNK: usize = 256 * 1024;

/// How far a transfer got.
#[derive(Clone, Debug)]
pub(crate) enum Progress {
    /// Waiting for the upstream's answer.
    Starting,
    /// Bytes `0..written` are in the upload file `key`.
    Streaming {
        key: String,
        size: Option<u64>,
        written: u64,
    },
    /// Verified and in the blob store.
    Done { size: u64 },
    /// Failed; nothing was kept.
    Failed(Arc<UpstreamFailure>),
}

/// Why a transfer failed, for its readers.
#[derive(Debug)]
pub(crate) enum UpstreamFailure {
    /// Before any byte: the upstream's answer (404, 429, ...).
    Upstream(UpstreamError),
    /// After the response began: a broken body, a digest mismatch, a
    /// storage error.
    Body(String),
}

pub(crate) struct Transfer {
    progress: watch::Receiver<Progress>,
}

/// Transfers in flight, by repository and digest: a client joins only a
/// download its own repository's upstream name authorised.
#[derive(Default)]
pub(crate) struct Transfers {
    running: Mutex<HashMap<(RepoName, Digest), Arc<Transfer>>>,
}

impl Transfers {
    /// The running transfer of a blob into a repository, if any.
    pub(crate) fn get(&self, repo: &RepoName, digest: &Digest) -> Option<Arc<Transfer>> {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(repo.clone(), digest.clone()))
            .cloned()
    }
}

impl Proxy {
    /// Joins the transfer of `digest`, or starts one into `repo`.
    pub(crate) fn transfer(
        self: &Arc<Self>,
        state: &Arc<AppState>,
        repo: &RepoName,
        digest: &Digest,
    ) -> Arc<Transfer> {
        let mut running = self
            .transfers
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let key = (repo.clone(), digest.clone());
        if let Some(t) = running.get(&key) {
            return t.clone();
        }
        let (tx, rx) = watch::channel(Progress::Starting);
        let transfer = Arc::new(Transfer { progress: rx });
        running.insert(key.clone(), transfer.clone());
        drop(running);
        let (proxy, state, repo, digest) =
            (self.clone(), state.clone(), repo.clone(), digest.clone());
        let mine = transfer.clone();
        tokio::spawn(async move {
            let outcome = proxy.run_transfer(&state, &repo, &digest, &tx).await;
            let failed = outcome.is_err();
            match outcome {
                Ok(size) => {
                    tx.send_replace(Progress::Done { size });
                }
                Err(e) => {
                    if let UpstreamFailure::Body(reason) = &e {
                        tracing::warn!(target: "regctl::proxy", %digest, repository = %repo, %reason, "blob download from upstream failed; nothing was cached");
                    }
                    tx.send_replace(Progress::Failed(Arc::new(e)));
                }
            }
            let mut running = proxy
                .transfers
                .running
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if running.get(&key).is_some_and(|t| Arc::ptr_eq(t, &mine)) {
                running.remove(&key);
            }
            drop(running);
            if !failed {
                tracing::debug!(target: "regctl::proxy", %digest, repository = %repo, "blob cached");
            }
        });
        transfer
    }

    async fn run_transfer(
        &self,
        state: &AppState,
        repo: &RepoName,
        digest: &Digest,
        tx: &watch::Sender<Progress>,
    ) -> Result<u64, UpstreamFailure> {
        let registry = &state.registry;
        let body = |e: crate::storage::StorageError| UpstreamFailure::Body(e.to_string());
        // Stored meanwhile (by the transfer that just finished).
        if let Some(blob) = registry.open_blob(repo, digest).await.map_err(body)? {
            return Ok(blob.size);
        }
        let Some(target) = self.target(repo.as_str()) else {
            return Err(UpstreamFailure::Body(format!(
                "{repo} is not a cached name"
            )));
        };
        let mut stream = self
            .open_blob(&target, digest)
            .await
            .map_err(UpstreamFailure::Upstream)?;
        let id = registry.start_upload(repo).await.map_err(body)?;
        let key = paths::upload_data(repo, &id);
        let result = self.copy(state, repo, &id, &key, &mut stream, tx).await;
        match result {
            Ok(written) => {
                let size = registry
                    .finish_upload(repo, &id, digest, None)
                    .await
                    .map_err(body);
                if size.is_err() {
                    let _ = registry.cancel_upload(repo, &id).await;
                }
                let size = size?;
                debug_assert_eq!(size, written);
                Ok(size)
            }
            Err(e) => {
                let _ = registry.cancel_upload(repo, &id).await;
                Err(e)
            }
        }
    }

    /// Appends the upstream body to the upload in batches, publishing each
    /// once it is written.
    async fn copy(
        &self,
        state: &AppState,
        repo: &RepoName,
        id: &crate::storage::UploadId,
        key: &str,
        stream: &mut crate::client::BlobStream,
        tx: &watch::Sender<Progress>,
    ) -> Result<u64, UpstreamFailure> {
        let size = stream.size();
        tx.send_replace(Progress::Streaming {
            key: key.to_owned(),
            size,
            written: 0,
        });
        // The upstream is read while the previous batch is written: a few
        // batches in flight at most, so memory stays bounded.
        let (batches, mut ready) = tokio::sync::mpsc::channel::<Bytes>(IN_FLIGHT);
        let download = async move {
            loop {
                let mut batch = BytesMut::new();
                let mut ended = false;
                match stream.next().await {
                    None => ended = true,
                    Some(Err(e)) => return Err(UpstreamFailure::Body(e.to_string())),
                    Some(Ok(chunk)) => batch.extend_from_slice(&chunk),
                }
                // Whatever else is ready now joins the batch.
                while !ended && batch.len() < BATCH {
                    match stream.next().now_or_never() {
                        None => break,
                        Some(None) => ended = true,
                        Some(Some(Err(e))) => return Err(UpstreamFailure::Body(e.to_string())),
                        Some(Some(Ok(chunk))) => batch.extend_from_slice(&chunk),
                    }
                }
                // A closed queue: the writer failed, and says why.
                if !batch.is_empty() && batches.send(batch.freeze()).await.is_err() {
                    return Ok(());
                }
                if ended {
                    return Ok(());
                }
            }
        };
        let write = async {
            let mut written = 0u64;
            while let Some(batch) = ready.recv().await {
                let data: ByteStream = Box::pin(futures_util::stream::once(async move {
                    Ok::<Bytes, io::Error>(batch)
                }));
                written = state
                    .registry
                    .append_upload(repo, id, Some(written), data)
                    .await
                    .map_err(|e| UpstreamFailure::Body(e.to_string()))?;
                // The stream checks the digest before it ends (an error,
                // not the last chunk, on a mismatch): so the last batch goes
                // out before the upload is made durable, and a corrupt
                // blob's last batch never does.
                tx.send_replace(Progress::Streaming {
                    key: key.to_owned(),
                    size,
                    written,
                });
            }
            Ok::<u64, UpstreamFailure>(written)
        };
        let (downloaded, written) = tokio::join!(download, write);
        let written = written?;
        downloaded?;
        Ok(written)
    }
}

impl Transfer {
    /// Waits for the upstream's answer: the blob's size if the upstream
    /// sent one (`Ok(None)`: streamed without a length).
    pub(crate) async fn size(&self) -> Result<Option<u64>, Arc<UpstreamFailure>> {
        let mut rx = self.progress.clone();
        loop {
            let now = rx.borrow_and_update().clone();
            match now {
                Progress::Starting => {}
                Progress::Streaming { size, .. } => return Ok(size),
                Progress::Done { size } => return Ok(Some(size)),
                Progress::Failed(e) => return Err(e),
            }
            if rx.changed().await.is_err() {
                return Err(Arc::new(UpstreamFailure::Body(
                    "the download stopped".into(),
                )));
            }
        }
    }

    /// Bytes `offset..offset + len` (to the end when `len` is `None`) as
    /// they arrive. Ends with an error if the transfer fails.
    pub(crate) fn read(
        &self,
        state: Arc<AppState>,
        digest: Digest,
        offset: u64,
        len: Option<u64>,
    ) -> ByteStream {
        let reader = Reader {
            rx: self.progress.clone(),
            state,
            digest,
            pos: offset,
            end: len.map(|l| offset + l),
            current: None,
            finished: false,
        };
        Box::pin(futures_util::stream::unfold(reader, Reader::next))
    }
}

struct Reader {
    rx: watch::Receiver<Progress>,
    state: Arc<AppState>,
    digest: Digest,
    pos: u64,
    end: Option<u64>,
    /// The window being streamed from disk.
    current: Option<ByteStream>,
    finished: bool,
}

impl Reader {
    async fn next(mut self) -> Option<(io::Result<Bytes>, Self)> {
        loop {
            if self.finished {
                return None;
            }
            if let Some(window) = self.current.as_mut() {
                match window.next().await {
                    Some(Ok(chunk)) => {
                        self.pos += chunk.len() as u64;
                        return Some((Ok(chunk), self));
                    }
                    Some(Err(e)) => {
                        // The upload file went away (committed or
                        // cancelled) mid-read: look at the progress again.
                        self.current = None;
                        if e.kind() != io::ErrorKind::NotFound {
                            self.finished = true;
                            return Some((Err(e), self));
                        }
                    }
                    None => self.current = None,
                }
                continue;
            }
            if self.end.is_some_and(|end| self.pos >= end) {
                return None;
            }
            let now = self.rx.borrow_and_update().clone();
            let backend = self.state.registry.backend().clone();
            let (key, upto, done) = match now {
                Progress::Starting => (None, 0, false),
                Progress::Streaming { key, written, .. } => (Some(key), written, false),
                Progress::Done { size } => (Some(paths::blob_data(&self.digest)), size, true),
                Progress::Failed(e) => {
                    self.finished = true;
                    let reason = match &*e {
                        UpstreamFailure::Upstream(u) => u.to_string(),
                        UpstreamFailure::Body(b) => b.clone(),
                    };
                    return Some((
                        Err(io::Error::other(format!(
                            "the upstream download failed: {reason}"
                        ))),
                        self,
                    ));
                }
            };
            let upto = self.end.map_or(upto, |end| end.min(upto));
            if let Some(key) = key
                && upto > self.pos
            {
                match backend
                    .stream(&key, self.pos, Some(upto - self.pos), READ_CHUNK)
                    .await
                {
                    Ok(Some(window)) => {
                        self.current = Some(window);
                        continue;
                    }
                    // Committed or cancelled since: the progress says which.
                    Ok(None) if !done => {}
                    Ok(None) => {
                        self.finished = true;
                        return Some((
                            Err(io::Error::other("the cached blob disappeared while read")),
                            self,
                        ));
                    }
                    Err(e) => {
                        self.finished = true;
                        return Some((Err(e), self));
                    }
                }
            } else if done {
                return None;
            }
            if self.rx.changed().await.is_err() {
                // The transfer's task is gone without a last word.
                if !matches!(*self.rx.borrow(), Progress::Done { .. }) {
                    self.finished = true;
                    return Some((Err(io::Error::other("the upstream download stopped")), self));
                }
            }
        }
    }
}
