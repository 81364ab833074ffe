//! The isolation proof: hostile guests that keep state, loop, hoard memory, overflow the stack,
//! panic or probe for capabilities, run through isomail's real pipeline. Each promise has a
//! control that runs the same guest in ONE reused instance and shows the check would catch it.

use crate::util::{
    CampaignDir, assert_accumulates, guest, leaking, outcomes, render_campaign, texts,
};
use isomail::checks::{CampaignFinding, Watch};
use isomail::sandbox::{self, Content, Limit, Limits, RenderFailure, Sandbox, Source};

fn list(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("r{i}@list.test")).collect()
}

/// The same guest with every message in one instance: the 2016 mailer's shape.
fn reused(guest_name: &str, n: usize) -> Vec<Content> {
    reused_from(guest_name, n, false)
}

/// [`reused`]; with `prepared`, the one instance is made from the campaign snapshot.
fn reused_from(guest_name: &str, n: usize, prepared: bool) -> Vec<Content> {
    let bytes = std::fs::read(guest(guest_name)).expect("guest");
    let path = guest(guest_name);
    let source = Source::File {
        path: &path,
        bytes: &bytes,
    };
    let templates = sandbox::Templates {
        subject: "s".into(),
        text: "body\n".into(),
        html: None,
        format: sandbox::Format::Plain,
    };
    let sandbox = if prepared {
        Sandbox::load_for(source, Limits::default(), 1, &templates)
    } else {
        Sandbox::load(source, Limits::default(), 1)
    }
    .expect("load");
    assert_eq!(sandbox.snapshot().is_some(), prepared);
    let recipients: Vec<sandbox::Recipient> = list(n)
        .into_iter()
        .map(|email| sandbox::Recipient {
            email,
            fields: vec![],
        })
        .collect();
    sandbox
        .render_all_in_one_instance_for_control(&templates, &recipients)
        .into_iter()
        .map(|r| r.expect("control render"))
        .collect()
}

#[test]
fn accumulator_guest_leaks_nothing() {
    let mut campaign = CampaignDir::new().numbered(1000);
    campaign.renderer = Some(guest("accumulator"));
    let (messages, failed) = render_campaign(&campaign.write(), 2);
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(messages.len(), 1000);
    let all = list(1000);
    assert_eq!(leaking(&texts(&messages), &all), Vec::<usize>::new());
    for m in &messages {
        assert_eq!(
            m.content.text.matches("@list.test").count(),
            1,
            "message {}",
            m.index
        );
    }
}

#[test]
fn reused_instance_control_leaks() {
    let all = list(50);
    let contents = reused("accumulator", 50);
    assert_accumulates(&contents, &all);
    // The campaign also shows both signatures of accumulation.
    let mut watch = Watch::new();
    for (i, c) in contents.iter().enumerate() {
        watch.observe(i + 1, Some(c), all[i].len());
    }
    let signatures = watch.finish();
    assert!(
        matches!(
            signatures[0],
            CampaignFinding::GrowingPrefix { first: 1, .. }
        ),
        "{signatures:?}"
    );
    assert!(
        matches!(signatures[1], CampaignFinding::GrowingSize { .. }),
        "{signatures:?}"
    );
}

/// Renders `n` recipients with the guest through the real pipeline; each message's text must be
/// `expected(index)`.
fn every_text_is(guest_name: &str, n: usize, expected: impl Fn(usize) -> String) {
    let mut campaign = CampaignDir::new().numbered(n);
    campaign.renderer = Some(guest(guest_name));
    let (messages, failed) = render_campaign(&campaign.write(), 2);
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(messages.len(), n);
    for m in &messages {
        assert_eq!(m.content.text, expected(m.index));
    }
}

#[test]
fn counter_guest_reads_one_in_every_message() {
    every_text_is("counter", 200, |i| format!("count=1 for r{i}@list.test"));
}

#[test]
fn reused_instance_control_counts_up() {
    let contents = reused("counter", 5);
    let counts: Vec<&str> = contents
        .iter()
        .map(|c| c.text.split(' ').next().unwrap_or_default())
        .collect();
    assert_eq!(
        counts,
        ["count=1", "count=2", "count=3", "count=4", "count=5"]
    );
}

#[test]
fn prepared_guest_starts_every_message_from_the_snapshot_and_nothing_after() {
    // 1000 comes from `prepare` (so the snapshot was used); one more is this message's own call,
    // and no message saw the address of another.
    every_text_is("prepared-counter", 200, |i| {
        format!("count=1001 for r{i}@list.test after []")
    });
}

#[test]
fn reused_prepared_instance_control_counts_up_and_remembers() {
    let contents = reused_from("prepared-counter", 3, true);
    let texts: Vec<&str> = contents.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "count=1001 for r1@list.test after []",
            "count=1002 for r2@list.test after [r1@list.test]",
            "count=1003 for r3@list.test after [r2@list.test]",
        ]
    );
}

#[test]
fn a_prepare_that_fails_leaves_the_renderer_unprepared_and_working() {
    let bytes = std::fs::read(guest("prepared-counter")).expect("guest");
    let path = guest("prepared-counter");
    let one = sandbox::Recipient {
        email: "r1@list.test".into(),
        fields: vec![],
    };
    for (subject, reason) in [
        ("loop in prepare", Some("CPU limit")),
        ("refuse in prepare", None),
    ] {
        let templates = sandbox::Templates {
            subject: subject.into(),
            text: "body\n".into(),
            html: None,
            format: sandbox::Format::Plain,
        };
        let limits = Limits {
            fuel: 50_000_000,
            ..Limits::default()
        };
        let source = Source::File {
            path: &path,
            bytes: &bytes,
        };
        let sandbox = Sandbox::load_for(source, limits, 1, &templates).expect("load");
        assert!(sandbox.snapshot().is_none(), "{subject}");
        match reason {
            Some(reason) => assert!(
                sandbox
                    .unprepared_reason()
                    .is_some_and(|r| r.contains(reason)),
                "{subject}: {:?}",
                sandbox.unprepared_reason()
            ),
            // A refusal is not a snapshot problem: the probe render reports it.
            None => assert_eq!(sandbox.unprepared_reason(), None, "{subject}"),
        }
        // Unprepared: the count starts from the component's own 0, not from `prepare`'s 1000.
        let content = sandbox.render(&templates, &one).expect("render");
        assert_eq!(content.text, "count=1 for r1@list.test after []");
    }

    // The operator is told, once, and the campaign still checks clean.
    let mut campaign = CampaignDir::new().numbered(3);
    campaign.renderer = Some(guest("prepared-counter"));
    campaign.subject = "loop in prepare".into();
    campaign.extra = "\n[sandbox]\nfuel = 50_000_000\n".into();
    let path = campaign.write();
    let out = crate::util::isomail_path(&["check"], &path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    out.assert_exit_code(0);
    assert_eq!(
        stderr.matches("could not be snapshotted").count(),
        1,
        "{stderr}"
    );
}

/// Which of `needles` occur in `haystack`, as raw bytes.
fn found_in<'a>(haystack: &[u8], needles: &[&'a str]) -> Vec<&'a str> {
    needles
        .iter()
        .filter(|n| haystack.windows(n.len()).any(|w| w == n.as_bytes()))
        .copied()
        .collect()
}

#[test]
fn campaign_snapshot_holds_the_templates_and_no_recipient_data() {
    let templates = sandbox::Templates {
        subject: "Notice for {{ name }}".into(),
        text: "Dear {{ name }}, your code is {{ code }}. TEMPLATE-MARKER-3141\n".into(),
        html: Some("<p>{{ name }} / {{ email }}</p>".into()),
        format: sandbox::Format::Plain,
    };
    let people: Vec<sandbox::Recipient> = (1..=20)
        .map(|i| sandbox::Recipient {
            email: format!("secret{i}@list.test"),
            fields: vec![
                ("name".into(), format!("Zebulon{i} Quartermaine")),
                ("code".into(), format!("CODE-{i:04}-XYZZY")),
            ],
        })
        .collect();
    let needles: Vec<String> = people
        .iter()
        .flat_map(|r| {
            std::iter::once(r.email.clone()).chain(r.fields.iter().map(|(_, v)| v.clone()))
        })
        .collect();
    let needles: Vec<&str> = needles.iter().map(String::as_str).collect();

    let sandbox =
        Sandbox::load_for(Source::Builtin, Limits::default(), 2, &templates).expect("load");
    for r in &people {
        let content = sandbox.render(&templates, r).expect("render");
        assert!(content.text.contains(&r.fields[1].1));
    }
    let snapshot = sandbox
        .snapshot()
        .expect("the built-in renderer is snapshotted");
    // The snapshot does carry the prepared templates (so the scan can see memory contents)...
    assert_eq!(found_in(snapshot, &["TEMPLATE-MARKER-3141"]).len(), 1);
    // ...and none of the recipients', even after all of them were rendered.
    assert_eq!(found_in(snapshot, &needles), Vec::<&str>::new());

    // Control: a snapshot taken after one render (which isomail never does) holds that
    // recipient's address and values, and the same scan finds them.
    let tainted =
        Sandbox::snapshot_after_rendering_for_control(&templates, &people[0]).expect("control");
    assert_eq!(
        found_in(&tainted, &needles),
        [
            "secret1@list.test",
            "Zebulon1 Quartermaine",
            "CODE-0001-XYZZY"
        ]
    );
}

/// Renders the misbehaving guest for `locals` (local parts at `list.test`) under `sandbox`.
fn misbehave(locals: &[&str], sandbox: &str) -> Vec<Result<String, RenderFailure>> {
    let mut campaign = CampaignDir::new();
    campaign.renderer = Some(guest("misbehave"));
    campaign.csv = format!(
        "email,name\n{}",
        locals
            .iter()
            .map(|l| format!("{l}@list.test,N\n"))
            .collect::<String>()
    )
    .into_bytes();
    campaign.extra = format!("\n[sandbox]\n{sandbox}\n");
    let out = outcomes(&campaign.write(), 2);
    assert_eq!(out.len(), locals.len());
    out
}

#[test]
fn each_misbehaving_message_fails_alone_with_its_limit() {
    let locals = [
        "ok1", "spin", "ok2", "bomb", "ok3", "huge", "deep", "ok4", "panic", "crlf", "ok5",
    ];
    let limits = "fuel = 100_000_000\nwall_ms = 20_000\nmemory_bytes = 33_554_432\n\
                  output_bytes = 1_048_576\nstack_bytes = 262_144";
    let results = misbehave(&locals, limits);
    for (local, result) in locals.iter().zip(&results) {
        match *local {
            "spin" => assert_eq!(result, &Err(RenderFailure::Limit(Limit::Fuel))),
            "bomb" => assert_eq!(result, &Err(RenderFailure::Limit(Limit::Memory))),
            "huge" => assert_eq!(result, &Err(RenderFailure::Limit(Limit::Output))),
            "deep" => assert_eq!(result, &Err(RenderFailure::Limit(Limit::Stack))),
            "panic" => assert!(
                matches!(result, Err(RenderFailure::Trap(m)) if m.contains("unreachable")),
                "{result:?}"
            ),
            "crlf" => assert!(
                matches!(result, Err(RenderFailure::Invalid(m)) if m.contains("line break")),
                "{result:?}"
            ),
            ok => assert_eq!(
                result,
                &Ok(format!(
                    "Hello {ok}@list.test\nDear {{{{ name }}}}, this is for {{{{ email }}}}.\n"
                ))
            ),
        }
    }
}

#[test]
fn wall_clock_limit_stops_a_loop_that_fuel_would_not() {
    let started = std::time::Instant::now();
    let results = misbehave(&["spin", "ok"], "fuel = 1_000_000_000_000\nwall_ms = 300");
    assert_eq!(results[0], Err(RenderFailure::Limit(Limit::WallTime)));
    assert!(results[1].is_ok());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn with_fuel_off_the_wall_clock_alone_stops_a_loop() {
    let results = misbehave(&["spin", "ok"], "fuel = 0\nwall_ms = 300");
    assert_eq!(results[0], Err(RenderFailure::Limit(Limit::WallTime)));
    assert!(results[1].is_ok());
}

#[test]
fn limits_are_what_fail_the_messages() {
    // Control for the test above: with room to spare, the same huge output renders, so the
    // failure there comes from the limit and not from the guest being broken.
    let results = misbehave(&["huge"], "output_bytes = 16_777_216");
    assert_eq!(results[0].as_ref().map(String::len), Ok(8 << 20));
}
