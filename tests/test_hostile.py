"""Hostile clients: slowloris and slow-read (slowhttptest and a pure-Python
slowloris), thousands of idle connections (RSS checked in a child process),
random garbage, and clients that vanish in the middle of every kind of
exchange. Through all of it a normal client keeps getting answers.

``slowhttptest`` is a Debian package (scripts/test.sh installs it).
"""

import random
import re
import resource
import shutil
import socket
import struct
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets

import uhttpd
import webrepl_client as wc

from conftest import HOST, Recorder, SSEClient, get, terminal, tree, tree_settles_to, wait_until

# A normal client's request must be answered within this many seconds while
# the server is under attack.
ANSWER_BOUND = 1.0


def abort(sock):
    """Closes ``sock`` with a RST (SO_LINGER 0): the client vanishes."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class Prober(threading.Thread):
    """A normal client: a fresh-connection GET every ``interval`` s; records
    (status or exception, latency)."""

    def __init__(self, port, path="/ok", interval=0.2):
        super().__init__(daemon=True)
        self.port, self.path, self.interval = port, path, interval
        self.results = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            start = time.monotonic()
            try:
                status = get(self.port, self.path, timeout=3 * ANSWER_BOUND).status
            except Exception as e:  # noqa: BLE001 - recorded as a failure
                status = repr(e)
            self.results.append((status, time.monotonic() - start))
            self.stopping.wait(self.interval)

    def stop(self):
        self.stopping.set()
        self.join(10)

    def check(self, min_requests=10):
        bad = [r for r in self.results if r[0] != 200]
        slow = [r for r in self.results if r[1] > ANSWER_BOUND]
        assert len(self.results) >= min_requests, self.results
        assert not bad, "normal requests failed: %r" % bad[:5]
        assert not slow, "normal requests answered after more than %.1f s: %r" % (
            ANSWER_BOUND, slow[:5])


@pytest.fixture
def target(server):
    """A server with a small route and a 1 MiB one (for slow readers)."""
    srv = server()
    rec = Recorder("ok")
    big = b"B" * (1 << 20)
    srv.route("/ok", uhttpd.GET, rec)
    srv.route("/big", uhttpd.GET, lambda req: req.write(big, mime="application/octet-stream"))
    return Target(srv, rec)


class Target:
    def __init__(self, srv, rec):
        self.srv, self.rec = srv, rec

    def port(self):
        return self.srv.port()


# --------------------------------------------------------------------------
# slow clients


def run_slowhttptest(args, seconds=10):
    exe = shutil.which("slowhttptest")
    assert exe, "slowhttptest is not installed (apt-get install slowhttptest)"
    proc = subprocess.run([exe] + args + ["-l", str(seconds), "-p", "2"],
                          capture_output=True, timeout=seconds + 30)
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", proc.stdout.decode("latin-1", "replace"))
    return proc.returncode, text


def slowhttptest_stats(text):
    """The last 'connected'/'error'/'closed' counts and every 'service
    available' verdict from slowhttptest's report."""
    last = {}
    for key in ("connected", "error", "closed", "pending"):
        values = re.findall(r"^%s:\s+(\d+)" % key, text, re.M)
        last[key] = int(values[-1]) if values else None
    verdicts = re.findall(r"service available:\s+(\w+)", text)
    return last, verdicts


def test_slowhttptest_slowloris(target):
    """slowhttptest -H: 300 connections adding a random header line every
    second (its shortest interval; the pure-Python variant below drips every
    0.5 s) for 10 s; its probe and ours are answered throughout."""
    prober = Prober(target.port())
    prober.start()
    try:
        rc, text = run_slowhttptest(
            ["-H", "-c", "300", "-r", "150", "-i", "1", "-x", "24", "-t", "GET",
             "-u", "http://%s:%d/ok" % (HOST, target.port())])
    finally:
        prober.stop()
    stats, verdicts = slowhttptest_stats(text)
    assert rc == 0, text[-2000:]
    assert stats["connected"] is not None and verdicts, text[-2000:]
    assert "NO" not in verdicts, "slowhttptest found the service unavailable: " + text[-1500:]
    prober.check(min_requests=20)


def test_slowhttptest_slow_read(target):
    """slowhttptest -X: readers with a tiny window that take 32 bytes a
    second of 1 MiB replies; the slow readers hold no worker."""
    prober = Prober(target.port())
    prober.start()
    try:
        # 200 connections each pipelining 3 requests for 1 MiB, advertising a
        # 10-20 byte window and reading 32 bytes a second
        rc, text = run_slowhttptest(
            ["-X", "-c", "200", "-r", "100", "-w", "10", "-y", "20", "-n", "1", "-z", "32",
             "-k", "3", "-u", "http://%s:%d/big" % (HOST, target.port())])
    finally:
        prober.stop()
    stats, verdicts = slowhttptest_stats(text)
    assert rc == 0, text[-2000:]
    assert verdicts and "NO" not in verdicts, "service unavailable: " + text[-1500:]
    prober.check(min_requests=20)


def test_python_slowloris_200_sockets(target):
    """200 connections send a request head one byte every 0.5 s: none reaches
    the handler, a normal client is answered within the bound throughout, and
    the server answers each of them 408 and closes it once the 10 s head
    timeout (README "Limits") has passed."""
    n = 200
    socks = []
    opened = []
    for _ in range(n):
        s = socket.create_connection((HOST, target.port()), timeout=5)
        s.sendall(b"GET /ok HTTP/1.1\r\nHost: t\r\n")
        s.setblocking(False)
        socks.append(s)
        opened.append(time.monotonic())
    drip = b"X-Slow: " + b"s" * 200
    received = [b""] * n
    closed_at = [None] * n
    prober = Prober(target.port())
    prober.start()
    i = 0
    deadline = time.monotonic() + 14
    try:
        while time.monotonic() < deadline and None in closed_at:
            for k, s in enumerate(socks):
                if closed_at[k] is not None:
                    continue
                try:
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            closed_at[k] = time.monotonic() - opened[k]
                            break
                        received[k] += chunk
                except BlockingIOError:
                    pass
                except OSError:
                    closed_at[k] = time.monotonic() - opened[k]
                if closed_at[k] is None:
                    try:
                        s.send(drip[i % len(drip): i % len(drip) + 1])
                    except BlockingIOError:
                        pass
                    except OSError:
                        closed_at[k] = time.monotonic() - opened[k]
            i += 1
            time.sleep(0.5)
    finally:
        prober.stop()
        for s in socks:
            s.close()
    prober.check(min_requests=20)
    assert target.rec.calls == len(prober.results), "a slowloris head reached the handler"
    still_open = sum(1 for c in closed_at if c is None)
    assert still_open == 0, "%d slowloris connections still open after 14 s" % still_open
    early = [c for c in closed_at if c < 9.0]
    assert not early, "closed before the 10 s head timeout: %r" % early[:5]
    not_408 = [r[:60] for r in received if not r.startswith(b"HTTP/1.1 408 ")]
    assert not not_408, "expected a 408 before the close, got %r" % not_408[:3]


# --------------------------------------------------------------------------
# thousands of idle connections (server in a child process for its RSS)


IDLE_SCRIPT = r"""
import sys, uhttpd
srv = uhttpd.Server(port=0, host="127.0.0.1")
srv.route("/ok", uhttpd.GET, lambda req: req.write("ok"))
print(srv.port(), flush=True)
sys.stdin.read()
srv.close()
"""


@pytest.fixture
def more_files():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_2000_idle_connections_then_rss_back_to_baseline(child_server, more_files):
    child = child_server(IDLE_SCRIPT)
    for _ in range(50):
        assert get(child.port, "/ok").status == 200
    time.sleep(0.3)
    baseline = child.rss_kib()

    def cycle(n=2000):
        socks = []
        latencies = []
        try:
            for i in range(n):
                s = socket.create_connection((HOST, child.port), timeout=5)
                if i % 2:
                    s.sendall(b"GET /ok HTTP/1.1\r\nHo")  # a partial head
                socks.append(s)
                if i % 250 == 0:
                    start = time.monotonic()
                    assert get(child.port, "/ok").status == 200
                    latencies.append(time.monotonic() - start)
            for _ in range(20):
                start = time.monotonic()
                assert get(child.port, "/ok").status == 200
                latencies.append(time.monotonic() - start)
            peak = child.rss_kib()
        finally:
            for s in socks:
                s.close()
        assert max(latencies) < ANSWER_BOUND, latencies
        # the server notices the closes; give it a moment, bounded
        time.sleep(1.5)
        assert get(child.port, "/ok").status == 200
        return peak, child.rss_kib()

    peak1, after1 = cycle()
    peak2, after2 = cycle()
    assert child.alive()
    mib = 1024.0
    summary = "RSS baseline %.1f MiB, peak %.1f, after close %.1f; 2nd cycle peak %.1f, after %.1f" % (
        baseline / mib, peak1 / mib, after1 / mib, peak2 / mib, after2 / mib)
    # no leak: a second identical cycle does not grow the process (a leak of
    # 3 KiB per connection would add 6 MiB; allocator noise is 1-3 MiB)
    assert after2 - after1 < 6 * 1024, "RSS grew over a second cycle: " + summary
    # and closing the connections gives the memory back
    assert after1 - baseline < 4 * 1024, "RSS did not return near its baseline: " + summary


# --------------------------------------------------------------------------
# random garbage


GARBAGE_SCRIPT = r"""
import os, sys, uhttpd
srv = uhttpd.Server(port=0, host="127.0.0.1", root=os.environ["UHTTPD_ROOT"], events=2)
srv.route("/ok", uhttpd.GET, lambda req: req.write("ok"))
srv.route("/echo", uhttpd.POST | uhttpd.PUT, lambda req: req.write(req.read()))
srv.event("/events")
srv.receive(prefix="/up", delete=True)
srv.serve("/files")
print(srv.port(), flush=True)
sys.stdin.read()
srv.close()
"""

PREFIXES = [
    b"",
    b"GET / HTTP/1.1\r\n",
    b"GET /ok HTTP/1.1\r\nHost: t\r\n",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n",
    b"PUT /up/g.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n",
    b"GET /files/",
    b"GET /events HTTP/1.1\r\nHost: t\r\n",
    b"GET /ok HTTP/1.1\r\nHost: t\r\nRange: bytes=",
]
ALPHABET = b"\r\n :;,=/\\%-0123456789aAfFzZ\t\x00\x7f\xff\"?*#"


def garbage(rng):
    prefix = rng.choice(PREFIXES)
    n = rng.randint(1, 3000)
    if rng.random() < 0.5:
        tail = bytes(rng.getrandbits(8) for _ in range(n))
    else:  # biased towards bytes the parsers care about
        tail = bytes(rng.choice(ALPHABET) for _ in range(n))
    return prefix + tail


def test_random_garbage_never_crashes(child_server, tmp_path):
    (tmp_path / "f.txt").write_bytes(b"file")
    child = child_server(GARBAGE_SCRIPT, root=tmp_path)
    rng = random.Random(20240611)
    payloads = [garbage(rng) for _ in range(500)]
    replies = []

    def one(payload):
        s = socket.create_connection((HOST, child.port), timeout=3)
        data = b""
        try:
            try:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            while True:
                try:
                    chunk = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        return data

    with ThreadPoolExecutor(8) as pool:
        for i, data in enumerate(pool.map(one, payloads)):
            replies.append(data)
            if i % 100 == 0:
                assert get(child.port, "/ok").status == 200, "server stopped answering"
    assert child.alive(), child.stderr_text()[-3000:]
    for data in replies:
        assert data == b"" or re.match(rb"HTTP/1\.[01] [1-5]\d\d ", data), data[:100]
    r = get(child.port, "/ok")
    assert (r.status, r.body) == (200, b"ok")
    assert get(child.port, "/files/f.txt").body == b"file"
    err = child.stderr_text()
    for bad in ("panicked", "Fatal Python error", "Segmentation fault", "RUST_BACKTRACE"):
        assert bad not in err, err[-3000:]
    assert child.stop() == 0, child.stderr_text()[-3000:]


# --------------------------------------------------------------------------
# clients that vanish


def test_vanish_mid_head(target):
    for head in (b"GET /ok HTTP/1.1\r\nHo", b"GET /ok HTTP/1.1\r\nHost: t\r\nX-A: b", b"G"):
        s = socket.create_connection((HOST, target.port()), timeout=5)
        s.sendall(head)
        abort(s)
    r = get(target.port(), "/ok")
    assert (r.status, r.body) == (200, b"ok")
    assert target.rec.calls == 1


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_vanish_mid_upload(server, tmp_path, chunked):
    srv = server()
    srv.receive(prefix="/up")
    srv.route("/ok", uhttpd.GET, Recorder("ok"))
    (tmp_path / "d").mkdir()
    old = b"the old content\n" * 100
    (tmp_path / "d" / "old.bin").write_bytes(old)
    for name in ("old.bin", "new.bin"):
        s = socket.create_connection((HOST, srv.port()), timeout=5)
        total = 8 << 20
        if chunked:
            s.sendall(b"PUT /up/d/%s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                      % name.encode())
            for _ in range(16):
                s.sendall(b"10000\r\n" + b"u" * 0x10000 + b"\r\n")
        else:
            s.sendall(b"PUT /up/d/%s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                      % (name.encode(), total))
            s.sendall(b"u" * (1 << 20))
        time.sleep(0.2)  # the body is streaming to a temporary file now
        abort(s)
    assert tree_settles_to(tmp_path, ["d/", "d/old.bin"], timeout=5) == ["d/", "d/old.bin"]
    assert (tmp_path / "d" / "old.bin").read_bytes() == old
    assert get(srv, "/ok").body == b"ok"


def test_vanish_mid_download(server, tmp_path):
    data = bytes(range(256)) * (64 * 1024)  # 16 MiB
    (tmp_path / "big.bin").write_bytes(data)
    (tmp_path / "small.txt").write_bytes(b"small")
    srv = server()
    srv.serve()
    for _ in range(3):
        s = socket.create_connection((HOST, srv.port()), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        got = s.recv(65536)
        assert got.startswith(b"HTTP/1.1 200 ")
        abort(s)
    r = get(srv, "/small.txt")
    assert (r.status, r.body) == (200, b"small")
    # a whole download still works
    r = get(srv, "/big.bin", timeout=30)
    assert r.status == 200 and r.body == data
    assert sorted(tree(tmp_path)) == ["big.bin", "small.txt"]


def test_vanish_mid_event_stream(server):
    srv = server(events=1)  # one slot: it must be freed for the next client
    srv.event("/events")
    srv.route("/ok", uhttpd.GET, Recorder("ok"))
    c = SSEClient(srv, "/events")
    assert c.head().status == 200
    assert wait_until(lambda: srv.dispatch("one"), timeout=3)
    assert c.next_event()["data"] == "one"
    abort(c.conn.sock)
    # the server notices the client is gone: nobody listens any more
    assert wait_until(lambda: srv.dispatch("probe") is False, timeout=5, interval=0.05), (
        "dispatch() still reports a listener after the client vanished")
    assert get(srv, "/ok").body == b"ok"
    with SSEClient(srv, "/events") as again:
        assert again.head().status == 200, "the event slot was not freed"
        assert wait_until(lambda: srv.dispatch("two"), timeout=3)
        assert again.next_event()["data"] == "two"


def repl_session_opens(srv, path="/ws", pwd="pw", timeout=5.0):
    """True once a new REPL session can log in (retrying while the old
    session is still being torn down), within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        with terminal(srv, path) as t:
            try:
                t.expect("Password: ", timeout=2)
                t.type(pwd + "\r")
                t.expect("WebREPL connected\r\n>>> ", timeout=3)
                assert t.run("6*7") == "6*7\r\n42\r\n>>> "
                return True
            except (AssertionError, websockets.ConnectionClosed) as e:
                last = e
        time.sleep(0.2)
    raise AssertionError("no new REPL session within %.0f s: %s" % (timeout, last))


@pytest.mark.parametrize("state", ["idle", "running", "mid-put"])
def test_vanish_mid_repl(server, tmp_path, state):
    old = b"old file, must survive\n" * 500
    (tmp_path / "old.bin").write_bytes(old)
    srv = server()
    srv.ws("/", "pw")  # where webrepl_cli.py looks: its raw socket can be aborted
    srv.route("/ok", uhttpd.GET, Recorder("ok"))
    ws, status, _ = wc.connect(srv.port())
    assert status.startswith(b"HTTP/1.1 101")
    wc.login(ws, "pw")
    wc.read_text_until(ws, b">>> ")
    wc.send_text(ws, "1+1\r")
    wc.read_text_until(ws, b"2\r\n>>> ")
    if state == "running":
        wc.send_text(ws, "import time; time.sleep(1.5)\r")
        time.sleep(0.2)
    elif state == "mid-put":
        # a WA put over the old file, cut off after a tenth of its bytes
        wc.send_req(ws, wc.WEBREPL_PUT_FILE, 100000, b"old.bin")
        assert wc.read_resp(ws) == 0
        for _ in range(10):
            ws.write(b"n" * 1000)
        time.sleep(0.2)
    abort(ws.s)
    assert get(srv, "/ok").body == b"ok"
    assert repl_session_opens(srv, "/", timeout=6)
    assert tree_settles_to(tmp_path, ["old.bin"], timeout=3) == ["old.bin"]
    assert (tmp_path / "old.bin").read_bytes() == old
