//! What can go wrong, one enum per area, and the one place each failure is given its exit code
//! (README.md's table: 2 bad input, 3 a safety check, 4 halted, 1 anything else; nothing is
//! sent in the first two cases).
//!
//! Each area's error says who failed: a campaign error names the file, section, key and line;
//! a sandbox error says whether the renderer or the host failed; a journal error keeps the
//! SQLite error as its [`source`](std::error::Error::source).

use crate::{bounces, campaign, commands, journal, message, render, sandbox, send, transport};

/// An error and its sources joined by ": ", the sentence an operator reads. It is the sandbox's,
/// which quotes errors too and may use nothing else in the crate.
pub use crate::sandbox::chain;

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
    /// Writing a command's own output (a file, a directory, stdout) failed (exit 1).
    #[error("{what}")]
    Output {
        /// "out/000001.eml: cannot write", "cannot write to stdout", …
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// The four outcomes that have exit codes of their own.
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
    /// Which of the four outcomes this failure is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Campaign(e) => campaign_kind(e),
            Error::Sandbox(e) => sandbox_kind(e),
            Error::Build(e) => build_kind(e),
            Error::Render(e) => render_kind(e),
            Error::Journal(e) => journal_kind(e),
            Error::Send(e) => send_kind(e),
            Error::Transport(e) => transport_kind(e),
            Error::Bounces(e) => bounces_kind(e),
            Error::Command(e) => command_kind(e),
            Error::Output { .. } => ErrorKind::Other,
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
}

// A campaign's input is the operator's to fix; only writing a file isomail writes
// itself, or a bug, is not.
fn campaign_kind(e: &campaign::CampaignError) -> ErrorKind {
    match e {
        campaign::CampaignError::Unwritable { .. } | campaign::CampaignError::Poisoned(_) => {
            ErrorKind::Other
        }
        _ => ErrorKind::Input,
    }
}

// A renderer that cannot be loaded stops the run before anything is sent, as bad
// input, whoever failed: the host setting up (engine, clock thread) too, as it
// always has (its text says it was the sandbox).
fn sandbox_kind(e: &sandbox::SandboxError) -> ErrorKind {
    match e {
        sandbox::SandboxError::Limits(_)
        | sandbox::SandboxError::CoreModule { .. }
        | sandbox::SandboxError::NotAComponent { .. }
        | sandbox::SandboxError::Engine(_)
        | sandbox::SandboxError::TooLargeToStart { .. }
        | sandbox::SandboxError::Invalid { .. }
        | sandbox::SandboxError::Unlinkable { .. }
        | sandbox::SandboxError::Unlinked { .. }
        | sandbox::SandboxError::NoRenderer { .. }
        | sandbox::SandboxError::Unsupported { .. }
        | sandbox::SandboxError::Clock(_) => ErrorKind::Input,
    }
}

// Content no message can carry is the renderer's output refused, as a failed message
// is judged; a message the host could not build or sign is the host's failure.
fn build_kind(e: &message::BuildError) -> ErrorKind {
    match e {
        message::BuildError::Unfit(_) => ErrorKind::Safety,
        message::BuildError::Recipient(_)
        | message::BuildError::LineTooLong { .. }
        | message::BuildError::Octet { .. }
        | message::BuildError::LastLineUnended
        | message::BuildError::Sign(_) => ErrorKind::Other,
    }
}

// The renderer and its templates are the campaign's; the machine's threads and the
// scanner's limits are not.
fn render_kind(e: &render::RenderAllError) -> ErrorKind {
    match e {
        render::RenderAllError::Renderer { .. }
        | render::RenderAllError::Template { .. }
        | render::RenderAllError::Probe { .. } => ErrorKind::Input,
        render::RenderAllError::Checks(_) | render::RenderAllError::Thread(_) => ErrorKind::Other,
    }
}

// A file at the journal's path that is not a journal to use is the operator's to
// restore or move; SQLite, the file system, the lock or a bug is not.
fn journal_kind(e: &journal::JournalError) -> ErrorKind {
    match e {
        journal::JournalError::Missing { .. } | journal::JournalError::Refused { .. } => {
            ErrorKind::Input
        }
        journal::JournalError::Sqlite { .. }
        | journal::JournalError::Commit { .. }
        | journal::JournalError::Stat { .. }
        | journal::JournalError::Create { .. }
        | journal::JournalError::LockFile { .. }
        | journal::JournalError::Busy { .. }
        | journal::JournalError::Lock { .. }
        | journal::JournalError::Mark { .. }
        | journal::JournalError::NotPending { .. }
        | journal::JournalError::Poisoned => ErrorKind::Other,
    }
}

// A journal or delivery target the campaign may not use is the operator's to fix;
// the runtime, a poisoned lock or a send that never recorded itself is not.
fn send_kind(e: &send::SendError) -> ErrorKind {
    match e {
        send::SendError::JournalLost { .. }
        | send::SendError::JournalOfAnother { .. }
        | send::SendError::Changed { .. }
        | send::SendError::Outbox { .. }
        | send::SendError::Relay { .. }
        | send::SendError::PasswordEnv { .. }
        | send::SendError::PasswordFile { .. } => ErrorKind::Input,
        send::SendError::Preflight { .. } => ErrorKind::Safety,
        send::SendError::Halted { .. } => ErrorKind::Halted,
        send::SendError::Runtime(_)
        | send::SendError::JournalPoisoned
        | send::SendError::HaltNotRecorded { .. } => ErrorKind::Other,
    }
}

// A transport's settings are the campaign file's.
fn transport_kind(e: &transport::TransportError) -> ErrorKind {
    match e {
        transport::TransportError::NotAUrl(_)
        | transport::TransportError::Scheme(_)
        | transport::TransportError::PasswordInUrl
        | transport::TransportError::Path(_)
        | transport::TransportError::QueryOrFragment
        | transport::TransportError::NoHost
        | transport::TransportError::UserNotUtf8
        | transport::TransportError::CaFileRefused { .. }
        | transport::TransportError::CaFileNotPem { .. }
        | transport::TransportError::TlsSetup(_) => ErrorKind::Input,
    }
}

fn bounces_kind(e: &bounces::BouncesError) -> ErrorKind {
    match e {
        bounces::BouncesError::NotAMaildir(_) => ErrorKind::Input,
        bounces::BouncesError::Unlistable { .. } => ErrorKind::Other,
    }
}

fn command_kind(e: &commands::CommandError) -> ErrorKind {
    match e {
        commands::CommandError::ListEndedEarly => ErrorKind::Other,
        commands::CommandError::NotRendered { input_only, .. } => {
            if *input_only {
                ErrorKind::Input
            } else {
                ErrorKind::Safety
            }
        }
        commands::CommandError::PreviewUnsafe(_) | commands::CommandError::Unsafe { .. } => {
            ErrorKind::Safety
        }
        commands::CommandError::Usage(_)
        | commands::CommandError::NoBounceMailbox { .. }
        | commands::CommandError::NotOnList { .. }
        | commands::CommandError::Suppressed { .. }
        | commands::CommandError::OutputNotEmpty(_) => ErrorKind::Input,
    }
}
