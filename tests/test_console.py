"""``python -m uhttpd``: the command line, and the console page in headless
Chromium (Debian's /usr/bin/chromium driven by the ``playwright`` package; no
browser download).

Every server here is a real ``python -m uhttpd --port 0`` subprocess, stopped
with SIGINT (Ctrl-C) at the end; every wait is bounded.
"""

import base64
import contextlib
import hashlib
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
import urllib.parse
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright
from websockets.sync.client import connect as ws_connect

from conftest import CHROMIUM, CHROMIUM_ARGS, wait_until

DOCS = Path(__file__).resolve().parent.parent / "docs"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
TIMEOUT = 5.0
UI_TIMEOUT = 5000  # ms, every Playwright wait

expect.set_options(timeout=UI_TIMEOUT)

BLINK = b'''import time

LED_PIN = 2  # the board's LED


def blink(times, delay=0.05):
    """Blinks the LED, saying so."""
    for i in range(times):
        print("blink", i + 1, "of", times)
        time.sleep(delay)
    return times


if __name__ == "__main__":
    blink(3)
'''
ASSETS = {
    "/console.css": "text/css; charset=utf-8",
    "/console.js": "text/javascript; charset=utf-8",
    "/editor.js": "text/javascript; charset=utf-8",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)

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
    assert b'<script src="/console.js" defer></script>' in body
    for path, mime in ASSETS.items():
        status, headers, asset = c.request("GET", path)
        assert status == 200, path
        assert headers["Content-Type"] == mime
        assert headers["Cache-Control"] == "no-cache"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert asset and b"http://" not in asset, path

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


def test_console_page_ships_in_the_package_self_contained_with_nothing_inline():
    import importlib.resources

    package = importlib.resources.files("uhttpd")
    html = package.joinpath("console.html").read_text("utf-8")
    files = {name: package.joinpath(name).read_text("utf-8") for name in ("console.css", "console.js", "editor.js")}
    assert sum(len(text.encode("utf-8")) for text in [html, *files.values()]) < 150_000
    for name, text in [("console.html", html), *files.items()]:
        for outside in ("http://", "https://", "//cdn", "import(", "@import"):
            assert outside not in text, (name, outside)
    # only the page's own files, no inline script, style or event handler
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/editor.js" defer>', '<script src="/console.js" defer>']
    assert re.findall(r"<link[^>]*>", html) == ['<link rel="icon" href="data:,">', '<link rel="stylesheet" href="/console.css">']
    assert "<style" not in html
    assert not re.search(r"\sstyle\s*=", html)
    assert not re.search(r"\son[a-z]+\s*=", html)
    # nothing is ever parsed as markup or code from a string
    for name in ("console.js", "editor.js"):
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'"):
            assert sink not in files[name], (name, sink)


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
        self.page = page
        self.answers = []
        self.asked = []
        page.on("dialog", self._on)

    def expect(self, *answers):
        self.answers.extend(answers)

    def settle(self):
        """Waits (bounded) until every answer expected has been given."""
        for _ in range(UI_TIMEOUT // 20):
            if not self.answers:
                return
            self.page.wait_for_timeout(20)
        raise AssertionError("not asked: %r (asked so far: %r)" % (self.answers, self.asked))

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
    """A new context's page at url; script errors and anything the
    Content-Security-Policy refused land in errors."""
    context = browser.new_context(**context_kw)
    context.add_init_script(
        "window.cspViolations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "Content Security Policy" in m.text else None)
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
    (root / "blink.py").write_bytes(BLINK)
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
    dialogs.settle()
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

    # the README's picture: a program open in the editor and run, the dashboard
    row(page, "blink.py").get_by_role("link", name="blink.py").click()
    expect(page.locator("#ed-name")).to_have_text("/blink.py")
    page.keyboard.press("F5")
    expect_screen(screen, re.compile(r"\[run /blink\.py\]\nblink 1 of 3\nblink 2 of 3\nblink 3 of 3\n>>> \s*$"))
    page.get_by_role("tab", name="Dashboard").click()
    expect(page.locator("#g-repl")).to_have_text("open")
    page.wait_for_timeout(2500)  # a few of the dashboard's samples, once a second
    DOCS.mkdir(exist_ok=True)
    page.locator(".ed-input").click(position={"x": 200, "y": 150})
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
    # files open in the editor to read, not to change; nothing to run them in
    open_in_editor(page, "a.txt")
    expect(page.locator(".ed-status")).to_contain_text("Text \u00b7 read-only")
    page.locator(".ed-input").press("End")
    page.keyboard.type("bc")
    expect(page.locator(".ed-input")).to_have_value("a")
    for name in ("New file", "Save", "Rename or move a.txt", "Delete selected"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.get_by_role("checkbox")).to_have_count(0)
    expect(page.get_by_role("button", name="Run")).to_be_disabled()
    expect(page.get_by_role("link", name="Download folder (zip)")).to_be_visible()

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

    # the editor works there too: open, type, save
    row(page, "main.py").get_by_role("link", name="main.py").tap()
    ta = page.locator(".ed-input")
    expect(ta).to_have_value("print('hello')\n")
    ta.press("Control+End")
    page.keyboard.type("print('from the phone')")
    page.get_by_role("button", name="Save").tap()
    expect(page.locator("#ed-dot")).to_be_hidden()
    assert (tmp_path / "main.py").read_bytes() == b"print('hello')\nprint('from the phone')"

    panels = [("files", "#files"), ("editor", "#editor-panel"), ("term", "#term-panel"), ("events", "#events-panel")]
    boxes = {name: page.locator(sel).bounding_box() for name, sel in panels}
    for name, box in boxes.items():
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (name, box)
    for (upper, _), (lower, _) in zip(panels, panels[1:]):
        assert boxes[upper]["y"] + boxes[upper]["height"] <= boxes[lower]["y"], boxes
    assert boxes["term"]["height"] >= 300 and boxes["editor"]["height"] >= 300, boxes
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    for sel in ("#upload-btn", "#newfile-btn", "#mkdir-btn", "#zip-link", "#save-btn", "#run-btn", "#connect-btn", "#clear-btn"):
        expect(page.locator(sel)).to_be_visible()
        box = page.locator(sel).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (sel, box)

    DOCS.mkdir(exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(DOCS / "console-phone.png"), full_page=True)
    assert page_errors == []
    context.close()


# --------------------------------------------------------------------------
# the workbench: editor, run, file manager, verified uploads, dashboard


def editor_value(page):
    return page.locator(".ed-input").input_value()


def open_in_editor(page, name, path=None):
    row(page, name).locator("td.name a").click()
    expect(page.locator("#ed-name")).to_have_text(path or "/" + name)


def test_editor_opens_edits_and_saves_with_its_keys(browser, console, tmp_path, page_errors):
    (tmp_path / "main.py").write_bytes(b"def greet(name):\n    print('hi', name)\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.py").write_bytes(b"x = 1\n")
    (tmp_path / "data.bin").write_bytes(bytes(range(256)))
    c = console(tmp_path, "--password", "pw")
    context, page = open_page(browser, c.url, page_errors, viewport={"width": 1280, "height": 800})
    dialogs = Dialogs(page)
    ta = page.locator(".ed-input")
    expect(page.locator("#ed-empty")).to_be_visible()
    expect(row(page, "data.bin").locator("a.text")).to_have_count(0)  # not offered for editing

    open_in_editor(page, "main.py")
    expect(ta).to_have_value("def greet(name):\n    print('hi', name)\n")
    expect(ta).to_be_focused()
    hl = page.locator(".ed-hl")
    expect(hl.locator(".t-kw")).to_have_text(["def"])
    expect(hl.locator(".t-fn")).to_have_text(["greet"])
    expect(hl.locator(".t-bi")).to_have_text(["print"])
    expect(hl.locator(".t-str")).to_have_text(["'hi'"])
    assert page.locator(".ed-gutter").inner_text().split() == ["1", "2", "3"]
    expect(page.locator(".ed-status")).to_contain_text("Python")
    expect(page.locator("#ed-dot")).to_be_hidden()

    # Enter keeps the indentation, and adds a level after a line ending in ':'
    ta.press("Control+End")
    page.keyboard.type("if True:")
    page.keyboard.press("Enter")
    page.keyboard.type("greet('you')")
    page.keyboard.press("Enter")
    page.keyboard.press("Shift+Tab")
    page.keyboard.type("# end")
    text = "def greet(name):\n    print('hi', name)\nif True:\n    greet('you')\n# end"
    expect(ta).to_have_value(text)
    expect(page.locator("#ed-dot")).to_be_visible()
    expect(page).to_have_title(re.compile("^\u25cf main.py"))
    assert page.locator(".ed-gutter").inner_text().split() == ["1", "2", "3", "4", "5"]

    # Tab and Shift-Tab move the selected lines
    page.evaluate("() => document.querySelector('.ed-input').setSelectionRange(0, 20)")
    page.keyboard.press("Tab")
    expect(ta).to_have_value("    def greet(name):\n        print('hi', name)\nif True:\n    greet('you')\n# end")
    page.keyboard.press("Shift+Tab")
    expect(ta).to_have_value(text)

    # Ctrl-S writes it to the file
    ta.press("Control+s")
    expect(page.locator("#ed-dot")).to_be_hidden()
    assert (tmp_path / "main.py").read_text() == text
    expect(page).to_have_title(re.compile("^main.py"))

    # search: Ctrl-F, the count, next and previous, Escape selects the match
    ta.press("Control+End")
    ta.press("Control+f")
    find = page.get_by_role("searchbox", name="Find in the file")
    expect(find).to_be_focused()
    find.type("GREET")
    count = page.locator(".ed-find .count")
    expect(count).to_have_text("1 of 2")
    expect(hl.locator("mark.m")).to_have_count(2)
    find.press("Enter")
    expect(count).to_have_text("2 of 2")
    expect(hl.locator("mark.cur")).to_have_text("greet")
    find.press("Shift+Enter")
    expect(count).to_have_text("1 of 2")
    find.press("Escape")
    expect(ta).to_be_focused()
    assert page.evaluate("() => { const t = document.querySelector('.ed-input'); return [t.selectionStart, t.selectionEnd]; }") == [4, 9]
    expect(hl.locator("mark")).to_have_count(0)

    # unsaved changes survive a click elsewhere: a folder, another file (asked first)
    ta.press("Control+End")
    page.keyboard.type("\nprint(1)")
    expect(page.locator("#ed-dot")).to_be_visible()
    row(page, "lib").locator("td.name a").click()
    expect(page.locator("#crumbs")).to_contain_text("lib")
    expect(page.locator("#ed-name")).to_have_text("/main.py")
    expect(ta).to_have_value(text + "\nprint(1)")
    dialogs.expect(False)
    row(page, "util.py").locator("td.name a").click()
    dialogs.settle()
    expect(page.locator("#ed-name")).to_have_text("/main.py")
    assert dialogs.asked[-1] == ("confirm", "\u201cmain.py\u201d has unsaved changes.\nDiscard them and open \u201cutil.py\u201d?")
    # the Save button saves too, and then the other file opens unasked
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#ed-dot")).to_be_hidden()
    assert (tmp_path / "main.py").read_text() == text + "\nprint(1)"
    asked = len(dialogs.asked)
    open_in_editor(page, "util.py", "/lib/util.py")
    expect(ta).to_have_value("x = 1\n")
    assert len(dialogs.asked) == asked

    # closing the page with unsaved changes warns
    ta.press("Control+End")
    page.keyboard.type("y = 2")
    dialogs.expect(True)
    page.close(run_before_unload=True)
    page.wait_for_event("close")
    assert dialogs.asked[-1][0] == "beforeunload"
    assert (tmp_path / "lib" / "util.py").read_text() == "x = 1\n"
    assert page_errors == []
    context.close()


def test_editor_never_overwrites_a_file_changed_on_disk(browser, console, tmp_path, page_errors):
    conf = tmp_path / "conf.py"
    conf.write_text("speed = 1\n")
    c = console(tmp_path, "--password", "pw")
    context, page = open_page(browser, c.url, page_errors, viewport={"width": 1280, "height": 800})
    dialogs = Dialogs(page)
    ta = page.locator(".ed-input")
    warning = page.locator("#ed-msg")
    open_in_editor(page, "conf.py")
    ta.press("Control+End")
    page.keyboard.type("mine = True")

    # someone else writes the file meanwhile: saving warns and writes nothing
    conf.write_text("speed = 22  # theirs\n")
    ta.press("Control+s")
    expect(warning).to_contain_text("changed on disk since you opened it \u2014 reload it or save a copy")
    assert conf.read_text() == "speed = 22  # theirs\n"
    expect(page.locator("#ed-dot")).to_be_visible()

    # Save a copy: the text goes to a new file, which the editor now shows
    dialogs.expect("/conf-mine.py")
    warning.get_by_role("button", name="Save a copy").click()
    expect(page.locator("#ed-name")).to_have_text("/conf-mine.py")
    expect(page.locator("#ed-dot")).to_be_hidden()
    expect(warning).to_be_hidden()
    assert (tmp_path / "conf-mine.py").read_text() == "speed = 1\nmine = True"
    assert conf.read_text() == "speed = 22  # theirs\n"
    expect(row(page, "conf-mine.py")).to_be_visible()

    # Reload: the disk's text replaces the editor's (after a confirm)
    open_in_editor(page, "conf.py")
    expect(ta).to_have_value("speed = 22  # theirs\n")
    ta.press("Control+End")
    page.keyboard.type("x = 3")
    conf.write_text("speed = 333\n")
    page.get_by_role("button", name="Save").click()
    expect(warning).to_contain_text("changed on disk")
    dialogs.expect(True)
    warning.get_by_role("button", name="Reload").click()
    expect(ta).to_have_value("speed = 333\n")
    expect(page.locator("#ed-dot")).to_be_hidden()

    # Overwrite: after a confirm, the editor's text wins
    page.keyboard.type("# mine ")
    conf.write_text("speed = 4444\n")
    ta.press("Control+s")
    expect(warning).to_contain_text("changed on disk")
    dialogs.expect(False)
    warning.get_by_role("button", name="Overwrite").click()
    dialogs.settle()
    assert conf.read_text() == "speed = 4444\n"
    dialogs.expect(True)
    warning.get_by_role("button", name="Overwrite").click()
    expect(page.locator("#ed-dot")).to_be_hidden()
    assert conf.read_text() == "# mine speed = 333\n"
    assert dialogs.asked[-1][0] == "confirm" and "Replace \u201c/conf.py\u201d" in dialogs.asked[-1][1]
    # ... and the next save checks against what the editor wrote
    ta.focus()
    page.keyboard.type("#")
    ta.press("Control+s")
    expect(page.locator("#ed-dot")).to_be_hidden()
    assert conf.read_text() == "# mine #speed = 333\n"
    assert page_errors == []
    context.close()


def test_editor_new_file(browser, console, tmp_path, page_errors):
    (tmp_path / "lib").mkdir()
    c = console(tmp_path, "--password", "pw")
    context, page = open_page(browser, c.url, page_errors, viewport={"width": 1280, "height": 800})
    dialogs = Dialogs(page)
    ta = page.locator(".ed-input")
    row(page, "lib").locator("td.name a").click()
    expect(page.locator("#crumbs")).to_contain_text("lib")

    dialogs.expect("sensor.py")
    page.get_by_role("button", name="New file").click()
    expect(page.locator("#ed-name")).to_have_text("/lib/sensor.py")
    assert dialogs.asked[-1] == ("prompt", "Name of the new file in /lib:")
    expect(page.locator("#ed-dot")).to_be_visible()  # not on the device yet
    expect(ta).to_be_focused()
    page.keyboard.type("value = 42")
    assert not (tmp_path / "lib" / "sensor.py").exists()
    ta.press("Control+s")
    expect(page.locator("#ed-dot")).to_be_hidden()
    assert (tmp_path / "lib" / "sensor.py").read_text() == "value = 42"
    expect(row(page, "sensor.py")).to_contain_text("10 B")

    # a new file whose name another client takes meanwhile: nothing overwritten
    dialogs.expect("late.py")
    page.get_by_role("button", name="New file").click()
    expect(page.locator("#ed-name")).to_have_text("/lib/late.py")
    page.keyboard.type("mine")
    (tmp_path / "lib" / "late.py").write_text("theirs")
    ta.press("Control+s")
    expect(page.locator("#ed-msg")).to_contain_text("\u201c/lib/late.py\u201d already exists on disk")
    assert (tmp_path / "lib" / "late.py").read_text() == "theirs"
    assert page_errors == []
    context.close()


def test_run_prints_the_output_and_stop_interrupts(browser, console, tmp_path, page_errors):
    (tmp_path / "hello.py").write_bytes(b"for i in range(3):\n    print('line', i)\n\nprint('done:', i)\n")
    (tmp_path / "loop.py").write_bytes(b"n = 0\nwhile True:\n    n += 1\n")
    c = console(tmp_path, "--password", "pw")
    context, page = open_page(browser, c.url, page_errors, viewport={"width": 1280, "height": 800})
    screen = page.locator("#screen")
    open_in_editor(page, "hello.py")

    # F5 before logging in: the password first, then it runs
    page.keyboard.press("F5")
    expect(screen).to_contain_text("Password: ")
    expect(screen).to_contain_text("runs once you are logged in")
    page.keyboard.type("pw")
    page.keyboard.press("Enter")
    expect_screen(screen, re.compile(r"\[run /hello\.py\]\nline 0\nline 1\nline 2\ndone: 2\n>>> \s*$"))
    assert "===" not in screen.inner_text()  # the paste-mode echo is not shown

    # Run of an endless loop; Stop interrupts it and the prompt comes back
    open_in_editor(page, "loop.py")
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#ws-state")).to_have_text("running")
    expect(screen).to_contain_text("[run /loop.py]")
    page.wait_for_timeout(300)
    page.get_by_role("button", name="Stop").click()
    expect_screen(screen, re.compile(r"\[run /loop\.py\]\n[\s\S]*KeyboardInterrupt\n(>>> \n)*>>> \s*$"))
    expect(page.locator("#ws-state")).to_have_text("connected")
    # the loop ran in the REPL's namespace
    page.locator("#term").click()
    page.keyboard.type("n > 0")
    page.keyboard.press("Enter")
    expect_screen(screen, re.compile(r">>> n > 0\nTrue\n>>> \s*$"))

    # a Run while a program runs stops it first (Ctrl-C), then runs the text
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#ws-state")).to_have_text("running")
    page.wait_for_timeout(300)
    open_in_editor(page, "hello.py")
    page.keyboard.press("F5")
    expect_screen(screen, re.compile(r"KeyboardInterrupt\n[\s\S]*\[run /hello\.py\]\nline 0\nline 1\nline 2\ndone: 2\n>>> \s*$"))

    # Reconnect just after a login, then Run: the new session's password
    # prompt waits for the password (the last session's "WebREPL connected"
    # is no login, so the Run's keys do not go out as the password)
    page.get_by_role("button", name="Reconnect").click()
    expect_screen(screen, re.compile(r"\nPassword: \s*$"))
    page.locator("#term").click()
    page.keyboard.type("pw")
    page.keyboard.press("Enter")
    expect_screen(screen, re.compile(r"\nPassword: \s*WebREPL connected\n>>> \s*$"))
    page.get_by_role("button", name="Reconnect").click()
    expect_screen(screen, re.compile(r"\nPassword: \s*$"))
    page.get_by_role("button", name="Run").click()
    expect_screen(screen, re.compile(r"\nPassword: \s*\[/hello\.py runs once you are logged in: type the password\]\s*$"))
    page.keyboard.type("pw")
    page.keyboard.press("Enter")
    expect_screen(screen, re.compile(r"runs once you are logged in: type the password\]\n[\s\S]*WebREPL connected\n"
                                     r"[\s\S]*\[run /hello\.py\]\nline 0\nline 1\nline 2\ndone: 2\n>>> \s*$"))
    assert "Access denied" not in screen.inner_text()
    assert page_errors == []
    context.close()


def listed(page):
    return page.locator("#list tbody tr[data-name]").evaluate_all("rows => rows.map(r => r.dataset.name)")


def test_file_manager_sorts_selects_renames_and_zips(browser, console, tmp_path, page_errors):
    root = tmp_path / "root"
    root.mkdir()
    for name, size, year in [("a.txt", 1, 2020), ("b.bin", 3000, 2021), ("c.json", 200, 2022), ("keep.txt", 50, 2019)]:
        (root / name).write_bytes(b"k" * size)
        stamp = time.mktime((year, 1, 2, 3, 4, 5, 0, 0, -1))
        os.utime(root / name, (stamp, stamp))
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "sub" / "x.txt").write_bytes(b"x")
    (root / "sub" / "deep" / "y.txt").write_bytes(b"yy" * 5000)
    (root / "empty").mkdir()
    c = console(root, "--password", "pw")
    context, page = open_page(browser, c.url, page_errors, viewport={"width": 1280, "height": 800}, timezone_id="UTC")
    dialogs = Dialogs(page)
    alert = page.locator("#fs-error")

    # Modified, in local time (UTC here)
    stamp = (root / "a.txt").stat().st_mtime
    expect(row(page, "a.txt").locator("td.time")).to_have_text(time.strftime("%Y-%m-%d %H:%M", time.gmtime(stamp)))
    expect(row(page, "sub").locator("td.time")).not_to_have_text("")

    # sorting: folders first; a second click turns the order round
    assert listed(page) == ["empty", "sub", "a.txt", "b.bin", "c.json", "keep.txt"]
    size = page.locator("#list th[data-key=size]")
    size.get_by_role("button").click()
    expect(size).to_have_attribute("aria-sort", "descending")
    assert listed(page) == ["empty", "sub", "b.bin", "c.json", "keep.txt", "a.txt"]
    size.get_by_role("button").click()
    expect(size).to_have_attribute("aria-sort", "ascending")
    assert listed(page) == ["empty", "sub", "a.txt", "keep.txt", "c.json", "b.bin"]
    # by time, from the keyboard: newest first
    page.get_by_role("button", name="Modified", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#list th[data-key=time]")).to_have_attribute("aria-sort", "descending")
    expect(size).to_have_attribute("aria-sort", "none")
    assert listed(page)[2:] == ["c.json", "b.bin", "a.txt", "keep.txt"]
    page.get_by_role("button", name="Name", exact=True).click()
    assert listed(page) == ["empty", "sub", "a.txt", "b.bin", "c.json", "keep.txt"]

    # a folder as a zip: its files, relative to it
    row(page, "sub").locator("td.name a").click()
    expect(page.locator("#crumbs")).to_contain_text("sub")
    expect(row(page, "x.txt")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download folder (zip)").click()
    assert download.value.suggested_filename == "sub.zip"
    with zipfile.ZipFile(download.value.path()) as z:
        unpacked = {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
    assert unpacked == {"x.txt": b"x", "deep/y.txt": b"yy" * 5000}
    page.locator("#crumbs a").first.click()
    expect(row(page, "a.txt")).to_be_visible()

    # rename / move: a missing folder is a 409, a name in this folder renames,
    # an existing file is replaced only after a confirm
    dialogs.expect("/nowhere/b.bin")
    page.get_by_role("button", name="Rename or move b.bin").click()
    expect(alert).to_contain_text("409 Conflict")
    assert dialogs.asked[-1] == ("prompt", "Rename or move \u201cb.bin\u201d to (a path from the top folder /):")
    expect(alert).to_contain_text("cannot go to \u201c/nowhere/b.bin\u201d")
    assert (root / "b.bin").exists()
    dialogs.expect("moved.bin")
    page.get_by_role("button", name="Rename or move b.bin").click()
    expect(row(page, "moved.bin")).to_contain_text("2.9 KiB")
    expect(row(page, "b.bin")).to_have_count(0)
    assert (root / "moved.bin").read_bytes() == b"k" * 3000 and not (root / "b.bin").exists()
    dialogs.expect("/sub/x.txt", False)
    page.get_by_role("button", name="Rename or move moved.bin").click()
    dialogs.settle()
    expect(row(page, "moved.bin")).to_be_visible()
    assert dialogs.asked[-1] == ("confirm", "\u201c/sub/x.txt\u201d already exists.\nReplace it with \u201c/moved.bin\u201d?")
    assert (root / "sub" / "x.txt").read_bytes() == b"x"
    dialogs.expect("/sub/x.txt", True)
    page.get_by_role("button", name="Rename or move moved.bin").click()
    expect(row(page, "moved.bin")).to_have_count(0)
    assert (root / "sub" / "x.txt").read_bytes() == b"k" * 3000
    # a file gone meanwhile is a 404, a name the server keeps for itself a 403
    (root / "gone.txt").write_bytes(b"g")
    page.get_by_role("button", name="Refresh").click()
    expect(row(page, "gone.txt")).to_be_visible()
    (root / "gone.txt").unlink()
    dialogs.expect("gone2.txt")
    page.get_by_role("button", name="Rename or move gone.txt").click()
    expect(alert).to_contain_text("404 Not Found")
    expect(alert).to_contain_text("\u201c/gone.txt\u201d was not found")
    expect(row(page, "gone.txt")).to_have_count(0)
    dialogs.expect("x.uhttpd-tmp")
    page.get_by_role("button", name="Rename or move keep.txt").click()
    expect(alert).to_contain_text("403 Forbidden")
    expect(alert).to_contain_text("does not allow you to move \u201c/keep.txt\u201d to \u201c/x.uhttpd-tmp\u201d")
    assert (root / "keep.txt").exists()
    # a folder moves with everything in it
    dialogs.expect("/sub/empty-now/")
    page.get_by_role("button", name="Rename or move empty").click()
    expect(row(page, "empty")).to_have_count(0)
    assert (root / "sub" / "empty-now").is_dir()

    # multi-select delete: one confirm with the count, one more for a folder with files
    for name in ("a.txt", "c.json", "sub"):
        page.get_by_role("checkbox", name="Select " + name).check()
    delete = page.get_by_role("button", name="Delete selected (3)")
    expect(delete).to_be_visible()
    dialogs.expect(True, True)
    delete.click()
    expect(row(page, "sub")).to_have_count(0)
    expect(delete).to_be_hidden()
    assert dialogs.asked[-2] == ("confirm", "Delete the 3 selected items?\n  sub/\n  a.txt\n  c.json")
    assert dialogs.asked[-1] == ("confirm", "The folder \u201csub\u201d is not empty.\nDelete it and everything in it?")
    assert sorted(os.listdir(root)) == ["keep.txt"]
    # "select all" ticks every row
    page.get_by_role("checkbox", name="Select all").check()
    expect(page.get_by_role("button", name="Delete selected (1)")).to_be_visible()
    expect(alert).to_be_hidden()
    assert page_errors == []
    context.close()


def sha256_digest(data):
    return "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"


def test_upload_that_arrives_damaged_is_refused(browser, console, tmp_path, page_errors):
    (tmp_path / "victim.bin").write_bytes(b"the old contents")
    c = console(tmp_path, "--password", "pw")
    context, page = open_page(browser, c.url, page_errors)
    expect(row(page, "victim.bin")).to_be_visible()
    sent = []

    def damage(route):
        # the bytes the server receives are not the ones the page hashed
        headers = dict(route.request.headers)
        sent.append(headers.get("content-digest"))
        headers["content-digest"] = sha256_digest(b"something else")
        route.continue_(headers=headers)

    page.route("**/fs/victim.bin", damage)
    page.set_input_files("#file-input", files=[{"name": "victim.bin", "mimeType": "application/octet-stream", "buffer": b"new"}])
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("400 Bad Request")
    expect(alert).to_contain_text("\u201cvictim.bin\u201d arrived damaged, not saved")
    expect(page.locator("#uploads .up", has_text="victim.bin")).to_contain_text("damaged")
    assert sent == [sha256_digest(b"new")]
    assert (tmp_path / "victim.bin").read_bytes() == b"the old contents"
    assert sorted(os.listdir(tmp_path)) == ["victim.bin"]  # nothing left behind

    # undamaged, it lands, verified
    page.unroute("**/fs/victim.bin")
    page.set_input_files("#file-input", files=[{"name": "victim.bin", "mimeType": "application/octet-stream", "buffer": b"new"}])
    expect(page.locator("#uploads .up.done", has_text="victim.bin")).to_contain_text("done \u2713")
    assert (tmp_path / "victim.bin").read_bytes() == b"new"
    assert page_errors == []
    context.close()


def test_upload_cut_midway_resumes_by_itself(browser, console, tmp_path, page_errors):
    payload = os.urandom(3 * 1024 * 1024 + 123)
    total, half = len(payload), len(payload) // 2
    (tmp_path / "src").mkdir()
    source = tmp_path / "src" / "big.bin"
    source.write_bytes(payload)
    root = tmp_path / "root"
    root.mkdir()
    c = console(root, "--password", "pw")
    context, page = open_page(browser, c.url, page_errors)
    seen = []

    def partials():
        return [p for p in root.iterdir() if p.name.endswith(".uhttpd-tmp")]

    def cut_the_first_put(route):
        request = route.request
        seen.append((request.method, request.headers.get("content-range")))
        if len(seen) > 1:
            route.continue_()
            return
        # The connection drops halfway: the server got the first half of
        # this very request (sent here), the page gets a reset.
        head = "PUT /fs/big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\nContent-Range: %s\r\n\r\n"
        with socket.create_connection(("127.0.0.1", c.port), timeout=TIMEOUT) as s:
            s.sendall((head % (total, request.headers["content-range"])).encode() + payload[:half])
        assert wait_until(lambda: [p.stat().st_size for p in partials()] == [half], timeout=TIMEOUT)
        route.abort("connectionreset")

    page.route("**/fs/big.bin", cut_the_first_put)
    page.set_input_files("#file-input", str(source))
    up = page.locator("#uploads .up", has_text="big.bin")
    expect(up).to_contain_text("resuming")
    expect(up).to_contain_text("done", timeout=3 * UI_TIMEOUT)
    expect(row(page, "big.bin")).to_contain_text("3.0 MiB")
    assert hashlib.sha256((root / "big.bin").read_bytes()).digest() == hashlib.sha256(payload).digest()
    assert seen == [
        ("PUT", "bytes 0-%d/%d" % (total - 1, total)),
        ("PUT", "bytes */%d" % total),  # how much arrived?
        ("PUT", "bytes %d-%d/%d" % (half, total - 1, total)),  # the rest
    ]
    assert partials() == []
    assert page_errors == []
    context.close()


def test_upload_progress_shows_percent_and_speed(browser, console, tmp_path, page_errors):
    c = console(tmp_path, "--password", "pw")
    context, page = open_page(browser, c.url, page_errors)
    expect(page.locator("#es-state")).to_have_text("events: live")
    # a slow link: about 256 KiB/s up
    cdp = context.new_cdp_session(page)
    cdp.send("Network.emulateNetworkConditions",
             {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 256 * 1024})
    payload = os.urandom(768 * 1024)
    page.set_input_files("#file-input", files=[{"name": "slow.bin", "mimeType": "application/octet-stream", "buffer": payload}])
    up = page.locator("#uploads .up", has_text="slow.bin")
    expect(up.locator(".p")).to_have_text(re.compile(r"^\d+% \u00b7 0\.\d MB/s$"))
    expect(up).to_contain_text("done", timeout=3 * UI_TIMEOUT)
    assert (tmp_path / "slow.bin").read_bytes() == payload
    assert page_errors == []
    context.close()


def test_dashboard_follows_the_load(browser, console, tmp_path, page_errors):
    c = console(tmp_path, "--password", "pw")
    context, page = open_page(browser, c.url, page_errors, viewport={"width": 1280, "height": 800})
    page.get_by_role("tab", name="Dashboard").click()
    requests = page.locator("#g-requests")
    expect(requests).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator("#g-events")).to_have_text("1")  # this page's event stream
    expect(page.locator("#g-repl")).to_have_text("none")
    expect(page.locator("#g-rss")).to_have_text(re.compile(r"^\d+(\.\d)? MiB$"))
    before = int(requests.inner_text())

    stop = threading.Event()
    answered = []

    def load():
        # requests one after the other until stopped: 2xx and 4xx
        while not stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=TIMEOUT)
            try:
                while not stop.is_set():
                    for path in ("/fs/", "/fs/", "/fs/missing"):
                        conn.request("GET", path)
                        resp = conn.getresponse()
                        resp.read()
                        answered.append(resp.status)
            except (OSError, http.client.HTTPException):
                pass  # a new connection then
            finally:
                conn.close()

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    try:
        page.wait_for_function(
            "n => Number(document.querySelector('#g-requests').textContent) > n", arg=before + 200, timeout=3 * UI_TIMEOUT
        )
        page.wait_for_function("() => parseFloat(document.querySelector('#g-rps').textContent) > 10", timeout=3 * UI_TIMEOUT)
        expect(page.locator("#g-conn")).not_to_have_text("0")
        expect(page.locator("#g-out")).not_to_have_text(re.compile(r"^0 B/s"))
        # the plot shows the 2xx and 4xx classes in their colours
        page.wait_for_function(
            """() => {
                const canvas = document.querySelector('#plot');
                const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                const painted = c => {
                    const [r, g, b] = getComputedStyle(document.querySelector('.sw.s' + c)).backgroundColor.match(/\\d+/g).map(Number);
                    let n = 0;
                    for (let i = 0; i < data.length; i += 4)
                        if (data[i] === r && data[i + 1] === g && data[i + 2] === b && data[i + 3] === 255) n++;
                    return n;
                };
                return painted(2) > 20 && painted(4) > 20;
            }"""
        )
    finally:
        stop.set()
        worker.join(TIMEOUT)
    assert set(answered) == {200, 404}
    log_in_terminal(page, "pw")
    expect(page.locator("#g-repl")).to_have_text("open")
    assert page_errors == []
    context.close()


HOSTILE = "<img src=x onerror=alert(1)>"
QUOTED = "it's \"quoted\" & <b>bold<b>.py"
FOLDER = "<svg onload=alert(2)>"


def test_hostile_file_names_and_contents_show_as_text(browser, console, tmp_path, page_errors):
    (tmp_path / HOSTILE).write_bytes(b"x = '<script>alert(3)</script>'\n")
    (tmp_path / QUOTED).write_bytes(b"print('&amp; <i>')\n")
    (tmp_path / FOLDER).mkdir()
    (tmp_path / FOLDER / "inside.txt").write_bytes(b"in")
    (tmp_path / "page.html").write_bytes(b"<p>hi</p><img src=x onerror=alert(4)></textarea><script>alert(5)</script>\n")
    c = console(tmp_path, "--password", "pw")
    context, page = open_page(browser, c.url, page_errors, viewport={"width": 1280, "height": 800})
    dialogs = Dialogs(page)
    for name in (HOSTILE, QUOTED, FOLDER):
        expect(row(page, name).locator("td.name a")).to_have_text(name)

    # in the editor's tab and text
    open_in_editor(page, HOSTILE)
    expect(page.locator(".ed-hl")).to_contain_text("x = '<script>alert(3)</script>'")
    open_in_editor(page, QUOTED)
    expect(page.locator(".ed-hl")).to_contain_text("print('&amp; <i>')")
    open_in_editor(page, "page.html")
    expect(page.locator(".ed-hl")).to_contain_text("<img src=x onerror=alert(4)></textarea><script>alert(5)</script>")
    expect(page.locator(".ed-hl .t-tag").first).to_have_text("<p")
    # in the breadcrumb
    row(page, FOLDER).locator("td.name a").click()
    expect(page.locator("#crumbs a").last).to_have_text(FOLDER)
    expect(row(page, "inside.txt")).to_be_visible()
    # in the event log, and through an upload
    assert c.request("PUT", "/fs/" + urllib.parse.quote(FOLDER) + "/" + urllib.parse.quote(QUOTED), body=b"1")[0] == 201
    expect(page.locator("#events li.fs", has_text="upload /%s/%s" % (FOLDER, QUOTED))).to_have_count(1)
    page.set_input_files("#file-input", files=[{"name": HOSTILE, "mimeType": "text/plain", "buffer": b"up"}])
    expect(row(page, HOSTILE).locator("td.name a")).to_have_text(HOSTILE)
    assert (tmp_path / FOLDER / HOSTILE).read_bytes() == b"up"

    # nothing of it became markup, nothing ran
    page.wait_for_timeout(200)
    assert page.evaluate("() => document.querySelectorAll('img, svg, b, i, script:not([src])').length") == 0
    assert [kind for kind, _ in dialogs.asked] == []
    assert page.evaluate("cspViolations") == []
    assert page_errors == []
    context.close()


def test_the_page_is_served_with_a_strict_csp_it_keeps(browser, console, tmp_path, page_errors):
    (tmp_path / "main.py").write_bytes(b"print('hi')\n")
    c = console(tmp_path, "--password", "pw")
    headers = c.request("GET", "/")[1]
    assert headers["Content-Security-Policy"] == CSP
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    context, page = open_page(browser, c.url, page_errors, viewport={"width": 1280, "height": 800})
    # everything the page does, under the policy: editor, search, terminal, dashboard
    open_in_editor(page, "main.py")
    page.locator(".ed-input").press("Control+f")
    page.keyboard.type("print")
    expect(page.locator(".ed-find .count")).to_have_text("1 of 1")
    log_in_terminal(page, "pw")
    page.get_by_role("tab", name="Dashboard").click()
    expect(page.locator("#g-requests")).to_have_text(re.compile(r"^\d+$"))
    assert page.evaluate("cspViolations") == []
    assert page_errors == []
    # ... which the browser enforces: an inline script does not run
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1'; document.body.append(s); }")
    page.wait_for_timeout(100)
    assert page.evaluate("() => window.ran") is None
    assert page.evaluate("cspViolations") == ["script-src-elem inline"]
    context.close()


def test_keyboard_reaches_every_control(browser, console, tmp_path, page_errors):
    (tmp_path / "a.py").write_bytes(b"x = 1\n")
    c = console(tmp_path, "--password", "pw")
    context, page = open_page(browser, c.url, page_errors, viewport={"width": 1280, "height": 800})
    expect(row(page, "a.py")).to_be_visible()
    describe = """() => { const e = document.activeElement;
        return e.getAttribute('aria-label') || e.id || e.textContent.trim(); }"""
    reached = []
    for _ in range(30):
        page.keyboard.press("Tab")
        reached.append(page.evaluate(describe))
        if reached[-1] == "a.py":
            outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none"  # a visible focus ring
    for control in ("upload-btn", "newfile-btn", "mkdir-btn", "Download folder (zip)", "Refresh", "Select all", "Name", "Size",
                    "Modified", "Select a.py", "a.py", "Download", "Rename or move a.py", "Delete a.py"):
        assert control in reached, (control, reached)
    # Enter on a file's name opens it in the editor; Tab indents there, Escape then Tab leaves
    page.get_by_role("link", name="a.py").focus()
    page.keyboard.press("Enter")
    ta = page.locator(".ed-input")
    expect(ta).to_be_focused()
    page.keyboard.press("Tab")
    expect(ta).to_have_value("    x = 1\n")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    expect(ta).not_to_be_focused()
    # the tabs switch with the arrow keys
    page.get_by_role("tab", name="Events").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Dashboard")).to_be_focused()
    expect(page.get_by_role("tab", name="Dashboard")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#dash")).to_be_visible()
    assert page_errors == []
    context.close()


def test_an_insecure_page_uploads_and_saves_unverified_and_says_so(browser, console, tmp_path, page_errors):
    (tmp_path / "notes.txt").write_bytes(b"one\n")
    c = console(tmp_path, "--host", "0.0.0.0", "--password", "pw")
    # the device by a name over plain HTTP, as on a network: no secure context
    # there, so the browser offers no SHA-256
    named = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP device.test 127.0.0.1"],
        timeout=30000,
    )
    try:
        context, page = open_page(named, "http://device.test:%d/" % c.port, page_errors)
        assert page.evaluate("() => isSecureContext") is False
        digests = []
        page.on("request", lambda r: digests.append(r.headers.get("content-digest")) if r.method == "PUT" else None)
        page.set_input_files("#file-input", files=[{"name": "up.bin", "mimeType": "application/octet-stream", "buffer": b"up"}])
        up = page.locator("#uploads .up", has_text="up.bin")
        expect(up).to_contain_text("done")
        expect(up).not_to_contain_text("\u2713")
        expect(up).to_have_attribute("title", re.compile("^Not verified: the browser computes SHA-256 only for a secure page"))
        assert (tmp_path / "up.bin").read_bytes() == b"up"
        open_in_editor(page, "notes.txt")
        page.locator(".ed-input").press("Control+End")
        page.keyboard.type("two")
        page.keyboard.press("Control+s")
        expect(page.locator("#ed-dot")).to_be_hidden()
        assert (tmp_path / "notes.txt").read_bytes() == b"one\ntwo"
        assert digests == [None, None]
        assert page_errors == []
        context.close()
    finally:
        named.close()
