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
}

#[derive(Debug, Args)]
pub struct Threads {
    /// Render on this many threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
}
