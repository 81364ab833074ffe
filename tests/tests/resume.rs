//! Nobody twice, nobody lost: a send resumed after the list changed (`--allow-changed`) matches
//! the journal to the list person by person; a damaged or missing journal never starts the
//! campaign over; a stage that can settle nobody ends the send; and a property test of random
//! sends, list edits, kills and resumes against a real SMTP server (aiosmtpd).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use isomail::journal::Journal;

use crate::util::{
    CampaignDir, FaultySmtp, Lcg, Run, TestCommand, isomail_command, isomail_within, journal_rows,
    status_json, stderr, stdout,
};

/// One row of the list: address and name.
type Row = (String, String);

fn write_list(campaign: &Path, rows: &[Row]) {
    let mut csv = String::from("email,name\n");
    for (email, name) in rows {
        csv.push_str(&format!("{email},{name}\n"));
    }
    let dir = campaign.parent().expect("campaign dir");
    std::fs::write(dir.join("recipients.csv"), csv).expect("write list");
}

fn people(tag: &str, n: usize) -> Vec<Row> {
    (1..=n)
        .map(|i| (format!("ok-{tag}-{i}@isomail.test"), format!("Person {i}")))
        .collect()
}

/// A campaign of `rows` with stages of 1, 5 and everyone, delivering to `server` (or to its
/// Maildir outbox when there is none).
fn campaign(server: Option<&FaultySmtp>, rows: &[Row], delivery: &str) -> (CampaignDir, PathBuf) {
    let mut dir = CampaignDir::new();
    dir.subject = "Notice for {{ name }}".into();
    dir.text = "Dear {{ name }}, this is for {{ email }}.\n".into();
    let target = match server {
        Some(server) => format!(
            "smtp = \"smtp://127.0.0.1:{}\"\ntls = \"none\"\nretry_delay = 0.1\n",
            server.port
        ),
        None => String::new(),
    };
    dir.extra = format!("\n[delivery]\n{target}stages = [1, 5, \"all\"]\nrate = 500\n{delivery}\n");
    let path = dir.write();
    write_list(&path, rows);
    (dir, path)
}

/// Runs `isomail ARGS CAMPAIGN`, killed and failed if it has not ended within `limit`.
fn run(args: &[&str], campaign: &Path, limit: Duration) -> Run {
    let campaign = campaign.to_str().expect("utf-8 path");
    let mut all = args.to_vec();
    all.push(campaign);
    isomail_within(&all, limit)
}

const LIMIT: Duration = Duration::from_secs(60);

fn send(args: &[&str], campaign: &Path) -> Run {
    let mut all = vec!["send"];
    all.extend_from_slice(args);
    run(&all, campaign, LIMIT)
}

/// How many messages the server stored for each address (normalised: lower case) whose
/// address contains `tag`.
fn deliveries(server: &FaultySmtp, tag: &str) -> HashMap<String, usize> {
    let mut times = HashMap::new();
    for (rcpt, _, _) in server.stored() {
        let rcpt = rcpt.to_lowercase();
        if rcpt.contains(tag) {
            *times.entry(rcpt).or_insert(0) += 1;
        }
    }
    times
}

/// What breaks the promise for `list` (the final list): anyone on it not delivered exactly once
/// (unless the journal reports them ambiguous, and then at most once), anyone delivered twice.
fn broken_promises(
    delivered: &HashMap<String, usize>,
    list: &[Row],
    ambiguous: &[String],
) -> Vec<String> {
    let mut broken = Vec::new();
    for (email, times) in delivered {
        if *times > 1 {
            broken.push(format!("{email} delivered {times} times"));
        }
    }
    for (email, _) in list {
        let email = email.to_lowercase();
        let times = delivered.get(&email).copied().unwrap_or(0);
        if times == 0 && !ambiguous.contains(&email) {
            broken.push(format!(
                "{email} never delivered and not reported ambiguous"
            ));
        }
    }
    broken.sort();
    broken
}

fn ambiguous(campaign: &Path) -> Vec<String> {
    journal_rows(campaign, false)
        .into_iter()
        .filter(|r| r.2 == "ambiguous")
        .map(|r| r.1.to_lowercase())
        .collect()
}

fn assert_everyone_once(server: &FaultySmtp, tag: &str, campaign: &Path, list: &[Row]) {
    let broken = broken_promises(&deliveries(server, tag), list, &ambiguous(campaign));
    assert!(broken.is_empty(), "{broken:#?}");
}

/// The journal file and its side files, to put back after a test damaged it.
fn journal_files(campaign: &Path) -> Vec<PathBuf> {
    let journal = Journal::path_for(campaign, false);
    let mut files = vec![journal.clone()];
    for suffix in ["-wal", "-shm"] {
        let mut side = journal.as_os_str().to_owned();
        side.push(suffix);
        files.push(PathBuf::from(side));
    }
    files
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn a_row_inserted_at_the_top_is_mailed_once_and_nobody_twice() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = FaultySmtp::start(tmp.path(), 1.0);
    let mut list = people("insert", 20);
    let (_dir, path) = campaign(Some(&server), &list, "");
    send(&["--through", "5"], &path).assert_exit_code(0);
    assert_eq!(deliveries(&server, "insert").len(), 5);

    list.insert(0, ("ok-insert-new@isomail.test".into(), "Newcomer".into()));
    write_list(&path, &list);
    // Without --allow-changed: refused, nothing sent.
    let refused = send(&["--yes"], &path);
    refused.assert_exit_code(2);
    assert!(
        stderr(&refused).contains("--allow-changed"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(deliveries(&server, "insert").values().sum::<usize>(), 5);

    let out = send(&["--yes", "--allow-changed"], &path);
    out.assert_exit_code(0);
    let err = stderr(&out);
    assert!(
        err.contains("1 new, 0 removed, 0 changed, 20 unchanged (20 at another row)"),
        "{err}"
    );
    assert!(
        stdout(&out).contains("16 sent"),
        "the newcomer and the 15 left: {}",
        stdout(&out)
    );
    assert_everyone_once(&server, "insert", &path, &list);
    assert_eq!(deliveries(&server, "insert").len(), 21);
    assert_eq!(status_json(&path)["sent"], 21);
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn the_detector_sees_a_campaign_started_over() {
    // Control for the tests here: with the journal and every sign of the send removed, a send
    // starts over and mails the first five again, and `broken_promises` says so.
    let tmp = tempfile::tempdir().expect("tmp");
    let server = FaultySmtp::start(tmp.path(), 1.0);
    let list = people("control", 8);
    let (_dir, path) = campaign(Some(&server), &list, "");
    send(&["--through", "5"], &path).assert_exit_code(0);
    for file in journal_files(&path) {
        let _ = std::fs::remove_file(file);
    }
    let lock = Journal::lock_path(&Journal::path_for(&path, false));
    std::fs::remove_file(lock).expect("remove the lock file");
    send(&["--yes"], &path).assert_exit_code(0);
    let broken = broken_promises(&deliveries(&server, "control"), &list, &[]);
    assert_eq!(broken.len(), 5, "{broken:#?}");
    assert!(broken.iter().all(|b| b.ends_with("delivered 2 times")));
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn deleting_rows_ends_the_send_and_mails_everyone_left_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = FaultySmtp::start(tmp.path(), 1.0);
    let mut list = people("delete", 20);
    let (_dir, path) = campaign(Some(&server), &list, "");
    send(&["--through", "5"], &path).assert_exit_code(0);
    // The first row (sent) and the seventh (pending) leave the list.
    let pending_gone = list.remove(6).0;
    let sent_gone = list.remove(0).0;
    write_list(&path, &list);
    let out = send(&["--yes", "--allow-changed"], &path);
    out.assert_exit_code(0);
    assert!(
        stderr(&out).contains("0 new, 2 removed, 0 changed, 18 unchanged"),
        "{}",
        stderr(&out)
    );
    let delivered = deliveries(&server, "delete");
    assert_eq!(delivered.get(&pending_gone), None, "removed, never mailed");
    assert_eq!(delivered.get(&sent_gone), Some(&1));
    assert_everyone_once(&server, "delete", &path, &list);
    let status = status_json(&path);
    assert_eq!(
        (status["sent"].as_u64(), status["removed"].as_u64()),
        (Some(19), Some(1))
    );
    let text = run(&["status"], &path, LIMIT);
    assert!(
        stdout(&text).contains("1 removed from the list before they were mailed"),
        "{}",
        stdout(&text)
    );
    // A removed person who comes back is pending again and mailed once.
    list.push((pending_gone.clone(), "Back again".into()));
    write_list(&path, &list);
    send(&["--yes", "--allow-changed"], &path).assert_exit_code(0);
    assert_eq!(deliveries(&server, "delete").get(&pending_gone), Some(&1));
    assert_everyone_once(&server, "delete", &path, &list);
}

/// The messages in a Maildir outbox, by recipient (the `To:` address, lower case).
fn outbox(dir: &Path) -> HashMap<String, Vec<String>> {
    let mut by_rcpt: HashMap<String, Vec<String>> = HashMap::new();
    for entry in std::fs::read_dir(dir.join("outbox/new")).expect("outbox") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("message");
        let to = text
            .lines()
            .find_map(|l| l.strip_prefix("To: "))
            .expect("To header")
            .trim()
            .to_lowercase();
        by_rcpt.entry(to).or_default().push(text);
    }
    by_rcpt
}

#[test]
fn edits_are_previewed_then_applied_person_by_person() {
    // To the Maildir outbox, where each message's text can be read back.
    let mut list: Vec<Row> = (1..=12)
        .map(|i| (format!("p{i}@example.com"), format!("Person {i}")))
        .collect();
    let (dir, path) = campaign(None, &list, "");
    send(&["--through", "5"], &path).assert_exit_code(0);
    let hash_of = |email: &str| {
        journal_rows(&path, false)
            .into_iter()
            .find(|r| r.1.eq_ignore_ascii_case(email))
            .map(|r| (r.2, r.3))
            .expect("row")
    };
    let (sent_state, sent_hash) = hash_of("p2@example.com");
    let (_, pending_hash) = hash_of("p9@example.com");
    assert_eq!(sent_state, "sent");

    // p2 (sent) and p9 (pending) get new names; p3 (sent) and p10 (pending) change case;
    // p11 (pending) leaves; a newcomer arrives; p1 and p12 swap rows.
    list[1].1 = "Renamed Two".into();
    list[8].1 = "Renamed Nine".into();
    list[2].0 = "P3@EXAMPLE.COM".into();
    list[9].0 = "P10@Example.Com".into();
    list.remove(10);
    list.push(("newcomer@example.com".into(), "Newcomer".into()));
    list.swap(0, 10);
    write_list(&path, &list);

    // Both streams into one file, to see what comes first.
    let printed = dir.dir.path().join("printed.txt");
    let file = std::fs::File::create(&printed).expect("output file");
    let run = isomail_command(&["send", "--yes", "--allow-changed"])
        .arg(&path)
        .stdout(file.try_clone().expect("clone"))
        .stderr(file)
        .stdin(Stdio::inherit())
        .run();
    let both = std::fs::read_to_string(&printed).expect("output");
    run.about(format_args!("it printed: {both}"))
        .assert_exit_code(0);
    let preview = both
        .find("1 new, 1 removed, 4 changed, 7 unchanged (2 at another row)")
        .unwrap_or_else(|| panic!("no preview: {both}"));
    let first_stage = both.find("stage 3").expect("a stage line");
    assert!(preview < first_stage, "the preview comes first: {both}");

    let messages = outbox(dir.dir.path());
    // Nobody twice, the removed one never, the rest once; the settled keep their fate.
    assert!(messages.values().all(|m| m.len() == 1), "{messages:#?}");
    assert!(!messages.contains_key("p11@example.com"));
    assert_eq!(messages.len(), 12);
    assert!(messages["p2@example.com"][0].contains("Dear Person 2,"));
    assert!(messages["p3@example.com"][0].contains("for p3@example.com"));
    assert_eq!(hash_of("p2@example.com"), ("sent".into(), sent_hash));
    // The pending edits were rendered and checked again: the text and journaled hash are new.
    assert!(messages["p9@example.com"][0].contains("Dear Renamed Nine,"));
    assert!(messages["p10@example.com"][0].contains("for P10@Example.Com"));
    assert_ne!(hash_of("p9@example.com").1, pending_hash);
    assert!(messages["newcomer@example.com"][0].contains("Dear Newcomer,"));
    let status = status_json(&path);
    assert_eq!(
        (status["sent"].as_u64(), status["removed"].as_u64()),
        (Some(12), Some(1))
    );
}

#[test]
fn a_stage_that_settles_nobody_ends_the_send() {
    let list = people("ghost", 6);
    let (_dir, path) = campaign(None, &list, "");
    send(&["--through", "1"], &path).assert_exit_code(0);
    // A pending journal row that no list row matches (a journal edited by hand, or a bug):
    // no pass can send it.
    let journal_path = Journal::path_for(&path, false);
    let mut journal = Journal::open(&journal_path).expect("journal");
    journal
        .insert_preflight(&[isomail::journal::PreflightRow {
            index: 99,
            email: "ghost@isomail.test".into(),
            hash: "0".repeat(64),
            message_id: "<ghost@isomail.test>".into(),
            data: String::new(),
        }])
        .expect("ghost row");
    drop(journal);
    let out = run(&["send", "--yes"], &path, Duration::from_secs(30));
    out.assert_exit_code(4);
    let err = stderr(&out);
    assert!(err.contains("settled nobody"), "{err}");
    assert!(err.matches("stage ").count() < 20, "it looped: {err}");
    let status = status_json(&path);
    assert_eq!(
        (status["sent"].as_u64(), status["pending"].as_u64()),
        (Some(6), Some(1))
    );
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn a_damaged_journal_is_refused_and_left_as_it_is() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = FaultySmtp::start(tmp.path(), 1.0);
    let list = people("damage", 10);
    let (dir, path) = campaign(Some(&server), &list, "");
    send(&["--through", "5"], &path).assert_exit_code(0);
    let files = journal_files(&path);
    let saved: Vec<Option<Vec<u8>>> = files.iter().map(|f| std::fs::read(f).ok()).collect();

    // Another campaign's journal, copied over this one's.
    let other = dir.dir.path().join("other.toml");
    // (It writes to its Maildir outbox: nobody of this list is mailed by it.)
    let toml = std::fs::read_to_string(&path).expect("campaign");
    let toml: String = toml
        .lines()
        .filter(|l| !l.starts_with("smtp = "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&other, toml).expect("other campaign");
    send(&["--through", "1"], &other).assert_exit_code(0);
    let other_journal = std::fs::read(Journal::path_for(&other, false)).expect("other journal");
    let foreign_sqlite = {
        let f = tmp.path().join("foreign.sqlite");
        let out = std::process::Command::new(crate::util::smtp_python())
            .arg("-c")
            .arg(
                "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
                 c.execute('CREATE TABLE notes(t TEXT)'); c.commit()",
            )
            .arg(&f)
            .run();
        out.assert_success();
        std::fs::read(&f).expect("foreign sqlite")
    };
    let damage: [(&str, Vec<u8>); 5] = [
        ("empty", Vec::new()),
        ("garbage", b"not a journal, just text\n".repeat(100)),
        (
            "truncated",
            saved[0].as_ref().expect("journal")[..100].to_vec(),
        ),
        ("another program's SQLite", foreign_sqlite),
        ("another campaign's journal", other_journal),
    ];
    let before = deliveries(&server, "damage").values().sum::<usize>();
    for (what, bytes) in damage {
        for f in &files {
            let _ = std::fs::remove_file(f);
        }
        std::fs::write(&files[0], &bytes).expect("damage");
        let out = send(&["--yes"], &path).about(what);
        out.assert_exit_code(2);
        assert!(stderr(&out).contains("journal"), "{what}: {}", stderr(&out));
        assert_eq!(
            std::fs::read(&files[0]).expect("read"),
            bytes,
            "{what} was changed"
        );
        assert_eq!(
            deliveries(&server, "damage").values().sum::<usize>(),
            before,
            "{what}: something was sent"
        );
    }
    // Control: the journal put back, the campaign finishes, nobody twice.
    for (f, bytes) in files.iter().zip(&saved) {
        let _ = std::fs::remove_file(f);
        if let Some(bytes) = bytes {
            std::fs::write(f, bytes).expect("restore");
        }
    }
    send(&["--yes"], &path).assert_exit_code(0);
    assert_everyone_once(&server, "damage", &path, &list);
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn a_lost_journal_with_signs_of_a_send_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = FaultySmtp::start(tmp.path(), 1.0);
    let list = people("lost", 8);
    let (_dir, path) = campaign(Some(&server), &list, "");
    send(&["--through", "1"], &path).assert_exit_code(0);
    let files = journal_files(&path);
    let lock = Journal::lock_path(&files[0]);
    // The journal deleted, the lock file a send marked left behind.
    for f in &files {
        let _ = std::fs::remove_file(f);
    }
    let out = send(&["--yes"], &path);
    out.assert_exit_code(2);
    assert!(
        stderr(&out).contains("the journal is missing"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("began sending"), "{}", stderr(&out));
    // Its -wal left behind is a sign too.
    std::fs::remove_file(&lock).expect("lock");
    std::fs::write(&files[1], b"").expect("wal");
    let out = send(&["--yes"], &path);
    out.assert_exit_code(2);
    assert!(stderr(&out).contains("-wal exists"), "{}", stderr(&out));
    assert_eq!(
        deliveries(&server, "lost").len(),
        1,
        "nothing more was sent"
    );

    // Control: a dry run's journal is no sign, and a send whose preflight failed leaves a lock
    // file that does not block the real first send.
    std::fs::remove_file(&files[1]).expect("wal");
    let fresh = people("fresh", 4);
    let (dir, fresh_path) = campaign(Some(&server), &fresh, "");
    send(&["--dry-run", "--yes"], &fresh_path).assert_exit_code(0);
    let template = dir.dir.path().join("templates/body.txt");
    std::fs::write(&template, "Dear {{ name }}, {{ missing_column }}\n").expect("break");
    let failed = send(&["--yes"], &fresh_path);
    failed.assert_failure();
    assert!(Journal::lock_path(&Journal::path_for(&fresh_path, false)).exists());
    for f in journal_files(&fresh_path) {
        let _ = std::fs::remove_file(f);
    }
    std::fs::write(&template, "Dear {{ name }}\n").expect("fix");
    send(&["--yes"], &fresh_path).assert_exit_code(0);
    assert_everyone_once(&server, "fresh", &fresh_path, &fresh);
}

#[test]
fn messages_in_the_outbox_are_a_sign_of_a_send() {
    let list = people("outbox", 6);
    let (_dir, path) = campaign(None, &list, "");
    send(&["--through", "1"], &path).assert_exit_code(0);
    let files = journal_files(&path);
    for f in &files {
        let _ = std::fs::remove_file(f);
    }
    std::fs::remove_file(Journal::lock_path(&files[0])).expect("lock");
    let out = send(&["--yes"], &path);
    out.assert_exit_code(2);
    assert!(
        stderr(&out).contains("already holds 1 message(s) of this campaign"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn halt_with_no_send_running_records_nothing() {
    let list = people("halt", 6);
    let (_dir, path) = campaign(None, &list, "");
    send(&["--through", "1"], &path).assert_exit_code(0);
    let out = run(&["halt"], &path, LIMIT);
    out.assert_exit_code(0);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains("is running") && said.contains("nothing was recorded"),
        "{said}"
    );
    assert_eq!(status_json(&path)["halt_requested"], false);
    // The next send is not stopped by a stale request.
    send(&["--yes"], &path).assert_exit_code(0);
    assert_eq!(status_json(&path)["sent"], 6);
}

#[test]
#[cfg_attr(
    isomail_missing = "script",
    ignore = "needs script (util-linux): run tests/run.sh"
)]
fn on_a_terminal_the_preview_asks_and_no_changes_nothing() {
    use std::io::Write;
    let mut list = people("ask", 6);
    let (dir, path) = campaign(None, &list, "");
    send(&["--through", "1"], &path).assert_exit_code(0);
    list.push(("ok-ask-new@isomail.test".into(), "New".into()));
    write_list(&path, &list);
    let journal = Journal::path_for(&path, false);
    let answer = |answer: &[u8]| {
        let command = format!(
            "{} send --through all --allow-changed {}",
            env!("CARGO_BIN_EXE_isomail-cli"),
            path.display()
        );
        let mut child = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("ISOMAIL_CACHE_DIR", dir.dir.path().join("cache"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("script");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(answer)
            .expect("answer");
        let out = child.wait_with_output().expect("wait");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let rows_before = journal_rows(&path, false);
    let screen = answer(b"n\n");
    assert!(screen.contains("1 new, 0 removed"), "{screen}");
    assert!(
        screen.contains("apply these changes and go on? [y/N]"),
        "{screen}"
    );
    assert_eq!(journal_rows(&path, false), rows_before, "{screen}");
    assert!(journal.exists());
    assert_eq!(status_json(&path)["sent"], 1);
    // Control: yes applies them and sends.
    let screen = answer(b"y\n");
    assert_eq!(status_json(&path)["sent"], 7, "{screen}");
}

/// One random case of the property test: what it did, for the failure message.
struct Case {
    log: Vec<String>,
    kills: usize,
    edits: usize,
    /// Recipients the journal reports ambiguous at the end (a kill caught them in flight).
    ambiguous: usize,
}

/// A random sequence of sends (some stages, all), list edits (insert, delete, reorder, rename,
/// change an address's case), `kill -9` at a random moment and resumes with and without
/// `--allow-changed`, then a last resume. Panics on a broken promise.
fn one_case(server: &FaultySmtp, rng: &mut Lcg, number: usize) -> Case {
    let tag = format!("prop{number}x");
    let mut next = 0;
    let fresh = |next: &mut usize| {
        *next += 1;
        (
            format!("ok-{tag}-{next}@isomail.test"),
            format!("Person {next}"),
        )
    };
    let mut list: Vec<Row> = (0..3 + rng.next(10)).map(|_| fresh(&mut next)).collect();
    let (_dir, path) = campaign(Some(server), &list, "concurrency = 2");
    eprintln!("case {number}: {} recipients", list.len());
    let mut case = Case {
        log: Vec::new(),
        kills: 0,
        edits: 0,
        ambiguous: 0,
    };
    // The list as the journal last took it; after a kill, whether it took the edits is not known.
    let mut accepted = list.clone();
    // Before the first send there is no journal, and any list is taken as it is.
    let mut unsure = true;
    // Removed addresses, with the time they left; none may arrive after it.
    let mut removed: Vec<(String, f64)> = Vec::new();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64()
    };
    for _ in 0..2 + rng.next(5) {
        match rng.next(6) {
            0 => {
                let through = 1 + rng.next(list.len() as u64);
                step(&mut case, format!("send --through {through}"));
                let out = send(
                    &["--through", &through.to_string(), "--allow-changed"],
                    &path,
                );
                out.assert_exit_code(0);
                (accepted, unsure) = (list.clone(), false);
            }
            1 | 2 => {
                case.edits += 1;
                let at = rng.next(list.len() as u64 + 1) as usize;
                match rng.next(5) {
                    0 => {
                        list.insert(at.min(list.len()), fresh(&mut next));
                        step(&mut case, format!("insert at {at}"));
                    }
                    1 if list.len() > 1 => {
                        let gone = list.remove(at.min(list.len() - 1));
                        step(&mut case, format!("delete {}", gone.0));
                        removed.push((gone.0.to_lowercase(), now()));
                    }
                    2 => {
                        let other = rng.next(list.len() as u64) as usize;
                        let i = at.min(list.len() - 1);
                        let j = if other == i {
                            (i + 1) % list.len()
                        } else {
                            other
                        };
                        list.swap(i, j);
                        step(&mut case, "reorder");
                    }
                    3 => {
                        let i = at.min(list.len() - 1);
                        list[i].1.push_str(" v2");
                        step(&mut case, format!("rename {}", list[i].0));
                    }
                    _ => {
                        let i = at.min(list.len() - 1);
                        list[i].0 = flip_case(&list[i].0);
                        step(&mut case, format!("case {}", list[i].0));
                    }
                }
                write_list(&path, &list);
            }
            3 => {
                let after = 20 + rng.next(250);
                step(&mut case, format!("kill -9 after {after} ms"));
                let mut child = isomail_command(&["send", "--yes", "--allow-changed"])
                    .arg(&path)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("send");
                std::thread::sleep(Duration::from_millis(after));
                if child.try_wait().expect("try_wait").is_none() {
                    child.kill().expect("SIGKILL");
                    case.kills += 1;
                }
                child.wait().expect("wait");
                // Let the server finish storing what was on the wire when it died.
                std::thread::sleep(Duration::from_millis(50));
                unsure |= list != accepted;
            }
            4 => {
                step(&mut case, "send --yes");
                let before = deliveries(server, &tag).values().sum::<usize>();
                let out = send(&["--yes"], &path);
                // After an edit, refused without --allow-changed, and nothing sent.
                match (unsure, list != accepted) {
                    (true, _) => out.assert_exit_code_in(&[0, 2]),
                    (false, true) => out.assert_exit_code(2),
                    (false, false) => out.assert_exit_code(0),
                };
                let code = out.status.code();
                if code == Some(2) {
                    assert_eq!(deliveries(server, &tag).values().sum::<usize>(), before);
                } else {
                    (accepted, unsure) = (list.clone(), false);
                }
            }
            _ => {
                step(&mut case, "send --yes --allow-changed");
                send(&["--yes", "--allow-changed"], &path).assert_exit_code(0);
                (accepted, unsure) = (list.clone(), false);
            }
        }
    }
    step(&mut case, "final send --yes --allow-changed");
    let last = send(&["--yes", "--allow-changed"], &path)
        .about(format_args!("case {number} ({:?})", case.log));
    last.assert_exit_code(0);
    let stored: Vec<(String, f64)> = std::fs::read_to_string(&server.log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            (
                v["rcpt"].as_str().unwrap_or_default().to_lowercase(),
                v["ts"].as_f64().unwrap_or(0.0),
            )
        })
        .filter(|(rcpt, _)| rcpt.contains(&tag))
        .collect();
    let unsure = ambiguous(&path);
    case.ambiguous = unsure.len();
    let mut broken = broken_promises(&deliveries(server, &tag), &list, &unsure);
    for (gone, at) in &removed {
        if list.iter().any(|(e, _)| e.to_lowercase() == *gone) {
            continue;
        }
        for (rcpt, ts) in &stored {
            if rcpt == gone && ts > at {
                broken.push(format!("{gone} delivered after it left the list"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "case {number} ({:?}) broke the promise: {broken:#?}",
        case.log
    );
    case
}

/// Logs a step of a case (shown with a failure: the test harness keeps what a test prints).
fn step(case: &mut Case, what: impl Into<String>) {
    let what = what.into();
    eprintln!("  {what}");
    case.log.push(what);
}

fn flip_case(email: &str) -> String {
    if email.starts_with("OK") {
        email.to_lowercase()
    } else {
        email.to_uppercase()
    }
}

fn property(cases: usize) {
    let tmp = tempfile::tempdir().expect("tmp");
    // The server's own time limit (300 s by default) must outlast every case.
    let server = FaultySmtp::start_with(tmp.path(), 1.0, &["--max-seconds", "3600"]);
    let seed = Lcg::seed();
    eprintln!("resume property test: {cases} cases, seed {seed} (ISOMAIL_TEST_SEED reproduces it)");
    let mut rng = Lcg(seed);
    let (mut kills, mut edits, mut steps, mut unsure) = (0, 0, 0, 0);
    for number in 0..cases {
        let case = one_case(&server, &mut rng, number);
        kills += case.kills;
        edits += case.edits;
        steps += case.log.len();
        unsure += case.ambiguous;
    }
    eprintln!(
        "resume property test: {cases} cases, {steps} steps, {edits} list edits, {kills} kills, {} messages stored, {unsure} recipients left ambiguous, seed {seed}",
        server.stored().len()
    );
}

/// The number of cases: `ISOMAIL_RESUME_CASES`, or `default`.
fn cases(default: usize) -> usize {
    std::env::var("ISOMAIL_RESUME_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn random_sends_edits_kills_and_resumes_mail_everyone_once() {
    property(cases(200));
}

#[test]
#[ignore = "long: 1000 cases; run with --ignored"]
fn random_sends_edits_kills_and_resumes_mail_everyone_once_long() {
    property(cases(1000));
}

#[test]
fn a_changed_template_with_the_same_list_says_so_and_mails_nobody_twice() {
    let list: Vec<Row> = (1..=6)
        .map(|i| (format!("t{i}@example.com"), format!("Person {i}")))
        .collect();
    let (dir, path) = campaign(None, &list, "");
    send(&["--through", "1"], &path).assert_exit_code(0);
    std::fs::write(
        dir.dir.path().join("templates/body.txt"),
        "Hello again {{ name }}, for {{ email }}.\n",
    )
    .expect("template");
    let out = send(&["--yes", "--allow-changed"], &path);
    out.assert_exit_code(0);
    assert!(
        stderr(&out).contains("its list did not: 6 people"),
        "{}",
        stderr(&out)
    );
    let messages = outbox(dir.dir.path());
    assert!(messages.values().all(|m| m.len() == 1), "{messages:#?}");
    assert_eq!(messages.len(), 6);
    assert!(messages["t1@example.com"][0].contains("Dear Person 1,"));
    assert!(messages["t2@example.com"][0].contains("Hello again Person 2,"));
}
