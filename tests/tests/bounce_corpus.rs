//! Bounces as they arrive from other MTAs: the hand-written corpus of tests/bounces/corpus
//! (one or more fixtures per MTA family and report variant, each listed with the recipient it
//! is about and how it must be judged), read by the parser and by `isomail bounces` end to
//! end; forged copies of the same reports; and hostile reports that once took minutes or
//! crashed the reader.
//!
//! Each fixture carries the literal `TOKEN` where isomail's VERP and unsubscribe tokens go;
//! the tests put the listed recipient's real token there (or a wrong one, to forge it).

use std::path::{Path, PathBuf};

use isomail::bounces::reason::Class;
use isomail::bounces::{Parsed, parse};

use crate::util::{CampaignDir, isomail_path, stdout};

const SECRET: &str = "a-corpus-test-secret-of-length";

/// One line of an `expected.tsv`.
#[derive(Debug, Clone)]
struct Expected {
    dir: &'static str,
    file: String,
    address: String,
    /// `gone`, `temporary`, `sender`, `unclassified`, `complaint` or `none`.
    class: String,
    reason: Option<String>,
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bounces/corpus")
}

fn expected() -> Vec<Expected> {
    let mut out = Vec::new();
    for dir in ["dsn", "arf", "controls", "plain"] {
        let Ok(text) = std::fs::read_to_string(corpus().join(dir).join("expected.tsv")) else {
            continue;
        };
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let f: Vec<&str> = line.split('\t').collect();
            let e = match (dir, f.as_slice()) {
                ("plain", [file, "none"]) => Expected {
                    dir,
                    file: (*file).into(),
                    address: format!("control-{}@example.com", out.len()),
                    class: "none".into(),
                    reason: None,
                },
                ("plain", [file, address, _permanent, _words, class, ..]) => Expected {
                    dir,
                    file: (*file).into(),
                    // A notice that names nobody: only the token says whose it is.
                    address: match *address {
                        "-" => format!("unnamed-{}@example.com", out.len()),
                        a => a.into(),
                    },
                    class: (*class).into(),
                    reason: None,
                },
                (_, [file, address, class, rest @ ..]) => Expected {
                    dir,
                    file: (*file).into(),
                    address: (*address).into(),
                    class: (*class).into(),
                    reason: rest.first().map(|r| (*r).to_owned()),
                },
                _ => panic!("{dir}/expected.tsv: cannot read {line:?}"),
            };
            out.push(e);
        }
    }
    out
}

fn token(address: &str) -> String {
    isomail::campaign::Tokens::from_secret(SECRET.as_bytes()).token(address)
}

fn fixture(e: &Expected, token: &str) -> Vec<u8> {
    let path = corpus().join(e.dir).join(&e.file);
    let text = std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    String::from_utf8_lossy(&text)
        .replace("TOKEN", token)
        .into_bytes()
}

fn class_name(class: Class) -> &'static str {
    match class {
        Class::Gone => "gone",
        Class::Temporary => "temporary",
        Class::Sender => "sender",
        Class::Unclassified => "unclassified",
    }
}

/// What the parser alone makes of a fixture: (class, reason, whether the address is named).
fn judged(bytes: &[u8], address: &str) -> (String, Option<String>, bool) {
    let lower = address.to_ascii_lowercase();
    match parse(bytes) {
        Parsed::Bounce(b) => {
            let f = b
                .failures
                .iter()
                .find(|f| f.addresses.iter().any(|a| a.to_ascii_lowercase() == lower))
                .or(b.failures.first());
            let named =
                f.is_some_and(|f| f.addresses.iter().any(|a| a.to_ascii_lowercase() == lower));
            match f {
                Some(f) => (
                    class_name(f.reason.class()).into(),
                    Some(f.reason.as_str().to_owned()),
                    named,
                ),
                None => ("none".into(), None, false),
            }
        }
        Parsed::Complaint(c) => {
            let named = c.recipients.iter().any(|a| a.to_ascii_lowercase() == lower);
            let class = match c.feedback_type.as_str() {
                "auth-failure" | "virus" => "sender",
                "not-spam" => "none",
                _ => "complaint",
            };
            let reason = match class {
                "sender" => Some("authentication".to_owned()),
                _ => Some(c.feedback_type.clone()),
            };
            (class.into(), reason, named)
        }
        Parsed::NotAReport | Parsed::Unreadable(_) => ("none".into(), None, false),
    }
}

#[test]
fn every_fixture_is_judged_as_its_list_says_and_the_figures_are_printed() {
    let all = expected();
    assert!(
        all.len() >= 30,
        "the corpus is missing: {} fixtures",
        all.len()
    );
    let mut wrong = Vec::new();
    let (mut failing, mut recognised, mut hard, mut hard_ok, mut soft, mut soft_as_hard) =
        (0, 0, 0, 0, 0, 0);
    for e in &all {
        let (class, reason, _) = judged(&fixture(e, &token(&e.address)), &e.address);
        if e.class != "none" {
            failing += 1;
            recognised += usize::from(class != "none");
        }
        if e.class == "gone" {
            hard += 1;
            hard_ok += usize::from(class == "gone");
        }
        if e.class == "temporary" || e.class == "sender" {
            soft += 1;
            soft_as_hard += usize::from(class == "gone");
        }
        let reason_ok = e.reason.is_none() || e.reason == reason;
        if class != e.class || !reason_ok {
            wrong.push(format!(
                "{}/{}: expected {} {:?}, judged {class} {reason:?}",
                e.dir, e.file, e.class, e.reason
            ));
        }
    }
    println!(
        "corpus: {} fixtures; {recognised} of {failing} failing or complaining recipients recognised; \
         {hard_ok} of {hard} hard bounces judged hard; {soft_as_hard} of {soft} soft or sender-side judged hard",
        all.len()
    );
    assert!(
        wrong.is_empty(),
        "{} misjudged:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// A campaign of every corpus recipient, sent to its outbox (all `sent`), with VERP and
/// one-click unsubscribe tokens, and a Maildir of the fixtures made with `token_of`.
fn corpus_campaign(
    token_of: impl Fn(&Expected) -> String,
) -> (CampaignDir, PathBuf, PathBuf, Vec<Expected>) {
    let all = expected();
    let mut campaign = CampaignDir::new();
    let mut emails: Vec<&str> = all.iter().map(|e| e.address.as_str()).collect();
    emails.sort();
    emails.dedup();
    let rows: String = emails.iter().map(|e| format!("{e},Someone\n")).collect();
    campaign.csv = format!("email,name\n{rows}").into_bytes();
    campaign.extra = "suppress = [\"suppressed.txt\"]\n\n[delivery]\nstages = [\"all\"]\n\
                      return_path = \"bounces+{token}@example.org\"\n\n[tokens]\nsecret_file = \"secret.txt\"\n\n\
                      [unsubscribe]\nurl = \"https://example.org/unsubscribe?t={token}\"\n"
        .into();
    let path = campaign.write();
    crate::util::write_secret(&campaign.dir.path().join("secret.txt"), SECRET);
    std::fs::write(campaign.dir.path().join("suppressed.txt"), "").expect("suppress");
    isomail_path(&["send", "--yes"], &path).assert_exit_code(0);
    let maildir = campaign.dir.path().join("bounce-box");
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(d)).expect("mkdir");
    }
    for (i, e) in all.iter().enumerate() {
        let name = maildir.join(format!("new/1764670000.M{i}P7.mx"));
        std::fs::write(name, fixture(e, &token_of(e))).expect("write mail");
    }
    (campaign, path, maildir, all)
}

fn states(path: &Path) -> std::collections::HashMap<String, String> {
    let status = crate::util::status_json(path);
    let mut out = std::collections::HashMap::new();
    for (key, state) in [("bounced_recipients", "bounced")] {
        for r in status[key].as_array().into_iter().flatten() {
            out.insert(
                r["email"].as_str().unwrap_or("").to_owned(),
                state.to_owned(),
            );
        }
    }
    out
}

#[test]
fn with_their_tokens_the_reports_bounce_and_suppress_exactly_the_recipients_gone_or_complaining() {
    let (campaign, path, maildir, all) = corpus_campaign(|e| token(&e.address));
    let out = isomail_path(
        &["bounces", "--maildir", maildir.to_str().expect("utf-8")],
        &path,
    );
    out.assert_exit_code(0);
    let suppressed =
        std::fs::read_to_string(campaign.dir.path().join("suppressed.txt")).expect("read");
    let suppressed: Vec<&str> = suppressed
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let status = crate::util::status_json(&path);
    let bounced = states(&path);
    for e in &all {
        let should = e.class == "gone" || e.class == "complaint";
        assert_eq!(
            suppressed.contains(&e.address.as_str()),
            should,
            "{}/{} ({}): suppressed? {}\n{}",
            e.dir,
            e.file,
            e.class,
            stdout(&out),
            suppressed.join("\n")
        );
        if e.class == "gone" {
            assert_eq!(
                bounced.get(&e.address).map(String::as_str),
                Some("bounced"),
                "{}",
                e.file
            );
        }
    }
    let gone = all.iter().filter(|e| e.class == "gone").count() as u64;
    assert_eq!(status["bounced"].as_u64(), Some(gone), "{status}");
    let complaints = all.iter().filter(|e| e.class == "complaint").count() as u64;
    assert_eq!(status["complained"].as_u64(), Some(complaints), "{status}");
    // The reasons are journaled per stage and receiving domain.
    let reasons = status["bounce_reasons"].as_array().expect("reasons");
    assert!(
        reasons
            .iter()
            .any(|r| r["kind"] == "sender" && r["reason"] == "blocklisted"),
        "{status}"
    );
}

#[test]
fn forged_reports_without_a_valid_token_bounce_complain_and_suppress_nobody() {
    // The same reports, forged: a token that is not the recipient's (another secret's), and
    // the VERP address without any token.
    let forgers: [fn(&Expected) -> String; 2] = [
        |e| isomail::campaign::Tokens::from_secret(b"not-the-campaign-secret!!").token(&e.address),
        |_| String::new(),
    ];
    for forged in forgers {
        let (campaign, path, maildir, all) = corpus_campaign(forged);
        let out = isomail_path(
            &["bounces", "--maildir", maildir.to_str().expect("utf-8")],
            &path,
        );
        out.assert_exit_code(0);
        let text = stdout(&out);
        let suppressed =
            std::fs::read_to_string(campaign.dir.path().join("suppressed.txt")).expect("read");
        assert_eq!(suppressed, "", "{text}");
        let status = crate::util::status_json(&path);
        assert_eq!(
            (status["bounced"].as_u64(), status["complained"].as_u64()),
            (Some(0), Some(0)),
            "{text}"
        );
        // A notice naming several recipients is one file per recipient; without a token those
        // copies are the same mail, read once.
        let files: std::collections::HashSet<Vec<u8>> = all
            .iter()
            .filter(|e| e.class != "none")
            .map(|e| fixture(e, &forged(e)))
            .collect();
        let reports = files.len();
        let unverified = status["unverified_reports"].as_array().map_or(0, Vec::len);
        assert_eq!(unverified, reports, "{text}");
        // Shown masked: a forged report's claim is not repeated in full.
        let shown = isomail_path(&["status"], &path);
        let shown = stdout(&shown);
        let line = format!(
            "unverified reports (no valid VERP token: nobody bounced, complained or suppressed): \
             {reports}"
        );
        assert!(shown.contains(&line), "{shown}");
        assert!(!shown.contains("ana.silva@"), "{shown}");
    }
}

/// A campaign of two sent recipients with VERP, and an empty bounce Maildir.
fn small_campaign(extra_delivery: &str) -> (CampaignDir, PathBuf, PathBuf) {
    let mut campaign = CampaignDir::new();
    campaign.extra = format!(
        "suppress = [\"suppressed.txt\"]\n\n[delivery]\nstages = [\"all\"]\n\
         return_path = \"bounces+{{token}}@example.org\"\n{extra_delivery}\n[tokens]\nsecret_file = \"secret.txt\"\n"
    );
    let path = campaign.write();
    crate::util::write_secret(&campaign.dir.path().join("secret.txt"), SECRET);
    std::fs::write(campaign.dir.path().join("suppressed.txt"), "").expect("suppress");
    let maildir = campaign.dir.path().join("bounce-box");
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(d)).expect("mkdir");
    }
    (campaign, path, maildir)
}

/// A DSN for `rcpt` whose delivery-status part is `blocks` tiny blocks: quadratic to split
/// once (each search for an empty line of the other ending ran to the end of the part).
fn tiny_blocks(rcpt: &str, blocks: usize) -> Vec<u8> {
    let mut out = format!(
        "Return-Path: <>\nTo: bounces+{}@example.org\nFrom: MAILER-DAEMON@mx.example.net\n\
         Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
         --b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n\
         Final-Recipient: rfc822; {rcpt}\nAction: failed\nStatus: 5.1.1\n\n",
        token(rcpt)
    )
    .into_bytes();
    for _ in 0..blocks {
        out.extend_from_slice(b"X: 1\n\n");
    }
    out.extend_from_slice(b"--b--\n");
    out
}

/// A report nested `depth` deep: multipart/mixed holding message/rfc822 holding the next.
fn nested(depth: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"Return-Path: <>\nFrom: MAILER-DAEMON@mx.example.net\nSubject: nest\n");
    for i in 0..depth {
        out.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"n{i}\"\n\n--n{i}\nContent-Type: message/rfc822\n\n")
                .as_bytes(),
        );
    }
    out
}

#[test]
fn hostile_reports_end_in_seconds_in_bounded_memory_and_are_recorded_once() {
    let (campaign, path, maildir) = small_campaign("");
    let mut mail: Vec<(&str, Vec<u8>)> = vec![
        // 14.6 MB of tiny blocks took 12 minutes and 2.6 GB; 3.5 MB, 32 s and 636 MB.
        ("tiny-blocks", tiny_blocks("ann@example.com", 2_400_000)),
        // 75,000 levels overflowed the stack (SIGABRT), on every later run too.
        ("nested", nested(75_000)),
        // A million empty parts in one multipart, and a million header lines.
        ("parts", {
            let mut m =
                b"From: x@example.net\nContent-Type: multipart/mixed; boundary=p\n\n".to_vec();
            m.extend(std::iter::repeat_n(&b"--p\n\n"[..], 1_000_000).flatten());
            m
        }),
        ("headers", {
            let mut m = Vec::new();
            m.extend(std::iter::repeat_n(&b"X-H: 1\n"[..], 1_500_000).flatten());
            m.extend_from_slice(b"\nbody\n");
            m
        }),
    ];
    // Control: an ordinary hard bounce for bob among them still counts.
    mail.push(("bob", {
        let mut dsn = tiny_blocks("bob@example.com", 0);
        dsn.shrink_to_fit();
        dsn
    }));
    for (i, (_, bytes)) in mail.iter().enumerate() {
        std::fs::write(maildir.join(format!("new/1764670100.M{i}P9.mx")), bytes).expect("write");
    }
    isomail_path(&["send", "--yes"], &path).assert_exit_code(0);
    let maildir_arg = maildir.to_str().expect("utf-8");
    let run = crate::hostile::run_measured(&["bounces", "--maildir", maildir_arg], &path);
    run.assert_exit_code(0);
    let text = stdout(&run.output);
    println!(
        "hostile reports: {:.1} s, peak {} MiB: {text}",
        run.took.as_secs_f64(),
        run.peak_rss_bytes >> 20
    );
    assert!(run.took.as_secs() < 60, "took {:?}", run.took);
    assert!(
        run.peak_rss_bytes < 768 << 20,
        "peak {} MiB",
        run.peak_rss_bytes >> 20
    );
    assert!(text.contains("5 new, 0 already read; 2 bounced"), "{text}");
    let status = crate::util::status_json(&path);
    let unreadable = status["unreadable_reports"].as_array().map_or(0, Vec::len);
    assert_eq!(
        unreadable, 2,
        "the nested report and the million parts: {status}"
    );
    // Recorded: the next reading reads none of them again.
    let again = isomail_path(&["bounces", "--maildir", maildir_arg], &path);
    again.assert_exit_code(0);
    assert!(
        stdout(&again.output).contains("0 new, 5 already read"),
        "{}",
        stdout(&again.output)
    );
    let suppressed =
        std::fs::read_to_string(campaign.dir.path().join("suppressed.txt")).expect("read");
    assert!(
        suppressed.contains("\nann@example.com\n") || suppressed.starts_with("ann@example.com"),
        "{suppressed}"
    );
}

#[test]
fn a_send_reading_a_hostile_mailbox_at_the_gate_goes_on() {
    let (_campaign, path, maildir) = small_campaign("");
    std::fs::write(maildir.join("new/1764670200.M1P9.mx"), nested(75_000)).expect("write");
    let toml = std::fs::read_to_string(&path).expect("toml");
    let toml = toml.replace("stages = [\"all\"]", "stages = [1, \"all\"]")
        + "\n[bounces]\nmaildir = \"bounce-box\"\nwait_seconds = 0.5\n";
    std::fs::write(&path, toml).expect("toml");
    let out = isomail_path(&["send", "--yes"], &path);
    out.assert_exit_code(0);
    let status = crate::util::status_json(&path);
    assert_eq!(status["sent"].as_u64(), Some(2), "{status}");
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn refusals_about_the_sender_at_send_time_pull_the_reputation_brake_and_unknown_users_do_not() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = crate::util::FaultySmtp::start(dir.path(), 1.0);
    // Two of the first stage's five are refused after DATA with "554 5.7.1 Message rejected"
    // (a policy refusal: about us); in the control they are unknown users (550 5.1.1).
    for (first, max, halts) in [
        ("datareject", "", true),
        ("reject", "", false),
        ("datareject", "max_sender_failure_rate = 0.5\n", false),
    ] {
        let mut emails: Vec<String> = vec![
            format!("{first}1@isomail.test"),
            format!("{first}2@isomail.test"),
        ];
        emails.extend((1..=8).map(|i| format!("ok{i}@isomail.test")));
        let delivery = format!(
            "smtp = \"smtp://127.0.0.1:{}\"\ntls = \"none\"\nstages = [5, \"all\"]\n\
             max_failure_rate = 1.0\nconcurrency = 2\n",
            server.port
        );
        let mut campaign = crate::util::campaign_with(&emails, &delivery);
        if !max.is_empty() {
            campaign.extra.push_str(&format!("\n[bounces]\n{max}"));
        }
        let path = campaign.write();
        let out = isomail_path(&["send", "--yes"], &path);
        let status = crate::util::status_json(&path);
        if halts {
            crate::util::assert_halted(
                &out,
                "reputation brake: 2 of 5 messages of stage 1 failed for reasons about the sender",
            );
            assert!(
                crate::util::stderr(&out).contains("isomail.test policy (2)"),
                "{}",
                crate::util::stderr(&out)
            );
            assert_eq!(status["sent"].as_u64(), Some(3), "{status}");
        } else {
            out.assert_exit_code(0);
            assert_eq!(status["sent"].as_u64(), Some(8), "{first} {max}: {status}");
        }
    }
}

#[test]
fn a_stage_whose_bounces_say_our_ip_is_blocked_halts_and_suppresses_nobody() {
    // The first stage's two recipients; the DSNs arrive during the gate's wait.
    for (file, halts) in [
        ("exchange-spamhaus-block.eml", true),
        ("postfix-unknown-user.eml", false),
    ] {
        let (campaign, path, maildir) = small_campaign("");
        let toml = std::fs::read_to_string(&path).expect("toml");
        let toml = toml.replace(
            "stages = [\"all\"]",
            "stages = [1, \"all\"]\nmax_bounce_rate = 1.0",
        ) + "\n[bounces]\nmaildir = \"bounce-box\"\nwait_seconds = 1\n";
        std::fs::write(&path, toml).expect("toml");
        let e = Expected {
            dir: "dsn",
            file: file.into(),
            address: "ann@example.com".into(),
            class: String::new(),
            reason: None,
        };
        std::fs::write(
            maildir.join("new/1764670300.M1P9.mx"),
            fixture(&e, &token("ann@example.com")),
        )
        .expect("write");
        let out = isomail_path(&["send", "--yes"], &path);
        let suppressed =
            std::fs::read_to_string(campaign.dir.path().join("suppressed.txt")).expect("read");
        let status = crate::util::status_json(&path);
        if halts {
            crate::util::assert_halted(&out, "reputation brake: 1 of 1 messages of stage 1");
            assert!(
                crate::util::stderr(&out).contains("blocklisted (1)"),
                "{}",
                crate::util::stderr(&out)
            );
            assert_eq!(suppressed, "", "a block of our IP suppresses nobody");
            assert_eq!(status["sent"].as_u64(), Some(1), "{status}");
        } else {
            out.assert_exit_code(0);
            assert!(suppressed.contains("ann@example.com"), "{suppressed}");
            assert_eq!(status["bounced"].as_u64(), Some(1), "{status}");
        }
    }
}

#[test]
fn a_stage_that_draws_complaints_over_the_ceiling_halts_at_the_complaint_gate() {
    // The first stage is ann alone; her complaint (Yahoo's CFL) arrives during the wait.
    for (ceiling, halts) in [("", true), ("max_complaint_rate = 1.0\n", false)] {
        let (campaign, path, maildir) = small_campaign("");
        let toml = std::fs::read_to_string(&path).expect("toml");
        let toml = toml.replace("stages = [\"all\"]", "stages = [1, \"all\"]")
            + "\n[bounces]\nmaildir = \"bounce-box\"\nwait_seconds = 1\n"
            + ceiling;
        std::fs::write(&path, toml).expect("toml");
        let e = Expected {
            dir: "arf",
            file: "yahoo-cfl.eml".into(),
            address: "ann@example.com".into(),
            class: String::new(),
            reason: None,
        };
        let mail = fixture(&e, &token("ann@example.com"));
        std::fs::write(maildir.join("new/1764670400.M1P9.mx"), mail).expect("write");
        let out = isomail_path(&["send", "--yes"], &path);
        let status = crate::util::status_json(&path);
        let suppressed =
            std::fs::read_to_string(campaign.dir.path().join("suppressed.txt")).expect("read");
        assert!(suppressed.contains("ann@example.com"), "{suppressed}");
        assert_eq!(status["complained"].as_u64(), Some(1), "{status}");
        if halts {
            crate::util::assert_halted(
                &out,
                "complaint gate: 1 of 1 messages of stage 1 drew a complaint, above max_complaint_rate = 0.003",
            );
            assert_eq!(status["pending"].as_u64(), Some(1), "{status}");
        } else {
            out.assert_exit_code(0);
            assert_eq!(status["sent"].as_u64(), Some(1), "bob: {status}");
        }
    }
}
