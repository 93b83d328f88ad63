//! The CPython face's REPL: the engine's friendly console (line editor and
//! executor, `uhttpd::repl::FriendlyConsole`) runs code through this
//! `Interpreter`, implemented by `uhttpd._repl.Console`. `WebRepl::new` puts
//! the two together as the WebREPL's console.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use uhttpd::repl::{Interpreter, Terminal};

/// Sessions attached now, so interpreter exit can wait for them to let go of Python.
static ATTACHED: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// Time interpreter exit waits for REPL sessions to wind down.
const DETACH_WAIT: Duration = Duration::from_secs(5);

/// What the Python console writes to.
#[pyclass(module = "uhttpd", frozen)]
pub struct TerminalOut(Terminal);

#[pymethods]
impl TerminalOut {
    /// REPL output: waits for a slow client.
    fn write(&self, py: Python<'_>, text: &str) -> bool {
        py.detach(|| self.0.write(text))
    }

    /// Program output: dropped rather than delayed when the client lags.
    fn offer(&self, py: Python<'_>, text: &str) {
        py.detach(|| self.0.offer(text));
    }
}

pub struct PyInterpreter {
    console: Py<PyAny>,
}

impl PyInterpreter {
    pub fn new(py: Python<'_>) -> PyResult<PyInterpreter> {
        let console = py.import("uhttpd._repl")?.getattr("Console")?.call0()?;
        Ok(PyInterpreter {
            console: console.unbind(),
        })
    }

    /// Calls a console method without arguments; a failure is printed, never raised.
    fn call(&self, method: &str) {
        Python::attach(|py| {
            if let Err(err) = self.console.call_method0(py, method) {
                err.print(py);
            }
        });
    }
}

impl Interpreter for PyInterpreter {
    fn attach(&self, terminal: Terminal) {
        *ATTACHED.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Python::attach(|py| {
            let out = Py::new(py, TerminalOut(terminal));
            if let Err(err) = out.and_then(|out| self.console.call_method1(py, "attach", (out,))) {
                err.print(py);
            }
        });
    }

    fn run(&self, source: &str, block: bool) -> bool {
        Python::attach(
            |py| match self.console.call_method1(py, "run", (source, block)) {
                Ok(more) => more.is_truthy(py).unwrap_or(false),
                Err(err) => {
                    err.print(py);
                    false
                }
            },
        )
    }

    fn run_program(&self, source: &str) -> Option<String> {
        Python::attach(
            |py| match self.console.call_method1(py, "run_program", (source,)) {
                Ok(error) => error.extract::<Option<String>>(py).unwrap_or(None),
                Err(err) => Some(format!("{err}\n")),
            },
        )
    }

    fn banner(&self) -> String {
        Python::attach(|py| {
            self.console
                .call_method0(py, "banner")
                .and_then(|b| b.extract::<String>(py))
                .unwrap_or_else(|_| "uhttpd".into())
        })
    }

    fn reset(&self) {
        self.call("reset");
    }

    fn interrupt(&self) {
        self.call("interrupt");
    }

    fn detach(&self) {
        self.call("detach");
        let mut attached = ATTACHED.0.lock().unwrap_or_else(|e| e.into_inner());
        *attached = attached.saturating_sub(1);
        ATTACHED.1.notify_all();
    }
}

/// At interpreter exit, after the servers closed: waits (GIL released) for
/// REPL sessions to detach, so none touches a finalizing interpreter.
pub fn wait_for_sessions(py: Python<'_>) {
    py.detach(|| {
        let deadline = Instant::now() + DETACH_WAIT;
        let mut attached = ATTACHED.0.lock().unwrap_or_else(|e| e.into_inner());
        while *attached > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                log::warn!(target: "uhttpd", "a WebREPL session is still running code at exit");
                return;
            }
            attached = ATTACHED
                .1
                .wait_timeout(attached, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    });
}
