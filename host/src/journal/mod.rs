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

mod error;

pub use error::JournalError;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use crate::Error;
use crate::reply::Reply;

/// A recipient's state in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Sending,
    Sent,
    Failed,
    Ambiguous,
    /// A suppression list names the recipient: never rendered at send time, never sent.
    Suppressed,
    /// Sent, then a DSN said the address is bad (a 5.x.x status).
    Bounced,
    /// Sent, then the recipient complained (an ARF report).
    Complained,
    /// Dropped from the list (`send --allow-changed`) before it was mailed: never sent.
    Removed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Failed => "failed",
            State::Ambiguous => "ambiguous",
            State::Suppressed => "suppressed",
            State::Bounced => "bounced",
            State::Complained => "complained",
            State::Removed => "removed",
        }
    }

    fn parse(s: &str) -> Option<State> {
        Some(match s {
            "pending" => State::Pending,
            "sending" => State::Sending,
            "sent" => State::Sent,
            "failed" => State::Failed,
            "ambiguous" => State::Ambiguous,
            "suppressed" => State::Suppressed,
            "bounced" => State::Bounced,
            "complained" => State::Complained,
            "removed" => State::Removed,
            _ => return None,
        })
    }
}

/// One recipient's row.
#[derive(Debug, Clone)]
pub struct Row {
    pub index: usize,
    pub email: String,
    pub state: State,
    pub hash: String,
    pub message_id: String,
    pub attempts: u32,
    /// The last reply, as `status` shows it.
    pub reply: Option<String>,
    /// Its SMTP code and RFC 3463 enhanced status, when a server gave them.
    pub reply_code: Option<u16>,
    pub reply_status: Option<String>,
    /// The relay that took the message (its URL without user name), when it went by SMTP.
    pub relay: Option<String>,
    pub stage: Option<usize>,
}

/// What the preflight journals for one recipient: the message it checked, by hash.
#[derive(Debug, Clone)]
pub struct PreflightRow {
    /// Its position on the list ([`Journal::insert_preflight`]: also its journal number).
    pub index: usize,
    pub email: String,
    pub hash: String,
    pub message_id: String,
    /// [`crate::campaign::Recipient::data_digest`]: tells an edited row from an unchanged one.
    pub data: String,
}

/// One recipient of the list as it is now, for [`Journal::list_changes`].
#[derive(Debug, Clone)]
pub struct Listed {
    /// Position on the list.
    pub index: usize,
    /// [`crate::campaign::normalise`]d address.
    pub addr: String,
    /// [`crate::campaign::Recipient::data_digest`].
    pub data: String,
}

/// How the list differs from the journal, person by person (see [`Journal::list_changes`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ListChanges {
    /// On the list and not in the journal, or removed earlier and back: pending, checked
    /// before anything is sent.
    pub new: usize,
    /// In the journal, off the list and not yet mailed: journaled `removed`, never mailed.
    pub removed: usize,
    /// Off the list, their fate already settled (sent, failed, …): kept as it is.
    pub removed_settled: usize,
    /// On both, with other data (another column, or the address's case).
    pub changed: usize,
    /// Of those, already settled: kept as they were and never mailed again; the pending rest
    /// are rendered and checked again.
    pub changed_settled: usize,
    pub unchanged: usize,
    /// On both, at another position (changed or not).
    pub moved: usize,
}

impl ListChanges {
    /// Whether the list holds the same people with the same data, wherever they stand.
    pub fn is_empty(&self) -> bool {
        self.new == 0 && self.removed == 0 && self.removed_settled == 0 && self.changed == 0
    }
}

/// What [`Journal::apply_list`] needs to know of someone already in the journal.
struct Person {
    idx: i64,
    state: State,
    pos: Option<usize>,
    data: Option<String>,
}

/// Held while a `send` runs: one sender per campaign. An advisory lock on `<journal>.lock`,
/// released by the OS even after `kill -9`.
#[derive(Debug)]
pub struct JournalLock {
    file: std::fs::File,
    path: PathBuf,
}

impl JournalLock {
    /// Records in the lock file, durably, that this send is past its preflight and about to
    /// send: then a lost journal is never taken for a campaign that was never sent.
    pub fn mark_sending(&self, campaign_id: &str) -> Result<(), Error> {
        use std::io::{Seek, Write};
        let mut file = &self.file;
        let marked = file
            .set_len(0)
            .and_then(|()| file.seek(std::io::SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "sending {campaign_id}"))
            .and_then(|()| file.sync_all());
        marked.map_err(|e| Error::other(format!("{}: cannot write: {e}", self.path.display())))
    }

    /// Whether a `send` holds the lock of the journal at `path` now.
    pub fn held(path: &Path) -> bool {
        let Ok(file) = std::fs::OpenOptions::new()
            .write(true)
            .open(Journal::lock_path(path))
        else {
            return false;
        };
        matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
    }
}

/// One seed copy: stage, seed address, state and the server's reply.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeedRow {
    pub stage: usize,
    pub email: String,
    pub state: String,
    pub reply: Option<String>,
}

/// Counts per state.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub pending: usize,
    pub sending: usize,
    pub sent: usize,
    pub failed: usize,
    pub ambiguous: usize,
    pub suppressed: usize,
    pub bounced: usize,
    pub complained: usize,
    /// Dropped from the list before they were mailed.
    pub removed: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.pending
            + self.sending
            + self.sent
            + self.failed
            + self.ambiguous
            + self.suppressed
            + self.bounced
            + self.complained
            + self.removed
    }
    /// Recipients a send may still reach or has reached: everyone neither suppressed nor
    /// removed from the list before they were mailed. Stage sizes count these people.
    pub fn sendable(&self) -> usize {
        self.total() - self.suppressed - self.removed
    }
    /// Recipients whose turn has come and gone: everyone neither pending nor suppressed.
    pub fn processed(&self) -> usize {
        self.sendable() - self.pending
    }
}

/// A recipient the preflight left out because a suppression list names it.
#[derive(Debug, Clone)]
pub struct SuppressedRow {
    pub index: usize,
    pub email: String,
    /// `suppressed by FILE line N`.
    pub why: String,
}

pub struct Journal {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recipients (
    idx INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    state TEXT NOT NULL,
    hash TEXT NOT NULL,
    message_id TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    reply TEXT,
    reply_code INTEGER,
    reply_status TEXT,
    relay TEXT,
    stage INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    addr TEXT,
    pos INTEGER,
    data TEXT
);
CREATE INDEX IF NOT EXISTS recipients_state ON recipients(state, idx);
CREATE TABLE IF NOT EXISTS stages (
    stage INTEGER PRIMARY KEY,
    target INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    outcome TEXT
);
CREATE TABLE IF NOT EXISTS seeds (
    stage INTEGER NOT NULL,
    email TEXT NOT NULL,
    state TEXT NOT NULL,
    reply TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (stage, email)
);
CREATE TABLE IF NOT EXISTS reports (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    idx INTEGER,
    kind TEXT NOT NULL,
    status TEXT,
    diagnostic TEXT,
    read_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_hash ON reports(hash);
CREATE INDEX IF NOT EXISTS reports_idx ON reports(idx, kind);
";

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The meta keys, each behind a typed method below.
mod key {
    pub const FINGERPRINT: &str = "fingerprint";
    pub const PREFLIGHT: &str = "preflight";
    pub const DATE: &str = "date";
    pub const HALT_REQUESTED: &str = "halt_requested";
    /// Marks the file as an isomail journal; its value is the format.
    pub const FORMAT: &str = "isomail_journal";
    /// The campaign file's name: a journal copied under another campaign's name is refused.
    pub const CAMPAIGN: &str = "campaign_file";
    /// The fingerprint the campaign had when it was first checked: the stable prefix of the
    /// per-recipient delivery keys, whatever `--allow-changed` does to the fingerprint later.
    pub const CAMPAIGN_ID: &str = "campaign_id";
    /// The `send` now running, so `isomail halt` asks that one and no later one.
    pub const RUNNING: &str = "running_send";
}

/// The journal format this version writes (2: the recipient, not the row, is the unit).
const FORMAT: &str = "2";

fn db_error(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::other(format!("{}: journal error: {e}", path.display()))
}

/// What isomail says of a file at a journal's path that it will not use: exit 2, and the file
/// is left as it is (never re-initialised, so a damaged journal can still be restored).
fn refuse(path: &Path, what: &str) -> Error {
    Error::input(format!(
        "{}: {what}; isomail never starts a campaign over on it. Restore the journal from a backup, \
         or, only if you are sure nobody was mailed, move the file away and send again",
        path.display()
    ))
}

impl Journal {
    /// Opens the journal at `path`, or creates it if there is no file there. An existing file
    /// must be an isomail journal: an empty file, another SQLite database or anything else is
    /// refused (exit 2) and left untouched.
    pub fn open(path: &Path) -> Result<Journal, Error> {
        match std::fs::symlink_metadata(path) {
            Ok(_) => Journal::open_file(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Journal::create(path),
            Err(e) => Err(Error::other(format!("{}: {e}", path.display()))),
        }
    }

    /// Opens an existing journal, or says there is none.
    pub fn open_existing(path: &Path) -> Result<Journal, Error> {
        if std::fs::symlink_metadata(path).is_err() {
            return Err(Error::input(format!(
                "{}: no journal: this campaign has not been sent",
                path.display()
            )));
        }
        Journal::open_file(path)
    }

    /// Makes a new journal whole under a temporary name, then links it into place, so no crash
    /// can leave a half-made journal at `path` (which the next run would refuse), and a
    /// journal someone else made meanwhile is never overwritten.
    fn create(path: &Path) -> Result<Journal, Error> {
        let name = path
            .file_name()
            .map_or_else(|| "journal".into(), |n| n.to_string_lossy().into_owned());
        let temp = path.with_file_name(format!(".{name}.new-{}", std::process::id()));
        let cleanup = |temp: &Path| {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut p = temp.as_os_str().to_owned();
                p.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
        };
        cleanup(&temp);
        let made = (|| -> rusqlite::Result<()> {
            let conn = Connection::open(&temp)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.execute_batch(SCHEMA)?;
            add_columns(&conn)?;
            conn.execute(
                "INSERT INTO meta(key, value) VALUES(?1, ?2)",
                [key::FORMAT, FORMAT],
            )?;
            conn.close().map_err(|(_, e)| e)
        })();
        if let Err(e) = made {
            cleanup(&temp);
            return Err(db_error(path)(e));
        }
        let linked = std::fs::File::open(&temp)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::hard_link(&temp, path));
        cleanup(&temp);
        match linked {
            Ok(()) => {}
            // Another process made it first: use theirs, checked like any existing file.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(Error::other(format!(
                    "{}: cannot create the journal: {e}",
                    path.display()
                )));
            }
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Journal::open_file(path)
    }

    /// Opens a file that exists, refusing anything that is not an isomail journal.
    fn open_file(path: &Path) -> Result<Journal, Error> {
        let meta =
            std::fs::metadata(path).map_err(|e| refuse(path, &format!("cannot read it: {e}")))?;
        if !meta.is_file() {
            return Err(refuse(
                path,
                "this is not a regular file, so it is not a journal",
            ));
        }
        if meta.len() == 0 {
            return Err(refuse(
                path,
                "the journal is empty (0 bytes): it was truncated or replaced (an editor, a backup tool or a full disk can do that)",
            ));
        }
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| refuse(path, &format!("cannot open it as a journal: {e}")))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db_error(path))?;
        // Read before anything is written: a file that is not SQLite, or an SQLite database
        // without isomail's tables, is not touched.
        let tables: rusqlite::Result<Vec<String>> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect());
        let tables = tables.map_err(|e| {
            refuse(
                path,
                &format!("this is not an isomail journal, or it is damaged ({e})"),
            )
        })?;
        if !["meta", "recipients"]
            .iter()
            .all(|t| tables.iter().any(|have| have == t))
        {
            return Err(refuse(
                path,
                "this is not an isomail journal (an SQLite database without its tables)",
            ));
        }
        let format: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [key::FORMAT],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| refuse(path, &format!("its meta table cannot be read ({e})")))?;
        if let Some(format) = format.as_deref().filter(|f| *f != FORMAT) {
            return Err(refuse(
                path,
                &format!(
                    "this journal has format {format}, which this isomail does not know (it writes {FORMAT}); use the isomail that wrote it"
                ),
            ));
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_error(path))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_error(path))?;
        let migrated = (|| -> rusqlite::Result<()> {
            conn.execute_batch(SCHEMA)?;
            add_columns(&conn)?;
            if format.is_none() {
                // A journal of an earlier isomail: the row was the unit, and every row was on
                // the list at its own position.
                conn.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)",
                    [key::FORMAT, FORMAT],
                )?;
                conn.execute(
                    "INSERT OR IGNORE INTO meta(key, value) SELECT ?1, value FROM meta WHERE key = ?2",
                    [key::CAMPAIGN_ID, key::FINGERPRINT],
                )?;
            }
            Ok(())
        })();
        migrated.map_err(db_error(path))?;
        let journal = Journal {
            conn,
            path: path.to_path_buf(),
        };
        journal.fill_addresses()?;
        Ok(journal)
    }

    /// Rows journaled before the person was the unit get their normalised address (and their
    /// list position, which was their journal number); then addresses are unique.
    fn fill_addresses(&self) -> Result<(), Error> {
        let missing: Vec<(i64, String)> = self
            .conn
            .prepare("SELECT idx, email FROM recipients WHERE addr IS NULL")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(self.err())?;
        if !missing.is_empty() {
            self.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(self.err())?;
            let filled = (|| -> rusqlite::Result<()> {
                let mut stmt = self.conn.prepare(
                    "UPDATE recipients SET addr = ?2, pos = COALESCE(pos, idx) WHERE idx = ?1",
                )?;
                for (idx, email) in &missing {
                    stmt.execute(params![idx, crate::campaign::normalise(email)])?;
                }
                Ok(())
            })();
            match filled.and_then(|()| self.conn.execute_batch("COMMIT")) {
                Ok(()) => {}
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err(self.err()(e));
                }
            }
        }
        self.conn
            .execute_batch("CREATE UNIQUE INDEX IF NOT EXISTS recipients_addr ON recipients(addr)")
            .map_err(self.err())
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

    /// The lock file of the journal at `path`.
    pub fn lock_path(path: &Path) -> PathBuf {
        path.with_extension("lock")
    }

    /// Whether the lock file at `lock_path` records that a send began sending
    /// ([`JournalLock::mark_sending`]): a sign that the campaign was sent, should its journal be
    /// lost. A send whose preflight failed leaves it unmarked.
    pub fn lock_marked(lock_path: &Path) -> bool {
        use std::io::Read;
        let mut head = [0u8; 8];
        std::fs::File::open(lock_path)
            .and_then(|mut f| f.read(&mut head))
            .is_ok_and(|n| head[..n].starts_with(b"sending"))
    }

    /// Takes the one-sender-per-campaign lock for the journal at `path`.
    pub fn lock(path: &Path) -> Result<JournalLock, Error> {
        let lock_path = Journal::lock_path(path);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                Error::other(format!(
                    "{}: cannot create the lock file: {e}",
                    lock_path.display()
                ))
            })?;
        match file.try_lock() {
            Ok(()) => Ok(JournalLock {
                file,
                path: lock_path,
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::other(format!(
                "{}: another `isomail send` is running for this campaign",
                lock_path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::other(format!(
                "{}: cannot lock: {e}",
                lock_path.display()
            ))),
        }
    }

    /// The fingerprint of the campaign this journal belongs to, once a preflight recorded it.
    pub fn fingerprint(&self) -> Result<Option<String>, Error> {
        self.meta(key::FINGERPRINT)
    }

    pub fn set_fingerprint(&self, fingerprint: &str) -> Result<(), Error> {
        self.set_meta(key::FINGERPRINT, fingerprint)
    }

    /// Whether every message's hash is journaled (the preflight finished).
    pub fn preflight_done(&self) -> Result<bool, Error> {
        Ok(self.meta(key::PREFLIGHT)?.is_some())
    }

    pub fn set_preflight_done(&self) -> Result<(), Error> {
        self.set_meta(key::PREFLIGHT, "done")
    }

    /// The campaign's Date: fixed by the first run and journaled, so every message keeps the
    /// bytes (and hash) its preflight checked, however many runs it takes.
    pub fn date(&self) -> Result<SystemTime, Error> {
        let secs = match self.meta(key::DATE)? {
            Some(secs) => secs.parse().unwrap_or(0),
            None => {
                let now = now().max(0) as u64;
                self.set_meta(key::DATE, &now.to_string())?;
                now
            }
        };
        Ok(UNIX_EPOCH + std::time::Duration::from_secs(secs))
    }

    /// `isomail halt`: asks the send that `run` names (see [`Journal::start_run`]) to stop;
    /// `by` says who asked. A request for an earlier send is never honoured by a later one.
    pub fn request_halt(&self, run: &str, by: &str) -> Result<(), Error> {
        self.set_meta(key::HALT_REQUESTED, &format!("{run}\n{by}"))
    }

    /// Who asked the send `run` to stop, if anyone has.
    pub fn halt_request(&self, run: &str) -> Result<Option<String>, Error> {
        Ok(self.meta(key::HALT_REQUESTED)?.and_then(|request| {
            let (for_run, by) = request.split_once('\n')?;
            (for_run == run).then(|| by.to_owned())
        }))
    }

    /// A new `send` records itself as the one running (under the campaign's lock), dropping
    /// any request that was meant for an earlier one. Returns its name.
    pub fn start_run(&self) -> Result<String, Error> {
        let run = format!("{}-{}", std::process::id(), now_nanos());
        self.delete_meta(key::HALT_REQUESTED)?;
        self.set_meta(key::RUNNING, &run)?;
        Ok(run)
    }

    /// The send last recorded as running (whether it still runs, the lock tells).
    pub fn running(&self) -> Result<Option<String>, Error> {
        self.meta(key::RUNNING)
    }

    /// Whether a halt request for the send last recorded as running is waiting.
    pub fn halt_requested(&self) -> Result<bool, Error> {
        match self.running()? {
            Some(run) => Ok(self.halt_request(&run)?.is_some()),
            None => Ok(false),
        }
    }

    /// The campaign file this journal belongs to, by name, recorded by its first `send`.
    pub fn campaign_file(&self) -> Result<Option<String>, Error> {
        self.meta(key::CAMPAIGN)
    }

    pub fn set_campaign_file(&self, name: &str) -> Result<(), Error> {
        self.set_meta(key::CAMPAIGN, name)
    }

    /// The stable prefix of the delivery keys: the fingerprint the campaign had when it was
    /// first checked (journals of earlier isomails: the one they hold).
    pub fn campaign_id(&self) -> Result<Option<String>, Error> {
        match self.meta(key::CAMPAIGN_ID)? {
            Some(id) => Ok(Some(id)),
            None => self.fingerprint(),
        }
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        db_error(&self.path)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT INTO meta(key, value) VALUES(?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = ?2",
                [key, value],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    fn delete_meta(&self, key: &str) -> Result<(), Error> {
        self.conn
            .execute("DELETE FROM meta WHERE key = ?1", [key])
            .map(|_| ())
            .map_err(self.err())
    }

    /// Records the preflight of a new journal: every recipient pending, with the hash its
    /// message must have, its journal number its list position. One transaction: either the
    /// whole list is journaled or none of it. `send` uses [`Journal::apply_list`], which also
    /// takes a list that changed.
    pub fn insert_preflight(&mut self, rows: &[PreflightRow]) -> Result<(), Error> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(db_error(&path))?;
        {
            let mut stmt = tx
                .prepare(
                    "INSERT INTO recipients(idx, email, state, hash, message_id, created_at, updated_at, addr, pos, data)
                     VALUES(?1, ?2, 'pending', ?3, ?4, ?5, ?5, ?6, ?1, ?7)
                     ON CONFLICT(idx) DO UPDATE SET hash = ?3, message_id = ?4, updated_at = ?5
                     WHERE state = 'pending'",
                )
                .map_err(db_error(&path))?;
            let t = now();
            for row in rows {
                stmt.execute(params![
                    row.index as i64,
                    row.email,
                    row.hash,
                    row.message_id,
                    t,
                    crate::campaign::normalise(&row.email),
                    row.data,
                ])
                .map_err(db_error(&path))?;
            }
        }
        tx.commit().map_err(db_error(&path))
    }

    /// Records the recipients a suppression list names, with which file and line. A row
    /// already past pending (sent before the address was suppressed) keeps its state.
    pub fn insert_suppressed(&mut self, rows: &[SuppressedRow]) -> Result<(), Error> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(db_error(&path))?;
        {
            let mut stmt = tx
                .prepare(
                    "INSERT INTO recipients(idx, email, state, hash, message_id, reply, created_at, updated_at, addr, pos)
                     VALUES(?1, ?2, 'suppressed', '', '', ?3, ?4, ?4, ?5, ?1)
                     ON CONFLICT(idx) DO UPDATE SET state = 'suppressed', reply = ?3, updated_at = ?4
                     WHERE state = 'pending'",
                )
                .map_err(db_error(&path))?;
            let t = now();
            for row in rows {
                stmt.execute(params![
                    row.index as i64,
                    row.email,
                    row.why,
                    t,
                    crate::campaign::normalise(&row.email)
                ])
                .map_err(db_error(&path))?;
            }
        }
        tx.commit().map_err(db_error(&path))
    }

    /// How the list as it is now (`listed`, in list order) differs from what the journal
    /// holds, person by person: what `send --allow-changed` shows before it changes anything.
    pub fn list_changes(&self, listed: &[Listed]) -> Result<ListChanges, Error> {
        let known = self.people()?;
        let mut changes = ListChanges::default();
        let mut on_list = std::collections::HashSet::with_capacity(listed.len());
        for l in listed {
            on_list.insert(l.addr.as_str());
            match known.get(&l.addr) {
                None => changes.new += 1,
                Some(p) if p.state == State::Removed => changes.new += 1,
                Some(p) if p.data.as_deref() == Some(l.data.as_str()) => {
                    changes.unchanged += 1;
                    if p.pos != Some(l.index) {
                        changes.moved += 1;
                    }
                }
                Some(p) => {
                    changes.changed += 1;
                    if p.state != State::Pending {
                        changes.changed_settled += 1;
                    }
                    if p.pos != Some(l.index) {
                        changes.moved += 1;
                    }
                }
            }
        }
        for (addr, p) in &known {
            if on_list.contains(addr.as_str()) || p.state == State::Removed {
                continue;
            }
            if p.state == State::Pending {
                changes.removed += 1;
            } else {
                changes.removed_settled += 1;
            }
        }
        Ok(changes)
    }

    /// Every person in the journal by normalised address.
    fn people(&self) -> Result<HashMap<String, Person>, Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT addr, idx, state, pos, data FROM recipients")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                let state: String = r.get(2)?;
                Ok((
                    r.get::<_, String>(0)?,
                    Person {
                        idx: r.get(1)?,
                        state: State::parse(&state).unwrap_or(State::Ambiguous),
                        pos: r.get::<_, Option<i64>>(3)?.map(|p| p as usize),
                        data: r.get(4)?,
                    },
                ))
            })
            .map_err(self.err())?;
        rows.collect::<Result<HashMap<_, _>, _>>()
            .map_err(self.err())
    }

    /// Journals a preflight of the list as it is now, matching people by normalised address,
    /// never by row, and marks the journal as belonging to the campaign `fingerprint` names,
    /// all in ONE transaction:
    /// - a person already sent, failed, ambiguous, suppressed, bounced or complained keeps
    ///   that fate and hash (only their position on the list is updated): never mailed again;
    /// - a pending person gets the hash of their message as checked now (their row may have
    ///   moved or changed);
    /// - a new person (or one removed earlier and back on the list) is pending, under the
    ///   next free journal number;
    /// - a pending person no longer on the list becomes `removed`: never mailed.
    ///
    /// `rows` are the checked messages and `suppressed` those a suppression list names, each
    /// by list position.
    pub fn apply_list(
        &mut self,
        rows: &[PreflightRow],
        suppressed: &[SuppressedRow],
        fingerprint: &str,
    ) -> Result<(), Error> {
        let known = self.people()?;
        let fresh = known.is_empty();
        let mut next = known.values().map(|p| p.idx).max().unwrap_or(0) + 1;
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(db_error(&path))?;
        let t = now();
        let applied = (|| -> rusqlite::Result<()> {
            tx.execute("UPDATE recipients SET pos = NULL", [])?;
            let mut insert = tx.prepare(
                "INSERT INTO recipients(idx, email, state, hash, message_id, reply, created_at, updated_at, addr, pos, data)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10)",
            )?;
            let mut again = tx.prepare(
                "UPDATE recipients SET state = ?2, email = ?3, hash = ?4, message_id = ?5,
                 reply = CASE WHEN state = 'removed' OR ?2 <> 'pending' THEN ?6 ELSE reply END,
                 updated_at = ?7, pos = ?8, data = ?9 WHERE idx = ?1",
            )?;
            let mut moved = tx.prepare("UPDATE recipients SET pos = ?2 WHERE idx = ?1")?;
            let people = rows
                .iter()
                .map(|r| {
                    (
                        r.index,
                        &r.email,
                        "pending",
                        r.hash.as_str(),
                        r.message_id.as_str(),
                        None,
                        r.data.as_str(),
                    )
                })
                .chain(suppressed.iter().map(|s| {
                    (
                        s.index,
                        &s.email,
                        "suppressed",
                        "",
                        "",
                        Some(s.why.as_str()),
                        "",
                    )
                }));
            for (index, email, state, hash, message_id, reply, data) in people {
                let addr = crate::campaign::normalise(email);
                let pos = index as i64;
                match known.get(&addr) {
                    Some(p) if matches!(p.state, State::Pending | State::Removed) => {
                        again.execute(params![
                            p.idx, state, email, hash, message_id, reply, t, pos, data
                        ])?;
                    }
                    Some(p) => {
                        moved.execute(params![p.idx, pos])?;
                    }
                    None => {
                        let idx = if fresh {
                            pos
                        } else {
                            next += 1;
                            next - 1
                        };
                        insert.execute(params![
                            idx, email, state, hash, message_id, reply, t, addr, pos, data
                        ])?;
                    }
                }
            }
            tx.execute(
                "UPDATE recipients SET state = 'removed', reply = 'removed from the list before it was mailed',
                 updated_at = ?1 WHERE pos IS NULL AND state = 'pending'",
                [t],
            )?;
            for (key, value) in [(key::FINGERPRINT, fingerprint), (key::PREFLIGHT, "done")] {
                tx.execute(
                    "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
                    [key, value],
                )?;
            }
            tx.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES(?1, ?2)",
                [key::CAMPAIGN_ID, fingerprint],
            )?;
            Ok(())
        })();
        applied.map_err(db_error(&path))?;
        tx.commit().map_err(db_error(&path))
    }

    /// Moves every pending recipient that `why` names (a suppression list read again) to
    /// `suppressed`, in one transaction; returns how many moved.
    pub fn suppress_pending(
        &mut self,
        why: impl Fn(&str) -> Option<String>,
    ) -> Result<usize, Error> {
        let rows: Vec<SuppressedRow> = self
            .rows_in(State::Pending)?
            .into_iter()
            .filter_map(|row| {
                why(&row.email).map(|why| SuppressedRow {
                    index: row.index,
                    email: row.email,
                    why,
                })
            })
            .collect();
        self.insert_suppressed(&rows)?;
        Ok(rows.len())
    }

    /// After a crash: every `sending` row's fate is unknown. `resolve` may settle one (a Maildir
    /// can see whether the file arrived); the rest become `ambiguous`. Returns how many did.
    pub fn recover(&self, resolve: impl Fn(&Row) -> Option<State>) -> Result<usize, Error> {
        let in_flight = self.rows_in(State::Sending)?;
        let mut ambiguous = 0;
        for row in in_flight {
            match resolve(&row) {
                Some(state) => self.set_state(
                    row.index,
                    state,
                    Some(&Reply::local("found delivered after an interrupted run")),
                )?,
                None => {
                    ambiguous += 1;
                    self.set_state(
                        row.index,
                        State::Ambiguous,
                        Some(&Reply::local("interrupted while sending: fate unknown")),
                    )?;
                }
            }
        }
        Ok(ambiguous)
    }

    /// Marks a row `sending`, counting the attempt, and returns the attempts so far. Committed
    /// before the transport sees it. Only a pending row may be sent, or an ambiguous one when
    /// the operator asked for it.
    pub fn begin_send(
        &self,
        index: usize,
        stage: usize,
        resend_ambiguous: bool,
    ) -> Result<u32, Error> {
        let attempts: Option<i64> = self
            .conn
            .prepare_cached(
                "UPDATE recipients SET state = 'sending', attempts = attempts + 1, stage = ?2, updated_at = ?3
                 WHERE idx = ?1 AND (state = 'pending' OR (state = 'ambiguous' AND ?4))
                 RETURNING attempts",
            )
            .and_then(|mut stmt| {
                stmt.query_row(
                    params![index as i64, stage as i64, now(), resend_ambiguous],
                    |r| r.get(0),
                )
                .optional()
            })
            .map_err(self.err())?;
        match attempts {
            Some(n) => Ok(u32::try_from(n).unwrap_or(u32::MAX)),
            None => Err(Error::other(format!(
                "journal: recipient #{index} is not pending; refusing to send it"
            ))),
        }
    }

    /// Records a final or intermediate state with the server's reply.
    pub fn set_state(
        &self,
        index: usize,
        state: State,
        reply: Option<&Reply>,
    ) -> Result<(), Error> {
        let (text, code, status) = match reply {
            Some(r) => (Some(r.text.as_str()), r.code, r.status.as_deref()),
            None => (None, None, None),
        };
        self.conn
            .prepare_cached(
                "UPDATE recipients SET state = ?2, reply = ?3, reply_code = ?4, reply_status = ?5,
                 updated_at = ?6 WHERE idx = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    index as i64,
                    state.as_str(),
                    text,
                    code,
                    status,
                    now()
                ])
            })
            .map(|_| ())
            .map_err(self.err())
    }

    /// Records which relay took (or was last dealt) the message.
    pub fn set_relay(&self, index: usize, relay: &str) -> Result<(), Error> {
        self.conn
            .prepare_cached("UPDATE recipients SET relay = ?2 WHERE idx = ?1")
            .and_then(|mut stmt| stmt.execute(params![index as i64, relay]))
            .map(|_| ())
            .map_err(self.err())
    }

    /// Applies `writes` in ONE transaction (one fsync), each write's result in order. A write
    /// that is refused (a row not pending) changes nothing and does not stop the others; if the
    /// commit fails, every write fails with it.
    fn apply(&self, writes: &[Write]) -> Vec<Result<u32, Error>> {
        let all_fail = |e: rusqlite::Error| {
            let message = self.err()(e).to_string();
            writes
                .iter()
                .map(|_| Err(Error::other(message.clone())))
                .collect()
        };
        if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
            return all_fail(e);
        }
        let results = writes
            .iter()
            .map(|write| match write {
                Write::BeginSend {
                    index,
                    stage,
                    resend_ambiguous,
                } => self.begin_send(*index, *stage, *resend_ambiguous),
                Write::SetState {
                    index,
                    state,
                    reply,
                    relay,
                } => self
                    .set_state(*index, *state, reply.as_ref())
                    .and_then(|()| match relay {
                        Some(relay) => self.set_relay(*index, relay),
                        None => Ok(()),
                    })
                    .map(|()| 0),
            })
            .collect();
        match self.conn.execute_batch("COMMIT") {
            Ok(()) => results,
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                all_fail(e)
            }
        }
    }

    pub fn counts(&self) -> Result<Counts, Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT state, COUNT(*) FROM recipients GROUP BY state")
            .map_err(self.err())?;
        let mut counts = Counts::default();
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(self.err())?;
        for row in rows {
            let (state, n) = row.map_err(self.err())?;
            let n = n as usize;
            match State::parse(&state) {
                Some(State::Pending) => counts.pending = n,
                Some(State::Sending) => counts.sending = n,
                Some(State::Sent) => counts.sent = n,
                Some(State::Failed) => counts.failed = n,
                Some(State::Ambiguous) => counts.ambiguous = n,
                Some(State::Suppressed) => counts.suppressed = n,
                Some(State::Bounced) => counts.bounced = n,
                Some(State::Complained) => counts.complained = n,
                Some(State::Removed) => counts.removed = n,
                None => {}
            }
        }
        Ok(counts)
    }

    /// Rows in `state`, in list order.
    pub fn rows_in(&self, state: State) -> Result<Vec<Row>, Error> {
        self.rows_where("state = ?1", state.as_str(), usize::MAX)
    }

    /// Ambiguous rows of people still on the list (the ones `--resend-ambiguous` may send).
    pub fn ambiguous_on_list(&self) -> Result<Vec<Row>, Error> {
        self.rows_where("state = ?1 AND pos IS NOT NULL", "ambiguous", usize::MAX)
    }

    /// The next `limit` rows in `state`, in list order.
    pub fn next_rows(&self, state: State, limit: usize) -> Result<Vec<Row>, Error> {
        self.rows_where("state = ?1", state.as_str(), limit)
    }

    pub fn row(&self, index: usize) -> Result<Option<Row>, Error> {
        Ok(self.rows_where("idx = ?1", &index.to_string(), 1)?.pop())
    }

    fn rows_where(&self, condition: &str, value: &str, limit: usize) -> Result<Vec<Row>, Error> {
        let sql = format!(
            "SELECT idx, email, state, hash, message_id, attempts, reply, stage, reply_code, reply_status, relay
             FROM recipients WHERE {condition} ORDER BY idx LIMIT ?2"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![value, limit], |r| {
                let state: String = r.get(2)?;
                Ok(Row {
                    index: r.get::<_, i64>(0)? as usize,
                    email: r.get(1)?,
                    state: State::parse(&state).unwrap_or(State::Ambiguous),
                    hash: r.get(3)?,
                    message_id: r.get(4)?,
                    attempts: r.get::<_, i64>(5)? as u32,
                    reply: r.get(6)?,
                    stage: r.get::<_, Option<i64>>(7)?.map(|s| s as usize),
                    reply_code: r
                        .get::<_, Option<i64>>(8)?
                        .and_then(|c| u16::try_from(c).ok()),
                    reply_status: r.get(9)?,
                    relay: r.get(10)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    pub fn start_stage(&self, stage: usize, target: usize) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT INTO stages(stage, target, started_at) VALUES(?1, ?2, ?3)
                 ON CONFLICT(stage) DO UPDATE SET finished_at = NULL, outcome = NULL",
                params![stage as i64, target as i64, now()],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    pub fn finish_stage(&self, stage: usize, outcome: &str) -> Result<(), Error> {
        self.conn
            .execute(
                "UPDATE stages SET finished_at = ?2, outcome = ?3 WHERE stage = ?1",
                params![stage as i64, now(), outcome],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// (stage, target, outcome) of every stage started so far.
    pub fn stages(&self) -> Result<Vec<(usize, usize, Option<String>)>, Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT stage, target, outcome FROM stages ORDER BY stage")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as usize,
                    r.get::<_, i64>(1)? as usize,
                    r.get(2)?,
                ))
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Whether stage `stage`'s seed copy to `email` is already settled (sent or attempted).
    pub fn seed_done(&self, stage: usize, email: &str) -> Result<bool, Error> {
        self.conn
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM seeds WHERE stage = ?1 AND email = ?2)",
                params![stage as i64, email],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    pub fn record_seed(
        &self,
        stage: usize,
        email: &str,
        state: State,
        reply: Option<&str>,
    ) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT INTO seeds(stage, email, state, reply, updated_at) VALUES(?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(stage, email) DO UPDATE SET state = ?3, reply = ?4, updated_at = ?5",
                params![stage as i64, email, state.as_str(), reply, now()],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// Every seed copy, by stage and address.
    pub fn seeds(&self) -> Result<Vec<SeedRow>, Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT stage, email, state, reply FROM seeds ORDER BY stage, email")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SeedRow {
                    stage: r.get::<_, i64>(0)? as usize,
                    email: r.get(1)?,
                    state: r.get(2)?,
                    reply: r.get(3)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Sent rows per stage: (stage, sent).
    pub fn sent_per_stage(&self) -> Result<Vec<(usize, usize)>, Error> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT stage, COUNT(*) FROM recipients WHERE state = 'sent' AND stage IS NOT NULL
                 GROUP BY stage ORDER BY stage",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)? as usize, r.get::<_, i64>(1)? as usize))
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }
}

/// One mail `isomail bounces` read, as the journal keeps it (so it is never counted twice).
#[derive(Debug, Clone)]
pub struct ReportRecord {
    /// The Maildir file's unique part (before `:2,`).
    pub name: String,
    /// SHA-256 of its bytes: the same report under another name is not counted again.
    pub hash: String,
    /// The recipient it is about, when it is one of this campaign's.
    pub index: Option<usize>,
    /// `hard`, `soft`, `complaint`, `other` (not a report, or not ours) or `duplicate`.
    pub kind: &'static str,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    /// The state the recipient moves to, if it moves.
    pub new_state: Option<State>,
}

/// Bounces and complaints of one stage's recipients: distinct recipients per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StageBounces {
    pub stage: usize,
    pub hard: usize,
    pub soft: usize,
    pub complaints: usize,
}

impl Journal {
    /// Every recipient's row, in list order.
    pub fn all_rows(&self) -> Result<Vec<Row>, Error> {
        self.rows_where("idx >= ?1", "0", usize::MAX)
    }

    /// The unique names and hashes of every mail already read from the bounce mailbox.
    pub fn reports_read(
        &self,
    ) -> Result<
        (
            std::collections::HashSet<String>,
            std::collections::HashSet<String>,
        ),
        Error,
    > {
        let mut stmt = self
            .conn
            .prepare("SELECT name, hash FROM reports")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.err())?;
        let (mut names, mut hashes) = (
            std::collections::HashSet::new(),
            std::collections::HashSet::new(),
        );
        for row in rows {
            let (name, hash) = row.map_err(self.err())?;
            names.insert(name);
            hashes.insert(hash);
        }
        Ok((names, hashes))
    }

    /// Records what was read and moves the recipients it names, in ONE transaction. A
    /// recipient moves only from `sent` or `ambiguous` (or `bounced`, to `complained`).
    pub fn record_reports(&mut self, records: &[ReportRecord]) -> Result<(), Error> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(db_error(&path))?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT OR IGNORE INTO reports(name, hash, idx, kind, status, diagnostic, read_at)
                     VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(db_error(&path))?;
            let mut update = tx
                .prepare(
                    "UPDATE recipients SET state = ?2, reply = ?3, reply_code = NULL,
                     reply_status = ?4, updated_at = ?5
                     WHERE idx = ?1 AND state IN ('sent', 'ambiguous', 'bounced')",
                )
                .map_err(db_error(&path))?;
            let t = now();
            for r in records {
                let index = r.index.map(|i| i as i64);
                insert
                    .execute(params![
                        r.name,
                        r.hash,
                        index,
                        r.kind,
                        r.status,
                        r.diagnostic,
                        t
                    ])
                    .map_err(db_error(&path))?;
                if let (Some(index), Some(state)) = (index, r.new_state) {
                    let text = r
                        .diagnostic
                        .as_deref()
                        .unwrap_or("report without a diagnostic");
                    update
                        .execute(params![index, state.as_str(), text, r.status, t])
                        .map_err(db_error(&path))?;
                }
            }
        }
        tx.commit().map_err(db_error(&path))
    }

    /// Messages of `stage` that went out: sent, bounced, complained or ambiguous.
    pub fn went_out_in_stage(&self, stage: usize) -> Result<usize, Error> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM recipients WHERE stage = ?1
                 AND state IN ('sent', 'bounced', 'complained', 'ambiguous')",
                [stage as i64],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(self.err())
    }

    /// Hard bounces, soft bounces and complaints per stage (distinct recipients).
    pub fn bounces_per_stage(&self) -> Result<Vec<StageBounces>, Error> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.stage, p.kind, COUNT(DISTINCT p.idx) FROM reports p
                 JOIN recipients r ON r.idx = p.idx
                 WHERE r.stage IS NOT NULL AND p.kind IN ('hard', 'soft', 'complaint')
                 GROUP BY r.stage, p.kind ORDER BY r.stage",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as usize,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)? as usize,
                ))
            })
            .map_err(self.err())?;
        let mut out: Vec<StageBounces> = Vec::new();
        for row in rows {
            let (stage, kind, n) = row.map_err(self.err())?;
            if out.last().is_none_or(|s| s.stage != stage) {
                out.push(StageBounces {
                    stage,
                    ..StageBounces::default()
                });
            }
            if let Some(s) = out.last_mut() {
                match kind.as_str() {
                    "hard" => s.hard = n,
                    "soft" => s.soft = n,
                    _ => s.complaints = n,
                }
            }
        }
        Ok(out)
    }
}

/// One write the senders hand to the [`Committer`].
#[derive(Debug)]
pub enum Write {
    /// [`Journal::begin_send`]; its result is the attempt count.
    BeginSend {
        index: usize,
        stage: usize,
        resend_ambiguous: bool,
    },
    /// [`Journal::set_state`]; its result is 0.
    SetState {
        index: usize,
        state: State,
        reply: Option<Reply>,
        /// The relay the transport dealt the message to, if it says.
        relay: Option<String>,
    },
}

/// Journals made before replies were kept with their codes (or before several relays, or before
/// the person was the unit) get the columns (NULL for the rows already there).
fn add_columns(conn: &Connection) -> rusqlite::Result<()> {
    let mut has = conn.prepare("SELECT 1 FROM pragma_table_info('recipients') WHERE name = ?1")?;
    for (column, kind) in [
        ("reply_code", "INTEGER"),
        ("reply_status", "TEXT"),
        ("relay", "TEXT"),
        ("addr", "TEXT"),
        ("pos", "INTEGER"),
        ("data", "TEXT"),
    ] {
        if !has.exists([column])? {
            conn.execute_batch(&format!(
                "ALTER TABLE recipients ADD COLUMN {column} {kind}"
            ))?;
        }
    }
    Ok(())
}

/// Group commit: the concurrent senders' journal writes share transactions, and so fsyncs.
///
/// Each [`Committer::write`] returns only once its write is committed, exactly as a lone
/// transaction would, so `sending` is still durable before the transport sees a message; what
/// changes is that writes arriving while one commit is under way are committed together by
/// the next. Whoever finds no commit running becomes the committer for everything queued.
pub struct Committer<'a> {
    journal: &'a Mutex<Journal>,
    queue: Mutex<Queue>,
    done: Condvar,
    commits: AtomicU64,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<(u64, Write)>,
    results: HashMap<u64, Result<u32, Error>>,
    next_ticket: u64,
    committing: bool,
}

impl<'a> Committer<'a> {
    pub fn new(journal: &'a Mutex<Journal>) -> Committer<'a> {
        Committer {
            journal,
            queue: Mutex::new(Queue::default()),
            done: Condvar::new(),
            commits: AtomicU64::new(0),
        }
    }

    /// Transactions committed so far (each is one fsync), for every write handed in.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Queues `write`, and returns its result once it is durably committed (or failed).
    pub fn write(&self, write: Write) -> Result<u32, Error> {
        let poisoned = || Error::other("journal lock poisoned");
        let mut queue = self.queue.lock().map_err(|_| poisoned())?;
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.waiting.push((ticket, write));
        loop {
            if let Some(result) = queue.results.remove(&ticket) {
                return result;
            }
            if queue.committing {
                queue = self.done.wait(queue).map_err(|_| poisoned())?;
                continue;
            }
            // No commit under way: commit everything queued, this write included.
            queue.committing = true;
            let (tickets, writes): (Vec<u64>, Vec<Write>) =
                std::mem::take(&mut queue.waiting).into_iter().unzip();
            drop(queue);
            let results = match self.journal.lock() {
                Ok(journal) => {
                    self.commits.fetch_add(1, Ordering::Relaxed);
                    journal.apply(&writes)
                }
                Err(_) => writes.iter().map(|_| Err(poisoned())).collect(),
            };
            queue = self.queue.lock().map_err(|_| poisoned())?;
            queue.committing = false;
            for (ticket, result) in tickets.into_iter().zip(results) {
                queue.results.insert(ticket, result);
            }
            self.done.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recipients table and meta of the first journal format, before replies kept their
    /// codes, before relays, before the person was the unit.
    const OLD_SCHEMA: &str = "
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE recipients (
            idx INTEGER PRIMARY KEY, email TEXT NOT NULL, state TEXT NOT NULL, hash TEXT NOT NULL,
            message_id TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, reply TEXT,
            stage INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
        );";

    fn preflight(index: usize, email: &str, hash: &str) -> PreflightRow {
        PreflightRow {
            index,
            email: email.to_owned(),
            hash: hash.to_owned(),
            message_id: format!("<{hash}@x>"),
            data: format!("{email}/{hash}"),
        }
    }

    fn state_of(journal: &Journal, email: &str) -> (usize, State, String) {
        let row = journal
            .all_rows()
            .expect("rows")
            .into_iter()
            .find(|r| r.email.eq_ignore_ascii_case(email))
            .unwrap_or_else(|| panic!("{email} is not in the journal"));
        (row.index, row.state, row.hash)
    }

    #[test]
    fn a_changed_list_is_matched_by_person_never_by_row() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut journal = Journal::open(&dir.path().join("j.sqlite")).expect("open");
        let first: Vec<PreflightRow> = ["a", "b", "c", "d"]
            .iter()
            .enumerate()
            .map(|(i, n)| preflight(i + 1, &format!("{n}@x.test"), &format!("{n}1")))
            .collect();
        journal.apply_list(&first, &[], "f1").expect("first");
        journal.set_state(1, State::Sent, None).expect("a sent");
        journal.set_state(2, State::Failed, None).expect("b failed");
        // New list: `new` inserted at the top, a moved, B's case and data changed, c removed
        // (pending), d's data changed (pending).
        let listed = |index: usize, email: &str, data: &str| Listed {
            index,
            addr: crate::campaign::normalise(email),
            data: data.to_owned(),
        };
        let now = [
            listed(1, "new@x.test", "n"),
            listed(2, "d@x.test", "changed"),
            listed(3, "B@x.test", "changed"),
            listed(4, "a@x.test", "a@x.test/a1"),
        ];
        let changes = journal.list_changes(&now).expect("changes");
        assert_eq!(
            changes,
            ListChanges {
                new: 1,
                removed: 1,
                removed_settled: 0,
                changed: 2,
                changed_settled: 1,
                unchanged: 1,
                moved: 3,
            }
        );
        // Nothing changes before apply_list.
        assert_eq!(state_of(&journal, "c@x.test").1, State::Pending);
        let second = [
            preflight(1, "new@x.test", "n2"),
            preflight(2, "d@x.test", "d2"),
            preflight(3, "B@x.test", "b2"),
            preflight(4, "a@x.test", "a2"),
        ];
        journal.apply_list(&second, &[], "f2").expect("second");
        assert_eq!(
            state_of(&journal, "a@x.test"),
            (1, State::Sent, "a1".into())
        );
        assert_eq!(
            state_of(&journal, "b@x.test"),
            (2, State::Failed, "b1".into())
        );
        assert_eq!(state_of(&journal, "c@x.test").1, State::Removed);
        assert_eq!(
            state_of(&journal, "d@x.test"),
            (4, State::Pending, "d2".into())
        );
        // The newcomer gets the next free number, never a sent person's.
        assert_eq!(
            state_of(&journal, "new@x.test"),
            (5, State::Pending, "n2".into())
        );
        let counts = journal.counts().expect("counts");
        assert_eq!(
            (counts.removed, counts.sendable(), counts.pending),
            (1, 4, 2)
        );
        // c back on the list: pending again, under their own number.
        let third = [preflight(1, "c@x.test", "c3")];
        journal.apply_list(&third, &[], "f3").expect("third");
        assert_eq!(
            state_of(&journal, "c@x.test"),
            (3, State::Pending, "c3".into())
        );
        assert_eq!(state_of(&journal, "d@x.test").1, State::Removed);
        assert_eq!(journal.campaign_id().expect("id").as_deref(), Some("f1"));
        assert_eq!(journal.fingerprint().expect("fp").as_deref(), Some("f3"));
    }

    #[test]
    fn a_file_that_is_not_an_isomail_journal_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cases: [(&str, &[u8]); 3] = [
            ("empty", b""),
            (
                "garbage",
                b"this is not a database at all, just some text that is long enough",
            ),
            ("sqlite", b""),
        ];
        for (name, bytes) in cases {
            let path = dir.path().join(name);
            if name == "sqlite" {
                let conn = Connection::open(&path).expect("other db");
                conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
                    .expect("other table");
            } else {
                std::fs::write(&path, bytes).expect("write");
            }
            let before = std::fs::read(&path).expect("read");
            let err = Journal::open(&path)
                .err()
                .unwrap_or_else(|| panic!("{name} was opened"));
            assert_eq!(err.kind(), crate::ErrorKind::Input, "{name}: {err}");
            assert!(
                err.to_string().contains("never starts a campaign over"),
                "{name}: {err}"
            );
            assert_eq!(
                std::fs::read(&path).expect("read"),
                before,
                "{name} was changed"
            );
        }
        // Control: a missing file is created, and opens again as a journal.
        let path = dir.path().join("new");
        drop(Journal::open(&path).expect("created"));
        Journal::open(&path).expect("reopened");
        Journal::open_existing(&path).expect("exists");
    }

    fn journal_with(n: usize) -> (tempfile::TempDir, Journal) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut journal = Journal::open(&dir.path().join("j.sqlite")).expect("open");
        let rows: Vec<PreflightRow> = (1..=n)
            .map(|index| PreflightRow {
                index,
                email: format!("r{index}@list.test"),
                hash: format!("h{index}"),
                message_id: format!("<m{index}@x>"),
                data: format!("d{index}"),
            })
            .collect();
        journal.insert_preflight(&rows).expect("preflight");
        (dir, journal)
    }

    #[test]
    fn begin_send_refuses_every_row_that_is_not_pending() {
        let (_dir, journal) = journal_with(5);
        assert_eq!(journal.begin_send(1, 1, false).expect("pending"), 1);
        // In flight, sent, failed: never handed out again.
        journal.set_state(2, State::Sent, None).expect("sent");
        journal.set_state(3, State::Failed, None).expect("failed");
        journal
            .set_state(4, State::Ambiguous, None)
            .expect("ambiguous");
        for index in [1, 2, 3, 4] {
            assert!(journal.begin_send(index, 1, false).is_err(), "#{index}");
        }
        assert!(journal.begin_send(99, 1, false).is_err(), "no such row");
        // Ambiguous only when the operator asks; and the attempt is counted.
        assert_eq!(journal.begin_send(4, 1, true).expect("resend"), 1);
        // Control: a pending row is still handed out, with its attempts counted.
        journal.set_state(5, State::Pending, None).expect("pending");
        assert_eq!(journal.begin_send(5, 2, false).expect("first"), 1);
        journal
            .set_state(5, State::Pending, None)
            .expect("deferred");
        assert_eq!(journal.begin_send(5, 2, false).expect("second"), 2);
    }

    #[test]
    fn recover_settles_what_it_can_and_marks_the_rest_ambiguous() {
        let (_dir, journal) = journal_with(4);
        for index in [1, 2, 3] {
            journal.begin_send(index, 1, false).expect("sending");
        }
        // #1 is known delivered, #2 known not to be, #3 unknown; #4 was never in flight.
        let ambiguous = journal
            .recover(|row| match row.index {
                1 => Some(State::Sent),
                2 => Some(State::Pending),
                _ => None,
            })
            .expect("recover");
        assert_eq!(ambiguous, 1);
        let state = |i| journal.row(i).expect("row").expect("exists").state;
        assert_eq!(
            [state(1), state(2), state(3), state(4)],
            [
                State::Sent,
                State::Pending,
                State::Ambiguous,
                State::Pending
            ]
        );
        let row = journal.row(3).expect("row").expect("exists");
        assert_eq!(
            row.reply.as_deref(),
            Some("interrupted while sending: fate unknown")
        );
        // Nothing is left in flight, so a second recovery changes nothing.
        assert_eq!(journal.recover(|_| None).expect("again"), 0);
        assert_eq!(journal.counts().expect("counts").sending, 0);
    }

    #[test]
    fn replies_keep_their_codes_and_old_journals_gain_the_columns() {
        let (dir, journal) = journal_with(1);
        let reply = Reply::smtp(550, "550 5.1.1 no such user");
        journal
            .set_state(1, State::Failed, Some(&reply))
            .expect("failed");
        let row = journal.row(1).expect("row").expect("exists");
        assert_eq!(row.reply_code, Some(550));
        assert_eq!(row.reply_status.as_deref(), Some("5.1.1"));
        // A journal written before the columns existed (the first format's tables, as that
        // isomail made them) opens and keeps its rows.
        let old = dir.path().join("old.sqlite");
        let conn = Connection::open(&old).expect("old");
        conn.execute_batch(OLD_SCHEMA).expect("old schema");
        conn.execute(
            "INSERT INTO recipients(idx, email, state, hash, message_id, created_at, updated_at)
             VALUES(1, 'A@x.test', 'sent', 'h', '<m>', 0, 0), (2, 'b@x.test', 'pending', 'h2', '<m2>', 0, 0)",
            [],
        )
        .expect("old rows");
        conn.execute(
            "INSERT INTO meta(key, value) VALUES('fingerprint', 'f1')",
            [],
        )
        .expect("old meta");
        // The set-up is what it claims: none of the later columns is there yet.
        for column in ["reply_code", "reply_status", "relay", "addr", "pos", "data"] {
            let has: bool = conn
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM pragma_table_info('recipients') WHERE name = ?1)",
                    [column],
                    |r| r.get(0),
                )
                .expect("table info");
            assert!(!has, "the old schema already has {column}");
        }
        drop(conn);
        let mut reopened = Journal::open(&old).expect("migrated");
        let row = reopened.row(1).expect("row").expect("exists");
        assert_eq!((row.state, row.reply_code), (State::Sent, None));
        assert_eq!(row.relay, None);
        // The person is now the unit: the sent row is matched by address, whatever its case
        // and row, and keeps its fate; the first fingerprint becomes the campaign's id.
        assert_eq!(reopened.campaign_id().expect("id").as_deref(), Some("f1"));
        let moved = [
            preflight(1, "b@x.test", "h2new"),
            preflight(2, "a@X.TEST", "hnew"),
        ];
        reopened.apply_list(&moved, &[], "f2").expect("apply");
        let row = reopened.row(1).expect("row").expect("exists");
        assert_eq!((row.state, row.hash.as_str()), (State::Sent, "h"));
        let row = reopened.row(2).expect("row").expect("exists");
        assert_eq!((row.state, row.hash.as_str()), (State::Pending, "h2new"));
        reopened
            .set_relay(1, "smtp://127.0.0.1:2525")
            .expect("relay");
        let row = reopened.row(1).expect("row").expect("exists");
        assert_eq!(row.relay.as_deref(), Some("smtp://127.0.0.1:2525"));
    }
}
