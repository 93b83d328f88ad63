#!/usr/bin/env python3
"""Soak test: every feature of uhttpd under a steady mixed load for a while.

    python bench/soak.py --minutes M [--port 0] [--rate 150]

Starts a uhttpd server in a child process (routes with an echo callback,
serve() over a temporary directory with a few files, receive() with delete,
event() with a dispatch every 100 ms from the server process, and the ws()
REPL), then runs client threads for M minutes at a bounded total request
rate (default 150 requests/s, at most 200):

* callbacks: GET and POST to an echo route over keep-alive connections;
* files: whole GETs, single ranges (206), HEAD, conditional GETs (304);
* uploads: PUT of random content, checked on disk, then DELETE;
* events: an EventSource-like reader that checks the ticks and reconnects
  every few seconds;
* REPL: sessions that log in, evaluate expressions, put a file and get it
  back with the WA protocol, then end with Ctrl-D.

Every unexpected status, wrong body or exception counts as an error. The
server's RSS is sampled every 10 s. A table (time, requests, errors, RSS MiB)
is printed as it goes, then the summary line

    soak: N requests, E errors, RSS start X MiB, end Y MiB, max Z MiB

The exit code is 1 if there were errors or the RSS grew by more than 32 MiB.
``--minutes 0.5`` is a smoke run. Only the standard library and the uhttpd
module are needed; everything stays on 127.0.0.1.
"""

import argparse
import base64
import hashlib
import http.client
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"
PASSWORD = "soak-pw"
RSS_GROWTH_LIMIT_MIB = 32
SAMPLE_EVERY = 10.0
IO_TIMEOUT = 10.0

SERVER_SCRIPT = r"""
import logging, os, sys, threading, time
import uhttpd

logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
root, port = sys.argv[1], int(sys.argv[2])
srv = uhttpd.Server(port=port, host="127.0.0.1", root=root, events=8)

def echo(req):
    body = req.read()
    if req.method() == uhttpd.POST:
        req.write(body, mime="application/octet-stream")
    else:
        req.write(req.uri(), mime="text/plain")

srv.ws("/ws", os.environ["SOAK_PASSWORD"])
srv.route("/echo", uhttpd.GET | uhttpd.POST, echo)
srv.event("/events")
srv.serve("/files", "/www")
srv.receive(prefix="/up", delete=True)

stop = threading.Event()

def ticker():
    i = 0
    while not stop.wait(0.1):
        srv.dispatch("tick %d" % i, event="tick")
        i += 1

threading.Thread(target=ticker, daemon=True).start()
print(srv.port(), flush=True)
sys.stdin.read()
stop.set()
srv.close()
print("closed", flush=True)
"""


# --------------------------------------------------------------------------
# bookkeeping


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.errors = 0
        self.samples = []  # first few error messages
        self.by_kind = {}

    def ok(self, kind):
        with self.lock:
            self.requests += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1

    def error(self, where, what):
        with self.lock:
            self.requests += 1
            self.errors += 1
            if len(self.samples) < 20:
                self.samples.append("%s: %s" % (where, what))
                print("  error in %s: %s" % (where, what), flush=True)


class RateLimiter:
    """At most ``rate`` acquisitions per second in total, across threads."""

    def __init__(self, rate):
        self.interval = 1.0 / rate
        self.lock = threading.Lock()
        self.next = time.monotonic()

    def acquire(self, stop):
        with self.lock:
            now = time.monotonic()
            self.next = max(self.next + self.interval, now)
            wait = self.next - now
        if wait > 0:
            stop.wait(wait)


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


# --------------------------------------------------------------------------
# a minimal WebSocket client (masked frames, as a browser sends)


class WS:
    def __init__(self, port, path="/ws"):
        self.sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(
            b"GET %s HTTP/1.1\r\nHost: soak\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path.encode(), key))
        self.buf = b""
        head = self._read_until(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101 "):
            raise AssertionError("handshake answered %r" % head[:80])
        accept = base64.b64encode(hashlib.sha1(
            key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        if b"Sec-WebSocket-Accept: " + accept not in head:
            raise AssertionError("bad Sec-WebSocket-Accept in %r" % head)
        self.text = ""

    def _read_until(self, marker):
        while marker not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed by the server")
            self.buf += chunk
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed by the server")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, payload, binary=False):
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        n = len(payload)
        first = 0x82 if binary else 0x81
        if n < 126:
            hdr = struct.pack(">BB", first, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack(">BBH", first, 0x80 | 126, n)
        else:
            hdr = struct.pack(">BBQ", first, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(hdr + mask + masked)

    def recv(self):
        """The next data frame: (opcode, payload); ('close', b'') on a close frame."""
        while True:
            b0, b1 = self._read_exact(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack(">H", self._read_exact(2))
            elif n == 127:
                (n,) = struct.unpack(">Q", self._read_exact(8))
            payload = self._read_exact(n)
            op = b0 & 0x0F
            if op == 0x8:
                return "close", payload
            if op == 0x9:  # ping: answer
                self.send_control(0xA, payload)
                continue
            if op in (0x1, 0x2, 0x0):
                return ("text" if op == 0x1 else "binary"), payload

    def send_control(self, op, payload=b""):
        mask = os.urandom(4)
        self.sock.sendall(bytes([0x80 | op, 0x80 | len(payload)]) + mask
                          + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def expect(self, marker, limit=1 << 20):
        """Reads text frames until ``marker`` appears; returns the text up to it."""
        while marker not in self.text:
            kind, data = self.recv()
            if kind == "close":
                raise EOFError("closed while waiting for %r; got %r" % (marker, self.text[-200:]))
            if kind == "text":
                self.text += data.decode("utf-8", "replace")
            if len(self.text) > limit:
                raise AssertionError("%r not seen" % marker)
        i = self.text.index(marker) + len(marker)
        out, self.text = self.text[:i], self.text[i:]
        return out

    def binary(self):
        while True:
            kind, data = self.recv()
            if kind == "binary":
                return data
            if kind == "close":
                raise EOFError("closed while waiting for a binary frame")
            self.text += data.decode("utf-8", "replace")

    def wait_closed(self):
        try:
            while True:
                kind, _ = self.recv()
                if kind == "close":
                    self.send_control(0x8)
                    break
        except (EOFError, ConnectionResetError):
            pass
        # the server closes its side: wait for EOF so the slot is free
        try:
            while self.sock.recv(65536):
                pass
        except OSError:
            pass
        self.sock.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


WA = "<2sBBQLH64s"


def wa(op, name, size=0):
    name = name.encode("utf-8")
    return struct.pack(WA, b"WA", op, 0, 0, size, len(name), name)


# --------------------------------------------------------------------------
# the load


class Load:
    def __init__(self, port, root, rate, stats, stop):
        self.port, self.root, self.stats, self.stop = port, root, stats, stop
        self.limiter = RateLimiter(rate)
        self.files = {}

    def pace(self):
        self.limiter.acquire(self.stop)
        return not self.stop.is_set()

    def conn(self):
        return http.client.HTTPConnection(HOST, self.port, timeout=IO_TIMEOUT)

    @staticmethod
    def call(conn, method, path, body=None, headers=None):
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), resp.read()

    def guarded(self, where, fn):
        """Runs the worker loop, counting any exception as an error and
        starting over (with a fresh connection)."""
        while not self.stop.is_set():
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - every failure is an error
                self.stats.error(where, repr(e)[:300])
                self.stop.wait(0.2)

    # callbacks ----------------------------------------------------------
    def callbacks(self, seed):
        rng = random.Random(seed)

        def loop():
            conn = self.conn()
            try:
                while self.pace():
                    if rng.random() < 0.5:
                        q = "/echo?i=%d&x=%s" % (rng.randrange(10 ** 6), "y" * rng.randrange(50))
                        status, _, body = self.call(conn, "GET", q)
                        want = q.encode()
                    else:
                        want = os.urandom(rng.randrange(0, 32 * 1024))
                        status, _, body = self.call(conn, "POST", "/echo", body=want)
                    if status != 200 or body != want:
                        self.stats.error("callback", "status %d, body %d bytes (want %d)"
                                         % (status, len(body), len(want)))
                    else:
                        self.stats.ok("callback")
            finally:
                conn.close()

        self.guarded("callback", loop)

    # files ----------------------------------------------------------------
    def file_gets(self, seed):
        rng = random.Random(seed)
        names = sorted(self.files)

        def loop():
            conn = self.conn()
            try:
                while self.pace():
                    name = rng.choice(names)
                    data = self.files[name]
                    path = "/files/" + name
                    kind = rng.random()
                    if kind < 0.4:
                        what = "GET"
                        status, hdrs, body = self.call(conn, "GET", path)
                        good = status == 200 and body == data
                    elif kind < 0.75:
                        what = "range"
                        a = rng.randrange(len(data))
                        b = rng.randrange(a, len(data))
                        status, hdrs, body = self.call(conn, "GET", path,
                                                       headers={"Range": "bytes=%d-%d" % (a, b)})
                        good = (status == 206 and body == data[a:b + 1]
                                and hdrs.get("content-range") == "bytes %d-%d/%d" % (a, b, len(data)))
                    elif kind < 0.85:
                        what = "HEAD"
                        status, hdrs, body = self.call(conn, "HEAD", path)
                        good = status == 200 and body == b"" and hdrs.get("content-length") == str(len(data))
                    else:
                        what = "If-None-Match"
                        status, hdrs, _ = self.call(conn, "GET", path)
                        etag = hdrs.get("etag")
                        self.stats.ok("files")
                        if not self.pace():
                            return
                        status, _, body = self.call(conn, "GET", path,
                                                    headers={"If-None-Match": etag or '"none"'})
                        good = etag is not None and status == 304 and body == b""
                    if good:
                        self.stats.ok("files")
                    else:
                        self.stats.error("files", "%s %s -> %d (%d bytes)"
                                         % (what, path, status, len(body)))
            finally:
                conn.close()

        self.guarded("files", loop)

    # uploads ----------------------------------------------------------------
    def uploads(self, seed):
        rng = random.Random(seed)

        def loop():
            conn = self.conn()
            try:
                i = 0
                while self.pace():
                    name = "uploads/w%d-%d.bin" % (seed, i % 5)
                    i += 1
                    data = os.urandom(rng.randrange(1, 256 * 1024))
                    status, _, _ = self.call(conn, "PUT", "/up/" + name, body=data)
                    on_disk = os.path.join(self.root, name)
                    with open(on_disk, "rb") as f:
                        got = f.read()
                    if status not in (201, 204) or got != data:
                        self.stats.error("upload", "PUT %s -> %d, %d bytes on disk (sent %d)"
                                         % (name, status, len(got), len(data)))
                        continue
                    self.stats.ok("upload")
                    if not self.pace():
                        return
                    status, _, _ = self.call(conn, "DELETE", "/up/" + name)
                    if status != 204 or os.path.exists(on_disk):
                        self.stats.error("upload", "DELETE %s -> %d" % (name, status))
                    else:
                        self.stats.ok("upload")
            finally:
                conn.close()

        self.guarded("upload", loop)

    # events ------------------------------------------------------------------
    def events(self, seed):
        rng = random.Random(seed)

        def loop():
            while self.pace():
                sock = socket.create_connection((HOST, self.port), timeout=3)
                try:
                    sock.sendall(b"GET /events HTTP/1.1\r\nHost: soak\r\nAccept: text/event-stream\r\n\r\n")
                    f = sock.makefile("rb")
                    status_line = f.readline()
                    if not status_line.startswith(b"HTTP/1.1 200 "):
                        self.stats.error("events", "status line %r" % status_line)
                        continue
                    while f.readline() not in (b"\r\n", b""):
                        pass
                    until = time.monotonic() + rng.uniform(2, 6)
                    last = None
                    got = 0
                    name = None
                    while time.monotonic() < until and not self.stop.is_set():
                        line = f.readline()  # a tick every 100 ms: the 3 s timeout is ample
                        if not line:
                            raise EOFError("event stream closed by the server")
                        line = line.rstrip(b"\r\n")
                        if line.startswith(b"event:"):
                            name = line[6:].strip()
                        elif line.startswith(b"data:"):
                            n = int(line[5:].strip().split()[1])
                            if name != b"tick" or (last is not None and n <= last):
                                raise AssertionError("event %r %d after %r" % (name, n, last))
                            last = n
                            got += 1
                    if got == 0 and not self.stop.is_set():
                        self.stats.error("events", "no event in a whole connection")
                    else:
                        self.stats.ok("events")
                finally:
                    sock.close()

        self.guarded("events", loop)

    # REPL ---------------------------------------------------------------------
    def repl(self, seed):
        rng = random.Random(seed)

        def loop():
            while self.pace():
                ws = WS(self.port)
                try:
                    ws.expect("Password: ")
                    ws.send(PASSWORD + "\r")
                    ws.expect("WebREPL connected\r\n>>> ")
                    for _ in range(rng.randrange(1, 4)):
                        a, b = rng.randrange(1000), rng.randrange(1000)
                        ws.send("%d*%d\r" % (a, b))
                        out = ws.expect(">>> ")
                        if "\r\n%d\r\n" % (a * b) not in out:
                            raise AssertionError("%d*%d gave %r" % (a, b, out))
                    data = os.urandom(rng.randrange(1, 8192))
                    name = "repl/soak-%d.bin" % seed
                    ws.send(wa(1, name, len(data)), binary=True)
                    if ws.binary() != b"WB\x00\x00":
                        raise AssertionError("WA put refused")
                    for i in range(0, len(data), 1024):
                        ws.send(data[i:i + 1024], binary=True)
                    if ws.binary() != b"WB\x00\x00":
                        raise AssertionError("WA put failed")
                    ws.send(wa(2, name), binary=True)
                    if ws.binary() != b"WB\x00\x00":
                        raise AssertionError("WA get refused")
                    got = b""
                    while True:
                        ws.send(b"\x00", binary=True)
                        frame = ws.binary()
                        (n,) = struct.unpack("<H", frame[:2])
                        if n == 0:
                            break
                        got += frame[2:2 + n]
                    if ws.binary() != b"WB\x00\x00" or got != data:
                        raise AssertionError("WA get returned %d bytes, put %d" % (len(got), len(data)))
                    ws.send("\x04")  # Ctrl-D on an empty line ends the session
                    ws.wait_closed()
                    self.stats.ok("repl")
                finally:
                    ws.close()
                self.stop.wait(rng.uniform(0.5, 2.0))

        self.guarded("repl", loop)


# --------------------------------------------------------------------------


def make_root():
    root = tempfile.mkdtemp(prefix="uhttpd-soak-")
    www = os.path.join(root, "www")
    os.makedirs(os.path.join(www, "sub"))
    os.makedirs(os.path.join(root, "uploads"))
    os.makedirs(os.path.join(root, "repl"))
    files = {
        "index.html": b"<!doctype html><title>soak</title><p>hello</p>\n",
        "small.txt": b"small file\n" * 10,
        "sub/data.bin": os.urandom(300 * 1024),
        "big.bin": os.urandom(2 * 1024 * 1024),
    }
    for name, data in files.items():
        with open(os.path.join(www, name), "wb") as f:
            f.write(data)
    return root, files


def start_server(root, port):
    env = dict(os.environ, SOAK_PASSWORD=PASSWORD)
    errfile = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT, root, str(port)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errfile, env=env)
    line = [b""]
    t = threading.Thread(target=lambda: line.__setitem__(0, proc.stdout.readline()), daemon=True)
    t.start()
    t.join(20)
    try:
        return proc, int(line[0]), errfile
    except ValueError:
        proc.kill()
        errfile.seek(0)
        sys.exit("the server did not start: %r %s" % (line[0], errfile.read().decode(errors="replace")))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, required=True, help="how long to run (0.5 = smoke)")
    ap.add_argument("--port", type=int, default=0, help="server port (0: any free one)")
    ap.add_argument("--rate", type=float, default=150, help="total requests/s (at most 200)")
    args = ap.parse_args(argv)
    rate = max(1.0, min(args.rate, 200.0))

    root, files = make_root()
    proc, port, errfile = start_server(root, args.port)
    stats = Stats()
    stop = threading.Event()
    load = Load(port, root, rate, stats, stop)
    load.files = files
    workers = [
        (load.callbacks, 1), (load.callbacks, 2), (load.file_gets, 3), (load.file_gets, 4),
        (load.uploads, 5), (load.uploads, 6), (load.events, 7), (load.repl, 8),
    ]
    threads = [threading.Thread(target=fn, args=(seed,), daemon=True, name=fn.__name__)
               for fn, seed in workers]

    print("soak: server pid %d on port %d, root %s, %.1f min at <= %.0f req/s"
          % (proc.pid, port, root, args.minutes, rate), flush=True)
    print("%8s %10s %8s %9s" % ("time s", "requests", "errors", "RSS MiB"), flush=True)
    start = time.monotonic()
    rss = [rss_mib(proc.pid)]
    print("%8.0f %10d %8d %9.1f" % (0, 0, 0, rss[0]), flush=True)
    for t in threads:
        t.start()
    duration = args.minutes * 60.0
    next_sample = start + SAMPLE_EVERY
    died = False
    while True:
        now = time.monotonic()
        end = start + duration
        if now >= end:
            break
        time.sleep(max(0.0, min(next_sample, end) - now))
        if proc.poll() is not None:
            died = True
            stats.error("server", "the server process exited with %s" % proc.returncode)
            break
        if time.monotonic() >= next_sample:
            rss.append(rss_mib(proc.pid))
            print("%8.0f %10d %8d %9.1f" % (time.monotonic() - start, stats.requests,
                                            stats.errors, rss[-1]), flush=True)
            next_sample += SAMPLE_EVERY
    stop.set()
    for t in threads:
        t.join(IO_TIMEOUT + 5)
        if t.is_alive():
            stats.error(t.name, "client thread did not finish")
    if not died:
        rss.append(rss_mib(proc.pid))
        print("%8.0f %10d %8d %9.1f" % (time.monotonic() - start, stats.requests,
                                        stats.errors, rss[-1]), flush=True)
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            rc = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            rc = "killed"
        if rc != 0:
            stats.error("server", "exit status %s after close" % rc)
    errfile.seek(0)
    err = errfile.read().decode("utf-8", "replace")
    for bad in ("panicked", "Fatal Python error", "Traceback"):
        if bad in err:
            stats.error("server", "%r in the server's stderr" % bad)
    warnings = [l for l in err.splitlines() if " WARNING " in l or " ERROR " in l]
    if warnings:
        print("server log: %d warning/error lines, e.g.:" % len(warnings))
        for line in warnings[:5]:
            print("  " + line)
    shutil.rmtree(root, ignore_errors=True)

    start_mib, end_mib, max_mib = rss[0], rss[-1], max(rss)
    print("soak: by kind: " + ", ".join("%s %d" % kv for kv in sorted(stats.by_kind.items())))
    print("soak: %d requests, %d errors, RSS start %.1f MiB, end %.1f MiB, max %.1f MiB"
          % (stats.requests, stats.errors, start_mib, end_mib, max_mib), flush=True)
    grew = end_mib - start_mib
    if stats.errors or grew > RSS_GROWTH_LIMIT_MIB:
        if grew > RSS_GROWTH_LIMIT_MIB:
            print("soak: FAILED, RSS grew by %.1f MiB (limit %d)" % (grew, RSS_GROWTH_LIMIT_MIB))
        if stats.errors:
            print("soak: FAILED, %d errors; first ones:" % stats.errors)
            for s in stats.samples[:10]:
                print("  " + s)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
