"""Runs a uhttpd "app" in a subprocess of either face of the module.

An app is Python source, written for both faces, that creates
``httpd = uhttpd.Server(port=0, host='127.0.0.1', ...)`` and registers what it
serves. The runner adds a header (CPython: logging to stderr in the same
``uhttpd: LEVEL: message`` form the MicroPython face prints) and a footer that
prints ``PORT <n>`` and then idles reading stdin: each line ``EVAL <expr>`` is
evaluated in the app's globals by the main thread and answered on stdout with
``RESULT <repr>`` or ``RAISED <type> <message>``; ``QUIT`` or the end of stdin
stops the loop, after which the footer closes the server (unless
``close=False``) and the process exits.

    with run_app("micropython", source, cwd=tmp_path) as app:
        app.url("/x"), app.port, app.stderr_text(), app.lines(), app.eval("httpd.dispatch('x')")

Every wait is bounded; teardown ends the process by its Popen handle only.
"""

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(REPO, "target", "micropython", "micropython")
FACES = ("cpython", "micropython")
HOST = "127.0.0.1"

START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0

# CPython logs through `logging`; this sends the uhttpd logger's records to
# stderr as the MicroPython face prints them: "uhttpd: ERROR: message".
CPYTHON_HEADER = """\
import logging as _logging, sys as _sys
_logging.basicConfig(level=_logging.WARNING, stream=_sys.stderr,
                     format='%(name)s: %(levelname)s: %(message)s')
"""

FOOTER = """
import sys as _sys
print('PORT', httpd.port())
while True:
    _line = _sys.stdin.readline()
    if not _line or _line.strip() == 'QUIT':
        break
    _line = _line.strip()
    if _line.startswith('EVAL '):
        try:
            _value = eval(_line[5:])
            print('RESULT', repr(_value))
        except Exception as _e:
            print('RAISED', type(_e).__name__, str(_e))
"""

CLOSE = """
httpd.close()
print('CLOSED')
"""


def command(face):
    """The interpreter of a face, as an argv prefix."""
    if face == "cpython":
        return [sys.executable, "-u"]
    if face == "micropython":
        if not os.path.exists(MICROPYTHON):
            raise RuntimeError("%s is missing: run bash scripts/build-micropython.sh" % MICROPYTHON)
        return [MICROPYTHON]
    raise ValueError("unknown face %r" % (face,))


class AppError(Exception):
    """The app did not come up (it exited or printed no port in time)."""


class App:
    """A running app: its port, its output, and a way to stop it."""

    def __init__(self, face, source, cwd, close=True, env=None):
        self.face = face
        self.cwd = str(cwd)
        self.port = None
        self.returncode = None
        self._out_lines = []
        self._err = bytearray()
        self._cond = threading.Condition()
        self._scriptdir = tempfile.mkdtemp(prefix="uhttpd-face-")
        script = os.path.join(self._scriptdir, "app.py")
        header = CPYTHON_HEADER if face == "cpython" else ""
        with open(script, "w") as f:
            f.write(header + source + "\n" + FOOTER + (CLOSE if close else ""))
        full_env = dict(os.environ)
        full_env.pop("PYTHONPATH", None)
        if env:
            full_env.update(env)
        self.proc = subprocess.Popen(
            command(face) + [script], cwd=self.cwd, env=full_env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self._readers = [
            threading.Thread(target=self._read_out, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for t in self._readers:
            t.start()

    # output ---------------------------------------------------------------
    def _read_out(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._cond:
                if self.port is None and line.startswith("PORT "):
                    self.port = int(line.split()[1])
                else:
                    self._out_lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _read_err(self):
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):
            with self._cond:
                self._err += chunk
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def stderr_text(self):
        """What the app wrote to stderr so far (its log)."""
        with self._cond:
            return self._err.decode("utf-8", "replace")

    def lines(self):
        """The app's stdout lines so far, without the PORT line."""
        with self._cond:
            return list(self._out_lines)

    def wait_for(self, predicate, timeout=5.0):
        """Waits until predicate(self) is true (re-checked on every output);
        returns its last value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                self._cond.release()
                try:
                    value = predicate(self)
                finally:
                    self._cond.acquire()
                left = deadline - time.monotonic()
                if value or left <= 0:
                    return value
                self._cond.wait(min(left, 0.1))

    def wait_stderr(self, text, timeout=5.0):
        """The stderr text once it contains ``text`` (or what there is after ``timeout`` s)."""
        self.wait_for(lambda app: text in app.stderr_text(), timeout)
        return self.stderr_text()

    def _start(self):
        deadline = time.monotonic() + START_TIMEOUT
        with self._cond:
            while self.port is None and self.proc.poll() is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.1))
        if self.port is None:
            self.stop()
            raise AppError("%s app printed no port (rc=%r)\nstdout:\n%s\nstderr:\n%s" % (
                self.face, self.returncode, "\n".join(self.lines()), self.stderr_text()))

    # commands -------------------------------------------------------------
    def eval(self, expr, timeout=5.0):
        """Evaluates ``expr`` in the app's main thread; returns its answer
        line: ``RESULT <repr>`` or ``RAISED <type> <message>``."""
        return self.start_eval(expr)(timeout)

    def start_eval(self, expr):
        """Sends ``expr`` to the app's main thread without waiting; returns
        ``answer(timeout=5.0)``, which waits for its answer line."""
        before = len(self.lines())
        self.proc.stdin.write(("EVAL %s\n" % expr).encode())
        self.proc.stdin.flush()
        return lambda timeout=5.0: self._answer(expr, before, timeout)

    def _answer(self, expr, before, timeout):
        def answered(app):
            for line in app.lines()[before:]:
                if line.startswith(("RESULT ", "RAISED ")):
                    return line
            return None

        line = self.wait_for(answered, timeout)
        if line is None:
            raise AssertionError("no answer to EVAL %s within %s s; stderr:\n%s" % (
                expr, timeout, self.stderr_text()))
        return line

    # addresses ------------------------------------------------------------
    def url(self, path="/"):
        return "http://%s:%d%s" % (HOST, self.port, path)

    # stopping -------------------------------------------------------------
    def stop(self, timeout=STOP_TIMEOUT):
        """Closes stdin (the app closes its server and exits); after
        ``timeout`` s terminates, then kills, this process. Returns the exit code."""
        if self.returncode is not None:
            return self.returncode
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)
        for t in self._readers:
            t.join(3)
        self.returncode = self.proc.returncode
        with contextlib.suppress(OSError):
            os.remove(os.path.join(self._scriptdir, "app.py"))
            os.rmdir(self._scriptdir)
        return self.returncode


@contextlib.contextmanager
def run_app(face, source, cwd, close=True, env=None):
    """Starts ``source`` in ``face`` with working directory ``cwd``; yields
    the running App; stops it on exit."""
    app = App(face, source, cwd, close=close, env=env)
    try:
        app._start()
        yield app
    finally:
        app.stop()


class Runner:
    """Starts apps of one face, each in ``cwd`` unless told otherwise, and
    stops them all at the end."""

    def __init__(self, face, cwd):
        self.face = face
        self.cwd = cwd
        self._stack = contextlib.ExitStack()

    def __call__(self, source, cwd=None, close=True, env=None):
        return self._stack.enter_context(run_app(self.face, source, cwd or self.cwd, close, env))

    def close(self):
        self._stack.close()
