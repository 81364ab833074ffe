//! Every message of a campaign, rendered and built on all cores in bounded memory.
//!
//! A reader thread streams recipients into a bounded queue; worker threads each take one
//! recipient, render it in a fresh instance ([`Sandbox::render`]) and build its bytes; the
//! caller's sink sees each outcome in completion order. At most a few messages per worker exist
//! at once, whatever the list's size. Nothing here talks to the network.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::Error;
use crate::campaign::tokens::UNSUBSCRIBE_FIELD;
use crate::campaign::{Campaign, CampaignError, Recipient, RendererChoice};
use crate::checks::{CampaignFinding, Checks, ChecksError, Finding, Watch};
use crate::message::{self, BuildError, Envelope};
use crate::reporter::{Event, Reporter};
use crate::sandbox::{self, Content, RenderError, RenderFailure, Sandbox, SandboxError};
use crate::term::shown;

/// What stops the whole campaign from rendering, before or while its messages are made (see
/// [`crate::Error`] for the exit codes). One message that fails is a [`Failed`] outcome instead.
#[derive(Debug, thiserror::Error)]
pub enum RenderAllError {
    /// The campaign's renderer cannot be compiled or linked.
    #[error("{}: [message] renderer", campaign.display())]
    Renderer {
        campaign: PathBuf,
        #[source]
        why: SandboxError,
    },
    /// A template error the probe found, named against its file; `detail` is shown inert.
    #[error("{file}: {kind}: {detail}")]
    Template {
        file: String,
        kind: &'static str,
        detail: String,
    },
    /// The renderer broke a limit or crashed on the probe's recipient, who has no data.
    #[error(
        "{}: the renderer failed on a sample recipient with no data: {failure}",
        campaign.display()
    )]
    Probe {
        campaign: PathBuf,
        failure: RenderFailure,
    },
    /// The leak scanner cannot be built over this list.
    #[error(transparent)]
    Checks(#[from] ChecksError),
    #[error("cannot start a render thread")]
    Thread(#[source] std::io::Error),
}

/// One message, ready to write or send.
pub struct Rendered {
    pub index: usize,
    pub line: u64,
    pub email: String,
    pub content: Content,
    /// The message, signed or not as [`Signing`] asked.
    pub bytes: Vec<u8>,
    /// SHA-256 of the signed message, hex ([`message::dkim::signed_hash`]): what the journal
    /// records and a send compares.
    pub hash: String,
    /// What the safety checks found; a message with any finding must not be sent.
    pub findings: Vec<Finding>,
    /// Bytes of the recipient's own address and fields, for the campaign-wide size check.
    pub own_data: usize,
}

/// One message that did not render.
#[derive(Debug)]
pub struct Failed {
    pub index: usize,
    pub line: u64,
    pub masked: String,
    pub failure: Failure,
}

/// Why one message failed, and whose failure it is.
#[derive(Debug)]
pub enum Failure {
    /// The renderer failed, or returned what no message can carry.
    Renderer(RenderFailure),
    /// The host could not build or sign a message from content it accepted (e.g. a DKIM
    /// signature that failed): the renderer is not to blame.
    Host(BuildError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Renderer(failure) => failure.fmt(f),
            Failure::Host(error) => write!(f, "host error: {}", crate::chain(error)),
        }
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "recipient #{} ({}, line {}): {}",
            self.index, self.masked, self.line, self.failure
        )
    }
}

pub type Outcome = Result<Rendered, Failed>;

/// How many threads render when the operator does not say.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Compiles and links the campaign's renderer for `jobs` concurrent messages, snapshotted with
/// the campaign's templates when the renderer supports it.
pub fn load_sandbox(
    campaign: &Campaign,
    jobs: usize,
    reporter: &Reporter,
) -> Result<Sandbox, RenderAllError> {
    let source = match &campaign.renderer {
        RendererChoice::Builtin => sandbox::Source::Builtin,
        RendererChoice::File { path, bytes } => sandbox::Source::File { path, bytes },
    };
    let sandbox = Sandbox::load_for(source, campaign.limits.clone(), jobs, &campaign.templates)
        .map_err(|why| RenderAllError::Renderer {
            campaign: campaign.path.clone(),
            why,
        })?;
    if let Some(why) = sandbox.unprepared_reason() {
        // Still correct (every message gets a fresh instance either way), only slower.
        reporter.event(Event::Note(&format!(
            "the renderer could not be snapshotted with the templates ({why}); every message will parse them again"
        )));
    }
    Ok(sandbox)
}

/// Renders the templates once for a made-up recipient that has every column (empty values) and
/// no real data, so a template error is reported once, against its file, before any real
/// recipient is rendered.
pub fn probe(campaign: &Campaign, sandbox: &Sandbox) -> Result<(), RenderAllError> {
    let recipient = sandbox::Recipient {
        email: "probe@isomail.invalid".into(),
        fields: campaign
            .recipients
            .columns()
            .iter()
            .filter(|c| *c != "email")
            .map(|c| (c.clone(), String::new()))
            .chain(
                campaign
                    .unsubscribe
                    .as_ref()
                    .map(|_| (UNSUBSCRIBE_FIELD.to_owned(), String::new())),
            )
            .collect(),
    };
    match sandbox.render(&campaign.templates, &recipient) {
        Ok(_) => Ok(()),
        Err(RenderFailure::Renderer(err)) => Err(template_error(campaign, &err)),
        // A limit or crash on harmless input says the renderer is unusable; the per-recipient
        // pass would fail every message the same way.
        Err(failure) => Err(RenderAllError::Probe {
            campaign: campaign.path.clone(),
            failure,
        }),
    }
}

/// Names the template file for the built-in renderer's "text template, line 3: …" messages.
fn template_error(campaign: &Campaign, err: &RenderError) -> RenderAllError {
    let (kind, detail) = match err {
        RenderError::Syntax(m) => ("syntax error", m),
        RenderError::Undefined(m) => ("unknown column", m),
        RenderError::Other(m) => ("the renderer refused the templates", m),
    };
    // The built-in renderer names each template so; a Markdown or MJML template is the text or
    // HTML one.
    let labels = [
        ("subject template", 0),
        ("text template", 1),
        ("markdown template", 1),
        ("html template", 2),
        ("mjml template", 2),
    ];
    for (label, source) in labels.map(|(label, i)| (label, &campaign.template_sources[i])) {
        if let Some(rest) = detail.strip_prefix(label) {
            let rest = rest.trim_start_matches([',', ':', ' ']);
            return RenderAllError::Template {
                file: source.clone(),
                kind,
                detail: shown(rest).into_owned(),
            };
        }
    }
    RenderAllError::Template {
        file: campaign.path.display().to_string(),
        kind,
        detail: shown(detail).into_owned(),
    }
}

/// Builds the campaign's per-message checks (the leak scanner over the whole list).
/// With `[unsubscribe]`, every recipient's token is private too: another recipient's token
/// (in a link or anywhere) in a message is a finding.
pub fn checks(campaign: &Campaign) -> Result<Checks<'_>, RenderAllError> {
    let addresses = campaign.recipients.addresses();
    let private = campaign.recipients.private_values();
    let checks = match (&campaign.tokens, &campaign.unsubscribe) {
        (Some(tokens), Some(_)) => {
            let mut private = private.to_vec();
            let owned = addresses
                .iter()
                .enumerate()
                .map(|(i, a)| (tokens.token(a), i as u32 + 1))
                .collect();
            private.push(("unsubscribe token".to_owned(), owned));
            Checks::new(addresses, &private)
        }
        _ => Checks::new(addresses, private),
    };
    checks.map_err(RenderAllError::Checks)
}

/// A recipient a suppression list names: never rendered, never sent.
#[derive(Debug, Clone)]
pub struct Suppressed {
    pub index: usize,
    pub email: String,
    /// `suppressed by FILE line N`.
    pub why: String,
}

/// What [`render_all`] found beyond each message's outcome.
#[derive(Debug, Default)]
pub struct Summary {
    /// Findings across messages (the accumulation watch).
    pub findings: Vec<CampaignFinding>,
    /// Recipients left out because a suppression list names them, in list order.
    pub suppressed: Vec<Suppressed>,
}

/// Renders and checks every recipient on `jobs` threads but those the campaign's suppression
/// lists name; `sink` sees each outcome once, in completion order. Stops early (and returns
/// the error) if reading the list fails or `sink` errs.
pub fn render_all(
    campaign: &Campaign,
    sandbox: &Sandbox,
    checks: &Checks,
    jobs: usize,
    date: SystemTime,
    signing: Signing,
    mut sink: impl FnMut(Outcome) -> Result<(), Error>,
) -> Result<Summary, Error> {
    let jobs = jobs.max(1);
    let stream = campaign.recipients.stream()?;
    let suppressed = Mutex::new(Vec::new());
    let (work_tx, work_rx) = sync_channel::<Vec<Recipient>>(jobs * 2);
    let (done_tx, done_rx) = sync_channel::<Vec<Result<Outcome, CampaignError>>>(jobs * 2);
    let work_rx = Arc::new(Mutex::new(work_rx));
    std::thread::scope(|scope| {
        let reader_done = done_tx.clone();
        let suppressed = &suppressed;
        scope.spawn(move || read_list(campaign, stream, &work_tx, &reader_done, suppressed));
        for _ in 0..jobs {
            let work_rx = Arc::clone(&work_rx);
            let done_tx = done_tx.clone();
            std::thread::Builder::new()
                .stack_size(WORKER_STACK)
                .spawn_scoped(scope, move || {
                    worker(
                        campaign,
                        sandbox,
                        checks,
                        (date, signing),
                        &work_rx,
                        &done_tx,
                    )
                })
                .map_err(RenderAllError::Thread)?;
        }
        drop(done_tx);
        let mut watch = Watch::new();
        // Dropping the receiver on error makes every worker and the reader stop at their next send.
        for result in done_rx.into_iter().flatten() {
            let outcome = result?;
            match &outcome {
                Ok(m) => watch.observe(m.index, Some(&m.content), m.own_data),
                Err(f) => watch.observe(f.index, None, 0),
            }
            sink(outcome)?;
        }
        Ok(Summary {
            findings: watch.finish(),
            suppressed: suppressed
                .lock()
                .map(|mut s| std::mem::take(&mut *s))
                .unwrap_or_default(),
        })
    })
}

/// Recipients go to the workers, and outcomes come back, this many at a time: one channel
/// hand-over (and, on a busy channel, one thread switch) per message cost a fifth of `check`'s
/// time at 383,000 recipients.
const BATCH: usize = 32;

/// Reads the list, sets the suppressed recipients aside and hands the rest to the workers in
/// batches; a list that cannot be read ends it, its error sent to the collector.
fn read_list(
    campaign: &Campaign,
    stream: impl Iterator<Item = Result<Recipient, CampaignError>>,
    work: &SyncSender<Vec<Recipient>>,
    done: &SyncSender<Vec<Result<Outcome, CampaignError>>>,
    suppressed: &Mutex<Vec<Suppressed>>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    for item in stream {
        match item {
            Ok(recipient) if let Some(why) = campaign.suppression.why(&recipient.email) => {
                if let Ok(mut s) = suppressed.lock() {
                    s.push(Suppressed {
                        index: recipient.index,
                        email: recipient.email,
                        why,
                    });
                }
            }
            Ok(recipient) => {
                batch.push(recipient);
                if batch.len() == BATCH
                    && work
                        .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                        .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                // What was read before the error is rendered first, as it was one by one.
                if !batch.is_empty() && work.send(std::mem::take(&mut batch)).is_err() {
                    return;
                }
                let _ = done.send(vec![Err(e)]);
                return;
            }
        }
    }
    if !batch.is_empty() {
        let _ = work.send(batch);
    }
}

/// Worker threads run wasm on their own stack: room for the sandbox's largest stack limit.
const WORKER_STACK: usize = 16 << 20;

fn worker(
    campaign: &Campaign,
    sandbox: &Sandbox,
    checks: &Checks,
    (date, signing): (SystemTime, Signing),
    work: &Mutex<Receiver<Vec<Recipient>>>,
    done: &SyncSender<Vec<Result<Outcome, CampaignError>>>,
) {
    loop {
        let next = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(batch) = next else { return };
        let outcomes = batch
            .into_iter()
            .map(|recipient| {
                Ok(render_one(
                    campaign,
                    sandbox,
                    checks,
                    (date, signing),
                    recipient,
                ))
            })
            .collect();
        if done.send(outcomes).is_err() {
            return;
        }
    }
}

/// Whether a built message is signed now or only hashed as it will be signed (see
/// [`message::dkim::signed_hash`]): the preflight hashes, the send signs, so each message costs
/// one signature per key, not two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// The message's bytes are signed: what `check` measures and `render` writes.
    Now,
    /// The message's bytes are left unsigned; its hash is that of the signed message.
    AtSend,
}

/// Renders, builds and checks one message; `date` is its Date and signature time.
pub fn render_one(
    campaign: &Campaign,
    sandbox: &Sandbox,
    checks: &Checks,
    (date, signing): (SystemTime, Signing),
    recipient: Recipient,
) -> Outcome {
    let Recipient {
        index,
        line,
        email,
        fields,
    } = recipient;
    let own_data = email.len() + fields.iter().map(|(_, v)| v.len()).sum::<usize>();
    let fail = |failure| Failed {
        index,
        line,
        masked: crate::campaign::recipients::mask(&email),
        failure,
    };
    let mut fields = fields;
    let mut list_unsubscribe = None;
    if let (Some(tokens), Some(unsubscribe)) = (&campaign.tokens, &campaign.unsubscribe) {
        let token = tokens.token(&email);
        fields.push((UNSUBSCRIBE_FIELD.to_owned(), unsubscribe.url(&token)));
        list_unsubscribe = Some(unsubscribe.header(&token));
    }
    let wit = sandbox::Recipient {
        email: email.clone(),
        fields,
    };
    let content = match sandbox.render(&campaign.templates, &wit) {
        Ok(content) => content,
        Err(failure) => return Err(fail(Failure::Renderer(failure))),
    };
    let message_id = message::message_id(&campaign.fingerprint, index, &campaign.from);
    let envelope = Envelope {
        from: &campaign.from,
        to: &email,
        date,
        message_id: &message_id,
        list_unsubscribe: list_unsubscribe.as_deref(),
    };
    let (bytes, hash) = match build_and_sign(campaign, &envelope, &content, (date, signing)) {
        Ok(built) => built,
        // Content no message can carry is the renderer's failure; anything else is the host's.
        Err(BuildError::Unfit(unfit)) => {
            return Err(fail(Failure::Renderer(RenderFailure::Invalid(
                unfit.to_string(),
            ))));
        }
        Err(host) => return Err(fail(Failure::Host(host))),
    };
    let findings = checks.recipient(index, &content, &wit);
    Ok(Rendered {
        index,
        line,
        email,
        content,
        bytes,
        hash,
        findings,
        own_data,
    })
}

/// The message's bytes, signed with the journaled Date as the signature time if `signing` says
/// now, and the hash of the signed message either way: the bytes a send signs and transmits are
/// the ones the preflight checked and hashed (DKIM signing is deterministic).
fn build_and_sign(
    campaign: &Campaign,
    envelope: &Envelope<'_>,
    content: &Content,
    (date, signing): (SystemTime, Signing),
) -> Result<(Vec<u8>, String), BuildError> {
    let bytes = message::build(envelope, content)?;
    // One preparation (parse, canonical fields, body hash) serves the hash and the signature.
    let prepared =
        message::dkim::prepare(&bytes, &campaign.dkim, date).map_err(BuildError::Sign)?;
    let hash = prepared.hash();
    if signing == Signing::AtSend || campaign.dkim.is_empty() {
        drop(prepared);
        return Ok((bytes, hash));
    }
    Ok((prepared.sign().map_err(BuildError::Sign)?, hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Unfit;
    use crate::message::dkim::SignError;

    #[test]
    fn a_message_the_host_cannot_build_or_sign_names_the_host_not_the_renderer() {
        let unsigned = Failure::Host(BuildError::Sign(SignError::NoFrom));
        assert_eq!(
            unsigned.to_string(),
            "host error: cannot sign the message with DKIM: the message has no From header, \
             which DKIM must sign"
        );
        let unbuilt = Failure::Host(BuildError::LineTooLong { line: 1, len: 1212 });
        assert_eq!(
            unbuilt.to_string(),
            "host error: cannot build a well-formed message: its line 1 would be 1212 octets \
             long (at most 998)"
        );
        let refused =
            Failure::Renderer(RenderFailure::Invalid(Unfit::SubjectLineBreak.to_string()));
        assert_eq!(
            refused.to_string(),
            "renderer output refused: the subject contains a line break"
        );
    }
}
