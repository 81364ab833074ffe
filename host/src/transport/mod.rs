//! Delivery: one trait, the exact journaled bytes in, a classified outcome out.
//!
//! Implementations: [`smtp`] (lettre's SMTP client on tokio, one envelope per recipient) and
//! [`maildir`] (the embedded default: a local Maildir outbox). A transport never retries by
//! itself: the caller journals every attempt and decides.

pub mod maildir;
pub mod smtp;

use std::future::Future;
use std::pin::Pin;

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted; the server's reply.
    Sent(String),
    /// Refused for now (4xx, or the connection failed before the message was transmitted):
    /// safe to try again.
    Transient(String),
    /// Refused for good (5xx).
    Permanent(String),
    /// The message may or may not have been delivered (e.g. the connection was lost after the
    /// body was sent). Never retried automatically.
    Ambiguous(String),
    /// The destination itself is unusable (no connection, no STARTTLS, authentication refused,
    /// outbox not writable) even after the transport's own retries. Nothing was sent; the
    /// campaign stops rather than burn through the list.
    Unreachable(String),
}

/// A boxed future, so the trait stays object-safe without an extra dependency.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One delivery channel. `send` takes the envelope and the exact bytes the journal hashed.
pub trait Transport: Send + Sync {
    fn send<'a>(
        &'a self,
        from: &'a str,
        to: &'a str,
        key: &'a str,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, Delivery>;

    /// After a crash, whether the message with this key is known to have arrived. `None`:
    /// this transport cannot tell (SMTP), so the recipient is reported ambiguous.
    fn already_delivered(&self, _key: &str) -> Option<bool> {
        None
    }

    /// A description for summaries, without secrets.
    fn describe(&self) -> String;
}

/// A transport that serialises every message and connects to nothing: `send --dry-run`.
pub struct DryRun;

impl Transport for DryRun {
    fn send<'a>(
        &'a self,
        _from: &'a str,
        _to: &'a str,
        _key: &'a str,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, Delivery> {
        let reply = format!("dry run: {} bytes not sent", bytes.len());
        Box::pin(async move { Delivery::Sent(reply) })
    }

    fn describe(&self) -> String {
        "dry run (nothing is transmitted)".into()
    }
}
