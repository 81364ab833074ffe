//! International addresses end to end (issue 21 §3): which forms a list may hold (refused ones
//! stop the run at load naming line and column, and nothing is sent), how the others go out (an
//! IDN domain as its A-labels, to any relay; a UTF-8 local part with SMTPUTF8, or not at all and
//! the recipient failed saying why), and one person per address however it is spelled (NFC or
//! NFD, any case, Unicode or A-label domain) in duplicates, suppression and tokens.

use std::collections::HashMap;

use crate::util::{
    CampaignDir, FaultySmtp, campaign_with, isomail_path, journal_rows, refused, stderr,
    write_secret,
};

/// "jörg" decomposed: o + U+0308 COMBINING DIAERESIS, as some editors and forms save it.
const JORG_NFD: &str = "jo\u{308}rg";
/// "bücher" decomposed.
const BUCHER_NFD: &str = "bu\u{308}cher";
/// The fixtures' secret (tests/bounces/fixtures/README.md); the tokens below are Python's.
const SECRET: &str = "a-bounce-test-secret-of-length";

/// A campaign for `emails` through the faulty server on `port`, every permanent failure allowed
/// (so one refused recipient does not halt the others at the gate), with VERP tokens.
fn smtp_campaign(emails: &[&str], port: u16) -> CampaignDir {
    let mut campaign = campaign_with(
        emails,
        &format!(
            "smtp = \"smtp://127.0.0.1:{port}\"\ntls = \"none\"\nstages = [\"all\"]\n\
             max_failure_rate = 1.0\nrate = 1000\nreturn_path = \"bounces+{{token}}@example.org\"\n\n\
             [tokens]\nsecret_file = \"secret.txt\""
        ),
    );
    campaign.subject = "Grüße, {{ name }}".into();
    campaign
}

/// What one send through a faulty server with or without SMTPUTF8 did: the server's log lines
/// by recipient, and the journal's (email, state, hash, reply) by email as the list wrote it.
struct Sent {
    log: HashMap<String, serde_json::Value>,
    rows: HashMap<String, (String, String, Option<String>)>,
}

fn send_through(smtputf8: bool, emails: &[&str]) -> Sent {
    let dir = tempfile::tempdir().expect("tmp");
    let flags: &[&str] = if smtputf8 { &[] } else { &["--no-smtputf8"] };
    let server = FaultySmtp::start_with(dir.path(), 1.0, flags);
    let campaign = smtp_campaign(emails, server.port);
    let path = campaign.write();
    write_secret(&campaign.dir.path().join("secret.txt"), SECRET);
    isomail_path(&["send", "--yes"], &path).assert_exit_code(0);
    let log = server
        .log_lines()
        .into_iter()
        .map(|l| (l["rcpt"].as_str().expect("rcpt").to_owned(), l))
        .collect();
    let rows = journal_rows(&path, false)
        .into_iter()
        .map(|(_, email, state, hash, reply)| (email, (state, hash, reply)))
        .collect();
    Sent { log, rows }
}

fn options(line: &serde_json::Value) -> Vec<&str> {
    line["mail_options"]
        .as_array()
        .expect("mail_options")
        .iter()
        .filter_map(|o| o.as_str())
        .collect()
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn an_idn_domain_goes_out_as_its_a_labels_with_or_without_smtputf8() {
    let nfd = format!("ok2@{BUCHER_NFD}.example");
    let emails = ["ok@bücher.example", nfd.as_str(), "Ok@Example.com"];
    // A-labels were chosen for every relay: the bytes are journaled before a relay is picked,
    // and an ASCII local part then needs no extension anywhere on the way.
    for smtputf8 in [false, true] {
        let sent = send_through(smtputf8, &emails);
        for (written, rcpt) in [
            (emails[0], "ok@xn--bcher-kva.example"),
            (emails[1], "ok2@xn--bcher-kva.example"),
            // Control: an ASCII address goes exactly as the list wrote it.
            (emails[2], "Ok@Example.com"),
        ] {
            let line = sent
                .log
                .get(rcpt)
                .unwrap_or_else(|| panic!("smtputf8 {smtputf8}: {rcpt} not in {:?}", sent.log));
            assert_eq!(line["to"], rcpt, "the To: header says what RCPT TO said");
            assert!(!options(line).contains(&"SMTPUTF8"), "{line}");
            // The journal keeps the list's spelling, and the server got the journaled bytes.
            let (state, hash, _) = &sent.rows[written];
            assert_eq!(
                (state.as_str(), &line["sha256"]),
                ("sent", &serde_json::json!(hash))
            );
        }
        assert_eq!(sent.log.len(), 3, "{:?}", sent.log);
    }
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn a_utf8_local_part_goes_with_smtputf8_and_fails_clearly_without_it() {
    let jorg = format!("ok-{JORG_NFD}@{BUCHER_NFD}.example");
    let emails = [jorg.as_str(), "ok-ann@example.org", "ok-bob@example.org"];
    let wire = "ok-jörg@xn--bcher-kva.example";

    let sent = send_through(true, &emails);
    let line = sent
        .log
        .get(wire)
        .unwrap_or_else(|| panic!("{:?}", sent.log));
    assert_eq!(
        line["to"], wire,
        "NFC local part, A-label domain, in UTF-8 (RFC 6532)"
    );
    assert_eq!(options(line), ["SMTPUTF8", "BODY=8BITMIME"]);
    assert_eq!(sent.rows[&jorg].0, "sent");
    assert_eq!(line["sha256"], serde_json::json!(sent.rows[&jorg].1));
    // The token is over the normalised address (Python's hmac over the NFC, A-label form); the
    // HMAC over the NFD bytes, 12ddG0SsK9gHlInwLYVPlw, would be another person's.
    assert_eq!(
        line["mail_from"],
        "bounces+w5BVrF1v72DQ2hR6JQGO0g@example.org"
    );
    // Control: the parameter is the UTF-8 address's alone; ASCII ones go as always.
    let ann = &sent.log["ok-ann@example.org"];
    assert!(options(ann).is_empty(), "{ann}");
    assert_eq!(
        ann["mail_from"],
        "bounces+7xsJmCNbyidHPoGYGpkIvQ@example.org"
    );

    let refused = send_through(false, &emails);
    let (state, _, reply) = &refused.rows[&jorg];
    assert_eq!(state, "failed");
    let reply = reply.as_deref().unwrap_or_default();
    assert!(
        reply.contains("UTF-8 local part") && reply.contains("does not offer SMTPUTF8"),
        "{reply}"
    );
    // Nothing of it reached the server, and the rest of the campaign was sent.
    let mut arrived: Vec<&str> = refused.log.keys().map(String::as_str).collect();
    arrived.sort();
    assert_eq!(arrived, ["ok-ann@example.org", "ok-bob@example.org"]);
    assert_eq!(refused.rows["ok-bob@example.org"].0, "sent");
}

/// A campaign whose list is `rows` (a header `email,name` is added).
fn with_list(rows: &str) -> CampaignDir {
    let mut campaign = CampaignDir::new();
    campaign.csv = format!("email,name\n{rows}").into_bytes();
    campaign.extra = "\n[delivery]\nstages = [\"all\"]\n".into();
    campaign
}

/// `send --yes` into the Maildir outbox: exit 2, and no message anywhere.
#[track_caller]
fn sends_nothing(campaign: &CampaignDir) {
    let out = isomail_path(&["send", "--yes"], &campaign.write());
    out.assert_exit_code(2);
    let outbox = campaign.dir.path().join("outbox/new");
    let count = std::fs::read_dir(&outbox).map_or(0, |d| d.count());
    assert_eq!(count, 0, "sent for a refused list: {}", stderr(&out));
}

#[test]
fn every_spelling_of_one_address_is_one_duplicate_at_load() {
    for (first, second) in [
        ("jörg@example.org", format!("{JORG_NFD}@example.org")),
        ("jörg@example.org", "JÖRG@example.org".to_owned()),
        ("u@bücher.example", "u@xn--bcher-kva.example".to_owned()),
        ("u@bücher.example", format!("u@{BUCHER_NFD}.example")),
    ] {
        let campaign = with_list(&format!("ann@example.com,Ann\n{first},A\n{second},B\n"));
        let err = refused(
            &campaign,
            &["recipients.csv", "line 4", "`email`", "already on line 3"],
        );
        assert!(err.contains("Unicode normalisation"), "{err}");
        sends_nothing(&campaign);
    }
    // Control: addresses that only look alike to a reader are different people.
    let campaign = with_list(
        "jörg@example.org,A\njorg@example.org,B\nu@bücher.example,C\nu@bucher.example,D\n",
    );
    let out = isomail_path(&["send", "--yes"], &campaign.write());
    out.assert_exit_code(0);
    let outbox = campaign.dir.path().join("outbox/new");
    assert_eq!(std::fs::read_dir(outbox).expect("outbox").count(), 4);
}

#[test]
fn forms_isomail_will_not_send_are_refused_at_load_naming_line_and_column() {
    for (value, why) in [
        ("john@[127.0.0.1]", "address literal"),
        ("john@[IPv6:::1]", "address literal"),
        ("\"\"\"john doe\"\"@example.org\"", "quoted local part"),
        ("\"\"\"john\"\"@example.org\"", "quoted local part"),
        ("john@127.0.0.1", "IP address"),
        // A bad punycode label, a code point IDNA disallows, a bidi label that breaks its rule.
        ("u@xn--a.example", "IDNA"),
        ("u@a\u{FFFD}b.example", "IDNA"),
        ("u@1\u{5d0}.example", "IDNA"),
        ("jo\u{202E}rg@example.org", "U+202E"),
    ] {
        let campaign = with_list(&format!("ann@example.com,Ann\n{value},John\n"));
        refused(&campaign, &["recipients.csv", "line 3", "`email`", why]);
        sends_nothing(&campaign);
    }
    // Control: the same list with an address isomail sends to is sent, all of it.
    let campaign = with_list("ann@example.com,Ann\njohn@example.org,John\n");
    isomail_path(&["send", "--yes"], &campaign.write()).assert_exit_code(0);
    let outbox = campaign.dir.path().join("outbox/new");
    assert_eq!(std::fs::read_dir(outbox).expect("outbox").count(), 2);
}

#[test]
fn a_suppress_entry_matches_the_same_address_however_spelled() {
    let mut campaign = with_list(
        "jörg@example.org,A\nu@bücher.example,B\nann@example.com,C\njorg@example.org,D\n",
    );
    campaign.extra = format!("suppress = [\"suppressed.txt\"]\n{}", campaign.extra);
    let path = campaign.write();
    std::fs::write(
        campaign.dir.path().join("suppressed.txt"),
        format!("{JORG_NFD}@example.org\nU@XN--BCHER-KVA.example\n"),
    )
    .expect("suppress");
    isomail_path(&["send", "--yes"], &path).assert_exit_code(0);
    let states: HashMap<String, String> = journal_rows(&path, false)
        .into_iter()
        .map(|r| (r.1, r.2))
        .collect();
    assert_eq!(states["jörg@example.org"], "suppressed");
    assert_eq!(states["u@bücher.example"], "suppressed");
    // Controls: another address, and one that differs by a diaeresis, are sent.
    assert_eq!(states["ann@example.com"], "sent");
    assert_eq!(states["jorg@example.org"], "sent");
}

#[test]
fn render_and_the_outbox_hold_the_bytes_a_relay_would_get() {
    let campaign = with_list(&format!(
        "{JORG_NFD}@bücher.example,A\nu@bücher.example,B\n"
    ));
    let path = campaign.write();
    let out_dir = campaign.dir.path().join("out");
    isomail_path(
        &["render", "--out", out_dir.to_str().expect("utf-8")],
        &path,
    )
    .assert_exit_code(0);
    isomail_path(&["send", "--yes"], &path).assert_exit_code(0);
    let outbox: Vec<String> = std::fs::read_dir(campaign.dir.path().join("outbox/new"))
        .expect("outbox")
        .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("utf-8"))
        .collect();
    assert_eq!(outbox.len(), 2);
    for (file, to) in [
        ("000001.eml", "\r\nTo: jörg@xn--bcher-kva.example\r\n"),
        ("000002.eml", "\r\nTo: u@xn--bcher-kva.example\r\n"),
    ] {
        let text = std::fs::read_to_string(out_dir.join(file)).expect("utf-8 eml");
        assert!(text.contains(to), "{file}: {text}");
        // The UTF-8 is the To: header's alone (control: the ASCII address's message is ASCII).
        assert!(text.replacen(to, "", 1).is_ascii(), "{file}: {text}");
        // The outbox (the bytes a send transmits) spells the address the same way.
        let sent = outbox.iter().filter(|m| m.contains(to)).count();
        assert_eq!(sent, 1, "{to:?} in the outbox");
    }
}
