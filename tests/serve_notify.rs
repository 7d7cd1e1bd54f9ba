//! Event notifications (`regctl serve --notify URL`, issue 18), compared
//! side by side with what the real registry:2 sends for the same traffic.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::push::{http, push_image};
use common::{DistRegistry, Serve, TestImage};
use regctl::types::Digest;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// What the receiver got: (content type, envelope).
type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// A small HTTP receiver on loopback; answers `status` to every POST.
async fn receiver(status: u16) -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let got: Received = Arc::default();
    let store = got.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut ct = String::new();
                    let mut len = 0usize;
                    let mut line = String::new();
                    // Request line, then headers.
                    if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = l.split_once(':') {
                            match k.to_ascii_lowercase().as_str() {
                                "content-type" => ct = v.trim().to_owned(),
                                "content-length" => len = v.trim().parse().unwrap_or(0),
                                _ => {}
                            }
                        }
                    }
                    let mut body = vec![0u8; len.min(1 << 20)];
                    if stream.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    if status == 200
                        && let Ok(v) = serde_json::from_slice(&body)
                    {
                        store.lock().unwrap().push((ct, v));
                    }
                    let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
                    if stream.get_mut().write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, got)
}

/// The same traffic against either registry: a push by tag, a pull of
/// the manifest and of a layer, a delete of the manifest.
async fn traffic(addr: &str, img: &TestImage) {
    push_image(addr, "events/app", "v1", img).await;
    let r = http()
        .get(format!("http://{addr}/v2/events/app/manifests/v1"))
        .header("Accept", img.media_type)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.bytes().await.unwrap();
    let layer = Digest::sha256_of(&img.layers[0]);
    let r = http()
        .get(format!("http://{addr}/v2/events/app/blobs/{layer}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.bytes().await.unwrap();
    let r = http()
        .delete(format!(
            "http://{addr}/v2/events/app/manifests/{}",
            img.digest
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
}

/// Every event received, flattened.
fn events(got: &Received) -> Vec<Value> {
    got.lock()
        .unwrap()
        .iter()
        .flat_map(|(_, v)| v["events"].as_array().cloned().unwrap_or_default())
        .collect()
}

async fn wait_for(got: &Received, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let e = events(got);
        if done(&e) {
            return e;
        }
        assert!(Instant::now() < deadline, "{what}: got {e:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// (action, manifest or blob) of an event.
fn kind(e: &Value, manifest_digest: &str) -> (String, &'static str) {
    let action = e["action"].as_str().unwrap_or_default().to_owned();
    let is_manifest = e["target"]["digest"] == manifest_digest;
    (action, if is_manifest { "manifest" } else { "blob" })
}

fn find<'a>(events: &'a [Value], action: &str, what: &str, mt: &str) -> Option<&'a Value> {
    events.iter().find(|e| {
        kind(e, mt)
            == (
                action.to_owned(),
                if what == "manifest" {
                    "manifest"
                } else {
                    "blob"
                },
            )
    })
}

#[tokio::test]
async fn events_have_registry2_shape() {
    let (recv_addr, got) = receiver(200).await;
    let serve = Serve::start(&["--notify", &format!("http://{recv_addr}/events")]);
    let img = TestImage::oci("notify", 2, 1024);
    let mt_owned = img.digest.to_string();
    let mt = mt_owned.as_str();
    traffic(serve.addr(), &img).await;
    let ours = wait_for(&got, "regctl's events", |e| {
        e.iter().any(|x| x["action"] == "delete")
            && e.iter().filter(|x| x["action"] == "push").count() >= 4
            && e.iter().filter(|x| x["action"] == "pull").count() >= 2
    })
    .await;
    for (ct, _) in got.lock().unwrap().iter() {
        assert_eq!(ct, "application/vnd.docker.distribution.events.v1+json");
    }
    // Content checks on regctl's own events.
    let push = find(&ours, "push", "manifest", mt).unwrap();
    assert_eq!(push["target"]["repository"], "events/app");
    assert_eq!(push["target"]["tag"], "v1");
    assert_eq!(push["target"]["digest"], img.digest.to_string());
    assert_eq!(push["target"]["size"], img.manifest.len());
    assert_eq!(push["target"]["mediaType"], img.media_type);
    assert_eq!(push["request"]["method"], "PUT");
    let blob_pushes: Vec<_> = ours
        .iter()
        .filter(|e| kind(e, mt) == ("push".into(), "blob"))
        .collect();
    assert_eq!(blob_pushes.len(), 3, "config and two layers");
    for b in &blob_pushes {
        let d = b["target"]["digest"].as_str().unwrap();
        let blob = img
            .blobs()
            .into_iter()
            .find(|x| Digest::sha256_of(x).to_string() == d)
            .expect("a pushed blob");
        assert_eq!(b["target"]["size"], blob.len());
    }

    let Some(dist) = DistRegistry::start_with_config(&format!(
        "notifications:\n  endpoints:\n    - name: test\n      url: http://{recv_addr}/dist\n      timeout: 2s\n      threshold: 3\n      backoff: 1s\n"
    )) else {
        return;
    };
    got.lock().unwrap().clear();
    traffic(dist.addr(), &img).await;
    let theirs = wait_for(&got, "registry:2's events", |e| {
        e.iter().any(|x| x["action"] == "delete")
            && e.iter().filter(|x| x["action"] == "push").count() >= 4
    })
    .await;
    // Same actions on the same kinds of target, with the same keys.
    for (action, what) in [
        ("push", "manifest"),
        ("push", "blob"),
        ("pull", "manifest"),
        ("pull", "blob"),
        ("delete", "manifest"),
    ] {
        let Some(t) = find(&theirs, action, what, mt) else {
            panic!("registry:2 sent no {action} {what}: {theirs:#?}");
        };
        let o = find(&ours, action, what, mt)
            .unwrap_or_else(|| panic!("regctl sent no {action} {what}"));
        for part in ["", "target", "request", "actor", "source"] {
            let (tv, ov) = if part.is_empty() {
                (t, o)
            } else {
                (&t[part], &o[part])
            };
            assert_eq!(
                keys(ov),
                keys(tv),
                "{action} {what} {part}: ours {o:#} theirs {t:#}"
            );
        }
        assert_eq!(
            o["target"]["mediaType"], t["target"]["mediaType"],
            "{action} {what}"
        );
        assert_eq!(
            o["target"]["digest"], t["target"]["digest"],
            "{action} {what}"
        );
        assert_eq!(o["target"]["size"], t["target"]["size"], "{action} {what}");
    }
}

#[tokio::test]
async fn a_failing_endpoint_never_slows_or_fails_requests_and_drops_are_counted() {
    // An endpoint that answers 500 to everything, and one that does not
    // listen at all.
    let (bad_addr, _) = receiver(500).await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let serve = Serve::start(&[
        "--notify",
        &format!("http://{bad_addr}/"),
        "--notify",
        &format!("http://{dead}/"),
        "--notify-timeout",
        "500ms",
    ]);
    let img = TestImage::oci("notify-fail", 1, 512);
    let start = Instant::now();
    // Two pushes at once.
    tokio::join!(
        push_image(serve.addr(), "fail/a", "v1", &img),
        push_image(serve.addr(), "fail/b", "v1", &img)
    );
    println!("two pushes with failing endpoints: {:?}", start.elapsed());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = http()
            .get(format!("http://{}/metrics", serve.addr()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let dropped: f64 = text
            .lines()
            .find(|l| l.starts_with("regctl_notifications_total{outcome=\"dropped_failed\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0.0);
        if dropped >= 2.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no failed delivery counted:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
