"""http.server.ThreadingHTTPServer answering `Hello World`, run in a background thread.

HTTP/1.1 (keep-alive) and TCP_NODELAY, so the comparison is not about Nagle.
Usage: python hello_stdlib.py PORT
"""
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b'Hello World'


class Hello(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = True

    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


def main():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    srv = ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), Hello)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print('ready', srv.server_address[1], flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    srv.shutdown()


if __name__ == '__main__':
    main()
