//! `isomail bounces`: reads the bounce mailbox (a Maildir) once, maps each DSN and complaint to
//! its recipient, journals it and appends hard bounces and complaints to the first suppress
//! file.
//!
//! The mailbox is only ever read: no file in it is deleted, moved or renamed (a shared bounce
//! mailbox is normal). What was read is recorded in the journal by the file's unique name and
//! content hash, so running this again, often, or while a `send` runs, counts nothing twice.

mod dsn;
mod error;
mod matcher;
mod mime;
mod plain;
pub mod reason;
mod report;

pub use error::BouncesError;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::Error;
use crate::campaign::Campaign;
use crate::campaign::suppress::normalise;
use crate::digest::hex;
use crate::journal::{Journal, ReportRecord, State};
use matcher::{Matcher, Whose};
use reason::{Class, Reason};
pub use report::{Bounce, Complaint, Failure, Original, Parsed, parse};

/// Larger mail is not a report isomail reads (a DSN carries at most the original's headers).
const MAX_REPORT_BYTES: u64 = 16 << 20;

/// What one reading of the mailbox found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Files read for the first time.
    pub read: usize,
    /// Files skipped because the journal has them already.
    pub known: usize,
    /// Recipients newly `bounced` (the recipient is gone: unknown user or domain, moved).
    pub hard: usize,
    /// Temporary failures and delays (mailbox full, greylisted, …): recorded only.
    pub soft: usize,
    /// Failures about the sender (a block of our IP or domain, authentication, content, rate):
    /// recorded, never suppressing the recipient.
    pub sender: usize,
    /// Failures whose cause is not recognised: recorded only.
    pub unclassified: usize,
    /// Recipients newly `complained`.
    pub complaints: usize,
    /// Reports without a valid token while VERP is on: about nobody.
    pub unverified: usize,
    /// Mail that is not a report, or a report for someone not in this campaign.
    pub other: usize,
    /// Mail isomail will not read (too large, a shape no report has): recorded once.
    pub unreadable: usize,
    /// Reports for a recipient still being sent: left for the next reading.
    pub deferred: usize,
    /// Addresses appended to the first suppress file.
    pub appended: usize,
    /// The campaign has no suppress file: bounces and complaints are only journaled.
    pub no_suppress_file: bool,
}

/// What to do about one mail.
struct Decision {
    index: Option<usize>,
    kind: &'static str,
    reason: Option<String>,
    status: Option<String>,
    reply: Option<u16>,
    diagnostic: Option<String>,
    /// The address the report names, kept for a report about nobody (shown masked).
    named: Option<String>,
}

impl Decision {
    fn other(kind: &'static str) -> Decision {
        Decision {
            index: None,
            kind,
            reason: None,
            status: None,
            reply: None,
            diagnostic: None,
            named: None,
        }
    }
}

/// The kind a failure of `class` is journaled as.
fn kind_of(class: Class) -> &'static str {
    match class {
        Class::Gone => "hard",
        Class::Temporary => "soft",
        Class::Sender => "sender",
        Class::Unclassified => "unclassified",
    }
}

/// Which failure of a report speaks for it: the recipient gone first, then a block of ours.
fn rank(f: &Failure) -> u8 {
    match f.reason.class() {
        Class::Gone => 0,
        Class::Sender => 1,
        Class::Unclassified => 2,
        Class::Temporary => 3,
    }
}

fn decide(parsed: Parsed, matcher: &Matcher) -> Decision {
    match parsed {
        Parsed::NotAReport => Decision::other("other"),
        Parsed::Unreadable(why) => Decision {
            diagnostic: Some(why),
            ..Decision::other("unreadable")
        },
        Parsed::Bounce(bounce) => decide_bounce(&bounce, matcher),
        Parsed::Complaint(complaint) => decide_complaint(&complaint, matcher),
    }
}

fn decide_bounce(bounce: &Bounce, matcher: &Matcher) -> Decision {
    let named: Vec<&str> = bounce
        .failures
        .iter()
        .flat_map(|f| f.addresses.iter().map(String::as_str))
        .collect();
    let whose = matcher.whose(&bounce.addressed_to, &bounce.original, &named);
    let index = match whose {
        Whose::Token(i) | Whose::Named(i) => i,
        Whose::Unverified => {
            return Decision {
                named: named.first().map(|a| (*a).to_owned()),
                reason: bounce
                    .failures
                    .iter()
                    .min_by_key(|f| rank(f))
                    .map(|f| f.reason.as_str().to_owned()),
                ..Decision::other("unverified")
            };
        }
        Whose::Nobody => return Decision::other("other"),
    };
    let email = matcher.rows.get(&index).map(|r| normalise(&r.0));
    let about = |f: &&Failure| f.addresses.iter().any(|a| Some(normalise(a)) == email);
    // With a token the whole report is about its recipient; by address, only what names them.
    let failure = match whose {
        Whose::Token(_) => bounce
            .failures
            .iter()
            .filter(about)
            .min_by_key(|f| rank(f))
            .or_else(|| bounce.failures.iter().min_by_key(|f| rank(f))),
        _ => bounce.failures.iter().filter(about).min_by_key(|f| rank(f)),
    };
    let Some(f) = failure else {
        return Decision::other("other");
    };
    Decision {
        index: Some(index),
        kind: kind_of(f.reason.class()),
        reason: Some(f.reason.as_str().to_owned()),
        status: f.status.clone(),
        reply: f.reply,
        diagnostic: f.diagnostic.clone(),
        named: None,
    }
}

fn decide_complaint(complaint: &Complaint, matcher: &Matcher) -> Decision {
    let named: Vec<&str> = complaint.recipients.iter().map(String::as_str).collect();
    let feedback = complaint.feedback_type.as_str();
    let (kind, reason) = match feedback {
        // A DMARC/DKIM/SPF failure report (RFC 6591) or a virus found in our mail: about us.
        "auth-failure" => ("sender", Reason::Authentication.as_str().to_owned()),
        "virus" => ("sender", Reason::Spam.as_str().to_owned()),
        // A reader saying it is not spam is no complaint.
        "not-spam" => return Decision::other("other"),
        _ => ("complaint", crate::term::inert(feedback).into_owned()),
    };
    let index = match matcher.whose(&complaint.addressed_to, &complaint.original, &named) {
        Whose::Token(i) | Whose::Named(i) => i,
        Whose::Unverified => {
            return Decision {
                named: named.first().map(|a| (*a).to_owned()),
                reason: Some(reason),
                ..Decision::other("unverified")
            };
        }
        Whose::Nobody => return Decision::other("other"),
    };
    Decision {
        index: Some(index),
        kind,
        diagnostic: Some(format!(
            "{} report ({})",
            if kind == "complaint" {
                "complaint"
            } else {
                "feedback"
            },
            reason
        )),
        reason: Some(reason),
        ..Decision::other(kind)
    }
}

/// The mail files of a Maildir (new/ and cur/): (unique name, path), oldest first by name.
fn maildir_files(maildir: &Path) -> Result<Vec<(String, PathBuf)>, BouncesError> {
    if !maildir.join("new").is_dir() && !maildir.join("cur").is_dir() {
        return Err(BouncesError::NotAMaildir(maildir.display().to_string()));
    }
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        let dir = maildir.join(sub);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.map_err(|source| BouncesError::Unlistable {
                dir: dir.display().to_string(),
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let unique = name.split(':').next().unwrap_or(&name).to_owned();
            files.push((unique, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

/// A mail file as read.
enum Mail {
    Bytes(Vec<u8>),
    /// Larger than [`MAX_REPORT_BYTES`]: its first bytes, which name it in the journal.
    TooLarge(Vec<u8>),
    /// Vanished, not a regular file, or unreadable now: tried again next time.
    Gone,
}

/// Reads a file, at most [`MAX_REPORT_BYTES`].
fn read_mail(path: &Path) -> Mail {
    // A regular file only: a FIFO planted in the mailbox would hang the reader.
    let Ok(file) = crate::input_file::open(path, u64::MAX) else {
        return Mail::Gone;
    };
    let mut bytes = Vec::new();
    if file
        .take(MAX_REPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .is_err()
    {
        return Mail::Gone;
    }
    if bytes.len() as u64 > MAX_REPORT_BYTES {
        bytes.truncate(64 << 10);
        return Mail::TooLarge(bytes);
    }
    Mail::Bytes(bytes)
}

/// What one reading has found so far.
struct Reading<'a> {
    matcher: &'a Matcher,
    tally: Tally,
    records: Vec<ReportRecord>,
    moved: HashMap<usize, State>,
    seen_now: HashSet<String>,
    names: HashSet<String>,
    hashes: HashSet<String>,
}

impl Reading<'_> {
    /// Reads one file of the mailbox.
    fn file(&mut self, name: String, path: &Path) {
        if self.names.contains(&name) || !self.seen_now.insert(name.clone()) {
            self.tally.known += 1;
            return;
        }
        let (bytes, decision) = match read_mail(path) {
            Mail::Gone => return,
            Mail::TooLarge(start) => {
                let why = format!("larger than {} MiB: not a report", MAX_REPORT_BYTES >> 20);
                (
                    start,
                    Decision {
                        diagnostic: Some(why),
                        ..Decision::other("unreadable")
                    },
                )
            }
            Mail::Bytes(bytes) => {
                let decision = decide(parse(&bytes), self.matcher);
                (bytes, decision)
            }
        };
        self.tally.read += 1;
        let hash = hex(&Sha256::digest(&bytes));
        if !self.hashes.insert(hash.clone()) {
            self.records
                .push(record(name, hash, Decision::other("duplicate"), None));
            return;
        }
        let Some(index) = decision.index else {
            match decision.kind {
                "unverified" => self.tally.unverified += 1,
                "unreadable" => self.tally.unreadable += 1,
                _ => self.tally.other += 1,
            }
            self.records.push(record(name, hash, decision, None));
            return;
        };
        let state = self
            .moved
            .get(&index)
            .copied()
            .or_else(|| self.matcher.rows.get(&index).map(|r| r.1));
        if matches!(state, Some(State::Pending | State::Sending) | None) {
            // Not sent yet, or its `sent` not journaled yet: the next reading takes it.
            self.tally.deferred += 1;
            self.seen_now.remove(&name);
            self.hashes.remove(&hash);
            return;
        }
        let new_state = transition(decision.kind, state);
        match (decision.kind, new_state) {
            ("hard", Some(_)) => self.tally.hard += 1,
            ("complaint", Some(_)) => self.tally.complaints += 1,
            ("soft", _) => self.tally.soft += 1,
            ("sender", _) => self.tally.sender += 1,
            ("unclassified", _) => self.tally.unclassified += 1,
            _ => {}
        }
        if let Some(s) = new_state {
            self.moved.insert(index, s);
        }
        self.records.push(record(name, hash, decision, new_state));
    }
}

/// Reads `maildir` once and records what it found for `campaign` in `journal`.
pub fn process(campaign: &Campaign, journal: &mut Journal, maildir: &Path) -> Result<Tally, Error> {
    let matcher = Matcher::new(campaign, journal)?;
    let (names, hashes) = journal.reports_read()?;
    let mut reading = Reading {
        matcher: &matcher,
        tally: Tally::default(),
        records: Vec::new(),
        moved: HashMap::new(),
        seen_now: HashSet::new(),
        names,
        hashes,
    };
    for (name, path) in maildir_files(maildir)? {
        reading.file(name, &path);
    }
    let Reading {
        mut tally, records, ..
    } = reading;
    suppress(
        campaign,
        &matcher,
        &records,
        state_before(&matcher),
        &mut tally,
    )?;
    journal.record_reports(&records)?;
    Ok(tally)
}

fn state_before(matcher: &Matcher) -> impl Fn(usize) -> Option<State> + '_ {
    |index| matcher.rows.get(&index).map(|r| r.1)
}

fn record(name: String, hash: String, d: Decision, new_state: Option<State>) -> ReportRecord {
    ReportRecord {
        name,
        hash,
        index: d.index,
        kind: d.kind,
        reason: d.reason,
        status: d.status,
        reply_code: d.reply,
        diagnostic: d.diagnostic,
        named: d.named,
        new_state,
    }
}

/// Where a report moves a recipient in `state`: hard bounces and complaints only from a
/// message that went out.
fn transition(kind: &str, state: Option<State>) -> Option<State> {
    match (kind, state?) {
        ("hard", State::Sent | State::Ambiguous) => Some(State::Bounced),
        ("complaint", State::Sent | State::Ambiguous | State::Bounced) => Some(State::Complained),
        _ => None,
    }
}

/// Appends every newly bounced or complaining address to the first suppress file, before the
/// journal records them (a crash in between appends again: harmless; never the reverse).
fn suppress(
    campaign: &Campaign,
    matcher: &Matcher,
    records: &[ReportRecord],
    before: impl Fn(usize) -> Option<State>,
    tally: &mut Tally,
) -> Result<(), Error> {
    let mut lines = Vec::new();
    let mut done = HashSet::new();
    for r in records {
        let (Some(index), Some(_)) = (r.index, r.new_state) else {
            continue;
        };
        // A complaint after a bounce: the address is in the file already.
        if before(index) == Some(State::Bounced) || !done.insert(index) {
            continue;
        }
        let Some((email, _)) = matcher.rows.get(&index) else {
            continue;
        };
        let why = match r.kind {
            "hard" => format!(
                "bounced {} ({})",
                r.status.as_deref().unwrap_or("5.0.0"),
                r.reason.as_deref().unwrap_or("gone")
            ),
            _ => "complained".to_owned(),
        };
        lines.push((email.clone(), why));
    }
    if lines.is_empty() {
        return Ok(());
    }
    match campaign.suppression.files().first() {
        None => tally.no_suppress_file = true,
        Some(file) => {
            crate::campaign::suppress::append::append(file, &lines)?;
            tally.appended = lines.len();
        }
    }
    Ok(())
}
