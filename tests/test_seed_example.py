"""The seed's example script, run as written (only the port and bind address
changed), and the custom handler it registers checked with three clients."""

import subprocess

import http.client

import httpx
import pytest

from conftest import HOST, url

# The example from seed/uhttpd.txt, word for word, except
# `uhttpd.Server()` -> `uhttpd.Server(port=0, host='127.0.0.1')`.
SEED_EXAMPLE = """\
# import the module
import uhttpd

# setup the network connection
def setup_network():
    pass

# Custom url handler
def handle_my_url(req):
    req.write('Hello World', mime='text/plain')

# Setup the server
httpd = uhttpd.Server(port=0, host='127.0.0.1')
#  - register the custom handler
httpd.route('/my', uhttpd.GET, handle_my_url)
#  - initialize REPL
httpd.ws('/ws', None)
#  - initialize file server
httpd.serve()
"""


@pytest.fixture(scope="module")
def httpd():
    namespace = {"__name__": "seed_example"}
    exec(compile(SEED_EXAMPLE, "seed_example.py", "exec"), namespace)
    srv = namespace["httpd"]
    try:
        yield srv
    finally:
        srv.close()


def test_example_server_has_a_port(httpd):
    port = httpd.port()
    assert isinstance(port, int)
    assert 0 < port < 65536


def test_get_my_with_http_client(httpd):
    conn = http.client.HTTPConnection(HOST, httpd.port(), timeout=5)
    try:
        conn.request("GET", "/my")
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200
        assert resp.reason == "OK"
        assert body == b"Hello World"
        assert resp.getheader("Content-Type").split(";")[0].strip() == "text/plain"
        assert resp.getheader("Content-Length") == "11"
    finally:
        conn.close()


def test_get_my_with_httpx(httpd):
    r = httpx.get(url(httpd, "/my"), timeout=5)
    assert r.status_code == 200
    assert r.content == b"Hello World"
    assert r.text == "Hello World"
    assert r.headers["content-type"].split(";")[0].strip() == "text/plain"


def test_get_my_with_curl(httpd, tmp_path):
    head_file = tmp_path / "head.txt"
    body_file = tmp_path / "body.txt"
    proc = subprocess.run(
        [
            "curl", "-sS", "--max-time", "5",
            "-D", str(head_file), "-o", str(body_file),
            "-w", "%{http_code} %{content_type}",
            url(httpd, "/my"),
        ],
        capture_output=True, text=True, timeout=15,
    )
    assert proc.returncode == 0, proc.stderr
    code, _, ctype = proc.stdout.partition(" ")
    assert code == "200"
    assert ctype.split(";")[0].strip() == "text/plain"
    assert body_file.read_bytes() == b"Hello World"
    status_line = head_file.read_text().splitlines()[0]
    assert status_line.startswith("HTTP/1.1 200")


def test_example_keep_alive_with_httpx_client(httpd):
    with httpx.Client(timeout=5) as client:
        for _ in range(5):
            r = client.get(url(httpd, "/my"))
            assert r.status_code == 200
            assert r.content == b"Hello World"


def test_example_only_get_is_routed_for_my(httpd):
    r = httpx.post(url(httpd, "/my"), content=b"x", timeout=5)
    assert r.status_code == 405
    allow = {t.strip() for t in r.headers["allow"].split(",")}
    assert "GET" in allow
    assert "POST" not in allow
