//! `isomail bounces`: reads the bounce mailbox (a Maildir) once, maps each DSN and complaint to
//! its recipient, journals it and appends hard bounces and complaints to the first suppress
//! file.
//!
//! The mailbox is only ever read: no file in it is deleted, moved or renamed (a shared bounce
//! mailbox is normal). What was read is recorded in the journal by the file's unique name and
//! content hash, so running this again, often, or while a `send` runs, counts nothing twice.

mod error;
mod report;

pub use error::BouncesError;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::Error;
use crate::campaign::{Campaign, tokens::TOKEN};
use crate::digest::hex;
use crate::journal::{Journal, ReportRecord, State};
pub use report::{DsnRecipient, Parsed, Severity, parse};

/// Larger mail is not a report isomail reads (a DSN carries at most the original's headers).
const MAX_REPORT_BYTES: u64 = 16 << 20;

/// What one reading of the mailbox found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Files read for the first time.
    pub read: usize,
    /// Files skipped because the journal has them already.
    pub known: usize,
    /// Recipients newly `bounced`.
    pub hard: usize,
    /// Soft bounces (delays, 4.x.x) recorded.
    pub soft: usize,
    /// Recipients newly `complained`.
    pub complaints: usize,
    /// Mail that is not a report, or a report for someone not in this campaign.
    pub other: usize,
    /// Reports for a recipient still being sent: left for the next reading.
    pub deferred: usize,
    /// Addresses appended to the first suppress file.
    pub appended: usize,
    /// The campaign has no suppress file: bounces and complaints are only journaled.
    pub no_suppress_file: bool,
}

/// Who a report is about: by the token of the VERP address, or by address.
struct Matcher {
    verp: Option<(String, String)>,
    by_token: HashMap<String, usize>,
    by_email: HashMap<String, usize>,
    rows: HashMap<usize, (String, State)>,
}

impl Matcher {
    fn new(campaign: &Campaign, journal: &Journal) -> Result<Matcher, Error> {
        let verp = campaign
            .delivery
            .return_path
            .as_deref()
            .and_then(|p| p.split_once(TOKEN))
            .map(|(a, b)| (a.to_ascii_lowercase(), b.to_ascii_lowercase()));
        let (mut by_token, mut by_email, mut rows) =
            (HashMap::new(), HashMap::new(), HashMap::new());
        for row in journal.all_rows()? {
            if let (Some(_), Some(tokens)) = (&verp, &campaign.tokens) {
                by_token.insert(tokens.token(&row.email), row.index);
            }
            by_email.insert(crate::campaign::suppress::normalise(&row.email), row.index);
            rows.insert(row.index, (row.email, row.state));
        }
        Ok(Matcher {
            verp,
            by_token,
            by_email,
            rows,
        })
    }

    /// The recipient whose VERP address is among `addresses`.
    fn by_verp(&self, addresses: &[String]) -> Option<usize> {
        let (prefix, suffix) = self.verp.as_ref()?;
        addresses.iter().find_map(|a| {
            let lower = a.to_ascii_lowercase();
            if lower.len() <= prefix.len() + suffix.len()
                || !lower.starts_with(prefix.as_str())
                || !lower.ends_with(suffix.as_str())
            {
                return None;
            }
            // The token is case-sensitive: cut it from the address as written.
            let token = a.get(prefix.len()..a.len() - suffix.len())?;
            self.by_token.get(token).copied()
        })
    }

    fn by_address(&self, addresses: &[String]) -> Option<usize> {
        addresses.iter().find_map(|a| {
            self.by_email
                .get(&crate::campaign::suppress::normalise(a))
                .copied()
        })
    }
}

/// What to do about one mail.
struct Decision {
    index: Option<usize>,
    kind: &'static str,
    status: Option<String>,
    diagnostic: Option<String>,
}

fn decide(parsed: Parsed, matcher: &Matcher) -> Decision {
    let other = Decision {
        index: None,
        kind: "other",
        status: None,
        diagnostic: None,
    };
    match parsed {
        Parsed::NotAReport => other,
        Parsed::Dsn {
            addressed_to,
            recipients,
        } => {
            let by_verp = matcher.by_verp(&addressed_to);
            // With the VERP address the report is about that recipient; the worst block counts.
            let found = recipients.iter().filter_map(|r| {
                let index = by_verp.or_else(|| matcher.by_address(&r.addresses))?;
                (r.severity() != Severity::None).then_some((index, r))
            });
            let Some((index, r)) = found.min_by_key(|(_, r)| r.severity() != Severity::Hard) else {
                return other;
            };
            Decision {
                index: Some(index),
                kind: if r.severity() == Severity::Hard {
                    "hard"
                } else {
                    "soft"
                },
                status: Some(r.status.clone()).filter(|s| !s.is_empty()),
                diagnostic: r.diagnostic.clone(),
            }
        }
        Parsed::Complaint {
            addressed_to,
            recipients,
            original_return_path,
            feedback_type,
        } => {
            let index = matcher
                .by_verp(&addressed_to)
                .or_else(|| matcher.by_verp(&original_return_path))
                .or_else(|| matcher.by_address(&recipients));
            match index {
                None => other,
                Some(index) => Decision {
                    index: Some(index),
                    kind: "complaint",
                    status: None,
                    diagnostic: Some(format!("complaint ({feedback_type})")),
                },
            }
        }
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

/// Reads a file, at most [`MAX_REPORT_BYTES`]; `None` when it is larger or vanished.
fn read_mail(path: &Path) -> Option<Vec<u8>> {
    // A regular file only: a FIFO planted in the mailbox would hang the reader.
    let file = crate::input_file::open(path, MAX_REPORT_BYTES).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_REPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    (bytes.len() as u64 <= MAX_REPORT_BYTES).then_some(bytes)
}

/// Reads `maildir` once and records what it found for `campaign` in `journal`.
pub fn process(campaign: &Campaign, journal: &mut Journal, maildir: &Path) -> Result<Tally, Error> {
    let matcher = Matcher::new(campaign, journal)?;
    let (names, mut hashes) = journal.reports_read()?;
    let mut tally = Tally::default();
    let mut records = Vec::new();
    let mut moved: HashMap<usize, State> = HashMap::new();
    let mut seen_now: HashSet<String> = HashSet::new();
    for (name, path) in maildir_files(maildir)? {
        if names.contains(&name) || !seen_now.insert(name.clone()) {
            tally.known += 1;
            continue;
        }
        let Some(bytes) = read_mail(&path) else {
            continue;
        };
        tally.read += 1;
        let hash = hex(&Sha256::digest(&bytes));
        if !hashes.insert(hash.clone()) {
            records.push(record(name, hash, None, "duplicate", None));
            continue;
        }
        let decision = decide(parse(&bytes), &matcher);
        let Some(index) = decision.index else {
            tally.other += 1;
            records.push(record(name, hash, None, "other", None));
            continue;
        };
        let state = moved
            .get(&index)
            .copied()
            .or_else(|| matcher.rows.get(&index).map(|r| r.1));
        if matches!(state, Some(State::Pending | State::Sending) | None) {
            // Not sent yet, or its `sent` not journaled yet: the next reading takes it.
            tally.deferred += 1;
            seen_now.remove(&name);
            hashes.remove(&hash);
            continue;
        }
        let new_state = transition(decision.kind, state);
        match (decision.kind, new_state) {
            ("hard", Some(_)) => tally.hard += 1,
            ("complaint", Some(_)) => tally.complaints += 1,
            ("soft", _) => tally.soft += 1,
            _ => {}
        }
        if let Some(s) = new_state {
            moved.insert(index, s);
        }
        records.push(ReportRecord {
            name,
            hash,
            index: Some(index),
            kind: decision.kind,
            status: decision.status,
            diagnostic: decision.diagnostic,
            new_state,
        });
    }
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

fn record(
    name: String,
    hash: String,
    index: Option<usize>,
    kind: &'static str,
    status: Option<String>,
) -> ReportRecord {
    ReportRecord {
        name,
        hash,
        index,
        kind,
        status,
        diagnostic: None,
        new_state: None,
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
            "hard" => format!("bounced {}", r.status.as_deref().unwrap_or("5.0.0")),
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
