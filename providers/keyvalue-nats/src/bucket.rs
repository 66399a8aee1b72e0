//! JetStream KV buckets that work on nats-server 2.9, and the key escaping
//! that makes any string a valid key part. Shared by this provider and the
//! lattice state (`weft-lattice-nats`).

use async_nats::jetstream::{self, kv, stream};

/// Why a bucket could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("JetStream KV bucket `{bucket}`: {message}")]
pub struct BucketError {
    /// The bucket.
    pub bucket: String,
    /// What JetStream said.
    pub message: String,
}

/// Opens KV bucket `name`, creating it first if needed.
///
/// The bucket's stream is created directly (`KV_<name>`, history 1): async-
/// nats's `create_key_value` asks `$JS.API.INFO`, whose reply on
/// nats-server 2.9 it cannot parse.
pub async fn open_or_create(js: &jetstream::Context, name: &str) -> Result<kv::Store, BucketError> {
    let err = |e: &dyn std::fmt::Display| BucketError {
        bucket: name.to_owned(),
        message: e.to_string(),
    };
    let config = stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        discard: stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        storage: stream::StorageType::File,
        num_replicas: 1,
        ..Default::default()
    };
    js.get_or_create_stream(config).await.map_err(|e| err(&e))?;
    js.get_key_value(name).await.map_err(|e| err(&e))
}

/// A key part fit for a KV key: bytes outside `[A-Za-z0-9_-]` become `=XX`.
pub fn escape(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for b in part.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    if out.is_empty() {
        // KV keys cannot have empty parts; `=` alone never comes from escape.
        out.push('=');
    }
    out
}

/// The inverse of [`escape`]; `None` for a part escape could not have made.
pub fn unescape(part: &str) -> Option<String> {
    if part == "=" {
        return Some(String::new());
    }
    let mut bytes = Vec::with_capacity(part.len());
    let raw = part.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'=' {
            let hex = part.get(i + 1..i + 3)?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_and_stays_kv_safe() {
        for s in [
            "hits",
            "a.b",
            "with space",
            "ünï",
            "=",
            "",
            "a=3Ab",
            "/x*y>",
        ] {
            let e = escape(s);
            assert!(
                e.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'='),
                "{e}"
            );
            assert_eq!(unescape(&e).as_deref(), Some(s), "{s}");
        }
        assert_ne!(escape("a=3Ab"), escape("a:b"));
        assert_eq!(unescape("=Z1"), None);
    }
}
