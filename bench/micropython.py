#!/usr/bin/env python3
"""uhttpd's MicroPython face measured, side by side with the CPython face.

    python3 bench/micropython.py [--rounds N] [--requests N] [--clients N]
        [--duration S] [--idle-conns N] [--slow N] [--heapsize SIZE]
        [--no-plain] [--size-build] [--only sizes,faces,heap]

Measures, loopback only:

- sizes: target/micropython/micropython as built (symbols kept) and a
  stripped copy (in a temporary directory), its text/data/bss and unwind
  tables, target/release/libuhttpd_c.a, the CPython extension module; and a
  plain MicroPython unix build without uhttpd (same source tree and flags as
  scripts/build-micropython.sh, built into bench/out/micropython/; about 20 s
  the first time, a no-op later; --no-plain skips it). --size-build also
  builds the engine with opt-level "z", fat LTO and one codegen unit and links
  MicroPython against it (a minute or more of two cores the first time, cached).
- faces (each round: MicroPython, then CPython, alternating who goes first):
  the same app on both (a Hello World route, /mem and /slow routes, ws(),
  serve()); idle VmRSS and RssAnon (RSS less the mapped code: what a
  device without memory-mapped code pays) once it printed its port and
  settled; a bare interpreter's for comparison; VmRSS per idle keep-alive
  connection (--idle-conns of them, each having sent one request, in the
  fresh server); VmRSS per request held in a slow handler (--slow of them);
  sequential GETs over one keep-alive connection (median, p90, p99); req/s
  from --clients keep-alive client threads for --duration s (and from wrk -t1
  with as many connections, when wrk is installed); the threads, and how
  deep their stacks went (resident pages of each stack mapping).
- heap: the MicroPython app under -X heapsize=SIZE; gc.mem_alloc() (after
  gc.collect(), answered and printed by the app's /mem route) before import,
  after import, after the server's set-up, idle, with --idle-conns idle
  keep-alive connections open, with --slow requests inside a slow handler,
  and after 500 more requests (a leak check).

Every socket has a timeout, every loop a deadline; the servers are ended by
their PID. Writes only bench/out/micropython/ (git-ignored): the app, logs,
results.json (results-<sections>.json with --only) and the plain/size builds.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / 'out' / 'micropython'
MP_SRC = REPO / 'target' / 'micropython' / 'micropython-1.25.0'
HOST = '127.0.0.1'
SOCK_TIMEOUT = 5.0
T_START = time.monotonic()

# The same program on both faces. argv: root, workers (0: the default).
APP = r'''# written by bench/micropython.py: the same app on both faces
import gc
import sys
import time
import _thread

MP = sys.implementation.name == 'micropython'


def say(*args):
    print(*args)
    try:
        sys.stdout.flush()
    except Exception:
        pass


def heap():
    gc.collect()
    if MP:
        return gc.mem_alloc(), gc.mem_free()
    return -1, -1


h0 = heap()
import uhttpd
h1 = heap()

lock = _thread.allocate_lock()
inside = 0


def hello(req):
    req.write('Hello World', mime='text/plain')


def mem(req):
    alloc, free = heap()
    say('mem', alloc, free, inside)
    req.write('%d %d %d' % (alloc, free, inside), mime='text/plain')


def slow(req):
    global inside
    ms = req.query('ms')
    ms = int(ms) if ms not in (None, True) else 1000
    with lock:
        inside += 1
    try:
        time.sleep(ms / 1000)
    finally:
        with lock:
            inside -= 1
    req.write('slept', mime='text/plain')


kw = {'host': '127.0.0.1', 'root': sys.argv[1]}
if int(sys.argv[2]):
    kw['workers'] = int(sys.argv[2])
srv = uhttpd.Server(0, **kw)
srv.route('/', uhttpd.GET, hello)
srv.route('/mem', uhttpd.GET, mem)
srv.route('/slow', uhttpd.GET, slow)
srv.ws('/ws', 'bench1')
srv.serve()
h2 = heap()
say('ready', srv.port(), h0[0], h1[0], h2[0], h2[1])
while True:
    time.sleep(1)
'''

BARE = r'''import sys, time
print('ready')
try:
    sys.stdout.flush()
except Exception:
    pass
while True:
    time.sleep(1)
'''


def log(msg):
    print('[%6.1fs] %s' % (time.monotonic() - T_START, msg), flush=True)


# --------------------------------------------------------------------------- processes

class Proc:
    """A child whose stdout lines are collected by a thread; ended by its PID."""

    def __init__(self, name, cmd, cwd):
        self.name = name
        self.lines = []
        self.cond = threading.Condition()
        self.logf = open(OUT / ('%s.log' % name), 'a')
        self.logf.write('# %s\n' % ' '.join(str(c) for c in cmd))
        self.p = subprocess.Popen([str(c) for c in cmd], cwd=cwd, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  errors='replace', start_new_session=True)
        self.pid = self.p.pid
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stdout:
            self.logf.write(line)
            with self.cond:
                self.lines.append(line.rstrip('\n'))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, prefix, timeout=20.0):
        """The first line that starts with `prefix`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if line.startswith(prefix):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None:
                    raise RuntimeError('%s: no %r line (exit %s); output:\n%s' % (
                        self.name, prefix, self.p.poll(), '\n'.join(self.lines[-15:])))
                self.cond.wait(min(left, 0.2))

    def stop(self):
        if self.p.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(5)
        self.reader.join(5)
        self.logf.close()


def status_field(pid, field):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError('%s not in /proc/%d/status' % (field, pid))


def rss_kib(pid):
    return status_field(pid, 'VmRSS')


def settled_rss(pid, settle):
    """VmRSS once two samples 0.2 s apart differ by at most 8 KiB (at most 3 s after `settle`)."""
    time.sleep(settle)
    prev = rss_kib(pid)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        time.sleep(0.2)
        cur = rss_kib(pid)
        if abs(cur - prev) <= 8:
            return cur
        prev = cur
    return prev


# --------------------------------------------------------------------------- client

class Conn:
    """One keep-alive HTTP/1.1 connection; Content-Length replies only."""

    def __init__(self, port, timeout=SOCK_TIMEOUT):
        self.s = socket.create_connection((HOST, port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b''

    def send_get(self, path):
        self.s.sendall(b'GET ' + path.encode() + b' HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')

    def _more(self):
        data = self.s.recv(65536)
        if not data:
            raise ConnectionError('closed by the server')
        self.buf += data

    def reply(self):
        while b'\r\n\r\n' not in self.buf:
            self._more()
            if len(self.buf) > 65536:
                raise ConnectionError('head too long')
        head, self.buf = self.buf.split(b'\r\n\r\n', 1)
        lines = head.split(b'\r\n')
        status = int(lines[0].split(b' ', 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b':')
            if name.strip().lower() == b'content-length':
                length = int(value.strip())
        if length is None:
            raise ConnectionError('reply without Content-Length: %r' % head[:200])
        while len(self.buf) < length:
            self._more()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, body

    def get(self, path):
        self.send_get(path)
        return self.reply()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def get_once(port, path):
    c = Conn(port)
    try:
        return c.get(path)
    finally:
        c.close()


def mem_of(port):
    status, body = get_once(port, '/mem')
    if status != 200:
        raise RuntimeError('/mem answered %d' % status)
    alloc, free, inside = (int(x) for x in body.split())
    return alloc, free, inside


def pct(vals, p):
    s = sorted(vals)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def latency(port, n, warm=100):
    c = Conn(port)
    try:
        status, body = c.get('/')
        if status != 200 or body != b'Hello World':
            raise RuntimeError('bad reply %d %r' % (status, body[:80]))
        for _ in range(warm):
            c.get('/')
        times = []
        deadline = time.monotonic() + 30
        for _ in range(n):
            t0 = time.perf_counter()
            status, _ = c.get('/')
            times.append(time.perf_counter() - t0)
            if status != 200:
                raise RuntimeError('status %d' % status)
            if time.monotonic() > deadline:
                break
    finally:
        c.close()
    us = [t * 1e6 for t in times]
    return {'n': len(us), 'p50_us': statistics.median(us), 'p90_us': pct(us, 90),
            'p99_us': pct(us, 99), 'mean_us': statistics.fmean(us)}


def client_threads(port, clients, duration):
    """req/s of `clients` threads, each with one keep-alive connection, for `duration` s."""
    counts = [0] * clients
    errors = []
    start = threading.Barrier(clients + 1, timeout=10)
    stop_at = [0.0]

    def run(i):
        try:
            c = Conn(port)
        except OSError as e:
            errors.append(str(e))
            start.wait()
            return
        try:
            start.wait()
            while time.monotonic() < stop_at[0]:
                status, _ = c.get('/')
                if status != 200:
                    errors.append('status %d' % status)
                    return
                counts[i] += 1
        except (OSError, ConnectionError, threading.BrokenBarrierError) as e:
            errors.append(str(e))
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.monotonic() + 1e9
    start.wait()
    t0 = time.monotonic()
    stop_at[0] = t0 + duration
    for t in threads:
        t.join(duration + 2 * SOCK_TIMEOUT)
    elapsed = time.monotonic() - t0
    return {'rps': sum(counts) / elapsed, 'requests': sum(counts), 'errors': len(errors)}


def wrk_rps(port, conns, duration):
    wrk = shutil.which('wrk')
    if not wrk:
        return None
    out = subprocess.run([wrk, '-t1', '-c%d' % conns, '-d%ds' % max(1, round(duration)), '--timeout', '5s',
                          'http://%s:%d/' % (HOST, port)], capture_output=True, text=True,
                         timeout=duration + 30).stdout
    m = re.search(r'Requests/sec:\s+([\d.]+)', out)
    return float(m.group(1)) if m else None


def open_idle(port, n):
    """n keep-alive connections, each having sent one request and read its reply."""
    conns = []
    for _ in range(n):
        c = Conn(port)
        conns.append(c)
        status, _ = c.get('/')
        if status != 200:
            raise RuntimeError('status %d' % status)
    return conns


def close_all(conns):
    for c in conns:
        c.close()


def slow_requests(port, n, ms):
    conns = [Conn(port, timeout=ms / 1000 + SOCK_TIMEOUT) for _ in range(n)]
    for c in conns:
        c.send_get('/slow?ms=%d' % ms)
    return conns


def wait_inside(port, n, timeout=5.0):
    """/mem's answer once `n` requests are inside the slow handler."""
    deadline = time.monotonic() + timeout
    while True:
        alloc, free, inside = mem_of(port)
        if inside >= n or time.monotonic() > deadline:
            return alloc, free, inside
        time.sleep(0.05)


def finish_slow(conns):
    ok = 0
    for c in conns:
        try:
            status, body = c.reply()
            ok += status == 200 and body == b'slept'
        except (OSError, ConnectionError):
            pass
        c.close()
    return ok


# --------------------------------------------------------------------------- faces

def face_cmds(args, heapsize=None):
    mp = [args.mp] + (['-X', 'heapsize=%s' % heapsize] if heapsize else [])
    return {'MicroPython': mp, 'CPython': [args.python, '-u']}


def prepare():
    """Writes the app and its www directory (also used by bench/run.py's micropython scenario)."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / 'www').mkdir(exist_ok=True)
    (OUT / 'www' / 'index.html').write_text('<p>uhttpd bench</p>\n')
    (OUT / 'app.py').write_text(APP)


def start_app(name, cmd, workers=0):
    app = OUT / 'app.py'
    proc = Proc(name, cmd + [app, OUT / 'www', workers], cwd=OUT / 'www')
    try:
        line = proc.wait_line('ready')
    except RuntimeError:
        proc.stop()
        raise
    f = line.split()
    proc.port = int(f[1])
    proc.heap_boot = [int(x) for x in f[2:6]]
    return proc


def wait_for_binary(path, timeout=90):
    deadline = time.monotonic() + timeout
    while not os.access(path, os.X_OK):
        if time.monotonic() > deadline:
            raise SystemExit('%s is missing: run `bash scripts/build-micropython.sh`' % path)
        log('%s missing (being rebuilt?), waiting' % path)
        time.sleep(3)


def bare_rss(args):
    out = {}
    for name, cmd in face_cmds(args).items():
        proc = Proc('bare-' + name, cmd + ['-c', BARE], cwd=OUT)
        try:
            proc.wait_line('ready')
            out[name] = settled_rss(proc.pid, args.settle)
            out[name + ' anon'] = status_field(proc.pid, 'RssAnon')
        finally:
            proc.stop()
    return out


def stack_rss(pid):
    """Resident KiB of the thread stacks, by stack size: anonymous rw mappings
    of exactly 256 KiB (the MicroPython face's host threads, moduhttpd.c's
    THREAD_STACK_BYTES) or 2 MiB (Rust's default: the engine's own threads and
    the CPython face's workers) right above a no-access guard page. The
    resident part is the deepest the stack has been (glibc keeps the thread's
    TLS and descriptor at its top too)."""
    maps = []  # [start, end, perms, is_anonymous, size_kib, rss_kib]
    with open('/proc/%d/smaps' % pid) as f:
        for line in f:
            f0 = line.split()
            m = re.match(r'^([0-9a-f]+)-([0-9a-f]+) (\S+)', line)
            if m:
                maps.append([int(m.group(1), 16), int(m.group(2), 16), m.group(3), len(f0) == 5, 0, 0])
            elif f0 and f0[0] == 'Size:':
                maps[-1][4] = int(f0[1])
            elif f0 and f0[0] == 'Rss:':
                maps[-1][5] = int(f0[1])
    out = {}
    for prev, cur in zip(maps, maps[1:]):
        guarded = prev[2] == '---p' and prev[1] == cur[0] and prev[4] <= 64
        if guarded and cur[3] and cur[2].startswith('rw') and cur[4] in (256, 2048):
            e = out.setdefault('%d KiB' % cur[4], {'stacks': 0, 'max_rss_kib': 0, 'total_rss_kib': 0})
            e['stacks'] += 1
            e['max_rss_kib'] = max(e['max_rss_kib'], cur[5])
            e['total_rss_kib'] += cur[5]
    return out


def face_round(name, cmd, args):
    r = {}
    proc = start_app('face-' + name, cmd)
    try:
        r['idle_rss_kib'] = settled_rss(proc.pid, args.settle)
        r['idle_rss_anon_kib'] = status_field(proc.pid, 'RssAnon')
        r['threads'] = status_field(proc.pid, 'Threads')
        # RSS per idle keep-alive connection, in a fresh server (after a load
        # the allocator's freed memory hides it).
        conns = open_idle(proc.port, args.idle_conns)
        try:
            with_conns = settled_rss(proc.pid, 0.3)
        finally:
            close_all(conns)
        r['rss_per_idle_conn_kib'] = (with_conns - r['idle_rss_kib']) / args.idle_conns
        # RSS per request held inside a slow handler.
        before = settled_rss(proc.pid, 0.3)
        conns = slow_requests(proc.port, args.slow, args.slow_ms)
        try:
            _, _, inside = wait_inside(proc.port, args.slow)
            r['slow_inside'] = inside
            r['rss_per_slow_kib'] = (rss_kib(proc.pid) - before) / args.slow
            r['threads_slow'] = status_field(proc.pid, 'Threads')
        finally:
            r['slow_ok'] = finish_slow(conns)
        r['latency'] = latency(proc.port, args.requests)
        r['threads_rps'] = client_threads(proc.port, args.clients, args.duration)
        if not args.no_wrk:
            r['wrk_rps'] = wrk_rps(proc.port, args.clients, args.duration)
        r['rss_after_kib'] = rss_kib(proc.pid)
        r['stacks'] = stack_rss(proc.pid)
    finally:
        proc.stop()
    lat = r['latency']
    log('%-11s idle %6d KiB  threads %2d  p50 %6.0f us  p90 %6.0f us  %7.0f req/s (threads)  %s  '
        'RSS/idle conn %.2f KiB  RSS/slow req %.1f KiB  stacks %s' % (
            name, r['idle_rss_kib'], r['threads'], lat['p50_us'], lat['p90_us'], r['threads_rps']['rps'],
            ('%7.0f req/s (wrk)' % r['wrk_rps']) if r.get('wrk_rps') else '', r['rss_per_idle_conn_kib'],
            r['rss_per_slow_kib'], r['stacks']))
    return r


def heap_run(args):
    """MicroPython under -X heapsize: gc.mem_alloc() at each step."""
    cmd = face_cmds(args, args.heapsize)['MicroPython']
    proc = start_app('heap-MicroPython', cmd)
    h = {'heapsize': args.heapsize}
    try:
        h['before_import'], h['after_import'], h['after_setup'], h['free_after_setup'] = proc.heap_boot
        c = Conn(proc.port)
        for _ in range(100):
            c.get('/')
        c.close()
        time.sleep(0.2)
        h['idle'], h['idle_free'], _ = mem_of(proc.port)
        rss0 = settled_rss(proc.pid, 0.3)
        h['idle_rss_kib'] = rss0
        conns = open_idle(proc.port, args.idle_conns)
        try:
            time.sleep(0.2)
            h['with_idle_conns'], _, _ = mem_of(proc.port)
            h['rss_with_idle_conns_kib'] = settled_rss(proc.pid, 0.3)
        finally:
            close_all(conns)
        time.sleep(0.3)
        h['after_idle_conns'], _, _ = mem_of(proc.port)
        rss1 = settled_rss(proc.pid, 0.3)
        conns = slow_requests(proc.port, args.slow, args.slow_ms)
        try:
            h['with_slow'], _, h['slow_inside'] = wait_inside(proc.port, args.slow)
            h['rss_with_slow_kib'] = rss_kib(proc.pid)
            h['rss_before_slow_kib'] = rss1
        finally:
            h['slow_ok'] = finish_slow(conns)
        c = Conn(proc.port)
        for _ in range(500):
            c.get('/')
        c.close()
        time.sleep(0.2)
        h['after_500'], _, _ = mem_of(proc.port)
    finally:
        proc.stop()
    n, s = args.idle_conns, max(1, h['slow_inside'])
    h['per_idle_conn_bytes'] = (h['with_idle_conns'] - h['idle']) / n
    h['per_slow_bytes'] = (h['with_slow'] - h['after_idle_conns']) / s
    h['rss_per_idle_conn_kib'] = (h['rss_with_idle_conns_kib'] - rss0) / n
    h['rss_per_slow_kib'] = (h['rss_with_slow_kib'] - rss1) / s
    log('heap (-X heapsize=%s): before import %d, after import %d, after set-up %d, idle %d, '
        '%d idle conns %d, %d slow requests %d, after 500 requests %d bytes' % (
            args.heapsize, h['before_import'], h['after_import'], h['after_setup'], h['idle'], n,
            h['with_idle_conns'], h['slow_inside'], h['with_slow'], h['after_500']))
    return h


# --------------------------------------------------------------------------- sizes

def elf_sizes(path):
    """text/data/bss (Berkeley) and the unwind sections of an ELF file."""
    out = {}
    r = subprocess.run(['size', str(path)], capture_output=True, text=True, timeout=30)
    if r.returncode == 0:
        f = r.stdout.splitlines()[1].split()
        out.update(text=int(f[0]), data=int(f[1]), bss=int(f[2]))
    r = subprocess.run(['size', '-A', str(path)], capture_output=True, text=True, timeout=30)
    if r.returncode == 0:
        unwind = 0
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) >= 2 and f[0] in ('.eh_frame', '.eh_frame_hdr', '.gcc_except_table'):
                unwind += int(f[1])
        out['unwind'] = unwind
    return out


def by_crate(path):
    """Bytes of defined symbols (code, data, read-only data) grouped by the
    first path segment of their demangled name (the Rust crate); C symbols
    (MicroPython, the binding, libc glue) are 'C'. Symbol sizes only: the
    unwind tables, relocations and padding are not in it."""
    r = subprocess.run(['nm', '-S', '--size-sort', '-C', str(path)], capture_output=True, text=True,
                       timeout=60)
    if r.returncode:
        return None
    out = {}
    for line in r.stdout.splitlines():
        f = line.split(' ', 3)
        if len(f) < 4 or f[2].lower() not in 'tdrb':
            continue
        name = re.sub(r'^(dyn |impl |mut |const )', '', f[3].lstrip('<&*( '))
        m = re.match(r'([A-Za-z_][A-Za-z0-9_]*)::', name)
        key = m.group(1) if m else ('uhttpd_c' if f[3].startswith('uhttpd_') else 'C')
        out[key] = out.get(key, 0) + int(f[1], 16)
    return out


def stripped_size(path):
    with tempfile.TemporaryDirectory(prefix='uhttpd-strip-') as d:
        copy = Path(d) / Path(path).name
        shutil.copy2(path, copy)
        subprocess.run(['strip', '--strip-all', str(copy)], check=True, timeout=60)
        return copy.stat().st_size


MAKE_FLAGS = [
    # Those of scripts/build-micropython.sh, less the user C module; DUPTERM
    # on as the module's micropython.mk turns it on, so the difference is uhttpd.
    'VARIANT=standard',
    'FROZEN_MANIFEST=%s' % (REPO / 'micropython' / 'manifest.py'),
    'MPY_LIB_DIR=%s' % (REPO / 'micropython'),
    'STRIP=true',
    'MICROPY_PY_BTREE=0', 'MICROPY_PY_FFI=0', 'MICROPY_PY_SSL=0',
    'MICROPY_SSL_AXTLS=0', 'MICROPY_SSL_MBEDTLS=0', 'MICROPY_PY_JNI=0',
]


def make_mp(build, extra, logname, timeout):
    if not (MP_SRC / 'ports' / 'unix' / 'Makefile').exists() or not shutil.which('make'):
        log('no MicroPython source tree at %s: skipped' % MP_SRC)
        return None
    env = dict(os.environ, GIT_DIR='/nonexistent')
    cmd = ['make', '-s', '-C', str(MP_SRC / 'ports' / 'unix'), '-j%d' % (os.cpu_count() or 1),
           'BUILD=%s' % build] + MAKE_FLAGS + extra
    with open(OUT / logname, 'w') as f:
        r = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
    if r.returncode:
        log('make failed, see %s' % (OUT / logname))
        return None
    return build / 'micropython'


def plain_build():
    log('plain MicroPython build (no uhttpd) into %s' % (OUT / 'plain-build'))
    return make_mp(OUT / 'plain-build',
                   ['CFLAGS_EXTRA=-DMICROPY_PY_THREAD_RECURSIVE_MUTEX=1 -DMICROPY_PY_OS_DUPTERM=1'],
                   'plain-build.log', 600)


def size_build():
    """The engine built for size (opt-level z, fat LTO, 1 codegen unit) and MicroPython linked to it."""
    target = OUT / 'target-size'
    env = dict(os.environ, CARGO_TARGET_DIR=str(target), CARGO_PROFILE_RELEASE_OPT_LEVEL='z',
               CARGO_PROFILE_RELEASE_LTO='fat', CARGO_PROFILE_RELEASE_CODEGEN_UNITS='1')
    log('engine build for size into %s (minutes the first time)' % target)
    with open(OUT / 'size-cargo.log', 'w') as f:
        r = subprocess.run(['cargo', 'build', '--release', '--locked', '-p', 'uhttpd-c'], cwd=REPO, env=env,
                           stdout=f, stderr=subprocess.STDOUT, timeout=1800)
    if r.returncode:
        log('cargo failed, see %s' % (OUT / 'size-cargo.log'))
        return None, None
    lib = target / 'release' / 'libuhttpd_c.a'
    binary = make_mp(OUT / 'size-build',
                     ['USER_C_MODULES=%s' % (REPO / 'micropython'), 'UHTTPD_STATICLIB=%s' % lib,
                      'CFLAGS_EXTRA=-DMICROPY_PY_THREAD_RECURSIVE_MUTEX=1'], 'size-build.log', 900)
    return lib, binary


def sizes(args):
    s = {}
    mp = Path(args.mp)
    s['micropython'] = dict(file=mp.stat().st_size, stripped=stripped_size(mp), **elf_sizes(mp))
    s['micropython']['by_crate'] = by_crate(mp)
    lib = REPO / 'target' / 'release' / 'libuhttpd_c.a'
    if lib.exists():
        s['libuhttpd_c.a'] = {'file': lib.stat().st_size}
    r = subprocess.run([args.python, '-c', 'import uhttpd._uhttpd as m; print(m.__file__)'],
                       capture_output=True, text=True, timeout=30)
    if r.returncode == 0:
        so = Path(r.stdout.strip())
        s['_uhttpd.abi3.so'] = dict(file=so.stat().st_size, stripped=stripped_size(so), **elf_sizes(so))
    if not args.no_plain:
        plain = plain_build()
        if plain:
            s['micropython (plain)'] = dict(file=plain.stat().st_size, stripped=stripped_size(plain),
                                            **elf_sizes(plain))
    if args.size_build:
        lib2, mp2 = size_build()
        if lib2:
            s['libuhttpd_c.a (opt z)'] = {'file': lib2.stat().st_size}
        if mp2:
            s['micropython (engine opt z)'] = dict(file=mp2.stat().st_size, stripped=stripped_size(mp2),
                                                   **elf_sizes(mp2))
            s['micropython (engine opt z)']['by_crate'] = by_crate(mp2)
    return s


# --------------------------------------------------------------------------- report

def kib(n):
    return '%.0f KiB' % (n / 1024) if n is not None else '-'


def num(v, fmt='{:,.0f}'):
    return fmt.format(v) if v is not None else '-'


def ratio(a, b):
    return '%.2f' % (a / b) if a and b else '-'


def med(rounds, *keys):
    vals = []
    for r in rounds:
        v = r
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        if v is not None:
            vals.append(v)
    return statistics.median(vals) if vals else None


def report(res, args):
    lines = []
    s = res.get('sizes')
    if s:
        lines += ['', '### Sizes (x86_64 unix port)', '',
                  '| file | on disk | stripped | text | data | bss | unwind tables |',
                  '|---|---:|---:|---:|---:|---:|---:|']
        for name, v in s.items():
            lines.append('| %s | %s | %s | %s | %s | %s | %s |' % (
                name, kib(v.get('file')), kib(v.get('stripped')), kib(v.get('text')), kib(v.get('data')),
                kib(v.get('bss')), kib(v.get('unwind'))))
        plain = s.get('micropython (plain)')
        if plain and 'text' in s['micropython']:
            mp = s['micropython']
            lines.append('')
            lines.append('uhttpd adds %s of text+data to MicroPython (%s stripped file); the plain build is '
                         '%.1f%% of the uhttpd build\'s text+data.' % (
                             kib(mp['text'] + mp['data'] - plain['text'] - plain['data']),
                             kib(mp['stripped'] - plain['stripped']),
                             100.0 * (plain['text'] + plain['data']) / (mp['text'] + mp['data'])))
            z = s.get('micropython (engine opt z)')
            if z and 'text' in z:
                lines.append('With the engine built for size: uhttpd adds %s of text+data.' % (
                    kib(z['text'] + z['data'] - plain['text'] - plain['data'])))
        crates = s['micropython'].get('by_crate')
        if crates:
            z = (s.get('micropython (engine opt z)') or {}).get('by_crate') or {}
            rust = sum(v for k, v in crates.items() if k != 'C')
            lines += ['', 'Symbol bytes by crate in `micropython` (nm; Rust total %s%s; C is MicroPython and '
                      'the binding):' % (kib(rust), (', engine opt z: %s' % kib(sum(
                          v for k, v in z.items() if k != 'C'))) if z else ''), '',
                      '| crate | as built |%s' % (' engine opt z |' if z else ''),
                      '|---|---:|%s' % ('---:|' if z else '')]
            for name, v in sorted(crates.items(), key=lambda kv: -kv[1])[:16]:
                lines.append('| %s | %s |%s' % (name, kib(v), (' %s |' % kib(z.get(name))) if z else ''))
    f = res.get('faces')
    if f:
        mp, cp = f.get('MicroPython', []), f.get('CPython', [])
        bare = res.get('bare_rss_kib', {})
        rows = [
            ('bare interpreter VmRSS (no uhttpd)', bare.get('MicroPython'), bare.get('CPython'), 'KiB'),
            ('idle VmRSS, Server with route+ws+serve', med(mp, 'idle_rss_kib'), med(cp, 'idle_rss_kib'), 'KiB'),
            ('bare interpreter RssAnon (heap, stacks, data; no code)', bare.get('MicroPython anon'),
             bare.get('CPython anon'), 'KiB'),
            ('idle RssAnon, Server with route+ws+serve', med(mp, 'idle_rss_anon_kib'),
             med(cp, 'idle_rss_anon_kib'), 'KiB'),
            ('threads (idle)', med(mp, 'threads'), med(cp, 'threads'), ''),
            ('sequential GET, keep-alive: p50', med(mp, 'latency', 'p50_us'), med(cp, 'latency', 'p50_us'), 'µs'),
            ('sequential GET, keep-alive: p90', med(mp, 'latency', 'p90_us'), med(cp, 'latency', 'p90_us'), 'µs'),
            ('sequential GET, keep-alive: p99', med(mp, 'latency', 'p99_us'), med(cp, 'latency', 'p99_us'), 'µs'),
            ('%d client threads, keep-alive' % args.clients, med(mp, 'threads_rps', 'rps'),
             med(cp, 'threads_rps', 'rps'), 'req/s'),
        ]
        if not args.no_wrk:
            rows.append(('wrk -t1 -c%d' % args.clients, med(mp, 'wrk_rps'), med(cp, 'wrk_rps'), 'req/s'))
        rows += [
            ('VmRSS per idle keep-alive connection (%d)' % args.idle_conns, med(mp, 'rss_per_idle_conn_kib'),
             med(cp, 'rss_per_idle_conn_kib'), 'KiB'),
            ('VmRSS per request inside a slow handler (%d)' % args.slow, med(mp, 'rss_per_slow_kib'),
             med(cp, 'rss_per_slow_kib'), 'KiB'),
            ('threads with %d requests in the slow handler' % args.slow, med(mp, 'threads_slow'),
             med(cp, 'threads_slow'), ''),
            ('deepest 256 KiB host-thread stack, resident after the loads', med(mp, 'stacks', '256 KiB', 'max_rss_kib'),
             med(cp, 'stacks', '256 KiB', 'max_rss_kib'), 'KiB'),
            ('deepest 2 MiB thread stack, resident after the loads', med(mp, 'stacks', '2048 KiB', 'max_rss_kib'),
             med(cp, 'stacks', '2048 KiB', 'max_rss_kib'), 'KiB'),
            ('thread stacks of 256 KiB', med(mp, 'stacks', '256 KiB', 'stacks'),
             med(cp, 'stacks', '256 KiB', 'stacks'), ''),
            ('thread stacks of 2 MiB', med(mp, 'stacks', '2048 KiB', 'stacks'),
             med(cp, 'stacks', '2048 KiB', 'stacks'), ''),
        ]
        lines += ['', '### The two faces (medians of %d rounds)' % len(mp), '',
                  '| measure | unit | MicroPython | CPython | MicroPython / CPython |', '|---|---|---:|---:|---:|']
        for label, a, b, unit in rows:
            fmt = '{:,.2f}' if unit == 'KiB' and label.startswith('VmRSS per') else '{:,.0f}'
            lines.append('| %s | %s | %s | %s | %s |' % (label, unit, num(a, fmt), num(b, fmt), ratio(a, b)))
    h = res.get('heap')
    if h:
        lines += ['', '### MicroPython heap (gc.mem_alloc() after gc.collect(), -X heapsize=%s)' % h['heapsize'],
                  '', '| state | heap in use | VmRSS |', '|---|---:|---:|',
                  '| before `import uhttpd` | %s B | |' % num(h['before_import']),
                  '| after `import uhttpd` | %s B | |' % num(h['after_import']),
                  '| after Server + 3 routes + ws + serve | %s B (free %s B) | |' % (
                      num(h['after_setup']), num(h['free_after_setup'])),
                  '| idle, after 100 requests | %s B | %s KiB |' % (num(h['idle']), num(h['idle_rss_kib'])),
                  '| %d idle keep-alive connections open | %s B | %s KiB |' % (
                      args.idle_conns, num(h['with_idle_conns']), num(h['rss_with_idle_conns_kib'])),
                  '| %d requests inside a slow handler | %s B | %s KiB |' % (
                      h['slow_inside'], num(h['with_slow']), num(h['rss_with_slow_kib'])),
                  '| after 500 more requests | %s B | |' % num(h['after_500']),
                  '',
                  '| per unit | heap | VmRSS |', '|---|---:|---:|',
                  '| idle keep-alive connection | %s B | %s KiB |' % (
                      num(h['per_idle_conn_bytes'], '{:,.1f}'), num(h['rss_per_idle_conn_kib'], '{:,.2f}')),
                  '| request inside a handler | %s B | %s KiB |' % (
                      num(h['per_slow_bytes'], '{:,.0f}'), num(h['rss_per_slow_kib'], '{:,.1f}'))]
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--mp', default=str(REPO / 'target' / 'micropython' / 'micropython'),
                    help='the MicroPython binary with uhttpd (default: %(default)s)')
    ap.add_argument('--python', default=str(REPO / '.venv' / 'bin' / 'python'),
                    help='a CPython that imports uhttpd (default: %(default)s)')
    ap.add_argument('--rounds', type=int, default=3, help='rounds of the faces section (default 3)')
    ap.add_argument('--requests', type=int, default=2000, help='sequential GETs per round (default 2000)')
    ap.add_argument('--clients', type=int, default=4, help='concurrent keep-alive clients (default 4)')
    ap.add_argument('--duration', type=float, default=2.0, help='seconds per req/s run (default 2)')
    ap.add_argument('--idle-conns', type=int, default=200, help='idle keep-alive connections (default 200)')
    ap.add_argument('--slow', type=int, default=6,
                    help='requests held in the slow handler; at most the 8 default workers less one for /mem '
                         '(default 6)')
    ap.add_argument('--slow-ms', type=int, default=1500, help='slow handler sleep, ms (default 1500)')
    ap.add_argument('--heapsize', default='256K', help="MicroPython -X heapsize for the heap section (default 256K)")
    ap.add_argument('--settle', type=float, default=1.0, help='seconds to wait before an idle VmRSS (default 1)')
    ap.add_argument('--no-wrk', action='store_true', help='skip the wrk req/s run even if wrk is installed')
    ap.add_argument('--no-plain', action='store_true', help='skip the plain MicroPython build for comparison')
    ap.add_argument('--size-build', action='store_true',
                    help='also build the engine for size and link MicroPython to it (minutes, cached)')
    ap.add_argument('--only', default='sizes,faces,heap', help='any of sizes,faces,heap (default all)')
    args = ap.parse_args()
    if not 1 <= args.slow <= 7:
        ap.error('--slow must be 1..7 (8 handler threads, one kept free for /mem)')
    if not 1 <= args.requests <= 100000 or not 1 <= args.clients <= 64 or not 0 < args.duration <= 30:
        ap.error('--requests 1..100000, --clients 1..64, --duration (0, 30]')
    if not 1 <= args.idle_conns <= 1000:
        ap.error('--idle-conns 1..1000')
    only = set(args.only.split(','))

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.idle_conns + args.slow + args.clients + 64
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))
    prepare()
    wait_for_binary(args.mp)
    if not Path(args.python).exists():
        raise SystemExit('no CPython at %s' % args.python)

    res = {'args': vars(args), 'started': time.strftime('%Y-%m-%d %H:%M:%S'), 'cpus': os.cpu_count()}
    try:
        res['loadavg_start'] = os.getloadavg()
    except OSError:
        pass
    if 'sizes' in only:
        res['sizes'] = sizes(args)
        log('sizes done')
    if 'faces' in only:
        res['bare_rss_kib'] = bare_rss(args)
        faces = face_cmds(args)
        order = list(faces)
        res['faces'] = {name: [] for name in order}
        for rnd in range(args.rounds):
            for name in (order if rnd % 2 == 0 else order[::-1]):
                wait_for_binary(args.mp)
                res['faces'][name].append(face_round(name, faces[name], args))
    if 'heap' in only:
        wait_for_binary(args.mp)
        res['heap'] = heap_run(args)
    try:
        res['loadavg_end'] = os.getloadavg()
    except OSError:
        pass
    res['seconds'] = time.monotonic() - T_START
    name = 'results.json' if only >= {'sizes', 'faces', 'heap'} else 'results-%s.json' % '-'.join(sorted(only))
    (OUT / name).write_text(json.dumps(res, indent=1, default=str))
    print(report(res, args))
    print('\n(%.0f s; details in %s)' % (res['seconds'], OUT / name))


if __name__ == '__main__':
    main()
