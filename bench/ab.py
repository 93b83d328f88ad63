"""Two builds of uhttpd side by side: before/after a change, same machine,
same run, rounds alternating which goes first, so drifting load on a shared
machine falls on both. Loopback only; every load run is bounded by -d.

    python3 bench/ab.py --a OLD_VENV/bin/python --b NEW_VENV/bin/python \
        [--rounds 3] [--duration 10] [--only hello,static]

Each python must import its own uhttpd (e.g. `pip install --no-deps <tree>`
into a venv per build). Prints, per scenario and load shape (wrk -t2 -c64 and
-t1 -c16), the median req/s and server CPU time per request (user + system of
the server process, the steadier number on a busy machine) of each build,
and the ratios b / a.
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
APPS = {
    'hello': lambda port, www: [str(HERE / 'apps' / 'hello_uhttpd.py'), str(port)],
    'static': lambda port, www: [str(HERE / 'apps' / 'files_uhttpd.py'), str(port), www, 'serve'],
}
PATHS = {'hello': '/', 'static': '/1k.bin'}
SHAPES = [(2, 64), (1, 16)]


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start(python, scenario, www):
    port = free_port()
    proc = subprocess.Popen([python] + APPS[scenario](port, www), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    line = proc.stdout.readline()
    if not line.startswith('ready'):
        proc.kill()
        raise SystemExit('%s did not start: %r' % (python, line))
    url = 'http://127.0.0.1:%d%s' % (port, PATHS[scenario])
    urllib.request.urlopen(url, timeout=5).read()
    return proc, url


def cpu_seconds(pid):
    """User + system CPU time of process `pid` (all its threads) so far."""
    fields = Path('/proc/%d/stat' % pid).read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def wrk(url, threads, conns, duration):
    out = subprocess.run(['wrk', '-t%d' % threads, '-c%d' % conns, '-d%ds' % duration, url],
                         capture_output=True, text=True, timeout=duration + 30).stdout
    m = re.search(r'Requests/sec:\s+([\d.]+)', out)
    return float(m.group(1)) if m else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--a', required=True, help='python of the "before" build')
    ap.add_argument('--b', required=True, help='python of the "after" build')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--duration', type=int, default=10)
    ap.add_argument('--only', default='hello,static')
    args = ap.parse_args()
    www = tempfile.mkdtemp(prefix='uhttpd-ab-')
    Path(www, '1k.bin').write_bytes(os.urandom(1024))
    results = {}
    for scenario in args.only.split(','):
        for r in range(args.rounds):
            order = [('a', args.a), ('b', args.b)]
            if r % 2:
                order.reverse()
            for name, python in order:
                proc, url = start(python, scenario, www)
                try:
                    wrk(url, 2, 64, 2)  # warm-up
                    for threads, conns in SHAPES:
                        cpu = cpu_seconds(proc.pid)
                        rps = wrk(url, threads, conns, args.duration)
                        us = (cpu_seconds(proc.pid) - cpu) / max(rps * args.duration, 1) * 1e6
                        results.setdefault((scenario, threads, conns, name), []).append((rps, us))
                        print('%s round %d %s -t%d -c%d %10.0f req/s %6.1f us CPU/req'
                              % (scenario, r + 1, name, threads, conns, rps, us), flush=True)
                finally:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(10)
                time.sleep(1)
    print('\n| scenario | load | a req/s | b req/s | b / a | a CPU us/req | b CPU us/req | b / a |')
    print('|---|---|---:|---:|---:|---:|---:|---:|')
    for scenario in args.only.split(','):
        for threads, conns in SHAPES:
            med = {n: [statistics.median(v) for v in zip(*results[(scenario, threads, conns, n)])]
                   for n in 'ab'}
            (a_rps, a_us), (b_rps, b_us) = med['a'], med['b']
            print('| %s | wrk -t%d -c%d | %.0f | %.0f | %.3f | %.1f | %.1f | %.3f |'
                  % (scenario, threads, conns, a_rps, b_rps, b_rps / a_rps, a_us, b_us, b_us / a_us))
    return 0


if __name__ == '__main__':
    sys.exit(main())
