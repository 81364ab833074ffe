//! Render cost: isomail's fresh instance per message against the unsafe baseline, native
//! minijinja in-process with a new Environment per message. Same templates, same recipients,
//! one run, on one thread and on all cores; prints msg/s, µs per message and the ratio.
//!
//! `cargo bench --bench render [-- N]` (N recipients per measurement, default 4000).

use std::collections::BTreeMap;
use std::time::Instant;

use isomail::sandbox::{Limits, Recipient, Sandbox, Source, Templates};
use minijinja::{Environment, UndefinedBehavior, Value};

const TEXT: &str = "Hello {{ name }},\n\n\
We have updated our subscriber agreement, which governs your use of the service. The changes \
take effect thirty days from today. Your account {{ account_id }} is on the {{ plan }} plan.\n\
{% if plan == \"pro\" %}As a pro subscriber, your renewal date does not change and your invoices \
stay as they are.\n{% else %}Basic subscribers can upgrade at any time from their account page.\n{% endif %}\
\nWhat changes:\n{% for item in [\"data retention\", \"notice periods\", \"dispute resolution\"] %}  - {{ loop.index }}. {{ item | title }}\n{% endfor %}\
\nIf you do not agree with the new terms, you may close your account before they take effect. \
Nothing else is required of you.\n\nThis message was sent to {{ email }} because you have an \
account with us.\n\n-- \nExample Service, 1 Example Street, Example City\n";
const HTML: &str = "<p>Hello {{ name }},</p><p>Your account <b>{{ account_id }}</b> is on the {{ plan }} plan.</p>\
<p>This message was sent to <a href=\"mailto:{{ email }}\">{{ email }}</a>.</p>";
const SUBJECT: &str = "Update to our subscriber agreement, {{ name }}";

fn templates() -> Templates {
    Templates {
        subject: SUBJECT.into(),
        text: TEXT.into(),
        html: Some(HTML.into()),
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
                    if i % 3 == 0 {
                        "pro".into()
                    } else {
                        "basic".into()
                    },
                ),
                (
                    "account_id".into(),
                    format!("AC-{:08}", i * 7919 % 99_999_989),
                ),
            ],
        })
        .collect()
}

/// The unsafe baseline: what a mailer without isolation does per message.
fn native_render(t: &Templates, r: &Recipient) -> usize {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_template("subject.txt", &t.subject)
        .expect("subject");
    env.add_template("text.txt", &t.text).expect("text");
    env.add_template("body.html", t.html.as_deref().unwrap_or(""))
        .expect("html");
    let mut ctx: BTreeMap<String, Value> = r
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    ctx.insert("email".into(), Value::from(r.email.as_str()));
    let ctx = Value::from(ctx);
    ["subject.txt", "text.txt", "body.html"]
        .iter()
        .map(|name| {
            env.get_template(name)
                .and_then(|t| t.render(&ctx))
                .expect("render")
                .len()
        })
        .sum()
}

/// Runs `f` over all recipients on `threads` threads; returns messages per second.
fn measure(
    threads: usize,
    recipients: &[Recipient],
    f: &(dyn Fn(&Recipient) -> usize + Sync),
) -> f64 {
    let chunk = recipients.len().div_ceil(threads);
    let started = Instant::now();
    let total: usize = std::thread::scope(|s| {
        let handles: Vec<_> = recipients
            .chunks(chunk)
            .map(|part| {
                std::thread::Builder::new()
                    .stack_size(16 << 20)
                    .spawn_scoped(s, move || part.iter().map(f).sum::<usize>())
                    .expect("thread")
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("join")).sum()
    });
    assert!(total > 0);
    recipients.len() as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(4000);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let templates = templates();
    let people = recipients(n);

    let load_started = Instant::now();
    let sandbox = Sandbox::load(Source::Builtin, Limits::default(), cores).expect("sandbox");
    let load_ms = load_started.elapsed().as_secs_f64() * 1e3;
    let isolated = |r: &Recipient| {
        let c = sandbox.render(&templates, r).expect("render");
        c.subject.len() + c.text.len() + c.html.map_or(0, |h| h.len())
    };
    let native = |r: &Recipient| native_render(&templates, r);
    // Warm both paths (page cache, pool slots, allocator) before timing.
    measure(cores, &people[..n.min(200)], &isolated);
    measure(cores, &people[..n.min(200)], &native);

    println!(
        "render benchmark: {n} recipients per run, {cores} cores, sandbox load {load_ms:.0} ms"
    );
    println!(
        "{:<8} {:>14} {:>14} {:>10} {:>10} {:>8}",
        "threads", "native msg/s", "isomail msg/s", "native µs", "isomail µs", "ratio"
    );
    for threads in [1, cores] {
        let a = measure(threads, &people, &native);
        let b = measure(threads, &people, &isolated);
        println!(
            "{threads:<8} {a:>14.0} {b:>14.0} {:>10.1} {:>10.1} {:>8.2}",
            threads as f64 * 1e6 / a,
            threads as f64 * 1e6 / b,
            b / a
        );
    }
}
