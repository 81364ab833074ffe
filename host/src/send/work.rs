//! What the stages, passes and workers of a send hand each other: a [`Pass`] (which rows, which
//! attempt) down, one [`Job`] per message across, and a [`Tally`] back up. It sits below all
//! three so that each depends only on the one beneath it.

use std::collections::BTreeSet;

use crate::journal::Row;

/// Attempts per recipient before a transient failure becomes `failed`.
pub(super) const MAX_ATTEMPTS: u32 = 3;

/// What one stage (or one pass of it) came to.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub sent: usize,
    pub permanent: usize,
    /// Transient failures that ran out of attempts.
    pub exhausted: usize,
    pub ambiguous: usize,
    /// Still pending after the stage's last pass: tried again by a later run.
    pub deferred: usize,
}

impl Tally {
    pub fn finished(&self) -> usize {
        self.sent + self.permanent + self.exhausted + self.ambiguous
    }

    pub fn add(&mut self, pass: &Tally) {
        self.sent += pass.sent;
        self.permanent += pass.permanent;
        self.exhausted += pass.exhausted;
        self.ambiguous += pass.ambiguous;
    }
}

/// What one pass is asked to do.
pub(super) struct Pass<'a> {
    pub stage: usize,
    pub rows: &'a [Row],
    /// The stage's first pass sends the seed copies.
    pub with_seed: bool,
    pub resend_ambiguous: bool,
    /// A transient failure now is final.
    pub last_attempt: bool,
}

/// What a pass came to, and who is to be tried again.
pub(super) struct PassResult {
    pub tally: Tally,
    pub deferred: BTreeSet<usize>,
}

/// One message ready for the transport.
pub(super) struct Job {
    pub index: usize,
    pub email: String,
    /// The message as the preflight hashed it, not yet signed: the worker that sends it signs it.
    pub bytes: Vec<u8>,
    /// The stage whose seed copies go out with this message (its first).
    pub seed_stage: Option<usize>,
}
