//! isomail's built-in renderer: the campaign's Jinja templates (minijinja) applied to one recipient.
//!
//! An instance of this component lives for exactly one `render` call, so nothing here may assume
//! it is called twice. It reads no file (minijinja has no loader here), has no capability, and
//! treats every value the template uses but the recipient lacks as an error, never as blank.

wit_bindgen::generate!({
    path: "../wit",
    world: "renderer",
});

use std::collections::BTreeMap;

use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};

struct BuiltinRenderer;

/// Template names: the extension decides autoescaping (HTML only).
const SUBJECT: &str = "subject.txt";
const TEXT: &str = "text.txt";
const HTML: &str = "body.html";

impl Guest for BuiltinRenderer {
    fn render(templates: Templates, recipient: Recipient) -> Result<Content, RenderError> {
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
        add(&mut env, SUBJECT, templates.subject)?;
        add(&mut env, TEXT, templates.text)?;
        if let Some(html) = templates.html {
            add(&mut env, HTML, html)?;
        }

        let mut context: BTreeMap<String, Value> = BTreeMap::new();
        for (name, value) in recipient.fields {
            context.insert(name, Value::from(value));
        }
        context.insert("email".to_owned(), Value::from(recipient.email));
        let context = Value::from(context);

        Ok(Content {
            subject: render_one(&env, SUBJECT, &context)?,
            text: render_one(&env, TEXT, &context)?,
            html: match env.get_template(HTML) {
                Ok(_) => Some(render_one(&env, HTML, &context)?),
                Err(_) => None,
            },
        })
    }
}

fn add(
    env: &mut Environment<'static>,
    name: &'static str,
    source: String,
) -> Result<(), RenderError> {
    env.add_template_owned(name, source)
        .map_err(|err| RenderError::Syntax(describe(name, &err)))
}

/// Renders one template after proving, statically, that every variable it can reach exists.
///
/// Checking up front (rather than relying on strict mode alone) catches a missing column on a
/// branch this recipient does not take, so a campaign fails the same way for every recipient.
fn render_one(
    env: &Environment<'static>,
    name: &str,
    context: &Value,
) -> Result<String, RenderError> {
    let template = env
        .get_template(name)
        .map_err(|err| RenderError::Other(describe(name, &err)))?;
    let mut missing: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|var| {
            env.globals().all(|(global, _)| global != var.as_str())
                && context.get_attr(var).map_or(true, |v| v.is_undefined())
        })
        .collect();
    if !missing.is_empty() {
        missing.sort();
        return Err(RenderError::Undefined(format!(
            "{} uses `{}`, which is not a column of the recipient list",
            label(name),
            missing.join("`, `")
        )));
    }
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
