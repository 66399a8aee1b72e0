//! Serving HTTP/1.1 on a listening socket with the protections every Weft
//! listener needs, whatever it serves (components, the metrics endpoint,
//! the dashboard): open connections within limits, request heads within a
//! deadline, answers also to clients that half-close, a graceful stop.

use crate::admission::{Admission, ConnectionLimits};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::error::Error as StdError;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The limits a listener applies to its clients.
#[derive(Debug, Clone, Copy)]
pub struct ListenLimits {
    /// Longest a client may take to send a request's head, counted from
    /// when the server is ready to read it; an idle kept-alive connection
    /// is closed after the same time.
    pub header_timeout: Duration,
    /// Connections kept open at once; more are answered 503 and closed.
    pub connections: ConnectionLimits,
}

impl Default for ListenLimits {
    /// Heads within 10 s, [`ConnectionLimits::default`]: for endpoints
    /// people and scrapers reach directly (the metrics endpoint, the
    /// dashboard). Component listeners wait longer by default
    /// ([`crate::HttpServerConfig`]), as proxies in front keep idle
    /// connections for up to a minute.
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            connections: ConnectionLimits::default(),
        }
    }
}

/// What a client over the connection limits gets before the close: a
/// complete response, so it sees why rather than a reset.
const TOO_MANY: &[u8] = concat!(
    "HTTP/1.1 503 Service Unavailable\r\n",
    "connection: close\r\n",
    "content-type: text/plain; charset=utf-8\r\n",
    "retry-after: 1\r\n",
    "content-length: 45\r\n",
    "\r\n",
    "too many connections open; retry in a moment\n",
)
.as_bytes();

/// Tells a client over the limits why, then closes. The answer fits a
/// fresh socket's empty send buffer, so this ends at once unless the
/// client is gone (and then within half a second).
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        let _ = stream.write_all(TOO_MANY).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Resolves once the server is told to stop (or its handle is gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Accepts connections on `listener` and serves each with `service` within
/// `limits`, until `stop` turns true (or its sender is dropped); requests
/// in flight are then finished before their connections close.
pub async fn serve_listener<S, B>(
    listener: TcpListener,
    service: S,
    limits: ListenLimits,
    mut stop: watch::Receiver<bool>,
) where
    S: hyper::service::Service<http::Request<Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let admission = Admission::new(limits.connections);
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
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(admitted) = admission.admit(peer.ip()) else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let _admitted = admitted;
            if let Err(e) = serve_io(stream, service, limits.header_timeout, stop).await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
}

/// Serves the HTTP/1.1 requests arriving on `io` (one client connection)
/// with `service`, until the client closes, stalls past `header_timeout`
/// while sending a request head (or idles that long between requests), or
/// `stop` turns true (the request in flight is finished first).
///
/// A client that shuts down its sending side after a request still gets
/// the answer (`printf 'GET / …' | nc -N`).
pub async fn serve_io<I, S, B>(
    io: I,
    service: S,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> Result<(), hyper::Error>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<http::Request<Incoming>, Response = http::Response<B>>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let connection = http1::Builder::new()
        .keep_alive(true)
        .half_close(true)
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
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

#[cfg(test)]
mod tests {
    use super::TOO_MANY;

    #[test]
    fn the_refusal_is_a_complete_response() {
        let text = String::from_utf8_lossy(TOO_MANY);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        let declared = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.parse::<usize>().ok());
        assert_eq!(declared, Some(body.len()));
    }
}
