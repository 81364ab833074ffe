//! Several relays: a relay killed with `kill -9` mid-send is taken out and the others finish the
//! list, every recipient delivered once or ambiguous and the journal naming the relay that took
//! each message; with that relay alone, the same kill halts the campaign.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use isomail::journal::{Journal, State};

use crate::util::{
    FaultySmtp, Run, TestCommand, assert_halted, campaign_with, isomail_command, isomail_path,
    status_json, stderr,
};

fn ok_list(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("ok-{i}@relays.test")).collect()
}

fn url(server: &FaultySmtp) -> String {
    format!("smtp://127.0.0.1:{}", server.port)
}

/// Starts `send --yes` for a campaign of `n` recipients over `smtp` (a TOML value), waits until
/// `victim` stored `kill_after` messages, kills it with `kill -9`, and returns the send's output.
fn send_and_kill(
    smtp: &str,
    n: usize,
    victim: &mut FaultySmtp,
    kill_after: usize,
) -> (crate::util::CampaignDir, Run) {
    let delivery = format!(
        "smtp = {smtp}\ntls = \"none\"\nstages = [\"all\"]\nretry_delay = 0.2\nrate = 120\nconcurrency = 4\ntimeout = 5"
    );
    let campaign = campaign_with(&ok_list(n), &delivery);
    let path = campaign.write();
    let child = isomail_command(&["send", "--yes", path.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while victim.stored().len() < kill_after {
        assert!(Instant::now() < deadline, "nothing arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    victim.kill_hard();
    let out = child.finish();
    (campaign, out)
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn a_relay_killed_mid_send_is_taken_out_and_the_other_finishes_the_list() {
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let mut a = FaultySmtp::start(dir_a.path(), 1.0);
    let b = FaultySmtp::start(dir_b.path(), 1.0);
    let (name_a, name_b) = (url(&a), url(&b));
    let smtp = format!("[\"{name_a}\", \"{name_b}\"]");
    let (campaign, out) = send_and_kill(&smtp, 300, &mut a, 40);
    out.assert_exit_code(0);

    // Who holds what, across both servers' logs (a's is final: it was killed).
    let mut held: HashMap<String, Vec<&str>> = HashMap::new();
    let (stored_a, stored_b) = (a.stored(), b.stored());
    for (rcpt, _, _) in &stored_a {
        held.entry(rcpt.clone()).or_default().push(&name_a);
    }
    for (rcpt, _, _) in &stored_b {
        held.entry(rcpt.clone()).or_default().push(&name_b);
    }
    assert!(
        held.values().all(|at| at.len() == 1),
        "someone was stored twice"
    );
    assert!(
        stored_a.len() < 200 && stored_b.len() > 100,
        "the kill came too late"
    );

    let journal = Journal::open_existing(&Journal::path_for(&campaign.path(), false)).expect("j");
    let sent = journal.rows_in(State::Sent).expect("sent");
    let ambiguous = journal.rows_in(State::Ambiguous).expect("ambiguous");
    assert_eq!(
        sent.len() + ambiguous.len(),
        300,
        "everyone sent or ambiguous"
    );
    for row in &sent {
        let at = held.get(&row.email).map(Vec::as_slice);
        assert_eq!(
            at,
            Some(&[row.relay.as_deref().unwrap_or("none")][..]),
            "#{}",
            row.index
        );
    }
    for row in &ambiguous {
        // The body reached the killed relay: it may hold it, the survivor never does.
        assert_eq!(
            row.relay.as_deref(),
            Some(name_a.as_str()),
            "#{}",
            row.index
        );
        assert!(
            held.get(&row.email)
                .is_none_or(|at| at == &[name_a.as_str()])
        );
    }
    // The later messages all went through the survivor.
    let last_at_a = sent
        .iter()
        .filter(|r| r.relay.as_deref() == Some(name_a.as_str()))
        .map(|r| r.index)
        .max()
        .expect("a took the first messages");
    assert!(
        sent.iter()
            .filter(|r| r.index > last_at_a)
            .all(|r| r.relay.as_deref() == Some(name_b.as_str()))
    );
    assert!(sent.iter().filter(|r| r.index > last_at_a).count() > 100);
    let status = status_json(&campaign.path());
    for row in status["ambiguous_recipients"].as_array().expect("array") {
        assert_eq!(row["relay"], name_a.as_str(), "{row}");
    }
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn control_the_same_kill_halts_a_campaign_with_that_relay_alone() {
    let dir = tempfile::tempdir().expect("a");
    let mut a = FaultySmtp::start(dir.path(), 1.0);
    let smtp = format!("\"{}\"", url(&a));
    let (campaign, out) = send_and_kill(&smtp, 300, &mut a, 40);
    assert_halted(&out, "cannot deliver through");
    let status = status_json(&campaign.path());
    assert!(
        status["pending"].as_u64().is_some_and(|p| p > 100),
        "{status}"
    );
}

#[test]
fn every_relay_url_is_checked_and_named_by_its_index() {
    for (smtp, needle) in [
        (
            r#"["smtp://127.0.0.1:2525", "http://relay.test"]"#,
            r#"smtp[1] = "http://relay.test": must start with smtp://"#,
        ),
        (
            r#"["smtp://127.0.0.1:2525", "smtp://127.0.0.1:2525"]"#,
            "smtp[1] = \"smtp://127.0.0.1:2525\": this relay is named twice",
        ),
        ("[]", "smtp = []: name at least one relay"),
    ] {
        let campaign = campaign_with(&ok_list(2), &format!("smtp = {smtp}\ntls = \"none\""));
        let out = isomail_path(&["check"], &campaign.write()).about(smtp);
        out.assert_exit_code(2);
        assert!(
            stderr(&out).contains(needle),
            "{needle} not in {}",
            stderr(&out)
        );
    }
    // Control: the same list without the bad entry is accepted.
    let campaign = campaign_with(
        &ok_list(2),
        "smtp = [\"smtp://127.0.0.1:2525\", \"smtp://127.0.0.1:2526\"]\ntls = \"none\"",
    );
    let out = isomail_path(&["check"], &campaign.write());
    out.assert_exit_code(0);
}
