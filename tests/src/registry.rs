//! A real OCI distribution registry (Debian's `docker-registry`) on a free
//! loopback port, storing in a temp dir, optionally behind htpasswd basic
//! auth; killed when dropped (GOTCHAS.md 8: its default config listens
//! everywhere and wants htpasswd, so each gets a config of its own).

use crate::net::{free_port, require_binary};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// A running registry, killed when dropped.
pub struct Registry {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Registry {
    /// A registry anyone may push to and pull from.
    pub async fn start() -> anyhow::Result<Self> {
        Self::spawn(None).await
    }

    /// A registry that wants `user` and `password` (htpasswd, bcrypt).
    pub async fn start_with_auth(user: &str, password: &str) -> anyhow::Result<Self> {
        Self::spawn(Some((user, password))).await
    }

    async fn spawn(auth: Option<(&str, &str)>) -> anyhow::Result<Self> {
        let binary = require_binary("docker-registry", "docker-registry")?;
        let mut last = None;
        // The port is picked free and then bound by the registry; should
        // another test take it first, ours exits and is tried again. A
        // header unique to this registry tells its answers apart.
        for attempt in 0..5 {
            let dir = tempfile::tempdir().context("temp dir for docker-registry")?;
            let port = free_port()?;
            let marker = format!("{}-{port}-{attempt}", std::process::id());
            let auth_section = match auth {
                Some((user, password)) => {
                    let hash = bcrypt::hash(password, 4).context("hashing the test password")?;
                    let htpasswd = dir.path().join("htpasswd");
                    std::fs::write(&htpasswd, format!("{user}:{hash}\n"))?;
                    format!(
                        "auth:\n  htpasswd:\n    realm: weft-test\n    path: {}\n",
                        htpasswd.display()
                    )
                }
                None => String::new(),
            };
            let config = format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n  headers:\n    X-Weft-Registry: [\"{marker}\"]\n{auth_section}",
                dir.path().join("storage").display()
            );
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config)?;
            let mut child = Command::new(&binary)
                .arg("serve")
                .arg(&config_path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .context("could not start docker-registry")?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            let ready = loop {
                if let Ok(Some(status)) = child.try_wait() {
                    break Err(anyhow::anyhow!("docker-registry exited: {status}"));
                }
                if answers_with(port, &marker).await {
                    break Ok(());
                }
                if tokio::time::Instant::now() >= deadline {
                    break Err(anyhow::anyhow!(
                        "docker-registry did not answer within 10 s"
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            match ready {
                Ok(()) => {
                    return Ok(Self {
                        port,
                        child: Some(child),
                        dir,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("docker-registry did not start")))
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `oci://127.0.0.1:PORT/{repo_and_tag}`.
    pub fn reference(&self, repo_and_tag: &str) -> String {
        format!("oci://{}/{repo_and_tag}", self.host())
    }

    /// Where the registry keeps the blob of `digest` (`sha256:…`), for
    /// tests that tamper with it.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2.min(hex.len())])
            .join(hex)
            .join("data")
    }

    fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The registry's data directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the registry (GOTCHAS.md 8: SIGKILL, it ignores SIGINT in the background).
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await.context("stopping docker-registry")?;
        }
        Ok(())
    }
}

/// Whether the registry on `port` is the one that sends `marker`.
async fn answers_with(port: u16, marker: &str) -> bool {
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let request = format!("GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if s.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = vec![0u8; 4096];
    let Ok(n) = s.read(&mut head).await else {
        return false;
    };
    String::from_utf8_lossy(&head[..n]).contains(marker)
}
