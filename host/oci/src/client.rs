//! Speaking to registries. Pulls go through Weft's own HTTP client, which
//! keeps credentials on the registry's host (see [`crate::access`]),
//! follows manifest redirects only on that host, and reads every body with
//! a limit; pushes go through oci-client (one per registry and
//! credentials) with a token Weft obtained itself where the registry uses
//! tokens. Plain HTTP for loopback registries and those allowed insecure,
//! HTTPS otherwise.

use crate::access::{Challenge, is_loopback, realm_refused, registry_host};
use crate::{Auth, Error};
use oci_client::Client;
use oci_client::client::{ClientConfig, ClientProtocol};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Largest error body, token answer or `/v2/` answer read from a registry.
const MAX_SMALL_BODY: u64 = 64 << 10;

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

/// Clients by registry, made on first use.
pub(crate) struct Clients {
    insecure: Vec<String>,
    made: Mutex<HashMap<String, (Auth, Client)>>,
    /// Manifests, probes and tokens: redirects only on the same host.
    direct: Result<reqwest::Client, String>,
    /// Blobs: registries send them from storage elsewhere (reqwest drops
    /// the credentials on a redirect to another host).
    blobs: Result<reqwest::Client, String>,
}

/// What goes with each request to a registry.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Presented {
    /// Nothing.
    Nothing,
    /// HTTP basic, to the registry's own host only.
    Basic(String, String),
    /// A bearer token (given, or obtained from the registry's realm).
    Bearer(String),
}

impl Presented {
    /// As oci-client takes it.
    pub(crate) fn to_registry_auth(&self) -> oci_client::secrets::RegistryAuth {
        use oci_client::secrets::RegistryAuth;
        match self {
            Self::Nothing => RegistryAuth::Anonymous,
            Self::Basic(user, password) => RegistryAuth::Basic(user.clone(), password.clone()),
            Self::Bearer(token) => RegistryAuth::Bearer(token.clone()),
        }
    }
}

impl std::fmt::Debug for Presented {
    /// Never prints a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Nothing => "Nothing",
            Self::Basic(..) => "Basic(…)",
            Self::Bearer(_) => "Bearer(…)",
        })
    }
}

/// A registry's answer: its status, the headers Weft reads, and the body
/// (read up to a limit).
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) digest: Option<String>,
    challenge: Option<String>,
    /// The response, its body not yet read.
    response: reqwest::Response,
}

impl Answer {
    /// The body, at most `limit` bytes; `Err(size)` past it.
    pub(crate) async fn body(mut self, limit: u64) -> Result<Vec<u8>, BodyError> {
        if self.response.content_length().is_some_and(|n| n > limit) {
            return Err(BodyError::TooLarge(
                self.response.content_length().unwrap_or(limit),
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = self.response.chunk().await.map_err(BodyError::Broken)? {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(BodyError::TooLarge((body.len() + chunk.len()) as u64));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The next piece of the body (for blobs, read as they come).
    pub(crate) async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, reqwest::Error> {
        self.response.chunk().await
    }

    /// What the registry said, as text: its error body, cut short.
    pub(crate) async fn reason(self) -> String {
        let status = self.status;
        match self.body(MAX_SMALL_BODY).await {
            Ok(b) if !b.is_empty() => String::from_utf8_lossy(&b)
                .trim()
                .chars()
                .take(500)
                .collect(),
            _ => format!("HTTP {status}"),
        }
    }
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Larger than allowed (the size seen so far).
    TooLarge(u64),
    /// The connection broke.
    Broken(reqwest::Error),
}

/// Whether `registry` (`host[:port]`) is spoken to over plain HTTP:
/// loopback always, others only when allowed by host or host:port.
pub(crate) fn is_insecure(registry: &str, allowed: &[String]) -> bool {
    let host = registry_host(registry);
    is_loopback(&host) || allowed.iter().any(|a| a == registry || *a == host)
}

fn build(redirects: reqwest::redirect::Policy, total: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        // A registry that sends a byte a minute holds nothing for long.
        .timeout(total)
        .redirect(redirects)
        .build()
        .map_err(|e| format!("no HTTP client for registries: {e}"))
}

/// The host of `url`, lower case, without IPv6 brackets.
fn url_host(url: &reqwest::Url) -> String {
    url.host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_ascii_lowercase()
}

/// Whether `url` may be fetched for a registry on host `from`: HTTPS, or
/// plain HTTP on loopback; loopback only for a registry on loopback (a
/// remote registry must not make a host fetch its own local services).
fn transport_ok(url: &reqwest::Url, from: &str) -> bool {
    if is_loopback(&url_host(url)) {
        return is_loopback(from);
    }
    url.scheme() == "https"
}

impl Clients {
    pub(crate) fn new(insecure: Vec<String>) -> Self {
        // reqwest uses the process-wide rustls provider; make it ring, the
        // one the rest of Weft uses (a second provider makes rustls panic).
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let same_host = reqwest::redirect::Policy::custom(|attempt| {
            let first = attempt.previous().first().map(url_host).unwrap_or_default();
            let same = first == url_host(attempt.url());
            if same
                && transport_ok(attempt.url(), &first)
                && attempt.previous().len() <= MAX_REDIRECTS
            {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let anywhere = reqwest::redirect::Policy::custom(|attempt| {
            let first = attempt.previous().first().map(url_host).unwrap_or_default();
            if transport_ok(attempt.url(), &first) && attempt.previous().len() <= MAX_REDIRECTS {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        Self {
            insecure,
            made: Mutex::default(),
            direct: build(same_host, Duration::from_secs(60)),
            blobs: build(anywhere, Duration::from_secs(15 * 60)),
        }
    }

    fn scheme(&self, registry: &str) -> &'static str {
        if is_insecure(registry, &self.insecure) {
            "http"
        } else {
            "https"
        }
    }

    /// What to send `registry` to begin with, for `auth`: nothing, or its
    /// own credentials — never over plain HTTP to a host off loopback.
    pub(crate) fn present(&self, registry: &str, auth: &Auth) -> Result<Presented, Error> {
        let presented = match auth {
            Auth::Anonymous => return Ok(Presented::Nothing),
            Auth::Basic { user, password } => Presented::Basic(user.clone(), password.clone()),
            Auth::Bearer(token) => Presented::Bearer(token.clone()),
        };
        if self.scheme(registry) == "http" && !is_loopback(&registry_host(registry)) {
            return Err(Error::CredentialsRefused {
                registry: registry.to_owned(),
                reason: "it is spoken to over plain HTTP (--allow-insecure), and credentials are \
                         sent only over HTTPS or to a registry on loopback"
                    .into(),
            });
        }
        Ok(presented)
    }

    /// GETs `path` (`/v2/…`) of `registry` with `presented`; on a bearer
    /// challenge, obtains a token for `scope` (credentials only at a realm
    /// on the registry's host) and asks once more with it, leaving it in
    /// `presented` for the next requests.
    pub(crate) async fn get(
        &self,
        registry: &str,
        path: &str,
        accept: &str,
        scope: &str,
        presented: &mut Presented,
        blob: bool,
    ) -> Result<Answer, Error> {
        let url = format!("{}://{registry}{path}", self.scheme(registry));
        let answer = self.send(registry, &url, accept, presented, blob).await?;
        if answer.status != 401 || matches!(presented, Presented::Bearer(_)) {
            return Ok(answer);
        }
        let Some(challenge) = answer.challenge.as_deref().and_then(Challenge::parse) else {
            return Ok(answer);
        };
        let Some(realm) = challenge.realm() else {
            return Ok(answer);
        };
        let token = self
            .token(registry, realm, &challenge, scope, presented)
            .await?;
        *presented = Presented::Bearer(token);
        self.send(registry, &url, accept, presented, blob).await
    }

    async fn send(
        &self,
        registry: &str,
        url: &str,
        accept: &str,
        presented: &Presented,
        blob: bool,
    ) -> Result<Answer, Error> {
        let client = if blob { &self.blobs } else { &self.direct };
        let client = client.as_ref().map_err(|reason| Error::Registry {
            registry: registry.to_owned(),
            reason: reason.clone(),
        })?;
        let mut request = client.get(url).header(reqwest::header::ACCEPT, accept);
        request = match presented {
            Presented::Nothing => request,
            Presented::Basic(user, password) => request.basic_auth(user, Some(password)),
            Presented::Bearer(token) => request.bearer_auth(token),
        };
        let response = request
            .send()
            .await
            .map_err(|e| request_error(&e, registry))?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?");
            return Err(Error::Registry {
                registry: registry.to_owned(),
                reason: format!(
                    "it redirected {url} to {to}; manifests are followed only on the registry's \
                     own host over HTTPS"
                ),
            });
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Ok(Answer {
            status,
            digest: header("docker-content-digest"),
            challenge: header("www-authenticate"),
            response,
        })
    }

    /// A token from `realm` for `scope`: with the registry's credentials
    /// only when the realm is on its host (otherwise refused); without
    /// credentials from a realm anywhere (HTTPS, or on loopback).
    async fn token(
        &self,
        registry: &str,
        realm: &str,
        challenge: &Challenge,
        scope: &str,
        presented: &Presented,
    ) -> Result<String, Error> {
        let refused = |reason: String| Error::CredentialsRefused {
            registry: registry.to_owned(),
            reason,
        };
        let url = reqwest::Url::parse(realm)
            .map_err(|_| refused(format!("its token realm `{realm}` is not a URL")))?;
        if !transport_ok(&url, &registry_host(registry)) {
            return Err(refused(format!(
                "its token realm {realm} is neither HTTPS nor, beside a loopback registry, on \
                 loopback"
            )));
        }
        if *presented != Presented::Nothing
            && let Some(reason) = realm_refused(registry, realm)
        {
            return Err(refused(reason));
        }
        let client = self.direct.as_ref().map_err(|reason| Error::Registry {
            registry: registry.to_owned(),
            reason: reason.clone(),
        })?;
        let mut query = vec![("scope", scope.to_owned())];
        if let Some(service) = challenge.params.get("service") {
            query.push(("service", service.clone()));
        }
        let mut request = client.get(url).query(&query);
        if let Presented::Basic(user, password) = presented {
            request = request.basic_auth(user, Some(password));
        }
        let response = request
            .send()
            .await
            .map_err(|e| request_error(&e, registry))?;
        let status = response.status().as_u16();
        let answer = Answer {
            status,
            digest: None,
            challenge: None,
            response,
        };
        if status != 200 {
            return Err(Error::Unauthorized {
                registry: registry.to_owned(),
                reason: format!("its token service answered: {}", answer.reason().await),
            });
        }
        let body = answer
            .body(MAX_SMALL_BODY)
            .await
            .map_err(|_| Error::Registry {
                registry: registry.to_owned(),
                reason: "its token answer was too large or broke off".into(),
            })?;
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        value
            .get("token")
            .or_else(|| value.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_owned)
            .ok_or_else(|| Error::Registry {
                registry: registry.to_owned(),
                reason: "its token service answered without a token".into(),
            })
    }

    /// The oci-client for pushing to `registry` with `auth` (a new one when
    /// the credentials changed: oci-client keeps the first it was given).
    pub(crate) fn get_client(&self, registry: &str, auth: &Auth) -> Client {
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

/// A failed request, as the user should read it.
pub(crate) fn request_error(e: &reqwest::Error, registry: &str) -> Error {
    if e.is_connect() || e.is_timeout() {
        Error::Unreachable {
            registry: registry.to_owned(),
            reason: chain(e),
        }
    } else {
        Error::Registry {
            registry: registry.to_owned(),
            reason: chain(e),
        }
    }
}

/// An error and its causes, on one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let causes = std::iter::successors(Some(e), |e| e.source());
    causes
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
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

    #[test]
    fn credentials_never_go_over_plain_http_off_loopback() {
        let clients = Clients::new(vec!["reg.lan:5000".into()]);
        let basic = Auth::Basic {
            user: "u".into(),
            password: "p".into(),
        };
        assert!(clients.present("reg.lan:5000", &basic).is_err());
        assert!(clients.present("127.0.0.1:5000", &basic).is_ok());
        assert!(clients.present("ghcr.io", &basic).is_ok());
        assert_eq!(
            clients.present("reg.lan:5000", &Auth::Anonymous).ok(),
            Some(Presented::Nothing)
        );
    }
}
