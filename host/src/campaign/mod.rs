//! The campaign: `campaign.toml`, its templates and its recipient list, validated.
//!
//! Loading checks everything that can be checked without rendering and reports the first problem
//! as one sentence naming the file, line and field. Recipients are streamed from the CSV twice
//! (a validating pass, then the rendering pass) and never held in memory whole; only the
//! lower-cased addresses are kept, for duplicate detection and the leak scan.

pub mod recipients;

use std::path::{Path, PathBuf};

use lettre::message::Mailbox;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::sandbox::{Limits, MAX_RENDERER_BYTES, Templates};
use crate::transport::smtp::RelayUrl;
pub use recipients::{Recipient, RecipientList};

/// `campaign.toml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignFile {
    message: MessageSection,
    recipients: RecipientsSection,
    #[serde(default)]
    delivery: Delivery,
    #[serde(default)]
    sandbox: Limits,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageSection {
    from: String,
    subject: String,
    text: PathBuf,
    html: Option<PathBuf>,
    renderer: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipientsSection {
    path: PathBuf,
    #[serde(default)]
    private: Vec<String>,
}

/// `[delivery]`: where and how fast messages go. Parsed and validated now so a typo fails
/// `check`, not the first `send`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    pub smtp: Option<String>,
    pub tls: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    #[serde(default = "Delivery::default_outbox")]
    pub outbox: PathBuf,
    #[serde(default = "Delivery::default_stages")]
    pub stages: Vec<Stage>,
    #[serde(default = "Delivery::default_rate")]
    pub rate: f64,
    #[serde(default = "Delivery::default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "Delivery::default_max_failure_rate")]
    pub max_failure_rate: f64,
    #[serde(default)]
    pub seed: Vec<String>,
    /// Seconds before a transiently refused message is tried again (up to 3 attempts).
    #[serde(default = "Delivery::default_retry_delay")]
    pub retry_delay: f64,
    /// Seconds to wait for an SMTP connection, or for the reply to one command; the reply to
    /// the message body may take twice as long.
    #[serde(default = "Delivery::default_timeout")]
    pub timeout: f64,
    /// TCP_NODELAY on SMTP connections; off only to measure what Nagle's algorithm costs.
    #[serde(default = "Delivery::default_tcp_nodelay")]
    pub tcp_nodelay: bool,
    /// `smtp`, parsed when the campaign loads.
    #[serde(skip)]
    pub relay: Option<RelayUrl>,
}

/// One entry of `stages`: a cumulative count, or `"all"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Stage {
    Count(u64),
    Word(String),
}

impl Delivery {
    fn default_outbox() -> PathBuf {
        PathBuf::from("outbox")
    }
    fn default_stages() -> Vec<Stage> {
        [1, 10, 100, 1000]
            .into_iter()
            .map(Stage::Count)
            .chain([Stage::Word("all".into())])
            .collect()
    }
    fn default_rate() -> f64 {
        50.0
    }
    fn default_concurrency() -> usize {
        4
    }
    fn default_max_failure_rate() -> f64 {
        0.05
    }
    fn default_retry_delay() -> f64 {
        30.0
    }
    fn default_timeout() -> f64 {
        60.0
    }
    fn default_tcp_nodelay() -> bool {
        true
    }

    /// Checks everything `send` will rely on except the secrets themselves, so `check` and
    /// `send --dry-run` accept exactly what a real `send` accepts. `base` is the campaign's
    /// folder, for `ca_file`.
    fn validate(&mut self, base: &Path) -> Result<(), String> {
        if let Some(tls) = &self.tls
            && !["required", "none"].contains(&tls.as_str())
        {
            return Err(format!("tls must be \"required\" or \"none\", not `{tls}`"));
        }
        if let Some(url) = &self.smtp {
            let relay = RelayUrl::parse(url).map_err(|why| format!("smtp = \"{url}\": {why}"))?;
            if relay.implicit_tls && self.tls.as_deref() == Some("none") {
                return Err(format!(
                    "smtp = \"{url}\": smtps:// is TLS by definition; tls = \"none\" contradicts it"
                ));
            }
            if relay.user.is_some() && self.password_env.is_none() && self.password_file.is_none() {
                return Err(format!(
                    "smtp = \"{url}\": a user is given but no password_env or password_file"
                ));
            }
            self.relay = Some(relay);
        }
        if let Some(ca) = &self.ca_file {
            crate::transport::smtp::read_ca_file(&base.join(ca))?;
        }
        if !(self.rate > 0.0 && self.rate.is_finite()) {
            return Err("rate must be a positive number of messages per second".into());
        }
        if self.concurrency == 0 || self.concurrency > 256 {
            return Err("concurrency must be between 1 and 256".into());
        }
        if !(self.timeout > 0.0 && self.timeout <= 3600.0) {
            return Err("timeout must be more than 0 and at most 3600 seconds".into());
        }
        if !(0.0..=3600.0).contains(&self.retry_delay) {
            return Err("retry_delay must be between 0 and 3600 seconds".into());
        }
        if self.password_env.is_some() && self.password_file.is_some() {
            return Err("give password_env or password_file, not both".into());
        }
        if !(0.0..=1.0).contains(&self.max_failure_rate) {
            return Err("max_failure_rate must be between 0 and 1".into());
        }
        let mut last = 0;
        for (i, stage) in self.stages.iter().enumerate() {
            match stage {
                Stage::Count(n) if *n > last => last = *n,
                Stage::Count(n) => {
                    return Err(format!(
                        "stages[{i}] = {n} must be larger than the stage before it (stages are cumulative)"
                    ));
                }
                Stage::Word(w) if w == "all" && i + 1 == self.stages.len() => {}
                Stage::Word(w) => {
                    return Err(format!(
                        "stages[{i}] = \"{w}\": only the last stage may be \"all\""
                    ));
                }
            }
        }
        for (i, seed) in self.seed.iter().enumerate() {
            seed.parse::<lettre::Address>()
                .map_err(|e| format!("seed[{i}] = \"{seed}\" is not an email address: {e}"))?;
        }
        Ok(())
    }
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            smtp: None,
            tls: None,
            password_env: None,
            password_file: None,
            ca_file: None,
            outbox: Self::default_outbox(),
            stages: Self::default_stages(),
            rate: Self::default_rate(),
            concurrency: Self::default_concurrency(),
            max_failure_rate: Self::default_max_failure_rate(),
            seed: Vec::new(),
            retry_delay: Self::default_retry_delay(),
            timeout: Self::default_timeout(),
            tcp_nodelay: Self::default_tcp_nodelay(),
            relay: None,
        }
    }
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
    pub from: Mailbox,
    pub templates: Templates,
    /// Where each template came from, for error messages: subject, text, html.
    pub template_sources: [String; 3],
    pub renderer: RendererChoice,
    pub recipients: RecipientList,
    pub private_fields: Vec<String>,
    pub delivery: Delivery,
    pub limits: Limits,
    /// SHA-256 over templates, renderer and recipient list: what a journal pins.
    pub fingerprint: String,
}

impl Campaign {
    /// Loads and validates `path` and everything it refers to.
    pub fn load(path: &Path) -> Result<Campaign, Error> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::input(format!("{shown}: cannot read the campaign file: {e}")))?;
        let file: CampaignFile = toml::from_str(&text)
            .map_err(|e| Error::input(format!("{shown}: {}", one_line(&e.to_string()))))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };

        let from: Mailbox = file.message.from.parse().map_err(|e| {
            Error::input(format!(
                "{shown}: [message] from = \"{}\" is not a valid address: {e}",
                file.message.from
            ))
        })?;
        if file.message.subject.contains(['\r', '\n']) {
            return Err(Error::input(format!(
                "{shown}: [message] subject must be one line"
            )));
        }
        let text_path = resolve(&file.message.text);
        let html_path = file.message.html.as_deref().map(&resolve);
        let templates = Templates {
            subject: file.message.subject.clone(),
            text: read_template(&text_path, "[message] text", &shown)?,
            html: html_path
                .as_deref()
                .map(|p| read_template(p, "[message] html", &shown))
                .transpose()?,
        };
        let renderer = match &file.message.renderer {
            None => RendererChoice::Builtin,
            Some(p) => {
                let p = resolve(p);
                let bytes = read_renderer(&p).map_err(|why| {
                    Error::input(format!(
                        "{shown}: [message] renderer = \"{}\": {why}",
                        p.display()
                    ))
                })?;
                RendererChoice::File { path: p, bytes }
            }
        };
        let mut delivery = file.delivery;
        delivery
            .validate(base)
            .map_err(|why| Error::input(format!("{shown}: [delivery] {why}")))?;
        file.sandbox
            .validate()
            .map_err(|why| Error::input(format!("{shown}: [sandbox] {why}")))?;

        let recipients =
            RecipientList::scan(&resolve(&file.recipients.path), &file.recipients.private)?;
        for (i, field) in file.recipients.private.iter().enumerate() {
            if !recipients.columns().iter().any(|c| c == field) {
                return Err(Error::input(format!(
                    "{shown}: [recipients] private[{i}] = \"{field}\" is not a column of {}",
                    recipients.path().display()
                )));
            }
        }

        let mut hasher = Sha256::new();
        for part in [
            templates.subject.as_bytes(),
            templates.text.as_bytes(),
            templates.html.as_deref().unwrap_or("").as_bytes(),
        ] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        match &renderer {
            RendererChoice::Builtin => hasher.update(crate::sandbox::BUILTIN_RENDERER),
            RendererChoice::File { bytes, .. } => hasher.update(bytes),
        }
        hasher.update(from.to_string().as_bytes());
        hasher.update(recipients.fingerprint().as_bytes());
        let fingerprint = hex(&hasher.finalize());

        Ok(Campaign {
            path: path.to_path_buf(),
            from,
            templates,
            template_sources: [
                format!("{shown} ([message] subject)"),
                text_path.display().to_string(),
                html_path.map_or_else(String::new, |p| p.display().to_string()),
            ],
            renderer,
            recipients,
            private_fields: file.recipients.private,
            delivery,
            limits: file.sandbox,
            fingerprint,
        })
    }
}

/// Reads a renderer component, refusing one over [`MAX_RENDERER_BYTES`] before reading it all
/// (and whatever it grows to while being read).
fn read_renderer(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let too_big = || {
        format!(
            "larger than the {} MiB a renderer may be",
            MAX_RENDERER_BYTES >> 20
        )
    };
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

fn read_template(path: &Path, key: &str, campaign: &str) -> Result<String, Error> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::input(format!(
            "{campaign}: {key} = \"{}\": cannot read it: {e}",
            path.display()
        ))
    })?;
    String::from_utf8(bytes).map_err(|e| {
        Error::input(format!(
            "{}: not UTF-8 (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
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

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
