"""uhttpd file endpoints.

Usage: python files_uhttpd.py PORT ROOT MODE [CERTFILE KEYFILE]
  serve    serve() at /            (static files)
  receive  receive(prefix='/up')   (PUT /up/NAME writes ROOT/NAME)
  mem      route('/') Hello World, serve(prefix='/files'), receive(prefix='/up')
With CERTFILE and KEYFILE the port speaks HTTPS.
"""
import signal
import sys

import uhttpd


def hello(req):
    req.write('Hello World', mime='text/plain')


def main():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    port, root, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    tls = {'tls': tuple(sys.argv[4:6])} if len(sys.argv) > 4 else {}
    srv = uhttpd.Server(port, host='127.0.0.1', root=root, **tls)
    if mode == 'serve':
        srv.serve()
    elif mode == 'receive':
        srv.receive(prefix='/up')
    elif mode == 'mem':
        srv.route('/', uhttpd.GET, hello)
        srv.serve(prefix='/files')
        srv.receive(prefix='/up')
    else:
        raise SystemExit('unknown mode %r' % mode)
    print('ready', srv.port(), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    srv.close()


if __name__ == '__main__':
    main()
