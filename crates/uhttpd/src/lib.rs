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
pub mod drivers;
pub mod error;
pub mod fs;
pub mod host;
pub mod http;
pub(crate) mod io;
pub mod limits;
pub mod lineedit;
pub mod observe;
mod platform;
pub mod repl;
pub mod router;
pub mod server;

pub use acl::{Access, AclDecision, FileAcl};
pub use api::{check_ext_mount, route_slots, table_slots, AclVerdict};
pub use auth::{Auth, AuthDecision, Authenticator, CustomVerdict};
pub use config::{Config, Limits, DEFAULT_ROUTE_SLOTS};
pub use drivers::events::EventHub;
pub use drivers::files::FileServer;
pub use drivers::upload::Receiver;
pub use error::{Error, Result};
pub use fs::{DeviceFs, VirtualPath};
pub use host::pool::{block_async_signals, on_worker_thread, PlainThreads, WorkerHooks};
pub use host::request::{Request, RequestInfo};
pub use http::method::Methods;
pub use http::reply::{ReplyHead, Status};
pub use observe::{FileChange, Observation};
pub use server::{Endpoint, Handler, Server};

// Old paths, until the bindings and fuzz targets use the narrowed API.
pub use drivers::websocket::{WsHandler, WsMessage, WsSender, WsSession};
pub use drivers::{upload, websocket as ws};
pub use host::pool;
pub use http::{query, request as proto};
