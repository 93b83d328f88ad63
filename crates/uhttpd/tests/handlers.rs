//! Replies as a client sees them, the router, CORS, auth and `close()`.

mod common;

use std::io::ErrorKind;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use uhttpd::{Auth, AuthDecision, Config, Limits, Methods, ReplyHead, RequestInfo, Server, Status};

fn plain() -> ReplyHead {
    ReplyHead::default()
        .with_content_type("text/plain")
        .unwrap()
}

/// `/next` answers "next", to check a connection is still usable.
fn add_next(server: &Server) {
    server
        .route(
            "/next",
            Methods::GET,
            Arc::new(|mut req: uhttpd::Request| reply(&mut req, 200, "next")),
        )
        .unwrap();
}

// ---- replies ----

#[test]
fn chunked_reply_has_exact_chunk_framing() {
    let server = start(config());
    server
        .route(
            "/chunks",
            Methods::GET,
            Arc::new(|mut req: uhttpd::Request| {
                req.send_chunk(plain(), Bytes::from_static(b"hello"))
                    .unwrap();
                // An empty chunk must not end the reply early.
                req.send_chunk(plain(), Bytes::new()).unwrap();
                req.send_chunk(plain(), Bytes::from(vec![b'z'; 300]))
                    .unwrap();
                req.send_chunk(plain(), Bytes::from_static(b"world!!"))
                    .unwrap();
                req.end_chunks(plain()).unwrap();
                assert!(req
                    .send_chunk(plain(), Bytes::from_static(b"late"))
                    .is_err());
            }),
        )
        .unwrap();
    add_next(&server);
    let mut c = Client::connect(&server);
    let mut req = get("/chunks");
    req.extend_from_slice(&get("/next"));
    c.send(&req);
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert!(r.header("Content-Length").is_none());
    let mut expected = b"5\r\nhello\r\n12c\r\n".to_vec();
    expected.extend_from_slice(&[b'z'; 300]);
    expected.extend_from_slice(b"\r\n7\r\nworld!!\r\n0\r\n\r\n");
    assert_eq!(
        String::from_utf8_lossy(&r.raw_body),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(c.response().body, b"next");
}

#[test]
fn a_handler_returning_mid_chunked_reply_gets_it_terminated() {
    let server = start(config());
    server
        .route(
            "/unfinished",
            Methods::GET,
            Arc::new(|mut req: uhttpd::Request| {
                req.send_chunk(plain(), Bytes::from_static(b"abc")).unwrap();
            }),
        )
        .unwrap();
    add_next(&server);
    let mut c = Client::connect(&server);
    c.send(&get("/unfinished"));
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.raw_body, b"3\r\nabc\r\n0\r\n\r\n");
    c.send(&get("/next"));
    assert_eq!(c.response().body, b"next");
}

#[test]
fn http_1_0_client_gets_a_streamed_reply_unframed_and_closed() {
    let server = start(config());
    server
        .route(
            "/chunks",
            Methods::GET,
            Arc::new(|mut req: uhttpd::Request| {
                req.send_chunk(plain(), Bytes::from_static(b"hello"))
                    .unwrap();
                req.send_chunk(plain(), Bytes::from_static(b"world!!"))
                    .unwrap();
                req.end_chunks(plain()).unwrap();
            }),
        )
        .unwrap();
    let mut c = Client::connect(&server);
    c.send(b"GET /chunks HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.0 200 OK");
    assert!(r.header("Transfer-Encoding").is_none());
    assert!(r.header("Content-Length").is_none());
    assert_eq!(r.header("Connection"), Some("close"));
    // No length, no chunks: the body ran until the close.
    assert_eq!(r.body, b"helloworld!!");
}

#[test]
fn send_raw_bytes_arrive_verbatim_and_the_connection_closes() {
    let server = start(config());
    let next = counter();
    let n = next.clone();
    server
        .route(
            "/raw",
            Methods::GET,
            Arc::new(|mut req: uhttpd::Request| {
                req.send_raw(Bytes::from_static(b"HTTP/1.1 299 Odd\r\nX-Raw: 1\r\n\r\n"))
                    .unwrap();
                req.send_raw(Bytes::from_static(b"\x00\xffraw body, no framing"))
                    .unwrap();
                assert!(req.respond(plain(), Bytes::new()).is_err());
            }),
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
    let mut c = Client::connect(&server);
    let mut req = get("/raw");
    req.extend_from_slice(&get("/next"));
    c.send(&req);
    let got = c.read_to_close();
    assert_eq!(
        got,
        b"HTTP/1.1 299 Odd\r\nX-Raw: 1\r\n\r\n\x00\xffraw body, no framing"
    );
    assert_eq!(
        count(&next),
        0,
        "pipelined request after send_raw was served"
    );
}

#[test]
fn a_handler_that_drops_the_request_gets_500() {
    let server = start(config());
    server
        .route(
            "/drop",
            Methods::GET,
            Arc::new(|req: uhttpd::Request| drop(req)),
        )
        .unwrap();
    add_next(&server);
    let mut c = Client::connect(&server);
    c.send(&get("/drop"));
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.1 500 Internal Server Error");
    assert_eq!(r.body_str(), "500 Internal Server Error\n");
    c.send(&get("/next"));
    assert_eq!(c.response().body, b"next");
}

#[test]
fn a_panicking_handler_gets_500_and_the_server_keeps_serving() {
    let server = start(Config {
        workers: 1,
        ..config()
    });
    let panics = counter();
    let p = panics.clone();
    server
        .route(
            "/panic",
            Methods::GET,
            Arc::new(move |_req: uhttpd::Request| {
                p.fetch_add(1, Ordering::SeqCst);
                panic!("handler panicked on purpose (expected by the test)");
            }),
        )
        .unwrap();
    add_next(&server);
    let mut c = Client::connect(&server);
    for _ in 0..3 {
        c.send(&get("/panic"));
        let r = c.response();
        assert_eq!(r.status_line, "HTTP/1.1 500 Internal Server Error");
    }
    // Same connection, and the single worker survived.
    c.send(&get("/next"));
    assert_eq!(c.response().body, b"next");
    let mut fresh = Client::connect(&server);
    fresh.send(&get("/next"));
    assert_eq!(fresh.response().body, b"next");
    assert_eq!(count(&panics), 3);
}

#[test]
fn a_204_reply_has_no_content_length_and_no_body() {
    let server = start(config());
    server
        .route(
            "/empty",
            Methods::GET | Methods::DELETE,
            Arc::new(|mut req: uhttpd::Request| {
                let head = ReplyHead::new(Status::from_code(204).unwrap());
                req.respond(head, Bytes::new()).unwrap();
            }),
        )
        .unwrap();
    add_next(&server);
    let mut c = Client::connect(&server);
    let mut req = b"DELETE /empty HTTP/1.1\r\nHost: test\r\n\r\n".to_vec();
    req.extend_from_slice(&get("/next"));
    c.send(&req);
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.1 204 No Content");
    assert!(r.header("Content-Length").is_none());
    assert!(r.header("Transfer-Encoding").is_none());
    assert!(r.header("Content-Type").is_none());
    // The next reply starts right after the 204's head.
    assert_eq!(c.response().body, b"next");
}

#[test]
fn respond_with_a_custom_status_line_and_headers() {
    let server = start(config());
    server
        .route(
            "/teapot",
            Methods::GET,
            Arc::new(|mut req: uhttpd::Request| {
                let mut head = ReplyHead::new(Status::parse(b"418 Short and stout").unwrap());
                head.add_header("X-One", "1").unwrap();
                req.respond(head, Bytes::from_static(b"<p>tea</p>"))
                    .unwrap();
                assert!(req.respond(plain(), Bytes::new()).is_err(), "second write");
            }),
        )
        .unwrap();
    let mut c = Client::connect(&server);
    c.send(&get("/teapot"));
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.1 418 Short and stout");
    assert_eq!(r.header("Content-Type"), Some("text/html"));
    assert_eq!(r.header("Content-Length"), Some("10"));
    assert_eq!(r.header("X-One"), Some("1"));
    assert_eq!(r.header("Server"), Some("uhttpd"));
    assert!(r.header("Date").is_some_and(|d| d.ends_with(" GMT")));
    assert_eq!(r.body, b"<p>tea</p>");
}

#[test]
fn deny_answers_with_the_status() {
    let server = start(config());
    server
        .route(
            "/deny",
            Methods::GET,
            Arc::new(|req: uhttpd::Request| req.deny(403)),
        )
        .unwrap();
    let mut c = Client::connect(&server);
    c.send(&get("/deny"));
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.1 403 Forbidden");
    assert_eq!(r.body_str(), "403 Forbidden\n");
}

// ---- router ----

/// `/only-get` (GET) and `/other` (POST|PUT), each counting.
fn routed(config: Config) -> (Server, Arc<AtomicUsize>) {
    let server = start(config);
    let calls = counter();
    for (path, methods) in [
        ("/only-get", Methods::GET),
        ("/other", Methods::POST | Methods::PUT),
    ] {
        let c = calls.clone();
        server
            .route(
                path,
                methods,
                Arc::new(move |mut req: uhttpd::Request| {
                    c.fetch_add(1, Ordering::SeqCst);
                    reply(&mut req, 200, "routed");
                }),
            )
            .unwrap();
    }
    let c = calls.clone();
    server
        .route(
            "/boom",
            Methods::GET,
            Arc::new(move |req: uhttpd::Request| {
                c.fetch_add(1, Ordering::SeqCst);
                drop(req);
            }),
        )
        .unwrap();
    (server, calls)
}

#[test]
fn unknown_path_is_404_and_wrong_verb_is_405_with_allow() {
    let (server, calls) = routed(config());
    let mut c = Client::connect(&server);
    c.send(&get("/nope"));
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.1 404 Not Found");
    assert!(r.header("Allow").is_none());
    assert!(r.header("Access-Control-Allow-Origin").is_none());

    c.send(&post("/only-get", b"x"));
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.1 405 Method Not Allowed");
    assert_eq!(r.header("Allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(r.body_str(), "405 Method Not Allowed\n");

    c.send(b"DELETE /other HTTP/1.1\r\nHost: test\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("POST, PUT, OPTIONS"));
    assert_eq!(count(&calls), 0);

    c.send(&get("/only-get"));
    assert_eq!(c.response().body, b"routed");
    assert_eq!(count(&calls), 1);
}

#[test]
fn options_on_a_routed_path_is_204_with_allow() {
    let (server, calls) = routed(config());
    let mut c = Client::connect(&server);
    c.send(b"OPTIONS /only-get HTTP/1.1\r\nHost: test\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.1 204 No Content");
    assert_eq!(r.header("Allow"), Some("GET, HEAD, OPTIONS"));
    assert!(r.header("Content-Length").is_none());
    assert!(r.header("Access-Control-Allow-Origin").is_none());
    assert!(r.header("Access-Control-Allow-Methods").is_none());

    c.send(b"OPTIONS /nope HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(c.response().status, 404);

    c.send(b"OPTIONS * HTTP/1.1\r\nHost: test\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 204);
    assert_eq!(r.header("Allow"), Some("GET, HEAD, POST, PUT, OPTIONS"));
    assert_eq!(count(&calls), 0);
}

#[test]
fn cors_preflight_lists_the_verbs_and_echoes_the_asked_headers() {
    let (server, calls) = routed(Config {
        cors: true,
        ..config()
    });
    let mut c = Client::connect(&server);
    c.send(
        b"OPTIONS /other HTTP/1.1\r\nHost: test\r\nOrigin: http://elsewhere\r\n\
Access-Control-Request-Method: PUT\r\n\
Access-Control-Request-Headers: X-Token, Content-Type\r\n\r\n",
    );
    let r = c.response();
    assert_eq!(r.status, 204);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(
        r.header("Access-Control-Allow-Methods"),
        Some("POST, PUT, OPTIONS")
    );
    assert_eq!(
        r.header("Access-Control-Allow-Headers"),
        Some("X-Token, Content-Type")
    );
    assert_eq!(r.header("Allow"), Some("POST, PUT, OPTIONS"));
    assert_eq!(count(&calls), 0);
}

#[test]
fn cors_adds_allow_origin_to_every_reply_errors_included() {
    let (server, calls) = routed(Config {
        cors: true,
        auth: Auth::Basic(b"Basic YW5zd2VyOjQy".to_vec()),
        ..config()
    });
    let authed = |method: &str, path: &str| {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Basic YW5zd2VyOjQy\r\n\r\n"
        )
        .into_bytes()
    };
    let mut c = Client::connect(&server);
    for (req, status) in [
        (authed("GET", "/only-get"), 200),
        (get("/only-get"), 401),
        (authed("GET", "/nope"), 404),
        (authed("DELETE", "/only-get"), 405),
        (authed("GET", "/boom"), 500),
        (authed("TRACE", "/only-get"), 501),
    ] {
        c.send(&req);
        let r = c.response();
        assert_eq!(r.status, status);
        assert_eq!(
            r.header("Access-Control-Allow-Origin"),
            Some("*"),
            "{}",
            r.status_line
        );
        assert_eq!(r.header_count("Access-Control-Allow-Origin"), 1);
    }
    // A refused (unparsable) request too.
    let mut c = Client::connect(&server);
    c.send(b"GET / HTTP/1.1\r\nHost: test\r\nX: a\r\n b\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 400);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(count(&calls), 2, "/only-get once and /boom once");
}

#[test]
fn allow_cors_on_one_reply_without_a_cors_server() {
    let server = start(config());
    server
        .route(
            "/open",
            Methods::GET,
            Arc::new(|mut req: uhttpd::Request| {
                let mut head = plain();
                head.allow_cors = true;
                req.respond(head, Bytes::from_static(b"x")).unwrap();
            }),
        )
        .unwrap();
    let mut c = Client::connect(&server);
    c.send(&get("/open"));
    assert_eq!(
        c.response().header("Access-Control-Allow-Origin"),
        Some("*")
    );
}

#[test]
fn wildcard_routes_match_the_rest_but_not_the_bare_prefix() {
    let server = start(config());
    for (pattern, name) in [("/api", "exact"), ("/api/*", "wild"), ("/opt/?*", "opt")] {
        server
            .route(
                pattern,
                Methods::GET,
                Arc::new(move |mut req: uhttpd::Request| {
                    let body = format!("{name} {}", req.info().path());
                    reply(&mut req, 200, body);
                }),
            )
            .unwrap();
    }
    let mut c = Client::connect(&server);
    for (path, expected) in [
        ("/api", Some("exact /api")),
        ("/api/", Some("wild /api/")),
        ("/api/x/y?q=1", Some("wild /api/x/y")),
        ("/apix", None),
        ("/api?x", Some("exact /api")),
        ("/opt", Some("opt /opt")),
        ("/opt/deep/er", Some("opt /opt/deep/er")),
        ("/optx", None),
    ] {
        c.send(&get(path));
        let r = c.response();
        match expected {
            Some(body) => {
                assert_eq!(r.status, 200, "{path}");
                assert_eq!(r.body_str(), body, "{path}");
            }
            None => assert_eq!(r.status, 404, "{path}"),
        }
    }
}

// ---- auth ----

#[test]
fn basic_auth_challenges_missing_and_wrong_credentials() {
    let server = start(Config {
        auth: Auth::Basic(b"Basic YW5zd2VyOjQy".to_vec()),
        ..config()
    });
    let calls = counted_route(&server, "/secret", Methods::GET | Methods::POST, "secret");
    let mut c = Client::connect(&server);
    for auth in [
        "",
        "Authorization: Basic YW5zd2VyOjQz\r\n",
        "Authorization: basic YW5zd2VyOjQy\r\n",
        "Authorization: Basic YW5zd2VyOjQy2\r\n",
        "Authorization: Bearer x\r\n",
    ] {
        c.send(format!("GET /secret HTTP/1.1\r\nHost: test\r\n{auth}\r\n").as_bytes());
        let r = c.response();
        assert_eq!(r.status_line, "HTTP/1.1 401 Unauthorized", "{auth:?}");
        let challenge = r.header("WWW-Authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Basic"), "challenge {challenge:?}");
    }
    assert_eq!(count(&calls), 0);

    c.send(b"GET /secret HTTP/1.1\r\nHost: test\r\nAuthorization: Basic YW5zd2VyOjQy\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert!(r.header("WWW-Authenticate").is_none());
    assert_eq!(r.body, b"secret");
    assert_eq!(count(&calls), 1);

    // A challenged request with a body keeps the connection usable.
    c.send(&post("/secret", b"data"));
    assert_eq!(c.response().status, 401);

    c.send(b"OPTIONS /secret HTTP/1.1\r\nHost: test\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 204);
    assert_eq!(r.header("Allow"), Some("GET, HEAD, POST, OPTIONS"));
    assert!(r.header("WWW-Authenticate").is_none());
    assert_eq!(count(&calls), 1);
}

#[test]
fn custom_auth_denial_answers_its_status_and_skips_the_handler() {
    let asked = counter();
    let a = asked.clone();
    let server = start(Config {
        auth: Auth::Custom(Arc::new(move |info: &Arc<RequestInfo>| {
            a.fetch_add(1, Ordering::SeqCst);
            match info.header("x-token") {
                Some(b"good") => AuthDecision::Allow,
                _ => AuthDecision::Deny(403),
            }
        })),
        ..config()
    });
    let calls = counted_route(&server, "/guarded", Methods::GET, "in");
    let mut c = Client::connect(&server);
    c.send(b"GET /guarded HTTP/1.1\r\nHost: test\r\nX-Token: bad\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.1 403 Forbidden");
    assert!(r.header("WWW-Authenticate").is_none());
    assert_eq!(count(&calls), 0, "handler ran after a denial");

    c.send(b"GET /guarded HTTP/1.1\r\nHost: test\r\nX-Token: good\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"in");
    assert_eq!(count(&calls), 1);

    c.send(b"OPTIONS /guarded HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(c.response().status, 204);
    assert_eq!(count(&asked), 2, "OPTIONS must not be authenticated");
}

#[test]
fn custom_auth_guards_files_and_the_allowed_request_is_served_whole() {
    let root = std::env::temp_dir().join(format!("uhttpd-auth-files-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("x.txt"), "file").unwrap();
    let server = start(Config {
        root: root.clone(),
        auth: Auth::Custom(Arc::new(|info: &Arc<RequestInfo>| {
            match info.header("x-token") {
                Some(b"good") => AuthDecision::Allow,
                _ => AuthDecision::Deny(403),
            }
        })),
        ..config()
    });
    server.serve(Some("/fs"), None, false, false).unwrap();
    let mut c = Client::connect(&server);
    c.send(b"GET /fs/x.txt HTTP/1.1\r\nHost: test\r\nX-Token: bad\r\n\r\n");
    assert_eq!(c.response().status, 403);
    // The request the decision thread saw comes back for the file server.
    c.send(b"GET /fs/x.txt?v=1 HTTP/1.1\r\nHost: test\r\nX-Token: good\r\n\r\n");
    let r = c.response();
    assert_eq!((r.status, r.body_str().as_str()), (200, "file"));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn custom_auth_401_carries_a_www_authenticate_challenge() {
    // AuthDecision::Deny documents "401 gets a WWW-Authenticate challenge", and
    // RFC 9110 11.6.1: a server generating a 401 MUST send WWW-Authenticate.
    let server = start(Config {
        auth: Auth::Custom(Arc::new(|_info: &Arc<RequestInfo>| AuthDecision::Deny(401))),
        ..config()
    });
    let calls = counted_route(&server, "/guarded", Methods::GET, "in");
    let mut c = Client::connect(&server);
    c.send(&get("/guarded"));
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.1 401 Unauthorized");
    assert_eq!(count(&calls), 0);
    assert!(
        r.header("WWW-Authenticate").is_some(),
        "401 without a challenge: {:?}",
        r.headers
    );
}

// ---- close() ----

#[test]
fn close_shuts_the_port_and_is_idempotent() {
    let server = start(config());
    add_next(&server);
    let addr = addr(&server);
    let mut c = Client::connect(&server);
    c.send(&get("/next"));
    assert_eq!(c.response().body, b"next");
    server.close();
    assert!(server.is_closed());
    match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused),
        Ok(_) => panic!("port still accepts connections after close()"),
    }
    // The kept-alive connection was dropped too.
    let _ = c.try_send(&get("/next"));
    let _ = c.read_to_close();
    let t0 = Instant::now();
    server.close();
    server.close();
    assert!(t0.elapsed() < Duration::from_millis(500));
    assert!(server
        .route("/late", Methods::GET, Arc::new(|_req: uhttpd::Request| {}))
        .is_err());
}

#[test]
fn close_interrupts_a_handler_blocked_reading_a_body() {
    let server = start(Config {
        limits: Limits {
            io_timeout: Duration::from_secs(20),
            ..config().limits
        },
        ..config()
    });
    let (started_tx, started_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    server
        .route(
            "/upload",
            Methods::POST,
            Arc::new(move |mut req: uhttpd::Request| {
                let _ = started_tx.send(());
                let result = req.read_to_end(None);
                let _ = done_tx.send(result.map(|b| b.len()).map_err(|e| e.kind()));
            }),
        )
        .unwrap();
    let mut c = Client::connect(&server);
    // With `Expect: 100-continue` the handler is queued before any body
    // arrives (other bodies' first piece is read before it runs).
    c.send(b"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\nonly ten..");
    started_rx.recv_timeout(TIMEOUT).expect("handler started");
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    server.close();
    let took = t0.elapsed();
    let result = done_rx
        .recv_timeout(Duration::from_millis(100))
        .expect("handler's read returned by the time close() did");
    assert!(result.is_err(), "read returned {result:?}");
    // SHUTDOWN_GRACE is 5 s: close() must not have waited for it.
    assert!(took < Duration::from_secs(3), "close() took {took:?}");
    let _ = c.read_to_close();
    assert!(TcpStream::connect_timeout(&addr(&server), Duration::from_secs(1)).is_err());
}

#[test]
fn file_acl_decisions_do_not_wait_behind_callbacks() {
    // The ACL runs on its own decision threads: with the only handler thread
    // held by a callback, an ACL-checked file is still served at once.
    let root = std::env::temp_dir().join(format!("uhttpd-acl-pool-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("x.txt"), "file").unwrap();
    let server = start(Config {
        workers: 1,
        root: root.clone(),
        ..config()
    });
    server.serve(Some("/fs"), None, false, false).unwrap();
    server.set_file_acl(Some(Arc::new(|_: &str| {
        uhttpd::AclDecision::Grant(uhttpd::ACL_RW)
    })));
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    let (started_tx, started_rx) = mpsc::channel();
    server
        .route(
            "/block",
            Methods::GET,
            Arc::new(move |mut req: uhttpd::Request| {
                let _ = started_tx.send(());
                let _ = release_rx
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(10));
                reply(&mut req, 200, "released");
            }),
        )
        .unwrap();
    let mut blocked = Client::connect(&server);
    blocked.send(&get("/block"));
    started_rx
        .recv_timeout(TIMEOUT)
        .expect("callback holds the handler thread");
    let mut c = Client::connect(&server);
    c.send(&get("/fs/x.txt"));
    let r = c.response();
    assert_eq!((r.status, r.body_str().as_str()), (200, "file"));
    release_tx.send(()).unwrap();
    assert_eq!(blocked.response().status, 200);
    std::fs::remove_dir_all(&root).unwrap();
}
