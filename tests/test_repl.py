"""The WebREPL: Server.ws(url, pwd), with the ``websockets`` library (what the
browser client does) and with a faithful re-implementation of MicroPython's
``webrepl_cli.py`` (tests/webrepl_client.py)."""

import base64
import os
import signal
import struct
import subprocess
import sys
import threading
import time

import pytest
import websockets

import uhttpd
import webrepl_client as wc

from conftest import HOST, Recorder, get, terminal, tree, wait_until

WA = "<2sBBQLH64s"


def wa(op, name=b"", size=0):
    if isinstance(name, str):
        name = name.encode("utf-8")
    return struct.pack(WA, b"WA", op, 0, 0, size, len(name), name)


@pytest.fixture
def repl(server, root):
    """A server with the REPL at /ws (password 'pw') and root tmp/root."""
    srv = server(root=str(root))
    srv.ws("/ws", "pw")
    return srv


@pytest.fixture
def cli_repl(server, root):
    """The REPL at '/', where webrepl_cli.py looks for it."""
    srv = server(root=str(root))
    srv.ws("/", "pw")
    return srv


def cli_login(srv, pwd="pw"):
    ws, status, headers = wc.connect(srv.port())
    wc.login(ws, pwd)
    return ws


# --------------------------------------------------------------------------
# registration


def test_ws_once_per_process(server):
    a = server()
    a.ws("/ws", "pw")
    b = server()
    with pytest.raises(RuntimeError):
        b.ws("/other", "pw")
    with pytest.raises(RuntimeError):
        a.ws("/again", "pw")
    a.close()
    # after the first server is closed, ws() works again
    b.ws("/ws", "pw2")
    with terminal(b, "/ws") as t:
        t.login("pw2")
        assert t.run("40+2") == "40+2\r\n42\r\n>>> "


def test_a_refused_ws_does_not_keep_the_process_repl(server):
    a = server()
    with pytest.raises(ValueError):
        a.ws("no-slash", "pw")
    b = server()
    b.ws("/ws", "pw")
    with terminal(b, "/ws") as t:
        t.login()
        assert t.run("2+2") == "2+2\r\n4\r\n>>> "


def test_ws_works_again_after_the_first_server_is_garbage_collected():
    import gc

    a = uhttpd.Server(port=0, host=HOST)
    a.ws("/ws", "pw")
    del a
    gc.collect()
    b = uhttpd.Server(port=0, host=HOST)
    try:
        b.ws("/ws", "pw")
        with terminal(b, "/ws") as t:
            t.login()
            assert t.run("1") == "1\r\n1\r\n>>> "
    finally:
        b.close()


def test_ws_takes_one_route_slot(server):
    srv = server(routes=3)  # OPTIONS 1 + ws 1 + one verb
    srv.ws("/ws", "pw")
    srv.route("/a", uhttpd.GET, Recorder("a"))
    with pytest.raises(ValueError):
        srv.route("/b", uhttpd.GET, Recorder("b"))
    assert get(srv, "/a").body == b"a"


def test_open_repl_logs_a_warning_and_takes_any_answer(server, uhttpd_log):
    srv = server()
    srv.ws("/ws", None)
    warnings = uhttpd_log.wait_for(lambda r: r.levelno == 30, timeout=2.0)
    assert warnings, "ws(url, None) logged no WARNING"
    with terminal(srv, "/ws") as t:
        t.expect("Password: ")
        t.type("anything at all\r")
        t.expect("\r\nWebREPL connected\r\n>>> ")
        assert t.run("2**10") == "2**10\r\n1024\r\n>>> "


# --------------------------------------------------------------------------
# login (websockets)


def test_login_one_char_per_frame_like_the_browser(repl):
    with terminal(repl, "/ws") as t:
        assert t.expect("Password: ") == "Password: "
        t.type("pw\r")
        # the password is not echoed
        assert t.expect(">>> ") == "\r\nWebREPL connected\r\n>>> "


def test_login_whole_password_in_one_text_frame(repl):
    with terminal(repl, "/ws") as t:
        t.expect("Password: ")
        t.send("pw\r")
        assert t.expect(">>> ") == "\r\nWebREPL connected\r\n>>> "


def test_login_in_a_binary_frame(repl):
    with terminal(repl, "/ws") as t:
        t.expect("Password: ")
        t.conn.send(b"pw\r")
        assert t.expect(">>> ") == "\r\nWebREPL connected\r\n>>> "


def test_wrong_password_is_denied_and_closed(repl):
    with terminal(repl, "/ws") as t:
        t.expect("Password: ")
        t0 = time.monotonic()
        t.type("wrong\r")
        rest = t.wait_closed(timeout=5)
        elapsed = time.monotonic() - t0
    assert rest == "\r\nAccess denied\r\n"
    assert 0.5 <= elapsed < 4, "denial took %.2f s (expected about 1 s)" % elapsed
    # the REPL is free for the next (right) login
    with terminal(repl, "/ws") as t:
        t.login("pw")


def test_text_typed_instead_of_a_password_is_not_run(repl):
    import __main__

    with terminal(repl, "/ws") as t:
        t.expect("Password: ")
        t.send("__import__('__main__').pwned = 1\r")
        assert t.wait_closed() == "\r\nAccess denied\r\n"
    assert not hasattr(__main__, "pwned")


def test_basic_auth_covers_the_handshake(server):
    creds = "Basic " + base64.b64encode(b"answer:42").decode()
    srv = server(acl=uhttpd.AUTH_BASIC, auth=creds.encode())
    srv.ws("/ws", "pw")
    with pytest.raises(websockets.InvalidStatus) as info:
        terminal(srv, "/ws")
    assert info.value.response.status_code == 401
    with terminal(srv, "/ws", additional_headers={"Authorization": creds}) as t:
        t.login("pw")


# --------------------------------------------------------------------------
# one session at a time


def test_second_session_is_rejected_while_one_is_open(repl):
    with terminal(repl, "/ws") as first:
        first.login()
        with terminal(repl, "/ws") as second:
            assert second.wait_closed() == "\r\nConcurrent WebREPL connection rejected\r\n"
        # the first session is unaffected
        assert first.run("3*3") == "3*3\r\n9\r\n>>> "
        # it ends (Ctrl-D); then the next one works
        first.type("\x04")
        first.wait_closed()
    with terminal(repl, "/ws") as third:
        third.login()
        assert third.run("1+1") == "1+1\r\n2\r\n>>> "


def test_back_to_back_sessions_with_websockets(repl):
    # a client that closes (close handshake done) and reconnects at once
    rejected = []
    for i in range(20):
        with terminal(repl, "/ws") as t:
            try:
                t.login()
                assert t.run("%d" % i) == "%d\r\n%d\r\n>>> " % (i, i)
            except (AssertionError, websockets.ConnectionClosed):
                rejected.append((i, t.text))
    assert not rejected, "%d of 20 back-to-back sessions refused, first: %r" % (
        len(rejected),
        rejected[0],
    )


def test_back_to_back_webrepl_cli_runs(cli_repl):
    # `for f in *.py; do webrepl_cli.py $f host:/; done`: each run connects,
    # logs in, transfers and closes its socket; the next run follows at once
    rejected = []
    for i in range(20):
        ws, _, _ = wc.connect(cli_repl.port())
        try:
            wc.login(ws, "pw")
            assert wc.get_ver(ws) == (0, 1, 0)
        except AssertionError:
            rejected.append(i)
        finally:
            ws.s.close()
    assert not rejected, "%d of 20 back-to-back webrepl_cli runs were refused" % len(rejected)


def test_the_first_to_log_in_gets_the_session(repl):
    # a client at the prompt holds no place: a second one gets a prompt too,
    # and whichever logs in first gets the session
    with terminal(repl, "/ws") as first:
        first.expect("Password: ")  # not logged in yet
        with terminal(repl, "/ws") as second:
            second.expect("Password: ")
            first.type("pw\r")
            first.expect("WebREPL connected\r\n>>> ")
            second.type("pw\r")
            assert "Concurrent WebREPL connection rejected" in second.wait_closed()
        assert first.run("2*2") == "2*2\r\n4\r\n>>> "


def test_ctrl_d_on_an_empty_line_ends_the_session(repl):
    with terminal(repl, "/ws") as t:
        t.login()
        t.type("\x04")
        t.wait_closed(timeout=5)
    # and a new session can start at once
    with terminal(repl, "/ws") as t:
        t.login()
        assert t.run("'again'") == "'again'\r\n'again'\r\n>>> "


# --------------------------------------------------------------------------
# the terminal


@pytest.fixture
def term(repl):
    """A connected terminal; each test logs in itself (inside the test body,
    so that pytest's per-phase capture does not replace the session's
    sys.stdout tee after login)."""
    with terminal(repl, "/ws") as t:
        yield t


def test_echo_and_expression_results(term):
    term.login()
    assert term.run("1+1") == "1+1\r\n2\r\n>>> "
    assert term.run("'a' + 'b'") == "'a' + 'b'\r\n'ab'\r\n>>> "
    assert term.run("x_repl = 5") == "x_repl = 5\r\n>>> "
    assert term.run("x_repl * 2") == "x_repl * 2\r\n10\r\n>>> "
    assert term.run("None") == "None\r\n>>> "
    assert term.run("") == "\r\n>>> "


def test_typing_one_char_per_frame(term):
    term.login()
    term.type("11*11\r")
    assert term.expect(">>> ") == "11*11\r\n121\r\n>>> "


def test_fast_keystrokes_do_not_wedge_the_session(term):
    # 1000 keystrokes, one text frame each, sent without waiting for the
    # echo (a fast typist, a key held down, or a paste into webrepl_cli's
    # terminal mode, which sends what it reads from stdin byte by byte)
    term.login()
    term.type("len('" + "a" * 1000 + "')\r")
    out = term.expect(">>> ", timeout=10)
    assert out.endswith("')\r\n1000\r\n>>> ")
    assert term.run("'still'") == "'still'\r\n'still'\r\n>>> "


def test_a_flooded_session_does_not_lock_the_repl_out(repl):
    with terminal(repl, "/ws") as t:
        t.login()
        t.type("len('" + "b" * 1000 + "')\r")
        time.sleep(0.5)
    # the client went away: within a few seconds the REPL takes a new session
    deadline = time.monotonic() + 5
    rejected = None
    while True:
        with terminal(repl, "/ws") as t:
            try:
                t.login()
            except (AssertionError, websockets.ConnectionClosed):
                rejected = t.text
            else:
                assert t.run("'new'") == "'new'\r\n'new'\r\n>>> "
                break
        assert time.monotonic() < deadline, "REPL still refuses new sessions: %r" % rejected
        time.sleep(0.5)


def test_whole_line_in_one_frame(term):
    term.login()
    term.send("7*6\r")
    assert term.expect(">>> ") == "7*6\r\n42\r\n>>> "


def test_output_line_ends_are_crlf(term):
    term.login()
    out = term.run("print('a\\nb\\nc')")
    assert out == "print('a\\nb\\nc')\r\na\r\nb\r\nc\r\n>>> "
    assert "\n" not in out.replace("\r\n", "")


def test_continuation_with_auto_indent(term):
    term.login()
    term.type("for i in range(3):\r")
    assert term.expect("... ") == "for i in range(3):\r\n... "
    # the auto-indent is already typed
    assert term.expect("    ") == "    "
    term.type("print(i * 10)\r")
    assert term.expect("...     ") == "print(i * 10)\r\n...     "
    # Enter on a line of only the auto-indent ends the block
    term.type("\r")
    assert term.expect(">>> ") == "\r\n0\r\n10\r\n20\r\n>>> "


def test_nested_blocks_indent_deeper(term):
    term.login()
    term.type("def nested_f(n):\r")
    term.expect("\r\n...     ")
    term.type("if n:\r")
    term.expect("\r\n...         ")
    term.type("return 'yes'\r")
    term.expect("\r\n...         ")
    # backspace over the auto-indent to dedent
    term.type("\x7f\x7f\x7f\x7freturn 'no'\r")
    term.expect("\r\n...     ")
    term.type("\r")
    term.expect(">>> ")
    assert term.run("nested_f(1), nested_f(0)").endswith("\r\n('yes', 'no')\r\n>>> ")


def test_empty_line_ends_a_block_without_auto_indent(term):
    term.login()
    term.type("while False: pass\r")
    assert term.expect("... ") == "while False: pass\r\n... "
    term.type("\r")
    assert term.expect(">>> ") == "\r\n>>> "


def test_backspace(term):
    term.login()
    out = term.run("12\x7f3")
    assert out.startswith("12")
    assert out.endswith("\r\n13\r\n>>> ")
    out = term.run("'abc'\x7f\x7f\x7fxy'")
    assert out.endswith("\r\n'axy'\r\n>>> ")


def test_left_and_right_arrows(term):
    term.login()
    # 'ac' <- <- b  ->  'abc'
    out = term.run("'ac'\x1b[D\x1b[Db")
    assert out.endswith("\r\n'abc'\r\n>>> ")
    # left twice, right once: the cursor is before the closing quote
    out = term.run("'ab'\x1b[D\x1b[D\x1b[CX")
    assert out.endswith("\r\n'abX'\r\n>>> ")


def test_home_and_end(term):
    term.login()
    # +1, Home, 41, End, 0  ->  41+10
    out = term.run("+1\x1b[H41\x1b[F0")
    assert out.endswith("\r\n51\r\n>>> ")


def test_history_up(term):
    term.login()
    term.run("6*7")
    out = term.run("\x1b[A")
    assert out.endswith("6*7\r\n42\r\n>>> ")
    term.run("'second'")
    out = term.run("\x1b[A\x1b[A")
    assert out.endswith("\r\n42\r\n>>> ")


def test_ctrl_c_cancels_the_line(term):
    term.login()
    term.type("1+")
    term.expect("1+")
    term.type("\x03")
    out = term.expect(">>> ")
    assert out.endswith("\r\n>>> ")
    # the cancelled text is gone: 2 alone is 2, not 1+2
    assert term.run("2") == "2\r\n2\r\n>>> "


def test_ctrl_c_cancels_a_block(term):
    term.login()
    term.type("for i in range(3):\r")
    term.expect("...     ")
    term.type("print('never')\x03")
    term.expect(">>> ")
    assert term.run("'ok'") == "'ok'\r\n'ok'\r\n>>> "
    assert "never\r\n" not in term.text.replace("print('never')", "")


def test_ctrl_c_interrupts_running_code(term):
    term.login()
    term.type("while True: pass\r")
    term.expect("... ")
    term.type("\r")
    term.expect("\r\n")
    time.sleep(0.3)  # it is running now
    t0 = time.monotonic()
    term.type("\x03")
    out = term.expect(">>> ", timeout=5)
    assert time.monotonic() - t0 < 3
    assert "Traceback (most recent call last):" in out
    assert out.endswith("KeyboardInterrupt\r\n>>> ")
    assert term.run("1+1") == "1+1\r\n2\r\n>>> "


def test_ctrl_c_interrupts_a_function_call(term):
    term.login()
    term.type("def spin_f():\r")
    term.expect("...     ")
    term.type("n = 0\r")
    term.expect("...     ")
    term.type("while True: n += 1\r")
    term.expect("...     ")
    term.type("\r")
    term.expect(">>> ")
    term.type("spin_f()\r")
    term.expect("spin_f()\r\n")
    time.sleep(0.3)
    term.type("\x03")
    out = term.expect(">>> ", timeout=5)
    assert "spin_f" in out
    assert out.endswith("KeyboardInterrupt\r\n>>> ")


def test_paste_mode(term):
    term.login()
    term.type("\x05")
    assert term.expect("=== ") == "\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== "
    term.type("pv = 20\r")
    assert term.expect("=== ") == "pv = 20\r\n=== "
    term.type("if pv:\r")
    assert term.expect("=== ") == "if pv:\r\n=== "
    # no auto-indent in paste mode: the indentation is typed
    term.type("    print('pasted', pv + 1)\r")
    assert term.expect("=== ") == "    print('pasted', pv + 1)\r\n=== "
    term.type("\x04")
    out = term.expect(">>> ")
    assert out.endswith("pasted 21\r\n>>> ")


def test_paste_mode_in_one_frame(term):
    term.login()
    term.send("\x05a_p = 1\rb_p = 2\rprint(a_p + b_p)\r\x04")
    out = term.expect(">>> ")
    assert out.endswith("\r\n3\r\n>>> ")


def test_paste_mode_ctrl_c_cancels(term):
    term.login()
    term.type("\x05")
    term.expect("=== ")
    term.type("print('not run')\r")
    term.expect("=== ")
    term.type("\x03")
    term.expect(">>> ")
    assert term.run("'after'") == "'after'\r\n'after'\r\n>>> "
    assert "not run\r\n" not in term.text.replace("print('not run')", "")


def test_exception_traceback(term):
    term.login()
    out = term.run("1/0")
    assert out == (
        "1/0\r\nTraceback (most recent call last):\r\n"
        '  File "<webrepl>", line 1, in <module>\r\n'
        "ZeroDivisionError: division by zero\r\n>>> "
    )
    term.type("def boom_f():\r")
    term.expect("...     ")
    term.type("raise ValueError('boom')\r")
    term.expect("...     ")
    term.type("\r")
    term.expect(">>> ")
    out = term.run("boom_f()")
    assert "Traceback (most recent call last):\r\n" in out
    assert "in boom_f" in out
    assert out.endswith("ValueError: boom\r\n>>> ")


def test_syntax_error(term):
    term.login()
    out = term.run("1 +* 2")
    assert "SyntaxError" in out
    assert out.endswith("\r\n>>> ")
    assert term.run("1") == "1\r\n1\r\n>>> "


def test_system_exit_does_not_kill_the_server(term, repl):
    term.login()
    out = term.run("raise SystemExit")
    assert out.endswith(">>> ")
    assert term.run("'alive'") == "'alive'\r\n'alive'\r\n>>> "


def test_code_runs_in_main_namespace(term):
    import __main__

    term.login()
    __main__.repl_probe = 41
    try:
        assert term.run("repl_probe + 1") == "repl_probe + 1\r\n42\r\n>>> "
        term.run("repl_made = 'from the repl'")
        assert __main__.repl_made == "from the repl"
    finally:
        for name in ("repl_probe", "repl_made"):
            __main__.__dict__.pop(name, None)


def test_code_runs_on_a_server_thread(term):
    term.login()
    out = term.run("__import__('threading').current_thread() is __import__('threading').main_thread()")
    assert out.endswith("\r\nFalse\r\n>>> ")


def test_session_sees_what_the_program_prints(term):
    term.login()
    t = threading.Thread(target=lambda: print("printed by the program", flush=True))
    t.start()
    t.join(5)
    term.expect("printed by the program\r\n")
    t = threading.Thread(target=lambda: sys.stderr.write("to stderr\n"))
    t.start()
    t.join(5)
    term.expect("to stderr\r\n")
    assert term.run("'still fine'").endswith("'still fine'\r\n>>> ")


def test_long_output_arrives_whole(term):
    term.login()
    out = term.run("print('y' * 200000)", timeout=10)
    assert out == "print('y' * 200000)\r\n" + "y" * 200000 + "\r\n>>> "


def test_unicode_in_and_out(term):
    term.login()
    out = term.run("'żółw' + '✓'")
    assert out == "'żółw' + '✓'\r\n'żółw✓'\r\n>>> "


# --------------------------------------------------------------------------
# the REPL url and plain requests


def test_plain_get_falls_through_to_a_later_route(server):
    srv = server()
    srv.ws("/ws", "pw")
    rec = Recorder("plain page")
    srv.route("/ws", uhttpd.GET, rec)
    r = get(srv, "/ws")
    assert (r.status, r.body) == (200, b"plain page")
    assert rec.calls == 1
    # while the upgrade still reaches the REPL
    with terminal(srv, "/ws") as t:
        t.login()
    assert rec.calls == 1


def test_plain_get_without_a_later_route_is_404(server):
    srv = server()
    srv.ws("/ws", "pw")
    assert get(srv, "/ws").status == 404


def test_repl_at_root_and_files_served_after_it(server, root):
    (root / "hello.txt").write_bytes(b"hello file")
    srv = server(root=str(root))
    srv.ws("/", "pw")
    srv.route("/", uhttpd.GET, Recorder("index"))
    srv.serve()
    assert get(srv, "/").body == b"index"
    assert get(srv, "/hello.txt").body == b"hello file"
    ws = cli_login(srv)
    assert wc.get_ver(ws) == (0, 1, 0)
    ws.s.close()


# --------------------------------------------------------------------------
# webrepl_cli.py (tests/webrepl_client.py)


def test_webrepl_cli_handshake(cli_repl):
    ws, status, headers = wc.connect(cli_repl.port())
    try:
        assert status.startswith(b"HTTP/1.1 101")
        assert headers["upgrade"].lower() == "websocket"
        assert "upgrade" in headers["connection"].lower()
        assert headers["sec-websocket-accept"] == wc.EXPECTED_ACCEPT
        wc.login(ws, "pw")
        assert wc.get_ver(ws) == (0, 1, 0)
        # every frame the server sent was unmasked (the reader checks) and small
        assert all(size < 65536 for _, size in ws.frames)
    finally:
        ws.s.close()


def test_webrepl_cli_wrong_password(cli_repl):
    ws, _, _ = wc.connect(cli_repl.port())
    try:
        wc.login(ws, "nope")
        text, _ = wc.read_until_closed(ws)
        assert text == b"\r\nAccess denied\r\n"
    finally:
        ws.s.close()


def test_webrepl_cli_terminal_in_unmasked_text_frames(cli_repl):
    ws = cli_login(cli_repl)
    try:
        assert wc.read_text_until(ws, b">>> ").endswith(b"\r\nWebREPL connected\r\n>>> ")
        wc.send_text(ws, "1+1\r")
        assert wc.read_text_until(ws, b">>> ") == b"1+1\r\n2\r\n>>> "
        # one char per frame as do_repl sends keystrokes
        for ch in "3*4\r":
            wc.send_text(ws, ch)
        assert wc.read_text_until(ws, b">>> ") == b"3*4\r\n12\r\n>>> "
    finally:
        ws.s.close()


def test_webrepl_cli_terminal_paste_byte_by_byte(cli_repl):
    # do_repl forwards stdin one byte per text frame: a pasted line arrives
    # as hundreds of tiny frames
    ws = cli_login(cli_repl)
    try:
        wc.read_text_until(ws, b">>> ")
        for ch in "sum([" + "1," * 400 + "1])\r":
            wc.send_text(ws, ch)
        out = wc.read_text_until(ws, b"\r\n>>> ")
        assert out.endswith(b"])\r\n401\r\n>>> ")
    finally:
        ws.s.close()


def test_webrepl_cli_do_cmd(cli_repl):
    ws = cli_login(cli_repl)
    try:
        assert wc.get_ver(ws) == (0, 1, 0)
        assert wc.do_cmd(ws, "print(6*7)") == "42"
        assert wc.do_cmd(ws, "print('a'); print('b')") == "a\nb"
    finally:
        ws.s.close()


def test_webrepl_cli_long_output_frames_are_short(cli_repl):
    ws = cli_login(cli_repl)
    try:
        wc.read_text_until(ws, b">>> ")
        wc.send_text(ws, "print('z' * 300000)\r")
        out = wc.read_text_until(ws, b"\r\n>>> ", limit=1 << 21)
        assert out.count(b"z") == 300000 + 1  # the echo has one z
        assert all(size < 65536 for _, size in ws.frames)
    finally:
        ws.s.close()


def test_webrepl_cli_put_and_get_200k(cli_repl, root, tmp_path):
    data = os.urandom(200 * 1024)
    src = tmp_path / "local.bin"
    src.write_bytes(data)
    ws = cli_login(cli_repl)
    try:
        assert wc.get_ver(ws) == (0, 1, 0)
        wc.put_file(ws, str(src), "/big.bin")
        assert (root / "big.bin").read_bytes() == data
        ws.frames.clear()
        dst = tmp_path / "back.bin"
        wc.get_file(ws, str(dst), "/big.bin")
        assert dst.read_bytes() == data
        assert ws.frames, "no frames recorded"
        assert max(size for _, size in ws.frames) < 65536
        # the session is still usable afterwards
        assert wc.get_ver(ws) == (0, 1, 0)
        assert wc.do_cmd(ws, "print(len(open(%r, 'rb').read()))" % str(root / "big.bin")) == str(
            len(data)
        )
    finally:
        ws.s.close()
    assert tree(root) == ["big.bin"]


def test_webrepl_cli_relative_names_resolve_against_root(cli_repl, root, tmp_path):
    src = tmp_path / "small.txt"
    src.write_bytes(b"relative\n")
    ws = cli_login(cli_repl)
    try:
        wc.put_file(ws, str(src), "rel.txt")
        assert (root / "rel.txt").read_bytes() == b"relative\n"
        dst = tmp_path / "rel.back"
        wc.get_file(ws, str(dst), "rel.txt")
        assert dst.read_bytes() == b"relative\n"
        wc.get_file(ws, str(dst), "/rel.txt")
        assert dst.read_bytes() == b"relative\n"
    finally:
        ws.s.close()


def test_webrepl_cli_put_overwrites_and_empty_file(cli_repl, root, tmp_path):
    (root / "f.txt").write_bytes(b"old content")
    src = tmp_path / "new.txt"
    src.write_bytes(b"new")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    ws = cli_login(cli_repl)
    try:
        wc.put_file(ws, str(src), "/f.txt")
        assert (root / "f.txt").read_bytes() == b"new"
        wc.put_file(ws, str(empty), "/empty.txt")
        assert (root / "empty.txt").read_bytes() == b""
        dst = tmp_path / "empty.back"
        wc.get_file(ws, str(dst), "/empty.txt")
        assert dst.read_bytes() == b""
    finally:
        ws.s.close()
    assert tree(root) == ["empty.txt", "f.txt"]


def test_put_lands_atomically(cli_repl, root):
    (root / "f.txt").write_bytes(b"old")
    ws = cli_login(cli_repl)
    try:
        new = b"N" * 5000
        ws.write(wa(1, "/f.txt", len(new)))
        assert wc.read_resp(ws) == 0
        ws.write(new[:2500])
        time.sleep(0.2)
        # half sent: the file is still the old one
        assert (root / "f.txt").read_bytes() == b"old"
        ws.write(new[2500:])
        assert wc.read_resp(ws) == 0
        assert (root / "f.txt").read_bytes() == new
    finally:
        ws.s.close()
    assert tree(root) == ["f.txt"]


def test_cut_off_put_leaves_the_old_file(cli_repl, root):
    (root / "f.txt").write_bytes(b"old")
    ws = cli_login(cli_repl)
    ws.write(wa(1, "/f.txt", 10000))
    assert wc.read_resp(ws) == 0
    ws.write(b"x" * 3000)
    time.sleep(0.1)
    ws.s.close()
    # the session ended; nothing half-written remains
    assert wait_until(lambda: tree(root) == ["f.txt"], timeout=3.0), tree(root)
    assert (root / "f.txt").read_bytes() == b"old"
    # and the REPL accepts a new session (retrying: an immediate reconnect
    # is test_back_to_back_webrepl_cli_runs' subject, not this test's)
    deadline = time.monotonic() + 3
    while True:
        ws = cli_login(cli_repl)
        try:
            assert wc.get_ver(ws) == (0, 1, 0)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        finally:
            ws.s.close()


def test_put_request_split_over_many_frames(cli_repl, root):
    ws = cli_login(cli_repl)
    try:
        req = wa(1, "/split.txt", 3)
        for i in range(0, len(req), 7):
            ws.write(req[i : i + 7])
        assert wc.read_resp(ws) == 0
        ws.write(b"a")
        ws.write(b"bc")
        assert wc.read_resp(ws) == 0
    finally:
        ws.s.close()
    assert (root / "split.txt").read_bytes() == b"abc"


def test_get_missing_file_is_refused(cli_repl, root):
    ws = cli_login(cli_repl)
    try:
        ws.write(wa(2, "/missing.txt"))
        sig_code = ws.read(4)
        assert sig_code[:2] == b"WB"
        assert struct.unpack("<H", sig_code[2:])[0] != 0
        (root / "adir").mkdir()
        ws.write(wa(2, "/adir"))
        sig_code = ws.read(4)
        assert sig_code[:2] == b"WB" and sig_code[2:] != b"\x00\x00"
        # still usable
        assert wc.get_ver(ws) == (0, 1, 0)
    finally:
        ws.s.close()


HOSTILE = ["../escape.txt", "../../escape.txt", "/../escape.txt", "a/../../escape.txt", "..",
           "link/escape.txt"]


def test_hostile_names_are_refused(cli_repl, root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    (tmp_path / "secret.txt").write_bytes(b"secret")
    os.symlink(str(outside), str(root / "link"))
    before_outside = tree(tmp_path)
    ws = cli_login(cli_repl)
    try:
        for name in HOSTILE:
            ws.write(wa(1, name, 5))
            resp = ws.read(4)
            assert resp[:2] == b"WB", name
            assert resp[2:] != b"\x00\x00", "put %r was accepted" % name
        for name in ["../secret.txt", "/../secret.txt", "link/secret.txt", "../outside/secret.txt"]:
            ws.write(wa(2, name))
            resp = ws.read(4)
            assert resp[:2] == b"WB", name
            assert resp[2:] != b"\x00\x00", "get %r was accepted" % name
        # the session is still usable
        assert wc.get_ver(ws) == (0, 1, 0)
    finally:
        ws.s.close()
    assert tree(tmp_path) == before_outside
    assert (outside / "secret.txt").read_bytes() == b"secret"


def test_a_fifo_is_refused_and_the_session_goes_on(cli_repl, root):
    # A blocking open would wait for a writer and hang the session.
    os.mkfifo(root / "pipe")
    ws = cli_login(cli_repl)
    try:
        t0 = time.monotonic()
        ws.write(wa(2, "pipe"))
        resp = ws.read(4)
        assert resp[:2] == b"WB" and resp[2:] != b"\x00\x00"
        assert time.monotonic() - t0 < 2
        assert wc.get_ver(ws) == (0, 1, 0)
    finally:
        ws.s.close()


def test_file_acl_applies(cli_repl, root, tmp_path):
    (root / "ro.txt").write_bytes(b"read only")
    (root / "wo.txt").write_bytes(b"write only")
    (root / "no.txt").write_bytes(b"none")
    seen = []

    def acl(path):
        seen.append(path)
        if path.endswith("ro.txt"):
            return uhttpd.ACL_RO
        if path.endswith("wo.txt"):
            return uhttpd.ACL_WO
        if path.endswith("no.txt"):
            return 403
        return uhttpd.ACL_RW

    cli_repl.file_acl(acl)
    src = tmp_path / "up.txt"
    src.write_bytes(b"uploaded")
    dst = tmp_path / "down.txt"

    def refused(op, name, size=0):
        ws.write(wa(op, name, size))
        resp = ws.read(4)
        return resp[:2] == b"WB" and resp[2:] != b"\x00\x00"

    ws = cli_login(cli_repl)
    try:
        # ACL_RO: get works, put refused
        wc.get_file(ws, str(dst), "/ro.txt")
        assert dst.read_bytes() == b"read only"
        assert refused(1, "/ro.txt", 3)
        # ACL_WO: put works, get refused
        wc.put_file(ws, str(src), "/wo.txt")
        assert (root / "wo.txt").read_bytes() == b"uploaded"
        assert refused(2, "/wo.txt")
        # an error code: both refused
        assert refused(1, "/no.txt", 3)
        assert refused(2, "/no.txt")
        # ACL_RW
        wc.put_file(ws, str(src), "/rw.txt")
        wc.get_file(ws, str(dst), "/rw.txt")
        assert dst.read_bytes() == b"uploaded"
    finally:
        ws.s.close()
    assert (root / "ro.txt").read_bytes() == b"read only"
    assert (root / "no.txt").read_bytes() == b"none"
    assert "/ro.txt" in seen and "/wo.txt" in seen


# --------------------------------------------------------------------------
# file transfer with the websockets library (masked binary frames)


def test_transfer_with_websockets(repl, root):
    data = os.urandom(100 * 1024 + 7)
    with terminal(repl, "/ws") as t:
        t.login()
        req = wa(3)
        t.conn.send(req[:40])
        t.conn.send(req[40:])
        assert t.conn.recv(timeout=5) == b"\x00\x01\x00"

        t.conn.send(wa(1, "ws.bin", len(data)))
        assert t.conn.recv(timeout=5) == b"WB\x00\x00"
        for i in range(0, len(data), 4096):
            t.conn.send(data[i : i + 4096])
        assert t.conn.recv(timeout=5) == b"WB\x00\x00"
        assert (root / "ws.bin").read_bytes() == data

        t.conn.send(wa(2, "/ws.bin"))
        assert t.conn.recv(timeout=5) == b"WB\x00\x00"
        got = b""
        while True:
            t.conn.send(b"\x00")
            frame = t.conn.recv(timeout=5)
            assert isinstance(frame, bytes)
            assert len(frame) < 65536
            (n,) = struct.unpack("<H", frame[:2])
            assert len(frame) == 2 + n
            if n == 0:
                break
            got += frame[2:]
        assert t.conn.recv(timeout=5) == b"WB\x00\x00"
        assert got == data
        # the terminal still works after a transfer
        assert t.run("'t'") == "'t'\r\n't'\r\n>>> "


# --------------------------------------------------------------------------
# a live program


LIVE_PROGRAM = r"""
import os, sys, time, uhttpd

srv = uhttpd.Server(port=0, host="127.0.0.1", root=os.environ["UHTTPD_ROOT"])
srv.ws("/ws", "pw")


def status(req):
    req.write("%d %d %d" % (counter, len(ticks), step))


srv.route("/status", uhttpd.GET, status)

counter = 0
ticks = []
step = 1
message = "tick"
running = True
print(srv.port(), flush=True)
i = 0
while running:
    counter += step
    ticks.append(time.monotonic())
    i += 1
    if i % 4 == 0:
        print("%s %d" % (message, counter), flush=True)
    time.sleep(0.05)
print("main loop ended", flush=True)
"""


def test_live_program(tmp_path):
    env = dict(os.environ, UHTTPD_ROOT=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-c", LIVE_PROGRAM],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    lines = []
    lock = threading.Lock()

    def pump():
        for raw in proc.stdout:
            with lock:
                lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        assert wait_until(lambda: lines, timeout=15), "the program printed no port"
        port = int(lines[0])

        def status():
            return tuple(int(x) for x in get(port, "/status").body.split())

        with terminal(port, "/ws") as t:
            t.login()
            # the main loop keeps running: counter goes up between two reads
            t.send("print('C=%d;' % counter)\r")
            a = int(t.expect_re(r"C=(\d+);").group(1))
            time.sleep(0.4)
            t.send("print('C=%d;' % counter)\r")
            b = int(t.expect_re(r"C=(\d+);").group(1))
            assert b > a, (a, b)
            # ...even while REPL code runs (on a server thread)
            t.send("c0 = counter; time.sleep(0.5); print('D=%d;' % (counter - c0))\r")
            d = int(t.expect_re(r"D=(\d+);", timeout=5).group(1))
            assert d >= 3, d

            # change a variable the main loop uses and see the effect
            t.send("step = 1000\r")
            assert wait_until(lambda: status()[2] == 1000, timeout=3.0)
            c1 = status()[0]
            assert wait_until(lambda: status()[0] >= c1 + 2000, timeout=3.0), (c1, status())

            # the program's prints reach the session (and the real console)
            t.send("message = 'hello-from-repl'\r")
            t.expect_re(r"hello-from-repl \d+\r\n", timeout=5)
            assert wait_until(
                lambda: any(l.startswith("hello-from-repl ") for l in list(lines)), timeout=3.0
            )
            # the list the loop appends to is visible and growing
            t.send("print('L=%d;' % len(ticks))\r")
            n1 = int(t.expect_re(r"L=(\d+);").group(1))
            assert n1 > 10

            # stop the main loop from the REPL; the program ends by itself
            t.send("running = False\r")
            assert proc.wait(10) == 0
        with lock:
            assert "main loop ended" in lines
            assert any(l.startswith("tick ") for l in lines)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
        reader.join(5)
