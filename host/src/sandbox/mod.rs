//! The sandbox: every message is rendered by a fresh WebAssembly component instance.
//!
//! One [`Sandbox`] compiles the renderer once and links it once (`InstancePre`); each call to
//! [`Sandbox::render`] then builds a new `Store`, instantiates, makes exactly one `render` call and
//! drops both. No function here, public or not, lets a caller keep an instance for a second
//! message: that is the property the 2016 incident lacked. Each instance gets no capability (see
//! `wasi.rs`) and runs under the [`Limits`], whose breach fails only that message.

mod cache;
mod error;
/// Where the compile cache is (`None`: off), for what reports on it.
pub use cache::configured_dir as compile_cache_dir;
mod snapshot;
mod wasi;

pub use error::SandboxError;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::term::shown;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

pub use wasi::Denied;

/// The renderer contract, `isomail:renderer@0.2.0`: what the host speaks.
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "renderer",
        additional_derives: [PartialEq, Eq],
    });
}

/// The first published contract, `isomail:renderer@0.1.0` (no `templates.format`). Renderers
/// built against it keep working: they are given the same templates without the format, and
/// only campaigns whose format is `plain`, which is all 0.1.0 knew.
mod bindings_v010 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.0",
        world: "renderer",
    });
}

use bindings::RendererPre;
pub use bindings::isomail::renderer::types::{Content, Format, Recipient, RenderError, Templates};
use bindings_v010::isomail::renderer::types as v010;

/// The version of the renderer contract a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// `isomail:renderer@0.1.0`: plain templates only.
    V0_1,
    /// `isomail:renderer@0.2.0`: templates carry their [`Format`].
    V0_2,
}

impl std::fmt::Display for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Contract::V0_1 => "isomail:renderer@0.1.0",
            Contract::V0_2 => "isomail:renderer@0.2.0",
        })
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Plain => "plain",
            Format::Markdown => "Markdown",
            Format::Mjml => "MJML",
        })
    }
}

/// How often [`Sandbox::instantiate_fresh`] tries when the kernel refuses to seal the memory
/// image.
const SEAL_ATTEMPTS: u32 = 4;

/// Whether `e` is wasmtime's report that the kernel refused to seal a memory image's memfd.
fn memfd_seal_refused(e: &wasmtime::Error) -> bool {
    e.chain()
        .any(|cause| cause.to_string().contains("cannot add seals to the memfd"))
}

/// A linked renderer of either contract version, ready to instantiate.
enum Pre {
    Current(RendererPre<MessageCtx>),
    V010(bindings_v010::RendererPre<MessageCtx>),
}

/// One message's instance, of either contract version.
enum Instance {
    Current(bindings::Renderer),
    V010(bindings_v010::Renderer),
}

impl Pre {
    fn contract(&self) -> Contract {
        match self {
            Pre::Current(_) => Contract::V0_2,
            Pre::V010(_) => Contract::V0_1,
        }
    }

    fn instantiate(&self, store: &mut Store<MessageCtx>) -> wasmtime::Result<Instance> {
        Ok(match self {
            Pre::Current(pre) => Instance::Current(pre.instantiate(store)?),
            Pre::V010(pre) => Instance::V010(pre.instantiate(store)?),
        })
    }
}

impl Instance {
    /// One `render` call. A 0.1.0 renderer gets the templates without their format (the caller
    /// has made sure it is `plain`) and its answer is carried over field by field.
    fn render(
        &self,
        store: &mut Store<MessageCtx>,
        templates: &Templates,
        recipient: &Recipient,
    ) -> wasmtime::Result<Result<Content, RenderError>> {
        match self {
            Instance::Current(renderer) => renderer.call_render(store, templates, recipient),
            Instance::V010(renderer) => {
                let templates = v010::Templates {
                    subject: templates.subject.clone(),
                    text: templates.text.clone(),
                    html: templates.html.clone(),
                };
                let recipient = v010::Recipient {
                    email: recipient.email.clone(),
                    fields: recipient.fields.clone(),
                };
                Ok(match renderer.call_render(store, &templates, &recipient)? {
                    Ok(v010::Content {
                        subject,
                        text,
                        html,
                    }) => Ok(Content {
                        subject,
                        text,
                        html,
                    }),
                    Err(v010::RenderError::Syntax(m)) => Err(RenderError::Syntax(m)),
                    Err(v010::RenderError::Undefined(m)) => Err(RenderError::Undefined(m)),
                    Err(v010::RenderError::Other(m)) => Err(RenderError::Other(m)),
                })
            }
        }
    }
}

/// The largest renderer component isomail will read and compile. A component bundling a whole
/// language runtime (componentize-py's is about 40 MB) fits with room to spare; anything larger
/// is refused before Cranelift spends minutes and gigabytes on it.
pub const MAX_RENDERER_BYTES: u64 = 128 << 20;

/// The built-in renderer (`guest/`), a component that imports nothing, built by the build script.
pub const BUILTIN_RENDERER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/isomail_guest.wasm"));

/// Per-instance limits. Every field has a default that a `[sandbox]` section may override.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// WebAssembly instructions one message may execute (wasmtime fuel). By default
    /// [`Limits::DEFAULT_FUEL`]: about a second of work, thousands of times what a template needs.
    /// 0 turns instruction counting off (renders about a quarter faster); `wall_ms` then alone
    /// stops a renderer that runs away.
    pub fuel: u64,
    /// Wall-clock time one message may take, in milliseconds. By default [`Limits::DEFAULT_WALL_MS`].
    pub wall_ms: u64,
    /// Linear memory one instance may grow to, in bytes. By default [`Limits::DEFAULT_MEMORY_BYTES`].
    pub memory_bytes: usize,
    /// Size of one message's rendered subject, text and HTML together, in bytes. By default
    /// [`Limits::DEFAULT_OUTPUT_BYTES`].
    pub output_bytes: usize,
    /// WebAssembly stack one instance may use, in bytes. By default [`Limits::DEFAULT_STACK_BYTES`].
    pub stack_bytes: usize,
}

impl Limits {
    pub const DEFAULT_FUEL: u64 = 2_000_000_000;
    pub const DEFAULT_WALL_MS: u64 = 5_000;
    pub const DEFAULT_MEMORY_BYTES: usize = 64 << 20;
    pub const DEFAULT_OUTPUT_BYTES: usize = 1 << 20;
    pub const DEFAULT_STACK_BYTES: usize = 512 << 10;

    /// The most a campaign file may raise each limit to. A limit is there to stop a renderer
    /// that misbehaves, so a campaign cannot switch one off: `fuel = 0` leaves `wall_ms` in
    /// charge, and `wall_ms` itself is capped.
    pub const MAX_FUEL: u64 = 1_000_000_000_000;
    pub const MAX_WALL_MS: u64 = 60_000;
    pub const MAX_MEMORY_BYTES: usize = 4 << 30;
    pub const MAX_OUTPUT_BYTES: usize = 64 << 20;
    pub const MAX_STACK_BYTES: usize = 4 << 20;

    /// Checks the limits make sense; the message names the offending key.
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (self.wall_ms == 0, "wall_ms must be at least 1".to_owned()),
            (
                self.wall_ms > Self::MAX_WALL_MS,
                format!("wall_ms must be at most {} (one minute)", Self::MAX_WALL_MS),
            ),
            (
                self.fuel > Self::MAX_FUEL,
                format!("fuel must be at most {} (0 = not counted)", Self::MAX_FUEL),
            ),
            (
                self.memory_bytes < (1 << 20),
                "memory_bytes must be at least 1 MiB (1048576)".to_owned(),
            ),
            (
                self.memory_bytes > Self::MAX_MEMORY_BYTES,
                "memory_bytes must be at most 4 GiB".to_owned(),
            ),
            (
                self.output_bytes == 0,
                "output_bytes must be at least 1".to_owned(),
            ),
            (
                self.output_bytes > Self::MAX_OUTPUT_BYTES,
                format!(
                    "output_bytes must be at most 64 MiB ({})",
                    Self::MAX_OUTPUT_BYTES
                ),
            ),
            (
                self.stack_bytes < (64 << 10),
                "stack_bytes must be at least 64 KiB (65536)".to_owned(),
            ),
            (
                self.stack_bytes > Self::MAX_STACK_BYTES,
                "stack_bytes must be at most 4 MiB".to_owned(),
            ),
        ];
        match checks.into_iter().find(|(bad, _)| *bad) {
            Some((_, why)) => Err(why),
            None => Ok(()),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: Self::DEFAULT_FUEL,
            wall_ms: Self::DEFAULT_WALL_MS,
            memory_bytes: Self::DEFAULT_MEMORY_BYTES,
            output_bytes: Self::DEFAULT_OUTPUT_BYTES,
            stack_bytes: Self::DEFAULT_STACK_BYTES,
        }
    }
}

/// Where one message's render time went.
#[derive(Debug, Clone, Copy, Default)]
pub struct Phases {
    /// New `Store` and instance (memory image mapped, globals set).
    pub instantiate: Duration,
    /// The `render` call: arguments lowered, the guest's work, the result lifted.
    pub call: Duration,
    /// Dropping the store: the pool slot's memory reset for the next instance.
    pub drop: Duration,
}

/// Which limit a message broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Fuel,
    WallTime,
    Memory,
    Output,
    Stack,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Limit::Fuel => "CPU limit (sandbox.fuel)",
            Limit::WallTime => "time limit (sandbox.wall_ms)",
            Limit::Memory => "memory limit (sandbox.memory_bytes)",
            Limit::Output => "output size limit (sandbox.output_bytes)",
            Limit::Stack => "stack limit (sandbox.stack_bytes)",
        })
    }
}

/// Why one message did not render. Only that message is affected.
#[derive(Debug, Clone, PartialEq)]
pub enum RenderFailure {
    /// The renderer refused, e.g. a template error.
    Renderer(RenderError),
    /// The instance went over one of its [`Limits`].
    Limit(Limit),
    /// The renderer called a capability it was not given.
    Denied(Denied),
    /// The instance trapped (a panic in a Rust renderer ends up here).
    Trap(String),
    /// The renderer returned something the host will not put in a message.
    Invalid(String),
    /// The renderer's error message was larger than `output_bytes`: the limit covers what a
    /// renderer says when it refuses as much as what it renders. Only a prefix is kept.
    ErrorTooLong { bytes: usize, prefix: String },
    /// The renderer's contract cannot carry these templates (a 0.1.0 renderer, a Markdown or
    /// MJML campaign).
    Unsupported(String),
}

/// How much of a renderer's error message the host keeps: enough for any real template error,
/// little enough that a thousand failures cost no memory worth mentioning.
pub const KEPT_ERROR_BYTES: usize = 4096;

impl std::fmt::Display for RenderFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Every string here came from the renderer (messages, import and function names):
            // shown bounded and inert.
            RenderFailure::Renderer(RenderError::Syntax(m)) => {
                write!(f, "template syntax error: {}", shown(m))
            }
            RenderFailure::Renderer(RenderError::Undefined(m)) => {
                write!(f, "undefined value: {}", shown(m))
            }
            RenderFailure::Renderer(RenderError::Other(m)) => {
                write!(f, "renderer error: {}", shown(m))
            }
            RenderFailure::Limit(limit) => write!(f, "renderer exceeded its {limit}"),
            RenderFailure::Denied(denied) => denied.fmt(f),
            RenderFailure::Trap(m) => write!(f, "renderer crashed: {}", shown(m)),
            RenderFailure::Invalid(m) => write!(f, "renderer output refused: {}", shown(m)),
            RenderFailure::Unsupported(why) => f.write_str(why),
            RenderFailure::ErrorTooLong { bytes, prefix } => write!(
                f,
                "renderer exceeded its {} with an error message of {bytes} bytes: {}",
                Limit::Output,
                crate::term::prefix(prefix)
            ),
        }
    }
}

/// A breach detected by the host while the guest runs, carried out of the guest as a trap.
#[derive(Debug)]
struct Breach(Limit);

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exceeded {}", self.0)
    }
}

impl std::error::Error for Breach {}

/// Everything one message's `Store` holds. It is created for one message and dropped with it.
pub(crate) struct MessageCtx {
    limits: Limits,
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

/// Table elements one instance may have: generous for any real renderer, bounded for a hostile one.
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// How often the wall-clock ticker advances the engine's epoch.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Core instances, memories and tables one renderer component may contain (a std Rust component
/// has a handful; other toolchains add adapters).
const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 64;
const MAX_MEMORIES_PER_COMPONENT: u32 = 4;
const MAX_TABLES_PER_COMPONENT: u32 = 16;

/// Where a renderer comes from, for error messages and the compile cache.
pub enum Source<'a> {
    Builtin,
    File { path: &'a Path, bytes: &'a [u8] },
}

/// A compiled, linked renderer ready to render any number of messages, one instance each.
pub struct Sandbox {
    /// The renderer, as error messages name it.
    name: String,
    engine: Engine,
    pre: Pre,
    limits: Limits,
    /// The component every message instantiates, if it is a snapshot taken after `prepare`.
    snapshot: Option<Vec<u8>>,
    /// Why a renderer that exports `prepare` is running unprepared.
    unprepared: Option<String>,
    _ticker: EpochTicker,
}

impl Sandbox {
    /// Compiles (or loads from the on-disk cache) and links the renderer, as it is.
    ///
    /// `parallelism` bounds how many messages may render at once; the instance pool is sized
    /// for it. The error is one sentence fit to show the operator.
    pub fn load(source: Source<'_>, limits: Limits, parallelism: usize) -> Result<Sandbox, String> {
        Self::build(source, limits, parallelism, None)
    }

    /// Like [`Sandbox::load`], for one campaign's templates: if the renderer exports `prepare`
    /// (the built-in one does), it is run once with `templates` alone and every message's fresh
    /// instance starts from a snapshot of it (see `snapshot.rs`). Otherwise, or
    /// if `prepare` refuses the templates, this is `load`; `render` then reports the problem.
    pub fn load_for(
        source: Source<'_>,
        limits: Limits,
        parallelism: usize,
        templates: &Templates,
    ) -> Result<Sandbox, String> {
        Self::build(source, limits, parallelism, Some(templates))
    }

    fn build(
        source: Source<'_>,
        limits: Limits,
        parallelism: usize,
        templates: Option<&Templates>,
    ) -> Result<Sandbox, String> {
        limits
            .validate()
            .map_err(|why| format!("[sandbox] {why}"))?;
        let (name, bytes) = match source {
            Source::Builtin => ("the built-in renderer".to_owned(), BUILTIN_RENDERER),
            Source::File { path, bytes } => (path.display().to_string(), bytes),
        };
        check_is_component(&name, bytes)?;
        let engine = new_engine(&limits, parallelism)
            .map_err(|e| format!("cannot set up the sandbox: {e:#}"))?;
        let component = cache::compile(&engine, bytes).map_err(|e| {
            let why = format!("{e:#}");
            // The pool refuses a component whose memory starts larger than the limit (a whole
            // language runtime starts at megabytes): that is the limit's doing, not the file's.
            if why.contains("memory") && why.contains("pooling allocator") {
                format!(
                    "{name} needs more memory to start than the {} allows ({} bytes): {why}",
                    Limit::Memory,
                    limits.memory_bytes
                )
            } else {
                format!("{name} is not a valid component: {why}")
            }
        })?;
        let mut pre = link(&engine, &component, &name)?;
        if let Some(templates) = templates
            && templates.format != Format::Plain
            && pre.contract() == Contract::V0_1
        {
            return Err(unsupported_format(&name, templates.format));
        }
        let mut snapshot = None;
        let mut unprepared = None;
        // `prepare` is part of the current contract only; a 0.1.0 renderer runs unprepared.
        if let Some(templates) = templates
            && pre.contract() == Contract::V0_2
            && component.get_export_index(None, PREPARE).is_some()
        {
            let taken = snapshot::take(&engine, bytes, templates, || new_store(&engine, &limits))
                .and_then(|snap| match cache::compile(&engine, &snap) {
                    Ok(compiled) => Ok((snap, compiled)),
                    Err(e) => Err(snapshot::NotPrepared::Failed(format!(
                        "the snapshot does not compile: {e:#}"
                    ))),
                });
            match taken {
                Ok((snap, compiled)) => {
                    pre = link(&engine, &compiled, &name)?;
                    snapshot = Some(snap);
                }
                // `render` reports a refusal properly, naming the template file.
                Err(snapshot::NotPrepared::Refused(_)) => {}
                Err(why) => unprepared = Some(why.to_string()),
            }
        }
        let ticker = EpochTicker::start(engine.clone())
            .map_err(|e| format!("cannot start the sandbox's clock thread: {e}"))?;
        Ok(Sandbox {
            name,
            engine,
            pre,
            limits,
            snapshot,
            unprepared,
            _ticker: ticker,
        })
    }

    /// The version of the renderer contract this renderer implements.
    pub fn contract(&self) -> Contract {
        self.pre.contract()
    }

    /// The snapshot component every message instantiates, if the renderer was prepared.
    pub fn snapshot(&self) -> Option<&[u8]> {
        self.snapshot.as_deref()
    }

    /// Why a renderer that exports `prepare` could not be snapshotted (`None` if it was, if it
    /// has no `prepare`, or if `prepare` refused the templates, which `render` will report).
    pub fn unprepared_reason(&self) -> Option<&str> {
        self.unprepared.as_deref()
    }

    /// Renders one message in a new instance that is dropped before this returns.
    pub fn render(
        &self,
        templates: &Templates,
        recipient: &Recipient,
    ) -> Result<Content, RenderFailure> {
        self.render_timed(templates, recipient).0
    }

    /// A new store and a fresh instance in it. The kernel may refuse, now and then, to seal
    /// the memfd that holds the renderer's initial memory image (Linux `F_ADD_SEALS` gives
    /// `EBUSY` while pages are briefly pinned): that is the host's, not the renderer's, and
    /// passes; it is tried again, each time in a new store, at most [`SEAL_ATTEMPTS`] times.
    fn instantiate_fresh(&self) -> wasmtime::Result<(Store<MessageCtx>, Instance)> {
        let mut attempt = 1;
        loop {
            let mut store = self.new_store();
            match self.pre.instantiate(&mut store) {
                Ok(renderer) => return Ok((store, renderer)),
                Err(e) if attempt < SEAL_ATTEMPTS && memfd_seal_refused(&e) => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// [`Sandbox::render`], also saying where the time went (for the benchmark).
    pub fn render_timed(
        &self,
        templates: &Templates,
        recipient: &Recipient,
    ) -> (Result<Content, RenderFailure>, Phases) {
        let mut phases = Phases::default();
        if let Err(failure) = self.accepts(templates) {
            return (Err(failure), phases);
        }
        let started = Instant::now();
        let (mut store, renderer) = match self.instantiate_fresh() {
            Ok(instance) => instance,
            Err(e) => return (Err(classify(e)), phases),
        };
        let instantiated = Instant::now();
        phases.instantiate = instantiated - started;
        let called = renderer.render(&mut store, templates, recipient);
        let returned = Instant::now();
        phases.call = returned - instantiated;
        drop(store);
        phases.drop = returned.elapsed();
        let content = match called {
            Ok(Ok(content)) => content,
            Ok(Err(refused)) => {
                return (
                    Err(bounded_refusal(refused, self.limits.output_bytes)),
                    phases,
                );
            }
            Err(e) => return (Err(classify(e)), phases),
        };
        match check_output(&content, self.limits.output_bytes) {
            Ok(()) => (Ok(content), phases),
            Err(failure) => (Err(failure), phases),
        }
    }

    fn new_store(&self) -> Store<MessageCtx> {
        new_store(&self.engine, &self.limits)
    }

    /// Whether this renderer's contract can carry `templates` (a 0.1.0 renderer has no format).
    fn accepts(&self, templates: &Templates) -> Result<(), RenderFailure> {
        if templates.format != Format::Plain && self.pre.contract() == Contract::V0_1 {
            return Err(RenderFailure::Unsupported(unsupported_format(
                &self.name,
                templates.format,
            )));
        }
        Ok(())
    }

    /// Test-only: a snapshot of the built-in renderer taken after `prepare` AND a render for
    /// `recipient`, which isomail never does. The test that proves real snapshots hold no
    /// recipient data uses it to show its scan finds such data when it is there.
    #[cfg(feature = "isolation-control")]
    pub fn snapshot_after_rendering_for_control(
        templates: &Templates,
        recipient: &Recipient,
    ) -> Result<Vec<u8>, String> {
        let limits = Limits::default();
        let engine = new_engine(&limits, 1).map_err(|e| e.to_string())?;
        snapshot::take_with(
            &engine,
            BUILTIN_RENDERER,
            templates,
            || new_store(&engine, &limits),
            |store, instance| {
                let render = instance
                    .get_typed_func::<(&Templates, &Recipient), (Result<Content, RenderError>,)>(
                        &mut *store,
                        "render",
                    )
                    .map_err(|e| snapshot::NotPrepared::Failed(e.to_string()))?;
                render
                    .call(&mut *store, (templates, recipient))
                    .map_err(|e| snapshot::NotPrepared::Failed(e.to_string()))?
                    .0
                    .map_err(snapshot::NotPrepared::Refused)?;
                Ok(())
            },
        )
        .map_err(|why| why.to_string())
    }

    /// Test-only: renders every recipient in ONE instance, as the 2016 mailer effectively did.
    ///
    /// Exists only so the isolation tests can show that the hostile guests they use really do
    /// leak when an instance is reused; a build without the `isolation-control` feature has no
    /// such path.
    #[cfg(feature = "isolation-control")]
    pub fn render_all_in_one_instance_for_control(
        &self,
        templates: &Templates,
        recipients: &[Recipient],
    ) -> Vec<Result<Content, RenderFailure>> {
        if let Err(failure) = self.accepts(templates) {
            return vec![Err(failure)];
        }
        let mut store = self.new_store();
        let renderer = match self.pre.instantiate(&mut store) {
            Ok(r) => r,
            Err(e) => return vec![Err(classify(e))],
        };
        recipients
            .iter()
            .map(|r| {
                renderer
                    .render(&mut store, templates, r)
                    .map_err(classify)?
                    .map_err(RenderFailure::Renderer)
            })
            .collect()
    }
}

/// The optional export a renderer offers to be snapshotted with the campaign's templates.
const PREPARE: &str = "prepare";

/// Links `component` with the inert WASI answers and checks it exports `render` of either
/// contract version, the current one first.
fn link(
    engine: &Engine,
    component: &wasmtime::component::Component,
    name: &str,
) -> Result<Pre, String> {
    let mut linker = Linker::new(engine);
    wasi::link(&mut linker, engine, component)
        .map_err(|why| format!("{name} cannot be used as a renderer: {why}"))?;
    let instance_pre = linker
        .instantiate_pre(component)
        .map_err(|e| format!("{name} cannot be used as a renderer: {e:#}"))?;
    match RendererPre::new(instance_pre.clone()) {
        Ok(pre) => Ok(Pre::Current(pre)),
        Err(current) => match bindings_v010::RendererPre::new(instance_pre) {
            Ok(pre) => Ok(Pre::V010(pre)),
            Err(_) => Err(format!(
                "{name} does not export the isomail:renderer world (`render: func(templates, recipient) -> result<content, render-error>`, of {} or {}): {current:#}",
                Contract::V0_2,
                Contract::V0_1
            )),
        },
    }
}

/// Why a 0.1.0 renderer cannot render a campaign written in Markdown or MJML.
fn unsupported_format(name: &str, format: Format) -> String {
    format!(
        "{name} implements {}, whose templates carry no format: it cannot render {format} templates (build it against {}, or use the built-in renderer)",
        Contract::V0_1,
        Contract::V0_2
    )
}

/// The one place a `Store` is made, for a message or for `prepare`: fresh context, limits, fuel
/// and deadline.
fn new_store(engine: &Engine, limits: &Limits) -> Store<MessageCtx> {
    let mut store = Store::new(
        engine,
        MessageCtx {
            limits: limits.clone(),
        },
    );
    store.limiter(|ctx| ctx as &mut dyn wasmtime::ResourceLimiter);
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

fn new_engine(limits: &Limits, parallelism: usize) -> wasmtime::Result<Engine> {
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

/// Tells "not WebAssembly" and "a core module" apart from a component before wasmtime does.
fn check_is_component(name: &str, bytes: &[u8]) -> Result<(), String> {
    const MAGIC: &[u8] = b"\0asm";
    match bytes.get(..8) {
        Some(head) if head.starts_with(MAGIC) && head[4..8] == [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        Some(head) if head.starts_with(MAGIC) && head[4..8] == [0x01, 0x00, 0x00, 0x00] => {
            Err(format!(
                "{name} is a core WebAssembly module, not a component; build it for wasm32-wasip2 or wrap it with `wasm-tools component new`"
            ))
        }
        _ => Err(format!(
            "{name} is not a WebAssembly component (its first bytes are not `\\0asm`)"
        )),
    }
}

/// Host-side checks on what came out of the guest, before it can reach a message.
fn check_output(content: &Content, max_bytes: usize) -> Result<(), RenderFailure> {
    let size =
        content.subject.len() + content.text.len() + content.html.as_ref().map_or(0, String::len);
    if size > max_bytes {
        return Err(RenderFailure::Limit(Limit::Output));
    }
    if content.subject.contains(['\r', '\n']) {
        return Err(RenderFailure::Invalid(
            "the subject contains a line break".into(),
        ));
    }
    Ok(())
}

/// A renderer's refusal, its message cut to [`KEPT_ERROR_BYTES`]; over `max_bytes` it is a
/// breach of the output limit, like an oversized message.
fn bounded_refusal(refused: RenderError, max_bytes: usize) -> RenderFailure {
    let (RenderError::Syntax(m) | RenderError::Undefined(m) | RenderError::Other(m)) = &refused;
    let bytes = m.len();
    let prefix = || m[..m.floor_char_boundary(KEPT_ERROR_BYTES)].to_owned();
    if bytes > max_bytes {
        return RenderFailure::ErrorTooLong {
            bytes,
            prefix: prefix(),
        };
    }
    if bytes <= KEPT_ERROR_BYTES {
        return RenderFailure::Renderer(refused);
    }
    let kept = format!("{}… ({bytes} bytes in all)", prefix());
    RenderFailure::Renderer(match refused {
        RenderError::Syntax(_) => RenderError::Syntax(kept),
        RenderError::Undefined(_) => RenderError::Undefined(kept),
        RenderError::Other(_) => RenderError::Other(kept),
    })
}

/// Turns a wasmtime error from instantiation or the call into the failure it stands for.
fn classify(err: wasmtime::Error) -> RenderFailure {
    if let Some(Breach(limit)) = err.downcast_ref::<Breach>() {
        return RenderFailure::Limit(*limit);
    }
    if let Some(denied) = err.downcast_ref::<Denied>() {
        return RenderFailure::Denied(denied.clone());
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => RenderFailure::Limit(Limit::Fuel),
        Some(Trap::Interrupt) => RenderFailure::Limit(Limit::WallTime),
        Some(Trap::StackOverflow) => RenderFailure::Limit(Limit::Stack),
        Some(Trap::UnreachableCodeReached) => RenderFailure::Trap(
            "it reached `unreachable` (it panicked or aborted, or called a function its build stubbed out, as componentize-py and componentize-qjs do with `--stub-wasi`)".into(),
        ),
        Some(trap) => RenderFailure::Trap(trap.to_string()),
        None => RenderFailure::Trap(format!("{err:#}")),
    }
}

/// Advances the engine's epoch so wall-clock deadlines fire; stops when dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> std::io::Result<EpochTicker> {
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

#[cfg(test)]
mod tests {
    use super::memfd_seal_refused;

    #[test]
    fn only_the_kernels_seal_refusal_is_tried_again() {
        let sealed = wasmtime::Error::msg("cannot add seals to the memfd").context("instantiate");
        assert!(memfd_seal_refused(&sealed));
        // Control: a renderer's own failures are never tried again.
        for other in [
            "all fuel consumed",
            "wasm trap: unreachable",
            "memory limit",
        ] {
            assert!(!memfd_seal_refused(&wasmtime::Error::msg(other)), "{other}");
        }
    }
}
