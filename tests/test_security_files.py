"""Attacks on the file features by a network client or a local user, each
held (docs/SECURITY.md lists them): forced deletes through symlinks, FIFOs
and other special files under root, slow bodies that would starve the
callbacks, reachable temporary upload files, symlink swaps racing uploads,
and the longest valid names.
"""

import json
import os
import socket
import threading
import time

import pytest

from conftest import HOST, Conn, get, request, tree


def put(srv, path, body, method="PUT", headers=None, timeout=10):
    return request(srv, method, path, body=body, headers=headers, timeout=timeout)


@pytest.fixture
def up(server, root):
    """A receiver on /up (with DELETE) and a file server on /fs."""
    srv = server(root=str(root))
    srv.receive(prefix="/up", delete=True)
    srv.serve(prefix="/fs", dirs=True)
    return srv


# --------------------------------------------------------------------------
# 1. a forced delete never follows a link


def test_forced_delete_of_a_link_to_root_removes_the_link_only(up, root):
    (root / "data").mkdir()
    (root / "data" / "keep.txt").write_bytes(b"keep")
    (root / "top.txt").write_bytes(b"top")
    os.symlink(".", root / "here")
    os.symlink("data", root / "alias")
    assert request(up, "DELETE", "/up/?force=1").status == 403
    assert request(up, "DELETE", "/up/here?force=1").status == 204
    assert request(up, "DELETE", "/up/alias?force=1").status == 204
    assert sorted(os.listdir(root)) == ["data", "top.txt"]
    assert (root / "data" / "keep.txt").read_bytes() == b"keep"


def test_trailing_slash_on_a_link_is_not_a_directory(up, root):
    (root / "data").mkdir()
    os.symlink("data", root / "alias")
    assert request(up, "DELETE", "/up/alias/?force=1").status == 404
    assert os.path.islink(root / "alias") and (root / "data").is_dir()


def test_forced_delete_of_a_tree_removes_links_inside_not_their_targets(up, root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_bytes(b"precious")
    (root / "tree" / "sub").mkdir(parents=True)
    (root / "tree" / "sub" / "a.txt").write_bytes(b"a")
    os.symlink(str(outside), root / "tree" / "out")
    os.symlink("..", root / "tree" / "sub" / "up")
    assert request(up, "DELETE", "/up/tree?force=1").status == 204
    assert not (root / "tree").exists()
    assert (outside / "precious.txt").read_bytes() == b"precious"


def test_the_acl_is_asked_about_everything_a_forced_delete_removes(up, root):
    (root / "tree" / "locked").mkdir(parents=True)
    (root / "tree" / "a.txt").write_bytes(b"a")
    (root / "tree" / "locked" / "b.txt").write_bytes(b"b")
    asked = []

    def acl(path):
        asked.append(path)
        return 403 if path.startswith("/tree/locked/") else 3

    up.file_acl(acl)
    before = tree(root)
    assert request(up, "DELETE", "/up/tree?force=1").status == 403
    assert tree(root) == before, "nothing removed when one entry is refused"
    assert {"/tree", "/tree/", "/tree/a.txt", "/tree/locked/"} <= set(asked)
    up.file_acl(lambda path: 3)
    assert request(up, "DELETE", "/up/tree?force=1").status == 204
    assert not (root / "tree").exists()


# --------------------------------------------------------------------------
# 2. FIFOs, sockets and devices answer like missing files


@pytest.fixture
def specials(root):
    os.mkfifo(root / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock"))
    os.symlink("pipe", root / "to-pipe")
    (root / "file.txt").write_bytes(b"plain")
    yield root
    sock.close()


def test_a_fifo_is_a_missing_file_and_never_hangs_the_server(server, specials):
    srv = server(root=str(specials))
    srv.serve(prefix="/fs", dirs=True)
    for name in ["pipe", "sock", "to-pipe"]:
        t0 = time.monotonic()
        assert get(srv, "/fs/" + name, timeout=3).status == 404, name
        assert time.monotonic() - t0 < 2
    assert get(srv, "/fs/file.txt").body == b"plain"
    listing = json.loads(get(srv, "/fs/").body)
    assert [e["path"] for e in listing["list"]] == ["file.txt"]
    t0 = time.monotonic()
    srv.close()
    assert time.monotonic() - t0 < 2, "close() waited for a thread stuck on the FIFO"


def test_uploading_over_a_fifo_replaces_it_without_opening_it(up, specials):
    assert put(up, "/up/pipe", b"data").status == 204
    assert (specials / "pipe").read_bytes() == b"data"


# --------------------------------------------------------------------------
# 3. slow bodies do not starve callbacks or ACL-checked files


def trickle(srv, n, path="/echo"):
    """``n`` connections that send a head announcing 100 bytes, then 1 byte."""
    conns = []
    for _ in range(n):
        c = socket.create_connection((HOST, srv.port()), timeout=10)
        c.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx" % path.encode())
        conns.append(c)
    return conns


@pytest.mark.parametrize("slow_clients", [8, 40])
def test_slow_request_bodies_do_not_starve_callbacks(server, root, slow_clients):
    (root / "f.txt").write_bytes(b"static")
    srv = server(root=str(root))

    def echo(req):
        req.write(req.read(), mime="text/plain")

    srv.route("/echo", 2, echo)  # POST
    srv.route("/ping", 1, lambda req: req.write("pong", mime="text/plain"))
    srv.serve(prefix="/fs")
    srv.file_acl(lambda path: 3)
    conns = trickle(srv, slow_clients)
    try:
        time.sleep(0.3)
        for _ in range(3):
            t0 = time.monotonic()
            assert get(srv, "/ping", timeout=3).body == b"pong"
            assert get(srv, "/fs/f.txt", timeout=3).body == b"static"
            assert time.monotonic() - t0 < 1.5
        # A slow client that finishes its body gets its answer.
        conns[0].sendall(b"y" * 99)
        reply = conns[0].recv(65536)
        assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"x" + b"y" * 99)
    finally:
        for c in conns:
            c.close()


# --------------------------------------------------------------------------
# 6. temporary upload files are unreachable and unguessable


def test_a_temporary_upload_file_is_unreachable(up, root):
    (root / "victim.txt").write_bytes(b"old")
    c = Conn(up, timeout=10)
    c.send("PUT /up/victim.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nHELLO")
    deadline = time.monotonic() + 3
    temps = []
    while not temps and time.monotonic() < deadline:
        temps = [n for n in os.listdir(root) if n.endswith(".uhttpd-tmp")]
        time.sleep(0.02)
    assert len(temps) == 1, os.listdir(root)
    temp = temps[0]
    assert "victim" not in temp and len(temp) < 64
    assert get(up, "/fs/" + temp).status == 404
    assert put(up, "/up/" + temp, b"EVILEVIL!!").status == 403
    assert request(up, "DELETE", "/up/" + temp).status == 403
    assert temp not in [e["path"] for e in json.loads(get(up, "/fs/").body)["list"]]
    assert (root / temp).exists(), "the upload's temporary file is untouched"
    c.send("WORLD")
    assert c.final_response("PUT").status == 204
    assert (root / "victim.txt").read_bytes() == b"HELLOWORLD"
    c.close()


# --------------------------------------------------------------------------
# 7. a local user swapping a directory for a link cannot make writes leave root


SWAPPER = r"""
import os, sys, time
root, outside, seconds, tag = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
race = os.path.join(root, "race")
stop = time.monotonic() + seconds
swaps = 0
while time.monotonic() < stop:
    try:
        if os.path.islink(race):
            os.unlink(race)
            os.mkdir(race)
        elif os.path.isdir(race):
            os.rename(race, os.path.join(root, "old-%s-%d" % (tag, swaps)))
            os.symlink(outside, race)
        else:
            os.symlink(outside, race)
        swaps += 1
    except OSError:
        pass
print(swaps)
"""


def test_symlink_swaps_racing_uploads_never_write_outside_root(up, root, tmp_path):
    # The local user: two processes of their own (no share of our GIL)
    # swapping root/race between a directory and a link to outside.
    import subprocess
    import sys
    outside = tmp_path / "outside"
    outside.mkdir()
    seconds = 3.0
    swappers = [subprocess.Popen([sys.executable, "-c", SWAPPER, str(root), str(outside), str(seconds), tag],
                                 stdout=subprocess.PIPE, text=True) for tag in "ab"]
    stop = time.monotonic() + seconds

    def uploader(kind):
        n = 0
        while time.monotonic() < stop:
            n += 1
            try:
                if kind == "put":
                    put(up, "/up/race/f%d.txt" % n, b"x", timeout=5)
                elif kind == "mkdir":
                    request(up, "POST", "/up/race/d%d/" % n, timeout=5)
                else:
                    put(up, "/up/race/deep/er/g%d.txt" % n, b"y", timeout=5)
            except OSError:
                pass

    threads = [threading.Thread(target=uploader, args=(k,)) for k in ("put", "mkdir", "deep")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    swaps = sum(int(p.communicate(timeout=20)[0]) for p in swappers)
    assert swaps > 100, "the swappers barely ran"
    assert os.listdir(outside) == [], "written outside root: %r" % os.listdir(outside)[:10]


# --------------------------------------------------------------------------
# 9. the longest valid names


@pytest.mark.parametrize("length", [240, 250, 255])
def test_an_upload_name_of_up_to_255_bytes_lands(up, root, length):
    name = "n" * (length - 4) + ".txt"
    assert put(up, "/up/" + name, b"long").status == 201
    assert (root / name).read_bytes() == b"long"
    assert put(up, "/up/" + "n" * 256, b"x").status == 400


# --------------------------------------------------------------------------
# the portable fallbacks (no openat2, sendfile or unsent-bytes ioctl)


PORTABLE_APP = r"""
import http.client, logging, os, sys, uhttpd
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
root = sys.argv[1]
srv = uhttpd.Server(0, host="127.0.0.1", root=root)
srv.serve(prefix="/fs")
srv.receive(prefix="/up")
c = http.client.HTTPConnection("127.0.0.1", srv.port(), timeout=5)
c.request("PUT", "/up/sub/big.bin", body=b"z" * 300000)
r = c.getresponse()
r.read()
print("PUT", r.status)
c.request("GET", "/fs/sub/big.bin")
r = c.getresponse()
print("GET", r.status, len(r.read()))
c.request("GET", "/fs/out/secret.txt")
r = c.getresponse()
r.read()
print("ESCAPE", r.status)
srv.close()
"""


@pytest.mark.parametrize("portable", ["1", "0"])
def test_the_portable_switch_serves_and_confines_the_same(root, tmp_path, portable):
    import subprocess
    import sys
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    os.symlink(str(outside), root / "out")
    env = dict(os.environ, UHTTPD_PORTABLE=portable)
    done = subprocess.run([sys.executable, "-c", PORTABLE_APP, str(root)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "PUT 201" in lines and "GET 200 300000" in lines and "ESCAPE 404" in lines, lines
    says_portable = "portable file and socket calls in use" in done.stderr
    assert says_portable == (portable == "1")
