//! Builds the hostile guests in `guests/` for wasm32-wasip2 and tells the tests where they are
//! (`GUEST_ACCUMULATOR`, `GUEST_COUNTER`, … as compile-time environment variables). Also compiles
//! the tests that need a part tests/run.sh could not prepare as ignored, so they are counted as
//! not run rather than passed. With `ISOMAIL_COMPONENTIZE_PY` and `ISOMAIL_COMPONENTIZE_QJS` (set
//! by tests/run.sh), also builds the Python and JavaScript renderers: `GUEST_PY_EXAMPLE`,
//! `GUEST_JS_EXAMPLE`, `GUEST_PY_HOSTILE`, `GUEST_JS_HOSTILE`, …

include!("../host/build_guest.rs");

fn main() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guests = here.join("guests");
    // First, so that a missing target is all a failed build prints.
    let release = build_wasm_guests(
        &guests.join("Cargo.toml"),
        "wasm-test-guests",
        GuestTarget::Wasip2,
    );
    mark_missing_parts();
    rerun_if_tree_changed(&guests);
    rerun_if_tree_changed(&here.join("..").join("wit"));
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
    build_python_guests(here);
    build_javascript_guests(here);
}

/// The Python renderers, each built by componentize-py into OUT_DIR: (variable, source
/// directory, module, `--stub-wasi`). The hostile one is built twice: with WASI stubbed out inside
/// the component (what the guide tells authors to do: it imports nothing), and without, so that
/// isomail's own answers to WASI imports (host/src/sandbox/wasi.rs) face a Python program too.
const PYTHON_GUESTS: [(&str, &str, &str, bool); 3] = [
    ("GUEST_PY_EXAMPLE", "../guest/python", "example", true),
    ("GUEST_PY_HOSTILE", "guests/python", "hostile", true),
    ("GUEST_PY_HOSTILE_WASI", "guests/python", "hostile", false),
];

/// Builds [`PYTHON_GUESTS`] if componentize-py is at hand: `ISOMAIL_COMPONENTIZE_PY`, else the
/// one tests/run.sh installs in its virtualenv. Without it nothing is set and the Python tests
/// say what they lack (tests/run.sh compiles them as ignored, or fails under CI). A component is
/// built again only when its inputs changed: each build takes several seconds.
fn build_python_guests(here: &Path) {
    use std::hash::{Hash, Hasher};
    println!("cargo::rerun-if-env-changed=ISOMAIL_COMPONENTIZE_PY");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let tool = match std::env::var_os("ISOMAIL_COMPONENTIZE_PY") {
        Some(tool) => PathBuf::from(tool),
        // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out.
        None => match out_dir.ancestors().nth(4) {
            Some(target) => target.join("tmp/smtp-venv/bin/componentize-py"),
            None => return,
        },
    };
    if !tool.is_file() {
        return;
    }
    let wit = here.join("..").join("wit");
    let mut wit_files: Vec<PathBuf> = std::fs::read_dir(&wit)
        .expect("wit/ is readable")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    wit_files.sort();
    for (var, dir, module, stub) in PYTHON_GUESTS {
        let source_dir = here.join(dir);
        rerun_if_tree_changed(&source_dir);
        let source = source_dir.join(format!("{module}.py"));
        let code = std::fs::read(&source)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", source.display()));
        let name = var.trim_start_matches("GUEST_").to_lowercase();
        let wasm = out_dir.join(format!("{name}.wasm"));
        // What the component is made of; std's hasher is enough to tell an earlier build apart.
        let mut inputs = std::collections::hash_map::DefaultHasher::new();
        (
            &tool,
            std::fs::metadata(&tool).and_then(|m| m.modified()).ok(),
        )
            .hash(&mut inputs);
        (module, stub, &code).hash(&mut inputs);
        for file in &wit_files {
            (file, std::fs::read(file).expect("wit file is readable")).hash(&mut inputs);
        }
        let stamp = out_dir.join(format!("{name}.inputs"));
        let key = format!("{:016x}", inputs.finish());
        if wasm.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == key) {
            println!("cargo:rustc-env={var}={}", wasm.display());
            continue;
        }
        // From a copy: the tool writes __pycache__ beside the module, and the source tree stays
        // as it is.
        let app = out_dir.join(format!("{name}-src"));
        let _ = std::fs::remove_dir_all(&app);
        std::fs::create_dir_all(&app).expect("create the Python source copy");
        std::fs::write(app.join(format!("{module}.py")), &code).expect("copy the Python source");
        let mut cmd = Command::new(&tool);
        cmd.arg("--quiet").arg("--wit-path").arg(&wit).args([
            "--world",
            "renderer",
            "componentize",
        ]);
        if stub {
            cmd.arg("--stub-wasi");
        }
        cmd.arg("--python-path")
            .arg(&app)
            .arg(module)
            .arg("--output")
            .arg(&wasm)
            .current_dir(&app)
            .env_remove("VIRTUAL_ENV")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let status = cmd
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", tool.display()));
        assert!(
            status.success(),
            "{} could not build {} ({status})",
            tool.display(),
            source.display()
        );
        std::fs::write(&stamp, key).expect("write the build stamp");
        println!("cargo:rustc-env={var}={}", wasm.display());
    }
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
