//! The device filesystem: the one place where a device path (`/www/data/x`)
//! meets the host's files. [`VirtualPath`] parses what a client or a program
//! names; [`DeviceFs`] opens it beneath root, with the kernel keeping every
//! resolution inside; [`Folder`] walks a tree below an opened directory
//! through descriptors.

mod device;
mod hash;
pub(crate) mod path;
mod tree;
mod write;

pub use device::{is_reserved_name, DeviceFs, Entry, EntryKind};
pub use hash::sha256_of;
pub use path::{PathError, VirtualPath};
pub use tree::{Folder, Stamp};
pub use write::{
    delete, make_dir, move_entry, Landed, PartialKey, PartialUpload, PartialWriter, PendingUpload,
};
