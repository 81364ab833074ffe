//! Render cost: isomail's fresh instance per message against the unsafe baseline, native
//! minijinja in-process with a new Environment per message. Same templates, same recipients,
//! one run, on one thread and on all cores; prints msg/s, µs per message and the ratio.
//!
//! Then the phases of one message (instantiate, render call, drop), with and without the
//! campaign snapshot.
//!
//! Then the Markdown and MJML bodies (issue 13) against the Jinja campaign: the same recipients,
//! the same text, a subject, a text part and an HTML part each, sandboxed and snapshotted alike.
//!
//! `cargo bench --bench render [-- N]` (N recipients per measurement, default 4000).

use std::collections::BTreeMap;
use std::time::Instant;

use isomail::sandbox::{Format, Limits, Recipient, Sandbox, Source, Templates};
use minijinja::{Environment, UndefinedBehavior, Value};

const TEXT: &str = "Hello {{ name }},\n\n\
We have updated our subscriber agreement, which governs your use of the service. The changes \
take effect thirty days from today. Your account {{ account_id }} is on the {{ plan }} plan.\n\
{% if plan == \"pro\" %}As a pro subscriber, your renewal date does not change and your invoices \
stay as they are.\n{% else %}Basic subscribers can upgrade at any time from their account page.\n{% endif %}\
\nWhat changes:\n{% for item in [\"data retention\", \
\"notice periods\", \"dispute resolution\"] %}  - {{ loop.index }}. {{ item | title }}\n{% endfor %}\
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
        format: Format::Plain,
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

/// One way of rendering a message; returns its size (so the work cannot be optimised away).
type RenderFn<'a> = &'a (dyn Fn(&Recipient) -> usize + Sync);

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
fn measure(threads: usize, recipients: &[Recipient], f: RenderFn<'_>) -> f64 {
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

/// `rounds` back-to-back pairs of measurements (baseline, then isomail), so that a slow spell
/// on a shared machine hits both sides of a pair alike. Returns the median msg/s of each side
/// and the median of the per-pair ratios isomail / baseline.
fn compare(
    threads: usize,
    rounds: usize,
    recipients: &[Recipient],
    native: RenderFn<'_>,
    isolated: RenderFn<'_>,
) -> (f64, f64, f64) {
    let mut a = Vec::new();
    let mut b = Vec::new();
    let mut ratios = Vec::new();
    for _ in 0..rounds {
        let (x, y) = (
            measure(threads, recipients, native),
            measure(threads, recipients, isolated),
        );
        a.push(x);
        b.push(y);
        ratios.push(y / x);
    }
    (median(a), median(b), median(ratios))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Average phases of rendering `people` on this thread.
fn phases(sandbox: &Sandbox, templates: &Templates, people: &[Recipient]) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for r in people {
        let (content, p) = sandbox.render_timed(templates, r);
        content.expect("render");
        sum[0] += p.instantiate.as_secs_f64();
        sum[1] += p.call.as_secs_f64();
        sum[2] += p.drop.as_secs_f64();
    }
    sum.map(|s| s * 1e6 / people.len() as f64)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(4000);
    let rounds = 9;
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let templates = templates();
    let people = recipients(n);

    let started = Instant::now();
    let plain = Sandbox::load(Source::Builtin, Limits::default(), cores).expect("sandbox");
    let plain_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let sandbox =
        Sandbox::load_for(Source::Builtin, Limits::default(), cores, &templates).expect("sandbox");
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    assert!(
        sandbox.snapshot().is_some(),
        "the built-in renderer was not snapshotted: {:?}",
        sandbox.unprepared_reason()
    );
    let unmetered = Sandbox::load_for(
        Source::Builtin,
        Limits {
            fuel: 0,
            ..Limits::default()
        },
        cores,
        &templates,
    )
    .expect("sandbox");
    let render_with = |sandbox: &Sandbox, r: &Recipient| {
        let c = sandbox.render(&templates, r).expect("render");
        c.subject.len() + c.text.len() + c.html.map_or(0, |h| h.len())
    };
    let isolated = |r: &Recipient| render_with(&sandbox, r);
    let isolated_unmetered = |r: &Recipient| render_with(&unmetered, r);
    let native = |r: &Recipient| native_render(&templates, r);
    // Warm every path (page cache, pool slots, allocator) before timing.
    measure(cores, &people[..n.min(200)], &isolated);
    measure(cores, &people[..n.min(200)], &isolated_unmetered);
    measure(cores, &people[..n.min(200)], &native);

    println!(
        "render benchmark: {n} recipients per run, {rounds} interleaved pairs of runs \
         (medians; ratio = median of per-pair ratios), {cores} cores"
    );
    println!(
        "sandbox load: {plain_ms:.0} ms as is, {load_ms:.0} ms with the snapshot \
         (compiled components come from the cache after the first run)"
    );
    println!(
        "{:<24} {:<8} {:>13} {:>13} {:>10} {:>10} {:>7}",
        "isomail", "threads", "native msg/s", "isomail msg/s", "native µs", "isomail µs", "ratio"
    );
    let configs: [(&str, RenderFn<'_>); 2] = [
        ("fuel on (default)", &isolated),
        ("fuel = 0 (wall clock)", &isolated_unmetered),
    ];
    for (label, isolated) in configs {
        for threads in [1, cores] {
            let (a, b, ratio) = compare(threads, rounds, &people, &native, isolated);
            println!(
                "{label:<24} {threads:<8} {a:>13.0} {b:>13.0} {:>10.1} {:>10.1} {ratio:>7.2}",
                threads as f64 * 1e6 / a,
                threads as f64 * 1e6 / b,
            );
        }
    }

    let sample = &people[..n.min(2000)];
    println!("phases on one thread, µs per message (instantiate / render call / drop):");
    for (label, sandbox) in [
        ("snapshot", &sandbox),
        ("snapshot, fuel = 0", &unmetered),
        ("unprepared", &plain),
    ] {
        phases(sandbox, &templates, sample);
        let [i, c, d] = phases(sandbox, &templates, sample);
        println!(
            "  {label:<19} {i:>7.1} {c:>7.1} {d:>7.1}   total {:.1}",
            i + c + d
        );
    }

    formats(cores, rounds, &people, &sandbox, &templates);
}

/// The Jinja campaign's message as Markdown: the same words, its list and its link as Markdown.
const MARKDOWN: &str = "Hello {{ name }},\n\n\
We have updated our subscriber agreement, which governs your use of the service. The changes \
take effect thirty days from today. Your account **{{ account_id }}** is on the {{ plan }} plan.\n\n\
{% if plan == \"pro\" %}As a pro subscriber, your renewal date does not change and your invoices \
stay as they are.\n{% else %}Basic subscribers can upgrade at any time from their account page.\n{% endif %}\
\nWhat changes:\n\n{% for item in [\"data retention\", \
\"notice periods\", \"dispute resolution\"] %}{{ loop.index }}. {{ item | title }}\n{% endfor %}\
\nIf you do not agree with the new terms, you may close your account before they take effect. \
Nothing else is required of you.\n\nThis message was sent to [{{ email }}](mailto:{{ email }}) \
because you have an account with us.\n\n-- \nExample Service, 1 Example Street, Example City\n";

/// The Jinja campaign's HTML part as MJML (its text part stays the Jinja text template).
const MJML: &str = "<mjml><mj-body><mj-section><mj-column>\
<mj-text>Hello {{ name }},</mj-text>\
<mj-text>Your account <b>{{ account_id }}</b> is on the {{ plan }} plan.</mj-text>\
<mj-text>This message was sent to <a href=\"mailto:{{ email }}\">{{ email }}</a>.</mj-text>\
</mj-column></mj-section></mj-body></mjml>";

/// Markdown and MJML campaigns against the Jinja one (`jinja`, already warm), interleaved.
fn formats(
    cores: usize,
    rounds: usize,
    people: &[Recipient],
    jinja: &Sandbox,
    jinja_templates: &Templates,
) {
    let markdown = Templates {
        subject: SUBJECT.into(),
        text: MARKDOWN.into(),
        html: None,
        format: Format::Markdown,
    };
    let mjml = Templates {
        subject: SUBJECT.into(),
        text: TEXT.into(),
        html: Some(MJML.into()),
        format: Format::Mjml,
    };
    let size = |sandbox: &Sandbox, templates: &Templates, r: &Recipient| {
        let c = sandbox.render(templates, r).expect("render");
        c.subject.len() + c.text.len() + c.html.map_or(0, |h| h.len())
    };
    let jinja_render = |r: &Recipient| size(jinja, jinja_templates, r);
    println!(
        "formats against the Jinja campaign (same recipients; snapshot, fuel on), µs per message:"
    );
    println!(
        "{:<10} {:<8} {:>11} {:>11} {:>10} {:>10} {:>7} {:>12}",
        "format", "threads", "jinja msg/s", "msg/s", "jinja µs", "µs", "ratio", "bytes/msg"
    );
    for (label, templates) in [("markdown", &markdown), ("mjml", &mjml)] {
        let started = Instant::now();
        let sandbox = Sandbox::load_for(Source::Builtin, Limits::default(), cores, templates)
            .expect("sandbox");
        let load_ms = started.elapsed().as_secs_f64() * 1e3;
        assert!(
            sandbox.snapshot().is_some(),
            "the {label} campaign was not snapshotted: {:?}",
            sandbox.unprepared_reason()
        );
        let render = |r: &Recipient| size(&sandbox, templates, r);
        measure(cores, &people[..people.len().min(200)], &render);
        let bytes = people[..people.len().min(100)]
            .iter()
            .map(render)
            .sum::<usize>()
            / people.len().min(100);
        for threads in [1, cores] {
            let (a, b, ratio) = compare(threads, rounds, people, &jinja_render, &render);
            println!(
                "{label:<10} {threads:<8} {a:>11.0} {b:>11.0} {:>10.1} {:>10.1} {ratio:>7.2} {bytes:>12}",
                threads as f64 * 1e6 / a,
                threads as f64 * 1e6 / b,
            );
        }
        println!("  ({label} sandbox load with its snapshot: {load_ms:.0} ms)");
    }
}
