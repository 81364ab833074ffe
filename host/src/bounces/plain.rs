//! Bounces that are not RFC 3464 reports: the plain-text notices of qmail, Exim, sendmail,
//! Postfix, Courier, Exchange, Domino, the large providers and gateways.
//!
//! Whether a mail is a bounce is decided from several signals together, never from one: the
//! From header (MAILER-DAEMON, postmaster, Mail Delivery System…), the Subject's wording, and
//! a family's own first sentence at the start of a body line. An auto-reply, a challenge, a
//! read receipt or a human reply is turned away by its Subject before anything else, however
//! much of a bounce it quotes. Reading stops where the copy of the returned message begins.
//!
//! Hostile input: only the first `MAX_SCAN` bytes of the body are read, every search is one
//! pass (Aho-Corasick, the `regex` crate's linear-time engines, a fixed number of patterns a
//! line), and the result is bounded (`blocks::MAX_RECIPIENTS` failures, one-line diagnostics of
//! at most `blocks::MAX_DIAGNOSTIC` characters).

mod blocks;
mod markers;
#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use regex::Regex;

/// How much of a body is read: every notice's own text is far shorter, so anything beyond is
/// the returned original or padding.
const MAX_SCAN: usize = 512 << 10;

/// One failed recipient a plain-text bounce names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainFailure {
    /// The failed address as the bounce gives it (angle brackets, quotes, "mailto:" removed);
    /// None when the notice names none (then only a VERP token can say whose it is).
    pub address: Option<String>,
    /// The reason text the MTA gives for this recipient (the remote server's reply when
    /// quoted), one line, whitespace collapsed, at most 1,000 characters.
    pub diagnostic: String,
    /// Some(true) when the MTA's own wording says permanent ("permanent fatal errors", "failed
    /// permanently", "could not be delivered"...), Some(false) when it says temporary
    /// ("delayed", "will keep trying", "has not yet been delivered", "Warning: message still
    /// undelivered"), None when it does not say.
    pub permanent: Option<bool>,
}

/// What a plain-text bounce says: which MTA family's layout it matched, and its failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainBounce {
    /// The layout matched ("qmail", "exim", "postfix", "exchange", "gmail"…, or "generic"
    /// when only the From and Subject said it is a bounce).
    pub family: &'static str,
    /// One entry per failed recipient (at least one: an address-less one when none is named).
    pub failures: Vec<PlainFailure>,
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("fixed patterns compile")
}

/// A pattern of wordings, any run of whitespace matching each blank (templates wrap lines
/// anywhere: Postfix's "could not\nbe delivered").
fn wording(pattern: &str) -> Regex {
    regex(&pattern.replace(' ', r"\s+"))
}

/// Senders of bounces: the reporting system's mailboxes and display names.
static FROM_SYSTEM: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        r"(?i)mailer[-_ ]?daemon|postmaster|mail ?delivery|delivery ?(?:status|notification|subsystem)",
        r"|microsoft ?(?:outlook|exchange)|microsoftexchange|mail ?administrator|mail ?router|internet mail",
        r"|\bmdaemon\b|double-bounce|systemadministrator|mail system|e-?mail gateway|smtp gateway",
        r"|почтовая служба|служба доставки|zustellsystem",
    ))
});

/// Subjects of bounces and delay warnings, in the languages the fixtures show.
static SUBJECT_BOUNCE: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        r"(?i)undeliver|not delivered|could not be delivered|couldn't be delivered|failure notice",
        r"|delivery (?:status notification|failure|failed|has failed|problem|report|notification",
        r"|delayed|delay|incomplete|error)",
        r"|mail delivery|returned mail|returned to sender|non[- ]?deliver|failed delivery|delayed mail",
        r"|warning: could not send|mail system error|unable to deliver|delivery unsuccessful|permanent error",
        r"|unzustellbar|nicht zugestellt|zustellung fehlgeschlagen|non remis|non distribuable|échec de (?:la )?remise",
        r"|non recapitabile|mancato recapito|no se puede entregar|no entregado|não entregue|onbestelbaar",
        r"|недостав|не доставлен|не удалось доставить|配信エラー|送信エラー|エラーメール",
    ))
});

/// Subjects that are never a bounce: auto-replies, challenges, receipts, success notices,
/// digests, unless a bounce wording comes before (a bounce's Subject repeats the original's).
/// So a vacation reply quoting "550 5.1.1" stays out.
static SUBJECT_NOT: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        r"(?i)out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?(?:reply|response|antwort)|autoreply",
        r"|^\s*auto:|abwesen|vacation|urlaub|réponse automatique|absence|respuesta automática|risposta automatica",
        r"|away from|on leave|please confirm|confirm your|verify your|verification required|challenge",
        r"|^\s*(?:read|gelesen|lu|leído|letto)\s*:|read receipt|return receipt",
        r"|^\s*(?:delivered|relayed|zugestellt|remis)\s*:",
        r"|\((?:success|relay)\)|successfully delivered|quarantine|digest|newsletter",
    ))
});

/// A reply or a forward (after an optional list tag): a human wrote it.
static SUBJECT_REPLY: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?i)^\s*(?:\[[^\]]{1,60}\]\s*)?(?:re|fwd?|aw|wg|tr|sv|vs|rif|antw)\s*:")
});

/// The MTA's own words for a notice that is only a warning (the message is still queued).
static SAYS_TEMPORARY: LazyLock<Regex> = LazyLock::new(|| {
    wording(concat!(
        r"(?i)warning only|warning message only|do not need to resend|don't need to resend|no action is required",
        r"|has not yet been delivered|have not yet been delivered|hasn't been delivered yet|still undelivered",
        r"|will keep trying|will continue (?:to try|trying|to attempt|to be attempted)|(?:will be|being) retried",
        r"|delivery (?:is |has been )?delayed|has been delayed|delays in delivering|\(delay\)|delayed mail",
        r"|transient non-fatal|temporary failure|temporary problem delivering|message is delayed",
        r"|could not send message for past|delay notification|will retry|verzögert|retardé|задерж",
    ))
});

/// The MTA's own words for a notice that gives up.
static SAYS_PERMANENT: LazyLock<Regex> = LazyLock::new(|| {
    wording(concat!(
        r"(?i)permanent|fatal error|could not be delivered|couldn't be delivered|cannot be delivered",
        r"|can't be delivered|was not delivered|wasn't delivered|not be delivered|undeliverable|giving up",
        r"|given up|not going to try again|delivery has failed|has failed|failed to deliver|unable to deliver",
        r"|could not deliver|\(failure\)|returned to sender|returned mail|nicht zugestellt|unzustellbar",
        r"|n'a pas pu être remis|non remis|non recapitabile",
        r"|не может быть доставлено|не удалось доставить",
        r"|не доставлено|送信に失敗|an error has occurred while attempting to deliver",
    ))
});

/// A block's own words, which outrank the notice's (Gmail says it per recipient).
fn block_says(text: &str) -> Option<bool> {
    static TEMPORARY: LazyLock<Regex> =
        LazyLock::new(|| regex(r"(?i)details of temporary failure|delay reason|\bdeferred:"));
    static PERMANENT: LazyLock<Regex> =
        LazyLock::new(|| regex(r"(?i)details of permanent failure|failed permanently"));
    match (TEMPORARY.is_match(text), PERMANENT.is_match(text)) {
        (true, _) => Some(false),
        (false, true) => Some(true),
        _ => None,
    }
}

/// What the notice as a whole says; a warning wins, since delay notices also describe the
/// giving up to come ("…will give up, and the message will be returned to you").
fn notice_says(subject: &str, text: &str) -> Option<bool> {
    if SAYS_TEMPORARY.is_match(subject) || SAYS_TEMPORARY.is_match(text) {
        Some(false)
    } else if SAYS_PERMANENT.is_match(subject) || SAYS_PERMANENT.is_match(text) {
        Some(true)
    } else {
        None
    }
}

/// The first `MAX_SCAN` bytes of `body`, cut at a character boundary.
fn head(body: &str) -> &str {
    let mut cut = body.len().min(MAX_SCAN);
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    &body[..cut]
}

/// The family whose layout `body` shows, with the offset of its marker; "generic" (offset 0)
/// when no family's marker is there but the From and the wording say bounce. None for mail
/// that is not a bounce.
fn recognise(from: &str, subject: &str, body: &str) -> Option<(&'static str, usize)> {
    // What the Subject says first counts: "Undeliverable: Our weekly newsletter" is a bounce
    // of a newsletter, "Out of Office: Undelivered parcels" an auto-reply.
    let not_at = SUBJECT_NOT.find(subject).map(|m| m.start());
    let bounce_at = SUBJECT_BOUNCE.find(subject).map(|m| m.start());
    if not_at.is_some_and(|not| bounce_at.is_none_or(|bounce| not < bounce)) {
        return None;
    }
    let system = FROM_SYSTEM.is_match(from);
    if SUBJECT_REPLY.is_match(subject) && !system {
        return None;
    }
    let subject_says = bounce_at.is_some();
    match markers::start(body) {
        Some((at, family)) if system || subject_says => Some((family, at)),
        Some(_) => None,
        None if system && subject_says => Some(("generic", 0)),
        None if system && notice_says("", &body[..markers::end(body, 0)]).is_some() => {
            Some(("generic", 0))
        }
        None => None,
    }
}

/// Recognises a plain-text bounce. `from`: the bounce's From header (raw text or the address),
/// `subject`: its decoded Subject, `body`: its human-readable text, decoded (the text/plain
/// part, or the HTML part converted to text, without the original message when that is a
/// separate MIME part). Returns None for mail that is not a bounce: auto-replies (out of
/// office, vacation), human replies, newsletters, challenge-response, list mail — even when
/// they contain an address and "550".
pub fn extract(from: &str, subject: &str, body: &str) -> Option<PlainBounce> {
    let body = head(body);
    let (family, marker) = recognise(from, subject, body)?;
    let text = &body[..markers::end(body, marker)];
    let notice = notice_says(subject, text);
    let blocks = blocks::split(text);
    let common = blocks::common(&blocks.outside);
    let reasons = blocks::diagnostics(&blocks.list, &common);
    let mut failures: Vec<PlainFailure> = blocks
        .list
        .iter()
        .zip(reasons)
        .map(|(block, diagnostic)| PlainFailure {
            address: Some(block.address.clone()),
            diagnostic,
            permanent: block.section.or_else(|| block_says(&block.text)).or(notice),
        })
        .collect();
    if failures.is_empty() {
        let diagnostic = match common.text.is_empty() {
            true => blocks::one_line(&blocks.outside),
            false => common.text,
        };
        failures.push(PlainFailure {
            address: None,
            diagnostic,
            permanent: block_says(&blocks.outside).or(notice),
        });
    }
    Some(PlainBounce {
        family: markers::refine(family, from, text),
        failures,
    })
}
