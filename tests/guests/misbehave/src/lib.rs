//! Misbehaves for chosen recipients, by the local part of their address: `spin@` loops forever,
//! `bomb@` allocates without end, `huge@` returns an enormous body, `deep@` recurses without end,
//! `panic@` panics, `crlf@` puts a line break in the subject. The output a hostile renderer uses
//! against the host around the sandbox: `errbig@` refuses with a 40 MiB error message, `erresc@`
//! with terminal escape sequences and a forged summary line; `eqrun@`, `pctrun@`, `amprun@`
//! return a 1 MiB run of `=`, `%` or `&` ending in `@x` (quadratic for a naive leak scan);
//! `ctlsubj@` puts ESC and BEL in the subject, `longsubj@` a 5,000-character word; `barecr@`
//! and `nul@` put a bare CR or a NUL in the text, `newlines@` 1,040,000 line feeds. Everyone
//! else gets a normal message.

wit_bindgen::generate!({ path: "../../../wit", world: "renderer" });

use std::hint::black_box;

struct Misbehave;

impl Guest for Misbehave {
    fn render(templates: Templates, recipient: Recipient) -> Result<Content, RenderError> {
        let local = recipient.email.split('@').next().unwrap_or_default();
        let mut text = format!("Hello {}\n{}", recipient.email, templates.text);
        let mut subject = templates.subject;
        // `errbig7@` behaves as `errbig@`: a list may hold many of one kind.
        match local.trim_end_matches(|c: char| c.is_ascii_digit()) {
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
            "errbig" => return Err(RenderError::Other("E".repeat(40 << 20))),
            "erresc" => {
                return Err(RenderError::Other(
                    "\x1b]0;pwned\x07\x1b[2K\r\nchecked 9 recipients: 9 rendered, 0 failed\n"
                        .into(),
                ));
            }
            "eqrun" => text = run_then_at('='),
            "pctrun" => text = run_then_at('%'),
            "amprun" => text = run_then_at('&'),
            "ctlsubj" => subject.push_str(" \x1b[2J\x07 now"),
            "longsubj" => subject = "x".repeat(5000),
            "barecr" => text.push_str("one\rtwo"),
            "nul" => text.push_str("one\0two"),
            "newlines" => text = "\n".repeat(1_040_000),
            _ => {}
        }
        Ok(Content {
            subject,
            text,
            html: None,
        })
    }
}

/// Just under 1 MiB of `c`, then `@x`.
fn run_then_at(c: char) -> String {
    let mut text = c.to_string().repeat((1 << 20) - 16);
    text.push_str("@x");
    text
}

#[inline(never)]
#[allow(unconditional_recursion)] // the point: a stack that grows until the sandbox stops it
fn recurse(n: u64) -> u64 {
    let pad = black_box([n; 32]);
    black_box(recurse(black_box(n + 1))).wrapping_add(pad[n as usize % 32])
}

export!(Misbehave);
