//! Per-recipient tokens (`[tokens]`) and one-click unsubscribe (`[unsubscribe]`, RFC 2369 and
//! RFC 8058).
//!
//! A token is HMAC-SHA256(secret, normalised address), its first 16 bytes, base64url without
//! padding: 22 characters an operator's web endpoint can recompute to verify a request without
//! isomail. The address is normalised as [`super::normalise`] says: trimmed and lower-cased, and
//! beyond ASCII also in NFC with an internationalised domain as its A-labels (UTF-8 bytes), so
//! every spelling of one address has one token, and an ASCII address's token is its lower-cased
//! form's, as it always was. The secret comes from an environment variable or a file, never the campaign file or
//! the command line, and is never printed.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde::Deserialize;

use super::Invalid;

/// The placeholder a URL or address template carries.
pub const TOKEN: &str = "{token}";
/// The field a renderer gets the recipient's own unsubscribe URL in.
pub const UNSUBSCRIBE_FIELD: &str = "unsubscribe_url";
/// Longer unsubscribe URLs are refused: the header line must stay under 998 octets.
const MAX_URL: usize = 800;
/// Shorter secrets are refused: 16 bytes is the token's own length.
const MIN_SECRET_BYTES: usize = 16;

/// `[tokens]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TokensSection {
    secret_env: Option<String>,
    secret_file: Option<PathBuf>,
}

/// `[unsubscribe]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UnsubscribeSection {
    url: String,
    mailto: Option<String>,
}

/// Makes each recipient's token.
pub struct Tokens {
    key: ring::hmac::Key,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(<secret>)")
    }
}

impl Tokens {
    pub fn from_secret(secret: &[u8]) -> Tokens {
        Tokens {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
        }
    }

    /// `email`'s token: HMAC-SHA256 over its normalised form, 16 bytes, base64url unpadded.
    pub fn token(&self, email: &str) -> String {
        let tag = ring::hmac::sign(&self.key, super::suppress::normalise(email).as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag.as_ref()[..16])
    }
}

/// The unsubscribe targets, each with `{token}` in it.
#[derive(Debug, Clone)]
pub struct Unsubscribe {
    url: String,
    mailto: Option<String>,
}

impl Unsubscribe {
    /// The recipient's one-click URL (also the renderer's `unsubscribe_url`).
    pub fn url(&self, token: &str) -> String {
        self.url.replace(TOKEN, token)
    }

    /// The `List-Unsubscribe` value: `<https://…>` and, if configured, `<mailto:…>`.
    pub fn header(&self, token: &str) -> String {
        match &self.mailto {
            Some(mailto) => format!(
                "<{}>, <mailto:{}>",
                self.url(token),
                mailto.replace(TOKEN, token)
            ),
            None => format!("<{}>", self.url(token)),
        }
    }

    /// What the campaign's fingerprint covers.
    pub fn describe(&self) -> String {
        format!("{} {}", self.url, self.mailto.as_deref().unwrap_or(""))
    }
}

impl TokensSection {
    /// Reads the secret; `base` is the campaign's folder.
    pub(super) fn load(&self, base: &Path) -> Result<Tokens, Invalid> {
        let secret = match (&self.secret_env, &self.secret_file) {
            (Some(_), Some(_)) => {
                return Err(Invalid::new(
                    "secret_env",
                    "give secret_env or secret_file, not both",
                ));
            }
            (None, None) => {
                return Err(Invalid::new("secret_env", "give secret_env or secret_file"));
            }
            (Some(var), None) => std::env::var(var)
                .map_err(|_| {
                    Invalid::new(
                        "secret_env",
                        format!("secret_env = \"{var}\": that environment variable is not set"),
                    )
                })?
                .into_bytes(),
            (None, Some(file)) => {
                let path = base.join(file);
                let mut bytes = crate::input_file::read_secret(&path).map_err(|e| {
                    Invalid::new(
                        "secret_file",
                        format!("secret_file = \"{}\" {e}", crate::input_file::shown(&path)),
                    )
                })?;
                while bytes.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
                    bytes.pop();
                }
                bytes
            }
        };
        if secret.len() < MIN_SECRET_BYTES {
            let key = if self.secret_env.is_some() {
                "secret_env"
            } else {
                "secret_file"
            };
            return Err(Invalid::new(
                key,
                format!(
                    "the secret must be at least {MIN_SECRET_BYTES} bytes (it is {})",
                    secret.len()
                ),
            ));
        }
        Ok(Tokens::from_secret(&secret))
    }
}

impl UnsubscribeSection {
    /// Checks both targets: `url` an https URL and `mailto` an address, each with `{token}`.
    pub(super) fn check(self) -> Result<Unsubscribe, Invalid> {
        let sample = "AAAAAAAAAAAAAAAAAAAAAA";
        if !self.url.contains(TOKEN) {
            return Err(Invalid::new(
                "url",
                format!("url = \"{}\" has no {TOKEN}", self.url),
            ));
        }
        let url = url::Url::parse(&self.url.replace(TOKEN, sample)).map_err(|e| {
            Invalid::new(
                "url",
                format!("url = \"{}\": not a valid URL: {e}", self.url),
            )
        })?;
        // Written as the URL parser writes it, so the header carries exactly what was checked:
        // printable ASCII, nothing to normalise, short enough for a header line.
        if url.as_str() != self.url.replace(TOKEN, sample) || self.url.len() > MAX_URL {
            return Err(Invalid::new(
                "url",
                format!(
                    "url = \"{}\": write it in its normal form, at most {MAX_URL} characters (`{}`)",
                    self.url,
                    url.as_str().replace(sample, TOKEN)
                ),
            ));
        }
        if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
            return Err(Invalid::new(
                "url",
                format!(
                    "url = \"{}\": must be an https:// URL (RFC 8058 one-click unsubscribe)",
                    self.url
                ),
            ));
        }
        if let Some(mailto) = &self.mailto {
            if !mailto.contains(TOKEN) {
                return Err(Invalid::new(
                    "mailto",
                    format!("mailto = \"{mailto}\" has no {TOKEN}"),
                ));
            }
            mailto
                .replace(TOKEN, sample)
                .parse::<lettre::Address>()
                .map_err(|e| {
                    Invalid::new(
                        "mailto",
                        format!("mailto = \"{mailto}\": not an email address: {e}"),
                    )
                })?;
        }
        Ok(Unsubscribe {
            url: self.url,
            mailto: self.mailto,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_the_documented_hmac() {
        // Computed outside isomail: python3 -c "import hmac,hashlib,base64;
        // print(base64.urlsafe_b64encode(hmac.new(b'0123456789abcdef-secret',
        // b'ann@example.org', hashlib.sha256).digest()[:16]).rstrip(b'=').decode())"
        let tokens = Tokens::from_secret(b"0123456789abcdef-secret");
        let token = tokens.token("Ann@Example.ORG");
        assert_eq!(token, tokens.token("ann@example.org"));
        assert_eq!(token, "0yyXAIkoyugBXSiRIvUgUA");
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(token, tokens.token("bob@example.org"));
        assert_ne!(
            token,
            Tokens::from_secret(b"another-secret-of-16").token("ann@example.org")
        );
    }

    #[test]
    fn every_spelling_of_an_address_has_one_token_and_ascii_tokens_are_unchanged() {
        // Computed with Python's hmac for tests/bounces/fixtures (its README), before addresses
        // were normalised beyond lower-casing: an ASCII token must not change.
        let tokens = Tokens::from_secret(b"a-bounce-test-secret-of-length");
        assert_eq!(tokens.token("ann@example.com"), "UewBCXxtpMRdiWlP41HtlA");
        assert_eq!(tokens.token("DAN@Example.com"), "AsZLKKV53G35Boe2Jesc0A");
        // Python's hmac over "jörg@xn--bcher-kva.example" (NFC, UTF-8): the documented form.
        let nfc = tokens.token("jörg@bücher.example");
        assert_eq!(nfc, "4MG0rkw_CPgM8YzYpF0PVQ");
        for spelling in [
            "jo\u{308}rg@bu\u{308}cher.example",
            "JÖRG@Bücher.Example",
            "jörg@xn--bcher-kva.example",
            " jörg@bücher.example ",
        ] {
            assert_eq!(tokens.token(spelling), nfc, "{spelling:?}");
        }
        // Controls, also from Python: the HMAC of the NFD bytes (what lower-casing alone gave)
        // and of the Unicode domain differ, so a token over either would fail the loop above.
        assert_ne!(nfc, "OcAmivgbH88g9pR-6yzHiQ");
        assert_ne!(nfc, "BlnC9oXDgquA0iPd7V2ABw");
        assert_ne!(nfc, tokens.token("jorg@bücher.example"));
    }

    #[test]
    fn unsubscribe_targets_are_checked() {
        let check = |url: &str, mailto: Option<&str>| {
            UnsubscribeSection {
                url: url.into(),
                mailto: mailto.map(Into::into),
            }
            .check()
        };
        let ok = check("https://x.org/u/{token}", Some("unsub+{token}@x.org")).expect("ok");
        assert_eq!(
            ok.header("T0k"),
            "<https://x.org/u/T0k>, <mailto:unsub+T0k@x.org>"
        );
        assert!(
            check("http://x.org/u/{token}", None)
                .unwrap_err()
                .to_string()
                .contains("https://")
        );
        assert!(
            check("https://x.org/u", None)
                .unwrap_err()
                .to_string()
                .contains("no {token}")
        );
        // The refusal keeps the key it is about, for the campaign error that names it.
        let key_of =
            |refused: crate::campaign::Invalid| match refused.in_section("c.toml", "unsubscribe") {
                crate::campaign::CampaignError::Setting { key, .. } => key,
                other => panic!("not a setting: {other}"),
            };
        assert_eq!(
            key_of(check("https://x.org/u", None).unwrap_err()),
            Some("url")
        );
        assert_eq!(
            key_of(check("https://x.org/{token}", Some("u@x.org")).unwrap_err()),
            Some("mailto")
        );
        assert!(check("https:///{token}", None).is_err());
        assert!(check("https://x.org/{token}", Some("not an address {token}")).is_err());
        assert!(
            check("https://x.org/{token}", Some("u@x.org"))
                .unwrap_err()
                .to_string()
                .contains("no {token}")
        );
    }
}
