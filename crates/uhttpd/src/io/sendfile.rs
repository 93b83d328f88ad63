//! Sending file bytes and telling a slow client from a stalled one: the
//! kernel copies file pages to the socket (sendfile), and a write is given up
//! only when the socket's unsent queue stops shrinking.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use tokio::io::Interest;
use tokio::time::timeout;

use crate::http::exchange::Exchange;
use crate::io::conn::Connection;
use crate::platform::linux_fast_paths;
use futures_util::FutureExt;

/// Piece size where files are read and written instead of sent by the kernel.
const COPY_PIECE_BYTES: usize = 64 * 1024;

/// Largest single sendfile(2) call, so one big download cannot starve the
/// other connections of the same I/O thread.
const SENDFILE_CHUNK: u64 = 1 << 20;

impl Connection {
    /// Sends `len` bytes of `file` from `start`: with sendfile(2) on Linux
    /// over plain TCP (the kernel copies page cache to socket), else read
    /// and written in pieces (TLS encrypts them in between).
    pub(crate) async fn send_file(
        &mut self,
        x: &mut Exchange,
        file: &std::fs::File,
        start: u64,
        len: u64,
    ) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if linux_fast_paths() && self.stream.is_plain() {
            return self.sendfile(x, file, start, len).await;
        }
        self.copy_file(x, file, start, len).await
    }

    /// The portable way: `pread` a piece, write it, until `len` bytes are out.
    async fn copy_file(
        &mut self,
        x: &mut Exchange,
        file: &std::fs::File,
        start: u64,
        len: u64,
    ) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut piece = vec![0u8; COPY_PIECE_BYTES.min(len as usize)];
        let mut offset = start;
        let end = start + len;
        while offset < end {
            let want = ((end - offset) as usize).min(piece.len());
            let n = file.read_at(&mut piece[..want], offset)?;
            if n == 0 {
                // The file shrank under us: the promised length cannot be kept.
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.write(&piece[..n]).await?;
            x.bytes_out += n as u64;
            offset += n as u64;
        }
        Ok(())
    }

    /// Streams `len` bytes of `file` from `start` with sendfile(2): the kernel
    /// copies page cache to socket, the process never touches the bytes.
    #[cfg(target_os = "linux")]
    async fn sendfile(
        &mut self,
        x: &mut Exchange,
        file: &std::fs::File,
        start: u64,
        len: u64,
    ) -> io::Result<()> {
        let Some(stream) = self.stream.plain() else {
            return Err(io::ErrorKind::Unsupported.into());
        };
        let (socket_fd, file_fd) = (self.stream.fd(), file.as_raw_fd());
        let end = start + len;
        let mut offset = libc::off_t::try_from(start).map_err(|_| io::ErrorKind::InvalidInput)?;
        while (offset as u64) < end {
            let count = (end - offset as u64).min(SENDFILE_CHUNK) as usize;
            let sent = while_progressing(socket_fd, self.shared.limits.io_timeout, async {
                loop {
                    stream.writable().await?;
                    let result = stream.try_io(Interest::WRITABLE, || {
                        // SAFETY: both descriptors are open for the call; offset is ours.
                        let n = unsafe { libc::sendfile(socket_fd, file_fd, &mut offset, count) };
                        if n < 0 {
                            Err(io::Error::last_os_error())
                        } else {
                            Ok(n as u64)
                        }
                    });
                    match result {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        other => return other,
                    }
                }
            })
            .await?;
            if sent == 0 {
                // The file shrank under us: the promised length cannot be kept.
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            // Bytes the kernel sent pass by the stream: counted here.
            self.stream.traffic().wrote(sent);
            x.bytes_out += sent;
        }
        Ok(())
    }
}

/// Awaits `operation` (a write) as long as the client keeps taking data: each
/// `limit` without the socket's unsent queue shrinking is a stall. The kernel's
/// send buffer can hold megabytes, so a blocked write alone says nothing about
/// a client that reads slowly but steadily.
pub(crate) async fn while_progressing<T>(
    fd: std::os::fd::RawFd,
    limit: Duration,
    operation: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    tokio::pin!(operation);
    // Most writes complete at once: only a write that waits needs the baseline.
    if let Some(result) = operation.as_mut().now_or_never() {
        return result;
    }
    let mut unsent = unsent_bytes(fd);
    loop {
        match timeout(limit, &mut operation).await {
            Ok(result) => return result,
            Err(_) => {
                let now = unsent_bytes(fd);
                if now >= unsent {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                unsent = now;
            }
        }
    }
}

/// Bytes written to the socket that the client has not taken yet; `usize::MAX`
/// where that cannot be known (then a write waiting a whole `limit` is a stall).
fn unsent_bytes(fd: std::os::fd::RawFd) -> usize {
    #[cfg(target_os = "linux")]
    if linux_fast_paths() {
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (SIOCOUTQ for sockets) writes one int through the pointer.
        if unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut queued) } == 0 {
            return usize::try_from(queued).unwrap_or(0);
        }
    }
    let _ = fd;
    usize::MAX
}
