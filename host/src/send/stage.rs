//! The stage plan at work: which recipients the next stage takes, how many passes it gets
//! (transient failures are retried, bounded), and the gate that judges it when it ends.
//!
//! This decides; [`super::pass`] and [`super::worker`] do. It reads counts from the journal
//! rather than keeping its own, so a resumed campaign picks up exactly where the journal says.

use std::time::Instant;

use super::error::SendError;
use super::pass;
use super::plan;
use super::reason::HaltReason;
use super::work::{MAX_ATTEMPTS, Pass, Tally};
use super::{Ctx, Through};
use crate::Error;
use crate::journal::{Row, State};
use crate::reporter::{Event, StageSummary};

/// Runs stages until the plan is done, the operator's `--through` is reached, or a halt.
pub(super) fn run(ctx: &Ctx<'_>, runtime: &tokio::runtime::Runtime) -> Result<(), Error> {
    let campaign = ctx.campaign();
    let mut resend_ambiguous = ctx.options.resend_ambiguous;
    let mut ran_one = false;
    loop {
        suppress_again(ctx)?;
        let counts = ctx.journal()?.counts()?;
        // Suppressed recipients are not part of the plan: stage sizes count those who may
        // still be sent.
        let total = counts.sendable();
        let targets = plan::targets(&campaign.delivery.stages, total);
        let ambiguous_again = if resend_ambiguous {
            ctx.journal()?.ambiguous_on_list()?.len()
        } else {
            0
        };
        let processed = counts.processed() - ambiguous_again;
        let Some((stage, target)) = plan::next_stage(&targets, processed) else {
            ctx.reporter.event(Event::AllStagesDone {
                stages: targets.len(),
                counts: &counts,
            });
            return Ok(());
        };
        let go_on = match ctx.options.through {
            Through::All => true,
            Through::Count(n) => processed < n.min(total),
            Through::NextStage => !ran_one || ctx.reporter.ask_continue(stage, target - processed),
        };
        if !go_on {
            ctx.reporter.event(Event::StoppedAfterStage {
                stage: stage - 1,
                campaign: &campaign.path,
            });
            return Ok(());
        }
        ran_one = true;
        let settled_before = settled(ctx)?;
        run_one(ctx, runtime, stage, target, processed, resend_ambiguous)?;
        // A stage that settled nobody's fate would be planned again exactly as it was: end
        // here, with the reason, rather than go round for ever. (A pass that sent the
        // ambiguous again moves them from one settled fate to another, and runs only once.)
        let resent = std::mem::take(&mut resend_ambiguous);
        if !resent && ctx.halt.reason().is_none() && settled(ctx)? == settled_before {
            let pending = ctx.journal()?.counts()?.pending;
            ctx.halt.halt(HaltReason::NoProgress { stage, pending });
        }
        if target < total {
            super::bounce_gate::wait_and_judge(ctx, stage)?;
        }
        if let Some(reason) = ctx.halt.reason() {
            return Err(SendError::Halted {
                stage,
                reason,
                campaign: campaign.path.clone(),
            }
            .into());
        }
    }
}

/// How many people's fate is settled or decided (everyone not pending), ambiguous ones
/// included: what every stage must move for the plan to go on.
fn settled(ctx: &Ctx<'_>) -> Result<usize, Error> {
    let counts = ctx.journal()?.counts()?;
    Ok(counts.total() - counts.pending)
}

/// Reads the suppression lists again (someone may have unsubscribed while the last stage ran)
/// and moves the pending recipients they now name to `suppressed`.
fn suppress_again(ctx: &Ctx<'_>) -> Result<(), Error> {
    let suppression = ctx.campaign().suppression.reload()?;
    if suppression.is_empty() {
        return Ok(());
    }
    let moved = ctx
        .journal()?
        .suppress_pending(|email| suppression.why(email))?;
    if moved > 0 {
        ctx.reporter.event(Event::SuppressedNow(moved));
    }
    Ok(())
}

/// One stage, from picking its recipients to journaling its outcome.
fn run_one(
    ctx: &Ctx<'_>,
    runtime: &tokio::runtime::Runtime,
    stage: usize,
    target: usize,
    processed: usize,
    resend_ambiguous: bool,
) -> Result<(), Error> {
    let mut rows = Vec::new();
    if resend_ambiguous {
        rows.extend(ctx.journal()?.ambiguous_on_list()?);
    }
    let want = target.saturating_sub(processed).saturating_sub(rows.len());
    rows.extend(ctx.journal()?.next_rows(State::Pending, want)?);
    ctx.journal()?.start_stage(stage, target)?;
    let started = Instant::now();
    let tally = passes(ctx, runtime, stage, rows, resend_ambiguous)?;
    let outcome = gate(ctx, stage, &tally);
    ctx.journal()?.finish_stage(stage, &outcome)?;
    ctx.reporter.event(Event::StageFinished(&StageSummary {
        stage,
        target,
        sent: tally.sent,
        failed: tally.permanent + tally.exhausted,
        ambiguous: tally.ambiguous,
        deferred: tally.deferred,
        seconds: started.elapsed().as_secs_f64(),
    }));
    Ok(())
}

/// Sends the stage's `rows`, then retries its transient failures, bounded.
fn passes(
    ctx: &Ctx<'_>,
    runtime: &tokio::runtime::Runtime,
    stage: usize,
    mut todo: Vec<Row>,
    resend_ambiguous: bool,
) -> Result<Tally, Error> {
    let mut tally = Tally::default();
    for attempt in 1..=MAX_ATTEMPTS {
        if todo.is_empty() || ctx.halt.is_halted() {
            break;
        }
        if attempt > 1 {
            ctx.halt.sleep(ctx.campaign().delivery.retry_delay);
        }
        let pass = Pass {
            stage,
            rows: &todo,
            with_seed: attempt == 1,
            resend_ambiguous,
            last_attempt: attempt == MAX_ATTEMPTS,
        };
        let done = pass::run(ctx, runtime, &pass)?;
        tally.add(&done.tally);
        todo.retain(|r| done.deferred.contains(&r.index));
    }
    tally.deferred = todo.len();
    Ok(tally)
}

/// The stage's outcome as the journal records it; trips the failure-rate gate if it must.
fn gate(ctx: &Ctx<'_>, stage: usize, tally: &Tally) -> String {
    if let Some(reason) = ctx.halt.reason() {
        return format!("halted: {reason}");
    }
    let max = ctx.campaign().delivery.max_failure_rate;
    if !plan::gate_tripped(tally.permanent, tally.finished(), max) {
        return "done".to_owned();
    }
    let reason = HaltReason::FailureRate {
        stage,
        permanent: tally.permanent,
        of: tally.finished(),
        max,
        certain: false,
    };
    let outcome = format!("halted: {reason}");
    ctx.halt.halt(reason);
    outcome
}
