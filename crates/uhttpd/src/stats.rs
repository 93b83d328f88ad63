//! The server's counters for a dashboard ([`crate::Server::stats`]): what is
//! open now and what passed since start. Bytes and finished requests are
//! counted where the I/O threads read, write and finish requests, each
//! thread into a slot of its own, and summed only when someone asks; what is
//! open now is read from where the server already keeps it (connection
//! places, the event stream's clients, the REPL's session place).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::Server;

/// The server's counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections open now (idle keep-alive, event and WebSocket ones included).
    pub connections: u64,
    /// EventSource clients of the [`Server::event`] stream now.
    pub event_clients: u64,
    /// 1 while a client is logged in to this server's WebREPL, else 0.
    pub repl_sessions: u64,
    /// Requests finished since start: answered (by the status classes of
    /// `status`) or ended before a reply was started.
    pub requests: u64,
    /// Replies since start by status class, 1xx to 5xx ([`Stats::STATUS_CLASSES`]).
    pub status: [u64; 5],
    /// Bytes read from clients since start, every protocol; on a TLS port
    /// the decrypted bytes (the handshake and record overhead are not counted).
    pub bytes_in: u64,
    /// Bytes written to clients since start, every protocol, files the
    /// kernel sends included; on a TLS port the bytes before encryption.
    pub bytes_out: u64,
    /// Resident set size of the process in bytes; 0 where unknown.
    pub rss: u64,
}

impl Stats {
    /// The names of `status`'s classes, as the faces show them.
    pub const STATUS_CLASSES: [&'static str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
}

/// One I/O thread's counters. Only that thread writes them (a connection
/// never leaves its I/O thread), so an add is a load and a store, no locked
/// instruction on the request path; the alignment keeps two threads' slots
/// off one cache line.
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct Traffic {
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    /// Requests finished, by the status's hundreds: 0 for no reply, 1 to 5 for 1xx to 5xx.
    finished: [AtomicU64; 6],
}

/// Adds `n` to a counter only one thread writes.
fn add(counter: &AtomicU64, n: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

impl Traffic {
    /// Bytes read from a client.
    pub(crate) fn read(&self, n: usize) {
        add(&self.bytes_in, n as u64);
    }

    /// Bytes written to a client.
    pub(crate) fn wrote(&self, n: u64) {
        add(&self.bytes_out, n);
    }

    /// A request finished with `status` (0: no reply was started).
    pub(crate) fn finished(&self, status: u16) {
        add(&self.finished[usize::from(status / 100).min(5)], 1);
    }
}

/// Every I/O thread's slot.
pub(crate) struct Counters(Box<[Arc<Traffic>]>);

impl Counters {
    pub(crate) fn new(io_threads: usize) -> Counters {
        Counters((0..io_threads).map(|_| Arc::default()).collect())
    }

    /// The slot I/O thread `n` counts into.
    pub(crate) fn slot(&self, n: usize) -> Arc<Traffic> {
        self.0[n].clone()
    }

    /// The slots summed: `requests`, `status` and the bytes of [`Stats`].
    fn sum(&self) -> Stats {
        let mut stats = Stats::default();
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        for slot in self.0.iter() {
            stats.bytes_in += load(&slot.bytes_in);
            stats.bytes_out += load(&slot.bytes_out);
            for (class, finished) in slot.finished.iter().enumerate() {
                let finished = load(finished);
                stats.requests += finished;
                if class > 0 {
                    stats.status[class - 1] += finished;
                }
            }
        }
        stats
    }
}

impl Server {
    /// The server's counters now: connections, event clients and the REPL
    /// session open now; requests, replies by status class and bytes since
    /// start; the process's resident memory. Cheap (a sum over the I/O
    /// threads and a read of the kernel's memory figure), for a dashboard
    /// to call every second.
    pub fn stats(&self) -> Stats {
        Stats {
            connections: self.shared.open_connections() as u64,
            event_clients: self.event_hub().map_or(0, |hub| hub.listeners()) as u64,
            repl_sessions: u64::from(self.repl_in_session()),
            rss: crate::platform::resident_bytes(),
            ..self.shared.counters.sum()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_sum_by_status_class() {
        let counters = Counters::new(2);
        let (a, b) = (counters.slot(0), counters.slot(1));
        a.read(10);
        b.read(5);
        a.wrote(100);
        b.wrote(1);
        for status in [200, 204, 404, 101, 503, 0] {
            a.finished(status);
        }
        b.finished(304);
        let stats = counters.sum();
        assert_eq!((stats.bytes_in, stats.bytes_out), (15, 101));
        assert_eq!(stats.requests, 7, "the one ended without a reply included");
        assert_eq!(stats.status, [1, 2, 1, 1, 1]);
    }
}
