//! The compile caches the tests use: one shared by every run (so each renderer compiles once),
//! and private ones for the tests about the cache itself.

use std::path::{Path, PathBuf};

use super::run::{TestCommand, isomail_command};

/// The compile cache every command-line run of the tests shares (see [`isomail_command`]).
pub(super) fn cache_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("isomail-cache");
    std::fs::create_dir_all(&dir).expect("cache dir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .expect("chmod cache");
    }
    dir
}

/// Points this process's in-process renders at the compile cache the command-line runs use, so a
/// renderer compiled by one is loaded by the other.
pub fn use_the_test_cache() {
    // SAFETY: tests in one binary share the environment; every test sets the same value.
    unsafe { std::env::set_var("ISOMAIL_CACHE_DIR", cache_dir()) };
}

/// A new compile-cache directory `cache` inside `dir`, private (0700) as isomail requires.
pub fn private_cache(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let cache = dir.join("cache");
    std::fs::create_dir(&cache).expect("mkdir cache");
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    cache
}

/// The compiled entries of a cache directory: (file name, inode, modification time), sorted.
/// A hit leaves an entry's inode alone and touches its time; a miss writes a new file.
pub fn cache_entries(cache: &Path) -> Vec<(String, u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt;
    let mut found: Vec<_> = std::fs::read_dir(cache)
        .expect("cache dir")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .map(|e| {
            let meta = e.metadata().expect("stat");
            let name = e.file_name().to_string_lossy().into_owned();
            (name, meta.ino(), meta.modified().expect("mtime"))
        })
        .collect();
    found.sort();
    found
}

/// Sets a cache entry's modification time, so that a later hit shows as the entry touched.
pub fn set_entry_time(entry: &Path, when: std::time::SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(entry)
        .and_then(|f| f.set_modified(when))
        .expect("set the entry's mtime");
}

/// `isomail check CAMPAIGN` with the compile cache in `cache`; it must pass.
pub fn check_with_cache(campaign: &Path, cache: &Path) {
    let out = isomail_command(&["check", campaign.to_str().expect("utf-8 path")])
        .env("ISOMAIL_CACHE_DIR", cache)
        .run();
    out.assert_exit_code(0);
}
