//! The engine's ceiling for a callback: `bench/apps/hello_uhttpd.py`'s Hello
//! World with the handler in Rust instead of Python. Same engine, same
//! settings (the Python face's defaults: handler workers, I/O threads,
//! route slots), same reply bytes; what is left between the two is the cost
//! of running the handler in Python.
//!
//! `cargo run --release --example hello_ceiling -- 8080` serves
//! http://127.0.0.1:8080/ and prints `ready PORT` (port 0 picks a free one).
//! The bench's `ceiling` scenario runs it beside the Python app.

use std::sync::Arc;

use uhttpd::{Config, Methods, PlainThreads, ReplyHead, Request, Server};

fn main() -> Result<(), uhttpd::Error> {
    let port = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let config = Config {
        host: "127.0.0.1".into(),
        port,
        ..Config::default()
    };
    let server = Server::start(config, Arc::new(PlainThreads))?;
    // req.write('Hello World', mime='text/plain') in the Python app.
    server.route(
        "/",
        Methods::GET,
        Arc::new(|mut req: Request| {
            let head = ReplyHead::default()
                .with_content_type("text/plain")
                .expect("a valid content type");
            let _ = req.respond(head, "Hello World".into());
        }),
    )?;
    println!("ready {}", server.port());
    loop {
        std::thread::park();
    }
}
