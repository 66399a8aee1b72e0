//! Auctions: a host answers `component.auction` / `provider.auction` with
//! its bid when it qualifies; when the client asks for declines (Weft's
//! header), also with the reason when it does not — both carrying how many
//! hosts it knows, so the client can stop waiting once all have answered.

use super::{Ctx, json};
use weft_lattice_protocol::wire::{self, CtlResponse};

impl Ctx {
    /// This host's bid for `req` (or its decline, when asked for).
    pub(super) fn component_auction(
        &self,
        req: wire::ComponentAuctionRequest,
        declines: bool,
    ) -> Option<Vec<u8>> {
        let bid = self
            .host
            .bid(&req.component_id, &req.component_ref, &req.constraints);
        let (free, memory, cached) = match &bid {
            Ok(bid) => (
                bid.free_instance_slots,
                bid.memory_available,
                bid.image_cached,
            ),
            Err(_) => (0, 0, false),
        };
        let ack = wire::ComponentAuctionAck {
            component_ref: req.component_ref,
            component_id: req.component_id,
            host_id: self.host_id.clone(),
            constraints: req.constraints,
            capacity: Some(wire::Capacity {
                free_instance_slots: free,
                memory_available: memory,
                image_cached: cached,
                lattice_hosts: self.peers.alive(),
            }),
        };
        self.answer(bid.err().map(|d| d.0), ack, declines)
    }

    /// This host's bid for `req` (or its decline, when asked for).
    pub(super) fn provider_auction(
        &self,
        req: wire::ProviderAuctionRequest,
        declines: bool,
    ) -> Option<Vec<u8>> {
        let bid = self.host.provider_bid(&req.provider_id, &req.constraints);
        let ack = wire::ProviderAuctionAck {
            provider_ref: req.provider_ref,
            provider_id: req.provider_id,
            host_id: self.host_id.clone(),
            constraints: req.constraints,
            capacity: Some(wire::Capacity {
                lattice_hosts: self.peers.alive(),
                ..wire::Capacity::default()
            }),
        };
        self.answer(bid.err().map(|d| d.0), ack, declines)
    }

    /// The ack, the decline (when asked for), or silence.
    fn answer<T: serde::Serialize>(
        &self,
        declined: Option<String>,
        ack: T,
        declines: bool,
    ) -> Option<Vec<u8>> {
        match declined {
            None => Some(json(&CtlResponse::ok(ack))),
            Some(reason) if declines => Some(json(&CtlResponse {
                success: false,
                message: format!("host {}: {reason}", self.host_id),
                response: Some(ack),
            })),
            Some(_) => None,
        }
    }
}
