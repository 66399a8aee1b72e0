//! Config entries marked secret: the component gets the value, never the
//! marker, and no event on the lattice carries the value. Providers that
//! fail to start never repeat a password from their URL.

mod common;

use common::{scale, start_host};
use futures::StreamExt;
use std::time::Duration;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::Subjects;
use weft_lattice_protocol::secret::{SECRET_KEYS, mark};
use weft_lattice_protocol::wire::StringMap;
use weft_tests::nats::NatsServer;
use weft_tests::{http, net};

const LATTICE: &str = "secrets";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_get_secret_values_and_events_never_carry_them() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url(), LATTICE, &[]).await?;
    let id = host.host.id().to_owned();
    let raw = async_nats::connect(nats.url()).await?;
    let mut events = raw.subscribe(format!("wasmbus.evt.{LATTICE}.>")).await?;
    let client = LatticeClient::new(raw.clone(), Subjects::new("wasmbus.ctl", LATTICE)?);

    let values = StringMap::from([
        ("user".into(), "app".into()),
        ("password".into(), "s3cret-value".into()),
    ]);
    let marked = mark(values, &["password".into()]).map_err(anyhow::Error::msg)?;
    client.put_config("db", &marked).await?;
    client
        .scale_component(&id, &scale(&id, "app", "test_guest", &["db"])?)
        .await?;
    let addr = common::serve_http(&client, &id, "http", "app").await?;
    let password = net::wait_for("the app to serve", Duration::from_secs(20), || async {
        let r = http::get(addr, "/config/password").await.ok()?;
        (r.status == 200).then_some(r.body)
    })
    .await?;
    assert_eq!(password, "s3cret-value");
    let marker = http::get(addr, &format!("/config/{SECRET_KEYS}")).await?;
    assert_eq!(
        marker.status, 404,
        "the marker reached the guest: {}",
        marker.body
    );
    assert_eq!(http::get(addr, "/config/user").await?.body, "app");

    // Whatever went out on the event subjects, none of it holds the value.
    // (Heartbeats keep coming: read for a bounded time.)
    let mut seen = 0;
    let until = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(event)) = tokio::time::timeout_at(until, events.next()).await {
        seen += 1;
        let text = String::from_utf8_lossy(&event.payload);
        assert!(
            !text.contains("s3cret-value"),
            "an event carried the secret: {text}"
        );
    }
    assert!(seen > 0, "no events were seen at all");
    Ok(())
}

/// Start errors go to the log, to events and to whoever started the
/// provider: none may repeat a password from the URL (NATS messaging's
/// default URL is the host's own).
#[tokio::test]
async fn a_failed_provider_start_does_not_repeat_the_password() -> anyhow::Result<()> {
    use std::collections::BTreeMap;
    use weft_capability::provider::ProviderKind;
    let port = weft_tests::net::free_port()?;
    let nats = format!("nats://u:hunter2@127.0.0.1:{port}");
    let config = |url: &str| BTreeMap::from([("url".to_owned(), url.to_owned())]);
    type Case = (
        &'static str,
        Box<dyn ProviderKind>,
        BTreeMap<String, String>,
    );
    let kinds: [Case; 4] = [
        (
            "redis",
            Box::new(weft_keyvalue_redis::RedisKeyValueKind),
            config(&format!("redis://:hunter2@127.0.0.1:{port}/0")),
        ),
        (
            "redis, bad URL",
            Box::new(weft_keyvalue_redis::RedisKeyValueKind),
            config("redis://user:hunter2@127.0.0.1:notaport/0"),
        ),
        (
            "nats keyvalue",
            Box::new(weft_keyvalue_nats::NatsKeyValueKind),
            config(&nats),
        ),
        (
            "nats messaging, the host's URL",
            Box::new(weft_messaging_nats::NatsMessagingKind::new(Some(
                nats.clone(),
            ))),
            BTreeMap::new(),
        ),
    ];
    for (what, kind, config) in kinds {
        match kind.start(&config).await {
            Ok(_) => anyhow::bail!("{what}: started against a closed port"),
            Err(e) => {
                let said = format!("{e} {e:?}");
                assert!(!said.contains("hunter2"), "{what}: {said}");
            }
        }
    }
    Ok(())
}
