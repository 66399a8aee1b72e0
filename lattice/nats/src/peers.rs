//! Which hosts of the lattice are alive, as this host sees them from
//! `host_started`, `host_heartbeat` and `host_stopped` events. Auction
//! answers carry the count, so a client can stop waiting once every host
//! has answered.

use async_nats::Client;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use weft_capability::sync::Locked;
use weft_lattice_protocol::wire::Host;
use weft_lattice_protocol::{CtlResponse, EventName, Operation, Subjects};

/// A host counts as gone once it has missed this many of its heartbeats.
const MISSED_BEATS: u32 = 3;
/// The least time a host counts as alive after it was last heard from.
const MIN_HORIZON: Duration = Duration::from_secs(15);

/// Hosts kept at most: past that, hosts not heard from before are not
/// tracked (they come from the wire: anyone on the lattice can invent ids).
const MAX_PEERS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Seen {
    last: Instant,
    /// The gap between its last two heartbeats, once known.
    interval: Option<Duration>,
}

impl Seen {
    /// Whether it still counts as alive at `now`.
    fn alive(&self, now: Instant) -> bool {
        let horizon = self
            .interval
            .map_or(MIN_HORIZON, |i| (i * MISSED_BEATS).max(MIN_HORIZON));
        now.duration_since(self.last) < horizon
    }
}

/// The hosts this host has heard from lately.
#[derive(Clone)]
pub(crate) struct Peers {
    me: String,
    seen: Arc<Mutex<HashMap<String, Seen>>>,
}

impl Peers {
    pub(crate) fn new(me: &str) -> Self {
        Self {
            me: me.to_owned(),
            seen: Arc::default(),
        }
    }

    /// Hosts alive now, this one included.
    pub(crate) fn alive(&self) -> u32 {
        let now = Instant::now();
        let seen = self.seen.locked();
        let others = seen
            .iter()
            .filter(|(id, s)| *id != &self.me && s.alive(now))
            .count();
        u32::try_from(others + 1).unwrap_or(u32::MAX)
    }

    fn heard(&self, host: &str, beat: bool) {
        let now = Instant::now();
        let mut seen = self.seen.locked();
        if !seen.contains_key(host) {
            // A host not seen before: forget the ones that stopped beating
            // (without a `host_stopped`), and track no more than the cap.
            seen.retain(|_, s| s.alive(now));
            if seen.len() >= MAX_PEERS {
                return;
            }
        }
        let entry = seen.entry(host.to_owned()).or_insert(Seen {
            last: now,
            interval: None,
        });
        if beat && entry.last < now {
            entry.interval = Some(now.duration_since(entry.last));
        }
        entry.last = now;
    }

    fn gone(&self, host: &str) {
        self.seen.locked().remove(host);
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
    fn hosts_that_stopped_beating_are_forgotten_and_invented_ones_capped() {
        let peers = Peers::new("me");
        let long_ago = Instant::now() - MIN_HORIZON * 2;
        peers.seen.lock().unwrap().insert(
            "stale".into(),
            Seen {
                last: long_ago,
                interval: None,
            },
        );
        peers.heard("fresh", true);
        assert!(!peers.seen.lock().unwrap().contains_key("stale"));
        for i in 0..MAX_PEERS + 100 {
            peers.heard(&format!("invented-{i}"), true);
        }
        assert!(peers.seen.lock().unwrap().len() <= MAX_PEERS);
    }
}
