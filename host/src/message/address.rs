//! Recipient addresses: which forms isomail sends to, and how each goes on the wire.
//!
//! Accepted: a bare addr-spec whose local part is a dot-atom (RFC 5322 §3.4.1, with the UTF-8
//! letters RFC 6531 §3.3 allows) and whose domain is a host name, ASCII or internationalised,
//! valid as IDNA processing (UTS #46 with STD3 rules, hyphen checks and DNS lengths) says.
//!
//! Sent ([`on_the_wire`]): the local part in NFC (RFC 6532 §3.1) and the domain as its A-labels
//! (`xn--…`), in RCPT TO and in To: alike. A domain always has an ASCII spelling, so an IDN
//! address with an ASCII local part needs nothing from the relay and its bytes do not depend on
//! which relay takes it (they are hashed and journaled before any relay is chosen). A UTF-8
//! local part has no ASCII spelling: that message goes only with SMTPUTF8 (RFC 6531), its To:
//! in UTF-8 (RFC 6532), and fails for good at a relay that does not offer the extension.
//!
//! Refused ([`refusal`]): a quoted local part (`"john doe"@…`), which would need quoting and
//! escaping everywhere the address is written (headers, envelopes, return paths, suppress files,
//! reports) and may hide spaces, `@` and quotes that make one address read as another; and an
//! address literal (`john@[127.0.0.1]`) or a bare IP address as domain, which would let a row of
//! the list choose the host a relay connects to, inside the network as easily as outside it.

use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory, GeneralCategoryGroup};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_normalization::UnicodeNormalization;

/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets, its angle brackets included.
const MAX_ADDRESS: usize = 254;
/// RFC 5321 §4.5.3.1.1.
const MAX_LOCAL_PART: usize = 64;

/// An address as a message and its envelope carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    /// The local part in NFC, `@`, the domain's A-labels; an ASCII address exactly as written.
    pub address: String,
    /// The local part is UTF-8: only SMTPUTF8 can carry it, and the To: header is UTF-8.
    pub utf8: bool,
}

/// Why an address is not one isomail sends to. Each text reads on from "the address: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the address is empty")]
    Empty,
    #[error(
        "a quoted local part (`\"…\"@`) is not supported: isomail sends only unquoted \
         (dot-atom) local parts"
    )]
    Quoted,
    #[error(
        "an address literal (`@[…]`) is not supported: a row must not choose the host the relay \
         connects to; write the domain name"
    )]
    Literal,
    #[error("the domain is an IP address, not a host name; write the domain name")]
    IpDomain,
    #[error("not a bare address (no names, brackets, quotes, spaces or lists)")]
    NotBare,
    #[error("not a valid address: {0}")]
    Syntax(String),
    #[error(
        "the local part contains U+{:04X}, an invisible, spacing or unassigned character",
        u32::from(*.0)
    )]
    LocalCharacter(char),
    #[error("the local part is {0} bytes long; 64 is the most SMTP allows")]
    LocalTooLong(usize),
    #[error(
        "the domain is not a valid host name: IDNA processing (UTS #46, STD3 rules) refuses it"
    )]
    Domain,
    #[error("the address is {0} bytes long as sent; 254 is the most SMTP allows")]
    TooLong(usize),
}

/// The domain's A-labels (`bücher.example` is `xn--bcher-kva.example`), lower-cased, or `None`
/// if IDNA processing refuses it (disallowed code points, a bad `xn--` label, a bidi rule broken,
/// a label or name too long).
pub fn ascii_domain(domain: &str) -> Option<String> {
    idna::domain_to_ascii_strict(domain).ok()
}

/// How `email` goes out. An ASCII address is unchanged (so the bytes of every message isomail
/// made before international addresses were sent stay the same); an address [`refusal`] refuses
/// is only normalised.
pub fn on_the_wire(email: &str) -> Wire {
    if email.is_ascii() {
        return Wire {
            address: email.to_owned(),
            utf8: false,
        };
    }
    let email: String = email.nfc().collect();
    let address = match email.rsplit_once('@') {
        Some((local, domain)) => match ascii_domain(domain) {
            Some(domain) => format!("{local}@{domain}"),
            None => email.clone(),
        },
        None => email.clone(),
    };
    let utf8 = !address.is_ascii();
    Wire { address, utf8 }
}

/// Why isomail will not send to `email` (a list's value, trimmed), or `None` if it will. The
/// domain is checked by IDNA processing before the whole address by lettre's parser, so a bad
/// `xn--` label is named as such rather than as a syntax error.
pub fn refusal(email: &str) -> Option<Refusal> {
    if email.is_empty() {
        return Some(Refusal::Empty);
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Some(Refusal::Syntax("there is no `@`".into()));
    };
    if local.starts_with('"') {
        return Some(Refusal::Quoted);
    }
    if domain.starts_with('[') {
        return Some(Refusal::Literal);
    }
    if email.contains(['<', '>', ',', ';', ' ', '"', '[', ']']) {
        return Some(Refusal::NotBare);
    }
    if domain.parse::<std::net::IpAddr>().is_ok() {
        return Some(Refusal::IpDomain);
    }
    let local: String = local.nfc().collect();
    if let Some(c) = local
        .chars()
        .find(|&c| !c.is_ascii() && !fit_for_local_part(c))
    {
        return Some(Refusal::LocalCharacter(c));
    }
    if local.len() > MAX_LOCAL_PART {
        return Some(Refusal::LocalTooLong(local.len()));
    }
    let Some(domain) = ascii_domain(domain) else {
        return Some(Refusal::Domain);
    };
    let sent = format!("{local}@{domain}");
    if let Err(e) = sent.parse::<lettre::Address>() {
        return Some(Refusal::Syntax(e.to_string()));
    }
    (sent.len() > MAX_ADDRESS).then_some(Refusal::TooLong(sent.len()))
}

/// A non-ASCII character a local part may hold: anything visible that Unicode assigns. Format
/// characters (bidirectional overrides, zero-width joiners), separators, private-use and
/// unassigned code points and default-ignorable ones would make two addresses look alike in a
/// To: header or a report, and no mailbox provider issues them.
fn fit_for_local_part(c: char) -> bool {
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    !GeneralCategoryGroup::Other.contains(category)
        && !GeneralCategoryGroup::Separator.contains(category)
        && !CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(email: &str) -> Refusal {
        refusal(email).unwrap_or_else(|| panic!("{email:?} was accepted"))
    }

    #[test]
    fn international_addresses_are_accepted_and_go_out_as_a_labels_and_nfc() {
        for (email, address, utf8) in [
            ("u@bücher.example", "u@xn--bcher-kva.example", false),
            // NFD (u + U+0308) makes the same A-label.
            ("u@bu\u{308}cher.example", "u@xn--bcher-kva.example", false),
            ("u@Bücher.Example", "u@xn--bcher-kva.example", false),
            ("jörg@example.org", "jörg@example.org", true),
            ("jo\u{308}rg@example.org", "jörg@example.org", true),
            (
                "θεός@παράδειγμα.δοκιμή",
                "θεός@xn--hxajbheg2az3al.xn--jxalpdlp",
                true,
            ),
            // ASCII, including an A-label already written as such: byte for byte as written.
            ("Ann@Example.COM", "Ann@Example.COM", false),
            ("u@xn--bcher-kva.example", "u@xn--bcher-kva.example", false),
        ] {
            assert_eq!(refusal(email), None, "{email:?}");
            let wire = on_the_wire(email);
            assert_eq!(wire.address, address, "{email:?}");
            assert_eq!(wire.utf8, utf8, "{email:?}");
        }
        // Control: NFD and NFC are different strings until normalised.
        assert_ne!("jo\u{308}rg", "jörg");
    }

    #[test]
    fn quoted_local_parts_and_address_literals_are_refused_by_name() {
        assert_eq!(refused("\"john doe\"@example.org"), Refusal::Quoted);
        assert_eq!(refused("\"john\"@example.org"), Refusal::Quoted);
        assert_eq!(refused("john@[127.0.0.1]"), Refusal::Literal);
        assert_eq!(refused("john@[IPv6:::1]"), Refusal::Literal);
        assert_eq!(refused("john@127.0.0.1"), Refusal::IpDomain);
        // Controls: the same people under a plain local part and a domain name are accepted.
        assert_eq!(refusal("john.doe@example.org"), None);
        assert_eq!(refusal("john@localhost.example"), None);
        assert_eq!(refused("Bob <bob@example.org>"), Refusal::NotBare);
    }

    #[test]
    fn invalid_international_domains_are_refused() {
        for email in [
            // Bad punycode, and a valid-looking A-label whose U-label is not NFC-stable.
            "u@xn--zz-.example",
            "u@xn--a.example",
            // Disallowed code points (U+2488 DIGIT ONE FULL STOP, a symbol).
            "u@a\u{2488}b.example",
            "u@a\u{FFFD}b.example",
            // Bidi: a right-to-left label that starts with a digit breaks RFC 5893 rule 1.
            "u@1\u{5d0}.example",
            // STD3: an underscore, and a label that starts with a hyphen.
            "u@ex_ample.org",
            "u@-example.org",
        ] {
            assert_eq!(refused(email), Refusal::Domain, "{email:?}");
        }
        // Controls: the same shapes made valid are accepted.
        for email in [
            "u@xn--bcher-kva.example",
            "u@a1b.example",
            "u@\u{5d0}1.example",
            "u@example.org",
        ] {
            assert_eq!(refusal(email), None, "{email:?}");
        }
    }

    #[test]
    fn invisible_and_spacing_characters_are_refused_in_a_local_part() {
        for c in [
            '\u{202E}', '\u{200D}', '\u{FEFF}', '\u{3000}', '\u{E000}', '\u{0378}',
        ] {
            let email = format!("jo{c}rg@example.org");
            assert_eq!(
                refused(&email),
                Refusal::LocalCharacter(c),
                "U+{:04X}",
                c as u32
            );
        }
        // Control: letters and marks of any script are fine.
        for local in ["jörg", "δοκιμή", "用户", "पति"] {
            assert_eq!(refusal(&format!("{local}@example.org")), None, "{local}");
        }
    }

    #[test]
    fn lengths_are_those_of_the_address_as_sent() {
        // 32 two-byte letters: 32 characters, 64 bytes; one more is too long.
        let local = "ö".repeat(32);
        assert_eq!(refusal(&format!("{local}@example.org")), None);
        assert_eq!(
            refused(&format!("{local}ö@example.org")),
            Refusal::LocalTooLong(66)
        );
        // The whole address: 60 + 1 + 206 bytes, each label and the domain within DNS limits.
        let label = "d".repeat(50);
        let email = format!("{}@{label}.{label}.{label}.{label}.ex", "l".repeat(60));
        assert_eq!(refused(&email), Refusal::TooLong(267));
        assert_eq!(
            refusal(&format!("l@{label}.{label}.{label}.{label}.ex")),
            None
        );
    }
}
