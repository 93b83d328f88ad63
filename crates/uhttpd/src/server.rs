//! The one module that owns sockets: the accept loop, one task per
//! connection, timeouts, and the bridge to handler threads. Protocol decisions
//! come from the sans-IO [`crate::proto`] module.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, RwLock};
use std::thread;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout, timeout_at, Instant};

use crate::acl::{Access, AclSlot, FileAcl};
use crate::auth::{basic_matches, Auth, AuthDecision};
use crate::config::{Config, Limits};
use crate::error::{Error, Result};
use crate::events::EventHub;
use crate::exchange::{self, BodyFailure, BodyMsg, ReplyEvent, Request, RequestInfo};
use crate::files::{FileServer, Outcome};
use crate::fs::{DeviceFs, VirtualPath};
use crate::limits;
use crate::pool::{Job, ThreadPool, WorkerHooks};
use crate::proto::{self, BodyDecoder, BodyKind, Decoded, HeadLimits, RequestHead, Version};
use crate::response::{encode_head, error_reply, Framing, ReplyHead, Status, Wire};
use crate::router::{Match, Router};
use crate::upload::{self, PendingUpload, Receiver};
use crate::ws::{self, WsHandler, WsMessage};
use crate::Methods;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::{Message, Role};
use tokio_tungstenite::WebSocketStream;

/// Code that answers requests; runs on a handler thread, may block.
pub trait Handler: Send + Sync + 'static {
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
    Handler(Arc<dyn Handler>),
    /// `serve()`: GET and HEAD.
    Files(Arc<FileServer>),
    /// `receive()`: POST, PUT and DELETE.
    Receiver(Arc<Receiver>),
    /// `event()`: a Server-Sent Events stream.
    Events(Arc<EventHub>),
    /// A WebSocket endpoint (the REPL); a request that is not an upgrade
    /// passes it by and goes on to later routes.
    WebSocket(Arc<dyn WsHandler>),
}

/// Sent to a client over the connection cap, without reading its request.
const OVERLOADED_REPLY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n";

/// The same for a CORS server (SPEC: every reply, errors included).
const OVERLOADED_REPLY_CORS: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n";

/// Backlog of the listening socket: bursts of connects wait here, not in SYN retries.
const LISTEN_BACKLOG: i32 = 1024;

/// Pause after a failed accept (out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// Read size for request heads; bodies read [`limits::BODY_PIECE_BYTES`] at a time.
const HEAD_READ_BYTES: usize = 4096;

/// Bodies up to this size go out in the same write as the head.
const COALESCE_BODY_BYTES: usize = 16 * 1024;

/// Largest single sendfile(2) call, so one big download cannot starve the
/// other connections of the same I/O thread.
const SENDFILE_CHUNK: u64 = 1 << 20;

/// Queued events gathered into one write to an event client.
const EVENT_BATCH_BYTES: usize = 64 * 1024;

/// Internal status for "the client went away": nothing is answered.
const CLIENT_GONE: u16 = 499;

const CHALLENGE: &[u8] = b"Basic realm=\"uhttpd\", charset=\"UTF-8\"";

struct Shared {
    cors: bool,
    auth: Auth,
    limits: Limits,
    router: RwLock<Router<Endpoint>>,
    routes_frozen: AtomicBool,
    pool: ThreadPool,
    /// Where file ACL and custom authentication decisions run (not behind callbacks).
    decisions: ThreadPool,
    fs: DeviceFs,
    file_acl: AclSlot,
    shutdown: watch::Sender<bool>,
    connections: Arc<Semaphore>,
    /// Most connections open at once since memory was last trimmed.
    connections_peak: std::sync::atomic::AtomicUsize,
}

/// A running server. Dropping it closes it.
pub struct Server {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    /// The I/O threads, each with its own single-threaded runtime (taken by `close`).
    io_threads: Mutex<Vec<thread::JoinHandle<()>>>,
    /// A message once the accepting thread has dropped the listening socket.
    listener_closed: Mutex<std_mpsc::Receiver<()>>,
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
        let router = Router::new(config.route_slots)?;
        let fs = DeviceFs::new(&config.root, config.ext.as_deref())?;
        let listener = bind(&config.host, config.port)?;
        let local_addr = listener.local_addr()?;
        let pool = ThreadPool::new("uhttpd-worker", config.workers, config.queue, hooks.clone())?;
        let decisions = ThreadPool::new(
            "uhttpd-decide",
            limits::DECISION_WORKERS,
            config.queue,
            hooks,
        )?;
        let shared = Arc::new(Shared {
            cors: config.cors,
            auth: config.auth,
            limits: config.limits,
            router: RwLock::new(router),
            routes_frozen: AtomicBool::new(false),
            pool,
            decisions,
            fs,
            file_acl: Arc::new(RwLock::new(None)),
            shutdown: watch::channel(false).0,
            connections: Arc::new(Semaphore::new(config.limits.max_connections)),
            connections_peak: std::sync::atomic::AtomicUsize::new(0),
        });
        let (closed_tx, closed_rx) = std_mpsc::channel();
        let (ready_tx, ready_rx) = std_mpsc::channel::<io::Result<()>>();
        let (senders, mut inboxes): (Vec<_>, Vec<_>) = (0..config.io_threads)
            .map(|_| mpsc::unbounded_channel())
            .unzip();
        let mut accepting = Some((listener, senders));
        let mut io_threads = Vec::with_capacity(config.io_threads);
        for n in 0..config.io_threads {
            // Thread 0 also accepts; every thread serves what it is dealt.
            let accept = accepting.take();
            let inbox = inboxes.remove(0);
            let (thread_shared, closed_tx, ready_tx) =
                (shared.clone(), closed_tx.clone(), ready_tx.clone());
            let spawned = thread::Builder::new()
                .name(format!("uhttpd-io-{n}"))
                .spawn(move || io_thread(accept, inbox, thread_shared, closed_tx, ready_tx));
            match spawned {
                Ok(handle) => io_threads.push(handle),
                Err(e) => {
                    shared.shutdown.send_replace(true);
                    return Err(e.into());
                }
            }
        }
        let seed = crate::api::SeedState::new(config.events, shared.shutdown.subscribe());
        let server = Server {
            seed,
            shared,
            local_addr,
            io_threads: Mutex::new(io_threads),
            listener_closed: Mutex::new(closed_rx),
        };
        // Only the threads hold senders now: one that dies unreported ends the wait.
        drop(ready_tx);
        for _ in 0..config.io_threads {
            // An I/O thread that cannot start is an error of `start` (closing on drop).
            ready_rx
                .recv()
                .map_err(|_| Error::Io(io::ErrorKind::Other.into()))??;
        }
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
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

/// An I/O thread: a single-threaded runtime serving the connections dealt to
/// it (thread 0 also accepts and deals). A connection never moves between
/// threads, so no thread wakes another for it (nginx's worker model).
fn io_thread(
    accept: Option<(std::net::TcpListener, Vec<mpsc::UnboundedSender<Accepted>>)>,
    inbox: mpsc::UnboundedReceiver<Accepted>,
    shared: Arc<Shared>,
    closed: std_mpsc::Sender<()>,
    ready: std_mpsc::Sender<io::Result<()>>,
) {
    crate::pool::block_async_signals();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if let Some((listener, inboxes)) = accept {
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(listener)
        };
        match listener {
            Ok(listener) => {
                runtime.spawn(accept_loop(listener, shared.clone(), closed, inboxes));
            }
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        }
    }
    let _ = ready.send(Ok(()));
    runtime.block_on(serve_inbox(inbox, shared));
    runtime.shutdown_timeout(limits::SHUTDOWN_GRACE);
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close();
    }
}

fn bind(host: &str, port: u16) -> Result<std::net::TcpListener> {
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| Error::InvalidArgument(format!("host {host:?} has no address")))?;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // A restarted server must not wait for the old one's TIME_WAIT sockets.
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // "::" serves IPv4 too where the OS allows it.
        let _ = socket.set_only_v6(false);
    }
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Lifts the soft open-file limit to the hard one: SPEC promises 10,000 connections.
fn raise_open_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Open connections after which, once all have closed again, freed memory is
/// handed back to the OS (the allocator keeps it otherwise).
const TRIM_AFTER_CONNECTIONS: usize = 256;

/// After a burst of connections has gone (the last one closing), gives the
/// allocator's freed memory back to the OS, so RSS returns to its baseline.
fn release_memory_after_burst(shared: &Shared) {
    let open = shared.limits.max_connections - shared.connections.available_permits();
    if open == 0 && shared.connections_peak.swap(0, Ordering::Relaxed) >= TRIM_AFTER_CONNECTIONS {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free heap pages to the OS.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// A connection accepted by the accepting thread, for the I/O thread that will serve it.
struct Accepted {
    stream: std::net::TcpStream,
    remote: SocketAddr,
    permit: OwnedSemaphorePermit,
}

/// Accepts connections and deals them round-robin to the I/O threads
/// (`inboxes`), so every core serves its share. Ends at shutdown, dropping the
/// listening socket and the inboxes' senders.
async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    closed: std_mpsc::Sender<()>,
    inboxes: Vec<mpsc::UnboundedSender<Accepted>>,
) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut next = 0usize;
    loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => match shared.connections.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let Ok(stream) = stream.into_std() else { continue };
                        let _ = inboxes[next % inboxes.len()].send(Accepted { stream, remote, permit });
                        next = next.wrapping_add(1);
                    }
                    Err(_) => {
                        // Never queue past the cap: answer without reading and close.
                        let reply = if shared.cors { OVERLOADED_REPLY_CORS } else { OVERLOADED_REPLY };
                        let _ = stream.try_write(reply);
                        log::warn!(target: "uhttpd", "{remote}: refused, {} connections open", shared.limits.max_connections);
                    }
                },
                Err(e) => {
                    log::warn!(target: "uhttpd", "accept failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    let _ = closed.send(());
}

/// Serves the connections dealt to this I/O thread, until the accepting
/// thread stops dealing.
async fn serve_inbox(mut inbox: mpsc::UnboundedReceiver<Accepted>, shared: Arc<Shared>) {
    while let Some(accepted) = inbox.recv().await {
        if let Ok(stream) = TcpStream::from_std(accepted.stream) {
            tokio::spawn(connection(
                stream,
                accepted.remote,
                shared.clone(),
                accepted.permit,
            ));
        }
    }
}

async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    shared: Arc<Shared>,
    permit: OwnedSemaphorePermit,
) {
    let open = shared.limits.max_connections - shared.connections.available_permits();
    shared.connections_peak.fetch_max(open, Ordering::Relaxed);
    let mut shutdown = shared.shutdown.subscribe();
    let _ = stream.set_nodelay(true);
    let conn = Connection {
        shared: shared.clone(),
        stream,
        remote,
        buf: BytesMut::new(),
        out: BytesMut::new(),
    };
    tokio::select! {
        _ = stopped(&mut shutdown) => {}
        _ = conn.run() => {}
    }
    drop(permit);
    release_memory_after_burst(&shared);
}

/// Whether the connection serves another request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Next {
    KeepAlive,
    Close,
}

enum HeadError {
    Refused(proto::ProtoError),
    TimedOut,
    Gone,
}

/// One request's progress, for framing and the access log.
struct Exchange {
    method: String,
    target: String,
    version: Version,
    head_only: bool,
    keep_alive: bool,
    expect_continue: bool,
    continue_sent: bool,
    decoder: BodyDecoder,
    /// The body turned out malformed, or too slow (408), while a handler read
    /// it: the status its failure should become, not the handler's 500. Such
    /// a body is not drained.
    body_error: Option<u16>,
    status: u16,
    bytes_out: u64,
}

impl Exchange {
    fn new(head: &RequestHead) -> Exchange {
        Exchange {
            method: head.method.clone(),
            target: head.target.clone(),
            version: head.version,
            head_only: head.method == "HEAD",
            keep_alive: head.keep_alive,
            expect_continue: head.expect_continue,
            continue_sent: false,
            decoder: BodyDecoder::new(head.body),
            body_error: None,
            status: 0,
            bytes_out: 0,
        }
    }

    fn wire(&self, cors: bool) -> Wire {
        Wire {
            keep_alive: self.keep_alive,
            http10: self.version == Version::Http10,
            cors,
        }
    }
}

struct Connection {
    shared: Arc<Shared>,
    stream: TcpStream,
    remote: SocketAddr,
    buf: BytesMut,
    out: BytesMut,
}

impl Connection {
    async fn run(mut self) {
        let mut first = true;
        loop {
            let head = match self.read_head(first).await {
                Ok(Some(head)) => head,
                Ok(None) | Err(HeadError::Gone) => return,
                Err(HeadError::Refused(e)) => return self.refuse(e.status, e.reason).await,
                Err(HeadError::TimedOut) => {
                    return self.refuse(408, "request head timed out").await
                }
            };
            first = false;
            let mut x = Exchange::new(&head);
            let next = self.serve(&mut x, head).await;
            log::info!(
                target: "uhttpd",
                "{} \"{} {} {}\" {} {}",
                self.remote,
                x.method,
                x.target,
                if x.version == Version::Http10 { "HTTP/1.0" } else { "HTTP/1.1" },
                x.status,
                x.bytes_out
            );
            if next == Next::Close {
                let _ = self.stream.shutdown().await;
                return;
            }
        }
    }

    /// Reads one request head. `Ok(None)`: the client closed (or idled out) between requests.
    async fn read_head(&mut self, first: bool) -> Result<Option<RequestHead>, HeadError> {
        let limits = self.shared.limits;
        let head_limits = HeadLimits {
            max_head_bytes: limits.max_head_bytes,
            max_uri_bytes: limits.max_uri_bytes,
        };
        if self.buf.is_empty() {
            // Idle: hold no buffer while waiting, so idle connections stay cheap.
            self.buf = BytesMut::new();
            let wait = if first {
                limits.header_timeout
            } else {
                limits.idle_timeout
            };
            match timeout(wait, self.stream.readable()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Ok(None),
            }
        }
        let deadline = Instant::now() + limits.header_timeout;
        loop {
            if !self.buf.is_empty() {
                match proto::parse_head(&self.buf, &head_limits) {
                    Ok(Some((head, used))) => {
                        let _ = self.buf.split_to(used);
                        return Ok(Some(head));
                    }
                    Ok(None) => {}
                    Err(e) => return Err(HeadError::Refused(e)),
                }
            }
            self.buf.reserve(HEAD_READ_BYTES);
            match timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) if self.buf.is_empty() => return Ok(None),
                Ok(Ok(0)) | Ok(Err(_)) => return Err(HeadError::Gone),
                Ok(Ok(_)) => {}
                Err(_) if self.buf.is_empty() => return Ok(None),
                Err(_) => return Err(HeadError::TimedOut),
            }
        }
    }

    /// Answers a request that could not be parsed, and closes.
    async fn refuse(mut self, status: u16, reason: &str) {
        log::info!(target: "uhttpd", "{} refused: {status} {reason}", self.remote);
        let (head, body) = error_reply(status);
        let wire = Wire {
            keep_alive: false,
            http10: false,
            cors: self.shared.cors,
        };
        self.out.clear();
        encode_head(
            &mut self.out,
            &head,
            Framing::Length(body.len() as u64),
            wire,
        );
        self.out.extend_from_slice(&body);
        let out = std::mem::take(&mut self.out);
        let _ = self.write(&out).await;
        let _ = self.stream.shutdown().await;
    }

    async fn serve(&mut self, x: &mut Exchange, head: RequestHead) -> Next {
        if head.method == "OPTIONS" {
            let reply = self.options_reply(&head);
            return self.reply_and_finish(x, reply).await;
        }
        let Some(method) = Methods::from_token(&head.method) else {
            return self.reply_and_finish(x, error_reply(501)).await;
        };
        if let Auth::Basic(expected) = &self.shared.auth {
            if !basic_matches(expected, head.header("authorization")) {
                return self.reply_and_finish(x, denial(401)).await;
            }
        }
        let found = {
            let router = self.shared.router.read().unwrap_or_else(|e| e.into_inner());
            let upgrade = ws::is_upgrade(&head);
            let accept = |route: &crate::router::Route<Endpoint>| {
                upgrade || !matches!(route.target, Endpoint::WebSocket(_))
            };
            match router.find(head.path(), method, accept) {
                Match::Found(route) => Ok(route.target.clone()),
                Match::MethodNotAllowed(allowed) => Err(allowed),
                Match::NotFound => Err(Methods::NONE),
            }
        };
        let endpoint = match found {
            Ok(endpoint) => endpoint,
            Err(allowed) if allowed.is_empty() => {
                return self.reply_and_finish(x, error_reply(404)).await
            }
            Err(allowed) => {
                let (mut reply, body) = error_reply(405);
                let _ = reply.add_header("Allow", allowed.allow_header());
                return self.reply_and_finish(x, (reply, body)).await;
            }
        };
        let info = Arc::new(RequestInfo {
            head,
            remote: self.remote,
            method,
        });
        match endpoint {
            Endpoint::Handler(handler) => self.run_handler(x, info, handler).await,
            Endpoint::Files(files) => match self.authenticate(&info).await {
                Ok(()) => self.serve_files(x, info, files).await,
                Err(code) => self.reply_and_finish(x, denial(code)).await,
            },
            Endpoint::Receiver(receiver) => match self.authenticate(&info).await {
                Ok(()) => self.receive(x, info, receiver).await,
                Err(code) => self.reply_and_finish(x, denial(code)).await,
            },
            Endpoint::WebSocket(handler) => match self.authenticate(&info).await {
                Ok(()) => self.run_websocket(x, info, handler).await,
                Err(code) => self.reply_and_finish(x, denial(code)).await,
            },
            Endpoint::Events(hub) => match self.authenticate(&info).await {
                Ok(()) => self.stream_events(x, &hub).await,
                Err(code) => self.reply_and_finish(x, denial(code)).await,
            },
        }
    }

    /// Upgrades to WebSocket and relays messages between the socket and a
    /// session thread until either side ends.
    async fn run_websocket(
        &mut self,
        x: &mut Exchange,
        info: Arc<RequestInfo>,
        handler: Arc<dyn WsHandler>,
    ) -> Next {
        let compatible = handler.webrepl_compatible();
        let accepted = match ws::handshake(&info.head, compatible) {
            Ok(accepted) => accepted,
            Err(code) => {
                let (mut head, body) = error_reply(code);
                if code == 426 {
                    let _ = head.add_header("Sec-WebSocket-Version", "13");
                }
                // A failed upgrade leaves the client unsure what follows: close.
                x.keep_alive = false;
                return self.reply_and_finish(x, (head, body)).await;
            }
        };
        x.status = 101;
        x.keep_alive = false;
        if self.write(&accepted).await.is_err() {
            return Next::Close;
        }
        let leftover = std::mem::take(&mut self.buf).to_vec();
        let mut socket = WebSocketStream::from_partially_read(
            &mut self.stream,
            leftover,
            Role::Server,
            Some(ws::config(compatible)),
        )
        .await;
        let (session, mut bridge) = ws::session(info);
        let spawned = std::thread::Builder::new()
            .name("uhttpd-ws".into())
            .spawn(move || {
                crate::pool::block_async_signals();
                handler.session(session)
            });
        if spawned.is_err() {
            return Next::Close;
        }
        // A message read from the client waits here until the session thread
        // has room: reading more would buffer without bound, and waiting in
        // place would stop the echo coming back (the session thread may be
        // blocked sending it), a deadlock.
        let mut unforwarded: Option<WsMessage> = None;
        loop {
            tokio::select! {
                incoming = socket.next(), if unforwarded.is_none() => {
                    unforwarded = match incoming {
                        Some(Ok(Message::Text(text))) => Some(WsMessage::Text(text.to_string())),
                        Some(Ok(Message::Binary(data))) => Some(WsMessage::Binary(data)),
                        // Pings are answered and closes completed by tungstenite.
                        Some(Ok(_)) => None,
                        Some(Err(_)) | None => break,
                    };
                }
                room = bridge.incoming.reserve(), if unforwarded.is_some() => match (room, unforwarded.take()) {
                    (Ok(permit), Some(message)) => permit.send(message),
                    _ => break,
                },
                outgoing = bridge.outgoing.recv() => {
                    let sent = match outgoing {
                        Some(WsMessage::Text(text)) => socket.send(Message::text(text)).await,
                        Some(WsMessage::Binary(data)) => socket.send(Message::binary(data)).await,
                        None => {
                            let _ = socket.close(None).await;
                            break;
                        }
                    };
                    if sent.is_err() {
                        break;
                    }
                }
            }
        }
        Next::Close
    }

    /// Holds an EventSource client: its queued events, heartbeats when idle,
    /// and its place freed the moment it goes away.
    async fn stream_events(&mut self, x: &mut Exchange, hub: &Arc<EventHub>) -> Next {
        let Some(mut subscription) = hub.subscribe_within(limits::EVENT_PLACE_WAIT).await else {
            let (mut head, body) = error_reply(503);
            let _ = head.add_header("Retry-After", "1");
            return self.reply_and_finish(x, (head, body)).await;
        };
        let mut head = ReplyHead {
            content_type: Some(Bytes::from_static(b"text/event-stream")),
            ..ReplyHead::default()
        };
        let _ = head.add_header("Cache-Control", "no-cache");
        let _ = head.add_header("X-Accel-Buffering", "no");
        x.keep_alive = false;
        if self
            .write_head(x, &head, Framing::UntilClose)
            .await
            .is_err()
            || x.head_only
        {
            return Next::Close;
        }
        // Unblocks clients that wait for the first bytes before firing `open`.
        if self.write(b": connected\n\n").await.is_err() {
            return Next::Close;
        }
        let heartbeat = self.shared.limits.event_heartbeat;
        let mut probe = [0u8; 64];
        loop {
            tokio::select! {
                event = subscription.recv() => match event {
                    Some(event) => {
                        // A burst goes out in one write: whatever is queued now.
                        self.out.clear();
                        self.out.extend_from_slice(&event);
                        while self.out.len() < EVENT_BATCH_BYTES {
                            match subscription.try_recv() {
                                Some(more) => self.out.extend_from_slice(&more),
                                None => break,
                            }
                        }
                        if self.write_out(x).await.is_err() {
                            return Next::Close;
                        }
                    }
                    None => return Next::Close,
                },
                read = self.stream.read(&mut probe) => {
                    // EventSource never sends; EOF or an error means it left.
                    if matches!(read, Ok(0) | Err(_)) {
                        return Next::Close;
                    }
                }
                _ = tokio::time::sleep(heartbeat) => {
                    if self.write(b":\n\n").await.is_err() {
                        return Next::Close;
                    }
                }
            }
        }
    }

    /// AUTH_CUSTOM for endpoints that are not handlers (those check it on their thread).
    async fn authenticate(&self, info: &Arc<RequestInfo>) -> Result<(), u16> {
        let Auth::Custom(authenticator) = &self.shared.auth else {
            return Ok(());
        };
        let (authenticator, info) = (authenticator.clone(), info.clone());
        match decide(&self.shared, move || authenticator.authenticate(&info)).await {
            Some(AuthDecision::Allow) => Ok(()),
            Some(AuthDecision::Deny(code)) => Err(code),
            None => Err(503),
        }
    }

    async fn serve_files(
        &mut self,
        x: &mut Exchange,
        info: Arc<RequestInfo>,
        files: Arc<FileServer>,
    ) -> Next {
        let shared = self.shared.clone();
        let has_acl = shared
            .file_acl
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        let outcome = if has_acl {
            // The ACL callback runs on the decision pool; wait for it off the I/O thread.
            tokio::task::spawn_blocking(move || {
                files.decide(&shared.fs, &info.head, &|vpath, access| {
                    file_acl(&shared, vpath, access)
                })
            })
            .await
            .unwrap_or(Outcome::Refused(500))
        } else {
            // A few stat/open calls on cached metadata: cheaper here than a
            // hop to the blocking pool and back (nginx decides inline too).
            files.decide(&shared.fs, &info.head, &|_, _| Ok(()))
        };
        let reply = match outcome {
            Outcome::File(file) => {
                let mut head = ReplyHead::new(
                    Status::from_code(if file.partial { 206 } else { 200 }).unwrap_or_default(),
                );
                head.content_type = Some(Bytes::from(file.mime.clone()));
                let _ = head.add_header("Last-Modified", file.validators.last_modified.clone());
                let _ = head.add_header("ETag", file.validators.etag.clone());
                let _ = head.add_header("Accept-Ranges", "bytes");
                if file.partial {
                    let end = file.start + file.len - 1;
                    let _ = head.add_header(
                        "Content-Range",
                        format!("bytes {}-{end}/{}", file.start, file.total),
                    );
                }
                if file.gzip {
                    let _ = head.add_header("Content-Encoding", "gzip");
                }
                if file.vary {
                    let _ = head.add_header("Vary", "Accept-Encoding");
                }
                let sent = if file.len <= COALESCE_BODY_BYTES as u64 {
                    // Small files: read them and send head and body in one write.
                    match read_range(&file.file, file.start, file.len) {
                        Ok(body) => self.write_full(x, &head, &body).await,
                        Err(_) => return Next::Close,
                    }
                } else {
                    match self.write_head(x, &head, Framing::Length(file.len)).await {
                        Ok(()) if !x.head_only => {
                            self.send_file(x, &file.file, file.start, file.len).await
                        }
                        other => other,
                    }
                };
                if sent.is_err() {
                    return Next::Close;
                }
                return self.finish(x).await;
            }
            Outcome::NotModified(validators) => {
                let mut head = ReplyHead::new(Status::from_code(304).unwrap_or_default());
                let _ = head.add_header("ETag", validators.etag);
                let _ = head.add_header("Last-Modified", validators.last_modified);
                (head, Bytes::new())
            }
            Outcome::Listing(document) => {
                let head = ReplyHead {
                    content_type: Some(Bytes::from_static(b"application/json")),
                    ..ReplyHead::default()
                };
                (head, document)
            }
            Outcome::Redirect(location) => {
                let (mut head, body) = error_reply(301);
                let _ = head.add_header("Location", location);
                (head, body)
            }
            Outcome::RangeNotSatisfiable(total) => {
                let (mut head, body) = error_reply(416);
                let _ = head.add_header("Content-Range", format!("bytes */{total}"));
                (head, body)
            }
            Outcome::Refused(code) => error_reply(code),
        };
        self.reply_and_finish(x, reply).await
    }

    /// Streams `len` bytes of `file` from `start` with sendfile(2): the kernel
    /// copies page cache to socket, the process never touches the bytes.
    async fn send_file(
        &mut self,
        x: &mut Exchange,
        file: &std::fs::File,
        start: u64,
        len: u64,
    ) -> io::Result<()> {
        let (socket_fd, file_fd) = (self.stream.as_raw_fd(), file.as_raw_fd());
        let end = start + len;
        let mut offset = libc::off_t::try_from(start).map_err(|_| io::ErrorKind::InvalidInput)?;
        while (offset as u64) < end {
            let count = (end - offset as u64).min(SENDFILE_CHUNK) as usize;
            let stream = &self.stream;
            let sent = while_progressing(socket_fd, self.shared.limits.io_timeout, async {
                loop {
                    stream.writable().await?;
                    let result = stream.try_io(Interest::WRITABLE, || {
                        // SAFETY: both descriptors are open for the call; offset is ours.
                        let n = unsafe { libc::sendfile(socket_fd, file_fd, &mut offset, count) };
                        if n < 0 {
                            Err(io::Error::last_os_error())
                        } else {
                            Ok(n as u64)
                        }
                    });
                    match result {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        other => return other,
                    }
                }
            })
            .await?;
            if sent == 0 {
                // The file shrank under us: the promised length cannot be kept.
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            x.bytes_out += sent;
        }
        Ok(())
    }

    async fn receive(
        &mut self,
        x: &mut Exchange,
        info: Arc<RequestInfo>,
        receiver: Arc<Receiver>,
    ) -> Next {
        let target = match receiver.target(&self.shared.fs, &info.head) {
            Ok(target) => target,
            Err(code) => return self.reply_and_finish(x, error_reply(code)).await,
        };
        let shared = self.shared.clone();
        if info.method == Methods::DELETE {
            let force = crate::query::first(info.query(), b"force")
                .is_some_and(|v| v == crate::query::QueryValue::Bytes(b"1".to_vec()));
            let code = blocking(move || {
                file_acl(&shared, &target, Access::Write)?;
                let inside = |path: &str| acl_check(&shared, path.to_string(), Access::Write);
                upload::delete(&shared.fs, &target, force, &inside)
            })
            .await;
            return self.reply_and_finish(x, status_reply(code)).await;
        }
        if target.is_dir() {
            let code = blocking(move || {
                file_acl(&shared, &target, Access::Write)?;
                upload::make_dir(&shared.fs, &target)
            })
            .await;
            return self.reply_and_finish(x, status_reply(code)).await;
        }
        if let (Some(max), BodyKind::Length(n)) =
            (self.shared.limits.max_upload_bytes, info.head.body)
        {
            if n > max {
                return self.reply_and_finish(x, error_reply(413)).await;
            }
        }
        let pending = blocking(move || {
            file_acl(&shared, &target, Access::Write)?;
            PendingUpload::begin(&shared.fs, &target)
        })
        .await;
        let code = match pending {
            Ok(pending) => self.stream_upload(x, pending).await,
            Err(code) => Err(code),
        };
        match code {
            Ok(code) => self.reply_and_finish(x, status_reply(Ok(code))).await,
            Err(CLIENT_GONE) => Next::Close,
            Err(code) if code == 507 => {
                log::warn!(target: "uhttpd", "upload to {} failed: the disk is full", x.target);
                x.keep_alive = false;
                self.reply_and_finish(x, error_reply(code)).await
            }
            // The body was not read to its end: answer, then close.
            Err(code) => {
                x.keep_alive = false;
                self.reply_and_finish(x, error_reply(code)).await
            }
        }
    }

    /// Copies the body into `pending` through a bounded channel to a disk
    /// writer, so socket reads and disk writes overlap in bounded memory.
    async fn stream_upload(
        &mut self,
        x: &mut Exchange,
        pending: PendingUpload,
    ) -> Result<u16, u16> {
        self.send_continue(x).await.map_err(|_| CLIENT_GONE)?;
        let (tx, mut rx) = mpsc::channel::<Option<Bytes>>(limits::BODY_CHANNEL_PIECES);
        let writer = tokio::task::spawn_blocking(move || {
            let mut pending = pending;
            while let Some(piece) = rx.blocking_recv() {
                match piece {
                    Some(data) => pending.write(&data)?,
                    None => return pending.commit(),
                }
            }
            // The sender went away before the end: dropping removes the temp file.
            Err(CLIENT_GONE)
        });
        let max = self.shared.limits.max_upload_bytes.unwrap_or(u64::MAX);
        let mut received = 0u64;
        let fed = loop {
            match x.decoder.decode(&mut self.buf, limits::BODY_PIECE_BYTES) {
                Ok(Decoded::Data(piece)) => {
                    received += piece.len() as u64;
                    if received > max {
                        break Err(413);
                    }
                    if tx.send(Some(piece)).await.is_err() {
                        break Ok(()); // the writer failed; its status follows
                    }
                }
                Ok(Decoded::Done) => {
                    let _ = tx.send(None).await;
                    break Ok(());
                }
                Ok(Decoded::NeedMore) => match self.fill().await {
                    Ok(n) if n > 0 => {}
                    Ok(_) | Err(_) => break Err(CLIENT_GONE),
                },
                Err(e) => break Err(e.status),
            }
        };
        drop(tx);
        let written = writer.await.unwrap_or(Err(500));
        match fed {
            Err(code) => Err(code),
            Ok(()) => written,
        }
    }

    /// OPTIONS: the verbs routed for the path (CORS preflights included); never challenged.
    fn options_reply(&self, head: &RequestHead) -> (ReplyHead, Bytes) {
        let allowed = {
            let router = self.shared.router.read().unwrap_or_else(|e| e.into_inner());
            if head.target == "*" {
                router.all_methods()
            } else {
                router.allowed(head.path())
            }
        };
        if allowed.is_empty() && head.target != "*" {
            return error_reply(404);
        }
        let mut reply = ReplyHead::new(Status::from_code(204).unwrap_or_default());
        let allow = allowed.allow_header();
        let _ = reply.add_header("Allow", allow.clone());
        if self.shared.cors {
            let _ = reply.add_header("Access-Control-Allow-Methods", allow);
            if let Some(asked) = head.header("access-control-request-headers") {
                let _ = reply.add_header("Access-Control-Allow-Headers", asked.to_vec());
            }
            let _ = reply.add_header("Access-Control-Max-Age", "86400");
        }
        (reply, Bytes::new())
    }

    async fn reply_and_finish(
        &mut self,
        x: &mut Exchange,
        (head, body): (ReplyHead, Bytes),
    ) -> Next {
        if self.write_full(x, &head, &body).await.is_err() {
            return Next::Close;
        }
        self.finish(x).await
    }

    /// After the reply: skip what is left of the body if that is cheap, else close.
    async fn finish(&mut self, x: &mut Exchange) -> Next {
        if !x.decoder.is_done() && (x.body_error.is_some() || !self.drain_body(x).await) {
            x.keep_alive = false;
        }
        if x.keep_alive && !*self.shared.shutdown.borrow() {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }

    async fn drain_body(&mut self, x: &mut Exchange) -> bool {
        if x.expect_continue && !x.continue_sent {
            // The client waits for our go-ahead; without it the body may never come.
            return false;
        }
        let mut budget = self.shared.limits.max_drain_bytes;
        loop {
            match x.decoder.decode(&mut self.buf, usize::MAX) {
                Ok(Decoded::Data(piece)) => match budget.checked_sub(piece.len() as u64) {
                    Some(left) => budget = left,
                    None => return false,
                },
                Ok(Decoded::Done) => return true,
                Ok(Decoded::NeedMore) => {
                    if !matches!(self.fill().await, Ok(n) if n > 0) {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
    }

    /// The go-ahead an `Expect: 100-continue` client waits for, once.
    async fn send_continue(&mut self, x: &mut Exchange) -> io::Result<()> {
        if x.expect_continue && !x.continue_sent {
            x.continue_sent = true;
            self.write(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        Ok(())
    }

    /// Reads more bytes into `buf`, within the stall timeout.
    async fn fill(&mut self) -> io::Result<usize> {
        match timeout(
            self.shared.limits.io_timeout,
            read_more(&mut self.stream, &mut self.buf),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    /// Writes all of `data`. The stall timeout bounds time without progress,
    /// not the transfer: a slow but steady client is served to the end.
    async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let (fd, limit) = (self.stream.as_raw_fd(), self.shared.limits.io_timeout);
        let mut rest = data;
        while !rest.is_empty() {
            let written = while_progressing(fd, limit, self.stream.write(rest)).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            rest = &rest[written..];
        }
        Ok(())
    }

    async fn write_out(&mut self, x: &mut Exchange) -> io::Result<()> {
        let out = std::mem::take(&mut self.out);
        x.bytes_out += out.len() as u64;
        let result = self.write(&out).await;
        self.out = out;
        self.out.clear();
        result
    }

    /// Decides, before a head goes out, whether the connection can survive
    /// this request, so the head can say `Connection: close` when it cannot.
    fn settle_keep_alive(&self, x: &mut Exchange) {
        if x.decoder.is_done() {
            return;
        }
        let waiting_for_go_ahead = x.expect_continue && !x.continue_sent;
        let too_much_left = x
            .decoder
            .remaining()
            .is_some_and(|left| left > self.shared.limits.max_drain_bytes);
        if waiting_for_go_ahead || too_much_left {
            x.keep_alive = false;
        }
    }

    async fn write_head(
        &mut self,
        x: &mut Exchange,
        head: &ReplyHead,
        framing: Framing,
    ) -> io::Result<()> {
        self.settle_keep_alive(x);
        x.status = head.status.code;
        self.out.clear();
        encode_head(&mut self.out, head, framing, x.wire(self.shared.cors));
        self.write_out(x).await
    }

    async fn write_full(
        &mut self,
        x: &mut Exchange,
        head: &ReplyHead,
        body: &[u8],
    ) -> io::Result<()> {
        self.settle_keep_alive(x);
        x.status = head.status.code;
        self.out.clear();
        encode_head(
            &mut self.out,
            head,
            Framing::Length(body.len() as u64),
            x.wire(self.shared.cors),
        );
        let send_body = !x.head_only && !head.status.forbids_body();
        if send_body && body.len() <= COALESCE_BODY_BYTES {
            self.out.extend_from_slice(body);
        }
        self.write_out(x).await?;
        if send_body && body.len() > COALESCE_BODY_BYTES {
            x.bytes_out += body.len() as u64;
            self.write(body).await?;
        }
        Ok(())
    }

    async fn run_handler(
        &mut self,
        x: &mut Exchange,
        info: Arc<RequestInfo>,
        handler: Arc<dyn Handler>,
    ) -> Next {
        let has_body = !x.decoder.is_done();
        let (request, ends) = exchange::channel(info);
        let mut body_tx = Some(ends.body_tx);
        let mut gathered = BytesMut::new();
        // The first piece of a body sent without waiting for `100 Continue` is
        // read before the callback is queued: a client trickling a small body
        // then holds its connection, never a handler thread.
        if has_body && !x.expect_continue {
            let deadline = Instant::now() + self.shared.limits.body_timeout;
            let first = loop {
                if let Some(msg) = self.collect_piece(x, &mut gathered) {
                    break msg;
                }
                let stall = Instant::now() + self.shared.limits.io_timeout;
                let until = deadline.min(stall);
                match timeout_at(until, read_more(&mut self.stream, &mut self.buf)).await {
                    Ok(Ok(n)) if n > 0 => {}
                    Ok(_) => return Next::Close,
                    Err(_) => {
                        x.keep_alive = false;
                        x.body_error = Some(408);
                        break BodyMsg::Failed(BodyFailure::TimedOut);
                    }
                }
            };
            let whole = matches!(first, BodyMsg::Data(_)) && x.decoder.is_done();
            let ended = !matches!(first, BodyMsg::Data(_)) || whole;
            if let Some(tx) = &body_tx {
                // The channel is new and holds more than two messages.
                let _ = tx.try_send(first);
                if whole {
                    let _ = tx.try_send(BodyMsg::End);
                }
            }
            if ended {
                body_tx = None;
            }
        }
        let authenticator = match &self.shared.auth {
            Auth::Custom(authenticator) => Some(authenticator.clone()),
            _ => None,
        };
        let job: Job = Box::new(move || {
            if let Some(authenticator) = authenticator {
                if let AuthDecision::Deny(code) = authenticator.authenticate(request.info()) {
                    return request.deny(code);
                }
            }
            handler.handle(request);
        });
        if self.shared.pool.execute(job).is_err() {
            log::warn!(target: "uhttpd", "all request handlers busy; answering 503");
            let (mut reply, body) = error_reply(503);
            let _ = reply.add_header("Retry-After", "1");
            return self.reply_and_finish(x, (reply, body)).await;
        }
        let body_wanted = ends.body_wanted;
        let mut reply_rx = ends.reply_rx;
        let mut wanted = false;
        let mut piece: Option<BodyMsg> = None;
        // When the piece being gathered must be complete (see BODY_PIECE_TIMEOUT).
        let mut piece_deadline: Option<Instant> = None;
        let mut streaming: Option<Framing> = None;
        loop {
            let need_read = wanted && piece.is_none() && body_tx.is_some();
            let deadline = match (need_read, piece_deadline) {
                (false, _) => None,
                (true, Some(at)) => Some(at),
                (true, None) => Some(Instant::now() + self.shared.limits.body_timeout),
            };
            piece_deadline = deadline;
            // Each read is also bounded by the stall timeout (no byte at all).
            let stall = Instant::now() + self.shared.limits.io_timeout;
            let read_until = deadline.map_or(stall, |at| at.min(stall));
            tokio::select! {
                event = reply_rx.recv() => {
                    let event = match event {
                        Some(event) => event,
                        None => match streaming {
                            None => {
                                log::error!(target: "uhttpd", "handler for {} returned without a reply; answering 500", x.target);
                                ReplyEvent::Deny(500)
                            }
                            Some(Framing::Chunked) => ReplyEvent::ChunkEnd,
                            Some(_) => return Next::Close,
                        },
                    };
                    match self.relay(x, event, &mut streaming).await {
                        Ok(true) => return self.finish(x).await,
                        Ok(false) => {}
                        Err(_) => return Next::Close,
                    }
                }
                _ = body_wanted.notified(), if !wanted => {
                    wanted = true;
                    if self.send_continue(x).await.is_err() {
                        return Next::Close;
                    }
                    if body_tx.is_some() {
                        piece = self.collect_piece(x, &mut gathered);
                    }
                }
                permit = reserve(&body_tx), if piece.is_some() => match permit {
                    Some(permit) => {
                        let msg = piece.take().unwrap_or(BodyMsg::End);
                        let last = !matches!(msg, BodyMsg::Data(_));
                        permit.send(msg);
                        piece_deadline = None;
                        if last {
                            body_tx = None;
                        } else {
                            piece = self.collect_piece(x, &mut gathered);
                        }
                    }
                    None => {
                        // The handler dropped the request: nobody reads the body.
                        body_tx = None;
                        piece = None;
                    }
                },
                read = timeout_at(read_until, read_more(&mut self.stream, &mut self.buf)), if need_read => {
                    piece = match read {
                        Ok(Ok(n)) if n > 0 => self.collect_piece(x, &mut gathered),
                        Ok(_) => Some(BodyMsg::Failed(BodyFailure::ClientGone)),
                        Err(_) => {
                            x.body_error = Some(408);
                            Some(BodyMsg::Failed(BodyFailure::TimedOut))
                        }
                    };
                    if matches!(piece, Some(BodyMsg::Failed(_))) {
                        x.keep_alive = false;
                    }
                }
            }
        }
    }

    /// Decodes buffered body bytes into `gathered` until it holds a whole
    /// piece (`BODY_PIECE_BYTES`, or the rest of the body): `None` while more
    /// must be read. A callback is handed whole pieces only, so each wait of
    /// its reads is bounded by the body timeout, however the client trickles.
    fn collect_piece(&mut self, x: &mut Exchange, gathered: &mut BytesMut) -> Option<BodyMsg> {
        loop {
            let room = limits::BODY_PIECE_BYTES - gathered.len();
            match x.decoder.decode(&mut self.buf, room) {
                Ok(Decoded::Data(data)) if gathered.is_empty() && data.len() == room => {
                    return Some(BodyMsg::Data(data));
                }
                Ok(Decoded::Data(data)) => {
                    gathered.extend_from_slice(&data);
                    if gathered.len() == limits::BODY_PIECE_BYTES {
                        return Some(BodyMsg::Data(gathered.split().freeze()));
                    }
                }
                Ok(Decoded::Done) if gathered.is_empty() => return Some(BodyMsg::End),
                // The last piece; the end follows on the next call.
                Ok(Decoded::Done) => return Some(BodyMsg::Data(gathered.split().freeze())),
                Ok(Decoded::NeedMore) => return None,
                Err(e) => {
                    x.keep_alive = false;
                    x.body_error = Some(e.status);
                    return Some(BodyMsg::Failed(BodyFailure::Malformed(e)));
                }
            }
        }
    }

    /// Writes one reply event. `Ok(true)` when the reply is complete.
    async fn relay(
        &mut self,
        x: &mut Exchange,
        event: ReplyEvent,
        streaming: &mut Option<Framing>,
    ) -> io::Result<bool> {
        match event {
            ReplyEvent::Full(head, body) => {
                self.write_full(x, &head, &body).await?;
                Ok(true)
            }
            ReplyEvent::Deny(code) => {
                // A handler that failed on a malformed body: the client's fault.
                let code = match (code, x.body_error) {
                    (500, Some(client_error)) => client_error,
                    _ => code,
                };
                let (head, body) = denial(code);
                self.write_full(x, &head, &body).await?;
                Ok(true)
            }
            ReplyEvent::Abort => Err(io::ErrorKind::ConnectionAborted.into()),
            ReplyEvent::ChunkStart(head) => {
                let framing = if x.version == Version::Http10 {
                    x.keep_alive = false;
                    Framing::UntilClose
                } else {
                    Framing::Chunked
                };
                *streaming = Some(framing);
                self.write_head(x, &head, framing).await?;
                Ok(false)
            }
            ReplyEvent::Chunk(data) => {
                if !x.head_only {
                    self.out.clear();
                    if *streaming == Some(Framing::Chunked) {
                        proto::encode_chunk(&data, &mut self.out);
                    } else {
                        self.out.extend_from_slice(&data);
                    }
                    self.write_out(x).await?;
                }
                Ok(false)
            }
            ReplyEvent::ChunkEnd => {
                if !x.head_only && *streaming == Some(Framing::Chunked) {
                    x.bytes_out += proto::LAST_CHUNK.len() as u64;
                    self.write(proto::LAST_CHUNK).await?;
                }
                Ok(true)
            }
            ReplyEvent::Raw(data) => {
                *streaming = Some(Framing::UntilClose);
                x.keep_alive = false;
                if x.status == 0 {
                    x.status = raw_status(&data);
                }
                x.bytes_out += data.len() as u64;
                self.write(&data).await?;
                Ok(false)
            }
        }
    }
}

/// Runs a decision `f` (custom authentication) on the decision pool (where
/// Python may run) and waits for it; `None` when the pool is saturated or closing.
async fn decide<T: Send + 'static>(
    shared: &Shared,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    shared
        .decisions
        .execute(Box::new(move || {
            let _ = tx.send(f());
        }))
        .ok()?;
    rx.await.ok()
}

/// Asks the file ACL, from a blocking thread, on the decision pool.
fn file_acl(shared: &Shared, vpath: &VirtualPath, access: Access) -> Result<(), u16> {
    acl_check(shared, vpath.to_string(), access)
}

/// [`file_acl`] for a device path already written out (directories end with `/`).
fn acl_check(shared: &Shared, path: String, access: Access) -> Result<(), u16> {
    let acl = shared
        .file_acl
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let Some(acl) = acl else { return Ok(()) };
    let (tx, rx) = std_mpsc::sync_channel(1);
    shared
        .decisions
        .execute(Box::new(move || {
            let _ = tx.send(acl.check(&path));
        }))
        .map_err(|_| 503u16)?;
    rx.recv().map_err(|_| 503u16)?.permits(access)
}

/// Runs disk work on the blocking pool; a panic there is a 500.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, u16> + Send + 'static,
) -> Result<T, u16> {
    tokio::task::spawn_blocking(f).await.unwrap_or(Err(500))
}

/// The reply for a status from the file features (`write_full` leaves out
/// the body of a 204 like that of any bodiless status).
fn status_reply(code: Result<u16, u16>) -> (ReplyHead, Bytes) {
    error_reply(code.unwrap_or_else(|e| e))
}

/// A refusal reply; a 401 carries the challenge RFC 9110 §11.6.1 requires.
fn denial(code: u16) -> (ReplyHead, Bytes) {
    let (mut head, body) = error_reply(code);
    if code == 401 {
        let _ = head.add_header("WWW-Authenticate", CHALLENGE);
    }
    (head, body)
}

/// The status code of a raw reply, for the access log (0 if it has none).
fn raw_status(data: &[u8]) -> u16 {
    let code = data.get(9..12).filter(|_| data.starts_with(b"HTTP/"));
    code.and_then(|c| std::str::from_utf8(c).ok()?.parse().ok())
        .unwrap_or(0)
}

async fn reserve(tx: &Option<mpsc::Sender<BodyMsg>>) -> Option<mpsc::OwnedPermit<BodyMsg>> {
    match tx {
        Some(tx) => tx.clone().reserve_owned().await.ok(),
        None => std::future::pending().await,
    }
}

/// `len` bytes of `file` from `start` (a small file sent with its head).
fn read_range(file: &std::fs::File, start: u64, len: u64) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut body = vec![0; usize::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?];
    file.read_exact_at(&mut body, start)?;
    Ok(body)
}

/// Awaits `operation` (a write) as long as the client keeps taking data: each
/// `limit` without the socket's unsent queue shrinking is a stall. The kernel's
/// send buffer can hold megabytes, so a blocked write alone says nothing about
/// a client that reads slowly but steadily.
async fn while_progressing<T>(
    fd: std::os::fd::RawFd,
    limit: Duration,
    operation: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    tokio::pin!(operation);
    // Most writes complete at once: only a write that waits needs the baseline.
    if let Some(result) = operation.as_mut().now_or_never() {
        return result;
    }
    let mut unsent = unsent_bytes(fd);
    loop {
        match timeout(limit, &mut operation).await {
            Ok(result) => return result,
            Err(_) => {
                let now = unsent_bytes(fd);
                if now >= unsent {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                unsent = now;
            }
        }
    }
}

/// Bytes written to the socket that the client has not taken yet.
fn unsent_bytes(fd: std::os::fd::RawFd) -> usize {
    let mut queued: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ for sockets) writes one int through the pointer.
    let ok = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut queued) } == 0;
    if ok {
        usize::try_from(queued).unwrap_or(0)
    } else {
        usize::MAX
    }
}

/// Resolves once the server is closing.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn read_more(stream: &mut TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    buf.reserve(limits::BODY_PIECE_BYTES);
    stream.read_buf(buf).await
}
