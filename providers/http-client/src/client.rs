//! Sending one request under a link's policy: check the destination,
//! resolve it, check the addresses, connect (TLS for https), send over
//! HTTP/1.1, hand back the response as it streams.

use crate::Timeouts;
use crate::policy::{Allowed, Destination, Policy, is_internal};
use async_trait::async_trait;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use weft_capability::http::{Body, BodyError};
use weft_capability::http_client::{Error, HttpClient, Options};

/// The TLS settings every client of the provider shares: ring, the
/// system's CA certificates, HTTP/1.1.
pub(crate) fn tls_config() -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!("could not load a system CA certificate: {error}");
    }
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!(
            "no system CA certificates found: outgoing HTTPS will fail (Debian: install ca-certificates)"
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS cannot be set up: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// One link's client: its policy, timeouts and TLS settings.
pub struct PolicyClient {
    policy: Policy,
    timeouts: Timeouts,
    tls: Arc<ClientConfig>,
}

impl PolicyClient {
    /// A client that sends only where `policy` allows.
    pub(crate) fn new(policy: Policy, timeouts: Timeouts, tls: Arc<ClientConfig>) -> Self {
        Self {
            policy,
            timeouts,
            tls,
        }
    }

    /// Where `uri` goes, and whether the policy lets it.
    fn destination(&self, uri: &http::Uri) -> Result<(Destination, Allowed), Error> {
        let scheme = match uri.scheme_str() {
            Some(s @ ("http" | "https")) => s.to_owned(),
            Some(other) => {
                return Err(Error::BadUri(format!(
                    "scheme `{other}` is not http or https"
                )));
            }
            None => "https".to_owned(),
        };
        let host = uri
            .host()
            .ok_or_else(|| Error::BadUri(format!("`{uri}` has no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = uri
            .port_u16()
            .unwrap_or_else(|| crate::policy::default_port(&scheme));
        let dest = Destination { scheme, host, port };
        if self.policy.is_empty() {
            return Err(Error::Denied(
                "the link allows no destinations; set allowed_hosts in its target config".into(),
            ));
        }
        match self.policy.check(&dest) {
            Some(allowed) => Ok((dest, allowed)),
            None => Err(Error::Denied(format!(
                "{}://{}:{} is not in the link's allowed_hosts",
                dest.scheme, dest.host, dest.port
            ))),
        }
    }

    async fn connect(
        &self,
        dest: &Destination,
        allowed: Allowed,
        timeout: Duration,
    ) -> Result<TcpStream, Error> {
        let target = format!("{}:{}", dest.host, dest.port);
        let resolved: Vec<SocketAddr> =
            match tokio::time::timeout(timeout, tokio::net::lookup_host(&target)).await {
                Ok(Ok(addrs)) => addrs.collect(),
                Ok(Err(e)) => return Err(Error::Dns(format!("{}: {e}", dest.host))),
                Err(_) => return Err(Error::TimedOut(format!("resolving {}", dest.host))),
            };
        if allowed == Allowed::ByWildcard
            && let Some(internal) = resolved.iter().find(|a| is_internal(a.ip()))
        {
            return Err(Error::Denied(format!(
                "{} resolves to the internal address {}, which only an exact allowed_hosts entry may reach",
                dest.host,
                internal.ip()
            )));
        }
        let mut last = None;
        for addr in resolved {
            match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Ok(Err(e)) => last = Some(e.to_string()),
                Err(_) => return Err(Error::TimedOut(format!("connecting to {addr}"))),
            }
        }
        Err(Error::ConnectionRefused(match last {
            Some(e) => format!("{target}: {e}"),
            None => format!("{target}: no addresses"),
        }))
    }
}

/// A connection, plain or TLS.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Stream for T {}

#[async_trait]
impl HttpClient for PolicyClient {
    async fn send(
        &self,
        mut request: http::Request<Body>,
        options: Options,
    ) -> Result<http::Response<Body>, Error> {
        let (dest, allowed) = self.destination(request.uri())?;
        let connect_timeout = options.connect_timeout.unwrap_or(self.timeouts.connect);
        let stream = self.connect(&dest, allowed, connect_timeout).await?;
        let stream: Box<dyn Stream> = if dest.scheme == "https" {
            let name = rustls::pki_types::ServerName::try_from(dest.host.clone()).map_err(|e| {
                Error::BadUri(format!("`{}` is not a TLS server name: {e}", dest.host))
            })?;
            let tls = TlsConnector::from(self.tls.clone());
            let stream = tokio::time::timeout(connect_timeout, tls.connect(name, stream))
                .await
                .map_err(|_| Error::TimedOut(format!("TLS handshake with {}", dest.host)))?
                .map_err(|e| Error::Tls(format!("{}: {e}", dest.host)))?;
            Box::new(stream)
        } else {
            Box::new(stream)
        };
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Error::Protocol(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("outgoing connection ended: {e}");
            }
        });
        // HTTP/1.1 wants the origin form on the request line.
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|e| Error::BadUri(format!("{e}")))?;
        if !request.headers().contains_key(http::header::HOST) {
            let host = if dest.port == crate::policy::default_port(&dest.scheme) {
                dest.host.clone()
            } else {
                format!("{}:{}", dest.host, dest.port)
            };
            if let Ok(value) = http::HeaderValue::from_str(&host) {
                request.headers_mut().insert(http::header::HOST, value);
            }
        }
        *request.uri_mut() = path;
        let first_byte = options
            .first_byte_timeout
            .unwrap_or(self.timeouts.first_byte);
        let response = tokio::time::timeout(first_byte, sender.send_request(request))
            .await
            .map_err(|_| {
                Error::TimedOut(format!("waiting {first_byte:?} for {}'s answer", dest.host))
            })?
            .map_err(|e| Error::Protocol(e.to_string()))?;
        Ok(response.map(|body| {
            body.map_err(|e| -> BodyError { Box::new(e) })
                .boxed_unsync()
        }))
    }
}
