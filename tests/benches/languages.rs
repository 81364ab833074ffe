//! Per-message render cost by template language, in one run: the built-in renderer with Jinja,
//! Markdown and MJML templates, and the example renderers in Python and JavaScript, each given
//! the same recipients and templates that say the same words. Also each component's size and
//! its cold (compiled) and warm (from isomail's compile cache) load time.
//!
//! The baseline is the Jinja campaign: every round measures each language back to back, and the
//! ratio printed is the median of the per-round ratios to Jinja (a shared machine's slow spells
//! then hit both sides of a ratio alike). Rendering is on one thread, one fresh instance per
//! message, as `check` and `send` do.
//!
//! `cargo bench -p isomail-tests --bench languages [-- N]` (N recipients per round, default 500).
//! The Python and JavaScript components are built by tests/build.rs when tests/run.sh has
//! installed their tools; without them those rows say so.

use std::path::Path;
use std::time::Instant;

use isomail::sandbox::{BUILTIN_RENDERER, Format, Limits, Recipient, Sandbox, Source, Templates};

const SUBJECT: &str = "Update to our subscriber agreement, {{ name }}";

/// The words every language's templates say; `{{ x }}` becomes each language's placeholder.
const WORDS: &str = "Hello {{ name }},\n\n\
We have updated our subscriber agreement, which governs your use of the service. The changes \
take effect thirty days from today. Your account {{ account_id }} is on the {{ plan }} plan.\n\n\
If you do not agree with the new terms, you may close your account before they take effect. \
Nothing else is required of you.\n\nThis message was sent to {{ email }} because you have an \
account with us.\n\n-- \nExample Service, 1 Example Street, Example City\n";

const HTML: &str = "<p>Hello {{ name }},</p><p>We have updated our subscriber agreement. Your \
account <b>{{ account_id }}</b> is on the {{ plan }} plan.</p><p>This message was sent to \
<a href=\"mailto:{{ email }}\">{{ email }}</a>.</p>";

const MARKDOWN: &str = "# Hello {{ name }},\n\n\
We have updated our **subscriber agreement**, which governs your use of the service. The \
changes take effect thirty days from today. Your account **{{ account_id }}** is on the \
*{{ plan }}* plan.\n\n\
- If you do not agree with the new terms, you may close your account before they take effect.\n\
- Nothing else is required of you.\n\n\
This message was sent to [{{ email }}](mailto:{{ email }}) because you have an account with \
us.\n\n-- \nExample Service, 1 Example Street, Example City\n";

const MJML: &str = "<mjml><mj-body><mj-section><mj-column>\
<mj-text font-size=\"20px\">Hello {{ name }},</mj-text>\
<mj-text>We have updated our subscriber agreement. Your account <b>{{ account_id }}</b> is on \
the {{ plan }} plan.</mj-text>\
<mj-button href=\"mailto:{{ email }}\">Write to us</mj-button>\
<mj-text>This message was sent to {{ email }}.</mj-text>\
</mj-column></mj-section></mj-body></mjml>";

/// Jinja's `{{ x }}` written as the Python example's `$x`.
fn dollars(template: &str) -> String {
    let mut out = template.to_owned();
    for name in ["name", "account_id", "plan", "email"] {
        out = out.replace(&format!("{{{{ {name} }}}}"), &format!("${{{name}}}"));
    }
    out
}

fn templates(format: Format, subject: &str, text: &str, html: Option<&str>) -> Templates {
    Templates {
        subject: subject.into(),
        text: text.into(),
        html: html.map(Into::into),
        format,
    }
}

fn recipients(n: usize) -> Vec<Recipient> {
    (0..n)
        .map(|i| Recipient {
            email: format!("person{i}@example.com"),
            fields: vec![
                ("name".into(), format!("Person Number {i}")),
                (
                    "plan".into(),
                    if i % 3 == 0 { "pro" } else { "basic" }.into(),
                ),
                (
                    "account_id".into(),
                    format!("AC-{:08}", i * 7919 % 99_999_989),
                ),
            ],
        })
        .collect()
}

struct Language {
    name: &'static str,
    bytes: Vec<u8>,
    builtin: bool,
    templates: Templates,
}

/// Loads `language` with the compile cache in `cache` (set by `main`); returns the sandbox and
/// how long loading took, in milliseconds.
fn load(language: &Language) -> (Sandbox, f64) {
    let path = Path::new(language.name);
    let source = if language.builtin {
        Source::Builtin
    } else {
        Source::File {
            path,
            bytes: &language.bytes,
        }
    };
    let started = Instant::now();
    let sandbox = Sandbox::load_for(source, Limits::default(), 1, &language.templates)
        .unwrap_or_else(|e| panic!("{}: {e}", language.name));
    (sandbox, started.elapsed().as_secs_f64() * 1e3)
}

/// Microseconds per message, rendering every recipient on this thread.
fn per_message(sandbox: &Sandbox, templates: &Templates, people: &[Recipient]) -> f64 {
    let started = Instant::now();
    let mut bytes = 0;
    for r in people {
        let c = sandbox
            .render(templates, r)
            .unwrap_or_else(|e| panic!("render: {e}"));
        bytes += c.subject.len() + c.text.len() + c.html.map_or(0, |h| h.len());
    }
    assert!(bytes > 0);
    started.elapsed().as_secs_f64() * 1e6 / people.len() as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500);
    let rounds = 7;
    let cache = tempfile::tempdir().expect("temp dir");
    // SAFETY: set before any other thread exists; isomail reads it when it opens its cache.
    unsafe { std::env::set_var("ISOMAIL_CACHE_DIR", cache.path()) };

    let mut languages = vec![
        Language {
            name: "Jinja (built-in)",
            bytes: BUILTIN_RENDERER.to_vec(),
            builtin: true,
            templates: templates(Format::Plain, SUBJECT, WORDS, Some(HTML)),
        },
        Language {
            name: "Markdown (built-in)",
            bytes: BUILTIN_RENDERER.to_vec(),
            builtin: true,
            templates: templates(Format::Markdown, SUBJECT, MARKDOWN, None),
        },
        Language {
            name: "MJML (built-in)",
            bytes: BUILTIN_RENDERER.to_vec(),
            builtin: true,
            templates: templates(Format::Mjml, SUBJECT, WORDS, Some(MJML)),
        },
    ];
    let mut absent = Vec::new();
    for (name, file, subject, text, html) in [
        (
            "Python (componentize-py)",
            option_env!("GUEST_PY_EXAMPLE"),
            dollars(SUBJECT),
            dollars(WORDS),
            dollars(HTML),
        ),
        (
            "JavaScript (componentize-qjs)",
            option_env!("GUEST_JS_EXAMPLE"),
            SUBJECT.to_owned(),
            WORDS.to_owned(),
            HTML.to_owned(),
        ),
    ] {
        match file.map(std::fs::read) {
            Some(Ok(bytes)) => languages.push(Language {
                name,
                bytes,
                builtin: false,
                templates: templates(Format::Plain, &subject, &text, Some(&html)),
            }),
            _ => absent.push(name),
        }
    }

    let people = recipients(n);
    println!(
        "render cost by language: {n} recipients per round, {rounds} rounds, one thread, a fresh instance per message"
    );
    println!(
        "{:<30} {:>10} {:>12} {:>10} {:>12} {:>16}",
        "", "component", "cold load", "warm load", "µs/message", "ratio to Jinja"
    );
    let mut loaded = Vec::new();
    for language in &languages {
        // The first load compiles (and, for the built-in renderer, snapshots the campaign); the
        // second finds both in the cache.
        let (_, cold) = load(language);
        let (sandbox, warm) = load(language);
        // Warm the pool slot, page cache and allocator before timing.
        per_message(&sandbox, &language.templates, &people[..n.min(50)]);
        loaded.push((language, sandbox, cold, warm));
    }
    let mut costs: Vec<Vec<f64>> = vec![Vec::new(); loaded.len()];
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); loaded.len()];
    for _ in 0..rounds {
        let round: Vec<f64> = loaded
            .iter()
            .map(|(language, sandbox, ..)| per_message(sandbox, &language.templates, &people))
            .collect();
        for (i, cost) in round.iter().enumerate() {
            costs[i].push(*cost);
            ratios[i].push(cost / round[0]);
        }
    }
    for (i, (language, _, cold, warm)) in loaded.iter().enumerate() {
        println!(
            "{:<30} {:>7.1} MB {:>9.0} ms {:>7.1} ms {:>12.1} {:>16.2}",
            language.name,
            language.bytes.len() as f64 / 1e6,
            cold,
            warm,
            median(costs[i].clone()),
            median(ratios[i].clone()),
        );
    }
    for name in absent {
        println!("{name:<30} not built: run tests/run.sh once, which installs its tool");
    }
}
