"""The 'uhttpd' logger: one INFO access record per request, ERROR with the
traceback for a failing handler. Records may arrive late (logger thread)."""

import logging

import uhttpd

from conftest import get, raw, request


def access(log, needle):
    return lambda rec: rec.levelno == logging.INFO and needle in rec.getMessage()


def test_access_log_for_a_request(server, uhttpd_log):
    srv = server()
    srv.route("/my", uhttpd.GET, lambda req: req.write("Hello World"))
    assert get(srv, "/my").status == 200
    recs = uhttpd_log.wait_for(access(uhttpd_log, '"GET /my HTTP/1.1" 200'), timeout=3)
    assert len(recs) == 1, [r.getMessage() for r in uhttpd_log.records]
    assert recs[0].name.startswith("uhttpd")


def test_access_log_for_errors(server, uhttpd_log):
    srv = server()
    srv.route("/only-get", uhttpd.GET, lambda req: req.write("x"))
    assert get(srv, "/nowhere").status == 404
    assert request(srv, "POST", "/only-get", body=b"").status == 405
    assert uhttpd_log.wait_for(access(uhttpd_log, '"GET /nowhere HTTP/1.1" 404'), timeout=3)
    assert uhttpd_log.wait_for(access(uhttpd_log, '"POST /only-get HTTP/1.1" 405'), timeout=3)


def test_access_log_one_record_per_request(server, uhttpd_log):
    srv = server()
    srv.route("/count", uhttpd.GET, lambda req: req.write("c"))
    for _ in range(3):
        assert get(srv, "/count").status == 200
    recs = uhttpd_log.wait_for(access(uhttpd_log, '"GET /count HTTP/1.1" 200'), timeout=3, count=3)
    assert len(recs) == 3
    # no more arrive later
    more = uhttpd_log.wait_for(access(uhttpd_log, '"GET /count HTTP/1.1" 200'), timeout=1.2, count=4)
    assert len(more) == 3


def test_access_log_for_http10_and_status_from_handler(server, uhttpd_log):
    srv = server()
    srv.route("/made", uhttpd.GET, lambda req: req.write("m", status=201))
    r = raw(srv, b"GET /made HTTP/1.0\r\n\r\n")
    assert r.status == 201
    assert uhttpd_log.wait_for(access(uhttpd_log, '"GET /made HTTP/1.0" 201'), timeout=3)


def test_access_log_for_500(server, uhttpd_log):
    srv = server()

    def broken(req):
        raise KeyError("missing-key-marker")

    srv.route("/broken", uhttpd.GET, broken)
    assert get(srv, "/broken").status == 500
    assert uhttpd_log.wait_for(access(uhttpd_log, '"GET /broken HTTP/1.1" 500'), timeout=3)
    errors = uhttpd_log.wait_for(
        lambda rec: rec.levelno >= logging.ERROR and "missing-key-marker" in uhttpd_log.text(rec), timeout=3)
    assert errors
    text = uhttpd_log.text(errors[0])
    assert "KeyError" in text and "broken" in text


def test_successful_requests_log_no_errors(server, uhttpd_log):
    srv = server()
    srv.route("/fine", uhttpd.GET, lambda req: req.write("fine"))
    assert get(srv, "/fine").status == 200
    assert uhttpd_log.wait_for(access(uhttpd_log, '"GET /fine HTTP/1.1" 200'), timeout=3)
    assert uhttpd_log.matching(lambda rec: rec.levelno >= logging.ERROR) == []
