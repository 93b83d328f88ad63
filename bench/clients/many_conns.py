"""Many concurrent keep-alive connections to one server: is every request answered?

Usage: python many_conns.py PORT PATH CONNS ROUNDS SERVER_PID

Opens CONNS connections one after another (all stay open), then ROUNDS
times sends one `GET PATH` on every connection at once and reads every
reply on one selector (each round bounded by a deadline). Samples the
server's VmRSS (/proc/SERVER_PID/status) before connecting, once every
connection has had its first reply and sat idle for a second, after the
last round and after closing them all. Prints one JSON line; latencies
(send to whole reply) in ms, which include this one thread's own time to go
round all the sockets.
"""
import json
import selectors
import socket
import statistics
import sys
import time
from pathlib import Path

from http_replies import ReplyReader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from run import HOST, raise_nofile, rss_kib  # noqa: E402

ROUND_DEADLINE = 60.0
SETTLE = 1.0


class Conn:
    __slots__ = ('sock', 'reader', 'sent_at', 'closed')

    def __init__(self, sock):
        self.sock, self.reader, self.sent_at, self.closed = sock, ReplyReader(), None, False


def one_round(sel, conns, request, expect_len, out):
    """Sends on every open connection, then reads until each answered or the deadline passed."""
    waiting = 0
    t0 = time.perf_counter()
    for c in conns:
        if c.closed:
            continue
        c.sent_at = time.perf_counter()
        c.sock.sendall(request)
        out['sent'] += 1
        waiting += 1
    deadline = t0 + ROUND_DEADLINE
    while waiting and time.perf_counter() < deadline:
        for key, _ in sel.select(1.0):
            c = key.data
            try:
                data = c.sock.recv(65536)
            except ConnectionError:
                data = b''
            done = time.perf_counter()
            if not data:
                c.closed = True
                sel.unregister(c.sock)
                out['closed_by_server'] += 1
                if c.sent_at is not None:
                    waiting -= 1
                continue
            for status, body in c.reader.feed(data):
                out['latencies'].append(done - c.sent_at)
                c.sent_at = None
                waiting -= 1
                if status == 200 and len(body) == expect_len:
                    out['answered'] += 1
                else:
                    out['bad'][str(status)] = out['bad'].get(str(status), 0) + 1
    out['unanswered'] += waiting
    return time.perf_counter() - t0


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    nconns, rounds, server_pid = (int(a) for a in sys.argv[3:6])
    raise_nofile(nconns + 256)
    request = b'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' % path.encode()
    with socket.create_connection((HOST, port), timeout=5) as s:  # the reply's length, once
        s.sendall(request)
        reader, replies = ReplyReader(), []
        while not replies:
            replies = reader.feed(s.recv(65536))
        expect_len = len(replies[0][1])
    res = {'conns': nconns, 'rounds': rounds, 'path': path, 'rss_before_kib': rss_kib(server_pid)}
    sel = selectors.DefaultSelector()
    conns, connect_errors = [], {}
    t0 = time.perf_counter()
    for _ in range(nconns):
        try:
            s = socket.create_connection((HOST, port), timeout=10)
        except OSError as e:  # refused, reset, timed out: counted by kind
            connect_errors[type(e).__name__] = connect_errors.get(type(e).__name__, 0) + 1
            continue
        s.setblocking(False)
        c = Conn(s)
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    res['connect_seconds'] = time.perf_counter() - t0
    res['opened'] = len(conns)
    res['connect_errors'] = connect_errors
    out = {'latencies': [], 'sent': 0, 'answered': 0, 'bad': {}, 'unanswered': 0, 'closed_by_server': 0}
    res['round_seconds'] = [one_round(sel, conns, request, expect_len, out)]
    time.sleep(SETTLE)
    res['rss_idle_conns_kib'] = rss_kib(server_pid)
    for _ in range(rounds - 1):
        res['round_seconds'].append(one_round(sel, conns, request, expect_len, out))
    res['rss_after_rounds_kib'] = rss_kib(server_pid)
    for c in conns:
        c.sock.close()
    time.sleep(SETTLE)
    res['rss_after_close_kib'] = rss_kib(server_pid)
    ms = sorted(x * 1e3 for x in out.pop('latencies'))
    q = statistics.quantiles(ms, n=100, method='inclusive') if len(ms) > 1 else [None] * 99
    res.update(out, p50_ms=q[49], p99_ms=q[98], max_ms=ms[-1] if ms else None,
               per_conn_kib=(res['rss_idle_conns_kib'] - res['rss_before_kib']) / max(1, len(conns)))
    print(json.dumps(res))


if __name__ == '__main__':
    main()
