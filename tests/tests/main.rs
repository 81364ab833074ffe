//! isomail's integration tests, one binary so wasmtime is linked once: each module is one area
//! of promises (isolation, checks, delivery, …), and `util` the harness they share.

mod util;

mod bounce_corpus;
mod bounces;
mod capabilities;
mod checks;
mod cli;
mod contract;
mod deliverability;
mod delivery;
mod dkim;
mod docs;
mod domains;
mod formats;
mod halt_and_crash;
mod hostile;
mod input;
mod international;
mod isolation;
mod javascript;
mod journal;
mod layout;
mod messages;
mod postfix;
mod python;
mod reader_view;
mod relays;
mod resume;
mod sender;
mod urls;
