//! The cross-recipient leak scanner, run over each message's decoded content: every `@` is
//! expanded to the whole addresses it can be part of and looked up among all recipients' (a
//! hash map: a 383,000-address list costs tens of megabytes, where an automaton over the
//! addresses cost hundreds), and one Aho-Corasick automaton finds the values of `private` fields.
//!
//! Content is scanned as the renderer returned it (subject, text, HTML: no transfer encoding),
//! and again after undoing URL encoding (`%40`) and HTML character references (`&#64;`,
//! `&commat;`), so an address hidden in a `mailto:` link or an entity is still found. A match
//! counts only at whole-address (or whole-value) boundaries, and only if the recipient it belongs
//! to is not the message's own.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

/// Private values shorter than this are not scanned: a two-character value matches everywhere.
pub const MIN_PRIVATE_LEN: usize = 4;

/// A private value's field and every recipient (1-based) who has it.
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
}

impl std::fmt::Display for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Form::Plain => "plain",
            Form::Mailto => "in a mailto: link",
            Form::UrlEncoded => "URL-encoded",
            Form::HtmlEntity => "as HTML character references",
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
    /// Lower-cased address → recipient index (1-based).
    addresses: HashMap<Box<str>, u32>,
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
        let addresses: HashMap<Box<str>, u32> = addresses
            .iter()
            .enumerate()
            .map(|(i, a)| (a.to_lowercase().into_boxed_str(), i as u32 + 1))
            .collect();
        let mut patterns: Vec<String> = Vec::new();
        let mut owners = Vec::new();
        let mut private_fields = Vec::new();
        for (field_no, (field, values)) in private.iter().enumerate() {
            private_fields.push(field.clone());
            let mut by_value: HashMap<String, Vec<u32>> = HashMap::new();
            for (value, owner) in values {
                let value = value.trim().to_lowercase();
                if value.chars().count() >= MIN_PRIVATE_LEN {
                    by_value.entry(value).or_default().push(*owner);
                }
            }
            let mut by_value: Vec<_> = by_value.into_iter().collect();
            by_value.sort();
            for (value, owners_of_value) in by_value {
                patterns.push(value);
                owners.push(Owner {
                    field: field_no as u16,
                    owners: owners_of_value,
                });
            }
        }
        let private = if patterns.is_empty() {
            None
        } else {
            let automaton = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(&patterns)
                .map_err(|e| format!("cannot build the leak scanner: {e}"))?;
            Some(automaton)
        };
        Ok(Scanner {
            addresses,
            private,
            owners,
            private_fields,
        })
    }

    /// Everything in `texts` that belongs to a recipient other than `own` (1-based index).
    pub fn scan(&self, own: usize, texts: &[&str]) -> Vec<Leak> {
        let mut leaks: Vec<Leak> = Vec::new();
        for text in texts {
            self.scan_one(own, text, Form::Plain, &mut leaks);
            if text.contains('%') {
                self.scan_one(own, &url_decode(text), Form::UrlEncoded, &mut leaks);
            }
            if text.contains('&') {
                let decoded = html_decode(text);
                self.scan_one(own, &decoded, Form::HtmlEntity, &mut leaks);
                if decoded.contains('%') {
                    self.scan_one(own, &url_decode(&decoded), Form::UrlEncoded, &mut leaks);
                }
            }
        }
        leaks
    }

    fn scan_one(&self, own: usize, text: &str, form: Form, leaks: &mut Vec<Leak>) {
        let bytes = text.as_bytes();
        for candidates in address_candidates(text) {
            // The longest known address at this `@` is the one written: `b@x.org` inside
            // `a=b@x.org` is part of a's address, not a mention of b.
            let found = candidates.into_iter().find_map(|(start, end)| {
                let key = text[start..end].to_lowercase();
                self.addresses
                    .get(key.as_str())
                    .map(|whose| (start, *whose as usize))
            });
            let Some((start, whose)) = found else {
                continue;
            };
            if whose == own {
                continue;
            }
            let form = if form == Form::Plain && preceded_by_mailto(bytes, start) {
                Form::Mailto
            } else {
                form
            };
            push_once(leaks, Leak::Address { whose, form });
        }
        let Some(private) = &self.private else { return };
        for m in private.find_overlapping_iter(text) {
            let owner = &self.owners[m.pattern().as_usize()];
            if owner.owners.contains(&(own as u32)) || !word_boundary(bytes, m.start(), m.end()) {
                continue;
            }
            push_once(
                leaks,
                Leak::Private {
                    field: self.private_fields[owner.field as usize].clone(),
                    whose: owner.owners.iter().map(|o| *o as usize).collect(),
                    form,
                },
            );
        }
    }
}

/// One report per leaked item, in the first form it was found.
fn push_once(leaks: &mut Vec<Leak>, leak: Leak) {
    let same_item = |l: &Leak| match (l, &leak) {
        (Leak::Address { whose: a, .. }, Leak::Address { whose: b, .. }) => a == b,
        (
            Leak::Private {
                field: f, whose: a, ..
            },
            Leak::Private {
                field: g, whose: b, ..
            },
        ) => f == g && a == b,
        _ => false,
    };
    if !leaks.iter().any(same_item) {
        leaks.push(leak);
    }
}

/// For each `@`, the (start, end) byte ranges of `text` that may be a whole address, longest
/// first: the domain runs as far as it can; the local part may start at the beginning of the
/// run of address characters before the `@`, or just after any delimiter-like character inside
/// it (`=`, `/`, `'`, …), which is where a surrounding text usually puts an address.
fn address_candidates(text: &str) -> Vec<Vec<(usize, usize)>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for (at, _) in text.match_indices('@') {
        let mut end = at + 1;
        while end < bytes.len()
            && (is_domain_char(bytes[end])
                || (bytes[end] == b'.' && bytes.get(end + 1).copied().is_some_and(is_domain_char)))
        {
            end += 1;
        }
        if end == at + 1 {
            continue;
        }
        let mut run = at;
        while run > 0 && is_atext(bytes[run - 1]) {
            run -= 1;
        }
        let starts = (run..at).filter(|&start| {
            (start == run || !is_local_char(bytes[start - 1])) && text.is_char_boundary(start)
        });
        out.push(starts.map(|start| (start, end)).collect());
    }
    out
}

/// Characters RFC 5322 allows in an unquoted local part (and any non-ASCII byte).
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b) || b >= 0x80
}

/// Characters that extend an address to the left. Deliberately narrower than RFC 5322's atext:
/// `=`, `'`, `/` and friends far more often delimit an address (`?to=ann@x.org`, `'ann@x.org'`)
/// than belong to one, and erring this way can only flag more, never hide a leak.
fn is_local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._+-".contains(&b) || b >= 0x80
}

fn is_domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b >= 0x80
}

/// A private value counts as a whole word: `AC-12` is not found inside `AC-123`.
fn word_boundary(text: &[u8], start: usize, end: usize) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
    let first_is_word = text.get(start).copied().is_some_and(word);
    let last_is_word = end > 0 && text.get(end - 1).copied().is_some_and(word);
    let left = !first_is_word || start == 0 || !word(text[start - 1]);
    let right = !last_is_word || text.get(end).is_none_or(|b| !word(*b));
    left && right
}

fn preceded_by_mailto(text: &[u8], start: usize) -> bool {
    start >= 7 && text[start - 7..start].eq_ignore_ascii_case(b"mailto:")
}

/// Undoes `%XX` escapes (invalid ones stay as they are); other bytes are kept.
pub fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(hex_val),
                bytes.get(i + 2).and_then(hex_val),
            )
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}

/// Undoes numeric character references (`&#64;`, `&#x40;`) and the named ones that spell out
/// addresses (`&commat;`, `&period;`, `&amp;`, …); unknown ones stay as they are.
pub fn html_decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest[1..]
            .find(';')
            .filter(|semi| *semi <= 10)
            .and_then(|semi| {
                let name = &rest[1..1 + semi];
                let c = if let Some(num) =
                    name.strip_prefix("#x").or_else(|| name.strip_prefix("#X"))
                {
                    u32::from_str_radix(num, 16).ok().and_then(char::from_u32)
                } else if let Some(num) = name.strip_prefix('#') {
                    num.parse::<u32>().ok().and_then(char::from_u32)
                } else {
                    named_reference(name)
                };
                c.map(|c| (c, semi + 2))
            });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn named_reference(name: &str) -> Option<char> {
    Some(match name {
        "commat" => '@',
        "period" => '.',
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "plus" => '+',
        "hyphen" | "dash" => '-',
        "lowbar" | "UnderBar" => '_',
        "percnt" => '%',
        "colon" => ':',
        "sol" => '/',
        "nbsp" => ' ',
        _ => return None,
    })
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
        assert_eq!(whose(&s.scan(2, &["to joann@x.org, thanks"])), vec![]);
        assert_eq!(whose(&s.scan(1, &["ann@x.org."])), vec![]);
        assert_eq!(whose(&s.scan(1, &["ann@x.org.uk"])), vec![(4, Form::Plain)]);
        assert_eq!(whose(&s.scan(4, &["ann@x.org.uk"])), vec![]);
        assert_eq!(whose(&s.scan(6, &["<jo@ann.x.org>"])), vec![]);
        assert_eq!(
            whose(&s.scan(1, &["cc: N@X.ORG and Joann@x.org"])),
            vec![(3, Form::Plain), (2, Form::Plain)]
        );
    }

    #[test]
    fn addresses_with_delimiter_characters_are_still_found() {
        // RFC 5322 allows `=` and `/` in a local part; so do some real lists.
        let s = scanner(&["me@x.org", "a=b@x.org", "b@x.org", "o'neil@x.org"]);
        assert_eq!(whose(&s.scan(1, &["cc a=b@x.org"])), vec![(2, Form::Plain)]);
        assert_eq!(whose(&s.scan(1, &["?to=b@x.org"])), vec![(3, Form::Plain)]);
        assert_eq!(
            whose(&s.scan(1, &["write to 'o'neil@x.org'"])),
            vec![(4, Form::Plain)]
        );
        // a=b's own address contains b@x.org only as part of itself.
        assert_eq!(whose(&s.scan(2, &["you are a=b@x.org"])), vec![]);
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
            assert_eq!(whose(&s.scan(1, &[text])), vec![(2, form)], "{text}");
        }
        // The recipient's own address in every form is not a leak.
        for (text, _) in cases {
            assert_eq!(whose(&s.scan(2, &[text])), vec![], "{text}");
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
        assert_eq!(s.scan(2, &["your id AC-1234"]), vec![]);
        assert_eq!(
            s.scan(2, &["ids: ac-123."]),
            vec![Leak::Private {
                field: "account_id".into(),
                whose: vec![1],
                form: Form::Plain
            }]
        );
        // "gold" belongs to 1 and 3: a leak for 2, not for 3; "ab" is too short to scan.
        assert_eq!(s.scan(3, &["gold ab"]), vec![]);
        assert_eq!(
            s.scan(2, &["gold"]),
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
                s.scan(i + 1, &[&format!("hi {addr}, bye")]),
                vec![],
                "{addr}"
            );
        }
        let text = format!("{} {}", list[10], list[1999]);
        assert_eq!(
            whose(&s.scan(1, &[&text])),
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
    }
}
