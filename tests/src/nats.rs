//! A real `nats-server` with JetStream on a free loopback port, storing in a
//! temp dir; killed when dropped (and restartable on the same port).

use crate::net::{free_port, require_binary, wait_for_port};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// A running nats-server, killed when dropped.
pub struct NatsServer {
    port: u16,
    binary: PathBuf,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts nats-server with JetStream and waits until it accepts connections.
    pub async fn start() -> anyhow::Result<Self> {
        let binary = require_binary("nats-server", "nats-server")?;
        let dir = tempfile::tempdir().context("temp dir for nats-server")?;
        let mut server = Self {
            port: free_port()?,
            binary,
            child: None,
            dir,
        };
        server.spawn().await?;
        Ok(server)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let child = Command::new(&self.binary)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("could not start nats-server")?;
        self.child = Some(child);
        wait_for_port(self.addr(), Duration::from_secs(10)).await
    }

    /// Stops the server and starts it again on the same port and store, as
    /// an operator restarting it would.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await.context("stopping nats-server")?;
        }
        self.spawn().await
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The `nats://` URL of the server.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}
