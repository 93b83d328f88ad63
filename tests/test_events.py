"""Server-Sent Events: Server(events=N), event(url), dispatch(data, event)."""

import base64
import subprocess
import sys
import threading
import time

import httpx
import pytest

import uhttpd

from conftest import SSEClient, capture, get, sse, url, wait_until

# --------------------------------------------------------------------------
# registration


def test_event_needs_events_at_least_one(server):
    srv = server()  # events=0 (the seed's default)
    with pytest.raises(ValueError):
        srv.event("/ev")
    srv = server(events=0)
    with pytest.raises(ValueError):
        srv.event("/ev")


def test_event_only_once_per_server(server):
    srv = server(events=2)
    srv.event("/ev")
    with pytest.raises(ValueError):
        srv.event("/ev")
    with pytest.raises(ValueError):
        srv.event("/other")
    # the first registration still works
    with sse(srv, "/ev") as c:
        assert c.status == 200


@pytest.mark.parametrize("pattern", ["/ev/*", "/ev?", "/*", "/ev/?*"])
def test_event_url_must_not_be_a_wildcard(server, pattern):
    srv = server(events=1)
    with pytest.raises(ValueError):
        srv.event(pattern)
    # a refused registration does not count as "the" event url
    srv.event("/ev")
    with sse(srv, "/ev") as c:
        assert c.status == 200


def test_event_takes_one_route_slot(server):
    # routes=3: OPTIONS 1 + event 1 + one verb
    srv = server(routes=3, events=1)
    srv.event("/ev")
    srv.route("/a", uhttpd.GET, lambda req: req.write("a"))
    with pytest.raises(ValueError):
        srv.route("/b", uhttpd.GET, lambda req: req.write("b"))
    # routes=1: only the OPTIONS slot, no room for the event url
    srv2 = server(routes=1, events=1)
    with pytest.raises(ValueError):
        srv2.event("/ev")
    assert get(srv, "/a").body == b"a"
    with sse(srv, "/ev") as c:
        assert c.status == 200


# --------------------------------------------------------------------------
# the stream


def test_stream_head_and_connected_comment(server):
    srv = server(events=1)
    srv.event("/ev")
    with SSEClient(srv, "/ev") as c:
        reply = c.head()
        assert reply.status == 200
        assert reply.header("content-type").split(";")[0].strip() == "text/event-stream"
        assert reply.header("cache-control") == "no-cache"
        assert reply.header("connection").lower() == "close"
        assert reply.header("content-length") is None
        assert c.read_bytes(len(b": connected\n\n")) == b": connected\n\n"


def test_dispatch_without_listeners_returns_false(server):
    srv = server(events=2)
    srv.event("/ev")
    assert srv.dispatch("nobody") is False
    assert srv.dispatch(b"nobody", "named") is False


def test_dispatch_wire_format(server):
    srv = server(events=1)
    srv.event("/ev")
    with sse(srv, "/ev") as c:
        assert c.read_bytes(13) == b": connected\n\n"
        assert srv.dispatch("hello") is True
        assert c.read_bytes(len(b"data: hello\n\n")) == b"data: hello\n\n"
        assert srv.dispatch("x", "tick") is True
        expected = b"event: tick\ndata: x\n\n"
        assert c.read_bytes(len(expected)) == expected
        assert srv.dispatch(b"raw bytes") is True
        assert c.read_bytes(len(b"data: raw bytes\n\n")) == b"data: raw bytes\n\n"
        assert srv.dispatch("k=v", event="upd") is True
        expected = b"event: upd\ndata: k=v\n\n"
        assert c.read_bytes(len(expected)) == expected


def test_multiline_data_is_split_on_crlf_cr_and_lf(server):
    srv = server(events=1)
    srv.event("/ev")
    with sse(srv, "/ev") as c:
        assert c.read_bytes(13) == b": connected\n\n"
        assert srv.dispatch("a\r\nb\rc\nd", "multi") is True
        expected = b"event: multi\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
        assert c.read_bytes(len(expected)) == expected
        assert srv.dispatch(b"one\ntwo") is True
        expected = b"data: one\ndata: two\n\n"
        assert c.read_bytes(len(expected)) == expected
        assert srv.dispatch("line1\r\n\r\nline3") is True
        expected = b"data: line1\ndata: \ndata: line3\n\n"
        assert c.read_bytes(len(expected)) == expected


@pytest.mark.parametrize("name", ["a\nb", "a\rb", "a\r\nb", "\n", "end\r"])
def test_event_name_with_line_break_raises(server, name):
    srv = server(events=1)
    srv.event("/ev")
    with sse(srv, "/ev") as c:
        assert c.read_bytes(13) == b": connected\n\n"
        with pytest.raises(ValueError):
            srv.dispatch("data", name)
        # nothing of the refused event reached the client
        assert srv.dispatch("after", "ok") is True
        assert c.next_event() == {"event": "ok", "data": "after"}


def test_unicode_data_arrives_as_utf8(server):
    srv = server(events=1)
    srv.event("/ev")
    with sse(srv, "/ev") as c:
        assert srv.dispatch("żółw ✓", "uni") is True
        assert c.next_event() == {"event": "uni", "data": "żółw ✓"}


def test_large_event_arrives_whole(server):
    srv = server(events=1)
    srv.event("/ev")
    with sse(srv, "/ev") as c:
        big = "".join(chr(97 + i % 26) for i in range(1_000_000))
        assert srv.dispatch(big, "big") is True
        assert c.next_event() == {"event": "big", "data": big}


@pytest.mark.parametrize("bad", [123, None, ["a"], 1.5])
def test_dispatch_rejects_non_text_data(server, bad):
    srv = server(events=1)
    srv.event("/ev")
    with sse(srv, "/ev") as c:
        with pytest.raises(TypeError):
            srv.dispatch(bad)
        assert srv.dispatch("fine") is True
        assert c.next_event() == {"event": None, "data": "fine"}


def test_every_client_gets_every_event(server):
    srv = server(events=3)
    srv.event("/ev")
    clients = [sse(srv, "/ev") for _ in range(3)]
    try:
        assert [c.status for c in clients] == [200, 200, 200]
        for c in clients:
            assert c.read_bytes(13) == b": connected\n\n"
        for i in range(20):
            assert srv.dispatch("n%d" % i, "count") is True
        for c in clients:
            assert c.events(20) == [{"event": "count", "data": "n%d" % i} for i in range(20)]
    finally:
        for c in clients:
            c.close()


def test_httpx_streaming_client(server):
    srv = server(events=1)
    srv.event("/ev")
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        with client.stream("GET", url(srv, "/ev")) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            assert r.headers["cache-control"] == "no-cache"
            lines = r.iter_lines()
            assert next(lines) == ": connected"
            assert next(lines) == ""
            assert srv.dispatch("first") is True
            assert srv.dispatch("two\nlines", "second") is True
            got = [next(lines) for _ in range(6)]
            assert got == ["data: first", "", "event: second", "data: two", "data: lines", ""]


def test_dispatch_returns_false_again_after_the_client_left(server):
    srv = server(events=1)
    srv.event("/ev")
    c = sse(srv, "/ev")
    assert c.read_bytes(13) == b": connected\n\n"
    assert srv.dispatch("here") is True
    c.close()
    assert wait_until(lambda: srv.dispatch("gone?") is False, timeout=3.0)


# --------------------------------------------------------------------------
# the client limit


def test_more_clients_than_events_get_503(server):
    srv = server(events=2)
    srv.event("/ev")
    a, b = sse(srv, "/ev"), sse(srv, "/ev")
    try:
        assert (a.status, b.status) == (200, 200)
        with SSEClient(srv, "/ev") as c:
            reply = c.head()
            assert reply.status == 503
            retry = reply.header("retry-after")
            assert retry is not None and retry.strip().isdigit(), reply
        # the two accepted clients still get events
        assert srv.dispatch("still", "here") is True
        assert a.next_event() == {"event": "here", "data": "still"}
        assert b.next_event() == {"event": "here", "data": "still"}
    finally:
        a.close()
        b.close()


def test_a_client_that_disconnects_frees_its_place(server):
    srv = server(events=2)
    srv.event("/ev")
    a, b = sse(srv, "/ev"), sse(srv, "/ev")
    try:
        assert (a.status, b.status) == (200, 200)
        assert a.read_bytes(13) == b": connected\n\n"
        with SSEClient(srv, "/ev") as full:
            assert full.head().status == 503
        a.close()
        time.sleep(0.1)  # the close reaches the server; no dispatch needed
        with SSEClient(srv, "/ev") as c:
            assert c.head().status == 200  # first attempt, no retry
            assert c.read_bytes(13) == b": connected\n\n"
            assert srv.dispatch("welcome") is True
            assert c.next_event() == {"event": None, "data": "welcome"}
            assert b.next_event() == {"event": None, "data": "welcome"}
            # and the limit still holds
            with SSEClient(srv, "/ev") as extra:
                assert extra.head().status == 503
    finally:
        a.close()
        b.close()


def test_reconnect_right_after_disconnect_gets_200(server):
    # A page reload: the old EventSource closes and the new one connects at
    # once. With events=1 the new one must not be refused (EventSource does
    # not retry after a 503), so the place must be free right away.
    srv = server(events=1)
    srv.event("/ev")
    c = sse(srv, "/ev")
    refused = 0
    try:
        assert c.status == 200
        for _ in range(20):
            assert c.read_bytes(13) == b": connected\n\n"
            c.close()
            c = sse(srv, "/ev")  # immediately, no sleep, no retry
            if c.status != 200:
                refused += 1
                c.close()
                time.sleep(0.2)
                c = sse(srv, "/ev")
                assert c.status == 200
    finally:
        c.close()
    assert refused == 0, "%d of 20 immediate reconnects got 503" % refused


def test_one_client_limit_reused_many_times(server):
    srv = server(events=1)
    srv.event("/ev")
    for i in range(10):
        with sse(srv, "/ev") as c:
            assert c.status == 200, "round %d" % i
            assert c.read_bytes(13) == b": connected\n\n"
            assert srv.dispatch("r%d" % i) is True
            assert c.next_event()["data"] == "r%d" % i
        time.sleep(0.1)


# --------------------------------------------------------------------------
# auth


def test_basic_auth_covers_the_event_url(server):
    creds = b"Basic " + base64.b64encode(b"answer:42")
    srv = server(acl=uhttpd.AUTH_BASIC, auth=creds, events=1)
    srv.event("/ev")
    with SSEClient(srv, "/ev") as c:
        reply = c.head()
        assert reply.status == 401
        assert reply.header("www-authenticate").lower().startswith("basic")
    assert srv.dispatch("secret") is False  # the refused client is no listener
    with SSEClient(srv, "/ev", headers={"Authorization": creds.decode()}) as c:
        assert c.head().status == 200
        assert c.read_bytes(13) == b": connected\n\n"
        assert srv.dispatch("secret") is True
        assert c.next_event()["data"] == "secret"


# --------------------------------------------------------------------------
# concurrency


def test_dispatch_from_four_threads(server):
    srv = server(events=1)
    srv.event("/ev")
    per_thread = 250
    payload = "p" * 200
    with sse(srv, "/ev") as c:
        assert c.read_bytes(13) == b": connected\n\n"
        results = {}
        start = threading.Barrier(4)

        def worker(t):
            start.wait(5)
            ok = []
            for i in range(per_thread):
                ok.append(
                    srv.dispatch("%d:%d\n%s-%d-%d\nend" % (t, i, payload, t, i), "t%d" % t)
                )
            results[t] = ok

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(20)
        assert all(not th.is_alive() for th in threads)
        assert {t: all(v) for t, v in results.items()} == {t: True for t in range(4)}

        got = c.events(4 * per_thread)
        seen = {t: [] for t in range(4)}
        for ev in got:
            t = int(ev["event"][1:])
            first, middle, last = ev["data"].split("\n")
            tt, i = map(int, first.split(":"))
            assert tt == t, ev
            assert middle == "%s-%d-%d" % (payload, t, i), ev
            assert last == "end", ev
            seen[t].append(i)
        # every event exactly once, each thread's events in its own order
        assert seen == {t: list(range(per_thread)) for t in range(4)}
        # nothing more is pending
        assert srv.dispatch("done", "fin") is True
        assert c.next_event() == {"event": "fin", "data": "done"}


HEALTHY_READER = r"""
import socket, sys
port, last, out = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
h = socket.create_connection(("127.0.0.1", port), timeout=15)
h.sendall(b"GET /ev HTTP/1.1\r\nHost: x\r\n\r\n")
got = bytearray()
while b": connected\n\n" not in got:
    d = h.recv(65536)
    if not d:
        break
    got += d
print("ready", flush=True)
while not got.endswith(last):
    d = h.recv(1 << 20)
    if not d:
        break
    got += d
with open(out, "wb") as f:
    f.write(got)
"""


def test_stalled_client_is_dropped_and_dispatch_never_blocks(server, uhttpd_log, tmp_path):
    srv = server(events=2)
    srv.event("/ev")
    n, payload = 5000, "x" * 2000

    # a client that connects, reads the head and then never reads again
    stalled = SSEClient(srv, "/ev", rcvbuf=4096, timeout=5)
    try:
        assert stalled.head().status == 200
        assert stalled.read_bytes(13) == b": connected\n\n"

        # a healthy client in its own process (it does not wait for our GIL)
        out = tmp_path / "healthy.bin"
        last = "data: %d %s\n\n" % (n - 1, payload)
        proc = subprocess.Popen(
            [sys.executable, "-c", HEALTHY_READER, str(srv.port()), last, str(out)],
            stdout=subprocess.PIPE,
        )
        try:
            ready = [b""]
            t = threading.Thread(target=lambda: ready.__setitem__(0, proc.stdout.readline()))
            t.start()
            t.join(10)
            assert ready[0].strip() == b"ready"

            slowest = 0.0
            returned = []
            t0 = time.monotonic()
            for i in range(n):
                if i and i % 250 == 0:
                    # bursts of hundreds of events: a healthy reader keeps up
                    # with these even on a busy machine; the stalled one never does
                    time.sleep(0.01)
                t1 = time.monotonic()
                returned.append(srv.dispatch("%d %s" % (i, payload)))
                slowest = max(slowest, time.monotonic() - t1)
            total = time.monotonic() - t0
            assert total < 5.0, "5000 dispatches took %.2f s" % total
            assert slowest < 0.5, "one dispatch call took %.3f s" % slowest
            assert all(returned)  # the healthy client always listened

            proc.wait(15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        data = out.read_bytes()
        assert data.startswith(b"HTTP/1.1 200")
        body = data.split(b"\r\n\r\n", 1)[1]
        expected = b": connected\n\n" + b"".join(
            b"data: %d %s\n\n" % (i, payload.encode()) for i in range(n)
        )
        assert body == expected, "healthy client did not get all %d events in order" % n

        # the stalled client was dropped, and that was logged
        warnings = uhttpd_log.wait_for(
            lambda r: r.levelno == 30 and r.name == "uhttpd", timeout=3.0
        )
        assert warnings, "no WARNING on the uhttpd logger for the dropped client"
        # it sees its connection closed once it drains what was buffered
        assert stalled.conn.closed_by_peer(timeout=5.0)
    finally:
        stalled.close()

    # its place is free again
    time.sleep(0.1)
    with sse(srv, "/ev") as c:
        assert c.status == 200


def test_dispatch_is_thread_safe_while_clients_come_and_go(server):
    srv = server(events=2)
    srv.event("/ev")
    stop = threading.Event()
    errors = []

    def churn():
        while not stop.is_set():
            try:
                with SSEClient(srv, "/ev", timeout=2) as c:
                    c.head()
            except Exception as e:  # noqa: BLE001
                errors.append(e)

    t = threading.Thread(target=churn)
    t.start()
    try:
        with sse(srv, "/ev") as steady:
            assert steady.status == 200
            for i in range(300):
                r = capture(lambda: srv.dispatch("e%d" % i))
                assert r == ("ok", True)
            got = steady.events(300)
            assert [e["data"] for e in got] == ["e%d" % i for i in range(300)]
    finally:
        stop.set()
        t.join(10)
    assert not errors, errors[:3]
    # the server still answers normally
    with sse(srv, "/ev") as c:
        assert c.status == 200

