//! Collection and `du` at registry scale: a generated root of 2,000
//! repositories (20,000 manifests, half untagged), collected by regctl and
//! by registry:2's own collector, which must keep the same blobs.
//! Timings are printed, not asserted.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::scale::{ScaleRoot, blob_sizes_on_disk, blobs_on_disk, write_root};
use common::{json_of, regctl, require_peer, run_ok};

const REPOS: usize = 2000;

/// Every blob file under a root, by digest.
fn registry2_config(dir: &Path, root: &Path) -> std::path::PathBuf {
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n",
            root.display()
        ),
    )
    .unwrap();
    config
}

fn generate(root: &Path) -> ScaleRoot {
    let t = Instant::now();
    let shape = write_root(root, REPOS);
    eprintln!(
        "generated {} repositories, {} manifests, {} blobs in {:.1} s",
        shape.repositories,
        shape.manifests,
        shape.blobs,
        t.elapsed().as_secs_f64()
    );
    shape
}

/// `regctl du --root ROOT --format json`, timed.
fn du_root(home: &Path, root: &Path) -> serde_json::Value {
    let t = Instant::now();
    let du = json_of(
        regctl(home)
            .args(["du", "--root"])
            .arg(root)
            .args(["--format", "json"])
            .output()
            .unwrap(),
    );
    eprintln!("regctl du --root: {:.2} s", t.elapsed().as_secs_f64());
    du
}

#[test]
fn gc_keeps_what_registry2_keeps_at_2000_repositories() {
    if !require_peer("docker-registry") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours");
    let theirs = dir.path().join("theirs");
    let shape = generate(&ours);
    assert_eq!(shape.manifests, REPOS * 10);
    generate(&theirs);
    let config = registry2_config(dir.path(), &theirs);

    let home = dir.path().join("home");

    // du first: what the tags reach, and what a collection would free.
    let sizes = blob_sizes_on_disk(&ours);
    let du = du_root(&home, &ours);
    let (reached, unreached): (Vec<_>, Vec<_>) = sizes
        .iter()
        .partition(|(d, _)| shape.surviving.contains(*d));
    let sum = |blobs: Vec<(&String, &u64)>| -> u64 { blobs.into_iter().map(|(_, s)| s).sum() };
    assert_eq!(du["total"], sum(reached), "du's total: what the tags reach");
    let freed = du["unreferenced"].as_u64().unwrap() + du["untaggedOnly"].as_u64().unwrap();
    assert_eq!(freed, sum(unreached), "du's collectable bytes");

    // The plan first: the dry run lists exactly what will go.
    let t = Instant::now();
    let plan = json_of(
        regctl(&home)
            .args(["gc", "--root"])
            .arg(&ours)
            .args(["--delete-untagged", "--dry-run", "--format", "json"])
            .output()
            .unwrap(),
    );
    eprintln!("regctl gc --dry-run: {:.2} s", t.elapsed().as_secs_f64());
    let planned: BTreeSet<String> = plan["plan"]["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["digest"].as_str().unwrap().to_owned())
        .collect();
    let before = blobs_on_disk(&ours);
    assert_eq!(before.len(), shape.blobs);
    let expected_gone: BTreeSet<String> = before.difference(&shape.surviving).cloned().collect();
    assert_eq!(planned, expected_gone, "the dry run's plan");
    assert_eq!(blobs_on_disk(&ours), before, "a dry run removes nothing");

    let t = Instant::now();
    let r2 = Command::new("docker-registry")
        .args(["garbage-collect", "--delete-untagged"])
        .arg(&config)
        .output()
        .unwrap();
    eprintln!(
        "registry:2 garbage-collect: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    assert!(
        r2.status.success(),
        "{}",
        String::from_utf8_lossy(&r2.stderr)
    );

    let t = Instant::now();
    run_ok(
        regctl(&home)
            .args(["gc", "--root"])
            .arg(&ours)
            .args(["--delete-untagged", "-y", "--format", "json"])
            .output()
            .unwrap(),
    );
    eprintln!("regctl gc: {:.2} s", t.elapsed().as_secs_f64());
    let kept = blobs_on_disk(&ours);
    assert_eq!(
        kept,
        blobs_on_disk(&theirs),
        "the same blobs survive both collectors"
    );
    assert_eq!(kept, shape.surviving);

    // The collected root is still whole: du sees every tag's bytes.
    let du = du_root(&home, &ours);
    let repos = du["repositories"].as_array().unwrap();
    assert_eq!(repos.len(), REPOS);
    assert!(repos.iter().all(|r| r["tags"] == 5), "{}", repos[0]);
    // Every blob left is one a tag reaches, counted once at its size on
    // disk; nothing is left to collect.
    let on_disk: u64 = blob_sizes_on_disk(&ours).values().sum();
    assert_eq!(du["total"], on_disk, "du's total against the blobs left");
    assert_eq!(du["unreferenced"], 0);
    assert_eq!(du["untaggedOnly"], 0);
}

/// Writes a root for `bench/compare.sh`: REGCTL_SCALE_ROOT (a directory
/// that does not exist yet), REGCTL_SCALE_REPOS repositories.
#[test]
#[ignore]
fn generate_root_for_bench() {
    let root = std::env::var("REGCTL_SCALE_ROOT").expect("REGCTL_SCALE_ROOT");
    let repos: usize = std::env::var("REGCTL_SCALE_REPOS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(REPOS);
    let shape = write_root(Path::new(&root), repos);
    eprintln!("{} manifests, {} blobs", shape.manifests, shape.blobs);
}
