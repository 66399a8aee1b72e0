//! Loopback ports and waiting on conditions with deadlines.

use anyhow::{Context, bail};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

/// A port that was free on 127.0.0.1 a moment ago.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("could not bind a loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// Polls `check` every 20 ms until it returns `Some`, or fails after `within`.
pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until something accepts TCP connections on `addr`.
pub async fn wait_for_port(addr: SocketAddr, within: Duration) -> anyhow::Result<()> {
    wait_for(&format!("a listener on {addr}"), within, || async move {
        tokio::net::TcpStream::connect(addr).await.ok().map(|_| ())
    })
    .await
}

/// Finds `binary` on PATH (or in /usr/sbin, /usr/bin), or fails naming the
/// Debian package that provides it.
pub fn require_binary(binary: &str, package: &str) -> anyhow::Result<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin".into(), "/usr/bin".into()]);
    for dir in dirs {
        let candidate = dir.join(binary);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!("`{binary}` is not installed; this test needs it: apt-get install -y {package}")
}
