//! What the server saw, as values for the host: each finished request and
//! each change it made to the files. The host pulls them
//! ([`crate::Server::observations`]) on a thread of its own, so no host code
//! runs on the I/O threads; nothing is kept until someone asks, and a host
//! that stops asking loses the oldest, never blocks the server.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::limits::OBSERVATION_QUEUE;

/// One thing the server saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// A request answered (or given up on).
    Request {
        /// The method token as sent (`HEAD` stays `HEAD`).
        method: String,
        /// The request-target as sent (path and query).
        target: String,
        /// 0 when no reply was started (the client left first).
        status: u16,
        /// Reply bytes written to the client, head included.
        bytes_out: u64,
        /// From the request head read to the exchange's end.
        duration: Duration,
        /// The client's address.
        peer: SocketAddr,
    },
    /// A change under root made by an upload, a mkdir, a delete, a move or a
    /// REPL transfer.
    File {
        /// The device path (a move's source); directories end with `/`.
        path: String,
        /// What happened to it.
        change: FileChange,
    },
}

/// What the server did to a file or directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileChange {
    /// A file written where none was.
    Created,
    /// A file written over an existing one.
    Replaced,
    /// A file, a link or a directory deleted.
    Deleted {
        /// A forced delete (`force=1`), which takes a directory with everything in it.
        tree: bool,
    },
    /// A directory created (`mkdir`).
    DirMade,
    /// A file, a link or a directory (with everything in it) renamed (MOVE).
    Moved {
        /// The device path it has now; a directory's ends with `/`.
        destination: String,
        /// Something at the destination was replaced (the MOVE answered 204, not 201).
        replaced: bool,
    },
}

impl FileChange {
    /// What a landed upload did, by its status: 201 made the file, 204 replaced it.
    pub(crate) fn of_upload(status: u16) -> FileChange {
        if status == 201 {
            FileChange::Created
        } else {
            FileChange::Replaced
        }
    }
}

/// The queue observations wait in until the host takes them.
#[derive(Default)]
pub(crate) struct Observer {
    /// Set once a host asked: until then nothing is recorded.
    wanted: AtomicBool,
    queue: Mutex<VecDeque<Observation>>,
    arrived: Condvar,
}

impl Observer {
    /// Records `make()` if a host is listening (one atomic load otherwise).
    pub(crate) fn record(&self, make: impl FnOnce() -> Observation) {
        if !self.wanted.load(Ordering::Relaxed) {
            return;
        }
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.len() >= OBSERVATION_QUEUE {
            queue.pop_front();
        }
        queue.push_back(make());
        drop(queue);
        self.arrived.notify_one();
    }

    /// Everything recorded so far, waiting up to `wait` for the first.
    pub(crate) fn take(&self, wait: Duration) -> Vec<Observation> {
        self.wanted.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + wait;
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        while queue.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            queue = self
                .arrived
                .wait_timeout(queue, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        queue.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(n: usize) -> Observation {
        Observation::File {
            path: format!("/{n}"),
            change: FileChange::Created,
        }
    }

    #[test]
    fn nothing_is_kept_until_a_host_asks() {
        let observer = Observer::default();
        observer.record(|| file(0));
        assert!(observer.take(Duration::ZERO).is_empty());
        observer.record(|| file(1));
        assert_eq!(observer.take(Duration::ZERO), vec![file(1)]);
    }

    #[test]
    fn the_queue_is_bounded_and_keeps_the_newest() {
        let observer = Observer::default();
        observer.take(Duration::ZERO);
        for n in 0..OBSERVATION_QUEUE + 10 {
            observer.record(|| file(n));
        }
        let taken = observer.take(Duration::ZERO);
        assert_eq!(taken.len(), OBSERVATION_QUEUE);
        assert_eq!(taken[0], file(10));
    }

    #[test]
    fn take_waits_for_the_first_observation() {
        let observer = std::sync::Arc::new(Observer::default());
        observer.take(Duration::ZERO);
        let recorder = observer.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            recorder.record(|| file(7));
        });
        let t0 = Instant::now();
        assert_eq!(observer.take(Duration::from_secs(5)), vec![file(7)]);
        assert!(t0.elapsed() < Duration::from_secs(4));
        t.join().unwrap();
        let t0 = Instant::now();
        assert!(observer.take(Duration::from_millis(50)).is_empty());
        assert!(t0.elapsed() >= Duration::from_millis(50));
    }
}
