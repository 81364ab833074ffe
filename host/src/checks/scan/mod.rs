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
//!
//! Then each part is scanned once more in the reader's view: what a reader takes from it, so
//! that no disguise a reader sees through hides a leak. The HTML part is reduced to the text a
//! client shows (markup gone, inline elements joining their neighbours, as on screen); every
//! part is put in the reader's normal form (invisible characters dropped, NFKC, ideographic
//! dots as dots), and lines with bidirectional controls are read in display order as well. The
//! list's addresses and private values are looked for in the same normal form, and under both
//! IDNA forms of their domains.
//!
//! This file is the scanner; its parts are beside it: `book.rs` (the list's addresses by hash),
//! `hash.rs` (the rolling hash), `fold.rs` (case folding), `class.rs` (character classes),
//! `decode.rs` (the forms a mail client undoes), `html.rs` (an HTML part's text) and
//! `reader.rs` (the reader's normal form and display order).

mod book;
mod class;
mod decode;
mod fold;
mod hash;
mod html;
mod reader;
#[cfg(test)]
mod reader_tests;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use super::ChecksError;
use book::{AddressBook, EXACT, READER};
use class::{
    cannot_start_domain, char_before, is_atext, is_domain_char, is_local_char, whole_word,
};
use decode::{decode_encoded_words, html_decode, url_decode};
use fold::{Folded, fold_address, fold_address_char, fold_value};
use hash::{Rolling, Spread};
use html::html_text;
use reader::{display_order, reader_form};

/// Private values shorter than this are not scanned: a two-character value matches everywhere.
const MIN_PRIVATE_LEN: usize = 4;

/// A private value's field and every recipient (1-based, ascending) who has it, as the exact
/// passes find it and as the reader's view does (where values a reader cannot tell apart meet).
#[derive(Debug, Clone)]
struct Owner {
    field: u16,
    owners: Vec<u32>,
    /// `None`: the same recipients as `owners`.
    reader: Option<Vec<u32>>,
}

impl Owner {
    fn of(&self, form: Form) -> &[u32] {
        match (form, &self.reader) {
            (Form::ReaderView, Some(reader)) => reader,
            _ => &self.owners,
        }
    }
}

/// The way a leaked value was written in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Plain,
    Mailto,
    UrlEncoded,
    HtmlEntity,
    EncodedWord,
    /// Found only in the reader's view: past markup, invisible characters, look-alike or
    /// compatibility characters, display order or the other IDNA form of a domain.
    ReaderView,
}

impl std::fmt::Display for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Form::Plain => "plain",
            Form::Mailto => "in a mailto: link",
            Form::UrlEncoded => "URL-encoded",
            Form::HtmlEntity => "as HTML character references",
            Form::EncodedWord => "in an RFC 2047 encoded-word",
            Form::ReaderView => {
                "as a reader sees it: past markup, invisible or look-alike characters, or display order"
            }
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
    ) -> Result<Scanner, ChecksError> {
        // Most addresses have one form for every pass; the others are filed under each of theirs.
        let special: Vec<(usize, Vec<(String, u8)>)> = addresses
            .iter()
            .enumerate()
            .filter_map(|(i, address)| Some((i, book::forms(address)?)))
            .collect();
        let extra: usize = special.iter().map(|(_, forms)| forms.len() - 1).sum();
        let mut scanner = Scanner {
            hash: Rolling::new(),
            addresses: AddressBook::with_capacity(addresses.len() + extra),
            domains: HashSet::default(),
            max_local: 0,
            max_domain: 0,
            private: None,
            owners: Vec::new(),
            private_fields: Vec::new(),
        };
        let mut folded = String::new();
        let mut special = special.into_iter().peekable();
        for (i, address) in addresses.iter().enumerate() {
            let whose = i as u32 + 1;
            match special.next_if(|(at, _)| *at == i) {
                Some((_, forms)) => {
                    for (form, passes) in forms {
                        scanner.add_address(whose, &form, passes, &mut folded);
                    }
                }
                None => scanner.add_address(whose, address, EXACT | READER, &mut folded),
            }
        }
        let patterns = scanner.add_private(private);
        if !patterns.is_empty() {
            // Patterns are case-folded; so is non-ASCII text before the search, and ASCII
            // text is matched ignoring ASCII case, which is the same fold.
            let automaton = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(&patterns)
                .map_err(ChecksError::Scanner)?;
            scanner.private = Some(automaton);
        }
        Ok(scanner)
    }

    /// Files recipient `whose`'s address: its hash in the book, its domain's among the domains,
    /// its lengths in the bounds of the walk. `folded` is scratch space.
    fn add_address(&mut self, whose: u32, address: &str, passes: u8, folded: &mut String) {
        let at = address.rfind('@').unwrap_or(0);
        let (mut h, mut local, mut domain) = (0, 0, 0);
        for c in address[at..].chars().rev() {
            let mut buf = [0; 12];
            let folded = fold_address_char(c, &mut buf);
            domain += folded.len();
            h = self.hash.prepend(h, folded);
        }
        self.domains.insert(h);
        for c in address[..at].chars().rev() {
            let mut buf = [0; 12];
            let folded = fold_address_char(c, &mut buf);
            local += folded.len();
            h = self.hash.prepend(h, folded);
        }
        self.max_local = self.max_local.max(local);
        self.max_domain = self.max_domain.max(domain.saturating_sub(1));
        fold_address(address, folded);
        self.addresses.insert(h, whose, passes, folded);
    }

    /// Files each private field's values (trimmed, case-folded, long enough to scan) with their
    /// owners, as written and in the reader's normal form; the values, in the order of
    /// `owners`, are the automaton's patterns.
    fn add_private(&mut self, private: &[(String, Vec<(String, u32)>)]) -> Vec<String> {
        let mut patterns: Vec<String> = Vec::new();
        for (field_no, (field, values)) in private.iter().enumerate() {
            self.private_fields.push(field.clone());
            // (exact owners, reader's-view owners) of each folded value.
            let mut by_value: HashMap<String, (Vec<u32>, Vec<u32>)> = HashMap::new();
            for (value, owner) in values {
                let value = value.trim();
                let exact = fold_value(value);
                let normal = fold_value(&reader_form(value));
                if exact.chars().count() >= MIN_PRIVATE_LEN {
                    by_value.entry(exact.clone()).or_default().0.push(*owner);
                }
                if normal.chars().count() >= MIN_PRIVATE_LEN {
                    by_value.entry(normal).or_default().1.push(*owner);
                }
            }
            let mut by_value: Vec<_> = by_value.into_iter().collect();
            by_value.sort();
            for (value, (mut owners, mut reader)) in by_value {
                owners.sort_unstable();
                reader.sort_unstable();
                patterns.push(value);
                self.owners.push(Owner {
                    field: field_no as u16,
                    reader: (reader != owners).then_some(reader),
                    owners,
                });
            }
        }
        patterns
    }

    /// Everything in a message (its `subject`, text part and HTML part) that belongs to a
    /// recipient other than `own` (1-based index).
    pub fn scan_message(
        &self,
        own: usize,
        subject: &str,
        text: &str,
        html: Option<&str>,
    ) -> Vec<Leak> {
        let mut parts = vec![(text, false)];
        parts.extend(html.map(|html| (html, true)));
        self.scan_parts(own, subject, &parts, true)
    }

    /// [`Scanner::scan_message`] for a message whose `bodies` are all plain text.
    pub fn scan(&self, own: usize, subject: &str, bodies: &[&str]) -> Vec<Leak> {
        let parts: Vec<(&str, bool)> = bodies.iter().map(|body| (*body, false)).collect();
        self.scan_parts(own, subject, &parts, true)
    }

    /// `parts` are (text, whether it is HTML); the reader's view is left out only by the tests
    /// that show it is what finds a disguise.
    fn scan_parts(
        &self,
        own: usize,
        subject: &str,
        parts: &[(&str, bool)],
        reader: bool,
    ) -> Vec<Leak> {
        let mut found = Found::default();
        for text in std::iter::once(subject).chain(parts.iter().map(|(text, _)| *text)) {
            self.scan_text(own, text, Form::Plain, &mut found);
        }
        // Mail clients decode encoded-words in headers only, so only the subject is decoded.
        let decoded = decode_encoded_words(subject);
        if let Some(decoded) = &decoded {
            self.scan_text(own, decoded, Form::EncodedWord, &mut found);
        }
        if reader {
            self.scan_reader(
                own,
                decoded.as_deref().unwrap_or(subject),
                false,
                &mut found,
            );
            for (text, html) in parts {
                self.scan_reader(own, text, *html, &mut found);
            }
        }
        found.leaks
    }

    /// A part in the reader's view: its text (an HTML part's as a client shows it) in the
    /// reader's normal form, that with URL encoding undone, and in display order, each scanned
    /// if it is not a text already scanned.
    fn scan_reader(&self, own: usize, part: &str, html: bool, found: &mut Found) {
        let text: Cow<str> = if html {
            Cow::Owned(html_text(part))
        } else {
            Cow::Borrowed(part)
        };
        let normal = reader_form(&text);
        // A text part the normal form leaves as it is was scanned, URL-decoded too, already.
        if html || matches!(normal, Cow::Owned(_)) {
            self.scan_one(own, &normal, Form::ReaderView, found);
            if let Cow::Owned(decoded) = url_decode(&normal) {
                self.scan_one(own, &reader_form(&decoded), Form::ReaderView, found);
            }
        }
        if let Some(shown) = display_order(&text) {
            let shown = reader_form(&shown);
            if shown != normal {
                self.scan_one(own, &shown, Form::ReaderView, found);
            }
        }
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
        let pass = if form == Form::ReaderView {
            READER
        } else {
            EXACT
        };
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
            whose.extend(self.addresses.with(*h, pass, &text[*start..end]));
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
        if cannot_start_domain(next) {
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
        let owners = owner.of(form);
        // An empty list: the value is written this way only in the other kind of pass.
        if owners.is_empty()
            || owners.binary_search(&(own as u32)).is_ok()
            || !whole_word(text, start, end)
        {
            return;
        }
        if !first_time(&mut found.seen_private, pattern) {
            return;
        }
        found.leaks.push(Leak::Private {
            field: self.private_fields[owner.field as usize].clone(),
            whose: owners.iter().map(|o| *o as usize).collect(),
            form,
        });
    }
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

fn preceded_by_mailto(text: &[u8], start: usize) -> bool {
    start >= 7 && text[start - 7..start].eq_ignore_ascii_case(b"mailto:")
}
