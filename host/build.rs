//! Builds the built-in renderer (`guest/`) as a component that imports nothing
//! (wasm32-unknown-unknown, componentized by `wasm-component-ld`) and hands its bytes to the host.

include!("build_guest.rs");

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // First, so that a missing target is all a failed build prints.
    let release = build_wasm_guests(
        &root.join("guest").join("Cargo.toml"),
        "wasm-guest",
        GuestTarget::Bare,
    );
    mark_missing_parts();
    // The built-in renderer's own files: guest/ also holds the example renderers in other
    // languages, which are not built here and must not rebuild the host.
    for part in ["src", "Cargo.toml", "Cargo.lock"] {
        rerun_if_tree_changed(&root.join("guest").join(part));
    }
    rerun_if_tree_changed(&root.join("wit"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy(
        release.join("isomail_guest.wasm"),
        out.join("isomail_guest.wasm"),
    )
    .expect("the guest build produced isomail_guest.wasm");
}
