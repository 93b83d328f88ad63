"""The MicroPython face on its own terms: the seed's example unchanged on
port 80, the seed's thread model (callbacks on the HTTP thread under
MicroPython's GIL, a main loop that never sleeps, the garbage collector
while requests run, a small heap) and MicroPython's REPL through the
WebREPL (friendly, raw, raw-paste, file transfer, mpfshell).

The interpreter is target/micropython/micropython, built by
scripts/build-micropython.sh (the test command builds it first)."""

import http.client
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import webrepl_client as wc
from faces import HOST, MICROPYTHON, REPO
from pyboard_client import Board

SEED = os.path.join(os.path.dirname(REPO), "shared", "seed", "uhttpd.txt")
TIMEOUT = 10.0


@pytest.fixture(scope="module", autouse=True)
def micropython_built():
    assert os.access(MICROPYTHON, os.X_OK), "run scripts/build-micropython.sh first"


class App:
    """A MicroPython program that serves and owns its main loop (the subject
    of these tests: busy, collecting, sleeping), started with interpreter
    options (`-X heapsize`): `PORT n` on its first line of output. The
    shared suite's runner (faces.py) idles the main thread itself."""

    def __init__(self, source, cwd, args=()):
        path = os.path.join(cwd, "app.py")
        with open(path, "w") as f:
            f.write(source)
        self.out_path = os.path.join(cwd, "app.out")
        self.err_path = os.path.join(cwd, "app.err")
        self.proc = subprocess.Popen(
            [MICROPYTHON, *args, path],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=open(self.out_path, "w"),
            stderr=open(self.err_path, "w"),
        )
        deadline = time.monotonic() + TIMEOUT
        while True:
            found = re.search(r"^PORT (\d+)$", self.out(), re.M)
            if found:
                self.port = int(found.group(1))
                return
            assert self.proc.poll() is None, ("the app exited", self.out(), self.err())
            assert time.monotonic() < deadline, ("no port printed", self.out(), self.err())
            time.sleep(0.02)

    def out(self):
        with open(self.out_path) as f:
            return f.read()

    def err(self):
        with open(self.err_path) as f:
            return f.read()

    def get(self, path, conn=None):
        own = conn is None
        conn = conn or http.client.HTTPConnection(HOST, self.port, timeout=TIMEOUT)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            if own:
                conn.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)


@pytest.fixture
def app(tmp_path):
    started = []

    def start(source, args=()):
        started.append(App(textwrap.dedent(source), str(tmp_path), args))
        return started[-1]

    yield start
    for running in started:
        running.stop()


def seed_example():
    """The example of seed/uhttpd.txt, exactly as written there."""
    with open(SEED) as f:
        text = f.read()
    start = text.index("# import the module")
    end = text.index("httpd.serve()", start) + len("httpd.serve()")
    return text[start:end] + "\n"


# --------------------------------------------------------------------------
# the seed's example


def test_the_seeds_example_unchanged_serves_my_its_files_and_its_repl(tmp_path):
    # Port 80 and the example's REPL on a loopback of the test's own: a
    # private network namespace (CI runs as root; test.sh installs iproute2).
    assert shutil.which("unshare") and shutil.which("ip"), "needs unshare and ip (iproute2)"
    example = seed_example()
    with open(os.path.join(REPO, "examples", "seed.py")) as f:
        assert f.read() == example, "examples/seed.py is the seed's example, word for word"
    assert "uhttpd.Server()" in example and "httpd.ws('/ws', None)" in example
    (tmp_path / "seed.py").write_text(example)
    (tmp_path / "hello.txt").write_text("a file on the device\n")
    client = tmp_path / "client.py"
    client.write_text(textwrap.dedent(
        """
        import http.client, sys, time
        sys.path.insert(0, {tests!r})
        import webrepl_client as wc
        for _ in range(100):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=5)
                conn.request("GET", "/my")
                break
            except OSError:
                time.sleep(0.05)
        resp = conn.getresponse()
        print("MY", resp.status, resp.getheader("Content-Type"), resp.read())
        conn.request("GET", "/hello.txt")
        print("FILE", conn.getresponse().read())
        s = __import__("socket").create_connection(("127.0.0.1", 80), timeout=5)
        s.sendall(b"GET /ws HTTP/1.1\\r\\nHost: d\\r\\nConnection: Upgrade\\r\\n"
                  b"Upgrade: websocket\\r\\nSec-WebSocket-Key: foo\\r\\n\\r\\n")
        head = b""
        while b"\\r\\n\\r\\n" not in head:
            head += s.recv(1)
        ws = wc.websocket(s)
        wc.login(ws, "anything")  # ws(url, None): an open REPL takes any answer
        print("REPL", wc.read_text_until(ws, b">>> "))
        wc.send_text(ws, "import sys; print(sys.implementation.name, 6 * 7)\\r")
        print("RAN", wc.read_text_until(ws, b">>> "))
        """
    ).format(tests=os.path.dirname(os.path.abspath(__file__))))
    shell = textwrap.dedent(
        """
        ip link set lo up
        cd {root}
        # -i: the unix port's REPL after the script, as a board's after
        # main.py, reading a pipe this shell holds open.
        mkfifo console
        {mp} -i seed.py < console > mp.log 2>&1 &
        server=$!
        exec 3> console
        {py} {client}
        status=$?
        kill $server
        exit $status
        """
    ).format(root=tmp_path, mp=MICROPYTHON, py=sys.executable, client=client)
    r = subprocess.run(["unshare", "-n", "sh", "-c", shell], capture_output=True, text=True, timeout=60)
    log = (tmp_path / "mp.log").read_text()
    assert r.returncode == 0, (r.stdout, r.stderr, log)
    assert "MY 200 text/plain b'Hello World'" in r.stdout, (r.stdout, log)
    assert "FILE b'a file on the device\\n'" in r.stdout
    assert "WebREPL connected" in r.stdout
    assert "micropython 42" in r.stdout, (r.stdout, log)


# --------------------------------------------------------------------------
# the thread model


def test_callbacks_run_on_the_http_thread_not_the_main_one(app):
    a = app(
        """
        import _thread, time, uhttpd
        main = _thread.get_ident()
        def where(req):
            req.write('main' if _thread.get_ident() == main else 'http')
        httpd = uhttpd.Server(port=0, host='127.0.0.1')
        httpd.route('/where', uhttpd.GET, where)
        print('PORT', httpd.port())
        while True:
            time.sleep(0.05)
        """
    )
    assert a.get("/where") == (200, b"http")


def test_a_main_loop_that_never_sleeps_still_lets_callbacks_run(app):
    # The seed: "the main code must idle". Here the VM hands the GIL over
    # every few bytecodes, so a busy loop is enough.
    a = app(
        """
        import uhttpd
        def hello(req):
            req.write('still served')
        httpd = uhttpd.Server(port=0, host='127.0.0.1')
        httpd.route('/hello', uhttpd.GET, hello)
        print('PORT', httpd.port())
        n = 0
        while True:
            n += 1
        """
    )
    for _ in range(20):
        assert a.get("/hello") == (200, b"still served")


def test_gc_collect_in_the_main_loop_while_requests_run(app):
    a = app(
        """
        import gc, uhttpd
        def echo(req):
            body = req.read()
            junk = [bytearray(64) for _ in range(20)]  # garbage while the main thread collects
            req.write(body + b'!' * len(junk))
        httpd = uhttpd.Server(port=0, host='127.0.0.1')
        httpd.route('/echo', uhttpd.POST, echo)
        print('PORT', httpd.port())
        while True:
            gc.collect()
        """
    )
    errors = []

    def client(n):
        conn = http.client.HTTPConnection(HOST, a.port, timeout=TIMEOUT)
        try:
            for i in range(60):
                body = ("%d-%d-" % (n, i)).encode() * 50
                conn.request("POST", "/echo", body=body)
                resp = conn.getresponse()
                got = resp.read()
                if (resp.status, got) != (200, body + b"!" * 20):
                    errors.append((resp.status, got[:60]))
        except OSError as e:
            errors.append(repr(e))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, (errors[:3], a.err()[-2000:])
    assert a.proc.poll() is None


def test_a_request_and_what_its_callback_allocated_are_collected_after_the_reply(app):
    a = app(
        """
        import gc, time, uhttpd
        def big(req):
            data = bytearray(20000)  # allocated by the callback, dropped with it
            req.write(str(len(data)))
        def heap(req):
            gc.collect()
            req.write(str(gc.mem_alloc()))
        httpd = uhttpd.Server(port=0, host='127.0.0.1')
        httpd.route('/big', uhttpd.GET, big)
        httpd.route('/heap', uhttpd.GET, heap)
        print('PORT', httpd.port())
        while True:
            time.sleep(0.05)
        """
    )
    conn = http.client.HTTPConnection(HOST, a.port, timeout=TIMEOUT)
    before = int(a.get("/heap", conn)[1])
    for _ in range(100):
        assert a.get("/big", conn) == (200, b"20000")
    after = int(a.get("/heap", conn)[1])
    conn.close()
    # 100 requests kept would hold 2 MB. The collector scans stacks
    # conservatively, so a stale word on a worker's stack may keep the last
    # request's buffer or two: never more.
    assert after - before < 2 * 20000 + 8000, (before, after)


def test_a_small_heap_serves_and_a_memory_error_is_a_500_not_a_crash(app, tmp_path):
    (tmp_path / "page.html").write_text("<p>static files never touch the heap</p>" * 1000)
    a = app(
        """
        import time, uhttpd
        def hog(req):
            req.write(bytearray(10 * 1024 * 1024))
        def small(req):
            req.write('fits')
        httpd = uhttpd.Server(port=0, host='127.0.0.1')
        httpd.route('/hog', uhttpd.GET, hog)
        httpd.route('/small', uhttpd.GET, small)
        httpd.serve()
        print('PORT', httpd.port())
        while True:
            time.sleep(0.05)
        """,
        args=("-X", "heapsize=96K"),
    )
    assert a.get("/small") == (200, b"fits")
    status, _ = a.get("/hog")
    assert status == 500
    assert "MemoryError" in a.err()
    assert a.get("/small") == (200, b"fits")
    status, body = a.get("/page.html")
    assert status == 200 and len(body) == 40 * 1000


def test_a_slow_callback_does_not_hold_files_or_other_callbacks(app, tmp_path):
    (tmp_path / "f.txt").write_text("file")
    a = app(
        """
        import time, uhttpd
        def slow(req):
            time.sleep(3)
            req.write('slow')
        def fast(req):
            req.write('fast')
        httpd = uhttpd.Server(port=0, host='127.0.0.1')
        httpd.route('/slow', uhttpd.GET, slow)
        httpd.route('/fast', uhttpd.GET, fast)
        httpd.serve()
        print('PORT', httpd.port())
        while True:
            time.sleep(0.05)
        """
    )
    slow = threading.Thread(target=a.get, args=("/slow",))
    slow.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert a.get("/f.txt") == (200, b"file")
    assert a.get("/fast") == (200, b"fast")
    # time.sleep releases the GIL: neither waited for the sleeping callback.
    assert time.monotonic() - started < 2.5
    slow.join(10)


# --------------------------------------------------------------------------
# the REPL


REPL_APP = """
import time, uhttpd
counter = 0
def tick(req):
    global counter
    counter += 1
    print('tick', counter)
    req.write('ok')
httpd = uhttpd.Server(port=0, host='127.0.0.1')
httpd.route('/tick', uhttpd.GET, tick)
httpd.ws('/', 'pw')
httpd.receive()
print('PORT', httpd.port())
while True:
    time.sleep(0.05)
"""


def friendly(port):
    ws, status, _ = wc.connect(port)
    assert status.startswith(b"HTTP/1.1 101")
    wc.login(ws, "pw")
    assert wc.read_text_until(ws, b">>> ").endswith(b"WebREPL connected\r\n>>> ")
    return ws


def run_line(ws, line):
    wc.send_text(ws, line + "\r")
    return wc.read_text_until(ws, b">>> ")


def test_the_friendly_repl_runs_in_main_and_shows_the_programs_output(app):
    a = app(REPL_APP)
    ws = friendly(a.port)
    assert run_line(ws, "6 * 7") == b"6 * 7\r\n42\r\n>>> "
    assert b"__main__ 0" in run_line(ws, "print(__name__, counter)")
    assert a.get("/tick") == (200, b"ok")
    # The callback's print reaches the session (dupterm), and the REPL sees
    # the global it changed.
    assert b"tick 1" in run_line(ws, "counter")
    out = run_line(ws, "for i in range(3):\r    print(i * i)\r")
    assert b"0\r\n1\r\n4\r\n" in out
    assert b"ZeroDivisionError" in run_line(ws, "1 / 0")
    ws.s.close()


def test_paste_mode_runs_a_block_as_a_file(app):
    a = app(REPL_APP)
    ws = friendly(a.port)
    wc.send_text(ws, "\x05")
    assert b"paste mode" in wc.read_text_until(ws, b"=== ")
    wc.send_text(ws, "def f(n):\r    return n * 2\r\rprint('pasted', f(21))\r\x04")
    assert b"pasted 42\r\n" in wc.read_text_until(ws, b">>> ")
    ws.s.close()


def test_ctrl_c_interrupts_a_loop_started_from_the_repl(app):
    a = app(REPL_APP)
    ws = friendly(a.port)
    wc.send_text(ws, "while True: pass\r\r")
    time.sleep(0.5)
    assert a.get("/tick") == (200, b"ok"), "callbacks run while the REPL's loop spins"
    wc.send_text(ws, "\x03")
    assert b"KeyboardInterrupt" in wc.read_text_until(ws, b">>> ")
    assert run_line(ws, "1 + 1").endswith(b"2\r\n>>> ")
    ws.s.close()


def test_ctrl_c_breaks_a_sleep_at_once_as_on_a_board(app):
    a = app(REPL_APP)
    ws = friendly(a.port)
    wc.send_text(ws, "import time; time.sleep(30)\r")
    time.sleep(0.5)
    sent = time.monotonic()
    wc.send_text(ws, "\x03")
    assert b"KeyboardInterrupt" in wc.read_text_until(ws, b">>> ")
    assert time.monotonic() - sent < 5
    ws.s.close()


def test_ctrl_b_shows_micropythons_banner(app):
    a = app(REPL_APP)
    ws = friendly(a.port)
    wc.send_text(ws, "\x02")
    banner = wc.read_text_until(ws, b">>> ")
    assert b"MicroPython v1.25.0" in banner and b"linux" in banner, banner
    ws.s.close()


def test_the_raw_repl_and_raw_paste_as_pyboard_drives_them(app):
    a = app(REPL_APP)
    board = Board(a.port, password="pw")
    assert b"soft reboot" in board.enter_raw_repl()
    assert board.exec_("x = 6 * 7; print(x)") == b"42\r\n"
    assert board.exec_("print(x, __name__)") == b"42 __main__\r\n"
    out, err = board.exec_raw("1 / 0")
    assert out == b"" and b"ZeroDivisionError: divide by zero" in err
    out, err, window, _ = board.exec_raw_paste("import sys\nprint(sys.implementation.name)")
    assert (out, err, window) == (b"micropython\r\n", b"", 128)
    board.exit_raw_repl()
    board.close()


def test_file_transfer_put_and_get(app, tmp_path):
    a = app(REPL_APP)
    local = tmp_path / "local.bin"
    local.write_bytes(os.urandom(5000))
    ws = friendly(a.port)
    wc.put_file(ws, str(local), "sent.bin")
    assert (tmp_path / "sent.bin").read_bytes() == local.read_bytes()
    back = tmp_path / "back.bin"
    wc.get_file(ws, str(back), "sent.bin")
    assert back.read_bytes() == local.read_bytes()
    ws.s.close()


MPFSHELL_APP = """
import time, uhttpd
httpd = uhttpd.Server(port=8266, host='127.0.0.1')
httpd.ws('/', 'pw')
print('PORT', httpd.port())
while True:
    time.sleep(0.05)
"""


def test_mpfshell_lists_reads_and_writes_files(tmp_path):
    assert shutil.which("unshare") and shutil.which("ip"), "needs unshare and ip (iproute2)"
    mpfshell = os.path.join(os.path.dirname(sys.executable), "mpfshell")
    assert os.path.exists(mpfshell), "mpfshell is in requirements-dev.txt"
    root = tmp_path / "root"
    root.mkdir()
    (root / "on_device.txt").write_text("from the device\n")
    (tmp_path / "app.py").write_text(MPFSHELL_APP)
    (tmp_path / "to_device.txt").write_text("from the host\n")
    shell = textwrap.dedent(
        """
        ip link set lo up
        cd {root}
        {mp} {app} > {log} 2>&1 &
        server=$!
        for i in $(seq 100); do grep -q PORT {log} && break; sleep 0.1; done
        cd {tmp}
        {mpfshell} -n --nocache -c "open ws:127.0.0.1,pw; ls; cat on_device.txt; put to_device.txt; get on_device.txt got.txt"
        status=$?
        kill $server
        exit $status
        """
    ).format(root=root, tmp=tmp_path, mp=MICROPYTHON, app=tmp_path / "app.py",
             log=tmp_path / "mp.log", mpfshell=mpfshell)
    r = subprocess.run(["unshare", "-n", "sh", "-c", shell], capture_output=True, text=True, timeout=90)
    log = (tmp_path / "mp.log").read_text()
    assert r.returncode == 0, (r.stdout, r.stderr, log)
    assert "on_device.txt" in r.stdout, (r.stdout, r.stderr, log)
    assert "from the device" in r.stdout
    assert (root / "to_device.txt").read_text() == "from the host\n"
    assert (tmp_path / "got.txt").read_text() == "from the device\n"
