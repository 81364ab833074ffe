//! `isomail bounces` throughput: one reading of a Maildir of 10,000 mixed messages (hard-bounce
//! DSNs, delay DSNs, ARF complaints and unrelated mail), against a baseline measured in the same
//! run: only listing, reading and hashing the same files. A second reading (everything already
//! journaled) shows what running it often costs.
//!
//! `cargo bench --bench bounces [-- N]` (N messages, default 10000; a tenth of them recipients'
//! ARF reports, a tenth delays, a tenth Exim's plain-text notices of a block of our IP, four
//! tenths hard-bounce DSNs, three tenths unrelated).

use std::path::Path;
use std::time::Instant;

use isomail::campaign::{Campaign, Tokens};
use isomail::journal::{Journal, PreflightRow, State};
use sha2::{Digest, Sha256};

const SECRET: &str = "a-bench-secret-of-enough-length";

fn dsn(to: &str, rcpt: &str, action: &str, status: &str, i: usize) -> String {
    format!(
        "Return-Path: <>\nDelivered-To: {to}\nFrom: MAILER-DAEMON@mx.example.net\nTo: {to}\n\
         Subject: Undelivered Mail Returned to Sender\nMessage-ID: <dsn{i}@mx.example.net>\n\
         MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b{i}\"\n\n\
         --b{i}\nContent-Type: text/plain\n\nThis is the mail system at host mx.example.net.\n\n\
         --b{i}\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n\
         Final-Recipient: rfc822; {rcpt}\nAction: {action}\nStatus: {status}\n\
         Diagnostic-Code: smtp; 550 {status} user unknown\n\n\
         --b{i}\nContent-Type: text/rfc822-headers\n\nFrom: news@example.org\nTo: {rcpt}\nSubject: News\n\n--b{i}--\n"
    )
}

fn arf(verp: &str, rcpt: &str, i: usize) -> String {
    format!(
        "From: abuse@isp.example.net\nTo: abuse@example.org\nSubject: complaint\n\
         MIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"f{i}\"\n\n\
         --f{i}\nContent-Type: text/plain\n\nAn abuse report.\n\n\
         --f{i}\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\n\
         Original-Rcpt-To: <{rcpt}>\nOriginal-Mail-From: <{verp}>\n\n\
         --f{i}\nContent-Type: message/rfc822\n\nFrom: news@example.org\nTo: {rcpt}\n\
         Subject: News\n\nHello.\n\n--f{i}--\n"
    )
}

/// Exim's plain-text notice (no delivery-status part).
fn exim(verp: &str, rcpt: &str, i: usize) -> String {
    format!(
        "Return-Path: <>\nDelivered-To: {verp}\nFrom: Mail Delivery System <Mailer-Daemon@mx{i}.example.net>\n\
         To: {verp}\nSubject: Mail delivery failed: returning message to sender\n\
         Message-Id: <E1v{i}-000Ab1-2C@mx.example.net>\nAuto-Submitted: auto-replied\n\n\
         This message was created automatically by mail delivery software.\n\n\
         A message that you sent could not be delivered to one or more of its\n\
         recipients. This is a permanent error. The following address(es) failed:\n\n  {rcpt}\n\
         \x20   host mx.example.net [203.0.113.9]\n\
         \x20   SMTP error from remote mail server after RCPT TO:<{rcpt}>:\n\
         \x20   550 5.7.1 Service unavailable; client [192.0.2.10] blocked using zen.spamhaus.org\n\n\
         ------ This is a copy of the message, including all the headers. ------\n\n\
         From: news@example.org\nTo: {rcpt}\nSubject: News\n\nHello.\n"
    )
}

fn unrelated(i: usize) -> String {
    format!(
        "From: someone{i}@example.net\nTo: bounces@example.org\nSubject: Re: your newsletter {i}\n\
         Content-Type: text/plain\n\nThanks, but please write to me at home.\n{}\n",
        "Lorem ipsum dolor sit amet. ".repeat(20)
    )
}

/// The campaign (recipients r{i}@list.test, all journaled `sent`) and the mailbox.
fn setup(dir: &Path, n: usize) -> (Campaign, Journal) {
    let recipients = n / 2;
    std::fs::create_dir_all(dir.join("templates")).expect("mkdir");
    std::fs::write(dir.join("templates/body.txt"), "Hello {{ email }}\n").expect("text");
    std::fs::write(dir.join("secret.txt"), SECRET).expect("secret");
    {
        use std::os::unix::fs::PermissionsExt;
        // A secret must be private (mode 0600), or the campaign is refused.
        std::fs::set_permissions(
            dir.join("secret.txt"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("chmod secret");
    }
    std::fs::write(dir.join("suppressed.txt"), "").expect("suppress");
    let mut csv = String::from("email\n");
    for i in 0..recipients {
        csv.push_str(&format!("r{i}@list.test\n"));
    }
    std::fs::write(dir.join("recipients.csv"), csv).expect("csv");
    std::fs::write(
        dir.join("campaign.toml"),
        "[message]\nfrom = \"news@example.org\"\nsubject = \"News\"\ntext = \"templates/body.txt\"\n\n\
         [recipients]\npath = \"recipients.csv\"\nsuppress = [\"suppressed.txt\"]\n\n\
         [delivery]\nreturn_path = \"bounces+{token}@example.org\"\n\n[tokens]\nsecret_file = \"secret.txt\"\n",
    )
    .expect("toml");
    let campaign = Campaign::load(&dir.join("campaign.toml")).expect("campaign");
    let mut journal = Journal::open(&dir.join("j.sqlite")).expect("journal");
    let rows: Vec<PreflightRow> = (0..recipients)
        .map(|i| PreflightRow {
            index: i + 1,
            email: format!("r{i}@list.test"),
            hash: String::new(),
            message_id: String::new(),
            data: String::new(),
        })
        .collect();
    journal.insert_preflight(&rows).expect("rows");
    for i in 1..=recipients {
        journal.set_state(i, State::Sent, None).expect("sent");
    }
    let tokens = Tokens::from_secret(SECRET.as_bytes());
    let maildir = dir.join("Maildir");
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(d)).expect("mkdir");
    }
    for i in 0..n {
        let rcpt = format!("r{}@list.test", i % recipients);
        let verp = format!("bounces+{}@example.org", tokens.token(&rcpt));
        let text = match i % 10 {
            0..=3 => dsn(&verp, &rcpt, "failed", "5.1.1", i),
            4 => dsn(&verp, &rcpt, "delayed", "4.4.1", i),
            5 => arf(&verp, &rcpt, i),
            6 => exim(&verp, &rcpt, i),
            _ => unrelated(i),
        };
        std::fs::write(
            maildir.join(format!("new/17644608{i:02}.M{i}P1.bench")),
            text,
        )
        .expect("mail");
    }
    (campaign, journal)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("dir");
    let (campaign, mut journal) = setup(dir.path(), n);
    let maildir = dir.path().join("Maildir");

    // Baseline: list, read and hash every file, nothing else.
    let started = Instant::now();
    let mut bytes = 0;
    for entry in std::fs::read_dir(maildir.join("new")).expect("list") {
        let data = std::fs::read(entry.expect("entry").path()).expect("read");
        bytes += data.len();
        std::hint::black_box(Sha256::digest(&data));
    }
    let baseline = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let tally = isomail::bounces::process(&campaign, &mut journal, &maildir).expect("process");
    let first = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let again = isomail::bounces::process(&campaign, &mut journal, &maildir).expect("again");
    let second = started.elapsed().as_secs_f64();

    println!("{n} messages, {} MB: {tally:?}", bytes / 1_000_000);
    println!(
        "first reading:  {first:.3} s = {:.0} messages/s; baseline (list, read, hash only) {baseline:.3} s = {:.0}/s; \
         ratio {:.1}x",
        n as f64 / first,
        n as f64 / baseline,
        first / baseline
    );
    println!(
        "second reading (all already journaled): {second:.3} s = {:.0} messages/s; {} new",
        n as f64 / second,
        again.read
    );
}
