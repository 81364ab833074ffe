//! Halting a send: why it stops ([`HaltReason`]), the flag every part of the sender watches
//! ([`Halt`]), and the watchers that raise it (SIGINT/SIGTERM, `isomail halt` via the journal).
//!
//! A halt stops new messages; those in flight finish and are journaled. Only a second signal
//! stops at once: the workers drop what they were sending, whose rows stay `sending` and become
//! `ambiguous` on the next run. Nothing here prints or exits the process: the reporter tells the
//! operator, and the error returns through `main`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Error;
use crate::journal::{Journal, JournalLock};
use crate::reporter::{Event, Reporter};
use crate::transport::Reply;

/// How often a running send looks for a `halt` request.
const HALT_POLL: Duration = Duration::from_millis(200);

/// Why a send stopped before its stage was done.
#[derive(Debug, Clone, PartialEq)]
pub enum HaltReason {
    /// SIGINT (`"SIGINT"`) or SIGTERM: stop after the messages in flight.
    Signal(&'static str),
    /// A second SIGINT: stop now; what was in flight becomes ambiguous.
    SecondSignal,
    /// `isomail halt`, with who asked and when.
    Operator(String),
    /// More permanent failures than `max_failure_rate` allows: at the end of a stage, or
    /// (`certain`) already mid-stage, when the rest of the stage could not bring it back under.
    FailureRate {
        stage: usize,
        permanent: usize,
        of: usize,
        max: f64,
        certain: bool,
    },
    /// After `[bounces] wait_seconds`, more of a stage's messages hard-bounced than
    /// `max_bounce_rate` allows: halted before the next stage.
    BounceRate {
        stage: usize,
        bounced: usize,
        of: usize,
        max: f64,
    },
    /// The relay or outbox cannot be used at all (unreachable, credentials refused).
    RelayUnusable { relay: String, reply: Reply },
    /// A message failed to render or failed a safety check when rendered again to be sent.
    SendTimeFinding(String),
    /// A message rendered at send time is not the one the preflight checked.
    HashMismatch { index: usize },
    /// A stage ended with nobody's fate settled: planning it again would change nothing.
    NoProgress { stage: usize, pending: usize },
    /// The journal could not record a step; sending on would lose track of someone.
    Journal(String),
}

impl std::fmt::Display for HaltReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HaltReason::Signal("SIGTERM") => f.write_str("terminated (SIGTERM)"),
            HaltReason::Signal(name) => write!(f, "interrupted ({name})"),
            HaltReason::SecondSignal => f.write_str(
                "stopped at once on a second signal; messages that were in flight will be reported ambiguous",
            ),
            HaltReason::Operator(by) => write!(f, "halt requested ({by})"),
            HaltReason::FailureRate {
                stage,
                permanent,
                of,
                max,
                certain: false,
            } => write!(
                f,
                "failure-rate gate: {permanent} of {of} messages in stage {stage} failed permanently, above max_failure_rate = {max}"
            ),
            HaltReason::FailureRate {
                permanent,
                of,
                max,
                certain: true,
                ..
            } => write!(
                f,
                "failure-rate gate: {permanent} permanent failures already in a stage of {of}, above max_failure_rate = {max}"
            ),
            HaltReason::BounceRate {
                stage,
                bounced,
                of,
                max,
            } => write!(
                f,
                "bounce gate: {bounced} of {of} messages of stage {stage} hard-bounced, above max_bounce_rate = {max}"
            ),
            HaltReason::RelayUnusable { relay, reply } => {
                write!(f, "cannot deliver through {relay}: {reply}")
            }
            HaltReason::SendTimeFinding(what) => f.write_str(what),
            HaltReason::NoProgress { stage, pending } => write!(
                f,
                "stage {stage} settled nobody's fate ({pending} recipient(s) still pending); \
                 stopping rather than run it again"
            ),
            HaltReason::HashMismatch { index } => write!(
                f,
                "the message for recipient #{index} differs from the one checked in preflight (content hash mismatch)"
            ),
            HaltReason::Journal(why) => f.write_str(why),
        }
    }
}

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
            return Err(Error::other(format!(
                "{}: a send holds the lock but has not recorded itself in the journal; try again",
                path.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
