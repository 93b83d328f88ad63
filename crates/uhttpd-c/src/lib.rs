//! The uhttpd engine behind a C ABI (`include/uhttpd.h`), for a face
//! written in C: MicroPython's user C module (`micropython/uhttpd/`). Like
//! the CPython binding it only converts: every HTTP and API rule is the
//! engine's.
//!
//! Rooms: `host` (the host's entry points, its threads and callbacks),
//! `server` and `request` (the seed's `Server` and `Request`), `repl`
//! (the WebREPL's interpreter), `error` (how failures reach C), `logger`.

#![allow(clippy::missing_safety_doc)]

mod error;
mod host;
mod logger;
mod repl;
mod request;
mod server;

use std::ffi::{c_char, CStr};

/// A C string argument; `None` for NULL. Not UTF-8 is a ValueError.
///
/// # Safety
/// `text` is NULL or a NUL-terminated string valid for the call.
unsafe fn text<'a>(text: *const c_char, what: &str) -> uhttpd::Result<Option<&'a str>> {
    if text.is_null() {
        return Ok(None);
    }
    unsafe { CStr::from_ptr(text) }
        .to_str()
        .map(Some)
        .map_err(|_| uhttpd::Error::InvalidArgument(format!("{what} must be UTF-8 text")))
}

/// The bytes behind a pointer and length (NULL or 0: empty).
///
/// # Safety
/// `data` points to `len` readable bytes, or `len` is 0.
unsafe fn bytes<'a>(data: *const u8, len: usize) -> &'a [u8] {
    if data.is_null() || len == 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(data, len) }
    }
}

#[cfg(test)]
mod tests {
    use uhttpd::Methods;

    /// The header's constants are the engine's.
    #[test]
    fn header_constants_are_the_engines() {
        let header = include_str!("../include/uhttpd.h");
        let value = |name: &str| -> i64 {
            let line = header
                .lines()
                .find(|l| l.starts_with(&format!("#define {name} ")))
                .unwrap_or_else(|| panic!("{name} in uhttpd.h"));
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        for (name, verb) in [
            ("UHTTPD_GET", Methods::GET),
            ("UHTTPD_POST", Methods::POST),
            ("UHTTPD_DELETE", Methods::DELETE),
            ("UHTTPD_PUT", Methods::PUT),
            ("UHTTPD_PATCH", Methods::PATCH),
        ] {
            assert_eq!(value(name), i64::from(verb.bits()), "{name}");
        }
        assert_eq!(value("UHTTPD_AUTH_OPEN"), uhttpd::AUTH_OPEN);
        assert_eq!(value("UHTTPD_AUTH_BASIC"), uhttpd::AUTH_BASIC);
        assert_eq!(value("UHTTPD_AUTH_CUSTOM"), uhttpd::AUTH_CUSTOM);
        assert_eq!(value("UHTTPD_ACL_RO"), i64::from(uhttpd::ACL_RO));
        assert_eq!(value("UHTTPD_ACL_WO"), i64::from(uhttpd::ACL_WO));
        assert_eq!(value("UHTTPD_ACL_RW"), i64::from(uhttpd::ACL_RW));
    }
}
