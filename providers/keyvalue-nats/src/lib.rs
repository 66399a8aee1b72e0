//! `wasi:keyvalue` backed by one NATS JetStream KV bucket.
//!
//! Guest buckets become key prefixes inside the KV bucket:
//! `{bucket}.{key}`, each part escaped to the characters KV keys allow
//! (`=XX` for every byte outside `[A-Za-z0-9_-]`). Increments are
//! compare-and-set on the key's revision, retried on conflict, so concurrent
//! increments from many instances and hosts lose nothing. Works on
//! nats-server 2.9 (the bucket's stream is created directly).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use weft_capability::keyvalue::KeyValue;
//! let nats = async_nats::connect("nats://127.0.0.1:4222").await?;
//! let kv = weft_keyvalue_nats::NatsKeyValue::open(nats, "weft_keyvalue").await?;
//! kv.increment("default", "hits", 1).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod kind;

pub use kind::NatsKeyValueKind;

use async_nats::jetstream::kv;
use async_trait::async_trait;
use futures::TryStreamExt;
use weft_capability::keyvalue::{Error, KeyResponse, KeyValue, LIST_KEYS_PAGE, parse_counter};
use weft_jetstream::bucket::{self, escape, unescape};

/// How often an increment retries when another writer got there first.
const INCREMENT_ATTEMPTS: usize = 1_000;

/// A keyvalue backend on one JetStream KV bucket.
#[derive(Clone)]
pub struct NatsKeyValue {
    store: kv::Store,
}

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Backend {
        backend: "nats-kv",
        source: Box::new(e),
    }
}

fn kv_key(bucket: &str, key: &str) -> String {
    format!("{}.{}", escape(bucket), escape(key))
}

impl NatsKeyValue {
    /// Opens KV bucket `bucket` on `nats`, creating it if needed.
    pub async fn open(nats: async_nats::Client, bucket: &str) -> Result<Self, Error> {
        Self::open_in(nats, bucket, &bucket::Placement::default()).await
    }

    /// Opens KV bucket `bucket` on `nats` in `placement`'s JetStream
    /// domain, creating it with its replicas if needed.
    pub async fn open_in(
        nats: async_nats::Client,
        bucket: &str,
        placement: &bucket::Placement,
    ) -> Result<Self, Error> {
        let store = placement
            .open(nats, bucket)
            .await
            .map_err(|e| Error::Backend {
                backend: "nats-kv",
                source: Box::new(e),
            })?;
        Ok(Self { store })
    }

    async fn all_keys(&self, bucket: &str) -> Result<Vec<String>, Error> {
        let prefix = format!("{}.", escape(bucket));
        let keys: Vec<String> = self
            .store
            .keys()
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        let mut keys: Vec<String> = keys
            .into_iter()
            .filter_map(|k| k.strip_prefix(&prefix).and_then(unescape))
            .collect();
        keys.sort_unstable();
        Ok(keys)
    }
}

#[async_trait]
impl KeyValue for NatsKeyValue {
    async fn health(&self) -> Result<(), Error> {
        self.store.status().await.map(|_| ()).map_err(backend)
    }

    async fn open(&self, _bucket: &str) -> Result<(), Error> {
        Ok(())
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let value = self.store.get(kv_key(bucket, key)).await.map_err(backend)?;
        Ok(value.map(|v| v.to_vec()))
    }

    async fn set(&self, bucket: &str, key: &str, value: Vec<u8>) -> Result<(), Error> {
        self.store
            .put(kv_key(bucket, key), value.into())
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), Error> {
        self.store
            .delete(kv_key(bucket, key))
            .await
            .map_err(backend)
    }

    async fn exists(&self, bucket: &str, key: &str) -> Result<bool, Error> {
        Ok(self.get(bucket, key).await?.is_some())
    }

    async fn list_keys(&self, bucket: &str, cursor: Option<u64>) -> Result<KeyResponse, Error> {
        // `cursor` is guest-controlled: it is an offset into the sorted key
        // list, and one past the end is simply an empty last page.
        let keys = self.all_keys(bucket).await?;
        let start = usize::try_from(cursor.unwrap_or(0))
            .unwrap_or(usize::MAX)
            .min(keys.len());
        let end = start.saturating_add(LIST_KEYS_PAGE).min(keys.len());
        Ok(KeyResponse {
            keys: keys[start..end].to_vec(),
            cursor: (end < keys.len()).then_some(end as u64),
        })
    }

    async fn increment(&self, bucket: &str, key: &str, delta: u64) -> Result<u64, Error> {
        let k = kv_key(bucket, key);
        for _ in 0..INCREMENT_ATTEMPTS {
            let entry = self.store.entry(k.clone()).await.map_err(backend)?;
            let live = entry.as_ref().filter(|e| e.operation == kv::Operation::Put);
            let current = parse_counter(live.map(|e| e.value.as_ref()))?;
            let next = current
                .checked_add(delta)
                .ok_or_else(|| Error::Other("the counter would overflow".into()))?;
            let bytes = bytes::Bytes::from(next.to_string());
            let written = match &entry {
                Some(e) => match self.store.update(&k, bytes, e.revision).await {
                    Ok(_) => true,
                    Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => false,
                    Err(err) => return Err(backend(err)),
                },
                None => match self.store.create(&k, bytes).await {
                    Ok(_) => true,
                    Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => false,
                    Err(err) => return Err(backend(err)),
                },
            };
            if written {
                return Ok(next);
            }
            tokio::task::yield_now().await;
        }
        Err(Error::Other(format!(
            "`{key}` changed under {INCREMENT_ATTEMPTS} increments in a row; retry"
        )))
    }
}
