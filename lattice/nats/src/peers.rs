//! Which hosts of the lattice are alive, as this host sees them from
//! `host_started`, `host_heartbeat` and `host_stopped` events. Auction
//! answers carry the count, so a client can stop waiting once every host
//! has answered.

use async_nats::Client;
use futures::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use weft_capability::sync::Locked;
use weft_lattice_protocol::alive::{LiveHosts, Liveness};
use weft_lattice_protocol::wire::Host;
use weft_lattice_protocol::{CtlResponse, EventName, Operation, Subjects};

/// How this host judges its peers' silence: three missed beats, and never
/// less than 15 s (a peer that has not shown its interval yet counts for
/// that long).
const LIVENESS: Liveness = Liveness {
    missed_beats: 3,
    default_beat: Duration::from_secs(5),
    min_horizon: Duration::from_secs(15),
    // Whatever --heartbeat a host runs with (a day at most, so the
    // arithmetic stays far from overflow).
    max_beat: Duration::from_secs(86_400),
    cap: 10_000,
};

/// The hosts this host has heard from lately.
#[derive(Clone)]
pub(crate) struct Peers {
    me: String,
    seen: Arc<Mutex<LiveHosts<()>>>,
}

impl Peers {
    pub(crate) fn new(me: &str) -> Self {
        Self {
            me: me.to_owned(),
            seen: Arc::new(Mutex::new(LiveHosts::new(LIVENESS))),
        }
    }

    /// Hosts alive now, this one included.
    pub(crate) fn alive(&self) -> u32 {
        let seen = self.seen.locked();
        let others = seen
            .alive(Instant::now())
            .filter(|(id, _)| *id != self.me)
            .count();
        u32::try_from(others + 1).unwrap_or(u32::MAX)
    }

    fn heard(&self, host: &str, beat: bool) {
        self.seen
            .locked()
            .heard(host, Instant::now(), beat, None, |_| ());
    }

    fn gone(&self, host: &str) {
        self.seen.locked().gone(host);
    }

    /// Follows the lattice's host events until the task is aborted.
    pub(crate) async fn follow(self, client: Client, subjects: &Subjects) -> JoinHandle<()> {
        let wanted = [
            EventName::HostStarted,
            EventName::HostHeartbeat,
            EventName::HostStopped,
        ];
        let mut subs = Vec::new();
        for name in wanted {
            match client.subscribe(subjects.event(name.as_str())).await {
                Ok(sub) => subs.push(sub.map(move |m| (name, m))),
                Err(e) => tracing::warn!("cannot follow `{}` events: {e}", name.as_str()),
            }
        }
        // Hosts that were there before this one learn of it from its
        // `host_started`; it learns of them by asking once.
        let seed = self.clone();
        let ping = subjects.subject(&Operation::HostPing);
        tokio::spawn(async move {
            let inbox = client.new_inbox();
            let Ok(mut replies) = client.subscribe(inbox.clone()).await else {
                return;
            };
            if client
                .publish_with_reply(ping, inbox, Vec::new().into())
                .await
                .is_err()
            {
                return;
            }
            let until = tokio::time::Instant::now() + Duration::from_secs(2);
            while let Ok(Some(msg)) = tokio::time::timeout_at(until, replies.next()).await {
                let id = serde_json::from_slice::<CtlResponse<Host>>(&msg.payload)
                    .ok()
                    .and_then(|r| r.response)
                    .map(|h| h.id);
                if let Some(id) = id {
                    seed.heard(&id, false);
                }
            }
        });
        tokio::spawn(async move {
            let mut events = futures::stream::select_all(subs);
            while let Some((name, msg)) = events.next().await {
                // The CloudEvent's `source` is the host id.
                let source = serde_json::from_slice::<serde_json::Value>(&msg.payload)
                    .ok()
                    .and_then(|v| v.get("source")?.as_str().map(str::to_owned));
                let Some(host) = source else { continue };
                match name {
                    EventName::HostStopped => self.gone(&host),
                    EventName::HostHeartbeat => self.heard(&host, true),
                    _ => self.heard(&host, false),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_itself_and_the_hosts_it_heard() {
        let peers = Peers::new("me");
        assert_eq!(peers.alive(), 1);
        peers.heard("a", false);
        peers.heard("b", true);
        peers.heard("me", true);
        assert_eq!(peers.alive(), 3);
        peers.gone("a");
        assert_eq!(peers.alive(), 2);
    }

    #[test]
    fn invented_hosts_are_capped() {
        let peers = Peers::new("me");
        for i in 0..LIVENESS.cap + 100 {
            peers.heard(&format!("invented-{i}"), true);
        }
        assert_eq!(peers.alive() as usize, LIVENESS.cap + 1);
    }
}
