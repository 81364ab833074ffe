//! What ends a send, or `isomail halt`, apart from the errors of the areas it drives: a journal
//! file it may not use, a delivery target it cannot open, a preflight finding, a halt. The
//! texts name the file (and the `[delivery]` key) the operator has to look at.

use std::path::PathBuf;

use super::reason::HaltReason;
use crate::transport::TransportError;

/// What can go wrong in `send` and `halt` (see [`crate::Error`] for the exit codes).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No journal, but signs that the campaign was sent before: starting afresh would mail
    /// everyone again.
    #[error(
        "{}: the journal is missing, but {signs}; isomail will not start the campaign over and mail \
         everyone again. Restore the journal (a backup, or wherever it was moved); or, only if you \
         are sure nobody was mailed, remove what is named here and send again (docs/operations.md)",
        .journal.display()
    )]
    JournalLost { journal: PathBuf, signs: String },
    /// The journal was made by the send of another campaign file.
    #[error(
        "{}: this journal belongs to the campaign file `{}`, not `{}`; isomail will not send one \
         campaign from another's journal. Put it back beside `{}`, or move it away if this \
         campaign has never been sent (docs/operations.md)",
        .journal.display(),
        crate::term::inert(.owner),
        crate::term::inert(.name),
        crate::term::inert(.owner)
    )]
    JournalOfAnother {
        journal: PathBuf,
        owner: String,
        name: String,
    },
    #[error(
        "{}: the campaign (templates, renderer, recipients or delivery target) changed since {} was started; \
         finish it as it was, or pass --allow-changed: everyone already mailed keeps their fate wherever \
         their row moved, new and edited rows are checked again before anything is sent, and removed rows \
         not yet mailed are never mailed (docs/operations.md)",
        .campaign.display(),
        .journal.display()
    )]
    Changed { campaign: PathBuf, journal: PathBuf },
    #[error("{}: [delivery] outbox = \"{}\"", .campaign.display(), .written.display())]
    Outbox {
        campaign: PathBuf,
        written: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A relay's settings refused when its connection was set up. The relay's phrase reads on
    /// from `[delivery]` (`[delivery] ca_file x.pem is a directory`), so it is part of this
    /// text rather than a cause after a colon.
    #[error("{}: [delivery] {}", .campaign.display(), crate::chain(.relay))]
    Relay {
        campaign: PathBuf,
        relay: TransportError,
    },
    #[error(
        "{}: [delivery] password_env = \"{var}\": that environment variable is not set",
        .campaign.display()
    )]
    PasswordEnv { campaign: PathBuf, var: String },
    /// `why` is the input file's refusal, already written after the key (`password_file = …`).
    #[error("{}: [delivery] {why}", .campaign.display())]
    PasswordFile {
        campaign: PathBuf,
        why: crate::input_file::KeyedRefusal,
    },
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// A worker panicked holding the journal: nothing more can be recorded safely.
    #[error("journal lock poisoned")]
    JournalPoisoned,
    /// Every message rendered and checked before the first is sent: these were not fit.
    #[error(
        "preflight: {problems} message(s) failed to render or failed a safety check, {findings} \
         campaign-wide finding(s); nothing was sent"
    )]
    Preflight { problems: usize, findings: usize },
    /// The send stopped: the journal is consistent and a later run goes on from it.
    #[error(
        "halted {} stage {stage}: {reason}; the journal is consistent; `isomail status {}` shows where it stands",
        after_or_during(.reason),
        .campaign.display()
    )]
    Halted {
        stage: usize,
        reason: HaltReason,
        campaign: PathBuf,
    },
    #[error(
        "{}: a send holds the lock but has not recorded itself in the journal; try again",
        .journal.display()
    )]
    HaltNotRecorded { journal: PathBuf },
}

/// The bounce gate judges a stage once it is over; every other halt stops one under way.
fn after_or_during(reason: &HaltReason) -> &'static str {
    if matches!(
        reason,
        HaltReason::BounceRate { .. }
            | HaltReason::ComplaintRate { .. }
            | HaltReason::SenderFailures { .. }
    ) {
        "after"
    } else {
        "during"
    }
}
