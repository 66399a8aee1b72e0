//! A loaded component: compiled once, pre-instantiated once, with its limits
//! and its current capability bindings.

use crate::bindings::exports::wasmcloud::messaging::handler::GuestIndices;
use crate::exports::Exports;
use crate::links::{Links, Routing};
use crate::metrics::Invocations;
use crate::state::State;
use crate::{CompileCache, Error, Origin, Runtime, config, logging};
use arc_swap::{ArcSwap, ArcSwapOption};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::{InstancePre, ResourceTable};
use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::WasiHttpCtx;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use weft_capability::config::Config;
use weft_capability::keyvalue::KeyValue;

/// Per-component limits; every invocation runs under them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest linear memory an instance may grow to, in bytes.
    pub max_memory: u64,
    /// Longest an invocation may run before it is stopped.
    pub timeout: Duration,
    /// Instance reuse: `None` (the default) gives each invocation a fresh
    /// instance; `Some(n)` lets one instance serve up to `n` invocations, one
    /// at a time. Only for components that declare they allow it.
    pub reuse: Option<u32>,
    /// Invocations that may run at once; more wait for a slot.
    pub max_concurrent: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_memory: 64 << 20,
            timeout: Duration::from_secs(30),
            reuse: None,
            max_concurrent: None,
        }
    }
}

/// What to start: the component's id, configuration, bindings and limits.
#[derive(Clone)]
pub struct ComponentSpec {
    /// The component's id, unique on the host.
    pub id: String,
    /// The values `wasi:config` returns.
    pub config: Config,
    /// The backend `wasi:keyvalue` is bound to on the default link, if any
    /// (hosts on a lattice bind everything later, with
    /// [`Component::set_links`]).
    pub keyvalue: Option<Arc<dyn KeyValue>>,
    /// Limits for every invocation.
    pub limits: Limits,
}

impl ComponentSpec {
    /// A spec with no config, no links and default limits.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            config: Config::default(),
            keyvalue: None,
            limits: Limits::default(),
        }
    }
}

/// A reusable instance with the store it lives in.
pub(crate) struct Pooled {
    pub(crate) store: Store<State>,
    pub(crate) proxy: Proxy,
    pub(crate) uses: u32,
}

/// A component ready to serve: compiled, linked, pre-instantiated.
pub struct Component {
    pub(crate) id: Arc<str>,
    pub(crate) runtime: Runtime,
    /// Instantiates the component (every export).
    pub(crate) pre: InstancePre<State>,
    /// Set when it exports `wasi:http/incoming-handler`.
    pub(crate) proxy: Option<ProxyPre<State>>,
    /// Set when it exports `wasmcloud:messaging/handler`.
    pub(crate) handler: Option<GuestIndices>,
    /// Its exported interface functions, for links from other components.
    pub(crate) exports: Exports,
    /// Its imports that only a link serves.
    pub(crate) link_imports: Arc<[String]>,
    pub(crate) digest: String,
    pub(crate) origin: Origin,
    pub(crate) config: Config,
    pub(crate) limits: Limits,
    /// What its imports are bound to, by link name.
    pub(crate) links: ArcSwap<Links>,
    /// Bumped by every change of `links`, so a reused store can tell cheaply
    /// (one uncontended atomic read) whether its routing is stale.
    pub(crate) links_generation: AtomicU64,
    /// The concurrency limit; swapped whole when the component is rescaled
    /// (in-flight invocations finish on the permits they hold).
    pub(crate) slots: ArcSwapOption<Semaphore>,
    /// The current limit, for reports.
    pub(crate) max_concurrent: AtomicU32,
    pub(crate) idle: Arc<Mutex<Vec<Pooled>>>,
    /// Invocations running now (until their response head, for HTTP).
    pub(crate) in_flight: AtomicUsize,
    /// Invocations so far, by kind, for the host's metrics.
    pub(crate) invocations: Arc<Invocations>,
    /// What it owes for failed invocations, which holds its next ones back
    /// while other components run.
    pub(crate) fairness: Arc<crate::fairness::Fairness>,
    /// Its share of the host's log.
    pub(crate) log: Arc<logging::Source>,
}

/// Invocations running now in this process, across every component and
/// host in it (they share its cores): a long-running invocation is
/// throttled only while others run beside it.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Counts one invocation as running (in its component and in the process)
/// while it lives.
pub(crate) struct Active<'a>(&'a AtomicUsize);

/// Why an invocation did not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its deadline came while it waited for its turn or for a slot.
    Late,
    /// The component is stopping.
    Stopping,
}

/// How an invocation stopped short of its guest's own answer.
pub(crate) enum Stop {
    /// No instance ran: why.
    NotRun(String),
    /// The guest trapped (or was interrupted at its deadline).
    Trap(wasmtime::Error),
}

/// An invocation let in: counted as running, holding a slot if the
/// component has a concurrency limit.
pub(crate) struct Admitted<'a> {
    pub(crate) _active: Active<'a>,
    pub(crate) permit: Option<OwnedSemaphorePermit>,
}

/// Runs `work` until `deadline` by the wall clock: `None` if the deadline
/// came first (then `work` is dropped, with whatever it waited on). With
/// `wall_clock` off (to measure its cost) it runs `work` to its end.
///
/// The timer is set only once `work` first has to wait: most invocations
/// finish on their first poll and cost no timer at all.
pub(crate) async fn until<F: Future>(
    wall_clock: bool,
    deadline: Instant,
    work: F,
) -> Option<F::Output> {
    if !wall_clock {
        return Some(work.await);
    }
    let mut work = std::pin::pin!(work);
    let mut timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        let timer =
            timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())));
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// The wall-clock deadline of an invocation that arrives now and may run
/// for `timeout`. A timeout too large to add (from the wire, say) is as
/// good as none: a day.
pub(crate) fn deadline_in(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(24 * 60 * 60)))
        .unwrap_or(now)
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
        RUNNING.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Component {
    /// Compiles (or loads from `cache`) and pre-instantiates `wasm`.
    ///
    /// Fails with a clear error when the bytes are not a component, do not
    /// compile, or do not export `wasi:http/incoming-handler`.
    pub fn load(
        runtime: &Runtime,
        cache: &CompileCache,
        wasm: &[u8],
        spec: ComponentSpec,
    ) -> Result<Self, Error> {
        let (compiled, origin) = cache.load(runtime.engine(), wasm)?;
        Self::prepare(runtime, compiled, crate::cache::digest(wasm), origin, spec)
    }

    /// Starts the component whose wasm has sha256 `digest` (hex) from the
    /// compile cache alone, without its bytes; `Ok(None)` when the cache has
    /// no valid entry for it (then fetch the bytes and [`Self::load`]).
    pub fn load_cached(
        runtime: &Runtime,
        cache: &CompileCache,
        digest: &str,
        spec: ComponentSpec,
    ) -> Result<Option<Self>, Error> {
        let Some(compiled) = cache.load_digest(runtime.engine(), digest) else {
            return Ok(None);
        };
        Self::prepare(runtime, compiled, digest.to_owned(), Origin::Cached, spec).map(Some)
    }

    /// Links and pre-instantiates compiled code.
    fn prepare(
        runtime: &Runtime,
        compiled: wasmtime::component::Component,
        digest: String,
        origin: Origin,
        spec: ComponentSpec,
    ) -> Result<Self, Error> {
        let link_err = |reason: String| Error::Link {
            component: spec.id.clone(),
            reason,
        };
        let mut linker = runtime.linker();
        crate::calls::define_forwarders(&mut linker, runtime.engine(), &compiled)
            .map_err(|e| link_err(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&compiled)
            .map_err(|e| link_err(format!("{e:#}")))?;
        let proxy = ProxyPre::new(pre.clone()).ok();
        let handler = GuestIndices::new(&pre).ok();
        let exports = Exports::of(runtime.engine(), &compiled);
        let link_imports = compiled
            .component_type()
            .imports(runtime.engine())
            .map(|(name, _)| name)
            .filter(|name| name.contains('/') && crate::calls::served_by_host(name) != Some(false))
            .map(str::to_owned)
            .collect();
        if proxy.is_none() && handler.is_none() && exports.is_empty() {
            return Err(link_err(
                "it exports no interface (not wasi:http/incoming-handler@0.2.x, not \
                 wasmcloud:messaging/handler@0.2.0, nothing another component could \
                 link to), so nothing could call it"
                    .into(),
            ));
        }
        let slots = ArcSwapOption::new(
            spec.limits
                .max_concurrent
                .map(|n| Arc::new(Semaphore::new(n.max(1) as usize))),
        );
        let max_concurrent = AtomicU32::new(spec.limits.max_concurrent.unwrap_or(0));
        let id: Arc<str> = spec.id.into();
        Ok(Self {
            log: Arc::new(logging::Source::new(id.clone())),
            id,
            runtime: runtime.clone(),
            pre,
            proxy,
            handler,
            exports,
            link_imports,
            digest,
            origin,
            config: spec.config,
            limits: spec.limits,
            links: ArcSwap::from_pointee(Links::keyvalue(spec.keyvalue)),
            links_generation: AtomicU64::new(0),
            slots,
            max_concurrent,
            idle: Arc::new(Mutex::new(Vec::new())),
            in_flight: AtomicUsize::new(0),
            invocations: Arc::default(),
            fairness: Arc::default(),
        })
    }

    /// Its imports that only a link serves (`ns:pkg/iface@version`): calls
    /// to them fail until a link binds them.
    pub fn link_imports(&self) -> &[String] {
        &self.link_imports
    }

    /// The component's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The sha256 digest of the component's wasm bytes.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Whether the compiled code came from the cache.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The limits invocations run under (`max_concurrent` as loaded; see
    /// [`Self::max_concurrent`] for the current value).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Invocations that may run at once now; `None` for no limit.
    pub fn max_concurrent(&self) -> Option<u32> {
        match self.max_concurrent.load(Ordering::Acquire) {
            0 => None,
            n => Some(n),
        }
    }

    /// Changes how many invocations may run at once (`None`: no limit).
    /// New invocations use the new limit at once; running ones finish on
    /// their old slots, so for a moment more than `n` may be running.
    pub fn set_max_concurrent(&self, n: Option<u32>) {
        self.slots
            .store(n.map(|n| Arc::new(Semaphore::new(n.max(1) as usize))));
        self.max_concurrent
            .store(n.map_or(0, |n| n.max(1)), Ordering::Release);
    }

    /// Binds the component's imports as `links` say. Invocations that start
    /// afterwards use the new targets; running ones keep theirs. Setting
    /// the very targets it has changes nothing (reused instances keep their
    /// contexts).
    pub fn set_links(&self, links: Links) {
        if self.links.load().same_as(&links) {
            return;
        }
        self.links.store(Arc::new(links));
        // After the store: a reader that sees the new generation sees the
        // new links (or newer ones).
        self.links_generation.fetch_add(1, Ordering::Release);
    }

    /// Binds `wasi:keyvalue` on the default link to `backend` (or unbinds
    /// it), and nothing else: [`Self::set_links`] for hosts without a lattice.
    pub fn set_keyvalue(&self, backend: Option<Arc<dyn KeyValue>>) {
        self.set_links(Links::keyvalue(backend));
    }

    /// Points a store's routing at the current links if they changed since
    /// the store last looked, and forgets the link names the guest picked:
    /// every invocation starts on the default link.
    pub(crate) fn refresh_links(&self, state: &mut State) {
        let current = self.links_generation.load(Ordering::Acquire);
        if state.routing.generation != current {
            state.routing = Routing::new(self.id.clone(), self.links.load_full(), current);
        } else {
            state.routing.reset();
        }
    }

    /// Invocations running now; a host drains them before it stops.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Its invocations so far, by kind (counts, errors, latencies).
    pub fn invocations(&self) -> &Invocations {
        &self.invocations
    }

    /// When an invocation starts, if invocations are counted at all.
    pub(crate) fn clock(&self) -> Option<std::time::Instant> {
        self.runtime.config().metrics.then(std::time::Instant::now)
    }

    /// Counts an invocation of `kind` that started at `started` (from
    /// [`Component::clock`]).
    pub(crate) fn count(
        &self,
        kind: crate::metrics::Kind,
        started: Option<std::time::Instant>,
        ok: bool,
    ) {
        if let Some(started) = started {
            self.invocations.of(kind).record(started, ok);
        }
    }

    /// Lets an invocation in: waits for the component's turn (while it owes
    /// time for failures) and for a slot (while it is at its concurrency
    /// limit), never past `deadline`, whatever holds the slot: a component
    /// that calls itself through another with one slot fails at its
    /// deadline instead of waiting for ever.
    pub(crate) async fn admit(&self, deadline: Instant) -> Result<Admitted<'_>, Refused> {
        if !self.fairness.admit(deadline).await || Instant::now() >= deadline {
            return Err(Refused::Late);
        }
        let active = self.active();
        // Without a limit (the common case) no shared reference count is
        // touched and no timer is set.
        let slots = self.slots.load().as_ref().map(Arc::clone);
        let permit = match slots {
            None => None,
            Some(slots) => {
                let acquire = slots.acquire_owned();
                match tokio::time::timeout_at(deadline.into(), acquire).await {
                    Ok(Ok(permit)) => Some(permit),
                    Ok(Err(_)) => return Err(Refused::Stopping),
                    Err(_) => return Err(Refused::Late),
                }
            }
        };
        Ok(Admitted {
            _active: active,
            permit,
        })
    }

    /// Marks an invocation as running until the guard is dropped.
    pub(crate) fn active(&self) -> Active<'_> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        RUNNING.fetch_add(1, Ordering::Relaxed);
        Active(&self.in_flight)
    }

    /// Whether the component exports `wasi:http/incoming-handler`.
    pub fn serves_http(&self) -> bool {
        self.proxy.is_some()
    }

    /// A new store for one instance, with this component's limits and bindings.
    pub(crate) fn new_store(&self) -> Store<State> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(usize::try_from(self.limits.max_memory).unwrap_or(usize::MAX))
            .trap_on_grow_failure(true)
            .build();
        let state = State {
            table: ResourceTable::new(),
            // The guest's output goes to the log under its id, within its
            // allowance: never straight to the host's own streams.
            wasi: WasiCtx::builder()
                .stdout(crate::stdio::GuestOutput::new(
                    self.log.clone(),
                    crate::stdio::Which::Stdout,
                ))
                .stderr(crate::stdio::GuestOutput::new(
                    self.log.clone(),
                    crate::stdio::Which::Stderr,
                ))
                .build(),
            http: WasiHttpCtx::new(),
            routing: Routing::new(
                self.id.clone(),
                self.links.load_full(),
                self.links_generation.load(Ordering::Acquire),
            ),
            config: config::Ctx::new(self.config.clone()),
            logging: logging::Ctx::new(self.log.clone()),
            limits,
            deadline: deadline_in(self.limits.timeout),
            ticks: 0,
            began: Instant::now(),
            fairness: self.fairness.clone(),
        };
        let mut store = Store::new(self.runtime.engine(), state);
        store.limiter(|s| &mut s.limits);
        // At every epoch tick: stop the guest if its invocation is past its
        // deadline, otherwise yield so a busy guest never starves the
        // executor thread it runs on. An invocation that keeps running past
        // a burst while other invocations run is throttled (it pauses for a
        // few ticks after each one), so a guest that spins, or is just slow,
        // leaves the cores to the short invocations of its neighbours; one
        // whose component owes time for failures pauses longer.
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            if Instant::now() >= state.deadline {
                return Ok(UpdateDeadline::Interrupt);
            }
            state.ticks = state.ticks.saturating_add(1);
            if state.ticks > crate::engine::BURST_TICKS && RUNNING.load(Ordering::Relaxed) > 1 {
                let ticks = if state.fairness.in_debt() {
                    crate::engine::PAUSE_TICKS_IN_DEBT
                } else {
                    crate::engine::PAUSE_TICKS
                };
                let pause = crate::engine::EPOCH_TICK * ticks;
                return Ok(UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::time::sleep(pause)),
                ));
            }
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        });
        store.set_epoch_deadline(1);
        store
    }
}
