//! The leak scan's reader's view through the real pipeline: a template that disguises another
//! recipient's address or token as a reader would still read it (markup, invisible characters,
//! width and dot variants, decomposed accents, the other IDNA form, display order, Markdown) is
//! caught and nothing is sent; the same disguise of each recipient's own data passes. That the
//! passes before the reader's view miss each disguise is shown beside the scanner
//! (host/src/checks/scan/reader_tests.rs).

use crate::util::{CampaignDir, isomail_path, render_and_check, stderr};
use isomail::checks::{Finding, Form, Leak};

/// Findings per message index (only messages that have any).
fn findings(campaign: &CampaignDir) -> Vec<(usize, Vec<Finding>)> {
    let (messages, failed, _) = render_and_check(&campaign.write(), 2);
    assert!(failed.is_empty(), "{failed:?}");
    messages
        .into_iter()
        .filter(|m| !m.findings.is_empty())
        .map(|m| (m.index, m.findings))
        .collect()
}

fn seen(whose: usize) -> Finding {
    Finding::Leak(Leak::Address {
        whose,
        form: Form::ReaderView,
    })
}

/// A list of three; r2 is `r2@bücher.de` so that its domain has two IDNA forms.
fn three() -> CampaignDir {
    let mut campaign = CampaignDir::new();
    campaign.subject = "Notice".into();
    campaign.csv = "email,name,token\nr1@list.test,One,tok-000001\nr2@bücher.de,Two,tok-000002\n\
                    josé@list.test,Three,tok-000003\n"
        .as_bytes()
        .to_vec();
    campaign.extra = "private = [\"token\"]\n".into();
    campaign
}

/// Disguises of r2's address as a template writes them: (part, snippet).
const DISGUISED_R2: [(&str, &str); 14] = [
    ("html", "r2<span></span>@bücher.de"),
    ("html", "r2@<b>bücher</b>.de"),
    ("html", "r2<wbr>@bücher<!-- x -->.de"),
    ("html", "r2&shy;@b&#8203;ücher.de"),
    ("html", "<bdo dir=\"rtl\">ed.rehcüb@2r</bdo>"),
    ("html", "r2<span style=\"display: none\">x</span>@bücher.de"),
    ("text", "r2\u{ad}@bücher\u{200b}.de"),
    ("text", "r2\u{200d}@\u{2060}bücher\u{feff}.de"),
    ("text", "ｒ２＠ｂüｃｈｅｒ．ｄｅ"),
    ("text", "r2\u{fe6b}bücher\u{3002}de"),
    ("text", "r2@bu\u{308}cher.de"),
    ("text", "r2@xn--bcher-kva\u{ff61}de"),
    ("text", "\u{202e}ed.rehcüb@2r\u{202c}"),
    ("text", "r2*@*bücher.de"),
];

#[test]
fn another_recipients_address_disguised_for_a_reader_is_caught() {
    for (part, snippet) in DISGUISED_R2 {
        let mut campaign = three();
        match part {
            "html" => {
                campaign.html = Some(format!(
                    "<p>Hi {{{{ name }}}}</p><p>Ask {snippet} today</p>"
                ))
            }
            _ => campaign.text = format!("Hi {{{{ name }}}}, ask {snippet} today.\n"),
        }
        // r2's own message carries r2's own address: no leak (the own-data control).
        assert_eq!(
            findings(&campaign),
            vec![(1, vec![seen(2)]), (3, vec![seen(2)])],
            "{part}: {snippet}"
        );
    }
}

#[test]
fn a_disguised_leak_stops_the_send_and_nothing_is_sent() {
    let mut campaign = three();
    campaign.html = Some("<p>Hi {{ name }}, ask r2<span></span>&shy;＠bücher.de</p>".into());
    campaign
        .extra
        .push_str("\n[delivery]\nstages = [\"all\"]\nrate = 1000\n");
    let path = campaign.write();
    let out = isomail_path(&["send", "--yes"], &path);
    out.assert_exit_code(3);
    let err = stderr(&out);
    assert!(err.contains("as a reader sees it"), "{err}");
    assert!(err.contains("nothing was sent"), "{err}");
    let outbox = campaign.dir.path().join("outbox/new");
    let sent = std::fs::read_dir(&outbox).map_or(0, |dir| dir.count());
    assert_eq!(sent, 0, "nothing may reach the outbox");
}

#[test]
fn another_recipients_token_disguised_for_a_reader_is_caught() {
    let token = |whose: usize| {
        Finding::Leak(Leak::Private {
            field: "token".into(),
            whose: vec![whose],
            form: Form::ReaderView,
        })
    };
    for (part, snippet) in [
        ("html", "tok-<i></i>000003"),
        ("html", "tok&shy;-000003"),
        ("text", "ｔｏｋ－０００００３"),
        ("text", "tok-\u{200b}000003"),
        ("text", "\u{202e}300000-kot\u{202c}"),
    ] {
        let mut campaign = three();
        match part {
            "html" => campaign.html = Some(format!("<p>Hi {{{{ name }}}}, code {snippet}</p>")),
            _ => campaign.text = format!("Hi {{{{ name }}}}, code {snippet}.\n"),
        }
        assert_eq!(
            findings(&campaign),
            vec![(1, vec![token(3)]), (2, vec![token(3)])],
            "{part}: {snippet}"
        );
    }
}

#[test]
fn own_data_in_every_disguise_passes() {
    // The control for the tests above: each recipient's own address and token, disguised in
    // every way they are, in both parts, are no leak.
    let mut campaign = three();
    campaign.text = "Hi {{ name }}: {{ email | replace('@', '\u{ad}\u{ff20}') }}, \
                     {{ email | replace('.', '\u{3002}') }}, \u{202e}{{ email | reverse }}\u{202c}, \
                     {{ email | replace('@', '*@*') }}, code {{ token | replace('-', '\u{200b}-') }}.\n"
        .into();
    campaign.html = Some(
        "<p>{{ name }}: {{ email | replace('@', '<span></span>@') | safe }}, \
         <bdo dir=rtl>{{ email | reverse }}</bdo>, {{ email | replace('@', '&shy;@') | safe }}, \
         <a href=\"mailto:{{ email }}\">{{ email | replace('.', '<wbr>.') | safe }}</a>, \
         code {{ token | replace('-', '<b>-</b>') | safe }}</p>"
            .into(),
    );
    assert_eq!(findings(&campaign), vec![]);
}

#[test]
fn markdown_disguises_are_caught_in_both_parts() {
    // `*@*` and a code span around the `@` are emphasis and code in the HTML part, and stay as
    // written in the text part: each part alone is enough.
    for source in ["Ask r2*@*bücher.de today.", "Ask r2`@`bücher.de today."] {
        let mut campaign = three();
        campaign.markdown = Some(format!("# Hi {{{{ name }}}}\n\n{source}\n"));
        assert_eq!(
            findings(&campaign),
            vec![(1, vec![seen(2)]), (3, vec![seen(2)])],
            "{source}"
        );
        // Each part on its own: the text part as Markdown source, the HTML part as rendered.
        let mut text_only = three();
        text_only.text = format!("Hi {{{{ name }}}}\n{source}\n");
        assert_eq!(
            findings(&text_only),
            vec![(1, vec![seen(2)]), (3, vec![seen(2)])],
            "{source}"
        );
        let html = source
            .replace("*@*", "<em>@</em>")
            .replace("`@`", "<code>@</code>");
        let mut html_only = three();
        html_only.html = Some(format!("<p>Hi {{{{ name }}}}</p><p>{html}</p>"));
        assert_eq!(
            findings(&html_only),
            vec![(1, vec![seen(2)]), (3, vec![seen(2)])],
            "{html}"
        );
    }
    // Own-data control: the recipient's own address so written.
    let mut campaign = three();
    campaign.markdown = Some(
        "# Hi {{ name }}\n\nYou are {{ email | replace('@', '*@*') }} and `{{ email }}`.\n".into(),
    );
    assert_eq!(findings(&campaign), vec![]);
}
