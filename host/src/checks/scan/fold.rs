//! Case folding, the two ways the scan needs it: addresses lower-cased a character at a time
//! (as the list holds them), and private values folded by Unicode so that `ß`, `ẞ` and `SS`
//! meet. [`Folded`] keeps the way back from a folded text to the original's byte offsets.

use super::class::floor_char_boundary;

/// The UTF-8 of `c` lower-cased, as addresses are compared (the list holds them lower-cased).
/// A final sigma counts as a sigma: the list was lower-cased a word at a time, the text one
/// character at a time.
#[inline]
pub(super) fn fold_address_char(c: char, buf: &mut [u8; 12]) -> &[u8] {
    if c.is_ascii() {
        buf[0] = c.to_ascii_lowercase() as u8;
        return &buf[..1];
    }
    let mut len = 0;
    for lower in c.to_lowercase() {
        let lower = if lower == 'ς' { 'σ' } else { lower };
        len += lower.encode_utf8(&mut buf[len..]).len();
    }
    &buf[..len]
}

/// `text` lower-cased as [`fold_address_char`] does each character.
pub(super) fn fold_address(text: &str, out: &mut String) {
    out.clear();
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase().map(|c| if c == 'ς' { 'σ' } else { c }));
        }
    }
}

/// Unicode case folding for private values: the lower case of the upper case, so `ß`, `ẞ` and
/// `SS` meet at `ss`, and `ς`, `σ` and `Σ` at `σ`.
fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    // Outside Turkish, a reader takes `İ` for an `I`, as it takes `ı` (whose upper case is `I`).
    if c == 'İ' {
        out.push('i');
        return;
    }
    for lower in c.to_uppercase().flat_map(char::to_lowercase) {
        if lower.is_ascii() {
            out.push(lower);
        } else {
            // A second round folds what the first one left unfolded: `ẞ` lower-cases to `ß`,
            // whose upper case is `SS`.
            out.extend(lower.to_uppercase().flat_map(char::to_lowercase));
        }
    }
}

/// `value` folded as [`fold_char`] does each character.
pub(super) fn fold_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        fold_char(c, &mut out);
    }
    out
}

/// A non-ASCII text case-folded, with a way back to the original's byte offsets (folding can
/// change a character's length: `ẞ` is three bytes, `ss` two; `İ` two, `i` one).
pub(super) struct Folded {
    pub(super) text: String,
    /// For each byte of `text`, where the character it came from starts in the original; only
    /// kept when some character changed length (otherwise offsets are the same).
    origin: Option<Vec<usize>>,
}

impl Folded {
    pub(super) fn new(original: &str) -> Folded {
        let mut text = String::with_capacity(original.len());
        let mut origin: Option<Vec<usize>> = None;
        let mut cache = FoldCache::new();
        let bytes = original.as_bytes();
        let mut i = 0;
        while i < original.len() {
            // A run of ASCII is lower-cased as one copy, and keeps its length.
            let run = bytes[i..]
                .iter()
                .position(|b| !b.is_ascii())
                .unwrap_or(bytes.len() - i);
            if run > 0 {
                let at = text.len();
                text.push_str(&original[i..i + run]);
                text[at..].make_ascii_lowercase();
                if let Some(origin) = &mut origin {
                    origin.extend(i..i + run);
                }
                i += run;
                continue;
            }
            let Some(c) = original[i..].chars().next() else {
                break;
            };
            cache.fold(c, &mut text);
            match &mut origin {
                Some(origin) => origin.resize(text.len(), i),
                None if text.len() != i + c.len_utf8() => {
                    let mut map: Vec<usize> = Vec::with_capacity(original.len() + 16);
                    for (j, d) in original[..i].char_indices() {
                        map.extend(std::iter::repeat_n(j, d.len_utf8()));
                    }
                    map.resize(text.len(), i);
                    origin = Some(map);
                }
                None => {}
            }
            i += c.len_utf8();
        }
        Folded { text, origin }
    }

    /// The original span of the characters that folded into `text[start..end]`.
    pub(super) fn original(&self, original: &str, start: usize, end: usize) -> (usize, usize) {
        let (start, last) = match &self.origin {
            Some(origin) => (origin[start], origin[end - 1]),
            None => (
                floor_char_boundary(original, start),
                floor_char_boundary(original, end - 1),
            ),
        };
        let end = last + original[last..].chars().next().map_or(0, char::len_utf8);
        (start, end)
    }
}

/// The folds of the non-ASCII characters seen last: a text uses few distinct ones, and each
/// fold costs several look-ups in the Unicode case tables.
struct FoldCache {
    /// (character, how many characters its fold is, the fold).
    slots: [(char, u8, [char; 4]); 256],
}

impl FoldCache {
    fn new() -> FoldCache {
        // NUL is ASCII, so it never reaches the cache: an empty slot never matches.
        FoldCache {
            slots: [('\0', 0, ['\0'; 4]); 256],
        }
    }

    fn fold(&mut self, c: char, out: &mut String) {
        let slot = &mut self.slots[c as usize & 0xff];
        if slot.0 == c {
            out.extend(&slot.2[..usize::from(slot.1)]);
            return;
        }
        let before = out.len();
        fold_char(c, out);
        let mut folded = ['\0'; 4];
        let mut len = 0;
        for d in out[before..].chars() {
            if len == folded.len() {
                return; // too long to keep: folded again next time
            }
            folded[len] = d;
            len += 1;
        }
        *slot = (c, len as u8, folded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_folds_are_idempotent() {
        // Text and list are folded once each, so folding a fold must change nothing, or the
        // two sides would not meet.
        let mut once = String::new();
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            once.clear();
            fold_char(c, &mut once);
            assert_eq!(fold_value(&once), once, "U+{:04X}", c as u32);
            let mut buf = [0; 12];
            let lower = std::str::from_utf8(fold_address_char(c, &mut buf))
                .expect("utf-8")
                .to_string();
            let mut again = String::new();
            fold_address(&lower, &mut again);
            assert_eq!(again, lower, "U+{:04X}", c as u32);
        }
    }
}
