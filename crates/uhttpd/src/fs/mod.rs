//! The device filesystem: the one place where a device path (`/www/data/x`)
//! meets the host's files. [`VirtualPath`] parses what a client or a program
//! names; [`DeviceFs`] opens it beneath root, with the kernel keeping every
//! resolution inside.

mod device;
mod path;
mod write;

pub use device::{is_reserved_name, DeviceFs, EntryKind, TEMP_SUFFIX};
pub use path::{PathError, VirtualPath, MAX_COMPONENT_LEN, MAX_PATH_LEN};
pub use write::{delete, io_status, make_dir, PendingUpload};
