//! Why a message was not built: the renderer's content no message can carry ([`Unfit`], the
//! renderer's fault), or what the host made of the campaign and the list would not be
//! well-formed or signed ([`BuildError`]'s other variants, the host's).

use super::MAX_LINE;
use super::dkim::SignError;

/// What can go wrong building or signing one message (see [`crate::Error`] for the exit codes).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The renderer returned what no message can carry.
    #[error(transparent)]
    Unfit(#[from] Unfit),
    #[error("invalid recipient address")]
    Recipient(#[source] lettre::address::AddressError),
    /// A line would be longer than RFC 5322 allows (a campaign `from` too long for one line).
    #[error(
        "cannot build a well-formed message: its line {line} would be {len} octets long (at most {MAX_LINE})"
    )]
    LineTooLong { line: usize, len: usize },
    #[error(
        "cannot build a well-formed message: its line {line} would contain the octet 0x{octet:02X}"
    )]
    Octet { line: usize, octet: u8 },
    #[error("cannot build a well-formed message: its last line would not end")]
    LastLineUnended,
    #[error("cannot sign the message with DKIM")]
    Sign(#[from] SignError),
}

/// What a renderer returned that no message can carry. Only that message fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unfit {
    /// A CR or LF in the subject would end the header there and begin another.
    #[error("the subject contains a line break")]
    SubjectLineBreak,
    /// Any other control character (Unicode category Cc: U+0000–U+001F, U+007F–U+009F) but TAB
    /// in the subject; mail clients show them raw or drop them, and a terminal obeys them. TAB is
    /// whitespace in a header (RFC 5322 WSP) and the recipient list allows it in values, so it
    /// is carried, encoded.
    #[error("the subject contains the control character U+{:04X}", u32::from(*.0))]
    SubjectControl(char),
    /// A NUL in a body: RFC 5322 text has none, and a client may end the text there, hiding
    /// what follows from the reader but not from the leak scan.
    #[error("the {0} contains the NUL character U+0000")]
    Nul(Body),
}

/// Which body of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    Text,
    Html,
}

impl std::fmt::Display for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Body::Text => "text",
            Body::Html => "HTML",
        })
    }
}
