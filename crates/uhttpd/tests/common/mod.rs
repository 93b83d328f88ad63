//! Shared helpers for the integration tests: start a server on a loopback
//! port, speak raw bytes to it, and parse what comes back with a tiny,
//! strict HTTP/1.x response parser (Content-Length, chunked, until-close).
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use uhttpd::repl::{Interpreter, Terminal};
use uhttpd::{Config, Limits, Methods, PlainThreads, ReplyHead, Request, Server, Status};

/// Longest any single socket read or write may block in a test.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// A loopback server config with room for many routes and short timeouts, so
/// nothing a test leaves behind can keep the run waiting.
pub fn config() -> Config {
    Config {
        host: "127.0.0.1".into(),
        port: 0,
        route_slots: 32,
        io_threads: 2,
        limits: Limits {
            header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(5),
            ..Limits::default()
        },
        ..Config::default()
    }
}

pub fn start(config: Config) -> Server {
    Server::start(config, Arc::new(PlainThreads)).expect("server starts")
}

/// The address clients connect to (the server binds 127.0.0.1).
pub fn addr(server: &Server) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port()))
}

pub fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// Registers a route that counts its calls and replies 200 with `body`;
/// returns the count.
pub fn counted_route(
    server: &Server,
    pattern: &str,
    methods: Methods,
    body: &'static str,
) -> Arc<AtomicUsize> {
    let calls = counter();
    let c = calls.clone();
    server
        .route(
            pattern,
            methods,
            Arc::new(move |mut req: Request| {
                c.fetch_add(1, Ordering::SeqCst);
                reply(&mut req, 200, body);
            }),
        )
        .unwrap();
    calls
}

pub fn count(c: &AtomicUsize) -> usize {
    c.load(Ordering::SeqCst)
}

/// Replies `status` with a `text/plain` body.
pub fn reply(req: &mut Request, status: u16, body: impl Into<Bytes>) {
    let head = ReplyHead::new(Status::from_code(status).unwrap())
        .with_content_type("text/plain")
        .unwrap();
    req.respond(head, body.into()).expect("reply sent");
}

/// A plain `GET` request with a Host.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

/// A request with a Content-Length body.
pub fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

/// Polls `cond` every 10 ms for up to `limit`; true once it holds.
pub fn wait_for(limit: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// An interpreter for a REPL whose code never runs: a test of the session, not of Python.
pub struct Quiet;

impl Interpreter for Quiet {
    fn attach(&self, _: Terminal) {}
    fn run(&self, _: &str, _: bool) -> bool {
        false
    }
    fn run_program(&self, _: &str) -> Option<String> {
        None
    }
    fn reset(&self) {}
    fn interrupt(&self) {}
    fn detach(&self) {}
}

/// A gate handlers block on until the test opens it (or 5 s pass, so a
/// failing test never leaves a handler blocked for ever).
#[derive(Clone, Default)]
pub struct Gate(Arc<AtomicBool>);

impl Gate {
    pub fn open(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn wait(&self) {
        wait_for(Duration::from_secs(5), || self.0.load(Ordering::SeqCst));
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    /// `HTTP/1.1 200 OK`
    pub status_line: String,
    pub version: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body after undoing the framing.
    pub body: Vec<u8>,
    /// The body bytes exactly as they came over the wire (chunk framing included).
    pub raw_body: Vec<u8>,
}

impl Response {
    /// First header with that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A raw client connection with a read buffer (so pipelined replies that
/// arrive in one read are parsed one at a time).
pub struct Client<S = TcpStream> {
    pub stream: S,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(server: &Server) -> Client {
        Client::connect_addr(addr(server))
    }

    pub fn connect_addr(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Asserts that for `wait` nothing arrives and the connection stays open.
    pub fn expect_open(&mut self, wait: Duration) {
        assert!(
            self.buf.is_empty(),
            "unexpected bytes: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let result = self.fill();
        self.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        match result {
            Err(e) if is_timeout(&e) => {}
            Ok(0) => panic!("connection closed but should have stayed open"),
            Ok(_) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&self.buf)),
            Err(e) => panic!("connection failed but should have stayed open: {e}"),
        }
    }
}

impl<S: Read + Write> Client<S> {
    /// A client over any stream (a TLS one, say) with the same strict parser.
    pub fn over(stream: S) -> Client<S> {
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, data: &[u8]) {
        self.stream.write_all(data).expect("send");
    }

    /// Sends and ignores errors (the server may close while we still write).
    pub fn try_send(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(data)
    }

    /// Bytes received but not parsed yet.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    fn fill(&mut self) -> std::io::Result<usize> {
        let mut tmp = [0u8; 64 * 1024];
        let n = self.stream.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    fn fill_or_panic(&mut self, what: &str) {
        match self.fill() {
            Ok(0) => panic!(
                "connection closed while reading {what}; received so far: {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
            Ok(_) => {}
            Err(e) => panic!(
                "reading {what} failed: {e}; received so far: {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// Exactly `n` bytes.
    pub fn read_bytes(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            self.fill_or_panic(&format!("{n} bytes"));
        }
        self.buf.drain(..n).collect()
    }

    fn read_line(&mut self, what: &str) -> Vec<u8> {
        let end = loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                break i + 2;
            }
            self.fill_or_panic(what);
        };
        self.buf.drain(..end).collect()
    }

    /// Everything until the server closes (a reset counts as a close).
    pub fn read_to_close(&mut self) -> Vec<u8> {
        loop {
            match self.fill() {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if is_reset(&e) => break,
                Err(e) => panic!(
                    "server did not close the connection ({e}); received: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
        std::mem::take(&mut self.buf)
    }

    /// The next response, its body framed as its headers say.
    pub fn response(&mut self) -> Response {
        self.parse(false)
    }

    /// The next response to a HEAD request: a head and never a body.
    pub fn head_response(&mut self) -> Response {
        self.parse(true)
    }

    fn parse(&mut self, head_only: bool) -> Response {
        let end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill_or_panic("a response head");
        };
        let head: Vec<u8> = self.buf.drain(..end).collect();
        let head = String::from_utf8(head).expect("response head is UTF-8");
        assert!(
            !head[..head.len() - 4].contains("\r\n\r\n")
                && !head.replace("\r\n", "").contains(['\r', '\n']),
            "response head has bare CR/LF: {head:?}"
        );
        let mut lines = head[..head.len() - 4].split("\r\n");
        let status_line = lines.next().unwrap().to_owned();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_owned();
        assert!(
            version == "HTTP/1.1" || version == "HTTP/1.0",
            "bad status line {status_line:?}"
        );
        let status: u16 = parts
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .map(|line| {
                let (name, value) = line
                    .split_once(':')
                    .unwrap_or_else(|| panic!("bad header line {line:?} in {head:?}"));
                assert!(!name.is_empty() && !name.contains([' ', '\t']), "{line:?}");
                (name.to_owned(), value.trim().to_owned())
            })
            .collect();
        let mut response = Response {
            status_line,
            version,
            status,
            headers,
            body: Vec::new(),
            raw_body: Vec::new(),
        };
        let no_body = head_only || status < 200 || status == 204 || status == 304;
        if no_body {
            return response;
        }
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"));
        if chunked {
            assert!(
                response.header("content-length").is_none(),
                "chunked reply with a Content-Length"
            );
            let (body, raw) = self.read_chunked();
            response.body = body;
            response.raw_body = raw;
        } else if let Some(length) = response.header("content-length") {
            assert_eq!(response.header_count("content-length"), 1);
            let n: usize = length.parse().expect("numeric Content-Length");
            response.body = self.read_bytes(n);
            response.raw_body = response.body.clone();
        } else {
            response.body = self.read_to_close();
            response.raw_body = response.body.clone();
        }
        response
    }

    fn read_chunked(&mut self) -> (Vec<u8>, Vec<u8>) {
        let mut body = Vec::new();
        let mut raw = Vec::new();
        loop {
            let line = self.read_line("a chunk-size line");
            raw.extend_from_slice(&line);
            let text = String::from_utf8(line[..line.len() - 2].to_vec()).unwrap();
            let hex = text.split(';').next().unwrap().trim();
            let size = usize::from_str_radix(hex, 16)
                .unwrap_or_else(|_| panic!("bad chunk-size line {text:?}"));
            if size == 0 {
                loop {
                    let trailer = self.read_line("a trailer line");
                    raw.extend_from_slice(&trailer);
                    if trailer == b"\r\n" {
                        return (body, raw);
                    }
                }
            }
            let data = self.read_bytes(size + 2);
            assert_eq!(&data[size..], b"\r\n", "chunk data not followed by CRLF");
            body.extend_from_slice(&data[..size]);
            raw.extend_from_slice(&data);
        }
    }

    /// Asserts nothing more was sent and the server closes the connection.
    pub fn expect_closed(&mut self) {
        assert!(
            self.buf.is_empty(),
            "unexpected bytes before close: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        match self.fill() {
            Ok(0) => {}
            Err(e) if is_reset(&e) => {}
            Ok(_) => panic!(
                "expected the connection to close, got more bytes: {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
            Err(e) => panic!("expected the connection to close, but it stayed open ({e})"),
        }
    }
}

/// The status code a fresh connection gets for `req`, or `None` on any
/// failure (never panics, for polling).
pub fn try_status(server: &Server, req: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr(server), TIMEOUT).ok()?;
    stream.set_read_timeout(Some(TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(TIMEOUT)).ok()?;
    stream.write_all(req).ok()?;
    let mut got = Vec::new();
    let mut tmp = [0u8; 1024];
    while find(&got, b"\r\n").is_none() {
        let n = stream.read(&mut tmp).ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&tmp[..n]);
    }
    std::str::from_utf8(got.get(9..12)?).ok()?.parse().ok()
}
