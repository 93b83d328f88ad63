//! One connection's loop: read a request head, route it, hand it to the
//! driver of its endpoint kind, and settle what follows (keep-alive, drain,
//! close). The only code that reads from the socket; replies are written
//! through the helpers here.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{timeout, timeout_at, Instant, Sleep};

use crate::auth::{basic_matches, Auth, AuthDecision};
use crate::drivers::websocket::{self as ws};
use crate::drivers::{decide, denial};
use crate::error::Result;
use crate::host::request::RequestInfo;
use crate::http::exchange::{AfterReply, Exchange, ReplyBody};
use crate::http::reply::{encode_head, error_reply, Framing, ReplyHead, Status, Wire};
#[cfg(feature = "tls")]
use crate::http::reply::{https_url, plain_http_on_tls_port};
use crate::http::request::{self as proto, Decoded, HeadLimits, RequestHead, Version};
use crate::io::sendfile::while_progressing;
use crate::io::stream::Stream;
use crate::limits;
use crate::observe::Observation;
use crate::router::Match;
use crate::server::{Endpoint, Shared};
use crate::Methods;

/// Read size for request heads; bodies read [`limits::BODY_PIECE_BYTES`] at a time.
pub(crate) const HEAD_READ_BYTES: usize = 4096;

/// Bodies up to this size go out in the same write as the head.
pub(crate) const COALESCE_BODY_BYTES: usize = 16 * 1024;

/// Head buffers an I/O thread keeps for its connections' next requests. A
/// connection waiting for a request holds no buffer (idle connections stay
/// cheap); the one it gives up is kept here, and the next connection to
/// read a head takes it instead of allocating one. Enough for the
/// connections one thread serves at once under load; at most 64 × 4 KiB per
/// I/O thread however many go idle together.
pub(crate) const SPARE_HEAD_BUFFERS: usize = 64;

thread_local! {
    static SPARE: std::cell::RefCell<Vec<BytesMut>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A buffer for reading a head: a spare one of this thread's, or a new one.
fn take_head_buffer() -> BytesMut {
    SPARE
        .with(|spare| spare.borrow_mut().pop())
        .unwrap_or_default()
}

/// A connection's buffer as it goes idle: kept for another head when
/// nothing else refers to its memory (a request head still alive, say) and
/// it is a head buffer's size; let go otherwise.
fn give_back_head_buffer(mut buf: BytesMut) {
    buf.clear();
    if buf.try_reclaim(HEAD_READ_BYTES) && buf.capacity() <= 2 * HEAD_READ_BYTES {
        SPARE.with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < SPARE_HEAD_BUFFERS {
                spare.push(buf);
            }
        });
    }
}

/// Whether the connection serves another request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    KeepAlive,
    Close,
}

pub(crate) enum HeadError {
    Refused(proto::ProtoError),
    TimedOut,
    Gone,
}

pub(crate) struct Connection {
    pub(crate) shared: Arc<Shared>,
    pub(crate) stream: Stream,
    pub(crate) remote: SocketAddr,
    pub(crate) buf: BytesMut,
    pub(crate) out: BytesMut,
    /// The wait for the next request: one timer for the connection's life,
    /// moved later before each wait (a moment's work), instead of a timer
    /// made and cancelled per request.
    pub(crate) idle: Pin<Box<Sleep>>,
}

impl Connection {
    pub(crate) async fn run(mut self) {
        let mut first = true;
        loop {
            let head = match self.read_head(first).await {
                Ok(Some(head)) => head,
                Ok(None) | Err(HeadError::Gone) => return,
                Err(HeadError::Refused(e)) => return self.refuse(e.status, e.reason).await,
                Err(HeadError::TimedOut) => {
                    return self.refuse(408, "request head timed out").await
                }
            };
            first = false;
            let started = Instant::now();
            let mut x = Exchange::new(&head, self.shared.limits.max_drain_bytes);
            let next = self.serve(&mut x, head).await;
            log::info!(
                target: "uhttpd",
                "{} \"{} {} {}\" {} {}",
                self.remote,
                x.line.method(),
                x.line.target(),
                if x.version == Version::Http10 { "HTTP/1.0" } else { "HTTP/1.1" },
                x.status,
                x.bytes_out
            );
            self.stream.traffic().finished(x.status);
            self.shared.observer.record(|| Observation::Request {
                method: x.line.method().to_owned(),
                target: x.line.target().to_owned(),
                status: x.status,
                bytes_out: x.bytes_out,
                duration: started.elapsed(),
                peer: self.remote,
            });
            if next == Next::Close {
                let _ = self.stream.shutdown().await;
                return;
            }
        }
    }

    /// Reads one request head. `Ok(None)`: the client closed (or idled out) between requests.
    async fn read_head(&mut self, first: bool) -> Result<Option<RequestHead>, HeadError> {
        let limits = self.shared.limits;
        let head_limits = HeadLimits {
            max_head_bytes: limits.max_head_bytes,
            max_uri_bytes: limits.max_uri_bytes,
        };
        if self.buf.is_empty() {
            // Idle: hold no buffer while waiting, so idle connections stay cheap.
            give_back_head_buffer(std::mem::take(&mut self.buf));
            let wait = if first {
                limits.header_timeout
            } else {
                limits.idle_timeout
            };
            self.idle.as_mut().reset(Instant::now() + wait);
            tokio::select! {
                ready = self.stream.readable() => {
                    if ready.is_err() {
                        return Ok(None);
                    }
                }
                () = self.idle.as_mut() => return Ok(None),
            }
            self.buf = take_head_buffer();
        }
        let deadline = Instant::now() + limits.header_timeout;
        loop {
            if !self.buf.is_empty() {
                if first && self.stream.is_plain() && proto::starts_tls_handshake(self.buf[0]) {
                    log::info!(target: "uhttpd", "{}: TLS handshake on a plain HTTP port: closed", self.remote);
                    return Err(HeadError::Gone);
                }
                match proto::parse_head(&mut self.buf, &head_limits) {
                    Ok(Some(head)) => return Ok(Some(head)),
                    Ok(None) => {}
                    Err(e) => return Err(HeadError::Refused(e)),
                }
            }
            self.buf.reserve(HEAD_READ_BYTES);
            match timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) if self.buf.is_empty() => return Ok(None),
                Ok(Ok(0)) | Ok(Err(_)) => return Err(HeadError::Gone),
                Ok(Ok(_)) => {}
                Err(_) if self.buf.is_empty() => return Ok(None),
                Err(_) => return Err(HeadError::TimedOut),
            }
        }
    }

    /// Answers a request that could not be parsed, and closes.
    async fn refuse(self, status: u16, reason: &str) {
        log::info!(target: "uhttpd", "{} refused: {status} {reason}", self.remote);
        self.refuse_with(error_reply(status)).await
    }

    /// Answers plain HTTP sent to a TLS port (nginx's 497, as a 400): the
    /// URL to use instead, in plain text, and closes.
    #[cfg(feature = "tls")]
    pub(crate) async fn refuse_plain_http(mut self) {
        let reached = self.stream.local_addr();
        let url = match self.read_head(true).await {
            Ok(Some(head)) => https_url(head.header("host"), head.target(), reached),
            _ => https_url(None, "/", reached),
        };
        log::info!(target: "uhttpd", "{}: plain HTTP on the TLS port, told to use {url}", self.remote);
        self.refuse_with(plain_http_on_tls_port(&url)).await
    }

    async fn refuse_with(mut self, (head, body): (ReplyHead, Bytes)) {
        self.stream.traffic().finished(head.status.code);
        let wire = Wire {
            keep_alive: false,
            http10: false,
            cors: self.shared.cors,
        };
        self.out.clear();
        encode_head(
            &mut self.out,
            &head,
            Framing::Length(body.len() as u64),
            wire,
        );
        self.out.extend_from_slice(&body);
        let out = std::mem::take(&mut self.out);
        let _ = self.write(&out).await;
        let _ = self.stream.shutdown().await;
    }

    async fn serve(&mut self, x: &mut Exchange, head: RequestHead) -> Next {
        if head.method() == "OPTIONS" {
            let reply = self.options_reply(&head);
            return self.reply_and_finish(x, reply).await;
        }
        let Some(method) = Methods::from_token(head.method()) else {
            return self.reply_and_finish(x, error_reply(501)).await;
        };
        if let Auth::Basic(expected) = &self.shared.auth {
            if !basic_matches(expected, head.header("authorization")) {
                return self.reply_and_finish(x, denial(401)).await;
            }
        }
        let found = {
            let router = self.shared.router.read().unwrap_or_else(|e| e.into_inner());
            let upgrade = ws::is_upgrade(&head);
            let accept = |route: &crate::router::Route<Endpoint>| {
                upgrade || !matches!(route.target, Endpoint::WebSocket(_))
            };
            match router.find(head.path(), method, accept) {
                Match::Found(route) => Ok(route.target.clone()),
                Match::MethodNotAllowed(allowed) => Err(allowed),
                Match::NotFound => Err(Methods::NONE),
            }
        };
        let endpoint = match found {
            Ok(endpoint) => endpoint,
            Err(allowed) if allowed.is_empty() => {
                return self.reply_and_finish(x, error_reply(404)).await
            }
            Err(allowed) => {
                let (mut reply, body) = error_reply(405);
                let _ = reply.add_header("Allow", allowed.allow_header());
                return self.reply_and_finish(x, (reply, body)).await;
            }
        };
        let info = RequestInfo {
            head,
            remote: self.remote,
            method,
        };
        // Handlers check AUTH_CUSTOM on their own thread; every other endpoint here.
        let info = match endpoint {
            Endpoint::Handler(_) => info,
            _ => match self.authenticate(info).await {
                Ok(info) => info,
                Err(code) => return self.reply_and_finish(x, denial(code)).await,
            },
        };
        // Shared only with the threads that need it: files and uploads are
        // decided with the request in hand.
        match endpoint {
            Endpoint::Handler(handler) => self.run_handler(x, Arc::new(info), handler).await,
            Endpoint::Files(files) => self.serve_files(x, info, files).await,
            Endpoint::Receiver(receiver) => self.receive(x, info, receiver).await,
            Endpoint::WebSocket(handler) => self.run_websocket(x, Arc::new(info), handler).await,
            Endpoint::Events(hub) => self.stream_events(x, &hub).await,
        }
    }

    /// AUTH_CUSTOM, on a decision thread; the request back when allowed.
    async fn authenticate(&self, info: RequestInfo) -> Result<RequestInfo, u16> {
        let Auth::Custom(authenticator) = &self.shared.auth else {
            return Ok(info);
        };
        let info = Arc::new(info);
        let (authenticator, asked) = (authenticator.clone(), info.clone());
        match decide(&self.shared, move || authenticator.authenticate(&asked)).await {
            // The decision thread let go of its copy before answering.
            Some(AuthDecision::Allow) => Ok(Arc::unwrap_or_clone(info)),
            Some(AuthDecision::Deny(code)) => Err(code),
            None => Err(503),
        }
    }

    /// OPTIONS: the verbs routed for the path (CORS preflights included); never challenged.
    fn options_reply(&self, head: &RequestHead) -> (ReplyHead, Bytes) {
        let allowed = {
            let router = self.shared.router.read().unwrap_or_else(|e| e.into_inner());
            if head.target() == "*" {
                router.all_methods()
            } else {
                router.allowed(head.path())
            }
        };
        if allowed.is_empty() && head.target() != "*" {
            return error_reply(404);
        }
        let mut reply = ReplyHead::new(Status::from_code(204).unwrap_or_default());
        let allow = allowed.allow_header();
        let _ = reply.add_header("Allow", allow.clone());
        if self.shared.cors {
            let _ = reply.add_header("Access-Control-Allow-Methods", allow);
            if let Some(asked) = head.header("access-control-request-headers") {
                let _ = reply.add_header("Access-Control-Allow-Headers", asked.to_vec());
            }
            let _ = reply.add_header("Access-Control-Max-Age", "86400");
        }
        (reply, Bytes::new())
    }

    pub(crate) async fn reply_and_finish(
        &mut self,
        x: &mut Exchange,
        (head, body): (ReplyHead, Bytes),
    ) -> Next {
        if self.write_full(x, &head, &body).await.is_err() {
            return Next::Close;
        }
        self.finish(x).await
    }

    /// After the reply: what the exchange decides (keep alive, skip what is
    /// left of the body if that is cheap, or close).
    pub(crate) async fn finish(&mut self, x: &mut Exchange) -> Next {
        let closing = *self.shared.shutdown.borrow();
        match x.after_reply(closing) {
            AfterReply::KeepAlive => Next::KeepAlive,
            AfterReply::Drain { budget } if self.drain_body(x, budget).await => Next::KeepAlive,
            AfterReply::Drain { .. } | AfterReply::Close => Next::Close,
        }
    }

    /// Reads and discards the rest of the body, at most `budget` bytes; true
    /// when it ended within it.
    async fn drain_body(&mut self, x: &mut Exchange, mut budget: u64) -> bool {
        loop {
            match x.decoder.decode(&mut self.buf, usize::MAX) {
                Ok(Decoded::Data(piece)) => match budget.checked_sub(piece.len() as u64) {
                    Some(left) => budget = left,
                    None => return false,
                },
                Ok(Decoded::Done) => return true,
                Ok(Decoded::NeedMore) => {
                    if !matches!(self.fill().await, Ok(n) if n > 0) {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
    }

    /// The go-ahead an `Expect: 100-continue` client waits for, once.
    pub(crate) async fn send_continue(&mut self, x: &mut Exchange) -> io::Result<()> {
        if x.take_continue() {
            self.write(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        Ok(())
    }

    /// Reads more bytes into `buf`, within the stall timeout.
    pub(crate) async fn fill(&mut self) -> io::Result<usize> {
        match timeout(
            self.shared.limits.io_timeout,
            read_more(&mut self.stream, &mut self.buf),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    /// Writes all of `data`. The stall timeout bounds time without progress,
    /// not the transfer: a slow but steady client is served to the end.
    pub(crate) async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let (fd, limit) = (self.stream.fd(), self.shared.limits.io_timeout);
        let mut rest = data;
        while !rest.is_empty() {
            let written = while_progressing(fd, limit, self.stream.write(rest)).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            rest = &rest[written..];
        }
        // TLS keeps records it could not send yet; plain TCP has none.
        while_progressing(fd, limit, self.stream.flush()).await
    }

    pub(crate) async fn write_out(&mut self, x: &mut Exchange) -> io::Result<()> {
        let out = std::mem::take(&mut self.out);
        x.bytes_out += out.len() as u64;
        let result = self.write(&out).await;
        self.out = out;
        self.out.clear();
        result
    }

    /// Starts the reply with `head`: the exchange decides its framing and
    /// connection flags; the head goes out now.
    pub(crate) async fn write_head(
        &mut self,
        x: &mut Exchange,
        head: &ReplyHead,
        body: ReplyBody,
    ) -> io::Result<()> {
        self.encode_reply_head(x, head, body)?;
        self.write_out(x).await
    }

    /// Starts a reply with `head`: the exchange decides its framing; the head
    /// is encoded into `out`, not sent. True when a body follows (not for
    /// HEAD, nor a status without one).
    pub(crate) fn encode_reply_head(
        &mut self,
        x: &mut Exchange,
        head: &ReplyHead,
        body: ReplyBody,
    ) -> io::Result<bool> {
        let (framing, wire) = x
            .start_reply(head.status.code, body, self.shared.cors)
            .map_err(|_| io::ErrorKind::InvalidInput)?;
        self.out.clear();
        encode_head(&mut self.out, head, framing, wire);
        Ok(x.sends_body(head.status.code))
    }

    /// A whole reply: head and body, in one write when the body is small.
    pub(crate) async fn write_full(
        &mut self,
        x: &mut Exchange,
        head: &ReplyHead,
        body: &[u8],
    ) -> io::Result<()> {
        let send_body = self.encode_reply_head(x, head, ReplyBody::Length(body.len() as u64))?;
        if send_body && body.len() <= COALESCE_BODY_BYTES {
            self.out.extend_from_slice(body);
        }
        self.write_out(x).await?;
        if send_body && body.len() > COALESCE_BODY_BYTES {
            x.bytes_out += body.len() as u64;
            self.write(body).await?;
        }
        Ok(())
    }
}

pub(crate) async fn read_more(stream: &mut Stream, buf: &mut BytesMut) -> io::Result<usize> {
    buf.reserve(limits::BODY_PIECE_BYTES);
    stream.read_buf(buf).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spare() -> usize {
        SPARE.with(|spare| spare.borrow().len())
    }

    #[test]
    fn head_buffers_are_kept_only_when_free_small_and_few() {
        let read = |buf: &mut BytesMut| {
            buf.reserve(HEAD_READ_BYTES);
            buf.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        };
        let mut buf = take_head_buffer();
        read(&mut buf);
        let head = buf.split_to(8).freeze();
        // The head still refers to the memory: not kept.
        give_back_head_buffer(buf.split());
        assert_eq!(spare(), 0);
        drop(head);
        let mut buf = take_head_buffer();
        read(&mut buf);
        let address = buf.as_ptr();
        drop(buf.split_to(8));
        give_back_head_buffer(buf);
        assert_eq!(spare(), 1);
        // The same memory serves the next head, from its start.
        let mut again = take_head_buffer();
        read(&mut again);
        assert_eq!(again.as_ptr(), address);
        // Grown for a body: not kept.
        again.reserve(limits::BODY_PIECE_BYTES);
        give_back_head_buffer(again);
        assert_eq!(spare(), 0);
        for _ in 0..SPARE_HEAD_BUFFERS + 5 {
            give_back_head_buffer(BytesMut::with_capacity(HEAD_READ_BYTES));
        }
        assert_eq!(spare(), SPARE_HEAD_BUFFERS);
    }
}
