//! `isomail send`: staged delivery with a crash-safe journal, gates and halt.
//!
//! Order of events (each step a private module of this folder, named in backticks): lock the
//! campaign (one sender at a time) → open the journal and refuse a changed campaign → settle
//! what an earlier run left in flight → `preflight` (render and check every message, journal
//! each hash) → `stage` by stage: the stage plan picks the recipients, a `pass` renders each
//! message again in a fresh instance, checks it, compares its hash and hands it to a `worker`,
//! which journals `sending`, transmits and journals the outcome → the gate. A `halt`
//! (operator, signal, gate) stops new messages; those in flight finish and are journaled.
//! Nothing in this folder prints: it emits events to the [`Reporter`].

mod bounce_gate;
mod domains;
mod error;
mod halt;
mod journal_file;
mod pass;
pub mod plan;
mod preflight;
mod reason;
mod stage;
mod target;
mod work;
mod worker;

pub use error::SendError;
pub use halt::{Halt, request_halt};
pub use reason::HaltReason;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::Error;
use crate::campaign::Campaign;
use crate::checks::Checks;
use crate::digest::hex;
use crate::journal::{Journal, Listed, State};
use crate::render;
use crate::reporter::{Event, Reporter};
use crate::sandbox::Sandbox;
use crate::transport::Transport;

/// How far `send` goes in one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Through {
    /// The next stage only (then stop, or ask on a terminal).
    NextStage,
    /// Until this many recipients have been dealt with.
    Count(usize),
    All,
}

#[derive(Debug, Clone)]
pub struct SendOptions {
    pub dry_run: bool,
    pub through: Through,
    pub resend_ambiguous: bool,
    pub allow_changed: bool,
    /// `--yes`: the operator agreed up front, so nothing is asked (a changed list included).
    pub confirmed: bool,
    pub jobs: usize,
}

/// What a send delivers through, who may stop it and who hears about it. [`run`] wires the
/// real ones; in-process tests wire a [`Stub`](crate::transport::stub::Stub) transport.
pub struct Wiring {
    pub transport: Box<dyn Transport>,
    pub halt: Halt,
    /// Whether SIGINT and SIGTERM halt this send: the command line's do; a test's do not.
    pub signals: bool,
    pub reporter: Arc<Reporter>,
}

/// Runs `send` for the campaign file at `campaign_path`, as the command line does.
pub fn run(campaign_path: &Path, options: &SendOptions) -> Result<(), Error> {
    let campaign = Campaign::load(campaign_path)?;
    let wiring = Wiring {
        transport: target::transport(&campaign, options.dry_run)?,
        halt: Halt::new(),
        signals: true,
        reporter: Arc::new(Reporter::terminal()),
    };
    run_with(&campaign, options, wiring)
}

/// Runs `send` for a loaded campaign through `wiring`.
pub fn run_with(campaign: &Campaign, options: &SendOptions, wiring: Wiring) -> Result<(), Error> {
    let path = Journal::path_for(&campaign.path, options.dry_run);
    let transport = &*wiring.transport;
    let fingerprint = fingerprint(campaign, &transport.describe());
    journal_file::refuse_lost(campaign, &path, &fingerprint, options.dry_run)?;
    let lock = Journal::lock(&path)?;
    let mut journal = Journal::open(&path)?;
    journal_file::claim(campaign, &journal)?;
    let run = journal.start_run()?;
    let changed = settle(
        campaign,
        options,
        &journal,
        &fingerprint,
        transport,
        &wiring,
    )?;
    let listed = match relist(campaign, options, &journal, changed, &wiring.reporter)? {
        Relist::Kept => None,
        Relist::Apply(listed) => Some(listed),
        Relist::Declined => return Ok(()),
    };

    let sandbox = render::load_sandbox(campaign, options.jobs, &wiring.reporter)?;
    render::probe(campaign, &sandbox)?;
    let checks = render::checks(campaign)?;
    let making = Making {
        campaign,
        sandbox: &sandbox,
        checks: &checks,
        date: journal.date()?,
    };
    if let Some(listed) = listed {
        preflight::run(
            &making,
            &mut journal,
            &listed,
            &fingerprint,
            options.jobs,
            &wiring.reporter,
        )?;
    }
    let campaign_id = journal
        .campaign_id()?
        .unwrap_or_else(|| fingerprint.clone());
    lock.mark_sending(&campaign_id)?;

    let runtime = runtime(&wiring, path, run)?;
    wiring.reporter.event(Event::Sending {
        campaign: &campaign.path,
        transport: &transport.describe(),
    });
    let journal = Mutex::new(journal);
    let domains = domains::Domains::new(&campaign.delivery);
    let ctx = Ctx {
        making,
        journal: &journal,
        transport,
        halt: &wiring.halt,
        domains: &domains,
        reporter: &wiring.reporter,
        campaign_id: &campaign_id,
        options,
    };
    let result = stage::run(&ctx, &runtime);
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// What the list on disk means for this run.
enum Relist {
    /// The journal's preflight stands.
    Kept,
    /// Preflight this list (a first run, or a changed campaign the operator allowed).
    Apply(Vec<Listed>),
    /// The operator declined the list's changes: nothing is sent.
    Declined,
}

/// Whether the list must be preflighted again, asking the operator about a changed one
/// unless `--yes` agreed up front.
fn relist(
    campaign: &Campaign,
    options: &SendOptions,
    journal: &Journal,
    changed: bool,
    reporter: &Reporter,
) -> Result<Relist, Error> {
    if !changed && journal.preflight_done()? {
        return Ok(Relist::Kept);
    }
    let listed = journal_file::listing(campaign)?;
    if changed {
        let changes = journal.list_changes(&listed)?;
        reporter.event(Event::ListChanged(&changes));
        if !options.confirmed && reporter.ask("apply these changes and go on?") == Some(false) {
            reporter.event(Event::LeftUnchanged(&campaign.path));
            return Ok(Relist::Declined);
        }
    }
    Ok(Relist::Apply(listed))
}

/// The runtime the workers send on, with the watchers that may halt this send (`run`, in the
/// journal at `path`) already running on it.
fn runtime(wiring: &Wiring, path: PathBuf, run: String) -> Result<tokio::runtime::Runtime, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(SendError::Runtime)?;
    if wiring.signals {
        let reporter = Arc::clone(&wiring.reporter);
        runtime.spawn(halt::watch_signals(wiring.halt.clone(), reporter));
    }
    runtime.spawn(halt::watch_halt_requests(path, run, wiring.halt.clone()));
    Ok(runtime)
}

/// Refuses a changed campaign (unless allowed) and settles what an interrupted run left in
/// flight: delivered (if the transport can tell) or ambiguous. Returns whether the campaign
/// changed since the journal's last preflight (and the operator allowed it).
fn settle(
    campaign: &Campaign,
    options: &SendOptions,
    journal: &Journal,
    fingerprint: &str,
    transport: &dyn Transport,
    wiring: &Wiring,
) -> Result<bool, Error> {
    let changed = match journal.fingerprint()? {
        Some(old) if old != fingerprint && !options.allow_changed => {
            return Err(SendError::Changed {
                campaign: campaign.path.clone(),
                journal: journal.path().to_path_buf(),
            }
            .into());
        }
        Some(old) => old != fingerprint,
        None => false,
    };
    // Keys of messages sent before any change: the campaign's first fingerprint.
    let campaign_id = journal
        .campaign_id()?
        .unwrap_or_else(|| fingerprint.to_owned());
    let ambiguous = journal.recover(|row| {
        match transport.already_delivered(&delivery_key(&campaign_id, row.index)) {
            Some(true) => Some(State::Sent),
            Some(false) => Some(State::Pending),
            None => None,
        }
    })?;
    if ambiguous > 0 {
        wiring.reporter.event(Event::RecoveredAmbiguous(ambiguous));
    }
    Ok(changed)
}

/// What every message of the campaign is made with, loaded and probed once per send.
struct Making<'a> {
    pub campaign: &'a Campaign,
    pub sandbox: &'a Sandbox,
    pub checks: &'a Checks<'a>,
    /// The journaled Date: the same bytes at send time as in preflight.
    pub date: SystemTime,
}

/// Everything the stages, passes and workers of one send share.
struct Ctx<'a> {
    pub making: Making<'a>,
    pub journal: &'a Mutex<Journal>,
    pub transport: &'a dyn Transport,
    pub halt: &'a Halt,
    pub domains: &'a domains::Domains,
    pub reporter: &'a Reporter,
    /// The prefix of every delivery key ([`delivery_key`]).
    pub campaign_id: &'a str,
    pub options: &'a SendOptions,
}

impl Ctx<'_> {
    fn campaign(&self) -> &Campaign {
        self.making.campaign
    }

    fn journal(&self) -> Result<std::sync::MutexGuard<'_, Journal>, Error> {
        self.journal
            .lock()
            .map_err(|_| SendError::JournalPoisoned.into())
    }
}

/// The fingerprint a journal records for `campaign` delivered the way its file says (or as a
/// dry run). Public so an operator's tooling (and the tests) can tell which campaign a journal
/// belongs to.
pub fn journal_fingerprint(campaign: &Campaign, dry_run: bool) -> Result<String, Error> {
    Ok(fingerprint(
        campaign,
        &target::transport(campaign, dry_run)?.describe(),
    ))
}

/// The journal fingerprint: the campaign's (templates, renderer, from, recipients) and where
/// it is being delivered.
fn fingerprint(campaign: &Campaign, transport: &str) -> String {
    let mut h = Sha256::new();
    h.update(campaign.fingerprint.as_bytes());
    h.update(transport.as_bytes());
    hex(&h.finalize())
}

/// The stable per-recipient key a transport may use (the Maildir's file name): the campaign's
/// first fingerprint and the person's journal number, neither of which a list edit changes.
fn delivery_key(campaign_id: &str, index: usize) -> String {
    format!("{}-{index:08}", &campaign_id[..campaign_id.len().min(16)])
}
