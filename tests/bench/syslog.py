#!/usr/bin/python3
"""tests/bench/syslog.py - from a violation to the event at a local
rsyslog over RELP: p50 and p99 over BENCH_WRITES writes (default 200).

A monitor in audit mode with `[syslog] url = relp://127.0.0.1:PORT`
(default batching: none, one acknowledged frame per alert) and a real
rsyslogd on loopback (tests/integration/rsyslogd.py: its own config,
work directory and port, under `timeout -s KILL`). Each write is made by
a child that prints the time just before it opens the file; the latency
is until the `modified` message is in rsyslog's output file. Goal: p99
at most 1 s. Run as root: python3 tests/bench/syslog.py"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from rsyslogd import Rsyslogd  # noqa: E402

FIMGUARD = os.environ.get("FIMGUARD", os.path.join(REPO, "fimguard"))
N = int(os.environ.get("BENCH_WRITES", "200"))
WRITER = ("import sys, time; print(time.time(), flush=True); "
          "f = open(sys.argv[1], 'a'); f.write(sys.argv[2]); f.close()")


def count(d):
    return sum(1 for m in d.messages() if m["msgid"] == "modified")


def main():
    base = tempfile.mkdtemp(prefix="fimguard-bench-syslog-")
    os.chmod(base, 0o755)
    d = mon = None
    try:
        tree = os.path.join(base, "tree")
        os.makedirs(os.path.join(base, "policy.d"))
        os.makedirs(tree)
        target = os.path.join(tree, "a.conf")
        with open(target, "w") as f:
            f.write("start\n")
        d = Rsyslogd(os.path.join(base, "rsyslog"), "relp")
        conf = os.path.join(base, "fimguard.conf")
        with open(conf, "w") as f:
            f.write(f"mode = audit\nevents = {base}/events.json\n"
                    f"[syslog]\nurl = relp://127.0.0.1:{d.port}\nactions = modified\n")
        with open(os.path.join(base, "policy.d", "b.rules"), "w") as f:
            f.write(f"[rule b]\npaths = {tree}/\nrecursive = yes\n")
        args = [FIMGUARD, "-c", conf, "-p", os.path.join(base, "policy.d"), "-s",
                os.path.join(base, "state")]
        subprocess.run(args + ["init"], check=True, capture_output=True, timeout=60)
        err = open(os.path.join(base, "monitor.err"), "wb")
        mon = subprocess.Popen(["timeout", "-s", "KILL", "600"] + args +
                               ["run", "--mode", "audit"], stdout=subprocess.DEVNULL,
                               stderr=err, start_new_session=True)
        deadline = time.time() + 20
        while b"monitoring" not in open(os.path.join(base, "monitor.err"), "rb").read():
            if time.time() > deadline or mon.poll() is not None:
                sys.exit("monitor did not start")
            time.sleep(0.05)
        lat = []
        for i in range(N):
            p = subprocess.run([sys.executable, "-c", WRITER, target, f"w{i}\n"],
                               capture_output=True, text=True, timeout=30, check=True)
            t0 = float(p.stdout.split()[0])
            deadline = time.time() + 30
            while count(d) < i + 1:
                if time.time() > deadline:
                    sys.exit(f"write {i}: no event at rsyslog within 30 s")
                time.sleep(0.001)
            lat.append(time.time() - t0)
        lat.sort()
        p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(f"violation -> rsyslog over RELP ({N} writes): p50 {p50 * 1000:.1f} ms, "
              f"p99 {p99 * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms "
              f"(goal p99 <= 1000 ms: {'met' if p99 <= 1.0 else 'MISSED'})")
        return 0 if p99 <= 1.0 or not os.environ.get("BENCH_STRICT") else 1
    finally:
        if mon is not None and mon.poll() is None:
            mon.send_signal(signal.SIGTERM)
            try:
                mon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(mon.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if d is not None:
            d.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
