//! Builds the hostile guests in `guests/` for wasm32-wasip2 and tells the tests where they are
//! (`GUEST_ACCUMULATOR`, `GUEST_COUNTER`, … as compile-time environment variables). Also compiles
//! the tests that need a part tests/run.sh could not prepare as ignored, so they are counted as
//! not run rather than passed.

include!("../host/build_guest.rs");

/// The parts of the test setup a test may need, as tests/run.sh names them in
/// `ISOMAIL_TEST_MISSING` (space-separated) when it cannot prepare them on this machine.
const PARTS: [&str; 5] = ["postfix", "aiosmtpd", "dkimpy", "openssl", "script"];

/// `cfg(isomail_missing = "postfix")` etc. for each part tests/run.sh could not prepare: the
/// tests that need it carry `cfg_attr(isomail_missing = ..., ignore = ...)`. Without the variable
/// (plain `cargo test`) nothing is ignored and such a test fails, saying what it lacks.
fn mark_missing_parts() {
    let values: Vec<String> = PARTS.iter().map(|p| format!("\"{p}\"")).collect();
    println!(
        "cargo::rustc-check-cfg=cfg(isomail_missing, values({}))",
        values.join(", ")
    );
    println!("cargo::rerun-if-env-changed=ISOMAIL_TEST_MISSING");
    let missing = std::env::var("ISOMAIL_TEST_MISSING").unwrap_or_default();
    for part in missing.split_whitespace() {
        assert!(
            PARTS.contains(&part),
            "ISOMAIL_TEST_MISSING names {part:?}; the parts are {PARTS:?}"
        );
        println!("cargo::rustc-cfg=isomail_missing=\"{part}\"");
    }
}

fn main() {
    mark_missing_parts();
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guests = here.join("guests");
    rerun_if_tree_changed(&guests);
    rerun_if_tree_changed(&here.join("..").join("wit"));
    let release = build_wasm_guests(
        &guests.join("Cargo.toml"),
        "wasm-test-guests",
        GuestTarget::Wasip2,
    );
    for name in [
        "accumulator",
        "counter",
        "misbehave",
        "prepared-counter",
        "probe",
        "snoop",
        "wrong-world",
    ] {
        let file = release.join(format!("guest_{}.wasm", name.replace('-', "_")));
        assert!(file.is_file(), "{} was not built", file.display());
        let var = format!("GUEST_{}", name.replace('-', "_").to_uppercase());
        println!("cargo:rustc-env={var}={}", file.display());
    }
}
