//! isomail: one email per recipient, each rendered by a fresh, capability-free WebAssembly
//! instance, checked before anything is sent.
//!
//! The pipeline reads top to bottom: [`campaign`] (validated input) → [`sandbox`] (one instance
//! per message) → [`message`] (the exact RFC 5322 bytes) → [`pipeline`] (every message, on all
//! cores, in bounded memory) → [`checks`] → [`journal`] → [`send`] and [`stages`] →
//! [`transport`]. [`run`] maps a parsed command line onto it; `main` only maps the
//! result to an exit code.

pub mod bounces;
pub mod campaign;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod dkim;
pub mod input_file;
pub mod journal;
pub mod message;
pub mod pipeline;
pub mod report;
pub mod sample;
pub mod sandbox;
pub mod send;
pub mod stages;
pub mod status;
pub mod term;
pub mod transport;

/// What went wrong, and so which exit code the process ends with (see DESIGN.md).
#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input or configuration; nothing was sent. Exit 2.
    Input,
    /// A safety check failed; nothing was sent. Exit 3.
    Safety,
    /// Halted by the operator, a signal or a gate; the journal is consistent. Exit 4.
    Halted,
    /// Anything else. Exit 1.
    Other,
}

impl Error {
    pub fn input(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Input,
            message: message.into(),
        }
    }
    pub fn safety(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Safety,
            message: message.into(),
        }
    }
    pub fn halted(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Halted,
            message: message.into(),
        }
    }
    pub fn other(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Other,
            message: message.into(),
        }
    }

    /// The process exit code DESIGN.md assigns to this kind of failure.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Input => 2,
            ErrorKind::Safety => 3,
            ErrorKind::Halted => 4,
            ErrorKind::Other => 1,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub use commands::run;
