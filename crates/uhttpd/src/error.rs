//! The crate's one error type.

use std::io;

/// Everything the engine can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Socket or file error.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// A caller passed a value the engine cannot accept.
    #[error("{0}")]
    InvalidArgument(String),
    /// A caller passed a value of the wrong kind (Python: `TypeError`).
    #[error("{0}")]
    WrongKind(String),
    /// A URL pattern that esp_http_server's wildcard rules cannot express.
    #[error("invalid route pattern {pattern:?}: {why}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// The rule it breaks.
        why: &'static str,
    },
    /// A route that an earlier route with the same verb already answers.
    #[error("route {new} {method} is shadowed by the earlier route {earlier} {method}: register the more specific route first")]
    Shadowed {
        /// The pattern being registered.
        new: String,
        /// The pattern of the earlier route that already answers it.
        earlier: String,
        /// The verb both routes answer, e.g. `"GET"`.
        method: &'static str,
    },
    /// The route table is full; `accounting` lists what uses the slots.
    #[error("no free route slot for {what} (needs {needed}): {accounting}")]
    NoSlots {
        /// The registration refused, e.g. `route /more GET|POST`.
        what: String,
        /// Slots it needs.
        needed: usize,
        /// Every slot's use and how many are free, e.g.
        /// `8 slots: OPTIONS 1, route /my GET 1; 6 free`.
        accounting: String,
    },
    /// The route table was given whole to the constructor.
    #[error("routes were given to the constructor; route() cannot add more")]
    RoutesFrozen,
    /// `serve(ext=True)` or `receive(extonly=True)` (named here) without
    /// [`crate::Config::ext`].
    #[error("{0} needs the external storage mount: Server(ext='/sd')")]
    NoExtMount(&'static str),
    /// [`crate::Server::event`] on a server started with `events: 0`.
    #[error("event() needs Server(events=N), the number of EventSource clients served at once")]
    NoEvents,
    /// [`crate::Server::event`] a second time.
    #[error("event() was already called for this server")]
    EventTaken,
    /// [`crate::Server::webrepl`] while another live server holds the process's REPL.
    #[error("a WebREPL is already registered in this process (ws() works once per process)")]
    ReplTaken,
    /// A reply was already started or finished for this request.
    #[error("{0}")]
    AlreadyReplied(&'static str),
    /// The client went away or the server closed.
    #[error("connection closed")]
    ConnectionClosed,
    /// The server was closed.
    #[error("server is closed")]
    ServerClosed,
    /// A certificate or key file (or the directory for them) that could not
    /// be read or written.
    #[error("cannot use {what} {}: {source}", path.display())]
    TlsFileAccess {
        /// `"certificate file"`, `"key file"`, `"certificate directory"`.
        what: &'static str,
        /// The file as given.
        path: std::path::PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// A certificate or key file whose content cannot serve.
    #[error("{what} {}: {why}", path.display())]
    TlsFileInvalid {
        /// `"certificate file"` or `"key file"`.
        what: &'static str,
        /// The file as given.
        path: std::path::PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

/// The crate's result, with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which exception a face raises for an [`Error`]: both faces map alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// `ValueError`: a value the engine cannot accept.
    Value,
    /// `TypeError`: a value of the wrong kind.
    Type,
    /// `RuntimeError`: a call the object's state does not allow now.
    Runtime,
    /// `OSError`, with the errno when the system gave one.
    Os(Option<i32>),
    /// The client is gone: `ConnectionResetError` (errno `ECONNRESET`).
    ConnectionReset,
}

impl Error {
    /// The exception class for this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Io(io) => ErrorClass::Os(io.raw_os_error()),
            Error::TlsFileAccess { source, .. } => ErrorClass::Os(source.raw_os_error()),
            Error::InvalidArgument(_)
            | Error::TlsFileInvalid { .. }
            | Error::InvalidPattern { .. }
            | Error::Shadowed { .. }
            | Error::NoSlots { .. }
            | Error::NoExtMount(_)
            | Error::NoEvents
            | Error::EventTaken => ErrorClass::Value,
            Error::RoutesFrozen
            | Error::ReplTaken
            | Error::AlreadyReplied(_)
            | Error::ServerClosed => ErrorClass::Runtime,
            Error::ConnectionClosed => ErrorClass::ConnectionReset,
            Error::WrongKind(_) => ErrorClass::Type,
        }
    }

    /// The exception's text: without the " (os error N)" an `OSError`
    /// shows through its errno.
    pub fn message(&self) -> String {
        let message = self.to_string();
        let os_error = match self {
            Error::Io(io) | Error::TlsFileAccess { source: io, .. } => io.raw_os_error(),
            _ => None,
        };
        match os_error {
            Some(code) => message
                .trim_end_matches(&format!(" (os error {code})"))
                .to_string(),
            None => message,
        }
    }
}
