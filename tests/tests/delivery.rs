//! Staged delivery end to end: the Maildir outbox, a dry run, and a fault-injecting SMTP server
//! (aiosmtpd, tests/smtp/faulty_smtp.py) on 127.0.0.1 whose log is the ground truth of what
//! arrived. Every recipient must end in the state its server behaviour calls for, and the
//! journal must agree with the server.

use std::collections::HashMap;

use crate::util::{
    CampaignDir, FaultySmtp, Run, assert_halted, campaign_with, isomail_path, journal_rows,
    status_json, stderr, stdout,
};
use isomail::journal::Journal;
use isomail::message::content_hash;

/// Seconds the one stage of a `send --yes` took, from its summary line.
fn stage_seconds(rate: &str, n: usize) -> f64 {
    let emails: Vec<String> = (1..=n).map(|i| format!("p{i}@example.com")).collect();
    let campaign = campaign_with(
        &emails,
        &format!("stages = [\"all\"]\nconcurrency = 4\nrate = {rate}"),
    );
    let out = isomail_path(&["send", "--yes"], &campaign.write());
    out.assert_exit_code(0);
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("stage 1 "))
        .unwrap_or_else(|| panic!("no stage line in {text}"));
    line.rsplit_once(" in ")
        .and_then(|(_, t)| t.trim_end_matches(" s").parse().ok())
        .unwrap_or_else(|| panic!("no duration in {line}"))
}

#[test]
fn rate_is_a_ceiling_on_messages_per_second() {
    // 30 messages at 20 per second: the last may start 29 intervals after the first.
    let paced = stage_seconds("20", 30);
    assert!(paced >= 1.4, "30 messages at rate = 20 took {paced} s");
    // Control: the same messages unpaced take a fraction of that, so the pause above is the
    // rate at work and not the cost of sending.
    let unpaced = stage_seconds("100000", 30);
    assert!(
        unpaced < 1.0,
        "30 messages at rate = 100000 took {unpaced} s"
    );
}

#[test]
fn maildir_outbox_runs_stage_by_stage_and_resumes() {
    let emails: Vec<String> = (1..=12).map(|i| format!("p{i}@example.com")).collect();
    let campaign = campaign_with(&emails, "stages = [1, 4, \"all\"]");
    let path = campaign.write();
    let outbox = campaign.dir.path().join("outbox/new");

    let first = isomail_path(&["send"], &path);
    first.assert_exit_code(0);
    assert!(
        stdout(&first).contains("stage 1 (1 cumulative): 1 sent"),
        "{}",
        stdout(&first)
    );
    assert!(
        stdout(&first).contains("continue with `isomail send"),
        "{}",
        stdout(&first)
    );
    assert_eq!(std::fs::read_dir(&outbox).expect("outbox").count(), 1);
    assert_eq!(status_json(&path)["sent"], 1);
    assert_eq!(status_json(&path)["pending"], 11);

    let rest = isomail_path(&["send", "--yes"], &path);
    rest.assert_exit_code(0);
    let status = status_json(&path);
    assert_eq!(
        (status["sent"].as_u64(), status["pending"].as_u64()),
        (Some(12), Some(0))
    );
    assert_eq!(status["stages"].as_array().map(Vec::len), Some(3));

    // Exactly one file per recipient, each with the bytes whose hash the preflight journaled.
    let rows = journal_rows(&path, false);
    let files: Vec<Vec<u8>> = std::fs::read_dir(&outbox)
        .expect("outbox")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("read"))
        .collect();
    assert_eq!(files.len(), 12);
    let hashes: Vec<String> = files.iter().map(|f| content_hash(f)).collect();
    for (index, email, state, hash, _) in &rows {
        assert_eq!(state, "sent", "#{index}");
        assert_eq!(
            hashes.iter().filter(|h| *h == hash).count(),
            1,
            "#{index} {email}"
        );
    }

    // Nothing left: another send sends nothing.
    let again = isomail_path(&["send", "--yes"], &path);
    again.assert_exit_code(0);
    assert_eq!(std::fs::read_dir(&outbox).expect("outbox").count(), 12);
}

#[test]
fn dry_run_serialises_everything_and_sends_nothing() {
    let campaign = campaign_with(
        &["a@example.com", "b@example.com", "c@example.com"],
        "smtp = \"smtp://127.0.0.1:9\"\ntls = \"none\"",
    );
    let path = campaign.write();
    let out = isomail_path(&["send", "--dry-run", "--yes"], &path);
    out.assert_exit_code(0);
    assert!(stdout(&out).contains("dry run"), "{}", stdout(&out));
    let rows = journal_rows(&path, true);
    assert!(
        rows.iter()
            .all(|r| r.2 == "sent" && r.4.as_deref().is_some_and(|m| m.starts_with("dry run"))),
        "{rows:?}"
    );
    // The real journal does not exist: a rehearsal never counts as a send.
    assert!(!Journal::path_for(&path, false).exists());
    isomail_path(&["status"], &path).assert_exit_code(2);
}

#[test]
fn changed_campaign_is_refused_on_resume() {
    let campaign = campaign_with(&["a@example.com", "b@example.com"], "stages = [1, \"all\"]");
    let path = campaign.write();
    isomail_path(&["send"], &path).assert_exit_code(0);
    std::fs::write(
        campaign.dir.path().join("templates/body.txt"),
        "A different body for {{ name }}\n",
    )
    .expect("edit");
    let out = isomail_path(&["send", "--yes"], &path);
    out.assert_exit_code(2);
    assert!(stderr(&out).contains("changed since"), "{}", stderr(&out));
    let allowed = isomail_path(&["send", "--yes", "--allow-changed"], &path);
    allowed.assert_exit_code(0);
    assert_eq!(status_json(&path)["sent"], 2);
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn each_smtp_failure_ends_in_the_right_state() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = FaultySmtp::start(dir.path(), 1.0);
    let emails = [
        "ok1@isomail.test",
        "tempfail1@isomail.test",
        "greylist1@isomail.test",
        "reject1@isomail.test",
        "datareject1@isomail.test",
        "resetrcpt1@isomail.test",
        "resetdata1@isomail.test",
        "bye1@isomail.test",
        "slow1@isomail.test",
        "ok2@isomail.test",
    ];
    let delivery = format!(
        "smtp = \"smtp://127.0.0.1:{}\"\ntls = \"none\"\nstages = [\"all\"]\nmax_failure_rate = 1.0\nretry_delay = 0.2\nconcurrency = 3\nrate = 100",
        server.port
    );
    let campaign = campaign_with(&emails, &delivery);
    let path = campaign.write();
    isomail_path(&["send", "--yes"], &path).assert_exit_code(0);

    let rows = journal_rows(&path, false);
    let state: HashMap<&str, (&str, Option<&str>)> = rows
        .iter()
        .map(|r| (r.1.as_str(), (r.2.as_str(), r.4.as_deref())))
        .collect();
    let expect = [
        ("ok1", "sent", "250"),
        ("tempfail1", "failed", "451"),
        ("greylist1", "sent", "250"),
        ("reject1", "failed", "550"),
        ("datareject1", "failed", "554"),
        (
            "resetrcpt1",
            "failed",
            "connection lost before the message was sent",
        ),
        (
            "resetdata1",
            "ambiguous",
            "connection lost after the message was sent",
        ),
        ("bye1", "failed", "421"),
        ("slow1", "sent", "250"),
        ("ok2", "sent", "250"),
    ];
    for (local, want_state, want_reply) in expect {
        let (got_state, reply) = state[format!("{local}@isomail.test").as_str()];
        assert_eq!(got_state, want_state, "{local}: {reply:?}");
        assert!(
            reply.is_some_and(|r| r.contains(want_reply)),
            "{local}: {reply:?} should mention {want_reply}"
        );
    }

    // The server holds exactly the sent ones (and the ambiguous one, which did arrive), once
    // each, with the bytes the preflight hashed.
    let stored = server.stored();
    let mut arrived: Vec<&str> = stored.iter().map(|s| s.0.as_str()).collect();
    arrived.sort();
    assert_eq!(
        arrived,
        [
            "greylist1@isomail.test",
            "ok1@isomail.test",
            "ok2@isomail.test",
            "resetdata1@isomail.test",
            "slow1@isomail.test"
        ]
    );
    for (rcpt, sha, _) in &stored {
        let row = rows.iter().find(|r| &r.1 == rcpt).expect("row");
        assert_eq!(
            &row.3, sha,
            "{rcpt}: the server got other bytes than preflight checked"
        );
    }

    // status lists the failures and the ambiguous recipient; the ambiguous one is re-sent only
    // when asked.
    let status = status_json(&path);
    assert_eq!(
        (
            status["sent"].as_u64(),
            status["failed"].as_u64(),
            status["ambiguous"].as_u64()
        ),
        (Some(5 - 1), Some(5), Some(1))
    );
    let again = isomail_path(&["send", "--yes"], &path);
    again.assert_exit_code(0);
    assert_eq!(
        server.stored().len(),
        5,
        "nothing is re-sent without --resend-ambiguous"
    );
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn a_reply_slower_than_the_timeout_is_a_transient_failure() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = FaultySmtp::start(dir.path(), 3.0);
    let delivery = format!(
        "smtp = \"smtp://127.0.0.1:{}\"\ntls = \"none\"\nstages = [\"all\"]\nmax_failure_rate = 1.0\nretry_delay = 0.1\ntimeout = 0.5",
        server.port
    );
    let campaign = campaign_with(&["slow1@isomail.test", "ok1@isomail.test"], &delivery);
    let path = campaign.write();
    let out = isomail_path(&["send", "--yes"], &path);
    out.assert_exit_code(0);
    let rows = journal_rows(&path, false);
    assert_eq!(rows[0].2, "failed", "{rows:?}");
    assert!(
        rows[0]
            .4
            .as_deref()
            .is_some_and(|r| r.contains("timed out")),
        "{rows:?}"
    );
    assert_eq!(rows[1].2, "sent");
    assert_eq!(server.stored().len(), 1);
}

#[test]
fn seeds_get_each_stages_first_message_marked_and_journaled_apart() {
    let emails: Vec<String> = (1..=6).map(|i| format!("p{i}@example.com")).collect();
    let campaign = campaign_with(
        &emails,
        "stages = [1, 3, \"all\"]\nseed = [\"ops@example.org\"]",
    );
    let path = campaign.write();
    let out = isomail_path(&["send", "--yes"], &path);
    out.assert_exit_code(0);
    let files: Vec<String> = std::fs::read_dir(campaign.dir.path().join("outbox/new"))
        .expect("outbox")
        .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("read"))
        .collect();
    assert_eq!(files.len(), 6 + 3);
    let mut seeds: Vec<&String> = files
        .iter()
        .filter(|f| f.starts_with("X-Isomail-Seed: "))
        .collect();
    seeds.sort();
    assert_eq!(seeds.len(), 3);
    assert!(
        seeds[0].contains("stage 1's first message (recipient #1)")
            && seeds[0].contains("To: p1@example.com"),
        "{}",
        seeds[0]
    );
    assert!(
        seeds[1].contains("stage 2's first message (recipient #2)"),
        "{}",
        seeds[1]
    );
    assert!(
        seeds[2].contains("stage 3's first message (recipient #4)"),
        "{}",
        seeds[2]
    );
    let status = status_json(&path);
    assert_eq!(status["sent"], 6, "seed copies are not recipients");
    assert_eq!(status["seeds"].as_array().map(Vec::len), Some(3));
    assert!(
        status["seeds"]
            .as_array()
            .expect("seeds")
            .iter()
            .all(|s| s["state"] == "sent" && s["email"] == "ops@example.org")
    );
}

/// Simulates a journal that disagrees with what would be sent now (damaged, or edited behind
/// isomail's back): the campaign changes after stage 1 and the journal is made to claim the
/// new campaign was the one preflighted. The send-time re-render must catch it.
fn send_after_tampering(new_text: &str) -> (Run, CampaignDir) {
    let campaign = campaign_with(
        &["ann@example.com", "bob@example.com", "cy@example.com"],
        "stages = [1, \"all\"]",
    );
    let path = campaign.write();
    isomail_path(&["send"], &path).assert_exit_code(0);
    std::fs::write(campaign.dir.path().join("templates/body.txt"), new_text).expect("edit");
    let changed = isomail::campaign::Campaign::load(&path).expect("load");
    let journal = Journal::open_existing(&Journal::path_for(&path, false)).expect("journal");
    journal
        .set_fingerprint(&isomail::send::journal_fingerprint(&changed, false).expect("fingerprint"))
        .expect("tamper");
    drop(journal);
    (isomail_path(&["send", "--yes"], &path), campaign)
}

#[test]
fn a_leak_found_at_send_time_halts_before_the_message_goes_out() {
    let (out, campaign) = send_after_tampering("Dear {{ name }}, say hi to ann@example.com\n");
    assert_halted(
        &out,
        "safety check failed at send time: message for recipient #2 (b***@example.com): contains the address of recipient #1",
    );
    assert_eq!(
        std::fs::read_dir(campaign.dir.path().join("outbox/new"))
            .expect("outbox")
            .count(),
        1,
        "only stage 1's message"
    );
    assert_eq!(status_json(&campaign.path())["pending"], 2);
}

#[test]
fn a_message_that_differs_from_preflight_halts_before_it_goes_out() {
    let (out, campaign) = send_after_tampering("A harmless but different body for {{ name }}\n");
    assert_halted(&out, "differs from the one checked in preflight");
    assert_eq!(
        std::fs::read_dir(campaign.dir.path().join("outbox/new"))
            .expect("outbox")
            .count(),
        1
    );
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn a_relay_without_starttls_halts_the_campaign_and_sends_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = FaultySmtp::start(dir.path(), 1.0);
    // No `tls = "none"`: STARTTLS is required, and this server does not offer it.
    let delivery = format!(
        "smtp = \"smtp://127.0.0.1:{}\"\nstages = [\"all\"]",
        server.port
    );
    let campaign = campaign_with(
        &["ok1@isomail.test", "ok2@isomail.test", "ok3@isomail.test"],
        &delivery,
    );
    let path = campaign.write();
    let out = isomail_path(&["send", "--yes"], &path);
    assert_halted(&out, "does not offer STARTTLS, which is required");
    assert_eq!(server.stored().len(), 0);
    let status = status_json(&path);
    assert_eq!(
        (status["pending"].as_u64(), status["failed"].as_u64()),
        (Some(3), Some(0)),
        "nobody is written off: {status}"
    );
}

#[test]
fn an_unreachable_relay_halts_the_campaign_with_everyone_pending() {
    // A port nothing listens on: bind one, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let delivery =
        format!("smtp = \"smtp://127.0.0.1:{port}\"\ntls = \"none\"\nstages = [\"all\"]");
    let campaign = campaign_with(&["a@isomail.test", "b@isomail.test"], &delivery);
    let path = campaign.write();
    let out = isomail_path(&["send", "--yes"], &path);
    assert_halted(&out, "cannot connect to 127.0.0.1");
    assert_eq!(status_json(&path)["pending"], 2);
}

#[test]
#[cfg_attr(
    isomail_missing = "script",
    ignore = "needs script (util-linux): run tests/run.sh"
)]
fn on_a_terminal_send_asks_before_each_further_stage() {
    // util-linux `script` gives the command a pseudo-terminal; the answers come from our stdin.
    use std::io::Write;
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        crate::util::missing("script (util-linux)");
    }
    let emails: Vec<String> = (1..=8).map(|i| format!("p{i}@example.com")).collect();
    let campaign = campaign_with(&emails, "stages = [1, 3, \"all\"]");
    let path = campaign.write();
    let command = format!(
        "{} send {}",
        env!("CARGO_BIN_EXE_isomail-cli"),
        path.display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("ISOMAIL_CACHE_DIR", campaign.dir.path().join("cache"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"y\nn\n")
        .expect("answers");
    let out = child.wait_with_output().expect("wait");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(
        screen.contains("continue with stage 2 (2 more recipients)? [y/N]"),
        "{screen}"
    );
    assert!(
        screen.contains("continue with stage 3 (5 more recipients)? [y/N]"),
        "{screen}"
    );
    assert_eq!(
        status_json(&path)["sent"],
        3,
        "yes to stage 2, no to stage 3: {screen}"
    );
}

#[test]
#[cfg_attr(
    any(isomail_missing = "aiosmtpd", isomail_missing = "openssl"),
    ignore = "needs aiosmtpd and openssl: run tests/run.sh"
)]
fn smtps_speaks_tls_from_the_first_byte_and_verifies_the_relay() {
    let dir = tempfile::tempdir().expect("tmp");
    let (cert, key) = crate::util::self_signed_certificate(dir.path());
    let (cert, key) = (
        cert.to_str().expect("utf-8 path"),
        key.to_str().expect("utf-8 path"),
    );
    let tls_server =
        |dir: &std::path::Path| FaultySmtp::start_with(dir, 1.0, &["--implicit-tls", cert, key]);
    let server = tls_server(dir.path());
    let smtps = |port: u16| format!("smtp = \"smtps://127.0.0.1:{port}\"\nstages = [\"all\"]");

    // With ca_file naming the relay's certificate, both messages go out over TLS, byte for
    // byte as journaled.
    let trusted = campaign_with(
        &["ok1@isomail.test", "ok2@isomail.test"],
        &format!("{}\nca_file = \"{cert}\"", smtps(server.port)),
    );
    let path = trusted.write();
    let out = isomail_path(&["send", "--yes"], &path);
    out.assert_exit_code(0);
    let stored = server.stored();
    assert_eq!(stored.len(), 2);
    for (index, email, state, hash, _) in journal_rows(&path, false) {
        assert_eq!(state, "sent", "#{index}");
        assert!(
            stored
                .iter()
                .any(|(rcpt, sha, _)| *rcpt == email && *sha == hash),
            "#{index} {email}"
        );
    }

    // Control, against a fresh server (faulty_smtp.py exits after a refused TLS handshake):
    // without the relay's CA the certificate is refused, nothing is sent, nobody written off.
    let other = tempfile::tempdir().expect("tmp");
    let server = tls_server(other.path());
    let untrusted = campaign_with(
        &["ok1@isomail.test", "ok2@isomail.test"],
        &smtps(server.port),
    );
    let path = untrusted.write();
    let out = isomail_path(&["send", "--yes"], &path);
    assert_halted(&out, "certificate");
    assert_eq!(server.stored().len(), 0);
    assert_eq!(status_json(&path)["pending"], 2);
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn a_relay_at_an_ipv6_literal_is_reached() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = FaultySmtp::start_with(dir.path(), 1.0, &["--host", "::1"]);
    let delivery = format!(
        "smtp = \"smtp://[::1]:{}\"\ntls = \"none\"\nstages = [\"all\"]",
        server.port
    );
    let campaign = campaign_with(&["ok1@isomail.test", "ok2@isomail.test"], &delivery);
    let path = campaign.write();
    let out = isomail_path(&["send", "--yes"], &path);
    out.assert_exit_code(0);
    assert_eq!(server.stored().len(), 2);
    assert!(stdout(&out).contains("smtp://[::1]:"), "{}", stdout(&out));
    // Control: the same server is not on the IPv4 loopback, so the address really was used.
    let v4 = format!(
        "smtp = \"smtp://127.0.0.1:{}\"\ntls = \"none\"\nstages = [\"all\"]",
        server.port
    );
    let out = isomail_path(
        &["send", "--yes"],
        &campaign_with(&["ok3@isomail.test"], &v4).write(),
    );
    assert_halted(&out, "cannot connect to 127.0.0.1");
}
