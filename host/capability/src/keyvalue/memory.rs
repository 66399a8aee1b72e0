//! An in-process keyvalue backend, for development and tests, with a quota
//! per tenant so one component cannot take the host's memory.

use super::{Error, KeyResponse, KeyValue, LIST_KEYS_PAGE, parse_counter};
use crate::sync::Locked;
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

/// Keys one tenant may hold by default.
pub const DEFAULT_MAX_KEYS: u64 = 100_000;

/// Bytes (keys and values) one tenant may hold by default.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// What one tenant may hold. A tenant is what a bucket name has before its
/// first `/` (hosts name each component's buckets `<component>/<bucket>`,
/// so a tenant is a component), or the whole name when it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Keys, over all its buckets.
    pub max_keys: u64,
    /// Bytes of keys and values, over all its buckets.
    pub max_bytes: u64,
}

impl Default for Quota {
    fn default() -> Self {
        Self {
            max_keys: DEFAULT_MAX_KEYS,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

#[derive(Debug, Default)]
struct Data {
    buckets: HashMap<String, BTreeMap<String, Vec<u8>>>,
    /// Keys and bytes held, by tenant.
    used: HashMap<String, (u64, u64)>,
}

/// Keyvalue held in this process's memory; lost when the process exits.
#[derive(Debug, Default)]
pub struct InMemoryKeyValue {
    data: Mutex<Data>,
    quota: Quota,
}

/// The tenant a bucket's keys count against.
fn tenant(bucket: &str) -> &str {
    bucket.split_once('/').map_or(bucket, |(t, _)| t)
}

impl InMemoryKeyValue {
    /// A store holding at most `quota` per tenant.
    pub fn with_quota(quota: Quota) -> Self {
        Self {
            data: Mutex::default(),
            quota,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        // A panic while holding the lock cannot leave a map half-written
        // (every mutation is a single call), so a poisoned lock is still usable.
        self.data.locked()
    }
}

impl Data {
    /// Stores `value` under `key` if the tenant's quota allows it.
    fn put(&mut self, quota: Quota, bucket: &str, key: &str, value: Vec<u8>) -> Result<(), Error> {
        let old = self.buckets.get(bucket).map(|b| b.get(key).map(Vec::len));
        let (keys, bytes) = self.used.get(tenant(bucket)).copied().unwrap_or_default();
        let size = (key.len() + value.len()) as u64;
        // A bucket's name is guest-chosen: a new bucket counts its name too.
        let (keys, bytes) = match old {
            Some(Some(old)) => (keys, bytes.saturating_sub((key.len() + old) as u64) + size),
            Some(None) => (keys + 1, bytes + size),
            None => (keys + 1, bytes + size + bucket.len() as u64),
        };
        if keys > quota.max_keys || bytes > quota.max_bytes {
            return Err(Error::Other(format!(
                "quota exceeded: the buckets of `{}` may hold {} keys and {} bytes in this \
                 in-memory store (provider config max_keys, max_bytes); delete keys or use \
                 a store of its own",
                tenant(bucket),
                quota.max_keys,
                quota.max_bytes
            )));
        }
        self.used.insert(tenant(bucket).to_owned(), (keys, bytes));
        self.buckets
            .entry(bucket.to_owned())
            .or_default()
            .insert(key.to_owned(), value);
        Ok(())
    }

    fn remove(&mut self, bucket: &str, key: &str) {
        let Some(map) = self.buckets.get_mut(bucket) else {
            return;
        };
        let Some(old) = map.remove(key) else {
            return;
        };
        let mut freed = (key.len() + old.len()) as u64;
        if map.is_empty() {
            self.buckets.remove(bucket);
            freed += bucket.len() as u64;
        }
        if let Some((keys, bytes)) = self.used.get_mut(tenant(bucket)) {
            *keys = keys.saturating_sub(1);
            *bytes = bytes.saturating_sub(freed);
        }
    }
}

#[async_trait]
impl KeyValue for InMemoryKeyValue {
    async fn open(&self, _bucket: &str) -> Result<(), Error> {
        Ok(())
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self
            .lock()
            .buckets
            .get(bucket)
            .and_then(|b| b.get(key))
            .cloned())
    }

    async fn set(&self, bucket: &str, key: &str, value: Vec<u8>) -> Result<(), Error> {
        self.lock().put(self.quota, bucket, key, value)
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), Error> {
        self.lock().remove(bucket, key);
        Ok(())
    }

    async fn exists(&self, bucket: &str, key: &str) -> Result<bool, Error> {
        Ok(self
            .lock()
            .buckets
            .get(bucket)
            .is_some_and(|b| b.contains_key(key)))
    }

    async fn list_keys(&self, bucket: &str, cursor: Option<u64>) -> Result<KeyResponse, Error> {
        let data = self.lock();
        let Some(b) = data.buckets.get(bucket) else {
            return Ok(KeyResponse::default());
        };
        // `cursor` is guest-controlled: it is an offset into the sorted keys,
        // and anything past the end is simply an empty last page.
        let start = usize::try_from(cursor.unwrap_or(0)).unwrap_or(usize::MAX);
        let keys: Vec<String> = b.keys().skip(start).take(LIST_KEYS_PAGE).cloned().collect();
        let next = start.saturating_add(keys.len());
        let cursor = (next < b.len()).then_some(next as u64);
        Ok(KeyResponse { keys, cursor })
    }

    async fn increment(&self, bucket: &str, key: &str, delta: u64) -> Result<u64, Error> {
        let mut data = self.lock();
        let current = parse_counter(
            data.buckets
                .get(bucket)
                .and_then(|b| b.get(key))
                .map(Vec::as_slice),
        )?;
        let next = current
            .checked_add(delta)
            .ok_or_else(|| Error::Other("increment overflows u64".into()))?;
        data.put(self.quota, bucket, key, next.to_string().into_bytes())?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_over_its_quota_gets_a_clear_error_and_others_are_not_affected() {
        let kv = InMemoryKeyValue::with_quota(Quota {
            max_keys: 3,
            max_bytes: 100,
        });
        for k in ["a", "b", "c"] {
            kv.set("app/one", k, b"1".to_vec()).await.unwrap();
        }
        let err = kv.set("app/two", "d", b"1".to_vec()).await.unwrap_err();
        assert!(err.to_string().contains("quota exceeded"), "{err}");
        // Overwriting and other tenants still work; deleting frees room.
        kv.set("app/one", "a", b"22".to_vec()).await.unwrap();
        kv.set("other/x", "d", b"1".to_vec()).await.unwrap();
        kv.delete("app/one", "a").await.unwrap();
        kv.set("app/two", "d", b"1".to_vec()).await.unwrap();
        let big = vec![0u8; 200];
        assert!(kv.set("big/x", "k", big).await.is_err());
        // Bucket names count, and emptied buckets go.
        let long = format!("n/{}", "x".repeat(200));
        assert!(kv.set(&long, "k", vec![]).await.is_err());
        for i in 0..1_000 {
            let bucket = format!("churn/{}{i}", "y".repeat(40));
            kv.set(&bucket, "k", b"1".to_vec()).await.unwrap();
            kv.delete(&bucket, "k").await.unwrap();
        }
        let left = kv
            .lock()
            .buckets
            .keys()
            .filter(|b| b.starts_with("churn/"))
            .count();
        assert_eq!(left, 0);
        assert_eq!(kv.increment("other/x", "n", 2).await.unwrap(), 2);
    }
}
