//! The one wasmtime [`Engine`] of a host: pooling allocator, epoch ticker.

use crate::Error;
use crate::state::State;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch ticker advances the engine's epoch: how often a running
/// guest yields to the executor and has its deadline checked.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Ticks an invocation runs at full speed before it is throttled, while
/// other invocations run beside it (in the same process).
pub(crate) const BURST_TICKS: u32 = 5;

/// Ticks a throttled invocation pauses after each tick it runs: it gets at
/// most 1 / (1 + PAUSE_TICKS) of a core while others want it. Alone on the
/// host it is never throttled.
pub(crate) const PAUSE_TICKS: u32 = 3;

/// Ticks it pauses instead while its component owes time for failed
/// invocations (see `fairness`): a twelfth of a core.
pub(crate) const PAUSE_TICKS_IN_DEBT: u32 = 11;

/// Bytes of a freed instance's memory and tables kept resident and reset
/// in place, so the next instance in the slot neither faults them in again
/// nor makes the kernel flush every core's TLB.
const KEEP_RESIDENT: usize = 1 << 20;

/// Sizing of the engine: how many instances may be alive at once and how much
/// address space each may reserve.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Component instances alive at once across the host (the pool's size).
    pub max_instances: u32,
    /// Largest linear memory one instance may grow to, in bytes.
    pub max_memory_bytes: u64,
    /// Virtual address space reserved per linear memory, in bytes.
    pub memory_reservation: u64,
    /// Guard region after each linear memory, in bytes.
    pub memory_guard_size: u64,
    /// Largest wasm stack a call may use, in bytes; deeper recursion traps.
    pub max_wasm_stack: usize,
    /// Count and time invocations for the host's metrics (on by default;
    /// off only to measure what counting costs).
    pub metrics: bool,
    /// End every invocation at its deadline by the wall clock, whatever it
    /// waits on (on by default; off only to measure what that costs: then
    /// a guest is stopped at its deadline only while it runs wasm, and one
    /// that waits in a host call keeps its slot until the wait ends).
    pub wall_clock_deadlines: bool,
}

impl Default for RuntimeConfig {
    /// Defaults sized for many small guests: 1,000 concurrent instances,
    /// 64 MiB of memory each, 4 GiB reservations (no bounds checks needed)
    /// and 32 MiB guards, which fits easily in a 64-bit address space.
    fn default() -> Self {
        Self {
            max_instances: 1_000,
            max_memory_bytes: 64 << 20,
            memory_reservation: 4 << 30,
            memory_guard_size: 32 << 20,
            max_wasm_stack: 512 << 10,
            metrics: true,
            wall_clock_deadlines: true,
        }
    }
}

/// The engine shared by every component of a host, with its epoch ticker.
///
/// Dropping the last clone stops the ticker thread.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    config: RuntimeConfig,
    /// Everything the host provides, defined once; each component loads
    /// with a clone of it (building it takes a few hundred microseconds).
    linker: Arc<Linker<State>>,
    _ticker: Arc<Ticker>,
}

impl Runtime {
    /// Creates the engine with the pooling allocator sized by `config`.
    ///
    /// Fails with [`Error::Pool`] (never a silent fallback to on-demand
    /// allocation) when the pool's address space cannot be reserved.
    pub fn new(config: RuntimeConfig) -> Result<Self, Error> {
        let mut pool = PoolingAllocationConfig::default();
        let n = config.max_instances;
        // A Rust wasip2 component holds a handful of core instances, one or
        // two memories and a few tables; size the totals for that.
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(4))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(4))
            .total_stacks(n)
            .max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX))
            .max_memories_per_component(4)
            .max_core_instances_per_component(16)
            // Reset what a finished instance touched with memset, found by
            // PAGEMAP_SCAN (Linux 6.7+; off elsewhere), instead of madvise:
            // every madvise of a freed slot flushes the TLBs of all cores
            // (measured: a fifth of the CPU time of the pingpong bench).
            .pagemap_scan(wasmtime::Enabled::Auto)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT);

        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(config.max_wasm_stack)
            .memory_reservation(config.memory_reservation)
            .memory_guard_size(config.memory_guard_size)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(|source| Error::Pool {
            instances: n,
            reservation: config.memory_reservation,
            reason: format!("{source:#}"),
        })?;
        let linker = crate::state::linker(&engine).map_err(|e| Error::Link {
            component: String::new(),
            reason: format!("the host's own interfaces do not link: {e:#}"),
        })?;
        let ticker = Ticker::start(&engine);
        Ok(Self {
            engine,
            config,
            linker: Arc::new(linker),
            _ticker: Arc::new(ticker),
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A linker with everything the host provides, to add a component's
    /// own forwarders to.
    pub(crate) fn linker(&self) -> Linker<State> {
        (*self.linker).clone()
    }

    /// The sizing this runtime was created with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }
}

/// One thread per engine that advances the epoch every [`EPOCH_TICK`].
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("weft-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            });
        if let Err(e) = spawned {
            // Without a ticker deadlines never fire; say so loudly.
            tracing::error!("could not start the epoch ticker thread, deadlines are disabled: {e}");
        }
        Self { stop }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pool_holds_a_thousand_instances() -> Result<(), Error> {
        let rt = Runtime::new(RuntimeConfig::default())?;
        assert_eq!(rt.config().max_instances, 1_000);
        Ok(())
    }

    #[test]
    fn impossible_pool_is_a_clear_error() {
        let config = RuntimeConfig {
            max_instances: u32::MAX / 8,
            memory_reservation: 1 << 40,
            ..RuntimeConfig::default()
        };
        assert!(matches!(Runtime::new(config), Err(Error::Pool { .. })));
    }
}
