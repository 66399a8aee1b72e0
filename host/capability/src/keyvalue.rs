//! `wasi:keyvalue` (store, atomics, batch): the trait every keyvalue backend
//! implements, its error type and an in-memory implementation.

mod memory;

pub use memory::{DEFAULT_MAX_BYTES, DEFAULT_MAX_KEYS, InMemoryKeyValue, Quota};

use async_trait::async_trait;

/// How many keys one `list-keys` page holds at most.
///
/// Backends may return fewer; a page with `cursor: None` is the last one.
pub const LIST_KEYS_PAGE: usize = 256;

/// The bucket name a guest gets when it opens `""`.
pub const DEFAULT_BUCKET: &str = "default";

/// Errors of a keyvalue operation, mirroring `wasi:keyvalue/store.error`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bucket does not exist and cannot be created by this backend.
    #[error("no such bucket: {0}")]
    NoSuchStore(String),
    /// The backend refused the operation.
    #[error("access to the bucket was denied")]
    AccessDenied,
    /// The operation is invalid for the stored value (e.g. increment on a non-number).
    #[error("{0}")]
    Other(String),
    /// The backend failed (connection lost, server error…).
    #[error("keyvalue backend `{backend}` failed")]
    Backend {
        /// Which backend failed, e.g. `redis`.
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// One page of keys from [`KeyValue::list_keys`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyResponse {
    /// Keys of this page, in no particular order.
    pub keys: Vec<String>,
    /// Where the next page starts; `None` when this was the last page.
    pub cursor: Option<u64>,
}

/// Normalises the bucket name a guest passed to `open`: `""` means the default bucket.
pub fn bucket_name(requested: &str) -> &str {
    if requested.is_empty() {
        DEFAULT_BUCKET
    } else {
        requested
    }
}

/// A keyvalue backend: buckets of byte values addressed by string keys.
///
/// Buckets are independent namespaces: the same key in two buckets names two
/// values. Implementations must be safe to call concurrently from many
/// instances; `increment` must be atomic.
#[async_trait]
pub trait KeyValue: Send + Sync + 'static {
    /// Checks that `bucket` can be used; called when a guest opens it.
    async fn open(&self, bucket: &str) -> Result<(), Error>;

    /// Whether the backend answers (a cheap round trip); hosts report it as
    /// the provider's health. In-process backends are always healthy.
    async fn health(&self) -> Result<(), Error> {
        Ok(())
    }

    /// The value of `key`, or `None` when it is absent.
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, Error>;

    /// Stores `value` under `key`, replacing any previous value.
    async fn set(&self, bucket: &str, key: &str, value: Vec<u8>) -> Result<(), Error>;

    /// Removes `key`; removing an absent key is not an error.
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), Error>;

    /// Whether `key` has a value.
    async fn exists(&self, bucket: &str, key: &str) -> Result<bool, Error>;

    /// One page of the bucket's keys, starting at `cursor` (`None` = the start).
    ///
    /// The cursor comes from a guest: an unknown or stale cursor must not fail
    /// or panic; it may return an empty last page.
    async fn list_keys(&self, bucket: &str, cursor: Option<u64>) -> Result<KeyResponse, Error>;

    /// Atomically adds `delta` to the integer stored at `key` (absent = 0) and
    /// returns the new value. A value that is not a decimal integer is
    /// [`Error::Other`].
    async fn increment(&self, bucket: &str, key: &str, delta: u64) -> Result<u64, Error>;

    /// Values of many keys at once; absent keys are `None`, in input order.
    async fn get_many(
        &self,
        bucket: &str,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, Error> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let value = self.get(bucket, &key).await?;
            out.push(value.map(|v| (key, v)));
        }
        Ok(out)
    }

    /// Stores many key/value pairs.
    async fn set_many(&self, bucket: &str, pairs: Vec<(String, Vec<u8>)>) -> Result<(), Error> {
        for (key, value) in pairs {
            self.set(bucket, &key, value).await?;
        }
        Ok(())
    }

    /// Removes many keys; absent keys are ignored.
    async fn delete_many(&self, bucket: &str, keys: Vec<String>) -> Result<(), Error> {
        for key in keys {
            self.delete(bucket, &key).await?;
        }
        Ok(())
    }
}

/// Parses a stored counter for `increment`: absent is 0, otherwise decimal ASCII.
pub fn parse_counter(stored: Option<&[u8]>) -> Result<u64, Error> {
    let Some(bytes) = stored else { return Ok(0) };
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| Error::Other("the stored value is not an unsigned integer".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_parsing_accepts_absent_and_decimal_only() {
        assert_eq!(parse_counter(None).ok(), Some(0));
        assert_eq!(parse_counter(Some(b"41")).ok(), Some(41));
        assert!(matches!(parse_counter(Some(b"x1")), Err(Error::Other(_))));
        assert!(matches!(parse_counter(Some(b"-1")), Err(Error::Other(_))));
        assert!(matches!(
            parse_counter(Some(&[0xff, 0x00])),
            Err(Error::Other(_))
        ));
    }

    #[test]
    fn empty_bucket_name_is_the_default_bucket() {
        assert_eq!(bucket_name(""), DEFAULT_BUCKET);
        assert_eq!(bucket_name("cache"), "cache");
    }
}
