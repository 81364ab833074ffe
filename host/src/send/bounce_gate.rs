//! The bounce gate: after a stage (but the last), `send` reads the bounce mailbox for
//! `[bounces] wait_seconds`, then halts before the next stage if that stage's complaints exceed
//! `[bounces] max_complaint_rate` or its hard bounces `[delivery] max_bounce_rate`.
//!
//! It reads the mailbox exactly as `isomail bounces` does (never changing it), so what the
//! gate counted is journaled and suppressed like any other bounce; a halt request or signal
//! ends the wait at once.
//!
//! Then the reputation brake, with or without a mailbox: the stage's failures about the
//! sender — refused at send time or reported by a bounce — above `[bounces]
//! max_sender_failure_rate` halt the send too, naming the receiving domains and reasons.

use std::time::{Duration, Instant};

use super::Ctx;
use super::reason::HaltReason;
use crate::Error;
use crate::reporter::Event;

/// How often the mailbox is read while waiting.
const READ_EVERY: Duration = Duration::from_secs(2);
/// The ceiling when the campaign sets none but waits for bounces.
pub(super) const DEFAULT_MAX_BOUNCE_RATE: f64 = 0.05;

/// Waits for stage `stage`'s bounces and judges its bounces (with `wait_seconds`) and its
/// failures about the sender.
pub(super) fn wait_and_judge(ctx: &Ctx<'_>, stage: usize) -> Result<(), Error> {
    wait_and_judge_bounces(ctx, stage)?;
    if ctx.halt.is_halted() || ctx.options.dry_run {
        return Ok(());
    }
    judge_sender_side(ctx, stage)
}

/// The brake: the stage's recipients whose failure is about the sender, by send-time reply
/// (classified as a report's diagnostic is) or by a report.
fn judge_sender_side(ctx: &Ctx<'_>, stage: usize) -> Result<(), Error> {
    use crate::bounces::reason::{self, Class, Evidence};
    let journal = ctx.journal()?;
    let mut by_cause: std::collections::BTreeMap<(String, String), usize> = Default::default();
    let mut failures = 0;
    for row in journal.rows_in(crate::journal::State::Failed)? {
        if row.stage != Some(stage) {
            continue;
        }
        let why = reason::classify(&Evidence {
            action: Some("failed"),
            status: row.reply_status.as_deref(),
            reply: row.reply_code,
            diagnostic: row.reply.as_deref(),
            permanent: Some(true),
        });
        if why.class() == Class::Sender {
            failures += 1;
            let domain = row
                .email
                .rsplit_once('@')
                .map_or("", |(_, d)| d)
                .to_lowercase();
            *by_cause
                .entry((domain, why.as_str().to_owned()))
                .or_default() += 1;
        }
    }
    failures += journal
        .bounces_per_stage()?
        .into_iter()
        .find(|s| s.stage == stage)
        .map_or(0, |s| s.sender);
    for r in journal.report_reasons()? {
        if r.stage == Some(stage) && r.kind == "sender" {
            let reason = r.reason.unwrap_or_else(|| "unknown".into());
            *by_cause.entry((r.domain, reason)).or_default() += r.recipients;
        }
    }
    // Of every message the stage settled: a refusal at send time is one of them.
    let of = journal.settled_in_stage(stage)?;
    let max = ctx.campaign().bounces.max_sender_failure_rate;
    if of == 0 || failures as f64 <= max * of as f64 {
        return Ok(());
    }
    let mut causes: Vec<((String, String), usize)> = by_cause.into_iter().collect();
    causes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let reason = HaltReason::SenderFailures {
        stage,
        failures,
        of,
        max,
        causes: causes
            .into_iter()
            .take(5)
            .map(|((domain, why), n)| (domain, why, n))
            .collect(),
    };
    journal.finish_stage(stage, &format!("halted: {reason}"))?;
    ctx.halt.halt(reason);
    Ok(())
}

/// Waits for stage `stage`'s bounces and judges them; a no-op without `wait_seconds`.
fn wait_and_judge_bounces(ctx: &Ctx<'_>, stage: usize) -> Result<(), Error> {
    let campaign = ctx.campaign();
    let (Some(maildir), wait) = (&campaign.bounces.maildir, campaign.bounces.wait) else {
        return Ok(());
    };
    if wait.is_zero() || ctx.halt.is_halted() || ctx.options.dry_run {
        return Ok(());
    }
    ctx.reporter.event(Event::Note(&format!(
        "stage {stage} done: reading bounces from {} for {} s before going on",
        crate::term::inert(&maildir.display().to_string()),
        wait.as_secs_f64()
    )));
    let until = Instant::now() + wait;
    loop {
        {
            // The guard is dropped before the sleep: nothing else waits on the journal now,
            // but `isomail status` and the halt watcher read it from other connections.
            let mut journal = ctx.journal()?;
            crate::bounces::process(campaign, &mut journal, maildir)?;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || ctx.halt.is_halted() {
            break;
        }
        ctx.halt.sleep(left.min(READ_EVERY));
    }
    let journal = ctx.journal()?;
    let counts = journal
        .bounces_per_stage()?
        .into_iter()
        .find(|s| s.stage == stage)
        .unwrap_or_default();
    let bounced = counts.hard;
    let of = journal.went_out_in_stage(stage)?;
    // The complaint gate first: complaints hurt a sender's reputation more than bounces.
    let max = campaign.bounces.max_complaint_rate;
    if of > 0 && counts.complaints as f64 > max * of as f64 {
        let reason = HaltReason::ComplaintRate {
            stage,
            complaints: counts.complaints,
            of,
            max,
        };
        journal.finish_stage(stage, &format!("halted: {reason}"))?;
        ctx.halt.halt(reason);
        return Ok(());
    }
    let max = campaign
        .delivery
        .max_bounce_rate
        .unwrap_or(DEFAULT_MAX_BOUNCE_RATE);
    if of > 0 && bounced as f64 > max * of as f64 {
        let reason = HaltReason::BounceRate {
            stage,
            bounced,
            of,
            max,
        };
        journal.finish_stage(stage, &format!("halted: {reason}"))?;
        ctx.halt.halt(reason);
    }
    Ok(())
}
