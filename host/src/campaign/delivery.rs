//! `[delivery]`: where and how fast messages go, checked once when the campaign loads.
//!
//! The file's strings become typed values here (a parsed relay URL, `tls` as an enum, `"all"`
//! as a stage of its own, paths resolved against the campaign's folder), so `check`, a dry run
//! and a real `send` accept exactly the same campaigns. Only the secrets themselves (the
//! password's environment variable or file) are read later, by a real send.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::Invalid;
use crate::transport::smtp::{RelayUrl, read_ca_file};

/// `[delivery]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeliveryFile {
    smtp: Option<SmtpFile>,
    tls: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    #[serde(default = "defaults::outbox")]
    outbox: PathBuf,
    #[serde(default = "defaults::stages")]
    stages: Vec<StageFile>,
    #[serde(default = "defaults::rate")]
    rate: f64,
    #[serde(default = "defaults::concurrency")]
    concurrency: usize,
    #[serde(default = "defaults::max_failure_rate")]
    max_failure_rate: f64,
    #[serde(default)]
    seed: Vec<String>,
    #[serde(default = "defaults::retry_delay")]
    retry_delay: f64,
    #[serde(default = "defaults::timeout")]
    timeout: f64,
    #[serde(default = "defaults::tcp_nodelay")]
    tcp_nodelay: bool,
    return_path: Option<String>,
    max_bounce_rate: Option<f64>,
    #[serde(default)]
    domains: BTreeMap<String, DomainFile>,
}

/// `[delivery.domains."gmail.com"]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainFile {
    rate: Option<f64>,
    concurrency: Option<usize>,
}

impl Default for DeliveryFile {
    fn default() -> Self {
        DeliveryFile {
            smtp: None,
            tls: None,
            password_env: None,
            password_file: None,
            ca_file: None,
            outbox: defaults::outbox(),
            stages: defaults::stages(),
            rate: defaults::rate(),
            concurrency: defaults::concurrency(),
            max_failure_rate: defaults::max_failure_rate(),
            seed: Vec::new(),
            retry_delay: defaults::retry_delay(),
            timeout: defaults::timeout(),
            tcp_nodelay: defaults::tcp_nodelay(),
            return_path: None,
            max_bounce_rate: None,
            domains: BTreeMap::new(),
        }
    }
}

/// `smtp` as written: one relay URL, or a list of them (failover and shared load).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum SmtpFile {
    One(String),
    Many(Vec<String>),
}

/// One entry of `stages` as written: a cumulative count, or `"all"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum StageFile {
    Count(u64),
    Word(String),
}

mod defaults {
    use super::StageFile;
    use std::path::PathBuf;

    pub fn outbox() -> PathBuf {
        PathBuf::from("outbox")
    }
    pub fn stages() -> Vec<StageFile> {
        [1, 10, 100, 1000]
            .into_iter()
            .map(StageFile::Count)
            .chain([StageFile::Word("all".into())])
            .collect()
    }
    pub fn rate() -> f64 {
        50.0
    }
    pub fn concurrency() -> usize {
        4
    }
    pub fn max_failure_rate() -> f64 {
        0.05
    }
    pub fn retry_delay() -> f64 {
        30.0
    }
    pub fn timeout() -> f64 {
        60.0
    }
    pub fn tcp_nodelay() -> bool {
        true
    }
}

/// `[delivery]`, checked.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub target: Target,
    /// Cumulative and increasing; only the last may be [`Stage::All`].
    pub stages: Vec<Stage>,
    /// Messages per second, ceiling.
    pub rate: f64,
    /// Messages in flight at most (SMTP connections).
    pub concurrency: usize,
    /// The gate: a stage whose permanent failures exceed this share halts the campaign.
    pub max_failure_rate: f64,
    /// Addresses that get a marked copy of each stage's first message.
    pub seed: Vec<String>,
    /// Between attempts after a transient failure (up to 3 attempts).
    pub retry_delay: Duration,
    /// For an SMTP connection, or the reply to one command; the reply to the body may take
    /// twice as long.
    pub timeout: Duration,
    /// TCP_NODELAY on SMTP connections; off only to measure what Nagle's algorithm costs.
    pub tcp_nodelay: bool,
    /// The envelope sender per recipient (VERP), `{token}` in it; the From address without it.
    pub return_path: Option<String>,
    /// The bounce gate: a stage whose hard bounces exceed this share halts the campaign before
    /// the next one (read during `[bounces] wait_seconds`). Off unless set.
    pub max_bounce_rate: Option<f64>,
    /// Ceilings per recipient domain (lower-case, exact match), which also back off when the
    /// domain says to slow down. Unlisted domains have none.
    pub domains: BTreeMap<String, DomainLimit>,
}

/// `[delivery.domains."…"]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainLimit {
    /// Messages per second to this domain; `None`: only the global `rate`.
    pub rate: Option<f64>,
    /// Messages to this domain in flight at once (default: half of `concurrency`, rounded up).
    pub concurrency: usize,
}

/// One stage: a cumulative count of recipients, or everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Count(u64),
    All,
}

/// Where messages go.
#[derive(Debug, Clone)]
pub enum Target {
    /// The embedded default: a Maildir, `written` as the campaign file says, at `dir`.
    Outbox { dir: PathBuf, written: PathBuf },
    /// One relay or several, in the file's order; they share `tls`, the password and
    /// `ca_file`.
    Smtp(Vec<Relay>),
}

/// An SMTP relay and how to talk to it.
#[derive(Debug, Clone)]
pub struct Relay {
    pub url: RelayUrl,
    /// The URL as the campaign file writes it, for messages.
    pub written: String,
    pub tls: Tls,
    pub password: Option<Secret>,
    /// Resolved; already read once to check it holds a PEM certificate.
    pub ca_file: Option<PathBuf>,
}

/// Transport security for `smtp://` (an `smtps://` relay is TLS from its first byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// STARTTLS must succeed or nothing is sent: the default.
    Required,
    /// `tls = "none"`: in the clear, for a relay on the same host or a trusted network.
    None,
}

/// Where a relay password comes from; never the campaign file or the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    Env(String),
    /// Resolved path; `written` as the campaign file says.
    File {
        path: PathBuf,
        written: PathBuf,
    },
}

impl DeliveryFile {
    /// Checks every setting; `base` is the campaign's folder. The error names the key.
    pub(super) fn check(self, base: &Path) -> Result<Delivery, Invalid> {
        if !(self.rate > 0.0 && self.rate.is_finite()) {
            return Err(Invalid::new(
                "rate",
                "rate must be a positive number of messages per second",
            ));
        }
        if self.concurrency == 0 || self.concurrency > 256 {
            return Err(Invalid::new(
                "concurrency",
                "concurrency must be between 1 and 256",
            ));
        }
        if !(self.timeout > 0.0 && self.timeout <= 3600.0) {
            return Err(Invalid::new(
                "timeout",
                "timeout must be more than 0 and at most 3600 seconds",
            ));
        }
        if !(0.0..=3600.0).contains(&self.retry_delay) {
            return Err(Invalid::new(
                "retry_delay",
                "retry_delay must be between 0 and 3600 seconds",
            ));
        }
        if !(0.0..=1.0).contains(&self.max_failure_rate) {
            return Err(Invalid::new(
                "max_failure_rate",
                "max_failure_rate must be between 0 and 1",
            ));
        }
        for (i, seed) in self.seed.iter().enumerate() {
            seed.parse::<lettre::Address>().map_err(|e| {
                Invalid::new(
                    "seed",
                    format!("seed[{i}] = \"{seed}\" is not an email address: {e}"),
                )
            })?;
        }
        if let Some(rate) = self.max_bounce_rate
            && !(0.0..=1.0).contains(&rate)
        {
            return Err(Invalid::new(
                "max_bounce_rate",
                "max_bounce_rate must be between 0 and 1",
            ));
        }
        if let Some(written) = &self.return_path {
            check_return_path(written)?;
        }
        let stages = check_stages(&self.stages)?;
        let domains = check_domains(&self.domains, self.concurrency)?;
        let target = self.target(base)?;
        Ok(Delivery {
            target,
            stages,
            rate: self.rate,
            concurrency: self.concurrency,
            max_failure_rate: self.max_failure_rate,
            seed: self.seed,
            retry_delay: Duration::from_secs_f64(self.retry_delay),
            timeout: Duration::from_secs_f64(self.timeout),
            tcp_nodelay: self.tcp_nodelay,
            return_path: self.return_path,
            max_bounce_rate: self.max_bounce_rate,
            domains,
        })
    }

    fn target(&self, base: &Path) -> Result<Target, Invalid> {
        let tls = match self.tls.as_deref() {
            None | Some("required") => Tls::Required,
            Some("none") => Tls::None,
            Some(other) => {
                return Err(Invalid::new(
                    "tls",
                    format!("tls must be \"required\" or \"none\", not `{other}`"),
                ));
            }
        };
        let password = match (&self.password_env, &self.password_file) {
            (Some(_), Some(_)) => {
                return Err(Invalid::new(
                    "password_env",
                    "give password_env or password_file, not both",
                ));
            }
            (Some(var), None) => Some(Secret::Env(var.clone())),
            (None, Some(file)) => Some(Secret::File {
                path: base.join(file),
                written: file.clone(),
            }),
            (None, None) => None,
        };
        let ca_file = self.ca_file.as_ref().map(|f| base.join(f));
        if let Some(ca) = &ca_file {
            read_ca_file(ca).map_err(|e| Invalid::new("ca_file", crate::chain(&e)))?;
        }
        let written: Vec<(String, &String)> = match &self.smtp {
            None => {
                return Ok(Target::Outbox {
                    dir: base.join(&self.outbox),
                    written: self.outbox.clone(),
                });
            }
            Some(SmtpFile::One(url)) => vec![("smtp".to_owned(), url)],
            Some(SmtpFile::Many(urls)) if urls.is_empty() => {
                return Err(Invalid::new("smtp", "smtp = []: name at least one relay"));
            }
            Some(SmtpFile::Many(urls)) => urls
                .iter()
                .enumerate()
                .map(|(i, url)| (format!("smtp[{i}]"), url))
                .collect(),
        };
        let mut relays = Vec::with_capacity(written.len());
        for (key, url) in written {
            let bad = |why: &str| Invalid::new("smtp", format!("{key} = \"{url}\": {why}"));
            let parsed = RelayUrl::parse(url).map_err(|why| bad(&crate::chain(&why)))?;
            if parsed.implicit_tls && tls == Tls::None {
                return Err(bad(
                    "smtps:// is TLS by definition; tls = \"none\" contradicts it",
                ));
            }
            if parsed.user.is_some() && password.is_none() {
                return Err(bad("a user is given but no password_env or password_file"));
            }
            if relays.iter().any(|r: &Relay| r.url == parsed) {
                return Err(bad("this relay is named twice"));
            }
            relays.push(Relay {
                url: parsed,
                written: url.clone(),
                tls,
                password: password.clone(),
                ca_file: ca_file.clone(),
            });
        }
        Ok(Target::Smtp(relays))
    }
}

fn check_domains(
    domains: &BTreeMap<String, DomainFile>,
    concurrency: usize,
) -> Result<BTreeMap<String, DomainLimit>, Invalid> {
    let mut out = BTreeMap::new();
    for (name, d) in domains {
        let key = format!("domains.\"{name}\"");
        let lower = name.to_ascii_lowercase();
        let valid = !lower.is_empty()
            && lower.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err(Invalid::new(
                "domains",
                format!(
                    "{key}: not a domain name (write the part after the @, e.g. \"gmail.com\")"
                ),
            ));
        }
        if let Some(rate) = d.rate
            && !(rate > 0.0 && rate.is_finite())
        {
            return Err(Invalid::new(
                "domains",
                format!("{key}: rate must be a positive number of messages per second"),
            ));
        }
        let lanes = d.concurrency.unwrap_or(concurrency.div_ceil(2));
        if lanes == 0 || lanes > 256 {
            return Err(Invalid::new(
                "domains",
                format!("{key}: concurrency must be between 1 and 256"),
            ));
        }
        let limit = DomainLimit {
            rate: d.rate,
            concurrency: lanes,
        };
        if out.insert(lower, limit).is_some() {
            return Err(Invalid::new(
                "domains",
                format!("{key}: this domain is listed twice"),
            ));
        }
    }
    Ok(out)
}

/// `return_path` must hold `{token}` and be an address once a token is put in.
/// `[bounces]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BouncesFile {
    maildir: Option<PathBuf>,
    #[serde(default)]
    wait_seconds: f64,
    max_sender_failure_rate: Option<f64>,
    max_complaint_rate: Option<f64>,
}

/// `[bounces]`, checked: where DSNs and complaints arrive, and how long `send` reads them
/// after each stage before the bounce gate.
#[derive(Debug, Clone)]
pub struct Bounces {
    /// Resolved against the campaign's folder.
    pub maildir: Option<PathBuf>,
    pub wait: Duration,
    /// The reputation brake: a stage whose failures about the sender (a block of our IP or
    /// domain, authentication, content, rate) exceed this share of its messages halts the
    /// send before the next stage.
    pub max_sender_failure_rate: f64,
    /// The complaint gate: after `wait_seconds`, a stage whose complaints exceed this share of
    /// its messages halts the send before the next stage.
    pub max_complaint_rate: f64,
}

/// The complaint gate's default: Gmail's and Yahoo's ceiling for bulk senders, 0.3 %.
pub const DEFAULT_MAX_COMPLAINT_RATE: f64 = 0.003;

/// The brake's default: 2 % of a stage. A failure about the sender is about every message that
/// goes the same way, so a stage that meets a few is a warning worth stopping for; a healthy
/// campaign meets none (in a first stage of ten, one such failure halts it).
pub const DEFAULT_MAX_SENDER_FAILURE_RATE: f64 = 0.02;

impl Default for Bounces {
    fn default() -> Bounces {
        Bounces {
            maildir: None,
            wait: Duration::ZERO,
            max_sender_failure_rate: DEFAULT_MAX_SENDER_FAILURE_RATE,
            max_complaint_rate: DEFAULT_MAX_COMPLAINT_RATE,
        }
    }
}

impl BouncesFile {
    pub(super) fn check(self, base: &Path) -> Result<Bounces, Invalid> {
        if !(0.0..=86_400.0).contains(&self.wait_seconds) {
            return Err(Invalid::new(
                "wait_seconds",
                "wait_seconds must be between 0 and 86400",
            ));
        }
        if self.wait_seconds > 0.0 && self.maildir.is_none() {
            return Err(Invalid::new(
                "wait_seconds",
                "wait_seconds needs a maildir to read",
            ));
        }
        let max = self
            .max_sender_failure_rate
            .unwrap_or(DEFAULT_MAX_SENDER_FAILURE_RATE);
        if !(0.0..=1.0).contains(&max) {
            return Err(Invalid::new(
                "max_sender_failure_rate",
                "max_sender_failure_rate must be between 0 and 1",
            ));
        }
        let complaints = self
            .max_complaint_rate
            .unwrap_or(DEFAULT_MAX_COMPLAINT_RATE);
        if !(0.0..=1.0).contains(&complaints) {
            return Err(Invalid::new(
                "max_complaint_rate",
                "max_complaint_rate must be between 0 and 1",
            ));
        }
        Ok(Bounces {
            maildir: self.maildir.map(|m| base.join(m)),
            wait: Duration::from_secs_f64(self.wait_seconds),
            max_sender_failure_rate: max,
            max_complaint_rate: complaints,
        })
    }
}

fn check_return_path(written: &str) -> Result<(), Invalid> {
    use super::tokens::TOKEN;
    if !written.contains(TOKEN) {
        return Err(Invalid::new(
            "return_path",
            format!("return_path = \"{written}\" has no {TOKEN}"),
        ));
    }
    written
        .replace(TOKEN, "AAAAAAAAAAAAAAAAAAAAAA")
        .parse::<lettre::Address>()
        .map(|_| ())
        .map_err(|e| {
            Invalid::new(
                "return_path",
                format!("return_path = \"{written}\": not an email address: {e}"),
            )
        })
}

fn check_stages(stages: &[StageFile]) -> Result<Vec<Stage>, Invalid> {
    let mut last = 0;
    let mut out = Vec::with_capacity(stages.len());
    for (i, stage) in stages.iter().enumerate() {
        match stage {
            StageFile::Count(n) if *n > last => {
                last = *n;
                out.push(Stage::Count(*n));
            }
            StageFile::Count(n) => {
                return Err(Invalid::new(
                    "stages",
                    format!(
                        "stages[{i}] = {n} must be larger than the stage before it (stages are cumulative)"
                    ),
                ));
            }
            StageFile::Word(w) if w == "all" && i + 1 == stages.len() => out.push(Stage::All),
            StageFile::Word(w) => {
                return Err(Invalid::new(
                    "stages",
                    format!("stages[{i}] = \"{w}\": only the last stage may be \"all\""),
                ));
            }
        }
    }
    Ok(out)
}
