//! The file server (`serve`): first decide an [`Outcome`] from the request and
//! the disk, then the connection renders it. Deciding blocks (disk, ACL
//! callback), so the connection runs it on the blocking pool.

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use serde_json::json;

use crate::acl::Access;
use crate::drivers::open_files::{mime_of, OpenFile, OpenFiles, Opened, Validators};
use crate::drivers::zip::ZipFolder;
use crate::drivers::{file_acl, has_file_acl};
use crate::fs::{
    is_reserved_name, sha256_of, DeviceFs, Entry, EntryKind, Folder, PathError, VirtualPath,
};
use crate::host::request::RequestInfo;
use crate::http::conditions::{is_any, list_names, Comparison};
use crate::http::digest;
use crate::http::exchange::{Exchange, ReplyBody};
use crate::http::query;
use crate::http::reply::{error_reply, ReplyHead, Status};
use crate::http::request::RequestHead;
use crate::io::conn::COALESCE_BODY_BYTES;
use crate::io::conn::{Connection, Next};

/// A `serve(prefix, base, dirs, ext)` registration.
#[derive(Clone, Debug)]
pub struct FileServer {
    /// `""` or `"/fs"`: the URL part removed before resolving.
    pub prefix: String,
    /// Device directory prepended to what is left (the seed's `base`).
    pub base: Option<VirtualPath>,
    /// Answer `dir/` with the seed's JSON listing, and `dir/?zip` with the
    /// directory as a zip archive.
    pub dirs: bool,
    /// Try the external storage mount first (the seed's `ext=True`).
    pub try_ext: bool,
}

/// What to answer.
#[derive(Debug)]
pub enum Outcome {
    File(FileReply),
    NotModified(Validators),
    /// The seed's JSON directory document.
    Listing(Bytes),
    /// `dir/?zip`: the directory as a zip archive.
    Zip(ZipFolder),
    /// `dir` asked without its slash: go to `dir/`.
    Redirect(String),
    RangeNotSatisfiable(u64),
    Refused(u16),
}

/// An open file and which bytes of it to send.
#[derive(Debug)]
pub struct FileReply {
    pub file: Arc<OpenFile>,
    pub mime: Bytes,
    /// First byte and byte count to send.
    pub start: u64,
    pub len: u64,
    /// Size of the whole file (for `Content-Range`).
    pub total: u64,
    pub partial: bool,
    pub gzip: bool,
    /// A `.gz` twin exists (looked up for gzip clients only), so the reply
    /// depends on `Accept-Encoding`.
    pub vary: bool,
}

/// A file found and opened (the candidate path it was found at), with its
/// gzip twin if any.
struct Found<'a> {
    vpath: &'a VirtualPath,
    plain: Option<Arc<OpenFile>>,
    gz: Option<Arc<OpenFile>>,
}

enum Located<'a> {
    /// A directory, opened for reading its entries.
    Dir(VirtualPath, File),
    File(Found<'a>),
}

impl FileServer {
    /// Decides the answer to a GET/HEAD. `acl` is asked about the device path
    /// actually served (directories with a trailing `/`).
    pub fn decide(
        &self,
        fs: &DeviceFs,
        open_files: &OpenFiles,
        head: &RequestHead,
        acl: &dyn Fn(&VirtualPath, Access) -> Result<(), u16>,
    ) -> Outcome {
        let rest = head.path().strip_prefix(&self.prefix).unwrap_or("/");
        let requested = match VirtualPath::from_url(rest) {
            Ok(vpath) => vpath,
            Err(PathError::Hostile(_)) => return Outcome::Refused(400),
            Err(PathError::NotFound) => return Outcome::Refused(404),
        };
        let based = self.base.as_ref().map(|base| requested.within(base));
        let resolved = based.as_ref().unwrap_or(&requested);
        let ext_first = fs
            .ext()
            .filter(|_| self.try_ext)
            .map(|ext| resolved.within(ext));
        let gzip = accepts_gzip(head);
        let located = ext_first
            .as_ref()
            .into_iter()
            .chain(std::iter::once(resolved))
            .find_map(|candidate| locate(fs, open_files, candidate, gzip));
        match located {
            None => Outcome::Refused(404),
            Some(Located::Dir(vpath, dir)) => {
                if !requested.is_dir() {
                    return Outcome::Redirect(redirect_target(head));
                }
                if !self.dirs {
                    return Outcome::Refused(404);
                }
                if let Err(code) = acl(&vpath, Access::Read) {
                    return Outcome::Refused(code);
                }
                if query::first(head.query(), b"zip").is_some() {
                    let name = requested.file_name().unwrap_or("root").to_string();
                    let folder = Folder::new(dir.into(), vpath);
                    return Outcome::Zip(ZipFolder { folder, name });
                }
                self.listing(fs, &requested, &vpath, &dir)
            }
            Some(Located::File(_)) if requested.is_dir() => Outcome::Refused(404),
            Some(Located::File(found)) => {
                if let Err(code) = acl(found.vpath, Access::Read) {
                    return Outcome::Refused(code);
                }
                serve_file(found, head)
            }
        }
    }

    /// The JSON document for `requested`, found on the device at `dir_vpath`
    /// (inside the ext mount when it was served from there).
    fn listing(
        &self,
        fs: &DeviceFs,
        requested: &VirtualPath,
        dir_vpath: &VirtualPath,
        dir: &File,
    ) -> Outcome {
        let Ok(entries) = rustix::fs::Dir::read_from(dir) else {
            return Outcome::Refused(404);
        };
        let mut dirs = Vec::new();
        let mut files = Vec::new();
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().to_str() else {
                continue;
            };
            if name == "." || name == ".." || is_reserved_name(name) {
                continue;
            }
            // Links that leave root, FIFOs, sockets and devices are not shown
            // (and would not be served).
            let Ok(child) = VirtualPath::from_device(&format!("{dir_vpath}{name}")) else {
                continue;
            };
            match fs.entry(&child) {
                Ok(Entry {
                    kind: EntryKind::Dir,
                    mtime,
                }) => dirs.push((name.to_string(), mtime)),
                Ok(Entry {
                    kind: EntryKind::File { size },
                    mtime,
                }) => files.push((name.to_string(), size, mtime)),
                Ok(_) | Err(_) => continue,
            }
        }
        dirs.sort();
        files.sort();
        let mut list = Vec::with_capacity(dirs.len() + files.len() + 1);
        if !requested.is_root() {
            let mtime = dir.metadata().map_or(0, |meta| meta.mtime());
            list.push(json!({"path": "..", "type": "directory", "size": 0, "mtime": mtime}));
        }
        list.extend(dirs.into_iter().map(
            |(name, mtime)| json!({"path": name, "type": "directory", "size": 0, "mtime": mtime}),
        ));
        list.extend(files.into_iter().map(|(name, size, mtime)| {
            json!({"path": name, "type": "file", "size": size, "mtime": mtime})
        }));
        let path = format!("{}{}", self.prefix, requested);
        let document = json!({"path": path, "list": list});
        Outcome::Listing(Bytes::from(document.to_string()))
    }
}

/// Finds `candidate` on disk: a directory, a file, or (for a client that
/// accepts gzip, the only one it could be sent to) its `.gz` twin.
fn locate<'a>(
    fs: &DeviceFs,
    open_files: &OpenFiles,
    candidate: &'a VirtualPath,
    gzip: bool,
) -> Option<Located<'a>> {
    let plain = match open_files.open(fs, candidate) {
        Some(Opened::Dir(dir)) => return Some(Located::Dir(candidate.as_dir(), dir)),
        Some(Opened::File(file)) => Some(file),
        None => None,
    };
    let gz = candidate
        .file_name()
        .filter(|_| gzip)
        .and_then(|_| VirtualPath::from_device(&format!("{candidate}.gz")).ok())
        .and_then(|twin| match open_files.open(fs, &twin)? {
            Opened::File(file) => Some(file),
            Opened::Dir(_) => None,
        });
    if plain.is_none() && gz.is_none() {
        return None;
    }
    Some(Located::File(Found {
        vpath: candidate,
        plain,
        gz,
    }))
}

fn serve_file(found: Found, head: &RequestHead) -> Outcome {
    let vary = found.gz.is_some();
    let (file, gzip) = match (found.plain, found.gz) {
        (_, Some(gz)) => (gz, true),
        (Some(plain), _) => (plain, false),
        (None, _) => return Outcome::Refused(404),
    };
    if not_modified(head, &file.validators, &file.meta) {
        return Outcome::NotModified(file.validators.clone());
    }
    let total = file.meta.len();
    let range = match range_of(head, &file.validators) {
        Some(spec) => match spec.resolve(total) {
            Some(range) => Some(range),
            None => return Outcome::RangeNotSatisfiable(total),
        },
        None => None,
    };
    let (start, len) = range.unwrap_or((0, total));
    // A `.gz` twin is sent as the type of the name asked for.
    let mime = if gzip {
        mime_of(found.vpath)
    } else {
        file.mime.clone()
    };
    Outcome::File(FileReply {
        file,
        mime,
        start,
        len,
        total,
        partial: range.is_some(),
        gzip,
        vary,
    })
}

fn accepts_gzip(head: &RequestHead) -> bool {
    let Some(value) = head.header("accept-encoding") else {
        return false;
    };
    String::from_utf8_lossy(value).split(',').any(|coding| {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0))
        });
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

/// If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
fn not_modified(head: &RequestHead, validators: &Validators, meta: &Metadata) -> bool {
    if let Some(tags) = head.header("if-none-match") {
        let tags = String::from_utf8_lossy(tags);
        return is_any(&tags) || list_names(&tags, validators.etag_text(), Comparison::Weak);
    }
    let Some(since) = head
        .header("if-modified-since")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
    else {
        return false;
    };
    let modified = meta.modified().unwrap_or(SystemTime::now());
    let modified_secs = modified
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let since_secs = since.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    modified_secs <= since_secs
}

/// A single byte range as asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RangeSpec {
    From(u64, Option<u64>),
    Suffix(u64),
}

impl RangeSpec {
    /// `(start, len)` within a file of `total` bytes, or None when unsatisfiable.
    fn resolve(self, total: u64) -> Option<(u64, u64)> {
        match self {
            RangeSpec::From(start, _) if start >= total => None,
            RangeSpec::From(start, end) => {
                let end = end.map_or(total - 1, |e| e.min(total - 1));
                Some((start, end - start + 1))
            }
            RangeSpec::Suffix(0) => None,
            RangeSpec::Suffix(n) => {
                let len = n.min(total);
                (total > 0).then_some((total - len, len))
            }
        }
    }
}

/// The request's single `bytes=` range, unless If-Range says the file changed.
/// Malformed or multiple ranges are ignored (the whole file is sent), as RFC 9110 allows.
fn range_of(head: &RequestHead, validators: &Validators) -> Option<RangeSpec> {
    let value = std::str::from_utf8(head.header("range")?).ok()?.trim();
    if let Some(if_range) = head.header("if-range") {
        let if_range = String::from_utf8_lossy(if_range);
        let if_range = if_range.trim();
        if if_range != validators.etag_text() && if_range != validators.last_modified_text() {
            return None;
        }
    }
    parse_range(value)
}

fn parse_range(value: &str) -> Option<RangeSpec> {
    let spec = value.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, false) => Some(RangeSpec::Suffix(number(last)?)),
        (false, true) => Some(RangeSpec::From(number(first)?, None)),
        (false, false) => {
            let (start, end) = (number(first)?, number(last)?);
            (start <= end).then_some(RangeSpec::From(start, Some(end)))
        }
        (true, true) => None,
    }
}

/// Whether the request asks for the file's `Repr-Digest` (sha-256, RFC 9530).
fn wants_repr_digest(head: &RequestHead) -> bool {
    head.combined("want-repr-digest")
        .is_some_and(|field| digest::wants_sha256(&field))
}

/// The `Repr-Digest` of the whole file a reply sends from (whatever range of
/// it), hashed on the blocking pool through the descriptor already open.
async fn repr_digest(reply: &FileReply) -> Option<Bytes> {
    let (file, len) = (reply.file.clone(), reply.total);
    let hash = tokio::task::spawn_blocking(move || sha256_of(&file.file, len))
        .await
        .ok()?
        .ok()?;
    Some(Bytes::from(digest::sha256_field(&hash)))
}

/// `Location` for a directory asked without its slash: the same path with it,
/// query kept.
fn redirect_target(head: &RequestHead) -> String {
    let query = head.query();
    if query.is_empty() {
        format!("{}/", head.path())
    } else {
        format!("{}/?{}", head.path(), query)
    }
}

impl Connection {
    pub(crate) async fn serve_files(
        &mut self,
        x: &mut Exchange,
        info: RequestInfo,
        files: Arc<FileServer>,
    ) -> Next {
        // Asked before `info` moves to the decision; nothing is hashed unless asked.
        let wants_digest = wants_repr_digest(&info.head);
        let outcome = if has_file_acl(&self.shared) {
            // The ACL callback runs on the decision pool; wait for it off the I/O thread.
            let shared = self.shared.clone();
            tokio::task::spawn_blocking(move || {
                files.decide(
                    &shared.fs,
                    &shared.open_files,
                    &info.head,
                    &|vpath, access| file_acl(&shared, vpath, access),
                )
            })
            .await
            .unwrap_or(Outcome::Refused(500))
        } else {
            // At most an open and a stat (none when the open is cached):
            // cheaper here than a hop to the blocking pool and back (nginx
            // decides inline too).
            let shared = &self.shared;
            files.decide(&shared.fs, &shared.open_files, &info.head, &|_, _| Ok(()))
        };
        let reply = match outcome {
            Outcome::File(file) => {
                let digest = if wants_digest {
                    repr_digest(&file).await
                } else {
                    None
                };
                return self.send_found(x, file, digest).await;
            }
            Outcome::Zip(folder) => return self.send_zip(x, folder).await,
            Outcome::NotModified(validators) => {
                let mut head = ReplyHead::new(Status::from_code(304).unwrap_or_default());
                head.add_server_header("ETag", validators.etag);
                head.add_server_header("Last-Modified", validators.last_modified);
                (head, Bytes::new())
            }
            Outcome::Listing(document) => {
                let head = ReplyHead {
                    content_type: Some(Bytes::from_static(b"application/json")),
                    ..ReplyHead::default()
                };
                (head, document)
            }
            Outcome::Redirect(location) => {
                let (mut head, body) = error_reply(301);
                let _ = head.add_header("Location", location);
                (head, body)
            }
            Outcome::RangeNotSatisfiable(total) => {
                let (mut head, body) = error_reply(416);
                let _ = head.add_header("Content-Range", format!("bytes */{total}"));
                (head, body)
            }
            Outcome::Refused(code) => error_reply(code),
        };
        self.reply_and_finish(x, reply).await
    }

    /// A file found: its head (with its `Repr-Digest` when asked) and bytes
    /// (small ones read straight after the head and sent with it in one
    /// write, others by sendfile).
    async fn send_found(
        &mut self,
        x: &mut Exchange,
        reply: FileReply,
        repr_digest: Option<Bytes>,
    ) -> Next {
        let validators = &reply.file.validators;
        let mut head = ReplyHead {
            status: Status::from_code(if reply.partial { 206 } else { 200 }).unwrap_or_default(),
            content_type: Some(reply.mime.clone()),
            // Room for every header a file reply can have.
            headers: Vec::with_capacity(7),
            allow_cors: false,
        };
        if let Some(repr_digest) = repr_digest {
            head.add_server_header("Repr-Digest", repr_digest);
        }
        head.add_server_header("Last-Modified", validators.last_modified.clone());
        head.add_server_header("ETag", validators.etag.clone());
        head.add_server_header("Accept-Ranges", "bytes");
        if reply.partial {
            let end = reply.start + reply.len - 1;
            head.add_server_header(
                "Content-Range",
                format!("bytes {}-{end}/{}", reply.start, reply.total),
            );
        }
        if reply.gzip {
            head.add_server_header("Content-Encoding", "gzip");
        }
        if reply.vary {
            head.add_server_header("Vary", "Accept-Encoding");
        }
        let file = &reply.file.file;
        let sent = if reply.len <= COALESCE_BODY_BYTES as u64 {
            match self.encode_reply_head(x, &head, ReplyBody::Length(reply.len)) {
                Ok(true) => match read_into(&mut self.out, file, reply.start, reply.len) {
                    Ok(()) => self.write_out(x).await,
                    Err(_) => return Next::Close,
                },
                Ok(false) => self.write_out(x).await,
                Err(e) => Err(e),
            }
        } else {
            match self
                .write_head(x, &head, ReplyBody::Length(reply.len))
                .await
            {
                Ok(()) if !x.head_only => self.send_file(x, file, reply.start, reply.len).await,
                other => other,
            }
        };
        if sent.is_err() {
            return Next::Close;
        }
        self.finish(x).await
    }
}

/// Appends `len` bytes of `file` from `start` to `out` (a small file, read
/// straight after its head).
fn read_into(out: &mut BytesMut, file: &File, start: u64, len: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let len = usize::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?;
    let at = out.len();
    out.resize(at + len, 0);
    file.read_exact_at(&mut out[at..], start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_resolve_like_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9"), Some(RangeSpec::From(0, Some(9))));
        assert_eq!(parse_range("bytes=5-"), Some(RangeSpec::From(5, None)));
        assert_eq!(parse_range("bytes=-3"), Some(RangeSpec::Suffix(3)));
        for ignored in [
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=5-2",
            "bytes=-",
            "bytes=a-b",
            "bytes=+1-2",
        ] {
            assert_eq!(parse_range(ignored), None, "{ignored}");
        }
        assert_eq!(RangeSpec::From(0, Some(9)).resolve(5), Some((0, 5)));
        assert_eq!(RangeSpec::From(5, None).resolve(5), None);
        assert_eq!(RangeSpec::Suffix(3).resolve(10), Some((7, 3)));
        assert_eq!(RangeSpec::Suffix(30).resolve(10), Some((0, 10)));
        assert_eq!(RangeSpec::Suffix(0).resolve(10), None);
        assert_eq!(RangeSpec::Suffix(3).resolve(0), None);
    }
}
