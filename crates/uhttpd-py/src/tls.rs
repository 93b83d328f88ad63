//! The self-signed certificate of `python -m uhttpd --tls`, from the engine.

use std::path::PathBuf;

use pyo3::prelude::*;

use crate::errors::IntoPyResult;

/// The certificate and key kept in `directory` for a server bound to `host`
/// (made there on first use, or when it no longer covers `host` or ends
/// within 30 days): `(certfile, keyfile)`.
#[pyfunction]
#[pyo3(signature = (directory, host="0.0.0.0"))]
pub fn self_signed_certificate(
    py: Python<'_>,
    directory: PathBuf,
    host: &str,
) -> PyResult<(PathBuf, PathBuf)> {
    crate::logging::start(py);
    let names = uhttpd::tls::self_signed::default_names(host);
    py.detach(|| uhttpd::tls::self_signed::ensure(&directory, &names))
        .py()
}
