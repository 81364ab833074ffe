//! isomail: one email per recipient, each rendered by a fresh, capability-free WebAssembly
//! instance, checked before anything is sent.
//!
//! A message travels top to bottom through the modules below: [`campaign`] → [`sandbox`] →
//! [`message`] → [`checks`] (with [`render`] driving those three over the whole list) →
//! [`journal`] → [`send`] → [`transport`]. [`run`] maps a parsed command line onto it; `main`
//! only turns the result into an exit code ([`Error::exit_code`], the one place codes are
//! chosen). `docs/development.md` describes the layout and the rules it keeps (no import cycle,
//! the sandbox depending on nothing else), which `tests/tests/layout.rs` checks.

// The pipeline a message travels, in order:
pub mod campaign; // campaign.toml, its templates, list, suppression, tokens and keys, validated
pub mod checks; // every message read for leaks before any is sent
pub mod journal; // each recipient's fate, crash-safe
pub mod message; // the exact RFC 5322 bytes: build, headers, DKIM
pub mod render; // every recipient through sandbox, message and checks, on all cores
pub mod sandbox; // one fresh, capability-free WebAssembly instance per message
pub mod send; // stages, gates, workers and halt
pub mod transport; // SMTP relays, the Maildir outbox, the dry run

// The side commands:
pub mod bounces; // reads DSNs and complaints, suppresses
pub mod status; // what the journal says

// How the command line reaches the pipeline:
pub mod cli;
pub mod commands;

// Small shared parts:
pub mod digest; // hex digests
pub mod input_file; // every file a campaign names: regular, bounded
pub mod reply; // an SMTP reply: code, enhanced status, text
pub mod reporter; // the one place isomail talks to the operator while it works
pub mod term; // making quoted text inert on a terminal

mod error;
pub use error::{Error, ErrorKind, chain};

pub use commands::run;
