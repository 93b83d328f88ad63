"""The Python side of the WebREPL: the interpreter behind the engine's
friendly console (which edits lines and drives this). Runs what the
terminal sends in ``__main__``'s namespace, on the session's executor
thread, and shows the session what the program prints (as MicroPython's
dupterm does) without taking it from the real console."""

import code
import ctypes
import importlib.metadata
import platform
import sys
import threading
import traceback

import __main__

_FILENAME = "<webrepl>"
# What MicroPython's raw REPL names the program it runs.
_RAW_FILENAME = "<stdin>"


class _Tee:
    """Stands in for sys.stdout / sys.stderr while a session is attached."""

    def __init__(self, real, console):
        self._real = real
        self._console = console

    def write(self, text):
        console = self._console
        terminal = console.terminal  # read once: the session may detach meanwhile
        if terminal is not None and threading.get_ident() == console.executor:
            # The REPL's own output (results, tracebacks): the session only.
            terminal.write(text)
            return len(text)
        self._real.write(text)
        if terminal is not None:
            terminal.offer(text)
        return len(text)

    def flush(self):
        self._real.flush()

    def __getattr__(self, name):
        return getattr(self._real, name)


class Console:
    """One per ``Server.ws()``; attached to one session at a time."""

    def __init__(self):
        self._interpreter = code.InteractiveConsole(__main__.__dict__, _FILENAME)
        self.terminal = None
        self.executor = None
        self._saved = None
        # Ctrl-C reaches code only while it runs, once per run.
        self._state = threading.Lock()
        self._interruptible = False

    def attach(self, terminal):
        self.terminal = terminal
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = _Tee(sys.stdout, self)
        sys.stderr = _Tee(sys.stderr, self)

    def detach(self):
        if self._saved is not None:
            # Only undo our own tees; a program that replaced them since keeps its choice.
            if isinstance(sys.stdout, _Tee) and sys.stdout._console is self:
                sys.stdout = self._saved[0]
            if isinstance(sys.stderr, _Tee) and sys.stderr._console is self:
                sys.stderr = self._saved[1]
            self._saved = None
        self._interpreter.resetbuffer()
        self.terminal = None
        self.executor = None

    def _start(self):
        with self._state:
            self.executor = threading.get_ident()
            self._interruptible = True

    def _stop(self):
        with self._state:
            self._interruptible = False
            # A Ctrl-C that came too late for the code is not kept for the next run.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.executor), None)

    def banner(self):
        """The line Ctrl-B shows, as MicroPython's names its version and board."""
        try:
            version = importlib.metadata.version("uhttpd")
        except importlib.metadata.PackageNotFoundError:
            version = "(unknown version)"
        return "uhttpd %s on CPython %s; %s with %s" % (
            version,
            platform.python_version(),
            platform.system() or "host",
            platform.machine() or "CPU",
        )

    def run_program(self, source):
        """Runs a raw-REPL program in __main__; returns its error text or None.
        What it prints (stdout and stderr alike, as on the device) is its output."""
        try:
            self._start()
            try:
                exec(compile(source, _RAW_FILENAME, "exec"), __main__.__dict__)
            except BaseException as e:  # noqa: BLE001 - every error is the program's answer
                tb = e.__traceback__.tb_next if e.__traceback__ is not None else None
                return "".join(traceback.format_exception(type(e), e, tb))
            finally:
                self._stop()
        except KeyboardInterrupt:
            # Arrived around the program rather than in it.
            return "KeyboardInterrupt\n"
        return None

    def run(self, source, block):
        """Runs a line (or a pasted block); True when more lines are needed."""
        try:
            self._start()
            try:
                return self._run(source, block)
            finally:
                self._stop()
        except KeyboardInterrupt:
            self._interpreter.resetbuffer()
            self.terminal.write("\nKeyboardInterrupt\n")
            return False

    def _run(self, source, block):
        try:
            if block:
                self._interpreter.resetbuffer()
                self._interpreter.runsource(source, _FILENAME, "exec")
                return False
            return self._interpreter.push(source)
        except KeyboardInterrupt:
            # Arrived between statements, outside runcode's own handler.
            self._interpreter.resetbuffer()
            self.terminal.write("\nKeyboardInterrupt\n")
            return False
        except SystemExit:
            self._interpreter.resetbuffer()
            self.terminal.write("SystemExit is ignored in the WebREPL; Ctrl-D ends the session\n")
            return False

    def reset(self):
        self._interpreter.resetbuffer()

    def interrupt(self):
        """Raises KeyboardInterrupt in the running code (at its next bytecode:
        a call blocked in C, such as time.sleep, is interrupted when it
        returns; see SPEC.md). A second Ctrl-C in the same run does nothing more."""
        with self._state:
            if self._interruptible and self.executor is not None:
                self._interruptible = False
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self.executor), ctypes.py_object(KeyboardInterrupt)
                )
