//! The file receiver (`receive`): where an upload goes, and the blocking disk
//! work. An upload is written to a temporary file in the target directory,
//! synced and renamed over the target, so a cut-off, refused or failed upload
//! leaves the old file as it was and nothing else behind.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::files::TEMP_SUFFIX;
use crate::fs::{DeviceFs, PathError, VirtualPath};
use crate::proto::RequestHead;

/// A `receive(dynamic, prefix, extonly, delete)` registration.
#[derive(Clone, Debug)]
pub struct Receiver {
    /// `""` or `"/up"`: removed from the URL (dynamic), or the endpoint itself (static).
    pub prefix: String,
    /// Target from the URL (true) or from `Content-Disposition` (false).
    pub dynamic: bool,
    /// Refuse targets outside the external storage mount.
    pub extonly: bool,
}

impl Receiver {
    /// The device path a request targets.
    pub fn target(&self, fs: &DeviceFs, head: &RequestHead) -> Result<VirtualPath, u16> {
        let vpath = if self.dynamic {
            let rest = head.path().strip_prefix(&self.prefix).unwrap_or("/");
            VirtualPath::from_url(rest).map_err(path_status)?
        } else {
            let value = head.header("content-disposition").ok_or(400u16)?;
            let name = disposition_filename(value).ok_or(400u16)?;
            VirtualPath::from_device(&name).map_err(path_status)?
        };
        if vpath.is_root() {
            return Err(403);
        }
        if self.extonly && !fs.ext().is_some_and(|ext| vpath.starts_with(ext)) {
            return Err(403);
        }
        Ok(vpath)
    }
}

fn path_status(error: PathError) -> u16 {
    match error {
        PathError::Hostile(_) => 400,
        PathError::NotFound => 404,
    }
}

/// The file name of `Content-Disposition: attachment; filename="/path"` (the
/// seed's spelling `attachement` too; `filename*=UTF-8''…` preferred when given).
pub fn disposition_filename(value: &[u8]) -> Option<String> {
    let value = std::str::from_utf8(value).ok()?;
    let mut parts = value.split(';');
    let kind = parts.next()?.trim();
    if !["attachment", "attachement", "form-data", "inline"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(kind))
    {
        return None;
    }
    let mut plain = None;
    let mut extended = None;
    for param in split_params(value.split_once(';')?.1) {
        let (key, raw) = param.split_once('=')?;
        let key = key.trim().to_ascii_lowercase();
        let raw = raw.trim();
        match key.as_str() {
            "filename" => plain = Some(unquote(raw)?),
            "filename*" => {
                let (charset, rest) = raw.split_once('\'')?;
                let (_, encoded) = rest.split_once('\'')?;
                if !charset.eq_ignore_ascii_case("utf-8") {
                    return None;
                }
                let decoded: Vec<u8> = percent_encoding::percent_decode_str(encoded).collect();
                extended = Some(String::from_utf8(decoded).ok()?);
            }
            _ => {}
        }
    }
    extended.or(plain).filter(|name| !name.is_empty())
}

/// Splits parameters on `;` outside quoted strings.
fn split_params(params: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in params.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&params[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&params[start..]);
    out.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// A token, or a quoted-string with `\` escapes.
fn unquote(raw: &str) -> Option<String> {
    let Some(inner) = raw.strip_prefix('"') else {
        return Some(raw.to_string());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next()? } else { c });
    }
    Some(out)
}

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

/// `mkdir -p` for a path ending in `/`: 201 when made, 200 when it was there.
pub fn make_dir(host: &Path) -> Result<u16, u16> {
    if host.is_dir() {
        return Ok(200);
    }
    fs::create_dir_all(host).map_err(|e| io_status(&e))?;
    Ok(201)
}

/// DELETE: a file, an empty directory, or with `force` a whole tree.
pub fn delete(host: &Path, as_dir: bool, force: bool) -> Result<u16, u16> {
    let meta = fs::symlink_metadata(host).map_err(|e| io_status(&e))?;
    let result = match (meta.is_dir(), as_dir) {
        (true, _) if force => fs::remove_dir_all(host),
        (true, _) => fs::remove_dir(host),
        // `name/` must name a directory; `name` may not.
        (false, true) => return Err(404),
        (false, false) => fs::remove_file(host),
    };
    result.map(|()| 204).map_err(|e| io_status(&e))
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// An upload being written. Dropped before `commit`, it removes its temporary file.
#[derive(Debug)]
pub struct PendingUpload {
    file: Option<File>,
    temp: PathBuf,
    target: PathBuf,
    replaces: bool,
}

impl PendingUpload {
    /// Creates the parents and the temporary file next to `target`.
    pub fn begin(target: &Path) -> Result<PendingUpload, u16> {
        let replaces = match fs::metadata(target) {
            Ok(meta) if meta.is_dir() => return Err(409),
            Ok(_) => true,
            Err(_) => false,
        };
        let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
            return Err(400);
        };
        fs::create_dir_all(parent).map_err(|e| io_status(&e))?;
        let temp = parent.join(format!(
            ".{}.{}-{}{TEMP_SUFFIX}",
            name.to_string_lossy(),
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| io_status(&e))?;
        Ok(PendingUpload {
            file: Some(file),
            temp,
            target: target.to_path_buf(),
            replaces,
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
        fs::rename(&self.temp, &self.target).map_err(|e| io_status(&e))?;
        // Make the rename itself durable (best effort: not every filesystem can).
        if let Some(parent) = self.target.parent() {
            if let Ok(dir) = File::open(parent) {
                let _ = dir.sync_all();
            }
        }
        self.temp = PathBuf::new();
        Ok(if self.replaces { 204 } else { 201 })
    }
}

impl Drop for PendingUpload {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_names_in_every_accepted_spelling() {
        let name = |v: &str| disposition_filename(v.as_bytes());
        assert_eq!(
            name(r#"attachment; filename="/path/to/file""#).as_deref(),
            Some("/path/to/file")
        );
        assert_eq!(
            name(r#"attachement; filename="/a.txt""#).as_deref(),
            Some("/a.txt")
        );
        assert_eq!(
            name("attachment; filename=plain.txt").as_deref(),
            Some("plain.txt")
        );
        assert_eq!(
            name(r#"attachment; filename="a\"b;c.txt""#).as_deref(),
            Some("a\"b;c.txt")
        );
        assert_eq!(
            name(r#"attachment; filename="x.txt"; filename*=UTF-8''%C3%A9t%C3%A9.txt"#).as_deref(),
            Some("été.txt")
        );
        for bad in [
            "",
            "attachment",
            r#"attachment; filename="""#,
            r#"bogus; filename="a""#,
            r#"attachment; filename="open"#,
        ] {
            assert_eq!(name(bad), None, "{bad}");
        }
    }

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

    #[test]
    fn an_upload_lands_whole_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("uhttpd-upload-{}", std::process::id()));
        let target = dir.join("sub/file.txt");
        let mut upload = PendingUpload::begin(&target).unwrap();
        upload.write(b"hello").unwrap();
        drop(upload);
        assert!(!target.exists());
        assert_eq!(
            fs::read_dir(dir.join("sub")).unwrap().count(),
            0,
            "temp file removed"
        );
        let mut upload = PendingUpload::begin(&target).unwrap();
        upload.write(b"one").unwrap();
        assert_eq!(upload.commit(), Ok(201));
        let mut upload = PendingUpload::begin(&target).unwrap();
        upload.write(b"two").unwrap();
        assert_eq!(
            fs::read(&target).unwrap(),
            b"one",
            "old file untouched until commit"
        );
        assert_eq!(upload.commit(), Ok(204));
        assert_eq!(fs::read(&target).unwrap(), b"two");
        assert_eq!(PendingUpload::begin(&dir.join("sub")).unwrap_err(), 409);
        assert_eq!(delete(&dir.join("sub"), true, false), Err(409));
        assert_eq!(delete(&dir.join("sub"), true, true), Ok(204));
        assert_eq!(delete(&dir.join("sub"), true, true), Err(404));
        fs::remove_dir_all(&dir).unwrap();
    }
}
