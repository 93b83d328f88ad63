"""A pyboard-style client of the raw REPL over a WebREPL connection, written
from MicroPython's documentation (``docs/reference/repl.rst``, "Raw mode and
raw-paste mode") and the protocol ``tools/pyboard.py`` speaks on a board's
serial line: Ctrl-A enters the raw REPL, a program ends with Ctrl-D and is
answered ``OK``, its output, ``\\x04``, its error text, ``\\x04``; raw-paste
mode (``\\x05A\\x01``) answers ``R\\x01``, a 16-bit little-endian window size
and ``\\x01``, and the host sends at most a window before each further
``\\x01`` the device sends.

It speaks WebREPL through ``webrepl_client`` (what ``webrepl_cli.py`` puts
on the wire: unmasked text frames, reading text frames as bytes), and keeps
``transcript``: every chunk sent (``">"``) and received (``"<"``), in order.
"""

import time

import webrepl_client as wc

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"


class RawReplError(Exception):
    pass


class Board:
    def __init__(self, port, password="pw", timeout=5.0):
        self.ws, _, _ = wc.connect(port, timeout=timeout)
        self.transcript = []
        self.pending = b""
        wc.login(self.ws, password)
        self.read_until(b"WebREPL connected\r\n>>> ")

    # -- bytes on the wire ---------------------------------------------------

    def write(self, data):
        self.transcript.append((">", data))
        wc.send_text(self.ws, data)

    def _receive(self):
        data = self.ws.read(1, text_ok=True) + self.ws.buf
        self.ws.buf = b""
        self.transcript.append(("<", data))
        self.pending += data

    def read_until(self, ending, timeout=10.0):
        """Everything received up to and including ``ending``."""
        deadline = time.monotonic() + timeout
        while ending not in self.pending:
            if time.monotonic() > deadline:
                raise RawReplError("%r not received; got %r" % (ending, self.pending[-200:]))
            self._receive()
        cut = self.pending.index(ending) + len(ending)
        data, self.pending = self.pending[:cut], self.pending[cut:]
        return data

    def read_exactly(self, n):
        while len(self.pending) < n:
            self._receive()
        data, self.pending = self.pending[:n], self.pending[n:]
        return data

    def close(self):
        self.ws.s.close()

    # -- the raw REPL, as pyboard.py drives it -------------------------------

    def enter_raw_repl(self, soft_reset=True):
        self.write(b"\r\x03\x03")  # ctrl-C twice: interrupt any running program
        self.read_until(b">>> ")
        self.write(b"\r\x01")  # ctrl-A: enter raw REPL
        data = self.read_until(RAW_BANNER)
        if soft_reset:
            data += self.read_until(b">")
            self.write(b"\x04")  # ctrl-D: soft reset
            data = self.read_until(b"soft reboot\r\n")
            data += self.read_until(RAW_BANNER)
        # The prompt is left for exec_raw_no_follow to check.
        return data

    def exit_raw_repl(self):
        self.write(b"\r\x02")  # ctrl-B: enter friendly REPL

    def follow(self, timeout=10.0):
        """The output and the error text of the program that runs now."""
        out = self.read_until(b"\x04", timeout)[:-1]
        err = self.read_until(b"\x04", timeout)[:-1]
        return out, err

    def exec_raw_no_follow(self, command):
        if isinstance(command, str):
            command = command.encode("utf-8")
        self.read_until(b">")
        self.write(command)
        self.write(b"\x04")
        if self.read_exactly(2) != b"OK":
            raise RawReplError("could not exec command")

    def exec_raw(self, command, timeout=10.0):
        self.exec_raw_no_follow(command)
        return self.follow(timeout)

    def raw_paste_write(self, command):
        """Sends ``command`` under flow control: (window size, windows granted)."""
        data = self.read_exactly(2)
        window_size = int.from_bytes(data, "little")
        window_remain = window_size
        windows = 1
        sent = 0
        while sent < len(command):
            while window_remain == 0 or self.pending:
                if not self.pending:
                    self._receive()
                b, self.pending = self.pending[:1], self.pending[1:]
                if b == b"\x01":
                    window_remain += window_size
                    windows += 1
                elif b == b"\x04":
                    # the device ends the input (an error)
                    self.write(b"\x04")
                    return window_size, windows
                else:
                    raise RawReplError("unexpected read during raw paste: %r" % b)
            chunk = command[sent : sent + min(window_remain, len(command) - sent)]
            self.write(chunk)
            sent += len(chunk)
            window_remain -= len(chunk)
        self.write(b"\x04")
        if self.read_until(b"\x04") != b"\x04":
            raise RawReplError("could not complete raw paste")
        return window_size, windows

    def exec_raw_paste(self, command, timeout=10.0):
        """Runs ``command`` in raw-paste mode: (output, error text, window size, windows)."""
        if isinstance(command, str):
            command = command.encode("utf-8")
        self.read_until(b">")
        self.write(b"\x05A\x01")
        answer = self.read_exactly(2)
        if answer != b"R\x01":
            raise RawReplError("raw-paste refused: %r" % answer)
        window, windows = self.raw_paste_write(command)
        out, err = self.follow(timeout)
        return out, err, window, windows

    def exec_(self, command):
        out, err = self.exec_raw(command)
        if err:
            raise RawReplError("exception", out, err)
        return out
