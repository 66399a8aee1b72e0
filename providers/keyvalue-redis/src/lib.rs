//! `wasi:keyvalue` backed by Redis.
//!
//! Buckets map onto one Redis database: every key is `<bucket>:<key>`, the
//! bucket with `%` and `:` escaped (`%25`, `%3A`), so bucket `a` key `b:c`
//! and bucket `a:b` key `c` are different keys, and no bucket reaches a key
//! that has no bucket prefix (keys Weft did not write). On a lattice the
//! host names each component's buckets `<component>/<bucket>` unless its
//! link grants shared ones: `redis-cli GET kv-counter/default:visits` shows
//! what kv-counter counted (docs/adr/0007-keyvalue-isolation.md).
//!
//! ```no_run
//! # async fn demo() -> Result<(), weft_capability::keyvalue::Error> {
//! use weft_capability::keyvalue::KeyValue;
//! let kv = weft_keyvalue_redis::RedisKeyValue::connect("redis://127.0.0.1:6379").await?;
//! kv.increment("default", "hits", 1).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod kind;

pub use kind::RedisKeyValueKind;

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;
use weft_capability::keyvalue::{Error, KeyResponse, KeyValue, LIST_KEYS_PAGE};

/// A keyvalue backend on one Redis database, reconnecting on its own.
#[derive(Clone)]
pub struct RedisKeyValue {
    conn: ConnectionManager,
}

fn backend(e: redis::RedisError) -> Error {
    Error::Backend {
        backend: "redis",
        source: Box::new(e),
    }
}

impl RedisKeyValue {
    /// Connects to the Redis server at `url` (`redis://host:port/db`).
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(backend)?;
        // Fail fast while Redis is away (a guest gets a keyvalue error in
        // well under a second rather than after the default ~6 s of
        // retries), and reconnect on the next call once it is back.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500))
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(backend)?;
        Ok(Self { conn })
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }
}

/// `bucket` with its separator and escape character escaped: the first
/// `:` of a Redis key is always the one after the bucket.
fn escape_bucket(bucket: &str) -> String {
    bucket.replace('%', "%25").replace(':', "%3A")
}

/// The Redis key for `key` in `bucket`.
fn redis_key(bucket: &str, key: &str) -> String {
    format!("{}:{key}", escape_bucket(bucket))
}

/// The SCAN pattern matching every key of `bucket`, with glob characters escaped.
fn scan_pattern(bucket: &str) -> String {
    let bucket = escape_bucket(bucket);
    let mut p = String::with_capacity(bucket.len() + 2);
    for c in bucket.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push_str(":*");
    p
}

/// `key` as the guest knows it, given the Redis key.
fn guest_key(bucket: &str, redis_key: String) -> String {
    let prefix = escape_bucket(bucket);
    match redis_key
        .strip_prefix(prefix.as_str())
        .and_then(|k| k.strip_prefix(':'))
    {
        Some(k) => k.to_owned(),
        None => redis_key,
    }
}

#[async_trait]
impl KeyValue for RedisKeyValue {
    async fn health(&self) -> Result<(), Error> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn())
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn open(&self, _bucket: &str) -> Result<(), Error> {
        Ok(())
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.conn()
            .get(redis_key(bucket, key))
            .await
            .map_err(backend)
    }

    async fn set(&self, bucket: &str, key: &str, value: Vec<u8>) -> Result<(), Error> {
        self.conn()
            .set(redis_key(bucket, key), value)
            .await
            .map_err(backend)
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), Error> {
        self.conn()
            .del(redis_key(bucket, key))
            .await
            .map_err(backend)
    }

    async fn exists(&self, bucket: &str, key: &str) -> Result<bool, Error> {
        self.conn()
            .exists(redis_key(bucket, key))
            .await
            .map_err(backend)
    }

    async fn list_keys(&self, bucket: &str, cursor: Option<u64>) -> Result<KeyResponse, Error> {
        // `cursor` is guest-controlled; Redis treats an unknown cursor as a
        // position in its table and never fails on it.
        let pattern = scan_pattern(bucket);
        let mut cursor = cursor.unwrap_or(0);
        let mut keys = Vec::new();
        // SCAN may return empty batches; skip a few so guests see fewer empty pages.
        for _ in 0..16 {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(LIST_KEYS_PAGE)
                .query_async(&mut self.conn())
                .await
                .map_err(backend)?;
            keys.extend(batch.into_iter().map(|k| guest_key(bucket, k)));
            cursor = next;
            if cursor == 0 || !keys.is_empty() {
                break;
            }
        }
        Ok(KeyResponse {
            keys,
            cursor: (cursor != 0).then_some(cursor),
        })
    }

    async fn increment(&self, bucket: &str, key: &str, delta: u64) -> Result<u64, Error> {
        let delta = i64::try_from(delta)
            .map_err(|_| Error::Other("increment delta exceeds i64::MAX".into()))?;
        let r: Result<i64, _> = self.conn().incr(redis_key(bucket, key), delta).await;
        match r {
            Ok(n) => u64::try_from(n).map_err(|_| Error::Other("the counter is negative".into())),
            Err(e) if e.code() == Some("ERR") => {
                Err(Error::Other(format!("cannot increment: {e}")))
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn get_many(
        &self,
        bucket: &str,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, Error> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let redis_keys: Vec<String> = keys.iter().map(|k| redis_key(bucket, k)).collect();
        let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(&redis_keys)
            .query_async(&mut self.conn())
            .await
            .map_err(backend)?;
        Ok(keys
            .into_iter()
            .zip(values)
            .map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    async fn set_many(&self, bucket: &str, pairs: Vec<(String, Vec<u8>)>) -> Result<(), Error> {
        if pairs.is_empty() {
            return Ok(());
        }
        let pairs: Vec<(String, Vec<u8>)> = pairs
            .into_iter()
            .map(|(k, v)| (redis_key(bucket, &k), v))
            .collect();
        self.conn().mset(&pairs).await.map_err(backend)
    }

    async fn delete_many(&self, bucket: &str, keys: Vec<String>) -> Result<(), Error> {
        if keys.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = keys.iter().map(|k| redis_key(bucket, k)).collect();
        self.conn().del(keys).await.map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bucket_is_a_prefix_and_separators_are_escaped() {
        assert_eq!(redis_key("default", "n"), "default:n");
        assert_eq!(redis_key("app/default", "n"), "app/default:n");
        // Bucket `a` key `b:c` is not bucket `a:b` key `c`.
        assert_ne!(redis_key("a", "b:c"), redis_key("a:b", "c"));
        assert_eq!(redis_key("a:b", "c"), "a%3Ab:c");
        assert_ne!(redis_key("a%3Ab", "c"), redis_key("a:b", "c"));
        assert_eq!(scan_pattern("default"), "default:*");
        assert_eq!(scan_pattern("a*b"), "a\\*b:*");
        assert_eq!(scan_pattern("a:b"), "a%3Ab:*");
        assert_eq!(guest_key("cache", "cache:n".into()), "n");
        assert_eq!(guest_key("a:b", "a%3Ab:x:y".into()), "x:y");
    }
}
