//! The capability probe: a guest that tries env, args, cwd, files, clocks, randomness, stdio,
//! sockets and exit. The test pins exactly what it observes, and that two recipients observe
//! the same thing.

use std::hash::{DefaultHasher, Hash, Hasher};

use crate::util::{Seen, guest, isomail_path, observe, probe_campaign, stderr, stdout};
use isomail::sandbox::RenderFailure;

const PROBES: [&str; 9] = [
    "env", "args", "cwd", "file", "clock", "random", "stdio", "socket", "exit",
];

fn observations() -> Vec<(&'static str, Seen, Seen)> {
    observe(guest("probe"), "Probe", &PROBES)
}

#[test]
fn capability_probe_sees_nothing_and_the_same_every_time() {
    // std's RandomState seeded with the all-zero seed the sandbox hands out is SipHash with
    // zero keys, which is exactly what DefaultHasher::new() computes.
    let mut zero_keyed = DefaultHasher::new();
    "the same input".hash(&mut zero_keyed);
    let zero_seed_hash = zero_keyed.finish();
    for (probe, first, second) in observations() {
        assert_eq!(
            first, second,
            "probe {probe} saw different things for two recipients"
        );
        let ok = |s: &str| Ok::<String, RenderFailure>(s.to_owned());
        match probe {
            "env" => assert_eq!(first, ok("vars=[]")),
            "args" => assert_eq!(first, ok("args=[]")),
            // wasi-libc's answer when the host offers no initial directory.
            "cwd" => assert_eq!(first, ok("cwd=Ok(\"/\")")),
            "file" => assert_eq!(
                first,
                ok("passwd=Err(NotFound) root=Err(NotFound) here=Err(NotFound)")
            ),
            "clock" => assert_eq!(first, ok("wall=Ok(0) mono_elapsed=0")),
            "random" => assert_eq!(first, Ok(format!("hash={zero_seed_hash}"))),
            "stdio" => assert_eq!(first, ok("stdin=Ok((0, \"\"))")),
            "socket" => {
                let import = denied(&first);
                assert!(
                    import.starts_with("wasi:sockets/tcp-create-socket@"),
                    "{first:?}"
                );
            }
            "exit" => {
                let import = denied(&first);
                assert!(import.starts_with("wasi:cli/exit@"), "{first:?}");
                assert!(import.ends_with("#exit"), "{first:?}");
            }
            other => panic!("unexpected probe {other}"),
        }
    }
}

#[test]
fn guest_stdio_never_reaches_the_terminal() {
    let campaign = probe_campaign(guest("probe"), "Probe", &PROBES);
    let out_dir = campaign.dir.path().join("out");
    let out = isomail_path(
        &["render", "--out", out_dir.to_str().expect("utf-8 path")],
        &campaign.write(),
    );
    let (stdout, stderr) = (stdout(&out), stderr(&out));
    // socket and exit are denied, so two messages per probe fail: a failed safety check.
    out.assert_exit_code(3);
    assert!(
        stderr.contains("wasi:sockets/tcp-create-socket"),
        "{stderr}"
    );
    for leaked in ["stdout sees", "stderr sees", "@probe.test"] {
        assert!(!stdout.contains(leaked), "stdout has {leaked:?}: {stdout}");
    }
    for leaked in ["stdout sees", "stderr sees"] {
        assert!(!stderr.contains(leaked), "stderr has {leaked:?}: {stderr}");
    }
    // Control: the probe does print, and the message it rendered is there.
    let stdio_message = std::fs::read_to_string(out_dir.join("000013.eml")).expect("stdio message");
    assert!(
        stdio_message.contains("stdin=Ok((0, \"\"))"),
        "{stdio_message}"
    );
}

/// The import a probe was denied, or a panic naming what happened instead.
fn denied(result: &Result<String, RenderFailure>) -> &str {
    match result {
        Err(RenderFailure::Denied(d)) => &d.import,
        other => panic!("expected a denied capability, got {other:?}"),
    }
}
