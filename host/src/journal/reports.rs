//! The bounce and complaint reports `isomail bounces` read: each kept by name and hash so
//! none is counted twice, the recipients they name moved in the same transaction, and the
//! bounces of each stage for its gate.

use std::collections::HashSet;

use rusqlite::params;

use super::{Journal, JournalError, State, db_error, now};

/// One mail `isomail bounces` read, as the journal keeps it (so it is never counted twice).
#[derive(Debug, Clone)]
pub struct ReportRecord {
    /// The Maildir file's unique part (before `:2,`).
    pub name: String,
    /// SHA-256 of its bytes: the same report under another name is not counted again.
    pub hash: String,
    /// The recipient it is about, when it is one of this campaign's.
    pub index: Option<usize>,
    /// `hard` (the recipient is gone), `soft` (temporary), `sender` (about us),
    /// `unclassified`, `complaint`, `unverified` (no valid token while VERP is on), `other`
    /// (not a report, or not ours), `unreadable` or `duplicate`.
    pub kind: &'static str,
    /// The failure's reason (`bounces::reason::Reason::as_str`) or a complaint's feedback type.
    pub reason: Option<String>,
    pub status: Option<String>,
    /// The SMTP reply code the report quotes.
    pub reply_code: Option<u16>,
    pub diagnostic: Option<String>,
    /// The address a report about nobody names (an unverified report's claim), as written.
    pub named: Option<String>,
    /// The state the recipient moves to, if it moves.
    pub new_state: Option<State>,
}

/// Bounces and complaints of one stage's recipients: distinct recipients per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StageBounces {
    pub stage: usize,
    pub hard: usize,
    pub soft: usize,
    /// Failures about the sender (our IP or domain blocked, authentication, content, rate).
    pub sender: usize,
    pub unclassified: usize,
    pub complaints: usize,
}

/// Distinct recipients of one stage and receiving domain with one kind and reason of report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReasonCount {
    pub stage: Option<usize>,
    /// The recipient's domain, lower-cased.
    pub domain: String,
    pub kind: String,
    pub reason: Option<String>,
    pub recipients: usize,
}

/// A report that moved nobody and is shown as such: unverified (no valid token while VERP is
/// on) or unreadable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StrayReport {
    /// The Maildir file's unique name.
    pub name: String,
    pub kind: String,
    pub reason: Option<String>,
    /// The address the report names, as written (foreign text; mask it before showing).
    pub named: Option<String>,
    pub diagnostic: Option<String>,
}

impl Journal {
    /// The unique names and hashes of every mail already read from the bounce mailbox.
    pub fn reports_read(&self) -> Result<(HashSet<String>, HashSet<String>), JournalError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, hash FROM reports")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.err())?;
        let (mut names, mut hashes) = (HashSet::new(), HashSet::new());
        for row in rows {
            let (name, hash) = row.map_err(self.err())?;
            names.insert(name);
            hashes.insert(hash);
        }
        Ok((names, hashes))
    }

    /// Records what was read and moves the recipients it names, in ONE transaction. A
    /// recipient moves only from `sent` or `ambiguous` (or `bounced`, to `complained`).
    pub fn record_reports(&mut self, records: &[ReportRecord]) -> Result<(), JournalError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(db_error(&path))?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT OR IGNORE INTO reports(name, hash, idx, kind, status, diagnostic, read_at,
                     reason, reply_code, named) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(db_error(&path))?;
            let mut update = tx
                .prepare(
                    "UPDATE recipients SET state = ?2, reply = ?3, reply_code = ?6,
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
                        t,
                        r.reason,
                        r.reply_code,
                        r.named
                    ])
                    .map_err(db_error(&path))?;
                if let (Some(index), Some(state)) = (index, r.new_state) {
                    let text = r
                        .diagnostic
                        .as_deref()
                        .unwrap_or("report without a diagnostic");
                    update
                        .execute(params![
                            index,
                            state.as_str(),
                            text,
                            r.status,
                            t,
                            r.reply_code
                        ])
                        .map_err(db_error(&path))?;
                }
            }
        }
        tx.commit().map_err(db_error(&path))
    }

    /// Hard bounces, soft bounces and complaints per stage (distinct recipients).
    pub fn bounces_per_stage(&self) -> Result<Vec<StageBounces>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.stage, p.kind, COUNT(DISTINCT p.idx) FROM reports p
                 JOIN recipients r ON r.idx = p.idx
                 WHERE r.stage IS NOT NULL
                 AND p.kind IN ('hard', 'soft', 'sender', 'unclassified', 'complaint')
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
                    "sender" => s.sender = n,
                    "unclassified" => s.unclassified = n,
                    _ => s.complaints = n,
                }
            }
        }
        Ok(out)
    }

    /// Recipients per stage, receiving domain, kind and reason of the reports about them.
    pub fn report_reasons(&self) -> Result<Vec<ReasonCount>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.stage, r.email, p.kind, p.reason, p.idx FROM reports p
                 JOIN recipients r ON r.idx = p.idx
                 WHERE p.kind IN ('hard', 'soft', 'sender', 'unclassified', 'complaint')",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Option<i64>>(0)?.map(|s| s as usize),
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .map_err(self.err())?;
        let mut seen = HashSet::new();
        let mut counts: std::collections::BTreeMap<_, usize> = std::collections::BTreeMap::new();
        for row in rows {
            let (stage, email, kind, reason, idx) = row.map_err(self.err())?;
            let domain = email.rsplit_once('@').map_or("", |(_, d)| d).to_lowercase();
            let key = (stage, domain, kind, reason);
            if seen.insert((key.clone(), idx)) {
                *counts.entry(key).or_default() += 1;
            }
        }
        Ok(counts
            .into_iter()
            .map(|((stage, domain, kind, reason), recipients)| ReasonCount {
                stage,
                domain,
                kind,
                reason,
                recipients,
            })
            .collect())
    }

    /// The reports that moved nobody because they were unverified or unreadable.
    pub fn stray_reports(&self) -> Result<Vec<StrayReport>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT name, kind, reason, named, diagnostic FROM reports
                 WHERE kind IN ('unverified', 'unreadable') ORDER BY read_at, name",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(StrayReport {
                    name: r.get(0)?,
                    kind: r.get(1)?,
                    reason: r.get(2)?,
                    named: r.get(3)?,
                    diagnostic: r.get(4)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }
}
