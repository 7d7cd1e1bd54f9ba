//! The library client against the real docker-registry: streaming blob
//! upload/download with verification, cross-repository mount, manifest put,
//! tags sharing a digest, and the tag-moved guard.

use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;

use regctl::client::{Client, ClientError, ClientOptions};
use regctl::types::{Digest, Reference};

struct Registry {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn docker_registry() -> Option<Registry> {
    let installed = Command::new("sh")
        .args(["-c", "command -v docker-registry"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        assert!(
            std::env::var_os("CI").is_none(),
            "docker-registry required when CI is set"
        );
        eprintln!("skipped: docker-registry not installed");
        return None;
    }
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg = dir.path().join("config.yml");
        std::fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut reg = Registry {
            child,
            addr: format!("127.0.0.1:{port}"),
            _dir: dir,
        };
        for _ in 0..400 {
            if reg.child.try_wait().ok().flatten().is_some() {
                break;
            }
            if std::net::TcpStream::connect(&reg.addr).is_ok() {
                std::thread::sleep(Duration::from_millis(50));
                if reg.child.try_wait().ok().flatten().is_none() {
                    return Some(reg);
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    panic!("docker-registry did not start");
}

fn client() -> Client {
    Client::new(ClientOptions {
        docker_config: None,
        docker_certs_dir: None,
        ..ClientOptions::default()
    })
    .unwrap()
}

fn reference(s: &str) -> Reference {
    Reference::parse(s, "unused.example").unwrap()
}

/// Pushes a one-layer OCI image with the library; returns its digest.
async fn push(c: &Client, repo: &Reference, tag: &str, seed: &str) -> Digest {
    let config = Bytes::from(format!(
        r#"{{"os":"linux","architecture":"amd64","seed":"{seed}"}}"#
    ));
    let cd = c.blob_put_bytes(repo, config.clone()).await.unwrap();
    let layer = Bytes::from(seed.repeat(100));
    let ld = c.blob_put_bytes(repo, layer.clone()).await.unwrap();
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{ld}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    c.manifest_put(
        repo,
        tag,
        "application/vnd.oci.image.manifest.v1+json",
        Bytes::from(m),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn blobs_stream_up_and_down_verified_and_mount_across_repositories() {
    let Some(reg) = docker_registry() else { return };
    let c = client();
    let repo = reference(&format!("{}/blobs/a", reg.addr));
    // 3 MiB in 64 KiB chunks, never one buffer on the way up.
    let chunk: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    let mut whole = Vec::new();
    for _ in 0..48 {
        whole.extend_from_slice(&chunk);
    }
    let digest = Digest::sha256_of(&whole);
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        (0..48).map(|_| Ok(Bytes::from(chunk.clone()))).collect();
    assert_eq!(c.blob_head(&repo, &digest).await.unwrap(), None);
    c.blob_put(
        &repo,
        &digest,
        whole.len() as u64,
        futures_util::stream::iter(chunks),
    )
    .await
    .unwrap();
    assert_eq!(
        c.blob_head(&repo, &digest).await.unwrap(),
        Some(whole.len() as u64)
    );
    let mut s = c.blob_get(&repo, &digest).await.unwrap();
    assert_eq!(s.size(), Some(whole.len() as u64));
    let mut got = Vec::new();
    let mut pieces = 0;
    while let Some(piece) = s.next().await {
        got.extend_from_slice(&piece.unwrap());
        pieces += 1;
    }
    assert_eq!(got, whole);
    assert!(pieces > 1, "streamed, not one buffer");

    // Uploading under the wrong digest is refused by the registry.
    let wrong = Digest::sha256_of(b"not this");
    let err = c
        .blob_put(
            &repo,
            &wrong,
            4,
            futures_util::stream::once(async {
                Ok::<_, std::io::Error>(Bytes::from_static(b"data"))
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Registry { .. }), "{err}");

    // Mount into another repository of the same registry.
    let other = reference(&format!("{}/blobs/b", reg.addr));
    assert!(c.blob_mount(&other, &digest, "blobs/a").await.unwrap());
    assert_eq!(
        c.blob_head(&other, &digest).await.unwrap(),
        Some(whole.len() as u64)
    );
    // A missing blob: not found.
    let err = c.blob_get(&other, &wrong).await.err().unwrap();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_tags_are_found_and_a_moved_tag_stops_deletion() {
    let Some(reg) = docker_registry() else { return };
    let c = client();
    let repo = reference(&format!("{}/moving", reg.addr));
    let a = push(&c, &repo, "one", "aaa").await;
    let raw = c
        .manifest_get(&repo.with_tag("one").unwrap())
        .await
        .unwrap();
    assert_eq!(raw.digest(), &a);
    c.manifest_put(&repo, "two", raw.media_type().as_str(), raw.raw().clone())
        .await
        .unwrap();
    let b = push(&c, &repo, "three", "bbb").await;
    assert_eq!(
        c.tags_pointing_to(&repo, &a, 2).await.unwrap(),
        vec!["one", "two"]
    );
    assert_eq!(
        c.tags_pointing_to(&repo, &b, 2).await.unwrap(),
        vec!["three"]
    );

    // "one" moves to b: untag/rm planned against a must stop, changing nothing.
    let one = repo.with_tag("one").unwrap();
    push(&c, &repo, "one", "bbb").await;
    let err = c.untag(&one, &a).await.unwrap_err();
    assert!(matches!(err, ClientError::TagMoved { .. }), "{err}");
    let err = c.ensure_unmoved(&one, &a).await.unwrap_err();
    assert!(err.to_string().contains("moved"), "{err}");
    assert_eq!(c.resolve_digest(&one).await.unwrap(), b);
    assert_eq!(
        c.resolve_digest(&repo.with_tag("two").unwrap())
            .await
            .unwrap(),
        a
    );
}
