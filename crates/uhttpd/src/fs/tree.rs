//! A folder's tree walked through directory descriptors (the zip of a
//! folder): the folder is opened beneath root by the kernel, and everything
//! under it is opened by one name inside its parent's descriptor, never
//! through a link (`O_NOFOLLOW`), never by a path resolved again from root.
//! A directory renamed or swapped for a link meanwhile cannot lead the walk
//! outside: it goes on in the directory it holds, or leaves the entry out.

use std::fs::File;
use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};

use super::device::is_reserved_name;
use super::path::VirtualPath;

/// A directory opened beneath root, with its device path.
#[derive(Debug)]
pub struct Folder {
    fd: OwnedFd,
    path: VirtualPath,
}

/// A regular file or a directory found in a [`Folder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    /// Its name in the folder.
    pub name: String,
    /// Its device path (a directory's ends with `/`), for the file ACL.
    pub path: VirtualPath,
    pub is_dir: bool,
}

/// What an opened entry is: its size and modification time (Unix seconds),
/// from the descriptor itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    pub mtime: i64,
    /// Permission bits (`0o644`; never set-id bits).
    pub mode: u32,
}

impl Stamp {
    fn of(stat: &Stat) -> Stamp {
        Stamp {
            size: stat.st_size as u64,
            mtime: stat.st_mtime,
            mode: stat.st_mode & 0o777,
        }
    }
}

impl Folder {
    /// `fd`: the directory at `path`, already opened beneath root.
    pub fn new(fd: OwnedFd, path: VirtualPath) -> Folder {
        Folder {
            fd,
            path: path.as_dir(),
        }
    }

    /// The regular files and directories in the folder, by name. Links,
    /// FIFOs, sockets, devices, reserved names (uploads in progress) and
    /// names no device path can hold (not UTF-8, control characters, too
    /// long a path) are left out. An unreadable folder has no children.
    pub fn children(&self) -> Vec<Child> {
        let Ok(entries) = rustix::fs::Dir::read_from(&self.fd) else {
            return Vec::new();
        };
        let mut children: Vec<Child> = entries
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_str().ok()?;
                if name == "." || name == ".." || is_reserved_name(name) {
                    return None;
                }
                // Not followed: a link is left out, whatever it points to.
                let stat = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
                let is_dir = match FileType::from_raw_mode(stat.st_mode) {
                    FileType::RegularFile => false,
                    FileType::Directory => true,
                    _ => return None,
                };
                let path = VirtualPath::from_device(&format!("{}{name}", self.path)).ok()?;
                let path = if is_dir { path.as_dir() } else { path };
                Some(Child {
                    name: name.to_string(),
                    path,
                    is_dir,
                })
            })
            .collect();
        children.sort_by(|a, b| a.name.cmp(&b.name));
        children
    }

    /// Opens the file `child` for reading, never through a link; `None`
    /// when it is no longer a regular file (gone, or swapped meanwhile).
    pub fn open_file(&self, child: &Child) -> Option<(File, Stamp)> {
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY;
        let (fd, stat) = self.open_child(child, flags, FileType::RegularFile)?;
        Some((File::from(fd), Stamp::of(&stat)))
    }

    /// Opens the directory `child`, never through a link; `None` when it is
    /// no longer a directory.
    pub fn open_folder(&self, child: &Child) -> Option<(Folder, Stamp)> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY;
        let (fd, stat) = self.open_child(child, flags, FileType::Directory)?;
        let folder = Folder {
            fd,
            path: child.path.clone(),
        };
        Some((folder, Stamp::of(&stat)))
    }

    fn open_child(&self, child: &Child, flags: OFlags, kind: FileType) -> Option<(OwnedFd, Stat)> {
        let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, child.name.as_str(), flags, Mode::empty()).ok()?;
        let stat = rustix::fs::fstat(&fd).ok()?;
        (FileType::from_raw_mode(stat.st_mode) == kind).then_some((fd, stat))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    fn scratch(tag: &str) -> PathBuf {
        let base = std::env::temp_dir().join(format!("uhttpd-tree-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("root/top/sub")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::fs::write(base.join("outside/secret"), "secret").unwrap();
        base
    }

    fn folder(root: &std::path::Path, path: &str) -> Folder {
        let fd = rustix::fs::open(
            root.join(path.trim_start_matches('/')),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        Folder::new(fd, VirtualPath::from_device(path).unwrap())
    }

    #[test]
    fn children_are_files_and_folders_only_by_name_and_never_through_a_link() {
        let base = scratch("children");
        let top = base.join("root/top");
        std::fs::write(top.join("b.txt"), "bee").unwrap();
        std::fs::write(top.join("a.txt"), "a").unwrap();
        std::fs::write(top.join(".0123.uhttpd-tmp"), "partial").unwrap();
        std::fs::write(top.join("bad\x01name"), "control").unwrap();
        symlink(base.join("outside"), top.join("out")).unwrap();
        symlink("b.txt", top.join("inside-link")).unwrap();
        let fifo =
            std::ffi::CString::new(top.join("pipe").into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let folder = folder(&base.join("root"), "/top");
        let children = folder.children();
        let shown: Vec<(&str, String, bool)> = children
            .iter()
            .map(|c| (c.name.as_str(), c.path.to_string(), c.is_dir))
            .collect();
        assert_eq!(
            shown,
            [
                ("a.txt", "/top/a.txt".to_string(), false),
                ("b.txt", "/top/b.txt".to_string(), false),
                ("sub", "/top/sub/".to_string(), true),
            ]
        );
        let (mut file, stamp) = folder.open_file(&children[1]).unwrap();
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        assert_eq!((text.as_str(), stamp.size), ("bee", 3));
        let (sub, _) = folder.open_folder(&children[2]).unwrap();
        assert!(sub.children().is_empty());
        // Swapped for a link after it was listed: not opened.
        std::fs::remove_file(top.join("a.txt")).unwrap();
        symlink(base.join("outside/secret"), top.join("a.txt")).unwrap();
        assert!(folder.open_file(&children[0]).is_none());
        std::fs::remove_dir(top.join("sub")).unwrap();
        symlink(base.join("outside"), top.join("sub")).unwrap();
        assert!(folder.open_folder(&children[2]).is_none());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
