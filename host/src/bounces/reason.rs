//! The bounce classifier: what one failure says about its recipient, from the report's status
//! code, reply code and diagnostic text read together.
//!
//! Codes alone mislead: MTAs put 5.0.0, 550 or 554 on nearly everything, and a permanent
//! 5.x.x is as often about the sender (a block of our IP, a failed SPF check, a spam verdict) as
//! about the recipient. Only [`Class::Gone`] suppresses a recipient, so the text decides first and
//! a failure is judged gone only on evidence that the recipient is. The precedence, first match
//! wins:
//!
//! 1. Greylisting named in the text: temporary, whatever else it says (greylisters name retry
//!    delays that would otherwise read as a rate limit).
//! 2. Sender-side evidence in the text, in this order: missing reverse DNS, block list,
//!    reputation, authentication (SPF, DKIM, DMARC), relaying denied, rate limits, spam or
//!    content, size, other policy (including a rejection of our envelope sender). A receiver
//!    that blocks our IP says so for every one of its users; none of them is gone.
//! 3. A temporary cause that a gone-looking phrase would hide: "Host not found, try again",
//!    "delivery temporarily suspended", "temporarily disabled".
//! 4. Recipient-gone evidence in the text (unknown user, disabled, moved, unknown domain), unless
//!    the failure is transient (a 4.x.x status, a 4xx reply without a status, a `delayed`
//!    action, or the MTA's own wording says it will retry): a transient failure is never gone.
//!    A gone phrase with status X.1.7 or X.1.8 (the sender's address) is about us: policy.
//! 5. Recipient-temporary evidence in the text: mailbox full, inactive, delayed.
//! 6. Weak recipient evidence ("Recipient address rejected", "mailbox unavailable") at a
//!    permanent failure whose status does not name another cause; at a transient one, "try
//!    again later" means greylisting.
//! 7. The codes alone: the sender-side details (X.7.25 reverse DNS, X.7.26 authentication,
//!    X.7.28 rate, X.3.4 size, …) at any class; at a transient failure anything else is a delay;
//!    X.1.1 and X.1.3 unknown user, X.1.2 and X.1.10 (null MX, RFC 7505) unknown domain, X.1.6
//!    moved, X.2.1 disabled, X.2.2 full, X.7.x policy; replies 551, 552 and 556 likewise.
//! 8. Otherwise [`Reason::Unclassified`], which suppresses nobody.
//!
//! Only the first `MAX_TEXT` bytes of a diagnostic are read (longer ones are foreign input).
//! Matching is by one [`regex::RegexSet`] compiled once: linear in the text's length.

use std::sync::LazyLock;

use regex::Regex;

use patterns::{Signal, bit, signals};

mod patterns;

/// The part of a diagnostic that is classified: real diagnostics are a few hundred bytes.
const MAX_TEXT: usize = 8 << 10;

/// A postmaster's name for the cause of one failure (journaled by `as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The mailbox does not exist.
    UnknownUser,
    /// The recipient's domain does not exist or accepts no mail (null MX, RFC 7505; no MX or A).
    UnknownDomain,
    /// The recipient has moved and the mail is not forwarded.
    Moved,
    /// The mailbox is closed, deactivated or no longer in use.
    Disabled,
    /// The mailbox is over quota.
    MailboxFull,
    /// The mailbox is inactive, suspended or on hold.
    Inactive,
    /// The receiver greylists: it asks for a later retry.
    Greylisted,
    /// Deferred, timed out, expired in the queue, a connection or DNS failure, a temporary local
    /// problem at the receiver.
    Delayed,
    /// Our IP or domain is on a DNS block list or on the receiver's own block list.
    Blocklisted,
    /// Poor reputation, too many complaints, unsolicited volume.
    Reputation,
    /// SPF, DKIM or DMARC failed, or the mail was judged unauthenticated.
    Authentication,
    /// Our sending IP has no (matching) PTR record.
    NoReverseDns,
    /// The message was judged spam, a virus or bad content (or a URL in it is listed).
    Spam,
    /// Another policy rejection of the message or of its sender.
    Policy,
    /// The message is larger than the receiver takes.
    TooBig,
    /// The server will not relay for us.
    RelayDenied,
    /// Too many connections or messages: we are throttled.
    RateLimited,
    /// A failure whose cause is not recognised.
    Unclassified,
}

/// What a reason means for the recipient, and so whether it suppresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// The recipient is gone: suppress.
    Gone,
    /// The recipient's mailbox fails for now: recorded, never suppressed by one report.
    Temporary,
    /// The failure is about us, the sender: it never suppresses the recipient.
    Sender,
    /// The cause is not recognised: never suppresses.
    Unclassified,
}

impl Reason {
    /// Every reason, in declaration order.
    pub const ALL: [Reason; 18] = [
        Reason::UnknownUser,
        Reason::UnknownDomain,
        Reason::Moved,
        Reason::Disabled,
        Reason::MailboxFull,
        Reason::Inactive,
        Reason::Greylisted,
        Reason::Delayed,
        Reason::Blocklisted,
        Reason::Reputation,
        Reason::Authentication,
        Reason::NoReverseDns,
        Reason::Spam,
        Reason::Policy,
        Reason::TooBig,
        Reason::RelayDenied,
        Reason::RateLimited,
        Reason::Unclassified,
    ];

    /// Whose problem this is, and so whether it suppresses.
    pub fn class(self) -> Class {
        use Reason::*;
        match self {
            UnknownUser | UnknownDomain | Moved | Disabled => Class::Gone,
            MailboxFull | Inactive | Greylisted | Delayed => Class::Temporary,
            Blocklisted | Reputation | Authentication | NoReverseDns | Spam | Policy | TooBig
            | RelayDenied | RateLimited => Class::Sender,
            Unclassified => Class::Unclassified,
        }
    }

    /// The journaled name, kebab-case as serde writes it.
    pub fn as_str(self) -> &'static str {
        use Reason::*;
        match self {
            UnknownUser => "unknown-user",
            UnknownDomain => "unknown-domain",
            Moved => "moved",
            Disabled => "disabled",
            MailboxFull => "mailbox-full",
            Inactive => "inactive",
            Greylisted => "greylisted",
            Delayed => "delayed",
            Blocklisted => "blocklisted",
            Reputation => "reputation",
            Authentication => "authentication",
            NoReverseDns => "no-reverse-dns",
            Spam => "spam",
            Policy => "policy",
            TooBig => "too-big",
            RelayDenied => "relay-denied",
            RateLimited => "rate-limited",
            Unclassified => "unclassified",
        }
    }

    /// The reason journaled as `name` (the inverse of [`Reason::as_str`]).
    pub fn from_name(name: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// A short phrase for people.
    pub fn describe(self) -> &'static str {
        use Reason::*;
        match self {
            UnknownUser => "unknown user",
            UnknownDomain => "the recipient's domain does not exist or accepts no mail",
            Moved => "the recipient has moved",
            Disabled => "the mailbox is closed or disabled",
            MailboxFull => "the mailbox is full",
            Inactive => "the mailbox is inactive or suspended",
            Greylisted => "greylisted: the receiver asks for a later retry",
            Delayed => "delayed or a temporary failure at the receiver",
            Blocklisted => "our IP or domain is on a block list",
            Reputation => "our IP or domain has a poor reputation or too many complaints",
            Authentication => "our mail failed SPF, DKIM or DMARC, or was judged unauthenticated",
            NoReverseDns => "our sending IP has no matching reverse DNS (PTR) record",
            Spam => "the message was judged spam, a virus or bad content",
            Policy => "the receiver's policy refused the message or its sender",
            TooBig => "the message is too large for the receiver",
            RelayDenied => "the server will not relay for us",
            RateLimited => "we are sending too fast: throttled",
            Unclassified => "a failure whose cause is not recognised",
        }
    }
}

impl Class {
    /// The name used in journals and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Gone => "gone",
            Class::Temporary => "temporary",
            Class::Sender => "sender",
            Class::Unclassified => "unclassified",
        }
    }

    /// Whether one report of this class suppresses the recipient: only a recipient that is gone.
    pub fn suppresses(self) -> bool {
        self == Class::Gone
    }
}

/// What a report (or an SMTP reply at send time) says about one failed recipient. Any may be
/// absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evidence<'a> {
    /// RFC 3464 Action ("failed", "delayed"); None for plain-text bounces and SMTP replies.
    pub action: Option<&'a str>,
    /// RFC 3463 enhanced status as reported ("5.1.1"); None when the report has none.
    pub status: Option<&'a str>,
    /// The SMTP reply code (550) if known separately.
    pub reply: Option<u16>,
    /// Diagnostic text: Diagnostic-Code, or the plain-text bounce's reason, or the SMTP reply
    /// text. May be long, multi-line, any Unicode.
    pub diagnostic: Option<&'a str>,
    /// The MTA's own wording says permanent (true: "permanent fatal errors", "failed
    /// permanently") or temporary (false: "delayed", "will retry"), when known.
    pub permanent: Option<bool>,
}

/// An RFC 3463 enhanced status code, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Status {
    class: u8,
    subject: u16,
    detail: u16,
}

/// Classifies one failure, from status code, reply code and diagnostic text together (the
/// precedence is in the module documentation).
pub fn classify(evidence: &Evidence<'_>) -> Reason {
    let text = evidence.diagnostic.map_or("", capped);
    let status = status_of(evidence.status, text);
    let reply = evidence.reply.or_else(|| reply_code(text));
    let delayed = evidence.action.is_some_and(|a| {
        a.trim_start()
            .get(..7)
            .is_some_and(|w| w.eq_ignore_ascii_case("delayed"))
    });
    let transient = delayed
        || evidence.permanent == Some(false)
        || match status {
            Some(s) => s.class == 4,
            None => reply.is_some_and(|r| (400..500).contains(&r)),
        };
    let found = if text.is_empty() { 0 } else { signals(text) };
    decide(found, status, reply, transient)
}

/// The first RFC 3463 enhanced status code in `text` ("5.1.1"; class 2, 4 or 5, subject and
/// detail of 1 to 3 digits), standing alone: not part of an IP address or a version number.
pub fn enhanced_status(text: &str) -> Option<String> {
    find_status(text).map(|(at, len)| text[at..at + len].to_owned())
}

/// The first SMTP reply code (2xx to 5xx, RFC 5321) in `text` that starts a reply line (`550 `,
/// `550-`), follows a report's "said:", "smtp;", "returned", a quote or a `#`, or precedes an
/// enhanced status code ("550 5.1.1").
pub fn reply_code(text: &str) -> Option<u16> {
    let text = capped(text);
    let caps = REPLY.captures(text)?;
    caps.get(1).or_else(|| caps.get(2))?.as_str().parse().ok()
}

/// At most [`MAX_TEXT`] bytes of `text`, cut at a character boundary.
fn capped(text: &str) -> &str {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The given status, made specific by the text's code when the given one is only X.0.0 (Postfix
/// reports "Status: 5.0.0" for a "550 5.1.1" reply).
fn status_of(given: Option<&str>, text: &str) -> Option<Status> {
    let given = given.and_then(|s| find_status(s).map(|(at, len)| parse_status(&s[at..at + len])));
    let inner = || find_status(text).map(|(at, len)| parse_status(&text[at..at + len]));
    match given {
        Some(g) if (g.subject, g.detail) != (0, 0) => Some(g),
        Some(g) => Some(inner().map_or(g, |i| Status {
            class: g.class,
            ..i
        })),
        None => inner(),
    }
}

fn parse_status(code: &str) -> Status {
    let mut parts = code.split('.').map(|p| p.parse::<u16>().unwrap_or(0));
    let class = parts.next().unwrap_or(0) as u8;
    let subject = parts.next().unwrap_or(0);
    let detail = parts.next().unwrap_or(0);
    Status {
        class,
        subject,
        detail,
    }
}

/// Where the first stand-alone enhanced status code in `text` is: the regex finds the dotted
/// triple at word boundaries; a '.' before it or a ".digit" after it makes it part of an address
/// or version number.
fn find_status(text: &str) -> Option<(usize, usize)> {
    static CODE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?-u:\b)[245]\.[0-9]{1,3}\.[0-9]{1,3}(?-u:\b)").expect("status regex")
    });
    let bytes = text.as_bytes();
    CODE.find_iter(capped(text))
        .find(|m| {
            let before = m.start().checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(m.end()..m.end() + 2).unwrap_or(&[]);
            before != Some(b'.')
                && !(after.len() == 2 && after[0] == b'.' && after[1].is_ascii_digit())
        })
        .map(|m| (m.start(), m.len()))
}

static REPLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?im)(?:^[ \t]*(?:<<<[ \t]*)?|(?:said|smtp|was|returned|reply|response|error)[ \t]*[:;][ \t]*",
        r##"|['"#(\[][ \t]*|\][ \t]*:[ \t]*)([2-5][0-5][0-9])(?:[ \t\r\n-]|$)"##,
        r"|(?-u:\b)([2-5][0-5][0-9])[ -][245]\.[0-9]{1,3}\.[0-9]{1,3}(?-u:\b)",
    ))
    .expect("reply regex")
});

/// The sender-side signals, most specific first.
const SENDER: [(Signal, Reason); 9] = [
    (Signal::NoPtr, Reason::NoReverseDns),
    (Signal::Block, Reason::Blocklisted),
    (Signal::Reputation, Reason::Reputation),
    (Signal::Auth, Reason::Authentication),
    (Signal::Relay, Reason::RelayDenied),
    (Signal::Rate, Reason::RateLimited),
    (Signal::Spam, Reason::Spam),
    (Signal::Big, Reason::TooBig),
    (Signal::Policy, Reason::Policy),
];

/// The recipient-gone signals (besides [`Signal::RcptDenied`], which depends on the status).
const GONE: [(Signal, Reason); 4] = [
    (Signal::User, Reason::UnknownUser),
    (Signal::Disabled, Reason::Disabled),
    (Signal::Moved, Reason::Moved),
    (Signal::Domain, Reason::UnknownDomain),
];

const TEMPORARY: [(Signal, Reason); 3] = [
    (Signal::Full, Reason::MailboxFull),
    (Signal::Inactive, Reason::Inactive),
    (Signal::Delay, Reason::Delayed),
];

/// The reason, from the signals found and the codes (the precedence of the module documentation).
fn decide(found: u32, status: Option<Status>, reply: Option<u16>, transient: bool) -> Reason {
    let has = |s: Signal| found & bit(s) != 0;
    let first = |table: &[(Signal, Reason)]| table.iter().find(|(s, _)| has(*s)).map(|(_, r)| *r);
    if has(Signal::Grey) {
        return Reason::Greylisted;
    }
    if let Some(r) = first(&SENDER) {
        return r;
    }
    if has(Signal::DelayFirst) {
        return Reason::Delayed;
    }
    if has(Signal::InactiveFirst) {
        return Reason::Inactive;
    }
    let detail = status.map(|s| (s.subject, s.detail));
    let ours = matches!(detail, Some((1, 7 | 8)));
    if !transient {
        if has(Signal::RcptDenied) {
            return if ours || matches!(detail, Some((7, _))) {
                Reason::Policy
            } else {
                Reason::UnknownUser
            };
        }
        if let Some(r) = first(&GONE) {
            return if ours { Reason::Policy } else { r };
        }
    }
    if let Some(r) = first(&TEMPORARY) {
        return r;
    }
    let gone_words = bit(Signal::RcptDenied) | GONE.iter().fold(0, |b, (s, _)| b | bit(*s));
    if transient && found & (gone_words | bit(Signal::WeakGone)) != 0 {
        return Reason::Delayed;
    }
    let weak_ok = matches!(detail, None | Some((0 | 1, _) | (2 | 4, 0 | 1) | (5, 0)));
    if !transient && has(Signal::WeakGone) && weak_ok {
        return if ours {
            Reason::Policy
        } else {
            Reason::UnknownUser
        };
    }
    if transient && has(Signal::WeakRetry) {
        return Reason::Greylisted;
    }
    by_code(status, reply, transient)
}

/// The reason the codes alone give.
fn by_code(status: Option<Status>, reply: Option<u16>, transient: bool) -> Reason {
    if let Some(s) = status {
        let sender = match (s.subject, s.detail) {
            (7, 25) => Some(Reason::NoReverseDns),
            (7, 20..=24 | 26 | 27 | 30 | 32 | 509) => Some(Reason::Authentication),
            (7, 28) => Some(Reason::RateLimited),
            (7, 650..=699) => Some(Reason::Reputation),
            (7, 511 | 513 | 606..=649 | 700..=749) => Some(Reason::Blocklisted),
            (7, 64) => Some(Reason::RelayDenied),
            (3, 4) | (2, 3) => Some(Reason::TooBig),
            (1, 7 | 8) => Some(Reason::Policy),
            (2, 2) => Some(Reason::MailboxFull),
            _ => None,
        };
        if let Some(r) = sender {
            return r;
        }
        if transient {
            return Reason::Delayed;
        }
        let r = match (s.class, s.subject, s.detail) {
            (5, 1, 1 | 3) => Reason::UnknownUser,
            (5, 1, 2 | 10) => Reason::UnknownDomain,
            (5, 1, 6) => Reason::Moved,
            (5, 2, 1) => Reason::Disabled,
            (5, 7, _) | (5, 6, _) => Reason::Policy,
            (5, 4, _) | (5, 3, 1 | 2) => Reason::Delayed,
            _ => Reason::Unclassified,
        };
        if r != Reason::Unclassified || s.class != 5 || (s.subject, s.detail) != (0, 0) {
            return r;
        }
    }
    match reply {
        _ if transient => Reason::Delayed,
        Some(400..=499) => Reason::Delayed,
        Some(551) => Reason::Moved,
        Some(552) => Reason::MailboxFull,
        Some(556) => Reason::UnknownDomain,
        _ => Reason::Unclassified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Reason::*;

    /// One diagnostic as an MTA or provider reports it: (family, action, status, text, expected).
    /// An empty action or status is absent (a plain-text bounce, an SMTP reply).
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Reason,
    );

    const CASES: &[Case] = &[
        // Postfix: the reply quoted after "host ... said:", or its own DNS and connection failures.
        (
            "postfix",
            "failed",
            "5.1.1",
            "smtp; 550 5.1.1 <ann@example.org>: Recipient address rejected: User unknown in \
          virtual alias table",
            UnknownUser,
        ),
        (
            "postfix",
            "failed",
            "5.1.1",
            "host mx.example.org[192.0.2.7] said: 550 5.1.1 <bo@example.org>: Recipient \
          address rejected: User unknown in local recipient table (in reply to RCPT TO command)",
            UnknownUser,
        ),
        (
            "postfix",
            "failed",
            "5.0.0",
            "host mx.example.org[192.0.2.7] said: 550 <cy@example.org>: Recipient address \
          rejected: undeliverable address: unknown user: \"cy\"",
            UnknownUser,
        ),
        (
            "postfix",
            "failed",
            "5.4.4",
            "Host or domain name not found. Name service error for name=example.invalid \
          type=A: Host not found",
            UnknownDomain,
        ),
        (
            "postfix",
            "delayed",
            "4.4.3",
            "Host or domain name not found. Name service error for name=example.org \
          type=MX: Host not found, try again",
            Delayed,
        ),
        (
            "postfix",
            "failed",
            "5.1.10",
            "Domain example.net does not accept mail (nullMX)",
            UnknownDomain,
        ),
        (
            "postfix",
            "delayed",
            "4.4.1",
            "connect to mx.example.org[192.0.2.7]:25: Connection timed out",
            Delayed,
        ),
        (
            "postfix",
            "failed",
            "4.4.1",
            "delivery temporarily suspended: connect to mx.example.org[192.0.2.7]:25: \
          Connection refused",
            Delayed,
        ),
        (
            "postfix",
            "failed",
            "5.4.6",
            "mail for example.org loops back to myself",
            Delayed,
        ),
        (
            "postfix",
            "failed",
            "5.7.1",
            "host mx.example.org[192.0.2.7] said: 554 5.7.1 <dee@example.org>: Relay \
          access denied (in reply to RCPT TO command)",
            RelayDenied,
        ),
        (
            "postfix",
            "failed",
            "5.7.1",
            "host mx.example.org[192.0.2.7] said: 554 5.7.1 Service unavailable; Client \
          host [198.51.100.4] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/198.51.100.4",
            Blocklisted,
        ),
        (
            "postfix",
            "delayed",
            "4.7.1",
            "host mx.example.org[192.0.2.7] said: 450 4.7.1 Client host rejected: cannot \
          find your hostname, [198.51.100.4] (in reply to RCPT TO command)",
            NoReverseDns,
        ),
        (
            "postfix",
            "delayed",
            "4.2.0",
            "host mx.example.org[192.0.2.7] said: 450 4.2.0 <eve@example.org>: Recipient \
          address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.org.html",
            Greylisted,
        ),
        (
            "postfix",
            "failed",
            "5.2.2",
            "host mx.example.org[192.0.2.7] said: 552 5.2.2 <fay@example.org>: Recipient \
          address rejected: Mailbox quota exceeded",
            MailboxFull,
        ),
        (
            "postfix",
            "failed",
            "5.1.8",
            "host mx.example.org[192.0.2.7] said: 553 5.1.8 <bounces@example.com>: Sender \
          address rejected: Domain not found",
            Policy,
        ),
        (
            "postfix",
            "failed",
            "5.7.1",
            "host mx.example.org[192.0.2.7] said: 550 5.7.1 <gus@example.org>: Recipient \
          address rejected: Message rejected due to SPF policy: example.com does not designate 198.51.100.4",
            Authentication,
        ),
        (
            "postfix",
            "failed",
            "5.3.4",
            "host mx.example.org[192.0.2.7] said: 552 5.3.4 Message size exceeds fixed \
          limit (in reply to end of DATA command)",
            TooBig,
        ),
        (
            "postfix",
            "delayed",
            "4.3.1",
            "host mx.example.org[192.0.2.7] said: 452 4.3.1 Insufficient system storage \
          (in reply to MAIL FROM command)",
            Delayed,
        ),
        (
            "postfix",
            "failed",
            "5.0.0",
            "host mx.example.org[192.0.2.7] said: 550 Helo command rejected: need \
          fully-qualified hostname",
            Policy,
        ),
        (
            "postfix",
            "delayed",
            "4.4.2",
            "lost connection with mx.example.org[192.0.2.7] while performing the EHLO \
          handshake",
            Delayed,
        ),
        (
            "postfix",
            "failed",
            "5.1.6",
            "host mx.example.org[192.0.2.7] said: 551 5.1.6 User has moved; please try \
          <hal@example.net>",
            Moved,
        ),
        (
            "postfix",
            "failed",
            "5.2.1",
            "host mx.example.org[192.0.2.7] said: 550 5.2.1 <ivy@example.org>: Recipient \
          address rejected: Account closed",
            Disabled,
        ),
        // Exim.
        (
            "exim",
            "failed",
            "5.0.0",
            "SMTP error from remote mail server after RCPT TO:<jo@example.org>: 550 Unknown \
          user",
            UnknownUser,
        ),
        ("exim", "", "", "Unrouteable address", UnknownDomain),
        (
            "exim",
            "",
            "",
            "all relevant MX records point to non-existent hosts",
            UnknownDomain,
        ),
        ("exim", "", "", "retry timeout exceeded", Delayed),
        (
            "exim",
            "",
            "",
            "mailbox is full (MTA-imposed quota exceeded while writing to \
          /var/mail/kim/new/1700000000.H1P2.host)",
            MailboxFull,
        ),
        (
            "exim",
            "failed",
            "5.0.0",
            "SMTP error from remote mail server after RCPT TO:<lu@example.org>: 550 \
          Administrative prohibition",
            Policy,
        ),
        (
            "exim",
            "failed",
            "5.0.0",
            "SMTP error from remote mail server after RCPT TO:<mo@example.org>: \
          550-Verification failed for <bounces@example.com>\n550-Called: 192.0.2.9\n550-Sent: RCPT \
          TO:<bounces@example.com>\n550-Response: 550 5.1.1 user unknown\n550 Sender verify failed",
            Policy,
        ),
        (
            "exim",
            "delayed",
            "4.0.0",
            "SMTP error from remote mail server after end of data: 451 Temporary local \
          problem - please try later",
            Delayed,
        ),
        (
            "exim",
            "delayed",
            "",
            "all hosts for 'example.org' have been failing for a long time (and retry time not \
          reached)",
            Delayed,
        ),
        (
            "exim",
            "failed",
            "5.0.0",
            "SMTP error from remote mail server after RCPT TO:<ned@example.org>: 550 5.1.1 \
          <ned@example.org>: Unknown local part ned in <ned@example.org>",
            UnknownUser,
        ),
        // Sendmail.
        (
            "sendmail",
            "failed",
            "5.1.1",
            "smtp; 550 5.1.1 <oz@example.org>... User unknown",
            UnknownUser,
        ),
        (
            "sendmail",
            "failed",
            "5.1.2",
            "Host unknown (Name server: mx.example.invalid: host not found)",
            UnknownDomain,
        ),
        (
            "sendmail",
            "delayed",
            "4.4.1",
            "Deferred: Connection refused by mx.example.org.",
            Delayed,
        ),
        (
            "sendmail",
            "failed",
            "5.7.1",
            "smtp; 550 5.7.1 <pam@example.org>... Relaying denied. IP name lookup failed \
          [198.51.100.4]",
            NoReverseDns,
        ),
        (
            "sendmail",
            "failed",
            "5.3.0",
            "smtp; 553 5.3.0 <quin@example.org>... Addressee unknown, \
          relay=[192.0.2.7]",
            UnknownUser,
        ),
        (
            "sendmail",
            "failed",
            "5.2.2",
            "smtp; 552 5.2.2 <rex@example.org>... Mailbox full",
            MailboxFull,
        ),
        (
            "sendmail",
            "failed",
            "4.4.7",
            "Message could not be delivered for 5 days",
            Delayed,
        ),
        (
            "sendmail",
            "failed",
            "5.0.0",
            "smtp; 554 5.0.0 Service unavailable",
            Delayed,
        ),
        // qmail and vpopmail.
        (
            "qmail",
            "",
            "",
            "Sorry, no mailbox here by that name. (#5.1.1)",
            UnknownUser,
        ),
        (
            "qmail",
            "",
            "",
            "Sorry, I couldn't find any host named example.invalid. (#5.1.2)",
            UnknownDomain,
        ),
        (
            "qmail",
            "",
            "",
            "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)",
            Delayed,
        ),
        ("qmail", "", "", "user is over quota. (#5.1.1)", MailboxFull),
        (
            "qmail",
            "",
            "",
            "Remote host said: 553 sorry, that domain isn't in my list of allowed rcpthosts. (#5.7.1)",
            RelayDenied,
        ),
        (
            "qmail",
            "",
            "",
            "The users mailfolder is over the allowed quota (size). (#5.2.2)",
            MailboxFull,
        ),
        (
            "qmail",
            "",
            "",
            "Remote host said: 553 sorry, your envelope recipient is in my badrcptto list (#5.7.1)",
            UnknownUser,
        ),
        // Exchange and Office 365.
        (
            "exchange",
            "failed",
            "5.1.1",
            "smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
            UnknownUser,
        ),
        (
            "exchange",
            "failed",
            "5.1.10",
            "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP \
          address lookup",
            UnknownUser,
        ),
        (
            "exchange",
            "failed",
            "5.4.1",
            "smtp;550 5.4.1 Recipient address rejected: Access denied. AS(201806281) \
          [AM0PR01MB1234.eurprd01.prod.exchangelabs.com]",
            UnknownUser,
        ),
        (
            "exchange",
            "failed",
            "5.7.1",
            "smtp;550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized",
            Policy,
        ),
        (
            "exchange",
            "failed",
            "5.2.2",
            "smtp;554 5.2.2 mailbox full; \
          STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded",
            MailboxFull,
        ),
        (
            "exchange",
            "failed",
            "5.2.3",
            "smtp;550 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this \
          recipient",
            TooBig,
        ),
        (
            "exchange",
            "failed",
            "5.4.4",
            "smtp;554 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain",
            UnknownDomain,
        ),
        (
            "exchange",
            "delayed",
            "4.4.0",
            "451 4.4.0 DNS query failed. The error was: SMTPSEND.DNS.NonExistentDomain; \
          nonexistent domain",
            Delayed,
        ),
        (
            "exchange",
            "failed",
            "5.7.606",
            "smtp;550 5.7.606 Access denied, banned sending IP [198.51.100.4]. To \
          request removal from this list please visit https://sender.office.com/",
            Blocklisted,
        ),
        (
            "exchange",
            "failed",
            "5.7.509",
            "smtp;550 5.7.509 Access denied, sending domain example.com does not pass \
          DMARC verification and has a DMARC policy of reject",
            Authentication,
        ),
        (
            "exchange",
            "failed",
            "4.4.7",
            "smtp;550 4.4.7 QUEUE.Expired; message expired",
            Delayed,
        ),
        (
            "exchange",
            "failed",
            "5.4.14",
            "smtp;554 5.4.14 Hop count exceeded - possible mail loop ATTR34",
            Delayed,
        ),
        (
            "exchange",
            "failed",
            "5.7.64",
            "smtp;550 5.7.64 TenantAttribution; Relay Access Denied",
            RelayDenied,
        ),
        (
            "exchange",
            "failed",
            "5.6.11",
            "smtp;550 5.6.11 SMTPSEND.BareLinefeedsAreIllegal; message contains bare \
          linefeeds",
            Policy,
        ),
        (
            "exchange",
            "failed",
            "5.7.1",
            "smtp;550 5.7.1 Service unavailable, Client host [198.51.100.4] blocked by \
          example.org using Customer Block list (AS16012607)",
            Blocklisted,
        ),
        (
            "exchange",
            "failed",
            "5.7.57",
            "smtp;530 5.7.57 Client was not authenticated to send anonymous mail during \
          MAIL FROM",
            RelayDenied,
        ),
        (
            "exchange",
            "failed",
            "5.2.1",
            "smtp;550 5.2.1 Mailbox cannot be accessed",
            Inactive,
        ),
        // Gmail.
        (
            "gmail",
            "failed",
            "5.1.1",
            "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please \
          try\n550-5.1.1 double-checking the recipient's email address for typos or\n550-5.1.1 unnecessary spaces. \
          For more information, go to\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123gsmtp",
            UnknownUser,
        ),
        (
            "gmail",
            "failed",
            "5.2.2",
            "smtp; 552-5.2.2 The recipient's inbox is out of storage space. Please direct \
          the\n552-5.2.2 recipient to\n552 5.2.2  https://support.google.com/mail/?p=OverQuotaPerm b2si gsmtp",
            MailboxFull,
        ),
        (
            "gmail",
            "delayed",
            "4.2.2",
            "smtp; 452-4.2.2 The email account that you tried to reach is over quota. \
          Please direct\n452 4.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaTemp",
            MailboxFull,
        ),
        (
            "gmail",
            "failed",
            "5.2.1",
            "smtp; 550-5.2.1 The email account that you tried to reach is disabled.\n550 \
          5.2.1 https://support.google.com/mail/?p=DisabledUser c3si gsmtp",
            Disabled,
        ),
        (
            "gmail",
            "failed",
            "5.2.1",
            "smtp; 550-5.2.1 The email account that you tried to reach is inactive.\n550 \
          5.2.1 https://support.google.com/mail/?p=DisabledUser",
            Inactive,
        ),
        (
            "gmail",
            "delayed",
            "4.7.28",
            "smtp; 421-4.7.28 [198.51.100.4] Our system has detected an unusual rate of\n\
          421-4.7.28 unsolicited mail originating from your IP address. To protect our\n421-4.7.28 users from spam, \
          mail sent from your IP address has been temporarily\n421 4.7.28 rate limited.",
            Reputation,
        ),
        (
            "gmail",
            "failed",
            "5.7.26",
            "smtp; 550-5.7.26 This mail is unauthenticated, which poses a security risk to \
          the\n550-5.7.26 sender and Gmail users, and has been blocked. The sender must\n550-5.7.26 authenticate \
          with at least one of SPF or DKIM.",
            Authentication,
        ),
        (
            "gmail",
            "failed",
            "5.7.26",
            "smtp; 550-5.7.26 Unauthenticated email from example.com is not accepted due \
          to\n550 5.7.26 domain's DMARC policy.",
            Authentication,
        ),
        (
            "gmail",
            "failed",
            "5.7.25",
            "smtp; 550-5.7.25 [198.51.100.4] The IP address sending this message does not \
          have a\n550-5.7.25 PTR record setup, or the corresponding forward DNS entry does not\n550 5.7.25 point to \
          the sending IP.",
            NoReverseDns,
        ),
        (
            "gmail",
            "failed",
            "5.7.1",
            "smtp; 550-5.7.1 [198.51.100.4] Our system has detected that this message \
          is\n550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail,\n550 5.7.1 this \
          message has been blocked.",
            Spam,
        ),
        (
            "gmail",
            "delayed",
            "4.7.0",
            "smtp; 421-4.7.0 [198.51.100.4] Our system has detected that this message \
          is\n421-4.7.0 suspicious due to the very low reputation of the sending IP address.",
            Reputation,
        ),
        (
            "gmail",
            "delayed",
            "4.2.1",
            "smtp; 450-4.2.1 The user you are trying to contact is receiving mail at a \
          rate that\n450 4.2.1 prevents additional messages from being delivered.",
            Delayed,
        ),
        (
            "gmail",
            "failed",
            "5.2.1",
            "smtp; 550-5.2.1 The user you are trying to contact is receiving mail at a rate \
          that\n550 5.2.1 prevents additional messages from being delivered.",
            Delayed,
        ),
        (
            "gmail",
            "failed",
            "5.3.4",
            "smtp; 552-5.3.4 Your message exceeded Google's message size limits.",
            TooBig,
        ),
        (
            "gmail",
            "failed",
            "5.7.1",
            "smtp; 550-5.7.1 The user or domain that you are sending to (or from) has a \
          policy\n550 5.7.1 that prohibited the email that you sent.",
            Policy,
        ),
        (
            "gmail",
            "failed",
            "5.6.0",
            "smtp; 554 5.6.0 Mail message is malformed. Not accepted.",
            Policy,
        ),
        (
            "gmail",
            "",
            "",
            "The response from the remote server was: 550 5.1.1 <tia@gmail.example>: Recipient address \
          rejected: User unknown",
            UnknownUser,
        ),
        // Yahoo and AOL.
        (
            "yahoo",
            "",
            "",
            "Remote host said: 554 delivery error: dd This user doesn't have a yahoo.com account \
          (uma@yahoo.example) [0] - mta1234.mail.bf1.yahoo.com",
            UnknownUser,
        ),
        (
            "yahoo",
            "failed",
            "",
            "smtp; 552 1 Requested mail action aborted, mailbox not found",
            UnknownUser,
        ),
        (
            "yahoo",
            "delayed",
            "4.7.0",
            "smtp; 421 4.7.0 [TSS04] Messages from 198.51.100.4 temporarily deferred due \
          to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
            Reputation,
        ),
        (
            "yahoo",
            "failed",
            "5.7.2",
            "smtp; 553 5.7.2 [TSS09] All messages from 198.51.100.4 will be permanently \
          deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes",
            Blocklisted,
        ),
        (
            "yahoo",
            "failed",
            "5.7.9",
            "smtp; 554 5.7.9 Message not accepted for policy reasons. See \
          https://postmaster.yahooinc.com/error-codes",
            Policy,
        ),
        (
            "yahoo",
            "",
            "",
            "Remote host said: 554 delivery error: dd Sorry your message to vic@yahoo.example cannot \
          be delivered. This account has been disabled or discontinued [#102]. - mta1.mail.ne1.yahoo.com",
            Disabled,
        ),
        (
            "yahoo",
            "failed",
            "5.7.9",
            "smtp; 550 5.7.9 This mail has been blocked because the sender is \
          unauthenticated. Yahoo requires all senders to authenticate with either SPF or DKIM.",
            Authentication,
        ),
        (
            "aol",
            "failed",
            "",
            "smtp; 550 MAILBOX NOT FOUND",
            UnknownUser,
        ),
        (
            "yahoo",
            "delayed",
            "",
            "smtp; 451 Message temporarily deferred - [160]",
            Delayed,
        ),
        // Outlook.com and Hotmail.
        (
            "outlook",
            "failed",
            "5.5.0",
            "smtp; 550 5.5.0 Requested action not taken: mailbox unavailable \
          (S2017062302). [DB5EUR01FT012.eop-EUR01.prod.protection.outlook.com]",
            UnknownUser,
        ),
        (
            "outlook",
            "failed",
            "5.7.1",
            "smtp; 550 5.7.1 Unfortunately, messages from [198.51.100.4] weren't sent. \
          Please contact your Internet service provider since part of their network is on our block list (S3150). \
          You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.",
            Blocklisted,
        ),
        (
            "outlook",
            "failed",
            "",
            "smtp; 550 SC-001 (BAY004-MC1F4) Unfortunately, messages from 198.51.100.4 \
          weren't sent. Please contact your Internet service provider.",
            Blocklisted,
        ),
        (
            "outlook",
            "delayed",
            "4.7.650",
            "smtp; 451 4.7.650 The mail server [198.51.100.4] has been temporarily rate \
          limited due to IP reputation. (S775)",
            Reputation,
        ),
        (
            "outlook",
            "delayed",
            "4.7.500",
            "smtp; 451 4.7.500 Server busy. Please try again later from \
          [198.51.100.4]. (S77719)",
            RateLimited,
        ),
        (
            "hotmail",
            "failed",
            "",
            "smtp; 550 OU-001 (SNT004-MC1F43) Unfortunately, messages from 198.51.100.4 \
          weren't sent. Mail rejected by Windows Live Hotmail for policy reasons.",
            Policy,
        ),
        (
            "hotmail",
            "",
            "",
            "Remote host said: 550 Requested action not taken: mailbox unavailable",
            UnknownUser,
        ),
        // GMX and Web.de (United Internet): no enhanced codes.
        (
            "gmx",
            "failed",
            "",
            "smtp; 550 Requested action not taken: mailbox unavailable",
            UnknownUser,
        ),
        (
            "gmx",
            "failed",
            "",
            "smtp; 554-gmx.net (mxgmx104) Nemesis ESMTP Service not available\n554-No SMTP \
          service\n554-IP address is block listed.\n554 For explanation visit https://postmaster.gmx.net/en/case",
            Blocklisted,
        ),
        (
            "gmx",
            "failed",
            "",
            "smtp; 550 <wyn@gmx.example>: Reject due to SPF policy. The originating IP of the \
          message is not permitted by the domain owner",
            Authentication,
        ),
        (
            "webde",
            "failed",
            "",
            "smtp; 550 Benutzer hat das Speichervolumen ueberschritten. / User has exhausted \
          allowed storage space.",
            MailboxFull,
        ),
        (
            "webde",
            "failed",
            "",
            "smtp; 550 Benutzer nicht bekannt / User unknown",
            UnknownUser,
        ),
        (
            "gmx",
            "failed",
            "",
            "smtp; 554-Transaction failed\n554-Reject due to policy restrictions.\n554 For \
          explanation visit https://postmaster.gmx.net/en/case",
            Policy,
        ),
        (
            "gmx",
            "failed",
            "5.2.1",
            "smtp; 550 5.2.1 <xan@gmx.example>... User is inactive",
            Inactive,
        ),
        // Mail.ru and Yandex.
        (
            "mailru",
            "failed",
            "",
            "smtp; 550 Message was not accepted -- invalid mailbox. Local mailbox \
          yul@mail.example is unavailable: user not found",
            UnknownUser,
        ),
        (
            "mailru",
            "failed",
            "",
            "smtp; 550 spam message rejected. Please visit \
          http://help.mail.ru/notspam-support/id?c=abc or report details to abuse@corp.mail.ru.",
            Spam,
        ),
        (
            "mailru",
            "failed",
            "",
            "smtp; 552 Mailbox size limit exceeded",
            MailboxFull,
        ),
        ("mailru", "", "", "550 Пользователь не найден", UnknownUser),
        (
            "yandex",
            "failed",
            "5.7.1",
            "smtp; 550 5.7.1 No such user!",
            UnknownUser,
        ),
        (
            "yandex",
            "failed",
            "5.7.1",
            "smtp; 554 5.7.1 [2] Message rejected under suspicion of SPAM; \
          https://ya.cc/1IrBc 1700000000-abc",
            Spam,
        ),
        (
            "yandex",
            "delayed",
            "4.7.1",
            "smtp; 451 4.7.1 Sorry, the service is currently unavailable. Please come \
          back later.",
            Delayed,
        ),
        (
            "yandex",
            "failed",
            "5.2.2",
            "smtp; 552 5.2.2 Mailbox is full",
            MailboxFull,
        ),
        (
            "yandex",
            "",
            "",
            "550 Почтовый ящик переполнен",
            MailboxFull,
        ),
        // iCloud.
        (
            "icloud",
            "failed",
            "5.1.1",
            "smtp; 550 5.1.1 <zed@icloud.example>: inactive email address (in reply to \
          end of DATA command)",
            UnknownUser,
        ),
        (
            "icloud",
            "failed",
            "5.1.1",
            "smtp; 550 5.1.1 <abe@icloud.example>: user does not exist",
            UnknownUser,
        ),
        (
            "icloud",
            "failed",
            "5.2.2",
            "smtp; 552 5.2.2 <bea@icloud.example>: user is over quota (in reply to RCPT TO \
          command)",
            MailboxFull,
        ),
        (
            "icloud",
            "failed",
            "5.7.1",
            "smtp; 554 5.7.1 [CS01] Message rejected due to local policy. Please visit \
          https://support.apple.com/en-us/HT204137",
            Policy,
        ),
        (
            "icloud",
            "failed",
            "5.7.0",
            "smtp; 550 5.7.0 Blocked - see \
          https://support.proofpoint.com/dnsbl-lookup.cgi?ip=198.51.100.4",
            Blocklisted,
        ),
        // Comcast and Cox.
        (
            "comcast",
            "failed",
            "5.1.1",
            "smtp; 550 5.1.1 <cal@comcast.example> Not our Customer",
            UnknownUser,
        ),
        (
            "comcast",
            "failed",
            "5.7.1",
            "smtp; 554 5.7.1 resimta-ch2-18v.sys.comcast.net comcast 198.51.100.4 \
          Comcast block for spam. Please see http://postmaster.comcast.net/smtp-error-codes.php#BL000000",
            Blocklisted,
        ),
        (
            "comcast",
            "failed",
            "5.1.0",
            "smtp; 550 5.1.0 Comcast requires that all mail servers must have a PTR \
          record with a valid Reverse DNS entry. Current Hostname: none",
            NoReverseDns,
        ),
        (
            "cox",
            "failed",
            "",
            "smtp; 550 dan@cox.example recipient rejected",
            UnknownUser,
        ),
        (
            "cox",
            "delayed",
            "",
            "smtp; 421 esmtp ... too many sessions from 198.51.100.4 CXMXRT",
            RateLimited,
        ),
        // Orange, Wanadoo, La Poste, Free.
        (
            "orange",
            "failed",
            "5.1.1",
            "smtp; 550 5.1.1 Adresse d au moins un destinataire invalide. Invalid \
          recipient. OFR_416 [416]",
            UnknownUser,
        ),
        (
            "orange",
            "failed",
            "5.1.1",
            "smtp; 552 5.1.1 Boite du destinataire pleine. Recipient overquota. OFR_417 \
          [417]",
            MailboxFull,
        ),
        (
            "orange",
            "failed",
            "",
            "smtp; 550 mwinf5c04 ME Adresse IP source bloquee pour incident de spam. Client \
          host blocked for spamming issues. OFR006_102 Ref http://csi.cloudmark.com",
            Blocklisted,
        ),
        (
            "orange",
            "delayed",
            "",
            "smtp; 421 mwinf5c79 ME Trop de connexions, veuillez verifier votre \
          configuration. Too many connections, slow down. OFR005_104 [104]",
            RateLimited,
        ),
        (
            "laposte",
            "failed",
            "5.5.0",
            "smtp; 550 5.5.0 Boite du destinataire archivee. Archived recipient. \
          LPN007_420",
            Inactive,
        ),
        (
            "laposte",
            "failed",
            "5.7.1",
            "smtp; 571 5.7.1 Message refused, DMARC verification Failed. Message refuse, \
          verification DMARC en echec LPN007_517",
            Authentication,
        ),
        (
            "free",
            "failed",
            "",
            "smtp; 550 5.1.1 <eli@free.example>: Recipient address rejected: free.fr: utilisateur \
          inconnu !",
            UnknownUser,
        ),
        // Zoho.
        (
            "zoho",
            "failed",
            "5.1.1",
            "smtp; 550 5.1.1 User does not exist - <fox@zoho.example>",
            UnknownUser,
        ),
        (
            "zoho",
            "failed",
            "5.7.7",
            "smtp; 554 5.7.7 Email policy violation detected",
            Policy,
        ),
        (
            "zoho",
            "failed",
            "5.4.6",
            "smtp; 550 5.4.6 Unable to deliver message as the user is inactive",
            Inactive,
        ),
        // Proofpoint, Mimecast, Barracuda, Cisco IronPort and other gateways.
        (
            "proofpoint",
            "failed",
            "5.7.1",
            "smtp; 554 5.7.1 Blocked - see \
          https://ipcheck.proofpoint.com/?ip=198.51.100.4",
            Blocklisted,
        ),
        (
            "proofpoint",
            "failed",
            "5.1.1",
            "smtp; 550 5.1.1 User Unknown",
            UnknownUser,
        ),
        (
            "proofpoint",
            "failed",
            "5.7.1",
            "smtp; 550 5.7.1 Message rejected due to suspected spam content",
            Spam,
        ),
        (
            "mimecast",
            "failed",
            "",
            "smtp; 550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 \
          [abc.uk1]",
            UnknownUser,
        ),
        (
            "mimecast",
            "failed",
            "",
            "smtp; 554 Email rejected due to security policies - \
          https://community.mimecast.com/docs/DOC-1369#554",
            Policy,
        ),
        (
            "mimecast",
            "failed",
            "",
            "smtp; 550 Local CT IP Reputation - (reject) \
          https://community.mimecast.com/docs/DOC-1369#550",
            Reputation,
        ),
        (
            "mimecast",
            "failed",
            "",
            "smtp; 550 DMARC Sender Invalid - envelope rejected",
            Authentication,
        ),
        (
            "mimecast",
            "failed",
            "",
            "smtp; 554 maximum email size exceeded",
            TooBig,
        ),
        (
            "mimecast",
            "delayed",
            "",
            "smtp; 451 Recipient Temporarily Unavailable",
            Delayed,
        ),
        (
            "barracuda",
            "failed",
            "",
            "smtp; 550 permanent failure for one or more recipients (gil@example.org:blocked)",
            Policy,
        ),
        (
            "barracuda",
            "failed",
            "",
            "smtp; 554 Service unavailable; Client host [198.51.100.4] blocked using \
          Barracuda Reputation; http://www.barracudanetworks.com/reputation/?pr=1&ip=198.51.100.4",
            Blocklisted,
        ),
        (
            "barracuda",
            "failed",
            "",
            "smtp; 550 No such user (hap@example.org)",
            UnknownUser,
        ),
        (
            "ironport",
            "failed",
            "5.1.0",
            "smtp; 550 #5.1.0 Address rejected ida@example.org",
            UnknownUser,
        ),
        (
            "ironport",
            "failed",
            "",
            "smtp; 554 Your access to this mail system has been rejected due to the sending \
          MTA's poor reputation.",
            Reputation,
        ),
        (
            "ironport",
            "delayed",
            "4.3.0",
            "smtp; 452 #4.3.0 mailbox temporarily disabled jem@example.org",
            Inactive,
        ),
        (
            "ironport",
            "failed",
            "5.1.8",
            "smtp; 553 #5.1.8 Domain of sender address bounces@example.com does not \
          exist",
            Policy,
        ),
        // Others: QQ and 163, Domino, T-Online, docomo, SES, Spanish, Portuguese, Italian, Japanese, Chinese.
        (
            "qq",
            "failed",
            "",
            "smtp; 550 Mailbox not found. http://service.mail.qq.com/cgi-bin/help?subtype=1",
            UnknownUser,
        ),
        (
            "163",
            "failed",
            "",
            "smtp; 550 User not found: kai@163.example",
            UnknownUser,
        ),
        (
            "163",
            "failed",
            "",
            "smtp; 550 User suspended: lin@163.example",
            Inactive,
        ),
        (
            "163",
            "failed",
            "",
            "smtp; 554 DT:SPM 163 mx3,abc, please see http://mail.163.com/help/help_spam_16.htm",
            Spam,
        ),
        (
            "domino",
            "failed",
            "5.0.0",
            "smtp; 550 5.0.0 User mia@example.org not listed in Domino Directory",
            UnknownUser,
        ),
        (
            "t-online",
            "failed",
            "5.2.2",
            "smtp; 552 5.2.2 Over STORAGE quota",
            MailboxFull,
        ),
        (
            "docomo",
            "failed",
            "",
            "smtp; 550 Unknown user nat@docomo.example",
            UnknownUser,
        ),
        (
            "spanish",
            "",
            "",
            "550 5.1.1 usuario desconocido",
            UnknownUser,
        ),
        (
            "spanish",
            "",
            "",
            "552 5.2.2 El buzón está lleno",
            MailboxFull,
        ),
        (
            "portuguese",
            "",
            "",
            "550 5.1.1 usuário inexistente",
            UnknownUser,
        ),
        (
            "italian",
            "",
            "",
            "550 5.1.1 utente sconosciuto",
            UnknownUser,
        ),
        (
            "german",
            "",
            "",
            "550 5.1.1 Empfänger unbekannt",
            UnknownUser,
        ),
        ("german", "", "", "552 Postfach ist voll", MailboxFull),
        (
            "french",
            "",
            "",
            "550 Le domaine example.fr n'existe pas",
            UnknownDomain,
        ),
        (
            "japanese",
            "",
            "",
            "550 指定されたメールアドレスは存在しないユーザーです",
            UnknownUser,
        ),
        ("chinese", "", "", "550 收件人不存在", UnknownUser),
        ("chinese", "", "", "552 邮箱已满", MailboxFull),
        (
            "ses",
            "failed",
            "5.3.0",
            "smtp; 554 5.3.0 Message rejected: Sending paused for this account",
            Policy,
        ),
        ("generic", "failed", "5.1.1", "smtp; 550 5.1.1", UnknownUser),
        (
            "generic",
            "failed",
            "5.1.2",
            "smtp; 550 5.1.2 Bad destination system address",
            UnknownDomain,
        ),
        (
            "generic",
            "failed",
            "",
            "smtp; 556 5.1.10 Recipient address has null MX",
            UnknownDomain,
        ),
        ("generic", "delayed", "4.0.0", "", Delayed),
        (
            "generic",
            "failed",
            "5.0.0",
            "smtp; 550 Unrecognised nonsense from a receiver",
            Unclassified,
        ),
    ];

    fn run(case: &Case) -> Reason {
        let (_, action, status, text, _) = *case;
        let reply = reply_code(text);
        classify(&Evidence {
            action: Some(action).filter(|a| !a.is_empty()),
            status: Some(status).filter(|s| !s.is_empty()),
            reply,
            diagnostic: Some(text),
            permanent: None,
        })
    }

    #[test]
    fn the_table_is_classified_as_expected() {
        let wrong: Vec<String> = CASES
            .iter()
            .filter(|c| run(c) != c.4)
            .map(|c| format!("{} {:?}: got {:?}, want {:?}", c.0, c.3, run(c), c.4))
            .collect();
        assert!(
            wrong.is_empty(),
            "{} of {} wrong:\n{}",
            wrong.len(),
            CASES.len(),
            wrong.join("\n")
        );
    }

    fn with(action: &str, status: &str, text: &str, permanent: Option<bool>) -> Reason {
        classify(&Evidence {
            action: Some(action).filter(|a| !a.is_empty()),
            status: Some(status).filter(|s| !s.is_empty()),
            reply: reply_code(text),
            diagnostic: Some(text),
            permanent,
        })
    }

    /// (action, status, diagnostic, the MTA's own permanence, expected).
    type Miss = (
        &'static str,
        &'static str,
        &'static str,
        Option<bool>,
        Reason,
    );

    /// Near misses: each pair is a trap and its control, the wording one step away that must
    /// classify otherwise (so the test would catch the trap being judged like its control).
    const PAIRS: &[(Miss, Miss)] = &[
        // Who is unknown: the sender (us) or the recipient.
        (
            (
                "failed",
                "5.1.1",
                "550 5.1.1 <bounces@example.com>: Sender address rejected: user unknown",
                None,
                Policy,
            ),
            (
                "failed",
                "5.1.1",
                "550 5.1.1 <ann@example.org>: Recipient address rejected: user unknown",
                None,
                UnknownUser,
            ),
        ),
        // "mailbox unavailable" is temporary at 4xx, unknown user at 5xx.
        (
            (
                "failed",
                "4.2.1",
                "450 4.2.1 mailbox unavailable",
                None,
                Delayed,
            ),
            (
                "failed",
                "",
                "550 Requested action not taken: mailbox unavailable",
                None,
                UnknownUser,
            ),
        ),
        // A block list beats a recipient status.
        (
            (
                "failed",
                "5.1.1",
                "554 5.7.1 Client host [198.51.100.4] blocked using zen.spamhaus.org",
                None,
                Blocklisted,
            ),
            (
                "failed",
                "5.1.1",
                "554 5.7.1 Client host [198.51.100.4]: user unknown",
                None,
                UnknownUser,
            ),
        ),
        // The code alone is gone; a delay (by action, status or the MTA's words) never is.
        (
            (
                "delayed",
                "5.1.1",
                "550 5.1.1 <bo@example.org>: user unknown",
                None,
                Delayed,
            ),
            (
                "failed",
                "5.1.1",
                "550 5.1.1 <bo@example.org>",
                None,
                UnknownUser,
            ),
        ),
        (
            (
                "",
                "",
                "550 5.1.1 <bo@example.org>: user unknown",
                Some(false),
                Delayed,
            ),
            (
                "",
                "",
                "550 5.1.1 <bo@example.org>: user unknown",
                Some(true),
                UnknownUser,
            ),
        ),
        (
            (
                "failed",
                "4.1.1",
                "450 4.1.1 <bo@example.org>: Recipient address rejected: User unknown",
                None,
                Delayed,
            ),
            (
                "failed",
                "5.1.1",
                "550 5.1.1 <bo@example.org>: Recipient address rejected: User unknown",
                None,
                UnknownUser,
            ),
        ),
        // "dkim", "spf", "spam", "policy" inside hostnames, words or addresses are no evidence.
        (
            (
                "failed",
                "5.1.1",
                "host mx.dkim-relay.example.net[192.0.2.1] said: 550 5.1.1 user unknown",
                None,
                UnknownUser,
            ),
            (
                "failed",
                "5.7.1",
                "host mx.example.net[192.0.2.1] said: 550 5.7.1 DKIM signature failed",
                None,
                Authentication,
            ),
        ),
        (
            (
                "failed",
                "5.1.1",
                "host tspf.example.net[192.0.2.1] said: 550 5.1.1 no such user",
                None,
                UnknownUser,
            ),
            (
                "failed",
                "5.7.1",
                "host tspf.example.net[192.0.2.1] said: 550 5.7.1 SPF check failed",
                None,
                Authentication,
            ),
        ),
        (
            (
                "failed",
                "5.1.1",
                "550 5.1.1 <spam@example.org>: Recipient address rejected: User unknown",
                None,
                UnknownUser,
            ),
            (
                "failed",
                "5.7.1",
                "550 5.7.1 <ann@example.org>: message rejected as spam",
                None,
                Spam,
            ),
        ),
        (
            (
                "failed",
                "5.1.1",
                "host mx01.spamexperts.example[192.0.2.1] said: 550 5.1.1 No such user",
                None,
                UnknownUser,
            ),
            (
                "failed",
                "5.7.1",
                "host mx01.example[192.0.2.1] said: 550 5.7.1 Spam detected",
                None,
                Spam,
            ),
        ),
        (
            (
                "failed",
                "5.1.1",
                "host policy.example.net[192.0.2.1] said: 550 5.1.1 no such user",
                None,
                UnknownUser,
            ),
            (
                "failed",
                "5.7.1",
                "host mx.example.net[192.0.2.1] said: 550 5.7.1 rejected by local policy",
                None,
                Policy,
            ),
        ),
        // Temporarily disabled is inactive; disabled is gone.
        (
            (
                "failed",
                "5.2.1",
                "550 5.2.1 mailbox temporarily disabled",
                None,
                Inactive,
            ),
            (
                "failed",
                "5.2.1",
                "550 5.2.1 mailbox disabled",
                None,
                Disabled,
            ),
        ),
        // Postfix's own suspension of delivery is a delay, not a suspended account.
        (
            (
                "failed",
                "4.4.1",
                "delivery temporarily suspended: connect to mx[192.0.2.1]:25: Connection refused",
                None,
                Delayed,
            ),
            (
                "failed",
                "5.2.1",
                "550 5.2.1 account suspended",
                None,
                Inactive,
            ),
        ),
        // Our account, not the recipient's.
        (
            (
                "failed",
                "5.2.1",
                "550 5.2.1 Your account has been disabled for sending",
                None,
                Policy,
            ),
            (
                "failed",
                "5.2.1",
                "550 5.2.1 The recipient account has been disabled",
                None,
                Disabled,
            ),
        ),
        // The sender's own address (X.1.7, X.1.8) is about us.
        (
            ("failed", "5.1.7", "550 5.1.7 Invalid address", None, Policy),
            (
                "failed",
                "5.1.1",
                "550 5.1.1 Invalid address",
                None,
                UnknownUser,
            ),
        ),
        // Postfix's "Access denied" from an access map (5.7.1) is policy; Microsoft's DBEB (5.4.1) unknown user.
        (
            (
                "failed",
                "5.7.1",
                "554 5.7.1 <ann@example.org>: Recipient address rejected: Access denied",
                None,
                Policy,
            ),
            (
                "failed",
                "5.4.1",
                "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)",
                None,
                UnknownUser,
            ),
        ),
        // A greylister's retry delay is not a rate limit.
        (
            (
                "delayed",
                "4.7.1",
                "451 4.7.1 Greylisted, please try again in 300 seconds",
                None,
                Greylisted,
            ),
            (
                "delayed",
                "4.7.1",
                "451 4.7.1 Rate limited, please try again in 300 seconds",
                None,
                RateLimited,
            ),
        ),
        (
            (
                "delayed",
                "4.7.1",
                "451 4.7.1 Please try again later",
                None,
                Greylisted,
            ),
            (
                "failed",
                "5.7.1",
                "550 5.7.1 Please try again later",
                None,
                Policy,
            ),
        ),
        // Quotas: our sending quota, or the recipient's storage; the mailbox's size or the message's.
        (
            (
                "failed",
                "5.4.5",
                "550 5.4.5 Daily sending quota exceeded",
                None,
                RateLimited,
            ),
            (
                "failed",
                "5.2.2",
                "552 5.2.2 Quota exceeded",
                None,
                MailboxFull,
            ),
        ),
        (
            (
                "failed",
                "",
                "552 Mailbox size limit exceeded",
                None,
                MailboxFull,
            ),
            (
                "failed",
                "",
                "552 Message size limit exceeded",
                None,
                TooBig,
            ),
        ),
        // "listed" as an MX, or in a directory, is no block list.
        (
            (
                "",
                "",
                "Sorry. Although I'm listed as a best-preference MX or A for that host, it isn't in my \
              control/locals file, so I don't treat it as local. (#5.4.6)",
                None,
                Delayed,
            ),
            (
                "",
                "",
                "Your IP address is listed in the RBL at bl.example.net (#5.7.1)",
                None,
                Blocklisted,
            ),
        ),
        (
            (
                "failed",
                "5.0.0",
                "550 5.0.0 User ann@example.org not listed in Domino Directory",
                None,
                UnknownUser,
            ),
            (
                "failed",
                "5.0.0",
                "550 5.0.0 Sender 198.51.100.4 listed at zen.spamhaus.org",
                None,
                Blocklisted,
            ),
        ),
        // A DNS failure that will be retried is not an unknown domain.
        (
            (
                "failed",
                "4.4.3",
                "Host or domain name not found. Name service error for name=example.org type=MX: \
              Host not found, try again",
                None,
                Delayed,
            ),
            (
                "failed",
                "5.4.4",
                "Host or domain name not found. Name service error for name=example.org type=MX: \
              Host not found",
                None,
                UnknownDomain,
            ),
        ),
        // No recognised cause: unclassified when permanent, a delay when temporary.
        (
            (
                "failed",
                "5.0.0",
                "550 Unrecognised nonsense from a receiver",
                None,
                Unclassified,
            ),
            (
                "failed",
                "4.0.0",
                "450 Unrecognised nonsense from a receiver",
                None,
                Delayed,
            ),
        ),
    ];

    #[test]
    fn near_misses_and_their_controls() {
        let mut wrong = Vec::new();
        for (trap, control) in PAIRS {
            for (action, status, text, permanent, want) in [trap, control] {
                let got = with(action, status, text, *permanent);
                if got != *want {
                    wrong.push(format!(
                        "{action} {status} {text:?}: got {got:?}, want {want:?}"
                    ));
                }
            }
            assert_ne!(
                trap.4, control.4,
                "a control must classify otherwise: {:?}",
                control.2
            );
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn enhanced_status_stands_alone() {
        let found = [
            ("5.1.1", "5.1.1"),
            ("smtp; 550-5.1.1 The email account", "5.1.1"),
            ("421-4.7.28 [198.51.100.4] unusual rate", "4.7.28"),
            ("Sorry, no mailbox here by that name. (#5.1.1)", "5.1.1"),
            ("mailbox full: 5.2.2.", "5.2.2"),
            ("host [5.1.1.1] said: 550 5.7.1 blocked", "5.7.1"),
            ("deferred - 4.16.55.1; see 4.7.0", "4.7.0"),
            ("Status: 2.0.0 (delivered)", "2.0.0"),
            ("5.7.606 Access denied", "5.7.606"),
        ];
        for (text, want) in found {
            assert_eq!(enhanced_status(text).as_deref(), Some(want), "{text:?}");
        }
        let none = [
            "host [5.1.1.1] refused",
            "relay 192.168.4.2.1 timed out",
            "Postfix 1.2.3.4 and version v5.1.1",
            "3.1.1 is no class",
            "5.1.1234 is too long",
            "15.1.1 starts inside a number",
            "",
        ];
        for text in none {
            assert_eq!(enhanced_status(text), None, "{text:?}");
        }
    }

    #[test]
    fn reply_code_starts_a_reply() {
        let found = [
            ("550 5.1.1 user unknown", 550),
            ("550-5.1.1 The email account", 550),
            ("host mx.example.org[192.0.2.7] said: 554 denied", 554),
            ("smtp; 421 Try later", 421),
            ("smtp;550 whatever", 550),
            (
                "Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound'",
                550,
            ),
            ("#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##", 550),
            ("<<< 552 mailbox full", 552),
            ("first line\n452 4.2.2 over quota", 452),
            (
                "The error that the other server returned was: 553 sorry",
                553,
            ),
            ("mx1 [192.0.2.1]: 250 ok", 250),
        ];
        for (text, want) in found {
            assert_eq!(reply_code(text), Some(want), "{text:?}");
        }
        let none = [
            "try again in 450 seconds",
            "600 is no reply",
            "199 neither",
            "5500 too long",
            "copyright (2024) nobody",
            "560 is out of range",
            "",
        ];
        for text in none {
            assert_eq!(reply_code(text), None, "{text:?}");
        }
    }

    #[test]
    fn names_round_trip_and_only_gone_suppresses() {
        for r in Reason::ALL {
            assert_eq!(Reason::from_name(r.as_str()), Some(r));
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
            assert_eq!(
                serde_json::to_string(&r.class()).unwrap(),
                format!("\"{}\"", r.class().as_str())
            );
            assert_eq!(r.class().suppresses(), r.class() == Class::Gone);
        }
        let gone: Vec<_> = Reason::ALL
            .into_iter()
            .filter(|r| r.class().suppresses())
            .collect();
        assert_eq!(gone, [UnknownUser, UnknownDomain, Moved, Disabled]);
        assert_eq!(Reason::from_name("hard"), None);
        let described: std::collections::BTreeSet<_> =
            Reason::ALL.iter().map(|r| r.describe()).collect();
        assert_eq!(described.len(), Reason::ALL.len());
    }

    /// Only the first 8 KiB are read: the control puts the same phrase inside the cap.
    #[test]
    fn a_long_diagnostic_is_read_to_the_cap_and_finishes() {
        let filler = "\u{20ac}".repeat(MAX_TEXT / 3 + 1);
        assert_eq!(
            with("failed", "", &format!("{filler} user unknown"), None),
            Unclassified
        );
        assert_eq!(
            with("failed", "", &format!("user unknown {filler}"), None),
            UnknownUser
        );
        let hostile = "user unknown mailbox full 550-5.1.1 spam \u{20ac} ".repeat((1 << 20) / 40);
        assert!(hostile.len() >= 1 << 20);
        assert_eq!(with("failed", "", &hostile, None), Spam);
        assert!(enhanced_status(&hostile).is_some() && reply_code(&hostile).is_some());
        assert_eq!(with("failed", "", &"a".repeat(1 << 20), None), Unclassified);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,300}", code in "[0-9. -]{0,12}", action in "[a-z]{0,8}") {
            let _ = enhanced_status(&text);
            let mixed = format!("{code}{text}{code}");
            let _ = classify(&Evidence {
                action: Some(&action),
                status: Some(&code),
                reply: reply_code(&mixed),
                diagnostic: Some(&mixed),
                permanent: None,
            });
        }
    }

    /// The table's figures: cases per expected class and per provider family, and the shares the
    /// corpus goal is stated in (gone judged gone; temporary or sender judged gone).
    #[test]
    fn table_figures() {
        let mut per_class = std::collections::BTreeMap::<&str, usize>::new();
        let mut per_family = std::collections::BTreeMap::<&str, usize>::new();
        let (mut gone, mut gone_hit, mut other, mut other_gone) = (0, 0, 0, 0);
        for case in CASES {
            *per_class.entry(case.4.class().as_str()).or_default() += 1;
            *per_family.entry(case.0).or_default() += 1;
            let got = run(case).class();
            match case.4.class() {
                Class::Gone => {
                    gone += 1;
                    gone_hit += usize::from(got == Class::Gone);
                }
                Class::Temporary | Class::Sender => {
                    other += 1;
                    other_gone += usize::from(got == Class::Gone);
                }
                Class::Unclassified => {}
            }
        }
        println!("cases: {} {per_class:?}", CASES.len());
        println!("per family: {per_family:?}");
        println!(
            "gone judged gone: {gone_hit}/{gone}; temporary or sender judged gone: {other_gone}/{other}"
        );
        assert!(CASES.len() >= 120);
        assert_eq!((gone_hit, other_gone), (gone, 0));
    }
}
