//! Hole 1 of the security issue: the data plane must not drive the control
//! plane. A component that echoes to its message's reply subject (which the
//! *sender* chooses), or that publishes and requests wherever its input
//! says, runs beside a host on a single-account nats-server, the layout a
//! user who brings their own server has; whatever it is made to send to
//! the lattice's subjects (control, JetStream, KV, rpc, the hosts' inboxes)
//! is refused by the messaging provider, logged and counted, and changes
//! nothing. Subscriptions and queue groups that would join the lattice's
//! subjects are refused too.

mod common;

use common::{TestHost, link, provider, scale, start_host};
use std::time::Duration;
use weft_host::HostApi;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::wire::StringMap;
use weft_tests::nats::NatsServer;
use weft_tests::net::wait_for;

const LATTICE: &str = "sec";

/// The echo guest, the messaging provider `nats`, and links both ways with
/// the subscription `sec.echo`; returns once the echo answers.
async fn echo_on(
    client: &LatticeClient,
    host: &TestHost,
    nats: &async_nats::Client,
) -> anyhow::Result<()> {
    let id = host.host.id();
    client
        .scale_component(id, &scale(id, "echo", "echo", &[])?)
        .await?;
    client
        .start_provider(id, &provider("nats", "builtin:messaging-nats", &[]))
        .await?;
    client
        .put_config(
            "echo-subs",
            &StringMap::from([("subscriptions".into(), "sec.echo".into())]),
        )
        .await?;
    common::messaging_both_ways(client, "echo", "nats", "echo-subs").await?;
    let said = wait_for("the echo to answer", Duration::from_secs(20), || async {
        let reply = tokio::time::timeout(
            Duration::from_secs(2),
            nats.request("sec.echo", "hello".into()),
        )
        .await
        .ok()?
        .ok()?;
        Some(String::from_utf8_lossy(&reply.payload).into_owned())
    })
    .await?;
    assert_eq!(said, "hello");
    Ok(())
}

/// The value of the refusal counter for component `echo` and `action`.
fn refused(host: &TestHost, action: &str) -> u64 {
    let wanted = format!("weft_messaging_refused_total{{component=\"echo\",action=\"{action}\"}} ");
    host.host
        .metrics()
        .lines()
        .find_map(|l| l.strip_prefix(&wanted).and_then(|n| n.trim().parse().ok()))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_made_to_reply_or_send_to_lattice_subjects_changes_nothing()
-> anyhow::Result<()> {
    let log = weft_tests::log::capture();
    let server = NatsServer::start().await?;
    let host = start_host(&server.url(), LATTICE, &[]).await?;
    let attacker = async_nats::connect(server.url()).await?;
    let client = common::client(&server.url(), LATTICE).await?;
    echo_on(&client, &host, &attacker).await?;
    let id = host.host.id().to_owned();

    // 1. The issue's finding: a message whose reply subject is the host's
    //    label.put, to a component that echoes to its reply subject.
    let label = format!("wasmbus.ctl.v1.{LATTICE}.label.put.{id}");
    attacker
        .publish_with_reply(
            "sec.echo",
            label.clone(),
            r#"{"key":"pwned","value":"yes"}"#.into(),
        )
        .await?;
    let outcome = wait_for(
        "the host to take the label or the provider to refuse it",
        Duration::from_secs(20),
        || async {
            if host.host.info().labels.contains_key("pwned") {
                return Some("taken");
            }
            (refused(&host, "publish") >= 1).then_some("refused")
        },
    )
    .await?;
    assert_eq!(
        outcome, "refused",
        "a reply subject chosen by the sender reached the host's control subject label.put"
    );

    // 2. Every other kind of lattice subject, as a reply subject the sender
    //    chose, and as what the guest itself publishes and requests.
    let links_stream = format!("KV_weft_{LATTICE}_links");
    let replies = [
        format!("$KV.weft_{LATTICE}_config.pwned"),
        format!("$JS.API.STREAM.DELETE.{links_stream}"),
        format!("wasmbus.rpc.{LATTICE}.echo"),
        format!("wasmbus.ctl.v1.{LATTICE}.host.stop.{id}"),
        "wadm.api.sec.model.del.anything".to_owned(),
        "_INBOX.weft.a-host-inbox.1".to_owned(),
        "$SYS.REQ.SERVER.PING".to_owned(),
    ];
    for reply in &replies {
        attacker
            .publish_with_reply("sec.echo", reply.clone(), "{}".into())
            .await?;
    }
    let commands = [
        format!("publish wasmbus.ctl.v1.{LATTICE}.host.stop.{id} {{}}"),
        format!("publish $JS.API.STREAM.DELETE.{links_stream} {{}}"),
        format!("request wasmbus.ctl.v1.{LATTICE}.host.ping {{}}"),
        format!("publish-reply sec.elsewhere {label} {{\"key\":\"pwned\",\"value\":\"yes\"}}"),
    ];
    for command in &commands {
        attacker.publish("sec.echo", command.clone().into()).await?;
    }
    let want_publish = 1 + replies.len() as u64 + 2;
    wait_for(
        "every attempt to be refused and counted",
        Duration::from_secs(20),
        || async {
            (refused(&host, "publish") >= want_publish
                && refused(&host, "request") >= 1
                && refused(&host, "reply_to") >= 1)
                .then_some(())
        },
    )
    .await?;

    // Nothing changed: no label, no config, the links' stream is there,
    // the host still answers, and the echo still serves honest requests.
    assert!(!host.host.info().labels.contains_key("pwned"));
    match client.config("pwned").await {
        Ok(values) => assert!(values.is_empty(), "a config was written through $KV"),
        Err(e) => assert_eq!(e.kind(), weft_lattice_client::ErrorKind::Rejected, "{e}"),
    }
    let js = async_nats::jetstream::new(attacker.clone());
    assert!(
        js.get_stream(&links_stream).await.is_ok(),
        "the links' stream was deleted through $JS.API"
    );
    assert_eq!(client.hosts().await?.len(), 1, "the host stopped");
    let reply = attacker.request("sec.echo", "still here".into()).await?;
    assert_eq!(reply.payload.as_ref(), b"still here");
    assert!(
        log.contains("refused") && log.contains("reserved for the lattice"),
        "the attempts were not logged"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_and_queue_groups_on_lattice_subjects_are_not_bound() -> anyhow::Result<()> {
    let log = weft_tests::log::capture();
    let server = NatsServer::start().await?;
    let host = start_host(&server.url(), "subs", &[]).await?;
    let client = common::client(&server.url(), "subs").await?;
    let id = host.host.id().to_owned();
    client
        .scale_component(&id, &scale(&id, "echo", "echo", &[])?)
        .await?;
    client
        .start_provider(&id, &provider("nats", "builtin:messaging-nats", &[]))
        .await?;
    let hostile = [
        ("everything", "subscriptions", ">"),
        ("ctl", "subscriptions", "wasmbus.ctl.>"),
        ("any-first", "subscriptions", "*.ctl.v1.subs.>"),
        ("kv", "subscriptions", "$KV.>"),
        ("inboxes", "subscriptions", "_INBOX.weft.>"),
    ];
    for (name, key, value) in hostile {
        client
            .put_config(name, &StringMap::from([(key.into(), value.into())]))
            .await?;
        client
            .put_link(&weft_lattice_protocol::wire::Link {
                name: name.into(),
                ..link("nats", "echo", "wasmcloud:messaging", &["handler"], &[name])
            })
            .await?;
    }
    // A queue group the app API's servers share, on a subject of the app's own.
    client
        .put_config(
            "group",
            &StringMap::from([
                ("subscriptions".into(), "app.jobs".into()),
                ("queue_group".into(), "wadm_server".into()),
            ]),
        )
        .await?;
    client
        .put_link(&weft_lattice_protocol::wire::Link {
            name: "group".into(),
            ..link(
                "nats",
                "echo",
                "wasmcloud:messaging",
                &["handler"],
                &["group"],
            )
        })
        .await?;
    // Each refusal is logged with what was refused: wait for every one
    // (the counter counts attempts, and a link is tried again whenever
    // links or config change, so a count could be reached by a few).
    let refusals = hostile
        .iter()
        .map(|(_, _, value)| *value)
        .chain(["wadm_server"]);
    for value in refusals {
        wait_for(
            &format!("the subscription `{value}` to be refused"),
            Duration::from_secs(20),
            || async {
                log.lines_with("cannot bind the link from `nats` to `echo`")
                    .iter()
                    .any(|l| l.contains(&format!("refused to subscribe to `{value}`")))
                    .then_some(())
            },
        )
        .await?;
    }
    assert!(refused(&host, "subscribe") >= 6);
    // The control plane still answers (no component took its messages).
    for _ in 0..5 {
        assert_eq!(client.hosts().await?.len(), 1);
    }
    Ok(())
}

/// The provider refuses on its own too, for any embedder that hands it to
/// components without a Weft host around it.
#[tokio::test]
async fn the_nats_provider_alone_refuses_the_lattices_subjects() -> anyhow::Result<()> {
    use weft_capability::messaging::{Error, Message, Messaging};
    let server = NatsServer::start().await?;
    let messaging =
        weft_messaging_nats::NatsMessaging::new(async_nats::connect(server.url()).await?);
    let send = |subject: &str, reply_to: Option<&str>| Message {
        subject: subject.into(),
        body: "{}".into(),
        reply_to: reply_to.map(str::to_owned),
    };
    for (subject, reply_to) in [
        ("wasmbus.ctl.v1.default.host.stop.N1", None),
        ("$KV.weft_default_links.x", None),
        ("app.jobs", Some("wasmbus.ctl.v1.default.label.put.N1")),
        ("_INBOX.weft.abc.1", None),
    ] {
        let refused = messaging.publish(send(subject, reply_to)).await;
        assert!(
            matches!(refused, Err(Error::Reserved { .. })),
            "{subject} {reply_to:?}: {refused:?}"
        );
    }
    let refused = messaging
        .request("$JS.API.INFO", "".into(), Duration::from_secs(1))
        .await;
    assert!(
        matches!(refused, Err(Error::Reserved { .. })),
        "{refused:?}"
    );
    struct Nobody;
    #[async_trait::async_trait]
    impl weft_capability::messaging::MessageHandler for Nobody {
        async fn handle_message(&self, _: Message) -> Result<(), String> {
            Ok(())
        }
    }
    for (subjects, group) in [(">", None), ("app.jobs", Some("wadm_server"))] {
        let refused = messaging.subscribe(&[subjects.into()], group, std::sync::Arc::new(Nobody));
        assert!(matches!(refused, Err(Error::Reserved { .. })), "{subjects}");
    }
    // The data plane works: a plain publish and a reply to a client inbox.
    messaging
        .publish(send("app.jobs", Some("_INBOX.abc")))
        .await?;
    Ok(())
}
