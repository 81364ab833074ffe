//! Delivery: one trait, one [`Outgoing`] message (the envelope and the exact journaled bytes)
//! in, a classified [`Attempt`] out.
//!
//! Implementations: [`smtp`] (lettre's SMTP client on tokio, one envelope per recipient) and
//! [`maildir`] (the embedded default: a local Maildir outbox). A transport never retries by
//! itself: the caller journals every attempt and decides.

mod error;
pub mod maildir;
pub mod relays;
pub mod smtp;
pub mod stub;

pub use error::TransportError;

use std::future::Future;
use std::pin::Pin;

pub use crate::reply::Reply;

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted; the server's reply.
    Sent(Reply),
    /// Refused for now (4xx, or the connection failed before the message was transmitted):
    /// safe to try again.
    Transient(Reply),
    /// Refused for good (5xx).
    Permanent(Reply),
    /// The message may or may not have been delivered (e.g. the connection was lost after the
    /// body was sent). Never retried automatically.
    Ambiguous(Reply),
    /// The destination itself is unusable (no connection, no STARTTLS, authentication refused,
    /// outbox not writable) even after the transport's own retries. Nothing was sent; the
    /// campaign stops rather than burn through the list.
    Unreachable(Reply),
}

impl Delivery {
    pub fn reply(&self) -> &Reply {
        match self {
            Delivery::Sent(r)
            | Delivery::Transient(r)
            | Delivery::Permanent(r)
            | Delivery::Ambiguous(r)
            | Delivery::Unreachable(r) => r,
        }
    }
}

/// A boxed future, so the trait stays object-safe without an extra dependency.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One message as a transport receives it: the envelope, the key it is known by, and the
/// exact bytes the journal hashed (borrowed: nothing is copied on the way to the wire).
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The envelope sender (`MAIL FROM`).
    pub from: &'a str,
    /// The one recipient (`RCPT TO`).
    pub to: &'a str,
    /// The stable delivery key (the Maildir's file name), the same on every attempt.
    pub key: &'a str,
    pub bytes: &'a [u8],
}

/// How one attempt ended, and through which relay when the transport has relays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub delivery: Delivery,
    /// The relay's URL (no user name or secret), for the journal; `None` for a local one.
    pub relay: Option<String>,
}

impl Attempt {
    /// An attempt that went through no relay (the outbox, a dry run, a stub).
    pub fn local(delivery: Delivery) -> Attempt {
        Attempt {
            delivery,
            relay: None,
        }
    }
}

/// One delivery channel: one message in, how it went out.
pub trait Transport: Send + Sync {
    fn send<'a>(&'a self, outgoing: &'a Outgoing<'a>) -> BoxFuture<'a, Attempt>;

    /// Stops using this destination for the rest of the run (a caller with other relays gave
    /// up on it): later sends fail at once as unreachable, and sends waiting to reconnect stop
    /// waiting. Nothing for a transport with no such wait.
    fn take_out(&self, _why: &str) {}

    /// After a crash, whether the message with this key is known to have arrived. `None`:
    /// this transport cannot tell (SMTP), so the recipient is reported ambiguous.
    fn already_delivered(&self, _key: &str) -> Option<bool> {
        None
    }

    /// A description for summaries, without secrets.
    fn describe(&self) -> String;
}

/// A shared transport is a transport: a test keeps one handle to look at what it received.
impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    fn send<'a>(&'a self, outgoing: &'a Outgoing<'a>) -> BoxFuture<'a, Attempt> {
        (**self).send(outgoing)
    }

    fn take_out(&self, why: &str) {
        (**self).take_out(why);
    }

    fn already_delivered(&self, key: &str) -> Option<bool> {
        (**self).already_delivered(key)
    }

    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// A transport that serialises every message and connects to nothing: `send --dry-run`.
pub struct DryRun;

impl Transport for DryRun {
    fn send<'a>(&'a self, outgoing: &'a Outgoing<'a>) -> BoxFuture<'a, Attempt> {
        let reply = Reply::local(format!("dry run: {} bytes not sent", outgoing.bytes.len()));
        Box::pin(async move { Attempt::local(Delivery::Sent(reply)) })
    }

    fn describe(&self) -> String {
        "dry run (nothing is transmitted)".into()
    }
}
