//! The hand-written corpus (tests/bounces/corpus/plain: one fixture per MTA layout and the
//! controls that must stay out), then each safety property with its control.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use proptest::prelude::*;

use super::blocks::{MAX_DIAGNOSTIC, MAX_RECIPIENTS};
use super::{MAX_SCAN, PlainBounce, extract};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/bounces/corpus/plain")
}

/// From, Subject and body text as the caller passes them: the From as `name <address>`, the
/// first text part (the HTML converted when there is none).
fn read(name: &str) -> (String, String, String) {
    let raw = std::fs::read(corpus().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let m = MessageParser::default()
        .parse(&raw)
        .unwrap_or_else(|| panic!("{name}: not a message"));
    let from = m
        .from()
        .and_then(|a| a.first())
        .map(|a| {
            format!(
                "{} <{}>",
                a.name().unwrap_or_default(),
                a.address().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let subject = m.subject().unwrap_or_default().to_string();
    let body = m
        .body_text(0)
        .unwrap_or_else(|| panic!("{name}: no text part"))
        .into_owned();
    (from, subject, body)
}

fn extract_file(name: &str) -> Option<PlainBounce> {
    let (from, subject, body) = read(name);
    extract(&from, &subject, &body)
}

/// One expected failure: address ("-" for none), permanence, words the reason must contain.
struct Expected {
    address: Option<String>,
    permanent: Option<bool>,
    words: Vec<String>,
}

/// expected.tsv, by file: Some(failures) for a bounce, None for a control.
fn expected() -> BTreeMap<String, Option<Vec<Expected>>> {
    let tsv = std::fs::read_to_string(corpus().join("expected.tsv")).expect("expected.tsv");
    let mut out: BTreeMap<String, Option<Vec<Expected>>> = BTreeMap::new();
    for (n, line) in tsv
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.split('\t').collect();
        let at = format!("expected.tsv line {}", n + 1);
        match fields.as_slice() {
            [file, "none"] => assert!(
                out.insert(file.to_string(), None).is_none(),
                "{at}: {file} twice"
            ),
            [file, address, permanent, reason, ..] => {
                let permanent = match *permanent {
                    "yes" => Some(true),
                    "no" => Some(false),
                    "-" => None,
                    other => panic!("{at}: permanent is {other:?}"),
                };
                let address = (*address != "-").then(|| address.to_string());
                let words = reason.split_whitespace().map(str::to_lowercase).collect();
                let entry = out
                    .entry(file.to_string())
                    .or_insert_with(|| Some(Vec::new()));
                entry
                    .as_mut()
                    .unwrap_or_else(|| panic!("{at}: {file} is also a control"))
                    .push(Expected {
                        address,
                        permanent,
                        words,
                    });
            }
            _ => panic!("{at}: want 2 or 4 tab-separated fields: {line:?}"),
        }
    }
    out
}

/// What is wrong with one fixture's result, one problem a line (empty when it matches).
fn compare(name: &str, want: &Option<Vec<Expected>>, got: &Option<PlainBounce>) -> Vec<String> {
    let (want, got) = match (want, got) {
        (None, None) => return vec![],
        (None, Some(g)) => return vec![format!("{name}: a control, recognised as {g:?}")],
        (Some(_), None) => return vec![format!("{name}: not recognised")],
        (Some(w), Some(g)) => (w, g),
    };
    let mut problems = vec![];
    for w in want {
        let Some(f) = got.failures.iter().find(|f| f.address == w.address) else {
            problems.push(format!(
                "{name}: no failure for {:?} in {:?}",
                w.address, got.failures
            ));
            continue;
        };
        if f.permanent != w.permanent {
            problems.push(format!(
                "{name}: {:?} permanent {:?}, want {:?}",
                w.address, f.permanent, w.permanent
            ));
        }
        let diagnostic = f.diagnostic.to_lowercase();
        let missing: Vec<&String> = w
            .words
            .iter()
            .filter(|word| !diagnostic.contains(word.as_str()))
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{name}: {:?} reason {:?} lacks {missing:?}",
                w.address, f.diagnostic
            ));
        }
    }
    for f in &got.failures {
        if !want.iter().any(|w| w.address == f.address) {
            problems.push(format!("{name}: unexpected failure {f:?}"));
        }
    }
    problems
}

#[test]
fn every_fixture_gives_what_expected_tsv_says() {
    let expected = expected();
    let mut files: Vec<String> = std::fs::read_dir(corpus())
        .expect("the corpus")
        .map(|e| {
            e.expect("a corpus entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".eml"))
        .collect();
    files.sort();
    let mut problems = vec![];
    for name in expected.keys().filter(|k| !files.contains(k)) {
        problems.push(format!("{name}: in expected.tsv, no such file"));
    }
    let (mut wanted, mut found, mut controls) = (0, 0, 0);
    let mut families: BTreeMap<&str, usize> = BTreeMap::new();
    for name in &files {
        let Some(want) = expected.get(name) else {
            problems.push(format!("{name}: not in expected.tsv"));
            continue;
        };
        let got = extract_file(name);
        for f in got
            .iter()
            .flat_map(|g| g.failures.iter().map(move |f| (g.family, f)))
        {
            println!(
                "{name}\t{}\t{:?}\t{:?}\t{}",
                f.0, f.1.address, f.1.permanent, f.1.diagnostic
            );
        }
        let mine = compare(name, want, &got);
        if let (Some(w), Some(g)) = (want, &got) {
            *families.entry(g.family).or_default() += 1;
            wanted += w.len();
            found += w.len() - mine.iter().filter(|p| p.contains("no failure for")).count();
        }
        controls += usize::from(want.is_none());
        problems.extend(mine);
    }
    println!("families: {families:?}");
    println!(
        "{} fixtures, {controls} controls; recipients recognised {found}/{wanted} = {:.1} %",
        files.len(),
        100.0 * found as f64 / wanted.max(1) as f64
    );
    assert!(
        files.len() >= 36 && controls >= 6 && families.len() >= 15,
        "the corpus shrank"
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

#[test]
fn comparison_catches_a_wrong_result() {
    // Control of the corpus test itself: each kind of wrong answer is reported.
    let want = Some(vec![Expected {
        address: Some("a@example.com".into()),
        permanent: Some(true),
        words: vec!["unknown".into()],
    }]);
    let right = extract(
        "MAILER-DAEMON@example.net",
        "Undelivered Mail Returned to Sender",
        "This is the mail system at host example.net.\n\n<a@example.com>: 550 5.1.1 User unknown\n",
    );
    assert!(
        compare("x", &want, &right).is_empty(),
        "{:?}",
        compare("x", &want, &right)
    );
    let mut wrong = right.clone().expect("recognised");
    wrong.failures[0].permanent = Some(false);
    assert_eq!(compare("x", &want, &Some(wrong.clone())).len(), 1);
    wrong.failures[0].diagnostic = "mailbox full".into();
    assert_eq!(compare("x", &want, &Some(wrong.clone())).len(), 2);
    wrong.failures[0].address = Some("b@example.com".into());
    assert_eq!(compare("x", &want, &Some(wrong)).len(), 2);
    assert_eq!(compare("x", &want, &None).len(), 1);
    assert_eq!(compare("x", &None, &right).len(), 1);
}

const POSTFIX: &str = "This is the mail system at host mx.example.net.\n\n\
    I'm sorry to have to inform you that your message could not\n\
    be delivered to one or more recipients.\n\n\
    <a@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1 <a@example.com>:\n    \
    Recipient address rejected: User unknown (in reply to RCPT TO command)\n";
const DAEMON: &str = "Mail Delivery System <MAILER-DAEMON@mx.example.net>";
const SUBJECT: &str = "Undelivered Mail Returned to Sender";

fn addresses(found: &Option<PlainBounce>) -> Vec<Option<String>> {
    found
        .iter()
        .flat_map(|b| b.failures.iter().map(|f| f.address.clone()))
        .collect()
}

#[test]
fn replies_forwards_and_auto_replies_stay_out_however_much_bounce_they_quote() {
    assert!(
        extract(DAEMON, SUBJECT, POSTFIX).is_some(),
        "control: the notice itself"
    );
    for subject in [
        "Re: Undelivered Mail Returned to Sender",
        "Fwd: Undelivered Mail Returned to Sender",
    ] {
        assert_eq!(
            extract("Ann <ann@example.org>", subject, POSTFIX),
            None,
            "{subject}"
        );
    }
    for subject in [
        "Automatic reply: offers",
        "Out of Office: offers",
        "Please confirm your message",
    ] {
        assert_eq!(extract(DAEMON, subject, POSTFIX), None, "{subject}");
    }
    // A bounce's Subject repeats the original's, whatever that says; an auto-reply's too.
    assert!(extract(DAEMON, "Undeliverable: Our weekly newsletter", POSTFIX).is_some());
    assert!(
        extract(
            DAEMON,
            "Mail delivery failed: Out of office policy",
            POSTFIX
        )
        .is_some()
    );
    assert_eq!(
        extract(DAEMON, "Out of Office: Undeliverable parcels", POSTFIX),
        None
    );
    // Without a marker, the From alone or the Subject alone is not enough.
    let bare = "<a@example.com>: 550 5.1.1 User unknown\n";
    assert_eq!(extract("Ann <ann@example.org>", SUBJECT, bare), None);
    assert_eq!(
        extract(DAEMON, "Hello", "Your invoice is attached.\n"),
        None
    );
    assert!(
        extract(DAEMON, SUBJECT, bare).is_some(),
        "control: both together"
    );
}

#[test]
fn a_quoted_marker_does_not_count() {
    let quoted: String = POSTFIX.lines().map(|l| format!("> {l}\n")).collect();
    assert_eq!(
        extract("Ann <ann@example.org>", "About: mail delivery", &quoted),
        None
    );
    assert!(
        extract("Ann <ann@example.org>", "About: mail delivery", POSTFIX).is_some(),
        "control"
    );
}

#[test]
fn nothing_after_the_start_of_the_returned_copy_is_read() {
    let tail = "\nb@example.net: 550 5.1.1 User unknown\n";
    for marker in [
        "--- Below this line is a copy of the message.",
        "Original message headers:",
        "Received: from x",
    ] {
        let body = format!("{POSTFIX}\n{marker}\n{tail}");
        let found = extract(DAEMON, SUBJECT, &body);
        assert_eq!(
            addresses(&found),
            [Some("a@example.com".to_string())],
            "{marker}"
        );
    }
    // Control: without the marker the same line is a second failure.
    let found = extract(DAEMON, SUBJECT, &format!("{POSTFIX}{tail}"));
    assert_eq!(addresses(&found).len(), 2);
    // An indented "Received: from" (a summary of the original's headers) does not end it.
    let found = extract(
        DAEMON,
        SUBJECT,
        &format!("{POSTFIX}  Received: from x\n{tail}"),
    );
    assert_eq!(addresses(&found).len(), 2);
}

#[test]
fn system_mailboxes_are_never_failed_recipients() {
    let body = format!("{POSTFIX}\npostmaster@mx.example.net: send questions here\n");
    assert_eq!(addresses(&extract(DAEMON, SUBJECT, &body)).len(), 1);
    let control = format!("{POSTFIX}\npostman@mx.example.net: 550 no such user\n");
    assert_eq!(addresses(&extract(DAEMON, SUBJECT, &control)).len(), 2);
}

#[test]
fn a_notice_naming_nobody_still_counts_with_its_reason() {
    let body = "This message was created automatically by mail delivery software.\n\n\
        A message that you sent could not be delivered.\n\n550 5.7.1 Message rejected\n";
    let found = extract(DAEMON, "Mail delivery failed", body).expect("recognised");
    assert_eq!(found.failures.len(), 1);
    assert_eq!(found.failures[0].address, None);
    assert_eq!(found.failures[0].diagnostic, "550 5.7.1 Message rejected");
    assert_eq!(found.failures[0].permanent, Some(true));
}

#[test]
fn permanence_is_read_per_section_and_a_warning_wins_over_the_notice_wording() {
    let body = "----- The following addresses had permanent fatal errors -----\n<a@example.com>\n\
        \n----- The following addresses had transient non-fatal errors -----\n<b@example.com>\n";
    let found =
        extract(DAEMON, "Returned mail: see transcript for details", body).expect("recognised");
    let permanent: Vec<Option<bool>> = found.failures.iter().map(|f| f.permanent).collect();
    assert_eq!(permanent, [Some(true), Some(false)]);
    let warning = POSTFIX.replace("I'm sorry", "# THIS IS A WARNING ONLY. #\nI'm sorry");
    assert_eq!(
        extract(DAEMON, "Delayed Mail", &warning)
            .expect("warning")
            .failures[0]
            .permanent,
        Some(false)
    );
    assert_eq!(
        extract(DAEMON, SUBJECT, POSTFIX).expect("control").failures[0].permanent,
        Some(true)
    );
}

#[test]
fn a_list_of_addresses_shares_the_reason_that_follows_or_precedes_it() {
    let after = "Your message\n\nwas not delivered to:\n\n  a@example.com\n  b@example.com\n\nbecause:\n\n  \
        disk quota exceeded\n";
    let found = extract("Postmaster@example.net", "DELIVERY FAILURE", after).expect("recognised");
    assert!(
        found
            .failures
            .iter()
            .all(|f| f.diagnostic.contains("quota exceeded")),
        "{found:?}"
    );
    let before = "Could not be delivered because of\n\n550 5.1.1 User unknown\n\n\
        The following recipients were affected:\n  a@example.com\n  b@example.com\n";
    let found =
        extract("Postmaster@example.net", "Undeliverable Mail", before).expect("recognised");
    assert!(
        found
            .failures
            .iter()
            .all(|f| f.diagnostic == "550 5.1.1 User unknown"),
        "{found:?}"
    );
}

#[test]
fn output_is_bounded() {
    let many: String = (0..MAX_RECIPIENTS + 500)
        .map(|n| format!("<u{n}@example.com>: 550 5.1.1 unknown\n"))
        .collect();
    let found = extract(DAEMON, SUBJECT, &format!("{POSTFIX}{many}")).expect("recognised");
    assert_eq!(found.failures.len(), MAX_RECIPIENTS);
    let long = format!("{POSTFIX}<z@example.com>: 550 {}\n", "word ".repeat(5_000));
    let found = extract(DAEMON, SUBJECT, &long).expect("recognised");
    let reason = &found.failures[1].diagnostic;
    assert_eq!(reason.chars().count(), MAX_DIAGNOSTIC);
    // Control: a reason under the limit is whole.
    let short = format!("{POSTFIX}<z@example.com>: 550 {}\n", "word ".repeat(100));
    let found = extract(DAEMON, SUBJECT, &short).expect("recognised");
    assert_eq!(
        found.failures[1].diagnostic,
        format!("550 {}", "word ".repeat(100).trim_end())
    );
}

#[test]
fn only_the_first_512_kib_is_read() {
    let person = "Ann <ann@example.org>";
    let pad = "x".repeat(79) + "\n";
    let near = format!("{}{POSTFIX}", pad.repeat((MAX_SCAN - 4096) / 80));
    assert!(
        extract(person, SUBJECT, &near).is_some(),
        "control: a marker inside the limit"
    );
    let far = format!("{}{POSTFIX}", pad.repeat(MAX_SCAN / 80 + 1));
    assert_eq!(extract(person, SUBJECT, &far), None);
}

/// Runs `f` and returns how long it took.
fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

#[test]
fn hostile_bodies_take_linear_time() {
    let size = MAX_SCAN;
    let line = "<a@example.com>: host mx[192.0.2.1] said: 550 5.1.1 <a@example.com>... x\n";
    let bodies = [
        (
            "one repeated failure",
            format!("{POSTFIX}{}", line.repeat(size / line.len())),
        ),
        (
            "one long line of addresses",
            format!("{POSTFIX}{}", "a@b.example.com ".repeat(size / 16)),
        ),
        (
            "markers only",
            "This is the mail system at host x.\n".repeat(size / 35),
        ),
        ("rules only", "-".repeat(size)),
        (
            "a long local part",
            format!("{POSTFIX}{}@", "a".repeat(size)),
        ),
        ("dots", format!("{POSTFIX}a@{}", "b.".repeat(size / 2))),
    ];
    for (what, body) in &bodies {
        let took = timed(|| {
            extract(DAEMON, SUBJECT, body);
        });
        println!("{what}: {} KiB in {took:?}", body.len() >> 10);
        assert!(took < Duration::from_secs(3), "{what}: {took:?}");
    }
}

/// Pieces bounces are made of, for the concatenation property.
fn piece() -> impl Strategy<Value = String> {
    let fixed: Vec<String> = super::markers::starts()
        .chain(super::markers::ends())
        .chain([
            "\n",
            "\n\n",
            "> ",
            "  ",
            "<a@example.com>",
            "b@example.net:",
            "550 5.1.1 ",
            "-----",
            "ü",
        ])
        .map(String::from)
        .collect();
    prop_oneof![proptest::sample::select(fixed), ".{0,40}"]
}

fn bounded(found: &Option<PlainBounce>) -> bool {
    found.as_ref().is_none_or(|b| {
        !b.failures.is_empty()
            && b.failures.len() <= MAX_RECIPIENTS
            && b.failures.iter().all(|f| {
                f.diagnostic.chars().count() <= MAX_DIAGNOSTIC && !f.diagnostic.contains('\n')
            })
    })
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(from in ".{0,60}", subject in ".{0,60}", body in ".{0,2000}") {
        prop_assert!(bounded(&extract(&from, &subject, &body)));
    }

    #[test]
    fn any_mix_of_markers_never_panics(pieces in proptest::collection::vec(piece(), 0..80)) {
        let body: String = pieces.concat();
        prop_assert!(bounded(&extract(DAEMON, SUBJECT, &body)));
        prop_assert!(bounded(&extract("x", "", &body)));
    }
}
