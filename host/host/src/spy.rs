//! Watching what a component sends (`weft spy --component`): while someone
//! asks, the component's messaging binding is wrapped so that every message
//! it publishes or requests is also handed to a tap (the lattice adapter,
//! which forwards it to the spy). Nothing is wrapped, and nothing costs,
//! when nobody watches.

use crate::Host;
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_capability::messaging::{Error, Message, MessageHandler, Messaging, Subscription};
use weft_capability::sync::Shared;

/// Told of every message a watched component sends.
#[async_trait]
pub trait MessageTap: Send + Sync + 'static {
    /// `component`, on host `host`, sent `message` (a request shows with no
    /// reply subject).
    async fn sent(&self, host: &str, component: &str, message: &Message);
}

/// A messaging binding that also tells the tap, until `until`.
struct Tapped {
    inner: Arc<dyn Messaging>,
    host: String,
    component: String,
    tap: Arc<dyn MessageTap>,
    until: Instant,
}

#[async_trait]
impl Messaging for Tapped {
    async fn publish(&self, message: Message) -> Result<(), Error> {
        if Instant::now() < self.until {
            self.tap.sent(&self.host, &self.component, &message).await;
        }
        self.inner.publish(message).await
    }

    async fn request(
        &self,
        subject: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Message, Error> {
        if Instant::now() < self.until {
            let message = Message {
                subject: subject.to_owned(),
                body: body.clone(),
                reply_to: None,
            };
            self.tap.sent(&self.host, &self.component, &message).await;
        }
        self.inner.request(subject, body, timeout).await
    }

    fn subscribe(
        &self,
        subjects: &[String],
        queue_group: Option<&str>,
        handler: Arc<dyn MessageHandler>,
    ) -> Result<Subscription, Error> {
        self.inner.subscribe(subjects, queue_group, handler)
    }

    async fn health(&self) -> Result<(), Error> {
        self.inner.health().await
    }
}

impl Host {
    /// Taps what `component` sends for the next `ttl` (a spy renews it).
    pub fn spy(&self, component: &str, ttl: Duration) {
        if self.tap.is_none() {
            return;
        }
        let now = Instant::now();
        {
            let mut spied = self.spied.writing();
            spied.retain(|_, until| *until > now);
            if spied.insert(component.to_owned(), now + ttl).is_none() {
                tracing::info!(component, "a spy watches what it sends");
            }
        }
        self.rebind();
    }

    /// `messaging`, wrapped when `component` is watched.
    pub(crate) fn tapped(
        &self,
        component: &str,
        messaging: Arc<dyn Messaging>,
    ) -> Arc<dyn Messaging> {
        let Some(tap) = &self.tap else {
            return messaging;
        };
        let until = self.spied.reading().get(component).copied();
        match until {
            Some(until) if until > Instant::now() => Arc::new(Tapped {
                inner: messaging,
                host: self.id.clone(),
                component: component.to_owned(),
                tap: tap.clone(),
                until,
            }),
            _ => messaging,
        }
    }
}
