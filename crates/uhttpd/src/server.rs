//! The server: its settings, route table, file ACL and the threads behind it.
//! [`Server::start`] binds and starts the I/O threads ([`crate::io`]) and the
//! handler pool; routes, the file server, the receiver, events and the REPL
//! are registered on it.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, RwLock};
use std::thread;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

use crate::acl::{AclSlot, FileAcl};
use crate::auth::Auth;
use crate::config::{Config, Limits};
use crate::drivers::events::EventHub;
use crate::drivers::files::FileServer;
use crate::drivers::open_files::OpenFiles;
use crate::drivers::upload::Receiver;
use crate::drivers::websocket::WsHandler;
use crate::error::{Error, Result};
use crate::fs::DeviceFs;
use crate::host::pool::{ThreadPool, WorkerHooks};
use crate::host::request::Request;
use crate::io::listener::{bind, raise_open_file_limit, spawn_io_threads};
use crate::limits;
use crate::observe::{Observation, Observer};
use crate::router::Router;
use crate::stats::Counters;
use crate::Methods;

/// Code that answers requests; runs on a handler thread, may block.
pub trait Handler: Send + Sync + 'static {
    /// Answers `request`; one dropped without a reply is answered 500.
    fn handle(&self, request: Request);
}

impl<F> Handler for F
where
    F: Fn(Request) + Send + Sync + 'static,
{
    fn handle(&self, request: Request) {
        self(request)
    }
}

/// What a route leads to.
#[derive(Clone)]
pub enum Endpoint {
    /// `route()`: a handler, on a handler thread.
    Handler(Arc<dyn Handler>),
    /// `serve()`: GET and HEAD.
    Files(Arc<FileServer>),
    /// `receive()`: POST, PUT, and DELETE and MOVE.
    Receiver(Arc<Receiver>),
    /// `event()`: a Server-Sent Events stream.
    Events(Arc<EventHub>),
    /// A WebSocket endpoint (the REPL); a request that is not an upgrade
    /// passes it by and goes on to later routes.
    WebSocket(Arc<dyn WsHandler>),
}

pub(crate) struct Shared {
    pub(crate) cors: bool,
    pub(crate) auth: Auth,
    pub(crate) limits: Limits,
    pub(crate) router: RwLock<Router<Endpoint>>,
    pub(crate) routes_frozen: AtomicBool,
    pub(crate) pool: ThreadPool,
    /// Where file ACL and custom authentication decisions run (not behind callbacks).
    pub(crate) decisions: ThreadPool,
    /// What the server saw, for the host to take.
    pub(crate) observer: Arc<Observer>,
    /// How threads that run host code are started (WebSocket sessions too).
    pub(crate) hooks: Arc<dyn WorkerHooks>,
    pub(crate) fs: DeviceFs,
    /// The file server's open-file cache, shared by every `serve()`.
    pub(crate) open_files: OpenFiles,
    /// Whose turn it is at each resumable upload's partial file.
    pub(crate) partial_turns: crate::drivers::upload::PartialTurns,
    pub(crate) file_acl: AclSlot,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) connections: Arc<Semaphore>,
    /// Most connections open at once since memory was last trimmed.
    pub(crate) connections_peak: std::sync::atomic::AtomicUsize,
    /// Bytes and finished requests, one slot per I/O thread ([`Server::stats`]).
    pub(crate) counters: Counters,
    /// The identity every connection's TLS handshake presents, when the port speaks TLS.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsIdentity>,
}

impl Shared {
    /// Connections open now: the places taken.
    pub(crate) fn open_connections(&self) -> usize {
        self.limits.max_connections - self.connections.available_permits()
    }
}

/// A running server. Dropping it closes it.
pub struct Server {
    pub(crate) shared: Arc<Shared>,
    pub(crate) local_addr: SocketAddr,
    /// The I/O threads, each with its own single-threaded runtime (taken by `close`).
    pub(crate) io_threads: Mutex<Vec<thread::JoinHandle<()>>>,
    /// A message once the accepting thread has dropped the listening socket.
    pub(crate) listener_closed: Mutex<std_mpsc::Receiver<()>>,
    /// What the seed's registrations remember ([`crate::api`]).
    pub(crate) seed: crate::api::SeedState,
}

impl Server {
    /// Binds, starts the I/O threads and the handler pool, and returns at once.
    pub fn start(config: Config, hooks: Arc<dyn WorkerHooks>) -> Result<Server> {
        if config.workers == 0 || config.queue == 0 || config.io_threads == 0 {
            return Err(Error::InvalidArgument(
                "workers, queue and io_threads must be at least 1".into(),
            ));
        }
        raise_open_file_limit();
        if !crate::platform::linux_fast_paths() {
            log::info!(target: "uhttpd", "portable file and socket calls in use (no openat2, sendfile)");
        }
        let router = Router::new(config.route_slots)?;
        let fs = DeviceFs::new(&config.root, config.ext.as_deref())?;
        let listener = bind(&config.host, config.port)?;
        let local_addr = listener.local_addr()?;
        let pool = ThreadPool::new("uhttpd-worker", config.workers, config.queue, hooks.clone())?;
        let decisions = ThreadPool::new(
            "uhttpd-decide",
            limits::DECISION_WORKERS,
            config.queue,
            hooks.clone(),
        )?;
        let shared = Arc::new(Shared {
            cors: config.cors,
            auth: config.auth,
            limits: config.limits,
            router: RwLock::new(router),
            routes_frozen: AtomicBool::new(false),
            pool,
            decisions,
            observer: Arc::default(),
            hooks,
            fs,
            open_files: OpenFiles::new(config.limits.open_files, config.limits.open_file_valid),
            partial_turns: Default::default(),
            file_acl: Arc::new(RwLock::new(None)),
            shutdown: watch::channel(false).0,
            connections: Arc::new(Semaphore::new(config.limits.max_connections)),
            connections_peak: std::sync::atomic::AtomicUsize::new(0),
            counters: Counters::new(config.io_threads),
            #[cfg(feature = "tls")]
            tls: config.tls,
        });
        let (io_threads, closed_rx, ready_rx) =
            match spawn_io_threads(listener, &shared, config.io_threads) {
                Ok(started) => started,
                Err(e) => {
                    shared.shutdown.send_replace(true);
                    return Err(e.into());
                }
            };
        let seed = crate::api::SeedState::new(config.events, shared.shutdown.subscribe());
        let server = Server {
            seed,
            shared,
            local_addr,
            io_threads: Mutex::new(io_threads),
            listener_closed: Mutex::new(closed_rx),
        };
        for _ in 0..config.io_threads {
            // An I/O thread that cannot start is an error of `start` (closing on drop).
            ready_rx
                .recv()
                .map_err(|_| Error::Io(io::ErrorKind::Other.into()))??;
        }
        Ok(server)
    }

    /// The bound port (the one the OS picked for `port: 0`).
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// The SHA-256 fingerprint (`AB:CD:…`) of the certificate the port
    /// presents, when it speaks TLS.
    #[cfg(feature = "tls")]
    pub fn tls_fingerprint(&self) -> Option<&str> {
        self.shared.tls.as_ref().map(|tls| tls.fingerprint())
    }

    /// The bound address and port.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// What the server saw since the last call (finished requests, file
    /// changes), waiting up to `wait` for the first. Nothing is recorded
    /// before the first call; at most [`limits::OBSERVATION_QUEUE`] wait, the
    /// oldest dropped first. Blocks: call it from a thread of the host's.
    pub fn observations(&self, wait: Duration) -> Vec<Observation> {
        self.shared.observer.take(wait)
    }

    /// Registers a handler for `pattern` and `methods` (one slot per verb).
    pub fn route(&self, pattern: &str, methods: Methods, handler: Arc<dyn Handler>) -> Result<()> {
        if self.shared.routes_frozen.load(Ordering::SeqCst) {
            return Err(Error::RoutesFrozen);
        }
        self.add_endpoint(
            "route",
            pattern,
            methods,
            methods.count(),
            false,
            Endpoint::Handler(handler),
        )
    }

    /// Registers any endpoint; `label` and `slots` follow the seed's accounting.
    pub fn add_endpoint(
        &self,
        label: &str,
        pattern: &str,
        methods: Methods,
        slots: usize,
        fallthrough: bool,
        endpoint: Endpoint,
    ) -> Result<()> {
        if self.is_closed() {
            return Err(Error::ServerClosed);
        }
        let mut router = self
            .shared
            .router
            .write()
            .unwrap_or_else(|e| e.into_inner());
        router.add(label, pattern, methods, slots, fallthrough, endpoint)
    }

    /// Sets (or with `None` removes) the callback asked before every file access.
    pub fn set_file_acl(&self, acl: Option<Arc<dyn FileAcl>>) {
        *self
            .shared
            .file_acl
            .write()
            .unwrap_or_else(|e| e.into_inner()) = acl;
    }

    /// The device filesystem (root and external storage mount).
    pub fn device_fs(&self) -> &DeviceFs {
        &self.shared.fs
    }

    /// The file ACL as it is now and as later `set_file_acl` calls change it.
    pub fn file_acl(&self) -> AclSlot {
        self.shared.file_acl.clone()
    }

    /// From now on `route()` refuses: the routes were given whole to the constructor.
    pub fn freeze_routes(&self) {
        self.shared.routes_frozen.store(true, Ordering::SeqCst);
    }

    /// The slot accounting, as shown in errors.
    pub fn route_accounting(&self) -> String {
        let router = self.shared.router.read().unwrap_or_else(|e| e.into_inner());
        router.accounting()
    }

    /// [`Server::close`] has begun; registrations then fail with
    /// [`Error::ServerClosed`].
    pub fn is_closed(&self) -> bool {
        *self.shared.shutdown.borrow()
    }

    /// Stops accepting (the port is closed when this returns), drops every
    /// connection and waits a bounded time for running handlers. Idempotent.
    pub fn close(&self) {
        // Held throughout, so a second caller returns only once the first is done.
        let mut io_threads = self.io_threads.lock().unwrap_or_else(|e| e.into_inner());
        if io_threads.is_empty() {
            return;
        }
        self.shared.shutdown.send_replace(true);
        let closed = self
            .listener_closed
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for _ in 0..io_threads.len() {
            if closed.recv_timeout(limits::SHUTDOWN_GRACE).is_err() {
                break;
            }
        }
        if !self.shared.pool.shutdown(limits::SHUTDOWN_GRACE)
            | !self.shared.decisions.shutdown(limits::SHUTDOWN_GRACE)
        {
            log::warn!(target: "uhttpd", "closed with request handlers still running");
        }
        // Bounded like the rest: a thread stuck in a blocking call is left
        // behind with a warning rather than hanging the caller of close().
        let deadline = Instant::now() + 2 * limits::SHUTDOWN_GRACE;
        while io_threads.iter().any(|h| !h.is_finished()) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        for handle in io_threads.drain(..) {
            if handle.is_finished() {
                let _ = handle.join();
            } else {
                log::warn!(target: "uhttpd", "an I/O thread did not stop within the shutdown grace; left running");
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close();
    }
}
