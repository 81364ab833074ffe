//! What can go wrong with a journal: SQLite or the file system failing under it (kept as the
//! error's source), a file isomail refuses to use as a journal, the lock another send holds,
//! and a write the journal refuses because it would send someone twice.

use std::path::PathBuf;
use std::sync::Arc;

/// A journal failure. [`crate::Error::kind`] gives each its exit code: the refusals
/// ([`JournalError::Missing`], [`JournalError::Refused`]) are bad input (exit 2), the rest
/// exit 1.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite failed on the journal at `path`.
    #[error("{}: journal error", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The commit of a group of writes failed; every write in it fails with the same error,
    /// hence shared.
    #[error("{}: journal error", path.display())]
    Commit {
        path: PathBuf,
        #[source]
        source: Arc<rusqlite::Error>,
    },
    /// Whether anything is at the journal's path could not be found out.
    #[error("{}", path.display())]
    Stat {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A new journal could not be linked into place.
    #[error("{}: cannot create the journal", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A command that reads the journal found none.
    #[error("{}: no journal: this campaign has not been sent", path.display())]
    Missing { path: PathBuf },
    /// The file at the journal's path is not a journal isomail will use; it is left as it is
    /// (never re-initialised, so a damaged journal can still be restored).
    #[error(
        "{}: {why}; isomail never starts a campaign over on it. Restore the journal from a backup, \
         or, only if you are sure nobody was mailed, move the file away and send again",
        path.display()
    )]
    Refused { path: PathBuf, why: Refusal },
    /// The lock file could not be created or opened.
    #[error("{}: cannot create the lock file", path.display())]
    LockFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another `send` of this campaign holds the lock.
    #[error("{}: another `isomail send` is running for this campaign", path.display())]
    Busy { path: PathBuf },
    /// Taking the lock failed for another reason than its being held.
    #[error("{}: cannot lock", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The lock file could not be marked as sending.
    #[error("{}: cannot write", path.display())]
    Mark {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A row asked to be sent is not pending (nor an ambiguous one the operator let through):
    /// sending it would mail someone twice.
    #[error("journal: recipient #{index} is not pending; refusing to send it")]
    NotPending { index: usize },
    /// A thread panicked holding the journal or the committer's queue.
    #[error("journal lock poisoned")]
    Poisoned,
}

/// Why a file at a journal's path is not used. The SQLite or io error a refusal carries is
/// said inside the sentence, which goes on after it, so it is kept as a value here and not
/// given as a [`source`](std::error::Error::source) (that would say it twice).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("cannot read it: {0}")]
    Unreadable(std::io::Error),
    #[error("this is not a regular file, so it is not a journal")]
    NotAFile,
    #[error(
        "the journal is empty (0 bytes): it was truncated or replaced (an editor, a backup tool or \
         a full disk can do that)"
    )]
    Empty,
    #[error("cannot open it as a journal: {0}")]
    Unopenable(rusqlite::Error),
    #[error("this is not an isomail journal, or it is damaged ({0})")]
    Damaged(rusqlite::Error),
    #[error("this is not an isomail journal (an SQLite database without its tables)")]
    Foreign,
    #[error("its meta table cannot be read ({0})")]
    MetaUnreadable(rusqlite::Error),
    /// A journal format this isomail does not know (a newer isomail wrote it).
    #[error(
        "this journal has format {format}, which this isomail does not know (it writes {writes}); \
         use the isomail that wrote it"
    )]
    UnknownFormat {
        format: String,
        writes: &'static str,
    },
}
