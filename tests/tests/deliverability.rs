//! Deliverability: suppression lists honoured before anything renders and again at every
//! stage boundary; per-recipient tokens and one-click unsubscribe.

use crate::util::{
    CampaignDir, TestCommand, isomail_command, isomail_path, journal_rows, status_json, stderr,
    stdout,
};

/// The recipients whose message is in the campaign's Maildir outbox.
fn delivered_to(campaign: &CampaignDir) -> Vec<String> {
    let outbox = campaign.dir.path().join("outbox/new");
    let mut to: Vec<String> = std::fs::read_dir(&outbox)
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter_map(|m| {
                    m.lines()
                        .find_map(|l| l.strip_prefix("To: ").map(str::to_owned))
                })
                .collect()
        })
        .unwrap_or_default();
    to.sort();
    to
}

/// Ten recipients `r1..r10@list.test` and a suppression file `suppressed.txt`.
fn suppressed_campaign(suppressed: &str, stages: &str) -> CampaignDir {
    let mut campaign = CampaignDir::new().numbered(10);
    campaign.extra =
        format!("suppress = [\"suppressed.txt\"]\n\n[delivery]\nstages = {stages}\nrate = 1000\n");
    campaign.write();
    std::fs::write(campaign.dir.path().join("suppressed.txt"), suppressed).expect("suppress");
    campaign
}

#[test]
fn suppressed_recipients_are_never_rendered_or_sent() {
    // Mixed case on both sides: the match is on the whole address, case-insensitively.
    let campaign = suppressed_campaign(
        "# unsubscribed\nR3@LIST.test\n\nr7@list.test\nr1@list.testing\n",
        "[\"all\"]",
    );
    let path = campaign.path();
    let out = isomail_path(&["check"], &path);
    out.assert_exit_code(0);
    assert!(
        stdout(&out).contains("8 rendered, 0 failed, 0 flagged by safety checks, 2 suppressed"),
        "{}",
        stdout(&out)
    );
    let out = isomail_path(&["send", "--yes"], &path);
    out.assert_exit_code(0);
    let delivered = delivered_to(&campaign);
    assert_eq!(delivered.len(), 8);
    assert!(
        !delivered
            .iter()
            .any(|t| t == "r3@list.test" || t == "r7@list.test")
    );
    // The journal says which file and line; status counts them.
    let rows = journal_rows(&path, false);
    let (_, _, state, _, _) = &rows[2];
    assert_eq!(state, "suppressed");
    let status = status_json(&path);
    assert_eq!(
        (status["sent"].as_u64(), status["suppressed"].as_u64()),
        (Some(8), Some(2))
    );
    let journal = isomail::journal::Journal::open_existing(&isomail::journal::Journal::path_for(
        &path, false,
    ))
    .expect("journal");
    let row = journal.row(3).expect("row").expect("exists");
    assert_eq!(
        row.reply.as_deref(),
        Some("suppressed by suppressed.txt line 2")
    );
    let text = isomail_path(&["status"], &path);
    assert!(
        stdout(&text).contains(", 2 suppressed"),
        "{}",
        stdout(&text)
    );
    // preview will not render a suppressed recipient either.
    let out = isomail_path(&["preview", "--to", "r3@list.test"], &path);
    out.assert_exit_code(2);
    assert!(
        stderr(&out).contains("suppressed by suppressed.txt line 2"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_address_suppressed_between_stages_is_honoured_in_the_next() {
    let campaign = suppressed_campaign("", "[2, \"all\"]");
    let path = campaign.path();
    let first = isomail_path(&["send"], &path);
    first.assert_exit_code(0);
    assert_eq!(delivered_to(&campaign).len(), 2);
    // r5 unsubscribes while the operator looks at stage 1. A grown suppression file is not a
    // changed campaign: no --allow-changed needed.
    std::fs::write(campaign.dir.path().join("suppressed.txt"), "r5@List.Test\n").expect("grow");
    let rest = isomail_path(&["send", "--yes"], &path);
    rest.assert_exit_code(0);
    assert!(stderr(&rest).contains("1 pending recipient(s) are now on a suppression list"));
    let delivered = delivered_to(&campaign);
    assert_eq!(delivered.len(), 9);
    assert!(
        !delivered.iter().any(|t| t == "r5@list.test"),
        "{delivered:?}"
    );
    assert_eq!(status_json(&path)["suppressed"], 1);

    // Control: without the suppression, the same two-stage send reaches all ten.
    let control = suppressed_campaign("", "[2, \"all\"]");
    let out = isomail_path(&["send", "--yes"], &control.path());
    out.assert_exit_code(0);
    assert_eq!(delivered_to(&control).len(), 10);
}

#[test]
fn a_bad_suppression_file_is_refused_naming_file_and_line() {
    let campaign = suppressed_campaign("r1@list.test\nnot-an-address\n", "[\"all\"]");
    let out = isomail_path(&["check"], &campaign.path());
    out.assert_exit_code(2);
    assert!(
        stderr(&out).contains("suppressed.txt: line 2"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(campaign.dir.path().join("suppressed.txt")).expect("rm");
    let out = isomail_path(&["check"], &campaign.path());
    out.assert_exit_code(2);
    assert!(
        stderr(&out).contains("suppressed.txt: the suppression file cannot be read"),
        "{}",
        stderr(&out)
    );
}

const SECRET: &str = "a-test-secret-of-some-length";

/// The token as the operator's web endpoint computes it, without isomail (Python's hmac).
fn python_token(email: &str) -> String {
    let script = format!(
        "import hmac,hashlib,base64; print(base64.urlsafe_b64encode(hmac.new(b'{SECRET}', \
         '{email}'.lower().encode(), hashlib.sha256).digest()[:16]).rstrip(b'=').decode())"
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .run();
    out.assert_success();
    stdout(&out).trim().to_owned()
}

fn unsubscribe_campaign(text: &str, url: &str) -> CampaignDir {
    let mut campaign = CampaignDir::new().numbered(3);
    campaign.text = text.into();
    campaign.extra = format!(
        "\n[tokens]\nsecret_file = \"secret.txt\"\n\n[unsubscribe]\nurl = \"{url}\"\nmailto = \"unsub+{{token}}@example.org\"\n"
    );
    campaign.write();
    crate::util::write_secret(
        &campaign.dir.path().join("secret.txt"),
        format!("{SECRET}\n"),
    );
    campaign
}

#[test]
fn the_renderer_gets_each_recipients_own_unsubscribe_url() {
    let campaign = unsubscribe_campaign(
        "Hello {{ name }}, leave: {{ unsubscribe_url }}\n",
        "https://example.org/u/{token}",
    );
    let out = isomail_path(&["preview", "--index", "2"], &campaign.path());
    out.assert_exit_code(0);
    let message = stdout(&out);
    let own = python_token("R2@list.test");
    assert!(
        message.contains(&format!("leave: https://example.org/u/{own}")),
        "{message}"
    );
    // The host adds the same target to the headers, one-click (RFC 8058). (preview prints
    // CRLF as it is when piped.)
    let headers = format!(
        "List-Unsubscribe: <https://example.org/u/{own}>,\r\n <mailto:unsub+{own}@example.org>\r\n\
         List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    );
    assert!(message.contains(&headers), "{message}");
    // Control: the token differs per recipient, so a message carries only its own.
    assert!(
        !message.contains(&python_token("r1@list.test")),
        "{message}"
    );
}

#[test]
fn another_recipients_token_in_a_message_is_a_leak() {
    let stolen = python_token("r2@list.test");
    let campaign = unsubscribe_campaign(
        &format!("Hello {{{{ name }}}}, see https://example.org/u/{stolen}\n"),
        "https://example.org/u/{token}",
    );
    let out = isomail_path(&["check"], &campaign.path());
    out.assert_exit_code(3);
    let err = stderr(&out);
    assert!(
        err.contains("`unsubscribe token` value of recipient #2"),
        "{err}"
    );
    // r2's own message carries its own token: only the other two are flagged.
    assert!(
        stdout(&out).contains("2 flagged by safety checks"),
        "{}",
        stdout(&out)
    );
    assert!(
        !err.contains(&stolen),
        "the token itself is never printed: {err}"
    );
}

#[test]
fn unsubscribe_and_token_settings_are_checked() {
    for (url, why) in [
        ("http://example.org/u/{token}", "must be an https:// URL"),
        ("https://example.org/u/", "has no {token}"),
        ("https://EXAMPLE.org/u/{token}", "normal form"),
    ] {
        let campaign = unsubscribe_campaign("x\n", url);
        let out = isomail_path(&["check"], &campaign.path());
        out.assert_exit_code(2);
        let err = stderr(&out);
        assert!(err.contains("campaign.toml: [unsubscribe] url"), "{err}");
        assert!(err.contains(why), "{err}");
    }
    // A secret from the environment that is not set; one that is too short.
    let mut campaign = CampaignDir::new();
    campaign.extra = "\n[tokens]\nsecret_env = \"ISOMAIL_TEST_NO_SUCH_SECRET\"\n".into();
    let out = isomail_command(&["check"])
        .arg(campaign.write())
        .env_remove("ISOMAIL_TEST_NO_SUCH_SECRET")
        .run();
    out.assert_exit_code(2);
    assert!(
        stderr(&out).contains("[tokens] secret_env"),
        "{}",
        stderr(&out)
    );
    let out = isomail_command(&["check"])
        .arg(campaign.path())
        .env("ISOMAIL_TEST_NO_SUCH_SECRET", "short")
        .run();
    out.assert_exit_code(2);
    assert!(
        stderr(&out).contains("at least 16 bytes"),
        "{}",
        stderr(&out)
    );
    // [unsubscribe] without [tokens].
    let mut campaign = CampaignDir::new();
    campaign.extra = "\n[unsubscribe]\nurl = \"https://x.org/{token}\"\n".into();
    let out = isomail_path(&["check"], &campaign.write());
    out.assert_exit_code(2);
    assert!(
        stderr(&out).contains("needs a [tokens] section"),
        "{}",
        stderr(&out)
    );
}
