"""uhttpd serving static files, a slow callback and an event stream at once,
for the isolation benchmark.

Usage: python isolation_uhttpd.py PORT ROOT EVENT_CLIENTS
  GET /files/NAME      serve(prefix='/files') of ROOT (the probed 1 KiB file)
  GET /sleep           a callback that sleeps 50 ms, then answers `slept`
  GET /events          the event stream (Server.event, EVENT_CLIENTS at most)
  GET /dispatch?ms=M   starts a Python thread that dispatches a 64-byte event
                       every M ms (M > 0), or stops it (M = 0) and answers
                       `EVENTS_DISPATCHED SECONDS`
"""
import signal
import sys
import threading
import time

import uhttpd

SLEEP_S = 0.05
EVENT = b'x' * 64


class DispatchLoop:
    """A Python thread calling Server.dispatch on a fixed period until stopped."""

    def __init__(self, srv, period):
        self.srv, self.period = srv, period
        self.stop_flag = threading.Event()
        self.sent = 0
        self.t0 = time.perf_counter()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop_flag.wait(self.period):
            self.srv.dispatch(EVENT)
            self.sent += 1

    def stop(self):
        self.stop_flag.set()
        self.thread.join()
        return self.sent, time.perf_counter() - self.t0


def main():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    port, root, clients = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    srv = uhttpd.Server(port, host='127.0.0.1', root=root, events=clients)
    loop = [None]

    def sleep(req):
        time.sleep(SLEEP_S)
        req.write('slept', mime='text/plain')

    def dispatch(req):
        ms = float(req.query('ms') or 0)
        if loop[0]:
            sent, seconds = loop[0].stop()
            loop[0] = None
        else:
            sent, seconds = 0, 0.0
        if ms > 0:
            loop[0] = DispatchLoop(srv, ms / 1000)
        req.write('%d %.3f' % (sent, seconds), mime='text/plain')

    srv.route('/sleep', uhttpd.GET, sleep)
    srv.route('/dispatch', uhttpd.GET, dispatch)
    srv.event('/events')
    srv.serve(prefix='/files')
    print('ready', srv.port(), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    srv.close()


if __name__ == '__main__':
    main()
