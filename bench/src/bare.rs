//! The baseline: the minimal wasmtime-wasi-http serving loop (ProxyPre, the
//! same pooling engine, the same memory limit and deadline), with no Weft
//! code on the request path. Optionally reuses instances.

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
// Outgoing requests are denied as in weft; the policy is not on the
// request path being measured.
use weft_runtime::{DenyOutgoing, Runtime};

struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    limits: StoreLimits,
    hooks: DenyOutgoing,
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

/// A running baseline server.
pub struct Bare {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Bare {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Server {
    pre: ProxyPre<State>,
    reuse: Option<u32>,
    idle: Mutex<Vec<(Store<State>, Proxy, u32)>>,
}

const DEADLINE_TICKS: u64 = 3_000; // 30 s at 10 ms per tick, as weft's default

impl Server {
    fn new_store(&self) -> Store<State> {
        let state = State {
            wasi: WasiCtx::builder().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new().memory_size(64 << 20).build(),
            hooks: DenyOutgoing,
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limits);
        store
    }

    async fn handle(
        self: Arc<Self>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> anyhow::Result<hyper::Response<HyperOutgoingBody>> {
        let pooled = match self.reuse {
            Some(_) => self
                .idle
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .pop(),
            None => None,
        };
        let (mut store, proxy, uses) = match pooled {
            Some((s, p, u)) => (s, Some(p), u),
            None => (self.new_store(), None, 0),
        };
        store.set_epoch_deadline(DEADLINE_TICKS);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)?;
        let out = store.data_mut().http().new_response_outparam(tx)?;
        let server = self.clone();
        let task = tokio::spawn(async move {
            let proxy = match proxy {
                Some(p) => p,
                None => server.pre.instantiate_async(&mut store).await?,
            };
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, req, out)
                .await?;
            if server.reuse.is_some_and(|max| uses + 1 < max)
                && let Ok(mut idle) = server.idle.lock()
            {
                idle.push((store, proxy, uses + 1));
            }
            Ok::<_, wasmtime::Error>(())
        });
        match rx.await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(anyhow::anyhow!("guest error {e:?}")),
            Err(_) => Err(anyhow::anyhow!("no response: {:?}", task.await)),
        }
    }
}

/// Serves `wasm` on a free loopback port with the baseline loop.
pub async fn serve(runtime: &Runtime, wasm: &[u8], reuse: Option<u32>) -> anyhow::Result<Bare> {
    let engine = runtime.engine();
    let component = Component::new(engine, wasm).map_err(anyhow::Error::from)?;
    let mut linker = Linker::<State>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    let pre = ProxyPre::new(linker.instantiate_pre(&component)?)?;
    let server = Arc::new(Server {
        pre,
        reuse,
        idle: Mutex::new(Vec::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let server = server.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| server.clone().handle(req));
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Bare { addr, task })
}
