//! Leak-scan cost at the 2016 list size: build the checks over 383,000 addresses, then scan
//! 383,000 messages of about 1 KiB that mention their own address in three forms. Then the scan
//! rate of one 1 MiB message: an ordinary text, and adversarial ones of each kind a renderer can
//! return to make the scan work hardest, with each one's time as a multiple of the ordinary one.
//!
//! `cargo bench --bench scan [-- N] [-- KIND]` (N recipients, default 383000; with KIND, only
//! the 1 MiB kinds whose name contains it, and not the per-message run; with
//! `SCAN_ONLY_MESSAGES=1`, only the per-message run).

use std::time::{Duration, Instant};

use isomail::checks::Checks;
use isomail::sandbox::Content;

/// The adversarial texts must scan within this multiple of the ordinary text's time.
const TARGET_RATIO: f64 = 5.0;
const MIB: usize = 1 << 20;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(383_000);
    let only: Option<String> = std::env::args()
        .skip(1)
        .find(|a| a.parse::<usize>().is_err() && a != "--bench");
    let addresses: Vec<String> = (0..n)
        .map(|i| format!("user{i}@example{}.com", i % 97))
        .collect();
    let private: Vec<(String, Vec<(String, u32)>)> = vec![(
        "account_id".into(),
        (0..n)
            .map(|i| (format!("AC-{i:08}"), i as u32 + 1))
            .collect(),
    )];
    let started = Instant::now();
    let checks = Checks::new(&addresses, &private).expect("checks");
    let built = started.elapsed();
    if let Some(only) = only {
        rates(&checks, &addresses, Some(&only));
        return;
    }

    let body = "We have updated our subscriber agreement, which governs your use of the service. "
        .repeat(10);
    let started = Instant::now();
    let started_cpu = thread_cpu_time();
    let mut findings = 0;
    for (i, address) in addresses.iter().enumerate() {
        let content = Content {
            subject: format!("Update for {address}"),
            text: format!(
                "Hello {address}, account AC-{i:08}.\n{body}\nUnsubscribe: https://x.org/u?e={}\n",
                address.replace('@', "%40")
            ),
            html: Some(format!(
                "<p>{body}</p><a href=\"mailto:{address}\">{address}</a> &amp; more"
            )),
        };
        findings += checks.message(i + 1, &content).len();
    }
    let scanned = started.elapsed();
    let scanned_cpu = thread_cpu_time().saturating_sub(started_cpu);
    assert_eq!(findings, 0, "clean messages must not be flagged");
    println!(
        "leak scan: {n} recipients; checks built in {:.2} s; {n} messages scanned in {:.2} s ({:.1} µs each, \
         one thread; CPU time {:.2} s)",
        built.as_secs_f64(),
        scanned.as_secs_f64(),
        scanned.as_secs_f64() * 1e6 / n as f64,
        scanned_cpu.as_secs_f64(),
    );

    // SCAN_ONLY_MESSAGES=1: the per-message run alone (for a profiler).
    if std::env::var_os("SCAN_ONLY_MESSAGES").is_none() {
        rates(&checks, &addresses, None);
    }
}

/// One 1 MiB message per kind, scanned for recipient 1, against the ordinary one: each kind and
/// the ordinary text take turns, and the fastest of seven of each counts. Times are the scanning
/// thread's CPU time, so that other processes on a busy machine add nothing.
fn rates(checks: &Checks, addresses: &[String], only: Option<&str>) {
    let own = &addresses[0];
    let other = &addresses[1];
    let ordinary = fill(
        &format!(
            "Dear reader, we have updated our subscriber agreement (see section 4.2, \"Your data\"). \
             Questions? Write to {own} or visit https://x.org/u?e={} & reply before 12/31. ",
            own.replace('@', "%40")
        ),
        "",
    );
    let kinds: Vec<(&str, Content)> = vec![
        ("ordinary text", body(ordinary)),
        (
            "ordinary text, non-ASCII",
            body(fill(
                &format!(
                    "Sehr geehrte Leserin, „Ihre Daten“ — wir haben die Bedingungen geändert; \
                     Здравствуйте, условия изменились. Fragen? {own}. "
                ),
                "",
            )),
        ),
        (
            "run of `=` then @",
            body(fill("=", &format!("@{}", domain(other)))),
        ),
        (
            "run of `%` then @",
            body(fill("%", &format!("@{}", domain(other)))),
        ),
        (
            "run of `&` then @",
            body(fill("&", &format!("@{}", domain(other)))),
        ),
        (
            "run of `.` then @",
            body(fill(".", &format!("@{}", domain(other)))),
        ),
        (
            "run of `'` then @",
            body(fill("'", &format!("@{}", domain(other)))),
        ),
        (
            "one long local part",
            body(fill("a", &format!("@{}", domain(other)))),
        ),
        (
            "62 `=` + @domain, repeated",
            body(fill(&format!("{}@{} ", "=".repeat(62), domain(other)), "")),
        ),
        (
            "one long domain",
            body(format!("a@{}", "b".repeat(MIB - 2))),
        ),
        (
            "long dotted domain",
            body(format!("a@{}", "b.".repeat(MIB / 2 - 1))),
        ),
        ("run of `@`", body(fill("@", ""))),
        ("`a@` repeated", body(fill("a@", ""))),
        ("run of `&#`", body(fill("&#", ""))),
        (
            "`&#` + a million zeros",
            body(fill_between("&#", "0", "64;")),
        ),
        ("`&commat;` repeated", body(fill("a&commat;", ""))),
        ("`%40` repeated", body(fill("a%40", ""))),
        (
            "run of `é` then @",
            body(fill("é", &format!("@{}", domain(other)))),
        ),
        ("run of `İẞ` (fold changes length)", body(fill("İẞ", ""))),
        (
            "private-value prefixes",
            body(fill("AC-0000 AC-00000 ", "")),
        ),
        (
            "another's private value, repeated",
            body(fill("AC-00000001 ", "")),
        ),
        (
            "50,000 other recipients' addresses",
            body(addresses[1..addresses.len().min(50_001)].join(" ")),
        ),
        ("subject: run of `=?ab?q?x`", subject(fill("=?ab?q?x", ""))),
        (
            "subject: encoded-words",
            subject(fill("=?utf-8?q?r=C3=A9sum=C3=A9?= ", "")),
        ),
        // The reader's view: what it undoes, as densely as it can be written.
        ("soft hyphen after every letter", body(fill("a\u{ad}", ""))),
        ("full-width text (NFKC)", body(fill("\u{ff41}\u{ff20}", ""))),
        ("decomposed accents (NFKC)", body(fill("e\u{301}", ""))),
        ("run of `*`", body(fill("*", ""))),
        ("run of RLO", body(fill("\u{202e}", ""))),
        ("RLO ab PDF, repeated", body(fill("\u{202e}ab\u{202c}", ""))),
        (
            "right-to-left text with marks",
            body(fill(&format!("\u{200f}שלום עולם, {own} \u{200f}"), "")),
        ),
        ("HTML: ordinary", html(fill(&ordinary_html(own), ""))),
        ("HTML: tag between every letter", html(fill("a<b>", ""))),
        ("HTML: run of `<`", html(fill("<", ""))),
        ("HTML: run of `&`", html(fill("&", ""))),
        ("HTML: `&shy;` after every letter", html(fill("a&shy;", ""))),
        ("HTML: comments", html(fill("<!--x-->", ""))),
        ("HTML: one tag, 100,000 attributes", html(many_attributes())),
        ("HTML: nested dir=rtl", html(fill("<b dir=rtl>a", ""))),
        (
            "HTML: hidden spans",
            html(fill("<span hidden>a</span>", "")),
        ),
    ];
    println!(
        "scan rate of one 1 MiB message (CPU time, fastest of seven, one thread; ratio = time / ordinary text's, \
         target ≤ {TARGET_RATIO}x):"
    );
    let ordinary = &kinds[0].1;
    let mut over = 0;
    for (name, content) in &kinds {
        if only.is_some_and(|only| !name.contains(only)) {
            continue;
        }
        let (mut fastest, mut fastest_ordinary) = (Duration::MAX, Duration::MAX);
        for _ in 0..7 {
            fastest_ordinary = fastest_ordinary.min(time(checks, ordinary));
            fastest = fastest.min(time(checks, content));
        }
        let size = content.subject.len()
            + content.text.len()
            + content.html.as_ref().map_or(0, String::len);
        let ratio = fastest.as_secs_f64() / fastest_ordinary.as_secs_f64();
        let verdict = if ratio <= TARGET_RATIO {
            ""
        } else {
            over += 1;
            "  OVER TARGET"
        };
        println!(
            "  {name:<38} {:>8.1} MB/s  {:>7.2} ms  {ratio:>5.2}x{verdict}",
            size as f64 / fastest.as_secs_f64() / 1e6,
            fastest.as_secs_f64() * 1e3,
        );
    }
    println!("{over} over {TARGET_RATIO}x the ordinary text's time");
}

fn time(checks: &Checks, content: &Content) -> Duration {
    let started = thread_cpu_time();
    std::hint::black_box(checks.message(1, content));
    thread_cpu_time().saturating_sub(started)
}

/// CPU time of the calling thread (Linux, 64-bit).
fn thread_cpu_time() -> Duration {
    #[repr(C)]
    struct Timespec {
        seconds: i64,
        nanoseconds: i64,
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    unsafe extern "C" {
        fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
    }
    let mut time = Timespec {
        seconds: 0,
        nanoseconds: 0,
    };
    // SAFETY: `time` is a valid, writable timespec; the call only writes it.
    let status = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut time) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(time.seconds as u64, time.nanoseconds as u32)
}

fn domain(address: &str) -> &str {
    address.rsplit('@').next().unwrap_or(address)
}

/// `unit` repeated to 1 MiB less `tail`, then `tail`.
fn fill(unit: &str, tail: &str) -> String {
    let mut text = unit.repeat((MIB - tail.len()) / unit.len());
    text.push_str(tail);
    text
}

/// `head`, `unit` repeated to 1 MiB, `tail`.
fn fill_between(head: &str, unit: &str, tail: &str) -> String {
    let mut text = head.to_string();
    text.push_str(&unit.repeat((MIB - head.len() - tail.len()) / unit.len()));
    text.push_str(tail);
    text
}

/// An ordinary newsletter paragraph, with the recipient's own address linked.
fn ordinary_html(own: &str) -> String {
    format!(
        "<p>Dear reader, we have <b>updated</b> our subscriber agreement (see <a href=\"https://x.org/terms\">\
         section 4.2</a>, &ldquo;Your data&rdquo;). Questions? Write to <a href=\"mailto:{own}\">{own}</a>.</p>\n"
    )
}

/// One start tag with as many distinct attributes as fit in 1 MiB (a tokenizer that looks for
/// duplicates in a list takes quadratic time on it).
fn many_attributes() -> String {
    let mut tag = String::from("<b");
    (0..)
        .take_while(|i| {
            tag.push_str(&format!(" a{i}"));
            tag.len() < MIB - 16
        })
        .for_each(drop);
    tag.push('>');
    tag
}

fn html(html: String) -> Content {
    Content {
        subject: "Notice".into(),
        text: "Hello".into(),
        html: Some(html),
    }
}

fn body(text: String) -> Content {
    Content {
        subject: "Notice".into(),
        text,
        html: None,
    }
}

fn subject(subject: String) -> Content {
    Content {
        subject,
        text: "Hello".into(),
        html: None,
    }
}
