"""uhttpd: a Python callback answering `Hello World` (text/plain).

Usage: python hello_uhttpd.py PORT
"""
import signal
import sys

import uhttpd


def hello(req):
    req.write('Hello World', mime='text/plain')


def main():
    port = int(sys.argv[1])
    srv = uhttpd.Server(port, host='127.0.0.1')
    srv.route('/', uhttpd.GET, hello)
    print('ready', srv.port(), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    srv.close()


if __name__ == '__main__':
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
