//! An on-disk cache of compiled renderers, so `preview` does not pay for Cranelift every time.
//!
//! A compiled entry is native code, so it is loaded only if nobody but this user (or root) could
//! have written it: the directory (`$ISOMAIL_CACHE_DIR`, else `$XDG_CACHE_HOME/isomail`, else
//! `~/.cache/isomail`) is opened one component at a time from `/` through descriptors, never by a
//! path that could be resolved again, and every directory on the way, the cache directory and the
//! entry are checked on the descriptor that is then used. Any doubt turns the cache off (the
//! renderer is compiled); at most [`MAX_ENTRIES`] entries are kept, the least recently used going
//! first.

use std::ffi::{OsStr, OsString};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component as PathPart, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Compiles `bytes`, or loads the result of an earlier identical compilation.
pub(super) fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    compile_in(configured_dir().as_deref(), engine, bytes)
}

/// [`compile`] with the cache in `dir` (`None`: no cache).
fn compile_in(dir: Option<&Path>, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    let Some(cache) = dir.and_then(|dir| CacheDir::open(dir, euid())) else {
        return Component::new(engine, bytes);
    };
    let name = entry_name(engine, bytes);
    if let Some(component) = cache.load(engine, &name) {
        return Ok(component);
    }
    let compiled = engine.precompile_component(bytes)?;
    cache.store(&name, &compiled);
    cache.evict(MAX_ENTRIES);
    // SAFETY: `compiled` was produced just above by this engine.
    unsafe { Component::deserialize(engine, &compiled) }
}

/// Entries kept: every campaign's templates make one snapshot (a few MB each), so without a
/// bound the cache would grow with every campaign ever checked.
const MAX_ENTRIES: usize = 64;

/// Symbolic links followed on the way to the cache directory before giving up (Linux's own
/// limit), so a loop of links ends.
const MAX_LINKS: usize = 40;

/// How a directory on the way is opened: only to look a name up in it. `O_PATH` needs no read
/// permission, so a home directory that others may search but not list is no obstacle.
#[cfg(any(target_os = "linux", target_os = "android"))]
const LOOKUP: OFlags = OFlags::PATH;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const LOOKUP: OFlags = OFlags::RDONLY;

/// The open cache directory. Every operation on entries goes through this descriptor, so what
/// was checked when it was opened is what is used, whatever happens to the path afterwards.
struct CacheDir {
    fd: OwnedFd,
    me: u32,
}

impl CacheDir {
    /// Opens (creating it 0700 if missing) the directory at `path` for the user `me`, or `None`
    /// if anyone but `me` or root could change what it holds.
    ///
    /// Every directory from `/` down is opened relative to the previous one without following
    /// links, and must be owned by root or `me` and writable by nobody else unless sticky (as
    /// `/tmp` is: others may add names there, but not rename or remove ours). A link on the way
    /// is followed only if it sits in such a directory and is owned by root or `me`, since
    /// whoever may replace it chooses where it leads; the cache directory itself must not be a
    /// link, and must be owned by `me` and writable by nobody else.
    fn open(path: &Path, me: u32) -> Option<CacheDir> {
        let absolute = if path.is_absolute() {
            path.to_owned()
        } else {
            std::env::current_dir().ok()?.join(path)
        };
        let name = absolute.file_name()?;
        let parent = open_trusted_path(absolute.parent()?, me)?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&parent, name, flags, Mode::empty()) {
            Err(Errno::NOENT) => {
                let created = make_dir(&parent, name)?;
                let fd = rustix::fs::openat(&parent, name, flags, Mode::empty()).ok()?;
                if created {
                    // Exactly 0700 whatever the umask, as a fresh cache directory always was.
                    rustix::fs::fchmod(&fd, Mode::RWXU).ok()?;
                }
                fd
            }
            opened => opened.ok()?,
        };
        let stat = rustix::fs::fstat(&fd).ok()?;
        let private = is(&stat, FileType::Directory) && stat.st_uid == me && !others_write(&stat);
        private.then_some(CacheDir { fd, me })
    }

    /// The entry `name`, if it is a regular file of this user's that nobody else may write.
    fn load(&self, engine: &Engine, name: &str) -> Option<Component> {
        // NONBLOCK: a FIFO under an entry's name must not hang the run; it is refused below.
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::empty()).ok()?;
        let stat = rustix::fs::fstat(&fd).ok()?;
        if !is(&stat, FileType::RegularFile) || stat.st_uid != self.me || others_write(&stat) {
            return None;
        }
        let mut file = std::fs::File::from(fd);
        let mut bytes = Vec::with_capacity(usize::try_from(stat.st_size).unwrap_or(0));
        file.read_to_end(&mut bytes).ok()?;
        // SAFETY: `bytes` were read through a descriptor, still open, of a regular file that this
        // user owns and nobody else may write, found without following a link in a directory
        // that this user owns and nobody else may write, itself reached through directories that
        // only root or this user can change (`CacheDir::open`). So the bytes were written by this
        // user or by root — by `store`, from wasmtime's precompile output for an engine with this
        // compatibility hash, which the name covers — never by another account, and no rename
        // or link swapped after the checks can change which file was read.
        let component = unsafe { Component::deserialize(engine, &bytes) }.ok()?;
        // Recently used entries are the last to be evicted. The owner may set the time through
        // a read-only descriptor.
        let _ = file.set_modified(std::time::SystemTime::now());
        Some(component)
    }

    /// Writes atomically (a new 0600 temp file, then a rename within the directory) so a
    /// concurrent reader never sees half an entry. A failure to cache is not an error: the next
    /// run compiles again.
    fn store(&self, name: &str, compiled: &[u8]) {
        let tmp = format!(".{}.{}.tmp", std::process::id(), rand_suffix());
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mode = Mode::RUSR | Mode::WUSR;
        let Ok(fd) = rustix::fs::openat(&self.fd, tmp.as_str(), flags, mode) else {
            return;
        };
        let mut file = std::fs::File::from(fd);
        let written = file.write_all(compiled).and_then(|()| file.sync_all());
        if written.is_err() || rustix::fs::renameat(&self.fd, tmp.as_str(), &self.fd, name).is_err()
        {
            let _ = rustix::fs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty());
        }
    }

    /// Deletes the least recently used `.cwasm` entries beyond `keep`.
    fn evict(&self, keep: usize) {
        let Ok(listing) = rustix::fs::Dir::read_from(&self.fd) else {
            return;
        };
        let mut entries = Vec::new();
        for entry in listing {
            let Ok(entry) = entry else {
                break;
            };
            let name = entry.file_name();
            if name.to_bytes().len() <= ".cwasm".len() || !name.to_bytes().ends_with(b".cwasm") {
                continue;
            }
            if let Ok(stat) = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                entries.push(((stat.st_mtime, stat.st_mtime_nsec), name.to_owned()));
            }
        }
        if entries.len() <= keep {
            return;
        }
        entries.sort();
        for (_, name) in &entries[..entries.len() - keep] {
            let _ = rustix::fs::unlinkat(&self.fd, name.as_c_str(), AtFlags::empty());
        }
    }
}

/// One step of a path being walked.
enum Step {
    Root,
    Up,
    Into(OsString),
}

/// `path`'s steps, last first (a stack to pop); `None` for a Windows prefix.
fn steps(path: &Path) -> Option<Vec<Step>> {
    path.components()
        .rev()
        .filter(|part| *part != PathPart::CurDir)
        .map(|part| match part {
            PathPart::RootDir => Some(Step::Root),
            PathPart::ParentDir => Some(Step::Up),
            PathPart::Normal(name) => Some(Step::Into(name.to_owned())),
            PathPart::CurDir | PathPart::Prefix(_) => None,
        })
        .collect()
}

/// Opens the absolute directory `path` from `/`, creating missing directories (0700), each
/// step checked by [`trusted_dir`] on the descriptor it produced; see [`CacheDir::open`].
fn open_trusted_path(path: &Path, me: u32) -> Option<OwnedFd> {
    let mut todo = steps(path)?;
    let mut dir = open_root(me)?;
    let mut links = 0;
    while let Some(step) = todo.pop() {
        let name = match step {
            Step::Root => {
                dir = open_root(me)?;
                continue;
            }
            Step::Up => OsString::from(".."),
            Step::Into(name) => name,
        };
        let flags = LOOKUP | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let opened = match rustix::fs::openat(&dir, &name, flags, Mode::empty()) {
            Err(Errno::NOENT) => {
                make_dir(&dir, &name)?;
                rustix::fs::openat(&dir, &name, flags, Mode::empty())
            }
            opened => opened,
        };
        match opened {
            Ok(fd) => {
                trusted_dir(&fd, me)?;
                dir = fd;
            }
            // Not a directory: a link (ELOOP or ENOTDIR, by system), or something to refuse.
            Err(_) => {
                let stat = rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
                links += 1;
                if !is(&stat, FileType::Symlink) || !trusted_owner(&stat, me) || links > MAX_LINKS {
                    return None;
                }
                // Neither this link nor its directory can change under us: only root or `me`
                // may replace it (the directory was checked; if it is sticky, the owner is).
                let target = rustix::fs::readlinkat(&dir, &name, Vec::new()).ok()?;
                if target.as_bytes().is_empty() {
                    return None; // the system resolves an empty link to nothing
                }
                todo.extend(steps(Path::new(OsStr::from_bytes(target.as_bytes())))?);
            }
        }
    }
    Some(dir)
}

fn open_root(me: u32) -> Option<OwnedFd> {
    let flags = LOOKUP | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let root = rustix::fs::open("/", flags, Mode::empty()).ok()?;
    trusted_dir(&root, me)?;
    Some(root)
}

/// `Some` if `fd` is a directory whose entries only root or `me` can rename or remove.
fn trusted_dir(fd: &OwnedFd, me: u32) -> Option<()> {
    let stat = rustix::fs::fstat(fd).ok()?;
    let sticky = Mode::from_raw_mode(stat.st_mode).contains(Mode::SVTX);
    let trusted = is(&stat, FileType::Directory)
        && trusted_owner(&stat, me)
        && (!others_write(&stat) || sticky);
    trusted.then_some(())
}

/// Creates `name` in `parent` with mode 0700; whether this call created it (`false` if it
/// already existed, e.g. made by a concurrent run).
fn make_dir(parent: &OwnedFd, name: &OsStr) -> Option<bool> {
    match rustix::fs::mkdirat(parent, name, Mode::RWXU) {
        Ok(()) => Some(true),
        Err(Errno::EXIST) => Some(false),
        Err(_) => None,
    }
}

fn is(stat: &Stat, kind: FileType) -> bool {
    FileType::from_raw_mode(stat.st_mode) == kind
}

fn trusted_owner(stat: &Stat, me: u32) -> bool {
    stat.st_uid == 0 || stat.st_uid == me
}

/// Whether the group or others may write it.
fn others_write(stat: &Stat) -> bool {
    Mode::from_raw_mode(stat.st_mode).intersects(Mode::WGRP | Mode::WOTH)
}

fn entry_name(engine: &Engine, bytes: &[u8]) -> String {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let mut hasher = Sha256::new();
    hasher.update(engine_hash.finish().to_le_bytes());
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(bytes);
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{hex}.cwasm")
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The configured cache directory; `None` if the cache is off.
pub fn configured_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ISOMAIL_CACHE_DIR") {
        // An empty value turns the cache off.
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("isomail"));
    }
    Some(
        PathBuf::from(std::env::var_os("HOME")?)
            .join(".cache")
            .join("isomail"),
    )
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions; it only reads the process's credentials.
    unsafe { libc_geteuid() }
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, chown, lchown, symlink};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// The component the cache is asked for: an empty one.
    const REAL: &[u8] = b"\0asm\x0d\x00\x01\x00";
    /// The attacker's: another component (one empty core module), whose compiled form is
    /// planted under `REAL`'s entry name. Loading it is what running an attacker's native code
    /// looks like to the cache.
    const PLANTED: &[u8] = b"\0asm\x0d\x00\x01\x00\x01\x08\0asm\x01\x00\x00\x00";
    /// Who owns the files of "another user" in these tests.
    const NOBODY: u32 = 65534;

    struct Fixture {
        engine: Engine,
        real: Vec<u8>,
        planted: Vec<u8>,
        name: String,
    }

    fn fixture() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(|| {
            let mut config = wasmtime::Config::new();
            config.wasm_component_model(true);
            let engine = Engine::new(&config).expect("engine");
            let real = engine.precompile_component(REAL).expect("precompile");
            let planted = engine.precompile_component(PLANTED).expect("precompile");
            assert_ne!(real, planted, "the two components must be told apart");
            let name = entry_name(&engine, REAL);
            Fixture {
                engine,
                real,
                planted,
                name,
            }
        })
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Found {
        Real,
        Planted,
        Nothing,
    }

    fn identify(component: &Component) -> Found {
        let f = fixture();
        let bytes = component.serialize().expect("serialize");
        if bytes == f.planted {
            Found::Planted
        } else if bytes == f.real {
            Found::Real
        } else {
            panic!("a component that is neither")
        }
    }

    /// What the cache at `dir` gives for `REAL` (the first half of `compile_in`).
    fn lookup(dir: &Path) -> Found {
        let f = fixture();
        CacheDir::open(dir, euid())
            .and_then(|cache| cache.load(&f.engine, &f.name))
            .map_or(Found::Nothing, |c| identify(&c))
    }

    fn mkdir(path: &Path, mode: u32) -> PathBuf {
        std::fs::create_dir(path).expect("mkdir");
        chmod(path, mode);
        path.to_owned()
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    /// `dir`/`name` holding the attacker's compiled component, 0600 and owned by this user.
    fn plant(dir: &Path) -> PathBuf {
        let entry = dir.join(&fixture().name);
        std::fs::write(&entry, &fixture().planted).expect("plant");
        chmod(&entry, 0o600);
        entry
    }

    /// Files of another user can only be made as root; tests/run.sh marks these tests ignored
    /// where it is not root, and anywhere else they fail rather than pass untested.
    fn require_root(test: &str) {
        assert_eq!(
            euid(),
            0,
            "{test} needs root (to chown files to another user): run tests/run.sh as root"
        );
    }

    /// A private cache holding the real entry at `cache`, and next to it `decoy`, a link to a
    /// directory of the attacker's compiled component under the real entry's name. Every
    /// directory is this user's (or root's) and private, so once `cache` and `decoy` are
    /// swapped, nothing but not following `cache` as a link keeps the planted entry out.
    struct SwapLayout {
        _base: tempfile::TempDir,
        cache: PathBuf,
        decoy: PathBuf,
    }

    impl SwapLayout {
        /// `depth` directories above `cache`: resolving a long path twice, as a check-then-open
        /// does, takes long enough for swaps to fall in between even when both threads share one
        /// busy core.
        fn new(depth: usize) -> SwapLayout {
            let base = tempfile::tempdir().expect("tempdir");
            let deep: PathBuf = std::iter::repeat_n("d", depth).collect();
            std::fs::create_dir_all(base.path().join(&deep)).expect("mkdir -p");
            let parent = mkdir(&base.path().join(deep).join("parent"), 0o755);
            let cache = mkdir(&parent.join("cache"), 0o700);
            std::fs::write(cache.join(&fixture().name), &fixture().real).expect("entry");
            chmod(&cache.join(&fixture().name), 0o600);
            let evil = mkdir(&base.path().join("evil"), 0o700);
            plant(&evil);
            let decoy = parent.join("decoy");
            symlink(&evil, &decoy).expect("symlink");
            // Controls: the detection works, and the real entry loads when nobody interferes.
            assert_eq!(lookup(&evil), Found::Planted);
            assert_eq!(lookup(&cache), Found::Real);
            SwapLayout {
                _base: base,
                cache,
                decoy,
            }
        }

        /// Swaps the directory and the link in one step, as `rename` over would in two.
        fn swap(&self) {
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                &self.cache,
                rustix::fs::CWD,
                &self.decoy,
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .expect("swap");
        }
    }

    #[test]
    fn a_directory_swapped_for_a_link_once_opened_is_still_the_one_used() {
        let layout = SwapLayout::new(0);
        let f = fixture();
        let cache = CacheDir::open(&layout.cache, euid()).expect("a private cache");
        layout.swap();
        assert_eq!(
            lookup(&layout.cache),
            Found::Nothing,
            "the path is now a link"
        );
        let loaded = cache.load(&f.engine, &f.name).expect("the real entry");
        assert_eq!(identify(&loaded), Found::Real);
        // Writes land in the directory that was checked, now at `decoy`'s name.
        cache.store("new.cwasm", b"new");
        let checked = std::fs::read_dir(&layout.decoy).expect("ls").flatten();
        assert!(checked.map(|e| e.file_name()).any(|n| n == "new.cwasm"));
    }

    #[test]
    fn swapping_the_directory_for_a_link_never_loads_the_planted_entry() {
        let layout = SwapLayout::new(32);
        let cache = &layout.cache;
        // Whoever may rename in `parent` swaps the directory and the link again and again.
        let stop = AtomicBool::new(false);
        let (mut real, mut refused, mut compiled, mut planted) = (0, 0, 0, 0);
        let mut rounds = 0;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    layout.swap();
                }
            });
            // Until both states were met often enough to show the race ran, within a bound.
            while rounds < 20_000 && (rounds < 2_000 || real < 50 || refused < 50) {
                rounds += 1;
                match lookup(cache) {
                    Found::Real => real += 1,
                    Found::Nothing => refused += 1,
                    Found::Planted => planted += 1,
                }
                // And what the sandbox calls, which compiles when the cache is refused.
                let component = compile_in(Some(cache), &fixture().engine, REAL).expect("compile");
                match identify(&component) {
                    Found::Planted => planted += 1,
                    _ => compiled += 1,
                }
            }
            stop.store(true, Ordering::Relaxed);
        });
        eprintln!(
            "{rounds} rounds: {real} loaded the real entry, {refused} refused a link, {compiled} \
             compiled or loaded the real one, {planted} loaded the planted entry"
        );
        assert_eq!(planted, 0, "the attacker's code was loaded");
        assert!(
            real >= 50 && refused >= 50,
            "the race did not run both ways"
        );
    }

    #[test]
    fn a_directory_on_the_way_that_others_may_write_turns_the_cache_off() {
        let base = tempfile::tempdir().expect("tempdir");
        let grandparent = mkdir(&base.path().join("grandparent"), 0o755);
        let parent = mkdir(&grandparent.join("parent"), 0o755);
        let cache = mkdir(&parent.join("cache"), 0o700);
        plant(&cache);
        // Control: in a safe place the planted entry is loaded (so "Nothing" below is a refusal).
        assert_eq!(lookup(&cache), Found::Planted);
        for dir in [&parent, &grandparent] {
            for (mode, loads) in [
                (0o777, false),
                (0o775, false),
                (0o757, false),
                (0o1777, true), // sticky, like /tmp: others cannot rename what is not theirs
                (0o1775, true),
                (0o755, true),
            ] {
                chmod(dir, mode);
                let want = if loads {
                    Found::Planted
                } else {
                    Found::Nothing
                };
                assert_eq!(lookup(&cache), want, "{} at {mode:o}", dir.display());
            }
        }
        // Refused, the cache is neither read nor written.
        chmod(&grandparent, 0o777);
        std::fs::remove_file(cache.join(&fixture().name)).expect("rm");
        let component = compile_in(Some(&cache), &fixture().engine, REAL).expect("compile");
        assert_eq!(identify(&component), Found::Real);
        assert_eq!(std::fs::read_dir(&cache).expect("ls").count(), 0);
    }

    #[test]
    fn a_linked_cache_directory_or_entry_is_never_followed() {
        let base = tempfile::tempdir().expect("tempdir");
        let elsewhere = mkdir(&base.path().join("elsewhere"), 0o700);
        let planted = plant(&elsewhere);
        let linked = base.path().join("linked");
        symlink(&elsewhere, &linked).expect("symlink");
        assert_eq!(lookup(&elsewhere), Found::Planted, "control");
        assert_eq!(lookup(&linked), Found::Nothing);

        let cache = mkdir(&base.path().join("cache"), 0o700);
        symlink(&planted, cache.join(&fixture().name)).expect("symlink");
        assert_eq!(lookup(&cache), Found::Nothing);
        // The cache does not write through the link either.
        let component = compile_in(Some(&cache), &fixture().engine, REAL).expect("compile");
        assert_eq!(identify(&component), Found::Real);
        assert_eq!(std::fs::read(&planted).expect("read"), fixture().planted);
        std::fs::remove_file(cache.join(&fixture().name)).expect("rm");
        std::fs::copy(&planted, cache.join(&fixture().name)).expect("copy");
        assert_eq!(lookup(&cache), Found::Planted, "control");
    }

    #[test]
    fn a_link_on_the_way_is_followed_where_only_its_owner_could_have_made_it() {
        let base = tempfile::tempdir().expect("tempdir");
        let real_parent = mkdir(&base.path().join("real-parent"), 0o755);
        let cache = mkdir(&real_parent.join("cache"), 0o700);
        plant(&cache);
        // As with a home directory under a linked /home, or a linked ~/.cache.
        symlink("real-parent", base.path().join("alias")).expect("symlink");
        assert_eq!(lookup(&base.path().join("alias/cache")), Found::Planted);
        symlink(&real_parent, base.path().join("absolute")).expect("symlink");
        assert_eq!(lookup(&base.path().join("absolute/cache")), Found::Planted);
        assert_eq!(
            lookup(&base.path().join("absolute/../real-parent/cache")),
            Found::Planted
        );
        symlink("loop", base.path().join("loop")).expect("symlink");
        assert_eq!(lookup(&base.path().join("loop/cache")), Found::Nothing);
    }

    #[test]
    #[cfg_attr(
        isomail_missing = "root",
        ignore = "needs root: run tests/run.sh as root"
    )]
    fn a_link_of_another_user_in_a_sticky_directory_is_not_followed() {
        require_root("a_link_of_another_user_in_a_sticky_directory_is_not_followed");
        let base = tempfile::tempdir().expect("tempdir");
        let real_parent = mkdir(&base.path().join("real-parent"), 0o755);
        let cache = mkdir(&real_parent.join("cache"), 0o700);
        plant(&cache);
        // In a sticky directory others may add links of their own: those are not followed.
        let shared = mkdir(&base.path().join("shared"), 0o1777);
        let link = shared.join("link");
        symlink(&real_parent, &link).expect("symlink");
        assert_eq!(lookup(&link.join("cache")), Found::Planted, "control");
        lchown(&link, Some(NOBODY), None).expect("lchown");
        assert_eq!(lookup(&link.join("cache")), Found::Nothing);
    }

    #[test]
    #[cfg_attr(
        isomail_missing = "root",
        ignore = "needs root: run tests/run.sh as root"
    )]
    fn files_of_another_user_are_never_loaded() {
        require_root("files_of_another_user_are_never_loaded");
        let base = tempfile::tempdir().expect("tempdir");
        let parent = mkdir(&base.path().join("parent"), 0o755);
        let cache = mkdir(&parent.join("cache"), 0o700);
        let entry = plant(&cache);
        assert_eq!(lookup(&cache), Found::Planted, "control");
        for path in [&entry, &cache, &parent] {
            chown(path, Some(NOBODY), None).expect("chown");
            assert_eq!(
                lookup(&cache),
                Found::Nothing,
                "{} of nobody",
                path.display()
            );
            chown(path, Some(euid()), None).expect("chown back");
            assert_eq!(lookup(&cache), Found::Planted, "control");
        }
    }

    #[test]
    fn entries_or_a_cache_directory_that_others_may_write_are_not_loaded() {
        let base = tempfile::tempdir().expect("tempdir");
        let cache = mkdir(&base.path().join("cache"), 0o700);
        let entry = plant(&cache);
        assert_eq!(lookup(&cache), Found::Planted, "control");
        for (path, mode) in [
            (&entry, 0o620),
            (&entry, 0o602),
            (&cache, 0o770),
            (&cache, 0o1777),
        ] {
            let before = std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777;
            chmod(path, mode);
            assert_eq!(
                lookup(&cache),
                Found::Nothing,
                "{} at {mode:o}",
                path.display()
            );
            chmod(path, before);
            assert_eq!(lookup(&cache), Found::Planted, "control");
        }
    }

    #[test]
    fn a_missing_cache_is_created_private_and_reused() {
        let base = tempfile::tempdir().expect("tempdir");
        let cache = base.path().join("a/b/cache");
        let component = compile_in(Some(&cache), &fixture().engine, REAL).expect("compile");
        assert_eq!(identify(&component), Found::Real);
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o7777;
        for dir in ["a", "a/b", "a/b/cache"] {
            assert_eq!(mode(&base.path().join(dir)), 0o700, "{dir}");
        }
        let entry = cache.join(&fixture().name);
        assert_eq!(mode(&entry), 0o600);
        assert_eq!(std::fs::read(&entry).expect("entry"), fixture().real);
        assert_eq!(
            std::fs::read_dir(&cache).expect("ls").count(),
            1,
            "no temp file left"
        );
        // A hit counts as a use for eviction.
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(86_400);
        std::fs::File::options()
            .write(true)
            .open(&entry)
            .and_then(|f| f.set_modified(old))
            .expect("age the entry");
        assert_eq!(lookup(&cache), Found::Real);
        let touched = std::fs::metadata(&entry)
            .expect("stat")
            .modified()
            .expect("mtime");
        assert!(touched > old + std::time::Duration::from_secs(86_400));
    }
}
