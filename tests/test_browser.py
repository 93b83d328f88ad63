"""A real browser: headless Chromium (Debian's /usr/bin/chromium, driven by
playwright) opens an EventSource and a WebSocket to the REPL from a page the
server serves."""

import os

import pytest

import uhttpd

from conftest import CHROMIUM, CHROMIUM_ARGS, url


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>uhttpd browser test</title></head>
<body>
<script>
window.events = [];
window.esOpen = false;
window.term = "";
window.wsState = "connecting";
window.sentPassword = false;

const es = new EventSource("/ev");
es.onopen = () => { window.esOpen = true; };
es.onmessage = (e) => { window.events.push(["message", e.data]); };
es.addEventListener("tick", (e) => { window.events.push(["tick", e.data]); });

const ws = new WebSocket("ws://" + location.host + "/ws");
ws.onopen = () => { window.wsState = "open"; };
ws.onclose = () => { window.wsState = "closed"; };
ws.onmessage = (e) => {
  if (typeof e.data !== "string") { return; }
  window.term += e.data;
  if (!window.sentPassword && window.term.endsWith("Password: ")) {
    window.sentPassword = true;
    ws.send("pw\\r");
  }
};
window.replSocket = ws;
</script>
</body></html>
"""


@pytest.fixture
def browser():
    assert os.path.exists(CHROMIUM), "%s is missing (apt-get install -y chromium)" % CHROMIUM
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=30000
        )
        try:
            yield b
        finally:
            b.close()


def test_eventsource_and_webrepl_in_chromium(server, browser):
    srv = server(events=2)
    srv.event("/ev")
    srv.ws("/ws", "pw")
    srv.route("/", uhttpd.GET, lambda req: req.write(PAGE, mime="text/html; charset=utf-8"))

    page = browser.new_page()
    page.set_default_timeout(10000)
    try:
        page.goto(url(srv, "/"), timeout=10000)

        # EventSource: connected, then every dispatched event arrives
        page.wait_for_function("window.esOpen === true", timeout=10000)
        assert srv.dispatch("hello") is True
        assert srv.dispatch("two\nlines", "tick") is True
        assert srv.dispatch("żółw ✓".encode("utf-8")) is True
        page.wait_for_function("window.events.length >= 3", timeout=10000)
        assert page.evaluate("window.events") == [
            ["message", "hello"],
            ["tick", "two\nlines"],
            ["message", "żółw ✓"],
        ]

        # WebREPL: the page answered the password prompt with "pw\r"
        page.wait_for_function(
            "window.term.includes('WebREPL connected')", timeout=10000
        )
        assert page.evaluate("window.term") == "Password: \r\nWebREPL connected\r\n>>> "
        page.evaluate("window.replSocket.send('6*7\\r')")
        page.wait_for_function("window.term.includes('42')", timeout=10000)
        term = page.evaluate("window.term")
        assert "42" in term
        assert term.endswith("6*7\r\n42\r\n>>> ")
        assert page.evaluate("window.wsState") == "open"

        # events keep flowing while the REPL is in use
        assert srv.dispatch("after") is True
        page.wait_for_function("window.events.length >= 4", timeout=10000)
        assert page.evaluate("window.events[3]") == ["message", "after"]
    finally:
        page.close()
