//! DKIM signing cost per message of about 2 KB: RSA-2048, Ed25519 and both, against building the
//! same message (`message::build`), measured in one run; then one RSA-2048 signature by ring (the
//! library isomail signed with before) against aws-lc-rs (the one it signs with), same key and
//! data, turn about. Keys are made by `openssl`.
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
    rsa_libraries(dir.path(), n.min(1000), &sample);
}

/// One RSA-2048 PKCS#1 v1.5 SHA-256 signature over `data` by ring and by aws-lc-rs, with the same
/// key: the best of three rounds each, the two taking turns; the signatures must be equal.
fn rsa_libraries(dir: &Path, n: u32, data: &[u8]) {
    let pem = dir.join("rsa");
    let out = Command::new("openssl")
        .args(["pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in"])
        .arg(&pem)
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "openssl pkcs8");
    let der = out.stdout;
    let ring_pair = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("ring key");
    let lc_pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der).expect("aws-lc-rs key");
    let ring_rng = ring::rand::SystemRandom::new();
    let lc_rng = aws_lc_rs::rand::SystemRandom::new();
    let mut ring_sig = vec![0; ring_pair.public().modulus_len()];
    let mut lc_sig = vec![0; lc_pair.public_modulus_len()];
    let (mut ring_best, mut lc_best) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        ring_best = ring_best.min(per_call(n, |_| {
            let sig = &mut ring_sig;
            ring_pair
                .sign(&ring::signature::RSA_PKCS1_SHA256, &ring_rng, data, sig)
                .expect("ring sign");
        }));
        lc_best = lc_best.min(per_call(n, |_| {
            let sig = &mut lc_sig;
            lc_pair
                .sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &lc_rng, data, sig)
                .expect("aws-lc-rs sign");
        }));
    }
    assert_eq!(ring_sig, lc_sig, "the two libraries sign alike");
    println!(
        "RSA-2048 signature: ring {:.1} µs, aws-lc-rs {:.1} µs (baseline ring: aws-lc-rs takes {:.2}x its time)",
        ring_best.as_secs_f64() * 1e6,
        lc_best.as_secs_f64() * 1e6,
        lc_best.as_secs_f64() / ring_best.as_secs_f64()
    );
}
