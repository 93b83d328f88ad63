//! The REPL, split as MicroPython splits it:
//!
//! - [`webrepl`]: the WebREPL protocol (`extmod/modwebrepl.c`'s part): the
//!   password prompt and its limits, one logged-in session at a time, text
//!   frames to and from the console, `WA`/`WB` file transfers in binary
//!   frames. It knows nothing about lines, editing or Python.
//! - [`console`]: the byte-level seam between the two ([`Console`],
//!   [`ConsoleSession`], [`ConsoleOut`]).
//! - [`friendly`]: today's REPL proper (`pyexec.c`'s friendly REPL): the line
//!   editor and an [`Interpreter`] as one [`Console`], with the raw REPL
//!   that Ctrl-A enters.
//! - [`raw`]: the raw REPL and raw-paste mode (`pyexec.c`'s raw REPL), the
//!   byte-level state machine the friendly console switches to.

pub mod console;
pub mod friendly;
pub mod raw;
pub mod webrepl;

pub use console::{Console, ConsoleOut, ConsoleSession};
pub use friendly::{FriendlyConsole, Interpreter, Terminal, CONTINUATION, PROMPT};
pub use webrepl::*;
