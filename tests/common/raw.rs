//! Raw HTTP/1.1 over a TCP stream: paths reach the server exactly as
//! written, and a request can be sent in pieces (a body that stalls, a
//! client that stops half-way, a second request timed inside the first).

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What came back for one request.
pub struct Answer {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// A write that failed because the server closed on us.
    pub write_error: Option<String>,
}

/// Shows the body as text, cut short: blobs in assertion messages are noise.
impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = &self.body[..self.body.len().min(300)];
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field(
                "body",
                &format!(
                    "{} ({} bytes)",
                    String::from_utf8_lossy(shown),
                    self.body.len()
                ),
            )
            .field("write_error", &self.write_error)
            .finish()
    }
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first error code of a JSON error body, or "" when there is none.
    pub fn code(&self) -> String {
        let v: Value = serde_json::from_slice(&self.body).unwrap_or_default();
        v["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// The request head: `Connection: close`, and a `Content-Length` of
/// `body_len` unless the headers set a length or an encoding.
pub fn request_head(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body_len: usize,
) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("transfer-encoding") || k.eq_ignore_ascii_case("content-length")
    }) {
        head.push_str(&format!("Content-Length: {body_len}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// One request as raw HTTP/1.1 on a fresh connection.
pub async fn raw(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut conn = RawConn::open(addr, method, path, headers, body.len()).await;
    conn.send(body).await;
    conn.answer().await
}

/// A request being sent piece by piece.
pub struct RawConn {
    stream: TcpStream,
    write_error: Option<String>,
}

impl RawConn {
    /// Connects and sends the head of a request whose body is `body_len`
    /// bytes (or as the headers say).
    pub async fn open(
        addr: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body_len: usize,
    ) -> RawConn {
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut conn = RawConn {
            stream,
            write_error: None,
        };
        let head = request_head(addr, method, path, headers, body_len);
        conn.send(head.as_bytes()).await;
        conn
    }

    /// Sends more bytes; a failed write is kept for the answer.
    pub async fn send(&mut self, data: &[u8]) {
        if self.write_error.is_some() {
            return;
        }
        if let Err(e) = self.stream.write_all(data).await {
            self.write_error = Some(e.to_string());
        }
    }

    /// Whether a write failed (the server closed the connection).
    pub fn write_failed(&self) -> bool {
        self.write_error.is_some()
    }

    /// Reads the answer up to the server closing the connection.
    pub async fn answer(mut self) -> Answer {
        let mut out = Vec::new();
        let _ = self.stream.read_to_end(&mut out).await;
        parse_answer(&out, self.write_error)
    }
}

pub fn parse_answer(out: &[u8], write_error: Option<String>) -> Answer {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(out.len());
    let head = String::from_utf8_lossy(&out[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.get(9..12))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = out.get(split + 4..).unwrap_or_default().to_vec();
    Answer {
        status,
        headers,
        body,
        write_error,
    }
}
