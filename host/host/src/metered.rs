//! Capabilities wrapped, once per link when links are resolved, so every
//! call through the link is counted and timed in that link's [`Calls`].
//! The wrapper is one more virtual call and a clock read on each side.

use crate::guard::Guard;
use crate::metrics::LinkKey;
use crate::scope::Scope;
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weft_capability::http::Body;
use weft_capability::http_client::{self, HttpClient, Options};
use weft_capability::keyvalue::{self, KeyResponse, KeyValue};
use weft_capability::messaging::{self, Message, MessageHandler, Messaging, Subscription, Use};
use weft_capability::sync::Locked;
use weft_runtime::metrics::Calls;

/// Awaits `call`, recording it in `calls`.
async fn timed<T, E>(calls: &Calls, call: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    let started = Instant::now();
    let result = call.await;
    calls.record(started, result.is_ok());
    result
}

/// A keyvalue backend whose calls are counted for one link, each bucket
/// named as the link's [`Scope`] says (a guest reaches only its own or the
/// granted buckets).
pub(crate) struct MeteredKeyValue {
    pub(crate) inner: Arc<dyn KeyValue>,
    pub(crate) calls: Arc<Calls>,
    pub(crate) scope: Scope,
}

#[async_trait]
impl KeyValue for MeteredKeyValue {
    async fn open(&self, bucket: &str) -> Result<(), keyvalue::Error> {
        let bucket = self.scope.bucket(bucket)?;
        timed(&self.calls, self.inner.open(&bucket)).await
    }

    async fn health(&self) -> Result<(), keyvalue::Error> {
        self.inner.health().await
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, keyvalue::Error> {
        let bucket = self.scope.bucket(bucket)?;
        timed(&self.calls, self.inner.get(&bucket, key)).await
    }

    async fn set(&self, bucket: &str, key: &str, value: Vec<u8>) -> Result<(), keyvalue::Error> {
        let bucket = self.scope.bucket(bucket)?;
        timed(&self.calls, self.inner.set(&bucket, key, value)).await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), keyvalue::Error> {
        let bucket = self.scope.bucket(bucket)?;
        timed(&self.calls, self.inner.delete(&bucket, key)).await
    }

    async fn exists(&self, bucket: &str, key: &str) -> Result<bool, keyvalue::Error> {
        let bucket = self.scope.bucket(bucket)?;
        timed(&self.calls, self.inner.exists(&bucket, key)).await
    }

    async fn list_keys(
        &self,
        bucket: &str,
        cursor: Option<u64>,
    ) -> Result<KeyResponse, keyvalue::Error> {
        let bucket = self.scope.bucket(bucket)?;
        timed(&self.calls, self.inner.list_keys(&bucket, cursor)).await
    }

    async fn increment(&self, bucket: &str, key: &str, delta: u64) -> Result<u64, keyvalue::Error> {
        let bucket = self.scope.bucket(bucket)?;
        timed(&self.calls, self.inner.increment(&bucket, key, delta)).await
    }

    async fn get_many(
        &self,
        bucket: &str,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, keyvalue::Error> {
        let bucket = self.scope.bucket(bucket)?;
        timed(&self.calls, self.inner.get_many(&bucket, keys)).await
    }

    async fn set_many(
        &self,
        bucket: &str,
        pairs: Vec<(String, Vec<u8>)>,
    ) -> Result<(), keyvalue::Error> {
        let bucket = self.scope.bucket(bucket)?;
        timed(&self.calls, self.inner.set_many(&bucket, pairs)).await
    }

    async fn delete_many(&self, bucket: &str, keys: Vec<String>) -> Result<(), keyvalue::Error> {
        let bucket = self.scope.bucket(bucket)?;
        timed(&self.calls, self.inner.delete_many(&bucket, keys)).await
    }
}

/// A broker whose publishes and requests are counted for one link, and
/// kept from the lattice's own subjects whatever the provider does.
pub(crate) struct MeteredMessaging {
    pub(crate) inner: Arc<dyn Messaging>,
    pub(crate) calls: Arc<Calls>,
    /// The component whose link this is.
    pub(crate) component: String,
    pub(crate) guard: Arc<Guard>,
}

impl MeteredMessaging {
    /// Refuses `subject` for `usage` when the lattice reserves it, counting
    /// and logging the attempt as `action`.
    fn check(
        &self,
        subject: &str,
        usage: Use,
        action: &'static str,
    ) -> Result<(), messaging::Error> {
        // A malformed subject (spaces, newlines, wildcards) is refused as
        // such, before anything could log it.
        messaging::check_publish_subject(subject)?;
        self.guard.reserved.check(subject, usage).inspect_err(|e| {
            self.guard
                .count("messaging_refused", &self.component, action, e);
        })
    }
}

#[async_trait]
impl Messaging for MeteredMessaging {
    async fn publish(&self, message: Message) -> Result<(), messaging::Error> {
        // The subject may be the reply subject of a message the component
        // handles, which its sender chose.
        self.check(&message.subject, Use::Send, "publish")?;
        if let Some(reply) = &message.reply_to {
            self.check(reply, Use::ReplyTo, "reply_to")?;
        }
        timed(&self.calls, self.inner.publish(message)).await
    }

    async fn health(&self) -> Result<(), messaging::Error> {
        self.inner.health().await
    }

    async fn request(
        &self,
        subject: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Message, messaging::Error> {
        self.check(subject, Use::Send, "request")?;
        timed(&self.calls, self.inner.request(subject, body, timeout)).await
    }

    fn subscribe(
        &self,
        subjects: &[String],
        queue_group: Option<&str>,
        handler: Arc<dyn MessageHandler>,
    ) -> Result<Subscription, messaging::Error> {
        self.inner.subscribe(subjects, queue_group, handler)
    }
}

/// An outgoing HTTP client whose requests are counted for one link (until
/// the response head arrives).
pub(crate) struct MeteredHttpClient {
    pub(crate) inner: Arc<dyn HttpClient>,
    pub(crate) calls: Arc<Calls>,
}

#[async_trait]
impl HttpClient for MeteredHttpClient {
    async fn send(
        &self,
        request: http::Request<Body>,
        options: Options,
    ) -> Result<http::Response<Body>, http_client::Error> {
        timed(&self.calls, self.inner.send(request, options)).await
    }
}

/// A wrapped capability, kept so resolving the same links again hands out
/// the same `Arc` (components then see their links unchanged).
enum Wrapped {
    KeyValue(Arc<MeteredKeyValue>),
    Messaging(Arc<MeteredMessaging>),
}

/// The wrappers handed out, by link.
#[derive(Default)]
pub(crate) struct Wrappers {
    by_link: Mutex<HashMap<LinkKey, Wrapped>>,
}

impl Wrappers {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<LinkKey, Wrapped>> {
        self.by_link.locked()
    }

    /// `inner` metered in `calls` for link `key`: the wrapper handed out
    /// last time when it wraps the same backend.
    pub(crate) fn keyvalue(
        &self,
        key: LinkKey,
        inner: Arc<dyn KeyValue>,
        calls: Arc<Calls>,
        scope: Scope,
    ) -> Arc<dyn KeyValue> {
        let mut map = self.map();
        if let Some(Wrapped::KeyValue(w)) = map.get(&key)
            && Arc::ptr_eq(&w.inner, &inner)
            && Arc::ptr_eq(&w.calls, &calls)
            && w.scope == scope
        {
            return w.clone();
        }
        let w = Arc::new(MeteredKeyValue {
            inner,
            calls,
            scope,
        });
        map.insert(key, Wrapped::KeyValue(w.clone()));
        w
    }

    /// Like [`Wrappers::keyvalue`], for a broker.
    pub(crate) fn messaging(
        &self,
        key: LinkKey,
        inner: Arc<dyn Messaging>,
        calls: Arc<Calls>,
        guard: &Arc<Guard>,
    ) -> Arc<dyn Messaging> {
        let mut map = self.map();
        if let Some(Wrapped::Messaging(w)) = map.get(&key)
            && Arc::ptr_eq(&w.inner, &inner)
            && Arc::ptr_eq(&w.calls, &calls)
        {
            return w.clone();
        }
        let w = Arc::new(MeteredMessaging {
            inner,
            calls,
            component: key.component.clone(),
            guard: guard.clone(),
        });
        map.insert(key, Wrapped::Messaging(w.clone()));
        w
    }

    /// Forgets the wrappers of links no longer bound.
    pub(crate) fn keep(&self, bound: &[LinkKey]) {
        self.map().retain(|k, _| bound.contains(k));
    }
}
