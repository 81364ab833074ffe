//! The journal's meta table: what it knows of the campaign as a whole (its fingerprint and
//! stable id, the campaign file it belongs to, its fixed Date, whether the preflight finished)
//! and of the sends (which one runs, who asked it to halt). Each key behind a typed method.

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::OptionalExtension;

use super::{Journal, JournalError, now};

/// The meta keys, each behind a typed method below.
pub(super) mod key {
    pub const FINGERPRINT: &str = "fingerprint";
    pub const PREFLIGHT: &str = "preflight";
    pub const DATE: &str = "date";
    pub const HALT_REQUESTED: &str = "halt_requested";
    /// Marks the file as an isomail journal; its value is the format.
    pub const FORMAT: &str = "isomail_journal";
    /// The campaign file's name: a journal copied under another campaign's name is refused.
    pub const CAMPAIGN: &str = "campaign_file";
    /// The fingerprint the campaign had when it was first checked: the stable prefix of the
    /// per-recipient delivery keys, whatever `--allow-changed` does to the fingerprint later.
    pub const CAMPAIGN_ID: &str = "campaign_id";
    /// The `send` now running, so `isomail halt` asks that one and no later one.
    pub const RUNNING: &str = "running_send";
}

impl Journal {
    /// The fingerprint of the campaign this journal belongs to, once a preflight recorded it.
    pub fn fingerprint(&self) -> Result<Option<String>, JournalError> {
        self.meta(key::FINGERPRINT)
    }

    pub fn set_fingerprint(&self, fingerprint: &str) -> Result<(), JournalError> {
        self.set_meta(key::FINGERPRINT, fingerprint)
    }

    /// Whether every message's hash is journaled (the preflight finished).
    pub fn preflight_done(&self) -> Result<bool, JournalError> {
        Ok(self.meta(key::PREFLIGHT)?.is_some())
    }

    /// The campaign's Date: fixed by the first run and journaled, so every message keeps the
    /// bytes (and hash) its preflight checked, however many runs it takes.
    pub fn date(&self) -> Result<SystemTime, JournalError> {
        let secs = match self.meta(key::DATE)? {
            Some(secs) => secs.parse().unwrap_or(0),
            None => {
                let now = now().max(0) as u64;
                self.set_meta(key::DATE, &now.to_string())?;
                now
            }
        };
        Ok(UNIX_EPOCH + std::time::Duration::from_secs(secs))
    }

    /// `isomail halt`: asks the send that `run` names (see [`Journal::start_run`]) to stop;
    /// `by` says who asked. A request for an earlier send is never honoured by a later one.
    pub fn request_halt(&self, run: &str, by: &str) -> Result<(), JournalError> {
        self.set_meta(key::HALT_REQUESTED, &format!("{run}\n{by}"))
    }

    /// Who asked the send `run` to stop, if anyone has.
    pub fn halt_request(&self, run: &str) -> Result<Option<String>, JournalError> {
        Ok(self.meta(key::HALT_REQUESTED)?.and_then(|request| {
            let (for_run, by) = request.split_once('\n')?;
            (for_run == run).then(|| by.to_owned())
        }))
    }

    /// A new `send` records itself as the one running (under the campaign's lock), dropping
    /// any request that was meant for an earlier one. Returns its name.
    pub fn start_run(&self) -> Result<String, JournalError> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let run = format!("{}-{nanos}", std::process::id());
        self.delete_meta(key::HALT_REQUESTED)?;
        self.set_meta(key::RUNNING, &run)?;
        Ok(run)
    }

    /// The send last recorded as running (whether it still runs, the lock tells).
    pub fn running(&self) -> Result<Option<String>, JournalError> {
        self.meta(key::RUNNING)
    }

    /// Whether a halt request for the send last recorded as running is waiting.
    pub fn halt_requested(&self) -> Result<bool, JournalError> {
        match self.running()? {
            Some(run) => Ok(self.halt_request(&run)?.is_some()),
            None => Ok(false),
        }
    }

    /// The campaign file this journal belongs to, by name, recorded by its first `send`.
    pub fn campaign_file(&self) -> Result<Option<String>, JournalError> {
        self.meta(key::CAMPAIGN)
    }

    pub fn set_campaign_file(&self, name: &str) -> Result<(), JournalError> {
        self.set_meta(key::CAMPAIGN, name)
    }

    /// The stable prefix of the delivery keys: the fingerprint the campaign had when it was
    /// first checked (journals of earlier isomails: the one they hold).
    pub fn campaign_id(&self) -> Result<Option<String>, JournalError> {
        match self.meta(key::CAMPAIGN_ID)? {
            Some(id) => Ok(Some(id)),
            None => self.fingerprint(),
        }
    }

    fn meta(&self, key: &str) -> Result<Option<String>, JournalError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), JournalError> {
        self.conn
            .execute(
                "INSERT INTO meta(key, value) VALUES(?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = ?2",
                [key, value],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    fn delete_meta(&self, key: &str) -> Result<(), JournalError> {
        self.conn
            .execute("DELETE FROM meta WHERE key = ?1", [key])
            .map(|_| ())
            .map_err(self.err())
    }
}
