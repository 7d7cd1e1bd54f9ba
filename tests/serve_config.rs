//! `[serve]` in the config file and `regctl serve --print-config` (issue 18).

mod common;

use common::push::http;
use common::{Serve, regctl};

fn line_of<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{key} = ")) || l.starts_with(&format!("# {key} ")))
        .unwrap_or_else(|| panic!("no {key} in\n{out}"))
}

#[test]
fn print_config_shows_each_setting_and_its_source() {
    let home = tempfile::tempdir().unwrap();
    let conf = home.path().join("regctl.toml");
    std::fs::write(
        &conf,
        "default_registry = \"localhost:5000\"\n\n[serve]\nport = 6001\naddr = \"::1\"\nhtpasswd = \"users.htpasswd\"\ngc_interval = \"24h\"\nread_only = true\n",
    )
    .unwrap();
    let out = regctl(home.path())
        .args(["--config"])
        .arg(&conf)
        .args([
            "serve",
            "--print-config",
            "--port",
            "7001",
            "--metrics-public",
        ])
        .output()
        .unwrap();
    let text = common::run_ok(out);
    assert!(text.starts_with("[serve]\n"), "{text}");
    // The flag wins over the file.
    assert!(line_of(&text, "port").contains("port = 7001"), "{text}");
    assert!(line_of(&text, "port").ends_with("# flag --port"), "{text}");
    assert!(line_of(&text, "addr").contains("addr = \"::1\""), "{text}");
    assert!(line_of(&text, "addr").ends_with("# config file"), "{text}");
    // Relative paths in the file are taken from the file's directory.
    let htpasswd = home.path().join("users.htpasswd");
    assert!(
        line_of(&text, "htpasswd").contains(&format!("\"{}\"", htpasswd.display())),
        "{text}"
    );
    assert!(line_of(&text, "gc_interval").contains("\"1day\""), "{text}");
    assert!(line_of(&text, "read_only").contains("true"), "{text}");
    assert!(
        line_of(&text, "metrics_public").ends_with("# flag --metrics-public"),
        "{text}"
    );
    assert!(line_of(&text, "tls_cert").starts_with("# tls_cert (not set)"));
    assert!(
        line_of(&text, "idle_timeout").ends_with("# default"),
        "{text}"
    );
    // The output is valid TOML that reads back as a [serve] section.
    let parsed: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(parsed["serve"]["port"].as_integer(), Some(7001));
}

#[test]
fn a_bad_serve_section_is_refused_with_line_and_reason() {
    let home = tempfile::tempdir().unwrap();
    let conf = home.path().join("regctl.toml");
    for (body, wanted) in [
        ("[serve]\nprot = 6000\n", "line 2"),
        ("[serve]\nport = \"high\"\n", "line 2"),
        ("[serve]\ngc_interval = \"soon\"\n", "gc_interval"),
        ("[serve]\nlog_format = \"xml\"\n", "log_format"),
        ("[serve]\ntls_cert = \"c.pem\"\n", "no key"),
        ("[serve]\nmax_connections = 0\n", "max_connections"),
    ] {
        std::fs::write(&conf, body).unwrap();
        let root = home.path().join("root");
        let out = regctl(home.path())
            .arg("--config")
            .arg(&conf)
            .args(["serve", "--port", "0", "--root"])
            .arg(&root)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{body:?} was accepted");
        assert!(stderr.contains(wanted), "{body:?}: {stderr}");
        assert!(
            String::from_utf8_lossy(&out.stdout).is_empty(),
            "{body:?} started a server"
        );
        assert!(!root.exists(), "{body:?} created the root");
    }
}

#[tokio::test]
async fn the_server_runs_with_the_file_settings() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("regctl.toml");
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(dir.path().join("pw"), format!("alice:{hash}\n")).unwrap();
    std::fs::write(
        &conf,
        "[serve]\nhtpasswd = \"pw\"\nmetrics_public = true\nno_delete = true\n",
    )
    .unwrap();
    let serve = Serve::start(&["--config", conf.to_str().unwrap()]);
    let base = format!("http://{}", serve.addr());
    let r = http().get(format!("{base}/v2/")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "htpasswd from the file");
    let r = http()
        .get(format!("{base}/v2/"))
        .basic_auth("alice", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = http().get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "metrics_public from the file");
    let r = http()
        .delete(format!("{base}/v2/x/manifests/sha256:{}", "a".repeat(64)))
        .basic_auth("alice", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405, "no_delete from the file");
}
