//! One function per subcommand, each taking the parsed command line and returning what `main`
//! turns into an exit code. Summaries go to stdout, problems and progress to stderr.

use std::io::Write;
use std::path::Path;
use std::time::{Instant, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::Error;
use crate::campaign::Campaign;
use crate::cli::{Cli, Command};
use crate::pipeline::{self, Failed, Outcome};
use crate::sandbox::RenderError;
use crate::sandbox::RenderFailure;

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
    }
}

fn init(dir: &Path) -> Result<(), Error> {
    crate::sample::write(dir)?;
    let campaign = dir.join("campaign.toml");
    println!("wrote a sample campaign to {}", dir.display());
    println!("next: isomail check {}", campaign.display());
    Ok(())
}

fn check(path: &Path, jobs: Option<usize>) -> Result<(), Error> {
    let started = Instant::now();
    let (campaign, sandbox, jobs) = prepare(path, jobs)?;
    let mut tally = Tally::new(campaign.recipients.len());
    pipeline::render_all(&campaign, &sandbox, jobs, SystemTime::now(), |outcome| {
        tally.add(outcome);
        Ok(())
    })?;
    tally.finish("checked", &campaign, started)
}

fn render(path: &Path, out: &Path, jobs: Option<usize>) -> Result<(), Error> {
    let started = Instant::now();
    let (campaign, sandbox, jobs) = prepare(path, jobs)?;
    create_empty_dir(out)?;
    let mut tally = Tally::new(campaign.recipients.len());
    pipeline::render_all(&campaign, &sandbox, jobs, SystemTime::now(), |outcome| {
        if let Ok(message) = &outcome {
            let file = out.join(format!("{:06}.eml", message.index));
            std::fs::write(&file, &message.bytes)
                .map_err(|e| Error::other(format!("{}: cannot write: {e}", file.display())))?;
        }
        tally.add(outcome);
        Ok(())
    })?;
    tally.finish(
        &format!("rendered to {}:", out.display()),
        &campaign,
        started,
    )
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
                .ok_or_else(|| {
                    Error::input(format!(
                        "{}: no recipient with the address given to --to",
                        campaign.recipients.path().display()
                    ))
                })?;
            position + 1
        }
        (None, Some(0)) => return Err(Error::input("--index counts from 1")),
        (None, Some(n)) if n > campaign.recipients.len() => {
            return Err(Error::input(format!(
                "--index {n}: the list has {} recipients",
                campaign.recipients.len()
            )));
        }
        (None, Some(n)) => n,
        (None, None) => 1,
    };
    let sandbox = pipeline::load_sandbox(&campaign, 1)?;
    pipeline::probe(&campaign, &sandbox)?;
    let recipient = campaign
        .recipients
        .stream()?
        .nth(wanted - 1)
        .ok_or_else(|| Error::other("the recipient list ended early"))??;
    match pipeline::render_one(&campaign, &sandbox, SystemTime::now(), recipient) {
        Ok(message) => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&message.bytes)
                .and_then(|()| stdout.flush())
                .map_err(|e| Error::other(format!("cannot write to stdout: {e}")))
        }
        Err(failed) => Err(failure_error(&[failed], 1)),
    }
}

/// Loads the campaign and its sandbox and proves the templates work before any recipient.
fn prepare(
    path: &Path,
    jobs: Option<usize>,
) -> Result<(Campaign, crate::sandbox::Sandbox, usize), Error> {
    let campaign = Campaign::load(path)?;
    let jobs = match jobs {
        Some(0) => return Err(Error::input("--jobs must be at least 1")),
        Some(n) => n,
        None => pipeline::default_jobs(),
    };
    let sandbox = pipeline::load_sandbox(&campaign, jobs)?;
    pipeline::probe(&campaign, &sandbox)?;
    Ok((campaign, sandbox, jobs))
}

fn create_empty_dir(dir: &Path) -> Result<(), Error> {
    if dir.exists() && std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(Error::input(format!(
            "{}: the output directory is not empty",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::other(format!("{}: cannot create: {e}", dir.display())))
}

/// Counts outcomes, keeps the first failures in full, and drives the progress bar.
struct Tally {
    rendered: usize,
    failed: usize,
    bytes: u64,
    first_failures: Vec<Failed>,
    progress: ProgressBar,
}

/// How many failures are printed one by one; the rest are counted.
const FAILURES_SHOWN: usize = 20;

impl Tally {
    fn new(total: usize) -> Tally {
        let progress =
            ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} messages  {per_sec}  eta {eta}")
        {
            progress.set_style(style);
        }
        Tally {
            rendered: 0,
            failed: 0,
            bytes: 0,
            first_failures: Vec::new(),
            progress,
        }
    }

    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Ok(message) => {
                self.rendered += 1;
                self.bytes += message.bytes.len() as u64;
            }
            Err(failed) => {
                self.failed += 1;
                if self.first_failures.len() < FAILURES_SHOWN {
                    self.first_failures.push(failed);
                }
            }
        }
        self.progress.inc(1);
    }

    fn finish(mut self, verb: &str, campaign: &Campaign, started: Instant) -> Result<(), Error> {
        self.progress.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{verb} {} recipients: {} rendered, {} failed; {:.1} KiB average; {:.2} s ({:.0} messages/s)",
            campaign.recipients.len(),
            self.rendered,
            self.failed,
            self.bytes as f64 / self.rendered.max(1) as f64 / 1024.0,
            seconds,
            (self.rendered + self.failed) as f64 / seconds.max(1e-9)
        );
        if self.failed == 0 {
            return Ok(());
        }
        self.first_failures.sort_by_key(|f| f.index);
        Err(failure_error(&self.first_failures, self.failed))
    }
}

/// Lists failures on stderr and picks the exit code: template problems are bad input (2), a
/// renderer breaking a limit or crashing is a failed safety check (3).
fn failure_error(shown: &[Failed], total: usize) -> Error {
    for failed in shown {
        eprintln!("  {failed}");
    }
    if total > shown.len() {
        eprintln!("  … and {} more", total - shown.len());
    }
    let input_only = shown.iter().all(|f| {
        matches!(
            f.failure,
            RenderFailure::Renderer(RenderError::Syntax(_) | RenderError::Undefined(_))
        )
    });
    let message = format!("{total} message(s) did not render; nothing was sent");
    if input_only {
        Error::input(message)
    } else {
        Error::safety(message)
    }
}
