// Shared by host/build.rs and tests/build.rs (via `include!`): builds a cargo project of
// renderer components for wasm32-wasip2 with its own target directory, so `cargo build` and
// `cargo test` from a fresh clone need no manual step.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds every cdylib in the project at `manifest` and returns the release output directory.
fn build_wasm_guests(manifest: &Path, target_subdir: &str) -> PathBuf {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out: keep guest builds beside the host's
    // so they survive `cargo clean -p` and are shared by the debug and release profiles.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map_or_else(|| out_dir.join("wasm"), |t| t.join(target_subdir));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(manifest)
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's flags and wrappers (clippy, coverage, cross targets) are for the host.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTC_WRAPPER",
        "CARGO_LLVM_COV",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run cargo to build {}: {e}", manifest.display()));
    assert!(
        status.success(),
        "building {} for wasm32-wasip2 failed; is the target installed? (`rustup target add wasm32-wasip2`)",
        manifest.display()
    );
    target_dir.join("wasm32-wasip2").join("release")
}

/// Tells cargo to rebuild when anything under `dir` changes (sources, manifests, lock files).
fn rerun_if_tree_changed(dir: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            if path.is_dir() {
                rerun_if_tree_changed(&path);
            } else {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}
