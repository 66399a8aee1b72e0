//! Answers every request with 200 "compat"; exists to check that components
//! importing an older wasi:http 0.2 patch version link on a Weft host.

use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Compat;

impl wasi::exports::http::incoming_handler::Guest for Compat {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let response = OutgoingResponse::new(Fields::new());
        let Ok(body) = response.body() else { return };
        ResponseOutparam::set(out, Ok(response));
        if let Ok(stream) = body.write() {
            let _ = stream.blocking_write_and_flush(b"compat");
        }
        let _ = OutgoingBody::finish(body, None);
    }
}

wasi::http::proxy::export!(Compat);
