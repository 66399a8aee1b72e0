//! Picks the handler for a request by `Host` header and path prefix.

use arc_swap::ArcSwap;
use std::sync::{Arc, Mutex};
use weft_capability::http::IncomingHandler;
use weft_capability::sync::Locked;

/// One route: requests whose host (if set) and path prefix match go to `handler`.
#[derive(Clone)]
pub struct Route {
    /// Who this route serves, for logs (usually the component id).
    pub name: String,
    /// Only requests with this `Host` (port ignored, case-insensitive); `None` = any.
    pub host: Option<String>,
    /// Only paths starting with this prefix, on a segment boundary; `/` = all.
    pub path_prefix: String,
    /// Where matching requests go.
    pub handler: Arc<dyn IncomingHandler>,
}

impl Route {
    /// A route taking every request.
    pub fn new(name: impl Into<String>, handler: Arc<dyn IncomingHandler>) -> Self {
        Self {
            name: name.into(),
            host: None,
            path_prefix: "/".into(),
            handler,
        }
    }

    /// Restricts the route to requests for `host`.
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into().to_ascii_lowercase());
        self
    }

    /// Restricts the route to paths under `prefix`.
    pub fn with_path_prefix(mut self, prefix: impl Into<String>) -> Self {
        let mut p = prefix.into();
        if !p.starts_with('/') {
            p.insert(0, '/');
        }
        self.path_prefix = p;
        self
    }

    fn matches(&self, host: Option<&str>, path: &str) -> bool {
        let host_ok = match &self.host {
            None => true,
            Some(want) => host.is_some_and(|h| strip_port(h).eq_ignore_ascii_case(want)),
        };
        host_ok && prefix_matches(&self.path_prefix, path)
    }
}

/// `/api` matches `/api`, `/api/x` and `/api?q`, but not `/apix`.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'),
        None => false,
    }
}

/// The host part of a `Host` header value (which is client-controlled).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // IPv6 literal: keep the brackets, drop a trailing port.
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    host.split_once(':').map_or(host, |(h, _)| h)
}

/// The routes of one listener; changeable while it serves.
///
/// Requests read a snapshot of the table without taking a lock (the hot
/// path); changes copy the table and swap it in, one writer at a time.
#[derive(Default)]
pub struct Router {
    routes: ArcSwap<Vec<Arc<Route>>>,
    writer: Mutex<()>,
}

impl Router {
    /// Adds `route`, replacing any route with the same name.
    pub fn add(&self, route: Route) {
        let _writer = self.writer.locked();
        let mut routes: Vec<Arc<Route>> = self
            .routes
            .load()
            .iter()
            .filter(|r| r.name != route.name)
            .cloned()
            .collect();
        routes.push(Arc::new(route));
        self.routes.store(Arc::new(routes));
    }

    /// Removes the route called `name`; returns whether there was one.
    pub fn remove(&self, name: &str) -> bool {
        let _writer = self.writer.locked();
        let current = self.routes.load();
        let routes: Vec<Arc<Route>> = current.iter().filter(|r| r.name != name).cloned().collect();
        let removed = routes.len() != current.len();
        self.routes.store(Arc::new(routes));
        removed
    }

    /// The most specific matching route: host routes before any-host routes,
    /// then the longest prefix.
    pub fn pick(&self, host: Option<&str>, path: &str) -> Option<Arc<Route>> {
        self.routes
            .load()
            .iter()
            .filter(|r| r.matches(host, path))
            .max_by_key(|r| (r.host.is_some(), r.path_prefix.trim_end_matches('/').len()))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use weft_capability::http::{Body, Error};

    struct Nobody;

    #[async_trait]
    impl IncomingHandler for Nobody {
        async fn handle(&self, _: http::Request<Body>) -> Result<http::Response<Body>, Error> {
            Err(Error::Overloaded {
                component: "nobody".into(),
                reason: "test".into(),
            })
        }
    }

    fn router() -> Router {
        let r = Router::default();
        r.add(Route::new("root", Arc::new(Nobody)));
        r.add(Route::new("api", Arc::new(Nobody)).with_path_prefix("/api/"));
        r.add(Route::new("example", Arc::new(Nobody)).with_host("Example.com"));
        r
    }

    #[test]
    fn longest_prefix_on_segment_boundaries_wins() {
        let r = router();
        let name = |h, p| r.pick(h, p).map(|r| r.name.clone());
        assert_eq!(name(None, "/api/x").as_deref(), Some("api"));
        assert_eq!(name(None, "/api").as_deref(), Some("api"));
        assert_eq!(name(None, "/apix").as_deref(), Some("root"));
        assert_eq!(
            name(Some("example.com:8080"), "/api/x").as_deref(),
            Some("example")
        );
        assert_eq!(name(Some("other.com"), "/").as_deref(), Some("root"));
    }

    #[test]
    fn host_header_ports_are_ignored() {
        assert_eq!(strip_port("a.com:80"), "a.com");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("a.com"), "a.com");
    }

    #[test]
    fn replacing_and_removing_routes() {
        let r = router();
        assert!(r.remove("root"));
        assert!(!r.remove("root"));
        assert!(r.pick(None, "/other").is_none());
    }
}
