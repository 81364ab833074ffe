//! The library's pipeline run in-process, for the tests that need each message's content, and
//! what they look for in it: addresses that are not the recipient's own.

use std::path::Path;
use std::time::SystemTime;

use isomail::campaign::Campaign;
use isomail::checks::{CampaignFinding, Checks};
use isomail::render::{self, Failed, Rendered};
use isomail::sandbox::{Content, RenderFailure};

use super::cache::use_the_test_cache;
use super::campaign::probe_campaign;

/// Every message's outcome through the in-process pipeline, in list order: its text, or why it
/// failed.
pub fn outcomes(
    campaign: &Path,
    jobs: usize,
) -> Vec<Result<String, isomail::sandbox::RenderFailure>> {
    let (ok, failed) = render_campaign(campaign, jobs);
    let mut out: Vec<_> = ok
        .into_iter()
        .map(|m| (m.index, Ok(m.content.text)))
        .chain(failed.into_iter().map(|f| match f.failure {
            render::Failure::Renderer(failure) => (f.index, Err(failure)),
            render::Failure::Host(e) => panic!("recipient #{}: host error: {e}", f.index),
        }))
        .collect();
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Runs the whole render pipeline in-process and returns every outcome, sorted by index.
pub fn render_campaign(campaign: &Path, jobs: usize) -> (Vec<Rendered>, Vec<Failed>) {
    let (ok, failed, _) = render_and_check(campaign, jobs);
    (ok, failed)
}

/// As [`render_campaign`], with the campaign-wide findings of the safety checks.
pub fn render_and_check(
    campaign: &Path,
    jobs: usize,
) -> (Vec<Rendered>, Vec<Failed>, Vec<CampaignFinding>) {
    use_the_test_cache();
    let campaign = Campaign::load(campaign).unwrap_or_else(|e| panic!("load: {e}"));
    let sandbox = render::load_sandbox(&campaign, jobs, &isomail::reporter::Reporter::silent())
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
    render::probe(&campaign, &sandbox).unwrap_or_else(|e| panic!("probe: {e}"));
    let checks = render::checks(&campaign).unwrap_or_else(|e| panic!("checks: {e}"));
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    let findings = render::render_all(
        &campaign,
        &sandbox,
        &checks,
        jobs,
        SystemTime::UNIX_EPOCH,
        render::Signing::Now,
        |outcome| {
            match outcome {
                Ok(r) => ok.push(r),
                Err(f) => failed.push(f),
            }
            Ok(())
        },
    )
    .unwrap_or_else(|e| panic!("render_all: {e}"))
    .findings;
    ok.sort_by_key(|r| r.index);
    failed.sort_by_key(|f| f.index);
    (ok, failed, findings)
}

/// What a probe saw for one recipient: the message's text, or why it failed.
pub type Seen = Result<String, RenderFailure>;

/// Runs [`probe_campaign`] through isomail's pipeline with `renderer` and `subject`, and
/// returns (probe, what the first saw, what the second saw). Shared by the probes of every
/// renderer language.
pub fn observe(
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

/// Every address of `all` that occurs in `text`, as a list of indices into `all`.
pub fn addresses_in(text: &str, all: &[String]) -> Vec<usize> {
    let lower = text.to_lowercase();
    all.iter()
        .enumerate()
        .filter(|(_, a)| contains_address(&lower, a))
        .map(|(i, _)| i)
        .collect()
}

/// `addr` occurs in `text` as a whole address, not inside a longer one (`r1@x` in `r12@x`).
fn contains_address(text: &str, addr: &str) -> bool {
    let local_char = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    text.match_indices(addr).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let mut after = text[at + addr.len()..].chars();
        let left_ok = !before.is_some_and(local_char);
        let right_ok = match after.next() {
            None => true,
            Some('.') => !after.next().is_some_and(|c| c.is_ascii_alphanumeric()),
            Some(c) => !(c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        };
        left_ok && right_ok
    })
}

/// Indices (1-based) of messages that carry any address but their own recipient's.
pub fn leaking(texts: &[(usize, &str)], all: &[String]) -> Vec<usize> {
    texts
        .iter()
        .filter(|(index, text)| addresses_in(text, all) != vec![index - 1])
        .map(|(index, _)| *index)
        .collect()
}

pub fn texts(messages: &[Rendered]) -> Vec<(usize, &str)> {
    messages
        .iter()
        .map(|m| (m.index, m.content.text.as_str()))
        .collect()
}

/// What an accumulating renderer in one reused instance (every control of the isolation suite, in
/// each language) gives for `all` recipients in order: message n carries the n addresses
/// rendered so far, [`leaking`] flags every message after the first, and so do the
/// host's own checks, which run on every message before it can be sent.
pub fn assert_accumulates(contents: &[Content], all: &[String]) {
    assert_eq!(contents.len(), all.len());
    let texts: Vec<(usize, &str)> = contents
        .iter()
        .enumerate()
        .map(|(i, c)| (i + 1, c.text.as_str()))
        .collect();
    for (index, text) in &texts {
        assert_eq!(addresses_in(text, all), (0..*index).collect::<Vec<_>>());
    }
    let after_the_first: Vec<usize> = (2..=all.len()).collect();
    assert_eq!(leaking(&texts, all), after_the_first);
    let checks = Checks::new(all, &[]).expect("checks");
    let flagged: Vec<usize> = contents
        .iter()
        .enumerate()
        .filter(|(i, c)| !checks.message(i + 1, c).is_empty())
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(flagged, after_the_first);
}
