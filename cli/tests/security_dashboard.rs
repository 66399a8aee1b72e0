//! Hole 3 of the security issue: a loopback dashboard must not be driven
//! by any web page. A page on another site can send a "simple" cross-site
//! request (a text/plain POST needs no preflight), and a DNS-rebound name
//! makes the browser talk to 127.0.0.1 under the attacker's host name; the
//! dashboard refuses both (403, 421), wants JSON, YAML or its own header on
//! every change, and off loopback wants a token of at least 128 bits.
//!
//! (The dashboard lives in the `weft` binary, so this part of the security
//! suite runs it from here; the rest is in tests/tests/security_*.rs.)

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use weft_tests::nats::NatsServer;
use weft_tests::net::{free_port, wait_for_port};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// A dashboard on a free loopback port (no host needed: refusals come
/// before any lattice call).
async fn dashboard(nats: &NatsServer, extra: &[&str]) -> anyhow::Result<(Child, SocketAddr)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let child = Command::new(WEFT)
        .args(["ui", "--addr", &addr.to_string()])
        .args(extra)
        .args(["--nats", &nats.url(), "--lattice", "sec-ui"])
        .env_remove("WEFT_UI_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    wait_for_port(addr, Duration::from_secs(30)).await?;
    Ok((child, addr))
}

/// Sends `head` (request line and headers, no blank line) and `body` as
/// they are, Host header included, and returns the status and body.
async fn raw(addr: SocketAddr, head: &str, body: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply)).await??;
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

const MANIFEST: &str = "apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: planted
  annotations:
    version: v1
spec:
  components:
    - name: kv
      type: capability
      properties:
        image: builtin:keyvalue-memory
";

#[tokio::test]
async fn a_cross_site_post_and_a_foreign_host_are_refused() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let (_ui, addr) = dashboard(&nats, &[]).await?;
    let port = addr.port();

    // What a page on evil.example can make a browser send without asking:
    // a text/plain POST, no custom header.
    let (status, body) = raw(
        addr,
        &format!(
            "POST /api/apps HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://evil.example\r\n\
             Sec-Fetch-Site: cross-site\r\nContent-Type: text/plain"
        ),
        MANIFEST,
    )
    .await?;
    assert_eq!(status, 403, "a cross-site POST was taken: {body}");
    // The same without Origin (an old browser, a privacy setting): still
    // no JSON, YAML or custom header, so still refused.
    let (status, body) = raw(
        addr,
        &format!("POST /api/apps HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/plain"),
        MANIFEST,
    )
    .await?;
    assert_eq!(status, 403, "a text/plain POST was taken: {body}");
    // Another port of localhost is another origin (a component's page).
    let (status, _) = raw(
        addr,
        &format!(
            "PUT /api/configs/x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Origin: http://127.0.0.1:8080\r\nContent-Type: application/json"
        ),
        r#"{"a":"b"}"#,
    )
    .await?;
    assert_eq!(status, 403, "a PUT from another local origin was taken");

    // DNS rebinding: the attacker's name, resolved to 127.0.0.1, with or
    // without the right port, reads nothing.
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        format!("127.0.0.1.evil.example:{port}"),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
    ] {
        let (status, body) = raw(
            addr,
            &format!("GET /api/configs?reveal=true HTTP/1.1\r\nHost: {host}"),
            "",
        )
        .await?;
        assert_eq!(status, 421, "Host {host}: answered {status} {body}");
    }

    // The names the dashboard is reached by still work, and a same-origin
    // change with YAML passes the checks (refused later only because no
    // host of the lattice answers the app API).
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let (status, body) = raw(addr, &format!("GET / HTTP/1.1\r\nHost: {host}"), "").await?;
        assert_eq!(status, 200, "Host {host}: {body}");
    }
    let (status, body) = raw(
        addr,
        &format!(
            "POST /api/apps/validate HTTP/1.1\r\nHost: localhost:{port}\r\n\
             Origin: http://localhost:{port}\r\nSec-Fetch-Site: same-origin\r\n\
             Content-Type: application/yaml"
        ),
        MANIFEST,
    )
    .await?;
    assert_eq!(
        status, 200,
        "a same-origin YAML validate was refused: {body}"
    );
    let (status, body) = raw(
        addr,
        &format!(
            "POST /api/apps/validate HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             X-Weft-Request: 1\r\nContent-Type: text/plain"
        ),
        MANIFEST,
    )
    .await?;
    assert_eq!(
        status, 200,
        "text with the dashboard's header was refused: {body}"
    );
    Ok(())
}

#[tokio::test]
async fn off_loopback_a_short_token_is_refused() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let addr = SocketAddr::from(([0, 0, 0, 0], free_port()?));
    let out = Command::new(WEFT)
        .args(["ui", "--addr", &addr.to_string(), "--token", "s3cret"])
        .args(["--nats", &nats.url(), "--lattice", "sec-ui"])
        .env_remove("WEFT_UI_TOKEN")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), out)
        .await
        .map_err(|_| {
            anyhow::anyhow!("the dashboard started off loopback with a 6-character token")
        })??;
    let (code, _, stderr) = weft_tests::cli::outcome(&out);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("128 bits"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn a_token_from_the_environment_is_required_on_loopback_too() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let _ui = Command::new(WEFT)
        .args(["ui", "--addr", &addr.to_string()])
        .args(["--nats", &nats.url(), "--lattice", "sec-ui"])
        .env("WEFT_UI_TOKEN", "0123456789abcdef0123456789abcdef")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    wait_for_port(addr, Duration::from_secs(30)).await?;
    let host = format!("Host: 127.0.0.1:{}", addr.port());
    let (status, _) = raw(addr, &format!("GET /api/overview HTTP/1.1\r\n{host}"), "").await?;
    assert_eq!(status, 401);
    Ok(())
}
