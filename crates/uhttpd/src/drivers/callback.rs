//! The callback driver: a request handed to a handler thread (where Python
//! may run), its body fed piece by piece as the handler reads, its reply
//! events written as they come.

use std::io;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::sync::{mpsc, Notify};
use tokio::time::{timeout_at, Instant};

use crate::auth::{Auth, AuthDecision};
use crate::drivers::denial;
use crate::host::pool::Job;
use crate::host::request::{self as exchange, BodyMsg, ReplyEvent, RequestInfo};
use crate::http::exchange::{BodyRefusal, Exchange, ReplyBody};
use crate::http::reply::{self, error_reply, Framing};
use crate::http::request::Decoded;
use crate::io::conn::{read_more, Connection, Next};
use crate::limits;
use crate::server::Handler;

impl Connection {
    pub(crate) async fn run_handler(
        &mut self,
        x: &mut Exchange,
        info: Arc<RequestInfo>,
        handler: Arc<dyn Handler>,
    ) -> Next {
        let has_body = x.has_body();
        let (request, ends) = exchange::channel(info, has_body);
        let (mut body_tx, body_wanted) = ends.body.unzip();
        let mut gathered = BytesMut::new();
        // The first piece of a body sent without waiting for `100 Continue` is
        // read before the callback is queued: a client trickling a small body
        // then holds its connection, never a handler thread.
        if has_body && !x.awaits_go_ahead() {
            let Some(first) = self.read_first_piece(x, &mut gathered).await else {
                return Next::Close;
            };
            let whole = matches!(first, BodyMsg::Data(_)) && x.decoder.is_done();
            let ended = !matches!(first, BodyMsg::Data(_)) || whole;
            if let Some(tx) = &body_tx {
                // The channel is new and holds more than two messages.
                let _ = tx.try_send(first);
                if whole {
                    let _ = tx.try_send(BodyMsg::End);
                }
            }
            if ended {
                body_tx = None;
            }
        }
        let authenticator = match &self.shared.auth {
            Auth::Custom(authenticator) => Some(authenticator.clone()),
            _ => None,
        };
        let job: Job = Box::new(move || {
            if let Some(authenticator) = authenticator {
                if let AuthDecision::Deny(code) = authenticator.authenticate(request.info()) {
                    return request.deny(code);
                }
            }
            handler.handle(request);
        });
        if self.shared.pool.execute(job).is_err() {
            log::warn!(target: "uhttpd", "all request handlers busy; answering 503");
            let (mut reply, body) = error_reply(503);
            let _ = reply.add_header("Retry-After", "1");
            return self.reply_and_finish(x, (reply, body)).await;
        }
        let mut reply_rx = ends.reply_rx;
        let mut wanted = false;
        let mut piece: Option<BodyMsg> = None;
        // When the piece being gathered must be complete (see BODY_PIECE_TIMEOUT).
        let mut piece_deadline: Option<Instant> = None;
        loop {
            let need_read = wanted && piece.is_none() && body_tx.is_some();
            let deadline = match (need_read, piece_deadline) {
                (false, _) => None,
                (true, Some(at)) => Some(at),
                (true, None) => Some(Instant::now() + self.shared.limits.body_timeout),
            };
            piece_deadline = deadline;
            let read_until = self.body_read_until(deadline);
            tokio::select! {
                event = reply_rx.recv() => {
                    let event = match event {
                        Some(event) => event,
                        None => match x.streaming() {
                            None => {
                                log::error!(target: "uhttpd", "handler for {} returned without a reply; answering 500", x.line.target());
                                ReplyEvent::Deny(500)
                            }
                            Some(Framing::Chunked) => ReplyEvent::ChunkEnd,
                            Some(_) => return Next::Close,
                        },
                    };
                    match self.relay(x, event).await {
                        Ok(true) => return self.finish(x).await,
                        Ok(false) => {}
                        Err(_) => return Next::Close,
                    }
                }
                () = go_ahead(&body_wanted), if !wanted => {
                    wanted = true;
                    if self.send_continue(x).await.is_err() {
                        return Next::Close;
                    }
                    if body_tx.is_some() {
                        piece = self.collect_piece(x, &mut gathered);
                    }
                }
                permit = reserve(&body_tx), if piece.is_some() => match permit {
                    Some(permit) => {
                        let msg = piece.take().unwrap_or(BodyMsg::End);
                        let last = !matches!(msg, BodyMsg::Data(_));
                        permit.send(msg);
                        piece_deadline = None;
                        if last {
                            body_tx = None;
                        } else {
                            piece = self.collect_piece(x, &mut gathered);
                        }
                    }
                    None => {
                        // The handler dropped the request: nobody reads the body.
                        body_tx = None;
                        piece = None;
                    }
                },
                read = timeout_at(read_until, read_more(&mut self.stream, &mut self.buf)), if need_read => {
                    piece = match read {
                        Ok(Ok(n)) if n > 0 => self.collect_piece(x, &mut gathered),
                        Ok(_) => Some(BodyMsg::Failed(BodyRefusal::ClientGone)),
                        Err(_) => Some(BodyMsg::Failed(BodyRefusal::TooSlow)),
                    };
                    if let Some(BodyMsg::Failed(why)) = piece {
                        x.body_refused(why);
                    }
                }
            }
        }
    }

    /// The first piece of the body, read within the body timeout (and the
    /// stall timeout); `None` when the client left.
    async fn read_first_piece(
        &mut self,
        x: &mut Exchange,
        gathered: &mut BytesMut,
    ) -> Option<BodyMsg> {
        let deadline = Instant::now() + self.shared.limits.body_timeout;
        loop {
            if let Some(msg) = self.collect_piece(x, gathered) {
                return Some(msg);
            }
            let until = self.body_read_until(Some(deadline));
            match timeout_at(until, read_more(&mut self.stream, &mut self.buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                Ok(_) => return None,
                Err(_) => {
                    x.body_refused(BodyRefusal::TooSlow);
                    return Some(BodyMsg::Failed(BodyRefusal::TooSlow));
                }
            }
        }
    }

    /// When a read of body bytes gives up: at the piece's deadline, or
    /// earlier when no byte at all comes within the stall timeout.
    fn body_read_until(&self, piece_due: Option<Instant>) -> Instant {
        let stall = Instant::now() + self.shared.limits.io_timeout;
        piece_due.map_or(stall, |due| due.min(stall))
    }

    /// Decodes buffered body bytes into `gathered` until it holds a whole
    /// piece (`BODY_PIECE_BYTES`, or the rest of the body): `None` while more
    /// must be read. A callback is handed whole pieces only, so each wait of
    /// its reads is bounded by the body timeout, however the client trickles.
    fn collect_piece(&mut self, x: &mut Exchange, gathered: &mut BytesMut) -> Option<BodyMsg> {
        loop {
            let room = limits::BODY_PIECE_BYTES - gathered.len();
            match x.decoder.decode(&mut self.buf, room) {
                Ok(Decoded::Data(data)) if gathered.is_empty() && data.len() == room => {
                    return Some(BodyMsg::Data(data));
                }
                Ok(Decoded::Data(data)) => {
                    gathered.extend_from_slice(&data);
                    if gathered.len() == limits::BODY_PIECE_BYTES {
                        return Some(BodyMsg::Data(gathered.split().freeze()));
                    }
                }
                Ok(Decoded::Done) if gathered.is_empty() => return Some(BodyMsg::End),
                // The last piece; the end follows on the next call.
                Ok(Decoded::Done) => return Some(BodyMsg::Data(gathered.split().freeze())),
                Ok(Decoded::NeedMore) => return None,
                Err(e) => {
                    x.body_refused(BodyRefusal::Malformed(e));
                    return Some(BodyMsg::Failed(BodyRefusal::Malformed(e)));
                }
            }
        }
    }

    /// Writes one reply event. `Ok(true)` when the reply is complete.
    pub(crate) async fn relay(&mut self, x: &mut Exchange, event: ReplyEvent) -> io::Result<bool> {
        match event {
            ReplyEvent::Full(head, body) => {
                self.write_full(x, &head, &body).await?;
                Ok(true)
            }
            ReplyEvent::Deny(code) => {
                let (head, body) = denial(x.failure_status(code));
                self.write_full(x, &head, &body).await?;
                Ok(true)
            }
            ReplyEvent::Abort => Err(io::ErrorKind::ConnectionAborted.into()),
            ReplyEvent::ChunkStart(head) => {
                self.write_head(x, &head, ReplyBody::Streamed).await?;
                Ok(false)
            }
            ReplyEvent::Chunk(data) => {
                if !x.head_only {
                    self.out.clear();
                    if x.streaming() == Some(Framing::Chunked) {
                        reply::encode_chunk(&data, &mut self.out);
                    } else {
                        self.out.extend_from_slice(&data);
                    }
                    self.write_out(x).await?;
                }
                Ok(false)
            }
            ReplyEvent::ChunkEnd => {
                if x.end_reply().unwrap_or(false) {
                    x.bytes_out += reply::LAST_CHUNK.len() as u64;
                    self.write(reply::LAST_CHUNK).await?;
                }
                Ok(true)
            }
            ReplyEvent::Raw(data) => {
                x.raw_reply(raw_status(&data));
                x.bytes_out += data.len() as u64;
                self.write(&data).await?;
                Ok(false)
            }
        }
    }
}

/// The status code of a raw reply, for the access log (0 if it has none).
fn raw_status(data: &[u8]) -> u16 {
    let code = data.get(9..12).filter(|_| data.starts_with(b"HTTP/"));
    code.and_then(|c| std::str::from_utf8(c).ok()?.parse().ok())
        .unwrap_or(0)
}

/// The handler's go-ahead to read the body (never, without a body).
async fn go_ahead(wanted: &Option<Arc<Notify>>) {
    match wanted {
        Some(wanted) => wanted.notified().await,
        None => std::future::pending().await,
    }
}

pub(crate) async fn reserve(
    tx: &Option<mpsc::Sender<BodyMsg>>,
) -> Option<mpsc::OwnedPermit<BodyMsg>> {
    match tx {
        Some(tx) => tx.clone().reserve_owned().await.ok(),
        None => std::future::pending().await,
    }
}
