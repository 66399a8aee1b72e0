//! The listener: accepts connections, applies the body limit, routes, and
//! turns handler errors into 5xx responses.

use crate::{Error, Route, Router};
use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
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
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        Self {
            address: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 10 << 20,
            reuse_port: false,
        }
    }
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
        let max_body = config.max_body_bytes;
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(accept_loop(listener, router, max_body, stopped));
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

/// Resolves once the server is told to stop (or its handle is gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn accept_loop(
    listener: TcpListener,
    router: Arc<Router>,
    max_body: usize,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            () = stopping(&mut stop) => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_connection(stream, router, max_body, stop).await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
}

/// Serves HTTP/1.1 requests arriving on `io` (one client connection) to the
/// routes of `router`, bodies limited to `max_body` bytes, until the client
/// closes or `stop` turns true (the request in flight is finished first).
/// Public so the fuzzer can feed it raw bytes.
pub async fn serve_connection<I>(
    io: I,
    router: Arc<Router>,
    max_body: usize,
    mut stop: watch::Receiver<bool>,
) -> Result<(), hyper::Error>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req: http::Request<Incoming>| {
        // Pick before the future: it then owns only the route.
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        let route = router.pick(host, req.uri().path());
        serve(route, max_body, req)
    });
    let connection = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        ended = connection.as_mut() => ended,
        () = stopping(&mut stop) => {
            // Finish the request in flight, then close.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    }
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

async fn serve(
    route: Option<Arc<Route>>,
    max_body: usize,
    req: http::Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
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
