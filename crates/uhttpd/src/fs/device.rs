//! The host directory that plays the device's `/`. Every file operation of
//! the server opens its path beneath a handle of root with `openat2` and
//! `RESOLVE_BENEATH`: the kernel keeps the whole resolution inside root, in
//! the same system call that opens, so no local user swapping a directory for
//! a symlink can make a read or a write land outside. Writes then act on one
//! name inside a directory descriptor (`mkdirat`, `openat`, `renameat`,
//! `unlinkat`), never through a path string checked beforehand.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;

use super::path::{PathError, VirtualPath};
use crate::platform::linux_fast_paths;

/// Suffix of an upload's temporary file. Names ending with it are reserved:
/// no request reaches them (they are never listed, served, replaced or deleted).
pub const TEMP_SUFFIX: &str = ".uhttpd-tmp";

/// True for a name that only an upload in progress may use.
pub fn is_reserved_name(name: &str) -> bool {
    name.ends_with(TEMP_SUFFIX)
}

/// True when any component of `vpath` is a reserved name.
pub(crate) fn names_reserved(vpath: &VirtualPath) -> bool {
    vpath.components().any(is_reserved_name)
}

/// The host directory that plays the device's `/`, and where external storage
/// is mounted in it.
#[derive(Clone, Debug)]
pub struct DeviceFs {
    root: PathBuf,
    /// `root` opened as a directory handle to resolve beneath; reopened when
    /// the directory at `root` is replaced (a deploy that swaps it).
    root_dir: Arc<RwLock<Arc<OwnedFd>>>,
    ext: Option<VirtualPath>,
    changes: Changes,
}

/// Counts the changes this server made beneath root (uploads landed, files
/// and trees deleted, directories made), so that what was opened before one
/// is known to predate it (the file server's open-file cache).
#[derive(Clone, Debug, Default)]
pub(crate) struct Changes(Arc<AtomicU64>);

impl Changes {
    /// One more change, made already: whoever reads the count after this
    /// and then opens a file sees the change.
    pub(crate) fn record(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }

    fn count(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// A handle on a directory to resolve beneath (O_PATH: not for reading it).
fn open_dir_handle(dir: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// What a name beneath root is, links inside root followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File {
        size: u64,
    },
    Dir,
    /// A FIFO, socket or device: never opened, listed or served.
    Special,
}

/// What a name beneath root is, and its modification time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    /// Seconds since the Unix epoch.
    pub mtime: i64,
}

impl EntryKind {
    fn of(stat: &Stat) -> EntryKind {
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => EntryKind::File {
                size: stat.st_size as u64,
            },
            FileType::Directory => EntryKind::Dir,
            _ => EntryKind::Special,
        }
    }
}

impl DeviceFs {
    /// `root` must exist and be a directory (canonicalized here); `ext` like
    /// "/sd" (parsed with from_device, must not be root; kept as a directory).
    pub fn new(root: &Path, ext: Option<&str>) -> io::Result<DeviceFs> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("root {} is not a directory", root.display()),
            ));
        }
        let ext = match ext {
            None => None,
            Some(e) => {
                let v = VirtualPath::from_device(e).map_err(|err| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("invalid ext path {e:?}: {err:?}"),
                    )
                })?;
                if v.is_root() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "ext must not be the root directory",
                    ));
                }
                Some(v.as_dir())
            }
        };
        let root_dir = Arc::new(RwLock::new(Arc::new(open_dir_handle(&root)?)));
        Ok(DeviceFs {
            root,
            root_dir,
            ext,
            changes: Changes::default(),
        })
    }

    /// How many changes this server made beneath root so far: uploads
    /// landed, files and trees deleted, directories made.
    pub fn changes(&self) -> u64 {
        self.changes.count()
    }

    /// Where the changes this server makes beneath root are counted.
    pub(crate) fn change_log(&self) -> &Changes {
        &self.changes
    }

    /// The host directory playing the device's `/` (canonicalized).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where external storage is mounted (`/sd`), if any.
    pub fn ext(&self) -> Option<&VirtualPath> {
        self.ext.as_ref()
    }

    /// Opens `vpath` with `flags`, the kernel keeping the whole resolution
    /// beneath root (`openat2` with `RESOLVE_BENEATH`): links inside root are
    /// followed, any step that leaves root fails. Where the kernel refuses
    /// what the component walk of [`DeviceFs::resolve`] allows (an absolute
    /// symlink that points back into root), the walk finds the link-free path
    /// and the kernel opens exactly that, following no link at all
    /// (`RESOLVE_NO_SYMLINKS`), so a link swapped in meanwhile fails the open.
    /// Reserved names (temporary uploads) are `NotFound`.
    pub fn open(&self, vpath: &VirtualPath, flags: OFlags) -> Result<OwnedFd, PathError> {
        if names_reserved(vpath) {
            return Err(PathError::NotFound);
        }
        let relative = if vpath.is_root() {
            "."
        } else {
            vpath.relative()
        };
        let flags = flags | OFlags::CLOEXEC;
        if !linux_fast_paths() {
            return self.open_walked(vpath, flags);
        }
        let beneath = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        // Root itself always opens from the handle: see whether it is still root.
        let root_dir = self.root_handle_checked(vpath.is_root())?;
        let opened = match openat2_retry(&root_dir, relative, flags, beneath) {
            Err(Errno::NOENT) if self.root_replaced(&root_dir) => {
                openat2_retry(&*self.reopen_root()?, relative, flags, beneath)
            }
            other => other,
        };
        match opened {
            Ok(fd) => Ok(fd),
            Err(Errno::NOENT | Errno::NOTDIR | Errno::ACCESS | Errno::PERM | Errno::NXIO) => {
                Err(PathError::NotFound)
            }
            // EXDEV: an absolute link, or one leaving root; ELOOP: a loop;
            // ENOSYS: no openat2. The walk decides.
            Err(_) => self.open_walked(vpath, flags),
        }
    }

    /// The component walk of [`DeviceFs::resolve`] finds the link-free path;
    /// then exactly that path is opened following no link at all, so a link
    /// swapped in meanwhile fails the open: with `openat2(RESOLVE_NO_SYMLINKS)`
    /// on Linux, one `openat(O_NOFOLLOW)` per component elsewhere.
    fn open_walked(&self, vpath: &VirtualPath, flags: OFlags) -> Result<OwnedFd, PathError> {
        let root = self.root_handle_checked(vpath.is_root())?;
        let host = self.resolve(vpath)?;
        let relative = match host.strip_prefix(&self.root) {
            Ok(r) if r.as_os_str().is_empty() => Path::new("."),
            Ok(r) => r,
            Err(_) => return Err(PathError::NotFound),
        };
        if linux_fast_paths() {
            let strict = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS;
            if let Ok(fd) = openat2_retry(&root, relative, flags, strict) {
                return Ok(fd);
            }
        }
        open_without_links(&root, relative, flags).map_err(|_| PathError::NotFound)
    }

    fn root_handle(&self) -> Arc<OwnedFd> {
        self.root_dir
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The root handle; with `check`, first made sure it still names the
    /// directory at `root` (reopened when that was replaced).
    fn root_handle_checked(&self, check: bool) -> Result<Arc<OwnedFd>, PathError> {
        let held = self.root_handle();
        if check && self.root_replaced(&held) {
            return self.reopen_root();
        }
        Ok(held)
    }

    /// Opens the directory at `root` anew and keeps it as the root handle
    /// (a deploy that swapped the directory).
    fn reopen_root(&self) -> Result<Arc<OwnedFd>, PathError> {
        let fresh = Arc::new(open_dir_handle(&self.root).map_err(|_| PathError::NotFound)?);
        *self.root_dir.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        Ok(fresh)
    }

    /// Opens an existing regular file or directory for reading. FIFOs,
    /// sockets and devices are `NotFound`: the open does not wait for a
    /// writer (`O_NONBLOCK`), and the type is checked on the descriptor.
    pub fn open_read(&self, vpath: &VirtualPath) -> Result<File, PathError> {
        self.open_read_with_metadata(vpath).map(|(file, _)| file)
    }

    /// [`DeviceFs::open_read`] with the metadata the type check read (one
    /// `fstat` per file served).
    pub fn open_read_with_metadata(
        &self,
        vpath: &VirtualPath,
    ) -> Result<(File, std::fs::Metadata), PathError> {
        let fd = self.open(vpath, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY)?;
        let file = File::from(fd);
        let meta = file.metadata().map_err(|_| PathError::NotFound)?;
        if meta.is_file() || meta.is_dir() {
            Ok((file, meta))
        } else {
            Err(PathError::NotFound)
        }
    }

    /// What `vpath` is and when it was last modified, without opening it
    /// for reading (`O_PATH`).
    pub fn entry(&self, vpath: &VirtualPath) -> Result<Entry, PathError> {
        let fd = self.open(vpath, OFlags::PATH)?;
        let stat = rustix::fs::fstat(&fd).map_err(|_| PathError::NotFound)?;
        Ok(Entry {
            kind: EntryKind::of(&stat),
            mtime: stat.st_mtime,
        })
    }

    /// The directory `vpath`, opened for reading and for `*at` calls.
    pub fn open_dir(&self, vpath: &VirtualPath) -> Result<OwnedFd, PathError> {
        self.open(vpath, OFlags::RDONLY | OFlags::DIRECTORY)
    }

    /// True when `root` no longer names the directory `handle` holds.
    fn root_replaced(&self, handle: &OwnedFd) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (rustix::fs::fstat(handle), std::fs::metadata(&self.root)) {
            (Ok(held), Ok(now)) => (held.st_dev, held.st_ino) != (now.dev(), now.ino()),
            _ => true,
        }
    }

    /// The host path for `vpath`, checking every existing prefix for symlinks:
    /// a symlink (at any depth, including the final component) is followed only
    /// if its canonical target is still under root; otherwise `NotFound`.
    /// Components that do not exist yet (an upload target, a mkdir) are joined
    /// as they are. Existing symlinks are replaced by their canonical target, so
    /// the result never contains a link. Never returns a path outside root.
    ///
    /// Only a judge: nothing opens the path it returns, it is reopened with
    /// `RESOLVE_NO_SYMLINKS` (see [`DeviceFs::open`]).
    pub fn resolve(&self, vpath: &VirtualPath) -> Result<PathBuf, PathError> {
        let mut host = self.root.clone();
        let mut rest = vpath.components();
        for name in rest.by_ref() {
            let candidate = host.join(name);
            match std::fs::symlink_metadata(&candidate) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    // canonicalize fails on dangling links and loops: both NotFound.
                    let target = candidate.canonicalize().map_err(|_| PathError::NotFound)?;
                    if !target.starts_with(&self.root) {
                        return Err(PathError::NotFound);
                    }
                    host = target;
                }
                Ok(_) => host = candidate,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // Nothing below a missing name can exist, hence no link to check.
                    host = candidate;
                    break;
                }
                // Below a regular file (ENOTDIR), or unreadable: cannot vouch for it.
                Err(_) => return Err(PathError::NotFound),
            }
        }
        host.extend(rest);
        // Redundant by construction; kept so a future bug fails closed.
        if !host.starts_with(&self.root) {
            return Err(PathError::NotFound);
        }
        Ok(host)
    }
}

/// Opens `relative` (a link-free path) beneath `root` one component at a
/// time, each with `O_NOFOLLOW`: the portable twin of `RESOLVE_NO_SYMLINKS`.
fn open_without_links(root: &OwnedFd, relative: &Path, flags: OFlags) -> Result<OwnedFd, Errno> {
    let names: Vec<_> = relative
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect();
    let Some((last, dirs)) = names.split_last() else {
        return rustix::fs::openat(root, ".", flags, Mode::empty());
    };
    let through = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut dir = rustix::fs::openat(root, ".", through, Mode::empty())?;
    for name in dirs {
        dir = rustix::fs::openat(&dir, *name, through, Mode::empty())?;
    }
    rustix::fs::openat(&dir, *last, flags | OFlags::NOFOLLOW, Mode::empty())
}

/// `openat2`, tried again when the kernel reports a concurrent rename
/// (EAGAIN: it cannot vouch for the resolution this time).
fn openat2_retry<P: rustix::path::Arg + Copy>(
    dir: &OwnedFd,
    relative: P,
    flags: OFlags,
    resolve: ResolveFlags,
) -> Result<OwnedFd, Errno> {
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(dir.as_fd(), relative, flags, Mode::empty(), resolve) {
            Err(Errno::AGAIN) if tries < 8 => tries += 1,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::path::tests::corpus;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A scratch directory with `root/` (the device) and `outside/secret` beside it.
    struct Scratch {
        base: PathBuf,
    }

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let base =
                std::env::temp_dir().join(format!("uhttpd-fs-{}-{tag}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&base);
            std::fs::create_dir_all(base.join("root/www/data")).unwrap();
            std::fs::create_dir_all(base.join("root/a/b/c")).unwrap();
            std::fs::create_dir_all(base.join("outside/deeper")).unwrap();
            std::fs::write(base.join("outside/secret"), "secret").unwrap();
            std::fs::write(base.join("root/a/file.txt"), "hello").unwrap();
            std::fs::write(base.join("root/www/data/index.html"), "<p>").unwrap();
            Scratch { base }
        }

        fn root(&self) -> PathBuf {
            self.base.join("root")
        }

        fn fs(&self) -> DeviceFs {
            DeviceFs::new(&self.root(), Some("/sd")).unwrap()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            // remove_dir_all removes links, never what they point to.
            let _ = std::fs::remove_dir_all(&self.base);
        }
    }

    /// Where `p` really is: its deepest existing ancestor with every link followed,
    /// so a result that is under root only by its spelling is caught.
    fn real_location(p: &Path) -> PathBuf {
        p.ancestors().find_map(|a| a.canonicalize().ok()).unwrap()
    }

    fn resolve(fs: &DeviceFs, path: &str) -> Result<PathBuf, PathError> {
        fs.resolve(&VirtualPath::from_url(path)?)
    }

    #[test]
    fn new_checks_root_and_ext() {
        let s = Scratch::new("new");
        let fs = DeviceFs::new(&s.root().join("a/../www/./"), None).unwrap();
        assert_eq!(fs.root(), s.root().join("www").canonicalize().unwrap());
        assert_eq!(fs.ext(), None);
        let fs = DeviceFs::new(&s.root(), Some("sd")).unwrap();
        assert_eq!(fs.ext().unwrap().to_string(), "/sd/");
        assert!(DeviceFs::new(&s.root().join("missing"), None).is_err());
        assert!(DeviceFs::new(&s.root().join("a/file.txt"), None).is_err());
        for bad in ["/", "", "..", "/../sd", "/sd\\x", "C:"] {
            let e = DeviceFs::new(&s.root(), Some(bad)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn resolves_plain_paths() {
        let s = Scratch::new("plain");
        let fs = s.fs();
        let root = fs.root().to_path_buf();
        assert_eq!(resolve(&fs, "/"), Ok(root.clone()));
        assert_eq!(resolve(&fs, "/a/file.txt"), Ok(root.join("a/file.txt")));
        assert_eq!(resolve(&fs, "/www/data/"), Ok(root.join("www/data")));
        let index = VirtualPath::from_url("/index.html").unwrap();
        let base = VirtualPath::from_device("/www/data").unwrap();
        assert_eq!(
            fs.resolve(&index.within(&base)),
            Ok(root.join("www/data/index.html"))
        );
        assert_eq!(
            std::fs::read_to_string(resolve(&fs, "/a/file.txt").unwrap()).unwrap(),
            "hello"
        );
    }

    #[test]
    fn missing_components_are_joined() {
        let s = Scratch::new("missing");
        let fs = s.fs();
        let root = fs.root().to_path_buf();
        assert_eq!(resolve(&fs, "/a/new.txt"), Ok(root.join("a/new.txt")));
        assert_eq!(resolve(&fs, "/new/dir/x/"), Ok(root.join("new/dir/x")));
        assert_eq!(
            resolve(&fs, "/sd/upload.bin"),
            Ok(root.join("sd/upload.bin"))
        );
        // Below a regular file nothing can exist.
        assert_eq!(resolve(&fs, "/a/file.txt/x"), Err(PathError::NotFound));
        assert_eq!(resolve(&fs, "/a/file.txt/x/y"), Err(PathError::NotFound));
    }

    #[cfg(unix)]
    #[test]
    fn open_read_stays_beneath_root_and_agrees_with_the_walk() {
        use std::io::Read;
        use std::os::unix::fs::symlink;
        let s = Scratch::new("open-read");
        let r = s.root();
        symlink(r.join("a/file.txt"), r.join("abs-link")).unwrap();
        symlink("a/file.txt", r.join("rel-link")).unwrap();
        symlink("/etc/passwd", r.join("out-abs")).unwrap();
        symlink("../../../../../../etc/passwd", r.join("out-rel")).unwrap();
        let fs = s.fs();
        let read = |p: &str| {
            let mut text = String::new();
            fs.open_read(&VirtualPath::from_device(p).unwrap())
                .map(|mut f| f.read_to_string(&mut text).map(|_| text))
        };
        assert_eq!(read("/a/file.txt").unwrap().unwrap(), "hello");
        // The kernel refuses absolute links; the component walk allows this one.
        assert_eq!(read("/abs-link").unwrap().unwrap(), "hello");
        assert_eq!(read("/rel-link").unwrap().unwrap(), "hello");
        assert_eq!(read("/out-abs").err(), Some(PathError::NotFound));
        assert_eq!(read("/out-rel").err(), Some(PathError::NotFound));
        assert_eq!(read("/missing").err(), Some(PathError::NotFound));
        assert!(
            fs.open_read(&VirtualPath::root()).is_ok(),
            "root opens as a directory"
        );
    }

    #[test]
    fn only_regular_files_and_directories_open_for_reading() {
        let s = Scratch::new("special");
        let fifo =
            std::ffi::CString::new(s.root().join("pipe").into_os_string().into_encoded_bytes())
                .unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let _socket = std::os::unix::net::UnixListener::bind(s.root().join("sock")).unwrap();
        std::os::unix::fs::symlink("pipe", s.root().join("to-pipe")).unwrap();
        let fs = s.fs();
        let v = |p: &str| VirtualPath::from_device(p).unwrap();
        // Returns at once: the open never waits for a writer to appear.
        for name in ["/pipe", "/sock", "/to-pipe"] {
            assert_eq!(
                fs.open_read(&v(name)).err(),
                Some(PathError::NotFound),
                "{name}"
            );
            assert_eq!(
                fs.entry(&v(name)).map(|e| e.kind),
                Ok(EntryKind::Special),
                "{name}"
            );
        }
        assert_eq!(
            fs.entry(&v("/a/file.txt")).map(|e| e.kind),
            Ok(EntryKind::File { size: 5 })
        );
        assert_eq!(fs.entry(&v("/a/")).map(|e| e.kind), Ok(EntryKind::Dir));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_inside_root_are_followed() {
        use std::os::unix::fs::symlink;
        let s = Scratch::new("inside");
        let r = s.root();
        symlink(r.join("a/file.txt"), r.join("abs-link")).unwrap();
        symlink("a/file.txt", r.join("rel-link")).unwrap();
        symlink("www/data", r.join("site")).unwrap();
        symlink("..", r.join("a/up")).unwrap();
        symlink(&r, r.join("self")).unwrap();
        symlink("rel-link", r.join("chain1")).unwrap();
        symlink("chain1", r.join("chain2")).unwrap();
        let fs = s.fs();
        let root = fs.root().to_path_buf();
        let file = root.join("a/file.txt");
        assert_eq!(resolve(&fs, "/abs-link"), Ok(file.clone()));
        assert_eq!(resolve(&fs, "/rel-link"), Ok(file.clone()));
        assert_eq!(resolve(&fs, "/chain2"), Ok(file.clone()));
        assert_eq!(
            resolve(&fs, "/site/index.html"),
            Ok(root.join("www/data/index.html"))
        );
        assert_eq!(
            resolve(&fs, "/site/new.txt"),
            Ok(root.join("www/data/new.txt"))
        );
        assert_eq!(resolve(&fs, "/a/up/a/file.txt"), Ok(file.clone()));
        assert_eq!(resolve(&fs, "/a/up"), Ok(root.clone()));
        assert_eq!(resolve(&fs, "/self/self/a/file.txt"), Ok(file));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_leaving_root_are_not_found() {
        use std::os::unix::fs::symlink;
        let s = Scratch::new("outside");
        let r = s.root();
        let out = s.base.join("outside");
        symlink("/etc", r.join("etc")).unwrap();
        symlink("/etc/passwd", r.join("passwd")).unwrap();
        symlink("/", r.join("slash")).unwrap();
        symlink(&out, r.join("out")).unwrap();
        symlink("../outside/secret", r.join("a/secret")).unwrap();
        symlink("../../../outside", r.join("a/b/esc")).unwrap();
        symlink("..", r.join("up")).unwrap();
        // A chain that starts and continues inside root but ends outside.
        symlink("hop2", r.join("hop1")).unwrap();
        symlink("a/secret", r.join("hop2")).unwrap();
        symlink("nowhere", r.join("dangling")).unwrap();
        symlink(r.join("a/missing/deeper"), r.join("dangling-abs")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        // A link inside a linked directory that itself stays inside.
        symlink("../../outside", r.join("www/data/leak")).unwrap();
        symlink("www", r.join("w")).unwrap();
        let fs = s.fs();
        for path in [
            "/etc",
            "/etc/",
            "/etc/passwd",
            "/passwd",
            "/slash",
            "/slash/etc/passwd",
            "/out",
            "/out/",
            "/out/secret",
            "/out/deeper/",
            "/out/new-upload.txt",
            "/out/new/dir/",
            "/a/secret",
            "/a/b/esc/secret",
            "/a/b/esc/x/y",
            "/up",
            "/up/outside/secret",
            "/up/root/a/file.txt",
            "/hop1",
            "/dangling",
            "/dangling/x",
            "/dangling-abs",
            "/loop1",
            "/loop2/x",
            "/www/data/leak/secret",
            "/w/data/leak/secret",
            "/w/data/leak/",
        ] {
            assert_eq!(resolve(&fs, path), Err(PathError::NotFound), "{path}");
        }
        // The links themselves are untouched and the secret is still there.
        assert!(std::fs::symlink_metadata(r.join("out"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            std::fs::read_to_string(out.join("secret")).unwrap(),
            "secret"
        );
    }

    #[cfg(unix)]
    #[test]
    fn root_reached_through_a_symlink() {
        use std::os::unix::fs::symlink;
        let s = Scratch::new("linked-root");
        symlink(s.root(), s.base.join("alias")).unwrap();
        let fs = DeviceFs::new(&s.base.join("alias"), None).unwrap();
        assert_eq!(fs.root(), s.root().canonicalize().unwrap());
        assert_eq!(
            resolve(&fs, "/a/file.txt"),
            Ok(fs.root().join("a/file.txt"))
        );
    }

    #[test]
    fn corpus_never_resolves_outside_root() {
        let s = Scratch::new("corpus");
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink(s.base.join("outside"), s.root().join("out")).unwrap();
            symlink("..", s.root().join("a/b/c/up")).unwrap();
        }
        let fs = s.fs();
        let root = fs.root().to_path_buf();
        let bases = [
            VirtualPath::root(),
            VirtualPath::from_device("/www/data").unwrap(),
            VirtualPath::from_device("/a/b/c/up").unwrap(),
            fs.ext().unwrap().clone(),
        ];
        let mut resolved = 0;
        for (raw, _) in corpus() {
            let Ok(v) = VirtualPath::from_url(&raw) else {
                continue;
            };
            for base in &bases {
                let full = v.within(base);
                match fs.resolve(&full) {
                    Ok(p) => {
                        assert!(p.starts_with(&root), "{raw:?} in {base} -> {}", p.display());
                        let real = real_location(&p);
                        assert!(
                            real.starts_with(&root),
                            "{raw:?} in {base} -> {}",
                            real.display()
                        );
                        resolved += 1;
                    }
                    Err(e) => {
                        assert_eq!(e, PathError::NotFound, "{raw:?} in {base}");
                        #[cfg(unix)]
                        {
                            let leaves =
                                full.starts_with(&VirtualPath::from_device("/out").unwrap());
                            let below_file = full
                                .components()
                                .collect::<Vec<_>>()
                                .windows(2)
                                .any(|w| w == ["a", "file.txt"]);
                            assert!(leaves || below_file, "{raw:?} in {base}");
                        }
                    }
                }
            }
        }
        assert!(resolved > 1000, "{resolved}");
    }
}
