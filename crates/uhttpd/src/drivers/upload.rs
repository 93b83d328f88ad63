//! The receiver driver (`receive`): where an upload goes (from the URL or
//! `Content-Disposition`), and the body streamed to disk in bounded memory,
//! checked against its `Content-Digest`; a `Content-Range` PUT is a piece
//! of a resumable upload; DELETE, MOVE, and the preconditions of each. The
//! disk work itself is [`crate::fs`]'s: an upload lands whole or not at all.

use crate::acl::Access;
use crate::drivers::open_files::etag;
use crate::drivers::{acl_check, blocking, file_acl, has_file_acl, status_reply};
use crate::fs::{self as device, Landed, PartialKey, PartialUpload, PartialWriter, PendingUpload};
use crate::fs::{DeviceFs, PathError, VirtualPath};
use crate::host::request::RequestInfo;
use crate::http::conditions::{Current, Preconditions};
use crate::http::content_range::UploadRange;
use crate::http::digest::{self, DigestError, Sha256Digest};
use crate::http::exchange::{BodyRefusal, Exchange};
use crate::http::reply::{error_reply, explained_reply, ReplyHead};
use crate::http::request::RequestHead;
use crate::http::request::{BodyKind, Decoded};
use crate::http::webdav;
use crate::io::conn::{Connection, Next};
use crate::limits;
use crate::observe::{FileChange, Observation};
use crate::server::Shared;
use crate::Methods;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch, OwnedMutexGuard};

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

/// The ACL's answer for writing `target`, then its preconditions: what every
/// upload, piece, mkdir and DELETE asks before it changes anything.
fn may_write(
    shared: &Shared,
    target: &VirtualPath,
    conditions: Option<&Preconditions>,
) -> Result<(), u16> {
    file_acl(shared, target, Access::Write)?;
    check_preconditions(&shared.fs, conditions, target)
}

/// Why an upload did not land.
enum UploadFailure {
    /// The body did not arrive whole: the client left, stalled or broke the
    /// framing (or, for a piece, a newer request for its upload came).
    Body(BodyRefusal),
    /// Refused with this status: too large (413), or the disk said no (507, 403…).
    Status(u16),
    /// The bytes are not those the client's `Content-Digest` names.
    DigestMismatch,
}

/// The sha-256 the request's `Content-Digest` names, if any.
fn content_digest(head: &RequestHead) -> Result<Option<Sha256Digest>, DigestError> {
    head.combined("content-digest")
        .map_or(Ok(None), |field| digest::sha256_in(&field))
}

/// The reply to an upload that landed (201, 204): the new file's ETag, and the
/// digest it was checked against.
fn landed_reply(landed: &Landed, digest: Option<Sha256Digest>) -> (ReplyHead, Bytes) {
    let (mut head, body) = status_reply(Ok(landed.status));
    head.add_server_header("ETag", etag(&landed.meta));
    if let Some(digest) = digest {
        head.add_server_header("Content-Digest", digest::sha256_field(&digest));
    }
    (head, body)
}

/// A reply telling a resumable upload's client how many bytes its partial
/// holds: 202 while it is not whole, 409 to a piece that does not start there.
fn offset_reply(code: u16, held: u64) -> (ReplyHead, Bytes) {
    let (mut head, body) = match code {
        409 => explained_reply(
            409,
            &format!("the upload holds {held} bytes; send from there"),
        ),
        _ => error_reply(code),
    };
    head.add_server_header("Upload-Offset", held.to_string());
    (head, body)
}

/// Where an upload's body goes, on the blocking pool.
trait BodySink: Send + 'static {
    type Landed: Send + 'static;
    fn write(&mut self, data: &[u8]) -> Result<(), u16>;
    /// The whole body is in.
    fn finish(self) -> Result<Self::Landed, UploadFailure>;
}

/// A whole upload into its temporary file, hashed as it streams when the
/// client sent a digest. Dropped before it lands, it leaves nothing.
struct WholeUpload {
    pending: PendingUpload,
    digest: Option<(Sha256, Sha256Digest)>,
}

impl BodySink for WholeUpload {
    type Landed = Landed;

    fn write(&mut self, data: &[u8]) -> Result<(), u16> {
        if let Some((hasher, _)) = &mut self.digest {
            hasher.update(data);
        }
        self.pending.write(data)
    }

    fn finish(self) -> Result<Landed, UploadFailure> {
        if let Some((hasher, expected)) = self.digest {
            if <Sha256Digest>::from(hasher.finalize()) != expected {
                return Err(UploadFailure::DigestMismatch);
            }
        }
        self.pending.commit().map_err(UploadFailure::Status)
    }
}

/// Where a piece of a resumable upload left it.
enum Landing {
    /// Not whole yet: the bytes its partial holds.
    Held(u64),
    /// Whole, checked and renamed onto the target.
    Landed(Landed),
}

/// A piece appended to its upload's partial file, with the turn at it held
/// until the writer is done. Dropped before the end, the partial keeps what arrived.
struct Piece {
    writer: PartialWriter,
    total: u64,
    digest: Option<Sha256Digest>,
    _turn: Turn,
}

impl BodySink for Piece {
    type Landed = Landing;

    fn write(&mut self, data: &[u8]) -> Result<(), u16> {
        self.writer.write(data)
    }

    /// Lands the partial once it holds the whole file, its digest (of the
    /// whole file) checked first: a mismatch removes it.
    fn finish(self) -> Result<Landing, UploadFailure> {
        let held = self.writer.held().map_err(UploadFailure::Status)?;
        if held < self.total {
            return Ok(Landing::Held(held));
        }
        if let Some(expected) = self.digest {
            if self
                .writer
                .sha256(self.total)
                .map_err(UploadFailure::Status)?
                != expected
            {
                self.writer.discard();
                return Err(UploadFailure::DigestMismatch);
            }
        }
        self.writer
            .land()
            .map(Landing::Landed)
            .map_err(UploadFailure::Status)
    }
}

/// Whose turn it is at each partial upload, so that two requests never
/// append to one at once. A newer request for a partial (a piece or a
/// probe) stops the one writing it, most often a connection that died
/// without a word and would hold it until its stall timeout, and waits
/// until the bytes that one received are down.
#[derive(Default)]
pub(crate) struct PartialTurns(Mutex<HashMap<PartialKey, TurnQueue>>);

struct TurnQueue {
    /// Held by the request whose turn it is, until its writer is done.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// Moved by every request that wants a turn: the one holding it stops.
    wanted: watch::Sender<u64>,
}

impl PartialTurns {
    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<PartialKey, TurnQueue>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets `key` when no request holds or waits for a turn at it (the
    /// map's own reference is the only one left).
    fn forget_if_unused(&self, key: &PartialKey) {
        let mut queues = self.queues();
        if queues
            .get(key)
            .is_some_and(|queue| Arc::strong_count(&queue.turn) == 1)
        {
            queues.remove(key);
        }
    }
}

/// A request's turn at a partial upload.
struct Turn {
    guard: Option<OwnedMutexGuard<()>>,
    key: PartialKey,
    shared: Arc<Shared>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.guard.take();
        self.shared.partial_turns.forget_if_unused(&self.key);
    }
}

/// Resolves when a newer request wants the turn (never, once nobody can ask).
async fn superseded(wanted: &mut watch::Receiver<u64>) {
    if wanted.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A partial found and opened for what a resumable request asks.
enum Opened {
    /// Nothing to write (a probe, or a piece that does not start where the
    /// partial ends): the bytes it holds.
    Held(u64),
    Writer(PartialWriter),
}

const BAD_RANGE: &str =
    "Content-Range on an upload is `bytes first-last/total` or `bytes */total`, on a PUT of a file";

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
        if let Some(field) = info.head.combined("content-range") {
            return self
                .receive_piece(x, &info.head, target, &field, conditions)
                .await;
        }
        let shared = self.shared.clone();
        if info.method == Methods::DELETE {
            let force = crate::http::query::first(info.query(), b"force")
                .is_some_and(|v| v == crate::http::query::QueryValue::Bytes(b"1".to_vec()));
            let code = blocking(move || {
                may_write(&shared, &target, conditions.as_ref())?;
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
                may_write(&shared, &target, conditions.as_ref())?;
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
        let digest = match content_digest(&info.head) {
            Ok(digest) => digest,
            Err(why) => {
                return self
                    .reply_and_finish(x, explained_reply(400, &why.to_string()))
                    .await
            }
        };
        let landed = target.clone();
        let pending = blocking(move || {
            may_write(&shared, &target, conditions.as_ref())?;
            PendingUpload::begin(&shared.fs, &target)
        })
        .await;
        let code = match pending {
            Ok(pending) => {
                let digest = digest.map(|expected| (Sha256::new(), expected));
                self.stream_body(x, WholeUpload { pending, digest }, None)
                    .await
            }
            Err(code) => Err(UploadFailure::Status(code)),
        };
        match code {
            Ok(done) => self.upload_landed(x, &landed, &done, digest).await,
            Err(failure) => self.upload_failed(x, failure).await,
        }
    }

    /// The answer to an upload that landed on `target` (observed first).
    async fn upload_landed(
        &mut self,
        x: &mut Exchange,
        target: &VirtualPath,
        done: &Landed,
        digest: Option<Sha256Digest>,
    ) -> Next {
        observe_file(&self.shared, target, FileChange::of_upload(done.status));
        self.reply_and_finish(x, landed_reply(done, digest)).await
    }

    /// The answer to an upload that did not land.
    async fn upload_failed(&mut self, x: &mut Exchange, failure: UploadFailure) -> Next {
        match failure {
            UploadFailure::Body(why) => {
                x.body_refused(why);
                match why.status() {
                    Some(code) => self.reply_and_finish(x, error_reply(code)).await,
                    None => Next::Close,
                }
            }
            // The body was read to its end: the connection stays.
            UploadFailure::DigestMismatch => {
                let reply = explained_reply(400, "Content-Digest mismatch");
                self.reply_and_finish(x, reply).await
            }
            // The body was not read to its end: answer, then close.
            UploadFailure::Status(code) => {
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

    /// A `Content-Range` PUT: a piece of a resumable upload, or a probe
    /// asking how much of it is held. Only the last piece changes the target.
    async fn receive_piece(
        &mut self,
        x: &mut Exchange,
        head: &RequestHead,
        target: VirtualPath,
        field: &[u8],
        conditions: Option<Preconditions>,
    ) -> Next {
        let range = match UploadRange::parse(field) {
            Some(range) if head.method() == "PUT" && !target.is_dir() => range,
            _ => {
                return self
                    .reply_and_finish(x, explained_reply(400, BAD_RANGE))
                    .await
            }
        };
        let digest = match content_digest(head) {
            Ok(digest) => digest,
            Err(why) => {
                return self
                    .reply_and_finish(x, explained_reply(400, &why.to_string()))
                    .await
            }
        };
        let total = range.total();
        if self
            .shared
            .limits
            .max_upload_bytes
            .is_some_and(|max| total > max)
        {
            return self.reply_and_finish(x, error_reply(413)).await;
        }
        let body_fits = match range {
            UploadRange::Piece { first, last, .. } => {
                head.body == BodyKind::Length(last - first + 1)
            }
            UploadRange::Probe { .. } => matches!(head.body, BodyKind::Empty | BodyKind::Length(0)),
        };
        if !body_fits {
            let why = "the body must be exactly the bytes Content-Range names";
            return self.reply_and_finish(x, explained_reply(400, why)).await;
        }
        let starts = matches!(range, UploadRange::Piece { first: 0, .. });
        // What a request that writes nothing is told along with the bytes
        // held: a probe gets its answer, a piece at another offset is refused.
        let held_status = if matches!(range, UploadRange::Probe { .. }) {
            202
        } else {
            409
        };
        let shared = self.shared.clone();
        let landed = target.clone();
        let found = blocking(move || {
            may_write(&shared, &target, conditions.as_ref())?;
            let Some(partial) = PartialUpload::find(&shared.fs, &target, total, starts)? else {
                return Ok(None);
            };
            let key = partial.key()?;
            Ok(Some((partial, key)))
        })
        .await;
        let (partial, key) = match found {
            Ok(Some(found)) => found,
            // No directory, so nothing held.
            Ok(None) => return self.reply_and_finish(x, offset_reply(held_status, 0)).await,
            Err(code) => return self.reply_and_finish(x, error_reply(code)).await,
        };
        let Some((turn, mut wanted)) = self.take_turn(key).await else {
            // A newer request for the same upload came while this one waited.
            x.close_after();
            let why = "a newer request for this upload came";
            return self.reply_and_finish(x, explained_reply(409, why)).await;
        };
        let lifetime = self.shared.limits.partial_upload_lifetime;
        let opened = blocking(move || {
            let held = partial.held()?;
            match range {
                UploadRange::Piece { first: 0, .. } => {
                    partial.sweep(lifetime);
                    partial.append_at(0).map(Opened::Writer)
                }
                UploadRange::Piece { first, .. } if first == held => {
                    partial.append_at(held).map(Opened::Writer)
                }
                UploadRange::Piece { .. } | UploadRange::Probe { .. } => Ok(Opened::Held(held)),
            }
        })
        .await;
        let writer = match opened {
            Ok(Opened::Writer(writer)) => writer,
            Ok(Opened::Held(held)) => {
                return self
                    .reply_and_finish(x, offset_reply(held_status, held))
                    .await
            }
            Err(code) => return self.reply_and_finish(x, error_reply(code)).await,
        };
        let piece = Piece {
            writer,
            total,
            digest,
            _turn: turn,
        };
        match self.stream_body(x, piece, Some(&mut wanted)).await {
            Ok(Landing::Held(held)) => self.reply_and_finish(x, offset_reply(202, held)).await,
            Ok(Landing::Landed(done)) => self.upload_landed(x, &landed, &done, digest).await,
            Err(failure) => self.upload_failed(x, failure).await,
        }
    }

    /// Waits for a turn at the partial upload `key`, stopping the request
    /// whose turn it is; `None` when a newer request wants it meanwhile.
    async fn take_turn(&self, key: PartialKey) -> Option<(Turn, watch::Receiver<u64>)> {
        let (turn, mut wanted) = {
            let mut queues = self.shared.partial_turns.queues();
            let queue = queues.entry(key.clone()).or_insert_with(|| TurnQueue {
                turn: Arc::default(),
                wanted: watch::Sender::new(0),
            });
            queue.wanted.send_modify(|asked| *asked += 1);
            (queue.turn.clone(), queue.wanted.subscribe())
        };
        let guard = tokio::select! {
            guard = turn.lock_owned() => Some(guard),
            _ = wanted.changed() => None,
        };
        let Some(guard) = guard else {
            self.shared.partial_turns.forget_if_unused(&key);
            return None;
        };
        let turn = Turn {
            guard: Some(guard),
            key,
            shared: self.shared.clone(),
        };
        Some((turn, wanted))
    }

    /// Copies the body into `sink` through a bounded channel to a disk
    /// writer, so socket reads and disk writes overlap in bounded memory.
    /// When `wanted` moves (a newer request for the same partial upload),
    /// reading stops as if the client had gone.
    async fn stream_body<S: BodySink>(
        &mut self,
        x: &mut Exchange,
        sink: S,
        mut wanted: Option<&mut watch::Receiver<u64>>,
    ) -> Result<S::Landed, UploadFailure> {
        let gone = UploadFailure::Body(BodyRefusal::ClientGone);
        if self.send_continue(x).await.is_err() {
            return Err(gone);
        }
        let (tx, mut rx) = mpsc::channel::<Option<Bytes>>(limits::BODY_CHANNEL_PIECES);
        let writer = tokio::task::spawn_blocking(move || {
            let mut sink = sink;
            while let Some(piece) = rx.blocking_recv() {
                match piece {
                    Some(data) => sink.write(&data).map_err(UploadFailure::Status)?,
                    None => return sink.finish(),
                }
            }
            // The sender went away before the end (its failure is the
            // answer): dropping the sink removes a temporary file, and
            // keeps a partial upload's bytes.
            Err(UploadFailure::Status(500))
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
                Ok(Decoded::NeedMore) => {
                    let filled = match wanted.as_deref_mut() {
                        Some(wanted) => tokio::select! {
                            filled = self.fill() => filled,
                            () = superseded(wanted) => break Err(gone),
                        },
                        None => self.fill().await,
                    };
                    match filled {
                        Ok(n) if n > 0 => {}
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                            break Err(UploadFailure::Body(BodyRefusal::TooSlow))
                        }
                        Ok(_) | Err(_) => break Err(gone),
                    }
                }
                Err(e) => break Err(UploadFailure::Body(BodyRefusal::Malformed(e))),
            }
        };
        drop(tx);
        let written = writer.await.unwrap_or(Err(UploadFailure::Status(500)));
        fed?;
        written
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
