//! A pipeline stage for tests and benchmarks: forwards every message it
//! receives, body unchanged, to the subject in wasi:config `next`. A reply
//! subject travels along, so the last stage's consumer can answer the
//! first stage's sender.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "weft:platform/relay-guest",
    generate_all,
});

use exports::wasmcloud::messaging::handler::Guest;
use wasi::config::store as config;
use wasmcloud::messaging::consumer;
use wasmcloud::messaging::types::BrokerMessage;

struct Relay;

impl Guest for Relay {
    fn handle_message(msg: BrokerMessage) -> Result<(), String> {
        let next = config::get("next")
            .map_err(|e| format!("reading config `next`: {e:?}"))?
            .ok_or("no config `next`: link this stage with a config that names the subject to forward to")?;
        consumer::publish(&BrokerMessage { subject: next, body: msg.body, reply_to: msg.reply_to })
    }
}

export!(Relay);
