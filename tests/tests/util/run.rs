//! Running commands: the real `isomail` binary (and the few other programs the tests run), each
//! run kept with its command line, so that an assertion on its exit code can say what was run and
//! what it printed (as ripgrep's `tests/util.rs` does).

use std::fmt::{self, Display};
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::Duration;

use super::cache::cache_dir;
use super::campaign::CampaignDir;

/// One finished run of a command: its command line and its [`Output`] (which it derefs to, so
/// `run.stdout`, `run.status` and `stderr(&run)` read as before).
pub struct Run {
    /// The command line, as a shell would take it: changed environment variables first.
    pub command: String,
    pub output: Output,
    /// What the test was trying, when the command line alone does not say (a table row, the
    /// option under test): printed with a failed assertion.
    about: Option<String>,
}

impl Run {
    /// The run of `command` (already run) that gave `output`.
    pub fn new(command: &Command, output: Output) -> Run {
        Run {
            command: command_line(command),
            output,
            about: None,
        }
    }

    /// The same run, with what the test was trying named in any failed assertion.
    pub fn about(mut self, case: impl Display) -> Run {
        self.about = Some(case.to_string());
        self
    }

    /// Fails the test, printing the command, its exit, stdout and stderr, unless it exited with
    /// `expected`.
    #[track_caller]
    pub fn assert_exit_code(&self, expected: i32) -> &Run {
        if self.output.status.code() != Some(expected) {
            self.fail(format_args!("exit code {expected}"));
        }
        self
    }

    /// As [`Run::assert_exit_code`], for a run that may end with any code of `allowed`.
    #[track_caller]
    pub fn assert_exit_code_in(&self, allowed: &[i32]) -> &Run {
        if !self
            .output
            .status
            .code()
            .is_some_and(|c| allowed.contains(&c))
        {
            self.fail(format_args!("an exit code in {allowed:?}"));
        }
        self
    }

    /// Exit code 0 (what `ExitStatus::success` means).
    #[track_caller]
    pub fn assert_success(&self) -> &Run {
        self.assert_exit_code(0)
    }

    /// Anything but exit code 0: a failing code, or a signal.
    #[track_caller]
    pub fn assert_failure(&self) -> &Run {
        if self.output.status.code() == Some(0) {
            self.fail(format_args!("a failure (any exit but 0)"));
        }
        self
    }

    #[track_caller]
    fn fail(&self, expected: fmt::Arguments) -> ! {
        use std::os::unix::process::ExitStatusExt;
        let status = &self.output.status;
        let got = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            (None, None) => format!("{status}"),
        };
        let about = match &self.about {
            Some(case) => format!("case: {case}\n"),
            None => String::new(),
        };
        panic!(
            "\n\nexpected {expected}, got {got}\ncommand: {}\n{about}\
             \n--- stdout ---\n{}\n--- stderr ---\n{}\n",
            self.command,
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr),
        )
    }
}

impl Deref for Run {
    type Target = Output;
    fn deref(&self) -> &Output {
        &self.output
    }
}

/// A command started in the background, kept with its command line; it derefs to its [`Child`].
pub struct Running {
    command: String,
    pub child: Child,
}

impl Running {
    /// Waits for it to end (reading what it printed to pipes) and returns the [`Run`].
    pub fn finish(self) -> Run {
        Run {
            command: self.command,
            output: self.child.wait_with_output().expect("wait"),
            about: None,
        }
    }
}

impl Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.child
    }
}

impl DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

/// [`Command::output`] and [`Command::spawn`] that keep the command line.
pub trait TestCommand {
    /// Runs it to completion; fails the test if it cannot start.
    fn run(&mut self) -> Run;
    /// Runs it to completion, or says why it could not start.
    fn try_run(&mut self) -> std::io::Result<Run>;
    /// Starts it; fails the test if it cannot.
    fn start(&mut self) -> Running;
}

impl TestCommand for Command {
    fn run(&mut self) -> Run {
        self.try_run()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", command_line(self)))
    }

    fn try_run(&mut self) -> std::io::Result<Run> {
        let output = self.output()?;
        Ok(Run::new(self, output))
    }

    fn start(&mut self) -> Running {
        let child = self
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", command_line(self)));
        Running {
            command: command_line(self),
            child,
        }
    }
}

/// `command` as a shell would take it: `env` with the variables it removes and sets, the program,
/// its arguments (quoted where needed).
fn command_line(command: &Command) -> String {
    let quote = |s: &std::ffi::OsStr| {
        let s = s.to_string_lossy();
        let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c);
        if !s.is_empty() && s.chars().all(plain) {
            s.into_owned()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    let (mut unset, mut set) = (Vec::new(), Vec::new());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => set.push(format!("{}={}", key.to_string_lossy(), quote(value))),
            None => unset.push(format!("-u {}", key.to_string_lossy())),
        }
    }
    let mut words = Vec::new();
    if !unset.is_empty() || !set.is_empty() {
        words.push("env".to_owned());
    }
    words.extend(unset);
    words.extend(set);
    words.push(quote(command.get_program()));
    words.extend(command.get_args().map(quote));
    let line = words.join(" ");
    match command.get_current_dir() {
        Some(dir) => format!("(cd {} && {line})", quote(dir.as_os_str())),
        None => line,
    }
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
pub fn isomail(args: &[&str]) -> Run {
    isomail_command(args).run()
}

/// Runs the real command line, failing the test (after killing it) if it has not ended within
/// `limit`: for what must never hang.
pub fn isomail_within(args: &[&str], limit: Duration) -> Run {
    let mut child = isomail_command(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .start();
    let started = std::time::Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.finish();
            let err = stderr(&out);
            let lines: Vec<&str> = err.lines().collect();
            panic!(
                "isomail {args:?} did not end within {limit:?}; it printed: {}",
                lines[lines.len().saturating_sub(12)..].join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.finish()
}

/// `isomail ARGS CAMPAIGN`, run to completion.
pub fn isomail_path(args: &[&str], campaign: &Path) -> Run {
    let campaign = campaign.display().to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.push(&campaign);
    isomail(&all)
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 4 (halted) with `needle` in what the command printed on stderr.
#[track_caller]
pub fn assert_halted(out: &Run, needle: &str) {
    let err = stderr(out);
    out.assert_exit_code(4);
    assert!(err.contains(needle), "{needle:?} missing from: {err}");
}

/// Runs `render --out` and asserts: exit 2, one error line containing every `needle`, and no
/// output directory.
#[track_caller]
pub fn refused(campaign: &CampaignDir, needles: &[&str]) -> String {
    let path = campaign.write();
    let out_dir = campaign.dir.path().join("out");
    let out = isomail_path(
        &["render", "--out", out_dir.to_str().expect("utf-8")],
        &path,
    );
    let err = stderr(&out);
    out.assert_exit_code(2);
    assert_eq!(err.lines().count(), 1, "one sentence expected: {err}");
    assert!(err.starts_with("isomail: "), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    assert!(!out_dir.exists(), "something was rendered for: {err}");
    err
}

/// `isomail status --json` for a campaign, parsed.
pub fn status_json(campaign: &Path) -> serde_json::Value {
    let out = isomail_path(&["status", "--json"], campaign);
    out.assert_exit_code(0);
    serde_json::from_slice(&out.stdout).expect("status json")
}

/// The helper's control: a wrong exit code fails with the command line, what it did and what it
/// printed; the right one passes.
#[test]
fn a_wrong_exit_code_prints_the_command_its_exit_and_output() {
    let run = Command::new("sh")
        .args(["-c", "echo to-out; echo to-err >&2; exit 3"])
        .env("SOME_VAR", "a b")
        .run()
        .about("the control");
    run.assert_exit_code(3)
        .assert_exit_code_in(&[1, 3])
        .assert_failure();
    let failed = std::panic::catch_unwind(|| {
        run.assert_exit_code(2);
    })
    .expect_err("exit 3 is not 2");
    let message = failed.downcast_ref::<String>().expect("a message");
    for part in [
        "expected exit code 2, got exit code 3",
        "command: env SOME_VAR='a b' sh -c 'echo to-out; echo to-err >&2; exit 3'",
        "case: the control",
        "--- stdout ---\nto-out\n",
        "--- stderr ---\nto-err\n",
    ] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
    let killed = Command::new("sh").args(["-c", "kill -9 $$"]).run();
    let failed = std::panic::catch_unwind(|| {
        killed.assert_success();
    })
    .expect_err("a signal is no success");
    let message = failed.downcast_ref::<String>().expect("a message");
    assert!(message.contains("got killed by signal 9"), "{message}");
    killed.assert_failure();
}
