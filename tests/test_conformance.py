"""HTTP/1.1 protocol conformance over raw sockets, table-driven.

The cases re-implement (they do not copy) what three public test lists check:

* esp_http_server's black-box status-code tests (esp-idf's http_server
  advanced-tests script): URI too long, header too long, bad request line,
  unsupported method / version, 404 and 405, chunked bodies, arbitrary line
  terminations, left-over data after a body, pipelining;
* Http11Probe's request-smuggling and malformed-input cases: CL.TE, TE.CL,
  TE obfuscations (obs-fold, trailing whitespace, casing, duplicates, lists),
  Content-Length variants (duplicates, lists, signs, spaces), bare CR / LF,
  NUL and control bytes, whitespace before the colon, absolute-form targets,
  Host rules, invalid versions and methods, chunk-size overflow, chunk
  extensions, bad chunk terminators, garbage after the last chunk, requests
  hidden in bodies;
* llhttp's request-corpus categories: methods, URLs, Connection header
  handling, keep-alive, Upgrade, pipelining.

Every case is raw bytes, the status(es) the client must see (or ``CLOSED``:
the connection is closed without any reply), how many times the catch-all
handler may run (a counter shows rejected requests never reach it), what
happens to the connection afterwards, and a note on why. Every response is
parsed by ``h11`` acting as a strict client, so a malformed response fails
the test even when its status is right.

What to expect comes from README.md "Limits" and SPEC.md: 400 for malformed
requests and smuggling attempts (and the connection closes), 414, 431, 501 for
an unknown transfer coding or method, 505 for a version other than 1.0/1.1,
417 for an Expect other than 100-continue, 405 with Allow, 404; keep-alive
otherwise.
"""

import socket
import threading

import h11
import pytest

import uhttpd

from conftest import HOST

ALL = uhttpd.GET | uhttpd.POST | uhttpd.PUT | uhttpd.DELETE | uhttpd.PATCH
CLOSED = "closed without reply"
IO_TIMEOUT = 3.0


# --------------------------------------------------------------------------
# the servers


class Counter:
    """The catch-all callback: counts calls, records paths, echoes
    '<method const> <uri> <len>:<body>'."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = 0
        self.paths = []

    def reset(self):
        with self.lock:
            self.calls = 0
            self.paths = []

    def __call__(self, req):
        with self.lock:
            self.calls += 1
            self.paths.append(req.path())
        body = req.read()
        req.write(b"%d %s %d:%s" % (req.method(), req.uri().encode(), len(body), body),
                  mime="text/plain")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("conformance"))
    counter = Counter()
    main = uhttpd.Server(port=0, host=HOST, root=root)
    main.route("/*", ALL, counter)
    narrow = uhttpd.Server(port=0, host=HOST, root=root)
    narrow.ws("/ws", "pw")
    narrow.route("/get-only", uhttpd.GET, counter)
    narrow.route("/api/*", uhttpd.GET | uhttpd.POST, counter)
    try:
        yield {"main": main, "narrow": narrow, "counter": counter}
    finally:
        main.close()
        narrow.close()


PING = {"main": b"GET /__ping HTTP/1.1\r\nHost: t\r\n\r\n",
        "narrow": b"GET /get-only HTTP/1.1\r\nHost: t\r\n\r\n"}


# --------------------------------------------------------------------------
# the table


class Case:
    def __init__(self, id, raw, expect, calls, note, srv="main", after="auto", methods=None,
                 shut=False, echo=None, allow=None, paths=None):
        self.id = id
        self.raw = raw
        # expect: an int, a tuple of statuses (pipelining, 1xx first), CLOSED,
        # or a set of alternatives (each an int or a tuple)
        self.expect = expect
        self.calls = calls  # exact handler calls, or None: may run
        self.note = note
        self.srv = srv
        self.after = after  # "keep", "close", None (either) or "auto"
        self.methods = methods
        self.shut = shut  # half-close (FIN) after sending
        self.echo = echo  # the first final response's body must end with this
        self.allow = allow  # the Allow header's tokens on the last response
        self.paths = paths  # the paths the handler saw

    def alternatives(self):
        alts = self.expect if isinstance(self.expect, (set, frozenset)) else [self.expect]
        out = []
        for a in alts:
            out.append(a if a == CLOSED or isinstance(a, tuple) else (a,))
        return out

    def resolved_after(self, statuses):
        if self.after != "auto":
            return self.after
        if not statuses:
            return None
        last = statuses[-1]
        if last in (400, 414, 431, 505):
            return "close"
        if last == 417:
            return None
        return "keep"


def R(head, body=b""):
    """A request from a head written with '\n' line ends (CRLF on the wire)."""
    return head.replace(b"\n", b"\r\n") + b"\r\n" + body


WS_KEY = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n"
CHUNKED = b"Transfer-Encoding: chunked\n"
HIDDEN = b"GET /admin HTTP/1.1\r\nHost: t\r\n\r\n"

CASES = [
    # ---------------------------------------------------------------- methods
    Case("method-get", R(b"GET /m HTTP/1.1\nHost: t\n"), 200, 1,
         "plain GET reaches the catch-all", echo=b"1 /m 0:"),
    Case("method-head", R(b"HEAD /m HTTP/1.1\nHost: t\n"), 200, 1,
         "HEAD reaches the GET handler; h11 checks no body follows", methods=["HEAD"]),
    Case("method-post", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 2\n", b"hi"), 200, 1,
         "POST with a Content-Length body is echoed", echo=b"2 /m 2:hi"),
    Case("method-put", R(b"PUT /m HTTP/1.1\nHost: t\nContent-Length: 2\n", b"hi"), 200, 1,
         "PUT is a host addition verb", echo=b"8 /m 2:hi"),
    Case("method-delete", R(b"DELETE /m HTTP/1.1\nHost: t\n"), 200, 1,
         "DELETE without a body", echo=b"4 /m 0:"),
    Case("method-patch", R(b"PATCH /m HTTP/1.1\nHost: t\nContent-Length: 1\n", b"x"), 200, 1,
         "PATCH is a host addition verb", echo=b"16 /m 1:x"),
    Case("method-options-path", R(b"OPTIONS /m HTTP/1.1\nHost: t\n"), 204, 0,
         "OPTIONS is answered by the server (never the callback) with the registered verbs",
         allow={"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}),
    Case("method-options-star", R(b"OPTIONS * HTTP/1.1\nHost: t\n"), 204, 0,
         "asterisk-form is valid for OPTIONS only (RFC 9112 3.2.4)"),
    Case("method-unknown", R(b"FOO /m HTTP/1.1\nHost: t\n"), 501, 0,
         "a well-formed but unknown method is 501 (README), connection kept"),
    Case("method-trace", R(b"TRACE /m HTTP/1.1\nHost: t\n"), 501, 0,
         "TRACE is not implemented (and must never echo the request)"),
    Case("method-propfind", R(b"PROPFIND /m HTTP/1.1\nHost: t\n"), 501, 0,
         "WebDAV method: not implemented"),
    Case("method-mkcol", R(b"MKCOL /m HTTP/1.1\nHost: t\n"), 501, 0,
         "WebDAV method: not implemented"),
    Case("method-purge", R(b"PURGE /m HTTP/1.1\nHost: t\n"), 501, 0,
         "cache-invalidation method in llhttp's list: not implemented"),
    Case("method-lowercase", R(b"get /m HTTP/1.1\nHost: t\n"), 501, 0,
         "methods are case-sensitive: 'get' is another, unknown token"),
    Case("method-connect-authority", R(b"CONNECT t:80 HTTP/1.1\nHost: t\n"), {400, 501}, 0,
         "CONNECT is not implemented; its authority-form target is invalid for anything else",
         after=None),
    Case("method-msearch-star", R(b"M-SEARCH * HTTP/1.1\nHost: t\n"), {400, 501}, 0,
         "SSDP method with asterisk-form: unknown method, '*' only valid for OPTIONS",
         after=None),
    Case("method-invalid-char", R(b"G(T /m HTTP/1.1\nHost: t\n"), 400, 0,
         "'(' is not a tchar: not a method token, malformed request line"),
    Case("method-nul", R(b"G\x00T /m HTTP/1.1\nHost: t\n"), 400, 0,
         "NUL inside the method"),
    Case("method-with-space", R(b"GE T /m HTTP/1.1\nHost: t\n"), 400, 0,
         "a space splits the method: four request-line parts"),
    Case("method-empty", R(b" /m HTTP/1.1\nHost: t\n"), 400, 0,
         "request line starting with SP: empty method"),
    Case("method-very-long", R(b"A" * 100 + b" /m HTTP/1.1\nHost: t\n"), {400, 501}, 0,
         "a 100-character token is still a token (501) or may be refused as malformed",
         after=None),

    # ----------------------------------------------------------- request line
    Case("line-double-space", R(b"GET  /m HTTP/1.1\nHost: t\n"), 400, 0,
         "exactly one SP between request-line parts (RFC 9112 3)"),
    Case("line-tab-separators", R(b"GET\t/m\tHTTP/1.1\nHost: t\n"), 400, 0,
         "HTAB is not a request-line separator"),
    Case("line-trailing-space", R(b"GET /m HTTP/1.1 \nHost: t\n"), 400, 0,
         "SP after the version"),
    Case("line-leading-space", R(b" GET /m HTTP/1.1\nHost: t\n"), 400, 0,
         "SP before the method"),
    Case("line-no-version", R(b"GET /m\nHost: t\n"), 400, 0,
         "HTTP/0.9-style simple request: not supported, malformed"),
    Case("line-space-in-target", R(b"GET /a b HTTP/1.1\nHost: t\n"), 400, 0,
         "an unencoded space in the target makes four parts"),
    Case("line-leading-crlf", b"\r\n" + R(b"GET /m HTTP/1.1\nHost: t\n"), 200, 1,
         "at least one empty line before the request line SHOULD be ignored (RFC 9112 2.2)"),
    Case("line-bare-cr-terminator", b"GET /m HTTP/1.1\rHost: t\r\n\r\n", 400, 0,
         "bare CR ends the request line: MUST be rejected (RFC 9112 2.2)"),

    # --------------------------------------------------------------- versions
    Case("version-1.0", b"GET /m HTTP/1.0\r\n\r\n", 200, 1,
         "HTTP/1.0 without Host is fine, and closes after the reply", after="close"),
    Case("version-1.2", R(b"GET /m HTTP/1.2\nHost: t\n"), 505, 0,
         "README: versions other than 1.0/1.1 are 505"),
    Case("version-2.0", R(b"GET /m HTTP/2.0\nHost: t\n"), 505, 0,
         "HTTP/2 in an HTTP/1 request line: 505"),
    Case("version-0.9", R(b"GET /m HTTP/0.9\nHost: t\n"), 505, 0,
         "0.9 written as a version: not supported"),
    Case("version-9.9", R(b"GET /m HTTP/9.9\nHost: t\n"), 505, 0,
         "unknown major version"),
    Case("version-h2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {400, 505}, 0,
         "the HTTP/2 connection preface is not HTTP/1 (prior knowledge not supported)",
         after="close"),
    Case("version-lowercase", R(b"GET /m http/1.1\nHost: t\n"), 400, 0,
         "HTTP-name is case-sensitive"),
    Case("version-no-dot", R(b"GET /m HTTP/11\nHost: t\n"), 400, 0,
         "HTTP-version = HTTP-name '/' DIGIT '.' DIGIT"),
    Case("version-two-digit-minor", R(b"GET /m HTTP/1.01\nHost: t\n"), 400, 0,
         "single-digit minor version only"),
    Case("version-space", R(b"GET /m HTTP/ 1.1\nHost: t\n"), 400, 0,
         "space inside the version"),
    Case("version-misspelt", R(b"GET /m HTP/1.1\nHost: t\n"), 400, 0,
         "not HTTP-name (esp_http_server's bad-request test)"),
    Case("version-three-parts", R(b"GET /m HTTP/1.1.1\nHost: t\n"), 400, 0,
         "trailing junk after the version"),
    Case("version-letters", R(b"GET /m HTTP/a.b\nHost: t\n"), 400, 0,
         "non-digit version"),

    # ------------------------------------------------------------------- URLs
    Case("url-query", R(b"GET /m?x=1&y HTTP/1.1\nHost: t\n"), 200, 1,
         "query string kept in uri()", echo=b"1 /m?x=1&y 0:", paths=["/m"]),
    Case("url-fragment", R(b"GET /m#frag HTTP/1.1\nHost: t\n"), 200, 1,
         "a fragment sent by a broken client is tolerated; path() is without it",
         paths=["/m"]),
    Case("url-percent", R(b"GET /a%20b HTTP/1.1\nHost: t\n"), 200, 1,
         "percent-encoded target reaches the route"),
    Case("url-bad-percent-query", R(b"GET /m?%zz HTTP/1.1\nHost: t\n"), 200, 1,
         "an invalid escape in the query is the handler's business"),
    Case("url-absolute-http", R(b"GET http://t/abs?x=1 HTTP/1.1\nHost: t\n"), 200, 1,
         "absolute-form MUST be accepted (RFC 9112 3.2.2); uri() is origin-form",
         echo=b"1 /abs?x=1 0:"),
    Case("url-absolute-https", R(b"GET https://t/abs HTTP/1.1\nHost: t\n"), 200, 1,
         "https scheme in absolute-form"),
    Case("url-absolute-port", R(b"GET http://t:8080/abs?q=1 HTTP/1.1\nHost: t\n"), 200, 1,
         "absolute-form with a port", echo=b"1 /abs?q=1 0:"),
    Case("url-absolute-ipv6", R(b"GET http://[::1]:80/abs HTTP/1.1\nHost: [::1]\n"), 200, 1,
         "absolute-form with an IPv6 literal"),
    Case("url-absolute-other-host", R(b"GET http://other/abs HTTP/1.1\nHost: t\n"), 200, 1,
         "the target's authority wins over Host (RFC 9112 3.2.2)"),
    Case("url-absolute-userinfo", R(b"GET http://u:p@t/abs HTTP/1.1\nHost: t\n"), 400, 0,
         "userinfo in an http URI is deprecated and treated as an error (RFC 9110 4.2.4)"),
    Case("url-absolute-ftp", R(b"GET ftp://t/abs HTTP/1.1\nHost: t\n"), 400, 0,
         "not an http(s) URI"),
    Case("url-absolute-no-authority", R(b"GET http:/abs HTTP/1.1\nHost: t\n"), 400, 0,
         "http: without '//authority'"),
    Case("url-absolute-empty", R(b"GET http:// HTTP/1.1\nHost: t\n"), 400, 0,
         "http URI with an empty host"),
    Case("url-relative", R(b"GET m HTTP/1.1\nHost: t\n"), 400, 0,
         "origin-form must start with '/'"),
    Case("url-star-get", R(b"GET * HTTP/1.1\nHost: t\n"), 400, 0,
         "asterisk-form only for OPTIONS"),
    Case("url-authority-get", R(b"GET t:80 HTTP/1.1\nHost: t\n"), 400, 0,
         "authority-form only for CONNECT"),
    Case("url-del-byte", R(b"GET /\x7f HTTP/1.1\nHost: t\n"), 400, 0,
         "DEL is not allowed in a target"),
    Case("url-high-byte", R(b"GET /\xff HTTP/1.1\nHost: t\n"), 400, 0,
         "raw non-ASCII bytes must be percent-encoded"),
    Case("url-nul", R(b"GET /a\x00b HTTP/1.1\nHost: t\n"), 400, 0,
         "NUL in the target"),
    Case("url-8192", R(b"GET /" + b"u" * 8191 + b" HTTP/1.1\nHost: t\n"), 200, 1,
         "a target of exactly 8 KiB is within the limit"),
    Case("url-8193", R(b"GET /" + b"u" * 8192 + b" HTTP/1.1\nHost: t\n"), 414, 0,
         "one byte over the 8 KiB target limit: 414 (esp_http_server's URI-too-long test)"),
    Case("url-17k", R(b"GET /" + b"u" * 17000 + b" HTTP/1.1\nHost: t\n"), 414, 0,
         "a target longer than the whole head limit is still reported as 414"),

    # ------------------------------------------------------------------- Host
    Case("host-missing", R(b"GET /m HTTP/1.1\nX-A: b\n"), 400, 0,
         "HTTP/1.1 without Host MUST be 400 (RFC 9112 3.2)"),
    Case("host-duplicate", R(b"GET /m HTTP/1.1\nHost: t\nHost: u\n"), 400, 0,
         "more than one Host MUST be 400"),
    Case("host-duplicate-same", R(b"GET /m HTTP/1.1\nHost: t\nHost: t\n"), 400, 0,
         "two Host lines even with the same value"),
    Case("host-empty", R(b"GET /m HTTP/1.1\nHost:\n"), 200, 1,
         "an empty Host is valid when the target has no authority (RFC 9112 3.2)"),
    Case("host-lowercase-name", R(b"GET /m HTTP/1.1\nhost: t\n"), 200, 1,
         "field names are case-insensitive"),
    Case("host-with-port", R(b"GET /m HTTP/1.1\nHost: t:8080\n"), 200, 1,
         "host:port"),
    Case("host-ipv6", R(b"GET /m HTTP/1.1\nHost: [::1]:80\n"), 200, 1,
         "IPv6 literal host"),
    Case("host-with-space", R(b"GET /m HTTP/1.1\nHost: a b\n"), 400, 0,
         "an invalid Host value MUST be 400 (RFC 9112 3.2): SP is not allowed in uri-host"),
    Case("host-with-slash", R(b"GET /m HTTP/1.1\nHost: t/x\n"), 400, 0,
         "an invalid Host value MUST be 400: '/' is not allowed in uri-host"),
    Case("host-http10-missing", R(b"GET /m HTTP/1.0\n"), 200, 1,
         "Host is optional in HTTP/1.0", after="close"),

    # ---------------------------------------------------------- header syntax
    Case("hdr-space-before-colon", R(b"GET /m HTTP/1.1\nHost : t\n"), 400, 0,
         "whitespace between name and colon MUST be 400 (RFC 9112 5.1)"),
    Case("hdr-tab-before-colon", R(b"GET /m HTTP/1.1\nHost: t\nX-A\t: b\n"), 400, 0,
         "HTAB between name and colon"),
    Case("hdr-space-in-name", R(b"GET /m HTTP/1.1\nHost: t\nX A: b\n"), 400, 0,
         "SP inside a field name"),
    Case("hdr-invalid-name-char", R(b"GET /m HTTP/1.1\nHost: t\nX@Y: b\n"), 400, 0,
         "'@' is not a tchar"),
    Case("hdr-nul-in-name", R(b"GET /m HTTP/1.1\nHost: t\nX\x00Y: b\n"), 400, 0,
         "NUL in a field name"),
    Case("hdr-nul-in-value", R(b"GET /m HTTP/1.1\nHost: t\nX: a\x00b\n"), 400, 0,
         "NUL in a field value MUST be rejected (RFC 9110 5.5)"),
    Case("hdr-ctl-in-value", R(b"GET /m HTTP/1.1\nHost: t\nX: a\x01b\n"), 400, 0,
         "control character in a field value"),
    Case("hdr-del-in-value", R(b"GET /m HTTP/1.1\nHost: t\nX: a\x7fb\n"), 400, 0,
         "DEL is not a field-vchar"),
    Case("hdr-bare-cr-in-value", R(b"GET /m HTTP/1.1\nHost: t\nX: a\rb\n"), 400, 0,
         "bare CR in a value MUST be rejected or replaced (RFC 9112 2.2)"),
    Case("hdr-bare-cr-line-end", b"GET /m HTTP/1.1\r\nHost: t\r\n\r\r\n", 400, 0,
         "CR CR LF as the head terminator"),
    Case("hdr-tab-in-value", R(b"GET /m HTTP/1.1\nHost: t\nX: a\tb\n"), 200, 1,
         "HTAB is allowed inside a value"),
    Case("hdr-obs-text-value", R(b"GET /m HTTP/1.1\nHost: t\nX: caf\xc3\xa9\n"), 200, 1,
         "obs-text (bytes >= 0x80) in a value is allowed"),
    Case("hdr-empty-value", R(b"GET /m HTTP/1.1\nHost: t\nX:\n"), 200, 1,
         "an empty field value is valid"),
    Case("hdr-empty-name", R(b"GET /m HTTP/1.1\nHost: t\n: v\n"), 400, 0,
         "a line starting with ':' has an empty name"),
    Case("hdr-no-colon", R(b"GET /m HTTP/1.1\nHost: t\nX-A\n"), 400, 0,
         "a header line without a colon"),
    Case("hdr-obs-fold", R(b"GET /m HTTP/1.1\nHost: t\nX-A: one\n  two\n"), 400, 0,
         "obs-fold: 400 (README)"),
    Case("hdr-leading-ws-first-line", R(b"GET /m HTTP/1.1\n Host: t\n"), 400, 0,
         "whitespace before the first field line MUST be rejected (RFC 9112 2.2)"),
    Case("hdr-long-name-9000", R(b"GET /m HTTP/1.1\nHost: t\nX-" + b"n" * 9000 + b": v\n"), 200, 1,
         "a 9000-byte name is within the 16 KiB head limit"),
    Case("hdr-long-name-17000", R(b"GET /m HTTP/1.1\nHost: t\nX-" + b"n" * 17000 + b": v\n"),
         431, 0, "a very long header name makes the head too large: 431"),
    Case("hdr-long-value-17000", R(b"GET /m HTTP/1.1\nHost: t\nX: " + b"v" * 17000 + b"\n"),
         431, 0, "esp_http_server's header-too-long test: 431"),
    Case("hdr-64-fields", R(b"GET /m HTTP/1.1\nHost: t\n"
                            + b"".join(b"X-%d: v\n" % i for i in range(63))), 200, 1,
         "64 fields (Host + 63) is the limit, served"),
    Case("hdr-70-fields", R(b"GET /m HTTP/1.1\nHost: t\n"
                            + b"".join(b"X-%d: v\n" % i for i in range(70))), 431, 0,
         "more than 64 fields: 431 (README)"),

    # ------------------------------------------------------------ line ends
    Case("lf-only-head", b"GET /m HTTP/1.1\nHost: t\n\n", 200, 1,
         "a bare LF line terminator MAY be accepted (RFC 9112 2.2); unambiguous"),
    Case("lf-request-line-only", b"GET /m HTTP/1.1\nHost: t\r\n\r\n", 200, 1,
         "esp_http_server arbitrary-termination: LF after the request line"),
    Case("lf-last-header", b"GET /m HTTP/1.1\r\nHost: t\n\r\n", 200, 1,
         "esp_http_server arbitrary-termination: LF after a header"),
    Case("lf-final-empty-line", b"GET /m HTTP/1.1\r\nHost: t\r\n\n", 200, 1,
         "esp_http_server arbitrary-termination: LF as the final empty line"),

    # ------------------------------------------------------- Content-Length
    Case("cl-ows", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length:  3 \n", b"abc"), 200, 1,
         "OWS around the value is not part of it", echo=b"3:abc"),
    Case("cl-leading-zeros", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 003\n", b"abc"),
         200, 1, "1*DIGIT: leading zeros are digits", echo=b"3:abc"),
    Case("cl-on-get", R(b"GET /m HTTP/1.1\nHost: t\nContent-Length: 3\n", b"abc"), 200, 1,
         "a GET may carry a body; it is framed and read", echo=b"3:abc"),
    Case("cl-plus", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: +3\n", b"abc"), 400, 0,
         "signed Content-Length: 400 (README)"),
    Case("cl-minus", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: -3\n", b"abc"), 400, 0,
         "negative Content-Length"),
    Case("cl-hex", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 0x3\n", b"abc"), 400, 0,
         "hex is not 1*DIGIT"),
    Case("cl-decimal-point", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 3.0\n", b"abc"),
         400, 0, "not 1*DIGIT"),
    Case("cl-inner-space", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 3 3\n", b"abc"),
         400, 0, "two numbers separated by a space"),
    Case("cl-junk", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 3x\n", b"abc"), 400, 0,
         "trailing junk"),
    Case("cl-empty", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length:\n", b"abc"), 400, 0,
         "empty Content-Length"),
    Case("cl-overflow", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 99999999999999999999999\n",
                          b"abc"), 400, 0, "does not fit in 64 bits: never wraps around"),
    Case("cl-list-same", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 3, 3\n", b"abc"), 400, 0,
         "a list (even of equal values) is a duplicate: 400 (README; RFC 9110 8.6 allows it)"),
    Case("cl-list-different", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 1, 2\n", b"ab"),
         400, 0, "conflicting lengths in one field"),
    Case("cl-duplicate-same", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 3\n"
                                b"Content-Length: 3\n", b"abc"), 400, 0,
         "duplicate Content-Length lines: 400 (README)"),
    Case("cl-duplicate-different", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 2\n"
                                     b"Content-Length: 3\n", b"abc"), 400, 0,
         "conflicting Content-Length lines: the classic CL.CL smuggling"),
    Case("cl-obs-fold-te", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 3\n"
                             b" Transfer-Encoding: chunked\n", b"abc"), 400, 0,
         "a TE hidden in an obs-fold continuation of CL"),

    # ---------------------------------------------------- Transfer-Encoding
    Case("te-chunked", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED, b"3\r\nabc\r\n0\r\n\r\n"),
         200, 1, "chunked body", echo=b"3:abc"),
    Case("te-chunked-uppercase", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding: CHUNKED\n",
                                   b"0\r\n\r\n"), 200, 1,
         "transfer-coding names are case-insensitive (RFC 9112 7)"),
    Case("te-chunked-mixed-case", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding: Chunked\n",
                                    b"3\r\nabc\r\n0\r\n\r\n"), 200, 1, "casing variant", echo=b"3:abc"),
    Case("te-trailing-space", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding: chunked \n",
                                b"3\r\nabc\r\n0\r\n\r\n"), 200, 1,
         "trailing OWS is not part of the value: still chunked", echo=b"3:abc"),
    Case("te-tab-ows", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding:\tchunked\n",
                         b"0\r\n\r\n"), 200, 1, "HTAB is OWS"),
    Case("te-obs-fold", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding:\n chunked\n",
                          b"0\r\n\r\n"), 400, 0, "TE value in an obs-fold: 400"),
    Case("te-space-before-colon", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding : chunked\n",
                                    b"0\r\n\r\n"), 400, 0,
         "'Transfer-Encoding :' must not be read as TE by anyone: 400"),
    Case("te-leading-tab-line", R(b"POST /m HTTP/1.1\nHost: t\n\tTransfer-Encoding: chunked\n",
                                  b"0\r\n\r\n"), 400, 0, "a TE line starting with HTAB is obs-fold"),
    Case("te-vtab", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding: \x0bchunked\n",
                      b"0\r\n\r\n"), 400, 0, "vertical tab is neither OWS nor a value byte"),
    Case("te-nul", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\x00\n",
                     b"0\r\n\r\n"), 400, 0, "NUL after 'chunked'"),
    Case("te-underscore-name", R(b"POST /m HTTP/1.1\nHost: t\nTransfer_Encoding: chunked\n",
                                 b"0\r\n\r\n"), (200, 400), 1,
         "'Transfer_Encoding' is another field: no body; '0' then starts a bad request",
         echo=b"2 /m 0:"),
    Case("te-gzip", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding: gzip\n"), 501, 0,
         "unknown transfer coding: 501 (README), close (the framing is unknown)", after="close"),
    Case("te-identity", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding: identity\n"), 501, 0,
         "'identity' is no longer a transfer coding (RFC 9112)", after="close"),
    Case("te-xchunked", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding: xchunked\n",
                          b"0\r\n\r\n"), 501, 0, "not 'chunked'", after="close"),
    Case("te-quoted", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding: \"chunked\"\n",
                        b"0\r\n\r\n"), {400, 501}, 0, "a quoted-string is not the token 'chunked'",
         after="close"),
    Case("te-chunked-param", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding: chunked;q=1\n",
                               b"0\r\n\r\n"), {400, 501}, 0,
         "chunked takes no parameters", after="close"),
    Case("te-gzip-chunked", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding: gzip, chunked\n",
                              b"0\r\n\r\n"), 501, 0, "gzip is not supported", after="close"),
    Case("te-chunked-gzip", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding: chunked, gzip\n",
                              b"0\r\n\r\n"), {400, 501}, 0,
         "chunked not last: the length cannot be determined (RFC 9112 6.3)", after="close"),
    Case("te-chunked-twice-list", R(b"POST /m HTTP/1.1\nHost: t\nTransfer-Encoding: chunked, chunked\n",
                                    b"0\r\n\r\n"), {400, 501}, 0,
         "chunked MUST NOT be applied twice", after="close"),
    Case("te-chunked-twice-lines", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED + CHUNKED,
                                     b"0\r\n\r\n"), {400, 501}, 0,
         "two TE lines combine to 'chunked, chunked'", after="close"),
    Case("te-chunked-then-other", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED
                                    + b"Transfer-Encoding: x\n", b"0\r\n\r\n"), {400, 501}, 0,
         "TE.TE obfuscation: a second TE line makes chunked not last", after="close"),
    Case("te-http10", R(b"POST /m HTTP/1.0\n" + CHUNKED, b"0\r\n\r\n"), 400, 0,
         "TE in HTTP/1.0: framing is faulty, 400 and close (RFC 9112 6.1)"),

    # ------------------------------------------------------ CL + TE smuggling
    Case("smuggle-cl-te", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 6\n" + CHUNKED,
                            b"0\r\n\r\nG"), 400, 0,
         "CL.TE: Content-Length with Transfer-Encoding is 400 (README), never guessed"),
    Case("smuggle-te-cl", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED + b"Content-Length: 3\n",
                            b"8\r\nSMUGGLED\r\n0\r\n\r\n"), 400, 0,
         "TE.CL: same, header order reversed"),
    Case("smuggle-cl0-te", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 0\n" + CHUNKED,
                             b"0\r\n\r\n"), 400, 0, "even a zero Content-Length with TE"),
    Case("smuggle-cl-te-pipelined", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 35\n" + CHUNKED,
                                      b"0\r\n\r\nGET /admin HTTP/1.1\r\nHost: t\r\n\r\n"),
         400, 0, "CL.TE with a second request after the chunked end: nothing is served"),
    Case("smuggle-in-cl-body", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: %d\n" % len(HIDDEN),
                                 HIDDEN), 200, 1,
         "a request inside a Content-Length body is body, not a request",
         echo=b"%d:%s" % (len(HIDDEN), HIDDEN), paths=["/m"]),
    Case("smuggle-in-chunked-body", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                                      b"%x\r\n%s\r\n0\r\n\r\n" % (len(HIDDEN), HIDDEN)),
         200, 1, "a request inside a chunk is body", paths=["/m"],
         echo=b"%d:%s" % (len(HIDDEN), HIDDEN)),
    Case("smuggle-bad-then-good", R(b"GET /m HTTP/1.1\nHost: t\nHost: u\n")
         + R(b"GET /admin HTTP/1.1\nHost: t\n"), 400, 0,
         "after a 400 the connection closes: the pipelined request is never served"),
    Case("smuggle-te-http10-pipelined", R(b"POST /m HTTP/1.0\n" + CHUNKED,
                                          b"0\r\n\r\nGET /admin HTTP/1.1\r\nHost: t\r\n\r\n"),
         400, 0, "HTTP/1.0 + TE then a hidden request: 400, nothing served"),

    # ------------------------------------------------------------- chunks
    Case("chunk-extension", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                              b"3;name=val\r\nabc\r\n0\r\n\r\n"), 200, 1,
         "chunk extensions are ignored", echo=b"3:abc"),
    Case("chunk-extension-quoted", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                                     b"3;n=\"v w\"\r\nabc\r\n0\r\n\r\n"), 200, 1,
         "quoted-string extension value", echo=b"3:abc"),
    Case("chunk-extension-bws", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                                  b"3 ;n=v\r\nabc\r\n0\r\n\r\n"), 200, 1,
         "BWS before ';' is allowed (RFC 9112 7.1.1)", echo=b"3:abc"),
    Case("chunk-leading-zeros", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                                  b"0" * 100 + b"3\r\nabc\r\n0\r\n\r\n"), 200, 1,
         "leading zeros do not overflow", echo=b"3:abc"),
    Case("chunk-trailer", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                            b"3\r\nabc\r\n0\r\nX-Trailer: y\r\n\r\n"), 200, 1,
         "a trailer section is read and dropped", echo=b"3:abc"),
    Case("chunk-size-overflow", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                                  b"FFFFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n"), 400, None,
         "chunk size beyond 64 bits: a malformed body is the client's fault, 400 not 500"),
    Case("chunk-size-negative", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                                  b"-3\r\nabc\r\n0\r\n\r\n"), 400, None,
         "negative chunk size: 400"),
    Case("chunk-size-0x", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                            b"0x3\r\nabc\r\n0\r\n\r\n"), 400, None,
         "'0x' prefix is not HEXDIG: 400"),
    Case("chunk-size-not-hex", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                                 b"g\r\nabc\r\n0\r\n\r\n"), 400, None, "non-hex chunk size: 400"),
    Case("chunk-data-too-long", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                                  b"3\r\nabcd\r\n0\r\n\r\n"), 400, None,
         "more data than the size, no CRLF after the data: 400"),
    Case("chunk-no-crlf-after-data", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                                       b"3\r\nabcXX0\r\n\r\n"), 400, None,
         "bad chunk terminator: 400"),
    Case("chunk-lf-terminators", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                                   b"3\nabc\n0\n\n"), 400, None,
         "bare-LF chunk framing is a smuggling vector: refused with 400"),
    Case("chunk-bare-cr-size", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                                 b"3\rabc\r\n0\r\n\r\n"), 400, None, "bare CR after the size: 400"),
    Case("chunk-extension-too-long", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                                       b"1;" + b"e" * 20000 + b"\r\na\r\n0\r\n\r\n"),
         {400, 431}, None, "an unbounded chunk-ext line is refused as a client error"),
    Case("chunk-trailers-too-long", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                                      b"3\r\nabc\r\n0\r\n" + b"X: y\r\n" * 200 + b"\r\n"),
         {400, 431}, None, "too many trailer fields: a client error, not 500", after="close"),
    Case("chunk-zero-then-garbage", R(b"POST /m HTTP/1.1\nHost: t\n" + CHUNKED,
                                      b"0\r\n\r\nGARBAGE\r\n\r\n"), (200, 400), 1,
         "the body ends at the 0 chunk; what follows is a (bad) next request",
         echo=b"2 /m 0:"),

    # --------------------------------------------------------------- Expect
    Case("expect-100", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 5\nExpect: 100-continue\n",
                         b"hello"), (100, 200), 1, "100 Continue, then the answer",
         echo=b"5:hello"),
    Case("expect-100-case", R(b"POST /m HTTP/1.1\nHost: t\nContent-Length: 5\n"
                              b"Expect: 100-Continue\n", b"hello"), (100, 200), 1,
         "the expectation is case-insensitive (RFC 9110 10.1.1)"),
    Case("expect-100-http10", R(b"POST /m HTTP/1.0\nContent-Length: 5\nExpect: 100-continue\n",
                                b"hello"), 200, 1,
         "100-continue from an HTTP/1.0 client MUST be ignored: no 100", after="close"),
    Case("expect-100-no-body", R(b"GET /m HTTP/1.1\nHost: t\nExpect: 100-continue\n"),
         {200, (100, 200)}, 1, "no body: a 100 may or may not be sent"),
    Case("expect-unknown", R(b"GET /m HTTP/1.1\nHost: t\nExpect: foo\n"), 417, 0,
         "an expectation other than 100-continue: 417"),

    # ------------------------------------------------ connection handling
    Case("conn-close", R(b"GET /m HTTP/1.1\nHost: t\nConnection: close\n"), 200, 1,
         "Connection: close is honoured", after="close"),
    Case("conn-close-case", R(b"GET /m HTTP/1.1\nHost: t\nConnection: Close\n"), 200, 1,
         "connection options are case-insensitive", after="close"),
    Case("conn-close-in-list", R(b"GET /m HTTP/1.1\nHost: t\nConnection: keep-alive, close\n"),
         200, 1, "'close' anywhere in the list wins", after="close"),
    Case("conn-te-close", R(b"GET /m HTTP/1.1\nHost: t\nConnection: TE, close\n"), 200, 1,
         "llhttp connection case: 'TE, close'", after="close"),
    Case("conn-keep-alive-11", R(b"GET /m HTTP/1.1\nHost: t\nConnection: keep-alive\n"), 200, 1,
         "HTTP/1.1 keep-alive (the default)"),
    Case("conn-keep-alive-10", R(b"GET /m HTTP/1.0\nConnection: keep-alive\n"), 200, 1,
         "HTTP/1.0 keep-alive is honoured", after="keep"),
    Case("conn-keep-alive-10-upper", R(b"GET /m HTTP/1.0\nConnection: KEEP-ALIVE\n"), 200, 1,
         "case-insensitive keep-alive", after="keep"),
    Case("conn-http10-default-close", R(b"GET /m HTTP/1.0\nHost: t\n"), 200, 1,
         "HTTP/1.0 closes by default", after="close"),
    Case("conn-close-then-pipelined", R(b"GET /m HTTP/1.1\nHost: t\nConnection: close\n")
         + R(b"GET /second HTTP/1.1\nHost: t\n"), 200, 1,
         "nothing after a 'Connection: close' request is served", after="close", paths=["/m"]),
    Case("conn-fin-after-request", R(b"GET /m HTTP/1.1\nHost: t\n"), 200, 1,
         "a client that half-closes after its request still gets the reply",
         shut=True, after="close"),
    Case("conn-empty-fin", b"", CLOSED, 0,
         "a connection closed before any byte gets no reply", shut=True),
    Case("conn-crlf-fin", b"\r\n\r\n", CLOSED, 0,
         "empty lines only, then FIN: nothing to answer", shut=True),
    Case("conn-partial-line-fin", b"GET / HTT", CLOSED, 0,
         "half a request line, then FIN: closed without reply", shut=True),
    Case("conn-partial-head-fin", b"GET /m HTTP/1.1\r\nHost: t\r\n", CLOSED, 0,
         "an unfinished head, then FIN: never reaches a handler", shut=True),
    Case("conn-upgrade-token-only", R(b"GET /m HTTP/1.1\nHost: t\nConnection: upgrade\n"),
         200, 1, "'Connection: upgrade' without Upgrade is just an option"),

    # --------------------------------------------------------------- upgrade
    Case("upgrade-h2c-ignored", R(b"GET /m HTTP/1.1\nHost: t\nConnection: Upgrade, HTTP2-Settings\n"
                                  b"Upgrade: h2c\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\n"),
         200, 1, "an upgrade the server does not do is ignored (RFC 9110 7.8)"),
    Case("upgrade-websocket-on-route", R(b"GET /get-only HTTP/1.1\nHost: t\nUpgrade: websocket\n"
                                         b"Connection: Upgrade\n" + WS_KEY), 200, 1,
         "a WebSocket upgrade to a plain route is answered as a plain request", srv="narrow"),
    Case("upgrade-websocket-repl", R(b"GET /ws HTTP/1.1\nHost: t\nUpgrade: websocket\n"
                                     b"Connection: Upgrade\n" + WS_KEY), 101, 0,
         "the REPL endpoint switches protocols (h11 checks the 101)", srv="narrow", after=None),
    Case("upgrade-websocket-no-key", R(b"GET /ws HTTP/1.1\nHost: t\nUpgrade: websocket\n"
                                       b"Connection: Upgrade\n"), 400, 0,
         "a WebSocket handshake without Sec-WebSocket-Key is 400, and a 400 closes",
         srv="narrow"),
    Case("upgrade-websocket-post", R(b"POST /ws HTTP/1.1\nHost: t\nUpgrade: websocket\n"
                                     b"Connection: Upgrade\n" + WS_KEY), 405, 0,
         "the handshake is GET only: 405 with Allow", srv="narrow",
         allow={"GET", "HEAD", "OPTIONS"}),
    Case("upgrade-ws-url-plain-get", R(b"GET /ws HTTP/1.1\nHost: t\n"), 404, 0,
         "a plain GET to the REPL URL goes on to later routes: none, so 404", srv="narrow"),

    # ------------------------------------------------------------ 404 / 405
    Case("route-404", R(b"GET /nope HTTP/1.1\nHost: t\n"), 404, 0,
         "no route matches: 404, keep-alive", srv="narrow"),
    Case("route-404-head", R(b"HEAD /nope HTTP/1.1\nHost: t\n"), 404, 0,
         "404 to HEAD has no body", srv="narrow", methods=["HEAD"]),
    Case("route-404-wildcard-base", R(b"GET /api HTTP/1.1\nHost: t\n"), 404, 0,
         "'/api/*' does not match '/api'", srv="narrow"),
    Case("route-404-double-slash", R(b"GET //get-only HTTP/1.1\nHost: t\n"), 404, 0,
         "'//get-only' is not '/get-only'", srv="narrow"),
    Case("route-405-post", R(b"POST /get-only HTTP/1.1\nHost: t\nContent-Length: 2\n", b"hi"),
         405, 0, "path matched, verb not: 405 with Allow", srv="narrow",
         allow={"GET", "HEAD", "OPTIONS"}),
    Case("route-405-delete-wildcard", R(b"DELETE /api/x HTTP/1.1\nHost: t\n"), 405, 0,
         "405 on a wildcard route lists its verbs", srv="narrow",
         allow={"GET", "HEAD", "POST", "OPTIONS"}),
    Case("route-options-narrow", R(b"OPTIONS /get-only HTTP/1.1\nHost: t\n"), 204, 0,
         "OPTIONS lists the verbs of that path", srv="narrow", allow={"GET", "HEAD", "OPTIONS"}),
    Case("route-options-404", R(b"OPTIONS /nope HTTP/1.1\nHost: t\n"), 404, 0,
         "OPTIONS for a path nothing serves", srv="narrow"),
    Case("route-head-get-only", R(b"HEAD /get-only HTTP/1.1\nHost: t\n"), 200, 1,
         "HEAD reaches a GET-only route", srv="narrow", methods=["HEAD"]),

    # ---------------------------------------------------------- pipelining
    Case("pipe-three-gets", b"".join(R(b"GET /p%d HTTP/1.1\nHost: t\n" % i) for i in range(3)),
         (200, 200, 200), 3, "answers in request order", paths=["/p0", "/p1", "/p2"]),
    Case("pipe-mixed", R(b"POST /a HTTP/1.1\nHost: t\nContent-Length: 3\n", b"abc")
         + R(b"HEAD /b HTTP/1.1\nHost: t\n") + R(b"GET /c HTTP/1.1\nHost: t\n"),
         (200, 200, 200), 3, "POST, HEAD, GET in one write", methods=["GET", "HEAD", "GET"],
         paths=["/a", "/b", "/c"]),
    Case("pipe-chunked-then-get", R(b"POST /a HTTP/1.1\nHost: t\n" + CHUNKED,
                                    b"3\r\nabc\r\n0\r\n\r\n") + R(b"GET /b HTTP/1.1\nHost: t\n"),
         (200, 200), 2, "a chunked body ends exactly at its last chunk", paths=["/a", "/b"]),
    Case("pipe-405-then-get", R(b"PUT /api/x HTTP/1.1\nHost: t\nContent-Length: 2\n", b"hi")
         + R(b"GET /get-only HTTP/1.1\nHost: t\n"), (405, 200), 1,
         "a 405's body is skipped and the connection reused", srv="narrow"),
    Case("pipe-404-then-get", R(b"GET /nope HTTP/1.1\nHost: t\n")
         + R(b"GET /get-only HTTP/1.1\nHost: t\n"), (404, 200), 1,
         "404 keeps the connection", srv="narrow"),
    Case("pipe-501-then-get", R(b"FOO /m HTTP/1.1\nHost: t\n") + R(b"GET /n HTTP/1.1\nHost: t\n"),
         (501, 200), 1, "an unknown method without a body keeps the connection", paths=["/n"]),
    Case("pipe-leftover-body", R(b"POST /a HTTP/1.1\nHost: t\nContent-Length: 3\n", b"abcdef")
         + R(b"GET /b HTTP/1.1\nHost: t\n"), (200, 501), 1,
         "esp_http_server left-over data: bytes past Content-Length start the next request "
         "('defGET' is an unknown method)", paths=["/a"]),
    Case("pipe-cl-exact", R(b"POST /a HTTP/1.1\nHost: t\nContent-Length: 3\n", b"abc")
         + R(b"GET /b HTTP/1.1\nHost: t\n"), (200, 200), 2,
         "a body exactly as long as Content-Length", paths=["/a", "/b"]),
    Case("pipe-garbage-between", R(b"GET /a HTTP/1.1\nHost: t\n") + b"XYZ\r\n\r\n"
         + R(b"GET /b HTTP/1.1\nHost: t\n"), (200, 400), 1,
         "garbage between requests is a bad request, and nothing after it is served",
         paths=["/a"]),
    Case("pipe-expect-then-get", R(b"POST /a HTTP/1.1\nHost: t\nContent-Length: 2\n"
                                   b"Expect: 100-continue\n", b"hi")
         + R(b"GET /b HTTP/1.1\nHost: t\n"), (100, 200, 200), 2,
         "interim 100 then two answers in order", paths=["/a", "/b"]),
]


def test_case_count():
    """The table has at least 120 distinct cases."""
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert len(CASES) >= 120


# --------------------------------------------------------------------------
# the client side: raw socket + h11


def _recv(sock):
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def _h11_request(conn, method, upgrade):
    headers = [("Host", "t")]
    if upgrade:
        headers += [("Connection", "Upgrade"), ("Upgrade", "websocket")]
    conn.send(h11.Request(method=method, target="/", headers=headers))
    conn.send(h11.EndOfMessage())


def read_responses(sock, count, methods, upgrade=False):
    """Parses up to ``count`` final responses (plus interim 1xx) with h11.

    Returns (responses, conn): each response is a dict with status, headers
    (lower-case str names), body. Stops early when the server closes.
    A malformed response raises h11.RemoteProtocolError.
    """
    conn = h11.Connection(h11.CLIENT)
    out = []
    finals = 0
    _h11_request(conn, methods[0], upgrade)
    current = None
    while finals < count:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(_recv(sock))
            continue
        if isinstance(event, h11.InformationalResponse):
            out.append({"status": event.status_code, "headers": _hdrs(event), "body": b""})
            if event.status_code == 101:
                break
        elif isinstance(event, h11.Response):
            current = {"status": event.status_code, "headers": _hdrs(event), "body": b"",
                       "method": methods[min(finals, len(methods) - 1)]}
            out.append(current)
        elif isinstance(event, h11.Data):
            current["body"] += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            finals += 1
            if finals < count and conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                conn.start_next_cycle()
                _h11_request(conn, methods[min(finals, len(methods) - 1)], False)
        elif isinstance(event, h11.ConnectionClosed):
            break
        elif event is h11.PAUSED:
            break
    return out, conn


def _hdrs(event):
    return [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in event.headers]


def rest_until_close(sock, already=b""):
    """Bytes until EOF (bounded by the socket timeout); (bytes, closed)."""
    data = bytearray(already)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return bytes(data), True
            data += chunk
    except ConnectionResetError:
        return bytes(data), True
    except socket.timeout:
        return bytes(data), False


def ping(sock, srv_name):
    """One more request on the same connection; the reply's status."""
    sock.sendall(PING[srv_name])
    responses, _ = read_responses(sock, 1, ["GET"])
    assert responses, "no reply to a follow-up request on the kept-alive connection"
    return responses[-1]["status"]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_conformance(servers, case):
    counter = servers["counter"]
    srv = servers[case.srv]
    counter.reset()
    alternatives = case.alternatives()
    sock = socket.create_connection((HOST, srv.port()), timeout=IO_TIMEOUT)
    try:
        sock.sendall(case.raw)
        if case.shut:
            sock.shutdown(socket.SHUT_WR)

        if alternatives == [CLOSED]:
            data, closed = rest_until_close(sock)
            assert (data, closed) == (b"", True), (
                "%s: expected the connection closed without a reply; got %r (closed=%s)"
                % (case.note, data[:200], closed))
            assert counter.calls == 0
            return

        want_finals = max(sum(1 for s in a if s >= 200 or s == 101) for a in alternatives)
        methods = case.methods or ["GET"]
        upgrade = b"upgrade: websocket" in case.raw.lower()
        try:
            responses, conn = read_responses(sock, want_finals, methods, upgrade)
        except h11.RemoteProtocolError as e:
            pytest.fail("%s: malformed response: %s" % (case.id, e))
        except socket.timeout:
            pytest.fail("%s: no (complete) answer within %ss" % (case.id, IO_TIMEOUT))
        statuses = tuple(r["status"] for r in responses)
        assert statuses in [tuple(a) for a in alternatives], (
            "%s -- %s: expected %s, got %s" % (case.id, case.note, case.expect, statuses))

        calls = counter.calls
        if case.calls is not None:
            assert calls == case.calls, (
                "%s: the handler ran %d times, expected %d" % (case.id, calls, case.calls))
        if case.paths is not None:
            assert counter.paths == case.paths
        last = responses[-1]
        finals = [r for r in responses if r["status"] >= 200]
        if case.echo is not None:
            assert finals[0]["body"].endswith(case.echo), (finals[0]["body"][:300], case.echo)
        if case.allow is not None:
            allow = [v for k, v in last["headers"] if k == "allow"]
            assert allow, "%s: no Allow header" % case.id
            assert {t.strip() for t in allow[0].split(",")} == case.allow
        for r in finals:
            if r["method"] == "HEAD":
                assert r["body"] == b"", "%s: a reply to HEAD carried a body" % case.id

        after = case.resolved_after(statuses)
        if after == "close":
            trailing, _ = conn.trailing_data
            data, closed = rest_until_close(sock, trailing)
            assert data == b"", "%s: bytes after the last response: %r" % (case.id, data[:200])
            assert closed, "%s: connection left open (expected it closed)" % case.id
        elif after == "keep":
            trailing, closed = conn.trailing_data
            assert (trailing, closed) == (b"", False), (
                "%s: expected a kept-alive connection; trailing %r closed=%s"
                % (case.id, trailing[:200], closed))
            assert ping(sock, case.srv) == 200, "%s: follow-up request failed" % case.id
    finally:
        sock.close()


def test_servers_survive_the_table(servers):
    """After every case, both servers still answer on fresh connections."""
    for name in ("main", "narrow"):
        sock = socket.create_connection((HOST, servers[name].port()), timeout=IO_TIMEOUT)
        try:
            assert ping(sock, name) == 200
        finally:
            sock.close()
