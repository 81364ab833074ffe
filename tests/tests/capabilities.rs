//! The capability probe: a guest that tries env, args, cwd, files, clocks, randomness, stdio,
//! sockets and exit. The test pins exactly what it observes, and that two recipients observe
//! the same thing.

use std::hash::{DefaultHasher, Hash, Hasher};

use crate::util::{CampaignDir, guest, isomail_path, outcomes, stderr, stdout};
use isomail::sandbox::RenderFailure;

const PROBES: [&str; 9] = [
    "env", "args", "cwd", "file", "clock", "random", "stdio", "socket", "exit",
];

/// A campaign that runs each of `probes` for two recipients: `first-<probe>@probe.test`, then
/// `second-…`, with the probe's name in column `probe`.
pub(crate) fn probe_campaign(
    renderer: std::path::PathBuf,
    subject: &str,
    probes: &[&str],
) -> CampaignDir {
    let mut campaign = CampaignDir::new();
    campaign.renderer = Some(renderer);
    campaign.subject = subject.into();
    let mut csv = String::from("email,probe\n");
    for probe in probes {
        csv.push_str(&format!(
            "first-{probe}@probe.test,{probe}\nsecond-{probe}@probe.test,{probe}\n"
        ));
    }
    campaign.csv = csv.into_bytes();
    campaign
}

/// What a probe saw for one recipient: the message's text, or why it failed.
pub(crate) type Seen = Result<String, RenderFailure>;

/// Runs [`probe_campaign`] through isomail's pipeline with `renderer` and `subject`, and
/// returns (probe, what the first saw, what the second saw). Shared by the probes of every
/// renderer language.
pub(crate) fn observe(
    renderer: std::path::PathBuf,
    subject: &str,
    probes: &[&'static str],
) -> Vec<(&'static str, Seen, Seen)> {
    let campaign = probe_campaign(renderer, subject, probes);
    let out = outcomes(&campaign.write(), 2);
    assert_eq!(out.len(), 2 * probes.len());
    let mut results = out.into_iter();
    probes
        .iter()
        .map(|&probe| {
            (
                probe,
                results.next().expect("first"),
                results.next().expect("second"),
            )
        })
        .collect()
}

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
    assert_eq!(out.status.code(), Some(3), "{stderr}");
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
