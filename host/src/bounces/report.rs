//! One mail from the bounce mailbox, parsed with mail-parser: a bounce (an RFC 3464 delivery
//! status notification wherever it sits in the MIME tree, or a plain-text notice of a common
//! MTA), a complaint (ARF, RFC 5965, and its common variants), or neither.
//!
//! Only what a report says is extracted: where it was addressed (where a VERP token is), the
//! headers of the original message it returns (its Return-Path and List-Unsubscribe carry the
//! recipient's token too), and per failed recipient the action, status, reply code, diagnostic
//! and reason. Nothing here decides whose report it is; text taken from a report is foreign
//! and must be shown through `term`.

use mail_parser::{Message, MessageParser, MimeHeaders};

pub use super::dsn::Failure;
use super::dsn::{bare, one_line, typed_address};
use super::mime;
use super::reason::{self, Evidence};

/// The headers a bounce's envelope recipient may be found in (the VERP address).
const ADDRESSED_TO: [&str; 5] = [
    "Delivered-To",
    "X-Original-To",
    "Envelope-To",
    "X-Envelope-To",
    "To",
];

/// Where the recipient of a complained-about message may be named, in the report's fields
/// (`Removal-Recipient` is the draft ARF's name) or the original's headers (Microsoft's JMRP).
const COMPLAINT_FIELDS: [&str; 3] = [
    "Original-Rcpt-To",
    "Removal-Recipient",
    "X-Original-Rcpt-To",
];
const ORIGINAL_RECIPIENT_HEADERS: [&str; 4] = [
    "X-HmXmrOriginalRecipient",
    "Delivered-To",
    "X-Original-To",
    "To",
];

/// What a mail turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A bounce: one entry per failed recipient it reports on.
    Bounce(Bounce),
    /// An ARF complaint (or a provider's variant of one).
    Complaint(Complaint),
    /// Mail that is not a report: auto-replies, people, newsletters.
    NotAReport,
    /// Mail isomail will not read (too large, a shape no report has), with why.
    Unreadable(String),
}

/// What a bounce says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// `dsn`, or the plain-text family (`exim`, `qmail`, …).
    pub format: &'static str,
    pub addressed_to: Vec<String>,
    pub original: Original,
    pub failures: Vec<Failure>,
}

/// What a complaint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complaint {
    pub addressed_to: Vec<String>,
    pub original: Original,
    /// Who the complained-about message went to, as the report or the original names them.
    pub recipients: Vec<String>,
    /// ARF's Feedback-Type (`abuse`, `fraud`, …), lower-cased; `abuse` when it names none.
    pub feedback_type: String,
}

/// The headers of the original message a report returns, where our tokens are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Original {
    /// Its envelope sender (Return-Path): the VERP address.
    pub return_path: Vec<String>,
    /// Its List-Unsubscribe header(s), raw: the unsubscribe URL and mailto carry the token.
    pub list_unsubscribe: Vec<String>,
}

/// Parses one mail.
pub fn parse(bytes: &[u8]) -> Parsed {
    if let Some(why) = mime::refused_shape(bytes) {
        return Parsed::Unreadable(why);
    }
    let Some(message) = MessageParser::default().parse(bytes) else {
        return Parsed::NotAReport;
    };
    let tree = mime::messages(&message);
    let addressed_to = addressed_to(&message);
    if let Some(part) = mime::find_part(&tree, None, &["feedback-report"]) {
        return Parsed::Complaint(complaint(&tree, part, addressed_to));
    }
    let status_part = mime::find_part(&tree, None, &["delivery-status", "global-delivery-status"]);
    if let Some(part) = status_part {
        let failures = super::dsn::failures(mime::body_bytes(part));
        return bounce("dsn", &tree, addressed_to, failures);
    }
    for m in &tree {
        if let Some(part) = text_with_fields(m).filter(|_| from_a_mail_system(m)) {
            let failures = super::dsn::failures(part);
            if !failures.is_empty() {
                return bounce("dsn", &tree, addressed_to, failures);
            }
        }
        if let Some(found) = plain(m) {
            return bounce(found.family, &tree, addressed_to, found.failures);
        }
    }
    Parsed::NotAReport
}

fn bounce(
    format: &'static str,
    tree: &[&Message<'_>],
    addressed_to: Vec<String>,
    failures: Vec<Failure>,
) -> Parsed {
    if failures.is_empty() {
        return Parsed::NotAReport;
    }
    Parsed::Bounce(Bounce {
        format,
        addressed_to,
        original: original(tree),
        failures,
    })
}

/// Whether `m` comes from a mail system: a null envelope sender (RFC 5321 §4.5.5, as every
/// bounce has) or a From of MAILER-DAEMON or postmaster. Text that merely looks like DSN
/// fields in a person's or a newsletter's mail is not a report.
fn from_a_mail_system(m: &Message<'_>) -> bool {
    let null_sender = m.return_address().is_some_and(|a| bare(a).is_empty())
        || m.header_raw("Return-Path")
            .is_some_and(|r| bare(r).is_empty());
    let daemon = m
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .is_some_and(|a| {
            let local = a.split('@').next().unwrap_or("").to_ascii_lowercase();
            ["mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"].contains(&local.as_str())
        });
    null_sender || daemon
}

/// A text part of `m` that carries delivery-status fields itself.
fn text_with_fields<'m>(m: &'m Message<'_>) -> Option<&'m [u8]> {
    m.parts
        .iter()
        .filter(|p| mime::is(p, Some("text"), &["plain"]) || p.content_type().is_none())
        .map(mime::body_bytes)
        .find(|text| super::dsn::looks_like_fields(text))
}

/// A plain-text notice in `m`'s own text (or its HTML as text), not in its attachments.
struct Plain {
    family: &'static str,
    failures: Vec<Failure>,
}

fn plain(m: &Message<'_>) -> Option<Plain> {
    let from = m
        .from()
        .and_then(|a| a.first())
        .map(|a| {
            format!(
                "{} <{}>",
                a.name().unwrap_or_default(),
                a.address().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let subject = m.subject().unwrap_or_default();
    let body = m.body_text(0)?;
    let found = super::plain::extract(&from, subject, &body)?;
    let failures = found
        .failures
        .into_iter()
        .map(|f| {
            let status = reason::enhanced_status(&f.diagnostic);
            let reply = reason::reply_code(&f.diagnostic);
            let why = reason::classify(&Evidence {
                action: None,
                status: status.as_deref(),
                reply,
                diagnostic: Some(&f.diagnostic),
                permanent: f.permanent,
            });
            Failure {
                addresses: f.address.into_iter().collect(),
                action: None,
                status,
                reply,
                diagnostic: Some(f.diagnostic).filter(|d| !d.is_empty()),
                reason: why,
            }
        })
        .collect();
    Some(Plain {
        family: found.family,
        failures,
    })
}

/// Every address in the headers a bounce's envelope recipient may be in.
fn addressed_to(message: &Message<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for name in ADDRESSED_TO {
        out.extend(addresses_in(message, name));
    }
    out
}

/// The addresses of every `name` header of `message`, parsed or taken as text.
fn addresses_in(message: &Message<'_>, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for value in message.header_values(name) {
        match value.as_address() {
            Some(address) => out.extend(
                address
                    .iter()
                    .filter_map(|a| a.address.as_deref().map(str::to_owned)),
            ),
            None => out.extend(value.as_text().map(|t| bare(t).to_owned())),
        }
    }
    out
}

/// The original message's headers: the returned `message/rfc822` or `text/rfc822-headers`.
fn original(tree: &[&Message<'_>]) -> Original {
    let mut out = Original::default();
    let parts = tree.iter().flat_map(|m| m.parts.iter()).filter(|p| {
        mime::is(p, Some("message"), &["rfc822", "global"])
            || mime::is(p, Some("text"), &["rfc822-headers", "global-headers"])
    });
    for part in parts.take(4) {
        let Some(headers) = MessageParser::default().parse_headers(mime::body_bytes(part)) else {
            continue;
        };
        out.return_path
            .extend(headers.return_address().map(|a| bare(a).to_owned()));
        out.list_unsubscribe
            .extend(headers.header_raw("List-Unsubscribe").map(str::to_owned));
    }
    out
}

fn complaint(
    tree: &[&Message<'_>],
    part: &mail_parser::MessagePart<'_>,
    addressed_to: Vec<String>,
) -> Complaint {
    let blocks = mime::field_blocks(mime::body_bytes(part), 4);
    let fields: Vec<Message<'_>> = blocks
        .into_iter()
        .filter_map(|b| MessageParser::default().parse_headers(b))
        .collect();
    let mut recipients: Vec<String> = fields
        .iter()
        .flat_map(|f| COMPLAINT_FIELDS.iter().flat_map(|n| f.header_values(*n)))
        .filter_map(|v| v.as_text().map(typed_address))
        .filter(|a| !a.is_empty())
        .collect();
    let feedback_type = fields
        .iter()
        .find_map(|f| f.header_raw("Feedback-Type"))
        .map(|t| one_line(t).to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "abuse".to_owned());
    for p in tree.iter().flat_map(|m| m.parts.iter()).filter(|p| {
        mime::is(p, Some("message"), &["rfc822", "global"])
            || mime::is(p, Some("text"), &["rfc822-headers", "global-headers"])
    }) {
        if let Some(headers) = MessageParser::default().parse_headers(mime::body_bytes(p)) {
            for name in ORIGINAL_RECIPIENT_HEADERS {
                recipients.extend(addresses_in(&headers, name));
            }
        }
    }
    let mut original = original(tree);
    // ARF's Original-Mail-From is the original's envelope sender: the VERP address.
    original.return_path.extend(
        fields
            .iter()
            .filter_map(|f| f.header_raw("Original-Mail-From"))
            .map(|v| bare(v).to_owned()),
    );
    Complaint {
        addressed_to,
        original,
        recipients,
        feedback_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every hand-written report of tests/bounces (the corpus and the older fixtures).
    fn seeds() -> Vec<Vec<u8>> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/bounces");
        let mut out = Vec::new();
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "eml") {
                    out.push(std::fs::read(&path).expect("read fixture"));
                }
            }
        }
        out.sort();
        out
    }

    /// How many cases each fuzzing property runs: `ISOMAIL_FUZZ_CASES`, 400 by default (CI
    /// sets more).
    fn cases() -> u32 {
        std::env::var("ISOMAIL_FUZZ_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(400)
    }

    /// One edit of a report: cut, repeat or overwrite a span, or splice in MIME syntax.
    #[derive(Debug, Clone)]
    enum Edit {
        Cut(usize, usize),
        Repeat(usize, usize, usize),
        Overwrite(usize, Vec<u8>),
        Insert(usize, &'static str),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        let syntax = prop::sample::select(vec![
            "\n\n",
            "\r\n\r\n",
            "\n--",
            "Content-Type: multipart/mixed; boundary=x\n\n--x\n",
            "Content-Type: message/rfc822\n\n",
            "Content-Type: message/delivery-status\n\n",
            "Content-Type: message/feedback-report\n\n",
            "Content-Transfer-Encoding: base64\n",
            "Content-Transfer-Encoding: quoted-printable\n",
            "=?utf-8?b?w7w=?=",
            "Final-Recipient: rfc822; <>\nAction: failed\nStatus: 5.1.1\n",
            "\u{202e}\u{0}\u{1b}[2J",
        ]);
        prop_oneof![
            (any::<usize>(), 0usize..400).prop_map(|(a, n)| Edit::Cut(a, n)),
            (any::<usize>(), 0usize..200, 1usize..50).prop_map(|(a, n, k)| Edit::Repeat(a, n, k)),
            (any::<usize>(), prop::collection::vec(any::<u8>(), 1..64))
                .prop_map(|(a, b)| Edit::Overwrite(a, b)),
            (any::<usize>(), syntax).prop_map(|(a, s)| Edit::Insert(a, s)),
        ]
    }

    fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
        for e in edits {
            let len = bytes.len().max(1);
            match e {
                Edit::Cut(at, n) => {
                    let at = at % len;
                    let end = (at + n).min(bytes.len());
                    bytes.drain(at.min(end)..end);
                }
                Edit::Repeat(at, n, k) => {
                    let at = at % len;
                    let end = (at + n).min(bytes.len());
                    let span = bytes[at.min(end)..end].to_vec();
                    for _ in 0..*k {
                        bytes.splice(end..end, span.iter().copied());
                    }
                }
                Edit::Overwrite(at, b) => {
                    let at = at % len;
                    let end = (at + b.len()).min(bytes.len());
                    bytes.splice(at.min(end)..end, b.iter().copied());
                }
                Edit::Insert(at, s) => {
                    let at = (at % len).min(bytes.len());
                    bytes.splice(at..at, s.bytes());
                }
            }
        }
        bytes
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

        /// Any report, edited anywhere, is read without a panic, and what it yields is bounded.
        #[test]
        fn edited_reports_never_panic(seed in any::<prop::sample::Index>(),
                                      edits in prop::collection::vec(edit(), 1..12)) {
            let seeds = seeds();
            prop_assume!(!seeds.is_empty());
            let bytes = apply(seed.get(&seeds).clone(), &edits);
            match parse(&bytes) {
                Parsed::Bounce(b) => prop_assert!(b.failures.len() <= 1001),
                Parsed::Complaint(c) => prop_assert!(c.feedback_type.len() <= 1000),
                Parsed::NotAReport | Parsed::Unreadable(_) => {}
            }
        }

        /// Arbitrary bytes too.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
            let _ = parse(&bytes);
        }
    }

    #[test]
    fn the_seeds_are_there() {
        // The fuzzing above means little without its seeds: the hand-written corpus.
        assert!(seeds().len() >= 30, "{} seeds", seeds().len());
    }
}
