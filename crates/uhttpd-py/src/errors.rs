//! The one mapping from engine errors to Python exceptions.

use pyo3::exceptions::{
    PyConnectionResetError, PyOSError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::PyErr;
use uhttpd::Error;

pub fn to_pyerr(error: Error) -> PyErr {
    let message = error.to_string();
    match error {
        // OSError(errno, text) picks the subclass and sets `errno`, as Python's own calls do.
        Error::Io(io) => match io.raw_os_error() {
            Some(code) => {
                let suffix = format!(" (os error {code})");
                PyOSError::new_err((code, message.trim_end_matches(&suffix).to_string()))
            }
            None => io.into(),
        },
        Error::InvalidArgument(_)
        | Error::InvalidPattern { .. }
        | Error::Shadowed { .. }
        | Error::NoSlots { .. }
        | Error::NoExtMount(_)
        | Error::NoEvents
        | Error::EventTaken => PyValueError::new_err(message),
        Error::RoutesFrozen | Error::ReplTaken | Error::AlreadyReplied(_) | Error::ServerClosed => {
            PyRuntimeError::new_err(message)
        }
        Error::ConnectionClosed => PyConnectionResetError::new_err(message),
        Error::WrongKind(_) => PyTypeError::new_err(message),
    }
}

/// `result.py()?` in binding code.
pub trait IntoPyResult<T> {
    fn py(self) -> pyo3::PyResult<T>;
}

impl<T> IntoPyResult<T> for uhttpd::Result<T> {
    fn py(self) -> pyo3::PyResult<T> {
        self.map_err(to_pyerr)
    }
}
