//! Auctions: hosts bid when every constraint matches a label, the client
//! picks the best bid, stops waiting once every live host has answered, and
//! says why each host declined when none qualifies. Clients that do not ask
//! for declines (wasmCloud's) hear only from the hosts that qualify.

mod common;

use common::start_host;
use futures::StreamExt;
use std::time::Duration;
use weft_lattice_client::{ErrorKind, LatticeClient};
use weft_lattice_protocol::wire::{ComponentAuctionRequest, CtlResponse, StringMap};
use weft_lattice_protocol::{Operation, Subjects};
use weft_tests::nats::NatsServer;
use weft_tests::net;

const LATTICE: &str = "auction";

fn request(constraints: &[(&str, &str)]) -> ComponentAuctionRequest {
    ComponentAuctionRequest {
        component_ref: "file:///app.wasm".into(),
        component_id: "app".into(),
        constraints: constraints
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<StringMap>(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auctions_pick_a_matching_host_end_early_and_say_why_others_decline() -> anyhow::Result<()>
{
    let nats = NatsServer::start().await?;
    let a = start_host(&nats.url(), LATTICE, &[("zone", "a")]).await?;
    let b1 = start_host(&nats.url(), LATTICE, &[("zone", "b")]).await?;
    let b2 = start_host(&nats.url(), LATTICE, &[("zone", "b")]).await?;
    let nc = async_nats::connect(nats.url()).await?;
    let subjects = Subjects::new("wasmbus.ctl", LATTICE)?;
    // A window far longer than the test may take: the auction must end
    // because every host answered, not because the window closed.
    let client =
        LatticeClient::new(nc.clone(), subjects.clone()).with_window(Duration::from_secs(60));
    let within = Duration::from_secs(10);

    net::wait_for(
        "the hosts to know each other",
        Duration::from_secs(20),
        || async {
            let bids = tokio::time::timeout(within, client.auction_component(&request(&[])))
                .await
                .ok()?
                .ok()?;
            (bids.len() == 3).then_some(())
        },
    )
    .await?;

    let best =
        tokio::time::timeout(within, client.place_component(&request(&[("zone", "b")]))).await??;
    let b_hosts = [b1.host.id(), b2.host.id()];
    assert!(b_hosts.contains(&best.host_id.as_str()), "{best:?}");
    assert!(
        best.capacity
            .is_some_and(|c| c.lattice_hosts == 3 && c.free_instance_slots > 0)
    );

    let refused = tokio::time::timeout(within, client.place_component(&request(&[("zone", "c")])))
        .await?
        .expect_err("no host has zone=c");
    assert_eq!(refused.kind(), ErrorKind::NoHost);
    let message = refused.to_string();
    assert!(message.contains("has zone=a, not zone=c"), "{message}");
    assert_eq!(
        message.matches("has zone=b, not zone=c").count(),
        2,
        "{message}"
    );
    let missing = tokio::time::timeout(within, client.place_component(&request(&[("gpu", "yes")])))
        .await?
        .expect_err("no host has gpu");
    assert!(
        missing.to_string().contains("has no label gpu"),
        "{missing}"
    );
    assert!(
        missing.to_string().contains(a.host.id()),
        "names the hosts: {missing}"
    );

    // A host that loaded the image already says so in its bid.
    let image = format!(
        "file://{}",
        weft_tests::guests::path("http_hello")?.display()
    );
    let warm = b1.host.id().to_owned();
    client
        .scale_component(&warm, &common::scale(&warm, "warm", "http_hello", &[])?)
        .await?;
    let bids = tokio::time::timeout(
        within,
        client.auction_component(&ComponentAuctionRequest {
            component_ref: image,
            component_id: "another".into(),
            constraints: StringMap::from([("zone".into(), "b".into())]),
        }),
    )
    .await??;
    assert_eq!(bids.len(), 2);
    for bid in &bids {
        let cached = bid.capacity.as_ref().is_some_and(|c| c.image_cached);
        assert_eq!(cached, bid.host_id == warm, "{bid:?}");
    }

    // As a wasmCloud client asks (no header): only the qualifying hosts answer.
    let inbox = nc.new_inbox();
    let mut replies = nc.subscribe(inbox.clone()).await?;
    let body = serde_json::to_vec(&request(&[("zone", "b")]))?;
    nc.publish_with_reply(
        subjects.subject(&Operation::ComponentAuction),
        inbox,
        body.into(),
    )
    .await?;
    let mut answers = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_millis(500);
    while let Ok(Some(msg)) = tokio::time::timeout_at(until, replies.next()).await {
        answers.push(serde_json::from_slice::<CtlResponse<serde_json::Value>>(
            &msg.payload,
        )?);
    }
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(answers.iter().all(|r| r.success));
    Ok(())
}
