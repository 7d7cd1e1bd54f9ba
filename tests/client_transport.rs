//! Transport behaviour against misbehaving peers the test runs itself on
//! loopback: `Link` headers to another origin (no credentials; never from
//! https down to http), catalogs whose paging never ends, `ls` output
//! streamed page by page, servers that accept and never answer
//! (`--timeout`), and proxies (never for loopback; `NO_PROXY` honoured).

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use common::{Serve, regctl, run_ok};
use regctl::client::{Client, ClientError, ClientOptions, Credential, RetryPolicy, Secret};
use regctl::types::reference::Scheme;

/// One request as a raw server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    authorization: Option<String>,
}

/// What a raw server answers; `hold` delays the answer until notified.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    hold: Option<Arc<tokio::sync::Notify>>,
}

fn json(body: serde_json::Value) -> Reply {
    Reply {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string(),
        hold: None,
    }
}

fn with_link(mut r: Reply, link: &str) -> Reply {
    r.headers
        .push(("Link".into(), format!("<{link}>; rel=\"next\"")));
    r
}

type Handler = Arc<dyn Fn(&Seen, usize) -> Reply + Send + Sync>;

/// A small HTTP/1.1 server (one request per connection) that records what
/// it is sent. Like real servers, it answers a TLS handshake sent to it
/// with a plain-HTTP 400.
struct Raw {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// TLS handshakes it was sent (and answered with a plain 400).
    tls_hellos: Arc<AtomicUsize>,
}

impl Raw {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn raw_server(bind: &str, tls: Option<tokio_rustls::TlsAcceptor>, handler: Handler) -> Raw {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let tls_hellos = Arc::new(AtomicUsize::new(0));
    let seen2 = seen.clone();
    let hellos = tls_hellos.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (handler, seen, count, tls, hellos) = (
                handler.clone(),
                seen2.clone(),
                count.clone(),
                tls.clone(),
                hellos.clone(),
            );
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(stream).await {
                            serve_one(s, handler, seen, count, hellos).await;
                        }
                    }
                    None => serve_one(stream, handler, seen, count, hellos).await,
                }
            });
        }
    });
    Raw {
        addr,
        seen,
        tls_hellos,
    }
}

async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    handler: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
    count: Arc<AtomicUsize>,
    tls_hellos: Arc<AtomicUsize>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match tokio::time::timeout(Duration::from_secs(30), s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
        if buf.first() == Some(&0x16) {
            tls_hellos.fetch_add(1, Ordering::SeqCst);
            let _ = s
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_owned();
    let target = first.next().unwrap_or("").to_owned();
    let authorization = lines.take_while(|l| !l.is_empty()).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("authorization")
            .then(|| v.trim().to_owned())
    });
    let req = Seen {
        method,
        target,
        authorization,
    };
    seen.lock().unwrap().push(req.clone());
    let n = count.fetch_add(1, Ordering::SeqCst);
    let reply = handler(&req, n);
    if let Some(hold) = &reply.hold {
        hold.notified().await;
    }
    let mut out = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    let _ = s.write_all(out.as_bytes()).await;
    let _ = s.shutdown().await;
}

fn client(ca_certs: Vec<std::path::PathBuf>) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new(ClientOptions {
        docker_config: None,
        docker_certs_dir: None,
        ca_certs,
        timeout: Duration::from_secs(10),
        retry: RetryPolicy::none(),
        ..ClientOptions::default()
    })
    .unwrap()
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// A second loopback address when the system routes 127.0.0.2 (Linux
/// does), else another port on 127.0.0.1: either is another origin.
async fn other_loopback() -> &'static str {
    if TcpListener::bind("127.0.0.2:0").await.is_ok() {
        "127.0.0.2:0"
    } else {
        "127.0.0.1:0"
    }
}

#[tokio::test]
async fn a_link_to_another_origin_is_followed_without_credentials() {
    let other = raw_server(
        other_loopback().await,
        None,
        Arc::new(|_, _| json(serde_json::json!({"repositories": ["c", "d"]}))),
    )
    .await;
    let next = format!("http://{}/v2/_catalog?last=b&n=2", other.addr);
    let registry = raw_server(
        "127.0.0.1:0",
        None,
        Arc::new(move |req, _| {
            if req.authorization.as_deref() != Some(&basic("alice", "pw")) {
                return Reply {
                    status: 401,
                    headers: vec![("WWW-Authenticate".into(), r#"Basic realm="test""#.into())],
                    body: String::new(),
                    hold: None,
                };
            }
            with_link(json(serde_json::json!({"repositories": ["a", "b"]})), &next)
        }),
    )
    .await;
    let reg = registry.addr.to_string();
    let c = client(Vec::new());
    c.set_credential(
        &reg,
        Credential::Basic {
            username: "alice".into(),
            password: Secret::new("pw"),
        },
    );
    let names = c.catalog(&reg, Some(2), None).await.unwrap();
    assert_eq!(names, ["a", "b", "c", "d"]);
    assert!(
        registry
            .seen()
            .iter()
            .any(|s| s.authorization.as_deref() == Some(&basic("alice", "pw"))),
        "the registry itself got the credentials"
    );
    let at_other = other.seen();
    assert_eq!(at_other.len(), 1, "{at_other:?}");
    assert_eq!(at_other[0].method, "GET");
    assert_eq!(
        at_other[0].authorization, None,
        "credentials leaked to another origin"
    );
}

/// A self-signed certificate for 127.0.0.1 and localhost, made the way
/// registry guides show (`openssl req -x509`, which marks it CA:TRUE).
fn self_signed(dir: &Path, name: &str) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    if !common::require_peer("openssl") {
        return None;
    }
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let out = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((cert, key))
}

fn acceptor(cert: &Path, key: &Path) -> tokio_rustls::TlsAcceptor {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certs = rustls_pemfile::certs(&mut std::fs::read(cert).unwrap().as_slice())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pemfile::private_key(&mut std::fs::read(key).unwrap().as_slice())
        .unwrap()
        .unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

#[tokio::test]
async fn a_link_from_https_down_to_http_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Some((cert, key)) = self_signed(dir.path(), "server") else {
        return;
    };
    let plain = raw_server(
        "127.0.0.1:0",
        None,
        Arc::new(|_, _| json(serde_json::json!({"repositories": ["leaked"]}))),
    )
    .await;
    let next = format!("http://{}/v2/_catalog?last=b&n=2", plain.addr);
    let secure = raw_server(
        "127.0.0.1:0",
        Some(acceptor(&cert, &key)),
        Arc::new(move |_, _| {
            with_link(json(serde_json::json!({"repositories": ["a", "b"]})), &next)
        }),
    )
    .await;
    let reg = secure.addr.to_string();
    // The self-signed CA:TRUE certificate is pinned; https is spoken.
    let c = client(vec![cert]);
    let err = c.catalog(&reg, Some(2), None).await.unwrap_err();
    assert!(matches!(err, ClientError::Paging { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("https") && msg.contains(&plain.addr.to_string()),
        "{msg}"
    );
    assert!(plain.seen().is_empty(), "the http link was followed");
    assert_eq!(
        secure.seen().len(),
        2,
        "probe and first page: {:?}",
        secure.seen()
    );
}

/// Runs a catalog listing against a raw server and returns its error and
/// the number of requests the server saw.
async fn endless(handler: Handler) -> (ClientError, usize) {
    let server = raw_server("127.0.0.1:0", None, handler).await;
    let reg = server.addr.to_string();
    let c = client(Vec::new());
    c.set_scheme(&reg, Scheme::Http);
    let result = tokio::time::timeout(Duration::from_secs(60), c.catalog(&reg, Some(2), None))
        .await
        .expect("paging did not stop within 60 s");
    let err = result.expect_err("an endless catalog must be an error");
    (err, server.seen().len())
}

#[tokio::test]
async fn catalogs_whose_paging_never_ends_stop_with_a_clear_error() {
    // The same page again and again, each time under a new link.
    let (err, requests) = endless(Arc::new(|_, n| {
        with_link(
            json(serde_json::json!({"repositories": ["x", "y"]})),
            &format!("/v2/_catalog?last=y&n=2&page={}", n + 1),
        )
    }))
    .await;
    assert!(matches!(err, ClientError::Paging { .. }), "{err}");
    assert!(err.to_string().contains("same page again"), "{err}");
    assert_eq!(requests, 2);

    // New names, but `last` stays where it was.
    let (err, requests) = endless(Arc::new(|_, n| {
        with_link(
            json(serde_json::json!({"repositories": [format!("r{n:06}")]})),
            &format!("/v2/_catalog?last=r000000&n=2&k={n}"),
        )
    }))
    .await;
    assert!(err.to_string().contains("does not advance"), "{err}");
    assert_eq!(requests, 2);

    // A link back to the first page.
    let (err, requests) = endless(Arc::new(|req, _| {
        if req.target.contains("last=") {
            with_link(
                json(serde_json::json!({"repositories": ["c"]})),
                "/v2/_catalog?n=2",
            )
        } else {
            with_link(
                json(serde_json::json!({"repositories": ["a", "b"]})),
                "/v2/_catalog?last=b&n=2",
            )
        }
    }))
    .await;
    assert!(err.to_string().contains("already read"), "{err}");
    assert_eq!(requests, 2);
}

/// Lines of a child's stdout, read on a thread so the test can wait with a
/// deadline.
fn lines_of(stdout: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_prints_each_page_as_it_arrives() {
    const PAGES: usize = 5;
    const PER_PAGE: usize = 100;
    let release = Arc::new(tokio::sync::Notify::new());
    let hold = release.clone();
    let server = raw_server(
        "127.0.0.1:0",
        None,
        Arc::new(move |req, _| {
            let page: usize = req
                .target
                .split("page=")
                .nth(1)
                .and_then(|p| p.split('&').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let names: Vec<String> = (0..PER_PAGE)
                .map(|i| format!("repo{:04}", page * PER_PAGE + i))
                .collect();
            let last = names.last().cloned().unwrap_or_default();
            let mut reply = json(serde_json::json!({ "repositories": names }));
            if page + 1 < PAGES {
                reply = with_link(
                    reply,
                    &format!("/v2/_catalog?last={last}&n={PER_PAGE}&page={}", page + 1),
                );
            } else {
                // The last page waits until the test saw the others printed.
                reply.hold = Some(hold.clone());
            }
            reply
        }),
    )
    .await;
    let home = tempfile::tempdir().unwrap();
    let mut child = regctl(home.path())
        .args([
            "ls",
            &format!("http://{}", server.addr),
            "--page-size",
            &PER_PAGE.to_string(),
            "--format",
            "plain",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stdout.take().unwrap());
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.len() < (PAGES - 1) * PER_PAGE {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(l) => got.push(l),
            Err(_) => {
                release.notify_one();
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "only {} lines were printed before the last page was served: \
                     ls does not stream",
                    got.len()
                );
            }
        }
    }
    release.notify_one();
    got.extend(lines.iter());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
    let want: Vec<String> = (0..PAGES * PER_PAGE)
        .map(|i| format!("repo{i:04}"))
        .collect();
    assert_eq!(got, want);
}

/// A listener that accepts connections and never answers; connections are
/// held until the returned guard is dropped.
struct Silent {
    addr: SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn silent_server() -> Silent {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !stop2.load(Ordering::SeqCst) && Instant::now() < deadline {
            if let Ok((s, _)) = listener.accept() {
                held.push(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    Silent { addr, stop }
}

#[test]
fn a_registry_that_never_answers_times_out_naming_it() {
    let silent = silent_server();
    let home = tempfile::tempdir().unwrap();
    let addr = silent.addr.to_string();
    for (args, env) in [
        // https first on loopback: the TLS handshake gets no answer, then
        // neither does plain http.
        (vec!["--timeout", "1s", "ls", addr.as_str()], None),
        // Plain http: the response never comes.
        (
            vec!["ls", &format!("http://{addr}")],
            Some(("REGCTL_TIMEOUT", "1s")),
        ),
    ] {
        let started = Instant::now();
        let mut cmd = regctl(home.path());
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.args(&args).output().unwrap();
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("{addr} did not answer within 1s")),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains("--timeout"),
            "a hint names the flag: {stderr}"
        );
        println!("{args:?}: gave up after {took:?}");
        assert!(took < Duration::from_secs(60), "took {took:?}");
    }
    // A timeout that is not a duration is named.
    let out = regctl(home.path())
        .args(["--timeout", "soon", "ls", &addr])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--timeout") && stderr.contains("\"soon\"") && stderr.contains("30s"),
        "{stderr}"
    );
}

/// A port nothing listens on.
fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn loopback_registries_bypass_proxy_settings() {
    let serve = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let proxy = format!("http://127.0.0.1:{}", dead_port());
    for target in [
        serve.addr().to_owned(),
        format!("localhost:{}", serve.addr().rsplit(':').next().unwrap()),
    ] {
        let out = regctl(home.path())
            .env("HTTP_PROXY", &proxy)
            .env("HTTPS_PROXY", &proxy)
            .env("ALL_PROXY", &proxy)
            .env("http_proxy", &proxy)
            .env("https_proxy", &proxy)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .args(["ls", &target, "--format", "json"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&run_ok(out)).unwrap();
        assert_eq!(v["repositories"], serde_json::json!([]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_hosts_use_the_proxy_unless_no_proxy_names_them() {
    // A forward proxy on loopback that answers for the registry itself, so
    // that no request leaves the machine.
    let proxy = raw_server(
        "127.0.0.1:0",
        None,
        Arc::new(|_, _| json(serde_json::json!({"repositories": ["via-proxy"]}))),
    )
    .await;
    let proxy_url = format!("http://{}", proxy.addr);
    let home = tempfile::tempdir().unwrap();
    let run = |no_proxy: Option<&'static str>| {
        let mut cmd = regctl(home.path());
        cmd.env("HTTP_PROXY", &proxy_url)
            .env("http_proxy", &proxy_url)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .args([
                "--timeout",
                "5s",
                "ls",
                "http://registry.regctl-test.invalid:5000",
            ]);
        if let Some(n) = no_proxy {
            cmd.env("NO_PROXY", n);
        }
        async move {
            tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap()
        }
    };
    let out = run(None).await;
    assert_eq!(run_ok(out), "via-proxy\n");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].target,
        "http://registry.regctl-test.invalid:5000/v2/_catalog?n=1000"
    );
    // Named in NO_PROXY (as a domain suffix, as curl reads it): direct,
    // and the name does not resolve.
    let out = run(Some("localhost,.regctl-test.invalid")).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("registry.regctl-test.invalid"), "{stderr}");
    assert_eq!(proxy.seen().len(), 1, "NO_PROXY was ignored");

    // A proxy that is down is named as the culprit, not the registry.
    let dead = format!("http://127.0.0.1:{}", dead_port());
    let out = regctl(home.path())
        .env("HTTP_PROXY", &dead)
        .env("http_proxy", &dead)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .args([
            "--timeout",
            "5s",
            "ls",
            "http://registry.regctl-test.invalid:5000",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("through the proxy {dead}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("NO_PROXY=registry.regctl-test.invalid"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_into_a_reader_that_stops_stops_fetching_pages() {
    const PAGES: usize = 50;
    // Page 2 waits until the reader is gone, so that the outcome does not
    // depend on how much fits in the pipe.
    let release = Arc::new(tokio::sync::Notify::new());
    let hold = release.clone();
    let server = raw_server(
        "127.0.0.1:0",
        None,
        Arc::new(move |req, _| {
            let page: usize = req
                .target
                .split("last=p")
                .nth(1)
                .and_then(|p| p.split(['-', '&']).next())
                .and_then(|p| p.parse::<usize>().ok())
                .map_or(0, |p| p + 1);
            let names: Vec<String> = (0..10).map(|i| format!("p{page:03}-{i}")).collect();
            let last = names.last().cloned().unwrap_or_default();
            let mut reply = json(serde_json::json!({ "repositories": names }));
            if page == 1 {
                reply.hold = Some(hold.clone());
            }
            if page + 1 < PAGES {
                with_link(reply, &format!("/v2/_catalog?last={last}&n=10"))
            } else {
                reply
            }
        }),
    )
    .await;
    let home = tempfile::tempdir().unwrap();
    let mut child = regctl(home.path())
        .args([
            "ls",
            &format!("http://{}", server.addr),
            "--page-size",
            "10",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    reader.read_line(&mut first).unwrap();
    assert_eq!(first, "p000-0\n");
    drop(reader);
    release.notify_one();
    let out = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                return child.wait_with_output().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("regctl kept running after its reader went away");
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "a closed pipe is a quiet end: {stderr}"
    );
    let fetched = server.seen().len();
    println!("pages fetched after the reader stopped at page 1: {fetched} of {PAGES}");
    assert!(fetched < PAGES, "all {PAGES} pages were fetched for nobody");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_share_one_scheme_probe() {
    let server = raw_server(
        "127.0.0.1:0",
        None,
        Arc::new(|_, _| json(serde_json::json!({"repositories": ["a"]}))),
    )
    .await;
    let reg = server.addr.to_string();
    let c = client(Vec::new());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (c, reg) = (c.clone(), reg.clone());
            tokio::spawn(async move { c.catalog(&reg, None, None).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), ["a"]);
    }
    assert_eq!(
        server.tls_hellos.load(Ordering::SeqCst),
        1,
        "one https probe for 8 concurrent first requests"
    );
    assert_eq!(server.seen().len(), 8);
    assert_eq!(c.fixed_scheme(&reg), Some(Scheme::Http));
}

#[tokio::test]
async fn a_certificate_in_certs_d_is_pinned_for_its_registry_only() {
    let dir = tempfile::tempdir().unwrap();
    let Some((cert, key)) = self_signed(dir.path(), "server") else {
        return;
    };
    let handler: Handler = Arc::new(|_, _| json(serde_json::json!({"repositories": ["ok"]})));
    let pinned = raw_server("127.0.0.1:0", Some(acceptor(&cert, &key)), handler.clone()).await;
    let other = raw_server("127.0.0.1:0", Some(acceptor(&cert, &key)), handler).await;
    let certs_d = dir.path().join("certs.d");
    let host_dir = certs_d.join(pinned.addr.to_string());
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::copy(&cert, host_dir.join("ca.crt")).unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = Client::new(ClientOptions {
        docker_config: None,
        docker_certs_dir: Some(certs_d),
        timeout: Duration::from_secs(10),
        retry: RetryPolicy::none(),
        ..ClientOptions::default()
    })
    .unwrap();
    let names = c
        .catalog(&pinned.addr.to_string(), None, None)
        .await
        .unwrap();
    assert_eq!(names, ["ok"]);
    let err = c
        .catalog(&other.addr.to_string(), None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Tls { .. }), "{err}");
}
