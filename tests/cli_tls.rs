//! TLS: a registry with a certificate from a private CA (made with the
//! `openssl` CLI) is refused until the CA is trusted with `--ca-cert` or the
//! config file's `ca_cert`.

mod common;

use common::regctl;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn have(bin: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{bin} is required when CI is set"
        );
        eprintln!("skipped: {bin} not installed");
    }
    found
}

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it.
fn make_certs(dir: &Path) {
    sh(
        dir,
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=regctl-test-ca 2>/dev/null && \
         openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null && \
         printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf && \
         openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null",
    );
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn private_ca_is_trusted_only_when_configured() {
    if !have("openssl") || !have("docker-registry") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_certs(d);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    std::fs::write(
        d.join("config.yml"),
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n  tls:\n    certificate: {}\n    key: {}\n",
            d.join("data").display(),
            d.join("server.pem").display(),
            d.join("server.key").display()
        ),
    )
    .unwrap();
    let _reg = Killed(
        Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut up = false;
    for _ in 0..400 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(up, "docker-registry with TLS did not start");
    // Loopback defaults to http; this registry speaks https only.
    let cfg = d.join("regctl.toml");
    std::fs::write(&cfg, format!("[registries.\"{addr}\"]\ninsecure = false\n")).unwrap();
    let run = |extra: &[&str], cfg: &Path| {
        let out = regctl(d)
            .arg("--config")
            .arg(cfg)
            .args(extra)
            .args(["ls", &addr, "--format", "json"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, err) = run(&[], &cfg);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("TLS error") && err.contains("certificate"),
        "{err}"
    );
    assert!(err.contains("hint:") && err.contains("--ca-cert"), "{err}");

    let ca = d.join("ca.pem");
    let ca = ca.to_str().unwrap();
    let (code, out, err) = run(&["--ca-cert", ca], &cfg);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["repositories"], serde_json::json!([]));

    let cfg2 = d.join("regctl2.toml");
    std::fs::write(
        &cfg2,
        format!("[registries.\"{addr}\"]\ninsecure = false\nca_cert = \"{ca}\"\n"),
    )
    .unwrap();
    let (code, _, err) = run(&[], &cfg2);
    assert_eq!(code, Some(0), "{err}");

    // A file that is not a certificate is named in the error.
    let (code, _, err) = run(&["--ca-cert", d.join("config.yml").to_str().unwrap()], &cfg);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("config.yml"), "{err}");
}

#[test]
fn serve_over_tls_with_htpasswd_accepts_only_trusted_logged_in_clients() {
    if !have("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_certs(d);
    let htpasswd = d.join("htpasswd");
    std::fs::write(
        &htpasswd,
        format!("alice:{}\n", bcrypt::hash("s3cret", 4).unwrap()),
    )
    .unwrap();
    let serve = common::Serve::start(&[
        "--tls-cert",
        d.join("server.pem").to_str().unwrap(),
        "--tls-key",
        d.join("server.key").to_str().unwrap(),
        "--htpasswd",
        htpasswd.to_str().unwrap(),
    ]);
    let addr = serve.addr().to_owned();
    let cfg = d.join("regctl.toml");
    let ca = d.join("ca.pem");
    std::fs::write(
        &cfg,
        format!(
            "[registries.\"{addr}\"]\ninsecure = false\nca_cert = \"{}\"\n",
            ca.display()
        ),
    )
    .unwrap();
    let run = |args: &[&str], stdin: &str| {
        let out = common::output_with_stdin(
            regctl(d).arg("--config").arg(&cfg).args(args),
            stdin.as_bytes(),
        );
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["ls", &addr], "");
    assert_eq!(code, Some(4), "no credentials yet: {err}");
    let (code, err) = run(
        &["login", &addr, "-u", "alice", "--password-stdin"],
        "wrong\n",
    );
    assert_ne!(code, Some(0), "a wrong password is refused: {err}");
    let (code, err) = run(
        &["login", &addr, "-u", "alice", "--password-stdin"],
        "s3cret\n",
    );
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = run(&["ls", &addr], "");
    assert_eq!(code, Some(0), "{err}");
    // Without the CA the server's certificate is not trusted.
    std::fs::write(&cfg, format!("[registries.\"{addr}\"]\ninsecure = false\n")).unwrap();
    let (code, err) = run(&["ls", &addr], "");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("certificate"), "{err}");
}

/// A self-signed certificate made the way registry guides show: `openssl
/// req -x509` (which marks it CA:TRUE), for `names` (subjectAltName).
fn self_signed(dir: &Path, stem: &str, names: &str) {
    sh(
        dir,
        &format!(
            "openssl req -x509 -newkey rsa:2048 -nodes -keyout {stem}.key -out {stem}.pem -days 2 \
             -subj /CN=localhost -addext subjectAltName={names} 2>/dev/null"
        ),
    );
}

/// `regctl ls ARGS` in `home`; (exit code, stdout, stderr).
fn ls(home: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = regctl(home).arg("ls").args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn serve_with_a_self_signed_ca_certificate_is_reached_on_localhost() {
    if !have("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    self_signed(d, "self", "DNS:localhost,IP:127.0.0.1");
    self_signed(d, "other", "DNS:localhost,IP:127.0.0.1");
    self_signed(d, "elsewhere", "DNS:registry.example.com");
    let serve = common::Serve::start(&[
        "--tls-cert",
        d.join("self.pem").to_str().unwrap(),
        "--tls-key",
        d.join("self.key").to_str().unwrap(),
    ]);
    let port = serve.addr().rsplit(':').next().unwrap().to_owned();
    let host = format!("localhost:{port}");
    let cert = |name: &str| d.join(format!("{name}.pem")).to_str().unwrap().to_owned();

    // Loopback tries https first; the certificate is pinned with --ca-cert
    // although it is self-signed and marked CA.
    for target in [
        host.clone(),
        format!("https://{host}"),
        serve.addr().to_owned(),
    ] {
        let (code, out, err) = ls(
            d,
            &[&target, "--ca-cert", &cert("self"), "--format", "json"],
        );
        assert_eq!(code, Some(0), "{target}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["repositories"], serde_json::json!([]));
    }
    // Untrusted, another certificate, or the right key but the wrong name:
    // refused, never silently switched to http.
    for extra in [
        vec![],
        vec!["--ca-cert", &cert("other")],
        vec!["--ca-cert", &cert("elsewhere")],
    ] {
        let mut args = vec![host.as_str()];
        args.extend(extra.iter().copied());
        let (code, _, err) = ls(d, &args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(
            err.contains("TLS error") && err.contains("certificate"),
            "{args:?}: {err}"
        );
        assert!(err.contains("--ca-cert"), "the hint names the flag: {err}");
    }
    // An explicit http:// is honoured, and its failure explained.
    let (code, _, err) = ls(d, &[&format!("http://{host}")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("speaks https"), "{err}");
    assert!(err.contains(&format!("https://{host}")), "{err}");
}

#[test]
fn plain_http_on_loopback_works_with_and_without_a_scheme() {
    let serve = common::Serve::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = serve.addr().rsplit(':').next().unwrap().to_owned();
    let host = format!("localhost:{port}");
    for target in [
        host.clone(),
        format!("http://{host}"),
        serve.addr().to_owned(),
    ] {
        let (code, out, err) = ls(d, &[&target, "--format", "json"]);
        assert_eq!(code, Some(0), "{target}: {err}");
        assert!(out.contains("\"repositories\""), "{out}");
    }
    // A scheme on a repository reference, e.g. for tags.
    let out = regctl(d)
        .args(["tags", &format!("http://{host}/busybox")])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "unknown repository, not a bad reference: {err}"
    );
    assert!(!err.contains("invalid"), "{err}");
    // And on cp's image arguments; one scheme per registry.
    let img = common::TestImage::oci("scheme", 2, 1024);
    let layout = d.join("layout");
    common::write_oci_layout(&layout, &[("v1", common::image::Artifact::Image(&img))]);
    let src = format!("oci:{}:v1", layout.display());
    let out = regctl(d)
        .args(["cp", &src, &format!("http://{host}/app:v1")])
        .output()
        .unwrap();
    common::run_ok(out);
    let out = regctl(d)
        .args([
            "cp",
            &format!("http://{host}/app:v1"),
            &format!("https://{host}/copy:v1"),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("one scheme per registry"), "{err}");
    // An explicit https:// is honoured: not silently switched to http.
    let (code, _, err) = ls(d, &[&format!("https://{host}")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("HTTP response to HTTPS client"), "{err}");
    assert!(
        err.contains(&format!("http://{host}")),
        "the hint says how: {err}"
    );
}
