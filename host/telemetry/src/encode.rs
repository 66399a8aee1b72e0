//! OTLP's JSON encoding of a batch of spans (`ExportTraceServiceRequest`):
//! ids as hex, times as decimal strings of Unix nanoseconds.

use crate::Finished;
use serde_json::{Value, json};

/// `SPAN_KIND_INTERNAL`.
const INTERNAL: u8 = 1;
/// `STATUS_CODE_UNSET` and `STATUS_CODE_ERROR`.
const UNSET: u8 = 0;
const ERROR: u8 = 2;

fn attribute(key: &str, value: &str) -> Value {
    json!({ "key": key, "value": { "stringValue": value } })
}

fn span(s: &Finished) -> Value {
    let mut attributes: Vec<Value> = s.attributes.iter().map(|(k, v)| attribute(k, v)).collect();
    attributes.push(attribute("code.namespace", s.target));
    json!({
        "traceId": hex::encode(s.trace_id),
        "spanId": hex::encode(s.span_id),
        "parentSpanId": s.parent_id.map(hex::encode).unwrap_or_default(),
        "name": s.name,
        "kind": INTERNAL,
        "startTimeUnixNano": s.start_unix_nanos.to_string(),
        "endTimeUnixNano": s.end_unix_nanos.to_string(),
        "attributes": attributes,
        "status": { "code": if s.failed { ERROR } else { UNSET } },
    })
}

/// The request body for `spans`, all from service `service`.
pub(crate) fn traces(service: &str, spans: &[Finished]) -> Vec<u8> {
    let body = json!({
        "resourceSpans": [{
            "resource": { "attributes": [attribute("service.name", service)] },
            "scopeSpans": [{
                "scope": { "name": "weft", "version": env!("CARGO_PKG_VERSION") },
                "spans": spans.iter().map(span).collect::<Vec<_>>(),
            }],
        }],
    });
    body.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_is_encoded_as_otlp_json() -> Result<(), serde_json::Error> {
        let s = Finished {
            name: "invocation",
            target: "weft_runtime::http",
            trace_id: [0xab; 16],
            span_id: [1; 8],
            parent_id: None,
            start_unix_nanos: 1_700_000_000_000_000_000,
            end_unix_nanos: 1_700_000_000_000_250_000,
            attributes: vec![("component", "hello".into())],
            failed: true,
        };
        let v: Value = serde_json::from_slice(&traces("weft-host", &[s]))?;
        let r = &v["resourceSpans"][0];
        assert_eq!(
            r["resource"]["attributes"][0]["value"]["stringValue"],
            "weft-host"
        );
        let span = &r["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "ab".repeat(16));
        assert_eq!(span["spanId"], "0101010101010101");
        assert_eq!(span["parentSpanId"], "");
        assert_eq!(span["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(span["attributes"][0]["key"], "component");
        assert_eq!(span["status"]["code"], 2);
        Ok(())
    }
}
