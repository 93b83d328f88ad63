"""Start-up latency: Server(port=0) → route → first answered request, in process.

Usage: python startup.py N    (prints one JSON line, times in seconds)
"""
import json
import socket
import statistics
import sys
import time

import uhttpd


def hello(req):
    req.write('Hello World', mime='text/plain')


def main():
    n = int(sys.argv[1])
    first, closes = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        srv = uhttpd.Server(port=0, host='127.0.0.1')
        srv.route('/', uhttpd.GET, hello)
        s = socket.create_connection(('127.0.0.1', srv.port()))
        s.sendall(b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
        data = b''
        while not data.endswith(b'Hello World'):
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit('connection closed early: %r' % data)
            data += chunk
        t1 = time.perf_counter()
        s.close()
        srv.close()
        t2 = time.perf_counter()
        first.append(t1 - t0)
        closes.append(t2 - t1)
    print(json.dumps({'n': n, 'first_request': first, 'median': statistics.median(first),
                      'close_median': statistics.median(closes)}))


if __name__ == '__main__':
    main()
