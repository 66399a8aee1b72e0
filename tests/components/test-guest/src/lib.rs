//! A guest for the test suite: well-behaved routes and hostile ones.
//!
//! | path | behaviour |
//! |---|---|
//! | `/ok` | 200 "ok" |
//! | `/loop` | spins forever (stopped by the execution deadline) |
//! | `/alloc` | allocates without end (stopped by the memory limit) |
//! | `/recurse` | recurses without end (stack overflow trap) |
//! | `/no-response` | returns without setting a response |
//! | `/config/KEY` | the wasi:config value of KEY, 404 when unset |
//! | `/log` | logs at every level, 200 |
//! | `/print` | prints lines that look like the host's own to stdout and stderr, 200 |
//! | `/kv` | exercises store, atomics and batch on the default bucket, 200 "kv ok" |
//! | `/count` | increments `count` in keyvalue, returns the value |
//! | `/count/BUCKET` | the same in bucket BUCKET |
//! | `/state` | increments a counter in guest memory (shows instance reuse) |
//! | `/echo` | returns the request body |
//! | `/inspect…` | reads all the request gives (method, scheme, authority, path, headers, body), answers with it as text and its headers copied back |
//! | `/sleep/MS` | waits MS milliseconds (wasi:clocks), then 200 "slept" |

wit_bindgen::generate!({
    path: "../../../wit",
    world: "weft:platform/test-guest",
    generate_all,
});

use std::cell::Cell;
use std::hint::black_box;
use wasi::config::runtime as config;
use wasi::keyvalue::{atomics, batch, store};
use wasi::logging::logging::{Level, log};
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

thread_local! {
    static STATE: Cell<u64> = const { Cell::new(0) };
}

struct TestGuest;

impl wasip2::exports::http::incoming_handler::Guest for TestGuest {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default().to_string();
        match path.as_str() {
            "/ok" => reply(out, 200, b"ok"),
            "/loop" => {
                let mut n = 0u64;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "/alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![7u8; 1 << 20]));
                }
            }
            "/recurse" => {
                let depth = recurse(black_box(1));
                reply(out, 200, depth.to_string().as_bytes());
            }
            "/no-response" => {}
            "/log-flood" => loop {
                log(Level::Info, "test-guest", "flooding the log");
            },
            "/log" => {
                for level in [
                    Level::Trace,
                    Level::Debug,
                    Level::Info,
                    Level::Warn,
                    Level::Error,
                ] {
                    log(level, "test-guest", "hello from the guest");
                }
                reply(out, 200, b"logged");
            }
            "/print" => {
                // Lines that would pass for the host's own if they reached
                // its stdout and stderr as they are.
                println!("2026-12-07T00:00:00.000000Z  INFO weft::host: Host N1 stopped.");
                eprintln!("error: the host's credentials are hunter2");
                print!("no newline at the end");
                let _ = std::io::Write::flush(&mut std::io::stdout());
                reply(out, 200, b"printed");
            }
            "/kv" => match exercise_keyvalue() {
                Ok(()) => reply(out, 200, b"kv ok"),
                Err(e) => reply(out, 500, e.as_bytes()),
            },
            p if p.starts_with("/count/") => {
                let bucket = &p["/count/".len()..];
                let counted = store::open(bucket).and_then(|b| atomics::increment(&b, "count", 1));
                match counted {
                    Ok(n) => reply(out, 200, n.to_string().as_bytes()),
                    Err(e) => reply(out, 500, format!("keyvalue error: {e:?}").as_bytes()),
                }
            }
            "/count" => {
                let counted = store::open("").and_then(|b| atomics::increment(&b, "count", 1));
                match counted {
                    Ok(n) => reply(out, 200, n.to_string().as_bytes()),
                    Err(e) => reply(out, 500, format!("keyvalue error: {e:?}").as_bytes()),
                }
            }
            "/state" => {
                let n = STATE.with(|s| {
                    s.set(s.get() + 1);
                    s.get()
                });
                reply(out, 200, n.to_string().as_bytes());
            }
            "/echo" => match read_body(request) {
                Some(body) => reply(out, 200, &body),
                None => reply(out, 400, b"could not read the body"),
            },
            p if p.starts_with("/inspect") => inspect(request, out),
            p if p.starts_with("/sleep/") => {
                let ms: u64 = p["/sleep/".len()..].parse().unwrap_or(0);
                wasip2::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
                reply(out, 200, b"slept");
            }
            p if p.starts_with("/config/") => match config::get(&p["/config/".len()..]) {
                Ok(Some(v)) => reply(out, 200, v.as_bytes()),
                Ok(None) => reply(out, 404, b"unset"),
                Err(e) => reply(out, 500, format!("{e:?}").as_bytes()),
            },
            _ => reply(out, 404, b"no such route"),
        }
    }
}

#[inline(never)]
fn recurse(n: u64) -> u64 {
    let pad = black_box([n; 64]);
    if black_box(n) == 0 {
        return pad[0];
    }
    recurse(n + 1) + pad[n as usize % 64]
}

fn exercise_keyvalue() -> Result<(), String> {
    let e = |what: &str| {
        let what = what.to_string();
        move |err: store::Error| format!("{what}: {err:?}")
    };
    let bucket = store::open("default").map_err(e("open"))?;
    bucket.set("a", b"1").map_err(e("set"))?;
    if bucket.get("a").map_err(e("get"))?.as_deref() != Some(&b"1"[..]) {
        return Err("get after set".into());
    }
    if !bucket.exists("a").map_err(e("exists"))? {
        return Err("exists after set".into());
    }
    batch::set_many(
        &bucket,
        &[("b".into(), b"2".to_vec()), ("c".into(), b"3".to_vec())],
    )
    .map_err(e("set-many"))?;
    let many = batch::get_many(&bucket, &["b".into(), "zz".into()]).map_err(e("get-many"))?;
    if many != vec![Some(("b".to_string(), b"2".to_vec())), None] {
        return Err(format!("get-many: {many:?}"));
    }
    let listed = bucket.list_keys(None).map_err(e("list-keys"))?;
    if listed.keys.len() < 3 {
        return Err(format!("list-keys: {:?}", listed.keys));
    }
    // A cursor the host never issued must not trap.
    bucket
        .list_keys(Some(u64::MAX))
        .map_err(e("list-keys with a made-up cursor"))?;
    bucket.set("word", b"hello").map_err(e("set"))?;
    if atomics::increment(&bucket, "word", 1).is_ok() {
        return Err("increment of a non-number succeeded".into());
    }
    batch::delete_many(
        &bucket,
        &["a".into(), "b".into(), "c".into(), "word".into()],
    )
    .map_err(e("delete-many"))?;
    if bucket.exists("a").map_err(e("exists"))? {
        return Err("exists after delete-many".into());
    }
    Ok(())
}

/// Everything the host handed over about `request`, as text; the response
/// carries the request's headers back (those the host lets a response
/// have), so both directions of the header conversion run.
fn inspect(request: IncomingRequest, out: ResponseOutparam) {
    let mut seen = format!(
        "{:?} {:?} {:?} {:?}\n",
        request.method(),
        request.scheme(),
        request.authority(),
        request.path_with_query()
    );
    let entries = request.headers().entries();
    for (name, value) in &entries {
        seen.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value)));
    }
    let body = read_body(request);
    seen.push_str(&format!("body: {:?} bytes\n", body.map(|b| b.len())));
    let headers = Fields::new();
    for (name, value) in entries {
        // Some names (hop-by-hop, forbidden) are refused: that is an answer too.
        let _ = headers.append(&name, &value);
    }
    let response = OutgoingResponse::new(headers);
    let Ok(outgoing) = response.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = outgoing.write() {
        for chunk in seen.as_bytes().chunks(4096) {
            let _ = stream.blocking_write_and_flush(chunk);
        }
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

fn read_body(request: IncomingRequest) -> Option<Vec<u8>> {
    let body = request.consume().ok()?;
    let stream = body.stream().ok()?;
    let mut all = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => all.extend_from_slice(&chunk),
            Err(wasip2::io::streams::StreamError::Closed) => break,
            Err(_) => return None,
        }
    }
    drop(stream);
    let _ = IncomingBody::finish(body);
    Some(all)
}

fn reply(out: ResponseOutparam, status: u16, body: &[u8]) {
    let response = OutgoingResponse::new(Fields::new());
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = outgoing.write() {
        for chunk in body.chunks(4096) {
            let _ = stream.blocking_write_and_flush(chunk);
        }
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

wasip2::http::proxy::export!(TestGuest);
