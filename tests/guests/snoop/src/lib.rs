//! A renderer that writes someone else's data into every message, the way a careless or
//! malicious custom renderer could: recipient 2's address and recipient 3's token, hard-coded.
//! No isolation can stop this; the host's leak scan must.

wit_bindgen::generate!({ path: "../../../wit", world: "renderer" });

struct Snoop;

impl Guest for Snoop {
    fn render(templates: Templates, recipient: Recipient) -> Result<Content, RenderError> {
        Ok(Content {
            subject: templates.subject,
            text: format!(
                "Hello {}\nAlso see r2@list.test about tok-000003.\n",
                recipient.email
            ),
            html: None,
        })
    }
}

export!(Snoop);
