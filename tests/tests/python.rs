//! Renderers written in Python (componentize-py): the example shipped in guest/python and the
//! hostile one in tests/guests/python, through isomail's real pipeline and command line. The
//! same promises as for Rust renderers, each with its control: the 2016 bug leaks nothing (and
//! does leak in one reused instance), the capability probe sees nothing and the same thing
//! every time (and its report does show what it sees), the example renders and refuses as its
//! guide says, and a second `check` loads the compiled renderer from the cache.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::util::{
    CampaignDir, Seen, TestCommand, addresses_in, assert_accumulates, cache_entries,
    check_with_cache, isomail_command, observe, private_cache, probe_campaign, render_campaign,
    set_entry_time, stderr, stdout,
};
use isomail::sandbox::{self, Limits, RenderFailure, Sandbox, Source};

/// A Python component built by tests/build.rs (`GUEST_PY_*`), or a failure saying why it is not.
fn component(name: &str) -> PathBuf {
    let built = match name {
        "example" => option_env!("GUEST_PY_EXAMPLE"),
        "hostile" => option_env!("GUEST_PY_HOSTILE"),
        "hostile-wasi" => option_env!("GUEST_PY_HOSTILE_WASI"),
        other => panic!("no Python component named {other}"),
    };
    match built {
        Some(path) => PathBuf::from(path),
        None => crate::util::missing(
            "componentize-py (tests/run.sh installs it and names it in ISOMAIL_COMPONENTIZE_PY)",
        ),
    }
}

/// Loads a Python component with the default limits, through the same compile cache as the
/// pipeline. The first load of each in this process compiles it (several seconds); one at a
/// time, so parallel tests do not all compile the same 18 MB at once.
fn load(name: &str) -> Sandbox {
    static COMPILING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let path = component(name);
    let bytes = std::fs::read(&path).expect("read the component");
    crate::util::use_the_test_cache();
    let _one_at_a_time = COMPILING.lock().unwrap_or_else(|e| e.into_inner());
    let source = Source::File {
        path: &path,
        bytes: &bytes,
    };
    Sandbox::load(source, Limits::default(), 1).expect("load the Python renderer")
}

/// The pipeline's runs compile through the same cache: one in-process load first.
fn warm(name: &str) -> PathBuf {
    static WARM: [OnceLock<()>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match name {
        "example" => 0,
        "hostile" => 1,
        _ => 2,
    };
    WARM[slot].get_or_init(|| drop(load(name)));
    component(name)
}

fn list(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("r{i}@list.test")).collect()
}

/// The top-level imports of a component that are not type definitions, read with wasmparser
/// (the imports of the modules nested inside are the component's own business: only the top
/// level reaches the host).
fn component_imports(path: &Path) -> Vec<String> {
    use wasmparser::{ComponentTypeRef, Parser, Payload};
    let bytes = std::fs::read(path).expect("read the component");
    let mut depth = 0usize;
    let mut imports = Vec::new();
    for payload in Parser::new(0).parse_all(&bytes) {
        match payload.expect("a valid component") {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ComponentImportSection(section) if depth == 1 => {
                for import in section {
                    let import = import.expect("an import");
                    if !matches!(import.ty, ComponentTypeRef::Type(_)) {
                        imports.push(import.name.name.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    imports
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-py",
    ignore = "needs componentize-py: run tests/run.sh"
)]
fn python_components_built_with_stub_wasi_import_nothing() {
    for name in ["example", "hostile"] {
        // Only the contract's `types` interface, which holds types and no function.
        let imports = component_imports(&component(name));
        assert_eq!(imports.len(), 1, "{name}: {imports:?}");
        assert!(
            imports[0] == "isomail:renderer/types@0.2.0",
            "{name}: {imports:?}"
        );
    }
    // Control: the same hostile source built without `--stub-wasi` imports WASI, and the same
    // reading finds it.
    let imports = component_imports(&component("hostile-wasi"));
    let wasi = imports.iter().filter(|i| i.starts_with("wasi:")).count();
    assert!(wasi > 10 && wasi + 1 == imports.len(), "{imports:?}");
    for expected in [
        "wasi:filesystem/",
        "wasi:random/",
        "wasi:sockets/",
        "wasi:clocks/",
    ] {
        assert!(
            imports.iter().any(|i| i.starts_with(expected)),
            "{expected} missing from {imports:?}"
        );
    }
}

/// A campaign of `n` numbered recipients for the hostile renderer in `accumulate` mode.
fn accumulate_campaign(n: usize) -> CampaignDir {
    let mut campaign = CampaignDir::new().numbered(n);
    campaign.renderer = Some(warm("hostile"));
    campaign.subject = "accumulate".into();
    campaign.text = "unused\n".into();
    campaign
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-py",
    ignore = "needs componentize-py: run tests/run.sh"
)]
fn python_accumulator_leaks_nothing() {
    let campaign = accumulate_campaign(200);
    let (messages, failed) = render_campaign(&campaign.write(), 2);
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(messages.len(), 200);
    let all = list(200);
    for m in &messages {
        // The whole list the module kept: this recipient alone.
        assert_eq!(m.content.text, format!("r{}@list.test\n", m.index));
        assert_eq!(addresses_in(&m.content.text, &all), vec![m.index - 1]);
    }
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-py",
    ignore = "needs componentize-py: run tests/run.sh"
)]
fn python_reused_instance_control_leaks() {
    let all = list(30);
    let sandbox = load("hostile");
    let templates = sandbox::Templates {
        subject: "accumulate".into(),
        text: "unused\n".into(),
        html: None,
        format: sandbox::Format::Plain,
    };
    let recipients: Vec<sandbox::Recipient> = all
        .iter()
        .map(|email| sandbox::Recipient {
            email: email.clone(),
            fields: vec![],
        })
        .collect();
    let contents: Vec<sandbox::Content> = sandbox
        .render_all_in_one_instance_for_control(&templates, &recipients)
        .into_iter()
        .map(|r| r.expect("control render"))
        .collect();
    assert_accumulates(&contents, &all);
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-py",
    ignore = "needs componentize-py: run tests/run.sh"
)]
fn python_accumulator_checked_and_sent_to_a_maildir_leaks_nothing() {
    let mut campaign = accumulate_campaign(25);
    campaign.extra = "\n[delivery]\noutbox = \"outbox\"\nstages = [\"all\"]\n".into();
    let path = campaign.write();
    let path_arg = path.to_str().expect("utf-8 path");
    let check = isomail_command(&["check", path_arg]).run();
    check.assert_exit_code(0);
    assert!(
        stdout(&check).contains("25 rendered, 0 failed, 0 flagged"),
        "{}",
        stdout(&check)
    );
    let send = isomail_command(&["send", "--yes", path_arg]).run();
    send.assert_exit_code(0);
    let all = list(25);
    let mut whose: Vec<usize> = std::fs::read_dir(campaign.dir.path().join("outbox/new"))
        .expect("outbox")
        .map(|e| {
            let file = std::fs::read_to_string(e.expect("entry").path()).expect("read");
            // Its own address (in To: and in the body), no other.
            let found = addresses_in(&file, &all);
            assert_eq!(found.len(), 1, "{file}");
            assert_eq!(file.matches(&all[found[0]]).count(), 2, "{file}");
            found[0]
        })
        .collect();
    whose.sort();
    assert_eq!(whose, (0..25).collect::<Vec<_>>());
}

/// Every probe the hostile renderer knows, for the two builds.
const PROBES: [&str; 21] = [
    "env",
    "env-control",
    "args",
    "cwd",
    "passwd",
    "listdir",
    "proc",
    "write",
    "time",
    "monotonic",
    "random",
    "urandom",
    "secrets",
    "hash",
    "socket",
    "subprocess",
    "stdin",
    "stdout",
    "stderr",
    "exit",
    "_exit",
];

/// Every probe, each for a first and a second recipient, with the renderer `name`.
/// Each probe run for two recipients through the pipeline: (probe, first, second), the report's
/// `me=` line checked and taken off (it is the one line that differs, by design).
fn observations(name: &str) -> Vec<(&'static str, Seen, Seen)> {
    observe(warm(name), "probe", &PROBES)
        .into_iter()
        .map(|(probe, first, second)| {
            let report = |who: &str, seen: Seen| -> Seen {
                let seen = seen?;
                // Control for the report itself: it does carry what the renderer sees.
                let me = format!("me={who}-{probe}@probe.test\n");
                let rest = seen.strip_prefix(&me).unwrap_or_else(|| {
                    panic!("{probe}: the report does not start with {me:?}: {seen:?}")
                });
                Ok(rest
                    .strip_prefix(&format!("{probe}: "))
                    .unwrap_or_else(|| panic!("{probe}: {rest:?}"))
                    .trim_end()
                    .to_owned())
            };
            (probe, report("first", first), report("second", second))
        })
        .collect()
}

/// A trap from componentize-py's `--stub-wasi` stubs: the capability is not in the component.
fn is_stub_trap(seen: &Seen) -> bool {
    matches!(seen, Err(RenderFailure::Trap(m)) if m.contains("unreachable"))
}

/// The import isomail refused, for a build that imports WASI.
fn denied(seen: &Seen) -> &str {
    match seen {
        Err(RenderFailure::Denied(d)) => &d.import,
        other => panic!("expected a denied capability, got {other:?}"),
    }
}

/// A value the probe reported, which must be a number of the given kind.
fn reported<T: std::str::FromStr>(probe: &str, seen: &Seen) -> T {
    seen.as_ref()
        .ok()
        .and_then(|s| s.strip_prefix("ok "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{probe}: {seen:?}"))
}

/// What the two builds see alike: nothing from outside, and what Python computes alone.
fn common_probe(probe: &str, first: &Seen) -> bool {
    let ok = |s: &str| Ok::<String, RenderFailure>(s.to_owned());
    match probe {
        "env" => assert_eq!(first, &ok("ok {}")),
        // Control for `env`: the same read shows a variable that is there.
        "env-control" => assert_eq!(
            first,
            &ok("ok {'ISOMAIL_PROBE_CONTROL': 'set by the probe'}")
        ),
        "args" => assert_eq!(first, &ok("ok []")),
        "cwd" => assert_eq!(first, &ok("ok '/'")),
        // Seeded when the component was built: the same for every message, never fresh.
        "random" => assert!((0.0..1.0).contains(&reported::<f64>(probe, first))),
        "hash" => drop(reported::<i64>(probe, first)),
        "subprocess" => assert_eq!(
            first,
            &ok("raised OSError: [Errno 58] wasi does not support processes.")
        ),
        // Python's own exception, caught by the probe: it shows the probe does report a
        // failure it can see as a message, not as a failed render.
        "exit" => assert_eq!(first, &ok("raised SystemExit: 7")),
        _ => return false,
    }
    true
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-py",
    ignore = "needs componentize-py: run tests/run.sh"
)]
fn python_probe_built_with_stub_wasi_sees_nothing_and_the_same_every_time() {
    for (probe, first, second) in observations("hostile") {
        assert_eq!(
            first, second,
            "probe {probe} saw different things for two recipients"
        );
        if common_probe(probe, &first) {
            continue;
        }
        // Everything else reaches a WASI call, and the stub there traps: files, clocks, the
        // system's randomness, stdio, sockets and exit are not in the component at all.
        assert!(is_stub_trap(&first), "{probe}: {first:?}");
    }
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-py",
    ignore = "needs componentize-py: run tests/run.sh"
)]
fn python_probe_built_with_wasi_imports_gets_isomails_inert_answers() {
    let ok = |s: &str| Ok::<String, RenderFailure>(s.to_owned());
    let not_found = |path: &str| {
        ok(&format!(
            "raised FileNotFoundError: [Errno 44] No such file or directory: '{path}'"
        ))
    };
    for (probe, first, second) in observations("hostile-wasi") {
        assert_eq!(
            first, second,
            "probe {probe} saw different things for two recipients"
        );
        if common_probe(probe, &first) {
            continue;
        }
        match probe {
            "passwd" => assert_eq!(first, not_found("/etc/passwd")),
            "listdir" => assert_eq!(first, not_found("/")),
            "proc" => assert_eq!(first, not_found("/proc/self/environ")),
            "write" => assert_eq!(first, not_found("leak.txt")),
            "time" | "monotonic" => assert_eq!(first, ok("ok 0.0")),
            "urandom" | "secrets" => assert_eq!(first, ok("ok '0000000000000000'")),
            "stdin" => assert_eq!(first, ok("ok ''")),
            // Written to an output stream isomail drops.
            "stdout" | "stderr" => assert_eq!(first, ok("ok None")),
            "socket" => assert!(denied(&first).starts_with("wasi:sockets/"), "{first:?}"),
            "_exit" => assert!(denied(&first).starts_with("wasi:cli/exit@"), "{first:?}"),
            other => panic!("unexpected probe {other}"),
        }
    }
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-py",
    ignore = "needs componentize-py: run tests/run.sh"
)]
fn python_print_never_reaches_the_terminal() {
    // The build that imports WASI: its `print` really writes, to streams isomail drops.
    let campaign = probe_campaign(warm("hostile-wasi"), "probe", &PROBES);
    let out_dir = campaign.dir.path().join("out");
    let out = isomail_command(&["render", "--out", out_dir.to_str().expect("utf-8 path")])
        .arg(campaign.write())
        .run();
    let (stdout, stderr) = (stdout(&out), stderr(&out));
    // socket and _exit are denied, so four messages fail: a failed safety check.
    out.assert_exit_code(3);
    for leaked in ["stdout sees", "stderr sees", "@probe.test"] {
        assert!(!stdout.contains(leaked), "stdout has {leaked:?}: {stdout}");
    }
    for leaked in ["stdout sees", "stderr sees"] {
        assert!(!stderr.contains(leaked), "stderr has {leaked:?}: {stderr}");
    }
    // Control: the renderer did print (the call returned), and said so in its message.
    let at = |probe: &str| PROBES.iter().position(|p| *p == probe).expect("a probe") * 2 + 1;
    for probe in ["stdout", "stderr"] {
        let file = out_dir.join(format!("{:06}.eml", at(probe)));
        let message = std::fs::read_to_string(&file).expect("the probe's message");
        assert!(message.contains(&format!("{probe}: ok None")), "{message}");
    }
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-py",
    ignore = "needs componentize-py: run tests/run.sh"
)]
fn python_probe_renders_the_same_input_identically() {
    // The same recipient rendered twice, each time in a fresh instance: byte for byte the same
    // (or the same failure) for every probe, in both builds.
    for name in ["hostile", "hostile-wasi"] {
        let sandbox = load(name);
        let templates = sandbox::Templates {
            subject: "probe".into(),
            text: "unused\n".into(),
            html: None,
            format: sandbox::Format::Plain,
        };
        for probe in PROBES {
            let recipient = sandbox::Recipient {
                email: "same@probe.test".into(),
                fields: vec![("probe".into(), probe.into())],
            };
            let once = sandbox.render(&templates, &recipient);
            let again = sandbox.render(&templates, &recipient);
            assert_eq!(once, again, "{name} {probe}");
        }
    }
}

/// A campaign for the example renderer with one recipient whose values are markup.
fn example_campaign() -> CampaignDir {
    let mut campaign = CampaignDir::new();
    campaign.renderer = Some(warm("example"));
    campaign.subject = "Your plan, $name".into();
    campaign.text = "Dear $name, you are on ${plan}. It costs $$5 ($email).\n".into();
    campaign.html = Some("<p>Dear $name, you are on <b>$plan</b>.</p>\n".into());
    campaign.csv = b"email,name,plan\n\
        ann@example.com,<script>alert(1)</script> & \"Ann\",pro'<i>\n\
        bob@example.com,Bob,basic\n"
        .to_vec();
    campaign
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-py",
    ignore = "needs componentize-py: run tests/run.sh"
)]
fn python_example_renders_values_and_escapes_them_in_html() {
    let campaign = example_campaign();
    let (messages, failed) = render_campaign(&campaign.write(), 2);
    assert!(failed.is_empty(), "{failed:?}");
    let ann = &messages[0].content;
    let name = "<script>alert(1)</script> & \"Ann\"";
    assert_eq!(ann.subject, format!("Your plan, {name}"));
    // The text part holds the values as they are: the control for the escaping below.
    assert_eq!(
        ann.text,
        format!("Dear {name}, you are on pro'<i>. It costs $5 (ann@example.com).\n")
    );
    assert_eq!(
        ann.html.as_deref(),
        Some(
            "<p>Dear &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Ann&quot;, \
             you are on <b>pro&#x27;&lt;i&gt;</b>.</p>\n"
        )
    );
    let bob = &messages[1].content;
    assert_eq!(bob.subject, "Your plan, Bob");
    assert_eq!(
        bob.html.as_deref(),
        Some("<p>Dear Bob, you are on <b>basic</b>.</p>\n")
    );
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-py",
    ignore = "needs componentize-py: run tests/run.sh"
)]
fn python_example_refuses_a_missing_value_naming_it() {
    let mut campaign = example_campaign();
    campaign.html = Some("<p>Your code: $discount_code</p>\n".into());
    let path = campaign.write();
    let out = isomail_command(&["check", path.to_str().expect("utf-8 path")]).run();
    let err = stderr(&out);
    out.assert_exit_code(2);
    assert!(
        err.contains("body.html: unknown column: uses `discount_code`, which is not a column"),
        "{err}"
    );
    // Control: with the column there, the same campaign checks clean.
    campaign.csv = b"email,name,plan,discount_code\nann@example.com,Ann,pro,XY-1\n".to_vec();
    let out = isomail_command(&["check", campaign.write().to_str().expect("utf-8 path")]).run();
    out.assert_exit_code(0);

    // A `$` that starts no name is a syntax error, said as one.
    let sandbox = load("example");
    let templates = sandbox::Templates {
        subject: "s".into(),
        text: "costs $5\n".into(),
        html: None,
        format: sandbox::Format::Plain,
    };
    let recipient = sandbox::Recipient {
        email: "ann@example.com".into(),
        fields: vec![],
    };
    match sandbox.render(&templates, &recipient) {
        Err(RenderFailure::Renderer(sandbox::RenderError::Syntax(m))) => {
            assert!(m.starts_with("text template: Invalid placeholder"), "{m}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-py",
    ignore = "needs componentize-py: run tests/run.sh"
)]
fn python_example_refuses_markdown_and_mjml_before_anything_renders() {
    for (markdown, mjml, what) in [
        (Some("# Hello $name\n"), None, "not Markdown"),
        (
            None,
            Some("<mjml><mj-body>$name</mj-body></mjml>"),
            "not MJML",
        ),
    ] {
        let mut campaign = example_campaign();
        campaign.html = None;
        campaign.markdown = markdown.map(Into::into);
        campaign.mjml = mjml.map(Into::into);
        let out = isomail_command(&["check", campaign.write().to_str().expect("utf-8 path")]).run();
        let err = stderr(&out);
        out.assert_exit_code(2);
        assert!(
            err.contains(&format!(
                "this renderer does plain text and HTML templates, {what}"
            )),
            "{err}"
        );
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    }
}

#[test]
#[cfg_attr(
    isomail_missing = "componentize-py",
    ignore = "needs componentize-py: run tests/run.sh"
)]
fn second_check_of_a_python_campaign_loads_it_from_the_compile_cache() {
    use std::os::unix::fs::PermissionsExt;
    let campaign = example_campaign();
    let path = campaign.write();
    let cache = private_cache(campaign.dir.path());
    // Cold: compiled and stored, one entry (the example exports no `prepare`, so no snapshot).
    check_with_cache(&path, &cache);
    let cold = cache_entries(&cache);
    assert_eq!(cold.len(), 1, "{cold:?}");
    let entry = cache.join(&cold[0].0);
    let long_ago = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30);
    set_entry_time(&entry, long_ago);
    // Warm: the same file (not compiled and written again, which would be a new inode), read
    // and marked as used.
    check_with_cache(&path, &cache);
    let warm = cache_entries(&cache);
    assert_eq!(warm.len(), 1, "{warm:?}");
    assert_eq!(
        (&warm[0].0, warm[0].1),
        (&cold[0].0, cold[0].1),
        "the same entry"
    );
    assert!(warm[0].2 > long_ago, "the entry was not used: {warm:?}");

    // Control: an entry the cache may not trust (writable by others) is not loaded; the
    // renderer is compiled again and a new file takes its place, which the check above tells
    // apart from a hit.
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    set_entry_time(&entry, long_ago);
    check_with_cache(&path, &cache);
    let missed = cache_entries(&cache);
    assert_eq!(missed.len(), 1, "{missed:?}");
    assert_eq!(missed[0].0, cold[0].0, "the same name");
    assert_ne!(missed[0].1, cold[0].1, "written anew");
}

/// A Python interpreter starts at about 12.6 MiB of linear memory: with `memory_bytes` below
/// that, the component cannot be given a pool slot at all, and isomail says it is the limit's
/// doing rather than calling the file invalid. Control: the default limit loads it.
#[test]
#[cfg_attr(
    isomail_missing = "componentize-py",
    ignore = "needs componentize-py: run tests/run.sh"
)]
fn a_memory_limit_below_the_interpreters_start_is_named_as_the_limit() {
    let path = warm("example");
    let bytes = std::fs::read(&path).expect("read the component");
    let source = || Source::File {
        path: &path,
        bytes: &bytes,
    };
    let small = Limits {
        memory_bytes: 4 << 20,
        ..Limits::default()
    };
    let err = match Sandbox::load(source(), small, 1) {
        Ok(_) => panic!("a 4 MiB limit loaded a 12.6 MiB interpreter"),
        Err(err) => isomail::chain(&err),
    };
    assert!(
        err.contains("needs more memory to start than the memory limit (sandbox.memory_bytes)"),
        "{err}"
    );
    assert!(!err.contains("is not a valid component"), "{err}");
    assert!(Sandbox::load(source(), Limits::default(), 1).is_ok());
}

/// Issue 21 §8: a Python output too large for the host to copy out of the component (over
/// twice `output_bytes`, at its 64 MiB ceiling) is named as a breach of the output limit, with
/// the limit's value, not as wasmtime's "fuel allocated for hostcalls has been exhausted".
/// Controls: the same renderer under the limit renders, and one over it that can still be
/// copied is the output limit as before.
#[test]
#[cfg_attr(
    isomail_missing = "componentize-py",
    ignore = "needs componentize-py: run tests/run.sh"
)]
fn a_python_output_too_large_to_copy_names_the_output_limit() {
    let path = warm("hostile");
    let bytes = std::fs::read(&path).expect("read the component");
    let source = Source::File {
        path: &path,
        bytes: &bytes,
    };
    // Room for a 140 MiB string twice (Python's and its UTF-8 copy), and time to write it.
    let limits = Limits {
        output_bytes: Limits::MAX_OUTPUT_BYTES,
        memory_bytes: 1 << 30,
        fuel: Limits::MAX_FUEL,
        wall_ms: Limits::MAX_WALL_MS,
        ..Limits::default()
    };
    let sandbox = Sandbox::load(source, limits, 1).expect("load the Python renderer");
    let templates = sandbox::Templates {
        subject: "big".into(),
        text: "unused\n".into(),
        html: None,
        format: sandbox::Format::Plain,
    };
    let render = |size: usize| {
        let recipient = sandbox::Recipient {
            email: "big@list.test".into(),
            fields: vec![("size".into(), size.to_string())],
        };
        sandbox.render(&templates, &recipient)
    };
    let failure = render(140 << 20).expect_err("140 MiB is over the 64 MiB limit");
    assert!(
        matches!(failure, RenderFailure::OutputTooLarge { .. }),
        "{failure:?}"
    );
    let shown = failure.to_string();
    assert!(
        shown.starts_with(
            "renderer exceeded its output size limit (sandbox.output_bytes) of 67108864 bytes"
        ),
        "{shown}"
    );
    assert!(!shown.contains("hostcall"), "{shown}");
    // Controls: under the limit the same renderer's text arrives whole; over it but small
    // enough to copy, the host measures it and names the same limit.
    let under = render(60 << 20).expect("60 MiB is under the limit");
    assert_eq!(under.text.len(), 60 << 20);
    let over = render(100 << 20).expect_err("100 MiB is over the limit");
    assert_eq!(over, RenderFailure::Limit(sandbox::Limit::Output));
}
