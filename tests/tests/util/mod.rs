//! A small harness, the one place test modules share helpers: campaigns written into temp dirs
//! ([`campaign`]), the real `isomail` binary run on them with its exit code asserted ([`run`]),
//! the library's pipeline run in-process where a test needs each message's content ([`render`]),
//! the compile caches ([`cache`]), the SMTP servers ([`smtp`]) and the journal ([`journal`]).

#![allow(dead_code)] // each test file uses its own part of the harness

mod cache;
mod campaign;
mod journal;
mod render;
mod run;
mod smtp;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use cache::*;
pub use campaign::*;
pub use journal::*;
pub use render::*;
pub use run::*;
pub use smtp::*;

/// Path of a hostile guest built by tests/build.rs.
pub fn guest(name: &str) -> PathBuf {
    PathBuf::from(match name {
        "accumulator" => env!("GUEST_ACCUMULATOR"),
        "counter" => env!("GUEST_COUNTER"),
        "legacy-v010" => env!("GUEST_LEGACY_V010"),
        "misbehave" => env!("GUEST_MISBEHAVE"),
        "prepared-counter" => env!("GUEST_PREPARED_COUNTER"),
        "probe" => env!("GUEST_PROBE"),
        "snoop" => env!("GUEST_SNOOP"),
        "wrong-world" => env!("GUEST_WRONG_WORLD"),
        // The JavaScript renderers, built only where tests/run.sh installed componentize-qjs.
        "js-example" => {
            option_env!("GUEST_JS_EXAMPLE").unwrap_or_else(|| missing(COMPONENTIZE_QJS))
        }
        "js-hostile" => {
            option_env!("GUEST_JS_HOSTILE").unwrap_or_else(|| missing(COMPONENTIZE_QJS))
        }
        "js-hostile-wasi" => {
            option_env!("GUEST_JS_HOSTILE_WASI").unwrap_or_else(|| missing(COMPONENTIZE_QJS))
        }
        other => panic!("no guest named {other}"),
    })
}

/// What the JavaScript renderers need to be built (see [`missing`]).
const COMPONENTIZE_QJS: &str =
    "componentize-qjs (tests/run.sh installs it with npm and sets ISOMAIL_COMPONENTIZE_QJS)";

/// Fails the test: a part it needs is missing from this machine. No test passes without
/// running: tests/run.sh prepares every part it can and compiles the tests that need any other
/// part as ignored (`cfg(isomail_missing = ...)`, see tests/build.rs), so they count as not run.
pub fn missing(what: &str) -> ! {
    panic!(
        "{what} is not available, so this test cannot run. Run the tests with tests/run.sh: it \
         prepares what they need (the test postfix only as root) and marks as ignored the tests \
         whose parts it cannot prepare."
    )
}

/// Writes a secret (the token secret, a key) as an operator must: mode 0600, neither group
/// nor others may read it.
pub fn write_secret(path: &Path, contents: impl AsRef<[u8]>) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, contents).expect("write secret");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

/// A small deterministic generator for random schedules (kill times, list edits); a test prints
/// its seed so a failing run can be reproduced.
pub struct Lcg(pub u64);

impl Lcg {
    /// A number below `below` (which must not be 0).
    pub fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }

    /// A seed from the clock, or from `ISOMAIL_TEST_SEED` to reproduce a run.
    pub fn seed() -> u64 {
        std::env::var("ISOMAIL_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(7, |d| d.as_nanos() as u64)
            })
    }
}
