//! Raw bytes from an HTTP client as the HTTP server provider takes them:
//! parsing, the body limit and routing, up to the handler a guest sits
//! behind. Any bytes must give a response or a closed connection, never a
//! panic, and the handler never sees a body over the limit.
#![no_main]

use http_body_util::{BodyExt, Full};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use std::time::Duration;
use weft_capability::http::{Body, Error, IncomingHandler};
use weft_http_server::{Route, Router};

const MAX_BODY: usize = 1024;

/// Reads the whole body, as a guest reading its input stream would, and
/// answers with what it saw.
struct Echo;

#[async_trait::async_trait]
impl IncomingHandler for Echo {
    async fn handle(&self, request: http::Request<Body>) -> Result<http::Response<Body>, Error> {
        let (parts, body) = request.into_parts();
        let seen = match body.collect().await {
            Ok(body) => {
                let bytes = body.to_bytes();
                assert!(
                    bytes.len() <= MAX_BODY,
                    "a body over the limit reached the guest"
                );
                format!("{} {} {}", parts.method, parts.uri, bytes.len())
            }
            Err(e) => format!("body error: {e}"),
        };
        Ok(http::Response::new(
            Full::new(seen.into())
                .map_err(|never| match never {})
                .boxed_unsync(),
        ))
    }
}

fuzz_target!(|data: &[u8]| {
    let router = Arc::new(Router::default());
    router.add(Route::new("echo", Arc::new(Echo)));
    router.add(Route::new("api", Arc::new(Echo)).with_path_prefix("/api"));
    weft_fuzz::exchange(data, router, MAX_BODY, Duration::from_secs(1));
});
