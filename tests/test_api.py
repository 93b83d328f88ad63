"""Module constants, Server construction and arguments, Request methods and
Request.write / send_chunk / send as the handler author sees them."""

import errno
import hashlib
import socket

import pytest

import uhttpd

from conftest import HOST, Conn, capture, get, raw, raw_until_close, request


# --------------------------------------------------------------------------
# constants


def test_verb_constants_are_bit_flags():
    assert (uhttpd.GET, uhttpd.POST, uhttpd.DELETE, uhttpd.PUT, uhttpd.PATCH) == (1, 2, 4, 8, 16)
    assert uhttpd.GET | uhttpd.POST | uhttpd.DELETE == 7


def test_auth_constants():
    assert (uhttpd.AUTH_OPEN, uhttpd.AUTH_BASIC, uhttpd.AUTH_CUSTOM) == (0, 1, 2)


def test_acl_constants():
    assert (uhttpd.ACL_RO, uhttpd.ACL_WO, uhttpd.ACL_RW) == (1, 2, 3)
    assert uhttpd.ACL_RO | uhttpd.ACL_WO == uhttpd.ACL_RW


def test_classes_are_exposed():
    assert isinstance(uhttpd.Server, type)
    assert isinstance(uhttpd.Request, type)


def test_request_has_no_public_constructor():
    with pytest.raises(TypeError):
        uhttpd.Request()


# --------------------------------------------------------------------------
# Server construction


def test_port_zero_picks_a_free_port(server):
    srv = server()
    port = srv.port()
    assert isinstance(port, int) and 0 < port < 65536
    srv.route("/", uhttpd.GET, lambda req: req.write("root"))
    r = get(srv, "/")
    assert (r.status, r.body) == (200, b"root")


def test_explicit_port_is_used(server):
    probe = socket.socket()
    probe.bind((HOST, 0))
    port = probe.getsockname()[1]
    probe.close()
    srv = server(port=port)
    assert srv.port() == port
    srv.route("/p", uhttpd.GET, lambda req: req.write("p"))
    assert get(port, "/p").body == b"p"


def test_two_servers_are_independent(server):
    a = server()
    b = server()
    assert a.port() != b.port()
    a.route("/who", uhttpd.GET, lambda req: req.write("a"))
    b.route("/who", uhttpd.GET, lambda req: req.write("b"))
    assert get(a, "/who").body == b"a"
    assert get(b, "/who").body == b"b"


def test_busy_port_raises_eaddrinuse(server):
    holder = socket.socket()
    holder.bind((HOST, 0))
    holder.listen(1)
    try:
        with pytest.raises(OSError) as info:
            server(port=holder.getsockname()[1])
        assert info.value.errno == errno.EADDRINUSE
    finally:
        holder.close()


def test_port_used_by_another_server_raises_eaddrinuse(server):
    first = server()
    with pytest.raises(OSError) as info:
        server(port=first.port())
    assert info.value.errno == errno.EADDRINUSE
    # the first one is unaffected
    first.route("/still", uhttpd.GET, lambda req: req.write("here"))
    assert get(first, "/still").body == b"here"


def test_positional_arguments_follow_the_seed_order(server):
    # port, acl, cors, routes, auth, events
    srv = server(0, uhttpd.AUTH_OPEN, True, 8, None, 0, host=HOST)
    srv.route("/c", uhttpd.GET, lambda req: req.write("c"))
    r = get(srv, "/c")
    assert r.status == 200
    assert r.header("Access-Control-Allow-Origin") == "*"


def test_host_root_ext_workers_are_keyword_only():
    with pytest.raises(TypeError):
        uhttpd.Server(0, 0, False, 8, None, 0, HOST)


def test_all_keywords_accepted(server, tmp_path):
    (tmp_path / "sd").mkdir()
    srv = server(
        port=0, acl=uhttpd.AUTH_OPEN, cors=False, routes=8, auth=None, events=0,
        host=HOST, root=str(tmp_path), ext="/sd", workers=2,
    )
    srv.route("/k", uhttpd.GET, lambda req: req.write("k"))
    assert get(srv, "/k").body == b"k"


@pytest.mark.parametrize(
    "kw",
    [
        {"port": -1},
        {"port": 65536},
        {"acl": 7},
        {"acl": -1},
        {"routes": 0},
        {"routes": -3},
        {"events": -1},
        {"workers": 0},
        {"workers": -1},
    ],
    ids=lambda kw: "-".join("%s=%s" % kv for kv in kw.items()),
)
def test_bad_argument_values_raise_value_error(kw):
    kw.setdefault("port", 0)
    with pytest.raises(ValueError):
        srv = uhttpd.Server(host=HOST, **kw)
        srv.close()


@pytest.mark.parametrize(
    "kw",
    [
        {"port": "80"},
        {"port": 1.5},
        {"acl": "open"},
        {"routes": 2.5},
        {"events": "1"},
        {"workers": "8"},
        {"host": 127},
    ],
    ids=lambda kw: "-".join("%s=%r" % kv for kv in kw.items()),
)
def test_bad_argument_types_raise_type_error(kw):
    kw.setdefault("port", 0)
    kw.setdefault("host", HOST)
    with pytest.raises(TypeError):
        srv = uhttpd.Server(**kw)
        srv.close()


def test_auth_basic_without_auth_raises_value_error():
    with pytest.raises(ValueError):
        srv = uhttpd.Server(port=0, host=HOST, acl=uhttpd.AUTH_BASIC)
        srv.close()


def test_auth_basic_with_non_bytes_auth_raises_type_error():
    with pytest.raises(TypeError):
        srv = uhttpd.Server(port=0, host=HOST, acl=uhttpd.AUTH_BASIC, auth=12345)
        srv.close()


def test_auth_custom_with_non_callable_raises_type_error():
    with pytest.raises(TypeError):
        srv = uhttpd.Server(port=0, host=HOST, acl=uhttpd.AUTH_CUSTOM, auth=b"not callable")
        srv.close()


# --------------------------------------------------------------------------
# route() argument checking (routing behaviour itself is in test_router.py)


@pytest.mark.parametrize("pattern", ["", "api", "/a*b", "/a b", "/*/x", "/a\r\n"])
def test_invalid_route_pattern_raises_value_error(server, pattern):
    srv = server()
    with pytest.raises(ValueError):
        srv.route(pattern, uhttpd.GET, lambda req: None)


@pytest.mark.parametrize("methods", [0, 32, 64 | uhttpd.GET, -1])
def test_invalid_methods_raise_value_error(server, methods):
    srv = server()
    with pytest.raises(ValueError):
        srv.route("/m", methods, lambda req: None)


def test_non_callable_callback_raises_type_error(server):
    srv = server()
    with pytest.raises(TypeError):
        srv.route("/x", uhttpd.GET, "not a function")


def test_non_str_url_raises_type_error(server):
    srv = server()
    with pytest.raises(TypeError):
        srv.route(123, uhttpd.GET, lambda req: None)


def test_non_int_methods_raises_type_error(server):
    srv = server()
    with pytest.raises(TypeError):
        srv.route("/x", "GET", lambda req: None)


# --------------------------------------------------------------------------
# Request


def _inspect(server, route="/*", methods=uhttpd.GET | uhttpd.POST | uhttpd.PUT | uhttpd.PATCH | uhttpd.DELETE,
             body_reader=None, **kw):
    """A server whose handler records what the Request tells it."""
    srv = server(**kw)
    seen = {}

    def handler(req):
        seen["type"] = type(req)
        seen["method"] = req.method()
        seen["uri"] = req.uri()
        seen["path"] = req.path()
        seen["length"] = req.length()
        seen["headers"] = req.headers()
        seen["remote"] = req.remote()
        seen["server"] = req.server()
        seen["body"] = body_reader(req) if body_reader else req.read()
        req.write("inspected")

    srv.route(route, methods, handler)
    return srv, seen


def test_handler_gets_a_request_instance(server):
    srv, seen = _inspect(server)
    assert get(srv, "/x").status == 200
    assert seen["type"] is uhttpd.Request
    assert seen["type"].__name__ == "Request"


@pytest.mark.parametrize(
    "verb,const",
    [("GET", uhttpd.GET), ("POST", uhttpd.POST), ("DELETE", uhttpd.DELETE),
     ("PUT", uhttpd.PUT), ("PATCH", uhttpd.PATCH), ("HEAD", uhttpd.GET)],
)
def test_method(server, verb, const):
    srv, seen = _inspect(server)
    r = request(srv, verb, "/m")
    assert r.status == 200
    assert seen["method"] == const
    assert isinstance(seen["method"], int)


def test_uri_path_with_query_and_fragment(server):
    srv, seen = _inspect(server)
    r = raw(srv, b"GET /some/where?a=1&b=two#frag HTTP/1.1\r\nHost: t\r\n\r\n")
    assert r.status == 200
    assert seen["uri"] == "/some/where?a=1&b=two#frag"
    assert seen["path"] == "/some/where"
    assert isinstance(seen["uri"], str) and isinstance(seen["path"], str)


def test_uri_and_path_without_query(server):
    srv, seen = _inspect(server)
    assert get(srv, "/plain/path").status == 200
    assert seen["uri"] == "/plain/path"
    assert seen["path"] == "/plain/path"


def test_length_is_content_length(server):
    srv, seen = _inspect(server)
    r = request(srv, "POST", "/l", body=b"0123456789")
    assert r.status == 200
    assert seen["length"] == 10
    assert seen["body"] == b"0123456789"


def test_length_zero_without_body(server):
    srv, seen = _inspect(server)
    assert get(srv, "/l").status == 200
    assert seen["length"] == 0
    assert seen["body"] == b""


def test_length_minus_one_for_chunked_body(server):
    srv, seen = _inspect(server)
    r = raw(srv, b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert r.status == 200
    assert seen["length"] == -1
    assert seen["body"] == b"abcde"


def test_header_is_case_insensitive_bytes(server):
    srv = server()
    seen = {}

    def handler(req):
        seen["a"] = req.header("X-Custom")
        seen["b"] = req.header("x-custom")
        seen["c"] = req.header("X-CUSTOM")
        seen["host"] = req.header("Host")
        seen["missing"] = req.header("X-Missing")
        req.write("h")

    srv.route("/h", uhttpd.GET, handler)
    r = raw(srv, b"GET /h HTTP/1.1\r\nHost: example.test\r\nX-Custom: Value One\r\n\r\n")
    assert r.status == 200
    assert seen["a"] == seen["b"] == seen["c"] == b"Value One"
    assert isinstance(seen["a"], bytes)
    assert seen["host"] == b"example.test"
    assert seen["missing"] is None


def test_headers_dict_has_lowercase_names_and_bytes_values(server):
    srv, seen = _inspect(server)
    r = raw(srv, b"GET /hs HTTP/1.1\r\nHost: example.test\r\nX-First: 1\r\nx-SECOND: two\r\n"
                 b"User-Agent: tester/1.0\r\n\r\n")
    assert r.status == 200
    h = seen["headers"]
    assert isinstance(h, dict)
    assert all(isinstance(k, str) and k == k.lower() for k in h)
    assert all(isinstance(v, bytes) for v in h.values())
    assert h["host"] == b"example.test"
    assert h["x-first"] == b"1"
    assert h["x-second"] == b"two"
    assert h["user-agent"] == b"tester/1.0"


def test_remote_is_client_address(server):
    srv, seen = _inspect(server)
    with Conn(srv) as c:
        local = c.sock.getsockname()
        c.send(b"GET /r HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().status == 200
    ip, port = seen["remote"]
    assert isinstance(ip, str) and isinstance(port, int)
    assert (ip, port) == (local[0], local[1])


def test_server_returns_the_same_object(server):
    srv, seen = _inspect(server)
    assert get(srv, "/s").status == 200
    assert seen["server"] is srv


QUERY = "/q?a=1&b&a=2&c=&sp=hello+w%C3%B6rld%21&k%3D=v%26w"


def _query_server(server, fn):
    srv = server()
    seen = {}

    def handler(req):
        seen["r"] = fn(req)
        req.write("q")

    srv.route("/q", uhttpd.GET, handler)
    return srv, seen


def test_query_first_value_with_str_and_bytes_keys(server):
    srv, seen = _query_server(server, lambda req: {
        "a": req.query("a"), "a_b": req.query(b"a"), "b": req.query("b"), "c": req.query("c"),
        "sp": req.query("sp"), "k=": req.query("k="), "none": req.query("zz"),
        "none_b": req.query(b"zz"),
    })
    assert get(srv, QUERY).status == 200
    r = seen["r"]
    assert r["a"] == b"1" and r["a_b"] == b"1"
    assert r["b"] is True
    assert r["c"] == b""
    assert r["sp"] == "hello wörld!".encode()
    assert r["k="] == b"v&w"
    assert r["none"] is None and r["none_b"] is None


def test_query_without_query_string(server):
    srv, seen = _query_server(server, lambda req: (req.query("a"), req.parse_qs()))
    assert get(srv, "/q").status == 200
    assert seen["r"] == (None, {})


def test_query_with_bad_key_type_raises_type_error(server):
    srv, seen = _query_server(server, lambda req: capture(lambda: req.query(12)))
    assert get(srv, "/q?12=1").status == 200
    assert seen["r"][0] is TypeError


def test_parse_qs_last_value_wins(server):
    srv, seen = _query_server(server, lambda req: req.parse_qs())
    assert get(srv, QUERY).status == 200
    assert seen["r"] == {
        b"a": b"2",
        b"b": True,
        b"c": b"",
        b"sp": "hello wörld!".encode(),
        b"k=": b"v&w",
    }


def test_read_with_sizes(server):
    def reader(req):
        return [req.read(3), req.read(4), req.read(), req.read(), req.read(5)]

    srv, seen = _inspect(server, body_reader=reader)
    r = request(srv, "POST", "/rd", body=b"abcdefghij")
    assert r.status == 200
    assert seen["body"] == [b"abc", b"defg", b"hij", b"", b""]


def test_readinto_bytearray(server):
    def reader(req):
        out, counts = b"", []
        buf = bytearray(4)
        while True:
            n = req.readinto(buf)
            counts.append(n)
            if n == 0:
                break
            out += bytes(buf[:n])
        return out, counts

    srv, seen = _inspect(server, body_reader=reader)
    r = request(srv, "POST", "/ri", body=b"abcdefghij")
    assert r.status == 200
    data, counts = seen["body"]
    assert data == b"abcdefghij"
    assert sum(counts) == 10 and counts[-1] == 0
    assert all(0 < n <= 4 for n in counts[:-1])


def test_readinto_memoryview_slice(server):
    def reader(req):
        backing = bytearray(b"." * 12)
        view = memoryview(backing)[2:8]
        got = 0
        while got < 6:
            n = req.readinto(view[got:])
            if n == 0:
                break
            got += n
        return got, bytes(backing)

    srv, seen = _inspect(server, body_reader=reader)
    r = request(srv, "POST", "/mv", body=b"ABCDEF")
    assert r.status == 200
    assert seen["body"] == (6, b"..ABCDEF....")


def test_readinto_immutable_buffer_raises_type_error(server):
    srv, seen = _inspect(server, body_reader=lambda req: capture(lambda: req.readinto(b"xxxx")))
    r = request(srv, "POST", "/im", body=b"abcd")
    assert r.status == 200
    assert seen["body"][0] is TypeError


def test_large_body_read_in_pieces(server):
    payload = bytes(range(256)) * 8192  # 2 MiB

    def reader(req):
        h = hashlib.sha256()
        buf = bytearray(65536)
        total = 0
        while True:
            n = req.readinto(buf)
            if n == 0:
                break
            h.update(buf[:n])
            total += n
        return total, h.hexdigest()

    srv, seen = _inspect(server, body_reader=reader)
    r = request(srv, "POST", "/big", body=payload, timeout=20)
    assert r.status == 200
    assert seen["length"] == len(payload)
    assert seen["body"] == (len(payload), hashlib.sha256(payload).hexdigest())


# --------------------------------------------------------------------------
# write


def _writer(server, fn, route="/w", **kw):
    srv = server(**kw)
    srv.route(route, uhttpd.GET | uhttpd.POST, fn)
    return srv


def test_write_defaults(server):
    srv = _writer(server, lambda req: req.write("Hello"))
    r = raw(srv, b"GET /w HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (r.version, r.status, r.reason) == ("HTTP/1.1", 200, "OK")
    assert r.header("Content-Type").split(";")[0].strip() == "text/html"
    assert r.header("Content-Length") == "5"
    assert r.body == b"Hello"
    assert r.header("Access-Control-Allow-Origin") is None


def test_write_str_is_utf8_and_length_counts_bytes(server):
    srv = _writer(server, lambda req: req.write("héllo €"))
    r = get(srv, "/w")
    assert r.body == "héllo €".encode()
    assert r.header("Content-Length") == str(len("héllo €".encode()))


@pytest.mark.parametrize("data", [b"bytes body", bytearray(b"bytes body"), memoryview(b"bytes body")],
                         ids=["bytes", "bytearray", "memoryview"])
def test_write_bytes_like(server, data):
    srv = _writer(server, lambda req: req.write(data))
    r = get(srv, "/w")
    assert r.status == 200
    assert r.body == b"bytes body"


def test_write_empty_body(server):
    srv = _writer(server, lambda req: req.write(b""))
    r = raw(srv, b"GET /w HTTP/1.1\r\nHost: t\r\n\r\n")
    assert r.status == 200
    assert r.header("Content-Length") == "0"
    assert r.body == b""


def test_write_large_body(server):
    payload = hashlib.sha256(b"seed").digest() * 40000  # 1.28 MB
    srv = _writer(server, lambda req: req.write(payload, mime="application/octet-stream"))
    r = request(srv, "GET", "/w", timeout=20)
    assert r.status == 200
    assert r.header("Content-Length") == str(len(payload))
    assert r.body == payload


@pytest.mark.parametrize(
    "status,code,reason",
    [(404, 404, "Not Found"), (201, 201, "Created"), (503, 503, "Service Unavailable"),
     ("201 Created", 201, "Created"), (b"202 Accepted", 202, "Accepted"),
     ("299 Whatever You Like", 299, "Whatever You Like")],
)
def test_write_status(server, status, code, reason):
    srv = _writer(server, lambda req: req.write("s", status=status))
    r = raw(srv, b"GET /w HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (r.status, r.reason) == (code, reason)
    assert r.head.split(b"\r\n")[0] == ("HTTP/1.1 %d %s" % (code, reason)).encode()
    assert r.body == b"s"


@pytest.mark.parametrize("mime", ["application/json", b"text/csv; charset=utf-8"])
def test_write_mime(server, mime):
    srv = _writer(server, lambda req: req.write("{}", mime=mime))
    r = get(srv, "/w")
    expected = mime.decode() if isinstance(mime, bytes) else mime
    assert r.header("Content-Type") == expected


def test_write_extra_headers_str_and_bytes(server):
    srv = _writer(server, lambda req: req.write(
        "x", headers={"X-One": "1", b"X-Two": b"two", "Cache-Control": b"no-store"}))
    r = get(srv, "/w")
    assert r.status == 200
    assert r.header("X-One") == "1"
    assert r.header("X-Two") == "two"
    assert r.header("Cache-Control") == "no-store"


def _write_error(server, **write_kw):
    seen = {}

    def handler(req):
        seen["r"] = capture(lambda: req.write("bad", **write_kw))
        if seen["r"][0] != "ok":
            req.write("after error")

    srv = _writer(server, handler)
    r = get(srv, "/w")
    return r, seen["r"]


@pytest.mark.parametrize("status", [99, 600, 0, -200, 1000])
def test_write_int_status_out_of_range_raises_value_error(server, status):
    r, result = _write_error(server, status=status)
    assert result[0] is ValueError
    # the handler could still answer after the refused call
    assert (r.status, r.body) == (200, b"after error")


@pytest.mark.parametrize(
    "kw",
    [
        {"status": "200 OK\r\nX-Injected: 1"},
        {"status": b"200 OK\nX: y"},
        {"mime": "text/plain\r\nX-Injected: 1"},
        {"mime": b"text/plain\rX"},
        {"headers": {"X-Ok": "fine\r\nX-Injected: 1"}},
        {"headers": {"X-Ok\r\nX-Injected": "1"}},
        {"headers": {b"X-Ok": b"a\nb"}},
    ],
    ids=["status-crlf", "status-lf", "mime-crlf", "mime-cr", "value-crlf", "name-crlf", "value-lf"],
)
def test_write_crlf_injection_raises_value_error(server, kw):
    r, result = _write_error(server, **kw)
    assert result[0] is ValueError
    assert (r.status, r.body) == (200, b"after error")
    assert r.header("X-Injected") is None


@pytest.mark.parametrize(
    "args,kw",
    [((12345,), {}), (([1, 2],), {}), (("x",), {"headers": {"X-Int": 5}}), (("x",), {"status": 2.5})],
    ids=["int-data", "list-data", "int-header-value", "float-status"],
)
def test_write_wrong_types_raise_type_error(server, args, kw):
    seen = {}

    def handler(req):
        seen["r"] = capture(lambda: req.write(*args, **kw))
        req.write("after error")

    srv = _writer(server, handler)
    r = get(srv, "/w")
    assert seen["r"][0] is TypeError
    assert r.body == b"after error"


# --------------------------------------------------------------------------
# send_chunk / send


def test_send_chunk_reply(server):
    def handler(req):
        req.send_chunk("first,", status=201, mime="text/plain", headers={"X-Chunky": "yes"})
        req.send_chunk(b"second,")
        req.send_chunk(bytearray(b"third"))
        req.send_chunk(None)

    srv = _writer(server, handler)
    with Conn(srv) as c:
        c.send(b"GET /w HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert r.status == 201
        assert r.header("Transfer-Encoding").lower() == "chunked"
        assert r.header("Content-Length") is None
        assert r.header("Content-Type") == "text/plain"
        assert r.header("X-Chunky") == "yes"
        assert r.body == b"first,second,third"
        assert r.raw_body.endswith(b"0\r\n\r\n")
        # the connection stays usable after a chunked reply
        c.send(b"GET /w HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().body == b"first,second,third"


def test_send_chunk_defaults(server):
    def handler(req):
        req.send_chunk("abc")
        req.send_chunk(None)

    srv = _writer(server, handler)
    r = raw(srv, b"GET /w HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (r.status, r.reason) == (200, "OK")
    assert r.header("Content-Type").split(";")[0].strip() == "text/html"
    assert r.body == b"abc"


def test_send_chunk_without_final_none_is_completed(server):
    def handler(req):
        req.send_chunk("never ")
        req.send_chunk("finished")

    srv = _writer(server, handler)
    with Conn(srv) as c:
        c.send(b"GET /w HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == b"never finished"
        assert r.raw_body.endswith(b"0\r\n\r\n")
        c.send(b"GET /w HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().body == b"never finished"


def test_send_chunk_many_pieces(server):
    pieces = [("%05d|" % i).encode() * 20 for i in range(1000)]

    def handler(req):
        for p in pieces:
            req.send_chunk(p)
        req.send_chunk(None)

    srv = _writer(server, handler)
    r = request(srv, "GET", "/w", timeout=20)
    assert r.status == 200
    assert r.body == b"".join(pieces)


def test_send_chunk_to_http10_client_is_unframed_and_closed(server):
    def handler(req):
        req.send_chunk("abc", mime="text/plain")
        req.send_chunk("defg")
        req.send_chunk(None)

    srv = _writer(server, handler)
    data = raw_until_close(srv, b"GET /w HTTP/1.0\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split(b" ")[1] == b"200"
    assert b"chunked" not in head.lower()
    assert body == b"abcdefg"


def test_send_writes_raw_bytes_and_closes(server):
    reply = b"HTTP/1.1 299 Totally Custom\r\nX-Raw: yes\r\nContent-Length: 3\r\n\r\nabc"

    def handler(req):
        req.send(reply[:20])
        req.send(bytearray(reply[20:]))

    srv = _writer(server, handler)
    data = raw_until_close(srv, b"GET /w HTTP/1.1\r\nHost: t\r\n\r\n")
    assert data == reply


def test_send_with_http_client(server):
    srv = _writer(server, lambda req: req.send(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nraw!"))
    r = get(srv, "/w")
    assert r.status == 200
    assert r.body == b"raw!"
    assert r.header("Content-Type") == "text/plain"

