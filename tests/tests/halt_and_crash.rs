//! Stopping a campaign: SIGINT, `isomail halt` and the failure-rate gate each stop it with exit 4
//! and a journal that matches the server; and `kill -9` at random moments, resumed each time,
//! never sends a message twice and never loses anyone.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{
    CampaignDir, FaultySmtp, Lcg, Running, TestCommand, assert_halted, campaign_with,
    isomail_command, isomail_path, journal_rows, status_json, stderr,
};

fn smtp_campaign(server: &FaultySmtp, emails: &[String], delivery: &str) -> CampaignDir {
    let delivery = format!(
        "smtp = \"smtp://127.0.0.1:{}\"\ntls = \"none\"\nstages = [\"all\"]\nretry_delay = 0.1\n{delivery}",
        server.port
    );
    campaign_with(emails, &delivery)
}

/// Starts `isomail send --yes` in the background, its stderr captured.
fn spawn_send(campaign: &std::path::Path) -> Running {
    isomail_command(&["send", "--yes", campaign.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .start()
}

fn ok_list(n: usize, tag: &str) -> Vec<String> {
    (1..=n)
        .map(|i| format!("ok-{tag}-{i}@isomail.test"))
        .collect()
}

/// The journal agrees with the server: sent ⇔ stored, no pending row was stored, nothing twice.
fn assert_journal_matches_server(campaign: &std::path::Path, server: &FaultySmtp) {
    let stored = server.stored();
    let mut times: HashMap<&str, usize> = HashMap::new();
    for (rcpt, _, _) in &stored {
        *times.entry(rcpt.as_str()).or_default() += 1;
    }
    assert!(times.values().all(|n| *n == 1), "duplicates at the server");
    for (index, email, state, _, _) in journal_rows(campaign, false) {
        let arrived = times.contains_key(email.as_str());
        match state.as_str() {
            "sent" => assert!(arrived, "#{index} journaled sent but not at the server"),
            "pending" | "failed" => assert!(!arrived, "#{index} is {state} but arrived"),
            other => panic!("#{index} is {other} after a graceful halt"),
        }
    }
}

fn halted_midway(stop: impl FnOnce(u32, &std::path::Path)) {
    let dir = tempfile::tempdir().expect("tmp");
    let server = FaultySmtp::start(dir.path(), 1.0);
    let campaign = smtp_campaign(&server, &ok_list(300, "halt"), "rate = 40\nconcurrency = 2");
    let path = campaign.write();
    let child = spawn_send(&path);
    // Wait until some messages are out, then stop it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.stored().len() < 10 {
        assert!(Instant::now() < deadline, "nothing arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stopped_at = Instant::now();
    stop(child.id(), &path);
    let out = child.finish();
    assert!(
        stopped_at.elapsed() < Duration::from_secs(5),
        "took {:?} to halt",
        stopped_at.elapsed()
    );
    assert_halted(&out, "halted during stage 1");
    let status = status_json(&path);
    assert!(
        status["pending"].as_u64().is_some_and(|p| p > 100),
        "{status}"
    );
    assert_eq!(status["sending"], 0);
    assert_eq!(status["ambiguous"], 0);
    assert_journal_matches_server(&path, &server);

    // Resuming finishes the campaign without sending anyone twice.
    let rest = isomail_path(&["send", "--yes"], &path);
    rest.assert_exit_code(0);
    assert_eq!(server.stored().len(), 300);
    assert_journal_matches_server(&path, &server);
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn sigint_halts_after_in_flight_messages() {
    halted_midway(|pid, _| {
        std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .expect("kill");
    });
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn second_sigint_stops_at_once_and_resume_sends_nobody_twice() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = FaultySmtp::start(dir.path(), 1.0);
    // Five quick ones, then slow ones (the server waits a second before accepting each
    // recipient): when the signals come, messages are in flight for long enough that the second
    // one finds the send still draining them.
    let mut list = ok_list(5, "twice");
    list.extend((1..=15).map(|i| format!("slow-twice-{i}@isomail.test")));
    let campaign = smtp_campaign(&server, &list, "rate = 40\nconcurrency = 2");
    let path = campaign.write();
    let child = spawn_send(&path);
    while server.stored().len() < 5 {
        std::thread::sleep(Duration::from_millis(20));
    }
    for _ in 0..2 {
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill");
        std::thread::sleep(Duration::from_millis(30));
    }
    let out = child.finish();
    assert_halted(&out, "stopped at once");
    // Resume: whatever was in flight is ambiguous (not re-sent); everyone else goes out once.
    let rest = isomail_path(&["send", "--yes"], &path);
    rest.assert_exit_code(0);
    let stored = server.stored();
    let mut rcpts: Vec<&str> = stored.iter().map(|s| s.0.as_str()).collect();
    rcpts.sort();
    let before = rcpts.len();
    rcpts.dedup();
    assert_eq!(before, rcpts.len(), "duplicates at the server");
    let status = status_json(&path);
    let ambiguous = status["ambiguous"].as_u64().expect("ambiguous") as usize;
    assert!(ambiguous >= 1, "something was in flight: {status}");
    assert_eq!(
        status["sent"].as_u64().map(|n| n as usize),
        Some(20 - ambiguous)
    );
    assert!(rcpts.len() >= 20 - ambiguous);
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn halt_command_halts_a_running_send() {
    halted_midway(|_, campaign| {
        let out = crate::util::isomail(&["halt", campaign.to_str().expect("utf-8")]);
        out.assert_exit_code(0);
    });
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn failure_rate_gate_halts_the_stage() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = FaultySmtp::start(dir.path(), 1.0);
    // Every third recipient is refused for good: far above a 5% ceiling.
    let emails: Vec<String> = (1..=60)
        .map(|i| {
            if i % 3 == 0 {
                format!("reject-{i}@isomail.test")
            } else {
                format!("ok-{i}@isomail.test")
            }
        })
        .collect();
    let campaign = smtp_campaign(
        &server,
        &emails,
        "max_failure_rate = 0.05\nconcurrency = 1\nrate = 200",
    );
    let path = campaign.write();
    let out = isomail_path(&["send", "--yes"], &path);
    out.assert_exit_code(4);
    assert!(
        stderr(&out).contains("failure-rate gate"),
        "{}",
        stderr(&out)
    );
    let status = status_json(&path);
    assert!(
        status["pending"].as_u64().is_some_and(|p| p > 30),
        "the gate stopped the stage early: {status}"
    );
    assert!(
        status["failed"].as_u64().is_some_and(|f| f >= 3),
        "{status}"
    );
    assert_journal_matches_server(&path, &server);
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn kill_9_at_random_moments_never_duplicates_or_forgets() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = FaultySmtp::start(dir.path(), 1.0);
    let emails = ok_list(1500, "crash");
    let campaign = smtp_campaign(&server, &emails, "rate = 150\nconcurrency = 4");
    let path = campaign.write();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    eprintln!("kill schedule seed: {seed}");
    let mut rng = Lcg(seed);
    let mut kills = 0;
    while kills < 24 {
        let mut child = isomail_command(&["send", "--yes", path.to_str().expect("utf-8")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("send");
        std::thread::sleep(Duration::from_millis(30 + rng.next(400)));
        let finished = child.try_wait().expect("try_wait").is_some();
        if finished {
            break;
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        kills += 1;
    }
    let last = isomail_path(&["send", "--yes"], &path);
    last.assert_exit_code(0);

    let stored = server.stored();
    let mut times: HashMap<&str, usize> = HashMap::new();
    for (rcpt, _, _) in &stored {
        *times.entry(rcpt.as_str()).or_default() += 1;
    }
    let duplicates = times.values().filter(|n| **n > 1).count();
    let rows = journal_rows(&path, false);
    let ambiguous: Vec<&str> = rows
        .iter()
        .filter(|r| r.2 == "ambiguous")
        .map(|r| r.1.as_str())
        .collect();
    let ambiguous_arrived = ambiguous.iter().filter(|a| times.contains_key(**a)).count();
    eprintln!(
        "crash tally: {kills} kills, {} stored, {duplicates} duplicates, {} ambiguous \
         ({ambiguous_arrived} of them arrived)",
        stored.len(),
        ambiguous.len()
    );
    assert!(
        kills >= 20,
        "only {kills} kills before the campaign finished"
    );
    assert_eq!(duplicates, 0);
    for (index, email, state, _, _) in &rows {
        let arrived = times.contains_key(email.as_str());
        match state.as_str() {
            "sent" => assert!(arrived, "#{index} journaled sent but missing at the server"),
            "ambiguous" => {}
            other => {
                panic!("#{index} ended {other}: every recipient is sent or reported ambiguous")
            }
        }
    }
    // Everyone missing at the server is reported ambiguous.
    let missing: Vec<&String> = emails
        .iter()
        .filter(|e| !times.contains_key(e.as_str()))
        .collect();
    assert!(
        missing.iter().all(|m| ambiguous.contains(&m.as_str())),
        "missing but not ambiguous: {missing:?}"
    );
    let status = status_json(&path);
    assert_eq!(
        status["ambiguous_recipients"].as_array().map(Vec::len),
        Some(ambiguous.len())
    );
}
