"""AUTH_BASIC, AUTH_CUSTOM and the CORS policy."""

import threading

import httpx
import pytest

import uhttpd

from conftest import Recorder, get, raw, request, tokens, url

GOOD = b"Basic YW5zd2VyOjQy"  # answer:42


# --------------------------------------------------------------------------
# AUTH_BASIC


@pytest.fixture
def basic(server):
    srv = server(acl=uhttpd.AUTH_BASIC, auth=GOOD)
    rec = Recorder("secret stuff")
    srv.route("/private", uhttpd.GET | uhttpd.POST, rec)
    return srv, rec


def test_basic_without_credentials_is_401(basic):
    srv, rec = basic
    r = get(srv, "/private")
    assert r.status == 401
    assert r.header("WWW-Authenticate") is not None
    assert r.header("WWW-Authenticate").startswith("Basic")
    assert b"secret" not in r.body
    assert rec.calls == 0


@pytest.mark.parametrize(
    "value",
    ["Basic YW5zd2VyOjQz", "Basic YW5zd2VyOjQ", "basic YW5zd2VyOjQy", "Bearer YW5zd2VyOjQy",
     "Basic YW5zd2VyOjQyYW5zd2VyOjQy", ""],
    ids=["wrong-password", "truncated", "lowercase-scheme", "other-scheme", "too-long", "empty"],
)
def test_basic_wrong_credentials_are_401(basic, value):
    srv, rec = basic
    r = get(srv, "/private", headers={"Authorization": value})
    assert r.status == 401
    assert r.header("WWW-Authenticate").startswith("Basic")
    assert rec.calls == 0


def test_basic_right_credentials_run_the_handler(basic):
    srv, rec = basic
    r = get(srv, "/private", headers={"Authorization": GOOD.decode()})
    assert (r.status, r.body) == (200, b"secret stuff")
    assert rec.calls == 1


def test_basic_with_httpx_auth(basic):
    srv, rec = basic
    r = httpx.get(url(srv, "/private"), auth=("answer", "42"), timeout=5)
    assert r.status_code == 200
    assert r.content == b"secret stuff"
    r = httpx.get(url(srv, "/private"), auth=("answer", "41"), timeout=5)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic")
    assert rec.calls == 1


def test_basic_post_body_only_read_when_authorized(basic):
    srv, rec = basic
    r = request(srv, "POST", "/private", body=b"x" * 1000)
    assert r.status == 401
    r = request(srv, "POST", "/private", body=b"x" * 1000, headers={"Authorization": GOOD.decode()})
    assert r.status == 200
    assert rec.calls == 1


def test_basic_keep_alive_after_401(basic):
    srv, rec = basic
    with httpx.Client(timeout=5) as client:
        assert client.get(url(srv, "/private")).status_code == 401
        r = client.get(url(srv, "/private"), headers={"Authorization": GOOD.decode()})
        assert r.status_code == 200
    assert rec.calls == 1


def test_basic_options_is_never_challenged(basic):
    srv, rec = basic
    r = request(srv, "OPTIONS", "/private")
    assert r.status in (200, 204)
    assert {"GET", "POST"} <= tokens(r.header("Allow"))
    assert rec.calls == 0


def test_basic_auth_accepts_bytearray(server):
    srv = server(acl=uhttpd.AUTH_BASIC, auth=bytearray(GOOD))
    srv.route("/p", uhttpd.GET, Recorder("in"))
    assert get(srv, "/p").status == 401
    assert get(srv, "/p", headers={"Authorization": GOOD.decode()}).body == b"in"


# --------------------------------------------------------------------------
# AUTH_CUSTOM


def _custom(server, decide):
    calls = []
    lock = threading.Lock()

    def auth(req):
        with lock:
            calls.append((req.path(), req.header("X-Token")))
        return decide(req)

    srv = server(acl=uhttpd.AUTH_CUSTOM, auth=auth)
    rec = Recorder("handled")
    srv.route("/*", uhttpd.GET | uhttpd.POST, rec)
    return srv, rec, calls


@pytest.mark.parametrize("result", [True, 1, "yes", [1]], ids=["True", "one", "str", "list"])
def test_custom_truthy_allows(server, result):
    srv, rec, calls = _custom(server, lambda req: result)
    r = get(srv, "/x")
    assert (r.status, r.body) == (200, b"handled")
    assert rec.calls == 1
    assert calls == [("/x", None)]


@pytest.mark.parametrize("result", [False, None, 0, "", []], ids=["False", "None", "zero", "empty-str", "empty-list"])
def test_custom_falsy_is_401(server, result):
    srv, rec, calls = _custom(server, lambda req: result)
    r = get(srv, "/x")
    assert r.status == 401
    assert rec.calls == 0
    assert len(calls) == 1


@pytest.mark.parametrize("code", [400, 403, 404, 429, 451, 503])
def test_custom_int_at_least_400_is_the_status(server, code):
    srv, rec, calls = _custom(server, lambda req: code)
    r = get(srv, "/x")
    assert r.status == code
    assert rec.calls == 0


def test_custom_exception_is_401(server):
    def decide(req):
        raise RuntimeError("auth callback exploded")

    srv, rec, calls = _custom(server, decide)
    r = get(srv, "/x")
    assert r.status == 401
    assert rec.calls == 0
    # the server survives
    r = get(srv, "/y")
    assert r.status == 401
    assert len(calls) == 2


def test_custom_sees_path_and_headers(server):
    def decide(req):
        if req.header("X-Token") != b"s3cret":
            return 403
        return req.path().startswith("/ok")

    srv, rec, calls = _custom(server, decide)
    assert get(srv, "/ok/1", headers={"X-Token": "s3cret"}).status == 200
    assert get(srv, "/ok/1", headers={"X-Token": "wrong"}).status == 403
    assert get(srv, "/ok/1").status == 403
    assert get(srv, "/nope", headers={"X-Token": "s3cret"}).status == 401
    assert rec.calls == 1
    assert rec.paths == ["/ok/1"]
    assert calls == [("/ok/1", b"s3cret"), ("/ok/1", b"wrong"), ("/ok/1", None), ("/nope", b"s3cret")]


def test_custom_options_is_never_challenged(server):
    srv, rec, calls = _custom(server, lambda req: False)
    r = request(srv, "OPTIONS", "/x")
    assert r.status in (200, 204)
    assert {"GET", "POST"} <= tokens(r.header("Allow"))
    assert rec.calls == 0


def test_custom_called_once_per_request(server):
    srv, rec, calls = _custom(server, lambda req: True)
    with httpx.Client(timeout=5) as client:
        for i in range(3):
            assert client.get(url(srv, "/r%d" % i)).status_code == 200
    assert [c[0] for c in calls] == ["/r0", "/r1", "/r2"]


# --------------------------------------------------------------------------
# CORS


@pytest.fixture
def cors_srv(server):
    srv = server(cors=True)
    srv.route("/ok", uhttpd.GET, lambda req: req.write("fine"))
    srv.route("/chunked", uhttpd.GET, lambda req: (req.send_chunk("a"), req.send_chunk(None)))

    def boom(req):
        raise ValueError("handler failure")

    srv.route("/boom", uhttpd.GET, boom)
    srv.route("/silent", uhttpd.GET, lambda req: None)
    return srv


@pytest.mark.parametrize(
    "method,path,status",
    [("GET", "/ok", 200), ("GET", "/chunked", 200), ("GET", "/missing", 404),
     ("POST", "/ok", 405), ("GET", "/boom", 500), ("GET", "/silent", 500)],
)
def test_cors_true_on_every_reply(cors_srv, method, path, status):
    r = request(cors_srv, method, path, body=b"" if method == "POST" else None)
    assert r.status == status
    assert r.header("Access-Control-Allow-Origin") == "*"


def test_cors_true_on_protocol_errors(cors_srv):
    r = raw(cors_srv, b"FOO /ok HTTP/1.1\r\nHost: t\r\n\r\n")
    assert r.status == 501
    assert r.header("Access-Control-Allow-Origin") == "*"


def test_cors_preflight(cors_srv):
    r = request(cors_srv, "OPTIONS", "/ok", headers={
        "Origin": "http://elsewhere.example",
        "Access-Control-Request-Method": "GET",
    })
    assert r.status in (200, 204)
    assert r.header("Access-Control-Allow-Origin") == "*"
    assert "GET" in tokens(r.header("Access-Control-Allow-Methods"))
    assert "GET" in tokens(r.header("Allow"))


def test_cors_preflight_lists_the_path_verbs(server):
    srv = server(cors=True)
    srv.route("/api/*", uhttpd.POST | uhttpd.DELETE, lambda req: req.write("x"))
    r = request(srv, "OPTIONS", "/api/item", headers={
        "Origin": "http://elsewhere.example",
        "Access-Control-Request-Method": "DELETE",
    })
    assert r.status in (200, 204)
    methods = tokens(r.header("Access-Control-Allow-Methods"))
    assert {"POST", "DELETE"} <= methods
    assert "PUT" not in methods and "PATCH" not in methods


def test_cors_with_basic_auth_401(server):
    srv = server(cors=True, acl=uhttpd.AUTH_BASIC, auth=GOOD)
    srv.route("/p", uhttpd.GET, lambda req: req.write("p"))
    r = get(srv, "/p")
    assert r.status == 401
    assert r.header("Access-Control-Allow-Origin") == "*"
    r = request(srv, "OPTIONS", "/p", headers={"Origin": "http://x.example",
                                                "Access-Control-Request-Method": "GET"})
    assert r.status in (200, 204)
    assert r.header("Access-Control-Allow-Origin") == "*"


def test_cors_header_not_duplicated(cors_srv):
    r = get(cors_srv, "/ok")
    assert r.header_all("Access-Control-Allow-Origin") == ["*"]


@pytest.mark.parametrize("method,path,status", [("GET", "/ok", 200), ("GET", "/missing", 404), ("POST", "/ok", 405)])
def test_cors_false_has_no_header(server, method, path, status):
    srv = server()
    srv.route("/ok", uhttpd.GET, lambda req: req.write("fine"))
    r = request(srv, method, path, body=b"" if method == "POST" else None)
    assert r.status == status
    assert r.header("Access-Control-Allow-Origin") is None


def test_allow_cors_on_write(server):
    srv = server()
    srv.route("/open", uhttpd.GET, lambda req: req.write("shared", allow_cors=True))
    srv.route("/closed", uhttpd.GET, lambda req: req.write("private", allow_cors=False))
    r = get(srv, "/open")
    assert (r.status, r.body) == (200, b"shared")
    assert r.header("Access-Control-Allow-Origin") == "*"
    r = get(srv, "/closed")
    assert r.header("Access-Control-Allow-Origin") is None


def test_allow_cors_on_send_chunk(server):
    srv = server()

    def handler(req):
        req.send_chunk("part", allow_cors=True)
        req.send_chunk(None)

    srv.route("/c", uhttpd.GET, handler)
    r = get(srv, "/c")
    assert (r.status, r.body) == (200, b"part")
    assert r.header("Access-Control-Allow-Origin") == "*"


def test_cors_with_httpx(cors_srv):
    r = httpx.get(url(cors_srv, "/ok"), headers={"Origin": "http://other.example"}, timeout=5)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
