"""The uploader's MOVE (WebDAV, RFC 4918) and the preconditions (If-Match,
If-None-Match, RFC 9110) of uploads, DELETE and MOVE, through the CPython
face with http.client; and the "moved" observation."""

import os
import time

import pytest

import uhttpd

from conftest import get, request, tree, url


@pytest.fixture
def fs(server, tmp_path):
    """The file server and the uploader (delete=True) on /fs, as the console has them,
    over ``a.txt``, ``b.txt`` and ``dir/in.txt``."""
    (tmp_path / "a.txt").write_bytes(b"a")
    (tmp_path / "b.txt").write_bytes(b"b")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "in.txt").write_bytes(b"in")
    srv = server()
    srv.serve(prefix="/fs")
    srv.receive(prefix="/fs", delete=True)
    return srv


def move(srv, path, destination, **headers):
    headers = {k.replace("_", "-"): v for k, v in headers.items()}
    headers["Destination"] = destination
    return request(srv, "MOVE", path, headers=headers)


def test_rename_then_replace(fs, tmp_path):
    r = move(fs, "/fs/a.txt", "/fs/new.txt")
    assert r.status == 201
    assert get(fs, "/fs/new.txt").body == b"a"
    assert get(fs, "/fs/a.txt").status == 404
    r = move(fs, "/fs/new.txt", url(fs, "/fs/b.txt"))
    assert r.status == 204
    assert (tmp_path / "b.txt").read_bytes() == b"a"
    assert tree(tmp_path) == ["b.txt", "dir/", "dir/in.txt"]


def test_percent_encoded_names_and_folders(fs, tmp_path):
    assert move(fs, "/fs/dir/", "/fs/d%C3%A9j%C3%A0%20vu/").status == 201
    assert (tmp_path / "déjà vu" / "in.txt").read_bytes() == b"in"
    assert move(fs, "/fs/d%C3%A9j%C3%A0%20vu/in.txt", "/fs/%E6%97%A5.txt").status == 201
    assert (tmp_path / "日.txt").read_bytes() == b"in"


@pytest.mark.parametrize(
    "source, destination, headers, status",
    [
        ("/fs/missing", "/fs/x", {}, 404),
        ("/fs/a.txt", "/fs/no/such/x", {}, 409),
        ("/fs/dir/", "/fs/dir/inner/", {}, 409),
        ("/fs/a.txt", "/fs/b.txt", {"Overwrite": "F"}, 412),
        ("/fs/a.txt", "/fs/a.txt", {}, 403),
        ("/fs/a.txt", "/elsewhere/a.txt", {}, 403),
        ("/fs/a.txt", "/fs/.%s.uhttpd-tmp" % ("0" * 32), {}, 403),
        ("/fs/a.txt", "http://other.example/fs/x", {}, 502),
        ("/fs/a.txt", "x", {}, 400),
    ],
)
def test_refusals_change_nothing(fs, tmp_path, source, destination, headers, status):
    before = tree(tmp_path)
    assert move(fs, source, destination, **headers).status == status
    assert tree(tmp_path) == before
    assert (tmp_path / "a.txt").read_bytes() == b"a"


def test_a_link_moves_itself(fs, tmp_path):
    os.symlink("dir", tmp_path / "link")
    assert move(fs, "/fs/link", "/fs/renamed").status == 201
    assert os.readlink(tmp_path / "renamed") == "dir"
    assert (tmp_path / "dir" / "in.txt").read_bytes() == b"in"


def test_without_delete_true_move_is_405(server, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"a")
    srv = server()
    srv.receive(prefix="/up")
    r = move(srv, "/up/a.txt", "/up/b.txt")
    assert r.status == 405
    assert "MOVE" not in r.header("Allow")
    assert (tmp_path / "a.txt").exists()


def test_file_acl_is_asked_for_both_paths(fs, tmp_path):
    (tmp_path / "locked").mkdir()
    fs.file_acl(lambda path: uhttpd.ACL_RO if path.startswith("/locked/") else uhttpd.ACL_RW)
    assert move(fs, "/fs/a.txt", "/fs/locked/a.txt").status == 403
    assert move(fs, "/fs/dir/", "/fs/locked/dir/").status == 403
    (tmp_path / "locked" / "l.txt").write_bytes(b"l")
    assert move(fs, "/fs/locked/l.txt", "/fs/l.txt").status == 403
    assert tree(tmp_path) == ["a.txt", "b.txt", "dir/", "dir/in.txt", "locked/", "locked/l.txt"]


def test_editor_save_with_if_match_sees_a_change_on_disk(fs, tmp_path):
    tag = get(fs, "/fs/a.txt").header("ETag")
    # Saved with the tag it read: lands.
    r = request(fs, "PUT", "/fs/a.txt", body=b"edit 1", headers={"If-Match": tag})
    assert r.status == 204
    tag = get(fs, "/fs/a.txt").header("ETag")
    # Changed on disk meanwhile: the next save is refused, nothing overwritten.
    (tmp_path / "a.txt").write_bytes(b"changed elsewhere")
    r = request(fs, "PUT", "/fs/a.txt", body=b"edit 2", headers={"If-Match": tag})
    assert r.status == 412
    assert (tmp_path / "a.txt").read_bytes() == b"changed elsewhere"
    assert [p for p in os.listdir(tmp_path) if p.endswith(".uhttpd-tmp")] == []
    assert request(fs, "DELETE", "/fs/a.txt", headers={"If-Match": tag}).status == 412
    assert move(fs, "/fs/a.txt", "/fs/z.txt", If_Match=tag).status == 412
    assert (tmp_path / "a.txt").read_bytes() == b"changed elsewhere"


def test_if_none_match_star_creates_only(fs, tmp_path):
    create_only = {"If-None-Match": "*"}
    assert request(fs, "PUT", "/fs/b.txt", body=b"B", headers=create_only).status == 412
    assert (tmp_path / "b.txt").read_bytes() == b"b"
    assert request(fs, "PUT", "/fs/c.txt", body=b"C", headers=create_only).status == 201
    assert request(fs, "DELETE", "/fs/nothing", headers={"If-Match": "*"}).status == 412


def test_a_move_is_observed_with_its_destination(fs):
    fs.observations(0)
    assert move(fs, "/fs/a.txt", "/fs/x%20y.txt").status == 201
    assert move(fs, "/fs/x%20y.txt", "/fs/b.txt").status == 204
    assert move(fs, "/fs/dir", "/fs/folder").status == 201
    changes = []
    deadline = time.monotonic() + 3
    while len(changes) < 3 and time.monotonic() < deadline:
        changes += [o for o in fs.observations(0.5) if o["kind"] == "file"]
    assert changes == [
        {"kind": "file", "change": "moved", "path": "/a.txt", "destination": "/x y.txt",
         "replaced": False},
        {"kind": "file", "change": "moved", "path": "/x y.txt", "destination": "/b.txt",
         "replaced": True},
        {"kind": "file", "change": "moved", "path": "/dir/", "destination": "/folder/",
         "replaced": False},
    ]
