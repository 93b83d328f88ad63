//! uhttpd engine: a micro HTTP/1.1 server with a router, Basic/custom auth,
//! CORS and blocking request handlers on a bounded worker pool. No Python here.
//! The seed's API (MicroPython's `uhttpd`: `serve`, `receive`, `event`, `ws`,
//! the route table) and its rules are in [`api`]; the `uhttpd-py` crate only
//! converts Python arguments to it and maps its errors to Python exceptions.
//!
//! ```no_run
//! use std::sync::Arc;
//! use uhttpd::{Config, Methods, PlainThreads, ReplyHead, Server};
//!
//! let server = Server::start(Config { port: 8080, ..Config::default() }, Arc::new(PlainThreads))?;
//! server.route("/my", Methods::GET, Arc::new(|mut req: uhttpd::Request| {
//!     let head = ReplyHead::default().with_content_type("text/plain").unwrap();
//!     let _ = req.respond(head, "Hello World".into());
//! }))?;
//! # Ok::<(), uhttpd::Error>(())
//! ```

pub mod acl;
pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod events;
pub mod exchange;
pub mod files;
pub mod fs;
pub mod limits;
pub mod lineedit;
pub mod method;
pub mod pool;
pub mod proto;
pub mod query;
pub mod repl;
pub mod response;
pub mod router;
pub mod server;
pub mod upload;
pub mod ws;

pub use acl::{Access, AclDecision, FileAcl};
pub use api::{check_ext_mount, route_slots, table_slots, AclVerdict};
pub use auth::{Auth, AuthDecision, Authenticator, CustomVerdict};
pub use config::{Config, Limits, DEFAULT_ROUTE_SLOTS};
pub use error::{Error, Result};
pub use events::EventHub;
pub use exchange::{Request, RequestInfo};
pub use files::FileServer;
pub use fs::{DeviceFs, VirtualPath};
pub use method::Methods;
pub use pool::{block_async_signals, on_worker_thread, PlainThreads, WorkerHooks};
pub use response::{ReplyHead, Status};
pub use server::{Endpoint, Handler, Server};
pub use upload::Receiver;
pub use ws::{WsHandler, WsMessage, WsSender, WsSession};
