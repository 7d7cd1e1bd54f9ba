//! `--platform` on `cp`, `digest` and `du`, against registry:2 and `regctl
//! serve`: an index answers with its matching child, a single image with
//! itself when its config says it is for that platform, and anything else
//! is a usage error (exit 2) naming the platforms that exist — never a
//! silent copy of another platform.

mod common;

use std::process::Output;

use common::push::{get, push_image, push_index};
use common::{DistRegistry, Serve, TestImage, TestIndex, regctl};
use regctl::types::media_type::MANIFEST_ACCEPT;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(home: &std::path::Path, args: &[&str]) -> Output {
    regctl(home).args(args).output().unwrap()
}

fn addrs(dist: &Option<DistRegistry>, serve: &Serve) -> Vec<String> {
    let mut v: Vec<String> = dist.iter().map(|d| d.addr().to_owned()).collect();
    v.push(serve.addr().to_owned());
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn cp_of_a_single_image_for_another_platform_fails_and_copies_nothing() {
    let dist = DistRegistry::start(true);
    let serve = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // TestImage configs say linux/amd64.
    let img = TestImage::oci("platform-single", 1, 256);
    for addr in addrs(&dist, &serve) {
        push_image(&addr, "single", "v1", &img).await;
        let src = format!("{addr}/single:v1");
        let dst = format!("{addr}/copied:v1");
        let out = run(h, &["cp", &src, &dst, "--platform", "linux/arm64"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("has no image for platform linux/arm64"),
            "{err}"
        );
        assert!(err.contains("it has: linux/amd64"), "{err}");
        let (status, ..) = get(&addr, "/v2/copied/manifests/v1", MANIFEST_ACCEPT).await;
        assert_eq!(status, 404, "nothing copied");
        // The platform it is for copies as before.
        let out = run(h, &["cp", &src, &dst, "--platform", "linux/amd64"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let (_, _, digest, _) = get(&addr, "/v2/copied/manifests/v1", MANIFEST_ACCEPT).await;
        assert_eq!(digest, img.digest.to_string());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_takes_a_platform() {
    let dist = DistRegistry::start(true);
    let serve = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let index = TestIndex::new("platform-digest", &["linux/amd64", "linux/arm64/v8"]);
    let img = TestImage::oci("platform-digest-single", 1, 64);
    for addr in addrs(&dist, &serve) {
        push_index(&addr, "multi", "latest", &index).await;
        push_image(&addr, "single", "v1", &img).await;
        let multi = format!("{addr}/multi:latest");
        let out = run(h, &["digest", &multi, "--platform", "linux/arm64"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout).trim(),
            index.children[1].1.digest.to_string()
        );
        let out = run(h, &["digest", &multi]);
        assert_eq!(text(&out.stdout).trim(), index.digest.to_string());
        let out = run(
            h,
            &[
                "digest",
                &multi,
                "--platform",
                "linux/arm64",
                "--format",
                "json",
            ],
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["digest"], index.children[1].1.digest.to_string());
        assert_eq!(v["platform"], "linux/arm64");
        assert_eq!(v["reference"], multi);

        let out = run(h, &["digest", &multi, "--platform", "windows/amd64"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("linux/amd64, linux/arm64/v8"), "{err}");

        let single = format!("{addr}/single:v1");
        let out = run(h, &["digest", &single, "--platform", "linux/amd64"]);
        assert_eq!(text(&out.stdout).trim(), img.digest.to_string());
        let out = run(h, &["digest", &single, "--platform", "linux/arm64"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("it has: linux/amd64"), "{err}");

        // inspect makes the same choice (it used to show the amd64 image).
        let out = run(h, &["inspect", &single, "--platform", "linux/arm64"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("it has: linux/amd64"), "{err}");
        let out = run(
            h,
            &[
                "inspect",
                &single,
                "--platform",
                "linux/amd64",
                "--format",
                "json",
            ],
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["digest"], img.digest.to_string());
        let out = run(
            h,
            &[
                "inspect",
                &multi,
                "--platform",
                "linux/arm64",
                "--format",
                "json",
            ],
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["digest"], index.children[1].1.digest.to_string());
        assert_eq!(v["index"]["digest"], index.digest.to_string());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn du_counts_one_platform() {
    let serve = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let addr = serve.addr();
    let index = TestIndex::new("platform-du", &["linux/amd64", "linux/arm64"]);
    let img = TestImage::oci("platform-du-single", 1, 64);
    push_index(addr, "mixed", "multi", &index).await;
    push_image(addr, "mixed", "single", &img).await;
    let repo = format!("{addr}/mixed");
    let json = |args: &[&str]| -> serde_json::Value {
        let out = run(h, args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let all = json(&["du", &repo, "--format", "json"]);
    let arm = json(&["du", &repo, "--format", "json", "--platform", "linux/arm64"]);
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&all).len(), 2);
    assert_eq!(names(&arm), vec!["multi"], "the amd64-only tag is left out");
    let arm_child = &index.children[1].1;
    let expected = index.manifest.len() as u64 + arm_child.stored_size();
    assert_eq!(arm["tags"][0]["total"], expected, "index + the arm64 image");
    let out = run(h, &["du", &repo, "--platform", "windows/amd64"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("linux/amd64, linux/arm64"), "{err}");

    // Straight from the storage, the same figures.
    let root = json(&[
        "du",
        "--root",
        serve.root().to_str().unwrap(),
        "mixed",
        "--format",
        "json",
        "--platform",
        "linux/arm64",
    ]);
    assert_eq!(root["tags"][0]["total"], expected);
}
