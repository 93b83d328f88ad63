//! The WebREPL's interpreter on the VM: the engine's friendly console (line
//! editor, paste, raw and raw-paste modes) runs each statement through the
//! host's `repl_*` entry points, in `__main__`, on the session's executor
//! thread (a VM thread). What the program prints reaches the session
//! through the face's dupterm stream ([`uhttpd_repl_output`]).

use std::cell::Cell;
use std::ffi::c_void;
use std::sync::Mutex;

use uhttpd::repl::{Interpreter, Terminal};

use crate::host::{collect, host, inside_vm, outside_vm, Sink};

/// The attached session's terminal (one WebREPL per process).
static TERMINAL: Mutex<Option<Terminal>> = Mutex::new(None);

thread_local! {
    /// This thread is running the REPL's code: what it prints is the
    /// session's own output and waits for a slow client.
    static RUNNING_REPL_CODE: Cell<bool> = const { Cell::new(false) };
}

/// Statements entered line by line until one is complete.
#[derive(Default)]
pub struct VmInterpreter {
    pending: Mutex<String>,
}

impl VmInterpreter {
    fn exec(&self, source: &str, file: bool, error: Option<&mut Vec<u8>>) -> bool {
        RUNNING_REPL_CODE.with(|r| r.set(true));
        let (sink, ctx): (Option<Sink>, *mut c_void) = match error {
            Some(text) => (Some(collect), text as *mut Vec<u8> as *mut c_void),
            None => (None, std::ptr::null_mut()),
        };
        let raised = inside_vm(|| unsafe {
            (host().repl_exec)(source.as_ptr(), source.len(), file, sink, ctx)
        });
        RUNNING_REPL_CODE.with(|r| r.set(false));
        raised
    }
}

impl Interpreter for VmInterpreter {
    fn attach(&self, terminal: Terminal) {
        *TERMINAL.lock().unwrap_or_else(|e| e.into_inner()) = Some(terminal);
        inside_vm(|| unsafe { (host().repl_attach)() });
    }

    fn run(&self, source: &str, block: bool) -> bool {
        if block {
            self.exec(source, true, None);
            return false;
        }
        let statement = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if !pending.is_empty() {
                pending.push('\n');
            }
            pending.push_str(source);
            let continues =
                inside_vm(|| unsafe { (host().repl_continues)(pending.as_ptr(), pending.len()) });
            if continues {
                return true;
            }
            std::mem::take(&mut *pending)
        };
        self.exec(&statement, false, None);
        false
    }

    fn run_program(&self, source: &str) -> Option<String> {
        let mut error = Vec::new();
        self.exec(source, true, Some(&mut error))
            .then(|| String::from_utf8_lossy(&error).into_owned())
    }

    fn banner(&self) -> String {
        let mut banner = Vec::new();
        inside_vm(|| unsafe {
            (host().repl_banner)(collect, &mut banner as *mut Vec<u8> as *mut c_void)
        });
        String::from_utf8_lossy(&banner).into_owned()
    }

    fn reset(&self) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn interrupt(&self) {
        unsafe { (host().repl_interrupt)() }
    }

    fn detach(&self) {
        inside_vm(|| unsafe { (host().repl_detach)() });
        *TERMINAL.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.reset();
    }
}

/// # Safety
/// `data` points to `len` bytes. Called holding the VM lock.
#[no_mangle]
pub unsafe extern "C" fn uhttpd_repl_output(data: *const u8, len: usize) {
    let Some(terminal) = TERMINAL.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
        return;
    };
    let text = String::from_utf8_lossy(unsafe { crate::bytes(data, len) }).into_owned();
    if RUNNING_REPL_CODE.with(Cell::get) {
        crate::host::from_vm(|| outside_vm(|| terminal.write(&text)));
    } else {
        terminal.offer(&text);
    }
}
