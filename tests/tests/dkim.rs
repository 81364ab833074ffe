//! DKIM signatures checked by an independent verifier: keys made by `openssl`, messages signed by
//! `isomail::message::dkim`, verified by dkimpy (tests/dkim/verify.py) given public keys that openssl, not
//! isomail, derived. Every passing verification has a control that must fail.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::util::{TestCommand, missing, stderr, stdout};
use isomail::message::dkim::{self, Algorithm, Key, KeyError, Signer};

/// The Date of the test messages, Tue, 03 Mar 2026 10:00:00 +0000, as the signature time (in
/// the past: verifiers refuse a t= in the future).
fn date() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_772_532_000)
}

/// The Python with dkimpy and PyNaCl: the virtualenv tests/run.sh makes, else `python3`.
pub fn python() -> PathBuf {
    let python = crate::util::smtp_python();
    let ready = Command::new(&python)
        .args(["-c", "import dkim, nacl"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        missing(&format!("dkimpy and pynacl (for {})", python.display()));
    }
    python
}

fn openssl(args: &[&str]) -> Vec<u8> {
    match Command::new("openssl").args(args).try_run() {
        Ok(out) => {
            out.assert_success();
            out.output.stdout
        }
        Err(_) => missing("the openssl command"),
    }
}

/// Writes a private key with `openssl` (mode 0600) and returns its path.
fn make_key(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let path_str = path.to_str().expect("utf-8 path");
    let mut all = args.to_vec();
    all.extend(["-out", path_str]);
    openssl(&all);
    chmod(&path, 0o600);
    path
}

fn rsa_pkcs1(dir: &Path, name: &str, bits: &str) -> PathBuf {
    let path = dir.join(name);
    // OpenSSL 3 writes PKCS#8 unless told -traditional.
    openssl(&[
        "genrsa",
        "-traditional",
        "-out",
        path.to_str().expect("utf-8 path"),
        bits,
    ]);
    chmod(&path, 0o600);
    assert_pem_label(&path, "RSA PRIVATE KEY");
    path
}

fn rsa_pkcs8(dir: &Path, name: &str, bits: u32) -> PathBuf {
    let bits = format!("rsa_keygen_bits:{bits}");
    let path = make_key(
        dir,
        name,
        &["genpkey", "-algorithm", "RSA", "-pkeyopt", &bits],
    );
    assert_pem_label(&path, "PRIVATE KEY");
    path
}

fn ed25519(dir: &Path, name: &str) -> PathBuf {
    let path = make_key(dir, name, &["genpkey", "-algorithm", "ed25519"]);
    assert_pem_label(&path, "PRIVATE KEY");
    path
}

fn assert_pem_label(path: &Path, label: &str) {
    let text = std::fs::read_to_string(path).expect("read key");
    assert!(
        text.starts_with(&format!("-----BEGIN {label}-----")),
        "{}: {text:.40}",
        path.display()
    );
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Base64 by `openssl base64`, so no part of the expected DNS record comes from isomail.
fn openssl_base64(dir: &Path, bytes: &[u8]) -> String {
    let file = dir.join("to-base64.bin");
    std::fs::write(&file, bytes).expect("write");
    let encoded = openssl(&["base64", "-A", "-in", file.to_str().expect("utf-8 path")]);
    String::from_utf8(encoded)
        .expect("ascii")
        .trim()
        .to_string()
}

/// The TXT record for a private key, derived by openssl: `p=` is the SubjectPublicKeyInfo for
/// RSA, and the bare 32-byte key for Ed25519 (RFC 8463), the tail of its SubjectPublicKeyInfo.
fn openssl_dns_record(dir: &Path, key: &Path, algorithm: Algorithm) -> String {
    let key = key.to_str().expect("utf-8 path");
    let spki = openssl(&["pkey", "-in", key, "-pubout", "-outform", "DER"]);
    match algorithm {
        Algorithm::RsaSha256 => format!("v=DKIM1; k=rsa; p={}", openssl_base64(dir, &spki)),
        Algorithm::Ed25519Sha256 => {
            // RFC 8410: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (32 bytes) }.
            let prefix = [
                0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
            ];
            assert_eq!(spki.len(), 44, "an Ed25519 SubjectPublicKeyInfo");
            assert_eq!(spki[..12], prefix);
            format!("v=DKIM1; k=ed25519; p={}", openssl_base64(dir, &spki[12..]))
        }
    }
}

/// An RSA-2048 and an Ed25519 key, as an operator would make them, and their DNS records.
struct Keys {
    dir: tempfile::TempDir,
    rsa: PathBuf,
    ed: PathBuf,
    /// `--key NAME=RECORD` arguments for verify.py, from openssl.
    records: Vec<String>,
}

impl Keys {
    fn new() -> Keys {
        let dir = tempfile::tempdir().expect("tmp");
        let rsa = rsa_pkcs8(dir.path(), "rsa.pem", 2048);
        let ed = ed25519(dir.path(), "ed.pem");
        let records = vec![
            format!(
                "rsa2026._domainkey.example.org={}",
                openssl_dns_record(dir.path(), &rsa, Algorithm::RsaSha256)
            ),
            format!(
                "ed2026._domainkey.example.org={}",
                openssl_dns_record(dir.path(), &ed, Algorithm::Ed25519Sha256)
            ),
        ];
        Keys {
            dir,
            rsa,
            ed,
            records,
        }
    }

    /// Loaded afresh on each call, as preflight and a later send each do.
    fn signers(&self) -> Vec<Signer> {
        vec![
            Signer::from_pem_file(&self.rsa, "example.org", "rsa2026").expect("rsa key"),
            Signer::from_pem_file(&self.ed, "example.org", "ed2026").expect("ed25519 key"),
        ]
    }
}

/// What verify.py printed, and whether it passed.
struct Verdict {
    passed: bool,
    lines: Vec<String>,
}

/// Runs dkimpy on each message (one process for all), expecting `expect` signatures each.
fn verify(keys: &Keys, messages: &[Vec<u8>], expect: usize) -> Verdict {
    let dir = tempfile::tempdir_in(keys.dir.path()).expect("tmp");
    let mut command = Command::new(python());
    command
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("dkim/verify.py"))
        .args(["--expect", &expect.to_string()]);
    for record in &keys.records {
        command.args(["--key", record]);
    }
    for (i, message) in messages.iter().enumerate() {
        let path = dir.path().join(format!("m{i:04}.eml"));
        std::fs::write(&path, message).expect("write message");
        command.arg(path);
    }
    let out = command.run().about("verify.py could not run");
    out.assert_exit_code_in(&[0, 1]);
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert!(
        !lines.is_empty(),
        "verify.py printed nothing: {}",
        stderr(&out)
    );
    Verdict {
        passed: out.status.success(),
        lines,
    }
}

fn assert_pass(verdict: &Verdict) {
    assert!(verdict.passed, "{}", verdict.lines.join("\n"));
    assert!(
        verdict.lines.iter().all(|l| l.ends_with(": pass")),
        "{}",
        verdict.lines.join("\n")
    );
}

/// Each signature line says FAIL (and the reason contains `why`).
fn assert_every_signature_fails(verdict: &Verdict, why: &str) {
    let text = verdict.lines.join("\n");
    assert!(!verdict.passed, "{text}");
    let signatures: Vec<&String> = verdict
        .lines
        .iter()
        .filter(|l| l.contains(": signature "))
        .collect();
    assert!(!signatures.is_empty(), "{text}");
    for line in signatures {
        assert!(line.contains("FAIL") && line.contains(why), "{text}");
    }
}

/// A notice as isomail sends it: CRLF throughout, quoted-printable text and HTML parts, the
/// one-click unsubscribe headers, a folded Content-Type; about 2 KB.
fn notice() -> Vec<u8> {
    let mut m = String::new();
    m.push_str("From: Example Notices <notices@example.org>\r\n");
    m.push_str("To: ann@example.com\r\n");
    m.push_str("Subject: =?utf-8?q?Your_updated_terms_=E2=80=94_please_read?=\r\n");
    m.push_str("Date: Tue, 03 Mar 2026 10:00:00 +0000\r\n");
    m.push_str("Message-ID: <1f2e3d4c.17@example.org>\r\n");
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str(
        "List-Unsubscribe: <https://example.org/unsubscribe/q1w2e3r4t5y6u7i8o9p0aa>,\r\n \
         <mailto:unsubscribe+q1w2e3r4t5y6u7i8o9p0aa@example.org>\r\n",
    );
    m.push_str("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
    m.push_str("Content-Type: multipart/alternative;\r\n boundary=\"=_b1f2e3d4c5\"\r\n");
    m.push_str("\r\n");
    m.push_str("--=_b1f2e3d4c5\r\nContent-Type: text/plain; charset=utf-8\r\n");
    m.push_str("Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    m.push_str("Dear Ann,\r\n\r\n");
    for i in 0..8 {
        m.push_str(&format!(
            "Section {i}: we have updated the agreement that governs your use of the =\r\n\
             service; the changes take effect on 1 January 2027.  Nothing is required =\r\n\
             of you.\r\n"
        ));
    }
    m.push_str("\r\nUnsubscribe: https://example.org/unsubscribe/q1w2e3r4t5y6u7i8o9p0aa\r\n");
    m.push_str("--=_b1f2e3d4c5\r\nContent-Type: text/html; charset=utf-8\r\n");
    m.push_str("Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    m.push_str("<p>Dear Ann,</p>\r\n<p>We have updated the agreement that governs your use =\r\n");
    m.push_str("of the service; the changes take effect on 1 January 2027.</p>\r\n");
    m.push_str("--=_b1f2e3d4c5--\r\n");
    m.into_bytes()
}

/// The DKIM-Signature header fields at the top of a signed message, unfolded.
fn signature_headers(signed: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(signed).replace("\r\n ", " ");
    text.lines()
        .take_while(|l| l.starts_with("DKIM-Signature:"))
        .map(str::to_owned)
        .collect()
}

/// The value of `name=` in an unfolded DKIM-Signature header, without whitespace.
fn tag(header: &str, name: &str) -> String {
    let start = header
        .find(&format!(" {name}="))
        .unwrap_or_else(|| panic!("no {name}= in {header}"))
        + name.len()
        + 2;
    let value = header[start..].split(';').next().unwrap_or_default();
    value.split_whitespace().collect()
}

/// `message` with `field` inserted as the first header line, as a relay adds trace fields.
fn prepend(field: &str, message: &[u8]) -> Vec<u8> {
    let mut out = field.as_bytes().to_vec();
    out.extend_from_slice(message);
    out
}

/// `message` with the first `from` replaced by `to`.
fn replace_once(message: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(message.to_vec()).expect("utf-8 message");
    assert!(text.contains(from), "{from:?} not in the message");
    text.replacen(from, to, 1).into_bytes()
}

#[test]
#[cfg_attr(
    any(isomail_missing = "dkimpy", isomail_missing = "openssl"),
    ignore = "needs dkimpy and openssl: run tests/run.sh"
)]
fn rsa_and_ed25519_signatures_verify_with_dkimpy() {
    let keys = Keys::new();
    let signers = keys.signers();
    // The records isomail prints for the operator are the ones openssl derives.
    for (signer, record) in signers.iter().zip(&keys.records) {
        assert_eq!(
            format!("{}={}", signer.dns_name(), signer.dns_record()),
            *record
        );
    }
    let signed = dkim::sign(&notice(), &signers, date()).expect("sign");
    assert!(
        signed.ends_with(&notice()),
        "the message follows, unchanged"
    );

    let headers = signature_headers(&signed);
    assert_eq!(headers.len(), 2, "{headers:?}");
    assert!(headers[0].contains("a=rsa-sha256;") && headers[0].contains("s=rsa2026;"));
    assert!(headers[1].contains("a=ed25519-sha256;") && headers[1].contains("s=ed2026;"));
    for header in &headers {
        for tag in ["c=relaxed/relaxed;", "d=example.org;", "t=1772532000;"] {
            assert!(header.contains(tag), "{tag} missing: {header}");
        }
        assert_eq!(
            tag(header, "h"),
            "from:from:to:subject:subject:date:message-id:mime-version:content-type:\
             list-unsubscribe:list-unsubscribe-post"
        );
    }
    let text = String::from_utf8_lossy(&signed);
    let header_block = &text[..text.find("From:").expect("From")];
    for line in header_block.split("\r\n") {
        assert!(line.len() <= 78, "a folded line over 78 octets: {line:?}");
    }

    let verdict = verify(&keys, std::slice::from_ref(&signed), 2);
    assert_pass(&verdict);
    assert!(
        verdict.lines[0].contains("a=rsa-sha256"),
        "{:?}",
        verdict.lines
    );
    assert!(
        verdict.lines[1].contains("a=ed25519-sha256"),
        "{:?}",
        verdict.lines
    );

    // Control: one body character changed, and neither signature holds.
    let changed = replace_once(&signed, "Dear Ann,</p>", "Dear Ann.</p>");
    assert_every_signature_fails(&verify(&keys, &[changed], 2), "body hash mismatch");
}

#[test]
#[cfg_attr(
    any(isomail_missing = "dkimpy", isomail_missing = "openssl"),
    ignore = "needs dkimpy and openssl: run tests/run.sh"
)]
fn a_subject_or_from_added_in_transit_breaks_the_signatures() {
    let keys = Keys::new();
    let signed = dkim::sign(&notice(), &keys.signers(), date()).expect("sign");
    // A field added above the signed ones: a verifier takes the lowest instance of a name first,
    // so only the extra `subject`/`from` in h= (oversigning) covers a second copy up here.
    let second_subject = prepend("Subject: You have won a prize\r\n", &signed);
    let second_from = prepend("From: Someone Else <else@example.net>\r\n", &signed);
    // Control: an added field the signatures do not cover (as every relay adds) breaks nothing,
    // so the failures above come from the copies of signed fields.
    let trace = prepend(
        "Received: from relay.example.net by mx.example.com; Tue, 1 Dec 2026\r\n",
        &signed,
    );
    let verdict = verify(&keys, &[second_subject, second_from, trace], 2);
    let text = verdict.lines.join("\n");
    assert_eq!(verdict.lines.len(), 6, "{text}");
    for line in &verdict.lines[..4] {
        assert!(line.contains("FAIL"), "{text}");
    }
    for line in &verdict.lines[4..] {
        assert!(line.ends_with(": pass"), "{text}");
    }
}

#[test]
#[cfg_attr(
    any(isomail_missing = "dkimpy", isomail_missing = "openssl"),
    ignore = "needs dkimpy and openssl: run tests/run.sh"
)]
fn relaxed_canonicalisation_survives_refolding_but_not_a_changed_field() {
    let keys = Keys::new();
    let signed = dkim::sign(&notice(), &keys.signers(), date()).expect("sign");
    // What relaxed/relaxed lets relays do: refold and respace fields, change the case of a field
    // name, add whitespace at line ends and empty lines at the end of the body.
    let refolded = replace_once(
        &signed,
        "Subject: =?utf-8?q?Your_updated_terms_=E2=80=94_please_read?=",
        "SUBJECT:   =?utf-8?q?Your_updated_terms_=E2=80=94_please_read?=  ",
    );
    let refolded = replace_once(
        &refolded,
        "Content-Type: multipart/alternative;\r\n boundary=",
        "Content-Type: multipart/alternative; \t boundary=",
    );
    let refolded = replace_once(&refolded, "Dear Ann,\r\n", "Dear  \t Ann,   \r\n");
    let mut refolded = refolded;
    refolded.extend_from_slice(b"\r\n \r\n\r\n");
    assert_pass(&verify(&keys, &[refolded], 2));

    // Controls: what relaxed does not allow.
    let changed_to = replace_once(&signed, "To: ann@example.com", "To: bob@example.com");
    let changed_unsubscribe = replace_once(
        &signed,
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "List-Unsubscribe-Post: List-Unsubscribe=Two-Click",
    );
    let joined_words = replace_once(&signed, "Dear Ann,\r\n", "DearAnn,\r\n");
    for message in [changed_to, changed_unsubscribe] {
        assert_every_signature_fails(&verify(&keys, &[message], 2), "");
    }
    assert_every_signature_fails(&verify(&keys, &[joined_words], 2), "body hash mismatch");
}

#[test]
#[cfg_attr(
    any(isomail_missing = "dkimpy", isomail_missing = "openssl"),
    ignore = "needs dkimpy and openssl: run tests/run.sh"
)]
fn messages_rendered_by_isomail_verify() {
    let keys = Keys::new();
    let mut campaign = crate::util::CampaignDir::new().numbered(5);
    campaign.subject = "Über die neuen Bedingungen für {{ name }} — bitte lesen".into();
    campaign.text =
        "Liebe(r) {{ name }},\n\nwir haben die Bedingungen geändert.   \n\tEingerückt\n".repeat(10);
    campaign.html =
        Some("<p>Liebe(r) {{ name }},</p>\n<p>wir haben die Bedingungen geändert.</p>\n".into());
    let (rendered, failed) = crate::util::render_campaign(&campaign.write(), 1);
    assert!(failed.is_empty() && rendered.len() == 5);
    let signers = keys.signers();
    let signed: Vec<Vec<u8>> = rendered
        .iter()
        .map(|m| dkim::sign(&m.bytes, &signers, date()).expect("sign"))
        .collect();
    assert_pass(&verify(&keys, &signed, 2));
}

#[test]
#[cfg_attr(
    isomail_missing = "openssl",
    ignore = "needs openssl: run tests/run.sh"
)]
fn the_same_message_and_time_sign_to_the_same_bytes() {
    let keys = Keys::new();
    let first = dkim::sign(&notice(), &keys.signers(), date()).expect("sign");
    let again = dkim::sign(&notice(), &keys.signers(), date()).expect("sign");
    assert_eq!(
        first, again,
        "preflight and send time must agree byte for byte"
    );
    // Control: the time is what makes them equal; a second later, both signatures differ.
    let later =
        dkim::sign(&notice(), &keys.signers(), date() + Duration::from_secs(1)).expect("sign");
    let (first, later) = (signature_headers(&first), signature_headers(&later));
    assert_eq!(first.len(), 2);
    for (a, b) in first.iter().zip(&later) {
        assert_eq!(
            (tag(a, "t"), tag(b, "t")),
            ("1772532000".into(), "1772532001".into())
        );
        assert_eq!(tag(a, "bh"), tag(b, "bh"));
        assert_ne!(tag(a, "b"), tag(b, "b"));
    }
}

#[test]
#[cfg_attr(
    isomail_missing = "openssl",
    ignore = "needs openssl: run tests/run.sh"
)]
fn the_preflight_hash_names_the_signed_message_without_signing_it() {
    // The preflight journals signed_hash and only the send signs: a message hashes as before
    // exactly when it would sign to the same bytes.
    let keys = Keys::new();
    let hash = |message: &[u8], signers: &[Signer], time| {
        dkim::signed_hash(message, signers, time).expect("hash")
    };
    let first = hash(&notice(), &keys.signers(), date());
    assert_eq!(first, hash(&notice(), &keys.signers(), date()));
    // Without signers it is the plain content hash an unsigned campaign always journaled.
    assert_eq!(
        hash(&notice(), &[], date()),
        isomail::message::content_hash(&notice())
    );
    // Controls: whatever changes the signed bytes changes the hash. One byte of the body, one
    // of a signed field, the signature time, a selector, a key (same names, another key).
    let other_key = ed25519(keys.dir.path(), "other.pem");
    let changed: Vec<(&str, String)> = vec![
        (
            "a body byte",
            hash(
                &replace_once(&notice(), "Dear", "Fear"),
                &keys.signers(),
                date(),
            ),
        ),
        (
            "a To byte",
            hash(
                &replace_once(&notice(), "To: ann", "To: anm"),
                &keys.signers(),
                date(),
            ),
        ),
        (
            "t=",
            hash(&notice(), &keys.signers(), date() + Duration::from_secs(1)),
        ),
        (
            "a selector",
            hash(
                &notice(),
                &[Signer::from_pem_file(&keys.ed, "example.org", "ed2027").expect("key")],
                date(),
            ),
        ),
        (
            "a key",
            hash(
                &notice(),
                &[
                    Signer::from_pem_file(&keys.rsa, "example.org", "rsa2026").expect("key"),
                    Signer::from_pem_file(&other_key, "example.org", "ed2026").expect("key"),
                ],
                date(),
            ),
        ),
    ];
    for (what, other) in &changed {
        assert_ne!(other, &first, "changing {what} left the hash as it was");
    }
}

/// A signed campaign of three whose stage 1 (two) went out; then `change` alters it and the
/// journal is made to claim the changed campaign was the one preflighted, and the rest is sent.
fn signed_send_after(change: impl FnOnce(&Path)) -> (crate::util::Run, crate::util::CampaignDir) {
    let keys = Keys::new();
    let emails: Vec<String> = (1..=3).map(|i| format!("r{i}@list.test")).collect();
    let campaign = signed_campaign(&keys, &emails, "");
    let path = campaign.path();
    crate::util::isomail_path(&["send"], &path).assert_exit_code(0);
    change(campaign.dir.path());
    let changed = isomail::campaign::Campaign::load(&path).expect("load");
    let journal = isomail::journal::Journal::open_existing(&isomail::journal::Journal::path_for(
        &path, false,
    ))
    .expect("journal");
    journal
        .set_fingerprint(&isomail::send::journal_fingerprint(&changed, false).expect("fingerprint"))
        .expect("tamper");
    drop(journal);
    let out = crate::util::isomail_path(&["send", "--yes"], &path);
    // The keys' directory must outlive the send.
    drop(keys);
    (out, campaign)
}

fn outbox(campaign: &crate::util::CampaignDir) -> Vec<Vec<u8>> {
    std::fs::read_dir(campaign.dir.path().join("outbox/new"))
        .expect("outbox")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("read"))
        .collect()
}

#[test]
#[cfg_attr(
    isomail_missing = "openssl",
    ignore = "needs openssl: run tests/run.sh"
)]
fn a_signed_message_that_is_not_the_one_the_preflight_hashed_halts_unsent() {
    let body = |dir: &Path, from: &str, to: &str| {
        let file = dir.join("templates/body.html");
        let html = std::fs::read_to_string(&file).expect("html");
        std::fs::write(&file, html.replacen(from, to, 1)).expect("edit");
    };
    let selector = |dir: &Path| {
        let file = dir.join("campaign.toml");
        let toml = std::fs::read_to_string(&file).expect("toml");
        std::fs::write(&file, toml.replace("\"ed2026\"", "\"ed2027\"")).expect("edit");
    };
    // One byte of a signed body, and a signing parameter: each makes a different signed message,
    // so the send halts before it goes out. (A selector also changes the campaign's fingerprint
    // and with it the Message-ID; that the hash covers the parameters themselves is
    // the_preflight_hash_names_the_signed_message_without_signing_it's to show.)
    for (what, run) in [
        (
            "a body byte",
            signed_send_after(|d| body(d, "Hello", "Hallo")),
        ),
        ("a selector", signed_send_after(selector)),
    ] {
        let (out, campaign) = run;
        crate::util::assert_halted(&out, "differs from the one checked in preflight");
        assert_eq!(
            outbox(&campaign).len(),
            2,
            "{what}: only stage 1's messages"
        );
    }
    // Control: the same steps changing nothing send the third, signed once by each key.
    let (out, campaign) = signed_send_after(|_| {});
    out.assert_exit_code(0);
    let sent = outbox(&campaign);
    assert_eq!(sent.len(), 3);
    for message in &sent {
        assert_eq!(signature_headers(message).len(), 2);
    }
}

/// Random messages: folded and repeated fields, tabs and runs of spaces, whitespace-only and
/// empty lines, 8-bit bytes, a body with or without a final CRLF.
fn random_message(rng: &mut u64) -> Vec<u8> {
    let mut next = |n: u64| {
        // xorshift64: reproducible, and enough to vary the shapes.
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng % n
    };
    const SPACES: [&str; 6] = [" ", "  ", "\t", " \t ", "", "   \t"];
    const WORDS: [&str; 8] = [
        "alpha",
        "b",
        "Gr\u{fc}\u{df}e",
        "x=1;",
        "<a@b.c>",
        "\"q\"",
        "=?utf-8?q?a?=",
        "...",
    ];
    let mut m = Vec::new();
    let names = [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "X-Other",
        "Received",
        "fROM",
        "subject",
    ];
    let count = 1 + next(10);
    let mut has_from = false;
    for _ in 0..count {
        let name = names[next(names.len() as u64) as usize];
        has_from |= name.eq_ignore_ascii_case("from");
        m.extend_from_slice(name.as_bytes());
        m.push(b':');
        for _ in 0..next(6) {
            m.extend_from_slice(SPACES[next(6) as usize].as_bytes());
            m.extend_from_slice(WORDS[next(8) as usize].as_bytes());
            if next(4) == 0 {
                m.extend_from_slice(b"\r\n");
                m.push(if next(2) == 0 { b' ' } else { b'\t' });
            }
        }
        m.extend_from_slice(SPACES[next(6) as usize].as_bytes());
        m.extend_from_slice(b"\r\n");
    }
    if !has_from || next(5) == 0 {
        m.extend_from_slice(b"From: x@example.org\r\n");
    }
    m.extend_from_slice(b"\r\n");
    for _ in 0..next(12) {
        for _ in 0..next(8) {
            m.extend_from_slice(SPACES[next(6) as usize].as_bytes());
            m.extend_from_slice(WORDS[next(8) as usize].as_bytes());
        }
        m.extend_from_slice(SPACES[next(6) as usize].as_bytes());
        m.extend_from_slice(b"\r\n");
    }
    if next(3) == 0 {
        m.extend_from_slice(b"no final line break");
    }
    m
}

#[test]
#[cfg_attr(
    any(isomail_missing = "dkimpy", isomail_missing = "openssl"),
    ignore = "needs dkimpy and openssl: run tests/run.sh"
)]
fn random_messages_verify_with_dkimpy_and_fail_when_changed() {
    let keys = Keys::new();
    let signers = keys.signers();
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let messages: Vec<Vec<u8>> = (0..150).map(|_| random_message(&mut rng)).collect();
    let signed: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| dkim::sign(m, &signers, date()).expect("sign"))
        .collect();
    assert_pass(&verify(&keys, &signed, 2));

    // Control: a letter added to the body of each, and every signature fails.
    let changed: Vec<Vec<u8>> = signed
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.extend_from_slice(b"Z\r\n");
            s
        })
        .collect();
    let verdict = verify(&keys, &changed, 2);
    assert_every_signature_fails(&verdict, "body hash mismatch");
    assert_eq!(verdict.lines.len(), 300);
}

#[test]
#[cfg_attr(
    isomail_missing = "openssl",
    ignore = "needs openssl: run tests/run.sh"
)]
fn openssl_key_formats_are_accepted() {
    let dir = tempfile::tempdir().expect("tmp");
    for (path, algorithm) in [
        (
            rsa_pkcs1(dir.path(), "pkcs1.pem", "2048"),
            Algorithm::RsaSha256,
        ),
        (
            rsa_pkcs8(dir.path(), "pkcs8.pem", 2048),
            Algorithm::RsaSha256,
        ),
        (ed25519(dir.path(), "ed.pem"), Algorithm::Ed25519Sha256),
    ] {
        let key = Key::from_pem_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(key.algorithm(), algorithm);
        assert_eq!(
            key.dns_record(),
            openssl_dns_record(dir.path(), &path, algorithm)
        );
        // Read-only for the owner is as private as 0600.
        chmod(&path, 0o400);
        Key::from_pem_file(&path).expect("mode 0400");
    }
}

#[test]
#[cfg_attr(
    isomail_missing = "openssl",
    ignore = "needs openssl: run tests/run.sh"
)]
fn key_files_others_may_read_or_write_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = ed25519(dir.path(), "ed.pem");
    for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o666] {
        chmod(&path, mode);
        let err = Key::from_pem_file(&path).expect_err("exposed key");
        assert!(matches!(err, KeyError::Exposed(m) if m == mode), "{err:?}");
        assert!(
            err.to_string().contains(&format!("(mode {mode:04o})")),
            "{err}"
        );
    }
    // Control: the very same file, once private, is accepted.
    chmod(&path, 0o600);
    Key::from_pem_file(&path).expect("mode 0600");
}

#[test]
#[cfg_attr(
    isomail_missing = "openssl",
    ignore = "needs openssl: run tests/run.sh"
)]
fn rsa_keys_under_2048_bits_are_refused_naming_their_size() {
    let dir = tempfile::tempdir().expect("tmp");
    for path in [
        rsa_pkcs1(dir.path(), "short1.pem", "1024"),
        rsa_pkcs8(dir.path(), "short8.pem", 1024),
        rsa_pkcs8(dir.path(), "odd.pem", 2047),
    ] {
        let err = Key::from_pem_file(&path).expect_err("short key");
        let bits = if path.ends_with("odd.pem") {
            2047
        } else {
            1024
        };
        assert!(matches!(err, KeyError::RsaBits(b) if b == bits), "{err:?}");
        assert!(
            err.to_string()
                .contains(&format!("an RSA key of {bits} bits")),
            "{err}"
        );
    }
    // Control: one bit more is accepted.
    Key::from_pem_file(&rsa_pkcs8(dir.path(), "ok.pem", 2048)).expect("2048 bits");
}

#[test]
#[cfg_attr(
    isomail_missing = "openssl",
    ignore = "needs openssl: run tests/run.sh"
)]
fn garbage_and_other_kinds_of_key_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let write = |name: &str, bytes: &[u8]| {
        let path = d.join(name);
        std::fs::write(&path, bytes).expect("write");
        chmod(&path, 0o600);
        path
    };
    let ed = ed25519(d, "ed.pem");
    let good = std::fs::read_to_string(&ed).expect("read");
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            write("garbage.pem", b"\x00\xffnot a key at all\n"),
            "not a PEM private key",
        ),
        (write("empty.pem", b""), "not a PEM private key"),
        (
            write("bad-base64.pem", good.replace("MC4", "M!4").as_bytes()),
            "not a PEM private key",
        ),
        (
            write(
                "truncated.pem",
                good.replace("-----END PRIVATE KEY-----", "").as_bytes(),
            ),
            "not a PEM private key",
        ),
        (
            write(
                "not-pkcs8.pem",
                b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            ),
            "not PKCS#8",
        ),
        (
            write("two.pem", format!("{good}{good}").as_bytes()),
            "more than one private key",
        ),
        (
            make_key(
                d,
                "ec8.pem",
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                ],
            ),
            "is an EC key",
        ),
        (
            make_key(
                d,
                "ec1.pem",
                &["ecparam", "-genkey", "-name", "prime256v1", "-noout"],
            ),
            "is an EC key",
        ),
        (
            make_key(d, "ed448.pem", &["genpkey", "-algorithm", "ed448"]),
            "is an Ed448 key",
        ),
        (
            make_key(d, "x25519.pem", &["genpkey", "-algorithm", "x25519"]),
            "not for signing",
        ),
        (
            make_key(
                d,
                "encrypted.pem",
                &[
                    "genpkey",
                    "-algorithm",
                    "ed25519",
                    "-aes256",
                    "-pass",
                    "pass:x",
                ],
            ),
            "not a PEM private key",
        ),
        (d.join("missing.pem"), "cannot be read"),
        (d.to_path_buf(), "not a regular file"),
    ];
    for (path, why) in cases {
        let err = Key::from_pem_file(&path).expect_err(&path.display().to_string());
        assert!(err.to_string().contains(why), "{}: {err}", path.display());
    }
    // Control: the good key these were made from loads.
    Key::from_pem_file(&ed).expect("ed25519 key");
}

#[test]
#[cfg_attr(
    isomail_missing = "openssl",
    ignore = "needs openssl: run tests/run.sh"
)]
fn signing_never_panics_on_any_bytes() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let dir = tempfile::tempdir().expect("tmp");
    let signers = [
        Signer::from_pem_file(&ed25519(dir.path(), "ed.pem"), "example.org", "ed").expect("key"),
    ];
    let notice = notice();
    let mut runner = TestRunner::new(Config::with_cases(2000));
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400),
        // The notice cut short and with bytes overwritten: near-valid messages.
        (
            0..notice.len(),
            proptest::collection::vec((0..notice.len(), any::<u8>()), 0..4)
        )
            .prop_map(move |(cut, edits)| {
                let mut m = notice.clone();
                for (at, byte) in edits {
                    m[at] = byte;
                }
                m.truncate(cut);
                m
            }),
    ];
    runner
        .run(&bytes, |message| {
            if let Ok(signed) = dkim::sign(&message, &signers, date()) {
                prop_assert!(signed.ends_with(&message));
                prop_assert!(signed.starts_with(b"DKIM-Signature: v=1;"));
            }
            Ok(())
        })
        .expect("no panic, and a signed message is the message with a header before it");
}

/// `n` recipients `r{i}@list.test` (or `{prefix}{i}@isomail.test` for postfix), signed by both
/// keys as `[[dkim]]` blocks, with one-click unsubscribe, delivered as `delivery` says.
fn signed_campaign(keys: &Keys, emails: &[String], delivery: &str) -> crate::util::CampaignDir {
    let mut campaign = crate::util::CampaignDir::new();
    let rows: String = emails.iter().map(|e| format!("{e},N\n")).collect();
    campaign.csv = format!("email,name\n{rows}").into_bytes();
    campaign.html = Some("<p>Hello {{ name }}</p>".into());
    campaign.extra = format!(
        "\n[tokens]\nsecret_file = \"secret.txt\"\n\n[unsubscribe]\nurl = \"https://example.org/u/{{token}}\"\n\
         \n[[dkim]]\ndomain = \"example.org\"\nselector = \"rsa2026\"\nkey_file = \"{}\"\n\
         \n[[dkim]]\ndomain = \"example.org\"\nselector = \"ed2026\"\nkey_file = \"{}\"\n\
         \n[delivery]\nstages = [2, \"all\"]\nrate = 1000\n{delivery}\n",
        keys.rsa.display(),
        keys.ed.display()
    );
    campaign.write();
    crate::util::write_secret(
        &campaign.dir.path().join("secret.txt"),
        "a-secret-for-the-dkim-tests\n",
    );
    campaign
}

#[test]
#[cfg_attr(
    isomail_missing = "dkimpy",
    ignore = "needs dkimpy and pynacl: run tests/run.sh"
)]
fn every_message_sent_carries_both_signatures_and_they_verify() {
    let keys = Keys::new();
    let emails: Vec<String> = (1..=12).map(|i| format!("r{i}@list.test")).collect();
    let campaign = signed_campaign(&keys, &emails, "");
    let path = campaign.path();
    // Two runs (a stage, then the rest): the preflight's signatures and the send's agree, or
    // the send would halt on a hash mismatch.
    for args in [&["send"][..], &["send", "--yes"][..]] {
        let out = crate::util::isomail_path(args, &path);
        out.assert_exit_code(0);
    }
    let outbox = campaign.dir.path().join("outbox/new");
    let sent: Vec<Vec<u8>> = std::fs::read_dir(&outbox)
        .expect("outbox")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("read"))
        .collect();
    assert_eq!(sent.len(), 12);
    assert_pass(&verify(&keys, &sent, 2));
    let signatures = signature_headers(&sent[0]);
    assert_eq!(signatures.len(), 2);
    for header in &signatures {
        let h = tag(header, "h");
        assert!(h.contains("list-unsubscribe:list-unsubscribe-post"), "{h}");
    }
    // Control: one character of each body changed, and every signature fails.
    let changed: Vec<Vec<u8>> = sent
        .iter()
        .map(|m| replace_once(m, "Dear", "Fear"))
        .collect();
    assert_every_signature_fails(&verify(&keys, &changed, 2), "body hash");
}

#[test]
#[cfg_attr(
    any(isomail_missing = "dkimpy", isomail_missing = "postfix"),
    ignore = "needs dkimpy and the test postfix: run tests/run.sh as root"
)]
fn signatures_survive_a_real_mta() {
    crate::util::require_postfix();
    let keys = Keys::new();
    let nonce = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let emails: Vec<String> = (1..=6)
        .map(|i| format!("dk{nonce}x{i}@isomail.test"))
        .collect();
    let delivery = format!(
        "smtp = \"smtp://isomail@127.0.0.1:2587\"\npassword_file = \"pw.txt\"\nca_file = \"{}\"",
        crate::util::CERT
    );
    let campaign = signed_campaign(&keys, &emails, &delivery);
    std::fs::write(
        campaign.dir.path().join("pw.txt"),
        "isomail-test-password\n",
    )
    .expect("pw");
    let out = crate::util::isomail_path(&["send", "--yes"], &campaign.path());
    out.assert_exit_code(0);
    // Postfix adds its trace headers and stores LF line ends; the signatures must still hold.
    let mut delivered = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while delivered.len() < emails.len() && std::time::Instant::now() < deadline {
        delivered = std::fs::read_dir(crate::util::MAILDIR)
            .expect("maildir")
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .filter(|m| m.contains(&format!("dk{nonce}x")))
            .map(|m| m.replace('\n', "\r\n").into_bytes())
            .collect();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(delivered.len(), emails.len());
    assert!(String::from_utf8_lossy(&delivered[0]).starts_with("Return-Path:"));
    assert_pass(&verify(&keys, &delivered, 2));
}

#[test]
fn bad_keys_in_the_campaign_are_refused_naming_the_block_and_file() {
    let keys = Keys::new();
    let emails = vec!["r1@list.test".to_owned()];
    let check = |campaign: &crate::util::CampaignDir| {
        let out = crate::util::isomail_path(&["check"], &campaign.path());
        out.assert_exit_code(2);
        let err = stderr(&out);
        assert!(
            err.contains("campaign.toml: [[dkim]] #1 (d=example.org, s=rsa2026) key_file"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        err
    };
    chmod(&keys.rsa, 0o644);
    let err = check(&signed_campaign(&keys, &emails, ""));
    assert!(err.contains("mode 0644"), "{err}");
    let short = rsa_pkcs8(keys.dir.path(), "short.pem", 1024);
    std::fs::rename(&short, &keys.rsa).expect("swap in a short key");
    let err = check(&signed_campaign(&keys, &emails, ""));
    assert!(err.contains("1024 bits"), "{err}");
    std::fs::write(&keys.rsa, "not a key\n").expect("garbage");
    let err = check(&signed_campaign(&keys, &emails, ""));
    assert!(err.contains("not a PEM private key"), "{err}");
    // Control: a proper key at 0600 checks clean.
    let good = rsa_pkcs8(keys.dir.path(), "good.pem", 2048);
    std::fs::rename(&good, &keys.rsa).expect("swap in a good key");
    let out = crate::util::isomail_path(&["check"], &signed_campaign(&keys, &emails, "").path());
    out.assert_exit_code(0);
}
