//! Reply encoding, all of it: heads (what a handler may set, validated),
//! chunks, and the fixed replies (`101`, the over-capacity `503`).

use std::cell::RefCell;
use std::time::{Duration, SystemTime};

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{Error, Result};

/// Headers the server frames itself; a handler setting them could desynchronise the connection.
const MANAGED_HEADERS: [&str; 3] = ["content-length", "transfer-encoding", "connection"];

/// A status line's code and text, e.g. `404` / `"404 Not Found"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The three-digit code, 100..599.
    pub code: u16,
    /// The text after the code (a standard one is static: no allocation).
    reason: Bytes,
}

impl Status {
    pub(crate) const OK: u16 = 200;

    /// The code with its standard reason phrase.
    pub fn from_code(code: u16) -> Result<Status> {
        if !(100..=599).contains(&code) {
            return Err(Error::InvalidArgument(format!(
                "status {code} is not an HTTP status (100..599)"
            )));
        }
        let reason = http::StatusCode::from_u16(code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Unknown");
        Ok(Status {
            code,
            reason: Bytes::from_static(reason.as_bytes()),
        })
    }

    /// A status line as a handler gives it (`"201 Created"`), or a bare code (`"201"`).
    pub fn parse(text: &[u8]) -> Result<Status> {
        let invalid = || {
            Error::InvalidArgument(format!(
                "status {:?} must start with a 3-digit code 100..599 and have no control characters",
                String::from_utf8_lossy(text)
            ))
        };
        let text = text.trim_ascii();
        if text.len() < 3 || !text[..3].iter().all(u8::is_ascii_digit) {
            return Err(invalid());
        }
        if text.len() > 3 && text[3] != b' ' || text.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return Err(invalid());
        }
        let code = text[..3]
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
        if text.len() == 3 {
            return Status::from_code(code);
        }
        if !(100..=599).contains(&code) {
            return Err(invalid());
        }
        Ok(Status {
            code,
            reason: Bytes::copy_from_slice(&text[4..]),
        })
    }

    /// The text after the code, e.g. `Not Found`.
    pub fn reason(&self) -> &[u8] {
        &self.reason
    }

    /// The code and reason as sent after the HTTP version, e.g. `404 Not Found`.
    fn put_line(&self, out: &mut BytesMut) {
        put_decimal(out, u64::from(self.code));
        out.put_u8(b' ');
        out.put_slice(&self.reason);
    }

    /// Replies with this status never carry a body (RFC 9110 §6.4.1).
    pub fn forbids_body(&self) -> bool {
        self.code < 200 || self.code == 204 || self.code == 304
    }
}

impl Default for Status {
    fn default() -> Status {
        Status {
            code: Status::OK,
            reason: Bytes::from_static(b"OK"),
        }
    }
}

/// Status, content type and extra headers of a reply.
#[derive(Clone, Debug, Default)]
pub struct ReplyHead {
    /// `200 OK` by default.
    pub status: Status,
    /// `None` means the seed's default, `text/html`.
    pub content_type: Option<Bytes>,
    /// Extra headers in the order sent; add them with [`ReplyHead::add_header`],
    /// which refuses what could break the framing.
    pub headers: Vec<(Bytes, Bytes)>,
    /// Add `Access-Control-Allow-Origin: *` even if the server is not CORS.
    pub allow_cors: bool,
}

/// The seed's `status=` argument of `write()` and `send_chunk()`.
#[derive(Clone, Copy, Debug)]
pub enum SeedStatus<'a> {
    /// Not given: 200 OK.
    Default,
    /// An int such as 404.
    Code(i64),
    /// A status line's text such as `b"404 Not Found"`.
    Text(&'a [u8]),
}

impl ReplyHead {
    /// The head that `write()`/`send_chunk()`'s arguments describe, checked
    /// as both faces check them.
    pub fn from_seed(
        status: SeedStatus<'_>,
        mime: Option<Bytes>,
        headers: impl IntoIterator<Item = (Bytes, Bytes)>,
        allow_cors: bool,
    ) -> Result<ReplyHead> {
        let status = match status {
            SeedStatus::Default => Status::default(),
            SeedStatus::Code(code) => Status::from_code(u16::try_from(code).unwrap_or(0))?,
            SeedStatus::Text(text) => Status::parse(text)?,
        };
        let mut head = ReplyHead::new(status);
        if let Some(mime) = mime {
            head = head.with_content_type(mime)?;
        }
        for (name, value) in headers {
            head.add_header(name, value)?;
        }
        head.allow_cors = allow_cors;
        Ok(head)
    }

    /// A head with `status` and everything else default.
    pub fn new(status: Status) -> ReplyHead {
        ReplyHead {
            status,
            ..ReplyHead::default()
        }
    }

    /// Sets the content type; refused if it holds a control character (CR, LF, NUL…).
    pub fn with_content_type(mut self, mime: impl Into<Bytes>) -> Result<ReplyHead> {
        let mime = mime.into();
        check_value("content type", &mime)?;
        self.content_type = Some(mime);
        Ok(self)
    }

    /// Adds a header after checking it cannot break the reply's framing.
    pub fn add_header(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<()> {
        let (name, value) = (name.into(), value.into());
        if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
            return Err(Error::InvalidArgument(format!(
                "header name {:?} is not an HTTP token",
                String::from_utf8_lossy(&name)
            )));
        }
        if MANAGED_HEADERS
            .iter()
            .any(|m| m.as_bytes().eq_ignore_ascii_case(&name))
        {
            return Err(Error::InvalidArgument(format!(
                "header {:?} is set by the server",
                String::from_utf8_lossy(&name)
            )));
        }
        check_value("header value", &value)?;
        self.headers.push((name, value));
        Ok(())
    }

    /// Adds a header the server made itself (a file's validators, its
    /// range), known to be well-formed: nothing to check.
    pub(crate) fn add_server_header(&mut self, name: &'static str, value: impl Into<Bytes>) {
        let value = value.into();
        debug_assert!(name.bytes().all(is_token_byte) && check_value("", &value).is_ok());
        self.headers
            .push((Bytes::from_static(name.as_bytes()), value));
    }
}

fn check_value(what: &str, value: &[u8]) -> Result<()> {
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(Error::InvalidArgument(format!(
            "{what} {:?} contains a control character (CR, LF or NUL)",
            String::from_utf8_lossy(value)
        )));
    }
    Ok(())
}

/// RFC 9110's `tchar`: a byte of a token (a field name, a method).
pub(crate) fn is_token_byte(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// How the body of a reply is delimited on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    Length(u64),
    Chunked,
    /// HTTP/1.0 streaming and raw replies: the body ends when the connection closes.
    UntilClose,
}

/// Connection-level facts the encoder needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wire {
    pub keep_alive: bool,
    pub http10: bool,
    pub cors: bool,
}

pub(crate) fn encode_head(out: &mut BytesMut, head: &ReplyHead, framing: Framing, wire: Wire) {
    out.put_slice(if wire.http10 {
        b"HTTP/1.0 "
    } else {
        b"HTTP/1.1 "
    });
    head.status.put_line(out);
    out.put_slice(b"\r\nServer: uhttpd\r\nDate: ");
    put_date(out);
    out.put_slice(b"\r\n");
    // 1xx, 204 and 304 have no body, so no type or length of one.
    let bodiless = head.status.forbids_body();
    if !bodiless {
        out.put_slice(b"Content-Type: ");
        out.put_slice(head.content_type.as_deref().unwrap_or(b"text/html"));
        out.put_slice(b"\r\n");
    }
    match framing {
        Framing::Length(_) if bodiless => {}
        Framing::Length(n) => {
            out.put_slice(b"Content-Length: ");
            put_decimal(out, n);
            out.put_slice(b"\r\n");
        }
        Framing::Chunked => out.put_slice(b"Transfer-Encoding: chunked\r\n"),
        Framing::UntilClose => {}
    }
    if wire.cors || head.allow_cors {
        out.put_slice(b"Access-Control-Allow-Origin: *\r\n");
    }
    let keep_alive = wire.keep_alive && framing != Framing::UntilClose;
    match (keep_alive, wire.http10) {
        (false, _) => out.put_slice(b"Connection: close\r\n"),
        (true, true) => out.put_slice(b"Connection: keep-alive\r\n"),
        (true, false) => {}
    }
    for (name, value) in &head.headers {
        out.put_slice(name);
        out.put_slice(b": ");
        out.put_slice(value);
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"\r\n");
}

/// `n` in decimal digits.
fn put_decimal(out: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}

/// An HTTP date, formatted once per second per thread.
fn put_date(out: &mut BytesMut) {
    thread_local! {
        static CACHED: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    CACHED.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != secs {
            *cached = (secs, httpdate::fmt_http_date(now));
        }
        out.put_slice(cached.1.as_bytes());
    });
}

/// A server-made reply (404, 401, 500…) with a short plain-text body.
pub(crate) fn error_reply(code: u16) -> (ReplyHead, Bytes) {
    explained_reply(code, "")
}

/// [`error_reply`] whose body also says why: `400 Bad Request: <why>`.
pub(crate) fn explained_reply(code: u16, why: &str) -> (ReplyHead, Bytes) {
    let status = Status::from_code(code).unwrap_or_default();
    let reason = String::from_utf8_lossy(status.reason());
    let body = match why {
        "" => format!("{} {reason}\n", status.code),
        why => format!("{} {reason}: {why}\n", status.code),
    };
    let mut head = ReplyHead::new(status);
    head.content_type = Some(Bytes::from_static(b"text/plain; charset=utf-8"));
    (head, Bytes::from(body))
}

/// The URL a plain-HTTP request to a TLS port meant: `https://`, the `Host`
/// it sent (else the address it reached), its target.
#[cfg(feature = "tls")]
pub(crate) fn https_url(
    host: Option<&[u8]>,
    target: &str,
    reached: Option<std::net::SocketAddr>,
) -> String {
    // A Host header is shown back only when it looks like one.
    let sent = host
        .and_then(|h| std::str::from_utf8(h).ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()));
    let authority = match (sent, reached) {
        (Some(host), _) => host.to_string(),
        (None, Some(addr)) => addr.to_string(),
        (None, None) => "this-host".to_string(),
    };
    let target = if target.starts_with('/') { target } else { "/" };
    format!("https://{authority}{target}")
}

/// The 400 that tells a plain-HTTP client which URL to use (nginx's 497).
#[cfg(feature = "tls")]
pub(crate) fn plain_http_on_tls_port(url: &str) -> (ReplyHead, Bytes) {
    let (head, _) = error_reply(400);
    let body = format!("400 Bad Request: this port speaks HTTPS. Use {url}\n");
    (head, Bytes::from(body))
}

/// Appends one chunk of a chunked reply (`{hex len}\r\n{data}\r\n`); empty data appends nothing.
pub fn encode_chunk(data: &[u8], out: &mut BytesMut) {
    if data.is_empty() {
        return;
    }
    let mut hex = [0u8; 16];
    let mut i = hex.len();
    let mut n = data.len();
    loop {
        i -= 1;
        hex[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.reserve(hex.len() - i + data.len() + 4);
    out.extend_from_slice(&hex[i..]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Ends a chunked reply.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Sent to a client over the connection cap, without reading its request.
pub(crate) const OVERLOADED_REPLY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n";

/// The same for a CORS server (SPEC: every reply, errors included).
pub(crate) const OVERLOADED_REPLY_CORS: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n";

/// The `101` that accepts a WebSocket upgrade, with its `Sec-WebSocket-Accept`.
pub(crate) fn switching_protocols(accept: &str) -> Bytes {
    Bytes::from(format!(
        "HTTP/1.1 101 Switching Protocols\r\nServer: uhttpd\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "tls")]
    #[test]
    fn plain_http_on_a_tls_port_is_told_the_https_url() {
        let reached = "192.0.2.1:8443".parse().ok();
        assert_eq!(
            https_url(Some(b"pi.local:8443"), "/fs/a?b", reached),
            "https://pi.local:8443/fs/a?b"
        );
        assert_eq!(https_url(None, "/", reached), "https://192.0.2.1:8443/");
        // A Host that is not one is not shown back; nor is a target that is not a path.
        assert_eq!(
            https_url(Some(b"a b<"), "*", reached),
            "https://192.0.2.1:8443/"
        );
        let (head, body) = plain_http_on_tls_port("https://h/");
        assert_eq!(head.status.code, 400);
        assert!(String::from_utf8_lossy(&body).contains("Use https://h/"));
    }

    fn encoded(head: &ReplyHead, framing: Framing, wire: Wire) -> String {
        let mut out = BytesMut::new();
        encode_head(&mut out, head, framing, wire);
        String::from_utf8(out.to_vec()).unwrap()
    }

    const KEEP: Wire = Wire {
        keep_alive: true,
        http10: false,
        cors: false,
    };

    fn line(status: &Status) -> BytesMut {
        let mut out = BytesMut::new();
        status.put_line(&mut out);
        out
    }

    #[test]
    fn error_replies_say_their_status_and_why_in_plain_text() {
        let (head, body) = error_reply(404);
        assert_eq!(head.status.code, 404);
        assert_eq!(
            head.content_type.as_deref(),
            Some(&b"text/plain; charset=utf-8"[..])
        );
        assert_eq!(&body[..], b"404 Not Found\n");
        let (_, body) = explained_reply(400, "Content-Digest mismatch");
        assert_eq!(&body[..], b"400 Bad Request: Content-Digest mismatch\n");
    }

    #[test]
    fn int_status_gets_its_reason_phrase() {
        assert_eq!(
            line(&Status::from_code(404).unwrap()),
            &b"404 Not Found"[..]
        );
        assert_eq!(line(&Status::from_code(299).unwrap()), &b"299 Unknown"[..]);
        assert!(Status::from_code(99).is_err());
        assert!(Status::from_code(600).is_err());
    }

    #[test]
    fn text_status_is_checked_but_kept() {
        assert_eq!(Status::parse(b"201 Created").unwrap().code, 201);
        assert_eq!(
            line(&Status::parse(b"418 Short and stout").unwrap()),
            &b"418 Short and stout"[..]
        );
        assert_eq!(line(&Status::parse(b"404").unwrap()), &b"404 Not Found"[..]);
        assert_eq!(
            Status::parse(b"201 Created").unwrap(),
            Status::from_code(201).unwrap()
        );
        for bad in [
            &b"OK"[..],
            b"20 OK",
            b"200OK",
            b"200 OK\r\nX: y",
            b"700 Nope",
            b"",
        ] {
            assert!(Status::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn headers_that_frame_the_reply_or_inject_lines_are_refused() {
        let mut head = ReplyHead::default();
        assert!(head.add_header("X-Ok", "fine\tvalue").is_ok());
        assert!(head.add_header("Content-Length", "5").is_err());
        assert!(head.add_header("transfer-encoding", "chunked").is_err());
        assert!(head.add_header("X-Bad", "a\r\nSet-Cookie: x").is_err());
        assert!(head.add_header("Bad Name", "v").is_err());
        assert!(head.add_header("", "v").is_err());
        assert!(ReplyHead::default()
            .with_content_type("text/plain\n")
            .is_err());
    }

    #[test]
    fn head_carries_framing_defaults_and_cors() {
        let mut head = ReplyHead::new(Status::from_code(200).unwrap());
        head.add_header("X-A", "1").unwrap();
        let text = encoded(&head, Framing::Length(11), Wire { cors: true, ..KEEP });
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nServer: uhttpd\r\nDate: "));
        assert!(text.contains("\r\nContent-Type: text/html\r\n"));
        assert!(text.contains("\r\nContent-Length: 11\r\n"));
        assert!(text.contains("\r\nAccess-Control-Allow-Origin: *\r\n"));
        assert!(text.ends_with("\r\nX-A: 1\r\n\r\n"));
        assert!(!text.contains("Connection"));
    }

    #[test]
    fn no_content_has_no_length_and_http10_is_told_about_the_connection() {
        let head = ReplyHead::new(Status::from_code(204).unwrap());
        let text = encoded(&head, Framing::Length(0), KEEP);
        assert!(!text.contains("Content-Length") && !text.contains("Content-Type"));
        let ok = ReplyHead::default();
        let http10 = Wire {
            http10: true,
            ..KEEP
        };
        assert!(encoded(&ok, Framing::Length(0), http10).contains("Connection: keep-alive"));
        let streamed = encoded(&ok, Framing::UntilClose, http10);
        assert!(streamed.starts_with("HTTP/1.0 200 OK") && streamed.contains("Connection: close"));
        assert!(encoded(&ok, Framing::Chunked, KEEP).contains("Transfer-Encoding: chunked"));
    }

    #[test]
    fn lengths_are_written_in_decimal() {
        for n in [0, 7, 10, 1024, u64::MAX] {
            let mut out = BytesMut::new();
            put_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn token_bytes_are_rfc_9110s() {
        let tchar = b"!#$%&'*+-.^_`|~";
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || tchar.contains(&b);
            assert_eq!(is_token_byte(b), expected, "{b}");
        }
    }

    #[test]
    fn encode_chunk_output() {
        let mut out = BytesMut::new();
        encode_chunk(b"", &mut out);
        assert!(out.is_empty());
        encode_chunk(b"hello", &mut out);
        assert_eq!(&out[..], b"5\r\nhello\r\n");
        out.clear();
        let data = vec![b'x'; 0x1a2b];
        encode_chunk(&data, &mut out);
        assert_eq!(&out[..6], b"1a2b\r\n");
        assert_eq!(&out[6..6 + data.len()], &data[..]);
        assert_eq!(&out[6 + data.len()..], b"\r\n");
        assert_eq!(LAST_CHUNK, b"0\r\n\r\n");
    }
}
