//! The only code with sockets: the listener and I/O threads
//! ([`listener`]), the connection loop ([`conn`]), and file sending with the
//! stall detector ([`sendfile`]). Protocol decisions come from [`crate::http`];
//! what each endpoint kind does with a request, from [`crate::drivers`].

pub(crate) mod conn;
pub(crate) mod listener;
pub(crate) mod sendfile;
