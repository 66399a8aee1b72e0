//! Messaging: what `wasmcloud:messaging` components publish and receive.
//!
//! A [`Messaging`] backend (the NATS provider) sends messages for components (`consumer`) and delivers the
//! messages of its subscriptions to a [`MessageHandler`] (a component's
//! `handler` export).

use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

pub use crate::provider::Subscription;
pub use reserved::{LATTICE_INBOX_PREFIX, Reserved, Use};

mod reserved;

/// One message as sent to or delivered from a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The subject it is sent on.
    pub subject: String,
    /// Its payload.
    pub body: Bytes,
    /// Where a reply should go, if the sender waits for one.
    pub reply_to: Option<String>,
}

/// Why a message could not be sent or answered.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The subject is empty or not a valid publish subject.
    #[error(
        "invalid subject `{0}`: subjects are non-empty dot-separated tokens without spaces or wildcards"
    )]
    BadSubject(String),
    /// The subject belongs to the lattice (its control plane, JetStream,
    /// its hosts' inboxes): no component may reach it.
    #[error(
        "refused to {usage} `{subject}`: it is reserved for the lattice (wasmbus.>, wadm.>, $JS/$KV/$SYS…, the hosts' inboxes); components use subjects of their own"
    )]
    Reserved {
        /// The subject, pattern or queue group.
        subject: String,
        /// What it was meant for.
        usage: Use,
    },
    /// The payload is larger than the broker accepts.
    #[error("message of {size} bytes is over the broker's limit of {max} bytes")]
    TooLarge {
        /// The payload's size.
        size: usize,
        /// The broker's limit.
        max: usize,
    },
    /// Nobody is subscribed to the subject of a request.
    #[error("no responders on `{0}`")]
    NoResponders(String),
    /// The request's reply did not come in time.
    #[error("no reply on `{subject}` within {timeout:?}")]
    TimedOut {
        /// The request's subject.
        subject: String,
        /// How long it waited.
        timeout: Duration,
    },
    /// The broker failed or could not be reached.
    #[error("messaging backend failed: {0}")]
    Backend(String),
}

/// Receives the messages of a subscription: a component's
/// `wasmcloud:messaging/handler` export.
#[async_trait]
pub trait MessageHandler: Send + Sync + 'static {
    /// Handles one message; the error is the handler's own reason.
    async fn handle_message(&self, message: Message) -> Result<(), String>;

    /// Told of a message on `subject` that was dropped unhandled because
    /// too many of the subscription's messages waited already (the
    /// handler is stuck or slow): hosts count it.
    fn dropped(&self, subject: &str) {
        let _ = subject;
    }
}

/// A message broker components can use.
#[async_trait]
pub trait Messaging: Send + Sync + 'static {
    /// Sends `message` without waiting for a reply.
    async fn publish(&self, message: Message) -> Result<(), Error>;

    /// Whether the broker can be reached now; hosts report it as the
    /// provider's health.
    async fn health(&self) -> Result<(), Error> {
        Ok(())
    }

    /// Sends `body` on `subject` and waits up to `timeout` for one reply.
    async fn request(
        &self,
        subject: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Message, Error>;

    /// Delivers every message on `subjects` (wildcards allowed) to
    /// `handler`. With a `queue_group`, subscribers in the same group share
    /// the messages: each goes to one of them. Messages may be handled
    /// concurrently.
    fn subscribe(
        &self,
        subjects: &[String],
        queue_group: Option<&str>,
        handler: Arc<dyn MessageHandler>,
    ) -> Result<Subscription, Error>;
}

/// Checks a subject to publish on: non-empty tokens, no spaces, no wildcards.
pub fn check_publish_subject(subject: &str) -> Result<(), Error> {
    let bad = subject.is_empty()
        || subject
            .split('.')
            .any(|t| t.is_empty() || t == "*" || t == ">" || t.contains(char::is_whitespace));
    if bad {
        return Err(Error::BadSubject(subject.to_owned()));
    }
    Ok(())
}

/// Checks a subscription subject: like a publish subject, but `*` may stand
/// for a token and a final `>` for the rest.
pub fn check_subscribe_subject(subject: &str) -> Result<(), Error> {
    let tokens: Vec<&str> = subject.split('.').collect();
    let last = tokens.len().saturating_sub(1);
    let bad = subject.is_empty()
        || tokens.iter().enumerate().any(|(i, t)| {
            t.is_empty()
                || t.contains(char::is_whitespace)
                || (*t == ">" && i != last)
                || (t.contains(['*', '>']) && *t != "*" && *t != ">")
        });
    if bad {
        return Err(Error::BadSubject(subject.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_checked() {
        assert!(check_publish_subject("a.b").is_ok());
        for bad in ["", "a..b", "a.*", "a.>", "a b", ".a"] {
            assert!(check_publish_subject(bad).is_err(), "{bad}");
        }
        for good in ["a", "a.*.c", "a.>", ">"] {
            assert!(check_subscribe_subject(good).is_ok(), "{good}");
        }
        for bad in ["", "a.>.b", "a*", "a..b", "a. b"] {
            assert!(check_subscribe_subject(bad).is_err(), "{bad}");
        }
    }
}
