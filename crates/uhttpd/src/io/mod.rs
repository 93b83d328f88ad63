//! The only code with sockets: the listener and I/O threads
//! ([`listener`]), the connection loop ([`conn`]), file sending with the
//! stall detector ([`sendfile`]), and the byte stream, plain or TLS
//! ([`stream`]). Protocol decisions come from [`crate::http`];
//! what each endpoint kind does with a request, from [`crate::drivers`].

pub(crate) mod conn;
pub(crate) mod listener;
pub(crate) mod sendfile;
pub(crate) mod stream;
