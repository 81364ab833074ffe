//! The safety net: leaks that isolation cannot prevent (a template or renderer that writes
//! someone else's data on purpose or by mistake) are caught by the host before anything goes
//! out, in every form a leak takes in mail; tricky but legitimate campaigns pass.

use crate::util::{CampaignDir, guest, isomail_path, render_and_check, stderr, stdout};
use isomail::checks::{CampaignFinding, Finding, Form, Leak};

/// Findings per message index (only messages that have any).
fn findings(campaign: &CampaignDir) -> (Vec<(usize, Vec<Finding>)>, Vec<CampaignFinding>) {
    let (messages, failed, campaign_findings) = render_and_check(&campaign.write(), 2);
    assert!(failed.is_empty(), "{failed:?}");
    let per_message = messages
        .into_iter()
        .filter(|m| !m.findings.is_empty())
        .map(|m| (m.index, m.findings))
        .collect();
    (per_message, campaign_findings)
}

fn address(whose: usize, form: Form) -> Finding {
    Finding::Leak(Leak::Address { whose, form })
}

#[test]
fn hard_coded_address_fails_check_with_exit_3_and_masked_report() {
    let mut campaign = CampaignDir::new();
    campaign.text = "Dear {{ name }}, please forward this to bob@example.com.\n".into();
    let out = isomail_path(&["check"], &campaign.write());
    let err = stderr(&out);
    out.assert_exit_code(3);
    assert!(
        stdout(&out).contains("1 flagged by safety checks"),
        "{}",
        stdout(&out)
    );
    let finding = "message for recipient #1 (a***@example.com): \
                   contains the address of recipient #2 (b***@example.com) (plain)";
    assert!(err.contains(finding), "{err}");
    assert!(err.contains("nothing was sent"), "{err}");
    assert!(
        !err.contains("bob@example.com") && !err.contains("ann@example.com"),
        "addresses must be masked: {err}"
    );

    // render writes only the clean message, and fails the same way.
    let out_dir = campaign.dir.path().join("out");
    let out = isomail_path(
        &["render", "--out", out_dir.to_str().expect("utf-8")],
        &campaign.path(),
    );
    out.assert_exit_code(3);
    let written: Vec<_> = std::fs::read_dir(&out_dir)
        .expect("out")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(written, ["000002.eml"]);
}

#[test]
fn every_encoded_form_is_caught() {
    let forms = [
        ("<a href=\"mailto:bob@example.com\">x</a>", Form::Mailto),
        (
            "https://example.org/u?e=bob%40example.com",
            Form::UrlEncoded,
        ),
        ("bob&#64;example.com", Form::HtmlEntity),
        ("bob&#x40;example&#x2E;com", Form::HtmlEntity),
        ("BOB&commat;EXAMPLE&period;COM", Form::HtmlEntity),
        ("Bob@Example.COM", Form::Plain),
    ];
    for (snippet, form) in forms {
        let mut campaign = CampaignDir::new();
        campaign.html = Some(format!("<p>{{{{ name }}}}</p>{snippet}"));
        let (per_message, _) = findings(&campaign);
        assert_eq!(per_message, vec![(1, vec![address(2, form)])], "{snippet}");
    }
}

#[test]
fn a_renderer_that_embeds_another_recipients_data_is_caught() {
    let mut campaign = CampaignDir::new().numbered(4);
    campaign.renderer = Some(guest("snoop"));
    campaign.subject = "Notice".into();
    campaign.extra = "private = [\"token\"]\n".into();
    let (per_message, _) = findings(&campaign);
    let token3 = Finding::Leak(Leak::Private {
        field: "token".into(),
        whose: vec![3],
        form: Form::Plain,
    });
    assert_eq!(
        per_message,
        vec![
            (1, vec![address(2, Form::Plain), token3.clone()]),
            (2, vec![token3.clone()]),
            (3, vec![address(2, Form::Plain)]),
            (4, vec![address(2, Form::Plain), token3]),
        ]
    );
}

#[test]
fn private_field_leak_is_reported_without_the_value() {
    let mut campaign = CampaignDir::new().numbered(3);
    campaign.text = "Hi {{ name }}. Reference: tok-000002\n".into();
    campaign.extra = "private = [\"token\"]\n".into();
    let out = isomail_path(&["check"], &campaign.write());
    let err = stderr(&out);
    out.assert_exit_code(3);
    let finding = "message for recipient #1 (r***@list.test): \
                   contains the `token` value of recipient #2 (r***@list.test) (plain)";
    assert!(err.contains(finding), "{err}");
    assert!(err.contains("message for recipient #3"), "{err}");
    assert!(
        !err.contains("message for recipient #2"),
        "recipient 2's own token is no leak: {err}"
    );
    assert!(
        !err.contains("tok-000002"),
        "the private value itself must not be printed: {err}"
    );

    // Control: without `private`, the same template passes (tokens are just text then).
    campaign.extra = String::new();
    let out = isomail_path(&["check"], &campaign.write());
    out.assert_exit_code(0);
}

#[test]
fn growing_prefix_is_caught_even_when_the_data_itself_accumulated() {
    // The 2016 bug moved upstream: an export that appended every earlier row's note to each
    // row. Every message is rendered in isolation and carries only its own (bloated) field, so
    // the leak scan has nothing to find; the prefix watch still sees the signature.
    let mut csv = String::from("email,history\n");
    let mut history = String::new();
    for i in 1..=30 {
        history.push_str(&format!(
            "note {i:03} about order {:05}; ",
            i * 7919 % 99_991
        ));
        csv.push_str(&format!("p{i}@list.test,{history}\n"));
    }
    let mut campaign = CampaignDir::new();
    campaign.subject = "Your history".into();
    campaign.text = "{{ history }}\nThanks, {{ email }}\n".into();
    campaign.csv = csv.into_bytes();
    let (per_message, campaign_findings) = findings(&campaign);
    assert_eq!(per_message, vec![]);
    assert_eq!(
        campaign_findings,
        vec![CampaignFinding::GrowingPrefix { first: 1, last: 4 }]
    );
    let out = isomail_path(&["check"], &campaign.path());
    out.assert_exit_code(3);
    assert!(
        stderr(&out).contains("campaign: messages #1 to #4 each begin with a longer copy"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unrendered_markers_and_empty_bodies_are_caught() {
    let mut campaign = CampaignDir::new();
    campaign.text = "{{ '{{' }} name }}\n".into();
    let (per_message, _) = findings(&campaign);
    assert_eq!(per_message.len(), 2);
    assert_eq!(
        per_message[0].1,
        vec![Finding::Marker {
            part: "text",
            marker: "{{"
        }]
    );
    let mut campaign = CampaignDir::new();
    campaign.text = "{% if false %}x{% endif %}\n".into();
    let (per_message, _) = findings(&campaign);
    assert_eq!(per_message[0].1, vec![Finding::Empty { part: "text" }]);
}

#[test]
fn tricky_but_legitimate_campaigns_pass() {
    let mut campaign = CampaignDir::new();
    // Look-alike addresses: each is inside another, or shares its domain tail.
    campaign.csv = "email,name,plan,account\n\
        ann@x.org,Ann,pro,AC-1001\n\
        joann@x.org,Jo Ann Long-Name-That-Goes-On-And-On-For-A-While,basic,AC-10010\n\
        ann@x.org.uk,Ann UK,basic,AC-1002\n\
        n@x.org,N,pro,AC-10\n\
        bob+news@example.com,Bob,basic,AC-2001\n\
        bob@example.com,Bobby,pro,AC-2002\n"
        .as_bytes()
        .to_vec();
    campaign.extra = "private = [\"account\"]\n".into();
    // The recipient's own address, every way a template shows it; an optional section.
    campaign.text = "Hi {{ name }} <{{ email }}>, id {{ account }}.\n\
        Unsubscribe: https://x.org/u?e={{ email | urlencode }}\n\
        {% if plan == 'pro' %}Pro section.\n{% endif %}"
        .into();
    campaign.html = Some(
        "<a href=\"mailto:{{ email }}\">{{ email }}</a> &amp; {{ name }} &#64; {{ account }}"
            .into(),
    );
    let (per_message, campaign_findings) = findings(&campaign);
    assert_eq!(per_message, vec![]);
    assert_eq!(campaign_findings, vec![]);
}

#[test]
fn leaks_next_to_typography_in_references_and_in_an_encoded_subject_are_caught() {
    let token3 = || {
        Finding::Leak(Leak::Private {
            field: "token".into(),
            whose: vec![3],
            form: Form::Plain,
        })
    };
    let cases = [
        (
            "Notice =?utf-8?q?r2=40list.test?=",
            "Hi {{ name }}\n",
            None,
            vec![
                (1, vec![address(2, Form::EncodedWord)]),
                (3, vec![address(2, Form::EncodedWord)]),
            ],
        ),
        (
            "Notice =?UTF-8?B?cjJAbGlzdC50ZXN0?=",
            "Hi {{ name }}\n",
            None,
            vec![
                (1, vec![address(2, Form::EncodedWord)]),
                (3, vec![address(2, Form::EncodedWord)]),
            ],
        ),
        (
            "Notice",
            "Ask \u{201c}r2@list.test\u{201d}\u{2014}quote \u{ab}tok-000003\u{bb}\u{a0}today.\n",
            None,
            vec![
                (1, vec![address(2, Form::Plain), token3()]),
                (2, vec![token3()]),
                (3, vec![address(2, Form::Plain)]),
            ],
        ),
        (
            "Notice",
            "Hi {{ name }}\n",
            Some(
                "<p>Write to&nbsp;r2&#64list.test&#xA0;or quote &#x201C;tok&#x2D;000003&#x000000201D;</p>",
            ),
            vec![
                (
                    1,
                    vec![
                        address(2, Form::HtmlEntity),
                        Finding::Leak(Leak::Private {
                            field: "token".into(),
                            whose: vec![3],
                            form: Form::HtmlEntity,
                        }),
                    ],
                ),
                (
                    2,
                    vec![Finding::Leak(Leak::Private {
                        field: "token".into(),
                        whose: vec![3],
                        form: Form::HtmlEntity,
                    })],
                ),
                (3, vec![address(2, Form::HtmlEntity)]),
            ],
        ),
    ];
    for (subject, text, html, expected) in cases {
        let mut campaign = CampaignDir::new().numbered(3);
        campaign.subject = subject.into();
        campaign.text = text.into();
        campaign.html = html.map(|h| format!("<p>{{{{ name }}}}</p>{h}"));
        campaign.extra = "private = [\"token\"]\n".into();
        let (per_message, _) = findings(&campaign);
        assert_eq!(per_message, expected, "{subject} / {text} / {html:?}");
    }
}

#[test]
fn own_data_next_to_typography_in_references_and_in_an_encoded_subject_passes() {
    // The control for the test above: the same typography, references and encoded-words
    // around each recipient's own address and token are no leak.
    let mut campaign = CampaignDir::new().numbered(3);
    campaign.subject =
        "For =?utf-8?q?{{ email | replace('@', '=40') }}?= \u{2013} \u{201e}{{ token }}\u{201c}"
            .into();
    campaign.text = "\u{201c}{{ email }}\u{201d}\u{2014}{{ name }}\u{2019}s id \u{ab}{{ token }}\u{bb}\u{a0}ok; \u{3010}{{ email }}\u{3011}\n"
        .into();
    campaign.html = Some(
        "<p>{{ name }}&nbsp;&#x201C;{{ email | replace('@', '&#64') | safe }}&#x201D;&#160;{{ token | upper }}</p>"
            .into(),
    );
    campaign.extra = "private = [\"token\"]\n".into();
    let (per_message, campaign_findings) = findings(&campaign);
    assert_eq!(per_message, vec![]);
    assert_eq!(campaign_findings, vec![]);
}
