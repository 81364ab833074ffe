//! Delivery: one trait, the exact journaled bytes in, a classified outcome out.
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

/// One delivery channel. `send` takes the envelope and the exact bytes the journal hashed.
pub trait Transport: Send + Sync {
    fn send<'a>(
        &'a self,
        from: &'a str,
        to: &'a str,
        key: &'a str,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, Delivery>;

    /// As [`Transport::send`], with the relay that was dealt the message when the transport
    /// has relays (its URL, no user name or secret), for the journal.
    fn send_via<'a>(
        &'a self,
        from: &'a str,
        to: &'a str,
        key: &'a str,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, (Delivery, Option<String>)> {
        Box::pin(async move { (self.send(from, to, key, bytes).await, None) })
    }

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
    fn send<'a>(
        &'a self,
        from: &'a str,
        to: &'a str,
        key: &'a str,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, Delivery> {
        (**self).send(from, to, key, bytes)
    }

    fn send_via<'a>(
        &'a self,
        from: &'a str,
        to: &'a str,
        key: &'a str,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, (Delivery, Option<String>)> {
        (**self).send_via(from, to, key, bytes)
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
    fn send<'a>(
        &'a self,
        _from: &'a str,
        _to: &'a str,
        _key: &'a str,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, Delivery> {
        let reply = Reply::local(format!("dry run: {} bytes not sent", bytes.len()));
        Box::pin(async move { Delivery::Sent(reply) })
    }

    fn describe(&self) -> String {
        "dry run (nothing is transmitted)".into()
    }
}
