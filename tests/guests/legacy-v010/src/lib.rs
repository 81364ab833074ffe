//! A renderer built against the first published contract, `isomail:renderer@0.1.0` (frozen in
//! wit/v0.1.0), as renderers out there were: the host must keep running it. It also keeps a
//! module-level list of the recipients it has seen, so the tests can show that each of its
//! messages still gets a fresh instance.

wit_bindgen::generate!({ path: "../../../wit/v0.1.0", world: "renderer" });

use std::sync::Mutex;

static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Legacy;

impl Guest for Legacy {
    fn render(templates: Templates, recipient: Recipient) -> Result<Content, RenderError> {
        let mut seen = SEEN
            .lock()
            .map_err(|_| RenderError::Other("poisoned".into()))?;
        seen.push(recipient.email.clone());
        let name = recipient
            .fields
            .iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| RenderError::Undefined("name".into()))?;
        Ok(Content {
            subject: templates.subject,
            text: format!("{}{name}\nseen: {}\n", templates.text, seen.join(" ")),
            html: templates.html.map(|h| format!("{h}<p>{name}</p>")),
        })
    }
}

export!(Legacy);
