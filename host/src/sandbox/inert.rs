//! Foreign text made inert: every control character, line break and bidirectional formatting
//! character written as a visible escape, and bounded in length. It lives here because the
//! sandbox quotes renderer text in its failures and depends on nothing else in the crate;
//! [`crate::term`] builds the terminal's forms on it.

use std::borrow::Cow;
use std::fmt::Write;

/// How much of a foreign string a one-line report shows, in characters.
pub const SHOWN_CHARS: usize = 300;

/// `s` with every control character, line break and bidirectional formatting character
/// written as a visible escape (`\n`, `\u{1b}`, …). Printable text, tabs excepted, is unchanged.
pub fn inert(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        push_inert(&mut out, c);
    }
    Cow::Owned(out)
}

/// [`inert`], and cut to [`SHOWN_CHARS`] characters with a note of how long it really was.
pub fn shown(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(SHOWN_CHARS) {
        None => inert(s),
        Some(_) => Cow::Owned(format!("{} ({} bytes in all)", prefix(s), s.len())),
    }
}

/// The start of `s` for a one-line report: at most [`SHOWN_CHARS`] characters, made inert, with
/// `…` where it was cut.
pub fn prefix(s: &str) -> String {
    match s.char_indices().nth(SHOWN_CHARS) {
        None => inert(s).into_owned(),
        Some((at, _)) => format!("{}…", inert(&s[..at])),
    }
}

/// Appends `c` to `out`, escaped if [`needs_escape`] says so.
pub fn push_inert(out: &mut String, c: char) {
    if !needs_escape(c) {
        out.push(c);
        return;
    }
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// C0 and C1 controls and DEL (tab aside), the line and paragraph separators, and the Unicode
/// bidirectional formatting characters (the "Trojan Source" set).
pub fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_made_visible() {
        let hostile = "ok\x1b]0;pwned\x07\x1b[2K\r\n0 failed\u{202e}gnp.exe\u{9b}";
        let safe = inert(hostile);
        assert!(!safe.chars().any(needs_escape), "{safe}");
        assert_eq!(
            safe,
            "ok\\u{1b}]0;pwned\\u{7}\\u{1b}[2K\\r\\n0 failed\\u{202e}gnp.exe\\u{9b}"
        );
        assert_eq!(shown(hostile), safe);
        // Control: ordinary text, Unicode included, is left exactly as it is.
        let plain = "Grüße, 東京 — “quoted”\tand tabbed";
        assert!(matches!(inert(plain), Cow::Borrowed(_)));
        assert!(matches!(shown(plain), Cow::Borrowed(_)));
        assert_eq!(inert(plain), plain);
    }

    #[test]
    fn shown_and_prefix_are_bounded() {
        let long = "x".repeat(40 << 20);
        let s = shown(&long);
        assert!(s.len() < SHOWN_CHARS + 40, "{}", s.len());
        assert!(s.ends_with("… (41943040 bytes in all)"), "{s}");
        assert_eq!(prefix(&long), format!("{}…", "x".repeat(SHOWN_CHARS)));
        // A cut never splits a character, and short text is untouched.
        let wide = "é".repeat(SHOWN_CHARS + 1);
        assert!(shown(&wide).starts_with(&"é".repeat(SHOWN_CHARS)));
        assert_eq!(shown("short"), "short");
        assert_eq!(prefix("a\nb"), "a\\nb");
    }
}
