//! Renderers written in JavaScript (made components by componentize-qjs, see tests/build.rs) get
//! the same isolation as any other: the 2016 bug written in JavaScript leaks nothing through
//! isomail and does leak in one reused instance; the capability probe sees nothing, the same for
//! every recipient, while its controls show what it would report; a loop or a memory hoard
//! stops at its limit, that message alone; the example renderer of
//! guest/javascript renders and refuses as its README says; a second `check` reuses the compiled
//! component from the cache.

use crate::util::{
    CampaignDir, Seen, addresses_in, assert_accumulates, cache_entries, check_with_cache, guest,
    isomail_path, leaking, observe, outcomes, private_cache, render_campaign, set_entry_time,
    stderr, texts,
};
use isomail::sandbox::{
    self, Content, Contract, Format, Limit, Limits, RenderError, RenderFailure, Sandbox, Source,
};

fn list(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("r{i}@list.test")).collect()
}

fn recipients(emails: &[String], fields: &[(&str, &str)]) -> Vec<sandbox::Recipient> {
    emails
        .iter()
        .map(|email| sandbox::Recipient {
            email: email.clone(),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        })
        .collect()
}

fn templates(subject: &str) -> sandbox::Templates {
    sandbox::Templates {
        subject: subject.into(),
        text: "body\n".into(),
        html: None,
        format: Format::Plain,
    }
}

fn load(guest_name: &str) -> Sandbox {
    let path = guest(guest_name);
    let bytes = std::fs::read(&path).expect("guest");
    let source = Source::File {
        path: &path,
        bytes: &bytes,
    };
    Sandbox::load(source, Limits::default(), 1).expect("load")
}

/// Every message of `recipients` rendered in ONE instance of the guest: the 2016 mailer's shape.
fn one_instance(
    guest_name: &str,
    templates: &sandbox::Templates,
    recipients: &[sandbox::Recipient],
) -> Vec<Result<Content, RenderFailure>> {
    load(guest_name).render_all_in_one_instance_for_control(templates, recipients)
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-qjs",
    ignore = "componentize-qjs is not installed (tests/run.sh)"
)]
fn javascript_accumulator_leaks_nothing_through_isomail() {
    let mut campaign = CampaignDir::new().numbered(300);
    campaign.renderer = Some(guest("js-hostile"));
    campaign.subject = "accumulate".into();
    let (messages, failed) = render_campaign(&campaign.write(), 2);
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(messages.len(), 300);
    assert_eq!(leaking(&texts(&messages), &list(300)), Vec::<usize>::new());
    for m in &messages {
        assert_eq!(
            m.content.text,
            format!("recipients so far:\nr{}@list.test\n", m.index),
            "message {}",
            m.index
        );
    }
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-qjs",
    ignore = "componentize-qjs is not installed (tests/run.sh)"
)]
fn javascript_accumulator_control_leaks_in_one_reused_instance() {
    let all = list(50);
    let contents: Vec<Content> = one_instance(
        "js-hostile",
        &templates("accumulate"),
        &recipients(&all, &[]),
    )
    .into_iter()
    .map(|r| r.expect("control render"))
    .collect();
    assert_accumulates(&contents, &all);
}

/// Every file of a Maildir's `new/`, as text.
fn outbox_files(campaign: &CampaignDir) -> Vec<String> {
    std::fs::read_dir(campaign.dir.path().join("outbox/new"))
        .expect("outbox")
        .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("read"))
        // A message's lines end in CRLF.
        .map(|text| text.replace("\r\n", "\n"))
        .collect()
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-qjs",
    ignore = "componentize-qjs is not installed (tests/run.sh)"
)]
fn javascript_accumulator_checks_and_sends_clean_from_the_command_line() {
    let mut campaign = CampaignDir::new().numbered(20);
    campaign.renderer = Some(guest("js-hostile"));
    campaign.subject = "accumulate".into();
    campaign.extra = "\n[delivery]\nstages = [\"all\"]\n".into();
    let path = campaign.write();
    let check = isomail_path(&["check"], &path);
    check.assert_exit_code(0);
    let send = isomail_path(&["send", "--yes"], &path);
    send.assert_exit_code(0);
    let files = outbox_files(&campaign);
    assert_eq!(files.len(), 20);
    let all = list(20);
    let mut owners: Vec<usize> = files
        .iter()
        .map(|file| {
            // The whole file, headers and body: exactly one address of the list, its own.
            let found = addresses_in(file, &all);
            assert_eq!(found.len(), 1, "{file}");
            assert!(
                file.contains(&format!("recipients so far:\n{}\n", all[found[0]])),
                "{file}"
            );
            found[0]
        })
        .collect();
    owners.sort();
    assert_eq!(owners, (0..20).collect::<Vec<_>>());
}

/// The probe's modes (the `probe` column), each rendered for two recipients.
const PROBES: [&str; 10] = [
    "globals",
    "reach",
    "random",
    "crypto",
    "fetch",
    "env",
    "console",
    "date-now",
    "new-date",
    "performance-now",
];

/// Runs every probe twice through isomail's pipeline with `guest_name` in `mode` ("probe" or
/// "plant"): (probe, first, second).
fn observations(guest_name: &str, mode: &str) -> Vec<(&'static str, Seen, Seen)> {
    observe(guest(guest_name), mode, &PROBES)
}

/// The globals a QuickJS renderer has: the language's own, and componentize-qjs's bindings
/// (`__cqjs`, `wit`). No fetch, process, crypto, console, timers or module loader.
const GLOBALS: &str = "AggregateError,Array,ArrayBuffer,AsyncDisposableStack,BigInt,\
BigInt64Array,BigUint64Array,Boolean,DOMException,DataView,Date,DisposableStack,Error,EvalError,\
FinalizationRegistry,Float16Array,Float32Array,Float64Array,Function,Infinity,Int16Array,\
Int32Array,Int8Array,InternalError,Iterator,JSON,Map,Math,NaN,Number,Object,Promise,Proxy,\
RangeError,ReferenceError,Reflect,RegExp,Set,SharedArrayBuffer,String,SuppressedError,Symbol,\
SyntaxError,TypeError,URIError,Uint16Array,Uint32Array,Uint8Array,Uint8ClampedArray,WeakMap,\
WeakRef,WeakSet,__cqjs,atob,btoa,decodeURI,decodeURIComponent,encodeURI,encodeURIComponent,\
escape,eval,globalThis,isFinite,isNaN,parseFloat,parseInt,performance,queueMicrotask,undefined,\
unescape,wit";

/// The random probe's three draws, checked to be three different numbers in [0, 1).
fn draws(text: &str) -> Vec<f64> {
    let numbers: Vec<f64> = text
        .trim_end()
        .strip_prefix("random: ")
        .unwrap_or_else(|| panic!("not a random probe: {text:?}"))
        .split(' ')
        .map(|n| n.parse().expect("a number"))
        .collect();
    assert_eq!(numbers.len(), 3, "{text:?}");
    assert!(numbers.iter().all(|n| (0.0..1.0).contains(n)), "{text:?}");
    assert!(
        numbers[0] != numbers[1] && numbers[1] != numbers[2],
        "{text:?}"
    );
    numbers
}

/// A message that trapped: the stubbed WASI import the JavaScript engine reached.
fn trapped(seen: &Seen) -> bool {
    matches!(seen, Err(RenderFailure::Trap(m)) if m.contains("unreachable"))
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-qjs",
    ignore = "componentize-qjs is not installed (tests/run.sh)"
)]
fn javascript_probe_sees_nothing_and_the_same_every_time() {
    for (probe, first, second) in observations("js-hostile", "probe") {
        assert_eq!(
            first, second,
            "probe {probe} saw different things for two recipients"
        );
        let ok = |s: String| Ok::<String, RenderFailure>(s);
        match probe {
            "globals" => assert_eq!(first, ok(format!("globals: {GLOBALS}\n"))),
            "reach" => assert_eq!(
                first,
                ok(
                    "reach: fetch=undefined XMLHttpRequest=undefined WebSocket=undefined \
                    process=undefined require=undefined Deno=undefined Bun=undefined \
                    std=undefined os=undefined crypto=undefined performance=object \
                    console=undefined print=undefined setTimeout=undefined \
                    navigator=undefined location=undefined\n"
                        .into()
                )
            ),
            // Math.random works inside a message, and replays the same draws in every one.
            "random" => {
                draws(first.as_deref().expect("random renders"));
            }
            "crypto" | "fetch" | "env" | "console" => {
                assert_eq!(first, ok(format!("{probe}: threw ReferenceError\n")));
            }
            // No clock at all: with its WASI imports stubbed, the engine's clock read traps.
            "date-now" | "new-date" | "performance-now" => {
                assert!(trapped(&first), "{probe}: {first:?}");
            }
            other => panic!("unexpected probe {other}"),
        }
    }
    // Identical input, identical output: one recipient rendered twice, subject, text and HTML.
    let sandbox = load("js-hostile");
    for probe in PROBES {
        let one = &recipients(&["same@probe.test".into()], &[("probe", probe)])[0];
        assert_eq!(
            sandbox.render(&templates("probe"), one),
            sandbox.render(&templates("probe"), one),
            "{probe}"
        );
    }
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-qjs",
    ignore = "componentize-qjs is not installed (tests/run.sh)"
)]
fn javascript_probe_controls_show_what_it_would_report() {
    // Planted: the same probes in an instance that first gave itself fetch, process.env,
    // crypto and console report each of them.
    for (probe, first, second) in observations("js-hostile", "plant") {
        assert_eq!(first, second, "{probe}");
        let expected = match probe {
            "crypto" => "crypto: ok 7,7,7,7,7,7,7,7\n",
            "fetch" => "fetch: ok string\n",
            "env" => "env: ok {\"HOME\":\"/home/planted\"}\n",
            "console" => "console: ok logged\n",
            "reach" => {
                let text = first.as_deref().expect("reach renders");
                for planted in [
                    "fetch=function",
                    "process=object",
                    "crypto=object",
                    "console=object",
                ] {
                    assert!(text.contains(planted), "{text}");
                }
                continue;
            }
            _ => continue,
        };
        assert_eq!(first.as_deref(), Ok(expected), "{probe}");
    }

    // Randomness: in ONE reused instance the draws go on, so a second message sees different
    // numbers; fresh instances (above) all see the first three.
    let two = recipients(
        &["a@probe.test".into(), "b@probe.test".into()],
        &[("probe", "random")],
    );
    let reused: Vec<String> = one_instance("js-hostile", &templates("probe"), &two)
        .into_iter()
        .map(|r| r.expect("control render").text)
        .collect();
    let fresh = load("js-hostile")
        .render(&templates("probe"), &two[1])
        .expect("fresh render")
        .text;
    assert_eq!(draws(&reused[0]), draws(&fresh));
    assert_ne!(draws(&reused[1]), draws(&fresh));

    // Clocks: the same probe built with its WASI imports kept reads the clock, and gets
    // isomail's frozen answer (the epoch); the traps above are the import's absence.
    let with_wasi = observations("js-hostile-wasi", "probe");
    for (probe, first, second) in &with_wasi {
        assert_eq!(first, second, "{probe}");
        match *probe {
            "date-now" => assert_eq!(first.as_deref(), Ok("date-now: 0\n")),
            "new-date" => assert_eq!(first.as_deref(), Ok("new-date: 1970-01-01T00:00:00.000Z\n")),
            "performance-now" => assert!(first.is_ok(), "{first:?}"),
            _ => {}
        }
    }
}

/// The hostile guest's "work" mode through isomail's pipeline, one message per `(loops, mib)`,
/// under `sandbox` (lines of a `[sandbox]` section).
fn work(rows: &[(u64, u64)], sandbox: &str) -> Vec<Result<String, RenderFailure>> {
    let mut campaign = CampaignDir::new();
    campaign.renderer = Some(guest("js-hostile"));
    campaign.subject = "work".into();
    let mut csv = String::from("email,loops,mib\n");
    for (i, (loops, mib)) in rows.iter().enumerate() {
        csv.push_str(&format!("w{i}@list.test,{loops},{mib}\n"));
    }
    campaign.csv = csv.into_bytes();
    campaign.extra = format!("\n[sandbox]\n{sandbox}\n");
    let out = outcomes(&campaign.write(), 2);
    assert_eq!(out.len(), rows.len());
    out
}

/// Ten million turns of the loop (several times the default fuel in QuickJS), and 64 MiB of
/// strings held.
const SPIN: (u64, u64) = (10_000_000, 0);
const BOMB: (u64, u64) = (0, 64);

#[test]
#[cfg_attr(
    isomail_missing = "componentize-qjs",
    ignore = "componentize-qjs is not installed (tests/run.sh)"
)]
fn javascript_limits_stop_the_message_that_breaks_them_and_no_other() {
    let rows = [(1000, 1), SPIN, (1000, 1), BOMB, (1000, 1)];
    // The default fuel; wall_ms raised so that a loaded machine still stops the loop by fuel.
    let results = work(&rows, "memory_bytes = 16_777_216\nwall_ms = 30_000");
    let fine = Ok("sum=499500 held=32\n".to_owned());
    assert_eq!(
        results,
        [
            fine.clone(),
            Err(RenderFailure::Limit(Limit::Fuel)),
            fine.clone(),
            Err(RenderFailure::Limit(Limit::Memory)),
            fine,
        ]
    );
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-qjs",
    ignore = "componentize-qjs is not installed (tests/run.sh)"
)]
fn javascript_limits_are_what_fail_those_messages() {
    // Control for the test above: with room to spare, the same work renders.
    let results = work(
        &[SPIN, BOMB],
        "fuel = 20_000_000_000\nmemory_bytes = 268_435_456",
    );
    assert!(
        matches!(&results[0], Ok(text) if text.starts_with("sum=") && text.ends_with(" held=0\n")),
        "{results:?}"
    );
    assert_eq!(results[1], Ok("sum=0 held=2048\n".to_owned()));
}

/// The example renderer's campaign: names that look like markup, in text, subject and HTML.
fn example_campaign(text: &str) -> CampaignDir {
    let mut campaign = CampaignDir::new();
    campaign.renderer = Some(guest("js-example"));
    campaign.subject = "Hello {{ name }}".into();
    campaign.text = text.into();
    campaign.html = Some("<p>Dear {{ name }},</p>\n<p>{{email}}</p>\n".into());
    campaign.csv = b"email,name\n\
ann@example.com,\"<script>alert('x')</script> & \"\"Ann\"\"\"\n\
bob@example.com,Bob\n"
        .to_vec();
    campaign
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-qjs",
    ignore = "componentize-qjs is not installed (tests/run.sh)"
)]
fn javascript_example_renders_values_escaped_in_html_only() {
    let campaign = example_campaign("Dear {{ name }}, this is for {{ email }}.\n");
    let (messages, failed) = render_campaign(&campaign.write(), 2);
    assert!(failed.is_empty(), "{failed:?}");
    let ann = &messages[0].content;
    assert_eq!(ann.subject, "Hello <script>alert('x')</script> & \"Ann\"");
    assert_eq!(
        ann.text,
        "Dear <script>alert('x')</script> & \"Ann\", this is for ann@example.com.\n"
    );
    assert_eq!(
        ann.html.as_deref(),
        Some(
            "<p>Dear &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Ann&quot;,</p>\n\
             <p>ann@example.com</p>\n"
        )
    );
    let bob = &messages[1].content;
    assert_eq!(bob.subject, "Hello Bob");
    assert_eq!(
        bob.html.as_deref(),
        Some("<p>Dear Bob,</p>\n<p>bob@example.com</p>\n")
    );
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-qjs",
    ignore = "componentize-qjs is not installed (tests/run.sh)"
)]
fn javascript_example_refuses_a_missing_value_and_a_broken_placeholder() {
    let sandbox = load("js-example");
    let ann = &recipients(&["ann@example.com".into()], &[("name", "Ann")])[0];
    let with_text = |text: &str| sandbox::Templates {
        subject: "Hi".into(),
        text: text.into(),
        html: None,
        format: Format::Plain,
    };
    assert_eq!(
        sandbox.render(&with_text("Dear {{ nickname }}\n"), ann),
        Err(RenderFailure::Renderer(RenderError::Undefined(
            "text template uses `nickname`, which is not a column of the recipient list".into()
        )))
    );
    assert_eq!(
        sandbox.render(&with_text("Dear {{ name\n"), ann),
        Err(RenderFailure::Renderer(RenderError::Syntax(
            "text template: a {{ without its }}".into()
        )))
    );
    // Control: the same templates with the column present, and closed, render.
    assert_eq!(
        sandbox
            .render(&with_text("Dear {{ name }}\n"), ann)
            .map(|c| c.text),
        Ok("Dear Ann\n".into())
    );

    // From the command line, `check` names the template file and the missing column.
    let campaign = example_campaign("Dear {{ nickname }}\n");
    let out = isomail_path(&["check"], &campaign.write());
    let err = stderr(&out);
    out.assert_exit_code(2);
    assert!(err.contains("templates/body.txt: unknown column"), "{err}");
    assert!(err.contains("`nickname`"), "{err}");
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-qjs",
    ignore = "componentize-qjs is not installed (tests/run.sh)"
)]
fn javascript_example_implements_0_2_0_and_refuses_markdown_and_mjml() {
    let sandbox = load("js-example");
    assert_eq!(sandbox.contract(), Contract::V0_2);
    let ann = &recipients(&["ann@example.com".into()], &[("name", "Ann")])[0];
    for (format, name) in [(Format::Markdown, "markdown"), (Format::Mjml, "mjml")] {
        let templates = sandbox::Templates {
            format,
            ..templates("Hi {{ name }}")
        };
        assert_eq!(
            sandbox.render(&templates, ann),
            Err(RenderFailure::Renderer(RenderError::Other(format!(
                "this renderer renders plain templates only, not {name} (use the built-in \
                 renderer for it)"
            ))))
        );
    }
    // Control: the same templates, plain, render.
    assert_eq!(
        sandbox
            .render(&templates("Hi {{ name }}"), ann)
            .map(|c| c.subject),
        Ok("Hi Ann".into())
    );

    // `check` of a Markdown campaign stops before any recipient, with the renderer's reason.
    let mut campaign = example_campaign("unused");
    campaign.html = None;
    campaign.markdown = Some("Dear **{{ name }}**\n".into());
    let out = isomail_path(&["check"], &campaign.write());
    let err = stderr(&out);
    out.assert_exit_code(2);
    assert!(
        err.contains("this renderer renders plain templates only, not markdown"),
        "{err}"
    );
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-qjs",
    ignore = "componentize-qjs is not installed (tests/run.sh)"
)]
fn javascript_renderer_is_compiled_once_then_loaded_from_the_cache() {
    let campaign = example_campaign("Dear {{ name }}\n");
    let path = campaign.write();
    let cache = private_cache(campaign.dir.path());

    check_with_cache(&path, &cache);
    // One entry: the renderer exports no `prepare`, so there is no snapshot to compile.
    let first = cache_entries(&cache);
    assert_eq!(first.len(), 1, "{first:?}");
    // Backdate it, so the hit below shows as the entry being touched.
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
    set_entry_time(&cache.join(&first[0].0), old);

    check_with_cache(&path, &cache);
    // A hit: the same file (a miss writes a new one and renames it over the name), read and
    // touched by the loader.
    let second = cache_entries(&cache);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!((&second[0].0, second[0].1), (&first[0].0, first[0].1));
    assert!(second[0].2 > old, "the entry was not loaded");

    // Control: a different component misses, and the miss shows as a new entry.
    std::fs::write(
        &path,
        std::fs::read_to_string(&path)
            .expect("campaign")
            .replace(
                &guest("js-example").display().to_string(),
                &guest("js-hostile-wasi").display().to_string(),
            )
            .replace("Hello {{ name }}", "accumulate"),
    )
    .expect("rewrite campaign");
    check_with_cache(&path, &cache);
    let third = cache_entries(&cache);
    assert_eq!(third.len(), 2, "{third:?}");
    assert!(third.iter().any(|e| e.0 == second[0].0), "{third:?}");
}
