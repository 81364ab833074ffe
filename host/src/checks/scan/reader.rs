//! The reader's normal form: text reduced to what a reader takes from it, so that two texts a
//! reader cannot tell apart scan the same. Invisible characters (Unicode's
//! Default_Ignorable_Code_Point: soft hyphen, zero-width spaces and joiners, word joiner, BOM,
//! variation selectors, the bidirectional controls and marks) are dropped; compatibility forms
//! are folded by NFKC (full-width and small `＠`, full-width letters, ligatures, composed and
//! decomposed accents alike); the ideographic full stops that IDNA reads as dots become `.`;
//! Markdown's inline delimiters (`*`, `` ` ``, `~`), which a reader of a text part reads past,
//! are dropped. Case is folded later, by the scan, as for every other pass.
//!
//! Bidirectional controls also change what a reader sees without being seen: [`display_order`]
//! gives the lines that hold any in the order they are displayed (the Unicode Bidirectional
//! Algorithm, UAX #9), so that an address written backwards inside a right-to-left override
//! is read the way it is shown.

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::OnceLock;

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_normalizer::properties::CanonicalCombiningClassMapBorrowed;
use icu_properties::props::DefaultIgnorableCodePoint;
use icu_properties::{CodePointSetData, CodePointSetDataBorrowed};
use unicode_bidi::{BidiClass, BidiDataSource, HardcodedBidiData};

/// Markdown's inline delimiters (emphasis, code spans, strikethrough): a reader of the source
/// reads past them. Not `_`, which CommonMark does not take for emphasis inside a word, and
/// which many addresses hold.
const MARKDOWN_DELIMITERS: [char; 3] = ['*', '`', '~'];

/// Unicode's Default_Ignorable_Code_Point, with the Basic Multilingual Plane also as a bitmap
/// (8 KiB, made once from the set): a look-up is a shift and a mask instead of a binary search
/// of the set's ranges, which cost a fifth of the scan of a text dense with non-ASCII.
struct Ignorable {
    bmp: Box<[u64; 1024]>,
    set: CodePointSetDataBorrowed<'static>,
}

impl Ignorable {
    fn contains(&self, c: char) -> bool {
        let c = c as u32;
        if c < 0x1_0000 {
            self.bmp[c as usize / 64] >> (c % 64) & 1 == 1
        } else {
            self.set.contains32(c)
        }
    }
}

fn ignorable() -> &'static Ignorable {
    static IGNORABLE: OnceLock<Ignorable> = OnceLock::new();
    IGNORABLE.get_or_init(|| {
        let set = CodePointSetData::new::<DefaultIgnorableCodePoint>();
        let mut bmp = Box::new([0u64; 1024]);
        for range in set.iter_ranges() {
            for c in range.filter(|c| *c < 0x1_0000) {
                bmp[c as usize / 64] |= 1 << (c % 64);
            }
        }
        Ignorable { bmp, set }
    })
}

/// Whether a reader's view drops `c`.
fn dropped(c: char, ignorable: &Ignorable) -> bool {
    if c.is_ascii() {
        MARKDOWN_DELIMITERS.contains(&c)
    } else {
        ignorable.contains(c)
    }
}

/// `text` in the reader's normal form; borrowed when that is `text` itself, as it is for
/// most ASCII text (so the scan can skip a pass that would find what the plain one found).
pub(super) fn reader_form(text: &str) -> Cow<'_, str> {
    if is_plain_ascii(text) {
        return Cow::Borrowed(text);
    }
    let set = ignorable();
    // One pass for the common case, text already in the normal form, a few distinct characters
    // each looked up once: none dropped, each one its own NFKC with no combining class (so the
    // whole text is NFKC), and no ideographic full stop.
    let plain = PlainChars::default();
    if text.chars().all(|c| plain.get(c, set)) {
        return Cow::Borrowed(text);
    }
    let kept = drop_chars(text, set);
    let composed = match nfkc(&kept) {
        Some(composed) => Cow::Owned(composed),
        None => kept,
    };
    // NFKC can make a dropped character (full-width `＊`, the halfwidth Hangul filler), and
    // dropping one can bring a mark next to a letter it composes with: one more round settles
    // both, since the output of NFKC holds no compatibility characters left to fold.
    let settled = if composed.chars().any(|c| dropped(c, set)) {
        let again: String = composed.chars().filter(|c| !dropped(*c, set)).collect();
        Cow::Owned(nfkc(&again).unwrap_or(again))
    } else {
        composed
    };
    if settled == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(settled.into_owned())
    }
}

/// ASCII without Markdown's delimiters: text the reader's normal form leaves as it is.
pub(super) fn is_plain_ascii(text: &str) -> bool {
    let [a, b, c] = MARKDOWN_DELIMITERS.map(|c| c as u8);
    text.is_ascii() && memchr::memchr3(a, b, c, text.as_bytes()).is_none()
}

/// Whether a character is one the normal form leaves as it is whatever surrounds it.
fn is_plain(c: char, set: &Ignorable) -> bool {
    let mut buf = [0; 4];
    !dropped(c, set)
        && c != '\u{3002}'
        && CanonicalCombiningClassMapBorrowed::new().get_u8(c) == 0
        && ComposingNormalizerBorrowed::new_nfkc().is_normalized(c.encode_utf8(&mut buf))
}

/// [`is_plain`] of the characters seen last, in front of the tables (as [`CachedClasses`]).
struct PlainChars {
    slots: [Cell<(char, bool)>; 256],
}

impl Default for PlainChars {
    fn default() -> PlainChars {
        // Slot i starts with U+00i: Latin-1, plain unless a delimiter or the soft hyphen.
        let set = ignorable();
        PlainChars {
            slots: std::array::from_fn(|i| {
                let c = char::from(i as u8);
                Cell::new((c, is_plain(c, set)))
            }),
        }
    }
}

impl PlainChars {
    fn get(&self, c: char, set: &Ignorable) -> bool {
        let slot = &self.slots[c as usize & 0xff];
        let (cached, plain) = slot.get();
        if cached == c {
            return plain;
        }
        let plain = is_plain(c, set);
        slot.set((c, plain));
        plain
    }
}

fn drop_chars<'a>(text: &'a str, set: &Ignorable) -> Cow<'a, str> {
    let Some(first) = text.char_indices().find(|(_, c)| dropped(*c, set)) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..first.0]);
    out.extend(text[first.0..].chars().filter(|c| !dropped(*c, set)));
    Cow::Owned(out)
}

/// NFKC (ICU4X's tables), then the ideographic full stop as `.` (NFKC maps the full-width and
/// small full stops to `.` and the halfwidth ideographic one to U+3002; UTS #46 reads all of
/// them as dots); `None` if that changes nothing.
fn nfkc(text: &str) -> Option<String> {
    let normal = ComposingNormalizerBorrowed::new_nfkc().normalize(text);
    if normal.contains('\u{3002}') {
        return Some(normal.replace('\u{3002}', "."));
    }
    match normal {
        Cow::Owned(normal) => Some(normal),
        Cow::Borrowed(_) => None,
    }
}

/// The explicit bidirectional formatting characters and marks (UAX #9, table 4 and section
/// 2.6): ALM, LRM, RLM, LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI. Without one, a line of
/// left-to-right letters shows in the order it is written, and right-to-left letters are read
/// in the order they are written.
const BIDI_CONTROLS: [std::ops::RangeInclusive<char>; 4] = [
    '\u{61c}'..='\u{61c}',
    '\u{200e}'..='\u{200f}',
    '\u{202a}'..='\u{202e}',
    '\u{2066}'..='\u{2069}',
];

fn is_bidi_control(c: char) -> bool {
    BIDI_CONTROLS.iter().any(|range| range.contains(&c))
}

/// Whether `text` holds a bidirectional control: every one starts with byte 0xD8 or 0xE2.
fn has_bidi_control(text: &str) -> bool {
    memchr::memchr2_iter(0xd8, 0xe2, text.as_bytes())
        .any(|i| text[i..].chars().next().is_some_and(is_bidi_control))
}

/// `text` in the order it is displayed, if any line of it holds a bidirectional control (lines
/// without one are copied as they are: the algorithm costs tens of nanoseconds a byte, and
/// only the controls make display order differ from reading order).
pub(super) fn display_order(text: &str) -> Option<String> {
    if !has_bidi_control(text) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let classes = CachedClasses::default();
    for line in text.split_inclusive('\n') {
        if !has_bidi_control(line) {
            out.push_str(line);
            continue;
        }
        // In UTF-16: the algorithm keeps a class and a level per code unit, and most
        // characters that change the order (the controls, Hebrew, Arabic) are one unit in
        // UTF-16 but two or three bytes in UTF-8.
        let units: Vec<u16> = line.encode_utf16().collect();
        let info = unicode_bidi::utf16::BidiInfo::new_with_data_source(&classes, &units, None);
        for paragraph in &info.paragraphs {
            let shown = info.reorder_line(paragraph, paragraph.range.clone());
            out.extend(char::decode_utf16(shown.iter().copied()).map(|c| c.unwrap_or('\u{fffd}')));
        }
    }
    Some(out)
}

/// The bidirectional classes of the characters seen last, in front of the crate's table (a
/// binary search per character): a text uses few distinct characters.
struct CachedClasses {
    slots: [Cell<(char, BidiClass)>; 256],
}

impl Default for CachedClasses {
    fn default() -> CachedClasses {
        // The slot of `c` starts with `c` itself, so no slot holds a wrong class.
        CachedClasses {
            slots: std::array::from_fn(|i| {
                let c = char::from(i as u8);
                Cell::new((c, HardcodedBidiData.bidi_class(c)))
            }),
        }
    }
}

impl BidiDataSource for CachedClasses {
    fn bidi_class(&self, c: char) -> BidiClass {
        let slot = &self.slots[c as usize & 0xff];
        let (cached, class) = slot.get();
        if cached == c {
            return class;
        }
        let class = HardcodedBidiData.bidi_class(c);
        slot.set((c, class));
        class
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_form_reads_as_a_reader_reads() {
        let cases = [
            ("r2\u{ad}@list.test", "r2@list.test"),
            (
                "r2\u{200b}@\u{200c}list\u{200d}.\u{2060}test\u{feff}",
                "r2@list.test",
            ),
            ("r2\u{fe0f}@list.test\u{e0001}", "r2@list.test"),
            (
                "r2\u{202e}@\u{202c}list\u{200f}.test\u{2067}\u{2069}",
                "r2@list.test",
            ),
            ("ｒ２＠ｌｉｓｔ．ｔｅｓｔ", "r2@list.test"),
            ("r2\u{fe6b}list\u{3002}test", "r2@list.test"),
            ("r2@list\u{ff61}test", "r2@list.test"),
            ("jose\u{301}@x.org", "jos\u{e9}@x.org"),
            ("r2*@*list.test `x` ~~y~~", "r2@list.test x y"),
            ("r2＊@＊list.test", "r2@list.test"),
            // Dropping a character brings a mark to its letter: composed as well.
            ("jose\u{ad}\u{301}@x.org", "jos\u{e9}@x.org"),
        ];
        for (text, form) in cases {
            assert_eq!(reader_form(text), form, "{text:?}");
            assert_eq!(reader_form(form), form, "{form:?}");
        }
        // Untouched text comes back borrowed: the scan skips it.
        for text in ["plain ascii r2@list.test", "josé@bücher.de"] {
            assert!(matches!(reader_form(text), Cow::Borrowed(_)), "{text}");
        }
        // `_` is kept: it is part of many addresses, and no emphasis inside a word.
        assert_eq!(reader_form("first_last@x.org"), "first_last@x.org");
    }

    #[test]
    fn a_plain_character_is_one_the_normal_form_keeps() {
        // Every text of one character, and each after `e`, that the fast path passes is its
        // own normal form by the full one.
        let set = ignorable();
        let plain = PlainChars::default();
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            if !plain.get(c, set) {
                continue;
            }
            for text in [c.to_string(), format!("e{c}"), format!("{c}\u{301}")] {
                let kept: String = text.chars().filter(|c| !dropped(*c, set)).collect();
                let full = nfkc(&kept).unwrap_or(kept);
                if text.chars().all(|c| plain.get(c, set)) {
                    assert_eq!(full, text, "U+{:04X}", c as u32);
                }
            }
        }
    }

    #[test]
    fn the_bitmap_is_the_set() {
        let ignorable = ignorable();
        let mut found = 0;
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            assert_eq!(
                ignorable.contains(c),
                ignorable.set.contains(c),
                "U+{:04X}",
                c as u32
            );
            found += usize::from(ignorable.contains(c));
        }
        // Control: the set is Unicode's (soft hyphen, ZWSP, BOM, the tag characters among them).
        assert!(found > 4000, "{found}");
        for c in ['\u{ad}', '\u{200b}', '\u{feff}', '\u{e0001}'] {
            assert!(ignorable.contains(c), "U+{:04X}", c as u32);
        }
        assert!(!ignorable.contains('a') && !ignorable.contains('\u{e9}'));
    }

    #[test]
    fn the_list_of_bidi_controls_is_unicodes() {
        use unicode_bidi::BidiClass::*;
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let class = unicode_bidi::bidi_class(c);
            let explicit = matches!(class, LRE | RLE | PDF | LRO | RLO | LRI | RLI | FSI | PDI);
            if explicit {
                assert!(is_bidi_control(c), "U+{:04X}", c as u32);
            }
            if is_bidi_control(c) {
                assert!(ignorable().contains(c), "U+{:04X}", c as u32);
                let mut buf = [0; 4];
                let first = c.encode_utf8(&mut buf).as_bytes()[0];
                assert!(first == 0xd8 || first == 0xe2, "U+{:04X}", c as u32);
            }
        }
    }

    #[test]
    fn display_order_reverses_what_an_override_reverses() {
        let shown = |text: &str| display_order(text).map(|shown| reader_form(&shown).into_owned());
        assert_eq!(
            shown("write to \u{202e}tset.tsil@2r\u{202c} today").as_deref(),
            Some("write to r2@list.test today")
        );
        assert_eq!(
            shown("a\n\u{2067}\u{202e}tset.tsil@2r\u{2069}\nb").as_deref(),
            Some("a\nr2@list.test\nb")
        );
        // A right-to-left mark in a right-to-left line turns the order of runs around.
        assert_eq!(
            shown("\u{2067}list.test\u{200f}@\u{200f}r2\u{2069}").as_deref(),
            Some("r2@list.test")
        );
        // Control: without a control there is no second view.
        assert_eq!(display_order("tset.tsil@2r"), None);
        assert_eq!(display_order("שלום r2@list.test"), None);
    }
}
