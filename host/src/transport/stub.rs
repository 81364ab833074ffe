//! A scriptable transport for fast in-process tests of the sender: it returns the outcomes a
//! test scripts for each address and records every message it was handed, touching no network.
//!
//! It exists so retries, gates, ambiguous outcomes and halts can be tested without a server;
//! the aiosmtpd and postfix tests stay as the real-server layer above it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::{Attempt, BoxFuture, Delivery, Outgoing, Reply, Transport};

/// One message as the stub received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub from: String,
    pub to: String,
    pub key: String,
    pub bytes: Vec<u8>,
    /// What the stub answered.
    pub outcome: Delivery,
}

/// What a scripted attempt answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scripted {
    Accept,
    /// 4xx: try again later.
    Defer,
    /// 5xx.
    Reject,
    /// The body reached the server, then the connection died: the message may have arrived.
    LoseAfterBody,
    /// The relay is unusable (nothing was sent).
    Unreachable,
}

type Hook = Box<dyn Fn(&Received) + Send + Sync>;

/// The stub. Each address has a queue of scripted answers, used up one attempt at a time;
/// when it is empty (or was never given) the answer is [`Scripted::Accept`].
#[derive(Default)]
pub struct Stub {
    script: Mutex<HashMap<String, VecDeque<Scripted>>>,
    received: Mutex<Vec<Received>>,
    after_each: Option<Hook>,
}

impl Stub {
    pub fn new() -> Stub {
        Stub::default()
    }

    /// Scripts the next attempts for `to`, in order.
    pub fn script(self, to: &str, answers: impl IntoIterator<Item = Scripted>) -> Stub {
        if let Ok(mut script) = self.script.lock() {
            script
                .entry(to.to_ascii_lowercase())
                .or_default()
                .extend(answers);
        }
        self
    }

    /// Runs `hook` after every attempt, with what was received (e.g. to request a halt).
    pub fn after_each(mut self, hook: impl Fn(&Received) + Send + Sync + 'static) -> Stub {
        self.after_each = Some(Box::new(hook));
        self
    }

    /// Every attempt so far, in the order they were made.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The addresses whose message the stub holds (accepted, or lost after the body).
    pub fn holds(&self) -> Vec<String> {
        self.received()
            .into_iter()
            .filter(|r| matches!(r.outcome, Delivery::Sent(_) | Delivery::Ambiguous(_)))
            .map(|r| r.to)
            .collect()
    }

    fn answer(&self, to: &str) -> Delivery {
        let next = self
            .script
            .lock()
            .ok()
            .and_then(|mut s| s.get_mut(&to.to_ascii_lowercase())?.pop_front());
        match next.unwrap_or(Scripted::Accept) {
            Scripted::Accept => Delivery::Sent(Reply::smtp(250, "250 2.0.0 queued by the stub")),
            Scripted::Defer => Delivery::Transient(Reply::smtp(451, "451 4.3.0 stub: try later")),
            Scripted::Reject => {
                Delivery::Permanent(Reply::smtp(550, "550 5.1.1 stub: no such user"))
            }
            Scripted::LoseAfterBody => Delivery::Ambiguous(Reply::local(
                "stub: connection lost after the message was sent",
            )),
            Scripted::Unreachable => Delivery::Unreachable(Reply::local("stub: relay unreachable")),
        }
    }
}

impl Transport for Stub {
    fn send<'a>(&'a self, outgoing: &'a Outgoing<'a>) -> BoxFuture<'a, Attempt> {
        let outcome = self.answer(outgoing.to);
        let received = Received {
            from: outgoing.from.to_owned(),
            to: outgoing.to.to_owned(),
            key: outgoing.key.to_owned(),
            bytes: outgoing.bytes.to_vec(),
            outcome: outcome.clone(),
        };
        if let Ok(mut all) = self.received.lock() {
            all.push(received.clone());
        }
        if let Some(hook) = &self.after_each {
            hook(&received);
        }
        Box::pin(async move { Attempt::local(outcome) })
    }

    fn describe(&self) -> String {
        "stub transport (tests)".into()
    }
}
