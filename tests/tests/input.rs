//! Bad input: each is refused with exit 2, one sentence naming the file, line and field, and
//! nothing is rendered (the output directory of `render` is never created).

use crate::util::{CampaignDir, TestCommand, guest, isomail_path, refused, stderr, stdout};

fn with_csv(csv: &[u8]) -> CampaignDir {
    let mut campaign = CampaignDir::new();
    campaign.csv = csv.to_vec();
    campaign
}

#[test]
fn missing_email_column_is_refused() {
    refused(
        &with_csv(b"mail,name\nann@example.com,Ann\n"),
        &[
            "recipients.csv",
            "line 1",
            "no `email` column",
            "mail, name",
        ],
    );
}

#[test]
fn invalid_address_is_refused() {
    refused(
        &with_csv(b"email,name\nann@example.com,Ann\nnot-an-address,Bob\n"),
        &["recipients.csv", "line 3", "`email`"],
    );
    refused(
        &with_csv(b"email,name\nBob <bob@example.com>,Bob\n"),
        &["line 2", "`email`", "not a bare address"],
    );
}

#[test]
fn ragged_row_is_refused() {
    refused(
        &with_csv(b"email,name\nann@example.com,Ann\nbob@example.com,Bob,extra\n"),
        &["recipients.csv", "line 3", "3 fields", "header has 2"],
    );
}

#[test]
fn non_utf8_is_refused() {
    refused(
        &with_csv(b"email,name\nann@example.com,Ann\nbob@example.com,B\xe9b\n"),
        &["recipients.csv", "line 3", "column `name`", "UTF-8"],
    );
}

#[test]
fn empty_list_is_refused() {
    refused(
        &with_csv(b"email,name\n"),
        &["recipients.csv", "no recipients"],
    );
    refused(&with_csv(b""), &["recipients.csv", "empty"]);
}

#[test]
fn line_breaks_in_values_are_refused() {
    refused(
        &with_csv(b"email,name\nann@example.com,\"Ann\nBcc: x@evil.test\"\n"),
        &["line 2", "column `name`", "line feed"],
    );
    refused(
        &with_csv(b"email,name\nann@example.com,\"Ann\rX\"\n"),
        &["line 2", "column `name`", "carriage return"],
    );
}

#[test]
fn duplicate_addresses_are_refused_naming_both_lines() {
    refused(
        &with_csv(b"email,name\nann@example.com,Ann\nbob@example.com,Bob\nANN@Example.com,Annie\n"),
        &[
            "recipients.csv",
            "line 4",
            "`email`",
            "already on line 2",
            "A***@Example.com",
        ],
    );
}

#[test]
fn template_syntax_error_names_file_and_line() {
    let mut campaign = CampaignDir::new();
    campaign.text = "Hello {{ name }}\nline two\n{% if name %}never closed\n".into();
    refused(&campaign, &["templates/body.txt", "syntax error", "line 3"]);
    let mut campaign = CampaignDir::new();
    campaign.subject = "Hi {{ name".into();
    refused(&campaign, &["campaign.toml", "subject", "syntax error"]);
}

#[test]
fn unknown_column_is_refused_even_on_an_untaken_branch() {
    let mut campaign = CampaignDir::new();
    campaign.text = "{% if false %}{{ nickname }}{% endif %}Hello {{ name }}\n".into();
    refused(
        &campaign,
        &["templates/body.txt", "`nickname`", "not a column"],
    );
}

#[test]
fn bad_campaign_keys_are_refused() {
    let mut campaign = CampaignDir::new();
    campaign.extra = "\n[delivery]\nstages = [10, 5, \"all\"]\n".into();
    refused(&campaign, &["campaign.toml", "[delivery]", "stages[1]"]);
    let mut campaign = CampaignDir::new();
    campaign.extra = "\n[sandbox]\nmemory_bytes = 10\n".into();
    refused(&campaign, &["campaign.toml", "[sandbox]", "memory_bytes"]);
    let mut campaign = CampaignDir::new();
    campaign.extra = "\n[recipients.oops]\n".into();
    refused(&campaign, &["campaign.toml"]);
    let mut campaign = CampaignDir::new();
    campaign.extra = "private = [\"ssn\"]\n".into();
    refused(&campaign, &["campaign.toml", "private[0]", "ssn"]);
}

#[test]
fn a_file_that_is_not_a_component_is_refused() {
    let mut campaign = CampaignDir::new();
    let core = campaign.dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").expect("write");
    campaign.renderer = Some(core);
    refused(
        &campaign,
        &["core.wasm", "core WebAssembly module, not a component"],
    );

    let mut campaign = CampaignDir::new();
    let junk = campaign.dir.path().join("junk.wasm");
    std::fs::write(&junk, b"#!/bin/sh\necho hi\n").expect("write");
    campaign.renderer = Some(junk);
    refused(&campaign, &["junk.wasm", "not a WebAssembly component"]);

    let mut campaign = CampaignDir::new();
    campaign.renderer = Some(campaign.dir.path().join("missing.wasm"));
    refused(&campaign, &["missing.wasm", "cannot read"]);
}

#[test]
fn a_component_of_another_world_is_refused() {
    let mut campaign = CampaignDir::new();
    campaign.renderer = Some(guest("wrong-world"));
    refused(
        &campaign,
        &[
            "guest_wrong_world.wasm",
            "does not export the isomail:renderer world",
        ],
    );
}

#[test]
fn bom_and_clean_input_are_accepted() {
    let campaign =
        with_csv(b"\xef\xbb\xbfemail,name\nann@example.com,Ann\nbob@example.com,B\xc3\xb6b\n");
    let out = isomail_path(&["check"], &campaign.write());
    out.assert_exit_code(0);
    assert!(
        stdout(&out).contains("checked 2 recipients: 2 rendered, 0 failed"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn limits_cannot_be_switched_off_by_the_campaign_file() {
    // With instruction counting off, an unbounded wall clock would let a spinning renderer hang
    // `check` forever.
    for (sandbox, key) in [
        ("fuel = 0\nwall_ms = 18446744073709551615", "wall_ms"),
        ("wall_ms = 60_001", "wall_ms"),
        ("fuel = 1_000_000_000_001", "fuel"),
        ("output_bytes = 67_108_865", "output_bytes"),
        ("stack_bytes = 4_194_305", "stack_bytes"),
    ] {
        let mut campaign = CampaignDir::new();
        campaign.extra = format!("\n[sandbox]\n{sandbox}\n");
        refused(&campaign, &["campaign.toml", "[sandbox]", key, "at most"]);
    }
    // Control: the ceilings themselves are accepted.
    let mut campaign = CampaignDir::new();
    campaign.extra = "\n[sandbox]\nfuel = 0\nwall_ms = 60_000\noutput_bytes = 67_108_864\n".into();
    let out = isomail_path(&["check"], &campaign.write());
    out.assert_exit_code(0);
}

#[test]
fn an_oversized_renderer_is_refused_before_it_is_read() {
    let size_error = |len: u64| {
        let mut campaign = CampaignDir::new();
        let big = campaign.dir.path().join("big.wasm");
        // Sparse: the test costs no disk, and isomail must not read it all to refuse it.
        std::fs::File::create(&big)
            .and_then(|f| f.set_len(len))
            .expect("sparse file");
        campaign.renderer = Some(big);
        refused(&campaign, &["big.wasm"])
    };
    let err = size_error(isomail::sandbox::MAX_RENDERER_BYTES + 1);
    assert!(err.contains("larger than the 128 MiB"), "{err}");
    // Control: at the ceiling the file is read and judged on its content instead.
    let err = size_error(isomail::sandbox::MAX_RENDERER_BYTES);
    assert!(err.contains("not a WebAssembly component"), "{err}");
}

#[test]
fn check_refuses_the_relay_settings_that_send_would_refuse() {
    let cases = [
        (
            "smtp = \"smtp://relay.example.org:notaport\"",
            "invalid port",
        ),
        (
            "smtp = \"smtps://relay.example.org\"\ntls = \"none\"",
            "contradicts",
        ),
        ("smtp = \"smtp://relay.example.org/path\"", "no path"),
        ("smtp = \"smtp://ann@relay.example.org\"", "no password_env"),
        (
            "smtp = \"smtp://relay.example.org\"\nca_file = \"none.pem\"",
            "ca_file",
        ),
    ];
    for (delivery, why) in cases {
        let mut campaign = CampaignDir::new();
        campaign.extra = format!("\n[delivery]\n{delivery}\n");
        // `check` and a dry run refuse what `send` refuses, with the same exit code.
        let err = refused(&campaign, &["campaign.toml", "[delivery]", why]);
        let path = campaign.write();
        for args in [&["check"][..], &["send", "--dry-run", "--yes"][..]] {
            let out = isomail_path(args, &path);
            out.assert_exit_code(2);
            assert_eq!(stderr(&out), err, "{args:?}");
        }
    }
    // Control: a well-formed relay (IPv6 literal, encoded user) passes `check`.
    let mut campaign = CampaignDir::new();
    campaign.extra =
        "\n[delivery]\nsmtp = \"smtp://ann%40example.org@[::1]:2525\"\npassword_env = \"X\"\n"
            .into();
    let out = isomail_path(&["check"], &campaign.write());
    out.assert_exit_code(0);
}

#[test]
fn a_from_too_long_for_a_header_line_is_refused_before_anything_renders() {
    let campaign = CampaignDir::new();
    campaign.write();
    let path = campaign.path();
    let toml = std::fs::read_to_string(&path).expect("read");
    let long = format!("from = \"{} <sender@example.org>\"", "N".repeat(1200));
    std::fs::write(
        &path,
        toml.replacen("from = \"Sender <sender@example.org>\"", &long, 1),
    )
    .expect("write");
    let out = isomail_path(&["check"], &path);
    out.assert_exit_code(2);
    assert!(stderr(&out).contains("[message] from"), "{}", stderr(&out));
    assert!(stderr(&out).contains("998"), "{}", stderr(&out));
}

/// `check` of `campaign` within 30 s: exit 2 and one sentence containing every needle.
fn refused_quickly(campaign: &std::path::Path, needles: &[&str]) {
    let out = crate::util::isomail_within(
        &["check", campaign.to_str().expect("utf-8")],
        std::time::Duration::from_secs(30),
    );
    let err = stderr(&out);
    out.assert_exit_code(2);
    assert_eq!(err.lines().count(), 1, "one sentence expected: {err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
}

fn mkfifo(path: &std::path::Path) {
    std::process::Command::new("mkfifo")
        .arg(path)
        .run()
        .assert_success();
}

#[test]
fn files_that_are_not_regular_files_are_refused_at_once() {
    // A FIFO nobody writes to would block a plain open for ever; /dev/zero never ends.
    let campaign = CampaignDir::new();
    let path = campaign.write();
    let root = campaign.dir.path();
    let list = root.join("recipients.csv");
    std::fs::remove_file(&list).expect("rm");
    mkfifo(&list);
    refused_quickly(&path, &["recipients.csv", "the recipient list", "a FIFO"]);
    std::fs::remove_file(&list).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", &list).expect("symlink");
    refused_quickly(
        &path,
        &["recipients.csv (a link to /dev/zero)", "a character device"],
    );
    std::fs::remove_file(&list).expect("rm");
    std::fs::write(&list, &CampaignDir::new().csv).expect("list");

    // The suppression file, the token secret and a DKIM key, each a FIFO.
    for (extra, file, needle) in [
        (
            "suppress = [\"stop.txt\"]\n",
            "stop.txt",
            "the suppression file",
        ),
        (
            "\n[tokens]\nsecret_file = \"secret.txt\"\n",
            "secret.txt",
            "secret_file = \"",
        ),
        (
            "\n[[dkim]]\ndomain = \"example.org\"\nselector = \"s1\"\nkey_file = \"key.pem\"\n",
            "key.pem",
            "key_file =",
        ),
    ] {
        let mut campaign = CampaignDir::new();
        campaign.extra = extra.into();
        let path = campaign.write();
        mkfifo(&campaign.dir.path().join(file));
        refused_quickly(&path, &[needle, file, "a FIFO"]);
    }
    // The campaign file and a template too.
    let campaign = CampaignDir::new();
    let path = campaign.write();
    let template = campaign.dir.path().join("templates/body.txt");
    std::fs::remove_file(&template).expect("rm");
    mkfifo(&template);
    refused_quickly(&path, &["text = ", "body.txt", "a FIFO"]);
    let other = campaign.dir.path().join("fifo.toml");
    mkfifo(&other);
    refused_quickly(&other, &["fifo.toml", "the campaign file", "a FIFO"]);

    // Control: the same campaign with regular files passes.
    std::fs::remove_file(&template).expect("rm");
    std::fs::write(&template, "Dear {{ name }}\n").expect("template");
    let out = crate::util::isomail_within(
        &["check", path.to_str().expect("utf-8")],
        std::time::Duration::from_secs(60),
    );
    out.assert_exit_code(0);
}

#[test]
fn the_token_secret_must_be_private_like_a_key() {
    use std::os::unix::fs::PermissionsExt;
    let mut campaign = CampaignDir::new();
    campaign.extra = "\n[tokens]\nsecret_file = \"secret.txt\"\n".into();
    let path = campaign.write();
    let secret = campaign.dir.path().join("secret.txt");
    std::fs::write(&secret, "a-long-enough-secret-for-the-tokens\n").expect("secret");
    for mode in [0o644, 0o640, 0o604, 0o660] {
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(mode)).expect("chmod");
        refused_quickly(
            &path,
            &[
                "secret_file = \"",
                "secret.txt",
                &format!("(mode {mode:04o})"),
                "chmod 600",
            ],
        );
    }
    // A link to a readable file elsewhere is judged by the file it leads to.
    let elsewhere = campaign.dir.path().join("shared.txt");
    std::fs::write(&elsewhere, "a-long-enough-secret-for-the-tokens\n").expect("shared");
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::remove_file(&secret).expect("rm");
    std::os::unix::fs::symlink(&elsewhere, &secret).expect("symlink");
    refused_quickly(&path, &["(a link to ", "shared.txt", "(mode 0644)"]);
    // Control: private, it is accepted.
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = crate::util::isomail_within(
        &["check", path.to_str().expect("utf-8")],
        std::time::Duration::from_secs(60),
    );
    out.assert_exit_code(0);
}

#[test]
fn a_very_wide_header_is_checked_in_one_pass() {
    // 100,000 columns with the duplicate at the very end: found, named by both columns.
    let mut header: Vec<String> = (1..100_000).map(|i| format!("c{i}")).collect();
    header.insert(0, "email".into());
    header.push("c7".into());
    let mut csv = header.join(",");
    csv.push('\n');
    refused(
        &with_csv(csv.as_bytes()),
        &["column `c7` appears twice (columns 8 and 100001)"],
    );
}
