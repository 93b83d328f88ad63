//! Every limit and timeout of `Config::limits` (and the pool bounds) over real sockets.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::*;
use uhttpd::{limits, Config, Limits, Methods, Request, Server};

/// A server whose every path answers `GET`/`POST` with "ok" and counts the calls.
fn counting_server(config: Config) -> (Server, Arc<AtomicUsize>) {
    let server = start(config);
    let calls = counted_route(&server, "/*", Methods::GET | Methods::POST, "ok");
    (server, calls)
}

fn with_limits(limits: Limits) -> Config {
    Config { limits, ..config() }
}

/// A GET whose target is `target_len` bytes and whose head is `head_len` bytes in all.
fn sized_request(target_len: usize, head_len: usize) -> Vec<u8> {
    let target = format!("/{}", "t".repeat(target_len - 1));
    let bare = format!("GET {target} HTTP/1.1\r\nHost: test\r\nX-Pad: \r\n\r\n");
    assert!(head_len >= bare.len(), "head too small for the target");
    let pad = "p".repeat(head_len - bare.len());
    let req = format!("GET {target} HTTP/1.1\r\nHost: test\r\nX-Pad: {pad}\r\n\r\n");
    assert_eq!(req.len(), head_len);
    req.into_bytes()
}

/// Sends `req` on a new connection and returns the reply; the connection is
/// expected to close after it when `closes`.
fn exchange(server: &Server, req: &[u8], closes: bool) -> Response {
    let mut c = Client::connect(server);
    c.send(req);
    let r = c.response();
    if closes {
        c.expect_closed();
    }
    r
}

#[test]
fn head_at_max_head_bytes_is_served_and_one_byte_more_is_431() {
    let (server, calls) = counting_server(with_limits(Limits {
        max_head_bytes: 1024,
        ..config().limits
    }));
    let ok = exchange(&server, &sized_request(10, 1024), false);
    assert_eq!(ok.status_line, "HTTP/1.1 200 OK");
    assert_eq!(ok.body, b"ok");
    assert_eq!(count(&calls), 1);

    let big = exchange(&server, &sized_request(10, 1025), true);
    assert_eq!(
        big.status_line,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    assert_eq!(big.header("Connection"), Some("close"));
    assert_eq!(big.body_str(), "431 Request Header Fields Too Large\n");
    assert_eq!(count(&calls), 1, "handler ran for an oversized head");
}

#[test]
fn target_at_max_uri_bytes_is_served_and_one_byte_more_is_414() {
    let (server, calls) = counting_server(with_limits(Limits {
        max_uri_bytes: 256,
        ..config().limits
    }));
    let ok = exchange(&server, &sized_request(256, 400), false);
    assert_eq!(ok.status_line, "HTTP/1.1 200 OK");
    assert_eq!(count(&calls), 1);

    let long = exchange(&server, &sized_request(257, 400), true);
    assert_eq!(long.status_line, "HTTP/1.1 414 URI Too Long");
    assert_eq!(long.body_str(), "414 URI Too Long\n");
    assert_eq!(count(&calls), 1, "handler ran for an oversized target");
}

#[test]
fn default_limits_are_the_named_constants_and_hold_at_their_edges() {
    let defaults = Config::default().limits;
    assert_eq!(defaults.max_head_bytes, limits::MAX_HEAD_BYTES);
    assert_eq!(defaults.max_uri_bytes, limits::MAX_URI_BYTES);
    assert_eq!(defaults.header_timeout, limits::HEADER_READ_TIMEOUT);
    assert_eq!(defaults.idle_timeout, limits::IDLE_KEEPALIVE_TIMEOUT);
    assert_eq!(defaults.io_timeout, limits::IO_STALL_TIMEOUT);
    assert_eq!(defaults.body_timeout, limits::BODY_PIECE_TIMEOUT);
    assert_eq!(defaults.max_connections, limits::MAX_CONNECTIONS);
    assert_eq!(defaults.max_drain_bytes, limits::MAX_DRAIN_BYTES);
    assert_eq!(defaults.open_files, limits::OPEN_FILE_CACHE_ENTRIES);
    assert_eq!(defaults.open_file_valid, limits::OPEN_FILE_CACHE_VALID);
    assert_eq!(
        defaults.partial_upload_lifetime,
        limits::PARTIAL_UPLOAD_LIFETIME
    );
    assert_eq!(
        limits::PARTIAL_UPLOAD_LIFETIME,
        Duration::from_secs(60 * 60)
    );
    assert_eq!(limits::MAX_HEAD_BYTES, 16 * 1024);
    assert_eq!(limits::MAX_URI_BYTES, 8 * 1024);
    const { assert!(limits::MAX_CONNECTIONS >= 10_000) };

    let (server, calls) = counting_server(config());
    let head = limits::MAX_HEAD_BYTES;
    let uri = limits::MAX_URI_BYTES;
    assert_eq!(
        exchange(&server, &sized_request(10, head), false).status,
        200
    );
    assert_eq!(
        exchange(&server, &sized_request(10, head + 1), true).status,
        431
    );
    assert_eq!(
        exchange(&server, &sized_request(uri, uri + 200), false).status,
        200
    );
    assert_eq!(
        exchange(&server, &sized_request(uri + 1, uri + 200), true).status,
        414
    );
    assert_eq!(count(&calls), 2);
}

#[test]
fn a_huge_head_is_refused_with_431_before_it_is_all_read() {
    let (server, calls) = counting_server(config());
    let mut c = Client::connect(&server);
    let mut req = b"GET / HTTP/1.1\r\nHost: test\r\n".to_vec();
    for i in 0..4000 {
        req.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "f".repeat(40)).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    // The server stops reading past the limit; our write may fail when it closes.
    let _ = c.try_send(&req);
    let r = c.response();
    assert_eq!(r.status, 431);
    assert_eq!(count(&calls), 0);
}

#[test]
fn max_headers_fields_are_served_and_one_more_is_431() {
    let (server, calls) = counting_server(config());
    let fields = |n: usize| {
        let mut req = b"GET / HTTP/1.1\r\nHost: test\r\n".to_vec();
        for i in 1..n {
            req.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        req
    };
    assert_eq!(
        exchange(&server, &fields(limits::MAX_HEADERS), false).status,
        200
    );
    let r = exchange(&server, &fields(limits::MAX_HEADERS + 1), true);
    assert_eq!(
        r.status_line,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    assert_eq!(count(&calls), 1);
}

fn short_header_timeout() -> Config {
    with_limits(Limits {
        header_timeout: Duration::from_millis(300),
        ..config().limits
    })
}

#[test]
fn half_a_head_then_silence_gets_408_and_close() {
    let (server, calls) = counting_server(short_header_timeout());
    let mut c = Client::connect(&server);
    let t0 = Instant::now();
    c.send(b"GET / HTTP/1.1\r\nHost: test\r\n");
    let r = c.response();
    let waited = t0.elapsed();
    assert_eq!(r.status_line, "HTTP/1.1 408 Request Timeout");
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(r.body_str(), "408 Request Timeout\n");
    c.expect_closed();
    assert!(waited >= Duration::from_millis(250), "408 after {waited:?}");
    assert!(waited < Duration::from_secs(2), "408 after {waited:?}");
    assert_eq!(count(&calls), 0);
}

#[test]
fn a_trickling_client_still_gets_408_at_the_header_deadline() {
    let (server, calls) = counting_server(short_header_timeout());
    let mut c = Client::connect(&server);
    let mut writer = c.stream.try_clone().unwrap();
    let t0 = Instant::now();
    let trickle = std::thread::spawn(move || {
        use std::io::Write;
        // One byte every 50 ms: each read succeeds, the head never ends.
        for b in b"GET / HTTP/1.1\r\nHost: test\r\nX-Slow: "
            .iter()
            .cycle()
            .take(60)
        {
            if writer.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let r = c.response();
    let waited = t0.elapsed();
    assert_eq!(r.status, 408);
    assert!(waited < Duration::from_secs(2), "408 after {waited:?}");
    trickle.join().unwrap();
    assert_eq!(count(&calls), 0);
}

#[test]
fn a_silent_client_is_closed_without_a_reply() {
    let (server, calls) = counting_server(short_header_timeout());
    let mut c = Client::connect(&server);
    let t0 = Instant::now();
    let got = c.read_to_close();
    let waited = t0.elapsed();
    assert!(
        got.is_empty(),
        "silent client got {:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        waited >= Duration::from_millis(250),
        "closed after {waited:?}"
    );
    assert!(waited < Duration::from_secs(2), "closed after {waited:?}");
    assert_eq!(count(&calls), 0);
}

#[test]
fn idle_keep_alive_connection_is_closed_after_idle_timeout() {
    let (server, calls) = counting_server(with_limits(Limits {
        header_timeout: Duration::from_secs(4),
        idle_timeout: Duration::from_millis(400),
        ..config().limits
    }));
    let mut c = Client::connect(&server);
    let t0 = Instant::now();
    c.send(&get("/one"));
    let r = c.response();
    assert_eq!(r.status, 200);
    assert!(
        r.header("Connection").is_none(),
        "reply should keep the connection"
    );
    // Still open a while after the reply...
    c.expect_open(Duration::from_millis(150));
    // ...then closed without a byte.
    c.expect_closed();
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(350),
        "closed after {waited:?}"
    );
    // Well before the 4 s header timeout: the idle timeout applied.
    assert!(waited < Duration::from_secs(2), "closed after {waited:?}");
    assert_eq!(count(&calls), 1);
}

#[test]
fn a_client_that_stops_sending_its_body_fails_the_handlers_read() {
    let server = start(with_limits(Limits {
        io_timeout: Duration::from_millis(300),
        ..config().limits
    }));
    let (tx, rx) = mpsc::channel();
    server
        .route(
            "/upload",
            Methods::POST,
            Arc::new(move |mut req: uhttpd::Request| {
                let result = req.read_to_end(None);
                let failed = result.is_err();
                let _ = tx.send(result.map_err(|e| e.kind()));
                if failed {
                    reply(&mut req, 400, "read failed");
                } else {
                    reply(&mut req, 200, "read all");
                }
            }),
        )
        .unwrap();
    let mut c = Client::connect(&server);
    let t0 = Instant::now();
    c.send(b"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n0123456789");
    let result = rx.recv_timeout(TIMEOUT).expect("handler finished reading");
    let waited = t0.elapsed();
    assert_eq!(result, Err(ErrorKind::TimedOut));
    assert!(
        waited >= Duration::from_millis(250),
        "read failed after {waited:?}"
    );
    let r = c.response();
    assert_eq!(r.status, 400);
    assert_eq!(r.body, b"read failed");
    assert_eq!(r.header("Connection"), Some("close"));
    c.expect_closed();
}

#[test]
fn max_connections_refuses_the_third_with_503_while_two_are_served() {
    let (server, calls) = counting_server(with_limits(Limits {
        max_connections: 2,
        ..config().limits
    }));
    let mut first = Client::connect(&server);
    let mut second = Client::connect(&server);
    for c in [&mut first, &mut second] {
        c.send(&get("/a"));
        assert_eq!(c.response().status, 200);
    }
    let mut third = Client::connect(&server);
    let r = third.response();
    assert_eq!(r.status_line, "HTTP/1.1 503 Service Unavailable");
    assert_eq!(r.header("Retry-After"), Some("1"));
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(r.header("Content-Length"), Some("0"));
    third.expect_closed();
    for c in [&mut first, &mut second] {
        c.send(&get("/b"));
        assert_eq!(c.response().status, 200);
    }
    assert_eq!(count(&calls), 4);

    // A freed connection slot is given to the next client.
    drop(first);
    let served = wait_for(Duration::from_secs(2), || {
        try_status(&server, &get("/c")) == Some(200)
    });
    assert!(served, "slot of a closed connection was never reused");
}

fn draining_server(drain: u64) -> (Server, Arc<AtomicUsize>) {
    let server = start(with_limits(Limits {
        max_drain_bytes: drain,
        ..config().limits
    }));
    let next = counter();
    let n = next.clone();
    server
        .route(
            "/ignore",
            Methods::POST,
            Arc::new(|mut req: uhttpd::Request| reply(&mut req, 200, "ignored")),
        )
        .unwrap();
    server
        .route(
            "/next",
            Methods::GET,
            Arc::new(move |mut req: uhttpd::Request| {
                n.fetch_add(1, Ordering::SeqCst);
                reply(&mut req, 200, "next");
            }),
        )
        .unwrap();
    (server, next)
}

#[test]
fn an_unread_body_within_max_drain_bytes_keeps_the_connection() {
    let (server, next) = draining_server(1024);
    let mut c = Client::connect(&server);
    let mut req = post("/ignore", &[b'x'; 1000]);
    req.extend_from_slice(&get("/next"));
    c.send(&req);
    let first = c.response();
    assert_eq!(
        (first.status, first.body.as_slice()),
        (200, &b"ignored"[..])
    );
    assert!(first.header("Connection").is_none());
    let second = c.response();
    assert_eq!((second.status, second.body.as_slice()), (200, &b"next"[..]));
    assert_eq!(count(&next), 1);
    c.expect_open(Duration::from_millis(100));
}

#[test]
fn an_unread_body_past_max_drain_bytes_closes_the_connection() {
    let (server, next) = draining_server(1024);
    let mut c = Client::connect(&server);
    // Past the first piece, which is read before the handler runs.
    let mut req = post("/ignore", &vec![b'x'; limits::BODY_PIECE_BYTES + 8192]);
    req.extend_from_slice(&get("/next"));
    c.send(&req);
    let first = c.response();
    assert_eq!(
        (first.status, first.body.as_slice()),
        (200, &b"ignored"[..])
    );
    c.expect_closed();
    assert_eq!(
        count(&next),
        0,
        "request after an undrained body was served"
    );
}

#[test]
fn a_reply_that_leaves_an_undrainable_body_announces_the_close() {
    // The declared Content-Length is past max_drain_bytes before the reply is
    // written, so the server knows it will close (RFC 9110 10.1.1 SHOULD say so).
    let (server, _next) = draining_server(1024);
    let mut c = Client::connect(&server);
    c.send(&post(
        "/ignore",
        &vec![b'x'; limits::BODY_PIECE_BYTES + 8192],
    ));
    let r = c.response();
    assert_eq!(r.status, 200);
    c.expect_closed();
    assert_eq!(
        r.header("Connection"),
        Some("close"),
        "closed without saying so: {:?}",
        r.headers
    );
}

#[test]
fn the_over_capacity_503_carries_cors_on_a_cors_server() {
    // SPEC: cors=True adds Access-Control-Allow-Origin to every reply, errors included.
    let server = start(Config {
        cors: true,
        limits: Limits {
            max_connections: 1,
            ..config().limits
        },
        ..config()
    });
    server
        .route(
            "/a",
            Methods::GET,
            Arc::new(|mut req: uhttpd::Request| reply(&mut req, 200, "ok")),
        )
        .unwrap();
    let mut first = Client::connect(&server);
    first.send(&get("/a"));
    assert_eq!(
        first.response().header("Access-Control-Allow-Origin"),
        Some("*")
    );
    let mut second = Client::connect(&server);
    let r = second.response();
    assert_eq!(r.status, 503);
    second.expect_closed();
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("*"),
        "{:?}",
        r.headers
    );
}

#[test]
fn a_large_unread_body_still_lets_the_client_read_the_reply() {
    // The server gives up on a 4 MiB body it will not drain; the client,
    // still sending, must nevertheless receive the reply.
    let (server, _next) = draining_server(1024);
    let mut c = Client::connect(&server);
    let body = vec![b'x'; 4 << 20];
    let head = format!(
        "POST /ignore HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    c.send(head.as_bytes());
    let mut writer = c.stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        use std::io::Write;
        let _ = writer.write_all(&body);
    });
    let r = c.response();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ignored"[..]));
    let _ = c.read_to_close();
    sender.join().unwrap();
}

#[test]
fn a_full_queue_behind_a_busy_worker_gets_503_with_retry_after() {
    let server = start(Config {
        workers: 1,
        queue: 1,
        ..config()
    });
    let started = counter();
    let gate = Gate::default();
    let (s, g) = (started.clone(), gate.clone());
    server
        .route(
            "/block",
            Methods::GET,
            Arc::new(move |mut req: uhttpd::Request| {
                s.fetch_add(1, Ordering::SeqCst);
                g.wait();
                reply(&mut req, 200, "done");
            }),
        )
        .unwrap();
    let mut running = Client::connect(&server);
    running.send(&get("/block"));
    assert!(
        wait_for(TIMEOUT, || count(&started) == 1),
        "first handler never ran"
    );
    let mut queued = Client::connect(&server);
    queued.send(&get("/block"));
    std::thread::sleep(Duration::from_millis(200));
    let mut refused = Client::connect(&server);
    refused.send(&get("/block"));
    let r = refused.response();
    gate.open();
    assert_eq!(r.status_line, "HTTP/1.1 503 Service Unavailable");
    assert_eq!(r.header("Retry-After"), Some("1"));
    assert_eq!(r.body_str(), "503 Service Unavailable\n");
    assert_eq!(running.response().body, b"done");
    assert_eq!(queued.response().body, b"done");
    assert_eq!(
        count(&started),
        2,
        "the refused request reached the handler"
    );
}

#[test]
fn a_chunk_size_line_past_max_chunk_line_bytes_fails_the_read() {
    let server = start(config());
    let (tx, rx) = mpsc::channel();
    server
        .route(
            "/upload",
            Methods::POST,
            Arc::new(move |mut req: uhttpd::Request| {
                let result = req.read_to_end(None);
                let _ = tx.send(result.map_err(|e| e.kind()));
                reply(&mut req, 400, "bad body");
            }),
        )
        .unwrap();
    let mut c = Client::connect(&server);
    let mut req =
        b"POST /upload HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n1;x=".to_vec();
    req.extend_from_slice("e".repeat(limits::MAX_CHUNK_LINE_BYTES + 10).as_bytes());
    req.extend_from_slice(b"\r\na\r\n0\r\n\r\n");
    c.send(&req);
    let result = rx.recv_timeout(TIMEOUT).expect("handler finished reading");
    assert_eq!(result, Err(ErrorKind::InvalidData));
    let r = c.response();
    assert_eq!(r.status, 400);
    assert_eq!(r.header("Connection"), Some("close"));
    c.expect_closed();
}

/// The stall timeout bounds each wait for progress, not a whole reply: a
/// client with a tiny receive window that keeps reading gets every byte even
/// though the transfer takes many times the timeout.
#[test]
fn a_slow_but_steady_reader_gets_the_whole_reply() {
    const BODY: usize = 3 * 1024 * 1024;
    let mut config = config();
    config.limits.io_timeout = Duration::from_millis(250);
    let server = start(config);
    server
        .route(
            "/big",
            Methods::GET,
            Arc::new(|mut req: Request| reply(&mut req, 200, vec![b'x'; BODY])),
        )
        .unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr(&server).into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let mut received = Vec::new();
    let mut piece = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&piece[..n]),
            Err(e) => panic!("read failed after {} bytes: {e}", received.len()),
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let body_start = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(received.len() - body_start, BODY, "the whole body arrived");
    assert!(
        started.elapsed() > Duration::from_millis(250),
        "the transfer outlasted the stall timeout, so the test means something"
    );
}

/// A route at `/echo` that reads the whole body and answers with it, or 400
/// with the read's error kind.
fn echo_route(server: &Server) {
    server
        .route(
            "/echo",
            Methods::POST,
            Arc::new(|mut req: Request| match req.read_to_end(None) {
                Ok(body) => reply(&mut req, 200, body),
                Err(e) => reply(&mut req, 400, format!("{:?}", e.kind())),
            }),
        )
        .unwrap();
}

#[test]
fn trickled_small_bodies_hold_no_handler_thread() {
    // The first piece of a body is read before its callback is queued, so
    // clients trickling small bodies leave the only handler thread free.
    let server = start(Config {
        workers: 1,
        ..config()
    });
    echo_route(&server);
    let calls = counted_route(&server, "/ping", Methods::GET, "pong");
    let mut tricklers: Vec<Client> = (0..8)
        .map(|_| {
            let mut c = Client::connect(&server);
            c.send(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nab");
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    let r = exchange(&server, &get("/ping"), false);
    assert_eq!((r.status, r.body_str().as_str()), (200, "pong"));
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t0.elapsed()
    );
    assert_eq!(count(&calls), 1);
    // A trickled body that completes is answered whole.
    tricklers[0].send(b"cdefghij");
    let r = tricklers[0].response();
    assert_eq!((r.status, r.body_str().as_str()), (200, "abcdefghij"));
}

#[test]
fn a_callback_waits_at_most_body_timeout_for_a_piece() {
    let body_timeout = Duration::from_millis(600);
    let server = start(with_limits(Limits {
        body_timeout,
        ..config().limits
    }));
    echo_route(&server);
    let mut c = Client::connect(&server);
    // Expect: 100-continue queues the callback at once; then one byte every
    // 100 ms: progress, but far from a whole piece in time.
    c.send(
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(c.read_bytes(25), b"HTTP/1.1 100 Continue\r\n\r\n");
    let t0 = Instant::now();
    for _ in 0..30 {
        if c.try_send(b"x").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if t0.elapsed() > body_timeout + Duration::from_millis(400) {
            break;
        }
    }
    let r = c.response();
    assert_eq!((r.status, r.body_str().as_str()), (400, "TimedOut"));
    assert_eq!(r.header("Connection"), Some("close"));
    let waited = t0.elapsed();
    assert!(waited >= body_timeout, "read failed after {waited:?}");
    c.expect_closed();
}

#[test]
fn a_large_body_sent_steadily_reaches_the_callback_whole() {
    let server = start(with_limits(Limits {
        body_timeout: Duration::from_millis(500),
        ..config().limits
    }));
    echo_route(&server);
    let body: Vec<u8> = (0..5 * limits::BODY_PIECE_BYTES + 123)
        .map(|i| i as u8)
        .collect();
    let mut c = Client::connect(&server);
    c.send(&post("/echo", &body));
    let r = c.response();
    assert_eq!(r.status, 200);
    assert!(r.body == body, "echoed {} bytes", r.body.len());
}

#[test]
fn a_callback_that_fails_on_a_too_slow_body_answers_408() {
    let server = start(with_limits(Limits {
        body_timeout: Duration::from_millis(300),
        ..config().limits
    }));
    server
        .route(
            "/strict",
            Methods::POST,
            // Gives up on a failed read without replying, as an uncaught exception does.
            Arc::new(|mut req: Request| {
                if let Ok(body) = req.read_to_end(None) {
                    reply(&mut req, 200, body);
                }
            }),
        )
        .unwrap();
    let mut c = Client::connect(&server);
    c.send(b"POST /strict HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nonly ten..");
    let r = c.response();
    assert_eq!(r.status, 408);
    c.expect_closed();
}

/// A fresh root with `d/f.txt` ("one") served at `/` and received at `/up`
/// (deletes too), under `limits`.
fn file_server(name: &str, limits: Limits) -> (Server, std::path::PathBuf) {
    let root = std::env::temp_dir().join(format!("uhttpd-limits-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("d")).unwrap();
    std::fs::write(root.join("d/f.txt"), "one").unwrap();
    let server = start(Config {
        root: root.clone(),
        limits,
        ..config()
    });
    server.serve(None, None, false, false).unwrap();
    server.receive(true, Some("/up"), false, true).unwrap();
    (server, root)
}

/// Replaces the directory `d` behind the server's back, as a deploy that
/// swaps a site's directory does: the file served before is not changed.
fn swap_dir_behind(root: &std::path::Path, text: &str) {
    let _ = std::fs::remove_dir_all(root.join("old"));
    std::fs::rename(root.join("d"), root.join("old")).unwrap();
    std::fs::create_dir(root.join("d")).unwrap();
    std::fs::write(root.join("d/f.txt"), text).unwrap();
}

fn body_of(server: &Server, path: &str) -> (u16, String) {
    let r = exchange(server, &get(path), false);
    (r.status, r.body_str())
}

#[test]
fn a_directory_swapped_behind_the_server_is_seen_past_open_file_valid() {
    let valid = Duration::from_millis(1500);
    let (server, root) = file_server(
        "valid",
        Limits {
            open_file_valid: valid,
            ..config().limits
        },
    );
    let opened = Instant::now();
    assert_eq!(body_of(&server, "/d/f.txt"), (200, "one".into()));
    swap_dir_behind(&root, "two!");
    let within = body_of(&server, "/d/f.txt");
    if opened.elapsed() < valid {
        // The file as it was opened: at most `valid` late.
        assert_eq!(within, (200, "one".into()));
    }
    std::thread::sleep(valid.saturating_sub(opened.elapsed()) + Duration::from_millis(50));
    assert_eq!(body_of(&server, "/d/f.txt"), (200, "two!".into()));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_file_changed_renamed_over_or_removed_is_seen_at_once_whatever_open_file_valid() {
    let (server, root) = file_server(
        "itself",
        Limits {
            open_file_valid: Duration::from_secs(3600),
            ..config().limits
        },
    );
    let f = root.join("d/f.txt");
    assert_eq!(body_of(&server, "/d/f.txt"), (200, "one".into()));
    std::fs::write(&f, "in place").unwrap();
    assert_eq!(body_of(&server, "/d/f.txt"), (200, "in place".into()));
    std::fs::write(root.join("d/new"), "renamed").unwrap();
    std::fs::rename(root.join("d/new"), &f).unwrap();
    assert_eq!(body_of(&server, "/d/f.txt"), (200, "renamed".into()));
    std::fs::remove_file(&f).unwrap();
    assert_eq!(body_of(&server, "/d/f.txt").0, 404);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn no_open_files_means_every_request_opens() {
    let (server, root) = file_server(
        "none",
        Limits {
            open_files: 0,
            open_file_valid: Duration::from_secs(3600),
            ..config().limits
        },
    );
    assert_eq!(body_of(&server, "/d/f.txt"), (200, "one".into()));
    swap_dir_behind(&root, "two!");
    assert_eq!(body_of(&server, "/d/f.txt"), (200, "two!".into()));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn after_a_change_the_server_makes_nothing_opened_before_is_used() {
    let (server, root) = file_server(
        "own",
        Limits {
            open_file_valid: Duration::from_secs(3600),
            ..config().limits
        },
    );
    assert_eq!(body_of(&server, "/d/f.txt"), (200, "one".into()));
    swap_dir_behind(&root, "two!");
    assert_eq!(body_of(&server, "/d/f.txt"), (200, "one".into()));
    // Any upload, here of another file, retires every kept open.
    assert_eq!(
        exchange(&server, &post("/up/other.txt", b"x"), false).status,
        201
    );
    assert_eq!(body_of(&server, "/d/f.txt"), (200, "two!".into()));
    assert_eq!(
        exchange(&server, &post("/up/d/f.txt", b"three"), false).status,
        204
    );
    assert_eq!(body_of(&server, "/d/f.txt"), (200, "three".into()));
    let delete = b"DELETE /up/d/f.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(exchange(&server, delete, false).status, 204);
    assert_eq!(body_of(&server, "/d/f.txt").0, 404);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn the_file_acl_is_asked_on_every_request_of_a_kept_open() {
    let (server, root) = file_server(
        "acl",
        Limits {
            open_file_valid: Duration::from_secs(3600),
            ..config().limits
        },
    );
    let allowed = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let asked = counter();
    let (a, n) = (allowed.clone(), asked.clone());
    server.set_file_acl(Some(Arc::new(move |_: &str| {
        n.fetch_add(1, Ordering::SeqCst);
        if a.load(Ordering::SeqCst) {
            uhttpd::AclDecision::Grant(uhttpd::ACL_RO)
        } else {
            uhttpd::AclDecision::Deny(403)
        }
    })));
    assert_eq!(body_of(&server, "/d/f.txt"), (200, "one".into()));
    assert_eq!(body_of(&server, "/d/f.txt"), (200, "one".into()));
    allowed.store(false, Ordering::SeqCst);
    assert_eq!(body_of(&server, "/d/f.txt").0, 403);
    assert_eq!(count(&asked), 3);
    std::fs::remove_dir_all(&root).unwrap();
}
