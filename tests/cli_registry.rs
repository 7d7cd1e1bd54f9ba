//! The CLI against real registries on loopback: the distribution registry
//! (`docker-registry`, registry:2) and, once it runs, `regctl serve`.
//! Covers the traps of scripting `/v2/` by hand (see each test).

mod common;

mod support {
    //! What the shared harness does not provide: a docker-registry with
    //! htpasswd auth, fixtures with an entrypoint, and the isolated binary.
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    use regctl::types::Digest;

    use super::common::push::{push_blob, push_manifest};

    pub struct Registry {
        child: Child,
        addr: String,
        _dir: tempfile::TempDir,
    }

    impl Drop for Registry {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Registry {
        pub fn addr(&self) -> &str {
            &self.addr
        }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// docker-registry with htpasswd auth (one `user:bcrypt` line), or
    /// `None` (skip) when absent and `CI` is unset.
    pub fn docker_registry_htpasswd(line: &str) -> Option<Registry> {
        if !super::common::require_peer("docker-registry") {
            return None;
        }
        // Ports picked by binding :0 can race with parallel tests: retry
        // with another port when the registry exits instead of serving.
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let f = dir.path().join("htpasswd");
            std::fs::write(&f, format!("{line}\n")).unwrap();
            let cfg = format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                dir.path().join("data").display(),
                f.display()
            );
            let cfg_path = dir.path().join("config.yml");
            std::fs::write(&cfg_path, cfg).unwrap();
            let child = Command::new("docker-registry")
                .arg("serve")
                .arg(&cfg_path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut reg = Registry {
                child,
                addr: format!("127.0.0.1:{port}"),
                _dir: dir,
            };
            for _ in 0..400 {
                if reg.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                if std::net::TcpStream::connect(&reg.addr).is_ok() {
                    std::thread::sleep(Duration::from_millis(50));
                    if reg.child.try_wait().ok().flatten().is_none() {
                        return Some(reg);
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        panic!("docker-registry did not start");
    }

    pub async fn put_manifest(addr: &str, repo: &str, tag: &str, media_type: &str, m: &[u8]) {
        push_manifest(addr, repo, tag, media_type, m).await;
    }

    async fn blob(addr: &str, repo: &str, data: &[u8]) -> Digest {
        push_blob(addr, repo, data).await;
        Digest::sha256_of(data)
    }

    pub fn http() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    pub struct Pushed {
        pub digest: Digest,
        pub manifest: Vec<u8>,
    }

    /// Pushes an image (`oci` or Docker schema2) made from `seed`.
    pub async fn push_image(addr: &str, repo: &str, tag: &str, seed: &str, oci: bool) -> Pushed {
        push_platform_image(addr, repo, tag, seed, oci, "linux", "amd64", None).await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn push_platform_image(
        addr: &str,
        repo: &str,
        tag: &str,
        seed: &str,
        oci: bool,
        os: &str,
        arch: &str,
        variant: Option<&str>,
    ) -> Pushed {
        let config = serde_json::json!({
            "architecture": arch, "os": os, "variant": variant,
            "created": "2024-01-02T03:04:05Z",
            "config": {"Env": [format!("SEED={seed}")], "Entrypoint": ["/bin/sh"], "Cmd": ["-c", "true"],
                       "Labels": {"org.example.seed": seed}},
            "rootfs": {"type": "layers", "diff_ids": []}
        })
        .to_string()
        .into_bytes();
        let layer1 = format!("layer one {seed}").repeat(50).into_bytes();
        let layer2 = format!("layer two {seed}").repeat(70).into_bytes();
        let cd = blob(addr, repo, &config).await;
        let l1 = blob(addr, repo, &layer1).await;
        let l2 = blob(addr, repo, &layer2).await;
        let (mt, cmt, lmt) = if oci {
            (
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.oci.image.config.v1+json",
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        } else {
            (
                "application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            )
        };
        // Pretty-printed on purpose: re-encoding would change the digest.
        let manifest = serde_json::to_vec_pretty(&serde_json::json!({
            "schemaVersion": 2, "mediaType": mt,
            "config": {"mediaType": cmt, "digest": cd.to_string(), "size": config.len()},
            "layers": [
                {"mediaType": lmt, "digest": l1.to_string(), "size": layer1.len()},
                {"mediaType": lmt, "digest": l2.to_string(), "size": layer2.len()}
            ]
        }))
        .unwrap();
        put_manifest(addr, repo, tag, mt, &manifest).await;
        Pushed {
            digest: Digest::sha256_of(&manifest),
            manifest,
        }
    }

    /// Pushes an OCI index of two OCI images (linux/amd64, linux/arm64/v8).
    pub async fn push_index(
        addr: &str,
        repo: &str,
        tag: &str,
        seed: &str,
    ) -> (Pushed, Vec<Pushed>) {
        let amd = push_platform_image(
            addr,
            repo,
            &format!("{tag}-amd64"),
            &format!("{seed}a"),
            true,
            "linux",
            "amd64",
            None,
        )
        .await;
        let arm = push_platform_image(
            addr,
            repo,
            &format!("{tag}-arm64"),
            &format!("{seed}b"),
            true,
            "linux",
            "arm64",
            Some("v8"),
        )
        .await;
        let mt = "application/vnd.oci.image.manifest.v1+json";
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": mt, "digest": amd.digest.to_string(), "size": amd.manifest.len(),
                 "platform": {"os": "linux", "architecture": "amd64"}},
                {"mediaType": mt, "digest": arm.digest.to_string(), "size": arm.manifest.len(),
                 "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
            ]
        }))
        .unwrap();
        put_manifest(
            addr,
            repo,
            tag,
            "application/vnd.oci.image.index.v1+json",
            &index,
        )
        .await;
        (
            Pushed {
                digest: Digest::sha256_of(&index),
                manifest: index,
            },
            vec![amd, arm],
        )
    }

    pub fn docker_config_path(home: &Path) -> PathBuf {
        home.join(".docker").join("config.json")
    }
}

use std::path::Path;
use std::process::Command;

use common::regctl;
use regctl::types::Digest;
use support::{Pushed, push_image, push_index};

/// Output of a finished command.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn ran(cmd: &mut Command) -> Ran {
    let out = cmd.output().unwrap();
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(home: &Path, args: &[&str]) -> String {
    let r = ran(regctl(home).args(args));
    assert_eq!(r.code, Some(0), "regctl {args:?} failed: {}", r.stderr);
    r.stdout
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_owned).collect()
}

/// Registries to run a scenario against: docker-registry and regctl serve.
enum Peer {
    Dist(common::DistRegistry),
    Serve(common::Serve),
}

impl Peer {
    fn addr(&self) -> &str {
        match self {
            Peer::Dist(r) => r.addr(),
            Peer::Serve(s) => s.addr(),
        }
    }

    fn name(&self) -> &str {
        match self {
            Peer::Dist(_) => "docker-registry",
            Peer::Serve(_) => "regctl serve",
        }
    }
}

/// Both peers with deletion enabled (those available).
fn peers() -> Vec<Peer> {
    let mut v = Vec::new();
    if let Some(r) = common::DistRegistry::start(true) {
        v.push(Peer::Dist(r));
    }
    v.push(Peer::Serve(common::Serve::start(&[])));
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_and_tags_follow_every_page() {
    for peer in peers() {
        let addr = peer.addr();
        let mut repos: Vec<String> = (0..5).map(|i| format!("pages/repo{i}")).collect();
        for r in &repos {
            push_image(addr, r, "v1", r, true).await;
        }
        let tags: Vec<String> = (0..7).map(|i| format!("t{i}")).collect();
        for t in &tags {
            push_image(addr, "pages/repo0", t, t, false).await;
        }
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        repos.sort();
        let got = lines(&ok(
            h,
            &["ls", addr, "--page-size", "2", "--format", "plain"],
        ));
        assert_eq!(got, repos, "{}", peer.name());
        let got = lines(&ok(h, &["ls", addr, "--page-size", "2", "--limit", "3"]));
        assert_eq!(got, repos[..3].to_vec(), "{}", peer.name());
        let mut want = tags.clone();
        want.push("v1".into());
        want.sort();
        let mut got = lines(&ok(
            h,
            &["-r", addr, "tags", "pages/repo0", "--page-size", "2"],
        ));
        got.sort();
        assert_eq!(got, want, "{}", peer.name());
        // JSON shapes.
        let v: serde_json::Value = serde_json::from_str(&ok(
            h,
            &["ls", addr, "--page-size", "3", "--format", "json"],
        ))
        .unwrap();
        assert_eq!(v["registry"], addr);
        assert_eq!(v["repositories"].as_array().unwrap().len(), 5);
        let v: serde_json::Value = serde_json::from_str(&ok(
            h,
            &["tags", &format!("{addr}/pages/repo1"), "--format", "json"],
        ))
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"repository": format!("{addr}/pages/repo1"), "tags": ["v1"]})
        );
        // Default registry from the environment, the table format.
        let t = ran(regctl(h)
            .env("REGCTL_REGISTRY", addr)
            .args(["ls", "--format", "table"]));
        assert_eq!(t.code, Some(0), "{}", t.stderr);
        assert_eq!(t.stdout.lines().next().map(str::trim), Some("REPOSITORY"));
        assert_eq!(t.stdout.lines().count(), 6);
    }
}

/// Trap: HEAD without `Accept` reports another digest (or none) for a
/// schema2 manifest, and an OCI manifest is 404 to a Docker-only Accept;
/// `regctl digest` reports the sha256 of the stored bytes for all three kinds.
#[tokio::test(flavor = "multi_thread")]
async fn digest_is_the_hash_of_the_stored_manifest() {
    for peer in peers() {
        let addr = peer.addr();
        let docker = push_image(addr, "kinds", "docker", "d", false).await;
        let oci = push_image(addr, "kinds", "oci", "o", true).await;
        let (index, children) = push_index(addr, "kinds", "index", "i").await;
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        for (tag, p) in [("docker", &docker), ("oci", &oci), ("index", &index)] {
            let r = format!("{addr}/kinds:{tag}");
            assert_eq!(
                ok(h, &["digest", &r]).trim(),
                p.digest.to_string(),
                "{} {tag}",
                peer.name()
            );
            assert_eq!(p.digest, Digest::sha256_of(&p.manifest));
            // --raw: the exact bytes.
            let raw = regctl(h).args(["inspect", "--raw", &r]).output().unwrap();
            assert_eq!(raw.stdout, p.manifest, "{} {tag}", peer.name());
            // By digest: fetched and verified.
            let by_digest = format!("{addr}/kinds@{}", p.digest);
            assert_eq!(ok(h, &["digest", &by_digest]).trim(), p.digest.to_string());
        }
        // A digest the repository doesn't have: not found, exit 3.
        let missing = Digest::sha256_of(b"missing");
        let r = ran(regctl(h).args(["digest", &format!("{addr}/kinds@{missing}")]));
        assert_eq!(r.code, Some(3), "{}", r.stderr);
        assert!(r.stderr.contains("MANIFEST_UNKNOWN"), "{}", r.stderr);
        // The traps are real on registry:2 (what a naive client sees).
        if let Peer::Dist(_) = peer {
            let c = support::http();
            let head = c
                .head(format!("http://{addr}/v2/kinds/manifests/docker"))
                .send()
                .await
                .unwrap();
            let naive = head
                .headers()
                .get("docker-content-digest")
                .map(|v| v.to_str().unwrap().to_owned());
            assert_ne!(naive.as_deref(), Some(docker.digest.to_string().as_str()));
            let get = c
                .get(format!("http://{addr}/v2/kinds/manifests/oci"))
                .header(
                    "Accept",
                    "application/vnd.docker.distribution.manifest.v2+json",
                )
                .send()
                .await
                .unwrap();
            assert_eq!(get.status().as_u16(), 404);
        }
        // inspect: the index lists platforms; --platform picks one.
        let v: serde_json::Value = serde_json::from_str(&ok(
            h,
            &[
                "inspect",
                &format!("{addr}/kinds:index"),
                "--format",
                "json",
            ],
        ))
        .unwrap();
        assert_eq!(v["mediaType"], "application/vnd.oci.image.index.v1+json");
        assert_eq!(v["digest"], index.digest.to_string());
        let plats: Vec<&str> = v["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["platform"].as_str().unwrap())
            .collect();
        assert_eq!(plats, ["linux/amd64", "linux/arm64/v8"]);
        assert_eq!(v["platforms"][1]["digest"], children[1].digest.to_string());
        let v: serde_json::Value = serde_json::from_str(&ok(
            h,
            &[
                "inspect",
                &format!("{addr}/kinds:index"),
                "--platform",
                "linux/arm64",
                "--format",
                "json",
            ],
        ))
        .unwrap();
        assert_eq!(v["digest"], children[1].digest.to_string());
        assert_eq!(v["index"]["digest"], index.digest.to_string());
        assert_eq!(v["config"]["architecture"], "arm64");
        assert_eq!(v["config"]["variant"], "v8");
        assert_eq!(v["config"]["labels"]["org.example.seed"], "ib");
        assert_eq!(v["config"]["entrypoint"], serde_json::json!(["/bin/sh"]));
        assert_eq!(v["layers"].as_array().unwrap().len(), 2);
        let total: u64 = v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["size"].as_u64().unwrap())
            .sum();
        assert_eq!(v["totalSize"], total);
        let r = ran(regctl(h).args([
            "inspect",
            &format!("{addr}/kinds:index"),
            "--platform",
            "windows/amd64",
        ]));
        assert_eq!(r.code, Some(2));
        assert!(r.stderr.contains("linux/arm64/v8"), "{}", r.stderr);
        // Text output of an image.
        let text = ok(h, &["inspect", &format!("{addr}/kinds:docker")]);
        assert!(
            text.contains("Entrypoint:  [\"/bin/sh\"]") && text.contains("SEED=d"),
            "{text}"
        );
        assert!(text.contains("Total size:"), "{text}");
    }
}

/// Trap: after deleting every tag, registry:2 lists `"tags": null`.
#[tokio::test(flavor = "multi_thread")]
async fn a_repository_without_tags_lists_none_and_unknown_ones_are_not_found() {
    for peer in peers() {
        let addr = peer.addr();
        push_image(addr, "emptied", "only", "e", true).await;
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        ok(h, &["rm", "--yes", &format!("{addr}/emptied:only")]);
        assert_eq!(
            ok(h, &["tags", &format!("{addr}/emptied")]),
            "",
            "{}",
            peer.name()
        );
        let v: serde_json::Value = serde_json::from_str(&ok(
            h,
            &["tags", &format!("{addr}/emptied"), "--format", "json"],
        ))
        .unwrap();
        assert_eq!(v["tags"], serde_json::json!([]));
        let r = ran(regctl(h).args(["tags", &format!("{addr}/never-pushed")]));
        assert_eq!(r.code, Some(3), "{}: {}", peer.name(), r.stderr);
        assert!(r.stderr.contains("NAME_UNKNOWN"), "{}", r.stderr);
        assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    }
}

/// Trap: `DELETE` by tag is DIGEST_INVALID on registry:2, and deleting a
/// digest removes every tag pointing to it. `rm` names them first.
#[tokio::test(flavor = "multi_thread")]
async fn rm_deletes_by_digest_and_names_every_tag_that_goes() {
    for peer in peers() {
        let addr = peer.addr();
        let shared = push_image(addr, "shared", "a", "s", false).await;
        support::put_manifest(
            addr,
            "shared",
            "b",
            "application/vnd.docker.distribution.manifest.v2+json",
            &shared.manifest,
        )
        .await;
        let keep: Pushed = push_image(addr, "shared", "keep", "k", false).await;
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let r = format!("{addr}/shared:a");
        if let Peer::Dist(_) = peer {
            // The trap: registry:2 refuses DELETE by tag.
            let resp = support::http()
                .delete(format!("http://{addr}/v2/shared/manifests/a"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 400);
            assert!(resp.text().await.unwrap().contains("DIGEST_INVALID"));
        }
        // No terminal, no --yes: refused, nothing deleted.
        let refused = ran(regctl(h).args(["rm", &r]));
        assert_eq!(refused.code, Some(5), "{}", refused.stderr);
        assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
        let dry = ok(h, &["rm", "--dry-run", &r]);
        assert!(
            dry.contains("tags deleted with it: a, b"),
            "{}: {dry}",
            peer.name()
        );
        assert!(dry.contains(&shared.digest.to_string()));
        assert_eq!(lines(&ok(h, &["tags", &format!("{addr}/shared")])).len(), 3);
        // Delete.
        let out = ok(h, &["rm", "--yes", &r]);
        assert!(out.contains("tags deleted with it: a, b"), "{out}");
        assert_eq!(
            lines(&ok(h, &["tags", &format!("{addr}/shared")])),
            vec!["keep"],
            "{}",
            peer.name()
        );
        assert_eq!(
            ok(h, &["digest", &format!("{addr}/shared:keep")]).trim(),
            keep.digest.to_string()
        );
        let gone = ran(regctl(h).args(["digest", &format!("{addr}/shared@{}", shared.digest)]));
        assert_eq!(gone.code, Some(3), "{}", gone.stderr);
        // By digest, too.
        ok(h, &["rm", "-y", &format!("{addr}/shared@{}", keep.digest)]);
        assert_eq!(ok(h, &["tags", &format!("{addr}/shared")]), "");
    }
}

/// `--tag-only` keeps the manifest and its other tags: DELETE by tag where
/// supported, else the throw-away manifest technique (registry:2).
#[tokio::test(flavor = "multi_thread")]
async fn rm_tag_only_keeps_the_manifest_and_other_tags() {
    for peer in peers() {
        let addr = peer.addr();
        let img = push_image(addr, "untag", "old", "u", true).await;
        support::put_manifest(
            addr,
            "untag",
            "new",
            "application/vnd.oci.image.manifest.v1+json",
            &img.manifest,
        )
        .await;
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let out = ok(
            h,
            &["rm", "--tag-only", "--yes", &format!("{addr}/untag:old")],
        );
        assert!(out.contains("removed tag"), "{out}");
        if let Peer::Dist(_) = peer {
            assert!(
                out.contains("throw-away manifest"),
                "registry:2 refuses DELETE by tag: {out}"
            );
        }
        assert_eq!(
            lines(&ok(h, &["tags", &format!("{addr}/untag")])),
            vec!["new"],
            "{}",
            peer.name()
        );
        assert_eq!(
            ok(h, &["digest", &format!("{addr}/untag:new")]).trim(),
            img.digest.to_string()
        );
        assert_eq!(
            ok(h, &["digest", &format!("{addr}/untag@{}", img.digest)]).trim(),
            img.digest.to_string()
        );
        let r = ran(regctl(h).args([
            "rm",
            "--tag-only",
            "-y",
            &format!("{addr}/untag@{}", img.digest),
        ]));
        assert_eq!(r.code, Some(2), "{}", r.stderr);
    }
}

/// Trap: registry:2 has deletion disabled by default (405 UNSUPPORTED).
#[tokio::test(flavor = "multi_thread")]
async fn rm_on_a_registry_with_deletion_disabled_explains_how_to_enable_it() {
    let mut targets = Vec::new();
    if let Some(r) = common::DistRegistry::start(false) {
        targets.push(Peer::Dist(r));
    }
    targets.push(Peer::Serve(common::Serve::start(&["--no-delete"])));
    for peer in targets {
        let addr = peer.addr();
        let img = push_image(addr, "nodelete", "v1", "n", true).await;
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        for args in [
            vec!["rm", "--yes", "REF"],
            vec!["rm", "--yes", "--tag-only", "REF"],
        ] {
            let r_arg = format!("{addr}/nodelete:v1");
            let args: Vec<&str> = args
                .iter()
                .map(|a| if *a == "REF" { r_arg.as_str() } else { a })
                .collect();
            let r = ran(regctl(h).args(&args));
            assert_eq!(r.code, Some(6), "{} {args:?}: {}", peer.name(), r.stderr);
            assert!(
                r.stderr.contains("UNSUPPORTED") || r.stderr.contains("405"),
                "{}",
                r.stderr
            );
            assert!(
                r.stderr.contains("REGISTRY_STORAGE_DELETE_ENABLED=true"),
                "{}",
                r.stderr
            );
            // Nothing changed, the tag was not moved.
            assert_eq!(ok(h, &["digest", &r_arg]).trim(), img.digest.to_string());
            // Not even an orphan manifest was written.
            if let Peer::Dist(reg) = &peer {
                let revisions = reg
                    .root()
                    .join("docker/registry/v2/repositories/nodelete/_manifests/revisions/sha256");
                assert_eq!(std::fs::read_dir(&revisions).unwrap().count(), 1);
            }
        }
    }
}

/// Trap: https against a plain-http registry.
#[tokio::test(flavor = "multi_thread")]
async fn https_against_plain_http_says_so_and_how_to_fix_it() {
    let Some(reg) = common::DistRegistry::start(true) else {
        return;
    };
    let addr = reg.addr();
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("regctl.toml");
    std::fs::write(&cfg, format!("[registries.\"{addr}\"]\ninsecure = false\n")).unwrap();
    let r = ran(regctl(home.path())
        .arg("--config")
        .arg(&cfg)
        .args(["ls", addr]));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("server gave HTTP response to HTTPS client"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("hint:") && r.stderr.contains("--insecure"),
        "{}",
        r.stderr
    );
    // --insecure wins over the file.
    let r = ran(regctl(home.path())
        .arg("--config")
        .arg(&cfg)
        .args(["--insecure", "ls", addr]));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
}

/// login checks against /v2/ before saving; logout removes; the saved
/// credentials are used. docker-registry with htpasswd auth.
#[tokio::test(flavor = "multi_thread")]
async fn login_and_logout_round_trip_with_htpasswd() {
    let hash = bcrypt::hash("open-sesame", 4).unwrap();
    let line = format!("admin:{hash}");
    if let Some(reg) = support::docker_registry_htpasswd(&line) {
        login_round_trip(reg.addr()).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    std::fs::write(&htpasswd, format!("{line}\n")).unwrap();
    let serve = common::Serve::start(&["--htpasswd", htpasswd.to_str().unwrap()]);
    login_round_trip(serve.addr()).await;
}

async fn login_round_trip(addr: &str) {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let cfg = support::docker_config_path(h);
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(&cfg, r#"{"psFormat":"keep-me","auths":{}}"#).unwrap();

    let anon = ran(regctl(h).args(["ls", addr]));
    assert_eq!(anon.code, Some(4), "{}", anon.stderr);
    assert!(
        anon.stderr.contains(&format!("regctl login {addr}")),
        "{}",
        anon.stderr
    );

    let login = |pass: &str| {
        let out = common::output_with_stdin(
            regctl(h).args(["login", addr, "-u", "admin", "--password-stdin"]),
            format!("{pass}\n").as_bytes(),
        );
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = login("wrong");
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("credentials rejected"), "{err}");
    assert!(
        !std::fs::read_to_string(&cfg).unwrap().contains(addr),
        "nothing saved on failure"
    );
    let (code, err) = login("open-sesame");
    assert_eq!(code, Some(0), "{err}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert_eq!(saved["psFormat"], "keep-me");
    assert!(saved["auths"][addr]["auth"].is_string());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    push_authenticated(addr).await;
    assert_eq!(ok(h, &["ls", addr]), "private\n");
    assert!(ok(h, &["logout", addr]).contains("Removed"));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert!(saved["auths"].get(addr).is_none());
    assert_eq!(saved["psFormat"], "keep-me");
    assert_eq!(ran(regctl(h).args(["ls", addr])).code, Some(4));
}

/// Seeds the htpasswd registry through regctl's library client (with the
/// credentials), exercising blob and manifest upload.
async fn push_authenticated(addr: &str) {
    use regctl::client::{Client, ClientOptions, Credential, Secret};
    let c = Client::new(ClientOptions {
        docker_config: None,
        docker_certs_dir: None,
        ..ClientOptions::default()
    })
    .unwrap();
    c.set_credential(
        addr,
        Credential::Basic {
            username: "admin".into(),
            password: Secret::new("open-sesame"),
        },
    );
    let repo = regctl::types::Reference::parse(&format!("{addr}/private"), "x").unwrap();
    let cfg = c
        .blob_put_bytes(&repo, bytes::Bytes::from_static(b"{}"))
        .await
        .unwrap();
    assert_eq!(c.blob_head(&repo, &cfg).await.unwrap(), Some(2));
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{cfg}","size":2}},"layers":[]}}"#
    );
    let d = c
        .manifest_put(
            &repo,
            "v1",
            "application/vnd.oci.image.manifest.v1+json",
            bytes::Bytes::from(m),
        )
        .await
        .unwrap();
    assert_eq!(
        c.resolve_digest(&repo.with_tag("v1").unwrap())
            .await
            .unwrap(),
        d
    );
}

/// A configured mirror serves pulls (`inspect`) first, falling back to the
/// registry; `digest` (what `rm` relies on) always asks the registry itself.
#[tokio::test(flavor = "multi_thread")]
async fn mirrors_serve_pulls_but_never_resolve_digests() {
    let (Some(origin), Some(mirror)) = (
        common::DistRegistry::start(true),
        common::DistRegistry::start(true),
    ) else {
        return;
    };
    let a = push_image(origin.addr(), "mirrored", "v1", "origin", true).await;
    let b = push_image(mirror.addr(), "mirrored", "v1", "mirror", true).await;
    let c = push_image(origin.addr(), "onlyorigin", "v1", "only", false).await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let cfg = h.join("regctl.toml");
    std::fs::write(
        &cfg,
        format!(
            "default_registry = \"{}\"\n[registries.\"{}\"]\nmirror = \"{}\"\n",
            origin.addr(),
            origin.addr(),
            mirror.addr()
        ),
    )
    .unwrap();
    let cfg_s = cfg.to_str().unwrap();
    let v: serde_json::Value = serde_json::from_str(&ok(
        h,
        &[
            "--config",
            cfg_s,
            "inspect",
            "mirrored:v1",
            "--format",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(v["digest"], b.digest.to_string());
    assert_eq!(v["pulledFrom"], mirror.addr());
    assert_eq!(v["reference"], format!("{}/mirrored:v1", origin.addr()));
    let v: serde_json::Value = serde_json::from_str(&ok(
        h,
        &[
            "--config",
            cfg_s,
            "inspect",
            "onlyorigin:v1",
            "--format",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(v["digest"], c.digest.to_string());
    assert!(v.get("pulledFrom").is_none());
    assert_eq!(
        ok(h, &["--config", cfg_s, "digest", "mirrored:v1"]).trim(),
        a.digest.to_string()
    );
    let v: serde_json::Value =
        serde_json::from_str(&ok(h, &["--config", cfg_s, "config", "--format", "json"])).unwrap();
    assert_eq!(v["registries"][origin.addr()]["mirror"], mirror.addr());
}
