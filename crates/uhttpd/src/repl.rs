//! MicroPython's WebREPL over a WebSocket session: the password prompt, the
//! terminal (text frames, through the line editor) and the `WA`/`WB` file
//! transfer protocol (binary frames), confined to root and the file ACL.
//! Code runs on an executor thread through an [`Interpreter`], so Ctrl-C
//! reaches running code while the session thread keeps reading.

use std::fs::File;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use subtle::ConstantTimeEq;

use crate::acl::{Access, AclSlot};
use crate::fs::{DeviceFs, VirtualPath};
use crate::lineedit::{Edit, LineEditor};
use crate::upload::PendingUpload;
use crate::ws::{WsHandler, WsMessage, WsSender, WsSession};

pub const PASSWORD_PROMPT: &str = "Password: ";
pub const CONNECTED: &str = "\r\nWebREPL connected\r\n>>> ";
pub const DENIED: &str = "\r\nAccess denied\r\n";
pub const BUSY: &str = "\r\nConcurrent WebREPL connection rejected\r\n";
pub const PROMPT: &str = ">>> ";
pub const CONTINUATION: &str = "... ";

/// Time a new session waits for the previous one to wind down: a client that
/// reconnects at once arrives before its old session has ended.
pub const SESSION_PLACE_WAIT: Duration = Duration::from_secs(1);

/// Delay before answering a wrong password: with one session at a time this
/// caps guessing at about one password a second.
pub const WRONG_PASSWORD_DELAY: Duration = Duration::from_secs(1);

/// Longest password line read before it is judged (MicroPython keeps 9 characters;
/// we compare whole passwords of any sane length).
pub const MAX_PASSWORD_BYTES: usize = 256;

/// Size of the `WA` request: `<2sBBQLH64s`.
pub const WA_REQUEST_BYTES: usize = 82;

/// File data per `get` frame: each frame is `u16 length + data`, and
/// `webrepl_cli.py` reads no frame of 64 KiB or more.
pub const GET_CHUNK_BYTES: usize = 16 * 1024;

/// Largest text frame sent (same client limit).
pub const MAX_TEXT_FRAME_BYTES: usize = 16 * 1024;

/// The version `get-version` reports.
pub const VERSION: [u8; 3] = [0, 1, 0];

const WA_PUT: u8 = 1;
const WA_GET: u8 = 2;
const WA_VERSION: u8 = 3;

/// The Python (or other) interpreter behind the terminal.
pub trait Interpreter: Send + Sync + 'static {
    /// A session begins: what the REPL and the program print now also goes to `terminal`.
    fn attach(&self, terminal: Terminal);
    /// Runs a line (`block`: a paste-mode block) on the executor thread; true
    /// when a statement continues and more lines are needed.
    fn run(&self, source: &str, block: bool) -> bool;
    /// Drops a half-entered statement.
    fn reset(&self);
    /// Raises KeyboardInterrupt in the code `run` is executing.
    fn interrupt(&self);
    /// The session ended.
    fn detach(&self);
}

/// Terminal output: a bare `\n` becomes `\r\n`, long text is split into
/// frames the clients can read.
#[derive(Clone)]
pub struct Terminal(WsSender);

impl Terminal {
    /// Writes, waiting for a slow client (REPL output).
    pub fn write(&self, text: &str) -> bool {
        split_frames(&crlf(text))
            .into_iter()
            .all(|frame| self.0.text(frame).is_ok())
    }

    /// Writes without waiting: output a program prints is dropped, not
    /// delayed, when the client lags behind.
    pub fn offer(&self, text: &str) {
        for frame in split_frames(&crlf(text)) {
            if self.0.try_send(WsMessage::Text(frame)).is_err() {
                return;
            }
        }
    }
}

/// Terminal line ends: `\n` alone becomes `\r\n`; `\r\n` stays as it is.
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

fn split_frames(text: &str) -> Vec<String> {
    let mut frames = Vec::new();
    let mut rest = text;
    while rest.len() > MAX_TEXT_FRAME_BYTES {
        let mut cut = MAX_TEXT_FRAME_BYTES;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        frames.push(rest[..cut].to_string());
        rest = &rest[cut..];
    }
    if !rest.is_empty() {
        frames.push(rest.to_string());
    }
    frames
}

/// The `ws(url, pwd)` endpoint.
pub struct WebRepl {
    password: Option<String>,
    fs: DeviceFs,
    acl: AclSlot,
    interpreter: Arc<dyn Interpreter>,
    /// One session at a time.
    in_session: Mutex<bool>,
    place_freed: Condvar,
}

impl WebRepl {
    pub fn new(
        password: Option<String>,
        fs: DeviceFs,
        acl: AclSlot,
        interpreter: Arc<dyn Interpreter>,
    ) -> WebRepl {
        WebRepl {
            password,
            fs,
            acl,
            interpreter,
            in_session: Mutex::new(false),
            place_freed: Condvar::new(),
        }
    }
}

/// The one-session place; frees itself however the session ends.
struct SessionPlace<'a>(&'a WebRepl);

impl<'a> SessionPlace<'a> {
    /// Takes the place, waiting up to `wait` for a previous session to end.
    fn take(repl: &'a WebRepl, wait: Duration) -> Option<SessionPlace<'a>> {
        let taken = repl.in_session.lock().unwrap_or_else(|e| e.into_inner());
        let (mut taken, _) = repl
            .place_freed
            .wait_timeout_while(taken, wait, |taken| *taken)
            .unwrap_or_else(|e| e.into_inner());
        if *taken {
            return None;
        }
        *taken = true;
        Some(SessionPlace(repl))
    }
}

impl Drop for SessionPlace<'_> {
    fn drop(&mut self) {
        *self.0.in_session.lock().unwrap_or_else(|e| e.into_inner()) = false;
        self.0.place_freed.notify_one();
    }
}

enum Work {
    Run(String, bool),
    Reset,
}

impl WsHandler for WebRepl {
    fn webrepl_compatible(&self) -> bool {
        true
    }

    fn session(&self, mut session: WsSession) {
        let out = session.sender();
        let remote = session.info().remote;
        let Some(_place) = SessionPlace::take(self, SESSION_PLACE_WAIT) else {
            log::warn!(target: "uhttpd", "{remote}: WebREPL refused, a session is already open");
            let _ = out.text(BUSY);
            return;
        };
        let _ = out.text(PASSWORD_PROMPT);
        let Some(given) = read_password(&mut session) else {
            return;
        };
        if !self.password_matches(&given) {
            log::warn!(target: "uhttpd", "{remote}: WebREPL login refused");
            thread::sleep(WRONG_PASSWORD_DELAY);
            let _ = out.text(DENIED);
            return;
        }
        log::info!(target: "uhttpd", "{remote}: WebREPL session opened");
        let terminal = Terminal(out.clone());
        self.interpreter.attach(terminal.clone());
        let _ = out.text(CONNECTED);
        let editor = Arc::new(Mutex::new(LineEditor::new()));
        let busy = Arc::new(AtomicBool::new(false));
        let (work_tx, work_rx) = std_mpsc::channel::<Work>();
        let executor = {
            let (interpreter, terminal) = (self.interpreter.clone(), terminal.clone());
            let (editor, busy) = (editor.clone(), busy.clone());
            thread::Builder::new()
                .name("uhttpd-repl".into())
                .spawn(move || {
                    crate::pool::block_async_signals();
                    execute(&*interpreter, &terminal, &editor, &busy, work_rx)
                })
        };
        let mut transfer = Transfer::default();
        while let Some(message) = session.recv() {
            match message {
                WsMessage::Text(text) => {
                    let edits = lock(&editor).feed(text.as_bytes());
                    if !self.apply(edits, &terminal, &busy, &work_tx) {
                        break;
                    }
                }
                WsMessage::Binary(data) => transfer.feed(&data, &out, self),
            }
        }
        drop(work_tx);
        if busy.load(Ordering::SeqCst) {
            self.interpreter.interrupt();
        }
        if let Ok(executor) = executor {
            let _ = executor.join();
        }
        self.interpreter.detach();
        log::info!(target: "uhttpd", "{remote}: WebREPL session closed");
    }
}

fn lock(editor: &Mutex<LineEditor>) -> std::sync::MutexGuard<'_, LineEditor> {
    editor.lock().unwrap_or_else(|e| e.into_inner())
}

/// The executor thread: runs what was entered, then prompts.
fn execute(
    interpreter: &dyn Interpreter,
    terminal: &Terminal,
    editor: &Mutex<LineEditor>,
    busy: &AtomicBool,
    work: std_mpsc::Receiver<Work>,
) {
    while let Ok(job) = work.recv() {
        let continued = match job {
            Work::Run(source, block) => {
                busy.store(true, Ordering::SeqCst);
                let more = interpreter.run(&source, block);
                busy.store(false, Ordering::SeqCst);
                (more && !block).then_some(source)
            }
            Work::Reset => {
                interpreter.reset();
                None
            }
        };
        let prompt = match continued {
            Some(line) => format!(
                "{CONTINUATION}{}",
                lock(editor).prefill(&auto_indent(&line))
            ),
            None => PROMPT.to_string(),
        };
        terminal.write(&prompt);
    }
}

/// MicroPython's auto-indent: the previous line's indent, one level more after `:`.
fn auto_indent(previous: &str) -> String {
    let indent = previous.len() - previous.trim_start_matches(' ').len();
    let deeper = previous.trim_end().ends_with(':');
    " ".repeat(indent / 4 * 4 + if deeper { 4 } else { 0 })
}

impl WebRepl {
    fn password_matches(&self, given: &[u8]) -> bool {
        match &self.password {
            // An open REPL (`ws(url, None)`): any answer to the prompt logs in.
            None => true,
            Some(expected) => bool::from(expected.as_bytes().ct_eq(given)),
        }
    }

    /// Acts on editor output; false when the session should end.
    fn apply(
        &self,
        edits: Vec<Edit>,
        terminal: &Terminal,
        busy: &AtomicBool,
        work: &std_mpsc::Sender<Work>,
    ) -> bool {
        for edit in edits {
            match edit {
                Edit::Echo(text) => {
                    terminal.write(&text);
                }
                Edit::Line(line) => {
                    // A line of auto-indent alone is a blank line: it ends the block.
                    let line = if line.trim().is_empty() {
                        String::new()
                    } else {
                        line
                    };
                    let _ = work.send(Work::Run(line, false));
                }
                Edit::Block(block) => {
                    let _ = work.send(Work::Run(block, true));
                }
                Edit::Interrupt if busy.load(Ordering::SeqCst) => self.interpreter.interrupt(),
                Edit::Interrupt => {
                    let _ = work.send(Work::Reset);
                }
                Edit::End => return false,
            }
        }
        true
    }

    fn check(&self, vpath: &VirtualPath, access: Access) -> Result<(), u16> {
        let acl = self.acl.read().unwrap_or_else(|e| e.into_inner()).clone();
        match acl {
            Some(acl) => acl.check(&vpath.to_string()).permits(access),
            None => Ok(()),
        }
    }
}

/// Collects the password line from text or binary frames (webrepl_cli sends binary).
fn read_password(session: &mut WsSession) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    loop {
        let data = match session.recv()? {
            WsMessage::Text(text) => text.into_bytes(),
            WsMessage::Binary(data) => data.to_vec(),
        };
        for byte in data {
            if byte == b'\r' || byte == b'\n' {
                return Some(line);
            }
            if line.len() < MAX_PASSWORD_BYTES {
                line.push(byte);
            }
        }
    }
}

/// The `WA` request.
#[derive(Debug, PartialEq, Eq)]
pub struct WaRequest {
    pub op: u8,
    pub size: u32,
    pub name: String,
}

/// Parses the 82-byte `<2sBBQLH64s` request; `None` if it is not one.
pub fn parse_wa(request: &[u8]) -> Option<WaRequest> {
    if request.len() != WA_REQUEST_BYTES || &request[..2] != b"WA" {
        return None;
    }
    let size = u32::from_le_bytes(request[12..16].try_into().ok()?);
    let field = &request[18..];
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let name = String::from_utf8(field[..end].to_vec()).ok()?;
    Some(WaRequest {
        op: request[2],
        size,
        name,
    })
}

/// `WB` and a little-endian status (0: done).
fn wb(status: u16) -> Bytes {
    let code = status.to_le_bytes();
    Bytes::copy_from_slice(&[b'W', b'B', code[0], code[1]])
}

/// Status sent for a refused transfer; the HTTP-like code goes to the log.
const WB_REFUSED: u16 = 1;

#[derive(Default)]
enum TransferState {
    #[default]
    Idle,
    Receiving(PendingUpload, u64),
    Sending(File),
}

/// The binary side of a session: a byte stream that ignores frame boundaries.
#[derive(Default)]
struct Transfer {
    pending: Vec<u8>,
    state: TransferState,
}

impl Transfer {
    fn feed(&mut self, data: &[u8], out: &WsSender, repl: &WebRepl) {
        self.pending.extend_from_slice(data);
        loop {
            match &mut self.state {
                TransferState::Idle => {
                    if self.pending.len() < WA_REQUEST_BYTES {
                        return;
                    }
                    let request: Vec<u8> = self.pending.drain(..WA_REQUEST_BYTES).collect();
                    self.start(&request, out, repl);
                }
                TransferState::Receiving(upload, left) => {
                    let take = (*left).min(self.pending.len() as u64) as usize;
                    let chunk: Vec<u8> = self.pending.drain(..take).collect();
                    let written = upload.write(&chunk);
                    *left -= take as u64;
                    if written.is_err() {
                        log::warn!(target: "uhttpd", "WebREPL put failed while writing");
                        self.state = TransferState::Idle;
                        let _ = out.binary(wb(WB_REFUSED));
                    } else if *left == 0 {
                        self.finish_put(out);
                    } else {
                        return;
                    }
                }
                TransferState::Sending(file) => {
                    let Some(&ack) = self.pending.first() else {
                        return;
                    };
                    self.pending.remove(0);
                    if ack != 0 {
                        self.state = TransferState::Idle;
                        continue;
                    }
                    let mut chunk = vec![0u8; GET_CHUNK_BYTES];
                    let n = file.read(&mut chunk).unwrap_or(0);
                    let mut frame = Vec::with_capacity(n + 2);
                    frame.extend_from_slice(&(n as u16).to_le_bytes());
                    frame.extend_from_slice(&chunk[..n]);
                    let _ = out.binary(frame);
                    if n == 0 {
                        self.state = TransferState::Idle;
                        let _ = out.binary(wb(0));
                    }
                }
            }
        }
    }

    fn start(&mut self, request: &[u8], out: &WsSender, repl: &WebRepl) {
        let Some(request) = parse_wa(request) else {
            let _ = out.binary(wb(WB_REFUSED));
            return;
        };
        if request.op == WA_VERSION {
            let _ = out.binary(Bytes::from_static(&VERSION));
            return;
        }
        let opened = match request.op {
            WA_PUT => self.open_put(&request, repl),
            WA_GET => self.open_get(&request, repl),
            _ => Err(400),
        };
        match opened {
            Ok(()) => {
                let _ = out.binary(wb(0));
                if matches!(self.state, TransferState::Receiving(_, 0)) {
                    self.finish_put(out);
                }
            }
            Err(code) => {
                log::warn!(target: "uhttpd", "WebREPL transfer of {:?} refused ({code})", request.name);
                let _ = out.binary(wb(WB_REFUSED));
            }
        }
    }

    fn target(request: &WaRequest, repl: &WebRepl, access: Access) -> Result<VirtualPath, u16> {
        let vpath = VirtualPath::from_device(&request.name).map_err(|_| 400u16)?;
        repl.check(&vpath, access)?;
        Ok(vpath)
    }

    fn open_put(&mut self, request: &WaRequest, repl: &WebRepl) -> Result<(), u16> {
        let vpath = Self::target(request, repl, Access::Write)?;
        let upload = PendingUpload::begin(&repl.fs, &vpath)?;
        self.state = TransferState::Receiving(upload, u64::from(request.size));
        Ok(())
    }

    fn open_get(&mut self, request: &WaRequest, repl: &WebRepl) -> Result<(), u16> {
        let vpath = Self::target(request, repl, Access::Read)?;
        let file = repl.fs.open_read(&vpath).map_err(|_| 404u16)?;
        if !file.metadata().map_err(|_| 404u16)?.is_file() {
            return Err(404);
        }
        self.state = TransferState::Sending(file);
        Ok(())
    }

    fn finish_put(&mut self, out: &WsSender) {
        let status = match std::mem::take(&mut self.state) {
            TransferState::Receiving(upload, _) => match upload.commit() {
                Ok(_) => 0,
                Err(_) => WB_REFUSED,
            },
            _ => WB_REFUSED,
        };
        let _ = out.binary(wb(status));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(op: u8, size: u32, name: &str) -> Vec<u8> {
        let mut rec = b"WA".to_vec();
        rec.extend_from_slice(&[op, 0]);
        rec.extend_from_slice(&0u64.to_le_bytes());
        rec.extend_from_slice(&size.to_le_bytes());
        rec.extend_from_slice(&(name.len() as u16).to_le_bytes());
        let mut field = name.as_bytes().to_vec();
        field.resize(64, 0);
        rec.extend_from_slice(&field);
        rec
    }

    #[test]
    fn wa_requests_parse_like_the_struct() {
        let rec = request(WA_PUT, 1234, "/lib/x.py");
        assert_eq!(rec.len(), WA_REQUEST_BYTES);
        assert_eq!(
            parse_wa(&rec),
            Some(WaRequest {
                op: WA_PUT,
                size: 1234,
                name: "/lib/x.py".into()
            })
        );
        assert_eq!(parse_wa(&rec[..81]), None);
        let mut bad = rec.clone();
        bad[0] = b'X';
        assert_eq!(parse_wa(&bad), None);
        assert_eq!(&wb(1)[..], b"WB\x01\x00");
    }

    #[test]
    fn auto_indent_follows_micropython() {
        assert_eq!(auto_indent("for i in x:"), "    ");
        assert_eq!(auto_indent("    if y:"), "        ");
        assert_eq!(auto_indent("    pass"), "    ");
        assert_eq!(auto_indent("x = 1"), "");
    }

    #[test]
    fn line_ends_become_crlf_once() {
        assert_eq!(crlf("a\nb\r\nc\n"), "a\r\nb\r\nc\r\n");
    }

    #[test]
    fn long_text_splits_on_char_boundaries() {
        let text = "é".repeat(MAX_TEXT_FRAME_BYTES);
        let frames = split_frames(&text);
        assert!(frames.iter().all(|f| f.len() <= MAX_TEXT_FRAME_BYTES));
        assert_eq!(frames.concat(), text);
    }
}
