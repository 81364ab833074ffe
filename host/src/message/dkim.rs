//! DKIM signatures (RFC 6376, relaxed/relaxed; RFC 8463 for Ed25519) over the exact bytes of a
//! built message, prepended as one DKIM-Signature header per key.
//!
//! Signing is a pure function of the message, the keys and the given time (RSA PKCS#1 v1.5 and
//! Ed25519 are deterministic), so preflight and send time produce the same bytes. It never panics
//! on any input and refuses what it cannot sign faithfully: a message without CRLF line endings
//! throughout, without an empty line after its header, or without a From header. Keys are read
//! only from files no one but their owner can read or write, and parsed by maintained crates.

use std::fmt;
use std::path::Path;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use pkcs8::der::asn1::BitStringRef;
use pkcs8::der::{Encode, asn1::ObjectIdentifier};
use ring::signature::{Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

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

/// RSA moduli isomail signs with: receivers ignore shorter keys (RFC 8301), and ring signs with
/// nothing longer.
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 4096;

/// A key file is a few kilobytes; anything far larger is not one, and is not read whole.
const KEY_FILE_MAX_BYTES: u64 = crate::input_file::SECRET_MAX_BYTES;

const SIGNATURE_HEADER: &str = "DKIM-Signature:";

/// Lines of the DKIM-Signature header are folded at this length (RFC 5322 §2.1.1 "should").
const LINE_TARGET: usize = 78;

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `a=rsa-sha256`: RSASSA-PKCS1-v1_5 with SHA-256. The one every receiver verifies.
    RsaSha256,
    /// `a=ed25519-sha256` (RFC 8463): Ed25519 over the SHA-256 of the signed data.
    Ed25519Sha256,
}

impl Algorithm {
    /// The `a=` tag value.
    pub fn tag(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    /// The `k=` value of the DNS key record.
    fn key_type(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa",
            Algorithm::Ed25519Sha256 => "ed25519",
        }
    }
}

/// Why a DKIM key cannot be used. Each displays as one phrase about the key (the caller names the
/// file and the campaign key).
#[derive(Debug)]
pub enum KeyError {
    Unreadable(std::io::Error),
    /// What it is instead (a FIFO, a directory, …).
    NotAFile(&'static str),
    /// Group or others may read or write it (the permission bits); refused as ssh does.
    Exposed(u32),
    TooLarge,
    NotPem(String),
    /// An RSA key of this many bits, outside 2048..=4096.
    RsaBits(usize),
    Unsupported(String),
    /// The key's structure is right but its numbers are not a usable key.
    Rejected(String),
    /// The domain (`d=`) or selector (`s=`) is not a DNS name.
    Name(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Unreadable(e) => write!(f, "cannot be read: {e}"),
            KeyError::NotAFile(what) => write!(f, "is {what}, not a regular file"),
            KeyError::Exposed(mode) => write!(
                f,
                "is readable or writable by group or others (mode {mode:04o}); a private key \
                 must be private: chmod 600 it"
            ),
            KeyError::TooLarge => write!(
                f,
                "is over {} KiB, too large to be a key",
                KEY_FILE_MAX_BYTES / 1024
            ),
            KeyError::NotPem(why) => write!(f, "is not a PEM private key ({why})"),
            KeyError::RsaBits(bits) if *bits < RSA_MIN_BITS => write!(
                f,
                "is an RSA key of {bits} bits; DKIM keys need at least {RSA_MIN_BITS}"
            ),
            KeyError::RsaBits(bits) => write!(
                f,
                "is an RSA key of {bits} bits; isomail signs with at most {RSA_MAX_BITS}"
            ),
            KeyError::Unsupported(what) => write!(
                f,
                "is {what}; DKIM keys are RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8)"
            ),
            KeyError::Rejected(why) => write!(f, "is not a usable key ({why})"),
            KeyError::Name(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for KeyError {}

enum Pair {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private key ready to sign, with the public key its DNS record publishes.
pub struct Key {
    pair: Pair,
    /// The `p=` bytes: SubjectPublicKeyInfo DER for RSA, the raw 32 bytes for Ed25519 (RFC 8463).
    public: Vec<u8>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl Key {
    /// Reads a PEM key file, refusing one that group or others may read or write.
    pub fn from_pem_file(path: &Path) -> Result<Key, KeyError> {
        use crate::input_file::Refusal;
        let bytes = crate::input_file::read_secret(path).map_err(|refusal| match refusal {
            Refusal::Unreadable(e) => KeyError::Unreadable(e),
            Refusal::NotRegular(what) => KeyError::NotAFile(what),
            Refusal::TooLarge { .. } => KeyError::TooLarge,
            Refusal::Exposed(mode) => KeyError::Exposed(mode),
        })?;
        Key::from_pem(&bytes)
    }

    /// Parses a PEM private key: RSA as PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8
    /// (`BEGIN PRIVATE KEY`), Ed25519 as PKCS#8, as `openssl genrsa` and `openssl genpkey` write
    /// them. Exactly one private key; certificates and other blocks around it are ignored.
    pub fn from_pem(pem_bytes: &[u8]) -> Result<Key, KeyError> {
        let mut keys = PrivateKeyDer::pem_slice_iter(pem_bytes);
        let der = match keys.next() {
            Some(Ok(der)) => der,
            Some(Err(e)) => return Err(KeyError::NotPem(e.to_string())),
            None => {
                return Err(KeyError::NotPem(
                    "no unencrypted \"PRIVATE KEY\" or \"RSA PRIVATE KEY\" block".into(),
                ));
            }
        };
        if keys.next().is_some() {
            return Err(KeyError::NotPem("more than one private key".into()));
        }
        match der {
            PrivateKeyDer::Pkcs1(pkcs1) => {
                let der = pkcs1.secret_pkcs1_der();
                check_rsa_bits(der)?;
                rsa_key(RsaKeyPair::from_der(der))
            }
            PrivateKeyDer::Pkcs8(pkcs8) => from_pkcs8(pkcs8.secret_pkcs8_der()),
            PrivateKeyDer::Sec1(_) => Err(KeyError::Unsupported(
                "an EC key (\"EC PRIVATE KEY\")".into(),
            )),
            _ => Err(KeyError::Unsupported("a key of an unknown kind".into())),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.pair {
            Pair::Rsa(_) => Algorithm::RsaSha256,
            Pair::Ed25519(_) => Algorithm::Ed25519Sha256,
        }
    }

    /// The value of the TXT record to publish at `selector._domainkey.domain`:
    /// `v=DKIM1; k=rsa; p=…` or `v=DKIM1; k=ed25519; p=…`, unsplit (a DNS string holds at most
    /// 255 octets; zone files split a longer value into several quoted strings).
    pub fn dns_record(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm().key_type(),
            BASE64.encode(&self.public)
        )
    }

    /// Signs the data a DKIM signature covers: `data` is hashed here (SHA-256) as `a=` says.
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        match &self.pair {
            Pair::Rsa(pair) => {
                // ring uses the random source only to blind the private-key operation; PKCS#1
                // v1.5 padding has no randomness, so the signature is the same every time.
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &ring::rand::SystemRandom::new(),
                    data,
                    &mut signature,
                )
                .map_err(|_| "the RSA signature failed".to_string())?;
                Ok(signature)
            }
            Pair::Ed25519(pair) => {
                let digest = ring::digest::digest(&ring::digest::SHA256, data);
                Ok(pair.sign(digest.as_ref()).as_ref().to_vec())
            }
        }
    }
}

fn from_pkcs8(der: &[u8]) -> Result<Key, KeyError> {
    let info = pkcs8::PrivateKeyInfoRef::try_from(der)
        .map_err(|e| KeyError::NotPem(format!("a PRIVATE KEY block that is not PKCS#8: {e}")))?;
    let oid = info.algorithm.oid;
    if oid == OID_RSA {
        check_rsa_bits(info.private_key.as_bytes())?;
        rsa_key(RsaKeyPair::from_pkcs8(der))
    } else if oid == OID_ED25519 {
        // openssl writes PKCS#8 v1, without the public key, which ring's checked parser refuses;
        // the public key is then derived from the seed.
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| KeyError::Rejected(e.to_string()))?;
        let public = pair.public_key().as_ref().to_vec();
        Ok(Key {
            pair: Pair::Ed25519(pair),
            public,
        })
    } else {
        let what = match oid.to_string().as_str() {
            "1.2.840.10045.2.1" => "an EC key".to_string(),
            "1.3.101.113" => "an Ed448 key".to_string(),
            "1.3.101.110" | "1.3.101.111" => "an X25519 or X448 key (not for signing)".to_string(),
            "1.2.840.113549.1.1.10" => "an RSA-PSS key".to_string(),
            other => format!("a key of algorithm {other}"),
        };
        Err(KeyError::Unsupported(what))
    }
}

/// The size check comes before ring's, which would refuse a short key without saying its size.
fn check_rsa_bits(pkcs1_der: &[u8]) -> Result<(), KeyError> {
    let key = pkcs1::RsaPrivateKeyRef::try_from(pkcs1_der)
        .map_err(|e| KeyError::NotPem(format!("not an RSA private key: {e}")))?;
    let modulus = key.modulus.as_bytes();
    let bits = match modulus.iter().position(|&b| b != 0) {
        Some(first) => (modulus.len() - first) * 8 - modulus[first].leading_zeros() as usize,
        None => 0,
    };
    if (RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(KeyError::RsaBits(bits))
    }
}

fn rsa_key(parsed: Result<RsaKeyPair, ring::error::KeyRejected>) -> Result<Key, KeyError> {
    let pair = parsed.map_err(|e| KeyError::Rejected(e.to_string()))?;
    // DNS records carry the SubjectPublicKeyInfo (what `openssl pkey -pubout` writes); ring
    // gives the bare RSAPublicKey inside it.
    let spki = pkcs8::spki::SubjectPublicKeyInfoRef {
        algorithm: pkcs1::ALGORITHM_ID,
        subject_public_key: BitStringRef::from_bytes(pair.public().as_ref())
            .map_err(|e| KeyError::Rejected(e.to_string()))?,
    };
    let public = spki
        .to_der()
        .map_err(|e| KeyError::Rejected(e.to_string()))?;
    Ok(Key {
        pair: Pair::Rsa(pair),
        public,
    })
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
pub fn sign(message: &[u8], signers: &[Signer], time: SystemTime) -> Result<Vec<u8>, String> {
    if signers.is_empty() {
        return Ok(message.to_vec());
    }
    let timestamp = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| "the signature time is before 1970".to_string())?
        .as_secs();
    let parsed = Parsed::new(message)?;
    let body_hash = BASE64.encode(ring::digest::digest(
        &ring::digest::SHA256,
        &relaxed_body(parsed.body),
    ));
    let names = signed_names(&parsed.fields)?;
    let signed = canonical_signed_headers(&parsed.fields, &names);

    let mut out = Vec::with_capacity(message.len() + signers.len() * 800);
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
        let value = &header.text[SIGNATURE_HEADER.len()..];
        relaxed_header(b"DKIM-Signature", value, &mut data);
        data.truncate(data.len() - 2);
        let signature = signer.key.sign(&data)?;

        header.base64(&BASE64.encode(signature));
        out.extend_from_slice(&header.text);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(message);
    Ok(out)
}

/// A message split into its header fields (each with its folded lines, without the final CRLF)
/// and its body.
struct Parsed<'a> {
    fields: Vec<Field<'a>>,
    body: &'a [u8],
}

struct Field<'a> {
    /// Lower-cased.
    name: String,
    /// After the colon, with the folds.
    value: &'a [u8],
}

impl<'a> Parsed<'a> {
    fn new(message: &'a [u8]) -> Result<Parsed<'a>, String> {
        // Relaxed canonicalisation is defined on CRLF lines; a bare CR or LF would be read one
        // way here and perhaps another by a relay that "fixes" it, so it is refused.
        for (i, pair) in message.windows(2).enumerate() {
            let bare = match pair {
                [b'\r', next] => *next != b'\n',
                [prev, b'\n'] => *prev != b'\r',
                _ => false,
            };
            if bare {
                let at = if pair[0] == b'\r' { i } else { i + 1 };
                return Err(format!(
                    "a bare CR or LF at byte {at}: DKIM signs messages with CRLF line endings"
                ));
            }
        }
        if message.first() == Some(&b'\n') || message.last() == Some(&b'\r') {
            return Err("a bare CR or LF at an end of the message".into());
        }

        let mut fields: Vec<Field<'a>> = Vec::new();
        let mut rest = message;
        let mut field_start = 0;
        let mut offset = 0;
        loop {
            let Some(end) = find_crlf(rest) else {
                return Err("the message has no empty line between its header and its body".into());
            };
            let line = &rest[..end];
            if line.is_empty() {
                if offset > field_start {
                    fields.push(Field::new(&message[field_start..offset - 2])?);
                }
                let body = &message[offset + 2..];
                if fields.is_empty() {
                    return Err("the message has no header fields".into());
                }
                return Ok(Parsed { fields, body });
            }
            let continued = matches!(line[0], b' ' | b'\t');
            if continued && offset == 0 {
                return Err("the message starts with a folded line".into());
            }
            if !continued && offset > field_start {
                fields.push(Field::new(&message[field_start..offset - 2])?);
                field_start = offset;
            }
            offset += end + 2;
            rest = &rest[end + 2..];
        }
    }
}

impl<'a> Field<'a> {
    fn new(raw: &'a [u8]) -> Result<Field<'a>, String> {
        let colon = raw
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| format!("a header line without a colon: {}", shown(raw)))?;
        let name = &raw[..colon];
        // RFC 5322 field names: printable ASCII except the colon. Whitespace before the colon is
        // obsolete syntax that verifiers read differently (dkimpy refuses the message), so it is
        // refused here too, as is whitespace in or a fold across a name.
        if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
            return Err(format!("a header field with a bad name: {}", shown(raw)));
        }
        Ok(Field {
            name: String::from_utf8_lossy(name).to_ascii_lowercase(),
            value: &raw[colon + 1..],
        })
    }
}

/// A header line for an error message: at most 60 bytes, control characters escaped.
fn shown(raw: &[u8]) -> String {
    let cut = &raw[..raw.len().min(60)];
    String::from_utf8_lossy(cut).escape_debug().to_string()
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

/// The `h=` list: each covered field as many times as it occurs, From and Subject once more.
fn signed_names(fields: &[Field<'_>]) -> Result<Vec<&'static str>, String> {
    let mut names = Vec::new();
    for name in SIGNED_HEADERS {
        let count = fields.iter().filter(|f| f.name == name).count();
        if name == "from" && count == 0 {
            return Err("the message has no From header, which DKIM must sign".into());
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

/// The covered fields in `h=` order, each relaxed (§3.4.2). Instances of a name are taken from
/// the bottom up; a name listed once more than it occurs contributes nothing (§5.4.2).
fn canonical_signed_headers(fields: &[Field<'_>], names: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut next_above: Vec<(&str, usize)> = Vec::new();
    for &name in names {
        let slot = match next_above.iter().position(|(n, _)| *n == name) {
            Some(slot) => slot,
            None => {
                next_above.push((name, fields.len()));
                next_above.len() - 1
            }
        };
        let above = next_above[slot].1;
        match fields[..above].iter().rposition(|f| f.name == name) {
            Some(index) => {
                relaxed_header(name.as_bytes(), fields[index].value, &mut out);
                next_above[slot].1 = index;
            }
            None => next_above[slot].1 = 0,
        }
    }
    out
}

/// §3.4.2: `name` lower-cased; the value unfolded, each run of whitespace one space, none at
/// either end; then `name:value` CRLF. `name` has no whitespace (see [`Field::new`]).
fn relaxed_header(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend(name.to_ascii_lowercase());
    out.push(b':');
    let mut space = false;
    let mut started = false;
    for &b in value {
        match b {
            // Only CRLF before whitespace is left in a field (the message was checked), so
            // dropping CR and LF is unfolding.
            b'\r' | b'\n' => {}
            b' ' | b'\t' => space = started,
            _ => {
                if space {
                    out.push(b' ');
                    space = false;
                }
                out.push(b);
                started = true;
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// §3.4.4: each run of whitespace in a line one space, none at its end; empty lines at the end
/// removed; a non-empty body ends with CRLF.
fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut empty_lines = 0;
    let mut rest = body;
    while !rest.is_empty() {
        let (line, next) = match find_crlf(rest) {
            Some(end) => (&rest[..end], &rest[end + 2..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let mut canonical = Vec::with_capacity(line.len());
        let mut space = false;
        for &b in line {
            if b == b' ' || b == b'\t' {
                space = true;
            } else {
                if space {
                    canonical.push(b' ');
                    space = false;
                }
                canonical.push(b);
            }
        }
        if canonical.is_empty() {
            empty_lines += 1;
            continue;
        }
        for _ in 0..empty_lines {
            out.extend_from_slice(b"\r\n");
        }
        empty_lines = 0;
        out.extend_from_slice(&canonical);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A header field written with folding: words separated by a space or a fold (CRLF + space)
/// so that lines stay near [`LINE_TARGET`] octets.
struct Folded {
    text: Vec<u8>,
    column: usize,
}

impl Folded {
    fn new(name: &str) -> Folded {
        Folded {
            text: name.as_bytes().to_vec(),
            column: name.len(),
        }
    }

    fn fold(&mut self) {
        self.text.extend_from_slice(b"\r\n ");
        self.column = 1;
    }

    /// A word after a space, or on the next line if it does not fit.
    fn word(&mut self, word: &str) {
        if self.column + 1 + word.len() > LINE_TARGET {
            self.fold();
        } else {
            self.text.push(b' ');
            self.column += 1;
        }
        self.push(word);
    }

    /// Text joined without a space, or after a fold if it does not fit (where the tag syntax
    /// allows folding whitespace, as between the names of `h=`).
    fn glued(&mut self, text: &str) {
        if self.column + text.len() > LINE_TARGET {
            self.fold();
        }
        self.push(text);
    }

    /// A word at the start of a line of its own.
    fn line(&mut self, word: &str) {
        self.fold();
        self.push(word);
    }

    /// Base64 filling each line, which its syntax allows to break anywhere.
    fn base64(&mut self, encoded: &str) {
        let mut rest = encoded;
        while !rest.is_empty() {
            if self.column >= LINE_TARGET {
                self.fold();
            }
            // Base64 is ASCII, so any byte index is a char boundary.
            let (piece, next) = rest.split_at((LINE_TARGET - self.column).min(rest.len()));
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

    fn fields(message: &[u8]) -> Vec<String> {
        Parsed::new(message)
            .expect("parses")
            .fields
            .iter()
            .map(|f| format!("{}:{}", f.name, String::from_utf8_lossy(f.value)))
            .collect()
    }

    #[test]
    fn relaxed_header_unfolds_and_squeezes_whitespace() {
        let mut out = Vec::new();
        let field = Field::new(b"SubJect:  Hello \t world\r\n\t again  ").expect("field");
        relaxed_header(field.name.as_bytes(), field.value, &mut out);
        assert_eq!(out, b"subject:Hello world again\r\n");
    }

    #[test]
    fn relaxed_body_squeezes_lines_and_drops_trailing_empty_lines() {
        assert_eq!(
            relaxed_body(b"a  b \t\r\n\r\n \r\nc\t\r\n\r\n  \r\n\r\n"),
            b"a b\r\n\r\n\r\nc\r\n"
        );
        assert_eq!(relaxed_body(b"no final newline"), b"no final newline\r\n");
        assert_eq!(relaxed_body(b"\r\n\r\n"), b"");
        assert_eq!(relaxed_body(b""), b"");
    }

    #[test]
    fn fields_keep_their_folded_lines() {
        assert_eq!(
            fields(b"A: 1\r\nB: 2\r\n 3\r\n\tfour\r\nC:\r\n\r\nbody"),
            ["a: 1", "b: 2\r\n 3\r\n\tfour", "c:"]
        );
    }

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
    fn repeated_names_take_instances_from_the_bottom_up() {
        let parsed = Parsed::new(b"To: 1\r\nFrom: f\r\nTo: 2\r\n\r\n").expect("parses");
        assert_eq!(
            canonical_signed_headers(&parsed.fields, &["to", "from", "to", "to", "from"]),
            b"to:2\r\nfrom:f\r\nto:1\r\n"
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
            assert!(err.contains(why), "{err:?} for {message:?}");
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

    #[test]
    fn folded_lines_stay_short_and_break_only_between_words_or_in_base64() {
        let mut header = Folded::new(SIGNATURE_HEADER);
        for _ in 0..20 {
            header.word("abcdefghij;");
        }
        header.line("b=");
        header.base64(&"Q".repeat(400));
        let text = String::from_utf8(header.text).expect("ascii");
        for line in text.split("\r\n") {
            assert!(line.len() <= LINE_TARGET, "{line:?}");
        }
        assert_eq!(
            text.replace("\r\n ", " ").matches("abcdefghij;").count(),
            20
        );
        let b = text.split("b=").nth(1).expect("b=");
        assert_eq!(b.replace("\r\n ", ""), "Q".repeat(400));
    }
}
