//! The cross-recipient leak scanner, run over each message's decoded content in time linear in
//! its size: every `@` is expanded to the whole addresses it can be part of (at most as long as
//! the list's longest local part and domain) and looked up among all recipients' by a rolling
//! hash, and one Aho-Corasick automaton finds the values of `private` fields.
//!
//! Content is scanned as the renderer returned it, and again as a reader's mail client shows it:
//! URL encoding (`%40`) and HTML character references (`&#64`, `&commat;`, by the WHATWG rules)
//! undone, and RFC 2047 encoded-words in the subject decoded. Boundaries are the ones a reader
//! sees: letters and digits of any script belong to an address or a word; punctuation, quotes,
//! dashes, spaces and symbols of any script end it. Case is folded by Unicode. A match counts
//! only if the recipient it belongs to is not the message's own.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

/// Private values shorter than this are not scanned: a two-character value matches everywhere.
pub const MIN_PRIVATE_LEN: usize = 4;

/// A private value's field and every recipient (1-based, ascending) who has it.
#[derive(Debug, Clone)]
struct Owner {
    field: u16,
    owners: Vec<u32>,
}

/// The way a leaked value was written in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Plain,
    Mailto,
    UrlEncoded,
    HtmlEntity,
    EncodedWord,
}

impl std::fmt::Display for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Form::Plain => "plain",
            Form::Mailto => "in a mailto: link",
            Form::UrlEncoded => "URL-encoded",
            Form::HtmlEntity => "as HTML character references",
            Form::EncodedWord => "in an RFC 2047 encoded-word",
        })
    }
}

/// One piece of another recipient's data in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leak {
    /// Recipient `whose` (1-based index) address.
    Address { whose: usize, form: Form },
    /// A value of private field `field` that belongs to `whose` (1-based indices) and not to
    /// the message's recipient. The value itself is never reported.
    Private {
        field: String,
        whose: Vec<usize>,
        form: Form,
    },
}

/// Built once per campaign, shared by every render thread.
pub struct Scanner {
    hash: Rolling,
    /// Every recipient's lower-cased address, by rolling hash.
    addresses: AddressBook,
    /// Rolling hashes of every `@domain` in the list: an `@` followed by any other domain
    /// needs no look-up at all.
    domains: HashSet<u64, BuildHasherDefault<Spread>>,
    /// The longest lower-cased local part and domain in the list, in bytes: no candidate
    /// longer than these can be anyone's address (RFC 5321 allows 64 and 255).
    max_local: usize,
    max_domain: usize,
    /// Private values, if the campaign names private fields.
    private: Option<AhoCorasick>,
    owners: Vec<Owner>,
    private_fields: Vec<String>,
}

impl Scanner {
    /// `addresses[i]` is recipient i+1's address; `private` holds, per private field name, the
    /// (value, recipient index) pairs of the list.
    pub fn new(
        addresses: &[String],
        private: &[(String, Vec<(String, u32)>)],
    ) -> Result<Scanner, String> {
        let hash = Rolling::new();
        let mut scanner = Scanner {
            hash,
            addresses: AddressBook::with_capacity(addresses.len()),
            domains: HashSet::default(),
            max_local: 0,
            max_domain: 0,
            private: None,
            owners: Vec::new(),
            private_fields: Vec::new(),
        };
        let mut folded = String::new();
        for (i, address) in addresses.iter().enumerate() {
            let whose = i as u32 + 1;
            let at = address.rfind('@').unwrap_or(0);
            let (mut h, mut local, mut domain) = (0, 0, 0);
            for c in address[at..].chars().rev() {
                let mut buf = [0; 12];
                let folded = fold_address_char(c, &mut buf);
                domain += folded.len();
                h = hash.prepend(h, folded);
            }
            scanner.domains.insert(h);
            for c in address[..at].chars().rev() {
                let mut buf = [0; 12];
                let folded = fold_address_char(c, &mut buf);
                local += folded.len();
                h = hash.prepend(h, folded);
            }
            scanner.max_local = scanner.max_local.max(local);
            scanner.max_domain = scanner.max_domain.max(domain.saturating_sub(1));
            fold_address(address, &mut folded);
            scanner.addresses.insert(h, whose, &folded);
        }

        let mut patterns: Vec<String> = Vec::new();
        for (field_no, (field, values)) in private.iter().enumerate() {
            scanner.private_fields.push(field.clone());
            let mut by_value: HashMap<String, Vec<u32>> = HashMap::new();
            for (value, owner) in values {
                let value = fold_value(value.trim());
                if value.chars().count() >= MIN_PRIVATE_LEN {
                    by_value.entry(value).or_default().push(*owner);
                }
            }
            let mut by_value: Vec<_> = by_value.into_iter().collect();
            by_value.sort();
            for (value, mut owners_of_value) in by_value {
                owners_of_value.sort_unstable();
                patterns.push(value);
                scanner.owners.push(Owner {
                    field: field_no as u16,
                    owners: owners_of_value,
                });
            }
        }
        if !patterns.is_empty() {
            // Patterns are case-folded; so is non-ASCII text before the search, and ASCII
            // text is matched ignoring ASCII case, which is the same fold.
            let automaton = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(&patterns)
                .map_err(|e| format!("cannot build the leak scanner: {e}"))?;
            scanner.private = Some(automaton);
        }
        Ok(scanner)
    }

    /// Everything in a message (its `subject` and `bodies`) that belongs to a recipient other
    /// than `own` (1-based index).
    pub fn scan(&self, own: usize, subject: &str, bodies: &[&str]) -> Vec<Leak> {
        let mut found = Found::default();
        for text in std::iter::once(subject).chain(bodies.iter().copied()) {
            self.scan_text(own, text, Form::Plain, &mut found);
        }
        // Mail clients decode encoded-words in headers only, so only the subject is decoded.
        if let Some(decoded) = decode_encoded_words(subject) {
            self.scan_text(own, &decoded, Form::EncodedWord, &mut found);
        }
        found.leaks
    }

    /// `text` as written, then with URL encoding and HTML references undone.
    fn scan_text(&self, own: usize, text: &str, form: Form, found: &mut Found) {
        self.scan_one(own, text, form, found);
        if let Cow::Owned(decoded) = url_decode(text) {
            self.scan_one(own, &decoded, Form::UrlEncoded, found);
        }
        if let Cow::Owned(decoded) = html_decode(text) {
            self.scan_one(own, &decoded, Form::HtmlEntity, found);
            if let Cow::Owned(decoded) = url_decode(&decoded) {
                self.scan_one(own, &decoded, Form::UrlEncoded, found);
            }
        }
    }

    fn scan_one(&self, own: usize, text: &str, form: Form, found: &mut Found) {
        for at in memchr::memchr_iter(b'@', text.as_bytes()) {
            self.scan_at(own, text, at, form, found);
        }
        self.scan_private(own, text, form, found);
    }

    /// The address written around the `@` at `at`, if it is another recipient's. The domain
    /// runs as far as it can; the local part may start at the beginning of the run of address
    /// characters before the `@`, or just after any delimiter-like character inside it (`=`,
    /// `/`, `'`, …), which is where a surrounding text usually puts an address. The longest
    /// known address is the one written: `b@x.org` inside `a=b@x.org` is part of a's address.
    fn scan_at(&self, own: usize, text: &str, at: usize, form: Form, found: &mut Found) {
        let Some((end, mut h)) = self.domain_at(text, at) else {
            return;
        };
        if !self.domains.contains(&h) {
            return;
        }
        let mut buf = [0; 12];
        // Walk left from the `@`, extending the hash one character at a time: each local part
        // costs one look-up, not a hash over its whole length.
        found.candidates.clear();
        let (mut start, mut local) = (at, 0);
        loop {
            let before = char_before(text, start).filter(|c| is_atext(*c));
            let may_start = start < at && before.is_none_or(|c| !is_local_char(c));
            if may_start && self.addresses.contains(h) {
                found.candidates.push((start, h));
            }
            let Some(c) = before else { break };
            let folded = fold_address_char(c, &mut buf);
            local += folded.len();
            if local > self.max_local {
                break;
            }
            h = self.hash.prepend(h, folded);
            start -= c.len_utf8();
        }
        let Found {
            candidates, whose, ..
        } = found;
        let written = candidates.iter().rev().find(|(start, h)| {
            whose.clear();
            whose.extend(self.addresses.with(*h, &text[*start..end]));
            !whose.is_empty()
        });
        let Some(&(start, _)) = written else {
            return;
        };
        if whose.contains(&(own as u32)) {
            return;
        }
        let form = if form == Form::Plain && preceded_by_mailto(text.as_bytes(), start) {
            Form::Mailto
        } else {
            form
        };
        for whose in &found.whose {
            if first_time(&mut found.seen_addresses, *whose as usize) {
                found.leaks.push(Leak::Address {
                    whose: *whose as usize,
                    form,
                });
            }
        }
    }

    /// Where the domain after the `@` at `at` ends, and the hash of `@domain`, if the domain is
    /// no longer than the list's longest.
    fn domain_at(&self, text: &str, at: usize) -> Option<(usize, u64)> {
        // Most `@`s in a hostile text are followed by something no domain starts with.
        let next = *text.as_bytes().get(at + 1)?;
        if next.is_ascii() && ASCII_CLASS[usize::from(next)] & DOMAIN == 0 {
            return None;
        }
        let mut end = at + 1;
        let mut hash = self.hash.forward(b"@");
        let mut buf = [0; 12];
        let mut chars = text[end..].chars().peekable();
        while let Some(c) = chars.next() {
            let in_domain = is_domain_char(c)
                || (c == '.' && chars.peek().is_some_and(|next| is_domain_char(*next)));
            if !in_domain {
                break;
            }
            hash.append(fold_address_char(c, &mut buf));
            if hash.len > self.max_domain + 1 {
                return None;
            }
            end += c.len_utf8();
        }
        (end > at + 1).then_some((end, hash.h))
    }

    fn scan_private(&self, own: usize, text: &str, form: Form, found: &mut Found) {
        let Some(private) = &self.private else { return };
        if text.is_ascii() {
            for m in private.find_overlapping_iter(text) {
                self.private_match(
                    own,
                    text,
                    (m.start(), m.end()),
                    m.pattern().as_usize(),
                    form,
                    found,
                );
            }
            return;
        }
        let folded = Folded::new(text);
        for m in private.find_overlapping_iter(folded.text.as_str()) {
            let span = folded.original(text, m.start(), m.end());
            self.private_match(own, text, span, m.pattern().as_usize(), form, found);
        }
    }

    fn private_match(
        &self,
        own: usize,
        text: &str,
        (start, end): (usize, usize),
        pattern: usize,
        form: Form,
        found: &mut Found,
    ) {
        let owner = &self.owners[pattern];
        if owner.owners.binary_search(&(own as u32)).is_ok() || !whole_word(text, start, end) {
            return;
        }
        if !first_time(&mut found.seen_private, pattern) {
            return;
        }
        found.leaks.push(Leak::Private {
            field: self.private_fields[owner.field as usize].clone(),
            whose: owner.owners.iter().map(|o| *o as usize).collect(),
            form,
        });
    }
}

/// Lower-cased addresses by rolling hash, laid out so that a look-up and its check touch two
/// places in memory: an open-addressing table of (hash, record offset) with linear probing, and
/// the records, each recipient (u32), length (u32) and bytes. Addresses with the same hash (equal
/// once lower-cased, such as a final and a medial sigma, or a 2^-63 collision) take neighbouring
/// slots.
struct AddressBook {
    /// (hash with its lowest bit set, record offset); a zero hash marks an empty slot.
    slots: Vec<(u64, usize)>,
    /// `slots.len() == 1 << bits`.
    bits: u32,
    records: Vec<u8>,
}

impl AddressBook {
    /// A book for `n` addresses, at most three quarters full.
    fn with_capacity(n: usize) -> AddressBook {
        let len = (n + n / 3 + 1).next_power_of_two().max(16);
        AddressBook {
            slots: vec![(0, 0); len],
            bits: len.trailing_zeros(),
            records: Vec::new(),
        }
    }

    fn key(h: u64) -> u64 {
        h | 1
    }

    /// The slots to probe for `key`, from its home slot on, wrapping around.
    fn probe(&self, key: u64) -> impl Iterator<Item = usize> + '_ {
        let home = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - self.bits)) as usize;
        let mask = self.slots.len() - 1;
        (0..self.slots.len()).map(move |i| (home + i) & mask)
    }

    fn insert(&mut self, h: u64, whose: u32, folded: &str) {
        let offset = self.records.len();
        self.records.extend_from_slice(&whose.to_le_bytes());
        self.records
            .extend_from_slice(&(folded.len() as u32).to_le_bytes());
        self.records.extend_from_slice(folded.as_bytes());
        let key = Self::key(h);
        let free = self.probe(key).find(|slot| self.slots[*slot].0 == 0);
        // `with_capacity` leaves a quarter of the slots empty, so there always is one.
        if let Some(free) = free {
            self.slots[free] = (key, offset);
        }
    }

    /// The record offsets of every address with hash `h`.
    fn offsets(&self, h: u64) -> impl Iterator<Item = usize> + '_ {
        let key = Self::key(h);
        self.probe(key)
            .map(|slot| self.slots[slot])
            .take_while(|(k, _)| *k != 0)
            .filter(move |(k, _)| *k == key)
            .map(|(_, offset)| offset)
    }

    fn contains(&self, h: u64) -> bool {
        self.offsets(h).next().is_some()
    }

    /// (recipient, lower-cased address) of the record at `at`.
    fn record(&self, at: usize) -> (u32, &[u8]) {
        let field = |from: usize, to: usize| &self.records[at + from..at + to];
        let whose = u32::from_le_bytes(field(0, 4).try_into().unwrap_or_default());
        let len = u32::from_le_bytes(field(4, 8).try_into().unwrap_or_default()) as usize;
        (whose, field(8, 8 + len))
    }

    /// The recipients whose lower-cased address is `written` lower-cased (which hashes to `h`).
    fn with<'a>(&'a self, h: u64, written: &'a str) -> impl Iterator<Item = u32> + 'a {
        self.offsets(h).filter_map(move |at| {
            let (whose, address) = self.record(at);
            folds_to(written, address).then_some(whose)
        })
    }
}

/// Whether `written`, lower-cased, is `folded`.
fn folds_to(written: &str, folded: &[u8]) -> bool {
    if written.is_ascii() {
        return written.as_bytes().eq_ignore_ascii_case(folded);
    }
    let mut rest = folded;
    let mut buf = [0; 12];
    for c in written.chars() {
        let c = fold_address_char(c, &mut buf);
        if rest.len() < c.len() || rest[..c.len()] != *c {
            return false;
        }
        rest = &rest[c.len()..];
    }
    rest.is_empty()
}

/// What one scan has found so far, and its scratch space.
#[derive(Default)]
struct Found {
    leaks: Vec<Leak>,
    /// One bit per recipient, and per private value, already reported.
    seen_addresses: Vec<u64>,
    seen_private: Vec<u64>,
    /// (start, hash) of the local parts at the current `@` that are in the list.
    candidates: Vec<(usize, u64)>,
    /// The recipients whose address was written at the current `@`.
    whose: Vec<u32>,
}

/// Sets bit `i`; whether it was clear. One report per leaked item, in the first form found.
fn first_time(bits: &mut Vec<u64>, i: usize) -> bool {
    let (word, bit) = (i / 64, 1 << (i % 64));
    if word >= bits.len() {
        bits.resize(word + 1, 0);
    }
    let first = bits[word] & bit == 0;
    bits[word] |= bit;
    first
}

/// A polynomial hash that grows to the left: `H(x + s) = x + 1 + B·H(s)` (mod 2^64). Its odd
/// base is drawn at random per campaign, so a renderer cannot aim for collisions; one would only
/// cost a comparison, since every hit is checked against the address itself.
#[derive(Clone, Copy)]
struct Rolling {
    base: u64,
}

impl Rolling {
    fn new() -> Rolling {
        let random = RandomState::new().hash_one(0x5ca1_ab1e_u64);
        Rolling { base: random | 1 }
    }

    /// The hash of `bytes` followed by what `h` is the hash of.
    fn prepend(&self, mut h: u64, bytes: &[u8]) -> u64 {
        for b in bytes.iter().rev() {
            h = h.wrapping_mul(self.base).wrapping_add(u64::from(*b) + 1);
        }
        h
    }

    /// The hash of `bytes`, to be extended to the right: `H(s + x) = H(s) + (x + 1)·B^len(s)`,
    /// the same value as prepending every byte from the last.
    fn forward(&self, bytes: &[u8]) -> Forward {
        let mut hash = Forward {
            base: self.base,
            power: 1,
            h: 0,
            len: 0,
        };
        hash.append(bytes);
        hash
    }
}

struct Forward {
    base: u64,
    /// `base` to the power `len`.
    power: u64,
    h: u64,
    len: usize,
}

impl Forward {
    fn append(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.h = self
                .h
                .wrapping_add((u64::from(*b) + 1).wrapping_mul(self.power));
            self.power = self.power.wrapping_mul(self.base);
        }
        self.len += bytes.len();
    }
}

/// Hasher for keys that are already hashes: a multiply and two shifts spread them over the bits
/// the table uses, instead of a full SipHash per look-up.
#[derive(Default)]
struct Spread(u64);

impl Hasher for Spread {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        // The table takes its buckets from the low bits, which a polynomial hash mod 2^64
        // mixes least: fold the high half in before spreading.
        let x = (n ^ (n >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = x ^ (x >> 29);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The UTF-8 of `c` lower-cased, as addresses are compared (the list holds them lower-cased).
/// A final sigma counts as a sigma: the list was lower-cased a word at a time, the text one
/// character at a time.
#[inline]
fn fold_address_char(c: char, buf: &mut [u8; 12]) -> &[u8] {
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

fn fold_address(text: &str, out: &mut String) {
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

fn fold_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        fold_char(c, &mut out);
    }
    out
}

/// A non-ASCII text case-folded, with a way back to the original's byte offsets (folding can
/// change a character's length: `ẞ` is three bytes, `ss` two; `İ` two, `i` one).
struct Folded {
    text: String,
    /// For each byte of `text`, where the character it came from starts in the original; only
    /// kept when some character changed length (otherwise offsets are the same).
    origin: Option<Vec<usize>>,
}

impl Folded {
    fn new(original: &str) -> Folded {
        let mut text = String::with_capacity(original.len());
        let mut origin: Option<Vec<usize>> = None;
        let mut cache = FoldCache::new();
        for (i, c) in original.char_indices() {
            if c.is_ascii() {
                text.push(c.to_ascii_lowercase());
            } else {
                cache.fold(c, &mut text);
            }
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
        }
        Folded { text, origin }
    }

    /// The original span of the characters that folded into `text[start..end]`.
    fn original(&self, original: &str, start: usize, end: usize) -> (usize, usize) {
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
    slots: [(char, u8, [u8; 15]); 256],
}

impl FoldCache {
    fn new() -> FoldCache {
        // NUL is ASCII, so it never reaches the cache: an empty slot never matches.
        FoldCache {
            slots: [('\0', 0, [0; 15]); 256],
        }
    }

    fn fold(&mut self, c: char, out: &mut String) {
        let slot = &mut self.slots[c as usize & 0xff];
        if slot.0 == c {
            // The slot holds the UTF-8 of whole characters, written by `fold_char`.
            out.push_str(std::str::from_utf8(&slot.2[..usize::from(slot.1)]).unwrap_or_default());
            return;
        }
        let before = out.len();
        fold_char(c, out);
        let folded = &out.as_bytes()[before..];
        if folded.len() <= slot.2.len() {
            slot.2[..folded.len()].copy_from_slice(folded);
            *slot = (c, folded.len() as u8, slot.2);
        }
    }
}

/// The character that ends at byte `i` of `text`.
#[inline]
fn char_before(text: &str, i: usize) -> Option<char> {
    match text.as_bytes().get(i.wrapping_sub(1)) {
        Some(b) if b.is_ascii() => Some(char::from(*b)),
        _ => text[..i].chars().next_back(),
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
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
fn is_atext(c: char) -> bool {
    class(c, ATEXT)
}

/// Characters that extend an address to the left. Deliberately narrower than RFC 5322's atext:
/// `=`, `'`, `/` and friends far more often delimit an address (`?to=ann@x.org`, `'ann@x.org'`)
/// than belong to one, and erring this way can only flag more, never hide a leak.
fn is_local_char(c: char) -> bool {
    class(c, LOCAL)
}

fn is_domain_char(c: char) -> bool {
    class(c, DOMAIN)
}

fn is_word_char(c: char) -> bool {
    c == '_' || is_alnum(c)
}

/// A private value counts as a whole word: `AC-12` is not found inside `AC-123`, but is next to
/// a quote, a dash or a space of any script.
fn whole_word(text: &str, start: usize, end: usize) -> bool {
    let first = text[start..].chars().next().is_some_and(is_word_char);
    let last = text[..end].chars().next_back().is_some_and(is_word_char);
    let before = text[..start].chars().next_back().is_some_and(is_word_char);
    let after = text[end..].chars().next().is_some_and(is_word_char);
    let joined_left = first && before;
    let joined_right = last && after;
    !joined_left && !joined_right
}

fn preceded_by_mailto(text: &[u8], start: usize) -> bool {
    start >= 7 && text[start - 7..start].eq_ignore_ascii_case(b"mailto:")
}

/// `%XX` escapes undone (invalid ones stay as they are); borrowed if there were none.
fn url_decode(text: &str) -> Cow<'_, str> {
    if !text.contains('%') {
        return Cow::Borrowed(text);
    }
    percent_encoding::percent_decode_str(text).decode_utf8_lossy()
}

/// HTML character references undone as a browser does in text (WHATWG: numeric ones with any
/// number of leading zeros, with or without `;`, and every named one); borrowed if none.
fn html_decode(text: &str) -> Cow<'_, str> {
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
fn decode_encoded_words(subject: &str) -> Option<String> {
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

    fn scanner(addresses: &[&str]) -> Scanner {
        let list: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
        Scanner::new(&list, &[]).expect("scanner")
    }

    fn whose(leaks: &[Leak]) -> Vec<(usize, Form)> {
        leaks
            .iter()
            .map(|l| match l {
                Leak::Address { whose, form } => (*whose, *form),
                Leak::Private { .. } => (0, Form::Plain),
            })
            .collect()
    }

    #[test]
    fn overlapping_patterns_respect_address_boundaries() {
        // Every address below is a suffix or prefix of another one.
        let s = scanner(&[
            "ann@x.org",
            "joann@x.org",
            "n@x.org",
            "ann@x.org.uk",
            "ann@x.or",
            "jo@ann.x.org",
        ]);
        assert_eq!(whose(&s.scan(2, "", &["to joann@x.org, thanks"])), vec![]);
        assert_eq!(whose(&s.scan(1, "", &["ann@x.org."])), vec![]);
        assert_eq!(
            whose(&s.scan(1, "", &["ann@x.org.uk"])),
            vec![(4, Form::Plain)]
        );
        assert_eq!(whose(&s.scan(4, "", &["ann@x.org.uk"])), vec![]);
        assert_eq!(whose(&s.scan(6, "", &["<jo@ann.x.org>"])), vec![]);
        assert_eq!(
            whose(&s.scan(1, "", &["cc: N@X.ORG and Joann@x.org"])),
            vec![(3, Form::Plain), (2, Form::Plain)]
        );
    }

    #[test]
    fn the_longest_address_in_the_list_bounds_the_search() {
        // The walk from an `@` stops at the list's longest local part and domain, not at
        // RFC 5321's 64 and 255: a list may hold longer ones, and they must still be found.
        let long_local = format!("{}@x.org", "a".repeat(100));
        let long_domain = format!("b@{}.org", vec!["d".repeat(60); 3].join("."));
        let s = scanner(&["me@x.org", &long_local, &long_domain]);
        for (text, owner) in [
            (format!("mail {long_local} now"), 2),
            (format!("{}{long_local}", "=".repeat(5000)), 2),
            (format!("<{long_domain}>"), 3),
        ] {
            assert_eq!(
                whose(&s.scan(1, "", &[&text])),
                vec![(owner, Form::Plain)],
                "{text}"
            );
        }
        // One character more on either side is someone else's (nobody's) address.
        assert_eq!(whose(&s.scan(1, "", &[&format!("x{long_local}")])), vec![]);
        assert_eq!(whose(&s.scan(1, "", &[&format!("{long_domain}x")])), vec![]);
    }

    #[test]
    fn addresses_with_delimiter_characters_are_still_found() {
        // RFC 5322 allows `=` and `/` in a local part; so do some real lists.
        let s = scanner(&["me@x.org", "a=b@x.org", "b@x.org", "o'neil@x.org"]);
        assert_eq!(
            whose(&s.scan(1, "", &["cc a=b@x.org"])),
            vec![(2, Form::Plain)]
        );
        assert_eq!(
            whose(&s.scan(1, "", &["?to=b@x.org"])),
            vec![(3, Form::Plain)]
        );
        assert_eq!(
            whose(&s.scan(1, "", &["write to 'o'neil@x.org'"])),
            vec![(4, Form::Plain)]
        );
        // a=b's own address contains b@x.org only as part of itself.
        assert_eq!(whose(&s.scan(2, "", &["you are a=b@x.org"])), vec![]);
    }

    #[test]
    fn encoded_forms_are_found() {
        let s = scanner(&["me@x.org", "ann@x.org"]);
        let cases = [
            ("<a href=\"mailto:ann@x.org\">write</a>", Form::Mailto),
            ("https://x.org/u?e=ann%40x.org", Form::UrlEncoded),
            ("ann&#64;x.org", Form::HtmlEntity),
            ("ann&#x40;x&#46;org", Form::HtmlEntity),
            ("ANN&commat;X&period;ORG", Form::HtmlEntity),
            ("mailto:ann&#37;40x.org", Form::UrlEncoded),
        ];
        for (text, form) in cases {
            assert_eq!(whose(&s.scan(1, "", &[text])), vec![(2, form)], "{text}");
        }
        // The recipient's own address in every form is not a leak.
        for (text, _) in cases {
            assert_eq!(whose(&s.scan(2, "", &[text])), vec![], "{text}");
        }
    }

    #[test]
    fn private_values_are_whole_words_and_shared_values_are_not_leaks() {
        let private = vec![(
            "account_id".to_string(),
            vec![
                ("AC-123".to_string(), 1),
                ("AC-1234".to_string(), 2),
                ("gold".to_string(), 1),
                ("gold".to_string(), 3),
                ("ab".to_string(), 2),
            ],
        )];
        let s = Scanner::new(
            &["a@x.org".into(), "b@x.org".into(), "c@x.org".into()],
            &private,
        )
        .expect("scanner");
        assert_eq!(s.scan(2, "", &["your id AC-1234"]), vec![]);
        assert_eq!(
            s.scan(2, "", &["ids: ac-123."]),
            vec![Leak::Private {
                field: "account_id".into(),
                whose: vec![1],
                form: Form::Plain
            }]
        );
        // "gold" belongs to 1 and 3: a leak for 2, not for 3; "ab" is too short to scan.
        assert_eq!(s.scan(3, "", &["gold ab"]), vec![]);
        assert_eq!(
            s.scan(2, "", &["gold"]),
            vec![Leak::Private {
                field: "account_id".into(),
                whose: vec![1, 3],
                form: Form::Plain
            }]
        );
    }

    #[test]
    fn many_overlapping_patterns() {
        // 2,000 addresses that are all prefixes/suffixes of each other's local parts.
        let list: Vec<String> = (0..2000)
            .map(|i| format!("{}@d.test", "a".repeat(i % 40 + 1) + &i.to_string()))
            .collect();
        let s = Scanner::new(&list, &[]).expect("scanner");
        for (i, addr) in list.iter().enumerate() {
            assert_eq!(
                s.scan(i + 1, "", &[&format!("hi {addr}, bye")]),
                vec![],
                "{addr}"
            );
        }
        let text = format!("{} {}", list[10], list[1999]);
        assert_eq!(
            whose(&s.scan(1, "", &[&text])),
            vec![(11, Form::Plain), (2000, Form::Plain)]
        );
    }

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

    const TYPOGRAPHY: [(&str, &str); 16] = [
        ("\u{201c}", "\u{201d}"),       // “ ”
        ("\u{ab}", "\u{bb}"),           // « »
        ("\u{2018}", "\u{2019}s"),      // ‘ ’s
        ("", "\u{2014}she"),            // em dash
        ("", "\u{2013}2024"),           // en dash
        ("\u{3010}", "\u{3011}"),       // 【 】
        ("\u{300c}", "\u{300d}"),       // 「 」
        ("\u{a0}", ""),                 // no-break space, before
        ("", "\u{a0}"),                 // and after
        ("\u{202f}", "\u{2009}"),       // narrow no-break space, thin space
        ("\u{201e}", "\u{201c}"),       // „ “
        ("(", ")\u{2026}"),             // ( )…
        ("\u{2022}\u{a0}", "\u{3002}"), // • 。
        ("\u{2192}", "\u{2190}"),       // → ←
        ("\u{300a}", "\u{300b}"),       // 《 》
        ("\u{ff08}", "\u{ff09}"),       // fullwidth ( )
    ];

    #[test]
    fn addresses_next_to_typography_are_found() {
        let s = scanner(&["me@x.org", "r2@list.test"]);
        for (before, after) in TYPOGRAPHY {
            let text = format!("write to {before}r2@list.test{after} today");
            assert_eq!(
                whose(&s.scan(1, "", &[&text])),
                vec![(2, Form::Plain)],
                "{text}"
            );
            assert_eq!(
                whose(&s.scan(1, &text, &[])),
                vec![(2, Form::Plain)],
                "{text}"
            );
            // Control: the recipient's own address, written the same way, is no leak.
            assert_eq!(whose(&s.scan(2, &text, &[&text])), vec![], "{text}");
        }
    }

    #[test]
    fn addresses_next_to_no_break_spaces_in_html_are_found() {
        let s = scanner(&["me@x.org", "r2@list.test"]);
        for text in [
            "<p>to\u{a0}r2@list.test\u{a0}now</p>",
            "<p>to&nbsp;r2@list.test&nbsp;now</p>",
            "<p>to&#160;r2@list.test&#160;now</p>",
            "<p>to&#xA0;r2&#64;list.test&#xa0;now</p>",
            "<p>to&nbspr2&#64list.test&nbspnow</p>",
        ] {
            let found = whose(&s.scan(1, "", &[text]));
            assert_eq!(found.len(), 1, "{text}: {found:?}");
            assert_eq!(found[0].0, 2, "{text}");
            assert_eq!(whose(&s.scan(2, "", &[text])), vec![], "{text}");
        }
    }

    #[test]
    fn internationalized_addresses_keep_their_letters() {
        let s = scanner(&[
            "me@x.org",
            "josé@x.org",
            "sé@x.org",
            "r2@bücher.de",
            "öl@x.org",
            "σας@x.gr",
        ]);
        let cases = [
            ("write to josé@x.org", 2),
            ("JOSÉ@X.ORG", 2),
            ("\u{201c}josé@x.org\u{201d}", 2),
            ("see sé@x.org.", 3),
            ("r2@BÜCHER.DE\u{2019}s", 4),
            ("\u{ab}Öl@x.org\u{bb}", 5),
            // The list is lower-cased a word at a time (final sigma), the text a character at
            // a time: both sides meet.
            ("ΣΑΣ@X.GR", 6),
            ("σασ@x.gr", 6),
        ];
        for (text, owner) in cases {
            assert_eq!(
                whose(&s.scan(1, "", &[text])),
                vec![(owner, Form::Plain)],
                "{text}"
            );
            assert_eq!(whose(&s.scan(owner, "", &[text])), vec![], "{text}");
        }
        // A letter of any script extends the address: `josé@` is not `sé@`, and
        // `r2@bücher.dex` is nobody's.
        assert_eq!(whose(&s.scan(1, "", &["r2@bücher.deé"])), vec![]);
        assert_eq!(whose(&s.scan(1, "", &["éjosé@x.org"])), vec![]);
    }

    fn private_scanner() -> Scanner {
        let private = vec![(
            "token".to_string(),
            vec![
                ("tok-000003".to_string(), 3),
                ("ÄRGER-42".to_string(), 2),
                ("straße-9".to_string(), 4),
                ("İZMİR-7".to_string(), 5),
                ("ΟΔΥΣΣΕΥΣ".to_string(), 6),
            ],
        )];
        let list: Vec<String> = (1..=6).map(|i| format!("r{i}@list.test")).collect();
        Scanner::new(&list, &private).expect("scanner")
    }

    fn private_whose(leaks: &[Leak]) -> Vec<Vec<usize>> {
        leaks
            .iter()
            .map(|l| match l {
                Leak::Private { whose, .. } => whose.clone(),
                Leak::Address { .. } => vec![0],
            })
            .collect()
    }

    #[test]
    fn private_values_next_to_typography_are_found() {
        let s = private_scanner();
        for (before, after) in TYPOGRAPHY {
            let text = format!("id {before}tok-000003{after} ok");
            assert_eq!(
                private_whose(&s.scan(1, "", &[&text])),
                vec![vec![3]],
                "{text}"
            );
            assert_eq!(
                private_whose(&s.scan(1, &text, &[])),
                vec![vec![3]],
                "{text}"
            );
            assert_eq!(s.scan(3, &text, &[&text]), vec![], "{text}");
        }
        // Still whole words: a letter of any script or a digit continues the value.
        for text in ["tok-0000031", "tok-000003é", "étok-000003", "tok-000003_x"] {
            assert_eq!(s.scan(1, "", &[text]), vec![], "{text}");
        }
    }

    #[test]
    fn private_values_fold_case_by_unicode() {
        let s = private_scanner();
        let cases = [
            ("your code: ärger-42.", 2),
            ("your code: Ärger-42", 2),
            ("\u{201c}ÄRGER-42\u{201d}", 2),
            ("STRASSE-9", 4),
            ("Straße-9", 4),
            ("STRAẞE-9", 4),
            ("izmir-7", 5),
            ("İzmir-7", 5),
            ("IZMIR-7", 5),
            ("οδυσσευς", 6),
            ("Οδυσσεύς", 0),
        ];
        for (text, owner) in cases {
            let expected = if owner == 0 {
                vec![]
            } else {
                vec![vec![owner]]
            };
            assert_eq!(private_whose(&s.scan(1, "", &[text])), expected, "{text}");
        }
        // Lengths change under folding (`ẞ` 3 bytes → `ss` 2, `İ` 2 → `i` 1); the word
        // boundaries are still read in the original text.
        let padded = "ẞẞẞ İİ ärger-42 İİ ẞẞẞ";
        assert_eq!(private_whose(&s.scan(1, "", &[padded])), vec![vec![2]]);
        assert_eq!(s.scan(1, "", &["ẞẞẞİİärger-42"]), vec![]);
        assert_eq!(s.scan(1, "", &["İİ ärger-42İ"]), vec![]);
        assert_eq!(s.scan(2, "", &[padded]), vec![]);
    }

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

    #[test]
    fn encoded_words_in_the_subject_are_found() {
        let s = scanner(&["me@x.org", "r2@list.test", "josé@x.org"]);
        let cases = [
            ("=?utf-8?q?r2=40list.test?=", 2),
            ("Hello =?UTF-8?Q?r2=40list=2Etest?= there", 2),
            ("=?utf-8?b?cjJAbGlzdC50ZXN0?=", 2),
            ("=?utf-8?B?cjJAbGlzdC50ZXN0IA==?=", 2),
            ("=?utf-8?q?r2?= =?utf-8?q?=40list.test?=", 2),
            ("=?utf-8?q?r2?=\t=?utf-8?b?QGxpc3QudGVzdA==?=", 2),
            ("=?ab?q?x =?utf-8?q?r2=40list.test?=", 2),
            ("=?iso-8859-1?q?jos=E9=40x.org?=", 3),
            ("=?iso-8859-1?b?am9z6UB4Lm9yZw==?=", 3),
            ("=?utf-8?q?=E2=80=9Cjos=C3=A9=40x.org=E2=80=9D?=", 3),
            (
                "=?utf-8?q?a_subject_line_that_runs_well_past_the_seventy-five_characters_of_RFC_2047_r2=40list.test?=",
                2,
            ),
        ];
        for (subject, owner) in cases {
            assert_eq!(
                whose(&s.scan(1, subject, &[])),
                vec![(owner, Form::EncodedWord)],
                "{subject}"
            );
            assert_eq!(whose(&s.scan(owner, subject, &[])), vec![], "{subject}");
        }
        // Bodies are shown as they are: mail clients decode encoded-words in headers only.
        assert_eq!(
            whose(&s.scan(1, "Hi", &["=?utf-8?q?r2=40list.test?="])),
            vec![]
        );
    }

    #[test]
    fn html_references_are_read_as_browsers_read_them() {
        let s = scanner(&["me@x.org", "r2@list.test", "josé@x.org"]);
        let cases = [
            ("r2&#64list.test", 2),
            ("r2&#x40list.test", 2),
            ("r2&#x000000040;list.test", 2),
            ("r2&#0000000000064;list&#46test", 2),
            ("r2&#X40;list&period;test", 2),
            ("jos&eacute;&#64;x.org", 3),
            ("JOS&Eacute;&commat;X.ORG", 3),
            ("&ldquo;jos&eacute;@x.org&rdquo;", 3),
        ];
        for (text, owner) in cases {
            assert_eq!(
                whose(&s.scan(1, "", &[text])),
                vec![(owner, Form::HtmlEntity)],
                "{text}"
            );
            assert_eq!(whose(&s.scan(owner, "", &[text])), vec![], "{text}");
        }
    }

    #[test]
    fn scanning_arbitrary_text_never_panics() {
        // Every decoder and walk slices text at offsets it computes; pieces of addresses,
        // references, encoded-words and characters that change length when folded, shuffled.
        let pieces = [
            "@",
            "=",
            "?",
            "&",
            "#",
            ";",
            "%",
            "4",
            "0",
            "x",
            "q",
            "B",
            ".",
            "-",
            " ",
            "\u{a0}",
            "\u{201c}",
            "é",
            "İ",
            "ẞ",
            "ß",
            "Σ",
            "\u{301}",
            "r2",
            "@list.test",
            "=?utf-8?q?",
            "=?utf-8?b?",
            "?=",
            "&#x",
            "&#64",
            "&amp",
            "&eacute;",
            "%40",
            "josé",
            "tok-000003",
            "ÄRGER-42",
            "\u{10348}",
            "mailto:",
        ];
        let s = private_scanner();
        let idn = scanner(&["me@x.org", "josé@x.org", "r2@bücher.de", "σας@x.gr"]);
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = next() % 40;
            let text: String = (0..len)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect();
            std::hint::black_box(s.scan(1, &text, &[&text]));
            std::hint::black_box(idn.scan(1, &text, &[&text]));
        }
    }

    /// The fastest of five scans of one message.
    fn fastest_scan(s: &Scanner, own: usize, subject: &str, body: &str) -> std::time::Duration {
        (0..5)
            .map(|_| {
                let started = std::time::Instant::now();
                std::hint::black_box(s.scan(own, subject, &[body]));
                started.elapsed()
            })
            .min()
            .unwrap_or_default()
    }

    #[test]
    fn a_value_shared_by_many_costs_no_more_than_a_value_of_two() {
        // Each match asks whether the value is the message's own recipient's: a binary search,
        // not a walk through every owner. Shared by 2 or by 40,000, the time is about the same.
        let list: Vec<String> = (1..=40_000).map(|i| format!("u{i}@list.test")).collect();
        let shared_by = |n: u32| {
            let private = vec![(
                "plan".to_string(),
                (1..=n).map(|i| ("gold".to_string(), i)).collect(),
            )];
            Scanner::new(&list, &private).expect("scanner")
        };
        let (few, many) = (shared_by(2), shared_by(40_000));
        let text = "gold ".repeat(40_000);
        assert_eq!(
            private_whose(&few.scan(40_000, "", &[&text])),
            vec![vec![1, 2]]
        );
        assert_eq!(many.scan(40_000, "", &[&text]), vec![]);
        let (few, many) = (
            fastest_scan(&few, 40_000, "", &text),
            fastest_scan(&many, 40_000, "", &text),
        );
        let ratio = many.as_secs_f64() / few.as_secs_f64().max(1e-9);
        assert!(ratio < 10.0, "shared by 2: {few:?}, by 40,000: {many:?}");
    }

    /// Adversarial texts of `len` bytes: each kind made of what the scanner works hardest on.
    fn adversarial(kind: usize, len: usize) -> (String, String) {
        let fill = |unit: &str, tail: &str| {
            let mut text = unit.repeat((len - tail.len()) / unit.len());
            text.push_str(tail);
            text
        };
        let body = match kind {
            0 => fill("=", "@list.test"),
            1 => fill("%", "@list.test"),
            2 => fill("&", "@list.test"),
            3 => fill(".", "@list.test"),
            4 => fill("a", "@list.test"),
            5 => fill(&format!("{}@list.test ", "=".repeat(62)), ""),
            6 => fill("a@", "b"),
            7 => fill("&#", "64"),
            8 => fill("%40", ""),
            9 => fill("é", "@list.test"),
            10 => fill("İ", "@list.test"),
            11 => fill("gold ", ""),
            // Every recipient's address once: one report each, found in a set, not a list.
            12 => (1..)
                .map(|i| format!("u{i}@list.test "))
                .scan(0, |total, address| {
                    *total += address.len();
                    (*total <= len).then_some(address)
                })
                .collect(),
            _ => String::new(),
        };
        let subject = if kind == 13 {
            fill("=?ab?q?x", "==")
        } else {
            "Hi".into()
        };
        (subject, body)
    }

    const ADVERSARIAL_KINDS: usize = 14;

    /// `text` in eight pieces, cut at character boundaries.
    fn eighths(text: &str) -> impl Iterator<Item = &str> {
        let cut = |i: usize| floor_char_boundary(text, text.len() * i / 8);
        (0..8).map(move |i| &text[cut(i)..cut(i + 1)])
    }

    #[test]
    fn scan_time_is_linear_in_adversarial_text() {
        // Timing ratios, not figures: a 256 KiB text must take about as long as its eight
        // 32 KiB pieces one after the other. Work that grows faster than the text shows as 8
        // times that or more: a quadratic pass over a uniform text takes 8 times as long, and
        // work piled on one spot (a candidate as long as the run before an `@`) 8 to 64 times.
        // The two runs are about as long and take turns, so a busy machine slows both alike;
        // the fastest of five of each counts.
        let list: Vec<String> = (1..=40_000).map(|i| format!("u{i}@list.test")).collect();
        let private = vec![(
            "plan".to_string(),
            (1..=40_000u32).map(|i| ("gold".to_string(), i)).collect(),
        )];
        let s = Scanner::new(&list, &private).expect("scanner");
        let timed = |messages: &[(&str, &str)]| {
            let started = std::time::Instant::now();
            for (subject, body) in messages {
                std::hint::black_box(s.scan(40_000, subject, &[body]));
            }
            started.elapsed()
        };
        let mut superlinear = Vec::new();
        for kind in 0..ADVERSARIAL_KINDS {
            // The short texts are the long one cut in eight, so both touch the same data.
            let (subject, body) = adversarial(kind, 256 << 10);
            let short: Vec<(&str, &str)> = eighths(&subject).zip(eighths(&body)).collect();
            let (mut small, mut large) = (std::time::Duration::MAX, std::time::Duration::MAX);
            for _ in 0..5 {
                small = small.min(timed(&short));
                large = large.min(timed(&[(&subject, &body)]));
            }
            let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-9);
            // 4x: quadratic work shows as 8x or more; 1x is what linear work takes, and a busy
            // machine has been seen to stretch that towards 3x.
            if ratio >= 4.0 {
                superlinear.push(format!(
                    "kind {kind}: 8 × 32 KiB in {small:?}, 256 KiB in {large:?} ({ratio:.1}x)"
                ));
            }
        }
        assert!(superlinear.is_empty(), "{superlinear:#?}");
    }
}
