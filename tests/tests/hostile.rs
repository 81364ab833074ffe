//! A renderer's *output* as the weapon: whatever it returns, `check` finishes in seconds, in
//! bounded memory, prints a bounded report in which no escape sequence survives, and reports
//! each hostile message as its own failure.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;
use isomail::render::Failure;
use isomail::sandbox::{RenderError, RenderFailure};

/// A campaign rendered by the misbehaving guest for these local parts (at `list.test`).
fn misbehaving(locals: &[String]) -> CampaignDir {
    let mut campaign = CampaignDir::new();
    campaign.renderer = Some(guest("misbehave"));
    // No template markers: the guest echoes the templates, unrendered.
    campaign.subject = "Notice".into();
    campaign.text = "A plain notice.\n".into();
    let rows: String = locals
        .iter()
        .map(|l| format!("{l}@list.test,N\n"))
        .collect();
    campaign.csv = format!("email,name\n{rows}").into_bytes();
    campaign
}

/// What one run of the real binary said (it derefs to its [`Run`]) and cost.
pub(crate) struct Measured {
    run: Run,
    pub(crate) peak_rss_bytes: u64,
    pub(crate) took: Duration,
}

impl std::ops::Deref for Measured {
    type Target = Run;
    fn deref(&self) -> &Run {
        &self.run
    }
}

/// Runs `isomail ARGS CAMPAIGN` and reads its peak resident memory from the kernel (wait4).
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which also reports its peak memory"
)]
pub(crate) fn run_measured(args: &[&str], campaign: &std::path::Path) -> Measured {
    use std::io::Read;
    let started = Instant::now();
    let mut command = isomail_command(args);
    command
        .arg(campaign)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn isomail");
    let (mut out, mut err) = (
        child.stdout.take().expect("out"),
        child.stderr.take().expect("err"),
    );
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = err.read_to_end(&mut bytes);
        bytes
    });
    let mut stdout = Vec::new();
    let _ = out.read_to_end(&mut stdout);
    let stderr = reader.join().expect("stderr reader");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for the child we spawned and
    // have not waited for (std's Child is never waited on after this).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: valid pointers to locals; `pid` is our own unreaped child.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4");
    let output = Output {
        status: ExitStatus::from_raw(status),
        stdout,
        stderr,
    };
    Measured {
        run: Run::new(&command, output),
        // Linux reports ru_maxrss in KiB.
        peak_rss_bytes: usage.ru_maxrss as u64 * 1024,
        took: started.elapsed(),
    }
}

#[test]
fn huge_and_hostile_error_messages_are_bounded_and_inert() {
    // 25 refusals of 40 MiB each printed 839 MB and peaked at 993 MB before errors were bounded.
    let mut locals: Vec<String> = vec!["erresc".into(), "ok".into()];
    locals.extend((1..=25).map(|i| format!("errbig{i}")));
    let campaign = misbehaving(&locals);
    // Room for the guest to build a 40 MiB string; the output limit stays at its 1 MiB default.
    let mut campaign = campaign;
    campaign.extra = "\n[sandbox]\nmemory_bytes = 134_217_728\n".into();
    let run = run_measured(&["check", "--jobs", "2"], &campaign.write());
    let stderr = String::from_utf8_lossy(&run.stderr);
    run.assert_exit_code(3);
    assert!(
        run.stdout.len() + run.stderr.len() < 64 << 10,
        "{} bytes printed",
        run.stdout.len() + run.stderr.len()
    );
    assert!(
        run.peak_rss_bytes < 512 << 20,
        "peak memory {} MB",
        run.peak_rss_bytes >> 20
    );
    // No escape sequence, bell or stray carriage return reaches the terminal; the attempt is
    // visible instead, and the forged summary line is not a line of its own.
    assert!(
        !run.stderr.iter().any(|b| matches!(b, 0x1b | 0x07 | b'\r')),
        "{stderr}"
    );
    assert!(stderr.contains("\\u{1b}]0;pwned\\u{7}"), "{stderr}");
    assert!(
        !stderr
            .lines()
            .any(|l| l.starts_with("checked 9 recipients")),
        "{stderr}"
    );
    // Each hostile message is its own failure: the oversized ones as a breach of the output
    // limit, with a prefix of what they said.
    let summary = String::from_utf8_lossy(&run.stdout);
    assert!(summary.contains("1 rendered, 26 failed"), "{summary}");
    let breach = "exceeded its output size limit (sandbox.output_bytes) \
                  with an error message of 41943040 bytes: EEEE";
    assert!(stderr.contains(breach), "{stderr}");
    eprintln!(
        "check of 25 x 40 MiB errors: {:.1} s, peak {} MB, {} bytes printed",
        run.took.as_secs_f64(),
        run.peak_rss_bytes >> 20,
        run.stdout.len() + run.stderr.len()
    );
}

#[test]
fn hostile_error_text_reaches_the_host_raw_and_the_terminal_inert() {
    // Control for the test above: the renderer really does return the escape sequences and the
    // 40 MiB (the library keeps a bounded prefix), so their absence from the terminal is the
    // host's doing.
    let campaign = misbehaving(&["erresc".into(), "errbig".into()]);
    let mut campaign = campaign;
    campaign.extra = "\n[sandbox]\nmemory_bytes = 134_217_728\n".into();
    let (_, failed) = render_campaign(&campaign.write(), 1);
    let mut failures: Vec<_> = failed.into_iter().map(|f| (f.index, f.failure)).collect();
    failures.sort_by_key(|(i, _)| *i);
    match &failures[0].1 {
        Failure::Renderer(RenderFailure::Renderer(RenderError::Other(m))) => {
            assert!(m.starts_with("\x1b]0;pwned\x07"))
        }
        other => panic!("{other:?}"),
    }
    match &failures[1].1 {
        Failure::Renderer(RenderFailure::ErrorTooLong { bytes, prefix }) => {
            assert_eq!(*bytes, 40 << 20);
            assert_eq!(prefix.len(), isomail::sandbox::KEPT_ERROR_BYTES);
        }
        other => panic!("{other:?}"),
    }
    // And a long error under the output limit is kept, cut, as the renderer's own refusal.
    let shown = failures[0].1.to_string();
    assert!(shown.contains("\\u{1b}]0;pwned"), "{shown}");
}

#[test]
fn check_of_every_hostile_output_at_once_finishes_in_seconds_and_names_each_one() {
    // One list with the outputs issue 9 reproduced: 1 MiB runs that made the leak scan
    // quadratic, controls and a 5,000-character word in the subject, bare CR, NUL and a
    // million line feeds in the text, a 40 MiB error and one full of escape sequences.
    let locals: Vec<String> = [
        "ok", "eqrun", "pctrun", "amprun", "ctlsubj", "longsubj", "barecr", "nul", "newlines",
        "errbig", "erresc",
    ]
    .map(String::from)
    .to_vec();
    let mut campaign = misbehaving(&locals);
    campaign.extra = "\n[sandbox]\nmemory_bytes = 134_217_728\n".into();
    let run = run_measured(&["check"], &campaign.write());
    let stderr = String::from_utf8_lossy(&run.stderr);
    let stdout = String::from_utf8_lossy(&run.stdout);
    run.assert_exit_code(3);
    // The leak scan alone took minutes on one of these before it was made linear.
    assert!(run.took < Duration::from_secs(60), "took {:?}", run.took);
    assert!(
        run.peak_rss_bytes < 512 << 20,
        "peak {} MB",
        run.peak_rss_bytes >> 20
    );
    assert!(run.stdout.len() + run.stderr.len() < 16 << 10, "{stderr}");
    assert!(
        !run.stderr.iter().any(|b| matches!(b, 0x1b | 0x07 | b'\r')),
        "{stderr}"
    );
    // Seven well-formed messages (one of them, all line feeds, flagged as an empty text);
    // each of the four that cannot be one fails alone, named.
    assert!(
        stdout.contains("11 recipients: 7 rendered, 4 failed, 1 flagged"),
        "{stdout}{stderr}"
    );
    let flagged = "message for recipient #9 (n***@list.test): text is empty";
    assert!(stderr.contains(flagged), "{stderr}");
    let position = |local: &str| locals.iter().position(|l| l == local).expect("listed") + 1;
    for (local, why) in [
        (
            "ctlsubj",
            "the subject contains the control character U+001B",
        ),
        ("nul", "the text contains the NUL character U+0000"),
        ("errbig", "exceeded its output size limit"),
        ("erresc", "renderer error: \\u{1b}]0;pwned"),
    ] {
        let line = format!("recipient #{} ", position(local));
        assert!(
            stderr.lines().any(|l| l.contains(&line) && l.contains(why)),
            "{local}: {why:?} not reported for {line:?}: {stderr}"
        );
    }
    eprintln!(
        "check of every hostile output: {:.1} s, peak {} MB",
        run.took.as_secs_f64(),
        run.peak_rss_bytes >> 20
    );
}
