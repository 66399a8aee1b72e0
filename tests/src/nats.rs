//! A real `nats-server` with JetStream on a free loopback port, storing in a
//! temp dir; killed when dropped (and restartable on the same port).

use crate::net::{require_binary, wait_for_port};
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
            port: 0,
            binary,
            child: None,
            dir,
        };
        server.spawn().await?;
        Ok(server)
    }

    /// Starts the server on `self.port`, or (the first time, port 0) on a
    /// port it picks itself and reports in its ports file: no other test
    /// can take the port between choosing and binding it.
    async fn spawn(&mut self) -> anyhow::Result<()> {
        let ports = self.dir.path().join("ports");
        std::fs::create_dir_all(&ports).context("ports dir for nats-server")?;
        let port = if self.port == 0 {
            "-1".to_owned()
        } else {
            self.port.to_string()
        };
        let child = Command::new(&self.binary)
            .args(["-a", "127.0.0.1", "-p", &port, "-js", "-sd"])
            .arg(self.dir.path().join("store"))
            .arg("--ports_file_dir")
            .arg(&ports)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("could not start nats-server")?;
        let pid = child.id().context("nats-server exited at once")?;
        self.child = Some(child);
        if self.port == 0 {
            let file = ports.join(format!("nats-server_{pid}.ports"));
            self.port = crate::net::wait_for(
                "nats-server to report its port",
                Duration::from_secs(10),
                || {
                    let file = file.clone();
                    async move { read_port(&file) }
                },
            )
            .await?;
        }
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

/// The client port in a nats-server ports file
/// (`{"nats":["nats://127.0.0.1:PORT"]}`), once it is written.
fn read_port(file: &std::path::Path) -> Option<u16> {
    let text = std::fs::read_to_string(file).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["nats"][0].as_str()?.rsplit(':').next()?.parse().ok()
}
