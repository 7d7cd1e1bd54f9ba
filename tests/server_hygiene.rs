//! Connection hygiene (issue 12, item 2): silent and stalled clients are
//! dropped, so they cannot use up the server's file descriptors. The
//! timeouts are shortened with the hidden `--idle-timeout`/`--body-timeout`
//! flags so each test takes seconds.

mod common;

use std::time::{Duration, Instant};

use common::raw::{RawConn, raw};
use common::{Serve, require_peer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SHORT: [&str; 4] = ["--idle-timeout", "1s", "--body-timeout", "1s"];

/// Waits (bounded) for the server to close `s`; true when it did.
async fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A response (e.g. 408) may come first; the close follows.
            Ok(Ok(_)) => continue,
        }
    }
}

/// 60 connections that never send a byte, under an open-file limit of 64:
/// before, they were never closed, accept failed with EMFILE and a normal
/// `GET /v2/` timed out. Now they are closed after the idle timeout and the
/// normal client is answered.
#[tokio::test]
async fn silent_connections_are_closed_and_do_not_starve_others() {
    if !require_peer("prlimit") {
        return;
    }
    let serve = Serve::start(&SHORT);
    let pid = serve.pid().to_string();
    let limited = std::process::Command::new("prlimit")
        .args(["--pid", &pid, "--nofile=64:64"])
        .status()
        .unwrap();
    assert!(limited.success());
    let started = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..60 {
        silent.push(TcpStream::connect(serve.addr()).await.unwrap());
    }
    // A normal client, while the silent ones hold (or held) the descriptors.
    let normal = tokio::time::timeout(
        Duration::from_secs(30),
        raw(serve.addr(), "GET", "/v2/", &[], b""),
    )
    .await
    .expect("GET /v2/ was not answered within 30 s");
    assert_eq!(normal.status, 200, "{normal:?}");
    println!(
        "normal GET /v2/ answered after {:?} with 60 silent connections",
        started.elapsed()
    );
    let mut closed = 0;
    for s in &mut silent {
        if closed_by_server(s, Duration::from_secs(20)).await {
            closed += 1;
        }
    }
    assert_eq!(
        closed, 60,
        "silent connections still open after the idle timeout"
    );
}

/// A keep-alive connection that goes silent after a request is closed too.
#[tokio::test]
async fn a_connection_idle_between_requests_is_closed() {
    let serve = Serve::start(&SHORT);
    let mut s = TcpStream::connect(serve.addr()).await.unwrap();
    s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    assert!(
        closed_by_server(&mut s, Duration::from_secs(20)).await,
        "an idle keep-alive connection was not closed"
    );
}

/// A chunk whose body stops, or trickles a byte at a time, is aborted;
/// the upload keeps exactly the bytes it had and resumes from there.
#[tokio::test]
async fn a_stalled_or_trickled_body_is_aborted_and_the_upload_resumes() {
    let serve = Serve::start(&SHORT);
    let addr = serve.addr();
    let a = raw(addr, "POST", "/v2/r/blobs/uploads/", &[], b"").await;
    assert_eq!(a.status, 202, "{a:?}");
    let location = a.header("location").unwrap().to_owned();
    let first = vec![7u8; 1000];
    assert_eq!(raw(addr, "PATCH", &location, &[], &first).await.status, 202);

    // Stalls after 500 of 10,000 bytes.
    let mut stalled = RawConn::open(addr, "PATCH", &location, &[], 10_000).await;
    stalled.send(&[8u8; 500]).await;
    let answer = tokio::time::timeout(Duration::from_secs(30), stalled.answer())
        .await
        .expect("a stalled body was not cut off within 30 s");
    assert_eq!(answer.status, 400, "{answer:?}");

    // Trickles a byte every 100 ms: never 1 KiB in a second.
    let mut trickle = RawConn::open(addr, "PATCH", &location, &[], 10_000).await;
    let trickling = async {
        for _ in 0..300 {
            trickle.send(b"x").await;
            if trickle.write_failed() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        trickle
    };
    let trickle = tokio::time::timeout(Duration::from_secs(60), trickling)
        .await
        .unwrap();
    let answer = trickle.answer().await;
    assert!(
        answer.status == 400 || answer.write_error.is_some() || answer.status == 0,
        "a trickled body ran for 30 s: {answer:?}"
    );

    // Exactly the first chunk is left, and the upload goes on from it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let second = vec![9u8; 2000];
        let a = raw(
            addr,
            "PATCH",
            &location,
            &[("Content-Range", "1000-2999")],
            &second,
        )
        .await;
        if a.status == 202 {
            assert_eq!(a.header("range"), Some("0-2999"));
            break;
        }
        assert!(Instant::now() < deadline, "upload not resumable: {a:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let whole = [first, vec![9u8; 2000]].concat();
    let d = regctl::types::Digest::sha256_of(&whole);
    let a = raw(addr, "PUT", &format!("{location}?digest={d}"), &[], b"").await;
    assert_eq!(a.status, 201, "{a:?}");
}

/// `--max-connections 2`: with two silent clients holding both slots, a
/// third is served only once the idle timeout has freed one.
#[tokio::test]
async fn max_connections_caps_open_connections() {
    let serve = Serve::start(&["--idle-timeout", "2s", "--max-connections", "2"]);
    let mut a = TcpStream::connect(serve.addr()).await.unwrap();
    let mut b = TcpStream::connect(serve.addr()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let third = tokio::time::timeout(
        Duration::from_secs(30),
        raw(serve.addr(), "GET", "/v2/", &[], b""),
    )
    .await
    .expect("the third client was never served");
    assert_eq!(third.status, 200, "{third:?}");
    // It was served because a slot was freed: a silent one is closed by now.
    let mut buf = [0u8; 16];
    let mut freed = 0;
    for s in [&mut a, &mut b] {
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await
        {
            freed += 1;
        }
    }
    assert!(
        freed >= 1,
        "the third client was served while both slots were held"
    );
}
