// Shared by host/build.rs and tests/build.rs (via `include!`): builds a cargo project of
// renderer components with its own target directory, so `cargo build` and `cargo test` from a
// fresh clone need no manual step.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What the components are built for.
#[derive(Clone, Copy, PartialEq)]
#[allow(dead_code)] // each build script uses one of the two
enum GuestTarget {
    /// wasm32-wasip2: a std component that imports WASI (the hostile test guests, which probe it).
    Wasip2,
    /// wasm32-unknown-unknown, made a component by the toolchain's `wasm-component-ld` with no
    /// WASI adapter: a component that imports nothing at all (the built-in renderer).
    Bare,
}

impl GuestTarget {
    fn triple(self) -> &'static str {
        match self {
            GuestTarget::Wasip2 => "wasm32-wasip2",
            GuestTarget::Bare => "wasm32-unknown-unknown",
        }
    }
}

/// The `wasm-component-ld` that ships with the toolchain building us (the wasm32-wasip2 linker).
fn wasm_component_ld() -> PathBuf {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("cannot run rustc --print sysroot");
    let sysroot = String::from_utf8(out.stdout).expect("sysroot is UTF-8");
    let host = std::env::var("HOST").expect("cargo sets HOST");
    let linker = Path::new(sysroot.trim())
        .join("lib")
        .join("rustlib")
        .join(host)
        .join("bin")
        .join("wasm-component-ld");
    assert!(
        linker.is_file(),
        "{} is missing; it comes with the wasm32-wasip2 target (`rustup target add wasm32-wasip2`)",
        linker.display()
    );
    linker
}

/// Builds every cdylib in the project at `manifest` and returns the release output directory.
fn build_wasm_guests(manifest: &Path, target_subdir: &str, target: GuestTarget) -> PathBuf {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out: keep guest builds beside the host's
    // so they survive `cargo clean -p` and are shared by the debug and release profiles.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map_or_else(|| out_dir.join("wasm"), |t| t.join(target_subdir));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", target.triple(), "--manifest-path"])
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
    if target == GuestTarget::Bare {
        cmd.env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", wasm_component_ld())
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
                "-C link-arg=--wasi-adapter=none",
            );
    }
    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run cargo to build {}: {e}", manifest.display()));
    assert!(
        status.success(),
        "building {} for {} failed; is the target installed? (`rustup target add {}`)",
        manifest.display(),
        target.triple(),
        target.triple()
    );
    target_dir.join(target.triple()).join("release")
}

/// Tells cargo to rebuild when anything under `dir` changes (sources, manifests, lock files).
fn rerun_if_tree_changed(dir: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            // Build output, and the npm packages an author may install beside a JavaScript renderer.
            if path
                .file_name()
                .is_some_and(|n| n == "target" || n == "node_modules")
            {
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

/// The parts of the test setup a test may need, as tests/run.sh names them in
/// `ISOMAIL_TEST_MISSING` (space-separated) when it cannot prepare them on this machine.
const PARTS: [&str; 8] = [
    "postfix",
    "aiosmtpd",
    "dkimpy",
    "openssl",
    "script",
    "root",
    "componentize-py",
    "componentize-qjs",
];

/// `cfg(isomail_missing = "postfix")` etc. for each part tests/run.sh could not prepare: the
/// tests that need it carry `cfg_attr(isomail_missing = ..., ignore = ...)`. Without the variable
/// (plain `cargo test`) nothing is ignored and such a test fails, saying what it lacks.
#[allow(dead_code)] // each build script uses its part of this file
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
