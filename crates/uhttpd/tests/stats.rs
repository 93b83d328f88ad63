//! `Server::stats()`: the counters move as requests, bytes, event clients
//! and a REPL login happen, and what is open now falls back when the
//! connections close.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};
use uhttpd::{Config, Methods, Server, Stats};

const WAIT: Duration = Duration::from_secs(5);

/// A fresh directory to play the device's `/`, with a file larger than a
/// reply that goes out in one write (so it is sent as a file).
fn root(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("uhttpd-stats-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("big.bin"), vec![7u8; 300_000]).unwrap();
    root
}

fn server(name: &str) -> Server {
    let server = start(Config {
        root: root(name),
        events: 2,
        ..config()
    });
    counted_route(&server, "/x", Methods::GET, "x");
    server
}

/// Sends `request` on a connection of its own and reads until the server
/// closes it; the bytes that came back.
fn exchange(server: &Server, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect_timeout(&addr(server), TIMEOUT).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.write_all(request).unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    got
}

/// Waits for `server`'s counters to satisfy `want`; the last ones read.
fn stats_when(server: &Server, want: impl Fn(&Stats) -> bool) -> Stats {
    wait_for(WAIT, || want(&server.stats()));
    server.stats()
}

#[test]
fn requests_replies_and_bytes_are_counted_exactly() {
    let server = server("bytes");
    server.serve(Some("/fs"), None, true, false).unwrap();
    server.receive(true, Some("/up"), false, false).unwrap();
    let fresh = server.stats();
    assert_eq!(Stats { rss: 0, ..fresh }, Stats::default());
    if cfg!(target_os = "linux") {
        assert!(fresh.rss > 1 << 20, "resident memory: {}", fresh.rss);
    } else {
        assert_eq!(fresh.rss, 0);
    }

    let close = "Host: t\r\nConnection: close\r\n";
    let requests = [
        format!("GET /x HTTP/1.1\r\n{close}\r\n").into_bytes(),
        // Sent by the kernel (sendfile), or read and written where it cannot.
        format!("GET /fs/big.bin HTTP/1.1\r\n{close}\r\n").into_bytes(),
        format!("GET /nothing HTTP/1.1\r\n{close}\r\n").into_bytes(),
        format!("PUT /up/a.txt HTTP/1.1\r\n{close}Content-Length: 5\r\n\r\nhello").into_bytes(),
        // No Host: refused before it is routed.
        b"GET /x HTTP/1.1\r\n\r\n".to_vec(),
    ];
    let (mut sent, mut received) = (0, 0);
    for request in &requests {
        sent += request.len() as u64;
        received += exchange(&server, request).len() as u64;
    }
    assert!(received > 300_000);
    let stats = stats_when(&server, |s| {
        s.requests == 5 && s.bytes_out == received && s.connections == 0
    });
    assert_eq!(stats.requests, 5);
    assert_eq!(stats.status, [0, 3, 0, 2, 0], "200, 200, 201; 404, 400");
    assert_eq!((stats.bytes_in, stats.bytes_out), (sent, received));
    assert_eq!(stats.connections, 0);
}

/// The next text frame from the REPL.
fn next_text(repl: &mut WebSocket<TcpStream>) -> String {
    match repl.read().expect("a frame from the REPL") {
        Message::Text(text) => text.to_string(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[test]
fn what_is_open_now_falls_back_when_it_closes() {
    let server = server("open");
    server.event("/events").unwrap();
    server
        .webrepl("/ws", Some("pw".into()), Arc::new(Quiet))
        .unwrap();

    let mut keep_alive = Client::connect(&server);
    keep_alive.send(&get("/x"));
    assert_eq!(keep_alive.response().status, 200);
    let stats = stats_when(&server, |s| s.requests == 1);
    assert_eq!((stats.connections, stats.requests), (1, 1));

    let mut events = Client::connect(&server);
    events.send(&get("/events"));
    assert_eq!(&events.read_bytes(12), b"HTTP/1.1 200");
    let stats = stats_when(&server, |s| s.event_clients == 1);
    assert_eq!((stats.connections, stats.event_clients), (2, 1));
    assert_eq!(stats.requests, 1, "an event stream finishes when it ends");

    let tcp = TcpStream::connect_timeout(&addr(&server), TIMEOUT).unwrap();
    tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
    let url = format!("ws://127.0.0.1:{}/ws", server.port());
    let Ok((mut repl, _)) = tungstenite::client(url.as_str(), tcp) else {
        panic!("the WebSocket handshake failed");
    };
    assert_eq!(next_text(&mut repl), "Password: ");
    assert_eq!(server.stats().repl_sessions, 0, "not logged in yet");
    let before_login = server.stats();
    repl.send(Message::text("pw\r")).unwrap();
    let mut greeting = String::new();
    while !greeting.ends_with(">>> ") {
        greeting += &next_text(&mut repl);
    }
    // (a write is counted the moment it returns: the client may be quicker)
    let greeted = before_login.bytes_out + greeting.len() as u64;
    let stats = stats_when(&server, |s| s.bytes_out >= greeted);
    assert!(stats.bytes_out >= greeted, "the greeting, framed");
    assert!(stats.bytes_in > before_login.bytes_in, "the password frame");
    assert_eq!(stats.repl_sessions, 1);
    assert_eq!(stats.connections, 3);

    drop((keep_alive, events, repl));
    let stats = stats_when(&server, |s| {
        s.connections == 0 && s.event_clients == 0 && s.repl_sessions == 0 && s.requests == 3
    });
    assert_eq!(
        (stats.connections, stats.event_clients, stats.repl_sessions),
        (0, 0, 0)
    );
    assert_eq!(stats.requests, 3);
    assert_eq!(stats.status, [1, 2, 0, 0, 0], "the upgrade; /x and /events");
}

#[test]
fn a_connection_refused_at_the_cap_is_a_503() {
    let server = start(Config {
        limits: uhttpd::Limits {
            max_connections: 1,
            ..config().limits
        },
        ..config()
    });
    let held = Client::connect(&server);
    assert!(wait_for(WAIT, || server.stats().connections == 1));
    // (sent nothing: the server answers without reading)
    let refused = exchange(&server, b"");
    assert!(refused.starts_with(b"HTTP/1.1 503"));
    let stats = stats_when(&server, |s| s.requests == 1);
    assert_eq!(stats.status, [0, 0, 0, 0, 1]);
    assert_eq!(stats.bytes_out, refused.len() as u64);
    assert_eq!(stats.bytes_in, 0, "nothing read from it");
    drop(held);
}
