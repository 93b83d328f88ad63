"""Routing: esp_http_server wildcards, registration order, shadowing,
404/405/501, OPTIONS, slot accounting and the routes=iterable form."""

import pytest

import uhttpd

from conftest import Recorder, get, raw, request, tokens

ALL = uhttpd.GET | uhttpd.POST | uhttpd.DELETE | uhttpd.PUT | uhttpd.PATCH


def named(name):
    """A handler answering '<name> <path>'."""
    def handler(req):
        req.write("%s %s" % (name, req.path()))
    handler.__name__ = "handler_" + name
    return handler


# --------------------------------------------------------------------------
# wildcards


def _check(server, pattern, yes, no):
    srv = server()
    srv.route(pattern, uhttpd.GET, named("w"))
    for path in yes:
        r = get(srv, path)
        assert r.status == 200, (pattern, path, r)
        assert r.body == ("w " + path).encode()
    for path in no:
        r = get(srv, path)
        assert r.status == 404, (pattern, path, r)


def test_exact_pattern(server):
    _check(server, "/api", ["/api"], ["/api/", "/apix", "/ap", "/API", "/api/x"])


def test_star_matches_prefix_but_not_bare(server):
    _check(server, "/api/*", ["/api/", "/api/x", "/api/x/y/z"], ["/api", "/apix"])


def test_quest_star_matches_bare_too(server):
    _check(server, "/api/?*", ["/api", "/api/", "/api/x", "/api/x/y"], ["/apix", "/ap"])


def test_star_quest_same_as_quest_star(server):
    _check(server, "/api/*?", ["/api", "/api/", "/api/x"], ["/apix"])


def test_quest_makes_last_char_optional(server):
    _check(server, "/api/?", ["/api", "/api/"], ["/api/x", "/apix", "/api//"])


def test_star_directly_after_name(server):
    _check(server, "/x*", ["/x", "/xyz", "/x/y"], ["/", "/y"])


def test_root_star_matches_everything(server):
    _check(server, "/*", ["/", "/a", "/a/b/c.txt"], [])


def test_query_is_not_part_of_matching(server):
    srv = server()
    srv.route("/exact", uhttpd.GET, named("e"))
    r = get(srv, "/exact?x=1&y")
    assert (r.status, r.body) == (200, b"e /exact")
    r = get(srv, "/exact/?x=1")
    assert r.status == 404


# --------------------------------------------------------------------------
# order and shadowing


def test_first_registered_first_probed(server):
    srv = server()
    srv.route("/a/b", uhttpd.GET, named("specific"))
    srv.route("/a/*", uhttpd.GET, named("wild"))
    assert get(srv, "/a/b").body == b"specific /a/b"
    assert get(srv, "/a/c").body == b"wild /a/c"
    assert get(srv, "/a/b/c").body == b"wild /a/b/c"


def test_specific_then_quest_star(server):
    srv = server()
    srv.route("/a", uhttpd.GET, named("one"))
    srv.route("/a/?*", uhttpd.GET, named("two"))
    assert get(srv, "/a").body == b"one /a"
    assert get(srv, "/a/").body == b"two /a/"
    assert get(srv, "/a/z").body == b"two /a/z"


@pytest.mark.parametrize(
    "first,second",
    [("/a/*", "/a/b"), ("/a/?*", "/a"), ("/a/*", "/a/b/*"), ("/*", "/anything"),
     ("/same", "/same"), ("/x*", "/x/?*")],
)
def test_shadowed_route_raises_value_error_naming_both(server, first, second):
    srv = server()
    srv.route(first, uhttpd.GET, named("first"))
    with pytest.raises(ValueError) as info:
        srv.route(second, uhttpd.GET, named("second"))
    msg = str(info.value)
    assert first in msg
    assert second in msg
    # the refused route was not added, the first still answers
    path = second.rstrip("*?") or "/"
    assert get(srv, path).body == ("first " + path).encode()


def test_shadowing_is_per_verb(server):
    srv = server()
    srv.route("/a/*", uhttpd.GET, named("get"))
    srv.route("/a/b", uhttpd.POST, named("post"))
    assert get(srv, "/a/b").body == b"get /a/b"
    assert request(srv, "POST", "/a/b", body=b"").body == b"post /a/b"
    assert request(srv, "POST", "/a/c", body=b"").status == 405


def test_shadowing_checks_each_verb_of_a_multi_verb_route(server):
    srv = server()
    srv.route("/p/*", uhttpd.DELETE, named("del"))
    with pytest.raises(ValueError) as info:
        srv.route("/p/x", uhttpd.GET | uhttpd.DELETE, named("both"))
    assert "/p/*" in str(info.value) and "/p/x" in str(info.value)


def test_routes_can_be_added_while_serving(server):
    srv = server()
    srv.route("/one", uhttpd.GET, named("one"))
    assert get(srv, "/one").status == 200
    assert get(srv, "/two").status == 404
    srv.route("/two", uhttpd.GET, named("two"))
    assert get(srv, "/two").body == b"two /two"


# --------------------------------------------------------------------------
# verbs, 404, 405, 501


@pytest.mark.parametrize(
    "verb,const",
    [("GET", uhttpd.GET), ("POST", uhttpd.POST), ("DELETE", uhttpd.DELETE),
     ("PUT", uhttpd.PUT), ("PATCH", uhttpd.PATCH)],
)
def test_each_verb_routes(server, verb, const):
    srv = server()
    seen = []
    srv.route("/v", const, lambda req: (seen.append(req.method()), req.write(verb))[-1])
    r = request(srv, verb, "/v", body=b"" if verb != "GET" else None)
    assert (r.status, r.body) == (200, verb.encode())
    assert seen == [const]


def test_multi_verb_route(server):
    srv = server()
    seen = []

    def handler(req):
        seen.append(req.method())
        req.write("m")

    srv.route("/m", uhttpd.GET | uhttpd.POST | uhttpd.DELETE, handler)
    for verb in ("GET", "POST", "DELETE"):
        assert request(srv, verb, "/m").status == 200
    assert seen == [uhttpd.GET, uhttpd.POST, uhttpd.DELETE]
    r = request(srv, "PUT", "/m", body=b"x")
    assert r.status == 405
    assert tokens(r.header("Allow")) == {"GET", "HEAD", "POST", "DELETE", "OPTIONS"}


def test_no_match_is_404(server):
    srv = server()
    srv.route("/here", uhttpd.GET, named("h"))
    r = get(srv, "/there")
    assert r.status == 404
    r = request(srv, "POST", "/there", body=b"x")
    assert r.status == 404


def test_verb_not_routed_is_405_with_allow(server):
    srv = server()
    rec = Recorder()
    srv.route("/p", uhttpd.GET, rec)
    r = request(srv, "POST", "/p", body=b"data")
    assert r.status == 405
    assert tokens(r.header("Allow")) == {"GET", "HEAD", "OPTIONS"}
    assert rec.calls == 0


def test_allow_unites_every_route_matching_the_path(server):
    srv = server()
    srv.route("/u", uhttpd.GET, named("get"))
    srv.route("/u", uhttpd.POST, named("post"))
    srv.route("/u/*", uhttpd.DELETE, named("del"))
    r = request(srv, "PUT", "/u", body=b"")
    assert r.status == 405
    assert tokens(r.header("Allow")) == {"GET", "HEAD", "POST", "OPTIONS"}
    assert request(srv, "POST", "/u", body=b"").body == b"post /u"


def test_head_to_post_only_route_is_405(server):
    srv = server()
    srv.route("/po", uhttpd.POST, named("p"))
    r = request(srv, "HEAD", "/po")
    assert r.status == 405
    assert "POST" in tokens(r.header("Allow"))


@pytest.mark.parametrize("verb", ["TRACE", "FOO", "CONNECT2", "PROPFIND"])
def test_unknown_verb_is_501(server, verb):
    srv = server()
    rec = Recorder()
    srv.route("/*", ALL, rec)
    r = raw(srv, ("%s /x HTTP/1.1\r\nHost: t\r\n\r\n" % verb).encode())
    assert r.status == 501
    assert rec.calls == 0


# --------------------------------------------------------------------------
# OPTIONS


def test_options_lists_registered_verbs(server):
    srv = server()
    rec = Recorder()
    srv.route("/o", uhttpd.GET, rec)
    srv.route("/o", uhttpd.POST | uhttpd.PATCH, rec)
    r = request(srv, "OPTIONS", "/o")
    assert r.status in (200, 204)
    allow = tokens(r.header("Allow"))
    assert {"GET", "POST", "PATCH", "OPTIONS"} <= allow
    assert not ({"DELETE", "PUT"} & allow)
    assert rec.calls == 0
    # without cors the OPTIONS reply carries no CORS header
    assert r.header("Access-Control-Allow-Origin") is None


def test_options_on_wildcard_route(server):
    srv = server()
    srv.route("/api/*", uhttpd.DELETE, named("d"))
    r = request(srv, "OPTIONS", "/api/thing")
    assert r.status in (200, 204)
    allow = tokens(r.header("Allow"))
    assert {"DELETE", "OPTIONS"} <= allow
    assert "GET" not in allow


# --------------------------------------------------------------------------
# slots


def test_default_has_seven_verb_slots(server):
    srv = server()
    srv.route("/x", uhttpd.GET | uhttpd.POST | uhttpd.DELETE, named("x"))  # 3
    for i in range(4):  # 4 more -> 7
        srv.route("/r%d" % i, uhttpd.GET, named("r%d" % i))
    with pytest.raises(ValueError) as info:
        srv.route("/eighth", uhttpd.GET, named("eighth"))
    msg = str(info.value)
    assert "OPTIONS 1" in msg
    assert "free" in msg
    # everything registered still works, the refused one does not exist
    assert get(srv, "/r3").body == b"r3 /r3"
    assert request(srv, "DELETE", "/x").body == b"x /x"
    assert get(srv, "/eighth").status == 404


def test_small_route_table(server):
    srv = server(routes=3)  # OPTIONS + 2
    with pytest.raises(ValueError) as info:
        srv.route("/a", uhttpd.GET | uhttpd.POST | uhttpd.DELETE, named("a"))
    assert "OPTIONS 1" in str(info.value)
    # a refused registration takes no slot
    srv.route("/a", uhttpd.GET | uhttpd.POST, named("a"))
    with pytest.raises(ValueError):
        srv.route("/b", uhttpd.GET, named("b"))
    assert get(srv, "/a").body == b"a /a"


def test_one_slot_table_has_room_for_nothing(server):
    srv = server(routes=1)
    with pytest.raises(ValueError) as info:
        srv.route("/a", uhttpd.GET, named("a"))
    assert "free" in str(info.value)


def test_bigger_route_table(server):
    srv = server(routes=21)
    for i in range(20):
        srv.route("/r%d" % i, uhttpd.GET, named("r%d" % i))
    with pytest.raises(ValueError):
        srv.route("/r20", uhttpd.GET, named("r20"))
    assert get(srv, "/r19").body == b"r19 /r19"


# --------------------------------------------------------------------------
# routes=iterable


def test_routes_iterable(server):
    table = [
        ("/a", uhttpd.GET, named("a")),
        ["/b", uhttpd.POST | uhttpd.PUT, named("b")],
        ("/c/*", uhttpd.GET, named("c")),
    ]
    srv = server(routes=table)
    assert get(srv, "/a").body == b"a /a"
    assert request(srv, "PUT", "/b", body=b"").body == b"b /b"
    assert get(srv, "/c/x").body == b"c /c/x"
    assert get(srv, "/b").status == 405
    assert get(srv, "/zz").status == 404


def test_routes_generator(server):
    srv = server(routes=(("/g%d" % i, uhttpd.GET, named("g%d" % i)) for i in range(3)))
    assert get(srv, "/g2").body == b"g2 /g2"


def test_route_after_routes_iterable_raises_runtime_error(server):
    srv = server(routes=[("/a", uhttpd.GET, named("a"))])
    with pytest.raises(RuntimeError):
        srv.route("/b", uhttpd.GET, named("b"))
    assert get(srv, "/b").status == 404
    assert get(srv, "/a").status == 200


def test_routes_iterable_with_shadowed_route_raises_value_error():
    with pytest.raises(ValueError) as info:
        srv = uhttpd.Server(port=0, host="127.0.0.1",
                            routes=[("/a/*", uhttpd.GET, named("a")), ("/a/b", uhttpd.GET, named("b"))])
        srv.close()
    assert "/a/*" in str(info.value) and "/a/b" in str(info.value)


def test_routes_iterable_with_bad_pattern_raises_value_error():
    with pytest.raises(ValueError):
        srv = uhttpd.Server(port=0, host="127.0.0.1", routes=[("nope", uhttpd.GET, named("a"))])
        srv.close()


@pytest.mark.parametrize("item", [("/a", uhttpd.GET), ("/a", uhttpd.GET, named("a"), "extra")],
                         ids=["two-items", "four-items"])
def test_routes_iterable_items_need_three_elements(item):
    with pytest.raises((ValueError, TypeError)):
        srv = uhttpd.Server(port=0, host="127.0.0.1", routes=[item])
        srv.close()
