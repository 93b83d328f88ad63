//! The device filesystem: the one place where a device path (`/www/data/x`)
//! meets the host's files. [`VirtualPath`] parses what a client or a program
//! names; [`DeviceFs`] opens it beneath root, with the kernel keeping every
//! resolution inside.

mod device;
mod hash;
pub(crate) mod path;
mod write;

pub use device::{is_reserved_name, DeviceFs, EntryKind};
pub use hash::sha256_of;
pub use path::{PathError, VirtualPath};
pub use write::{
    delete, make_dir, move_entry, PartialKey, PartialUpload, PartialWriter, PendingUpload,
};
