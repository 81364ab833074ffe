//! Bounces and complaints: VERP return paths, `isomail bounces` reading real DSNs made by the
//! test postfix and hand-written ARF and non-standard reports, and the bounce gate. The shared
//! test Maildir holds other tests' mail too: what is not ours must be left exactly as it is.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::util::{
    CERT, CampaignDir, Run, TestCommand, isomail_path, require_postfix, stderr, stdout,
};

const SECRET: &str = "a-bounce-test-secret-of-length";
const SHARED: &str = "/var/tmp/isomail-postfix/Maildir";

/// The test postfix as this tests/smtp/postfix.sh makes it: with the bouncing domain. (The
/// instance is shared by the machine: an older postfix.sh run elsewhere rewrites it without.)
fn require_bouncing_postfix() {
    require_postfix();
    let main_cf =
        std::fs::read_to_string("/var/tmp/isomail-postfix/etc/main.cf").unwrap_or_default();
    assert!(
        main_cf.contains("relay_domains = bounce.isomail.test"),
        "the test postfix has no bouncing domain: an older tests/smtp/postfix.sh configured it; run this one"
    );
}

fn nonce() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// A campaign through the test postfix for `emails`, with tokens and these extra lines.
fn postfix_campaign(emails: &[String], delivery: &str, extra: &str) -> (CampaignDir, PathBuf) {
    let mut campaign = CampaignDir::new();
    let mut csv = String::from("email,name\n");
    for (i, e) in emails.iter().enumerate() {
        csv.push_str(&format!("{e},Person {i}\n"));
    }
    campaign.csv = csv.into_bytes();
    campaign.extra = format!(
        "\n[delivery]\nsmtp = \"smtp://isomail@127.0.0.1:2587\"\npassword_env = \"ISOMAIL_TEST_SMTP_PASSWORD\"\nca_file = \"{CERT}\"\n{delivery}\n[tokens]\nsecret_file = \"secret.txt\"\n\n[unsubscribe]\nurl = \"https://example.org/u/{{token}}\"\n{extra}"
    );
    let path = campaign.write();
    crate::util::write_secret(&campaign.dir.path().join("secret.txt"), SECRET);
    (campaign, path)
}

fn send(path: &Path, args: &[&str]) -> Run {
    let mut all = vec!["send"];
    all.extend_from_slice(args);
    all.push(path.to_str().expect("utf-8"));
    crate::util::isomail_command(&all)
        .env("ISOMAIL_TEST_SMTP_PASSWORD", "isomail-test-password")
        .run()
}

/// The shared Maildir's files (new/ and cur/) whose text contains `needle`, waiting until there
/// are `want` of them (bounded).
fn wait_for(needle: &str, want: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found: Vec<String> = ["new", "cur"]
            .iter()
            .filter_map(|d| std::fs::read_dir(Path::new(SHARED).join(d)).ok())
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .filter(|t| t.contains(needle))
            .collect();
        if found.len() >= want || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The value of header `name` in a delivered file (first occurrence).
fn header<'a>(file: &'a str, name: &str) -> Option<&'a str> {
    file.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
}

#[test]
#[cfg_attr(
    isomail_missing = "postfix",
    ignore = "needs the test postfix: run tests/run.sh as root"
)]
fn return_path_puts_each_recipients_token_in_the_envelope_sender() {
    require_postfix();
    let n = nonce();
    let emails: Vec<String> = (1..=3)
        .map(|i| format!("verp{n}x{i}@isomail.test"))
        .collect();
    let (_c, path) = postfix_campaign(
        &emails,
        "stages = [\"all\"]\nreturn_path = \"bounces+{token}@isomail.test\"\n",
        "",
    );
    let out = send(&path, &["--yes"]);
    out.assert_exit_code(0);
    let files = wait_for(&format!("verp{n}x"), 3);
    assert_eq!(files.len(), 3);
    for file in &files {
        // The envelope sender postfix saw carries the same token as the unsubscribe URL.
        let unsubscribe = header(file, "List-Unsubscribe").expect("List-Unsubscribe");
        let token = unsubscribe
            .trim_start_matches("<https://example.org/u/")
            .trim_end_matches('>');
        assert_eq!(token.len(), 22, "{unsubscribe}");
        assert_eq!(
            header(file, "Return-Path"),
            Some(format!("<bounces+{token}@isomail.test>").as_str()),
            "{file}"
        );
    }
    // Control: without return_path the envelope sender is the From address.
    let plain: Vec<String> = vec![format!("verp{n}plain@isomail.test")];
    let (_c2, path2) = postfix_campaign(&plain, "stages = [\"all\"]\n", "");
    let out = send(&path2, &["--yes"]);
    out.assert_exit_code(0);
    let files = wait_for(&format!("verp{n}plain"), 1);
    assert_eq!(
        header(&files[0], "Return-Path"),
        Some("<sender@example.org>")
    );
}

#[test]
fn return_path_is_checked_when_the_campaign_loads() {
    let cases = [
        (
            "return_path = \"bounces@example.org\"\n",
            true,
            "has no {token}",
        ),
        (
            "return_path = \"bounces {token}@@x\"\n",
            true,
            "not an email address",
        ),
        (
            "return_path = \"b+{token}@example.org\"\n",
            false,
            "needs a [tokens] section",
        ),
    ];
    for (line, with_tokens, needle) in cases {
        let mut campaign = CampaignDir::new();
        campaign.extra = format!("\n[delivery]\n{line}");
        if with_tokens {
            campaign
                .extra
                .push_str("\n[tokens]\nsecret_file = \"secret.txt\"\n");
        }
        let path = campaign.write();
        crate::util::write_secret(&campaign.dir.path().join("secret.txt"), SECRET);
        let out = isomail_path(&["check"], &path).about(line);
        let err = stderr(&out);
        out.assert_exit_code(2);
        assert!(
            err.contains("campaign.toml") && err.contains(needle),
            "{line}: {err}"
        );
        assert!(err.contains("return_path"), "{err}");
    }
    // Control: a good one with tokens loads.
    let mut campaign = CampaignDir::new();
    campaign.extra = "\n[delivery]\nreturn_path = \"b+{token}@example.org\"\n\n[tokens]\nsecret_file = \"secret.txt\"\n".into();
    let path = campaign.write();
    crate::util::write_secret(&campaign.dir.path().join("secret.txt"), SECRET);
    let out = isomail_path(&["check"], &path);
    out.assert_exit_code(0);
}

/// Every file of a Maildir (new/ and cur/) with its bytes: what must not change.
fn snapshot(maildir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all: Vec<(PathBuf, Vec<u8>)> = ["new", "cur", "tmp"]
        .iter()
        .filter_map(|d| std::fs::read_dir(maildir.join(d)).ok())
        .flatten()
        .filter_map(|e| {
            let p = e.ok()?.path();
            let bytes = std::fs::read(&p).ok()?;
            Some((p, bytes))
        })
        .collect();
    all.sort();
    all
}

/// (email, state, reply, reply_status) of every journal row.
fn states(campaign: &Path) -> Vec<(String, String, Option<String>, Option<String>)> {
    let journal = isomail::journal::Journal::open_existing(&isomail::journal::Journal::path_for(
        campaign, false,
    ))
    .expect("journal");
    journal
        .all_rows()
        .expect("rows")
        .into_iter()
        .map(|r| {
            (
                r.email,
                r.state.as_str().to_owned(),
                r.reply,
                r.reply_status,
            )
        })
        .collect()
}

fn state_of(campaign: &Path, email: &str) -> (String, Option<String>, Option<String>) {
    let (_, state, reply, status) = states(campaign)
        .into_iter()
        .find(|r| r.0 == email)
        .expect("row");
    (state, reply, status)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bounces/fixtures")
}

/// The fixtures' campaign, sent to its outbox: ann, bob, carol and dan all `sent`.
fn fixture_campaign(suppress: &str, suppress_body: &str) -> (CampaignDir, PathBuf) {
    let mut campaign = CampaignDir::new();
    campaign.csv = b"email,name\nann@example.com,Ann\nbob@example.com,Bob\ncarol@example.com,Carol\ndan@example.com,Dan\n".to_vec();
    campaign.extra = format!(
        "suppress = [\"{suppress}\"]\n\n[delivery]\nstages = [\"all\"]\nreturn_path = \"bounces+{{token}}@example.org\"\n\n[tokens]\nsecret_file = \"secret.txt\"\n"
    );
    let path = campaign.write();
    crate::util::write_secret(&campaign.dir.path().join("secret.txt"), SECRET);
    std::fs::write(campaign.dir.path().join(suppress), suppress_body).expect("suppress");
    let out = isomail_path(&["send", "--yes"], &path);
    out.assert_exit_code(0);
    (campaign, path)
}

/// A Maildir holding every fixture, some in new/, some in cur/ with flags.
fn fixture_maildir(root: &Path) -> PathBuf {
    let maildir = root.join("bounce-box");
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(d)).expect("mkdir");
    }
    let mut names: Vec<_> = std::fs::read_dir(fixtures())
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    names.sort();
    for (i, p) in names.iter().enumerate() {
        let target = if i % 2 == 0 {
            maildir.join(format!("new/1764460800.M{i}P1.host"))
        } else {
            maildir.join(format!("cur/1764460800.M{i}P1.host:2,S"))
        };
        std::fs::copy(p, target).expect("copy");
    }
    maildir
}

fn bounces(path: &Path, maildir: &Path) -> String {
    let out = isomail_path(
        &["bounces", "--maildir", maildir.to_str().expect("utf-8")],
        path,
    );
    out.assert_exit_code(0);
    stdout(&out)
}

#[test]
fn fixtures_hard_bounces_and_complaints_are_journaled_suppressed_and_counted_once() {
    let (campaign, path) =
        fixture_campaign("suppressed.txt", "# the operator's own\nold@example.com");
    let maildir = fixture_maildir(campaign.dir.path());
    let before = snapshot(&maildir);
    let first = bounces(&path, &maildir);
    // VERP is on: the token decides. Bob's DSN, the stranger's and the plain-text notice for
    // dan carry none, so they are unverified and move nobody.
    assert!(
        first.contains("7 new, 0 already read; 1 bounced, 1 soft bounces, 0 about the sender, 0 unclassified, \
                        1 complaints, 2 added to the suppress file, 3 unverified (no valid token: nobody moved), \
                        0 unreadable, 1 not for this campaign"),
        "{first}"
    );
    // ann: only the VERP address named her.
    let (state, reply, status) = state_of(&path, "ann@example.com");
    assert_eq!(
        (state.as_str(), status.as_deref()),
        ("bounced", Some("5.1.1"))
    );
    assert!(reply.is_some_and(|r| r.contains("unknown user")));
    // bob: Final-Recipient names him, but anyone could have written that.
    assert_eq!(state_of(&path, "bob@example.com").0, "sent");
    assert_eq!(state_of(&path, "carol@example.com").0, "complained");
    // dan: a delay (soft), and a text-only bounce without a token: still sent. Control for the
    // newsletter: its words would fool a text search.
    assert_eq!(state_of(&path, "dan@example.com").0, "sent");

    let list = std::fs::read_to_string(campaign.dir.path().join("suppressed.txt")).expect("list");
    assert!(
        list.starts_with("# the operator's own\nold@example.com\n"),
        "{list}"
    );
    for (email, why) in [
        ("ann@example.com", "# bounced 5.1.1 (unknown-user)"),
        ("carol@example.com", "# complained "),
    ] {
        assert_eq!(list.matches(&format!("\n{email}\n")).count(), 1, "{list}");
        assert!(list.contains(why), "{list}");
    }
    assert!(!list.contains("dan@") && !list.contains("bob@"), "{list}");
    assert_eq!(snapshot(&maildir), before, "the mailbox must not change");

    // Again: nothing new. The same report under another name (a copy) is not counted either.
    std::fs::copy(
        fixtures().join("dsn-verp-only.eml"),
        maildir.join("new/1764460900.Mcopy.host"),
    )
    .expect("copy");
    let second = bounces(&path, &maildir);
    assert!(
        second.contains(
            "1 new, 7 already read; 0 bounced, 0 soft bounces, 0 about the sender, 0 unclassified, \
                         0 complaints, 0 added"
        ),
        "{second}"
    );
    let again = std::fs::read_to_string(campaign.dir.path().join("suppressed.txt")).expect("list");
    assert_eq!(again, list);
    let status = crate::util::status_json(&path);
    assert_eq!(
        (status["bounced"].as_u64(), status["complained"].as_u64()),
        (Some(1), Some(1))
    );
    let unverified = status["unverified_reports"].as_array().expect("unverified");
    assert_eq!(unverified.len(), 3, "{status}");
    assert!(
        unverified.iter().any(|r| r["named"] == "B***@Example.com"),
        "bob's claim, masked: {status}"
    );
}

#[test]
fn without_verp_a_report_counts_for_the_listed_address_it_names_and_for_nobody_else() {
    let (campaign, path) = fixture_campaign("suppressed.txt", "");
    let toml = std::fs::read_to_string(&path).expect("toml");
    let toml = toml.replace("return_path = \"bounces+{token}@example.org\"\n", "");
    std::fs::write(&path, toml).expect("toml");
    let maildir = fixture_maildir(campaign.dir.path());
    let out = bounces(&path, &maildir);
    // bob by Final-Recipient (5.2.1, disabled: gone), carol by Original-Rcpt-To, dan by the
    // plain-text notice (550 5.1.1) after his delay; ann's report names her only through the
    // VERP address, which means nothing now, and the stranger is not on the list.
    assert_eq!(state_of(&path, "bob@example.com").0, "bounced", "{out}");
    assert_eq!(
        state_of(&path, "carol@example.com").0,
        "complained",
        "{out}"
    );
    assert_eq!(state_of(&path, "dan@example.com").0, "bounced", "{out}");
    assert_eq!(state_of(&path, "ann@example.com").0, "sent", "{out}");
    assert!(out.contains("0 unverified"), "{out}");
}

#[test]
fn a_csv_suppress_file_gets_rows_and_without_one_bounces_are_journaled_only() {
    let (campaign, path) = fixture_campaign("suppressed.csv", "name,email\nOld,old@example.com\n");
    let maildir = fixture_maildir(campaign.dir.path());
    let out = bounces(&path, &maildir);
    assert!(out.contains("1 bounced"), "{out}");
    let csv = std::fs::read_to_string(campaign.dir.path().join("suppressed.csv")).expect("csv");
    assert!(
        csv.starts_with("name,email\nOld,old@example.com\n"),
        "{csv}"
    );
    assert!(
        csv.contains("\n,ann@example.com\n") && csv.contains("\n,carol@example.com\n"),
        "{csv}"
    );
    // The next load reads the appended rows as suppressed addresses.
    let check = isomail_path(&["check"], &path);
    check.assert_exit_code(0);

    // Without a suppress file: said once, and still journaled.
    let (campaign, path) = fixture_campaign("unused.txt", "");
    let toml = std::fs::read_to_string(&path).expect("toml");
    std::fs::write(&path, toml.replace("suppress = [\"unused.txt\"]\n", "")).expect("toml");
    let maildir = fixture_maildir(campaign.dir.path());
    let out = isomail_path(
        &["bounces", "--maildir", maildir.to_str().expect("utf-8")],
        &path,
    );
    out.assert_exit_code(0);
    assert_eq!(
        stderr(&out).matches("has no suppress file").count(),
        1,
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains(
            "1 bounced, 1 soft bounces, 0 about the sender, 0 unclassified, 1 complaints, 0 added"
        ),
        "{}",
        stdout(&out)
    );
    assert_eq!(state_of(&path, "ann@example.com").0, "bounced");
    assert_eq!(
        std::fs::read_to_string(campaign.dir.path().join("unused.txt")).expect("f"),
        ""
    );
}

#[test]
#[cfg_attr(
    isomail_missing = "postfix",
    ignore = "needs the test postfix: run tests/run.sh as root"
)]
fn real_postfix_dsns_bounce_the_bad_addresses_and_leave_the_shared_mailbox_alone() {
    require_bouncing_postfix();
    let n = nonce();
    let good: Vec<String> = (1..=4).map(|i| format!("ok{n}x{i}@isomail.test")).collect();
    let bad: Vec<String> = (1..=3)
        .map(|i| format!("gone{n}x{i}@bounce.isomail.test"))
        .collect();
    let mut all: Vec<String> = good.iter().chain(&bad).cloned().collect();
    all.sort();
    let (campaign, path) = postfix_campaign(
        &all,
        "stages = [\"all\"]\nreturn_path = \"bounces+{token}@isomail.test\"\n",
        "",
    );
    let toml = std::fs::read_to_string(&path).expect("toml");
    std::fs::write(
        &path,
        toml.replace(
            "[recipients]\n",
            "[recipients]\nsuppress = [\"suppressed.txt\"]\n",
        ),
    )
    .expect("toml");
    std::fs::write(campaign.dir.path().join("suppressed.txt"), "").expect("suppress");
    let out = send(&path, &["--yes"]);
    out.assert_exit_code(0);
    // Postfix bounces asynchronously: wait for the three DSNs (they quote the recipient).
    let dsns = wait_for(&format!("gone{n}x"), 3);
    assert_eq!(dsns.len(), 3, "postfix made a DSN per bad address");
    assert!(
        dsns.iter()
            .all(|d| d.contains("report-type=delivery-status"))
    );
    let before = snapshot(Path::new(SHARED));
    let first = bounces(&path, Path::new(SHARED));
    assert!(first.contains("3 bounced"), "{first}");
    for email in &bad {
        let (state, reply, status) = state_of(&path, email);
        assert_eq!(
            (state.as_str(), status.as_deref()),
            ("bounced", Some("5.1.1")),
            "{email}"
        );
        assert!(reply.is_some(), "{email}: the diagnostic is kept");
    }
    for email in &good {
        assert_eq!(state_of(&path, email).0, "sent", "{email}");
    }
    let list = std::fs::read_to_string(campaign.dir.path().join("suppressed.txt")).expect("list");
    for email in &bad {
        assert!(list.contains(&format!("{email}\n")), "{list}");
    }
    assert_eq!(list.matches("# bounced 5.1.1 ").count(), 3, "{list}");
    // Other tests' mail in the same box is still there, byte for byte (new files may appear).
    let after = snapshot(Path::new(SHARED));
    for (file, bytes) in &before {
        assert!(
            after.iter().any(|(f, b)| f == file && b == bytes),
            "{} was changed or moved",
            file.display()
        );
    }
    let second = bounces(&path, Path::new(SHARED));
    assert!(
        second.contains(
            "0 bounced, 0 soft bounces, 0 about the sender, 0 unclassified, 0 complaints, 0 added"
        ),
        "{second}"
    );
    assert_eq!(
        std::fs::read_to_string(campaign.dir.path().join("suppressed.txt")).expect("list"),
        list
    );
}

/// A postfix campaign whose first stage (4 recipients) has 2 bouncing addresses, with the gate.
fn gated_campaign(n: u128, tag: &str, max: &str) -> (CampaignDir, PathBuf, Vec<String>) {
    let emails: Vec<String> = [
        format!("g{n}{tag}a@isomail.test"),
        format!("g{n}{tag}b@bounce.isomail.test"),
        format!("g{n}{tag}c@isomail.test"),
        format!("g{n}{tag}d@bounce.isomail.test"),
        format!("g{n}{tag}e@isomail.test"),
        format!("g{n}{tag}f@isomail.test"),
    ]
    .to_vec();
    let (campaign, path) = postfix_campaign(
        &emails,
        &format!(
            "stages = [4, \"all\"]\nmax_failure_rate = 1.0\nreturn_path = \"bounces+{{token}}@isomail.test\"\n{max}"
        ),
        &format!("\n[bounces]\nmaildir = \"{SHARED}\"\nwait_seconds = 6\n"),
    );
    (campaign, path, emails)
}

#[test]
#[cfg_attr(
    isomail_missing = "postfix",
    ignore = "needs the test postfix: run tests/run.sh as root"
)]
fn the_bounce_gate_halts_before_the_next_stage_when_a_stage_bounces_too_much() {
    require_bouncing_postfix();
    let n = nonce();
    let (_c, path, emails) = gated_campaign(n, "h", "");
    let started = Instant::now();
    let out = send(&path, &["--yes"]);
    crate::util::assert_halted(&out, "bounce gate: 2 of 4 messages of stage 1 hard-bounced");
    assert!(
        started.elapsed() >= Duration::from_secs(6),
        "it waited for bounces"
    );
    let status = crate::util::status_json(&path);
    assert_eq!(status["pending"], 2, "the next stage never started");
    assert_eq!(status["bounced"], 2);
    assert_eq!(status["stages"][0]["bounced"], 2);
    assert_eq!(status["stages"][0]["complaints"], 0);
    assert_eq!(state_of(&path, &emails[1]).0, "bounced");
    let text = stdout(&isomail_path(&["status"], &path));
    assert!(
        text.contains("bounces: 2 hard, 0 soft, 0 about the sender, 0 unclassified; 0 complaints")
            && text.contains("bounce.isomail.test: 2 unknown-user (hard)"),
        "{text}"
    );

    // Control: the same mix under a ceiling of 0.6 (2 of 4 is 0.5) goes on to the end.
    let (_c, path, _) = gated_campaign(n, "c", "max_bounce_rate = 0.6\n");
    let out = send(&path, &["--yes"]);
    out.assert_exit_code(0);
    let status = crate::util::status_json(&path);
    assert_eq!(status["pending"], 0);
    assert_eq!(status["stages"][0]["bounced"], 2);
}

#[test]
fn bounce_settings_are_checked_when_the_campaign_loads() {
    for (extra, needle) in [
        (
            "[delivery]\nmax_bounce_rate = 1.5\n",
            "[delivery] max_bounce_rate must be between 0 and 1",
        ),
        (
            "[bounces]\nwait_seconds = 10\n",
            "[bounces] wait_seconds needs a maildir",
        ),
        (
            "[bounces]\nmaildir = \"b\"\nwait_seconds = -1\n",
            "[bounces] wait_seconds must be between",
        ),
        (
            "[bounces]\nmax_sender_failure_rate = 2\n",
            "[bounces] max_sender_failure_rate must be between 0 and 1",
        ),
        (
            "[bounces]\nmax_complaint_rate = -0.1\n",
            "[bounces] max_complaint_rate must be between 0 and 1",
        ),
    ] {
        let mut campaign = CampaignDir::new();
        campaign.extra = format!("\n{extra}");
        let path = campaign.write();
        let out = isomail_path(&["check"], &path).about(extra);
        out.assert_exit_code(2);
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
    }
    // Control, and the command's own check: no mailbox named anywhere.
    let mut campaign = CampaignDir::new();
    campaign.extra = "\n[delivery]\nmax_bounce_rate = 0.1\n".into();
    let path = campaign.write();
    isomail_path(&["send", "--yes"], &path).assert_exit_code(0);
    let out = isomail_path(&["bounces"], &path);
    out.assert_exit_code(2);
    assert!(
        stderr(&out).contains("give --maildir or [bounces] maildir"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bounces_runs_while_a_send_holds_the_campaign_and_the_send_keeps_what_it_journaled() {
    let mut campaign = CampaignDir::new();
    let mut csv = String::from("email,name\n");
    for who in ["ann", "bob", "carol", "dan"] {
        csv.push_str(&format!("{who}@example.com,{who}\n"));
    }
    for i in 0..20 {
        csv.push_str(&format!("r{i}@list.test,R{i}\n"));
    }
    campaign.csv = csv.into_bytes();
    campaign.extra = "suppress = [\"suppressed.txt\"]\n\n[delivery]\nstages = [\"all\"]\nrate = 4\nconcurrency = 1\nreturn_path = \"bounces+{token}@example.org\"\n\n[tokens]\nsecret_file = \"secret.txt\"\n".into();
    let path = campaign.write();
    crate::util::write_secret(&campaign.dir.path().join("secret.txt"), SECRET);
    std::fs::write(campaign.dir.path().join("suppressed.txt"), "").expect("suppress");
    let maildir = fixture_maildir(campaign.dir.path());
    let sender = crate::util::isomail_command(&["send", "--yes"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .start();
    // Wait until the first four are sent (4 per second) but the send is far from done.
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let sent = isomail::journal::Journal::open_existing(&isomail::journal::Journal::path_for(
            &path, false,
        ))
        .and_then(|j| j.counts())
        .map_or(0, |c| c.sent);
        if sent >= 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let during = bounces(&path, &maildir);
    // The send was still running: a second one is refused by its lock.
    let second = isomail_path(&["send", "--yes"], &path);
    assert!(
        stderr(&second).contains("another `isomail send` is running"),
        "{}",
        stderr(&second)
    );
    assert!(during.contains("1 bounced"), "{during}");
    sender.finish().assert_success();
    // The send did not overwrite what bounces journaled, nor sent anyone twice.
    assert_eq!(state_of(&path, "ann@example.com").0, "bounced");
    assert_eq!(state_of(&path, "carol@example.com").0, "complained");
    let counts = crate::util::status_json(&path);
    assert_eq!(counts["sent"].as_u64(), Some(24 - 2));
}
