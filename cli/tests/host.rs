//! `weft host` as an operator runs it: the real binary on a real nats-server.

use futures::StreamExt;
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;
use tokio::time::timeout;
use weft_tests::nats::NatsServer;
use weft_tests::net::{free_port, wait_for};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

async fn ping(client: &async_nats::Client, lattice: &str) -> Option<Value> {
    let reply = client
        .request(format!("wasmbus.ctl.v1.{lattice}.host.ping"), "".into())
        .await
        .ok()?;
    serde_json::from_slice(&reply.payload).ok()
}

#[tokio::test]
async fn host_joins_answers_ping_and_says_goodbye_on_sigterm() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let client = async_nats::connect(nats.url()).await?;
    let mut stopped = client.subscribe("wasmbus.evt.cli.host_stopped").await?;
    let cache = tempfile::tempdir()?;
    let mut child = Command::new(WEFT)
        .args(["host", "--nats", &nats.url(), "--lattice", "cli"])
        .args(["--label", "zone=eu", "--heartbeat", "1s"])
        .arg("--cache-dir")
        .arg(cache.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;

    let pong = wait_for("weft host to answer ping", Duration::from_secs(30), || {
        ping(&client, "cli")
    })
    .await?;
    assert_eq!(pong["success"], true);
    assert_eq!(pong["response"]["labels"]["zone"], "eu");
    assert_eq!(pong["response"]["lattice"], "cli");
    let id = pong["response"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let pid = child.id().ok_or_else(|| anyhow::anyhow!("no pid"))?;
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await?;
    assert!(killed.success());
    let status = timeout(Duration::from_secs(15), child.wait()).await??;
    assert!(status.success(), "weft host exited with {status}");
    let goodbye = timeout(Duration::from_secs(5), stopped.next())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no host_stopped event"))?;
    let event: Value = serde_json::from_slice(&goodbye.payload)?;
    assert_eq!(event["source"], id.as_str());
    Ok(())
}

#[tokio::test]
async fn unreachable_nats_is_a_clear_error() -> anyhow::Result<()> {
    let url = format!("nats://127.0.0.1:{}", free_port()?);
    let out = Command::new(WEFT)
        .args(["host", "--nats", &url, "--timeout", "1s"])
        .output()
        .await?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not connect to NATS"), "{stderr}");
    assert!(stderr.contains("nats-server"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn bad_lattice_names_and_labels_are_usage_errors() -> anyhow::Result<()> {
    let out = Command::new(WEFT)
        .args(["host", "--lattice", "a.b"])
        .output()
        .await?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lattice"), "{stderr}");

    let out = Command::new(WEFT)
        .args(["host", "--otlp", "localhost:4318"])
        .output()
        .await?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--otlp"), "{stderr}");
    assert!(stderr.contains("http://127.0.0.1:4318"), "{stderr}");

    let out = Command::new(WEFT)
        .args(["host", "--label", "hostcore.os=x"])
        .output()
        .await?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hostcore."), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn metrics_are_served_where_asked_stalled_clients_are_cut_off_and_a_taken_port_is_a_clear_error()
-> anyhow::Result<()> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let nats = NatsServer::start().await?;
    let cache = tempfile::tempdir()?;
    let mut child = Command::new(WEFT)
        .args(["host", "--nats", &nats.url(), "--lattice", "metrics"])
        .args(["--metrics", "127.0.0.1:0"])
        .arg("--cache-dir")
        .arg(cache.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let addr: std::net::SocketAddr = timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.strip_prefix("Metrics at http://") {
                return Ok(rest.trim_end_matches("/metrics").parse()?);
            }
        }
        anyhow::bail!("weft host never said where its metrics are")
    })
    .await??;
    assert!(addr.ip().is_loopback());
    let reply = weft_tests::http::get(addr, "/metrics").await?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("# TYPE weft_invocations_total counter"));
    assert!(
        reply.body.contains("\nweft_components 0\n"),
        "{}",
        reply.body
    );

    // A client that never finishes its request head is cut off (10 s by
    // default), and the endpoint answers others meanwhile.
    let mut stalled = tokio::net::TcpStream::connect(addr).await?;
    tokio::io::AsyncWriteExt::write_all(&mut stalled, b"GET /metrics HTTP/1.1\r\n").await?;
    assert_eq!(weft_tests::http::get(addr, "/metrics").await?.status, 200);
    let mut rest = Vec::new();
    timeout(
        Duration::from_secs(20),
        tokio::io::AsyncReadExt::read_to_end(&mut stalled, &mut rest),
    )
    .await
    .map_err(|_| anyhow::anyhow!("a stalled request head kept its connection for 20 s"))??;

    // The same port again: taken, and the error says so.
    let out = Command::new(WEFT)
        .args(["host", "--nats", &nats.url(), "--lattice", "metrics"])
        .args(["--metrics", &addr.to_string(), "--timeout", "5s"])
        .arg("--cache-dir")
        .arg(cache.path())
        .output()
        .await?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--metrics"), "{stderr}");
    assert!(stderr.contains(&addr.to_string()), "{stderr}");
    Ok(())
}
