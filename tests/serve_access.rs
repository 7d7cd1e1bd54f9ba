//! Per-repository access rules, `regctl serve --access FILE` (issue 18):
//! per action and user with raw HTTP (as curl) and skopeo, the catalog
//! filter, mounts, the admin endpoint and reloading on SIGHUP.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::image::Artifact;
use common::push::http;
use common::{Serve, Skopeo, TestImage, write_oci_layout};
use regctl::types::Digest;

const RULES: &str = r#"
[[allow]]
repositories = ["team-a/**", "team-b/**", "pub/**"]
users = ["alice"]
actions = ["pull", "push", "delete"]

[[allow]]
repositories = ["team-a/*"]
users = ["bob"]
actions = ["pull"]

[[allow]]
repositories = ["bob/**"]
users = ["bob"]
actions = ["pull", "push"]

[[allow]]
repositories = ["pub/**"]
users = ["*", "anonymous"]
actions = ["pull"]

[[allow]]
users = ["admin"]
actions = ["gc"]
"#;

struct Setup {
    _dir: tempfile::TempDir,
    access: PathBuf,
    serve: Serve,
}

fn start(rules: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("htpasswd");
    let mut lines = String::new();
    for user in ["alice", "bob", "admin"] {
        let hash = bcrypt::hash(format!("{user}-pw"), 4).unwrap();
        lines.push_str(&format!("{user}:{hash}\n"));
    }
    std::fs::write(&pw, lines).unwrap();
    let access = dir.path().join("access.toml");
    std::fs::write(&access, rules).unwrap();
    let serve = Serve::start_with_root(
        &dir.path().join("root"),
        &[
            "--htpasswd",
            pw.to_str().unwrap(),
            "--access",
            access.to_str().unwrap(),
        ],
    );
    Setup {
        _dir: dir,
        access,
        serve,
    }
}

/// A request as `user` (`None`: no credentials); status and body.
async fn call(
    addr: &str,
    user: Option<&str>,
    method: &str,
    path: &str,
    body: Option<(&str, Vec<u8>)>,
) -> (u16, String, Option<String>) {
    let mut req = http().request(method.parse().unwrap(), format!("http://{addr}{path}"));
    if let Some(u) = user {
        req = req.basic_auth(u, Some(format!("{u}-pw")));
    }
    if let Some((ct, b)) = body {
        req = req.header("Content-Type", ct).body(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, r.text().await.unwrap_or_default(), challenge)
}

/// Pushes an image as `user` through the upload API; the statuses seen.
async fn push_as(addr: &str, user: &str, repo: &str, tag: &str, img: &TestImage) -> u16 {
    for blob in img.blobs() {
        let d = Digest::sha256_of(blob);
        let (s, body, _) = call(
            addr,
            Some(user),
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
            Some(("application/octet-stream", blob.to_vec())),
        )
        .await;
        if s != 201 {
            return s;
        }
        let _ = body;
    }
    call(
        addr,
        Some(user),
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        Some((img.media_type, img.manifest.clone())),
    )
    .await
    .0
}

fn hangup(serve: &Serve) {
    let ok = Command::new("kill")
        .args(["-HUP", &serve.pid().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Waits (bounded) until `check` holds, after a reload.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn actions_per_user_catalog_mounts_and_gc() {
    let s = start(RULES);
    let addr = s.serve.addr().to_owned();
    let img = TestImage::oci("access-a", 1, 1024);
    let secret = TestImage::oci("access-secret", 1, 1024);
    let public = TestImage::oci("access-pub", 1, 1024);
    assert_eq!(push_as(&addr, "alice", "team-a/app", "v1", &img).await, 201);
    assert_eq!(
        push_as(&addr, "alice", "team-b/secret", "v1", &secret).await,
        201
    );
    assert_eq!(push_as(&addr, "alice", "pub/lib", "v1", &public).await, 201);

    // bob may pull team-a/* but not push, delete, or touch team-b.
    let manifest = "/v2/team-a/app/manifests/v1";
    assert_eq!(call(&addr, Some("bob"), "GET", manifest, None).await.0, 200);
    let (status, body, _) = call(&addr, Some("bob"), "DELETE", manifest, None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("DENIED"), "{body}");
    assert_eq!(push_as(&addr, "bob", "team-a/app", "v2", &img).await, 403);
    assert_eq!(
        call(
            &addr,
            Some("bob"),
            "GET",
            "/v2/team-b/secret/manifests/v1",
            None
        )
        .await
        .0,
        403
    );
    // team-a/* is one component deep only.
    assert_eq!(
        call(
            &addr,
            Some("bob"),
            "GET",
            "/v2/team-a/app/deeper/tags/list",
            None
        )
        .await
        .0,
        403
    );
    // No credentials: a challenge, except where anonymous may pull.
    let (status, _, challenge) = call(&addr, None, "GET", manifest, None).await;
    assert_eq!(status, 401);
    assert!(challenge.is_some_and(|c| c.starts_with("Basic")));
    assert_eq!(
        call(&addr, None, "GET", "/v2/pub/lib/manifests/v1", None)
            .await
            .0,
        200
    );
    let (status, _, challenge) = call(&addr, None, "GET", "/v2/", None).await;
    assert_eq!(status, 401, "the ping still challenges");
    assert!(challenge.is_some());

    // The catalog lists only what each may pull.
    let catalog = |user: Option<&'static str>| {
        let addr = addr.clone();
        async move {
            let (status, body, _) = call(&addr, user, "GET", "/v2/_catalog", None).await;
            assert_eq!(status, 200, "{body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            v["repositories"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(catalog(Some("bob")).await, ["pub/lib", "team-a/app"]);
    assert_eq!(catalog(None).await, ["pub/lib"]);
    assert_eq!(
        catalog(Some("alice")).await,
        ["pub/lib", "team-a/app", "team-b/secret"]
    );

    // Mounts need pull on the source: otherwise a plain upload (202).
    let layer = Digest::sha256_of(&secret.layers[0]);
    let (status, _, _) = call(
        &addr,
        Some("bob"),
        "POST",
        &format!("/v2/bob/x/blobs/uploads/?mount={layer}&from=team-b/secret"),
        None,
    )
    .await;
    assert_eq!(status, 202, "mounted from a repository bob may not pull");
    assert_eq!(
        call(
            &addr,
            Some("bob"),
            "HEAD",
            &format!("/v2/bob/x/blobs/{layer}"),
            None
        )
        .await
        .0,
        404
    );
    let layer_a = Digest::sha256_of(&img.layers[0]);
    let (status, _, _) = call(
        &addr,
        Some("bob"),
        "POST",
        &format!("/v2/bob/x/blobs/uploads/?mount={layer_a}&from=team-a/app"),
        None,
    )
    .await;
    assert_eq!(status, 201, "a mount from a repository bob may pull");

    // gc needs a rule naming it.
    let gc = "/v2/_regctl/gc?dry_run=true";
    assert_eq!(call(&addr, Some("alice"), "POST", gc, None).await.0, 403);
    assert_eq!(call(&addr, None, "POST", gc, None).await.0, 401);
    let (status, body, _) = call(&addr, Some("admin"), "POST", gc, None).await;
    assert_eq!(status, 200, "{body}");

    // alice may delete in team-a.
    assert_eq!(
        call(
            &addr,
            Some("alice"),
            "DELETE",
            &format!("/v2/team-a/app/manifests/{}", img.digest),
            None
        )
        .await
        .0,
        202
    );
    // Wrong password: 401 as before, never treated as anonymous.
    let r = http()
        .get(format!("http://{addr}/v2/pub/lib/manifests/v1"))
        .basic_auth("bob", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn reload_on_sighup_and_a_bad_file_keeps_the_old_rules() {
    let s = start(RULES);
    let addr = s.serve.addr().to_owned();
    let img = TestImage::oci("access-reload", 1, 512);
    assert_eq!(push_as(&addr, "bob", "team-a/app", "v1", &img).await, 403);
    std::fs::write(
        &s.access,
        format!("{RULES}\n[[allow]]\nrepositories = [\"team-a/**\"]\nusers = [\"bob\"]\nactions = [\"push\"]\n"),
    )
    .unwrap();
    hangup(&s.serve);
    eventually("bob may push after the reload", || {
        let addr = addr.clone();
        async move {
            let img = TestImage::oci("access-reload", 1, 512);
            push_as(&addr, "bob", "team-a/app", "v1", &img).await == 201
        }
    })
    .await;
    // A bad file: refused, the rules in force stay.
    std::fs::write(
        &s.access,
        "[[allow]]\nrepositories = [\"**\"]\nusers = [\"bob\"]\nactions = [\"fly\"]\n",
    )
    .unwrap();
    hangup(&s.serve);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(push_as(&addr, "bob", "team-a/app", "v2", &img).await, 201);
    assert_eq!(
        call(
            &addr,
            Some("bob"),
            "GET",
            "/v2/team-a/app/manifests/v1",
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(push_as(&addr, "bob", "team-b/x", "v1", &img).await, 403);
}

#[test]
fn a_bad_access_file_refuses_to_start_naming_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let access = dir.path().join("access.toml");
    std::fs::write(
        &access,
        "[[allow]]\nrepositories = [\"a/**\"]\nusers = [\"x\"]\nactions = [\"pull\", \"fly\"]\n",
    )
    .unwrap();
    let root = dir.path().join("root");
    let out = Command::new(env!("CARGO_BIN_EXE_regctl"))
        .args(["serve", "--port", "0", "--access"])
        .arg(&access)
        .arg("--root")
        .arg(&root)
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("line 4"), "{stderr}");
    assert!(stderr.contains("fly"), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "started anyway"
    );
}

#[tokio::test]
async fn skopeo_as_each_user() {
    let Some(skopeo) = Skopeo::find() else {
        return;
    };
    let s = start(RULES);
    let addr = s.serve.addr().to_owned();
    let img = TestImage::oci("access-skopeo", 2, 2048);
    let layout = s._dir.path().join("layout");
    write_oci_layout(&layout, &[("v1", Artifact::Image(&img))]);
    let src = format!("oci:{}:v1", layout.display());
    let skopeo_status = |args: &[&str]| {
        Command::new("skopeo")
            .arg("--insecure-policy")
            .args(args)
            .output()
            .unwrap()
    };
    // bob may not push to team-a.
    let out = skopeo_status(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "bob:bob-pw",
        &src,
        &format!("docker://{addr}/team-a/app:v1"),
    ]);
    assert!(!out.status.success(), "bob pushed to team-a");
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("denied") || err.contains("403"), "{err}");
    // alice may.
    skopeo.copy(
        &src,
        &format!("docker://{addr}/team-a/app:v1"),
        &["--dest-creds", "alice:alice-pw"],
    );
    skopeo.copy(
        &src,
        &format!("docker://{addr}/pub/app:v1"),
        &["--dest-creds", "alice:alice-pw"],
    );
    // bob pulls team-a; nobody pulls team-a anonymously; anyone pulls pub.
    let out_dir = s._dir.path().join("out");
    skopeo.copy(
        &format!("docker://{addr}/team-a/app:v1"),
        &format!("oci:{}:bob", out_dir.display()),
        &["--src-creds", "bob:bob-pw"],
    );
    let out = skopeo_status(&[
        "inspect",
        "--tls-verify=false",
        "--no-creds",
        &format!("docker://{addr}/team-a/app:v1"),
    ]);
    assert!(!out.status.success(), "anonymous pulled team-a");
    let out = skopeo_status(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--no-creds",
        &format!("docker://{addr}/pub/app:v1"),
    ]);
    assert!(
        out.status.success(),
        "anonymous pull of pub: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, img.manifest);
    let _: &Path = &layout;
}

#[tokio::test]
async fn requests_during_reloads_see_old_or_new_rules_never_an_error() {
    let s = start(RULES);
    let addr = s.serve.addr().to_owned();
    let img = TestImage::oci("access-race", 1, 512);
    assert_eq!(push_as(&addr, "alice", "team-a/app", "v1", &img).await, 201);
    let granting = format!(
        "{RULES}\n[[allow]]\nrepositories = [\"team-b/**\"]\nusers = [\"bob\"]\nactions = [\"pull\"]\n"
    );
    // Pulls by two users at once while the file flips between two
    // versions (and a bad one) under SIGHUP.
    let flips = async {
        for i in 0..20 {
            let text = match i % 3 {
                0 => granting.as_str(),
                1 => "[[allow]]\nbroken",
                _ => RULES,
            };
            std::fs::write(&s.access, text).unwrap();
            hangup(&s.serve);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let pulls = |user: &'static str| {
        let addr = addr.clone();
        async move {
            let mut seen = Vec::new();
            for _ in 0..60 {
                let (status, body, _) = call(
                    &addr,
                    Some(user),
                    "GET",
                    "/v2/team-a/app/manifests/v1",
                    None,
                )
                .await;
                assert_eq!(status, 200, "{user}: {body}");
                let (status, body, _) =
                    call(&addr, Some(user), "GET", "/v2/team-b/none/tags/list", None).await;
                assert!(matches!(status, 403 | 404), "{user}: {status} {body}");
                seen.push(status);
            }
            seen
        }
    };
    let (_, alice, bob) = tokio::join!(flips, pulls("alice"), pulls("bob"));
    // alice may pull team-b under every version: never denied.
    assert!(alice.iter().all(|s| *s == 404), "{alice:?}");
    println!("bob's team-b answers during reloads: {bob:?}");
}
