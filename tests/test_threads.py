"""Threads and the GIL, the callback pool, handler failures and misuse,
and shutdown (close, with, garbage collection, interpreter exit)."""

import concurrent.futures
import gc
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import uhttpd

from conftest import HOST, Conn, capture, get, raw, refuses_connections, url


def run_in_thread(fn, *args, **kw):
    """Starts fn in a thread; returns (thread, result dict)."""
    out = {}

    def target():
        try:
            out["value"] = fn(*args, **kw)
        except BaseException as e:  # noqa: BLE001
            out["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, out


# --------------------------------------------------------------------------
# GIL and the pool


def test_blocked_handler_does_not_stall_other_routes(server):
    srv = server()
    entered = threading.Event()
    release = threading.Event()
    a_done = threading.Event()

    def blocked(req):
        entered.set()
        release.wait(10)
        a_done.set()
        req.write("A")

    srv.route("/a", uhttpd.GET, blocked)
    srv.route("/b", uhttpd.GET, lambda req: req.write("B"))
    try:
        t, out = run_in_thread(get, srv, "/a", timeout=15)
        assert entered.wait(5), "handler A never started"
        start = time.monotonic()
        r = get(srv, "/b", timeout=5)
        elapsed = time.monotonic() - start
        assert (r.status, r.body) == (200, b"B")
        assert not a_done.is_set(), "B was only answered after A finished"
        assert elapsed < 1.5
    finally:
        release.set()
    t.join(10)
    assert out["value"].status == 200 and out["value"].body == b"A"


def test_sleeping_handler_does_not_stall_other_routes(server):
    srv = server()
    entered = threading.Event()
    a_done = threading.Event()

    def sleeper(req):
        entered.set()
        time.sleep(2)
        a_done.set()
        req.write("slept")

    srv.route("/sleep", uhttpd.GET, sleeper)
    srv.route("/fast", uhttpd.GET, lambda req: req.write("fast"))
    t, out = run_in_thread(get, srv, "/sleep", timeout=10)
    assert entered.wait(5)
    start = time.monotonic()
    r = get(srv, "/fast")
    elapsed = time.monotonic() - start
    assert (r.status, r.body) == (200, b"fast")
    assert not a_done.is_set()
    assert elapsed < 1.5
    t.join(10)
    assert out["value"].body == b"slept"


def test_handler_reading_a_slow_body_does_not_stall_others(server):
    srv = server()
    entered = threading.Event()
    read_done = threading.Event()

    def upload(req):
        entered.set()
        data = req.read()
        read_done.set()
        req.write(data)

    srv.route("/up", uhttpd.POST, upload)
    srv.route("/fast", uhttpd.GET, lambda req: req.write("fast"))
    # The handler starts once the first 64 KiB piece is there (a smaller
    # body is read whole before it runs), then blocks reading the rest.
    first = b"a" * 65536 + b"ab"
    with Conn(srv, timeout=10) as c:
        c.send(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (len(first) + 8) + first)
        assert entered.wait(5), "upload handler never started"
        r = get(srv, "/fast", timeout=5)
        assert (r.status, r.body) == (200, b"fast")
        assert not read_done.is_set()
        c.send(b"cdefghij")
        r = c.read_response()
        assert (r.status, r.body) == (200, first + b"cdefghij")


def test_main_thread_keeps_running_and_requests_are_served(server):
    srv = server()
    hits = []
    srv.route("/ping", uhttpd.GET, lambda req: (hits.append(threading.get_ident()), req.write("pong")))
    proc = subprocess.Popen(["curl", "-sS", "--max-time", "5", url(srv, "/ping")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    spins = 0
    deadline = time.monotonic() + 8
    # busy pure-Python loop on the main thread: no sleeping, no I/O
    while proc.poll() is None and time.monotonic() < deadline:
        spins += 1
    out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    assert out == b"pong"
    assert spins > 0
    assert hits and hits[0] != threading.main_thread().ident


def test_handlers_run_off_the_main_thread(server):
    srv = server()
    idents = []
    srv.route("/t", uhttpd.GET, lambda req: (idents.append(threading.get_ident()), req.write("t")))
    for _ in range(3):
        assert get(srv, "/t").status == 200
    assert threading.main_thread().ident not in idents


def test_default_pool_runs_eight_handlers_at_once(server):
    srv = server()
    barrier = threading.Barrier(8)

    def meet(req):
        barrier.wait(timeout=8)
        req.write("met")

    srv.route("/meet", uhttpd.GET, meet)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        replies = list(ex.map(lambda i: get(srv, "/meet", timeout=15), range(8)))
    assert [r.status for r in replies] == [200] * 8
    assert all(r.body == b"met" for r in replies)


def test_workers_bounds_the_pool(server):
    srv = server(workers=2)
    running = []
    lock = threading.Lock()
    both_in = threading.Event()
    release = threading.Event()

    def hold(req):
        with lock:
            running.append(req.path())
            if len(running) == 2:
                both_in.set()
        release.wait(10)
        req.write(req.path())

    srv.route("/h/*", uhttpd.GET, hold)
    threads = []
    try:
        for i in range(3):
            threads.append(run_in_thread(get, srv, "/h/%d" % i, timeout=15))
            if i == 1:
                assert both_in.wait(5), "two workers did not run at once"
        time.sleep(0.5)
        # the third request waits for a free worker
        assert len(running) == 2
    finally:
        release.set()
    for t, out in threads:
        t.join(10)
        assert out["value"].status == 200
    assert sorted(running) == ["/h/0", "/h/1", "/h/2"]


def test_many_concurrent_clients(server):
    srv = server()
    srv.route("/n/*", uhttpd.GET, lambda req: req.write(req.path()))
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        replies = list(ex.map(lambda i: get(srv, "/n/%d" % i, timeout=15), range(64)))
    assert [r.body for r in replies] == [b"/n/%d" % i for i in range(64)]


# --------------------------------------------------------------------------
# handler failures


def test_handler_exception_is_500_and_server_survives(server):
    srv = server()

    def failing_handler(req):
        raise ValueError("boom-marker-1")

    srv.route("/fail", uhttpd.GET, failing_handler)
    srv.route("/ok", uhttpd.GET, lambda req: req.write("ok"))
    r = get(srv, "/fail")
    assert r.status == 500
    assert get(srv, "/ok").status == 200


def test_handler_exception_after_partial_chunked_reply_is_cut(server):
    srv = server()

    def half(req):
        req.send_chunk("half")
        raise RuntimeError("midway")

    srv.route("/half", uhttpd.GET, half)
    srv.route("/ok", uhttpd.GET, lambda req: req.write("ok"))
    with Conn(srv) as c:
        c.send(b"GET /half HTTP/1.1\r\nHost: t\r\n\r\n")
        try:
            r = c.read_response()
            complete = r.raw_body.endswith(b"0\r\n\r\n")
        except (EOFError, ConnectionResetError):
            complete = False
        # a reply that failed midway must not look like a complete one
        assert not complete
    assert get(srv, "/ok").status == 200


def test_handler_without_reply_is_500(server):
    srv = server()
    srv.route("/quiet", uhttpd.GET, lambda req: None)
    r = get(srv, "/quiet")
    assert r.status == 500


def test_handler_exception_is_logged_with_traceback(server, uhttpd_log):
    srv = server()

    def failing_handler(req):
        raise ValueError("boom-marker-2")

    srv.route("/fail", uhttpd.GET, failing_handler)
    assert get(srv, "/fail").status == 500
    recs = uhttpd_log.wait_for(
        lambda rec: rec.levelno >= 40 and "boom-marker-2" in uhttpd_log.text(rec), timeout=3)
    assert recs, "no ERROR record with the exception: %r" % [
        (r.levelname, uhttpd_log.text(r)) for r in uhttpd_log.records]
    text = uhttpd_log.text(recs[0])
    assert "ValueError" in text
    assert "failing_handler" in text  # the traceback names the handler
    assert recs[0].name.startswith("uhttpd")


# --------------------------------------------------------------------------
# misuse of the reply API raises in the callback


def _misuse(server, steps):
    """Runs the steps (callables on req) in a handler; returns outcomes and the reply."""
    srv = server()
    outcomes = []
    done = threading.Event()

    def handler(req):
        try:
            for step in steps:
                outcomes.append(capture(lambda: step(req)))
        finally:
            done.set()

    srv.route("/m", uhttpd.GET, handler)
    data = None
    with Conn(srv) as c:
        c.send(b"GET /m HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = c.read_until_close()
    assert done.wait(5), "handler did not return"
    return [o[0] for o in outcomes], data


def test_second_write_raises(server):
    kinds, data = _misuse(server, [lambda r: r.write("one"), lambda r: r.write("two")])
    assert kinds == ["ok", RuntimeError]
    assert data.endswith(b"\r\n\r\none")


def test_send_chunk_after_write_raises(server):
    kinds, data = _misuse(server, [lambda r: r.write("one"), lambda r: r.send_chunk("two")])
    assert kinds == ["ok", RuntimeError]
    assert data.endswith(b"\r\n\r\none")


def test_send_after_write_raises(server):
    kinds, data = _misuse(server, [lambda r: r.write("one"), lambda r: r.send(b"two")])
    assert kinds == ["ok", RuntimeError]
    assert data.endswith(b"\r\n\r\none")


def test_write_after_send_chunk_raises(server):
    kinds, data = _misuse(server, [lambda r: r.send_chunk("one"), lambda r: r.write("two"),
                                   lambda r: r.send_chunk(None)])
    assert kinds == ["ok", RuntimeError, "ok"]
    assert b"one" in data
    assert b"two" not in data
    assert data.endswith(b"0\r\n\r\n")


def test_send_after_send_chunk_raises(server):
    kinds, data = _misuse(server, [lambda r: r.send_chunk("one"), lambda r: r.send(b"two")])
    assert kinds == ["ok", RuntimeError]
    assert b"two" not in data


def test_send_chunk_after_final_raises(server):
    kinds, data = _misuse(server, [lambda r: r.send_chunk("one"), lambda r: r.send_chunk(None),
                                   lambda r: r.send_chunk("two")])
    assert kinds == ["ok", "ok", RuntimeError]
    assert data.endswith(b"0\r\n\r\n")
    assert b"two" not in data


def test_write_after_send_raises(server):
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nraw"
    kinds, data = _misuse(server, [lambda r: r.send(reply), lambda r: r.write("two")])
    assert kinds == ["ok", RuntimeError]
    assert data == reply


def test_send_chunk_after_send_raises(server):
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nraw"
    kinds, data = _misuse(server, [lambda r: r.send(reply), lambda r: r.send_chunk("two")])
    assert kinds == ["ok", RuntimeError]
    assert data == reply


def test_write_after_handler_returned_raises(server):
    srv = server()
    kept = []

    def handler(req):
        kept.append(req)
        req.write("done")

    srv.route("/keep", uhttpd.GET, handler)
    assert get(srv, "/keep").body == b"done"
    req = kept[0]
    with pytest.raises(RuntimeError):
        req.write("too late")
    assert get(srv, "/keep").body == b"done"


# --------------------------------------------------------------------------
# shutdown


def test_close_stops_the_port(server):
    srv = server()
    srv.route("/x", uhttpd.GET, lambda req: req.write("x"))
    port = srv.port()
    assert get(srv, "/x").status == 200
    srv.close()
    assert refuses_connections(port)


def test_close_is_idempotent(server):
    srv = server()
    port = srv.port()
    srv.close()
    srv.close()
    srv.close()
    assert refuses_connections(port)


def test_with_statement_closes():
    with uhttpd.Server(port=0, host=HOST) as srv:
        assert isinstance(srv, uhttpd.Server)
        srv.route("/w", uhttpd.GET, lambda req: req.write("w"))
        port = srv.port()
        assert get(port, "/w").body == b"w"
    assert refuses_connections(port)


def test_with_statement_closes_on_exception():
    with pytest.raises(KeyError):
        with uhttpd.Server(port=0, host=HOST) as srv:
            port = srv.port()
            raise KeyError("inside")
    assert refuses_connections(port)


def test_garbage_collection_closes_the_port():
    srv = uhttpd.Server(port=0, host=HOST)
    srv.route("/g", uhttpd.GET, lambda req: req.write("g"))
    port = srv.port()
    assert get(port, "/g").body == b"g"
    del srv
    gc.collect()
    deadline = time.monotonic() + 3
    while not refuses_connections(port) and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.05)
    assert refuses_connections(port)


@pytest.mark.parametrize("callback", ["route", "file_acl", "auth"])
def test_garbage_collection_with_a_callback_referencing_the_server(callback):
    # a reference cycle: server -> callback -> closure cell -> server
    def start():
        if callback == "auth":
            srv = uhttpd.Server(port=0, host=HOST, acl=uhttpd.AUTH_CUSTOM,
                                auth=lambda req: srv is not None)
        else:
            srv = uhttpd.Server(port=0, host=HOST)
        srv.route("/g", uhttpd.GET, lambda req: req.write(str(srv.port())))
        if callback == "file_acl":
            srv.file_acl(lambda path: srv and uhttpd.ACL_RW)
        port = srv.port()
        assert get(port, "/g").body == str(port).encode()
        return port

    port = start()
    deadline = time.monotonic() + 3
    while not refuses_connections(port) and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.05)
    assert refuses_connections(port)


def test_close_with_idle_keep_alive_connection(server):
    srv = server()
    srv.route("/x", uhttpd.GET, lambda req: req.write("x"))
    port = srv.port()
    with Conn(srv, timeout=5) as c:
        c.send(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().status == 200
        start = time.monotonic()
        srv.close()
        assert time.monotonic() - start < 3
        assert refuses_connections(port)
        assert c.closed_by_peer(3), "idle connection left open after close()"


def test_close_while_a_handler_runs(server):
    srv = server()
    entered = threading.Event()
    release = threading.Event()
    after_close = []

    def slow(req):
        entered.set()
        release.wait(10)
        after_close.append(capture(lambda: req.write("late")))

    srv.route("/slow", uhttpd.GET, slow)
    port = srv.port()
    with Conn(srv, timeout=10) as c:
        c.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        assert entered.wait(5)
        timer = threading.Timer(0.5, release.set)
        timer.start()
        start = time.monotonic()
        srv.close()
        took = time.monotonic() - start
        timer.cancel()
        release.set()
        assert took < 8
        assert refuses_connections(port)
    # the handler was not killed: it ran to its end (its write may or may not reach anyone)
    deadline = time.monotonic() + 5
    while not after_close and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(after_close) == 1


EXIT_SCRIPT = """
import socket, sys, threading, time
import uhttpd

started = threading.Event()

def slow(req):
    started.set()
    {body}
    req.write('late')

srv = uhttpd.Server(port=0, host='127.0.0.1')
srv.route('/slow', uhttpd.GET, slow)
client = socket.create_connection(('127.0.0.1', srv.port()), timeout=10)
client.sendall(b'GET /slow HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n')
if not started.wait(10):
    print('handler never started', flush=True)
    sys.exit(3)
print('exiting', flush=True)
"""


@pytest.mark.parametrize(
    "body",
    ["time.sleep(2)", "t = time.time() + 2\n    while time.time() < t: pass"],
    ids=["sleeping-handler", "busy-handler"],
)
def test_interpreter_exit_with_request_in_flight(tmp_path, body):
    script = EXIT_SCRIPT.format(body=body)
    proc = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=30)
    assert "exiting" in proc.stdout, (proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr
    for bad in ("Fatal Python error", "panicked", "Segmentation fault"):
        assert bad not in proc.stderr, proc.stderr


def test_interpreter_exit_after_serving_without_close(tmp_path):
    script = textwrap.dedent("""
        import socket, uhttpd
        srv = uhttpd.Server(port=0, host='127.0.0.1')
        srv.route('/x', uhttpd.GET, lambda req: req.write('x' * 100))
        idle = socket.create_connection(('127.0.0.1', srv.port()), timeout=5)
        idle.sendall(b'GET /x HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n')
        got = b''
        while not got.endswith(b'x' * 100):
            got += idle.recv(4096)
        print('served', flush=True)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=30)
    assert "served" in proc.stdout, (proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr
    for bad in ("Fatal Python error", "panicked", "Segmentation fault"):
        assert bad not in proc.stderr, proc.stderr


def test_client_not_reading_a_big_reply_does_not_hold_the_worker(server):
    srv = server(workers=1)
    big = b"B" * (32 << 20)  # more than the kernel buffers hold
    srv.route("/big", uhttpd.GET, lambda req: req.write(big, mime="application/octet-stream"))
    srv.route("/small", uhttpd.GET, lambda req: req.write("small"))
    with Conn(srv, timeout=10) as lazy:
        lazy.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.3)
        start = time.monotonic()
        r = get(srv, "/small", timeout=5)
        assert (r.status, r.body) == (200, b"small")
        assert time.monotonic() - start < 3
        # the lazy client still gets its whole reply when it reads
        reply = lazy.read_response()
        assert reply.status == 200 and len(reply.body) == len(big)
