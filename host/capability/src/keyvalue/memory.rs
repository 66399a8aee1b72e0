//! An in-process keyvalue backend, for development and tests.

use super::{Error, KeyResponse, KeyValue, LIST_KEYS_PAGE, parse_counter};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

/// Keyvalue held in this process's memory; lost when the process exits.
#[derive(Debug, Default)]
pub struct InMemoryKeyValue {
    buckets: Mutex<HashMap<String, BTreeMap<String, Vec<u8>>>>,
}

impl InMemoryKeyValue {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, BTreeMap<String, Vec<u8>>>> {
        // A panic while holding the lock cannot leave a map half-written
        // (every mutation is a single call), so a poisoned lock is still usable.
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl KeyValue for InMemoryKeyValue {
    async fn open(&self, _bucket: &str) -> Result<(), Error> {
        Ok(())
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.lock().get(bucket).and_then(|b| b.get(key)).cloned())
    }

    async fn set(&self, bucket: &str, key: &str, value: Vec<u8>) -> Result<(), Error> {
        self.lock()
            .entry(bucket.to_owned())
            .or_default()
            .insert(key.to_owned(), value);
        Ok(())
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), Error> {
        if let Some(b) = self.lock().get_mut(bucket) {
            b.remove(key);
        }
        Ok(())
    }

    async fn exists(&self, bucket: &str, key: &str) -> Result<bool, Error> {
        Ok(self.lock().get(bucket).is_some_and(|b| b.contains_key(key)))
    }

    async fn list_keys(&self, bucket: &str, cursor: Option<u64>) -> Result<KeyResponse, Error> {
        let buckets = self.lock();
        let Some(b) = buckets.get(bucket) else {
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
        let mut buckets = self.lock();
        let b = buckets.entry(bucket.to_owned()).or_default();
        let current = parse_counter(b.get(key).map(Vec::as_slice))?;
        let next = current
            .checked_add(delta)
            .ok_or_else(|| Error::Other("increment overflows u64".into()))?;
        b.insert(key.to_owned(), next.to_string().into_bytes());
        Ok(next)
    }
}
