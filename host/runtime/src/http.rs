//! Serving `wasi:http/incoming-handler`: one invocation per request, on a
//! fresh instance or a reused one.

use crate::component::{Component, Pooled, Refused, deadline_in, until};
use crate::metrics::Kind;
use async_trait::async_trait;
use http_body_util::BodyExt;
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use tracing::Instrument;
use wasmtime::Trap;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use weft_capability::http::{Body, BodyError, Error, IncomingHandler};
use weft_capability::sync::Locked;

#[async_trait]
impl IncomingHandler for Component {
    async fn handle(&self, request: http::Request<Body>) -> Result<http::Response<Body>, Error> {
        let started = self.clock();
        let span = tracing::debug_span!("invocation", component = %self.id, kind = "http");
        let result = self.admit_and_invoke(request).instrument(span).await;
        self.count(Kind::Http, started, result.is_ok());
        result
    }
}

impl Component {
    async fn admit_and_invoke(
        &self,
        request: http::Request<Body>,
    ) -> Result<http::Response<Body>, Error> {
        // The deadline runs from the request's arrival: waiting for a slot
        // counts.
        let deadline = deadline_in(self.limits.timeout);
        match self.admit(deadline).await {
            Ok(admitted) => self.invoke(request, admitted.permit, deadline).await,
            Err(Refused::Late) => Err(Error::DeadlineExceeded {
                component: self.id.to_string(),
            }),
            Err(Refused::Stopping) => Err(Error::Overloaded {
                component: self.id.to_string(),
                reason: "the component is stopping".into(),
            }),
        }
    }

    async fn invoke(
        &self,
        request: http::Request<Body>,
        permit: Option<OwnedSemaphorePermit>,
        deadline: Instant,
    ) -> Result<http::Response<Body>, Error> {
        let reused = match self.limits.reuse {
            Some(_) => self.idle.locked().pop(),
            None => None,
        };
        let (mut store, proxy, uses) = match reused {
            Some(p) => (p.store, Some(p.proxy), p.uses),
            None => (self.new_store(), None, 0),
        };
        store.data_mut().begin(deadline);
        store.set_epoch_deadline(1);
        self.refresh_links(store.data_mut());

        let request = with_authority(request).map(|body| {
            body.map_err(|e| wasmtime_wasi_http::Error::InternalError(Some(e.to_string())))
        });
        let bad = |reason: String| Error::BadResponse {
            component: self.id.to_string(),
            reason,
        };
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .map_err(|e| bad(format!("the request could not be handed to the guest: {e}")))?;
        let (tx, rx) = oneshot::channel();
        let out = store
            .data_mut()
            .http()
            .new_response_outparam(tx)
            .map_err(|e| bad(format!("{e}")))?;

        let keep = self
            .limits
            .reuse
            .filter(|max| uses.saturating_add(1) < *max);
        // Clone only what the task will use: every clone of a shared `Arc`
        // is a contended atomic on the hot path.
        let Some(pre) = &self.proxy else {
            return Err(bad(
                "it does not export wasi:http/incoming-handler; link HTTP only to HTTP components"
                    .into(),
            ));
        };
        let instance = proxy.ok_or_else(|| pre.clone());
        let idle = keep.map(|_| self.idle.clone());
        let wall_clock = self.runtime.config().wall_clock_deadlines;
        // The guest runs in its own task so it can keep streaming the body
        // after the response head has been returned. It ends at the deadline
        // whatever it waits on (a clock, a body a client trickles, a
        // capability): the call is dropped with its store, instance, slot
        // and everything its host calls wait for.
        let task = tokio::spawn(async move {
            let _permit = permit;
            let run = async {
                let proxy = match instance {
                    Ok(p) => p,
                    Err(pre) => pre
                        .instantiate_async(&mut store)
                        .await
                        .map_err(TaskError::Instantiate)?,
                };
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, request, out)
                    .await
                    .map_err(TaskError::Call)?;
                Ok(proxy)
            };
            let proxy = match until(wall_clock, deadline, run).await {
                Some(Ok(proxy)) => proxy,
                Some(Err(e)) => {
                    if matches!(e, TaskError::Call(_)) {
                        store.data().failed();
                    }
                    return Err(e);
                }
                None => {
                    store.data().failed();
                    return Err(TaskError::Late);
                }
            };
            if let Some(idle) = idle {
                let pooled = Pooled {
                    store,
                    proxy,
                    uses: uses + 1,
                };
                idle.locked().push(pooled);
            }
            Ok::<(), TaskError>(())
        });

        match rx.await {
            Ok(Ok(response)) => Ok(response.map(|body| {
                body.map_err(|e| -> BodyError { Box::new(e) })
                    .boxed_unsync()
            })),
            Ok(Err(code)) => Err(bad(format!("the guest answered with error {code:?}"))),
            Err(_) => Err(self.why_no_response(task.await)),
        }
    }

    /// Why the guest task ended without a response head.
    fn why_no_response(
        &self,
        ended: Result<Result<(), TaskError>, tokio::task::JoinError>,
    ) -> Error {
        let component = self.id.to_string();
        match ended {
            Ok(Ok(())) => Error::BadResponse {
                component,
                reason: "the guest returned without setting a response".into(),
            },
            Ok(Err(TaskError::Instantiate(e))) => Error::Overloaded {
                component,
                reason: format!("no instance could be created: {e}"),
            },
            Ok(Err(TaskError::Call(e))) => self.classify(e),
            Ok(Err(TaskError::Late)) => Error::DeadlineExceeded { component },
            Err(join) => Error::Trapped {
                component,
                reason: join.to_string(),
            },
        }
    }

    /// Turns a wasmtime error from an invocation into the inbound error kind.
    fn classify(&self, e: wasmtime::Error) -> Error {
        let component = self.id.to_string();
        if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
            return Error::DeadlineExceeded { component };
        }
        let reason = format!("{e:?}");
        tracing::warn!(component, "invocation failed: {reason}");
        Error::Trapped {
            component,
            reason: reason.lines().next().unwrap_or_default().to_owned(),
        }
    }
}

/// How the guest task failed.
enum TaskError {
    /// No instance could be created (pool exhausted, initial memory over the limit).
    Instantiate(wasmtime::Error),
    /// The guest trapped or was interrupted.
    Call(wasmtime::Error),
    /// Its deadline came while it waited in a host call.
    Late,
}

/// wasi:http needs an authority; HTTP/1.0 clients may send none (and
/// HTTP/1.1 clients an empty `Host`), so use the loopback name rather than
/// failing the request.
fn with_authority(mut request: http::Request<Body>) -> http::Request<Body> {
    let no_host = request
        .headers()
        .get(http::header::HOST)
        .is_none_or(|h| h.is_empty());
    if request.uri().authority().is_none() && no_host {
        request.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_static("localhost"),
        );
    }
    request
}
