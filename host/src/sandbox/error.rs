//! What the sandbox can fail with, saying whose failure it is: [`SandboxError`] when a renderer
//! cannot be loaded at all, [`RenderFailure`] when one message did not render. The renderer's
//! faults name the renderer; the host's (wasmtime, the kernel, a thread) name the host and keep
//! wasmtime's or the system's error as their [`source`](std::error::Error::source).

use wasmtime::Trap;

use super::Cause;
use super::bindings::{Contract, Format, RenderError};
use super::inert::{prefix, shown};
use super::limits::{Limit, Limits, LimitsError};
use super::store::{Breach, copied_too_much, hostcall_fuel};
use super::wasi::{Denied, Unlinkable};

/// Why a renderer could not be loaded (the crate's `Error` gives the exit codes). `name` is the
/// renderer as error messages name it: its path, or "the built-in renderer".
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The section and the key's complaint read as one phrase, so the complaint is part of this
    /// text rather than a source after ": ".
    #[error("[sandbox] {0}")]
    Limits(LimitsError),
    #[error(
        "{name} is a core WebAssembly module, not a component; build it for wasm32-wasip2 or wrap \
         it with `wasm-tools component new`"
    )]
    CoreModule { name: String },
    #[error("{name} is not a WebAssembly component (its first bytes are not `\\0asm`)")]
    NotAComponent { name: String },
    /// The host could not make its engine and instance pool.
    #[error("cannot set up the sandbox")]
    Engine(#[source] Cause),
    /// The pool refuses a component whose memory starts larger than the limit (a whole language
    /// runtime starts at megabytes): that is the limit's doing, not the file's.
    #[error(
        "{name} needs more memory to start than the {} allows ({memory_bytes} bytes)",
        Limit::Memory
    )]
    TooLargeToStart {
        name: String,
        memory_bytes: usize,
        source: Cause,
    },
    #[error("{name} is not a valid component")]
    Invalid { name: String, source: Cause },
    #[error("{name} cannot be used as a renderer")]
    Unlinkable { name: String, source: Unlinkable },
    /// Its imports, though each one is provided, do not link as a whole.
    #[error("{name} cannot be used as a renderer")]
    Unlinked { name: String, source: Cause },
    #[error(
        "{name} does not export the isomail:renderer world (`render: func(templates, recipient) \
         -> result<content, render-error>`, of {} or {})",
        Contract::V0_2,
        Contract::V0_1
    )]
    NoRenderer { name: String, source: Cause },
    /// A 0.1.0 renderer, a Markdown or MJML campaign.
    #[error(
        "{name} implements {}, whose templates carry no format: it cannot render {format} \
         templates (build it against {}, or use the built-in renderer)",
        Contract::V0_1,
        Contract::V0_2
    )]
    Unsupported { name: String, format: Format },
    /// The host could not start the thread that makes wall time pass.
    #[error("cannot start the sandbox's clock thread")]
    Clock(#[source] std::io::Error),
}

/// Why one message did not render. Only that message is affected.
#[derive(Debug, Clone, PartialEq)]
pub enum RenderFailure {
    /// The renderer refused, e.g. a template error.
    Renderer(RenderError),
    /// The instance went over one of its [`Limits`](super::Limits).
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
    /// The renderer handed the host more than `copied_over` bytes in one go (its result, or
    /// one import's arguments), which wasmtime stops copying before the host can measure it:
    /// only an output far over `output_bytes` gets there.
    OutputTooLarge {
        output_bytes: usize,
        copied_over: usize,
    },
    /// The renderer's contract cannot carry these templates (a 0.1.0 renderer, a Markdown or
    /// MJML campaign).
    Unsupported(String),
    /// The host, not the renderer, failed to make the message's instance (the pool, the
    /// kernel refusing to seal the memory image more often than is retried): wasmtime's error.
    Host(String),
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
            RenderFailure::ErrorTooLong {
                bytes,
                prefix: kept,
            } => write!(
                f,
                "renderer exceeded its {} with an error message of {bytes} bytes: {}",
                Limit::Output,
                prefix(kept)
            ),
            RenderFailure::OutputTooLarge {
                output_bytes,
                copied_over,
            } => write!(
                f,
                "renderer exceeded its {} of {output_bytes} bytes: it handed the host more than \
                 {copied_over} bytes at once, which the host refuses without reading",
                Limit::Output
            ),
            // wasmtime's text may quote the component's own names.
            RenderFailure::Host(m) => write!(
                f,
                "the host could not make the renderer's instance (not the renderer's doing): {}",
                shown(m)
            ),
        }
    }
}

impl RenderFailure {
    /// What a wasmtime error from the `render` call (or `prepare`) stands for. Anything that is
    /// not a limit or a denied call is the renderer's crash: the call runs only its code.
    pub(super) fn of_call(err: wasmtime::Error) -> RenderFailure {
        Self::of_renderer(&err).unwrap_or_else(|| RenderFailure::Trap(format!("{err:#}")))
    }

    /// What a wasmtime error from a message's `render` call stands for: as [`Self::of_call`],
    /// and an output too large to be copied out names the output limit with its value.
    pub(super) fn of_render_call(err: wasmtime::Error, limits: &Limits) -> RenderFailure {
        if copied_too_much(&err) {
            return RenderFailure::OutputTooLarge {
                output_bytes: limits.output_bytes,
                copied_over: hostcall_fuel(limits),
            };
        }
        Self::of_call(err)
    }

    /// What a wasmtime error from making an instance stands for: a limit, a trap or a denied
    /// call in the renderer's start-up code is the renderer's; anything else the host's.
    pub(super) fn of_instantiation(err: wasmtime::Error) -> RenderFailure {
        Self::of_renderer(&err).unwrap_or_else(|| RenderFailure::Host(format!("{err:#}")))
    }

    /// The renderer's part of a wasmtime error: a breach, a denied call or a trap.
    fn of_renderer(err: &wasmtime::Error) -> Option<RenderFailure> {
        if let Some(Breach(limit)) = err.downcast_ref::<Breach>() {
            return Some(RenderFailure::Limit(*limit));
        }
        if let Some(denied) = err.downcast_ref::<Denied>() {
            return Some(RenderFailure::Denied(denied.clone()));
        }
        if copied_too_much(err) {
            return Some(RenderFailure::Limit(Limit::Output));
        }
        Some(match err.downcast_ref::<Trap>()? {
            Trap::OutOfFuel => RenderFailure::Limit(Limit::Fuel),
            Trap::Interrupt => RenderFailure::Limit(Limit::WallTime),
            Trap::StackOverflow => RenderFailure::Limit(Limit::Stack),
            Trap::UnreachableCodeReached => RenderFailure::Trap(
                "it reached `unreachable` (it panicked or aborted, or called a function its build \
                 stubbed out, as componentize-py and componentize-qjs do with `--stub-wasi`)"
                    .into(),
            ),
            trap => RenderFailure::Trap(trap.to_string()),
        })
    }

    /// A renderer's refusal, its message cut to [`KEPT_ERROR_BYTES`]; over `max_bytes` it is a
    /// breach of the output limit, like an oversized message.
    pub(super) fn refused(refused: RenderError, max_bytes: usize) -> RenderFailure {
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
}

#[cfg(test)]
mod tests {
    use super::super::chain;
    use super::*;

    #[test]
    fn a_wasmtime_cause_reads_as_it_did_when_flattened() {
        let e = || {
            wasmtime::Error::msg("inner")
                .context("middle")
                .context("outer")
        };
        let flattened = format!("cannot set up the sandbox: {:#}", e());
        assert_eq!(chain(&SandboxError::Engine(e().into())), flattened);
        let linking = SandboxError::Unlinkable {
            name: "r.wasm".into(),
            source: Unlinkable::Linking("wasi:io/streams".into(), e().into()),
        };
        assert_eq!(
            chain(&linking),
            "r.wasm cannot be used as a renderer: linking `wasi:io/streams`: outer: middle: inner"
        );
    }

    #[test]
    fn the_host_is_blamed_only_for_what_is_not_the_renderers() {
        let host = RenderFailure::of_instantiation(
            wasmtime::Error::msg("cannot add seals to the memfd").context("instantiate"),
        );
        assert_eq!(
            host.to_string(),
            "the host could not make the renderer's instance (not the renderer's doing): \
             instantiate: cannot add seals to the memfd"
        );
        // Control: the renderer's own limits and traps stay the renderer's, at either step.
        for of in [RenderFailure::of_call, RenderFailure::of_instantiation] {
            assert_eq!(
                of(Breach(Limit::Memory).into()),
                RenderFailure::Limit(Limit::Memory)
            );
            assert_eq!(
                of(Trap::OutOfFuel.into()),
                RenderFailure::Limit(Limit::Fuel)
            );
        }
        let crashed = RenderFailure::of_call(wasmtime::Error::msg("bad \x1b utf-8"));
        assert_eq!(crashed.to_string(), "renderer crashed: bad \\u{1b} utf-8");
    }

    #[test]
    fn an_output_too_large_to_copy_names_the_output_limit_and_its_value() {
        let limits = Limits {
            output_bytes: 64 << 20,
            ..Limits::default()
        };
        // Worded as wasmtime 48 words it (tests/tests/python.rs meets the real one).
        let exhausted = || {
            wasmtime::Error::msg(
                "too much data is being copied between the host and the guest: fuel allocated \
                 for hostcalls has been exhausted",
            )
        };
        let failure = RenderFailure::of_render_call(exhausted(), &limits);
        assert_eq!(
            failure.to_string(),
            "renderer exceeded its output size limit (sandbox.output_bytes) of 67108864 bytes: it \
             handed the host more than 134283264 bytes at once, which the host refuses without \
             reading"
        );
        // The same copy refused while preparing, or starting, is still the output limit.
        assert_eq!(
            RenderFailure::of_call(exhausted()),
            RenderFailure::Limit(Limit::Output)
        );
        // Control: another failure to copy (a bad pointer) is the renderer's crash.
        let other = RenderFailure::of_render_call(
            wasmtime::Error::msg("string pointer/length out of bounds of memory"),
            &limits,
        );
        assert!(matches!(other, RenderFailure::Trap(_)), "{other:?}");
    }

    #[test]
    fn every_output_within_the_limit_can_be_copied_in_either_encoding() {
        for output_bytes in [1, 1 << 20, 64 << 20, Limits::MAX_OUTPUT_BYTES] {
            let limits = Limits {
                output_bytes,
                ..Limits::default()
            };
            // UTF-16 takes at most twice the bytes of UTF-8; a 40 MiB refusal is still read.
            assert!(hostcall_fuel(&limits) > 2 * output_bytes, "{output_bytes}");
            assert!(hostcall_fuel(&limits) > 40 << 20, "{output_bytes}");
        }
    }
}
