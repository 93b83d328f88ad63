//! WebSocket endpoints: the RFC 6455 handshake decision (pure) and the
//! blocking session a handler thread sees. Framing, fragmentation, ping/pong
//! and close codes are tungstenite's; the socket side lives in `server`.

use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::error::{Error, Result};
use crate::host::pool::spawn_session;
use crate::host::request::RequestInfo;
use crate::http::exchange::Exchange;
use crate::http::reply::error_reply;
use crate::http::request::RequestHead;
use crate::io::conn::{Connection, Next};
use crate::io::stream::QuickAcking;
use crate::limits;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data as OpData, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::{Message, Role};
use tokio_tungstenite::WebSocketStream;

/// A message in either direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsMessage {
    /// A text message (valid UTF-8, as the protocol requires).
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// A text frame sent with these bytes as they are, UTF-8 or not (what a
    /// MicroPython device's WebREPL sends for bytes ≥ 0x80; never received).
    TextBytes(Bytes),
}

/// Code that runs a WebSocket session on a thread of its own.
pub trait WsHandler: Send + Sync + 'static {
    /// Runs one session; the connection closes when it returns.
    fn session(&self, session: WsSession);
    /// Accepts what MicroPython's `webrepl_cli.py` sends: no
    /// `Sec-WebSocket-Version`, any key, unmasked frames, small frames.
    fn webrepl_compatible(&self) -> bool {
        false
    }
}

/// The handler's end of a session: blocking receive and send.
pub struct WsSession {
    info: Arc<RequestInfo>,
    incoming: mpsc::Receiver<WsMessage>,
    outgoing: mpsc::Sender<WsMessage>,
}

/// The connection's end of a session.
pub(crate) struct WsBridge {
    pub incoming: mpsc::Sender<WsMessage>,
    pub outgoing: mpsc::Receiver<WsMessage>,
}

pub(crate) fn session(info: Arc<RequestInfo>) -> (WsSession, WsBridge) {
    let (in_tx, in_rx) = mpsc::channel(limits::WS_CHANNEL_MESSAGES);
    let (out_tx, out_rx) = mpsc::channel(limits::WS_CHANNEL_MESSAGES);
    let session = WsSession {
        info,
        incoming: in_rx,
        outgoing: out_tx,
    };
    let bridge = WsBridge {
        incoming: in_tx,
        outgoing: out_rx,
    };
    (session, bridge)
}

impl WsSession {
    /// The upgrade request that opened the session.
    pub fn info(&self) -> &Arc<RequestInfo> {
        &self.info
    }

    /// The next message; `None` once the client closed or the server stops.
    pub fn recv(&mut self) -> Option<WsMessage> {
        self.incoming.blocking_recv()
    }

    /// Like `recv`, but waits at most `timeout`: `Err(Timeout)` when nothing
    /// came, `Err(Disconnected)` once the client closed or the server stops.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<WsMessage, RecvTimeoutError> {
        let deadline = Instant::now() + timeout;
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            match self.incoming.poll_recv(&mut cx) {
                Poll::Ready(Some(message)) => return Ok(message),
                Poll::Ready(None) => return Err(RecvTimeoutError::Disconnected),
                Poll::Pending => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RecvTimeoutError::Timeout);
            }
            // A wake (or a spurious unpark) polls again.
            thread::park_timeout(left);
        }
    }

    /// A sender that can be used from other threads while `recv` waits.
    pub fn sender(&self) -> WsSender {
        WsSender(self.outgoing.clone())
    }
}

/// Wakes the session thread that waits in `recv_timeout`.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Sends on a session from any (non-async) thread.
#[derive(Clone)]
pub struct WsSender(mpsc::Sender<WsMessage>);

impl WsSender {
    /// Sends, waiting while the client is behind; fails once the session ended.
    pub fn send(&self, message: WsMessage) -> Result<()> {
        self.0
            .blocking_send(message)
            .map_err(|_| Error::ConnectionClosed)
    }

    /// Sends unless the client is behind; never waits.
    pub fn try_send(&self, message: WsMessage) -> Result<()> {
        self.0
            .try_send(message)
            .map_err(|_| Error::ConnectionClosed)
    }

    /// Sends a text message, as [`WsSender::send`].
    pub fn text(&self, text: impl Into<String>) -> Result<()> {
        self.send(WsMessage::Text(text.into()))
    }

    /// Sends a binary message, as [`WsSender::send`].
    pub fn binary(&self, data: impl Into<Bytes>) -> Result<()> {
        self.send(WsMessage::Binary(data.into()))
    }
}

impl Connection {
    /// Upgrades to WebSocket and relays messages between the socket and a
    /// session thread until either side ends.
    pub(crate) async fn run_websocket(
        &mut self,
        x: &mut Exchange,
        info: Arc<RequestInfo>,
        handler: Arc<dyn WsHandler>,
    ) -> Next {
        let compatible = handler.webrepl_compatible();
        let accepted = match handshake(&info.head, compatible) {
            Ok(accepted) => accepted,
            Err(code) => {
                let (mut head, body) = error_reply(code);
                if code == 426 {
                    let _ = head.add_header("Sec-WebSocket-Version", "13");
                }
                // A failed upgrade leaves the client unsure what follows: close.
                x.close_after();
                return self.reply_and_finish(x, (head, body)).await;
            }
        };
        x.upgraded();
        if self.write(&accepted).await.is_err() {
            return Next::Close;
        }
        let leftover = std::mem::take(&mut self.buf).to_vec();
        let mut socket = WebSocketStream::from_partially_read(
            QuickAcking::new(&mut self.stream, compatible),
            leftover,
            Role::Server,
            Some(config(compatible)),
        )
        .await;
        let (session, mut bridge) = session(info);
        let hooks = self.shared.hooks.clone();
        let spawned = spawn_session("uhttpd-ws", hooks, move || handler.session(session));
        if spawned.is_err() {
            return Next::Close;
        }
        // A message read from the client waits here until the session thread
        // has room: reading more would buffer without bound, and waiting in
        // place would stop the echo coming back (the session thread may be
        // blocked sending it), a deadlock.
        let mut unforwarded: Option<WsMessage> = None;
        loop {
            tokio::select! {
                incoming = socket.next(), if unforwarded.is_none() => {
                    unforwarded = match incoming {
                        Some(Ok(Message::Text(text))) => Some(WsMessage::Text(text.to_string())),
                        Some(Ok(Message::Binary(data))) => Some(WsMessage::Binary(data)),
                        // Pings are answered and closes completed by tungstenite.
                        Some(Ok(_)) => None,
                        Some(Err(_)) | None => break,
                    };
                }
                room = bridge.incoming.reserve(), if unforwarded.is_some() => match (room, unforwarded.take()) {
                    (Ok(permit), Some(message)) => permit.send(message),
                    _ => break,
                },
                outgoing = bridge.outgoing.recv() => {
                    let sent = match outgoing {
                        Some(WsMessage::Text(text)) => socket.send(Message::text(text)).await,
                        Some(WsMessage::Binary(data)) => socket.send(Message::binary(data)).await,
                        Some(WsMessage::TextBytes(data)) => {
                            let frame = Frame::message(data, OpCode::Data(OpData::Text), true);
                            socket.send(Message::Frame(frame)).await
                        }
                        None => {
                            let _ = socket.close(None).await;
                            break;
                        }
                    };
                    if sent.is_err() {
                        break;
                    }
                }
            }
        }
        Next::Close
    }
}

/// Both ends of a session for a plain request, without a socket (unit tests).
#[cfg(test)]
pub(crate) fn test_session() -> (WsSession, WsBridge) {
    let mut raw = bytes::BytesMut::from(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..]);
    let head = crate::http::request::parse_head(&mut raw, &Default::default())
        .unwrap()
        .unwrap();
    session(Arc::new(RequestInfo {
        head,
        remote: "127.0.0.1:9".parse().unwrap(),
        method: crate::http::method::Methods::GET,
    }))
}

/// Checks an upgrade request; the `101` reply, or the status to refuse with.
pub fn handshake(head: &RequestHead, webrepl_compatible: bool) -> Result<Bytes, u16> {
    if head.method() != "GET" || !head.has_token("upgrade", "websocket") {
        return Err(426);
    }
    if !head.has_token("connection", "upgrade") {
        return Err(400);
    }
    let key = head.header("sec-websocket-key").ok_or(400u16)?;
    if !webrepl_compatible {
        if head.header("sec-websocket-version") != Some(b"13") {
            return Err(426);
        }
        if !is_valid_key(key) {
            return Err(400);
        }
    }
    Ok(crate::http::reply::switching_protocols(&derive_accept_key(
        key,
    )))
}

/// True for a request that asks to switch to WebSocket at all.
pub fn is_upgrade(head: &RequestHead) -> bool {
    head.has_token("upgrade", "websocket")
}

/// RFC 6455 §4.1: the key is 16 random bytes in base64 (24 characters, `==` end).
fn is_valid_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// tungstenite's settings for an endpoint.
pub(crate) fn config(webrepl_compatible: bool) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(limits::WS_MAX_MESSAGE_BYTES))
        .max_frame_size(Some(limits::WS_MAX_MESSAGE_BYTES))
        .accept_unmasked_frames(webrepl_compatible)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{parse_head, HeadLimits};

    fn head(text: &str) -> RequestHead {
        parse_head(&mut text.into(), &HeadLimits::default())
            .unwrap()
            .unwrap()
    }

    const UPGRADE: &str =
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n";

    #[test]
    fn rfc_6455_example_key_gets_its_accept() {
        let reply = handshake(
            &head(&format!("{UPGRADE}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")),
            false,
        )
        .unwrap();
        let text = String::from_utf8(reply.to_vec()).unwrap();
        assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(text.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    }

    #[test]
    fn strict_endpoints_refuse_what_webrepl_cli_sends() {
        let cli = head(&format!("{UPGRADE}Sec-WebSocket-Key: foo\r\n\r\n"));
        assert_eq!(handshake(&cli, false), Err(426));
        assert!(handshake(&cli, true).is_ok());
        let bad_key = head(&format!(
            "{UPGRADE}Sec-WebSocket-Key: foo\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ));
        assert_eq!(handshake(&bad_key, false), Err(400));
    }

    #[test]
    fn recv_timeout_returns_what_comes_and_gives_up_at_the_deadline() {
        let (mut session, bridge) = test_session();
        let start = Instant::now();
        assert_eq!(
            session.recv_timeout(Duration::from_millis(50)),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(start.elapsed() >= Duration::from_millis(50));
        let incoming = bridge.incoming.clone();
        let late = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            incoming.blocking_send(WsMessage::Text("late".into()))
        });
        assert_eq!(
            session.recv_timeout(Duration::from_secs(5)),
            Ok(WsMessage::Text("late".into()))
        );
        late.join().unwrap().unwrap();
        drop(bridge);
        assert_eq!(
            session.recv_timeout(Duration::from_secs(5)),
            Err(RecvTimeoutError::Disconnected)
        );
    }

    #[test]
    fn plain_requests_and_missing_headers_are_refused() {
        assert_eq!(
            handshake(&head("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n"), true),
            Err(426)
        );
        let no_connection = head(
            "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: a\r\n\r\n",
        );
        assert_eq!(handshake(&no_connection, true), Err(400));
        let no_key = head(&format!("{UPGRADE}\r\n"));
        assert_eq!(handshake(&no_key, true), Err(400));
    }
}
