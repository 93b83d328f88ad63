//! The raw REPL and its raw-paste mode, as MicroPython's `pyexec.c` has them
//! (what `pyboard.py`, `mpremote`, `mpfshell` and Thonny drive): no echo,
//! the program collected until Ctrl-D, then `OK`, its output, `\x04`, its
//! error text, `\x04` and the `>` prompt. A pure state machine over the bytes
//! the terminal sends; the friendly console carries out what it asks for.

/// What the raw REPL answers to Ctrl-A (and shows on entering it).
pub const RAW_BANNER: &[u8] = b"raw REPL; CTRL-B to exit\r\n>";

/// The message of a soft reset (Ctrl-D on an empty raw line), as an ESP32's
/// `main.c` prints it; the raw REPL then greets again.
pub const SOFT_REBOOT: &[u8] = b"MPY: soft reboot\r\n";

/// The stdin buffer an ESP32 announces in raw-paste mode (pyexec.c's
/// `MICROPY_REPL_STDIN_BUFFER_MAX`); the flow-control window is half of it.
pub const STDIN_BUFFER_BYTES: u16 = 256;

/// The raw-paste flow-control window: the host sends at most this many bytes
/// before each further `\x01`.
pub const PASTE_WINDOW: u16 = STDIN_BUFFER_BYTES / 2;

/// Longest program kept (raw or raw-paste); a longer one is not run, its
/// error part says so (as a device out of memory answers `MemoryError`).
pub const MAX_PROGRAM_BYTES: usize = 4 * 1024 * 1024;

const CTRL_A: u8 = 0x01;
const CTRL_B: u8 = 0x02;
const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const CTRL_E: u8 = 0x05;

/// What the raw REPL asks for, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Raw {
    /// Bytes to send as they are.
    Out(Vec<u8>),
    /// Runs a program: its output, `\x04`, its error text, `\x04`.
    Run(String),
    /// A soft reset (the host program keeps running; the REPL starts afresh).
    SoftReset,
    /// Ctrl-B: back to the friendly REPL.
    Friendly,
}

#[derive(Debug)]
enum Mode {
    /// Collecting a program until Ctrl-D.
    Line,
    /// Raw-paste: collecting with flow control; `remain` bytes left of the window.
    Paste { remain: u16 },
}

/// The raw REPL's input state.
#[derive(Debug)]
pub struct RawRepl {
    line: Vec<u8>,
    /// The program grew past [`MAX_PROGRAM_BYTES`].
    overflow: bool,
    mode: Mode,
}

impl Default for RawRepl {
    fn default() -> Self {
        RawRepl::new()
    }
}

impl RawRepl {
    /// Raw mode as entered: no input collected, no paste under way.
    pub fn new() -> RawRepl {
        RawRepl {
            line: Vec::new(),
            overflow: false,
            mode: Mode::Line,
        }
    }

    /// Enters the raw REPL from the friendly one: its greeting.
    pub fn enter(&mut self) -> Vec<u8> {
        self.reset();
        [b"\r\n", RAW_BANNER].concat()
    }

    fn reset(&mut self) {
        self.line.clear();
        self.overflow = false;
        self.mode = Mode::Line;
    }

    /// Feeds terminal input up to the first run, reset or mode change: what
    /// to do, and how many bytes were taken (the rest waits, as a device
    /// reads no further while it runs a program).
    pub fn feed(&mut self, input: &[u8]) -> (Vec<Raw>, usize) {
        let mut out = Vec::new();
        for (i, &byte) in input.iter().enumerate() {
            if self.byte(byte, &mut out) {
                return (merge(out), i + 1);
            }
        }
        (merge(out), input.len())
    }

    fn collect(&mut self, byte: u8) {
        if self.line.len() < MAX_PROGRAM_BYTES {
            self.line.push(byte);
        } else {
            self.overflow = true;
        }
    }

    /// The collected program as a run; a program too long to keep is
    /// answered without running it.
    fn run(&mut self, out: &mut Vec<Raw>) {
        if self.overflow {
            let error = format!("MemoryError: program longer than {MAX_PROGRAM_BYTES} bytes\r\n");
            out.push(Raw::Out([b"\x04", error.as_bytes(), b"\x04"].concat()));
        } else {
            let source = String::from_utf8_lossy(&self.line).into_owned();
            out.push(Raw::Run(source));
        }
        self.reset();
        out.push(Raw::Out(b">".to_vec()));
    }

    /// One byte; true when the rest must wait.
    fn byte(&mut self, byte: u8, out: &mut Vec<Raw>) -> bool {
        if let Mode::Paste { remain } = self.mode {
            return self.paste_byte(byte, remain, out);
        }
        match byte {
            CTRL_A if self.line.len() == 2 && self.line[0] == CTRL_E => {
                if self.line[1] == b'A' {
                    let [low, high] = PASTE_WINDOW.to_le_bytes();
                    out.push(Raw::Out(vec![b'R', 1, low, high, 1]));
                    self.line.clear();
                    self.mode = Mode::Paste {
                        remain: PASTE_WINDOW,
                    };
                } else {
                    // An unknown command: refused, and the raw prompt again.
                    out.push(Raw::Out(b"R\x00>".to_vec()));
                    self.reset();
                }
                false
            }
            CTRL_A => {
                out.push(Raw::Out(RAW_BANNER.to_vec()));
                self.reset();
                false
            }
            CTRL_B => {
                self.reset();
                out.push(Raw::Friendly);
                true
            }
            CTRL_C => {
                self.line.clear();
                self.overflow = false;
                false
            }
            CTRL_D if self.line.is_empty() && !self.overflow => {
                out.push(Raw::Out(b"OK\r\n".to_vec()));
                out.push(Raw::SoftReset);
                out.push(Raw::Out([SOFT_REBOOT, RAW_BANNER].concat()));
                true
            }
            CTRL_D => {
                out.push(Raw::Out(b"OK".to_vec()));
                self.run(out);
                true
            }
            _ => {
                self.collect(byte);
                false
            }
        }
    }

    fn paste_byte(&mut self, byte: u8, remain: u16, out: &mut Vec<Raw>) -> bool {
        match byte {
            CTRL_D => {
                // The end of the input, acknowledged; then run as in raw mode.
                out.push(Raw::Out(b"\x04".to_vec()));
                self.run(out);
                true
            }
            CTRL_C => {
                // The end of the input, and a KeyboardInterrupt while reading it.
                out.push(Raw::Out(b"\x04\x04KeyboardInterrupt\r\n\x04>".to_vec()));
                self.reset();
                false
            }
            _ => {
                self.collect(byte);
                let remain = if remain <= 1 {
                    // A window consumed: tell the host it may send another.
                    out.push(Raw::Out(vec![CTRL_A]));
                    PASTE_WINDOW
                } else {
                    remain - 1
                };
                self.mode = Mode::Paste { remain };
                false
            }
        }
    }
}

/// Consecutive output merged into one piece (fewer, larger frames).
fn merge(actions: Vec<Raw>) -> Vec<Raw> {
    let mut merged: Vec<Raw> = Vec::with_capacity(actions.len());
    for action in actions {
        match (merged.last_mut(), action) {
            (Some(Raw::Out(last)), Raw::Out(more)) => last.extend_from_slice(&more),
            (_, action) => merged.push(action),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(bytes: &[u8]) -> Raw {
        Raw::Out(bytes.to_vec())
    }

    /// Feeds all of `input`, resuming after each stop as the console does.
    fn feed_all(raw: &mut RawRepl, mut input: &[u8]) -> Vec<Raw> {
        let mut all = Vec::new();
        while !input.is_empty() {
            let (actions, taken) = raw.feed(input);
            all.extend(actions);
            input = &input[taken..];
        }
        merge(all)
    }

    #[test]
    fn entering_greets_and_ctrl_a_resets() {
        let mut raw = RawRepl::new();
        assert_eq!(raw.enter(), b"\r\nraw REPL; CTRL-B to exit\r\n>");
        assert_eq!(
            feed_all(&mut raw, b"junk\x01"),
            vec![out(b"raw REPL; CTRL-B to exit\r\n>")]
        );
        // The junk was dropped: Ctrl-D now is a soft reset.
        assert_eq!(
            feed_all(&mut raw, b"\x04"),
            vec![
                out(b"OK\r\n"),
                Raw::SoftReset,
                out(b"MPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>")
            ]
        );
    }

    #[test]
    fn a_program_runs_at_ctrl_d_without_echo() {
        let mut raw = RawRepl::new();
        let (actions, taken) = raw.feed(b"print(1)\r\nx = 2\x04print(3)\x04");
        assert_eq!(taken, 16, "the next program waits for this one");
        assert_eq!(
            actions,
            vec![out(b"OK"), Raw::Run("print(1)\r\nx = 2".into()), out(b">")]
        );
        let (actions, _) = raw.feed(b"print(3)\x04");
        assert_eq!(actions[1], Raw::Run("print(3)".into()));
    }

    #[test]
    fn ctrl_c_clears_the_collected_input_and_ctrl_b_leaves() {
        let mut raw = RawRepl::new();
        assert_eq!(feed_all(&mut raw, b"never()\x03"), vec![]);
        assert_eq!(
            feed_all(&mut raw, b"ok()\x04"),
            vec![out(b"OK"), Raw::Run("ok()".into()), out(b">")]
        );
        let (actions, taken) = raw.feed(b"x\x02more");
        assert_eq!((actions, taken), (vec![Raw::Friendly], 2));
    }

    #[test]
    fn raw_paste_announces_the_esp32_window_and_flows() {
        let mut raw = RawRepl::new();
        assert_eq!(
            feed_all(&mut raw, b"\x05A\x01"),
            vec![out(b"R\x01\x80\x00\x01")]
        );
        // 300 bytes: a `\x01` after each 128 taken.
        let program = vec![b'#'; 300];
        let actions = feed_all(&mut raw, &program);
        assert_eq!(actions, vec![out(b"\x01\x01")]);
        let mut window = Vec::new();
        for chunk in program.chunks(1) {
            window.extend(feed_all(&mut raw, chunk));
        }
        assert_eq!(window.len(), 2, "two more windows in 300 more bytes");
        assert_eq!(
            feed_all(&mut raw, b"\x04"),
            vec![
                out(b"\x04"),
                Raw::Run(String::from_utf8(vec![b'#'; 600]).unwrap()),
                out(b">")
            ]
        );
        // Back in raw mode: a plain program runs again.
        assert_eq!(feed_all(&mut raw, b"1\x04")[1], Raw::Run("1".into()));
    }

    #[test]
    fn raw_paste_ctrl_c_ends_the_input_with_a_keyboard_interrupt() {
        let mut raw = RawRepl::new();
        feed_all(&mut raw, b"\x05A\x01");
        assert_eq!(
            feed_all(&mut raw, b"while 1: pass\x03"),
            vec![out(b"\x04\x04KeyboardInterrupt\r\n\x04>")]
        );
        assert_eq!(feed_all(&mut raw, b"2\x04")[1], Raw::Run("2".into()));
    }

    #[test]
    fn other_commands_after_ctrl_e_are_refused() {
        let mut raw = RawRepl::new();
        assert_eq!(feed_all(&mut raw, b"\x05B\x01"), vec![out(b"R\x00>")]);
        assert_eq!(feed_all(&mut raw, b"3\x04")[1], Raw::Run("3".into()));
    }

    #[test]
    fn a_program_too_long_to_keep_is_not_run() {
        let mut raw = RawRepl::new();
        let long = vec![b'1'; MAX_PROGRAM_BYTES + 1];
        let actions = feed_all(&mut raw, &long);
        assert!(actions.is_empty());
        let actions = feed_all(&mut raw, b"\x04");
        let [Raw::Out(answer)] = &actions[..] else {
            panic!("{actions:?}")
        };
        assert!(answer.starts_with(b"OK\x04MemoryError"));
        assert!(answer.ends_with(b"\x04>"));
    }
}
