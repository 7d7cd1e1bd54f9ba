//! A small W3C WebDriver client (JSON over HTTP on loopback) driving
//! headless Chromium through Debian's `chromedriver`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use super::peers::require_peer;

/// The key W3C WebDriver names elements by.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long `wait_*` polls before failing.
pub const WAIT: Duration = Duration::from_secs(15);

/// A headless Chromium session.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

/// A found element, with how it was found: the page re-renders parts of
/// itself (e.g. when sizes arrive), so an action on an element that went
/// stale finds it again the same way.
#[derive(Debug, Clone)]
pub struct Element {
    id: String,
    css: String,
    text: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End the session so chromedriver closes Chromium, then stop the
        // driver. Raw std I/O: no runtime is guaranteed here.
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let req = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session, self.port
            );
            let mut buf = Vec::new();
            let _ = s.write_all(req.as_bytes());
            let _ = s.read_to_end(&mut buf);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (skipped) when
    /// chromedriver is not installed, outside CI.
    pub async fn start() -> Option<Browser> {
        if !require_peer("chromedriver") {
            return None;
        }
        let port = free_port();
        let mut driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let http = super::push::http();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && let Ok(bytes) = r.bytes().await
                && let Ok(v) = serde_json::from_slice::<Value>(&bytes)
                && v["value"]["ready"] == json!(true)
            {
                break;
            }
            if Instant::now() > deadline || driver.try_wait().ok().flatten().is_some() {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("chromedriver did not start on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let mut options = json!({
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--hide-scrollbars", "--no-first-run",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        });
        if let Some(b) = binary {
            options["binary"] = json!(b);
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "unhandledPromptBehavior": "ignore",
        }}});
        let r = http
            .post(format!("{base}/session"))
            .header("Content-Type", "application/json")
            .body(caps.to_string())
            .send()
            .await
            .expect("new WebDriver session");
        let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        let Some(session) = v["value"]["sessionId"].as_str().map(str::to_owned) else {
            let _ = driver.kill();
            let _ = driver.wait();
            panic!("chromedriver refused a session: {v}");
        };
        Some(Browser {
            driver,
            port,
            session,
            http,
            _profile: profile,
        })
    }

    fn url(&self, path: &str) -> String {
        format!(
            "http://127.0.0.1:{}/session/{}{path}",
            self.port, self.session
        )
    }

    /// One command; the answer's `value`, or the WebDriver error as `Err`.
    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let url = self.url(path);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self
                .http
                .post(url)
                .header("Content-Type", "application/json")
                .body(body.unwrap_or_else(|| json!({})).to_string()),
        };
        let r = req.send().await.expect("WebDriver request");
        let ok = r.status().is_success();
        let v: Value = serde_json::from_slice(&r.bytes().await.expect("WebDriver answer"))
            .expect("WebDriver JSON");
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if ok { Ok(value) } else { Err(value) }
    }

    pub async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })))
            .await
            .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    pub async fn current_url(&self) -> String {
        self.cmd("GET", "/url", None)
            .await
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        match self
            .cmd(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await
        {
            Ok(Value::Array(items)) => items
                .iter()
                .filter_map(|e| {
                    e[ELEMENT_KEY].as_str().map(|id| Element {
                        id: id.to_owned(),
                        css: css.to_owned(),
                        text: String::new(),
                    })
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Runs a script (a function body; `arguments` holds `args`).
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// The page's visible text (for failure messages).
    pub async fn page_text(&self) -> String {
        self.execute("return document.body.innerText;", vec![])
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits for the first element matching `css` whose text holds `text`.
    pub async fn wait_for_text(&self, css: &str, text: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            for mut e in self.find_all(css).await {
                if self.text(&e).await.contains(text) {
                    e.text = text.to_owned();
                    return e;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "no {css:?} holding {text:?} within {WAIT:?} at {}; page:\n{}",
                    self.current_url().await,
                    self.page_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_for(&self, css: &str) -> Element {
        self.wait_for_text(css, "").await
    }

    /// Waits until `script` returns `true`.
    pub async fn wait_until(&self, what: &str, script: &str) {
        let deadline = Instant::now() + WAIT;
        while self.execute(script, vec![]).await != json!(true) {
            if Instant::now() > deadline {
                panic!(
                    "{what}: not within {WAIT:?} at {}; page:\n{}",
                    self.current_url().await,
                    self.page_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn text(&self, e: &Element) -> String {
        self.cmd("GET", &format!("/element/{}/text", e.id), None)
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Runs an element command; an element that went stale (its part of the
    /// page was drawn again) is found again and the command retried.
    async fn on_element(&self, what: &str, e: &Element, action: &str, body: Option<Value>) {
        let mut id = e.id.clone();
        for _ in 0..20 {
            match self
                .cmd("POST", &format!("/element/{id}/{action}"), body.clone())
                .await
            {
                Ok(_) => return,
                Err(err) if err["error"] == "stale element reference" => {
                    id = self.wait_for_text(&e.css, &e.text).await.id;
                }
                Err(err) => panic!("{what}: {err}"),
            }
        }
        panic!("{what}: {:?} kept going stale", e.css);
    }

    pub async fn click(&self, e: &Element) {
        self.on_element("click", e, "click", None).await;
    }

    pub async fn clear(&self, e: &Element) {
        self.on_element("clear", e, "clear", None).await;
    }

    pub async fn type_text(&self, e: &Element, text: &str) {
        self.on_element("type", e, "value", Some(json!({ "text": text })))
            .await;
    }

    /// The text of an open alert/confirm/prompt, if one is open.
    pub async fn alert_text(&self) -> Option<String> {
        self.cmd("GET", "/alert/text", None)
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
    }

    pub async fn set_window_size(&self, width: u32, height: u32) {
        let _ = self
            .cmd(
                "POST",
                "/window/rect",
                Some(json!({"width": width, "height": height})),
            )
            .await;
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let v = self.cmd("GET", "/screenshot", None).await.unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap()
    }
}
