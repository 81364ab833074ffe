//! The reader's view, disguise class by disguise class: another recipient's address or value
//! so disguised is found, the recipient's own so disguised is not, and without the reader's view
//! (the passes before it only) the disguise is not found, so each test depends on that view.

use super::*;

const LIST: [&str; 5] = [
    "r1@list.test",
    "r2@list.test",
    "josé@x.org",
    "r4@bücher.de",
    "r5@xn--mnchen-3ya.de",
];

fn scanner() -> Scanner {
    let list: Vec<String> = LIST.iter().map(|a| a.to_string()).collect();
    let private = vec![(
        "token".to_string(),
        (1..=5).map(|i| (format!("tok-{i:06}"), i)).collect(),
    )];
    Scanner::new(&list, &private).expect("scanner")
}

/// A disguise: the part it goes in (HTML or text) and what it makes of an address or value.
type Disguise = (&'static str, bool, fn(&str) -> String);

fn around_at(text: &str, with: &str) -> String {
    text.replacen('@', with, 1)
}

fn split_middle(text: &str, with: &str) -> String {
    let mid = text.char_indices().nth(3).map_or(text.len(), |(i, _)| i);
    format!("{}{with}{}", &text[..mid], &text[mid..])
}

const DISGUISES: [Disguise; 30] = [
    ("empty span", true, |a| around_at(a, "<span></span>@")),
    ("bold domain", true, |a| around_at(a, "@<b>") + "</b>"),
    ("wbr", true, |a| around_at(a, "<wbr>@<wbr>")),
    ("comment", true, |a| around_at(a, "<!-- x -->@")),
    ("em (Markdown *@*)", true, |a| around_at(a, "<em>@</em>")),
    ("code span", true, |a| around_at(a, "<code>@</code>")),
    ("hidden span", true, |a| {
        around_at(a, "<span style=\"display:none\">zz</span>@")
    }),
    ("style element", true, |a| {
        around_at(a, "<style>.x{}</style>@")
    }),
    ("soft hyphen", false, |a| split_middle(a, "\u{ad}")),
    ("&shy;", true, |a| split_middle(a, "&shy;")),
    ("zero-width space", false, |a| split_middle(a, "\u{200b}")),
    ("&#8203;", true, |a| split_middle(a, "&#8203;")),
    ("zero-width joiner", false, |a| around_at(a, "\u{200d}@")),
    ("zero-width non-joiner", false, |a| {
        around_at(a, "@\u{200c}")
    }),
    ("word joiner", false, |a| split_middle(a, "\u{2060}")),
    ("BOM", false, |a| around_at(a, "\u{feff}@")),
    ("variation selector", false, |a| around_at(a, "@\u{fe0f}")),
    ("full-width at", false, |a| around_at(a, "\u{ff20}")),
    ("small at", false, |a| around_at(a, "\u{fe6b}")),
    ("full-width letters", false, |a| {
        a.chars()
            .map(|c| match c {
                'a'..='z' => char::from_u32(c as u32 - 'a' as u32 + 0xff41).unwrap_or(c),
                _ => c,
            })
            .collect()
    }),
    ("ideographic full stop", false, |a| {
        a.replace('.', "\u{3002}")
    }),
    ("full-width full stop", false, |a| {
        a.replace('.', "\u{ff0e}")
    }),
    ("halfwidth ideographic full stop", false, |a| {
        a.replace('.', "\u{ff61}")
    }),
    ("NFD", false, |a| a.nfd().collect()),
    ("Markdown *@* in text", false, |a| around_at(a, "*@*")),
    ("Markdown code span in text", false, |a| around_at(a, "`@`")),
    ("reversed in RLO", false, |a| {
        format!("\u{202e}{}\u{202c}", a.chars().rev().collect::<String>())
    }),
    ("reversed in bdo", true, |a| {
        format!("<bdo dir=rtl>{}</bdo>", a.chars().rev().collect::<String>())
    }),
    ("runs turned by RLM", false, |a| {
        let (local, domain) = a.split_once('@').unwrap_or((a, ""));
        format!("\u{2067}{domain}\u{200f}@\u{200f}{local}\u{2069}")
    }),
    ("two at once", true, |a| {
        around_at(&split_middle(a, "&shy;"), "<i></i>\u{ff20}")
    }),
];

use unicode_normalization::UnicodeNormalization;

/// The message a disguise makes of `payload`, with the reader's view or without it.
fn scan(
    s: &Scanner,
    own: usize,
    (_, html, disguise): &Disguise,
    payload: &str,
    reader: bool,
) -> Vec<Leak> {
    let body = format!("Hello, write to {} today.", disguise(payload));
    let parts = [("Hello", false), (body.as_str(), *html)];
    s.scan_parts(own, "Notice", &parts, reader)
}

#[test]
fn every_disguise_of_another_recipients_address_is_seen_through() {
    let s = scanner();
    let mut missed = Vec::new();
    for disguise in &DISGUISES {
        for (i, address) in LIST.iter().enumerate() {
            if disguise.2(address) == *address {
                continue; // NFD of an ASCII address
            }
            let whose = i + 1;
            let other = whose % LIST.len() + 1;
            let found = scan(&s, other, disguise, address, true);
            if found
                != [Leak::Address {
                    whose,
                    form: Form::ReaderView,
                }]
            {
                missed.push(format!(
                    "{} of {address} for #{other}: {found:?}",
                    disguise.0
                ));
            }
            // Own-data control: the recipient's own address, disguised the same way.
            let own = scan(&s, whose, disguise, address, true);
            if !own.is_empty() {
                missed.push(format!("{} of {address}, own: {own:?}", disguise.0));
            }
            // Control: the passes before the reader's view do not see through it.
            let before = scan(&s, other, disguise, address, false);
            if !before.is_empty() {
                missed.push(format!(
                    "{} of {address} found without the view: {before:?}",
                    disguise.0
                ));
            }
        }
    }
    assert!(missed.is_empty(), "{missed:#?}");
}

#[test]
fn every_disguise_of_another_recipients_private_value_is_seen_through() {
    let s = scanner();
    let mut missed = Vec::new();
    // Values have no `@` or dot: the disguises of a text's middle, and reversal.
    let middle: Disguise = ("span in the middle", true, |v| {
        split_middle(v, "<span></span>")
    });
    let names = [
        "soft hyphen",
        "&shy;",
        "zero-width space",
        "&#8203;",
        "word joiner",
        "full-width letters",
        "reversed in RLO",
        "reversed in bdo",
    ];
    let on_values = DISGUISES
        .iter()
        .filter(|(name, _, _)| names.contains(name))
        .chain([&middle]);
    for disguise in on_values {
        let found = scan(&s, 1, disguise, "tok-000002", true);
        let expected = [Leak::Private {
            field: "token".into(),
            whose: vec![2],
            form: Form::ReaderView,
        }];
        if found != expected {
            missed.push(format!("{}: {found:?}", disguise.0));
        }
        let own = scan(&s, 2, disguise, "tok-000002", true);
        if !own.is_empty() {
            missed.push(format!("{}, own: {own:?}", disguise.0));
        }
        let before = scan(&s, 1, disguise, "tok-000002", false);
        if !before.is_empty() {
            missed.push(format!("{} found without the view: {before:?}", disguise.0));
        }
    }
    assert!(missed.is_empty(), "{missed:#?}");
}

#[test]
fn both_idna_forms_of_a_domain_are_anyones_address() {
    let s = scanner();
    for (text, whose) in [
        ("r4@xn--bcher-kva.de", 4),
        ("R4@XN--BCHER-KVA.DE", 4),
        ("r5@münchen.de", 5),
        ("r5@MÜNCHEN.DE", 5),
    ] {
        let found = s.scan(1, "", &[text]);
        assert_eq!(found.len(), 1, "{text}: {found:?}");
        assert!(
            matches!(found[0], Leak::Address { whose: w, .. } if w == whose),
            "{text}"
        );
        assert_eq!(s.scan(whose, "", &[text]), vec![], "{text}");
    }
    // Control: another domain's A-label is nobody's.
    assert_eq!(s.scan(1, "", &["r4@xn--bcher-kvb.de"]), vec![]);
}

#[test]
fn addresses_a_reader_cannot_tell_apart_do_not_weaken_the_exact_passes() {
    // `a*b` and `ab` are one address to the reader's view, two to the exact passes: each
    // still finds the other's address written plainly in its message.
    let list: Vec<String> = ["a*b@x.org", "ab@x.org"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    let private = vec![(
        "t".to_string(),
        vec![("AC*1234".to_string(), 1), ("AC1234".to_string(), 2)],
    )];
    let s = Scanner::new(&list, &private).expect("scanner");
    assert_eq!(
        s.scan(1, "", &["ab@x.org"]),
        vec![Leak::Address {
            whose: 2,
            form: Form::Plain
        }]
    );
    assert_eq!(
        s.scan(2, "", &["a*b@x.org"]),
        vec![Leak::Address {
            whose: 1,
            form: Form::Plain
        }]
    );
    assert_eq!(s.scan(1, "", &["a*b@x.org AC*1234"]), vec![]);
    assert_eq!(s.scan(2, "", &["ab@x.org AC1234"]), vec![]);
    let value = |whose: usize| Leak::Private {
        field: "t".into(),
        whose: vec![whose],
        form: Form::Plain,
    };
    assert_eq!(s.scan(1, "", &["AC1234"]), vec![value(2)]);
    assert_eq!(s.scan(2, "", &["AC*1234"]), vec![value(1)]);
}

#[test]
fn ordinary_html_and_text_pass() {
    // Own data in every place an ordinary message puts it, and text around it that a reader's
    // view rearranges: nothing found.
    let s = scanner();
    let html = "<html><head><title>r1@list.test</title><style>a{}</style></head><body>\
        <p dir=rtl>שלום <b>r1</b>@list.test</p><p>Hi&nbsp;<a href=\"mailto:r1@list.test\">r1&#64;list.test</a>\
        </p><div>tok-000001</div><p>r2</p><p>@list.test is our list</p>\
        <img alt=\"logo\" src=\"https://x.org/u?e=r1%40list.test\"></body></html>";
    let text =
        "Hi **r1@list.test**, your code is `tok-000001`.\n\u{200f}שלום\u{200f} r1@list.test\n";
    assert_eq!(
        s.scan_message(1, "For r1\u{ad}@list.test", text, Some(html)),
        vec![]
    );
}

/// One start tag with distinct attributes to `len` bytes.
fn attributes(len: usize) -> String {
    let mut tag = String::from("<b");
    let mut i = 0;
    while tag.len() < len - 16 {
        tag.push_str(&format!(" a{i}"));
        i += 1;
    }
    tag.push('>');
    tag
}

#[test]
fn html_reading_time_is_linear_in_adversarial_markup() {
    // As scan_time_is_linear_in_adversarial_text (tests.rs), for the HTML part: 256 KiB against
    // its eight 32 KiB pieces, the fastest of five of each.
    let s = scanner();
    let len = 256 << 10;
    let fill = |unit: &str| unit.repeat(len / unit.len());
    let kinds = [
        attributes(len),
        fill("<"),
        fill("&"),
        fill("<!--x-->"),
        fill("<b dir=rtl>a"),
        fill("<span hidden>a"),
        format!("{}{}", "<b dir=rtl>".repeat(125), fill("</i>")),
        fill("a&shy;"),
        fill("<bdo dir=rtl>a"),
    ];
    let timed = |parts: &[&str]| {
        let started = std::time::Instant::now();
        for html in parts {
            std::hint::black_box(s.scan_message(1, "Hi", "Hello", Some(html)));
        }
        started.elapsed()
    };
    let mut superlinear = Vec::new();
    for (kind, html) in kinds.iter().enumerate() {
        // Sixteen pieces: quadratic work would take 16 times as long whole, linear work about
        // as long; the bound leaves room for a machine busy with other tests.
        let cut = |i: usize| super::class::floor_char_boundary(html, html.len() * i / 16);
        let mut short: Vec<&str> = (0..16).map(|i| &html[cut(i)..cut(i + 1)]).collect();
        // One tag's attributes cut in sixteen would be one shorter tag and fifteen pieces of
        // text: compare with sixteen tags of a sixteenth of the attributes each.
        let tags = attributes(len / 16);
        if kind == 0 {
            short = vec![tags.as_str(); 16];
        }
        let (mut small, mut large) = (std::time::Duration::MAX, std::time::Duration::MAX);
        for _ in 0..9 {
            small = small.min(timed(&short));
            large = large.min(timed(&[html]));
        }
        let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-9);
        if ratio >= 6.0 {
            superlinear.push(format!(
                "kind {kind}: {small:?} against {large:?} ({ratio:.1}x)"
            ));
        }
    }
    assert!(superlinear.is_empty(), "{superlinear:#?}");
}
