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
    let sysroot =
        sysroot().unwrap_or_else(|| stop("isomail's build cannot run `rustc --print sysroot`"));
    let host = std::env::var("HOST").expect("cargo sets HOST");
    let linker = sysroot
        .join("lib")
        .join("rustlib")
        .join(host)
        .join("bin")
        .join("wasm-component-ld");
    if !linker.is_file() {
        stop(&format!(
            "isomail's build needs {}, the component linker that comes with Rust 1.95 and later",
            linker.display()
        ));
    }
    linker
}

/// The rustc cargo builds us with.
fn rustc() -> std::ffi::OsString {
    std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())
}

/// The sysroot of [`rustc`], if it runs.
fn sysroot() -> Option<PathBuf> {
    let out = Command::new(rustc())
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let sysroot = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !sysroot.trim().is_empty()).then(|| PathBuf::from(sysroot.trim()))
}

/// Ends the build with one sentence (no panic, so no backtrace).
fn stop(why: &str) -> ! {
    eprintln!("error: {why}");
    std::process::exit(1)
}

/// Whether the toolchain building us has the standard library for `triple`.
fn has_std_for(triple: &str) -> bool {
    let Ok(out) = Command::new(rustc())
        .args(["--print", "target-libdir", "--target", triple])
        .output()
    else {
        return false;
    };
    let libdir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    out.status.success()
        && std::fs::read_dir(libdir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("libstd-") && name.ends_with(".rlib")
            })
        })
}

/// Makes sure the toolchain building us has the standard library for `target`, before anything
/// is compiled for it: rustup does not add rust-toolchain.toml's targets to a toolchain that is
/// already installed. If it is missing, `rustup target add` adds it to the toolchain in use
/// (`RUSTUP_TOOLCHAIN`, which rustup's proxies set) and says so in one warning; without rustup,
/// or if that fails, the build ends with one sentence saying what to install.
fn ensure_target_installed(target: GuestTarget) {
    let triple = target.triple();
    if has_std_for(triple) {
        return;
    }
    let wanted = format!(
        "isomail's build needs the Rust standard library for {triple}; install it with \
         `rustup target add {triple}` or your distribution's rust-std package for that target"
    );
    // The rustup toolchain building us: the one rustup's proxy chose, else the one whose
    // directory rustc's sysroot is (cargo run from a toolchain's bin/, its rustup home too).
    let (toolchain, home) = match std::env::var("RUSTUP_TOOLCHAIN") {
        Ok(name) if !name.is_empty() => (name, None),
        _ => {
            let sysroot = sysroot().unwrap_or_default();
            let name = sysroot.file_name().and_then(|n| n.to_str());
            let toolchains = sysroot.parent().filter(|p| p.ends_with("toolchains"));
            match (name, toolchains.and_then(Path::parent)) {
                (Some(name), Some(home)) => (name.to_owned(), Some(home.to_owned())),
                _ => stop(&format!("{wanted} (the Rust building it is not rustup's)")),
            }
        }
    };
    // host/build.rs and tests/build.rs may run at once: one `rustup target add` at a time in a
    // target directory (rustup itself takes no lock on the toolchain it changes).
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let lock = out_dir.ancestors().nth(4).and_then(|target_dir| {
        let file = std::fs::File::create(target_dir.join(".rustup-target-add.lock")).ok()?;
        file.lock().ok()?;
        Some(file)
    });
    if has_std_for(triple) {
        return;
    }
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", "--toolchain", &toolchain, triple]);
    if let Some(home) = home {
        rustup.env("RUSTUP_HOME", home);
    }
    let added = match rustup.output() {
        Err(_) => stop(&format!("{wanted} (rustup was not found)")),
        Ok(out) => out,
    };
    drop(lock);
    if !added.status.success() || !has_std_for(triple) {
        let said = String::from_utf8_lossy(&added.stderr);
        let said = said
            .lines()
            .find(|l| l.starts_with("error"))
            .map_or_else(String::new, |l| format!(": {}", l.trim()));
        stop(&format!(
            "{wanted} (`rustup target add {triple}` failed{said})"
        ));
    }
    println!(
        "cargo:warning=the Rust standard library for {triple} was not installed: added it with \
         `rustup target add {triple}` (toolchain {toolchain})"
    );
}

/// Builds every cdylib in the project at `manifest` and returns the release output directory.
fn build_wasm_guests(manifest: &Path, target_subdir: &str, target: GuestTarget) -> PathBuf {
    ensure_target_installed(target);
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out: keep guest builds beside the host's
    // so they survive `cargo clean -p` and are shared by the debug and release profiles.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map_or_else(|| out_dir.join("wasm"), |t| t.join(target_subdir));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--release",
        "--target",
        target.triple(),
        "--manifest-path",
    ])
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
        cmd.env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER",
            wasm_component_ld(),
        )
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
            "-C link-arg=--wasi-adapter=none",
        );
    }
    let status = cmd.status().unwrap_or_else(|e| {
        stop(&format!(
            "cannot run cargo to build {}: {e}",
            manifest.display()
        ))
    });
    if !status.success() {
        stop(&format!(
            "building {} for {} failed (cargo's messages are above)",
            manifest.display(),
            target.triple()
        ));
    }
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
