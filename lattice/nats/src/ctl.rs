//! The control-protocol adapter: NATS request → wire type → [`HostApi`]
//! call → reply envelope.
//!
//! A host subscribes to the subjects addressed to it (its id as the last
//! token), to the scatter subjects every host answers (`host.ping`,
//! auctions, `registry.put`), and — in a queue group shared by all hosts of
//! the lattice — to everything else, so lattice-wide operations (links,
//! config) and unknown subjects get exactly one answer.

mod auction;
mod host_ops;
mod lifecycle;

use crate::convert::{self, Endpoints};
use crate::events::Events;
use crate::peers::Peers;
use crate::rpc::RpcServer;
use crate::state::{LatticeState, StateError};
use async_nats::{Client, Message, Subscriber};
use futures::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use weft_capability::backlog::Backlog;
use weft_host::HostApi;
use weft_lattice_protocol::payload::{ConfigChanged, LinkRefused};
use weft_lattice_protocol::wire::{self, CtlResponse};
use weft_lattice_protocol::{EventName, LatticeEvent, Operation, Parsed, Subjects};

/// Why the control server could not start.
#[derive(Debug, thiserror::Error)]
#[error("could not subscribe to {subject}: {source}")]
pub struct ServeError {
    /// The subject.
    pub subject: String,
    /// What NATS said.
    pub source: async_nats::SubscribeError,
}

/// A running control server; stops answering when dropped.
pub struct CtlServer {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for CtlServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What every request handler needs.
struct Ctx {
    host: Arc<dyn HostApi>,
    host_id: String,
    subjects: Subjects,
    endpoints: Endpoints,
    events: Events,
    client: Client,
    state: LatticeState,
    /// Answers calls from other hosts to the components running here.
    rpc: RpcServer,
    /// The hosts of the lattice this one knows to be alive.
    peers: Peers,
    /// The links this host applied last, as `link.get` lists them: the
    /// answer while the lattice's state cannot be read.
    applied: std::sync::Mutex<Option<Vec<wire::Link>>>,
    /// Control requests in hand at once; a flood waits, then is dropped.
    backlog: Backlog,
    /// Control requests dropped so far, for the log.
    dropped: std::sync::atomic::AtomicU64,
}

/// Control requests a host handles at once; past that its subscriptions
/// wait [`CONTROL_BACKPRESSURE`] for one to finish, then drop requests
/// (whose senders time out) until one does.
pub const MAX_CONTROL_IN_FLIGHT: usize = 256;

/// How long a host's full control subscriptions wait before dropping.
pub const CONTROL_BACKPRESSURE: Duration = Duration::from_secs(2);

/// Answers the control protocol for `host` on `client`, keeping lattice-wide
/// data (links, configs) in `state`.
pub async fn serve(
    client: Client,
    subjects: Subjects,
    host: Arc<dyn HostApi>,
    endpoints: Endpoints,
    events: Events,
    state: LatticeState,
) -> Result<CtlServer, ServeError> {
    let host_id = host.info().id;
    let rpc = RpcServer::new(client.clone(), subjects.clone(), host.clone());
    rpc.sync().await;
    let peers = Peers::new(&host_id);
    let following = peers.clone().follow(client.clone(), &subjects).await;
    let ctx = Arc::new(Ctx {
        rpc,
        peers,
        host,
        host_id: host_id.clone(),
        subjects: subjects.clone(),
        endpoints,
        events,
        client: client.clone(),
        state,
        applied: std::sync::Mutex::default(),
        backlog: Backlog::new(MAX_CONTROL_IN_FLIGHT, CONTROL_BACKPRESSURE),
        dropped: std::sync::atomic::AtomicU64::new(0),
    });
    let direct = [
        subjects.subject(&Operation::HostPing),
        subjects.subject(&Operation::ComponentAuction),
        subjects.subject(&Operation::ProviderAuction),
        subjects.subject(&Operation::RegistryPut),
        // `{root}.{topic}.{op}.{host}`: everything addressed to this host.
        subjects
            .subject(&Operation::HostGet {
                host: host_id.clone(),
            })
            .replace(".host.get.", ".*.*."),
    ];
    let mut tasks = vec![following];
    for subject in direct {
        let sub = subscribe(&client, &subject, None).await?;
        tasks.push(tokio::spawn(pump(sub, ctx.clone(), Role::Direct)));
    }
    tasks.push(tokio::spawn(follow_links(ctx.clone())));
    let spies = subscribe(&client, &subjects.spy_requests(), None).await?;
    tasks.push(tokio::spawn(follow_spies(spies, ctx.host.clone())));
    let wildcard = subjects.wildcard();
    let group = wildcard.trim_end_matches(".>").to_owned();
    let sub = subscribe(&client, &wildcard, Some(group)).await?;
    tasks.push(tokio::spawn(pump(sub, ctx, Role::Queued)));
    subscriptions_registered(&client).await;
    Ok(CtlServer { tasks })
}

/// Returns once the server has registered every subscription made so far on
/// `client`: a message to ourselves comes back only after the server has
/// processed what we sent before it. Without this, a request sent (by
/// another connection) right after `serve` returns can reach the server
/// before our subscriptions and go to another host, which ignores it.
async fn subscriptions_registered(client: &Client) {
    let inbox = client.new_inbox();
    let probe = async {
        let mut sub = client.subscribe(inbox.clone()).await.ok()?;
        client
            .publish(inbox.clone(), Vec::new().into())
            .await
            .ok()?;
        sub.next().await
    };
    if tokio::time::timeout(Duration::from_secs(5), probe)
        .await
        .ok()
        .flatten()
        .is_none()
    {
        tracing::warn!("could not confirm the control subscriptions with the NATS server");
    }
}

/// Keeps the host's links in step with the lattice: applies them at once,
/// then again after every change of a link or of a named config (links
/// carry their configs merged in); re-subscribes if the watch ends (as it
/// does when NATS restarts). While a link's config cannot be read, the
/// links applied before stay and applying is tried again every second.
async fn follow_links(ctx: Arc<Ctx>) {
    // Said once per outage, not on every retry.
    let mut failing = false;
    loop {
        let configs = futures::future::join(
            ctx.client
                .subscribe(ctx.subjects.event(EventName::ConfigSet.as_str())),
            ctx.client
                .subscribe(ctx.subjects.event(EventName::ConfigDeleted.as_str())),
        )
        .await;
        let mut configs = match configs {
            (Ok(set), Ok(deleted)) => futures::stream::select(set, deleted).boxed(),
            _ => {
                tracing::warn!("cannot follow config changes; links see them on their next change");
                futures::stream::pending().boxed()
            }
        };
        match ctx.state.watch_links().await {
            Ok(changes) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("watching the lattice's links again");
                }
                let mut changes = std::pin::pin!(changes);
                // key -> (revision, link); the watch replays every key first.
                let mut table = BTreeMap::new();
                let mut replayed = false;
                let mut applier = Applier::default();
                loop {
                    tokio::select! {
                        change = changes.next() => {
                            let Some(change) = change else { break };
                            match change.link {
                                Some(link) => table.insert(change.key, (change.revision, link)),
                                None => table.remove(&change.key),
                            };
                            if change.pending == 0 {
                                replayed = true;
                                applier.apply(&ctx, &table).await;
                            }
                        }
                        Some(_) = configs.next() => {
                            if replayed {
                                applier.apply(&ctx, &table).await;
                            }
                        }
                        () = tokio::time::sleep(Duration::from_secs(1)), if applier.is_behind() => {
                            applier.apply(&ctx, &table).await;
                        }
                    }
                }
            }
            Err(e) if !failing => {
                failing = true;
                tracing::warn!("cannot watch the lattice's links (retrying every second): {e}");
            }
            Err(e) => tracing::debug!("cannot watch the lattice's links yet: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Applies the link table, remembering whether the last try failed (a
/// config could not be read) so that it is tried again; says so when it
/// starts, once a minute while it lasts, and when it ends.
#[derive(Default)]
struct Applier {
    /// Since when the host has had older links than the table.
    behind: Option<tokio::time::Instant>,
    /// When that was last said.
    said: Option<tokio::time::Instant>,
}

/// How often a host still keeping older links says so.
const BEHIND_REMINDER: Duration = Duration::from_secs(60);

impl Applier {
    /// Whether the host has older links than the table.
    fn is_behind(&self) -> bool {
        self.behind.is_some()
    }

    async fn apply(&mut self, ctx: &Ctx, table: &BTreeMap<String, (u64, wire::Link)>) {
        let now = tokio::time::Instant::now();
        match ctx.apply_links(table).await {
            Ok(()) => {
                self.said = None;
                if let Some(since) = self.behind.take() {
                    tracing::info!(
                        "links applied again after {:?}: their configs can be read",
                        since.elapsed()
                    );
                }
            }
            Err(e) => {
                let since = *self.behind.get_or_insert(now);
                if self.said.is_none_or(|at| at + BEHIND_REMINDER <= now) {
                    self.said = Some(now);
                    tracing::warn!(
                        "keeping the links applied before (for {:?}), trying again every \
                         second: a link's config cannot be read: {e}",
                        now - since
                    );
                } else {
                    tracing::debug!("links still not applied: {e}");
                }
            }
        }
    }
}

/// Watches components for `weft spy` while it asks (malformed requests
/// are ignored: nobody waits for an answer).
async fn follow_spies(mut requests: Subscriber, host: Arc<dyn HostApi>) {
    use weft_lattice_protocol::spy::{MAX_SPY_SECONDS, SpyRequest};
    while let Some(msg) = requests.next().await {
        if let Ok(req) = serde_json::from_slice::<SpyRequest>(&msg.payload) {
            let seconds = req.seconds.min(MAX_SPY_SECONDS);
            host.spy(&req.component_id, Duration::from_secs(seconds));
        }
    }
}

async fn subscribe(
    client: &Client,
    subject: &str,
    group: Option<String>,
) -> Result<Subscriber, ServeError> {
    let result = match group {
        Some(group) => client.queue_subscribe(subject.to_owned(), group).await,
        None => client.subscribe(subject.to_owned()).await,
    };
    result.map_err(|source| ServeError {
        subject: subject.to_owned(),
        source,
    })
}

/// Which subscription a message came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Addressed to this host, or to every host.
    Direct,
    /// The lattice-wide queue group.
    Queued,
}

async fn pump(mut sub: Subscriber, ctx: Arc<Ctx>, role: Role) {
    while let Some(msg) = sub.next().await {
        // A bounded number at once: a flood of requests waits, then is
        // dropped, instead of piling up tasks without end.
        let Some(place) = ctx.backlog.admit().await else {
            let n = ctx
                .dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    subject = %msg.subject,
                    dropped = n,
                    "control request dropped: {MAX_CONTROL_IN_FLIGHT} are in hand already \
                     ({n} dropped so far)"
                );
            }
            continue;
        };
        let ctx = ctx.clone();
        // One task per request: a slow operation does not hold up the rest.
        tokio::spawn(async move {
            let _place = place;
            ctx.on_message(msg, role).await
        });
    }
}

impl Ctx {
    async fn on_message(&self, msg: Message, role: Role) {
        let Some(parsed) = self.subjects.parse(msg.subject.as_str()) else {
            return;
        };
        let declines = msg
            .headers
            .as_ref()
            .is_some_and(|h| h.get(wire::AUCTION_DECLINES_HEADER).is_some());
        let reply = match (parsed, role) {
            (Parsed::Unsupported, Role::Queued) => json(&CtlResponse::unsupported()),
            (Parsed::Unsupported, Role::Direct) => return,
            (Parsed::Operation(op), Role::Queued) if !op.is_queued() => return,
            (Parsed::Operation(op), _) => match self.handle(&op, &msg.payload, declines).await {
                Some(reply) => reply,
                None => return,
            },
        };
        let Some(to) = msg.reply else { return };
        if let Err(e) = self.client.publish(to, reply.into()).await {
            tracing::warn!(subject = %msg.subject, "could not send the reply: {e}");
        }
    }

    /// The reply to `op`, or `None` when this host stays silent (a host
    /// addressed to another id, an auction it does not qualify for unless
    /// the client asked for `declines`).
    async fn handle(&self, op: &Operation, body: &[u8], declines: bool) -> Option<Vec<u8>> {
        if op.host().is_some_and(|host| host != self.host_id) {
            // For another host.
            return None;
        }
        Some(match op {
            Operation::HostPing => json(&CtlResponse::ok(convert::host(
                self.host.info(),
                &self.endpoints,
            ))),
            Operation::HostGet { .. } => {
                json(&CtlResponse::ok(convert::inventory(self.host.inventory())))
            }
            Operation::LabelPut { .. } => match parse(op, body) {
                Ok(label) => self.label_put(label).await,
                Err(reply) => reply,
            },
            Operation::LabelDel { .. } => match parse(op, body) {
                Ok(label) => self.label_del(label).await,
                Err(reply) => reply,
            },
            // wash sends a body; an empty one means "stop now".
            Operation::HostStop { host } if body.is_empty() => self.host_stop(wire::StopHost {
                host_id: host.clone(),
                timeout: None,
            }),
            Operation::HostStop { .. } => match parse(op, body) {
                Ok(stop) => self.host_stop(stop),
                Err(reply) => reply,
            },
            Operation::ComponentScale { .. } => match parse::<wire::ScaleComponent>(op, body) {
                Ok(cmd) => self.scale(cmd).await,
                Err(reply) => reply,
            },
            Operation::ComponentAuction => match parse(op, body) {
                Ok(req) => return self.component_auction(req, declines),
                Err(reply) => reply,
            },
            Operation::ProviderStart { .. } => match parse::<wire::StartProvider>(op, body) {
                Ok(cmd) => self.start_provider(cmd).await,
                Err(reply) => reply,
            },
            Operation::ProviderStop { .. } => match parse(op, body) {
                Ok(cmd) => self.stop_provider(cmd).await,
                Err(reply) => reply,
            },
            Operation::ProviderAuction => match parse(op, body) {
                Ok(req) => return self.provider_auction(req, declines),
                Err(reply) => reply,
            },
            Operation::ConfigPut { name } => match parse::<wire::StringMap>(op, body) {
                Ok(values) => self.config_put(name, &values).await,
                Err(reply) => reply,
            },
            Operation::ConfigGet { name } => match self.state.config(name).await {
                Ok(Some(values)) => json(&CtlResponse::ok(values)),
                Ok(None) => failure(StateError::NoSuchConfig(name.clone())),
                Err(e) => failure(e),
            },
            Operation::ConfigDel { name } => self.config_del(name).await,
            Operation::LinkPut => match parse::<wire::Link>(op, body) {
                Ok(link) => self.link_put(&link).await,
                Err(reply) => reply,
            },
            Operation::LinkDel => match parse(op, body) {
                Ok(del) => self.link_del(&del).await,
                Err(reply) => reply,
            },
            Operation::LinkGet => self.link_get().await,
            Operation::ComponentUpdate { .. } => match parse::<wire::UpdateComponent>(op, body) {
                Ok(cmd) => self.update(cmd).await,
                Err(reply) => reply,
            },
            // Weft signs nothing: there are no JWT claims to list.
            Operation::ClaimsGet => json(&CtlResponse::ok(Vec::<wire::StringMap>::new())),
            Operation::RegistryPut => match parse(op, body) {
                Ok(registries) => self.registry_put(registries),
                Err(reply) => reply,
            },
        })
    }

    async fn config_del(&self, name: &str) -> Vec<u8> {
        match self.state.delete_config(name).await {
            Ok(()) => {
                let data = ConfigChanged {
                    config_name: name.to_owned(),
                };
                self.events
                    .publish(&LatticeEvent::ConfigDeleted(data))
                    .await;
                json(&CtlResponse::ack())
            }
            Err(e) => failure(e),
        }
    }

    async fn link_del(&self, del: &wire::DeleteLink) -> Vec<u8> {
        match self.state.delete_link(del).await {
            Ok(()) => {
                self.events
                    .publish(&LatticeEvent::LinkdefDeleted(del.clone()))
                    .await;
                json(&CtlResponse::ack())
            }
            Err(e) => failure(e),
        }
    }

    async fn config_put(&self, name: &str, values: &wire::StringMap) -> Vec<u8> {
        match self.state.put_config(name, values).await {
            Ok(()) => {
                let data = ConfigChanged {
                    config_name: name.to_owned(),
                };
                self.events.publish(&LatticeEvent::ConfigSet(data)).await;
                json(&CtlResponse::ack())
            }
            Err(e) => failure(e),
        }
    }

    async fn link_put(&self, link: &wire::Link) -> Vec<u8> {
        match self.state.put_link(link).await {
            Ok(()) => {
                self.events
                    .publish(&LatticeEvent::LinkdefSet(link.clone()))
                    .await;
                json(&CtlResponse::ack())
            }
            Err(e) => {
                let refused = LinkRefused {
                    link: link.clone(),
                    message: e.to_string(),
                };
                self.events
                    .publish(&LatticeEvent::LinkdefSetFailed(refused))
                    .await;
                failure(e)
            }
        }
    }

    /// Every link of the lattice; while JetStream cannot list them, the
    /// ones this host applies (nothing can change them meanwhile), saying so.
    async fn link_get(&self) -> Vec<u8> {
        match self.state.links().await {
            Ok(links) => json(&CtlResponse::ok(links)),
            Err(e @ StateError::Unavailable(_)) => {
                let applied = self.applied.lock().map(|a| a.clone()).unwrap_or_default();
                match applied {
                    Some(links) => json(&CtlResponse {
                        success: true,
                        message: format!("the links host {} applies; {e}", self.host_id),
                        response: Some(links),
                    }),
                    None => failure(e),
                }
            }
            Err(e) => failure(e),
        }
    }

    /// Hands the host the links, oldest write first (while a link moves,
    /// two links of a slot exist for a moment and the newer wins), with
    /// their source and target configs read from the lattice (a config that
    /// does not exist or is corrupt counts as empty). When JetStream cannot
    /// answer for a config, the host keeps the links it has: binding them without their config would
    /// move listeners and drop subscriptions of running components.
    async fn apply_links(
        &self,
        table: &BTreeMap<String, (u64, wire::Link)>,
    ) -> Result<(), StateError> {
        let mut links: Vec<&(u64, wire::Link)> = table.values().collect();
        links.sort_by_key(|(revision, _)| *revision);
        let mut configs = ConfigCache::default();
        let mut bindings = Vec::with_capacity(links.len());
        for (_, l) in &links {
            bindings.push(weft_host::LinkBinding {
                source: l.source_id.clone(),
                target: l.target.clone(),
                name: l.name.clone(),
                namespace: l.wit_namespace.clone(),
                package: l.wit_package.clone(),
                interfaces: l.interfaces.clone(),
                source_config: configs.merged(&self.state, &l.source_config).await?,
                target_config: configs.merged(&self.state, &l.target_config).await?,
            });
        }
        let mut listed: Vec<wire::Link> = links.into_iter().map(|(_, l)| l.clone()).collect();
        crate::state::sort_links(&mut listed);
        if let Ok(mut applied) = self.applied.lock() {
            *applied = Some(listed);
        }
        self.host.set_links(bindings);
        Ok(())
    }
}

/// Named configs read once per application of the links.
#[derive(Default)]
struct ConfigCache(BTreeMap<String, wire::StringMap>);

impl ConfigCache {
    /// The named configs `names`, merged in order (one that does not exist
    /// or cannot be decoded adds nothing); fails when JetStream cannot
    /// answer.
    async fn merged(
        &mut self,
        state: &LatticeState,
        names: &[String],
    ) -> Result<BTreeMap<String, String>, StateError> {
        let mut merged = BTreeMap::new();
        for name in names {
            if !self.0.contains_key(name) {
                let values = match state.config(name).await {
                    Ok(values) => values.unwrap_or_default(),
                    // A corrupt entry or a bad name stays so: it must not
                    // hold up the other links.
                    Err(e @ (StateError::Corrupt(_) | StateError::Invalid(_))) => {
                        tracing::warn!("config `{name}` of a link counts as empty: {e}");
                        wire::StringMap::default()
                    }
                    // JetStream cannot answer now: worth waiting for.
                    Err(e) => return Err(e),
                };
                let values = weft_lattice_protocol::secret::without_marker(values);
                self.0.insert(name.clone(), values);
            }
            if let Some(values) = self.0.get(name) {
                merged.extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        Ok(merged)
    }
}

/// Decodes a request body, or the error reply saying what is wrong with it.
fn parse<T: DeserializeOwned>(op: &Operation, body: &[u8]) -> Result<T, Vec<u8>> {
    serde_json::from_slice(body).map_err(|e| {
        json(&CtlResponse::<()>::error(format!(
            "malformed `{}` request body: {e}",
            op.name()
        )))
    })
}

/// The failure reply for a state error.
fn failure(e: StateError) -> Vec<u8> {
    json(&CtlResponse::<()>::error(e.to_string()))
}

/// Serializes a reply; the wire types always serialize, but never panic on it.
fn json<T: Serialize>(reply: &CtlResponse<T>) -> Vec<u8> {
    serde_json::to_vec(reply).unwrap_or_else(|e| {
        format!(r#"{{"success":false,"message":"could not encode the reply: {e}"}}"#).into_bytes()
    })
}
