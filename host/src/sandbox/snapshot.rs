//! Campaign snapshots: a renderer that exports `prepare` is run once with the campaign's
//! templates, before any recipient exists, and its memory and globals are written into a new
//! component (wasmtime-wizer). Every message still gets a fresh instance, but of the snapshot,
//! so the templates it parsed are already in place.
//!
//! What goes into the snapshot is exactly what `prepare` left behind: the instance that ran it
//! was given the templates and nothing else, under the same capability-free linker and limits as
//! a message, and is dropped before the first recipient is read.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use wasmtime::Store;
use wasmtime::component::{ComponentType, Instance, Lift, Linker};
use wasmtime_wizer::{ComponentInstanceState, Wizer};

use super::bindings::{RenderError, Templates};
use super::error::RenderFailure;
use super::store::MessageCtx;
use super::{cache, chain, wasi};

/// Why no snapshot was made. The renderer still works, unprepared. Its text is the note the
/// operator reads, so the causes are already part of it.
#[derive(Debug)]
pub enum NotPrepared {
    /// `prepare` refused the templates; the probe render will report the same error properly.
    Refused(RenderError),
    /// Anything else: the component cannot be snapshotted, or `prepare` broke a limit.
    Failed(String),
}

impl std::fmt::Display for NotPrepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotPrepared::Refused(err) => write!(f, "`prepare` refused the templates: {err:?}"),
            NotPrepared::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for NotPrepared {}

/// Runs `prepare(templates)` in an instrumented instance and returns the snapshot component.
pub(super) fn take(
    engine: &wasmtime::Engine,
    bytes: &[u8],
    templates: &Templates,
    new_store: impl FnOnce() -> Store<MessageCtx>,
) -> Result<Vec<u8>, NotPrepared> {
    take_with(engine, bytes, templates, new_store, |_, _| Ok(()))
}

/// [`take`], with `before_snapshot` run on the prepared instance just before its state is read.
/// Only the isolation tests' control passes anything but a no-op.
pub(super) fn take_with(
    engine: &wasmtime::Engine,
    bytes: &[u8],
    templates: &Templates,
    new_store: impl FnOnce() -> Store<MessageCtx>,
    before_snapshot: impl FnOnce(&mut Store<MessageCtx>, &Instance) -> Result<(), NotPrepared>,
) -> Result<Vec<u8>, NotPrepared> {
    let failed = |what: &str, e: wasmtime::Error| NotPrepared::Failed(format!("{what}: {e:#}"));
    let mut wizer = Wizer::new();
    // Wizer never calls the init function here (this module does). It stays exported: removing
    // it means rewriting the component's exports, which has a known validation bug, and the host
    // never calls `prepare` on a snapshot anyway.
    wizer.init_func("prepare").keep_init_func(true);
    let (context, instrumented) = wizer
        .instrument_component(bytes)
        .map_err(|e| failed("cannot instrument the renderer", e))?;
    let component = cache::compile(engine, &instrumented)
        .map_err(|e| failed("cannot compile the instrumented renderer", e))?;
    let mut linker = Linker::new(engine);
    wasi::link(&mut linker, engine, &component).map_err(|why| NotPrepared::Failed(chain(&why)))?;

    let mut store = new_store();
    let instance = linker.instantiate(&mut store, &component).map_err(|e| {
        NotPrepared::Failed(format!(
            "cannot instantiate: {}",
            RenderFailure::of_instantiation(e)
        ))
    })?;
    let prepare = instance
        .get_typed_func::<(&Templates,), (Result<(), RenderError>,)>(&mut store, "prepare")
        .map_err(|e| failed("`prepare` has the wrong type", e))?;
    match prepare.call(&mut store, (templates,)) {
        Ok((Ok(()),)) => {}
        Ok((Err(refused),)) => return Err(NotPrepared::Refused(refused)),
        Err(e) => {
            return Err(NotPrepared::Failed(format!(
                "`prepare` failed: {}",
                RenderFailure::of_call(e)
            )));
        }
    }

    before_snapshot(&mut store, &instance)?;
    let mut state = Access {
        store: &mut store,
        instance,
        error: None,
    };
    let snapshot = poll_once(wizer.snapshot_component(&context, &mut state))
        .ok_or_else(|| NotPrepared::Failed("the snapshot did not complete".into()))?;
    if let Some(error) = state.error {
        return Err(NotPrepared::Failed(error));
    }
    snapshot.map_err(|e| failed("cannot write the snapshot", e))
}

/// Polls a future that never waits (every call below is synchronous) to its end.
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// Wizer reads the prepared instance's memories and globals through functions its
/// instrumentation exported; this calls them synchronously on our store.
struct Access<'a> {
    store: &'a mut Store<MessageCtx>,
    instance: Instance,
    /// The first failure; wizer's interface has no way to return one, so it is kept here and
    /// the snapshot discarded.
    error: Option<String>,
}

impl Access<'_> {
    fn call<R: ComponentType + Lift + Default + Send + Sync + 'static>(
        &mut self,
        instance: &str,
        func: &str,
    ) -> R {
        match self.try_call(instance, func) {
            Ok(value) => value,
            Err(e) => {
                self.error
                    .get_or_insert_with(|| format!("cannot read `{instance}#{func}`: {e:#}"));
                R::default()
            }
        }
    }

    fn try_call<R: ComponentType + Lift + Send + Sync + 'static>(
        &mut self,
        instance: &str,
        func: &str,
    ) -> wasmtime::Result<R> {
        let (_, parent) = self
            .instance
            .get_export(&mut *self.store, None, instance)
            .ok_or_else(|| wasmtime::format_err!("no such export"))?;
        let (_, index) = self
            .instance
            .get_export(&mut *self.store, Some(&parent), func)
            .ok_or_else(|| wasmtime::format_err!("no such export"))?;
        let func = self
            .instance
            .get_typed_func::<(), (R,)>(&mut *self.store, index)?;
        Ok(func.call(&mut *self.store, ())?.0)
    }
}

impl ComponentInstanceState for Access<'_> {
    fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) -> impl Future<Output = ()> + Send {
        let bytes: Vec<u8> = self.call(instance, func);
        contents(&bytes);
        std::future::ready(())
    }

    fn call_func_ret_s32(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl Future<Output = i32> + Send {
        std::future::ready(self.call(instance, func))
    }

    fn call_func_ret_s64(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl Future<Output = i64> + Send {
        std::future::ready(self.call(instance, func))
    }

    fn call_func_ret_f32(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl Future<Output = u32> + Send {
        std::future::ready(self.call::<f32>(instance, func).to_bits())
    }

    fn call_func_ret_f64(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl Future<Output = u64> + Send {
        std::future::ready(self.call::<f64>(instance, func).to_bits())
    }
}
