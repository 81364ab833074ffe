//! What stops `isomail bounces` from reading a mailbox. A single message it cannot read is not
//! one of these: it is counted and left for the next run.

/// A bounce mailbox isomail cannot read.
#[derive(Debug, thiserror::Error)]
pub enum BouncesError {
    /// The path given is not a Maildir (exit 2).
    #[error("{0}: not a Maildir (it has neither new/ nor cur/)")]
    NotAMaildir(String),
    /// A Maildir folder that could not be listed (exit 1).
    #[error("{dir}: cannot list")]
    Unlistable {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}
