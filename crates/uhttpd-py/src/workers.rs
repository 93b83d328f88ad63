//! Handler threads that belong to Python: each attaches to the interpreter for
//! its whole life (one thread state, not one per request) and releases the GIL
//! whenever it waits for work.

use pyo3::Python;
use uhttpd::WorkerHooks;

pub struct PythonThreads;

impl WorkerHooks for PythonThreads {
    fn run(&self, work: &mut dyn FnMut()) {
        // None: the interpreter is gone; the thread ends without touching it.
        let _ = Python::try_attach(|_| work());
    }

    fn wait(&self, wait: &mut (dyn FnMut() + Send)) {
        Python::attach(|py| py.detach(wait));
    }
}
