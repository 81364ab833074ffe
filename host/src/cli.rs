//! The command line (clap). Definitions only: no I/O, no validation beyond types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

// The documentation each command's --help points to (docs/ in isomail's source; a test checks
// every page named exists).
const DOCS_ALL: &str = "\
Documentation (docs/ in isomail's source):
  docs/configuration.md   every key of the campaign file
  docs/operations.md      day to day: send, status, halt, resume, --allow-changed, journal, bounces
  docs/deliverability.md  DKIM, DNS, VERP, unsubscribe, suppression
  docs/security.md        what the sandbox and the safety checks guarantee
  docs/renderers.md       writing a renderer of your own
  docs/performance.md     how fast it renders and sends, and what that costs";
const DOCS_INIT: &str =
    "Read next: docs/configuration.md (every key of the campaign file it writes).";
const DOCS_CHECK: &str = "\
Read: docs/configuration.md (the campaign file's keys), docs/security.md (what the sandbox and the
safety checks guarantee), docs/renderers.md ([message] renderer), docs/performance.md (render
rate, the compile cache, --jobs).";
const DOCS_PREVIEW: &str = "\
Read: docs/configuration.md (the campaign file's keys), docs/deliverability.md (the DKIM,
unsubscribe and Return-Path headers a message carries).";
const DOCS_RENDER: &str = "\
Read: docs/configuration.md (the campaign file's keys), docs/security.md (the safety checks that
keep a flagged message out), docs/performance.md (render rate, --jobs).";
const DOCS_SEND: &str = "\
Read: docs/operations.md (stages, gates, halt, resume, --allow-changed, --resend-ambiguous, the
journal), docs/deliverability.md (DKIM, DNS, VERP, unsubscribe, suppression).";
const DOCS_STATUS: &str =
    "Read: docs/operations.md (the journal's states, and what to do about each).";
const DOCS_HALT: &str = "Read: docs/operations.md (halting a send, and resuming it).";
const DOCS_BOUNCES: &str = "\
Read: docs/operations.md (reading bounces day to day), docs/deliverability.md (VERP, suppression,
complaints).";

#[derive(Debug, Parser)]
#[command(
    name = "isomail",
    version,
    about = "Send one email per recipient; each rendered in a fresh, capability-free WebAssembly instance.",
    after_help = DOCS_ALL
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a sample campaign (campaign.toml, recipients.csv, templates/).
    #[command(after_help = DOCS_INIT)]
    Init {
        /// Directory to create; must not exist or be empty.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Validate the campaign, render every message in the sandbox and run the safety checks.
    #[command(after_help = DOCS_CHECK)]
    Check {
        campaign: PathBuf,
        #[command(flatten)]
        threads: Threads,
    },
    /// Print one full RFC 5322 message.
    #[command(after_help = DOCS_PREVIEW)]
    Preview {
        campaign: PathBuf,
        /// The recipient whose message to show.
        #[arg(long, conflicts_with = "index")]
        to: Option<String>,
        /// The Nth recipient (1-based); the first by default.
        #[arg(long)]
        index: Option<usize>,
    },
    /// Dry run to files: one .eml per recipient, exactly the bytes a send would transmit.
    #[command(after_help = DOCS_RENDER)]
    Render {
        campaign: PathBuf,
        /// Directory for the .eml files; must not exist or be empty.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        threads: Threads,
    },
    /// Staged delivery: a few messages first, then more, with gates and a journal.
    #[command(after_help = DOCS_SEND)]
    Send(SendArgs),
    /// What the journal says: counts per state and stage, failures, ambiguous recipients.
    #[command(after_help = DOCS_STATUS)]
    Status {
        campaign: PathBuf,
        /// Machine-readable output with stable keys.
        #[arg(long)]
        json: bool,
        /// Show the dry-run journal instead.
        #[arg(long)]
        dry_run: bool,
    },
    /// Ask a running `send` to stop after its in-flight messages.
    #[command(after_help = DOCS_HALT)]
    Halt { campaign: PathBuf },
    /// Read the bounce mailbox once: journal DSNs and complaints, suppress hard bounces and
    /// complaints. Never changes the mailbox; safe to run often and while `send` runs.
    #[command(after_help = DOCS_BOUNCES)]
    Bounces {
        campaign: PathBuf,
        /// The Maildir to read (default: `[bounces] maildir`).
        #[arg(long)]
        maildir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct SendArgs {
    pub campaign: PathBuf,
    /// Run the whole pipeline (stages, gates, a separate dry-run journal), serialising every
    /// message, without connecting anywhere.
    #[arg(long)]
    pub dry_run: bool,
    /// Run every stage (the gates still apply).
    #[arg(long, conflicts_with = "through")]
    pub yes: bool,
    /// Run stages until this many recipients have been dealt with, or `all`.
    #[arg(long, value_name = "N|all")]
    pub through: Option<String>,
    /// Send again to recipients whose earlier delivery is ambiguous (may have arrived).
    #[arg(long)]
    pub resend_ambiguous: bool,
    /// Resume even though the campaign changed. The journal matches the list by person
    /// (address), after a preview (and, on a terminal without --yes, a question): new addresses
    /// are checked and sent, removed ones still pending are never mailed, and everyone already
    /// sent, failed or ambiguous keeps that fate wherever their row moved.
    #[arg(long)]
    pub allow_changed: bool,
    #[command(flatten)]
    pub threads: Threads,
}

#[derive(Debug, Args)]
pub struct Threads {
    /// Render on this many threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
}
