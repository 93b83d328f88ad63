"""Shared fixtures and helpers for the uhttpd test suite.

Every server is made with ``port=0`` and ``host='127.0.0.1'``; every socket
operation is bounded by a timeout so a misbehaving server fails a test instead
of hanging the suite.
"""

import faulthandler
import http.client
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import traceback

import pytest

import uhttpd

HOST = "127.0.0.1"
TIMEOUT = 5.0

# A test running longer than this is hung: the slowest ones take about 30 s.
TEST_DEADLINE = float(os.environ.get("UHTTPD_TEST_DEADLINE", "180"))


# --------------------------------------------------------------------------
# hangs


LOGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "test-logs")
# Where a hang is reported: pytest captures fd 2 during a test, and the run
# ends without giving back what it captured. scripts/test.sh shows this file.
HANG_REPORT = os.path.join(LOGS, "hang-stacks.txt")
os.makedirs(LOGS, exist_ok=True)
_hang_report = open(HANG_REPORT, "w")


def _native_stacks():
    """Every thread's native stack (gdb), saved whole beside HANG_REPORT;
    returns for each thread its name, top frame and first frames in uhttpd."""
    if not shutil.which("gdb"):
        return "(no gdb: native stacks not taken)\n"
    out = subprocess.run(
        ["gdb", "-p", str(os.getpid()), "-batch", "-nx",
         "-ex", "set print thread-events off", "-ex", "thread apply all bt 40"],
        capture_output=True, text=True, timeout=120, check=False,
    ).stdout
    with open(os.path.join(LOGS, "hang-native-stacks.txt"), "w") as f:
        f.write(out)
    lines = []
    for thread in out.split("\nThread ")[1:]:
        frames = [f.split(" from /")[0] for f in thread.splitlines()[1:] if f.startswith("#")]
        ours = [f for f in frames if "uhttpd::" in f]
        lines += ["Thread " + thread.splitlines()[0]] + frames[:1] + ours[:2]
    return "\n".join(line[:200] for line in lines) + "\n(all frames: target/test-logs/hang-native-stacks.txt)\n"


def _dump_and_exit(nodeid):
    """Records where every thread of this process is stuck, then ends the
    run: a hang must fail CI at once, with what is needed to fix it."""
    out = _hang_report
    out.write("=== %s still running after %.0f s\n" % (nodeid, TEST_DEADLINE))
    out.write("=== Python threads (frames outside pytest):\n" + _python_stacks())
    out.write("=== native threads:\n" + _native_stacks())
    out.write("=== every Python frame:\n")
    out.flush()
    faulthandler.dump_traceback(file=out, all_threads=True)
    out.flush()
    os._exit(3)


def _python_stacks():
    names = {t.ident: t.name for t in threading.enumerate()}
    text = ""
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        frames = [f for f in traceback.extract_stack(frame)
                  if "site-packages" not in f.filename and "<frozen" not in f.filename]
        text += "%s:\n" % names.get(ident, ident)
        text += "".join(traceback.format_list(frames[-8:])) or "  (only pytest frames)\n"
    return text


@pytest.fixture(autouse=True)
def _hang_watchdog(request):
    watchdog = threading.Timer(TEST_DEADLINE, _dump_and_exit, (request.node.nodeid,))
    watchdog.daemon = True
    watchdog.start()
    # If a thread holds the GIL forever the timer never runs; this C-level
    # one still records the Python stacks and ends the run.
    faulthandler.dump_traceback_later(TEST_DEADLINE + 150, exit=True, file=_hang_report)
    yield
    faulthandler.cancel_dump_traceback_later()
    watchdog.cancel()


# --------------------------------------------------------------------------
# servers


@pytest.fixture
def server(tmp_path):
    """Factory: ``server(**kw)`` makes a Server on a free local port.

    All servers made through it are closed at teardown.
    """
    made = []

    def make(*args, **kw):
        if not args:
            kw.setdefault("port", 0)
        kw.setdefault("host", HOST)
        kw.setdefault("root", str(tmp_path))
        srv = uhttpd.Server(*args, **kw)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.close()


@pytest.fixture
def root(tmp_path):
    """An empty directory, ``tmp/root``, to serve as a server's root."""
    r = tmp_path / "root"
    r.mkdir()
    return r


def url(srv, path="/"):
    """The http URL of ``path`` on ``srv``."""
    return "http://%s:%d%s" % (HOST, srv.port(), path)


def port_of(srv_or_port):
    return srv_or_port if isinstance(srv_or_port, int) else srv_or_port.port()


# --------------------------------------------------------------------------
# http.client


class Reply:
    """A parsed HTTP response."""

    def __init__(self, version, status, reason, headers, body, raw_body=b"", head=b""):
        self.version = version
        self.status = status
        self.reason = reason
        self.header_list = headers  # [(lower-case name, value str)]
        self.body = body
        self.raw_body = raw_body
        self.head = head

    def header(self, name):
        """First value of header ``name`` (case-insensitive) or None."""
        name = name.lower()
        for k, v in self.header_list:
            if k == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.header_list if k == name]

    @property
    def headers(self):
        return dict(self.header_list)

    def __repr__(self):
        return "<Reply %s %s %r headers=%r body=%r>" % (
            self.status,
            self.reason,
            self.version,
            self.header_list,
            self.body[:200],
        )


def request(srv, method="GET", path="/", body=None, headers=None, timeout=TIMEOUT):
    """One request with http.client on a fresh connection; returns a Reply."""
    conn = http.client.HTTPConnection(HOST, port_of(srv), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        hdrs = [(k.lower(), v) for k, v in resp.getheaders()]
        version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(resp.version, str(resp.version))
        return Reply(version, resp.status, resp.reason, hdrs, data)
    finally:
        conn.close()


def get(srv, path="/", **kw):
    return request(srv, "GET", path, **kw)


def tokens(value):
    """'GET, HEAD,OPTIONS' -> {'GET', 'HEAD', 'OPTIONS'}"""
    assert value is not None, "header missing"
    return {t.strip() for t in value.split(",") if t.strip()}


# --------------------------------------------------------------------------
# raw sockets


class Conn:
    """A raw client connection with a small HTTP/1.x response parser."""

    def __init__(self, srv_or_port, timeout=TIMEOUT):
        self.sock = socket.create_connection((HOST, port_of(srv_or_port)), timeout=timeout)
        self.buf = bytearray()

    # plumbing -------------------------------------------------------------
    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise EOFError("connection closed by server; buffered: %r" % bytes(self.buf[:300]))
        self.buf += chunk

    def read_line(self):
        start = 0
        while True:
            i = self.buf.find(b"\r\n", start)
            if i >= 0:
                break
            start = max(0, len(self.buf) - 1)
            self._fill()
        line = bytes(self.buf[:i])
        del self.buf[: i + 2]
        return line

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_until_close(self):
        """Everything until the server closes (socket timeout raises)."""
        out = bytearray(self.buf)
        self.buf = bytearray()
        while True:
            try:
                chunk = self.sock.recv(262144)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def closed_by_peer(self, timeout=3.0):
        """True if the server closes the connection within ``timeout`` s
        (any unread bytes are discarded)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    # HTTP -----------------------------------------------------------------
    def read_head(self):
        start = 0
        while True:
            i = self.buf.find(b"\r\n\r\n", start)
            if i >= 0:
                break
            start = max(0, len(self.buf) - 3)
            self._fill()
        head = bytes(self.buf[:i])
        del self.buf[: i + 4]
        lines = head.split(b"\r\n")
        version, _, rest = lines[0].decode("latin-1").partition(" ")
        code, _, reason = rest.partition(" ")
        headers = []
        for line in lines[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name.strip().lower(), value.strip()))
        return version, int(code), reason, headers, head

    def read_response(self, method="GET"):
        """Reads one response (a 1xx interim response is returned on its own)."""
        version, status, reason, headers, head = self.read_head()
        reply = Reply(version, status, reason, headers, b"", b"", head)
        if method == "HEAD" or 100 <= status < 200 or status in (204, 304):
            return reply
        te = (reply.header("transfer-encoding") or "").lower()
        cl = reply.header("content-length")
        if "chunked" in te:
            raw = bytearray()
            body = bytearray()
            while True:
                line = self.read_line()
                raw += line + b"\r\n"
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    # trailers until empty line
                    while True:
                        t = self.read_line()
                        raw += t + b"\r\n"
                        if t == b"":
                            break
                    break
                data = self.read_exact(size)
                crlf = self.read_exact(2)
                assert crlf == b"\r\n", "bad chunk framing: %r" % crlf
                raw += data + b"\r\n"
                body += data
            reply.body, reply.raw_body = bytes(body), bytes(raw)
        elif cl is not None:
            reply.body = reply.raw_body = self.read_exact(int(cl))
        else:
            reply.body = reply.raw_body = self.read_until_close()
        return reply

    def final_response(self, method="GET"):
        """Skips interim 1xx responses."""
        while True:
            r = self.read_response(method)
            if r.status >= 200:
                return r

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw(srv_or_port, data, method=None, timeout=TIMEOUT):
    """Sends ``data`` on a fresh connection and returns the first final response."""
    if isinstance(data, str):
        data = data.encode("latin-1")
    if method is None:
        method = data.split(b" ", 1)[0].decode("latin-1")
    with Conn(srv_or_port, timeout=timeout) as c:
        c.send(data)
        return c.final_response(method)


def raw_until_close(srv_or_port, data, timeout=TIMEOUT):
    """Sends ``data`` and returns every byte until the server closes."""
    with Conn(srv_or_port, timeout=timeout) as c:
        c.send(data)
        return c.read_until_close()


def refuses_connections(port, timeout=2.0):
    """True when nothing accepts connections on the port any more."""
    try:
        s = socket.create_connection((HOST, port), timeout=timeout)
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    except OSError:
        return True
    s.close()
    return False


# --------------------------------------------------------------------------
# handlers


class Recorder:
    """A route callback that counts calls and answers 'ok'."""

    def __init__(self, body="ok", **write_kw):
        self.calls = 0
        self.lock = threading.Lock()
        self.body = body
        self.write_kw = write_kw
        self.paths = []

    def __call__(self, req):
        with self.lock:
            self.calls += 1
            self.paths.append(req.path())
        req.write(self.body, **self.write_kw)


def capture(fn):
    """Runs fn(); returns ('ok', result) or (exception type, message)."""
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001 - we report whatever was raised
        return (type(e), str(e))


# --------------------------------------------------------------------------
# logging


class LogCollector(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []
        self.cond = threading.Condition()

    def emit(self, record):
        with self.cond:
            self.records.append(record)
            self.cond.notify_all()

    @staticmethod
    def text(record):
        """Message plus formatted traceback, if any."""
        out = record.getMessage()
        if record.exc_info:
            out += "\n" + logging.Formatter().formatException(record.exc_info)
        if getattr(record, "exc_text", None):
            out += "\n" + record.exc_text
        if getattr(record, "stack_info", None):
            out += "\n" + record.stack_info
        return out

    def matching(self, pred):
        with self.cond:
            return [r for r in self.records if pred(r)]

    def wait_for(self, pred, timeout=3.0, count=1):
        """Waits until at least ``count`` records satisfy pred; returns them."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [r for r in self.records if pred(r)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    return found
                self.cond.wait(left)


@pytest.fixture
def uhttpd_log():
    """Collects every record of the 'uhttpd' logger (level DEBUG)."""
    logger = logging.getLogger("uhttpd")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    collector = LogCollector()
    logger.addHandler(collector)
    try:
        yield collector
    finally:
        logger.removeHandler(collector)
        logger.setLevel(old_level)


# --------------------------------------------------------------------------
# files on disk (test_files.py, test_uploads.py, test_file_acl.py)


def tree(path):
    """Sorted relative paths of every file and directory under ``path``
    (directories end with '/'); symlinks are listed, not followed."""
    import os

    out = []
    base = str(path)
    for dirpath, dirnames, filenames in os.walk(base):
        rel = os.path.relpath(dirpath, base)
        rel = "" if rel == "." else rel + "/"
        for d in dirnames:
            full = os.path.join(dirpath, d)
            out.append(rel + d + ("" if os.path.islink(full) else "/"))
        for f in filenames:
            out.append(rel + f)
    return sorted(out)


def wait_until(pred, timeout=2.0, interval=0.02):
    """Polls ``pred()`` until it is truthy or ``timeout`` s pass; returns
    its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def tree_settles_to(path, expected, timeout=2.0):
    """Waits (up to ``timeout`` s) for ``tree(path)`` to equal ``expected``;
    returns the last tree seen (compare it with ``expected``)."""
    expected = sorted(expected)
    seen = [None]

    def check():
        seen[0] = tree(path)
        return seen[0] == expected

    wait_until(check, timeout)
    return seen[0]


@pytest.fixture
def server_process():
    """Factory: ``server_process(script, root)`` runs ``script`` in a fresh
    interpreter (env ``UHTTPD_ROOT`` = root) and returns the port it prints.

    The script must create its server, then ``print(srv.port(), flush=True)``
    and block on ``sys.stdin.read()``; it is stopped at teardown by closing
    its stdin (and killed by pid if it does not exit).
    """
    import os
    import subprocess
    import sys
    import tempfile

    procs = []

    def start(script, root):
        env = dict(os.environ, UHTTPD_ROOT=str(root))
        errfile = tempfile.TemporaryFile()
        proc = subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errfile,
            env=env,
        )
        procs.append(proc)
        line = [b""]

        def read_port():
            line[0] = proc.stdout.readline()

        t = threading.Thread(target=read_port, daemon=True)
        t.start()
        t.join(15)
        try:
            return int(line[0].strip())
        except ValueError:
            proc.kill()
            proc.wait(5)
            errfile.seek(0)
            raise AssertionError(
                "server process did not start: stdout=%r stderr=%r" % (line[0], errfile.read())
            )

    yield start
    for proc in procs:
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(5)
        except Exception:  # noqa: BLE001
            proc.kill()
            proc.wait(5)


# --------------------------------------------------------------------------
# Server-Sent Events (test_events.py, test_browser.py)


class SSEClient:
    """A raw EventSource client: sends ``GET path`` and parses the stream.

    ``events()`` yields dicts ``{"event": name or None, "data": str}``;
    comment lines are collected in ``comments``.
    """

    def __init__(self, srv_or_port, path, headers=None, timeout=TIMEOUT, rcvbuf=None):
        self.conn = Conn.__new__(Conn)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(timeout)
        sock.connect((HOST, port_of(srv_or_port)))
        self.conn.sock = sock
        self.conn.buf = bytearray()
        extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
        self.conn.send(
            "GET %s HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n%s\r\n" % (path, extra)
        )
        self.comments = []
        self.status = None
        self.headers = None

    def head(self):
        """Reads the response head; returns the Reply (body read for non-200)."""
        version, status, reason, headers, head = self.conn.read_head()
        self.status = status
        self.headers = Reply(version, status, reason, headers, b"", b"", head)
        if status != 200:
            cl = self.headers.header("content-length")
            if cl is not None:
                self.headers.body = self.conn.read_exact(int(cl))
        return self.headers

    def read_bytes(self, n):
        return self.conn.read_exact(n)

    def _line(self):
        while True:
            i = self.conn.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.conn.buf[:i])
                del self.conn.buf[: i + 1]
                return line.decode("utf-8")
            self.conn._fill()

    def next_event(self):
        """The next event (skipping comments); raises on timeout or close."""
        name, data = None, []
        while True:
            line = self._line()
            if line == "":
                if data or name is not None:
                    return {"event": name, "data": "\n".join(data)}
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)

    def events(self, n):
        return [self.next_event() for _ in range(n)]

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def sse(srv, path, **kw):
    """Opens an SSE client and reads its head (asserting nothing)."""
    c = SSEClient(srv, path, **kw)
    c.head()
    return c


# --------------------------------------------------------------------------
# WebREPL (test_repl.py, test_browser.py)


def ws_url(srv, path="/"):
    return "ws://%s:%d%s" % (HOST, port_of(srv), path)


class Terminal:
    """The WebREPL terminal over a ``websockets`` sync connection.

    ``text`` accumulates every text frame received; ``expect(marker)``
    waits (bounded) until ``marker`` appears after the read position and
    returns the text up to and including it.
    """

    def __init__(self, conn):
        self.conn = conn
        self.text = ""
        self.pos = 0
        self.binary = []

    def _recv(self, timeout):
        msg = self.conn.recv(timeout=timeout)
        if isinstance(msg, bytes):
            self.binary.append(msg)
        else:
            self.text += msg
        return msg

    def expect(self, marker, timeout=TIMEOUT):
        def found():
            i = self.text.find(marker, self.pos)
            if i < 0:
                return None
            end = i + len(marker)
            out = self.text[self.pos : end]
            self.pos = end
            return out

        return self._wait_for(found, repr(marker), timeout)

    def expect_re(self, pattern, timeout=TIMEOUT):
        """Like ``expect`` for a regular expression; returns the match."""
        import re

        rx = re.compile(pattern)

        def found():
            m = rx.search(self.text, self.pos)
            if m:
                self.pos = m.end()
            return m

        return self._wait_for(found, "/%s/" % pattern, timeout)

    def _wait_for(self, found, what, timeout):
        """Receives (bounded by ``timeout``) until ``found()`` returns what it looks for."""
        deadline = time.monotonic() + timeout
        while True:
            result = found()
            if result is not None:
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    "%s not received within %ss; got %r" % (what, timeout, self.text[self.pos :])
                )
            try:
                self._recv(left)
            except TimeoutError:
                pass

    def send(self, text):
        """Sends ``text`` in one text frame."""
        self.conn.send(text)

    def type(self, text):
        """Sends ``text`` one character per text frame, like the browser client."""
        for ch in text:
            self.conn.send(ch)

    def login(self, pwd="pw"):
        self.expect("Password: ")
        self.type(pwd + "\r")
        self.expect("\r\nWebREPL connected\r\n>>> ")

    def run(self, line, timeout=TIMEOUT):
        """Sends ``line`` + Enter in one text frame (as a paste arrives from
        the browser terminal) and returns what came back up to the next
        primary prompt (echo included)."""
        self.send(line + "\r")
        return self.expect(">>> ", timeout)

    def wait_closed(self, timeout=TIMEOUT):
        """Reads until the server closes the connection; returns the text
        received meanwhile. Raises AssertionError if it stays open."""
        import websockets

        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("connection still open; got %r" % self.text[self.pos :])
            try:
                self._recv(left)
            except TimeoutError:
                pass
            except websockets.ConnectionClosed:
                out = self.text[self.pos :]
                self.pos = len(self.text)
                return out

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def terminal(srv, path="/", **kw):
    """A websockets sync connection to the REPL at ``path``, as a Terminal."""
    from websockets.sync.client import connect

    kw.setdefault("open_timeout", TIMEOUT)
    kw.setdefault("close_timeout", 1)
    conn = connect(ws_url(srv, path), **kw)
    conn.__enter__()  # what ``with connect(...) as conn`` does; Terminal closes it
    return Terminal(conn)


# --------------------------------------------------------------------------
# a server in a child process, with its pid (test_hostile.py, test_faults.py)


class ChildServer:
    """Runs ``script`` in a fresh interpreter (env ``UHTTPD_ROOT`` = root).

    The script creates its server, prints ``srv.port()`` (flushed) and keeps
    running, typically on ``sys.stdin.read()``; ``stop()`` closes its stdin
    and waits (killing it by pid after ``timeout`` s). stderr goes to a file
    that ``stderr_text()`` reads.
    """

    def __init__(self, script, root=None, start_timeout=15.0, env=None):
        import os
        import subprocess
        import sys
        import tempfile

        full_env = dict(os.environ, **(env or {}))
        if root is not None:
            full_env["UHTTPD_ROOT"] = str(root)
        self.errfile = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errfile,
            env=full_env,
        )
        self.pid = self.proc.pid
        line = [b""]

        def read_port():
            line[0] = self.proc.stdout.readline()

        t = threading.Thread(target=read_port, daemon=True)
        t.start()
        t.join(start_timeout)
        try:
            self.port = int(line[0].strip())
        except ValueError:
            self.kill()
            raise AssertionError(
                "server process did not start: stdout=%r stderr=%r" % (line[0], self.stderr_text())
            )

    def alive(self):
        return self.proc.poll() is None

    def rss_kib(self):
        """VmRSS of the server process in KiB (from /proc/<pid>/status)."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for pid %d" % self.pid)

    def stderr_text(self):
        self.errfile.seek(0)
        return self.errfile.read().decode("utf-8", "replace")

    def send_stdin(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def stop(self, timeout=5.0):
        """Closes stdin, waits up to ``timeout`` s; returns the exit code
        (None if it had to be killed)."""
        import subprocess

        if self.proc.poll() is not None:
            return self.proc.returncode
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except Exception:  # noqa: BLE001
                pass


@pytest.fixture
def child_server():
    """Factory: ``child_server(script, root=None)`` -> a running ChildServer;
    every one is stopped (then killed by pid if needed) at teardown."""
    made = []

    def start(script, root=None, **kw):
        child = ChildServer(script, root=root, **kw)
        made.append(child)
        return child

    yield start
    for child in made:
        child.stop()


# Debian's Chromium, driven by Playwright without any browser download. The
# flags keep it off the (closed) network: without them it retries Google's
# hosts at every start.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def put_streaming(port, path, size, chunked=False):
    """Sends a ``size``-byte PUT (the body from another thread, since the
    server may answer before it has all of it); returns the final reply."""
    body = b"Z" * size
    with Conn(port, timeout=10) as c:
        if chunked:
            c.send("PUT %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" % path)
            pieces = [body[i:i + 65536] for i in range(0, size, 65536)]
            payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        else:
            c.send("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (path, size))
            payload = body

        def pump():
            try:
                c.sock.sendall(payload)
            except OSError:
                pass

        t = threading.Thread(target=pump, daemon=True)
        t.start()
        try:
            return c.final_response("PUT")
        finally:
            t.join(10)
