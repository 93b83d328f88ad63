"""Replies read piece by piece, for the clients that keep many sockets on one
selector (latency_probe.py, many_conns.py): Content-Length replies only,
which is all the servers under test send for these requests."""


class ReplyReader:
    """Bytes of one connection in, whole replies out (in order, pipelining allowed)."""

    __slots__ = ('buf',)

    def __init__(self):
        self.buf = b''

    def feed(self, data):
        """Adds received bytes; returns [(status, body)] of the replies they complete."""
        self.buf += data
        done = []
        while True:
            end = self.buf.find(b'\r\n\r\n')
            if end < 0:
                return done
            lines = self.buf[:end].split(b'\r\n')
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b':')
                if name.strip().lower() == b'content-length':
                    length = int(value)
            start = end + 4
            if len(self.buf) < start + length:
                return done
            done.append((int(lines[0].split(b' ', 2)[1]), self.buf[start:start + length]))
            self.buf = self.buf[start + length:]
