//! One sender per campaign: the advisory lock on `<journal>.lock` a `send` holds while it
//! runs, released by the OS even after `kill -9`, and the mark it leaves there once it begins
//! sending, so a lost journal is never taken for a campaign that was never sent.

use std::path::{Path, PathBuf};

use super::{Journal, JournalError};

/// Held while a `send` runs: one sender per campaign. An advisory lock on `<journal>.lock`,
/// released by the OS even after `kill -9`.
#[derive(Debug)]
pub struct JournalLock {
    file: std::fs::File,
    path: PathBuf,
}

impl JournalLock {
    /// Records in the lock file, durably, that this send is past its preflight and about to
    /// send: then a lost journal is never taken for a campaign that was never sent.
    pub fn mark_sending(&self, campaign_id: &str) -> Result<(), JournalError> {
        use std::io::{Seek, Write};
        let mut file = &self.file;
        let marked = file
            .set_len(0)
            .and_then(|()| file.seek(std::io::SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "sending {campaign_id}"))
            .and_then(|()| file.sync_all());
        marked.map_err(|source| JournalError::Mark {
            path: self.path.clone(),
            source,
        })
    }

    /// Whether a `send` holds the lock of the journal at `path` now.
    pub fn held(path: &Path) -> bool {
        let Ok(file) = std::fs::OpenOptions::new()
            .write(true)
            .open(Journal::lock_path(path))
        else {
            return false;
        };
        matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
    }
}

impl Journal {
    /// The lock file of the journal at `path`.
    pub fn lock_path(path: &Path) -> PathBuf {
        path.with_extension("lock")
    }

    /// Whether the lock file at `lock_path` records that a send began sending
    /// ([`JournalLock::mark_sending`]): a sign that the campaign was sent, should its journal be
    /// lost. A send whose preflight failed leaves it unmarked.
    pub fn lock_marked(lock_path: &Path) -> bool {
        use std::io::Read;
        let mut head = [0u8; 8];
        std::fs::File::open(lock_path)
            .and_then(|mut f| f.read(&mut head))
            .is_ok_and(|n| head[..n].starts_with(b"sending"))
    }

    /// Takes the one-sender-per-campaign lock for the journal at `path`.
    pub fn lock(path: &Path) -> Result<JournalLock, JournalError> {
        let lock_path = Journal::lock_path(path);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path);
        let file = match file {
            Ok(file) => file,
            Err(source) => {
                return Err(JournalError::LockFile {
                    path: lock_path,
                    source,
                });
            }
        };
        match file.try_lock() {
            Ok(()) => Ok(JournalLock {
                file,
                path: lock_path,
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(JournalError::Busy { path: lock_path }),
            Err(std::fs::TryLockError::Error(source)) => Err(JournalError::Lock {
                path: lock_path,
                source,
            }),
        }
    }
}
