//! The SMTP servers the tests deliver to: the fault-injecting aiosmtpd of
//! tests/smtp/faulty_smtp.py, and the private postfix instance tests/run.sh starts as root.

use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::missing;
use super::run::TestCommand;

/// The Python that runs tests/smtp/faulty_smtp.py and tests/dkim/verify.py: the virtualenv (with
/// aiosmtpd, dkimpy and PyNaCl) that tests/run.sh makes in the target directory, else `python3`.
pub fn smtp_python() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("smtp-venv/bin/python3");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// A self-signed certificate for `127.0.0.1` and `localhost` (CA:FALSE, which rustls requires of
/// a server's own certificate), written into `dir` by the `openssl` command: (cert, key).
pub fn self_signed_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .try_run();
    match made {
        Ok(out) => {
            out.assert_success();
            (cert, key)
        }
        Err(_) => missing("the openssl command"),
    }
}

/// The fault-injecting aiosmtpd server of tests/smtp/faulty_smtp.py on 127.0.0.1, stopped on drop.
pub struct FaultySmtp {
    child: std::process::Child,
    pub port: u16,
    pub log: PathBuf,
}

impl FaultySmtp {
    /// Starts it; fails the test (see [`missing`]) where aiosmtpd is not installed.
    pub fn start(dir: &Path, slow_seconds: f64) -> FaultySmtp {
        FaultySmtp::start_with(dir, slow_seconds, &[])
    }

    /// As [`FaultySmtp::start`], with extra arguments for the script.
    pub fn start_with(dir: &Path, slow_seconds: f64, extra: &[&str]) -> FaultySmtp {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        let python = smtp_python();
        let has_aiosmtpd = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !has_aiosmtpd {
            missing(&format!("aiosmtpd (for {})", python.display()));
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp/faulty_smtp.py");
        let log = dir.join("smtp-log.jsonl");
        let mut child = Command::new(&python)
            .arg(script)
            .args(["--port", "0", "--log"])
            .arg(&log)
            .args([
                "--slow-seconds",
                &slow_seconds.to_string(),
                "--max-seconds",
                "300",
            ])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            // Its own process group, so the pyenv shim and the interpreter both get the signal.
            .process_group(0)
            .spawn()
            .expect("start faulty_smtp.py");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("READY line");
        let port = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("bad READY line {line:?}"));
        FaultySmtp { child, port, log }
    }

    /// Every message the server stored: (recipient, sha256, state).
    pub fn stored(&self) -> Vec<(String, String, String)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("log line");
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
                (s("rcpt"), s("sha256"), s("state"))
            })
            .collect()
    }
}

impl FaultySmtp {
    /// `kill -9` of the server (its whole process group): connections die mid-dialogue with
    /// no reply, and the port refuses new ones.
    pub fn kill_hard(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for FaultySmtp {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            // Quiet when the group is gone already (after kill_hard).
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// Where the test postfix delivers (tests/smtp/postfix.sh), and the certificate it presents.
pub const MAILDIR: &str = "/var/tmp/isomail-postfix/Maildir/new";
pub const CERT: &str = "/var/tmp/isomail-postfix/tls.crt";

/// Fails the test unless the test postfix answers and what it delivers can be read (its Maildir
/// files are owned by nobody, mode 0600: only root reads them).
pub fn require_postfix() {
    let up = TcpStream::connect_timeout(
        &"127.0.0.1:2587".parse().expect("addr"),
        Duration::from_secs(2),
    )
    .is_ok()
        && Path::new(CERT).is_file()
        && std::fs::read_dir(MAILDIR).is_ok();
    if !up {
        missing("the test postfix on 127.0.0.1:2587 (tests/smtp/postfix.sh, as root)");
    }
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        missing("root (the test postfix's Maildir files are readable only by root)");
    }
}

impl FaultySmtp {
    /// Every line of the server's log, parsed: each stored message's recipient with its
    /// `mail_from`, `mail_options` (the MAIL parameters), `to` (the To header as UTF-8) and
    /// `sha256`, as tests/smtp/faulty_smtp.py writes them.
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("log line"))
            .collect()
    }
}
