//! Who may drive the dashboard. A browser sends requests for any page the
//! user opens, so a loopback address is no protection by itself:
//!
//! - **DNS rebinding**: a page on `evil.example` whose name is made to
//!   resolve to 127.0.0.1 talks to the dashboard as its own origin. On
//!   loopback, a request whose `Host` is not a name of the dashboard
//!   (`127.0.0.1`, `localhost`, `[::1]` or the bound address, with the
//!   bound port) gets 421.
//! - **Cross-site requests**: a page may send a "simple" POST (text/plain,
//!   no custom header) to any address without asking. A state-changing
//!   request whose `Origin` is not the dashboard's own, or whose
//!   `Sec-Fetch-Site` is not `same-origin` (or `none`: typed by the user),
//!   gets 403; so does one that carries neither JSON, YAML nor the
//!   dashboard's own header [`REQUEST_HEADER`], which no page can add
//!   without the browser asking the dashboard first (it never agrees).
//!
//! Off loopback a token is required as well (`super::check_token`), of at
//! least [`MIN_TOKEN_CHARS`] characters.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

/// The header the page sends with every change; scripts may too.
pub const REQUEST_HEADER: &str = "x-weft-request";

/// The shortest token accepted off loopback: 32 hexadecimal characters
/// carry 128 bits (`openssl rand -hex 16`).
pub const MIN_TOKEN_CHARS: usize = 32;

/// Where the dashboard listens, for the checks.
#[derive(Debug, Clone)]
pub struct Access {
    /// The bound address.
    addr: SocketAddr,
}

impl Access {
    /// Checks for a dashboard bound to `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr }
    }

    /// Whether `host` (a `Host` header) names this dashboard: on loopback,
    /// one of its loopback names with its port; elsewhere any name (the
    /// token guards it there).
    fn host_allowed(&self, host: &str) -> bool {
        if !self.addr.ip().is_loopback() {
            return true;
        }
        let port = self.addr.port().to_string();
        let named = |name: &str| host == format!("{name}:{port}");
        named("127.0.0.1")
            || named("localhost")
            || named("[::1]")
            || host == self.addr.to_string()
            // Port 80 may be left out.
            || (port == "80" && matches!(host, "127.0.0.1" | "localhost" | "[::1]"))
    }

    /// Whether a state-changing request comes from the dashboard's own
    /// page (or a script that is not a browser), as far as the browser
    /// tells: its origin, and a body type or header a page cannot send
    /// cross-site without asking.
    fn change_allowed(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        let text = |name: header::HeaderName| {
            headers
                .get(name)
                .map(|v| v.to_str().unwrap_or("\u{fffd}").to_ascii_lowercase())
        };
        if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site"))
            && site != "same-origin"
            && site != "none"
        {
            return Err(
                "a page of another site (or another port) may not change the lattice through this dashboard",
            );
        }
        if let Some(origin) = text(header::ORIGIN) {
            let host = text(header::HOST).unwrap_or_default();
            if origin != format!("http://{host}") && origin != format!("https://{host}") {
                return Err(
                    "a page of another origin may not change the lattice through this dashboard",
                );
            }
        }
        let own_header = headers.contains_key(REQUEST_HEADER);
        let typed = text(header::CONTENT_TYPE).is_some_and(|t| {
            let t = t.split(';').next().unwrap_or_default().trim().to_owned();
            t == "application/json" || t == "application/yaml" || t == "application/x-yaml"
        });
        if !own_header && !typed {
            return Err(
                "changes must send JSON (Content-Type: application/json), YAML (application/yaml) or the header X-Weft-Request: 1",
            );
        }
        Ok(())
    }
}

/// The middleware: 421 for a foreign `Host`, 403 for a change from
/// another origin or without JSON, YAML or the dashboard's header.
pub async fn check_origin(State(access): State<Arc<Access>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .map(|h| h.to_str().unwrap_or("\u{fffd}"));
    if let Some(host) = host
        && !access.host_allowed(host)
    {
        return super::api::error(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this dashboard answers to 127.0.0.1:{port} and localhost:{port}, not `{host}`",
                port = access.addr.port()
            ),
        )
        .into_response();
    }
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes && let Err(reason) = access.change_allowed(req.headers()) {
        return super::api::error(StatusCode::FORBIDDEN, reason).into_response();
    }
    next.run(req).await
}

/// Refuses a token too short to guess-proof a dashboard off loopback.
pub fn check_token_strength(addr: SocketAddr, token: Option<&str>) -> Result<(), String> {
    match token {
        Some(t) if !addr.ip().is_loopback() && t.chars().count() < MIN_TOKEN_CHARS => Err(format!(
            "the dashboard's token is {} characters; off loopback it needs at least \
             {MIN_TOKEN_CHARS} (128 bits), e.g. `openssl rand -hex 16`, or give none and \
             one is made up",
            t.chars().count()
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn loopback_answers_only_to_its_own_names() {
        let a = Access::new("127.0.0.1:3030".parse().unwrap());
        for good in ["127.0.0.1:3030", "localhost:3030", "[::1]:3030"] {
            assert!(a.host_allowed(good), "{good}");
        }
        for bad in [
            "evil.example:3030",
            "evil.example",
            "localhost",
            "127.0.0.1:3031",
            "localhost.evil.example:3030",
            "",
        ] {
            assert!(!a.host_allowed(bad), "{bad}");
        }
        let anywhere = Access::new("0.0.0.0:3030".parse().unwrap());
        assert!(anywhere.host_allowed("dash.example.com:3030"));
    }

    #[test]
    fn changes_need_the_same_origin_and_a_type_or_header() {
        let a = Access::new("127.0.0.1:3030".parse().unwrap());
        let ok = |h: &[(&'static str, &'static str)]| a.change_allowed(&headers(h)).is_ok();
        assert!(ok(&[("content-type", "application/json")]));
        assert!(ok(&[("content-type", "application/yaml; charset=utf-8")]));
        assert!(ok(&[(REQUEST_HEADER, "1")]));
        assert!(ok(&[
            ("host", "127.0.0.1:3030"),
            ("origin", "http://127.0.0.1:3030"),
            ("sec-fetch-site", "same-origin"),
            (REQUEST_HEADER, "1"),
        ]));
        assert!(!ok(&[("content-type", "text/plain")]));
        assert!(!ok(&[]));
        assert!(!ok(&[
            ("host", "127.0.0.1:3030"),
            ("origin", "http://evil.example"),
            ("content-type", "application/json"),
        ]));
        assert!(!ok(&[
            ("host", "127.0.0.1:3030"),
            ("origin", "null"),
            (REQUEST_HEADER, "1"),
        ]));
        assert!(!ok(&[
            ("sec-fetch-site", "same-site"),
            (REQUEST_HEADER, "1")
        ]));
        assert!(!ok(&[
            ("sec-fetch-site", "cross-site"),
            (REQUEST_HEADER, "1")
        ]));
    }

    #[test]
    fn short_tokens_are_refused_off_loopback_only() {
        let lo: SocketAddr = "127.0.0.1:3030".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:3030".parse().unwrap();
        assert!(check_token_strength(lo, Some("s3cret")).is_ok());
        assert!(check_token_strength(any, Some("s3cret")).is_err());
        assert!(check_token_strength(any, Some(&"a".repeat(32))).is_ok());
        assert!(check_token_strength(any, None).is_ok());
    }
}
