"""HTTPS and wss: ``Server(..., tls=(certfile, keyfile))``,
``uhttpd.self_signed_certificate(directory, host)`` and ``python -m uhttpd
--tls`` / ``--cert FILE --key FILE``.

Covered, as a user sees it:

* files and routes over HTTPS with curl and with Python's verifying ``ssl``
  (hostnames 127.0.0.1 and localhost, TLS 1.3 and 1.2), ``tls_fingerprint``
  equal to the certificate served;
* the self-signed certificate: its names and key type, kept and reused (key
  file 0600), the fingerprint the command prints, the default directory under
  ``$XDG_CONFIG_HOME``, the user's own ``--cert``/``--key``;
* the WebREPL over ``wss://`` (``websockets``) and webrepl_cli's file put/get
  over an ssl-wrapped socket; Server-Sent Events and uploads (PUT, chunked,
  and the static receiver's POST) over TLS;
* the console page in headless Chromium over HTTPS (the certificate accepted
  by its SPKI pin; refused without it);
* the wrong protocol on each port: plain HTTP to the TLS port is told the
  ``https://`` URL (400) and closed; a ClientHello to a plain port is closed
  without a byte;
* bad input: missing, certificate-less, mismatched and expired files;
  garbage and truncated handshakes (logged, the server serving on); a TLS 1.2
  renegotiation attempt.

The handshake timeout is the Rust tests' business, not timed here. No test
writes in the real home: ``HOME`` and ``XDG_CONFIG_HOME`` point into tmp.
"""

import base64
import hashlib
import http.client
import os
import re
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import websockets
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from websockets.sync.client import connect as ws_connect

import uhttpd
import webrepl_client as wc

from conftest import CHROMIUM, CHROMIUM_ARGS, HOST, TIMEOUT, Conn, Reply, Terminal, get, wait_until
from test_console import (  # noqa: F401 - browser, console and page_errors are fixtures
    UI_TIMEOUT,
    browser,
    console,
    expect_screen,
    log_in_terminal,
    open_page,
    page_errors,
    read_events,
    row,
)

OPENSSL_TIMEOUT = 30.0


@pytest.fixture(autouse=True)
def _no_writes_in_the_real_home(tmp_path, monkeypatch):
    """``python -m uhttpd --tls`` keeps its certificate under the user's
    config directory: in these tests, one in tmp."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))


# --------------------------------------------------------------------------
# certificates


@pytest.fixture
def cert(tmp_path):
    """A self-signed (certfile, keyfile) covering 127.0.0.1 and localhost."""
    return uhttpd.self_signed_certificate(tmp_path / "tls", HOST)


def context(certfile, **kw):
    """A verifying client context that trusts ``certfile`` (and nothing else)."""
    ctx = ssl.create_default_context(cafile=str(certfile))
    for name, value in kw.items():
        setattr(ctx, name, value)
    return ctx


def fingerprint(der):
    """``AB:CD:...``: SHA-256 of a DER certificate, as uhttpd prints it."""
    return ":".join("%02X" % b for b in hashlib.sha256(der).digest())


def file_fingerprint(certfile):
    return fingerprint(ssl.PEM_cert_to_DER_cert(Path(certfile).read_text()))


def openssl(*args, input=None, cwd=None):
    """Runs the openssl command (in ``cwd``); returns its stdout (bytes)."""
    out = subprocess.run(
        ["openssl", *map(str, args)], input=input, cwd=cwd, capture_output=True,
        timeout=OPENSSL_TIMEOUT,
    )
    assert out.returncode == 0, (args, out.stderr.decode(errors="replace"))
    return out.stdout


def spki_pin(certfile):
    """base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo (DER):
    what Chromium's --ignore-certificate-errors-spki-list takes."""
    pem = openssl("x509", "-in", certfile, "-pubkey", "-noout")
    der = openssl("pkey", "-pubin", "-outform", "der", input=pem)
    return base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")


def own_certificate(directory):
    """A certificate the user made with openssl (RSA, PKCS#8 key) for 127.0.0.1."""
    directory.mkdir()
    certfile, keyfile = directory / "site.pem", directory / "site.key"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyfile, "-out", certfile,
            "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-addext", "basicConstraints=critical,CA:FALSE")
    return certfile, keyfile


EXPIRED_CA_CONFIG = """\
[ca]
default_ca = expired
[expired]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
"""


def expired_certificate(directory):
    """A self-signed certificate valid on 1 January 2020 only, and its key."""
    directory.mkdir()
    (directory / "ca.cnf").write_text(EXPIRED_CA_CONFIG)
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("01\n")
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", keyfile, "-out", directory / "req.csr", "-subj", "/CN=localhost")
    openssl("ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", "key.pem",
            "-in", "req.csr", "-out", "cert.pem", "-notext",
            "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", cwd=directory)
    return certfile, keyfile


# --------------------------------------------------------------------------
# clients


@pytest.fixture
def tls_server(server, cert, root):
    """Factory: ``tls_server(**kw)``, a Server on 127.0.0.1 speaking TLS with
    ``cert``, root tmp/root (closed at teardown by ``server``)."""

    def make(**kw):
        kw.setdefault("root", str(root))
        return server(tls=cert, **kw)

    return make


def https_request(port, ctx, method="GET", path="/", body=None, headers=None, host=HOST):
    """One request over a verified TLS connection to ``host``; a conftest
    Reply, plus the certificate served (``peer_der``) and ``tls_version``."""
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        peer_der, tls_version = conn.sock.getpeercert(binary_form=True), conn.sock.version()
        resp = conn.getresponse()
        reply = Reply("HTTP/1.1", resp.status, resp.reason,
                      [(k.lower(), v) for k, v in resp.getheaders()], resp.read())
    finally:
        conn.close()
    reply.peer_der, reply.tls_version = peer_der, tls_version
    return reply


def tls_socket(port, ctx, host=HOST):
    """A connected, handshaken TLS socket (every operation bounded)."""
    sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
    try:
        return ctx.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise


def wss_terminal(port, ctx, path="/ws"):
    """The WebREPL over ``wss://`` as a conftest Terminal."""
    conn = ws_connect("wss://%s:%d%s" % (HOST, port, path), ssl=ctx,
                      open_timeout=TIMEOUT, close_timeout=1)
    conn.__enter__()  # what ``with connect(...) as conn`` does; Terminal closes it
    return Terminal(conn)


def client_hello():
    """The first flight of a real TLS client (a ClientHello record)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    hello = outgoing.read()
    assert hello[0] == 0x16 and len(hello) > 100
    return hello


def serves_https(srv, ctx):
    """The server still answers a fresh HTTPS request (route /hi)."""
    reply = https_request(srv.port(), ctx, path="/hi")
    return reply.status == 200 and reply.body == b"hello"


def hello_route(srv):
    srv.route("/hi", uhttpd.GET, lambda req: req.write("hello"))


def printed_fingerprint(c):
    """The fingerprint a ``python -m uhttpd --tls`` printed at start."""
    m = re.search(r"^TLS certificate SHA-256: ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})$", c.output, re.M)
    assert m, c.output
    return m.group(1)


def handshake_failed(port):
    """Matches the 'uhttpd' log record of a failed handshake from client ``port``."""
    return lambda rec: "%s:%d: TLS handshake failed" % (HOST, port) in rec.getMessage()


# --------------------------------------------------------------------------
# 1. files and routes over HTTPS


def test_curl_gets_a_file_and_a_route_over_https(tls_server, cert, root):
    (root / "hello.txt").write_bytes(b"hello over TLS\n")
    srv = tls_server()
    srv.route("/api/answer", uhttpd.GET, lambda req: req.write('{"answer": 42}', mime="application/json"))
    srv.serve()

    def curl(path):
        out = subprocess.run(
            ["curl", "-sS", "--max-time", "10", "--cacert", str(cert[0]),
             "--resolve", "localhost:%d:%s" % (srv.port(), HOST),
             "-w", "\n%{http_code} %{scheme}", "https://localhost:%d%s" % (srv.port(), path)],
            capture_output=True, timeout=20)
        assert out.returncode == 0, out.stderr.decode(errors="replace")
        body, _, status = out.stdout.rpartition(b"\n")
        return status.decode(), body

    assert curl("/hello.txt") == ("200 HTTPS", b"hello over TLS\n")
    assert curl("/api/answer") == ("200 HTTPS", b'{"answer": 42}')
    assert curl("/missing.txt")[0] == "404 HTTPS"


def test_a_big_file_is_byte_exact_over_https(tls_server, cert, root):
    data = os.urandom(3 * 1024 * 1024 + 7)  # more than any TLS record or write buffer
    (root / "big.bin").write_bytes(data)
    srv = tls_server()
    srv.serve()
    reply = https_request(srv.port(), context(cert[0]), path="/big.bin")
    assert reply.status == 200
    assert reply.header("content-length") == str(len(data))
    assert reply.body == data


# --------------------------------------------------------------------------
# 2. verification, fingerprints, the kept certificate


def test_python_ssl_verifies_the_certificate_and_its_fingerprint(tls_server, server, cert):
    srv = tls_server()
    hello_route(srv)
    ctx = context(cert[0])
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", srv.tls_fingerprint), srv.tls_fingerprint

    for host in (HOST, "localhost"):
        reply = https_request(srv.port(), ctx, path="/hi", host=host)
        assert (reply.status, reply.body) == (200, b"hello"), host
        assert fingerprint(reply.peer_der) == srv.tls_fingerprint == file_fingerprint(cert[0])
    assert reply.tls_version == "TLSv1.3"
    tls12 = https_request(srv.port(), context(cert[0], maximum_version=ssl.TLSVersion.TLSv1_2), path="/hi")
    assert (tls12.status, tls12.body, tls12.tls_version) == (200, b"hello", "TLSv1.2")

    # the check is real: a name the certificate does not carry is refused
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_socket(srv.port(), ctx, host="not-this-host.example").close()
    # and a plain server has no fingerprint
    assert server().tls_fingerprint is None


def test_self_signed_certificate_names_key_and_reuse(tmp_path):
    d = tmp_path / "kept"
    certfile, keyfile = uhttpd.self_signed_certificate(d)
    assert (Path(certfile), Path(keyfile)) == (d / "cert.pem", d / "key.pem")
    assert stat.S_IMODE(os.stat(keyfile).st_mode) == 0o600
    text = openssl("x509", "-in", certfile, "-noout", "-text").decode()
    assert "id-ecPublicKey" in text and "prime256v1" in text
    san = openssl("x509", "-in", certfile, "-noout", "-ext", "subjectAltName").decode().lower()
    for name in ("dns:localhost", "ip address:127.0.0.1", "ip address:0:0:0:0:0:0:0:1",
                 "dns:" + socket.gethostname().lower()):
        assert name in san, (name, san)
    assert "0.0.0.0" not in san  # the wildcard is no name to reach it by
    first = (Path(certfile).read_bytes(), Path(keyfile).read_bytes())

    # reused while valid and covering the names
    assert uhttpd.self_signed_certificate(d) == (certfile, keyfile)
    assert (Path(certfile).read_bytes(), Path(keyfile).read_bytes()) == first
    # a host it does not name: a new certificate that names it too
    uhttpd.self_signed_certificate(d, "192.0.2.7")
    assert Path(certfile).read_bytes() != first[0]
    assert "ip address:192.0.2.7" in openssl(
        "x509", "-in", certfile, "-noout", "-ext", "subjectAltName").decode().lower()
    second = Path(certfile).read_bytes()
    uhttpd.self_signed_certificate(d)  # covered by the new one
    assert Path(certfile).read_bytes() == second


def test_cli_prints_the_fingerprint_it_serves_and_keeps_its_certificate(console, root, tmp_path):
    d = tmp_path / "tls"
    c = console(root, "--tls", "--tls-dir", str(d), "--no-repl")
    assert c.url == "https://127.0.0.1:%d/" % c.port
    printed = printed_fingerprint(c)
    ctx = context(d / "cert.pem")
    reply = https_request(c.port, ctx, path="/fs/")
    assert reply.status == 200
    assert fingerprint(reply.peer_der) == printed == file_fingerprint(d / "cert.pem")
    assert stat.S_IMODE(os.stat(d / "key.pem").st_mode) == 0o600
    kept = ((d / "cert.pem").read_bytes(), (d / "key.pem").read_bytes())
    assert c.ctrl_c() == 0

    again = console(root, "--tls", "--tls-dir", str(d), "--no-repl")
    assert printed_fingerprint(again) == printed
    assert ((d / "cert.pem").read_bytes(), (d / "key.pem").read_bytes()) == kept
    assert fingerprint(https_request(again.port, ctx, path="/").peer_der) == printed


def test_cli_keeps_the_certificate_under_xdg_config_home_by_default(console, root):
    c = console(root, "--tls", "--no-repl")
    kept = Path(os.environ["XDG_CONFIG_HOME"]) / "uhttpd" / "tls"
    assert sorted(os.listdir(kept)) == ["cert.pem", "key.pem"]
    assert printed_fingerprint(c) == file_fingerprint(kept / "cert.pem")
    assert https_request(c.port, context(kept / "cert.pem"), path="/").status == 200


def test_cli_serves_the_users_own_certificate(console, root, tmp_path):
    certfile, keyfile = own_certificate(tmp_path / "mine")
    c = console(root, "--cert", str(certfile), "--key", str(keyfile), "--no-repl")
    assert c.url.startswith("https://")
    assert printed_fingerprint(c) == file_fingerprint(certfile)
    reply = https_request(c.port, context(certfile), path="/fs/")
    assert reply.status == 200
    assert fingerprint(reply.peer_der) == file_fingerprint(certfile)
    assert not (Path(os.environ["XDG_CONFIG_HOME"]) / "uhttpd").exists()


def test_cli_tls_usage_errors_exit_2(tmp_path):
    for args, says in [
        (["--cert", "site.pem"], "--cert and --key go together"),
        (["--key", "site.key"], "--cert and --key go together"),
        (["--cert", "site.pem", "--key", "site.key", "--tls-dir", str(tmp_path)], "--tls-dir"),
    ]:
        out = subprocess.run([sys.executable, "-m", "uhttpd", "--port", "0", *args],
                             capture_output=True, text=True, timeout=10)
        assert out.returncode == 2, (args, out)
        assert says in out.stderr, (args, out.stderr)


# --------------------------------------------------------------------------
# 3. the WebREPL over wss://


def test_wss_repl_login_and_eval(tls_server, cert):
    srv = tls_server()
    srv.ws("/ws", "pw")
    with wss_terminal(srv.port(), context(cert[0])) as t:
        t.login("pw")
        assert t.run("print(6*7)") == "print(6*7)\r\n42\r\n>>> "

    # ws:// to the same port is told to use https (the handshake's answer is 400)
    with pytest.raises(websockets.InvalidStatus) as refused:
        ws_connect("ws://%s:%d/ws" % (HOST, srv.port()), open_timeout=TIMEOUT, close_timeout=1)
    assert refused.value.response.status_code == 400
    assert b"https://" in refused.value.response.body


def test_webrepl_cli_put_and_get_over_tls(tls_server, cert, root, tmp_path):
    srv = tls_server()
    srv.ws("/", "pw")
    data = os.urandom(100 * 1024 + 3)
    src, back = tmp_path / "local.bin", tmp_path / "back.bin"
    src.write_bytes(data)
    sock = tls_socket(srv.port(), context(cert[0]))
    try:
        status, headers = wc.client_handshake(sock)
        assert status.startswith(b"HTTP/1.1 101")
        assert headers["sec-websocket-accept"] == wc.EXPECTED_ACCEPT
        ws = wc.websocket(sock)
        wc.login(ws, "pw")
        assert wc.get_ver(ws) == (0, 1, 0)
        wc.put_file(ws, str(src), "/up.bin")
        assert (root / "up.bin").read_bytes() == data
        wc.get_file(ws, str(back), "/up.bin")
        assert back.read_bytes() == data
        assert wc.do_cmd(ws, "print(6*7)") == "42"
    finally:
        sock.close()


# --------------------------------------------------------------------------
# 4. Server-Sent Events over TLS


def test_server_sent_events_over_tls(tls_server, cert):
    srv = tls_server(events=2)
    srv.event("/events")
    conn = http.client.HTTPSConnection(HOST, srv.port(), context=context(cert[0]), timeout=TIMEOUT)
    try:
        conn.request("GET", "/events", headers={"Accept": "text/event-stream"})
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Content-Type").startswith("text/event-stream")
        # (dispatch is False, and sends nothing, until the client is listed)
        assert wait_until(lambda: srv.dispatch("hello over TLS", "greeting"), timeout=TIMEOUT)
        assert srv.dispatch("second\nline") is True
        events = read_events(resp, lambda ev: len(ev) >= 2)
    finally:
        conn.close()
    assert events == [("greeting", "hello over TLS"), ("message", "second\nline")]


# --------------------------------------------------------------------------
# 5. uploads over TLS


def test_uploads_over_tls_land_byte_identical(tls_server, cert, root):
    srv = tls_server()
    srv.receive(prefix="/up")
    srv.receive(dynamic=False, prefix="/upload")
    srv.serve(prefix="/fs")
    base = "https://%s:%d" % (HOST, srv.port())
    data = os.urandom(1024 * 1024)
    with httpx.Client(verify=context(cert[0]), timeout=2 * TIMEOUT) as client:
        r = client.put(base + "/up/big.bin", content=data)
        assert r.status_code == 201, r.text
        assert (root / "big.bin").read_bytes() == data
        # chunked (a body of unknown length)
        r = client.put(base + "/up/chunked.bin", content=iter([data[:300001], data[300001:]]))
        assert r.status_code == 201, r.text
        assert (root / "chunked.bin").read_bytes() == data
        # the static receiver's POST, the name in Content-Disposition
        r = client.post(base + "/upload", content=data[:4096],
                        headers={"Content-Disposition": 'attachment; filename="posted.bin"'})
        assert r.status_code == 201, r.text
        assert (root / "posted.bin").read_bytes() == data[:4096]
        # and back through the file server
        r = client.get(base + "/fs/big.bin")
        assert r.status_code == 200
        assert r.content == data


# --------------------------------------------------------------------------
# 6. the console page in Chromium over HTTPS


def test_console_page_over_https_in_chromium(browser, console, root, tmp_path, page_errors):
    (root / "main.py").write_bytes(b"print('hello')\n")
    d = tmp_path / "tls"
    c = console(root, "--tls", "--tls-dir", str(d), "--password", "pw")
    assert c.url.startswith("https://127.0.0.1:")

    # without the certificate's pin the browser refuses the page
    unpinned = browser.new_context()
    try:
        with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
            unpinned.new_page().goto(c.url, timeout=UI_TIMEOUT)
    finally:
        unpinned.close()

    pinned = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, "--ignore-certificate-errors-spki-list=" + spki_pin(d / "cert.pem")],
        timeout=30000,
    )
    try:
        bcontext, page = open_page(pinned, c.url, page_errors)
        requested = []
        page.on("request", lambda r: requested.append(r.url))
        page.on("websocket", lambda w: requested.append(w.url))
        page.reload()

        expect(row(page, "main.py")).to_contain_text("15 B")
        expect(page.locator("#es-state")).to_have_text("events: live")
        # a file uploaded by another HTTPS client shows up (its "fs" event)
        put = https_request(c.port, context(d / "cert.pem"), "PUT", "/fs/other.txt", body=b"elsewhere")
        assert put.status == 201
        expect(row(page, "other.txt")).to_contain_text("9 B")

        # the terminal over wss://
        screen = log_in_terminal(page, "pw")
        page.keyboard.type("6*7")
        page.keyboard.press("Enter")
        expect_screen(screen, re.compile(r">>> 6\*7\n42\n>>> "))

        origin = c.url.rstrip("/")
        assert any(u.startswith("wss://127.0.0.1:%d/" % c.port) for u in requested), requested
        assert all(u.startswith((origin, origin.replace("https:", "wss:"))) for u in requested), requested
        assert page_errors == []
        bcontext.close()
    finally:
        pinned.close()
    assert c.ctrl_c() == 0


# --------------------------------------------------------------------------
# 7. the wrong protocol on each port


def test_plain_http_on_the_tls_port_is_told_the_https_url(tls_server, cert):
    srv = tls_server()
    hello_route(srv)
    port = srv.port()
    reply = get(srv, "/fs/a%20b?x=1")  # http.client: Host is 127.0.0.1:PORT
    assert reply.status == 400
    assert reply.header("content-type").startswith("text/plain")
    assert reply.header("connection") == "close"
    assert reply.body == (
        b"400 Bad Request: this port speaks HTTPS. Use https://127.0.0.1:%d/fs/a%%20b?x=1\n" % port)

    # the Host the client sent is the one shown; without one, the address it reached
    with Conn(port) as conn:
        conn.send("GET /x HTTP/1.1\r\nHost: device.local:%d\r\n\r\n" % port)
        reply = conn.read_response()
        assert reply.status == 400
        assert b"Use https://device.local:%d/x\n" % port in reply.body
        assert conn.closed_by_peer(), "the connection stays open after the 400"
    with Conn(port) as conn:
        conn.send("GET /y HTTP/1.0\r\n\r\n")
        assert b"Use https://127.0.0.1:%d/y\n" % port in conn.read_response().body

    assert serves_https(srv, context(cert[0]))


def test_a_client_hello_to_a_plain_port_gets_no_reply(server, cert, uhttpd_log):
    srv = server()
    hello_route(srv)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_socket(srv.port(), context(cert[0])).close()
    with Conn(srv) as conn:
        conn.send(client_hello())
        assert conn.read_until_close() == b""
        client_port = conn.sock.getsockname()[1]
    assert uhttpd_log.wait_for(
        lambda rec: "%s:%d: TLS handshake on a plain HTTP port" % (HOST, client_port) in rec.getMessage())
    reply = get(srv, "/hi")
    assert (reply.status, reply.body) == (200, b"hello")


# --------------------------------------------------------------------------
# 8. bad input


def test_missing_files_are_file_not_found_naming_the_file(tmp_path, cert):
    certfile, keyfile = cert
    missing = tmp_path / "nowhere" / "cert.pem"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        uhttpd.Server(0, host=HOST, tls=(missing, keyfile))
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "no.key"))):
        uhttpd.Server(0, host=HOST, tls=(certfile, tmp_path / "no.key"))
    with pytest.raises(TypeError):
        uhttpd.Server(0, host=HOST, tls=str(certfile))


def test_a_file_without_a_certificate_is_a_value_error(tmp_path, cert):
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("not a certificate\n")
    with pytest.raises(ValueError, match=re.escape(str(not_pem))):
        uhttpd.Server(0, host=HOST, tls=(not_pem, cert[1]))
    # a key where the certificate should be
    with pytest.raises(ValueError, match=re.escape(str(cert[1]))):
        uhttpd.Server(0, host=HOST, tls=(cert[1], cert[1]))


def test_a_key_that_is_not_the_certificates(tmp_path, cert):
    _, other_key = uhttpd.self_signed_certificate(tmp_path / "other", HOST)
    with pytest.raises(ValueError, match="is not the key of the certificate") as refused:
        uhttpd.Server(0, host=HOST, tls=(cert[0], other_key))
    assert str(other_key) in str(refused.value)


def test_an_expired_certificate_is_refused(tmp_path, root):
    certfile, keyfile = expired_certificate(tmp_path / "old")
    with pytest.raises(ValueError, match="expired") as refused:
        uhttpd.Server(0, host=HOST, tls=(certfile, keyfile))
    assert str(certfile) in str(refused.value)
    # the command says so and exits 1
    out = subprocess.run(
        [sys.executable, "-m", "uhttpd", "--port", "0", "--root", str(root),
         "--cert", str(certfile), "--key", str(keyfile)],
        capture_output=True, text=True, timeout=15)
    assert out.returncode == 1, out
    assert "expired" in out.stderr and str(certfile) in out.stderr, out.stderr


@pytest.mark.parametrize("garbage", [
    b"\x16" + b"garbage " * 40,
    b"\x16\x03\x01\x00\x10" + b"x" * 16,  # a record too short for its ClientHello
])
def test_garbage_after_a_handshake_byte_is_closed_and_logged(tls_server, cert, uhttpd_log, garbage):
    srv = tls_server()
    hello_route(srv)
    with Conn(srv) as conn:
        conn.send(garbage)
        answer = conn.read_until_close()
        client_port = conn.sock.getsockname()[1]
    # at most a TLS alert record, never HTTP
    assert answer == b"" or answer[0] == 0x15, answer
    assert uhttpd_log.wait_for(handshake_failed(client_port)), [r.getMessage() for r in uhttpd_log.records]
    assert serves_https(srv, context(cert[0]))


def test_a_truncated_client_hello_then_close(tls_server, cert, uhttpd_log):
    srv = tls_server()
    hello_route(srv)
    hello = client_hello()
    ctx = context(cert[0])
    with Conn(srv) as pending:
        pending.send(hello[: len(hello) // 2])
        # other clients are served while this handshake waits for the rest
        assert serves_https(srv, ctx)
        client_port = pending.sock.getsockname()[1]
        pending.sock.shutdown(socket.SHUT_WR)
        assert pending.read_until_close() == b""
    assert uhttpd_log.wait_for(handshake_failed(client_port))
    # cut off without a FIN-and-wait: just closed
    with Conn(srv) as cut:
        cut.send(hello[:40])
        client_port = cut.sock.getsockname()[1]
    assert uhttpd_log.wait_for(handshake_failed(client_port))
    assert serves_https(srv, ctx)


def test_tls12_renegotiation_is_refused_at_once(tls_server, cert):
    """``openssl s_client -tls1_2``, then ``R``: the server refuses with a
    no_renegotiation alert, so the client gives up at once ("no
    renegotiation"), rather than waiting for an answer until the server's
    header timeout closes the connection."""
    srv = tls_server()
    hello_route(srv)
    client = subprocess.Popen(
        ["openssl", "s_client", "-connect", "%s:%d" % (HOST, srv.port()), "-tls1_2",
         "-CAfile", str(cert[0])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines, connected = [], threading.Event()

    def read():
        for line in client.stdout:
            lines.append(line.decode("utf-8", "replace"))
            if "Verify return code: 0 (ok)" in line.decode("utf-8", "replace"):
                connected.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert connected.wait(TIMEOUT), "".join(lines)
        assert "Protocol  : TLSv1.2\n" in "".join(lines)
        client.stdin.write(b"R\n")  # renegotiate (stdin stays open)
        client.stdin.flush()
        started = time.monotonic()
        try:
            client.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        waited = time.monotonic() - started
    finally:
        if client.poll() is None:
            client.kill()
        client.wait(TIMEOUT)
        reader.join(TIMEOUT)
    output = "".join(lines)
    assert "RENEGOTIATING" in output
    assert waited < TIMEOUT, (
        "s_client still waiting for an answer to its renegotiation %.1f s later; output:\n%s"
        % (waited, output[-600:]))
    assert "no renegotiation" in output, output[-600:]
    assert serves_https(srv, context(cert[0]))
