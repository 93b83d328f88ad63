//! `GET <folder>/?zip`: the folder as a zip archive, streamed while it is
//! written, in bounded memory whatever the folder holds.
//!
//! The archive is written on a thread of the blocking pool, never on an I/O
//! thread (it reads files and waits for the client), into a queue of at
//! most [`limits::ZIP_QUEUE_PIECES`] pieces that the connection sends as
//! chunks. A client that reads slowly makes the writer wait; one that goes
//! away drops the queue, and the writer stops at its next piece.
//!
//! The engine runs host code only on threads started through `WorkerHooks`,
//! and this thread is not one: it never calls the file ACL itself. Each
//! entry's question is queued to the decision pool ([`file_acl`]), where the
//! host answers it, and this thread only waits for the answer, as the file
//! server's own decisions do on the blocking pool.
//!
//! Entries are stored, not deflated: the server never compresses on the fly
//! (gzip is served from `.gz` twins made beforehand), so a zip costs a
//! device a CRC per byte and no compressor's time or memory, and the
//! MicroPython face carries no compression code.

use std::io::{self, Read, Write};

use ::zip::write::FullFileOptions;
use ::zip::{CompressionMethod, DateTime, ZipWriter};
use bytes::{Bytes, BytesMut};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use tokio::sync::mpsc;

use crate::fs::{Folder, Stamp, VirtualPath};
use crate::host::request::ReplyEvent;
use crate::http::exchange::Exchange;
use crate::http::reply::ReplyHead;
use crate::io::conn::{Connection, Next};
use crate::limits;

/// A folder the file server decided to send as a zip.
#[derive(Debug)]
pub struct ZipFolder {
    pub folder: Folder,
    /// The archive's name without `.zip`: the folder's, `root` for the top.
    pub name: String,
}

/// The extended timestamp extra field (Info-ZIP's `UT`): the modification
/// time in Unix seconds, exact and free of time zones.
const EXTENDED_TIMESTAMP: u16 = 0x5455;

impl Connection {
    /// Answers `200` with the archive, chunked. A writer that fails midway
    /// (a disk error) closes the connection before the last chunk: the
    /// client sees the archive cut short, never a whole one.
    pub(crate) async fn send_zip(&mut self, x: &mut Exchange, zip: ZipFolder) -> Next {
        let mut head = ReplyHead {
            content_type: Some(Bytes::from_static(b"application/zip")),
            headers: Vec::with_capacity(1),
            ..ReplyHead::default()
        };
        head.add_server_header("Content-Disposition", attachment(&zip.name));
        if self.relay(x, ReplyEvent::ChunkStart(head)).await.is_err() {
            return Next::Close;
        }
        if !x.head_only {
            let (pieces, mut queue) = mpsc::channel(limits::ZIP_QUEUE_PIECES);
            let shared = self.shared.clone();
            let writer = tokio::task::spawn_blocking(move || {
                let acl = |path: &VirtualPath| super::file_acl(&shared, path, crate::Access::Read);
                write_archive(zip.folder, &acl, pieces)
            });
            while let Some(piece) = queue.recv().await {
                if self.relay(x, ReplyEvent::Chunk(piece)).await.is_err() {
                    // Dropping the queue stops the writer at its next piece.
                    return Next::Close;
                }
            }
            match writer.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    log::warn!(target: "uhttpd", "zip of {} cut short: {e}", x.line.target());
                    return Next::Close;
                }
                Err(_) => return Next::Close,
            }
        }
        if self.relay(x, ReplyEvent::ChunkEnd).await.is_err() {
            return Next::Close;
        }
        self.finish(x).await
    }
}

/// Writes the archive of `folder` into `pieces`: every regular file and
/// directory below it that `acl` allows, named relative to it, directories
/// as entries of their own (so empty ones are kept), depth first by name.
/// A directory refused is left out with all it holds. Fails when the
/// receiver went away (the client did) or a file could not be read.
fn write_archive(
    folder: Folder,
    acl: &dyn Fn(&VirtualPath) -> Result<(), u16>,
    pieces: mpsc::Sender<Bytes>,
) -> io::Result<()> {
    let mut zip = ZipWriter::new_stream(Pieces::new(pieces));
    let mut block = vec![0; limits::ZIP_PIECE_BYTES];
    // The folders being walked, each with its name in the archive and the
    // children still to add: a path is at most `MAX_PATH_LEN` long, which
    // bounds the depth (and the descriptors held).
    let children = folder.children().into_iter();
    let mut walk = vec![(folder, String::new(), children)];
    while let Some((folder, prefix, children)) = walk.last_mut() {
        let Some(child) = children.next() else {
            walk.pop();
            continue;
        };
        if acl(&child.path).is_err() {
            continue;
        }
        let name = format!("{prefix}{}", child.name);
        if child.is_dir {
            let Some((sub, stamp)) = folder.open_folder(&child) else {
                continue;
            };
            let name = name + "/";
            zip.add_directory(name.as_str(), entry_options(&stamp))
                .map_err(io::Error::other)?;
            let children = sub.children().into_iter();
            walk.push((sub, name, children));
        } else {
            let Some((file, stamp)) = folder.open_file(&child) else {
                continue;
            };
            zip.start_file(name, entry_options(&stamp))
                .map_err(io::Error::other)?;
            // What the file held when opened: one that grows meanwhile does
            // not outgrow the size its entry was started with.
            let mut bytes = file.take(stamp.size);
            loop {
                let n = bytes.read(&mut block)?;
                if n == 0 {
                    break;
                }
                zip.write_all(&block[..n])?;
            }
        }
    }
    zip.finish().map_err(io::Error::other)?.into_inner().flush()
}

/// A stored entry with the entry's time and permissions; zip64 fields when
/// a file is past what 32 bits can say.
fn entry_options(stamp: &Stamp) -> FullFileOptions<'static> {
    let mut options = FullFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .last_modified_time(dos_time(stamp.mtime))
        .unix_permissions(stamp.mode)
        .large_file(stamp.size > ::zip::ZIP64_BYTES_THR);
    // The field holds 32 bits; the DOS time alone says the rest.
    if let Ok(mtime) = i32::try_from(stamp.mtime) {
        let mut field = vec![1u8]; // flags: the modification time follows
        field.extend_from_slice(&mtime.to_le_bytes());
        // Valid by construction: two small fields never pass 64 KiB.
        let _ = options.add_extra_data(EXTENDED_TIMESTAMP, field, false);
    }
    options
}

/// The DOS time zip's headers hold: local time, as zip tools write it and
/// unzip tools read it (1980-01-01 for a time it cannot hold).
fn dos_time(mtime: i64) -> DateTime {
    // `time_t` has 32 bits on some targets, 64 on others.
    #[allow(irrefutable_let_patterns)]
    let Ok(seconds) = libc::time_t::try_from(mtime) else {
        return DateTime::default();
    };
    // SAFETY: `tm` is plain data, filled by localtime_r (thread-safe) from
    // valid pointers.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&seconds, &mut tm).is_null() {
            return DateTime::default();
        }
        tm
    };
    let field = |value: libc::c_int| u8::try_from(value).unwrap_or(u8::MAX);
    let Ok(year) = u16::try_from(tm.tm_year + 1900) else {
        return DateTime::default();
    };
    DateTime::from_date_and_time(
        year,
        field(tm.tm_mon + 1),
        field(tm.tm_mday),
        field(tm.tm_hour),
        field(tm.tm_min),
        field(tm.tm_sec),
    )
    .unwrap_or_default()
}

/// `Content-Disposition` for `<name>.zip` (RFC 6266): quotes and
/// backslashes escaped; a name beyond printable ASCII gets `_` for those
/// characters in `filename` and is given whole, UTF-8, in `filename*`.
fn attachment(name: &str) -> String {
    let file = format!("{name}.zip");
    let mut plain = String::with_capacity(file.len());
    for c in file.chars() {
        match c {
            '"' | '\\' => {
                plain.push('\\');
                plain.push(c);
            }
            ' '..='~' => plain.push(c),
            _ => plain.push('_'),
        }
    }
    if file.chars().all(|c| matches!(c, ' '..='~')) {
        format!("attachment; filename=\"{plain}\"")
    } else {
        let encoded = utf8_percent_encode(&file, NON_ALPHANUMERIC);
        format!("attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}")
    }
}

/// The archive's bytes cut into pieces of [`limits::ZIP_PIECE_BYTES`] and
/// queued for the connection, waiting while the queue is full.
struct Pieces {
    piece: BytesMut,
    /// `None` once the connection went away: the write that found it gone
    /// failed (so the walk stops), and what follows is dropped (the
    /// archive's end that `ZipWriter` writes when it is dropped unfinished).
    queue: Option<mpsc::Sender<Bytes>>,
}

impl Pieces {
    fn new(queue: mpsc::Sender<Bytes>) -> Pieces {
        Pieces {
            piece: BytesMut::with_capacity(limits::ZIP_PIECE_BYTES),
            queue: Some(queue),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        let Some(queue) = &self.queue else {
            self.piece.clear();
            return Ok(());
        };
        let piece = std::mem::replace(
            &mut self.piece,
            BytesMut::with_capacity(limits::ZIP_PIECE_BYTES),
        );
        if queue.blocking_send(piece.freeze()).is_err() {
            self.queue = None;
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        Ok(())
    }
}

impl Write for Pieces {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = limits::ZIP_PIECE_BYTES - self.piece.len();
        let n = data.len().min(room);
        self.piece.extend_from_slice(&data[..n]);
        if self.piece.len() == limits::ZIP_PIECE_BYTES {
            self.send()?;
        }
        Ok(n)
    }

    /// Sends what the last piece holds (the archive's end).
    fn flush(&mut self) -> io::Result<()> {
        if self.piece.is_empty() {
            return Ok(());
        }
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::OwnedFd;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    fn scratch(tag: &str) -> PathBuf {
        let base = std::env::temp_dir().join(format!("uhttpd-zip-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        base
    }

    fn folder(dir: &Path) -> Folder {
        let fd: OwnedFd = std::fs::File::open(dir).unwrap().into();
        Folder::new(fd, VirtualPath::from_device("/top").unwrap())
    }

    #[test]
    fn the_writer_holds_at_most_zip_queue_pieces_and_stops_when_the_reader_goes() {
        let base = scratch("queue");
        let size = 20 * limits::ZIP_PIECE_BYTES;
        std::fs::write(base.join("big.bin"), vec![7u8; size]).unwrap();
        let (pieces, mut queue) = mpsc::channel(limits::ZIP_QUEUE_PIECES);
        let top = folder(&base);
        let writer = std::thread::spawn(move || write_archive(top, &|_| Ok(()), pieces));
        let full = || queue.len() == limits::ZIP_QUEUE_PIECES;
        for _ in 0..500 {
            if full() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(full(), "the queue fills");
        // Nobody reads: the writer waits instead of running ahead.
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(queue.len(), limits::ZIP_QUEUE_PIECES);
        assert!(!writer.is_finished());
        let piece = queue.try_recv().unwrap();
        assert_eq!(piece.len(), limits::ZIP_PIECE_BYTES);
        drop(queue);
        let stopped = writer.join().unwrap().unwrap_err();
        assert_eq!(stopped.kind(), io::ErrorKind::BrokenPipe);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn an_archive_unpacks_to_the_folder() {
        let base = scratch("unpack");
        std::fs::create_dir_all(base.join("sub/empty")).unwrap();
        std::fs::write(base.join("a.txt"), "alpha").unwrap();
        std::fs::write(
            base.join("sub/b.bin"),
            vec![1u8; 3 * limits::ZIP_PIECE_BYTES + 5],
        )
        .unwrap();
        let (pieces, mut queue) = mpsc::channel(limits::ZIP_QUEUE_PIECES);
        let top = folder(&base);
        let writer = std::thread::spawn(move || write_archive(top, &|_| Ok(()), pieces));
        let mut bytes = Vec::new();
        while let Some(piece) = queue.blocking_recv() {
            bytes.extend_from_slice(&piece);
        }
        writer.join().unwrap().unwrap();
        let mut archive = ::zip::ZipArchive::new(io::Cursor::new(bytes)).unwrap();
        let names: Vec<&str> = archive.file_names().collect();
        assert_eq!(names, ["a.txt", "sub/", "sub/b.bin", "sub/empty/"]);
        let mut text = String::new();
        archive
            .by_name("a.txt")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "alpha");
        assert_eq!(
            archive.by_name("sub/b.bin").unwrap().size(),
            3 * limits::ZIP_PIECE_BYTES as u64 + 5
        );
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn big_files_get_zip64_fields_and_times_are_kept() {
        let stamp = |size| Stamp {
            size,
            mtime: 1_000_000_000,
            mode: 0o644,
        };
        // The version needed to extract, in the entry's local header: 45
        // is zip64's.
        let version_needed = |size| {
            let mut zip = ZipWriter::new_stream(Vec::new());
            zip.start_file("f", entry_options(&stamp(size))).unwrap();
            let bytes = zip.finish().unwrap().into_inner();
            u16::from_le_bytes([bytes[4], bytes[5]])
        };
        assert_eq!(version_needed(::zip::ZIP64_BYTES_THR + 1), 45);
        assert!(version_needed(::zip::ZIP64_BYTES_THR) < 45);
        assert_eq!(dos_time(-1), DateTime::default());
        assert_eq!(dos_time(i64::MAX), DateTime::default());
        // 2001-09-09 01:46:40 UTC, in whatever zone the test runs.
        let kept = dos_time(1_000_000_000);
        assert_eq!((kept.year(), kept.month()), (2001, 9));
        assert!((8..=9).contains(&kept.day()));
    }

    #[test]
    fn the_attachment_name_is_quoted_and_given_whole_in_utf8() {
        assert_eq!(attachment("root"), "attachment; filename=\"root.zip\"");
        assert_eq!(
            attachment("a \"b\"\\c"),
            "attachment; filename=\"a \\\"b\\\"\\\\c.zip\""
        );
        assert_eq!(
            attachment("été"),
            "attachment; filename=\"_t_.zip\"; filename*=UTF-8''%C3%A9t%C3%A9%2Ezip"
        );
    }
}
