//! Scheduled retention, `regctl serve --retention FILE` (issue 18), with
//! images of known creation times.

mod common;

use std::time::{Duration, Instant};

use common::push::{http, push_image};
use common::{Serve, TestImage};

const RULES: &str = r#"
[[rule]]
repositories = ["app/**"]
keep = 2
exclude = "^latest$"
"#;

/// Four versions created a day apart, and `latest` on the newest; one
/// repository no rule names.
async fn seed(addr: &str) -> Vec<TestImage> {
    let mut images = Vec::new();
    for (i, day) in ["2021-01-01", "2021-01-02", "2021-01-03", "2021-01-04"]
        .iter()
        .enumerate()
    {
        let img = TestImage::oci(&format!("retention-{i}"), 1, 256)
            .with_created(&format!("{day}T00:00:00Z"));
        push_image(addr, "app/web", &format!("v{}", i + 1), &img).await;
        images.push(img);
    }
    push_image(addr, "app/web", "latest", &images[3]).await;
    push_image(addr, "other/x", "v1", &images[0]).await;
    images
}

async fn tags(addr: &str, repo: &str) -> Vec<String> {
    let r = http()
        .get(format!("http://{addr}/v2/{repo}/tags/list"))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    let mut t: Vec<String> = v["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    t.sort();
    t
}

async fn metric(addr: &str, name: &str) -> f64 {
    let text = http()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(-1.0)
}

fn rules_file(dir: &std::path::Path, text: &str) -> String {
    let p = dir.join("retention.toml");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn keeps_the_newest_and_deletes_the_rest_on_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(dir.path(), RULES);
    let serve = Serve::start(&["--retention", &rules, "--retention-interval", "300ms"]);
    let addr = serve.addr().to_owned();
    let images = seed(&addr).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while tags(&addr, "app/web").await != ["latest", "v3", "v4"] {
        assert!(
            Instant::now() < deadline,
            "retention did not run: {:?}",
            tags(&addr, "app/web").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The old manifests are gone, the repository no rule names is not.
    for img in &images[..2] {
        let r = http()
            .get(format!("http://{addr}/v2/app/web/manifests/{}", img.digest))
            .header("Accept", img.media_type)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404);
    }
    assert_eq!(tags(&addr, "other/x").await, ["v1"]);
    assert_eq!(
        metric(&addr, "regctl_retention_deleted_tags_total").await,
        2.0
    );
    // Later passes find nothing more to do.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(tags(&addr, "app/web").await, ["latest", "v3", "v4"]);
    assert_eq!(
        metric(&addr, "regctl_retention_deleted_tags_total").await,
        2.0
    );
}

#[tokio::test]
async fn dry_run_only_counts() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(dir.path(), RULES);
    let serve = Serve::start(&[
        "--retention",
        &rules,
        "--retention-interval",
        "300ms",
        "--retention-dry-run",
    ]);
    let addr = serve.addr().to_owned();
    seed(&addr).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric(&addr, "regctl_retention_dry_run_tags_total").await < 2.0 {
        assert!(Instant::now() < deadline, "dry run never counted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        tags(&addr, "app/web").await,
        ["latest", "v1", "v2", "v3", "v4"]
    );
    assert_eq!(
        metric(&addr, "regctl_retention_deleted_tags_total").await,
        0.0
    );
}

#[test]
fn a_bad_rules_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(
        dir.path(),
        "[[rule]]\nrepositories = [\"app/**\"]\nkeep = 1\nexclude = \"(\"\n",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_regctl"))
        .args(["serve", "--port", "0", "--retention", &rules, "--root"])
        .arg(dir.path().join("root"))
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("retention file"), "{stderr}");
    assert!(
        stderr.contains("line 1") && stderr.contains("exclude"),
        "{stderr}"
    );
}
