//! The sandbox: every message is rendered by a fresh WebAssembly component instance.
//!
//! One [`Sandbox`] compiles the renderer once and links it once (`InstancePre`); each call to
//! [`Sandbox::render`] then builds a new `Store`, instantiates, makes exactly one `render` call and
//! drops both. No function here, public or not, lets a caller keep an instance for a second
//! message: that is the property the 2016 incident lacked. Each instance gets no capability (see
//! `wasi.rs`) and runs under the [`Limits`], whose breach fails only that message.
//!
//! The folder depends on nothing else in the crate. `bindings.rs` holds the contract versions,
//! `limits.rs` the limits, `store.rs` the engine and each message's store, `error.rs` what can
//! fail and whose fault it is, `wasi.rs` the inert imports, `snapshot.rs` and `cache.rs` what
//! makes loading fast, and `inert.rs` the escaping of renderer text quoted in a failure.

mod bindings;
mod cache;
mod error;
pub mod inert;
mod limits;
mod snapshot;
mod store;
mod wasi;

pub use bindings::{Content, Contract, Format, Recipient, RenderError, Templates};
/// Where the compile cache is (`None`: off), for what reports on it.
pub use cache::configured_dir as compile_cache_dir;
pub use error::{KEPT_ERROR_BYTES, RenderFailure, SandboxError};
pub use limits::{Limit, Limits, LimitsError};
pub use wasi::Denied;

use std::path::Path;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

use bindings::{Instance, Pre};
use snapshot::NotPrepared;
use store::{EpochTicker, MessageCtx, new_engine, new_store};

/// The largest renderer component isomail will read and compile. A component bundling a whole
/// language runtime (componentize-py's is about 40 MB) fits with room to spare; anything larger
/// is refused before Cranelift spends minutes and gigabytes on it.
pub const MAX_RENDERER_BYTES: u64 = 128 << 20;

/// The built-in renderer (`guest/`), a component that imports nothing, built by the build script.
pub const BUILTIN_RENDERER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/isomail_guest.wasm"));

/// A host-side error (wasmtime's, mostly) kept as the source of the sandbox's own.
type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How often [`Sandbox::instantiate_fresh`] tries when the kernel refuses to seal the memory
/// image.
const SEAL_ATTEMPTS: u32 = 4;

/// The optional export a renderer offers to be snapshotted with the campaign's templates.
const PREPARE: &str = "prepare";

/// Where a renderer comes from, for error messages and the compile cache.
pub enum Source<'a> {
    Builtin,
    File { path: &'a Path, bytes: &'a [u8] },
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
    /// for it. The error with its sources, joined by [`chain`], is one sentence fit to show the
    /// operator.
    pub fn load(
        source: Source<'_>,
        limits: Limits,
        parallelism: usize,
    ) -> Result<Sandbox, SandboxError> {
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
    ) -> Result<Sandbox, SandboxError> {
        Self::build(source, limits, parallelism, Some(templates))
    }

    fn build(
        source: Source<'_>,
        limits: Limits,
        parallelism: usize,
        templates: Option<&Templates>,
    ) -> Result<Sandbox, SandboxError> {
        limits.validate().map_err(SandboxError::Limits)?;
        let (name, bytes) = match source {
            Source::Builtin => ("the built-in renderer".to_owned(), BUILTIN_RENDERER),
            Source::File { path, bytes } => (path.display().to_string(), bytes),
        };
        check_is_component(&name, bytes)?;
        let engine =
            new_engine(&limits, parallelism).map_err(|e| SandboxError::Engine(e.into()))?;
        let component = compile(&engine, bytes, &name, &limits)?;
        let mut pre = link(&engine, &component, &name)?;
        let mut snapshot = None;
        let mut unprepared = None;
        if let Some(templates) = templates {
            if templates.format != Format::Plain && pre.contract() == Contract::V0_1 {
                let format = templates.format;
                return Err(SandboxError::Unsupported { name, format });
            }
            // `prepare` is part of the current contract only; a 0.1.0 renderer runs unprepared.
            if pre.contract() == Contract::V0_2
                && component.get_export_index(None, PREPARE).is_some()
            {
                match prepare(&engine, bytes, templates, &limits) {
                    Ok((snap, compiled)) => {
                        pre = link(&engine, &compiled, &name)?;
                        snapshot = Some(snap);
                    }
                    // `render` reports a refusal properly, naming the template file.
                    Err(NotPrepared::Refused(_)) => {}
                    Err(why) => unprepared = Some(why.to_string()),
                }
            }
        }
        let ticker = EpochTicker::start(engine.clone()).map_err(SandboxError::Clock)?;
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
            Err(e) => return (Err(RenderFailure::of_instantiation(e)), phases),
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
                let failure = RenderFailure::refused(refused, self.limits.output_bytes);
                return (Err(failure), phases);
            }
            Err(e) => {
                let failure = RenderFailure::of_render_call(e, &self.limits);
                return (Err(failure), phases);
            }
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
            let unsupported = SandboxError::Unsupported {
                name: self.name.clone(),
                format: templates.format,
            };
            return Err(RenderFailure::Unsupported(unsupported.to_string()));
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
    ) -> Result<Vec<u8>, NotPrepared> {
        let limits = Limits::default();
        let engine = new_engine(&limits, 1).map_err(|e| NotPrepared::Failed(e.to_string()))?;
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
                    .map_err(|e| NotPrepared::Failed(e.to_string()))?;
                render
                    .call(&mut *store, (templates, recipient))
                    .map_err(|e| NotPrepared::Failed(e.to_string()))?
                    .0
                    .map_err(NotPrepared::Refused)?;
                Ok(())
            },
        )
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
            Err(e) => return vec![Err(RenderFailure::of_instantiation(e))],
        };
        recipients
            .iter()
            .map(|r| {
                renderer
                    .render(&mut store, templates, r)
                    .map_err(|e| RenderFailure::of_render_call(e, &self.limits))?
                    .map_err(RenderFailure::Renderer)
            })
            .collect()
    }
}

/// Compiles `bytes` (through the cache), saying whether a refusal is the file's or the limit's.
fn compile(
    engine: &Engine,
    bytes: &[u8],
    name: &str,
    limits: &Limits,
) -> Result<Component, SandboxError> {
    cache::compile(engine, bytes).map_err(|e| {
        let why = format!("{e:#}");
        let name = name.to_owned();
        let source = e.into();
        if why.contains("memory") && why.contains("pooling allocator") {
            let memory_bytes = limits.memory_bytes;
            SandboxError::TooLargeToStart {
                name,
                memory_bytes,
                source,
            }
        } else {
            SandboxError::Invalid { name, source }
        }
    })
}

/// Runs `prepare` with the templates and compiles the snapshot it leaves.
fn prepare(
    engine: &Engine,
    bytes: &[u8],
    templates: &Templates,
    limits: &Limits,
) -> Result<(Vec<u8>, Component), NotPrepared> {
    let snap = snapshot::take(engine, bytes, templates, || new_store(engine, limits))?;
    match cache::compile(engine, &snap) {
        Ok(compiled) => Ok((snap, compiled)),
        Err(e) => Err(NotPrepared::Failed(format!(
            "the snapshot does not compile: {e:#}"
        ))),
    }
}

/// Links `component` with the inert WASI answers and checks it exports `render` of either
/// contract version, the current one first.
fn link(engine: &Engine, component: &Component, name: &str) -> Result<Pre, SandboxError> {
    let mut linker = Linker::new(engine);
    let name = || name.to_owned();
    wasi::link(&mut linker, engine, component).map_err(|source| SandboxError::Unlinkable {
        name: name(),
        source,
    })?;
    let instance_pre = linker
        .instantiate_pre(component)
        .map_err(|e| SandboxError::Unlinked {
            name: name(),
            source: e.into(),
        })?;
    Pre::new(instance_pre).map_err(|e| SandboxError::NoRenderer {
        name: name(),
        source: e.into(),
    })
}

/// Tells "not WebAssembly" and "a core module" apart from a component before wasmtime does.
fn check_is_component(name: &str, bytes: &[u8]) -> Result<(), SandboxError> {
    const MAGIC: &[u8] = b"\0asm";
    let name = name.to_owned();
    match bytes.get(..8) {
        Some(head) if head.starts_with(MAGIC) && head[4..8] == [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        Some(head) if head.starts_with(MAGIC) && head[4..8] == [0x01, 0x00, 0x00, 0x00] => {
            Err(SandboxError::CoreModule { name })
        }
        _ => Err(SandboxError::NotAComponent { name }),
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

/// Whether `e` is wasmtime's report that the kernel refused to seal a memory image's memfd.
fn memfd_seal_refused(e: &wasmtime::Error) -> bool {
    e.chain()
        .any(|cause| cause.to_string().contains("cannot add seals to the memfd"))
}

/// An error and every error below it ([`source`](std::error::Error::source)), joined by ": ":
/// the sentence an operator reads. Each error's own text leaves its source out, so nothing is
/// said twice. The crate's errors use it too (`crate::chain`); it lives here because the sandbox
/// may use nothing else in the crate.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
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
