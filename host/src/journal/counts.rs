//! How many recipients are in each state, and how many of them a send may still reach: what
//! `status` shows, and what stage sizes and the progress count are worked out from.

use super::{Journal, JournalError, State};

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

impl Journal {
    pub fn counts(&self) -> Result<Counts, JournalError> {
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
}
