"""The file receiver: Server.receive(dynamic, prefix, extonly, delete).

Uploads (POST/PUT), mkdir, DELETE, static receivers, extonly, atomicity
(cut-off and concurrent uploads, disk full), chunked bodies, 100-continue,
big bodies, registration errors and auth; verified (Content-Digest) and
resumable (Content-Range) uploads.
"""

import base64
import hashlib
import http.client
import os
import socket
import struct
import subprocess
import threading
import time
from urllib.parse import quote

import pytest

import uhttpd

from conftest import (
    HOST, Conn, get, put_streaming, raw, request, tree, tree_settles_to, url, wait_until,
)

GOOD = b"Basic YW5zd2VyOjQy"  # answer:42


def put(srv, path, body, method="PUT", headers=None, timeout=10):
    return request(srv, method, path, body=body, headers=headers, timeout=timeout)


@pytest.fixture
def up(server, tmp_path):
    """A receiver on /up (with DELETE) and a file server on /fs."""
    srv = server()
    srv.receive(prefix="/up", delete=True)
    srv.serve(prefix="/fs")
    return srv


# --------------------------------------------------------------------------
# create, replace, mkdir


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_upload_creates_file_and_parents_201(up, tmp_path, method):
    r = put(up, "/up/a/b/c/new.txt", b"hello upload", method=method)
    assert r.status == 201
    assert (tmp_path / "a" / "b" / "c" / "new.txt").read_bytes() == b"hello upload"
    # and it can be read back through the file server
    assert get(up, "/fs/a/b/c/new.txt").body == b"hello upload"


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_upload_replaces_file_204(up, tmp_path, method):
    (tmp_path / "f.txt").write_bytes(b"old content that is longer")
    r = put(up, "/up/f.txt", b"new", method=method)
    assert r.status == 204
    assert r.body == b""
    assert (tmp_path / "f.txt").read_bytes() == b"new"
    assert tree(tmp_path) == ["f.txt"]


def test_empty_upload(up, tmp_path):
    r = put(up, "/up/empty.txt", b"")
    assert r.status == 201
    assert (tmp_path / "empty.txt").read_bytes() == b""


def test_upload_non_ascii_name_by_percent_encoded_url(up, tmp_path):
    for name in ("ünïcödé.txt", "日本.txt", "my dir/file name.txt"):
        r = put(up, "/up/" + quote(name), name.encode())
        assert r.status == 201, name
        assert (tmp_path / name).read_bytes() == name.encode()


def test_mkdir_with_trailing_slash(up, tmp_path):
    r = put(up, "/up/newdir/", b"", method="POST")
    assert r.status == 201
    assert (tmp_path / "newdir").is_dir()
    r = put(up, "/up/newdir/", b"", method="POST")
    assert r.status == 200
    assert (tmp_path / "newdir").is_dir()
    r = put(up, "/up/deep/er/dir/", b"", method="PUT")
    assert r.status == 201
    assert (tmp_path / "deep" / "er" / "dir").is_dir()
    assert tree(tmp_path) == ["deep/", "deep/er/", "deep/er/dir/", "newdir/"]


def test_get_on_receiver_only_is_405(server, tmp_path):
    (tmp_path / "f.txt").write_bytes(b"data")
    srv = server()
    srv.receive()
    r = get(srv, "/f.txt")
    assert r.status == 405
    assert b"data" not in r.body


# --------------------------------------------------------------------------
# DELETE


def test_delete_file_204(up, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.txt").write_bytes(b"x")
    r = request(up, "DELETE", "/up/d/f.txt")
    assert r.status == 204
    assert tree(tmp_path) == ["d/"]


def test_delete_empty_dir_204(up, tmp_path):
    (tmp_path / "d" / "e").mkdir(parents=True)
    r = request(up, "DELETE", "/up/d/e/")
    assert r.status == 204
    assert tree(tmp_path) == ["d/"]


def test_delete_non_empty_dir_409(up, tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "sub" / "f.txt").write_bytes(b"keep")
    before = tree(tmp_path)
    r = request(up, "DELETE", "/up/d/")
    assert r.status == 409
    assert tree(tmp_path) == before


def test_delete_force_removes_tree_204(up, tmp_path):
    (tmp_path / "d" / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "d" / "sub" / "f.txt").write_bytes(b"x")
    (tmp_path / "d" / "g.txt").write_bytes(b"y")
    (tmp_path / "other.txt").write_bytes(b"stays")
    r = request(up, "DELETE", "/up/d/?force=1")
    assert r.status == 204
    assert tree(tmp_path) == ["other.txt"]


def test_delete_missing_404(up, tmp_path):
    assert request(up, "DELETE", "/up/nope.txt").status == 404
    assert request(up, "DELETE", "/up/nodir/").status == 404
    assert request(up, "DELETE", "/up/nodir/?force=1").status == 404


def test_delete_without_delete_flag_is_405(server, tmp_path):
    (tmp_path / "f.txt").write_bytes(b"keep")
    (tmp_path / "d").mkdir()
    srv = server()
    srv.receive(prefix="/up")
    for path in ("/up/f.txt", "/up/d/", "/up/d/?force=1"):
        r = request(srv, "DELETE", path)
        assert r.status == 405, path
    assert (tmp_path / "f.txt").read_bytes() == b"keep"
    assert (tmp_path / "d").is_dir()


# --------------------------------------------------------------------------
# static receivers (dynamic=False)


@pytest.mark.parametrize("disposition", ["attachment", "attachement"])
def test_static_receiver_takes_name_from_content_disposition(server, tmp_path, disposition):
    srv = server()
    srv.receive(dynamic=False, prefix="/upload")
    hdr = {"Content-Disposition": '%s; filename="/path/to/file.txt"' % disposition}
    r = put(srv, "/upload", b"first", method="POST", headers=hdr)
    assert r.status == 201
    assert (tmp_path / "path" / "to" / "file.txt").read_bytes() == b"first"
    r = put(srv, "/upload", b"second", method="POST", headers=hdr)
    assert r.status == 204
    assert (tmp_path / "path" / "to" / "file.txt").read_bytes() == b"second"
    assert tree(tmp_path) == ["path/", "path/to/", "path/to/file.txt"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Content-Disposition": "attachment"}, {"Content-Disposition": "inline"},
     {"Content-Disposition": 'attachment; name="x"'}],
    ids=["missing", "no-filename", "inline", "name-not-filename"],
)
def test_static_receiver_without_filename_is_400(server, tmp_path, headers):
    srv = server()
    srv.receive(dynamic=False, prefix="/upload")
    r = put(srv, "/upload", b"data", method="POST", headers=headers)
    assert r.status == 400
    assert tree(tmp_path) == []


# --------------------------------------------------------------------------
# extonly


def test_extonly_refuses_internal_storage_403(server, tmp_path):
    (tmp_path / "sd").mkdir()
    (tmp_path / "keep.txt").write_bytes(b"keep")
    srv = server(ext="/sd")
    srv.receive(prefix="/up", extonly=True, delete=True)
    assert put(srv, "/up/sd/card.txt", b"card").status == 201
    assert (tmp_path / "sd" / "card.txt").read_bytes() == b"card"
    assert put(srv, "/up/internal.txt", b"x").status == 403
    assert put(srv, "/up/keep.txt", b"x").status == 403
    assert put(srv, "/up/newdir/", b"").status == 403
    assert put(srv, "/up/sdx/f.txt", b"x").status == 403  # a sibling named like the mount
    assert request(srv, "DELETE", "/up/keep.txt").status == 403
    assert tree(tmp_path) == ["keep.txt", "sd/", "sd/card.txt"]
    assert (tmp_path / "keep.txt").read_bytes() == b"keep"
    assert request(srv, "DELETE", "/up/sd/card.txt").status == 204


# --------------------------------------------------------------------------
# atomicity: cut-off uploads

OLD = b"the old content, which must survive\n" * 100


def cut_off(srv, path, total, sent, rst=False, chunked=False):
    """Starts an upload of ``total`` bytes, sends ``sent`` of them, hangs up."""
    body = b"N" * total
    with Conn(srv) as c:
        if chunked:
            c.send("PUT %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" % path)
            if sent:
                c.send(b"%x\r\n" % total + body[:sent])
        else:
            c.send("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (path, total))
            if sent:
                c.send(body[:sent])
        time.sleep(0.15)  # let the server start writing
        if rst:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


TOTAL = 256 * 1024


@pytest.mark.parametrize(
    "sent", [0, 1, TOTAL // 2, TOTAL - 1], ids=["after-head", "one-byte", "half", "one-short"]
)
def test_cut_off_upload_leaves_old_file_and_no_temp(up, tmp_path, sent):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.bin").write_bytes(OLD)
    before = tree(tmp_path)
    cut_off(up, "/up/d/f.bin", TOTAL, sent)
    assert tree_settles_to(tmp_path, before) == before
    assert (tmp_path / "d" / "f.bin").read_bytes() == OLD
    # the server is fine afterwards
    assert put(up, "/up/d/f.bin", b"fresh").status == 204
    assert (tmp_path / "d" / "f.bin").read_bytes() == b"fresh"
    assert tree(tmp_path) == before


@pytest.mark.parametrize("sent", [1, TOTAL // 2, TOTAL - 1], ids=["one-byte", "half", "one-short"])
def test_cut_off_new_upload_leaves_nothing(up, tmp_path, sent):
    (tmp_path / "d").mkdir()
    cut_off(up, "/up/d/new.bin", TOTAL, sent)
    assert tree_settles_to(tmp_path, ["d/"]) == ["d/"]


def test_reset_upload_leaves_old_file(up, tmp_path):
    (tmp_path / "f.bin").write_bytes(OLD)
    cut_off(up, "/up/f.bin", TOTAL, TOTAL // 2, rst=True)
    assert tree_settles_to(tmp_path, ["f.bin"]) == ["f.bin"]
    assert (tmp_path / "f.bin").read_bytes() == OLD


@pytest.mark.parametrize("sent", [0, 1000])
def test_cut_off_chunked_upload_leaves_old_file(up, tmp_path, sent):
    (tmp_path / "f.bin").write_bytes(OLD)
    cut_off(up, "/up/f.bin", TOTAL, sent, chunked=True)
    assert tree_settles_to(tmp_path, ["f.bin"]) == ["f.bin"]
    assert (tmp_path / "f.bin").read_bytes() == OLD


# --------------------------------------------------------------------------
# atomicity: concurrent uploads to one name


def test_concurrent_uploads_never_interleave(up, tmp_path):
    (tmp_path / "same.bin").write_bytes(OLD)
    size = 1024 * 1024
    values = list(range(0x41, 0x41 + 8))
    statuses = []
    errors = []
    barrier = threading.Barrier(len(values))

    def one(v):
        try:
            barrier.wait(5)
            conn = http.client.HTTPConnection(HOST, up.port(), timeout=20)
            try:
                conn.request("PUT", "/up/same.bin", body=bytes([v]) * size)
                resp = conn.getresponse()
                resp.read()
                statuses.append(resp.status)
            finally:
                conn.close()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=one, args=(v,)) for v in values]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(statuses) == [204] * len(values)
    data = (tmp_path / "same.bin").read_bytes()
    assert len(data) == size
    assert data[0] in values
    assert data.count(data[0]) == size, "the final file mixes several uploads"
    assert tree(tmp_path) == ["same.bin"]


def test_concurrent_uploads_of_different_files(up, tmp_path):
    bodies = {"f%d.bin" % i: os.urandom(200_000 + i) for i in range(8)}
    errors = []

    def one(name):
        try:
            assert put(up, "/up/many/" + name, bodies[name], timeout=20).status == 201
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=one, args=(n,)) for n in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    for name, body in bodies.items():
        assert (tmp_path / "many" / name).read_bytes() == body
    assert tree(tmp_path) == ["many/"] + ["many/" + n for n in sorted(bodies)]


# --------------------------------------------------------------------------
# chunked bodies, 100-continue


def test_chunked_upload_raw(up, tmp_path):
    with Conn(up) as c:
        c.send("PUT /up/chunked.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n"
               "1;ext=1\r\n \r\n"
               "A\r\n0123456789\r\n"
               "0\r\n\r\n")
        r = c.final_response("PUT")
    assert r.status == 201
    assert (tmp_path / "chunked.txt").read_bytes() == b"hello 0123456789"


def test_chunked_upload_with_http_client(up, tmp_path):
    parts = [os.urandom(n) for n in (1, 100, 65536, 300_000, 7)]
    conn = http.client.HTTPConnection(HOST, up.port(), timeout=10)
    try:
        conn.request("PUT", "/up/gen.bin", body=iter(parts), encode_chunked=True)
        resp = conn.getresponse()
        resp.read()
    finally:
        conn.close()
    assert resp.status == 201
    assert (tmp_path / "gen.bin").read_bytes() == b"".join(parts)


def test_expect_100_continue(up, tmp_path):
    body = b"after the interim response"
    with Conn(up) as c:
        c.send("PUT /up/e.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
               "Content-Length: %d\r\n\r\n" % len(body))
        interim = c.read_response("PUT")  # before any body byte is sent
        assert interim.status == 100
        c.send(body)
        final = c.final_response("PUT")
    assert final.status == 201
    assert (tmp_path / "e.txt").read_bytes() == body


def test_upload_with_curl(up, tmp_path):
    src = tmp_path.parent / (tmp_path.name + "-src.bin")
    data = os.urandom(2 * 1024 * 1024 + 3)
    src.write_bytes(data)
    try:
        out = subprocess.run(
            ["curl", "-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}",
             "-T", str(src), url(up, "/up/curl/c.bin")],
            capture_output=True, timeout=30, check=True)
        assert out.stdout == b"201"
        assert (tmp_path / "curl" / "c.bin").read_bytes() == data
    finally:
        src.unlink()


def test_20_mib_upload_is_byte_exact(up, tmp_path):
    data = os.urandom(20 * 1024 * 1024)
    r = put(up, "/up/big.bin", data, timeout=60)
    assert r.status == 201
    got = (tmp_path / "big.bin").read_bytes()
    assert len(got) == len(data)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    assert tree(tmp_path) == ["big.bin"]


# --------------------------------------------------------------------------
# disk full / file too big: 507

FSIZE_SCRIPT = r"""
import os, resource, signal, sys
import uhttpd
N = 1024 * 1024
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (N, N))
srv = uhttpd.Server(port=0, host="127.0.0.1", root=os.environ["UHTTPD_ROOT"])
srv.receive(prefix="/up")
print(srv.port(), flush=True)
sys.stdin.read()
srv.close()
"""


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_file_too_big_is_507(server_process, tmp_path, chunked):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "old.bin").write_bytes(OLD)
    port = server_process(FSIZE_SCRIPT, tmp_path)
    r = put_streaming(port, "/up/d/old.bin", 3 * 1024 * 1024, chunked)
    assert r.status == 507
    r = put_streaming(port, "/up/d/new.bin", 3 * 1024 * 1024, chunked)
    assert r.status == 507
    assert tree_settles_to(tmp_path, ["d/", "d/old.bin"]) == ["d/", "d/old.bin"]
    assert (tmp_path / "d" / "old.bin").read_bytes() == OLD
    # an upload under the limit still works
    assert request(port, "PUT", "/up/d/old.bin", body=b"small").status == 204
    assert (tmp_path / "d" / "old.bin").read_bytes() == b"small"


# --------------------------------------------------------------------------
# registration errors and slots


@pytest.mark.parametrize(
    "kw",
    [{"dynamic": False}, {"dynamic": False, "prefix": None}, {"extonly": True},
     {"prefix": "up"}, {"dynamic": False, "prefix": "upload"}],
    ids=["static-no-prefix", "static-none-prefix", "extonly-no-ext", "relative-prefix",
         "static-relative-prefix"],
)
def test_receive_registration_errors(server, kw):
    srv = server()
    with pytest.raises(ValueError):
        srv.receive(**kw)


def test_receive_takes_one_slot(server, tmp_path):
    srv = server(routes=2)  # OPTIONS + the receiver
    srv.receive(prefix="/up")
    with pytest.raises(ValueError):
        srv.serve(prefix="/fs")
    assert put(srv, "/up/x.txt", b"x").status == 201


def test_receive_with_delete_takes_two_slots(server, tmp_path):
    srv = server(routes=2)
    with pytest.raises(ValueError):
        srv.receive(prefix="/up", delete=True)
    srv = server(routes=3)
    srv.receive(prefix="/up", delete=True)
    with pytest.raises(ValueError):
        srv.route("/x", uhttpd.GET, lambda req: req.write("x"))
    assert put(srv, "/up/x.txt", b"x").status == 201
    assert request(srv, "DELETE", "/up/x.txt").status == 204


def test_default_eight_slots(server, tmp_path):
    srv = server()
    for u in ("/a", "/b", "/c", "/d"):
        srv.route(u, uhttpd.GET, lambda req: req.write("x"))
    srv.serve(prefix="/fs")
    srv.receive(prefix="/up", delete=True)  # 1 + 4 + 1 + 2 = 8
    with pytest.raises(ValueError):
        srv.route("/e", uhttpd.GET, lambda req: req.write("x"))


# --------------------------------------------------------------------------
# auth covers uploads


def test_basic_auth_covers_uploads(server, tmp_path):
    (tmp_path / "f.txt").write_bytes(b"keep")
    srv = server(acl=uhttpd.AUTH_BASIC, auth=GOOD)
    srv.receive(prefix="/up", delete=True)
    assert put(srv, "/up/new.txt", b"x").status == 401
    assert put(srv, "/up/f.txt", b"x").status == 401
    assert put(srv, "/up/dir/", b"").status == 401
    assert request(srv, "DELETE", "/up/f.txt").status == 401
    assert tree(tmp_path) == ["f.txt"]
    assert (tmp_path / "f.txt").read_bytes() == b"keep"
    auth = {"Authorization": GOOD.decode()}
    assert put(srv, "/up/new.txt", b"x", headers=auth).status == 201


def test_custom_auth_decides_per_upload_path(server, tmp_path):
    srv = server(acl=uhttpd.AUTH_CUSTOM, auth=lambda req: req.path().startswith("/up/open/"))
    srv.receive(prefix="/up")
    assert put(srv, "/up/open/a.txt", b"a").status == 201
    assert put(srv, "/up/closed/b.txt", b"b").status == 401
    assert tree(tmp_path) == ["open/", "open/a.txt"]


def test_auth_failure_with_expect_continue_sends_no_100(server, tmp_path):
    srv = server(acl=uhttpd.AUTH_BASIC, auth=GOOD)
    srv.receive(prefix="/up")
    with Conn(srv) as c:
        c.send("PUT /up/x.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
               "Content-Length: 1000\r\n\r\n")
        r = c.read_response("PUT")
        assert r.status == 401
    assert tree(tmp_path) == []


# --------------------------------------------------------------------------
# conflicts between files and directories


def test_upload_onto_a_directory_is_refused(up, tmp_path):
    (tmp_path / "dir" / "inner").mkdir(parents=True)
    (tmp_path / "dir" / "inner" / "i.txt").write_bytes(b"i")
    (tmp_path / "f.txt").write_bytes(b"file")
    before = tree(tmp_path)
    cases = [("PUT", "/up/dir"), ("POST", "/up/dir/inner"), ("POST", "/up/f.txt/"),
             ("PUT", "/up/f.txt/x.txt"), ("PUT", "/up/f.txt/sub/"), ("DELETE", "/up/f.txt/"),
             ("DELETE", "/up/dir"), ("DELETE", "/up/dir/inner")]
    for method, path in cases:
        r = request(up, method, path, body=b"DATA" if method != "DELETE" else None)
        assert 400 <= r.status < 500, (method, path, r.status)
    assert tree_settles_to(tmp_path, before) == before
    assert (tmp_path / "f.txt").read_bytes() == b"file"


@pytest.mark.parametrize("path", ["/up/", "/up/?force=1"])
def test_the_root_itself_cannot_be_deleted(up, tmp_path, path):
    (tmp_path / "f.txt").write_bytes(b"file")
    r = request(up, "DELETE", path)
    assert 400 <= r.status < 500
    assert tree(tmp_path) == ["f.txt"]


def test_uploads_on_one_keep_alive_connection(up, tmp_path):
    with Conn(up) as c:
        c.send("PUT /up/k.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
               "PUT /up/k.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo"
               "POST /up/kd/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
               "DELETE /up/kd/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
               "GET /fs/k.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        statuses = [c.read_response("PUT").status for _ in range(4)]
        last = c.read_response()
    assert statuses == [201, 204, 201, 204]
    assert (last.status, last.body) == (200, b"two")
    assert tree(tmp_path) == ["k.txt"]


# --------------------------------------------------------------------------
# verified uploads: Content-Digest (RFC 9530)


def sha256_field(data):
    return "sha-256=:%s:" % base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_an_upload_with_its_digest_lands_and_echoes_it(up, tmp_path):
    body = os.urandom(200_000)
    r = put(up, "/up/v.bin", body, headers={"Content-Digest": sha256_field(body)})
    assert r.status == 201
    assert r.header("Content-Digest") == sha256_field(body)
    assert (tmp_path / "v.bin").read_bytes() == body


def test_a_digest_mismatch_is_400_and_leaves_the_old_file(up, tmp_path):
    (tmp_path / "v.bin").write_bytes(OLD)
    r = put(up, "/up/v.bin", b"tampered", headers={"Content-Digest": sha256_field(b"meant")})
    assert r.status == 400
    assert b"Content-Digest mismatch" in r.body
    assert (tmp_path / "v.bin").read_bytes() == OLD
    assert tree(tmp_path) == ["v.bin"]


@pytest.mark.parametrize("value", ["sha-256=:AAAA:", "sha-256=abc", "sha-256=:AAAA:,"])
def test_a_malformed_digest_is_400(up, tmp_path, value):
    r = put(up, "/up/v.bin", b"data", headers={"Content-Digest": value})
    assert r.status == 400
    assert b"Content-Digest" in r.body
    assert tree(tmp_path) == []


# --------------------------------------------------------------------------
# resumable uploads: PUT with Content-Range


def put_range(srv, path, body, first, total, headers=None):
    last = first + len(body) - 1
    headers = dict(headers or {}, **{"Content-Range": "bytes %d-%d/%d" % (first, last, total)})
    return put(srv, path, body, headers=headers)


def held(srv, path, total):
    r = put(srv, path, b"", headers={"Content-Range": "bytes */%d" % total})
    assert r.status == 202, r
    return int(r.header("Upload-Offset"))


def partials(directory):
    return [p for p in directory.iterdir() if p.name.endswith(".uhttpd-tmp")]


def test_pieces_are_202_with_their_offset_until_the_last_lands(up, tmp_path):
    body = os.urandom(300_000)
    total = len(body)
    r = put_range(up, "/up/p/big.bin", body[:100_000], 0, total)
    assert (r.status, r.header("Upload-Offset")) == (202, "100000")
    r = put_range(up, "/up/p/big.bin", body[100_000:200_000], 100_000, total)
    assert (r.status, r.header("Upload-Offset")) == (202, "200000")
    assert not (tmp_path / "p" / "big.bin").exists()
    assert get(up, "/fs/p/%s" % partials(tmp_path / "p")[0].name).status == 404
    r = put_range(up, "/up/p/big.bin", body[150_000:], 150_000, total)
    assert (r.status, r.header("Upload-Offset")) == (409, "200000")
    r = put_range(up, "/up/p/big.bin", body[200_000:], 200_000, total,
                  headers={"Content-Digest": sha256_field(body)})
    assert r.status == 201
    assert r.header("Content-Digest") == sha256_field(body)
    assert (tmp_path / "p" / "big.bin").read_bytes() == body
    assert tree(tmp_path) == ["p/", "p/big.bin"]


def test_a_cut_upload_resumes_to_an_identical_file(up, tmp_path):
    body = os.urandom(1_000_000)
    total, sent = len(body), 400_000
    (tmp_path / "r").mkdir()
    with Conn(up) as c:
        c.send("PUT /up/r/photo.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
               "Content-Range: bytes 0-%d/%d\r\n\r\n" % (total, total - 1, total))
        c.send(body[:sent])
        assert wait_until(lambda: [p.stat().st_size for p in partials(tmp_path / "r")] == [sent],
                          timeout=5)
    # The connection is gone; what arrived is held.
    assert held(up, "/up/r/photo.jpg", total) == sent
    assert not (tmp_path / "r" / "photo.jpg").exists()
    r = put_range(up, "/up/r/photo.jpg", body[sent:], sent, total,
                  headers={"Content-Digest": sha256_field(body)})
    assert r.status == 201
    got = get(up, "/fs/r/photo.jpg").body
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(body).hexdigest()
    assert tree(tmp_path) == ["r/", "r/photo.jpg"]


def test_a_resumable_upload_over_the_last_one_is_204_and_restarts_at_zero(up, tmp_path):
    (tmp_path / "f.txt").write_bytes(OLD)
    put_range(up, "/up/f.txt", b"abandoned", 0, 20)
    assert held(up, "/up/f.txt", 20) == 9
    assert put_range(up, "/up/f.txt", b"0123456789", 0, 20).header("Upload-Offset") == "10"
    assert (tmp_path / "f.txt").read_bytes() == OLD
    assert put_range(up, "/up/f.txt", b"abcdefghij", 10, 20).status == 204
    assert (tmp_path / "f.txt").read_bytes() == b"0123456789abcdefghij"
    assert held(up, "/up/f.txt", 20) == 0


@pytest.mark.parametrize("value", ["bytes 0-9", "bytes 0-9/*", "bytes 9-0/10", "bytes=0-9/10"])
def test_a_bad_content_range_is_400(up, tmp_path, value):
    r = put(up, "/up/f.txt", b"0123456789", headers={"Content-Range": value})
    assert r.status == 400
    assert b"Content-Range" in r.body
    assert tree(tmp_path) == []
