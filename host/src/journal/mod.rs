//! The journal: one SQLite row per recipient recording its fate, so a campaign can stop at any
//! moment (halt, crash, `kill -9`, power loss) and resume without sending anyone a second copy
//! or forgetting anyone.
//!
//! The unit is the recipient, as [`crate::campaign::normalise`] names them, not the row of the
//! list: a row's `idx` is the person's journal number (their list position when the campaign
//! was first checked, the next free number for anyone added later) and never changes, and
//! `pos` is where they stand on the list as it is now (NULL once they are off it). So a list
//! edited mid-campaign (`send --allow-changed`) keeps every person's fate wherever their row
//! moved; see [`Journal::apply_list`].
//!
//! A row moves pending → sending → sent | failed | ambiguous. `sending` is committed *before*
//! the message is handed to the transport, so after a crash a `sending` row is a message whose
//! fate is unknown: it becomes `ambiguous` and is re-sent only when the operator says so. WAL
//! mode with `synchronous = FULL`: a commit survives power loss.
//!
//! [`Journal`] is the one entry point; its methods are spread over the modules below by what
//! they keep:
//! - `schema`: the tables, opening, creating and migrating a journal file, refusing others;
//! - `meta`: the campaign's fingerprint and id, its Date, the running send and halt requests;
//! - `lock`: the one-sender-per-campaign lock file ([`JournalLock`]);
//! - `recipients`: each person's [`State`] and [`Row`], the preflight, send and recovery;
//! - `list`: a changed list reconciled person by person ([`ListChanges`]);
//! - `counts`: [`Counts`] per state;
//! - `stages`: stages, seed copies and what each stage sent;
//! - `reports`: the bounce and complaint reports `isomail bounces` read;
//! - `committer`: the senders' writes grouped into shared commits ([`Committer`]).

mod committer;
mod counts;
mod error;
mod list;
mod lock;
mod meta;
mod recipients;
mod reports;
mod schema;
mod stages;
#[cfg(test)]
mod testing;

pub use committer::{Committer, Write};
pub use counts::Counts;
pub use error::{JournalError, Refusal};
pub use list::{ListChanges, Listed};
pub use lock::JournalLock;
pub use recipients::{PreflightRow, Row, State, SuppressedRow};
pub use reports::{ReasonCount, ReportRecord, StageBounces, StrayReport};
pub use stages::SeedRow;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::Connection;

/// An open journal file: one campaign's (or one dry run's) recipients and their fates.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
}

impl Journal {
    /// Opens the journal at `path`, or creates it if there is no file there. An existing file
    /// must be an isomail journal: an empty file, another SQLite database or anything else is
    /// refused (exit 2) and left untouched.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        match std::fs::symlink_metadata(path) {
            Ok(_) => schema::open_file(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => schema::create(path),
            Err(source) => Err(JournalError::Stat {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Opens an existing journal, or says there is none.
    pub fn open_existing(path: &Path) -> Result<Journal, JournalError> {
        if std::fs::symlink_metadata(path).is_err() {
            return Err(JournalError::Missing {
                path: path.to_path_buf(),
            });
        }
        schema::open_file(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The journal's file for a campaign: `<campaign>.journal.sqlite` beside it, or the dry-run
    /// journal, which is kept apart so a rehearsal never counts as a send.
    pub fn path_for(campaign: &Path, dry_run: bool) -> PathBuf {
        let stem = campaign
            .file_stem()
            .map_or_else(|| "campaign".into(), |s| s.to_string_lossy().into_owned());
        let name = if dry_run {
            format!("{stem}.dry-run.journal.sqlite")
        } else {
            format!("{stem}.journal.sqlite")
        };
        campaign.with_file_name(name)
    }

    /// Turns an SQLite error on this journal into a [`JournalError`] naming its file.
    fn err(&self) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
        db_error(&self.path)
    }
}

/// An SQLite error on the journal at `path`, for code that holds the connection mutably (a
/// transaction) and so cannot call [`Journal::err`].
fn db_error(path: &Path) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
    move |source| JournalError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// Unix time in seconds, as the journal's `*_at` columns keep it.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
