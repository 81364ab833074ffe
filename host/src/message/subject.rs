//! The Subject header: the renderer's subject, folded to short lines, its words of printable
//! ASCII as they are and everything else in RFC 2047 encoded-words, so that a reader decodes
//! exactly the subject the renderer returned.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::headers::{Folded, SHORT_LINE};

/// What precedes the subject's first word on its line.
const SUBJECT_NAME: &str = "Subject:";

/// A word of the subject longer than this cannot share the first line with `Subject: `, so it
/// is carried in encoded-words, which are cut to fit.
const PLAIN_WORD_MAX: usize = SHORT_LINE - SUBJECT_NAME.len() - 1;

const ENCODED_WORD_START: &str = "=?utf-8?b?";
const ENCODED_WORD_END: &str = "?=";

/// Octets of subject text per encoded-word: 42 octets are 56 base64 characters, so a whole
/// encoded-word is 68 characters and fits after `Subject: ` (and RFC 2047's 75) with room left.
const ENCODED_WORD_OCTETS: usize = 42;

/// The Subject header, folded so no line exceeds [`SHORT_LINE`], in one pass over the subject.
///
/// Words of printable ASCII stay as they are. Every other run of words (non-ASCII, a TAB,
/// over-long, containing `=?`, or next to a space that is leading, trailing or doubled, which
/// folding would lose) becomes RFC 2047 encoded-words of whole characters, so a reader decodes
/// exactly the subject the renderer returned. Neighbouring runs are separated by one space, and
/// one run holds all the spaces inside it, as adjacent encoded-words decode with no space
/// between them (RFC 2047 §6.2).
pub(super) fn write_subject(out: &mut Vec<u8>, subject: &str) {
    let mut line = Folded::new(SUBJECT_NAME);
    if !subject.is_empty() {
        // Byte spans of the words between single spaces; an empty word is a space too many.
        let mut words = subject
            .split(' ')
            .scan(0, |at, word| {
                let span = (*at, *at + word.len());
                *at = span.1 + 1;
                Some(span)
            })
            .peekable();
        let mut previous_empty = false;
        let mut encoded_run: Option<(usize, usize)> = None;
        while let Some((start, end)) = words.next() {
            let next_empty = words.peek().is_some_and(|&(s, e)| s == e);
            let plain = is_plain_word(&subject[start..end]) && !previous_empty && !next_empty;
            previous_empty = start == end;
            if plain {
                if let Some((run_start, run_end)) = encoded_run.take() {
                    write_encoded(&mut line, &subject[run_start..run_end]);
                }
                line.word(&subject[start..end]);
            } else {
                let run_start = encoded_run.map_or(start, |(s, _)| s);
                encoded_run = Some((run_start, end));
            }
        }
        if let Some((run_start, run_end)) = encoded_run {
            write_encoded(&mut line, &subject[run_start..run_end]);
        }
    }
    out.extend_from_slice(&line.into_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `text` (not empty) as encoded-words of at most [`ENCODED_WORD_OCTETS`] octets each.
fn write_encoded(line: &mut Folded, text: &str) {
    let mut word = String::with_capacity(SHORT_LINE);
    for piece in char_chunks(text, ENCODED_WORD_OCTETS) {
        word.clear();
        word.push_str(ENCODED_WORD_START);
        BASE64.encode_string(piece, &mut word);
        word.push_str(ENCODED_WORD_END);
        line.word(&word);
    }
}

/// A word a reader sees as written: printable ASCII, short enough for any line, and nothing a
/// decoder could take for the start of an encoded-word.
fn is_plain_word(word: &str) -> bool {
    !word.is_empty()
        && word.len() <= PLAIN_WORD_MAX
        && word.bytes().all(|b| b.is_ascii_graphic())
        && !word.contains("=?")
}

/// `text` cut into pieces of at most `max` octets (`max` ≥ 4), never inside a character.
fn char_chunks(mut text: &str, max: usize) -> impl Iterator<Item = &str> {
    std::iter::from_fn(move || {
        if text.is_empty() {
            return None;
        }
        let mut end = text.len().min(max);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, rest) = text.split_at(end);
        text = rest;
        Some(piece)
    })
}
