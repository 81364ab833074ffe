//! Per recipient-domain ceilings (`[delivery.domains."gmail.com"]`): a listed domain's messages
//! go through its own lane, at most `concurrency` at a time and `rate` a second, and a 421 or
//! 4.7.x reply from it halves that rate for the rest of the send.
//!
//! A lane never holds up the rest of the list: a worker that finds the domain's slots taken
//! queues the message with the lane (bounded) and goes on to the next; the workers holding
//! the domain's slots send its queue. What does not fit is left pending for the next pass.
//! Unlisted domains are not touched, so a campaign without the table sends as it always did.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::work::Job;
use crate::campaign::Delivery;
use crate::transport::Reply;

/// Messages a lane queues beyond its slots before the rest wait for the next pass.
const QUEUED_MAX: usize = 512;
/// A throttled domain's rate is halved at most this often, and never below one a minute.
const HALVE_EVERY: Duration = Duration::from_secs(1);
const SLOWEST: Duration = Duration::from_secs(60);

/// The lanes of the listed domains, for a whole send (a halved rate stays halved).
pub(super) struct Domains {
    lanes: HashMap<String, Lane>,
}

struct Lane {
    concurrency: usize,
    state: Mutex<LaneState>,
}

struct LaneState {
    busy: usize,
    queued: VecDeque<Job>,
    /// Between two messages; zero when the domain has no rate and was never throttled.
    interval: Duration,
    next: Instant,
    halved_at: Option<Instant>,
}

/// Where a message goes now.
pub(super) enum Route<'a> {
    /// An unlisted domain: send it as usual.
    Free(Job),
    /// Send it holding one of its domain's slots, then the lane's queue ([`Lease::next`]).
    Lease(Job, Lease<'a>),
    /// Queued with its domain's lane.
    Queued,
    /// Not in this pass: it stays pending for the next.
    Deferred(usize),
}

/// One of a lane's slots, held by a worker until the lane's queue is empty.
pub(super) struct Lease<'a> {
    lane: &'a Lane,
    released: bool,
}

/// The recipient domain of an address, lower-cased (addresses were checked when loaded).
pub(super) fn domain_of(email: &str) -> String {
    email
        .rsplit_once('@')
        .map_or(email, |(_, d)| d)
        .to_ascii_lowercase()
}

/// A reply that asks the sender to slow down: 421, or an RFC 3463 4.7.x status.
pub(super) fn is_slow_down(reply: &Reply) -> bool {
    reply.code == Some(421)
        || reply
            .status
            .as_deref()
            .is_some_and(|s| s.starts_with("4.7."))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The state stays consistent at every unlock; a panicking worker cannot leave it half-set.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Domains {
    pub(super) fn new(delivery: &Delivery) -> Domains {
        let now = Instant::now();
        let lanes = delivery
            .domains
            .iter()
            .map(|(domain, limit)| {
                let lane = Lane {
                    concurrency: limit.concurrency,
                    state: Mutex::new(LaneState {
                        busy: 0,
                        queued: VecDeque::new(),
                        interval: limit
                            .rate
                            .map_or(Duration::ZERO, |r| Duration::from_secs_f64(1.0 / r)),
                        next: now,
                        halved_at: None,
                    }),
                };
                (domain.clone(), lane)
            })
            .collect();
        Domains { lanes }
    }

    pub(super) fn route(&self, job: Job) -> Route<'_> {
        let Some(lane) = self.lanes.get(&domain_of(&job.email)) else {
            return Route::Free(job);
        };
        let mut state = lock(&lane.state);
        if state.busy < lane.concurrency {
            state.busy += 1;
            return Route::Lease(
                job,
                Lease {
                    lane,
                    released: false,
                },
            );
        }
        if state.queued.len() < QUEUED_MAX {
            state.queued.push_back(job);
            return Route::Queued;
        }
        Route::Deferred(job.index)
    }

    /// `domain` said to slow down: halve its rate (from the global one if it had none).
    pub(super) fn slow_down(&self, domain: &str, global_rate: f64) {
        let Some(lane) = self.lanes.get(domain) else {
            return;
        };
        let mut state = lock(&lane.state);
        let now = Instant::now();
        if state.halved_at.is_some_and(|t| now < t + HALVE_EVERY) {
            return;
        }
        state.halved_at = Some(now);
        let current = if state.interval.is_zero() {
            Duration::from_secs_f64(1.0 / global_rate)
        } else {
            state.interval
        };
        state.interval = (current * 2).min(SLOWEST);
    }
}

impl Lease<'_> {
    /// Waits for the domain's next slot in time.
    pub(super) async fn pace(&self) {
        let slot = {
            let mut state = lock(&self.lane.state);
            let now = Instant::now();
            let slot = state.next.max(now);
            state.next = slot + state.interval;
            (slot > now).then_some(slot)
        };
        if let Some(slot) = slot {
            tokio::time::sleep_until(slot.into()).await;
        }
    }

    /// The lane's next queued message; `None` gives the slot back (atomically with the queue
    /// being empty, so nothing queued is ever left without a worker).
    pub(super) fn next(&mut self) -> Option<Job> {
        let mut state = lock(&self.lane.state);
        let job = state.queued.pop_front();
        if job.is_none() && !self.released {
            state.busy -= 1;
            self.released = true;
        }
        job
    }
}

impl Drop for Lease<'_> {
    /// A worker that stops early (a halt) gives its slot back; what is queued stays pending.
    fn drop(&mut self) {
        if !self.released {
            lock(&self.lane.state).busy -= 1;
        }
    }
}
