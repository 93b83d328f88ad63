"""microdot `Hello World`, and with ROOT the files in it; runs on CPython and
on MicroPython (microdot's own target).

Usage: python hello_microdot.py PORT [ROOT]   (or micropython ...)
  GET /       Hello World (text/plain)
  GET /NAME   send_file(ROOT/NAME), when ROOT is given
"""
import sys

from microdot import Microdot, send_file

app = Microdot()
root = sys.argv[2] if len(sys.argv) > 2 else None


@app.route('/')
async def hello(request):
    return 'Hello World', 200, {'Content-Type': 'text/plain'}


@app.route('/<name>')
async def file(request, name):
    if root is None or name.startswith('.'):
        return 'Not found', 404
    return send_file(root + '/' + name)


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=int(sys.argv[1]))
