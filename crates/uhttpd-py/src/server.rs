//! `uhttpd.Server`: the seed's constructor and methods over the engine.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use uhttpd::tls::TlsIdentity;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyList, PyTuple, PyWeakrefReference};
use pyo3::{PyTraverseError, PyVisit};
use uhttpd::{
    AclDecision, AclVerdict, Auth, AuthDecision, Config, CustomVerdict, Methods, RequestInfo,
    SeedAuth, AUTH_OPEN,
};

use crate::errors::IntoPyResult;
use crate::logging;
use crate::repl::{wait_for_sessions, PyInterpreter};
use crate::request::{to_bytes, Request};
use crate::workers::PythonThreads;

/// Every running engine, so interpreter exit can close them before Python goes away.
static LIVE: Mutex<Vec<Weak<uhttpd::Server>>> = Mutex::new(Vec::new());

/// What the Python objects behind the engine share: the weak reference
/// `Request.server()` returns, set in `__init__` once the object exists.
#[derive(Default)]
struct Link {
    server: OnceLock<Py<PyAny>>,
}

impl Link {
    fn server(&self, py: Python<'_>) -> Py<PyAny> {
        match self.server.get() {
            Some(weak) => weak.clone_ref(py),
            None => py.None(),
        }
    }
}

/// A Python callback the engine holds. Its one reference belongs to the
/// server: `__traverse__` reports it and `__clear__` lets it go, so a server
/// whose callback refers back to it is collected like any cycle.
struct Callback(Mutex<Option<Py<PyAny>>>);

impl Callback {
    fn new(callback: &Bound<'_, PyAny>) -> Arc<Callback> {
        Arc::new(Callback(Mutex::new(Some(callback.clone().unbind()))))
    }

    /// The callable for one call; `None` once the server was cleared.
    fn get(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.slot().as_ref().map(|callback| callback.clone_ref(py))
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Py<PyAny>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A route's Python callback, called on a handler thread.
struct PyHandler {
    callback: Arc<Callback>,
    link: Arc<Link>,
}

impl uhttpd::Handler for PyHandler {
    fn handle(&self, exchange: uhttpd::Request) {
        Python::attach(|py| {
            let info = exchange.info().clone();
            let request =
                match Py::new(py, Request::new(info, Some(exchange), self.link.server(py))) {
                    Ok(request) => request,
                    Err(err) => return log_exception(py, "creating the request object", &err),
                };
            // Cleared with its server: the request is answered 500 when dropped.
            let Some(callback) = self.callback.get(py) else {
                return;
            };
            let outcome = callback.call1(py, (request.clone_ref(py),));
            let exchange = request.get().take_exchange(py);
            if let Err(err) = outcome {
                log_exception(py, request.get().describe(), &err);
                // Unanswered: 500. Half answered: cut, so it cannot pass for complete.
                if let Some(exchange) = exchange {
                    exchange.fail();
                }
            }
        });
    }
}

/// An AUTH_CUSTOM callback, judged by [`CustomVerdict::decision`].
struct PyAuthenticator {
    callback: Arc<Callback>,
    link: Arc<Link>,
}

impl uhttpd::Authenticator for PyAuthenticator {
    fn authenticate(&self, info: &Arc<RequestInfo>) -> AuthDecision {
        Python::attach(|py| {
            let request = Request::new(info.clone(), None, self.link.server(py));
            let Some(callback) = self.callback.get(py) else {
                return AuthDecision::Deny(503);
            };
            match callback.call1(py, (request,)) {
                Ok(verdict) => auth_verdict(verdict.bind(py)),
                Err(err) => {
                    log_exception(py, "the authentication callback", &err);
                    AuthDecision::Deny(401)
                }
            }
        })
    }
}

/// The seed's `file_acl(cb)`: an ACL_* grant, an int >= 400 as the answer,
/// anything else 403; an exception is a 500, never a grant.
struct PyFileAcl {
    callback: Arc<Callback>,
}

impl uhttpd::FileAcl for PyFileAcl {
    fn check(&self, path: &str) -> AclDecision {
        Python::attach(|py| match self.callback.get(py) {
            None => AclDecision::Deny(503),
            Some(callback) => match callback.call1(py, (path,)) {
                Ok(verdict) => acl_verdict(verdict.bind(py)),
                Err(err) => {
                    log_exception(py, format!("the file_acl callback for {path}"), &err);
                    AclDecision::Deny(500)
                }
            },
        })
    }
}

/// Converts the callback's value for the engine's rule ([`AclVerdict::decision`]).
fn acl_verdict(verdict: &Bound<'_, PyAny>) -> AclDecision {
    let converted =
        if verdict.is_instance_of::<PyInt>() && !verdict.is_instance_of::<pyo3::types::PyBool>() {
            AclVerdict::Int(verdict.extract::<i64>().ok())
        } else {
            AclVerdict::Other
        };
    converted.decision()
}

/// Converts `auth(req)`'s value for the engine's rule ([`CustomVerdict::decision`]);
/// an int that is no HTTP status is logged, naming it.
fn auth_verdict(verdict: &Bound<'_, PyAny>) -> AuthDecision {
    let converted =
        if verdict.is_instance_of::<PyInt>() && !verdict.is_instance_of::<pyo3::types::PyBool>() {
            CustomVerdict::Int(verdict.extract::<i64>().ok())
        } else {
            CustomVerdict::Other(verdict.is_truthy().unwrap_or(false))
        };
    if converted.is_not_a_status() {
        let shown = verdict.repr().map(|r| r.to_string());
        uhttpd::log_not_a_status(shown.as_deref().unwrap_or("an int"));
    }
    converted.decision()
}

/// The name `observations()` gives a file change.
fn file_change_name(change: &uhttpd::FileChange) -> &'static str {
    match change {
        uhttpd::FileChange::Created => "created",
        uhttpd::FileChange::Replaced => "replaced",
        uhttpd::FileChange::Deleted { tree: false } => "deleted",
        uhttpd::FileChange::Deleted { tree: true } => "deleted tree",
        uhttpd::FileChange::DirMade => "dir made",
        uhttpd::FileChange::Moved { .. } => "moved",
    }
}

/// A callback's exception goes to the `uhttpd` logger with its traceback.
fn log_exception(py: Python<'_>, what: impl std::fmt::Display, err: &PyErr) {
    let logged = py
        .import("logging")
        .and_then(|logging| logging.call_method1("getLogger", ("uhttpd",)))
        .and_then(|logger| {
            let kwargs = PyDict::new(py);
            let exc_info = (err.get_type(py), err.value(py), err.traceback(py));
            kwargs.set_item("exc_info", exc_info)?;
            logger.call_method(
                "error",
                ("%s raised an exception", what.to_string()),
                Some(&kwargs),
            )
        });
    if logged.is_err() {
        err.print(py);
    }
}

/// Frozen: every method takes `&self`, so `close()` in one thread and
/// `dispatch()` in another never collide on a borrow.
#[pyclass(module = "uhttpd", weakref, frozen)]
pub struct Server {
    engine: Arc<uhttpd::Server>,
    link: Arc<Link>,
    /// Routes given to the constructor, registered by `__init__`.
    pending_routes: Mutex<Option<Vec<RouteSpec>>>,
    /// Every Python callback the engine holds, for the garbage collector.
    callbacks: Mutex<Vec<Arc<Callback>>>,
}

fn check_callable(callback: &Bound<'_, PyAny>, what: &str) -> PyResult<()> {
    if callback.is_callable() {
        Ok(())
    } else {
        Err(PyTypeError::new_err(format!(
            "{what} must be callable, got {}",
            callback.get_type().name()?
        )))
    }
}

/// A route given to the constructor: `(url, methods, callback)`.
type RouteSpec = (String, Methods, Py<PyAny>);

/// What `routes=` says: the slot count, and the routes when it is an iterable.
struct RouteTable {
    slots: usize,
    given: Option<Vec<RouteSpec>>,
}

/// `routes=`: a slot count, or an iterable of `(url, methods, callback)`.
fn parse_routes(routes: Option<&Bound<'_, PyAny>>) -> PyResult<RouteTable> {
    let Some(routes) = routes else {
        return Ok(RouteTable {
            slots: uhttpd::DEFAULT_ROUTE_SLOTS,
            given: None,
        });
    };
    if routes.is_instance_of::<PyInt>() {
        let slots = uhttpd::route_slots(routes.extract()?).py()?;
        return Ok(RouteTable { slots, given: None });
    }
    let mut table = Vec::new();
    for item in routes.try_iter().map_err(|_| {
        PyTypeError::new_err("routes must be an int or an iterable of (url, methods, callback)")
    })? {
        let item = item?;
        let fields: Vec<Bound<'_, PyAny>> = match item.try_iter() {
            Ok(fields) => fields.collect::<PyResult<_>>()?,
            Err(_) => Vec::new(),
        };
        let [url, bits, callback] = <[_; 3]>::try_from(fields).map_err(|_| {
            PyTypeError::new_err(format!(
                "each route must be (url, methods, callback), got {item}"
            ))
        })?;
        let url: String = url.extract()?;
        let bits: i64 = bits.extract()?;
        check_callable(&callback, "a route callback")?;
        let methods = Methods::from_seed(bits).py()?;
        table.push((url, methods, callback.unbind()));
    }
    Ok(RouteTable {
        slots: uhttpd::table_slots(table.iter().map(|(_, methods, _)| *methods)),
        given: Some(table),
    })
}

/// Converts `auth=` for the engine's rule ([`Auth::from_seed`]).
fn parse_auth(
    acl: i64,
    auth: Option<&Bound<'_, PyAny>>,
    link: &Arc<Link>,
    held: &mut Vec<Arc<Callback>>,
) -> PyResult<Auth> {
    let seed = match auth {
        None => SeedAuth::Absent,
        Some(callback) if callback.is_callable() => {
            let callback = Callback::new(callback);
            held.push(callback.clone());
            SeedAuth::Callback(Arc::new(PyAuthenticator {
                callback,
                link: link.clone(),
            }))
        }
        Some(value) => match to_bytes(value) {
            Ok(bytes) => SeedAuth::Value(bytes.to_vec()),
            Err(_) => SeedAuth::Other(value.get_type().name()?.to_string()),
        },
    };
    Auth::from_seed(acl, seed).py()
}

impl Server {
    /// The engine, unless the server was closed.
    fn engine(&self) -> PyResult<&Arc<uhttpd::Server>> {
        if self.engine.is_closed() {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "server is closed",
            ));
        }
        Ok(&self.engine)
    }

    /// The engine's handler for a route's callback, and the callback to
    /// [`Server::hold`] once the engine took the handler.
    fn handler(&self, callback: &Bound<'_, PyAny>) -> (Arc<Callback>, Arc<dyn uhttpd::Handler>) {
        let held = Callback::new(callback);
        let handler = PyHandler {
            callback: held.clone(),
            link: self.link.clone(),
        };
        (held, Arc::new(handler))
    }

    /// Lists a callback the engine now holds, where the garbage collector sees it.
    fn hold(&self, callback: Arc<Callback>) {
        self.callbacks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(callback);
    }

    fn shut(&self, py: Python<'_>) {
        py.detach(|| self.engine.close());
        // The REPL's session ends with its connection; let it finish
        // detaching before close() returns.
        if self.engine.holds_webrepl() {
            wait_for_sessions(py);
        }
    }
}

#[pymethods]
impl Server {
    #[new]
    #[pyo3(signature = (port=80, acl=AUTH_OPEN, cors=false, routes=None, auth=None, events=0, *, host="0.0.0.0".to_string(), root=None, ext=None, workers=None, tls=None), text_signature = "(port=80, acl=0, cors=False, routes=None, auth=None, events=0, *, host='0.0.0.0', root=None, ext=None, workers=None, tls=None)")]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        port: i64,
        acl: i64,
        cors: bool,
        routes: Option<&Bound<'_, PyAny>>,
        auth: Option<&Bound<'_, PyAny>>,
        events: i64,
        host: String,
        root: Option<PathBuf>,
        ext: Option<String>,
        workers: Option<i64>,
        tls: Option<(PathBuf, PathBuf)>,
    ) -> PyResult<Self> {
        let port = uhttpd::seed_port(port).py()?;
        let events = uhttpd::seed_events(events).py()?;
        let workers = uhttpd::seed_workers(workers).py()?;
        let canonical = uhttpd::seed_root(root).py()?;
        if let Some(ext) = &ext {
            uhttpd::check_ext_mount(ext).py()?;
        }
        let link = Arc::new(Link::default());
        let mut callbacks = Vec::new();
        let auth = parse_auth(acl, auth, &link, &mut callbacks)?;
        let table = parse_routes(routes)?;
        logging::start(py);
        let tls = tls
            .map(|(certfile, keyfile)| {
                py.detach(|| TlsIdentity::from_pem_files(&certfile, &keyfile))
            })
            .transpose()
            .py()?;
        let config = Config {
            host,
            port,
            cors,
            root: canonical,
            ext,
            route_slots: table.slots,
            auth,
            events,
            workers,
            tls,
            ..Config::default()
        };
        let engine = py
            .detach(|| uhttpd::Server::start(config, Arc::new(PythonThreads)))
            .py()?;
        let engine = Arc::new(engine);
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|server| server.strong_count() > 0);
        live.push(Arc::downgrade(&engine));
        drop(live);
        Ok(Server {
            engine,
            link,
            pending_routes: Mutex::new(table.given),
            callbacks: Mutex::new(callbacks),
        })
    }

    /// Links requests to this object and registers the routes given to the constructor.
    #[pyo3(signature = (*_args, **_kwargs))]
    fn __init__(
        slf: &Bound<'_, Self>,
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let weak = PyWeakrefReference::new(slf.as_any())?.into_any().unbind();
        let this = slf.get();
        let _ = this.link.server.set(weak);
        let given = this
            .pending_routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(given) = given else {
            return Ok(());
        };
        let mut table = Vec::with_capacity(given.len());
        for (url, methods, callback) in &given {
            let (held, handler) = this.handler(callback.bind(py));
            this.hold(held);
            table.push((url.as_str(), *methods, handler));
        }
        // The seed: with a table given, no further route() calls.
        this.engine()?.route_table(table).py()
    }

    /// The SHA-256 fingerprint (`AB:CD:…`) of the certificate served, or
    /// `None` for plain HTTP.
    #[getter]
    fn tls_fingerprint(&self) -> PyResult<Option<String>> {
        Ok(self.engine()?.tls_fingerprint().map(str::to_string))
    }

    /// The port the server listens on (the OS's pick for `port=0`).
    fn port(&self) -> PyResult<u16> {
        Ok(self.engine()?.port())
    }

    /// Calls `callback(request)` for requests to `url` with one of `methods`.
    fn route(&self, url: &str, methods: i64, callback: &Bound<'_, PyAny>) -> PyResult<()> {
        check_callable(callback, "callback")?;
        let methods = Methods::from_seed(methods).py()?;
        let (held, handler) = self.handler(callback);
        self.engine()?.route(url, methods, handler).py()?;
        self.hold(held);
        Ok(())
    }

    /// The file server: GET and HEAD on `<prefix>/*` (one slot).
    #[pyo3(signature = (prefix=None, base=None, dirs=true, ext=false))]
    fn serve(
        &self,
        prefix: Option<&str>,
        base: Option<&str>,
        dirs: bool,
        ext: bool,
    ) -> PyResult<()> {
        self.engine.serve(prefix, base, dirs, ext).py()
    }

    /// The file receiver: POST and PUT (and DELETE with `delete=True`) on
    /// `<prefix>/*`, or on `prefix` itself when not `dynamic`.
    #[pyo3(signature = (dynamic=true, prefix=None, extonly=false, delete=false))]
    fn receive(
        &self,
        dynamic: bool,
        prefix: Option<&str>,
        extonly: bool,
        delete: bool,
    ) -> PyResult<()> {
        self.engine.receive(dynamic, prefix, extonly, delete).py()
    }

    /// Sets the callback asked before every file read, listing, write, mkdir and delete.
    fn file_acl(&self, cb: &Bound<'_, PyAny>) -> PyResult<()> {
        check_callable(cb, "file_acl callback")?;
        let held = Callback::new(cb);
        let acl = PyFileAcl {
            callback: held.clone(),
        };
        self.engine()?.set_file_acl(Some(Arc::new(acl)));
        self.hold(held);
        Ok(())
    }

    /// A `text/event-stream` at `url` for EventSource clients (one slot; once per server).
    fn event(&self, url: &str) -> PyResult<()> {
        self.engine.event(url).py().map(drop)
    }

    /// Sends `data` (str or bytes) to every EventSource client, named `event`
    /// if given. Never blocks; False when nobody is listening.
    #[pyo3(signature = (data, event=None))]
    fn dispatch(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        event: Option<&str>,
    ) -> PyResult<bool> {
        let data = to_bytes(data)?;
        py.detach(|| self.engine.dispatch(&data, event)).py()
    }

    /// What the server saw since the last call, waiting up to `timeout`
    /// seconds for the first: dicts of `kind` "request" (`method`, `target`,
    /// `status`, `bytes`, `duration` in seconds, `peer`) and "file" (`path`,
    /// `change`: "created", "replaced", "deleted", "deleted tree", "dir
    /// made", "moved" with its `destination` and whether it `replaced`
    /// something there). Nothing is kept before the
    /// first call. Releases the GIL while it waits: call it from a thread of yours.
    #[pyo3(signature = (timeout=1.0))]
    fn observations<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Bound<'py, PyList>> {
        if !timeout.is_finite() || timeout < 0.0 {
            return Err(PyValueError::new_err(
                "timeout must be a number of seconds >= 0",
            ));
        }
        let engine = self.engine()?.clone();
        let wait = std::time::Duration::from_secs_f64(timeout.min(3600.0));
        let seen = py.detach(|| engine.observations(wait));
        let list = PyList::empty(py);
        for observation in seen {
            let item = PyDict::new(py);
            match observation {
                uhttpd::Observation::Request {
                    method,
                    target,
                    status,
                    bytes_out,
                    duration,
                    peer,
                } => {
                    item.set_item("kind", "request")?;
                    item.set_item("method", method)?;
                    item.set_item("target", target)?;
                    item.set_item("status", status)?;
                    item.set_item("bytes", bytes_out)?;
                    item.set_item("duration", duration.as_secs_f64())?;
                    item.set_item("peer", (peer.ip().to_string(), peer.port()))?;
                }
                uhttpd::Observation::File { path, change } => {
                    item.set_item("kind", "file")?;
                    item.set_item("path", path)?;
                    item.set_item("change", file_change_name(&change))?;
                    if let uhttpd::FileChange::Moved {
                        destination,
                        replaced,
                    } = change
                    {
                        item.set_item("destination", destination)?;
                        item.set_item("replaced", replaced)?;
                    }
                }
            }
            list.append(item)?;
        }
        Ok(list)
    }

    /// The server's counters now, for a dashboard: `connections`,
    /// `event_clients` and `repl_sessions` (0 or 1) open now; `requests`
    /// finished, `status` (replies by class, `"1xx"` to `"5xx"`), `bytes_in`
    /// and `bytes_out` (to and from clients, every protocol; TLS: before
    /// encryption) since start; `rss`, the process's resident memory in
    /// bytes (0 where unknown). Cheap enough to call every second.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let engine = self.engine()?.clone();
        let stats = py.detach(|| engine.stats());
        let status = PyDict::new(py);
        for (class, count) in uhttpd::Stats::STATUS_CLASSES.into_iter().zip(stats.status) {
            status.set_item(class, count)?;
        }
        let dict = PyDict::new(py);
        dict.set_item("connections", stats.connections)?;
        dict.set_item("event_clients", stats.event_clients)?;
        dict.set_item("repl_sessions", stats.repl_sessions)?;
        dict.set_item("requests", stats.requests)?;
        dict.set_item("status", status)?;
        dict.set_item("bytes_in", stats.bytes_in)?;
        dict.set_item("bytes_out", stats.bytes_out)?;
        dict.set_item("rss", stats.rss)?;
        Ok(dict)
    }

    /// MicroPython's WebREPL at `url` (one slot; one per process). `pwd`
    /// protects it; `None` leaves it open to anyone who can reach the port.
    #[pyo3(signature = (url, pwd=None))]
    fn ws(&self, py: Python<'_>, url: &str, pwd: Option<String>) -> PyResult<()> {
        let engine = self.engine()?;
        let interpreter = Arc::new(PyInterpreter::new(py)?);
        engine.webrepl(url, pwd, interpreter).py()
    }

    /// Stops the server; the port is closed when this returns. Idempotent.
    fn close(&self, py: Python<'_>) {
        self.shut(py);
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> bool {
        self.shut(py);
        false
    }

    fn __repr__(&self) -> String {
        if self.engine.is_closed() {
            "<uhttpd.Server closed>".to_string()
        } else {
            format!("<uhttpd.Server port={}>", self.engine.port())
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Ok(callbacks) = self.callbacks.try_lock() {
            for callback in callbacks.iter() {
                if let Ok(slot) = callback.0.try_lock() {
                    if let Some(callback) = slot.as_ref() {
                        visit.call(callback)?;
                    }
                }
            }
        }
        if let Ok(pending) = self.pending_routes.try_lock() {
            for (_, _, callback) in pending.iter().flatten() {
                visit.call(callback)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self) {
        Python::attach(|py| self.shut(py));
        // Taken out first and dropped after the locks are let go: dropping a
        // callback may run Python code that calls back into this server.
        let callbacks: Vec<_> = self
            .callbacks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|callback| callback.slot().take())
            .collect();
        let pending = self
            .pending_routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop((callbacks, pending));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Running handlers may need the GIL to finish.
        if Python::try_attach(|py| py.detach(|| self.engine.close())).is_none() {
            self.engine.close();
        }
    }
}

/// Closes every server; registered with `atexit` so none outlives the interpreter.
#[pyfunction]
pub fn _shutdown(py: Python<'_>) {
    let live: Vec<_> = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
    py.detach(|| {
        for engine in live.iter().filter_map(Weak::upgrade) {
            engine.close();
        }
    });
    wait_for_sessions(py);
    logging::stop(py);
}
