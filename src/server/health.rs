//! `GET /healthz` (the process answers) and `GET /readyz` (the storage root
//! can be written). Both are open without credentials: they reveal nothing,
//! and orchestrators probe them without any.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

/// `GET /healthz`: answering at all is the check.
pub async fn healthz() -> Response {
    text(StatusCode::OK, "ok\n".to_owned())
}

/// `GET /readyz`: a small file is created, written, synced and removed in
/// the storage root; 503 naming the failure when any step fails. Each probe
/// uses its own file name, so concurrent probes do not disturb each other.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.config.object_storage.is_some() {
        return match probe_backend(state.registry.backend().as_ref()).await {
            Ok(()) => text(StatusCode::OK, "ready\n".to_owned()),
            Err(reason) => {
                tracing::warn!(target: "regctl::health", %reason, "not ready");
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("not ready: {reason}\n"),
                )
            }
        };
    }
    let root = state.config.root.clone();
    let probed = tokio::task::spawn_blocking(move || probe(&root)).await;
    match probed {
        Ok(Ok(())) => text(StatusCode::OK, "ready\n".to_owned()),
        Ok(Err(reason)) => {
            tracing::warn!(target: "regctl::health", %reason, "not ready");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {reason}\n"),
            )
        }
        Err(e) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: the probe failed: {e}\n"),
        ),
    }
}

fn probe(root: &std::path::Path) -> Result<(), String> {
    use std::io::Write;
    let path = root.join(format!(".regctl-readyz-{}", uuid::Uuid::new_v4().simple()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        f.write_all(b"ready")?;
        f.sync_all()
    })();
    let removed = std::fs::remove_file(&path);
    written.map_err(|e| format!("cannot write in the storage root {}: {e}", root.display()))?;
    removed.map_err(|e| {
        format!(
            "cannot remove a file from the storage root {}: {e}",
            root.display()
        )
    })
}

/// The same probe through the backend (a bucket): a small object written,
/// read back and removed, under a name listings never show.
async fn probe_backend(backend: &dyn crate::storage::Backend) -> Result<(), String> {
    let key = format!(".tmp-readyz-{}", uuid::Uuid::new_v4().simple());
    backend
        .put(&key, bytes::Bytes::from_static(b"ready"))
        .await
        .map_err(|e| format!("cannot write to the storage: {e}"))?;
    let read = backend.get(&key).await;
    let removed = backend.delete(&key).await;
    match read {
        Ok(Some(b)) if b.as_ref() == b"ready" => {}
        Ok(_) => return Err(format!("the storage lost {key} right after it was written")),
        Err(e) => return Err(format!("cannot read from the storage: {e}")),
    }
    removed.map_err(|e| format!("cannot remove an object from the storage: {e}"))
}

fn text(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
