//! `isomail status`: what the journal says. Counts per state, progress per stage, and every
//! failed and ambiguous recipient with the reason; `--json` with stable keys for scripts.

use std::path::Path;

use serde::Serialize;

use crate::Error;
use crate::journal::{Counts, Journal, ReasonCount, SeedRow, State, StrayReport};
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
    /// Recipients per stage, receiving domain, kind and reason of the reports about them.
    bounce_reasons: Vec<ReasonCount>,
    /// Reports that moved nobody: without a valid VERP token, or unreadable.
    unverified_reports: Vec<StrayShown>,
    unreadable_reports: Vec<StrayShown>,
    halt_requested: bool,
}

/// A report that moved nobody, its named address masked (anyone could have written it).
#[derive(Serialize)]
struct StrayShown {
    name: String,
    reason: Option<String>,
    named: Option<String>,
    diagnostic: Option<String>,
}

impl From<StrayReport> for StrayShown {
    fn from(r: StrayReport) -> StrayShown {
        StrayShown {
            name: r.name,
            reason: r.reason,
            named: r.named.as_deref().map(crate::campaign::recipients::mask),
            diagnostic: r.diagnostic,
        }
    }
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
    /// Failures about the sender (a block of our IP or domain, authentication, content,
    /// rate) and failures of no recognised cause: neither suppresses anyone.
    sender_failures: usize,
    unclassified_failures: usize,
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
    let strays = journal.stray_reports()?;
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
                    sender_failures: b.map_or(0, |b| b.sender),
                    unclassified_failures: b.map_or(0, |b| b.unclassified),
                    complaints: b.map_or(0, |b| b.complaints),
                    outcome,
                }
            })
            .collect(),
        failures: recipients(State::Failed)?,
        bounced_recipients: recipients(State::Bounced)?,
        ambiguous_recipients: recipients(State::Ambiguous)?,
        seeds: journal.seeds()?,
        bounce_reasons: journal.report_reasons()?,
        unverified_reports: strays
            .iter()
            .filter(|r| r.kind == "unverified")
            .cloned()
            .map(StrayShown::from)
            .collect(),
        unreadable_reports: strays
            .into_iter()
            .filter(|r| r.kind == "unreadable")
            .map(StrayShown::from)
            .collect(),
        halt_requested: journal.halt_requested()?,
    })
}

/// One stage's reports by receiving domain: `gmail.com: 2 unknown-user (hard), 1 …`.
fn print_reasons(report: &Report, stage: usize) {
    let mut domains: Vec<(&str, Vec<String>)> = Vec::new();
    for r in report
        .bounce_reasons
        .iter()
        .filter(|r| r.stage == Some(stage))
    {
        let what = format!(
            "{} {} ({})",
            r.recipients,
            shown(r.reason.as_deref().unwrap_or("-")),
            r.kind
        );
        match domains.iter_mut().find(|(d, _)| *d == r.domain) {
            Some((_, list)) => list.push(what),
            None => domains.push((&r.domain, vec![what])),
        }
    }
    for (domain, list) in domains {
        println!("      {}: {}", inert(domain), list.join(", "));
    }
}

/// The reports that moved nobody: unverified (forgery is the usual cause) and unreadable.
fn print_strays(report: &Report) {
    if !report.unverified_reports.is_empty() {
        println!(
            "unverified reports (no valid VERP token: nobody bounced, complained or suppressed): {}",
            report.unverified_reports.len()
        );
        for r in report.unverified_reports.iter().take(20) {
            println!(
                "  {}: names {}, {}",
                inert(&r.name),
                inert(r.named.as_deref().unwrap_or("nobody")),
                shown(r.reason.as_deref().unwrap_or("-"))
            );
        }
    }
    if !report.unreadable_reports.is_empty() {
        println!(
            "unreadable mail in the bounce mailbox (skipped for good): {}",
            report.unreadable_reports.len()
        );
        for r in report.unreadable_reports.iter().take(20) {
            println!(
                "  {}: {}",
                inert(&r.name),
                shown(r.diagnostic.as_deref().unwrap_or("-"))
            );
        }
    }
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
        if s.bounced + s.soft_bounces + s.sender_failures + s.unclassified_failures + s.complaints
            > 0
        {
            println!(
                "    bounces: {} hard, {} soft, {} about the sender, {} unclassified; {} complaints",
                s.bounced, s.soft_bounces, s.sender_failures, s.unclassified_failures, s.complaints
            );
        }
        print_reasons(report, s.stage);
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
    print_strays(report);
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
