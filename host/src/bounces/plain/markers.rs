//! The fixed sentences that give a plain-text bounce away: where each MTA family's notice
//! begins, and where the copy of the returned message begins (after which nothing is read, so
//! an address in the original is never taken for a failed one).
//!
//! A marker counts only at the start of a line (after blanks or the rules some MTAs draw with
//! `-`, `*`, `#` or `=`): a human reply quoting a bounce with `> ` does not match, and neither
//! does a sentence that merely mentions one. Both tables are searched in one pass each
//! (Aho-Corasick), so finding them is linear in the text.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};

/// The first sentences of each family's notice, as its source or documented template writes
/// them (qmail-send.c, Exim's deliver.c, sendmail's savemail.c, Postfix's bounce templates,
/// Courier's dsn templates, OpenSMTPD's bounce.c; the rest from the layouts Sisimai's lhost
/// modules describe).
const STARTS: &[(&str, &str)] = &[
    ("qmail", "This is the qmail-send program at"),
    (
        "qmail",
        "I'm afraid I wasn't able to deliver your message to the following addresses",
    ),
    ("postfix", "This is the mail system at host"),
    ("postfix", "This is the Postfix program at host"),
    (
        "exim",
        "This message was created automatically by mail delivery software",
    ),
    (
        "exim",
        "A message that you sent could not be delivered to one or more of",
    ),
    (
        "exim",
        "A message that you sent has not yet been delivered to one or more of",
    ),
    ("sendmail", "The original message was received at"),
    (
        "sendmail",
        "The following addresses had permanent fatal errors",
    ),
    (
        "sendmail",
        "The following addresses had transient non-fatal errors",
    ),
    ("sendmail", "The following addresses had delivery errors"),
    ("sendmail", "Transcript of session follows"),
    ("sendmail", "THIS IS A WARNING MESSAGE ONLY"),
    ("courier", "UNDELIVERABLE MAIL"),
    ("courier", "DELAYS IN DELIVERING YOUR MESSAGE"),
    (
        "courier",
        "Your message to the following recipients cannot be delivered",
    ),
    ("exchange", "did not reach the following recipient(s)"),
    (
        "exchange",
        "Your message did not reach some or all of the intended recipients",
    ),
    (
        "exchange",
        "Delivery has failed to these recipients or groups",
    ),
    (
        "exchange",
        "Delivery is delayed to these recipients or groups",
    ),
    (
        "exchange",
        "Delivery has been delayed to these recipients or groups",
    ),
    ("exchange", "The following recipient(s) cannot be reached"),
    ("exchange", "Diagnostic information for administrators"),
    ("exchange", "More Info for Email Admins"),
    ("domino", "was not delivered to:"),
    ("domino", "n'a pas été remis à"),
    ("notes", "------- Failure Reasons"),
    (
        "gmail",
        "Delivery to the following recipient failed permanently",
    ),
    (
        "gmail",
        "Delivery to the following recipients failed permanently",
    ),
    (
        "gmail",
        "Delivery to the following recipient has been delayed",
    ),
    ("gmail", "Technical details of permanent failure"),
    ("gmail", "Technical details of temporary failure"),
    ("gmail", "** Address not found **"),
    ("gmail", "** Message not delivered **"),
    ("gmail", "** Message blocked **"),
    ("gmail", "** Delivery incomplete **"),
    ("gmail", "Your message wasn't delivered to"),
    (
        "gmail",
        "There was a temporary problem delivering your message to",
    ),
    (
        "yahoo",
        "Sorry, we were unable to deliver your message to the following address",
    ),
    (
        "dsn-text",
        "This is an automatically generated Delivery Status Notification",
    ),
    ("dsn-text", "Delivery to the following recipients failed"),
    (
        "opensmtpd",
        "This is the MAILER-DAEMON, please DO NOT REPLY to this",
    ),
    (
        "opensmtpd",
        "An error has occurred while attempting to deliver a message for",
    ),
    ("opensmtpd", "A message is delayed for more than"),
    (
        "messagingserver",
        "This report relates to a message you sent with the following header fields",
    ),
    (
        "messagingserver",
        "Your message cannot be delivered to the following recipients",
    ),
    ("mailmarshal", "Could not be delivered because of"),
    ("mailmarshal", "The following recipients were affected"),
    ("imail", "Unknown user:"),
    ("interscan", "Sent <<< RCPT TO:"),
    ("x2", "Unable to deliver message to the following address"),
    ("biglobe", "The following addresses had delivery problems"),
    ("kddi", "Your mail sent on:"),
    (
        "mdaemon",
        "The attached message had PERMANENT fatal delivery errors",
    ),
    ("mdaemon", "--- Session Transcript ---"),
    ("einsundeins", "The following address failed:"),
    ("mailru", "Это письмо создано автоматически"),
    (
        "mfilter",
        "このメールは「m-FILTER」が自動的に生成して送信しています",
    ),
    ("mfilter", "以下のメールアドレスへの送信に失敗しました"),
];

/// Where the returned message's copy begins, per family (the same sources as `STARTS`).
const ENDS: &[&str] = &[
    "--- Below this line is a copy of the message.",
    "------ This is a copy of the message, including all the headers.",
    "------ This is a copy of the message's headers.",
    "--- The header of the original message is following. ---",
    "Original message headers:",
    "En-têtes de message d'origine",
    "Intestazioni originali del messaggio",
    "Message Hops",
    "----- Original message -----",
    "-----Original Message-----",
    "----- Message header follows -----",
    "------- Returned Message --------",
    "Original message follows.",
    "--- Original message follows.",
    "----- Unsent message follows -----",
    "------ Original message ------",
    "-----Ursprüngliche Nachricht-----",
    "----- Message d'origine -----",
    "----- Исходное сообщение -----",
    "Below is a copy of the original message:",
    "Included is a copy of the message header:",
    "Content-Type: message/rfc822",
    "Content-Type: text/rfc822-headers",
    "-------original message",
];

/// Header lines that start an inline copy without any marker; only ever at column 0, since
/// Messaging Server and Exchange indent their summaries of the original's headers.
const ENDS_AT_COLUMN_0: &[&str] = &["Received: from ", "Return-Path: <"];

/// Some providers run a family's software with its wording unchanged: the From domain names
/// them (lower-case needles; the first that occurs wins).
const PROVIDERS: &[(&str, &str)] = &[
    ("gmx.", "gmx"),
    ("web.de", "gmx"),
    ("mail.ru", "mailru"),
    ("yandex", "yandex"),
    ("orange.fr", "orange"),
    ("wanadoo", "orange"),
    ("kundenserver", "einsundeins"),
    ("1und1", "einsundeins"),
    ("1and1", "einsundeins"),
    ("ionos", "einsundeins"),
    ("aol.", "aol"),
    ("yahoo", "yahoo"),
    ("hotmail", "outlook"),
    ("outlook.com", "outlook"),
    ("zoho", "zoho"),
];

/// The longest run of blanks and rules before a marker on its line.
const MAX_LEAD: usize = 80;

fn searcher(needles: impl IntoIterator<Item = &'static str>) -> AhoCorasick {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .build(needles)
        .expect("fixed marker tables build")
}

static START: LazyLock<AhoCorasick> = LazyLock::new(|| searcher(STARTS.iter().map(|s| s.1)));
static END: LazyLock<AhoCorasick> = LazyLock::new(|| searcher(ENDS.iter().copied()));
static END_COLUMN_0: LazyLock<AhoCorasick> =
    LazyLock::new(|| searcher(ENDS_AT_COLUMN_0.iter().copied()));

/// Whether only blanks and rules stand between the line's start and `at`. Bounded by
/// `MAX_LEAD`, and each scan stops at the first other character, so over all matches of one
/// search the scans stay linear.
fn at_line_start(text: &str, at: usize) -> bool {
    let lead = text.as_bytes()[..at]
        .iter()
        .rev()
        .take(MAX_LEAD + 1)
        .take_while(|b| matches!(b, b' ' | b'\t' | b'-' | b'*' | b'#' | b'=' | b'\r'))
        .count();
    lead <= MAX_LEAD && (at == lead || text.as_bytes()[at - lead - 1] == b'\n')
}

/// The first family marker at a line start: its offset and family.
pub(super) fn start(text: &str) -> Option<(usize, &'static str)> {
    START
        .find_iter(text)
        .find(|m| at_line_start(text, m.start()))
        .map(|m| (m.start(), STARTS[m.pattern().as_usize()].0))
}

/// Where the copy of the original begins at or after `from` (the text's end when it does not).
pub(super) fn end(text: &str, from: usize) -> usize {
    let rest = &text[from..];
    let marked = END.find_iter(rest).find(|m| at_line_start(rest, m.start()));
    let headed = END_COLUMN_0
        .find_iter(rest)
        .find(|m| m.start() == 0 || rest.as_bytes()[m.start() - 1] == b'\n');
    let first = [marked, headed]
        .into_iter()
        .flatten()
        .map(|m| m.start())
        .min();
    from + first.unwrap_or(rest.len())
}

/// The family to report: a provider named by the From domain when it runs a common MTA's
/// notice unchanged, Office 365 for an Exchange notice from Microsoft's cloud.
pub(super) fn refine(family: &'static str, from: &str, text: &str) -> &'static str {
    let from = from.to_ascii_lowercase();
    if family == "exchange" {
        let cloud = [
            "outlook.com",
            "office 365",
            "microsoft 365",
            "onmicrosoft.com",
        ];
        let text = text.to_ascii_lowercase();
        return match cloud.iter().any(|c| text.contains(c) || from.contains(c)) {
            true => "office365",
            false => family,
        };
    }
    if !matches!(
        family,
        "exim" | "postfix" | "sendmail" | "generic" | "dsn-text"
    ) {
        return family;
    }
    PROVIDERS
        .iter()
        .find(|(needle, _)| from.contains(needle))
        .map_or(family, |(_, provider)| provider)
}

/// Every start marker, for tests that build bodies out of them.
#[cfg(test)]
pub(super) fn starts() -> impl Iterator<Item = &'static str> {
    STARTS.iter().map(|s| s.1)
}

/// Every end marker, for tests that build bodies out of them.
#[cfg(test)]
pub(super) fn ends() -> impl Iterator<Item = &'static str> {
    ENDS.iter().chain(ENDS_AT_COLUMN_0).copied()
}
