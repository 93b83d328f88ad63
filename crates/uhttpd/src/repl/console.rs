//! The byte-level console a WebREPL session talks to once a client has logged
//! in: bytes in (what the terminal typed), bytes out (what it shows).
//!
//! This is the seam MicroPython has between `extmod/modwebrepl.c` (a stream
//! filter that knows passwords, frames and file transfers) and
//! `shared/runtime/pyexec.c` (the REPL proper, which reads characters and
//! prints). The WebREPL side knows nothing about lines, editing or Python; a
//! console knows nothing about WebSockets. Consoles:
//!
//! - [`FriendlyConsole`](super::FriendlyConsole): the line editor and an
//!   [`Interpreter`](super::Interpreter) (the CPython face);
//! - a console driving MicroPython's own `pyexec` event REPL (one byte at a
//!   time, as `pyexec_event_repl_process_char` takes it) can implement
//!   [`Console`] directly.
//!
//! Output is raw bytes: line-end cooking (`\n` → `\r\n`) is the console's
//! business, as MicroPython's `mp_hal_stdout_tx_strn_cooked` does it before
//! the bytes reach the WebREPL stream. Framing (text frames no larger than
//! the clients read, UTF-8 held back until a character is whole) is the
//! WebREPL's.

/// How often the WebREPL checks [`ConsoleSession::ended`] while no input comes.
pub const END_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Where a console's output goes: the logged-in client's terminal. Cheap to
/// share between the threads of one session (`Arc`).
pub trait ConsoleOut: Send + Sync {
    /// Writes `bytes`, waiting for a slow client (the REPL's own output:
    /// echo, prompts, results). False once the client is gone.
    fn write(&self, bytes: &[u8]) -> bool;
    /// Offers `bytes` without waiting: output a running program prints is
    /// dropped, not delayed, while the client lags behind.
    fn offer(&self, bytes: &[u8]);
    /// Writes `bytes` exactly as they are, even where they are not UTF-8
    /// (the raw-paste window size, `\x80\x00` on an ESP32, goes out in a text
    /// frame as the device sends it). As `write` by default.
    fn write_verbatim(&self, bytes: &[u8]) -> bool {
        self.write(bytes)
    }
}

/// A REPL that serves logged-in clients, one session at a time (the WebREPL
/// never opens a second session before the first one is closed).
pub trait Console: Send + Sync + 'static {
    /// A client has logged in: starts its session, which writes to `out`.
    /// The WebREPL sends its `\r\nWebREPL connected\r\n>>> ` greeting right
    /// after this returns, so the first prompt is shown for the console.
    fn open(&self, out: std::sync::Arc<dyn ConsoleOut>) -> Box<dyn ConsoleSession>;
}

/// One logged-in client's session of a [`Console`]. Driven from the WebREPL's
/// session thread: `input` must not wait for running code (Ctrl-C has to get
/// through while code runs).
pub trait ConsoleSession: Send {
    /// Bytes the terminal sent (the contents of its text frames, in order; a
    /// frame boundary means nothing). False when the console ends the session
    /// (Ctrl-D at the friendly prompt): the WebREPL then closes the connection.
    fn input(&mut self, bytes: &[u8]) -> bool;
    /// The console ended the session on its own (input it dealt with after
    /// `input` returned, such as a Ctrl-D that waited behind running code).
    /// The WebREPL checks this between messages, and at least every
    /// [`END_POLL`] while the client is silent.
    fn ended(&self) -> bool {
        false
    }
    /// The session is over (the client left, the server stops, or `input`
    /// said so): stops running code, lets go of the terminal and returns once
    /// nothing of the session runs any more.
    fn close(self: Box<Self>);
}
