//! Password guessing against `regctl serve --htpasswd` (issue 12, item 4):
//! a flood of wrong passwords must neither stall a logged-in client nor
//! run at the attacker's pace.

mod common;

use std::time::{Duration, Instant};

use common::Serve;
use reqwest::StatusCode;

const GUESSERS: usize = 20;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test]
async fn a_wrong_password_flood_is_throttled_and_does_not_stall_a_logged_in_client() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    // Cost 10, as `htpasswd -B` makes by default.
    let hash = bcrypt::hash("s3cret", 10).unwrap();
    std::fs::write(&htpasswd, format!("alice:{hash}\n")).unwrap();
    let serve = Serve::start(&["--htpasswd", htpasswd.to_str().unwrap()]);
    let base = format!("http://{}", serve.addr());
    let client = reqwest::Client::new();
    let login = |c: &reqwest::Client| {
        c.get(format!("{base}/v2/"))
            .basic_auth("alice", Some("s3cret"))
    };
    assert_eq!(
        login(&client).send().await.unwrap().status(),
        StatusCode::OK
    );

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut guessers = Vec::new();
    for g in 0..GUESSERS {
        let stop = stop.clone();
        let url = format!("{base}/v2/");
        guessers.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            let (mut denied, mut throttled, mut retry_after) = (0u32, 0u32, None);
            for i in 0..2000 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let user = if i % 2 == 0 { "alice" } else { "mallory" };
                let Ok(r) = c
                    .get(&url)
                    .basic_auth(user, Some(format!("guess-{g}-{i}")))
                    .send()
                    .await
                else {
                    continue;
                };
                match r.status() {
                    StatusCode::UNAUTHORIZED => denied += 1,
                    StatusCode::TOO_MANY_REQUESTS => {
                        throttled += 1;
                        retry_after = r
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                        // A polite attacker would wait; this one does not.
                    }
                    s => panic!("a guess got {s}"),
                }
            }
            (denied, throttled, retry_after)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut latencies = Vec::new();
    for _ in 0..60 {
        let t = Instant::now();
        let status = login(&client).send().await.unwrap().status();
        latencies.push(t.elapsed());
        assert_eq!(status, StatusCode::OK, "the logged-in client was refused");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut denied, mut throttled, mut retry_after) = (0, 0, None);
    for g in guessers {
        let (d, t, r) = g.await.unwrap();
        denied += d;
        throttled += t;
        retry_after = retry_after.or(r);
    }
    latencies.sort();
    println!(
        "logged-in GET /v2/ under {GUESSERS} guessers: median {:?}, p90 {:?}, max {:?}; guesses: {denied} answered 401, {throttled} answered 429",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        latencies[latencies.len() - 1]
    );
    assert!(
        denied <= 2 * regctl::server::MAX_FAILURES,
        "{denied} guesses were checked; the address should have been refused after {}",
        regctl::server::MAX_FAILURES
    );
    assert!(throttled > 0, "no guess was answered 429");
    let retry_after = retry_after.expect("429 without Retry-After");
    assert!((1..=regctl::server::LOCKOUT.as_secs()).contains(&retry_after));
    // Generous: the point is that the client does not pay for the guesses.
    assert!(
        percentile(&latencies, 0.5) < Duration::from_millis(200),
        "median {:?}",
        percentile(&latencies, 0.5)
    );
}
