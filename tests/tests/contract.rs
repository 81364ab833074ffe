//! The renderer contract's versions: a renderer built against `isomail:renderer@0.1.0` (no
//! `templates.format`) still renders, still one fresh instance per message, and is refused
//! clearly, before anything renders, for a campaign written in Markdown or MJML; the
//! `[message]` keys that choose a format are checked as a set.

use crate::util::{
    CampaignDir, addresses_in, guest, isomail_path, refused, render_campaign, stderr,
};
use isomail::sandbox::{self, Contract, Format, Limits, RenderFailure, Sandbox, Source, Templates};

fn list(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("r{i}@list.test")).collect()
}

fn load(name: &str) -> Sandbox {
    let path = guest(name);
    let bytes = std::fs::read(&path).expect("guest");
    Sandbox::load(
        Source::File {
            path: &path,
            bytes: &bytes,
        },
        Limits::default(),
        1,
    )
    .expect("load")
}

fn plain(text: &str) -> Templates {
    Templates {
        subject: "Notice".into(),
        text: text.into(),
        html: Some("<p>hi</p>".into()),
        format: Format::Plain,
    }
}

#[test]
fn each_renderer_reports_the_contract_it_implements() {
    assert_eq!(load("legacy-v010").contract(), Contract::V0_1);
    assert_eq!(load("counter").contract(), Contract::V0_2);
    let builtin = Sandbox::load(Source::Builtin, Limits::default(), 1).expect("load");
    assert_eq!(builtin.contract(), Contract::V0_2);
}

#[test]
fn a_0_1_0_renderer_still_renders_a_campaign_one_instance_per_message() {
    let mut campaign = CampaignDir::new().numbered(60);
    campaign.html = Some("<h1>Notice</h1>".into());
    campaign.text = "Dear ".into();
    campaign.renderer = Some(guest("legacy-v010"));
    let (messages, failed) = render_campaign(&campaign.write(), 2);
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(messages.len(), 60);
    let all = list(60);
    for m in &messages {
        // Its own data came through the 0.1.0 lowering, and its list of recipients seen holds
        // only its own address: the instance was new.
        assert!(
            m.content
                .text
                .starts_with(&format!("Dear Person {}\n", m.index)),
            "{}",
            m.content.text
        );
        assert_eq!(
            m.content.html.as_deref(),
            Some(format!("<h1>Notice</h1><p>Person {}</p>", m.index).as_str())
        );
        assert_eq!(addresses_in(&m.content.text, &all), vec![m.index - 1]);
    }
}

/// Control for the test above: the same 0.1.0 renderer in one reused instance does accumulate,
/// so its "seen" line would show a broken isolation.
#[test]
fn control_a_reused_0_1_0_instance_accumulates() {
    let sandbox = load("legacy-v010");
    let all = list(5);
    let recipients: Vec<sandbox::Recipient> = all
        .iter()
        .map(|email| sandbox::Recipient {
            email: email.clone(),
            fields: vec![("name".into(), "N".into())],
        })
        .collect();
    let contents = sandbox.render_all_in_one_instance_for_control(&plain("x"), &recipients);
    let last = contents[4].as_ref().expect("render");
    assert_eq!(addresses_in(&last.text, &all), vec![0, 1, 2, 3, 4]);
}

/// The 0.1.0 renderer's error variants come back as the host's: a missing value is `undefined`.
#[test]
fn a_0_1_0_renderers_refusal_is_carried_over() {
    let sandbox = load("legacy-v010");
    let nobody = sandbox::Recipient {
        email: "a@b.test".into(),
        fields: vec![],
    };
    assert_eq!(
        sandbox.render(&plain("x"), &nobody),
        Err(RenderFailure::Renderer(sandbox::RenderError::Undefined(
            "name".into()
        )))
    );
}

#[test]
fn a_0_1_0_renderer_is_refused_markdown_and_mjml_before_anything_renders() {
    for (markdown, mjml, what) in [
        (Some("# Hi {{ name }}\n"), None, "Markdown"),
        (None, Some("<mjml><mj-body></mj-body></mjml>"), "MJML"),
    ] {
        let mut campaign = CampaignDir::new();
        campaign.markdown = markdown.map(Into::into);
        campaign.mjml = mjml.map(Into::into);
        campaign.renderer = Some(guest("legacy-v010"));
        refused(
            &campaign,
            &["guest_legacy_v010.wasm", "isomail:renderer@0.1.0", what],
        );
    }

    // In the library too, per message, should a caller skip `load_for`.
    let sandbox = load("legacy-v010");
    let mut templates = plain("x");
    templates.format = Format::Markdown;
    let one = sandbox::Recipient {
        email: "a@b.test".into(),
        fields: vec![("name".into(), "N".into())],
    };
    match sandbox.render(&templates, &one) {
        Err(RenderFailure::Unsupported(why)) => assert!(why.contains("0.1.0"), "{why}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    // Control: the same renderer and recipient with plain templates render.
    assert!(sandbox.render(&plain("x"), &one).is_ok());
}

/// `[message]` with `line` added after the subject.
fn with_message_line(campaign: &CampaignDir, line: &str) -> std::path::PathBuf {
    let path = campaign.write();
    let toml = std::fs::read_to_string(&path).expect("read");
    let toml = toml.replacen("\ntext = ", &format!("\n{line}\ntext = "), 1);
    std::fs::write(&path, toml).expect("write");
    path
}

#[test]
fn the_format_keys_are_checked_as_a_set() {
    for (line, needles) in [
        (
            "markdown = \"templates/body.txt\"",
            &["[message] has both text and markdown"][..],
        ),
        (
            "html = \"templates/body.txt\"\nmjml = \"templates/body.txt\"",
            &["[message] has both html and mjml"][..],
        ),
    ] {
        let campaign = CampaignDir::new();
        let path = with_message_line(&campaign, line);
        let out = isomail_path(&["check"], &path);
        let err = stderr(&out);
        out.assert_exit_code(2);
        assert_eq!(err.lines().count(), 1, "{err}");
        for needle in needles {
            assert!(err.contains(needle), "{needle:?} not in {err}");
            assert!(err.contains("campaign.toml"), "{err}");
        }
    }

    let mut campaign = CampaignDir::new();
    campaign.markdown = Some("# Hello\n".into());
    campaign.html = Some("<p>x</p>".into());
    refused(&campaign, &["[message] has both html and markdown"]);

    let mut campaign = CampaignDir::new();
    campaign.markdown = Some("# Hello\n".into());
    campaign.mjml = Some("<mjml></mjml>".into());
    refused(&campaign, &["[message] has both markdown and mjml"]);

    // No body at all.
    let campaign = CampaignDir::new();
    let path = campaign.write();
    let toml = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, toml.replace("text = \"templates/body.txt\"\n", "")).expect("write");
    let out = isomail_path(&["check"], &path);
    let err = stderr(&out);
    out.assert_exit_code(2);
    assert!(err.contains("[message] needs the body"), "{err}");
}
