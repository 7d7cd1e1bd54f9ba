//! Interop with the real skopeo: regctl reads what skopeo writes and skopeo
//! reads what regctl writes, for `oci:`, `oci-archive:` and `docker-archive:`.

mod common;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use common::image::Artifact;
use common::{Skopeo, TestImage, TestIndex, write_oci_layout};
use futures_util::TryStreamExt;
use regctl::ops::copy::{CopyOptions, Quiet, copy_image};
use regctl::store::{self, ImageSource};
use regctl::types::media_type::DOCKER_CONFIG;
use regctl::types::{Descriptor, Digest, ImageManifest, ImageRef, Manifest, ManifestBody};

async fn regctl_copy(src: &str, dst: &str) {
    let src = ImageRef::parse(src, "docker.io").unwrap();
    let dst = ImageRef::parse(dst, "docker.io").unwrap();
    let source = store::open_source(&src).await.unwrap();
    let destination = store::open_destination(&dst).await.unwrap();
    copy_image(
        &*source,
        src.name(),
        destination,
        dst.name(),
        &CopyOptions::default(),
        Arc::new(Quiet),
    )
    .await
    .unwrap();
}

async fn read_blob(source: &dyn ImageSource, desc: &Descriptor) -> Vec<u8> {
    source
        .blob(desc)
        .await
        .unwrap()
        .try_fold(Vec::new(), |mut acc, c| async move {
            acc.extend_from_slice(&c);
            Ok(acc)
        })
        .await
        .unwrap()
}

fn image_of(m: &Manifest) -> ImageManifest {
    match m.body() {
        ManifestBody::Image(i) => i.clone(),
        other => panic!("expected an image manifest, got {other:?}"),
    }
}

fn diff_ids(config: &[u8]) -> Vec<Digest> {
    let v: serde_json::Value = serde_json::from_slice(config).unwrap();
    v["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().parse().unwrap())
        .collect()
}

fn gunzip_digest(data: &[u8]) -> Digest {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut plain)
        .unwrap();
    Digest::sha256_of(&plain)
}

fn blob_file(layout: &Path, d: &Digest) -> Vec<u8> {
    std::fs::read(layout.join("blobs/sha256").join(d.hex())).unwrap()
}

#[tokio::test]
async fn regctl_reads_the_oci_archive_skopeo_writes() {
    let Some(skopeo) = Skopeo::find() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().display();
    let img = TestImage::oci("skopeo-writes-oci-archive", 2, 50_000);
    write_oci_layout(&tmp.path().join("src"), &[("v1", Artifact::Image(&img))]);
    skopeo.copy(
        &format!("oci:{p}/src:v1"),
        &format!("oci-archive:{p}/s.tar:v1"),
        &[],
    );

    let source = store::open_oci_archive(&tmp.path().join("s.tar"))
        .await
        .unwrap();
    let m = source.resolve(Some("v1")).await.unwrap();
    assert_eq!(
        m.digest(),
        &img.digest,
        "skopeo keeps OCI manifests unchanged"
    );
    let image = image_of(&m);
    assert_eq!(read_blob(&source, &image.config).await, img.config);
    for (desc, bytes) in image.layers.iter().zip(&img.layers) {
        assert_eq!(&read_blob(&source, desc).await, bytes);
    }
    // And copies it on, byte for byte.
    regctl_copy(
        &format!("oci-archive:{p}/s.tar:v1"),
        &format!("oci:{p}/out:v1"),
    )
    .await;
    for b in img.blobs() {
        assert_eq!(blob_file(&tmp.path().join("out"), &Digest::sha256_of(b)), b);
    }
}

#[tokio::test]
async fn skopeo_reads_the_oci_dir_and_oci_archive_regctl_writes() {
    let Some(skopeo) = Skopeo::find() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().display();
    // skopeo 1.9 resolves a tag in index.json only for OCI media types (a
    // Docker-typed entry is read when untagged: see the docker-archive test).
    let img = TestImage::oci("skopeo-reads-oci", 3, 20_000);
    write_oci_layout(&tmp.path().join("src"), &[("v1", Artifact::Image(&img))]);
    regctl_copy(&format!("oci:{p}/src:v1"), &format!("oci:{p}/mine:t1")).await;
    regctl_copy(
        &format!("oci:{p}/src:v1"),
        &format!("oci-archive:{p}/mine.tar:t2"),
    )
    .await;

    for (src, out) in [
        (format!("oci:{p}/mine:t1"), "from-dir"),
        (format!("oci-archive:{p}/mine.tar:t2"), "from-archive"),
    ] {
        let raw = skopeo.run(&["inspect", "--raw", &src]);
        assert_eq!(raw.as_bytes(), img.manifest.as_slice(), "{src}");
        skopeo.copy(&src, &format!("oci:{p}/{out}:x"), &[]);
        let out_dir = tmp.path().join(out);
        assert_eq!(blob_file(&out_dir, &img.digest), img.manifest, "{src}");
        for b in img.blobs() {
            assert_eq!(blob_file(&out_dir, &Digest::sha256_of(b)), b, "{src}");
        }
    }
}

#[tokio::test]
async fn regctl_reads_the_docker_archive_skopeo_writes() {
    let Some(skopeo) = Skopeo::find() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().display();
    let img = TestImage::oci("skopeo-writes-docker-archive", 2, 40_000);
    write_oci_layout(&tmp.path().join("src"), &[("v1", Artifact::Image(&img))]);
    skopeo.copy(
        &format!("oci:{p}/src:v1"),
        &format!("docker-archive:{p}/d.tar:example.com/app:v1"),
        &[],
    );

    let source = store::DockerArchiveSource::open(&tmp.path().join("d.tar"))
        .await
        .unwrap();
    let tags = source.tags().await.unwrap();
    assert_eq!(tags, vec!["example.com/app:v1".to_owned()]);
    let m = source.resolve(Some("example.com/app:v1")).await.unwrap();
    let image = image_of(&m);
    // skopeo keeps the config and stores layers uncompressed: the layer
    // digests regctl reports are the config's DiffIDs.
    assert_eq!(image.config.digest, Digest::sha256_of(&img.config));
    assert_eq!(image.config.media_type.as_str(), DOCKER_CONFIG);
    assert_eq!(
        image
            .layers
            .iter()
            .map(|l| l.digest.clone())
            .collect::<Vec<_>>(),
        diff_ids(&img.config)
    );
    assert!(
        image
            .layers
            .iter()
            .all(|l| l.media_type.as_str() == store::DOCKER_LAYER_TAR)
    );
    assert_eq!(read_blob(&source, &image.config).await, img.config);
    for (desc, gz) in image.layers.iter().zip(&img.layers) {
        let plain = read_blob(&source, desc).await;
        assert_eq!(Digest::sha256_of(&plain), gunzip_digest(gz));
    }
    // On to an OCI layout that skopeo reads back.
    regctl_copy(
        &format!("docker-archive:{p}/d.tar"),
        &format!("oci:{p}/out:v1"),
    )
    .await;
    let raw = skopeo.run(&["inspect", "--raw", &format!("oci:{p}/out")]);
    assert_eq!(raw.as_bytes(), m.raw().as_ref());
}

#[tokio::test]
async fn skopeo_reads_the_docker_archive_regctl_writes() {
    let Some(skopeo) = Skopeo::find() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().display();
    let img = TestImage::oci("skopeo-reads-docker-archive", 2, 30_000);
    write_oci_layout(&tmp.path().join("src"), &[("v1", Artifact::Image(&img))]);
    regctl_copy(
        &format!("oci:{p}/src:v1"),
        &format!("docker-archive:{p}/d.tar:app:v1"),
    )
    .await;

    let raw = skopeo.run(&["inspect", "--raw", &format!("docker-archive:{p}/d.tar")]);
    let m: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        m["config"]["digest"].as_str().unwrap(),
        Digest::sha256_of(&img.config).to_string()
    );
    let inspect = skopeo.run(&["inspect", &format!("docker-archive:{p}/d.tar:app:v1")]);
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["Labels"]["seed"], "skopeo-reads-docker-archive");

    let config = skopeo.run(&[
        "inspect",
        "--config",
        "--raw",
        &format!("docker-archive:{p}/d.tar:app:v1"),
    ]);
    assert_eq!(config.as_bytes(), img.config.as_slice());

    // skopeo converts to OCI on the way into a layout (re-encoding the
    // config), recompressing the layers: the DiffIDs are what must survive.
    skopeo.copy(
        &format!("docker-archive:{p}/d.tar:app:v1"),
        &format!("oci:{p}/out:x"),
        &[],
    );
    let out = store::open_oci_dir(&tmp.path().join("out")).await.unwrap();
    let copied = image_of(&out.resolve(Some("x")).await.unwrap());
    assert_eq!(
        diff_ids(&read_blob(&out, &copied.config).await),
        diff_ids(&img.config)
    );
    let layer_diff_ids: Vec<Digest> = {
        let mut v = Vec::new();
        for l in &copied.layers {
            v.push(gunzip_digest(&read_blob(&out, l).await));
        }
        v
    };
    assert_eq!(layer_diff_ids, diff_ids(&img.config));
}

#[tokio::test]
async fn a_whole_index_goes_through_skopeo_and_back() {
    let Some(skopeo) = Skopeo::find() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().display();
    let index = TestIndex::new(
        "skopeo-index",
        &["linux/amd64", "linux/arm64/v8", "linux/arm/v7"],
    );
    write_oci_layout(
        &tmp.path().join("src"),
        &[("multi", Artifact::Index(&index))],
    );
    regctl_copy(
        &format!("oci:{p}/src:multi"),
        &format!("oci-archive:{p}/i.tar:multi"),
    )
    .await;
    skopeo.copy(
        &format!("oci-archive:{p}/i.tar:multi"),
        &format!("oci-archive:{p}/back.tar:m2"),
        &["--all"],
    );
    let back = store::open_oci_archive(&tmp.path().join("back.tar"))
        .await
        .unwrap();
    let top = back.resolve(Some("m2")).await.unwrap();
    assert_eq!(top.raw().as_ref(), index.manifest.as_slice());
    for (_, child) in &index.children {
        let m = back.manifest(&child.digest).await.unwrap();
        for (desc, bytes) in image_of(&m).layers.iter().zip(&child.layers) {
            assert_eq!(&read_blob(&back, desc).await, bytes);
        }
    }
}
