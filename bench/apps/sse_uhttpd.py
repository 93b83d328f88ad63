"""uhttpd Server-Sent Events source for the fan-out benchmark.

Usage: python sse_uhttpd.py PORT MAX_CLIENTS
  GET /events             the event stream (Server.event)
  GET /fire?n=K&size=B    dispatches K events of B bytes each, answers `N_DELIVERED_TRUE SECONDS`
"""
import signal
import sys
import time

import uhttpd


def main():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    port, clients = int(sys.argv[1]), int(sys.argv[2])
    srv = uhttpd.Server(port, host='127.0.0.1', events=clients)
    srv.event('/events')

    def fire(req):
        n = int(req.query('n') or 100)
        size = int(req.query('size') or 32)
        payload = b'x' * size
        dispatch = srv.dispatch
        t0 = time.perf_counter()
        ok = 0
        for _ in range(n):
            ok += dispatch(payload)
        req.write('%d %.6f' % (ok, time.perf_counter() - t0), mime='text/plain')

    srv.route('/fire', uhttpd.GET, fire)
    print('ready', srv.port(), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    srv.close()


if __name__ == '__main__':
    main()
