//! The host's entry points (`uhttpd_host`): the threads the engine starts
//! for host code, and the route, AUTH_CUSTOM and file ACL callbacks.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::io;
use std::sync::{Arc, OnceLock};

use uhttpd::{AclDecision, AclVerdict, AuthDecision, CustomVerdict, RequestInfo, WorkerHooks};

use crate::logger;
use crate::request::CRequest;

/// `uhttpd_sink`.
pub type Sink = unsafe extern "C" fn(ctx: *mut c_void, data: *const u8, len: usize);
/// `uhttpd_pair_sink`.
pub type PairSink = unsafe extern "C" fn(
    ctx: *mut c_void,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    bare: bool,
);

/// `uhttpd_host`, field for field.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Host {
    pub spawn:
        unsafe extern "C" fn(work: unsafe extern "C" fn(*mut c_void), arg: *mut c_void) -> c_int,
    pub enter: unsafe extern "C" fn(),
    pub leave: unsafe extern "C" fn(),
    pub handle: unsafe extern "C" fn(callback: *mut c_void, request: *mut CRequest),
    pub authenticate: unsafe extern "C" fn(
        callback: *mut c_void,
        request: *mut CRequest,
        verdict: *mut i64,
        shown: Sink,
        ctx: *mut c_void,
    ) -> c_int,
    pub file_acl: unsafe extern "C" fn(
        callback: *mut c_void,
        path: *const u8,
        len: usize,
        verdict: *mut i64,
    ) -> c_int,
    pub repl_attach: unsafe extern "C" fn(),
    pub repl_detach: unsafe extern "C" fn(),
    pub repl_continues: unsafe extern "C" fn(source: *const u8, len: usize) -> bool,
    pub repl_exec: unsafe extern "C" fn(
        source: *const u8,
        len: usize,
        file: bool,
        error: Option<Sink>,
        ctx: *mut c_void,
    ) -> bool,
    pub repl_interrupt: unsafe extern "C" fn(),
    pub repl_banner: unsafe extern "C" fn(sink: Sink, ctx: *mut c_void),
}

static HOST: OnceLock<Host> = OnceLock::new();

/// The host's entry points; `uhttpd_init` comes first.
pub fn host() -> &'static Host {
    HOST.get()
        .expect("uhttpd_init() is called before anything else")
}

/// # Safety
/// `host` points to a filled `uhttpd_host` whose functions stay valid.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_init(host: *const Host) {
    if HOST.set(unsafe { *host }).is_ok() {
        logger::start();
    }
}

thread_local! {
    /// This thread holds the VM lock (taken through [`inside_vm`]).
    static HOLDING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the VM lock let go, if this thread holds it.
pub fn outside_vm<R>(f: impl FnOnce() -> R) -> R {
    if !HOLDING.with(Cell::get) {
        return f();
    }
    let host = host();
    HOLDING.with(|h| h.set(false));
    unsafe { (host.leave)() };
    let result = f();
    unsafe { (host.enter)() };
    HOLDING.with(|h| h.set(true));
    result
}

/// Runs `f` holding the VM lock (taken unless this thread already holds it).
pub fn inside_vm<R>(f: impl FnOnce() -> R) -> R {
    if HOLDING.with(Cell::get) {
        return f();
    }
    let host = host();
    unsafe { (host.enter)() };
    HOLDING.with(|h| h.set(true));
    let result = f();
    HOLDING.with(|h| h.set(false));
    unsafe { (host.leave)() };
    result
}

/// Collects what a sink receives.
pub unsafe extern "C" fn collect(ctx: *mut c_void, data: *const u8, len: usize) {
    let into = unsafe { &mut *(ctx as *mut Vec<u8>) };
    into.extend_from_slice(unsafe { crate::bytes(data, len) });
}

/// The VM's threads: started by the host (so its garbage collector scans
/// them), holding the VM lock while they run host code.
pub struct VmThreads;

type Work = Box<dyn FnOnce() + Send>;

unsafe extern "C" fn run_work(arg: *mut c_void) {
    // The host's thread masks signals as its VM needs (MicroPython's
    // garbage collector signals each thread to scan its stack).
    let work = unsafe { Box::from_raw(arg as *mut Work) };
    work();
}

impl WorkerHooks for VmThreads {
    fn spawn(&self, _name: &str, work: Box<dyn FnOnce() + Send>) -> io::Result<()> {
        let arg = Box::into_raw(Box::new(work)) as *mut c_void;
        match unsafe { (host().spawn)(run_work, arg) } {
            0 => Ok(()),
            errno => {
                drop(unsafe { Box::from_raw(arg as *mut Work) });
                Err(io::Error::from_raw_os_error(errno))
            }
        }
    }

    fn run(&self, work: &mut dyn FnMut()) {
        inside_vm(work)
    }

    fn wait(&self, wait: &mut (dyn FnMut() + Send)) {
        outside_vm(wait)
    }
}

/// A VM object the engine holds for the face. The face keeps it alive
/// (reachable from the server object) for as long as the server runs.
#[derive(Clone, Copy)]
pub struct Callback(pub *mut c_void);
// SAFETY: only ever used holding the VM lock, on VM threads.
unsafe impl Send for Callback {}
unsafe impl Sync for Callback {}

/// A route's callback.
pub struct CHandler(pub Callback);

impl uhttpd::Handler for CHandler {
    fn handle(&self, exchange: uhttpd::Request) {
        let request = CRequest::handling(exchange);
        unsafe { (host().handle)(self.0 .0, Box::into_raw(Box::new(request))) };
    }
}

/// An AUTH_CUSTOM callback, judged by [`CustomVerdict::decision`].
pub struct CAuthenticator(pub Callback);

impl uhttpd::Authenticator for CAuthenticator {
    fn authenticate(&self, info: &Arc<RequestInfo>) -> AuthDecision {
        let request = Box::into_raw(Box::new(CRequest::authenticating(info.clone())));
        let mut value = 0i64;
        let mut shown = Vec::new();
        let kind = inside_vm(|| unsafe {
            (host().authenticate)(
                self.0 .0,
                request,
                &mut value,
                collect,
                &mut shown as *mut Vec<u8> as *mut c_void,
            )
        });
        let verdict = match kind {
            VERDICT_INT => CustomVerdict::Int(Some(value)),
            VERDICT_BIG_INT => CustomVerdict::Int(None),
            VERDICT_FALSY => CustomVerdict::Other(false),
            VERDICT_TRUTHY => CustomVerdict::Other(true),
            _ => return AuthDecision::Deny(401),
        };
        if verdict.is_not_a_status() {
            uhttpd::log_not_a_status(&String::from_utf8_lossy(&shown));
        }
        verdict.decision()
    }
}

/// The seed's `file_acl(cb)`, judged by [`AclVerdict::decision`].
pub struct CFileAcl(pub Callback);

impl uhttpd::FileAcl for CFileAcl {
    fn check(&self, path: &str) -> AclDecision {
        let mut value = 0i64;
        let kind = inside_vm(|| unsafe {
            (host().file_acl)(self.0 .0, path.as_ptr(), path.len(), &mut value)
        });
        match kind {
            VERDICT_RAISED => AclDecision::Deny(500),
            VERDICT_INT => AclVerdict::Int(Some(value)).decision(),
            VERDICT_BIG_INT => AclVerdict::Int(None).decision(),
            _ => AclVerdict::Other.decision(),
        }
    }
}

const VERDICT_RAISED: c_int = 0;
const VERDICT_INT: c_int = 1;
const VERDICT_BIG_INT: c_int = 2;
const VERDICT_FALSY: c_int = 3;
const VERDICT_TRUTHY: c_int = 4;

/// Runs `f` for VM code calling in: the caller holds the VM lock, which
/// [`outside_vm`] lets go while `f` waits.
pub fn from_vm<R>(f: impl FnOnce() -> R) -> R {
    let held = HOLDING.with(|h| h.replace(true));
    let result = f();
    HOLDING.with(|h| h.set(held));
    result
}
