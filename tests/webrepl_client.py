"""A faithful re-implementation of MicroPython's ``webrepl_cli.py`` client.

The tests use it to exercise exactly what the official command-line client
sends: its handshake (``GET / HTTP/1.1`` with ``Sec-WebSocket-Key: foo`` and
no ``Sec-WebSocket-Version``), unmasked frames with at most the 16-bit
extended length, login by reading until ``": "``, and the ``WA``/``WB`` file
transfer exactly as ``put_file``/``get_file``/``get_ver`` do it (the put
request split over two frames, 1024-byte data frames, one ``b"\\0"`` frame
per chunk on get).

Differences from the original, none of them in what goes on the wire:

* every socket operation has a timeout (a misbehaving server fails a test
  instead of hanging it);
* no progress printing (a WebREPL session tees the program's stdout);
* the handshake returns the server's status line and headers, and the reader
  records the (opcode byte, length) of every frame it receives in
  ``ws.frames`` so the tests can check what the server sent; a frame with a
  64-bit length (which the original cannot parse) raises instead of being
  misread;
* ``login`` compares bytes with bytes (the original's str/bytes mix only
  works on MicroPython).
"""

import base64
import hashlib
import os
import socket
import struct

WEBREPL_REQ_S = "<2sBBQLH64s"
WEBREPL_PUT_FILE = 1
WEBREPL_GET_FILE = 2
WEBREPL_GET_VER = 3
WEBREPL_FRAME_TXT = 0x81
WEBREPL_FRAME_BIN = 0x82

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HANDSHAKE = (
    b"GET / HTTP/1.1\r\n"
    b"Host: echo.websocket.org\r\n"
    b"Connection: Upgrade\r\n"
    b"Upgrade: websocket\r\n"
    b"Sec-WebSocket-Key: foo\r\n"
    b"\r\n"
)
# What the server must answer in Sec-WebSocket-Accept for key "foo".
EXPECTED_ACCEPT = base64.b64encode(hashlib.sha1(b"foo" + GUID).digest()).decode("ascii")


class websocket:  # noqa: N801 - the original's name
    def __init__(self, s):
        self.s = s
        self.buf = b""
        self.frames = []  # (first header byte, payload length) of each frame read

    def write(self, data, frame=WEBREPL_FRAME_BIN):
        l = len(data)  # noqa: E741
        if l < 126:
            hdr = struct.pack(">BB", frame, l)
        else:
            hdr = struct.pack(">BBH", frame, 126, l)
        self.s.send(hdr)
        self.s.send(data)

    def recvexactly(self, sz):
        res = b""
        while sz:
            data = self.s.recv(sz)
            if not data:
                break
            res += data
            sz -= len(data)
        return res

    def read(self, size, text_ok=False):
        if not self.buf:
            while True:
                hdr = self.recvexactly(2)
                assert len(hdr) == 2, "connection closed by the server"
                fl, sz = struct.unpack(">BB", hdr)
                if sz & 0x80:
                    raise AssertionError("server sent a masked frame: %r" % hdr)
                if sz == 127:
                    raise AssertionError(
                        "server sent a frame with a 64-bit length, which webrepl_cli cannot read"
                    )
                if sz == 126:
                    hdr = self.recvexactly(2)
                    assert len(hdr) == 2
                    (sz,) = struct.unpack(">H", hdr)
                self.frames.append((fl, sz))
                if fl == 0x82:
                    break
                if text_ok and fl == 0x81:
                    break
                # Got unexpected websocket record, skipping it
                while sz:
                    skip = self.s.recv(sz)
                    if not skip:
                        raise AssertionError("connection closed by the server")
                    sz -= len(skip)
            data = self.recvexactly(sz)
            assert len(data) == sz
            self.buf = data

        d = self.buf[:size]
        self.buf = self.buf[size:]
        assert len(d) == size, len(d)
        return d

    def ioctl(self, req, val):
        assert req == 9 and val == 2


def client_handshake(sock):
    """webrepl_cli's handshake, byte for byte; returns (status line, headers)."""
    cl = sock.makefile("rwb", 0)
    cl.write(HANDSHAKE)
    status = cl.readline()
    headers = {}
    while 1:
        line = cl.readline()
        if not line:
            raise AssertionError("connection closed during the handshake after %r" % status)
        if line == b"\r\n":
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


def connect(port, host="127.0.0.1", timeout=5.0):
    """Connects and handshakes like webrepl_cli's main(); returns (ws, status, headers)."""
    s = socket.socket()
    s.settimeout(timeout)
    s.connect((host, port))
    status, headers = client_handshake(s)
    return websocket(s), status, headers


def login(ws, passwd):
    while True:
        c = ws.read(1, text_ok=True)
        if c == b":":
            assert ws.read(1, text_ok=True) == b" "
            break
    ws.write(passwd.encode("utf-8") + b"\r")


def read_resp(ws):
    data = ws.read(4)
    sig, code = struct.unpack("<2sH", data)
    assert sig == b"WB", "unexpected response signature %r" % (sig,)
    return code


def send_req(ws, op, sz=0, fname=b""):
    rec = struct.pack(WEBREPL_REQ_S, b"WA", op, 0, 0, sz, len(fname), fname)
    ws.write(rec)


def get_ver(ws):
    send_req(ws, WEBREPL_GET_VER)
    d = ws.read(3)
    d = struct.unpack("<BBB", d)
    return d


def do_cmd(ws, cmd):
    """The client's ``-c`` mode: Ctrl-E, the command, Ctrl-D in one text frame;
    returns what the command printed."""
    cmd = bytes(cmd, "utf-8")
    ws.write(b"\x05" + cmd + b"\x04", frame=WEBREPL_FRAME_TXT)
    buf = b""
    try:
        while True:
            ch = ws.read(1, text_ok=True)
            buf += ch
            if buf[-4:] == b">>> ":
                break
    except Exception:  # noqa: BLE001 - the original swallows everything here
        pass
    return buf[len(cmd) + 56 : -6].decode("utf-8").replace("\r", "").rstrip("\n")


def put_file(ws, local_file, remote_file):
    sz = os.stat(local_file)[6]
    dest_fname = remote_file.encode("utf-8")
    rec = struct.pack(
        WEBREPL_REQ_S, b"WA", WEBREPL_PUT_FILE, 0, 0, sz, len(dest_fname), dest_fname
    )
    ws.write(rec[:10])
    ws.write(rec[10:])
    assert read_resp(ws) == 0
    cnt = 0
    with open(local_file, "rb") as f:
        while True:
            buf = f.read(1024)
            if not buf:
                break
            ws.write(buf)
            cnt += len(buf)
    assert read_resp(ws) == 0


def get_file(ws, local_file, remote_file):
    src_fname = remote_file.encode("utf-8")
    rec = struct.pack(WEBREPL_REQ_S, b"WA", WEBREPL_GET_FILE, 0, 0, 0, len(src_fname), src_fname)
    ws.write(rec)
    assert read_resp(ws) == 0
    with open(local_file, "wb") as f:
        cnt = 0
        while True:
            ws.write(b"\0")
            (sz,) = struct.unpack("<H", ws.read(2))
            if sz == 0:
                break
            while sz:
                buf = ws.read(sz)
                if not buf:
                    raise OSError()
                cnt += len(buf)
                f.write(buf)
                sz -= len(buf)
    assert read_resp(ws) == 0


# --------------------------------------------------------------------------
# test conveniences built on the same reader (not part of webrepl_cli)


def read_text_until(ws, marker, limit=1 << 20):
    """Reads terminal text (text and binary frames) until ``marker`` (bytes)
    appears; returns everything read. Raises on close or timeout."""
    out = bytearray()
    while True:
        start = max(0, len(out) - len(marker))
        out += ws.read(1, text_ok=True)
        out += ws.buf  # the rest of that frame
        ws.buf = b""
        if out.find(marker, start) >= 0:
            return bytes(out)
        if len(out) > limit:
            raise AssertionError("marker %r not seen in %r" % (marker, bytes(out[-300:])))


def read_until_closed(ws):
    """Reads terminal text until the server closes the connection (a close
    frame or EOF); returns (text, close frame seen). Socket timeouts raise."""
    out = ws.buf
    ws.buf = b""
    close_seen = False
    while True:
        hdr = ws.recvexactly(2)
        if len(hdr) < 2:
            return out, close_seen
        fl, sz = struct.unpack(">BB", hdr)
        if sz == 126:
            (sz,) = struct.unpack(">H", ws.recvexactly(2))
        data = ws.recvexactly(sz)
        ws.frames.append((fl, sz))
        if fl & 0x0F == 0x8:
            close_seen = True
        elif fl & 0x0F in (0x1, 0x2, 0x0):
            out += data


def send_text(ws, text):
    """Sends terminal input in one unmasked text frame (as do_repl does)."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    ws.write(text, frame=WEBREPL_FRAME_TXT)
