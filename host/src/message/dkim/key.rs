//! DKIM private keys: a PEM file read only if no one but its owner may read or write it, parsed
//! by maintained crates into an RSA (2048 to 4096 bits) or Ed25519 key that signs, with the
//! public key its DNS record publishes.

use std::fmt;
use std::path::Path;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use pkcs8::der::asn1::BitStringRef;
use pkcs8::der::{Encode, asn1::ObjectIdentifier};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use super::SignError;

/// RSA moduli isomail signs with: receivers ignore shorter keys (RFC 8301), and verifiers are
/// not required to accept longer ones (RFC 6376 §3.3.3).
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 4096;

/// A key file is a few kilobytes; anything far larger is not one, and is not read whole.
const KEY_FILE_MAX_BYTES: u64 = crate::input_file::SECRET_MAX_BYTES;

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

    /// The public key as its DNS record's `p=` holds it (before base64).
    pub(super) fn public(&self) -> &[u8] {
        &self.public
    }

    /// Signs the data a DKIM signature covers: `data` is hashed here (SHA-256) as `a=` says.
    pub(super) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignError> {
        match &self.pair {
            Pair::Rsa(pair) => {
                // PKCS#1 v1.5 padding has no randomness, so the signature is the same every time
                // (aws-lc-rs ignores the random source; it keeps ring's signature for it).
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &aws_lc_rs::rand::SystemRandom::new(),
                    data,
                    &mut signature,
                )
                .map_err(|_| SignError::Rsa)?;
                Ok(signature)
            }
            Pair::Ed25519(pair) => {
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
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
        // openssl writes PKCS#8 v1, without the public key, which the checked parser refuses;
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

/// The size check comes before the crypto library's, which would refuse a short key without saying its size.
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

fn rsa_key(parsed: Result<RsaKeyPair, aws_lc_rs::error::KeyRejected>) -> Result<Key, KeyError> {
    let pair = parsed.map_err(|e| KeyError::Rejected(e.to_string()))?;
    // DNS records carry the SubjectPublicKeyInfo (what `openssl pkey -pubout` writes); the
    // gives the bare RSAPublicKey inside it.
    let spki = pkcs8::spki::SubjectPublicKeyInfoRef {
        algorithm: pkcs1::ALGORITHM_ID,
        subject_public_key: BitStringRef::from_bytes(pair.public_key().as_ref())
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
