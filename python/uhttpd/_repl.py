"""The Python side of the WebREPL: the interpreter behind the engine's
friendly console (which edits lines and drives this). Runs what the
terminal sends in ``__main__``'s namespace, on the session's executor
thread, and shows the session what the program prints (as MicroPython's
dupterm does) without taking it from the real console."""

import code
import ctypes
import sys
import threading

import __main__

_FILENAME = "<webrepl>"


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

    def run(self, source, block):
        """Runs a line (or a pasted block); True when more lines are needed."""
        self.executor = threading.get_ident()
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
        a call blocked in C, such as time.sleep, is interrupted when it returns)."""
        executor = self.executor
        if executor is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(executor), ctypes.py_object(KeyboardInterrupt)
            )
