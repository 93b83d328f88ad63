//! The receiver driver (`receive`): where an upload goes (from the URL or
//! `Content-Disposition`), and the body streamed to disk in bounded memory;
//! DELETE, MOVE, and the preconditions of each. The disk work itself is
//! [`crate::fs`]'s: an upload lands whole or not at all.

use crate::acl::Access;
use crate::drivers::open_files::etag;
use crate::drivers::{acl_check, blocking, file_acl, has_file_acl, status_reply};
use crate::fs::{self as device, PendingUpload};
use crate::fs::{DeviceFs, PathError, VirtualPath};
use crate::host::request::RequestInfo;
use crate::http::conditions::{Current, Preconditions};
use crate::http::exchange::{BodyRefusal, Exchange};
use crate::http::reply::error_reply;
use crate::http::request::RequestHead;
use crate::http::request::{BodyKind, Decoded};
use crate::http::webdav;
use crate::io::conn::{Connection, Next};
use crate::limits;
use crate::observe::{FileChange, Observation};
use crate::server::Shared;
use crate::Methods;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::mpsc;

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
        if self.dynamic {
            return self.url_target(fs, head.path());
        }
        let value = head.header("content-disposition").ok_or(400u16)?;
        let name = disposition_filename(value).ok_or(400u16)?;
        self.writable(fs, VirtualPath::from_device(&name).map_err(path_status)?)
    }

    /// The device path a URL path (percent-encoded) names below a dynamic
    /// receiver's prefix: the request's own, or a MOVE's destination (403
    /// outside the prefix).
    fn url_target(&self, fs: &DeviceFs, path: &str) -> Result<VirtualPath, u16> {
        let rest = path
            .strip_prefix(&self.prefix)
            .filter(|rest| rest.starts_with('/'))
            .ok_or(403u16)?;
        self.writable(fs, VirtualPath::from_url(rest).map_err(path_status)?)
    }

    /// `vpath` unless this receiver may not write there (403): root, or
    /// outside the ext mount with `extonly`.
    fn writable(&self, fs: &DeviceFs, vpath: VirtualPath) -> Result<VirtualPath, u16> {
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

/// Tells the host about a change the receiver made.
fn observe_file(shared: &Shared, vpath: &VirtualPath, change: FileChange) {
    shared.observer.record(|| Observation::File {
        path: vpath.to_string(),
        change,
    });
}

/// 412 unless the request's preconditions hold for `vpath` as a GET would
/// find it now (its ETag the file server's). Asked after the ACL, before
/// anything is written.
fn check_preconditions(
    fs: &DeviceFs,
    conditions: Option<&Preconditions>,
    vpath: &VirtualPath,
) -> Result<(), u16> {
    let Some(conditions) = conditions else {
        return Ok(());
    };
    let found = fs.open_read_with_metadata(vpath).ok().map(|(_, meta)| meta);
    let tag = found.as_ref().filter(|meta| meta.is_file()).map(etag);
    let current = match found {
        Some(_) => Current::Present(tag.as_deref()),
        None => Current::Absent,
    };
    if conditions.hold(current) {
        Ok(())
    } else {
        Err(412)
    }
}

/// Why an upload did not land.
enum UploadFailure {
    /// The body did not arrive whole: the client left, stalled or broke the framing.
    Body(BodyRefusal),
    /// Refused with this status: too large (413), or the disk said no (507, 403…).
    Status(u16),
}

impl Connection {
    pub(crate) async fn receive(
        &mut self,
        x: &mut Exchange,
        info: RequestInfo,
        receiver: Arc<Receiver>,
    ) -> Next {
        let target = match receiver.target(&self.shared.fs, &info.head) {
            Ok(target) => target,
            Err(code) => return self.reply_and_finish(x, error_reply(code)).await,
        };
        let conditions = Preconditions::of(&info.head);
        if info.method == Methods::MOVE {
            return self
                .move_target(x, &info.head, &receiver, target, conditions)
                .await;
        }
        let shared = self.shared.clone();
        if info.method == Methods::DELETE {
            let force = crate::http::query::first(info.query(), b"force")
                .is_some_and(|v| v == crate::http::query::QueryValue::Bytes(b"1".to_vec()));
            let code = blocking(move || {
                file_acl(&shared, &target, Access::Write)?;
                check_preconditions(&shared.fs, conditions.as_ref(), &target)?;
                let inside = |path: &str| acl_check(&shared, path.to_string(), Access::Write);
                let code = device::delete(&shared.fs, &target, force, &inside)?;
                observe_file(&shared, &target, FileChange::Deleted { tree: force });
                Ok(code)
            })
            .await;
            return self.reply_and_finish(x, status_reply(code)).await;
        }
        if target.is_dir() {
            let code = blocking(move || {
                file_acl(&shared, &target, Access::Write)?;
                check_preconditions(&shared.fs, conditions.as_ref(), &target)?;
                let code = device::make_dir(&shared.fs, &target)?;
                if code == 201 {
                    observe_file(&shared, &target, FileChange::DirMade);
                }
                Ok(code)
            })
            .await;
            return self.reply_and_finish(x, status_reply(code)).await;
        }
        if let (Some(max), BodyKind::Length(n)) =
            (self.shared.limits.max_upload_bytes, info.head.body)
        {
            if n > max {
                return self.reply_and_finish(x, error_reply(413)).await;
            }
        }
        let landed = target.clone();
        let pending = blocking(move || {
            file_acl(&shared, &target, Access::Write)?;
            check_preconditions(&shared.fs, conditions.as_ref(), &target)?;
            PendingUpload::begin(&shared.fs, &target)
        })
        .await;
        let code = match pending {
            Ok(pending) => self.stream_upload(x, pending).await,
            Err(code) => Err(UploadFailure::Status(code)),
        };
        match code {
            Ok(code) => {
                let change = FileChange::of_upload(code);
                observe_file(&self.shared, &landed, change);
                self.reply_and_finish(x, status_reply(Ok(code))).await
            }
            Err(UploadFailure::Body(why)) => {
                x.body_refused(why);
                match why.status() {
                    Some(code) => self.reply_and_finish(x, error_reply(code)).await,
                    None => Next::Close,
                }
            }
            // The body was not read to its end: answer, then close.
            Err(UploadFailure::Status(code)) => {
                if code == 507 {
                    log::warn!(target: "uhttpd", "upload to {} failed: the disk is full", x.line.target());
                }
                x.close_after();
                self.reply_and_finish(x, error_reply(code)).await
            }
        }
    }

    /// MOVE (RFC 4918 §9.9): `source` renamed to the request's `Destination`,
    /// a path below the same prefix. The ACL is asked for writing both paths
    /// (and every entry of a directory, under both), then the preconditions
    /// about the source.
    async fn move_target(
        &mut self,
        x: &mut Exchange,
        head: &RequestHead,
        receiver: &Receiver,
        source: VirtualPath,
        conditions: Option<Preconditions>,
    ) -> Next {
        let asked = webdav::destination_path(head)
            .and_then(|path| receiver.url_target(&self.shared.fs, path))
            .and_then(|destination| Ok((destination, webdav::overwrite(head)?)));
        let (destination, overwrite) = match asked {
            Ok(asked) => asked,
            Err(code) => return self.reply_and_finish(x, error_reply(code)).await,
        };
        let shared = self.shared.clone();
        let code = blocking(move || {
            file_acl(&shared, &source, Access::Write)?;
            file_acl(&shared, &destination, Access::Write)?;
            check_preconditions(&shared.fs, conditions.as_ref(), &source)?;
            let ask = |path: &str| acl_check(&shared, path.to_string(), Access::Write);
            let inside = has_file_acl(&shared).then_some(&ask as &dyn Fn(&str) -> _);
            let moved = device::move_entry(&shared.fs, &source, &destination, overwrite, inside)?;
            let (source, destination) = if moved.dir {
                (source.as_dir(), destination.as_dir())
            } else {
                (source, destination)
            };
            let change = FileChange::Moved {
                destination: destination.to_string(),
                replaced: moved.status == 204,
            };
            observe_file(&shared, &source, change);
            Ok(moved.status)
        })
        .await;
        self.reply_and_finish(x, status_reply(code)).await
    }

    /// Copies the body into `pending` through a bounded channel to a disk
    /// writer, so socket reads and disk writes overlap in bounded memory.
    async fn stream_upload(
        &mut self,
        x: &mut Exchange,
        pending: PendingUpload,
    ) -> Result<u16, UploadFailure> {
        let gone = UploadFailure::Body(BodyRefusal::ClientGone);
        if self.send_continue(x).await.is_err() {
            return Err(gone);
        }
        let (tx, mut rx) = mpsc::channel::<Option<Bytes>>(limits::BODY_CHANNEL_PIECES);
        let writer = tokio::task::spawn_blocking(move || {
            let mut pending = pending;
            while let Some(piece) = rx.blocking_recv() {
                match piece {
                    Some(data) => pending.write(&data)?,
                    None => return pending.commit(),
                }
            }
            // The sender went away before the end (its failure is the answer):
            // dropping removes the temp file.
            Err(500)
        });
        let max = self.shared.limits.max_upload_bytes.unwrap_or(u64::MAX);
        let mut received = 0u64;
        let fed = loop {
            match x.decoder.decode(&mut self.buf, limits::BODY_PIECE_BYTES) {
                Ok(Decoded::Data(piece)) => {
                    received += piece.len() as u64;
                    if received > max {
                        break Err(UploadFailure::Status(413));
                    }
                    if tx.send(Some(piece)).await.is_err() {
                        break Ok(()); // the writer failed; its status follows
                    }
                }
                Ok(Decoded::Done) => {
                    let _ = tx.send(None).await;
                    break Ok(());
                }
                Ok(Decoded::NeedMore) => match self.fill().await {
                    Ok(n) if n > 0 => {}
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                        break Err(UploadFailure::Body(BodyRefusal::TooSlow))
                    }
                    Ok(_) | Err(_) => break Err(gone),
                },
                Err(e) => break Err(UploadFailure::Body(BodyRefusal::Malformed(e))),
            }
        };
        drop(tx);
        let written = writer.await.unwrap_or(Err(500));
        fed?;
        written.map_err(UploadFailure::Status)
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
}
