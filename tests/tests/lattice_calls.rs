//! Links between components: a component importing a custom WIT interface
//! (`weft:platform/greeter`) calls the component its link names — directly
//! when both run on one host, over NATS when the target runs only on
//! another — and picks named links with `wasmcloud:bus/lattice`
//! (1.0.0 and 2.0.1), for custom interfaces and for keyvalue alike.

mod common;

use common::{link, provider, scale, serve_http, serve_http_named, start_host};
use std::net::SocketAddr;
use std::time::Duration;
use weft_capability::call::{self, Call, RemoteCalls};
use weft_lattice_client::LatticeClient;
use weft_lattice_nats::NatsRemoteCalls;
use weft_lattice_protocol::Subjects;
use weft_lattice_protocol::wire::{DeleteLink, Link, StringMap};
use weft_tests::nats::NatsServer;
use weft_tests::{http, net};

const LATTICE: &str = "calls";

fn greeter_link(target: &str, name: &str) -> Link {
    Link {
        name: name.into(),
        ..link("app", target, "weft:platform", &["greeter"], &[])
    }
}

fn client(nats: &NatsServer) -> impl Future<Output = anyhow::Result<LatticeClient>> {
    let url = nats.url();
    async move {
        Ok(LatticeClient::new(
            async_nats::connect(url).await?,
            Subjects::new("wasmbus.ctl", LATTICE)?,
        ))
    }
}

/// `GET path`, waiting for the links to take effect: (status, body).
async fn get_when(addr: SocketAddr, path: &str, status: u16) -> anyhow::Result<String> {
    net::wait_for(
        &format!("GET {path} to answer {status}"),
        Duration::from_secs(20),
        || async move {
            let reply = http::get(addr, path).await.ok()?;
            (reply.status == status).then_some(reply.body)
        },
    )
    .await
}

async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let reply = http::get(addr, path).await?;
    Ok((reply.status, reply.body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_on_one_host_call_each_other_over_the_link_the_guest_picks() -> anyhow::Result<()>
{
    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url(), LATTICE, &[]).await?;
    let client = client(&nats).await?;
    let id = host.host.id().to_owned();
    client
        .put_config(
            "hola",
            &StringMap::from([("greeting".into(), "Hola".into())]),
        )
        .await?;
    client
        .scale_component(&id, &scale(&id, "app", "caller", &[])?)
        .await?;
    client
        .scale_component(&id, &scale(&id, "english", "greeter", &[])?)
        .await?;
    client
        .scale_component(&id, &scale(&id, "spanish", "greeter", &["hola"])?)
        .await?;
    for (p, reference) in [
        ("kv", "builtin:keyvalue-memory"),
        ("kv2", "builtin:keyvalue-memory"),
    ] {
        client
            .start_provider(&id, &provider(p, reference, &[]))
            .await?;
    }
    client.put_link(&greeter_link("english", "default")).await?;
    client.put_link(&greeter_link("spanish", "es")).await?;
    client
        .put_link(&link(
            "app",
            "kv",
            "wasi:keyvalue",
            &["store", "atomics"],
            &[],
        ))
        .await?;
    client
        .put_link(&Link {
            name: "other".into(),
            ..link("app", "kv2", "wasi:keyvalue", &["store", "atomics"], &[])
        })
        .await?;
    let addr = serve_http(&client, &id, "http", "app").await?;
    // The same server provider serves a second component over a named link.
    client
        .scale_component(&id, &scale(&id, "web2", "test_guest", &[])?)
        .await?;
    let second = serve_http_named(&client, &id, "http", "web2", "second").await?;
    assert_eq!(get_when(second, "/ok", 200).await?, "ok");

    // The default link, with values of several WIT kinds crossing it.
    let greeting = get_when(addr, "/greet/Ada", 200).await?;
    assert_eq!(greeting, "Hello, Ada! count=3 tags=greeter,Hello");
    assert_eq!(get(addr, "/add/2/40").await?, (200, "42".into()));
    let (status, body) = get(addr, "/add/4294967295/1").await?;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("overflows"), "{body}");
    assert_eq!(
        get(addr, "/describe").await?,
        (200, "a circle of radius 1.5 (big)".into())
    );

    // Named links, picked with either bus version; the pick lasts for the
    // invocation only.
    get_when(addr, "/v1/es/greet/Ada", 200).await?;
    assert_eq!(
        get(addr, "/v1/es/greet/Ada").await?.1,
        "Hola, Ada! count=3 tags=greeter,Hola"
    );
    assert_eq!(
        get(addr, "/v2/es/greet/Ada").await?.1,
        "Hola, Ada! count=3 tags=greeter,Hola"
    );
    assert_eq!(get(addr, "/greet/Ada").await?.1, greeting);
    let (status, body) = get(addr, "/v2/nope/greet/Ada").await?;
    assert_eq!(
        status, 409,
        "2.0.x refuses a link that does not exist: {body}"
    );
    assert!(body.contains("nope"), "{body}");
    assert_eq!(
        get(addr, "/v1/nope/greet/Ada").await?.0,
        500,
        "1.0.0 fails the call"
    );

    // Keyvalue follows the picked link too: two separate counters.
    get_when(addr, "/count", 200).await?;
    assert_eq!(get(addr, "/count").await?, (200, "2".into()));
    get_when(addr, "/v1/other/count", 200).await?;
    assert_eq!(get(addr, "/v1/other/count").await?, (200, "2".into()));
    assert_eq!(get(addr, "/count").await?, (200, "3".into()));

    // A deleted link: the next call fails, the rest keeps working.
    client
        .delete_link(&DeleteLink {
            source_id: "app".into(),
            name: "default".into(),
            wit_namespace: "weft".into(),
            wit_package: "platform".into(),
        })
        .await?;
    get_when(addr, "/greet/Ada", 500).await?;
    assert_eq!(get(addr, "/v1/es/greet/Ada").await?.0, 200);
    assert_eq!(get(addr, "/count").await?, (200, "4".into()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_to_a_component_on_another_host_calls_it_over_nats() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let a = start_host(&nats.url(), LATTICE, &[("side", "a")]).await?;
    let b = start_host(&nats.url(), LATTICE, &[("side", "b")]).await?;
    let client = client(&nats).await?;
    let (a_id, b_id) = (a.host.id().to_owned(), b.host.id().to_owned());
    client
        .scale_component(&a_id, &scale(&a_id, "app", "caller", &[])?)
        .await?;
    client
        .scale_component(&b_id, &scale(&b_id, "greeter", "greeter", &[])?)
        .await?;
    client.put_link(&greeter_link("greeter", "default")).await?;
    let addr = serve_http(&client, &a_id, "http", "app").await?;

    assert_eq!(
        get_when(addr, "/greet/Grace", 200).await?,
        "Hello, Grace! count=5 tags=greeter,Hello"
    );
    assert_eq!(get(addr, "/add/2/40").await?, (200, "42".into()));
    let (status, body) = get(addr, "/add/4294967295/1").await?;
    assert_eq!((status, body.contains("overflows")), (422, true), "{body}");
    assert_eq!(
        get(addr, "/describe").await?,
        (200, "a circle of radius 1.5 (big)".into())
    );
    assert_eq!(get(addr, "/blob/1000").await?, (200, "1000".into()));

    // The transport's own errors, as the host sees them.
    let nc = async_nats::connect(nats.url()).await?;
    let max = nc.server_info().max_payload;
    let remote = NatsRemoteCalls::new(nc, Subjects::new("wasmbus.ctl", LATTICE)?);
    let call = |target: &str, function: &str, args: Vec<String>| Call {
        target: target.into(),
        interface: "weft:platform/greeter@0.1.0".into(),
        function: function.into(),
        args,
        timeout: Duration::from_secs(5),
        results: call::Encoding::Wave,
    };
    let results = remote
        .call(call("greeter", "greet", vec![r#""Ada""#.into()]))
        .await?;
    assert_eq!(results.len(), 1);
    assert!(results[0].contains("Hello, Ada!"), "{results:?}");
    match remote
        .call(call("nowhere", "greet", vec![r#""Ada""#.into()]))
        .await
    {
        Err(call::Error::NoResponders(target)) => assert_eq!(target, "nowhere"),
        other => anyhow::bail!("a component running nowhere: {other:?}"),
    }
    let huge = format!("\"{}\"", "x".repeat(max + 1));
    match remote.call(call("greeter", "greet", vec![huge])).await {
        Err(call::Error::TooLarge { size, max: m, .. }) => assert!(size > m),
        other => anyhow::bail!("arguments over max_payload: {other:?}"),
    }
    match remote
        .call(call("greeter", "blob", vec![(max as u64 + 10).to_string()]))
        .await
    {
        Err(call::Error::Failed(message)) => {
            assert!(message.contains("over the lattice's limit"), "{message}")
        }
        other => anyhow::bail!("results over max_payload: {other:?}"),
    }
    match remote
        .call(call("greeter", "greet", vec!["not wave".into()]))
        .await
    {
        Err(call::Error::Failed(message)) => {
            assert!(message.contains("bad arguments"), "{message}")
        }
        other => anyhow::bail!("malformed arguments: {other:?}"),
    }
    // Too large results reach the guest as a failed call, not a hang.
    assert_eq!(get(addr, &format!("/blob/{}", max + 10)).await?.0, 500);

    // The target stops: calls fail at once, the caller keeps serving.
    client
        .scale_component(&b_id, &{
            let mut stop = scale(&b_id, "greeter", "greeter", &[])?;
            stop.max_instances = 0;
            stop
        })
        .await?;
    get_when(addr, "/greet/Grace", 500).await?;
    assert_eq!(get(addr, "/nothing").await?.0, 404);
    Ok(())
}
