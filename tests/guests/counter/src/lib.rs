//! A global call counter: reads 1 in every message when each message gets a fresh instance.

wit_bindgen::generate!({ path: "../../../wit", world: "renderer" });

use std::sync::atomic::{AtomicU64, Ordering};

static CALLS: AtomicU64 = AtomicU64::new(0);

struct Counter;

impl Guest for Counter {
    fn render(templates: Templates, recipient: Recipient) -> Result<Content, RenderError> {
        let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Content {
            subject: templates.subject,
            text: format!("count={n} for {}", recipient.email),
            html: None,
        })
    }
}

export!(Counter);
