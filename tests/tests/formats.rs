//! Markdown and MJML bodies in the built-in renderer: such a campaign checks, renders and sends,
//! and a recipient value is literal in every place a template can put it (no element, emphasis,
//! link or attribute from data). The HTML is parsed as a browser would (html5ever, through
//! scraper). Every escaping test has its control: the same template with `|safe` on the value,
//! which must make the same assertion fail.

use mail_parser::{MessageParser, MimeHeaders};
use scraper::{ElementRef, Html, Selector};

use crate::util::{CampaignDir, isomail_path};
use isomail::sandbox::{Format, Limits, Recipient, RenderFailure, Sandbox, Source, Templates};

/// The values every context is tried with: markup of each kind (HTML, Markdown emphasis, link and
/// heading, an entity), several lines with leading spaces, one made to break out of a quoted
/// attribute, a code span and a fenced code block, character references alone (which MJML
/// refuses to parse raw no less than the others' tags, but keeps, and a browser decodes), and a
/// quote that adds attributes MJML keeps (`rel` on mj-button, `title` on mj-image; it drops the
/// third value's handler).
const VALUES: [&str; 5] = [
    "<script>alert(1)</script> *stars* [x](http://evil) # h &amp; </p>",
    "   leading spaces\n    - a list?\n# a heading?\n\n<em>a new paragraph</em>",
    "\" onmouseover=\"alert(2)\" x=\"` <script>alert(3)</script>\n```\n<script>alert(4)</script>\n```",
    "Tom &amp; Jerry &lt;3",
    "x\" rel=\"injected\" title=\"injected",
];

/// Where a context's value must show, as a browser reads the HTML.
#[derive(Clone, Copy)]
enum Shows {
    /// In the document's text.
    Text,
    /// As the whole value of this attribute of the first element matching the selector.
    Attribute(&'static str, &'static str),
    /// As the URL of this attribute, once percent-decoded (Markdown writes destinations as URLs).
    Url(&'static str, &'static str),
}

/// Each Markdown context: its name, the template (`V` is where the value goes), where it shows.
const MARKDOWN: [(&str, &str, Shows); 14] = [
    ("paragraph", "Dear V, welcome.\n", Shows::Text),
    ("emphasis", "Dear *V*, welcome.\n", Shows::Text),
    ("heading", "# Hello V\n\nBody.\n", Shows::Text),
    ("list item", "- first\n- V\n- last\n", Shows::Text),
    (
        "link text",
        "See [V](https://example.org/a).\n",
        Shows::Text,
    ),
    (
        "link destination",
        "See [your page](V).\n",
        Shows::Url("a", "href"),
    ),
    (
        "link title",
        "See [your page](https://example.org/a \"V\").\n",
        Shows::Attribute("a", "title"),
    ),
    (
        "image description",
        "See ![V](https://example.org/i.png).\n",
        Shows::Attribute("img", "alt"),
    ),
    ("code span", "Your code: `V`.\n", Shows::Text),
    ("fenced code block", "```\nV\n```\n", Shows::Text),
    (
        "raw inline HTML attribute",
        "Hi <span title=\"V\">there</span>.\n",
        Shows::Attribute("span", "title"),
    ),
    (
        "raw inline HTML unquoted attribute",
        "Hi <span title=V>there</span>.\n",
        Shows::Attribute("span", "title"),
    ),
    (
        "raw inline HTML content",
        "Hi <span class=\"n\">V</span>.\n",
        Shows::Text,
    ),
    (
        "HTML block",
        "<div class=\"box\">\nV\n</div>\n",
        Shows::Text,
    ),
];

/// Each MJML context, inside `<mj-column>` unless it names the head.
const MJML: [(&str, &str, Shows); 8] = [
    ("mj-text", "<mj-text>Dear V</mj-text>", Shows::Text),
    (
        "mj-button text",
        "<mj-button href=\"https://example.org/\">Go, V</mj-button>",
        Shows::Text,
    ),
    (
        "mj-button href",
        "<mj-button href=\"V\">Go</mj-button>",
        Shows::Attribute("a", "href"),
    ),
    (
        "mj-image alt",
        "<mj-image src=\"https://example.org/i.png\" alt=\"V\" />",
        Shows::Attribute("img", "alt"),
    ),
    (
        "mj-image src",
        "<mj-image src=\"V\" alt=\"a picture\" />",
        Shows::Attribute("img", "src"),
    ),
    (
        "mj-raw",
        "<mj-raw><p class=\"raw\">V</p></mj-raw>",
        Shows::Text,
    ),
    ("mj-preview", "HEAD<mj-preview>V</mj-preview>", Shows::Text),
    ("mj-title", "HEAD<mj-title>V</mj-title>", Shows::Text),
];

fn builtin() -> Sandbox {
    Sandbox::load(Source::Builtin, Limits::default(), 1).expect("the built-in renderer loads")
}

fn recipient(value: &str) -> Recipient {
    Recipient {
        email: "ann@example.com".into(),
        fields: vec![("v".into(), value.into())],
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

/// An MJML document with `part` in a column, or in the head if it starts with `HEAD`.
fn mjml(part: &str) -> Templates {
    let document = match part.strip_prefix("HEAD") {
        Some(head) => format!(
            "<mjml><mj-head>{head}</mj-head><mj-body><mj-section><mj-column>\
             <mj-text>Hello</mj-text></mj-column></mj-section></mj-body></mjml>"
        ),
        None => format!(
            "<mjml><mj-body><mj-section><mj-column>{part}</mj-column></mj-section></mj-body></mjml>"
        ),
    };
    Templates {
        subject: "Notice".into(),
        text: "Dear {{ v }}\n".into(),
        html: Some(document),
        format: Format::Mjml,
    }
}

/// The HTML part of `templates` rendered for a recipient whose `v` is `value`.
fn html_for(sandbox: &Sandbox, templates: &Templates, value: &str) -> String {
    match sandbox.render(templates, &recipient(value)) {
        Ok(content) => content.html.expect("an HTML part"),
        Err(failure) => panic!("render failed: {failure:?}"),
    }
}

/// Every element in document order, with its attributes' names: what markup the HTML makes.
fn shape(document: &Html) -> Vec<String> {
    document
        .root_element()
        .descendants()
        .filter_map(ElementRef::wrap)
        .map(|element| {
            let mut attributes: Vec<&str> = element.value().attrs().map(|(name, _)| name).collect();
            attributes.sort_unstable();
            format!("{} {}", element.value().name(), attributes.join(" "))
        })
        .collect()
}

/// How [`literal_in`] starts its report of elements or attributes made from data.
const MARKUP_FROM_DATA: &str = "markup from data:";

/// The context's promise for one value: the HTML has exactly the elements and attributes it has
/// for a harmless value, and the value shows, whole and literal, where the context puts it.
fn literal_in(html: &str, harmless_html: &str, value: &str, shows: Shows) -> Result<(), String> {
    let document = Html::parse_document(html);
    let expected = shape(&Html::parse_document(harmless_html));
    let found = shape(&document);
    if found != expected {
        let extra: Vec<&String> = found.iter().filter(|e| !expected.contains(e)).collect();
        let missing: Vec<&String> = expected.iter().filter(|e| !found.contains(e)).collect();
        return Err(format!(
            "{MARKUP_FROM_DATA} elements {extra:?} appear, {missing:?} are gone"
        ));
    }
    let attribute = |selector: &str, name: &str| -> Result<String, String> {
        let selector = Selector::parse(selector).map_err(|e| format!("{e:?}"))?;
        document
            .select(&selector)
            .find_map(|element| element.value().attr(name))
            .map(str::to_owned)
            .ok_or_else(|| format!("no {name} attribute"))
    };
    let shown = match shows {
        Shows::Text => {
            let text: String = document.root_element().text().collect();
            return if text.contains(value) {
                Ok(())
            } else {
                Err(format!("{value:?} is not in the text {text:?}"))
            };
        }
        Shows::Attribute(selector, name) => attribute(selector, name)?,
        Shows::Url(selector, name) => {
            let url = attribute(selector, name)?;
            percent_encoding::percent_decode_str(&url)
                .decode_utf8_lossy()
                .into_owned()
        }
    };
    if shown == value {
        Ok(())
    } else {
        Err(format!("the attribute is {shown:?}, not {value:?}"))
    }
}

/// Renders each context with each value, plain and with `|safe`: the plain ones must all keep
/// the promise, and in every context some value must break it under `|safe` (the control), so
/// the assertion is shown to catch markup from data there.
fn every_context_keeps_values_literal(
    contexts: &[(&str, &str, Shows)],
    templates: impl Fn(&str) -> Templates,
) {
    let sandbox = builtin();
    for (name, template, shows) in contexts {
        let plain = templates(&template.replace('V', "{{ v }}"));
        let raw = templates(&template.replace('V', "{{ v|safe }}"));
        let harmless = html_for(&sandbox, &plain, "Ann");
        let mut control_failures = Vec::new();
        for value in VALUES {
            let html = html_for(&sandbox, &plain, value);
            if let Err(why) = literal_in(&html, &harmless, value, *shows) {
                panic!("{name}: {why}\nvalue {value:?}\nHTML {html}");
            }
            // The control: raw insertion must make markup (elements or attributes) from data,
            // which the assertion reports; a value merely decoded (`&amp;` shown as `&`) does not
            // count. Where MJML admits no element (mj-title, mj-preview), raw markup is refused
            // by its parser instead, which counts: the value was read as markup.
            match sandbox.render(&raw, &recipient(value)) {
                Ok(content) => {
                    let html = content.html.unwrap_or_default();
                    if let Err(why) = literal_in(&html, &harmless, value, *shows)
                        && why.starts_with(MARKUP_FROM_DATA)
                    {
                        control_failures.push(why);
                    }
                }
                Err(RenderFailure::Renderer(error))
                    if format!("{error:?}").contains("not valid MJML") =>
                {
                    control_failures.push(format!("refused as markup: {error:?}"));
                }
                Err(_) => {}
            }
        }
        assert!(
            !control_failures.is_empty(),
            "{name}: with |safe no value made markup, so the assertion is not shown to catch it there"
        );
        println!("{name}: control caught {control_failures:?}");
    }
}

#[test]
fn markdown_values_are_literal_in_every_context() {
    every_context_keeps_values_literal(&MARKDOWN, markdown);
}

#[test]
fn mjml_values_are_literal_in_every_context() {
    every_context_keeps_values_literal(&MJML, mjml);
}

#[test]
fn markdown_text_part_is_the_source_with_values_as_they_are() {
    let sandbox = builtin();
    for value in VALUES {
        let content = sandbox
            .render(
                &markdown("# Hi {{ v }}\n\n*Dear* `{{ v }}`\n"),
                &recipient(value),
            )
            .expect("render");
        assert_eq!(content.text, format!("# Hi {value}\n\n*Dear* `{value}`\n"));
    }
}

#[test]
fn templates_see_real_values_and_only_the_output_is_literal() {
    let sandbox = builtin();
    let source = "{% if v is startingwith('<') %}tag{% else %}word{% endif %}: {{ v|upper }} \
                  {% set both %}*{{ v }}*{% endset %}{{ both }}\n";
    let html = html_for(&sandbox, &markdown(source), "<b>x</b>");
    let document = Html::parse_fragment(&html);
    let text: String = document.root_element().text().collect();
    // The test saw `<`, the filter upper-cased the value, and the captured block (markup and
    // value together, printed again) is literal as a whole.
    assert_eq!(text.trim(), "tag: <B>X</B> *<b>x</b>*");
    assert_eq!(shape(&document), shape(&Html::parse_fragment("<p>x</p>")));
}

/// `template` with the value `red` at `V` refused, with `needle` in the reason; and the same
/// template with `red` written in it renders (the control: the value's place is what is refused).
fn refused_with_control(templates: impl Fn(&str) -> Templates, template: &str, needle: &str) {
    refused_with_control_for("red", templates, template, needle);
}

fn refused_with_control_for(
    value: &str,
    templates: impl Fn(&str) -> Templates,
    template: &str,
    needle: &str,
) {
    let sandbox = builtin();
    match sandbox.render(
        &templates(&template.replace('V', "{{ v }}")),
        &recipient(value),
    ) {
        Err(RenderFailure::Renderer(error)) => {
            let why = format!("{error:?}");
            assert!(why.contains(needle), "{needle:?} not in {why}");
        }
        other => panic!("{template}: expected a refusal, got {other:?}"),
    }
    let literal = templates(&template.replace('V', value));
    if let Err(failure) = sandbox.render(&literal, &recipient(value)) {
        panic!("control {template}: {failure:?}");
    }
}

#[test]
fn values_where_no_escaping_keeps_them_literal_are_refused_by_name() {
    for (template, needle) in [
        (
            "<style>p { color: V }</style>\n",
            "inside a <style> element",
        ),
        (
            "<script>var a = 'V';</script>\n",
            "inside a <script> element",
        ),
        (
            "<p style=\"color: V\">x</p>\n",
            "in the style attribute of <p>",
        ),
        (
            "<p onclick=\"V\">x</p>\n",
            "in the event handler onclick of <p>",
        ),
        ("<!-- V -->\n", "inside an HTML comment"),
        (
            "<div data-V=\"1\">x</div>\n",
            "in the tag or an attribute name of <div>",
        ),
        (
            "<iframe srcdoc=\"<p>V</p>\"></iframe>\n",
            "in the srcdoc attribute of <iframe>",
        ),
        (
            "[a]: https://example.org/V\n\nx\n",
            "does not reach the HTML part",
        ),
    ] {
        refused_with_control(markdown, template, needle);
    }
    for (template, needle) in [
        (
            "HEAD<mj-style>p { color: V }</mj-style>",
            "inside a <style> element",
        ),
        (
            "<mj-text color=\"V\">x</mj-text>",
            "in the style attribute of <div>",
        ),
        (
            "<mj-button background-color=\"V\" href=\"https://example.org/\">x</mj-button>",
            "in the style attribute",
        ),
        ("<mj-raw><!-- V --></mj-raw>", "inside an HTML comment"),
    ] {
        refused_with_control(mjml, template, needle);
    }
    // A width MJML parses, and drops when it is not one: the value does not reach the HTML.
    refused_with_control_for(
        "120px",
        mjml,
        "<mj-image src=\"https://example.org/i.png\" width=\"V\" />",
        "does not reach the HTML: MJML dropped it",
    );
}

#[test]
fn a_template_holding_the_placeholder_characters_is_refused() {
    let sandbox = builtin();
    for templates in [
        markdown("Hi \u{10000}0\u{10001} {{ v }}\n"),
        mjml("<mj-text>\u{10001}</mj-text>"),
    ] {
        match sandbox.render(&templates, &recipient("x")) {
            Err(RenderFailure::Renderer(error)) => {
                let why = format!("{error:?}");
                assert!(why.contains("reserved for isomail's placeholders"), "{why}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

/// What a component imports that could do anything: every import (its own, not those of the core
/// modules inside it) but types and instances of types alone (the contract's `types` interface).
fn capability_imports(bytes: &[u8]) -> Vec<String> {
    use wasmparser::component_types::ComponentEntityType;
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.expect("a valid component") {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(imports) if depth == 0 => {
                for import in imports {
                    names.push(import.expect("an import").name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    let types = wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(bytes)
        .expect("a valid component");
    names
        .into_iter()
        .filter(|name| {
            let item = types.component_item_for_import(name).expect("its type");
            match item.ty {
                ComponentEntityType::Type { .. } => false,
                ComponentEntityType::Instance(id) => types[id]
                    .exports
                    .values()
                    .any(|export| !matches!(export.ty, ComponentEntityType::Type { .. })),
                _ => true,
            }
        })
        .collect()
}

#[test]
fn the_built_in_renderer_with_markdown_and_mjml_still_imports_nothing() {
    assert_eq!(
        capability_imports(isomail::sandbox::BUILTIN_RENDERER),
        Vec::<String>::new()
    );
    // Control: the capability probe, a wasm32-wasip2 component, is seen importing WASI.
    let probe = std::fs::read(crate::util::guest("probe")).expect("probe guest");
    let imports = capability_imports(&probe);
    assert!(
        imports
            .iter()
            .any(|name| name.starts_with("wasi:cli/environment")),
        "{imports:?}"
    );
}

#[test]
fn markdown_and_mjml_campaigns_are_prepared_once_and_render_from_the_snapshot() {
    for templates in [
        markdown("# Hi {{ v }}\n\n*Dear* {{ v }}\n"),
        mjml("<mj-text>Dear {{ v }}</mj-text>"),
    ] {
        let prepared =
            Sandbox::load_for(Source::Builtin, Limits::default(), 1, &templates).expect("load");
        assert!(
            prepared.snapshot().is_some(),
            "not snapshotted: {:?}",
            prepared.unprepared_reason()
        );
        let value = VALUES[0];
        assert_eq!(
            prepared.render(&templates, &recipient(value)),
            builtin().render(&templates, &recipient(value)),
            "the snapshot renders as a fresh renderer does"
        );
    }
}

/// The messages in the campaign's Maildir outbox, parsed: (To, text part, HTML part).
fn outbox(campaign: &CampaignDir) -> Vec<(String, String, String)> {
    let dir = campaign.dir.path().join("outbox/new");
    let mut messages: Vec<(String, String, String)> = std::fs::read_dir(&dir)
        .expect("outbox")
        .map(|entry| {
            let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
            let message = MessageParser::default().parse(&bytes).expect("a message");
            let html_part = message.html_part(0).expect("an HTML part");
            let kind = html_part.content_type().expect("its Content-Type");
            assert_eq!(
                (kind.ctype(), kind.subtype()),
                ("text", Some("html")),
                "the HTML part's type"
            );
            let to = message
                .to()
                .and_then(|to| to.first())
                .and_then(|a| a.address())
                .expect("To")
                .to_owned();
            let text = message
                .body_text(0)
                .expect("text part")
                .replace("\r\n", "\n");
            let html = message
                .body_html(0)
                .expect("html part")
                .replace("\r\n", "\n");
            (to, text, html)
        })
        .collect();
    messages.sort();
    messages
}

/// `check`, `render --out` and `send --yes` (to the Maildir outbox), each as the CLI runs them.
fn check_render_send(campaign: &CampaignDir) {
    let path = campaign.write();
    isomail_path(&["check"], &path).assert_exit_code(0);
    let rendered = campaign.dir.path().join("rendered");
    let out = isomail_path(
        &["render", "--out", rendered.to_str().expect("utf-8")],
        &path,
    );
    out.assert_exit_code(0);
    assert_eq!(std::fs::read_dir(&rendered).expect("rendered").count(), 2);
    let out = isomail_path(&["send", "--yes"], &path);
    out.assert_exit_code(0);
}

fn campaign_of_two(extra_column: &str) -> CampaignDir {
    let mut campaign = CampaignDir::new();
    campaign.subject = "Notice for {{ name }}".into();
    campaign.csv = format!(
        "email,name,{extra_column}\nann@example.com,Ann,A-1\n\
         bob@example.com,Bob *the* <i>Builder</i>,B-2\n"
    )
    .into_bytes();
    campaign.extra = "\n[delivery]\nstages = [\"all\"]\nrate = 1000\n".into();
    campaign
}

fn select<'a>(document: &'a Html, selector: &str) -> Vec<ElementRef<'a>> {
    let selector = Selector::parse(selector).expect("selector");
    document.select(&selector).collect()
}

fn text_of(element: &ElementRef<'_>) -> String {
    element.text().collect()
}

#[test]
fn a_markdown_campaign_checks_renders_and_sends() {
    let mut campaign = campaign_of_two("code");
    campaign.markdown = Some(
        "# Hello {{ name }}\n\nThank you for *staying* with us. Your code is `{{ code }}`.\n\n\
         - [Your account](https://example.org/account?c={{ code }})\n"
            .into(),
    );
    check_render_send(&campaign);
    let messages = outbox(&campaign);
    assert_eq!(messages.len(), 2);
    for (to, text, html) in &messages {
        let (name, code) = if to == "ann@example.com" {
            ("Ann", "A-1")
        } else {
            ("Bob *the* <i>Builder</i>", "B-2")
        };
        assert_eq!(
            text,
            &format!(
                "# Hello {name}\n\nThank you for *staying* with us. Your code is `{code}`.\n\n\
                 - [Your account](https://example.org/account?c={code})\n"
            )
        );
        let document = Html::parse_fragment(html);
        assert_eq!(
            text_of(&select(&document, "h1")[0]),
            format!("Hello {name}")
        );
        let emphasis: Vec<String> = select(&document, "em").iter().map(text_of).collect();
        assert_eq!(emphasis, ["staying"], "only the template's emphasis");
        assert!(select(&document, "i").is_empty(), "{html}");
        assert_eq!(text_of(&select(&document, "code")[0]), code);
        let links: Vec<&str> = select(&document, "li a")
            .iter()
            .filter_map(|a| a.value().attr("href"))
            .collect();
        assert_eq!(links, [format!("https://example.org/account?c={code}")]);
    }
}

#[test]
fn an_mjml_campaign_checks_renders_and_sends() {
    let mut campaign = campaign_of_two("link");
    campaign.text = "Hello {{ name }}, see {{ link }}\n".into();
    campaign.mjml = Some(
        "<mjml><mj-head><mj-title>For {{ name }}</mj-title></mj-head><mj-body><mj-section>\
         <mj-column><mj-text>Hello <b>{{ name }}</b></mj-text>\
         <mj-button href=\"https://example.org/{{ link }}\">Open</mj-button>\
         </mj-column></mj-section></mj-body></mjml>"
            .into(),
    );
    check_render_send(&campaign);
    let messages = outbox(&campaign);
    assert_eq!(messages.len(), 2);
    for (to, text, html) in &messages {
        let (name, link) = if to == "ann@example.com" {
            ("Ann", "A-1")
        } else {
            ("Bob *the* <i>Builder</i>", "B-2")
        };
        assert_eq!(text, &format!("Hello {name}, see {link}\n"));
        let document = Html::parse_document(html);
        assert_eq!(
            text_of(&select(&document, "title")[0]),
            format!("For {name}")
        );
        let bold: Vec<String> = select(&document, "b").iter().map(text_of).collect();
        assert_eq!(bold, [name]);
        assert!(select(&document, "i").is_empty(), "{html}");
        let buttons: Vec<&str> = select(&document, "a")
            .iter()
            .filter_map(|a| a.value().attr("href"))
            .collect();
        assert_eq!(buttons, [format!("https://example.org/{link}")]);
        // Made by MJML: its responsive column classes and Outlook conditional comments.
        assert!(
            !select(&document, "div.mj-column-per-100").is_empty(),
            "{html}"
        );
        assert!(html.contains("<!--[if mso | IE]>"), "{html}");
    }
}

#[test]
fn mjml_output_fetches_no_font_the_template_did_not_ask_for() {
    let sandbox = builtin();
    // Text in MJML's default font family, which mrml would link from Google Fonts.
    let html = html_for(&sandbox, &mjml("<mj-text>Dear {{ v }}</mj-text>"), "Ann");
    assert!(
        html.contains("Ubuntu, Helvetica, Arial, sans-serif"),
        "{html}"
    );
    for remote in ["fonts.googleapis.com", "<link", "@import"] {
        assert!(!html.contains(remote), "{remote} in {html}");
    }
    // Control: a font the template declares with mj-font is linked, as the template asked.
    let asked = mjml(
        "HEAD<mj-font name=\"Raleway\" href=\"https://fonts.example/raleway.css\" />\
         <mj-attributes><mj-all font-family=\"Raleway, Arial\" /></mj-attributes>",
    );
    let html = html_for(&sandbox, &asked, "Ann");
    assert!(
        html.contains("<link href=\"https://fonts.example/raleway.css\"")
            && html.contains("@import url(https://fonts.example/raleway.css);"),
        "{html}"
    );
}

/// Each message `render --out` wrote for `campaign`, as (text part, HTML part), in file order.
fn rendered_bodies(campaign: &CampaignDir) -> Vec<(String, String)> {
    let path = campaign.write();
    let out = campaign.dir.path().join("rendered");
    let _ = std::fs::remove_dir_all(&out);
    isomail_path(&["render", "--out", out.to_str().expect("utf-8")], &path).assert_exit_code(0);
    let mut files: Vec<_> = std::fs::read_dir(&out)
        .expect("rendered")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|file| {
            let bytes = std::fs::read(file).expect("read");
            let message = MessageParser::default().parse(&bytes).expect("a message");
            let part = |html: bool| {
                let body = if html {
                    message.body_html(0)
                } else {
                    message.body_text(0)
                };
                body.expect("the part").into_owned()
            };
            (part(false), part(true))
        })
        .collect()
}

/// The campaign's template files as a Windows editor saves them: a byte order mark, CRLF.
fn saved_on_windows(campaign: &mut CampaignDir) {
    let windows = |s: &str| format!("\u{feff}{}", s.replace('\n', "\r\n"));
    campaign.text = windows(&campaign.text);
    for part in [
        &mut campaign.html,
        &mut campaign.markdown,
        &mut campaign.mjml,
    ]
    .into_iter()
    .flatten()
    {
        *part = windows(part);
    }
}

#[test]
fn templates_saved_on_windows_make_the_messages_they_make_saved_elsewhere() {
    let plain = |c: &mut CampaignDir| {
        c.text = "Dear {{ name }},\n\nyour code is {{ code }}.\n".into();
        c.html = Some("<p>Dear {{ name }},</p>\n<p>your code is {{ code }}.</p>\n".into());
    };
    let markdown = |c: &mut CampaignDir| {
        c.markdown = Some("# Dear {{ name }}\n\nyour code is `{{ code }}`.\n".into());
    };
    // Laid out over lines as mjml.io's own templates are: this is what a CR broke.
    let mjml = |c: &mut CampaignDir| {
        c.text = "Dear {{ name }}, your code is {{ code }}.\n".into();
        c.mjml = Some(
            "<mjml>\n  <mj-body>\n    <mj-section>\n      <mj-column>\n        \
             <mj-text>Dear {{ name }}, your code is {{ code }}.</mj-text>\n      \
             </mj-column>\n    </mj-section>\n  </mj-body>\n</mjml>\n"
                .into(),
        );
    };
    /// Writes one format's templates into a campaign.
    type WriteTemplates = fn(&mut CampaignDir);
    let formats: [(&str, WriteTemplates); 3] = [
        ("text and html", plain),
        ("markdown", markdown),
        ("mjml", mjml),
    ];
    for (format, templates) in formats {
        let mut unix = campaign_of_two("code");
        templates(&mut unix);
        let mut windows = campaign_of_two("code");
        templates(&mut windows);
        saved_on_windows(&mut windows);
        // The fixture is what it says: every file has the mark and no bare LF.
        for file in [
            Some(&windows.text),
            windows.html.as_ref(),
            windows.markdown.as_ref(),
        ]
        .into_iter()
        .chain([windows.mjml.as_ref()])
        .flatten()
        {
            assert!(file.starts_with('\u{feff}') && !file.replace("\r\n", "").contains('\n'));
        }
        let expected = rendered_bodies(&unix);
        assert_eq!(expected.len(), 2, "{format}");
        assert_eq!(rendered_bodies(&windows), expected, "{format}");
        // Control: the comparison sees a one-word difference between two such campaigns.
        let mut other = campaign_of_two("code");
        templates(&mut other);
        other.text = other.text.replace("Dear", "Hi");
        for part in [&mut other.html, &mut other.markdown, &mut other.mjml]
            .into_iter()
            .flatten()
        {
            *part = part.replace("Dear", "Hi");
        }
        assert_ne!(rendered_bodies(&other), expected, "{format}");
    }
}

// Findings of the security review of literal values, one test each: every one failed before its
// fix (a value made markup, or landed unrefused where no escaping keeps it literal).

fn recipient_with(fields: &[(&str, &str)]) -> Recipient {
    Recipient {
        email: "ann@example.com".into(),
        fields: fields
            .iter()
            .map(|(name, value)| ((*name).into(), (*value).into()))
            .collect(),
    }
}

/// `templates` rendered for `fields` keeps `value` literal (as [`literal_in`] checks), measured
/// against the same templates rendered with every field `Ann`.
fn assert_literal(templates: &Templates, fields: &[(&str, &str)], value: &str, shows: Shows) {
    let sandbox = builtin();
    let render = |fields: &[(&str, &str)]| match sandbox.render(templates, &recipient_with(fields))
    {
        Ok(content) => content.html.expect("an HTML part"),
        Err(failure) => panic!("render failed: {failure:?}"),
    };
    let harmless: Vec<(&str, &str)> = fields.iter().map(|(name, _)| (*name, "Ann")).collect();
    let harmless = render(&harmless);
    let html = render(fields);
    if let Err(why) = literal_in(&html, &harmless, value, shows) {
        panic!("{why}\nvalue {value:?}\nHTML {html}");
    }
}

/// `templates` rendered for `fields` is refused with `needle` in the reason.
fn assert_refused(templates: &Templates, fields: &[(&str, &str)], needle: &str) {
    match builtin().render(templates, &recipient_with(fields)) {
        Err(RenderFailure::Renderer(error)) => {
            let why = format!("{error:?}");
            assert!(why.contains(needle), "{needle:?} not in {why}");
        }
        other => panic!("expected a refusal with {needle:?}, got {other:?}"),
    }
}

#[test]
fn values_printed_by_an_included_or_imported_template_stay_literal() {
    let hostile = "<img src=x onerror=alert(1)> *em* [l](http://evil)";
    let mut templates = markdown("# {% include 'subject.txt' %}\n\nBody\n");
    templates.subject = "Hello {{ v }}".into();
    assert_literal(&templates, &[("v", hostile)], hostile, Shows::Text);
    // The subject itself is still plain text with the value as it is.
    let content = builtin()
        .render(&templates, &recipient(hostile))
        .expect("render");
    assert_eq!(content.subject, format!("Hello {hostile}"));

    assert_literal(
        &mjml("<mj-text>{% include 'text.txt' %}</mj-text>"),
        &[("v", hostile)],
        hostile,
        Shows::Text,
    );

    // A macro imported from a plain template: its own markup (<b>) stays, its value is literal.
    let mut templates = markdown("{% from 'subject.txt' import g %}Hi {{ g(v)|safe }}\n");
    templates.subject = "{% macro g(x) %}<b>{{ x }}</b>{% endmacro %}Notice".into();
    assert_literal(&templates, &[("v", hostile)], hostile, Shows::Text);
    let mut templates = markdown("{% from 'subject.txt' import g %}Hi {{ g(v) }}\n");
    templates.subject = "{% macro g(x) %}{{ x }}{% endmacro %}Notice".into();
    assert_literal(&templates, &[("v", hostile)], hostile, Shows::Text);
}

#[test]
fn a_value_after_a_lt_or_an_ampersand_starts_no_tag_or_reference() {
    let img = "img src=x onerror=alert(1)";
    assert_literal(
        &markdown("<div>\nReply to <{{ v }}>\n</div>\n"),
        &[("v", img)],
        img,
        Shows::Text,
    );
    assert_literal(
        &markdown("<div>\nReply to <{{ e }}{{ v }}>\n</div>\n"),
        &[("e", ""), ("v", img)],
        img,
        Shows::Text,
    );
    assert_literal(
        &markdown("<div>\nTo {{ v }}<{{ e }}{{ v }}>\n</div>\n"),
        &[("e", ""), ("v", img)],
        img,
        Shows::Text,
    );
    // In a title a `<` is refused anyway (see the foreign-element test): it could be a tag.
    assert_refused(
        &markdown("<title><{{ v }}</title>\n"),
        &[("v", "/title x")],
        "holds markup",
    );
    for (template, value) in [
        ("A&{{ v }}", "lt;"),
        ("A&l{{ v }}", "t;"),
        ("A&#{{ v }}", "60;"),
        ("A&#x{{ v }}", "3c;"),
        ("A&{{ e }}{{ v }}", "lt;"),
    ] {
        let shown = template
            .replace("{{ e }}", "")
            .replace("{{ v }}", value)
            .replace("A", "");
        assert_literal(
            &markdown(&format!("<div>\n{template}\n</div>\n")),
            &[("e", ""), ("v", value)],
            &shown,
            Shows::Text,
        );
    }
    // In an attribute, too.
    let html = html_for(
        &builtin(),
        &markdown("Hi <span title=\"A&{{ v }}\">x</span>\n"),
        "lt;",
    );
    let document = Html::parse_fragment(&html);
    assert_eq!(
        select(&document, "span")[0].value().attr("title"),
        Some("A&lt;"),
        "{html}"
    );
}

#[test]
fn a_self_closing_raw_text_tag_still_makes_raw_text() {
    for (template, needle) in [
        (
            "<style/>p { color: V }</style>\n",
            "inside a <style> element",
        ),
        (
            "<script/>var a = V;</script>\n",
            "inside a <script> element",
        ),
        (
            "<noscript/><p style=\"color: V\">x</p></noscript>\n",
            "inside a <noscript> element",
        ),
    ] {
        refused_with_control(markdown, template, needle);
    }
}

#[test]
fn the_escape_filter_does_not_make_a_value_markup() {
    let hostile = "[click](http://evil.example/) **bold** <b>x</b>";
    for filter in ["e", "escape"] {
        assert_literal(
            &markdown(&format!("Hi {{{{ v|{filter} }}}}\n")),
            &[("v", hostile)],
            hostile,
            Shows::Text,
        );
        assert_refused(
            &mjml(&format!(
                "<mj-text color=\"{{{{ v|{filter} }}}}\">x</mj-text>"
            )),
            &[("v", "red")],
            "in the style attribute",
        );
    }
    // In the plain templates of the same campaign, `|e` still escapes for HTML, as before.
    let mut templates = markdown("Hi\n");
    templates.subject = "{{ v|e }}".into();
    let content = builtin()
        .render(&templates, &recipient("<b>"))
        .expect("render");
    assert_eq!(content.subject, "&lt;b&gt;");
}

#[test]
fn values_in_foreign_or_reparsed_elements_are_refused() {
    for (template, needle) in [
        (
            "<svg><title><style>p { color: V }</style></title></svg>\n",
            "inside an <svg> element",
        ),
        (
            "<svg><textarea><p style=\"color: V\">x</p></textarea></svg>\n",
            "inside an <svg> element",
        ),
        ("<math><mtext>V</mtext></math>\n", "inside a <math> element"),
        (
            "<noframes><p title=\"</noframes><style>p{color:V}</style>\"></p></noframes>\n",
            "inside a <noframes> element",
        ),
        (
            "<select><option>V</option></select>\n",
            "inside a <select> element",
        ),
        (
            "<template><p>V</p></template>\n",
            "inside a <template> element",
        ),
        ("<textarea><p>V</p></textarea>\n", "holds markup"),
    ] {
        refused_with_control(markdown, template, needle);
    }
    refused_with_control(
        mjml,
        "<mj-raw><svg><title><style>p { color: V }</style></title></svg></mj-raw>",
        "inside an <svg> element",
    );
    // After the element ends, values are text again.
    assert_literal(
        &markdown("<svg></svg> and <math></math> Dear {{ v }}\n"),
        &[("v", VALUES[0])],
        VALUES[0],
        Shows::Text,
    );
}

#[test]
fn the_placeholder_characters_in_a_value_are_refused() {
    let forged = "\u{10000}0\u{10001}";
    let templates = markdown("{{ w }} {{ v }}\n");
    assert_refused(
        &templates,
        &[("w", "Ann"), ("v", forged)],
        "reserved for isomail's placeholders",
    );
    assert_refused(
        &mjml("<mj-text>{{ v }}</mj-text>"),
        &[("v", "x\u{10001}")],
        "reserved for isomail's placeholders",
    );
    // Control: an ordinary value renders; and a plain campaign takes any character.
    assert_literal(
        &templates,
        &[("w", "Ann"), ("v", "Bob")],
        "Ann Bob",
        Shows::Text,
    );
    let plain = Templates {
        subject: "Hi".into(),
        text: "{{ v }}".into(),
        html: None,
        format: Format::Plain,
    };
    let content = builtin()
        .render(&plain, &recipient(forged))
        .expect("render");
    assert_eq!(content.text, forged);
}

#[test]
fn a_value_in_part_of_a_link_destination_is_one_url_component() {
    let value = "a&admin=1#%2F /x?y";
    let html = html_for(
        &builtin(),
        &markdown("[x](https://example.org/?u={{ v }})\n"),
        value,
    );
    let document = Html::parse_fragment(&html);
    let href = select(&document, "a")[0]
        .value()
        .attr("href")
        .expect("href")
        .to_owned();
    let component = href
        .strip_prefix("https://example.org/?u=")
        .unwrap_or_else(|| panic!("{href}"));
    assert!(
        !component.contains(['&', '#', '=', '/', '?', ' ']),
        "the value adds to the URL: {href}"
    );
    let decoded = percent_encoding::percent_decode_str(component).decode_utf8_lossy();
    assert_eq!(decoded, value, "{href}");
    // A value that is the whole destination is still a whole URL.
    let html = html_for(
        &builtin(),
        &markdown("[x]({{ v }})\n"),
        "https://example.org/?a=1&b=2#top",
    );
    assert!(
        html.contains("href=\"https://example.org/?a=1&amp;b=2#top\""),
        "{html}"
    );
}

#[test]
fn values_html_would_drop_are_refused_or_kept() {
    assert_refused(
        &markdown("![a [b]({{ v }}) c](https://example.org/i.png)\n"),
        &[("v", "https://example.org/")],
        "does not reach the HTML part",
    );
    assert_refused(
        &markdown("<div>\nx\n</div title=\"{{ v }}\">\n"),
        &[("v", "Ann")],
        "in the end tag </div>",
    );
    // An empty value in an unquoted attribute is an empty value, not the next attribute.
    let html = html_for(
        &builtin(),
        &markdown("Hi <span title={{ v }} class=x>there</span>\n"),
        "",
    );
    let document = Html::parse_fragment(&html);
    let span = select(&document, "span")[0];
    assert_eq!(
        (span.value().attr("title"), span.value().attr("class")),
        (Some(""), Some("x")),
        "{html}"
    );
}
