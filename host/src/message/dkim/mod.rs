//! DKIM signatures (RFC 6376, relaxed/relaxed; RFC 8463 for Ed25519) over the exact bytes of a
//! built message, prepended as one DKIM-Signature header per [`Signer`] by [`sign`].
//!
//! Signing is a pure function of the message, the keys and the given time (RSA PKCS#1 v1.5 and
//! Ed25519 are deterministic), so preflight and send time produce the same bytes. It never panics
//! on any input and refuses what it cannot sign faithfully ([`SignError`]); keys are in `key.rs`,
//! canonicalisation in `canon.rs`.

use std::path::Path;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use super::headers::Folded;
use crate::digest::hex;
use canon::{Field, Parsed, canonical_signed_headers, relaxed_body, relaxed_header};

mod canon;
mod key;

pub use key::{Algorithm, Key, KeyError};

/// The header fields a signature covers, when the message has them. From and Subject are listed
/// once more than they occur ([`OVERSIGNED`]), so a copy added in transit breaks the signature.
const SIGNED_HEADERS: [&str; 9] = [
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "list-unsubscribe",
    "list-unsubscribe-post",
];
const OVERSIGNED: [&str; 2] = ["from", "subject"];

const SIGNATURE_HEADER: &str = "DKIM-Signature:";

/// Why a message cannot be signed faithfully: a message without CRLF line endings throughout,
/// without an empty line after its header, or without a From header; or the signature failed.
/// Messages isomail builds have none of these, so each is the host's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the signature time is before 1970")]
    BeforeEpoch,
    /// At this byte offset.
    #[error("a bare CR or LF at byte {0}: DKIM signs messages with CRLF line endings")]
    BareLineBreak(usize),
    #[error("a bare CR or LF at an end of the message")]
    BareLineBreakAtEnd,
    #[error("the message has no empty line between its header and its body")]
    NoHeaderEnd,
    #[error("the message has no header fields")]
    NoFields,
    #[error("the message starts with a folded line")]
    StartsFolded,
    /// The line, shown bounded and escaped.
    #[error("a header line without a colon: {0}")]
    NoColon(String),
    /// The field, shown bounded and escaped.
    #[error("a header field with a bad name: {0}")]
    BadName(String),
    #[error("the message has no From header, which DKIM must sign")]
    NoFrom,
    #[error("the RSA signature failed")]
    Rsa,
}

/// One `[[dkim]]` signature: a key and the name its public key is published under.
#[derive(Debug)]
pub struct Signer {
    domain: String,
    selector: String,
    key: Key,
}

impl Signer {
    /// `domain` is the `d=` (aligned with From for DMARC; the caller checks that), `selector`
    /// the `s=`: ASCII DNS names (an internationalised name in its `xn--` form).
    pub fn new(domain: &str, selector: &str, key: Key) -> Result<Signer, KeyError> {
        check_dns_name("domain", domain)?;
        check_dns_name("selector", selector)?;
        let signer = Signer {
            domain: domain.to_owned(),
            selector: selector.to_owned(),
            key,
        };
        if signer.dns_name().len() > 253 {
            return Err(KeyError::Name(format!(
                "{} is longer than a DNS name may be",
                signer.dns_name()
            )));
        }
        Ok(signer)
    }

    /// [`Key::from_pem_file`], then [`Signer::new`].
    pub fn from_pem_file(path: &Path, domain: &str, selector: &str) -> Result<Signer, KeyError> {
        Signer::new(domain, selector, Key::from_pem_file(path)?)
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn selector(&self) -> &str {
        &self.selector
    }

    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// Where the public key is published: `selector._domainkey.domain`.
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record value to publish at [`Signer::dns_name`].
    pub fn dns_record(&self) -> String {
        self.key.dns_record()
    }
}

/// RFC 6376 `d=` and `s=` are `sub-domain *("." sub-domain)`: letters, digits and inner hyphens.
fn check_dns_name(what: &str, name: &str) -> Result<(), KeyError> {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !name.is_empty() && name.len() <= 253 && name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(KeyError::Name(format!(
            "the DKIM {what} {name:?} is not an ASCII DNS name (letters, digits, inner hyphens; \
             an internationalised name in its xn-- form)"
        )))
    }
}

/// Returns `message` with one DKIM-Signature header per signer prepended, the first signer's
/// first. `time` is the `t=` (the message's Date, so the same message signs to the same bytes).
/// With no signers the message comes back unchanged.
pub fn sign(message: &[u8], signers: &[Signer], time: SystemTime) -> Result<Vec<u8>, SignError> {
    prepare(message, signers, time)?.sign()
}

/// The hash of the message [`sign`] would return: [`Prepared::hash`].
pub fn signed_hash(
    message: &[u8],
    signers: &[Signer],
    time: SystemTime,
) -> Result<String, SignError> {
    Ok(prepare(message, signers, time)?.hash())
}

/// `message`'s signatures up to their key operations: what names the signed message by its
/// hash, and what signs it. Fails exactly where [`sign`] would before a key operation.
pub fn prepare<'a>(
    message: &'a [u8],
    signers: &'a [Signer],
    time: SystemTime,
) -> Result<Prepared<'a>, SignError> {
    let signatures = if signers.is_empty() {
        Vec::new()
    } else {
        unsigned(message, signers, time)?
    };
    Ok(Prepared {
        message,
        signatures,
    })
}

/// A message and its signatures before their key operations ([`prepare`]).
pub struct Prepared<'a> {
    message: &'a [u8],
    signatures: Vec<Unsigned<'a>>,
}

impl Prepared<'_> {
    /// The SHA-256 (hex) of everything [`Prepared::sign`] makes its output from: the message,
    /// then per signer its DKIM-Signature header with an empty `b=` (algorithm, domain,
    /// selector, `t=`, the signed fields and the body hash) and its public key. RSA PKCS#1 v1.5
    /// and Ed25519 signatures are functions of these, so two messages with the same hash sign to
    /// the same bytes: the preflight hashes, and only the send signs, once. Without signers it is
    /// the message's own hash, as [`super::content_hash`].
    pub fn hash(&self) -> String {
        if self.signatures.is_empty() {
            return super::content_hash(self.message);
        }
        let mut hash = Sha256::new();
        hash.update(self.message);
        for unsigned in &self.signatures {
            hash.update(b"\0");
            hash.update(unsigned.header.text());
            hash.update(b"\0");
            hash.update(unsigned.signer.key.public());
        }
        hex(&hash.finalize())
    }

    /// The message with its DKIM-Signature headers, the first signer's first (see [`sign`]).
    pub fn sign(self) -> Result<Vec<u8>, SignError> {
        let mut out = Vec::with_capacity(self.message.len() + self.signatures.len() * 800);
        for unsigned in self.signatures {
            let signature = unsigned.signer.key.sign(&unsigned.data)?;
            let mut header = unsigned.header;
            header.base64(&BASE64.encode(signature));
            out.extend_from_slice(&header.into_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(self.message);
        Ok(out)
    }
}

/// One signature up to its key operation: the header with an empty `b=`, and what the key signs.
struct Unsigned<'a> {
    signer: &'a Signer,
    header: Folded,
    data: Vec<u8>,
}

fn unsigned<'a>(
    message: &[u8],
    signers: &'a [Signer],
    time: SystemTime,
) -> Result<Vec<Unsigned<'a>>, SignError> {
    let timestamp = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| SignError::BeforeEpoch)?
        .as_secs();
    let parsed = Parsed::new(message)?;
    let body_hash = BASE64.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &relaxed_body(parsed.body),
    ));
    let names = signed_names(&parsed.fields)?;
    let signed = canonical_signed_headers(&parsed.fields, &names);
    let mut out = Vec::with_capacity(signers.len());
    for signer in signers {
        let mut header = Folded::new(SIGNATURE_HEADER);
        header.word(&format!("v=1; a={};", signer.algorithm().tag()));
        header.word("c=relaxed/relaxed;");
        header.word(&format!("d={};", signer.domain));
        header.word(&format!("s={};", signer.selector));
        header.word(&format!("t={timestamp};"));
        // Folded after a colon, where the h= syntax allows whitespace (`*FWS ":" *FWS`).
        for (i, name) in names.iter().enumerate() {
            let end = if i + 1 == names.len() { ";" } else { ":" };
            if i == 0 {
                header.word(&format!("h={name}{end}"));
            } else {
                header.glued(&format!("{name}{end}"));
            }
        }
        header.word(&format!("bh={body_hash};"));
        header.line("b=");

        // What is signed: the covered fields, then this header with an empty b= and without
        // its final CRLF (RFC 6376 §3.7).
        let mut data = signed.clone();
        let value = &header.text()[SIGNATURE_HEADER.len()..];
        relaxed_header(b"DKIM-Signature", value, &mut data);
        data.truncate(data.len() - 2);
        out.push(Unsigned {
            signer,
            header,
            data,
        });
    }
    Ok(out)
}

/// The `h=` list: each covered field as many times as it occurs, From and Subject once more.
fn signed_names(fields: &[Field<'_>]) -> Result<Vec<&'static str>, SignError> {
    let mut names = Vec::new();
    for name in SIGNED_HEADERS {
        let count = fields.iter().filter(|f| f.name == name).count();
        if name == "from" && count == 0 {
            return Err(SignError::NoFrom);
        }
        let listed = if count > 0 && OVERSIGNED.contains(&name) {
            count + 1
        } else {
            count
        };
        names.extend(std::iter::repeat_n(name, listed));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h_lists_each_present_field_and_oversigns_from_and_subject() {
        let parsed = Parsed::new(
            b"To: a@x\r\nFrom: b@y\r\nsubject: s\r\nX-Other: 1\r\nTo: c@x\r\n\
              List-Unsubscribe: <https://u>\r\n\r\n",
        )
        .expect("parses");
        assert_eq!(
            signed_names(&parsed.fields).expect("has From"),
            [
                "from",
                "from",
                "to",
                "to",
                "subject",
                "subject",
                "list-unsubscribe"
            ]
        );
    }

    #[test]
    fn messages_dkim_cannot_sign_faithfully_are_refused() {
        for (message, why) in [
            (
                &b"From: a@b\r\nSubject: no body separator\r\n"[..],
                "no empty line",
            ),
            (b"From: a@b\nSubject: x\n\nbody\n", "bare CR or LF"),
            (b"From: a@b\r\n\r\nbody\n", "bare CR or LF"),
            (b"From: a@b\r\n\r\nbo\rdy", "bare CR or LF"),
            (b"From: a@b\r\n\r\nbody\r", "bare CR or LF"),
            (b"Subject: x\r\n\r\nbody", "no From"),
            (b"\r\nbody", "no header fields"),
            (b" From: a@b\r\n\r\n", "folded line"),
            (b"From a@b\r\n\r\n", "without a colon"),
            (b"Fr om: a@b\r\n\r\n", "bad name"),
            (b": a@b\r\nFrom: a@b\r\n\r\n", "bad name"),
            (b"From : a@b\r\n\r\n", "bad name"),
            (b"", "no empty line"),
        ] {
            let err = Parsed::new(message)
                .and_then(|p| signed_names(&p.fields).map(|_| ()))
                .expect_err(&String::from_utf8_lossy(message));
            assert!(err.to_string().contains(why), "{err:?} for {message:?}");
        }
    }

    #[test]
    fn dns_names_are_checked() {
        for ok in ["example.org", "s2026", "xn--bcher-kva.example", "a-b.c"] {
            check_dns_name("domain", ok).expect(ok);
        }
        for bad in [
            "", "-a.org", "a-.org", "a..org", "a.org.", "bü.org", "a_b.org", "a b",
        ] {
            assert!(check_dns_name("domain", bad).is_err(), "{bad:?}");
        }
    }
}
