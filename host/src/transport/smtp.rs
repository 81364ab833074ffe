//! SMTP delivery with lettre's async client on tokio, driven one command at a time so every
//! failure is classified by *when* it happened: before the body was sent (safe to retry), or
//! after (the message may have arrived: ambiguous).
//!
//! STARTTLS is required unless the campaign says `tls = "none"`; `smtps://` is implicit TLS.
//! Passwords come from an environment variable or a file, never the command line, and are never
//! printed. Sockets set TCP_NODELAY: lettre writes the body and the final `.` separately, and
//! with Nagle's algorithm that second write waits for the server's delayed ACK (~40 ms a
//! message). Concurrency is bounded by the caller; idle connections are kept for reuse.
//!
//! Addresses go out as [`crate::message::address::on_the_wire`] spells them, as the message's
//! To: does: an IDN domain as its A-labels, which every relay takes. A UTF-8 local part needs
//! SMTPUTF8 (RFC 6531): the MAIL command then carries `SMTPUTF8` and `BODY=8BITMIME` (lettre's
//! own parameters), and a relay that does not offer both fails that one message for good before
//! anything is sent, keeping the connection for the next.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use lettre::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;

use super::error::LettreError;
use super::{Attempt, BoxFuture, Delivery, Outgoing, Reply, Transport, TransportError};

/// Connection attempts per message before the relay counts as unreachable.
const CONNECT_ATTEMPTS: u32 = 3;
/// Why a relay without STARTTLS is not used; it will not start offering it on a retry.
const NO_STARTTLS: &str = "the relay does not offer STARTTLS, which is required (set tls = \
     \"none\" to send in the clear)";
/// Why a message to a UTF-8 local part was not sent through a relay without SMTPUTF8.
const NO_SMTPUTF8: &str = "not sent: the address has a UTF-8 local part, which only SMTPUTF8 \
     (RFC 6531) can carry, and the relay does not offer SMTPUTF8";
/// Why a message with UTF-8 in its header was not sent through a relay without 8BITMIME.
const NO_8BITMIME: &str = "not sent: the message has UTF-8 in its header (RFC 6532), which \
     needs 8BITMIME, and the relay does not offer 8BITMIME";
/// Reconnect backoff: first delay and ceiling.
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// A relay as `[delivery] smtp` names it: `smtp://[user@]host[:port]` (STARTTLS, port 587 by
/// default) or `smtps://…` (implicit TLS, port 465). Parsed by the `url` crate, so the user name
/// is percent-decoded as RFC 3986 says (`alice%40example.org` is `alice@example.org`) and an
/// IPv6 literal is written in brackets (`smtp://[::1]:2525`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayUrl {
    /// A host name, or an IP address (IPv6 without its brackets).
    pub host: String,
    pub port: u16,
    pub implicit_tls: bool,
    pub user: Option<String>,
}

impl RelayUrl {
    /// Parses and checks a relay URL; the error says what is wrong in one phrase.
    pub fn parse(text: &str) -> Result<RelayUrl, TransportError> {
        let url = url::Url::parse(text).map_err(TransportError::NotAUrl)?;
        let implicit_tls = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => return Err(TransportError::Scheme(other.to_owned())),
        };
        if url.password().is_some() {
            return Err(TransportError::PasswordInUrl);
        }
        if !matches!(url.path(), "" | "/") {
            return Err(TransportError::Path(url.path().to_owned()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(TransportError::QueryOrFragment);
        }
        let host = match url.host() {
            Some(url::Host::Domain("")) | None => return Err(TransportError::NoHost),
            Some(url::Host::Domain(name)) => name.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
        };
        let user = match url.username() {
            "" => None,
            encoded => Some(
                percent_encoding::percent_decode_str(encoded)
                    .decode_utf8()
                    .map_err(|_| TransportError::UserNotUtf8)?
                    .into_owned(),
            ),
        };
        Ok(RelayUrl {
            host,
            port: url.port().unwrap_or(if implicit_tls { 465 } else { 587 }),
            implicit_tls,
            user,
        })
    }
}

impl std::fmt::Display for RelayUrl {
    /// The relay without its user name, as summaries show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.implicit_tls { "smtps" } else { "smtp" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// Reads a `ca_file` as the TLS setup will: one or more PEM certificates.
pub fn read_ca_file(path: &std::path::Path) -> Result<Certificate, TransportError> {
    let pem =
        crate::input_file::read(path, crate::input_file::TEXT_MAX_BYTES).map_err(|refusal| {
            TransportError::CaFileRefused {
                shown: crate::input_file::shown(path),
                refusal,
            }
        })?;
    Certificate::from_pem(&pem).map_err(|e| TransportError::CaFileNotPem {
        path: path.to_path_buf(),
        source: LettreError(e),
    })
}

/// Where and how to connect. Built and validated by the caller from `[delivery]`.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// `smtps://`: TLS from the first byte.
    pub implicit_tls: bool,
    /// `smtp://` without `tls = "none"`: refuse to send unless STARTTLS succeeds.
    pub starttls: bool,
    pub user: Option<String>,
    pub password: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub hello: String,
    pub nodelay: bool,
    /// For the TCP connection and greeting, and for each command's reply.
    pub command_timeout: Duration,
    /// For the reply after the message body.
    pub data_timeout: Duration,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

pub struct Smtp {
    config: SmtpConfig,
    tls: Option<TlsParameters>,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
    failures: AtomicU32,
    /// Set when the relay refused us for good (credentials, no STARTTLS): no reconnecting.
    refused: Mutex<Option<String>>,
    /// Wakes the connections waiting out a backoff when the relay is refused.
    refusal: tokio::sync::Notify,
}

/// Why a connection to the relay could not be made ready for a message: the text of the
/// `Unreachable` reply once joined with its cause ([`crate::chain`]).
#[derive(Debug, thiserror::Error)]
enum ConnectError {
    #[error("timed out connecting")]
    ConnectTimeout,
    #[error("cannot connect")]
    Connect(#[source] LettreError),
    #[error("cannot connect to {host}:{port}")]
    Tcp {
        host: String,
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set TCP_NODELAY")]
    NoDelay(#[source] std::io::Error),
    #[error("timed out waiting for the greeting")]
    GreetingTimeout,
    #[error("greeting failed")]
    Greeting(#[source] LettreError),
    #[error("{NO_STARTTLS}")]
    NoStartTls,
    #[error("TLS parameters missing")]
    NoTlsParameters,
    #[error("timed out during STARTTLS")]
    StartTlsTimeout,
    #[error("STARTTLS failed")]
    StartTls(#[source] LettreError),
    #[error("timed out during AUTH")]
    AuthTimeout,
    /// The relay's reply, kept as the one line the journal shows.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The relay was given up on for good earlier in this run, for this reason.
    #[error("{0}")]
    Refused(String),
}

/// What a failed step means for the connection and the message.
enum Step {
    /// A reply: the connection is still in a known state.
    Reply(lettre::transport::smtp::Error),
    /// No reply (network error, timeout): the connection is unusable.
    Lost(String),
}

impl Smtp {
    pub fn new(config: SmtpConfig) -> Result<Smtp, TransportError> {
        let tls = if config.implicit_tls || config.starttls {
            let mut builder = TlsParameters::builder(config.host.clone());
            if let Some(ca) = &config.ca_file {
                builder = builder.add_root_certificate(read_ca_file(ca)?);
            }
            Some(
                builder
                    .build()
                    .map_err(|e| TransportError::TlsSetup(LettreError(e)))?,
            )
        } else {
            None
        };
        Ok(Smtp {
            config,
            tls,
            idle: Mutex::new(Vec::new()),
            failures: AtomicU32::new(0),
            refused: Mutex::new(None),
            refusal: tokio::sync::Notify::new(),
        })
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, ConnectError> {
        let c = &self.config;
        let hello = ClientId::Domain(c.hello.clone());
        let mut conn = if c.implicit_tls {
            let connecting = AsyncSmtpConnection::connect_tokio1(
                (c.host.as_str(), c.port),
                Some(c.command_timeout),
                &hello,
                self.tls.clone(),
                None,
            );
            tokio::time::timeout(c.command_timeout, connecting)
                .await
                .map_err(|_| ConnectError::ConnectTimeout)?
                .map_err(|e| ConnectError::Connect(LettreError(e)))?
        } else {
            let tcp = tokio::time::timeout(
                c.command_timeout,
                tokio::net::TcpStream::connect((c.host.as_str(), c.port)),
            )
            .await
            .map_err(|_| ConnectError::ConnectTimeout)?
            .map_err(|source| ConnectError::Tcp {
                host: c.host.clone(),
                port: c.port,
                source,
            })?;
            tcp.set_nodelay(c.nodelay).map_err(ConnectError::NoDelay)?;
            tokio::time::timeout(
                c.command_timeout,
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello),
            )
            .await
            .map_err(|_| ConnectError::GreetingTimeout)?
            .map_err(|e| ConnectError::Greeting(LettreError(e)))?
        };
        if c.starttls && !c.implicit_tls {
            if !conn.can_starttls() {
                conn.abort().await;
                self.refuse(NO_STARTTLS);
                return Err(ConnectError::NoStartTls);
            }
            let tls = self.tls.clone().ok_or(ConnectError::NoTlsParameters)?;
            tokio::time::timeout(c.command_timeout, conn.starttls(tls, &hello))
                .await
                .map_err(|_| ConnectError::StartTlsTimeout)?
                .map_err(|e| ConnectError::StartTls(LettreError(e)))?;
        }
        if let (Some(user), Some(password)) = (&c.user, &c.password) {
            let credentials = Credentials::new(user.clone(), password.clone());
            tokio::time::timeout(
                c.command_timeout,
                conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials),
            )
            .await
            .map_err(|_| ConnectError::AuthTimeout)?
            .map_err(|e| {
                let why = ConnectError::Auth(one_line(&e.to_string()));
                // 535 and friends: the same credentials will be refused every time, and
                // retrying them only looks like password guessing to the relay.
                if e.is_permanent() {
                    self.refuse(&why.to_string());
                }
                why
            })?;
        }
        Ok(conn)
    }

    /// The relay's URL without user name: what the journal records as the relay that took a
    /// message.
    pub fn name(&self) -> String {
        let c = &self.config;
        RelayUrl {
            host: c.host.clone(),
            port: c.port,
            implicit_tls: c.implicit_tls,
            user: None,
        }
        .to_string()
    }

    /// Marks the relay unusable for this run: every later send fails at once with `why`.
    fn refuse(&self, why: &str) {
        if let Ok(mut refused) = self.refused.lock()
            && refused.is_none()
        {
            *refused = Some(why.to_owned());
        }
        self.refusal.notify_waiters();
    }

    /// Why the relay was given up on for good, if it was.
    fn refused(&self) -> Option<String> {
        self.refused.lock().ok().and_then(|r| r.clone())
    }

    /// Connects, retrying with backoff; the last error if every attempt failed.
    async fn connect_with_retries(&self) -> Result<AsyncSmtpConnection, ConnectError> {
        let mut attempt = 1;
        loop {
            if let Some(why) = self.refused() {
                return Err(ConnectError::Refused(why));
            }
            self.backoff().await;
            // Another connection may have been refused for good while this one waited.
            if let Some(why) = self.refused() {
                return Err(ConnectError::Refused(why));
            }
            match self.connect().await {
                Ok(conn) => {
                    self.failures.store(0, Ordering::Relaxed);
                    return Ok(conn);
                }
                Err(why) => {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    if attempt >= CONNECT_ATTEMPTS {
                        return Err(why);
                    }
                    attempt += 1;
                }
            }
        }
    }

    /// Waits before reconnecting after consecutive failures: capped exponential, with jitter.
    async fn backoff(&self) {
        let n = self.failures.load(Ordering::Relaxed);
        if n == 0 {
            return;
        }
        let base = BACKOFF_FIRST
            .saturating_mul(1u32 << n.min(16))
            .min(BACKOFF_CAP);
        let jitter = jitter_fraction();
        // Registered before the check, so a refusal in between still wakes this wait.
        let refusal = self.refusal.notified();
        if self.refused().is_some() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(base.mul_f64(0.5 + 0.5 * jitter)) => {}
            () = refusal => {}
        }
    }

    async fn step<F>(&self, timeout: Duration, fut: F) -> Result<Response, Step>
    where
        F: std::future::Future<Output = Result<Response, lettre::transport::smtp::Error>>,
    {
        match tokio::time::timeout(timeout, fut).await {
            Err(_) => Err(Step::Lost("timed out waiting for the server".into())),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) if e.is_transient() || e.is_permanent() => Err(Step::Reply(e)),
            Ok(Err(e)) => Err(Step::Lost(e.to_string())),
        }
    }

    /// One message over an idle connection or a new one, which is kept for reuse if the
    /// exchange left it in a known state.
    async fn deliver(&self, outgoing: &Outgoing<'_>) -> Delivery {
        use crate::message::address::on_the_wire;
        let (from, to) = (on_the_wire(outgoing.from), on_the_wire(outgoing.to));
        let utf8 = from.utf8 || to.utf8;
        let (Ok(from), Ok(to)) = (
            from.address.parse::<Address>(),
            to.address.parse::<Address>(),
        ) else {
            return Delivery::Permanent(Reply::local("invalid envelope address"));
        };
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let mut conn = match idle {
            Some(conn) if !conn.has_broken() => conn,
            _ => match self.connect_with_retries().await {
                Ok(conn) => conn,
                Err(why) => return Delivery::Unreachable(Reply::local(crate::chain(&why))),
            },
        };
        let envelope = (&from, &to, utf8);
        let (outcome, reusable) = self.transmit(&mut conn, envelope, outgoing.bytes).await;
        if reusable && !conn.has_broken() {
            if let Ok(mut idle) = self.idle.lock() {
                idle.push(conn);
            }
        } else {
            conn.abort().await;
        }
        outcome
    }

    /// Sends one message over `conn`: (from, to, whether either has a UTF-8 local part) and the
    /// bytes; how it went and whether the connection may be used again.
    async fn transmit(
        &self,
        conn: &mut AsyncSmtpConnection,
        (from, to, utf8): (&Address, &Address, bool),
        bytes: &[u8],
    ) -> (Delivery, bool) {
        let c = &self.config;
        let parameters = match mail_parameters(conn.server_info(), utf8, bytes) {
            Ok(parameters) => parameters,
            Err(why) => return (Delivery::Permanent(Reply::local(why)), true),
        };
        // Before the body: any failure leaves the message unsent.
        let before = async {
            self.step(
                c.command_timeout,
                conn.command(Mail::new(Some(from.clone()), parameters)),
            )
            .await?;
            self.step(
                c.command_timeout,
                conn.command(Rcpt::new(to.clone(), vec![])),
            )
            .await?;
            self.step(c.command_timeout, conn.command(Data)).await
        }
        .await;
        match before {
            Ok(_) => {}
            Err(Step::Reply(e)) => {
                let reusable = self
                    .step(c.command_timeout, conn.command(Rset))
                    .await
                    .is_ok();
                return (classify_reply(&e), reusable);
            }
            Err(Step::Lost(why)) => {
                return (
                    Delivery::Transient(Reply::local(format!(
                        "connection lost before the message was sent: {why}"
                    ))),
                    false,
                );
            }
        }
        // lettre ends the DATA with "\r\n.\r\n"; our messages already end with CRLF, so hand it
        // the bytes without that line ending and the server receives exactly `bytes`.
        let body = bytes.strip_suffix(b"\r\n").unwrap_or(bytes);
        match self.step(c.data_timeout, conn.message(body)).await {
            Ok(response) => (Delivery::Sent(reply_of(&response)), true),
            Err(Step::Reply(e)) => (classify_reply(&e), true),
            Err(Step::Lost(why)) => (
                Delivery::Ambiguous(Reply::local(format!(
                    "connection lost after the message was sent, before the server confirmed it: {why}"
                ))),
                false,
            ),
        }
    }
}

/// The MAIL parameters a message needs of the relay, or why this relay cannot take it: a UTF-8
/// address needs SMTPUTF8, and the UTF-8 it puts in the header needs 8BITMIME (RFC 6531 §3.1
/// requires a server that offers SMTPUTF8 to offer 8BITMIME too; one that does not is refused
/// the same way, rather than sent 8-bit octets it did not agree to).
fn mail_parameters(
    server: &lettre::transport::smtp::extension::ServerInfo,
    utf8: bool,
    bytes: &[u8],
) -> Result<Vec<MailParameter>, &'static str> {
    let mut parameters = Vec::new();
    if utf8 {
        if !server.supports_feature(Extension::SmtpUtfEight) {
            return Err(NO_SMTPUTF8);
        }
        parameters.push(MailParameter::SmtpUtfEight);
    }
    if !bytes.is_ascii() {
        if !server.supports_feature(Extension::EightBitMime) {
            return Err(NO_8BITMIME);
        }
        parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    Ok(parameters)
}

fn classify_reply(e: &lettre::transport::smtp::Error) -> Delivery {
    let text = one_line(&e.to_string());
    let reply = match e.status().and_then(|code| code.to_string().parse().ok()) {
        Some(code) => Reply::smtp(code, text),
        None => Reply::local(text),
    };
    if e.is_permanent() {
        Delivery::Permanent(reply)
    } else {
        Delivery::Transient(reply)
    }
}

fn reply_of(response: &Response) -> Reply {
    let text = one_line(&format!(
        "{} {}",
        response.code(),
        response.message().collect::<Vec<_>>().join(" ")
    ));
    match response.code().to_string().parse() {
        Ok(code) => Reply::smtp(code, text),
        Err(_) => Reply::local(text),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A number in [0, 1) that differs between calls, for backoff jitter (no security role).
fn jitter_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

impl Transport for Smtp {
    fn send<'a>(&'a self, outgoing: &'a Outgoing<'a>) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            Attempt {
                delivery: self.deliver(outgoing).await,
                relay: Some(self.name()),
            }
        })
    }

    fn take_out(&self, why: &str) {
        self.refuse(why);
    }

    fn describe(&self) -> String {
        let tls = if self.config.implicit_tls {
            "implicit TLS"
        } else if self.config.starttls {
            "STARTTLS required"
        } else {
            "no TLS"
        };
        format!("{} ({tls})", self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(text: &str) -> RelayUrl {
        RelayUrl::parse(text).unwrap_or_else(|why| panic!("{text}: {why}"))
    }

    #[test]
    fn relay_urls_are_parsed_as_urls() {
        // RFC 3986 userinfo is percent-encoded; relays want the address itself.
        let r = relay("smtp://alice%40example.org@relay.example.org:2525");
        assert_eq!(r.user.as_deref(), Some("alice@example.org"));
        assert_eq!((r.host.as_str(), r.port), ("relay.example.org", 2525));
        let r = relay("smtp://[::1]:2525");
        assert_eq!((r.host.as_str(), r.port, &r.user), ("::1", 2525, &None));
        assert_eq!(r.to_string(), "smtp://[::1]:2525");
        let r = relay("smtps://relay.example.org/");
        assert_eq!((r.port, r.implicit_tls), (465, true));
        assert_eq!(relay("smtp://127.0.0.1").port, 587);
        assert_eq!(
            relay("smtp://127.0.0.1").to_string(),
            "smtp://127.0.0.1:587"
        );
    }

    #[test]
    fn what_a_relay_url_cannot_have_is_refused() {
        for (text, why) in [
            ("smtp://relay.example.org:notaport", "not a valid URL"),
            ("smtp://relay.example.org:70000", "not a valid URL"),
            ("http://relay.example.org", "must start with smtp://"),
            ("relay.example.org:587", "must start with smtp://"),
            (
                "smtp://alice:secret@relay.example.org",
                "no password in the URL",
            ),
            ("smtp://relay.example.org/inbox", "no path"),
            ("smtp://relay.example.org?auth=plain", "no query"),
            ("smtp://relay.example.org#x", "no query"),
            ("smtp://", "no host"),
            ("smtp://[::1", "not a valid URL"),
        ] {
            match RelayUrl::parse(text) {
                Ok(r) => panic!("{text} was accepted as {r:?}"),
                Err(e) => assert!(crate::chain(&e).contains(why), "{text}: {e}"),
            }
        }
    }
}
