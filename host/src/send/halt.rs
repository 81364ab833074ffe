//! Halting a send: the flag every part of the sender watches ([`Halt`], holding the first
//! [`HaltReason`]), and the watchers that raise it (SIGINT/SIGTERM, `isomail halt` via the
//! journal).
//!
//! A halt stops new messages; those in flight finish and are journaled. Only a second signal
//! stops at once: the workers drop what they were sending, whose rows stay `sending` and become
//! `ambiguous` on the next run. Nothing here prints or exits the process: the reporter tells the
//! operator, and the error returns through `main`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::error::SendError;
use super::reason::HaltReason;
use crate::Error;
use crate::journal::{Journal, JournalLock};
use crate::reporter::{Event, Reporter};

/// How often a running send looks for a `halt` request.
const HALT_POLL: Duration = Duration::from_millis(200);

/// The halt flag a whole send shares; cloning shares it. The first reason given is kept.
#[derive(Clone, Default)]
pub struct Halt(Arc<Inner>);

#[derive(Default)]
struct Inner {
    halted: AtomicBool,
    now: AtomicBool,
    reason: Mutex<Option<HaltReason>>,
    woken: tokio::sync::Notify,
}

impl Halt {
    pub fn new() -> Halt {
        Halt::default()
    }

    /// Stops new messages. A later reason does not replace the first.
    pub fn halt(&self, reason: HaltReason) {
        if let Ok(mut r) = self.0.reason.lock()
            && r.is_none()
        {
            *r = Some(reason);
        }
        self.0.halted.store(true, Ordering::SeqCst);
        self.0.woken.notify_waiters();
    }

    /// Stops at once: in-flight messages are abandoned (they become ambiguous).
    pub fn stop_now(&self) {
        self.0.now.store(true, Ordering::SeqCst);
        if let Ok(mut r) = self.0.reason.lock() {
            *r = Some(HaltReason::SecondSignal);
        }
        self.halt(HaltReason::SecondSignal);
    }

    pub fn is_halted(&self) -> bool {
        self.0.halted.load(Ordering::SeqCst)
    }

    pub fn reason(&self) -> Option<HaltReason> {
        self.0.reason.lock().ok().and_then(|r| r.clone())
    }

    /// Resolves when [`Halt::stop_now`] is called (never, otherwise).
    pub async fn stopped_now(&self) {
        loop {
            let woken = self.0.woken.notified();
            if self.0.now.load(Ordering::SeqCst) {
                return;
            }
            woken.await;
        }
    }

    /// Sleeps for `delay`, or less if the send is halted meanwhile.
    pub fn sleep(&self, delay: Duration) {
        let until = std::time::Instant::now() + delay;
        while !self.is_halted() {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(HALT_POLL));
        }
    }
}

/// SIGINT or SIGTERM: halt after the messages in flight. A second SIGINT: stop now.
pub(super) async fn watch_signals(halt: Halt, reporter: Arc<Reporter>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::select! {
        _ = int.recv() => halt.halt(HaltReason::Signal("SIGINT")),
        _ = term.recv() => halt.halt(HaltReason::Signal("SIGTERM")),
    }
    reporter.event(Event::Halting);
    if int.recv().await.is_some() {
        halt.stop_now();
        reporter.event(Event::StoppingNow);
    }
}

/// `isomail halt` writes a request for this send (`run`) into the journal; the send polls for it.
pub(super) async fn watch_halt_requests(path: PathBuf, run: String, halt: Halt) {
    let Ok(journal) = Journal::open_existing(&path) else {
        return;
    };
    loop {
        tokio::time::sleep(HALT_POLL).await;
        if let Ok(Some(by)) = journal.halt_request(&run) {
            halt.halt(HaltReason::Operator(by));
            return;
        }
    }
}

/// How long `isomail halt` waits for a send that holds the lock to record itself as running.
const RUN_RECORDED: Duration = Duration::from_secs(5);

/// `isomail halt`: asks the running send to stop after its in-flight messages. With no send
/// running it writes nothing (so no later send can find a stale request) and says so.
pub fn request_halt(campaign_path: &Path) -> Result<(), Error> {
    let path = Journal::path_for(campaign_path, false);
    let journal = Journal::open_existing(&path)?;
    let reporter = Reporter::terminal();
    let started = std::time::Instant::now();
    loop {
        if !JournalLock::held(&path) {
            reporter.event(Event::NothingToHalt(campaign_path));
            return Ok(());
        }
        // The lock is taken before the send records itself: a send just starting is waited for.
        let run = journal.running()?;
        if let Some(run) = run.filter(|r| !r.is_empty()) {
            let when = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            journal.request_halt(&run, &format!("by `isomail halt` at unix time {when}"))?;
            reporter.event(Event::HaltRequested);
            return Ok(());
        }
        if started.elapsed() > RUN_RECORDED {
            return Err(SendError::HaltNotRecorded { journal: path }.into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
