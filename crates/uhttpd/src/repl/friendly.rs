//! The friendly console: MicroPython's friendly REPL (echo, line editing,
//! history, `... ` continuation with auto-indent, Ctrl-C, Ctrl-D, Ctrl-E
//! paste mode) over an [`Interpreter`] that runs the code, and the raw REPL
//! and raw-paste mode ([`super::raw`]) that Ctrl-A enters. The terminal's
//! input is dealt with in order on an executor thread of the session, as the
//! device's REPL reads it: what is typed while code runs waits for it to end
//! (a pasted line is echoed after the result of the one before), except
//! Ctrl-C, which reaches the running code at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};

use super::console::{Console, ConsoleOut, ConsoleSession};
use super::raw::{Raw, RawRepl, SOFT_REBOOT};
use crate::host::pool::{spawn_session_here, SessionThread};
use crate::lineedit::{Edit, LineEditor};

/// The friendly REPL's prompt, as MicroPython's.
pub const PROMPT: &str = ">>> ";
/// The prompt for the next line of an unfinished statement.
pub const CONTINUATION: &str = "... ";

const CTRL_C: u8 = 0x03;

/// The Python (or other) interpreter behind the friendly console.
pub trait Interpreter: Send + Sync + 'static {
    /// A session begins: what the REPL and the program print now also goes to `terminal`.
    fn attach(&self, terminal: Terminal);
    /// Runs a line (`block`: a paste-mode block) on the executor thread; true
    /// when a statement continues and more lines are needed.
    fn run(&self, source: &str, block: bool) -> bool;
    /// Runs a whole program (the raw REPL's) on the executor thread: what it
    /// prints goes to the terminal; the answer is its error text (a
    /// traceback, KeyboardInterrupt when interrupted), or `None`.
    fn run_program(&self, source: &str) -> Option<String>;
    /// Drops a half-entered statement (also what a soft reset does).
    fn reset(&self);
    /// Raises KeyboardInterrupt in the code `run` is executing.
    fn interrupt(&self);
    /// The line Ctrl-B shows (MicroPython's `MicroPython v1.x on date; board`).
    fn banner(&self) -> String {
        format!("uhttpd {}", env!("CARGO_PKG_VERSION"))
    }
    /// The session ended.
    fn detach(&self);
}

/// The friendly console's text output: a bare `\n` becomes `\r\n` (as
/// MicroPython's cooked stdout does) before the bytes reach the terminal.
/// In the raw REPL what other threads print is not shown: only the program
/// run prints between `OK` and the first `\x04`.
#[derive(Clone)]
pub struct Terminal {
    out: Arc<dyn ConsoleOut>,
    raw: Arc<AtomicBool>,
}

impl Terminal {
    /// The terminal of a session, writing to `out`.
    pub fn new(out: Arc<dyn ConsoleOut>) -> Terminal {
        Terminal {
            out,
            raw: Arc::default(),
        }
    }

    /// Writes, waiting for a slow client (REPL output).
    pub fn write(&self, text: &str) -> bool {
        self.out.write(crlf(text).as_bytes())
    }

    /// Writes without waiting: output a program prints is dropped, not
    /// delayed, when the client lags behind, and not shown in the raw REPL.
    pub fn offer(&self, text: &str) {
        if !self.raw.load(Ordering::SeqCst) {
            self.out.offer(crlf(text).as_bytes());
        }
    }

    fn verbatim(&self, bytes: &[u8]) -> bool {
        self.out.write_verbatim(bytes)
    }
}

/// Terminal line ends: `\n` alone becomes `\r\n`; `\r\n` stays as it is.
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// MicroPython's auto-indent: the previous line's indent, one level more after `:`.
fn auto_indent(previous: &str) -> String {
    let indent = previous.len() - previous.trim_start_matches(' ').len();
    let deeper = previous.trim_end().ends_with(':');
    " ".repeat(indent / 4 * 4 + if deeper { 4 } else { 0 })
}

/// The line editor, the raw REPL and `interpreter` as one [`Console`].
pub struct FriendlyConsole {
    interpreter: Arc<dyn Interpreter>,
}

impl FriendlyConsole {
    /// The line-editing REPL running its code on `interpreter`.
    pub fn new(interpreter: Arc<dyn Interpreter>) -> FriendlyConsole {
        FriendlyConsole { interpreter }
    }
}

impl Console for FriendlyConsole {
    fn open(&self, out: Arc<dyn ConsoleOut>) -> Box<dyn ConsoleSession> {
        let terminal = Terminal::new(out);
        self.interpreter.attach(terminal.clone());
        let busy = Arc::new(AtomicBool::new(false));
        let ended = Arc::new(AtomicBool::new(false));
        let (work, work_rx) = std_mpsc::channel::<Vec<u8>>();
        let executor = {
            let mut executor = Executor {
                interpreter: self.interpreter.clone(),
                terminal,
                editor: LineEditor::new(),
                raw: None,
                busy: busy.clone(),
                ended: ended.clone(),
            };
            // REPL execution runs on a thread started through the host hooks.
            spawn_session_here("uhttpd-repl", move || executor.serve(work_rx)).ok()
        };
        Box::new(FriendlySession {
            interpreter: self.interpreter.clone(),
            busy,
            ended,
            work,
            executor,
        })
    }
}

struct FriendlySession {
    interpreter: Arc<dyn Interpreter>,
    /// The executor is running code (Ctrl-C interrupts it rather than being read).
    busy: Arc<AtomicBool>,
    /// The executor ended the session (Ctrl-D at the friendly prompt).
    ended: Arc<AtomicBool>,
    work: std_mpsc::Sender<Vec<u8>>,
    executor: Option<SessionThread>,
}

impl ConsoleSession for FriendlySession {
    fn input(&mut self, bytes: &[u8]) -> bool {
        let mut bytes = bytes.to_vec();
        if self.busy.load(Ordering::SeqCst) && bytes.contains(&CTRL_C) {
            // The device's interrupt character: taken out of the input, it
            // raises KeyboardInterrupt in the running code.
            bytes.retain(|&b| b != CTRL_C);
            self.interpreter.interrupt();
        }
        if !bytes.is_empty() {
            let _ = self.work.send(bytes);
        }
        !self.ended()
    }

    fn ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }

    fn close(self: Box<Self>) {
        let FriendlySession {
            interpreter,
            busy,
            work,
            executor,
            ..
        } = *self;
        drop(work);
        if busy.load(Ordering::SeqCst) {
            interpreter.interrupt();
        }
        if let Some(executor) = executor {
            executor.join();
        }
        interpreter.detach();
    }
}

/// The executor thread's state: the terminal's input, read in order, and
/// the code it runs.
struct Executor {
    interpreter: Arc<dyn Interpreter>,
    terminal: Terminal,
    editor: LineEditor,
    /// In the raw REPL: its input state.
    raw: Option<RawRepl>,
    busy: Arc<AtomicBool>,
    ended: Arc<AtomicBool>,
}

impl Executor {
    fn serve(&mut self, work: std_mpsc::Receiver<Vec<u8>>) {
        while let Ok(bytes) = work.recv() {
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let taken = match self.raw.as_mut() {
                    Some(raw) => {
                        let (actions, taken) = raw.feed(rest);
                        actions.into_iter().for_each(|a| self.raw_action(a));
                        taken
                    }
                    None => {
                        let (edits, taken) = self.editor.feed_entry(rest);
                        for edit in edits {
                            if !self.edit(edit) {
                                return;
                            }
                        }
                        taken
                    }
                };
                rest = &rest[taken..];
            }
        }
    }

    /// Runs code with the busy flag up, so Ctrl-C interrupts it.
    fn running<T>(&self, run: impl FnOnce(&dyn Interpreter) -> T) -> T {
        self.busy.store(true, Ordering::SeqCst);
        let result = run(&*self.interpreter);
        self.busy.store(false, Ordering::SeqCst);
        result
    }

    /// Carries out a friendly-mode edit; false when the session ends.
    fn edit(&mut self, edit: Edit) -> bool {
        let continued = match edit {
            Edit::Echo(text) => {
                self.terminal.write(&text);
                return true;
            }
            Edit::Line(line) => {
                // A line of auto-indent alone is a blank line: it ends the block.
                let line = if line.trim().is_empty() {
                    String::new()
                } else {
                    line
                };
                let more = self.running(|i| i.run(&line, false));
                more.then_some(line)
            }
            Edit::Block(block) => {
                self.running(|i| i.run(&block, true));
                None
            }
            Edit::Interrupt => {
                self.interpreter.reset();
                None
            }
            Edit::End => {
                // A soft reset on the device, which drops its WebREPL connection.
                self.terminal.write("\r\n");
                self.terminal.verbatim(SOFT_REBOOT);
                self.ended.store(true, Ordering::SeqCst);
                return false;
            }
            Edit::RawRepl => {
                self.interpreter.reset();
                self.terminal.raw.store(true, Ordering::SeqCst);
                let mut raw = RawRepl::new();
                self.terminal.verbatim(&raw.enter());
                self.raw = Some(raw);
                return true;
            }
            Edit::Banner => {
                self.banner();
                return true;
            }
        };
        let prompt = match continued {
            Some(line) => format!("{CONTINUATION}{}", self.editor.prefill(&auto_indent(&line))),
            None => PROMPT.to_string(),
        };
        self.terminal.write(&prompt);
        true
    }

    /// `\r\n`, the banner and the friendly prompt (Ctrl-B).
    fn banner(&self) {
        let banner = self.interpreter.banner();
        self.terminal.write(&format!(
            "\r\n{banner}\r\nType \"help()\" for more information.\r\n{PROMPT}"
        ));
    }

    /// Carries out what the raw REPL asks for.
    fn raw_action(&mut self, action: Raw) {
        match action {
            Raw::Out(bytes) => {
                self.terminal.verbatim(&bytes);
            }
            Raw::Run(source) => {
                let error = self.running(|i| i.run_program(&source));
                self.terminal.verbatim(b"\x04");
                if let Some(error) = error {
                    self.terminal.write(&error);
                }
                self.terminal.verbatim(b"\x04");
            }
            Raw::SoftReset => self.interpreter.reset(),
            Raw::Friendly => {
                self.raw = None;
                self.terminal.raw.store(false, Ordering::SeqCst);
                self.banner();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{channel, Receiver, Sender};
    use std::sync::Mutex;
    use std::time::Duration;

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

    /// What the console sent, in order: `Ok` written, `Err` offered.
    #[derive(Default)]
    struct Screen(Mutex<Vec<Result<Vec<u8>, Vec<u8>>>>);

    impl ConsoleOut for Screen {
        fn write(&self, bytes: &[u8]) -> bool {
            self.0.lock().unwrap().push(Ok(bytes.to_vec()));
            true
        }
        fn offer(&self, bytes: &[u8]) {
            self.0.lock().unwrap().push(Err(bytes.to_vec()));
        }
    }

    impl Screen {
        /// Everything written (not offered) so far, as text.
        fn written(&self) -> String {
            let calls = self.0.lock().unwrap();
            let bytes: Vec<u8> = calls
                .iter()
                .filter_map(|c| c.as_ref().ok())
                .flatten()
                .copied()
                .collect();
            String::from_utf8(bytes).unwrap()
        }
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Call {
        Attach,
        Run(String, bool),
        Program(String),
        Reset,
        Interrupt,
        Detach,
    }

    /// An interpreter that records its calls. A line `more` asks for more
    /// lines; `wait` blocks until interrupted; `print` prints through the
    /// terminal as a program would.
    struct Fake {
        calls: Mutex<Sender<Call>>,
        terminal: Mutex<Option<Terminal>>,
        interrupted: (Mutex<bool>, std::sync::Condvar),
    }

    impl Fake {
        fn new() -> (Arc<Fake>, Receiver<Call>) {
            let (tx, rx) = channel();
            let fake = Fake {
                calls: Mutex::new(tx),
                terminal: Mutex::new(None),
                interrupted: Default::default(),
            };
            (Arc::new(fake), rx)
        }

        fn call(&self, call: Call) {
            let _ = self.calls.lock().unwrap().send(call);
        }

        fn wait_for_interrupt(&self) {
            let (done, woken) = &self.interrupted;
            let mut done = done.lock().unwrap();
            while !*done {
                done = woken.wait(done).unwrap();
            }
            *done = false;
        }
    }

    impl Interpreter for Fake {
        fn attach(&self, terminal: Terminal) {
            *self.terminal.lock().unwrap() = Some(terminal);
            self.call(Call::Attach);
        }
        fn run(&self, source: &str, block: bool) -> bool {
            self.call(Call::Run(source.into(), block));
            let terminal = self.terminal.lock().unwrap().clone().unwrap();
            match source.trim() {
                "more" | "if x:" => return true,
                "print" => terminal.offer("out\n"),
                "wait" => {
                    self.wait_for_interrupt();
                    terminal.write("\nKeyboardInterrupt\n");
                }
                _ => {
                    terminal.write("2\n");
                }
            }
            false
        }
        fn run_program(&self, source: &str) -> Option<String> {
            self.call(Call::Program(source.into()));
            let terminal = self.terminal.lock().unwrap().clone().unwrap();
            match source {
                "print(1)" => {
                    terminal.write("1\n");
                    None
                }
                "1/0" => Some("Traceback:\nZeroDivisionError\n".into()),
                "wait" => {
                    // What another thread prints meanwhile is not shown.
                    terminal.offer("program output\n");
                    self.wait_for_interrupt();
                    Some("KeyboardInterrupt\n".into())
                }
                _ => None,
            }
        }
        fn reset(&self) {
            self.call(Call::Reset);
        }
        fn interrupt(&self) {
            self.call(Call::Interrupt);
            *self.interrupted.0.lock().unwrap() = true;
            self.interrupted.1.notify_all();
        }
        fn detach(&self) {
            self.call(Call::Detach);
        }
    }

    /// A friendly console over a fake interpreter, opened on a recording screen.
    fn open() -> (Box<dyn ConsoleSession>, Arc<Screen>, Receiver<Call>) {
        let (fake, calls) = Fake::new();
        let screen = Arc::new(Screen::default());
        let session = FriendlyConsole::new(fake).open(screen.clone());
        (session, screen, calls)
    }

    fn next(calls: &Receiver<Call>) -> Call {
        calls.recv_timeout(Duration::from_secs(5)).unwrap()
    }

    /// Everything sent so far, written or offered, as bytes.
    fn bytes(screen: &Screen) -> Vec<u8> {
        let calls = screen.0.lock().unwrap();
        calls
            .iter()
            .flat_map(|c| match c {
                Ok(b) | Err(b) => b.clone(),
            })
            .collect()
    }

    /// Waits until the screen's bytes end with `tail`; all of them.
    fn ends_with(screen: &Screen, tail: &[u8]) -> Vec<u8> {
        for _ in 0..500 {
            let all = bytes(screen);
            if all.ends_with(tail) {
                return all;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "{:?} does not end with {tail:?}",
            String::from_utf8_lossy(&bytes(screen))
        );
    }

    /// Waits until the screen shows `text` at its end.
    fn shows(screen: &Screen, text: &str) {
        for _ in 0..500 {
            if screen.written().ends_with(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{:?} does not end with {text:?}", screen.written());
    }

    #[test]
    fn lines_run_and_prompt_with_cooked_line_ends() {
        let (mut session, screen, calls) = open();
        assert_eq!(next(&calls), Call::Attach);
        assert!(session.input(b"1+1\r"));
        assert_eq!(next(&calls), Call::Run("1+1".into(), false));
        shows(&screen, "1+1\r\n2\r\n>>> ");
        // A program's output is offered, cooked too.
        assert!(session.input(b"print\r"));
        shows(&screen, "print\r\n>>> ");
        assert!(screen.0.lock().unwrap().contains(&Err(b"out\r\n".to_vec())));
        session.input(b"\x04");
        shows(&screen, "MPY: soft reboot\r\n");
        assert!(session.ended(), "Ctrl-D ends the session");
        session.close();
        assert_eq!(next(&calls), Call::Run("print".into(), false));
        assert_eq!(next(&calls), Call::Detach);
    }

    #[test]
    fn continuation_prompts_with_auto_indent_and_a_blank_line_ends_it() {
        let (mut session, screen, calls) = open();
        session.input(b"if x:\r");
        shows(&screen, "if x:\r\n...     ");
        // The auto-indent alone is a blank line.
        session.input(b"\r");
        shows(&screen, ">>> ");
        session.close();
        assert_eq!(next(&calls), Call::Attach);
        assert_eq!(next(&calls), Call::Run("if x:".into(), false));
        assert_eq!(next(&calls), Call::Run(String::new(), false));
        assert_eq!(next(&calls), Call::Detach);
    }

    #[test]
    fn ctrl_c_resets_when_idle_and_interrupts_running_code() {
        let (mut session, screen, calls) = open();
        assert_eq!(next(&calls), Call::Attach);
        session.input(b"ab\x03");
        assert_eq!(next(&calls), Call::Reset);
        shows(&screen, "ab\r\n>>> ");
        session.input(b"wait\r");
        assert_eq!(next(&calls), Call::Run("wait".into(), false));
        session.input(b"\x03");
        assert_eq!(next(&calls), Call::Interrupt);
        shows(&screen, "\r\nKeyboardInterrupt\r\n>>> ");
        session.close();
        assert_eq!(next(&calls), Call::Detach);
    }

    #[test]
    fn paste_mode_runs_one_block() {
        let (mut session, screen, calls) = open();
        session.input(b"\x05a = 1\rb = 2\r\x04");
        shows(&screen, ">>> ");
        assert!(screen.written().starts_with(crate::lineedit::PASTE_BANNER));
        session.close();
        assert_eq!(next(&calls), Call::Attach);
        assert_eq!(next(&calls), Call::Run("a = 1\nb = 2\n".into(), true));
    }

    #[test]
    fn closing_while_code_runs_interrupts_it_and_detaches() {
        let (mut session, _screen, calls) = open();
        assert_eq!(next(&calls), Call::Attach);
        session.input(b"wait\r");
        assert_eq!(next(&calls), Call::Run("wait".into(), false));
        session.close();
        assert_eq!(next(&calls), Call::Interrupt);
        assert_eq!(next(&calls), Call::Detach);
    }

    #[test]
    fn pasted_lines_echo_after_the_result_before_them() {
        let (mut session, screen, _calls) = open();
        session.input(b"1+1\r2+2\r");
        shows(&screen, "1+1\r\n2\r\n>>> 2+2\r\n2\r\n>>> ");
        session.close();
    }

    #[test]
    fn ctrl_d_at_the_prompt_soft_resets_and_ends_the_session_on_its_own() {
        let (mut session, screen, _calls) = open();
        // The Ctrl-D waits behind the line before it: the session ends later.
        assert!(session.input(b"1\r\x04"));
        shows(&screen, ">>> \r\nMPY: soft reboot\r\n");
        assert!(session.ended());
        session.close();
    }

    #[test]
    fn raw_repl_runs_programs_and_goes_back_with_the_banner() {
        let (mut session, screen, calls) = open();
        assert_eq!(next(&calls), Call::Attach);
        session.input(b"\r\x01");
        ends_with(&screen, b">>> \r\nraw REPL; CTRL-B to exit\r\n>");
        assert_eq!(next(&calls), Call::Run(String::new(), false));
        assert_eq!(next(&calls), Call::Reset);
        // No echo; the program's output, then errors, each ended by \x04.
        session.input(b"print(1)");
        session.input(b"\x04");
        ends_with(&screen, b"raw REPL; CTRL-B to exit\r\n>OK1\r\n\x04\x04>");
        assert_eq!(next(&calls), Call::Program("print(1)".into()));
        session.input(b"1/0\x04");
        ends_with(&screen, b">OK\x04Traceback:\r\nZeroDivisionError\r\n\x04>");
        // Ctrl-C interrupts a running program; what others print is not shown.
        session.input(b"wait\x04");
        assert_eq!(next(&calls), Call::Program("1/0".into()));
        assert_eq!(next(&calls), Call::Program("wait".into()));
        session.input(b"\x03");
        assert_eq!(next(&calls), Call::Interrupt);
        let all = ends_with(&screen, b">OK\x04KeyboardInterrupt\r\n\x04>");
        assert!(!all.windows(7).any(|w| w == b"program"));
        // A soft reset keeps raw mode; Ctrl-B goes back to the friendly REPL.
        session.input(b"\x04");
        ends_with(
            &screen,
            b">OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>",
        );
        assert_eq!(next(&calls), Call::Reset);
        session.input(b"\x02");
        let banner = format!(
            ">\r\nuhttpd {}\r\nType \"help()\" for more information.\r\n>>> ",
            env!("CARGO_PKG_VERSION")
        );
        ends_with(&screen, banner.as_bytes());
        assert!(session.input(b"7\r"));
        shows(&screen, "7\r\n2\r\n>>> ");
        session.close();
    }

    #[test]
    fn raw_paste_mode_flows_and_its_window_bytes_go_out_verbatim() {
        let (mut session, screen, calls) = open();
        assert_eq!(next(&calls), Call::Attach);
        session.input(b"\x01\x05A\x01");
        ends_with(&screen, b"raw REPL; CTRL-B to exit\r\n>R\x01\x80\x00\x01");
        session.input(&[b'#'; 128]);
        ends_with(&screen, b"R\x01\x80\x00\x01\x01");
        session.input(b"\rprint(1)\x04");
        let all = ends_with(&screen, b"\x01\x04\x04\x04>");
        assert!(all.ends_with(b"\x01\x04\x04\x04>"), "{all:?}");
        assert_eq!(next(&calls), Call::Reset);
        let mut program = "#".repeat(128);
        program.push_str("\rprint(1)");
        assert_eq!(next(&calls), Call::Program(program));
        session.close();
    }
}
