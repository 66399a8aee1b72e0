//! Component-to-component calls across hosts: Weft's own subjects and
//! bodies (wasmCloud used wRPC here; a Weft lattice does not).
//!
//! A call of `ns:pkg/iface#function` on component `C` is one NATS
//! request on `wasmbus.rpc.{lattice}.{C}` (hosts running `C` answer in a
//! queue group, so exactly one does) with an [`RpcCall`] body; the reply is
//! the usual envelope with the results: `CtlResponse<Vec<String>>`. Values
//! are WAVE text, one string per argument and per result.

use serde::{Deserialize, Serialize};

/// The body of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpcCall {
    /// The interface as the caller imports it (`ns:pkg/iface@1.0.0`).
    pub interface: String,
    /// The function's name.
    pub function: String,
    /// The arguments, WAVE-encoded.
    #[serde(default)]
    pub args: Vec<String>,
    /// How long the caller waits, in milliseconds; the callee stops then too.
    pub timeout_ms: u64,
    /// Results as JSON text instead of WAVE (for people: `weft call -o json`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_round_trips() {
        let call = RpcCall {
            interface: "weft:platform/greeter@0.1.0".into(),
            function: "greet".into(),
            args: vec![r#""Ada""#.into()],
            timeout_ms: 2_000,
            json: false,
        };
        let json = serde_json::to_string(&call).unwrap();
        assert_eq!(serde_json::from_str::<RpcCall>(&json).unwrap(), call);
        assert!(serde_json::from_str::<RpcCall>(r#"{"function":"x"}"#).is_err());
    }
}
