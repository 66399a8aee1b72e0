//! A guest for link tests, served over HTTP. It calls `weft:platform/greeter`
//! (on whatever component its link names), picks named links with
//! wasmcloud:bus (1.0.0 and 2.0.1), counts in keyvalue and fetches URLs with
//! outgoing HTTP.
//!
//! | path | behaviour |
//! |---|---|
//! | `/greet/NAME` | greet(NAME) → "TEXT count=N tags=a,b" |
//! | `/add/A/B` | add(A, B) → the sum, or 422 with the error |
//! | `/describe` | describe(circle(1.5), some("big")) |
//! | `/blob/N` | blob(N) → its length |
//! | `/v1/LINK/greet/NAME` | set-link-name@1.0.0(LINK, [greeter]), then greet |
//! | `/v2/LINK/greet/NAME` | set-link-name@2.0.1(LINK, [greeter]), then greet (409 if refused) |
//! | `/v1/LINK/count` | set-link-name@1.0.0(LINK, [keyvalue store, atomics]), then increment `count` |
//! | `/count` | increment `count` on the default link |
//! | `/fetch?URL` | GET URL with wasi:http outgoing-handler → "STATUS BODY", or 502 with the error code |
//! | `/fetch-flood?N&URL` | start N GETs of URL at once, then wait for all → "answered=A refused=R error=FIRST" |

wit_bindgen::generate!({
    path: "../../../wit",
    world: "weft:platform/caller-guest",
    generate_all,
});

use wasi::keyvalue::{atomics, store};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingRequest, OutgoingResponse, ResponseOutparam,
    Scheme,
};
use wasmcloud::bus1_0_0::lattice as bus1;
use wasmcloud::bus2_0_1::lattice as bus2;
use weft::platform::greeter::{self, Shape};

struct Caller;

impl wasip2::exports::http::incoming_handler::Guest for Caller {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let full = request.path_with_query().unwrap_or_default();
        let (path, query) = full.split_once('?').unwrap_or((&full, ""));
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match parts.as_slice() {
            ["greet", name] => reply(out, 200, &greet(name)),
            ["add", a, b] => match (a.parse(), b.parse()) {
                (Ok(a), Ok(b)) => match greeter::add(a, b) {
                    Ok(sum) => reply(out, 200, &sum.to_string()),
                    Err(e) => reply(out, 422, &e),
                },
                _ => reply(out, 400, "numbers, please"),
            },
            ["describe"] => reply(out, 200, &greeter::describe(&Shape::Circle(1.5), Some("big"))),
            ["blob", n] => {
                let n = n.parse().unwrap_or(0);
                reply(out, 200, &greeter::blob(n).len().to_string())
            }
            ["v1", link, "greet", name] => {
                bus1::set_link_name(link, vec![greeter_interface1()]);
                reply(out, 200, &greet(name))
            }
            ["v2", link, "greet", name] => {
                let iface = bus2::CallTargetInterface::new("weft", "platform", "greeter");
                match bus2::set_link_name(link, vec![iface]) {
                    Ok(()) => reply(out, 200, &greet(name)),
                    Err(e) => reply(out, 409, &e),
                }
            }
            ["v1", link, "count"] => {
                bus1::set_link_name(
                    link,
                    vec![
                        bus1::CallTargetInterface::new("wasi", "keyvalue", "store"),
                        bus1::CallTargetInterface::new("wasi", "keyvalue", "atomics"),
                    ],
                );
                count(out)
            }
            ["count"] => count(out),
            ["fetch"] => fetch(out, query),
            ["fetch-flood"] => {
                let (n, url) = query.split_once('&').unwrap_or(("0", query));
                fetch_flood(out, n.parse().unwrap_or(0), url)
            }
            _ => reply(out, 404, "no such route"),
        }
    }
}

fn greeter_interface1() -> bus1::CallTargetInterface {
    bus1::CallTargetInterface::new("weft", "platform", "greeter")
}

fn greet(name: &str) -> String {
    let g = greeter::greet(name);
    format!("{} count={} tags={}", g.text, g.count, g.tags.join(","))
}

fn count(out: ResponseOutparam) {
    let counted = store::open("").and_then(|b| atomics::increment(&b, "count", 1));
    match counted {
        Ok(n) => reply(out, 200, &n.to_string()),
        Err(e) => reply(out, 500, &format!("keyvalue error: {e:?}")),
    }
}

/// A GET of `url`, or `None` when it is not an http(s) URL.
fn get(url: &str) -> Option<OutgoingRequest> {
    let (scheme, rest) = match url.split_once("://") {
        Some(("http", rest)) => (Scheme::Http, rest),
        Some(("https", rest)) => (Scheme::Https, rest),
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    let _ = request.set_scheme(Some(&scheme));
    let _ = request.set_authority(Some(authority));
    let _ = request.set_path_with_query(Some(path));
    Some(request)
}

fn fetch_flood(out: ResponseOutparam, n: usize, url: &str) {
    let (mut answered, mut refused, mut first_error) = (0, 0, None);
    let mut pending = Vec::new();
    for _ in 0..n {
        let Some(request) = get(url) else {
            return reply(out, 400, "fetch-flood?N&http://host:port/path");
        };
        match outgoing_handler::handle(request, None) {
            Ok(future) => pending.push(future),
            Err(code) => {
                refused += 1;
                first_error.get_or_insert(format!("{code:?}"));
            }
        }
    }
    for future in pending {
        future.subscribe().block();
        match future.get() {
            Some(Ok(Ok(_))) => answered += 1,
            Some(Ok(Err(code))) => {
                refused += 1;
                first_error.get_or_insert(format!("{code:?}"));
            }
            _ => refused += 1,
        }
    }
    let error = first_error.unwrap_or_default();
    reply(out, 200, &format!("answered={answered} refused={refused} error={error}"));
}

fn fetch(out: ResponseOutparam, url: &str) {
    let Some(request) = get(url) else {
        return reply(out, 400, "fetch?http://host:port/path");
    };
    let response = match outgoing_handler::handle(request, None) {
        Ok(future) => {
            future.subscribe().block();
            match future.get() {
                Some(Ok(Ok(response))) => response,
                Some(Ok(Err(code))) => return reply(out, 502, &format!("{code:?}")),
                _ => return reply(out, 502, "no response"),
            }
        }
        Err(code) => return reply(out, 502, &format!("{code:?}")),
    };
    let status = response.status();
    let mut body = Vec::new();
    if let Ok(incoming) = response.consume() {
        if let Ok(stream) = incoming.stream() {
            while let Ok(chunk) = stream.blocking_read(64 * 1024) {
                body.extend_from_slice(&chunk);
            }
        }
    }
    reply(out, 200, &format!("{status} {}", String::from_utf8_lossy(&body)));
}

fn reply(out: ResponseOutparam, status: u16, body: &str) {
    let response = OutgoingResponse::new(Fields::new());
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = outgoing.write() {
        let _ = stream.blocking_write_and_flush(body.as_bytes());
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

wasip2::http::proxy::export!(Caller);
