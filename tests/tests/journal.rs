//! Group commit: concurrent senders' journal writes share transactions, and each write still
//! returns only once it is committed.

use std::sync::Mutex;

use isomail::journal::{Committer, Journal, PreflightRow, State, Write};
use isomail::transport::Reply;

fn journal_with(dir: &std::path::Path, n: usize) -> Journal {
    let mut journal = Journal::open(&dir.join("j.sqlite")).expect("open");
    let rows: Vec<PreflightRow> = (1..=n)
        .map(|i| PreflightRow {
            index: i,
            email: format!("r{i}@list.test"),
            hash: format!("hash{i}"),
            message_id: format!("<{i}@x>"),
            data: format!("data{i}"),
        })
        .collect();
    journal.insert_preflight(&rows).expect("preflight");
    journal
}

#[test]
fn every_write_is_committed_when_it_returns_and_writes_share_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (threads, per_thread) = (8, 40);
    let journal = Mutex::new(journal_with(dir.path(), threads * per_thread));
    let committer = Committer::new(&journal);
    std::thread::scope(|s| {
        for t in 0..threads {
            let committer = &committer;
            let path = dir.path().join("j.sqlite");
            s.spawn(move || {
                // A second connection, as a process resuming after a crash would open.
                let observer = Journal::open(&path).expect("observer");
                for k in 0..per_thread {
                    let index = t * per_thread + k + 1;
                    let attempts = committer
                        .write(Write::BeginSend {
                            index,
                            stage: 1,
                            resend_ambiguous: false,
                        })
                        .expect("begin");
                    assert_eq!(attempts, 1);
                    let seen = observer.row(index).expect("read").expect("row");
                    assert_eq!(seen.state, State::Sending, "committed before returning");
                    committer
                        .write(Write::SetState {
                            index,
                            state: State::Sent,
                            reply: Some(Reply::smtp(250, "250 ok")),
                            relay: None,
                        })
                        .expect("outcome");
                    let seen = observer.row(index).expect("read").expect("row");
                    assert_eq!(seen.state, State::Sent, "committed before returning");
                }
            });
        }
    });
    let writes = (threads * per_thread * 2) as u64;
    let commits = committer.commits();
    // Eight writers, each waiting on fsync: writes queue up behind a running commit.
    assert!(commits < writes, "{commits} commits for {writes} writes");
    let counts = journal.lock().expect("lock").counts().expect("counts");
    assert_eq!(counts.sent, threads * per_thread);
    eprintln!("{writes} writes in {commits} commits");
}

#[test]
fn a_refused_write_fails_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Mutex::new(journal_with(dir.path(), 3));
    let committer = Committer::new(&journal);
    let begin = |index| Write::BeginSend {
        index,
        stage: 1,
        resend_ambiguous: false,
    };
    committer.write(begin(1)).expect("first send");
    // Row 1 is `sending` now: beginning it again is refused (it would send twice)...
    let again = committer.write(begin(1)).expect_err("refused");
    assert!(again.to_string().contains("not pending"), "{again}");
    // ...and that refusal leaves the other rows' writes alone.
    assert_eq!(committer.write(begin(2)).expect("second"), 1);
    let j = journal.lock().expect("lock");
    assert_eq!(j.row(1).expect("row").expect("1").attempts, 1);
    assert_eq!(j.row(2).expect("row").expect("2").state, State::Sending);
    assert_eq!(j.row(3).expect("row").expect("3").state, State::Pending);
}
