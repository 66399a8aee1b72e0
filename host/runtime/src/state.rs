//! The data every store holds, and the linker that serves it.

use crate::{config, keyvalue, logging, messaging};
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
    pub(crate) keyvalue: keyvalue::Ctx,
    /// The component's keyvalue generation `keyvalue` was taken at.
    pub(crate) keyvalue_generation: u64,
    pub(crate) messaging: messaging::Ctx,
    pub(crate) config: config::Ctx,
    pub(crate) logging: logging::Ctx,
    pub(crate) limits: StoreLimits,
    pub(crate) hooks: DenyOutgoing,
    /// When the current invocation must stop (checked at every epoch tick).
    pub(crate) deadline: std::time::Instant,
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
            hooks: &mut self.hooks,
        }
    }
}

/// Outgoing HTTP policy until the http-client provider is linked: deny every
/// request with a guest-visible `HTTP-request-denied` (deny by default).
#[derive(Debug, Default)]
pub struct DenyOutgoing;

type SendFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for DenyOutgoing {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        tracing::debug!(uri = %request.uri(), "outgoing HTTP denied: no http-client link");
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// A linker with everything a Weft component may import: WASI 0.2 (cli, io,
/// clocks, random, filesystem, sockets), `wasi:http`, and Weft's capabilities.
///
/// Imports nobody provides are defined as traps, so a component that imports
/// something unknown still starts and fails only when it calls it.
pub fn linker(engine: &Engine) -> wasmtime::Result<Linker<State>> {
    let mut linker = Linker::<State>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    keyvalue::add_to_linker(&mut linker, |s| keyvalue::View {
        ctx: &mut s.keyvalue,
        table: &mut s.table,
    })?;
    messaging::add_to_linker(&mut linker, |s| messaging::View { ctx: &s.messaging })?;
    config::add_to_linker(&mut linker, |s| config::View { ctx: &s.config })?;
    logging::add_to_linker(&mut linker, |s| logging::View { ctx: &s.logging })?;
    Ok(linker)
}
