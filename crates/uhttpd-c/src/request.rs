//! The seed's `Request`: what a callback gets. The face owns each
//! `uhttpd_request` and frees it when its object is collected; the exchange
//! (body and reply) is usable only until the callback returns.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use uhttpd::query::{self, QueryValue};
use uhttpd::{ReplyHead, RequestInfo, SeedStatus};

use crate::bytes;
use crate::error::{report, set, OK, RUNTIME_ERROR};
use crate::host::{from_vm, PairSink, Sink};

/// `uhttpd_request`.
pub struct CRequest {
    info: Arc<RequestInfo>,
    /// `None` while authenticating and once the callback has returned.
    exchange: Mutex<Option<uhttpd::Request>>,
    authenticating: bool,
}

impl CRequest {
    pub fn handling(exchange: uhttpd::Request) -> CRequest {
        CRequest {
            info: exchange.info().clone(),
            exchange: Mutex::new(Some(exchange)),
            authenticating: false,
        }
    }

    pub fn authenticating(info: Arc<RequestInfo>) -> CRequest {
        CRequest {
            info,
            exchange: Mutex::new(None),
            authenticating: true,
        }
    }

    /// Runs `f` on the exchange, the VM lock let go whenever it waits.
    fn with_exchange<T>(
        &self,
        f: impl FnOnce(&mut uhttpd::Request) -> uhttpd::Result<T>,
    ) -> Result<T, c_int> {
        from_vm(|| {
            let mut exchange = self.exchange.lock().unwrap_or_else(|e| e.into_inner());
            match exchange.as_mut() {
                Some(exchange) => f(exchange).map_err(report),
                None if self.authenticating => Err(set(
                    RUNTIME_ERROR,
                    "the body and the reply are not available to the authentication callback",
                    0,
                )),
                None => Err(set(
                    RUNTIME_ERROR,
                    "the request is finished: its callback has returned",
                    0,
                )),
            }
        })
    }
}

/// `uhttpd_header`.
#[repr(C)]
pub struct CHeader {
    name: *const u8,
    name_len: usize,
    value: *const u8,
    value_len: usize,
}

/// `uhttpd_reply`.
#[repr(C)]
pub struct CReply {
    status_kind: c_int,
    status_code: i64,
    status_text: *const u8,
    status_text_len: usize,
    mime: *const u8,
    mime_len: usize,
    headers: *const CHeader,
    header_count: usize,
    allow_cors: bool,
}

const STATUS_CODE: c_int = 1;
const STATUS_TEXT: c_int = 2;

/// The head a `uhttpd_reply` describes; an error as the kind to raise.
unsafe fn reply_head(reply: &CReply) -> Result<ReplyHead, c_int> {
    let status = match reply.status_kind {
        STATUS_CODE => SeedStatus::Code(reply.status_code),
        STATUS_TEXT => SeedStatus::Text(unsafe { bytes(reply.status_text, reply.status_text_len) }),
        _ => SeedStatus::Default,
    };
    let mime = (!reply.mime.is_null())
        .then(|| Bytes::copy_from_slice(unsafe { bytes(reply.mime, reply.mime_len) }));
    let headers = if reply.header_count == 0 {
        &[][..]
    } else {
        unsafe { std::slice::from_raw_parts(reply.headers, reply.header_count) }
    };
    let fields = headers.iter().map(|h| unsafe {
        (
            Bytes::copy_from_slice(bytes(h.name, h.name_len)),
            Bytes::copy_from_slice(bytes(h.value, h.value_len)),
        )
    });
    ReplyHead::from_seed(status, mime, fields, reply.allow_cors).map_err(report)
}

fn give(sink: Sink, ctx: *mut c_void, data: &[u8]) {
    unsafe { sink(ctx, data.as_ptr(), data.len()) }
}

fn give_pair(sink: PairSink, ctx: *mut c_void, key: &[u8], value: QueryValue) {
    let (value, bare) = match &value {
        QueryValue::Bytes(bytes) => (&bytes[..], false),
        QueryValue::Bare => (&[][..], true),
    };
    unsafe {
        sink(
            ctx,
            key.as_ptr(),
            key.len(),
            value.as_ptr(),
            value.len(),
            bare,
        )
    }
}

/// # Safety (every function below)
/// `request` came from the host's `handle` or `authenticate` and was not freed;
/// pointers with lengths point to that many bytes.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_authenticating(request: *const CRequest) -> bool {
    unsafe { &*request }.authenticating
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_method(request: *const CRequest) -> u32 {
    unsafe { &*request }.info.method.bits()
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_uri(
    request: *const CRequest,
    len: *mut usize,
) -> *const c_char {
    let uri = unsafe { &*request }.info.head.target();
    unsafe { *len = uri.len() };
    uri.as_ptr() as *const c_char
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_path(
    request: *const CRequest,
    len: *mut usize,
) -> *const c_char {
    let path = unsafe { &*request }.info.path();
    unsafe { *len = path.len() };
    path.as_ptr() as *const c_char
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_length(request: *const CRequest) -> i64 {
    unsafe { &*request }.info.length()
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_query(
    request: *const CRequest,
    key: *const u8,
    key_len: usize,
    sink: PairSink,
    ctx: *mut c_void,
) -> bool {
    let key = unsafe { bytes(key, key_len) };
    match query::first(unsafe { &*request }.info.query(), key) {
        Some(value) => {
            give_pair(sink, ctx, key, value);
            true
        }
        None => false,
    }
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_parse_qs(
    request: *const CRequest,
    sink: PairSink,
    ctx: *mut c_void,
) {
    for (key, value) in query::parse(unsafe { &*request }.info.query()) {
        give_pair(sink, ctx, &key, value);
    }
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_header(
    request: *const CRequest,
    name: *const c_char,
    sink: Sink,
    ctx: *mut c_void,
) -> bool {
    let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
    match unsafe { &*request }.info.header(&name) {
        Some(value) => {
            give(sink, ctx, value);
            true
        }
        None => false,
    }
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_headers(
    request: *const CRequest,
    sink: PairSink,
    ctx: *mut c_void,
) {
    for (name, value) in unsafe { &*request }.info.headers_joined() {
        give_pair(sink, ctx, name.as_bytes(), QueryValue::Bytes(value));
    }
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_remote(
    request: *const CRequest,
    ip: Sink,
    ctx: *mut c_void,
) -> u16 {
    let remote = unsafe { &*request }.info.remote;
    give(ip, ctx, remote.ip().to_string().as_bytes());
    remote.port()
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_repr(
    request: *const CRequest,
    sink: Sink,
    ctx: *mut c_void,
) {
    let head = &unsafe { &*request }.info.head;
    give(
        sink,
        ctx,
        format!("<uhttpd.Request {} {}>", head.method(), head.target()).as_bytes(),
    );
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_handler_name(
    request: *const CRequest,
    sink: Sink,
    ctx: *mut c_void,
) {
    give(
        sink,
        ctx,
        unsafe { &*request }.info.handler_name().as_bytes(),
    );
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_read(
    request: *mut CRequest,
    len: i64,
    sink: Sink,
    ctx: *mut c_void,
) -> c_int {
    let max = usize::try_from(len).ok();
    match unsafe { &*request }.with_exchange(|x| Ok(x.read_to_end(max)?)) {
        Ok(data) => {
            give(sink, ctx, &data);
            OK
        }
        Err(kind) => kind,
    }
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_readinto(
    request: *mut CRequest,
    buffer: *mut u8,
    room: usize,
    read: *mut usize,
) -> c_int {
    match unsafe { &*request }.with_exchange(|x| Ok(x.read_to_end(Some(room))?)) {
        Ok(data) => {
            if !data.is_empty() {
                unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), buffer, data.len()) };
            }
            unsafe { *read = data.len() };
            OK
        }
        Err(kind) => kind,
    }
}

/// Sends what `send` makes of the reply head `reply` describes.
unsafe fn reply_with(
    request: *mut CRequest,
    reply: *const CReply,
    send: impl FnOnce(&mut uhttpd::Request, ReplyHead) -> uhttpd::Result<()>,
) -> c_int {
    match unsafe { reply_head(&*reply) } {
        Ok(head) => unsafe { &*request }
            .with_exchange(|x| send(x, head))
            .err()
            .unwrap_or(OK),
        Err(kind) => kind,
    }
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_write(
    request: *mut CRequest,
    data: *const u8,
    len: usize,
    reply: *const CReply,
) -> c_int {
    let body = Bytes::copy_from_slice(unsafe { bytes(data, len) });
    unsafe { reply_with(request, reply, |x, head| x.respond(head, body)) }
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_send_chunk(
    request: *mut CRequest,
    data: *const u8,
    len: usize,
    reply: *const CReply,
) -> c_int {
    if data.is_null() {
        return unsafe { reply_with(request, reply, |x, head| x.end_chunks(head)) };
    }
    let chunk = Bytes::copy_from_slice(unsafe { bytes(data, len) });
    unsafe { reply_with(request, reply, |x, head| x.send_chunk(head, chunk)) }
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_send(
    request: *mut CRequest,
    data: *const u8,
    len: usize,
) -> c_int {
    let data = Bytes::copy_from_slice(unsafe { bytes(data, len) });
    unsafe { &*request }
        .with_exchange(|x| x.send_raw(data))
        .err()
        .unwrap_or(OK)
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_finish(request: *mut CRequest, raised: bool) {
    let exchange = unsafe { &*request }
        .exchange
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    // Unanswered: 500 when it raised (the engine's default when dropped).
    // Half answered: cut, so it cannot pass for complete.
    if let (Some(exchange), true) = (exchange, raised) {
        exchange.fail();
    }
}

#[no_mangle]
pub unsafe extern "C" fn uhttpd_request_free(request: *mut CRequest) {
    drop(unsafe { Box::from_raw(request) });
}
