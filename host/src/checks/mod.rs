//! Safety checks over rendered messages: pure functions, no I/O.
//!
//! Isolation stops state from crossing messages; it cannot stop a template or renderer from
//! writing someone else's data on purpose or by mistake. So every message is read before it can
//! go out: [`Checks::message`] scans one message (leaks of other recipients' addresses and
//! private values, unrendered template markers, empty parts), and [`Watch`] looks across the
//! campaign for the 2016 signature (size growing with send order, a prefix that grows from one
//! message to the next). Reports name recipients by index and masked address, never by value.
//! The leak scanner is in `scan/`, the campaign-wide watch in `watch.rs`, recipient values in
//! URLs and script in `urls.rs`; this file holds what the rest of isomail uses of them.

mod quiet;
mod scan;
mod urls;
mod watch;

use crate::campaign::recipients::mask;
use crate::sandbox::{Content, Recipient};
pub use scan::{Form, Leak, Scanner};
pub use urls::{Problem, UrlFinding};
pub use watch::Watch;

/// Why the checks of a campaign could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ChecksError {
    /// The private values would not fit one automaton (too many, or too long, for its limits).
    #[error("cannot build the leak scanner")]
    Scanner(#[source] aho_corasick::BuildError),
}

/// A problem with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Leak(Leak),
    /// A template marker survived rendering: the message would show template source.
    Marker {
        part: &'static str,
        marker: &'static str,
    },
    Empty {
        part: &'static str,
    },
    /// A recipient value in the HTML part where a browser would run it, or follow it to a scheme
    /// it must not (`urls.rs`).
    Url(UrlFinding),
}

/// A problem across messages.
#[derive(Debug, Clone, PartialEq)]
pub enum CampaignFinding {
    /// Message size, less the recipient's own data, rises with position in the list.
    GrowingSize {
        rank_correlation: f64,
        messages: usize,
    },
    /// From message `first` to `last`, each text starts with a longer shared prefix than before.
    GrowingPrefix { first: usize, last: usize },
}

impl std::fmt::Display for CampaignFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CampaignFinding::GrowingSize {
                rank_correlation,
                messages,
            } => write!(
                f,
                "message size grows with position in the list beyond what recipients' own data explains \
                 (rank correlation {rank_correlation:.3} over {messages} messages): the signature \
                  of data accumulating across messages"
            ),
            CampaignFinding::GrowingPrefix { first, last } => write!(
                f,
                "messages #{first} to #{last} each begin with a longer copy of the message before: \
                 the signature of data accumulating across messages"
            ),
        }
    }
}

/// Template markers that must not survive rendering.
const MARKERS: [&str; 3] = ["{{", "{%", "{#"];

/// The per-message checks of one campaign.
pub struct Checks<'a> {
    scanner: Scanner,
    /// Lower-cased addresses, for masking the other party of a leak.
    addresses: &'a [String],
}

impl<'a> Checks<'a> {
    pub fn new(
        addresses: &'a [String],
        private: &[(String, Vec<(String, u32)>)],
    ) -> Result<Checks<'a>, ChecksError> {
        Ok(Checks {
            scanner: Scanner::new(addresses, private)?,
            addresses,
        })
    }

    /// Everything wrong with recipient `index`'s message (1-based).
    pub fn message(&self, index: usize, content: &Content) -> Vec<Finding> {
        let html = content.html.as_deref();
        let mut findings: Vec<Finding> = self
            .scanner
            .scan_message(index, &content.subject, &content.text, html)
            .into_iter()
            .map(Finding::Leak)
            .collect();
        let named = [
            ("subject", Some(content.subject.as_str())),
            ("text", Some(content.text.as_str())),
            ("html", html),
        ];
        for (part, text) in named {
            let Some(text) = text else { continue };
            if text.trim().is_empty() {
                findings.push(Finding::Empty { part });
            }
            if let Some(marker) = MARKERS.iter().find(|m| text.contains(**m)) {
                findings.push(Finding::Marker { part, marker });
            }
        }
        findings
    }

    /// Everything wrong with the message of `recipient` (recipient `index`, 1-based): the
    /// checks of [`Checks::message`], and its HTML part read against its own values (the `urls` check),
    /// which only the recipient's data shows.
    pub fn recipient(
        &self,
        index: usize,
        content: &Content,
        recipient: &Recipient,
    ) -> Vec<Finding> {
        let mut findings = self.message(index, content);
        if let Some(html) = content.html.as_deref() {
            let found = urls::check(html, &recipient.email, &recipient.fields);
            findings.extend(found.into_iter().map(Finding::Url));
        }
        findings
    }

    /// One line for the operator about a finding in recipient `index`'s message.
    pub fn describe(&self, index: usize, finding: &Finding) -> String {
        let who = |i: usize| match self.addresses.get(i.wrapping_sub(1)) {
            Some(a) => format!("recipient #{i} ({})", mask(a)),
            None => format!("recipient #{i}"),
        };
        let what = match finding {
            Finding::Leak(Leak::Address { whose, form }) => {
                format!("contains the address of {} ({form})", who(*whose))
            }
            Finding::Leak(Leak::Private { field, whose, form }) => {
                let owners: Vec<String> = whose.iter().take(3).map(|w| who(*w)).collect();
                let more = if whose.len() > 3 {
                    format!(" and {} more", whose.len() - 3)
                } else {
                    String::new()
                };
                format!(
                    "contains the `{field}` value of {}{more} ({form})",
                    owners.join(", ")
                )
            }
            Finding::Marker { part, marker } => {
                format!("{part} contains an unrendered template marker `{marker}`")
            }
            Finding::Empty { part } => format!("{part} is empty"),
            Finding::Url(url) => url.to_string(),
        };
        format!("message for {}: {what}", who(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_empty_parts() {
        let list = ["a@x.org".to_owned()];
        let checks = Checks::new(&list, &[]).expect("checks");
        let c = Content {
            subject: " ".into(),
            text: "Hi {{ name }}".into(),
            html: Some("<p>{% if %}</p>".into()),
        };
        assert_eq!(
            checks.message(1, &c),
            vec![
                Finding::Empty { part: "subject" },
                Finding::Marker {
                    part: "text",
                    marker: "{{"
                },
                Finding::Marker {
                    part: "html",
                    marker: "{%"
                },
            ]
        );
        assert_eq!(
            checks.message(
                1,
                &Content {
                    subject: "Hello".into(),
                    text: "Hi Ann, curly { braces } are fine".into(),
                    html: None,
                }
            ),
            vec![]
        );
    }
}
