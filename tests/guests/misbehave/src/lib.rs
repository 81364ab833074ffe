//! Misbehaves for chosen recipients, by the local part of their address: `spin@` loops forever,
//! `bomb@` allocates without end, `huge@` returns an enormous body, `deep@` recurses without end,
//! `panic@` panics, `crlf@` puts a line break in the subject. Everyone else gets a normal message.

wit_bindgen::generate!({ path: "../../../wit", world: "renderer" });

use std::hint::black_box;

struct Misbehave;

impl Guest for Misbehave {
    fn render(templates: Templates, recipient: Recipient) -> Result<Content, RenderError> {
        let local = recipient.email.split('@').next().unwrap_or_default();
        let mut text = format!("Hello {}\n{}", recipient.email, templates.text);
        let mut subject = templates.subject;
        match local {
            "spin" => {
                let mut x: u64 = 0;
                loop {
                    x = black_box(x.wrapping_add(1));
                }
            }
            "bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![1u8; 1 << 20]));
                }
            }
            "huge" => text = "x".repeat(8 << 20),
            "deep" => text.push_str(&black_box(recurse(black_box(1))).to_string()),
            "panic" => panic!("deliberate panic for {}", recipient.email),
            "crlf" => subject.push_str("\r\nBcc: everyone@example.com"),
            _ => {}
        }
        Ok(Content {
            subject,
            text,
            html: None,
        })
    }
}

#[inline(never)]
#[allow(unconditional_recursion)] // the point: a stack that grows until the sandbox stops it
fn recurse(n: u64) -> u64 {
    let pad = black_box([n; 32]);
    black_box(recurse(black_box(n + 1))).wrapping_add(pad[n as usize % 32])
}

export!(Misbehave);
