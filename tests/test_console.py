"""``python -m uhttpd``: the command line, and the console page in headless
Chromium (Debian's /usr/bin/chromium driven by the ``playwright`` package; no
browser download).

Every server here is a real ``python -m uhttpd --port 0`` subprocess, stopped
with SIGINT (Ctrl-C) at the end; every wait is bounded.
"""

import base64
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright
from websockets.sync.client import connect as ws_connect

from conftest import CHROMIUM, CHROMIUM_ARGS

DOCS = Path(__file__).resolve().parent.parent / "docs"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
TIMEOUT = 5.0
UI_TIMEOUT = 5000  # ms, every Playwright wait

expect.set_options(timeout=UI_TIMEOUT)

FLAGS = [
    "--port",
    "--host",
    "--root",
    "--password",
    "--auth",
    "--cors",
    "--read-only",
    "--no-repl",
    "--log-level",
]


# --------------------------------------------------------------------------
# the command


class Console:
    """A running ``python -m uhttpd --port 0 --root ROOT ...``."""

    def __init__(self, root, *args):
        self.root = Path(root)
        self.err = tempfile.TemporaryFile()  # access lines: never a full pipe
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uhttpd", "--port", "0", "--root", str(root), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.err,
            text=True,
        )
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.wait_line(lambda line: line.startswith("Press Ctrl-C"), START_TIMEOUT):
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)
            raise AssertionError("did not start: stdout=%r stderr=%r" % (self.lines, self.stderr()))
        self.output = "\n".join(self.lines)
        m = re.search(r"^uhttpd console: (https?://127\.0\.0\.1:(\d+)/)$", self.output, re.M)
        assert m, self.output
        self.url, self.port = m.group(1), int(m.group(2))

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_line(self, pred, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if pred(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self.reader.is_alive():
                    return None
                self.cond.wait(min(left, 0.1))

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode("utf-8", "replace")

    def ctrl_c(self):
        """SIGINT, as Ctrl-C; asserts a clean exit (status 0)."""
        self.proc.send_signal(signal.SIGINT)
        try:
            status = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)
            raise AssertionError("Ctrl-C did not stop it in %ss" % STOP_TIMEOUT)
        self.reader.join(STOP_TIMEOUT)
        assert status == 0, "exit status %r after Ctrl-C; stderr:\n%s" % (status, self.stderr()[-4000:])
        assert self.lines[-1] == "stopped", self.lines
        return status

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        self.reader.join(STOP_TIMEOUT)
        self.err.close()

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()


@pytest.fixture
def console():
    """Factory: ``console(root, *args)``; every one is stopped at teardown."""
    made = []

    def start(root, *args):
        c = Console(root, *args)
        made.append(c)
        return c

    yield start
    for c in made:
        c.stop()


def ws_url(c):
    return "ws://127.0.0.1:%d/ws" % c.port


def repl_read_until(ws, text, timeout=TIMEOUT):
    """Text frames of the REPL until ``text`` has arrived; returns them joined."""
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, "no %r from the REPL, got %r" % (text, seen)
        frame = ws.recv(timeout=left)
        if isinstance(frame, str):
            seen += frame
    return seen


@contextlib.contextmanager
def repl_login(c, password):
    """A WebREPL connection that has answered the password prompt."""
    with ws_connect(ws_url(c), open_timeout=TIMEOUT, close_timeout=1) as ws:
        repl_read_until(ws, "Password: ")
        ws.send(password + "\r")
        yield ws


# --------------------------------------------------------------------------
# command line, no browser


def test_help_explains_every_flag_with_examples():
    out = subprocess.run(
        [sys.executable, "-m", "uhttpd", "--help"],
        capture_output=True,
        text=True,
        timeout=STOP_TIMEOUT,
    )
    assert out.returncode == 0, out.stderr
    for flag in FLAGS:
        assert flag in out.stdout, flag
    assert "examples:" in out.stdout
    assert "python -m uhttpd --port 0" in out.stdout
    assert "Ctrl-C" in out.stdout


def test_defaults(monkeypatch, tmp_path):
    from uhttpd.__main__ import main, parse

    assert callable(main)  # the `uhttpd` console script's entry point
    monkeypatch.chdir(tmp_path)
    args = parse([])
    assert (args.port, args.host, args.root) == (8080, "127.0.0.1", str(tmp_path))
    assert (args.cors, args.read_only, args.no_repl, args.auth) == (False, False, False, None)
    assert args.log_level == "INFO"
    assert args.generated and len(args.password) >= 8
    assert parse(["--password", "pw"]).password == "pw"
    assert parse(["--no-repl"]).password is None


def test_bad_arguments_exit_2_with_a_message(tmp_path):
    for args, says in [
        (["--root", str(tmp_path / "missing")], "not a directory"),
        (["--auth", "nocolon"], "USER:PASS"),
        (["--password", ""], "--password"),
        (["--log-level", "LOUD"], "--log-level"),
    ]:
        out = subprocess.run(
            [sys.executable, "-m", "uhttpd", "--port", "0", *args],
            capture_output=True,
            text=True,
            timeout=STOP_TIMEOUT,
        )
        assert out.returncode == 2, (args, out)
        assert says in out.stderr, (args, out.stderr)


def test_prints_url_and_password_serves_everything_and_ctrl_c_exits_0(console, tmp_path):
    (tmp_path / "hello.txt").write_bytes(b"hi there")
    c = console(tmp_path, "--password", "pw")
    assert c.port > 0  # --port 0: the real port is printed
    assert "REPL password: pw" in c.lines
    assert "files: %s" % tmp_path in c.lines

    status, headers, body = c.request("GET", "/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"<title>uhttpd console</title>" in body
    assert b"<script" in body and b"http://" not in body.split(b"<script", 1)[1].split(b"</script>")[0]

    status, _, body = c.request("GET", "/fs/")
    assert status == 200
    listing = json.loads(body)
    assert listing["path"] == "/fs/"
    assert {"path": "hello.txt", "type": "file", "size": 8} in [
        {k: v for k, v in e.items() if k != "mtime"} for e in listing["list"]
    ]
    assert c.request("GET", "/fs/hello.txt")[2] == b"hi there"

    assert c.request("PUT", "/fs/new.txt", body=b"abc")[0] == 201
    assert (tmp_path / "new.txt").read_bytes() == b"abc"
    assert c.request("DELETE", "/fs/new.txt")[0] == 204
    assert not (tmp_path / "new.txt").exists()

    port = c.port
    assert c.ctrl_c() == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_console_page_is_one_small_self_contained_file():
    import importlib.resources

    html = importlib.resources.files("uhttpd").joinpath("console.html").read_text("utf-8")
    assert len(html.encode("utf-8")) < 40_000
    for outside in ("http://", "https://", "//cdn", "<link rel=\"stylesheet", "<script src", "import("):
        assert outside not in html, outside
    assert html.count("<script>") == 1 and html.count("<style>") == 1


def test_wildcard_host_prints_a_url_to_open(console, tmp_path):
    c = console(tmp_path, "--host", "0.0.0.0", "--read-only", "--no-repl")
    assert "listening on 0.0.0.0: every interface, so other computers can open it too" in c.lines
    assert c.request("GET", "/")[0] == 200  # the printed http://127.0.0.1:PORT/


def test_random_password_is_printed_and_works(console, tmp_path):
    c = console(tmp_path)
    line = c.wait_line(lambda line: line.startswith("REPL password: "))
    m = re.match(r"REPL password: (\S+) \(generated", line)
    assert m, line
    password = m.group(1)
    assert len(password) >= 8

    with repl_login(c, "wrong" + password) as ws:
        assert "Access denied" in repl_read_until(ws, "Access denied", timeout=3)
    with repl_login(c, password) as ws:
        repl_read_until(ws, "WebREPL connected\r\n>>> ")
        ws.send("6*7\r")
        assert "42" in repl_read_until(ws, "42\r\n>>> ")
        ws.send("srv.port()\r")  # the REPL sees the running server
        assert str(c.port) in repl_read_until(ws, "%d\r\n>>> " % c.port)

    other = console(tmp_path)
    assert other.wait_line(lambda line: line.startswith("REPL password: ")) != line


def test_read_only_refuses_changes_with_405(console, tmp_path):
    (tmp_path / "keep.txt").write_bytes(b"keep")
    c = console(tmp_path, "--read-only", "--password", "pw")
    assert "files: %s (read-only)" % tmp_path in c.lines
    assert c.request("PUT", "/fs/x.txt", body=b"x")[0] == 405
    assert c.request("POST", "/fs/x.txt", body=b"x")[0] == 405
    assert c.request("POST", "/fs/newdir/")[0] == 405
    assert c.request("DELETE", "/fs/keep.txt")[0] == 405
    assert sorted(os.listdir(tmp_path)) == ["keep.txt"]
    assert c.request("GET", "/fs/keep.txt")[2] == b"keep"


def test_no_repl_makes_ws_404_and_prints_no_password(console, tmp_path):
    c = console(tmp_path, "--no-repl")
    assert "REPL: off (--no-repl)" in c.lines
    assert not any(line.startswith("REPL password") for line in c.lines)
    status, _, _ = c.request(
        "GET",
        "/ws",
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
            "Sec-WebSocket-Version": "13",
        },
    )
    assert status == 404
    assert c.request("GET", "/")[0] == 200


def read_events(resp, want, timeout=TIMEOUT):
    """Server-sent events from ``resp`` until ``want(events)``; returns them
    as [(event, data)]."""
    events, event, data = [], None, []
    deadline = time.monotonic() + timeout
    while not want(events):
        assert time.monotonic() < deadline, "events so far: %r" % events
        line = resp.fp.readline()
        assert line, "event stream ended: %r" % events
        line = line.decode("utf-8").rstrip("\r\n")
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line == "":
            if data:
                events.append((event or "message", "\n".join(data)))
            event, data = None, []
    return events


def test_event_stream_carries_fs_notices_and_log_lines(console, tmp_path):
    c = console(tmp_path, "--password", "pw")
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=TIMEOUT)
    conn.request("GET", "/events", headers={"Accept": "text/event-stream"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type").startswith("text/event-stream")
    try:
        assert c.request("PUT", "/fs/d%20x/caf%C3%A9.txt", body=b"1")[0] == 201
        moved = c.request("MOVE", "/fs/d%20x/caf%C3%A9.txt",
                          headers={"Destination": "/fs/d%20x/moved.txt"})
        assert moved[0] == 201
        assert c.request("POST", "/fs/made/")[0] == 201
        assert c.request("DELETE", "/fs/d%20x/?force=1")[0] == 204
        events = read_events(resp, lambda ev: sum(e == "fs" for e, _ in ev) >= 4)
    finally:
        conn.close()
    # (each access line is logged once its reply is out: the order of
    # requests on separate connections may swap)
    notices = sorted((json.loads(d) for e, d in events if e == "fs"), key=lambda n: n["op"])
    assert notices == [
        {"op": "delete", "path": "/d x/", "status": 204, "force": True},
        {"op": "mkdir", "path": "/made/", "status": 201},
        {"op": "move", "path": "/d x/café.txt", "status": 201, "to": "/d x/moved.txt"},
        {"op": "upload", "path": "/d x/café.txt", "status": 201},
    ]
    logs = [d for e, d in events if e == "log"]
    assert any('"PUT /fs/d%20x/caf%C3%A9.txt HTTP/1.1" 201' in d for d in logs), logs
    assert all(" INFO " in d for d in logs), logs


STATS_KEYS = {"connections", "event_clients", "repl_sessions", "requests", "status",
              "bytes_in", "bytes_out", "rss", "time"}


def test_event_stream_carries_the_servers_stats_every_second(console, tmp_path):
    c = console(tmp_path, "--password", "pw")
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=TIMEOUT)
    conn.request("GET", "/events", headers={"Accept": "text/event-stream"})
    resp = conn.getresponse()
    assert resp.status == 200

    def next_stats():
        events = read_events(resp, lambda ev: any(e == "stats" for e, _ in ev))
        return json.loads(next(d for e, d in events if e == "stats"))

    try:
        first = next_stats()
        assert set(first) == STATS_KEYS
        assert sorted(first["status"]) == ["1xx", "2xx", "3xx", "4xx", "5xx"]
        assert abs(first["time"] - time.time()) < TIMEOUT
        assert first["event_clients"] == 1 and first["connections"] >= 1
        assert first["repl_sessions"] == 0 and first["rss"] > 0
        for _ in range(3):
            assert c.request("GET", "/fs/")[0] == 200
        later = next_stats()
        deadline = time.monotonic() + TIMEOUT
        while later["requests"] < first["requests"] + 3:
            assert time.monotonic() < deadline, (first, later)
            later = next_stats()
        assert later["status"]["2xx"] >= first["status"]["2xx"] + 3
        assert later["bytes_in"] > first["bytes_in"]
        assert later["bytes_out"] > first["bytes_out"]
        assert 0.5 < later["time"] - first["time"] < 3 * TIMEOUT
    finally:
        conn.close()


def test_log_level_warning_keeps_access_lines_off_the_terminal(console, tmp_path):
    c = console(tmp_path, "--password", "pw", "--log-level", "WARNING")
    assert c.request("PUT", "/fs/a.txt", body=b"a")[0] == 201
    assert c.request("GET", "/fs/a.txt")[0] == 200
    c.ctrl_c()
    assert "GET /fs/a.txt" not in c.stderr()


def test_cors_flag(console, tmp_path):
    plain = console(tmp_path, "--no-repl")
    assert "Access-Control-Allow-Origin" not in plain.request("GET", "/fs/")[1]
    cors = console(tmp_path, "--no-repl", "--cors")
    assert cors.request("GET", "/fs/")[1]["Access-Control-Allow-Origin"] == "*"


# --------------------------------------------------------------------------
# the page in Chromium


@pytest.fixture(scope="module")
def browser():
    assert os.path.exists(CHROMIUM), "install Debian's chromium: apt-get install -y chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30000)
        try:
            yield b
        finally:
            b.close()


class Dialogs:
    """Answers confirm()/prompt() in order; records what the user was asked."""

    def __init__(self, page):
        self.answers = []
        self.asked = []
        page.on("dialog", self._on)

    def expect(self, *answers):
        self.answers.extend(answers)

    def _on(self, dialog):
        self.asked.append((dialog.type, dialog.message))
        answer = self.answers.pop(0) if self.answers else False
        if answer is False:
            dialog.dismiss()
        elif answer is True:
            dialog.accept()
        else:
            dialog.accept(answer)


@pytest.fixture
def page_errors():
    return []


def open_page(browser, url, errors, **context_kw):
    context = browser.new_context(**context_kw)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return context, page


def expect_screen(screen, pattern):
    """The terminal shows ``pattern`` (its lines as the user sees them)."""
    expect(screen).to_contain_text(pattern, use_inner_text=True)


def log_in_terminal(page, password):
    """Connect, answer the password prompt; returns the terminal's screen."""
    screen = page.locator("#screen")
    page.get_by_role("button", name="Connect").click()
    expect(screen).to_contain_text("Password: ")
    expect(page.locator("#ws-state")).to_have_text("connected")
    page.locator("#term").click()
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    expect(screen).to_contain_text("WebREPL connected")
    return screen


def row(page, name):
    return page.locator("#list tbody tr", has=page.locator("td.name a", has_text=re.compile("^%s$" % re.escape(name))))


def test_console_page_files_terminal_and_events(browser, console, tmp_path, page_errors):
    root = tmp_path / "device"
    root.mkdir()
    (root / "main.py").write_bytes(b"print('hello')\n")
    (root / "lib").mkdir()
    (root / "lib" / "util.py").write_bytes(b"x = 1\n")
    c = console(root, "--password", "pw")
    context, page = open_page(browser, c.url, page_errors, viewport={"width": 1280, "height": 800})
    dialogs = Dialogs(page)
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("websocket", lambda w: requested.append(w.url))
    page.reload()

    # the file list of ROOT
    expect(row(page, "main.py")).to_contain_text("15 B")
    expect(row(page, "lib")).to_have_attribute("data-type", "directory")
    expect(page.locator("#es-state")).to_have_text("events: live")

    # upload through the file input: a name with a space and non-ASCII
    payload = bytes(range(256)) * 64 + "é\r\n".encode()
    src = tmp_path / "héllo wörld.bin"
    src.write_bytes(payload)
    page.set_input_files("#file-input", str(src))
    expect(page.locator("#uploads .up", has_text="héllo wörld.bin")).to_contain_text("done")
    expect(row(page, "héllo wörld.bin")).to_contain_text("16 KiB")
    assert (root / "héllo wörld.bin").read_bytes() == payload
    # ... and its "fs" notice arrives in the event log
    expect(page.locator("#events li.fs").first).to_contain_text("upload /héllo wörld.bin")
    expect(page.locator("#events li.log", has_text='"PUT /fs/h%C3%A9llo%20w%C3%B6rld.bin HTTP/1.1" 201').first).to_be_visible()

    # download it through its link
    with page.expect_download(timeout=UI_TIMEOUT) as download:
        row(page, "héllo wörld.bin").get_by_role("link", name="Download").click()
    assert download.value.suggested_filename == "héllo wörld.bin"
    assert Path(download.value.path()).read_bytes() == payload

    # drag and drop onto the file panel
    page.evaluate(
        """([name, text]) => {
            const data = new DataTransfer();
            data.items.add(new File([text], name, {type: 'text/plain'}));
            const files = document.querySelector('#files');
            for (const type of ['dragenter', 'dragover', 'drop'])
                files.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
        }""",
        ["dropped file.txt", "dropped"],
    )
    expect(row(page, "dropped file.txt")).to_contain_text("7 B")
    assert (root / "dropped file.txt").read_bytes() == b"dropped"

    # a file that another client uploads appears without a reload ("fs" event)
    assert c.request("PUT", "/fs/from-curl.txt", body=b"elsewhere")[0] == 201
    expect(row(page, "from-curl.txt")).to_contain_text("9 B")

    # new folder, navigate into it, upload there, come back
    dialogs.expect("new folder")
    page.get_by_role("button", name="New folder").click()
    expect(row(page, "new folder")).to_have_attribute("data-type", "directory")
    assert (root / "new folder").is_dir()
    assert dialogs.asked[-1][0] == "prompt"
    row(page, "new folder").get_by_role("link").click()
    expect(page.locator("#crumbs")).to_contain_text("new folder")
    expect(page.locator("#empty")).to_be_visible()
    page.set_input_files("#file-input", files=[{"name": "inner.txt", "mimeType": "text/plain", "buffer": b"inside"}])
    expect(row(page, "inner.txt")).to_contain_text("6 B")
    assert (root / "new folder" / "inner.txt").read_bytes() == b"inside"
    row(page, "..").get_by_role("link").click()
    expect(row(page, "main.py")).to_be_visible()

    # delete the uploaded file (confirm accepted): gone from the page and the disk
    dialogs.expect(True)
    page.get_by_role("button", name="Delete héllo wörld.bin").click()
    expect(row(page, "héllo wörld.bin")).to_have_count(0)
    assert not (root / "héllo wörld.bin").exists()
    assert dialogs.asked[-1] == ("confirm", "Delete \u201chéllo wörld.bin\u201d?")
    expect(page.locator("#events li.fs", has_text="delete /héllo wörld.bin")).to_have_count(1)
    # a dismissed confirm deletes nothing
    dialogs.expect(False)
    page.get_by_role("button", name="Delete main.py").click()
    expect(page.locator("#fs-error")).to_be_hidden()
    assert (root / "main.py").exists()

    # the terminal: password prompt, login, 1+3 <BS> 1 -> 1+1 -> 2
    screen = log_in_terminal(page, "pw")
    assert "Password: pw" not in screen.inner_text()
    page.keyboard.type("1+3")
    page.keyboard.press("Backspace")
    page.keyboard.type("1")
    page.keyboard.press("Enter")
    expect_screen(screen, re.compile(r">>> 1\+1\n2\n>>> "))
    # arrows: history recalls the line
    page.keyboard.press("ArrowUp")
    expect_screen(screen, re.compile(r"2\n>>> 1\+1\s*$"))
    page.keyboard.press("Enter")
    expect_screen(screen, re.compile(r"(>>> 1\+1\n2\n[\s\S]*){2}"))
    # the REPL session shows up in the event log
    expect(page.locator("#events li.log", has_text="WebREPL session opened")).to_have_count(1)

    # paste: lines become Enter presses
    page.evaluate(
        """text => {
            const data = new DataTransfer();
            data.setData('text/plain', text);
            document.querySelector('#keys').dispatchEvent(
                new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
        }""",
        "x = 6\nprint(x * 7)\n",
    )
    # (the pasted lines are echoed as they arrive; the result follows them)
    expect_screen(screen, re.compile(r">>> x = 6\n(>>> )?print\(x \* 7\)\n(>>> )?42\n>>> "))

    # Ctrl-C interrupts running code
    page.keyboard.type("while True: pass")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    for attempt in range(3):  # a Ctrl-C before the loop starts only clears the line
        page.wait_for_timeout(300)
        page.keyboard.press("Control+c")
        try:
            expect(screen).to_contain_text("KeyboardInterrupt", timeout=2000)
            break
        except AssertionError:
            if attempt == 2:
                raise
    expect_screen(screen, re.compile(r"KeyboardInterrupt\n(>>> \n)*>>> \s*$"))

    # Ctrl-E paste mode, Ctrl-D runs the block
    page.keyboard.press("Control+e")
    expect(screen).to_contain_text("paste mode; Ctrl-C to cancel, Ctrl-D to finish")
    page.keyboard.type("y = 5")
    page.keyboard.press("Enter")
    page.keyboard.type("print('y+1 =', y + 1)")
    page.keyboard.press("Control+d")
    expect_screen(screen, re.compile(r"\ny\+1 = 6\n>>> \s*$"))

    # the text is selectable (copy): lines as shown
    screen.select_text()
    selected = page.evaluate("() => getSelection().toString()")
    assert ">>> 1+1\n2\n>>> " in selected

    # the panels follow the window's size
    wide = page.locator("#term-panel").bounding_box()
    page.set_viewport_size({"width": 900, "height": 600})
    expect(page.locator("#term-panel")).to_be_visible()
    page.wait_for_timeout(100)
    narrow = page.locator("#term-panel").bounding_box()
    assert narrow["width"] < wide["width"] and narrow["height"] < wide["height"], (wide, narrow)
    assert narrow["x"] + narrow["width"] <= 900 and narrow["y"] + narrow["height"] <= 600, narrow
    page.set_viewport_size({"width": 1280, "height": 800})

    DOCS.mkdir(exist_ok=True)
    page.locator("#term").click()
    page.wait_for_timeout(100)
    page.screenshot(path=str(DOCS / "console.png"))
    assert page_errors == []
    origin = c.url.rstrip("/")
    assert requested and all(u.startswith((origin, origin.replace("http:", "ws:"))) for u in requested), requested

    # Ctrl-C on the server with the page, its REPL session and event stream open
    assert c.ctrl_c() == 0
    expect(page.locator("#ws-state")).to_have_text("disconnected")
    context.close()


def test_error_messages_for_file_operations(browser, console, tmp_path, page_errors):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f.txt").write_bytes(b"f")
    (tmp_path / "vanishing.txt").write_bytes(b"v")
    c = console(tmp_path, "--password", "pw")
    context, page = open_page(browser, c.url, page_errors)
    dialogs = Dialogs(page)
    alert = page.get_by_role("alert")

    # 409: a folder that is not empty, force refused -> kept
    dialogs.expect(True, False)
    row(page, "full").get_by_role("button", name="Delete").click()
    expect(alert).to_contain_text("409 Conflict")
    expect(alert).to_contain_text("\u201cfull\u201d is not empty")
    assert (tmp_path / "full" / "f.txt").exists()
    # ... and with the force confirm accepted the tree goes
    dialogs.expect(True, True)
    row(page, "full").get_by_role("button", name="Delete").click()
    expect(row(page, "full")).to_have_count(0)
    expect(alert).to_be_hidden()
    assert not (tmp_path / "full").exists()

    # 404: deleted behind the page's back
    (tmp_path / "vanishing.txt").unlink()
    dialogs.expect(True)
    row(page, "vanishing.txt").get_by_role("button", name="Delete").click()
    expect(alert).to_contain_text("404 Not Found")
    expect(alert).to_contain_text("was not found")
    expect(row(page, "vanishing.txt")).to_have_count(0)
    alert.get_by_role("button", name="Dismiss").click()
    expect(alert).to_be_hidden()

    # 507 and 403 as the server would answer them (the disk is not filled here)
    page.route("**/fs/big.bin", lambda route: route.fulfill(status=507, body="507 Insufficient Storage\n"))
    page.set_input_files("#file-input", files=[{"name": "big.bin", "mimeType": "application/octet-stream", "buffer": b"0" * 4096}])
    expect(alert).to_contain_text("507 Insufficient Storage")
    expect(alert).to_contain_text("out of space")
    page.route("**/fs/locked/", lambda route: route.fulfill(status=403, body="403 Forbidden\n"))
    dialogs.expect("locked")
    page.get_by_role("button", name="New folder").click()
    expect(alert).to_contain_text("403 Forbidden")
    expect(alert).to_contain_text("does not allow you to create the folder \u201clocked\u201d")

    # a name the page will not send
    dialogs.expect("a/b")
    page.get_by_role("button", name="New folder").click()
    expect(alert).to_contain_text("Not a folder name")
    assert not (tmp_path / "a").exists()

    # 401 when the credentials stop working (as after a restart with another --auth)
    page.route("**/fs/secret.txt", lambda route: route.fulfill(status=401, body="401 Unauthorized\n"))
    page.set_input_files("#file-input", files=[{"name": "secret.txt", "mimeType": "text/plain", "buffer": b"s"}])
    expect(alert).to_contain_text("401 Unauthorized")
    expect(alert).to_contain_text("user name and password")
    assert page_errors == []
    context.close()


def test_read_only_and_no_repl_page(browser, console, tmp_path, page_errors):
    (tmp_path / "a.txt").write_bytes(b"a")
    c = console(tmp_path, "--read-only", "--no-repl")
    context, page = open_page(browser, c.url, page_errors)
    expect(row(page, "a.txt")).to_be_visible()
    expect(page.locator("#ro-pill")).to_be_visible()
    expect(page.get_by_role("button", name="New folder")).to_be_hidden()
    expect(page.get_by_role("button", name="Delete a.txt")).to_have_count(0)
    expect(page.get_by_role("button", name="Connect")).to_be_disabled()
    expect(page.locator("#screen")).to_contain_text("The REPL is off")

    # the terminal's ANSI basics, fed as the REPL would send them
    page.evaluate(
        """() => term.write('\\r\\nhello world\\x1b[5D\\x1b[Kthere\\r\\n'
            + 'ab\\bX\\r\\n\\x1b[1;31mred\\x1b[0m\\ttab\\r\\n12345\\r\\x1b[Kok\\r\\n'
            + 'split \\x1b')"""
    )
    page.evaluate("() => term.write('[Kescape\\r\\n')")
    expect_screen(page.locator("#screen"), re.compile(r"\nhello there\naX\nred     tab\nok\nsplit escape\n"))
    assert page_errors == []
    context.close()


def test_basic_auth_guards_the_page(browser, console, tmp_path, page_errors):
    (tmp_path / "a.txt").write_bytes(b"a")
    c = console(tmp_path, "--auth", "user:pass", "--password", "pw")
    assert "Basic auth: user 'user'" in c.lines

    status, headers, _ = c.request("GET", "/")
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Basic")
    assert c.request("GET", "/fs/")[0] == 401
    good = {"Authorization": "Basic " + base64.b64encode(b"user:pass").decode()}
    assert c.request("GET", "/fs/", headers=good)[0] == 200

    # without credentials the browser gets 401 and no page (headless
    # Chromium cancels the login dialog: ERR_INVALID_AUTH_CREDENTIALS)
    context = browser.new_context()
    page = context.new_page()
    statuses = []
    page.on("response", lambda r: statuses.append((r.url, r.status)))
    try:
        response = page.goto(c.url)
    except PlaywrightError as e:
        assert "ERR_INVALID_AUTH_CREDENTIALS" in str(e)
    else:
        assert response.status == 401
    assert statuses == [(c.url, 401)]
    expect(page.locator("#list")).to_have_count(0)
    context.close()

    context, page = open_page(browser, c.url, page_errors, http_credentials={"username": "user", "password": "pass"})
    expect(row(page, "a.txt")).to_be_visible()
    expect(page.locator("#es-state")).to_have_text("events: live")
    page.set_input_files("#file-input", files=[{"name": "b.txt", "mimeType": "text/plain", "buffer": b"bb"}])
    expect(row(page, "b.txt")).to_contain_text("2 B")
    assert (tmp_path / "b.txt").read_bytes() == b"bb"
    page.get_by_role("button", name="Connect").click()
    expect(page.locator("#screen")).to_contain_text("Password: ")
    assert page_errors == []
    context.close()


def test_phone_sized_window_stacks_the_panels(browser, console, tmp_path, page_errors):
    (tmp_path / "main.py").write_bytes(b"print('hello')\n")
    (tmp_path / "boot.py").write_bytes(b"# boot\n")
    (tmp_path / "www").mkdir()
    (tmp_path / "a rather long file name for a small screen.json").write_bytes(b"{}" * 900)
    c = console(tmp_path, "--password", "pw")
    context, page = open_page(
        browser,
        c.url,
        page_errors,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    expect(row(page, "main.py")).to_be_visible()
    screen = page.locator("#screen")
    page.locator("#term").tap()  # Enter in the terminal connects too
    page.keyboard.press("Enter")
    expect(screen).to_contain_text("Password: ")
    expect(page.locator("#ws-state")).to_have_text("connected")
    page.keyboard.type("pw")
    page.keyboard.press("Enter")
    page.keyboard.type("import sys; sys.platform")
    page.keyboard.press("Enter")
    expect(screen).to_contain_text("'%s'" % sys.platform)

    boxes = {
        name: page.locator(sel).bounding_box()
        for name, sel in [("files", "#files"), ("term", "#term-panel"), ("events", "#events-panel")]
    }
    for name, box in boxes.items():
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (name, box)
    assert boxes["files"]["y"] + boxes["files"]["height"] <= boxes["term"]["y"], boxes
    assert boxes["term"]["y"] + boxes["term"]["height"] <= boxes["events"]["y"], boxes
    assert boxes["term"]["height"] >= 300, boxes
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    for sel in ("#upload-btn", "#mkdir-btn", "#connect-btn", "#clear-btn"):
        expect(page.locator(sel)).to_be_visible()

    DOCS.mkdir(exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(DOCS / "console-phone.png"), full_page=True)
    assert page_errors == []
    context.close()
