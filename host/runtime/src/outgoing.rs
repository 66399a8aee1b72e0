//! `wasi:http/outgoing-handler` for guests: requests go to the HTTP client
//! of the component's link (deny by default: no link, no request).

use crate::links::Routing;
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};
use weft_capability::http::BodyError;
use weft_capability::http_client::{self, Options};

/// The interface whose link picks the HTTP client.
const OUTGOING: &str = "wasi:http/outgoing-handler";

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
                self.unlinked(OUTGOING, "builtin:http-client")
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        };
        let component = self.component.clone();
        Box::new(async move {
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
