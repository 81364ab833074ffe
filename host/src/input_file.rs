//! Every file a campaign names is opened here: it must be a regular file (a FIFO, a device, a
//! socket or a directory is refused at once, never waited on or read without end), no larger
//! than the ceiling for its kind, checked before reading and again while reading (a file that
//! grows meanwhile). Secrets (a DKIM key, the token secret) must also be private: neither
//! group nor others may read or write them. The checks look at the file that was opened, not
//! at the path again, and a refusal says where a link led.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The recipient list: room for some ten million recipients with a few columns each.
pub const LIST_MAX_BYTES: u64 = 16 << 30;
/// One suppression file (read whole).
pub const SUPPRESS_MAX_BYTES: u64 = 1 << 30;
/// The campaign file, a template, a CA file or a password file.
pub const TEXT_MAX_BYTES: u64 = 16 << 20;
/// A secret: a DKIM private key or the token secret.
pub const SECRET_MAX_BYTES: u64 = 64 << 10;

/// Why a file was refused; shown after the key and file it concerns.
#[derive(Debug)]
pub enum Refusal {
    Unreadable(std::io::Error),
    /// What it is instead: "a FIFO (named pipe)", "a directory", …
    NotRegular(&'static str),
    TooLarge {
        max: u64,
    },
    /// Group or others may read or write it (its permission bits).
    Exposed(u32),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unreadable(e) => write!(f, "cannot be read: {e}"),
            Refusal::NotRegular(what) => {
                write!(
                    f,
                    "is {what}, not a regular file; isomail reads only regular files"
                )
            }
            Refusal::TooLarge { max } => write!(f, "is larger than {}", size(*max)),
            Refusal::Exposed(mode) => write!(
                f,
                "is readable or writable by group or others (mode {mode:04o}); a secret must be \
                 private: chmod 600 it"
            ),
        }
    }
}

impl std::error::Error for Refusal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Refusal::Unreadable(e) => Some(e),
            _ => None,
        }
    }
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b => format!("{} KiB", b >> 10),
    }
}

/// `path` as a refusal shows it: with where it leads, when it is a link.
pub fn shown(path: &Path) -> String {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    match std::fs::canonicalize(path) {
        Ok(target) if is_link => format!("{} (a link to {})", path.display(), target.display()),
        _ => path.display().to_string(),
    }
}

/// Opens `path` for reading if it is a regular file of at most `max` bytes. The open itself
/// never waits (O_NONBLOCK: a FIFO with no writer would otherwise block it for ever); the
/// type and size are those of the opened file.
pub fn open(path: &Path, max: u64) -> Result<File, Refusal> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = options.open(path).map_err(Refusal::Unreadable)?;
    let meta = file.metadata().map_err(Refusal::Unreadable)?;
    if !meta.is_file() {
        return Err(Refusal::NotRegular(kind(&meta.file_type())));
    }
    if meta.len() > max {
        return Err(Refusal::TooLarge { max });
    }
    Ok(file)
}

/// What a file that is not a regular file is.
fn kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Reads the whole of a regular file of at most `max` bytes.
pub fn read(path: &Path, max: u64) -> Result<Vec<u8>, Refusal> {
    read_open(open(path, max)?, max)
}

/// As [`read`], for a secret: also refused when group or others may read or write it.
pub fn read_secret(path: &Path) -> Result<Vec<u8>, Refusal> {
    let file = open(path, SECRET_MAX_BYTES)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mode = file.metadata().map_err(Refusal::Unreadable)?.mode() & 0o7777;
        if mode & 0o066 != 0 {
            return Err(Refusal::Exposed(mode));
        }
    }
    read_open(file, SECRET_MAX_BYTES)
}

/// As [`read`], as UTF-8 text; `Err(None)` when it is not UTF-8, with the offset of the first
/// bad byte.
pub fn read_text(path: &Path, max: u64) -> Result<String, Result<Refusal, usize>> {
    let bytes = read(path, max).map_err(Ok)?;
    String::from_utf8(bytes).map_err(|e| Err(e.utf8_error().valid_up_to()))
}

/// As [`read_text`], the refusal written after the key that named the file:
/// `key = "path" is a FIFO …`, `key = "path": not UTF-8 …`.
pub fn read_text_for(key: &'static str, path: &Path, max: u64) -> Result<String, KeyedRefusal> {
    read_text(path, max).map_err(|why| KeyedRefusal {
        key,
        path: path.to_path_buf(),
        why,
    })
}

/// A text file refused, with the key that named it.
#[derive(Debug)]
pub struct KeyedRefusal {
    key: &'static str,
    path: PathBuf,
    /// The refusal, or the offset of the first byte that is not UTF-8.
    why: Result<Refusal, usize>,
}

impl std::fmt::Display for KeyedRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = self.key;
        match &self.why {
            Ok(refusal) => write!(f, "{key} = \"{}\" {refusal}", shown(&self.path)),
            Err(at) => write!(
                f,
                "{key} = \"{}\": not UTF-8 (invalid byte at offset {at})",
                self.path.display()
            ),
        }
    }
}

// The refusal is part of the sentence (it reads on after the path), so it is not a source.
impl std::error::Error for KeyedRefusal {}

fn read_open(file: File, max: u64) -> Result<Vec<u8>, Refusal> {
    let len = file.metadata().map_or(0, |m| m.len());
    let mut bytes = Vec::with_capacity(len.min(max) as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(Refusal::Unreadable)?;
    if bytes.len() as u64 > max {
        return Err(Refusal::TooLarge { max });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_their_ceiling_are_read() {
        let dir = tempfile::tempdir().expect("tmp");
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .expect("mkfifo");
        // With no writer, a plain open would block for ever: this returns at once.
        assert!(matches!(read(&fifo, 10), Err(Refusal::NotRegular(k)) if k.contains("FIFO")));
        assert!(matches!(
            read(Path::new("/dev/zero"), 10),
            Err(Refusal::NotRegular("a character device"))
        ));
        assert!(matches!(
            read(dir.path(), 10),
            Err(Refusal::NotRegular("a directory"))
        ));
        let file = dir.path().join("file");
        std::fs::write(&file, b"0123456789").expect("write");
        assert!(matches!(read(&file, 9), Err(Refusal::TooLarge { max: 9 })));
        // Control: the same file within its ceiling is read.
        assert_eq!(read(&file, 10).expect("read"), b"0123456789");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&fifo, &link).expect("symlink");
        assert!(shown(&link).contains("(a link to "), "{}", shown(&link));
        assert!(matches!(read(&link, 10), Err(Refusal::NotRegular(_))));
    }

    #[test]
    fn a_secret_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let secret = dir.path().join("secret");
        std::fs::write(&secret, b"s3cret").expect("write");
        for mode in [0o644, 0o640, 0o604, 0o620] {
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(mode))
                .expect("chmod");
            assert!(
                matches!(read_secret(&secret), Err(Refusal::Exposed(m)) if m == mode),
                "{mode:o}"
            );
        }
        // Control: mode 0600 is read; so is 0400.
        for mode in [0o600, 0o400] {
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(mode))
                .expect("chmod");
            assert_eq!(read_secret(&secret).expect("read"), b"s3cret");
        }
    }
}
