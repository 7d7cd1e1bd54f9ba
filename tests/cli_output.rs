//! One output style: every command's `--format json` uses camelCase keys,
//! `--format plain` is tab-separated lines (never the table), and `tags`
//! is sorted (semver by default) and filtered as asked.

mod common;

use std::process::Output;

use common::push::push_image;
use common::{Serve, TestImage, TestIndex, json_of, push::push_index, regctl, run_ok};
use serde_json::Value;

/// Keys whose values are maps keyed by data (label names, registry hosts):
/// their keys are not checked, their values are.
const DATA_MAPS: &[&str] = &["labels", "registries"];

fn is_camel_case(key: &str) -> bool {
    key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Every key that is not camelCase, with its path.
fn bad_keys(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let here = format!("{path}.{k}");
                if !is_camel_case(k) {
                    out.push(here.clone());
                }
                if DATA_MAPS.contains(&k.as_str()) {
                    if let Value::Object(entries) = child {
                        for (name, value) in entries {
                            bad_keys(value, &format!("{here}[{name}]"), out);
                        }
                    }
                } else {
                    bad_keys(child, &here, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                bad_keys(item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn text(out: Output) -> String {
    run_ok(out)
}

async fn registry() -> (Serve, TestImage) {
    registry_at(None).await
}

async fn registry_at(root: Option<&std::path::Path>) -> (Serve, TestImage) {
    let serve = match root {
        Some(root) => Serve::start_with_root(root, &[]),
        None => Serve::start(&[]),
    };
    let addr = serve.addr().to_owned();
    let img = TestImage::oci("output", 2, 256);
    for tag in [
        "1.10.0",
        "1.2.0",
        "1.9.0-rc1",
        "1.9.0",
        "latest",
        "pr-10",
        "pr-9",
    ] {
        push_image(&addr, "app", tag, &img).await;
    }
    push_image(&addr, "other", "v1", &TestImage::oci("other", 1, 128)).await;
    let idx = TestIndex::new("multi", &["linux/amd64", "linux/arm64/v8"]);
    push_index(&addr, "multi", "latest", &idx).await;
    (serve, img)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_json_output_uses_camel_case_keys() {
    let storage = tempfile::tempdir().unwrap();
    let (serve, _) = registry_at(Some(&storage.path().join("root"))).await;
    let addr = serve.addr().to_owned();
    let home = tempfile::tempdir().unwrap();
    let ca = home.path().join("ca.pem");
    std::fs::write(&ca, "not read by `config`").unwrap();
    let cfg_dir = home.path().join("xdg").join("regctl");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    std::fs::write(
        cfg_dir.join("config.toml"),
        format!(
            "default_registry = \"{addr}\"\n[registries.\"r.example:443\"]\ninsecure = true\nca_cert = \"{}\"\nmirror = \"m.example\"\n",
            ca.display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| -> Value {
        let mut full = args.to_vec();
        full.extend(["--format", "json"]);
        json_of(regctl(home.path()).args(&full).output().unwrap())
    };
    let mut outputs: Vec<(String, Value)> = Vec::new();
    for args in [
        &["ls"][..],
        &["tags", "app"],
        &["inspect", "app:latest"],
        &["inspect", "multi:latest"],
        &["inspect", "multi:latest", "--platform", "linux/arm64/v8"],
        &["config"],
        &["du"],
        &["du", "app"],
        &["prune", "app", "--keep", "2", "--dry-run"],
        &["gc", &addr, "--dry-run"],
        &["cp", "app:latest", "copy:latest"],
    ] {
        outputs.push((args.join(" "), run(args)));
    }
    // A real prune and its summary.
    outputs.push((
        "prune --yes".into(),
        run(&["prune", "other", "--keep", "0", "--yes"]),
    ));
    assert_eq!(
        outputs[5].1["registries"]["r.example:443"]["caCert"],
        ca.display().to_string(),
        "config: {}",
        outputs[5].1
    );
    // The storage root directly, once the server is gone.
    let root = serve.root().to_owned();
    drop(serve);
    let root_arg = root.to_string_lossy().into_owned();
    outputs.push(("du --root".into(), run(&["du", "--root", &root_arg])));
    outputs.push((
        "gc --root".into(),
        run(&["gc", "--root", &root_arg, "--delete-untagged", "--dry-run"]),
    ));
    assert!(outputs.last().unwrap().1["summary"]["dryRun"] == true);
    let mut bad = Vec::new();
    for (command, v) in &outputs {
        bad_keys(v, command, &mut bad);
    }
    assert!(bad.is_empty(), "keys not in camelCase: {bad:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_are_sorted_and_filtered() {
    let (serve, _) = registry().await;
    let addr = serve.addr().to_owned();
    let home = tempfile::tempdir().unwrap();
    let tags = |extra: &[&str]| -> Vec<String> {
        let out = regctl(home.path())
            .args(["-r", &addr, "tags", "app"])
            .args(extra)
            .output()
            .unwrap();
        text(out).lines().map(str::to_owned).collect()
    };
    // The server lists them in byte order; semver puts versions in order,
    // pre-releases before their release, numbers in names compared as numbers.
    assert_eq!(
        tags(&["--sort", "none"]),
        [
            "1.10.0",
            "1.2.0",
            "1.9.0",
            "1.9.0-rc1",
            "latest",
            "pr-10",
            "pr-9"
        ]
    );
    assert_eq!(
        tags(&[]),
        [
            "1.2.0",
            "1.9.0-rc1",
            "1.9.0",
            "1.10.0",
            "latest",
            "pr-9",
            "pr-10"
        ]
    );
    assert_eq!(
        tags(&["--sort", "alpha"]),
        [
            "1.10.0",
            "1.2.0",
            "1.9.0",
            "1.9.0-rc1",
            "latest",
            "pr-10",
            "pr-9"
        ]
    );
    assert_eq!(tags(&["--include", "^pr-"]), ["pr-9", "pr-10"]);
    assert_eq!(
        tags(&["--exclude", "^pr-|latest"]),
        ["1.2.0", "1.9.0-rc1", "1.9.0", "1.10.0"]
    );
    assert_eq!(
        tags(&["--include", "^[0-9.]+$", "--reverse", "--limit", "2"]),
        ["1.10.0", "1.9.0"]
    );
    assert_eq!(tags(&["--limit", "0"]), Vec::<String>::new());
    let v = json_of(
        regctl(home.path())
            .args([
                "-r", &addr, "tags", "app", "--limit", "3", "--format", "json",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(
        v["tags"],
        serde_json::json!(["1.2.0", "1.9.0-rc1", "1.9.0"])
    );
    // A bad expression is a usage error that names the option.
    let out = regctl(home.path())
        .args(["-r", &addr, "tags", "app", "--include", "("])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--include"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// Lines of `key<TAB>…`, none of them a table's padding or header.
fn assert_plain(output: &str, first_keys: &[&str]) {
    assert!(!output.is_empty());
    for line in output.lines() {
        assert!(line.contains('\t'), "not a plain line: {line:?}\n{output}");
        assert!(!line.contains("  "), "table padding: {line:?}");
    }
    let keys: Vec<&str> = output
        .lines()
        .filter_map(|l| l.split('\t').next())
        .collect();
    for k in first_keys {
        assert!(keys.contains(k), "no {k} line in:\n{output}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_is_lines_for_scripts_and_table_is_for_people() {
    let (serve, img) = registry().await;
    let addr = serve.addr().to_owned();
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| -> String {
        text(
            regctl(home.path())
                .args(["-r", &addr])
                .args(args)
                .output()
                .unwrap(),
        )
    };

    let plain = run(&["inspect", "app:latest", "--format", "plain"]);
    assert_plain(
        &plain,
        &["reference", "mediaType", "digest", "layer", "totalSize"],
    );
    let total: u64 = img.layers.iter().map(|l| l.len() as u64).sum();
    assert!(
        plain.contains(&format!("totalSize\t{total}\n")),
        "raw bytes, not a human size: {plain}"
    );
    assert!(plain.contains(&format!("digest\t{}\n", img.digest)));
    let table = run(&["inspect", "app:latest", "--format", "table"]);
    assert!(table.contains("Total size:"), "{table}");
    assert!(table.contains("KiB)") || table.contains(" B)"), "{table}");
    // Piped without --format, a report stays the text for people.
    assert_eq!(run(&["inspect", "app:latest"]), table);
    let index = run(&["inspect", "multi:latest", "--format", "plain"]);
    assert_plain(&index, &["platform"]);
    assert!(
        index.contains("platform\tlinux/arm64/v8\tsha256:"),
        "{index}"
    );

    let plain = run(&["config", "--format", "plain"]);
    assert_plain(&plain, &["defaultRegistry", "configFile", "insecure"]);
    assert!(
        plain.contains(&format!("defaultRegistry\t{addr}\tflag --registry\n")),
        "{plain}"
    );
    let table = run(&["config", "--format", "table"]);
    assert!(table.starts_with("SETTING"), "{table}");

    let plain = run(&[
        "prune",
        "app",
        "--keep",
        "5",
        "--format",
        "plain",
        "--dry-run",
    ]);
    assert_plain(&plain, &["keep", "delete"]);
    assert_eq!(
        plain.lines().filter(|l| l.starts_with("delete\t")).count(),
        2
    );
    assert!(
        plain.contains("\tnewest\n") || plain.contains("\tselected\n"),
        "{plain}"
    );
    let table = run(&["prune", "app", "--keep", "5", "--dry-run"]);
    assert!(table.contains("keep 5 tags:"), "{table}");
    assert!(table.contains("delete 2 tags:"), "{table}");

    let plain = run(&["gc", &addr, "--dry-run", "--format", "plain"]);
    assert_plain(&plain, &["dryRun", "blobsRemoved", "bytesFreed", "seconds"]);
    let table = run(&["gc", &addr, "--dry-run"]);
    assert!(table.starts_with("scanned 3 repositories"), "{table}");
    assert!(table.contains("gc: would remove 0 manifests"), "{table}");

    // Listings: a table when asked, plain lines when piped.
    let table = run(&["tags", "app", "--format", "table"]);
    assert!(table.starts_with("TAG\n"), "{table}");
    let plain = run(&["tags", "app"]);
    assert!(!plain.contains("TAG"), "{plain}");

    // One repository is "1 repository".
    let one = Serve::start(&[]);
    push_image(one.addr(), "solo", "1", &TestImage::oci("solo", 1, 64)).await;
    let du = run(&["du", one.addr(), "--format", "table"]);
    assert!(du.contains(" in 1 repository (each blob"), "{du}");
}

#[test]
fn helpers_agree_on_keys() {
    assert!(is_camel_case("totalSize"));
    assert!(!is_camel_case("total_size"));
    assert!(!is_camel_case("TotalSize"));
    let mut bad = Vec::new();
    bad_keys(
        &serde_json::json!({"a": {"labels": {"org.x_y": "1"}, "b_c": [{"dry_run": 1}]}}),
        "",
        &mut bad,
    );
    assert_eq!(bad, [".a.b_c", ".a.b_c[0].dry_run"]);
}
