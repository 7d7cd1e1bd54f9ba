//! Upload sessions: started, appended to chunk by chunk (hashed as they
//! stream), finished into the blob store, or cancelled.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;

use super::Registry;
use crate::storage::backend::{ByteStream, ChunkSink};
use crate::storage::error::{Result, StorageError};
use crate::storage::paths::{self, RepoName, UploadId};
use crate::types::{Algorithm, Digest, Digester, VerifyError};

/// Uploads whose hash state is kept in memory; abandoned sessions must not
/// grow it without bound. Beyond it, states are dropped and the upload is
/// re-hashed from its data file when it finishes (correct, just slower).
pub(super) const MAX_UPLOAD_STATES: usize = 4096;

/// Hash state of an upload in progress, kept between PATCH requests so a
/// chunked upload is hashed once, as it streams.
pub(super) struct UploadState {
    digester: Digester,
    size: u64,
}

/// Hashes what an append writes, when the upload's hash state is known.
pub(super) struct HashSink(Option<Digester>);

impl ChunkSink for HashSink {
    fn chunk(&mut self, data: &[u8]) {
        if let Some(d) = self.0.as_mut() {
            d.update(data);
        }
    }
}

/// Upload sessions of this process: the hash states kept between requests,
/// and the sessions a request is working on right now.
#[derive(Default)]
pub(super) struct Sessions {
    states: HashMap<UploadId, UploadState>,
    busy: HashSet<UploadId>,
}

pub(super) type SharedSessions = Arc<Mutex<Sessions>>;

pub(super) fn lock_sessions(sessions: &SharedSessions) -> std::sync::MutexGuard<'_, Sessions> {
    sessions.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn keep_upload_state(sessions: &SharedSessions, id: &UploadId, state: UploadState) {
    let mut sessions = lock_sessions(sessions);
    if sessions.states.len() >= MAX_UPLOAD_STATES {
        sessions.states.clear();
    }
    sessions.states.insert(id.clone(), state);
}

/// One request's exclusive use of an upload session (issue 12): while it is
/// held, no other request appends to, finishes or cancels the session, so
/// the bytes on disk are the bytes that were hashed. Released on drop, also
/// when the request is dropped half-way.
pub(super) struct SessionClaim {
    sessions: SharedSessions,
    id: UploadId,
}

impl Drop for SessionClaim {
    fn drop(&mut self) {
        lock_sessions(&self.sessions).busy.remove(&self.id);
    }
}

impl Registry {
    pub async fn start_upload(&self, repo: &RepoName) -> Result<UploadId> {
        let id = UploadId::generate();
        let started = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        self.backend
            .put(&paths::upload_started_at(repo, &id), Bytes::from(started))
            .await?;
        self.backend
            .put(&paths::upload_data(repo, &id), Bytes::new())
            .await?;
        keep_upload_state(
            &self.sessions,
            &id,
            UploadState {
                digester: Digester::new(Algorithm::Sha256),
                size: 0,
            },
        );
        Ok(id)
    }

    /// Takes a session for one request, or refuses at once when another
    /// request is using it (never waits: a client must not be able to park
    /// requests behind a stalled one).
    pub(super) fn claim(&self, id: &UploadId) -> Result<SessionClaim> {
        if !lock_sessions(&self.sessions).busy.insert(id.clone()) {
            return Err(StorageError::UploadBusy);
        }
        Ok(SessionClaim {
            sessions: self.sessions.clone(),
            id: id.clone(),
        })
    }

    /// Bytes received so far by an upload.
    pub async fn upload_size(&self, repo: &RepoName, id: &UploadId) -> Result<u64> {
        if self
            .backend
            .stat(&paths::upload_started_at(repo, id))
            .await?
            .is_none()
        {
            return Err(StorageError::UploadUnknown);
        }
        Ok(self
            .backend
            .stat(&paths::upload_data(repo, id))
            .await?
            .map_or(0, |m| m.size))
    }

    /// Appends a chunk. `offset`, when given (from `Content-Range`), must be
    /// where the upload currently ends. Returns the new size. Refused with
    /// [`StorageError::UploadBusy`] while another request uses the session.
    pub async fn append_upload(
        &self,
        repo: &RepoName,
        id: &UploadId,
        offset: Option<u64>,
        body: ByteStream,
    ) -> Result<u64> {
        let claim = self.claim(id)?;
        let (size, _claim) = self.append_claimed(claim, repo, offset, body).await?;
        Ok(size)
    }

    /// Appends under a claim and hands the claim back. The append runs on
    /// its own task, which keeps the claim until the data file is settled:
    /// a request dropped half-way (the client went away) cannot leave a
    /// writer behind that a later request on the session would race, and
    /// the failed chunk is still cut back.
    pub(super) async fn append_claimed(
        &self,
        claim: SessionClaim,
        repo: &RepoName,
        offset: Option<u64>,
        body: ByteStream,
    ) -> Result<(u64, SessionClaim)> {
        let id = claim.id.clone();
        let size = self.upload_size(repo, &id).await?;
        if let Some(got) = offset
            && got != size
        {
            return Err(StorageError::UploadOffset {
                expected: size,
                got,
            });
        }
        let kept = lock_sessions(&self.sessions)
            .states
            .remove(&id)
            .filter(|s| s.size == size)
            .map(|s| s.digester);
        let backend = self.backend.clone();
        let key = paths::upload_data(repo, &id);
        let task = tokio::spawn(async move {
            let mut sink = HashSink(kept.clone());
            let written = backend.append(&key, body, &mut sink).await;
            let sessions = claim.sessions.clone();
            match written {
                Ok(n) => {
                    if let Some(digester) = sink.0 {
                        let state = UploadState {
                            digester,
                            size: size + n,
                        };
                        keep_upload_state(&sessions, &claim.id, state);
                    }
                    (Ok(size + n), claim)
                }
                Err(e) => {
                    // The backend cut the chunk back: the state from before
                    // it still describes the file (checked against the
                    // file's length before it is trusted).
                    if let Some(digester) = kept {
                        keep_upload_state(&sessions, &claim.id, UploadState { digester, size });
                    }
                    (Err(e), claim)
                }
            }
        });
        let (result, claim) = task.await.map_err(io::Error::other)?;
        Ok((result?, claim))
    }

    /// Finishes an upload: appends `last` if given, verifies the content
    /// against `digest`, then moves it into the blob store and links it.
    /// On a mismatch the upload is discarded and nothing becomes visible.
    pub async fn finish_upload(
        &self,
        repo: &RepoName,
        id: &UploadId,
        digest: &Digest,
        last: Option<ByteStream>,
    ) -> Result<u64> {
        let claim = self.claim(id)?;
        let (size, _claim) = match last {
            Some(body) => self.append_claimed(claim, repo, None, body).await?,
            None => (self.upload_size(repo, id).await?, claim),
        };
        let data_key = paths::upload_data(repo, id);
        // What is hashed must be what is on disk: the in-memory state is
        // used only when it covers exactly the file's length; otherwise the
        // file itself is hashed.
        let on_disk = self.backend.stat(&data_key).await?.map(|m| m.size);
        let state = lock_sessions(&self.sessions).states.remove(id).filter(|s| {
            s.size == size && on_disk == Some(size) && digest.algorithm() == Algorithm::Sha256
        });
        let checked = match state {
            Some(s) => s.digester.verify(digest).map_err(VerifyError::from),
            None => self.verify_object(&data_key, digest).await?,
        };
        if let Err(mismatch) = checked {
            self.discard_upload(repo, id).await?;
            return Err(mismatch.into());
        }
        let gc = self.gc.writing().await;
        self.gc.touch([digest]);
        // An existing blob is kept only if it is what its digest says; a
        // damaged one (e.g. stored before uploads were kept apart) is
        // replaced by these verified bytes.
        if self.sound_blob_size(digest).await?.is_none() {
            self.backend
                .commit(&data_key, &paths::blob_data(digest))
                .await?;
            self.remember_verified(digest);
        }
        self.link_blob_unguarded(repo, digest).await?;
        drop(gc);
        self.backend.delete(&paths::upload_dir(repo, id)).await?;
        Ok(size)
    }

    /// Cancels an upload; refused while another request uses the session.
    pub async fn cancel_upload(&self, repo: &RepoName, id: &UploadId) -> Result<()> {
        let _claim = self.claim(id)?;
        self.discard_upload(repo, id).await
    }

    pub(super) async fn discard_upload(&self, repo: &RepoName, id: &UploadId) -> Result<()> {
        lock_sessions(&self.sessions).states.remove(id);
        if self
            .backend
            .stat(&paths::upload_dir(repo, id))
            .await?
            .is_none()
        {
            return Err(StorageError::UploadUnknown);
        }
        self.backend.delete(&paths::upload_dir(repo, id)).await?;
        Ok(())
    }

    /// Uploads a whole blob in one go (monolithic upload).
    pub async fn put_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
        body: ByteStream,
    ) -> Result<u64> {
        let id = self.start_upload(repo).await?;
        let result = self.finish_upload(repo, &id, digest, Some(body)).await;
        if result.is_err() {
            let _ = self.backend.delete(&paths::upload_dir(repo, &id)).await;
        }
        result
    }
}
