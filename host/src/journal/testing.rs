//! What the journal's unit tests share: a journal in a temporary directory with a preflight
//! already journaled, and the rows to journal one. Compiled for tests only.

use super::{Journal, PreflightRow, State};

/// The preflight row of `email` at list position `index`, checked with message `hash`.
pub(super) fn preflight(index: usize, email: &str, hash: &str) -> PreflightRow {
    PreflightRow {
        index,
        email: email.to_owned(),
        hash: hash.to_owned(),
        message_id: format!("<{hash}@x>"),
        data: format!("{email}/{hash}"),
    }
}

/// A new journal whose preflight journaled `n` pending recipients, #1 to #n.
pub(super) fn journal_with(n: usize) -> (tempfile::TempDir, Journal) {
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

/// The journal number, state and message hash of the person `email` names.
pub(super) fn state_of(journal: &Journal, email: &str) -> (usize, State, String) {
    let row = journal
        .all_rows()
        .expect("rows")
        .into_iter()
        .find(|r| r.email.eq_ignore_ascii_case(email))
        .unwrap_or_else(|| panic!("{email} is not in the journal"));
    (row.index, row.state, row.hash)
}
