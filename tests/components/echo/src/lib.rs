//! A hostile messaging guest for the security tests: it does with the
//! messaging provider whatever the message it receives tells it to.
//!
//! - `publish SUBJECT PAYLOAD`: publishes PAYLOAD on SUBJECT;
//! - `publish-reply SUBJECT REPLY PAYLOAD`: the same, with reply subject REPLY;
//! - `request SUBJECT PAYLOAD`: sends a request and waits up to a second;
//! - anything else: echoes the body to the message's reply subject, which
//!   the sender chose (as wasmCloud's echo-messaging example does).
//!
//! A refused send is the handler's error, so the host logs it.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "weft:platform/relay-guest",
    generate_all,
});

use exports::wasmcloud::messaging::handler::Guest;
use wasmcloud::messaging::consumer;
use wasmcloud::messaging::types::BrokerMessage;

struct Echo;

fn send(subject: &str, reply_to: Option<&str>, payload: &str) -> Result<(), String> {
    consumer::publish(&BrokerMessage {
        subject: subject.to_owned(),
        body: payload.as_bytes().to_vec(),
        reply_to: reply_to.map(str::to_owned),
    })
}

impl Guest for Echo {
    fn handle_message(msg: BrokerMessage) -> Result<(), String> {
        let text = String::from_utf8_lossy(&msg.body).into_owned();
        let mut words = text.splitn(2, ' ');
        let verb = words.next().unwrap_or_default();
        let rest = words.next().unwrap_or_default();
        match verb {
            "publish" => {
                let (subject, payload) = rest.split_once(' ').unwrap_or((rest, ""));
                send(subject, None, payload)
            }
            "publish-reply" => {
                let mut parts = rest.splitn(3, ' ');
                let subject = parts.next().unwrap_or_default();
                let reply = parts.next().unwrap_or_default();
                send(subject, Some(reply), parts.next().unwrap_or_default())
            }
            "request" => {
                let (subject, payload) = rest.split_once(' ').unwrap_or((rest, ""));
                let answer = consumer::request(subject, payload.as_bytes(), 1_000);
                let said = match &answer {
                    Ok(reply) => String::from_utf8_lossy(&reply.body).into_owned(),
                    Err(e) => format!("error: {e}"),
                };
                if let Some(reply_to) = &msg.reply_to {
                    send(reply_to, None, &said)?;
                }
                answer.map(|_| ())
            }
            _ => match &msg.reply_to {
                Some(reply_to) => send(reply_to, None, &text),
                None => Ok(()),
            },
        }
    }
}

export!(Echo);
