//! Rendered content → the exact RFC 5322 bytes that `render` writes and a send transmits.
//!
//! This is the one place headers are made. The host alone sets From, To, Date, Message-ID and
//! MIME-Version; the renderer supplies only a subject and bodies, so it cannot add or override a
//! header. The output is a pure function of its inputs (the MIME boundary is derived from the
//! content), so the same message always has the same bytes.

use std::time::SystemTime;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use sha2::{Digest, Sha256};

use crate::campaign::hex;
use crate::sandbox::Content;

/// Everything about a message that is not content.
pub struct Envelope<'a> {
    pub from: &'a Mailbox,
    pub to: &'a str,
    pub date: SystemTime,
    pub message_id: &'a str,
}

/// Builds the message. Fails only if `to` is not an address (the campaign loader has checked).
pub fn build(envelope: &Envelope<'_>, content: &Content) -> Result<Vec<u8>, String> {
    let to: Mailbox = envelope
        .to
        .parse()
        .map_err(|e| format!("invalid recipient address: {e}"))?;
    let builder = lettre::Message::builder()
        .from(envelope.from.clone())
        .to(to)
        .subject(content.subject.clone())
        .date(envelope.date)
        .message_id(Some(envelope.message_id.to_owned()));
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(content.text.clone());
    let message = match &content.html {
        None => builder.singlepart(text),
        Some(html) => builder.multipart(
            MultiPart::alternative()
                .boundary(boundary(content))
                .singlepart(text)
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html.clone()),
                ),
        ),
    }
    .map_err(|e| format!("cannot build the message: {e}"))?;
    Ok(message.formatted())
}

/// `<campaign.N@from-domain>`: unique per campaign and recipient, stable across runs.
pub fn message_id(fingerprint: &str, index: usize, from: &Mailbox) -> String {
    format!(
        "<{}.{index}@{}>",
        &fingerprint[..fingerprint.len().min(16)],
        from.email.domain()
    )
}

/// A boundary that cannot occur in the content it separates (it is a hash of that content).
fn boundary(content: &Content) -> String {
    let mut h = Sha256::new();
    h.update(content.subject.as_bytes());
    h.update([0]);
    h.update(content.text.as_bytes());
    h.update([0]);
    h.update(content.html.as_deref().unwrap_or("").as_bytes());
    format!("isomail-{}", &hex(&h.finalize())[..32])
}

/// SHA-256 of a message's bytes, hex: what the journal records and a send re-checks.
pub fn content_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}
