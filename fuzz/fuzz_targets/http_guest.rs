//! Raw bytes from an HTTP client all the way into a real guest: the HTTP
//! server provider parses and routes them, the runtime turns the request
//! into `wasi:http` resources (wasmtime-wasi-http's `new_incoming_request`,
//! the authority fallback) and the test guest's `/inspect` route reads
//! everything it is given (method, scheme, authority, path, every header,
//! the body) and copies the headers back into its response. Any bytes must
//! give a response or a closed connection, never a panic in the host, and a
//! request the server accepts must reach the guest (a Host header that
//! wasmtime-wasi-http refused made a 500 blaming the component until the
//! server answered it with 400).
//!
//! The guest is the test guest built by `scripts/build-guests`
//! (`target/guests/wasm32-wasip2/debug/test_guest.wasm`, or the file named
//! by `WEFT_FUZZ_GUEST`); it is compiled once, when the target starts. With
//! `WEFT_FUZZ_SHOW` set, each answer is printed (to see what an input
//! reached: `cargo fuzz run … http_guest seeds/http_guest/post`).
#![no_main]

use http_body_util::{BodyExt, Full};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use weft_capability::http::{Body, Error, IncomingHandler};
use weft_http_server::{Route, Router};
use weft_runtime::{CompileCache, Component, ComponentSpec, Runtime, RuntimeConfig};

const MAX_BODY: usize = 4096;

/// Where the test guest is when `scripts/build-guests` built it, seen from
/// `fuzz/` (where cargo fuzz runs the target).
const GUEST: &str = "../target/guests/wasm32-wasip2/debug/test_guest.wasm";

/// Hands requests for `/inspect…` to the guest and answers the rest itself,
/// so the fuzzer cannot wander into the test guest's hostile routes (a loop
/// that waits out its deadline makes every later input slow).
struct InspectOnly(Component);

#[async_trait::async_trait]
impl IncomingHandler for InspectOnly {
    async fn handle(&self, request: http::Request<Body>) -> Result<http::Response<Body>, Error> {
        if !request.uri().path().starts_with("/inspect") {
            return Ok(http::Response::new(
                Full::new("not for the guest".into())
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            ));
        }
        let answer = self.0.handle(request).await;
        // The guest answers every request it is given; what the server let
        // through must be something the runtime can hand over.
        if let Err(Error::BadResponse { reason, .. }) = &answer {
            assert!(
                !reason.starts_with("the request could not be handed"),
                "a request the server accepted could not be handed to the guest: {reason}"
            );
        }
        answer
    }
}

/// The router with the compiled guest behind it, made once.
fn router() -> &'static Arc<Router> {
    static ROUTER: OnceLock<Arc<Router>> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let path = std::env::var("WEFT_FUZZ_GUEST").unwrap_or_else(|_| GUEST.to_string());
        let wasm = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("cannot read the test guest {path} ({e}): run scripts/build-guests first")
        });
        // A small pool: one input is served at a time.
        let config = RuntimeConfig {
            max_instances: 4,
            ..RuntimeConfig::default()
        };
        let engine = Runtime::new(config).expect("a wasmtime engine");
        let mut spec = ComponentSpec::new("inspect");
        spec.limits.timeout = Duration::from_secs(1);
        let component = Component::load(&engine, &CompileCache::disabled(), &wasm, spec)
            .expect("the test guest compiles");
        let router = Arc::new(Router::default());
        router.add(Route::new("guest", Arc::new(InspectOnly(component))));
        router
    })
}

fuzz_target!(|data: &[u8]| {
    let answer = weft_fuzz::exchange(data, Arc::clone(router()), MAX_BODY, Duration::from_secs(2));
    if std::env::var_os("WEFT_FUZZ_SHOW").is_some() {
        eprintln!("{}", String::from_utf8_lossy(&answer));
    }
});
