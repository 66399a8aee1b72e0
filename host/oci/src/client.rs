//! One oci-client `Client` per registry and credentials: plain HTTP for
//! loopback registries and those allowed insecure, HTTPS otherwise.

use crate::Auth;
use oci_client::Client;
use oci_client::client::{ClientConfig, ClientProtocol};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Clients by registry, made on first use.
pub(crate) struct Clients {
    insecure: Vec<String>,
    made: Mutex<HashMap<String, (Auth, Client)>>,
    /// Plain HTTP(S) for unauthenticated manifest requests (none if it could
    /// not be built: then every request goes through oci-client).
    direct: Option<reqwest::Client>,
}

/// What an unauthenticated manifest request found.
pub(crate) enum Anonymous {
    /// The manifest bytes and the digest the registry declared, if any.
    Found(Vec<u8>, Option<String>),
    /// The registry wants credentials or a token: ask through oci-client.
    Challenged,
    /// No such tag, digest or repository.
    NotFound(String),
}

/// Whether `registry` (`host[:port]`) is spoken to over plain HTTP:
/// loopback always, others only when allowed by host or host:port.
pub(crate) fn is_insecure(registry: &str, allowed: &[String]) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => registry.rsplit_once(':').map_or(registry, |(h, _)| h),
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
        || allowed.iter().any(|a| a == registry || a == host)
}

impl Clients {
    pub(crate) fn new(insecure: Vec<String>) -> Self {
        // reqwest uses the process-wide rustls provider; make it ring, the
        // one the rest of Weft uses (a second provider makes rustls panic).
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let direct = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| tracing::warn!("no direct registry client ({e}); using oci-client only"))
            .ok();
        Self {
            insecure,
            made: Mutex::default(),
            direct,
        }
    }

    /// One GET of a manifest with no credentials: most registries answer
    /// public pulls at once, where oci-client would first probe `/v2/` on
    /// every request.
    pub(crate) async fn manifest_anonymously(
        &self,
        registry: &str,
        repository: &str,
        tag_or_digest: &str,
        accept: &[&str],
    ) -> Result<Anonymous, reqwest::Error> {
        let Some(direct) = &self.direct else {
            return Ok(Anonymous::Challenged);
        };
        let scheme = if is_insecure(registry, &self.insecure) {
            "http"
        } else {
            "https"
        };
        let url = format!("{scheme}://{registry}/v2/{repository}/manifests/{tag_or_digest}");
        let response = direct
            .get(url)
            .header(reqwest::header::ACCEPT, accept.join(", "))
            .send()
            .await?;
        Ok(match response.status().as_u16() {
            200 => {
                let declared = response
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                Anonymous::Found(response.bytes().await?.to_vec(), declared)
            }
            404 => Anonymous::NotFound(response.text().await.unwrap_or_default()),
            _ => Anonymous::Challenged,
        })
    }

    /// The client for `registry` with `auth` (a new one when the
    /// credentials changed: oci-client keeps the first it was given).
    pub(crate) fn get(&self, registry: &str, auth: &Auth) -> Client {
        let mut made = self.made.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((known, client)) = made.get(registry)
            && known == auth
        {
            return client.clone();
        }
        let protocol = if is_insecure(registry, &self.insecure) {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let client = Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(60)),
            ..ClientConfig::default()
        });
        made.insert(registry.to_owned(), (auth.clone(), client.clone()));
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_and_allowed_registries_are_plain_http() {
        assert!(is_insecure("localhost:5000", &[]));
        assert!(is_insecure("127.0.0.1:5000", &[]));
        assert!(is_insecure("[::1]:5000", &[]));
        assert!(!is_insecure("ghcr.io", &[]));
        assert!(!is_insecure("10.0.0.5:5000", &[]));
        assert!(is_insecure("10.0.0.5:5000", &["10.0.0.5".into()]));
        assert!(is_insecure("reg.lan:5000", &["reg.lan:5000".into()]));
        assert!(!is_insecure("reg.lan:5001", &["reg.lan:5000".into()]));
    }
}
