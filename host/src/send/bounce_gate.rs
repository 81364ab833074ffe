//! The bounce gate: after a stage (but the last), `send` reads the bounce mailbox for
//! `[bounces] wait_seconds`, then halts before the next stage if that stage's hard bounces
//! exceed `[delivery] max_bounce_rate`.
//!
//! It reads the mailbox exactly as `isomail bounces` does (never changing it), so what the
//! gate counted is journaled and suppressed like any other bounce; a halt request or signal
//! ends the wait at once.

use std::time::{Duration, Instant};

use super::Ctx;
use super::reason::HaltReason;
use crate::Error;
use crate::reporter::Event;

/// How often the mailbox is read while waiting.
const READ_EVERY: Duration = Duration::from_secs(2);
/// The ceiling when the campaign sets none but waits for bounces.
pub(super) const DEFAULT_MAX_BOUNCE_RATE: f64 = 0.05;

/// Waits for stage `stage`'s bounces and judges it; a no-op without `wait_seconds`.
pub(super) fn wait_and_judge(ctx: &Ctx<'_>, stage: usize) -> Result<(), Error> {
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
    let bounced = journal
        .bounces_per_stage()?
        .into_iter()
        .find(|s| s.stage == stage)
        .map_or(0, |s| s.hard);
    let of = journal.went_out_in_stage(stage)?;
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
