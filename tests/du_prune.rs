//! `regctl du` and `regctl prune` against `regctl serve`, checked against
//! sums and decisions computed here from the images the test built.

mod common;

use common::push::{get, push_blob, push_image};
use common::{Serve, TestImage, json_of, regctl};
use regctl::types::media_type::OCI_MANIFEST;
use serde_json::Value;

fn row<'a>(rows: &'a Value, name: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row {name} in {rows}"))
}

fn assert_usage(r: &Value, total: u64, unique: u64) {
    assert_eq!(r["total"].as_u64(), Some(total), "total of {r}");
    assert_eq!(r["unique"].as_u64(), Some(unique), "unique of {r}");
    assert_eq!(r["shared"].as_u64(), Some(total - unique), "shared of {r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn du_sums_match_the_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let serve = Serve::start_with_root(&root, &[]);
    let addr = serve.addr().to_owned();
    let x = TestImage::oci("du-x", 3, 3000);
    let y = TestImage::oci("du-y", 2, 5000);
    let z = TestImage::docker("du-z", 1, 700);
    push_image(&addr, "a", "1", &x).await;
    push_image(&addr, "a", "1-alias", &x).await;
    push_image(&addr, "a", "2", &y).await;
    push_image(&addr, "b/c", "1", &x).await;
    push_image(&addr, "b/c", "2", &z).await;
    let orphan = vec![7u8; 1234];
    push_blob(&addr, "b/c", &orphan).await;
    let (xs, ys, zs) = (x.stored_size(), y.stored_size(), z.stored_size());
    let home = tempfile::tempdir().unwrap();

    let check_registry = |v: &Value| {
        let repos = &v["repositories"];
        assert_usage(row(repos, "a"), xs + ys, ys);
        assert_usage(row(repos, "b/c"), xs + zs, zs);
        assert_eq!(row(repos, "a")["tags"], 3);
        assert_eq!(v["total"].as_u64(), Some(xs + ys + zs));
        // Largest first.
        let first = repos[0]["name"].as_str().unwrap();
        assert_eq!(first, if ys > zs { "a" } else { "b/c" });
    };
    let v = json_of(
        regctl(home.path())
            .args(["du", &addr, "--format", "json"])
            .output()
            .unwrap(),
    );
    check_registry(&v);

    let v = json_of(
        regctl(home.path())
            .args(["du", &format!("{addr}/a"), "--format", "json"])
            .output()
            .unwrap(),
    );
    let tags = &v["tags"];
    // Two tags on one manifest: neither frees anything alone.
    assert_usage(row(tags, "1"), xs, 0);
    assert_usage(row(tags, "1-alias"), xs, 0);
    assert_usage(row(tags, "2"), ys, ys);
    assert_eq!(row(tags, "2")["digest"], y.digest.to_string());

    // The same from the storage root, plus what nothing references.
    serve.terminate();
    let v = json_of(
        regctl(home.path())
            .args(["du", "--format", "json", "--root"])
            .arg(&root)
            .output()
            .unwrap(),
    );
    check_registry(&v);
    assert_eq!(v["unreferenced"].as_u64(), Some(orphan.len() as u64));
    assert_eq!(v["untaggedOnly"].as_u64(), Some(0));

    // A table for people on request.
    let out = regctl(home.path())
        .args(["du", "--format", "table", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("REPOSITORY"), "{text}");
    assert!(text.contains("1.2 KiB referenced by nothing"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_keep_two_keeps_the_two_newest() {
    let serve = Serve::start(&[]);
    let addr = serve.addr().to_owned();
    // Five tags created on known days, pushed in an order unlike their age.
    let days = [("v3", 3), ("v1", 1), ("v5", 5), ("v2", 2), ("v4", 4)];
    let mut images = Vec::new();
    for (tag, day) in days {
        let img = TestImage::oci(&format!("prune-{tag}"), 1, 300)
            .with_created(&format!("2026-03-0{day}T10:00:00Z"));
        push_image(&addr, "app", tag, &img).await;
        images.push((tag, img));
    }
    // A kept alias of v1's manifest: v1's tag goes, its manifest stays.
    push_image(&addr, "app", "stable", &images[1].1).await;
    // A tag the policy must never touch.
    let latest = TestImage::oci("prune-latest", 1, 300).with_created("2020-01-01T00:00:00Z");
    push_image(&addr, "app", "latest", &latest).await;
    let home = tempfile::tempdir().unwrap();

    let dry = json_of(
        regctl(home.path())
            .args([
                "prune",
                &format!("{addr}/app"),
                "--keep",
                "2",
                "--match",
                "^v",
            ])
            .args(["--dry-run", "--format", "json"])
            .output()
            .unwrap(),
    );
    let names = |key: &str| -> Vec<String> {
        let mut v: Vec<String> = dry[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["tag"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("delete"), ["v1", "v2", "v3"]);
    assert_eq!(names("keep"), ["latest", "stable", "v4", "v5"]);
    assert_eq!(dry["manifests"].as_array().unwrap().len(), 2, "v2 and v3");

    // Not on a terminal and no --yes: refused.
    let refused = regctl(home.path())
        .args([
            "prune",
            &format!("{addr}/app"),
            "--keep",
            "2",
            "--match",
            "^v",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(5));

    let out = regctl(home.path())
        .args([
            "prune",
            &format!("{addr}/app"),
            "--keep",
            "2",
            "--match",
            "^v",
            "--yes",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("deleted 3 tags and 2 manifests"), "{text}");
    assert!(
        text.contains("regctl gc"),
        "says how to reclaim space: {text}"
    );

    let (_, _, _, body) = get(&addr, "/v2/app/tags/list", "application/json").await;
    let tags: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        tags["tags"],
        serde_json::json!(["latest", "stable", "v4", "v5"])
    );
    let (status, ..) = get(
        &addr,
        &format!("/v2/app/manifests/{}", images[1].1.digest),
        OCI_MANIFEST,
    )
    .await;
    assert_eq!(status, 200, "v1's manifest is still used by `stable`");
    let (status, ..) = get(
        &addr,
        &format!("/v2/app/manifests/{}", images[0].1.digest),
        OCI_MANIFEST,
    )
    .await;
    assert_eq!(status, 404, "v3's manifest went with its tag");

    // --older-than: relative to now, everything from 2026-03 is old enough.
    let v = json_of(
        regctl(home.path())
            .args(["prune", &format!("{addr}/app"), "--older-than", "1000000d"])
            .args(["--dry-run", "--format", "json"])
            .output()
            .unwrap(),
    );
    assert!(
        v["delete"].as_array().unwrap().is_empty(),
        "nothing is that old: {v}"
    );

    // No policy: a usage error.
    let out = regctl(home.path())
        .args(["prune", &format!("{addr}/app")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
