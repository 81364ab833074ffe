//! The reporter: the one place isomail talks to the operator while it works. The pipeline and
//! the sender emit [`Event`]s; the reporter prints them and owns the progress bars.
//!
//! Summaries go to stdout, progress, problems and notes to stderr. Anything quoted from a
//! renderer, a template, a list or a relay is made inert first ([`crate::term`]). Code that
//! decides or sends never prints; it tells the reporter what happened.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::journal::{Counts, ListChanges};
use crate::term::inert;

/// Something the operator may want to know.
#[derive(Debug)]
pub enum Event<'a> {
    /// A remark that changes nothing (e.g. the renderer could not be snapshotted).
    Note(&'a str),
    /// One problem with a message or the campaign (already a full sentence).
    Problem(&'a str),
    /// What `check` or `render` did.
    Rendered(&'a RenderSummary<'a>),
    /// How `check` or `render` got the renderer ready, before the first message.
    RendererReady(&'a RendererLoaded),
    /// Recipients an interrupted run left in flight, now marked ambiguous.
    RecoveredAmbiguous(usize),
    /// Pending recipients a suppression list (read again) now names: not sent.
    SuppressedNow(usize),
    PreflightDone {
        messages: usize,
        seconds: f64,
    },
    Sending {
        campaign: &'a Path,
        transport: &'a str,
    },
    StageStarted {
        stage: usize,
        messages: usize,
    },
    /// A message of the stage has its outcome for this attempt.
    MessageDone,
    StageFinished(&'a StageSummary),
    AllStagesDone {
        stages: usize,
        counts: &'a Counts,
    },
    /// `send` without `--yes` ran its stage and stops here.
    StoppedAfterStage {
        stage: usize,
        campaign: &'a Path,
    },
    /// The first signal: in-flight messages finish.
    Halting,
    /// The second signal: stopping now.
    StoppingNow,
    /// `isomail halt` wrote its request.
    HaltRequested,
    /// `isomail halt` found no send running for this campaign, and wrote nothing.
    NothingToHalt(&'a Path),
    /// `send --allow-changed`: how the list differs from the journal, before anything changes.
    ListChanged(&'a ListChanges),
    /// The operator declined to apply a changed list: nothing was sent or journaled.
    LeftUnchanged(&'a Path),
}

/// What `check` or `render` did, as the reporter prints it.
#[derive(Debug)]
pub struct RenderSummary<'a> {
    /// "checked", or "rendered to DIR:".
    pub verb: &'a str,
    pub recipients: usize,
    pub rendered: usize,
    pub failed: usize,
    pub flagged: usize,
    /// Left out because a suppression list names them.
    pub suppressed: usize,
    pub bytes: u64,
    /// Rendering and checking the messages; the renderer's compile is [`RendererLoaded`].
    pub seconds: f64,
}

/// How long the renderer took to be ready (compiled, or loaded from the compile cache, and
/// snapshotted with the campaign's templates), apart from rendering.
#[derive(Debug)]
pub struct RendererLoaded {
    pub seconds: f64,
    pub cache: CompileCache,
}

/// What the compile cache did for the renderer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileCache {
    /// It lacked (part of) the renderer, which was compiled and stored in it.
    Stored,
    /// It had all of it.
    Loaded,
    /// Off, or not private enough to be used: compiled, not kept.
    NotUsed,
}

/// One stage's outcome, as the reporter prints it.
#[derive(Debug, Clone, Default)]
pub struct StageSummary {
    pub stage: usize,
    pub target: usize,
    pub sent: usize,
    pub failed: usize,
    pub ambiguous: usize,
    pub deferred: usize,
    pub seconds: f64,
}

/// Prints events; holds the progress bar of whatever is running.
pub struct Reporter {
    bar: Mutex<Option<ProgressBar>>,
    quiet: bool,
}

impl Reporter {
    /// Reports to this process's stdout and stderr.
    pub fn terminal() -> Reporter {
        Reporter {
            bar: Mutex::new(None),
            quiet: false,
        }
    }

    /// Reports nothing: for in-process tests and tools that read the journal instead.
    pub fn silent() -> Reporter {
        Reporter {
            bar: Mutex::new(None),
            quiet: true,
        }
    }

    pub fn event(&self, event: Event<'_>) {
        if self.quiet {
            return;
        }
        match event {
            Event::StageStarted { stage, messages } => self.start_bar(
                messages,
                &format!("stage {stage} {{bar:40}} {{pos}}/{{len}}  {{per_sec}}  eta {{eta}}"),
            ),
            Event::MessageDone => self.tick(),
            Event::StageFinished(s) => {
                self.finish_bar();
                println!(
                    "stage {} ({} cumulative): {} sent, {} failed, {} ambiguous, {} to retry later, in {:.1} s",
                    s.stage, s.target, s.sent, s.failed, s.ambiguous, s.deferred, s.seconds
                );
            }
            other => self.line(other),
        }
    }

    fn line(&self, event: Event<'_>) {
        match event {
            Event::Note(note) => eprintln!("isomail: note: {}", inert(note)),
            Event::RecoveredAmbiguous(n) => eprintln!(
                "isomail: {n} recipient(s) were in flight when an earlier run stopped; marked \
                 ambiguous (see `isomail status`)"
            ),
            Event::SuppressedNow(n) => eprintln!(
                "isomail: {n} pending recipient(s) are now on a suppression list and will not be sent"
            ),
            Event::Problem(problem) => eprintln!("  {}", inert(problem)),
            Event::Rendered(r) => println!(
                "{} {} recipients: {} rendered, {} failed, {} flagged by safety checks{}; {:.1} \
                 KiB average; {:.3} s ({:.0} messages/s)",
                r.verb,
                r.recipients,
                r.rendered,
                r.failed,
                r.flagged,
                match r.suppressed {
                    0 => String::new(),
                    n => format!(", {n} suppressed (not rendered)"),
                },
                r.bytes as f64 / r.rendered.max(1) as f64 / 1024.0,
                r.seconds,
                (r.rendered + r.failed) as f64 / r.seconds.max(1e-9)
            ),
            Event::RendererReady(r) => match r.cache {
                CompileCache::Stored => println!(
                    "renderer compiled in {:.2} s (cached for next time)",
                    r.seconds
                ),
                CompileCache::Loaded => println!(
                    "renderer loaded from the compile cache in {:.2} s",
                    r.seconds
                ),
                CompileCache::NotUsed => println!(
                    "renderer compiled in {:.2} s (not cached: the compile cache is off or not private)",
                    r.seconds
                ),
            },
            Event::PreflightDone { messages, seconds } => {
                println!("preflight: {messages} messages rendered and checked in {seconds:.1} s");
            }
            Event::Sending {
                campaign,
                transport,
            } => println!("sending {} to {transport}", campaign.display()),
            Event::AllStagesDone { stages, counts } => println!(
                "all {stages} stages done: {} sent, {} failed, {} ambiguous",
                counts.sent, counts.failed, counts.ambiguous
            ),
            Event::StoppedAfterStage { stage, campaign } => println!(
                "stopped after stage {stage}: continue with `isomail send {}` (add --yes to run every stage)",
                campaign.display()
            ),
            Event::Halting => eprintln!(
                "isomail: halting after the messages in flight; press Ctrl-C again to stop at once"
            ),
            Event::StoppingNow => eprintln!(
                "isomail: stopping at once; messages that were in flight will be reported ambiguous"
            ),
            Event::NothingToHalt(campaign) => println!(
                "no `isomail send` is running for {}: nothing to halt, and nothing was recorded \
                 (the next send starts as usual)",
                inert(&campaign.display().to_string())
            ),
            Event::ListChanged(c) => eprintln!("{}", list_changes(c)),
            Event::LeftUnchanged(campaign) => eprintln!(
                "nothing sent, the journal unchanged; send {} again when the list is as you want it",
                inert(&campaign.display().to_string())
            ),
            Event::HaltRequested => println!(
                "halt requested: a running `isomail send` stops after its in-flight messages (within a second)"
            ),
            Event::StageStarted { .. } | Event::MessageDone | Event::StageFinished(_) => {}
        }
    }

    /// Starts a progress bar of `len` steps drawn with `template` (on a terminal only;
    /// elsewhere it draws nothing and the summary lines tell the story).
    pub fn start_bar(&self, len: usize, template: &str) {
        let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        if let Ok(mut slot) = self.bar.lock()
            && let Some(old) = slot.replace(bar)
        {
            old.finish_and_clear();
        }
    }

    pub fn tick(&self) {
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            bar.inc(1);
        }
    }

    pub fn finish_bar(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
        }
    }

    /// Asks the operator `question` on the terminal: `None` when there is none to ask on.
    pub fn ask(&self, question: &str) -> Option<bool> {
        if self.quiet || !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
            return None;
        }
        eprint!("{question} [y/N] ");
        let mut answer = String::new();
        Some(
            std::io::stdin().read_line(&mut answer).is_ok()
                && matches!(answer.trim(), "y" | "Y" | "yes"),
        )
    }

    /// Asks on a terminal whether to run stage `stage` (`more` recipients); anywhere else the
    /// answer is no.
    pub fn ask_continue(&self, stage: usize, more: usize) -> bool {
        self.ask(&format!(
            "continue with stage {stage} ({more} more recipients)?"
        )) == Some(true)
    }
}

/// What `send --allow-changed` will do with a changed list, person by person.
fn list_changes(c: &ListChanges) -> String {
    if c.is_empty() && c.moved == 0 {
        return format!(
            "the campaign changed since the journal was started (templates, renderer, delivery or \
             another setting), its list did not: {} people\
             \n  the pending are rendered and checked again; everyone already sent, failed, \
             ambiguous, suppressed or bounced keeps that and is not mailed again",
            c.unchanged
        );
    }
    let mut out = format!(
        "the list changed since the journal was started: {} new, {} removed, {} changed, {} unchanged",
        c.new,
        c.removed + c.removed_settled,
        c.changed,
        c.unchanged
    );
    if c.moved > 0 {
        out.push_str(&format!(" ({} at another row)", c.moved));
    }
    out.push_str(&format!(
        "\n  new: pending, rendered and checked before anything is sent\
         \n  removed: {} not yet mailed are journaled as removed and never mailed; {} already settled keep their fate\
         \n  changed: {} pending are rendered and checked again; {} already settled keep their \
          fate and are not mailed again\
         \n  everyone already sent, failed, ambiguous, suppressed or bounced keeps that, wherever their row moved",
        c.removed,
        c.removed_settled,
        c.changed - c.changed_settled,
        c.changed_settled
    ));
    out
}
