//! Group commit: the concurrent senders' journal writes ([`Write`]) share transactions, and so
//! fsyncs, while each still returns only once it is durable. A refused write fails alone; a
//! failed commit fails every write in it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::{Journal, JournalError, State};
use crate::reply::Reply;

/// One write the senders hand to the [`Committer`].
#[derive(Debug)]
pub enum Write {
    /// [`Journal::begin_send`]; its result is the attempt count.
    BeginSend {
        index: usize,
        stage: usize,
        resend_ambiguous: bool,
    },
    /// [`Journal::set_state`]; its result is 0.
    SetState {
        index: usize,
        state: State,
        reply: Option<Reply>,
        /// The relay the transport dealt the message to, if it says.
        relay: Option<String>,
    },
}

/// Group commit: the concurrent senders' journal writes share transactions, and so fsyncs.
///
/// Each [`Committer::write`] returns only once its write is committed, exactly as a lone
/// transaction would, so `sending` is still durable before the transport sees a message; what
/// changes is that writes arriving while one commit is under way are committed together by
/// the next. Whoever finds no commit running becomes the committer for everything queued.
pub struct Committer<'a> {
    journal: &'a Mutex<Journal>,
    queue: Mutex<Queue>,
    done: Condvar,
    commits: AtomicU64,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<(u64, Write)>,
    results: HashMap<u64, Result<u32, JournalError>>,
    next_ticket: u64,
    committing: bool,
}

impl<'a> Committer<'a> {
    pub fn new(journal: &'a Mutex<Journal>) -> Committer<'a> {
        Committer {
            journal,
            queue: Mutex::new(Queue::default()),
            done: Condvar::new(),
            commits: AtomicU64::new(0),
        }
    }

    /// Transactions committed so far (each is one fsync), for every write handed in.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Queues `write`, and returns its result once it is durably committed (or failed).
    pub fn write(&self, write: Write) -> Result<u32, JournalError> {
        let poisoned = || JournalError::Poisoned;
        let mut queue = self.queue.lock().map_err(|_| poisoned())?;
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.waiting.push((ticket, write));
        loop {
            if let Some(result) = queue.results.remove(&ticket) {
                return result;
            }
            if queue.committing {
                queue = self.done.wait(queue).map_err(|_| poisoned())?;
                continue;
            }
            // No commit under way: commit everything queued, this write included.
            queue.committing = true;
            let (tickets, writes): (Vec<u64>, Vec<Write>) =
                std::mem::take(&mut queue.waiting).into_iter().unzip();
            drop(queue);
            let results = match self.journal.lock() {
                Ok(journal) => {
                    self.commits.fetch_add(1, Ordering::Relaxed);
                    apply(&journal, &writes)
                }
                Err(_) => writes.iter().map(|_| Err(poisoned())).collect(),
            };
            queue = self.queue.lock().map_err(|_| poisoned())?;
            queue.committing = false;
            for (ticket, result) in tickets.into_iter().zip(results) {
                queue.results.insert(ticket, result);
            }
            self.done.notify_all();
        }
    }
}

/// Applies `writes` in ONE transaction (one fsync), each write's result in order. A write that
/// is refused (a row not pending) changes nothing and does not stop the others; if the commit
/// fails, every write fails with it.
fn apply(journal: &Journal, writes: &[Write]) -> Vec<Result<u32, JournalError>> {
    let all_fail = |e: rusqlite::Error| {
        let source = Arc::new(e);
        writes
            .iter()
            .map(|_| {
                Err(JournalError::Commit {
                    path: journal.path.clone(),
                    source: Arc::clone(&source),
                })
            })
            .collect()
    };
    if let Err(e) = journal.conn.execute_batch("BEGIN IMMEDIATE") {
        return all_fail(e);
    }
    let results = writes
        .iter()
        .map(|write| match write {
            Write::BeginSend {
                index,
                stage,
                resend_ambiguous,
            } => journal.begin_send(*index, *stage, *resend_ambiguous),
            Write::SetState {
                index,
                state,
                reply,
                relay,
            } => journal
                .set_state(*index, *state, reply.as_ref())
                .and_then(|()| match relay {
                    Some(relay) => journal.set_relay(*index, relay),
                    None => Ok(()),
                })
                .map(|()| 0),
        })
        .collect();
    match journal.conn.execute_batch("COMMIT") {
        Ok(()) => results,
        Err(e) => {
            let _ = journal.conn.execute_batch("ROLLBACK");
            all_fail(e)
        }
    }
}
