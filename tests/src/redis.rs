//! A real `redis-server` on a free loopback port, in a temp dir.

use crate::net::{free_port, require_binary, wait_for};
use anyhow::Context;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// A running redis-server, killed when dropped.
pub struct RedisServer {
    port: u16,
    _child: Child,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts redis-server (no persistence) and waits until it answers PING.
    pub async fn start() -> anyhow::Result<Self> {
        let binary = require_binary("redis-server", "redis-server")?;
        let dir = tempfile::tempdir().context("temp dir for redis")?;
        let port = free_port()?;
        let child = Command::new(binary)
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
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("could not start redis-server")?;
        let server = Self {
            port,
            _child: child,
            _dir: dir,
        };
        wait_for(
            "redis-server to answer PING",
            Duration::from_secs(10),
            || server.ping(),
        )
        .await?;
        Ok(server)
    }

    /// The `redis://` URL of the server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn ping(&self) -> Option<()> {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .ok()?;
        s.write_all(b"PING\r\n").await.ok()?;
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).await.ok()?;
        buf[..n].starts_with(b"+PONG").then_some(())
    }
}
