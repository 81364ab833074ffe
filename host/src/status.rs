//! `isomail status`: what the journal says. Counts per state, progress per stage, and every
//! failed and ambiguous recipient with the reason; `--json` with stable keys for scripts.

use std::path::Path;

use serde::Serialize;

use crate::Error;
use crate::journal::{Counts, Journal, SeedRow, State};
use crate::term::{inert, shown};

#[derive(Serialize)]
struct Report {
    campaign: String,
    journal: String,
    #[serde(flatten)]
    counts: Counts,
    total: usize,
    stages: Vec<StageReport>,
    failures: Vec<RecipientReport>,
    bounced_recipients: Vec<RecipientReport>,
    ambiguous_recipients: Vec<RecipientReport>,
    seeds: Vec<SeedRow>,
    halt_requested: bool,
}

#[derive(Serialize)]
struct StageReport {
    stage: usize,
    target: usize,
    sent: usize,
    /// Recipients of this stage a DSN reported hard-bounced (5.x.x) or soft-bounced, and who
    /// complained, as `isomail bounces` (or the bounce gate) read them.
    bounced: usize,
    soft_bounces: usize,
    complaints: usize,
    outcome: Option<String>,
}

#[derive(Serialize)]
struct RecipientReport {
    index: usize,
    email: String,
    attempts: u32,
    reply: Option<String>,
    /// The SMTP code and RFC 3463 status of that reply, when a server gave them.
    reply_code: Option<u16>,
    reply_status: Option<String>,
    /// The relay the message was last dealt to, when it went by SMTP.
    relay: Option<String>,
}

pub fn run(campaign: &Path, json: bool, dry_run: bool) -> Result<(), Error> {
    let path = Journal::path_for(campaign, dry_run);
    let journal = Journal::open_existing(&path)?;
    let report = read(campaign, &journal)?;
    if json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| Error::Output {
            what: "cannot write JSON".into(),
            source: e.into(),
        })?;
        println!("{}", crate::term::inert_json(&text));
        return Ok(());
    }
    print_text(&report);
    Ok(())
}

/// What the journal says, as one report.
fn read(campaign: &Path, journal: &Journal) -> Result<Report, Error> {
    let counts = journal.counts()?;
    let sent_per_stage = journal.sent_per_stage()?;
    let bounces = journal.bounces_per_stage()?;
    let recipients = |state| -> Result<Vec<RecipientReport>, Error> {
        Ok(journal
            .rows_in(state)?
            .into_iter()
            .map(|r| RecipientReport {
                index: r.index,
                email: r.email,
                attempts: r.attempts,
                reply: r.reply,
                reply_code: r.reply_code,
                reply_status: r.reply_status,
                relay: r.relay,
            })
            .collect())
    };
    Ok(Report {
        campaign: campaign.display().to_string(),
        journal: journal.path().display().to_string(),
        total: counts.total(),
        counts,
        stages: journal
            .stages()?
            .into_iter()
            .map(|(stage, target, outcome)| {
                let b = bounces.iter().find(|b| b.stage == stage);
                StageReport {
                    stage,
                    target,
                    sent: sent_per_stage
                        .iter()
                        .find(|(s, _)| *s == stage)
                        .map_or(0, |(_, n)| *n),
                    bounced: b.map_or(0, |b| b.hard),
                    soft_bounces: b.map_or(0, |b| b.soft),
                    complaints: b.map_or(0, |b| b.complaints),
                    outcome,
                }
            })
            .collect(),
        failures: recipients(State::Failed)?,
        bounced_recipients: recipients(State::Bounced)?,
        ambiguous_recipients: recipients(State::Ambiguous)?,
        seeds: journal.seeds()?,
        halt_requested: journal.halt_requested()?,
    })
}

/// Every bounced recipient with the DSN's status and diagnostic (foreign text: shown inert).
fn print_bounced(report: &Report) {
    if report.bounced_recipients.is_empty() {
        return;
    }
    println!("bounced:");
    for r in &report.bounced_recipients {
        println!(
            "  #{} {}: {} {}",
            r.index,
            inert(&r.email),
            shown(r.reply_status.as_deref().unwrap_or("-")),
            shown(r.reply.as_deref().unwrap_or("-"))
        );
    }
}

/// The report for a person: counts, stages, then every failed and ambiguous recipient.
fn print_text(report: &Report) {
    let c = &report.counts;
    println!("{} ({})", inert(&report.campaign), inert(&report.journal));
    println!(
        "{} recipients: {} sent, {} failed, {} ambiguous, {} pending, {} in flight{}",
        report.total,
        c.sent,
        c.failed,
        c.ambiguous,
        c.pending,
        c.sending,
        match c.suppressed {
            0 => String::new(),
            n => format!(", {n} suppressed"),
        } + &match c.removed {
            0 => String::new(),
            n => format!(", {n} removed from the list before they were mailed"),
        }
    );
    if c.bounced + c.complained > 0 {
        println!(
            "after sending: {} bounced, {} complained",
            c.bounced, c.complained
        );
    }
    for s in &report.stages {
        println!(
            "  stage {} (to {}): {} sent in this stage — {}",
            s.stage,
            s.target,
            s.sent,
            shown(s.outcome.as_deref().unwrap_or("running or interrupted"))
        );
        if s.bounced + s.soft_bounces + s.complaints > 0 {
            println!(
                "    bounces: {} hard, {} soft; {} complaints",
                s.bounced, s.soft_bounces, s.complaints
            );
        }
    }
    if !report.failures.is_empty() {
        println!("failed:");
        for r in &report.failures {
            println!(
                "  #{} {} after {} attempt(s): {}",
                r.index,
                inert(&r.email),
                r.attempts,
                shown(r.reply.as_deref().unwrap_or("-"))
            );
        }
    }
    print_bounced(report);
    if !report.ambiguous_recipients.is_empty() {
        println!(
            "ambiguous (may or may not have arrived; re-sent only with `isomail send --resend-ambiguous`):"
        );
        for r in &report.ambiguous_recipients {
            println!(
                "  #{} {}: {}",
                r.index,
                inert(&r.email),
                shown(r.reply.as_deref().unwrap_or("-"))
            );
        }
    }
    for s in &report.seeds {
        println!(
            "  seed copy of stage {} to {}: {}",
            s.stage,
            inert(&s.email),
            s.state
        );
    }
}
