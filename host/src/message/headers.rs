//! The one header folder: a field written word by word, folded (CRLF and a space) before a word
//! that would take its line past [`SHORT_LINE`] octets. The builder's Subject and DKIM's
//! DKIM-Signature are both written with it, so every header line isomail makes keeps one limit.

/// RFC 5322 §2.1.1: a line SHOULD NOT exceed 78 octets. Header lines made here, and 7bit bodies,
/// keep to it.
pub(super) const SHORT_LINE: usize = 78;

/// A header field being written, its name first; [`Folded::into_bytes`] gives it without a
/// final CRLF.
pub(super) struct Folded {
    text: Vec<u8>,
    column: usize,
}

impl Folded {
    pub(super) fn new(name: &str) -> Folded {
        Folded {
            text: name.as_bytes().to_vec(),
            column: name.len(),
        }
    }

    /// The field so far.
    pub(super) fn text(&self) -> &[u8] {
        &self.text
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.text
    }

    fn fold(&mut self) {
        self.text.extend_from_slice(b"\r\n ");
        self.column = 1;
    }

    /// A word after a space, or on the next line if it does not fit.
    pub(super) fn word(&mut self, word: &str) {
        if self.column + 1 + word.len() > SHORT_LINE {
            self.fold();
        } else {
            self.text.push(b' ');
            self.column += 1;
        }
        self.push(word);
    }

    /// Text joined without a space, or after a fold if it does not fit (where the syntax allows
    /// folding whitespace, as between the names of DKIM's `h=`).
    pub(super) fn glued(&mut self, text: &str) {
        if self.column + text.len() > SHORT_LINE {
            self.fold();
        }
        self.push(text);
    }

    /// A word at the start of a line of its own.
    pub(super) fn line(&mut self, word: &str) {
        self.fold();
        self.push(word);
    }

    /// Base64 filling each line, which its syntax allows to break anywhere.
    pub(super) fn base64(&mut self, encoded: &str) {
        let mut rest = encoded;
        while !rest.is_empty() {
            if self.column >= SHORT_LINE {
                self.fold();
            }
            // Base64 is ASCII, so any byte index is a char boundary.
            let (piece, next) = rest.split_at((SHORT_LINE - self.column).min(rest.len()));
            self.push(piece);
            rest = next;
        }
    }

    fn push(&mut self, text: &str) {
        self.text.extend_from_slice(text.as_bytes());
        self.column += text.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_lines_stay_short_and_break_only_between_words_or_in_base64() {
        let mut header = Folded::new("DKIM-Signature:");
        for _ in 0..20 {
            header.word("abcdefghij;");
        }
        header.line("b=");
        header.base64(&"Q".repeat(400));
        let text = String::from_utf8(header.into_bytes()).expect("ascii");
        for line in text.split("\r\n") {
            assert!(line.len() <= SHORT_LINE, "{line:?}");
        }
        assert_eq!(
            text.replace("\r\n ", " ").matches("abcdefghij;").count(),
            20
        );
        let b = text.split("b=").nth(1).expect("b=");
        assert_eq!(b.replace("\r\n ", ""), "Q".repeat(400));
    }
}
