//! Bounces and complaints: VERP return paths, `isomail bounces` reading real DSNs made by the
//! test postfix and hand-written ARF and non-standard reports, and the bounce gate. The shared
//! test Maildir holds other tests' mail too: what is not ours must be left exactly as it is.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::postfix::{CERT, require_postfix};
use crate::util::{CampaignDir, isomail_path, journal_rows, stderr, stdout};

const SECRET: &str = "a-bounce-test-secret-of-length";
const SHARED: &str = "/var/tmp/isomail-postfix/Maildir";

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
    std::fs::write(campaign.dir.path().join("secret.txt"), SECRET).expect("secret");
    (campaign, path)
}

fn send(path: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["send"];
    all.extend_from_slice(args);
    all.push(path.to_str().expect("utf-8"));
    crate::util::isomail_command(&all)
        .env("ISOMAIL_TEST_SMTP_PASSWORD", "isomail-test-password")
        .output()
        .expect("send")
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
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
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
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
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
        std::fs::write(campaign.dir.path().join("secret.txt"), SECRET).expect("secret");
        let out = isomail_path(&["check"], &path);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{line}: {err}");
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
    std::fs::write(campaign.dir.path().join("secret.txt"), SECRET).expect("secret");
    let out = isomail_path(&["check"], &path);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let _ = (stdout(&out), journal_rows);
}
