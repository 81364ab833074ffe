//! Builds the hostile guests in `guests/` for wasm32-wasip2 and tells the tests where they are
//! (`GUEST_ACCUMULATOR`, `GUEST_COUNTER`, … as compile-time environment variables). Also compiles
//! the tests that need a part tests/run.sh could not prepare as ignored, so they are counted as
//! not run rather than passed. With `ISOMAIL_COMPONENTIZE_QJS` (set by tests/run.sh), also makes
//! the JavaScript renderers components: `GUEST_JS_EXAMPLE`, `GUEST_JS_HOSTILE`, …

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
    build_javascript_guests(here);
}

/// The JavaScript renderers, each made a component of the `renderer` world by the componentize-qjs
/// that tests/run.sh installs from guest/javascript's lock file. Without it nothing is built and
/// the tests that need these are compiled as ignored (or, under a plain `cargo test`, fail
/// saying so).
fn build_javascript_guests(here: &Path) {
    println!("cargo::rerun-if-env-changed=ISOMAIL_COMPONENTIZE_QJS");
    let Some(tool) = std::env::var_os("ISOMAIL_COMPONENTIZE_QJS").filter(|t| !t.is_empty()) else {
        return;
    };
    let root = here.join("..");
    let example = root.join("guest").join("javascript").join("renderer.js");
    let hostile = here.join("guests").join("javascript").join("hostile.js");
    // The lock file pins the tool: a new version makes new components.
    let lock = root
        .join("guest")
        .join("javascript")
        .join("package-lock.json");
    for source in [&example, &hostile, &lock] {
        println!("cargo:rerun-if-changed={}", source.display());
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // `--stub-wasi` replaces every WASI import by a trap: the component imports nothing. The
    // hostile guest is also built with them kept (each answered inertly by isomail), for the
    // probe's control. `--sync`: isomail's engine does not enable the component-model async ABI.
    for (var, js, stub_wasi) in [
        ("GUEST_JS_EXAMPLE", &example, true),
        ("GUEST_JS_HOSTILE", &hostile, true),
        ("GUEST_JS_HOSTILE_WASI", &hostile, false),
    ] {
        let out = out_dir.join(format!("{}.wasm", var.to_lowercase()));
        let mut cmd = Command::new(&tool);
        cmd.arg("--wit")
            .arg(root.join("wit"))
            .args(["--world", "renderer", "--sync", "--js"])
            .arg(js)
            .arg("-o")
            .arg(&out);
        if stub_wasi {
            cmd.arg("--stub-wasi");
        }
        let made = cmd.output().unwrap_or_else(|e| {
            panic!(
                "cannot run {} (ISOMAIL_COMPONENTIZE_QJS): {e}",
                Path::new(&tool).display()
            )
        });
        assert!(
            made.status.success() && out.is_file(),
            "componentize-qjs failed on {}: {}",
            js.display(),
            String::from_utf8_lossy(&made.stderr)
        );
        println!("cargo:rustc-env={var}={}", out.display());
    }
}
