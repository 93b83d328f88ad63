//! MicroPython's WebREPL over a WebSocket session: the password prompt, the
//! terminal (text frames, through the line editor) and the `WA`/`WB` file
//! transfer protocol (binary frames), confined to root and the file ACL.
//! Code runs on an executor thread through an [`Interpreter`], so Ctrl-C
//! reaches running code while the session thread keeps reading.

use std::fs::File;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{mpsc as std_mpsc, Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use subtle::ConstantTimeEq;

use crate::acl::{Access, AclSlot};
use crate::drivers::websocket::{WsHandler, WsMessage, WsSender, WsSession};
use crate::fs::PendingUpload;
use crate::fs::{DeviceFs, VirtualPath};
use crate::limits;
use crate::lineedit::{Edit, LineEditor};

pub const PASSWORD_PROMPT: &str = "Password: ";
pub const CONNECTED: &str = "\r\nWebREPL connected\r\n>>> ";
pub const DENIED: &str = "\r\nAccess denied\r\n";
pub const BUSY: &str = "\r\nConcurrent WebREPL connection rejected\r\n";
pub const PROMPT: &str = ">>> ";
pub const CONTINUATION: &str = "... ";

/// Time a new session waits for the previous one to wind down: a client that
/// reconnects at once arrives before its old session has ended.
pub const SESSION_PLACE_WAIT: Duration = Duration::from_secs(1);

/// Delay before answering a wrong password. Wrong answers are judged one at a
/// time, however many clients are at the prompt, so this caps guessing at
/// about one password a second.
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
    /// One authenticated session at a time.
    in_session: Mutex<bool>,
    place_freed: Condvar,
    /// Clients at the password prompt now, at most `max_prompts`.
    prompts: AtomicUsize,
    max_prompts: usize,
    prompt_timeout: Duration,
    /// Held while a wrong password is answered: guesses are judged one at a time.
    judging: Mutex<()>,
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
            prompts: AtomicUsize::new(0),
            max_prompts: limits::MAX_PASSWORD_PROMPTS,
            prompt_timeout: limits::PASSWORD_PROMPT_TIMEOUT,
            judging: Mutex::new(()),
        }
    }
}

/// The one-session place of a logged-in client; frees itself however the
/// session ends.
struct SessionPlace<'a>(&'a WebRepl);

impl<'a> SessionPlace<'a> {
    /// Takes the place, waiting up to `wait` for a previous session to end.
    fn take(repl: &'a WebRepl, wait: Duration) -> Option<SessionPlace<'a>> {
        let mut taken = Self::wait_free(repl, wait)?;
        *taken = true;
        Some(SessionPlace(repl))
    }

    /// Waits up to `wait` for no session to be open; the lock, or `None` if one still is.
    fn wait_free(repl: &WebRepl, wait: Duration) -> Option<std::sync::MutexGuard<'_, bool>> {
        let taken = repl.in_session.lock().unwrap_or_else(|e| e.into_inner());
        let (taken, _) = repl
            .place_freed
            .wait_timeout_while(taken, wait, |taken| *taken)
            .unwrap_or_else(|e| e.into_inner());
        (!*taken).then_some(taken)
    }
}

impl Drop for SessionPlace<'_> {
    fn drop(&mut self) {
        *self.0.in_session.lock().unwrap_or_else(|e| e.into_inner()) = false;
        self.0.place_freed.notify_one();
    }
}

/// A place at the password prompt; frees itself however the prompt ends.
struct PromptPlace<'a>(&'a WebRepl);

impl<'a> PromptPlace<'a> {
    /// A place, or `None` when `max_prompts` clients are at the prompt already.
    fn take(repl: &'a WebRepl) -> Option<PromptPlace<'a>> {
        repl.prompts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < repl.max_prompts).then_some(n + 1)
            })
            .ok()
            .map(|_| PromptPlace(repl))
    }
}

impl Drop for PromptPlace<'_> {
    fn drop(&mut self) {
        self.0.prompts.fetch_sub(1, Ordering::SeqCst);
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
        let busy = || {
            let _ = out.text(BUSY);
        };
        // Only a logged-in session keeps others out, but a client that sees
        // one open gets the busy text at once rather than a futile prompt.
        if SessionPlace::wait_free(self, SESSION_PLACE_WAIT).is_none() {
            log::warn!(target: "uhttpd", "{remote}: WebREPL refused, a session is already open");
            return busy();
        }
        let Some(prompt) = PromptPlace::take(self) else {
            log::warn!(
                target: "uhttpd",
                "{remote}: WebREPL refused, {} clients are already at the password prompt",
                self.max_prompts
            );
            return busy();
        };
        let _ = out.text(PASSWORD_PROMPT);
        let given = match read_password(&mut session, self.prompt_timeout) {
            Ok(given) => given,
            Err(RecvTimeoutError::Timeout) => {
                log::warn!(target: "uhttpd", "{remote}: WebREPL password not given in time, closed");
                return;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if !self.password_matches(&given) {
            log::warn!(target: "uhttpd", "{remote}: WebREPL login refused");
            let judging = self.judging.lock().unwrap_or_else(|e| e.into_inner());
            thread::sleep(WRONG_PASSWORD_DELAY);
            drop(judging);
            let _ = out.text(DENIED);
            return;
        }
        drop(prompt);
        // The first client to log in gets the session; a client that logged
        // in just after a session ended waits for it to wind down.
        let Some(_place) = SessionPlace::take(self, SESSION_PLACE_WAIT) else {
            log::warn!(target: "uhttpd", "{remote}: WebREPL refused, another client logged in first");
            return busy();
        };
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
                    crate::host::pool::block_async_signals();
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

/// Collects the password line from text or binary frames (webrepl_cli sends
/// binary); the whole line must come within `timeout`.
fn read_password(session: &mut WsSession, timeout: Duration) -> Result<Vec<u8>, RecvTimeoutError> {
    let deadline = Instant::now() + timeout;
    let mut line = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let data = match session.recv_timeout(left)? {
            WsMessage::Text(text) => text.into_bytes(),
            WsMessage::Binary(data) => data.to_vec(),
        };
        for byte in data {
            if byte == b'\r' || byte == b'\n' {
                return Ok(line);
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

/// Parses the 82-byte `<2sBBQLH64s` request; `None` if it is not one. The
/// name field is padded with NULs at its end; a NUL inside the name (one
/// followed by anything else) makes it no request, never a shorter name.
pub fn parse_wa(request: &[u8]) -> Option<WaRequest> {
    if request.len() != WA_REQUEST_BYTES || &request[..2] != b"WA" {
        return None;
    }
    let size = u32::from_le_bytes(request[12..16].try_into().ok()?);
    let field = &request[18..];
    let end = field
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    if field[..end].contains(&0) {
        return None;
    }
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

    /// An interpreter that runs nothing: these tests are about logging in.
    struct Idle;

    impl Interpreter for Idle {
        fn attach(&self, _: Terminal) {}
        fn run(&self, _: &str, _: bool) -> bool {
            false
        }
        fn reset(&self) {}
        fn interrupt(&self) {}
        fn detach(&self) {}
    }

    fn webrepl(prompt_timeout: Duration, max_prompts: usize) -> Arc<WebRepl> {
        let fs = DeviceFs::new(&std::env::temp_dir(), None).unwrap();
        let mut repl = WebRepl::new(Some("pw".into()), fs, AclSlot::default(), Arc::new(Idle));
        repl.prompt_timeout = prompt_timeout;
        repl.max_prompts = max_prompts;
        Arc::new(repl)
    }

    /// A client of `repl`: its session runs on a thread of its own, as the server runs it.
    struct Client {
        bridge: crate::drivers::websocket::WsBridge,
        thread: thread::JoinHandle<()>,
    }

    fn connect(repl: &Arc<WebRepl>) -> Client {
        let (session, bridge) = crate::drivers::websocket::test_session();
        let repl = repl.clone();
        let thread = thread::spawn(move || repl.session(session));
        Client { bridge, thread }
    }

    impl Client {
        /// The next text the session sends (`None`: it ended), waiting at most 5 s.
        fn next(&mut self) -> Option<String> {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match self.bridge.outgoing.try_recv() {
                    Ok(WsMessage::Text(text)) => return Some(text),
                    Ok(other) => panic!("unexpected {other:?}"),
                    Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => return None,
                    Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                        assert!(
                            Instant::now() < deadline,
                            "the session said nothing for 5 s"
                        );
                        thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        }

        fn send(&self, text: &str) {
            self.bridge
                .incoming
                .blocking_send(WsMessage::Text(text.into()))
                .unwrap();
        }

        /// Answers the prompt with the right password and gets the session.
        fn logs_in(&mut self) {
            assert_eq!(self.next().as_deref(), Some(PASSWORD_PROMPT));
            self.send("pw\r");
            assert_eq!(self.next().as_deref(), Some(CONNECTED));
        }

        /// Gets the busy text, then the end of the session.
        fn is_turned_away(&mut self) {
            assert_eq!(self.next().as_deref(), Some(BUSY));
            assert_eq!(self.next(), None);
        }

        /// Goes away; returns once its session has ended.
        fn leave(self) {
            drop(self.bridge);
            self.thread.join().unwrap();
        }
    }

    const LONG: Duration = Duration::from_secs(60);

    /// `n` clients, each shown the password prompt.
    fn at_prompt(repl: &Arc<WebRepl>, n: usize) -> Vec<Client> {
        let mut clients: Vec<Client> = (0..n).map(|_| connect(repl)).collect();
        for client in &mut clients {
            assert_eq!(client.next().as_deref(), Some(PASSWORD_PROMPT));
        }
        clients
    }

    #[test]
    fn prompt_limits_default_to_the_named_constants() {
        let fs = DeviceFs::new(&std::env::temp_dir(), None).unwrap();
        let repl = WebRepl::new(None, fs, AclSlot::default(), Arc::new(Idle));
        assert_eq!(repl.prompt_timeout, limits::PASSWORD_PROMPT_TIMEOUT);
        assert_eq!(repl.max_prompts, limits::MAX_PASSWORD_PROMPTS);
    }

    #[test]
    fn a_client_idle_at_the_prompt_does_not_keep_others_out() {
        let repl = webrepl(LONG, 4);
        let mut idle = at_prompt(&repl, 1).remove(0);
        let mut user = connect(&repl);
        user.logs_in();
        // The idle client answering now finds the session taken.
        idle.send("pw\r");
        idle.is_turned_away();
        // While the session is open a newcomer gets the busy text, no prompt.
        connect(&repl).is_turned_away();
        user.leave();
        connect(&repl).logs_in();
    }

    #[test]
    fn an_unanswered_prompt_is_closed_at_the_prompt_timeout() {
        let timeout = Duration::from_millis(200);
        let repl = webrepl(timeout, 4);
        let start = Instant::now();
        let mut silent = at_prompt(&repl, 1).remove(0);
        assert_eq!(silent.next(), None);
        assert!(start.elapsed() >= timeout);
        // The deadline is for the whole line: trickling bytes do not extend it.
        let start = Instant::now();
        let mut trickling = at_prompt(&repl, 1).remove(0);
        for _ in 0..4 {
            thread::sleep(Duration::from_millis(80));
            let _ = trickling
                .bridge
                .incoming
                .blocking_send(WsMessage::Text("p".into()));
        }
        assert_eq!(trickling.next(), None);
        assert!(start.elapsed() < timeout * 3, "took {:?}", start.elapsed());
        assert_eq!(repl.prompts.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn prompts_past_the_bound_get_the_busy_text() {
        let repl = webrepl(LONG, 2);
        let mut waiting = at_prompt(&repl, 2);
        connect(&repl).is_turned_away();
        // A prompt that ends frees its place.
        waiting.pop().unwrap().leave();
        connect(&repl).logs_in();
    }

    #[test]
    fn wrong_answers_at_several_prompts_are_judged_one_at_a_time() {
        let repl = webrepl(LONG, 4);
        let mut guessers = at_prompt(&repl, 2);
        let start = Instant::now();
        for client in &guessers {
            client.send("guess\r");
        }
        for client in &mut guessers {
            assert_eq!(client.next().as_deref(), Some(DENIED));
        }
        assert!(start.elapsed() >= WRONG_PASSWORD_DELAY * 2 - Duration::from_millis(50));
    }

    #[test]
    fn wa_names_lose_their_nul_padding_but_a_nul_inside_refuses() {
        let name = |rec: Vec<u8>| parse_wa(&rec).map(|r| r.name);
        assert_eq!(name(request(WA_GET, 0, "a.txt")), Some("a.txt".into()));
        let full = "n".repeat(64);
        assert_eq!(name(request(WA_GET, 0, &full)), Some(full));
        assert_eq!(name(request(WA_GET, 0, "")), Some(String::new()));
        for hostile in [
            "a.txt\0x",
            "a.txt\0\0x",
            "\0a.txt",
            "a\0",
            "/lib/x.py\0.bak",
        ] {
            if hostile.ends_with('\0') {
                // trailing NULs are padding: "a\0" is "a"
                assert_eq!(name(request(WA_PUT, 1, hostile)), Some("a".into()));
            } else {
                assert_eq!(name(request(WA_PUT, 1, hostile)), None, "{hostile:?}");
                assert_eq!(name(request(WA_GET, 0, hostile)), None, "{hostile:?}");
            }
        }
        let mut last_byte = request(WA_GET, 0, "a.txt");
        last_byte[WA_REQUEST_BYTES - 1] = b'x';
        assert_eq!(parse_wa(&last_byte), None, "a NUL run then a final byte");
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
