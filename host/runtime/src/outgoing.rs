//! `wasi:http/outgoing-handler` for guests: requests go to the HTTP client
//! of the component's link (deny by default: no link, no request), at most
//! [`MAX_OUTGOING_IN_FLIGHT`] at once per instance.

use crate::links::Routing;
use http_body_util::BodyExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};
use weft_capability::builtin::Builtin;
use weft_capability::http::BodyError;
use weft_capability::http_client::{self, Options};

/// The interface whose link picks the HTTP client.
const OUTGOING: &str = "wasi:http/outgoing-handler";

/// Outgoing requests one instance may have waiting for their answer (the
/// response head) at once; more are refused with a guest-visible
/// `internal-error` that says so, and the guest may try again once some
/// are answered. Its deadline bounds how long they may all take.
pub const MAX_OUTGOING_IN_FLIGHT: usize = 32;

/// One outgoing request waiting for its answer, counted while it lives.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// Counts one more request in `counter`, unless it is at the limit.
    fn start(counter: &mut Option<Arc<AtomicUsize>>) -> Option<Self> {
        let counter = counter.get_or_insert_with(Arc::default);
        if counter.fetch_add(1, Ordering::Relaxed) >= MAX_OUTGOING_IN_FLIGHT {
            counter.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Self(counter.clone()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The future wasmtime-wasi-http expects back from `send_request`.
pub(crate) type SendFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for Routing {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        let Some(client) = self.targets(OUTGOING).and_then(|t| t.http_client.clone()) else {
            // Debug, not info: a guest decides how often this happens.
            tracing::debug!(
                component = %self.component,
                uri = %request.uri(),
                "outgoing HTTP denied: {}",
                self.unlinked(OUTGOING, Builtin::HttpClient.reference())
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        };
        let Some(in_flight) = InFlight::start(&mut self.outgoing) else {
            tracing::debug!(
                component = %self.component,
                uri = %request.uri(),
                "outgoing HTTP refused: {MAX_OUTGOING_IN_FLIGHT} requests already wait for an answer"
            );
            let reason = format!(
                "too many outgoing requests at once: an instance may have \
                 {MAX_OUTGOING_IN_FLIGHT} waiting for an answer"
            );
            return Box::new(async { Err(Error::InternalError(Some(reason))) });
        };
        let component = self.component.clone();
        Box::new(async move {
            let _in_flight = in_flight;
            let uri = request.uri().clone();
            let request = request.map(|body| {
                body.map_err(|e| -> BodyError { Box::new(e) })
                    .boxed_unsync()
            });
            let options = Options {
                connect_timeout: options.and_then(|o| o.connect_timeout),
                first_byte_timeout: options.and_then(|o| o.first_byte_timeout),
            };
            match client.send(request, options).await {
                Ok(response) => Ok((
                    response.map(|body| {
                        body.map_err(|e| Error::InternalError(Some(e.to_string())))
                            .boxed_unsync()
                    }),
                    Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
                )),
                Err(e) => {
                    tracing::debug!(%component, %uri, "outgoing HTTP failed: {e}");
                    Err(error_code(e))
                }
            }
        })
    }
}

/// The `wasi:http` error code the guest sees for a client failure.
fn error_code(e: http_client::Error) -> Error {
    use http_client::Error as E;
    match e {
        E::Denied(_) => Error::HttpRequestDenied,
        E::BadUri(_) => Error::HttpRequestUriInvalid,
        E::Dns(reason) => Error::DnsError {
            rcode: Some(reason),
            info_code: None,
        },
        E::ConnectionRefused(_) => Error::ConnectionRefused,
        E::TimedOut(_) => Error::ConnectionTimeout,
        E::Tls(_) => Error::TlsProtocolError,
        E::Protocol(_) => Error::HttpProtocolError,
    }
}

#[cfg(test)]
mod tests {
    use super::{InFlight, MAX_OUTGOING_IN_FLIGHT};

    #[test]
    fn requests_over_the_limit_are_refused_until_one_is_answered() {
        let mut counter = None;
        let held: Vec<_> = (0..MAX_OUTGOING_IN_FLIGHT)
            .map(|_| InFlight::start(&mut counter))
            .collect();
        assert!(held.iter().all(Option::is_some));
        assert!(InFlight::start(&mut counter).is_none());
        drop(held);
        assert!(InFlight::start(&mut counter).is_some());
    }
}
