//! Auctions: ask every host, collect the bids and the reasons of those that
//! decline, stop as soon as every host known to be alive has answered, and
//! pick the best bid.

use crate::{Error, ErrorKind, LatticeClient, decode, encode};
use futures::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use weft_lattice_protocol::Operation;
use weft_lattice_protocol::wire::{
    AUCTION_DECLINES_HEADER, Capacity, ComponentAuctionAck, ComponentAuctionRequest, CtlResponse,
    ProviderAuctionAck, ProviderAuctionRequest,
};

/// What an auction brought in.
#[derive(Debug, Clone, PartialEq)]
pub struct Auction<T> {
    /// The bids of the hosts that qualify.
    pub bids: Vec<T>,
    /// Why the others do not (`host N…: has no label zone`), from hosts that
    /// say (Weft hosts do; wasmCloud hosts stay silent).
    pub declines: Vec<String>,
    /// How many hosts answered at all.
    pub answered: usize,
}

/// An auction ack, whichever kind.
pub(crate) trait Ack {
    fn capacity(&self) -> Option<&Capacity>;
    fn host_id(&self) -> &str;
}

impl Ack for ComponentAuctionAck {
    fn capacity(&self) -> Option<&Capacity> {
        self.capacity.as_ref()
    }
    fn host_id(&self) -> &str {
        &self.host_id
    }
}

impl Ack for ProviderAuctionAck {
    fn capacity(&self) -> Option<&Capacity> {
        self.capacity.as_ref()
    }
    fn host_id(&self) -> &str {
        &self.host_id
    }
}

impl LatticeClient {
    /// Runs an auction: every answer within the window, or fewer once every
    /// host the answers know of has answered.
    pub(crate) async fn auction<B: Serialize, T: DeserializeOwned + Ack>(
        &self,
        op: &Operation,
        body: &B,
    ) -> Result<Auction<T>, Error> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(AUCTION_DECLINES_HEADER, "1");
        let mut replies = self.scatter(op, encode(op, Some(body))?, headers).await?;
        let deadline = tokio::time::Instant::now() + self.window;
        let mut auction = Auction {
            bids: Vec::new(),
            declines: Vec::new(),
            answered: 0,
        };
        let mut alive = 0u32;
        while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, replies.next()).await {
            // A host that answers badly is left out rather than failing the
            // whole auction.
            let Ok(envelope) = decode::<T>(op, &msg.payload) else {
                continue;
            };
            auction.answered += 1;
            if let Some(capacity) = envelope.response.as_ref().and_then(Ack::capacity) {
                alive = alive.max(capacity.lattice_hosts);
            }
            match envelope {
                CtlResponse {
                    success: true,
                    response: Some(ack),
                    ..
                } => auction.bids.push(ack),
                CtlResponse { message, .. } => auction.declines.push(message),
            }
            if alive > 0 && auction.answered >= alive as usize {
                break;
            }
        }
        auction.declines.sort();
        Ok(auction)
    }

    /// The host that should run the component: the bid with the most free
    /// instance slots (a cached image breaks ties, then the host id, so the
    /// choice is stable). Fails with [`ErrorKind::NoHost`] saying why each
    /// host declined.
    pub async fn place_component(
        &self,
        req: &ComponentAuctionRequest,
    ) -> Result<ComponentAuctionAck, Error> {
        let auction: Auction<ComponentAuctionAck> =
            self.auction(&Operation::ComponentAuction, req).await?;
        let what = format!("component `{}`", req.component_id);
        let refused = self.no_host(&what, &auction);
        auction
            .bids
            .into_iter()
            .min_by(|a, b| {
                let key = |x: &ComponentAuctionAck| {
                    let c = x.capacity.clone().unwrap_or_default();
                    (std::cmp::Reverse(c.free_instance_slots), !c.image_cached)
                };
                key(a).cmp(&key(b)).then_with(|| a.host_id.cmp(&b.host_id))
            })
            .ok_or(refused)
    }

    /// The host that should run the provider (the lowest id that bids).
    pub async fn place_provider(
        &self,
        req: &ProviderAuctionRequest,
    ) -> Result<ProviderAuctionAck, Error> {
        let auction: Auction<ProviderAuctionAck> =
            self.auction(&Operation::ProviderAuction, req).await?;
        let what = format!("provider `{}`", req.provider_id);
        let refused = self.no_host(&what, &auction);
        auction
            .bids
            .into_iter()
            .min_by(|a, b| a.host_id().cmp(b.host_id()))
            .ok_or(refused)
    }

    fn no_host<T>(&self, what: &str, auction: &Auction<T>) -> Error {
        let lattice = self.subjects.lattice();
        if auction.answered == 0 {
            return Error::new(
                ErrorKind::NoHost,
                format!(
                    "no host of lattice `{lattice}` answered the auction for {what}; start one with `weft host --lattice {lattice}`"
                ),
            );
        }
        let why = if auction.declines.is_empty() {
            "none qualifies (labels do not match, or it runs there already)".to_owned()
        } else {
            auction.declines.join("; ")
        };
        Error::new(
            ErrorKind::NoHost,
            format!("no host of lattice `{lattice}` can run {what}: {why}"),
        )
    }
}
