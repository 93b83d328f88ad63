//! The `uhttpd` Python module (its native part, `uhttpd._uhttpd`): bindings
//! only; all HTTP work is in the engine crate.

mod errors;
mod logging;
mod repl;
mod request;
mod server;
mod tls;
mod workers;

use pyo3::prelude::*;

#[pymodule]
fn _uhttpd(m: &Bound<'_, PyModule>) -> PyResult<()> {
    use uhttpd::Methods;
    m.add_class::<server::Server>()?;
    m.add_class::<request::Request>()?;
    m.add_function(wrap_pyfunction!(server::_shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(tls::self_signed_certificate, m)?)?;
    for (name, verb) in [
        ("GET", Methods::GET),
        ("POST", Methods::POST),
        ("DELETE", Methods::DELETE),
        ("PUT", Methods::PUT),
        ("PATCH", Methods::PATCH),
    ] {
        m.add(name, verb.bits())?;
    }
    m.add("AUTH_OPEN", uhttpd::AUTH_OPEN)?;
    m.add("AUTH_BASIC", uhttpd::AUTH_BASIC)?;
    m.add("AUTH_CUSTOM", uhttpd::AUTH_CUSTOM)?;
    m.add("ACL_RO", 1)?;
    m.add("ACL_WO", 2)?;
    m.add("ACL_RW", 3)?;
    Ok(())
}
