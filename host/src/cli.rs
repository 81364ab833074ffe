//! The command line (clap). Definitions only: no I/O, no validation beyond types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "isomail",
    version,
    about = "Send one email per recipient; each rendered in a fresh, capability-free WebAssembly instance."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a sample campaign (campaign.toml, recipients.csv, templates/).
    Init {
        /// Directory to create; must not exist or be empty.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Validate the campaign, render every message in the sandbox and run the safety checks.
    Check {
        campaign: PathBuf,
        #[command(flatten)]
        threads: Threads,
    },
    /// Print one full RFC 5322 message.
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
    Render {
        campaign: PathBuf,
        /// Directory for the .eml files; must not exist or be empty.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        threads: Threads,
    },
    /// Staged delivery: a few messages first, then more, with gates and a journal.
    Send(SendArgs),
    /// What the journal says: counts per state and stage, failures, ambiguous recipients.
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
    Halt { campaign: PathBuf },
    /// Read the bounce mailbox once: journal DSNs and complaints, suppress hard bounces and
    /// complaints. Never changes the mailbox; safe to run often and while `send` runs.
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
    /// Resume even though the campaign changed: pending recipients are checked again.
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
