//! The layout's rules (issue 19), checked on the source so they stay true: no import cycle
//! between the modules of host/src, the sandbox depending on nothing else in the crate, no file
//! over 600 lines of non-test code and no function over 80 lines in host/src or guest/src.
//!
//! The modules are read with `syn` from the files (`foo.rs`, `foo/mod.rs`, inline `mod x { }`;
//! test modules skipped). A module refers to another by a `use` or a path starting with
//! `crate`, `super`, `self` or a child's name (in code or in a macro call), resolved to the
//! deepest module that exists. A reference from A to B is an edge between the two modules
//! directly under their lowest common ancestor (`crate::send::worker` naming `crate::journal::x`
//! is send → journal); a reference to an ancestor or a descendant is none. Each rule has a
//! control: a small synthetic crate that breaks it, which the checker must report, and one that
//! keeps it, which it must accept.
//!
//! `cargo test -p isomail-tests layout::table -- --ignored --nocapture` prints each file's
//! non-test lines and the longest functions; `ISOMAIL_LAYOUT_ROOT=DIR` runs every test of this
//! module on another checkout (`git archive REV host/src guest/src | tar -x -C DIR`).

mod graph;
mod size;
mod source;

use std::path::PathBuf;

use graph::Graph;
use source::Crate;

/// The most lines of non-test code in one file.
const FILE_LINES: usize = 600;
/// The most lines of one function, signature to closing brace.
const FN_LINES: usize = 80;

/// The checkout checked: this one, or `ISOMAIL_LAYOUT_ROOT`.
fn root() -> PathBuf {
    match std::env::var_os("ISOMAIL_LAYOUT_ROOT") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace")
            .to_path_buf(),
    }
}

fn host() -> Crate {
    Crate::read(&root(), "host/src")
}

fn crates() -> Vec<Crate> {
    vec![host(), Crate::read(&root(), "guest/src")]
}

/// Fails with `rule` and every violation, one a line, unless there are none.
#[track_caller]
fn assert_none(rule: &str, violations: &[String]) {
    assert!(
        violations.is_empty(),
        "{rule}: {} violation(s)\n  - {}\n",
        violations.len(),
        violations.join("\n  - ")
    );
}

/// The import cycles among the children of each folder (the top-level modules included),
/// after any file that cannot be read.
fn cycles(krate: &Crate) -> Vec<String> {
    let graph = Graph::of(krate);
    let mut found = graph.errors.clone();
    found.extend(graph::cycles(&graph));
    found
}

/// What the sandbox refers to outside itself.
fn sandbox_leaves(krate: &Crate) -> Vec<String> {
    let graph = Graph::of(krate);
    let mut found = graph.errors.clone();
    found.extend(graph::leaving(&graph, "sandbox"));
    found
}

fn long_files(crates: &[Crate]) -> Vec<String> {
    let mut found = Vec::new();
    for krate in crates {
        let (sizes, _, errors) = size::measure(krate);
        found.extend(errors);
        found.extend(sizes.iter().filter(|s| s.non_test > FILE_LINES).map(|s| {
            format!(
                "{}: {} lines of non-test code ({} in all; the limit is {FILE_LINES})",
                s.file, s.non_test, s.lines
            )
        }));
    }
    found
}

fn long_fns(crates: &[Crate]) -> Vec<String> {
    let mut found = Vec::new();
    for krate in crates {
        let (_, fns, errors) = size::measure(krate);
        found.extend(errors);
        found.extend(fns.iter().filter(|f| f.lines() > FN_LINES).map(|f| {
            format!(
                "{}:{}-{}: fn {} is {} lines (the limit is {FN_LINES})",
                f.file,
                f.start,
                f.end,
                f.name,
                f.lines()
            )
        }));
    }
    found
}

#[test]
fn no_import_cycle_between_modules() {
    assert_none("import cycles in host/src", &cycles(&host()));
}

#[test]
fn the_sandbox_depends_on_nothing_else_in_the_crate() {
    assert_none(
        "host/src/sandbox refers outside itself",
        &sandbox_leaves(&host()),
    );
}

#[test]
fn no_file_over_600_lines_of_non_test_code() {
    assert_none("files over the limit", &long_files(&crates()));
}

#[test]
fn no_function_over_80_lines() {
    assert_none("functions over the limit", &long_fns(&crates()));
}

/// Each file's lines (non-test, and all) and the five longest functions, for a closing note's
/// "before and after".
#[test]
#[ignore = "prints a table: cargo test -p isomail-tests layout::table -- --ignored --nocapture"]
fn table() {
    let mut all_fns = Vec::new();
    println!("{:<48} {:>9} {:>7}", "file", "non-test", "all");
    for krate in crates() {
        let (sizes, fns, errors) = size::measure(&krate);
        assert_none("unreadable files", &errors);
        for s in &sizes {
            println!("{:<48} {:>9} {:>7}", s.file, s.non_test, s.lines);
        }
        let non_test: usize = sizes.iter().map(|s| s.non_test).sum();
        let lines: usize = sizes.iter().map(|s| s.lines).sum();
        println!(
            "{:<48} {non_test:>9} {lines:>7}",
            format!("{} (total)", krate.src)
        );
        all_fns.extend(fns);
    }
    all_fns.sort_by_key(|f| std::cmp::Reverse(f.lines()));
    println!("\nthe five longest functions:");
    for f in all_fns.iter().take(5) {
        println!(
            "{:>5} lines  fn {}  ({}:{}-{})",
            f.lines(),
            f.name,
            f.file,
            f.start,
            f.end
        );
    }
}

/// Each rule run on small synthetic crates: one that breaks it, which it must report, and one
/// that keeps it, which it must accept.
mod controls {
    use super::*;

    /// A crate whose folders keep every rule: children using their parent's items and parents
    /// their children's, a sibling used one way only, test code that would close a cycle, and
    /// an inline module.
    fn clean() -> Crate {
        Crate::of(
            "clean/src",
            &[
                (
                    "lib.rs",
                    "pub mod sandbox;\npub mod send;\npub mod term;\npub use send::run;\n\
                     pub struct Error;\n",
                ),
                (
                    "sandbox/mod.rs",
                    "mod limits;\npub use limits::Limits;\npub fn load() -> self::limits::Limits \
                     { limits::Limits }\n",
                ),
                (
                    "sandbox/limits.rs",
                    "pub struct Limits;\npub fn f() -> super::Limits { todo!() }\n",
                ),
                (
                    "send/mod.rs",
                    "mod pass;\nmod stage;\npub fn run() -> crate::Error { pass::go(); crate::Error }\n\
                     mod inline { pub fn f() { crate::term::say(); super::stage::one(); } }\n",
                ),
                (
                    "send/pass.rs",
                    "use super::stage::{self, Tally};\npub fn go() { let _ = matches!(stage::one(), \
                     Tally); crate::sandbox::load(); }\n",
                ),
                (
                    "send/stage.rs",
                    "pub struct Tally;\npub fn one() -> Tally { let pass = 1; let _ = pass; Tally }\n\
                     #[cfg(test)]\nmod tests { use super::super::pass::go; }\n",
                ),
                (
                    "term.rs",
                    "pub fn say() { let _ = crate::sandbox::load(); }\n#[cfg(test)]\nfn t() { \
                     crate::send::run(); }\n",
                ),
            ],
        )
    }

    #[test]
    fn a_clean_crate_keeps_every_rule() {
        let krate = clean();
        assert_none("cycles", &cycles(&krate));
        assert_none("sandbox", &sandbox_leaves(&krate));
        let crates = [krate];
        assert_none("file sizes", &long_files(&crates));
        assert_none("fn lengths", &long_fns(&crates));
        // The edges it found: the clean crate's cycle check was not vacuous.
        let graph = Graph::of(&crates[0]);
        let top: Vec<(String, String)> = graph.edges[&Vec::new()].keys().cloned().collect();
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            top,
            [
                pair("send", "sandbox"),
                pair("send", "term"),
                pair("term", "sandbox")
            ]
        );
        let send: Vec<(String, String)> = graph.edges[&vec!["send".to_owned()]]
            .keys()
            .cloned()
            .collect();
        assert_eq!(send, [pair("inline", "stage"), pair("pass", "stage")]);
    }

    #[test]
    fn a_cycle_is_reported_at_the_top_and_in_a_folder() {
        let krate = Crate::of(
            "cyclic/src",
            &[
                ("lib.rs", "mod campaign;\nmod message;\nmod send;\n"),
                (
                    "campaign.rs",
                    "pub fn hex() {}\nfn t() { crate::message::build(); }\n",
                ),
                (
                    "message.rs",
                    "use crate::campaign::hex;\npub fn build() { hex() }\n",
                ),
                ("send/mod.rs", "mod pass;\nmod stage;\nmod worker;\n"),
                (
                    "send/stage.rs",
                    "pub const MAX: u32 = 3;\npub fn s() { super::pass::p() }\n",
                ),
                ("send/pass.rs", "pub fn p() { super::worker::w() }\n"),
                // The way back is inside a macro call.
                (
                    "send/worker.rs",
                    "pub fn w() { assert_eq!(super::stage::MAX, 3); }\n",
                ),
            ],
        );
        let found = cycles(&krate);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].starts_with("in crate: campaign → message → campaign"),
            "{found:#?}"
        );
        assert!(
            found[0]
                .contains("cyclic/src/campaign.rs:2 crate::message::build (in crate::campaign)"),
            "{found:#?}"
        );
        assert!(
            found[1].starts_with("in crate::send: pass → worker → stage → pass"),
            "{found:#?}"
        );
    }

    #[test]
    fn a_sandbox_that_uses_term_is_reported() {
        let krate = Crate::of(
            "leaky/src",
            &[
                ("lib.rs", "mod sandbox;\nmod term;\npub struct Error;\n"),
                ("sandbox/mod.rs", "mod store;\n"),
                (
                    "sandbox/store.rs",
                    "use crate::term::inert;\npub fn f() -> crate::Error { inert(); todo!() }\n",
                ),
                ("term.rs", "pub fn inert() {}\n"),
            ],
        );
        let found = sandbox_leaves(&krate);
        assert_eq!(
            found,
            [
                "sandbox → term: leaky/src/sandbox/store.rs:1 crate::term::inert (in \
                 crate::sandbox::store)",
                "sandbox → the crate root (lib.rs): leaky/src/sandbox/store.rs:2 crate::Error (in \
                 crate::sandbox::store)",
            ]
        );
    }

    /// `n` lines of code.
    fn lines(n: usize) -> String {
        (0..n)
            .map(|i| format!("pub const C{i}: u32 = {i};\n"))
            .collect()
    }

    #[test]
    fn a_601_line_file_is_reported_and_its_tests_do_not_count() {
        let tests = format!("#[cfg(test)]\nmod tests {{\n{}}}\n", lines(100));
        let at_the_limit = lines(600) + &tests;
        let over = lines(601);
        let krate = Crate::of(
            "big/src",
            &[
                ("lib.rs", "mod a;\nmod b;\n#[cfg(test)]\nmod tests;\n"),
                ("a.rs", &at_the_limit),
                ("b.rs", &over),
                // A test module's own file is all test code.
                ("tests.rs", &lines(700)),
            ],
        );
        assert_eq!(
            long_files(&[krate]),
            ["big/src/b.rs: 601 lines of non-test code (601 in all; the limit is 600)"]
        );
    }

    #[test]
    fn an_81_line_fn_is_reported_wherever_it_is() {
        let body = |name: &str, n: usize| {
            format!("fn {name}() {{\n{}}}\n", "    let _ = 1;\n".repeat(n - 2))
        };
        let nested = format!("pub fn outer() {{\n{}}}\n", body("inner", 81));
        let krate = Crate::of(
            "long/src",
            &[
                ("lib.rs", &format!("mod a;\n{}", body("at_the_limit", 80))),
                (
                    "a.rs",
                    &format!(
                        "struct S;\nimpl S {{\n{}}}\n#[cfg(test)]\nmod tests {{\n{}}}\n{nested}",
                        body("method", 81),
                        body("test", 81)
                    ),
                ),
            ],
        );
        assert_eq!(
            long_fns(&[krate]),
            [
                "long/src/a.rs:3-83: fn S::method is 81 lines (the limit is 80)",
                "long/src/a.rs:87-167: fn test is 81 lines (the limit is 80)",
                "long/src/a.rs:169-251: fn outer is 83 lines (the limit is 80)",
                "long/src/a.rs:170-250: fn outer::inner is 81 lines (the limit is 80)",
            ]
        );
    }
}
