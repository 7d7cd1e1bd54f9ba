//! CLI behaviour that needs no registry: reference errors, settings and
//! their sources, exit codes, refusals, closed stdout.

use std::process::{Command, Output};

mod common;

use common::regctl;

fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().unwrap();
    let so = String::from_utf8_lossy(&out.stdout).into_owned();
    let se = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, so, se)
}

#[test]
fn malformed_references_name_the_rule_and_exit_2() {
    let home = tempfile::tempdir().unwrap();
    for (input, needle) in [
        ("Busybox:1.0", "must be lowercase (use \"busybox\")"),
        ("busybox:-x", "breaks the tag rule"),
        ("a//b", "breaks the naming rule"),
        ("busybox@sha256:1234", "64 lower-case hex digits"),
    ] {
        let (out, stdout, stderr) =
            run(regctl(home.path()).args(["-r", "127.0.0.1:9", "digest", input]));
        assert_eq!(out.status.code(), Some(2), "{input}: {stderr}");
        assert!(stdout.is_empty());
        assert!(
            stderr.starts_with("regctl: invalid reference"),
            "{input}: {stderr}"
        );
        assert!(stderr.contains(needle), "{input}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
    let (out, _, stderr) = run(regctl(home.path()).args(["ls", "not a host"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("invalid registry"), "{stderr}");
    let (out, _, stderr) = run(regctl(home.path()).args([
        "-r",
        "127.0.0.1:9",
        "inspect",
        "x:1",
        "--platform",
        "linux",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("os/arch"), "{stderr}");
}

#[test]
fn config_reports_each_source() {
    let home = tempfile::tempdir().unwrap();
    let json = |cmd: &mut Command| -> serde_json::Value {
        let (out, stdout, stderr) = run(cmd);
        assert!(out.status.success(), "{stderr}");
        serde_json::from_str(&stdout).unwrap()
    };
    let v = json(regctl(home.path()).args(["config", "--format", "json"]));
    assert_eq!(v["defaultRegistry"]["value"], "docker.io");
    assert_eq!(v["defaultRegistry"]["source"]["kind"], "default");
    assert_eq!(v["configFile"]["loaded"], false);
    assert_eq!(v["configFile"]["source"]["name"], "XDG_CONFIG_HOME");
    assert_eq!(v["insecure"]["value"], false);
    assert_eq!(v["dockerConfig"]["source"]["name"], "DOCKER_CONFIG");

    let cfg_dir = home.path().join("xdg").join("regctl");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    std::fs::write(
        cfg_dir.join("config.toml"),
        "default_registry = \"localhost:5000\"\n[registries.\"r.example:443\"]\ninsecure = true\nmirror = \"m.example\"\n",
    )
    .unwrap();
    let v = json(regctl(home.path()).args(["config", "--format", "json"]));
    assert_eq!(v["configFile"]["loaded"], true);
    assert_eq!(v["defaultRegistry"]["value"], "localhost:5000");
    assert_eq!(v["defaultRegistry"]["source"]["kind"], "file");
    assert_eq!(v["registries"]["r.example:443"]["insecure"], true);
    assert_eq!(v["registries"]["r.example:443"]["mirror"], "m.example");

    let v = json(
        regctl(home.path())
            .env("REGCTL_REGISTRY", "env.example:5000")
            .args(["config", "--format", "json"]),
    );
    assert_eq!(v["defaultRegistry"]["value"], "env.example:5000");
    assert_eq!(v["defaultRegistry"]["source"]["name"], "REGCTL_REGISTRY");

    let v = json(
        regctl(home.path())
            .env("REGCTL_REGISTRY", "env.example:5000")
            .args([
                "config",
                "-r",
                "flag.example",
                "--insecure",
                "--format",
                "json",
            ]),
    );
    assert_eq!(v["defaultRegistry"]["value"], "flag.example");
    assert_eq!(v["defaultRegistry"]["source"]["kind"], "flag");
    assert_eq!(v["insecure"]["value"], true);

    let (out, stdout, _) = run(regctl(home.path()).args(["config", "--format", "plain"]));
    assert!(out.status.success());
    // Plain: SETTING<TAB>VALUE<TAB>SOURCE lines, settings named as in the JSON.
    assert!(
        stdout.contains("defaultRegistry\tlocalhost:5000\tfile\n")
            && stdout.contains("registries.r.example:443.mirror\tm.example\tfile\n"),
        "{stdout}"
    );
    let (_, table, _) = run(regctl(home.path()).args(["config", "--format", "table"]));
    assert!(
        table.starts_with("SETTING") && table.contains("config file"),
        "{table}"
    );
}

#[test]
fn a_broken_config_file_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let f = home.path().join("bad.toml");
    std::fs::write(&f, "default_registery = \"x\"\n").unwrap();
    let (out, _, stderr) = run(regctl(home.path()).arg("--config").arg(&f).arg("config"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("bad.toml") && stderr.contains("default_registery"),
        "{stderr}"
    );
    let (out, _, stderr) =
        run(regctl(home.path()).args(["--config", "/nonexistent/regctl.toml", "config"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("/nonexistent/regctl.toml"), "{stderr}");
}

#[test]
fn closed_stdout_exits_quietly() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["config", "--format", "plain"][..],
        &["completions", "bash"][..],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = regctl(home.path())
            .args(args)
            .stdout(writer)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn login_without_a_terminal_needs_password_stdin() {
    let home = tempfile::tempdir().unwrap();
    let (out, _, stderr) = run(regctl(home.path())
        .args(["login", "127.0.0.1:9", "-u", "me"])
        .stdin(std::process::Stdio::null()));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--password-stdin"), "{stderr}");
    assert!(!home.path().join(".docker").join("config.json").exists());
}

#[test]
fn logout_when_not_logged_in() {
    let home = tempfile::tempdir().unwrap();
    let (out, stdout, stderr) = run(regctl(home.path()).args(["logout", "https://r.example/"]));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), "Not logged in to r.example");
}

#[test]
fn rm_needs_a_tag_or_digest() {
    let home = tempfile::tempdir().unwrap();
    let (out, _, stderr) =
        run(regctl(home.path()).args(["-r", "127.0.0.1:9", "rm", "busybox", "--yes"]));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("NAME:TAG or NAME@DIGEST"), "{stderr}");
}

#[test]
fn unreachable_registry_is_a_one_line_error_with_a_hint() {
    let home = tempfile::tempdir().unwrap();
    // Port 9 (discard) on loopback: nothing listens there in the test setup.
    let (out, _, stderr) = run(regctl(home.path()).args(["ls", "127.0.0.1:9"]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("regctl: listing repositories of 127.0.0.1:9: cannot connect"),
        "{stderr}"
    );
    assert!(lines[1].starts_with("hint: "), "{stderr}");
}

#[test]
fn json_output_into_a_closed_pipe_exits_quietly() {
    let home = tempfile::tempdir().unwrap();
    let mut child = regctl(home.path())
        .args(["config", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}
