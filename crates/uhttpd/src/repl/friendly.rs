//! The friendly console: MicroPython's friendly REPL (echo, line editing,
//! history, `... ` continuation with auto-indent, Ctrl-C, Ctrl-D, Ctrl-E
//! paste mode) over an [`Interpreter`] that runs the code. Code runs on an
//! executor thread of the session, so Ctrl-C reaches running code while the
//! terminal's input keeps coming.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::thread;

use super::console::{Console, ConsoleOut, ConsoleSession};
use crate::host::pool::spawn_session_here;
use crate::lineedit::{Edit, LineEditor};

pub const PROMPT: &str = ">>> ";
pub const CONTINUATION: &str = "... ";

/// The Python (or other) interpreter behind the friendly console.
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

/// The friendly console's text output: a bare `\n` becomes `\r\n` (as
/// MicroPython's cooked stdout does) before the bytes reach the terminal.
#[derive(Clone)]
pub struct Terminal(Arc<dyn ConsoleOut>);

impl Terminal {
    pub fn new(out: Arc<dyn ConsoleOut>) -> Terminal {
        Terminal(out)
    }

    /// Writes, waiting for a slow client (REPL output).
    pub fn write(&self, text: &str) -> bool {
        self.0.write(crlf(text).as_bytes())
    }

    /// Writes without waiting: output a program prints is dropped, not
    /// delayed, when the client lags behind.
    pub fn offer(&self, text: &str) {
        self.0.offer(crlf(text).as_bytes());
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

/// The line editor and `interpreter` as one [`Console`].
pub struct FriendlyConsole {
    interpreter: Arc<dyn Interpreter>,
}

impl FriendlyConsole {
    pub fn new(interpreter: Arc<dyn Interpreter>) -> FriendlyConsole {
        FriendlyConsole { interpreter }
    }
}

impl Console for FriendlyConsole {
    fn open(&self, out: Arc<dyn ConsoleOut>) -> Box<dyn ConsoleSession> {
        let terminal = Terminal(out);
        self.interpreter.attach(terminal.clone());
        let editor = Arc::new(Mutex::new(LineEditor::new()));
        let busy = Arc::new(AtomicBool::new(false));
        let (work, work_rx) = std_mpsc::channel::<Work>();
        let executor = {
            let (interpreter, terminal) = (self.interpreter.clone(), terminal.clone());
            let (editor, busy) = (editor.clone(), busy.clone());
            // REPL execution runs on a thread started through the host hooks.
            spawn_session_here("uhttpd-repl", move || {
                execute(&*interpreter, &terminal, &editor, &busy, work_rx)
            })
            .ok()
        };
        Box::new(FriendlySession {
            interpreter: self.interpreter.clone(),
            terminal,
            editor,
            busy,
            work,
            executor,
        })
    }
}

enum Work {
    Run(String, bool),
    Reset,
}

struct FriendlySession {
    interpreter: Arc<dyn Interpreter>,
    terminal: Terminal,
    editor: Arc<Mutex<LineEditor>>,
    /// The executor is running code (Ctrl-C interrupts it rather than resetting).
    busy: Arc<AtomicBool>,
    work: std_mpsc::Sender<Work>,
    executor: Option<thread::JoinHandle<()>>,
}

impl ConsoleSession for FriendlySession {
    fn input(&mut self, bytes: &[u8]) -> bool {
        let edits = lock(&self.editor).feed(bytes);
        for edit in edits {
            match edit {
                Edit::Echo(text) => {
                    self.terminal.write(&text);
                }
                Edit::Line(line) => {
                    // A line of auto-indent alone is a blank line: it ends the block.
                    let line = if line.trim().is_empty() {
                        String::new()
                    } else {
                        line
                    };
                    let _ = self.work.send(Work::Run(line, false));
                }
                Edit::Block(block) => {
                    let _ = self.work.send(Work::Run(block, true));
                }
                Edit::Interrupt if self.busy.load(Ordering::SeqCst) => self.interpreter.interrupt(),
                Edit::Interrupt => {
                    let _ = self.work.send(Work::Reset);
                }
                Edit::End => return false,
            }
        }
        true
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
            let _ = executor.join();
        }
        interpreter.detach();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{channel, Receiver, Sender};
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
                    let (done, woken) = &self.interrupted;
                    let mut done = done.lock().unwrap();
                    while !*done {
                        done = woken.wait(done).unwrap();
                    }
                    *done = false;
                    terminal.write("\nKeyboardInterrupt\n");
                }
                _ => {
                    terminal.write("2\n");
                }
            }
            false
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

    /// Waits until the screen shows `text` at its end.
    fn shows(screen: &Screen, text: &str) {
        for _ in 0..500 {
            if screen.written().ends_with(text) {
                return;
            }
            thread::sleep(Duration::from_millis(10));
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
        shows(&screen, ">>> ");
        assert!(screen.0.lock().unwrap().contains(&Err(b"out\r\n".to_vec())));
        assert!(!session.input(b"\x04"), "Ctrl-D ends the session");
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
}
