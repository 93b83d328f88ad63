"""Server.stats(): the server's counters for a dashboard (open connections,
event clients, the REPL session; requests, replies by status class and bytes
since start; the process's resident memory)."""

import socket
import sys

import pytest

import uhttpd
import webrepl_client as wc

from conftest import HOST, get, request, sse, wait_until

KEYS = {"connections", "event_clients", "repl_sessions", "requests", "status",
        "bytes_in", "bytes_out", "rss"}
CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"]


def exchange(srv, data):
    """Sends ``data`` on a connection of its own; everything the server sent
    back until it closed."""
    with socket.create_connection((HOST, srv.port()), timeout=5) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_a_fresh_server_has_counted_nothing_but_its_memory(server):
    stats = server().stats()
    assert set(stats) == KEYS
    assert sorted(stats["status"]) == CLASSES
    assert stats["status"] == dict.fromkeys(CLASSES, 0)
    assert {k: v for k, v in stats.items() if k not in ("status", "rss")} == dict.fromkeys(
        KEYS - {"status", "rss"}, 0)
    if sys.platform == "linux":
        assert stats["rss"] > 1 << 20
    else:
        assert stats["rss"] == 0


def test_requests_replies_and_bytes_are_counted(server, root):
    srv = server(root=str(root))
    srv.route("/a", uhttpd.GET, lambda req: req.write("hello"))
    srv.receive(prefix="/up")
    sent = [
        b"GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        b"GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        b"PUT /up/x.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
    ]
    received = [exchange(srv, data) for data in sent]
    assert [r[:12] for r in received] == [b"HTTP/1.1 200", b"HTTP/1.1 404", b"HTTP/1.1 201"]
    bytes_in, bytes_out = sum(map(len, sent)), sum(map(len, received))
    stats = wait_until(lambda: (s := srv.stats())["requests"] == 3 and s["bytes_out"] == bytes_out
                       and s["connections"] == 0 and s)
    assert stats, srv.stats()
    assert stats["status"] == {"1xx": 0, "2xx": 2, "3xx": 0, "4xx": 1, "5xx": 0}
    assert (stats["bytes_in"], stats["bytes_out"]) == (bytes_in, bytes_out)


def test_open_connections_event_clients_and_the_repl_session(server):
    srv = server(events=2)
    srv.event("/events")
    srv.ws("/", "pw")
    with sse(srv, "/events"):
        assert wait_until(lambda: srv.stats()["event_clients"] == 1)
        assert srv.stats()["connections"] == 1
        ws, status, _ = wc.connect(srv.port())
        assert status.startswith(b"HTTP/1.1 101"), status
        try:
            assert wait_until(lambda: srv.stats()["connections"] == 2)
            assert srv.stats()["repl_sessions"] == 0
            wc.login(ws, "pw")
            wc.read_text_until(ws, b"WebREPL connected")
            assert srv.stats()["repl_sessions"] == 1
        finally:
            ws.s.close()
        assert wait_until(lambda: srv.stats()["repl_sessions"] == 0)
    assert wait_until(lambda: srv.stats()["connections"] == 0)
    stats = srv.stats()
    assert stats["event_clients"] == 0
    assert stats["status"]["1xx"] == 1  # the WebSocket upgrade
    assert stats["status"]["2xx"] == 1  # the event stream, once it ended
    assert get(srv, "/nothing").status == 404
    assert wait_until(lambda: srv.stats()["status"]["4xx"] == 1)


def test_stats_raise_once_closed(server):
    srv = server()
    assert request(srv, "GET", "/").status == 404
    srv.close()
    with pytest.raises(RuntimeError, match="server is closed"):
        srv.stats()
