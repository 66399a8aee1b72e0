//! The component listener: applies the body limit, checks `Host`, routes,
//! and turns handler errors into 5xx responses (connections and their
//! limits are [`crate::listener`]'s).

use crate::listener::{ListenLimits, serve_io, serve_listener};
use crate::{Error, Route, Router};
use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use weft_capability::http::{Body, BodyError, Error as HandlerError};

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct HttpServerConfig {
    /// The address to bind; loopback by default.
    pub address: SocketAddr,
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// Share the address with other listeners of this user that ask the
    /// same (`SO_REUSEPORT`; several hosts on one machine serving one
    /// port, the kernel spreading connections).
    pub reuse_port: bool,
    /// The header deadline and connection limits. By default heads (and
    /// idle kept-alive connections) get 75 s: longer than reverse proxies
    /// and load balancers keep an idle connection (commonly 60 s), so none
    /// sends a request on a connection the server is closing.
    pub limits: ListenLimits,
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        Self {
            address: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 10 << 20,
            reuse_port: false,
            limits: ListenLimits {
                header_timeout: Duration::from_secs(75),
                ..ListenLimits::default()
            },
        }
    }
}

/// How one connection is served: where its requests go and the limits on
/// them.
#[derive(Clone)]
pub struct ConnectionConfig {
    /// Picks the handler of each request.
    pub router: Arc<Router>,
    /// Largest request body, in bytes; larger ones get 413.
    pub max_body: usize,
    /// Longest a client may take to send a request's head (and to start
    /// the next one on a kept-alive connection).
    pub header_timeout: Duration,
}

/// A running listener. Dropping it stops accepting at once; requests in
/// flight are answered, then their connections close (graceful shutdown).
pub struct HttpServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl HttpServer {
    /// Binds `config.address` and serves `router` until dropped.
    pub async fn bind(config: HttpServerConfig, router: Arc<Router>) -> Result<Self, Error> {
        Self::bind_now(config, router)
    }

    /// Like [`Self::bind`], for callers that are not async; must run inside
    /// a tokio runtime.
    pub fn bind_now(config: HttpServerConfig, router: Arc<Router>) -> Result<Self, Error> {
        let bind_err = |source| Error::Bind {
            address: config.address,
            source,
        };
        let listener = listen(&config).map_err(bind_err)?;
        let local_addr = listener.local_addr().map_err(bind_err)?;
        let service = routing(router, config.max_body_bytes);
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(serve_listener(listener, service, config.limits, stopped));
        Ok(Self { local_addr, stop })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

/// A listening socket on `config.address` (address reuse as std does it,
/// port sharing when asked).
fn listen(config: &HttpServerConfig) -> std::io::Result<TcpListener> {
    let socket = if config.address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if config.reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(config.address)?;
    socket.listen(1024)
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// The service a component listener runs for each connection: routes each
/// request by `Host` and path, with bodies up to `max_body` bytes.
fn routing(
    router: Arc<Router>,
    max_body: usize,
) -> impl hyper::service::Service<
    http::Request<Incoming>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
> + Clone
+ Send
+ 'static {
    service_fn(move |req: http::Request<Incoming>| {
        // Pick before the future: it then owns only the route.
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        let route = router.pick(host, req.uri().path());
        serve(route, max_body, req)
    })
}

/// Serves HTTP/1.1 requests arriving on `io` (one client connection) as
/// `config` says, until the client closes, stalls past the header deadline,
/// or `stop` turns true (the request in flight is finished first); see
/// [`serve_io`]. Public so the fuzzer can feed it raw bytes.
pub async fn serve_connection<I>(
    io: I,
    config: ConnectionConfig,
    stop: watch::Receiver<bool>,
) -> Result<(), hyper::Error>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = routing(config.router, config.max_body);
    serve_io(io, service, config.header_timeout, stop).await
}

fn text(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(message.into() + "\n"))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The declared body length, if the client sent a valid `Content-Length`.
fn declared_length(req: &http::Request<Incoming>) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Why the request's `Host` header cannot be used, if it cannot: HTTP/1.1
/// wants exactly one, naming a host and optional port (RFC 9112 §3.2). A
/// request without one, or with an empty one, is served (HTTP/1.0 clients
/// send none); the runtime then names the host `localhost`.
fn bad_host(req: &http::Request<Incoming>) -> Option<String> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host = hosts.next()?;
    if hosts.next().is_some() {
        return Some("the request has more than one Host header".into());
    }
    // An empty one is allowed: the request names no host.
    if host.is_empty() {
        return None;
    }
    // The client controls these bytes: only a valid host[:port] goes on,
    // and at most 100 characters of it come back in the answer.
    match http::uri::Authority::try_from(host.as_bytes()) {
        Ok(authority) if !authority.as_str().contains('@') => None,
        _ => {
            let shown: String = String::from_utf8_lossy(host.as_bytes())
                .escape_debug()
                .take(100)
                .collect();
            Some(format!(
                "the Host header `{shown}` is not a host name or address with an optional port"
            ))
        }
    }
}

async fn serve(
    route: Option<Arc<Route>>,
    max_body: usize,
    req: http::Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if let Some(reason) = bad_host(&req) {
        return Ok(text(StatusCode::BAD_REQUEST, reason));
    }
    let Some(route) = route else {
        return Ok(text(
            StatusCode::NOT_FOUND,
            "no component is routed at this address and path",
        ));
    };
    if declared_length(&req).is_some_and(|n| n > max_body as u64) {
        return Ok(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than the limit of {max_body} bytes"),
        ));
    }
    let req = req.map(|body| {
        Limited::new(body, max_body)
            .map_err(|e| -> BodyError { e })
            .boxed_unsync()
    });
    Ok(match route.handler.handle(req).await {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(route = %route.name, "request failed: {e}");
            error_response(&e)
        }
    })
}

/// The response a client gets for a handler error: the kind, not the details
/// (those are in the host's log).
fn error_response(e: &HandlerError) -> Response<Body> {
    match e {
        HandlerError::Trapped { component, .. } => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("component `{component}` trapped; the host log has the reason"),
        ),
        HandlerError::BadResponse { component, .. } => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("component `{component}` gave no valid response; the host log has the reason"),
        ),
        HandlerError::DeadlineExceeded { component } => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("component `{component}` ran past its execution-time limit"),
        ),
        HandlerError::Overloaded { component, .. } => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("component `{component}` is at capacity; retry later"),
        ),
    }
}
