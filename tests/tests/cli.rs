//! The command line as an operator meets it: init, check, preview, render, help, exit codes.

use crate::util::{TestCommand, isomail, isomail_path, stderr, stdout};

/// `isomail init` into a fresh temp dir: (the temp dir, the sample's directory).
fn sample() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let demo = dir.path().join("demo");
    let out = isomail(&["init", demo.to_str().expect("utf-8")]);
    out.assert_exit_code(0);
    (dir, demo)
}

#[test]
fn init_writes_a_sample_that_checks_clean() {
    let (_dir, demo) = sample();
    let campaign = demo.join("campaign.toml");
    let out = isomail_path(&["check"], &campaign);
    out.assert_exit_code(0);
    assert!(
        stdout(&out).starts_with("checked 20 recipients: 20 rendered, 0 failed"),
        "{}",
        stdout(&out)
    );

    // A second init into the same, now non-empty, directory is refused.
    let out = isomail(&["init", demo.to_str().expect("utf-8")]);
    out.assert_exit_code(2);
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
}

#[test]
fn preview_finds_a_recipient_by_address_or_index() {
    let (_dir, demo) = sample();
    let campaign = demo.join("campaign.toml");
    let by_address = isomail_path(&["preview", "--to", "EVE@example.com"], &campaign);
    by_address.assert_exit_code(0);
    assert!(stdout(&by_address).contains("To: eve@example.com\r\n"));
    let by_index = isomail_path(&["preview", "--index", "5"], &campaign);
    by_index.assert_exit_code(0);
    assert!(stdout(&by_index).contains("To: eve@example.com\r\n"));

    let missing = isomail_path(&["preview", "--to", "nobody@example.com"], &campaign);
    missing.assert_exit_code(2);
    let past_end = isomail_path(&["preview", "--index", "21"], &campaign);
    past_end.assert_exit_code(2);
    assert!(
        stderr(&past_end).contains("the list has 20 recipients"),
        "{}",
        stderr(&past_end)
    );
}

#[test]
fn missing_campaign_file_is_bad_input() {
    let out = isomail(&["check", "/nonexistent/campaign.toml"]);
    out.assert_exit_code(2);
    assert!(
        stderr(&out).contains("/nonexistent/campaign.toml: cannot read the campaign file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn render_refuses_a_non_empty_output_directory() {
    let (_dir, demo) = sample();
    let out = isomail_path(
        &["render", "--out", demo.to_str().expect("utf-8")],
        &demo.join("campaign.toml"),
    );
    out.assert_exit_code(2);
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
}

#[test]
fn compiled_renderer_is_cached_only_in_a_private_directory() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, demo) = sample();
    let campaign = demo.join("campaign.toml");
    let cached = |cache: &std::path::Path| -> usize {
        let out = crate::util::isomail_command(&["check", campaign.to_str().expect("utf-8")])
            .env("ISOMAIL_CACHE_DIR", cache)
            .run();
        out.assert_exit_code(0);
        std::fs::read_dir(cache)
            .expect("cache dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            })
            .count()
    };
    let private = dir.path().join("private-cache");
    std::fs::create_dir(&private).expect("mkdir");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    // The renderer, the renderer instrumented for its snapshot, and the snapshot itself (the
    // renderer with this campaign's templates parsed).
    assert_eq!(cached(&private), 3, "compiled once and kept");
    assert_eq!(
        cached(&private),
        3,
        "reused, not compiled again under another name"
    );
    // The cache is bounded: with 70 stale entries in it, a check that compiles something new
    // leaves 64, the oldest gone and this campaign's three kept (touched or just written).
    let mut cwasm: Vec<std::path::PathBuf> = std::fs::read_dir(&private)
        .expect("ls")
        .flatten()
        .map(|e| e.path())
        .collect();
    cwasm.sort();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
    for i in 0..70 {
        let stale = private.join(format!("stale{i:02}.cwasm"));
        let f = std::fs::File::create(&stale).expect("stale entry");
        f.set_modified(old + std::time::Duration::from_secs(i))
            .expect("mtime");
    }
    std::fs::write(
        demo.join("templates").join("body.txt"),
        "A new template for {{ email }}\n",
    )
    .expect("new template");
    assert_eq!(cached(&private), 64, "bounded");
    for kept in &cwasm {
        assert!(kept.is_file(), "{} was evicted", kept.display());
    }
    assert!(
        !private.join("stale00.cwasm").exists(),
        "the oldest goes first"
    );

    // Native code is never loaded from, or written to, a directory others can write.
    let shared = dir.path().join("shared-cache");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    assert_eq!(cached(&shared), 0);
}

#[test]
fn check_times_the_renderer_compile_apart_from_the_render_rate() {
    let (dir, demo) = sample();
    let campaign = demo.join("campaign.toml");
    let check = |cache: &std::ffi::OsStr| -> String {
        let out = crate::util::isomail_command(&["check", campaign.to_str().expect("utf-8")])
            .env("ISOMAIL_CACHE_DIR", cache)
            .run();
        out.assert_exit_code(0);
        stdout(&out)
    };
    let renderer_line = |out: &str| -> String {
        out.lines()
            .find(|l| l.starts_with("renderer "))
            .unwrap_or_else(|| panic!("no renderer line in: {out}"))
            .to_owned()
    };
    // The rate is over the rendering alone: the seconds the line gives, not the compile's.
    let assert_rate = |out: &str| -> f64 {
        let line = out
            .lines()
            .find(|l| l.starts_with("checked 20 recipients: 20 rendered"))
            .unwrap_or_else(|| panic!("no summary in: {out}"));
        let (seconds, rate) = line
            .rsplit_once("; ")
            .and_then(|(_, t)| t.strip_suffix(" messages/s)"))
            .and_then(|t| t.split_once(" s ("))
            .unwrap_or_else(|| panic!("no time and rate in: {line}"));
        let seconds: f64 = seconds.parse().expect("seconds");
        let rate: f64 = rate.parse().expect("rate");
        // Both printed rounded: to the millisecond, and to the message.
        let slowest = 20.0 / (seconds + 0.0005) - 0.5;
        let fastest = 20.0 / (seconds - 0.0005).max(1e-9) + 0.5;
        assert!(
            (slowest..=fastest).contains(&rate),
            "{rate} messages/s is not 20 messages in {seconds} s: {line}"
        );
        seconds
    };

    let cache = crate::util::private_cache(dir.path());
    let first = check(cache.as_os_str());
    let compiled = renderer_line(&first);
    assert!(
        compiled.starts_with("renderer compiled in ")
            && compiled.ends_with(" s (cached for next time)"),
        "{first}"
    );
    let compile_seconds: f64 = compiled
        .trim_start_matches("renderer compiled in ")
        .trim_end_matches(" s (cached for next time)")
        .parse()
        .expect("compile seconds");
    // Rendering 20 messages of the sample takes milliseconds, the compile seconds.
    assert!(assert_rate(&first) < compile_seconds, "{first}");

    let second = check(cache.as_os_str());
    assert!(
        renderer_line(&second).starts_with("renderer loaded from the compile cache in "),
        "{second}"
    );
    assert_rate(&second);

    // The cache turned off: compiled every time, and said so.
    let off = check("".as_ref());
    assert!(
        renderer_line(&off).starts_with("renderer compiled in ")
            && renderer_line(&off)
                .ends_with("(not cached: the compile cache is off or not private)"),
        "{off}"
    );
}

#[test]
fn every_help_names_an_existing_docs_page() {
    use clap::CommandFactory;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cli = isomail::cli::Cli::command();
    let subcommands: Vec<String> = cli
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    assert!(subcommands.contains(&"send".to_owned()), "{subcommands:?}");
    // `isomail --help`, then `isomail SUBCOMMAND --help` for each.
    for mut args in std::iter::once(vec![]).chain(subcommands.iter().map(|c| vec![c.as_str()])) {
        args.push("--help");
        let out = isomail(&args);
        out.assert_exit_code(0);
        let help = stdout(&out);
        let pages: Vec<String> = help
            .match_indices("docs/")
            .filter_map(|(at, _)| {
                let rest = &help[at + "docs/".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                (!name.is_empty() && rest[name.len()..].starts_with(".md"))
                    .then(|| format!("docs/{name}.md"))
            })
            .collect();
        assert!(
            !pages.is_empty(),
            "isomail {args:?} names no docs page:\n{help}"
        );
        for page in pages {
            assert!(
                root.join(&page).is_file(),
                "isomail {args:?} names {page:?}, which is not a file of the repository"
            );
        }
    }
}
