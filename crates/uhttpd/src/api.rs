//! The seed's API (MicroPython's `uhttpd`) in Rust: `serve`, `receive`,
//! `event`, `ws` (here [`Server::webrepl`]) and the `routes=` table, each
//! carrying the seed's rules, so every face (Python, MicroPython) only
//! converts its arguments and maps [`Error`]s to its own exceptions.
//!
//! The rules, as `docs/SPEC.md` states them:
//!
//! - **Slots**: a server has `routes` slots (default [`DEFAULT_ROUTE_SLOTS`]):
//!   one for OPTIONS (always), one for the file server, one for the receiver
//!   plus one with `delete`, one for the REPL, one for the event stream, one
//!   per verb of each [`Server::route`]. Running out is [`Error::NoSlots`],
//!   whose message shows the accounting. A refused registration takes no slot.
//! - **Wildcards**: `serve` and a dynamic `receive` answer `{prefix}/*`, so
//!   `/fs/x` but not `/fs`; no prefix is `/*`.
//! - **Once**: one event stream per server, one REPL per process.
//!
//! ```no_run
//! use std::sync::Arc;
//! use uhttpd::{Config, PlainThreads, Server};
//!
//! let config = Config { port: 8080, events: 4, ..Config::default() };
//! let server = Server::start(config, Arc::new(PlainThreads))?;
//! server.serve(Some("/fs"), None, true, false)?; // GET/HEAD /fs/*
//! server.receive(true, Some("/up"), false, true)?; // POST/PUT/DELETE/MOVE /up/*
//! let events = server.event("/ev")?;
//! events.dispatch(b"hello", None)?;
//! # Ok::<(), uhttpd::Error>(())
//! ```

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::watch;

// Through the crate root, so this file does not depend on where the
// engine's modules live.
use crate::acl::{ACL_RO, ACL_RW, ACL_WO};
use crate::config::DEFAULT_ROUTE_SLOTS;
use crate::repl::{Interpreter, WebRepl};
use crate::{
    AclDecision, Endpoint, Error, EventHub, FileServer, Handler, Methods, Receiver, Result, Server,
    VirtualPath,
};

/// The server whose REPL is the process's one (see [`Server::webrepl`]).
static REPL_OWNER: Mutex<Weak<ReplClaim>> = Mutex::new(Weak::new());

fn repl_owner() -> MutexGuard<'static, Weak<ReplClaim>> {
    REPL_OWNER.lock().unwrap_or_else(|e| e.into_inner())
}

/// What one server's seed registrations remember.
pub(crate) struct SeedState {
    /// The seed's `events`: EventSource clients served at once (0: no `event()`).
    events: usize,
    /// The `event()` stream, once registered.
    hub: Mutex<Option<Arc<EventHub>>>,
    /// This server's token for the process's one REPL.
    repl: Arc<ReplClaim>,
    /// The `ws()` REPL, once registered (for [`Server::stats`]).
    webrepl: Mutex<Option<Arc<WebRepl>>>,
}

/// Held in [`REPL_OWNER`] (weakly) by the server whose REPL it is: the claim
/// lapses when that server is closed or dropped.
struct ReplClaim {
    shutdown: watch::Receiver<bool>,
}

impl ReplClaim {
    fn is_live(&self) -> bool {
        !*self.shutdown.borrow()
    }
}

impl SeedState {
    /// `events` from [`crate::Config::events`]; `shutdown` tells when the server closed.
    pub(crate) fn new(events: usize, shutdown: watch::Receiver<bool>) -> SeedState {
        SeedState {
            events,
            hub: Mutex::new(None),
            repl: Arc::new(ReplClaim { shutdown }),
            webrepl: Mutex::new(None),
        }
    }
}

/// The seed's `Server(port=…)`: 0 (the OS picks) to 65535.
pub fn seed_port(port: i64) -> Result<u16> {
    u16::try_from(port)
        .map_err(|_| Error::InvalidArgument(format!("port must be 0..65535, got {port}")))
}

/// The seed's `Server(events=…)`: how many EventSource clients at once, >= 0.
pub fn seed_events(events: i64) -> Result<usize> {
    usize::try_from(events)
        .map_err(|_| Error::InvalidArgument(format!("events must be >= 0, got {events}")))
}

/// `Server(workers=…)`: handler threads, >= 1; `None` is the default.
pub fn seed_workers(workers: Option<i64>) -> Result<usize> {
    let Some(workers) = workers else {
        return Ok(crate::limits::HANDLER_WORKERS);
    };
    usize::try_from(workers)
        .ok()
        .filter(|&w| w >= 1)
        .ok_or_else(|| Error::InvalidArgument(format!("workers must be >= 1, got {workers}")))
}

/// `Server(root=…)`: an existing directory, made absolute; `None` is the
/// current directory.
pub fn seed_root(root: Option<std::path::PathBuf>) -> Result<std::path::PathBuf> {
    let root = match root {
        Some(root) => root,
        None => std::env::current_dir()?,
    };
    let canonical = root.canonicalize().map_err(|e| {
        Error::InvalidArgument(format!("root {} is not usable: {e}", root.display()))
    })?;
    if !canonical.is_dir() {
        return Err(Error::InvalidArgument(format!(
            "root {} is not a directory",
            root.display()
        )));
    }
    Ok(canonical)
}

/// The seed's `routes=<int>`: the number of route slots, OPTIONS included,
/// so at least 1; otherwise [`Error::InvalidArgument`].
pub fn route_slots(routes: i64) -> Result<usize> {
    usize::try_from(routes)
        .ok()
        .filter(|&slots| slots >= 1)
        .ok_or_else(|| {
            Error::InvalidArgument("routes must be at least 1 (the OPTIONS slot)".into())
        })
}

/// The seed's `routes=<iterable>`: the slots for a table whose routes have
/// these verbs (one slot per verb, plus OPTIONS), and never fewer than
/// [`DEFAULT_ROUTE_SLOTS`], leaving room for `serve()`, `ws()`… after them.
/// Register the table with [`Server::route_table`].
pub fn table_slots(verbs: impl IntoIterator<Item = Methods>) -> usize {
    let needed = 1 + verbs.into_iter().map(Methods::count).sum::<usize>();
    needed.max(DEFAULT_ROUTE_SLOTS)
}

/// The seed's `Server(ext=...)`: a device path inside root such as `/sd`
/// (it starts with `/` and is not `/` itself); otherwise
/// [`Error::InvalidArgument`]. Give it as [`crate::Config::ext`].
pub fn check_ext_mount(ext: &str) -> Result<()> {
    if !ext.starts_with('/') || ext.len() < 2 {
        return Err(Error::InvalidArgument(format!(
            "ext must be a path inside root like '/sd', got {ext:?}"
        )));
    }
    Ok(())
}

impl Methods {
    /// The seed's verb bits (`uhttpd.GET | uhttpd.POST`…, the values of
    /// [`Methods::bits`]): a non-empty combination of GET, POST, DELETE, PUT
    /// and PATCH; anything else is [`Error::InvalidArgument`].
    pub fn from_seed(bits: i64) -> Result<Methods> {
        match u32::try_from(bits).ok().and_then(Methods::from_bits) {
            Some(methods) if !methods.is_empty() => Ok(methods),
            _ => Err(Error::InvalidArgument(format!(
                "methods {bits} is not a combination of uhttpd.GET, POST, DELETE, PUT and PATCH"
            ))),
        }
    }
}

/// What a `file_acl` callback returned, as the seed judges it
/// ([`AclVerdict::decision`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclVerdict {
    /// An int (`None`: one too large for `i64`); bools are [`AclVerdict::Other`].
    Int(Option<i64>),
    /// Anything that is not an int.
    Other,
}

impl AclVerdict {
    /// `ACL_RO`, `ACL_WO` or `ACL_RW` grants; an int 400–599 is the answer;
    /// anything else is 403. (A callback that fails is the caller's 500.)
    pub fn decision(self) -> AclDecision {
        match self {
            AclVerdict::Int(Some(bits))
                if [ACL_RO, ACL_WO, ACL_RW]
                    .iter()
                    .any(|&grant| i64::from(grant) == bits) =>
            {
                AclDecision::Grant(bits as u8)
            }
            AclVerdict::Int(Some(code)) if (400..=599).contains(&code) => {
                AclDecision::Deny(code as u16)
            }
            _ => AclDecision::Deny(403),
        }
    }
}

/// A URL prefix: `""` or `/name` without a trailing slash.
fn url_prefix(prefix: Option<&str>) -> Result<String> {
    match prefix {
        None => Ok(String::new()),
        Some(p) if p.starts_with('/') => Ok(p.trim_end_matches('/').to_string()),
        Some(p) => Err(Error::InvalidArgument(format!(
            "prefix must start with '/', got {p:?}"
        ))),
    }
}

/// A device path given as `what` (an absolute path inside root).
fn device_path(path: &str, what: &str) -> Result<VirtualPath> {
    if !path.starts_with('/') {
        return Err(Error::InvalidArgument(format!(
            "{what} must start with '/', got {path:?}"
        )));
    }
    VirtualPath::from_device(path).map_err(|e| {
        Error::InvalidArgument(format!("{what} {path:?} is not a valid device path: {e:?}"))
    })
}

impl Server {
    /// The seed's `serve(prefix, base, dirs, ext)`: the file server, GET and
    /// HEAD on `{prefix}/*` (`/*` without a prefix); takes one slot.
    ///
    /// - `prefix` must start with `/` (a trailing `/` is dropped), else
    ///   [`Error::InvalidArgument`].
    /// - `base`: the device directory served at `prefix` (default `/`); an
    ///   absolute device path, else [`Error::InvalidArgument`].
    /// - `dirs`: a directory gets the seed's JSON listing.
    /// - `ext`: the ext mount is tried first; needs [`crate::Config::ext`],
    ///   else [`Error::NoExtMount`].
    pub fn serve(
        &self,
        prefix: Option<&str>,
        base: Option<&str>,
        dirs: bool,
        ext: bool,
    ) -> Result<()> {
        let prefix = url_prefix(prefix)?;
        let base = base.map(|base| device_path(base, "base")).transpose()?;
        if ext && self.device_fs().ext().is_none() {
            return Err(Error::NoExtMount("serve(ext=True)"));
        }
        let pattern = format!("{prefix}/*");
        let files = FileServer {
            prefix,
            base,
            dirs,
            try_ext: ext,
        };
        self.add_endpoint(
            "serve",
            &pattern,
            Methods::GET,
            1,
            false,
            Endpoint::Files(Arc::new(files)),
        )
    }

    /// The seed's `receive(dynamic, prefix, extonly, delete)`: the file
    /// receiver, POST and PUT (and DELETE with `delete`, and WebDAV's MOVE
    /// too when `dynamic`: both remove a name); one slot, two with `delete`.
    ///
    /// - `dynamic`: the target is the path under `{prefix}/*`; otherwise
    ///   uploads go to `prefix` itself, named by `Content-Disposition`, and
    ///   `prefix` is required ([`Error::InvalidArgument`] without it).
    /// - `prefix` must start with `/`, else [`Error::InvalidArgument`].
    /// - `extonly`: targets outside the ext mount are refused (403); needs
    ///   [`crate::Config::ext`], else [`Error::NoExtMount`].
    pub fn receive(
        &self,
        dynamic: bool,
        prefix: Option<&str>,
        extonly: bool,
        delete: bool,
    ) -> Result<()> {
        if !dynamic && prefix.is_none() {
            return Err(Error::InvalidArgument(
                "receive(dynamic=False) needs prefix, the endpoint that takes uploads".into(),
            ));
        }
        if extonly && self.device_fs().ext().is_none() {
            return Err(Error::NoExtMount("receive(extonly=True)"));
        }
        let prefix = url_prefix(prefix)?;
        let pattern = if dynamic {
            format!("{prefix}/*")
        } else {
            prefix.clone()
        };
        let mut methods = Methods::POST | Methods::PUT;
        if delete {
            methods |= Methods::DELETE;
            // A static receiver has no URL per file for a Destination to name.
            if dynamic {
                methods |= Methods::MOVE;
            }
        }
        let receiver = Receiver {
            prefix,
            dynamic,
            extonly,
        };
        self.add_endpoint(
            "receive",
            &pattern,
            methods,
            1 + usize::from(delete),
            false,
            Endpoint::Receiver(Arc::new(receiver)),
        )
    }

    /// The seed's `event(url)`: a `text/event-stream` at `url` (GET, one
    /// slot) for up to [`crate::Config::events`] EventSource clients at once
    /// (one more gets 503). Returns the stream to [`EventHub::dispatch`] to.
    ///
    /// Once per server ([`Error::EventTaken`]), only with `events >= 1`
    /// ([`Error::NoEvents`]), and `url` is no wildcard
    /// ([`Error::InvalidArgument`]). A refused call registers nothing.
    pub fn event(&self, url: &str) -> Result<Arc<EventHub>> {
        if self.seed.events == 0 {
            return Err(Error::NoEvents);
        }
        let mut hub = self.seed.hub.lock().unwrap_or_else(|e| e.into_inner());
        if hub.is_some() {
            return Err(Error::EventTaken);
        }
        if url.ends_with('*') || url.ends_with('?') {
            return Err(Error::InvalidArgument(format!(
                "the event url must not be a wildcard, got {url:?}"
            )));
        }
        let new = EventHub::new(self.seed.events);
        self.add_endpoint(
            "event",
            url,
            Methods::GET,
            1,
            false,
            Endpoint::Events(new.clone()),
        )?;
        *hub = Some(new.clone());
        Ok(new)
    }

    /// The stream [`Server::event`] registered, if it was.
    pub fn event_hub(&self) -> Option<Arc<EventHub>> {
        self.seed
            .hub
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The seed's `dispatch(data, event)`: sends `data` to every client of
    /// the [`Server::event`] stream; false when nobody listens (or there is
    /// no stream). Never blocks; see [`EventHub::dispatch`].
    pub fn dispatch(&self, data: &[u8], event: Option<&str>) -> Result<bool> {
        match self.event_hub() {
            Some(hub) => hub.dispatch(data, event),
            None => Ok(false),
        }
    }

    /// The seed's `ws(url, pwd)`: MicroPython's WebREPL at `url` (GET, one
    /// slot), running code on `interpreter`.
    ///
    /// - One per process: while another live (not closed, not dropped)
    ///   server holds the REPL, [`Error::ReplTaken`]; a refused registration
    ///   (a bad `url`, no free slot) does not keep the claim.
    /// - `password: None` leaves the REPL open to anyone who can reach the
    ///   port, and logs a warning on the `uhttpd` target.
    /// - A request to `url` that is not a WebSocket upgrade goes on to the
    ///   routes registered after it (so the REPL may sit at `/`), and the
    ///   REPL shadows no later route.
    pub fn webrepl(
        &self,
        url: &str,
        password: Option<String>,
        interpreter: Arc<dyn Interpreter>,
    ) -> Result<()> {
        if self.is_closed() {
            return Err(Error::ServerClosed);
        }
        let open = password.is_none();
        // Built before the claim: nothing is created or dropped while the
        // process-wide lock is held (an interpreter may run code when it goes).
        let repl = Arc::new(
            WebRepl::new(
                password,
                self.device_fs().clone(),
                self.file_acl(),
                interpreter,
            )
            .observed_by(self.shared.observer.clone()),
        );
        let endpoint = Endpoint::WebSocket(repl.clone());
        let previous = {
            let mut owner = repl_owner();
            if owner.upgrade().is_some_and(|claim| claim.is_live()) {
                return Err(Error::ReplTaken);
            }
            std::mem::replace(&mut *owner, Arc::downgrade(&self.seed.repl))
        };
        let registered = self.add_endpoint("ws", url, Methods::GET, 1, true, endpoint);
        if registered.is_err() {
            let mut owner = repl_owner();
            if std::ptr::eq(owner.as_ptr(), Arc::as_ptr(&self.seed.repl)) {
                *owner = previous;
            }
        } else {
            *self.seed.webrepl.lock().unwrap_or_else(|e| e.into_inner()) = Some(repl);
            if open {
                log::warn!(target: "uhttpd", "ws({url:?}, None): the REPL is open to anyone who can reach the port");
            }
        }
        registered
    }

    /// True while a client is logged in to this server's REPL.
    pub(crate) fn repl_in_session(&self) -> bool {
        self.seed
            .webrepl
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|repl| repl.in_session())
    }

    /// True when this server's REPL is the process's one (also after
    /// [`Server::close`], until another server registers one): its sessions
    /// are the ones to wait for when it closes.
    pub fn holds_webrepl(&self) -> bool {
        std::ptr::eq(repl_owner().as_ptr(), Arc::as_ptr(&self.seed.repl))
    }

    /// The seed's `routes=<iterable>`: registers each `(pattern, methods,
    /// handler)` in order as [`Server::route`] does, then freezes the table:
    /// later `route()` calls are [`Error::RoutesFrozen`]. Start the server
    /// with [`table_slots`] slots. The first refused route is the error
    /// (the table is then not frozen).
    pub fn route_table<P: AsRef<str>>(
        &self,
        routes: impl IntoIterator<Item = (P, Methods, Arc<dyn Handler>)>,
    ) -> Result<()> {
        for (pattern, methods, handler) in routes {
            self.route(pattern.as_ref(), methods, handler)?;
        }
        self.freeze_routes();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_slots_count_options() {
        assert_eq!(route_slots(1).unwrap(), 1);
        assert_eq!(route_slots(21).unwrap(), 21);
        for bad in [0, -3] {
            assert_eq!(
                route_slots(bad).unwrap_err().to_string(),
                "routes must be at least 1 (the OPTIONS slot)"
            );
        }
    }

    #[test]
    fn table_slots_leave_the_default_room() {
        assert_eq!(table_slots([Methods::GET]), DEFAULT_ROUTE_SLOTS);
        let many = std::iter::repeat_n(Methods::GET | Methods::POST, 6);
        assert_eq!(table_slots(many), 13);
    }

    #[test]
    fn seed_methods() {
        assert_eq!(
            Methods::from_seed(Methods::GET.bits() as i64).unwrap(),
            Methods::GET
        );
        for bad in [0, 32, -1, 64 | 1] {
            assert!(Methods::from_seed(bad)
                .unwrap_err()
                .to_string()
                .starts_with(&format!("methods {bad} is not a combination")));
        }
    }

    #[test]
    fn acl_verdicts() {
        let d = |v| AclVerdict::decision(v);
        assert_eq!(d(AclVerdict::Int(Some(1))), AclDecision::Grant(ACL_RO));
        assert_eq!(d(AclVerdict::Int(Some(3))), AclDecision::Grant(ACL_RW));
        assert_eq!(d(AclVerdict::Int(Some(451))), AclDecision::Deny(451));
        for other in [0, 4, 257, 399, 600, -1] {
            assert_eq!(d(AclVerdict::Int(Some(other))), AclDecision::Deny(403));
        }
        assert_eq!(d(AclVerdict::Int(None)), AclDecision::Deny(403));
        assert_eq!(d(AclVerdict::Other), AclDecision::Deny(403));
    }

    #[test]
    fn ext_mount() {
        assert!(check_ext_mount("/sd").is_ok());
        for bad in ["sd", "/", ""] {
            assert!(check_ext_mount(bad).is_err());
        }
    }
}
