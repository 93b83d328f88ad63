//! A connection's byte stream: plain TCP, or TLS over it. Everything above
//! reads and writes through this one type, which counts the bytes for
//! [`crate::Server::stats`]; only sendfile and the stall detector reach for
//! the socket underneath.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::stats::Traffic;

pub(crate) struct Stream {
    transport: Transport,
    /// Where the bytes are counted: the slot of the connection's I/O thread.
    traffic: Arc<Traffic>,
}

enum Transport {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Stream {
    /// A plain TCP stream counting into `traffic`.
    pub(crate) fn plain_tcp(tcp: TcpStream, traffic: Arc<Traffic>) -> Stream {
        Stream {
            transport: Transport::Plain(tcp),
            traffic,
        }
    }

    fn tcp(&self) -> &TcpStream {
        match &self.transport {
            Transport::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.get_ref().0,
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
        match &self.transport {
            Transport::Plain(tcp) => Some(tcp),
            #[cfg(feature = "tls")]
            Transport::Tls(_) => None,
        }
    }

    /// The counters of the connection's I/O thread.
    pub(crate) fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// Waits until a read would make progress, holding no read buffer of
    /// ours meanwhile: bytes on the socket, or (TLS) bytes already decrypted.
    pub(crate) async fn readable(&self) -> io::Result<()> {
        match &self.transport {
            Transport::Plain(tcp) => tcp.readable().await,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => {
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
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = match &mut this.transport {
            Transport::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => {
                let read = Pin::new(tls.as_mut()).poll_read(cx, buf);
                if tls.get_ref().1.wants_write() {
                    // What rustls queued while reading (the alert refusing a
                    // renegotiation, say) goes now, not with the next reply:
                    // the client may be waiting for it.
                    let _ = Pin::new(tls.as_mut()).poll_flush(cx);
                }
                read
            }
        };
        let got = buf.filled().len() - before;
        if got > 0 {
            this.traffic.read(got);
        }
        read
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = match &mut this.transport {
            Transport::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        };
        if let Poll::Ready(Ok(n)) = written {
            this.traffic.wrote(n as u64);
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
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
    PlainHttp(Stream),
    /// Closed, silent, or the handshake failed (logged).
    Gone,
}

#[cfg(feature = "tls")]
impl Stream {
    /// Reads the client's first byte, then completes the TLS handshake; both
    /// within `deadline`, so a handshake that never finishes costs a
    /// connection slot no longer than a request head that never ends.
    pub(crate) async fn open_tls(
        self,
        identity: &crate::tls::TlsIdentity,
        deadline: tokio::time::Instant,
        remote: std::net::SocketAddr,
    ) -> Opened {
        use tokio::time::timeout_at;
        let Transport::Plain(tcp) = self.transport else {
            return Opened::Tls(self);
        };
        let traffic = self.traffic;
        let mut first = [0u8; 1];
        match timeout_at(deadline, tcp.peek(&mut first)).await {
            Ok(Ok(1)) => {}
            _ => return Opened::Gone,
        }
        if !crate::http::request::starts_tls_handshake(first[0]) {
            return Opened::PlainHttp(Stream::plain_tcp(tcp, traffic));
        }
        match timeout_at(deadline, identity.acceptor().accept(tcp)).await {
            Ok(Ok(tls)) => Opened::Tls(Stream {
                transport: Transport::Tls(Box::new(tls)),
                traffic,
            }),
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
}
