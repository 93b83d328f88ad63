#!/usr/bin/env python3
"""HTTPS measured: uhttpd (rustls) beside nginx (OpenSSL), same certificate.

    python3 bench/tls.py [--rounds N] [--duration S] [--idle-conns N] [--no-install] [--no-build]

Uses bench/run.py's set-up (bench/out/venv with uhttpd built in release
mode, wrk, nginx, curl) and its load generator. The certificate is the one
`python -m uhttpd --tls` would make (ECDSA P-256), in bench/out/tls/. Each
round runs uhttpd, then nginx (2 workers), loopback only:

- download: a 100 MiB file over HTTPS, wrk -t2 -c4 (MiB/s; target >= 0.8x nginx);
- small: a 1 KiB file over HTTPS keep-alive, wrk -t2 -c64 (req/s);
- handshakes: new TLS connections per second, `openssl s_time -new`
  (one client, a full handshake each, no resumption);
- memory (uhttpd only): VmRSS per idle TLS keep-alive connection (each did
  one request), beside the same number of plain ones in the same run.

Writes bench/out/tls-results.json and prints a Markdown table.
"""
import argparse
import json
import re
import socket
import ssl
import statistics
import subprocess
import sys
import time

sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (run.py's helpers: set-up, servers, wrk)

TLS_DIR = bench.OUT / 'tls'
ROOT = bench.WWW


def certificate():
    """(certfile, keyfile) made by uhttpd's own self-signed path."""
    out = subprocess.run(
        [bench.VPY, '-c', 'import sys, uhttpd; print(*uhttpd.self_signed_certificate(sys.argv[1], "127.0.0.1"))',
         TLS_DIR], capture_output=True, text=True, check=True).stdout.split()
    return out[0], out[1]


def servers(tools, tls):
    return [
        ('uhttpd', lambda p: [bench.VPY, bench.APPS / 'files_uhttpd.py', p, ROOT, 'serve', *tls]),
        ('nginx', lambda p: bench.nginx_cmd(tools, p, ROOT, tls=tls)),
    ]


def handshakes_per_second(port, certfile, seconds):
    """`openssl s_time -new`: full handshakes per second from one client."""
    cmd = ['openssl', 's_time', '-connect', '%s:%d' % (bench.HOST, port), '-new', '-time', str(int(seconds)),
           '-CAfile', certfile]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    m = re.search(r'(\d+) connections in ([\d.]+)s', out)
    if not m:
        raise RuntimeError('openssl s_time gave no result:\n' + out[-500:])
    return int(m.group(1)) / float(m.group(2))


def idle_connections_rss(port, pid, n, context):
    """KiB of server RSS per idle keep-alive connection (TLS when `context`)."""
    request = b'GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
    socks = []
    before = bench.rss_kib(pid)
    try:
        for _ in range(n):
            s = socket.create_connection((bench.HOST, port), timeout=10)
            if context:
                s = context.wrap_socket(s, server_hostname='127.0.0.1')
            s.sendall(request)
            data = b''
            while len(data) < 1024 or b'\r\n\r\n' not in data:
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError('closed early')
                data += chunk
            socks.append(s)
        time.sleep(1.0)
        return (bench.rss_kib(pid) - before) / n
    finally:
        for s in socks:
            s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--rounds', type=int, default=3, help='rounds; the table shows medians')
    ap.add_argument('--duration', type=int, default=10, help='seconds per measured run')
    ap.add_argument('--idle-conns', type=int, default=1000, help='idle connections for the RSS measure')
    ap.add_argument('--no-install', action='store_true')
    ap.add_argument('--no-build', action='store_true')
    cfg = ap.parse_args()
    bench.LOGS.mkdir(parents=True, exist_ok=True)
    bench.ensure_venv(not cfg.no_install)
    if not cfg.no_build:
        bench.build_uhttpd()
    tools = bench.ensure_tools(not cfg.no_install)
    bench.make_file(ROOT / '1k.bin', 1024)
    bench.make_file(ROOT / '100m.bin', 100 * bench.MiB)
    tls = certificate()
    context = ssl.create_default_context(cafile=tls[0])
    bench.raise_nofile(2 * cfg.idle_conns + 1024)
    runs = {}
    try:
        for rnd in range(1, cfg.rounds + 1):
            for name, cmd in servers(tools, tls):
                port = bench.free_port()
                proc = bench.start_server('tls-' + name, cmd(port), port, ready_path='/1k.bin')
                try:
                    url = 'https://%s:%d/' % (bench.HOST, port)
                    bench.load(tools, url + '1k.bin', 64, 2)
                    r = runs.setdefault(name, {'download': [], 'small': [], 'handshakes': []})
                    big = bench.load(tools, url + '100m.bin', 4, cfg.duration, timeout=60)
                    small = bench.load(tools, url + '1k.bin', 64, cfg.duration)
                    shakes = handshakes_per_second(port, tls[0], cfg.duration)
                    r['download'].append(big['mib_s'])
                    r['small'].append(small['rps'])
                    r['handshakes'].append(shakes)
                    bench.log('tls round %d %-6s 100 MiB %6.0f MiB/s  1 KiB %7.0f req/s  %5.0f handshakes/s'
                              ' (errors %d/%d)' % (rnd, name, big['mib_s'], small['rps'], shakes,
                                                   big['errors'] + small['errors'], big['non2xx'] + small['non2xx']))
                finally:
                    proc.stop()
        port = bench.free_port()
        proc = bench.start_server('tls-mem', servers(tools, tls)[0][1](port), port, ready_path='/1k.bin')
        try:
            per_tls = idle_connections_rss(port, proc.pid, cfg.idle_conns, context)
        finally:
            proc.stop()
        port = bench.free_port()
        plain = [bench.VPY, bench.APPS / 'files_uhttpd.py', port, ROOT, 'serve']
        proc = bench.start_server('tls-mem-plain', plain, port, ready_path='/1k.bin')
        try:
            per_plain = idle_connections_rss(port, proc.pid, cfg.idle_conns, None)
        finally:
            proc.stop()
    finally:
        bench.stop_all()
    medians = {name: {k: statistics.median(v) for k, v in r.items()} for name, r in runs.items()}
    u, n = medians['uhttpd'], medians['nginx']
    results = {'rounds': cfg.rounds, 'duration_s': cfg.duration, 'runs': runs, 'medians': medians,
               'idle_conns': cfg.idle_conns, 'rss_kib_per_idle_tls_conn': per_tls,
               'rss_kib_per_idle_plain_conn': per_plain}
    (bench.OUT / 'tls-results.json').write_text(json.dumps(results, indent=2))
    rows = [('100 MiB download over HTTPS (wrk -t2 -c4)', 'MiB/s', 'download', '>= 0.8x'),
            ('1 KiB file over HTTPS (wrk -t2 -c64, keep-alive)', 'req/s', 'small', ''),
            ('new TLS connections (openssl s_time -new)', 'handshakes/s', 'handshakes', '')]
    print('| scenario | metric | uhttpd | nginx | uhttpd / nginx | target |')
    print('|---|---|---:|---:|---:|---|')
    for label, metric, key, target in rows:
        print('| %s | %s | %s | %s | %.2fx | %s |' % (label, metric, bench.fmt(u[key]), bench.fmt(n[key]),
                                                     u[key] / n[key], target))
    print()
    print('RSS per idle keep-alive connection (%d of them): TLS %.1f KiB, plain %.1f KiB' % (
        cfg.idle_conns, per_tls, per_plain))


if __name__ == '__main__':
    main()
