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
    /// A config file with its environment and extra flags, or `None` for
    /// plain `-js` on a temp store.
    config: Option<Config>,
    /// The ports file as last read.
    ports: serde_json::Value,
}

/// A config file to start nats-server from (`-c FILE`), the environment
/// variables it refers to and extra command-line flags (`--routes …`).
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file.
    pub file: PathBuf,
    /// Variables the file reads (`$WEFT_NATS_…`).
    pub env: Vec<(String, String)>,
    /// Extra flags.
    pub args: Vec<String>,
}

impl NatsServer {
    /// Starts nats-server with JetStream and waits until it accepts connections.
    pub async fn start() -> anyhow::Result<Self> {
        Self::launch(None).await
    }

    /// Starts nats-server from `config`; the client port is picked by the
    /// server (`-p -1` overrides the file's), and `{dir}` in any variable
    /// or flag becomes this server's temp dir.
    pub async fn start_with(config: Config) -> anyhow::Result<Self> {
        Self::launch(Some(config)).await
    }

    async fn launch(config: Option<Config>) -> anyhow::Result<Self> {
        let binary = require_binary("nats-server", "nats-server")?;
        let dir = tempfile::tempdir().context("temp dir for nats-server")?;
        let at = dir.path().display().to_string();
        let config = config.map(|c| Config {
            file: c.file,
            env: c
                .env
                .into_iter()
                .map(|(k, v)| (k, v.replace("{dir}", &at)))
                .collect(),
            args: c
                .args
                .into_iter()
                .map(|a| a.replace("{dir}", &at))
                .collect(),
        });
        let mut server = Self {
            port: 0,
            binary,
            child: None,
            dir,
            config,
            ports: serde_json::Value::Null,
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
        let mut command = Command::new(&self.binary);
        match &self.config {
            None => {
                command
                    .args(["-a", "127.0.0.1", "-p", &port, "-js", "-sd"])
                    .arg(self.dir.path().join("store"));
            }
            Some(config) => {
                command
                    .arg("-c")
                    .arg(&config.file)
                    .args(["-a", "127.0.0.1", "-p", &port])
                    .args(&config.args)
                    .envs(config.env.iter().map(|(k, v)| (k, v)));
            }
        }
        let log = std::fs::File::create(self.dir.path().join("log"))
            .context("log file for nats-server")?;
        let child = command
            .arg("--ports_file_dir")
            .arg(&ports)
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("could not start nats-server")?;
        let pid = child.id().context("nats-server exited at once")?;
        self.child = Some(child);
        if self.port == 0 {
            let file = ports.join(format!("nats-server_{pid}.ports"));
            let log = self.dir.path().join("log");
            self.ports = crate::net::wait_for(
                "nats-server to report its port",
                Duration::from_secs(10),
                || {
                    let file = file.clone();
                    async move { read_ports(&file) }
                },
            )
            .await
            .with_context(|| {
                format!(
                    "nats-server said: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })?;
            self.port = port_of(&self.ports["nats"]).context("no client port in the ports file")?;
        }
        wait_for_port(self.addr(), Duration::from_secs(10)).await
    }

    /// Kills the server (SIGKILL), as a machine dying would.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await.context("killing nats-server")?;
        }
        Ok(())
    }

    /// The port of the server's cluster (route) listener, if it has one.
    pub fn cluster_port(&self) -> Option<u16> {
        port_of(&self.ports["cluster"])
    }

    /// The port of the server's monitoring listener, if it has one.
    pub fn monitor_port(&self) -> Option<u16> {
        port_of(&self.ports["monitoring"])
    }

    /// The port of the server's leaf-node listener, read from its
    /// monitoring endpoint (the ports file does not have it).
    pub async fn leaf_port(&self) -> anyhow::Result<u16> {
        let monitor = self
            .monitor_port()
            .context("the server has no monitoring port (http: in its config)")?;
        let varz = crate::http::get(SocketAddr::from(([127, 0, 0, 1], monitor)), "/varz").await?;
        let value: serde_json::Value = serde_json::from_str(&varz.body)?;
        value["leaf"]["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .context("the server has no leaf-node listener")
    }

    /// What the server logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
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

/// A nats-server ports file
/// (`{"nats":["nats://127.0.0.1:PORT"],"cluster":[…],…}`), once written.
fn read_ports(file: &std::path::Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(file).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    port_of(&value["nats"])?;
    Some(value)
}

/// The port of the first URL of a ports-file entry.
fn port_of(urls: &serde_json::Value) -> Option<u16> {
    urls[0].as_str()?.rsplit(':').next()?.parse().ok()
}
