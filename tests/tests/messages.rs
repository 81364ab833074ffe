//! What leaves the host: headers only the host sets, MIME structure, encodings, determinism,
//! and the property that no message carries another recipient's address or data.

use crate::util::{
    CampaignDir, addresses_in, guest, isomail_path, render_campaign, stderr, stdout,
};
use proptest::prelude::*;

fn header_block(message: &str) -> &str {
    message.split("\r\n\r\n").next().unwrap_or_default()
}

#[test]
fn host_sets_every_header_and_a_template_cannot_add_one() {
    let mut campaign = CampaignDir::new();
    // A subject template cannot hold a line break (refused at load), and values cannot either
    // (refused in the CSV); the renderer's own output is checked too (misbehave `crlf@`).
    campaign.subject = "Hi {{ name }} Bcc: all@example.com".into();
    campaign.text = "Body for {{ name }}\nBcc: everyone@example.com\n".into();
    let out = isomail_path(&["preview", "--index", "2"], &campaign.write());
    out.assert_exit_code(0);
    let message = stdout(&out);
    let headers = header_block(&message);
    let names: Vec<&str> = headers
        .split("\r\n")
        .filter(|l| !l.starts_with([' ', '\t']))
        .filter_map(|l| l.split(':').next())
        .collect();
    assert_eq!(
        names,
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "MIME-Version",
            "Content-Type",
            "Content-Transfer-Encoding"
        ]
    );
    assert!(headers.contains("To: bob@example.com"), "{headers}");
    assert!(
        headers.contains("From: Sender <sender@example.org>"),
        "{headers}"
    );
    assert!(!headers.contains("Bcc: everyone"), "{headers}");
}

#[test]
fn renderer_output_with_a_line_break_in_the_subject_is_refused() {
    let mut campaign = CampaignDir::new();
    campaign.renderer = Some(guest("misbehave"));
    campaign.csv = b"email,name\ncrlf@list.test,X\n".to_vec();
    let out = isomail_path(&["check"], &campaign.write());
    out.assert_exit_code(3);
    let failure = "recipient #1 (c***@list.test, line 2): \
                   renderer output refused: the subject contains a line break";
    assert!(stderr(&out).contains(failure), "{}", stderr(&out));
}

/// What every message that leaves the host must be, checked on its bytes: lines end in CRLF
/// and have at most 998 octets (the header's at most 78), and every octet is printable ASCII,
/// a TAB or part of a CRLF.
fn assert_lines_well_formed(message: &[u8]) {
    let body = message
        .strip_suffix(b"\r\n")
        .expect("the last line is ended");
    let mut in_header = true;
    for (n, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(
            line.len() <= 998,
            "line {} has {} octets",
            n + 1,
            line.len()
        );
        if in_header {
            assert!(
                line.len() <= 78,
                "header line {} has {} octets",
                n + 1,
                line.len()
            );
        }
        in_header &= !line.is_empty();
        if let Some(b) = line
            .iter()
            .find(|&&b| !(b == b'\t' || (b' '..=b'~').contains(&b)))
        {
            panic!("line {} has the octet {b:#04x}", n + 1);
        }
    }
    let lf = message.iter().filter(|&&b| b == b'\n').count();
    let crlf = message.windows(2).filter(|w| w == b"\r\n").count();
    assert_eq!(lf, crlf, "a bare LF");
}

/// Replaces the campaign's subject with `value`, written as TOML (CampaignDir writes Rust
/// escapes, and TOML has its own for control characters).
fn set_subject_toml(campaign: &std::path::Path, value: &str) {
    let toml = std::fs::read_to_string(campaign).expect("campaign");
    let toml: Vec<String> = toml
        .lines()
        .map(|l| {
            if l.starts_with("subject = ") {
                format!("subject = {value}")
            } else {
                l.to_owned()
            }
        })
        .collect();
    std::fs::write(campaign, toml.join("\n") + "\n").expect("write campaign");
}

#[test]
fn control_characters_and_nul_fail_only_their_own_message_and_the_rest_are_well_formed() {
    let mut campaign = CampaignDir::new();
    campaign.text = "Dear {{ name }}.\n{% if name == 'Nul' %}a\0b{% endif %}\
                     {% if name == 'Mac' %}one\rtwo\r{% endif %}end\n"
        .into();
    campaign.csv = b"email,name\nann@list.test,Ann\neve@list.test,Eve\nnul@list.test,Nul\n\
                     mac@list.test,Mac\ntab@list.test,T\tab\n"
        .to_vec();
    let path = campaign.write();
    set_subject_toml(
        &path,
        r#""Hello {{ name }}{% if name == 'Eve' %} \u001B]0;owned\u0007{% endif %}""#,
    );
    let out_dir = campaign.dir.path().join("out");
    let out = isomail_path(
        &["render", "--out", out_dir.to_str().expect("utf-8")],
        &path,
    );
    let err = stderr(&out);
    out.assert_exit_code(3);
    let escape = "recipient #2 (e***@list.test, line 3): \
                  renderer output refused: the subject contains the control character U+001B";
    assert!(err.contains(escape), "{err}");
    let nul = "recipient #3 (n***@list.test, line 4): \
               renderer output refused: the text contains the NUL character U+0000";
    assert!(err.contains(nul), "{err}");
    let mut written: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["000001.eml", "000004.eml", "000005.eml"]);
    for file in &written {
        assert_lines_well_formed(&std::fs::read(out_dir.join(file)).expect("eml"));
    }
    let mac = std::fs::read_to_string(out_dir.join("000004.eml")).expect("eml");
    assert!(
        mac.ends_with("\r\n\r\nDear Mac.\r\none\r\ntwo\r\nend\r\n"),
        "{mac}"
    );
    // The TAB a list may hold in a value reaches the subject encoded, not raw.
    let tab = std::fs::read_to_string(out_dir.join("000005.eml")).expect("eml");
    assert!(
        tab.contains("Subject: Hello =?utf-8?b?VAlhYg==?=\r\n"),
        "{}",
        header_block(&tab)
    );
}

#[test]
fn a_5000_character_subject_and_a_million_line_breaks_make_a_well_formed_message() {
    let mut campaign = CampaignDir::new();
    campaign.subject = "x".repeat(5000);
    campaign.text = format!("Dear {{{{ name }}}}{}", "\n".repeat(1_040_000));
    let out = isomail_path(&["preview", "--index", "1"], &campaign.write());
    out.assert_exit_code(0);
    assert_lines_well_formed(&out.stdout);
    let message = stdout(&out);
    let headers = header_block(&message);
    assert!(headers.contains("Subject: =?utf-8?b?eHh4"), "{headers}");
    assert!(headers.lines().count() > 5000 / 42, "{headers}");
    assert!(
        message.ends_with(&"\r\n".repeat(1_000)),
        "the line breaks are there as CRLF"
    );
}

#[test]
fn html_makes_multipart_alternative_with_autoescaping_and_encoded_subject() {
    let mut campaign = CampaignDir::new();
    campaign.subject = "Grüße, {{ name }}".into();
    campaign.html = Some("<p>{{ name }}</p>".into());
    campaign.csv = "email,name\nzoe@example.com,Zoë <script>\n"
        .as_bytes()
        .to_vec();
    let (messages, failed) = render_campaign(&campaign.write(), 1);
    assert!(failed.is_empty());
    let m = &messages[0];
    assert_eq!(m.content.html.as_deref(), Some("<p>Zoë &lt;script&gt;</p>"));
    assert_eq!(
        m.content.text,
        "Dear Zoë <script>, this is for zoe@example.com.\n"
    );
    let raw = String::from_utf8(m.bytes.clone()).expect("ascii message");
    assert!(raw.is_ascii(), "non-ASCII must be encoded: {raw}");
    assert!(raw.contains("Subject: =?utf-8?b?"), "{raw}");
    assert!(
        raw.contains("Content-Type: multipart/alternative;"),
        "{raw}"
    );
    assert!(
        raw.contains("Content-Type: text/plain; charset=utf-8"),
        "{raw}"
    );
    assert!(
        raw.contains("Content-Type: text/html; charset=utf-8"),
        "{raw}"
    );
}

#[test]
fn rendering_is_deterministic() {
    let mut campaign = CampaignDir::new().numbered(30);
    campaign.html = Some("<b>{{ token }}</b>".into());
    let path = campaign.write();
    let (first, _) = render_campaign(&path, 2);
    let (second, _) = render_campaign(&path, 1);
    assert_eq!(first.len(), 30);
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a.bytes, b.bytes, "message {}", a.index);
        assert_eq!(a.hash, b.hash);
    }
}

#[test]
fn render_writes_one_eml_per_recipient_with_the_pipelines_bytes() {
    let campaign = CampaignDir::new().numbered(25);
    let path = campaign.write();
    let out_dir = campaign.dir.path().join("out");
    let out = isomail_path(
        &["render", "--out", out_dir.to_str().expect("utf-8")],
        &path,
    );
    out.assert_exit_code(0);
    let mut files: Vec<_> = std::fs::read_dir(&out_dir)
        .expect("out")
        .map(|e| e.expect("entry").file_name())
        .collect();
    files.sort();
    assert_eq!(files.len(), 25);
    let (messages, _) = render_campaign(&path, 1);
    for m in &messages {
        let written = std::fs::read(out_dir.join(format!("{:06}.eml", m.index))).expect("eml");
        // Same function, same bytes, but for the Date header, which is the moment of rendering.
        let strip_date = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .lines()
                .filter(|l| !l.starts_with("Date:"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            strip_date(&written),
            strip_date(&m.bytes),
            "message {}",
            m.index
        );
    }
}

fn recipients_strategy() -> impl Strategy<Value = Vec<(String, String, String)>> {
    prop::collection::vec(("[a-z]{1,8}", "[A-Za-z ]{0,12}", "[a-f0-9]{6}"), 2..24).prop_map(
        |rows| {
            rows.into_iter()
                .enumerate()
                .map(|(i, (local, name, secret))| {
                    (
                        format!("{local}{i}@d{}.test", i % 3),
                        name,
                        format!("S{i}x{secret}"),
                    )
                })
                .collect()
        },
    )
}

/// (message index, whose data) for every piece of another recipient's address or secret found
/// in a message's subject, text or HTML.
fn foreign_data(
    messages: &[isomail::render::Rendered],
    rows: &[(String, String, String)],
) -> Vec<(usize, usize)> {
    let emails: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let mut found = Vec::new();
    for m in messages {
        let own = m.index - 1;
        let all = format!(
            "{}\n{}\n{}",
            m.content.subject,
            m.content.text,
            m.content.html.clone().unwrap_or_default()
        );
        for whose in addresses_in(&all, &emails) {
            if whose != own {
                found.push((m.index, whose + 1));
            }
        }
        for (i, (_, _, secret)) in rows.iter().enumerate() {
            if i != own && all.contains(secret.as_str()) {
                found.push((m.index, i + 1));
            }
        }
    }
    found
}

fn property_campaign(rows: &[(String, String, String)], extra_text: &str) -> CampaignDir {
    let mut campaign = CampaignDir::new();
    campaign.subject = "For {{ name }}".into();
    campaign.text = format!(
        "{{{{ name }}}} / {{{{ secret }}}} / {{{{ email }}}}\n{{% for c in email %}}{{{{ c }}}}{{% endfor %}}\n{extra_text}"
    );
    campaign.html = Some("<a href=\"mailto:{{ email }}\">{{ name }}</a> {{ secret }}".into());
    let mut csv = String::from("email,name,secret\n");
    for (email, name, secret) in rows {
        csv.push_str(&format!("{email},{name},{secret}\n"));
    }
    campaign.csv = csv.into_bytes();
    campaign
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn no_message_carries_another_recipients_address_or_data(rows in recipients_strategy()) {
        let campaign = property_campaign(&rows, "");
        let (messages, failed) = render_campaign(&campaign.write(), 2);
        prop_assert!(failed.is_empty());
        prop_assert_eq!(messages.len(), rows.len());
        let own = |m: &isomail::render::Rendered| m.content.text.contains(rows[m.index - 1].2.as_str());
        prop_assert!(messages.iter().all(own));
        prop_assert_eq!(foreign_data(&messages, &rows), vec![]);
    }
}

#[test]
fn property_check_catches_a_template_that_leaks() {
    let rows: Vec<(String, String, String)> = (0..4)
        .map(|i| {
            (
                format!("p{i}@d.test"),
                format!("Name {i}"),
                format!("S{i}xabcdef"),
            )
        })
        .collect();
    let campaign = property_campaign(&rows, "cc p2@d.test S3xabcdef\n");
    let (messages, _) = render_campaign(&campaign.write(), 2);
    assert_eq!(
        foreign_data(&messages, &rows),
        vec![(1, 3), (1, 4), (2, 3), (2, 4), (3, 4), (4, 3)]
    );
}
