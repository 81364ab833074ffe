//! Which characters a reader takes as part of an address or a word, and which end one: RFC
//! 5322's atext and a domain's letters, digits and dashes for ASCII (from one table), letters,
//! digits and combining marks of any script beyond it. Also where characters start and end.

/// The character that ends at byte `i` of `text`.
#[inline]
pub(super) fn char_before(text: &str, i: usize) -> Option<char> {
    match text.as_bytes().get(i.wrapping_sub(1)) {
        Some(b) if b.is_ascii() => Some(char::from(*b)),
        _ => text[..i].chars().next_back(),
    }
}

/// The last character boundary at or before byte `i` of `text`.
pub(super) fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Letters and digits of any script, and the combining marks that attach to them: what a
/// reader takes as part of a word.
fn is_alnum(c: char) -> bool {
    c.is_alphanumeric() || COMBINING_MARKS.iter().any(|range| range.contains(&c))
}

/// The combining-mark blocks: diacritics, extended, supplement, for symbols, half marks.
const COMBINING_MARKS: [std::ops::RangeInclusive<char>; 5] = [
    '\u{300}'..='\u{36f}',
    '\u{1ab0}'..='\u{1aff}',
    '\u{1dc0}'..='\u{1dff}',
    '\u{20d0}'..='\u{20ff}',
    '\u{fe20}'..='\u{fe2f}',
];

/// ASCII classes, one bit each, for the characters looked at most.
const ATEXT: u8 = 1;
const LOCAL: u8 = 2;
const DOMAIN: u8 = 4;
const ASCII_CLASS: [u8; 128] = {
    let mut table = [0; 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() {
            table[c] = ATEXT | LOCAL | DOMAIN;
        }
        c += 1;
    }
    let specials = b"!#$%&'*+-/=?^_`{|}~.";
    let mut i = 0;
    while i < specials.len() {
        table[specials[i] as usize] |= ATEXT;
        i += 1;
    }
    let local = b"._+-";
    let mut i = 0;
    while i < local.len() {
        table[local[i] as usize] |= LOCAL;
        i += 1;
    }
    table[b'-' as usize] |= DOMAIN;
    table
};

fn class(c: char, class: u8) -> bool {
    if c.is_ascii() {
        ASCII_CLASS[c as usize] & class != 0
    } else {
        is_alnum(c)
    }
}

/// Characters RFC 5322 allows in an unquoted local part (with RFC 6531's non-ASCII letters
/// and digits; non-ASCII punctuation, spaces and symbols end an address).
pub(super) fn is_atext(c: char) -> bool {
    class(c, ATEXT)
}

/// Characters that extend an address to the left. Deliberately narrower than RFC 5322's atext:
/// `=`, `'`, `/` and friends far more often delimit an address (`?to=ann@x.org`, `'ann@x.org'`)
/// than belong to one, and erring this way can only flag more, never hide a leak.
pub(super) fn is_local_char(c: char) -> bool {
    class(c, LOCAL)
}

pub(super) fn is_domain_char(c: char) -> bool {
    class(c, DOMAIN)
}

/// Whether `b` is an ASCII byte no domain starts with (a non-ASCII byte may begin a letter of
/// any script): most `@`s in a hostile text are followed by one.
#[inline]
pub(super) fn cannot_start_domain(b: u8) -> bool {
    b.is_ascii() && ASCII_CLASS[usize::from(b)] & DOMAIN == 0
}

fn is_word_char(c: char) -> bool {
    c == '_' || is_alnum(c)
}

/// A private value counts as a whole word: `AC-12` is not found inside `AC-123`, but is next to
/// a quote, a dash or a space of any script.
pub(super) fn whole_word(text: &str, start: usize, end: usize) -> bool {
    let first = text[start..].chars().next().is_some_and(is_word_char);
    let last = text[..end].chars().next_back().is_some_and(is_word_char);
    let before = text[..start].chars().next_back().is_some_and(is_word_char);
    let after = text[end..].chars().next().is_some_and(is_word_char);
    let joined_left = first && before;
    let joined_right = last && after;
    !joined_left && !joined_right
}
