//! Delivery: one trait, the exact journaled bytes in, a classified outcome out.
//!
//! Implementations: [`smtp`] (lettre's SMTP client on tokio, one envelope per recipient) and
//! [`maildir`] (the embedded default: a local Maildir outbox). A transport never retries by
//! itself: the caller journals every attempt and decides.

pub mod maildir;
pub mod relays;
pub mod smtp;
pub mod stub;

use std::future::Future;
use std::pin::Pin;

/// What the server said about one message, or what isomail saw happen to it (`code` is then
/// `None`: a lost connection, a file written to the outbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The SMTP reply code: 250, 451, 550, …
    pub code: Option<u16>,
    /// The RFC 3463 enhanced status code (`5.1.1`), when the server gave one.
    pub status: Option<String>,
    /// One line, as the journal and `status` show it.
    pub text: String,
}

impl Reply {
    /// Something isomail observed itself, with no server reply.
    pub fn local(text: impl Into<String>) -> Reply {
        Reply {
            code: None,
            status: None,
            text: text.into(),
        }
    }

    /// A server's reply: `code`, and `text` in which the enhanced status, if any, follows the
    /// code (`550 5.1.1 no such user`, or lettre's `permanent error (550): 5.1.1 …`).
    pub fn smtp(code: u16, text: impl Into<String>) -> Reply {
        let text = text.into();
        let status = text
            .split_whitespace()
            .take(4)
            .find(|word| is_enhanced_status(word, code))
            .map(str::to_owned);
        Reply {
            code: Some(code),
            status,
            text,
        }
    }

    /// A 5xx reply or a 5.x.x status: the server will never take this message.
    pub fn is_permanent(&self) -> bool {
        self.code.is_some_and(|c| (500..600).contains(&c))
    }
}

/// `class.subject.detail` (RFC 3463): class 2, 4 or 5 agreeing with the reply code, then two
/// numbers of one to three digits.
fn is_enhanced_status(word: &str, code: u16) -> bool {
    let mut parts = word.split('.');
    let class_agrees = parts
        .next()
        .is_some_and(|c| c.len() == 1 && c.parse::<u16>().ok() == Some(code / 100));
    let number = |p: Option<&str>| {
        p.is_some_and(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    };
    class_agrees && number(parts.next()) && number(parts.next()) && parts.next().is_none()
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_keep_code_and_enhanced_status() {
        let r = Reply::smtp(550, "550 5.1.1 <x@y.test>: no such user");
        assert_eq!((r.code, r.status.as_deref()), (Some(550), Some("5.1.1")));
        assert!(r.is_permanent());
        let r = Reply::smtp(451, "451 4.7.1 greylisted, try again");
        assert_eq!(r.status.as_deref(), Some("4.7.1"));
        assert!(!r.is_permanent());
        let r = Reply::smtp(550, "permanent error (550): 5.7.1 relaying denied");
        assert_eq!(r.status.as_deref(), Some("5.7.1"));
        // A status whose class disagrees with the code, or no status at all, is not one.
        assert_eq!(Reply::smtp(250, "250 5.1.1 odd").status, None);
        assert_eq!(Reply::smtp(250, "250 OK queued as 1.2.3").status, None);
        assert_eq!(Reply::smtp(550, "550 5.1.1234 x").status, None);
        assert_eq!(Reply::local("written").code, None);
    }
}
