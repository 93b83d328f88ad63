//! Writes beneath root: uploads (a temporary file in the target's
//! directory, synced and renamed over the target), resumable uploads (a
//! partial file there, renamed over the target once whole), mkdir and delete. Every
//! write acts on one name inside a directory descriptor opened beneath root
//! (see [`DeviceFs::open`]): a local user swapping a directory for a symlink
//! cannot make it land outside, and no link is ever written or deleted through.

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
        let tree = Doomed::collect(&dir, name, vpath.as_dir().to_string(), &stat)?;
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

/// A directory tree a forced delete removes, as it was when collected.
struct Doomed {
    /// The name in its parent, as the filesystem has it (not always UTF-8).
    name: CString,
    /// Device path for the ACL (directories end with `/`).
    path: String,
    /// The directory's identity: a directory swapped in after collection is not removed.
    id: (u64, u64),
    /// Entries that are not directories (files, links, others): name and device path.
    leaves: Vec<(CString, String)>,
    dirs: Vec<Doomed>,
}

impl Doomed {
    fn open(parent: &OwnedFd, name: &CStr) -> Result<OwnedFd, u16> {
        open_subdir(parent, name).map_err(|e| {
            if e == Errno::LOOP {
                409
            } else {
                errno_status(e)
            }
        })
    }

    fn collect(parent: &OwnedFd, name: CString, path: String, stat: &Stat) -> Result<Doomed, u16> {
        let fd = Doomed::open(parent, &name)?;
        let mut doomed = Doomed {
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
                let child_path = format!("{}{shown}/", doomed.path);
                let sub = Doomed::collect(&fd, raw.to_owned(), child_path, &child_stat)?;
                doomed.dirs.push(sub);
            } else {
                let child_path = format!("{}{shown}", doomed.path);
                doomed.leaves.push((raw.to_owned(), child_path));
            }
        }
        Ok(doomed)
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
        let fd = Doomed::open(parent, &self.name)?;
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
    pub fn commit(mut self) -> Result<u16, u16> {
        let file = self.file.take().ok_or(500u16)?;
        file.sync_all().map_err(|e| io_status(&e))?;
        drop(file);
        rename_into_place(&self.dir, &self.temp, &self.name, &self.changes)?;
        self.temp.clear();
        Ok(if self.replaces { 204 } else { 201 })
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
    pub fn land(self) -> Result<u16, u16> {
        self.file.sync_all().map_err(|e| io_status(&e))?;
        let up = &self.upload;
        let replaces = existing(&up.dir, &up.name)?;
        rename_into_place(&up.dir, &up.partial, &up.name, &up.changes)?;
        Ok(if replaces { 204 } else { 201 })
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
        assert_eq!(upload.commit(), Ok(201));
        let mut upload = PendingUpload::begin(&fs, &v("/sub/file.txt")).unwrap();
        upload.write(b"two").unwrap();
        assert_eq!(
            std::fs::read(&target).unwrap(),
            b"one",
            "old file untouched until commit"
        );
        assert_eq!(upload.commit(), Ok(204));
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
        assert_eq!(upload.commit(), Ok(201));
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
        assert_eq!(writer.land(), Ok(201));
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
}
