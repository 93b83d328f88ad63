//! The seed's API rules in the engine (`uhttpd::api`): slot accounting,
//! the `{prefix}/*` patterns and verbs of `serve` and `receive`, `event`
//! once and only with `events >= 1`, the ext-mount checks, the route table,
//! and the REPL (one per process, falling through to later routes).

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use uhttpd::{Config, Error, Methods, Server};

/// A fresh directory to play the device's `/`, with `f.txt` in it.
fn root(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("uhttpd-api-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("f.txt"), "file").unwrap();
    root
}

fn seed(name: &str, route_slots: usize) -> Server {
    start(Config {
        root: root(name),
        route_slots,
        ..config()
    })
}

fn status(server: &Server, req: &[u8]) -> u16 {
    let mut c = Client::connect(server);
    c.send(req);
    c.response().status
}

fn request(method: &str, path: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n").into_bytes()
}

fn noop(_: uhttpd::Request) {}

/// The message of a refusal (for results whose value is not `Debug`).
fn refusal<T>(result: uhttpd::Result<T>) -> String {
    match result {
        Ok(_) => panic!("accepted, expected a refusal"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn serve_answers_get_and_head_under_prefix_star() {
    let server = seed("serve", 8);
    server.serve(Some("/fs/"), None, true, false).unwrap();
    let mut c = Client::connect(&server);
    c.send(&get("/fs/f.txt"));
    assert_eq!(c.response().body, b"file");
    c.send(&request("HEAD", "/fs/f.txt"));
    assert_eq!(c.head_response().status, 200);
    // `/fs/*` matches `/fs/` but not `/fs`.
    assert_eq!(status(&server, &get("/fs")), 404);
    let mut c = Client::connect(&server);
    c.send(&request("POST", "/fs/f.txt"));
    let refused = c.response();
    assert_eq!(refused.status, 405);
    assert_eq!(refused.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert!(server.route_accounting().contains("serve /fs/* 1"));
}

#[test]
fn serve_without_prefix_is_everything() {
    let server = seed("serve-all", 8);
    server.serve(None, Some("/"), false, false).unwrap();
    assert_eq!(status(&server, &get("/f.txt")), 200);
    assert!(server.route_accounting().contains("serve /* 1"));
}

#[test]
fn serve_and_receive_refuse_bad_prefixes_and_bases() {
    let server = seed("bad-args", 8);
    assert_eq!(
        refusal(server.serve(Some("fs"), None, true, false)),
        "prefix must start with '/', got \"fs\""
    );
    assert_eq!(
        refusal(server.serve(None, Some("www"), true, false)),
        "base must start with '/', got \"www\""
    );
    assert!(matches!(
        server.serve(None, Some("/a\0b"), true, false),
        Err(Error::InvalidArgument(m)) if m.starts_with("base \"/a\\0b\" is not a valid device path")
    ));
    assert_eq!(
        refusal(server.receive(false, None, false, false)),
        "receive(dynamic=False) needs prefix, the endpoint that takes uploads"
    );
    assert_eq!(
        refusal(server.receive(true, Some("up"), false, false)),
        "prefix must start with '/', got \"up\""
    );
    // Nothing refused took a slot.
    assert_eq!(server.route_accounting(), "8 slots: OPTIONS 1; 7 free");
}

#[test]
fn receive_takes_post_and_put_and_delete_only_when_asked() {
    let server = seed("receive", 8);
    server.receive(true, Some("/up"), false, false).unwrap();
    assert_eq!(status(&server, &post("/up/a.txt", b"a")), 201);
    assert_eq!(
        status(
            &server,
            b"PUT /up/b.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nb"
        ),
        201
    );
    assert_eq!(status(&server, &request("DELETE", "/up/a.txt")), 405);
    assert_eq!(status(&server, &post("/up", b"x")), 404);

    let server = seed("receive-delete", 8);
    server.receive(true, Some("/up"), false, true).unwrap();
    assert_eq!(status(&server, &post("/up/a.txt", b"a")), 201);
    assert_eq!(status(&server, &request("DELETE", "/up/a.txt")), 204);
    assert!(server.route_accounting().contains("receive /up/* 2"));
}

#[test]
fn static_receive_answers_its_prefix_only() {
    let server = seed("receive-static", 8);
    server
        .receive(false, Some("/upload"), false, false)
        .unwrap();
    let upload = b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\
        Content-Disposition: attachment; filename=\"/s.txt\"\r\n\r\ns";
    assert_eq!(status(&server, upload), 201);
    assert_eq!(status(&server, &post("/upload/x", b"x")), 404);
    assert!(server.route_accounting().contains("receive /upload 1"));
}

#[test]
fn slot_accounting_counts_every_registration() {
    // OPTIONS 1 + route 2 + serve 1 + receive 2 + event 1 = 7 of 8.
    let server = start(Config {
        root: root("slots"),
        events: 1,
        route_slots: 8,
        ..config()
    });
    server
        .route("/r", Methods::GET | Methods::POST, Arc::new(noop))
        .unwrap();
    server.serve(Some("/fs"), None, true, false).unwrap();
    server.receive(true, Some("/up"), false, true).unwrap();
    server.event("/ev").unwrap();
    let full = server
        .route("/more", Methods::GET | Methods::PUT, Arc::new(noop))
        .unwrap_err();
    assert_eq!(
        full.to_string(),
        "no free route slot for route /more GET|PUT (needs 2): 8 slots: OPTIONS 1, \
         route /r GET|POST 2, serve /fs/* 1, receive /up/* 2, event /ev 1; 1 free"
    );
    // The last slot is still there for a one-slot registration.
    server.route("/last", Methods::GET, Arc::new(noop)).unwrap();
    assert!(matches!(
        server.serve(Some("/fs2"), None, true, false),
        Err(Error::NoSlots { needed: 1, .. })
    ));
}

#[test]
fn receive_with_delete_needs_two_slots() {
    let server = seed("two-slots", 2);
    let refused = server.receive(true, Some("/up"), false, true).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "no free route slot for receive /up/* (needs 2): 2 slots: OPTIONS 1; 1 free"
    );
    server.receive(true, Some("/up"), false, false).unwrap();
}

#[test]
fn ext_mount_is_needed_for_serve_ext_and_receive_extonly() {
    let server = seed("no-ext", 8);
    assert_eq!(
        server
            .serve(None, None, true, true)
            .unwrap_err()
            .to_string(),
        "serve(ext=True) needs the external storage mount: Server(ext='/sd')"
    );
    assert_eq!(
        server
            .receive(true, Some("/up"), true, false)
            .unwrap_err()
            .to_string(),
        "receive(extonly=True) needs the external storage mount: Server(ext='/sd')"
    );
    let root = root("ext");
    std::fs::create_dir_all(root.join("sd")).unwrap();
    std::fs::write(root.join("sd/f.txt"), "ext").unwrap();
    let server = start(Config {
        root,
        ext: Some("/sd".into()),
        ..config()
    });
    server.serve(None, None, true, true).unwrap();
    server.receive(true, Some("/up"), true, false).unwrap();
    let mut c = Client::connect(&server);
    c.send(&get("/f.txt"));
    assert_eq!(c.response().body, b"ext", "the ext mount is tried first");
    assert_eq!(status(&server, &post("/up/outside.txt", b"x")), 403);
    assert_eq!(status(&server, &post("/up/sd/inside.txt", b"x")), 201);
    assert!(uhttpd::check_ext_mount("/sd").is_ok());
    assert_eq!(
        uhttpd::check_ext_mount("sd").unwrap_err().to_string(),
        "ext must be a path inside root like '/sd', got \"sd\""
    );
}

#[test]
fn event_needs_events_and_works_once() {
    let server = seed("no-events", 8);
    assert_eq!(
        refusal(server.event("/ev")),
        "event() needs Server(events=N), the number of EventSource clients served at once"
    );
    assert!(!server.dispatch(b"nobody", None).unwrap());

    let server = start(Config {
        events: 1,
        ..config()
    });
    assert_eq!(
        refusal(server.event("/ev/*")),
        "the event url must not be a wildcard, got \"/ev/*\""
    );
    let hub = server.event("/ev").unwrap();
    assert!(matches!(server.event("/ev"), Err(Error::EventTaken)));
    assert_eq!(
        refusal(server.event("/other")),
        "event() was already called for this server"
    );
    assert!(Arc::ptr_eq(&hub, &server.event_hub().unwrap()));
    assert!(server.route_accounting().contains("event /ev 1"));

    let mut c = Client::connect(&server);
    c.send(&get("/ev"));
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        c.stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("text/event-stream"),
        "{head}"
    );
    assert!(wait_for(Duration::from_secs(3), || hub.listeners() == 1));
    assert!(server.dispatch(b"hi", None).unwrap());
}

#[test]
fn route_table_registers_in_order_then_freezes() {
    let table: Vec<(&str, Methods, Arc<dyn uhttpd::Handler>)> = vec![
        ("/a", Methods::GET, Arc::new(noop)),
        ("/b", Methods::POST | Methods::PUT, Arc::new(noop)),
    ];
    let slots = uhttpd::table_slots(table.iter().map(|(_, m, _)| *m));
    assert_eq!(slots, uhttpd::DEFAULT_ROUTE_SLOTS);
    let server = seed("table", slots);
    server.route_table(table).unwrap();
    assert!(matches!(
        server.route("/c", Methods::GET, Arc::new(noop)),
        Err(Error::RoutesFrozen)
    ));
    // serve() and friends still have the seed's room after a table.
    server.serve(Some("/fs"), None, true, false).unwrap();
    assert_eq!(
        uhttpd::route_slots(0).unwrap_err().to_string(),
        "routes must be at least 1 (the OPTIONS slot)"
    );
}

/// One test for everything REPL: the REPL is one per process, and the
/// tests of this file share one.
#[test]
fn webrepl_is_one_per_process_and_falls_through() {
    let a = seed("repl-a", 3);
    a.webrepl("/", Some("pw".into()), Arc::new(Quiet)).unwrap();
    assert!(a.holds_webrepl());
    assert!(a.route_accounting().contains("ws / 1"));
    // Not shadowed by the REPL: a plain GET / goes on to this route.
    counted_route(&a, "/", Methods::GET, "page");
    let mut c = Client::connect(&a);
    c.send(&get("/"));
    assert_eq!(c.response().body, b"page");
    // A WebSocket upgrade to the same URL is the REPL's.
    let mut c = Client::connect(&a);
    c.send(
        b"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert_eq!(&c.read_bytes(12), b"HTTP/1.1 101");
    drop(c);
    // routes=3: OPTIONS, ws, one verb: full.
    assert!(matches!(
        a.route("/x", Methods::GET, Arc::new(noop)),
        Err(Error::NoSlots { .. })
    ));

    let b = seed("repl-b", 8);
    let taken = b.webrepl("/ws", None, Arc::new(Quiet)).unwrap_err();
    assert!(matches!(taken, Error::ReplTaken));
    assert_eq!(
        taken.to_string(),
        "a WebREPL is already registered in this process (ws() works once per process)"
    );
    assert!(matches!(
        a.webrepl("/again", None, Arc::new(Quiet)),
        Err(Error::ReplTaken)
    ));
    assert!(!b.holds_webrepl());

    // Closed, the first server lets go; a refused registration keeps nothing.
    a.close();
    assert!(matches!(
        a.webrepl("/ws", None, Arc::new(Quiet)),
        Err(Error::ServerClosed)
    ));
    assert!(matches!(
        b.webrepl("no-slash", None, Arc::new(Quiet)),
        Err(Error::InvalidPattern { .. })
    ));
    assert!(!b.holds_webrepl());
    let c = seed("repl-c", 8);
    c.webrepl("/ws", None, Arc::new(Quiet)).unwrap();
    assert!(c.holds_webrepl() && !a.holds_webrepl());

    // Dropped, a server lets go too.
    drop(c);
    b.webrepl("/ws", Some("pw".into()), Arc::new(Quiet))
        .unwrap();
    assert!(b.holds_webrepl());
}
