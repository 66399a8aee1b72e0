//! Outgoing HTTP through `builtin:http-client`: a component reaches the
//! destinations its link's `allowed_hosts` names and nothing else; with no
//! link, every request is denied. The upstream is a real HTTP server on
//! loopback, started by the test.

mod common;

use common::{TestHost, link, provider, scale, serve_http, start_host};
use std::net::SocketAddr;
use std::time::Duration;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::wire::{Link, StringMap};
use weft_runtime::MAX_OUTGOING_IN_FLIGHT;
use weft_tests::nats::NatsServer;
use weft_tests::{http, net};

const LATTICE: &str = "outgoing";

/// A one-line HTTP server: answers every request `200 upstream saw PATH`.
async fn upstream() -> anyhow::Result<SocketAddr> {
    http::upstream(Duration::ZERO).await
}

fn outgoing(allowed: &str) -> Link {
    Link {
        target_config: vec![allowed.into()],
        ..link("app", "web", "wasi:http", &["outgoing-handler"], &[])
    }
}

async fn fetch(addr: SocketAddr, url: &str) -> anyhow::Result<(u16, String)> {
    let reply = http::get(addr, &format!("/fetch?{url}")).await?;
    Ok((reply.status, reply.body))
}

/// A host running the `caller` component behind HTTP, with an HTTP client
/// provider `web` and no link to it yet; answers on the returned address.
async fn caller() -> anyhow::Result<(NatsServer, TestHost, LatticeClient, SocketAddr)> {
    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url(), LATTICE, &[]).await?;
    let client = common::client(&nats.url(), LATTICE).await?;
    let id = host.host.id().to_owned();
    client
        .scale_component(&id, &scale(&id, "app", "caller", &[])?)
        .await?;
    client
        .start_provider(&id, &provider("web", "builtin:http-client", &[]))
        .await?;
    let addr = serve_http(&client, &id, "http", "app").await?;
    Ok((nats, host, client, addr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_http_reaches_only_the_hosts_the_link_allows() -> anyhow::Result<()> {
    let (_nats, _host, client, addr) = caller().await?;
    let up = upstream().await?;
    let elsewhere = upstream().await?;
    let url = format!("http://{up}/hello?x=1");

    // No link: denied.
    let (status, body) = fetch(addr, &url).await?;
    assert_eq!(
        (status, body.as_str()),
        (502, "ErrorCode::HttpRequestDenied")
    );

    // Exactly this host and port.
    let exact = StringMap::from([("allowed_hosts".into(), format!("http://{up}"))]);
    client.put_config("exact", &exact).await?;
    client.put_link(&outgoing("exact")).await?;
    let body = net::wait_for("the link to take effect", Duration::from_secs(20), || {
        let url = url.clone();
        async move {
            match fetch(addr, &url).await {
                Ok((200, body)) => Some(body),
                _ => None,
            }
        }
    })
    .await?;
    assert_eq!(body, "200 upstream saw /hello?x=1");
    let (status, body) = fetch(addr, &format!("http://{elsewhere}/")).await?;
    assert_eq!(
        (status, body.as_str()),
        (502, "ErrorCode::HttpRequestDenied"),
        "another port"
    );
    let (status, body) = fetch(addr, &format!("https://{up}/")).await?;
    assert_eq!(
        (status, body.as_str()),
        (502, "ErrorCode::HttpRequestDenied"),
        "another scheme"
    );

    // A change of the named config reaches the running link.
    let moved = StringMap::from([("allowed_hosts".into(), format!("http://{elsewhere}"))]);
    client.put_config("exact", &moved).await?;
    net::wait_for(
        "the config change to take effect",
        Duration::from_secs(20),
        || async {
            matches!(
                fetch(addr, &format!("http://{elsewhere}/moved")).await,
                Ok((200, _))
            )
            .then_some(())
        },
    )
    .await?;
    let (status, _) = fetch(addr, &url).await?;
    assert_eq!(status, 502, "the old destination is no longer allowed");

    // A wildcard does not reach loopback; only an exact entry does.
    let wildcard = StringMap::from([("allowed_hosts".into(), "*:*".into())]);
    client.put_config("wildcard", &wildcard).await?;
    client.put_link(&outgoing("wildcard")).await?;
    net::wait_for("the wildcard link to take effect", Duration::from_secs(20), || {
        let url = url.clone();
        async move {
            matches!(fetch(addr, &url).await, Ok((502, b)) if b == "ErrorCode::HttpRequestDenied").then_some(())
        }
    })
    .await?;

    // A bad allowed_hosts binds nothing and says why; requests stay denied.
    let bad = StringMap::from([("allowed_hosts".into(), "ftp://x".into())]);
    client.put_config("bad", &bad).await?;
    client.put_link(&outgoing("bad")).await?;
    let (status, _) = fetch(addr, &url).await?;
    assert_eq!(status, 502);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_outgoing_requests_is_capped_per_instance() -> anyhow::Result<()> {
    let (_nats, _host, client, addr) = caller().await?;
    // Answers a second late, so the whole flood waits at once.
    let slow = http::upstream(Duration::from_secs(1)).await?;
    let allowed = StringMap::from([("allowed_hosts".into(), format!("http://{slow}"))]);
    client.put_config("slow", &allowed).await?;
    client.put_link(&outgoing("slow")).await?;
    let url = format!("http://{slow}/");
    net::wait_for("the link to take effect", Duration::from_secs(20), || {
        let url = url.clone();
        async move { matches!(fetch(addr, &url).await, Ok((200, _))).then_some(()) }
    })
    .await?;

    let flood = 100;
    let got = http::get(addr, &format!("/fetch-flood?{flood}&{url}")).await?;
    let max = MAX_OUTGOING_IN_FLIGHT;
    let expected = format!(
        "answered={max} refused={} error=ErrorCode::InternalError(Some(\"too many outgoing \
         requests at once: an instance may have {max} waiting for an answer\"))",
        flood - max
    );
    assert_eq!((got.status, got.body.as_str()), (200, expected.as_str()));
    // The next invocation has its own allowance, and the host serves on.
    let got = http::get(addr, &format!("/fetch-flood?{max}&{url}")).await?;
    assert_eq!(got.body, format!("answered={max} refused=0 error="));
    Ok(())
}
