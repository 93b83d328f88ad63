//! One request's exchange as a state machine over values, in the spirit of
//! h11's `Connection` and hyper's `proto/h1/conn.rs`: it owns keep-alive,
//! `100 Continue`, the body's framing and whether it can be drained, the
//! reply's framing and order, and what the connection does afterwards. The
//! connection loop ([`crate::io::conn`]) performs what it decides; nothing
//! here does I/O, so every rule is unit-tested on values.

use super::reply::{Framing, Wire};
use super::request::{BodyDecoder, ProtoError, RequestHead, RequestLine, Version};

/// Why a request body could not be read to its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyRefusal {
    /// Broken framing (a bad chunk line, a chunk line too long).
    Malformed(ProtoError),
    /// The client was too slow sending it (the body timeout).
    TooSlow,
    /// The client closed or reset the connection.
    ClientGone,
}

impl BodyRefusal {
    /// The status a handler's failure over this body becomes (the client's
    /// fault, not the handler's 500); `None` when nobody is left to answer.
    pub(crate) fn status(self) -> Option<u16> {
        match self {
            BodyRefusal::Malformed(e) => Some(e.status),
            BodyRefusal::TooSlow => Some(408),
            BodyRefusal::ClientGone => None,
        }
    }
}

/// How a reply's body is delimited, as its producer knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplyBody {
    /// A known length (a whole reply, a file).
    Length(u64),
    /// Pieces of unknown total: chunked on HTTP/1.1, until close on HTTP/1.0.
    Streamed,
    /// Bytes until the connection closes (an event stream).
    UntilClose,
}

/// Where the reply stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReplyState {
    NotStarted,
    /// Head sent; body pieces follow in this framing.
    Streaming(Framing),
    Complete,
}

/// A reply out of order (a second head, a piece after the end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OutOfOrder;

/// What the connection does once the reply is out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AfterReply {
    /// Read the next request.
    KeepAlive,
    /// Skip the rest of the body, at most `budget` bytes, then keep alive.
    Drain {
        budget: u64,
    },
    Close,
}

/// One request's progress: decisions here, bytes in the connection loop.
pub(crate) struct Exchange {
    /// The method and target, for the access log.
    pub(crate) line: RequestLine,
    pub(crate) version: Version,
    /// HEAD: the reply's head only.
    pub(crate) head_only: bool,
    /// The request body's framing state (the connection decodes through it).
    pub(crate) decoder: BodyDecoder,
    /// Status of the reply (for the access log), 0 until one is started.
    pub(crate) status: u16,
    pub(crate) bytes_out: u64,
    keep_alive: bool,
    expect_continue: bool,
    continue_sent: bool,
    body_refused: Option<BodyRefusal>,
    reply: ReplyState,
    max_drain_bytes: u64,
}

impl Exchange {
    /// A request whose head was just read; a leftover body larger than
    /// `max_drain_bytes` is not skipped to keep the connection.
    pub(crate) fn new(head: &RequestHead, max_drain_bytes: u64) -> Exchange {
        Exchange {
            line: head.line().clone(),
            version: head.version,
            head_only: head.method() == "HEAD",
            decoder: BodyDecoder::new(head.body),
            status: 0,
            bytes_out: 0,
            keep_alive: head.keep_alive,
            expect_continue: head.expect_continue,
            continue_sent: false,
            body_refused: None,
            reply: ReplyState::NotStarted,
            max_drain_bytes,
        }
    }

    /// True when the request has a body still to come.
    pub(crate) fn has_body(&self) -> bool {
        !self.decoder.is_done()
    }

    /// The client waits for `100 Continue` before it sends the body.
    pub(crate) fn awaits_go_ahead(&self) -> bool {
        self.expect_continue && !self.continue_sent
    }

    /// True once, when `100 Continue` must be sent now (the body is about to
    /// be read and the client waits for the go-ahead).
    pub(crate) fn take_continue(&mut self) -> bool {
        let send = self.awaits_go_ahead() && self.reply == ReplyState::NotStarted;
        if send {
            self.continue_sent = true;
        }
        send
    }

    /// The body could not be read to its end: the connection cannot be reused.
    pub(crate) fn body_refused(&mut self, why: BodyRefusal) {
        self.body_refused.get_or_insert(why);
        self.keep_alive = false;
    }

    /// The status a handler's failure (`handler_status`) is answered with: the
    /// client's own fault when its body failed.
    pub(crate) fn failure_status(&self, handler_status: u16) -> u16 {
        match (
            handler_status,
            self.body_refused.and_then(BodyRefusal::status),
        ) {
            (500, Some(client_fault)) => client_fault,
            _ => handler_status,
        }
    }

    /// The connection ends after this reply whatever else happens (an
    /// upgrade, a failed upgrade, an upload that was not read to its end).
    pub(crate) fn close_after(&mut self) {
        self.keep_alive = false;
    }

    /// Starts the reply with `status`: the framing its body goes out in, and
    /// the head's connection flags. Decides here, before the head is
    /// written, whether the connection survives, so the head can say
    /// `Connection: close` when it will not.
    pub(crate) fn start_reply(
        &mut self,
        status: u16,
        body: ReplyBody,
        cors: bool,
    ) -> Result<(Framing, Wire), OutOfOrder> {
        if self.reply != ReplyState::NotStarted {
            return Err(OutOfOrder);
        }
        let too_much_left = self
            .decoder
            .remaining()
            .is_some_and(|left| left > self.max_drain_bytes);
        if self.has_body() && (self.awaits_go_ahead() || too_much_left) {
            self.keep_alive = false;
        }
        let framing = match body {
            ReplyBody::Length(n) => Framing::Length(n),
            ReplyBody::Streamed if self.version == Version::Http11 => Framing::Chunked,
            ReplyBody::Streamed | ReplyBody::UntilClose => Framing::UntilClose,
        };
        if framing == Framing::UntilClose {
            self.keep_alive = false;
        }
        self.status = status;
        self.reply = match framing {
            Framing::Length(_) => ReplyState::Complete,
            other => ReplyState::Streaming(other),
        };
        Ok((framing, self.wire(cors)))
    }

    /// Raw bytes a handler writes itself (the seed's `send`): no framing of
    /// ours, the connection closes after it; the status is the raw head's.
    pub(crate) fn raw_reply(&mut self, status: u16) {
        if self.reply == ReplyState::NotStarted {
            self.status = status;
        }
        self.reply = ReplyState::Streaming(Framing::UntilClose);
        self.keep_alive = false;
    }

    /// The connection switched protocols (`101`): nothing HTTP follows.
    pub(crate) fn upgraded(&mut self) {
        self.status = 101;
        self.reply = ReplyState::Complete;
        self.keep_alive = false;
    }

    /// The framing of the reply being streamed, if one is.
    pub(crate) fn streaming(&self) -> Option<Framing> {
        match self.reply {
            ReplyState::Streaming(framing) => Some(framing),
            _ => None,
        }
    }

    /// Ends a streamed reply; true when a last chunk must be written.
    pub(crate) fn end_reply(&mut self) -> Result<bool, OutOfOrder> {
        let Some(framing) = self.streaming() else {
            return Err(OutOfOrder);
        };
        self.reply = ReplyState::Complete;
        Ok(framing == Framing::Chunked && !self.head_only)
    }

    /// A reply body (or piece) goes on the wire: not for HEAD, nor for a
    /// status that has none.
    pub(crate) fn sends_body(&self, status: u16) -> bool {
        !self.head_only && status >= 200 && status != 204 && status != 304
    }

    fn wire(&self, cors: bool) -> Wire {
        Wire {
            keep_alive: self.keep_alive,
            http10: self.version == Version::Http10,
            cors,
        }
    }

    /// What follows the reply; `closing`: the server is shutting down.
    pub(crate) fn after_reply(&self, closing: bool) -> AfterReply {
        if !self.keep_alive || closing || self.body_refused.is_some() {
            return AfterReply::Close;
        }
        if !self.has_body() {
            return AfterReply::KeepAlive;
        }
        if self.awaits_go_ahead() {
            // The client waits for our go-ahead; without it the body may never come.
            return AfterReply::Close;
        }
        AfterReply::Drain {
            budget: self.max_drain_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{parse_head, HeadLimits};

    fn exchange(head: &str) -> Exchange {
        let raw = head.replace('\n', "\r\n") + "\r\n";
        let head = parse_head(&mut raw.as_str().into(), &HeadLimits::default())
            .unwrap()
            .unwrap();
        Exchange::new(&head, 1000)
    }

    const GET: &str = "GET / HTTP/1.1\nHost: t\n";

    #[test]
    fn a_bodiless_request_keeps_the_connection() {
        let mut x = exchange(GET);
        assert!(!x.has_body());
        let (framing, wire) = x.start_reply(200, ReplyBody::Length(5), false).unwrap();
        assert_eq!(framing, Framing::Length(5));
        assert!(wire.keep_alive && !wire.http10);
        assert_eq!(x.status, 200);
        assert_eq!(x.after_reply(false), AfterReply::KeepAlive);
        assert_eq!(x.after_reply(true), AfterReply::Close, "shutting down");
    }

    #[test]
    fn connection_close_and_http10_end_the_connection() {
        let mut x = exchange("GET / HTTP/1.1\nHost: t\nConnection: close\n");
        let (_, wire) = x.start_reply(200, ReplyBody::Length(0), false).unwrap();
        assert!(!wire.keep_alive);
        assert_eq!(x.after_reply(false), AfterReply::Close);
        let mut x = exchange("GET / HTTP/1.0\n");
        let (_, wire) = x.start_reply(200, ReplyBody::Length(0), true).unwrap();
        assert!(!wire.keep_alive && wire.http10 && wire.cors);
        let mut x = exchange("GET / HTTP/1.0\nConnection: keep-alive\n");
        x.start_reply(200, ReplyBody::Length(0), false).unwrap();
        assert_eq!(x.after_reply(false), AfterReply::KeepAlive);
    }

    #[test]
    fn continue_is_sent_once_and_only_when_asked_for() {
        let mut x = exchange("POST / HTTP/1.1\nHost: t\nContent-Length: 5\nExpect: 100-continue\n");
        assert!(x.awaits_go_ahead());
        assert!(x.take_continue());
        assert!(!x.take_continue(), "once");
        assert!(!x.awaits_go_ahead());
        let mut x = exchange("POST / HTTP/1.1\nHost: t\nContent-Length: 5\n");
        assert!(!x.take_continue(), "not asked for");
        let mut x = exchange("POST / HTTP/1.0\nContent-Length: 5\nExpect: 100-continue\n");
        assert!(!x.take_continue(), "HTTP/1.0 ignores the expectation");
    }

    #[test]
    fn a_reply_before_the_go_ahead_closes_instead_of_draining() {
        let mut x = exchange("POST / HTTP/1.1\nHost: t\nContent-Length: 5\nExpect: 100-continue\n");
        let (_, wire) = x.start_reply(404, ReplyBody::Length(0), false).unwrap();
        assert!(!wire.keep_alive, "the head says the connection closes");
        assert!(!x.take_continue(), "no go-ahead after the reply started");
        assert_eq!(x.after_reply(false), AfterReply::Close);
    }

    #[test]
    fn an_unread_body_is_drained_within_the_budget_or_closes() {
        let mut x = exchange("POST / HTTP/1.1\nHost: t\nContent-Length: 1000\n");
        let (_, wire) = x.start_reply(200, ReplyBody::Length(0), false).unwrap();
        assert!(wire.keep_alive);
        assert_eq!(x.after_reply(false), AfterReply::Drain { budget: 1000 });
        let mut x = exchange("POST / HTTP/1.1\nHost: t\nContent-Length: 1001\n");
        let (_, wire) = x.start_reply(200, ReplyBody::Length(0), false).unwrap();
        assert!(!wire.keep_alive, "too much left: announced before the head");
        assert_eq!(x.after_reply(false), AfterReply::Close);
        let mut x = exchange("POST / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n");
        x.start_reply(200, ReplyBody::Length(0), false).unwrap();
        assert_eq!(x.after_reply(false), AfterReply::Drain { budget: 1000 });
    }

    #[test]
    fn a_refused_body_closes_and_turns_the_handlers_500_into_the_clients_status() {
        let mut x = exchange("POST / HTTP/1.1\nHost: t\nContent-Length: 10\n");
        x.body_refused(BodyRefusal::TooSlow);
        assert_eq!(x.failure_status(500), 408);
        assert_eq!(x.failure_status(503), 503, "a handler's own status stays");
        let (_, wire) = x.start_reply(408, ReplyBody::Length(0), false).unwrap();
        assert!(!wire.keep_alive);
        assert_eq!(x.after_reply(false), AfterReply::Close);
        let mut x = exchange("POST / HTTP/1.1\nHost: t\nContent-Length: 10\n");
        x.body_refused(BodyRefusal::Malformed(ProtoError {
            status: 431,
            reason: "chunk line too long",
        }));
        x.body_refused(BodyRefusal::ClientGone);
        assert_eq!(x.failure_status(500), 431, "the first refusal counts");
        assert_eq!(BodyRefusal::ClientGone.status(), None);
    }

    #[test]
    fn streamed_replies_are_chunked_on_http11_and_close_delimited_on_http10() {
        let mut x = exchange(GET);
        let (framing, wire) = x.start_reply(200, ReplyBody::Streamed, false).unwrap();
        assert_eq!(framing, Framing::Chunked);
        assert!(wire.keep_alive);
        assert_eq!(x.streaming(), Some(Framing::Chunked));
        assert_eq!(x.end_reply(), Ok(true), "a last chunk");
        assert_eq!(x.end_reply(), Err(OutOfOrder));
        assert_eq!(x.after_reply(false), AfterReply::KeepAlive);
        let mut x = exchange("GET / HTTP/1.0\nConnection: keep-alive\n");
        let (framing, wire) = x.start_reply(200, ReplyBody::Streamed, false).unwrap();
        assert_eq!(framing, Framing::UntilClose);
        assert!(!wire.keep_alive);
        assert_eq!(x.end_reply(), Ok(false), "no chunk framing");
        assert_eq!(x.after_reply(false), AfterReply::Close);
        let mut x = exchange("HEAD / HTTP/1.1\nHost: t\n");
        x.start_reply(200, ReplyBody::Streamed, false).unwrap();
        assert_eq!(x.end_reply(), Ok(false), "HEAD: no body, no last chunk");
    }

    #[test]
    fn one_reply_per_request() {
        let mut x = exchange(GET);
        x.start_reply(200, ReplyBody::Length(1), false).unwrap();
        assert!(x.start_reply(200, ReplyBody::Length(1), false).is_err());
        assert_eq!(x.end_reply(), Err(OutOfOrder), "a whole reply has no end");
    }

    #[test]
    fn events_raw_replies_and_upgrades_close_the_connection() {
        let mut x = exchange(GET);
        let (framing, wire) = x.start_reply(200, ReplyBody::UntilClose, false).unwrap();
        assert_eq!(framing, Framing::UntilClose);
        assert!(!wire.keep_alive);
        let mut x = exchange(GET);
        x.raw_reply(302);
        assert_eq!((x.status, x.streaming()), (302, Some(Framing::UntilClose)));
        x.raw_reply(0);
        assert_eq!(x.status, 302, "the first raw head names the status");
        assert_eq!(x.after_reply(false), AfterReply::Close);
        let mut x = exchange(GET);
        x.upgraded();
        assert_eq!((x.status, x.after_reply(false)), (101, AfterReply::Close));
    }

    #[test]
    fn bodies_are_left_out_for_head_and_bodiless_statuses() {
        let x = exchange(GET);
        assert!(x.sends_body(200) && x.sends_body(404));
        assert!(!x.sends_body(204) && !x.sends_body(304) && !x.sends_body(101));
        assert!(!exchange("HEAD / HTTP/1.1\nHost: t\n").sends_body(200));
    }
}
