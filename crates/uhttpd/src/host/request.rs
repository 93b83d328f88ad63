//! The handler's side of a request: blocking body reads and replies, bridged to
//! the connection task by bounded channels (so a slow client or a slow handler
//! only ever buffers a few pieces). A `Request` dropped without a reply is
//! answered 500 by the connection task; an unfinished chunked reply is ended.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};

use crate::error::{Error, Result};
use crate::host::pool::wait_outside;
use crate::http::exchange::BodyRefusal;
use crate::http::reply::ReplyHead;
use crate::http::request::{BodyKind, RequestHead};
use crate::limits;
use crate::Methods;

/// What a handler or authenticator may know about a request.
#[derive(Clone, Debug)]
pub struct RequestInfo {
    /// The request line and headers as parsed.
    pub head: RequestHead,
    /// The client's address.
    pub remote: SocketAddr,
    /// The routing verb (a HEAD request routes as GET).
    pub method: Methods,
}

impl RequestInfo {
    /// The target up to the first `?` or `#`, still percent-encoded.
    pub fn path(&self) -> &str {
        self.head.path()
    }

    /// The raw query string, without the `?`; empty if there is none.
    pub fn query(&self) -> &str {
        self.head.query()
    }

    /// The first header field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.head.header(name)
    }

    /// "the handler for GET /path", how log lines name the callback.
    pub fn handler_name(&self) -> String {
        format!(
            "the handler for {} {}",
            self.head.method(),
            self.head.target()
        )
    }

    /// Every header once: lowercase names in the order first seen, the values
    /// of repeated fields joined by `, ` (the seed's `headers()`).
    pub fn headers_joined(&self) -> Vec<(String, Vec<u8>)> {
        let mut joined: Vec<(String, Vec<u8>)> = Vec::new();
        for (name, field) in self.head.fields() {
            match joined
                .iter_mut()
                .find(|(seen, _)| seen.eq_ignore_ascii_case(name))
            {
                Some((_, value)) => {
                    value.extend_from_slice(b", ");
                    value.extend_from_slice(field);
                }
                None => joined.push((name.to_ascii_lowercase(), field.to_vec())),
            }
        }
        joined
    }

    /// The Content-Length, -1 for a chunked body, 0 without a body.
    pub fn length(&self) -> i64 {
        match self.head.body {
            BodyKind::Empty => 0,
            BodyKind::Length(n) => i64::try_from(n).unwrap_or(i64::MAX),
            BodyKind::Chunked => -1,
        }
    }
}

/// Body pieces from the connection to the handler.
#[derive(Debug)]
pub(crate) enum BodyMsg {
    Data(Bytes),
    End,
    Failed(BodyRefusal),
}

/// Replies from the handler to the connection.
#[derive(Debug)]
pub(crate) enum ReplyEvent {
    Full(ReplyHead, Bytes),
    ChunkStart(ReplyHead),
    Chunk(Bytes),
    ChunkEnd,
    Raw(Bytes),
    /// A refusal decided before the handler ran (custom authentication).
    Deny(u16),
    /// The handler failed after starting a streamed reply: close without ending it.
    Abort,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReplyState {
    Fresh,
    Chunked,
    Raw,
    Done,
}

/// A request being answered by a handler on a worker thread. All methods
/// block; call them from worker threads, never from inside an async runtime.
pub struct Request {
    info: Arc<RequestInfo>,
    /// The body's pieces and the go-ahead the connection waits for before
    /// reading them; `None` for a request without a body (nothing to make).
    body: Option<(mpsc::Receiver<BodyMsg>, Arc<Notify>)>,
    body_asked: bool,
    body_ended: bool,
    pending: Bytes,
    reply_tx: mpsc::Sender<ReplyEvent>,
    reply: ReplyState,
}

/// The connection task's ends of a request's channels.
pub(crate) struct ConnectionEnds {
    /// Where the body's pieces go, and the handler's go-ahead to read them;
    /// `None` without a body.
    pub body: Option<(mpsc::Sender<BodyMsg>, Arc<Notify>)>,
    pub reply_rx: mpsc::Receiver<ReplyEvent>,
}

/// The two ends of a request handed to a handler; the body's channel is
/// made only when there is a body.
pub(crate) fn channel(info: Arc<RequestInfo>, has_body: bool) -> (Request, ConnectionEnds) {
    let (reply_tx, reply_rx) = mpsc::channel(limits::RESPONSE_CHANNEL_PIECES);
    let (body, ends_body) = if has_body {
        let (body_tx, body_rx) = mpsc::channel(limits::BODY_CHANNEL_PIECES);
        let wanted = Arc::new(Notify::new());
        (Some((body_rx, wanted.clone())), Some((body_tx, wanted)))
    } else {
        (None, None)
    };
    let request = Request {
        info,
        body,
        body_asked: false,
        body_ended: !has_body,
        pending: Bytes::new(),
        reply_tx,
        reply: ReplyState::Fresh,
    };
    let ends = ConnectionEnds {
        body: ends_body,
        reply_rx,
    };
    (request, ends)
}

impl Request {
    /// What is known about the request: head, client and routing verb.
    pub fn info(&self) -> &Arc<RequestInfo> {
        &self.info
    }

    /// Up to `max` bytes of the body without copying; empty at its end.
    pub fn read_piece(&mut self, max: usize) -> io::Result<Bytes> {
        if self.pending.is_empty() && !self.body_ended {
            self.pending = self.next_piece()?;
        }
        let n = max.min(self.pending.len());
        Ok(self.pending.split_to(n))
    }

    /// The rest of the body (or up to `max` bytes when given).
    pub fn read_to_end(&mut self, max: Option<usize>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let room = max.map_or(usize::MAX, |m| m - out.len());
            if room == 0 {
                return Ok(out);
            }
            let piece = self.read_piece(room)?;
            if piece.is_empty() {
                return Ok(out);
            }
            out.extend_from_slice(&piece);
        }
    }

    fn next_piece(&mut self) -> io::Result<Bytes> {
        let Some((body_rx, wanted)) = self.body.as_mut() else {
            self.body_ended = true;
            return Ok(Bytes::new());
        };
        if !self.body_asked {
            // The connection sends `100 Continue` and starts reading only now.
            self.body_asked = true;
            wanted.notify_one();
        }
        loop {
            let next = match body_rx.try_recv() {
                Ok(message) => Some(message),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) => wait_outside(|| body_rx.blocking_recv()),
            };
            match next {
                Some(BodyMsg::Data(piece)) if piece.is_empty() => continue,
                Some(BodyMsg::Data(piece)) => return Ok(piece),
                Some(BodyMsg::End) => {
                    self.body_ended = true;
                    return Ok(Bytes::new());
                }
                Some(BodyMsg::Failed(failure)) => {
                    self.body_ended = true;
                    return Err(failure.into());
                }
                None => {
                    self.body_ended = true;
                    return Err(BodyRefusal::ClientGone.into());
                }
            }
        }
    }

    /// Sends a whole reply (the seed's `write`).
    pub fn respond(&mut self, head: ReplyHead, body: Bytes) -> Result<()> {
        if self.reply != ReplyState::Fresh {
            return Err(Error::AlreadyReplied(
                "a reply was already sent: write() can be called once, and not after send_chunk() or send()",
            ));
        }
        self.reply = ReplyState::Done;
        self.emit(ReplyEvent::Full(head, body))
    }

    /// Sends one chunk of a chunked reply; `head` is used by the first call only.
    pub fn send_chunk(&mut self, head: ReplyHead, data: Bytes) -> Result<()> {
        match self.reply {
            ReplyState::Fresh => {
                self.reply = ReplyState::Chunked;
                self.emit(ReplyEvent::ChunkStart(head))?;
            }
            ReplyState::Chunked => {}
            ReplyState::Raw | ReplyState::Done => {
                return Err(Error::AlreadyReplied(
                    "send_chunk() cannot follow write(), send() or the final send_chunk(None)",
                ))
            }
        }
        if data.is_empty() {
            return Ok(());
        }
        self.emit(ReplyEvent::Chunk(data))
    }

    /// Ends a chunked reply (`send_chunk(None)`); starts an empty one if none was started.
    pub fn end_chunks(&mut self, head: ReplyHead) -> Result<()> {
        self.send_chunk(head, Bytes::new())?;
        self.reply = ReplyState::Done;
        self.emit(ReplyEvent::ChunkEnd)
    }

    /// Writes bytes to the socket verbatim; the connection closes after the handler.
    pub fn send_raw(&mut self, data: Bytes) -> Result<()> {
        match self.reply {
            ReplyState::Fresh | ReplyState::Raw => {
                self.reply = ReplyState::Raw;
                self.emit(ReplyEvent::Raw(data))
            }
            ReplyState::Chunked | ReplyState::Done => Err(Error::AlreadyReplied(
                "send() cannot follow write() or send_chunk()",
            )),
        }
    }

    /// Answers with an error status before any reply (e.g. an authenticator's refusal).
    pub fn deny(mut self, status: u16) {
        if self.reply == ReplyState::Fresh {
            self.reply = ReplyState::Done;
            let _ = self.emit(ReplyEvent::Deny(status));
        }
    }

    /// The handler failed: a 500 if nothing was sent, else the connection is
    /// cut so a half-sent reply never looks complete.
    pub fn fail(mut self) {
        let event = match self.reply {
            ReplyState::Fresh => ReplyEvent::Deny(500),
            ReplyState::Chunked | ReplyState::Raw => ReplyEvent::Abort,
            ReplyState::Done => return,
        };
        self.reply = ReplyState::Done;
        let _ = self.emit(event);
    }

    /// True once a reply was started.
    pub fn replied(&self) -> bool {
        self.reply != ReplyState::Fresh
    }

    /// Hands a reply event to the connection, waiting (outside the GIL on a
    /// Python worker) only when the client is behind.
    fn emit(&self, event: ReplyEvent) -> Result<()> {
        match self.reply_tx.try_send(event) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(event)) => {
                let reply_tx = &self.reply_tx;
                let sent = wait_outside(|| reply_tx.blocking_send(event).is_ok());
                sent.then_some(()).ok_or(Error::ConnectionClosed)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Error::ConnectionClosed),
        }
    }
}

impl io::Read for Request {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let piece = self.read_piece(buf.len())?;
        buf[..piece.len()].copy_from_slice(&piece);
        Ok(piece.len())
    }
}

impl From<BodyRefusal> for io::Error {
    fn from(failure: BodyRefusal) -> io::Error {
        match failure {
            BodyRefusal::ClientGone => io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "client closed the connection before the whole body arrived",
            ),
            BodyRefusal::Malformed(e) => {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad request body: {e}"))
            }
            BodyRefusal::TooSlow => {
                io::Error::new(io::ErrorKind::TimedOut, "client stopped sending the body")
            }
        }
    }
}
