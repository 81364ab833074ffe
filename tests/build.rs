//! Builds the hostile guests in `guests/` for wasm32-wasip2 and tells the tests where they are
//! (`GUEST_ACCUMULATOR`, `GUEST_COUNTER`, … as compile-time environment variables). Also compiles
//! the tests that need a part tests/run.sh could not prepare as ignored, so they are counted as
//! not run rather than passed.

include!("../host/build_guest.rs");

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
        "legacy-v010",
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
