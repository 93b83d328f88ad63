//! `uhttpd.Request`: what a callback gets. Every wait (body, slow client)
//! happens with the GIL released.

use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use bytes::Bytes;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::{PyBytes, PyDict, PyString};
use uhttpd::query::{self, QueryValue};
use uhttpd::{ReplyHead, RequestInfo, SeedStatus};

use crate::errors::IntoPyResult;

/// Why the request cannot read or reply now.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Seen by an AUTH_CUSTOM callback: headers only.
    Authenticating,
    /// Inside the route's callback.
    Handling,
}

#[pyclass(module = "uhttpd", frozen)]
pub struct Request {
    info: Arc<RequestInfo>,
    /// `None` while authenticating and once the callback has returned.
    exchange: Mutex<Option<uhttpd::Request>>,
    phase: Phase,
    /// Weak reference to the `Server` (a strong one would keep it alive for ever).
    server: Py<PyAny>,
}

impl Request {
    pub fn new(
        info: Arc<RequestInfo>,
        exchange: Option<uhttpd::Request>,
        server: Py<PyAny>,
    ) -> Request {
        let phase = if exchange.is_some() {
            Phase::Handling
        } else {
            Phase::Authenticating
        };
        Request {
            info,
            exchange: Mutex::new(exchange),
            phase,
            server,
        }
    }

    /// "the handler for GET /path", for log lines.
    pub fn describe(&self) -> String {
        self.info.handler_name()
    }

    /// Ends the callback's access; the engine answers what it left unanswered.
    pub fn take_exchange(&self, py: Python<'_>) -> Option<uhttpd::Request> {
        self.lock(py).take()
    }

    /// The exchange's lock. Taken while holding the GIL when it is free (the
    /// common case); when another thread holds it (it may be waiting for the
    /// client without the GIL), waits with the GIL released, so the two never
    /// wait for each other.
    fn lock(&self, py: Python<'_>) -> MutexGuard<'_, Option<uhttpd::Request>> {
        loop {
            match self.exchange.try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => py.detach(|| {
                    drop(self.exchange.lock());
                }),
            }
        }
    }

    /// Runs `f` on the exchange. On a handler thread the engine releases the
    /// GIL itself whenever `f` has to wait for the client; on any other thread
    /// (a callback passed the request on) the GIL is released for the call.
    fn with_exchange<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut uhttpd::Request) -> PyResult<T> + Send,
    ) -> PyResult<T> {
        if !uhttpd::on_worker_thread() {
            return py.detach(|| {
                self.use_exchange(
                    &mut self.exchange.lock().unwrap_or_else(|e| e.into_inner()),
                    f,
                )
            });
        }
        self.use_exchange(&mut self.lock(py), f)
    }

    fn use_exchange<T>(
        &self,
        exchange: &mut Option<uhttpd::Request>,
        f: impl FnOnce(&mut uhttpd::Request) -> PyResult<T>,
    ) -> PyResult<T> {
        match exchange.as_mut() {
            Some(exchange) => f(exchange),
            None if self.phase == Phase::Authenticating => Err(PyRuntimeError::new_err(
                "the body and the reply are not available to the authentication callback",
            )),
            None => Err(PyRuntimeError::new_err(
                "the request is finished: its callback has returned",
            )),
        }
    }
}

/// The bytes of a `str` (UTF-8) or bytes-like object, without copying `bytes` and `str`.
pub fn to_bytes(data: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(bytes) = data.cast::<PyBytes>() {
        return Ok(Bytes::from_owner(PyBackedBytes::from(bytes.clone())));
    }
    if let Ok(text) = data.cast::<PyString>() {
        return Ok(Bytes::from_owner(PyBackedStr::try_from(text.clone())?));
    }
    // Any other buffer (bytearray, memoryview, array); never ints or lists,
    // which `bytes()` would turn into zeros or bytes.
    let copied = data
        .py()
        .get_type::<pyo3::types::PyMemoryView>()
        .call1((data,))
        .and_then(|view| view.call_method0("tobytes"))
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "expected str or a bytes-like object, got {}",
                type_name(data)
            ))
        })?;
    Ok(Bytes::from_owner(PyBackedBytes::from(
        copied.cast_into::<PyBytes>()?,
    )))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string())
}

/// The reply head from `write`/`send_chunk` arguments.
fn reply_head(
    status: Option<&Bound<'_, PyAny>>,
    mime: Option<&Bound<'_, PyAny>>,
    headers: Option<&Bound<'_, PyAny>>,
    allow_cors: bool,
) -> PyResult<ReplyHead> {
    let text;
    let status = match status {
        None => SeedStatus::Default,
        Some(code) if code.is_instance_of::<pyo3::types::PyInt>() => {
            SeedStatus::Code(code.extract::<i64>().unwrap_or(-1))
        }
        Some(given) => {
            text = to_bytes(given)?;
            SeedStatus::Text(&text)
        }
    };
    let mime = mime.map(to_bytes).transpose()?;
    let mut fields = Vec::new();
    if let Some(headers) = headers {
        let headers = headers.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err(format!(
                "headers must be a dict, got {}",
                type_name(headers)
            ))
        })?;
        for (name, value) in headers.iter() {
            fields.push((to_bytes(&name)?, to_bytes(&value)?));
        }
    }
    ReplyHead::from_seed(status, mime, fields, allow_cors).py()
}

fn query_value(py: Python<'_>, value: QueryValue) -> Py<PyAny> {
    match value {
        QueryValue::Bytes(bytes) => PyBytes::new(py, &bytes).into_any().unbind(),
        QueryValue::Bare => true
            .into_pyobject(py)
            .map_or_else(|e| match e {}, |b| b.to_owned().into_any().unbind()),
    }
}

#[pymethods]
impl Request {
    /// The `Server` this request came to.
    fn server(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let server = self.server.bind(py).call0()?;
        if server.is_none() {
            return Err(PyRuntimeError::new_err("the server no longer exists"));
        }
        Ok(server.unbind())
    }

    /// The verb as `uhttpd.GET`, `POST`…; a HEAD request is `GET`.
    fn method(&self) -> u32 {
        self.info.method.bits()
    }

    fn uri(&self) -> &str {
        self.info.head.target()
    }

    fn length(&self) -> i64 {
        self.info.length()
    }

    fn path(&self) -> &str {
        self.info.path()
    }

    /// First value of `key` in the query: bytes, `True` for a bare key, `None` if absent.
    fn query(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        let key = to_bytes(key)?;
        Ok(query::first(self.info.query(), &key).map(|v| query_value(py, v)))
    }

    /// The whole query as a dict of bytes keys; the last of repeated keys wins.
    fn parse_qs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (key, value) in query::parse(self.info.query()) {
            dict.set_item(PyBytes::new(py, &key), query_value(py, value))?;
        }
        Ok(dict)
    }

    /// Reads the body: all of it, or at most `len` bytes when `len` >= 0.
    #[pyo3(signature = (len=-1), text_signature = "(self, /, len=-1)")]
    fn read<'py>(&self, py: Python<'py>, len: i64) -> PyResult<Bound<'py, PyBytes>> {
        let max = usize::try_from(len).ok();
        let data = self.with_exchange(py, |x| Ok(x.read_to_end(max)?))?;
        Ok(PyBytes::new(py, &data))
    }

    /// Reads at most `len(buffer)` body bytes into `buffer`; returns how many.
    fn readinto(&self, py: Python<'_>, buffer: &Bound<'_, PyAny>) -> PyResult<usize> {
        let view = py
            .get_type::<pyo3::types::PyMemoryView>()
            .call1((buffer,))?
            .call_method1("cast", ("B",))?;
        if view.getattr("readonly")?.is_truthy()? {
            return Err(PyTypeError::new_err("readinto() needs a writable buffer"));
        }
        let room = view.len()?;
        let data = self.with_exchange(py, |x| Ok(x.read_to_end(Some(room))?))?;
        let n = data.len();
        let slice = pyo3::types::PySlice::new(py, 0, n as isize, 1);
        view.set_item(slice, PyBytes::new(py, &data))?;
        Ok(n)
    }

    /// Sends the whole reply; once per request.
    #[pyo3(signature = (data, status=None, mime=None, headers=None, allow_cors=false))]
    fn write(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        status: Option<&Bound<'_, PyAny>>,
        mime: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
        allow_cors: bool,
    ) -> PyResult<()> {
        let body = to_bytes(data)?;
        let head = reply_head(status, mime, headers, allow_cors)?;
        self.with_exchange(py, |x| x.respond(head, body).py())
    }

    /// Sends a chunk of a chunked reply; `None` ends it. Arguments after `data`
    /// count on the first call only.
    #[pyo3(signature = (data, status=None, mime=None, headers=None, allow_cors=false))]
    fn send_chunk(
        &self,
        py: Python<'_>,
        data: Option<&Bound<'_, PyAny>>,
        status: Option<&Bound<'_, PyAny>>,
        mime: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
        allow_cors: bool,
    ) -> PyResult<()> {
        let head = reply_head(status, mime, headers, allow_cors)?;
        match data {
            Some(data) => {
                let data = to_bytes(data)?;
                self.with_exchange(py, |x| x.send_chunk(head, data).py())
            }
            None => self.with_exchange(py, |x| x.end_chunks(head).py()),
        }
    }

    /// Writes bytes to the socket verbatim; the connection closes after the callback.
    fn send(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = to_bytes(data)?;
        self.with_exchange(py, |x| x.send_raw(data).py())
    }

    /// A request header's value (name case-insensitive), or `None`.
    fn header<'py>(&self, py: Python<'py>, name: &str) -> Option<Bound<'py, PyBytes>> {
        self.info.header(name).map(|v| PyBytes::new(py, v))
    }

    /// All request headers: lowercase names, repeated fields joined by ", ".
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, value) in self.info.headers_joined() {
            dict.set_item(name, PyBytes::new(py, &value))?;
        }
        Ok(dict)
    }

    /// `(ip, port)` of the client.
    fn remote(&self) -> (String, u16) {
        (self.info.remote.ip().to_string(), self.info.remote.port())
    }

    fn __repr__(&self) -> String {
        format!(
            "<uhttpd.Request {} {}>",
            self.info.head.method(),
            self.info.head.target()
        )
    }
}
