//! A fixed pool of handler threads fed by a bounded queue. Handlers block
//! (they read bodies, they run Python), so they never run on the async
//! runtime's threads.

use std::cell::Cell;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// How the engine's threads that call host code live and wait: every call
/// into host code (route handlers, `AUTH_CUSTOM`, the file ACL, WebSocket
/// sessions, the REPL) runs on a thread started through these hooks, never on
/// a plain thread of the engine's own. The Python binding attaches a worker to
/// the interpreter for its whole life and releases the GIL while it waits; a
/// host with its own thread discipline (MicroPython's VM) registers the
/// thread with it here.
pub trait WorkerHooks: Send + Sync + 'static {
    /// Starts a thread running `work`. A host whose VM must know its threads
    /// (MicroPython's garbage collector scans the stacks of the threads its
    /// thread API started) creates them itself; by default a plain thread
    /// named `name`, with asynchronous signals blocked.
    fn spawn(&self, name: &str, work: Box<dyn FnOnce() + Send>) -> io::Result<()> {
        thread::Builder::new().name(name.into()).spawn(move || {
            block_async_signals();
            work()
        })?;
        Ok(())
    }
    /// Runs a pool worker's whole life, `work`, on the new thread.
    fn run(&self, work: &mut dyn FnMut()) {
        work()
    }
    /// Wraps each wait of a pool worker for its next job.
    fn wait(&self, wait: &mut (dyn FnMut() + Send)) {
        wait()
    }
    /// Runs a long-lived session's whole life (a WebSocket session, the REPL's
    /// executor) on the new thread. Unlike a pool worker it blocks often and
    /// enters host code through its own entry points, so by default it runs
    /// as it is.
    fn session(&self, work: &mut dyn FnMut()) {
        work()
    }
}

/// A thread started by [`spawn_session`]: [`SessionThread::join`] waits for
/// it to end (the host's threads may be detached, so no `JoinHandle`).
pub struct SessionThread {
    ended: std::sync::mpsc::Receiver<()>,
}

impl SessionThread {
    /// Waits until the thread's work has returned (or panicked).
    pub fn join(self) {
        // The sender is dropped when the work ends, however it ends.
        let _ = self.ended.recv();
    }
}

/// Starts a thread for a long-lived session under `hooks` (see
/// [`WorkerHooks::session`]); threads it starts in turn use the same hooks
/// ([`spawn_session_here`]).
pub fn spawn_session(
    name: &str,
    hooks: Arc<dyn WorkerHooks>,
    work: impl FnOnce() + Send + 'static,
) -> io::Result<SessionThread> {
    let (ended_tx, ended) = std::sync::mpsc::channel::<()>();
    let session_hooks = hooks.clone();
    hooks.spawn(
        name,
        Box::new(move || {
            let _ended = ended_tx;
            SESSION_HOOKS.with(|h| *h.borrow_mut() = Some(session_hooks.clone()));
            let mut work = Some(work);
            session_hooks.session(&mut || {
                if let Some(work) = work.take() {
                    work()
                }
            });
        }),
    )?;
    Ok(SessionThread { ended })
}

/// [`spawn_session`] with the hooks of the session thread calling it (plain
/// threads elsewhere).
pub fn spawn_session_here(
    name: &str,
    work: impl FnOnce() + Send + 'static,
) -> io::Result<SessionThread> {
    let hooks = SESSION_HOOKS
        .with(|h| h.borrow().clone())
        .unwrap_or_else(|| Arc::new(PlainThreads));
    spawn_session(name, hooks, work)
}

/// Plain threads for Rust handlers.
pub struct PlainThreads;
impl WorkerHooks for PlainThreads {}

static NEXT_POOL_ID: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// The pool this thread works for (0: none), so `shutdown` never waits for itself.
    static CURRENT_POOL: Cell<usize> = const { Cell::new(0) };
    /// The hooks of the session this thread runs, for [`spawn_session_here`].
    static SESSION_HOOKS: std::cell::RefCell<Option<Arc<dyn WorkerHooks>>> =
        const { std::cell::RefCell::new(None) };
    /// The hooks of the pool this thread works for, for [`wait_outside`].
    static CURRENT_HOOKS: std::cell::RefCell<Option<Arc<dyn WorkerHooks>>> =
        const { std::cell::RefCell::new(None) };
}

/// Blocks asynchronous signals (SIGINT, SIGTERM…) in the calling thread, so
/// the process's main thread receives them: Python acts on Ctrl-C only there,
/// and a signal the kernel hands to one of our threads would wait unseen.
/// Every thread the engine starts calls this first.
pub fn block_async_signals() {
    // SAFETY: sigset manipulation on a local set; pthread_sigmask affects only this thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        for synchronous in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGABRT,
        ] {
            libc::sigdelset(&mut set, synchronous);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// True on a pool worker thread, where the engine's blocking waits go
/// through the pool's [`WorkerHooks::wait`].
pub fn on_worker_thread() -> bool {
    CURRENT_HOOKS.with(|h| h.borrow().is_some())
}

/// Runs a wait that blocks the thread the way the thread's pool waits (on a
/// Python worker: with the GIL released). Call it only when about to block:
/// releasing and taking back the GIL costs more than a short operation.
pub fn wait_outside<R: Send>(wait: impl FnOnce() -> R + Send) -> R {
    let hooks = CURRENT_HOOKS.with(|h| h.borrow().clone());
    match hooks {
        Some(hooks) => {
            let mut wait = Some(wait);
            let mut result = None;
            hooks.wait(&mut || result = wait.take().map(|w| w()));
            result.expect("WorkerHooks::wait runs the wait it is given")
        }
        None => wait(),
    }
}

pub struct ThreadPool {
    id: usize,
    jobs: Mutex<Option<Sender<Job>>>,
    closing: Arc<AtomicBool>,
    exited: Receiver<()>,
    workers: usize,
}

impl ThreadPool {
    pub fn new(
        name: &str,
        workers: usize,
        queue: usize,
        hooks: Arc<dyn WorkerHooks>,
    ) -> io::Result<ThreadPool> {
        let id = NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed);
        let (jobs_tx, jobs_rx) = bounded::<Job>(queue);
        let (exited_tx, exited_rx) = bounded::<()>(workers);
        let closing = Arc::new(AtomicBool::new(false));
        for n in 0..workers {
            let (jobs_rx, exited_tx) = (jobs_rx.clone(), exited_tx.clone());
            let (worker_hooks, closing) = (hooks.clone(), closing.clone());
            hooks.spawn(
                &format!("{name}-{n}"),
                Box::new(move || {
                    let hooks = worker_hooks;
                    CURRENT_POOL.with(|c| c.set(id));
                    CURRENT_HOOKS.with(|h| *h.borrow_mut() = Some(hooks.clone()));
                    hooks.run(&mut || work(&*hooks, &jobs_rx, &closing));
                    let _ = exited_tx.send(());
                }),
            )?;
        }
        Ok(ThreadPool {
            id,
            jobs: Mutex::new(Some(jobs_tx)),
            closing,
            exited: exited_rx,
            workers,
        })
    }

    /// Queues a job; gives it back when the queue is full or the pool is closed.
    pub fn execute(&self, job: Job) -> Result<(), Job> {
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        match jobs.as_ref() {
            Some(tx) => tx.try_send(job).map_err(|e| match e {
                TrySendError::Full(job) | TrySendError::Disconnected(job) => job,
            }),
            None => Err(job),
        }
    }

    /// Drops queued jobs, lets running ones finish and waits up to `grace` for
    /// the workers to exit. True when all did (a worker calling this is not waited for).
    pub fn shutdown(&self, grace: Duration) -> bool {
        self.closing.store(true, Ordering::SeqCst);
        let Some(tx) = self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return true;
        };
        drop(tx);
        let own = usize::from(CURRENT_POOL.with(|c| c.get()) == self.id);
        let deadline = Instant::now() + grace;
        (own..self.workers).all(|_| {
            self.exited
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .is_ok()
        })
    }
}

fn work(hooks: &dyn WorkerHooks, jobs: &Receiver<Job>, closing: &AtomicBool) {
    loop {
        let mut next = None;
        hooks.wait(&mut || next = jobs.recv().ok());
        let Some(job) = next else { return };
        if closing.load(Ordering::SeqCst) {
            continue;
        }
        if catch_unwind(AssertUnwindSafe(job)).is_err() {
            log::error!(target: "uhttpd", "a request handler panicked; the request was answered 500");
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shutdown(Duration::ZERO);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn jobs_run_on_workers_and_a_full_queue_gives_the_job_back() {
        let pool = ThreadPool::new("t", 1, 1, Arc::new(PlainThreads)).unwrap();
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        assert!(pool
            .execute(Box::new(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            }))
            .is_ok());
        started_rx.recv().unwrap();
        assert!(pool.execute(Box::new(|| {})).is_ok(), "queue holds one");
        assert!(pool.execute(Box::new(|| {})).is_err(), "queue full");
        release_tx.send(()).unwrap();
        assert!(pool.shutdown(Duration::from_secs(5)));
        assert!(pool.execute(Box::new(|| {})).is_err(), "closed");
    }

    #[test]
    fn a_panicking_job_does_not_kill_its_worker() {
        let pool = ThreadPool::new("t", 1, 4, Arc::new(PlainThreads)).unwrap();
        pool.execute(Box::new(|| panic!("boom"))).ok().unwrap();
        let (tx, rx) = mpsc::channel();
        pool.execute(Box::new(move || tx.send(7).unwrap()))
            .ok()
            .unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(7));
    }

    #[test]
    fn shutdown_gives_up_on_a_stuck_worker_after_the_grace() {
        let pool = ThreadPool::new("t", 1, 1, Arc::new(PlainThreads)).unwrap();
        let (started_tx, started_rx) = mpsc::channel();
        pool.execute(Box::new(move || {
            started_tx.send(()).unwrap();
            thread::sleep(Duration::from_millis(800));
        }))
        .ok()
        .unwrap();
        started_rx.recv().unwrap();
        assert!(!pool.shutdown(Duration::from_millis(50)));
    }
}
