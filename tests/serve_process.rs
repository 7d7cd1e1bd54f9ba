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

/// A client that never finishes its headers is disconnected (after the
/// server's 30-second header timeout) instead of holding the socket forever.
#[test]
fn a_slow_loris_client_is_disconnected() {
    use std::io::{Read, Write};
    let serve = Serve::start(&[]);
    let mut s = std::net::TcpStream::connect(serve.addr()).unwrap();
    s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n").unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(90)))
        .unwrap();
    let mut buf = [0u8; 256];
    let result = s.read(&mut buf);
    assert!(
        result.is_ok(),
        "the server should close the connection, got {result:?}"
    );
    // Still serving everyone else.
    let mut t = std::net::TcpStream::connect(serve.addr()).unwrap();
    t.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    t.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}
