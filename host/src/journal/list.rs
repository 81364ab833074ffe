//! The list reconciled with the journal person by person (by normalised address, never by
//! row): what a changed list would change ([`ListChanges`]), and journaling the list as it is
//! now so everyone keeps their fate wherever their row moved.

use std::collections::HashMap;

use rusqlite::{Transaction, params};

use super::meta::key;
use super::{Journal, JournalError, PreflightRow, State, SuppressedRow, db_error, now};

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

/// One person of the list as [`Journal::apply_list`] journals them: a checked message, or a
/// recipient a suppression list names.
struct Entry<'a> {
    index: usize,
    email: &'a str,
    state: &'static str,
    hash: &'a str,
    message_id: &'a str,
    reply: Option<&'a str>,
    data: &'a str,
}

impl Journal {
    /// How the list as it is now (`listed`, in list order) differs from what the journal
    /// holds, person by person: what `send --allow-changed` shows before it changes anything.
    pub fn list_changes(&self, listed: &[Listed]) -> Result<ListChanges, JournalError> {
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
    fn people(&self) -> Result<HashMap<String, Person>, JournalError> {
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
    ) -> Result<(), JournalError> {
        let known = self.people()?;
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(db_error(&path))?;
        let t = now();
        let entries = rows
            .iter()
            .map(|r| Entry {
                index: r.index,
                email: &r.email,
                state: "pending",
                hash: &r.hash,
                message_id: &r.message_id,
                reply: None,
                data: &r.data,
            })
            .chain(suppressed.iter().map(|s| Entry {
                index: s.index,
                email: &s.email,
                state: "suppressed",
                hash: "",
                message_id: "",
                reply: Some(&s.why),
                data: "",
            }));
        journal_people(&tx, &known, entries, t)
            .and_then(|()| finish_list(&tx, fingerprint, t))
            .map_err(db_error(&path))?;
        tx.commit().map_err(db_error(&path))
    }
}

/// Journals each person of the list at their position: a pending (or removed) person gets
/// their message as checked now, a settled one keeps their fate and only moves, a new one
/// gets the next free journal number (their list position, in a journal that was empty).
fn journal_people<'a>(
    tx: &Transaction<'_>,
    known: &HashMap<String, Person>,
    entries: impl Iterator<Item = Entry<'a>>,
    t: i64,
) -> rusqlite::Result<()> {
    let fresh = known.is_empty();
    let mut next = known.values().map(|p| p.idx).max().unwrap_or(0) + 1;
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
    for e in entries {
        let addr = crate::campaign::normalise(e.email);
        let pos = e.index as i64;
        match known.get(&addr) {
            Some(p) if matches!(p.state, State::Pending | State::Removed) => {
                again.execute(params![
                    p.idx,
                    e.state,
                    e.email,
                    e.hash,
                    e.message_id,
                    e.reply,
                    t,
                    pos,
                    e.data
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
                    idx,
                    e.email,
                    e.state,
                    e.hash,
                    e.message_id,
                    e.reply,
                    t,
                    addr,
                    pos,
                    e.data
                ])?;
            }
        }
    }
    Ok(())
}

/// Marks everyone pending and off the list `removed`, and the journal as checked for the
/// campaign `fingerprint` names (its first fingerprint staying its id).
fn finish_list(tx: &Transaction<'_>, fingerprint: &str, t: i64) -> rusqlite::Result<()> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::testing::{preflight, state_of};

    /// A journal of a, b, c and d, checked with fingerprint f1: a sent, b failed, c and d
    /// pending.
    fn first_list() -> (tempfile::TempDir, Journal) {
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
        (dir, journal)
    }

    #[test]
    fn a_changed_list_is_counted_by_person_never_by_row() {
        let (_dir, journal) = first_list();
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
    }

    #[test]
    fn a_changed_list_is_matched_by_person_never_by_row() {
        let (_dir, mut journal) = first_list();
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
}
