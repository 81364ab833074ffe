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
mod stage;
mod worker;

pub use error::SendError;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::Error;
use crate::campaign::{Campaign, Relay, Secret, Target, Tls};
use crate::checks::Checks;
use crate::digest::hex;
use crate::journal::{Journal, State};
use crate::render;
use crate::reporter::{Event, Reporter};
use crate::sandbox::Sandbox;
use crate::transport::maildir::Maildir;
use crate::transport::smtp::{Smtp, SmtpConfig};
use crate::transport::{self, DryRun, Transport};
pub use halt::{Halt, HaltReason, request_halt};

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
        transport: transport(&campaign, options.dry_run)?,
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
    let listed = if changed || !journal.preflight_done()? {
        let listed = journal_file::listing(campaign)?;
        if changed {
            let changes = journal.list_changes(&listed)?;
            wiring.reporter.event(Event::ListChanged(&changes));
            if !options.confirmed
                && wiring.reporter.ask("apply these changes and go on?") == Some(false)
            {
                wiring.reporter.event(Event::LeftUnchanged(&campaign.path));
                return Ok(());
            }
        }
        Some(listed)
    } else {
        None
    };

    let sandbox = render::load_sandbox(campaign, options.jobs, &wiring.reporter)?;
    render::probe(campaign, &sandbox)?;
    let checks = render::checks(campaign)?;
    let date = journal.date()?;
    if let Some(listed) = listed {
        let making = Making {
            campaign,
            sandbox: &sandbox,
            checks: &checks,
            date,
        };
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

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::other(format!("cannot start the async runtime: {e}")))?;
    if wiring.signals {
        let reporter = Arc::clone(&wiring.reporter);
        runtime.spawn(halt::watch_signals(wiring.halt.clone(), reporter));
    }
    runtime.spawn(halt::watch_halt_requests(path, run, wiring.halt.clone()));
    wiring.reporter.event(Event::Sending {
        campaign: &campaign.path,
        transport: &transport.describe(),
    });
    let journal = Mutex::new(journal);
    let domains = domains::Domains::new(&campaign.delivery);
    let ctx = Ctx {
        making: Making {
            campaign,
            sandbox: &sandbox,
            checks: &checks,
            date,
        },
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
            return Err(Error::input(format!(
                "{}: the campaign (templates, renderer, recipients or delivery target) changed since {} was started; \
                 finish it as it was, or pass --allow-changed: everyone already mailed keeps their fate wherever \
                 their row moved, new and edited rows are checked again before anything is sent, and removed rows \
                 not yet mailed are never mailed (docs/operations.md)",
                campaign.path.display(),
                journal.path().display()
            )));
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
pub(super) struct Making<'a> {
    pub campaign: &'a Campaign,
    pub sandbox: &'a Sandbox,
    pub checks: &'a Checks<'a>,
    /// The journaled Date: the same bytes at send time as in preflight.
    pub date: SystemTime,
}

/// Everything the stages, passes and workers of one send share.
pub(super) struct Ctx<'a> {
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
            .map_err(|_| Error::other("journal lock poisoned"))
    }
}

/// The fingerprint a journal records for `campaign` delivered the way its file says (or as a
/// dry run). Public so an operator's tooling (and the tests) can tell which campaign a journal
/// belongs to.
pub fn journal_fingerprint(campaign: &Campaign, dry_run: bool) -> Result<String, Error> {
    Ok(fingerprint(
        campaign,
        &transport(campaign, dry_run)?.describe(),
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

/// The transport the campaign names: its Maildir outbox or its relay (or none, dry).
fn transport(campaign: &Campaign, dry_run: bool) -> Result<Box<dyn Transport>, Error> {
    if dry_run {
        return Ok(Box::new(DryRun));
    }
    let shown = campaign.path.display();
    match &campaign.delivery.target {
        Target::Outbox { dir, written } => match Maildir::open(dir) {
            Ok(maildir) => Ok(Box::new(maildir)),
            Err(e) => Err(Error::input(format!(
                "{shown}: [delivery] outbox = \"{}\": {e}",
                written.display()
            ))),
        },
        Target::Smtp(relays) => {
            let mut each = Vec::with_capacity(relays.len());
            for relay in relays {
                match Smtp::new(smtp_config(campaign, relay)?) {
                    Ok(smtp) => each.push(smtp),
                    Err(why) => return Err(Error::input(format!("{shown}: [delivery] {why}"))),
                }
            }
            // One relay is used as itself: its description (and so the journal fingerprint)
            // stays what it was before lists of relays existed.
            if each.len() == 1
                && let Some(smtp) = each.pop()
            {
                return Ok(Box::new(smtp));
            }
            let relays = each
                .into_iter()
                .map(|smtp| transport::relays::Relay {
                    name: smtp.name(),
                    transport: Box::new(smtp),
                })
                .collect();
            Ok(Box::new(transport::relays::Relays::new(relays)))
        }
    }
}

/// The relay's settings (checked when the campaign loaded) and its password, which only a
/// real send reads.
fn smtp_config(campaign: &Campaign, relay: &Relay) -> Result<SmtpConfig, Error> {
    let shown = campaign.path.display();
    let password = match &relay.password {
        Some(Secret::Env(var)) => Some(std::env::var(var).map_err(|_| {
            Error::input(format!(
                "{shown}: [delivery] password_env = \"{var}\": that environment variable is not set"
            ))
        })?),
        Some(Secret::File { path, .. }) => {
            let secret = crate::input_file::read_text_for(
                "password_file",
                path,
                crate::input_file::TEXT_MAX_BYTES,
            )
            .map_err(|why| Error::input(format!("{shown}: [delivery] {why}")))?;
            Some(secret.trim_end_matches(['\r', '\n']).to_owned())
        }
        None => None,
    };
    let d = &campaign.delivery;
    Ok(SmtpConfig {
        host: relay.url.host.clone(),
        port: relay.url.port,
        implicit_tls: relay.url.implicit_tls,
        starttls: !relay.url.implicit_tls && relay.tls == Tls::Required,
        user: relay.url.user.clone(),
        password,
        ca_file: relay.ca_file.clone(),
        hello: campaign.from.email.domain().to_owned(),
        nodelay: d.tcp_nodelay,
        command_timeout: d.timeout,
        data_timeout: d.timeout * 2,
    })
}
