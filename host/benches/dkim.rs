//! DKIM signing cost per message of about 2 KB: RSA-2048, Ed25519 and both, against building the
//! same message (`message::build`), measured in one run. Keys are made by `openssl`.
//!
//! `cargo bench --bench dkim [-- N]` (N messages per measurement, default 2000).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use isomail::message::dkim::{self, Signer};
use isomail::message::{self, Envelope};
use isomail::sandbox::Content;

fn key(dir: &Path, name: &str, args: &[&str]) -> Signer {
    let path = dir.join(name);
    let out = Command::new("openssl")
        .args(args)
        .arg("-out")
        .arg(&path)
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    Signer::from_pem_file(&path, "example.org", name).expect("key")
}

/// Time per call of `f`: the mean over `n` calls, the best of three rounds (the machine may be
/// busy with other work; the best round is the closest to the cost itself).
fn per_call(n: u32, mut f: impl FnMut(u32)) -> Duration {
    (0..3)
        .map(|_| {
            let started = Instant::now();
            for i in 0..n {
                f(i);
            }
            started.elapsed() / n
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let n: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().expect("tmp");
    let rsa = key(
        dir.path(),
        "rsa",
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ],
    );
    let ed = key(dir.path(), "ed", &["genpkey", "-algorithm", "ed25519"]);

    let from = "Notices <notices@example.org>".parse().expect("from");
    let date = SystemTime::UNIX_EPOCH + Duration::from_secs(1_772_532_000);
    let content = Content {
        subject: "Your updated terms — please read".into(),
        text: "We have updated the agreement that governs your use of the service. \
               The changes take effect on 1 January 2027; nothing is required of you.\n"
            .repeat(8),
        html: Some(
            "<p>We have updated the agreement that governs your use of the service.</p>\n"
                .repeat(6),
        ),
    };
    let build = |i: u32| {
        let to = format!("user{i}@example.com");
        let id = format!("<bench.{i}@example.org>");
        let envelope = Envelope {
            from: &from,
            to: &to,
            date,
            message_id: &id,
            list_unsubscribe: Some("<https://example.org/u/T0k>, <mailto:u+T0k@example.org>"),
        };
        message::build(&envelope, &content).expect("build")
    };
    let sample = build(0);
    println!(
        "message: {} bytes; {n} messages per measurement",
        sample.len()
    );

    let baseline = per_call(n, |i| {
        std::hint::black_box(build(i));
    });
    let messages: Vec<Vec<u8>> = (0..n).map(build).collect();
    let signers = [rsa, ed];
    let mut rows = Vec::new();
    for (name, chosen) in [
        ("RSA-2048", &signers[..1]),
        ("Ed25519", &signers[1..]),
        ("RSA-2048 + Ed25519", &signers[..]),
    ] {
        let cost = per_call(n, |i| {
            let m = &messages[i as usize];
            std::hint::black_box(dkim::sign(m, chosen, date).expect("sign"));
        });
        rows.push((name, cost));
    }
    println!(
        "{:<22} {:>10.1} µs/message (baseline)",
        "build the message",
        baseline.as_secs_f64() * 1e6
    );
    for (name, cost) in rows {
        println!(
            "{:<22} {:>10.1} µs/message  {:>6.1}x building it",
            format!("sign, {name}"),
            cost.as_secs_f64() * 1e6,
            cost.as_secs_f64() / baseline.as_secs_f64()
        );
    }
}
