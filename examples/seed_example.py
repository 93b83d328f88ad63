"""The seed's example, as written for the device, on port 8080.

Run: python examples/seed_example.py   then open http://127.0.0.1:8080/my
"""

import time

# import the module
import uhttpd


# setup the network connection
def setup_network():
    pass


# Custom url handler
def handle_my_url(req):
    req.write('Hello World', mime='text/plain')


# Setup the server
httpd = uhttpd.Server(8080)
#  - register the custom handler
httpd.route('/my', uhttpd.GET, handle_my_url)
#  - initialize REPL
httpd.ws('/ws', None)
#  - initialize file server
httpd.serve()

# On the device the REPL keeps the program alive; here the main thread idles.
print("uhttpd example on http://127.0.0.1:%d/my (Ctrl-C to stop)" % httpd.port())
try:
    while True:
        time.sleep(1)
except KeyboardInterrupt:
    httpd.close()
