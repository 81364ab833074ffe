//! One mail from the bounce mailbox, parsed with mail-parser: a delivery status notification
//! (RFC 3464), a complaint (ARF, RFC 5965), or neither.
//!
//! Only what a report says is extracted: the addresses it was sent to (where a VERP token
//! is), and per recipient the action, status, diagnostic and Final-/Original-Recipient. Nothing
//! here decides whose report it is; text taken from a report is foreign and must be shown
//! through `term::shown`.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// The headers a bounce's envelope recipient may be found in (the VERP address).
const ADDRESSED_TO: [&str; 5] = [
    "Delivered-To",
    "X-Original-To",
    "Envelope-To",
    "X-Envelope-To",
    "To",
];

/// What a mail turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A DSN: where it was addressed, and one entry per recipient it reports on.
    Dsn {
        addressed_to: Vec<String>,
        recipients: Vec<DsnRecipient>,
    },
    /// An ARF complaint: where it was addressed, and who the complained-about mail went to.
    Complaint {
        addressed_to: Vec<String>,
        /// Original-Rcpt-To, then the original message's To.
        recipients: Vec<String>,
        /// The original message's envelope sender (its Return-Path): our VERP address.
        original_return_path: Vec<String>,
        feedback_type: String,
    },
    NotAReport,
}

/// One per-recipient block of a DSN's message/delivery-status part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DsnRecipient {
    pub action: String,
    /// The RFC 3463 status, `5.1.1`.
    pub status: String,
    pub diagnostic: Option<String>,
    /// Final-Recipient then Original-Recipient, their address type (`rfc822;`) removed.
    pub addresses: Vec<String>,
}

/// How a DSN recipient counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Action failed with a 5.x.x status: the address is bad, suppress it.
    Hard,
    /// Action delayed, or failed with a 4.x.x status (given up after retries): recorded only.
    Soft,
    /// Delivered, relayed, expanded: nothing to do.
    None,
}

impl DsnRecipient {
    pub fn severity(&self) -> Severity {
        let class = self.status.split('.').next().unwrap_or("");
        match self.action.to_ascii_lowercase().as_str() {
            "failed" if class == "5" => Severity::Hard,
            "failed" | "delayed" => Severity::Soft,
            _ => Severity::None,
        }
    }
}

/// Parses one mail.
pub fn parse(bytes: &[u8]) -> Parsed {
    let Some(message) = MessageParser::default().parse(bytes) else {
        return Parsed::NotAReport;
    };
    let report_type = message
        .content_type()
        .filter(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
        .and_then(|ct| ct.attribute("report-type"))
        .map(str::to_ascii_lowercase);
    let addressed_to = addressed_to(&message);
    match report_type.as_deref() {
        Some("delivery-status") => dsn(&message, addressed_to),
        Some("feedback-report") => complaint(&message, addressed_to),
        _ => Parsed::NotAReport,
    }
}

/// Every address in the headers a bounce's envelope recipient may be in.
fn addressed_to(message: &Message<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for name in ADDRESSED_TO {
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
    }
    out
}

/// `<a@b>` or ` a@b ` as `a@b`.
fn bare(text: &str) -> &str {
    text.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
}

/// The part of `message` whose type is `ctype/subtype`, any depth.
fn part_of<'m, 'x>(
    message: &'m Message<'x>,
    subtypes: &[&str],
) -> Option<&'m mail_parser::MessagePart<'x>> {
    message.parts.iter().find(|part| {
        part.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct
                    .subtype()
                    .is_some_and(|s| subtypes.iter().any(|t| s.eq_ignore_ascii_case(t)))
        })
    })
}

/// The header blocks of a message/delivery-status or message/feedback-report body, each
/// parsed by mail-parser as a header section.
fn field_blocks(body: &[u8]) -> Vec<Message<'_>> {
    let mut blocks = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        // A block ends at the first empty line (CRLF or LF).
        let end = find_blank_line(rest);
        let (block, after) = rest.split_at(end.unwrap_or(rest.len()));
        if let Some(parsed) = MessageParser::default().parse_headers(block)
            && !parsed.headers().is_empty()
        {
            blocks.push(parsed);
        }
        rest = after.trim_ascii_start();
    }
    blocks
}

fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    let lf = memchr::memmem::find(bytes, b"\n\n");
    let crlf = memchr::memmem::find(bytes, b"\n\r\n");
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b) + 1),
        (a, b) => a.or(b).map(|i| i + 1),
    }
}

fn raw<'a>(block: &'a Message<'_>, name: &'static str) -> Option<&'a str> {
    block
        .header_raw(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// `rfc822; a@b` as `a@b`.
fn typed_address(value: &str) -> String {
    let address = value.split_once(';').map_or(value, |(_, a)| a);
    bare(address).to_owned()
}

/// One line, for the journal and the operator: unfolded, whitespace collapsed.
fn one_line(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn body_bytes<'a>(part: &'a mail_parser::MessagePart<'_>) -> &'a [u8] {
    match &part.body {
        PartType::Message(inner) => inner.raw_message(),
        _ => part.contents(),
    }
}

fn dsn(message: &Message<'_>, addressed_to: Vec<String>) -> Parsed {
    let Some(part) = part_of(message, &["delivery-status", "global-delivery-status"]) else {
        return Parsed::NotAReport;
    };
    let blocks = field_blocks(body_bytes(part));
    // The first block is about the message; the others, one per recipient.
    let recipients = blocks
        .iter()
        .skip(1)
        .filter_map(|block| {
            let action = raw(block, "Action")?.to_owned();
            let status = raw(block, "Status")?
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_owned();
            let addresses = ["Final-Recipient", "Original-Recipient"]
                .iter()
                .filter_map(|name| raw(block, name).map(typed_address))
                .filter(|a| !a.is_empty())
                .collect();
            Some(DsnRecipient {
                action,
                status,
                diagnostic: raw(block, "Diagnostic-Code").map(one_line),
                addresses,
            })
        })
        .collect();
    Parsed::Dsn {
        addressed_to,
        recipients,
    }
}

fn complaint(message: &Message<'_>, addressed_to: Vec<String>) -> Parsed {
    let Some(part) = part_of(message, &["feedback-report"]) else {
        return Parsed::NotAReport;
    };
    let blocks = field_blocks(body_bytes(part));
    let mut recipients: Vec<String> = blocks
        .iter()
        .flat_map(|b| b.header_values("Original-Rcpt-To"))
        .filter_map(|v| v.as_text().map(typed_address))
        .collect();
    let feedback_type = blocks
        .iter()
        .find_map(|b| raw(b, "Feedback-Type"))
        .unwrap_or("abuse")
        .to_owned();
    let mut original_return_path = Vec::new();
    if let Some(original) = original_message(message) {
        recipients.extend(
            original
                .to()
                .into_iter()
                .flat_map(|a| a.iter())
                .filter_map(|a| a.address.as_deref().map(str::to_owned)),
        );
        original_return_path.extend(original.return_address().map(|a| bare(a).to_owned()));
    }
    Parsed::Complaint {
        addressed_to,
        recipients,
        original_return_path,
        feedback_type,
    }
}

/// The original message an ARF report carries (message/rfc822 or text/rfc822-headers).
fn original_message<'m>(message: &'m Message<'_>) -> Option<Message<'m>> {
    message.parts.iter().find_map(|part| {
        let ct = part.content_type()?;
        let subtype = ct.subtype()?.to_ascii_lowercase();
        match (ct.ctype().to_ascii_lowercase().as_str(), subtype.as_str()) {
            ("message", "rfc822") | ("text", "rfc822-headers") => {
                MessageParser::default().parse_headers(body_bytes(part))
            }
            _ => None,
        }
    })
}
