//! `wasmcloud:messaging@0.2.0` for guests: the `consumer` import (publish,
//! request) delegating to an `Arc<dyn capability::messaging::Messaging>`,
//! and delivery of messages to a component's `handler` export.

use crate::bindings::wasmcloud::messaging::{consumer, types};
use crate::component::{Component, Refused, Stop, deadline_in, until};
use crate::links::Routing;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

use weft_capability::messaging::{Message, MessageHandler, Messaging};

/// The longest a guest's `request` may wait, whatever timeout it asks for.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What a store lends the messaging host functions for one call.
pub struct View<'a> {
    /// Where the component's links point (the broker of the link picked for
    /// `wasmcloud:messaging/consumer`).
    pub routing: &'a Routing,
}

const CONSUMER: &str = "wasmcloud:messaging/consumer";

impl View<'_> {
    fn backend(&self) -> Result<Arc<dyn Messaging>, String> {
        self.routing
            .targets(CONSUMER)
            .and_then(|t| t.messaging.clone())
            .ok_or_else(|| self.routing.unlinked(CONSUMER, "a messaging provider"))
    }
}

crate::linker::package_linker!(
    "Adds `wasmcloud:messaging/consumer` (and its types) to `linker`.",
    types,
    consumer,
);

impl types::Host for View<'_> {}

impl consumer::Host for View<'_> {
    async fn request(
        &mut self,
        subject: String,
        body: Vec<u8>,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<types::BrokerMessage, String>> {
        let backend = match self.backend() {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        let timeout = Duration::from_millis(u64::from(timeout_ms)).min(MAX_REQUEST_TIMEOUT);
        Ok(backend
            .request(&subject, body.into(), timeout)
            .await
            .map(to_guest)
            .map_err(|e| e.to_string()))
    }

    async fn publish(&mut self, msg: types::BrokerMessage) -> wasmtime::Result<Result<(), String>> {
        let backend = match self.backend() {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        let message = Message {
            subject: msg.subject,
            body: msg.body.into(),
            reply_to: msg.reply_to,
        };
        Ok(backend.publish(message).await.map_err(|e| e.to_string()))
    }
}

fn to_guest(m: Message) -> types::BrokerMessage {
    types::BrokerMessage {
        subject: m.subject,
        body: m.body.into(),
        reply_to: m.reply_to,
    }
}

#[async_trait]
impl MessageHandler for Component {
    /// Runs the component's `handle-message` on a fresh instance, under its
    /// limits (deadline, memory, concurrency).
    async fn handle_message(&self, message: Message) -> Result<(), String> {
        use tracing::Instrument;
        let started = self.clock();
        let span = tracing::debug_span!(
            "invocation",
            component = %self.id,
            kind = "message",
            subject = %message.subject
        );
        let result = self.deliver(message).instrument(span).await;
        self.count(crate::metrics::Kind::Message, started, result.is_ok());
        result
    }
}

impl Component {
    /// Runs `handle-message` on a fresh instance, ending at the
    /// component's deadline whatever the guest waits on.
    async fn deliver(&self, message: Message) -> Result<(), String> {
        let Some(indices) = &self.handler else {
            return Err(format!(
                "component `{}` does not export wasmcloud:messaging/handler",
                self.id
            ));
        };
        let deadline = deadline_in(self.limits.timeout);
        let _admitted = self
            .admit(deadline)
            .await
            .map_err(|refused| match refused {
                Refused::Late => format!(
                    "component `{}`: the message waited for a slot past its deadline",
                    self.id
                ),
                Refused::Stopping => format!("component `{}` is stopping", self.id),
            })?;
        let mut store = self.new_store();
        store.data_mut().begin(deadline);
        let run = async {
            let instance = self.pre.instantiate_async(&mut store).await.map_err(|e| {
                Stop::NotRun(format!(
                    "component `{}`: no instance could be created: {e}",
                    self.id
                ))
            })?;
            let guest = indices
                .load(&mut store, &instance)
                .map_err(|e| Stop::NotRun(format!("component `{}`: {e}", self.id)))?;
            guest
                .call_handle_message(&mut store, &to_guest(message))
                .await
                .map_err(Stop::Trap)
        };
        let wall_clock = self.runtime.config().wall_clock_deadlines;
        match until(wall_clock, deadline, run).await {
            Some(Ok(handled)) => handled,
            Some(Err(Stop::NotRun(reason))) => Err(reason),
            Some(Err(Stop::Trap(trap))) => {
                store.data().failed();
                Err(self.classify_trap(trap))
            }
            None => {
                store.data().failed();
                Err(format!(
                    "component `{}` ran past its deadline and was stopped",
                    self.id
                ))
            }
        }
    }
}

impl Component {
    /// Describes a failed `handle-message` call for the caller and the log.
    fn classify_trap(&self, e: wasmtime::Error) -> String {
        if matches!(
            e.downcast_ref::<wasmtime::Trap>(),
            Some(wasmtime::Trap::Interrupt)
        ) {
            return format!(
                "component `{}` ran past its deadline and was stopped",
                self.id
            );
        }
        let reason = format!("{e:?}");
        tracing::warn!(component = %self.id, "handle-message failed: {reason}");
        format!(
            "component `{}` trapped: {}",
            self.id,
            reason.lines().next().unwrap_or_default()
        )
    }

    /// Whether the component exports `wasmcloud:messaging/handler`.
    pub fn handles_messages(&self) -> bool {
        self.handler.is_some()
    }
}
