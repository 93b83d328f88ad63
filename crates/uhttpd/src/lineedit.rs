//! The friendly console's line editor, as MicroPython's readline behaves: echo,
//! cursor movement, backspace/delete, home/end, history, Ctrl-C/D/E and
//! paste mode. A pure state machine over the bytes a terminal sends (escape
//! sequences may arrive split across messages); it answers with what to echo
//! and what the user entered.

use std::collections::VecDeque;

/// Lines kept for the up/down arrows.
pub const HISTORY_LINES: usize = 100;

/// Longest line kept; further typing is ignored (a paste of a huge blob
/// belongs in paste mode or a file transfer).
pub const MAX_LINE_CHARS: usize = 4096;

/// Longest paste-mode block.
pub const MAX_PASTE_BYTES: usize = 1024 * 1024;

const CTRL_A: u8 = 0x01;
const CTRL_B: u8 = 0x02;
const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const CTRL_E: u8 = 0x05;
const BACKSPACE: u8 = 0x08;
const ESC: u8 = 0x1b;
const DEL: u8 = 0x7f;

pub const PASTE_BANNER: &str = "\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ";

/// What the editor produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// Bytes to send back to the terminal.
    Echo(String),
    /// A line entered with Enter (without the line end).
    Line(String),
    /// A paste-mode block ended with Ctrl-D.
    Block(String),
    /// Ctrl-C: cancel the line, or interrupt running code.
    Interrupt,
    /// Ctrl-D on an empty line: end the session.
    End,
    /// Ctrl-A on an empty line: enter the raw REPL.
    RawRepl,
    /// Ctrl-B on an empty line: show the banner again.
    Banner,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escape {
    None,
    Esc,
    /// `ESC [` or `ESC O` and the digits seen so far.
    Csi(u8, Option<u8>),
}

#[derive(Debug)]
pub struct LineEditor {
    line: Vec<char>,
    cursor: usize,
    history: VecDeque<String>,
    /// Position while browsing history (0 = the newest).
    browsing: Option<usize>,
    /// The line being typed before browsing started.
    draft: Vec<char>,
    escape: Escape,
    /// Undecoded bytes of a UTF-8 character split across inputs.
    partial: Vec<u8>,
    paste: Option<String>,
    /// The last byte was CR (so a following LF is the same line end).
    after_cr: bool,
}

impl Default for LineEditor {
    fn default() -> Self {
        LineEditor::new()
    }
}

impl LineEditor {
    pub fn new() -> LineEditor {
        LineEditor {
            line: Vec::new(),
            cursor: 0,
            history: VecDeque::new(),
            browsing: None,
            draft: Vec::new(),
            escape: Escape::None,
            partial: Vec::new(),
            paste: None,
            after_cr: false,
        }
    }

    /// Starts the next line with `text` already typed (auto-indent); returns its echo.
    pub fn prefill(&mut self, text: &str) -> String {
        self.line = text.chars().collect();
        self.cursor = self.line.len();
        text.to_string()
    }

    #[cfg(test)]
    pub fn in_paste_mode(&self) -> bool {
        self.paste.is_some()
    }

    /// Feeds terminal input; returns edits in order (entry after entry, as
    /// the console takes them).
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn feed(&mut self, mut input: &[u8]) -> Vec<Edit> {
        let mut edits = Vec::new();
        while !input.is_empty() {
            let (more, taken) = self.feed_entry(input);
            edits.extend(more);
            input = &input[taken..];
        }
        edits
    }

    /// Feeds terminal input up to the first entry (anything but echo: a
    /// line, a block, a control key): the edits, and how many bytes were
    /// taken. The rest waits until that entry has been dealt with, as the
    /// device reads no further while it runs a line, so a pasted line is
    /// echoed after the result of the one before.
    pub fn feed_entry(&mut self, input: &[u8]) -> (Vec<Edit>, usize) {
        let mut out = Out::default();
        for (i, &byte) in input.iter().enumerate() {
            self.byte(byte, &mut out);
            if !out.edits.is_empty() {
                return (out.finish(), i + 1);
            }
        }
        (out.finish(), input.len())
    }

    fn byte(&mut self, byte: u8, out: &mut Out) {
        let after_cr = std::mem::replace(&mut self.after_cr, byte == b'\r');
        if self.escape != Escape::None {
            return self.escape_byte(byte, out);
        }
        if !self.partial.is_empty() || byte >= 0x80 {
            return self.utf8_byte(byte, out);
        }
        if self.paste.is_some() {
            return self.paste_byte(byte, after_cr, out);
        }
        match byte {
            b'\r' => self.enter(out),
            b'\n' if after_cr => {}
            b'\n' => self.enter(out),
            CTRL_C => {
                out.echo("\r\n");
                self.reset_line();
                out.edit(Edit::Interrupt);
            }
            CTRL_D if self.line.is_empty() => out.edit(Edit::End),
            CTRL_D => self.delete_at_cursor(out),
            CTRL_E if self.line.is_empty() => {
                self.paste = Some(String::new());
                out.echo(PASTE_BANNER);
            }
            CTRL_E => self.end(out),
            CTRL_A if self.line.is_empty() => out.edit(Edit::RawRepl),
            CTRL_A => self.home(out),
            CTRL_B if self.line.is_empty() => out.edit(Edit::Banner),
            CTRL_B => {}
            BACKSPACE | DEL => self.backspace(out),
            ESC => self.escape = Escape::Esc,
            b'\t' => {
                for _ in 0..4 {
                    self.insert(' ', out);
                }
            }
            0x20..=0x7e => self.insert(char::from(byte), out),
            _ => {}
        }
    }

    fn utf8_byte(&mut self, byte: u8, out: &mut Out) {
        self.partial.push(byte);
        match std::str::from_utf8(&self.partial) {
            Ok(text) => {
                let chars: Vec<char> = text.chars().collect();
                self.partial.clear();
                for c in chars {
                    if let Some(paste) = &mut self.paste {
                        if paste.len() < MAX_PASTE_BYTES {
                            paste.push(c);
                            out.echo_char(c);
                        }
                    } else {
                        self.insert(c, out);
                    }
                }
            }
            Err(e) if e.error_len().is_some() || self.partial.len() >= 4 => self.partial.clear(),
            Err(_) => {}
        }
    }

    fn paste_byte(&mut self, byte: u8, after_cr: bool, out: &mut Out) {
        let Some(paste) = &mut self.paste else { return };
        match byte {
            CTRL_C => {
                self.paste = None;
                out.echo("\r\n");
                out.edit(Edit::Interrupt);
            }
            CTRL_D => {
                let block = self.paste.take().unwrap_or_default();
                out.echo("\r\n");
                out.edit(Edit::Block(block));
            }
            b'\n' if after_cr => {}
            b'\r' | b'\n' => {
                if paste.len() < MAX_PASTE_BYTES {
                    paste.push('\n');
                }
                out.echo("\r\n=== ");
            }
            0x20..=0x7e | b'\t' if paste.len() < MAX_PASTE_BYTES => {
                paste.push(char::from(byte));
                out.echo_char(char::from(byte));
            }
            _ => {}
        }
    }

    fn escape_byte(&mut self, byte: u8, out: &mut Out) {
        self.escape = match (self.escape, byte) {
            (Escape::Esc, b'[' | b'O') => Escape::Csi(byte, None),
            (Escape::Csi(kind, n), b'0'..=b'9') => {
                let digit = byte - b'0';
                Escape::Csi(
                    kind,
                    Some(n.unwrap_or(0).saturating_mul(10).saturating_add(digit)),
                )
            }
            (Escape::Csi(_, n), final_byte) => {
                self.escape = Escape::None;
                if self.paste.is_none() {
                    self.key(final_byte, n, out);
                }
                return;
            }
            _ => Escape::None,
        };
    }

    fn key(&mut self, final_byte: u8, number: Option<u8>, out: &mut Out) {
        match (final_byte, number) {
            (b'A', _) => self.history_step(true, out),
            (b'B', _) => self.history_step(false, out),
            (b'C', _) if self.cursor < self.line.len() => {
                out.echo_char(self.line[self.cursor]);
                self.cursor += 1;
            }
            (b'D', _) if self.cursor > 0 => {
                self.cursor -= 1;
                out.echo("\x08");
            }
            (b'H', _) | (b'~', Some(1 | 7)) => self.home(out),
            (b'F', _) | (b'~', Some(4 | 8)) => self.end(out),
            (b'~', Some(3)) => self.delete_at_cursor(out),
            _ => {}
        }
    }

    fn insert(&mut self, c: char, out: &mut Out) {
        if self.line.len() >= MAX_LINE_CHARS {
            return;
        }
        self.line.insert(self.cursor, c);
        self.cursor += 1;
        out.echo_char(c);
        self.redraw_tail(0, out);
    }

    fn backspace(&mut self, out: &mut Out) {
        if self.cursor == 0 {
            return;
        }
        self.cursor -= 1;
        self.line.remove(self.cursor);
        out.echo("\x08");
        self.redraw_tail(1, out);
    }

    fn delete_at_cursor(&mut self, out: &mut Out) {
        if self.cursor < self.line.len() {
            self.line.remove(self.cursor);
            self.redraw_tail(1, out);
        }
    }

    /// Rewrites the line from the cursor on, blanks `erased` leftover cells,
    /// and moves the terminal cursor back where it was.
    fn redraw_tail(&self, erased: usize, out: &mut Out) {
        let tail: String = self.line[self.cursor..].iter().collect();
        let back = self.line.len() - self.cursor + erased;
        if back == 0 {
            return;
        }
        out.echo(&tail);
        out.echo(&" ".repeat(erased));
        out.echo(&"\x08".repeat(back));
    }

    fn home(&mut self, out: &mut Out) {
        out.echo(&"\x08".repeat(self.cursor));
        self.cursor = 0;
    }

    fn end(&mut self, out: &mut Out) {
        let tail: String = self.line[self.cursor..].iter().collect();
        out.echo(&tail);
        self.cursor = self.line.len();
    }

    fn replace_line(&mut self, new: Vec<char>, out: &mut Out) {
        let old_len = self.line.len();
        self.home(out);
        let text: String = new.iter().collect();
        out.echo(&text);
        let erased = old_len.saturating_sub(new.len());
        out.echo(&" ".repeat(erased));
        out.echo(&"\x08".repeat(erased));
        self.cursor = new.len();
        self.line = new;
    }

    fn history_step(&mut self, older: bool, out: &mut Out) {
        let next = match (self.browsing, older) {
            (None, true) if !self.history.is_empty() => Some(0),
            (Some(i), true) if i + 1 < self.history.len() => Some(i + 1),
            (Some(i), true) => Some(i),
            (Some(0), false) => None,
            (Some(i), false) => Some(i - 1),
            (None, _) => return,
        };
        if self.browsing.is_none() {
            self.draft = self.line.clone();
        }
        self.browsing = next;
        let new = match next {
            Some(i) => self.history[i].chars().collect(),
            None => std::mem::take(&mut self.draft),
        };
        self.replace_line(new, out);
    }

    fn enter(&mut self, out: &mut Out) {
        let line: String = self.line.iter().collect();
        if !line.trim().is_empty() && self.history.front() != Some(&line) {
            self.history.push_front(line.clone());
            self.history.truncate(HISTORY_LINES);
        }
        self.reset_line();
        out.echo("\r\n");
        out.edit(Edit::Line(line));
    }

    fn reset_line(&mut self) {
        self.line.clear();
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
    }
}

/// Collects echo text, merging consecutive pieces into one message.
#[derive(Default)]
struct Out {
    edits: Vec<Edit>,
    echo: String,
}

impl Out {
    fn echo(&mut self, text: &str) {
        self.echo.push_str(text);
    }

    fn echo_char(&mut self, c: char) {
        self.echo.push(c);
    }

    fn edit(&mut self, edit: Edit) {
        self.flush();
        self.edits.push(edit);
    }

    fn flush(&mut self) {
        if !self.echo.is_empty() {
            self.edits.push(Edit::Echo(std::mem::take(&mut self.echo)));
        }
    }

    fn finish(mut self) -> Vec<Edit> {
        self.flush();
        self.edits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(edits: &[Edit]) -> Vec<&str> {
        edits
            .iter()
            .filter_map(|e| match e {
                Edit::Line(l) => Some(l.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn typing_echoes_and_enter_gives_the_line() {
        let mut ed = LineEditor::new();
        let edits = ed.feed(b"1+1\r");
        assert_eq!(
            edits,
            vec![Edit::Echo("1+1\r\n".into()), Edit::Line("1+1".into())]
        );
        assert_eq!(lines(&ed.feed(b"x\r\ny\n")), vec!["x", "y"]);
    }

    #[test]
    fn backspace_arrows_home_end_and_delete_edit_in_place() {
        let mut ed = LineEditor::new();
        assert_eq!(lines(&ed.feed(b"abc\x7f\x7fxy\r")), vec!["axy"]);
        // left twice, insert, end, append
        assert_eq!(lines(&ed.feed(b"ad\x1b[D\x1b[Dz\x1b[Fq\r")), vec!["zadq"]);
        // home then delete key; Ctrl-A then insert
        assert_eq!(lines(&ed.feed(b"123\x1b[H\x1b[3~\x01>\r")), vec![">23"]);
        assert_eq!(lines(&ed.feed(b"xy\x1b[1~!\x1b[4~?\r")), vec!["!xy?"]);
    }

    #[test]
    fn escape_sequences_may_arrive_split() {
        let mut ed = LineEditor::new();
        ed.feed(b"ab");
        ed.feed(b"\x1b");
        ed.feed(b"[");
        ed.feed(b"D");
        assert_eq!(lines(&ed.feed(b"X\r")), vec!["aXb"]);
    }

    #[test]
    fn history_walks_back_and_forth_and_keeps_the_draft() {
        let mut ed = LineEditor::new();
        ed.feed(b"one\rtwo\r");
        assert_eq!(lines(&ed.feed(b"\x1b[A\r")), vec!["two"]);
        assert_eq!(lines(&ed.feed(b"\x1b[A\x1b[A\x1b[A\r")), vec!["one"]);
        assert_eq!(lines(&ed.feed(b"dra\x1b[A\x1b[B\r")), vec!["dra"]);
    }

    #[test]
    fn control_keys_interrupt_end_and_paste() {
        let mut ed = LineEditor::new();
        assert_eq!(ed.feed(b"abc\x03").last(), Some(&Edit::Interrupt));
        assert_eq!(lines(&ed.feed(b"\r")), vec![""], "Ctrl-C dropped the line");
        assert_eq!(ed.feed(b"\x04"), vec![Edit::End]);
        let edits = ed.feed(b"\x05if x:\r    y()\r\x04");
        assert_eq!(
            edits.first(),
            Some(&Edit::Echo(format!(
                "{PASTE_BANNER}if x:\r\n===     y()\r\n=== \r\n"
            )))
        );
        assert_eq!(edits.last(), Some(&Edit::Block("if x:\n    y()\n".into())));
        assert!(!ed.in_paste_mode());
        assert_eq!(ed.feed(b"\x05abc\x03").last(), Some(&Edit::Interrupt));
        // Ctrl-A and Ctrl-B on an empty line switch modes; on a line, Ctrl-A is Home.
        assert_eq!(ed.feed(b"\x01"), vec![Edit::RawRepl]);
        assert_eq!(ed.feed(b"\x02"), vec![Edit::Banner]);
        assert_eq!(lines(&ed.feed(b"b\x01a\x02\r")), vec!["ab"]);
    }

    #[test]
    fn feed_entry_stops_after_the_first_entry() {
        let mut ed = LineEditor::new();
        let input = b"1+1\r2+2\r";
        let (edits, taken) = ed.feed_entry(input);
        assert_eq!(taken, 4);
        assert_eq!(
            edits,
            vec![Edit::Echo("1+1\r\n".into()), Edit::Line("1+1".into())]
        );
        let (edits, taken) = ed.feed_entry(&input[4..]);
        assert_eq!((lines(&edits), taken), (vec!["2+2"], 4));
        assert_eq!(ed.feed_entry(b"ab"), (vec![Edit::Echo("ab".into())], 2));
    }

    #[test]
    fn utf8_split_across_inputs_and_prefill() {
        let mut ed = LineEditor::new();
        let bytes = "é€".as_bytes();
        ed.feed(&bytes[..1]);
        ed.feed(&bytes[1..3]);
        ed.feed(&bytes[3..]);
        assert_eq!(lines(&ed.feed(b"\r")), vec!["é€"]);
        assert_eq!(ed.prefill("    "), "    ");
        assert_eq!(lines(&ed.feed(b"pass\r")), vec!["    pass"]);
    }

    #[test]
    fn lines_are_bounded() {
        let mut ed = LineEditor::new();
        let long = vec![b'a'; MAX_LINE_CHARS + 100];
        ed.feed(&long);
        assert_eq!(lines(&ed.feed(b"\r"))[0].len(), MAX_LINE_CHARS);
    }
}
