//! One function per subcommand, each taking the parsed command line and returning what `main`
//! turns into an exit code. Summaries go to stdout, problems and progress to stderr.

use std::borrow::Cow;
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use crate::Error;
use crate::campaign::Campaign;
use crate::checks::Checks;
use crate::cli::{Cli, Command, SendArgs};
use crate::render::{self, Failed, Outcome, Summary};
use crate::reporter::{CompileCache, Event, RenderSummary, RendererLoaded, Reporter};
use crate::sandbox::RenderError;
use crate::sandbox::RenderFailure;
use crate::send::{SendOptions, Through};
use crate::term;

/// What a command refuses or fails at itself, beyond what the pipeline reports.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// An option's value the command cannot use (exit 2).
    #[error("{0}")]
    Usage(String),
    /// `bounces` with no mailbox to read (exit 2).
    #[error("{campaign}: no bounce mailbox: give --maildir or [bounces] maildir")]
    NoBounceMailbox { campaign: String },
    /// `preview --to` an address the list does not hold (exit 2).
    #[error("{list}: no recipient with the address given to --to")]
    NotOnList { list: String },
    /// `preview` of a suppressed recipient (exit 2).
    #[error("recipient #{index} is {why}: isomail will not render or send it")]
    Suppressed { index: usize, why: String },
    /// `render` into a directory that holds files already (exit 2).
    #[error("{0}: the output directory is not empty")]
    OutputNotEmpty(String),
    /// The list was shorter on a second read than on the first (exit 1).
    #[error("the recipient list ended early")]
    ListEndedEarly,
    /// Messages did not render. Only template problems (`input_only`) are bad input (exit 2);
    /// a renderer breaking a limit or crashing, or the host failing, is a failed check (exit 3).
    #[error("{total} message(s) did not render; nothing was sent")]
    NotRendered { total: usize, input_only: bool },
    /// `preview`: the one message shown failed checks (exit 3).
    #[error("this message failed {0} safety check(s); it must not be sent")]
    PreviewUnsafe(usize),
    /// `check`/`render`: messages or campaign-wide checks failed (exit 3).
    #[error(
        "{flagged} message(s) and {campaign} campaign-wide check(s) failed the safety checks{}; \
         nothing was sent",
        not_rendered.map_or_else(String::new, |n| format!(", and {n} message(s) did not render"))
    )]
    Unsafe {
        flagged: usize,
        campaign: usize,
        not_rendered: Option<usize>,
    },
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Init { dir } => init(&dir),
        Command::Check { campaign, threads } => check(&campaign, threads.jobs),
        Command::Preview {
            campaign,
            to,
            index,
        } => preview(&campaign, to.as_deref(), index),
        Command::Render {
            campaign,
            out,
            threads,
        } => render(&campaign, &out, threads.jobs),
        Command::Send(args) => send(args),
        Command::Status {
            campaign,
            json,
            dry_run,
        } => crate::status::run(&campaign, json, dry_run),
        Command::Halt { campaign } => crate::send::request_halt(&campaign),
        Command::Bounces { campaign, maildir } => bounces(&campaign, maildir.as_deref()),
    }
}

fn send(args: SendArgs) -> Result<(), Error> {
    let through = match args.through.as_deref() {
        _ if args.yes => Through::All,
        None => Through::NextStage,
        Some("all") => Through::All,
        Some(n) => match n.parse::<usize>() {
            Ok(n) if n > 0 => Through::Count(n),
            _ => {
                return Err(CommandError::Usage(format!(
                    "--through takes a positive number or `all`, not `{n}`"
                ))
                .into());
            }
        },
    };
    let jobs = match args.threads.jobs {
        Some(0) => return Err(usage("--jobs must be at least 1")),
        Some(n) => n,
        None => render::default_jobs(),
    };
    let options = SendOptions {
        dry_run: args.dry_run,
        through,
        resend_ambiguous: args.resend_ambiguous,
        allow_changed: args.allow_changed,
        confirmed: args.yes,
        jobs,
    };
    crate::send::run(&args.campaign, &options)
}

fn bounces(path: &Path, maildir: Option<&Path>) -> Result<(), Error> {
    let campaign = Campaign::load(path)?;
    let maildir = maildir
        .map(Path::to_path_buf)
        .or_else(|| campaign.bounces.maildir.clone())
        .ok_or_else(|| CommandError::NoBounceMailbox {
            campaign: path.display().to_string(),
        })?;
    let mut journal =
        crate::journal::Journal::open_existing(&crate::journal::Journal::path_for(path, false))?;
    let t = crate::bounces::process(&campaign, &mut journal, &maildir)?;
    if t.no_suppress_file {
        eprintln!(
            "isomail: {}: [recipients] has no suppress file: bounces and complaints are journaled only",
            path.display()
        );
    }
    println!(
        "{}: {} new, {} already read; {} bounced, {} soft bounces, {} about the sender, {} \
         unclassified, {} complaints, {} added to the suppress file, {} unverified (no valid \
         token: nobody moved), {} unreadable, {} not for this campaign, {} left for later (still \
         sending)",
        term::inert(&maildir.display().to_string()),
        t.read,
        t.known,
        t.hard,
        t.soft,
        t.sender,
        t.unclassified,
        t.complaints,
        t.appended,
        t.unverified,
        t.unreadable,
        t.other,
        t.deferred
    );
    Ok(())
}

fn init(dir: &Path) -> Result<(), Error> {
    crate::campaign::sample::write(dir)?;
    let campaign = dir.join("campaign.toml");
    println!("wrote a sample campaign to {}", dir.display());
    println!("next: isomail check {}", campaign.display());
    Ok(())
}

fn check(path: &Path, jobs: Option<usize>) -> Result<(), Error> {
    let (campaign, sandbox, jobs, loaded) = prepare(path, jobs)?;
    let started = Instant::now();
    let checks = render::checks(&campaign)?;
    let mut tally = Tally::new(campaign.recipients.len());
    let summary = render::render_all(
        &campaign,
        &sandbox,
        &checks,
        jobs,
        SystemTime::now(),
        render::Signing::Now,
        |outcome| {
            tally.add(outcome, &checks);
            Ok(())
        },
    )?;
    tally.finish("checked", &campaign, &loaded, started, &summary)
}

fn render(path: &Path, out: &Path, jobs: Option<usize>) -> Result<(), Error> {
    let (campaign, sandbox, jobs, loaded) = prepare(path, jobs)?;
    create_empty_dir(out)?;
    let started = Instant::now();
    let checks = render::checks(&campaign)?;
    let mut tally = Tally::new(campaign.recipients.len());
    let now = SystemTime::now();
    let summary = render::render_all(
        &campaign,
        &sandbox,
        &checks,
        jobs,
        now,
        render::Signing::Now,
        |outcome| {
            // A message a check flagged is not written: a dry run shows what would be sent.
            if let Ok(message) = &outcome
                && message.findings.is_empty()
            {
                let file = out.join(format!("{:06}.eml", message.index));
                std::fs::write(&file, &message.bytes).map_err(|source| Error::Output {
                    what: format!("{}: cannot write", file.display()),
                    source,
                })?;
            }
            tally.add(outcome, &checks);
            Ok(())
        },
    )?;
    let verb = format!("rendered to {}:", out.display());
    tally.finish(&verb, &campaign, &loaded, started, &summary)
}

fn preview(path: &Path, to: Option<&str>, index: Option<usize>) -> Result<(), Error> {
    let campaign = Campaign::load(path)?;
    let wanted = match (to, index) {
        (Some(email), _) => {
            let key = email.trim().to_lowercase();
            let position = campaign
                .recipients
                .addresses()
                .iter()
                .position(|a| *a == key)
                .ok_or_else(|| CommandError::NotOnList {
                    list: campaign.recipients.path().display().to_string(),
                })?;
            position + 1
        }
        (None, Some(0)) => return Err(usage("--index counts from 1")),
        (None, Some(n)) if n > campaign.recipients.len() => {
            return Err(usage(format!(
                "--index {n}: the list has {} recipients",
                campaign.recipients.len()
            )));
        }
        (None, Some(n)) => n,
        (None, None) => 1,
    };
    let email = &campaign.recipients.addresses()[wanted - 1];
    if let Some(why) = campaign.suppression.why(email) {
        return Err(CommandError::Suppressed {
            index: wanted,
            why: why.to_string(),
        }
        .into());
    }
    let sandbox = render::load_sandbox(&campaign, 1, &Reporter::terminal())?;
    render::probe(&campaign, &sandbox)?;
    let recipient = campaign
        .recipients
        .stream()?
        .nth(wanted - 1)
        .ok_or(CommandError::ListEndedEarly)??;
    let checks = render::checks(&campaign)?;
    match render::render_one(
        &campaign,
        &sandbox,
        &checks,
        (SystemTime::now(), render::Signing::Now),
        recipient,
    ) {
        Ok(message) => {
            let mut stdout = std::io::stdout().lock();
            // On a terminal the message is shown, not interpreted: a renderer's escape
            // sequences become visible text. Piped, it is the exact bytes a send transmits.
            let shown = if stdout.is_terminal() {
                Cow::Owned(term::inert_message(&message.bytes).into_bytes())
            } else {
                Cow::Borrowed(&message.bytes)
            };
            stdout
                .write_all(&shown)
                .and_then(|()| stdout.flush())
                .map_err(|source| Error::Output {
                    what: "cannot write to stdout".into(),
                    source,
                })?;
            if message.findings.is_empty() {
                return Ok(());
            }
            let reporter = Reporter::terminal();
            for finding in &message.findings {
                reporter.event(Event::Problem(&checks.describe(message.index, finding)));
            }
            Err(CommandError::PreviewUnsafe(message.findings.len()).into())
        }
        Err(failed) => Err(failure_error(&[failed], 1, &Reporter::terminal())),
    }
}

/// Loads the campaign and its sandbox and proves the templates work before any recipient; also
/// says how long making the renderer ready took, and whether the compile cache had it.
fn prepare(
    path: &Path,
    jobs: Option<usize>,
) -> Result<(Campaign, crate::sandbox::Sandbox, usize, RendererLoaded), Error> {
    let campaign = Campaign::load(path)?;
    let jobs = match jobs {
        Some(0) => return Err(usage("--jobs must be at least 1")),
        Some(n) => n,
        None => render::default_jobs(),
    };
    let cache = CacheWatch::start();
    let started = Instant::now();
    let sandbox = render::load_sandbox(&campaign, jobs, &Reporter::terminal())?;
    let loaded = RendererLoaded {
        seconds: started.elapsed().as_secs_f64(),
        cache: cache.finish(),
    };
    render::probe(&campaign, &sandbox)?;
    Ok((campaign, sandbox, jobs, loaded))
}

/// What the compile cache's directory shows a load of the renderer did: the sandbox compiles
/// what the cache lacks and writes it as a new file, and touches an entry it loads (the same
/// evidence the compile-cache tests read). Another isomail using the same cache at the same
/// moment could blur it; it only picks the words of one line.
struct CacheWatch {
    dir: Option<PathBuf>,
    /// The entries before: file name, inode and modification time.
    before: Vec<(OsString, u64, Option<SystemTime>)>,
}

impl CacheWatch {
    fn start() -> CacheWatch {
        let dir = crate::sandbox::compile_cache_dir();
        let before = dir.as_deref().map(cache_entries).unwrap_or_default();
        CacheWatch { dir, before }
    }

    fn finish(self) -> CompileCache {
        let Some(dir) = &self.dir else {
            return CompileCache::NotUsed;
        };
        let after = cache_entries(dir);
        let was = |name: &OsString| self.before.iter().find(|(n, ..)| n == name);
        if after
            .iter()
            .any(|entry| was(&entry.0).is_none_or(|old| old.1 != entry.1))
        {
            CompileCache::Stored
        } else if after
            .iter()
            .any(|entry| was(&entry.0).is_some_and(|old| old.2 != entry.2))
        {
            CompileCache::Loaded
        } else {
            CompileCache::NotUsed
        }
    }
}

/// The compiled entries (`*.cwasm`) of a compile-cache directory; none if it cannot be read.
fn cache_entries(dir: &Path) -> Vec<(OsString, u64, Option<SystemTime>)> {
    use std::os::unix::fs::MetadataExt;
    let Ok(listing) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    listing
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((e.file_name(), meta.ino(), meta.modified().ok()))
        })
        .collect()
}

fn create_empty_dir(dir: &Path) -> Result<(), Error> {
    if dir.exists() && std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(CommandError::OutputNotEmpty(dir.display().to_string()).into());
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Output {
        what: format!("{}: cannot create", dir.display()),
        source,
    })
}

/// Counts outcomes, keeps the first failures and findings in full, and tells the reporter.
struct Tally {
    rendered: usize,
    failed: usize,
    flagged: usize,
    bytes: u64,
    first_failures: Vec<Failed>,
    /// (recipient index, description) of the first findings.
    first_findings: Vec<(usize, String)>,
    reporter: Reporter,
}

/// How many failures and findings are printed one by one; the rest are counted.
const SHOWN: usize = 20;

impl Tally {
    fn new(total: usize) -> Tally {
        let reporter = Reporter::terminal();
        reporter.start_bar(total, "{bar:40} {pos}/{len} messages  {per_sec}  eta {eta}");
        Tally {
            rendered: 0,
            failed: 0,
            flagged: 0,
            bytes: 0,
            first_failures: Vec::new(),
            first_findings: Vec::new(),
            reporter,
        }
    }

    fn add(&mut self, outcome: Outcome, checks: &Checks) {
        match outcome {
            Ok(message) => {
                self.rendered += 1;
                self.bytes += message.bytes.len() as u64;
                if !message.findings.is_empty() {
                    self.flagged += 1;
                    for finding in &message.findings {
                        if self.first_findings.len() < SHOWN {
                            self.first_findings
                                .push((message.index, checks.describe(message.index, finding)));
                        }
                    }
                }
            }
            Err(failed) => {
                self.failed += 1;
                if self.first_failures.len() < SHOWN {
                    self.first_failures.push(failed);
                }
            }
        }
        self.reporter.tick();
    }

    fn finish(
        mut self,
        verb: &str,
        campaign: &Campaign,
        loaded: &RendererLoaded,
        started: Instant,
        summary: &Summary,
    ) -> Result<(), Error> {
        let campaign_findings = &summary.findings;
        self.reporter.finish_bar();
        self.reporter.event(Event::Rendered(&RenderSummary {
            verb,
            recipients: campaign.recipients.len(),
            rendered: self.rendered,
            failed: self.failed,
            flagged: self.flagged,
            suppressed: summary.suppressed.len(),
            bytes: self.bytes,
            seconds: started.elapsed().as_secs_f64(),
        }));
        self.reporter.event(Event::RendererReady(loaded));
        self.first_findings.sort_by_key(|(index, _)| *index);
        for (_, line) in &self.first_findings {
            self.reporter.event(Event::Problem(line));
        }
        for finding in campaign_findings {
            self.reporter
                .event(Event::Problem(&format!("campaign: {finding}")));
        }
        if self.flagged > self.first_findings.len() {
            self.reporter.event(Event::Problem(&format!(
                "… more findings in {} messages",
                self.flagged
            )));
        }
        self.first_failures.sort_by_key(|f| f.index);
        let failures = (self.failed > 0)
            .then(|| failure_error(&self.first_failures, self.failed, &self.reporter));
        let safety = self.flagged + campaign_findings.len();
        if safety == 0 {
            return failures.map_or(Ok(()), Err);
        }
        Err(CommandError::Unsafe {
            flagged: self.flagged,
            campaign: campaign_findings.len(),
            not_rendered: failures.map(|_| self.failed),
        }
        .into())
    }
}

/// Lists failures and picks the exit code: template problems are bad input (2), a renderer
/// breaking a limit or crashing is a failed safety check (3).
fn failure_error(shown: &[Failed], total: usize, reporter: &Reporter) -> Error {
    for failed in shown {
        reporter.event(Event::Problem(&failed.to_string()));
    }
    if total > shown.len() {
        reporter.event(Event::Problem(&format!(
            "… and {} more",
            total - shown.len()
        )));
    }
    let input_only = shown.iter().all(|f| {
        matches!(
            f.failure,
            render::Failure::Renderer(RenderFailure::Renderer(
                RenderError::Syntax(_) | RenderError::Undefined(_)
            ))
        )
    });
    CommandError::NotRendered { total, input_only }.into()
}

fn usage(message: impl Into<String>) -> Error {
    CommandError::Usage(message.into()).into()
}
