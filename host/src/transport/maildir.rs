//! The embedded default transport: each message is written into a Maildir (`tmp/` then an
//! atomic rename into `new/`), under a name derived from the campaign and recipient, so a
//! message delivered twice would overwrite itself rather than duplicate, and a crash can be
//! resolved by looking for the file.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Attempt, BoxFuture, Delivery, Outgoing, Reply, Transport};

pub struct Maildir {
    root: PathBuf,
}

impl Maildir {
    /// Creates `root/{tmp,new,cur}` if needed.
    pub fn open(root: &Path) -> std::io::Result<Maildir> {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        Ok(Maildir {
            root: root.to_path_buf(),
        })
    }

    fn file_name(key: &str) -> String {
        format!("{key}.isomail")
    }

    fn deliver(&self, key: &str, bytes: &[u8]) -> std::io::Result<()> {
        let name = Self::file_name(key);
        let tmp = self.root.join("tmp").join(&name);
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, self.root.join("new").join(&name))?;
        // The rename is durable only once the directory is.
        std::fs::File::open(self.root.join("new"))?.sync_all()
    }
}

impl Transport for Maildir {
    fn send<'a>(&'a self, outgoing: &'a Outgoing<'a>) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            Attempt::local(match self.deliver(outgoing.key, outgoing.bytes) {
                Ok(()) => Delivery::Sent(Reply::local(format!(
                    "written to {}",
                    self.root.join("new").display()
                ))),
                // A local write either happened (the rename is atomic) or did not; a full or
                // read-only disk will not fix itself between two messages.
                Err(e) => {
                    Delivery::Unreachable(Reply::local(format!("cannot write to the outbox: {e}")))
                }
            })
        })
    }

    fn already_delivered(&self, key: &str) -> Option<bool> {
        let name = Self::file_name(key);
        Some(
            self.root.join("new").join(&name).exists()
                || self.root.join("cur").join(&name).exists(),
        )
    }

    fn describe(&self) -> String {
        format!("Maildir {}", self.root.display())
    }
}
