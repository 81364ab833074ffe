//! URLs made from recipient data (issue 21 §4), in Markdown and MJML bodies: a value that is a
//! whole URL must make it `https:`, `http:`, `mailto:`, `tel:` or relative, as a browser reads
//! the scheme (case, tabs, line breaks, leading controls, character references); no value may go
//! in a template's own `javascript:`, `vbscript:` or `data:` URL; and a value in part of a URL is
//! one percent-encoded component, in MJML as in Markdown. A refusal names the recipient's column
//! and fails the message, and then nothing is sent. Every refusal has its control: the same place
//! with an allowed URL renders, and the link shows exactly that URL. The host checks the same
//! rules again over the HTML part of every message, whatever renderer made it (an HTML template
//! rendered by minijinja, a renderer of the campaign's own): the tests at the end.

use scraper::{Html, Selector};
use url::Url;

use crate::util::{CampaignDir, guest, isomail_path, render_and_check, stderr};
use isomail::checks::{Finding, Problem};
use isomail::sandbox::{Format, Limits, Recipient, RenderFailure, Sandbox, Source, Templates};

fn builtin() -> Sandbox {
    Sandbox::load(Source::Builtin, Limits::default(), 1).expect("the built-in renderer loads")
}

/// A recipient whose `homepage` column is `value`.
fn recipient(value: &str) -> Recipient {
    Recipient {
        email: "ann@example.com".into(),
        fields: vec![("homepage".into(), value.into())],
    }
}

fn markdown(source: &str) -> Templates {
    Templates {
        subject: "Notice".into(),
        text: source.into(),
        html: None,
        format: Format::Markdown,
    }
}

/// An MJML document with `part` in a column.
fn mjml(part: &str) -> Templates {
    Templates {
        subject: "Notice".into(),
        text: "Hello\n".into(),
        html: Some(format!(
            "<mjml><mj-body><mj-section><mj-column>{part}</mj-column></mj-section></mj-body></mjml>"
        )),
        format: Format::Mjml,
    }
}

/// Where a value is a whole URL: the template (`V` for `{{ homepage }}`), the element and
/// attribute that must show it.
const WHOLE: [(Format, &str, &str, &str); 22] = [
    (Format::Markdown, "[site](V)\n", "a", "href"),
    (Format::Markdown, "![logo](V)\n", "img", "src"),
    (Format::Markdown, "Hi <a href=\"V\">site</a>\n", "a", "href"),
    (Format::Markdown, "Hi <a href=V>site</a>\n", "a", "href"),
    (Format::Markdown, "Hi <img src='V'>\n", "img", "src"),
    (
        Format::Markdown,
        "<form action=\"V\">\n<button>go</button>\n</form>\n",
        "form",
        "action",
    ),
    (
        Format::Markdown,
        "Hi <button formaction=\"V\">go</button>\n",
        "button",
        "formaction",
    ),
    (Format::Markdown, "<base href=\"V\">\n", "base", "href"),
    (
        Format::Markdown,
        "<object data=\"V\"></object>\n",
        "object",
        "data",
    ),
    (Format::Markdown, "Hi <embed src=\"V\">\n", "embed", "src"),
    (
        Format::Markdown,
        "<iframe src=\"V\"></iframe>\n",
        "iframe",
        "src",
    ),
    (
        Format::Markdown,
        "<video poster=\"V\"></video>\n",
        "video",
        "poster",
    ),
    (
        Format::Markdown,
        "<blockquote cite=\"V\">\nx\n</blockquote>\n",
        "blockquote",
        "cite",
    ),
    (
        Format::Markdown,
        "<table background=\"V\"><tr><td>x</td></tr></table>\n",
        "table",
        "background",
    ),
    (
        Format::Markdown,
        "Hi <a xlink:href=\"V\">site</a>\n",
        "a",
        "xlink:href",
    ),
    (Format::Markdown, "Hi <img srcset=\"V\">\n", "img", "srcset"),
    (
        Format::Markdown,
        "Hi <a ping=\"V\" href=\"/x\">site</a>\n",
        "a",
        "ping",
    ),
    (
        Format::Mjml,
        "<mj-button href=\"V\">Go</mj-button>",
        "a",
        "href",
    ),
    (Format::Mjml, "<mj-image src=\"V\" />", "img", "src"),
    (
        Format::Mjml,
        "<mj-image src=\"/i.png\" href=\"V\" />",
        "a",
        "href",
    ),
    (
        Format::Mjml,
        "<mj-navbar><mj-navbar-link href=\"V\">Home</mj-navbar-link></mj-navbar>",
        "a",
        "href",
    ),
    (
        Format::Mjml,
        "<mj-social><mj-social-element src=\"V\" href=\"/x\">Us</mj-social-element></mj-social>",
        "img",
        "src",
    ),
];

/// Whole values a browser would run or open as a page, spelled as browsers still read them.
const HOSTILE: [&str; 9] = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "\u{1} javascript:alert(1)",
    " data:text/html,<script>alert(1)</script>",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
];

/// Whole values that must pass, each shown as exactly itself: the allowed schemes, relative URLs,
/// and a character reference written by a recipient (literal text: the browser does not decode
/// it, so it is no scheme).
const FINE: [&str; 7] = [
    "https://example.org/x?a=1&b=2#top",
    "http://example.org/",
    "mailto:a@example.org",
    "tel:+1-555-0100",
    "/account?id=7",
    "//example.org/x",
    "&#106;avascript:alert(1)",
];

fn templates(format: Format, template: &str) -> Templates {
    let template = template.replace('V', "{{ homepage }}");
    match format {
        Format::Mjml => mjml(&template),
        _ => markdown(&template),
    }
}

/// The refusal's text, or a panic saying what rendered instead.
#[track_caller]
fn refusal(sandbox: &Sandbox, templates: &Templates, value: &str) -> String {
    match sandbox.render(templates, &recipient(value)) {
        Err(RenderFailure::Renderer(error)) => format!("{error:?}"),
        other => panic!(
            "{value:?} in {:?}: expected a refusal, got {other:?}",
            templates.html
        ),
    }
}

/// The value of `attribute` on the first `element` of the HTML `templates` renders for `value`.
#[track_caller]
fn attribute(
    sandbox: &Sandbox,
    templates: &Templates,
    value: &str,
    element: &str,
    attribute: &str,
) -> String {
    let html = match sandbox.render(templates, &recipient(value)) {
        Ok(content) => content.html.expect("an HTML part"),
        Err(failure) => panic!("{value:?}: {failure}"),
    };
    let document = Html::parse_document(&html);
    let selector = Selector::parse(element).expect("a selector");
    let found = document.select(&selector).next();
    let found = found.unwrap_or_else(|| panic!("no <{element}> in {html}"));
    let shown = found.value().attr(attribute);
    shown
        .unwrap_or_else(|| panic!("no {attribute} on {html}"))
        .to_owned()
}

#[test]
fn a_whole_url_value_must_be_https_http_mailto_tel_or_relative() {
    let sandbox = builtin();
    for (format, template, element, name) in WHOLE {
        let templates = templates(format, template);
        for value in HOSTILE {
            let why = refusal(&sandbox, &templates, value);
            assert!(
                why.contains("the recipient's `homepage`"),
                "{template}: {why}"
            );
            assert!(why.contains("a URL"), "{template}: {why}");
        }
        // Controls: the same place takes every allowed URL, and shows exactly that URL (percent-
        // encoding only what would end it in a list of URLs, which no value here holds).
        for value in FINE {
            let shown = attribute(&sandbox, &templates, value, element, name);
            assert_eq!(shown, value.replace(' ', "%20"), "{template}");
        }
    }
}

#[test]
fn a_refusal_says_where_and_why() {
    let sandbox = builtin();
    let why = refusal(
        &sandbox,
        &markdown("Hi <a href=\"{{ homepage }}\">x</a>\n"),
        "javascript:alert(1)",
    );
    assert!(
        why.contains(
            "the value printed 1st by the template (the recipient's `homepage`) lands in the href \
             attribute of <a>, a URL, where it is in a `javascript:` URL"
        ),
        "{why}"
    );
    let why = refusal(&sandbox, &markdown("[x]({{ homepage }})\n"), "sms:+1");
    assert!(
        why.contains("lands in a link's destination, a URL, where it makes a `sms:` URL"),
        "{why}"
    );
    // A value the template computed is no column's: the order alone names it.
    let why = refusal(
        &sandbox,
        &markdown("[x]({{ homepage|lower }})\n"),
        "JAVASCRIPT:alert(1)",
    );
    assert!(
        why.contains("the value printed 1st by the template lands"),
        "{why}"
    );
}

/// Templates whose own URL runs script, with the value in it.
const SCRIPT_URLS: [(Format, &str); 9] = [
    (
        Format::Markdown,
        "Hi <a href=\"javascript:go('V')\">x</a>\n",
    ),
    (
        Format::Markdown,
        "Hi <a href=\"JavaScript:go('V')\">x</a>\n",
    ),
    (
        Format::Markdown,
        "Hi <a href=\"&#106;avascript:go('V')\">x</a>\n",
    ),
    (
        Format::Markdown,
        "Hi <a href=\"java&#x09;script:go('V')\">x</a>\n",
    ),
    (
        Format::Markdown,
        "Hi <a href=\"  vbscript:go('V')\">x</a>\n",
    ),
    (
        Format::Markdown,
        "<iframe src=\"data:text/html,<b>V</b>\"></iframe>\n",
    ),
    (Format::Markdown, "[x](javascript:go\\('V'\\))\n"),
    (
        Format::Mjml,
        "<mj-button href=\"javascript:go('V')\">Go</mj-button>",
    ),
    (
        Format::Mjml,
        "<mj-image src=\"/i.png\" href=\"javascript:go('V')\" />",
    ),
];

#[test]
fn a_value_in_a_templates_own_script_url_is_refused() {
    let sandbox = builtin();
    let breakout = "');alert(1);//";
    for (format, template) in SCRIPT_URLS {
        for value in [breakout, "harmless"] {
            let why = refusal(&sandbox, &templates(format, template), value);
            assert!(why.contains("percent-encoded or not"), "{template}: {why}");
        }
    }
    // Control: the same value in an https URL's query passes, as one percent-encoded component.
    for format in [Format::Markdown, Format::Mjml] {
        let template = match format {
            Format::Mjml => "<mj-button href=\"https://example.org/?q=V\">Go</mj-button>",
            _ => "Hi <a href=\"https://example.org/?q=V\">x</a>\n",
        };
        let href = attribute(
            &sandbox,
            &templates(format, template),
            breakout,
            "a",
            "href",
        );
        assert_eq!(
            href,
            "https://example.org/?q=%27%29%3Balert%281%29%3B%2F%2F"
        );
    }
    // Control: a scheme the template chose, that runs no script, keeps its value.
    let href = attribute(
        &sandbox,
        &markdown("[x](sms:{{ homepage }})\n"),
        "+1 555",
        "a",
        "href",
    );
    assert_eq!(href, "sms:%2B1%20555");
}

/// The query of `href` as (name, value) pairs, and whether it has a fragment.
fn query_of(href: &str) -> (Vec<(String, String)>, bool) {
    let url = Url::parse(href).unwrap_or_else(|e| panic!("{href}: {e}"));
    (
        url.query_pairs().into_owned().collect(),
        url.fragment().is_some(),
    )
}

/// MJML places where the value is part of a URL: the template, and the element whose `href` or
/// `src` holds it (`src` for images).
const MJML_PARTS: [(&str, &str, &str); 6] = [
    (
        "<mj-button href=\"https://x.example/?u=V\">Go</mj-button>",
        "a",
        "href",
    ),
    (
        "<mj-image src=\"https://x.example/i.png?u=V\" />",
        "img",
        "src",
    ),
    (
        "<mj-image src=\"/i.png\" href=\"https://x.example/?u=V\" />",
        "a",
        "href",
    ),
    (
        "<mj-navbar><mj-navbar-link href=\"https://x.example/?u=V\">Home</mj-navbar-link></mj-navbar>",
        "a",
        "href",
    ),
    (
        "<mj-social><mj-social-element href=\"https://x.example/?u=V\" src=\"/i.png\">Us\
         </mj-social-element></mj-social>",
        "a",
        "href",
    ),
    // A share link: mrml puts the whole href into the network's own URL, as part of its query.
    (
        "<mj-social><mj-social-element name=\"facebook\" href=\"V\">Share</mj-social-element></mj-social>",
        "a",
        "href",
    ),
];

#[test]
fn a_value_in_part_of_an_mjml_url_is_one_percent_encoded_component() {
    let sandbox = builtin();
    let value = "a&b=c#frag";
    for (template, element, name) in MJML_PARTS {
        let href = attribute(
            &sandbox,
            &mjml(&template.replace('V', "{{ homepage }}")),
            value,
            element,
            name,
        );
        let (pairs, fragment) = query_of(&href);
        assert_eq!(pairs.len(), 1, "{template}: {href}");
        assert_eq!(pairs[0].1, value, "{template}: {href}");
        assert!(!fragment, "{template}: {href}");
        // Control: the URL the value made before (written as it is) fails the same check.
        let raw = href.replace("a%26b%3Dc%23frag", value);
        assert_ne!(
            raw, href,
            "{template}: the value is not where it was looked for"
        );
        let (pairs, fragment) = query_of(&raw);
        assert!(pairs.len() == 2 && fragment, "{template}: {raw}");
    }
}

#[test]
fn a_whole_url_in_a_list_of_urls_adds_no_other() {
    let sandbox = builtin();
    let value = "/a.png 1x, https://tracker.example/b.png";
    let shown = attribute(
        &sandbox,
        &markdown("Hi <img srcset=\"{{ homepage }} 2x\">\n"),
        value,
        "img",
        "srcset",
    );
    assert_eq!(shown, "/a.png%201x%2C%20https://tracker.example/b.png 2x");
    // Control: a value in part of a candidate's URL is one component, and still only one URL.
    let shown = attribute(
        &sandbox,
        &markdown("Hi <img srcset=\"/i/{{ homepage }}.png 2x\">\n"),
        value,
        "img",
        "srcset",
    );
    assert_eq!(shown.split_ascii_whitespace().count(), 2, "{shown}");
}

#[test]
fn a_value_in_a_meta_refresh_is_refused() {
    let sandbox = builtin();
    for template in [
        "<meta http-equiv=\"refresh\" content=\"0;url={{ homepage }}\">\n",
        "<meta content=\"0; URL={{ homepage }}\" http-equiv=\"Refresh\">\n",
        "<meta http-equiv=\"{{ homepage }}\" content=\"0;url=https://example.org/\">\n",
    ] {
        let why = refusal(&sandbox, &markdown(template), "refresh");
        assert!(why.contains("<meta"), "{template}: {why}");
    }
    // Control: the content of any other <meta> is text.
    let shown = attribute(
        &sandbox,
        &markdown("<meta name=\"description\" content=\"{{ homepage }}\">\n"),
        "0;url=javascript:alert(1)",
        "meta",
        "content",
    );
    assert_eq!(shown, "0;url=javascript:alert(1)");
}

/// A Markdown campaign of two whose second recipient's `homepage` is `bob`.
fn campaign(bob: &str) -> CampaignDir {
    let mut campaign = CampaignDir::new();
    campaign.subject = "Notice".into();
    campaign.markdown = Some("Dear {{ email }}, [your page]({{ homepage }}).\n".into());
    campaign.csv =
        format!("email,homepage\nann@example.com,https://example.org/ann\nbob@example.com,{bob}\n")
            .into_bytes();
    campaign.extra = "\n[delivery]\nstages = [\"all\"]\nrate = 1000\n".into();
    campaign
}

#[test]
fn a_refused_url_fails_its_message_and_nothing_is_sent() {
    let bad = campaign("JavaScript:alert(document.cookie)");
    let run = isomail_path(&["send", "--yes"], &bad.write());
    run.assert_exit_code(3);
    let err = stderr(&run.output);
    assert!(err.contains("recipient #2"), "{err}");
    assert!(
        err.contains("`homepage`") && err.contains("`javascript:` URL"),
        "{err}"
    );
    let outbox = bad.dir.path().join("outbox/new");
    let sent = std::fs::read_dir(&outbox).map_or(0, |entries| entries.count());
    assert_eq!(sent, 0, "a message went out");
    // Control: with an allowed URL the same campaign sends both messages.
    let good = campaign("mailto:bob@example.com");
    isomail_path(&["send", "--yes"], &good.write()).assert_exit_code(0);
    let outbox = good.dir.path().join("outbox/new");
    let sent = std::fs::read_dir(&outbox).expect("an outbox").count();
    assert_eq!(sent, 2);
}

// The host's own check (host/src/checks/urls.rs): the same rules over the HTML part of every
// message, whatever renderer made it, before anything is sent.

/// The Url findings of each message of `campaign` (index order), as (column, element,
/// attribute, problem).
fn url_findings(campaign: &CampaignDir) -> Vec<Vec<(String, String, String, Problem)>> {
    let (messages, failed, _) = render_and_check(&campaign.write(), 2);
    assert!(failed.is_empty(), "{failed:?}");
    let url = |finding: Finding| match finding {
        Finding::Url(u) => (u.column, u.element, u.attribute, u.problem),
        other => panic!("not a URL finding: {other:?}"),
    };
    messages
        .into_iter()
        .map(|m| m.findings.into_iter().map(url).collect())
        .collect()
}

/// Every place of an HTML template where a value is a whole URL, as (element, attribute).
const HTML_PLACES: [(&str, &str); 6] = [
    ("a", "href"),
    ("img", "src"),
    ("form", "action"),
    ("button", "formaction"),
    ("base", "href"),
    ("object", "data"),
];

const HTML_WHOLE: &str = "<base href=\"{{ homepage }}\"><p><a href=\"{{ homepage }}\">site</a>\
    <img src=\"{{ homepage }}\"><form action=\"{{ homepage }}\"><button formaction=\"{{ homepage }}\">\
    go</button></form><object data=\"{{ homepage }}\"></object></p>\n";

/// An HTML-template campaign (`[message] html`, minijinja) with one recipient per `homepage`.
fn html_campaign(html: &str, homepages: &[&str]) -> CampaignDir {
    let mut campaign = CampaignDir::new();
    campaign.subject = "Notice".into();
    campaign.text = "Hello\n".into();
    campaign.html = Some(html.into());
    let mut csv = String::from("email,homepage\n");
    for (i, homepage) in homepages.iter().enumerate() {
        let quoted = homepage.replace('"', "\"\"");
        csv.push_str(&format!("r{i}@example.com,\"{quoted}\"\n"));
    }
    campaign.csv = csv.into_bytes();
    campaign.extra = "\n[delivery]\nstages = [\"all\"]\nrate = 1000\n".into();
    campaign
}

/// Whole values a CSV can hold (no controls but tab) that make a URL a browser runs or opens.
const HTML_HOSTILE: [(&str, &str); 6] = [
    ("javascript:alert(1)", "javascript"),
    ("JaVaScRiPt:alert(1)", "javascript"),
    ("java\tscript:alert(1)", "javascript"),
    (" data:text/html,<script>alert(1)</script>", "data"),
    ("vbscript:msgbox(1)", "vbscript"),
    ("file:///etc/passwd", "file"),
];

#[test]
fn an_html_templates_whole_url_value_must_be_https_http_mailto_tel_or_relative() {
    let fine = [
        "https://example.org/x?a=1&b=2",
        "mailto:a@example.org",
        "tel:+1-555-0100",
        "/account?id=7",
    ];
    let hostile = HTML_HOSTILE.map(|(value, _)| value);
    let all: Vec<&str> = hostile.iter().chain(&fine).copied().collect();
    let found = url_findings(&html_campaign(HTML_WHOLE, &all));
    for ((value, scheme), found) in HTML_HOSTILE.iter().zip(&found) {
        // Every place is refused on its own, naming the column and the scheme read.
        let expected: Vec<_> = HTML_PLACES
            .iter()
            .map(|(e, a)| ("homepage".to_owned(), e.to_string(), a.to_string()))
            .collect();
        let mut places: Vec<_> = found
            .iter()
            .map(|(c, e, a, _)| (c.clone(), e.clone(), a.clone()))
            .collect();
        places.sort();
        let mut sorted = expected.clone();
        sorted.sort();
        assert_eq!(places, sorted, "{value:?}");
        for (_, _, _, problem) in found {
            assert_eq!(problem, &Problem::Scheme(scheme.to_string()), "{value:?}");
        }
    }
    // Controls: the allowed schemes and relative URLs pass in every place.
    for (value, found) in fine.iter().zip(&found[hostile.len()..]) {
        assert!(found.is_empty(), "{value}: {found:?}");
    }
}

#[test]
fn a_value_in_an_html_templates_script_url_or_handler_is_refused() {
    let breakout = "');alert(1);//";
    let in_js = || Problem::InScript("javascript".into());
    // Each place on its own element, so each is a finding of its own.
    let places = [
        ("<a href=\"javascript:go('V')\">x</a>", "a", "href", in_js()),
        (
            "<area href=\"javascript:go('V|urlencode')\">",
            "area",
            "href",
            in_js(),
        ),
        (
            "<form action=\"JavaScript:go('V')\"></form>",
            "form",
            "action",
            in_js(),
        ),
        (
            "<p onclick=\"go('V')\">x</p>",
            "p",
            "onclick",
            Problem::Handler,
        ),
        (
            "<iframe srcdoc=\"<b>V</b>\"></iframe>",
            "iframe",
            "srcdoc",
            Problem::Srcdoc,
        ),
    ];
    let template: String = places.iter().map(|(t, ..)| *t).collect();
    let template = template
        .replace("V|urlencode", "{{ homepage|urlencode }}")
        .replace('V', "{{ homepage }}");
    let expected: Vec<_> = places
        .iter()
        .map(|(_, e, a, p)| {
            (
                "homepage".to_owned(),
                e.to_string(),
                a.to_string(),
                p.clone(),
            )
        })
        .collect();
    let found = url_findings(&html_campaign(&template, &[breakout, "harmless"]));
    assert_eq!(found, vec![expected.clone(), expected], "{template}");
    // Controls: the same value in an https query passes, as written or percent-encoded; the
    // template's own javascript: URL without a value is the author's (allowed); and the value
    // in an attribute that is neither URL nor script is text.
    let controls = "<a href=\"https://example.org/?q={{ homepage|urlencode }}\">x</a>\
        <area href=\"https://example.org/?q={{ homepage }}\">\
        <a href=\"javascript:history.back()\">{{ homepage }}</a>\
        <p title=\"go('{{ homepage }}')\">x</p>";
    let found = url_findings(&html_campaign(controls, &[breakout]));
    assert_eq!(found, vec![vec![]], "{controls}");
}

#[test]
fn an_html_templates_refused_url_fails_the_message_and_nothing_is_sent() {
    let html = "<p><a href=\"{{ homepage }}\">your page</a></p>\n";
    let bad = html_campaign(
        html,
        &[
            "https://example.org/ann",
            "JavaScript:alert(document.cookie)",
        ],
    );
    let run = isomail_path(&["send", "--yes"], &bad.write());
    run.assert_exit_code(3);
    let err = stderr(&run.output);
    assert!(
        err.contains("recipient #2") && !err.contains("recipient #1"),
        "{err}"
    );
    assert!(
        err.contains("`homepage`") && err.contains("`javascript:` URL"),
        "{err}"
    );
    assert!(
        !err.contains("document.cookie"),
        "the value is shown: {err}"
    );
    let outbox = bad.dir.path().join("outbox/new");
    let sent = std::fs::read_dir(&outbox).map_or(0, |entries| entries.count());
    assert_eq!(sent, 0, "a message went out");
    // Control: with an allowed URL the same campaign sends both messages.
    let good = html_campaign(html, &["https://example.org/ann", "mailto:bob@example.com"]);
    isomail_path(&["send", "--yes"], &good.write()).assert_exit_code(0);
    let sent = std::fs::read_dir(good.dir.path().join("outbox/new"))
        .expect("an outbox")
        .count();
    assert_eq!(sent, 2);
}

#[test]
fn the_host_refuses_a_url_from_recipient_data_whatever_renderer_made_the_html() {
    // A renderer of another contract that returns the HTML template as it is (no URL rules of
    // its own) and the recipient's name after it: what is refused is decided by each
    // recipient's values alone, in the same HTML.
    let mut campaign = CampaignDir::new();
    campaign.renderer = Some(guest("legacy-v010"));
    campaign.subject = "Notice".into();
    campaign.text = "Hello ".into();
    campaign.html = Some(
        "<p><img src=\"javascript:alert(1)\"><a href=\"javascript:go('Cyd Lee')\">x</a>\
         <a onclick=\"hi('Dee Roe')\">y</a></p>"
            .into(),
    );
    campaign.csv = b"email,name,homepage\n\
        ann@example.com,Ann,javascript:alert(1)\n\
        bob@example.com,Bob,https://example.org/bob\n\
        cyd@example.com,Cyd Lee,https://example.org/cyd\n\
        dee@example.com,Dee Roe,https://example.org/dee\n"
        .to_vec();
    let found = url_findings(&campaign);
    let one = |column: &str, element: &str, attribute: &str, problem: Problem| {
        vec![(
            column.to_owned(),
            element.to_owned(),
            attribute.to_owned(),
            problem,
        )]
    };
    assert_eq!(
        found[0],
        one(
            "homepage",
            "img",
            "src",
            Problem::Scheme("javascript".into())
        )
    );
    // Control: the same HTML for Bob, whose values are in none of its script, passes: the
    // template's own javascript: URLs are the author's.
    assert_eq!(found[1], vec![]);
    assert_eq!(
        found[2],
        one("name", "a", "href", Problem::InScript("javascript".into()))
    );
    assert_eq!(found[3], one("name", "a", "onclick", Problem::Handler));
    let run = isomail_path(&["check"], &campaign.path());
    run.assert_exit_code(3);
    let err = stderr(&run.output);
    assert!(
        err.contains("recipient #1") && !err.contains("recipient #2"),
        "{err}"
    );
    assert!(
        err.contains("recipient #3") && err.contains("recipient #4"),
        "{err}"
    );
}
