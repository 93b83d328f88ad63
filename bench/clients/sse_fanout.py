"""Server-Sent Events fan-out client: many raw sockets on one selector.

Usage: python sse_fanout.py PORT CLIENTS EVENTS ROUNDS SIZE [SERVER_PID]
       python sse_fanout.py --drain SECONDS PORT CLIENTS
Opens CLIENTS connections to GET /events, waits until every one got its
head and the `: connected` comment, then per round asks GET /fire?n=EVENTS
(on another connection) and times until every client has counted EVENTS
more `data:` lines. Prints one JSON line.

With --drain: once every client is connected, prints a JSON line
({"connected": N, ...}), then reads every stream, counting `data:` lines,
until its stdin is closed or SECONDS have passed, and prints a second JSON
line ({"events": total, ...}). The events come from whatever the server
dispatches meanwhile.
"""
import json
import os
import resource
import selectors
import socket
import sys
import time

PATTERN = b'\ndata: '
TIMEOUT = 60.0
DRAIN_PAUSE_S = 0.02


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def cpu_seconds(pid):
    """user+system CPU seconds of process `pid` (0: this process)."""
    if not pid:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


class Client:
    __slots__ = ('sock', 'head', 'tail', 'count', 'closed')

    def __init__(self, sock):
        self.sock, self.head, self.tail, self.count, self.closed = sock, b'', b'', 0, False

    def counted(self, data):
        """Counts the `data:` lines in `data` (a line may start in the previous piece)."""
        joined = self.tail + data
        self.count += joined.count(PATTERN)
        self.tail = joined[-(len(PATTERN) - 1):]


def connect_all(port, nclients):
    """Opens the streams and waits until each has its head and the `: connected` comment.
    Returns (selector, clients, live clients, bad heads, seconds)."""
    raise_nofile(nclients + 256)
    sel = selectors.DefaultSelector()
    request = b'GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n'
    t_connect = time.perf_counter()
    clients = []
    for _ in range(nclients):
        s = socket.create_connection(('127.0.0.1', port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.sendall(request)
        s.setblocking(False)
        c = Client(s)
        clients.append(c)
        sel.register(s, selectors.EVENT_READ, c)

    pending = set(range(nclients))
    index = {id(c): i for i, c in enumerate(clients)}
    deadline = time.perf_counter() + TIMEOUT
    status_bad = 0
    while pending and time.perf_counter() < deadline:
        for key, _ in sel.select(1.0):
            c = key.data
            data = c.sock.recv(65536)
            if not data:
                c.closed = True
                sel.unregister(c.sock)
                pending.discard(index[id(c)])
                status_bad += 1
                continue
            c.head += data
            if b': connected\n\n' in c.head:
                if not c.head.startswith(b'HTTP/1.1 200'):
                    status_bad += 1
                body = c.head.split(b'\r\n\r\n', 1)[1]
                c.count = (b'\n' + body).count(PATTERN)
                c.tail = body[-(len(PATTERN) - 1):]
                pending.discard(index[id(c)])
    live = [c for c in clients if not c.closed]
    return sel, clients, live, status_bad, time.perf_counter() - t_connect


def drain(port, nclients, seconds):
    sel, clients, live, status_bad, connect_s = connect_all(port, nclients)
    print(json.dumps({'connected': len(live), 'bad_heads': status_bad, 'connect_seconds': connect_s}),
          flush=True)
    before = sum(c.count for c in live)
    sel.register(sys.stdin, selectors.EVENT_READ, None)  # EOF there: the caller is done
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        # Reading every DRAIN_PAUSE_S lets events gather in the socket buffers: a few large
        # reads instead of one per event, so this client takes little of the CPU it shares.
        time.sleep(DRAIN_PAUSE_S)
        for key, _ in sel.select(min(1.0, max(0.0, end - time.perf_counter()))):
            c = key.data
            if c is None:
                if not os.read(sys.stdin.fileno(), 4096):
                    end = 0
                continue
            data = c.sock.recv(1 << 18)
            if not data:
                c.closed = True
                sel.unregister(c.sock)
                continue
            c.counted(data)
    for c in clients:
        c.sock.close()
    print(json.dumps({'events': sum(c.count for c in live) - before,
                      'closed_clients': sum(1 for c in live if c.closed)}), flush=True)


def fanout(port, nclients, nevents, rounds, size, server_pid):
    sel, clients, live, status_bad, connect_s = connect_all(port, nclients)
    results = []
    for r in range(1, rounds + 1):
        target = nevents * r
        fire = socket.create_connection(('127.0.0.1', port))
        fire_buf = [b'']
        cpu0 = cpu_seconds(0), cpu_seconds(server_pid) if server_pid else None
        t0 = time.perf_counter()
        fire.sendall(b'GET /fire?n=%d&size=%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' % (nevents, size))
        fire.setblocking(False)
        sel.register(fire, selectors.EVENT_READ, None)
        fire_done = None
        waiting = sum(1 for c in live if c.count < target)
        deadline = t0 + TIMEOUT
        while (waiting or fire_done is None) and time.perf_counter() < deadline:
            for key, _ in sel.select(1.0):
                c = key.data
                if c is None:
                    data = fire.recv(65536)
                    fire_buf[0] += data
                    if not data or (b'\r\n\r\n' in fire_buf[0] and fire_buf[0].count(b' ') >= 3
                                    and fire_buf[0].split(b'\r\n\r\n', 1)[1].count(b' ') == 1):
                        fire_done = time.perf_counter() - t0
                        sel.unregister(fire)
                    continue
                data = c.sock.recv(1 << 18)
                if not data:
                    c.closed = True
                    sel.unregister(c.sock)
                    if c.count < target:
                        waiting -= 1
                    continue
                before = c.count
                c.counted(data)
                if before < target <= c.count:
                    waiting -= 1
        t1 = time.perf_counter()
        cpu1 = cpu_seconds(0), cpu_seconds(server_pid) if server_pid else None
        fire.close()
        body = fire_buf[0].split(b'\r\n\r\n', 1)[-1].split()
        delivered = sum(min(c.count, target) - (target - nevents) for c in live)
        results.append({
            'round': r,
            'seconds': t1 - t0,
            'deliveries': delivered,
            'expected': len(live) * nevents,
            'rate': delivered / (t1 - t0),
            'dispatch_seconds': float(body[1]) if len(body) == 2 else None,
            'dispatched_true': int(body[0]) if len(body) == 2 else None,
            'fire_reply_seconds': fire_done,
            'closed_clients': sum(1 for c in live if c.closed),
            'client_cpu_seconds': cpu1[0] - cpu0[0],
            'server_cpu_seconds': cpu1[1] - cpu0[1] if server_pid else None,
        })
    for c in clients:
        c.sock.close()
    print(json.dumps({'clients': nclients, 'connected': len(live), 'bad_heads': status_bad,
                      'connect_seconds': connect_s, 'events': nevents, 'size': size,
                      'rounds': results}))


def main():
    if sys.argv[1] == '--drain':
        seconds, port, nclients = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        drain(port, nclients, seconds)
        return
    port, nclients, nevents, rounds, size = (int(a) for a in sys.argv[1:6])
    server_pid = int(sys.argv[6]) if len(sys.argv) > 6 else None
    fanout(port, nclients, nevents, rounds, size, server_pid)


if __name__ == '__main__':
    main()
