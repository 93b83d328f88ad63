"""``python -m uhttpd``: a device console in the browser.

Serves a directory with the file server and the uploader, the WebREPL at
``/ws``, an event stream at ``/events`` and the console page at ``/``.
``main(argv)`` is also the ``uhttpd`` console script.
"""

import argparse
import base64
import contextlib
import functools
import importlib.resources
import json
import logging
import os
import secrets
import select
import signal
import socket
import sys
import threading
import time

import uhttpd

FS = "/fs"
WS = "/ws"
EVENTS = "/events"
EVENT_CLIENTS = 8
STATS_INTERVAL = 1.0  # seconds between "stats" events
# Taken: OPTIONS, the page and its three files (ASSETS), the event stream,
# the REPL, the file server, the uploader and its DELETE: 10.
ROUTE_SLOTS = 16
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
EVENT_LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"
WILDCARDS = ("", "0.0.0.0", "::")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
CONFIG_PLACEHOLDER = b'<meta name="uhttpd-config" content="{}">'

log = logging.getLogger("uhttpd.console")

DESCRIPTION = """\
A device console in the browser, all on one page at http://HOST:PORT/:
ROOT as the device's file system (browse and sort, download a file or a
folder as a zip, upload with a SHA-256 check that resumes after a dropped
connection, new file or folder, rename or move, delete one or many), an
editor (highlighting, search, indentation; Ctrl-S saves without ever
overwriting a file changed on disk meanwhile; F5 runs the file in the REPL),
MicroPython's WebREPL (a Python prompt in this process), a live event log
and a dashboard (requests per second, connections, bytes, memory).

Endpoints: / (the console page, with /console.css, /console.js and
/editor.js), /fs/<path> (GET files, GET /fs/<dir>/ for a JSON listing,
GET /fs/<dir>/?zip for a zip of it; PUT or POST to upload, with
Content-Range to resume and Content-Digest to verify; POST /fs/<dir>/ for a
new folder; DELETE to remove, ?force=1 for a whole tree; MOVE with
Destination: /fs/<new> to rename or move; If-Match / If-None-Match on all of
these), /ws (WebREPL), /events (Server-Sent Events: "log" lines, "fs"
notices and "stats", the server's counters once a second).

The REPL always has a password: give one with --password, or one is made up
and printed at start. --tls serves everything over HTTPS (and the REPL over
wss://) with a certificate made on first use; its SHA-256 fingerprint is
printed at start, to compare with what the browser shows. Ctrl-C stops the
server."""

EPILOG = """\
examples:
  python -m uhttpd                          serve the current directory on http://127.0.0.1:8080/
  python -m uhttpd --port 0 --root ./www    any free port (the real one is printed), files from ./www
  python -m uhttpd --password s3cret        choose the REPL password instead of a random one
  python -m uhttpd --host 0.0.0.0 --auth admin:s3cret
                                            reachable from the network, Basic auth on every page
  python -m uhttpd --read-only --no-repl    a file browser only: no uploads, deletes or REPL
  python -m uhttpd --cors --log-level DEBUG allow other origins' scripts, log everything
  python -m uhttpd --tls --host 0.0.0.0     HTTPS with a self-signed certificate kept for next time
  python -m uhttpd --cert site.pem --key site.key
                                            HTTPS with your own certificate and key (PEM)
"""


def default_tls_dir():
    """The per-user directory --tls keeps its certificate in."""
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(config, "uhttpd", "tls")


def build_parser():
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    parser = argparse.ArgumentParser(
        prog="python -m uhttpd" if name in ("", "__main__.py", "-c") else name,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="TCP port to listen on (default: %(default)s; 0 picks a free one and prints it), "
        "e.g. --port 8000",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: %(default)s, this computer only, since the page opens "
        "a Python REPL); e.g. --host 0.0.0.0 for every interface",
    )
    parser.add_argument(
        "--root",
        default=None,
        help="directory served as the device's file system / (default: the current directory), "
        "e.g. --root ./www",
    )
    parser.add_argument(
        "--password",
        default=None,
        help="WebREPL password (default: a random one, printed at start; the REPL is never "
        "open without one), e.g. --password s3cret",
    )
    parser.add_argument(
        "--auth",
        default=None,
        metavar="USER:PASS",
        help="require HTTP Basic auth with this user name and password for everything "
        "(page, files, uploads, events, REPL), e.g. --auth admin:s3cret",
    )
    parser.add_argument(
        "--cors",
        action="store_true",
        help="add 'Access-Control-Allow-Origin: *' to every reply, so scripts on other origins "
        "may call the server",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="no uploads, new folders or deletes (PUT, POST and DELETE on /fs get 405)",
    )
    parser.add_argument(
        "--no-repl",
        action="store_true",
        help="no WebREPL (/ws answers 404); no password is made up or printed",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="HTTPS and wss:// on the same port, with a self-signed certificate (ECDSA P-256, "
        "for localhost, 127.0.0.1, ::1, this host's name and --host) made on first use and "
        "reused afterwards; its SHA-256 fingerprint is printed at start",
    )
    parser.add_argument(
        "--tls-dir",
        default=None,
        metavar="DIR",
        help="where --tls keeps its certificate and key (default: %s)" % default_tls_dir(),
    )
    parser.add_argument(
        "--cert",
        default=None,
        metavar="FILE",
        help="HTTPS with your own certificate chain (PEM, server certificate first); "
        "needs --key, implies --tls",
    )
    parser.add_argument(
        "--key",
        default=None,
        metavar="FILE",
        help="the private key of --cert (PEM: PKCS#8, PKCS#1 or SEC1)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=LEVELS,
        help="log level for the terminal and the page's event log (default: %(default)s; "
        "INFO shows every request), e.g. --log-level WARNING",
    )
    return parser


def package_file(name):
    """A file of the console shipped in the package (read once per server)."""
    return importlib.resources.files("uhttpd").joinpath(name).read_bytes()


def page_bytes(config):
    """The page with the server's settings filled in (what it may offer)."""
    content = json.dumps(config, separators=(",", ":"))
    content = content.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    meta = b'<meta name="uhttpd-config" content="' + content.encode("utf-8") + b'">'
    return package_file("console.html").replace(CONFIG_PLACEHOLDER, meta, 1)


# The page's style sheet and scripts, by URL: the Content-Security-Policy
# allows no inline script or style, so they are files of their own.
ASSETS = {
    "/console.css": "text/css; charset=utf-8",
    "/console.js": "text/javascript; charset=utf-8",
    "/editor.js": "text/javascript; charset=utf-8",
}

ASSET_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}

PAGE_HEADERS = {
    **ASSET_HEADERS,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}


def asset_handler(body, mime, headers=ASSET_HEADERS):
    """The route callback serving body (one of ASSETS, or the page with
    PAGE_HEADERS) as mime with these headers."""

    def serve_asset(req):
        req.write(body, mime=mime, headers=headers)

    return serve_asset


# The "fs" notice the page shows for each change the engine reports:
# (op, status, force) by change.
FS_NOTICES = {
    "created": ("upload", 201, False),
    "replaced": ("upload", 204, False),
    "deleted": ("delete", 204, False),
    "deleted tree": ("delete", 204, True),
    "dir made": ("mkdir", 201, False),
    "moved": ("move", 201, False),  # 204 when it replaced something
}


def fs_notice(observation):
    """The "fs" event (JSON) for an engine observation of a file change, or
    None. A move's notice names its destination as "to"."""
    if observation.get("kind") != "file":
        return None
    op, status, force = FS_NOTICES[observation["change"]]
    notice = {"op": op, "path": observation["path"], "status": status}
    if force:
        notice["force"] = True
    if "destination" in observation:
        notice["to"] = observation["destination"]
        if observation["replaced"]:
            notice["status"] = 204
    return json.dumps(notice, ensure_ascii=False)


def relay_file_changes(server, stop):
    """Sends the engine's file-change observations to the page as "fs"
    events until ``stop`` is set or the server closes (runs on its own thread)."""
    while not stop.is_set():
        try:
            seen = server.observations(0.5)
        except RuntimeError:  # the server closed
            return
        for observation in seen:
            notice = fs_notice(observation)
            if notice is not None:
                server.dispatch(notice, "fs")


def relay_stats(server, stop):
    """Sends the server's counters (``Server.stats()`` and the ``time`` they
    were read, in seconds since the epoch) to the page as a "stats" event
    once a second while an event client is connected (with none, nothing is
    sent), until ``stop`` is set or the server closes (runs on its own
    thread)."""
    while not stop.wait(STATS_INTERVAL):
        try:
            stats = dict(server.stats(), time=time.time())
        except RuntimeError:  # the server closed
            return
        if stats["event_clients"]:
            server.dispatch(json.dumps(stats), "stats")


class EventLogHandler(logging.Handler):
    """Sends log records at the chosen level or above to the page's event
    stream as "log" events.

    It never logs and never blocks: dispatch() does not wait for clients, a
    thread already inside emit() (a record logged while dispatching) is
    skipped, and errors are swallowed."""

    def __init__(self, server, level):
        super().__init__(logging.NOTSET)
        self.server = server
        self.log_level = level
        self.setFormatter(logging.Formatter(EVENT_LOG_FORMAT, "%H:%M:%S"))
        self._inside = threading.local()

    def handle(self, record):
        # No handler lock: dispatch is thread-safe, and a lock here would be
        # one more thing a logging call could wait for.
        if getattr(self._inside, "active", False):
            return False
        self._inside.active = True
        try:
            self.emit(record)
        finally:
            self._inside.active = False
        return True

    def emit(self, record):
        try:
            if record.levelno >= self.log_level:
                self.server.dispatch(self.format(record), "log")
        except Exception:  # noqa: BLE001 - a log handler must not raise or log
            pass


def url_host(host):
    """The host part of the URL to open: wildcard addresses become loopback."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    if ":" in host:
        return "[%s]" % host
    return host


def configure_logging(level):
    root = logging.getLogger()
    before = list(root.handlers)
    logging.basicConfig(level=level, format=LOG_FORMAT)
    for handler in root.handlers:
        if handler not in before:
            handler.setLevel(level)
    # Access lines are needed for the "fs" events whatever the chosen level;
    # the handlers above keep the terminal at the chosen level.
    logging.getLogger("uhttpd").setLevel(min(level, logging.INFO))


class _Stop(Exception):
    """SIGTERM, raised in the main thread like KeyboardInterrupt for SIGINT."""


def _raise_stop(signum, frame):
    raise _Stop()


@contextlib.contextmanager
def stop_signals():
    """Ctrl-C (SIGINT) and SIGTERM stop the server.

    SIGINT gets Python's handler even when it was inherited as ignored (as
    for a job started with '&' by a script): Ctrl-C is how to stop."""
    saved = {}
    if threading.current_thread() is threading.main_thread():
        saved[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
        saved[signal.SIGTERM] = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def wait_for_signal():
    """Sleeps until a signal handler raises (KeyboardInterrupt, _Stop).

    The server's threads may be the ones the kernel hands a signal to; then
    Python's handler only notes it, and a main thread asleep in time.sleep()
    would not wake up to run it. The wakeup fd wakes it whichever thread got
    the signal (and a one-second tick bounds the wait if none is set)."""
    reader, writer = socket.socketpair()
    previous = None
    try:
        reader.setblocking(False)
        writer.setblocking(False)
        try:
            previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        except ValueError:  # not the main thread
            previous = None
        while True:
            ready, _, _ = select.select([reader], [], [], 1.0)
            if ready:
                try:
                    reader.recv(512)
                except BlockingIOError:
                    pass
    finally:
        if previous is not None:
            signal.set_wakeup_fd(previous)
        reader.close()
        writer.close()


def parse(argv):
    """The parsed command line, checked; exits with status 2 on a bad one."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.root = os.path.abspath(args.root if args.root is not None else os.getcwd())
    if not os.path.isdir(args.root):
        parser.error("--root %s: not a directory" % args.root)
    if not 0 <= args.port <= 65535:
        parser.error("--port %d: must be 0..65535" % args.port)
    if args.auth is not None:
        user, colon, _ = args.auth.partition(":")
        if not colon or not user:
            parser.error("--auth wants USER:PASS, e.g. --auth admin:s3cret")
    if (args.cert is None) != (args.key is None):
        parser.error("--cert and --key go together, e.g. --cert site.pem --key site.key")
    if args.cert is not None and args.tls_dir is not None:
        parser.error("--tls-dir is for the self-signed certificate; --cert/--key name your own")
    args.tls = args.tls or args.cert is not None or args.tls_dir is not None
    args.generated = False
    if args.no_repl:
        args.password = None
    elif args.password is None:
        args.password = secrets.token_urlsafe(9)
        args.generated = True
    elif not args.password or any(c in args.password for c in "\r\n"):
        parser.error("--password must be a non-empty single line")
    return args


def tls_files(args):
    """(certfile, keyfile) for --tls: the user's own, or the kept self-signed pair."""
    if args.cert is not None:
        return (args.cert, args.key)
    directory = args.tls_dir if args.tls_dir is not None else default_tls_dir()
    return tuple(str(path) for path in uhttpd.self_signed_certificate(directory, args.host))


def make_server(args):
    """The configured server (the caller closes it)."""
    options = {}
    if args.tls:
        options["tls"] = tls_files(args)
    if args.auth is not None:
        token = base64.b64encode(args.auth.encode("utf-8"))
        options.update(acl=uhttpd.AUTH_BASIC, auth=b"Basic " + token)
    srv = uhttpd.Server(
        args.port,
        host=args.host,
        root=args.root,
        cors=args.cors,
        events=EVENT_CLIENTS,
        routes=ROUTE_SLOTS,
        **options,
    )
    try:
        config = {
            "readOnly": args.read_only,
            "repl": not args.no_repl,
            "root": os.path.basename(args.root) or args.root,
        }
        page = page_bytes(config)
        srv.route("/", uhttpd.GET, asset_handler(page, "text/html; charset=utf-8", PAGE_HEADERS))
        for url, mime in ASSETS.items():
            srv.route(url, uhttpd.GET, asset_handler(package_file(url.lstrip("/")), mime))
        srv.event(EVENTS)
        if not args.no_repl:
            srv.ws(WS, args.password)
        srv.serve(FS)
        if not args.read_only:
            srv.receive(prefix=FS, delete=True)
    except BaseException:
        srv.close()
        raise
    return srv


def announce(args, port, fingerprint):
    say = functools.partial(print, flush=True)
    scheme = "https" if args.tls else "http"
    say("uhttpd console: %s://%s:%d/" % (scheme, url_host(args.host), port))
    if args.tls:
        say("TLS certificate SHA-256: %s" % fingerprint)
        if args.cert is None:
            say("  (self-signed: your browser will ask you to accept it; check it shows this "
                "fingerprint)")
    if args.no_repl:
        say("REPL: off (--no-repl)")
    elif args.generated:
        say("REPL password: %s (generated; choose one with --password)" % args.password)
    else:
        say("REPL password: %s" % args.password)
    if args.host in WILDCARDS:
        say("listening on %s: every interface, so other computers can open it too" % args.host)
    say("files: %s%s" % (args.root, " (read-only)" if args.read_only else ""))
    if args.auth is not None:
        say("Basic auth: user %r" % args.auth.partition(":")[0])
    say("Press Ctrl-C to stop.")


def main(argv=None):
    """``python -m uhttpd`` / ``uhttpd``: serve until Ctrl-C; the exit status."""
    args = parse(argv)
    level = getattr(logging, args.log_level)
    configure_logging(level)
    with stop_signals():
        try:
            srv = make_server(args)
        except (OSError, ValueError, RuntimeError) as e:
            print(
                "uhttpd: cannot serve on %s port %d: %s" % (args.host, args.port, e),
                file=sys.stderr,
            )
            return 1
        except (KeyboardInterrupt, _Stop):
            return 0
        handler = EventLogHandler(srv, level)
        stop = threading.Event()
        relays = [
            threading.Thread(target=target, args=(srv, stop), name=name, daemon=True)
            for target, name in (
                (relay_file_changes, "uhttpd-console-fs"),
                (relay_stats, "uhttpd-console-stats"),
            )
        ]
        try:
            logging.getLogger("uhttpd").addHandler(handler)
            for relay in relays:
                relay.start()
            # The REPL runs in __main__'s namespace: give it the server.
            main_module = sys.modules.get("__main__")
            if main_module is not None:
                main_module.srv = srv
            announce(args, srv.port(), srv.tls_fingerprint)
            log.info("serving %s on %s:%d", args.root, args.host, srv.port())
            wait_for_signal()
        except (KeyboardInterrupt, _Stop):
            pass
        finally:
            logging.getLogger("uhttpd").removeHandler(handler)
            stop.set()
            srv.close()
            for relay in relays:
                relay.join(2)
    # The real stdout: a REPL session may still be detaching its tee from
    # sys.stdout while the server closes.
    print("stopped", file=sys.__stdout__ or sys.stdout, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
