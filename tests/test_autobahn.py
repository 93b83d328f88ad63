"""The Autobahn fuzzingclient cases (run by the `kosoku` package, no Docker)
against the engine's WebSocket implementation (the `ws_echo` example)."""

import json
import os
import re
import shutil
import subprocess
import sys
import threading

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
PASSING = {"OK", "NON-STRICT", "INFORMATIONAL"}


def cargo():
    found = shutil.which("cargo")
    if found:
        return found
    home = os.path.expanduser("~/.cargo/bin/cargo")
    return home if os.path.exists(home) else None


def ws_echo_binary():
    """Builds the example (a no-op when it is up to date) and returns its path."""
    exe = cargo()
    if exe is not None:
        done = subprocess.run(
            [exe, "build", "-p", "uhttpd", "--example", "ws_echo"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout.decode("utf-8", "replace")[-3000:]
        path = os.path.join(TARGET, "debug", "examples", "ws_echo")
        assert os.path.exists(path), path
        return path
    for profile in ("release", "debug"):
        path = os.path.join(TARGET, profile, "examples", "ws_echo")
        if os.path.exists(path):
            return path
    raise AssertionError("no cargo and no prebuilt ws_echo example under %s" % TARGET)


def kosoku_command():
    script = os.path.join(os.path.dirname(sys.executable), "kosoku")
    if os.path.exists(script):
        return [script]
    return [sys.executable, "-c", "from kosoku._cli import main; main()"]


def test_autobahn_fuzzingclient(tmp_path):
    binary = ws_echo_binary()
    echo = subprocess.Popen(
        [binary, "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        first = [b""]
        t = threading.Thread(target=lambda: first.__setitem__(0, echo.stdout.readline()))
        t.start()
        t.join(15)
        m = re.search(rb"ws://127\.0\.0\.1:(\d+)/", first[0])
        assert m, "ws_echo did not start: %r" % first[0]
        port = int(m.group(1))

        outdir = tmp_path / "autobahn"
        run = subprocess.run(
            kosoku_command()
            + ["ws://127.0.0.1:%d" % port, "-x", "12.*", "-x", "13.*", "-p", "8", "-o", str(outdir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=240,
        )
        out = run.stdout.decode("utf-8", "replace")
        err = run.stderr.decode("utf-8", "replace")

        assert (outdir / "index.json").exists(), "kosoku wrote no report (exit %d)\n%s\n%s" % (
            run.returncode,
            out[-2000:],
            err[-2000:],
        )
        with open(outdir / "index.json") as f:
            index = json.load(f)
        cases = {cid: r for agent in index.values() for cid, r in agent.items()}
        failed = sorted(
            cid
            for cid, r in cases.items()
            if r.get("behavior") not in PASSING or r.get("behaviorClose") not in PASSING
        )
        passed = len(cases) - len(failed)
        print(
            "autobahn (12.*/13.* excluded): %d passed, %d failed%s"
            % (passed, len(failed), (": " + ", ".join(failed[:20])) if failed else "")
        )

        assert run.returncode == 0, "kosoku exit %d\n%s\n%s" % (run.returncode, out[-2000:], err[-2000:])
        assert not failed, failed
        m = re.search(r"(\d+) cases passed", out)
        assert m, out
        assert int(m.group(1)) >= 290, out
        assert passed >= 290
        assert not any(cid.startswith(("12.", "13.")) for cid in cases)
    finally:
        echo.kill()  # by its pid, only this process
        echo.wait(10)
