//! The engine and the one place a `Store` is made: the instance pool sized for the parallelism,
//! fuel, the epoch deadline and the memory and table limiter. A breach the host detects while the
//! guest runs leaves the guest as a [`Breach`] trap; the [`EpochTicker`] makes wall time pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

use super::limits::{Limit, Limits};

/// Table elements one instance may have: generous for any real renderer, bounded for a hostile one.
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// How often the wall-clock ticker advances the engine's epoch.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Core instances, memories and tables one renderer component may contain (a std Rust component
/// has a handful; other toolchains add adapters).
const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 64;
const MAX_MEMORIES_PER_COMPONENT: u32 = 4;
const MAX_TABLES_PER_COMPONENT: u32 = 16;
/// What wasmtime lets a guest hand the host in one call (its result, or one import's arguments)
/// unless told otherwise; isomail never allows less, so an error message the host cuts to a
/// prefix (up to this size) is still read and reported with its length.
const HOSTCALL_FUEL_FLOOR: usize = 128 << 20;
/// Room above twice the output limit for what a result holds besides its strings.
const HOSTCALL_FUEL_SLACK: usize = 64 << 10;

/// The bytes a guest may hand the host in one call: more than any output within `output_bytes`
/// takes in either string encoding a component may use (UTF-16 takes at most twice the bytes of
/// UTF-8), so running out means the output was over the limit, before the host could measure it.
pub(super) fn hostcall_fuel(limits: &Limits) -> usize {
    limits
        .output_bytes
        .saturating_mul(2)
        .max(HOSTCALL_FUEL_FLOOR)
        .saturating_add(HOSTCALL_FUEL_SLACK)
}

/// Whether `err` is wasmtime refusing to copy more than [`hostcall_fuel`] bytes out of the
/// guest in one call. wasmtime's error type for it is private, so its text is what tells; the
/// test suite's oversized renderers pin it, so a wasmtime that rewords it fails them.
pub(super) fn copied_too_much(err: &wasmtime::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .to_string()
            .contains("fuel allocated for hostcalls has been exhausted")
    })
}

/// A breach detected by the host while the guest runs, carried out of the guest as a trap.
#[derive(Debug)]
pub(super) struct Breach(pub(super) Limit);

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exceeded {}", self.0)
    }
}

impl std::error::Error for Breach {}

/// Everything one message's `Store` holds. It is created for one message and dropped with it.
pub(super) struct MessageCtx {
    pub(super) limits: Limits,
}

impl wasmtime::ResourceLimiter for MessageCtx {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.memory_bytes {
            return Err(Breach(Limit::Memory).into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Err(Breach(Limit::Memory).into());
        }
        Ok(true)
    }
}

/// The one place a `Store` is made, for a message or for `prepare`: fresh context, limits, fuel
/// and deadline.
pub(super) fn new_store(engine: &Engine, limits: &Limits) -> Store<MessageCtx> {
    let mut store = Store::new(
        engine,
        MessageCtx {
            limits: limits.clone(),
        },
    );
    store.limiter(|ctx| ctx as &mut dyn wasmtime::ResourceLimiter);
    store.set_hostcall_fuel(hostcall_fuel(limits));
    if limits.fuel > 0 {
        // A store starts with zero fuel; set_fuel only fails when fuel is not enabled.
        let _ = store.set_fuel(limits.fuel);
    }
    store.set_epoch_deadline(
        limits
            .wall_ms
            .div_ceil(EPOCH_TICK.as_millis() as u64)
            .max(1),
    );
    store.epoch_deadline_trap();
    store
}

/// An engine whose pool holds `parallelism` instances at once, and one more for `prepare`.
pub(super) fn new_engine(limits: &Limits, parallelism: usize) -> wasmtime::Result<Engine> {
    let slots = u32::try_from(parallelism.max(1) + 1).unwrap_or(u32::MAX);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(slots)
        .total_core_instances(slots * MAX_CORE_INSTANCES_PER_COMPONENT)
        .total_memories(slots * MAX_MEMORIES_PER_COMPONENT)
        .total_tables(slots * MAX_TABLES_PER_COMPONENT)
        .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
        .max_tables_per_component(MAX_TABLES_PER_COMPONENT)
        .max_memory_size(limits.memory_bytes)
        .table_elements(MAX_TABLE_ELEMENTS)
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .consume_fuel(limits.fuel > 0)
        .epoch_interruption(true)
        .max_wasm_stack(limits.stack_bytes)
        .wasm_component_model(true);
    Engine::new(&config)
}

/// Advances the engine's epoch so wall-clock deadlines fire; stops when dropped.
pub(super) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    pub(super) fn start(engine: Engine) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("isomail-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
