//! The one mapping from engine errors to Python exceptions (the engine's
//! [`uhttpd::ErrorClass`]).

use pyo3::exceptions::{
    PyConnectionResetError, PyOSError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::PyErr;
use uhttpd::{Error, ErrorClass};

pub fn to_pyerr(error: Error) -> PyErr {
    let message = error.message();
    match error.class() {
        // OSError(errno, text) picks the subclass and sets `errno`, as Python's own calls do.
        ErrorClass::Os(Some(code)) => PyOSError::new_err((code, message)),
        ErrorClass::Os(None) => match error {
            Error::Io(io) => io.into(),
            _ => PyOSError::new_err(message),
        },
        ErrorClass::Value => PyValueError::new_err(message),
        ErrorClass::Runtime => PyRuntimeError::new_err(message),
        ErrorClass::ConnectionReset => PyConnectionResetError::new_err(message),
        ErrorClass::Type => PyTypeError::new_err(message),
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
