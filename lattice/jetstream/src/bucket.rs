//! JetStream KV buckets that work on nats-server 2.9, and the key escaping
//! that makes any string a valid key part. Shared by the lattice state
//! (`weft-lattice-nats`, `weft-apps`) and `builtin:keyvalue-nats`.

use crate::leader::{causes, jetstream_code};
use async_nats::jetstream::context::CreateStreamErrorKind;
use async_nats::jetstream::{self, kv, stream};

/// Why a bucket could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("JetStream KV bucket `{bucket}`: {message}")]
pub struct BucketError {
    /// The bucket.
    pub bucket: String,
    /// What JetStream said.
    pub message: String,
    /// Whether trying again may work: JetStream timed out or had no
    /// leader yet (a cluster starting or electing after a lost server).
    pub transient: bool,
}

/// How long [`Placement::open`] keeps trying while JetStream is not ready.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Where buckets live: which JetStream domain answers and how many servers
/// keep a copy of a bucket that is created.
///
/// A host on a leaf node reaches its hub's JetStream through the hub's
/// domain (`jetstream { domain: hub }` on the hub); a bucket in a
/// JetStream cluster survives the loss of a server only with replicas > 1
/// (3 servers and 3 replicas survive one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The JetStream domain, or `None` for the one of the server connected to.
    pub domain: Option<String>,
    /// Copies of each bucket created (an existing bucket keeps its own).
    pub replicas: usize,
}

impl Default for Placement {
    fn default() -> Self {
        Self {
            domain: None,
            replicas: 1,
        }
    }
}

impl Placement {
    /// A JetStream context on `client` in this placement's domain.
    pub fn context(&self, client: async_nats::Client) -> jetstream::Context {
        match &self.domain {
            Some(domain) => jetstream::with_domain(client, domain),
            None => jetstream::new(client),
        }
    }

    /// Opens KV bucket `name` on `client`, creating it first if needed.
    ///
    /// While JetStream times out or has no leader (a cluster that is still
    /// forming, several hosts creating the same replicated buckets at
    /// once), it tries again for up to 30 s, saying so in the log.
    pub async fn open(
        &self,
        client: async_nats::Client,
        name: &str,
    ) -> Result<kv::Store, BucketError> {
        let js = self.context(client);
        let deadline = tokio::time::Instant::now() + READY_WITHIN;
        let mut pause = std::time::Duration::from_millis(100);
        loop {
            match open_or_create(&js, name, self.replicas).await {
                Err(e) if e.transient && tokio::time::Instant::now() + pause < deadline => {
                    tracing::info!("{e}; trying again in {pause:?}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(2));
                }
                other => return other,
            }
        }
    }
}

/// Opens KV bucket `name`, creating it first (with `replicas` copies) if
/// needed.
///
/// The bucket's stream is created directly (`KV_<name>`, history 1): async-
/// nats's `create_key_value` asks `$JS.API.INFO`, whose reply on
/// nats-server 2.9 it cannot parse.
pub async fn open_or_create(
    js: &jetstream::Context,
    name: &str,
    replicas: usize,
) -> Result<kv::Store, BucketError> {
    let err = |e: &dyn std::fmt::Display, transient: bool| BucketError {
        bucket: name.to_owned(),
        message: e.to_string(),
        transient,
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
        num_replicas: replicas.max(1),
        ..Default::default()
    };
    js.get_or_create_stream(config).await.map_err(|e| {
        let transient = match e.kind() {
            CreateStreamErrorKind::TimedOut | CreateStreamErrorKind::JetStreamUnavailable => true,
            // No leader yet.
            _ => jetstream_code(&e) == Some(jetstream::ErrorCode::CLUSTER_NOT_AVAILABLE),
        };
        err(&e, transient)
    })?;
    js.get_key_value(name).await.map_err(|e| {
        // The kind says only "failed to get the bucket"; its causes say
        // whether JetStream did not answer in time, or has not yet spread
        // a stream just created (by another host at the same moment, in a
        // cluster) to the server that answered: "stream not found" right
        // after creating or finding it.
        let transient = causes(&e).any(|c| {
            c.downcast_ref::<jetstream::context::RequestError>()
                .is_some_and(|r| r.kind() == jetstream::context::RequestErrorKind::TimedOut)
                || jetstream_code(c) == Some(jetstream::ErrorCode::STREAM_NOT_FOUND)
        });
        err(&e, transient)
    })
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
    let mut pieces = part.split('=');
    let mut bytes = pieces.next()?.as_bytes().to_vec();
    // Each `=` is followed by two hex digits, then plain text.
    for piece in pieces {
        let hex = piece
            .get(..2)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))?;
        bytes.push(u8::from_str_radix(hex, 16).ok()?);
        bytes.extend_from_slice(&piece.as_bytes()[2..]);
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
        assert_eq!(unescape("=+1"), None);
        assert_eq!(unescape("a="), None);
    }
}
