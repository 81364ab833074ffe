//! Tries every capability a std Rust program has on WASI and reports what it saw in the body.
//! The recipient's `probe` field picks the attempt, so each is a message of its own.

wit_bindgen::generate!({ path: "../../../wit", world: "renderer" });

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::Read;

struct Probe;

impl Guest for Probe {
    fn render(templates: Templates, recipient: Recipient) -> Result<Content, RenderError> {
        let probe = recipient
            .fields
            .iter()
            .find(|(k, _)| k == "probe")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let seen = match probe {
            "env" => format!("vars={:?}", std::env::vars().collect::<Vec<_>>()),
            "args" => format!("args={:?}", std::env::args().collect::<Vec<_>>()),
            "cwd" => format!("cwd={:?}", std::env::current_dir().map_err(|e| e.kind())),
            "file" => format!(
                "passwd={:?} root={:?} here={:?}",
                std::fs::read_to_string("/etc/passwd").map_err(|e| e.kind()),
                std::fs::read_dir("/")
                    .map(|d| d.count())
                    .map_err(|e| e.kind()),
                std::fs::write("leak.txt", recipient.email.as_bytes()).map_err(|e| e.kind()),
            ),
            "clock" => format!(
                "wall={:?} mono_elapsed={:?}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos()),
                std::time::Instant::now().elapsed().as_nanos(),
            ),
            "random" => format!("hash={}", RandomState::new().hash_one("the same input")),
            "stdio" => {
                println!("stdout sees {}", recipient.email);
                eprintln!("stderr sees {}", recipient.email);
                let mut input = String::new();
                format!(
                    "stdin={:?}",
                    std::io::stdin()
                        .read_to_string(&mut input)
                        .map(|n| (n, input))
                        .map_err(|e| e.kind())
                )
            }
            "socket" => format!(
                "tcp={:?}",
                std::net::TcpStream::connect("127.0.0.1:25")
                    .map(|_| ())
                    .map_err(|e| e.kind())
            ),
            "exit" => std::process::exit(7),
            other => format!("unknown probe {other:?}"),
        };
        Ok(Content {
            subject: templates.subject,
            text: seen,
            html: None,
        })
    }
}

export!(Probe);
