//! Engine log records to Python's `logging`, on a thread of their own: the
//! I/O threads only push into a bounded queue and never touch Python.

use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// Records waiting for the logging thread; past it they are dropped, so a slow
/// log handler never slows the server.
const LOG_QUEUE: usize = 4096;

/// How often the logging thread re-reads the `uhttpd` logger's level, so that
/// `logging.basicConfig()` after `Server()` takes effect.
const LEVEL_REFRESH: Duration = Duration::from_secs(1);

/// Records forwarded per GIL acquisition.
const LOG_BATCH: usize = 256;

/// Time `stop` waits for the logging thread at exit.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

enum Message {
    Record(log::Level, String),
    /// Forward what came before, acknowledge and end the thread (interpreter exit).
    Stop(Sender<()>),
}

struct Bridge {
    tx: Sender<Message>,
}

static BRIDGE: OnceLock<Bridge> = OnceLock::new();
static STARTED: Mutex<bool> = Mutex::new(false);

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            let _ = self
                .tx
                .try_send(Message::Record(record.level(), record.args().to_string()));
        }
    }

    fn flush(&self) {}
}

fn logger(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    LOGGER
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(
                py.import("logging")?
                    .call_method1("getLogger", ("uhttpd",))?
                    .unbind(),
            )
        })
        .map(|l| l.bind(py))
}

/// Python's numeric level for a `log` level.
fn python_level(level: log::Level) -> u32 {
    match level {
        log::Level::Error => 40,
        log::Level::Warn => 30,
        log::Level::Info => 20,
        log::Level::Debug | log::Level::Trace => 10,
    }
}

/// Lets through only what the `uhttpd` logger would emit.
pub fn refresh_level(py: Python<'_>) {
    let Ok(logger) = logger(py) else { return };
    let enabled = |level: log::Level| {
        logger
            .call_method1("isEnabledFor", (python_level(level),))
            .and_then(|r| r.is_truthy())
            .unwrap_or(false)
    };
    let max = [
        log::Level::Debug,
        log::Level::Info,
        log::Level::Warn,
        log::Level::Error,
    ]
    .into_iter()
    .find(|&level| enabled(level))
    .map_or(log::LevelFilter::Off, |level| level.to_level_filter());
    log::set_max_level(max);
}

/// Installs the bridge once per process and reads the current level.
pub fn start(py: Python<'_>) {
    let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    if !*started {
        let (tx, rx) = bounded(LOG_QUEUE);
        let bridge = BRIDGE.get_or_init(|| Bridge { tx });
        if log::set_logger(bridge).is_ok()
            && thread::Builder::new()
                .name("uhttpd-log".into())
                .spawn(move || {
                    uhttpd::block_async_signals();
                    forward(rx)
                })
                .is_ok()
        {
            *started = true;
        }
    }
    // Let go before Python runs: a thread holding the GIL may wait for this lock.
    drop(started);
    refresh_level(py);
}

fn forward(rx: Receiver<Message>) {
    let mut refreshed = Instant::now();
    loop {
        let first = match rx.recv_timeout(LEVEL_REFRESH) {
            Ok(message) => Some(message),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let batch: Vec<Message> = first
            .into_iter()
            .chain(rx.try_iter().take(LOG_BATCH))
            .collect();
        let attached = Python::try_attach(|py| {
            for message in batch {
                match message {
                    Message::Record(level, text) => {
                        if let Ok(logger) = logger(py) {
                            let _ = logger.call_method1("log", (python_level(level), "%s", text));
                        }
                    }
                    Message::Stop(done) => return Some(done),
                }
            }
            if refreshed.elapsed() >= LEVEL_REFRESH {
                refresh_level(py);
                refreshed = Instant::now();
            }
            None
        });
        match attached {
            Some(None) => {}
            Some(Some(done)) => {
                // Acknowledged outside Python: after this the thread never attaches again.
                let _ = done.send(());
                return;
            }
            None => return,
        }
    }
}

/// At interpreter exit: forwards every record logged so far, then ends the
/// logging thread (GIL released while waiting) so it never attaches to a
/// finalizing interpreter.
pub fn stop(py: Python<'_>) {
    let Some(bridge) = BRIDGE.get() else { return };
    log::set_max_level(log::LevelFilter::Off);
    let (done_tx, done_rx) = bounded(1);
    if bridge
        .tx
        .send_timeout(Message::Stop(done_tx), FLUSH_WAIT)
        .is_ok()
    {
        py.detach(|| {
            let _ = done_rx.recv_timeout(FLUSH_WAIT);
        });
    }
}
