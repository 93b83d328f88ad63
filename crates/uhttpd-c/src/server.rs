//! The seed's `Server`: its constructor and methods over the engine.

use std::ffi::{c_char, c_int, c_void};
use std::path::PathBuf;
use std::sync::Arc;

use uhttpd::{Auth, Config, Methods, SeedAuth};

use crate::error::{report, status, OK};
use crate::host::{from_vm, outside_vm, CAuthenticator, CFileAcl, CHandler, Callback, VmThreads};
use crate::repl::VmInterpreter;
use crate::{bytes, text};

/// `uhttpd_server`: the engine of one `Server` object.
pub struct CServer {
    engine: Arc<uhttpd::Server>,
}

/// `uhttpd_stats`.
#[repr(C)]
pub struct CStats {
    connections: u64,
    event_clients: u64,
    repl_sessions: u64,
    requests: u64,
    status: [u64; 5],
    bytes_in: u64,
    bytes_out: u64,
    rss: u64,
}

/// `uhttpd_route`.
#[repr(C)]
pub struct CRoute {
    url: *const c_char,
    methods: i64,
    callback: *mut c_void,
}

/// `uhttpd_config`.
#[repr(C)]
pub struct CConfig {
    port: i64,
    acl: i64,
    cors: bool,
    routes_kind: c_int,
    routes_slots: i64,
    table: *const CRoute,
    table_len: usize,
    auth_kind: c_int,
    auth_callback: *mut c_void,
    auth_value: *const u8,
    auth_value_len: usize,
    auth_type_name: *const c_char,
    events: i64,
    host: *const c_char,
    root: *const c_char,
    ext: *const c_char,
    has_workers: bool,
    workers: i64,
}

const ROUTES_SLOTS: c_int = 1;
const ROUTES_TABLE: c_int = 2;
const AUTH_CALLBACK: c_int = 1;
const AUTH_VALUE: c_int = 2;
const AUTH_OTHER: c_int = 3;

fn handler(callback: *mut c_void) -> Arc<dyn uhttpd::Handler> {
    Arc::new(CHandler(Callback(callback)))
}

unsafe fn start(config: &CConfig) -> uhttpd::Result<CServer> {
    let port = uhttpd::seed_port(config.port)?;
    let events = uhttpd::seed_events(config.events)?;
    let workers = uhttpd::seed_workers(config.has_workers.then_some(config.workers))?;
    let root = uhttpd::seed_root(unsafe { text(config.root, "root") }?.map(PathBuf::from))?;
    let ext = unsafe { text(config.ext, "ext") }?.map(str::to_owned);
    if let Some(ext) = &ext {
        uhttpd::check_ext_mount(ext)?;
    }
    let seed_auth = match config.auth_kind {
        AUTH_CALLBACK => {
            SeedAuth::Callback(Arc::new(CAuthenticator(Callback(config.auth_callback))))
        }
        AUTH_VALUE => {
            SeedAuth::Value(unsafe { bytes(config.auth_value, config.auth_value_len) }.to_vec())
        }
        AUTH_OTHER => SeedAuth::Other(
            unsafe { text(config.auth_type_name, "type") }?
                .unwrap_or("?")
                .into(),
        ),
        _ => SeedAuth::Absent,
    };
    let auth = Auth::from_seed(config.acl, seed_auth)?;
    let mut table = Vec::new();
    if config.routes_kind == ROUTES_TABLE {
        let routes = if config.table_len == 0 {
            &[][..]
        } else {
            unsafe { std::slice::from_raw_parts(config.table, config.table_len) }
        };
        for route in routes {
            let url = unsafe { text(route.url, "url") }?
                .unwrap_or_default()
                .to_owned();
            table.push((
                url,
                Methods::from_seed(route.methods)?,
                handler(route.callback),
            ));
        }
    }
    let route_slots = match config.routes_kind {
        ROUTES_SLOTS => uhttpd::route_slots(config.routes_slots)?,
        ROUTES_TABLE => uhttpd::table_slots(table.iter().map(|(_, methods, _)| *methods)),
        _ => uhttpd::DEFAULT_ROUTE_SLOTS,
    };
    let has_table = config.routes_kind == ROUTES_TABLE;
    let defaults = Config::default();
    let host = unsafe { text(config.host, "host") }?.map_or(defaults.host.clone(), str::to_owned);
    let config = Config {
        host,
        port,
        cors: config.cors,
        root,
        ext,
        route_slots,
        auth,
        events,
        workers,
        ..defaults
    };
    let engine = outside_vm(|| uhttpd::Server::start(config, Arc::new(VmThreads)))?;
    if has_table {
        // The seed: with a table given, no further route() calls.
        engine.route_table(table)?;
    }
    Ok(CServer {
        engine: Arc::new(engine),
    })
}

/// # Safety
/// `config` is a filled `uhttpd_config`; `server` is writable.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_server_new(
    config: *const CConfig,
    server: *mut *mut CServer,
) -> c_int {
    match from_vm(|| unsafe { start(&*config) }) {
        Ok(started) => {
            unsafe { *server = Box::into_raw(Box::new(started)) };
            OK
        }
        Err(error) => report(error),
    }
}

/// The server behind a handle, unless it was closed.
unsafe fn open<'a>(server: *mut CServer) -> uhttpd::Result<&'a Arc<uhttpd::Server>> {
    let engine = &unsafe { &*server }.engine;
    if engine.is_closed() {
        return Err(uhttpd::Error::ServerClosed);
    }
    Ok(engine)
}

/// # Safety
/// `server` came from `uhttpd_server_new` and is not used after.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_server_free(server: *mut CServer) {
    let server = unsafe { Box::from_raw(server) };
    from_vm(|| outside_vm(|| server.engine.close()));
}

/// # Safety
/// `server` came from `uhttpd_server_new`.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_server_close(server: *mut CServer) {
    let engine = unsafe { &*server }.engine.clone();
    from_vm(|| outside_vm(|| engine.close()));
}

/// # Safety
/// `server` came from `uhttpd_server_new`.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_server_closed(server: *mut CServer) -> bool {
    unsafe { &*server }.engine.is_closed()
}

/// # Safety
/// `server` came from `uhttpd_server_new`; `port` is writable.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_server_port(server: *mut CServer, port: *mut u16) -> c_int {
    match unsafe { open(server) } {
        Ok(engine) => {
            unsafe { *port = engine.port() };
            OK
        }
        Err(error) => report(error),
    }
}

/// # Safety
/// `server` came from `uhttpd_server_new`; `url` is a C string.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_server_route(
    server: *mut CServer,
    url: *const c_char,
    methods: i64,
    callback: *mut c_void,
) -> c_int {
    status((|| {
        let methods = Methods::from_seed(methods)?;
        let url = unsafe { text(url, "url") }?.unwrap_or_default();
        unsafe { open(server) }?.route(url, methods, handler(callback))
    })())
}

/// # Safety
/// `server` came from `uhttpd_server_new`; strings are C strings or NULL.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_server_serve(
    server: *mut CServer,
    prefix: *const c_char,
    base: *const c_char,
    dirs: bool,
    ext: bool,
) -> c_int {
    status((|| {
        let prefix = unsafe { text(prefix, "prefix") }?;
        let base = unsafe { text(base, "base") }?;
        unsafe { &*server }.engine.serve(prefix, base, dirs, ext)
    })())
}

/// # Safety
/// `server` came from `uhttpd_server_new`; `prefix` is a C string or NULL.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_server_receive(
    server: *mut CServer,
    dynamic: bool,
    prefix: *const c_char,
    extonly: bool,
    delete: bool,
) -> c_int {
    status((|| {
        let prefix = unsafe { text(prefix, "prefix") }?;
        unsafe { &*server }
            .engine
            .receive(dynamic, prefix, extonly, delete)
    })())
}

/// # Safety
/// `server` came from `uhttpd_server_new`.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_server_file_acl(
    server: *mut CServer,
    callback: *mut c_void,
) -> c_int {
    status((|| {
        let acl = CFileAcl(Callback(callback));
        unsafe { open(server) }?.set_file_acl(Some(Arc::new(acl)));
        Ok(())
    })())
}

/// # Safety
/// `server` came from `uhttpd_server_new`; `url` is a C string.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_server_event(server: *mut CServer, url: *const c_char) -> c_int {
    status((|| {
        let url = unsafe { text(url, "url") }?.unwrap_or_default();
        unsafe { &*server }.engine.event(url).map(drop)
    })())
}

/// # Safety
/// `server` came from `uhttpd_server_new`; `data` holds `len` bytes;
/// `event` is a C string or NULL; `delivered` is writable.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_server_dispatch(
    server: *mut CServer,
    data: *const u8,
    len: usize,
    event: *const c_char,
    delivered: *mut bool,
) -> c_int {
    let result = (|| {
        let event = unsafe { text(event, "event") }?;
        let data = unsafe { bytes(data, len) };
        unsafe { &*server }.engine.dispatch(data, event)
    })();
    match result {
        Ok(sent) => {
            unsafe { *delivered = sent };
            OK
        }
        Err(error) => report(error),
    }
}

/// # Safety
/// `server` came from `uhttpd_server_new`; strings are C strings or NULL.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_server_ws(
    server: *mut CServer,
    url: *const c_char,
    password: *const c_char,
) -> c_int {
    status((|| {
        let url = unsafe { text(url, "url") }?.unwrap_or_default();
        let password = unsafe { text(password, "pwd") }?.map(str::to_owned);
        let engine = unsafe { open(server) }?;
        from_vm(|| engine.webrepl(url, password, Arc::new(VmInterpreter::default())))
    })())
}

/// # Safety
/// `server` came from `uhttpd_server_new`; `stats` is writable.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_server_stats(server: *mut CServer, stats: *mut CStats) -> c_int {
    match unsafe { open(server) } {
        Ok(engine) => {
            let now = engine.stats();
            unsafe {
                *stats = CStats {
                    connections: now.connections,
                    event_clients: now.event_clients,
                    repl_sessions: now.repl_sessions,
                    requests: now.requests,
                    status: now.status,
                    bytes_in: now.bytes_in,
                    bytes_out: now.bytes_out,
                    rss: now.rss,
                }
            };
            OK
        }
        Err(error) => report(error),
    }
}
