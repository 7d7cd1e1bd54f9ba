//! `regctl gc`: offline over a root written by the real registry:2 (checked
//! by registry:2's own collector and pulled back with the real skopeo),
//! online while images are pushed, and driving registry:2's collector.

mod common;

use std::collections::BTreeSet;

use common::push::{delete_manifest, get, http, push_image, push_index, push_manifest};
use common::scale::blobs_on_disk;
use common::{DistRegistry, Serve, Skopeo, TestImage, TestIndex, json_of, regctl, run_ok};
use regctl::types::Digest;
use regctl::types::media_type::{OCI_INDEX, OCI_MANIFEST};
use serde_json::{Value, json};

fn expected(img: &TestImage) -> BTreeSet<String> {
    img.blobs()
        .iter()
        .map(|b| Digest::sha256_of(b).to_string())
        .chain([img.digest.to_string()])
        .collect()
}

/// A referrer (a signature-like artifact) whose subject is `subject`.
fn referrer(subject: &TestImage) -> (Vec<u8>, Vec<u8>) {
    let payload = b"signature of the subject".to_vec();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                   "digest": Digest::sha256_of(b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": "application/octet-stream",
                    "digest": Digest::sha256_of(&payload).to_string(), "size": payload.len()}],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest.to_string(),
                    "size": subject.manifest.len()}
    }))
    .unwrap();
    (manifest, payload)
}

#[tokio::test(flavor = "multi_thread")]
async fn gc_root_on_a_registry2_root_leaves_nothing_for_its_own_collector() {
    let Some(skopeo) = Skopeo::find() else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let Some(reg) = DistRegistry::start_with_root(&root, true) else {
        return;
    };
    let addr = reg.addr().to_owned();

    // Kept: two repositories sharing one image, a tagged multi-arch index.
    let shared = TestImage::oci("shared", 2, 2048);
    push_image(&addr, "team/one", "v1", &shared).await;
    push_image(&addr, "team/two", "v1", &shared).await;
    let index = TestIndex::new("multi", &["linux/amd64", "linux/arm64", "linux/arm/v7"]);
    push_index(&addr, "multi", "latest", &index).await;
    // Garbage: a deleted tag, an untagged manifest, a repository emptied.
    let old = TestImage::docker("old", 2, 1024);
    push_image(&addr, "busybox", "old", &old).await;
    let keep = TestImage::docker("keep", 1, 1024);
    push_image(&addr, "busybox", "1.0", &keep).await;
    delete_manifest(&addr, "busybox", &old.digest).await;
    let untagged = TestImage::oci("untagged", 1, 1024);
    push_image(&addr, "busybox", &untagged.digest.to_string(), &untagged).await;
    let gone = TestImage::oci("gone", 1, 1024);
    push_image(&addr, "gone", "1", &gone).await;
    delete_manifest(&addr, "gone", &gone.digest).await;

    // registry:2 itself finds garbage before.
    let before = String::from_utf8_lossy(&reg.garbage_collect(true, false).stdout).into_owned();
    assert!(
        !before.contains(" 0 blobs and 0 manifests eligible"),
        "registry:2 should find garbage first: {before}"
    );
    drop(reg); // collections run offline
    let home = tempfile::tempdir().unwrap();

    // The dry run shows the plan and deletes nothing.
    let on_disk = blobs_on_disk(&root);
    let plan = json_of(
        regctl(home.path())
            .args([
                "gc",
                "--delete-untagged",
                "--prune-empty-repos",
                "--dry-run",
            ])
            .args(["--format", "json", "--root"])
            .arg(&root)
            .output()
            .unwrap(),
    );
    assert_eq!(plan["summary"]["dryRun"], true);
    assert_eq!(blobs_on_disk(&root), on_disk, "a dry run deleted something");
    let planned: BTreeSet<String> = plan["plan"]["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["digest"].as_str().unwrap().to_owned())
        .collect();
    let garbage: BTreeSet<String> = expected(&old)
        .union(&expected(&untagged))
        .cloned()
        .chain(expected(&gone))
        .collect();
    assert_eq!(planned, garbage, "the plan must list exactly the garbage");
    let garbage_bytes: u64 = garbage
        .iter()
        .map(|d| {
            let hex = d.strip_prefix("sha256:").unwrap();
            let data = root.join(format!(
                "docker/registry/v2/blobs/sha256/{}/{hex}/data",
                &hex[..2]
            ));
            std::fs::metadata(data).unwrap().len()
        })
        .sum();

    // Without a terminal and without --yes: refused, nothing deleted.
    let refused = regctl(home.path())
        .args(["gc", "--delete-untagged", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(5));
    assert_eq!(blobs_on_disk(&root), on_disk);

    let report = json_of(
        regctl(home.path())
            .args(["gc", "--delete-untagged", "--prune-empty-repos", "--yes"])
            .args(["--format", "json", "--root"])
            .arg(&root)
            .output()
            .unwrap(),
    );
    let s = &report["summary"];
    assert_eq!(s["dryRun"], false);
    assert_eq!(s["blobsRemoved"], garbage.len());
    assert_eq!(s["manifestsRemoved"], 1, "the untagged manifest");
    assert_eq!(s["repositoriesRemoved"], 1, "`gone` had nothing left");
    assert_eq!(
        blobs_on_disk(&root),
        on_disk.difference(&garbage).cloned().collect(),
        "exactly the garbage was removed"
    );
    assert_eq!(s["bytesFreed"].as_u64(), Some(garbage_bytes));

    // registry:2's collector, on the same root, finds nothing left.
    let reg = DistRegistry::start_with_root(&root, true).unwrap();
    let after = reg.garbage_collect(true, false);
    let text = String::from_utf8_lossy(&after.stdout);
    assert!(
        text.contains(" 0 blobs and 0 manifests eligible for deletion"),
        "registry:2 still finds garbage: {text}"
    );

    // Emptied repositories leave registry:2's catalog.
    let (_, _, _, body) = get(reg.addr(), "/v2/_catalog", "application/json").await;
    let catalog: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        catalog["repositories"],
        json!(["busybox", "multi", "team/one", "team/two"])
    );

    // Every remaining tag pulls byte-identical with skopeo, and the index
    // for every platform.
    let pulled = tempfile::tempdir().unwrap();
    for (repo, tag, img) in [
        ("team/one", "v1", &shared),
        ("team/two", "v1", &shared),
        ("busybox", "1.0", &keep),
    ] {
        let layout = pulled.path().join(repo.replace('/', "-"));
        skopeo.copy(
            &format!("docker://{}/{repo}:{tag}", reg.addr()),
            &format!("oci:{}:{tag}", layout.display()),
            &["--preserve-digests"],
        );
        for blob in img.blobs() {
            let d = Digest::sha256_of(blob);
            let got = std::fs::read(layout.join("blobs/sha256").join(d.hex())).unwrap();
            assert!(got == blob, "{repo}:{tag} blob {d} differs after gc");
        }
    }
    let layout = pulled.path().join("multi");
    skopeo.copy(
        &format!("docker://{}/multi:latest", reg.addr()),
        &format!("oci:{}:latest", layout.display()),
        &["--all", "--preserve-digests"],
    );
    for (platform, img) in &index.children {
        for blob in img.blobs() {
            let d = Digest::sha256_of(blob);
            assert!(
                layout.join("blobs/sha256").join(d.hex()).exists(),
                "{platform} lost {d}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_untagged_keeps_index_children_and_referrers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let serve = Serve::start_with_root(&root, &[]);
    let addr = serve.addr().to_owned();
    let index = TestIndex::new("idx", &["linux/amd64", "linux/arm64"]);
    push_index(&addr, "app", "v1", &index).await;
    let signed = TestImage::oci("signed", 1, 512);
    push_image(&addr, "app", "v2", &signed).await;
    let (sig, payload) = referrer(&signed);
    common::push::push_blob(&addr, "app", b"{}").await;
    common::push::push_blob(&addr, "app", &payload).await;
    let sig_digest = Digest::sha256_of(&sig);
    push_manifest(&addr, "app", &sig_digest.to_string(), OCI_MANIFEST, &sig).await;
    let stray = TestImage::oci("stray", 1, 512);
    push_image(&addr, "app", &stray.digest.to_string(), &stray).await;

    // The server holds the root: an offline collection is refused.
    let home = tempfile::tempdir().unwrap();
    let locked = regctl(home.path())
        .args(["gc", "--delete-untagged", "--yes", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(locked.status.code(), Some(5));
    let err = String::from_utf8_lossy(&locked.stderr);
    assert!(
        err.contains("regctl serve") && err.contains("--force"),
        "{err}"
    );
    serve.terminate();

    let before = blobs_on_disk(&root);
    let report = json_of(
        regctl(home.path())
            .args([
                "gc",
                "--delete-untagged",
                "--yes",
                "--format",
                "json",
                "--root",
            ])
            .arg(&root)
            .output()
            .unwrap(),
    );
    assert_eq!(report["summary"]["manifestsRemoved"], 1);
    let removed: BTreeSet<String> = before.difference(&blobs_on_disk(&root)).cloned().collect();
    assert_eq!(removed, expected(&stray), "only the stray image goes");

    // The index, its children and the signature still serve.
    let serve = Serve::start_with_root(&root, &[]);
    for (_, img) in &index.children {
        let (status, ..) = get(
            serve.addr(),
            &format!("/v2/app/manifests/{}", img.digest),
            OCI_MANIFEST,
        )
        .await;
        assert_eq!(status, 200, "index child {} was removed", img.digest);
    }
    let (status, ..) = get(serve.addr(), "/v2/app/manifests/v1", OCI_INDEX).await;
    assert_eq!(status, 200);
    let (status, _, _, body) = get(
        serve.addr(),
        &format!("/v2/app/referrers/{}", signed.digest),
        OCI_INDEX,
    )
    .await;
    assert_eq!(status, 200);
    let referrers: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        referrers["manifests"][0]["digest"],
        sig_digest.to_string(),
        "the signature of a kept image must stay"
    );
}

#[test]
fn serve_refuses_to_start_while_a_collection_holds_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let _held = regctl::storage::RootLock::exclusive(dir.path()).unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = regctl(home.path())
        .args(["serve", "--port", "0", "--root"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("garbage collection is running"), "{err}");
}

#[test]
fn gc_root_names_a_directory_that_is_no_registry_root() {
    let dir = tempfile::tempdir().unwrap();
    let out = regctl(dir.path())
        .args(["gc", "--yes", "--root"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("docker/registry/v2"), "{err}");
}

/// One image of a push loop: a shared base layer plus its own layer.
fn looped_image(i: usize, base: &[u8]) -> TestImage {
    let mut img = TestImage::oci(&format!("loop-{i}"), 1, 256);
    img.layers.insert(0, base.to_vec());
    let layers: Vec<Value> = img
        .layers
        .iter()
        .map(|l| {
            json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                   "digest": Digest::sha256_of(l).to_string(), "size": l.len()})
        })
        .collect();
    let mut m: Value = serde_json::from_slice(&img.manifest).unwrap();
    m["layers"] = Value::Array(layers);
    img.manifest = serde_json::to_vec(&m).unwrap();
    img.digest = Digest::sha256_of(&img.manifest);
    img
}

/// Pushes like a real client: HEAD each blob, upload the missing ones, PUT
/// the manifest. `false` when the registry answered MANIFEST_BLOB_UNKNOWN
/// (a blob was collected between the HEAD and the PUT), which is allowed.
async fn push_like_a_client(addr: &str, repo: &str, tag: &str, img: &TestImage) -> bool {
    for b in img.blobs() {
        common::push::push_blob(addr, repo, b).await;
    }
    let r = http()
        .put(format!("http://{addr}/v2/{repo}/manifests/{tag}"))
        .header("Content-Type", img.media_type)
        .body(img.manifest.clone())
        .send()
        .await
        .unwrap();
    match r.status().as_u16() {
        201 => true,
        400 => {
            let body = r.text().await.unwrap();
            assert!(body.contains("MANIFEST_BLOB_UNKNOWN"), "{body}");
            false
        }
        other => panic!("PUT manifest answered {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn online_gc_while_pushing_loses_no_image() {
    let serve = Serve::start(&[]);
    let addr = serve.addr().to_owned();
    let base = TestImage::oci("base", 1, 4096).layers[0].clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    // The pusher: image i under tag i, then deletes image i-2, so the base
    // layer keeps losing and regaining references while collections run.
    let pusher = {
        let addr = addr.clone();
        let base = base.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut kept = Vec::new();
            let mut retried = 0;
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || i < 20 {
                let img = looped_image(i, &base);
                let tag = format!("t{i}");
                while !push_like_a_client(&addr, "loop", &tag, &img).await {
                    retried += 1;
                }
                kept.push((tag, img));
                if kept.len() > 2 && i % 3 != 0 {
                    let (_, old) = kept.remove(kept.len() - 3);
                    delete_manifest(&addr, "loop", &old.digest).await;
                }
                i += 1;
            }
            (kept, retried)
        })
    };

    let home = tempfile::tempdir().unwrap();
    let mut removed = 0;
    for _ in 0..15 {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_regctl"))
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("xdg"))
            .env("DOCKER_CONFIG", home.path().join(".docker"))
            .args(["gc", &addr, "--delete-untagged", "--min-age", "0s"])
            .args(["--yes", "--format", "json"])
            .output()
            .await
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("gc failed: {}", String::from_utf8_lossy(&out.stderr)));
        removed += report["summary"]["blobsRemoved"].as_u64().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (kept, retried) = pusher.await.unwrap();
    assert!(
        removed > 0,
        "the collections removed nothing: the test tests nothing"
    );
    println!(
        "online gc: {removed} blobs removed by 15 collections; {} images kept, {retried} pushes retried",
        kept.len()
    );

    for (tag, img) in &kept {
        common::push::assert_same_image(&addr, "loop", tag, img).await;
    }
}

#[test]
fn gc_drives_registry2s_collector_through_a_command_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let Some(reg) = DistRegistry::start_with_root(&root, true) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let old = TestImage::oci("container-old", 2, 512);
    rt.block_on(async {
        push_image(reg.addr(), "app", "old", &old).await;
        delete_manifest(reg.addr(), "app", &old.digest).await;
    });
    // `registry` is the binary's name in the registry:2 image; Debian calls
    // it docker-registry. A prefix that puts a shim on PATH stands in for
    // `docker exec NAME`.
    let shim = dir.path().join("shim");
    std::fs::create_dir_all(&shim).unwrap();
    let real = which("docker-registry");
    std::os::unix::fs::symlink(real, shim.join("registry")).unwrap();
    let prefix = format!("env PATH={}:/usr/bin:/bin", shim.display());
    let home = tempfile::tempdir().unwrap();
    let before = blobs_on_disk(&root);

    let dry = json_of(
        regctl(home.path())
            .args(["gc", "--exec", &prefix, "--registry-config"])
            .arg(reg.config())
            .args(["--dry-run", "--format", "json"])
            .output()
            .unwrap(),
    );
    assert_eq!(dry["summary"]["dryRun"], true);
    assert_eq!(
        dry["summary"]["blobsRemoved"], 4,
        "config, 2 layers, manifest"
    );
    assert_eq!(blobs_on_disk(&root), before);

    let out = regctl(home.path())
        .args(["gc", "--exec", &prefix, "--registry-config"])
        .arg(reg.config())
        .args(["--yes"])
        .output()
        .unwrap();
    let text = run_ok(out);
    assert!(text.contains("removed 0 manifests, 4 blobs"), "{text}");
    let removed: BTreeSet<String> = before.difference(&blobs_on_disk(&root)).cloned().collect();
    assert_eq!(removed, expected(&old));
}

fn which(bin: &str) -> std::path::PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(bin))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{bin} not on PATH"))
}

/// The trap the issue names: registry:2's `--delete-untagged` removes the
/// children of a tagged index; `regctl gc --root --delete-untagged` keeps them.
#[tokio::test(flavor = "multi_thread")]
async fn delete_untagged_keeps_what_registry2s_collector_breaks() {
    let home = tempfile::tempdir().unwrap();
    let index = TestIndex::new("trap", &["linux/amd64", "linux/arm64"]);
    let mut outcomes = Vec::new();
    for ours in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let Some(reg) = DistRegistry::start_with_root(&root, true) else {
            return;
        };
        push_index(reg.addr(), "multi", "latest", &index).await;
        if ours {
            drop(reg);
            run_ok(
                regctl(home.path())
                    .args(["gc", "--delete-untagged", "--yes", "--root"])
                    .arg(&root)
                    .output()
                    .unwrap(),
            );
        } else {
            let out = reg.garbage_collect(false, true);
            assert!(out.status.success());
            drop(reg);
        }
        let reg = DistRegistry::start_with_root(&root, true).unwrap();
        let child = &index.children[0].1.digest;
        let (status, ..) = get(
            reg.addr(),
            &format!("/v2/multi/manifests/{child}"),
            OCI_MANIFEST,
        )
        .await;
        outcomes.push(status);
    }
    assert_eq!(
        outcomes,
        [404, 200],
        "registry:2 drops the index's children; regctl keeps them"
    );
}

/// registry:2 takes no lock: a fresh upload session is how `gc --root`
/// notices that something is writing, and it refuses unless `--force`;
/// day-old sessions are swept.
#[test]
fn gc_root_refuses_a_root_with_uploads_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("docker/registry/v2/repositories/app");
    std::fs::create_dir_all(repo.join("_manifests")).unwrap();
    let fresh = repo.join("_uploads/7d2c5e4e-7a4b-4c5e-9f00-000000000001");
    std::fs::create_dir_all(&fresh).unwrap();
    std::fs::write(fresh.join("data"), b"partial").unwrap();
    std::fs::write(
        fresh.join("startedat"),
        humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    )
    .unwrap();
    let stale = repo.join("_uploads/7d2c5e4e-7a4b-4c5e-9f00-000000000002");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("data"), b"abandoned").unwrap();
    std::fs::write(stale.join("startedat"), "2020-01-01T00:00:00Z").unwrap();
    let home = tempfile::tempdir().unwrap();

    let out = regctl(home.path())
        .args(["gc", "--yes", "--root"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("looks in use") && err.contains("--force"),
        "{err}"
    );
    assert!(stale.exists(), "a refused collection deleted something");

    let report = json_of(
        regctl(home.path())
            .args(["gc", "--yes", "--force", "--format", "json", "--root"])
            .arg(dir.path())
            .output()
            .unwrap(),
    );
    assert_eq!(report["summary"]["uploadsRemoved"], 1);
    assert!(!stale.exists(), "the day-old upload is swept");
    assert!(fresh.exists(), "the upload in progress stays");
}
