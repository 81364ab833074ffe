//! The capability-free answer to every WASI import a renderer may carry, and [`Denied`], what a
//! call to anything else becomes. A std Rust component imports environment, stdio, streams and a
//! random seed even when it never uses them; each is answered the same way for every message (no
//! environment or arguments, stdin at end-of-file, stdout and stderr swallowed, clocks frozen at
//! the epoch, "random" bytes all zero, no preopened directory). Any other `wasi:*` function fails
//! the message with [`Denied`], and imports outside `wasi:` are refused before anything runs.

use wasmtime::component::{
    ComponentType, Lift, Linker, LinkerInstance, Lower, Resource, ResourceType,
    types::ComponentItem,
};
use wasmtime::{Engine, Result};

use super::Cause;
use super::inert::shown;
use super::store::MessageCtx;

/// The error a renderer's call to a capability it was not given turns into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// `interface#function`, e.g. `wasi:sockets/tcp-create-socket@0.2.6#create-tcp-socket`.
    pub import: String,
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the renderer called `{}`, a capability isomail does not grant",
            shown(&self.import)
        )
    }
}

impl std::error::Error for Denied {}

/// Why a component cannot be linked: an import isomail does not provide, or the linker refusing
/// a definition (the text is wasmtime's).
#[derive(Debug, thiserror::Error)]
pub enum Unlinkable {
    #[error("it imports `{0}` directly; a renderer may import only WASI interfaces")]
    Direct(String),
    #[error("it imports `{0}`, which isomail does not provide (renderers get no capability)")]
    NotProvided(String),
    #[error(transparent)]
    Linker(Cause),
    /// Defining the named import (`interface` or `interface#function`) failed.
    #[error("linking `{0}`")]
    Linking(String, #[source] Cause),
}

/// Host resource types. They carry no state: every handle is inert, so its `rep` is meaningless.
struct InputStream;
struct OutputStream;
struct Pollable;
struct IoError;
struct TerminalInput;
struct TerminalOutput;
struct Descriptor;
/// Any other `wasi:*` resource: no function we define returns one.
struct Unobtainable;

#[derive(ComponentType, Lift, Lower)]
#[component(variant)]
enum StreamError {
    #[component(name = "last-operation-failed")]
    #[allow(dead_code)] // the shape WASI declares; isomail never fails an operation this way
    LastOperationFailed(Resource<IoError>),
    #[component(name = "closed")]
    Closed,
}

#[derive(ComponentType, Lift, Lower, Clone, Copy)]
#[component(record)]
struct Datetime {
    seconds: u64,
    nanoseconds: u32,
}

/// What the frozen clocks say: 1970-01-01T00:00:00Z, and a monotonic clock that never advances.
const FROZEN: Datetime = Datetime {
    seconds: 0,
    nanoseconds: 0,
};
/// Reported clock resolution: one second, so nothing suggests a finer clock exists.
const RESOLUTION: Datetime = Datetime {
    seconds: 1,
    nanoseconds: 0,
};

/// Links every import of `component` into `linker`, or says which import isomail cannot provide.
pub(super) fn link(
    linker: &mut Linker<MessageCtx>,
    engine: &Engine,
    component: &wasmtime::component::Component,
) -> std::result::Result<(), Unlinkable> {
    linker.allow_shadowing(true);
    let ty = component.component_type();
    for (name, item) in ty.imports(engine) {
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            return Err(Unlinkable::Direct(name.to_owned()));
        };
        let Some(interface) = name.strip_prefix("wasi:") else {
            // An interface of types alone (like `isomail:renderer/types`) grants nothing.
            let types_only = instance
                .exports(engine)
                .all(|(_, item)| matches!(item.ty, ComponentItem::Type(_)));
            if types_only {
                linker
                    .instance(name)
                    .map_err(|e| Unlinkable::Linker(e.into()))?;
                continue;
            }
            return Err(Unlinkable::NotProvided(name.to_owned()));
        };
        let interface = interface.split('@').next().unwrap_or(interface);
        let mut inst = linker
            .instance(name)
            .map_err(|e| Unlinkable::Linker(e.into()))?;
        // First everything the interface declares: types stay opaque, calls are denied. Then the
        // inert answers below shadow the few that a capability-free renderer may reach.
        for (export, item) in instance.exports(engine) {
            let defined = match item.ty {
                ComponentItem::Resource(_) => inst
                    .resource(export, resource_type(export), |_, _| Ok(()))
                    .map(|_| ()),
                ComponentItem::ComponentFunc(_) => {
                    let import = format!("{name}#{export}");
                    inst.func_new(export, move |_, _, _, _| {
                        Err(Denied {
                            import: import.clone(),
                        }
                        .into())
                    })
                }
                _ => Ok(()),
            };
            defined.map_err(|e| Unlinkable::Linking(format!("{name}#{export}"), e.into()))?;
        }
        define_inert(&mut inst, interface)
            .map_err(|e| Unlinkable::Linking(name.to_owned(), e.into()))?;
    }
    Ok(())
}

/// The host type standing for a WASI resource. WASI interfaces re-export each other's resources
/// (`wasi:io/streams` uses `wasi:io/error`'s `error`), so the type is chosen by name, the same
/// everywhere. Resources no inert function hands out share one type: no handle to them exists.
fn resource_type(name: &str) -> ResourceType {
    match name {
        "input-stream" => ResourceType::host::<InputStream>(),
        "output-stream" => ResourceType::host::<OutputStream>(),
        "pollable" => ResourceType::host::<Pollable>(),
        "error" => ResourceType::host::<IoError>(),
        "terminal-input" => ResourceType::host::<TerminalInput>(),
        "terminal-output" => ResourceType::host::<TerminalOutput>(),
        "descriptor" => ResourceType::host::<Descriptor>(),
        _ => ResourceType::host::<Unobtainable>(),
    }
}

/// Defines the functions of one WASI interface that a capability-free renderer may reach
/// (`interface` without its version, e.g. `cli/stdin`).
fn define_inert(inst: &mut LinkerInstance<'_, MessageCtx>, interface: &str) -> Result<()> {
    match interface.split_once('/') {
        Some(("cli", name)) => define_cli(inst, name),
        Some(("io", "streams")) => define_streams(inst),
        Some(("io", name)) => define_io(inst, name),
        Some(("random", name)) => define_random(inst, name),
        Some(("clocks", name)) => define_clocks(inst, name),
        Some(("filesystem", "preopens")) => {
            inst.func_wrap("get-directories", |_, (): ()| {
                Ok((Vec::<(Resource<Descriptor>, String)>::new(),))
            })?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// No environment, no arguments, no working directory; stdio handles that lead nowhere and no
/// terminal.
fn define_cli(inst: &mut LinkerInstance<'_, MessageCtx>, interface: &str) -> Result<()> {
    match interface {
        "environment" => {
            inst.func_wrap("get-environment", |_, (): ()| {
                Ok((Vec::<(String, String)>::new(),))
            })?;
            inst.func_wrap("get-arguments", |_, (): ()| Ok((Vec::<String>::new(),)))?;
            inst.func_wrap("initial-cwd", |_, (): ()| Ok((None::<String>,)))?;
        }
        "stdin" => {
            inst.func_wrap("get-stdin", |_, (): ()| {
                Ok((Resource::<InputStream>::new_own(0),))
            })?;
        }
        "stdout" => {
            inst.func_wrap("get-stdout", |_, (): ()| {
                Ok((Resource::<OutputStream>::new_own(1),))
            })?;
        }
        "stderr" => {
            inst.func_wrap("get-stderr", |_, (): ()| {
                Ok((Resource::<OutputStream>::new_own(2),))
            })?;
        }
        "terminal-stdin" => {
            inst.func_wrap("get-terminal-stdin", |_, (): ()| {
                Ok((None::<Resource<TerminalInput>>,))
            })?;
        }
        "terminal-stdout" => {
            inst.func_wrap("get-terminal-stdout", |_, (): ()| {
                Ok((None::<Resource<TerminalOutput>>,))
            })?;
        }
        "terminal-stderr" => {
            inst.func_wrap("get-terminal-stderr", |_, (): ()| {
                Ok((None::<Resource<TerminalOutput>>,))
            })?;
        }
        _ => {}
    }
    Ok(())
}

/// An error with nothing to say, and pollables that are always ready.
fn define_io(inst: &mut LinkerInstance<'_, MessageCtx>, interface: &str) -> Result<()> {
    match interface {
        "error" => {
            inst.func_wrap(
                "[method]error.to-debug-string",
                |_, (_e,): (Resource<IoError>,)| Ok((String::from("error"),)),
            )?;
        }
        "poll" => {
            // Every pollable is ready at once: nothing a renderer can wait for exists.
            inst.func_wrap(
                "[method]pollable.ready",
                |_, (_p,): (Resource<Pollable>,)| Ok((true,)),
            )?;
            inst.func_wrap(
                "[method]pollable.block",
                |_, (_p,): (Resource<Pollable>,)| Ok(()),
            )?;
            inst.func_wrap("poll", |_, (ps,): (Vec<Resource<Pollable>>,)| {
                Ok(((0..ps.len() as u32).collect::<Vec<u32>>(),))
            })?;
        }
        _ => {}
    }
    Ok(())
}

/// "Random" bytes all zero.
fn define_random(inst: &mut LinkerInstance<'_, MessageCtx>, interface: &str) -> Result<()> {
    match interface {
        "insecure-seed" => {
            inst.func_wrap("insecure-seed", |_, (): ()| Ok(((0u64, 0u64),)))?;
        }
        "random" => {
            inst.func_wrap("get-random-bytes", |mut store, (len,): (u64,)| {
                Ok((zeroes(store.data_mut(), len)?,))
            })?;
            inst.func_wrap("get-random-u64", |_, (): ()| Ok((0u64,)))?;
        }
        "insecure" => {
            inst.func_wrap("get-insecure-random-bytes", |mut store, (len,): (u64,)| {
                Ok((zeroes(store.data_mut(), len)?,))
            })?;
            inst.func_wrap("get-insecure-random-u64", |_, (): ()| Ok((0u64,)))?;
        }
        _ => {}
    }
    Ok(())
}

/// Clocks frozen at the epoch.
fn define_clocks(inst: &mut LinkerInstance<'_, MessageCtx>, interface: &str) -> Result<()> {
    match interface {
        "wall-clock" => {
            inst.func_wrap("now", |_, (): ()| Ok((FROZEN,)))?;
            inst.func_wrap("resolution", |_, (): ()| Ok((RESOLUTION,)))?;
        }
        "monotonic-clock" => {
            inst.func_wrap("now", |_, (): ()| Ok((0u64,)))?;
            inst.func_wrap("resolution", |_, (): ()| Ok((1_000_000_000u64,)))?;
            inst.func_wrap("subscribe-instant", |_, (_t,): (u64,)| {
                Ok((Resource::<Pollable>::new_own(0),))
            })?;
            inst.func_wrap("subscribe-duration", |_, (_d,): (u64,)| {
                Ok((Resource::<Pollable>::new_own(0),))
            })?;
        }
        _ => {}
    }
    Ok(())
}

/// stdin is at end-of-file; whatever is written to stdout or stderr is dropped.
fn define_streams(inst: &mut LinkerInstance<'_, MessageCtx>) -> Result<()> {
    type In = Resource<InputStream>;
    type Out = Resource<OutputStream>;
    for name in [
        "[method]input-stream.read",
        "[method]input-stream.blocking-read",
    ] {
        inst.func_wrap(name, |_, (_s, _len): (In, u64)| {
            Ok((Err::<Vec<u8>, _>(StreamError::Closed),))
        })?;
    }
    for name in [
        "[method]input-stream.skip",
        "[method]input-stream.blocking-skip",
    ] {
        inst.func_wrap(name, |_, (_s, _len): (In, u64)| {
            Ok((Err::<u64, _>(StreamError::Closed),))
        })?;
    }
    inst.func_wrap("[method]input-stream.subscribe", |_, (_s,): (In,)| {
        Ok((Resource::<Pollable>::new_own(0),))
    })?;
    inst.func_wrap("[method]output-stream.check-write", |_, (_s,): (Out,)| {
        Ok((Ok::<u64, StreamError>(DISCARD_CHUNK),))
    })?;
    for name in [
        "[method]output-stream.write",
        "[method]output-stream.blocking-write-and-flush",
    ] {
        inst.func_wrap(name, |_, (_s, _bytes): (Out, Vec<u8>)| {
            Ok((Ok::<(), StreamError>(()),))
        })?;
    }
    for name in [
        "[method]output-stream.flush",
        "[method]output-stream.blocking-flush",
    ] {
        inst.func_wrap(name, |_, (_s,): (Out,)| Ok((Ok::<(), StreamError>(()),)))?;
    }
    for name in [
        "[method]output-stream.write-zeroes",
        "[method]output-stream.blocking-write-zeroes-and-flush",
    ] {
        inst.func_wrap(name, |_, (_s, _len): (Out, u64)| {
            Ok((Ok::<(), StreamError>(()),))
        })?;
    }
    for name in [
        "[method]output-stream.splice",
        "[method]output-stream.blocking-splice",
    ] {
        inst.func_wrap(name, |_, (_s, _src, _len): (Out, In, u64)| {
            Ok((Err::<u64, _>(StreamError::Closed),))
        })?;
    }
    inst.func_wrap("[method]output-stream.subscribe", |_, (_s,): (Out,)| {
        Ok((Resource::<Pollable>::new_own(0),))
    })?;
    Ok(())
}

/// How many bytes a discarded stream says it will take at once.
const DISCARD_CHUNK: u64 = 64 * 1024;

/// Zero bytes for a "random" request, bounded by the message's memory limit so a guest cannot
/// make the host allocate more than it could hold itself.
fn zeroes(ctx: &mut MessageCtx, len: u64) -> Result<Vec<u8>> {
    if len > ctx.limits.memory_bytes as u64 {
        return Err(Denied {
            import: format!("wasi:random (a request for {len} bytes)"),
        }
        .into());
    }
    Ok(vec![0; len as usize])
}
