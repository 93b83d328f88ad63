# import the module
import uhttpd

# setup the network connection
def setup_network():
    pass

# Custom url handler
def handle_my_url(req):
    req.write('Hello World', mime='text/plain')

# Setup the server
httpd = uhttpd.Server()
#  - register the custom handler
httpd.route('/my', uhttpd.GET, handle_my_url)
#  - initialize REPL
httpd.ws('/ws', None)
#  - initialize file server
httpd.serve()
