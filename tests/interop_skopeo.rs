//! Push and pull round trips with the real skopeo against `regctl serve`.

mod common;

use std::path::Path;

use common::image::Artifact;
use common::{Serve, Skopeo, TestImage, TestIndex, write_oci_layout};
use regctl::types::Digest;

/// Every blob of `img` is in the layout at `dir`, byte-identical.
fn assert_blobs(dir: &Path, blobs: &[&[u8]]) {
    for b in blobs {
        let d = Digest::sha256_of(b);
        let got = std::fs::read(dir.join("blobs/sha256").join(d.hex()))
            .unwrap_or_else(|e| panic!("blob {d} missing from {}: {e}", dir.display()));
        assert_eq!(&got, b);
    }
}

#[test]
fn oci_image_round_trip() {
    let Some(skopeo) = Skopeo::find() else { return };
    let serve = Serve::start(&[]);
    let work = tempfile::tempdir().unwrap();
    let img = TestImage::oci("skopeo-oci", 3, 4096);
    let src = work.path().join("src");
    write_oci_layout(&src, &[("v1", Artifact::Image(&img))]);
    let dst = format!("docker://{}/skopeo/oci:v1", serve.addr());
    skopeo.copy(&format!("oci:{}:v1", src.display()), &dst, &[]);
    let raw = skopeo.run(&["inspect", "--tls-verify=false", "--raw", &dst]);
    assert_eq!(
        raw.as_bytes(),
        img.manifest.as_slice(),
        "manifest bytes unchanged"
    );
    let out = work.path().join("out");
    skopeo.copy(&dst, &format!("oci:{}:v1", out.display()), &[]);
    assert_blobs(&out, &img.blobs());
    assert_blobs(&out, &[&img.manifest]);
    let tags = skopeo.run(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}/skopeo/oci", serve.addr()),
    ]);
    assert!(tags.contains("\"v1\""), "{tags}");
}

#[tokio::test]
async fn docker_schema2_round_trip() {
    let Some(skopeo) = Skopeo::find() else { return };
    let serve = Serve::start(&[]);
    let work = tempfile::tempdir().unwrap();
    // skopeo's oci: transport holds only OCI manifests, so the Docker image
    // is pushed raw and skopeo pulls it.
    let img = TestImage::docker("skopeo-docker", 2, 2048);
    common::push::push_image(serve.addr(), "skopeo/docker", "v2", &img).await;
    let dst = format!("docker://{}/skopeo/docker:v2", serve.addr());
    let raw = skopeo.run(&["inspect", "--tls-verify=false", "--raw", &dst]);
    assert_eq!(raw.as_bytes(), img.manifest.as_slice());
    let out = work.path().join("out");
    skopeo.copy(&dst, &format!("oci:{}:v2", out.display()), &[]);
    // Converting to OCI rewrites manifest and config; the layers stay.
    assert_blobs(
        &out,
        &img.layers.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    );
    skopeo.run(&["delete", "--tls-verify=false", &dst]);
    let tags = skopeo.run(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}/skopeo/docker", serve.addr()),
    ]);
    assert!(!tags.contains("\"v2\""), "{tags}");

    // skopeo pushing Docker schema2 (converted from an OCI layout).
    let oci = TestImage::oci("skopeo-v2s2", 1, 1024);
    let src = work.path().join("src");
    write_oci_layout(&src, &[("v1", Artifact::Image(&oci))]);
    let dst = format!("docker://{}/skopeo/v2s2:v1", serve.addr());
    skopeo.copy(
        &format!("oci:{}:v1", src.display()),
        &dst,
        &["--format", "v2s2"],
    );
    let raw = skopeo.run(&["inspect", "--tls-verify=false", "--raw", &dst]);
    assert!(
        raw.contains(regctl::types::media_type::DOCKER_MANIFEST),
        "{raw}"
    );
    let back = work.path().join("back");
    skopeo.copy(&dst, &format!("oci:{}:v1", back.display()), &[]);
    assert_blobs(
        &back,
        &oci.layers.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    );
}

#[test]
fn multi_arch_index_round_trip() {
    let Some(skopeo) = Skopeo::find() else { return };
    let serve = Serve::start(&[]);
    let work = tempfile::tempdir().unwrap();
    let idx = TestIndex::new(
        "skopeo-index",
        &["linux/amd64", "linux/arm64/v8", "linux/arm/v7"],
    );
    let src = work.path().join("src");
    write_oci_layout(&src, &[("multi", Artifact::Index(&idx))]);
    let dst = format!("docker://{}/skopeo/multi:latest", serve.addr());
    skopeo.copy(&format!("oci:{}:multi", src.display()), &dst, &["--all"]);
    let raw = skopeo.run(&["inspect", "--tls-verify=false", "--raw", &dst]);
    assert_eq!(raw.as_bytes(), idx.manifest.as_slice());
    let out = work.path().join("out");
    skopeo.copy(&dst, &format!("oci:{}:latest", out.display()), &["--all"]);
    for (_, child) in &idx.children {
        assert_blobs(&out, &child.blobs());
        assert_blobs(&out, &[&child.manifest]);
    }
    // One platform, chosen by skopeo from the index regctl serves.
    let one = work.path().join("one");
    skopeo.copy(
        &dst,
        &format!("oci:{}:arm", one.display()),
        &["--override-arch", "arm64", "--override-variant", "v8"],
    );
    let arm = &idx.children[1].1;
    assert_blobs(&one, &arm.blobs());
}
