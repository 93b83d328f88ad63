//! The bridge to the host's code: the handler threads and how they wait
//! ([`pool`], whose hooks let a host with its own thread and lock discipline,
//! such as Python's GIL, run them), and the handler's side of a request
//! ([`request`]).

pub mod pool;
pub mod request;
