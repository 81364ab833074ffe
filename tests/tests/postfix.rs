//! A real MTA: the private postfix instance on 127.0.0.1:2587 that tests/run.sh starts as root
//! (tests/smtp/postfix.sh), with STARTTLS and AUTH required, delivering into a Maildir these tests
//! read back. Where tests/run.sh could not start it they are ignored; without it they fail.

use std::time::{Duration, Instant};

use crate::util::{
    CERT, CampaignDir, MAILDIR, TestCommand, assert_halted, isomail_command, isomail_path,
    journal_rows, require_postfix, status_json, stderr,
};

#[test]
#[cfg_attr(
    isomail_missing = "postfix",
    ignore = "needs the test postfix: run tests/run.sh as root"
)]
fn postfix_receives_every_recipient_exactly_once_over_starttls_and_auth() {
    require_postfix();
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let emails: Vec<String> = (1..=25)
        .map(|i| format!("pf{nonce}x{i}@isomail.test"))
        .collect();
    let mut campaign = CampaignDir::new();
    campaign.subject = "Hello {{ name }}".into();
    campaign.html = Some("<p>Hello {{ name }}</p>".into());
    let mut csv = String::from("email,name\n");
    for (i, e) in emails.iter().enumerate() {
        csv.push_str(&format!("{e},Zoë {i}\n"));
    }
    campaign.csv = csv.into_bytes();
    campaign.extra = format!(
        "\n[delivery]\nsmtp = \"smtp://isomail@127.0.0.1:2587\"\npassword_env = \"ISOMAIL_TEST_SMTP_PASSWORD\"\nca_file = \"{CERT}\"\nstages = [1, \"all\"]\n"
    );
    let path = campaign.write();
    let send = |args: &[&str]| {
        let mut all = vec!["send"];
        all.extend_from_slice(args);
        all.push(path.to_str().expect("utf-8"));
        isomail_command(&all)
            .env("ISOMAIL_TEST_SMTP_PASSWORD", "isomail-test-password")
            .run()
    };
    let first = send(&[]);
    first.assert_exit_code(0);
    let rest = send(&["--yes"]);
    rest.assert_exit_code(0);
    assert_eq!(status_json(&path)["sent"], 25);

    // Postfix delivers asynchronously: wait for all 25 (bounded).
    let ours = |text: &str| text.contains(&format!("pf{nonce}x"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let files = loop {
        let files: Vec<String> = std::fs::read_dir(MAILDIR)
            .expect("maildir")
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .filter(|t| ours(t))
            .collect();
        if files.len() >= 25 || Instant::now() > deadline {
            break files;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(files.len(), 25, "every recipient exactly once");
    let rows = journal_rows(&path, false);
    for (index, email, state, hash, _) in &rows {
        assert_eq!(state, "sent");
        let delivered: Vec<&String> = files
            .iter()
            .filter(|f| f.contains(&format!("Delivered-To: {email}")))
            .collect();
        assert_eq!(delivered.len(), 1, "#{index} {email}");
        // Postfix prepends its trace headers and stores LF line ends; what follows them is ours.
        let ours_start = delivered[0].find("From: ").expect("our headers");
        let body = delivered[0][ours_start..].replace('\n', "\r\n");
        assert_eq!(
            &isomail::message::content_hash(body.as_bytes()),
            hash,
            "#{index}: postfix got other bytes than preflight checked"
        );
    }
    let first_file = &files[0];
    assert!(
        first_file.contains("Subject: Hello =?utf-8?"),
        "{first_file}"
    );
    assert!(first_file.contains("multipart/alternative"), "{first_file}");
}

#[test]
#[cfg_attr(
    isomail_missing = "postfix",
    ignore = "needs the test postfix: run tests/run.sh as root"
)]
fn postfix_refusing_the_password_from_password_file_halts_with_everyone_pending() {
    require_postfix();
    let mut campaign = CampaignDir::new();
    campaign.csv = b"email,name\nnobody1@isomail.test,A\nnobody2@isomail.test,B\n".to_vec();
    campaign.extra = format!(
        "\n[delivery]\nsmtp = \"smtp://isomail@127.0.0.1:2587\"\npassword_file = \"secret.txt\"\nca_file = \"{CERT}\"\nstages = [\"all\"]\n"
    );
    let path = campaign.write();
    std::fs::write(campaign.dir.path().join("secret.txt"), "not-the-password\n").expect("secret");
    let out = isomail_path(&["send", "--yes"], &path);
    assert_halted(&out, "authentication failed");
    let err = stderr(&out);
    assert!(
        !err.contains("not-the-password"),
        "the password must never be printed: {err}"
    );
    assert_eq!(status_json(&path)["pending"], 2);

    // Control: the right password from the same file sends both.
    std::fs::write(
        campaign.dir.path().join("secret.txt"),
        "isomail-test-password\n",
    )
    .expect("secret");
    let out = isomail_path(&["send", "--yes"], &path);
    out.assert_exit_code(0);
    assert_eq!(status_json(&path)["sent"], 2);
}

#[test]
#[cfg_attr(
    isomail_missing = "postfix",
    ignore = "needs the test postfix: run tests/run.sh as root"
)]
fn a_refused_login_is_final_and_a_percent_encoded_user_name_is_decoded() {
    require_postfix();
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut campaign = CampaignDir::new();
    let rows: String = (1..=20)
        .map(|i| format!("enc{nonce}x{i}@isomail.test,P{i}\n"))
        .collect();
    campaign.csv = format!("email,name\n{rows}").into_bytes();
    // RFC 3986 userinfo is percent-encoded: the relay must see `isomail@isomail.test` (the
    // SASL user `isomail` of realm `isomail.test`), not `isomail%40isomail.test`.
    campaign.extra = format!(
        "\n[delivery]\nsmtp = \"smtp://isomail%40isomail.test@127.0.0.1:2587\"\npassword_file = \"secret.txt\"\nca_file = \"{CERT}\"\nstages = [\"all\"]\nconcurrency = 4\n"
    );
    let path = campaign.write();
    let secret = campaign.dir.path().join("secret.txt");
    std::fs::write(&secret, "not-the-password\n").expect("secret");
    // A 535 is final: no reconnect backoff (that took about 75 s for a list like this).
    let started = Instant::now();
    let out = isomail_path(&["send", "--yes"], &path);
    assert_halted(&out, "authentication failed");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "a refused login took {:?} to halt",
        started.elapsed()
    );
    assert_eq!(status_json(&path)["pending"], 20);
    // Control: the right password under the same encoded user name sends everyone.
    std::fs::write(&secret, "isomail-test-password\n").expect("secret");
    let out = isomail_path(&["send", "--yes"], &path);
    out.assert_exit_code(0);
    assert_eq!(status_json(&path)["sent"], 20);
}
