//! pingpong: on a message "ping", increments the counter `increment` in
//! wasi:keyvalue and publishes "pong N" on the subject `pong`.

wit_bindgen::generate!({
    path: "../../wit",
    world: "weft:platform/pingpong",
    generate_all,
});

use exports::wasmcloud::messaging::handler::Guest;
use wasi::keyvalue::{atomics, store};
use wasmcloud::messaging::consumer;
use wasmcloud::messaging::types::BrokerMessage;

struct PingPong;

impl Guest for PingPong {
    fn handle_message(msg: BrokerMessage) -> Result<(), String> {
        if msg.body.trim_ascii() != b"ping" {
            return Ok(());
        }
        let bucket = store::open("default").map_err(|e| format!("open bucket: {e:?}"))?;
        let n = atomics::increment(&bucket, "increment", 1).map_err(|e| format!("increment: {e:?}"))?;
        let body = format!("pong {n}").into_bytes();
        // Reply to the requester when there is one, and always publish on `pong`.
        if let Some(reply_to) = msg.reply_to {
            consumer::publish(&BrokerMessage { subject: reply_to, body: body.clone(), reply_to: None })?;
        }
        consumer::publish(&BrokerMessage { subject: "pong".into(), body, reply_to: None })
    }
}

export!(PingPong);
