//! MicroPython's WebREPL protocol over a WebSocket session, as
//! `extmod/modwebrepl.c` is a stream filter in front of the REPL: the password
//! prompt and its limits, one logged-in session at a time, text frames to and
//! from a [`Console`] (bytes, nothing more), and the `WA`/`WB` file transfer
//! protocol in binary frames, confined to root and the file ACL.

use std::fs::File;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use subtle::ConstantTimeEq;

use crate::acl::{Access, AclSlot};
use crate::drivers::websocket::{WsHandler, WsMessage, WsSender, WsSession};
use crate::fs::PendingUpload;
use crate::fs::{DeviceFs, VirtualPath};
use crate::limits;
use crate::observe::{FileChange, Observation, Observer};

use super::console::{Console, ConsoleOut, END_POLL};
use super::friendly::{FriendlyConsole, Interpreter};

/// What a new client is asked first, as `modwebrepl.c` asks it.
pub const PASSWORD_PROMPT: &str = "Password: ";
/// The answer to the right password, with the first prompt.
pub const CONNECTED: &str = "\r\nWebREPL connected\r\n>>> ";
/// The answer to a wrong password (then the connection closes).
pub const DENIED: &str = "\r\nAccess denied\r\n";
/// The answer while another client holds the session or all prompts are taken.
pub const BUSY: &str = "\r\nConcurrent WebREPL connection rejected\r\n";

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

/// A console's output as text frames: split to sizes the clients read, a
/// UTF-8 character cut between two writes held back until it is whole (an
/// invalid byte is shown as U+FFFD).
struct FrameOut {
    sender: WsSender,
    /// The start of a character whose other bytes have not come yet.
    partial: Mutex<Vec<u8>>,
}

impl FrameOut {
    fn new(sender: WsSender) -> FrameOut {
        FrameOut {
            sender,
            partial: Mutex::new(Vec::new()),
        }
    }

    /// The frames for `bytes`, after any held-back start of a character.
    fn frames(&self, bytes: &[u8]) -> Vec<String> {
        let mut partial = self.partial.lock().unwrap_or_else(|e| e.into_inner());
        let text = if partial.is_empty() {
            take_text(bytes, &mut partial)
        } else {
            let mut joined = std::mem::take(&mut *partial);
            joined.extend_from_slice(bytes);
            take_text(&joined, &mut partial)
        };
        split_frames(&text)
    }
}

/// Decodes `bytes`; an incomplete character at the end goes to `rest`.
fn take_text(bytes: &[u8], rest: &mut Vec<u8>) -> String {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_string();
    }
    // Where a character cut off at the end begins, if one does.
    let cut = (bytes.len().saturating_sub(3)..bytes.len())
        .find(|&i| {
            matches!(std::str::from_utf8(&bytes[i..]),
                Err(e) if e.valid_up_to() == 0 && e.error_len().is_none())
        })
        .unwrap_or(bytes.len());
    rest.extend_from_slice(&bytes[cut..]);
    String::from_utf8_lossy(&bytes[..cut]).into_owned()
}

impl ConsoleOut for FrameOut {
    fn write(&self, bytes: &[u8]) -> bool {
        self.frames(bytes)
            .into_iter()
            .all(|frame| self.sender.text(frame).is_ok())
    }

    fn write_verbatim(&self, bytes: &[u8]) -> bool {
        if std::str::from_utf8(bytes).is_ok() {
            return self.write(bytes);
        }
        // Whatever start of a character was held back goes first, as it is.
        let held = std::mem::take(&mut *self.partial.lock().unwrap_or_else(|e| e.into_inner()));
        let bytes = [&held[..], bytes].concat();
        self.sender.send(WsMessage::TextBytes(bytes.into())).is_ok()
    }

    fn offer(&self, bytes: &[u8]) {
        for frame in self.frames(bytes) {
            if self.sender.try_send(WsMessage::Text(frame)).is_err() {
                return;
            }
        }
    }
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
    console: Arc<dyn Console>,
    /// One authenticated session at a time.
    in_session: Mutex<bool>,
    place_freed: Condvar,
    /// Clients at the password prompt now, at most `max_prompts`.
    prompts: AtomicUsize,
    max_prompts: usize,
    prompt_timeout: Duration,
    /// Held while a wrong password is answered: guesses are judged one at a time.
    judging: Mutex<()>,
    /// Where transfers report the files they write.
    observer: Arc<Observer>,
}

impl WebRepl {
    /// The WebREPL in front of the friendly console over `interpreter`
    /// (the line editor and `interpreter` as one [`Console`]).
    pub fn new(
        password: Option<String>,
        fs: DeviceFs,
        acl: AclSlot,
        interpreter: Arc<dyn Interpreter>,
    ) -> WebRepl {
        let console = Arc::new(FriendlyConsole::new(interpreter));
        WebRepl::with_console(password, fs, acl, console)
    }

    /// The WebREPL in front of `console`: `password` guards it (`None`: open
    /// to all), transfers read and write `fs` as `acl` allows.
    pub fn with_console(
        password: Option<String>,
        fs: DeviceFs,
        acl: AclSlot,
        console: Arc<dyn Console>,
    ) -> WebRepl {
        WebRepl {
            password,
            fs,
            acl,
            console,
            in_session: Mutex::new(false),
            place_freed: Condvar::new(),
            prompts: AtomicUsize::new(0),
            max_prompts: limits::MAX_PASSWORD_PROMPTS,
            prompt_timeout: limits::PASSWORD_PROMPT_TIMEOUT,
            judging: Mutex::new(()),
            observer: Arc::default(),
        }
    }

    /// Reports the files transfers write to `observer` (the server's).
    pub(crate) fn observed_by(mut self, observer: Arc<Observer>) -> WebRepl {
        self.observer = observer;
        self
    }

    /// True while a client is logged in.
    pub(crate) fn in_session(&self) -> bool {
        *self.in_session.lock().unwrap_or_else(|e| e.into_inner())
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
        let mut console = self.console.open(Arc::new(FrameOut::new(out.clone())));
        let _ = out.text(CONNECTED);
        let mut transfer = Transfer::default();
        while !console.ended() {
            match session.recv_timeout(END_POLL) {
                Ok(WsMessage::Text(text)) => {
                    if !console.input(text.as_bytes()) {
                        break;
                    }
                }
                Ok(WsMessage::Binary(data) | WsMessage::TextBytes(data)) => {
                    transfer.feed(&data, &out, self)
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        console.close();
        log::info!(target: "uhttpd", "{remote}: WebREPL session closed");
    }
}

impl WebRepl {
    fn password_matches(&self, given: &[u8]) -> bool {
        match &self.password {
            // An open REPL (`ws(url, None)`): any answer to the prompt logs in.
            None => true,
            Some(expected) => bool::from(expected.as_bytes().ct_eq(given)),
        }
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
            WsMessage::Binary(data) | WsMessage::TextBytes(data) => data.to_vec(),
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
    /// 1 put, 2 get, 3 version.
    pub op: u8,
    /// Bytes that follow a put.
    pub size: u32,
    /// The device path (relative names are under root).
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
    Receiving(PendingUpload, VirtualPath, u64),
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
                TransferState::Receiving(upload, _, left) => {
                    let take = (*left).min(self.pending.len() as u64) as usize;
                    let chunk: Vec<u8> = self.pending.drain(..take).collect();
                    let written = upload.write(&chunk);
                    *left -= take as u64;
                    if written.is_err() {
                        log::warn!(target: "uhttpd", "WebREPL put failed while writing");
                        self.state = TransferState::Idle;
                        let _ = out.binary(wb(WB_REFUSED));
                    } else if *left == 0 {
                        self.finish_put(out, repl);
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
                if matches!(self.state, TransferState::Receiving(_, _, 0)) {
                    self.finish_put(out, repl);
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
        self.state = TransferState::Receiving(upload, vpath, u64::from(request.size));
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

    fn finish_put(&mut self, out: &WsSender, repl: &WebRepl) {
        let status = match std::mem::take(&mut self.state) {
            TransferState::Receiving(upload, vpath, _) => match upload.commit() {
                Ok(landed) => {
                    let change = FileChange::of_upload(landed.status);
                    repl.observer.record(|| Observation::File {
                        path: vpath.to_string(),
                        change,
                    });
                    0
                }
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
    use crate::repl::ConsoleSession;

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

    /// What a fake console saw and did, in order.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Seen {
        Open,
        Input(Vec<u8>),
        Close,
    }

    /// A console with no REPL in it: it records what it is given, writes
    /// back each input as `[bytes]` and ends the session on `bye`.
    #[derive(Default)]
    struct Fake {
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    struct FakeSession {
        out: Arc<dyn ConsoleOut>,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl Console for Fake {
        fn open(&self, out: Arc<dyn ConsoleOut>) -> Box<dyn ConsoleSession> {
            self.seen.lock().unwrap().push(Seen::Open);
            let seen = self.seen.clone();
            Box::new(FakeSession { out, seen })
        }
    }

    impl ConsoleSession for FakeSession {
        fn input(&mut self, bytes: &[u8]) -> bool {
            self.seen.lock().unwrap().push(Seen::Input(bytes.to_vec()));
            if bytes == b"bye" {
                return false;
            }
            let mut echo = b"[".to_vec();
            echo.extend_from_slice(bytes);
            echo.push(b']');
            self.out.write(&echo)
        }

        fn close(self: Box<Self>) {
            self.seen.lock().unwrap().push(Seen::Close);
        }
    }

    fn webrepl(prompt_timeout: Duration, max_prompts: usize) -> Arc<WebRepl> {
        with_console(prompt_timeout, max_prompts, Arc::new(Fake::default()))
    }

    fn with_console(
        prompt_timeout: Duration,
        max_prompts: usize,
        console: Arc<dyn Console>,
    ) -> Arc<WebRepl> {
        let fs = DeviceFs::new(&std::env::temp_dir(), None).unwrap();
        let mut repl = WebRepl::with_console(Some("pw".into()), fs, AclSlot::default(), console);
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

        /// The next binary frame the session sends, waiting at most 5 s.
        fn binary(&mut self) -> Vec<u8> {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match self.bridge.outgoing.try_recv() {
                    Ok(WsMessage::Binary(data)) => return data.to_vec(),
                    Ok(other) => panic!("unexpected {other:?}"),
                    Err(_) => {
                        assert!(Instant::now() < deadline, "no binary frame for 5 s");
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
        let repl = WebRepl::with_console(None, fs, AclSlot::default(), Arc::new(Fake::default()));
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
    fn long_text_splits_on_char_boundaries() {
        let text = "é".repeat(MAX_TEXT_FRAME_BYTES);
        let frames = split_frames(&text);
        assert!(frames.iter().all(|f| f.len() <= MAX_TEXT_FRAME_BYTES));
        assert_eq!(frames.concat(), text);
    }

    /// A WebREPL in front of a fake console, and what that console sees.
    fn watched() -> (Arc<WebRepl>, Arc<Mutex<Vec<Seen>>>) {
        let fake = Arc::new(Fake::default());
        let seen = fake.seen.clone();
        (with_console(LONG, 4, fake), seen)
    }

    #[test]
    fn the_console_gets_text_frames_as_bytes_and_its_output_as_text_frames() {
        let (repl, seen) = watched();
        let mut client = connect(&repl);
        assert_eq!(client.next().as_deref(), Some(PASSWORD_PROMPT));
        // The password line is the protocol's: the console never sees it.
        client.send("pw\r");
        assert_eq!(client.next().as_deref(), Some(CONNECTED));
        client.send("1+1\r");
        assert_eq!(client.next().as_deref(), Some("[1+1\r]"));
        // Raw bytes both ways: no line-end cooking on this side.
        client.send("a\nb");
        assert_eq!(client.next().as_deref(), Some("[a\nb]"));
        // Binary frames are transfers, never console input.
        client
            .bridge
            .incoming
            .blocking_send(WsMessage::Binary(Bytes::from(request(WA_VERSION, 0, ""))))
            .unwrap();
        assert_eq!(client.binary(), VERSION.to_vec());
        client.send("bye");
        assert_eq!(client.next(), None, "the console ended the session");
        client.thread.join().unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                Seen::Open,
                Seen::Input(b"1+1\r".to_vec()),
                Seen::Input(b"a\nb".to_vec()),
                Seen::Input(b"bye".to_vec()),
                Seen::Close,
            ]
        );
    }

    #[test]
    fn a_client_that_leaves_closes_its_console_session() {
        let (repl, seen) = watched();
        let mut client = connect(&repl);
        client.logs_in();
        client.leave();
        assert_eq!(*seen.lock().unwrap(), vec![Seen::Open, Seen::Close]);
        // Wrong passwords never open the console.
        let mut guesser = connect(&repl);
        assert_eq!(guesser.next().as_deref(), Some(PASSWORD_PROMPT));
        guesser.send("guess\r");
        assert_eq!(guesser.next().as_deref(), Some(DENIED));
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[test]
    fn console_bytes_become_whole_characters_in_frames_the_clients_read() {
        let (session, mut bridge) = crate::drivers::websocket::test_session();
        let out = FrameOut::new(session.sender());
        let mut frames = || {
            let mut got = Vec::new();
            while let Ok(WsMessage::Text(text)) = bridge.outgoing.try_recv() {
                got.push(text);
            }
            got
        };
        // A character cut between two writes is sent once it is whole.
        let euro = "€".as_bytes();
        assert!(out.write(&[b'a', euro[0]]));
        assert!(out.write(&euro[1..2]));
        assert!(out.write(&[euro[2], b'b']));
        assert_eq!(frames(), vec!["a".to_string(), "€b".to_string()]);
        // A byte that starts no character is shown as U+FFFD.
        out.offer(b"x\xffy");
        assert_eq!(frames(), vec!["x\u{fffd}y".to_string()]);
        // Long output is split into frames the clients read.
        let long = "é".repeat(MAX_TEXT_FRAME_BYTES);
        assert!(out.write(long.as_bytes()));
        let got = frames();
        assert!(got.len() > 1 && got.iter().all(|f| f.len() <= MAX_TEXT_FRAME_BYTES));
        assert_eq!(got.concat(), long);
    }
}
