//! A small harness: campaigns written into temp dirs, the real `isomail` binary run on them, and
//! the library's pipeline run in-process where a test needs each message's content.

#![allow(dead_code)] // each test file uses its own part of the harness

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use isomail::campaign::Campaign;
use isomail::checks::CampaignFinding;
use isomail::render::{self, Failed, Rendered};

/// Path of a hostile guest built by tests/build.rs.
pub fn guest(name: &str) -> PathBuf {
    PathBuf::from(match name {
        "accumulator" => env!("GUEST_ACCUMULATOR"),
        "counter" => env!("GUEST_COUNTER"),
        "legacy-v010" => env!("GUEST_LEGACY_V010"),
        "misbehave" => env!("GUEST_MISBEHAVE"),
        "prepared-counter" => env!("GUEST_PREPARED_COUNTER"),
        "probe" => env!("GUEST_PROBE"),
        "snoop" => env!("GUEST_SNOOP"),
        "wrong-world" => env!("GUEST_WRONG_WORLD"),
        // The JavaScript renderers, built only where tests/run.sh installed componentize-qjs.
        "js-example" => {
            option_env!("GUEST_JS_EXAMPLE").unwrap_or_else(|| missing(COMPONENTIZE_QJS))
        }
        "js-hostile" => {
            option_env!("GUEST_JS_HOSTILE").unwrap_or_else(|| missing(COMPONENTIZE_QJS))
        }
        "js-hostile-wasi" => {
            option_env!("GUEST_JS_HOSTILE_WASI").unwrap_or_else(|| missing(COMPONENTIZE_QJS))
        }
        other => panic!("no guest named {other}"),
    })
}

/// What the JavaScript renderers need to be built (see [`missing`]).
const COMPONENTIZE_QJS: &str =
    "componentize-qjs (tests/run.sh installs it with npm and sets ISOMAIL_COMPONENTIZE_QJS)";

/// A campaign on disk. Every part has a harmless default; tests change what they are about.
pub struct CampaignDir {
    pub dir: tempfile::TempDir,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// `[message] markdown`: written as templates/body.md, in place of `text`.
    pub markdown: Option<String>,
    /// `[message] mjml`: written as templates/body.mjml, beside `text`.
    pub mjml: Option<String>,
    pub csv: Vec<u8>,
    pub renderer: Option<PathBuf>,
    pub extra: String,
}

impl CampaignDir {
    pub fn new() -> CampaignDir {
        CampaignDir {
            dir: tempfile::tempdir().expect("temp dir"),
            subject: "Hello {{ name }}".into(),
            text: "Dear {{ name }}, this is for {{ email }}.\n".into(),
            html: None,
            markdown: None,
            mjml: None,
            csv: b"email,name\nann@example.com,Ann\nbob@example.com,Bob\n".to_vec(),
            renderer: None,
            extra: String::new(),
        }
    }

    /// A list of `n` recipients `r{i}@list.test` with a name and a unique token per person.
    pub fn numbered(mut self, n: usize) -> CampaignDir {
        let mut csv = String::from("email,name,token\n");
        for i in 1..=n {
            csv.push_str(&format!("r{i}@list.test,Person {i},tok-{i:06}\n"));
        }
        self.csv = csv.into_bytes();
        self
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("campaign.toml")
    }

    /// Writes every file and returns the campaign file's path.
    pub fn write(&self) -> PathBuf {
        let root = self.dir.path();
        std::fs::create_dir_all(root.join("templates")).expect("mkdir");
        std::fs::write(root.join("recipients.csv"), &self.csv).expect("write csv");
        let mut toml = format!(
            "[message]\nfrom = \"Sender <sender@example.org>\"\nsubject = {:?}\n",
            self.subject
        );
        match &self.markdown {
            Some(markdown) => {
                std::fs::write(root.join("templates/body.md"), markdown).expect("write md");
                toml.push_str("markdown = \"templates/body.md\"\n");
            }
            None => {
                std::fs::write(root.join("templates/body.txt"), &self.text).expect("write text");
                toml.push_str("text = \"templates/body.txt\"\n");
            }
        }
        if let Some(mjml) = &self.mjml {
            std::fs::write(root.join("templates/body.mjml"), mjml).expect("write mjml");
            toml.push_str("mjml = \"templates/body.mjml\"\n");
        }
        if let Some(html) = &self.html {
            std::fs::write(root.join("templates/body.html"), html).expect("write html");
            toml.push_str("html = \"templates/body.html\"\n");
        }
        if let Some(renderer) = &self.renderer {
            toml.push_str(&format!(
                "renderer = {:?}\n",
                renderer.display().to_string()
            ));
        }
        toml.push_str("\n[recipients]\npath = \"recipients.csv\"\n");
        toml.push_str(&self.extra);
        std::fs::write(self.path(), toml).expect("write campaign");
        self.path()
    }
}

/// A campaign for `emails` (each with a `name`), with these `[delivery]` lines.
pub fn campaign_with(emails: &[impl AsRef<str>], delivery: &str) -> CampaignDir {
    let mut campaign = CampaignDir::new();
    campaign.subject = "Notice for {{ name }}".into();
    let mut csv = String::from("email,name\n");
    for (i, e) in emails.iter().enumerate() {
        csv.push_str(&format!("{},Person {i}\n", e.as_ref()));
    }
    campaign.csv = csv.into_bytes();
    campaign.extra = format!("\n[delivery]\n{delivery}\n");
    campaign
}

/// Exit 4 (halted) with `needle` in what the command printed on stderr.
pub fn assert_halted(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(needle), "{needle:?} missing from: {err}");
}

/// The real command line with a private compile cache; never inherits the caller's.
pub fn isomail_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_isomail-cli"));
    command
        .args(args)
        .env("ISOMAIL_CACHE_DIR", cache_dir())
        .env_remove("XDG_CACHE_HOME");
    command
}

/// Runs the real command line to completion.
pub fn isomail(args: &[&str]) -> Output {
    isomail_command(args).output().expect("run isomail")
}

/// Runs the real command line, failing the test (after killing it) if it has not ended within
/// `limit`: for what must never hang.
pub fn isomail_within(args: &[&str], limit: std::time::Duration) -> Output {
    let mut child = isomail_command(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("isomail");
    let started = std::time::Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            let err = stderr(&out);
            let lines: Vec<&str> = err.lines().collect();
            panic!(
                "isomail {args:?} did not end within {limit:?}; it printed: {}",
                lines[lines.len().saturating_sub(12)..].join("\n")
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.wait_with_output().expect("wait")
}

pub fn isomail_path(args: &[&str], campaign: &Path) -> Output {
    let campaign = campaign.display().to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.push(&campaign);
    isomail(&all)
}

fn cache_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("isomail-cache");
    std::fs::create_dir_all(&dir).expect("cache dir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .expect("chmod cache");
    }
    dir
}

/// A new compile-cache directory `cache` inside `dir`, private (0700) as isomail requires.
pub fn private_cache(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let cache = dir.join("cache");
    std::fs::create_dir(&cache).expect("mkdir cache");
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    cache
}

/// The compiled entries of a cache directory: (file name, inode, modification time), sorted.
/// A hit leaves an entry's inode alone and touches its time; a miss writes a new file.
pub fn cache_entries(cache: &Path) -> Vec<(String, u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt;
    let mut found: Vec<_> = std::fs::read_dir(cache)
        .expect("cache dir")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .map(|e| {
            let meta = e.metadata().expect("stat");
            let name = e.file_name().to_string_lossy().into_owned();
            (name, meta.ino(), meta.modified().expect("mtime"))
        })
        .collect();
    found.sort();
    found
}

/// Sets a cache entry's modification time, so that a later hit shows as the entry touched.
pub fn set_entry_time(entry: &Path, when: std::time::SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(entry)
        .and_then(|f| f.set_modified(when))
        .expect("set the entry's mtime");
}

/// `isomail check CAMPAIGN` with the compile cache in `cache`; it must pass.
pub fn check_with_cache(campaign: &Path, cache: &Path) {
    let out = isomail_command(&["check", campaign.to_str().expect("utf-8 path")])
        .env("ISOMAIL_CACHE_DIR", cache)
        .output()
        .expect("check");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every message's outcome through the in-process pipeline, in list order: its text, or why it
/// failed.
pub fn outcomes(
    campaign: &Path,
    jobs: usize,
) -> Vec<Result<String, isomail::sandbox::RenderFailure>> {
    let (ok, failed) = render_campaign(campaign, jobs);
    let mut out: Vec<_> = ok
        .into_iter()
        .map(|m| (m.index, Ok(m.content.text)))
        .chain(failed.into_iter().map(|f| (f.index, Err(f.failure))))
        .collect();
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Points this process's in-process renders at the compile cache the command-line runs use, so a
/// renderer compiled by one is loaded by the other.
pub fn use_the_test_cache() {
    // SAFETY: tests in one binary share the environment; every test sets the same value.
    unsafe { std::env::set_var("ISOMAIL_CACHE_DIR", cache_dir()) };
}

/// Runs the whole render pipeline in-process and returns every outcome, sorted by index.
pub fn render_campaign(campaign: &Path, jobs: usize) -> (Vec<Rendered>, Vec<Failed>) {
    let (ok, failed, _) = render_and_check(campaign, jobs);
    (ok, failed)
}

/// As [`render_campaign`], with the campaign-wide findings of the safety checks.
pub fn render_and_check(
    campaign: &Path,
    jobs: usize,
) -> (Vec<Rendered>, Vec<Failed>, Vec<CampaignFinding>) {
    use_the_test_cache();
    let campaign = Campaign::load(campaign).unwrap_or_else(|e| panic!("load: {e}"));
    let sandbox = render::load_sandbox(&campaign, jobs, &isomail::reporter::Reporter::silent())
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
    render::probe(&campaign, &sandbox).unwrap_or_else(|e| panic!("probe: {e}"));
    let checks = render::checks(&campaign).unwrap_or_else(|e| panic!("checks: {e}"));
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    let findings = render::render_all(
        &campaign,
        &sandbox,
        &checks,
        jobs,
        SystemTime::UNIX_EPOCH,
        |outcome| {
            match outcome {
                Ok(r) => ok.push(r),
                Err(f) => failed.push(f),
            }
            Ok(())
        },
    )
    .unwrap_or_else(|e| panic!("render_all: {e}"))
    .findings;
    ok.sort_by_key(|r| r.index);
    failed.sort_by_key(|f| f.index);
    (ok, failed, findings)
}

/// Every address of `all` that occurs in `text`, as a list of indices into `all`.
pub fn addresses_in(text: &str, all: &[String]) -> Vec<usize> {
    let lower = text.to_lowercase();
    all.iter()
        .enumerate()
        .filter(|(_, a)| contains_address(&lower, a))
        .map(|(i, _)| i)
        .collect()
}

/// `addr` occurs in `text` as a whole address, not inside a longer one (`r1@x` in `r12@x`).
fn contains_address(text: &str, addr: &str) -> bool {
    let local_char = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    text.match_indices(addr).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let mut after = text[at + addr.len()..].chars();
        let left_ok = !before.is_some_and(local_char);
        let right_ok = match after.next() {
            None => true,
            Some('.') => !after.next().is_some_and(|c| c.is_ascii_alphanumeric()),
            Some(c) => !(c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        };
        left_ok && right_ok
    })
}

/// Fails the test: a part it needs is missing from this machine. No test passes without
/// running: tests/run.sh prepares every part it can and compiles the tests that need any other
/// part as ignored (`cfg(isomail_missing = ...)`, see tests/build.rs), so they count as not run.
pub fn missing(what: &str) -> ! {
    panic!(
        "{what} is not available, so this test cannot run. Run the tests with tests/run.sh: it \
         prepares what they need (the test postfix only as root) and marks as ignored the tests \
         whose parts it cannot prepare."
    )
}

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
        .output();
    match made {
        Ok(out) if out.status.success() => (cert, key),
        Ok(out) => panic!("openssl req failed: {}", stderr(&out)),
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

/// The journal's rows, read through the library: (index, email, state, hash, reply).
pub fn journal_rows(
    campaign: &Path,
    dry_run: bool,
) -> Vec<(usize, String, String, String, Option<String>)> {
    let journal = isomail::journal::Journal::open_existing(&isomail::journal::Journal::path_for(
        campaign, dry_run,
    ))
    .expect("journal");
    let mut rows = Vec::new();
    for state in [
        isomail::journal::State::Pending,
        isomail::journal::State::Sending,
        isomail::journal::State::Sent,
        isomail::journal::State::Failed,
        isomail::journal::State::Ambiguous,
        isomail::journal::State::Suppressed,
        isomail::journal::State::Bounced,
        isomail::journal::State::Complained,
        isomail::journal::State::Removed,
    ] {
        for r in journal.rows_in(state).expect("rows") {
            rows.push((r.index, r.email, state.as_str().to_owned(), r.hash, r.reply));
        }
    }
    rows.sort();
    rows
}

/// `isomail status --json` for a campaign, parsed.
pub fn status_json(campaign: &Path) -> serde_json::Value {
    let out = isomail_path(&["status", "--json"], campaign);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("status json")
}

/// Writes a secret (the token secret, a key) as an operator must: mode 0600, neither group
/// nor others may read it.
pub fn write_secret(path: &Path, contents: impl AsRef<[u8]>) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, contents).expect("write secret");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

/// A small deterministic generator for random schedules (kill times, list edits); a test prints
/// its seed so a failing run can be reproduced.
pub struct Lcg(pub u64);

impl Lcg {
    /// A number below `below` (which must not be 0).
    pub fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }

    /// A seed from the clock, or from `ISOMAIL_TEST_SEED` to reproduce a run.
    pub fn seed() -> u64 {
        std::env::var("ISOMAIL_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(7, |d| d.as_nanos() as u64)
            })
    }
}
