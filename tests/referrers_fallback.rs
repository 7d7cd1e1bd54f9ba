//! `cp --referrers` through a registry without the referrers API (the real
//! registry:2): the OCI 1.1 referrers tag scheme (`sha256-<hex>` index) is
//! written on the way in and read on the way out, so signatures and their
//! own referrers survive regctl serve → registry:2 → regctl serve.

mod common;

use common::push::{get, push_image, push_manifest, push_referrer};
use common::{DistRegistry, Serve, TestImage, regctl};
use regctl::client::{Client, ClientOptions};
use regctl::types::media_type::{MANIFEST_ACCEPT, OCI_INDEX, OCI_MANIFEST};
use regctl::types::{Descriptor, Digest, Reference};
use serde_json::Value;

const SIG: &str = "application/vnd.example.sig";
const NOTE: &str = "application/vnd.example.note";
const SBOM: &str = "application/vnd.example.sbom";

fn cp(home: &std::path::Path, src: &str, dst: &str) -> Value {
    let out = regctl(home)
        .args(["cp", src, dst, "--referrers", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cp {src} {dst}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The digests the referrers tag index of `subject` lists on `addr`.
async fn tag_index(addr: &str, repo: &str, subject: &Digest) -> Vec<String> {
    let (status, ct, _, body) = get(
        addr,
        &format!("/v2/{repo}/manifests/{}", referrers_tag(subject)),
        MANIFEST_ACCEPT,
    )
    .await;
    if status == 404 {
        return Vec::new();
    }
    assert_eq!(status, 200);
    assert_eq!(ct, OCI_INDEX);
    let v: Value = serde_json::from_slice(&body).unwrap();
    v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["digest"].as_str().unwrap().to_owned())
        .collect()
}

/// The digests regctl serve's referrers API lists.
async fn api_referrers(addr: &str, repo: &str, subject: &Digest) -> Vec<String> {
    let (status, _, _, body) = get(addr, &format!("/v2/{repo}/referrers/{subject}"), "*/*").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    let mut out: Vec<String> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["digest"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

/// The OCI 1.1 referrers tag scheme's tag, spelled out here rather than
/// taken from the library under test.
fn referrers_tag(subject: &Digest) -> String {
    format!("sha256-{}", subject.hex())
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_survive_serve_to_registry2_and_back() {
    let Some(dist) = DistRegistry::start(true) else {
        return;
    };
    let a = Serve::start(&[]);
    let b = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let img = TestImage::oci("fallback", 1, 256);
    push_image(a.addr(), "app", "v1", &img).await;
    let (sig, sig_len) = push_referrer(a.addr(), "app", &img.digest, img.manifest.len(), SIG).await;
    let (note, _) = push_referrer(a.addr(), "app", &sig, sig_len, NOTE).await;

    // registry:2 has no referrers API: the tag scheme carries them.
    let s = cp(
        h,
        &format!("{}/app:v1", a.addr()),
        &format!("{}/app:v1", dist.addr()),
    );
    assert_eq!(s["manifests"], 3, "image, signature, note");
    assert_eq!(
        tag_index(dist.addr(), "app", &img.digest).await,
        vec![sig.to_string()]
    );
    assert_eq!(
        tag_index(dist.addr(), "app", &sig).await,
        vec![note.to_string()]
    );
    let (_, _, _, body) = get(
        dist.addr(),
        &format!("/v2/app/manifests/{}", referrers_tag(&img.digest)),
        MANIFEST_ACCEPT,
    )
    .await;
    let index: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(index["manifests"][0]["artifactType"], SIG);

    // And back out of registry:2, read through the tag scheme.
    let s = cp(
        h,
        &format!("{}/app:v1", dist.addr()),
        &format!("{}/app:v1", b.addr()),
    );
    assert_eq!(s["manifests"], 3, "read back from the tag scheme");
    assert_eq!(
        api_referrers(b.addr(), "app", &img.digest).await,
        vec![sig.to_string()]
    );
    assert_eq!(
        api_referrers(b.addr(), "app", &sig).await,
        vec![note.to_string()]
    );
    // regctl serve processes `subject` itself: no fallback tag written there.
    assert!(tag_index(b.addr(), "app", &img.digest).await.is_empty());

    // A later SBOM is added to the existing index, which keeps the signature.
    let (sbom, _) = push_referrer(a.addr(), "app", &img.digest, img.manifest.len(), SBOM).await;
    cp(
        h,
        &format!("{}/app:v1", a.addr()),
        &format!("{}/app:v1", dist.addr()),
    );
    assert_eq!(
        sorted(tag_index(dist.addr(), "app", &img.digest).await),
        sorted(vec![sig.to_string(), sbom.to_string()])
    );
}

/// A client that stopped after pushing the artifact but before updating
/// the tag index: the artifact is invisible, and copying again repairs it.
#[tokio::test(flavor = "multi_thread")]
async fn a_copy_that_stopped_half_way_is_repaired_by_running_it_again() {
    let Some(dist) = DistRegistry::start(true) else {
        return;
    };
    let a = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let img = TestImage::oci("fallback-half", 1, 128);
    push_image(a.addr(), "app", "v1", &img).await;
    push_image(dist.addr(), "app", "v1", &img).await;
    let (sig, _) = push_referrer(a.addr(), "app", &img.digest, img.manifest.len(), SIG).await;
    // Half-way: the signature's manifest is on registry:2, no index names it.
    let (_, _, _, raw) = get(a.addr(), &format!("/v2/app/manifests/{sig}"), OCI_MANIFEST).await;
    common::push::push_blob(dist.addr(), "app", b"{}").await;
    let payload = format!("payload of {SIG} for {}", img.digest);
    common::push::push_blob(dist.addr(), "app", payload.as_bytes()).await;
    push_manifest(dist.addr(), "app", &sig.to_string(), OCI_MANIFEST, &raw).await;
    assert!(tag_index(dist.addr(), "app", &img.digest).await.is_empty());

    cp(
        home.path(),
        &format!("{}/app:v1", a.addr()),
        &format!("{}/app:v1", dist.addr()),
    );
    assert_eq!(
        tag_index(dist.addr(), "app", &img.digest).await,
        vec![sig.to_string()]
    );
}

/// Two updates of one subject's tag index at once keep every entry: from
/// one process (serialised), and two `regctl cp` processes copying the
/// same image with its signature (the same entry, never twice).
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_updates_of_one_tag_index_lose_nothing() {
    let Some(dist) = DistRegistry::start(true) else {
        return;
    };
    let addr = dist.addr();
    let img = TestImage::oci("fallback-race", 1, 128);
    push_image(addr, "race", "v1", &img).await;
    let mut referrers = Vec::new();
    for i in 0..6 {
        let (d, size) = push_referrer(
            addr,
            "race",
            &img.digest,
            img.manifest.len(),
            &format!("application/vnd.example.kind{i}"),
        )
        .await;
        referrers.push((d, size));
    }
    let client = Client::new(ClientOptions {
        docker_config: None,
        docker_certs_dir: None,
        ..ClientOptions::default()
    })
    .unwrap();
    let repo = Reference::parse(&format!("{addr}/race"), "unused.example").unwrap();
    let updates = referrers.iter().map(|(d, size)| {
        let client = client.clone();
        let repo = repo.clone();
        let subject = img.digest.clone();
        let desc = Descriptor::new(OCI_MANIFEST.into(), d.clone(), *size as i64);
        tokio::spawn(async move { client.referrers_tag_add(&repo, &subject, desc).await })
    });
    for u in futures_util::future::join_all(updates).await {
        u.unwrap().unwrap();
    }
    let want = sorted(referrers.iter().map(|(d, _)| d.to_string()).collect());
    assert_eq!(sorted(tag_index(addr, "race", &img.digest).await), want);
    // The library reads them back through the scheme.
    let got = client.referrers(&repo, &img.digest).await.unwrap();
    assert_eq!(
        sorted(got.iter().map(|d| d.digest.to_string()).collect()),
        want
    );

    // Two processes copying the same signed image at once. The blobs are
    // there already: what races is the manifests and the tag index (two
    // concurrent uploads of one new blob make registry:2 itself answer 500
    // to a HEAD now and then, which is not what this test is about).
    let a = Serve::start(&[]);
    let img2 = TestImage::oci("fallback-race-2", 1, 128);
    push_image(a.addr(), "two", "v1", &img2).await;
    let (sig, _) = push_referrer(a.addr(), "two", &img2.digest, img2.manifest.len(), SIG).await;
    for b in img2.blobs() {
        common::push::push_blob(addr, "two", b).await;
    }
    common::push::push_blob(addr, "two", b"{}").await;
    let payload = format!("payload of {SIG} for {}", img2.digest);
    common::push::push_blob(addr, "two", payload.as_bytes()).await;
    let home = tempfile::tempdir().unwrap();
    let spawn = || {
        regctl(home.path())
            .args([
                "cp",
                &format!("{}/two:v1", a.addr()),
                &format!("{addr}/two:v1"),
                "--referrers",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (p, q) = (spawn(), spawn());
    for o in [p.wait_with_output().unwrap(), q.wait_with_output().unwrap()] {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(
        tag_index(addr, "two", &img2.digest).await,
        vec![sig.to_string()]
    );
}
