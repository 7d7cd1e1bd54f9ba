//! Raw HTTP pushes and pulls, independent of regctl's client, so they can
//! seed and check any registry.

use regctl::types::Digest;

use super::image::{TestImage, TestIndex};

pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

pub async fn push_blob(addr: &str, repo: &str, data: &[u8]) {
    let c = http();
    let d = Digest::sha256_of(data);
    let head = c
        .head(format!("http://{addr}/v2/{repo}/blobs/{d}"))
        .send()
        .await
        .unwrap();
    if head.status().is_success() {
        return;
    }
    let r = c
        .post(format!("http://{addr}/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202, "POST upload to {addr}/{repo}");
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let url = if location.starts_with("http") {
        location
    } else {
        format!("http://{addr}{location}")
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let r = c
        .put(format!("{url}{sep}digest={d}"))
        .header("Content-Type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "PUT blob to {addr}/{repo}");
}

pub async fn push_manifest(addr: &str, repo: &str, reference: &str, media_type: &str, body: &[u8]) {
    let r = http()
        .put(format!("http://{addr}/v2/{repo}/manifests/{reference}"))
        .header("Content-Type", media_type)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_eq!(
        status,
        201,
        "PUT manifest {repo}:{reference}: {}",
        r.text().await.unwrap_or_default()
    );
}

pub async fn push_image(addr: &str, repo: &str, tag: &str, img: &TestImage) {
    for b in img.blobs() {
        push_blob(addr, repo, b).await;
    }
    push_manifest(addr, repo, tag, img.media_type, &img.manifest).await;
}

pub async fn push_index(addr: &str, repo: &str, tag: &str, idx: &TestIndex) {
    for (_, img) in &idx.children {
        push_image(addr, repo, &img.digest.to_string(), img).await;
    }
    push_manifest(
        addr,
        repo,
        tag,
        regctl::types::media_type::OCI_INDEX,
        &idx.manifest,
    )
    .await;
}

/// `GET` a path; returns status, Content-Type, Docker-Content-Digest and body.
/// Deletes a manifest (by digest, or a tag where the server allows it)
/// and checks the server accepted it (202).
pub async fn delete_manifest(addr: &str, repo: &str, reference: impl std::fmt::Display) {
    let r = http()
        .delete(format!("http://{addr}/v2/{repo}/manifests/{reference}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202, "DELETE {repo} {reference}");
}

pub async fn get(addr: &str, path: &str, accept: &str) -> (u16, String, String, Vec<u8>) {
    let r = http()
        .get(format!("http://{addr}{path}"))
        .header("Accept", accept)
        .send()
        .await
        .unwrap();
    let h = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (status, ct, dcd) = (
        r.status().as_u16(),
        h("content-type"),
        h("docker-content-digest"),
    );
    (status, ct, dcd, r.bytes().await.unwrap().to_vec())
}

/// Asserts that `repo:tag` on `addr` is exactly `img`: same digest, same
/// manifest bytes, every blob present and byte-identical.
pub async fn assert_same_image(addr: &str, repo: &str, tag: &str, img: &TestImage) {
    let (status, _, digest, body) = get(
        addr,
        &format!("/v2/{repo}/manifests/{tag}"),
        regctl::types::media_type::MANIFEST_ACCEPT,
    )
    .await;
    assert_eq!(status, 200, "{addr}/{repo}:{tag} is gone");
    assert_eq!(digest, img.digest.to_string(), "{repo}:{tag} digest");
    assert_eq!(body, img.manifest, "{repo}:{tag} manifest bytes");
    for blob in img.blobs() {
        let d = Digest::sha256_of(blob);
        let (status, _, _, got) = get(addr, &format!("/v2/{repo}/blobs/{d}"), "*/*").await;
        assert_eq!(status, 200, "{repo}:{tag} lost blob {d}");
        assert!(got == blob, "{repo}:{tag} blob {d} differs");
    }
}

/// Pushes an artifact of type `kind` whose `subject` is `subject` (an OCI
/// image manifest of `subject_size` bytes); returns its digest and size.
pub async fn push_referrer(
    addr: &str,
    repo: &str,
    subject: &Digest,
    subject_size: usize,
    kind: &str,
) -> (Digest, usize) {
    let payload = format!("payload of {kind} for {subject}");
    push_blob(addr, repo, b"{}").await;
    push_blob(addr, repo, payload.as_bytes()).await;
    let m = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": kind,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": Digest::sha256_of(b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": Digest::sha256_of(payload.as_bytes()).to_string(), "size": payload.len()}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject.to_string(), "size": subject_size}
    }))
    .unwrap();
    let d = Digest::sha256_of(&m);
    push_manifest(
        addr,
        repo,
        &d.to_string(),
        "application/vnd.oci.image.manifest.v1+json",
        &m,
    )
    .await;
    (d, m.len())
}
