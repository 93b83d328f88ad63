"""Server.observations(): what the engine saw, as values (finished requests,
file changes), pulled by the host on a thread of its own."""

import threading
import time

import pytest

import uhttpd

from conftest import get, request


def test_nothing_is_kept_before_the_first_call(server):
    srv = server()
    srv.route("/a", uhttpd.GET, lambda req: req.write("a"))
    assert get(srv, "/a").status == 200
    assert srv.observations(0) == []


def test_each_finished_request_is_observed(server):
    srv = server()
    srv.route("/a", uhttpd.GET, lambda req: req.write("hello"))
    assert srv.observations(0) == []
    assert get(srv, "/a?x=1").status == 200
    assert get(srv, "/missing").status == 404
    seen = []
    deadline = time.monotonic() + 3
    while len(seen) < 2 and time.monotonic() < deadline:
        seen += srv.observations(0.5)
    first, second = seen
    assert first["kind"] == "request" and first["method"] == "GET"
    assert (first["target"], first["status"]) == ("/a?x=1", 200)
    assert first["bytes"] > len("hello")
    assert 0 <= first["duration"] < 3
    assert first["peer"][0] == "127.0.0.1" and isinstance(first["peer"][1], int)
    assert (second["target"], second["status"]) == ("/missing", 404)


def test_file_changes_are_observed_with_their_device_paths(server, root):
    srv = server(root=str(root))
    srv.receive(prefix="/up", delete=True)
    srv.observations(0)
    assert request(srv, "PUT", "/up/d%20x/caf%C3%A9.txt", body=b"1").status == 201
    assert request(srv, "PUT", "/up/d%20x/caf%C3%A9.txt", body=b"2").status == 204
    assert request(srv, "POST", "/up/made/").status == 201
    assert request(srv, "POST", "/up/made/").status == 200
    assert request(srv, "DELETE", "/up/d%20x/caf%C3%A9.txt").status == 204
    assert request(srv, "DELETE", "/up/made/?force=1").status == 204
    assert request(srv, "DELETE", "/up/missing").status == 404
    changes = []
    deadline = time.monotonic() + 3
    while len(changes) < 5 and time.monotonic() < deadline:
        changes += [(o["change"], o["path"]) for o in srv.observations(0.5) if o["kind"] == "file"]
    assert changes == [
        ("created", "/d x/café.txt"),
        ("replaced", "/d x/café.txt"),
        ("dir made", "/made/"),
        ("deleted", "/d x/café.txt"),
        ("deleted tree", "/made/"),
    ]


def test_observations_wait_without_holding_the_gil_and_close_ends_them(server):
    srv = server()
    srv.route("/a", uhttpd.GET, lambda req: req.write("a"))
    srv.observations(0)
    got = []
    t = threading.Thread(target=lambda: got.extend(srv.observations(5)))
    t.start()
    time.sleep(0.2)
    # The waiting thread leaves the GIL to others: this request is served.
    assert get(srv, "/a").status == 200
    t.join(5)
    assert [o["target"] for o in got] == ["/a"]
    srv.close()
    with pytest.raises(RuntimeError):
        srv.observations(0)


@pytest.mark.parametrize("timeout", [-1, float("nan"), float("inf")])
def test_a_bad_timeout_is_a_value_error(server, timeout):
    with pytest.raises(ValueError):
        server().observations(timeout)


def test_a_repl_transfer_is_observed(server, root, tmp_path):
    import webrepl_client as wc

    srv = server(root=str(root))
    srv.ws("/", "pw")
    srv.observations(0)
    local = tmp_path / "local.txt"
    local.write_bytes(b"from the repl")
    ws, _, _ = wc.connect(srv.port())
    try:
        wc.login(ws, "pw")
        wc.put_file(ws, str(local), "sent.txt")
    finally:
        ws.s.close()
    assert (root / "sent.txt").read_bytes() == b"from the repl"
    changes = []
    deadline = time.monotonic() + 3
    while not changes and time.monotonic() < deadline:
        changes = [(o["change"], o["path"]) for o in srv.observations(0.5) if o["kind"] == "file"]
    assert changes == [("created", "/sent.txt")]
