"""The raw REPL, raw-paste mode and soft reset behind ``ws(url, pwd)``, as
MicroPython's pyexec.c on an ESP32 answers them, driven through real
WebSocket connections by a pyboard-style client (tests/pyboard_client.py)
and by ``mpfshell`` (which always dials port 8266: it runs with a server in
a network namespace of its own)."""

import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import __main__
from pyboard_client import RAW_BANNER, Board

WINDOW = 128  # an ESP32's: half its 256-byte REPL stdin buffer


@pytest.fixture
def board(server, root):
    srv = server(root=str(root))
    srv.ws("/", "pw")
    boards = []

    def connect():
        b = Board(srv.port())
        boards.append(b)
        return b

    yield connect
    for b in boards:
        b.close()


def sent_and_received(board, since=0):
    """The transcript from entry ``since`` as (sent, received) byte strings."""
    sent = b"".join(d for k, d in board.transcript[since:] if k == ">")
    received = b"".join(d for k, d in board.transcript[since:] if k == "<")
    return sent, received


def in_raw_mode(board):
    """A board switched to the raw REPL by Ctrl-A; where its transcript is now."""
    b = board()
    b.write(b"\x01")
    b.read_until(RAW_BANNER + b">")
    return b, len(b.transcript)


def test_entering_the_raw_repl_answers_the_banner_and_a_prompt(board):
    b = board()
    b.write(b"\x01")
    assert b.read_until(b">") == b"\r\n" + RAW_BANNER + b">"
    # Ctrl-A in raw mode resets it and greets again.
    b.write(b"junk\x01")
    assert b.read_until(b">") == RAW_BANNER + b">"


def test_raw_exec_bytes_on_the_wire(board):
    b, mark = in_raw_mode(board)
    b.write(b"print(6 * 7)\r\nx_raw = 'kept'\x04")
    assert b.read_until(b"\x04\x04>") == b"OK42\r\n\x04\x04>"
    sent, received = sent_and_received(b, mark)
    assert received == b"OK42\r\n\x04\x04>", "no echo, nothing else"
    assert __main__.__dict__.pop("x_raw") == "kept", "runs in __main__"


def test_exec_with_error_puts_the_traceback_after_the_first_eof(board):
    b = board()
    b.enter_raw_repl(soft_reset=False)
    out, err = b.exec_raw("print('before')\r\n1/0")
    assert out == b"before\r\n"
    assert err.startswith(b"Traceback (most recent call last):\r\n")
    assert b'File "<stdin>", line 2' in err
    assert err.endswith(b"ZeroDivisionError: division by zero\r\n")
    # A syntax error is an error of the program too.
    out, err = b.exec_raw("1 +* 2")
    assert out == b"" and b"SyntaxError" in err
    assert b.exec_("print('next')") == b"next\r\n"


def test_ctrl_c_clears_collected_input(board):
    b = board()
    b.enter_raw_repl(soft_reset=False)
    b.read_until(b">")
    b.write(b"print('dropped')\x03print('run')\x04")
    assert b.read_until(b"\x04>") == b"OKrun\r\n\x04\x04>"


def test_ctrl_c_interrupts_a_running_program(board):
    b = board()
    b.enter_raw_repl(soft_reset=False)
    b.exec_raw_no_follow("print('spinning')\r\nwhile True:\r\n    pass")
    assert b.read_until(b"spinning\r\n") == b"spinning\r\n"
    time.sleep(0.2)
    t0 = time.monotonic()
    b.write(b"\x03")
    out, err = b.follow(timeout=5)
    assert time.monotonic() - t0 < 3
    assert out == b""
    assert err.startswith(b"Traceback (most recent call last):\r\n")
    assert err.endswith(b"KeyboardInterrupt\r\n")
    assert b.exec_("print(1)") == b"1\r\n"


def test_soft_reset_as_pyboard_enters_the_raw_repl(board):
    b = board()
    data = b.enter_raw_repl(soft_reset=True)
    assert data == b"OK\r\nMPY: soft reboot\r\n" + RAW_BANNER
    assert b.read_until(b">") == b">"
    # The host program keeps running: what it defined is still there.
    b.write(b"x_soft = 5\x04")
    b.read_until(b"\x04\x04>")
    b.write(b"\x04")
    assert b.read_until(RAW_BANNER + b">") == b"OK\r\nMPY: soft reboot\r\n" + RAW_BANNER + b">"
    b.write(b"print(x_soft)\x04")
    assert b.read_until(b"\x04>") == b"OK5\r\n\x04\x04>"
    del __main__.x_soft


def test_ctrl_b_goes_back_to_the_friendly_repl(board):
    b = board()
    b.enter_raw_repl(soft_reset=False)
    b.read_until(b">")
    b.exit_raw_repl()
    data = b.read_until(b">>> ")
    assert data.startswith(b"\r\nuhttpd ")
    assert b" on CPython " in data
    assert data.endswith(b'\r\nType "help()" for more information.\r\n>>> ')
    b.write(b"3*3\r")
    assert b.read_until(b">>> ") == b"3*3\r\n9\r\n>>> "


def test_raw_paste_with_flow_control(board):
    b = board()
    b.enter_raw_repl(soft_reset=False)
    lines = ["total_rp = 0"]
    lines += ["total_rp += %d  # %s" % (i, "x" * 20) for i in range(60)]
    lines += ["print('total', total_rp)", "del total_rp"]
    program = "\n".join(lines)
    assert len(program) >= 10 * WINDOW
    out, err, window, windows = b.exec_raw_paste(program)
    assert (out, err) == (b"total 1770\r\n", b"")
    assert window == WINDOW
    # The device granted a window for each one it consumed.
    assert windows >= len(program) // WINDOW
    assert b.read_until(b">") == b">"


def test_raw_paste_bytes_on_the_wire(board):
    b, mark = in_raw_mode(board)
    b.write(b"\x05A\x01")
    assert b.read_exactly(5) == b"R\x01\x80\x00\x01"
    b.write(b"print('pasted')\x04")
    assert b.read_until(b">") == b"\x04pasted\r\n\x04\x04>"
    sent, received = sent_and_received(b, mark)
    assert received == b"R\x01\x80\x00\x01\x04pasted\r\n\x04\x04>"
    # Any other command after Ctrl-E is refused.
    b.write(b"\x05B\x01")
    assert b.read_until(b">") == b"R\x00>"
    # An error in raw-paste mode, as in raw mode.
    b.write(b"\x05A\x01")
    b.read_exactly(5)
    b.write(b"raise ValueError('rp')\x04")
    data = b.read_until(b"\x04>")
    assert data.startswith(b"\x04\x04Traceback")
    assert data.endswith(b"ValueError: rp\r\n\x04>")


def test_program_output_stays_out_of_raw_answers(board):
    b = board()
    stop = threading.Event()

    def chatter():
        while not stop.is_set():
            print("chatter", flush=True)
            time.sleep(0.002)

    t = threading.Thread(target=chatter)
    b.enter_raw_repl(soft_reset=False)
    t.start()
    try:
        for i in range(20):
            assert b.exec_raw("print(%d)" % i) == (b"%d\r\n" % i, b"")
        b.read_until(b">")
        # Back in the friendly REPL the session sees the program's output again.
        b.exit_raw_repl()
        b.read_until(b">>> ")
        b.read_until(b"chatter\r\n")
    finally:
        stop.set()
        t.join()


def test_pasted_lines_echo_after_the_results_before_them(board):
    b = board()
    b.write(b"1+1\r2+2\r")
    assert b.read_until(b">>> 2+2") == b"1+1\r\n2\r\n>>> 2+2"
    assert b.read_until(b">>> ") == b"\r\n4\r\n>>> "


# --------------------------------------------------------------------------
# mpfshell, on port 8266 in a network namespace of its own

SERVER_SCRIPT = """
import sys, time, uhttpd
srv = uhttpd.Server(port=8266, host="127.0.0.1", root=sys.argv[1])
srv.ws("/", "pw")
print("ready", flush=True)
time.sleep(60)
"""


def test_mpfshell_exec(tmp_path):
    # Runs as root in CI (scripts/test.sh installs iproute2): a private network
    # namespace gives mpfshell its port 8266 on a loopback of the test's own.
    assert shutil.which("unshare") and shutil.which("ip"), "needs unshare and ip (iproute2)"
    mpfshell = os.path.join(os.path.dirname(sys.executable), "mpfshell")
    assert os.path.exists(mpfshell), "mpfshell is in requirements-dev.txt"
    script = tmp_path / "serve.py"
    script.write_text(SERVER_SCRIPT)
    (tmp_path / "root").mkdir()
    shell = textwrap.dedent(
        """
        ip link set lo up
        {py} {script} {root} > {log} 2>&1 &
        server=$!
        for i in $(seq 100); do grep -q ready {log} && break; sleep 0.1; done
        {mpfshell} -n --nocache -c "open ws:127.0.0.1,pw; exec print('from', 6 * 7)"
        status=$?
        kill $server
        exit $status
        """
    ).format(
        py=sys.executable,
        script=script,
        root=tmp_path / "root",
        log=tmp_path / "server.log",
        mpfshell=mpfshell,
    )
    r = subprocess.run(
        ["unshare", "-n", "sh", "-c", shell],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    log = (tmp_path / "server.log").read_text()
    assert r.returncode == 0, (r.stdout, r.stderr, log)
    assert "from 42" in r.stdout, (r.stdout, r.stderr, log)
    assert "could not enter raw repl" not in r.stdout + r.stderr
