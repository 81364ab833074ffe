//! Why a send stops before its plan is done: the operator, a signal, a gate, an unusable relay,
//! a message that changed or failed at send time, or a journal that cannot record. The text of
//! each is what the operator reads after "halted … stage N:".

use crate::transport::Reply;

/// Why a send stopped before its stage was done.
#[derive(Debug, Clone, PartialEq)]
pub enum HaltReason {
    /// SIGINT (`"SIGINT"`) or SIGTERM: stop after the messages in flight.
    Signal(&'static str),
    /// A second SIGINT: stop now; what was in flight becomes ambiguous.
    SecondSignal,
    /// `isomail halt`, with who asked and when.
    Operator(String),
    /// More permanent failures than `max_failure_rate` allows: at the end of a stage, or
    /// (`certain`) already mid-stage, when the rest of the stage could not bring it back under.
    FailureRate {
        stage: usize,
        permanent: usize,
        of: usize,
        max: f64,
        certain: bool,
    },
    /// After `[bounces] wait_seconds`, more of a stage's messages hard-bounced than
    /// `max_bounce_rate` allows: halted before the next stage.
    BounceRate {
        stage: usize,
        bounced: usize,
        of: usize,
        max: f64,
    },
    /// After `[bounces] wait_seconds`, more of a stage's recipients complained (ARF) than
    /// `[bounces] max_complaint_rate` allows: halted before the next stage.
    ComplaintRate {
        stage: usize,
        complaints: usize,
        of: usize,
        max: f64,
    },
    /// The reputation brake: more of a stage's messages failed for reasons about the sender
    /// than `[bounces] max_sender_failure_rate` allows; `causes` are the largest (receiving
    /// domain, reason, recipients).
    SenderFailures {
        stage: usize,
        failures: usize,
        of: usize,
        max: f64,
        causes: Vec<(String, String, usize)>,
    },
    /// The relay or outbox cannot be used at all (unreachable, credentials refused).
    RelayUnusable { relay: String, reply: Reply },
    /// A message failed to render or failed a safety check when rendered again to be sent.
    SendTimeFinding(String),
    /// A message rendered at send time is not the one the preflight checked.
    HashMismatch { index: usize },
    /// A stage ended with nobody's fate settled: planning it again would change nothing.
    NoProgress { stage: usize, pending: usize },
    /// The journal could not record a step; sending on would lose track of someone.
    Journal(String),
}

impl std::fmt::Display for HaltReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HaltReason::Signal("SIGTERM") => f.write_str("terminated (SIGTERM)"),
            HaltReason::Signal(name) => write!(f, "interrupted ({name})"),
            HaltReason::SecondSignal => f.write_str(
                "stopped at once on a second signal; messages that were in flight will be reported ambiguous",
            ),
            HaltReason::Operator(by) => write!(f, "halt requested ({by})"),
            HaltReason::FailureRate {
                stage,
                permanent,
                of,
                max,
                certain: false,
            } => write!(
                f,
                "failure-rate gate: {permanent} of {of} messages in stage {stage} failed \
                 permanently, above max_failure_rate = {max}"
            ),
            HaltReason::FailureRate {
                permanent,
                of,
                max,
                certain: true,
                ..
            } => write!(
                f,
                "failure-rate gate: {permanent} permanent failures already in a stage of {of}, \
                 above max_failure_rate = {max}"
            ),
            HaltReason::BounceRate {
                stage,
                bounced,
                of,
                max,
            } => write!(
                f,
                "bounce gate: {bounced} of {of} messages of stage {stage} hard-bounced, above max_bounce_rate = {max}"
            ),
            HaltReason::ComplaintRate {
                stage,
                complaints,
                of,
                max,
            } => write!(
                f,
                "complaint gate: {complaints} of {of} messages of stage {stage} drew a complaint, \
                 above max_complaint_rate = {max}"
            ),
            HaltReason::SenderFailures {
                stage,
                failures,
                of,
                max,
                causes,
            } => write_sender_failures(f, (*stage, *failures, *of, *max), causes),
            HaltReason::RelayUnusable { relay, reply } => {
                write!(f, "cannot deliver through {relay}: {reply}")
            }
            HaltReason::SendTimeFinding(what) => f.write_str(what),
            HaltReason::NoProgress { stage, pending } => write!(
                f,
                "stage {stage} settled nobody's fate ({pending} recipient(s) still pending); \
                 stopping rather than run it again"
            ),
            HaltReason::HashMismatch { index } => write!(
                f,
                "the message for recipient #{index} differs from the one checked in preflight (content hash mismatch)"
            ),
            HaltReason::Journal(why) => f.write_str(why),
        }
    }
}

/// The reputation brake's reason: the counts, then the largest (domain, reason, recipients).
fn write_sender_failures(
    f: &mut std::fmt::Formatter<'_>,
    (stage, failures, of, max): (usize, usize, usize, f64),
    causes: &[(String, String, usize)],
) -> std::fmt::Result {
    write!(
        f,
        "reputation brake: {failures} of {of} messages of stage {stage} failed for reasons \
         about the sender, above max_sender_failure_rate = {max}"
    )?;
    let causes: Vec<String> = causes
        .iter()
        .map(|(domain, why, n)| format!("{} {why} ({n})", crate::term::inert(domain)))
        .collect();
    if !causes.is_empty() {
        write!(f, ": {}", causes.join(", "))?;
    }
    f.write_str("; fix the cause (block list, authentication, content) before resuming")
}
