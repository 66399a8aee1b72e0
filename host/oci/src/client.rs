//! One oci-client `Client` per registry and credentials: plain HTTP for
//! loopback registries and those allowed insecure, HTTPS otherwise.

use crate::Auth;
use oci_client::Client;
use oci_client::client::{ClientConfig, ClientProtocol};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Clients by registry, made on first use.
#[derive(Default)]
pub(crate) struct Clients {
    insecure: Vec<String>,
    made: Mutex<HashMap<String, (Auth, Client)>>,
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
        Self {
            insecure,
            made: Mutex::default(),
        }
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
