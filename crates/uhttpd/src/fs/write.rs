//! Writes beneath root: uploads (a temporary file in the target's
//! directory, synced and renamed over the target), resumable uploads (a
//! partial file there, renamed over the target once whole), mkdir, delete and
//! move. Every write acts on one name inside a directory descriptor opened
//! beneath root (see [`DeviceFs::open`]): a local user swapping a directory for
//! a symlink cannot make it land outside, and no link is ever written, deleted
//! or moved through.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use sha2::{Digest, Sha256};

use super::device::{names_reserved, Changes, DeviceFs, TEMP_SUFFIX};
use super::path::VirtualPath;
use crate::platform::linux_fast_paths;

/// The status for a failed disk operation.
pub fn io_status(error: &io::Error) -> u16 {
    match error.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) | Some(libc::EFBIG) => 507,
        Some(libc::ENOTDIR) | Some(libc::EISDIR) | Some(libc::EEXIST) => 409,
        Some(libc::ENOTEMPTY) => 409,
        Some(libc::EROFS) | Some(libc::EACCES) | Some(libc::EPERM) => 403,
        Some(libc::ENOENT) => 404,
        _ => 500,
    }
}

/// The status for a failed system call on the disk.
fn errno_status(error: Errno) -> u16 {
    io_status(&error.into())
}

/// The directory `name` inside `parent`, opened for reading and `*at` calls,
/// never through a link (`O_NOFOLLOW`).
fn open_subdir<P: rustix::path::Arg>(parent: &OwnedFd, name: P) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// The directory `dir` (made with its missing parents, `mkdir -p`), opened
/// for `*at` calls, and whether anything was made. The deepest existing
/// directory on the way is opened beneath root; each missing one is made in
/// the one before and opened without following a link (`O_NOFOLLOW`), so a
/// link swapped in meanwhile fails instead of being followed.
fn make_dirs(fs: &DeviceFs, dir: &VirtualPath) -> Result<(OwnedFd, bool), u16> {
    let names: Vec<&str> = dir.components().collect();
    let mut existing = names.len();
    let mut fd = loop {
        match fs.open_dir(&dir.prefix(existing)) {
            Ok(fd) => break fd,
            Err(_) if existing > 0 => existing -= 1,
            Err(_) => return Err(404),
        }
    };
    for name in &names[existing..] {
        match rustix::fs::mkdirat(&fd, *name, Mode::from_raw_mode(0o777)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(errno_status(e)),
        }
        fd = open_subdir(&fd, *name).map_err(|e| {
            match rustix::fs::statat(&fd, *name, AtFlags::SYMLINK_NOFOLLOW) {
                // A link (one leading out of root, or swapped in meanwhile) is not followed.
                Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => 404,
                // A name taken by a file.
                _ if e == Errno::NOTDIR => 409,
                _ => errno_status(e),
            }
        })?;
    }
    Ok((fd, existing < names.len()))
}

/// Refuses writes to reserved names (temporary uploads): 403.
fn writable(vpath: &VirtualPath) -> Result<(), u16> {
    if names_reserved(vpath) {
        return Err(403);
    }
    Ok(())
}

/// `mkdir -p` for a path ending in `/`: 201 when made, 200 when it was there.
pub fn make_dir(fs: &DeviceFs, vpath: &VirtualPath) -> Result<u16, u16> {
    writable(vpath)?;
    let (_, made) = make_dirs(fs, vpath)?;
    if made {
        fs.change_log().record();
    }
    Ok(if made { 201 } else { 200 })
}

/// The directory holding `vpath` (opened beneath root) and its last name.
fn parent_and_name(fs: &DeviceFs, vpath: &VirtualPath) -> Result<(OwnedFd, String), u16> {
    let (Some(parent), Some(name)) = (vpath.parent(), vpath.file_name()) else {
        return Err(403);
    };
    let dir = fs.open_dir(&parent).map_err(|_| 404u16)?;
    Ok((dir, name.to_string()))
}

/// DELETE: a file, a symlink (the link itself, never its target), an empty
/// directory, or with `force` a whole tree. `acl` is asked (with the device
/// path, directories ending in `/`) about every entry a forced delete would
/// remove, before anything is removed; links inside are removed, never followed.
pub fn delete(
    fs: &DeviceFs,
    vpath: &VirtualPath,
    force: bool,
    acl: &dyn Fn(&str) -> Result<(), u16>,
) -> Result<u16, u16> {
    writable(vpath)?;
    let (dir, name) = parent_and_name(fs, vpath)?;
    let stat =
        rustix::fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW).map_err(errno_status)?;
    let is_dir = FileType::from_raw_mode(stat.st_mode) == FileType::Directory;
    if !is_dir {
        // `name/` must name a directory; a link to one is not.
        if vpath.is_dir() {
            return Err(404);
        }
        rustix::fs::unlinkat(&dir, name.as_str(), AtFlags::empty()).map_err(errno_status)?;
        fs.change_log().record();
        return Ok(204);
    }
    if force {
        // A device path component never holds NUL (`VirtualPath` refuses it).
        let name = CString::new(name).map_err(|_| 400u16)?;
        let tree = Tree::collect(&dir, name, vpath.as_dir().to_string(), &stat)?;
        tree.ask(acl)?;
        // Whatever the outcome, part of the tree may be gone.
        let removed = tree.remove(&dir);
        fs.change_log().record();
        removed?;
    } else {
        rustix::fs::unlinkat(&dir, name.as_str(), AtFlags::REMOVEDIR).map_err(errno_status)?;
        fs.change_log().record();
    }
    Ok(204)
}

/// Asks the file ACL about a device path (directories end with `/`): Ok, or
/// the status to answer with.
pub type AclAsk<'a> = &'a dyn Fn(&str) -> Result<(), u16>;

/// What a move did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moved {
    /// 201: the destination was new; 204: something there was replaced.
    pub status: u16,
    /// A directory moved (with everything in it).
    pub dir: bool,
}

/// MOVE (RFC 4918 §9.9): `from` renamed to `to` by one rename between
/// directory descriptors opened beneath root: a file, a link (the link
/// itself, never what it points to) or a directory with everything in it
/// (`name/` must be a directory). `to`'s parent must exist (else 409). An
/// existing `to` is 412 without `overwrite`; with it a file or an empty
/// directory there is replaced (204), while a non-empty directory, a
/// directory over a file or a file over a directory is 409, as `rename(2)`
/// has it. A directory into itself is 409; `from` and `to` naming the same
/// entry, or a reserved name, 403. `acl`, when given, is asked about every
/// entry inside a directory, with its old and its new path, before anything
/// moves: one refusal moves nothing.
pub fn move_entry(
    fs: &DeviceFs,
    from: &VirtualPath,
    to: &VirtualPath,
    overwrite: bool,
    acl: Option<AclAsk<'_>>,
) -> Result<Moved, u16> {
    writable(from)?;
    writable(to)?;
    if from.relative() == to.relative() {
        return Err(403);
    }
    if to.starts_with(from) {
        return Err(409);
    }
    let (from_dir, from_name) = parent_and_name(fs, from)?;
    let stat = rustix::fs::statat(&from_dir, from_name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(errno_status)?;
    let dir = FileType::from_raw_mode(stat.st_mode) == FileType::Directory;
    if from.is_dir() && !dir {
        // `name/` names a directory; a link to one is not.
        return Err(404);
    }
    if to.is_dir() && !dir {
        return Err(409);
    }
    // A destination whose parent is missing is a conflict (RFC 4918 §9.9.4).
    let (to_dir, to_name) =
        parent_and_name(fs, to).map_err(|code| if code == 404 { 409 } else { code })?;
    // The same entry by another way (a link on the way, a hard link).
    if let Ok(there) = rustix::fs::statat(&to_dir, to_name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
        if (there.st_dev, there.st_ino) == (stat.st_dev, stat.st_ino) {
            return Err(403);
        }
    }
    if let (true, Some(acl)) = (dir, acl) {
        // A device path component never holds NUL (`VirtualPath` refuses it).
        let name = CString::new(from_name.as_str()).map_err(|_| 400u16)?;
        let (old, new) = (from.as_dir().to_string(), to.as_dir().to_string());
        let tree = Tree::collect(&from_dir, name, old.clone(), &stat)?;
        tree.ask(&|path: &str| {
            acl(path)?;
            acl(&format!("{new}{}", &path[old.len()..]))
        })?;
    }
    let replaced = match rename_noreplace(&from_dir, &from_name, &to_dir, &to_name, dir) {
        Ok(()) => false,
        Err(Errno::EXIST) if overwrite => {
            rustix::fs::renameat(&from_dir, from_name.as_str(), &to_dir, to_name.as_str())
                .map_err(move_status)?;
            true
        }
        Err(Errno::EXIST) => return Err(412),
        Err(e) => return Err(move_status(e)),
    };
    fs.change_log().record();
    // Make the rename itself durable (best effort: not every filesystem can).
    let _ = rustix::fs::fsync(&from_dir);
    let _ = rustix::fs::fsync(&to_dir);
    Ok(Moved {
        status: if replaced { 204 } else { 201 },
        dir,
    })
}

/// The status for a failed rename.
fn move_status(error: Errno) -> u16 {
    match error {
        // A directory into itself (reached through a link), or a mount point.
        Errno::INVAL | Errno::BUSY => 409,
        // Another filesystem (an ext mount of its own): RFC 4918 §9.9.4's
        // "another repository".
        Errno::XDEV => 502,
        e => errno_status(e),
    }
}

/// Renames `from` to `to` unless `to` exists (then EEXIST): `renameat2`
/// with `RENAME_NOREPLACE`, or where that is not used or not supported
/// (see [`crate::platform`]), [`rename_noreplace_portably`].
fn rename_noreplace(
    from_dir: &OwnedFd,
    from: &str,
    to_dir: &OwnedFd,
    to: &str,
    dir: bool,
) -> Result<(), Errno> {
    if linux_fast_paths() {
        let flags = rustix::fs::RenameFlags::NOREPLACE;
        match rustix::fs::renameat_with(from_dir, from, to_dir, to, flags) {
            // A filesystem without the flag.
            Err(Errno::INVAL | Errno::NOSYS) => {}
            other => return other,
        }
    }
    rename_noreplace_portably(from_dir, from, to_dir, to, dir)
}

/// POSIX's way to a rename that replaces nothing: what is not a directory
/// gets a hard link at `to` (which fails if `to` exists), then loses its
/// old name. A directory, or a filesystem without hard links (FAT), is
/// looked for at `to` and then renamed: the one case that is not atomic,
/// where a file or an empty directory made at `to` in between is replaced.
fn rename_noreplace_portably(
    from_dir: &OwnedFd,
    from: &str,
    to_dir: &OwnedFd,
    to: &str,
    dir: bool,
) -> Result<(), Errno> {
    if !dir {
        // Without AT_SYMLINK_FOLLOW a link is linked itself, never its target.
        match rustix::fs::linkat(from_dir, from, to_dir, to, AtFlags::empty()) {
            Ok(()) => {
                return rustix::fs::unlinkat(from_dir, from, AtFlags::empty()).inspect_err(|_| {
                    let _ = rustix::fs::unlinkat(to_dir, to, AtFlags::empty());
                })
            }
            Err(Errno::EXIST) => return Err(Errno::EXIST),
            // No hard links here, or a failure the rename reports as well.
            Err(_) => {}
        }
    }
    match rustix::fs::statat(to_dir, to, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(_) => Err(Errno::EXIST),
        Err(Errno::NOENT) => rustix::fs::renameat(from_dir, from, to_dir, to),
        Err(e) => Err(e),
    }
}

/// A directory tree as it was when collected: what a forced delete removes,
/// what a move asks the ACL about.
struct Tree {
    /// The name in its parent, as the filesystem has it (not always UTF-8).
    name: CString,
    /// Device path for the ACL (directories end with `/`).
    path: String,
    /// The directory's identity: a directory swapped in after collection is not removed.
    id: (u64, u64),
    /// Entries that are not directories (files, links, others): name and device path.
    leaves: Vec<(CString, String)>,
    dirs: Vec<Tree>,
}

impl Tree {
    fn open(parent: &OwnedFd, name: &CStr) -> Result<OwnedFd, u16> {
        open_subdir(parent, name).map_err(|e| {
            if e == Errno::LOOP {
                409
            } else {
                errno_status(e)
            }
        })
    }

    fn collect(parent: &OwnedFd, name: CString, path: String, stat: &Stat) -> Result<Tree, u16> {
        let fd = Tree::open(parent, &name)?;
        let mut tree = Tree {
            name,
            path,
            id: (stat.st_dev, stat.st_ino),
            leaves: Vec::new(),
            dirs: Vec::new(),
        };
        let entries = rustix::fs::Dir::read_from(&fd).map_err(errno_status)?;
        for entry in entries {
            let entry = entry.map_err(errno_status)?;
            let raw = entry.file_name();
            if raw.to_bytes() == b"." || raw.to_bytes() == b".." {
                continue;
            }
            // The ACL is asked with the name as text; the syscalls use it as it is.
            let shown = raw.to_string_lossy();
            let child_stat =
                rustix::fs::statat(&fd, raw, AtFlags::SYMLINK_NOFOLLOW).map_err(errno_status)?;
            if FileType::from_raw_mode(child_stat.st_mode) == FileType::Directory {
                let child_path = format!("{}{shown}/", tree.path);
                let sub = Tree::collect(&fd, raw.to_owned(), child_path, &child_stat)?;
                tree.dirs.push(sub);
            } else {
                let child_path = format!("{}{shown}", tree.path);
                tree.leaves.push((raw.to_owned(), child_path));
            }
        }
        Ok(tree)
    }

    fn ask(&self, acl: &dyn Fn(&str) -> Result<(), u16>) -> Result<(), u16> {
        acl(&self.path)?;
        for (_, path) in &self.leaves {
            acl(path)?;
        }
        self.dirs.iter().try_for_each(|d| d.ask(acl))
    }

    /// Removes what was collected, bottom up, by name inside each directory
    /// descriptor; anything that appeared since makes the last rmdir fail (409).
    fn remove(&self, parent: &OwnedFd) -> Result<(), u16> {
        let fd = Tree::open(parent, &self.name)?;
        let stat = rustix::fs::fstat(&fd).map_err(errno_status)?;
        if (stat.st_dev, stat.st_ino) != self.id {
            return Err(409);
        }
        for (name, _) in &self.leaves {
            match rustix::fs::unlinkat(&fd, name.as_c_str(), AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => return Err(errno_status(e)),
            }
        }
        for dir in &self.dirs {
            dir.remove(&fd)?;
        }
        rustix::fs::unlinkat(parent, self.name.as_c_str(), AtFlags::REMOVEDIR).map_err(errno_status)
    }
}

/// A reserved name of 128 bits: `.<32 hex digits>.uhttpd-tmp`, the same
/// length whatever the target's name (so a target of 255 bytes still gets one).
fn reserved_name(bits: &[u8]) -> String {
    let hex: String = bits.iter().map(|b| format!("{b:02x}")).collect();
    format!(".{hex}{TEMP_SUFFIX}")
}

/// An unguessable temporary name: 128 random bits.
fn temp_name() -> Result<String, u16> {
    let mut bits = [0u8; 16];
    rustix::rand::getrandom(&mut bits, rustix::rand::GetRandomFlags::empty())
        .map_err(|_| 500u16)?;
    Ok(reserved_name(&bits))
}

/// Whether `name` in `dir` exists (an upload replaces it): never followed,
/// and a directory there is 409 (an upload does not replace one).
fn existing(dir: &OwnedFd, name: &str) -> Result<bool, u16> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory => Err(409),
        Ok(_) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(errno_status(e)),
    }
}

/// Renames the synced file `from` onto `to` in `dir`, atomically, and makes
/// the rename itself durable (best effort: not every filesystem can).
fn rename_into_place(dir: &OwnedFd, from: &str, to: &str, changes: &Changes) -> Result<(), u16> {
    rustix::fs::renameat(dir, from, dir, to).map_err(errno_status)?;
    changes.record();
    let _ = rustix::fs::fsync(dir);
    Ok(())
}

/// An upload renamed onto its target.
#[derive(Debug)]
pub struct Landed {
    /// 201 created, 204 replaced.
    pub status: u16,
    /// The file as it landed: its size and modification time make the `ETag`
    /// a GET of it sends, so the uploader can answer with it (an editor's next
    /// save is conditional on exactly what it wrote).
    pub meta: std::fs::Metadata,
}

impl Landed {
    /// Syncs `file` (named `from` in `dir`) and renames it over `to`.
    fn by_renaming(
        file: &File,
        dir: &OwnedFd,
        from: &str,
        to: &str,
        replaces: bool,
        changes: &Changes,
    ) -> Result<Landed, u16> {
        file.sync_all().map_err(|e| io_status(&e))?;
        let meta = file.metadata().map_err(|e| io_status(&e))?;
        rename_into_place(dir, from, to, changes)?;
        let status = if replaces { 204 } else { 201 };
        Ok(Landed { status, meta })
    }
}

/// An upload being written. Dropped before `commit`, it removes its temporary file.
#[derive(Debug)]
pub struct PendingUpload {
    file: Option<File>,
    /// The target's directory, opened beneath root when the upload began:
    /// the temporary file and the rename stay in it whatever happens to paths.
    dir: OwnedFd,
    temp: String,
    name: String,
    replaces: bool,
    changes: Changes,
}

impl PendingUpload {
    /// Makes the parents and the temporary file next to the target.
    pub fn begin(fs: &DeviceFs, vpath: &VirtualPath) -> Result<PendingUpload, u16> {
        writable(vpath)?;
        let (Some(parent), Some(name)) = (vpath.parent(), vpath.file_name()) else {
            return Err(403);
        };
        let (dir, _) = make_dirs(fs, &parent)?;
        // The name itself is never followed: the upload replaces whatever it is.
        let replaces = existing(&dir, name)?;
        let temp = temp_name()?;
        let fd = rustix::fs::openat(
            &dir,
            temp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o666),
        )
        .map_err(errno_status)?;
        Ok(PendingUpload {
            file: Some(File::from(fd)),
            dir,
            temp,
            name: name.to_string(),
            replaces,
            changes: fs.change_log().clone(),
        })
    }

    pub fn write(&mut self, data: &[u8]) -> Result<(), u16> {
        let file = self.file.as_mut().ok_or(500u16)?;
        file.write_all(data).map_err(|e| io_status(&e))
    }

    /// Syncs and renames over the target: 201 created, 204 replaced.
    pub fn commit(mut self) -> Result<Landed, u16> {
        let file = self.file.take().ok_or(500u16)?;
        let landed = Landed::by_renaming(
            &file,
            &self.dir,
            &self.temp,
            &self.name,
            self.replaces,
            &self.changes,
        )?;
        self.temp.clear();
        Ok(landed)
    }
}

impl Drop for PendingUpload {
    fn drop(&mut self) {
        if !self.temp.is_empty() {
            let _ = rustix::fs::unlinkat(&self.dir, self.temp.as_str(), AtFlags::empty());
        }
    }
}

/// Identifies a partial upload while the server runs: its directory (device
/// and inode) and its name there.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct PartialKey {
    dir: (u64, u64),
    name: String,
}

/// A resumable upload's partial file: what has arrived so far of a file of
/// known size, in the target's directory under a reserved name made from the
/// target's name and that size (`.<first 128 bits of sha-256("name/size")
/// in hex>.uhttpd-tmp`), so that pieces sent later, over other connections,
/// find it. Unlike a [`PendingUpload`]'s, its bytes stay when a piece is cut off.
#[derive(Debug)]
pub struct PartialUpload {
    /// The target's directory, opened beneath root.
    dir: OwnedFd,
    /// The target's name in `dir`.
    name: String,
    /// The partial's name in `dir`.
    partial: String,
    changes: Changes,
}

impl PartialUpload {
    /// The partial of `vpath` for a file of `total` bytes. With `create`
    /// the target's directory is made with its parents; without, `None`
    /// when it is not there (nothing can be held).
    pub fn find(
        fs: &DeviceFs,
        vpath: &VirtualPath,
        total: u64,
        create: bool,
    ) -> Result<Option<PartialUpload>, u16> {
        writable(vpath)?;
        let (Some(parent), Some(name)) = (vpath.parent(), vpath.file_name()) else {
            return Err(403);
        };
        let dir = if create {
            make_dirs(fs, &parent)?.0
        } else {
            match fs.open_dir(&parent) {
                Ok(dir) => dir,
                Err(_) => return Ok(None),
            }
        };
        existing(&dir, name)?;
        let named = Sha256::digest(format!("{name}/{total}"));
        Ok(Some(PartialUpload {
            dir,
            name: name.to_string(),
            partial: reserved_name(&named[..16]),
            changes: fs.change_log().clone(),
        }))
    }

    pub fn key(&self) -> Result<PartialKey, u16> {
        let stat = rustix::fs::fstat(&self.dir).map_err(errno_status)?;
        Ok(PartialKey {
            dir: (stat.st_dev, stat.st_ino),
            name: self.partial.clone(),
        })
    }

    /// The bytes it holds: 0 when there is no partial yet.
    pub fn held(&self) -> Result<u64, u16> {
        match rustix::fs::statat(&self.dir, self.partial.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile => {
                Ok(stat.st_size as u64)
            }
            Ok(_) => Err(409),
            Err(Errno::NOENT) => Ok(0),
            Err(e) => Err(errno_status(e)),
        }
    }

    /// Removes the reserved files of the directory untouched for `lifetime`:
    /// partial uploads given up on, and temporary files a crash left behind
    /// (one being written is touched at every piece). Links and directories
    /// are left alone; a failure only leaves a file for the next sweep.
    pub fn sweep(&self, lifetime: Duration) {
        let Ok(entries) = rustix::fs::Dir::read_from(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !name.to_bytes().ends_with(TEMP_SUFFIX.as_bytes()) {
                continue;
            }
            let Ok(stat) = rustix::fs::statat(&self.dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            let modified = u64::try_from(stat.st_mtime)
                .ok()
                .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)));
            let stale = modified
                .and_then(|modified| now.duration_since(modified).ok())
                .is_some_and(|idle| idle >= lifetime);
            if stale && FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile {
                let _ = rustix::fs::unlinkat(&self.dir, name, AtFlags::empty());
            }
        }
    }

    /// Opens the partial to append to it at `offset`, the bytes it holds
    /// (the caller checked); at 0 it is made, or emptied to start again.
    pub fn append_at(self, offset: u64) -> Result<PartialWriter, u16> {
        let mut flags = OFlags::RDWR | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        if offset == 0 {
            flags |= OFlags::CREATE | OFlags::TRUNC;
        }
        let fd = rustix::fs::openat(
            &self.dir,
            self.partial.as_str(),
            flags,
            Mode::from_raw_mode(0o666),
        )
        .map_err(errno_status)?;
        Ok(PartialWriter {
            file: File::from(fd),
            upload: self,
        })
    }
}

/// A partial upload open for appending. Dropped, it keeps what it holds.
#[derive(Debug)]
pub struct PartialWriter {
    file: File,
    upload: PartialUpload,
}

impl PartialWriter {
    pub fn write(&mut self, data: &[u8]) -> Result<(), u16> {
        self.file.write_all(data).map_err(|e| io_status(&e))
    }

    /// The bytes it holds now.
    pub fn held(&self) -> Result<u64, u16> {
        Ok(self.file.metadata().map_err(|e| io_status(&e))?.len())
    }

    /// The sha-256 of the first `len` bytes it holds.
    pub fn sha256(&self, len: u64) -> Result<[u8; 32], u16> {
        super::sha256_of(&self.file, len).map_err(|e| io_status(&e))
    }

    /// Syncs and renames onto the target: 201 created, 204 replaced.
    pub fn land(self) -> Result<Landed, u16> {
        let up = &self.upload;
        let replaces = existing(&up.dir, &up.name)?;
        Landed::by_renaming(
            &self.file,
            &up.dir,
            &up.partial,
            &up.name,
            replaces,
            &up.changes,
        )
    }

    /// Removes the partial: its bytes are not the file meant.
    pub fn discard(self) {
        let up = &self.upload;
        let _ = rustix::fs::unlinkat(&up.dir, up.partial.as_str(), AtFlags::empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::PathError;
    use std::path::PathBuf;

    #[test]
    fn disk_errors_map_to_statuses() {
        assert_eq!(io_status(&io::Error::from_raw_os_error(libc::ENOSPC)), 507);
        assert_eq!(io_status(&io::Error::from_raw_os_error(libc::EFBIG)), 507);
        assert_eq!(
            io_status(&io::Error::from_raw_os_error(libc::ENOTEMPTY)),
            409
        );
        assert_eq!(io_status(&io::Error::from_raw_os_error(libc::EIO)), 500);
    }

    /// A device root in a fresh directory, with `outside/` beside it.
    fn scratch(tag: &str) -> (PathBuf, DeviceFs) {
        let base = std::env::temp_dir().join(format!("uhttpd-upload-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("root")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::fs::write(base.join("outside/keep.txt"), "keep").unwrap();
        let fs = DeviceFs::new(&base.join("root"), None).unwrap();
        (base, fs)
    }

    fn v(path: &str) -> VirtualPath {
        VirtualPath::from_device(path).unwrap()
    }

    fn allow_all(_: &str) -> Result<(), u16> {
        Ok(())
    }

    #[test]
    fn an_upload_lands_whole_or_not_at_all() {
        let (base, fs) = scratch("whole");
        let target = base.join("root/sub/file.txt");
        let mut upload = PendingUpload::begin(&fs, &v("/sub/file.txt")).unwrap();
        upload.write(b"hello").unwrap();
        drop(upload);
        assert!(!target.exists());
        assert_eq!(
            std::fs::read_dir(base.join("root/sub")).unwrap().count(),
            0,
            "temp file removed"
        );
        let mut upload = PendingUpload::begin(&fs, &v("/sub/file.txt")).unwrap();
        upload.write(b"one").unwrap();
        assert_eq!(upload.commit().map(|l| l.status), Ok(201));
        let mut upload = PendingUpload::begin(&fs, &v("/sub/file.txt")).unwrap();
        upload.write(b"two").unwrap();
        assert_eq!(
            std::fs::read(&target).unwrap(),
            b"one",
            "old file untouched until commit"
        );
        assert_eq!(upload.commit().map(|l| l.status), Ok(204));
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        assert_eq!(PendingUpload::begin(&fs, &v("/sub")).unwrap_err(), 409);
        assert_eq!(delete(&fs, &v("/sub/"), false, &allow_all), Err(409));
        assert_eq!(delete(&fs, &v("/sub/"), true, &allow_all), Ok(204));
        assert_eq!(delete(&fs, &v("/sub/"), true, &allow_all), Err(404));
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn temporary_names_are_unguessable_short_and_reserved() {
        let (base, fs) = scratch("temp");
        let long = "n".repeat(crate::fs::path::MAX_COMPONENT_LEN);
        let mut upload = PendingUpload::begin(&fs, &v(&long)).unwrap();
        let temp = upload.temp.clone();
        assert!(
            temp.len() < 64 && crate::fs::is_reserved_name(&temp),
            "{temp}"
        );
        assert_ne!(temp, temp_name().unwrap());
        upload.write(b"x").unwrap();
        // No request reaches the temporary file while the upload runs.
        assert_eq!(fs.open_read(&v(&temp)).unwrap_err(), PathError::NotFound);
        assert_eq!(PendingUpload::begin(&fs, &v(&temp)).unwrap_err(), 403);
        assert_eq!(delete(&fs, &v(&temp), false, &allow_all), Err(403));
        assert_eq!(make_dir(&fs, &v(&format!("{temp}/"))), Err(403));
        assert_eq!(upload.commit().map(|l| l.status), Ok(201));
        assert_eq!(std::fs::read(base.join("root").join(&long)).unwrap(), b"x");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_partial_upload_keeps_its_bytes_until_it_lands_whole() {
        let (base, fs) = scratch("partial");
        let find = |create| PartialUpload::find(&fs, &v("/sub/big.bin"), 6, create).unwrap();
        assert!(find(false).is_none(), "no directory: nothing held");
        let partial = find(true).unwrap();
        assert!(crate::fs::is_reserved_name(&partial.partial) && partial.partial.len() < 64);
        let key = partial.key().unwrap();
        let mut writer = partial.append_at(0).unwrap();
        writer.write(b"abc").unwrap();
        drop(writer); // a piece cut off keeps what arrived
        let partial = find(false).unwrap();
        assert_eq!(
            partial.key().unwrap(),
            key,
            "the same upload finds the same partial"
        );
        assert_eq!(partial.held(), Ok(3));
        let other_size = PartialUpload::find(&fs, &v("/sub/big.bin"), 7, false).unwrap();
        assert_ne!(other_size.unwrap().key().unwrap(), key);
        assert!(
            !base.join("root/sub/big.bin").exists(),
            "no target until whole"
        );
        let mut writer = partial.append_at(3).unwrap();
        writer.write(b"def").unwrap();
        assert_eq!(writer.held(), Ok(6));
        let whole: [u8; 32] = Sha256::digest(b"abcdef").into();
        assert_eq!(writer.sha256(6), Ok(whole));
        assert_eq!(writer.land().map(|l| l.status), Ok(201));
        assert_eq!(
            std::fs::read(base.join("root/sub/big.bin")).unwrap(),
            b"abcdef"
        );
        assert_eq!(std::fs::read_dir(base.join("root/sub")).unwrap().count(), 1);
        // Offset 0 starts again; a discarded partial is gone.
        let mut writer = find(true).unwrap().append_at(0).unwrap();
        writer.write(b"xy").unwrap();
        drop(writer);
        let mut writer = find(true).unwrap().append_at(0).unwrap();
        writer.write(b"z").unwrap();
        assert_eq!(writer.held(), Ok(1));
        writer.discard();
        assert_eq!(find(false).unwrap().held(), Ok(0));
        assert_eq!(
            PartialUpload::find(&fs, &v("/sub"), 6, true).unwrap_err(),
            409,
            "a directory is not uploaded onto"
        );
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn deleting_a_link_removes_the_link_never_its_target() {
        use std::os::unix::fs::symlink;
        let (base, fs) = scratch("links");
        let root = base.join("root");
        std::fs::create_dir_all(root.join("data/inner")).unwrap();
        std::fs::write(root.join("data/inner/f.txt"), "f").unwrap();
        symlink(".", root.join("here")).unwrap();
        symlink("data", root.join("alias")).unwrap();
        symlink(base.join("outside"), root.join("data/out")).unwrap();
        // `name/` names a directory; the link is not one.
        assert_eq!(delete(&fs, &v("/here/"), true, &allow_all), Err(404));
        assert_eq!(delete(&fs, &v("/here"), true, &allow_all), Ok(204));
        assert_eq!(delete(&fs, &v("/alias"), true, &allow_all), Ok(204));
        assert!(
            root.join("data/inner/f.txt").exists(),
            "the link's target stays"
        );
        // A forced delete of a tree removes the links inside, never what they lead to.
        let asked = std::sync::Mutex::new(Vec::new());
        let record = |p: &str| {
            asked.lock().unwrap().push(p.to_string());
            Ok(())
        };
        assert_eq!(delete(&fs, &v("/data"), true, &record), Ok(204));
        assert!(!root.join("data").exists());
        assert_eq!(
            std::fs::read(base.join("outside/keep.txt")).unwrap(),
            b"keep"
        );
        let mut asked = asked.into_inner().unwrap();
        asked.sort();
        assert_eq!(
            asked,
            ["/data/", "/data/inner/", "/data/inner/f.txt", "/data/out"]
        );
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_forced_delete_removes_names_that_are_not_utf8() {
        use std::os::unix::ffi::OsStrExt;
        let (base, fs) = scratch("not-utf8");
        let odd = std::ffi::OsStr::from_bytes(b"caf\xe9");
        std::fs::create_dir_all(base.join("root/tree").join(odd)).unwrap();
        std::fs::write(base.join("root/tree").join(odd).join(odd), "x").unwrap();
        std::fs::write(base.join("root/tree/plain.txt"), "y").unwrap();
        assert_eq!(delete(&fs, &v("/tree"), true, &allow_all), Ok(204));
        assert!(!base.join("root/tree").exists());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_forced_delete_refused_for_one_entry_removes_nothing() {
        let (base, fs) = scratch("acl");
        let root = base.join("root");
        std::fs::create_dir_all(root.join("tree/locked")).unwrap();
        std::fs::write(root.join("tree/a.txt"), "a").unwrap();
        std::fs::write(root.join("tree/locked/b.txt"), "b").unwrap();
        let deny_locked = |p: &str| {
            if p.starts_with("/tree/locked/") {
                Err(403)
            } else {
                Ok(())
            }
        };
        assert_eq!(delete(&fs, &v("/tree"), true, &deny_locked), Err(403));
        assert!(root.join("tree/a.txt").exists() && root.join("tree/locked/b.txt").exists());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn writes_never_leave_root_through_a_link() {
        use std::os::unix::fs::symlink;
        let (base, fs) = scratch("escape");
        let root = base.join("root");
        symlink(base.join("outside"), root.join("out")).unwrap();
        assert_eq!(
            PendingUpload::begin(&fs, &v("/out/x.txt")).unwrap_err(),
            404
        );
        assert_eq!(make_dir(&fs, &v("/out/d/")), Err(404));
        assert_eq!(
            delete(&fs, &v("/out/keep.txt"), false, &allow_all),
            Err(404)
        );
        assert_eq!(std::fs::read_dir(base.join("outside")).unwrap().count(), 1);
        std::fs::remove_dir_all(&base).unwrap();
    }

    fn moved(status: u16, dir: bool) -> Result<Moved, u16> {
        Ok(Moved { status, dir })
    }

    #[test]
    fn a_move_renames_files_and_trees_and_replaces_only_when_told() {
        let (base, fs) = scratch("move");
        let root = base.join("root");
        std::fs::create_dir_all(root.join("tree/inner")).unwrap();
        std::fs::write(root.join("tree/inner/f.txt"), "f").unwrap();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        std::fs::write(root.join("b.txt"), "b").unwrap();
        let before = fs.changes();
        assert_eq!(
            move_entry(&fs, &v("/a.txt"), &v("/tree/c.txt"), true, None),
            moved(201, false)
        );
        assert!(fs.changes() > before, "the open-file cache hears of it");
        assert_eq!(std::fs::read(root.join("tree/c.txt")).unwrap(), b"a");
        assert!(!root.join("a.txt").exists());
        // Overwrite: F refuses an existing destination and leaves both.
        assert_eq!(
            move_entry(&fs, &v("/b.txt"), &v("/tree/c.txt"), false, None),
            Err(412)
        );
        assert_eq!(std::fs::read(root.join("b.txt")).unwrap(), b"b");
        assert_eq!(
            move_entry(&fs, &v("/b.txt"), &v("/tree/c.txt"), true, None),
            moved(204, false)
        );
        assert_eq!(std::fs::read(root.join("tree/c.txt")).unwrap(), b"b");
        // A directory with everything in it; `name/` on either side.
        assert_eq!(
            move_entry(&fs, &v("/tree/"), &v("/moved/"), true, None),
            moved(201, true)
        );
        assert_eq!(std::fs::read(root.join("moved/inner/f.txt")).unwrap(), b"f");
        // Over an empty directory: replaced; over a non-empty one: 409.
        std::fs::create_dir(root.join("empty")).unwrap();
        assert_eq!(
            move_entry(&fs, &v("/moved/inner"), &v("/empty"), true, None),
            moved(204, true)
        );
        assert_eq!(
            move_entry(&fs, &v("/empty"), &v("/moved"), true, None),
            Err(409)
        );
        assert_eq!(
            move_entry(&fs, &v("/empty"), &v("/moved"), false, None),
            Err(412)
        );
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_move_refuses_what_rename_cannot_do() {
        let (base, fs) = scratch("move-refused");
        let root = base.join("root");
        std::fs::create_dir_all(root.join("dir/sub")).unwrap();
        std::fs::write(root.join("f.txt"), "f").unwrap();
        let refused = |from: &str, to: &str| move_entry(&fs, &v(from), &v(to), true, None);
        assert_eq!(refused("/missing", "/x"), Err(404));
        assert_eq!(refused("/missing/x", "/x"), Err(404));
        assert_eq!(refused("/f.txt/", "/x"), Err(404), "name/ is a directory");
        assert_eq!(refused("/f.txt", "/no/such/x"), Err(409), "parent missing");
        assert_eq!(
            refused("/f.txt", "/x/"),
            Err(409),
            "a file named as a directory"
        );
        assert_eq!(refused("/dir", "/dir/sub/in"), Err(409), "into itself");
        assert_eq!(
            refused("/dir", "/f.txt"),
            Err(409),
            "a directory over a file"
        );
        assert_eq!(
            refused("/f.txt", "/dir"),
            Err(409),
            "a file over a directory"
        );
        assert_eq!(refused("/f.txt", "/f.txt"), Err(403));
        assert_eq!(refused("/dir/", "/dir"), Err(403));
        let temp = format!(".{}{TEMP_SUFFIX}", "0".repeat(32));
        assert_eq!(refused("/f.txt", &format!("/{temp}")), Err(403));
        assert_eq!(refused(&format!("/{temp}"), "/x"), Err(403));
        // The same entry by another way: a link on the way, a hard link.
        std::os::unix::fs::symlink("dir", root.join("alias")).unwrap();
        assert_eq!(refused("/dir/sub", "/alias/sub"), Err(403));
        std::fs::hard_link(root.join("f.txt"), root.join("twin.txt")).unwrap();
        assert_eq!(refused("/f.txt", "/twin.txt"), Err(403));
        // Into itself through a link: the kernel refuses (EINVAL).
        assert_eq!(refused("/dir", "/alias/sub/in"), Err(409));
        assert!(root.join("dir/sub").is_dir() && root.join("f.txt").is_file());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_move_takes_links_themselves_and_never_leaves_root() {
        use std::os::unix::fs::symlink;
        let (base, fs) = scratch("move-links");
        let root = base.join("root");
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::write(root.join("data/f.txt"), "f").unwrap();
        symlink("data", root.join("link")).unwrap();
        symlink(base.join("outside"), root.join("out")).unwrap();
        assert_eq!(
            move_entry(&fs, &v("/link"), &v("/renamed"), true, None),
            moved(201, false)
        );
        let renamed = std::fs::symlink_metadata(root.join("renamed")).unwrap();
        assert!(renamed.file_type().is_symlink());
        assert!(root.join("data/f.txt").exists(), "the link's target stays");
        // `name/` on a link is not a directory.
        assert_eq!(
            move_entry(&fs, &v("/renamed/"), &v("/x"), true, None),
            Err(404)
        );
        // Neither side reaches outside root through a link.
        assert_eq!(
            move_entry(&fs, &v("/data/f.txt"), &v("/out/f.txt"), true, None),
            Err(409)
        );
        assert_eq!(
            move_entry(&fs, &v("/out/keep.txt"), &v("/kept.txt"), true, None),
            Err(404)
        );
        assert_eq!(std::fs::read_dir(base.join("outside")).unwrap().count(), 1);
        assert!(root.join("data/f.txt").exists());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_directory_moves_only_if_the_acl_allows_every_entry_both_ways() {
        let (base, fs) = scratch("move-acl");
        let root = base.join("root");
        std::fs::create_dir_all(root.join("tree/locked")).unwrap();
        std::fs::write(root.join("tree/a.txt"), "a").unwrap();
        std::fs::write(root.join("tree/locked/b.txt"), "b").unwrap();
        let asked = std::sync::Mutex::new(Vec::new());
        let deny_new_locked = |p: &str| {
            asked.lock().unwrap().push(p.to_string());
            if p == "/new/locked/b.txt" {
                Err(403)
            } else {
                Ok(())
            }
        };
        assert_eq!(
            move_entry(&fs, &v("/tree"), &v("/new"), true, Some(&deny_new_locked)),
            Err(403)
        );
        assert!(root.join("tree/locked/b.txt").exists() && !root.join("new").exists());
        let mut asked = asked.into_inner().unwrap();
        asked.sort();
        assert_eq!(
            asked,
            [
                "/new/",
                "/new/a.txt",
                "/new/locked/",
                "/new/locked/b.txt",
                "/tree/",
                "/tree/a.txt",
                "/tree/locked/",
                "/tree/locked/b.txt"
            ]
        );
        assert_eq!(
            move_entry(&fs, &v("/tree"), &v("/new"), true, Some(&allow_all)),
            moved(201, true)
        );
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn the_portable_rename_replaces_nothing_either() {
        let (base, fs) = scratch("move-portable");
        let root = base.join("root");
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::create_dir_all(root.join("taken")).unwrap();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        std::fs::write(root.join("b.txt"), "b").unwrap();
        std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
        let dir = fs.open_dir(&VirtualPath::root()).unwrap();
        let rename = |from: &str, to: &str, is_dir: bool| {
            rename_noreplace_portably(&dir, from, &dir, to, is_dir)
        };
        assert_eq!(rename("a.txt", "b.txt", false), Err(Errno::EXIST));
        assert_eq!(rename("d", "taken", true), Err(Errno::EXIST));
        assert_eq!(rename("d", "b.txt", true), Err(Errno::EXIST));
        assert_eq!(rename("a.txt", "c.txt", false), Ok(()));
        assert_eq!(rename("d", "e", true), Ok(()));
        assert_eq!(rename("link", "moved-link", false), Ok(()));
        assert_eq!(std::fs::read(root.join("c.txt")).unwrap(), b"a");
        assert_eq!(std::fs::read(root.join("b.txt")).unwrap(), b"b");
        assert!(!root.join("a.txt").exists() && !root.join("link").exists());
        assert!(root.join("e").is_dir() && !root.join("d").exists());
        let link = std::fs::symlink_metadata(root.join("moved-link")).unwrap();
        assert!(link.file_type().is_symlink(), "the link itself moved");
        assert_eq!(rename("missing", "x", false), Err(Errno::NOENT));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
