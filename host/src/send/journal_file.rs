//! Which journal file a `send` may use: never a fresh one where an earlier send of this
//! campaign left traces, never one that belongs to another campaign file; and the list as the
//! journal compares it, person by person.

use std::path::{Path, PathBuf};

use super::error::SendError;
use crate::Error;
use crate::campaign::{Campaign, Target, normalise};
use crate::journal::{Journal, Listed};

/// With no journal at `path`, refuses to start the campaign afresh when something shows an
/// earlier send of it: the journal's `-wal`/`-shm` (the journal was deleted or moved while
/// they stayed), a lock file that a send marked once it began sending, or messages of this
/// campaign in its Maildir outbox. Starting afresh would mail everyone already mailed again.
/// The dry-run journal is no such sign: a rehearsal sends nothing.
pub(super) fn refuse_lost(
    campaign: &Campaign,
    path: &Path,
    fingerprint: &str,
    dry_run: bool,
) -> Result<(), Error> {
    if dry_run || std::fs::symlink_metadata(path).is_ok() {
        return Ok(());
    }
    let mut signs: Vec<String> = Vec::new();
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            signs.push(format!("{} exists", side.display()));
        }
    }
    let lock = Journal::lock_path(path);
    if Journal::lock_marked(&lock) {
        signs.push(format!(
            "{} records that a send of this campaign began sending",
            lock.display()
        ));
    }
    if let Target::Outbox { dir, .. } = &campaign.delivery.target {
        let found = outbox_messages(dir, &fingerprint[..16]);
        if found > 0 {
            signs.push(format!(
                "the outbox {} already holds {found} message(s) of this campaign",
                dir.display()
            ));
        }
    }
    if signs.is_empty() {
        return Ok(());
    }
    Err(SendError::JournalLost {
        journal: path.to_path_buf(),
        signs: signs.join(", and "),
    }
    .into())
}

/// Messages in `dir`'s `new/` and `cur/` whose names carry this campaign's key prefix.
fn outbox_messages(dir: &Path, prefix: &str) -> usize {
    ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(dir.join(sub)).ok())
        .flat_map(|entries| entries.flatten())
        .filter(|e| {
            e.file_name().to_str().is_some_and(|n| {
                n.starts_with(prefix) && n.as_bytes().get(prefix.len()) == Some(&b'-')
            })
        })
        .count()
}

/// Refuses a journal that another campaign file's send made (copied or renamed into this
/// one's place); a journal that names no campaign yet is claimed for this one.
pub(super) fn claim(campaign: &Campaign, journal: &Journal) -> Result<(), Error> {
    let name = campaign
        .path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    match journal.campaign_file()? {
        Some(owner) if owner != name => Err(SendError::JournalOfAnother {
            journal: journal.path().to_path_buf(),
            owner,
            name,
        }
        .into()),
        Some(_) => Ok(()),
        None => Ok(journal.set_campaign_file(&name)?),
    }
}

/// Every recipient of the list, by normalised address with a digest of their row, in list
/// order: what the journal matches people by.
pub(super) fn listing(campaign: &Campaign) -> Result<Vec<Listed>, Error> {
    let mut listed = Vec::with_capacity(campaign.recipients.len());
    for recipient in campaign.recipients.stream()? {
        let recipient = recipient?;
        listed.push(Listed {
            index: recipient.index,
            addr: normalise(&recipient.email),
            data: recipient.data_digest(),
        });
    }
    Ok(listed)
}
