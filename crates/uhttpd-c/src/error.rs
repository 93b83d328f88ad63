//! How a failure reaches C: a kind to return (which exception the face
//! raises) and, for this thread, its message and errno.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};

use uhttpd::{Error, ErrorClass};

pub const OK: c_int = 0;
pub const VALUE_ERROR: c_int = 1;
pub const TYPE_ERROR: c_int = 2;
pub const RUNTIME_ERROR: c_int = 3;
pub const OS_ERROR: c_int = 4;

thread_local! {
    static LAST: RefCell<(CString, c_int)> = RefCell::new((CString::default(), 0));
}

/// Records `message` and `errno` for this thread; returns `kind`.
pub fn set(kind: c_int, message: &str, errno: c_int) -> c_int {
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST.with(|last| *last.borrow_mut() = (message, errno));
    kind
}

/// An engine error as the kind C raises (the engine's [`ErrorClass`], as
/// the CPython face maps it; a reset connection is an `OSError` with
/// ECONNRESET, MicroPython having no subclasses).
pub fn report(error: Error) -> c_int {
    let message = error.message();
    match error.class() {
        ErrorClass::Os(errno) => set(OS_ERROR, &message, errno.unwrap_or(0)),
        ErrorClass::ConnectionReset => set(OS_ERROR, &message, libc::ECONNRESET),
        ErrorClass::Value => set(VALUE_ERROR, &message, 0),
        ErrorClass::Runtime => set(RUNTIME_ERROR, &message, 0),
        ErrorClass::Type => set(TYPE_ERROR, &message, 0),
    }
}

/// `Ok` as [`OK`], an error as [`report`] gives it.
pub fn status(result: uhttpd::Result<()>) -> c_int {
    match result {
        Ok(()) => OK,
        Err(error) => report(error),
    }
}

#[no_mangle]
pub extern "C" fn uhttpd_error_message() -> *const c_char {
    LAST.with(|last| last.borrow().0.as_ptr())
}

#[no_mangle]
pub extern "C" fn uhttpd_error_errno() -> c_int {
    LAST.with(|last| last.borrow().1)
}

/// # Safety
/// Both are NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_wrong_type(what: *const c_char, type_name: *const c_char) -> c_int {
    let what = unsafe { CStr::from_ptr(what) }.to_string_lossy();
    let type_name = unsafe { CStr::from_ptr(type_name) }.to_string_lossy();
    set(TYPE_ERROR, &format!("{what}, got {type_name}"), 0)
}
