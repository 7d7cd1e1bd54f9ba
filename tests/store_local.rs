//! Image stores on the filesystem: OCI layout directories, OCI archives and
//! docker archives, read and written by regctl, with the generic copy.

mod common;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use common::image::Artifact;
use common::{TestImage, TestIndex, write_oci_layout};
use futures_util::{TryStreamExt, stream};
use regctl::ops::copy::{CopyError, CopyOptions, CopySummary, Quiet, copy_image};
use regctl::store::{self, BlobStream, ImageDestination, ImageSource, Placement, StoreError};
use regctl::types::{Descriptor, Digest, ImageRef, Manifest, MediaType, Platform};

fn image_ref(s: &str) -> ImageRef {
    ImageRef::parse(s, "docker.io").unwrap()
}

async fn copy(src: &str, dst: &str, platform: Option<&str>) -> Result<CopySummary, CopyError> {
    let src = image_ref(src);
    let dst = image_ref(dst);
    let source = store::open_source(&src).await?;
    let destination = store::open_destination(&dst).await?;
    let options = CopyOptions {
        platform: platform.map(|p| Platform::parse(p).unwrap()),
        jobs: 3,
        ..CopyOptions::default()
    };
    copy_image(
        &*source,
        src.name(),
        destination,
        dst.name(),
        &options,
        Arc::new(Quiet),
    )
    .await
}

async fn read_blob(source: &dyn ImageSource, desc: &Descriptor) -> Result<Vec<u8>, StoreError> {
    source
        .blob(desc)
        .await?
        .try_fold(Vec::new(), |mut acc, c| async move {
            acc.extend_from_slice(&c);
            Ok(acc)
        })
        .await
}

fn once(data: &'static [u8]) -> BlobStream {
    Box::pin(stream::iter(vec![Ok(Bytes::from_static(data))]))
}

fn oci_source_layout(dir: &Path, img: &TestImage, tag: &str) {
    write_oci_layout(dir, &[(tag, Artifact::Image(img))]);
}

/// Files anywhere under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn image_of(m: &Manifest) -> &regctl::types::ImageManifest {
    match m.body() {
        regctl::types::ManifestBody::Image(i) => i,
        other => panic!("expected an image manifest, got {other:?}"),
    }
}

#[tokio::test]
async fn reads_a_layout_by_tag_and_its_only_image() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    let img = TestImage::oci("read-by-tag", 2, 3000);
    oci_source_layout(&dir, &img, "v1");
    let source = store::open_oci_dir(&dir).await.unwrap();
    let by_tag = source.resolve(Some("v1")).await.unwrap();
    let alone = source.resolve(None).await.unwrap();
    assert_eq!(by_tag.digest(), &img.digest);
    assert_eq!(alone.raw().as_ref(), img.manifest.as_slice());
    assert_eq!(source.tags().await.unwrap(), vec!["v1".to_owned()]);
    let image = image_of(&by_tag);
    assert_eq!(read_blob(&source, &image.config).await.unwrap(), img.config);
    for (desc, bytes) in image.layers.iter().zip(&img.layers) {
        assert_eq!(&read_blob(&source, desc).await.unwrap(), bytes);
    }
    let missing = source.resolve(Some("v2")).await.unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");
    assert!(
        missing.to_string().contains("v1"),
        "names the tags there: {missing}"
    );
}

#[tokio::test]
async fn several_images_need_a_name_and_the_error_lists_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    let a = TestImage::oci("several-a", 1, 100);
    let b = TestImage::docker("several-b", 1, 100);
    write_oci_layout(
        &dir,
        &[("a", Artifact::Image(&a)), ("b", Artifact::Image(&b))],
    );
    let source = store::open_oci_dir(&dir).await.unwrap();
    let err = source.resolve(None).await.unwrap_err();
    assert!(matches!(err, StoreError::Ambiguous { .. }), "{err}");
    assert!(err.to_string().contains("a, b"), "{err}");
    assert_eq!(source.resolve(Some("b")).await.unwrap().digest(), &b.digest);
    assert_eq!(
        source.resolve(Some("b")).await.unwrap().media_type(),
        &MediaType::DockerManifest
    );
}

#[tokio::test]
async fn not_a_layout_is_reported_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    let err = store::open_oci_dir(tmp.path()).await.err().unwrap();
    assert!(err.to_string().contains("no oci-layout"), "{err}");
    let file = tmp.path().join("plain.tar");
    std::fs::write(&file, b"not a tar at all, just text that is long enough").unwrap();
    let err = store::open_oci_archive(&file).await.err().unwrap();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    let err = store::DockerArchiveSource::open(&tmp.path().join("absent.tar"))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Io { .. }), "{err}");
}

#[tokio::test]
async fn put_blob_rejects_wrong_bytes_and_leaves_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let dest = store::OciDirDestination::open(&dir).await.unwrap();
    let good: &'static [u8] = b"the real content";
    let desc = Descriptor::new(
        MediaType::parse("application/octet-stream"),
        Digest::sha256_of(good),
        good.len() as i64,
    );
    // Same length, different bytes: a digest mismatch.
    let err = dest
        .put_blob(&desc, once(b"the fake content"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Digest(_)), "{err}");
    // Wrong length: a size mismatch.
    let err = dest
        .put_blob(&desc, once(b"the real content!"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Size { .. }), "{err}");
    assert_eq!(
        files_under(&dir),
        Vec::<String>::new(),
        "nothing left behind"
    );
    assert!(!dest.has_blob(&desc).await.unwrap());

    dest.put_blob(&desc, once(good)).await.unwrap();
    assert!(dest.has_blob(&desc).await.unwrap());
    assert_eq!(
        std::fs::read(dir.join("blobs/sha256").join(desc.digest.hex())).unwrap(),
        good
    );
}

#[tokio::test]
async fn dropped_destinations_leave_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let img = TestImage::oci("dropped", 1, 500);
    let manifest = Manifest::parse(Bytes::from(img.manifest.clone()), None).unwrap();
    let image = image_of(&manifest).clone();
    let blobs: Vec<(Descriptor, Vec<u8>)> =
        std::iter::once((image.config.clone(), img.config.clone()))
            .chain(image.layers.iter().cloned().zip(img.layers.iter().cloned()))
            .collect();
    for target in [
        "oci:new-dir:t",
        "oci-archive:out.tar:t",
        "docker-archive:out-d.tar:app:t",
    ] {
        let r = image_ref(&target.replacen(':', &format!(":{}/", tmp.path().display()), 1));
        let dest = store::open_destination(&r).await.unwrap();
        for (desc, bytes) in &blobs {
            let data: BlobStream = Box::pin(stream::iter(vec![Ok(Bytes::from(bytes.clone()))]));
            dest.put_blob(desc, data).await.unwrap();
        }
        dest.put_manifest(&manifest, Placement::Top { name: r.name() })
            .await
            .unwrap();
        drop(dest);
        assert_eq!(
            files_under(tmp.path()),
            Vec::<String>::new(),
            "{target} left files"
        );
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "{target} left directories"
        );
    }

    // An existing layout keeps what it had; the new blobs go away.
    let dir = tmp.path().join("existing");
    let old = TestImage::oci("dropped-old", 1, 200);
    oci_source_layout(&dir, &old, "old");
    let before = files_under(&dir);
    let index_before = std::fs::read(dir.join("index.json")).unwrap();
    let dest = store::OciDirDestination::open(&dir).await.unwrap();
    for (desc, bytes) in &blobs {
        let data: BlobStream = Box::pin(stream::iter(vec![Ok(Bytes::from(bytes.clone()))]));
        dest.put_blob(desc, data).await.unwrap();
    }
    dest.put_manifest(&manifest, Placement::Top { name: Some("new") })
        .await
        .unwrap();
    drop(dest);
    assert_eq!(files_under(&dir), before);
    assert_eq!(std::fs::read(dir.join("index.json")).unwrap(), index_before);
}

#[tokio::test]
async fn round_trip_oci_dir_to_oci_archive_to_docker_archive_to_oci_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().display();
    let img = TestImage::oci("round-trip", 3, 200_000);
    oci_source_layout(&tmp.path().join("src"), &img, "v1");

    let s = copy(
        &format!("oci:{p}/src:v1"),
        &format!("oci-archive:{p}/a.tar:v2"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(s.digest, img.digest.to_string());
    assert_eq!((s.blobs_copied, s.blobs_skipped, s.manifests), (4, 0, 1));
    assert_eq!(
        s.bytes_copied,
        img.blobs().iter().map(|b| b.len() as u64).sum::<u64>()
    );

    // oci-archive -> docker-archive: the same config and layers.
    copy(
        &format!("oci-archive:{p}/a.tar:v2"),
        &format!("docker-archive:{p}/d.tar:app:v3"),
        None,
    )
    .await
    .unwrap();
    let docker = store::DockerArchiveSource::open(&tmp.path().join("d.tar"))
        .await
        .unwrap();
    assert_eq!(docker.tags().await.unwrap(), vec!["app:v3".to_owned()]);
    let synthesized = docker
        .resolve(Some("docker.io/library/app:v3"))
        .await
        .unwrap();
    assert_eq!(synthesized.media_type(), &MediaType::DockerManifest);
    let d_image = image_of(&synthesized);
    assert_eq!(d_image.config.digest, Digest::sha256_of(&img.config));
    let layer_digests: Vec<Digest> = img.layers.iter().map(|l| Digest::sha256_of(l)).collect();
    assert_eq!(
        d_image
            .layers
            .iter()
            .map(|l| l.digest.clone())
            .collect::<Vec<_>>(),
        layer_digests
    );
    assert!(
        d_image
            .layers
            .iter()
            .all(|l| l.media_type.as_str().ends_with("tar.gzip"))
    );

    // docker-archive -> oci dir: the synthesised manifest is copied as is.
    let s = copy(
        &format!("docker-archive:{p}/d.tar"),
        &format!("oci:{p}/back:v4"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(s.digest, synthesized.digest().to_string());
    let back = store::open_oci_dir(&tmp.path().join("back")).await.unwrap();
    let m = back.resolve(Some("v4")).await.unwrap();
    assert_eq!(m.raw(), synthesized.raw());
    for (desc, bytes) in image_of(&m).layers.iter().zip(&img.layers) {
        assert_eq!(&read_blob(&back, desc).await.unwrap(), bytes);
    }
    assert_eq!(
        read_blob(&back, &image_of(&m).config).await.unwrap(),
        img.config
    );

    // Again into the same directory: every blob is already there.
    let s = copy(
        &format!("oci:{p}/src:v1"),
        &format!("oci:{p}/back:v1"),
        None,
    )
    .await
    .unwrap();
    assert_eq!((s.blobs_copied, s.blobs_skipped), (0, 4));
    let back = store::open_oci_dir(&tmp.path().join("back")).await.unwrap();
    let mut tags = back.tags().await.unwrap();
    tags.sort();
    assert_eq!(tags, vec!["v1".to_owned(), "v4".to_owned()]);
    assert!(
        !files_under(tmp.path())
            .iter()
            .any(|f| f.contains(".regctl-tmp"))
    );
}

#[tokio::test]
async fn index_copies_whole_and_one_platform_goes_to_a_docker_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().display();
    let index = TestIndex::new("index", &["linux/amd64", "linux/arm64/v8"]);
    write_oci_layout(
        &tmp.path().join("src"),
        &[("multi", Artifact::Index(&index))],
    );

    let s = copy(
        &format!("oci:{p}/src:multi"),
        &format!("oci-archive:{p}/all.tar:multi"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(s.digest, index.digest.to_string());
    assert_eq!(s.manifests, 3);
    let all = store::open_oci_archive(&tmp.path().join("all.tar"))
        .await
        .unwrap();
    let top = all.resolve(Some("multi")).await.unwrap();
    assert_eq!(top.raw().as_ref(), index.manifest.as_slice());
    for (_, child) in &index.children {
        let m = all.manifest(&child.digest).await.unwrap();
        assert_eq!(m.raw().as_ref(), child.manifest.as_slice());
    }

    let err = copy(
        &format!("oci:{p}/src:multi"),
        &format!("docker-archive:{p}/d.tar:app:v1"),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CopyError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("--platform"), "{err}");
    assert!(!tmp.path().join("d.tar").exists());

    let err = copy(
        &format!("oci:{p}/src:multi"),
        &format!("docker-archive:{p}/d.tar:app:v1"),
        Some("linux/s390x"),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("linux/arm64/v8"),
        "lists platforms: {err}"
    );

    let s = copy(
        &format!("oci:{p}/src:multi"),
        &format!("docker-archive:{p}/d.tar:app:v1"),
        Some("linux/arm64/v8"),
    )
    .await
    .unwrap();
    let arm = &index.children[1].1;
    assert_eq!(s.digest, arm.digest.to_string());
    let docker = store::DockerArchiveSource::open(&tmp.path().join("d.tar"))
        .await
        .unwrap();
    let m = docker.resolve(None).await.unwrap();
    assert_eq!(image_of(&m).config.digest, Digest::sha256_of(&arm.config));
    assert_eq!(
        read_blob(&docker, &image_of(&m).config).await.unwrap(),
        arm.config
    );
}

#[tokio::test]
async fn a_corrupt_source_blob_fails_the_copy_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().display();
    let img = TestImage::oci("corrupt", 2, 4000);
    let src = tmp.path().join("src");
    oci_source_layout(&src, &img, "v1");
    let layer = src
        .join("blobs/sha256")
        .join(Digest::sha256_of(&img.layers[1]).hex());
    let mut bytes = std::fs::read(&layer).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&layer, bytes).unwrap();

    for dst in [
        "oci-archive:out.tar:v1",
        "docker-archive:out-d.tar:a:b",
        "oci:out-dir:v1",
    ] {
        let dst = dst.replacen(':', &format!(":{p}/"), 1);
        let err = copy(&format!("oci:{p}/src:v1"), &dst, None)
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                CopyError::Blob { source, side: "reading from", .. }
                    if matches!(**source, StoreError::Digest(_))
            ),
            "{dst}: {err}"
        );
    }
    let left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["src".to_owned()]);
}

#[tokio::test]
async fn docker_archive_with_several_images_is_read_by_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().display();
    let a = TestImage::oci("multi-a", 1, 300);
    let b = TestImage::oci("multi-b", 2, 300);
    write_oci_layout(
        &tmp.path().join("src"),
        &[("a", Artifact::Image(&a)), ("b", Artifact::Image(&b))],
    );
    copy(
        &format!("oci:{p}/src:a"),
        &format!("docker-archive:{p}/a.tar:one:a"),
        None,
    )
    .await
    .unwrap();
    copy(
        &format!("oci:{p}/src:b"),
        &format!("docker-archive:{p}/b.tar:two:b"),
        None,
    )
    .await
    .unwrap();

    // Merge the two manifest.json entries into one archive, as `docker save a b` does.
    let merged = tmp.path().join("merged.tar");
    let mut entries = Vec::new();
    let mut builder = tar::Builder::new(std::fs::File::create(&merged).unwrap());
    for name in ["a.tar", "b.tar"] {
        let mut archive = tar::Archive::new(std::fs::File::open(tmp.path().join(name)).unwrap());
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            if path == "manifest.json" {
                let mut raw = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut raw).unwrap();
                let list: Vec<serde_json::Value> = serde_json::from_slice(&raw).unwrap();
                entries.extend(list);
            } else if e.header().entry_type().is_file() {
                let mut h = e.header().clone();
                builder.append_data(&mut h, &path, &mut e).unwrap();
            }
        }
    }
    let manifest_json = serde_json::to_vec(&entries).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(manifest_json.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    builder
        .append_data(&mut h, "manifest.json", manifest_json.as_slice())
        .unwrap();
    builder.finish().unwrap();

    let source = store::DockerArchiveSource::open(&merged).await.unwrap();
    let err = source.resolve(None).await.unwrap_err();
    assert!(err.to_string().contains("one:a, two:b"), "{err}");
    let m = source.resolve(Some("two:b")).await.unwrap();
    assert_eq!(image_of(&m).config.digest, Digest::sha256_of(&b.config));
    assert_eq!(image_of(&m).layers.len(), 2);
    let m = source
        .resolve(Some("docker.io/library/one:a"))
        .await
        .unwrap();
    assert_eq!(image_of(&m).config.digest, Digest::sha256_of(&a.config));
    let err = source.resolve(Some("three:c")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(data), &mut plain).unwrap();
    plain
}

fn append_file(builder: &mut tar::Builder<std::fs::File>, path: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    builder.append_data(&mut h, path, data).unwrap();
}

/// A `docker save` archive in the pre-25 layout: `<id>/layer.tar` (here a
/// symlink to `../<diffid>.tar`, as skopeo writes for compatibility).
fn write_legacy_docker_save(path: &Path, img: &TestImage, layer_override: Option<&[u8]>) {
    let mut builder = tar::Builder::new(std::fs::File::create(path).unwrap());
    let config_name = format!("{}.json", Digest::sha256_of(&img.config).hex());
    append_file(&mut builder, &config_name, &img.config);
    let mut layers = Vec::new();
    for (i, gz) in img.layers.iter().enumerate() {
        let plain = gunzip(gz);
        let id = Digest::sha256_of(format!("layer-id-{i}").as_bytes());
        let data = layer_override.unwrap_or(&plain);
        let file = format!("{}.tar", Digest::sha256_of(data).hex());
        append_file(&mut builder, &file, data);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        builder
            .append_link(
                &mut h,
                format!("{}/layer.tar", id.hex()),
                format!("../{file}"),
            )
            .unwrap();
        layers.push(format!("{}/layer.tar", id.hex()));
    }
    let manifest =
        serde_json::json!([{"Config": config_name, "RepoTags": ["legacy:1"], "Layers": layers}]);
    append_file(
        &mut builder,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    builder.finish().unwrap();
}

#[tokio::test]
async fn reads_the_legacy_docker_save_layout_through_symlinks() {
    let tmp = tempfile::tempdir().unwrap();
    let img = TestImage::docker("legacy", 2, 5000);
    let path = tmp.path().join("legacy.tar");
    write_legacy_docker_save(&path, &img, None);
    let source = store::DockerArchiveSource::open(&path).await.unwrap();
    let m = source
        .resolve(Some("docker.io/library/legacy:1"))
        .await
        .unwrap();
    let image = image_of(&m);
    assert_eq!(image.config.digest, Digest::sha256_of(&img.config));
    for (desc, gz) in image.layers.iter().zip(&img.layers) {
        let plain = gunzip(gz);
        assert_eq!(
            desc.digest,
            Digest::sha256_of(&plain),
            "uncompressed: digest is the DiffID"
        );
        assert_eq!(desc.media_type.as_str(), store::DOCKER_LAYER_TAR);
        assert_eq!(read_blob(&source, desc).await.unwrap(), plain);
    }
    // The synthesised manifest is stable: reading again gives the same digest.
    let again = store::DockerArchiveSource::open(&path).await.unwrap();
    assert_eq!(again.resolve(None).await.unwrap().digest(), m.digest());
    assert_eq!(again.manifest(m.digest()).await.unwrap().raw(), m.raw());
}

#[tokio::test]
async fn a_docker_archive_layer_that_contradicts_its_diff_id_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let img = TestImage::docker("legacy-bad", 1, 5000);
    let path = tmp.path().join("bad.tar");
    write_legacy_docker_save(&path, &img, Some(b"not the layer the config describes"));
    let source = store::DockerArchiveSource::open(&path).await.unwrap();
    let err = source.resolve(None).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("DiffID"), "{err}");
}
