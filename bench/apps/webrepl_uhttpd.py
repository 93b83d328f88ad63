"""uhttpd's WebREPL at `/`, where webrepl_cli.py connects; runs on both faces
(CPython and MicroPython, so no `signal`: SIGTERM ends it).

Usage: python webrepl_uhttpd.py PORT ROOT PASSWORD   (or micropython ...)
`WA` transfers read and write under ROOT.
"""
import sys
import time

import uhttpd

srv = uhttpd.Server(int(sys.argv[1]), host='127.0.0.1', root=sys.argv[2])
srv.ws('/', sys.argv[3])
print('ready', srv.port())
while True:
    time.sleep(1)
