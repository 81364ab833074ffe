//! What can be wrong with a transport's settings: a relay URL, its `ca_file`, its TLS setup.
//! Each text is the phrase that follows the key naming the setting; the caller says which file
//! and key.

use crate::input_file::Refusal;

/// A relay the campaign names that cannot be used as written (see [`crate::Error`] for the
/// exit codes).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("not a valid URL")]
    NotAUrl(#[source] url::ParseError),
    #[error("must start with smtp:// or smtps://, not {0}:")]
    Scheme(String),
    #[error("put no password in the URL; use password_env or password_file")]
    PasswordInUrl,
    #[error("a relay URL has no path (`{0}`)")]
    Path(String),
    #[error("a relay URL has no query (`?…`) or fragment (`#…`)")]
    QueryOrFragment,
    #[error("no host")]
    NoHost,
    #[error("the user name is not UTF-8 once decoded")]
    UserNotUtf8,
    /// The refusal reads on from the file's name (`ca_file x.pem is a directory, …`), so it
    /// is part of this text rather than a cause after a colon.
    #[error("ca_file {shown} {refusal}")]
    CaFileRefused { shown: String, refusal: Refusal },
    #[error("ca_file {}: not a PEM certificate", .path.display())]
    CaFileNotPem {
        path: std::path::PathBuf,
        #[source]
        source: LettreError,
    },
    #[error("TLS setup")]
    TlsSetup(#[source] LettreError),
}

/// lettre's error, whose own text already ends with its cause: shown as it is and given no
/// further source, so [`crate::chain`] does not say that cause twice.
#[derive(Debug)]
pub struct LettreError(pub lettre::transport::smtp::Error);

impl std::fmt::Display for LettreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for LettreError {}
