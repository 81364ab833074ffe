//! An on-disk cache of compiled renderers, so `preview` does not pay for Cranelift every time.
//!
//! Entries are keyed by a SHA-256 of the component bytes and the engine's compatibility hash, and
//! live in a directory only the current user may write (`$ISOMAIL_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/isomail`, else `~/.cache/isomail`). A compiled entry is native code, so it is
//! loaded only from such a directory; any problem with the cache falls back to compiling. At
//! most [`MAX_ENTRIES`] entries are kept, the least recently used going first.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Compiles `bytes`, or loads the result of an earlier identical compilation.
pub(super) fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    let Some(dir) = cache_dir() else {
        return Component::new(engine, bytes);
    };
    let path = dir.join(format!("{}.cwasm", key(engine, bytes)));
    if path.is_file() {
        // SAFETY: the file sits in a directory owned by this user and writable by nobody else
        // (checked by `cache_dir`), and was written by `store` below from wasmtime's own
        // precompile output for this exact engine configuration (the key covers it).
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            // Recently used entries are the last to be evicted.
            let _ = std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()));
            return Ok(component);
        }
    }
    let compiled = engine.precompile_component(bytes)?;
    store(&dir, &path, &compiled);
    evict(&dir, MAX_ENTRIES);
    // SAFETY: `compiled` was produced just above by this engine.
    unsafe { Component::deserialize(engine, &compiled) }
}

/// Entries kept: every campaign's templates make one snapshot (a few MB each), so without a
/// bound the cache would grow with every campaign ever checked.
const MAX_ENTRIES: usize = 64;

/// Deletes the least recently used `.cwasm` entries beyond `keep`.
fn evict(dir: &std::path::Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if entries.len() <= keep {
        return;
    }
    entries.sort();
    for (_, path) in &entries[..entries.len() - keep] {
        let _ = std::fs::remove_file(path);
    }
}

fn key(engine: &Engine, bytes: &[u8]) -> String {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let mut hasher = Sha256::new();
    hasher.update(engine_hash.finish().to_le_bytes());
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(bytes);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes atomically (temp file + rename) so a concurrent reader never sees half an entry.
/// A failure to cache is not an error: the next run compiles again.
fn store(dir: &std::path::Path, path: &std::path::Path, compiled: &[u8]) {
    let tmp = dir.join(format!(".{}.{}.tmp", std::process::id(), rand_suffix()));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(compiled)?;
        f.sync_all()
    });
    if written.is_err() || std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The cache directory, created 0700 if missing; `None` if it is unsafe or unusable.
fn cache_dir() -> Option<PathBuf> {
    let dir = if let Some(dir) = std::env::var_os("ISOMAIL_CACHE_DIR") {
        if dir.is_empty() {
            return None; // an empty value turns the cache off
        }
        PathBuf::from(dir)
    } else if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        PathBuf::from(xdg).join("isomail")
    } else {
        PathBuf::from(std::env::var_os("HOME")?)
            .join(".cache")
            .join("isomail")
    };
    if !dir.exists() {
        std::fs::create_dir_all(&dir).ok()?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).ok()?;
    }
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    // SAFETY: geteuid has no preconditions; it only reads the process's credentials.
    let me = unsafe { libc_geteuid() };
    let private = meta.is_dir() && meta.uid() == me && meta.mode() & 0o022 == 0;
    private.then_some(dir)
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}
