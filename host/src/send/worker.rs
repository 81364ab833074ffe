//! The workers: each takes the next message, journals `sending`, hands it to the transport and
//! journals what came of it. `sending` is durable before the transport sees the message, so a
//! crash can make a message ambiguous but never sends it twice.
//!
//! Workers never print and never touch signals; they tell the reporter a message is done and
//! raise the halt flag when the relay is unusable or the journal fails.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::domains::{Lease, Route, domain_of, is_slow_down};
use super::plan;
use super::reason::HaltReason;
use super::work::{Job, MAX_ATTEMPTS, Pass, PassResult, Tally};
use super::{Ctx, delivery_key};
use crate::Error;
use crate::digest::hex;
use crate::journal::{Committer, State, Write};
use crate::reporter::Event;
use crate::transport::{Attempt, Delivery, Outgoing, Reply};

/// What every worker of one pass shares.
pub(super) struct Workers<'a> {
    ctx: &'a Ctx<'a>,
    committer: &'a Committer<'a>,
    stage: usize,
    stage_size: usize,
    resend_ambiguous: bool,
    last_attempt: bool,
    from: String,
    pace: Pace,
    tally: Mutex<Tally>,
    deferred: Mutex<BTreeSet<usize>>,
    /// The first journal error: it ends the pass and is returned.
    failure: Mutex<Option<Error>>,
}

impl<'a> Workers<'a> {
    pub fn new(ctx: &'a Ctx<'a>, pass: &Pass<'_>, committer: &'a Committer<'a>) -> Workers<'a> {
        let campaign = ctx.campaign();
        Workers {
            ctx,
            committer,
            stage: pass.stage,
            stage_size: pass.rows.len(),
            resend_ambiguous: pass.resend_ambiguous,
            last_attempt: pass.last_attempt,
            from: campaign.from.email.to_string(),
            pace: Pace::new(campaign.delivery.rate),
            tally: Mutex::new(Tally::default()),
            deferred: Mutex::new(BTreeSet::new()),
            failure: Mutex::new(None),
        }
    }

    /// One worker: messages from `rx` until it is empty and closed, the journal fails, or the
    /// operator stops the send at once (what is in flight is then abandoned, still `sending`).
    pub async fn run(&self, rx: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Job>>>) {
        loop {
            let job = { rx.lock().await.recv().await };
            let Some(job) = job else { break };
            // A halt stops new messages: one still queued was never journaled `sending`, so
            // it stays pending for the next run.
            if self.ctx.halt.is_halted() {
                break;
            }
            let carry_on = match self.ctx.domains.route(job) {
                Route::Free(job) => self.deliver_or_stop(job, None).await,
                Route::Lease(job, lease) => self.serve(job, lease).await,
                Route::Queued => true,
                Route::Deferred(index) => {
                    self.defer(index);
                    true
                }
            };
            if !carry_on {
                break;
            }
        }
    }

    /// Sends `job` (after its domain's pace, if it has a lane) unless the operator stops the
    /// send at once; `false` to stop this worker.
    async fn deliver_or_stop(&self, job: Job, lease: Option<&Lease<'_>>) -> bool {
        tokio::select! {
            biased;
            () = self.ctx.halt.stopped_now() => false,
            carry_on = async {
                if let Some(lease) = lease {
                    lease.pace().await;
                }
                self.deliver(job).await
            } => carry_on,
        }
    }

    /// Holding one of a domain's slots: sends `job`, then the lane's queue until it is empty.
    async fn serve(&self, mut job: Job, mut lease: Lease<'_>) -> bool {
        loop {
            if !self.deliver_or_stop(job, Some(&lease)).await {
                return false;
            }
            if self.ctx.halt.is_halted() {
                return true;
            }
            match lease.next() {
                Some(next) => job = next,
                None => return true,
            }
        }
    }

    /// Gives `job` its one signature per key, over the bytes whose signed form the preflight
    /// hashed and at the journaled Date, so it is that signed message. Signed here, each worker
    /// on its own thread, rather than by the one thread that renders. On failure the campaign
    /// halts and `false` stops this worker: the message was never journaled `sending`, so it
    /// stays pending.
    fn sign(&self, job: &mut Job) -> bool {
        let signers = &self.ctx.campaign().dkim;
        if signers.is_empty() {
            return true;
        }
        match crate::message::dkim::sign(&job.bytes, signers, self.ctx.making.date) {
            Ok(signed) => {
                job.bytes = signed;
                true
            }
            Err(e) => {
                let why = format!(
                    "the message for recipient #{} could not be signed at send time: {e}",
                    job.index
                );
                self.ctx.halt.halt(HaltReason::SendTimeFinding(why));
                false
            }
        }
    }

    fn defer(&self, index: usize) {
        if let Ok(mut d) = self.deferred.lock() {
            d.insert(index);
        }
    }

    /// The tally and the recipients to try again; the journal's error if it failed.
    pub fn finish(self) -> Result<PassResult, Error> {
        if let Some(e) = self.failure.into_inner().ok().flatten() {
            return Err(e);
        }
        Ok(PassResult {
            tally: self.tally.into_inner().unwrap_or_default(),
            deferred: self.deferred.into_inner().unwrap_or_default(),
        })
    }

    /// Signs one message, sends it and journals its outcome; `false` if it could not be signed
    /// or the journal failed.
    async fn deliver(&self, mut job: Job) -> bool {
        if !self.sign(&mut job) {
            return false;
        }
        if let Some(stage) = job.seed_stage {
            self.send_seeds(stage, &job).await;
        }
        self.pace.wait().await;
        let begun = self.committer.write(Write::BeginSend {
            index: job.index,
            stage: self.stage,
            resend_ambiguous: self.resend_ambiguous,
        });
        let attempts = match begun {
            Ok(attempts) => attempts,
            Err(e) => return self.journal_failed(e),
        };
        let key = delivery_key(self.ctx.campaign_id, job.index);
        let from = self.ctx.campaign().envelope_sender(&job.email);
        let outgoing = Outgoing {
            from: &from,
            to: &job.email,
            key: &key,
            bytes: &job.bytes,
        };
        let Attempt {
            delivery: outcome,
            relay,
        } = self.ctx.transport.send(&outgoing).await;
        if let Delivery::Transient(reply) = &outcome
            && is_slow_down(reply)
        {
            let rate = self.ctx.campaign().delivery.rate;
            self.ctx.domains.slow_down(&domain_of(&job.email), rate);
        }
        let state = self.state_for(&outcome, attempts);
        let recorded = self.committer.write(Write::SetState {
            index: job.index,
            state,
            reply: Some(outcome.reply().clone()),
            relay,
        });
        if let Err(e) = recorded {
            return self.journal_failed(e);
        }
        self.ctx.reporter.event(Event::MessageDone);
        self.count(&outcome, state, job.index);
        true
    }

    /// The journal state an outcome leads to; an unusable relay halts the campaign.
    fn state_for(&self, outcome: &Delivery, attempts: u32) -> State {
        match outcome {
            Delivery::Sent(_) => State::Sent,
            Delivery::Permanent(_) => State::Failed,
            Delivery::Ambiguous(_) => State::Ambiguous,
            Delivery::Transient(_) if self.last_attempt || attempts >= MAX_ATTEMPTS => {
                State::Failed
            }
            Delivery::Transient(_) => State::Pending,
            Delivery::Unreachable(reply) => {
                self.ctx.halt.halt(HaltReason::RelayUnusable {
                    relay: self.ctx.transport.describe(),
                    reply: reply.clone(),
                });
                State::Pending
            }
        }
    }

    /// Counts the outcome; trips the gate mid-stage when the stage cannot pass it any more.
    fn count(&self, outcome: &Delivery, state: State, index: usize) {
        let Ok(mut t) = self.tally.lock() else { return };
        match (outcome, state) {
            (Delivery::Sent(_), _) => t.sent += 1,
            (Delivery::Permanent(_), _) => t.permanent += 1,
            (Delivery::Ambiguous(_), _) => t.ambiguous += 1,
            (_, State::Failed) => t.exhausted += 1,
            _ => {
                if let Ok(mut d) = self.deferred.lock() {
                    d.insert(index);
                }
            }
        }
        let max = self.ctx.campaign().delivery.max_failure_rate;
        if plan::gate_certain(t.permanent, self.stage_size, max) {
            self.ctx.halt.halt(HaltReason::FailureRate {
                stage: self.stage,
                permanent: t.permanent,
                of: self.stage_size,
                max,
                certain: true,
            });
        }
    }

    /// The journal could not record a step: the send halts, and the first such error ends
    /// the pass.
    fn journal_failed(&self, e: impl Into<Error>) -> bool {
        let e = e.into();
        self.ctx.halt.halt(HaltReason::Journal(crate::chain(&e)));
        if let Ok(mut f) = self.failure.lock() {
            f.get_or_insert(e);
        }
        false
    }

    /// A copy of the stage's first message to each seed address, marked as such, journaled
    /// apart from the recipients.
    async fn send_seeds(&self, stage: usize, job: &Job) {
        for seed in &self.ctx.campaign().delivery.seed {
            let done = self
                .ctx
                .journal
                .lock()
                .ok()
                .and_then(|j| j.seed_done(stage, seed).ok())
                .unwrap_or(true);
            if done {
                continue;
            }
            let mut bytes = format!(
                "X-Isomail-Seed: copy of stage {stage}'s first message (recipient #{})\r\n",
                job.index
            )
            .into_bytes();
            bytes.extend_from_slice(&job.bytes);
            let key = format!(
                "seed-{stage}-{}",
                &hex(&Sha256::digest(seed.as_bytes()))[..12]
            );
            let outgoing = Outgoing {
                from: &self.from,
                to: seed,
                key: &key,
                bytes: &bytes,
            };
            let outcome = self.ctx.transport.send(&outgoing).await.delivery;
            let state = match &outcome {
                Delivery::Sent(_) => State::Sent,
                Delivery::Ambiguous(_) => State::Ambiguous,
                _ => State::Failed,
            };
            let reply: &Reply = outcome.reply();
            if let Ok(j) = self.ctx.journal.lock() {
                let _ = j.record_seed(stage, seed, state, Some(&reply.text));
            }
        }
    }
}

/// A global ceiling on messages per second, shared by all workers of a pass.
struct Pace {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pace {
    fn new(rate: f64) -> Pace {
        Pace {
            interval: Duration::from_secs_f64(1.0 / rate),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn wait(&self) {
        let (slot, now) = match self.next.lock() {
            Ok(mut next) => {
                let now = Instant::now();
                let slot = (*next).max(now);
                *next = slot + self.interval;
                (slot, now)
            }
            Err(_) => return,
        };
        // A slot that is already due needs no timer (tokio's has millisecond ticks, and a
        // sleep costs a wake-up from the runtime's driver thread).
        if slot > now {
            tokio::time::sleep_until(slot.into()).await;
        }
    }
}
