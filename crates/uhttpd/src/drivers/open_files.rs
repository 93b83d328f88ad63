//! The file server's open-file cache, after nginx's `open_file_cache`: a
//! regular file opened for one request (beneath root, by the kernel) is kept
//! open with its metadata, its validators and its type, and the requests for
//! the same device path that follow within [`Limits::open_file_valid`] use it.
//! A small file then costs an `fstat`, a `pread` and the reply's write instead
//! of `openat2`, `fstat`, `pread`, `close` and the write.
//!
//! The `fstat` on the kept descriptor sees at once every change of the file
//! itself: its bytes, size or times, its mode, and its names (a file renamed
//! over, or removed, changes the inode's change time): any such change and
//! the path is opened anew. What it cannot see is a change elsewhere on the
//! path while the file itself stays as it was: a directory on the way renamed
//! or replaced, a link on the way swapped, a name given to another file while
//! the old one keeps a name elsewhere. That is the trade-off, nginx's: such a
//! change made behind the server's back is seen at most `open_file_valid`
//! late (100 ms by default), the file as it was meanwhile. Never anything a
//! confined open did not open, since every entry comes from one, and never
//! for longer than the bound, since an entry older than that is opened anew
//! first. Changes the server makes itself (uploads, deletes, directories made,
//! WebREPL transfers) count in [`DeviceFs::changes`], and an entry from before
//! one is never used. The file ACL is asked on every request all the same:
//! only the open is cached, never a decision.
//!
//! [`Limits::open_file_valid`]: crate::Limits::open_file_valid

use std::fs::{File, Metadata};
use std::hash::{BuildHasher, RandomState};
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::Bytes;

use crate::fs::{DeviceFs, VirtualPath};

/// A regular file opened beneath root, with what every reply of it needs.
#[derive(Debug)]
pub struct OpenFile {
    pub file: File,
    pub meta: Metadata,
    pub validators: Validators,
    /// The type its own name says (a `.gz` twin's reply takes its plain name's).
    pub mime: Bytes,
}

/// `ETag` and `Last-Modified`, as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validators {
    pub etag: Bytes,
    pub last_modified: Bytes,
}

/// The `ETag` of a file as GET sends it: its size and modification time
/// (what the uploader's `If-Match` compares with, too).
pub(crate) fn etag(meta: &Metadata) -> String {
    let nanos = meta
        .modified()
        .unwrap_or(UNIX_EPOCH)
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("\"{:x}-{:x}\"", meta.len(), nanos)
}

impl Validators {
    fn of(meta: &Metadata) -> Validators {
        let modified = meta.modified().unwrap_or(UNIX_EPOCH);
        Validators {
            etag: etag(meta).into(),
            last_modified: httpdate::fmt_http_date(modified).into(),
        }
    }

    /// The ETag as text (it is ASCII: made here).
    pub fn etag_text(&self) -> &str {
        std::str::from_utf8(&self.etag).unwrap_or_default()
    }

    /// `Last-Modified` as text (ASCII: made here).
    pub fn last_modified_text(&self) -> &str {
        std::str::from_utf8(&self.last_modified).unwrap_or_default()
    }
}

/// True when `now` (a stat of the same descriptor) shows no change since
/// `then`: the change time moves with every change of the inode (its bytes,
/// times, mode, links), the size and modification time too; the link count
/// tells a file renamed over or removed even within one tick of the clock
/// the kernel stamps times with.
fn unchanged(then: &Metadata, now: &Metadata) -> bool {
    let version = |m: &Metadata| {
        (
            m.size(),
            m.nlink(),
            (m.mtime(), m.mtime_nsec()),
            (m.ctime(), m.ctime_nsec()),
        )
    };
    version(then) == version(now)
}

/// What the validators' text depends on: the size and the modification time.
fn same_version(a: &Metadata, b: &Metadata) -> bool {
    (a.len(), a.mtime(), a.mtime_nsec()) == (b.len(), b.mtime(), b.mtime_nsec())
}

/// The type of a file by its name's extension (`application/octet-stream`
/// when unknown), lowercase.
pub fn mime_of(vpath: &VirtualPath) -> Bytes {
    let guess = mime_guess::from_path(vpath.file_name().unwrap_or("")).first_raw();
    match guess {
        Some(mime) if mime.bytes().any(|b| b.is_ascii_uppercase()) => {
            Bytes::from(mime.to_ascii_lowercase())
        }
        Some(mime) => Bytes::from_static(mime.as_bytes()),
        None => Bytes::from_static(b"application/octet-stream"),
    }
}

/// What a device path opened to.
pub enum Opened {
    File(Arc<OpenFile>),
    /// A directory, opened for reading its entries (never cached).
    Dir(File),
}

/// One cached open.
struct Slot {
    /// The device path, relative to root (the key).
    path: Box<str>,
    file: Arc<OpenFile>,
    /// When the confined open that made this entry began.
    vouched: Instant,
    /// [`DeviceFs::changes`] then.
    changes: u64,
}

/// A fixed table of slots, a path's slot chosen by its hash; a path whose
/// slot is taken replaces the entry there. Bounded, no eviction bookkeeping;
/// the worst case (hot paths sharing a slot) is an open per request, as
/// without a cache.
pub struct OpenFiles {
    slots: Mutex<Box<[Option<Slot>]>>,
    valid: Duration,
    hasher: RandomState,
}

impl OpenFiles {
    /// A cache of `entries` files (0: none), each used for at most `valid`
    /// after the open that made it.
    pub fn new(entries: usize, valid: Duration) -> OpenFiles {
        OpenFiles {
            slots: Mutex::new((0..entries).map(|_| None).collect()),
            valid,
            hasher: RandomState::new(),
        }
    }

    /// `vpath` opened for reading beneath root: a regular file (the cached
    /// open when one vouches for it) or a directory; `None` for anything
    /// else, or nothing.
    pub fn open(&self, fs: &DeviceFs, vpath: &VirtualPath) -> Option<Opened> {
        let key = vpath.relative();
        if let Some(file) = self.lookup(fs, key) {
            return Some(Opened::File(file));
        }
        let (vouched, changes) = (Instant::now(), fs.changes());
        let (file, meta) = fs.open_read_with_metadata(vpath).ok()?;
        if meta.is_dir() {
            return Some(Opened::Dir(file));
        }
        Some(Opened::File(
            self.keep(key, vpath, file, meta, vouched, changes),
        ))
    }

    fn slot_of(&self, key: &str, slots: usize) -> usize {
        // The remainder is below `slots`, a usize.
        (self.hasher.hash_one(key) % slots as u64) as usize
    }

    /// The kept open of `key`, if one vouches for it: made less than
    /// `valid` ago, before no change of the server's, and its file unchanged
    /// since.
    fn lookup(&self, fs: &DeviceFs, key: &str) -> Option<Arc<OpenFile>> {
        let now = Instant::now();
        let changes = fs.changes();
        let kept = {
            let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            if slots.is_empty() {
                return None;
            }
            let slot = slots[self.slot_of(key, slots.len())].as_ref()?;
            let fresh = now.saturating_duration_since(slot.vouched) < self.valid;
            (fresh && slot.changes == changes && *slot.path == *key).then(|| slot.file.clone())?
        };
        let now = kept.file.metadata().ok()?;
        unchanged(&kept.meta, &now).then_some(kept)
    }

    /// Wraps what an open found and keeps it; the validators and type of
    /// the entry it replaces are reused when they still hold.
    fn keep(
        &self,
        key: &str,
        vpath: &VirtualPath,
        file: File,
        meta: Metadata,
        vouched: Instant,
        changes: u64,
    ) -> Arc<OpenFile> {
        let previous = {
            let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            match slots.len() {
                0 => None,
                n => slots[self.slot_of(key, n)]
                    .as_ref()
                    .filter(|slot| *slot.path == *key)
                    .map(|slot| slot.file.clone()),
            }
        };
        let (validators, mime) = match previous {
            Some(old) if same_version(&old.meta, &meta) => {
                (old.validators.clone(), old.mime.clone())
            }
            _ => (Validators::of(&meta), mime_of(vpath)),
        };
        let opened = Arc::new(OpenFile {
            file,
            meta,
            validators,
            mime,
        });
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if !slots.is_empty() {
            let i = self.slot_of(key, slots.len());
            // A newer open of the same path, kept meanwhile, stays.
            let newer = slots[i]
                .as_ref()
                .is_some_and(|slot| *slot.path == *key && slot.vouched > vouched);
            if !newer {
                slots[i] = Some(Slot {
                    path: key.into(),
                    file: opened.clone(),
                    vouched,
                    changes,
                });
            }
        }
        opened
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;
    use std::path::PathBuf;

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let dir = std::env::temp_dir()
                .join(format!("uhttpd-open-files-{}-{tag}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("d")).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn v(path: &str) -> VirtualPath {
        VirtualPath::from_device(path).unwrap()
    }

    fn text(opened: Option<Opened>) -> String {
        let Some(Opened::File(file)) = opened else {
            panic!("not a file");
        };
        // At an offset: the descriptor is shared, its position never moves.
        let mut bytes = vec![0; file.meta.len() as usize];
        file.file.read_exact_at(&mut bytes, 0).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    const LONG: Duration = Duration::from_secs(3600);

    /// Replaces the directory `d` (with `d/a.txt` in it) by a new one with
    /// `text` in `d/a.txt`: the kept file itself does not change.
    fn swap_dir(s: &Scratch, text: &str) {
        let _ = std::fs::remove_dir_all(s.0.join("old"));
        std::fs::rename(s.0.join("d"), s.0.join("old")).unwrap();
        std::fs::create_dir(s.0.join("d")).unwrap();
        std::fs::write(s.0.join("d/a.txt"), text).unwrap();
    }

    #[test]
    fn a_change_elsewhere_on_the_path_is_seen_once_valid_has_passed() {
        let s = Scratch::new("valid");
        std::fs::write(s.0.join("d/a.txt"), "one").unwrap();
        let fs = DeviceFs::new(&s.0, None).unwrap();
        let valid = Duration::from_millis(300);
        let cache = OpenFiles::new(8, valid);
        let opened = Instant::now();
        assert_eq!(text(cache.open(&fs, &v("/d/a.txt"))), "one");
        swap_dir(&s, "two");
        let within = text(cache.open(&fs, &v("/d/a.txt")));
        if opened.elapsed() < valid {
            assert_eq!(within, "one", "the kept open stands within the bound");
        }
        std::thread::sleep(valid);
        assert_eq!(text(cache.open(&fs, &v("/d/a.txt"))), "two");
    }

    #[test]
    fn a_change_of_the_file_itself_is_seen_at_once() {
        let s = Scratch::new("itself");
        std::fs::write(s.0.join("a.txt"), "one").unwrap();
        let fs = DeviceFs::new(&s.0, None).unwrap();
        let cache = OpenFiles::new(8, LONG);
        assert_eq!(text(cache.open(&fs, &v("/a.txt"))), "one");
        // In place: same inode, other bytes and size.
        std::fs::write(s.0.join("a.txt"), "two!").unwrap();
        assert_eq!(text(cache.open(&fs, &v("/a.txt"))), "two!");
        // Renamed over: the kept inode lost its name.
        std::fs::write(s.0.join("b.txt"), "three").unwrap();
        std::fs::rename(s.0.join("b.txt"), s.0.join("a.txt")).unwrap();
        assert_eq!(text(cache.open(&fs, &v("/a.txt"))), "three");
        std::fs::remove_file(s.0.join("a.txt")).unwrap();
        assert!(cache.open(&fs, &v("/a.txt")).is_none());
    }

    #[test]
    fn a_change_the_server_made_retires_every_entry() {
        let s = Scratch::new("changes");
        std::fs::write(s.0.join("d/a.txt"), "one").unwrap();
        let fs = DeviceFs::new(&s.0, None).unwrap();
        let cache = OpenFiles::new(8, LONG);
        assert_eq!(text(cache.open(&fs, &v("/d/a.txt"))), "one");
        std::fs::rename(s.0.join("d"), s.0.join("old")).unwrap();
        assert_eq!(text(cache.open(&fs, &v("/d/a.txt"))), "one");
        crate::fs::make_dir(&fs, &v("/new/")).unwrap();
        assert!(cache.open(&fs, &v("/d/a.txt")).is_none());
    }

    #[test]
    fn no_entries_no_cache_and_directories_are_never_kept() {
        let s = Scratch::new("none");
        std::fs::write(s.0.join("a.txt"), "one").unwrap();
        let fs = DeviceFs::new(&s.0, None).unwrap();
        let cache = OpenFiles::new(0, LONG);
        assert_eq!(text(cache.open(&fs, &v("/a.txt"))), "one");
        std::fs::remove_file(s.0.join("a.txt")).unwrap();
        assert!(cache.open(&fs, &v("/a.txt")).is_none());
        let cache = OpenFiles::new(8, LONG);
        assert!(matches!(cache.open(&fs, &v("/d/")), Some(Opened::Dir(_))));
        std::fs::remove_dir(s.0.join("d")).unwrap();
        assert!(cache.open(&fs, &v("/d/")).is_none());
    }

    #[test]
    fn the_table_holds_at_most_its_entries_and_every_path_reads_right() {
        let s = Scratch::new("bounded");
        let fs = DeviceFs::new(&s.0, None).unwrap();
        let cache = OpenFiles::new(4, LONG);
        for round in 0..2 {
            for i in 0..32 {
                let name = format!("f{i}");
                if round == 0 {
                    std::fs::write(s.0.join(&name), &name).unwrap();
                }
                assert_eq!(text(cache.open(&fs, &v(&name))), name);
            }
        }
        let slots = cache.slots.lock().unwrap();
        assert_eq!(slots.len(), 4);
        assert!(slots.iter().flatten().count() <= 4);
    }

    #[test]
    fn validators_and_type_are_kept_while_size_and_time_hold() {
        let s = Scratch::new("validators");
        std::fs::write(s.0.join("page.HTML"), "one").unwrap();
        let fs = DeviceFs::new(&s.0, None).unwrap();
        let cache = OpenFiles::new(8, Duration::ZERO);
        let open = || match cache.open(&fs, &v("/page.HTML")) {
            Some(Opened::File(file)) => file,
            _ => panic!(),
        };
        let (a, b) = (open(), open());
        assert!(!Arc::ptr_eq(&a, &b), "valid 0: every request opens");
        assert_eq!(a.validators, b.validators);
        assert_eq!(a.validators.etag.as_ptr(), b.validators.etag.as_ptr());
        assert_eq!(&a.mime[..], b"text/html");
        let modified = std::time::SystemTime::now() - Duration::from_secs(60);
        File::options()
            .write(true)
            .open(s.0.join("page.HTML"))
            .unwrap()
            .set_modified(modified)
            .unwrap();
        let c = open();
        assert_ne!(c.validators, a.validators);
        assert_eq!(c.validators, Validators::of(&c.meta));
    }
}
