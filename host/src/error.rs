//! What can go wrong, one enum per area, and the one place each failure is given its exit code
//! (DESIGN.md: 2 bad input, 3 a safety check, 4 halted, 1 anything else; nothing is sent in
//! the first two cases).
//!
//! Each area's error says who failed: a campaign error names the file, section, key and line;
//! a sandbox error says whether the renderer or the host failed; a journal error keeps the
//! SQLite error as its [`source`](std::error::Error::source).

use crate::{bounces, campaign, commands, journal, message, render, sandbox, send, transport};

/// Any failure that ends a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Campaign(#[from] campaign::CampaignError),
    #[error(transparent)]
    Sandbox(#[from] sandbox::SandboxError),
    #[error(transparent)]
    Build(#[from] message::BuildError),
    #[error(transparent)]
    Render(#[from] render::RenderAllError),
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error(transparent)]
    Send(#[from] send::SendError),
    #[error(transparent)]
    Transport(#[from] transport::TransportError),
    #[error(transparent)]
    Bounces(#[from] bounces::BouncesError),
    #[error(transparent)]
    Command(#[from] commands::CommandError),
    /// TRANSITIONAL, removed when every area has its enum: a kind and a sentence.
    #[error("{message}")]
    Legacy { kind: ErrorKind, message: String },
}

/// The four outcomes DESIGN.md gives exit codes to.
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
    /// Which of DESIGN.md's outcomes this failure is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Campaign(e) => match *e {},
            Error::Sandbox(e) => match *e {},
            Error::Build(e) => match *e {},
            Error::Render(e) => match *e {},
            Error::Journal(e) => match *e {},
            Error::Send(e) => match *e {},
            Error::Transport(e) => match *e {},
            Error::Bounces(e) => match *e {},
            Error::Command(e) => match *e {},
            Error::Legacy { kind, .. } => *kind,
        }
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self.kind() {
            ErrorKind::Input => 2,
            ErrorKind::Safety => 3,
            ErrorKind::Halted => 4,
            ErrorKind::Other => 1,
        }
    }

    /// TRANSITIONAL: bad input (exit 2).
    pub fn input(message: impl Into<String>) -> Error {
        Error::legacy(ErrorKind::Input, message)
    }
    /// TRANSITIONAL: a safety check failed (exit 3).
    pub fn safety(message: impl Into<String>) -> Error {
        Error::legacy(ErrorKind::Safety, message)
    }
    /// TRANSITIONAL: halted (exit 4).
    pub fn halted(message: impl Into<String>) -> Error {
        Error::legacy(ErrorKind::Halted, message)
    }
    /// TRANSITIONAL: anything else (exit 1).
    pub fn other(message: impl Into<String>) -> Error {
        Error::legacy(ErrorKind::Other, message)
    }
    fn legacy(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::Legacy {
            kind,
            message: message.into(),
        }
    }
}

/// An error and every error below it ([`source`](std::error::Error::source)), joined by ": ":
/// the sentence an operator reads. Each error's own text leaves its source out, so nothing is
/// said twice.
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
