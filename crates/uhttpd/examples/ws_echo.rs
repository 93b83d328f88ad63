//! A WebSocket echo server on the engine, for the Autobahn test suite.
//!
//! `cargo run --release --example ws_echo -- 9001` then point Autobahn's
//! fuzzingclient at ws://127.0.0.1:9001 (see bench/autobahn.sh).

use std::sync::Arc;

use uhttpd::{Config, Endpoint, Methods, PlainThreads, Server, WsHandler, WsSession};

struct Echo;

impl WsHandler for Echo {
    fn session(&self, mut session: WsSession) {
        let sender = session.sender();
        while let Some(message) = session.recv() {
            if sender.send(message).is_err() {
                break;
            }
        }
    }
}

fn main() -> Result<(), uhttpd::Error> {
    let port = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(9001);
    let config = Config {
        host: "127.0.0.1".into(),
        port,
        ..Config::default()
    };
    let server = Server::start(config, Arc::new(PlainThreads))?;
    server.add_endpoint(
        "ws",
        "/*",
        Methods::GET,
        1,
        false,
        Endpoint::WebSocket(Arc::new(Echo)),
    )?;
    println!("ws echo on ws://127.0.0.1:{}/", server.port());
    loop {
        std::thread::park();
    }
}
