//! `regctl serve` as a process: start-up line, signals.

mod common;

use common::push::push_image;
use common::{Serve, TestImage};

#[tokio::test]
async fn serve_shuts_down_cleanly_on_sigterm() {
    let serve = Serve::start(&[]);
    push_image(serve.addr(), "r", "t", &TestImage::oci("sigterm", 1, 64)).await;
    let status = serve.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_regctl"))
        .args(["serve", "--port", &port, "--root"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot listen on") && err.contains("--port"),
        "{err}"
    );
}
