//! The journal's tables and its file: creating a new journal so no crash leaves half of one,
//! opening an existing one only when it is an isomail journal of a format this isomail knows,
//! and migrating the journals of earlier isomails to today's columns.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::meta::key;
use super::{Journal, JournalError, Refusal, db_error};

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

/// The journal format this version writes (2: the recipient, not the row, is the unit).
const FORMAT: &str = "2";

/// Makes a new journal whole under a temporary name, then links it into place, so no crash can
/// leave a half-made journal at `path` (which the next run would refuse), and a journal
/// someone else made meanwhile is never overwritten.
pub(super) fn create(path: &Path) -> Result<Journal, JournalError> {
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
    if let Err(e) = make(&temp) {
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
        Err(source) => {
            return Err(JournalError::Create {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    open_file(path)
}

/// Writes a new, empty journal of today's format at `temp`.
fn make(temp: &Path) -> rusqlite::Result<()> {
    let conn = Connection::open(temp)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(SCHEMA)?;
    add_columns(&conn)?;
    conn.execute(
        "INSERT INTO meta(key, value) VALUES(?1, ?2)",
        [key::FORMAT, FORMAT],
    )?;
    conn.close().map_err(|(_, e)| e)
}

/// Opens a file that exists, refusing anything that is not an isomail journal.
pub(super) fn open_file(path: &Path) -> Result<Journal, JournalError> {
    let refuse = |why| JournalError::Refused {
        path: path.to_path_buf(),
        why,
    };
    let meta = std::fs::metadata(path).map_err(|e| refuse(Refusal::Unreadable(e)))?;
    if !meta.is_file() {
        return Err(refuse(Refusal::NotAFile));
    }
    if meta.len() == 0 {
        return Err(refuse(Refusal::Empty));
    }
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| refuse(Refusal::Unopenable(e)))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db_error(path))?;
    let format = format_of(&conn).map_err(refuse)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(db_error(path))?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db_error(path))?;
    migrate(&conn, format.is_none()).map_err(db_error(path))?;
    let journal = Journal {
        conn,
        path: path.to_path_buf(),
    };
    journal.fill_addresses()?;
    Ok(journal)
}

/// The format an existing file says it has (`None`: a journal of an earlier isomail, which
/// did not say), or why it is not a journal. Reads only: a file that is not SQLite, or an
/// SQLite database without isomail's tables, is not touched.
fn format_of(conn: &Connection) -> Result<Option<String>, Refusal> {
    let tables: rusqlite::Result<Vec<String>> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect());
    let tables = tables.map_err(Refusal::Damaged)?;
    if !["meta", "recipients"]
        .iter()
        .all(|t| tables.iter().any(|have| have == t))
    {
        return Err(Refusal::Foreign);
    }
    let format: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [key::FORMAT],
            |r| r.get(0),
        )
        .optional()
        .map_err(Refusal::MetaUnreadable)?;
    match format {
        Some(format) if format != FORMAT => Err(Refusal::UnknownFormat {
            format,
            writes: FORMAT,
        }),
        format => Ok(format),
    }
}

/// Brings the tables up to today's; `unmarked` is a journal of an earlier isomail, where the
/// row was the unit and every row was on the list at its own position.
fn migrate(conn: &Connection, unmarked: bool) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    add_columns(conn)?;
    if unmarked {
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
}

/// Journals made before replies were kept with their codes (or before several relays, or before
/// the person was the unit) get the columns (NULL for the rows already there).
fn add_columns(conn: &Connection) -> rusqlite::Result<()> {
    let mut has = conn.prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?;
    for (table, column, kind) in [
        ("recipients", "reply_code", "INTEGER"),
        ("recipients", "reply_status", "TEXT"),
        ("recipients", "relay", "TEXT"),
        ("recipients", "addr", "TEXT"),
        ("recipients", "pos", "INTEGER"),
        ("recipients", "data", "TEXT"),
        ("reports", "reason", "TEXT"),
        ("reports", "reply_code", "INTEGER"),
        ("reports", "named", "TEXT"),
    ] {
        if !has.exists([table, column])? {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
        }
    }
    Ok(())
}

impl Journal {
    /// Rows journaled before the person was the unit get their normalised address (and their
    /// list position, which was their journal number); then addresses are unique.
    fn fill_addresses(&self) -> Result<(), JournalError> {
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
            if let Err(e) = filled.and_then(|()| self.conn.execute_batch("COMMIT")) {
                let _ = self.conn.execute_batch("ROLLBACK");
                return Err(self.err()(e));
            }
        }
        self.conn
            .execute_batch("CREATE UNIQUE INDEX IF NOT EXISTS recipients_addr ON recipients(addr)")
            .map_err(self.err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::State;
    use crate::journal::testing::{journal_with, preflight};
    use crate::reply::Reply;

    /// The recipients table and meta of the first journal format, before replies kept their
    /// codes, before relays, before the person was the unit.
    const OLD_SCHEMA: &str = "
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE recipients (
            idx INTEGER PRIMARY KEY, email TEXT NOT NULL, state TEXT NOT NULL, hash TEXT NOT NULL,
            message_id TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, reply TEXT,
            stage INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
        );";

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
            assert!(matches!(err, JournalError::Refused { .. }), "{name}: {err}");
            let err = crate::Error::from(err);
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

    /// The refusals read as they always have: the file, why, and what the operator can do.
    #[test]
    fn a_refusal_names_the_file_why_and_the_way_out() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("j.sqlite");
        drop(Journal::open(&path).expect("created"));
        let conn = Connection::open(&path).expect("reopen");
        conn.execute("UPDATE meta SET value = '9' WHERE key = ?1", [key::FORMAT])
            .expect("format");
        drop(conn);
        let err = Journal::open(&path).err().expect("refused");
        assert_eq!(
            crate::chain(&err),
            format!(
                "{}: this journal has format 9, which this isomail does not know (it writes 2); use \
                 the isomail that wrote it; isomail never starts a campaign over on it. Restore the \
                 journal from a backup, or, only if you are sure nobody was mailed, move the file \
                 away and send again",
                path.display()
            )
        );
        let missing = dir.path().join("none.sqlite");
        let err = Journal::open_existing(&missing).err().expect("missing");
        assert_eq!(
            crate::chain(&err),
            format!(
                "{}: no journal: this campaign has not been sent",
                missing.display()
            )
        );
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
