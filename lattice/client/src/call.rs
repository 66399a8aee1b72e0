//! Calling an exported function of a running component from outside the
//! lattice (`weft call`): one request on the component's rpc subject, as
//! another host would send it, answered by a host that runs it.

use crate::{Error, ErrorKind, LatticeClient};
use async_nats::RequestErrorKind;
use std::time::Duration;
use weft_lattice_protocol::CtlResponse;
use weft_lattice_protocol::rpc::RpcCall;

/// A call of an exported function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest {
    /// The component's id.
    pub component: String,
    /// `ns:pkg/iface#function`, `iface#function`, or just `function` when
    /// one export has it.
    pub function: String,
    /// The arguments, one WAVE value each (`"Ada"`, `42`, `{x: 1}`).
    pub args: Vec<String>,
    /// Results as JSON text rather than WAVE.
    pub json: bool,
    /// How long to wait for the results.
    pub timeout: Duration,
}

impl LatticeClient {
    /// Calls `req.function` on `req.component`; its results, one text each.
    pub async fn call(&self, req: &CallRequest) -> Result<Vec<String>, Error> {
        let (interface, function) = match req.function.rsplit_once('#') {
            Some((i, f)) => (i.to_owned(), f.to_owned()),
            None => (String::new(), req.function.clone()),
        };
        let body = RpcCall {
            interface,
            function,
            args: req.args.clone(),
            timeout_ms: u64::try_from(req.timeout.as_millis()).unwrap_or(u64::MAX),
            json: req.json,
        };
        let payload = serde_json::to_vec(&body).map_err(|e| {
            Error::new(
                ErrorKind::Malformed,
                format!("could not encode the call: {e}"),
            )
        })?;
        let request = async_nats::Request::new()
            .payload(payload.into())
            .timeout(Some(req.timeout));
        let lattice = self.subjects.lattice();
        let reply = self
            .nats
            .send_request(self.subjects.rpc(&req.component), request)
            .await
            .map_err(|e| match e.kind() {
                RequestErrorKind::NoResponders => Error::new(
                    ErrorKind::NoResponders,
                    format!(
                        "component `{}` is not running on any host of lattice `{lattice}`; `weft get inventory` shows what runs",
                        req.component
                    ),
                ),
                RequestErrorKind::TimedOut => Error::new(
                    ErrorKind::TimedOut,
                    format!("`{}` did not answer within {:?}; give it longer with --timeout", req.component, req.timeout),
                ),
                _ => Error::new(ErrorKind::Transport, format!("calling `{}`: {e}", req.component)),
            })?;
        let envelope: CtlResponse<Vec<String>> =
            serde_json::from_slice(&reply.payload).map_err(|e| {
                Error::new(
                    ErrorKind::Malformed,
                    format!("the reply is not the protocol's JSON: {e}"),
                )
            })?;
        if envelope.success {
            Ok(envelope.response.unwrap_or_default())
        } else {
            Err(Error::new(ErrorKind::Rejected, envelope.message))
        }
    }
}
