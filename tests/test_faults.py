"""Faults around the server: a full disk, the root directory removed,
callbacks that raise, hang or close their own server, dispatch() racing
close(), and the interpreter exiting during a REPL session."""

import logging
import shutil
import subprocess
import threading
import time

import pytest

import uhttpd

from conftest import (
    put_streaming,
    Conn,
    LogCollector,
    Recorder,
    SSEClient,
    get,
    refuses_connections,
    terminal,
    tree_settles_to,
    wait_until,
)


# --------------------------------------------------------------------------
# disk full: a real ENOSPC on a small tmpfs (test_uploads.py covers EFBIG
# with RLIMIT_FSIZE)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 2 MiB tmpfs mounted inside tmp_path (root only; failing to mount
    fails the test)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mnt)],
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0, "mount -t tmpfs failed: %s" % proc.stderr
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=20)


OLD = b"old content, must survive\n" * 2000  # ~52 KiB


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_disk_full_is_507_and_leaves_nothing_behind(server, small_tmpfs, uhttpd_log, chunked):
    (small_tmpfs / "d").mkdir()
    (small_tmpfs / "d" / "old.bin").write_bytes(OLD)
    srv = server(root=str(small_tmpfs))
    srv.receive(prefix="/up")
    try:
        r = put_streaming(srv.port(), "/up/d/old.bin", 4 << 20, chunked)
        assert r.status == 507, r
        r = put_streaming(srv.port(), "/up/d/new.bin", 4 << 20, chunked)
        assert r.status == 507, r
        # the old file as it was, no partial or temporary file
        assert tree_settles_to(small_tmpfs, ["d/", "d/old.bin"], timeout=3) == ["d/", "d/old.bin"]
        assert (small_tmpfs / "d" / "old.bin").read_bytes() == OLD
        # the access log shows the 507s
        access = uhttpd_log.wait_for(lambda rec: '" 507 ' in rec.getMessage(), count=2)
        assert len(access) == 2, [x.getMessage() for x in uhttpd_log.records]
        assert all("PUT /up/d/" in x.getMessage() for x in access)
        # the space was given back: a small upload works
        r = put_streaming(srv.port(), "/up/d/new.bin", 1000, chunked)
        assert r.status == 201
        assert (small_tmpfs / "d" / "new.bin").read_bytes() == b"Z" * 1000
    finally:
        srv.close()


def test_disk_full_is_logged_as_a_warning(server, small_tmpfs, uhttpd_log):
    """An operator sees a full disk with the default logging level
    (WARNING), not only as a 507 in the INFO access log."""
    srv = server(root=str(small_tmpfs))
    srv.receive(prefix="/up")
    try:
        assert put_streaming(srv.port(), "/up/big.bin", 4 << 20).status == 507
        warned = uhttpd_log.wait_for(lambda rec: rec.levelno >= logging.WARNING, timeout=2)
        assert warned, "no WARNING/ERROR logged for a full disk; records: %r" % [
            (x.levelname, x.getMessage()) for x in uhttpd_log.records]
        text = " ".join(LogCollector.text(x) for x in warned).lower()
        assert "big.bin" in text or "space" in text or "full" in text, text
    finally:
        srv.close()


# --------------------------------------------------------------------------
# the root directory removed under a running server


def test_root_removed_under_a_running_server(server, tmp_path):
    root = tmp_path / "www"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"a")
    (root / "sub" / "b.txt").write_bytes(b"b")
    srv = server(root=str(root))
    srv.route("/r", uhttpd.GET, Recorder("route"))
    srv.serve("/files", dirs=True)
    assert get(srv, "/files/a.txt").body == b"a"
    assert get(srv, "/files/sub/").status == 200

    shutil.rmtree(root)
    for path in ("/files/a.txt", "/files/sub/b.txt", "/files/sub/", "/files/", "/files/sub"):
        r = get(srv, path)
        assert r.status == 404, (path, r)
    r = request_head(srv, "/files/a.txt")
    assert r == 404
    assert get(srv, "/r").body == b"route"


def test_root_removed_and_recreated_is_served_again(server, tmp_path):
    """A deploy that replaces the root directory (rm -rf www; cp -r build
    www) is served without a restart: root is a path, not a handle."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "a.txt").write_bytes(b"first")
    srv = server(root=str(root))
    srv.serve("/files")
    assert get(srv, "/files/a.txt").body == b"first"
    shutil.rmtree(root)
    assert get(srv, "/files/a.txt").status == 404
    root.mkdir()
    (root / "a.txt").write_bytes(b"again")
    r = get(srv, "/files/a.txt")
    assert (r.status, r.body) == (200, b"again")


def request_head(srv, path):
    with Conn(srv) as c:
        c.send("HEAD %s HTTP/1.1\r\nHost: t\r\n\r\n" % path)
        return c.read_response("HEAD").status


# --------------------------------------------------------------------------
# callbacks that raise, hang, or close their own server


def test_raising_callback_is_500_and_logged_with_traceback(server, uhttpd_log):
    srv = server()

    def broken(req):
        raise ValueError("distinctive-failure-7731")

    srv.route("/broken", uhttpd.GET, broken)
    srv.route("/ok", uhttpd.GET, Recorder("ok"))
    for _ in range(3):
        assert get(srv, "/broken").status == 500
    assert get(srv, "/ok").body == b"ok"
    errors = uhttpd_log.wait_for(
        lambda r: r.levelno >= logging.ERROR and "distinctive-failure-7731" in LogCollector.text(r),
        count=3)
    assert len(errors) == 3
    text = LogCollector.text(errors[0])
    assert "Traceback" in text and "ValueError" in text and "in broken" in text, text


@pytest.mark.parametrize("how", ["blocked", "spinning"])
def test_hanging_callback_does_not_stall_others_and_close_returns(server, how):
    srv = server()
    release = threading.Event()
    entered = threading.Semaphore(0)
    give_up = time.monotonic() + 20  # the callbacks end by themselves, whatever happens

    def hang(req):
        entered.release()
        if how == "blocked":
            release.wait(20)
        else:
            while not release.is_set() and time.monotonic() < give_up:
                pass
        try:
            req.write("late")
        except Exception:  # noqa: BLE001 - the server may be gone by now
            pass

    srv.route("/hang", uhttpd.GET, hang)
    srv.route("/ok", uhttpd.GET, Recorder("ok"))
    port = srv.port()
    hung = [Conn(srv, timeout=30) for _ in range(2)]
    try:
        for c in hung:
            c.send(b"GET /hang HTTP/1.1\r\nHost: t\r\n\r\n")
        for _ in hung:
            assert entered.acquire(timeout=5)
        for _ in range(5):
            start = time.monotonic()
            assert get(srv, "/ok").body == b"ok"
            assert time.monotonic() - start < 1.0
        start = time.monotonic()
        srv.close()
        took = time.monotonic() - start
        assert took < 6.5, "close() took %.1f s with hanging callbacks" % took
        assert refuses_connections(port)
    finally:
        release.set()
        for c in hung:
            c.close()


@pytest.mark.parametrize("which", ["captured", "req.server()"])
def test_callback_closing_its_own_server(server, which):
    srv = server()
    done = threading.Event()
    outcome = {}

    def closer(req):
        start = time.monotonic()
        try:
            target = srv if which == "captured" else req.server()
            target.close()
            outcome["close"] = "ok"
        except Exception as e:  # noqa: BLE001 - reported below
            outcome["close"] = repr(e)
        outcome["took"] = time.monotonic() - start
        try:
            req.write("closed")
        except Exception:  # noqa: BLE001 - writing after close may fail
            pass
        done.set()

    srv.route("/close", uhttpd.GET, closer)
    port = srv.port()
    with Conn(srv, timeout=10) as c:
        c.send(b"GET /close HTTP/1.1\r\nHost: t\r\n\r\n")
        assert done.wait(10), "close() called from a callback never returned (deadlock)"
        try:
            c.read_until_close()  # whatever came, the connection ends
        except OSError:
            pass
    assert outcome["close"] == "ok", outcome
    assert outcome["took"] < 6.5, outcome
    assert refuses_connections(port)
    srv.close()  # idempotent, also after a close from inside


# --------------------------------------------------------------------------
# dispatch() racing close()


def test_dispatch_during_shutdown_never_raises(server):
    for _ in range(4):
        srv = server(events=4)
        srv.event("/events")
        listeners = [SSEClient(srv, "/events") for _ in range(2)]
        for c in listeners:
            assert c.head().status == 200
        assert wait_until(lambda: srv.dispatch("ready"), timeout=3)
        results = []
        errors = []
        stop = threading.Event()

        def pump():
            i = 0
            while not stop.is_set():
                try:
                    results.append(srv.dispatch("event %d\nline two" % i, event="tick"))
                except BaseException as e:  # noqa: BLE001 - any exception is the failure
                    errors.append(repr(e))
                i += 1
                if i % 50 == 0:
                    time.sleep(0.001)

        threads = [threading.Thread(target=pump, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.1)
        start = time.monotonic()
        srv.close()
        took = time.monotonic() - start
        time.sleep(0.2)  # dispatching on after close
        stop.set()
        for t in threads:
            t.join(5)
        for c in listeners:
            c.close()
        assert not errors, errors[:5]
        assert all(r is True or r is False for r in results)
        assert True in results
        assert srv.dispatch("after close") is False
        assert took < 3, "close() took %.1f s while dispatching" % took


# --------------------------------------------------------------------------
# the interpreter exits during a REPL session


EXIT_DURING_REPL = r"""
import sys, uhttpd
srv = uhttpd.Server(port=0, host="127.0.0.1")
srv.ws("/ws", "pw")
print(srv.port(), flush=True)
sys.stdin.readline()
print("main returns", flush=True)
"""


@pytest.mark.parametrize("code", ["while True: pass", "import time; time.sleep(60)",
                                  "x = 1"], ids=["busy", "sleeping", "idle"])
def test_interpreter_exit_during_a_repl_session(child_server, code):
    child = child_server(EXIT_DURING_REPL)
    with terminal(child.port, "/ws") as t:
        t.login()
        t.type(code + "\r")
        time.sleep(0.5)
        start = time.monotonic()
        child.send_stdin(b"go\n")
        try:
            rc = child.proc.wait(10)
        except subprocess.TimeoutExpired:
            rc = "still running after 10 s"
        took = time.monotonic() - start
    err = child.stderr_text()
    assert rc == 0, (rc, err[-3000:])
    assert took < 10
    for bad in ("Fatal Python error", "panicked", "Segmentation fault"):
        assert bad not in err, err[-3000:]
