"""WSGI `Hello World` for granian (`granian --interface wsgi hello_wsgi:app`)."""

BODY = b'Hello World'
HEADERS = [('Content-Type', 'text/plain'), ('Content-Length', str(len(BODY)))]


def app(environ, start_response):
    start_response('200 OK', HEADERS)
    return [BODY]
