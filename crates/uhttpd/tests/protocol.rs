//! Request parsing over the wire: malformed input, keep-alive and
//! pipelining, request bodies and `Expect: 100-continue`, HEAD.

mod common;

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use uhttpd::{Methods, ReplyHead, Server};

/// Every verb on every path lands in one counting handler that echoes the path.
fn catch_all() -> (Server, Arc<AtomicUsize>) {
    let server = start(config());
    let calls = counter();
    let c = calls.clone();
    server
        .route(
            "/*",
            Methods::ALL,
            Arc::new(move |mut req: uhttpd::Request| {
                c.fetch_add(1, Ordering::SeqCst);
                let path = req.info().path().to_owned();
                reply(&mut req, 200, path);
            }),
        )
        .unwrap();
    (server, calls)
}

/// Sends `bad` followed by a valid pipelined request: the reply must be
/// `status_line`, the valid request must not be answered, and the connection closes.
fn refused_and_closed(server: &Server, bad: &[u8], status_line: &str) {
    let mut c = Client::connect(server);
    let mut bytes = bad.to_vec();
    bytes.extend_from_slice(&get("/after"));
    let _ = c.try_send(&bytes);
    let r = c.response();
    assert_eq!(
        r.status_line,
        status_line,
        "for {:?}",
        String::from_utf8_lossy(bad)
    );
    assert_eq!(r.header("Connection"), Some("close"));
    let reason = &status_line["HTTP/1.1 ".len()..];
    assert_eq!(r.body_str(), format!("{reason}\n"));
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
    c.expect_closed();
}

const BAD_REQUEST: &str = "HTTP/1.1 400 Bad Request";

#[test]
fn obs_fold_is_400_and_closes() {
    let (server, calls) = catch_all();
    refused_and_closed(
        &server,
        b"GET / HTTP/1.1\r\nHost: test\r\nX-A: a\r\n folded\r\n\r\n",
        BAD_REQUEST,
    );
    refused_and_closed(
        &server,
        b"GET / HTTP/1.1\r\nHost: test\r\nX-A: a\r\n\tfolded\r\n\r\n",
        BAD_REQUEST,
    );
    assert_eq!(count(&calls), 0);
}

#[test]
fn bare_cr_is_400_and_closes() {
    let (server, calls) = catch_all();
    refused_and_closed(
        &server,
        b"GET / HTTP/1.1\r\nHost: test\r\nX-A: a\rb\r\n\r\n",
        BAD_REQUEST,
    );
    refused_and_closed(&server, b"GET / HTTP/1.1\rHost: test\r\n\r\n", BAD_REQUEST);
    assert_eq!(count(&calls), 0);
}

#[test]
fn content_length_with_transfer_encoding_is_400() {
    let (server, calls) = catch_all();
    refused_and_closed(
        &server,
        b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        BAD_REQUEST,
    );
    refused_and_closed(
        &server,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        BAD_REQUEST,
    );
    assert_eq!(count(&calls), 0);
}

#[test]
fn duplicate_or_signed_content_length_is_400() {
    let (server, calls) = catch_all();
    for cl in [
        "Content-Length: 5\r\nContent-Length: 5",
        "Content-Length: 5\r\nContent-Length: 6",
        "Content-Length: 5, 5",
        "Content-Length: +5",
        "Content-Length: -5",
        "Content-Length: 0x5",
        "Content-Length: 99999999999999999999999",
    ] {
        let req = format!("POST / HTTP/1.1\r\nHost: test\r\n{cl}\r\n\r\nhello");
        refused_and_closed(&server, req.as_bytes(), BAD_REQUEST);
    }
    assert_eq!(count(&calls), 0);
}

#[test]
fn unsupported_transfer_encoding_is_501() {
    let (server, calls) = catch_all();
    refused_and_closed(
        &server,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 501 Not Implemented",
    );
    refused_and_closed(
        &server,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 501 Not Implemented",
    );
    assert_eq!(count(&calls), 0);
}

#[test]
fn http_2_0_request_line_is_505() {
    let (server, calls) = catch_all();
    refused_and_closed(
        &server,
        b"GET / HTTP/2.0\r\nHost: test\r\n\r\n",
        "HTTP/1.1 505 HTTP Version Not Supported",
    );
    assert_eq!(count(&calls), 0);
}

#[test]
fn missing_or_duplicate_host_on_http_1_1_is_400() {
    let (server, calls) = catch_all();
    refused_and_closed(&server, b"GET / HTTP/1.1\r\n\r\n", BAD_REQUEST);
    refused_and_closed(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        BAD_REQUEST,
    );
    assert_eq!(count(&calls), 0);
}

#[test]
fn unknown_methods_are_501_and_never_reach_a_handler() {
    let (server, calls) = catch_all();
    for method in ["TRACE", "FOO", "CONNECT", "get"] {
        let mut c = Client::connect(&server);
        c.send(format!("{method} / HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
        let r = c.response();
        assert_eq!(r.status_line, "HTTP/1.1 501 Not Implemented", "{method}");
        assert_eq!(r.body_str(), "501 Not Implemented\n");
    }
    assert_eq!(count(&calls), 0);
}

#[test]
fn a_tls_client_hello_on_a_plain_port_is_closed_without_a_reply() {
    // SPEC: not answered in HTTP (a TLS client would only see garbage).
    let (server, calls) = catch_all();
    let mut client = Client::connect(&server);
    client.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xde\xad\xbe\xef\r\n\r\n");
    client.expect_closed();
    assert_eq!(count(&calls), 0);
}

#[test]
fn garbage_is_400_and_closes() {
    let (server, calls) = catch_all();
    refused_and_closed(&server, b"hello world\r\n\r\n", BAD_REQUEST);
    refused_and_closed(&server, b"GET\r\n\r\n", BAD_REQUEST);
    refused_and_closed(
        &server,
        b"GET / HTTP/1.1\r\nHost: test\r\nNo colon here\r\n\r\n",
        BAD_REQUEST,
    );
    refused_and_closed(
        &server,
        b"GET nopath HTTP/1.1\r\nHost: test\r\n\r\n",
        BAD_REQUEST,
    );
    assert_eq!(count(&calls), 0);
}

#[test]
fn three_pipelined_requests_are_answered_in_order_on_one_connection() {
    let server = start(config());
    server
        .route(
            "/echo/*",
            Methods::GET | Methods::POST,
            Arc::new(|mut req: uhttpd::Request| {
                let path = req.info().path().to_owned();
                if path == "/echo/slow" {
                    std::thread::sleep(Duration::from_millis(150));
                }
                let body = req.read_to_end(None).unwrap();
                let mut out = path.into_bytes();
                out.extend_from_slice(&body);
                reply(&mut req, 200, out);
            }),
        )
        .unwrap();
    let mut c = Client::connect(&server);
    let mut all = get("/echo/slow");
    all.extend_from_slice(&post("/echo/b", b"+body"));
    all.extend_from_slice(&get("/echo/c"));
    c.send(&all);
    for expected in ["/echo/slow", "/echo/b+body", "/echo/c"] {
        let r = c.response();
        assert_eq!(r.status, 200);
        assert_eq!(r.body_str(), expected);
        assert!(r.header("Connection").is_none());
    }
    c.expect_open(Duration::from_millis(50));
    c.send(&get("/echo/d"));
    assert_eq!(c.response().body_str(), "/echo/d");
}

#[test]
fn http_1_0_without_keep_alive_is_closed_after_the_reply() {
    let (server, calls) = catch_all();
    let mut c = Client::connect(&server);
    c.send(b"GET /ten HTTP/1.0\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.0 200 OK");
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(r.header("Content-Length"), Some("4"));
    assert_eq!(r.body, b"/ten");
    c.expect_closed();
    assert_eq!(count(&calls), 1);
}

#[test]
fn http_1_0_with_keep_alive_stays_open() {
    let (server, calls) = catch_all();
    let mut c = Client::connect(&server);
    for path in ["/one", "/two"] {
        c.send(format!("GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").as_bytes());
        let r = c.response();
        assert_eq!(r.status_line, "HTTP/1.0 200 OK");
        assert_eq!(r.header("Connection"), Some("keep-alive"));
        assert_eq!(r.body_str(), path);
    }
    c.expect_open(Duration::from_millis(50));
    assert_eq!(count(&calls), 2);
}

#[test]
fn http_1_1_connection_close_is_honoured() {
    let (server, _calls) = catch_all();
    let mut c = Client::connect(&server);
    c.send(b"GET /bye HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Connection"), Some("close"));
    c.expect_closed();
}

/// POST /echo replies with the body, and the request's `length()` in `X-Length`.
fn echo_server() -> (Server, Arc<AtomicUsize>) {
    let server = start(config());
    let calls = counter();
    let c = calls.clone();
    server
        .route(
            "/echo",
            Methods::POST | Methods::PUT,
            Arc::new(move |mut req: uhttpd::Request| {
                c.fetch_add(1, Ordering::SeqCst);
                let length = req.info().length();
                let mut body = Vec::new();
                // Through std::io::Read, in small reads.
                let mut piece = [0u8; 3];
                loop {
                    let n = req.read(&mut piece).expect("body read");
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&piece[..n]);
                }
                let mut head = ReplyHead::default()
                    .with_content_type("application/octet-stream")
                    .unwrap();
                head.add_header("X-Length", length.to_string()).unwrap();
                req.respond(head, Bytes::from(body)).unwrap();
            }),
        )
        .unwrap();
    server
        .route(
            "/next",
            Methods::GET,
            Arc::new(|mut req: uhttpd::Request| reply(&mut req, 200, "next")),
        )
        .unwrap();
    (server, calls)
}

#[test]
fn content_length_body_is_echoed() {
    let (server, _) = echo_server();
    let mut c = Client::connect(&server);
    let body: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let mut req = post("/echo", &body);
    req.extend_from_slice(&get("/next"));
    c.send(&req);
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Length"), Some("100000"));
    assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
    assert!(r.body == body, "echoed body differs");
    assert_eq!(c.response().body, b"next");
}

#[test]
fn chunked_body_with_extensions_and_trailers_is_echoed() {
    let (server, _) = echo_server();
    let mut c = Client::connect(&server);
    let mut req = b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n\
5;name=value\r\nhello\r\n\
6;a;b=\"q\"\r\n world\r\n\
0001\r\n!\r\n\
0;last\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n"
        .to_vec();
    req.extend_from_slice(&get("/next"));
    c.send(&req);
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Length"), Some("-1"));
    assert_eq!(r.body_str(), "hello world!");
    // The trailers were consumed: the next request parses right after them.
    let next = c.response();
    assert_eq!(next.body, b"next");
}

#[test]
fn expect_100_continue_is_sent_when_the_handler_reads() {
    let (server, calls) = echo_server();
    let mut c = Client::connect(&server);
    c.send(
        b"PUT /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(c.read_bytes(25), b"HTTP/1.1 100 Continue\r\n\r\n");
    c.send(b"12345");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"12345");
    assert_eq!(count(&calls), 1);
    c.send(&get("/next"));
    assert_eq!(c.response().body, b"next");
}

#[test]
fn expect_100_continue_on_a_missing_route_is_404_without_continue() {
    let (server, calls) = echo_server();
    let mut c = Client::connect(&server);
    c.send(b"POST /missing HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.1 404 Not Found");
    assert_eq!(r.body_str(), "404 Not Found\n");
    // The body was never asked for, so the connection cannot be reused.
    c.expect_closed();
    assert_eq!(count(&calls), 0);
}

#[test]
fn expect_100_continue_is_not_sent_when_the_handler_never_reads() {
    let server = start(config());
    server
        .route(
            "/refuse",
            Methods::POST,
            Arc::new(|mut req: uhttpd::Request| reply(&mut req, 413, "no thanks")),
        )
        .unwrap();
    let mut c = Client::connect(&server);
    c.send(
        b"POST /refuse HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let r = c.response();
    assert_eq!(r.status, 413);
    assert_eq!(r.body, b"no thanks");
    c.expect_closed();
}

#[test]
fn a_final_reply_before_the_100_continue_body_announces_the_close() {
    // RFC 9110 10.1.1: a server that answers before reading the content
    // SHOULD say whether it closes; this engine closes, so it must say so.
    let (server, _) = echo_server();
    server
        .route(
            "/refuse",
            Methods::POST,
            Arc::new(|mut req: uhttpd::Request| reply(&mut req, 413, "no thanks")),
        )
        .unwrap();
    for path in ["/missing", "/refuse"] {
        let mut c = Client::connect(&server);
        c.send(
            format!(
                "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
            )
            .as_bytes(),
        );
        let r = c.response();
        assert!(r.status >= 400, "{path}: {}", r.status_line);
        c.expect_closed();
        assert_eq!(
            r.header("Connection"),
            Some("close"),
            "{path}: closed without saying so: {:?}",
            r.headers
        );
    }
}

#[test]
fn head_gets_the_get_headers_and_no_body() {
    let server = start(config());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    server
        .route(
            "/page",
            Methods::GET,
            Arc::new(move |mut req: uhttpd::Request| {
                s.lock()
                    .unwrap()
                    .push((req.info().head.method().to_owned(), req.info().method));
                let mut head = ReplyHead::default()
                    .with_content_type("text/plain")
                    .unwrap();
                head.add_header("X-Page", "1").unwrap();
                req.respond(head, Bytes::from_static(b"hello page"))
                    .unwrap();
            }),
        )
        .unwrap();
    let mut c = Client::connect(&server);
    let mut req = b"HEAD /page HTTP/1.1\r\nHost: test\r\n\r\n".to_vec();
    req.extend_from_slice(&get("/page"));
    c.send(&req);
    let head = c.head_response();
    assert_eq!(head.status_line, "HTTP/1.1 200 OK");
    assert_eq!(head.header("Content-Length"), Some("10"));
    assert_eq!(head.header("X-Page"), Some("1"));
    // The very next bytes are the GET's reply.
    let get = c.response();
    assert_eq!(get.status, 200);
    assert_eq!(get.body, b"hello page");
    c.expect_open(Duration::from_millis(50));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], ("HEAD".to_owned(), Methods::GET));
    assert_eq!(seen[1], ("GET".to_owned(), Methods::GET));
}

#[test]
fn head_on_a_streamed_reply_sends_no_chunks() {
    let server = start(config());
    server
        .route(
            "/stream",
            Methods::GET,
            Arc::new(|mut req: uhttpd::Request| {
                req.send_chunk(ReplyHead::default(), Bytes::from_static(b"abc"))
                    .unwrap();
                req.end_chunks(ReplyHead::default()).unwrap();
            }),
        )
        .unwrap();
    let mut c = Client::connect(&server);
    let mut req = b"HEAD /stream HTTP/1.1\r\nHost: test\r\n\r\n".to_vec();
    req.extend_from_slice(&get("/stream"));
    c.send(&req);
    let head = c.head_response();
    assert_eq!(head.status, 200);
    let get = c.response();
    assert_eq!(get.status, 200);
    assert_eq!(get.body, b"abc");
}
