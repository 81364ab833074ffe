//! Text as a reader's mail client shows it: URL encoding undone, HTML character references
//! read by the WHATWG rules, and a subject's RFC 2047 encoded-words decoded (quoted-printable
//! or base64, in any charset `mail-parser` knows). Each returns the text unchanged, borrowed
//! or `None`, when there is nothing to decode, so the scan can skip a second pass.

use std::borrow::Cow;

/// `%XX` escapes undone (invalid ones stay as they are); borrowed if there were none.
pub(super) fn url_decode(text: &str) -> Cow<'_, str> {
    // As `percent_encoding::percent_decode_str(text).decode_utf8_lossy()`, a third as costly.
    let bytes = text.as_bytes();
    let hex = |i: usize| bytes.get(i).and_then(|b| char::from(*b).to_digit(16));
    let mut out = Vec::new();
    let mut copied = 0;
    // An escape's hex digits are no `%`, so the next `%` is past it.
    for i in memchr::memchr_iter(b'%', bytes) {
        let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2)) else {
            continue;
        };
        out.extend_from_slice(&bytes[copied..i]);
        out.push((high << 4 | low) as u8);
        copied = i + 3;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.extend_from_slice(&bytes[copied..]);
    Cow::Owned(match String::from_utf8(out) {
        Ok(decoded) => decoded,
        Err(invalid) => String::from_utf8_lossy(invalid.as_bytes()).into_owned(),
    })
}

/// HTML character references undone as a browser does in text (WHATWG: numeric ones with any
/// number of leading zeros, with or without `;`, and every named one); borrowed if none.
pub(super) fn html_decode(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    htmlize::unescape(text)
}

/// The subject as a mail client shows it, if it has RFC 2047 encoded-words: each decoded by
/// `mail-parser`, and the white space between two adjacent ones dropped (RFC 2047 section 6.2).
///
/// The decoder is given one word at a time, cut off at the next `=?`: a well-formed word holds
/// no `=?` but its own (and the `=?=` of base64 padding just before its end, kept by cutting
/// three bytes later). Given the whole subject, the decoder rescans it from every `=?` that fails
/// (quadratic: 128 KiB of `=?ab?q?x` took 1.4 s).
pub(super) fn decode_encoded_words(subject: &str) -> Option<String> {
    let starts: Vec<usize> = subject.match_indices("=?").map(|(i, _)| i).collect();
    let bytes = subject.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut last_word_end = None;
    for (k, &start) in starts.iter().enumerate() {
        if start < copied {
            continue;
        }
        let limit = starts
            .get(k + 1)
            .map_or(bytes.len(), |next| (next + 3).min(bytes.len()));
        // The decoder expects to be just past the `=`.
        let mut word = mail_parser::parsers::MessageStream::new(&bytes[start + 1..limit]);
        let Some(decoded) = word.decode_rfc2047() else {
            continue;
        };
        let gap = &subject[copied..start];
        let between_words = last_word_end == Some(copied)
            && gap
                .bytes()
                .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
        if !between_words {
            out.push_str(gap);
        }
        out.push_str(&decoded);
        copied = start + 1 + word.offset();
        last_word_end = Some(copied);
    }
    last_word_end?;
    out.push_str(&subject[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders() {
        assert_eq!(url_decode("a%40b%2Ec%zz%4"), "a@b.c%zz%4");
        assert_eq!(
            html_decode("a&#64;b&#x2e;c &amp; &bogus; &"),
            "a@b.c & &bogus; &"
        );
        // WHATWG rules: no `;`, any leading zeros, C1 numbers as Windows-1252, legacy names
        // without `;`, NUL and out-of-range numbers as U+FFFD.
        assert_eq!(
            html_decode("&#64x &#x000000040; &#00000000064; &#147;q&#148; &amp &nbsp;"),
            "@x @ @ \u{201c}q\u{201d} & \u{a0}"
        );
        assert_eq!(
            html_decode("&#0; &#x110000; &eacute;"),
            "\u{fffd} \u{fffd} é"
        );
        assert_eq!(
            decode_encoded_words("Re: =?utf-8?q?a=40b?= =?UTF-8?B?w6k=?= x =?bogus"),
            Some("Re: a@bé x =?bogus".to_string())
        );
        assert_eq!(decode_encoded_words("no words =? here ?="), None);
    }

    #[test]
    fn url_decoding_is_percent_encodings() {
        for text in [
            "",
            "%",
            "%%41",
            "%4",
            "%4g%41%",
            "a%C3%A9b",
            "%C3",
            "%ff%FE",
            "é%40ü%2",
            "%e2%80%ae",
        ] {
            let expected = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
            let decoded = url_decode(text);
            assert_eq!(decoded, expected, "{text:?}");
            assert_eq!(
                matches!(decoded, Cow::Borrowed(_)),
                decoded == text,
                "{text:?}"
            );
        }
    }
}
