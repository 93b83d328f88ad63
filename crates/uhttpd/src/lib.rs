//! uhttpd: a micro HTTP/1.1 server engine with MicroPython's `uhttpd` API,
//! usable from Rust. No Python here: the `uhttpd-py` crate (the CPython face)
//! only converts Python arguments to this API and maps its errors.
//!
//! - [`Server::start`] binds and starts the server's threads; it is served at
//!   once and runs until [`Server::close`] or drop.
//! - The seed's registrations, with its rules (route slots, patterns, verbs,
//!   one event stream, one REPL per process): [`Server::route`],
//!   [`Server::serve`] (files), [`Server::receive`] (uploads),
//!   [`Server::event`] / [`Server::dispatch`] (Server-Sent Events),
//!   [`Server::webrepl`] (MicroPython's WebREPL, see [`repl`]),
//!   [`Server::route_table`], [`Server::set_file_acl`].
//! - Handlers ([`Handler`]) run on handler threads and answer a [`Request`];
//!   a host decides how those threads live and wait ([`WorkerHooks`]).
//! - [`Server::observations`]: finished requests and file changes as values;
//!   [`Server::stats`]: counters for a dashboard.
//! - Every limit is a named constant in [`limits`], a default of [`Limits`].
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
//! server.serve(Some("/fs"), None, true, false)?; // the file server, with listings
//! # Ok::<(), uhttpd::Error>(())
//! ```
//!
//! The rooms inside are described in the project's `docs/ARCHITECTURE.md`.

#![warn(missing_docs)]

mod acl;
mod api;
mod auth;
mod config;
mod drivers;
mod error;
mod fs;
mod host;
mod http;
mod io;
pub mod limits;
mod lineedit;
mod observe;
mod platform;
pub mod repl;
mod router;
mod server;
mod stats;
#[cfg(feature = "tls")]
pub mod tls;

pub use acl::{Access, AclDecision, FileAcl, ACL_RO, ACL_RW, ACL_WO};
pub use api::{
    check_ext_mount, route_slots, seed_events, seed_port, seed_root, seed_workers, table_slots,
    AclVerdict,
};
pub use auth::{
    log_not_a_status, Auth, AuthDecision, Authenticator, CustomVerdict, SeedAuth, AUTH_BASIC,
    AUTH_CUSTOM, AUTH_OPEN, NOT_A_STATUS_DENIAL,
};
pub use config::{Config, Limits, DEFAULT_ROUTE_SLOTS};
pub use drivers::events::EventHub;
pub use drivers::files::FileServer;
pub use drivers::upload::Receiver;
pub use drivers::websocket::{WsHandler, WsMessage, WsSender, WsSession};
pub use error::{Error, ErrorClass, Result};
pub use fs::{DeviceFs, PathError, VirtualPath};
pub use host::pool::{block_async_signals, on_worker_thread, PlainThreads, WorkerHooks};
pub use host::request::{Request, RequestInfo};
pub use http::method::Methods;
pub use http::query;
pub use http::reply::{ReplyHead, SeedStatus, Status};
pub use observe::{FileChange, Observation};
pub use server::{Endpoint, Handler, Server};
pub use stats::Stats;

/// The engine's parsers, for the fuzz targets only (`--features fuzzing`).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::auth::basic_matches;
    pub use crate::drivers::upload::disposition_filename;
    pub use crate::drivers::websocket::handshake;
    pub use crate::http::content_range::UploadRange;
    pub use crate::http::digest::{sha256_field, sha256_in, wants_sha256};
    pub use crate::http::request::{parse_head, BodyDecoder, BodyKind, Decoded, HeadLimits};
    pub use crate::lineedit::{Edit, LineEditor, MAX_LINE_CHARS};
    pub use crate::repl::{parse_wa, WA_REQUEST_BYTES};
    pub use crate::router::Pattern;
}
