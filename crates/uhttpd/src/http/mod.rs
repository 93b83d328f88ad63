//! Pure HTTP/1.1: no sockets, no runtime, no filesystem. Request heads and
//! bodies are parsed from byte buffers ([`request`]), replies encoded into them
//! ([`reply`]); [`exchange`] decides, per request, what the connection does
//! next; [`digest`] and [`content_range`] read the fields of verified and
//! resumable uploads, [`conditions`] evaluates preconditions and [`webdav`]
//! reads MOVE's fields. Everything here is unit-tested on byte strings and values.

pub mod conditions;
pub mod content_range;
pub mod digest;
pub(crate) mod exchange;
pub mod method;
pub mod query;
pub mod reply;
pub mod request;
pub mod webdav;
