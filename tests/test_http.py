"""HTTP/1.1 on the wire: keep-alive, pipelining, HEAD, 100-continue, request
bodies, limits and malformed requests (which never reach a handler)."""

import time

import pytest

import uhttpd

from conftest import Conn, Recorder, get, raw, raw_until_close

ALL = uhttpd.GET | uhttpd.POST | uhttpd.DELETE | uhttpd.PUT | uhttpd.PATCH


def echo(req):
    """Answers '<VERB-const> <uri> <len(body)> <body>'."""
    body = req.read()
    req.write(b"%d %s %d %s" % (req.method(), req.uri().encode(), len(body), body),
              mime="text/plain")


@pytest.fixture
def echo_srv(server):
    srv = server()
    srv.route("/*", ALL, echo)
    return srv


# --------------------------------------------------------------------------
# basics


def test_simple_get(echo_srv):
    r = raw(echo_srv, b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (r.version, r.status, r.reason) == ("HTTP/1.1", 200, "OK")
    assert r.body == b"1 /hello 0 "
    assert r.header("Content-Length") == str(len(r.body))


def test_http10_without_host_is_served_and_closed(echo_srv):
    data = raw_until_close(echo_srv, b"GET /old HTTP/1.0\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split(b" ")[1] == b"200"
    assert body == b"1 /old 0 "


def test_http10_keep_alive_is_honoured(echo_srv):
    with Conn(echo_srv) as c:
        for i in range(2):
            c.send(b"GET /k%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % i)
            r = c.read_response()
            assert r.status == 200
            assert r.body == b"1 /k%d 0 " % i


def test_absolute_form_target(echo_srv):
    r = raw(echo_srv, b"GET http://t/abs?x=1 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert r.status == 200
    assert r.body == b"1 /abs?x=1 0 "


def test_request_with_body_content_length(echo_srv):
    r = raw(echo_srv, b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
    assert r.status == 200
    assert r.body == b"2 /p 5 hello"


def test_body_sent_in_pieces(echo_srv):
    with Conn(echo_srv) as c:
        c.send(b"PUT /p HTTP/1.1\r\nHost: t\r\nContent-")
        time.sleep(0.05)
        c.send(b"Length: 11\r\n\r\nhello")
        time.sleep(0.05)
        c.send(b" world")
        r = c.read_response()
        assert r.body == b"8 /p 11 hello world"


# --------------------------------------------------------------------------
# keep-alive and pipelining


def test_keep_alive_sequential_requests_share_the_connection(server):
    srv = server()
    seen = []

    def who(req):
        seen.append(req.remote())
        req.write(req.path())

    srv.route("/*", uhttpd.GET, who)
    with Conn(srv) as c:
        for i in range(5):
            c.send(b"GET /n%d HTTP/1.1\r\nHost: t\r\n\r\n" % i)
            r = c.read_response()
            assert (r.status, r.body) == (200, b"/n%d" % i)
    assert len(seen) == 5 and len(set(seen)) == 1


def test_idle_keep_alive_connection_stays_open(echo_srv):
    with Conn(echo_srv) as c:
        c.send(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().status == 200
        time.sleep(1.0)
        c.send(b"GET /b HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().body == b"1 /b 0 "


def test_connection_close_is_honoured(echo_srv):
    with Conn(echo_srv) as c:
        c.send(b"GET /c HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert c.closed_by_peer(3)


def test_pipelined_requests_are_answered_in_order(server):
    srv = server()

    def slow(req):
        time.sleep(0.3)
        req.write("slow")

    srv.route("/slow", uhttpd.GET, slow)
    srv.route("/*", ALL, echo)
    with Conn(srv) as c:
        c.send(
            b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
            b"POST /second HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
            b"HEAD /third HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /fourth?q HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        assert c.read_response().body == b"slow"
        assert c.read_response().body == b"2 /second 3 abc"
        third = c.read_response(method="HEAD")
        assert third.status == 200 and third.body == b""
        assert c.read_response().body == b"1 /fourth?q 0 "


def test_many_pipelined_requests(echo_srv):
    n = 50
    with Conn(echo_srv, timeout=10) as c:
        c.send(b"".join(b"GET /p%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(n)))
        for i in range(n):
            assert c.read_response().body == b"1 /p%d 0 " % i


def test_unread_body_does_not_break_the_connection(server):
    srv = server()
    srv.route("/ignore", uhttpd.POST, lambda req: req.write("ignored"))
    srv.route("/*", ALL, echo)
    with Conn(srv) as c:
        c.send(b"POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789"
               b"GET /next HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().body == b"ignored"
        assert c.read_response().body == b"1 /next 0 "


# --------------------------------------------------------------------------
# HEAD


def test_head_has_headers_but_no_body(server):
    srv = server()
    methods = []

    def page(req):
        methods.append(req.method())
        req.write("Hello World", mime="text/plain")

    srv.route("/page", uhttpd.GET, page)
    with Conn(srv) as c:
        c.send(b"HEAD /page HTTP/1.1\r\nHost: t\r\n\r\n")
        h = c.read_response(method="HEAD")
        assert h.status == 200
        assert h.header("Content-Length") == "11"
        assert h.header("Content-Type") == "text/plain"
        # no body bytes were sent: the next reply parses cleanly
        c.send(b"GET /page HTTP/1.1\r\nHost: t\r\n\r\n")
        g = c.read_response()
        assert g.body == b"Hello World"
    assert methods == [uhttpd.GET, uhttpd.GET]


def test_head_of_chunked_reply_has_no_body(server):
    srv = server()

    def chunky(req):
        req.send_chunk("abc")
        req.send_chunk("def")
        req.send_chunk(None)

    srv.route("/ch", uhttpd.GET, chunky)
    with Conn(srv) as c:
        c.send(b"HEAD /ch HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response(method="HEAD").status == 200
        c.send(b"GET /ch HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().body == b"abcdef"


# --------------------------------------------------------------------------
# Expect: 100-continue


def test_expect_100_continue(echo_srv):
    with Conn(echo_srv) as c:
        c.send(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n")
        interim = c.read_response()
        assert interim.status == 100
        assert interim.head.split(b"\r\n")[0] == b"HTTP/1.1 100 Continue"
        c.send(b"payload")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"2 /up 7 payload")


def test_expect_100_continue_handler_not_reading(server):
    srv = server()
    srv.route("/noread", uhttpd.POST, lambda req: req.write("no thanks", status=413))
    with Conn(srv) as c:
        c.send(b"POST /noread HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n"
               b"Expect: 100-continue\r\n\r\n")
        r = c.final_response()
        assert (r.status, r.body) == (413, b"no thanks")


def test_expect_with_httpx_style_client(echo_srv):
    # http.client does not wait for 100, it just sends: must work too
    with Conn(echo_srv) as c:
        c.send(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc")
        r = c.final_response()
        assert (r.status, r.body) == (200, b"2 /up 3 abc")


# --------------------------------------------------------------------------
# chunked request bodies


def test_chunked_request_body(echo_srv):
    r = raw(echo_srv, b"POST /ch HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"5\r\nhello\r\n6;ext=1\r\n world\r\nA\r\n0123456789\r\n0\r\n\r\n")
    assert r.status == 200
    assert r.body == b"2 /ch 21 hello world0123456789"


def test_chunked_request_body_with_trailer_and_pieces(echo_srv):
    with Conn(echo_srv) as c:
        c.send(b"POST /ch HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab")
        time.sleep(0.05)
        c.send(b"c\r\n")
        time.sleep(0.05)
        c.send(b"0\r\nX-Trailer: yes\r\n\r\nGET /after HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().body == b"2 /ch 3 abc"
        assert c.read_response().body == b"1 /after 0 "


def test_chunked_length_is_minus_one(server):
    srv = server()
    seen = []
    srv.route("/l", uhttpd.POST, lambda req: (seen.append((req.length(), req.read())), req.write("x")))
    r = raw(srv, b"POST /l HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
    assert r.status == 200
    assert seen == [(-1, b"hi")]


# --------------------------------------------------------------------------
# limits and malformed requests: never reach a handler


def test_head_too_large_is_431(server):
    srv = server()
    rec = Recorder()
    srv.route("/*", ALL, rec)
    big = b"".join(b"X-Big-%d: %s\r\n" % (i, b"a" * 6000) for i in range(3))
    r = raw(srv, b"GET / HTTP/1.1\r\nHost: t\r\n" + big + b"\r\n")
    assert r.status == 431
    assert rec.calls == 0
    assert get(srv, "/fine").status == 200


def test_head_just_under_limit_is_served(server):
    srv = server()
    rec = Recorder()
    srv.route("/*", ALL, rec)
    big = b"".join(b"X-Big-%d: %s\r\n" % (i, b"a" * 5000) for i in range(3))  # ~15 KiB
    r = raw(srv, b"GET / HTTP/1.1\r\nHost: t\r\n" + big + b"\r\n")
    assert r.status == 200
    assert rec.calls == 1


def test_uri_too_long_is_414(server):
    srv = server()
    rec = Recorder()
    srv.route("/*", ALL, rec)
    r = raw(srv, b"GET /" + b"u" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    assert r.status == 414
    assert rec.calls == 0
    assert get(srv, "/fine").status == 200


def test_long_uri_under_limit_is_served(server):
    srv = server()
    seen = []
    srv.route("/*", uhttpd.GET, lambda req: (seen.append(len(req.uri())), req.write("ok")))
    uri = b"/" + b"u" * 8000
    r = raw(srv, b"GET " + uri + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    assert r.status == 200
    assert seen == [len(uri)]


MALFORMED = [
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: t\r\nX-A: one\r\n  two\r\n\r\n", 400),
    ("bare-cr", b"GET / HTTP/1.1\r\nHost: t\r\nX-A: one\rtwo\r\n\r\n", 400),
    ("cl-and-te", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("duplicate-cl", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400),
    ("plus-cl", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello", 400),
    ("minus-cl", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\nhello", 400),
    ("junk-cl", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5x\r\n\r\nhello", 400),
    ("missing-host", b"GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400),
    ("unknown-te", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    ("http2", b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
    ("http3", b"GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505),
    ("garbage", b"\x00\x03\x01\x00\xa5garbage\r\n\r\n", 400),
    ("no-version", b"GET /\r\nHost: t\r\n\r\n", 400),
    ("space-in-name", b"GET / HTTP/1.1\r\nHost: t\r\nX A: b\r\n\r\n", 400),
]


@pytest.mark.parametrize("data,status", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_requests_are_refused(server, data, status):
    srv = server()
    rec = Recorder()
    srv.route("/*", ALL, rec)
    r = raw(srv, data, method="GET")
    assert r.status == status
    assert rec.calls == 0
    # the server is still fine
    r = get(srv, "/after")
    assert r.status == 200
    assert rec.calls == 1



# --------------------------------------------------------------------------
# robustness


def test_client_gone_before_reply_does_not_hurt_the_server(server):
    srv = server()
    finished = []

    def late(req):
        time.sleep(0.3)
        try:
            req.write(b"z" * (1 << 20))
        finally:
            finished.append(True)

    srv.route("/late", uhttpd.GET, late)
    srv.route("/ok", uhttpd.GET, lambda req: req.write("ok"))
    c = Conn(srv)
    c.send(b"GET /late HTTP/1.1\r\nHost: t\r\n\r\n")
    c.close()
    deadline = time.monotonic() + 5
    while not finished and time.monotonic() < deadline:
        time.sleep(0.05)
    assert finished == [True]
    assert get(srv, "/ok").body == b"ok"


def test_many_idle_connections_do_not_block_new_requests(echo_srv):
    idle = [Conn(echo_srv) for _ in range(200)]
    try:
        # half of them sent a partial head
        for c in idle[::2]:
            c.send(b"GET /partial HTTP/1.1\r\nHo")
        r = get(echo_srv, "/fresh")
        assert (r.status, r.body) == (200, b"1 /fresh 0 ")
    finally:
        for c in idle:
            c.close()
    assert get(echo_srv, "/again").status == 200


def test_half_sent_request_then_close_does_not_hurt(echo_srv):
    c = Conn(echo_srv)
    c.send(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly a bit")
    c.close()
    time.sleep(0.2)
    assert get(echo_srv, "/ok").status == 200
