//! Component-to-component calls across hosts (subjects and bodies in
//! [`weft_lattice_protocol::rpc`]): the caller's side, [`NatsRemoteCalls`],
//! which the host uses for links whose target runs elsewhere, and the
//! callee's side, [`RpcServer`], which answers calls for the components
//! running on this host.

use async_nats::{Client, Message, RequestErrorKind};
use async_trait::async_trait;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use weft_capability::backlog::Backlog;
use weft_capability::call::{self, Call, Encoding, RemoteCalls};
use weft_capability::sync::Locked;
use weft_host::HostApi;
use weft_lattice_protocol::rpc::RpcCall;
use weft_lattice_protocol::{CtlResponse, Subjects};

/// Sends calls to components on other hosts of the lattice: one NATS
/// request per call, bounded by the caller's deadline.
pub struct NatsRemoteCalls {
    client: Client,
    subjects: Subjects,
}

impl NatsRemoteCalls {
    /// Calls over `client`, on the lattice `subjects` names.
    pub fn new(client: Client, subjects: Subjects) -> Self {
        Self { client, subjects }
    }
}

#[async_trait]
impl RemoteCalls for NatsRemoteCalls {
    async fn call(&self, call: Call) -> Result<Vec<String>, call::Error> {
        if call.timeout.is_zero() {
            return Err(call::Error::TimedOut {
                target: call.target,
                timeout: call.timeout,
            });
        }
        let body = RpcCall {
            interface: call.interface,
            function: call.function,
            args: call.args,
            timeout_ms: u64::try_from(call.timeout.as_millis()).unwrap_or(u64::MAX),
            json: call.results == Encoding::Json,
        };
        let payload = serde_json::to_vec(&body)
            .map_err(|e| call::Error::Transport(format!("could not encode the call: {e}")))?;
        // 0 until the server's INFO has arrived.
        let max = self.client.server_info().max_payload;
        if max > 0 && payload.len() > max {
            return Err(call::Error::TooLarge {
                target: call.target,
                size: payload.len(),
                max,
            });
        }
        let request = async_nats::Request::new()
            .payload(payload.into())
            .timeout(Some(call.timeout));
        let reply = self
            .client
            .send_request(self.subjects.rpc(&call.target), request)
            .await
            .map_err(|e| match e.kind() {
                RequestErrorKind::NoResponders => call::Error::NoResponders(call.target.clone()),
                RequestErrorKind::TimedOut => call::Error::TimedOut {
                    target: call.target.clone(),
                    timeout: call.timeout,
                },
                _ => call::Error::Transport(e.to_string()),
            })?;
        let envelope: CtlResponse<Vec<String>> =
            serde_json::from_slice(&reply.payload).map_err(|e| {
                call::Error::Transport(format!(
                    "`{}` answered with a malformed reply: {e}",
                    call.target
                ))
            })?;
        if envelope.success {
            Ok(envelope.response.unwrap_or_default())
        } else {
            Err(call::Error::Failed(envelope.message))
        }
    }
}

/// Answers calls for the components running on this host: one queue
/// subscription per component (so where it runs on several hosts, one of
/// them answers each call); kept in step with the host by [`Self::sync`].
pub struct RpcServer {
    client: Client,
    subjects: Subjects,
    host: Arc<dyn HostApi>,
    served: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl Drop for RpcServer {
    fn drop(&mut self) {
        for task in self.served.locked().values() {
            task.abort();
        }
    }
}

impl RpcServer {
    /// A server for `host`'s components; serves nothing until [`Self::sync`].
    pub fn new(client: Client, subjects: Subjects, host: Arc<dyn HostApi>) -> Self {
        Self {
            client,
            subjects,
            host,
            served: Mutex::default(),
        }
    }

    /// Serves calls for exactly the components running on the host now.
    pub async fn sync(&self) {
        let running: Vec<String> = self
            .host
            .inventory()
            .components
            .into_iter()
            .map(|c| c.id)
            .collect();
        let missing: Vec<String> = {
            let mut served = self.served.locked();
            served.retain(|id, task| {
                let keep = running.contains(id);
                if !keep {
                    task.abort();
                }
                keep
            });
            running
                .into_iter()
                .filter(|id| !served.contains_key(id))
                .collect()
        };
        for id in missing {
            let subject = self.subjects.rpc(&id);
            let sub = match self
                .client
                .queue_subscribe(subject.clone(), "weft-rpc".into())
                .await
            {
                Ok(sub) => sub,
                Err(e) => {
                    tracing::warn!(component = %id, "cannot serve calls on {subject}: {e}");
                    continue;
                }
            };
            let task = tokio::spawn(serve(
                sub,
                self.client.clone(),
                self.host.clone(),
                id.clone(),
            ));
            let mut served = self.served.locked();
            if let Some(old) = served.insert(id, task) {
                old.abort();
            }
        }
    }
}

/// Calls from other hosts to one component handled or waiting at once.
pub const MAX_CALLS_IN_FLIGHT: usize = 1_024;

async fn serve(
    mut sub: async_nats::Subscriber,
    client: Client,
    host: Arc<dyn HostApi>,
    component: String,
) {
    // A bounded number of calls at once (each also ends at its deadline):
    // a flood waits, then is dropped, and its callers time out.
    let backlog = Backlog::new(MAX_CALLS_IN_FLIGHT, Duration::from_secs(1));
    let mut dropped = 0u64;
    while let Some(msg) = sub.next().await {
        let Some(place) = backlog.admit().await else {
            dropped += 1;
            if dropped.is_power_of_two() {
                tracing::warn!(
                    %component,
                    dropped,
                    "a call from another host was dropped: {MAX_CALLS_IN_FLIGHT} wait already"
                );
            }
            continue;
        };
        let (client, host, component) = (client.clone(), host.clone(), component.clone());
        // One task per call: a slow callee does not hold up the others.
        tokio::spawn(async move {
            let _place = place;
            answer(msg, &client, host.as_ref(), component).await
        });
    }
}

async fn answer(msg: Message, client: &Client, host: &dyn HostApi, component: String) {
    let Some(reply_to) = msg.reply else { return };
    let result = match serde_json::from_slice::<RpcCall>(&msg.payload) {
        Ok(body) => host
            .invoke(Call {
                target: component.clone(),
                interface: body.interface,
                function: body.function,
                args: body.args,
                timeout: Duration::from_millis(body.timeout_ms),
                results: if body.json {
                    Encoding::Json
                } else {
                    Encoding::Wave
                },
            })
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!("malformed call to `{component}`: {e}")),
    };
    let envelope = match result {
        Ok(results) => CtlResponse::ok(results),
        Err(message) => CtlResponse::error(message),
    };
    let mut payload = serde_json::to_vec(&envelope).unwrap_or_default();
    let max = client.server_info().max_payload;
    if max > 0 && payload.len() > max {
        let message = format!(
            "the results of the call to `{component}` are {} bytes, over the lattice's limit of {max} bytes",
            payload.len()
        );
        payload = serde_json::to_vec(&CtlResponse::<()>::error(message)).unwrap_or_default();
    }
    if let Err(e) = client.publish(reply_to, payload.into()).await {
        tracing::warn!(%component, "could not send a call's results: {e}");
    }
}

/// Forwards what watched components send to the spy subject
/// (`weft spy --component`).
pub struct NatsTap {
    client: Client,
    subjects: Subjects,
}

impl NatsTap {
    /// A tap publishing on `client`, in the lattice `subjects` names.
    pub fn new(client: Client, subjects: Subjects) -> Self {
        Self { client, subjects }
    }
}

#[async_trait]
impl weft_host::MessageTap for NatsTap {
    async fn sent(
        &self,
        host: &str,
        component: &str,
        message: &weft_capability::messaging::Message,
    ) {
        let copy = weft_lattice_protocol::spy::SentMessage {
            subject: message.subject.clone(),
            reply_to: message.reply_to.clone(),
            body: String::from_utf8_lossy(&message.body).into_owned(),
            host_id: host.to_owned(),
        };
        let Ok(payload) = serde_json::to_vec(&copy) else {
            return;
        };
        // Best effort: a spy missing a copy is no reason to delay the guest.
        let _ = self
            .client
            .publish(self.subjects.spy(component), payload.into())
            .await;
    }
}
