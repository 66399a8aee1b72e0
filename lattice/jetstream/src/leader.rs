//! A bucket whose stream has no JetStream leader: while one of a cluster's
//! servers is down and the rest are not a majority, or while a new leader
//! is elected. Reads from a copy may still work; changes are never
//! acknowledged and consumers (watches, key listings) cannot be made.
//! Shared by the lattice's state and the app store, which answer users
//! who wait a few seconds at most.

use async_nats::StatusCode;
use async_nats::jetstream::context::{
    CreateStreamError, CreateStreamErrorKind, GetStreamError, GetStreamErrorKind, PublishError,
    PublishErrorKind,
};
use async_nats::jetstream::{self, kv, stream};
use futures::TryStreamExt;
use std::time::Duration;

/// How long one JetStream call on a lattice bucket may wait. Below the 5 s
/// the `weft` CLI and dashboard wait for an answer, so that while JetStream
/// has no leader the user reads why, not "no answer" (a library client on
/// its 2 s default still times out first).
pub const WAIT: Duration = Duration::from_secs(3);

/// A bucket JetStream cannot serve now, and what to do about it.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the lattice's state ({bucket}) is not available now: {detail}. This happens while \
     JetStream has no leader for it: one of its servers is down and the others are not a \
     majority, or a new leader is being elected. Running components are not affected. \
     Retry in a moment or once the server is back; with three JetStream servers, losing \
     one stops nothing (deploy/nats/README.md)"
)]
pub struct NoLeader {
    /// The bucket.
    pub bucket: String,
    /// What JetStream said, or that it did not answer in time.
    pub detail: String,
}

impl NoLeader {
    /// `e` as a [`NoLeader`] for `bucket` when it, or one of its causes,
    /// is JetStream's "temporarily unavailable" (10008) or "not leader"
    /// (10009, while a leader steps down), directly or as
    /// the reason a consumer could not be made, or a change or read of the
    /// bucket's stream that nobody answered ("no stream found", "no
    /// responders"): the bucket was opened before, so it exists but no
    /// server serves it now.
    pub fn from_error(bucket: &str, e: &(dyn std::error::Error + 'static)) -> Option<Self> {
        let no_leader = [
            jetstream::ErrorCode::CLUSTER_NOT_AVAILABLE,
            jetstream::ErrorCode::CLUSTER_NOT_LEADER,
        ];
        causes(e).find_map(|c| {
            let unserved = c
                .downcast_ref::<PublishError>()
                .is_some_and(|p| p.kind() == PublishErrorKind::StreamNotFound)
                || c.downcast_ref::<stream::DirectGetError>().is_some_and(|d| {
                    matches!(d.kind(), stream::DirectGetErrorKind::ErrorResponse(code, _)
                        if code == StatusCode::NO_RESPONDERS)
                });
            let detail = if unserved {
                "no JetStream server serves its stream".to_owned()
            } else if jetstream_code(c).is_some_and(|code| no_leader.contains(&code)) {
                c.to_string()
            } else {
                return None;
            };
            Some(Self {
                bucket: bucket.to_owned(),
                detail,
            })
        })
    }

    /// Runs `op` on `bucket`, failing with a [`NoLeader`] after [`WAIT`]: a
    /// stream without a leader never acknowledges a change, and a client
    /// waiting for the answer would time out without learning why. A
    /// change that timed out may still be applied later; the message says
    /// so.
    pub async fn within<T, E: From<NoLeader>>(
        bucket: &str,
        op: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        tokio::time::timeout(WAIT, op).await.unwrap_or_else(|_| {
            Err(E::from(Self {
                bucket: bucket.to_owned(),
                detail: format!(
                    "JetStream did not answer within {} s (a change may still be applied \
                     later; running it again is safe)",
                    WAIT.as_secs()
                ),
            }))
        })
    }

    /// Runs the JetStream call `op` on `bucket` within [`WAIT`]: its error
    /// becomes a [`NoLeader`] when JetStream cannot serve the bucket, and
    /// the caller's own error (`err`) otherwise.
    pub async fn call<T, X, E>(
        bucket: &str,
        op: impl std::future::Future<Output = Result<T, X>>,
        err: impl FnOnce(X) -> E,
    ) -> Result<T, E>
    where
        X: std::error::Error + 'static,
        E: From<NoLeader>,
    {
        Self::within(bucket, async {
            op.await.map_err(|e| match Self::from_error(bucket, &e) {
                Some(no_leader) => no_leader.into(),
                None => err(e),
            })
        })
        .await
    }
}

/// `e` and each of its causes, outermost first.
pub(crate) fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |c| c.source())
}

/// The JetStream error code `c` is, or carries as its kind (the errors of
/// making a consumer, finding a stream and creating one wrap it so).
pub(crate) fn jetstream_code(
    c: &(dyn std::error::Error + 'static),
) -> Option<jetstream::ErrorCode> {
    if let Some(j) = c.downcast_ref::<jetstream::Error>() {
        return Some(j.error_code());
    }
    let wrapped = match c.downcast_ref::<stream::ConsumerError>().map(|e| e.kind()) {
        Some(stream::ConsumerErrorKind::JetStream(j)) => Some(j),
        _ => match c.downcast_ref::<GetStreamError>().map(|e| e.kind()) {
            Some(GetStreamErrorKind::JetStream(j)) => Some(j),
            _ => match c.downcast_ref::<CreateStreamError>().map(|e| e.kind()) {
                Some(CreateStreamErrorKind::JetStream(j)) => Some(j),
                _ => None,
            },
        },
    };
    wrapped.map(|j| j.error_code())
}

/// Every key of `store` (bucket `bucket`), as [`NoLeader::call`] runs a
/// call: listing needs a consumer, which JetStream without a leader cannot
/// make.
pub async fn keys<E: From<NoLeader>>(
    store: &kv::Store,
    bucket: &str,
    err: impl Fn(&(dyn std::error::Error + 'static)) -> E,
) -> Result<Vec<String>, E> {
    let to_error = |e: &(dyn std::error::Error + 'static)| match NoLeader::from_error(bucket, e) {
        Some(no_leader) => no_leader.into(),
        None => err(e),
    };
    NoLeader::within(bucket, async {
        match store.keys().await {
            Ok(keys) => keys.try_collect().await.map_err(|e| to_error(&e)),
            Err(e) => Err(to_error(&e)),
        }
    })
    .await
}
