//! The 2016 bug, on purpose: a buffer that outlives one message. Every call appends the
//! recipient's address to a global list and prepends the whole list to the body. In a reused
//! instance message N carries N addresses; in isomail it must carry exactly one.

wit_bindgen::generate!({ path: "../../../wit", world: "renderer" });

use std::sync::Mutex;

static SEEN: Mutex<String> = Mutex::new(String::new());

struct Accumulator;

impl Guest for Accumulator {
    fn render(templates: Templates, recipient: Recipient) -> Result<Content, RenderError> {
        let mut seen = SEEN
            .lock()
            .map_err(|_| RenderError::Other("poisoned".into()))?;
        seen.push_str(&recipient.email);
        seen.push('\n');
        Ok(Content {
            subject: templates.subject,
            text: format!("{seen}{}", templates.text),
            html: None,
        })
    }
}

export!(Accumulator);
