//! `isomail send`: staged delivery with a crash-safe journal, gates and halt.
//!
//! Order of events: lock the campaign (one sender at a time) → open the journal and refuse a
//! changed campaign → settle what an earlier run left in flight → preflight (render and check
//! every message, record each hash) → for each stage: render each message again in a fresh
//! instance, check it again, compare its hash, journal `sending`, hand it to the transport,
//! journal the outcome → gate. A halt (operator, signal, gate) stops new messages; those in
//! flight finish and are journaled.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::Error;
use crate::campaign::{Campaign, hex};
use crate::checks::Checks;
use crate::journal::{Committer, Journal, State, Write};
use crate::pipeline;
use crate::sandbox::Sandbox;
use crate::stages;
use crate::term::inert;
use crate::transport::maildir::Maildir;
use crate::transport::smtp::{Smtp, SmtpConfig};
use crate::transport::{Delivery, DryRun, Transport};

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
    pub jobs: usize,
}

/// Attempts per recipient before a transient failure becomes `failed`.
const MAX_ATTEMPTS: u32 = 3;
/// How often a running send looks for a `halt` request.
const HALT_POLL: Duration = Duration::from_millis(200);

/// The journal's file for a campaign: `<campaign>.journal.sqlite` beside it, or the dry-run
/// journal, which is kept apart so a rehearsal never counts as a send.
pub fn journal_path(campaign: &Path, dry_run: bool) -> PathBuf {
    let stem = campaign
        .file_stem()
        .map_or_else(|| "campaign".into(), |s| s.to_string_lossy().into_owned());
    let name = if dry_run {
        format!("{stem}.dry-run.journal.sqlite")
    } else {
        format!("{stem}.journal.sqlite")
    };
    campaign.with_file_name(name)
}

struct Shared {
    halt: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl Shared {
    fn halt(&self, reason: impl Into<String>) {
        if let Ok(mut r) = self.reason.lock()
            && r.is_none()
        {
            *r = Some(reason.into());
        }
        self.halt.store(true, Ordering::SeqCst);
    }
    fn halted(&self) -> bool {
        self.halt.load(Ordering::SeqCst)
    }
    fn reason(&self) -> Option<String> {
        self.reason.lock().ok().and_then(|r| r.clone())
    }
}

/// Runs `send`.
pub fn run(campaign_path: &Path, options: &SendOptions) -> Result<(), Error> {
    let campaign = Campaign::load(campaign_path)?;
    let path = journal_path(campaign_path, options.dry_run);
    let _lock = lock(&path)?;
    let mut journal = Journal::open(&path)?;
    let transport = transport(&campaign, options.dry_run)?;
    let fingerprint = fingerprint(&campaign, &*transport);
    match journal.meta("fingerprint")? {
        Some(old) if old != fingerprint && !options.allow_changed => {
            return Err(Error::input(format!(
                "{}: the campaign (templates, renderer, recipients or delivery target) changed since {} was started; \
                 finish it as it was, or pass --allow-changed to re-check the pending recipients against the new campaign",
                campaign_path.display(),
                path.display()
            )));
        }
        Some(old) if old != fingerprint => journal.delete_meta("preflight")?,
        _ => {}
    }
    journal.delete_meta("halt_requested")?;

    // What an interrupted run left in flight: delivered (if the transport can tell) or ambiguous.
    let key_of = |index: usize| delivery_key(&fingerprint, index);
    let ambiguous_now =
        journal.recover(
            |row| match transport.already_delivered(&key_of(row.index)) {
                Some(true) => Some(State::Sent),
                Some(false) => Some(State::Pending),
                None => None,
            },
        )?;
    if ambiguous_now > 0 {
        eprintln!(
            "isomail: {ambiguous_now} recipient(s) were in flight when an earlier run stopped; marked ambiguous (see `isomail status`)"
        );
    }

    let sandbox = pipeline::load_sandbox(&campaign, options.jobs)?;
    pipeline::probe(&campaign, &sandbox)?;
    let checks = pipeline::checks(&campaign)?;
    let date = match journal.meta("date")? {
        Some(secs) => UNIX_EPOCH + Duration::from_secs(secs.parse().unwrap_or(0)),
        None => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            journal.set_meta("date", &now.to_string())?;
            UNIX_EPOCH + Duration::from_secs(now)
        }
    };
    if journal.meta("preflight")?.is_none() {
        preflight(
            &campaign,
            &sandbox,
            &checks,
            &mut journal,
            options.jobs,
            date,
        )?;
        journal.set_meta("fingerprint", &fingerprint)?;
        journal.set_meta("preflight", "done")?;
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::other(format!("cannot start the async runtime: {e}")))?;
    let shared = Arc::new(Shared {
        halt: AtomicBool::new(false),
        reason: Mutex::new(None),
    });
    runtime.spawn(watch_signals(Arc::clone(&shared)));
    runtime.spawn(watch_halt_requests(path.clone(), Arc::clone(&shared)));

    let journal = Mutex::new(journal);
    let ctx = Ctx {
        campaign: &campaign,
        sandbox: &sandbox,
        checks: &checks,
        date,
        journal: &journal,
        transport: &*transport,
        shared: &shared,
        fingerprint: &fingerprint,
        options,
    };
    println!(
        "sending {} to {}",
        campaign_path.display(),
        transport.describe()
    );
    let result = stage_loop(&ctx, &runtime);
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

struct Ctx<'a> {
    campaign: &'a Campaign,
    sandbox: &'a Sandbox,
    checks: &'a Checks<'a>,
    date: SystemTime,
    journal: &'a Mutex<Journal>,
    transport: &'a dyn Transport,
    shared: &'a Arc<Shared>,
    fingerprint: &'a str,
    options: &'a SendOptions,
}

impl Ctx<'_> {
    fn journal(&self) -> Result<std::sync::MutexGuard<'_, Journal>, Error> {
        self.journal
            .lock()
            .map_err(|_| Error::other("journal lock poisoned"))
    }
}

fn stage_loop(ctx: &Ctx<'_>, runtime: &tokio::runtime::Runtime) -> Result<(), Error> {
    let total = ctx.campaign.recipients.len();
    let targets = stages::targets(&ctx.campaign.delivery.stages, total);
    let mut resend_ambiguous = ctx.options.resend_ambiguous;
    let mut ran_one = false;
    loop {
        let counts = ctx.journal()?.counts()?;
        let processed = counts.processed()
            - if resend_ambiguous {
                counts.ambiguous
            } else {
                0
            };
        let Some((stage, target)) = stages::next_stage(&targets, processed) else {
            println!(
                "all {} stages done: {} sent, {} failed, {} ambiguous",
                targets.len(),
                counts.sent,
                counts.failed,
                counts.ambiguous
            );
            return Ok(());
        };
        let go_on = match ctx.options.through {
            Through::All => true,
            Through::Count(n) => processed < n.min(total),
            Through::NextStage => !ran_one || ask_continue(stage, target, processed),
        };
        if !go_on {
            println!(
                "stopped after stage {}: continue with `isomail send {}` (add --yes to run every stage)",
                stage - 1,
                ctx.campaign.path.display()
            );
            return Ok(());
        }
        ran_one = true;
        let mut rows = Vec::new();
        if resend_ambiguous {
            rows.extend(ctx.journal()?.rows_in(State::Ambiguous)?);
        }
        let want = target.saturating_sub(processed).saturating_sub(rows.len());
        rows.extend(ctx.journal()?.next_rows(State::Pending, want)?);
        ctx.journal()?.start_stage(stage, target)?;
        let started = Instant::now();
        let tally = run_stage(ctx, runtime, stage, &rows, resend_ambiguous)?;
        resend_ambiguous = false;
        let outcome = match ctx.shared.reason() {
            Some(reason) => format!("halted: {reason}"),
            None if stages::gate_tripped(
                tally.permanent,
                tally.finished(),
                ctx.campaign.delivery.max_failure_rate,
            ) =>
            {
                let why = format!(
                    "failure-rate gate: {} of {} messages in stage {stage} failed permanently, above max_failure_rate = {}",
                    tally.permanent,
                    tally.finished(),
                    ctx.campaign.delivery.max_failure_rate
                );
                ctx.shared.halt(why.clone());
                format!("halted: {why}")
            }
            None => "done".to_owned(),
        };
        ctx.journal()?.finish_stage(stage, &outcome)?;
        println!(
            "stage {stage} ({target} cumulative): {} sent, {} failed, {} ambiguous, {} to retry later, in {:.1} s",
            tally.sent,
            tally.permanent + tally.exhausted,
            tally.ambiguous,
            tally.deferred,
            started.elapsed().as_secs_f64()
        );
        if let Some(reason) = ctx.shared.reason() {
            return Err(Error::halted(format!(
                "halted during stage {stage}: {reason}; the journal is consistent; `isomail status {}` shows where it stands",
                ctx.campaign.path.display()
            )));
        }
    }
}

fn ask_continue(stage: usize, target: usize, processed: usize) -> bool {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return false;
    }
    eprint!(
        "continue with stage {stage} ({} more recipients)? [y/N] ",
        target - processed
    );
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
}

#[derive(Debug, Default)]
struct Tally {
    sent: usize,
    permanent: usize,
    exhausted: usize,
    ambiguous: usize,
    deferred: usize,
}

impl Tally {
    fn finished(&self) -> usize {
        self.sent + self.permanent + self.exhausted + self.ambiguous
    }
}

/// One message ready for the transport.
struct Job {
    index: usize,
    email: String,
    bytes: Vec<u8>,
    seed_stage: Option<usize>,
}

/// Sends `rows` (a stage), then retries its transient failures, bounded.
fn run_stage(
    ctx: &Ctx<'_>,
    runtime: &tokio::runtime::Runtime,
    stage: usize,
    rows: &[crate::journal::Row],
    resend_ambiguous: bool,
) -> Result<Tally, Error> {
    let mut tally = Tally::default();
    let mut todo: Vec<crate::journal::Row> = rows.to_vec();
    let mut first = true;
    for attempt in 1..=MAX_ATTEMPTS {
        if todo.is_empty() || ctx.shared.halted() {
            break;
        }
        if attempt > 1 {
            let delay = Duration::from_secs_f64(ctx.campaign.delivery.retry_delay);
            std::thread::sleep(delay);
        }
        let deferred = Arc::new(Mutex::new(Vec::new()));
        let pass = run_pass(
            ctx,
            runtime,
            stage,
            &todo,
            first,
            resend_ambiguous,
            attempt == MAX_ATTEMPTS,
            &deferred,
        )?;
        first = false;
        tally.sent += pass.sent;
        tally.permanent += pass.permanent;
        tally.exhausted += pass.exhausted;
        tally.ambiguous += pass.ambiguous;
        let again: BTreeSet<usize> = deferred
            .lock()
            .map(|d| d.iter().copied().collect())
            .unwrap_or_default();
        todo.retain(|r| again.contains(&r.index));
    }
    tally.deferred = todo.len();
    Ok(tally)
}

#[allow(clippy::too_many_arguments)]
fn run_pass(
    ctx: &Ctx<'_>,
    runtime: &tokio::runtime::Runtime,
    stage: usize,
    rows: &[crate::journal::Row],
    with_seed: bool,
    resend_ambiguous: bool,
    last_attempt: bool,
    deferred: &Arc<Mutex<Vec<usize>>>,
) -> Result<Tally, Error> {
    let concurrency = ctx.campaign.delivery.concurrency;
    let (tx, rx) = tokio::sync::mpsc::channel::<Job>(concurrency);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let pace = Arc::new(Pace::new(ctx.campaign.delivery.rate));
    let failure: Arc<Mutex<Option<Error>>> = Arc::new(Mutex::new(None));
    // On a terminal: a bar with rate and ETA; elsewhere it draws nothing (a line per stage is printed).
    let progress = indicatif::ProgressBar::with_draw_target(
        Some(rows.len() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "stage {prefix} {bar:40} {pos}/{len}  {per_sec}  eta {eta}",
    ) {
        progress.set_style(style);
    }
    progress.set_prefix(stage.to_string());
    let wanted: BTreeSet<usize> = rows.iter().map(|r| r.index).collect();
    let hashes: std::collections::HashMap<usize, String> =
        rows.iter().map(|r| (r.index, r.hash.clone())).collect();

    // The workers' journal writes share commits (each still returns only once it is durable).
    let committer = Committer::new(ctx.journal);
    std::thread::scope(|scope| -> Result<(), Error> {
        // The workers: each takes the next message, journals `sending`, transmits, journals the outcome.
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let rx = Arc::clone(&rx);
                let tally = Arc::clone(&tally);
                let pace = Arc::clone(&pace);
                let failure = Arc::clone(&failure);
                let progress = progress.clone();
                let deferred = Arc::clone(deferred);
                let journal = ctx.journal;
                let committer = &committer;
                let transport = ctx.transport;
                let shared = Arc::clone(ctx.shared);
                let from = ctx.campaign.from.email.to_string();
                let fingerprint = ctx.fingerprint.to_owned();
                let seeds = ctx.campaign.delivery.seed.clone();
                let max_rate = ctx.campaign.delivery.max_failure_rate;
                let stage_size = rows.len();
                scope.spawn(move || {
                    runtime.block_on(async move {
                        loop {
                            let job = { rx.lock().await.recv().await };
                            let Some(job) = job else { break };
                            if let Some(seed_stage) = job.seed_stage {
                                send_seeds(journal, transport, &from, &seeds, seed_stage, &job).await;
                            }
                            pace.wait().await;
                            let begun = committer.write(Write::BeginSend { index: job.index, stage, resend_ambiguous });
                            let attempts = match begun {
                                Ok(attempts) => attempts,
                                Err(e) => {
                                    shared.halt(e.message.clone());
                                    if let Ok(mut f) = failure.lock() { f.get_or_insert(e); }
                                    break;
                                }
                            };
                            let outcome = transport.send(&from, &job.email, &delivery_key(&fingerprint, job.index), &job.bytes).await;
                            let (state, reply) = match &outcome {
                                Delivery::Sent(r) => (State::Sent, r),
                                Delivery::Permanent(r) => (State::Failed, r),
                                Delivery::Ambiguous(r) => (State::Ambiguous, r),
                                Delivery::Transient(r) if last_attempt || attempts >= MAX_ATTEMPTS => (State::Failed, r),
                                Delivery::Transient(r) => (State::Pending, r),
                                Delivery::Unreachable(r) => {
                                    shared.halt(format!("cannot deliver through {}: {r}", transport.describe()));
                                    (State::Pending, r)
                                }
                            };
                            let recorded = committer.write(Write::SetState { index: job.index, state, reply: Some(reply.to_string()) });
                            if let Err(e) = recorded {
                                shared.halt(e.message.clone());
                                if let Ok(mut f) = failure.lock() { f.get_or_insert(e); }
                                break;
                            }
                            progress.inc(1);
                            if let Ok(mut t) = tally.lock() {
                                match (&outcome, state) {
                                    (Delivery::Sent(_), _) => t.sent += 1,
                                    (Delivery::Permanent(_), _) => t.permanent += 1,
                                    (Delivery::Ambiguous(_), _) => t.ambiguous += 1,
                                    (_, State::Failed) => t.exhausted += 1,
                                    _ => {
                                        if let Ok(mut d) = deferred.lock() { d.push(job.index); }
                                    }
                                }
                                if stages::gate_certain(t.permanent, stage_size, max_rate) {
                                    shared.halt(format!("failure-rate gate: {} permanent failures already in a stage of {stage_size}, above max_failure_rate = {max_rate}", t.permanent));
                                }
                            }
                        }
                    })
                })
            })
            .collect();

        // The producer: render each message again in a fresh instance, check it, compare hashes.
        let produced = (|| -> Result<(), Error> {
            let mut seed_pending = with_seed && !ctx.campaign.delivery.seed.is_empty();
            for item in ctx.campaign.recipients.stream()? {
                let recipient = item?;
                if !wanted.contains(&recipient.index) {
                    continue;
                }
                if ctx.shared.halted() {
                    break;
                }
                let index = recipient.index;
                let message = match pipeline::render_one(
                    ctx.campaign,
                    ctx.sandbox,
                    ctx.checks,
                    ctx.date,
                    recipient,
                ) {
                    Ok(m) => m,
                    Err(failed) => {
                        ctx.shared.halt(format!("{failed} at send time"));
                        break;
                    }
                };
                if let Some(finding) = message.findings.first() {
                    ctx.shared.halt(format!(
                        "safety check failed at send time: {}",
                        ctx.checks.describe(index, finding)
                    ));
                    break;
                }
                if hashes.get(&index) != Some(&message.hash) {
                    ctx.shared.halt(format!("the message for recipient #{index} differs from the one checked in preflight (content hash mismatch)"));
                    break;
                }
                let job = Job {
                    index,
                    email: message.email,
                    bytes: message.bytes,
                    seed_stage: seed_pending.then_some(stage),
                };
                seed_pending = false;
                if tx.blocking_send(job).is_err() {
                    break;
                }
            }
            Ok(())
        })();
        drop(tx);
        for worker in workers {
            let _ = worker.join();
        }
        progress.finish_and_clear();
        produced
    })?;
    if let Some(e) = failure.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    let tally = std::mem::take(
        &mut *tally
            .lock()
            .map_err(|_| Error::other("tally lock poisoned"))?,
    );
    Ok(tally)
}

/// A copy of the stage's first message to each seed address, marked as such, journaled apart.
async fn send_seeds(
    journal: &Mutex<Journal>,
    transport: &dyn Transport,
    from: &str,
    seeds: &[String],
    stage: usize,
    job: &Job,
) {
    for seed in seeds {
        let done = journal
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
            hex(&Sha256::digest(seed.as_bytes()))[..12].to_owned()
        );
        let outcome = transport.send(from, seed, &key, &bytes).await;
        let (state, reply) = match &outcome {
            Delivery::Sent(r) => (State::Sent, r),
            Delivery::Ambiguous(r) => (State::Ambiguous, r),
            Delivery::Transient(r) | Delivery::Permanent(r) | Delivery::Unreachable(r) => {
                (State::Failed, r)
            }
        };
        if let Ok(j) = journal.lock() {
            let _ = j.record_seed(stage, seed, state, Some(reply));
        }
    }
}

/// A global ceiling on messages per second, shared by all workers.
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

/// Renders and checks every message before the first is sent, and journals each hash.
fn preflight(
    campaign: &Campaign,
    sandbox: &Sandbox,
    checks: &Checks,
    journal: &mut Journal,
    jobs: usize,
    date: SystemTime,
) -> Result<(), Error> {
    let started = Instant::now();
    let mut rows = Vec::with_capacity(campaign.recipients.len());
    let mut problems: Vec<String> = Vec::new();
    let mut problem_count = 0;
    let findings = pipeline::render_all(campaign, sandbox, checks, jobs, date, |outcome| {
        match outcome {
            Ok(m) if m.findings.is_empty() => {
                let message_id =
                    crate::message::message_id(&campaign.fingerprint, m.index, &campaign.from);
                rows.push((m.index, m.email, m.hash, message_id));
            }
            Ok(m) => {
                problem_count += 1;
                if problems.len() < 20 {
                    problems.extend(m.findings.iter().map(|f| checks.describe(m.index, f)));
                }
            }
            Err(failed) => {
                problem_count += 1;
                if problems.len() < 20 {
                    problems.push(failed.to_string());
                }
            }
        }
        Ok(())
    })?;
    problems.sort();
    for p in &problems {
        eprintln!("  {}", inert(p));
    }
    for f in &findings {
        eprintln!("  campaign: {f}");
    }
    if problem_count > 0 || !findings.is_empty() {
        return Err(Error::safety(format!(
            "preflight: {problem_count} message(s) failed to render or failed a safety check, {} campaign-wide finding(s); nothing was sent",
            findings.len()
        )));
    }
    journal.insert_preflight(&rows)?;
    println!(
        "preflight: {} messages rendered and checked in {:.1} s",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The fingerprint a journal records for `campaign` delivered the way its file says (or as a
/// dry run). Public so an operator's tooling (and the tests) can tell which campaign a journal
/// belongs to.
pub fn journal_fingerprint(campaign: &Campaign, dry_run: bool) -> Result<String, Error> {
    Ok(fingerprint(campaign, &*transport(campaign, dry_run)?))
}

/// The journal fingerprint: the campaign's (templates, renderer, from, recipients) and where
/// it is being delivered.
fn fingerprint(campaign: &Campaign, transport: &dyn Transport) -> String {
    let mut h = Sha256::new();
    h.update(campaign.fingerprint.as_bytes());
    h.update(transport.describe().as_bytes());
    hex(&h.finalize())
}

/// The stable per-recipient key a transport may use (the Maildir's file name).
fn delivery_key(fingerprint: &str, index: usize) -> String {
    format!("{}-{index:08}", &fingerprint[..16])
}

fn transport(campaign: &Campaign, dry_run: bool) -> Result<Box<dyn Transport>, Error> {
    let shown = campaign.path.display();
    if dry_run {
        return Ok(Box::new(DryRun));
    }
    let d = &campaign.delivery;
    let Some(url) = &d.smtp else {
        let root = campaign
            .path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&d.outbox);
        let maildir = Maildir::open(&root).map_err(|e| {
            Error::input(format!(
                "{shown}: [delivery] outbox = \"{}\": {e}",
                d.outbox.display()
            ))
        })?;
        return Ok(Box::new(maildir));
    };
    let config = smtp_config(campaign, url)?;
    Smtp::new(config)
        .map(|s| Box::new(s) as Box<dyn Transport>)
        .map_err(|why| Error::input(format!("{shown}: [delivery] {why}")))
}

/// The relay the campaign names (parsed and checked when it loaded) and the secrets that go
/// with it, which only a real send needs.
fn smtp_config(campaign: &Campaign, url: &str) -> Result<SmtpConfig, Error> {
    let shown = campaign.path.display();
    let d = &campaign.delivery;
    let bad = |why: String| Error::input(format!("{shown}: [delivery] smtp = \"{url}\": {why}"));
    let relay = d
        .relay
        .clone()
        .ok_or_else(|| bad("the relay URL was not checked when the campaign loaded".into()))?;
    let tls_none = d.tls.as_deref() == Some("none");
    let password = match (&d.password_env, &d.password_file) {
        (Some(var), _) => Some(std::env::var(var).map_err(|_| {
            Error::input(format!(
                "{shown}: [delivery] password_env = \"{var}\": that environment variable is not set"
            ))
        })?),
        (None, Some(file)) => {
            let file = campaign.path.parent().unwrap_or(Path::new(".")).join(file);
            let secret = std::fs::read_to_string(&file).map_err(|e| {
                Error::input(format!(
                    "{shown}: [delivery] password_file = \"{}\": {e}",
                    file.display()
                ))
            })?;
            Some(secret.trim_end_matches(['\r', '\n']).to_owned())
        }
        (None, None) => None,
    };
    Ok(SmtpConfig {
        starttls: !relay.implicit_tls && !tls_none,
        host: relay.host,
        port: relay.port,
        implicit_tls: relay.implicit_tls,
        user: relay.user,
        password,
        ca_file: d
            .ca_file
            .as_ref()
            .map(|f| campaign.path.parent().unwrap_or(Path::new(".")).join(f)),
        hello: campaign.from.email.domain().to_owned(),
        nodelay: d.tcp_nodelay,
        command_timeout: Duration::from_secs_f64(d.timeout),
        data_timeout: Duration::from_secs_f64(d.timeout * 2.0),
    })
}

/// One sender per campaign: an advisory lock on `<journal>.lock`, released by the OS even
/// after `kill -9`.
fn lock(journal: &Path) -> Result<std::fs::File, Error> {
    let path = journal.with_extension("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            Error::other(format!(
                "{}: cannot create the lock file: {e}",
                path.display()
            ))
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::other(format!(
            "{}: another `isomail send` is running for this campaign",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::other(format!(
            "{}: cannot lock: {e}",
            path.display()
        ))),
    }
}

/// SIGINT or SIGTERM: stop taking new messages, finish those in flight. A second SIGINT: stop
/// now (the journal is consistent; what was in flight is ambiguous next time).
async fn watch_signals(shared: Arc<Shared>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::select! {
        _ = int.recv() => shared.halt("interrupted (SIGINT)"),
        _ = term.recv() => shared.halt("terminated (SIGTERM)"),
    }
    eprintln!("isomail: halting after the messages in flight; press Ctrl-C again to stop at once");
    if int.recv().await.is_some() {
        eprintln!(
            "isomail: stopped at once; messages that were in flight will be reported ambiguous"
        );
        std::process::exit(4);
    }
}

/// `isomail halt` writes a request into the journal; the running send polls for it.
async fn watch_halt_requests(path: PathBuf, shared: Arc<Shared>) {
    let Ok(journal) = Journal::open(&path) else {
        return;
    };
    loop {
        tokio::time::sleep(HALT_POLL).await;
        if let Ok(Some(by)) = journal.meta("halt_requested") {
            shared.halt(format!("halt requested ({by})"));
            return;
        }
    }
}

/// `isomail halt`: asks a running send to stop after its in-flight messages.
pub fn request_halt(campaign_path: &Path) -> Result<(), Error> {
    let path = journal_path(campaign_path, false);
    let journal = Journal::open_existing(&path)?;
    let when = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    journal.set_meta(
        "halt_requested",
        &format!("by `isomail halt` at unix time {when}"),
    )?;
    println!(
        "halt requested: a running `isomail send` stops after its in-flight messages (within a second)"
    );
    Ok(())
}
