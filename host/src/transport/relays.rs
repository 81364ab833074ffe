//! Several relays as one transport: messages are dealt to the usable relays in turn, and a
//! relay that cannot be used at all (unreachable after its own retries, credentials refused,
//! no STARTTLS) is taken out for the rest of the run; the message it could not take goes to the
//! next usable one at once. Only when none is left does a send come back `Unreachable`.
//!
//! Only [`Delivery::Unreachable`] moves a message here, because it guarantees nothing was
//! transmitted. A message whose body reached a relay keeps that relay's outcome (sent, failed,
//! or ambiguous if the relay died before confirming it); a 4xx is returned as it is and the
//! sender's next pass deals the message again, to whichever relay is then next.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Attempt, BoxFuture, Delivery, Outgoing, Reply, Transport};

/// One relay: the name the journal records, and the transport that talks to it.
pub struct Relay {
    pub name: String,
    pub transport: Box<dyn Transport>,
}

pub struct Relays {
    relays: Vec<Relay>,
    /// Why each relay was taken out, if it was (same order as `relays`).
    out: Mutex<Vec<Option<Reply>>>,
    /// Where the next message's search for a usable relay starts.
    next: AtomicUsize,
}

impl Relays {
    /// The relays in the campaign file's order (which [`Transport::describe`] keeps).
    pub fn new(relays: Vec<Relay>) -> Relays {
        let out = Mutex::new(vec![None; relays.len()]);
        Relays {
            relays,
            out,
            next: AtomicUsize::new(0),
        }
    }

    /// The next usable relay in turn, if any is left.
    fn pick(&self) -> Option<usize> {
        let out = self.out.lock().ok()?;
        let n = self.relays.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n).map(|k| (start + k) % n).find(|&i| out[i].is_none())
    }

    /// Takes relay `i` out; its connections waiting to reconnect give up at once and their
    /// messages come back `Unreachable`, to be dealt to the others.
    fn take_out(&self, i: usize, why: &Reply) {
        if let Ok(mut out) = self.out.lock()
            && out[i].is_none()
        {
            out[i] = Some(why.clone());
        }
        self.relays[i].transport.take_out(&why.text);
    }

    /// Why no relay is usable: each one's reason, in file order.
    fn none_left(&self) -> Reply {
        let out = self.out.lock().map(|o| o.clone()).unwrap_or_default();
        let each: Vec<String> = self
            .relays
            .iter()
            .zip(out)
            .map(|(r, why)| match why {
                Some(why) => format!("{}: {why}", r.name),
                None => format!("{}: in use", r.name),
            })
            .collect();
        Reply::local(format!("no relay is usable ({})", each.join("; ")))
    }
}

impl Transport for Relays {
    /// Deals `outgoing` to the next usable relay, and on to the next while one turns out
    /// unusable; the attempt names the relay that kept it.
    fn send<'a>(&'a self, outgoing: &'a Outgoing<'a>) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            // Each round takes a relay out or returns, so this ends within `relays.len()`.
            while let Some(i) = self.pick() {
                let relay = &self.relays[i];
                match relay.transport.send(outgoing).await.delivery {
                    Delivery::Unreachable(why) => self.take_out(i, &why),
                    delivery => {
                        return Attempt {
                            delivery,
                            relay: Some(relay.name.clone()),
                        };
                    }
                }
            }
            Attempt::local(Delivery::Unreachable(self.none_left()))
        })
    }

    fn describe(&self) -> String {
        let each: Vec<String> = self.relays.iter().map(|r| r.transport.describe()).collect();
        format!("{} relays: {}", self.relays.len(), each.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::stub::{Scripted, Stub};

    fn relays(a: Stub, b: Stub) -> Relays {
        Relays::new(vec![
            Relay {
                name: "a".into(),
                transport: Box::new(a),
            },
            Relay {
                name: "b".into(),
                transport: Box::new(b),
            },
        ])
    }

    fn send(r: &Relays, to: &str) -> (Delivery, Option<String>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let outgoing = Outgoing {
            from: "s@x.test",
            to,
            key: "k",
            bytes: b"m\r\n",
        };
        let attempt = rt.block_on(r.send(&outgoing));
        (attempt.delivery, attempt.relay)
    }

    #[test]
    fn messages_alternate_and_an_unusable_relay_hands_its_message_on() {
        let a = Stub::new().script("3@x.test", [Scripted::Unreachable]);
        let r = relays(a, Stub::new());
        let via = |to: &str| send(&r, to).1;
        assert_eq!(via("1@x.test").as_deref(), Some("a"));
        assert_eq!(via("2@x.test").as_deref(), Some("b"));
        // a is unreachable for #3: b takes it, and a gets nothing more.
        let (outcome, relay) = send(&r, "3@x.test");
        assert!(matches!(outcome, Delivery::Sent(_)), "{outcome:?}");
        assert_eq!(relay.as_deref(), Some("b"));
        for i in 4..8 {
            assert_eq!(via(&format!("{i}@x.test")).as_deref(), Some("b"));
        }
    }

    #[test]
    fn what_reached_a_relay_stays_with_it_and_none_left_is_unreachable() {
        let a = Stub::new()
            .script("lost@x.test", [Scripted::LoseAfterBody])
            .script("later@x.test", [Scripted::Defer]);
        let b = Stub::new().script("last@x.test", [Scripted::Unreachable]);
        let r = relays(a, b);
        // Ambiguous and 4xx outcomes are returned as they are, never tried on the other relay.
        let (outcome, relay) = send(&r, "lost@x.test");
        assert!(matches!(outcome, Delivery::Ambiguous(_)), "{outcome:?}");
        assert_eq!(relay.as_deref(), Some("a"));
        let _ = send(&r, "x@x.test"); // b's turn
        let (outcome, relay) = send(&r, "later@x.test");
        assert!(matches!(outcome, Delivery::Transient(_)), "{outcome:?}");
        assert_eq!(relay.as_deref(), Some("a"));
        // b cannot be used for this one: it is taken out, and a takes the message.
        let (outcome, relay) = send(&r, "last@x.test");
        assert!(matches!(outcome, Delivery::Sent(_)), "{outcome:?}");
        assert_eq!(relay.as_deref(), Some("a"));
        let c = Stub::new().script("z@x.test", [Scripted::Unreachable]);
        let only = Relays::new(vec![Relay {
            name: "c".into(),
            transport: Box::new(c),
        }]);
        let (outcome, relay) = send(&only, "z@x.test");
        assert_eq!(relay, None);
        match outcome {
            Delivery::Unreachable(why) => assert!(why.text.contains("c: stub"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
