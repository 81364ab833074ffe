//! The preflight: before the first message of a campaign goes out, every message is rendered
//! and checked, and each one's hash is journaled. Any failure or finding: nothing is sent.

use std::collections::HashMap;
use std::time::Instant;

use super::Making;
use super::error::SendError;
use crate::Error;
use crate::journal::{Journal, Listed, PreflightRow, SuppressedRow};
use crate::message;
use crate::render::{self, Signing};
use crate::reporter::{Event, Reporter};

/// Problems listed one by one; the rest are counted.
const SHOWN: usize = 20;

/// What the preflight keeps of the outcomes: a journal row per clean message, and the problems,
/// counted, the first [`SHOWN`] described.
#[derive(Default)]
struct Kept {
    rows: Vec<PreflightRow>,
    problems: Vec<String>,
    count: usize,
}

impl Kept {
    fn add(&mut self, outcome: render::Outcome, making: &Making<'_>, data: &HashMap<usize, &str>) {
        let campaign = making.campaign;
        match outcome {
            Ok(m) if m.findings.is_empty() => self.rows.push(PreflightRow {
                message_id: message::message_id(&campaign.fingerprint, m.index, &campaign.from),
                index: m.index,
                email: m.email,
                hash: m.hash,
                data: data
                    .get(&m.index)
                    .map_or_else(String::new, |d| (*d).to_owned()),
            }),
            Ok(m) => {
                self.count += 1;
                if self.problems.len() < SHOWN {
                    let described = m
                        .findings
                        .iter()
                        .map(|f| making.checks.describe(m.index, f));
                    self.problems.extend(described);
                }
            }
            Err(failed) => {
                self.count += 1;
                if self.problems.len() < SHOWN {
                    self.problems.push(failed.to_string());
                }
            }
        }
    }
}

/// Renders and checks every message, and journals each hash against the people of `listed`
/// (the list as it is now, [`Journal::apply_list`]); exit 3 on any problem, and then the
/// journal is as it was.
pub(super) fn run(
    making: &Making<'_>,
    journal: &mut Journal,
    listed: &[Listed],
    fingerprint: &str,
    jobs: usize,
    reporter: &Reporter,
) -> Result<(), Error> {
    let Making {
        campaign,
        sandbox,
        checks,
        date,
    } = *making;
    let started = Instant::now();
    let data: HashMap<usize, &str> = listed.iter().map(|l| (l.index, l.data.as_str())).collect();
    let mut kept = Kept::default();
    // Hashed as signed, not signed: the send signs each message once, when it goes out.
    let summary = render::render_all(
        campaign,
        sandbox,
        checks,
        jobs,
        date,
        Signing::AtSend,
        |outcome| {
            kept.add(outcome, making, &data);
            Ok(())
        },
    )?;
    let Kept {
        rows,
        mut problems,
        count: problem_count,
    } = kept;
    let findings = &summary.findings;
    problems.sort();
    let campaign_wide = findings.iter().map(|f| format!("campaign: {f}"));
    for problem in problems.into_iter().chain(campaign_wide) {
        reporter.event(Event::Problem(&problem));
    }
    if problem_count > 0 || !findings.is_empty() {
        return Err(SendError::Preflight {
            problems: problem_count,
            findings: findings.len(),
        }
        .into());
    }
    let suppressed: Vec<SuppressedRow> = summary
        .suppressed
        .into_iter()
        .map(|s| SuppressedRow {
            index: s.index,
            email: s.email,
            why: s.why,
        })
        .collect();
    journal.apply_list(&rows, &suppressed, fingerprint)?;
    reporter.event(Event::PreflightDone {
        messages: rows.len(),
        seconds: started.elapsed().as_secs_f64(),
    });
    Ok(())
}
