//! Text that did not come from isomail, made inert before it reaches a terminal or a log.
//!
//! A renderer's error message, a template's source, a recipient list's field name and an SMTP
//! server's reply are all data an attacker may choose. Printed raw, an escape sequence in one of
//! them can retitle the terminal, erase lines or draw a fake "0 failed" summary; a line break can
//! forge a line of isomail's own output; a bidirectional override can make text read backwards.
//! Everything here turns such characters into visible `\u{…}` escapes and bounds the length, so
//! what the operator reads is what isomail says.

use std::borrow::Cow;

// The character rule and the one-line forms live with the sandbox, which quotes renderer text in
// its failures and may depend on nothing else in the crate; the terminal's forms build on them.
pub use crate::sandbox::inert::{SHOWN_CHARS, inert, prefix, shown};
use crate::sandbox::inert::{needs_escape, push_inert};

/// Like [`inert`], but keeps line breaks: for isomail's own multi-line messages, which may quote
/// foreign text that has already been made inert, and for the last line of defence in `main`.
pub fn inert_keeping_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && needs_escape(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if c == '\n' {
            out.push(c);
        } else {
            push_inert(&mut out, c);
        }
    }
    Cow::Owned(out)
}

/// A whole message for a terminal (`preview`): line structure kept, every other control
/// character escaped. CRLF line endings become plain line breaks.
pub fn inert_message(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\t' => out.push(c),
            c => push_inert(&mut out, c),
        }
    }
    out
}

/// JSON for a terminal: every character [`inert`] would escape, written as a JSON `\uXXXX`
/// escape, line breaks between the values kept. serde_json escapes only C0 controls inside
/// strings; a C1 control or a bidirectional override in a relay's reply would reach the terminal
/// raw. The escaped text decodes to the same values.
pub fn inert_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c == '\n' || !needs_escape(c) {
            out.push(c);
        } else {
            // Every character needs_escape names is in the Basic Multilingual Plane.
            let _ = std::fmt::Write::write_fmt(&mut out, format_args!("\\u{:04x}", c as u32));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reaches_the_terminal_inert_and_decodes_to_the_same_values() {
        let reply = "550 5.1.1 \u{202e}gnp.exe \u{9b}2J \x1b[2K bye";
        let json = serde_json::to_string_pretty(&serde_json::json!({ "reply": reply, "n": 1 }))
            .expect("json");
        // Control: serde_json alone leaves the override and the C1 control raw.
        assert!(
            json.contains('\u{202e}') && json.contains('\u{9b}'),
            "{json}"
        );
        let shown = inert_json(&json);
        assert!(
            !shown.chars().any(|c| c != '\n' && needs_escape(c)),
            "{shown}"
        );
        assert!(
            shown.contains("\\u202e") && shown.contains("\\u009b"),
            "{shown}"
        );
        let back: serde_json::Value = serde_json::from_str(&shown).expect("still JSON");
        assert_eq!(back["reply"], reply);
        assert_eq!(inert_json("{\n  \"a\": \"b\"\n}"), "{\n  \"a\": \"b\"\n}");
    }

    #[test]
    fn messages_keep_their_lines_and_lose_their_escapes() {
        let message = b"Subject: hi\r\n\r\nline\x1b[31m red\r\n\xff\r\n";
        assert_eq!(
            inert_message(message),
            "Subject: hi\n\nline\\u{1b}[31m red\n\u{fffd}\n"
        );
        assert_eq!(inert_keeping_lines("a\nb\x1bc"), "a\nb\\u{1b}c");
    }
}
