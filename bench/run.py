#!/usr/bin/env python3
"""uhttpd benchmark suite: one command, loopback only.

    python3 bench/run.py [--quick] [--rounds N] [--duration S] [--only a,b] [--no-install] [--no-build]

Sets up bench/out/venv (peers from PyPI, a release build of this repository's
uhttpd), installs wrk and nginx with apt-get and dufs with cargo when they are
missing, runs the scenarios (hello, static, upload, sse, memory, startup) with
uhttpd and each peer in turns, and writes bench/out/results.json,
bench/out/results.png and a Markdown table (also printed). See bench/README.md.
"""
import argparse
import datetime
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


def scenario_hello(cfg, tools):
    """a. Python callback answering `Hello World`, wrk -t2 -c64."""
    res = {'metric': 'req/s', 'load': 'wrk -t2 -c%d -d%ss /' % (cfg.conns, cfg.duration), 'servers': {}}
    servers = hello_servers()
    for rnd in range(1, cfg.rounds + 1):
        for name, cmd in servers:
            entry = res['servers'].setdefault(name, {'runs': []})
            if entry.get('error'):
                continue
            port = free_port()
            try:
                proc = start_server('hello-' + name, cmd(port), port, cwd=APPS)
            except RuntimeError as e:
                log('hello %s: %s' % (name, e))
                entry['error'] = str(e).splitlines()[0]
                continue
            try:
                status, body = http_get(port, '/')
                if status != 200 or body != b'Hello World':
                    raise RuntimeError('bad reply %s %r' % (status, body[:100]))
                load(tools, 'http://%s:%d/' % (HOST, port), cfg.conns, cfg.warmup)
                r = measured_load(proc, tools, 'http://%s:%d/' % (HOST, port), cfg.conns, cfg.duration)
                entry['runs'].append(r)
                log('hello round %d %-18s %9.0f req/s  p99 %6.2f ms  server CPU %5.1f us/req  errors %d non2xx %d' % (
                    rnd, name, r['rps'], r['p99_ms'] or -1, r['server_cpu_us_per_req'] or -1,
                    r['errors'], r['non2xx']))
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                log('hello %s failed: %s' % (name, e))
                entry['error'] = str(e).splitlines()[0]
            finally:
                proc.stop()
    for entry in res['servers'].values():
        entry['median'] = summarize(entry['runs'], 'rps')
    return res


def static_servers(tools, root):
    out = [('uhttpd', lambda p: [VPY, APPS / 'files_uhttpd.py', p, root, 'serve'])]
    if tools.get('nginx'):
        out.append(('nginx', lambda p: nginx_cmd(tools, p, root)))
    if tools.get('dufs'):
        out.append(('dufs', lambda p: dufs_cmd(tools, p, root)))
    return out


def scenario_static(cfg, tools):
    """b. 1 KiB file (req/s, wrk -c64) and 100 MiB file (MiB/s, wrk -c4) from disk (page cache)."""
    make_file(WWW / '1k.bin', 1024)
    make_file(WWW / '100m.bin', 100 * MiB)
    small = {'metric': 'req/s', 'load': 'wrk -t2 -c%d -d%ss /1k.bin' % (cfg.conns, cfg.duration), 'servers': {}}
    big = {'metric': 'MiB/s', 'load': 'wrk -t2 -c4 -d%ss /100m.bin' % cfg.duration, 'servers': {}}
    expect_1k = (WWW / '1k.bin').read_bytes()
    for rnd in range(1, cfg.rounds + 1):
        for name, cmd in static_servers(tools, WWW):
            e1 = small['servers'].setdefault(name, {'runs': []})
            e2 = big['servers'].setdefault(name, {'runs': []})
            if e1.get('error'):
                continue
            port = free_port()
            try:
                proc = start_server('static-' + name, cmd(port), port, ready_path='/1k.bin')
            except RuntimeError as e:
                log('static %s: %s' % (name, e))
                e1['error'] = e2['error'] = str(e).splitlines()[0]
                continue
            try:
                status, body = http_get(port, '/1k.bin')
                if status != 200 or body != expect_1k:
                    raise RuntimeError('bad 1k reply %s (%d bytes)' % (status, len(body)))
                if rnd == 1:
                    status, body = http_get(port, '/100m.bin', timeout=60)
                    if status != 200 or len(body) != 100 * MiB:
                        raise RuntimeError('bad 100m reply %s (%d bytes)' % (status, len(body)))
                    del body
                url = 'http://%s:%d/' % (HOST, port)
                load(tools, url + '1k.bin', cfg.conns, cfg.warmup)
                r = measured_load(proc, tools, url + '1k.bin', cfg.conns, cfg.duration)
                e1['runs'].append(r)
                r2 = measured_load(proc, tools, url + '100m.bin', 4, cfg.duration, timeout=60)
                r2['server_cpu_s_per_gib'] = r2['server_cpu_s'] / (r2['mib_s'] * cfg.duration / 1024) \
                    if r2.get('mib_s') else None
                e2['runs'].append(r2)
                log('static round %d %-8s 1k %9.0f req/s (p99 %.2f ms, CPU %.1f us/req, err %d/%d)  '
                    '100m %6.0f MiB/s (CPU %.2f s/GiB, err %d/%d)' % (
                        rnd, name, r['rps'], r['p99_ms'] or -1, r['server_cpu_us_per_req'] or -1,
                        r['errors'], r['non2xx'], r2['mib_s'], r2['server_cpu_s_per_gib'] or -1,
                        r2['errors'], r2['non2xx']))
            except (RuntimeError, OSError, subprocess.TimeoutExpired, http.client.HTTPException) as e:
                log('static %s failed: %s' % (name, e))
                e1['error'] = e2['error'] = str(e).splitlines()[0]
            finally:
                proc.stop()
    for entry in small['servers'].values():
        entry['median'] = summarize(entry['runs'], 'rps')
    for entry in big['servers'].values():
        entry['median'] = summarize(entry['runs'], 'mib_s')
    return small, big


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
    res = {'metric': 'MiB/s', 'load': '%d sequential `curl -T` PUTs of 100 MiB' % n, 'servers': {}}
    updir = OUT / 'upload'
    servers = [('uhttpd', lambda p: [VPY, APPS / 'files_uhttpd.py', p, updir, 'receive'], '/up/')]
    if tools.get('dufs'):
        servers.append(('dufs', lambda p: dufs_cmd(tools, p, updir, upload=True), '/'))
    for rnd in range(1, cfg.rounds + 1):
        for name, cmd, prefix in servers:
            entry = res['servers'].setdefault(name, {'runs': []})
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
    for entry in res['servers'].values():
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


# --------------------------------------------------------------------------- report

def fmt(x, unit=''):
    if x is None:
        return 'n/a'
    if abs(x) >= 100:
        s = '{:,.0f}'.format(x)
    elif abs(x) >= 10:
        s = '%.1f' % x
    else:
        s = '%.2f' % x
    return s + (' ' + unit if unit else '')


def build_report(results):
    sc = results['scenarios']
    comps = []
    targets = {('hello', 'granian-wsgi'): 1.0, ('static_1k', 'nginx'): 1.0,
               ('static_100m', 'nginx'): 0.9, ('upload_100m', 'dufs'): 1.0}
    titles = {'hello': 'Python callback, Hello World', 'static_1k': '1 KiB static file',
              'static_100m': '100 MiB static file', 'upload_100m': '100 MiB upload (PUT)'}
    for key in ('hello', 'static_1k', 'static_100m', 'upload_100m'):
        s = sc.get(key)
        if not s:
            continue
        u = s['servers'].get('uhttpd', {}).get('median')
        for peer, e in s['servers'].items():
            if peer == 'uhttpd':
                continue
            p = e.get('median')
            ratio = u / p if u and p else None
            t = targets.get((key, peer))
            comps.append({'scenario': key, 'title': titles[key], 'metric': s['metric'], 'peer': peer,
                          'uhttpd': u, 'peer_value': p, 'ratio': ratio, 'target': t,
                          'met': (ratio >= t) if (t and ratio) else None,
                          'error': e.get('error') or s['servers'].get('uhttpd', {}).get('error')})
    absolute = []
    if 'sse' in sc:
        v = sc['sse'].get('median')
        absolute.append({'name': '%d-client SSE fan-out' % sc['sse'].get('clients', 0), 'value': v,
                         'unit': 'deliveries/s', 'target': 200000, 'better': 'higher',
                         'met': v is not None and v >= 200000 and sc['sse'].get('complete', False)})
    if 'memory' in sc:
        m = sc['memory']
        v = m.get('per_conn_kib')
        absolute.append({'name': 'RSS per idle keep-alive connection', 'value': v, 'unit': 'KiB',
                         'target': 8, 'better': 'lower', 'met': v is not None and v <= 8})
        absolute.append({'name': 'idle server RSS', 'value': (m.get('idle_rss_kib') or 0) / 1024 or None,
                         'unit': 'MiB', 'target': None, 'better': 'lower', 'met': None})
        for kind in ('download', 'upload'):
            v = m.get(kind, {}).get('growth_mib')
            absolute.append({'name': 'RSS growth, 1 GiB %s' % kind, 'value': v, 'unit': 'MiB',
                             'target': 32, 'better': 'lower', 'met': v is not None and v < 32})
    if 'startup' in sc:
        absolute.append({'name': 'start-up to first answered request', 'value': sc['startup'].get('median_ms'),
                         'unit': 'ms', 'target': None, 'better': 'lower', 'met': None})
    results['comparisons'] = comps
    results['absolute'] = absolute

    lines = ['| scenario | metric | uhttpd | peer | peer value | uhttpd / peer | target |',
             '|---|---|---:|---|---:|---:|---|']
    for c in comps:
        tgt = ('≥ %.1f× %s' % (c['target'], 'yes' if c['met'] else 'NO')) if c['target'] else ''
        peer = c['peer'] + (' (error: %s)' % c['error'] if c['error'] and c['ratio'] is None else '')
        lines.append('| %s | %s | %s | %s | %s | %s | %s |' % (
            c['title'], c['metric'], fmt(c['uhttpd']), peer, fmt(c['peer_value']),
            ('%.2f×' % c['ratio']) if c['ratio'] else 'n/a', tgt))
    lines += ['', '| uhttpd measure | value | target |', '|---|---:|---|']
    for a in absolute:
        if a['target'] is None:
            tgt = ''
        else:
            tgt = '%s %s %s' % ('≥' if a['better'] == 'higher' else ('≤' if 'idle' in a['name'] else '<'),
                                fmt(a['target'], a['unit']), 'yes' if a['met'] else 'NO')
        lines.append('| %s | %s | %s |' % (a['name'], fmt(a['value'], a['unit']), tgt))
    return '\n'.join(lines)


def plot(results_path, png_path):
    r = subprocess.run([str(VPY), str(BENCH / 'plot.py'), str(results_path), str(png_path)],
                       capture_output=True, text=True)
    if r.returncode:
        log('plot failed: %s' % r.stderr.strip()[-1000:])
    else:
        log('plot: %s' % png_path)


# --------------------------------------------------------------------------- main

SCENARIOS = ['hello', 'static', 'upload', 'sse', 'memory', 'startup']


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--quick', action='store_true', help='1 round of 2 s each (CI smoke run)')
    ap.add_argument('--rounds', type=int, help='rounds per scenario (default 3; --quick 1)')
    ap.add_argument('--duration', type=float, help='seconds per wrk run (default 10; --quick 2)')
    ap.add_argument('--conns', type=int, default=64, help='wrk connections for small replies (64)')
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
        tools = ensure_tools(not cfg.no_install)
        if not tools.get('curl'):
            raise SystemExit('curl is needed')
        setup_s = time.monotonic() - T_START
        log('setup done in %.0f s; scenarios: %s; %d round(s), %s s per load run' % (
            setup_s, ', '.join(only), cfg.rounds, cfg.duration))
        results = {'meta': {'date': datetime.datetime.now().isoformat(timespec='seconds'),
                            'quick': cfg.quick, 'rounds': cfg.rounds, 'duration_s': cfg.duration,
                            'conns': cfg.conns, 'versions': versions(tools), 'built_now': built,
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
        if 'hello' in only:
            sc['hello'] = scenario_hello(cfg, tools)
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
