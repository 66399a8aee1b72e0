//! A real `redis-server` on a free loopback port, in a temp dir.

use crate::net::{free_port, require_binary};
use anyhow::Context;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// A running redis-server, killed when dropped; it can be stopped and
/// started again on the same port (an outage).
pub struct RedisServer {
    port: u16,
    binary: std::path::PathBuf,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

/// Starts redis-server on `port` in `dir` and waits until it answers from
/// there.
async fn spawn(
    binary: &std::path::Path,
    port: u16,
    dir: &std::path::Path,
) -> anyhow::Result<Child> {
    let mut child = Command::new(binary)
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("could not start redis-server")?;
    let dir_name = dir.display().to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            anyhow::bail!("redis-server exited: {status}");
        }
        if answers_from(port, &dir_name).await {
            return Ok(child);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("redis-server did not answer within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl RedisServer {
    /// Starts redis-server (no persistence) and waits until it answers.
    ///
    /// The port is picked free, then bound by the server; should another
    /// test's server take it first, ours fails to start and is tried again
    /// on another port (the answer is checked to come from our data dir).
    pub async fn start() -> anyhow::Result<Self> {
        let binary = require_binary("redis-server", "redis-server")?;
        let mut last = None;
        for _ in 0..5 {
            let dir = tempfile::tempdir().context("temp dir for redis")?;
            let port = free_port()?;
            match spawn(&binary, port, dir.path()).await {
                Ok(child) => {
                    return Ok(Self {
                        port,
                        binary,
                        child: Some(child),
                        dir,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("redis-server did not start")))
    }

    /// Kills the server (its data goes with it: no persistence).
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await.context("stopping redis-server")?;
        }
        Ok(())
    }

    /// Starts the server again on the same port, after [`RedisServer::stop`].
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        self.child = Some(spawn(&self.binary, self.port, self.dir.path()).await?);
        Ok(())
    }

    /// `GET key` (a key without spaces): its value, `None` when unset.
    pub async fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        s.write_all(format!("GET {key}\r\n").as_bytes()).await?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 512];
        // `$-1\r\n`, or `$N\r\n<N bytes>\r\n`.
        loop {
            let n = s.read(&mut buf).await?;
            anyhow::ensure!(n > 0, "redis closed the connection mid-reply");
            reply.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&reply).into_owned();
            if text.starts_with("$-1\r\n") {
                return Ok(None);
            }
            if let Some((len, rest)) = text.strip_prefix('$').and_then(|t| t.split_once("\r\n")) {
                let len: usize = len.parse()?;
                if rest.len() >= len + 2 {
                    return Ok(Some(rest[..len].to_owned()));
                }
            } else if !text.starts_with('$') {
                anyhow::bail!("redis answered GET with {text:?}");
            }
        }
    }

    /// `SET key value` (neither with spaces), as something other than Weft
    /// writes keys.
    pub async fn set(&self, key: &str, value: &str) -> anyhow::Result<()> {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        s.write_all(format!("SET {key} {value}\r\n").as_bytes())
            .await?;
        let mut reply = [0u8; 64];
        let n = s.read(&mut reply).await?;
        let text = String::from_utf8_lossy(&reply[..n]);
        anyhow::ensure!(text.starts_with("+OK"), "redis answered SET with {text:?}");
        Ok(())
    }

    /// `DBSIZE`: how many keys the server holds.
    pub async fn dbsize(&self) -> anyhow::Result<u64> {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        s.write_all(b"DBSIZE\r\n").await?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 64];
        // `:N\r\n`.
        while !reply.ends_with(b"\r\n") {
            let n = s.read(&mut buf).await?;
            anyhow::ensure!(n > 0, "redis closed the connection mid-reply");
            reply.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&reply);
        text.trim()
            .strip_prefix(':')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("redis answered DBSIZE with {text:?}"))
    }

    /// The `redis://` URL of the server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

/// Whether the redis-server on `port` is the one keeping its data in `dir`.
async fn answers_from(port: u16, dir: &str) -> bool {
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if s.write_all(b"CONFIG GET dir\r\n").await.is_err() {
        return false;
    }
    let mut buf = vec![0u8; 4096];
    let Ok(n) = s.read(&mut buf).await else {
        return false;
    };
    String::from_utf8_lossy(&buf[..n]).contains(dir)
}
