//! The shape of one mail from the bounce mailbox, checked before mail-parser builds its tree,
//! and the tree walked without recursion.
//!
//! mail-parser nests a `message/rfc822` part inside a multipart without a depth limit, and
//! its tree is freed recursively: a report nested 75,000 deep overflowed the stack. Every
//! level of a nested tree needs a multipart with a boundary, so at least one `Content-Type`
//! field; counting those (and the line starts that can open a part, `--`) bounds the depth and
//! the number of parts before anything is built, in one pass over the bytes.

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

/// More `Content-Type` lines than a report has (a DSN has 3 to 5, a forwarded one twice that).
const MAX_CONTENT_TYPES: usize = 256;
/// More lines that start with `--` than a report has (boundaries, signatures, rules).
const MAX_DASH_LINES: usize = 20_000;
/// How deep the walk goes into nested messages (the counts above already bound it).
pub const MAX_DEPTH: usize = 32;

/// Why a mail is not given to mail-parser, or `None` when its shape is one a report can have.
/// Both counts are of the text anywhere (a superset of what mail-parser could take for a
/// header or a boundary, whatever the line endings), each in one pass.
pub fn refused_shape(bytes: &[u8]) -> Option<String> {
    static CONTENT_TYPE: std::sync::LazyLock<aho_corasick::AhoCorasick> =
        std::sync::LazyLock::new(|| {
            aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(["content-type"])
                .expect("one literal pattern")
        });
    let content_types = CONTENT_TYPE
        .find_iter(bytes)
        .take(MAX_CONTENT_TYPES + 1)
        .count();
    if content_types > MAX_CONTENT_TYPES {
        return Some(format!(
            "more than {MAX_CONTENT_TYPES} MIME parts with a Content-Type (no report has that many)"
        ));
    }
    let dashes = memchr::memmem::find_iter(bytes, b"\n--")
        .take(MAX_DASH_LINES + 1)
        .count();
    if dashes > MAX_DASH_LINES {
        return Some(format!(
            "more than {MAX_DASH_LINES} lines that could open a MIME part"
        ));
    }
    None
}

/// Every message of the tree, the outermost first, then each nested `message/rfc822` in the
/// order they appear, at most [`MAX_DEPTH`] levels down.
pub fn messages<'m, 'x>(top: &'m Message<'x>) -> Vec<&'m Message<'x>> {
    let mut out = vec![top];
    let mut queue = vec![(top, 0usize)];
    let mut next = 0;
    while let Some(&(message, depth)) = queue.get(next) {
        next += 1;
        if depth >= MAX_DEPTH {
            continue;
        }
        for part in &message.parts {
            if let PartType::Message(inner) = &part.body {
                out.push(inner);
                queue.push((inner, depth + 1));
            }
        }
    }
    out
}

/// Whether `part`'s type is `ctype/subtype` for one of `subtypes` (`ctype` `None`: any type).
pub fn is(part: &MessagePart<'_>, ctype: Option<&str>, subtypes: &[&str]) -> bool {
    part.content_type().is_some_and(|ct| {
        ctype.is_none_or(|t| ct.ctype().eq_ignore_ascii_case(t))
            && ct
                .subtype()
                .is_some_and(|s| subtypes.iter().any(|t| s.eq_ignore_ascii_case(t)))
    })
}

/// The first part of any message in `tree` whose type is one of `subtypes` of `ctype`.
pub fn find_part<'m, 'x>(
    tree: &[&'m Message<'x>],
    ctype: Option<&str>,
    subtypes: &[&str],
) -> Option<&'m MessagePart<'x>> {
    tree.iter()
        .flat_map(|m| m.parts.iter())
        .find(|part| is(part, ctype, subtypes))
}

/// A part's bytes as sent (decoded from its transfer encoding); a nested message's raw bytes.
pub fn body_bytes<'a>(part: &'a MessagePart<'_>) -> &'a [u8] {
    match &part.body {
        PartType::Message(inner) => inner.raw_message(),
        _ => part.contents(),
    }
}

/// The blocks of a header-field body (`message/delivery-status`, `message/feedback-report`):
/// the runs of lines between empty lines, found in one pass, at most `max` of them.
pub fn field_blocks(body: &[u8], max: usize) -> Vec<&[u8]> {
    let mut blocks = Vec::new();
    let (mut start, mut at) = (0usize, 0usize);
    while at < body.len() && blocks.len() < max {
        let end = memchr::memchr(b'\n', &body[at..]).map_or(body.len(), |i| at + i + 1);
        let line = &body[at..end];
        if line.iter().all(u8::is_ascii_whitespace) {
            if body[start..at].iter().any(|b| !b.is_ascii_whitespace()) {
                blocks.push(&body[start..at]);
            }
            start = end;
        }
        at = end;
    }
    if blocks.len() < max
        && body[start.min(body.len())..]
            .iter()
            .any(|b| !b.is_ascii_whitespace())
    {
        blocks.push(&body[start.min(body.len())..]);
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_split_at_empty_lines_of_either_ending() {
        let body = b"A: 1\r\nB: 2\r\n\r\nC: 3\n\n\n  \nD: 4\nE: 5";
        let blocks = field_blocks(body, 10);
        assert_eq!(
            blocks,
            vec![&b"A: 1\r\nB: 2\r\n"[..], b"C: 3\n", b"D: 4\nE: 5"]
        );
        assert_eq!(field_blocks(body, 2).len(), 2, "the cap holds");
        assert!(field_blocks(b"\n\n  \r\n", 10).is_empty());
    }

    #[test]
    fn a_nested_report_is_refused_before_it_is_parsed_and_an_ordinary_one_is_not() {
        let mut deep = Vec::new();
        for i in 0..300 {
            deep.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\nContent-Type: message/rfc822\n\n")
                    .as_bytes(),
            );
        }
        assert!(refused_shape(&deep).is_some());
        // Control: a DSN's handful of parts passes.
        let dsn = b"Content-Type: multipart/report; boundary=x\n\n--x\nContent-Type: text/plain\n\nhi\n--x\n\
                    Content-Type: message/delivery-status\n\nAction: failed\n--x--\n";
        assert_eq!(refused_shape(dsn), None);
    }
}
