"""Security holes closed on the sec-sessions branch, each seen as a user (or
an attacker) sees it over a real socket: a client idle at the WebREPL
password prompt, AUTH_CUSTOM verdicts that are not statuses, a stalled
EventSource client, a doubled Authorization header, and WebREPL file
names with a NUL inside."""

import logging
import struct

import pytest
import websockets

import uhttpd
import webrepl_client as wc
from conftest import Recorder, SSEClient, get, raw, terminal

PASSWORD = "Pw-sessions-5521"
REJECTED = "\r\nConcurrent WebREPL connection rejected\r\n"
MAX_PASSWORD_PROMPTS = 8  # crates/uhttpd/src/limits.rs


# --------------------------------------------------------------------------
# WebREPL: only a logged-in session keeps others out


def repl_server(server, **kw):
    srv = server(**kw)
    srv.ws("/ws", PASSWORD)
    return srv


def test_a_client_idle_at_the_password_prompt_does_not_lock_others_out(server):
    srv = repl_server(server)
    with terminal(srv, "/ws") as idle:
        idle.expect("Password: ")  # and never answers
        with terminal(srv, "/ws") as user:
            user.login(PASSWORD)
            assert user.run("6*7") == "6*7\r\n42\r\n>>> "
            # the idle client answering now finds the session taken
            idle.type(PASSWORD + "\r")
            assert idle.wait_closed() == REJECTED
            assert "WebREPL connected" not in idle.text
            assert user.run("'still mine'") == "'still mine'\r\n'still mine'\r\n>>> "


def test_waiting_prompts_are_bounded_and_freed_when_a_client_leaves(server):
    srv = repl_server(server)
    idle = [terminal(srv, "/ws") for _ in range(MAX_PASSWORD_PROMPTS)]
    try:
        for t in idle:
            t.expect("Password: ")
        with terminal(srv, "/ws") as one_too_many:
            assert one_too_many.wait_closed() == REJECTED
        idle.pop().close()
        for _ in range(50):
            with terminal(srv, "/ws") as user:
                try:
                    user.login(PASSWORD)
                except (AssertionError, websockets.ConnectionClosed):
                    continue  # the left client's prompt is not freed yet
                assert user.run("1+2") == "1+2\r\n3\r\n>>> "
                break
        else:
            raise AssertionError("a freed prompt place was never given to a new client")
    finally:
        for t in idle:
            t.close()


# --------------------------------------------------------------------------
# AUTH_CUSTOM: an int that is no HTTP status never lets a request through


def custom_auth_server(server, verdict):
    srv = server(acl=uhttpd.AUTH_CUSTOM, auth=lambda req: verdict)
    handled = Recorder("handled")
    srv.route("/*", uhttpd.GET, handled)
    return srv, handled


NOT_STATUSES = [600, 999, 1000, 65536, 10**30, -1]


@pytest.mark.parametrize("verdict", NOT_STATUSES, ids=[str(v) for v in NOT_STATUSES])
def test_custom_auth_int_that_is_no_status_is_500_and_logged(server, uhttpd_log, verdict):
    srv, handled = custom_auth_server(server, verdict)
    r = get(srv, "/private")
    assert r.status == 500, r
    assert b"handled" not in r.body
    assert handled.calls == 0
    errors = uhttpd_log.wait_for(
        lambda rec: rec.levelno == logging.ERROR and repr(verdict) in rec.getMessage())
    assert errors, [rec.getMessage() for rec in uhttpd_log.records]
    assert errors[0].name == "uhttpd"


@pytest.mark.parametrize("verdict,status", [(1, 200), (399, 200), (400, 400), (599, 599), (0, 401)])
def test_custom_auth_int_edges(server, verdict, status):
    srv, handled = custom_auth_server(server, verdict)
    assert get(srv, "/x").status == status
    assert handled.calls == (1 if status == 200 else 0)


# --------------------------------------------------------------------------
# Events: a client that stops reading holds bounded memory


def rss_kib():
    """VmRSS of this process (the server runs in it), in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def test_a_stalled_event_client_is_dropped_before_it_holds_much_memory(server, uhttpd_log):
    srv = server(events=1)
    srv.event("/ev")
    mib = "x" * (1024 * 1024)
    stalled = SSEClient(srv, "/ev", rcvbuf=4096, timeout=5)
    try:
        assert stalled.head().status == 200
        assert stalled.read_bytes(13) == b": connected\n\n"
        before = rss_kib()
        delivered = [srv.dispatch(mib) for _ in range(200)]
        grown_mib = (rss_kib() - before) / 1024
        # it took a few, then was dropped: nobody listens any more
        assert delivered[0] is True
        assert delivered[-1] is False
        taken = delivered.index(False)
        assert taken <= 16, "the stalled client still got events after %d MiB" % taken
        assert grown_mib < 64, "200 MiB of events to a stalled client grew RSS by %.0f MiB" % grown_mib
        warnings = uhttpd_log.wait_for(
            lambda r: r.levelno == logging.WARNING and "event client dropped" in r.getMessage())
        assert warnings and "bytes" in warnings[0].getMessage(), warnings
        assert stalled.conn.closed_by_peer(timeout=5.0)
    finally:
        stalled.close()


# --------------------------------------------------------------------------
# Two Authorization headers: 400, whichever comes first


GOOD = "Basic YW5zd2VyOjQy"  # answer:42
BAD = "Basic eDp5"


@pytest.mark.parametrize("first,second", [(GOOD, BAD), (BAD, GOOD), (GOOD, GOOD)],
                         ids=["good-first", "bad-first", "both-good"])
def test_two_authorization_headers_are_400(server, first, second):
    srv = server(acl=uhttpd.AUTH_BASIC, auth=GOOD)
    handled = Recorder("secret")
    srv.route("/private", uhttpd.GET, handled)
    r = raw(srv, "GET /private HTTP/1.1\r\nHost: t\r\nAuthorization: %s\r\n"
                 "Authorization: %s\r\n\r\n" % (first, second))
    assert r.status == 400, r
    assert b"secret" not in r.body
    assert handled.calls == 0
    # one good header still gets in
    r = raw(srv, "GET /private HTTP/1.1\r\nHost: t\r\nAuthorization: %s\r\n\r\n" % GOOD)
    assert (r.status, r.body) == (200, b"secret")


# --------------------------------------------------------------------------
# WebREPL file transfer: a NUL inside a name is refused, not a cut


def wa_request(op, name, size=0):
    """A raw `WA` request; the name field is NUL-padded to 64 bytes by struct."""
    return struct.pack(wc.WEBREPL_REQ_S, b"WA", op, 0, 0, size, len(name), name)


def wb_code(ws):
    sig, code = struct.unpack("<2sH", ws.read(4))
    assert sig == b"WB"
    return code


def test_transfer_names_with_a_nul_inside_are_refused(server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_bytes(b"only for a.txt")
    srv = server(root=str(root))
    srv.ws("/", PASSWORD)
    ws, _, _ = wc.connect(srv.port())
    try:
        wc.login(ws, PASSWORD)
        for name in [b"a.txt\0x", b"a.txt\0\0\0.py", b"/a.txt\0../../etc/passwd"]:
            ws.write(wa_request(wc.WEBREPL_GET_FILE, name))
            assert wb_code(ws) != 0, "get %r was served" % name
        ws.write(wa_request(wc.WEBREPL_PUT_FILE, b"b.txt\0.py", 3))
        assert wb_code(ws) != 0, "put b.txt\\0.py was accepted"
        # the session is still usable, and names padded with NULs still work
        assert wc.get_ver(ws) == (0, 1, 0)
        ws.write(wa_request(wc.WEBREPL_GET_FILE, b"a.txt"))
        assert wb_code(ws) == 0
        ws.write(b"\0")
        (size,) = struct.unpack("<H", ws.read(2))
        assert ws.read(size) == b"only for a.txt"
    finally:
        ws.s.close()
    assert sorted(p.name for p in root.iterdir()) == ["a.txt"]
