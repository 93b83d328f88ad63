//! A connection's byte stream: plain TCP, or TLS over it. Everything above
//! reads and writes through this one type; only sendfile and the stall
//! detector reach for the socket underneath.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub(crate) enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.get_ref().0,
        }
    }

    /// The socket's descriptor (for sendfile and the unsent-queue probe).
    pub(crate) fn fd(&self) -> RawFd {
        self.tcp().as_raw_fd()
    }

    /// The local address the client reached.
    #[cfg(feature = "tls")]
    pub(crate) fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.tcp().local_addr().ok()
    }

    /// Whether bytes go out as they are, so the kernel may send file pages
    /// straight to the socket.
    pub(crate) fn is_plain(&self) -> bool {
        self.plain().is_some()
    }

    /// Plain TCP underneath, for sendfile on a plain stream.
    pub(crate) fn plain(&self) -> Option<&TcpStream> {
        match self {
            Stream::Plain(tcp) => Some(tcp),
            #[cfg(feature = "tls")]
            Stream::Tls(_) => None,
        }
    }

    /// Waits until a read would make progress, holding no read buffer of
    /// ours meanwhile: bytes on the socket, or (TLS) bytes already decrypted.
    pub(crate) async fn readable(&self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.readable().await,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => {
                if tls.get_ref().1.wants_read() {
                    tls.get_ref().0.readable().await
                } else {
                    Ok(())
                }
            }
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => {
                let read = Pin::new(tls.as_mut()).poll_read(cx, buf);
                if tls.get_ref().1.wants_write() {
                    // What rustls queued while reading (the alert refusing a
                    // renegotiation, say) goes now, not with the next reply:
                    // the client may be waiting for it.
                    let _ = Pin::new(tls.as_mut()).poll_flush(cx);
                }
                read
            }
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A stream that asks the kernel for quick ACKs after every read that got
/// bytes (when `quick` is set): a peer that writes a small message in two
/// pieces with Nagle on (webrepl_cli.py) then gets its first piece
/// acknowledged at once and sends the second without waiting for the
/// delayed-ACK timer. See [`crate::platform::quick_ack`].
pub(crate) struct QuickAcking<'a> {
    stream: &'a mut Stream,
    quick: bool,
}

impl<'a> QuickAcking<'a> {
    pub(crate) fn new(stream: &'a mut Stream, quick: bool) -> QuickAcking<'a> {
        QuickAcking { stream, quick }
    }
}

impl AsyncRead for QuickAcking<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut *this.stream).poll_read(cx, buf);
        if this.quick && buf.filled().len() > before {
            crate::platform::quick_ack(this.stream.fd());
        }
        read
    }
}

impl AsyncWrite for QuickAcking<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().stream).poll_shutdown(cx)
    }
}

/// What a connection to a TLS port turned out to be.
#[cfg(feature = "tls")]
pub(crate) enum Opened {
    /// The handshake finished.
    Tls(Stream),
    /// The client spoke plain HTTP: it is told to use `https://`.
    PlainHttp(TcpStream),
    /// Closed, silent, or the handshake failed (logged).
    Gone,
}

/// Reads the client's first byte, then completes the TLS handshake; both
/// within `deadline`, so a handshake that never finishes costs a connection
/// slot no longer than a request head that never ends.
#[cfg(feature = "tls")]
pub(crate) async fn open_tls(
    tcp: TcpStream,
    identity: &crate::tls::TlsIdentity,
    deadline: tokio::time::Instant,
    remote: std::net::SocketAddr,
) -> Opened {
    use tokio::time::timeout_at;
    let mut first = [0u8; 1];
    match timeout_at(deadline, tcp.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        _ => return Opened::Gone,
    }
    if !crate::http::request::starts_tls_handshake(first[0]) {
        return Opened::PlainHttp(tcp);
    }
    match timeout_at(deadline, identity.acceptor().accept(tcp)).await {
        Ok(Ok(tls)) => Opened::Tls(Stream::Tls(Box::new(tls))),
        Ok(Err(e)) => {
            log::info!(target: "uhttpd", "{remote}: TLS handshake failed: {e}");
            Opened::Gone
        }
        Err(_) => {
            log::info!(target: "uhttpd", "{remote}: TLS handshake timed out");
            Opened::Gone
        }
    }
}
