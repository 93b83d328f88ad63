"""Security of the WebREPL: the password check (every wrong answer refused
and slowed, the right one not), one session at a time (so guesses cannot be
made in parallel), no password in the logs or on the console, and the
warning for an open REPL."""

import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets

from conftest import HOST, LogCollector, terminal

PASSWORD = "Pw-Zq8-distinctive-4417"
REJECTED = "\r\nConcurrent WebREPL connection rejected\r\n"
TRIES = 60  # concurrent eager clients (a lost rejection showed in ~5% of tries)


@pytest.fixture
def repl(server):
    srv = server()
    srv.ws("/ws", PASSWORD)
    return srv


def attempt(srv, answer):
    """Answers the prompt with ``answer`` in one frame; returns (text after
    the answer, seconds from the answer to the verdict, closed by server)."""
    with terminal(srv, "/ws") as t:
        t.expect("Password: ")
        start = time.monotonic()
        t.send(answer + "\r")
        verdict = t.expect_re(r"Access denied\r\n|WebREPL connected\r\n>>> ", timeout=5)
        took = time.monotonic() - start
        if "denied" in verdict.group(0):
            rest = t.wait_closed(timeout=5)
            return t.text, took, rest == ""
        assert t.run("6*7") == "6*7\r\n42\r\n>>> "
        return t.text, took, False


def free_slot(srv, timeout=5.0):
    """Waits (bounded) until the previous session has been torn down and a
    new one gets the password prompt."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with terminal(srv, "/ws") as t:
            try:
                t.expect("Password: ", timeout=2)
                return
            except (AssertionError, websockets.ConnectionClosed):
                pass
        time.sleep(0.1)
    raise AssertionError("the REPL slot was not freed within %.0f s" % timeout)


WRONG = {
    "same-length": PASSWORD[:-1] + ("X" if PASSWORD[-1] != "X" else "Y"),
    "prefix": PASSWORD[:-1],
    "extended": PASSWORD + "7",
    "short-unrelated": "nope",
}


@pytest.mark.parametrize("kind", list(WRONG), ids=list(WRONG))
def test_wrong_password_is_refused_and_slowed(repl, kind):
    text, took, closed = attempt(repl, WRONG[kind])
    assert "Access denied" in text and "WebREPL connected" not in text
    assert closed, "the connection stayed open after a wrong password"
    assert took >= 0.9, "a wrong password was answered after %.2f s (expected >= 0.9 s)" % took
    assert took < 4, "the refusal took %.2f s" % took


def test_right_password_is_not_slowed(repl):
    text, took, closed = attempt(repl, PASSWORD)
    assert "WebREPL connected" in text
    assert took < 0.5, "the right password took %.2f s" % took


def test_right_password_after_a_wrong_one_is_not_slowed(repl):
    attempt(repl, WRONG["same-length"])
    free_slot(repl)
    text, took, _ = attempt(repl, PASSWORD)
    assert "WebREPL connected" in text
    assert took < 0.5, "the right password took %.2f s after a failed attempt" % took


def test_guesses_cannot_run_in_parallel(repl):
    """Four clients guess at once: each is turned away or waits its turn,
    so the refusals come at least ~1 s apart (one answer per second), and
    nobody gets in."""
    outcomes = []
    lock = threading.Lock()

    def guess(i):
        try:
            with terminal(repl, "/ws") as t:
                m = t.expect_re(r"Password: |Concurrent WebREPL connection rejected", timeout=6)
                if m.group(0) != "Password: ":
                    result = ("rejected", time.monotonic())
                else:
                    t.send("wrong-guess-%d\r" % i)
                    m = t.expect_re(r"Access denied|WebREPL connected", timeout=6)
                    result = (m.group(0), time.monotonic())
        except Exception as e:  # noqa: BLE001 - reported below
            result = (repr(e), time.monotonic())
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    kinds = sorted(k for k, _ in outcomes)
    assert len(outcomes) == 4 and set(kinds) <= {"Access denied", "rejected"}, outcomes
    denials = sorted(at for k, at in outcomes if k == "Access denied")
    assert denials, outcomes
    gaps = [b - a for a, b in zip(denials, denials[1:])]
    assert all(g >= 0.85 for g in gaps), "refusals %r s apart: guesses ran in parallel" % gaps


def test_one_session_at_a_time(repl):
    import __main__

    with terminal(repl, "/ws") as first:
        first.login(PASSWORD)
        with terminal(repl, "/ws") as second:
            got = second.wait_closed(timeout=5)
            assert got == REJECTED, got
            assert "Password" not in second.text
            # input sent after the rejection goes nowhere
            try:
                second.send(PASSWORD + "\r__import__('__main__').second_ran = 1\r")
            except websockets.ConnectionClosed:
                pass
        assert not hasattr(__main__, "second_ran")
        # the first session is unaffected
        assert first.run("7*6") == "7*6\r\n42\r\n>>> "
    free_slot(repl)


def ws_frame(payload):
    """A masked client text frame (payload < 126 bytes)."""
    mask = b"\x11\x22\x33\x44"
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload))


def test_rejection_reaches_a_client_that_types_at_once(repl):
    """Second clients that send input right after their handshake (before
    the rejection arrives) still read the rejection text and a close frame,
    every one of them: the server must not lose them by closing a socket
    with unread input (which resets the connection)."""
    import __main__

    handshake = (b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")

    def eager(i):
        s = socket.create_connection((HOST, repl.port()), timeout=8)
        got = b""
        try:
            s.sendall(handshake)
            s.sendall(ws_frame(b"__import__('__main__').eager_ran = 1\r"))
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            except ConnectionResetError:
                got += b"<reset>"
            except socket.timeout:
                got += b"<timeout>"
        finally:
            s.close()
        return i, got

    with terminal(repl, "/ws") as first:
        first.login(PASSWORD)
        # all at once: each waits (up to 1 s) for the place, then is turned away
        with ThreadPoolExecutor(TRIES) as pool:
            results = list(pool.map(eager, range(TRIES)))
        lost = [(i, got[-60:]) for i, got in results
                if not (got.startswith(b"HTTP/1.1 101 ") and b"rejected\r\n\x88" in got)]
        assert not lost, "%d of %d eager clients did not get the rejection and a close frame: %r" % (
            len(lost), TRIES, lost[:3])
        assert not hasattr(__main__, "eager_ran")
        assert first.run("7*6") == "7*6\r\n42\r\n>>> "


def test_password_never_logged_or_printed(server, uhttpd_log, capfd):
    wrong = "Wrong-Zq8-guess-9921"
    srv = server()
    srv.ws("/ws", PASSWORD)
    text, _, _ = attempt(srv, wrong)
    assert "Access denied" in text
    free_slot(srv)
    text, _, _ = attempt(srv, PASSWORD)
    assert "WebREPL connected" in text
    time.sleep(0.2)
    srv.close()
    records = list(uhttpd_log.records)
    assert records, "nothing logged at all during two logins"
    for rec in records:
        full = LogCollector.text(rec) + repr(rec.args) + repr(rec.__dict__.get("msg"))
        assert PASSWORD not in full, "the password is in a log record: %r" % full
        assert wrong not in full, "a guessed password is in a log record: %r" % full
    out, err = capfd.readouterr()
    for stream in (out, err):
        assert PASSWORD not in stream and wrong not in stream, stream[-2000:]


def test_open_repl_logs_a_warning(server, uhttpd_log):
    srv = server()
    srv.ws("/ws", None)
    warnings = uhttpd_log.wait_for(lambda r: r.levelno == logging.WARNING, timeout=2)
    assert warnings, "ws(url, None) logged no WARNING"
    rec = warnings[0]
    assert rec.name == "uhttpd" or rec.name.startswith("uhttpd."), rec.name
    msg = rec.getMessage()
    assert "REPL" in msg and "open" in msg.lower(), msg


def test_password_protected_repl_logs_no_open_warning(server, uhttpd_log):
    srv = server()
    srv.ws("/ws", PASSWORD)
    time.sleep(0.3)
    assert not uhttpd_log.matching(
        lambda r: r.levelno >= logging.WARNING and "REPL" in r.getMessage()
    )
