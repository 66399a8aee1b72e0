//! kv-counter: each HTTP request increments a counter in wasi:keyvalue and
//! answers with the new count. The key is the request path (`/` = `counter`).
//!
//! A request with an `Idempotency-Key` header is recorded instead, as key
//! `{path}/{idempotency key}`: a client that lost an answer (a host died
//! mid-response) sends the same request again, and it counts once. The
//! count is then the number of such records.

wit_bindgen::generate!({
    path: "../../wit",
    world: "weft:platform/kv-counter",
    generate_all,
});

use wasi::keyvalue::{atomics, store};
use wasi::logging::logging::{Level, log};
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct KvCounter;

impl wasip2::exports::http::incoming_handler::Guest for KvCounter {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let key = match path.trim_start_matches('/').split('?').next() {
            None | Some("") => "counter".to_string(),
            Some(k) => k.to_string(),
        };
        let idempotency = request
            .headers()
            .get("idempotency-key")
            .into_iter()
            .next()
            .and_then(|v| String::from_utf8(v).ok());
        if let Some(id) = idempotency {
            if id.is_empty()
                || id.len() > 64
                || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                reply(out, 400, b"Idempotency-Key must be 1-64 letters, digits or '-'\n");
                return;
            }
            return match record(&key, &id) {
                Ok(()) => reply(out, 200, b"recorded\n"),
                Err(e) => {
                    log(Level::Error, "kv-counter", &format!("record of {key}/{id} failed: {e:?}"));
                    reply(out, 500, format!("keyvalue error: {e:?}\n").as_bytes());
                }
            };
        }
        match count(&key) {
            Ok(n) => reply(out, 200, format!("{n}\n").as_bytes()),
            Err(e) => {
                log(Level::Error, "kv-counter", &format!("increment of {key} failed: {e:?}"));
                reply(out, 500, format!("keyvalue error: {e:?}\n").as_bytes());
            }
        }
    }
}

fn count(key: &str) -> Result<u64, store::Error> {
    let bucket = store::open("default")?;
    atomics::increment(&bucket, key, 1)
}

/// Records request `id` under `key`; doing it again changes nothing.
fn record(key: &str, id: &str) -> Result<(), store::Error> {
    let bucket = store::open("default")?;
    bucket.set(&format!("{key}/{id}"), b"1")
}

fn reply(out: ResponseOutparam, status: u16, body: &[u8]) {
    let headers = Fields::from_list(&[(
        "content-type".to_string(),
        b"text/plain; charset=utf-8".to_vec(),
    )])
    .unwrap_or_else(|_| Fields::new());
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = outgoing.write() {
        let _ = stream.blocking_write_and_flush(body);
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

wasip2::http::proxy::export!(KvCounter);
