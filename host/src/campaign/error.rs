//! What is wrong with a campaign's input: always the operator's to fix, always before anything
//! is sent (exit 2). Each error names the file, and the section and key or the line and column
//! it is about, so one sentence tells the operator where to look.

use std::path::Path;

/// A campaign file, template, list, suppress file, key or secret that isomail refuses.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// A section or key of the campaign file: `campaign.toml: [delivery] stages …`.
    #[error("{file}: [{section}] {reason}")]
    Setting {
        file: String,
        /// `delivery`, `message`, `[dkim]` (shown as `[[dkim]]`), …
        section: &'static str,
        /// The key, when the refusal is about one (`from`, `key_file`, …).
        key: Option<&'static str>,
        reason: String,
        /// What a key's file or value was refused with (a DKIM key's parse error, …).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A line of a data file (the list, a suppress file), and the column when there is one.
    #[error("{file}: line {line}{}: {reason}", column_shown(column.as_deref()))]
    Line {
        file: String,
        line: u64,
        /// As shown: "`email`", or a column's number.
        column: Option<String>,
        reason: String,
    },
    /// A file as a whole: empty, not UTF-8, not a regular file, too large, changed while read.
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    /// An input file or directory that could not be read or listed, with what the system said.
    #[error("{file}: {action}")]
    Unreadable {
        file: String,
        /// "cannot read the campaign file", "cannot read the directory", …
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A file isomail writes (a suppress file it appends to, `init`'s sample) that it could not
    /// write: the machine's problem, not the input's (exit 1).
    #[error("{file}: {action}")]
    Unwritable {
        file: String,
        /// "cannot append", "cannot create", "cannot write"
        action: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A lock another thread panicked while holding: a bug in isomail (exit 1).
    #[error("{0} lock poisoned")]
    Poisoned(&'static str),
}

/// A value of one section that is refused, before the caller knows the file and section: the
/// key it is about, and the sentence (which names the key).
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    key: &'static str,
    reason: String,
}

impl Invalid {
    pub(crate) fn new(key: &'static str, reason: impl Into<String>) -> Invalid {
        Invalid {
            key,
            reason: reason.into(),
        }
    }

    /// The refusal as the campaign file's: `file: [section] reason`, the key kept.
    pub(crate) fn in_section(self, file: &str, section: &'static str) -> CampaignError {
        CampaignError::key(file, section, self.key, self.reason)
    }
}

fn column_shown(column: Option<&str>) -> String {
    column.map_or_else(String::new, |c| format!(", column {c}"))
}

impl CampaignError {
    /// A section's refusal without a key of its own, or with the key already in `reason`.
    pub(crate) fn setting(file: &str, section: &'static str, reason: impl Into<String>) -> Self {
        CampaignError::Setting {
            file: file.to_owned(),
            section,
            key: None,
            reason: reason.into(),
            source: None,
        }
    }

    /// A refusal of `key` in `section`; `reason` is the sentence after the section, key included.
    pub(crate) fn key(
        file: &str,
        section: &'static str,
        key: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        CampaignError::Setting {
            file: file.to_owned(),
            section,
            key: Some(key),
            reason: reason.into(),
            source: None,
        }
    }

    /// A refusal of line `line` (and `column`, as shown) of `file`.
    pub(crate) fn line(
        file: &Path,
        line: u64,
        column: Option<String>,
        reason: impl Into<String>,
    ) -> Self {
        CampaignError::Line {
            file: file.display().to_string(),
            line,
            column,
            reason: reason.into(),
        }
    }

    /// A refusal of `file` as a whole, `file` as it is to be shown.
    pub(crate) fn file(file: impl Into<String>, reason: impl Into<String>) -> Self {
        CampaignError::File {
            file: file.into(),
            reason: reason.into(),
        }
    }

    /// `file` could not be read while doing `action`.
    pub(crate) fn unreadable(file: &Path, action: &'static str, source: std::io::Error) -> Self {
        CampaignError::Unreadable {
            file: file.display().to_string(),
            action,
            source,
        }
    }

    /// `file` could not be written while doing `action`.
    pub(crate) fn unwritable(
        file: &Path,
        action: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        CampaignError::Unwritable {
            file: file.display().to_string(),
            action,
            source: Box::new(source),
        }
    }
}
