//! Clients that hold connections without finishing a request (slowloris),
//! idle keep-alive connections, clients that half-close and requests with a
//! bad `Host`: the HTTP server provider cuts stalled heads off at their
//! deadline, keeps its open connections within limits in all and per client
//! address (answering 503 past them), answers a bad `Host` with 400, and
//! the host keeps serving. In-process host with the test
//! guest, real HTTP servers on free loopback ports; the clients come from
//! several loopback addresses (127.0.0.2, .3, …).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_capability::provider::{Error as ProviderError, ProviderKind};
use weft_host::{Host, HostBuilder};
use weft_http_server::{
    ConnectionLimits, HttpServer, HttpServerConfig, HttpServerKind, ListenLimits, Route, Router,
};
use weft_runtime::ComponentSpec;
use weft_tests::{guests, http};

/// Short, for the test; long enough that a busy machine does not cut a
/// stalled connection off before the refusals it is there to cause.
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// A host serving the test guest, and a listener in front of it.
async fn serve(limits: ConnectionLimits) -> anyhow::Result<(Host, HttpServer)> {
    let wasm = guests::bytes("test_guest")?;
    let host = HostBuilder::new()
        .with_cache_dir(guests::cache_dir())
        .build()?;
    let component = host
        .start_component(&wasm, ComponentSpec::new("test"))
        .await?;
    let router = Arc::new(Router::default());
    router.add(Route::new("test", component));
    let server = HttpServer::bind(listener(limits), router).await?;
    Ok((host, server))
}

fn listener(connections: ConnectionLimits) -> HttpServerConfig {
    HttpServerConfig {
        address: SocketAddr::from(([127, 0, 0, 1], 0)),
        limits: ListenLimits {
            header_timeout: HEADER_TIMEOUT,
            connections,
        },
        ..HttpServerConfig::default()
    }
}

/// A connection to `addr` from the loopback address 127.0.0.`from`.
async fn connect_from(from: u8, addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::from([127, 0, 0, from]), 0))?;
    Ok(socket.connect(addr).await?)
}

/// A slowloris: starts a request head and keeps adding a header line every
/// 100 ms, never finishing it. Resolves when the server closes the
/// connection (or after 20 s), with how long that took.
async fn stall(mut stream: TcpStream) -> Duration {
    let started = Instant::now();
    let _ = stream
        .write_all(b"GET /ok HTTP/1.1\r\nHost: slow\r\n")
        .await;
    let (mut read, mut write) = stream.into_split();
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write.write_all(b"X-Slow: 1\r\n").await.is_err() {
                // The server is gone; wait for the read side to see it.
                std::future::pending::<()>().await;
            }
        }
    };
    let mut buf = [0u8; 1024];
    let closed = async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::select! {
            () = trickle => {}
            () = closed => {}
        }
    })
    .await;
    started.elapsed()
}

/// What the server sends on `stream` until it closes it (within 10 s).
async fn answer(mut stream: TcpStream) -> anyhow::Result<String> {
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut all)).await??;
    Ok(String::from_utf8_lossy(&all).into_owned())
}

#[tokio::test]
async fn stalled_request_heads_are_cut_off_and_one_client_cannot_take_every_connection()
-> anyhow::Result<()> {
    let limits = ConnectionLimits {
        max: 24,
        max_per_client: 8,
    };
    let (host, server) = serve(limits).await?;
    let addr = server.local_addr();

    // Eight stalled connections from one client: its limit.
    let mut stalled = Vec::new();
    for _ in 0..8 {
        stalled.push(tokio::spawn(stall(connect_from(2, addr).await?)));
    }
    // Its ninth is answered 503 with the reason, and closed.
    let refused = answer(connect_from(2, addr).await?).await?;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("too many connections"), "{refused}");
    // Another client is served meanwhile.
    assert_eq!(http::get(addr, "/ok").await?.status, 200);

    // The stalled heads are cut off at the deadline, although they keep
    // sending: none is left open for long.
    for s in stalled {
        let lasted = s.await?;
        assert!(
            lasted < Duration::from_secs(10),
            "a stalled connection stayed open for {lasted:?}"
        );
    }
    // Its places are free again.
    let ok = answer_to(connect_from(2, addr).await?, "/ok").await?;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    drop((host, server));
    Ok(())
}

/// Sends a complete `GET path` that asks to close, and returns the answer.
async fn answer_to(mut stream: TcpStream, path: &str) -> anyhow::Result<String> {
    let head = format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    answer(stream).await
}

#[tokio::test]
async fn a_full_listener_refuses_with_503_and_the_host_serves_on_other_listeners()
-> anyhow::Result<()> {
    let limits = ConnectionLimits {
        max: 16,
        max_per_client: 8,
    };
    let (host, full) = serve(limits).await?;
    let addr = full.local_addr();
    // A second listener on the same host, to the same component.
    let component = host
        .component("test")
        .ok_or_else(|| anyhow::anyhow!("the component is not running"))?;
    let router = Arc::new(Router::default());
    router.add(Route::new("other", component));
    let other = HttpServer::bind(listener(limits), router).await?;

    let mut stalled = Vec::new();
    for from in [3, 4] {
        for _ in 0..8 {
            stalled.push(tokio::spawn(stall(connect_from(from, addr).await?)));
        }
    }
    let refused = answer(connect_from(5, addr).await?).await?;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert_eq!(http::get(other.local_addr(), "/ok").await?.status, 200);
    for s in stalled {
        s.await?;
    }
    assert_eq!(http::get(addr, "/ok").await?.status, 200);
    Ok(())
}

/// A connection to a fresh host's listener that has sent `GET /ok` and
/// keeps the connection alive.
async fn asked() -> anyhow::Result<(Host, HttpServer, TcpStream)> {
    let (host, server) = serve(ConnectionLimits::default()).await?;
    let mut stream = TcpStream::connect(server.local_addr()).await?;
    stream
        .write_all(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n")
        .await?;
    Ok((host, server, stream))
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_header_deadline() -> anyhow::Result<()> {
    let (_host, _server, stream) = asked().await?;
    // The answer, then nothing until the server closes the idle connection
    // (`answer` waits up to 10 s for the close).
    let text = answer(stream).await?;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    Ok(())
}

#[tokio::test]
async fn a_client_that_half_closes_after_its_request_still_gets_the_answer() -> anyhow::Result<()> {
    let (_host, _server, mut stream) = asked().await?;
    stream.shutdown().await?;
    let text = answer(stream).await?;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\r\nok\r\n"), "{text}");
    Ok(())
}

#[tokio::test]
async fn a_bad_host_header_gets_400_saying_so_and_the_guest_is_not_blamed() -> anyhow::Result<()> {
    let (_host, server) = serve(ConnectionLimits::default()).await?;
    let addr = server.local_addr();
    for host in [
        &b"Host: exa\xffmple.com\r\n"[..],
        b"Host: a b\r\n",
        b"Host: user@example.com\r\n",
        b"Host: a\r\nHost: b\r\n",
    ] {
        let mut stream = TcpStream::connect(addr).await?;
        let mut head = b"GET /ok HTTP/1.1\r\n".to_vec();
        head.extend_from_slice(host);
        head.extend_from_slice(b"Connection: close\r\n\r\n");
        stream.write_all(&head).await?;
        let text = answer(stream).await?;
        let shown = String::from_utf8_lossy(host);
        assert!(text.starts_with("HTTP/1.1 400"), "{shown}: {text}");
        assert!(text.contains("Host header"), "{shown}: {text}");
    }
    // An empty Host names no host: served, as one without any.
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /ok HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n")
        .await?;
    let text = answer(stream).await?;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    Ok(())
}

#[tokio::test]
async fn bad_connection_settings_are_refused_naming_the_key() -> anyhow::Result<()> {
    for (key, value) in [
        ("header_timeout_ms", "soon"),
        ("header_timeout_ms", "0"),
        ("max_connections", "0"),
        ("max_connections_per_client", "-1"),
        ("max_connections_per_client", "1000000"),
    ] {
        let config = [(key.to_string(), value.to_string())].into();
        match HttpServerKind.start(&config).await {
            Err(ProviderError::BadValue { key: named, .. }) => assert_eq!(named, key),
            Err(other) => anyhow::bail!("{key}={value}: {other}"),
            Ok(_) => anyhow::bail!("{key}={value} was accepted"),
        }
    }
    let config = [("max_connections".to_string(), "100".to_string())].into();
    assert!(HttpServerKind.start(&config).await.is_ok());
    Ok(())
}
