//! Each recipient's row and [`State`]: the preflight that journals everyone pending (or
//! suppressed), a send that marks a row `sending` before the transport sees it and records its
//! fate after, recovery after a crash, and reading rows back in list order.

use rusqlite::{OptionalExtension, params};

use super::{Journal, JournalError, db_error, now};
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

    pub(super) fn parse(s: &str) -> Option<State> {
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

/// A recipient the preflight left out because a suppression list names it.
#[derive(Debug, Clone)]
pub struct SuppressedRow {
    pub index: usize,
    pub email: String,
    /// `suppressed by FILE line N`.
    pub why: String,
}

impl Journal {
    /// Records the preflight of a new journal: every recipient pending, with the hash its
    /// message must have, its journal number its list position. One transaction: either the
    /// whole list is journaled or none of it. `send` uses [`Journal::apply_list`], which also
    /// takes a list that changed.
    pub fn insert_preflight(&mut self, rows: &[PreflightRow]) -> Result<(), JournalError> {
        self.insert_each(
            "INSERT INTO recipients(idx, email, state, hash, message_id, created_at, updated_at,
                                    addr, pos, data)
             VALUES(?1, ?2, 'pending', ?3, ?4, ?5, ?5, ?6, ?1, ?7)
             ON CONFLICT(idx) DO UPDATE SET hash = ?3, message_id = ?4, updated_at = ?5
             WHERE state = 'pending'",
            rows,
            |stmt, row, t| {
                stmt.execute(params![
                    row.index as i64,
                    row.email,
                    row.hash,
                    row.message_id,
                    t,
                    crate::campaign::normalise(&row.email),
                    row.data,
                ])
            },
        )
    }

    /// Records the recipients a suppression list names, with which file and line. A row
    /// already past pending (sent before the address was suppressed) keeps its state.
    pub fn insert_suppressed(&mut self, rows: &[SuppressedRow]) -> Result<(), JournalError> {
        self.insert_each(
            "INSERT INTO recipients(idx, email, state, hash, message_id, reply, created_at,
                                    updated_at, addr, pos)
             VALUES(?1, ?2, 'suppressed', '', '', ?3, ?4, ?4, ?5, ?1)
             ON CONFLICT(idx) DO UPDATE SET state = 'suppressed', reply = ?3, updated_at = ?4
             WHERE state = 'pending'",
            rows,
            |stmt, row, t| {
                stmt.execute(params![
                    row.index as i64,
                    row.email,
                    row.why,
                    t,
                    crate::campaign::normalise(&row.email)
                ])
            },
        )
    }

    /// Runs `sql` once per row, through `execute` (given the statement, the row and the time),
    /// in one transaction: every row is written or none is.
    fn insert_each<T>(
        &mut self,
        sql: &str,
        rows: &[T],
        execute: impl Fn(&mut rusqlite::Statement<'_>, &T, i64) -> rusqlite::Result<usize>,
    ) -> Result<(), JournalError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(db_error(&path))?;
        {
            let mut stmt = tx.prepare(sql).map_err(db_error(&path))?;
            let t = now();
            for row in rows {
                execute(&mut stmt, row, t).map_err(db_error(&path))?;
            }
        }
        tx.commit().map_err(db_error(&path))
    }

    /// Moves every pending recipient that `why` names (a suppression list read again) to
    /// `suppressed`, in one transaction; returns how many moved.
    pub fn suppress_pending(
        &mut self,
        why: impl Fn(&str) -> Option<String>,
    ) -> Result<usize, JournalError> {
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
    pub fn recover(&self, resolve: impl Fn(&Row) -> Option<State>) -> Result<usize, JournalError> {
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
    ) -> Result<u32, JournalError> {
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
            None => Err(JournalError::NotPending { index }),
        }
    }

    /// Records a final or intermediate state with the server's reply.
    pub fn set_state(
        &self,
        index: usize,
        state: State,
        reply: Option<&Reply>,
    ) -> Result<(), JournalError> {
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
    pub fn set_relay(&self, index: usize, relay: &str) -> Result<(), JournalError> {
        self.conn
            .prepare_cached("UPDATE recipients SET relay = ?2 WHERE idx = ?1")
            .and_then(|mut stmt| stmt.execute(params![index as i64, relay]))
            .map(|_| ())
            .map_err(self.err())
    }

    /// Rows in `state`, in list order.
    pub fn rows_in(&self, state: State) -> Result<Vec<Row>, JournalError> {
        self.rows_where("state = ?1", state.as_str(), usize::MAX)
    }

    /// Ambiguous rows of people still on the list (the ones `--resend-ambiguous` may send).
    pub fn ambiguous_on_list(&self) -> Result<Vec<Row>, JournalError> {
        self.rows_where("state = ?1 AND pos IS NOT NULL", "ambiguous", usize::MAX)
    }

    /// The next `limit` rows in `state`, in list order.
    pub fn next_rows(&self, state: State, limit: usize) -> Result<Vec<Row>, JournalError> {
        self.rows_where("state = ?1", state.as_str(), limit)
    }

    pub fn row(&self, index: usize) -> Result<Option<Row>, JournalError> {
        Ok(self.rows_where("idx = ?1", &index.to_string(), 1)?.pop())
    }

    /// Every recipient's row, in list order.
    pub fn all_rows(&self) -> Result<Vec<Row>, JournalError> {
        self.rows_where("idx >= ?1", "0", usize::MAX)
    }

    fn rows_where(
        &self,
        condition: &str,
        value: &str,
        limit: usize,
    ) -> Result<Vec<Row>, JournalError> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::testing::journal_with;

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
}
