//! Shared test harness: real peers on loopback (`regctl serve`, the CNCF
//! `docker-registry`, `skopeo`), images built in memory, and raw HTTP pushes
//! that do not go through regctl's own client.
#![allow(dead_code, unused_imports)]

pub mod image;
pub mod peers;
pub mod push;
pub mod raw;
pub mod s3;
pub mod scale;
pub mod webdriver;

use std::path::Path;
use std::process::{Command, Stdio};

pub use image::{TestImage, TestIndex, write_oci_layout};
pub use peers::{DistRegistry, Serve, Skopeo, require_peer};

/// The regctl binary in an environment isolated under `home`: its own
/// HOME, Docker config, XDG directories, no colour, no default registry,
/// and no terminal on stdin (callers may pipe one in).
pub fn regctl(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regctl"));
    c.env("HOME", home)
        .env("DOCKER_CONFIG", home.join(".docker"))
        .env("XDG_CONFIG_HOME", home.join("xdg"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("NO_COLOR", "1")
        .env_remove("REGCTL_REGISTRY")
        .env_remove("REGCTL_ROOT")
        .stdin(Stdio::null());
    c
}

/// Runs `cmd` with `input` on its stdin (e.g. `login --password-stdin`)
/// and collects its output.
pub fn output_with_stdin(cmd: &mut Command, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Asserts that a regctl run succeeded (showing its stderr if not) and
/// returns its stdout.
pub fn run_ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "regctl failed ({}): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// [`run_ok`], then the stdout parsed as JSON.
pub fn json_of(out: std::process::Output) -> serde_json::Value {
    serde_json::from_str(&run_ok(out)).unwrap()
}

/// A `kB` figure of a process's `/proc/PID/status` (`VmRSS`, `VmHWM`, ...);
/// 0 when it cannot be read.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
