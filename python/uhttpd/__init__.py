"""uhttpd — micro HTTP server with MicroPython's uhttpd API, in Rust.

The server runs on its own threads from the moment ``Server()`` returns;
callbacks run on a small pool of server-owned Python threads.
"""

import atexit

from ._uhttpd import (
    ACL_RO,
    ACL_RW,
    ACL_WO,
    AUTH_BASIC,
    AUTH_CUSTOM,
    AUTH_OPEN,
    DELETE,
    GET,
    PATCH,
    POST,
    PUT,
    Request,
    Server,
    _shutdown,
    self_signed_certificate,
)

__all__ = [
    "ACL_RO",
    "ACL_RW",
    "ACL_WO",
    "AUTH_BASIC",
    "AUTH_CUSTOM",
    "AUTH_OPEN",
    "DELETE",
    "GET",
    "PATCH",
    "POST",
    "PUT",
    "Request",
    "Server",
    "self_signed_certificate",
]

# Servers stop before the interpreter finalizes, so no handler thread ever
# touches a dying interpreter.
atexit.register(_shutdown)
