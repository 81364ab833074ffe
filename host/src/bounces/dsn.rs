//! The per-recipient fields of a delivery status notification (RFC 3464 §2.3): Action,
//! Status, Diagnostic-Code, Final- and Original-Recipient, each block read by mail-parser as a
//! header section.

use mail_parser::{Message, MessageParser};

use super::reason::{self, Evidence, Reason};

/// One failed (or delayed) recipient of a bounce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Final-Recipient then Original-Recipient (address type removed), or the address a
    /// plain-text notice names; empty when it names none.
    pub addresses: Vec<String>,
    /// The DSN's Action, lower-cased (`failed`, `delayed`); `None` for plain-text notices.
    pub action: Option<String>,
    /// The RFC 3463 status (`5.1.1`), from the Status field or the diagnostic text.
    pub status: Option<String>,
    /// The SMTP reply code, from the diagnostic text.
    pub reply: Option<u16>,
    /// The diagnostic text, one line.
    pub diagnostic: Option<String>,
    pub reason: Reason,
}

/// More recipients than a report about one message has; the rest of the blocks are not read.
const MAX_RECIPIENTS: usize = 1000;

/// The failures of a `message/delivery-status` body (delivered, relayed and expanded
/// recipients are not failures and are left out).
pub fn failures(body: &[u8]) -> Vec<Failure> {
    // The first block is about the message (it has neither Action nor Status); the others
    // are one per recipient.
    super::mime::field_blocks(body, MAX_RECIPIENTS + 1)
        .into_iter()
        .filter_map(|block| {
            let fields = MessageParser::default().parse_headers(block)?;
            failure(&fields)
        })
        .collect()
}

/// Whether a text part carries delivery-status fields itself (MTAs that send a DSN's fields
/// as text/plain): a line that starts with `Final-Recipient:` and one with `Action:`.
pub fn looks_like_fields(text: &[u8]) -> bool {
    let starts = |name: &[u8]| {
        text.starts_with(name) || memchr::memmem::find(text, &[b"\n", name].concat()).is_some()
    };
    starts(b"Final-Recipient:") && starts(b"Action:")
}

fn failure(fields: &Message<'_>) -> Option<Failure> {
    let action = raw(fields, "Action").map(|a| one_line(a).to_ascii_lowercase());
    let status = raw(fields, "Status")
        .and_then(|s| s.split_whitespace().next())
        .map(str::to_owned);
    if action.as_deref().is_some_and(|a| {
        ["delivered", "relayed", "expanded"]
            .iter()
            .any(|ok| a.starts_with(ok))
    }) || (action.is_none() && status.is_none())
    {
        return None;
    }
    let addresses: Vec<String> = [
        "Final-Recipient",
        "Original-Recipient",
        "X-Actual-Recipient",
    ]
    .iter()
    .filter_map(|name| raw(fields, name).map(typed_address))
    .filter(|a| !a.is_empty())
    .collect();
    let diagnostic = raw(fields, "Diagnostic-Code").map(one_line);
    let reply = diagnostic.as_deref().and_then(reason::reply_code);
    let status = status.filter(|s| reason::enhanced_status(s).is_some());
    let why = reason::classify(&Evidence {
        action: action.as_deref(),
        status: status.as_deref(),
        reply,
        diagnostic: diagnostic.as_deref(),
        permanent: None,
    });
    Some(Failure {
        addresses,
        action,
        status,
        reply,
        diagnostic,
        reason: why,
    })
}

fn raw<'a>(block: &'a Message<'_>, name: &'static str) -> Option<&'a str> {
    block
        .header_raw(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// `rfc822; a@b` as `a@b`.
pub fn typed_address(value: &str) -> String {
    let address = value.split_once(';').map_or(value, |(_, a)| a);
    bare(address).to_owned()
}

/// `<a@b>` or ` a@b ` as `a@b`.
pub fn bare(text: &str) -> &str {
    text.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
}

/// One line, for the journal and the operator: unfolded, whitespace collapsed, at most 1,000
/// characters (a diagnostic is foreign text).
pub fn one_line(value: &str) -> String {
    let mut out = String::new();
    for word in value.split_whitespace() {
        if out.len() + word.len() > 1000 {
            let room = 1000usize.saturating_sub(out.len() + 1);
            let cut = (0..=room.min(word.len()))
                .rev()
                .find(|&i| word.is_char_boundary(i));
            if let Some(cut) = cut.filter(|&c| c > 0) {
                out.push(' ');
                out.push_str(&word[..cut]);
            }
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}
