"""Server.file_acl(cb): asked with the device path before every read, listing,
write, mkdir and delete; ACL_RO / ACL_WO / ACL_RW grant, an int >= 400 is the
answer, anything else is 403, an exception is 500 and an ERROR log record."""

import logging
import threading

import pytest

import uhttpd

from conftest import LogCollector, get, request, tree, tree_settles_to

SECRET = b"file content the ACL protects"


class Acl:
    """A file_acl callback that records its calls and answers ``answer``
    (or ``answer(path)`` when callable)."""

    def __init__(self, answer):
        self.answer = answer
        self.calls = []
        self.lock = threading.Lock()

    def __call__(self, path):
        with self.lock:
            self.calls.append(path)
        if callable(self.answer):
            return self.answer(path)
        return self.answer

    def reset(self):
        with self.lock:
            self.calls.clear()


@pytest.fixture
def acl_server(server, tmp_path):
    """Factory: acl_server(answer) -> (srv, acl); /fs serves base /www,
    /up receives (with DELETE) into the whole root."""
    www = tmp_path / "www"
    (www / "dir" / "sub").mkdir(parents=True)
    (www / "dir" / "f.txt").write_bytes(SECRET)
    (www / "private").mkdir()
    (www / "private" / "p.txt").write_bytes(SECRET)
    (www / "public").mkdir()
    (www / "public" / "q.txt").write_bytes(b"public")

    def make(answer, **kw):
        srv = server(**kw)
        acl = Acl(answer)
        srv.file_acl(acl)
        srv.serve(prefix="/fs", base="/www")
        srv.receive(prefix="/up", delete=True)
        return srv, acl

    return make


def snapshot(tmp_path):
    out = {}
    for p in tree(tmp_path):
        if not p.endswith("/"):
            out[p] = (tmp_path / p).read_bytes()
        else:
            out[p] = None
    return out


# --------------------------------------------------------------------------
# the path the callback sees


def test_callback_gets_device_paths(acl_server, tmp_path):
    srv, acl = acl_server(uhttpd.ACL_RW)

    assert get(srv, "/fs/dir/f.txt").status == 200
    assert acl.calls == ["/www/dir/f.txt"]
    acl.reset()

    assert request(srv, "HEAD", "/fs/dir/f.txt").status == 200
    assert acl.calls == ["/www/dir/f.txt"]
    acl.reset()

    assert get(srv, "/fs/dir/").status == 200
    assert acl.calls == ["/www/dir/"]
    acl.reset()

    assert request(srv, "PUT", "/up/new/n.txt", body=b"n").status == 201
    assert "/new/n.txt" in acl.calls
    acl.reset()

    assert request(srv, "POST", "/up/made/", body=b"").status == 201
    assert "/made/" in acl.calls
    acl.reset()

    assert request(srv, "DELETE", "/up/new/n.txt").status == 204
    assert "/new/n.txt" in acl.calls
    acl.reset()

    assert request(srv, "DELETE", "/up/made/").status == 204
    assert "/made/" in acl.calls
    acl.reset()

    assert request(srv, "DELETE", "/up/new/?force=1").status == 204
    assert "/new/" in acl.calls


def test_callback_never_sees_host_paths(acl_server, tmp_path):
    srv, acl = acl_server(uhttpd.ACL_RW)
    get(srv, "/fs/dir/f.txt")
    get(srv, "/fs/dir/")
    request(srv, "PUT", "/up/a/b.txt", body=b"x")
    request(srv, "DELETE", "/up/a/b.txt")
    assert acl.calls
    for path in acl.calls:
        assert path.startswith("/")
        assert str(tmp_path) not in path


def test_callback_path_for_percent_encoded_names(acl_server, tmp_path):
    (tmp_path / "www" / "my dir").mkdir()
    (tmp_path / "www" / "my dir" / "日本.txt").write_bytes(b"jp")
    srv, acl = acl_server(uhttpd.ACL_RW)
    assert get(srv, "/fs/my%20dir/%E6%97%A5%E6%9C%AC.txt").body == b"jp"
    assert acl.calls == ["/www/my dir/日本.txt"]


def test_callback_path_for_static_receiver(server, tmp_path):
    srv = server()
    acl = Acl(uhttpd.ACL_RW)
    srv.file_acl(acl)
    srv.receive(dynamic=False, prefix="/upload")
    r = request(srv, "POST", "/upload", body=b"d",
                headers={"Content-Disposition": 'attachment; filename="/cfg/settings.json"'})
    assert r.status == 201
    assert "/cfg/settings.json" in acl.calls


def test_callback_path_on_ext_mount(server, tmp_path):
    (tmp_path / "sd").mkdir()
    (tmp_path / "sd" / "card.txt").write_bytes(b"card")
    (tmp_path / "int.txt").write_bytes(b"int")
    srv = server(ext="/sd")
    acl = Acl(uhttpd.ACL_RW)
    srv.file_acl(acl)
    srv.serve(ext=True)
    assert get(srv, "/card.txt").body == b"card"
    assert acl.calls[-1] == "/sd/card.txt"
    assert get(srv, "/int.txt").body == b"int"
    assert acl.calls[-1] == "/int.txt"


# --------------------------------------------------------------------------
# grants


def test_acl_ro(acl_server, tmp_path):
    srv, acl = acl_server(uhttpd.ACL_RO)
    assert uhttpd.ACL_RO == 1
    before = snapshot(tmp_path)
    r = get(srv, "/fs/dir/f.txt")
    assert (r.status, r.body) == (200, SECRET)
    assert get(srv, "/fs/dir/").status == 200
    assert get(srv, "/fs/dir/f.txt", headers={"Range": "bytes=0-3"}).status == 206

    assert request(srv, "PUT", "/up/www/dir/f.txt", body=b"changed").status == 403
    assert request(srv, "POST", "/up/brand/new/file.txt", body=b"new").status == 403
    assert request(srv, "POST", "/up/newdir/", body=b"").status == 403
    assert request(srv, "DELETE", "/up/www/dir/f.txt").status == 403
    assert request(srv, "DELETE", "/up/www/dir/sub/").status == 403
    assert request(srv, "DELETE", "/up/www/?force=1").status == 403
    assert tree_settles_to(tmp_path, list(before)) == sorted(before)
    assert snapshot(tmp_path) == before


def test_acl_wo(acl_server, tmp_path):
    srv, acl = acl_server(uhttpd.ACL_WO)
    assert uhttpd.ACL_WO == 2
    for path in ("/fs/dir/f.txt", "/fs/dir/"):
        r = get(srv, path)
        assert r.status == 403, path
        assert SECRET not in r.body
    r = request(srv, "HEAD", "/fs/dir/f.txt")
    assert r.status == 403
    r = get(srv, "/fs/dir/f.txt", headers={"Range": "bytes=0-3"})
    assert r.status == 403
    assert SECRET[:4] not in r.body

    assert request(srv, "PUT", "/up/www/dir/f.txt", body=b"changed").status == 204
    assert (tmp_path / "www" / "dir" / "f.txt").read_bytes() == b"changed"
    assert request(srv, "POST", "/up/brand/new.txt", body=b"new").status == 201
    assert request(srv, "POST", "/up/newdir/", body=b"").status == 201
    assert request(srv, "DELETE", "/up/newdir/").status == 204
    assert request(srv, "DELETE", "/up/brand/new.txt").status == 204
    assert not (tmp_path / "newdir").exists()
    assert not (tmp_path / "brand" / "new.txt").exists()


def test_acl_rw(acl_server, tmp_path):
    srv, acl = acl_server(uhttpd.ACL_RW)
    assert uhttpd.ACL_RW == 3
    assert get(srv, "/fs/dir/f.txt").body == SECRET
    assert get(srv, "/fs/dir/").status == 200
    assert request(srv, "PUT", "/up/www/dir/f.txt", body=b"rw").status == 204
    assert get(srv, "/fs/dir/f.txt").body == b"rw"
    assert request(srv, "DELETE", "/up/www/dir/?force=1").status == 204
    assert not (tmp_path / "www" / "dir").exists()


def test_acl_decides_per_path(acl_server, tmp_path):
    def decide(path):
        if path.startswith("/www/private/"):
            return 403
        if path.startswith("/www/public/"):
            return uhttpd.ACL_RO
        return uhttpd.ACL_RW

    srv, acl = acl_server(decide)
    r = get(srv, "/fs/private/p.txt")
    assert r.status == 403
    assert SECRET not in r.body
    assert get(srv, "/fs/private/").status == 403
    assert get(srv, "/fs/public/q.txt").body == b"public"
    assert get(srv, "/fs/public/").status == 200
    assert request(srv, "PUT", "/up/www/public/q.txt", body=b"x").status == 403
    assert request(srv, "PUT", "/up/www/other.txt", body=b"x").status == 201
    assert (tmp_path / "www" / "public" / "q.txt").read_bytes() == b"public"


def test_denied_read_is_not_a_304(acl_server, tmp_path):
    srv, acl = acl_server(uhttpd.ACL_RW)
    etag = get(srv, "/fs/dir/f.txt").header("ETag")
    acl.answer = uhttpd.ACL_WO
    r = get(srv, "/fs/dir/f.txt", headers={"If-None-Match": etag})
    assert r.status == 403


# --------------------------------------------------------------------------
# error statuses and invalid answers


@pytest.mark.parametrize("status", [400, 401, 404, 418, 451, 500, 503, 599])
def test_int_at_least_400_is_the_answer(acl_server, tmp_path, status):
    srv, acl = acl_server(status)
    before = snapshot(tmp_path)
    r = get(srv, "/fs/dir/f.txt")
    assert r.status == status
    assert SECRET not in r.body
    assert get(srv, "/fs/dir/").status == status
    assert request(srv, "PUT", "/up/www/dir/f.txt", body=b"x").status == status
    assert request(srv, "POST", "/up/d/", body=b"").status == status
    assert request(srv, "DELETE", "/up/www/dir/f.txt").status == status
    assert tree_settles_to(tmp_path, list(before)) == sorted(before)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "answer",
    [None, "x", "3", b"3", 7, 4, 0, -1, 399, 3.0, True, False, [3], (uhttpd.ACL_RW,)],
    ids=lambda a: repr(a),
)
def test_invalid_answer_is_403(acl_server, tmp_path, answer):
    srv, acl = acl_server(answer)
    before = snapshot(tmp_path)
    r = get(srv, "/fs/dir/f.txt")
    assert r.status == 403
    assert SECRET not in r.body
    assert get(srv, "/fs/dir/").status == 403
    assert request(srv, "PUT", "/up/www/dir/f.txt", body=b"x").status == 403
    assert request(srv, "PUT", "/up/new.txt", body=b"x").status == 403
    assert request(srv, "POST", "/up/d/", body=b"").status == 403
    assert request(srv, "DELETE", "/up/www/dir/f.txt").status == 403
    assert tree_settles_to(tmp_path, list(before)) == sorted(before)
    assert snapshot(tmp_path) == before


def test_raising_callback_is_500_and_logged(acl_server, tmp_path, uhttpd_log):
    def boom(path):
        raise RuntimeError("acl boom for " + path)

    srv, acl = acl_server(boom)
    before = snapshot(tmp_path)

    r = get(srv, "/fs/dir/f.txt")
    assert r.status == 500
    assert SECRET not in r.body
    errors = uhttpd_log.wait_for(lambda rec: rec.levelno >= logging.ERROR)
    assert errors, "no ERROR record on the 'uhttpd' logger"
    assert any("acl boom" in LogCollector.text(rec) for rec in errors)

    assert get(srv, "/fs/dir/").status == 500
    assert request(srv, "PUT", "/up/www/dir/f.txt", body=b"x").status == 500
    assert request(srv, "PUT", "/up/new/n.txt", body=b"x").status == 500
    assert request(srv, "POST", "/up/d/", body=b"").status == 500
    assert request(srv, "DELETE", "/up/www/dir/f.txt").status == 500
    assert request(srv, "DELETE", "/up/www/?force=1").status == 500
    assert tree_settles_to(tmp_path, list(before)) == sorted(before)
    assert snapshot(tmp_path) == before
    assert len(uhttpd_log.wait_for(lambda rec: rec.levelno >= logging.ERROR, count=7)) >= 7
    # the server keeps working once the callback behaves
    acl.answer = uhttpd.ACL_RO
    assert get(srv, "/fs/dir/f.txt").body == SECRET


def test_callback_is_asked_every_time(acl_server, tmp_path):
    srv, acl = acl_server(uhttpd.ACL_RO)
    assert get(srv, "/fs/dir/f.txt").status == 200
    acl.answer = 403
    assert get(srv, "/fs/dir/f.txt").status == 403
    acl.answer = uhttpd.ACL_RO
    assert get(srv, "/fs/dir/f.txt").status == 200
    assert acl.calls == ["/www/dir/f.txt"] * 3


def test_acl_on_static_receiver_refuses(server, tmp_path):
    srv = server()
    acl = Acl(uhttpd.ACL_RO)
    srv.file_acl(acl)
    srv.receive(dynamic=False, prefix="/upload")
    r = request(srv, "POST", "/upload", body=b"d",
                headers={"Content-Disposition": 'attachment; filename="/x/y.txt"'})
    assert r.status == 403
    assert tree(tmp_path) == []
