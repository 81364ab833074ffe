//! The campaign: `campaign.toml`, its templates and its recipient list, validated.
//!
//! Loading checks everything that can be checked without rendering and reports the first problem
//! as one sentence naming the file, line and field. Recipients are streamed from the CSV twice
//! (a validating pass, then the rendering pass) and never held in memory whole; only the
//! lower-cased addresses are kept, for duplicate detection and the leak scan.

mod delivery;
mod error;
mod keys;
pub mod recipients;
pub mod sample;
pub mod suppress;
pub mod tokens;

pub use error::CampaignError;
pub(crate) use error::Invalid;

use std::path::{Path, PathBuf};

use lettre::message::Mailbox;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::digest::hex;
use crate::sandbox::{Format, Limits, MAX_RENDERER_BYTES, Templates};
use delivery::DeliveryFile;
pub use delivery::{Bounces, Delivery, DomainLimit, Relay, Secret, Stage, Target, Tls};
pub use recipients::{Recipient, RecipientList};
pub use suppress::{Suppression, normalise};
pub use tokens::{Tokens, Unsubscribe};
use tokens::{TokensSection, UnsubscribeSection};

/// `campaign.toml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignFile {
    message: MessageSection,
    recipients: RecipientsSection,
    #[serde(default)]
    delivery: DeliveryFile,
    tokens: Option<TokensSection>,
    unsubscribe: Option<UnsubscribeSection>,
    #[serde(default)]
    dkim: Vec<keys::DkimSection>,
    #[serde(default)]
    sandbox: Limits,
    bounces: Option<delivery::BouncesFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageSection {
    from: String,
    subject: String,
    text: Option<PathBuf>,
    html: Option<PathBuf>,
    /// Instead of `text` and `html`: the text part is this rendered Markdown, the HTML part is
    /// made from it.
    markdown: Option<PathBuf>,
    /// Instead of `html`: MJML, rendered and then turned into responsive HTML.
    mjml: Option<PathBuf>,
    renderer: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipientsSection {
    path: PathBuf,
    #[serde(default)]
    private: Vec<String>,
    #[serde(default)]
    suppress: Vec<PathBuf>,
}

/// Which renderer component a campaign uses.
#[derive(Debug, Clone)]
pub enum RendererChoice {
    Builtin,
    File { path: PathBuf, bytes: Vec<u8> },
}

/// A validated campaign. Everything in it has been checked; nothing has been rendered.
#[derive(Debug)]
pub struct Campaign {
    /// The campaign file, as given.
    pub path: PathBuf,
    /// The folder it is in: what every path in it is relative to.
    pub dir: PathBuf,
    pub from: Mailbox,
    pub templates: Templates,
    /// Where each template came from, for error messages: subject, text, html.
    pub template_sources: [String; 3],
    pub renderer: RendererChoice,
    pub recipients: RecipientList,
    pub private_fields: Vec<String>,
    pub delivery: Delivery,
    pub limits: Limits,
    /// `[tokens]`: each recipient's token, when the campaign uses them.
    pub tokens: Option<Tokens>,
    /// `[unsubscribe]`: the List-Unsubscribe targets (tokens are then always present).
    pub unsubscribe: Option<Unsubscribe>,
    /// `[recipients] suppress`: read now, and again at every stage boundary of a send.
    pub suppression: Suppression,
    /// `[[dkim]]`: every message is signed by each, in order, after it is built.
    pub dkim: Vec<crate::message::dkim::Signer>,
    /// `[bounces]`: the bounce mailbox and the gate's wait (defaults: none, 0 s).
    pub bounces: Bounces,
    /// SHA-256 over templates, renderer and recipient list: what a journal pins.
    pub fingerprint: String,
}

impl Campaign {
    /// Loads and validates `path` and everything it refers to.
    pub fn load(path: &Path) -> Result<Campaign, CampaignError> {
        let shown = path.display().to_string();
        let file = read_campaign_file(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let message = Message::load(&file.message, base, &shown)?;
        let delivery = file
            .delivery
            .check(base)
            .map_err(|why| why.in_section(&shown, "delivery"))?;
        let bounces = match file.bounces {
            None => Bounces::default(),
            Some(b) => b
                .check(base)
                .map_err(|why| why.in_section(&shown, "bounces"))?,
        };
        file.sandbox
            .validate()
            .map_err(|why| CampaignError::setting(&shown, "sandbox", why.to_string()))?;

        let recipients = load_recipients(&file.recipients, base, &shown)?;
        let (tokens, unsubscribe) = tokens_and_unsubscribe(
            file.tokens.as_ref(),
            file.unsubscribe.as_ref(),
            base,
            &shown,
        )?;
        check_across_sections(
            &shown,
            &delivery,
            &recipients,
            tokens.as_ref(),
            unsubscribe.as_ref(),
        )?;
        let suppression = Suppression::load(suppress::files(base, &file.recipients.suppress))?;
        let dkim = keys::dkim_signers(&file.dkim, base, &shown)?;
        let fingerprint = signed_fingerprint(
            message.fingerprint(&recipients),
            &dkim,
            tokens.as_ref().zip(unsubscribe.as_ref()),
        );
        Ok(Campaign {
            path: path.to_path_buf(),
            dir: base.to_path_buf(),
            from: message.from,
            templates: message.templates,
            template_sources: message.sources,
            renderer: message.renderer,
            recipients,
            private_fields: file.recipients.private,
            delivery,
            limits: file.sandbox,
            tokens,
            unsubscribe,
            suppression,
            dkim,
            bounces,
            fingerprint,
        })
    }
}

/// `campaign.toml`, read within its ceiling and parsed.
fn read_campaign_file(path: &Path) -> Result<CampaignFile, CampaignError> {
    let shown = path.display().to_string();
    let text = crate::input_file::read_text(path, crate::input_file::TEXT_MAX_BYTES).map_err(
        |e| match e {
            Ok(crate::input_file::Refusal::Unreadable(e)) => {
                CampaignError::unreadable(path, "cannot read the campaign file", e)
            }
            Ok(refusal) => CampaignError::file(
                crate::input_file::shown(path),
                format!("the campaign file {refusal}"),
            ),
            Err(at) => {
                CampaignError::file(&shown, format!("not UTF-8 (invalid byte at offset {at})"))
            }
        },
    )?;
    toml::from_str(&text).map_err(|e| CampaignError::file(&shown, one_line(&e.to_string())))
}

/// What one section needs of another: the unsubscribe field must not be a list column, and a
/// VERP return path needs tokens.
fn check_across_sections(
    shown: &str,
    delivery: &Delivery,
    recipients: &RecipientList,
    token_secret: Option<&Tokens>,
    unsubscribe: Option<&Unsubscribe>,
) -> Result<(), CampaignError> {
    if unsubscribe.is_some()
        && recipients
            .columns()
            .iter()
            .any(|c| c == tokens::UNSUBSCRIBE_FIELD)
    {
        return Err(CampaignError::line(
            recipients.path(),
            1,
            None,
            format!(
                "the column `{}` is what [unsubscribe] gives the renderer; rename it",
                tokens::UNSUBSCRIBE_FIELD
            ),
        ));
    }
    if delivery.return_path.is_some() && token_secret.is_none() {
        return Err(CampaignError::key(
            shown,
            "delivery",
            "return_path",
            format!(
                "return_path needs a [tokens] section for its {}",
                tokens::TOKEN
            ),
        ));
    }
    Ok(())
}

/// The recipient list, with the `private` fields it must have.
fn load_recipients(
    section: &RecipientsSection,
    base: &Path,
    shown: &str,
) -> Result<RecipientList, CampaignError> {
    let recipients = RecipientList::scan(&resolve(base, &section.path), &section.private)?;
    for (i, field) in section.private.iter().enumerate() {
        if !recipients.columns().iter().any(|c| c == field) {
            return Err(CampaignError::key(
                shown,
                "recipients",
                "private",
                format!(
                    "private[{i}] = \"{field}\" is not a column of {}",
                    recipients.path().display()
                ),
            ));
        }
    }
    Ok(recipients)
}

/// The fingerprint, extended by what else makes the bytes: other keys, another token secret or
/// unsubscribe target make other messages, which is a changed campaign (refused on resume)
/// rather than a hash mismatch found one message at a time.
fn signed_fingerprint(
    fingerprint: String,
    dkim: &[crate::message::dkim::Signer],
    unsubscribe: Option<(&Tokens, &Unsubscribe)>,
) -> String {
    let mut extra: Vec<String> = dkim
        .iter()
        .map(|s| format!("{}={}", s.dns_name(), s.dns_record()))
        .collect();
    if let Some((tokens, unsubscribe)) = unsubscribe {
        extra.push(tokens.token("isomail@fingerprint.invalid"));
        extra.push(unsubscribe.describe());
    }
    if extra.is_empty() {
        return fingerprint;
    }
    hex(&Sha256::digest(format!(
        "{fingerprint}\0{}",
        extra.join("\0")
    )))
}

impl Campaign {
    /// The envelope sender (MAIL FROM) for `email`: the `return_path` with its token (VERP),
    /// or the From address.
    pub fn envelope_sender(&self, email: &str) -> String {
        match (&self.delivery.return_path, &self.tokens) {
            (Some(path), Some(tokens)) => path.replace(tokens::TOKEN, &tokens.token(email)),
            _ => self.from.email.to_string(),
        }
    }
}

/// `[tokens]` and `[unsubscribe]`, checked together: an unsubscribe URL needs tokens.
fn tokens_and_unsubscribe(
    tokens: Option<&TokensSection>,
    unsubscribe: Option<&UnsubscribeSection>,
    base: &Path,
    shown: &str,
) -> Result<(Option<Tokens>, Option<Unsubscribe>), CampaignError> {
    let tokens = match tokens {
        Some(section) => Some(
            section
                .load(base)
                .map_err(|why| why.in_section(shown, "tokens"))?,
        ),
        None => None,
    };
    let unsubscribe = match unsubscribe {
        None => None,
        Some(_) if tokens.is_none() => {
            return Err(CampaignError::setting(
                shown,
                "unsubscribe",
                format!("needs a [tokens] section for its {}", tokens::TOKEN),
            ));
        }
        Some(section) => Some(
            UnsubscribeSection::check(section.clone())
                .map_err(|why| why.in_section(shown, "unsubscribe"))?,
        ),
    };
    Ok((tokens, unsubscribe))
}

/// `[message]`, read and checked: the sender, the templates and the renderer.
struct Message {
    from: Mailbox,
    templates: Templates,
    sources: [String; 3],
    renderer: RendererChoice,
}

impl Message {
    fn load(section: &MessageSection, base: &Path, shown: &str) -> Result<Message, CampaignError> {
        let from: Mailbox = section.from.parse().map_err(|e| CampaignError::Setting {
            file: shown.to_owned(),
            section: "message",
            key: Some("from"),
            reason: format!("from = \"{}\" is not a valid address", section.from),
            source: Some(Box::new(e)),
        })?;
        if let Some(why) = header_refusal(&from) {
            return Err(CampaignError::key(
                shown,
                "message",
                "from",
                format!("from = \"{}\": {why}", crate::term::shown(&section.from)),
            ));
        }
        if section.subject.contains(['\r', '\n']) {
            return Err(CampaignError::key(
                shown,
                "message",
                "subject",
                "subject must be one line",
            ));
        }
        let (format, text_key, text_path, html_key, html_path) = body_templates(section, shown)?;
        let text_path = resolve(base, text_path);
        let html_path = html_path.map(|p| resolve(base, p));
        let templates = Templates {
            subject: section.subject.clone(),
            text: read_template(&text_path, text_key, shown)?,
            html: match (format, &html_path) {
                // The HTML part is made from the Markdown: no template of its own.
                (Format::Markdown, _) | (_, None) => None,
                (_, Some(p)) => Some(read_template(p, html_key, shown)?),
            },
            format,
        };
        let renderer = match &section.renderer {
            None => RendererChoice::Builtin,
            Some(p) => {
                let p = resolve(base, p);
                let bytes = read_renderer(&p).map_err(|why| {
                    CampaignError::key(
                        shown,
                        "message",
                        "renderer",
                        format!("renderer = \"{}\": {why}", p.display()),
                    )
                })?;
                RendererChoice::File { path: p, bytes }
            }
        };
        Ok(Message {
            from,
            templates,
            sources: [
                format!("{shown} ([message] subject)"),
                text_path.display().to_string(),
                html_path.map_or_else(String::new, |p| p.display().to_string()),
            ],
            renderer,
        })
    }

    /// SHA-256 over templates, renderer, sender and recipient list: what a journal pins.
    fn fingerprint(&self, recipients: &RecipientList) -> String {
        let templates = &self.templates;
        let mut hasher = Sha256::new();
        // Plain campaigns hash as they did before formats existed, so their journals still match.
        match templates.format {
            Format::Plain => {}
            Format::Markdown => hasher.update(b"format=markdown"),
            Format::Mjml => hasher.update(b"format=mjml"),
        }
        for part in [
            templates.subject.as_bytes(),
            templates.text.as_bytes(),
            templates.html.as_deref().unwrap_or("").as_bytes(),
        ] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        match &self.renderer {
            RendererChoice::Builtin => hasher.update(crate::sandbox::BUILTIN_RENDERER),
            RendererChoice::File { bytes, .. } => hasher.update(bytes),
        }
        hasher.update(self.from.to_string().as_bytes());
        hasher.update(recipients.fingerprint().as_bytes());
        hex(&hasher.finalize())
    }
}

/// Which `[message]` keys hold the body templates: the format, then the text part's key and
/// file, then the HTML part's key and file. For Markdown both parts come from the one file.
fn body_templates<'a>(
    section: &'a MessageSection,
    shown: &str,
) -> Result<
    (
        Format,
        &'static str,
        &'a Path,
        &'static str,
        Option<&'a Path>,
    ),
    CampaignError,
> {
    let refuse = |why: &str| Err(CampaignError::setting(shown, "message", why));
    match (
        &section.text,
        &section.html,
        &section.markdown,
        &section.mjml,
    ) {
        (_, _, Some(_), Some(_)) => {
            refuse("has both markdown and mjml: choose one (markdown makes the HTML part itself)")
        }
        (Some(_), _, Some(_), _) => refuse(
            "has both text and markdown: with markdown, the text part is the rendered Markdown",
        ),
        (_, Some(_), Some(_), _) => refuse(
            "has both html and markdown: with markdown, the HTML part is made from the Markdown",
        ),
        (_, Some(_), _, Some(_)) => {
            refuse("has both html and mjml: with mjml, the HTML part is made from the MJML")
        }
        (None, None, Some(md), None) => Ok((
            Format::Markdown,
            "[message] markdown",
            md,
            "[message] markdown",
            Some(md),
        )),
        (Some(text), None, None, Some(mjml)) => Ok((
            Format::Mjml,
            "[message] text",
            text,
            "[message] mjml",
            Some(mjml),
        )),
        (Some(text), html, None, None) => Ok((
            Format::Plain,
            "[message] text",
            text,
            "[message] html",
            html.as_deref(),
        )),
        (None, _, None, _) => refuse(
            "needs the body: text = \"…\" (a text template, with html or mjml beside it if you \
             like) or markdown = \"…\"",
        ),
    }
}

/// Why no message from `from` can be well-formed (a display name too long for a header line
/// would otherwise fail every message at the last check), found by building one; `None` if it can.
fn header_refusal(from: &Mailbox) -> Option<String> {
    let envelope = crate::message::Envelope {
        from,
        to: "probe@isomail.invalid",
        date: std::time::SystemTime::UNIX_EPOCH,
        message_id: "<probe@isomail.invalid>",
        list_unsubscribe: None,
    };
    let content = crate::sandbox::Content {
        subject: "probe".into(),
        text: "probe".into(),
        html: None,
    };
    crate::message::build(&envelope, &content)
        .err()
        .map(|why| crate::chain(&why))
}

/// A path from the campaign file, relative to the campaign's folder unless absolute.
fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Reads a renderer component, refusing one over [`MAX_RENDERER_BYTES`] before reading it all
/// (and whatever it grows to while being read).
fn read_renderer(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let too_big = || {
        format!(
            "larger than the {} MiB a renderer may be",
            MAX_RENDERER_BYTES >> 20
        )
    };
    let file = crate::input_file::open(path, MAX_RENDERER_BYTES).map_err(|e| match e {
        crate::input_file::Refusal::TooLarge { .. } => too_big(),
        crate::input_file::Refusal::Unreadable(e) => format!("cannot read it: {e}"),
        refusal => format!("{} {refusal}", crate::input_file::shown(path)),
    })?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read it: {e}"))?
        .len();
    if len > MAX_RENDERER_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_RENDERER_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > MAX_RENDERER_BYTES {
        return Err(too_big());
    }
    Ok(bytes)
}

/// A template file as the renderer gets it: a UTF-8 byte order mark dropped and CRLF line endings
/// made LF, so a template saved on Windows reads as the same template saved anywhere else (MJML's
/// parser refuses a CR; the message builder writes CRLF itself).
fn read_template(path: &Path, key: &'static str, campaign: &str) -> Result<String, CampaignError> {
    let text = crate::input_file::read_text_for(key, path, crate::input_file::TEXT_MAX_BYTES)
        .map_err(|why| CampaignError::file(campaign, why.to_string()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    Ok(text.replace("\r\n", "\n"))
}

/// TOML errors come with a multi-line snippet; the operator gets its first meaningful line.
fn one_line(message: &str) -> String {
    let mut lines = message.lines().filter(|l| !l.trim().is_empty());
    let head = lines.next().unwrap_or("invalid TOML").trim().to_owned();
    let tail = message
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.contains('|'))
        .map(str::trim);
    match tail {
        Some(t) if t != head => format!("{}: {t}", head.trim_start_matches("TOML parse error at ")),
        _ => head,
    }
}
