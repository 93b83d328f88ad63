"""Open-loop latency probe: GETs on a fixed schedule over a few keep-alive connections.

Usage: python latency_probe.py PORT PATH CONNS RATE SECONDS

RATE requests per second in all, spread evenly over CONNS connections; each
connection sends on its own fixed schedule whether or not its previous reply
came (pipelining), so a server that stalls is charged for every request it
delays, not only for the few in flight (no coordinated omission), and the
rate stays far below what the server can do, so the numbers are latencies,
not queueing. Latency is reply complete minus the send. One thread, one
selector. Prints one JSON line (times in ms); `send_lag_p99_ms` says how
late this client itself sent (the selector sleeps in whole milliseconds; a
large lag means the client was starved of CPU).
"""
import collections
import json
import selectors
import socket
import statistics
import sys
import time

from http_replies import ReplyReader

HOST = '127.0.0.1'
GRACE = 5.0  # seconds after the last send to collect the last replies


class Probe:
    __slots__ = ('sock', 'reader', 'sent', 'next')

    def __init__(self, sock, first):
        self.sock, self.reader, self.sent, self.next = sock, ReplyReader(), collections.deque(), first


def main():
    port, path, nconns = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    rate, seconds = float(sys.argv[4]), float(sys.argv[5])
    request = b'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' % path.encode()
    interval = nconns / rate
    sel = selectors.DefaultSelector()
    t0 = time.perf_counter() + 0.1
    probes = []
    for i in range(nconns):
        s = socket.create_connection((HOST, port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        p = Probe(s, t0 + i / rate)
        probes.append(p)
        sel.register(s, selectors.EVENT_READ, p)
    end = t0 + seconds
    latencies, lags, bad, closed, unanswered = [], [], 0, 0, 0
    while probes:
        now = time.perf_counter()
        for p in probes:
            while p.next <= now and p.next < end:
                p.sock.send(request)
                sent = time.perf_counter()
                lags.append(sent - p.next)
                p.sent.append(sent)
                p.next += interval
        waiting = sum(len(p.sent) for p in probes)
        if (now >= end and not waiting) or now >= end + GRACE:
            break
        due = min((p.next for p in probes if p.next < end), default=now + 0.01)
        for key, _ in sel.select(max(0.0, min(due - now, 0.01))):
            p = key.data
            data = p.sock.recv(65536)
            done = time.perf_counter()
            if not data:  # closed by the server: its requests in flight go unanswered
                closed += 1
                unanswered += len(p.sent)
                sel.unregister(p.sock)
                p.sock.close()
                probes.remove(p)
                continue
            for status, _ in p.reader.feed(data):
                latencies.append(done - p.sent.popleft())
                bad += status != 200
    unanswered += sum(len(p.sent) for p in probes)
    for p in probes:
        p.sock.close()
    ms = sorted(x * 1e3 for x in latencies)
    q = statistics.quantiles(ms, n=1000, method='inclusive') if len(ms) > 1 else [float('nan')] * 999
    print(json.dumps({'n': len(ms), 'bad_status': bad, 'unanswered': unanswered, 'closed': closed,
                      'rate': rate, 'conns': nconns, 'seconds': seconds,
                      'p50_ms': q[499], 'p90_ms': q[899], 'p99_ms': q[989], 'p999_ms': q[998],
                      'max_ms': ms[-1] if ms else None,
                      'send_lag_p99_ms': statistics.quantiles(lags, n=100)[98] * 1e3 if len(lags) > 1 else None}))


if __name__ == '__main__':
    main()
