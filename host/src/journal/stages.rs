//! The stages a send went through (target, outcome), the seed copies each stage sent, and
//! what each stage sent, for `status` and the gates between stages.

use rusqlite::params;

use super::{Journal, JournalError, State, now};

/// One seed copy: stage, seed address, state and the server's reply.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeedRow {
    pub stage: usize,
    pub email: String,
    pub state: String,
    pub reply: Option<String>,
}

impl Journal {
    pub fn start_stage(&self, stage: usize, target: usize) -> Result<(), JournalError> {
        self.conn
            .execute(
                "INSERT INTO stages(stage, target, started_at) VALUES(?1, ?2, ?3)
                 ON CONFLICT(stage) DO UPDATE SET finished_at = NULL, outcome = NULL",
                params![stage as i64, target as i64, now()],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    pub fn finish_stage(&self, stage: usize, outcome: &str) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE stages SET finished_at = ?2, outcome = ?3 WHERE stage = ?1",
                params![stage as i64, now(), outcome],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// (stage, target, outcome) of every stage started so far.
    pub fn stages(&self) -> Result<Vec<(usize, usize, Option<String>)>, JournalError> {
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
    pub fn seed_done(&self, stage: usize, email: &str) -> Result<bool, JournalError> {
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
    ) -> Result<(), JournalError> {
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
    pub fn seeds(&self) -> Result<Vec<SeedRow>, JournalError> {
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
    pub fn sent_per_stage(&self) -> Result<Vec<(usize, usize)>, JournalError> {
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

    /// Messages of `stage` that went out: sent, bounced, complained or ambiguous.
    pub fn went_out_in_stage(&self, stage: usize) -> Result<usize, JournalError> {
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

    /// The messages of `stage` whose fate at the relay is settled: went out, or failed.
    pub fn settled_in_stage(&self, stage: usize) -> Result<usize, JournalError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM recipients WHERE stage = ?1
                 AND state IN ('sent', 'bounced', 'complained', 'ambiguous', 'failed')",
                [stage as i64],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(self.err())
    }
}
