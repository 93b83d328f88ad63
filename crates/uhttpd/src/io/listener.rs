//! The listening socket and the I/O threads: accepts connections, deals them
//! round-robin to single-threaded runtimes (one per core, nginx's worker
//! model), and starts each connection's task.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::{mpsc as std_mpsc, Arc};
use std::thread;
use std::time::Duration;

use bytes::BytesMut;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit};
#[cfg(feature = "tls")]
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::http::reply::{self};
use crate::io::conn::Connection;
#[cfg(feature = "tls")]
use crate::io::stream::Opened;
use crate::io::stream::Stream;
use crate::limits;
use crate::server::Shared;
use crate::stats::Traffic;

/// Backlog of the listening socket: bursts of connects wait here, not in SYN retries.
const LISTEN_BACKLOG: i32 = 1024;

/// Pause after a failed accept (out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// An I/O thread: a single-threaded runtime serving the connections dealt to
/// it (thread 0 also accepts and deals). A connection never moves between
/// threads, so no thread wakes another for it (nginx's worker model), and
/// the thread counts its connections' bytes into `traffic`, its own slot.
fn io_thread(
    accept: Option<(std::net::TcpListener, Vec<mpsc::UnboundedSender<Accepted>>)>,
    inbox: mpsc::UnboundedReceiver<Accepted>,
    shared: Arc<Shared>,
    traffic: Arc<Traffic>,
    closed: std_mpsc::Sender<()>,
    ready: std_mpsc::Sender<io::Result<()>>,
) {
    crate::host::pool::block_async_signals();
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
                runtime.spawn(accept_loop(
                    listener,
                    shared.clone(),
                    traffic.clone(),
                    closed,
                    inboxes,
                ));
            }
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        }
    }
    let _ = ready.send(Ok(()));
    runtime.block_on(serve_inbox(inbox, shared, traffic));
    runtime.shutdown_timeout(limits::SHUTDOWN_GRACE);
}

pub(crate) fn bind(host: &str, port: u16) -> Result<std::net::TcpListener> {
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
pub(crate) fn raise_open_file_limit() {
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
    if shared.open_connections() == 0
        && shared.connections_peak.swap(0, Ordering::Relaxed) >= TRIM_AFTER_CONNECTIONS
    {
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
    traffic: Arc<Traffic>,
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
                        let reply = if shared.cors { reply::OVERLOADED_REPLY_CORS } else { reply::OVERLOADED_REPLY };
                        if let Ok(written) = stream.try_write(reply) {
                            traffic.wrote(written as u64);
                        }
                        traffic.finished(503);
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
async fn serve_inbox(
    mut inbox: mpsc::UnboundedReceiver<Accepted>,
    shared: Arc<Shared>,
    traffic: Arc<Traffic>,
) {
    while let Some(accepted) = inbox.recv().await {
        if let Ok(stream) = TcpStream::from_std(accepted.stream) {
            tokio::spawn(connection(
                stream,
                traffic.clone(),
                accepted.remote,
                shared.clone(),
                accepted.permit,
            ));
        }
    }
}

async fn connection(
    stream: TcpStream,
    traffic: Arc<Traffic>,
    remote: SocketAddr,
    shared: Arc<Shared>,
    permit: OwnedSemaphorePermit,
) {
    shared
        .connections_peak
        .fetch_max(shared.open_connections(), Ordering::Relaxed);
    let mut shutdown = shared.shutdown.subscribe();
    let _ = stream.set_nodelay(true);
    let conn = Connection {
        shared: shared.clone(),
        stream: Stream::plain_tcp(stream, traffic),
        remote,
        buf: BytesMut::new(),
        out: BytesMut::new(),
        idle: Box::pin(tokio::time::sleep(shared.limits.header_timeout)),
    };
    tokio::select! {
        _ = stopped(&mut shutdown) => {}
        _ = serve(conn) => {}
    }
    drop(permit);
    release_memory_after_burst(&shared);
}

/// Serves a connection: on a TLS port, once its handshake is done.
async fn serve(conn: Connection) {
    #[cfg(feature = "tls")]
    let Some(conn) = secure(conn).await
    else {
        return;
    };
    conn.run().await
}

/// On a TLS port, the connection once its handshake is done (`None`: it
/// failed, or plain HTTP came and was told to use `https://`).
#[cfg(feature = "tls")]
async fn secure(mut conn: Connection) -> Option<Connection> {
    let Some(identity) = conn.shared.tls.clone() else {
        return Some(conn);
    };
    let deadline = Instant::now() + conn.shared.limits.header_timeout;
    match conn.stream.open_tls(&identity, deadline, conn.remote).await {
        Opened::Tls(tls) => {
            conn.stream = tls;
            Some(conn)
        }
        Opened::PlainHttp(plain) => {
            conn.stream = plain;
            conn.refuse_plain_http().await;
            None
        }
        Opened::Gone => None,
    }
}

/// Resolves once the server is closing.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The I/O threads, their handles, a receiver that hears once per thread
/// when the accepting one has dropped the listening socket, and one that
/// hears each thread's start (an error, or `Ok`).
pub(crate) type Started = (
    Vec<thread::JoinHandle<()>>,
    std_mpsc::Receiver<()>,
    std_mpsc::Receiver<io::Result<()>>,
);

/// Starts `count` I/O threads; the first also accepts on `listener`.
pub(crate) fn spawn_io_threads(
    listener: std::net::TcpListener,
    shared: &Arc<Shared>,
    count: usize,
) -> io::Result<Started> {
    let (closed_tx, closed_rx) = std_mpsc::channel();
    let (ready_tx, ready_rx) = std_mpsc::channel::<io::Result<()>>();
    let (senders, mut inboxes): (Vec<_>, Vec<_>) =
        (0..count).map(|_| mpsc::unbounded_channel()).unzip();
    let mut accepting = Some((listener, senders));
    let mut handles = Vec::with_capacity(count);
    for n in 0..count {
        // Thread 0 also accepts; every thread serves what it is dealt.
        let accept = accepting.take();
        let inbox = inboxes.remove(0);
        let (thread_shared, traffic, closed_tx, ready_tx) = (
            shared.clone(),
            shared.counters.slot(n),
            closed_tx.clone(),
            ready_tx.clone(),
        );
        let handle = thread::Builder::new()
            .name(format!("uhttpd-io-{n}"))
            .spawn(move || io_thread(accept, inbox, thread_shared, traffic, closed_tx, ready_tx))?;
        handles.push(handle);
    }
    // Only the threads hold senders now: one that dies unreported ends the wait.
    Ok((handles, closed_rx, ready_rx))
}
