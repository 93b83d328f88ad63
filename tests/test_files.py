"""The file server: Server.serve(prefix, base, dirs, ext) inside Server(root=).

Covers the seed's example, headers, conditional and range requests,
Repr-Digest, gzip variants, redirects, directory documents, folders as zip
archives, the ext mount, the 404 family, and a hostile-path corpus (GET,
PUT, DELETE) against a canary outside root.
"""

import base64
import calendar
import email.utils
import gzip
import hashlib
import http.client
import json
import os
import subprocess
import time
import uuid
import zipfile
from urllib.parse import quote

import pytest

import uhttpd

from conftest import HOST, Conn, get, raw, request, tree, url

GOOD = b"Basic YW5zd2VyOjQy"  # answer:42
MTIME = 1_000_000_000  # Sun, 09 Sep 2001 01:46:40 GMT


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def doc(reply):
    """The JSON directory document of a reply, keeping key order, each
    entry's ``mtime`` (always its last key, an int) checked and left out."""
    assert reply.status == 200, reply
    assert (reply.header("Content-Type") or "").split(";")[0].strip() == "application/json"
    pairs = json.loads(reply.body.decode("utf-8"), object_pairs_hook=lambda pairs: pairs)
    for key, entries in pairs:
        if key == "list":
            for n, entry in enumerate(entries):
                assert entry[-1][0] == "mtime" and type(entry[-1][1]) is int, entry
                entries[n] = entry[:-1]
    return pairs


def mtimes(reply):
    """Each listed name's ``mtime``."""
    return {e["path"]: e["mtime"] for e in json.loads(reply.body)["list"]}


def stat_mtime(path):
    """A file's modification time in whole seconds, as a listing gives it."""
    return os.stat(path).st_mtime_ns // 1_000_000_000


def as_dict(pairs):
    """Turns object_pairs_hook output back into plain dicts/lists."""
    if isinstance(pairs, list) and pairs and all(isinstance(p, tuple) for p in pairs):
        return {k: as_dict(v) for k, v in pairs}
    if isinstance(pairs, list):
        return [as_dict(v) for v in pairs]
    return pairs


def mime(reply):
    return (reply.header("Content-Type") or "").split(";")[0].strip().lower()


# --------------------------------------------------------------------------
# the seed's example


@pytest.fixture
def seed_tree(tmp_path):
    data = tmp_path / "www" / "data"
    write(data / "subdir" / "hello.txt", "x" * 41 + "\n")  # 42 bytes, as in the seed
    (data / "subdir" / "my_folder").mkdir()
    # the same name outside base must not be what is served
    write(tmp_path / "subdir" / "hello.txt", "WRONG: not under base\n")
    return tmp_path


def test_seed_example_reads_base_file(server, seed_tree):
    srv = server()
    srv.serve(prefix="/fs", base="/www/data")
    r = get(srv, "/fs/subdir/hello.txt")
    assert r.status == 200
    assert r.body == (seed_tree / "www/data/subdir/hello.txt").read_bytes()
    assert mime(r) == "text/plain"


def test_seed_example_directory_document_format(server, seed_tree):
    srv = server()
    srv.serve(prefix="/fs", base="/www/data")
    pairs = doc(get(srv, "/fs/subdir/"))
    # top-level keys, in the seed's order
    assert [k for k, _ in pairs] == ["path", "list"]
    document = as_dict(pairs)
    assert document == {
        "path": "/fs/subdir/",
        "list": [
            {"path": "..", "type": "directory", "size": 0},
            {"path": "my_folder", "type": "directory", "size": 0},
            {"path": "hello.txt", "type": "file", "size": 42},
        ],
    }
    # every entry has exactly path/type/size in that order, with the seed's
    # types, then the added mtime
    r = get(srv, "/fs/subdir/")
    for entry in json.loads(r.body, object_pairs_hook=lambda pairs: pairs)[1][1]:
        assert [k for k, _ in entry] == ["path", "type", "size", "mtime"]
        e = dict(entry)
        assert isinstance(e["path"], str)
        assert e["type"] in ("directory", "file")
        assert type(e["size"]) is int
        assert type(e["mtime"]) is int


def test_listing_mtime_is_the_entrys_modification_time(server, tmp_path):
    top = tmp_path / "top"
    write(top / "f.txt", "f")
    (top / "d").mkdir()
    os.utime(top / "f.txt", (MTIME, MTIME))
    os.utime(top / "d", (MTIME + 60, MTIME + 60))
    srv = server()
    srv.serve()
    listed = mtimes(get(srv, "/top/"))
    # ".." gets the listed directory's own
    assert listed == {"..": stat_mtime(top), "d": MTIME + 60, "f.txt": MTIME}
    write(top / "g.txt", "now")
    assert mtimes(get(srv, "/top/"))["g.txt"] == stat_mtime(top / "g.txt")


def test_serve_without_prefix_or_base(server, tmp_path):
    write(tmp_path / "a" / "b.txt", "bee")
    srv = server()
    srv.serve()
    r = get(srv, "/a/b.txt")
    assert (r.status, r.body) == (200, b"bee")
    assert as_dict(doc(get(srv, "/"))) == {
        "path": "/",
        "list": [{"path": "a", "type": "directory", "size": 0}],
    }


# --------------------------------------------------------------------------
# directory documents


def test_listing_order_dirs_first_then_files_sorted(server, tmp_path):
    top = tmp_path / "top"
    for d in ("zeta", "alpha", "mid"):
        (top / d).mkdir(parents=True)
    for f, size in (("y.txt", 3), ("b.bin", 1), ("m.html", 7)):
        write(top / f, b"x" * size)
    srv = server()
    srv.serve()
    assert as_dict(doc(get(srv, "/top/"))) == {
        "path": "/top/",
        "list": [
            {"path": "..", "type": "directory", "size": 0},
            {"path": "alpha", "type": "directory", "size": 0},
            {"path": "mid", "type": "directory", "size": 0},
            {"path": "zeta", "type": "directory", "size": 0},
            {"path": "b.bin", "type": "file", "size": 1},
            {"path": "m.html", "type": "file", "size": 7},
            {"path": "y.txt", "type": "file", "size": 3},
        ],
    }


def test_listing_top_of_served_tree_has_no_dotdot(server, tmp_path):
    write(tmp_path / "www" / "f.txt", "f")
    srv = server()
    srv.serve(prefix="/fs", base="/www")
    listing = as_dict(doc(get(srv, "/fs/")))
    assert listing == {"path": "/fs/", "list": [{"path": "f.txt", "type": "file", "size": 1}]}


def test_listing_of_empty_directory(server, tmp_path):
    (tmp_path / "empty").mkdir()
    srv = server()
    srv.serve()
    assert as_dict(doc(get(srv, "/empty/"))) == {
        "path": "/empty/",
        "list": [{"path": "..", "type": "directory", "size": 0}],
    }


def test_listing_never_shows_upload_temp_files(server, tmp_path):
    d = tmp_path / "up"
    write(d / "old.txt", "old")
    srv = server()
    srv.serve(prefix="/fs")
    srv.receive(prefix="/up")
    with Conn(srv) as c:
        c.send("PUT /up/up/new.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        c.send(b"a" * 5000)
        # wait until the server has put something (its temporary file) on disk
        deadline = time.monotonic() + 2
        while os.listdir(d) == ["old.txt"] and time.monotonic() < deadline:
            time.sleep(0.02)
        listing = as_dict(doc(get(srv, "/fs/up/")))
        assert listing["list"] == [
            {"path": "..", "type": "directory", "size": 0},
            {"path": "old.txt", "type": "file", "size": 3},
        ]
        c.send(b"a" * 95000)
        assert c.final_response("PUT").status == 201
    listing = as_dict(doc(get(srv, "/fs/up/")))
    assert [e["path"] for e in listing["list"]] == ["..", "new.txt", "old.txt"]


NAMES = ["my dir", "ünïcödé.txt", "日本.txt", "a b+c%d.txt"]


def test_listing_with_spaces_and_non_ascii_names(server, tmp_path):
    top = tmp_path / "intl"
    (top / "my dir").mkdir(parents=True)
    write(top / "my dir" / "日本.txt", "nihon")
    write(top / "ünïcödé.txt", "unicode")
    write(top / "日本.txt", "japan")
    write(top / "a b+c%d.txt", "odd")
    srv = server()
    srv.serve(prefix="/fs")

    listing = as_dict(doc(get(srv, "/fs/intl/")))
    assert listing == {
        "path": "/fs/intl/",
        "list": [
            {"path": "..", "type": "directory", "size": 0},
            {"path": "my dir", "type": "directory", "size": 0},
            {"path": "a b+c%d.txt", "type": "file", "size": 3},
            {"path": "ünïcödé.txt", "type": "file", "size": 7},
            {"path": "日本.txt", "type": "file", "size": 5},
        ],
    }
    sub = as_dict(doc(get(srv, "/fs/intl/" + quote("my dir") + "/")))
    assert sub == {
        "path": "/fs/intl/my dir/",
        "list": [
            {"path": "..", "type": "directory", "size": 0},
            {"path": "日本.txt", "type": "file", "size": 5},
        ],
    }
    # the files themselves, by percent-encoded URL
    for name, body in (("ünïcödé.txt", b"unicode"), ("日本.txt", b"japan"), ("a b+c%d.txt", b"odd")):
        r = get(srv, "/fs/intl/" + quote(name))
        assert (r.status, r.body) == (200, body), name
        assert mime(r) == "text/plain"
    r = get(srv, "/fs/intl/%6Dy%20dir/%E6%97%A5%E6%9C%AC.txt")  # mixed-case escapes
    assert (r.status, r.body) == (200, b"nihon")
    # the directory without its slash redirects to the encoded path + '/'
    r = get(srv, "/fs/intl/" + quote("my dir"))
    assert r.status == 301
    follow = get(srv, r.header("Location"))
    assert as_dict(doc(follow))["path"] == "/fs/intl/my dir/"


def test_dirs_false_refuses_listing_but_serves_files(server, tmp_path):
    write(tmp_path / "d" / "f.txt", "file")
    srv = server()
    srv.serve(dirs=False)
    assert get(srv, "/d/").status == 404
    assert get(srv, "/").status == 404
    assert get(srv, "/d/f.txt").body == b"file"


# --------------------------------------------------------------------------
# headers, MIME, HEAD


@pytest.mark.parametrize(
    "name,expected",
    [
        ("a.txt", "text/plain"),
        ("a.html", "text/html"),
        ("a.htm", "text/html"),
        ("a.json", "application/json"),
        ("a.css", "text/css"),
        ("a.png", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("A.TXT", "text/plain"),
    ],
)
def test_mime_type_by_extension(server, tmp_path, name, expected):
    write(tmp_path / name, "content")
    srv = server()
    srv.serve()
    r = get(srv, "/" + name)
    assert r.status == 200
    assert mime(r) == expected


def test_javascript_mime(server, tmp_path):
    write(tmp_path / "app.js", "var x;")
    srv = server()
    srv.serve()
    assert "javascript" in mime(get(srv, "/app.js"))


def test_file_headers(server, tmp_path):
    f = write(tmp_path / "f.txt", b"0123456789")
    os.utime(f, (MTIME, MTIME))
    srv = server()
    srv.serve()
    r = get(srv, "/f.txt")
    assert r.status == 200
    assert r.body == b"0123456789"
    assert r.header("Content-Length") == "10"
    assert r.header("Last-Modified") == "Sun, 09 Sep 2001 01:46:40 GMT"
    assert calendar.timegm(email.utils.parsedate(r.header("Last-Modified"))) == MTIME
    etag = r.header("ETag")
    assert etag and etag.removeprefix("W/").startswith('"') and etag.endswith('"')
    assert r.header("Accept-Ranges") == "bytes"
    # stable across requests, changes with the content
    assert get(srv, "/f.txt").header("ETag") == etag
    os.utime(f, (MTIME + 60, MTIME + 60))  # same size, other mtime
    etag2 = get(srv, "/f.txt").header("ETag")
    assert etag2 != etag
    write(f, b"0123456789abc")
    os.utime(f, (MTIME + 60, MTIME + 60))  # other size, same mtime
    assert get(srv, "/f.txt").header("ETag") not in (etag, etag2)


def test_head_on_file_has_headers_and_no_body(server, tmp_path):
    big = os.urandom(300_000)
    write(tmp_path / "big.bin", big)
    write(tmp_path / "next.txt", "next")
    srv = server()
    srv.serve()
    r = request(srv, "HEAD", "/big.bin")
    assert r.status == 200
    assert r.header("Content-Length") == str(len(big))
    assert r.header("ETag") and r.header("Last-Modified")
    assert r.body == b""
    # on the wire: nothing between the HEAD reply and the next reply
    with Conn(srv) as c:
        c.send("HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /next.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head = c.read_response("HEAD")
        assert head.status == 200
        assert head.header("Content-Length") == str(len(big))
        nxt = c.read_response("GET")
        assert (nxt.status, nxt.body) == (200, b"next")
        assert c.read_until_close() == b""


def test_head_on_directory_listing_has_no_body(server, tmp_path):
    write(tmp_path / "d" / "x.txt", "x")
    srv = server()
    srv.serve()
    with Conn(srv) as c:
        c.send("HEAD /d/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = c.read_response("HEAD")
        assert r.status == 200
        assert mime(r) == "application/json"
        assert c.read_until_close() == b""


def test_post_to_file_server_only_is_405(server, tmp_path):
    write(tmp_path / "f.txt", "keep")
    srv = server()
    srv.serve()
    r = request(srv, "POST", "/f.txt", body=b"overwrite")
    assert r.status == 405
    assert "GET" in (r.header("Allow") or "")
    r = request(srv, "DELETE", "/f.txt")
    assert r.status == 405
    assert (tmp_path / "f.txt").read_bytes() == b"keep"


# --------------------------------------------------------------------------
# conditional requests


@pytest.fixture
def cond(server, tmp_path):
    f = write(tmp_path / "c.txt", "conditional body")
    os.utime(f, (MTIME, MTIME))
    srv = server()
    srv.serve()
    return srv, get(srv, "/c.txt")


def test_if_none_match_with_etag_is_304(cond):
    srv, first = cond
    r = get(srv, "/c.txt", headers={"If-None-Match": first.header("ETag")})
    assert r.status == 304
    assert r.body == b""
    assert r.header("ETag") == first.header("ETag")


def test_if_none_match_in_a_list_is_304(cond):
    srv, first = cond
    r = get(srv, "/c.txt", headers={"If-None-Match": '"nope", %s' % first.header("ETag")})
    assert r.status == 304


def test_if_none_match_other_etag_is_200(cond):
    srv, _ = cond
    r = get(srv, "/c.txt", headers={"If-None-Match": '"something-else"'})
    assert (r.status, r.body) == (200, b"conditional body")


def test_304_has_no_body_on_the_wire(cond):
    srv, first = cond
    with Conn(srv) as c:
        c.send("GET /c.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n"
               "GET /c.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % first.header("ETag"))
        assert c.read_response().status == 304
        second = c.read_response()
        assert (second.status, second.body) == (200, b"conditional body")


@pytest.mark.parametrize("when", [MTIME, MTIME + 3600])
def test_if_modified_since_not_older_is_304(cond, when):
    srv, _ = cond
    r = get(srv, "/c.txt", headers={"If-Modified-Since": email.utils.formatdate(when, usegmt=True)})
    assert r.status == 304
    assert r.body == b""


def test_if_modified_since_older_is_200(cond):
    srv, _ = cond
    r = get(srv, "/c.txt",
            headers={"If-Modified-Since": email.utils.formatdate(MTIME - 1, usegmt=True)})
    assert (r.status, r.body) == (200, b"conditional body")


def test_modified_file_is_sent_again(cond, tmp_path):
    srv, first = cond
    f = write(tmp_path / "c.txt", "new conditional body")
    os.utime(f, (MTIME + 10, MTIME + 10))
    r = get(srv, "/c.txt", headers={"If-None-Match": first.header("ETag")})
    assert (r.status, r.body) == (200, b"new conditional body")


# --------------------------------------------------------------------------
# ranges

CONTENT = bytes(range(100))


@pytest.fixture
def ranged(server, tmp_path):
    write(tmp_path / "r.bin", CONTENT)
    srv = server()
    srv.serve()
    return srv


@pytest.mark.parametrize(
    "spec,start,end",
    [("bytes=10-19", 10, 19), ("bytes=0-0", 0, 0), ("bytes=90-", 90, 99),
     ("bytes=-5", 95, 99), ("bytes=95-500", 95, 99), ("bytes=-500", 0, 99),
     ("bytes=99-99", 99, 99)],
)
def test_single_range_is_206(ranged, spec, start, end):
    r = get(ranged, "/r.bin", headers={"Range": spec})
    assert r.status == 206
    assert r.header("Content-Range") == "bytes %d-%d/100" % (start, end)
    assert r.header("Content-Length") == str(end - start + 1)
    assert r.body == CONTENT[start:end + 1]


@pytest.mark.parametrize("spec", ["bytes=100-", "bytes=100-200", "bytes=500-600"])
def test_unsatisfiable_range_is_416(ranged, spec):
    r = get(ranged, "/r.bin", headers={"Range": spec})
    assert r.status == 416
    assert r.header("Content-Range") == "bytes */100"
    assert CONTENT not in r.body


def test_multiple_ranges_get_the_whole_file(ranged):
    r = get(ranged, "/r.bin", headers={"Range": "bytes=0-1,5-6"})
    assert r.status == 200
    assert r.body == CONTENT
    assert r.header("Content-Range") is None


def test_range_with_head(ranged):
    with Conn(ranged) as c:
        c.send("HEAD /r.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=10-19\r\nConnection: close\r\n\r\n")
        r = c.read_response("HEAD")
        assert r.status == 206
        assert r.header("Content-Range") == "bytes 10-19/100"
        assert c.read_until_close() == b""


# --------------------------------------------------------------------------
# Repr-Digest (RFC 9530), when asked with Want-Repr-Digest


def repr_digest(data):
    return "sha-256=:%s:" % base64.b64encode(hashlib.sha256(data).digest()).decode()


WANT = {"Want-Repr-Digest": "sha-512=3, sha-256=5"}


def test_repr_digest_of_the_whole_file_when_asked(ranged):
    r = get(ranged, "/r.bin", headers=WANT)
    assert (r.status, r.body) == (200, CONTENT)
    assert r.header("Repr-Digest") == repr_digest(CONTENT)
    r = get(ranged, "/r.bin", headers=dict(WANT, Range="bytes=10-19"))
    assert (r.status, r.body) == (206, CONTENT[10:20])
    assert r.header("Repr-Digest") == repr_digest(CONTENT)


@pytest.mark.parametrize("headers", [{}, {"Want-Repr-Digest": "sha-256=0"},
                                     {"Want-Repr-Digest": "sha-512=5"}])
def test_no_repr_digest_unless_sha256_is_wanted(ranged, headers):
    r = get(ranged, "/r.bin", headers=headers)
    assert r.status == 200
    assert r.header("Repr-Digest") is None


def test_repr_digest_of_a_gz_variant_is_of_the_bytes_sent(server, tmp_path):
    packed = gzip.compress(b"<p>compressed</p>")
    write(tmp_path / "page.html", "<p>plain</p>")
    write(tmp_path / "page.html.gz", packed)
    srv = server()
    srv.serve()
    r = get(srv, "/page.html", headers=dict(WANT, **{"Accept-Encoding": "gzip"}))
    assert (r.header("Content-Encoding"), r.body) == ("gzip", packed)
    assert r.header("Repr-Digest") == repr_digest(packed)


# --------------------------------------------------------------------------
# gzip variants


def test_gz_variant_served_when_accepted(server, tmp_path):
    write(tmp_path / "page.html", "<p>plain</p>")
    write(tmp_path / "page.html.gz", gzip.compress(b"<p>compressed</p>"))
    srv = server()
    srv.serve()
    r = get(srv, "/page.html", headers={"Accept-Encoding": "gzip, deflate"})
    assert r.status == 200
    assert r.header("Content-Encoding") == "gzip"
    assert "accept-encoding" in (r.header("Vary") or "").lower()
    assert mime(r) == "text/html"
    assert r.header("Content-Length") == str(len(r.body))
    assert gzip.decompress(r.body) == b"<p>compressed</p>"

    plain = get(srv, "/page.html")
    assert (plain.status, plain.body) == (200, b"<p>plain</p>")
    assert plain.header("Content-Encoding") is None


def test_only_gz_variant(server, tmp_path):
    write(tmp_path / "only.txt.gz", gzip.compress(b"only compressed"))
    srv = server()
    srv.serve()
    r = get(srv, "/only.txt", headers={"Accept-Encoding": "gzip"})
    assert r.status == 200
    assert r.header("Content-Encoding") == "gzip"
    assert "accept-encoding" in (r.header("Vary") or "").lower()
    assert mime(r) == "text/plain"
    assert gzip.decompress(r.body) == b"only compressed"
    assert get(srv, "/only.txt").status == 404
    assert get(srv, "/only.txt", headers={"Accept-Encoding": "br, deflate"}).status == 404


# --------------------------------------------------------------------------
# redirects and the 404 family


def test_directory_without_slash_is_301(server, tmp_path):
    write(tmp_path / "www" / "sub" / "deeper" / "x.txt", "x")
    srv = server()
    srv.serve(prefix="/fs", base="/www")
    r = get(srv, "/fs/sub")
    assert r.status == 301
    assert r.header("Location") == "/fs/sub/"
    r = get(srv, "/fs/sub/deeper")
    assert r.status == 301
    assert r.header("Location") == "/fs/sub/deeper/"
    assert get(srv, "/fs/sub/deeper/").status == 200


def test_missing_and_not_a_directory_are_the_same_404(server, tmp_path):
    write(tmp_path / "file.txt", "I am a file")
    srv = server()
    srv.serve()
    missing = get(srv, "/nope.txt")
    assert missing.status == 404
    for path in ("/file.txt/", "/file.txt/x", "/nodir/", "/nodir/x.txt", "/file.txt/x/"):
        r = get(srv, path)
        assert (r.status, r.body) == (404, missing.body), path
        assert b"I am a file" not in r.body


def test_symlink_pointing_outside_root_is_404(server, tmp_path):
    root = tmp_path / "root"
    write(root / "in.txt", "inside")
    secret = write(tmp_path / "secret.txt", "TOP SECRET " + uuid.uuid4().hex)
    (tmp_path / "outdir").mkdir()
    write(tmp_path / "outdir" / "o.txt", "outside dir file")
    os.symlink(secret, root / "evil.txt")
    os.symlink(tmp_path / "outdir", root / "evildir")
    srv = server(root=str(root))
    srv.serve()
    missing = get(srv, "/nope")
    for path in ("/evil.txt", "/evildir/", "/evildir/o.txt", "/evildir"):
        r = get(srv, path)
        assert (r.status, r.body) == (404, missing.body), path
    assert get(srv, "/in.txt").body == b"inside"


PERM_SCRIPT = r"""
import os, sys
import uhttpd
root = os.environ["UHTTPD_ROOT"]
if os.geteuid() == 0:          # root reads everything: drop to nobody
    os.setgid(65534)
    os.setuid(65534)
srv = uhttpd.Server(port=0, host="127.0.0.1", root=root)
srv.serve()
print(srv.port(), flush=True)
sys.stdin.read()
srv.close()
"""


def test_permission_denied_is_the_same_404(server_process, tmp_path_factory):
    import tempfile

    root = tempfile.mkdtemp(prefix="uhttpd-perm-")  # reachable by 'nobody'
    try:
        os.chmod(root, 0o755)
        with open(os.path.join(root, "ok.txt"), "w") as f:
            f.write("readable")
        with open(os.path.join(root, "locked.txt"), "w") as f:
            f.write("LOCKED CONTENT")
        os.chmod(os.path.join(root, "locked.txt"), 0o000)
        os.mkdir(os.path.join(root, "closed"))
        with open(os.path.join(root, "closed", "in.txt"), "w") as f:
            f.write("LOCKED CONTENT")
        os.chmod(os.path.join(root, "closed"), 0o000)

        port = server_process(PERM_SCRIPT, root)
        assert get(port, "/ok.txt").body == b"readable"
        missing = get(port, "/missing.txt")
        assert missing.status == 404
        for path in ("/locked.txt", "/closed/", "/closed/in.txt"):
            r = get(port, path)
            assert (r.status, r.body) == (404, missing.body), path
            assert b"LOCKED" not in r.body
    finally:
        os.chmod(os.path.join(root, "closed"), 0o755)
        subprocess.run(["rm", "-rf", root], check=False)


# --------------------------------------------------------------------------
# the ext mount


def test_ext_mount_is_tried_first(server, tmp_path):
    write(tmp_path / "sd" / "www" / "data" / "x.txt", "from sd")
    write(tmp_path / "www" / "data" / "x.txt", "from internal")
    write(tmp_path / "www" / "data" / "y.txt", "only internal")
    srv = server(ext="/sd")
    srv.serve(prefix="/fs", base="/www/data", ext=True)
    assert get(srv, "/fs/x.txt").body == b"from sd"
    assert get(srv, "/fs/y.txt").body == b"only internal"
    assert get(srv, "/fs/z.txt").status == 404


def test_ext_false_ignores_the_mount(server, tmp_path):
    write(tmp_path / "sd" / "x.txt", "from sd")
    write(tmp_path / "x.txt", "from internal")
    srv = server(ext="/sd")
    srv.serve()
    assert get(srv, "/x.txt").body == b"from internal"


def test_ext_directory_listing(server, tmp_path):
    write(tmp_path / "sd" / "d" / "card.txt", "card")
    write(tmp_path / "d" / "internal.txt", "internal")
    srv = server(ext="/sd")
    srv.serve(ext=True)
    # /d/ exists on the card, so the card's directory is the one listed
    assert as_dict(doc(get(srv, "/d/"))) == {
        "path": "/d/",
        "list": [{"path": "..", "type": "directory", "size": 0},
                 {"path": "card.txt", "type": "file", "size": 4}],
    }
    assert get(srv, "/d/card.txt").body == b"card"
    assert get(srv, "/d/internal.txt").body == b"internal"


# --------------------------------------------------------------------------
# registration errors


@pytest.mark.parametrize("kw", [{"prefix": "x"}, {"prefix": "fs/"}, {"base": "rel"},
                                {"base": "www/data"}, {"ext": True}])
def test_serve_registration_errors(server, kw):
    srv = server()
    with pytest.raises(ValueError):
        srv.serve(**kw)


def test_serve_takes_one_slot(server, tmp_path):
    write(tmp_path / "f.txt", "f")
    srv = server(routes=2)  # OPTIONS + the file server
    srv.serve(prefix="/fs")
    with pytest.raises(ValueError):
        srv.receive(prefix="/up")
    with pytest.raises(ValueError):
        srv.route("/x", uhttpd.GET, lambda req: req.write("x"))
    assert get(srv, "/fs/f.txt").body == b"f"


# --------------------------------------------------------------------------
# auth covers files


def test_basic_auth_covers_files(server, tmp_path):
    write(tmp_path / "private.txt", "private data")
    srv = server(acl=uhttpd.AUTH_BASIC, auth=GOOD)
    srv.serve()
    r = get(srv, "/private.txt")
    assert r.status == 401
    assert b"private data" not in r.body
    assert get(srv, "/").status == 401
    r = get(srv, "/private.txt", headers={"Authorization": GOOD.decode()})
    assert (r.status, r.body) == (200, b"private data")


def test_custom_auth_decides_per_file_path(server, tmp_path):
    write(tmp_path / "pub" / "a.txt", "public")
    write(tmp_path / "priv" / "b.txt", "private")
    srv = server(acl=uhttpd.AUTH_CUSTOM, auth=lambda req: not req.path().startswith("/priv"))
    srv.serve()
    assert get(srv, "/pub/a.txt").body == b"public"
    r = get(srv, "/priv/b.txt")
    assert r.status == 401
    assert b"private" not in r.body


# --------------------------------------------------------------------------
# big files


def test_20_mib_download_is_byte_exact(server, tmp_path):
    data = os.urandom(20 * 1024 * 1024)
    write(tmp_path / "big.bin", data)
    srv = server()
    srv.serve()
    r = get(srv, "/big.bin", timeout=30)
    assert r.status == 200
    assert r.header("Content-Length") == str(len(data))
    assert len(r.body) == len(data)
    assert hashlib.sha256(r.body).digest() == hashlib.sha256(data).digest()
    # and a range out of its middle
    r = get(srv, "/big.bin", headers={"Range": "bytes=10000000-10999999"}, timeout=30)
    assert r.status == 206
    assert r.body == data[10_000_000:11_000_000]


def test_download_with_curl(server, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    write(tmp_path / "c.bin", data)
    srv = server()
    srv.serve()
    out = tmp_path / "out.bin"
    subprocess.run(["curl", "-sS", "--fail", "--max-time", "20", "-o", str(out),
                    url(srv, "/c.bin")], check=True, timeout=30)
    assert out.read_bytes() == data


# --------------------------------------------------------------------------
# hostile paths: nothing outside root is read, written or deleted

# each replaces one "../"
TRAVERSALS = [
    "../", "..%2f", "..%2F", "%2e%2e/", "%2E%2E/", "%2e%2e%2f", ".%2e/", "%2e./",
    "..\\", "..%5c", "..%5C", "%2e%2e%5c", "..%c0%af", "%c0%ae%c0%ae/", "..%00/",
    "%2e%2e%00/", "..%u2215", "%2e%2e%2F", ".%2E%2f",
]
# these decode to ordinary (odd) names, not to "..": a GET finds nothing (404);
# a PUT or DELETE may legitimately act on that literal name inside root, so
# for those only the canary invariants are checked
DECOYS = ["..%252f", "%252e%252e/", "..;/"]


class Jail:
    """tmp/root is the server root; canaries live next to it and in /tmp."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.root = tmp_path / "root"
        self.token = "CANARY-" + uuid.uuid4().hex
        self.canary = write(tmp_path / "secret.txt", self.token + " file")
        self.canary_dir = tmp_path / "secretdir"
        write(self.canary_dir / "inner.txt", self.token + " inner")
        tag = uuid.uuid4().hex[:12]
        self.abs_canary = "/tmp/uhttpd-canary-%s.txt" % tag
        self.abs_evil = "/tmp/uhttpd-evil-%s.txt" % tag
        with open(self.abs_canary, "w") as f:
            f.write(self.token + " abs")
        write(self.root / "sub" / "file.txt", "inside root")
        os.symlink(tmp_path, self.root / "link")
        os.symlink(self.canary, self.root / "linkfile")
        self.outside_before = self.outside()
        self.stats = self.canary_stats()

    def outside(self):
        return ([p for p in tree(self.tmp) if not p.startswith("root/")],
                sorted(os.listdir(self.tmp.parent)))

    def canary_stats(self):
        out = {}
        for p in (self.canary, self.canary_dir / "inner.txt", self.abs_canary):
            st = os.stat(p)
            with open(p, "rb") as f:
                out[str(p)] = (f.read(), st.st_mtime_ns, st.st_ino)
        return out

    def check_untouched(self):
        assert self.canary_stats() == self.stats
        assert self.outside() == self.outside_before
        assert not os.path.exists(self.abs_evil)

    def cleanup(self):
        for p in (self.abs_canary, self.abs_evil):
            try:
                os.unlink(p)
            except OSError:
                pass


@pytest.fixture
def jail(tmp_path):
    j = Jail(tmp_path)
    yield j
    j.cleanup()


def hostile_targets(prefix, jail, method):
    abs_name = os.path.basename(jail.abs_evil if method == "PUT" else jail.abs_canary)
    name = "evil.txt" if method == "PUT" else "secret.txt"
    targets = []
    for v in TRAVERSALS + (DECOYS if method == "GET" else []):
        targets.append(prefix + v + "secret.txt")
        targets.append(prefix + "sub/" + v + v + name)
        targets.append(prefix + v * 8 + "tmp/" + abs_name)
        if method == "DELETE":
            targets.append(prefix + v + "secretdir/?force=1")
    targets += [prefix + t for t in [
        "..", "%2e%2e", ".%2e", "sub/..", "sub/../", "sub/%2e%2e/", "../", "%2e%2e/",
        "sub/../../secret.txt", "./../secret.txt", "sub/%2e%2e/%2e%2e/secret.txt",
        "sub/file.txt/../../../secret.txt", "/../secret.txt", "//..//secret.txt",
        "%2fetc%2fpasswd", "%2Fetc%2Fpasswd", "sub%2f..%2f..%2fsecret.txt",
        "sub/..%2f..%2fsecret.txt",
        "secret.txt%00", "sub/file.txt%00.html", "%00", "sub%00/file.txt", "sub/%00/",
        "C:/secret.txt", "C:%5csecret.txt", "c:secret.txt", "C%3a/secret.txt", "sub/C:/x.txt",
        "%5c..%5csecret.txt", "\\..\\secret.txt", "sub\\..\\..\\secret.txt",
        "%zz", "%", "%2", "sub/%g0.txt", "%%32%65%%32%65/secret.txt", "sub/%e",
        "%ff.txt", "%c3%28.txt", "%ed%a0%80.txt", "%c0%af", "\xc3\x28.txt", "\xff/secret.txt",
        "link/secret.txt", "link/secretdir/inner.txt", "link/secretdir/", "link/", "link/new/",
        "..?x=1", "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/tmp/" + abs_name,
    ]]
    if method == "GET":
        targets += [prefix + "..%3fx=1", prefix + "linkfile", prefix + "link", prefix + ("../" * 8) + "etc/passwd",
                    prefix + "%2e%2e/" * 8 + "etc/passwd"]
    if method == "DELETE":
        targets += [prefix + "link/?force=1", prefix + "link/secretdir/?force=1",
                    prefix + "link/secret.txt?force=1"]
    targets.append("http://127.0.0.1" + prefix + "../secret.txt")
    targets.append("http://127.0.0.1" + prefix + "%2e%2e/secret.txt")
    return targets


def send_hostile(port, method, target, token):
    body = ("PWNED " + token).encode() if method == "PUT" else b""
    req = "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % (
        method, target, len(body))
    with Conn(port, timeout=5) as c:
        c.send(req.encode("latin-1") + body)
        reply = c.read_response(method)
        rest = c.read_until_close()
    return reply, rest


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("prefixed", [True, False], ids=["prefix", "noprefix"])
def test_hostile_path_corpus(server, jail, method, prefixed):
    srv = server(root=str(jail.root))
    if prefixed:
        srv.serve(prefix="/fs")
        srv.receive(prefix="/up", delete=True)
        prefix = "/fs/" if method == "GET" else "/up/"
    else:
        srv.serve()
        srv.receive(delete=True)
        prefix = "/"
    targets = hostile_targets(prefix, jail, method)
    assert len(targets) >= 60
    failures = []
    for target in targets:
        try:
            reply, rest = send_hostile(srv.port(), method, target, jail.token)
        except (OSError, EOFError) as e:
            failures.append((target, "no reply: %r" % e))
            continue
        seen = reply.head + reply.body + rest
        if reply.status not in (400, 403, 404):
            failures.append((target, reply.status))
        if jail.token.encode() in seen or b"root:x:0:0" in seen:
            failures.append((target, "LEAKED CONTENT"))
    if method != "GET":
        name = "evil.txt" if method == "PUT" else "secret.txt"
        decoys = [prefix + "..%3fx=1"]
        for v in DECOYS:
            decoys += [prefix + v + "secret.txt", prefix + "sub/" + v + v + name,
                       prefix + v * 8 + "tmp/" + os.path.basename(jail.abs_evil)]
        for target in decoys:
            reply, rest = send_hostile(srv.port(), method, target, jail.token)
            if reply.status >= 500 or jail.token.encode() in reply.head + reply.body + rest:
                failures.append((target, reply.status))
    assert failures == []
    jail.check_untouched()
    # the server still works afterwards
    if method == "GET":
        assert get(srv, prefix + "sub/file.txt").body == b"inside root"


def test_hostile_disposition_filenames(server, jail):
    srv = server(root=str(jail.root))
    srv.receive(dynamic=False, prefix="/upload")
    names = ["/../secret.txt", "../secret.txt", "/sub/../../secret.txt", "/../evil.txt",
             "C:\\secret.txt", "C:/evil.txt", "/./../evil.txt", "//../evil.txt", "/link/evil.txt",
             "/link/secret.txt", "/" + "../" * 8 + "tmp/" + os.path.basename(jail.abs_evil),
             "/sub/\x00evil.txt", "..", "/.."]
    for name in names:
        body = b"PWNED " + jail.token.encode()
        head = ("POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n"
                'Content-Disposition: attachment; filename="%s"\r\n\r\n' % (len(body), name))
        r = raw(srv, head.encode("latin-1") + body)
        assert r.status in (400, 403, 404), (name, r)
    jail.check_untouched()


EXACT_400 = [
    "..", "../secret.txt", "sub/../file.txt", "%2e%2e/secret.txt", "%2E%2e", ".%2e/x",
    "sub%2ffile.txt", "sub%2Ffile.txt", "file%00.txt", "%00", "sub%5cfile.txt", "..%5csecret.txt",
    "C:/x.txt", "c:x.txt", "C%3a%5cx.txt", "%zz", "%", "abc%4", "%c3%28.txt", "%ff", "%c0%ae%c0%ae/x",
]


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "POST", "DELETE"])
def test_hostile_paths_are_400(server, jail, method):
    srv = server(root=str(jail.root))
    srv.serve(prefix="/fs")
    srv.receive(prefix="/up", delete=True)
    prefix = "/fs/" if method in ("GET", "HEAD") else "/up/"
    wrong = []
    for t in EXACT_400:
        reply, _ = send_hostile(srv.port(), method, prefix + t, jail.token)
        if reply.status != 400:
            wrong.append((t, reply.status))
    assert wrong == []
    jail.check_untouched()
    assert tree(jail.root) == ["link", "linkfile", "sub/", "sub/file.txt"]


# --------------------------------------------------------------------------
# a folder as a zip


def rss():
    """This process's resident set size in bytes (the server runs in it)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_folder_zip_of_a_big_tree_is_byte_exact_in_bounded_memory(server, tmp_path):
    top = tmp_path / "tree"
    digests = {}
    for n in range(300):
        name = "d%02d/sub%d/f%03d.txt" % (n % 12, n % 3, n)
        data = os.urandom(n * 37 % 5000)
        write(top / name, data)
        digests[name] = hashlib.sha256(data).digest()
    os.utime(top / "d00/sub0/f000.txt", (MTIME, MTIME))
    (top / "big").mkdir()
    for n in range(4):  # 200 MiB in all, written and hashed 1 MiB at a time
        name = "big/%d.bin" % n
        h = hashlib.sha256()
        with open(top / name, "wb") as f:
            for _ in range(50):
                piece = os.urandom(1 << 20)
                h.update(piece)
                f.write(piece)
        digests[name] = h.digest()
    srv = server()
    srv.serve(prefix="/fs")
    archive = tmp_path / "tree.zip"
    before = peak = rss()
    conn = http.client.HTTPConnection(HOST, srv.port(), timeout=30)
    try:
        conn.request("GET", "/fs/tree/?zip")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Content-Type") == "application/zip"
        assert resp.getheader("Content-Disposition") == 'attachment; filename="tree.zip"'
        with open(archive, "wb") as f:
            while piece := resp.read(1 << 20):
                f.write(piece)
                peak = max(peak, rss())
    finally:
        conn.close()
    # The server holds a few pieces of the archive, never the tree.
    assert peak - before < 30 << 20, "RSS grew by %d MiB" % ((peak - before) >> 20)
    with zipfile.ZipFile(archive) as z:
        infos = z.infolist()
        files = {i.filename: i for i in infos if not i.is_dir()}
        assert set(files) == set(digests)
        for name, info in files.items():
            h = hashlib.sha256()
            with z.open(info) as member:
                while piece := member.read(1 << 20):
                    h.update(piece)
            assert h.digest() == digests[name], name
        assert {i.filename for i in infos if i.is_dir()} == (
            {"big/"} | {"d%02d/" % n for n in range(12)}
            | {"d%02d/sub%d/" % (n % 12, n % 3) for n in range(300)}
        )
        # DOS times are local, to the even second.
        assert z.getinfo("d00/sub0/f000.txt").date_time == time.localtime(MTIME)[:6]


# --------------------------------------------------------------------------
# more directory-document and connection details


def test_listing_escapes_json_and_special_names_are_fetchable(server, tmp_path):
    d = tmp_path / "odd"
    names = ['a"b.txt', "q'uote.txt", "x<y>&.txt", "#hash.txt", "?q.txt", "%41.txt",
             "emoji😀.txt", "semi;colon.txt", "sp ace.txt"]
    for n in names:
        write(d / n, n)
    srv = server()
    srv.serve()
    listing = as_dict(doc(get(srv, "/odd/")))
    assert listing["path"] == "/odd/"
    assert listing["list"] == [{"path": "..", "type": "directory", "size": 0}] + [
        {"path": n, "type": "file", "size": len(n.encode())} for n in sorted(names)
    ]
    for n in names:
        r = get(srv, "/odd/" + quote(n, safe=""))
        assert (r.status, r.body) == (200, n.encode()), n


def test_unservable_names_do_not_break_the_listing(server, tmp_path):
    d = tmp_path / "mixed"
    write(d / "good.txt", "good")
    with open(os.path.join(os.fsencode(d), b"bad\xff.txt"), "wb") as f:
        f.write(b"not utf-8 name")
    srv = server()
    srv.serve()
    listing = as_dict(doc(get(srv, "/mixed/")))  # still valid JSON
    assert {"path": "good.txt", "type": "file", "size": 4} in listing["list"]


def test_listing_path_has_no_query(server, tmp_path):
    write(tmp_path / "d" / "x.txt", "x")
    srv = server()
    srv.serve(prefix="/fs")
    assert as_dict(doc(get(srv, "/fs/d/?sort=name&x=%2e%2e")))["path"] == "/fs/d/"
    assert get(srv, "/fs/d/x.txt?v=1").body == b"x"


def test_large_listing(server, tmp_path):
    d = tmp_path / "many"
    d.mkdir()
    for i in range(600):
        (d / ("file-%04d.txt" % i)).write_bytes(b"x" * (i % 7))
    srv = server()
    srv.serve()
    entries = as_dict(doc(get(srv, "/many/")))["list"]
    assert entries[0] == {"path": "..", "type": "directory", "size": 0}
    assert entries[1:] == [{"path": "file-%04d.txt" % i, "type": "file", "size": i % 7}
                           for i in range(600)]


def test_if_modified_since_garbage_is_ignored(cond):
    srv, _ = cond
    r = get(srv, "/c.txt", headers={"If-Modified-Since": "not a date"})
    assert (r.status, r.body) == (200, b"conditional body")


def test_keep_alive_file_replies_in_order(server, tmp_path):
    big = os.urandom(2 * 1024 * 1024 + 5)
    write(tmp_path / "big.bin", big)
    write(tmp_path / "small.txt", "small")
    srv = server()
    srv.serve()
    with Conn(srv, timeout=10) as c:
        c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=-10\r\n\r\n"
               "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r1, r2, r3, r4, r5 = (c.read_response() for _ in range(5))
        assert (r1.status, r1.body == big) == (200, True)
        assert (r2.status, r2.body) == (200, b"small")
        assert (r3.status, r3.body) == (206, big[-10:])
        assert r4.status == 404
        assert (r5.status, r5.body) == (200, b"small")
        assert c.read_until_close() == b""
