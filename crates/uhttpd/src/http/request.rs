//! Sans-IO HTTP/1.1 request parsing and body framing: pure functions and state
//! machines over byte buffers. Header syntax is httparse's; this module adds
//! the framing and smuggling rules of RFC 9112 and maps every refusal to a status.

use bytes::{Bytes, BytesMut};

use crate::limits::{MAX_CHUNK_LINE_BYTES, MAX_HEADERS, MAX_HEAD_BYTES, MAX_URI_BYTES};

/// Size bounds for [`parse_head`].
#[derive(Clone, Copy, Debug)]
pub struct HeadLimits {
    pub max_head_bytes: usize,
    pub max_uri_bytes: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_head_bytes: MAX_HEAD_BYTES,
            max_uri_bytes: MAX_URI_BYTES,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// How the request body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    Empty,
    Length(u64),
    Chunked,
}

/// Where a part of the head lies in its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// The span of `part`, a slice of `buf` (as httparse hands them out).
    fn of(buf: &[u8], part: &[u8]) -> Span {
        let start = part.as_ptr() as usize - buf.as_ptr() as usize;
        Span {
            start,
            end: start + part.len(),
        }
    }

    fn get(self, raw: &[u8]) -> &[u8] {
        &raw[self.start..self.end]
    }
}

#[derive(Clone, Debug)]
enum Target {
    /// As sent (origin-form, `*`, or the path of an absolute-form target).
    Sent(Span),
    /// An absolute-form target without a path, given its `/`.
    Reduced(Box<str>),
}

/// The method and target of a request, sharing its head's bytes: what the
/// access log names once the head itself is gone.
#[derive(Clone, Debug)]
pub struct RequestLine {
    raw: Bytes,
    method: Span,
    target: Target,
    /// Where the target's path ends (its first `?` or `#`, else its length).
    path_end: usize,
}

impl RequestLine {
    /// Method token as sent.
    pub fn method(&self) -> &str {
        text(self.method.get(&self.raw))
    }

    /// Origin-form target or `*`; absolute-form is reduced to path and query.
    pub fn target(&self) -> &str {
        match &self.target {
            Target::Sent(span) => text(span.get(&self.raw)),
            Target::Reduced(target) => target,
        }
    }
}

/// A parsed request head. It keeps the bytes it was parsed from: the
/// method, the target and every field are spans of them, never copies, so
/// parsing allocates one list of spans and nothing per field.
#[derive(Clone, Debug)]
pub struct RequestHead {
    line: RequestLine,
    pub version: Version,
    /// `(name, value)`, in the order received.
    fields: Vec<(Span, Span)>,
    pub body: BodyKind,
    pub keep_alive: bool,
    pub expect_continue: bool,
}

impl RequestHead {
    /// The method and target, sharing this head's bytes.
    pub fn line(&self) -> &RequestLine {
        &self.line
    }

    /// Method token as sent.
    pub fn method(&self) -> &str {
        self.line.method()
    }

    /// Origin-form target or `*`; absolute-form is reduced to path and query.
    pub fn target(&self) -> &str {
        self.line.target()
    }

    /// Every field as `(name as sent, value)`, in the order received.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        let raw = &self.line.raw;
        self.fields
            .iter()
            .map(|&(name, value)| (text(name.get(raw)), value.get(raw)))
    }

    /// First field with that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.named(name).next()
    }

    /// Every field `name` as one value, its lines joined with `, ` (RFC
    /// 9110 §5.3); borrowed when there is a single line.
    pub fn combined(&self, name: &str) -> Option<std::borrow::Cow<'_, [u8]>> {
        let mut lines = self.named(name);
        let first = lines.next()?;
        let Some(second) = lines.next() else {
            return Some(std::borrow::Cow::Borrowed(first));
        };
        let mut joined = first.to_vec();
        for line in std::iter::once(second).chain(lines) {
            joined.extend_from_slice(b", ");
            joined.extend_from_slice(line);
        }
        Some(std::borrow::Cow::Owned(joined))
    }

    /// Whether any field `name` lists `token` in its comma-separated value.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.named(name).any(|v| {
            v.split(|&b| b == b',')
                .any(|t| trim_ows(t).eq_ignore_ascii_case(token.as_bytes()))
        })
    }

    /// Target up to the first `?` or `#`.
    pub fn path(&self) -> &str {
        &self.target()[..self.line.path_end]
    }

    /// Between `?` and `#`; empty if there is no query.
    pub fn query(&self) -> &str {
        match self.target()[self.line.path_end..].strip_prefix('?') {
            Some(rest) => &rest[..rest.find('#').unwrap_or(rest.len())],
            None => "",
        }
    }

    fn named<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        let raw = &self.line.raw;
        self.fields
            .iter()
            .filter(move |(field, _)| field.get(raw).eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, value)| value.get(raw))
    }
}

/// Text httparse checked (tokens and targets are visible ASCII).
fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// A request the server must refuse, with the status to answer it with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtoError {
    pub status: u16,
    /// Short human text for logs and the reply body.
    pub reason: &'static str,
}

impl std::fmt::Display for ProtoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.reason)
    }
}

impl std::error::Error for ProtoError {}

fn refuse<T>(status: u16, reason: &'static str) -> Result<T, ProtoError> {
    Err(ProtoError { status, reason })
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The first byte of every TLS connection: a handshake record (content type
/// 22) carrying the ClientHello. No request line starts with it.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Whether a connection whose first byte is `first` starts a TLS handshake
/// rather than an HTTP request.
pub(crate) fn starts_tls_handshake(first: u8) -> bool {
    first == TLS_HANDSHAKE_RECORD
}

/// Parses a request head at the start of `buf`. `Ok(None)`: incomplete, read
/// more. `Ok(Some(head))`: the head's bytes (leading empty lines included)
/// were split off `buf` into the head; what follows them stays.
// One function, longer than most: it applies RFC 9112's framing and
// smuggling rules to the header list in the order the RFC gives them, and
// splitting it would hide that order.
pub fn parse_head(
    buf: &mut BytesMut,
    limits: &HeadLimits,
) -> Result<Option<RequestHead>, ProtoError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return incomplete(buf, limits),
        Err(httparse::Error::Version) => return version_error(buf, limits),
        Err(httparse::Error::TooManyHeaders) => return refuse(431, "too many header fields"),
        Err(httparse::Error::HeaderName) => return refuse(400, "invalid header name"),
        Err(httparse::Error::HeaderValue) => return refuse(400, "invalid header value"),
        Err(httparse::Error::NewLine) => return refuse(400, "invalid line ending"),
        Err(_) => return refuse(400, "malformed request line"),
    };
    let (Some(method), Some(raw_target), Some(minor)) = (req.method, req.path, req.version) else {
        return refuse(400, "malformed request line");
    };
    if raw_target.len() > limits.max_uri_bytes {
        return refuse(414, "request target too long");
    }
    if n > limits.max_head_bytes {
        return refuse(431, "request head too large");
    }
    let version = if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    let (target, path_end) = match reduce_target(method, raw_target)? {
        Reduced::Slice(target) => (
            Target::Sent(Span::of(buf, target.as_bytes())),
            path_end(target),
        ),
        Reduced::Root(target) => {
            let end = path_end(&target);
            (Target::Reduced(target.into()), end)
        }
    };
    let method = Span::of(buf, method.as_bytes());
    let headers = req.headers;
    let named = |name: &'static str| {
        headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
    };

    match named("host").count() {
        0 if version == Version::Http11 => return refuse(400, "missing Host"),
        0 | 1 => {}
        _ => return refuse(400, "duplicate Host"),
    }
    if named("host").any(|h| !is_authority(h.value)) {
        return refuse(400, "invalid Host");
    }
    // Two credentials: which one a check reads and which one a proxy or a
    // handler reads could differ, so neither is trusted.
    if named("authorization").nth(1).is_some() {
        return refuse(400, "duplicate Authorization");
    }

    let mut lengths = named("content-length");
    let length = match (lengths.next(), lengths.next()) {
        (None, _) => None,
        (Some(h), None) => Some(parse_content_length(h.value)?),
        (Some(_), Some(_)) => return refuse(400, "duplicate Content-Length"),
    };

    let mut codings = named("transfer-encoding");
    let chunked = match (codings.next(), codings.next()) {
        (None, _) => false,
        (Some(_), _) if version == Version::Http10 => {
            return refuse(400, "Transfer-Encoding in HTTP/1.0")
        }
        (Some(_), Some(_)) => return refuse(400, "duplicate Transfer-Encoding"),
        (Some(_), None) if length.is_some() => {
            return refuse(400, "Content-Length with Transfer-Encoding")
        }
        (Some(h), None) if h.value.eq_ignore_ascii_case(b"chunked") => true,
        (Some(_), None) => return refuse(501, "unsupported Transfer-Encoding"),
    };

    let mut expect_continue = false;
    for h in named("expect") {
        if !h.value.eq_ignore_ascii_case(b"100-continue") {
            return refuse(417, "unsupported expectation");
        }
        // RFC 9110 10.1.1: a 100-continue from an HTTP/1.0 client is ignored.
        expect_continue = version == Version::Http11;
    }

    let body = match (chunked, length) {
        (true, _) => BodyKind::Chunked,
        (false, Some(n)) if n > 0 => BodyKind::Length(n),
        _ => BodyKind::Empty,
    };
    let fields = headers
        .iter()
        .map(|h| (Span::of(buf, h.name.as_bytes()), Span::of(buf, h.value)))
        .collect();
    let mut head = RequestHead {
        line: RequestLine {
            raw: buf.split_to(n).freeze(),
            method,
            target,
            path_end,
        },
        version,
        fields,
        body,
        keep_alive: false,
        expect_continue,
    };
    head.keep_alive = !head.has_token("connection", "close")
        && (version == Version::Http11 || head.has_token("connection", "keep-alive"));
    Ok(Some(head))
}

/// Size checks for a head httparse has not finished; measures the target even
/// before its line ends, so a target that fits never gets 414 however the bytes arrive.
fn incomplete(buf: &[u8], limits: &HeadLimits) -> Result<Option<RequestHead>, ProtoError> {
    let (line, _) = request_line(buf);
    let target = line.split(|&b| b == b' ').nth(1).unwrap_or_default();
    if target.len() > limits.max_uri_bytes {
        return refuse(414, "request target too long");
    }
    if buf.len() > limits.max_head_bytes {
        return refuse(431, "request head too large");
    }
    Ok(None)
}

/// The request line after skipped empty lines, without its LF, and whether the LF was seen.
fn request_line(buf: &[u8]) -> (&[u8], bool) {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line = &buf[start..];
    match line.iter().position(|&b| b == b'\n') {
        Some(end) => (&line[..end], true),
        None => (line, false),
    }
}

/// httparse refuses any version but 1.0 and 1.1, even before the line is
/// complete; a well-formed other version gets 505, anything else 400.
fn version_error(buf: &[u8], limits: &HeadLimits) -> Result<Option<RequestHead>, ProtoError> {
    // httparse accepted the method and target, each followed by exactly one SP.
    let (line, lf_seen) = request_line(buf);
    let rest = line.splitn(3, |&b| b == b' ').nth(2).unwrap_or_default();
    let cr = rest.iter().position(|&b| b == b'\r');
    let version = &rest[..cr.unwrap_or(rest.len())];
    let fits = version.len() <= 8
        && version.iter().zip(b"HTTP/0.0").all(|(&b, &p)| match p {
            b'0' => b.is_ascii_digit(),
            _ => b == p,
        });
    match (fits, cr.is_some() || lf_seen) {
        (true, true) if version.len() == 8 => refuse(505, "HTTP version not supported"),
        (true, false) => incomplete(buf, limits),
        _ => refuse(400, "malformed HTTP version"),
    }
}

/// Where the path of `target` ends: at its first `?` or `#`.
fn path_end(target: &str) -> usize {
    target
        .bytes()
        .position(|b| b == b'?' || b == b'#')
        .unwrap_or(target.len())
}

/// A target reduced to origin-form (or `*`).
enum Reduced<'a> {
    /// A part of the target as sent.
    Slice(&'a str),
    /// An absolute-form target without a path, with one put in front.
    Root(String),
}

fn reduce_target<'a>(method: &str, raw: &'a str) -> Result<Reduced<'a>, ProtoError> {
    if raw.starts_with('/') {
        return Ok(Reduced::Slice(raw));
    }
    if raw == "*" {
        return if method == "OPTIONS" {
            Ok(Reduced::Slice(raw))
        } else {
            refuse(400, "asterisk target outside OPTIONS")
        };
    }
    let Some((_, tail)) = split_http_uri(raw) else {
        return refuse(400, "invalid request target");
    };
    Ok(if tail.starts_with('/') {
        Reduced::Slice(tail)
    } else {
        Reduced::Root(format!("/{tail}"))
    })
}

/// An absolute `http://` or `https://` URI split into its authority and
/// what follows it (path, query; possibly empty). `None` when `raw` is not
/// one, or has an empty host or a userinfo (errors in an http URI, RFC 9110 §4.2).
pub(crate) fn split_http_uri(raw: &str) -> Option<(&str, &str)> {
    let rest = ["http://", "https://"].iter().find_map(|scheme| {
        let prefix = raw.get(..scheme.len())?;
        prefix
            .eq_ignore_ascii_case(scheme)
            .then(|| &raw[scheme.len()..])
    })?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    (!authority.is_empty() && !authority.contains('@')).then_some((authority, tail))
}

fn parse_content_length(value: &[u8]) -> Result<u64, ProtoError> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return refuse(400, "invalid Content-Length");
    }
    // All ASCII digits, so only overflow can fail here.
    match std::str::from_utf8(value).map(str::parse) {
        Ok(Ok(n)) => Ok(n),
        _ => refuse(400, "invalid Content-Length"),
    }
}

/// RFC 9112 §3.2: Host is `uri-host [ ":" port ]` (empty allowed): reg-name,
/// IPv4 or a bracketed IP literal; no spaces, slashes, `@` or controls.
fn is_authority(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:[]".contains(&b))
}

#[derive(Clone, Copy, Debug)]
enum State {
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    Done,
}

/// Body framing decoder (Content-Length or chunked).
#[derive(Debug)]
pub struct BodyDecoder {
    state: State,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    Data(Bytes),
    NeedMore,
    Done,
}

impl BodyDecoder {
    pub fn new(kind: BodyKind) -> BodyDecoder {
        let state = match kind {
            BodyKind::Empty | BodyKind::Length(0) => State::Done,
            BodyKind::Length(n) => State::Length(n),
            BodyKind::Chunked => State::ChunkSize,
        };
        BodyDecoder { state }
    }

    /// Takes what it can from the front of `buf` and returns at most `max`
    /// body bytes, split off `buf`. Chunk framing is consumed silently and
    /// trailers are discarded; bytes after the body are never touched.
    pub fn decode(&mut self, buf: &mut BytesMut, max: usize) -> Result<Decoded, ProtoError> {
        debug_assert!(max > 0, "decode with max 0 cannot make progress");
        loop {
            match self.state {
                State::Done => return Ok(Decoded::Done),
                State::Length(remaining) => {
                    let Some(data) = take(buf, remaining, max) else {
                        return Ok(Decoded::NeedMore);
                    };
                    let left = remaining - data.len() as u64;
                    self.state = if left == 0 {
                        State::Done
                    } else {
                        State::Length(left)
                    };
                    return Ok(Decoded::Data(data));
                }
                State::ChunkSize => {
                    let Some(size) = chunk_size_line(buf)? else {
                        return Ok(Decoded::NeedMore);
                    };
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::ChunkData(size)
                    };
                }
                State::ChunkData(remaining) => {
                    let Some(data) = take(buf, remaining, max) else {
                        return Ok(Decoded::NeedMore);
                    };
                    let left = remaining - data.len() as u64;
                    self.state = if left == 0 {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(left)
                    };
                    return Ok(Decoded::Data(data));
                }
                State::ChunkEnd => match &buf[..] {
                    [b'\r', b'\n', ..] => {
                        let _ = buf.split_to(2);
                        self.state = State::ChunkSize;
                    }
                    [] | [b'\r'] => return Ok(Decoded::NeedMore),
                    _ => return refuse(400, "missing CRLF after chunk data"),
                },
                State::Trailers => {
                    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    match httparse::parse_headers(buf, &mut slots) {
                        Ok(httparse::Status::Complete((n, _))) if n <= MAX_HEAD_BYTES => {
                            let _ = buf.split_to(n);
                            self.state = State::Done;
                        }
                        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD_BYTES => {
                            return Ok(Decoded::NeedMore)
                        }
                        Ok(_) | Err(httparse::Error::TooManyHeaders) => {
                            return refuse(431, "chunked trailers too large")
                        }
                        Err(_) => return refuse(400, "invalid chunked trailer"),
                    }
                }
            }
        }
    }

    /// Whether the whole body, framing included, has been consumed.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Body bytes still to come when the length is known (Content-Length);
    /// `None` for a chunked body that has not ended.
    pub fn remaining(&self) -> Option<u64> {
        match self.state {
            State::Length(n) => Some(n),
            State::Done => Some(0),
            _ => None,
        }
    }
}

/// Splits off up to `min(remaining, max)` bytes; None if `buf` is empty.
fn take(buf: &mut BytesMut, remaining: u64, max: usize) -> Option<Bytes> {
    if buf.is_empty() {
        return None;
    }
    let n = usize::try_from(remaining)
        .unwrap_or(usize::MAX)
        .min(max)
        .min(buf.len());
    Some(buf.split_to(n).freeze())
}

/// Consumes a complete chunk-size line and returns its size; None if the line is incomplete.
fn chunk_size_line(buf: &mut BytesMut) -> Result<Option<u64>, ProtoError> {
    // The line may hold MAX_CHUNK_LINE_BYTES before its CRLF.
    let window = &buf[..buf.len().min(MAX_CHUNK_LINE_BYTES + 2)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        if buf.len() >= MAX_CHUNK_LINE_BYTES + 2 {
            return refuse(400, "chunk-size line too long");
        }
        return Ok(None);
    };
    let Some(line) = window[..lf].strip_suffix(b"\r") else {
        return refuse(400, "chunk-size line must end with CRLF");
    };
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let (hex, ext) = line.split_at(digits);
    let ext = trim_ows(ext);
    let ext_ok = (ext.is_empty() || ext[0] == b';')
        && ext.iter().all(|&b| b == b'\t' || (b >= b' ' && b != 0x7f));
    if hex.is_empty() || !ext_ok {
        return refuse(400, "invalid chunk-size line");
    }
    let significant = &hex[hex.iter().take_while(|&&b| b == b'0').count()..];
    if significant.len() > 16 {
        return refuse(400, "chunk size too large");
    }
    let size = significant.iter().fold(0u64, |acc, &b| {
        // At most 16 hex digits, so this never overflows.
        (acc << 4) | u64::from((b as char).to_digit(16).unwrap_or(0))
    });
    let _ = buf.split_to(lf + 1);
    Ok(Some(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_hello_is_told_from_a_request_line() {
        assert!(starts_tls_handshake(0x16));
        for method in ["GET", "POST", "OPTIONS", "PRI", "\r\n"] {
            assert!(!starts_tls_handshake(method.as_bytes()[0]));
        }
    }

    /// The head and how many bytes of `buf` it took.
    type Parsed = Result<Option<(RequestHead, usize)>, ProtoError>;

    fn parse_with(buf: &[u8], limits: &HeadLimits) -> Parsed {
        let mut bytes = BytesMut::from(buf);
        let head = parse_head(&mut bytes, limits)?;
        Ok(head.map(|head| (head, buf.len() - bytes.len())))
    }

    fn parse(buf: &[u8]) -> Parsed {
        parse_with(buf, &HeadLimits::default())
    }

    fn head(buf: &[u8]) -> RequestHead {
        let (head, n) = parse(buf).unwrap().expect("complete head");
        assert_eq!(n, buf.len());
        head
    }

    fn status(buf: &[u8]) -> u16 {
        match parse(buf) {
            Err(e) => e.status,
            Ok(r) => panic!("expected an error, got {r:?}"),
        }
    }

    /// A request with a Host and the given extra header lines.
    fn with_headers(lines: &str) -> Vec<u8> {
        format!("POST /x HTTP/1.1\r\nHost: h\r\n{lines}\r\n").into_bytes()
    }

    const SMALL: HeadLimits = HeadLimits {
        max_head_bytes: 64,
        max_uri_bytes: 16,
    };

    #[test]
    fn default_limits_come_from_limits_rs() {
        let l = HeadLimits::default();
        assert_eq!(l.max_head_bytes, MAX_HEAD_BYTES);
        assert_eq!(l.max_uri_bytes, MAX_URI_BYTES);
    }

    #[test]
    fn simple_get() {
        let h = head(b"GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Thing: v\r\n\r\n");
        assert_eq!(h.method(), "GET");
        assert_eq!(h.target(), "/a/b?x=1");
        assert_eq!(h.path(), "/a/b");
        assert_eq!(h.query(), "x=1");
        assert_eq!(h.version, Version::Http11);
        assert_eq!(h.body, BodyKind::Empty);
        assert!(h.keep_alive);
        assert!(!h.expect_continue);
        assert_eq!(
            h.fields().collect::<Vec<_>>(),
            [("Host", &b"example.com"[..]), ("X-Thing", &b"v"[..])]
        );
    }

    #[test]
    fn method_is_kept_as_sent() {
        assert_eq!(
            head(b"pAtCh / HTTP/1.1\r\nHost: h\r\n\r\n").method(),
            "pAtCh"
        );
    }

    #[test]
    fn names_as_sent_found_in_any_case_values_raw() {
        let h = head(b"GET / HTTP/1.1\r\nHOST: h\r\nX-Raw: a\xff\tb\r\n\r\n");
        let fields: Vec<_> = h.fields().collect();
        assert_eq!(fields[0].0, "HOST");
        assert_eq!(fields[1], ("X-Raw", &b"a\xff\tb"[..]));
        assert_eq!(h.header("X-RAW"), Some(&b"a\xff\tb"[..]));
        assert_eq!(h.header("missing"), None);
    }

    #[test]
    fn header_returns_first_field() {
        let h = head(b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\na: 2\r\n\r\n");
        assert_eq!(h.header("a"), Some(&b"1"[..]));
    }

    #[test]
    fn combined_joins_every_line_of_a_field() {
        let h = head(b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: x\r\na: 2, 3\r\n\r\n");
        assert_eq!(h.combined("a").as_deref(), Some(&b"1, 2, 3"[..]));
        assert!(matches!(
            h.combined("B"),
            Some(std::borrow::Cow::Borrowed(b"x"))
        ));
        assert_eq!(h.combined("missing"), None);
    }

    #[test]
    fn has_token_searches_all_fields_and_lists() {
        let h = head(b"GET / HTTP/1.1\r\nHost: h\r\nX-L: a , B\r\nx-l: c,\t D \r\n\r\n");
        for t in ["a", "b", "C", "d"] {
            assert!(h.has_token("X-l", t), "{t}");
        }
        assert!(!h.has_token("x-l", "e"));
        assert!(!h.has_token("x-l", "a , b"));
        assert!(!h.has_token("other", "a"));
    }

    #[test]
    fn path_and_query() {
        for (target, path, query) in [
            ("/p?q=1#frag", "/p", "q=1"),
            ("/p", "/p", ""),
            ("/p?", "/p", ""),
            ("/p#f?x", "/p", ""),
            ("/p?a?b", "/p", "a?b"),
            ("*", "*", ""),
        ] {
            let h = head(format!("OPTIONS {target} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes());
            assert_eq!((h.path(), h.query()), (path, query), "{target}");
        }
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let req = b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
        for i in 0..req.len() {
            assert!(parse(&req[..i]).unwrap().is_none(), "prefix {i}");
        }
        assert_eq!(head(req).body, BodyKind::Length(3));
    }

    #[test]
    fn pipelined_requests_report_exact_lengths() {
        let first = b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n";
        let second = b"GET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
        let buf = [&first[..], &second[..]].concat();
        let (h1, n1) = parse(&buf).unwrap().unwrap();
        assert_eq!((h1.target(), n1), ("/1", first.len()));
        let (h2, n2) = parse(&buf[n1..]).unwrap().unwrap();
        assert_eq!((h2.target(), n2), ("/2", second.len()));
    }

    #[test]
    fn pipelined_body_stays_in_buffer() {
        let buf = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n";
        let (h, n) = parse(buf).unwrap().unwrap();
        assert_eq!(&buf[n..n + 5], b"hello");
        assert_eq!(h.body, BodyKind::Length(5));
    }

    #[test]
    fn leading_empty_lines_are_skipped() {
        let (h, n) = parse(b"\r\n\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\nrest")
            .unwrap()
            .unwrap();
        assert_eq!(h.target(), "/");
        assert_eq!(n, 5 + 27);
        assert!(parse(b"\r\n\r\n").unwrap().is_none());
    }

    #[test]
    fn bare_lf_line_ends_are_accepted() {
        // RFC 9112 2.2 lets a recipient accept LF alone; httparse does.
        let h = head(b"GET / HTTP/1.1\nHost: h\n\n");
        assert_eq!(h.header("host"), Some(&b"h"[..]));
    }

    #[test]
    fn obs_fold_is_400() {
        assert_eq!(status(&with_headers("X-A: a\r\n b\r\n")), 400);
        assert_eq!(status(&with_headers("X-A: a\r\n\tb\r\n")), 400);
        // Whitespace before the first field is a fold of the request line.
        assert_eq!(status(b"GET / HTTP/1.1\r\n Host: h\r\n\r\n"), 400);
    }

    #[test]
    fn bare_cr_is_400() {
        assert_eq!(status(&with_headers("X-A: a\rb\r\n")), 400);
        assert_eq!(status(&with_headers("X-A: a\r\r\n")), 400);
        assert_eq!(status(&with_headers("X-\rA: a\r\n")), 400);
        assert_eq!(status(b"GET / HTTP/1.1\rHost: h\r\n\r\n"), 400);
        assert_eq!(status(b"GET /\r HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: h\r\n\rX"), 400);
        assert_eq!(status(b"\rGET / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    }

    #[test]
    fn space_before_colon_is_400() {
        assert_eq!(status(&with_headers("X-A : a\r\n")), 400);
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400);
    }

    #[test]
    fn invalid_token_chars_are_400() {
        assert_eq!(status(&with_headers("X(A): a\r\n")), 400);
        assert_eq!(status(&with_headers("X A: a\r\n")), 400);
        assert_eq!(status(&with_headers("NoColon\r\n")), 400);
        assert_eq!(status(&with_headers(": empty name\r\n")), 400);
        assert_eq!(status(b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
        assert_eq!(status(b"GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    }

    #[test]
    fn nul_is_400() {
        assert_eq!(status(&with_headers("X-A: a\0b\r\n")), 400);
        assert_eq!(status(&with_headers("X\0: a\r\n")), 400);
        assert_eq!(status(b"GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
        assert_eq!(status(b"G\0T / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    }

    #[test]
    fn malformed_request_line_is_400() {
        for line in [
            &b"GET  / HTTP/1.1"[..],
            b"GET /  HTTP/1.1",
            b"GET / HTTP/1.1 ",
            b" GET / HTTP/1.1",
            b"GET /",
            b"GET / HTTP/1.10",
            b"GET / HTTP/1.1x",
            b"GET / HTTX/1.1",
            b"GET / http/1.1",
            b"GET / HTTP/11",
            b"GET / HTTP/2",
            b"GET / HTTP/a.b",
            b"GET / \xffTTP/1.1",
            b"GET /\xff HTTP/1.1",
        ] {
            let buf = [line, b"\r\nHost: h\r\n\r\n"].concat();
            assert_eq!(status(&buf), 400, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn other_http_versions_are_505() {
        for v in ["HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/3.0", "HTTP/9.9"] {
            assert_eq!(
                status(format!("GET / {v}\r\nHost: h\r\n\r\n").as_bytes()),
                505,
                "{v}"
            );
            assert_eq!(status(format!("GET / {v}\n").as_bytes()), 505, "{v} LF");
            // Known as soon as the line ends, even with the head incomplete.
            assert_eq!(status(format!("GET / {v}\r").as_bytes()), 505, "{v} CR");
        }
    }

    #[test]
    fn partial_other_version_waits() {
        for buf in [
            &b"GET / HTTP/2"[..],
            b"GET / HTTP/2.",
            b"GET / HTTP/2.0",
            b"GET / HTTP/0",
        ] {
            assert!(
                parse(buf).unwrap().is_none(),
                "{}",
                String::from_utf8_lossy(buf)
            );
        }
        assert_eq!(status(b"GET / HTTP/2.0x"), 400);
    }

    #[test]
    fn too_many_headers_is_431() {
        let at_limit: String = (1..MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        let h = head(&with_headers(&at_limit));
        assert_eq!(h.fields().count(), MAX_HEADERS);
        let over: String = (0..MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(status(&with_headers(&over)), 431);
    }

    #[test]
    fn head_size_limit() {
        let base = b"GET / HTTP/1.1\r\nHost: h\r\nX: \r\n\r\n".len();
        let make = |len: usize| {
            let pad = "a".repeat(len - base);
            format!("GET / HTTP/1.1\r\nHost: h\r\nX: {pad}\r\n\r\n").into_bytes()
        };
        let exact = make(64);
        assert_eq!(exact.len(), 64);
        assert!(parse_with(&exact, &SMALL).unwrap().is_some());
        let over = make(65);
        assert_eq!(parse_with(&over, &SMALL).unwrap_err().status, 431);
        // Incomplete: waits at the limit, refuses one past it.
        let partial = [&exact[..62], b"aaa"].concat();
        assert!(parse_with(&partial[..64], &SMALL).unwrap().is_none());
        assert_eq!(parse_with(&partial[..65], &SMALL).unwrap_err().status, 431);
        // Endless empty lines are bounded too.
        assert_eq!(parse_with(&[b'\n'; 65], &SMALL).unwrap_err().status, 431);
    }

    #[test]
    fn uri_size_limit() {
        let t16 = format!("/{}", "a".repeat(15));
        let t17 = format!("/{}", "a".repeat(16));
        let ok = format!("GET {t16} HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(
            parse_with(ok.as_bytes(), &SMALL)
                .unwrap()
                .unwrap()
                .0
                .target(),
            t16
        );
        let long = format!("GET {t17} HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(parse_with(long.as_bytes(), &SMALL).unwrap_err().status, 414);
        // A huge request line is refused before its end arrives.
        assert!(parse_with(format!("GET {t16}").as_bytes(), &SMALL)
            .unwrap()
            .is_none());
        let e = parse_with(format!("GET {t17}").as_bytes(), &SMALL).unwrap_err();
        assert_eq!(e.status, 414);
        let e = parse_with(format!("GET {t17} HTTP/1.1\r\nHost").as_bytes(), &SMALL).unwrap_err();
        assert_eq!(e.status, 414);
    }

    #[test]
    fn uri_limit_checks_the_raw_target() {
        let long = format!(
            "GET http://host{} HTTP/1.1\r\nHost: h\r\n\r\n",
            "/a".repeat(4)
        );
        assert_eq!(parse_with(long.as_bytes(), &SMALL).unwrap_err().status, 414);
    }

    #[test]
    fn asterisk_only_with_options() {
        assert_eq!(head(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").target(), "*");
        assert_eq!(status(b"GET * HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
        assert_eq!(status(b"options * HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    }

    #[test]
    fn absolute_form_is_reduced() {
        for (target, reduced) in [
            ("http://host/p?q=1", "/p?q=1"),
            ("https://host:8443/a/b", "/a/b"),
            ("HTTP://Host/p", "/p"),
            ("http://host", "/"),
            ("http://host?x=1", "/?x=1"),
            ("http://host#f", "/#f"),
        ] {
            let buf = format!("GET {target} HTTP/1.1\r\nHost: h\r\n\r\n");
            assert_eq!(head(buf.as_bytes()).target(), reduced, "{target}");
        }
    }

    #[test]
    fn other_targets_are_400() {
        for target in [
            "a/b",
            "host:443",
            "ftp://host/p",
            "http:/p",
            "http:///p",
            "http://user@host/p",
            "?x",
        ] {
            let buf = format!("GET {target} HTTP/1.1\r\nHost: h\r\n\r\n");
            assert_eq!(status(buf.as_bytes()), 400, "{target}");
        }
    }

    #[test]
    fn host_rules() {
        assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"), 400);
        let h = head(b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(h.version, Version::Http10);
        assert_eq!(
            head(b"GET / HTTP/1.1\r\nHost:\r\n\r\n").header("host"),
            Some(&b""[..])
        );
        for bad in ["a b", "t/x", "user@host", "h?x", "h#f"] {
            let req = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
            assert_eq!(status(req.as_bytes()), 400, "{bad}");
        }
        for good in [
            "h",
            "example.com:8080",
            "127.0.0.1:80",
            "[::1]:8080",
            "xn--bcher-kva.example",
        ] {
            let req = format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n");
            assert_eq!(head(req.as_bytes()).header("host"), Some(good.as_bytes()));
        }
    }

    #[test]
    fn content_length_values() {
        for (value, kind) in [
            ("5", BodyKind::Length(5)),
            ("  5  ", BodyKind::Length(5)),
            ("007", BodyKind::Length(7)),
            ("0", BodyKind::Empty),
            ("18446744073709551615", BodyKind::Length(u64::MAX)),
        ] {
            let buf = with_headers(&format!("Content-Length: {value}\r\n"));
            assert_eq!(head(&buf).body, kind, "{value:?}");
        }
        for value in [
            "+5",
            "-5",
            "5 5",
            "",
            "0x5",
            "5, 5",
            "5,",
            "1e3",
            "18446744073709551616",
        ] {
            let buf = with_headers(&format!("Content-Length: {value}\r\n"));
            assert_eq!(status(&buf), 400, "{value:?}");
        }
    }

    #[test]
    fn duplicate_content_length_is_400() {
        let e = parse(&with_headers("Content-Length: 5\r\nContent-Length: 5\r\n")).unwrap_err();
        assert_eq!(
            e,
            ProtoError {
                status: 400,
                reason: "duplicate Content-Length"
            }
        );
        assert_eq!(
            status(&with_headers("Content-Length: 5\r\ncontent-length: 6\r\n")),
            400
        );
    }

    #[test]
    fn chunked_transfer_encoding() {
        for value in ["chunked", "Chunked", "CHUNKED", " chunked "] {
            let buf = with_headers(&format!("Transfer-Encoding: {value}\r\n"));
            assert_eq!(head(&buf).body, BodyKind::Chunked, "{value:?}");
        }
    }

    #[test]
    fn transfer_encoding_with_content_length_is_400() {
        assert_eq!(
            status(&with_headers(
                "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"
            )),
            400
        );
        assert_eq!(
            status(&with_headers(
                "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"
            )),
            400
        );
        assert_eq!(
            status(&with_headers(
                "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n"
            )),
            400
        );
    }

    #[test]
    fn duplicate_authorization_is_400() {
        let e = parse(&with_headers(
            "Authorization: Basic YW5zd2VyOjQy\r\nAuthorization: Basic eDp5\r\n",
        ))
        .unwrap_err();
        assert_eq!(
            e,
            ProtoError {
                status: 400,
                reason: "duplicate Authorization"
            }
        );
        // equal values, other casing, other headers between: still two
        let same = "Authorization: Basic eDp5\r\nX-A: 1\r\nauthorization: Basic eDp5\r\n";
        assert_eq!(status(&with_headers(same)), 400);
        // one is fine, and so is one empty value
        let one = head(&with_headers("Authorization: Basic eDp5\r\n"));
        assert_eq!(one.header("authorization"), Some(&b"Basic eDp5"[..]));
        assert!(parse(&with_headers("Authorization: \r\n")).is_ok());
    }

    #[test]
    fn duplicate_transfer_encoding_is_400() {
        let buf = with_headers("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n");
        assert_eq!(status(&buf), 400);
    }

    #[test]
    fn other_transfer_codings_are_501() {
        for value in [
            "gzip",
            "gzip, chunked",
            "chunked, chunked",
            "identity",
            "",
            "chunked;q=1",
        ] {
            let buf = with_headers(&format!("Transfer-Encoding: {value}\r\n"));
            assert_eq!(status(&buf), 501, "{value:?}");
        }
    }

    #[test]
    fn transfer_encoding_in_http10_is_400() {
        for value in ["chunked", "gzip"] {
            let buf = format!("POST / HTTP/1.0\r\nTransfer-Encoding: {value}\r\n\r\n");
            assert_eq!(status(buf.as_bytes()), 400, "{value}");
        }
    }

    #[test]
    fn expect_rules() {
        assert!(head(&with_headers("Expect: 100-continue\r\n")).expect_continue);
        assert!(head(&with_headers("Expect: 100-Continue\r\n")).expect_continue);
        assert!(!head(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue);
        for value in ["200-ok", "", "100-continue, x", "100-continuex"] {
            let buf = with_headers(&format!("Expect: {value}\r\n"));
            assert_eq!(status(&buf), 417, "{value:?}");
        }
        assert_eq!(
            status(&with_headers("Expect: 100-continue\r\nExpect: foo\r\n")),
            417
        );
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |buf: &[u8]| head(buf).keep_alive;
        assert!(ka(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
        assert!(!ka(
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        ));
        assert!(!ka(
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close\r\n\r\n"
        ));
        assert!(!ka(
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: x\r\nConnection: close\r\n\r\n"
        ));
        assert!(ka(
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n"
        ));
        assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(ka(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(!ka(
            b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"
        ));
    }

    #[test]
    fn error_display() {
        let e = ProtoError {
            status: 400,
            reason: "duplicate Content-Length",
        };
        assert_eq!(e.to_string(), "400 duplicate Content-Length");
        let _: &dyn std::error::Error = &e;
    }

    // Body decoding.

    /// Feeds `input` in pieces of `step` bytes, drains with `max`, returns the
    /// body and what is left in the buffer once Done.
    fn decode_all(kind: BodyKind, input: &[u8], step: usize, max: usize) -> (Vec<u8>, Vec<u8>) {
        let mut dec = BodyDecoder::new(kind);
        let mut buf = BytesMut::new();
        let mut fed = 0;
        let mut body = Vec::new();
        loop {
            match dec.decode(&mut buf, max).unwrap() {
                Decoded::Data(d) => {
                    assert!(!d.is_empty() && d.len() <= max);
                    body.extend_from_slice(&d);
                }
                Decoded::NeedMore => {
                    assert!(fed < input.len(), "needs more than the whole input");
                    let end = (fed + step).min(input.len());
                    buf.extend_from_slice(&input[fed..end]);
                    fed = end;
                }
                Decoded::Done => {
                    assert!(dec.is_done());
                    buf.extend_from_slice(&input[fed..]);
                    return (body, buf.to_vec());
                }
            }
        }
    }

    fn decode_err(kind: BodyKind, input: &[u8]) -> u16 {
        let mut dec = BodyDecoder::new(kind);
        let mut buf = BytesMut::from(input);
        loop {
            match dec.decode(&mut buf, 1 << 20) {
                Ok(Decoded::Data(_)) => {}
                Ok(other) => panic!("expected an error, got {other:?}"),
                Err(e) => return e.status,
            }
        }
    }

    const CHUNKED: &[u8] = b"5\r\nhello\r\n6;name=val;x\r\n world\r\nA\r\n0123456789\r\n0\r\n\r\n";
    const NEXT: &[u8] = b"GET /next HTTP/1.1\r\n\r\n";

    #[test]
    fn empty_body_is_done_at_once() {
        let mut dec = BodyDecoder::new(BodyKind::Empty);
        assert!(dec.is_done());
        let mut buf = BytesMut::from(NEXT);
        assert_eq!(dec.decode(&mut buf, 10).unwrap(), Decoded::Done);
        assert_eq!(&buf[..], NEXT);
        assert!(BodyDecoder::new(BodyKind::Length(0)).is_done());
    }

    #[test]
    fn length_body_respects_max_and_leaves_next_request() {
        let mut dec = BodyDecoder::new(BodyKind::Length(5));
        let mut buf = BytesMut::new();
        assert_eq!(dec.decode(&mut buf, 3).unwrap(), Decoded::NeedMore);
        buf.extend_from_slice(b"hello");
        buf.extend_from_slice(NEXT);
        assert_eq!(
            dec.decode(&mut buf, 3).unwrap(),
            Decoded::Data(Bytes::from_static(b"hel"))
        );
        assert!(!dec.is_done());
        assert_eq!(
            dec.decode(&mut buf, 3).unwrap(),
            Decoded::Data(Bytes::from_static(b"lo"))
        );
        assert!(dec.is_done());
        assert_eq!(dec.decode(&mut buf, 3).unwrap(), Decoded::Done);
        assert_eq!(&buf[..], NEXT);
    }

    #[test]
    fn length_body_byte_by_byte() {
        let input = [&b"0123456789"[..], NEXT].concat();
        let (body, rest) = decode_all(BodyKind::Length(10), &input, 1, 4);
        assert_eq!(body, b"0123456789");
        assert_eq!(rest, NEXT);
    }

    #[test]
    fn length_body_is_zero_copy() {
        let mut buf = BytesMut::from(&b"hello"[..]);
        let ptr = buf.as_ptr();
        let mut dec = BodyDecoder::new(BodyKind::Length(5));
        let Decoded::Data(d) = dec.decode(&mut buf, 100).unwrap() else {
            panic!("expected data")
        };
        assert_eq!(d.as_ptr(), ptr);
    }

    #[test]
    fn chunked_body_whole() {
        let input = [CHUNKED, NEXT].concat();
        let (body, rest) = decode_all(BodyKind::Chunked, &input, input.len(), 1 << 20);
        assert_eq!(body, b"hello world0123456789");
        assert_eq!(rest, NEXT);
    }

    #[test]
    fn chunked_body_one_byte_at_a_time() {
        let input = [CHUNKED, NEXT].concat();
        for max in [1, 3, 1 << 20] {
            let (body, rest) = decode_all(BodyKind::Chunked, &input, 1, max);
            assert_eq!(body, b"hello world0123456789", "max {max}");
            assert_eq!(rest, NEXT, "max {max}");
        }
    }

    #[test]
    fn chunked_body_split_at_every_boundary() {
        // CHUNKED with a trailer in place of its bare last-chunk.
        let body_part = &CHUNKED[..CHUNKED.len() - 5];
        let full = [body_part, b"0\r\nX-T: v\r\n\r\n", NEXT].concat();
        for split in 0..=full.len() {
            let mut dec = BodyDecoder::new(BodyKind::Chunked);
            let mut buf = BytesMut::from(&full[..split]);
            let mut body = Vec::new();
            let mut rest_fed = false;
            loop {
                match dec.decode(&mut buf, 4).unwrap() {
                    Decoded::Data(d) => body.extend_from_slice(&d),
                    Decoded::NeedMore => {
                        assert!(!rest_fed, "split {split}");
                        buf.extend_from_slice(&full[split..]);
                        rest_fed = true;
                    }
                    Decoded::Done => break,
                }
            }
            if !rest_fed {
                buf.extend_from_slice(&full[split..]);
            }
            assert_eq!(body, b"hello world0123456789", "split {split}");
            assert_eq!(&buf[..], NEXT, "split {split}");
        }
    }

    #[test]
    fn chunked_data_is_returned_in_pieces() {
        let mut dec = BodyDecoder::new(BodyKind::Chunked);
        let mut buf = BytesMut::from(&b"5\r\nhel"[..]);
        assert_eq!(
            dec.decode(&mut buf, 10).unwrap(),
            Decoded::Data(Bytes::from_static(b"hel"))
        );
        assert_eq!(dec.decode(&mut buf, 10).unwrap(), Decoded::NeedMore);
        buf.extend_from_slice(b"lo\r\n0\r\n\r\n");
        assert_eq!(
            dec.decode(&mut buf, 10).unwrap(),
            Decoded::Data(Bytes::from_static(b"lo"))
        );
        assert!(!dec.is_done());
        assert_eq!(dec.decode(&mut buf, 10).unwrap(), Decoded::Done);
        assert!(dec.is_done() && buf.is_empty());
    }

    #[test]
    fn chunked_need_more_keeps_partial_lines() {
        for partial in [
            &b"5"[..],
            b"5;ext=",
            b"5\r",
            b"0\r\nX-T: v\r\n",
            b"0\r\nX-T",
        ] {
            let mut dec = BodyDecoder::new(BodyKind::Chunked);
            let mut buf = BytesMut::from(partial);
            assert_eq!(dec.decode(&mut buf, 10).unwrap(), Decoded::NeedMore);
            let kept: &[u8] = if partial.starts_with(b"0\r\n") {
                &partial[3..]
            } else {
                partial
            };
            assert_eq!(&buf[..], kept, "{}", String::from_utf8_lossy(partial));
        }
    }

    #[test]
    fn chunk_extensions_are_ignored() {
        let input = b"3;a=b\r\nabc\r\n2 ; q=\"x;y\"\t\r\nde\r\n1;\r\nf\r\n0;last\r\n\r\n";
        let (body, rest) = decode_all(BodyKind::Chunked, input, 1, 100);
        assert_eq!(body, b"abcdef");
        assert!(rest.is_empty());
    }

    #[test]
    fn trailers_are_parsed_and_discarded() {
        let input = [&b"3\r\nabc\r\n0\r\nX-A: 1\r\nX-B: two\r\n\r\n"[..], NEXT].concat();
        let (body, rest) = decode_all(BodyKind::Chunked, &input, 1, 100);
        assert_eq!(body, b"abc");
        assert_eq!(rest, NEXT);
    }

    #[test]
    fn invalid_trailers_are_400() {
        assert_eq!(
            decode_err(BodyKind::Chunked, b"0\r\nX-A: 1\r\n folded\r\n\r\n"),
            400
        );
        assert_eq!(decode_err(BodyKind::Chunked, b"0\r\nX A: 1\r\n\r\n"), 400);
        assert_eq!(
            decode_err(BodyKind::Chunked, b"0\r\nX-A: 1\rx\r\n\r\n"),
            400
        );
    }

    #[test]
    fn trailers_are_bounded() {
        let pad = "a".repeat(MAX_HEAD_BYTES);
        let input = format!("0\r\nX-A: {pad}");
        assert_eq!(decode_err(BodyKind::Chunked, input.as_bytes()), 431);
        let complete = format!("0\r\nX-A: {pad}\r\n\r\n");
        assert_eq!(decode_err(BodyKind::Chunked, complete.as_bytes()), 431);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        let input = format!("0\r\n{many}\r\n");
        assert_eq!(decode_err(BodyKind::Chunked, input.as_bytes()), 431);
    }

    #[test]
    fn chunk_line_ends_must_be_crlf() {
        assert_eq!(decode_err(BodyKind::Chunked, b"5\nhello\r\n0\r\n\r\n"), 400);
        assert_eq!(decode_err(BodyKind::Chunked, b"5\r\nhello\n0\r\n\r\n"), 400);
        assert_eq!(
            decode_err(BodyKind::Chunked, b"5\r\nhelloX\r\n0\r\n\r\n"),
            400
        );
        assert_eq!(decode_err(BodyKind::Chunked, b"5\r\nhello\rX"), 400);
        assert_eq!(decode_err(BodyKind::Chunked, b"5;a\rb\r\nhello\r\n"), 400);
        assert_eq!(decode_err(BodyKind::Chunked, b"5\r\r\nhello\r\n"), 400);
    }

    #[test]
    fn invalid_chunk_sizes_are_400() {
        for line in [
            &b"\r\n"[..],
            b";ext\r\n",
            b"g\r\n",
            b"5g\r\n",
            b"-5\r\n",
            b"+5\r\n",
            b"0x5\r\n",
            b" 5\r\n",
            b"5 5\r\n",
            b"5;a\0\r\n",
            b"10000000000000000\r\n",
            b"fffffffffffffffff\r\n",
        ] {
            assert_eq!(
                decode_err(BodyKind::Chunked, line),
                400,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn chunk_size_up_to_16_hex_digits() {
        let mut dec = BodyDecoder::new(BodyKind::Chunked);
        let mut buf = BytesMut::from(&b"ffffffffffffffff\r\nab"[..]);
        assert_eq!(
            dec.decode(&mut buf, 10).unwrap(),
            Decoded::Data(Bytes::from_static(b"ab"))
        );
        // Leading zeros are not significant.
        let input = b"00000000000000000000003\r\nabc\r\n0\r\n\r\n";
        assert_eq!(decode_all(BodyKind::Chunked, input, 1, 10).0, b"abc");
    }

    #[test]
    fn chunk_line_limit() {
        let ext = |len: usize| format!("1;{}", "x".repeat(len - 2));
        let exact = format!("{}\r\na\r\n0\r\n\r\n", ext(MAX_CHUNK_LINE_BYTES));
        assert_eq!(
            decode_all(BodyKind::Chunked, exact.as_bytes(), 7, 10).0,
            b"a"
        );
        let over = format!("{}\r\na\r\n0\r\n\r\n", ext(MAX_CHUNK_LINE_BYTES + 1));
        assert_eq!(decode_err(BodyKind::Chunked, over.as_bytes()), 400);
        // Refused before the line ends.
        let endless = ext(MAX_CHUNK_LINE_BYTES + 2);
        assert_eq!(decode_err(BodyKind::Chunked, endless.as_bytes()), 400);
        let mut dec = BodyDecoder::new(BodyKind::Chunked);
        let mut buf = BytesMut::from(ext(MAX_CHUNK_LINE_BYTES).as_bytes());
        buf.extend_from_slice(b"\r");
        assert_eq!(dec.decode(&mut buf, 10).unwrap(), Decoded::NeedMore);
    }

    #[test]
    fn encoded_chunks_decode() {
        let mut out = BytesMut::new();
        for piece in [&b"a"[..], &[b'b'; 16], &[b'c'; 255], &[b'd'; 4096]] {
            crate::http::reply::encode_chunk(piece, &mut out);
        }
        out.extend_from_slice(crate::http::reply::LAST_CHUNK);
        let (body, rest) = decode_all(BodyKind::Chunked, &out, 13, 100);
        let expected = [&b"a"[..], &[b'b'; 16], &[b'c'; 255], &[b'd'; 4096]].concat();
        assert_eq!(body, expected);
        assert!(rest.is_empty());
    }
}
