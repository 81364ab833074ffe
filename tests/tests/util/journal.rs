//! The journal, read through the library.

use std::path::Path;

/// The journal's rows, read through the library: (index, email, state, hash, reply).
pub fn journal_rows(
    campaign: &Path,
    dry_run: bool,
) -> Vec<(usize, String, String, String, Option<String>)> {
    let journal = isomail::journal::Journal::open_existing(&isomail::journal::Journal::path_for(
        campaign, dry_run,
    ))
    .expect("journal");
    let mut rows = Vec::new();
    for state in [
        isomail::journal::State::Pending,
        isomail::journal::State::Sending,
        isomail::journal::State::Sent,
        isomail::journal::State::Failed,
        isomail::journal::State::Ambiguous,
        isomail::journal::State::Suppressed,
        isomail::journal::State::Bounced,
        isomail::journal::State::Complained,
        isomail::journal::State::Removed,
    ] {
        for r in journal.rows_in(state).expect("rows") {
            rows.push((r.index, r.email, state.as_str().to_owned(), r.hash, r.reply));
        }
    }
    rows.sort();
    rows
}
