//! Server settings; every default is a named constant from [`crate::limits`].

use std::path::PathBuf;
use std::time::Duration;

use crate::auth::Auth;
use crate::limits;

/// Everything [`crate::Server::start`] needs; start from
/// `Config::default()` and set what differs.
#[derive(Clone)]
pub struct Config {
    /// Bind address (`0.0.0.0`, `::`, `127.0.0.1`…).
    pub host: String,
    /// 0 lets the OS pick a free port.
    pub port: u16,
    /// Add `Access-Control-Allow-Origin: *` to every reply.
    pub cors: bool,
    /// Route slots, the OPTIONS slot included (the seed's `routes`, default 8).
    pub route_slots: usize,
    /// How every request is authenticated (the seed's `acl` and `auth`).
    pub auth: Auth,
    /// Host directory playing the device's `/` for every file feature.
    pub root: PathBuf,
    /// Device path where external storage is mounted (`/sd`), if any.
    pub ext: Option<String>,
    /// EventSource clients served at once by [`crate::Server::event`] (the
    /// seed's `events`; 0, the default, allows no `event()`).
    pub events: usize,
    /// Handler threads.
    pub workers: usize,
    /// Requests waiting for a handler thread before 503.
    pub queue: usize,
    /// I/O threads, each running its own single-threaded async runtime; the
    /// first also accepts and deals connections out round-robin.
    pub io_threads: usize,
    /// Protocol limits and timeouts.
    pub limits: Limits,
    /// Speak TLS on the port (HTTPS, wss) with this identity; plain HTTP when `None`.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::TlsIdentity>,
}

/// Protocol limits and timeouts.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request head, request line and headers included (431 past it).
    pub max_head_bytes: usize,
    /// Largest request-target (414 past it).
    pub max_uri_bytes: usize,
    /// Time to send a whole request head once it started (408 past it).
    pub header_timeout: Duration,
    /// Time an idle keep-alive connection waits for its next request.
    pub idle_timeout: Duration,
    /// Time a client may stall sending a body or reading a reply.
    pub io_timeout: Duration,
    /// Time to send one piece of a body a callback reads (408 past it).
    pub body_timeout: Duration,
    /// Open connections served at once; one more gets a 503 and is closed.
    pub max_connections: usize,
    /// Unread body still read and discarded after a reply to keep the
    /// connection; a larger leftover closes it.
    pub max_drain_bytes: u64,
    /// Largest accepted upload; `None` for no limit (413 past it).
    pub max_upload_bytes: Option<u64>,
    /// Time a resumable upload's partial file is kept untouched before the
    /// next resumable upload into its directory removes it.
    pub partial_upload_lifetime: Duration,
    /// Idle time after which an event client gets a heartbeat comment.
    pub event_heartbeat: Duration,
    /// Files the file server keeps open between requests (0: none).
    pub open_files: usize,
    /// Longest time a kept open stands for a fresh one (how late a change on
    /// a file's path made behind the server's back may be seen).
    pub open_file_valid: Duration,
}

/// The seed's default number of route slots (`routes=8`), OPTIONS included.
pub const DEFAULT_ROUTE_SLOTS: usize = 8;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head_bytes: limits::MAX_HEAD_BYTES,
            max_uri_bytes: limits::MAX_URI_BYTES,
            header_timeout: limits::HEADER_READ_TIMEOUT,
            idle_timeout: limits::IDLE_KEEPALIVE_TIMEOUT,
            io_timeout: limits::IO_STALL_TIMEOUT,
            body_timeout: limits::BODY_PIECE_TIMEOUT,
            max_connections: limits::MAX_CONNECTIONS,
            max_drain_bytes: limits::MAX_DRAIN_BYTES,
            max_upload_bytes: None,
            partial_upload_lifetime: limits::PARTIAL_UPLOAD_LIFETIME,
            event_heartbeat: limits::EVENT_HEARTBEAT,
            open_files: limits::OPEN_FILE_CACHE_ENTRIES,
            open_file_valid: limits::OPEN_FILE_CACHE_VALID,
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            host: "0.0.0.0".to_string(),
            port: 80,
            cors: false,
            route_slots: DEFAULT_ROUTE_SLOTS,
            auth: Auth::Open,
            root: PathBuf::from("."),
            ext: None,
            events: 0,
            workers: limits::HANDLER_WORKERS,
            queue: limits::HANDLER_QUEUE,
            io_threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
            limits: Limits::default(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}
