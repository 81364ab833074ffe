//! The counter again, with `prepare`: the snapshot the host takes after `prepare` starts the
//! count at 1000, so every message, each a fresh instance of that snapshot, must read 1001. It
//! also keeps the last address it saw, as a renderer that cached per-recipient data would.
//! Two subjects make `prepare` misbehave: "loop in prepare" never returns, "refuse in prepare"
//! refuses the templates.

wit_bindgen::generate!({ path: "../../../wit", world: "prepared-renderer" });

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

static CALLS: AtomicU64 = AtomicU64::new(0);
static LAST: Mutex<String> = Mutex::new(String::new());

struct PreparedCounter;

impl Guest for PreparedCounter {
    fn prepare(templates: Templates) -> Result<(), RenderError> {
        CALLS.store(1000, Ordering::SeqCst);
        match templates.subject.as_str() {
            // A `prepare` that runs away: the host must fall back to rendering unprepared.
            "loop in prepare" => loop {
                CALLS.fetch_add(1, Ordering::SeqCst);
            },
            "refuse in prepare" => Err(RenderError::Syntax("refused in prepare".into())),
            _ => Ok(()),
        }
    }

    fn render(templates: Templates, recipient: Recipient) -> Result<Content, RenderError> {
        let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        let mut last = LAST
            .lock()
            .map_err(|_| RenderError::Other("poisoned".into()))?;
        let previous = std::mem::replace(&mut *last, recipient.email.clone());
        Ok(Content {
            subject: templates.subject,
            text: format!("count={n} for {} after [{previous}]", recipient.email),
            html: None,
        })
    }
}

export!(PreparedCounter);
