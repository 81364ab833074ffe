//! isomail's built-in renderer: the campaign's Jinja templates (minijinja) applied to one recipient.
//!
//! An instance of this component lives for exactly one `render` call, so nothing here may assume
//! it is called twice. It reads no file (minijinja has no loader here), has no capability, and
//! treats every value the template uses but the recipient lacks as an error, never as blank.
//!
//! A Markdown or MJML campaign (`templates.format`) renders its body template with every value it
//! prints kept out of the markup (see [`literal`]), then converts it here, inside the sandbox.
//!
//! `prepare` lets the host parse the templates once per campaign: it runs in an instance that has
//! seen no recipient, and the host snapshots that instance's memory. Every message's fresh
//! instance then starts with [`PREPARED`] already filled in.

wit_bindgen::generate!({
    path: "../wit",
    world: "prepared-renderer",
});

mod html;
mod literal;
mod markdown;
mod mjml;
mod urls;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};

struct BuiltinRenderer;

/// Template names: the extension decides autoescaping (HTML only).
const SUBJECT: &str = "subject.txt";
const TEXT: &str = "text.txt";
const HTML: &str = "body.html";
/// The body of a Markdown campaign (from `templates.text`) and of an MJML one (`templates.html`):
/// their values are written as placeholders, not into the markup.
const MARKDOWN: &str = "body.md";
const MJML: &str = "body.mjml";

/// Heap left free in the snapshot, so a message's allocations do not grow linear memory (which
/// costs the host two `mprotect` calls, and a TLB shootdown on every core, per instance).
/// Allocated and freed once in `prepare`: the allocator keeps it, untouched, for later.
const HEADROOM: usize = 1 << 20;
const HEADROOM_BLOCK: usize = 32 << 10;

/// The campaign's templates, parsed, and the variables each one reads. Filled by `prepare`
/// (before the snapshot) or, for a renderer that was not prepared, by `render` itself.
static PREPARED: OnceLock<Prepared> = OnceLock::new();

struct Prepared {
    source: Templates,
    env: Environment<'static>,
    /// For each template present: its name and the variables it reads that are not globals.
    variables: Vec<(&'static str, Vec<String>)>,
}

impl Prepared {
    fn new(source: Templates) -> Result<Prepared, RenderError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        // Only a Markdown or MJML campaign pays for the check on every value printed.
        if source.format != Format::Plain {
            env.set_formatter(|out, state, value| {
                if literal::in_markup() && !value.is_safe() {
                    literal::write_placeholder(out, state, value)
                } else {
                    minijinja::escape_formatter(out, state, value)
                }
            });
            // `|e` marks its result safe (escaped for HTML), which in markup would be written
            // as it is: there it leaves the value as it was, to be printed as a placeholder.
            for name in ["e", "escape"] {
                env.add_filter(name, |state: &minijinja::State, value: Value| {
                    if literal::in_markup() {
                        Ok(value)
                    } else {
                        minijinja::filters::escape(state, &value)
                    }
                });
            }
        }
        add(&mut env, SUBJECT, &source.subject)?;
        match (source.format, &source.html) {
            (Format::Plain, html) => {
                add(&mut env, TEXT, &source.text)?;
                if let Some(html) = html {
                    add(&mut env, HTML, html)?;
                }
            }
            (Format::Markdown, None) => add_markup(&mut env, MARKDOWN, &source.text)?,
            (Format::Mjml, Some(mjml)) => {
                add(&mut env, TEXT, &source.text)?;
                add_markup(&mut env, MJML, mjml)?;
            }
            (Format::Markdown, Some(_)) => {
                return Err(RenderError::Other(
                    "a Markdown campaign has no html template: the HTML part is made from the \
                     Markdown"
                        .to_owned(),
                ));
            }
            (Format::Mjml, None) => {
                return Err(RenderError::Other(
                    "an MJML campaign needs its MJML template".to_owned(),
                ));
            }
        }
        let mut variables = Vec::new();
        for name in [SUBJECT, TEXT, HTML, MARKDOWN, MJML] {
            let Ok(template) = env.get_template(name) else {
                continue;
            };
            let mut vars: Vec<String> = template
                .undeclared_variables(false)
                .into_iter()
                .filter(|var| env.globals().all(|(global, _)| global != var.as_str()))
                .collect();
            vars.sort();
            variables.push((name, vars));
        }
        Ok(Prepared {
            source,
            env,
            variables,
        })
    }

    fn serves(&self, templates: &Templates) -> bool {
        self.source.format == templates.format
            && same(&self.source.subject, &templates.subject)
            && same(&self.source.text, &templates.text)
            && match (&self.source.html, &templates.html) {
                (Some(a), Some(b)) => same(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}

/// String equality eight bytes at a time: `==` on wasm32 ends in a byte-by-byte `memcmp`, which
/// for the kilobytes of template every message compares was a tenth of the render time.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    let tails_equal = a_words.remainder() == b_words.remainder();
    tails_equal
        && a_words.zip(b_words).all(|(x, y)| {
            u64::from_ne_bytes(x.try_into().unwrap_or_default())
                == u64::from_ne_bytes(y.try_into().unwrap_or_default())
        })
}

impl Guest for BuiltinRenderer {
    fn prepare(templates: Templates) -> Result<(), RenderError> {
        let prepared = Prepared::new(templates)?;
        // An instance is prepared once; a second call is a host bug, and keeps the first.
        let _ = PREPARED.set(prepared);
        // In blocks small enough for the allocator to keep and reuse once freed (a single large
        // block would be given its own pages, and never handed out again).
        let blocks: Vec<Vec<u8>> = (0..HEADROOM / HEADROOM_BLOCK)
            .map(|_| Vec::with_capacity(HEADROOM_BLOCK))
            .collect();
        drop(blocks);
        Ok(())
    }

    fn render(templates: Templates, recipient: Recipient) -> Result<Content, RenderError> {
        let unprepared;
        let prepared = match PREPARED.get() {
            Some(prepared) if prepared.serves(&templates) => prepared,
            _ => {
                unprepared = Prepared::new(templates)?;
                &unprepared
            }
        };

        if prepared.source.format != Format::Plain {
            let fields = recipient
                .fields
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()));
            for (name, value) in fields.chain([("email", recipient.email.as_str())]) {
                if let Some(why) = literal::reserved_in_value(value) {
                    return Err(RenderError::Other(format!(
                        "the recipient's `{name}` {why}"
                    )));
                }
            }
        }
        let mut context: BTreeMap<String, Value> = BTreeMap::new();
        for (name, value) in recipient.fields {
            context.insert(name, Value::from(value));
        }
        context.insert("email".to_owned(), Value::from(recipient.email));
        let context = Value::from(context);
        let column_of = |value: &str| column_holding(&context, value);

        let render = |name: &str| {
            let variables = prepared
                .variables
                .iter()
                .find(|(template, _)| *template == name)
                .map_or(&[][..], |(_, vars)| vars.as_slice());
            render_one(&prepared.env, name, variables, &context)
        };
        let subject = render(SUBJECT)?;
        let (text, html) = match prepared.source.format {
            Format::Plain => (
                render(TEXT)?,
                match prepared.source.html {
                    Some(_) => Some(render(HTML)?),
                    None => None,
                },
            ),
            Format::Markdown => {
                let (source, values) = literal::recording(|| render(MARKDOWN));
                let source = source?;
                let text = markdown::text(&source, &values).map_err(|e| refused(MARKDOWN, e))?;
                let html = markdown::html(&source, &values, &column_of)
                    .map_err(|e| refused(MARKDOWN, e))?;
                (text, Some(html))
            }
            Format::Mjml => {
                let text = render(TEXT)?;
                let (source, values) = literal::recording(|| render(MJML));
                let html =
                    mjml::html(&source?, &values, &column_of).map_err(|e| refused(MJML, e))?;
                (text, Some(html))
            }
        };
        Ok(Content {
            subject,
            text,
            html,
        })
    }
}

fn add(
    env: &mut Environment<'static>,
    name: &'static str,
    source: &str,
) -> Result<(), RenderError> {
    env.add_template_owned(name, source.to_owned())
        .map_err(|err| RenderError::Syntax(describe(name, &err)))
}

/// Adds a Markdown or MJML template, which may not contain the placeholders' characters.
fn add_markup(
    env: &mut Environment<'static>,
    name: &'static str,
    source: &str,
) -> Result<(), RenderError> {
    if let Some(place) = literal::reserved_in(source) {
        return Err(RenderError::Syntax(format!("{}, {place}", label(name))));
    }
    add(env, name, source)
}

/// The name of a column (or `email`) of the recipient `context` whose value is exactly `value`:
/// looked up only when a refusal names a value, so rendering pays nothing for it.
fn column_holding(context: &Value, value: &str) -> Option<String> {
    context.try_iter().ok()?.find_map(|key| {
        let column = context.get_item(&key).ok()?;
        (column.as_str() == Some(value)).then(|| key.to_string())
    })
}

/// A Markdown or MJML body the built-in renderer will not make into HTML.
fn refused(name: &str, why: String) -> RenderError {
    RenderError::Other(format!("{}: {why}", label(name)))
}

/// Renders one template after proving, statically, that every variable it can reach exists.
///
/// Checking up front (rather than relying on strict mode alone) catches a missing column on a
/// branch this recipient does not take, so a campaign fails the same way for every recipient.
fn render_one(
    env: &Environment<'static>,
    name: &str,
    variables: &[String],
    context: &Value,
) -> Result<String, RenderError> {
    let missing: Vec<&str> = variables
        .iter()
        .filter(|var| context.get_attr(var).map_or(true, |v| v.is_undefined()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(RenderError::Undefined(format!(
            "{} uses `{}`, which is not a column of the recipient list",
            label(name),
            missing.join("`, `")
        )));
    }
    let template = env
        .get_template(name)
        .map_err(|err| RenderError::Other(describe(name, &err)))?;
    template.render(context).map_err(|err| match err.kind() {
        ErrorKind::UndefinedError => RenderError::Undefined(describe(name, &err)),
        ErrorKind::SyntaxError | ErrorKind::BadEscape => RenderError::Syntax(describe(name, &err)),
        _ => RenderError::Other(describe(name, &err)),
    })
}

fn label(name: &str) -> &'static str {
    match name {
        SUBJECT => "subject template",
        TEXT => "text template",
        MARKDOWN => "markdown template",
        MJML => "mjml template",
        _ => "html template",
    }
}

/// "text template, line 3: syntax error: unexpected end of input".
fn describe(name: &str, err: &minijinja::Error) -> String {
    let mut out = String::from(label(name));
    if let Some(line) = err.line() {
        out.push_str(&format!(", line {line}"));
    }
    out.push_str(": ");
    out.push_str(&err.kind().to_string());
    if let Some(detail) = err.detail() {
        out.push_str(": ");
        out.push_str(detail);
    }
    out
}

export!(BuiltinRenderer);
