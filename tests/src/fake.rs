//! A scriptable HTTP server for tests of what Weft sends and how it takes
//! hostile answers: it records every request head and answers each with
//! the raw bytes a closure makes (any status, headers, size, or nonsense).
//! One request per connection; stopped when dropped.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target (path and query).
    pub path: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    /// The value of header `name` (lower case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What answers a request: the raw response bytes.
pub type Answer = dyn Fn(&Seen) -> Vec<u8> + Send + Sync;

/// A running fake server on a free loopback port.
pub struct FakeServer {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A response with `status`, extra `headers` and `body`, closing the
/// connection.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

impl FakeServer {
    /// Starts a server answering every request with `answer`.
    pub async fn start(
        answer: impl Fn(&Seen) -> Vec<u8> + Send + Sync + 'static,
    ) -> anyhow::Result<Self> {
        Self::serve(answer, false).await
    }

    /// Starts a server answering every request with `head` (status line
    /// and headers, no length) and then a body that never ends: zeros for
    /// as long as the client reads.
    pub async fn endless(head: &str) -> anyhow::Result<Self> {
        let head = format!("{head}\r\nconnection: close\r\n\r\n").into_bytes();
        Self::serve(move |_| head.clone(), true).await
    }

    async fn serve(
        answer: impl Fn(&Seen) -> Vec<u8> + Send + Sync + 'static,
        endless: bool,
    ) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let answer: Arc<Answer> = Arc::new(answer);
        let record = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let record = record.clone();
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let mut lines = text.split("\r\n");
                    let mut first = lines.next().unwrap_or_default().split(' ');
                    let seen = Seen {
                        method: first.next().unwrap_or_default().to_owned(),
                        path: first.next().unwrap_or_default().to_owned(),
                        headers: lines
                            .filter_map(|l| l.split_once(':'))
                            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                            .collect(),
                    };
                    let reply = answer(&seen);
                    if let Ok(mut all) = record.lock() {
                        all.push(seen);
                    }
                    if stream.write_all(&reply).await.is_err() {
                        return;
                    }
                    let zeros = vec![0u8; 64 << 10];
                    while endless && stream.write_all(&zeros).await.is_ok() {}
                    let _ = stream.shutdown().await;
                });
            }
        });
        Ok(Self { addr, seen, task })
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// `host:port` as a registry reference names it.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}
