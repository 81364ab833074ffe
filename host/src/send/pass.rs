//! One pass over a stage's recipients: each message is rendered again in a fresh instance,
//! checked again and compared with the hash the preflight journaled, then handed to the
//! workers. A message that fails any of that halts the campaign and is not sent.

use std::collections::HashMap;
use std::sync::Arc;

use super::Ctx;
use super::reason::HaltReason;
use super::work::{Job, Pass, PassResult};
use super::worker::Workers;
use crate::Error;
use crate::campaign::{Recipient, normalise};
use crate::journal::Committer;
use crate::render;
use crate::reporter::Event;

/// Runs the pass: this thread renders and queues, `concurrency` workers send.
pub(super) fn run(
    ctx: &Ctx<'_>,
    runtime: &tokio::runtime::Runtime,
    pass: &Pass<'_>,
) -> Result<PassResult, Error> {
    let concurrency = ctx.campaign().delivery.concurrency;
    let (tx, rx) = tokio::sync::mpsc::channel::<Job>(concurrency);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    // The workers' journal writes share commits (each still returns only once it is durable).
    let committer = Committer::new(ctx.journal);
    let workers = Workers::new(ctx, pass, &committer);
    ctx.reporter.event(Event::StageStarted {
        stage: pass.stage,
        messages: pass.rows.len(),
    });
    // Only the workers hold the receiver: once they have all stopped (done, halted, or stopped
    // at once with messages still queued), the producer's next send fails instead of waiting
    // for room that nobody will make.
    let receivers: Vec<_> = (0..concurrency).map(|_| Arc::clone(&rx)).collect();
    drop(rx);
    std::thread::scope(|scope| -> Result<(), Error> {
        let running: Vec<_> = receivers
            .into_iter()
            .map(|rx| {
                let workers = &workers;
                scope.spawn(move || runtime.block_on(workers.run(rx)))
            })
            .collect();
        // Dropping the sender when done (or stopped) lets the workers drain and end.
        let produced = produce(ctx, pass, tx);
        for worker in running {
            let _ = worker.join();
        }
        ctx.reporter.finish_bar();
        produced
    })?;
    workers.finish()
}

/// Renders the pass's messages in list order and queues them for the workers. A row is found
/// on the list by its person (normalised address), not by its position: the journal's number
/// for someone is not their row.
fn produce(
    ctx: &Ctx<'_>,
    pass: &Pass<'_>,
    tx: tokio::sync::mpsc::Sender<Job>,
) -> Result<(), Error> {
    let wanted: HashMap<String, (usize, &str)> = pass
        .rows
        .iter()
        .map(|r| (normalise(&r.email), (r.index, r.hash.as_str())))
        .collect();
    let mut seed_pending = pass.with_seed && !ctx.campaign().delivery.seed.is_empty();
    for item in ctx.campaign().recipients.stream()? {
        let recipient = item?;
        let Some(&(index, hash)) = wanted.get(&normalise(&recipient.email)) else {
            continue;
        };
        if ctx.halt.is_halted() {
            break;
        }
        let Some(mut job) = render_again(ctx, recipient, index, hash) else {
            break;
        };
        job.seed_stage = seed_pending.then_some(pass.stage);
        seed_pending = false;
        if tx.blocking_send(job).is_err() {
            break;
        }
    }
    Ok(())
}

/// The message for `recipient`, rendered in a fresh instance, checked, and identical to the
/// one the preflight checked; otherwise the campaign halts and `None` is returned.
fn render_again(ctx: &Ctx<'_>, recipient: Recipient, journaled: usize, hash: &str) -> Option<Job> {
    let m = &ctx.making;
    let index = recipient.index;
    let timing = (m.date, render::Signing::AtSend);
    let message = match render::render_one(m.campaign, m.sandbox, m.checks, timing, recipient) {
        Ok(message) => message,
        Err(failed) => {
            let why = format!("{failed} at send time");
            ctx.halt.halt(HaltReason::SendTimeFinding(why));
            return None;
        }
    };
    if let Some(finding) = message.findings.first() {
        let why = format!(
            "safety check failed at send time: {}",
            m.checks.describe(index, finding)
        );
        ctx.halt.halt(HaltReason::SendTimeFinding(why));
        return None;
    }
    if message.hash != hash {
        ctx.halt.halt(HaltReason::HashMismatch { index });
        return None;
    }
    Some(Job {
        index: journaled,
        email: message.email,
        bytes: message.bytes,
        seed_stage: None,
    })
}
