"""microdot `Hello World`.

Usage: python hello_microdot.py PORT
"""
import sys

from microdot import Microdot

app = Microdot()


@app.route('/')
async def hello(request):
    return 'Hello World', 200, {'Content-Type': 'text/plain'}


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=int(sys.argv[1]))
