//! `regctl rm` and multi-platform images, against registry:2 (deletion
//! enabled) and `regctl serve`: deleting a child of a tagged index is
//! refused (naming the index and its tags) unless `--force`, the plan of an
//! index names its children, and `--platform` picks the child to delete.

mod common;

use std::process::Output;

use common::push::{get, push_index};
use common::{DistRegistry, Serve, TestIndex, regctl};
use regctl::types::media_type::MANIFEST_ACCEPT;

/// Registries with deletion on: registry:2 (when installed) and regctl serve.
enum Peer {
    Dist(DistRegistry),
    Serve(Serve),
}

impl Peer {
    fn addr(&self) -> &str {
        match self {
            Peer::Dist(r) => r.addr(),
            Peer::Serve(s) => s.addr(),
        }
    }
}

fn peers() -> Vec<Peer> {
    let mut v = Vec::new();
    if let Some(r) = DistRegistry::start(true) {
        v.push(Peer::Dist(r));
    }
    v.push(Peer::Serve(Serve::start(&[])));
    v
}

fn run(home: &std::path::Path, args: &[&str]) -> Output {
    regctl(home).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn status(addr: &str, path: &str) -> u16 {
    get(addr, path, MANIFEST_ACCEPT).await.0
}

#[tokio::test(flavor = "multi_thread")]
async fn rm_of_an_index_child_is_refused_naming_the_index_and_its_tags() {
    for peer in peers() {
        let addr = peer.addr();
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let index = TestIndex::new("rm-child", &["linux/amd64", "linux/arm64/v8"]);
        push_index(addr, "multitest", "latest", &index).await;
        push_index(addr, "multitest", "1.0", &index).await;
        let arm = &index.children[1].1;
        let child = format!("{addr}/multitest@{}", arm.digest);

        // The plan says who lists it, and that it is refused.
        let dry = run(h, &["rm", "--dry-run", &child]);
        assert!(dry.status.success(), "{}", text(&dry.stderr));
        let plan = text(&dry.stdout);
        assert!(plan.contains(&index.digest.to_string()), "{plan}");
        assert!(plan.contains("tags: 1.0, latest"), "{plan}");
        assert!(plan.contains("linux/arm64/v8"), "{plan}");

        // Without --force: refused (exit 5), nothing deleted.
        let out = run(h, &["rm", "--yes", &child]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{err}");
        assert!(err.contains(&index.digest.to_string()), "{err}");
        assert!(err.contains("1.0, latest"), "{err}");
        assert!(err.contains("--force"), "{err}");
        let path = format!("/v2/multitest/manifests/{}", arm.digest);
        assert_eq!(status(addr, &path).await, 200, "the child must stay");

        // JSON dry run: the parents, camelCase.
        let out = run(h, &["rm", "--dry-run", "--format", "json", &child]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["digest"], arm.digest.to_string());
        assert_eq!(v["parents"][0]["digest"], index.digest.to_string());
        assert_eq!(
            v["parents"][0]["tags"],
            serde_json::json!(["1.0", "latest"])
        );
        assert_eq!(v["dryRun"], true);

        // --platform picks the same child out of the tag: refused too.
        let out = run(
            h,
            &[
                "rm",
                "--yes",
                "--platform",
                "linux/arm64",
                &format!("{addr}/multitest:latest"),
            ],
        );
        assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
        assert_eq!(status(addr, &path).await, 200);

        // --force deletes it; the index still stands (and now breaks).
        let out = run(h, &["rm", "--yes", "--force", &child]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(status(addr, &path).await, 404);
        assert_eq!(status(addr, "/v2/multitest/manifests/latest").await, 200);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rm_of_an_index_names_its_children_and_a_child_of_an_untagged_index_goes() {
    for peer in peers() {
        let addr = peer.addr();
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let index = TestIndex::new("rm-index", &["linux/amd64", "linux/arm/v7"]);
        push_index(addr, "multi", "v1", &index).await;
        let r = format!("{addr}/multi:v1");
        let dry = run(h, &["rm", "--dry-run", &r]);
        let plan = text(&dry.stdout);
        assert!(dry.status.success(), "{}", text(&dry.stderr));
        assert!(plan.contains("index of 2 manifest(s)"), "{plan}");
        for (platform, img) in &index.children {
            assert!(
                plan.contains(&format!("{platform} {}", img.digest)),
                "{plan}"
            );
        }
        let out = run(h, &["rm", "--yes", "--format", "json", &r]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["deleted"], true);
        assert_eq!(v["children"].as_array().map(Vec::len), Some(2));
        assert_eq!(v["tags"], serde_json::json!(["v1"]));
        // The index is gone, so its children are nobody's: no refusal.
        let child = format!("{addr}/multi@{}", index.children[0].1.digest);
        let out = run(h, &["rm", "--yes", &child]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
}

/// Two `rm` of the same image at once: one deletes, the other finds it
/// gone (not found) or deletes nothing more; neither leaves the repository
/// half-changed, and the other image's tags stay.
#[tokio::test(flavor = "multi_thread")]
async fn two_rm_at_once_of_one_index() {
    for peer in peers() {
        let addr = peer.addr();
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_owned();
        let index = TestIndex::new("rm-race", &["linux/amd64", "linux/arm64"]);
        let other = TestIndex::new("rm-race-other", &["linux/amd64"]);
        push_index(addr, "race", "a", &index).await;
        push_index(addr, "race", "keep", &other).await;
        let r = format!("{addr}/race@{}", index.digest);
        let spawn = || {
            regctl(&h)
                .args(["rm", "--yes", &r])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let codes = [a.status.code(), b.status.code()];
        assert!(
            codes.contains(&Some(0)),
            "one must delete: {codes:?} {} {}",
            text(&a.stderr),
            text(&b.stderr)
        );
        for o in [&a, &b] {
            assert!(
                matches!(o.status.code(), Some(0 | 3)),
                "the loser finds it gone: {}",
                text(&o.stderr)
            );
        }
        assert_eq!(
            status(addr, &format!("/v2/race/manifests/{}", index.digest)).await,
            404
        );
        assert_eq!(status(addr, "/v2/race/manifests/keep").await, 200);
    }
}
