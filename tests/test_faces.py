"""The shared behaviour of uhttpd's two faces, seen over HTTP.

Each test starts an app (Python source written for both faces) in a
subprocess of the CPython face and of the MicroPython face (tests/faces.py)
and asserts what a client sees: http.client, httpx, curl and raw sockets
on 127.0.0.1, every wait bounded. The expected values are the contract's
(docs/SPEC.md, the seed) as the CPython face shows them; the MicroPython
face must show the same.
"""

import http.client
import io
import json
import os
import re
import shutil
import socket
import subprocess
import time
import zipfile

import httpx
import pytest

import faces

HOST = faces.HOST
TIMEOUT = 5.0
BASIC = "Basic YW5zd2VyOjQy"  # the seed's example: answer:42


@pytest.fixture(params=list(faces.FACES), ids=list(faces.FACES))
def face(request):
    return request.param


@pytest.fixture
def app(face, tmp_path):
    """``app(source, cwd=None, close=True)`` starts an app of this test's face
    (cwd defaults to tmp_path, which is also its file root); all are stopped
    at teardown."""
    runner = faces.Runner(face, tmp_path)
    yield runner
    runner.close()


# --------------------------------------------------------------------------
# clients


class Reply:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # {lower-case name: value}
        self.body = body

    def __repr__(self):
        return "<Reply %s %s %r %r>" % (self.status, self.reason, self.headers, self.body[:300])


def request(app, method, path, body=None, headers=None, timeout=TIMEOUT, encode_chunked=False):
    """One request on a fresh http.client connection."""
    conn = http.client.HTTPConnection(HOST, app.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {}, encode_chunked=encode_chunked)
        resp = conn.getresponse()
        data = resp.read()
        return Reply(resp.status, resp.reason, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def get(app, path, **kw):
    return request(app, "GET", path, **kw)


def raw_exchange(app, data, timeout=TIMEOUT):
    """Sends raw bytes; returns everything the server sends until it closes."""
    with socket.create_connection((HOST, app.port), timeout=timeout) as s:
        s.sendall(data)
        out = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)


def curl(*args, timeout=TIMEOUT):
    """curl's stdout (bytes) for ``args``; curl itself is bounded by --max-time."""
    assert shutil.which("curl"), "curl is needed"
    proc = subprocess.run(
        ["curl", "-sS", "--max-time", str(int(timeout))] + list(args),
        capture_output=True, timeout=timeout + 5, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def served_line(app, path, **kw):
    """The body of GET ``path`` as text (the handler wrote a repr)."""
    r = get(app, path, **kw)
    assert r.status == 200, r
    return r.body.decode()


SERVER = "import uhttpd\nhttpd = uhttpd.Server(port=0, host='127.0.0.1'%s)\n"


def server(**kw):
    """The app line that makes `httpd`, with extra constructor arguments."""
    return SERVER % "".join(", %s=%s" % kv for kv in kw.items())


# --------------------------------------------------------------------------
# routes and replies


def test_write_text_defaults(app):
    a = app(server() + """
def hello(req):
    req.write('Hello World')
httpd.route('/my', uhttpd.GET, hello)
httpd.route('/uni', uhttpd.GET, lambda req: req.write('h\u00e9llo \u20ac'))
""")
    r = get(a, "/my")
    assert (r.status, r.reason, r.body) == (200, "OK", b"Hello World")
    assert r.headers["content-type"] == "text/html"
    assert r.headers["content-length"] == "11"
    r = get(a, "/uni")
    assert (r.body, r.headers["content-length"]) == ("h\u00e9llo \u20ac".encode(), "10")


def test_write_bytes_mime_and_headers(app):
    a = app(server() + """
def blob(req):
    req.write(b'\\x00\\x01\\xfe', mime='application/octet-stream',
              headers={'X-One': '1', b'X-Two': b'two', 'Cache-Control': 'no-store'})
httpd.route('/blob', uhttpd.GET, blob)
httpd.route('/view', uhttpd.GET,
            lambda req: req.write(memoryview(bytearray(b'view')), mime=bytearray(b'text/x-view')))
""")
    r = get(a, "/blob")
    assert (r.status, r.body) == (200, b"\x00\x01\xfe")
    assert r.headers["content-type"] == "application/octet-stream"
    assert (r.headers["x-one"], r.headers["x-two"], r.headers["cache-control"]) == ("1", "two", "no-store")
    r = get(a, "/view")
    assert (r.body, r.headers["content-type"]) == (b"view", "text/x-view")


@pytest.mark.parametrize("status,code,reason", [
    ("404", 404, "Not Found"),
    ("201", 201, "Created"),
    ("'299 Whatever You Like'", 299, "Whatever You Like"),
    ("b'202 Accepted'", 202, "Accepted"),
], ids=["int-404", "int-201", "text", "bytes"])
def test_write_status(app, status, code, reason):
    a = app(server() + """
def s(req):
    req.write('s', status=%s)
httpd.route('/s', uhttpd.GET, s)
""" % status)
    out = raw_exchange(a, b"GET /s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert out.split(b"\r\n")[0] == ("HTTP/1.1 %d %s" % (code, reason)).encode()
    assert out.endswith(b"\r\n\r\ns")


def test_allow_cors_on_one_reply(app):
    a = app(server() + """
httpd.route('/open', uhttpd.GET, lambda req: req.write('o', allow_cors=True))
httpd.route('/closed', uhttpd.GET, lambda req: req.write('c'))
""")
    assert get(a, "/open").headers.get("access-control-allow-origin") == "*"
    assert "access-control-allow-origin" not in get(a, "/closed").headers


def test_unknown_path_404_and_wrong_verb_405_with_allow(app):
    a = app(server() + """
httpd.route('/only', uhttpd.GET | uhttpd.POST, lambda req: req.write('y'))
""")
    assert get(a, "/nowhere").status == 404
    r = request(a, "DELETE", "/only")
    assert r.status == 405
    allow = {t.strip() for t in r.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allow and "DELETE" not in allow
    assert request(a, "POST", "/only", body=b"").body == b"y"


def test_wildcards_are_esp_http_servers(app):
    a = app(server() + """
httpd.route('/api/*', uhttpd.GET, lambda req: req.write('api ' + req.path()))
httpd.route('/opt/?*', uhttpd.GET, lambda req: req.write('opt ' + req.path()))
""")
    assert get(a, "/api/x/y").body == b"api /api/x/y"
    assert get(a, "/api/").body == b"api /api/"
    assert get(a, "/api").status == 404
    assert get(a, "/opt").body == b"opt /opt"
    assert get(a, "/opt/z").body == b"opt /opt/z"


def test_head_reaches_get_route_without_body(app):
    a = app(server() + """
def h(req):
    req.write('method %d' % req.method(), mime='text/plain')
httpd.route('/h', uhttpd.GET, h)
""")
    out = raw_exchange(a, b"HEAD /h HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"\r\nContent-Length: 8" in head
    assert body == b""
    assert get(a, "/h").body == b"method 1"


def test_routes_table_given_to_constructor(app):
    a = app("""
import uhttpd
def a(req):
    req.write('a')
def b(req):
    req.write('b %d' % req.method())
httpd = uhttpd.Server(port=0, host='127.0.0.1',
                      routes=[('/a', uhttpd.GET, a), ['/b', uhttpd.GET | uhttpd.POST, b]])
try:
    httpd.route('/c', uhttpd.GET, a)
except Exception as e:
    print(type(e).__name__, str(e))
""")
    assert get(a, "/a").body == b"a"
    assert request(a, "POST", "/b", body=b"").body == b"b 2"
    assert get(a, "/c").status == 404
    assert a.lines() == ["RuntimeError routes were given to the constructor; route() cannot add more"]


def test_keep_alive_serves_several_requests_on_one_connection(app):
    a = app(server() + """
httpd.route('/n', uhttpd.GET, lambda req: req.write('%s %d' % (req.query('i').decode(), req.remote()[1])))
""")
    with httpx.Client(timeout=TIMEOUT) as client:
        replies = [client.get(a.url("/n?i=%d" % i)).text.split() for i in range(5)]
    assert [r[0] for r in replies] == ["0", "1", "2", "3", "4"]
    assert len({r[1] for r in replies}) == 1, replies  # one client port: one connection


def test_callbacks_run_while_the_main_thread_is_busy(app):
    # The seed: callbacks run when the main code idles; a busy main loop
    # still hands the GIL over (SPEC, MicroPython: every 32 backward jumps).
    a = app(server() + """
import time
def spin(seconds):
    n = 0
    end = time.time() + seconds
    while time.time() < end:
        n += 1
    return n > 0
httpd.route('/ping', uhttpd.GET, lambda req: req.write('pong'))
""")
    answer = a.start_eval("spin(2.0)")
    time.sleep(0.2)
    started = time.monotonic()
    assert get(a, "/ping").body == b"pong"
    took = time.monotonic() - started
    assert answer(timeout=10) == "RESULT True"
    assert took < 1.0, "a callback waited %.2f s for the busy main thread" % took


# --------------------------------------------------------------------------
# the request as the handler sees it


def test_query_values(app):
    a = app(server() + """
def q(req):
    req.write(repr((req.query('a'), req.query('bare'), req.query('absent'),
                    req.query(b'c'), req.query('pct'))))
httpd.route('/q', uhttpd.GET, q)
""")
    assert served_line(a, "/q?a=1&bare&c=x+y%21&a=2&pct=%E2%82%AC") == \
        "(b'1', True, None, b'x y!', b'\\xe2\\x82\\xac')"
    assert served_line(a, "/q") == "(None, None, None, None, None)"


def test_parse_qs_keeps_the_last_value(app):
    a = app(server() + """
def qs(req):
    d = req.parse_qs()
    req.write(repr((type(d).__name__, sorted(d.items()))))
httpd.route('/qs', uhttpd.GET, qs)
""")
    assert served_line(a, "/qs?a=1&b&c=x+y&a=2") == \
        "('dict', [(b'a', b'2'), (b'b', True), (b'c', b'x y')])"
    assert served_line(a, "/qs") == "('dict', [])"


def test_uri_path_length_method(app):
    a = app(server() + """
def i(req):
    req.write(repr((req.uri(), req.path(), req.length(), req.method(), req.read())))
httpd.route('/p/*', uhttpd.GET | uhttpd.POST | uhttpd.PUT | uhttpd.DELETE, i)
""")
    assert request(a, "POST", "/p/x?k=v&w", body=b"hello").body.decode() == \
        "('/p/x?k=v&w', '/p/x', 5, 2, b'hello')"
    assert get(a, "/p/y").body.decode() == "('/p/y', '/p/y', 0, 1, b'')"
    assert request(a, "PUT", "/p/z?", body=b"12").body.decode() == "('/p/z?', '/p/z', 2, 8, b'12')"
    assert request(a, "DELETE", "/p/d").body.decode() == "('/p/d', '/p/d', 0, 4, b'')"
    # uri() and path() are as sent: not percent-decoded; the fragment stays in uri()
    assert get(a, "/p/a%20b/%2F?k=a%20b+c#frag").body.decode() == \
        "('/p/a%20b/%2F?k=a%20b+c#frag', '/p/a%20b/%2F', 0, 1, b'')"


def test_header_and_headers(app):
    a = app(server() + """
def h(req):
    hs = req.headers()
    req.write(repr((req.header('X-Custom'), req.header('x-CUSTOM'), req.header('X-Missing'),
                    hs['x-custom'], hs['host'], sorted(hs))))
httpd.route('/h', uhttpd.GET, h)
""")
    out = raw_exchange(a, b"GET /h HTTP/1.1\r\nHost: example.test\r\nX-Custom: Value One\r\n"
                          b"User-Agent: t/1\r\nConnection: close\r\n\r\n")
    body = out.partition(b"\r\n\r\n")[2].decode()
    assert body == ("(b'Value One', b'Value One', None, b'Value One', b'example.test', "
                    "['connection', 'host', 'user-agent', 'x-custom'])")


def test_remote_is_the_clients_address_and_server_the_server(app):
    a = app(server() + """
def r(req):
    ip, port = req.remote()
    req.write('%s %d %r' % (ip, port, req.server() is httpd))
httpd.route('/r', uhttpd.GET, r)
""")
    with socket.create_connection((HOST, a.port), timeout=TIMEOUT) as s:
        local = s.getsockname()
        s.sendall(b"GET /r HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    assert out.partition(b"\r\n\r\n")[2].decode() == "%s %d True" % local


ECHO = server() + """
def echo(req):
    how = req.query('how')
    if how == b'n':
        parts = []
        while True:
            piece = req.read(3)
            if not piece:
                break
            parts.append(piece)
        req.write(repr((req.length(), [len(p) for p in parts][:3], b''.join(parts))))
    elif how == b'into':
        buf = bytearray(4)
        got = bytearray()
        sizes = []
        while True:
            n = req.readinto(buf)
            if n == 0:
                break
            sizes.append(n)
            got += buf[:n]
        req.write(repr((req.length(), sizes[:2], bytes(got))))
    else:
        req.write(req.read(), mime='application/octet-stream')
httpd.route('/echo', uhttpd.POST | uhttpd.PUT, echo)
"""


def test_read_whole_body(app):
    a = app(ECHO)
    payload = os.urandom(300 * 1024)
    r = request(a, "POST", "/echo", body=payload)
    assert (r.status, r.body) == (200, payload)


def test_read_n_bytes_at_a_time_and_readinto(app):
    a = app(ECHO)
    r = request(a, "POST", "/echo?how=n", body=b"abcdefgh")
    assert r.body.decode() == "(8, [3, 3, 2], b'abcdefgh')"
    r = request(a, "PUT", "/echo?how=into", body=b"0123456789")
    assert r.body.decode() == "(10, [4, 4], b'0123456789')"


def test_chunked_request_body(app):
    a = app(ECHO)
    out = raw_exchange(a, b"POST /echo?how=n HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                          b"Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK")
    assert out.partition(b"\r\n\r\n")[2] == b"(-1, [3, 2], b'abcde')"
    # http.client chunking a generator's pieces
    r = request(a, "POST", "/echo", body=(p for p in [b"x" * 70000, b"y" * 5]),
                headers={"Transfer-Encoding": "chunked"}, encode_chunked=True)
    assert r.body == b"x" * 70000 + b"y" * 5


def test_curl_posts_a_file_body(app, tmp_path):
    a = app(ECHO)
    src = tmp_path / "payload.bin"
    src.write_bytes(os.urandom(1536 * 1024))  # over 1 MiB: curl sends Expect: 100-continue
    body = curl("--data-binary", "@%s" % src, "-H", "Content-Type: application/octet-stream", a.url("/echo"))
    assert body == src.read_bytes()


# --------------------------------------------------------------------------
# chunked and raw replies


def test_send_chunk_streams_and_ends_with_none(app):
    a = app(server() + """
def stream(req):
    req.send_chunk('first,', mime='text/plain', headers={'X-Stream': 'yes'})
    req.send_chunk(b'second,')
    req.send_chunk('')
    req.send_chunk('third')
    req.send_chunk(None)
httpd.route('/stream', uhttpd.GET, stream)
""")
    out = raw_exchange(a, b"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"\r\nTransfer-Encoding: chunked" in head
    assert b"\r\nContent-Type: text/plain" in head
    assert b"\r\nX-Stream: yes" in head
    assert body == b"6\r\nfirst,\r\n7\r\nsecond,\r\n5\r\nthird\r\n0\r\n\r\n"
    assert get(a, "/stream").body == b"first,second,third"


def test_send_chunk_without_final_none_is_ended(app):
    a = app(server() + """
def stream(req):
    req.send_chunk('only')
httpd.route('/s', uhttpd.GET, stream)
""")
    r = get(a, "/s")
    assert (r.status, r.body) == (200, b"only")
    assert r.headers["transfer-encoding"] == "chunked"


def test_send_writes_raw_bytes_and_closes(app):
    a = app(server() + """
def raw(req):
    req.send(b'HTTP/1.1 200 OK\\r\\nX-Raw: 1\\r\\nContent-Length: 3\\r\\n\\r\\n')
    req.send('raw')
httpd.route('/raw', uhttpd.GET, raw)
""")
    out = raw_exchange(a, b"GET /raw HTTP/1.1\r\nHost: t\r\n\r\n")  # keep-alive asked, yet closed
    assert out == b"HTTP/1.1 200 OK\r\nX-Raw: 1\r\nContent-Length: 3\r\n\r\nraw"
    r = get(a, "/raw")
    assert (r.status, r.headers["x-raw"], r.body) == (200, "1", b"raw")


# --------------------------------------------------------------------------
# handler errors


ERRORS = server() + """
def boom(req):
    raise ValueError('kaboom')
def twice(req):
    req.write('one')
    req.write('two')
LAST = []
def twice_caught(req):
    req.write('first')
    try:
        req.send_chunk('more')
    except Exception as e:
        LAST.append('%s: %s' % (type(e).__name__, e))
def last(req):
    req.write(LAST[-1] if LAST else 'nothing')
def silent(req):
    pass
def collect(req):
    import gc
    gc.collect()
    req.write('collected')
httpd.route('/boom', uhttpd.GET, boom)
httpd.route('/twice', uhttpd.GET, twice)
httpd.route('/caught', uhttpd.GET, twice_caught)
httpd.route('/last', uhttpd.GET, last)
httpd.route('/silent', uhttpd.GET, silent)
httpd.route('/gc', uhttpd.GET, collect)
"""


def test_handler_that_raises_or_does_not_reply_is_500_and_logged(app):
    a = app(ERRORS)
    assert get(a, "/silent").status == 500
    err = a.wait_stderr("returned without a reply")
    assert "uhttpd: ERROR: handler for /silent returned without a reply; answering 500" in err, err
    r = get(a, "/boom")
    assert r.status == 500
    err = a.wait_stderr("ValueError: kaboom")
    assert "uhttpd: ERROR: the handler for GET /boom raised an exception" in err, err
    assert "Traceback (most recent call last):" in err
    assert re.search(r'File "[^"]*app\.py", line \d+, in boom', err), err
    assert "ValueError: kaboom" in err
    # and nothing else is said about it (no second, different account)
    assert "handler for /boom returned without a reply" not in err, err
    assert get(a, "/last").body == b"nothing"  # the server carries on


def test_second_write_raises_runtime_error(app):
    a = app(ERRORS)
    r = get(a, "/twice")
    assert (r.status, r.body) == (200, b"one")
    err = a.wait_stderr("RuntimeError: a reply was already sent")
    assert "uhttpd: ERROR: the handler for GET /twice raised an exception" in err, err
    assert re.search(r"RuntimeError: a reply was already sent: write\(\) can be called once", err), err
    assert get(a, "/caught").body == b"first"
    assert get(a, "/last").body == \
        b"RuntimeError: send_chunk() cannot follow write(), send() or the final send_chunk(None)"


def test_server_survives_collection_after_a_raising_handler(app):
    a = app(ERRORS)
    for _ in range(3):
        assert get(a, "/boom").status == 500
    for _ in range(3):
        r = get(a, "/gc")
        assert (r.status, r.body) == (200, b"collected")
    assert a.proc.poll() is None


# --------------------------------------------------------------------------
# argument errors: the same exception type and message on both faces


def attempts(*calls):
    """App lines that try each call and print its outcome."""
    out = "def attempt(label, f):\n" \
          "    try:\n" \
          "        f()\n" \
          "        print(label, 'OK')\n" \
          "    except Exception as e:\n" \
          "        print(label, type(e).__name__, str(e))\n"
    for label, call in calls:
        out += "attempt(%r, lambda: %s)\n" % (label, call)
    return out


def test_constructor_argument_errors(app):
    a = app(server() + "def cb(req):\n    req.write('x')\n" + attempts(
        ("port", "uhttpd.Server(port=70000, host='127.0.0.1')"),
        ("negport", "uhttpd.Server(port=-1, host='127.0.0.1')"),
        ("acl", "uhttpd.Server(port=0, host='127.0.0.1', acl=7)"),
        ("routes0", "uhttpd.Server(port=0, host='127.0.0.1', routes=0)"),
        ("events", "uhttpd.Server(port=0, host='127.0.0.1', events=-1)"),
        ("basic", "uhttpd.Server(port=0, host='127.0.0.1', acl=uhttpd.AUTH_BASIC)"),
        ("basicint", "uhttpd.Server(port=0, host='127.0.0.1', acl=uhttpd.AUTH_BASIC, auth=12345)"),
        ("custom", "uhttpd.Server(port=0, host='127.0.0.1', acl=uhttpd.AUTH_CUSTOM, auth=b'x')"),
        ("tablecb", "uhttpd.Server(port=0, host='127.0.0.1', routes=[('/a', uhttpd.GET, 5)])"),
        ("tableverb", "uhttpd.Server(port=0, host='127.0.0.1', routes=[('/a', 0, cb)])"),
    ))
    assert a.lines() == [
        "port ValueError port must be 0..65535, got 70000",
        "negport ValueError port must be 0..65535, got -1",
        "acl ValueError acl must be uhttpd.AUTH_OPEN, AUTH_BASIC or AUTH_CUSTOM, got 7",
        "routes0 ValueError routes must be at least 1 (the OPTIONS slot)",
        "events ValueError events must be >= 0, got -1",
        "basic ValueError acl=uhttpd.AUTH_BASIC needs auth=, the whole Authorization value, "
        "e.g. b'Basic YW5zd2VyOjQy'",
        "basicint TypeError auth (for AUTH_BASIC) must be bytes or str, got int",
        "custom TypeError auth (for AUTH_CUSTOM) must be callable, got bytes",
        "tablecb TypeError a route callback must be callable, got int",
        "tableverb ValueError methods 0 is not a combination of uhttpd.GET, POST, DELETE, PUT and PATCH",
    ]


def test_tls_is_the_cpython_faces_alone(app, face):
    # SPEC: HTTPS is a CPython-face addition; MicroPython's engine has no TLS.
    a = app(server() + attempts(
        ("tls", "uhttpd.Server(port=0, host='127.0.0.1', tls=('no-cert.pem', 'no-key.pem'))"),
    ))
    (line,) = a.lines()
    if face == "cpython":
        assert line.startswith("tls FileNotFoundError [Errno 2] cannot use certificate file no-cert.pem"), line
    else:
        assert line.startswith("tls TypeError"), line


def test_malformed_route_table_names_the_item(app):
    a = app(server() + "def cb(req):\n    req.write('x')\n" + attempts(
        ("short", "uhttpd.Server(port=0, host='127.0.0.1', routes=[('/a', 1)])"),
        ("long", "uhttpd.Server(port=0, host='127.0.0.1', routes=[['/a', 1, 2, 3]])"),
    ))
    assert a.lines() == [
        "short TypeError each route must be (url, methods, callback), got ('/a', 1)",
        "long TypeError each route must be (url, methods, callback), got ['/a', 1, 2, 3]",
    ]


def test_route_argument_errors(app):
    a = app(server() + "def cb(req):\n    req.write('x')\n" + attempts(
        ("verbs0", "httpd.route('/m', 0, cb)"),
        ("verbs32", "httpd.route('/m', 32, cb)"),
        ("callback", "httpd.route('/m', uhttpd.GET, 'nope')"),
        ("pattern", "httpd.route('api', uhttpd.GET, cb)"),
        ("star", "httpd.route('/a*b', uhttpd.GET, cb)"),
        ("wild", "httpd.route('/api/*', uhttpd.GET, cb)"),
        ("shadow", "httpd.route('/api/x', uhttpd.GET, cb)"),
        ("acl", "httpd.file_acl(5)"),
        ("prefix", "httpd.serve('fs')"),
        ("static", "httpd.receive(False)"),
        ("event", "httpd.event('/ev')"),
    ))
    assert a.lines() == [
        "verbs0 ValueError methods 0 is not a combination of uhttpd.GET, POST, DELETE, PUT and PATCH",
        "verbs32 ValueError methods 32 is not a combination of uhttpd.GET, POST, DELETE, PUT and PATCH",
        "callback TypeError callback must be callable, got str",
        "pattern ValueError invalid route pattern \"api\": must start with '/'",
        "star ValueError invalid route pattern \"/a*b\": '?' and '*' are special only as a "
        "trailing *, ?, ?* or *?",
        "wild OK",
        "shadow ValueError route /api/x GET is shadowed by the earlier route /api/* GET: "
        "register the more specific route first",
        "acl TypeError file_acl callback must be callable, got int",
        "prefix ValueError prefix must start with '/', got \"fs\"",
        "static ValueError receive(dynamic=False) needs prefix, the endpoint that takes uploads",
        "event ValueError event() needs Server(events=N), the number of EventSource clients served at once",
    ]


def test_wrong_argument_types_are_type_errors(app):
    # The message of a failed str/int conversion is the interpreter's own.
    a = app(server() + "def cb(req):\n    req.write('x')\n" + attempts(
        ("url", "httpd.route(123, uhttpd.GET, cb)"),
        ("verbs", "httpd.route('/m', 'GET', cb)"),
        ("data", "httpd.dispatch(5)"),
    ))
    kinds = [line.split(" ")[:2] for line in a.lines()]
    assert kinds == [["url", "TypeError"], ["verbs", "TypeError"], ["data", "TypeError"]]
    assert a.lines()[2] == "data TypeError expected str or a bytes-like object, got int"


def test_reply_argument_errors_in_a_handler(app):
    a = app(server() + """
OUT = []
def attempt(label, f):
    try:
        f()
        OUT.append('%s OK' % label)
    except Exception as e:
        OUT.append('%s %s %s' % (label, type(e).__name__, str(e)))
def h(req):
    attempt('headers', lambda: req.write('x', headers=[('a', 'b')]))
    attempt('value', lambda: req.write('x', headers={'a': 5}))
    attempt('data', lambda: req.write(5))
    attempt('status', lambda: req.write('x', status=600))
    attempt('float', lambda: req.write('x', status=2.5))
    attempt('crlf', lambda: req.write('x', status='200 OK\\r\\nX: 1'))
    attempt('mime', lambda: req.write('x', mime='a\\r\\nb'))
    attempt('field', lambda: req.write('x', headers={'X-A': 'a\\nb'}))
    attempt('query', lambda: req.query(5))
    attempt('readinto', lambda: req.readinto(b'abc'))
    attempt('chunk', lambda: req.send_chunk('a', status=700))
    attempt('write', lambda: req.write('done'))
    attempt('send', lambda: req.send(b'x'))
    attempt('end', lambda: req.send_chunk(None))
    print('\\n'.join(OUT))
httpd.route('/h', uhttpd.GET, h)
""")
    assert get(a, "/h").body == b"done"  # a refused call leaves the reply to make
    assert a.wait_for(lambda app: len(app.lines()) >= 14)
    assert a.lines() == [
        "headers TypeError headers must be a dict, got list",
        "value TypeError expected str or a bytes-like object, got int",
        "data TypeError expected str or a bytes-like object, got int",
        "status ValueError status 600 is not an HTTP status (100..599)",
        "float TypeError expected str or a bytes-like object, got float",
        'crlf ValueError status "200 OK\\r\\nX: 1" must start with a 3-digit code 100..599 '
        "and have no control characters",
        'mime ValueError content type "a\\r\\nb" contains a control character (CR, LF or NUL)',
        'field ValueError header value "a\\nb" contains a control character (CR, LF or NUL)',
        "query TypeError expected str or a bytes-like object, got int",
        "readinto TypeError readinto() needs a writable buffer",
        "chunk ValueError status 700 is not an HTTP status (100..599)",
        "write OK",
        "send RuntimeError send() cannot follow write() or send_chunk()",
        "end RuntimeError send_chunk() cannot follow write(), send() or the final send_chunk(None)",
    ]


def test_request_kept_after_its_callback_and_in_auth(app):
    a = app("""
import uhttpd
KEPT = []
def decide(req):
    KEPT.append(req)
    return True
def keep(req):
    KEPT.append(req)
    req.write('kept')
httpd = uhttpd.Server(port=0, host='127.0.0.1', acl=uhttpd.AUTH_CUSTOM, auth=decide)
httpd.route('/keep', uhttpd.GET, keep)
""")
    assert get(a, "/keep?a=1").body == b"kept"
    # the request line stays readable; the body and the reply are gone
    assert a.eval("(KEPT[1].path(), KEPT[1].query('a'), KEPT[1].method())") == "RESULT ('/keep', b'1', 1)"
    assert a.eval("KEPT[1].write('late')") == \
        "RAISED RuntimeError the request is finished: its callback has returned"
    assert a.eval("KEPT[1].read()") == "RAISED RuntimeError the request is finished: its callback has returned"
    assert a.eval("KEPT[0].uri()") == "RESULT '/keep?a=1'"
    assert a.eval("KEPT[0].write('x')") == \
        "RAISED RuntimeError the body and the reply are not available to the authentication callback"


def test_route_slots_run_out_with_the_accounting(app):
    a = app(server(routes=4) + "def cb(req):\n    req.write('x')\n" + attempts(
        ("a", "httpd.route('/a', uhttpd.GET, cb)"),
        ("b", "httpd.route('/b', uhttpd.GET | uhttpd.POST, cb)"),
        ("c", "httpd.route('/c', uhttpd.GET | uhttpd.POST | uhttpd.DELETE, cb)"),
        ("serve", "httpd.serve()"),
    ))
    assert a.lines() == [
        "a OK",
        "b OK",
        "c ValueError no free route slot for route /c GET|POST|DELETE (needs 3): 4 slots: "
        "OPTIONS 1, route /a GET 1, route /b GET|POST 2; 0 free",
        "serve ValueError no free route slot for serve /* (needs 1): 4 slots: "
        "OPTIONS 1, route /a GET 1, route /b GET|POST 2; 0 free",
    ]
    assert get(a, "/b").body == b"x"
    assert get(a, "/c").status == 404


def test_close_then_port_raises_and_close_is_idempotent(app):
    a = app(server() + attempts(
        ("other", "None"),
    ) + """
other = uhttpd.Server(port=0, host='127.0.0.1')
other.route('/x', uhttpd.GET, lambda req: req.write('x'))
OTHER_PORT = other.port()
other.close()
attempt('port', lambda: other.port())
attempt('route', lambda: other.route('/y', uhttpd.GET, lambda req: None))
attempt('again', lambda: other.close())
try:
    with uhttpd.Server(port=0, host='127.0.0.1') as ctx:
        attempt('inside', lambda: ctx.close())
    print('with OK')
except Exception as e:
    print('with', type(e).__name__, str(e))
attempt('after', lambda: ctx.port())
print('CLOSED_PORT', OTHER_PORT)
""")
    lines = a.lines()
    assert lines[:-1] == [
        "other OK",
        "port RuntimeError server is closed",
        "route RuntimeError server is closed",
        "again OK",
        "inside OK",
        "with OK",
        "after RuntimeError server is closed",
    ]
    closed_port = int(lines[-1].split()[1])
    with pytest.raises(OSError):
        socket.create_connection((HOST, closed_port), timeout=2).close()


# --------------------------------------------------------------------------
# files


def make_tree(root):
    (root / "hello.txt").write_text("hello")
    (root / "style.css").write_text("p {}")
    (root / "sub").mkdir()
    (root / "sub" / "data.json").write_text('{"a": 1}')
    (root / "sub" / "deeper").mkdir()
    (root / "www").mkdir()
    (root / "www" / "index.html").write_text("<p>www</p>")


def test_serve_files_from_the_cwd(app, tmp_path):
    make_tree(tmp_path)
    a = app(server() + "httpd.serve()\n")
    r = get(a, "/hello.txt")
    assert (r.status, r.body) == (200, b"hello")
    assert r.headers["content-type"].startswith("text/plain")
    assert r.headers["content-length"] == "5"
    assert "etag" in r.headers and "last-modified" in r.headers
    assert get(a, "/style.css").headers["content-type"].startswith("text/css")
    assert get(a, "/sub/data.json").body == b'{"a": 1}'
    assert get(a, "/missing.txt").status == 404
    assert get(a, "/sub/nope/x").status == 404
    r = get(a, "/hello.txt", headers={"Range": "bytes=1-3"})
    assert (r.status, r.body) == (206, b"ell")


def test_serve_prefix_and_base(app, tmp_path):
    make_tree(tmp_path)
    a = app(server() + "httpd.serve('/fs', '/www')\n")
    assert get(a, "/fs/index.html").body == b"<p>www</p>"
    assert get(a, "/fs/hello.txt").status == 404
    assert get(a, "/hello.txt").status == 404


def test_directory_listing_json(app, tmp_path):
    make_tree(tmp_path)
    a = app(server() + "httpd.serve()\n")
    r = get(a, "/sub/")
    assert r.status == 200
    assert r.headers["content-type"].startswith("application/json")
    doc = json.loads(r.body)
    assert doc["path"] == "/sub/"
    # each entry ends with its modification time, integer Unix seconds
    mtime = (tmp_path / "sub" / "data.json").stat().st_mtime_ns // 1_000_000_000
    assert {"path": "data.json", "type": "file", "size": 8, "mtime": mtime} in doc["list"]
    assert all(type(e.pop("mtime")) is int for e in doc["list"])
    assert sorted(doc["list"], key=lambda e: e["path"]) == [
        {"path": "..", "type": "directory", "size": 0},
        {"path": "data.json", "type": "file", "size": 8},
        {"path": "deeper", "type": "directory", "size": 0},
    ]
    top = json.loads(get(a, "/").body)
    assert top["path"] == "/"
    assert ".." not in [e["path"] for e in top["list"]]
    assert all(type(e.pop("mtime")) is int for e in top["list"])
    assert {"path": "hello.txt", "type": "file", "size": 5} in top["list"]
    # the directory without its slash redirects to it
    r = get(a, "/sub")
    assert r.status in (301, 308) and r.headers["location"].endswith("/sub/")


def test_folder_zip(app, tmp_path):
    make_tree(tmp_path)
    a = app(server() + "httpd.serve()\n")
    r = get(a, "/sub/?zip")
    assert r.status == 200
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="sub.zip"'
    with zipfile.ZipFile(io.BytesIO(r.body)) as z:
        assert sorted(z.namelist()) == ["data.json", "deeper/"]
        assert z.read("data.json") == b'{"a": 1}'


def test_uploads_put_post_get_back_and_delete(app, tmp_path):
    a = app(server() + "httpd.receive(prefix='/up', delete=True)\nhttpd.serve('/fs')\n")
    r = request(a, "PUT", "/up/a/b.txt", body=b"first")
    assert r.status == 201
    assert (tmp_path / "a" / "b.txt").read_bytes() == b"first"
    assert get(a, "/fs/a/b.txt").body == b"first"
    assert request(a, "POST", "/up/a/b.txt", body=b"second").status == 204
    assert get(a, "/fs/a/b.txt").body == b"second"
    payload = os.urandom(200000)
    assert request(a, "PUT", "/up/big.bin", body=payload).status == 201
    assert get(a, "/fs/big.bin").body == payload
    assert request(a, "POST", "/up/newdir/").status == 201
    assert (tmp_path / "newdir").is_dir()
    assert request(a, "DELETE", "/up/a/b.txt").status == 204
    assert not (tmp_path / "a" / "b.txt").exists()
    assert get(a, "/fs/a/b.txt").status == 404
    assert request(a, "DELETE", "/up/a/b.txt").status == 404
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.endswith(".uhttpd-tmp")]
    assert leftovers == []


def test_move_and_preconditions(app, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"a")
    a = app(server() + "httpd.receive(prefix='/up', delete=True)\nhttpd.serve('/fs')\n")
    tag = get(a, "/fs/a.txt").headers["etag"]
    r = request(a, "MOVE", "/up/a.txt", headers={"Destination": a.url("/up/d/b.txt")})
    assert r.status == 409  # no parent made
    (tmp_path / "d").mkdir()
    r = request(a, "MOVE", "/up/a.txt", headers={"Destination": "/up/d/b.txt", "If-Match": tag})
    assert r.status == 201
    assert (tmp_path / "d" / "b.txt").read_bytes() == b"a"
    assert not (tmp_path / "a.txt").exists()
    (tmp_path / "c.txt").write_bytes(b"c")
    r = request(a, "MOVE", "/up/c.txt", headers={"Destination": "/up/d/b.txt", "Overwrite": "F"})
    assert r.status == 412
    r = request(a, "PUT", "/up/d/b.txt", body=b"x", headers={"If-Match": '"stale"'})
    assert r.status == 412
    assert request(a, "PUT", "/up/d/b.txt", body=b"x", headers={"If-None-Match": "*"}).status == 412
    assert (tmp_path / "d" / "b.txt").read_bytes() == b"a"
    assert request(a, "MOVE", "/up/c.txt", headers={"Destination": "/up/d/b.txt"}).status == 204
    assert (tmp_path / "d" / "b.txt").read_bytes() == b"c"


def test_upload_with_curl_and_static_receiver(app, tmp_path):
    a = app(server() + "httpd.receive(dynamic=False, prefix='/upload')\nhttpd.serve('/fs')\n")
    src = tmp_path / "src.bin"
    src.write_bytes(b"from curl")
    code = curl("-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@%s" % src,
                "-H", 'Content-Disposition: attachement; filename="/landed/x.txt"', a.url("/upload"))
    assert code == b"201"
    assert (tmp_path / "landed" / "x.txt").read_bytes() == b"from curl"
    assert get(a, "/fs/landed/x.txt").body == b"from curl"
    assert request(a, "POST", "/upload", body=b"no name").status == 400


def test_file_acl_read_only_and_status(app, tmp_path):
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "a.txt").write_text("ro")
    (tmp_path / "gone").mkdir()
    (tmp_path / "gone" / "a.txt").write_text("gone")
    (tmp_path / "wo").mkdir()
    (tmp_path / "wo" / "a.txt").write_text("wo")
    (tmp_path / "weird.txt").write_text("weird")
    a = app(server() + """
SEEN = []
def acl(path):
    SEEN.append(path)
    if path.startswith('/ro'):
        return uhttpd.ACL_RO
    if path.startswith('/gone'):
        return 451
    if path.startswith('/wo'):
        return uhttpd.ACL_WO
    if path.startswith('/weird'):
        return 'yes'
    return uhttpd.ACL_RW
httpd.receive(prefix='/up', delete=True)
httpd.serve('/fs')
httpd.file_acl(acl)
""")
    assert get(a, "/fs/ro/a.txt").body == b"ro"
    assert request(a, "PUT", "/up/ro/new.txt", body=b"x").status == 403
    assert not (tmp_path / "ro" / "new.txt").exists()
    assert request(a, "DELETE", "/up/ro/a.txt").status == 403
    assert (tmp_path / "ro" / "a.txt").exists()
    assert get(a, "/fs/gone/a.txt").status == 451
    assert request(a, "PUT", "/up/gone/a.txt", body=b"x").status == 451
    assert get(a, "/fs/wo/a.txt").status == 403
    assert request(a, "PUT", "/up/wo/b.txt", body=b"w").status == 201
    assert get(a, "/fs/weird.txt").status == 403
    assert get(a, "/fs/open.txt").status == 404
    assert request(a, "PUT", "/up/open.txt", body=b"o").status == 201
    assert get(a, "/fs/open.txt").body == b"o"
    seen = a.eval("SEEN")
    assert seen.startswith("RESULT [")
    assert "'/ro/a.txt'" in seen and "'/ro/new.txt'" in seen and "'/weird.txt'" in seen


def test_file_acl_exception_is_500_and_odd_values_are_403(app, tmp_path):
    for name in ["raise", "huge", "s600", "none", "neg", "true"]:
        (tmp_path / (name + ".txt")).write_text(name)
    a = app(server() + """
def acl(path):
    if 'raise' in path:
        raise OSError(5, 'acl broke')
    if 'huge' in path:
        return 10 ** 30
    if 's600' in path:
        return 600
    if 'neg' in path:
        return -5
    if 'true' in path:
        return True
    if 'none' in path:
        return None
    return uhttpd.ACL_RW
httpd.serve('/fs')
httpd.file_acl(acl)
""")
    # an int >= 400 that is no status, a negative one, True, None: 403; an exception: 500
    statuses = {name: get(a, "/fs/%s.txt" % name).status
                for name in ["huge", "s600", "neg", "true", "none", "raise"]}
    err = a.wait_stderr("acl broke")
    logged = "uhttpd: ERROR: the file_acl callback for /raise.txt raised an exception" in err
    assert (statuses, logged) == (
        {"huge": 403, "s600": 403, "neg": 403, "true": 403, "none": 403, "raise": 500}, True), err
    assert re.search(r"in acl\n", err) and "OSError" in err, err
    assert "OverflowError" not in err, err


# --------------------------------------------------------------------------
# auth and CORS


def test_auth_basic(app, tmp_path):
    (tmp_path / "f.txt").write_text("file")
    a = app(server(acl="uhttpd.AUTH_BASIC", auth="b'%s'" % BASIC) + """
httpd.route('/secret', uhttpd.GET, lambda req: req.write('in'))
httpd.serve('/fs')
""")
    r = get(a, "/secret")
    assert r.status == 401
    assert r.headers["www-authenticate"].startswith("Basic")
    assert get(a, "/secret", headers={"Authorization": "Basic d3Jvbmc6cGFzcw=="}).status == 401
    assert get(a, "/secret", headers={"Authorization": BASIC}).body == b"in"
    assert get(a, "/fs/f.txt").status == 401
    assert curl("-u", "answer:42", a.url("/fs/f.txt")) == b"file"
    assert httpx.get(a.url("/secret"), auth=("answer", "42"), timeout=TIMEOUT).text == "in"


CUSTOM = """
import uhttpd
def decide(req):
    t = req.header('x-token')
    if t == b'ok':
        return 'yes'
    if t == b'teapot':
        return 418
    if t == b'big':
        return 700
    if t == b'huge':
        return 10 ** 30
    if t == b'neg':
        return -5
    if t == b'low':
        return 200
    if t == b'zero':
        return 0
    if t == b'raise':
        raise KeyError('auth broke')
    return None
httpd = uhttpd.Server(port=0, host='127.0.0.1', acl=uhttpd.AUTH_CUSTOM, auth=decide)
httpd.route('/c', uhttpd.GET, lambda req: req.write('welcome'))
httpd.serve('/fs')
"""


@pytest.mark.parametrize("token,status", [
    ("ok", 200), ("low", 200), ("teapot", 418), (None, 401), ("zero", 401), ("big", 500), ("huge", 500),
    ("neg", 500), ("raise", 401),
])
def test_auth_custom_verdicts(app, tmp_path, token, status):
    (tmp_path / "f.txt").write_text("file")
    a = app(CUSTOM)
    headers = {"X-Token": token} if token else {}
    r = get(a, "/c", headers=headers)
    assert r.status == status, r
    if status == 200:
        assert r.body == b"welcome"
        assert get(a, "/fs/f.txt", headers=headers).body == b"file"
    else:
        assert get(a, "/fs/f.txt", headers=headers).status == status
    not_a_status = {"big": "700", "huge": "1" + "0" * 30, "neg": "-5"}
    if token in not_a_status:
        line = ("uhttpd: ERROR: the authentication callback returned %s, which is not an HTTP status: "
                "the request is denied with 500" % not_a_status[token])
        err = a.wait_stderr(line)
        assert line in err, err
    if token == "raise":
        err = a.wait_stderr("auth broke")
        assert "KeyError" in err and "in decide" in err, err


def test_auth_callback_that_raises_is_401_and_the_server_survives_collection(app):
    a = app("""
import uhttpd, gc
def decide(req):
    if req.header('x-raise'):
        raise KeyError('auth broke')
    return True
def collect(req):
    gc.collect()
    req.write('collected')
httpd = uhttpd.Server(port=0, host='127.0.0.1', acl=uhttpd.AUTH_CUSTOM, auth=decide)
httpd.route('/gc', uhttpd.GET, collect)
""")
    for _ in range(3):
        assert get(a, "/gc", headers={"X-Raise": "1"}).status == 401
    err = a.wait_stderr("auth broke")
    assert "uhttpd: ERROR: the authentication callback raised an exception" in err, err
    for _ in range(3):
        r = get(a, "/gc")
        assert (r.status, r.body) == (200, b"collected")
    assert a.proc.poll() is None


def test_cors_true_on_every_reply_and_preflight(app):
    a = app(server(cors=True) + """
httpd.route('/api', uhttpd.GET | uhttpd.POST, lambda req: req.write('api'))
""")
    assert get(a, "/api").headers["access-control-allow-origin"] == "*"
    assert get(a, "/missing").headers["access-control-allow-origin"] == "*"
    r = request(a, "OPTIONS", "/api", headers={
        "Origin": "http://example.test", "Access-Control-Request-Method": "POST"})
    assert 200 <= r.status < 300
    assert r.headers["access-control-allow-origin"] == "*"
    allowed = {t.strip() for t in r.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST"} <= allowed and "DELETE" not in allowed


def test_preflight_is_not_challenged_by_auth(app):
    a = app(server(cors=True, acl="uhttpd.AUTH_BASIC", auth="b'%s'" % BASIC) + """
httpd.route('/api', uhttpd.PUT, lambda req: req.write('api'))
""")
    r = request(a, "OPTIONS", "/api", headers={
        "Origin": "http://example.test", "Access-Control-Request-Method": "PUT"})
    assert 200 <= r.status < 300
    assert "PUT" in r.headers["access-control-allow-methods"]
    r = request(a, "PUT", "/api", body=b"")
    assert r.status == 401 and r.headers["access-control-allow-origin"] == "*"


# --------------------------------------------------------------------------
# events


def read_until(sock, marker, timeout=TIMEOUT):
    """Bytes from ``sock`` until ``marker`` has arrived (bounded)."""
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no %r within %s s; got %r" % (marker, timeout, data))
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("closed before %r; got %r" % (marker, data))
        data += chunk
    return data


def dispatch_until_delivered(a, call, timeout=TIMEOUT):
    """Calls ``call`` in the app until it returns True (the listener may take
    a moment to be registered after its response head)."""
    deadline = time.monotonic() + timeout
    while True:
        result = a.eval(call)
        if result == "RESULT True" or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_events_reach_an_event_stream(app):
    a = app(server(events=2) + """
httpd.event('/events')
httpd.route('/fire', uhttpd.GET, lambda req: req.write(repr(httpd.dispatch('from a callback'))))
""")
    assert a.eval("httpd.dispatch('nobody')") == "RESULT False"
    assert get(a, "/fire").body == b"False"
    with socket.create_connection((HOST, a.port), timeout=TIMEOUT) as s:
        s.sendall(b"GET /events HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n")
        head = read_until(s, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert b"text/event-stream" in head.lower()
        assert dispatch_until_delivered(a, "httpd.dispatch('21.5', 'sensor')") == "RESULT True"
        data = read_until(s, b"data: 21.5\n\n")
        assert b"event: sensor\ndata: 21.5\n\n" in data
        assert a.eval("httpd.dispatch('one\\ntwo')") == "RESULT True"
        data = read_until(s, b"data: two\n\n")
        assert b"data: one\ndata: two\n\n" in data
        assert get(a, "/fire").body == b"True"  # dispatch() from a callback's thread
        read_until(s, b"data: from a callback\n\n")
    # the listener is gone once its connection is
    assert a.wait_for(lambda app: app.eval("httpd.dispatch('x')") == "RESULT False", timeout=TIMEOUT)


def test_events_beyond_the_limit_get_503(app):
    a = app(server(events=1) + "httpd.event('/events')\n")
    with socket.create_connection((HOST, a.port), timeout=TIMEOUT) as first:
        first.sendall(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_until(first, b"\r\n\r\n").startswith(b"HTTP/1.1 200")
        assert dispatch_until_delivered(a, "httpd.dispatch('hi')") == "RESULT True"
        r = get(a, "/events")
        assert r.status == 503


def test_events_with_httpx_stream(app):
    a = app(server(events=1) + "httpd.event('/ev')\n")
    with httpx.Client(timeout=TIMEOUT) as client:
        with client.stream("GET", a.url("/ev")) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            assert dispatch_until_delivered(a, "httpd.dispatch(b'ping', 'tick')") == "RESULT True"
            lines = []
            for line in resp.iter_lines():
                lines.append(line)
                if line == "data: ping":
                    break
            assert lines[-2:] == ["event: tick", "data: ping"]


# --------------------------------------------------------------------------
# observations (a host addition; SPEC: "Not on MicroPython")


def test_observations_report_requests_and_file_changes(app, face):
    if face == "micropython":
        a = app(server())
        assert a.eval("httpd.observations(0.05)") == \
            "RAISED AttributeError 'Server' object has no attribute 'observations'"
        return
    a = app(server() + """
httpd.route('/x', uhttpd.GET, lambda req: req.write('x'))
httpd.receive(prefix='/up')
def seen():
    return sorted((o['kind'], o.get('method'), o.get('target'), o.get('status'), o.get('path'),
                   o.get('change')) for o in httpd.observations(1.0))
""")
    assert a.eval("httpd.observations(0.05)") == "RESULT []"
    assert get(a, "/x").status == 200
    assert request(a, "PUT", "/up/o.txt", body=b"z").status == 201
    deadline = time.monotonic() + TIMEOUT
    got = []
    while time.monotonic() < deadline and len(got) < 3:
        line = a.eval("seen()")
        assert line.startswith("RESULT "), line
        got += eval(line[len("RESULT "):])
    assert sorted(got) == [
        ("file", None, None, None, "/o.txt", "created"),
        ("request", "GET", "/x", 200, None, None),
        ("request", "PUT", "/up/o.txt", 201, None, None),
    ]


# --------------------------------------------------------------------------
# stats (a host addition on both faces)


def test_stats_count_requests_bytes_and_event_clients(app):
    a = app(server(events=1) + """
httpd.route('/x', uhttpd.GET, lambda req: req.write('x'))
httpd.event('/events')
def shown():
    s = httpd.stats()
    return (sorted(s), sorted(s['status'].items()), s['connections'], s['event_clients'],
            s['repl_sessions'], s['requests'], s['bytes_in'] > 0, s['bytes_out'] > 0, s['rss'] > 0)
""")
    keys = sorted(["connections", "event_clients", "repl_sessions", "requests", "status",
                   "bytes_in", "bytes_out", "rss"])

    def expected(status, connections, event_clients, requests, moved):
        classes = [(c, status.get(c, 0)) for c in ("1xx", "2xx", "3xx", "4xx", "5xx")]
        return "RESULT %r" % ((keys, classes, connections, event_clients, 0, requests,
                               moved, moved, True),)

    assert a.eval("shown()") == expected({}, 0, 0, 0, False)
    assert get(a, "/x").status == 200
    assert get(a, "/missing").status == 404
    done = expected({"2xx": 1, "4xx": 1}, 0, 0, 2, True)
    assert a.wait_for(lambda app: app.eval("shown()") == done, timeout=TIMEOUT), a.eval("shown()")
    with socket.create_connection((HOST, a.port), timeout=TIMEOUT) as s:
        s.sendall(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 200")
        listening = expected({"2xx": 1, "4xx": 1}, 1, 1, 2, True)
        assert a.wait_for(lambda app: app.eval("shown()") == listening, timeout=TIMEOUT), a.eval("shown()")
    ended = expected({"2xx": 2, "4xx": 1}, 0, 0, 3, True)
    assert a.wait_for(lambda app: app.eval("shown()") == ended, timeout=TIMEOUT), a.eval("shown()")
    assert a.eval("httpd.close()") == "RESULT None"
    assert a.eval("httpd.stats()") == "RAISED RuntimeError server is closed"


# --------------------------------------------------------------------------
# shutdown


def test_exit_without_close_after_serving_is_clean(app):
    # SPEC: when the interpreter exits the server stops cleanly, no crash.
    # Five times: what goes wrong at exit may depend on thread timing.
    for _ in range(5):
        a = app(server() + """
httpd.route('/x', uhttpd.GET, lambda req: req.write('x'))
""", close=False)
        for _ in range(3):
            assert get(a, "/x").body == b"x"
        time.sleep(0.3)  # the server's threads settle into waiting for the next request
        rc = a.stop()
        err = a.stderr_text()
        assert rc == 0, err
        assert "panic" not in err, err
