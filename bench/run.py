#!/usr/bin/env python3
"""uhttpd benchmark suite: one command, loopback only.

    python3 bench/run.py [--quick] [--rounds N] [--duration S] [--shapes t1c8,t2c64]
                         [--static-shapes t1c8,t1c50,t2c64] [--only a,b] [--no-install] [--no-build]

Sets up bench/out/venv (peers from PyPI, a release build of this repository's
uhttpd), installs wrk and nginx with apt-get and dufs with cargo when they are
missing, builds the Rust ceiling (crates/uhttpd/examples/hello_ceiling.rs) and
MicroPython with uhttpd (scripts/build-micropython.sh) when their scenarios
run, runs the scenarios (see SCENARIOS) with uhttpd and each peer in turns,
and writes bench/out/results.json, bench/out/results.png and a Markdown table
(also printed). See bench/README.md.
"""
import argparse
import concurrent.futures
import datetime
import filecmp
import http.client
import json
import os
import platform
import pwd
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.append(str(REPO / 'tests'))  # webrepl_client: webrepl_cli.py's protocol, as the tests speak it

import micropython as mp_bench  # noqa: E402  bench/micropython.py: the MicroPython face's app and RSS probes
import webrepl_client  # noqa: E402

APPS = BENCH / 'apps'
CLIENTS = BENCH / 'clients'
OUT = Path(os.environ.get('UHTTPD_BENCH_OUT', BENCH / 'out')).resolve()
VENV = OUT / 'venv'
VPY = VENV / 'bin' / 'python'
CARGO_ROOT = OUT / 'cargo-bin'
LOGS = OUT / 'logs'
WWW = OUT / 'www'
HOST = '127.0.0.1'

PEERS_PIP = ['granian', 'uvicorn[standard]', 'starlette', 'microdot', 'matplotlib', 'maturin>=1.9,<2']

MiB = 1024 * 1024
T_START = time.monotonic()

# Fixed parts of the scenarios (bench/README.md says why each is what it is).
STATIC_100M_SHAPE = (2, 4)      # wrk threads, connections
MP_SHAPE = (1, 8)               # MicroPython comparisons: a device's few clients
ISOLATION_PROBE = (4, 2000)     # latency probe: connections, requests/s in all
ISOLATION_SLEEPERS = 8          # clients kept in the 50 ms callback: as many as handler workers
ISOLATION_EVENT_CLIENTS = 100
ISOLATION_EVENT_MS = 1          # period of the app's dispatch loop
MANY_CONNS = 10000
MANY_ROUNDS = 3
WEBREPL_BYTES = 10 * MiB
WEBREPL_PASSWORD = 'bench'
WEBREPL_BUDGET_S = 20           # a face's further rounds start only within this (a slow get takes ~30 s)


def log(msg):
    print('[%6.1fs] %s' % (time.monotonic() - T_START, msg), flush=True)


def run(cmd, check=True, **kw):
    cmd = [str(c) for c in cmd]
    return subprocess.run(cmd, check=check, **kw)


# --------------------------------------------------------------------------- setup

def ensure_venv(install):
    if not VPY.exists():
        if not install:
            raise SystemExit('no venv at %s and --no-install given' % VENV)
        log('creating %s' % VENV)
        run([sys.executable, '-m', 'venv', VENV])
    stamp = VENV / '.bench-peers'
    want = '\n'.join(PEERS_PIP)
    if install and (not stamp.exists() or stamp.read_text() != want):
        log('pip install %s' % ' '.join(PEERS_PIP))
        run([VPY, '-m', 'pip', 'install', '-q', '--disable-pip-version-check'] + PEERS_PIP)
        stamp.write_text(want)


def build_uhttpd():
    """Release build of this repository into the bench venv (own cargo target dir)."""
    log('building uhttpd (release) into the bench venv')
    env = dict(os.environ)
    env['PATH'] = '%s:%s' % (VENV / 'bin', env.get('PATH', ''))
    env['CARGO_TARGET_DIR'] = str(OUT / 'target')
    t0 = time.monotonic()
    with open(LOGS / 'build-uhttpd.log', 'w') as f:
        r = subprocess.run([str(VPY), '-m', 'pip', 'install', '--disable-pip-version-check',
                            '--no-build-isolation', '--no-deps', '--force-reinstall', str(REPO)],
                           env=env, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode:
        if subprocess.run([str(VPY), '-c', 'import uhttpd'], capture_output=True).returncode == 0:
            log('WARNING: uhttpd build failed (see %s); measuring the copy already in the venv'
                % (LOGS / 'build-uhttpd.log'))
            return False
        raise SystemExit('uhttpd build failed, see %s' % (LOGS / 'build-uhttpd.log'))
    log('uhttpd built in %.0f s' % (time.monotonic() - t0))
    return True


def build_ceiling(build):
    """The Rust Hello World (crates/uhttpd/examples/hello_ceiling.rs), release, in the bench's
    cargo target dir; None when it cannot be had."""
    binary = OUT / 'target' / 'release' / 'examples' / 'hello_ceiling'
    if build:
        log('building the ceiling: cargo build --release --example hello_ceiling')
        env = dict(os.environ, CARGO_TARGET_DIR=str(OUT / 'target'))
        with open(LOGS / 'build-ceiling.log', 'w') as f:
            r = subprocess.run(['cargo', 'build', '--release', '-p', 'uhttpd', '--example', 'hello_ceiling'],
                               cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT)
        if r.returncode:
            log('WARNING: ceiling build failed (see %s)' % (LOGS / 'build-ceiling.log'))
    return binary if binary.exists() else None


def build_micropython(build):
    """target/micropython/micropython with uhttpd, brought up to date by
    scripts/build-micropython.sh (minutes the first time, a no-op make and cargo later);
    None when it cannot be had."""
    binary = REPO / 'target' / 'micropython' / 'micropython'
    if build:
        log('building MicroPython with uhttpd (scripts/build-micropython.sh)')
        with open(LOGS / 'build-micropython.log', 'w') as f:
            r = subprocess.run(['bash', str(REPO / 'scripts' / 'build-micropython.sh')], cwd=REPO,
                               stdout=f, stderr=subprocess.STDOUT)
        if r.returncode:
            log('WARNING: MicroPython build failed (see %s)' % (LOGS / 'build-micropython.log'))
    return binary if os.access(binary, os.X_OK) else None


def which(name):
    for d in (CARGO_ROOT / 'bin', Path('/usr/sbin'), Path('/usr/bin')):
        if (d / name).exists():
            return str(d / name)
    return shutil.which(name)


_apt_updated = False


def apt_install(pkg):
    global _apt_updated
    if os.geteuid() != 0:
        log('not root: cannot apt-get install %s' % pkg)
        return False
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    cmd = ['apt-get', 'install', '-y', '-q', '--no-install-recommends', pkg]
    log('apt-get install %s' % pkg)
    with open(LOGS / ('apt-%s.log' % pkg), 'a') as f:
        if subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT).returncode == 0:
            return True
        if not _apt_updated:
            _apt_updated = True
            subprocess.run(['apt-get', 'update', '-q'], env=env, stdout=f, stderr=subprocess.STDOUT)
            return subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT).returncode == 0
    return False


def cargo_install(crate):
    if not shutil.which('cargo'):
        log('no cargo: cannot install %s' % crate)
        return False
    log('cargo install %s --locked --root %s (a few minutes, once)' % (crate, CARGO_ROOT))
    with open(LOGS / ('cargo-%s.log' % crate), 'w') as f:
        r = subprocess.run(['cargo', 'install', crate, '--locked', '--root', str(CARGO_ROOT)],
                           stdout=f, stderr=subprocess.STDOUT)
    return r.returncode == 0


def ensure_tools(install):
    tools = {}
    if not which('wrk') and install:
        apt_install('wrk')
    tools['wrk'] = which('wrk')
    if not tools['wrk']:
        if not which('oha') and install:
            cargo_install('oha')
        tools['oha'] = which('oha')
        if not tools['oha']:
            raise SystemExit('no load generator: neither wrk nor oha could be installed')
    if not which('nginx') and install:
        apt_install('nginx')
    tools['nginx'] = which('nginx')
    if not which('dufs') and install:
        cargo_install('dufs')
    tools['dufs'] = which('dufs')
    if not which('curl') and install:
        apt_install('curl')
    tools['curl'] = which('curl')
    for k, v in tools.items():
        log('%-6s %s' % (k, v or 'MISSING (its scenarios are skipped)'))
    return tools


def versions(tools):
    v = {'python': platform.python_version(), 'machine': platform.machine(),
         'kernel': platform.release(), 'cpus': os.cpu_count()}
    code = ('import importlib.metadata as m, json\n'
            'out = {}\n'
            'for p in ("uhttpd", "granian", "uvicorn", "starlette", "microdot", "uvloop", "httptools"):\n'
            '    try: out[p] = m.version(p)\n'
            '    except Exception: out[p] = None\n'
            'print(json.dumps(out))')
    try:
        v.update(json.loads(run([VPY, '-c', code], capture_output=True, text=True).stdout))
    except Exception as e:  # noqa: BLE001
        v['versions_error'] = str(e)
    for name, flag in (('wrk', '-v'), ('nginx', '-v'), ('dufs', '-V'), ('oha', '--version'),
                       ('curl', '--version')):
        if tools.get(name):
            r = subprocess.run([tools[name], flag], capture_output=True, text=True)
            v[name] = ((r.stdout or '') + (r.stderr or '')).strip().splitlines()[0:1]
            v[name] = v[name][0] if v[name] else None
    return v


# --------------------------------------------------------------------------- processes

class Proc:
    """A server started in its own session, so that it and its children stop together."""
    live = []

    def __init__(self, name, cmd, cwd=None, env=None):
        self.name = name
        self.logpath = LOGS / ('%s.log' % name)
        self.logfile = open(self.logpath, 'ab')
        self.p = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                  stdout=self.logfile, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        self.pid = self.p.pid
        Proc.live.append(self)

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.p.wait()
        # Children left in the group (e.g. workers) after the leader exited.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.logfile.close()
        if self in Proc.live:
            Proc.live.remove(self)

    def tail(self, n=15):
        try:
            return '\n'.join(self.logpath.read_text(errors='replace').splitlines()[-n:])
        except OSError:
            return ''


def stop_all():
    for p in list(Proc.live):
        p.stop()


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def http_get(port, path, timeout=5.0, method='GET'):
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def start_server(name, cmd, port, ready_path='/', cwd=None, env=None, timeout=30.0):
    proc = Proc(name, cmd, cwd=cwd, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError('%s exited (%s) during start-up:\n%s' % (name, proc.p.returncode, proc.tail()))
        try:
            http_get(port, ready_path, timeout=2.0, method='HEAD')
            return proc
        except (OSError, http.client.HTTPException):
            time.sleep(0.05)
    proc.stop()
    raise RuntimeError('%s did not answer within %.0f s:\n%s' % (name, timeout, proc.tail()))


def rss_kib(pid, field='VmRSS'):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError('%s not in /proc/%d/status' % (field, pid))


def group_cpu_seconds(pgid):
    """user+system CPU seconds of the live processes in process group `pgid`."""
    tick = os.sysconf('SC_CLK_TCK')
    total = 0
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields[0] is state; pgrp is the 5th field of stat
            total += int(fields[11]) + int(fields[12])
    return total / tick


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# --------------------------------------------------------------------------- load generator

_UNITS = {'': 1, 'K': 1024, 'M': 1024 ** 2, 'G': 1024 ** 3, 'T': 1024 ** 4}
_TIME = {'us': 1e-3, 'ms': 1.0, 's': 1e3, 'm': 60e3, 'h': 3600e3}


def measured_load(proc, tools, url, conns, duration, **kw):
    """load() plus the server's CPU seconds per request (all processes of its group)."""
    c0 = group_cpu_seconds(proc.pid)
    r = load(tools, url, conns, duration, **kw)
    cpu = group_cpu_seconds(proc.pid) - c0
    r['server_cpu_s'] = cpu
    r['server_cpu_us_per_req'] = cpu / (r['rps'] * duration) * 1e6 if r.get('rps') else None
    return r


def load(tools, url, conns, duration, threads=2, timeout=10):
    """Requests/s and MiB/s from wrk (or oha). Errors and non-2xx are counted."""
    if tools.get('wrk'):
        cmd = [tools['wrk'], '-t%d' % threads, '-c%d' % conns, '-d%ss' % duration,
               '--timeout', '%ds' % timeout, '--latency', url]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + timeout + 30).stdout
        res = {'rps': None, 'mib_s': None, 'errors': 0, 'non2xx': 0, 'p50_ms': None, 'p99_ms': None}
        m = re.search(r'Requests/sec:\s*([\d.]+)', out)
        res['rps'] = float(m.group(1)) if m else None
        m = re.search(r'Transfer/sec:\s*([\d.]+)([KMGT]?)B', out)
        res['mib_s'] = float(m.group(1)) * _UNITS[m.group(2)] / MiB if m else None
        m = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', out)
        if m:
            res['errors'] = sum(int(x) for x in m.groups())
        m = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
        if m:
            res['non2xx'] = int(m.group(1))
        for pct, key in (('50', 'p50_ms'), ('99', 'p99_ms')):
            m = re.search(r'^\s+%s%%\s+([\d.]+)(us|ms|s|m|h)\s*$' % pct, out, re.M)
            if m:
                res[key] = float(m.group(1)) * _TIME[m.group(2)]
        if res['rps'] is None:
            raise RuntimeError('wrk gave no result:\n' + out)
        return res
    # oha fallback
    cmd = [tools['oha'], '-z', '%ss' % duration, '-c', str(conns), '--no-tui', '-t', '%ss' % timeout,
           '--output-format', 'json', url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + timeout + 30)
    if r.returncode:
        cmd[cmd.index('--output-format'):cmd.index('--output-format') + 2] = ['-j']
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + timeout + 30)
    j = json.loads(r.stdout)
    s = j.get('summary', {})
    codes = j.get('statusCodeDistribution', {}) or {}
    pct = j.get('latencyPercentiles', {}) or {}
    return {'rps': s.get('requestsPerSec'), 'mib_s': (s.get('sizePerSec') or 0) / MiB,
            'errors': sum((j.get('errorDistribution') or {}).values()),
            'non2xx': sum(v for k, v in codes.items() if not str(k).startswith('2')),
            'p50_ms': (pct.get('p50') or 0) * 1e3, 'p99_ms': (pct.get('p99') or 0) * 1e3}


def parse_shapes(text):
    """'t1c8,t2c64' -> [(1, 8), (2, 64)]: wrk threads and connections."""
    shapes = []
    for item in text.split(','):
        m = re.fullmatch(r't(\d+)c(\d+)', item.strip())
        if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
            raise argparse.ArgumentTypeError('%r is no load shape tNcM (N threads <= M connections)' % item)
        shapes.append((int(m.group(1)), int(m.group(2))))
    return shapes


def shape_name(shape):
    return 't%dc%d' % shape


def shape_label(shape):
    return 'wrk -t%d -c%d' % shape


# --------------------------------------------------------------------------- servers

def hello_servers():
    gr = VENV / 'bin' / 'granian'
    uv = VENV / 'bin' / 'uvicorn'
    return [
        ('uhttpd', lambda p: [VPY, APPS / 'hello_uhttpd.py', p]),
        ('granian-wsgi', lambda p: [gr, '--interface', 'wsgi', '--host', HOST, '--port', p,
                                    '--workers', '1', '--log-level', 'warning', 'hello_wsgi:app']),
        ('uvicorn-starlette', lambda p: [uv, 'hello_starlette:app', '--host', HOST, '--port', p,
                                         '--workers', '1', '--log-level', 'warning', '--no-access-log']),
        ('microdot', lambda p: [VPY, APPS / 'hello_microdot.py', p]),
        ('http.server', lambda p: [VPY, APPS / 'hello_stdlib.py', p]),
    ]


def nginx_cmd(tools, port, root, tls=None):
    """nginx serving `root` on `port`; over TLS with `tls=(certfile, keyfile)`."""
    d = OUT / 'nginx'
    for sub in ('logs', 'tmp'):
        (d / sub).mkdir(parents=True, exist_ok=True)
    user = ''
    if os.geteuid() == 0:  # otherwise workers would switch to `nobody`
        pw = pwd.getpwuid(os.geteuid())
        user = 'user %s;' % pw.pw_name
    conf = d / 'nginx.conf'
    conf.write_text("""\
# generated by bench/run.py
{user}
worker_processes 2;
daemon off;
pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    access_log off;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path {d}/tmp/client_body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen {host}:{port}{ssl};
        root {root};
        {tls}
    }}
}}
""".format(user=user, d=d, host=HOST, port=port, root=root, ssl=' ssl' if tls else '',
           tls='ssl_certificate %s; ssl_certificate_key %s; ssl_protocols TLSv1.2 TLSv1.3;' % tls
           if tls else ''))
    return [tools['nginx'], '-p', '%s/' % d, '-c', conf, '-e', d / 'logs' / 'error.log']


def dufs_cmd(tools, port, root, upload=False):
    cmd = [tools['dufs'], '-b', HOST, '-p', port, '--log-format', '']
    if upload:
        cmd.append('--allow-upload')
    return cmd + [root]


# --------------------------------------------------------------------------- data

def make_file(path, size, sparse=False):
    if path.exists() and path.stat().st_size == size:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if sparse:
        with open(path, 'wb') as f:
            f.truncate(size)
        return
    block = os.urandom(min(size, MiB))
    with open(path, 'wb') as f:
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


# --------------------------------------------------------------------------- scenarios

def summarize(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


class Measure:
    """One request of a side-by-side run, measured with wrk at each load shape on every server.
    `expect` is the whole reply body, or (an int) its length, then checked in the first round only
    (a large file)."""

    def __init__(self, key, path, expect, shapes, metric='req/s', timeout=10, warm=True):
        self.key, self.path, self.expect, self.shapes = key, path, expect, shapes
        self.metric, self.timeout, self.warm = metric, timeout, warm
        self.field = {'req/s': 'rps', 'MiB/s': 'mib_s'}[metric]

    def check(self, port, rnd):
        if isinstance(self.expect, int):
            if rnd > 1:
                return
            status, body = http_get(port, self.path, timeout=60)
            ok = status == 200 and len(body) == self.expect
        else:
            status, body = http_get(port, self.path)
            ok = status == 200 and body == self.expect
        if not ok:
            raise RuntimeError('bad reply to %s: %s, %d bytes %r' % (self.path, status, len(body), body[:60]))


def on_free_port(label, cmd, ready_path='/', cwd=None, env=None):
    """A server starter for side_by_side(): `cmd(port)` on a free port, once it answers `ready_path`."""
    def start():
        port = free_port()
        return start_server(label, cmd(port), port, ready_path=ready_path, cwd=cwd, env=env), port
    return start


def side_by_side(cfg, tools, label, servers, measures):
    """Each round starts every server (name, starter) in turn, checks its replies, warms it up
    once per measure and runs wrk at each of the measure's shapes. A server that fails is
    left out of later rounds. Returns {measure key: {'metric', 'shapes': {shape name: {'label',
    'load', 'servers': {name: {'runs', 'median'[, 'error']}}}}}}."""
    res = {m.key: {'metric': m.metric, 'shapes': {
        shape_name(s): {'label': shape_label(s), 'load': '%s -d%ss %s' % (shape_label(s), cfg.duration, m.path),
                        'servers': {name: {'runs': []} for name, _ in servers}}
        for s in m.shapes}} for m in measures}
    failed = {}
    for rnd in range(1, cfg.rounds + 1):
        for name, start in servers:
            if name in failed:
                continue
            proc = None
            try:
                proc, port = start()
                url = 'http://%s:%d' % (HOST, port)
                for m in measures:
                    m.check(port, rnd)
                for m in measures:
                    if m.warm:
                        load(tools, url + m.path, m.shapes[0][1], cfg.warmup, threads=m.shapes[0][0])
                    for shape in m.shapes:
                        r = measured_load(proc, tools, url + m.path, shape[1], cfg.duration, threads=shape[0],
                                          timeout=m.timeout)
                        if m.metric == 'MiB/s':
                            r['server_cpu_s_per_gib'] = r['server_cpu_s'] / (r['mib_s'] * cfg.duration / 1024) \
                                if r.get('mib_s') else None
                        res[m.key]['shapes'][shape_name(shape)]['servers'][name]['runs'].append(r)
                        log('%s round %d %-13s %-6s %-18s %9.1f %s  p99 %7.2f ms  server CPU %6.1f us/req  '
                            'errors %d non2xx %d' % (
                                label, rnd, m.key, shape_name(shape), name, r[m.field] or -1, m.metric,
                                r['p99_ms'] or -1, r['server_cpu_us_per_req'] or -1, r['errors'], r['non2xx']))
            except (RuntimeError, OSError, subprocess.TimeoutExpired, http.client.HTTPException) as e:
                log('%s %s failed: %s' % (label, name, e))
                failed[name] = str(e).splitlines()[0]
            finally:
                if proc:
                    proc.stop()
    for m in measures:
        for entry in res[m.key]['shapes'].values():
            for name, e in entry['servers'].items():
                e['median'] = summarize(e['runs'], m.field)
                if name in failed:
                    e['error'] = failed[name]
    return res


CEILING_SERVERS = ('uhttpd', 'rust-handler', 'granian-wsgi')


def servers_subset(res, names):
    """A side_by_side() result with only the servers `names`."""
    return {'metric': res['metric'],
            'shapes': {shape: dict(entry, servers={n: e for n, e in entry['servers'].items() if n in names})
                       for shape, entry in res['shapes'].items()}}


def scenario_hello(cfg, tools, keys, ceiling):
    """a. Python callback answering `Hello World`, at each load shape. `keys` are those asked
    for: 'hello' (against the peers) and 'ceiling' (against the same handler in Rust on the same
    engine, the `ceiling` binary, and granian WSGI). Both come from one side-by-side run, so the
    callback is measured once. Returns the results by key."""
    out = {}
    if 'ceiling' in keys and not ceiling:
        out['ceiling'] = {'error': 'no hello_ceiling binary (cargo build failed, or --no-build without one)'}
    servers = [(name, cmd) for name, cmd in hello_servers() if 'hello' in keys or name in CEILING_SERVERS]
    if 'ceiling' in keys and ceiling:
        servers.insert(1, ('rust-handler', lambda p: [ceiling, p]))
    elif 'hello' not in keys:
        return out
    starters = [(name, on_free_port('hello-' + name, cmd, cwd=APPS)) for name, cmd in servers]
    res = side_by_side(cfg, tools, 'hello', starters, [Measure('hello', '/', b'Hello World', cfg.shapes)])['hello']
    if 'hello' in keys:
        out['hello'] = servers_subset(res, [name for name, _ in servers if name != 'rust-handler'])
    if 'ceiling' in keys and ceiling:
        out['ceiling'] = servers_subset(res, CEILING_SERVERS)
    return out


def static_servers(tools, root):
    out = [('uhttpd', lambda p: [VPY, APPS / 'files_uhttpd.py', p, root, 'serve'])]
    if tools.get('nginx'):
        out.append(('nginx', lambda p: nginx_cmd(tools, p, root)))
    if tools.get('dufs'):
        out.append(('dufs', lambda p: dufs_cmd(tools, p, root)))
    return out


def scenario_static(cfg, tools):
    """b. 1 KiB file (req/s, at each static load shape) and 100 MiB file (MiB/s, wrk -c4) from
    disk (page cache)."""
    make_file(WWW / '1k.bin', 1024)
    make_file(WWW / '100m.bin', 100 * MiB)
    servers = [(name, on_free_port('static-' + name, cmd, ready_path='/1k.bin'))
               for name, cmd in static_servers(tools, WWW)]
    res = side_by_side(cfg, tools, 'static', servers, [
        Measure('static_1k', '/1k.bin', (WWW / '1k.bin').read_bytes(), cfg.static_shapes),
        Measure('static_100m', '/100m.bin', 100 * MiB, [STATIC_100M_SHAPE], 'MiB/s', timeout=60, warm=False)])
    return res['static_1k'], res['static_100m']


def curl_put(tools, src, url):
    t0 = time.perf_counter()
    r = subprocess.run([tools['curl'], '-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Expect:',
                        '-T', str(src), url], capture_output=True, text=True, timeout=300)
    dt = time.perf_counter() - t0
    code = r.stdout.strip()
    if r.returncode or not code.startswith('2'):
        raise RuntimeError('upload to %s: curl rc %d, HTTP %s %s' % (url, r.returncode, code, r.stderr.strip()))
    return dt


def scenario_upload(cfg, tools):
    """c. 100 MiB PUT uploads with curl -T, one after another; MiB/s."""
    src = WWW / '100m.bin'
    make_file(src, 100 * MiB)
    size = src.stat().st_size
    n = cfg.uploads
    by_server = {}
    res = {'metric': 'MiB/s', 'shapes': {'curl': {'label': '%d × curl -T' % n, 'servers': by_server,
                                                  'load': '%d sequential `curl -T` PUTs of 100 MiB' % n}}}
    updir = OUT / 'upload'
    servers = [('uhttpd', lambda p: [VPY, APPS / 'files_uhttpd.py', p, updir, 'receive'], '/up/')]
    if tools.get('dufs'):
        servers.append(('dufs', lambda p: dufs_cmd(tools, p, updir, upload=True), '/'))
    for rnd in range(1, cfg.rounds + 1):
        for name, cmd, prefix in servers:
            entry = by_server.setdefault(name, {'runs': []})
            if entry.get('error'):
                continue
            shutil.rmtree(updir, ignore_errors=True)
            updir.mkdir(parents=True)
            port = free_port()
            try:
                proc = start_server('upload-' + name, cmd(port), port, ready_path='/')
            except RuntimeError as e:
                log('upload %s: %s' % (name, e))
                entry['error'] = str(e).splitlines()[0]
                continue
            try:
                url = 'http://%s:%d%s' % (HOST, port, prefix)
                curl_put(tools, src, url + 'warm.bin')
                c0 = group_cpu_seconds(proc.pid)
                times = [curl_put(tools, src, url + 'u%d.bin' % i) for i in range(n)]
                cpu = group_cpu_seconds(proc.pid) - c0
                for i in range(n):
                    got = (updir / ('u%d.bin' % i)).stat().st_size
                    if got != size:
                        raise RuntimeError('u%d.bin has %d bytes, sent %d' % (i, got, size))
                r = {'mib_s': n * size / MiB / sum(times), 'seconds': times,
                     'server_cpu_s_per_gib': cpu / (n * size / (1024 * MiB))}
                entry['runs'].append(r)
                log('upload round %d %-8s %8.0f MiB/s  (%s s each; server CPU %.2f s/GiB)' % (
                    rnd, name, r['mib_s'], ', '.join('%.2f' % t for t in times), r['server_cpu_s_per_gib']))
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                log('upload %s failed: %s' % (name, e))
                entry['error'] = str(e).splitlines()[0]
            finally:
                proc.stop()
                shutil.rmtree(updir, ignore_errors=True)
    for entry in by_server.values():
        entry['median'] = summarize(entry['runs'], 'mib_s')
    return res


def scenario_sse(cfg, tools):
    """d. 1,000 EventSource clients, K events dispatched from a callback; deliveries/s."""
    clients, events, size = cfg.sse_clients, cfg.sse_events, 32
    raise_nofile(clients + 1024)
    port = free_port()
    res = {'metric': 'deliveries/s', 'clients': clients, 'events': events, 'size': size, 'runs': []}
    proc = start_server('sse-uhttpd', [VPY, APPS / 'sse_uhttpd.py', port, clients], port, ready_path='/fire?n=0')
    try:
        r = run([sys.executable, CLIENTS / 'sse_fanout.py', port, clients, events, cfg.rounds + 1, size,
                 proc.pid],
                capture_output=True, text=True, timeout=120 + 60 * cfg.rounds)
        if r.returncode:
            raise RuntimeError('sse client failed: %s' % r.stderr[-2000:])
        out = json.loads(r.stdout)
        res['connected'] = out['connected']
        res['connect_seconds'] = out['connect_seconds']
        res['warmup'] = out['rounds'][0]
        res['runs'] = out['rounds'][1:]
        for x in res['runs']:
            log('sse round %d: %d clients x %d events in %.3f s = %.0f deliveries/s '
                '(dispatch loop %.3f s, %d/%d delivered, %d clients dropped; CPU server %.2f s, client %.2f s)' % (
                    x['round'] - 1, out['connected'], events, x['seconds'], x['rate'],
                    x['dispatch_seconds'] or -1, x['deliveries'], x['expected'], x['closed_clients'],
                    x['server_cpu_seconds'] or -1, x['client_cpu_seconds']))
        res['median'] = summarize(res['runs'], 'rate')
        res['complete'] = all(x['deliveries'] == x['expected'] for x in res['runs']) and \
            out['connected'] == clients
    except (RuntimeError, subprocess.TimeoutExpired, ValueError, KeyError) as e:
        log('sse failed: %s' % e)
        res['error'] = str(e).splitlines()[0]
    finally:
        proc.stop()
    return res


def sample_peak(pid, child, interval=0.005):
    """Highest VmRSS seen while `child` runs (and VmHWM, reset before via clear_refs)."""
    peak = 0
    while child.poll() is None:
        try:
            peak = max(peak, rss_kib(pid))
        except (OSError, RuntimeError):
            break
        time.sleep(interval)
    return peak


def reset_hwm(pid):
    try:
        with open('/proc/%d/clear_refs' % pid, 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def mem_server(name, root):
    port = free_port()
    proc = start_server(name, [VPY, APPS / 'files_uhttpd.py', port, root, 'mem'], port)
    for _ in range(20):  # warm the worker pool and the runtime
        http_get(port, '/')
    time.sleep(0.5)
    return proc, port


def scenario_memory(cfg, tools):
    """e. RSS: idle server, 1,000 idle keep-alive connections, 1 GiB download and upload."""
    res = {}
    root = OUT / 'mem'
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    n = cfg.idle_conns
    raise_nofile(n + 1024)

    # Idle connections: each sends one request, reads the reply, stays open.
    proc, port = mem_server('mem-idle', root)
    socks = []
    try:
        idle = rss_kib(proc.pid)
        req = b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
        for _ in range(n):
            s = socket.create_connection((HOST, port), timeout=10)
            s.sendall(req)
            data = b''
            while not data.endswith(b'Hello World'):
                chunk = s.recv(4096)
                if not chunk:
                    raise RuntimeError('connection closed: %r' % data)
                data += chunk
            socks.append(s)
        time.sleep(1.0)
        loaded = rss_kib(proc.pid)
        alive = 0
        for s in socks:  # still open? (a closed one would read EOF)
            s.setblocking(False)
            try:
                alive += s.recv(1) != b''
            except BlockingIOError:
                alive += 1
        res['idle_rss_kib'] = idle
        res['conns'] = n
        res['conns_alive'] = alive
        res['conns_rss_kib'] = loaded
        res['per_conn_kib'] = (loaded - idle) / n
        for s in socks:
            s.close()
        socks = []
        time.sleep(1.0)
        res['after_close_rss_kib'] = rss_kib(proc.pid)
        log('memory: idle %d KiB; %d keep-alive conns %d KiB (%.2f KiB each, %d alive); after close %d KiB' % (
            idle, n, loaded, res['per_conn_kib'], alive, res['after_close_rss_kib']))
    finally:
        for s in socks:
            s.close()
        proc.stop()

    big = root / 'big' / '1g.bin'
    make_file(big, 1024 * MiB, sparse=True)
    try:
        for kind in ('download', 'upload'):
            proc, port = mem_server('mem-' + kind, root)
            try:
                base = rss_kib(proc.pid)
                hwm_ok = reset_hwm(proc.pid)
                if kind == 'download':
                    cmd = [tools['curl'], '-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}',
                           'http://%s:%d/files/big/1g.bin' % (HOST, port)]
                else:
                    cmd = [tools['curl'], '-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_upload}',
                           '-H', 'Expect:', '-T', str(big), 'http://%s:%d/up/up1g.bin' % (HOST, port)]
                t0 = time.perf_counter()
                child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                peak = sample_peak(proc.pid, child)
                out, err = child.communicate()
                dt = time.perf_counter() - t0
                code, nbytes = (out.split() + ['', ''])[:2]
                if not code.startswith('2') or int(float(nbytes or 0)) != 1024 * MiB:
                    raise RuntimeError('%s: HTTP %s, %s bytes %s' % (kind, code, nbytes, err.strip()))
                hwm = rss_kib(proc.pid, 'VmHWM') if hwm_ok else None
                top = max(peak, hwm or 0)
                res[kind] = {'base_rss_kib': base, 'peak_rss_sampled_kib': peak, 'vmhwm_kib': hwm,
                             'growth_mib': (top - base) / 1024, 'seconds': dt,
                             'mib_s': 1024 / dt}
                log('memory: 1 GiB %s in %.2f s (%.0f MiB/s): RSS %d KiB before, peak %d KiB -> growth %.1f MiB' % (
                    kind, dt, 1024 / dt, base, top, res[kind]['growth_mib']))
            except (RuntimeError, OSError, ValueError) as e:
                log('memory %s failed: %s' % (kind, e))
                res[kind] = {'error': str(e).splitlines()[0]}
            finally:
                proc.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return res


def scenario_startup(cfg, tools):
    """f. Server(port=0) + route() to the first answered request, in process; median of 20."""
    r = run([VPY, CLIENTS / 'startup.py', 20], capture_output=True, text=True, timeout=120)
    if r.returncode:
        log('startup failed: %s' % r.stderr[-2000:])
        return {'error': r.stderr.strip().splitlines()[-1] if r.stderr.strip() else 'failed'}
    out = json.loads(r.stdout)
    res = {'n': out['n'], 'median_ms': out['median'] * 1e3, 'close_median_ms': out['close_median'] * 1e3,
           'runs_ms': [x * 1e3 for x in out['first_request']]}
    log('startup: median %.2f ms to the first answered request (close %.2f ms)' % (
        res['median_ms'], res['close_median_ms']))
    return res


def probe_latency(port, path, duration):
    """clients/latency_probe.py: open-loop GETs at ISOLATION_PROBE's rate; its JSON (ms)."""
    conns, rate = ISOLATION_PROBE
    r = run([sys.executable, CLIENTS / 'latency_probe.py', port, path, conns, rate, duration],
            capture_output=True, text=True, timeout=duration + 60)
    if r.returncode:
        raise RuntimeError('latency probe failed: %s' % r.stderr[-2000:])
    out = json.loads(r.stdout)
    if out['bad_status'] or out['unanswered'] or out['closed']:
        raise RuntimeError('latency probe: %d bad, %d unanswered, %d closed' % (
            out['bad_status'], out['unanswered'], out['closed']))
    return out


def probe_beside_sleepers(tools, port, path, duration):
    """The latency probe while ISOLATION_SLEEPERS wrk connections keep every handler thread in
    the 50 ms callback (they start first and end after it)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        sleepers = pool.submit(load, tools, 'http://%s:%d/sleep' % (HOST, port), ISOLATION_SLEEPERS,
                               duration + 2, threads=1)
        time.sleep(0.5)
        probe = probe_latency(port, path, duration)
        probe['sleep_load'] = sleepers.result()
    return probe


def scenario_isolation(cfg, tools):
    """p99 of a 1 KiB static GET (open-loop probe) alone, beside 8 clients in a 50 ms callback,
    and beside those plus a dispatch loop to 100 EventSource clients; ratios to alone."""
    make_file(WWW / '1k.bin', 1024)
    path = '/files/1k.bin'
    res = {'probe': {'conns': ISOLATION_PROBE[0], 'rate': ISOLATION_PROBE[1], 'seconds': cfg.duration,
                     'path': path},
           'sleepers': ISOLATION_SLEEPERS, 'event_clients': ISOLATION_EVENT_CLIENTS,
           'event_period_ms': ISOLATION_EVENT_MS, 'runs': []}
    raise_nofile(ISOLATION_EVENT_CLIENTS + 1024)
    try:
        for rnd in range(1, cfg.rounds + 1):
            port = free_port()
            proc = start_server('isolation-uhttpd', [VPY, APPS / 'isolation_uhttpd.py', port, WWW,
                                                     ISOLATION_EVENT_CLIENTS], port, ready_path=path)
            readers = None
            try:
                if http_get(port, '/sleep') != (200, b'slept'):
                    raise RuntimeError('bad /sleep reply')
                load(tools, 'http://%s:%d%s' % (HOST, port, path), ISOLATION_PROBE[0], cfg.warmup, threads=1)
                r = {'alone': probe_latency(port, path, cfg.duration),
                     'sleepers': probe_beside_sleepers(tools, port, path, cfg.duration)}
                # The event readers stop at EOF on their stdin, or at the bound given.
                readers = subprocess.Popen([str(x) for x in (sys.executable, CLIENTS / 'sse_fanout.py', '--drain',
                                                             cfg.duration + 30, port, ISOLATION_EVENT_CLIENTS)],
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                connected = json.loads(readers.stdout.readline() or '{}')
                if connected.get('connected') != ISOLATION_EVENT_CLIENTS:
                    raise RuntimeError('event readers: %s' % connected)
                http_get(port, '/dispatch?ms=%g' % ISOLATION_EVENT_MS)
                r['events'] = probe_beside_sleepers(tools, port, path, cfg.duration)
                dispatched, seconds = http_get(port, '/dispatch?ms=0')[1].split()
                drained = json.loads(readers.communicate('', timeout=30)[0].strip().splitlines()[-1])
                r['events'].update(dispatched=int(dispatched), dispatch_seconds=float(seconds),
                                   delivered=drained['events'], readers_closed=drained['closed_clients'])
                r['sleepers_ratio'] = r['sleepers']['p99_ms'] / r['alone']['p99_ms']
                r['events_ratio'] = r['events']['p99_ms'] / r['alone']['p99_ms']
                res['runs'].append(r)
                log('isolation round %d: 1 KiB p99 alone %.2f ms; beside %d sleeping callbacks (%.0f req/s) '
                    '%.2f ms = %.2fx; and %d event clients (%.0f events/s, %d delivered) %.2f ms = %.2fx' % (
                        rnd, r['alone']['p99_ms'], ISOLATION_SLEEPERS, r['sleepers']['sleep_load']['rps'],
                        r['sleepers']['p99_ms'], r['sleepers_ratio'], ISOLATION_EVENT_CLIENTS,
                        r['events']['dispatched'] / max(r['events']['dispatch_seconds'], 1e-9),
                        r['events']['delivered'], r['events']['p99_ms'], r['events_ratio']))
            finally:
                if readers and readers.poll() is None:
                    readers.kill()
                    readers.wait()
                proc.stop()
    except (RuntimeError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
        log('isolation failed: %s' % e)
        res['error'] = str(e).splitlines()[0]
    for key in ('alone', 'sleepers', 'events'):
        res[key + '_p99_ms'] = summarize([r[key] for r in res['runs']], 'p99_ms')
    res['sleepers_ratio'] = summarize(res['runs'], 'sleepers_ratio')
    res['events_ratio'] = summarize(res['runs'], 'events_ratio')
    return res


def scenario_many(cfg, tools):
    """MANY_CONNS keep-alive connections to serve(): every request answered, RSS, p99."""
    make_file(WWW / '1k.bin', 1024)
    port = free_port()
    # MAX_CONNECTIONS (16,384, docs/SPEC.md: at least 10,000) is above MANY_CONNS, and the engine
    # raises its own file limit: files_uhttpd.py needs no setting for this.
    proc = start_server('many-uhttpd', [VPY, APPS / 'files_uhttpd.py', port, WWW, 'serve'], port,
                        ready_path='/1k.bin')
    try:
        for _ in range(20):  # warm the runtime and the file path
            http_get(port, '/1k.bin')
        time.sleep(0.5)
        r = run([sys.executable, CLIENTS / 'many_conns.py', port, '/1k.bin', MANY_CONNS, MANY_ROUNDS, proc.pid],
                capture_output=True, text=True, timeout=120 + 60 * MANY_ROUNDS)
        if r.returncode:
            raise RuntimeError('many_conns failed: %s' % r.stderr[-2000:])
        res = json.loads(r.stdout)
        res['failed'] = (res['conns'] - res['opened']) + res['unanswered'] + sum(res['bad'].values()) \
            + res['closed_by_server']
        log('many: %d/%d connections open (%.1f s), %d rounds: %d/%d answered, %d failed (%s); p50 %.1f ms, '
            'p99 %.1f ms; server RSS %d KiB before, %d KiB with them idle (%.2f KiB each), %d KiB after close' % (
                res['opened'], res['conns'], res['connect_seconds'], res['rounds'], res['answered'], res['sent'],
                res['failed'], res['bad'] or res['connect_errors'] or 'none', res['p50_ms'], res['p99_ms'],
                res['rss_before_kib'], res['rss_idle_conns_kib'], res['per_conn_kib'], res['rss_after_close_kib']))
        return res
    except (RuntimeError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
        log('many failed: %s' % e)
        return {'error': str(e).splitlines()[0]}
    finally:
        proc.stop()


def microdot_path():
    """The directory holding the bench venv's microdot package, for MicroPython's MICROPYPATH."""
    r = run([VPY, '-c', 'import microdot, os; print(os.path.dirname(os.path.dirname(microdot.__file__)))'],
            capture_output=True, text=True)
    return r.stdout.strip()


def mp_memory(mp, n):
    """The MicroPython face's idle VmRSS and VmRSS per idle keep-alive connection (n of them),
    with bench/micropython.py's app and probes."""
    raise_nofile(n + 1024)
    proc = mp_bench.start_app('run-mp-memory', [mp])
    try:
        res = {'idle_rss_kib': mp_bench.settled_rss(proc.pid, 1.0),
               'idle_rss_anon_kib': mp_bench.status_field(proc.pid, 'RssAnon'), 'conns': n}
        conns = mp_bench.open_idle(proc.port, n)
        try:
            res['conns_rss_kib'] = mp_bench.settled_rss(proc.pid, 0.3)
        finally:
            mp_bench.close_all(conns)
    finally:
        proc.stop()
    res['per_conn_kib'] = (res['conns_rss_kib'] - res['idle_rss_kib']) / n
    log('micropython: idle VmRSS %d KiB (RssAnon %d KiB); %d keep-alive connections %d KiB (%.2f KiB each)' % (
        res['idle_rss_kib'], res['idle_rss_anon_kib'], n, res['conns_rss_kib'], res['per_conn_kib']))
    return res


def scenario_micropython(cfg, tools, mp):
    """uhttpd against microdot, both on the MicroPython binary with uhttpd: Hello World from a
    callback and a 1 KiB file; then the face's RSS. Returns the results by key."""
    if not mp:
        return {'mp_hello': {'error': 'no MicroPython binary (scripts/build-micropython.sh)'}}
    mp_bench.prepare()
    www = mp_bench.OUT / 'www'
    make_file(WWW / '1k.bin', 1024)
    shutil.copy(WWW / '1k.bin', www / '1k.bin')
    env = dict(os.environ, MICROPYPATH='.frozen:' + microdot_path())  # .frozen: asyncio is frozen in

    def uhttpd_on_mp():
        proc = mp_bench.start_app('run-mp-uhttpd', [mp])
        return proc, proc.port

    servers = [('uhttpd', uhttpd_on_mp),
               ('microdot', on_free_port('mp-microdot', lambda p: [mp, APPS / 'hello_microdot.py', p, www],
                                         env=env))]
    res = side_by_side(cfg, tools, 'micropython', servers, [
        Measure('mp_hello', '/', b'Hello World', [MP_SHAPE]),
        Measure('mp_static_1k', '/1k.bin', (www / '1k.bin').read_bytes(), [MP_SHAPE])])
    try:
        res['mp_memory'] = mp_memory(mp, cfg.idle_conns)
    except (RuntimeError, OSError) as e:
        log('micropython memory failed: %s' % e)
        res['mp_memory'] = {'error': str(e).splitlines()[0]}
    return res


def webrepl_transfer(port, src, root, nodelay=False):
    """Logs in like webrepl_cli.py, puts `src` and gets it back; seconds each way. `nodelay`
    sets TCP_NODELAY on the client socket, which webrepl_cli.py does not."""
    ws, status, _ = webrepl_client.connect(port, timeout=30)
    try:
        if not status.startswith(b'HTTP/1.1 101'):
            raise RuntimeError('WebREPL handshake: %r' % status)
        if nodelay:
            ws.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        webrepl_client.login(ws, WEBREPL_PASSWORD)
        webrepl_client.read_text_until(ws, b'>>> ')
        t0 = time.perf_counter()
        webrepl_client.put_file(ws, str(src), 'put.bin')
        put_s = time.perf_counter() - t0
        if (root / 'put.bin').stat().st_size != src.stat().st_size:
            raise RuntimeError('put: %d bytes landed' % (root / 'put.bin').stat().st_size)
        got = src.with_name('got.bin')
        t0 = time.perf_counter()
        webrepl_client.get_file(ws, str(got), 'put.bin')
        get_s = time.perf_counter() - t0
        if not filecmp.cmp(src, got, shallow=False):
            raise RuntimeError('get: the file came back different')
        return put_s, get_s
    finally:
        ws.s.close()


def scenario_webrepl(cfg, tools, mp):
    """A 10 MiB file put and got back with webrepl_cli.py's protocol (tests/webrepl_client.py),
    on each face; MB/s each way. Once more with TCP_NODELAY on the client, to tell the
    client's small writes from the server's own costs. Rounds go on while within
    WEBREPL_BUDGET_S per face."""
    work = OUT / 'webrepl'
    shutil.rmtree(work, ignore_errors=True)
    (work / 'root').mkdir(parents=True)
    src = work / 'src.bin'
    make_file(src, WEBREPL_BYTES)
    faces = [('CPython', [VPY, '-u'])] + ([('MicroPython', [mp])] if mp else [])
    mp_bench.OUT.mkdir(parents=True, exist_ok=True)  # where its Proc keeps the apps' output
    res = {'bytes': WEBREPL_BYTES, 'faces': {}}
    try:
        for name, interp in faces:
            runs = res['faces'].setdefault(name, {'runs': []})['runs']
            t_face = time.monotonic()
            try:
                for rnd in range(1, cfg.rounds + 1):
                    if time.monotonic() - t_face > WEBREPL_BUDGET_S:
                        log('webrepl %s: %d round(s) took over %d s, no more' % (name, rnd - 1, WEBREPL_BUDGET_S))
                        break
                    # Its 'ready' line, not an HTTP answer: the port is open before ws() is registered.
                    proc = mp_bench.Proc('webrepl-' + name, interp + [APPS / 'webrepl_uhttpd.py', 0, work / 'root',
                                                                      WEBREPL_PASSWORD], cwd=work)
                    try:
                        port = int(proc.wait_line('ready').split()[1])
                        put_s, get_s = webrepl_transfer(port, src, work / 'root')
                        _, get_nodelay_s = webrepl_transfer(port, src, work / 'root', nodelay=True)
                    finally:
                        proc.stop()
                    r = {'put_mb_s': WEBREPL_BYTES / put_s / 1e6, 'get_mb_s': WEBREPL_BYTES / get_s / 1e6,
                         'get_nodelay_mb_s': WEBREPL_BYTES / get_nodelay_s / 1e6}
                    runs.append(r)
                    log('webrepl round %d %-11s 10 MiB put %7.2f MB/s, get %7.2f MB/s (client with TCP_NODELAY: '
                        'get %7.2f MB/s)' % (rnd, name, r['put_mb_s'], r['get_mb_s'], r['get_nodelay_mb_s']))
            except (RuntimeError, OSError, AssertionError, subprocess.TimeoutExpired) as e:
                log('webrepl %s failed: %r' % (name, e))
                res['faces'][name]['error'] = str(e).splitlines()[0] if str(e) else repr(e)
            for key in ('put_mb_s', 'get_mb_s', 'get_nodelay_mb_s'):
                res['faces'][name][key] = summarize(runs, key)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return res


# --------------------------------------------------------------------------- report

def fmt(x, unit=''):
    if x is None:
        return 'n/a'
    if isinstance(x, int):
        s = '{:,}'.format(x)
    elif abs(x) >= 100:
        s = '{:,.0f}'.format(x)
    elif abs(x) >= 10:
        s = '%.1f' % x
    else:
        s = '%.2f' % x
    return s + (' ' + unit if unit else '')


# (result key, title, {peer: target ratio uhttpd / peer}, peers compared or None for all);
# uhttpd is the server named 'uhttpd'. The targets are issue 14's (round two).
COMPARISONS = [
    ('hello', 'Python callback, Hello World', {'granian-wsgi': 2.0}, None),
    # The ceiling run also serves granian, for a same-run check; its ratio is the hello row's.
    ('ceiling', 'Python callback / the same engine with a Rust handler', {}, ('rust-handler',)),
    ('static_1k', '1 KiB static file', {'nginx': 1.1}, None),
    ('static_100m', '100 MiB static file', {'nginx': 0.9}, None),
    ('upload_100m', '100 MiB upload (PUT)', {'dufs': 1.0}, None),
    ('mp_hello', 'MicroPython: callback Hello World', {'microdot': 5.0}, None),
    ('mp_static_1k', 'MicroPython: 1 KiB static file', {'microdot': 20.0}, None),
]

OPS = {'>=': ('≥', lambda v, t: v >= t), '<=': ('≤', lambda v, t: v <= t), '<': ('<', lambda v, t: v < t)}


def measure(name, value, unit, target=None, op='>=', met=None):
    """One absolute measure of the report; `met` from value `op` target unless given."""
    if met is None and target is not None:
        met = value is not None and OPS[op][1](value, target)
    return {'name': name, 'value': value, 'unit': unit, 'target': target, 'op': op, 'met': met}


def comparisons(sc):
    comps = []
    for key, title, targets, peers in COMPARISONS:
        s = sc.get(key)
        if not s or 'shapes' not in s:
            continue
        for shape in s['shapes'].values():
            servers = shape['servers']
            base = servers.get('uhttpd', {})
            u = base.get('median')
            for peer, e in servers.items():
                if peer == 'uhttpd' or (peers and peer not in peers):
                    continue
                p = e.get('median')
                ratio = u / p if u and p else None
                t = targets.get(peer)
                comps.append({'scenario': key, 'title': title, 'load': shape['label'], 'metric': s['metric'],
                              'peer': peer, 'uhttpd': u, 'peer_value': p, 'ratio': ratio, 'target': t,
                              'met': (ratio >= t) if (t and ratio) else None,
                              'error': e.get('error') or base.get('error')})
    return comps


def absolutes(sc):
    out = []
    if 'sse' in sc:
        v = sc['sse'].get('median')
        out.append(measure('%d-client SSE fan-out' % sc['sse'].get('clients', 0), v, 'deliveries/s', 200000,
                           met=v is not None and v >= 200000 and sc['sse'].get('complete', False)))
    if 'memory' in sc:
        m = sc['memory']
        out.append(measure('RSS per idle keep-alive connection', m.get('per_conn_kib'), 'KiB', 8, '<='))
        out.append(measure('idle server RSS', (m.get('idle_rss_kib') or 0) / 1024 or None, 'MiB'))
        for kind in ('download', 'upload'):
            out.append(measure('RSS growth, 1 GiB %s' % kind, m.get(kind, {}).get('growth_mib'), 'MiB', 32, '<'))
    if 'startup' in sc:
        out.append(measure('start-up to first answered request', sc['startup'].get('median_ms'), 'ms'))
    if 'isolation' in sc:
        i = sc['isolation']
        out.append(measure('1 KiB static p99, alone (%d req/s probe)' % ISOLATION_PROBE[1], i.get('alone_p99_ms'),
                           'ms'))
        out.append(measure('1 KiB static p99 beside %d clients in a 50 ms callback / alone' % ISOLATION_SLEEPERS,
                           i.get('sleepers_ratio'), '×', 2, '<='))
        out.append(measure('… and an SSE dispatch loop to %d clients / alone' % ISOLATION_EVENT_CLIENTS,
                           i.get('events_ratio'), '×', 2, '<='))
    if 'many' in sc:
        m = sc['many']
        n = m.get('conns', MANY_CONNS)
        out.append(measure('%s keep-alive connections: requests failed or refused' % format(n, ','),
                           m.get('failed'), 'requests', 0, '<='))
        out.append(measure('%s connections: RSS per idle connection' % format(n, ','), m.get('per_conn_kib'),
                           'KiB', 8, '<='))
        out.append(measure('%s connections: server RSS' % format(n, ','),
                           m['rss_idle_conns_kib'] / 1024 if m.get('rss_idle_conns_kib') else None, 'MiB'))
        out.append(measure('%s connections: p99 latency (one burst per round)' % format(n, ','), m.get('p99_ms'),
                           'ms'))
    if 'mp_memory' in sc:
        m = sc['mp_memory']
        out.append(measure('MicroPython face: idle RSS', (m.get('idle_rss_kib') or 0) / 1024 or None, 'MiB'))
        out.append(measure('MicroPython face: RSS per idle keep-alive connection (%d connections)'
                           % m.get('conns', 0), m.get('per_conn_kib'), 'KiB'))
    if 'webrepl' in sc:
        for face, f in sc['webrepl']['faces'].items():
            for way in ('put', 'get'):
                out.append(measure('WebREPL %s 10 MiB, %s face' % (way, face), f.get(way + '_mb_s'), 'MB/s', 20))
            out.append(measure('WebREPL get 10 MiB, %s face, client with TCP_NODELAY' % face,
                               f.get('get_nodelay_mb_s'), 'MB/s'))
    return out


def build_report(results):
    sc = results['scenarios']
    comps = results['comparisons'] = comparisons(sc)
    absolute = results['absolute'] = absolutes(sc)
    lines = ['| scenario | load | metric | uhttpd | peer | peer value | uhttpd / peer | target |',
             '|---|---|---|---:|---|---:|---:|---|']
    for c in comps:
        tgt = ('≥ %.1f× %s' % (c['target'], 'yes' if c['met'] else 'NO')) if c['target'] else ''
        peer = c['peer'] + (' (error: %s)' % c['error'] if c['error'] and c['ratio'] is None else '')
        lines.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
            c['title'], c['load'], c['metric'], fmt(c['uhttpd']), peer, fmt(c['peer_value']),
            ('%.2f×' % c['ratio']) if c['ratio'] else 'n/a', tgt))
    errors = ['%s: %s' % (k, v['error']) for k, v in sc.items()
              if isinstance(v, dict) and v.get('error') and 'shapes' not in v]
    errors += ['webrepl, %s face: %s' % (face, f['error'])
               for face, f in sc.get('webrepl', {}).get('faces', {}).items() if f.get('error')]
    lines += ['', '| uhttpd measure | value | target |', '|---|---:|---|']
    for a in absolute:
        tgt = '' if a['target'] is None else '%s %s %s' % (
            OPS[a['op']][0], fmt(a['target'], a['unit']), 'yes' if a['met'] else 'NO')
        lines.append('| %s | %s | %s |' % (a['name'], fmt(a['value'], a['unit']), tgt))
    if errors:
        lines += [''] + ['error in %s' % e for e in errors]
    return '\n'.join(lines)


def plot(results_path, png_path):
    r = subprocess.run([str(VPY), str(BENCH / 'plot.py'), str(results_path), str(png_path)],
                       capture_output=True, text=True)
    if r.returncode:
        log('plot failed: %s' % r.stderr.strip()[-1000:])
    else:
        log('plot: %s' % png_path)


# --------------------------------------------------------------------------- main

SCENARIOS = ['hello', 'ceiling', 'static', 'upload', 'sse', 'memory', 'startup', 'isolation', 'many',
             'micropython', 'webrepl']


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--quick', action='store_true', help='1 round of 2 s each (CI smoke run)')
    ap.add_argument('--rounds', type=int, help='rounds per scenario (default 3; --quick 1)')
    ap.add_argument('--duration', type=float, help='seconds per wrk run (default 10; --quick 2)')
    ap.add_argument('--shapes', type=parse_shapes, default='t1c8,t2c64',
                    help='wrk load shapes tNcM (N threads, M connections) for hello and ceiling (t1c8,t2c64)')
    ap.add_argument('--static-shapes', type=parse_shapes, default='t1c8,t1c50,t2c64',
                    help='wrk load shapes for the 1 KiB static file (t1c8,t1c50,t2c64)')
    ap.add_argument('--only', default=','.join(SCENARIOS), help='comma list of: ' + ', '.join(SCENARIOS))
    ap.add_argument('--no-install', action='store_true', help='install nothing; skip what is missing')
    ap.add_argument('--no-build', action='store_true', help='use the uhttpd already in bench/out/venv')
    cfg = ap.parse_args()
    cfg.rounds = cfg.rounds or (1 if cfg.quick else 3)
    cfg.duration = cfg.duration or (2 if cfg.quick else 10)
    if cfg.duration == int(cfg.duration):
        cfg.duration = int(cfg.duration)
    cfg.warmup = 1 if cfg.quick else 2
    cfg.uploads = 3 if cfg.quick else 5
    cfg.sse_clients = 1000
    cfg.sse_events = 800
    cfg.idle_conns = 1000
    only = [s.strip() for s in cfg.only.split(',') if s.strip()]
    bad = set(only) - set(SCENARIOS)
    if bad:
        ap.error('unknown scenario(s): %s' % ', '.join(sorted(bad)))

    OUT.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))
    try:
        ensure_venv(not cfg.no_install)
        built = None if cfg.no_build else build_uhttpd()
        ceiling = build_ceiling(not cfg.no_build) if 'ceiling' in only else None
        mp = build_micropython(not cfg.no_build) if {'micropython', 'webrepl'} & set(only) else None
        tools = ensure_tools(not cfg.no_install)
        if not tools.get('curl'):
            raise SystemExit('curl is needed')
        setup_s = time.monotonic() - T_START
        log('setup done in %.0f s; scenarios: %s; %d round(s), %s s per load run' % (
            setup_s, ', '.join(only), cfg.rounds, cfg.duration))
        results = {'meta': {'date': datetime.datetime.now().isoformat(timespec='seconds'),
                            'quick': cfg.quick, 'rounds': cfg.rounds, 'duration_s': cfg.duration,
                            'shapes': {'hello': [shape_name(x) for x in cfg.shapes],
                                       'static': [shape_name(x) for x in cfg.static_shapes]},
                            'versions': versions(tools), 'built_now': built,
                            'commit': subprocess.run(['git', '-C', str(REPO), 'rev-parse', 'HEAD'],
                                                     capture_output=True, text=True).stdout.strip(),
                            'tree_dirty': bool(subprocess.run(['git', '-C', str(REPO), 'status', '--porcelain',
                                                               '--', 'crates', 'python', 'Cargo.toml',
                                                               'Cargo.lock', 'pyproject.toml'],
                                                              capture_output=True, text=True).stdout.strip()),
                            'loadavg_before': os.getloadavg()},
                   'scenarios': {}}
        sc = results['scenarios']
        t_bench = time.monotonic()
        if {'hello', 'ceiling'} & set(only):
            sc.update(scenario_hello(cfg, tools, set(only), ceiling))
        if 'static' in only:
            sc['static_1k'], sc['static_100m'] = scenario_static(cfg, tools)
        if 'upload' in only:
            sc['upload_100m'] = scenario_upload(cfg, tools)
        if 'sse' in only:
            sc['sse'] = scenario_sse(cfg, tools)
        if 'memory' in only:
            sc['memory'] = scenario_memory(cfg, tools)
        if 'startup' in only:
            sc['startup'] = scenario_startup(cfg, tools)
        if 'isolation' in only:
            sc['isolation'] = scenario_isolation(cfg, tools)
        if 'many' in only:
            sc['many'] = scenario_many(cfg, tools)
        if 'micropython' in only:
            sc.update(scenario_micropython(cfg, tools, mp))
        if 'webrepl' in only:
            sc['webrepl'] = scenario_webrepl(cfg, tools, mp)
        results['meta']['setup_seconds'] = setup_s
        results['meta']['bench_seconds'] = time.monotonic() - t_bench
        results['meta']['loadavg_after'] = os.getloadavg()
        table = build_report(results)
        results['markdown'] = table
        path = OUT / 'results.json'
        path.write_text(json.dumps(results, indent=2))
        log('results: %s' % path)
        plot(path, OUT / 'results.png')
        print()
        print(table)
        print()
        log('done: setup %.0f s, scenarios %.0f s' % (setup_s, results['meta']['bench_seconds']))
    finally:
        stop_all()


if __name__ == '__main__':
    main()
