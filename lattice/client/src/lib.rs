//! `weft-lattice-client`: a typed client for the lattice control protocol
//! (`wasmbus.ctl.v1`), for the CLI, the reconciler and tests. Works against
//! Weft hosts and, for the shared subjects, wasmCloud hosts.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use weft_lattice_client::{ErrorKind, LatticeClient};
//! use weft_lattice_protocol::Subjects;
//!
//! let nats = async_nats::connect("nats://127.0.0.1:4222").await?;
//! let client = LatticeClient::new(nats, Subjects::new("wasmbus.ctl", "default")?);
//! for host in client.hosts().await? {
//!     println!("{} {}", host.id, host.friendly_name);
//! }
//! match client.config("missing").await {
//!     Err(e) if e.kind() == ErrorKind::Rejected => println!("{e}"),
//!     other => println!("{other:?}"),
//! }
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod auction;
mod call;
mod error;

pub use auction::Auction;
pub use call::CallRequest;
pub use error::{Error, ErrorKind};

use async_nats::RequestErrorKind;
use futures::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use weft_lattice_protocol::wire::{
    ComponentAuctionAck, ComponentAuctionRequest, CtlResponse, DeleteLink, Host, HostInventory,
    HostLabel, HostLabelKey, Link, ProviderAuctionAck, ProviderAuctionRequest, ScaleComponent,
    StartProvider, StopHost, StopProvider, StringMap, UpdateComponent,
};
use weft_lattice_protocol::{Operation, Subjects};

/// How long a request waits for its answer, as wasmCloud clients do.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a scale request may take: the host fetches and compiles first.
pub const SCALE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long scatter requests (`host.ping`) collect answers.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(1);

/// A client of one lattice.
#[derive(Debug, Clone)]
pub struct LatticeClient {
    nats: async_nats::Client,
    subjects: Subjects,
    timeout: Duration,
    window: Duration,
}

impl LatticeClient {
    /// A client of the lattice `subjects` names, over `nats`.
    pub fn new(nats: async_nats::Client, subjects: Subjects) -> Self {
        Self {
            nats,
            subjects,
            timeout: DEFAULT_TIMEOUT,
            window: DEFAULT_WINDOW,
        }
    }

    /// Waits `timeout` for each answer (default 2 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Collects scatter answers for `window` (default 1 s).
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Every host that answers `host.ping` within the window, sorted by id.
    pub async fn hosts(&self) -> Result<Vec<Host>, Error> {
        let mut hosts: Vec<Host> = self.gather(&Operation::HostPing, None::<&()>).await?;
        hosts.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(hosts)
    }

    /// The inventory of `host_id`.
    pub async fn inventory(&self, host_id: &str) -> Result<HostInventory, Error> {
        let op = Operation::HostGet {
            host: host_id.to_owned(),
        };
        self.request(&op, None::<&()>).await
    }

    /// The bids of every host that qualifies to run the component; empty
    /// when none does. Ends once every host the answers say is alive has
    /// answered, or after the window.
    pub async fn auction_component(
        &self,
        req: &ComponentAuctionRequest,
    ) -> Result<Vec<ComponentAuctionAck>, Error> {
        Ok(self.auction(&Operation::ComponentAuction, req).await?.bids)
    }

    /// Asks `host_id` to start, resize or (with `max_instances` 0) stop a
    /// component; returns when the host has done it.
    pub async fn scale_component(&self, host_id: &str, cmd: &ScaleComponent) -> Result<(), Error> {
        let op = Operation::ComponentScale {
            host: host_id.to_owned(),
        };
        self.act(&op, cmd).await
    }

    /// Asks `host_id` to switch a running component to another image;
    /// returns once the new one serves.
    pub async fn update_component(
        &self,
        host_id: &str,
        cmd: &UpdateComponent,
    ) -> Result<(), Error> {
        let op = Operation::ComponentUpdate {
            host: host_id.to_owned(),
        };
        self.act(&op, cmd).await
    }

    /// Sends `cmd` for `op`, an operation the host answers once done (it
    /// may fetch and compile first: waits at least [`SCALE_TIMEOUT`]).
    async fn act<T: serde::Serialize>(&self, op: &Operation, cmd: &T) -> Result<(), Error> {
        let _: CtlResponse<serde_json::Value> = self
            .send_within(op, Some(cmd), SCALE_TIMEOUT.max(self.timeout))
            .await?;
        Ok(())
    }

    /// Every host that qualifies to run the provider, like
    /// [`Self::auction_component`].
    pub async fn auction_provider(
        &self,
        req: &ProviderAuctionRequest,
    ) -> Result<Vec<ProviderAuctionAck>, Error> {
        Ok(self.auction(&Operation::ProviderAuction, req).await?.bids)
    }

    /// Asks `host_id` to start a provider instance; returns when it is ready.
    pub async fn start_provider(&self, host_id: &str, cmd: &StartProvider) -> Result<(), Error> {
        let op = Operation::ProviderStart {
            host: host_id.to_owned(),
        };
        self.act(&op, cmd).await
    }

    /// Asks `host_id` to stop provider `provider_id`.
    pub async fn stop_provider(&self, host_id: &str, provider_id: &str) -> Result<(), Error> {
        let op = Operation::ProviderStop {
            host: host_id.to_owned(),
        };
        let body = StopProvider {
            host_id: host_id.to_owned(),
            provider_id: provider_id.to_owned(),
        };
        self.ack(&op, Some(&body)).await
    }

    /// Sets label `key=value` on `host_id`.
    pub async fn put_label(&self, host_id: &str, key: &str, value: &str) -> Result<(), Error> {
        let op = Operation::LabelPut {
            host: host_id.to_owned(),
        };
        let body = HostLabel {
            key: key.to_owned(),
            value: value.to_owned(),
        };
        self.ack(&op, Some(&body)).await
    }

    /// Removes label `key` from `host_id`.
    pub async fn delete_label(&self, host_id: &str, key: &str) -> Result<(), Error> {
        let op = Operation::LabelDel {
            host: host_id.to_owned(),
        };
        let body = HostLabelKey {
            key: key.to_owned(),
        };
        self.ack(&op, Some(&body)).await
    }

    /// Asks `host_id` to stop, draining for at most `drain`.
    pub async fn stop_host(&self, host_id: &str, drain: Option<Duration>) -> Result<(), Error> {
        let op = Operation::HostStop {
            host: host_id.to_owned(),
        };
        let body = StopHost {
            host_id: host_id.to_owned(),
            timeout: drain.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        };
        self.ack(&op, Some(&body)).await
    }

    /// Stores named config `name`.
    pub async fn put_config(&self, name: &str, values: &StringMap) -> Result<(), Error> {
        let op = Operation::ConfigPut {
            name: name.to_owned(),
        };
        self.ack(&op, Some(values)).await
    }

    /// Named config `name` (`Rejected` if it does not exist).
    pub async fn config(&self, name: &str) -> Result<StringMap, Error> {
        let op = Operation::ConfigGet {
            name: name.to_owned(),
        };
        self.request(&op, None::<&()>).await
    }

    /// Deletes named config `name` (no error if it does not exist).
    pub async fn delete_config(&self, name: &str) -> Result<(), Error> {
        let op = Operation::ConfigDel {
            name: name.to_owned(),
        };
        self.ack(&op, None::<&()>).await
    }

    /// Sets `link`.
    pub async fn put_link(&self, link: &Link) -> Result<(), Error> {
        self.ack(&Operation::LinkPut, Some(link)).await
    }

    /// Deletes the link(s) `del` names (no error if there are none).
    pub async fn delete_link(&self, del: &DeleteLink) -> Result<(), Error> {
        self.ack(&Operation::LinkDel, Some(del)).await
    }

    /// Every link in the lattice, as stored. While the lattice's state
    /// cannot be read this is `Rejected` with the reason, even when the
    /// answering host offered the links it applies: a caller that acts on
    /// the links (the reconciler) must not act on a host's copy.
    pub async fn links(&self) -> Result<Vec<Link>, Error> {
        let (links, note) = self.links_noted().await?;
        if note.is_empty() {
            Ok(links)
        } else {
            Err(Error::new(ErrorKind::Rejected, note))
        }
    }

    /// Every link in the lattice, with what the answering host noted about
    /// them: empty, or why they are the links it applies rather than the
    /// stored ones (the lattice's state cannot be read). For showing, not
    /// for acting on.
    pub async fn links_noted(&self) -> Result<(Vec<Link>, String), Error> {
        self.request_noted(&Operation::LinkGet, None::<&()>).await
    }

    /// Sends `op` and decodes the payload of a successful reply.
    async fn request<B: Serialize, T: DeserializeOwned>(
        &self,
        op: &Operation,
        body: Option<&B>,
    ) -> Result<T, Error> {
        Ok(self.request_noted(op, body).await?.0)
    }

    /// Sends `op`: the payload of a successful reply and its message.
    async fn request_noted<B: Serialize, T: DeserializeOwned>(
        &self,
        op: &Operation,
        body: Option<&B>,
    ) -> Result<(T, String), Error> {
        let envelope: CtlResponse<T> = self.send(op, body).await?;
        let response = envelope.response.ok_or_else(|| {
            Error::new(
                ErrorKind::Malformed,
                format!("the `{}` reply carried no response", op.name()),
            )
        })?;
        Ok((response, envelope.message))
    }

    /// Sends `op` and expects a plain success.
    async fn ack<B: Serialize + ?Sized>(
        &self,
        op: &Operation,
        body: Option<&B>,
    ) -> Result<(), Error> {
        let _: CtlResponse<serde_json::Value> = self.send(op, body).await?;
        Ok(())
    }

    async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        op: &Operation,
        body: Option<&B>,
    ) -> Result<CtlResponse<T>, Error> {
        self.send_within(op, body, self.timeout).await
    }

    async fn send_within<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        op: &Operation,
        body: Option<&B>,
        timeout: Duration,
    ) -> Result<CtlResponse<T>, Error> {
        let payload = encode(op, body)?;
        let request = async_nats::Request::new()
            .payload(payload.into())
            .timeout(Some(timeout));
        let reply = self
            .nats
            .send_request(self.subjects.subject(op), request)
            .await
            .map_err(|e| match e.kind() {
                RequestErrorKind::TimedOut => Error::new(
                    ErrorKind::TimedOut,
                    match op.target().filter(|_| !op.is_queued()) {
                        // Every host listens in a queue group for unknown
                        // subjects, so a wrong host id times out rather than
                        // finding no responders.
                        Some(host) => format!(
                            "host `{host}` did not answer `{}` within {:?}; is the id right? `weft get hosts --lattice {}` lists the hosts",
                            op.name(),
                            timeout,
                            self.subjects.lattice()
                        ),
                        None => format!(
                            "no answer to `{}` within {:?}; is a host of lattice `{}` running?",
                            op.name(),
                            timeout,
                            self.subjects.lattice()
                        ),
                    },
                ),
                RequestErrorKind::NoResponders => Error::new(
                    ErrorKind::NoResponders,
                    match op.target().filter(|_| !op.is_queued()) {
                        Some(host) => format!(
                            "no host `{host}` in lattice `{}`; `weft get hosts` lists them",
                            self.subjects.lattice()
                        ),
                        None => format!(
                            "no host in lattice `{lattice}` answers `{}`; start one with `weft host --lattice {lattice}`",
                            op.name(),
                            lattice = self.subjects.lattice()
                        ),
                    },
                ),
                _ => Error::new(ErrorKind::Transport, format!("`{}`: {e}", op.name())),
            })?;
        let envelope: CtlResponse<T> = decode(op, &reply.payload)?;
        if envelope.success {
            Ok(envelope)
        } else {
            Err(Error::new(ErrorKind::Rejected, envelope.message))
        }
    }

    /// Publishes a request every host may answer; the answers come on the
    /// returned subscription.
    async fn scatter(
        &self,
        op: &Operation,
        payload: Vec<u8>,
        headers: async_nats::HeaderMap,
    ) -> Result<async_nats::Subscriber, Error> {
        let transport = |e: &dyn std::fmt::Display| {
            Error::new(ErrorKind::Transport, format!("`{}`: {e}", op.name()))
        };
        let inbox = self.nats.new_inbox();
        let replies = self
            .nats
            .subscribe(inbox.clone())
            .await
            .map_err(|e| transport(&e))?;
        self.nats
            .publish_with_reply_and_headers(
                self.subjects.subject(op),
                inbox,
                headers,
                payload.into(),
            )
            .await
            .map_err(|e| transport(&e))?;
        Ok(replies)
    }

    /// Sends a scatter request and collects every successful answer that
    /// arrives within the window.
    async fn gather<B: Serialize, T: DeserializeOwned>(
        &self,
        op: &Operation,
        body: Option<&B>,
    ) -> Result<Vec<T>, Error> {
        let mut replies = self
            .scatter(op, encode(op, body)?, async_nats::HeaderMap::new())
            .await?;
        let deadline = tokio::time::Instant::now() + self.window;
        let mut out = Vec::new();
        while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, replies.next()).await {
            // A host that answers badly is left out rather than failing the
            // whole listing.
            if let Ok(CtlResponse {
                success: true,
                response: Some(item),
                ..
            }) = decode::<T>(op, &msg.payload)
            {
                out.push(item);
            }
        }
        Ok(out)
    }
}

fn encode<B: Serialize + ?Sized>(op: &Operation, body: Option<&B>) -> Result<Vec<u8>, Error> {
    match body {
        None => Ok(Vec::new()),
        Some(body) => serde_json::to_vec(body).map_err(|e| {
            Error::new(
                ErrorKind::Malformed,
                format!("could not encode the `{}` request: {e}", op.name()),
            )
        }),
    }
}

fn decode<T: DeserializeOwned>(op: &Operation, bytes: &[u8]) -> Result<CtlResponse<T>, Error> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::new(
            ErrorKind::Malformed,
            format!("the `{}` reply is not the protocol's JSON: {e}", op.name()),
        )
    })
}
