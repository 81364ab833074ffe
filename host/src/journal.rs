//! The journal: one SQLite row per recipient recording its fate, so a campaign can stop at any
//! moment (halt, crash, `kill -9`, power loss) and resume without sending anyone a second copy
//! or forgetting anyone.
//!
//! A row moves pending → sending → sent | failed | ambiguous. `sending` is committed *before*
//! the message is handed to the transport, so after a crash a `sending` row is a message whose
//! fate is unknown: it becomes `ambiguous` and is re-sent only when the operator says so. WAL
//! mode with `synchronous = FULL`: a commit survives power loss.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use crate::Error;
use crate::transport::Reply;

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
    pub index: usize,
    pub email: String,
    pub hash: String,
    pub message_id: String,
}

/// Held while a `send` runs: one sender per campaign. An advisory lock on `<journal>.lock`,
/// released by the OS even after `kill -9`.
#[derive(Debug)]
pub struct JournalLock {
    _file: std::fs::File,
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
    }
    /// Recipients a send may still reach or has reached: everyone not suppressed.
    pub fn sendable(&self) -> usize {
        self.total() - self.suppressed
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
    updated_at INTEGER NOT NULL
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
}

fn db_error(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::other(format!("{}: journal error: {e}", path.display()))
}

impl Journal {
    /// Opens (creating if needed) the journal at `path`.
    pub fn open(path: &Path) -> Result<Journal, Error> {
        let conn = Connection::open(path).map_err(db_error(path))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db_error(path))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_error(path))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_error(path))?;
        conn.execute_batch(SCHEMA).map_err(db_error(path))?;
        add_reply_columns(&conn).map_err(db_error(path))?;
        Ok(Journal {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing journal, or says there is none.
    pub fn open_existing(path: &Path) -> Result<Journal, Error> {
        if !path.is_file() {
            return Err(Error::input(format!(
                "{}: no journal: this campaign has not been sent",
                path.display()
            )));
        }
        Journal::open(path)
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

    /// Takes the one-sender-per-campaign lock for the journal at `path`.
    pub fn lock(path: &Path) -> Result<JournalLock, Error> {
        let lock_path = path.with_extension("lock");
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
            Ok(()) => Ok(JournalLock { _file: file }),
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

    /// A changed campaign must be checked again before anything more is sent.
    pub fn forget_preflight(&self) -> Result<(), Error> {
        self.delete_meta(key::PREFLIGHT)
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

    /// `isomail halt`: asks the running send to stop; `by` says who asked.
    pub fn request_halt(&self, by: &str) -> Result<(), Error> {
        self.set_meta(key::HALT_REQUESTED, by)
    }

    /// Who asked the running send to stop, if anyone has.
    pub fn halt_request(&self) -> Result<Option<String>, Error> {
        self.meta(key::HALT_REQUESTED)
    }

    /// A new `send` starts without the request that stopped the last one.
    pub fn clear_halt_request(&self) -> Result<(), Error> {
        self.delete_meta(key::HALT_REQUESTED)
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

    /// Records the preflight: every recipient pending, with the hash its message must have.
    /// One transaction: either the whole list is journaled or none of it.
    pub fn insert_preflight(&mut self, rows: &[PreflightRow]) -> Result<(), Error> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(db_error(&path))?;
        {
            let mut stmt = tx
                .prepare(
                    "INSERT INTO recipients(idx, email, state, hash, message_id, created_at, updated_at)
                     VALUES(?1, ?2, 'pending', ?3, ?4, ?5, ?5)
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
                    t
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
                    "INSERT INTO recipients(idx, email, state, hash, message_id, reply, created_at, updated_at)
                     VALUES(?1, ?2, 'suppressed', '', '', ?3, ?4, ?4)
                     ON CONFLICT(idx) DO UPDATE SET state = 'suppressed', reply = ?3, updated_at = ?4
                     WHERE state = 'pending'",
                )
                .map_err(db_error(&path))?;
            let t = now();
            for row in rows {
                stmt.execute(params![row.index as i64, row.email, row.why, t])
                    .map_err(db_error(&path))?;
            }
        }
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
            let message = self.err()(e).message;
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
                None => {}
            }
        }
        Ok(counts)
    }

    /// Rows in `state`, in list order.
    pub fn rows_in(&self, state: State) -> Result<Vec<Row>, Error> {
        self.rows_where("state = ?1", state.as_str(), usize::MAX)
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

/// Journals made before replies were kept with their codes (or before several relays) get the
/// columns (NULL for the rows already there).
fn add_reply_columns(conn: &Connection) -> rusqlite::Result<()> {
    let mut has = conn.prepare("SELECT 1 FROM pragma_table_info('recipients') WHERE name = ?1")?;
    for (column, kind) in [
        ("reply_code", "INTEGER"),
        ("reply_status", "TEXT"),
        ("relay", "TEXT"),
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

    fn journal_with(n: usize) -> (tempfile::TempDir, Journal) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut journal = Journal::open(&dir.path().join("j.sqlite")).expect("open");
        let rows: Vec<PreflightRow> = (1..=n)
            .map(|index| PreflightRow {
                index,
                email: format!("r{index}@list.test"),
                hash: format!("h{index}"),
                message_id: format!("<m{index}@x>"),
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
        // A journal written before the columns existed opens and keeps its rows.
        let old = dir.path().join("old.sqlite");
        let conn = Connection::open(&old).expect("old");
        conn.execute_batch(
            &SCHEMA
                .replace("reply_code INTEGER,", "")
                .replace("reply_status TEXT,", "")
                .replace("relay TEXT,", ""),
        )
        .expect("old schema");
        conn.execute(
            "INSERT INTO recipients(idx, email, state, hash, message_id, created_at, updated_at)
             VALUES(1, 'a@x.test', 'sent', 'h', '<m>', 0, 0)",
            [],
        )
        .expect("old row");
        drop(conn);
        let reopened = Journal::open(&old).expect("migrated");
        let row = reopened.row(1).expect("row").expect("exists");
        assert_eq!((row.state, row.reply_code), (State::Sent, None));
        assert_eq!(row.relay, None);
        reopened
            .set_relay(1, "smtp://127.0.0.1:2525")
            .expect("relay");
        let row = reopened.row(1).expect("row").expect("exists");
        assert_eq!(row.relay.as_deref(), Some("smtp://127.0.0.1:2525"));
    }
}
