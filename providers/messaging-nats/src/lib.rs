//! `builtin:messaging-nats`: `wasmcloud:messaging` on NATS core.
//!
//! Components publish and send requests through a [`NatsMessaging`]; the
//! subscriptions of links from the provider to a component deliver each
//! message to the component's `handler` export, in a queue group so that a
//! component running on several hosts gets each message once.
//!
//! Nothing a component sends reaches the lattice's own subjects: publishes,
//! requests, reply subjects, subscriptions and queue groups on them are
//! refused with [`Error::Reserved`] (see [`Reserved`]), so even on a
//! single-account nats-server shared with the lattice a component cannot
//! drive its control plane. Run apps' messaging in an account of its own
//! as well (docs/security.md).
#![deny(missing_docs)]

use async_nats::{Client, RequestErrorKind};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use weft_capability::backlog::Backlog;
use weft_capability::messaging::{
    Error, Message, MessageHandler, Messaging, Reserved, Subscription, Use, check_publish_subject,
    check_subscribe_subject,
};
use weft_capability::provider::{self, Capability, Config, ProviderKind};
use weft_capability::settings;

/// Messages of one subscription handled or waiting at once; past that the
/// subscription waits [`BACKPRESSURE`] for one to finish, then drops. The
/// connection buffers as many more per subscription (then NATS drops them
/// as a slow consumer's): at most twice this many messages of the server's
/// `max_payload` each are held for one subscription.
pub const MAX_PENDING: usize = 256;

/// How long a full subscription waits for a place before it drops.
pub const BACKPRESSURE: Duration = Duration::from_secs(1);

/// A NATS connection components publish, request and subscribe through.
#[derive(Clone)]
pub struct NatsMessaging {
    client: Client,
    reserved: Reserved,
}

impl NatsMessaging {
    /// Messaging on an open connection, refusing the subjects every Weft
    /// lattice reserves.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            reserved: Reserved::default(),
        }
    }

    /// Refuses `reserved` instead (e.g. with a custom control prefix).
    pub fn with_reserved(mut self, reserved: Reserved) -> Self {
        self.reserved = reserved;
        self
    }

    fn check_size(&self, size: usize) -> Result<(), Error> {
        let max = self.client.server_info().max_payload;
        if max > 0 && size > max {
            return Err(Error::TooLarge { size, max });
        }
        Ok(())
    }
}

#[async_trait]
impl Messaging for NatsMessaging {
    async fn health(&self) -> Result<(), Error> {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            state => Err(Error::Backend(format!("NATS connection is {state}"))),
        }
    }

    async fn publish(&self, message: Message) -> Result<(), Error> {
        check_publish_subject(&message.subject)?;
        if let Some(reply) = &message.reply_to {
            check_publish_subject(reply)?;
        }
        self.reserved
            .check_message(&message.subject, message.reply_to.as_deref())?;
        self.check_size(message.body.len())?;
        let result = match message.reply_to {
            Some(reply) => {
                self.client
                    .publish_with_reply(message.subject, reply, message.body)
                    .await
            }
            None => self.client.publish(message.subject, message.body).await,
        };
        result.map_err(|e| Error::Backend(e.to_string()))
    }

    async fn request(
        &self,
        subject: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Message, Error> {
        check_publish_subject(subject)?;
        self.reserved.check(subject, Use::Send)?;
        let body_len = body.len();
        self.check_size(body_len)?;
        let request = async_nats::Request::new()
            .payload(body)
            .timeout(Some(timeout));
        match self.client.send_request(subject.to_owned(), request).await {
            Ok(reply) => Ok(Message {
                subject: reply.subject.to_string(),
                body: reply.payload,
                reply_to: reply.reply.map(|r| r.to_string()),
            }),
            Err(e) => Err(match e.kind() {
                RequestErrorKind::NoResponders => Error::NoResponders(subject.to_owned()),
                RequestErrorKind::TimedOut => Error::TimedOut {
                    subject: subject.to_owned(),
                    timeout,
                },
                RequestErrorKind::InvalidSubject => Error::BadSubject(subject.to_owned()),
                RequestErrorKind::MaxPayloadExceeded => Error::TooLarge {
                    size: body_len,
                    max: self.client.server_info().max_payload,
                },
                _ => Error::Backend(e.to_string()),
            }),
        }
    }

    fn subscribe(
        &self,
        subjects: &[String],
        queue_group: Option<&str>,
        handler: Arc<dyn MessageHandler>,
    ) -> Result<Subscription, Error> {
        for subject in subjects {
            check_subscribe_subject(subject)?;
            self.reserved.check(subject, Use::Subscribe)?;
        }
        if let Some(group) = queue_group {
            self.reserved.check_queue_group(group)?;
        }
        let client = self.client.clone();
        let subjects = subjects.to_vec();
        let group = queue_group.map(str::to_owned);
        let backlog = Backlog::new(MAX_PENDING, BACKPRESSURE);
        let task = tokio::spawn(async move {
            let mut streams = Vec::with_capacity(subjects.len());
            for subject in &subjects {
                let sub = match &group {
                    Some(g) => client.queue_subscribe(subject.clone(), g.clone()).await,
                    None => client.subscribe(subject.clone()).await,
                };
                match sub {
                    Ok(s) => streams.push(s),
                    Err(e) => tracing::warn!("cannot subscribe to `{subject}`: {e}"),
                }
            }
            let mut messages = futures::stream::select_all(streams);
            while let Some(msg) = messages.next().await {
                // At most MAX_PENDING in hand: past that the subscription
                // waits, then drops what finds no place (counted by the
                // handler's host).
                let Some(place) = backlog.admit().await else {
                    handler.dropped(msg.subject.as_str());
                    continue;
                };
                let handler = handler.clone();
                let message = Message {
                    subject: msg.subject.to_string(),
                    body: msg.payload,
                    reply_to: msg.reply.map(|r| r.to_string()),
                };
                // Messages are handled concurrently, each under the
                // component's own limits.
                tokio::spawn(async move {
                    let _place = place;
                    let subject = message.subject.clone();
                    if let Err(reason) = handler.handle_message(message).await {
                        tracing::warn!(%subject, "message handler failed: {reason}");
                    }
                });
            }
        });
        Ok(Subscription::new(move || task.abort()))
    }
}

/// The provider kind; config keys: `url` (the NATS server, `nats://…`;
/// defaults to the one given to [`NatsMessagingKind::new`]).
#[derive(Debug, Default)]
pub struct NatsMessagingKind {
    default_url: Option<String>,
    reserved: Reserved,
}

impl NatsMessagingKind {
    /// A kind whose instances connect to `default_url` unless their config
    /// says `url`.
    pub fn new(default_url: Option<String>) -> Self {
        Self {
            default_url,
            reserved: Reserved::default(),
        }
    }

    /// Its instances refuse `reserved` (the lattice's subjects, with a
    /// custom control prefix added).
    pub fn with_reserved(mut self, reserved: Reserved) -> Self {
        self.reserved = reserved;
        self
    }
}

/// The config `builtin:messaging-nats` takes.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Where to connect, with credentials; default: the kind's own.
    url: Option<String>,
}

#[async_trait]
impl ProviderKind for NatsMessagingKind {
    async fn start(&self, config: &Config) -> Result<Capability, provider::Error> {
        let settings: Settings = settings::read(config)?;
        let url = settings
            .url
            .as_ref()
            .or(self.default_url.as_ref())
            .ok_or_else(|| provider::Error::MissingKey("url".into()))?;
        let options = match provider::url_credentials(url) {
            Some((user, Some(password))) => {
                async_nats::ConnectOptions::with_user_and_password(user, password)
            }
            Some((token, None)) => async_nats::ConnectOptions::with_token(token),
            None => async_nats::ConnectOptions::new(),
        };
        let client = options
            .subscription_capacity(MAX_PENDING)
            .connect(url.as_str())
            .await
            .map_err(|e| {
                let url = provider::redacted(url);
                provider::Error::Backend(format!("could not connect to NATS at {url}: {e}"))
            })?;
        let messaging = NatsMessaging::new(client).with_reserved(self.reserved.clone());
        Ok(Capability::Messaging(Arc::new(messaging)))
    }
}
