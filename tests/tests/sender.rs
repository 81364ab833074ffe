//! The sender in-process, against the scriptable stub transport: retries, the failure-rate
//! gate, ambiguous outcomes, halts and resumes, fast and without a server. The aiosmtpd and
//! postfix tests (delivery.rs, halt_and_crash.rs, postfix.rs) are the real-server layer.

use std::sync::Arc;

use crate::util::CampaignDir;
use isomail::campaign::Campaign;
use isomail::journal::{Journal, State};
use isomail::reporter::Reporter;
use isomail::send::{self, Halt, HaltReason, SendOptions, Through, Wiring};
use isomail::transport::stub::{Scripted, Stub};
use isomail::{Error, ErrorKind};

/// A campaign of `n` recipients `r{i}@list.test`, every stage at once unless `delivery` says.
fn stub_campaign(n: usize, delivery: &str) -> (CampaignDir, Campaign) {
    let mut dir = CampaignDir::new().numbered(n);
    let stages = if delivery.contains("stages") {
        ""
    } else {
        "stages = [\"all\"]\n"
    };
    dir.extra = format!("\n[delivery]\nrate = 10000\nretry_delay = 0\n{stages}{delivery}\n");
    let path = dir.write();
    let campaign = Campaign::load(&path).expect("campaign");
    (dir, campaign)
}

fn options() -> SendOptions {
    SendOptions {
        dry_run: false,
        through: Through::All,
        resend_ambiguous: false,
        allow_changed: false,
        confirmed: true,
        jobs: 1,
    }
}

/// Sends `campaign` through `stub`; the result, and the halt flag to read its reason.
fn send(campaign: &Campaign, stub: &Arc<Stub>, options: &SendOptions) -> (Result<(), Error>, Halt) {
    let halt = Halt::new();
    let wiring = Wiring {
        transport: Box::new(Arc::clone(stub)),
        halt: halt.clone(),
        signals: false,
        reporter: Arc::new(Reporter::silent()),
    };
    (send::run_with(campaign, options, wiring), halt)
}

fn state_of(campaign: &Campaign, index: usize) -> (State, u32) {
    let journal =
        Journal::open_existing(&Journal::path_for(&campaign.path, false)).expect("journal");
    let row = journal.row(index).expect("row").expect("exists");
    (row.state, row.attempts)
}

fn addr(i: usize) -> String {
    format!("r{i}@list.test")
}

/// Each address at most once among what the stub holds.
fn assert_nobody_twice(stub: &Stub) {
    let mut held = stub.holds();
    let all = held.len();
    held.sort();
    held.dedup();
    assert_eq!(all, held.len(), "a recipient got two copies");
}

#[test]
fn a_deferred_message_is_retried_until_it_goes_and_no_further() {
    let (_dir, campaign) = stub_campaign(3, "");
    let stub = Arc::new(
        Stub::new()
            .script(&addr(1), [Scripted::Defer, Scripted::Defer])
            .script(
                &addr(2),
                [Scripted::Defer, Scripted::Defer, Scripted::Defer],
            ),
    );
    let (result, halt) = send(&campaign, &stub, &options());
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(halt.reason(), None);
    // #1 went on its third attempt; #2 ran out of attempts; #3 went at once.
    assert_eq!(state_of(&campaign, 1), (State::Sent, 3));
    assert_eq!(state_of(&campaign, 2), (State::Failed, 3));
    assert_eq!(state_of(&campaign, 3), (State::Sent, 1));
    let tries_of = |a: &str| stub.received().iter().filter(|r| r.to == a).count();
    assert_eq!(
        [tries_of(&addr(1)), tries_of(&addr(2)), tries_of(&addr(3))],
        [3, 3, 1]
    );
}

#[test]
fn the_failure_rate_gate_halts_the_campaign_before_the_next_stage() {
    let (_dir, campaign) = stub_campaign(
        20,
        "stages = [10, \"all\"]\nmax_failure_rate = 0.2\nconcurrency = 1",
    );
    let stub = Arc::new((1..=3).fold(Stub::new(), |s, i| s.script(&addr(i), [Scripted::Reject])));
    let (result, halt) = send(&campaign, &stub, &options());
    assert_eq!(result.map_err(|e| e.kind()), Err(ErrorKind::Halted));
    // Three of ten already fail a 20% ceiling: the stage stops there, mid-way.
    assert!(
        matches!(
            halt.reason(),
            Some(HaltReason::FailureRate {
                stage: 1,
                permanent: 3,
                of: 10,
                certain: true,
                ..
            })
        ),
        "{:?}",
        halt.reason()
    );
    // One connection: the third failure is the last message sent; the next, already queued,
    // is not (a halt stops new messages).
    assert_eq!(stub.received().len(), 3);
    // Stage 2 never started: its recipients are untouched.
    assert_eq!(state_of(&campaign, 11), (State::Pending, 0));

    // Control: the same failures under a ceiling they do not exceed pass the gate.
    let (_dir, campaign) = stub_campaign(20, "stages = [10, \"all\"]\nmax_failure_rate = 0.3");
    let stub = Arc::new((1..=3).fold(Stub::new(), |s, i| s.script(&addr(i), [Scripted::Reject])));
    let (result, halt) = send(&campaign, &stub, &options());
    assert!(result.is_ok(), "{result:?}");
    assert_eq!((halt.reason(), stub.received().len()), (None, 20));
}

#[test]
fn a_message_lost_after_its_body_is_ambiguous_and_resent_only_when_asked() {
    let (_dir, campaign) = stub_campaign(4, "");
    let stub = Arc::new(Stub::new().script(&addr(2), [Scripted::LoseAfterBody]));
    let (result, _) = send(&campaign, &stub, &options());
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(state_of(&campaign, 2), (State::Ambiguous, 1));
    // A plain resume leaves it alone…
    let (result, _) = send(&campaign, &stub, &options());
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(stub.received().len(), 4);
    // …and the operator's flag sends it once more.
    let again = SendOptions {
        resend_ambiguous: true,
        ..options()
    };
    let (result, _) = send(&campaign, &stub, &again);
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(state_of(&campaign, 2), (State::Sent, 2));
    assert_eq!(stub.received().len(), 5);
}

#[test]
fn a_halt_stops_new_messages_and_a_resume_sends_each_remaining_one_once() {
    let (_dir, campaign) = stub_campaign(30, "concurrency = 2");
    let halt_after = Arc::new(std::sync::OnceLock::<Halt>::new());
    let flag = Arc::clone(&halt_after);
    let stub = Arc::new(Stub::new().after_each(move |_| {
        if let Some(halt) = flag.get() {
            halt.halt(HaltReason::Operator("the test".into()));
        }
    }));
    let halt = Halt::new();
    let _ = halt_after.set(halt.clone());
    let wiring = Wiring {
        transport: Box::new(Arc::clone(&stub)),
        halt: halt.clone(),
        signals: false,
        reporter: Arc::new(Reporter::silent()),
    };
    let result = send::run_with(&campaign, &options(), wiring);
    assert_eq!(result.map_err(|e| e.kind()), Err(ErrorKind::Halted));
    assert_eq!(halt.reason(), Some(HaltReason::Operator("the test".into())));
    // The halt came with the first message; at most the workers' in-flight ones followed.
    let first_run = stub.received().len();
    assert!(
        (1..=3).contains(&first_run),
        "{first_run} sent before the halt took"
    );
    let (result, _) = send(&campaign, &Arc::clone(&stub), &options());
    // The resumed run is a new Wiring with its own Halt, so the hook no longer fires there.
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(stub.holds().len(), 30);
    assert_nobody_twice(&stub);
}

#[test]
fn an_unusable_relay_halts_with_everyone_still_pending() {
    let (_dir, campaign) = stub_campaign(5, "");
    let stub = Arc::new(Stub::new().script(&addr(1), [Scripted::Unreachable]));
    let (result, halt) = send(&campaign, &stub, &options());
    assert_eq!(result.map_err(|e| e.kind()), Err(ErrorKind::Halted));
    assert!(
        matches!(halt.reason(), Some(HaltReason::RelayUnusable { .. })),
        "{:?}",
        halt.reason()
    );
    assert_eq!(state_of(&campaign, 1), (State::Pending, 1));
    // Control: once the relay answers, the same campaign goes out whole.
    let (result, _) = send(&campaign, &stub, &options());
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(stub.holds().len(), 5);
    assert_nobody_twice(&stub);
}
