//! `regctl cp` from a source registry that misbehaves: a tiny HTTP/1.1
//! server in the test (just enough of /v2/, manifests and blobs) that drops
//! a blob's connection half-way, serves bytes that do not match the digest,
//! or answers 503 with Retry-After. The destination is a real `regctl serve`.

mod common;

use std::sync::{Arc, Mutex};

use common::push::get;
use common::{Serve, TestImage, regctl};
use regctl::types::Digest;
use regctl::types::media_type::MANIFEST_ACCEPT;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The first GET of the layer sends half the bytes and hangs up; later
    /// GETs honour `Range`.
    DropHalfway,
    /// Like `DropHalfway`, but `Range` is ignored: the whole blob again.
    DropHalfwayNoRanges,
    /// Every GET of the layer hangs up half-way.
    AlwaysDrop,
    /// The layer's bytes do not hash to its digest.
    Corrupt,
    /// The first GET of the layer is answered 503 with `Retry-After: 1`.
    Unavailable,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    range: Option<String>,
    status: u16,
}

struct FaultyRegistry {
    addr: String,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl FaultyRegistry {
    async fn start(img: &TestImage, fault: Fault) -> FaultyRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(State {
            img: img.clone(),
            fault,
            layer_gets: Mutex::new(0),
            log: log.clone(),
        });
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(conn, state.clone()));
            }
        });
        FaultyRegistry { addr, log }
    }

    fn layer_requests(&self, layer: &Digest) -> Vec<Seen> {
        let path = format!("/v2/app/blobs/{layer}");
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.method == "GET" && s.path == path)
            .cloned()
            .collect()
    }
}

struct State {
    img: TestImage,
    fault: Fault,
    layer_gets: Mutex<u32>,
    log: Arc<Mutex<Vec<Seen>>>,
}

/// Reads a request head; `None` at end of stream or on garbage.
async fn read_head(conn: &mut TcpStream) -> Option<(String, String, Option<String>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).await.ok()? == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.push(byte[0]);
    }
    let text = String::from_utf8(buf).ok()?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let range = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("range"))
        .map(|(_, v)| v.trim().to_owned());
    Some((method, path, range))
}

async fn respond(conn: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes()).await;
    let _ = conn.write_all(body).await;
    let _ = conn.flush().await;
}

/// One request per connection (`Connection: close`): enough for reqwest.
async fn serve(mut conn: TcpStream, state: Arc<State>) {
    let Some((method, path, range)) = read_head(&mut conn).await else {
        return;
    };
    let head = method == "HEAD";
    let img = &state.img;
    let layer = Digest::sha256_of(&img.layers[0]);
    let config = Digest::sha256_of(&img.config);
    let mut status = 404;
    let record = |status: u16| {
        state.log.lock().unwrap().push(Seen {
            method: method.clone(),
            path: path.clone(),
            range: range.clone(),
            status,
        });
    };
    let body_of = |b: &[u8]| if head { Vec::new() } else { b.to_vec() };
    if path == "/v2/" {
        status = 200;
        record(status);
        respond(
            &mut conn,
            "200 OK",
            &[("Content-Length", "2".into())],
            b"{}",
        )
        .await;
        return;
    }
    if path == "/v2/app/manifests/v1" || path == format!("/v2/app/manifests/{}", img.digest) {
        status = 200;
        record(status);
        let headers = [
            ("Content-Type", img.media_type.to_owned()),
            ("Docker-Content-Digest", img.digest.to_string()),
            ("Content-Length", img.manifest.len().to_string()),
        ];
        respond(&mut conn, "200 OK", &headers, &body_of(&img.manifest)).await;
        return;
    }
    if path == format!("/v2/app/blobs/{config}") {
        status = 200;
        record(status);
        let headers = [
            ("Content-Length", img.config.len().to_string()),
            ("Docker-Content-Digest", config.to_string()),
        ];
        respond(&mut conn, "200 OK", &headers, &body_of(&img.config)).await;
        return;
    }
    if path == format!("/v2/app/blobs/{layer}") {
        let data = &img.layers[0];
        let nth = if head {
            0
        } else {
            let mut n = state.layer_gets.lock().unwrap();
            *n += 1;
            *n
        };
        let full = |len: usize| {
            vec![
                ("Content-Length", len.to_string()),
                ("Accept-Ranges", "bytes".to_owned()),
                ("Docker-Content-Digest", layer.to_string()),
            ]
        };
        match state.fault {
            Fault::Unavailable if nth == 1 => {
                record(503);
                let headers = [
                    ("Retry-After", "1".to_owned()),
                    ("Content-Length", "0".to_owned()),
                ];
                respond(&mut conn, "503 Service Unavailable", &headers, b"").await;
            }
            Fault::DropHalfway | Fault::DropHalfwayNoRanges if nth == 1 => {
                record(200);
                // Announce everything, send half, hang up.
                respond(
                    &mut conn,
                    "200 OK",
                    &full(data.len()),
                    &data[..data.len() / 2],
                )
                .await;
                drop(conn);
            }
            Fault::AlwaysDrop => {
                record(if range.is_some() { 206 } else { 200 });
                let half = data.len() / 2;
                respond(&mut conn, "200 OK", &full(data.len()), &data[..half]).await;
            }
            Fault::DropHalfwayNoRanges => {
                record(200);
                respond(&mut conn, "200 OK", &full(data.len()), &body_of(data)).await;
            }
            Fault::Corrupt => {
                record(200);
                let mut bad = data.clone();
                let mid = bad.len() / 2;
                bad[mid] ^= 0xff;
                respond(&mut conn, "200 OK", &full(bad.len()), &body_of(&bad)).await;
            }
            _ => {
                let start = range
                    .as_deref()
                    .and_then(|r| r.strip_prefix("bytes="))
                    .and_then(|r| r.strip_suffix('-'))
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|n| *n < data.len());
                match start {
                    Some(start) => {
                        record(206);
                        let mut headers = full(data.len() - start);
                        headers.push((
                            "Content-Range",
                            format!("bytes {start}-{}/{}", data.len() - 1, data.len()),
                        ));
                        respond(
                            &mut conn,
                            "206 Partial Content",
                            &headers,
                            &body_of(&data[start..]),
                        )
                        .await;
                    }
                    None => {
                        record(200);
                        respond(&mut conn, "200 OK", &full(data.len()), &body_of(data)).await;
                    }
                }
            }
        }
        return;
    }
    record(status);
    respond(
        &mut conn,
        "404 Not Found",
        &[("Content-Length", "0".into())],
        b"",
    )
    .await;
}

/// A copy out of a faulty registry serving `img` as `app:v1` into a
/// fresh `regctl serve`.
struct Run {
    img: TestImage,
    src: FaultyRegistry,
    dst: Serve,
    out: std::process::Output,
    _home: tempfile::TempDir,
}

impl Run {
    async fn copy(seed: &str, layer_size: usize, fault: Fault) -> Run {
        let img = TestImage::oci(seed, 1, layer_size);
        let src = FaultyRegistry::start(&img, fault).await;
        let dst = Serve::start(&[]);
        let home = tempfile::tempdir().unwrap();
        let mut cmd = tokio::process::Command::from(regctl(home.path()));
        cmd.args(["cp", "--format", "json"])
            .arg(format!("{}/app:v1", src.addr))
            .arg(format!("{}/app:v1", dst.addr()));
        let out = cmd.output().await.unwrap();
        Run {
            img,
            src,
            dst,
            out,
            _home: home,
        }
    }

    fn layer(&self) -> Digest {
        Digest::sha256_of(&self.img.layers[0])
    }

    fn layer_requests(&self) -> Vec<Seen> {
        self.src.layer_requests(&self.layer())
    }

    /// Asserts success and the image, byte for byte, at the destination.
    async fn assert_copied(&self) {
        assert!(
            self.out.status.success(),
            "{}",
            String::from_utf8_lossy(&self.out.stderr)
        );
        let addr = self.dst.addr();
        let (status, _, digest, body) = get(addr, "/v2/app/manifests/v1", MANIFEST_ACCEPT).await;
        assert_eq!(status, 200);
        assert_eq!(digest, self.img.digest.to_string());
        assert_eq!(body, self.img.manifest);
        for blob in self.img.blobs() {
            let d = Digest::sha256_of(blob);
            let (status, _, _, got) = get(addr, &format!("/v2/app/blobs/{d}"), "*/*").await;
            assert_eq!(status, 200);
            assert_eq!(got, blob, "{d} byte-identical");
        }
    }

    /// Asserts failure naming the layer and the source, and that the
    /// destination holds neither the layer nor the manifest; returns stderr.
    async fn assert_failed_cleanly(&self) -> String {
        assert!(!self.out.status.success());
        let err = String::from_utf8_lossy(&self.out.stderr).into_owned();
        eprintln!("{err}");
        assert!(
            err.contains(&self.layer().to_string()),
            "names the blob: {err}"
        );
        assert!(err.contains(&self.src.addr), "names the source: {err}");
        let r = common::push::http()
            .head(format!(
                "http://{}/v2/app/blobs/{}",
                self.dst.addr(),
                self.layer()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "no wrong blob at the destination");
        let (status, ..) = get(self.dst.addr(), "/v2/app/manifests/v1", MANIFEST_ACCEPT).await;
        assert_eq!(status, 404, "no manifest naming missing content");
        err
    }
}

#[tokio::test]
async fn a_dropped_blob_download_resumes_with_a_range_request() {
    let run = Run::copy("fault-drop", 400_000, Fault::DropHalfway).await;
    run.assert_copied().await;
    let gets = run.layer_requests();
    assert_eq!(gets.len(), 2, "one broken download, one resumed: {gets:?}");
    assert_eq!(gets[0].range, None);
    let half = run.img.layers[0].len() / 2;
    assert_eq!(
        gets[1].range.as_deref(),
        Some(format!("bytes={half}-").as_str()),
        "the second request asks for the rest"
    );
    assert_eq!(gets[1].status, 206);
}

#[tokio::test]
async fn a_server_ignoring_ranges_sends_the_blob_again_and_the_copy_succeeds() {
    let run = Run::copy("fault-norange", 300_000, Fault::DropHalfwayNoRanges).await;
    run.assert_copied().await;
    let gets = run.layer_requests();
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert!(gets[1].range.is_some(), "asked for the rest first");
    assert_eq!(gets[1].status, 200, "and got everything again");
}

#[tokio::test]
async fn a_503_with_retry_after_is_retried() {
    let run = Run::copy("fault-503", 50_000, Fault::Unavailable).await;
    run.assert_copied().await;
    let statuses: Vec<u16> = run.layer_requests().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [503, 200]);
}

#[tokio::test]
async fn bytes_not_matching_the_digest_fail_the_copy_and_leave_nothing() {
    let run = Run::copy("fault-corrupt", 200_000, Fault::Corrupt).await;
    let err = run.assert_failed_cleanly().await;
    assert!(err.contains("digest mismatch"), "says why: {err}");
    assert!(err.contains("reading from"), "blames the source: {err}");
}

#[tokio::test]
async fn a_blob_that_always_breaks_fails_after_bounded_attempts() {
    let run = Run::copy("fault-always", 100_000, Fault::AlwaysDrop).await;
    let err = run.assert_failed_cleanly().await;
    let half = run.img.layers[0].len() / 2;
    assert!(
        err.contains(&format!("broke at byte {half}")),
        "says where it stopped: {err}"
    );
    // The default policy: the first request and 3 resumed ones.
    assert_eq!(run.layer_requests().len(), 4);
}
