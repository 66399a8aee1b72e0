//! The data every store holds, and the linker that serves it.

use crate::links::Routing;
use crate::{bus, config, keyvalue, logging, messaging};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

/// The data of one store: WASI contexts, the resource table and Weft's
/// capability contexts. One per instance.
pub struct State {
    pub(crate) table: ResourceTable,
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    /// Where linked imports go (keyvalue, messaging, outgoing HTTP, custom
    /// interfaces), and the link names the guest picked.
    pub(crate) routing: Routing,
    pub(crate) config: config::Ctx,
    pub(crate) logging: logging::Ctx,
    pub(crate) limits: StoreLimits,
    /// When the current invocation must stop (checked at every epoch tick).
    pub(crate) deadline: std::time::Instant,
    /// Epoch ticks the current invocation has been running at: past a
    /// burst it is throttled (see `Component::new_store`).
    pub(crate) ticks: u32,
    /// When the current invocation began.
    pub(crate) began: std::time::Instant,
    /// The component's standing: what it owes for failed invocations.
    pub(crate) fairness: std::sync::Arc<crate::fairness::Fairness>,
}

impl State {
    /// Starts an invocation that must end by `deadline`.
    pub(crate) fn begin(&mut self, deadline: std::time::Instant) {
        self.began = std::time::Instant::now();
        self.deadline = deadline;
        self.ticks = 0;
    }
}

impl State {
    /// Records that the current invocation failed (trapped, or was stopped
    /// at its deadline): its component owes time for it.
    pub(crate) fn failed(&self) {
        self.fairness.failed(self.began.elapsed());
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.routing,
        }
    }
}

/// An outgoing-HTTP policy that denies every request with a guest-visible
/// `HTTP-request-denied`, for embedders with no links (the bench's bare loop).
#[derive(Debug, Default)]
pub struct DenyOutgoing;

impl WasiHttpHooks for DenyOutgoing {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> crate::outgoing::SendFuture {
        tracing::debug!(uri = %request.uri(), "outgoing HTTP denied: no http-client link");
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// A linker with everything a Weft component may import: WASI 0.2 (cli, io,
/// clocks, random, filesystem, sockets), `wasi:http`, Weft's capabilities
/// and `wasmcloud:bus`. Custom interfaces are added per component, when it
/// loads, as forwarders to what its links name.
pub fn linker(engine: &Engine) -> wasmtime::Result<Linker<State>> {
    let mut linker = Linker::<State>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    keyvalue::add_to_linker(&mut linker, |s| keyvalue::View {
        routing: &s.routing,
        table: &mut s.table,
    })?;
    messaging::add_to_linker(&mut linker, |s| messaging::View {
        routing: &s.routing,
    })?;
    bus::add_to_linker(&mut linker, |s| bus::View {
        routing: &mut s.routing,
        table: &mut s.table,
    })?;
    config::add_to_linker(&mut linker, |s| config::View { ctx: &s.config })?;
    logging::add_to_linker(&mut linker, |s| logging::View { ctx: &s.logging })?;
    Ok(linker)
}
