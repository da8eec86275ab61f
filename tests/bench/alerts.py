#!/usr/bin/python3
"""tests/bench/alerts.py - from a violation to its alert at a local
receiver: p50 and p99 over BENCH_WRITES writes (default 200), for
  mail:   accepted (250) by a local SMTP server (aiosmtpd with STARTTLS
          and AUTH, tests/integration/mail_double.py), `rate = 100000` so
          that the per-minute digest does not hold alerts back;
  syslog: received by a local rsyslogd over RELP (rsyslogd.py: its own
          config, work directory and port, under `timeout -s KILL`),
          default settings: one acknowledged frame per alert.
A monitor in audit mode per sink. Each write is made by a child that
prints the time just before it opens the file; the latency is until the
receiver has the `modified` alert. Goal: p99 at most 1 s.
Run as root: python3 tests/bench/alerts.py"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from mail_double import SmtpDouble, make_pki  # noqa: E402
from rsyslogd import Rsyslogd  # noqa: E402

FIMGUARD = os.environ.get("FIMGUARD", os.path.join(REPO, "fimguard"))
N = int(os.environ.get("BENCH_WRITES", "200"))
WRITER = ("import sys, time; print(time.time(), flush=True); "
          "f = open(sys.argv[1], 'a'); f.write(sys.argv[2]); f.close()")


class Syslog:
    name = "syslog over RELP"

    def __init__(self, base):
        self.d = Rsyslogd(os.path.join(base, "rsyslog"), "relp")
        self.conf = f"[syslog]\nurl = relp://127.0.0.1:{self.d.port}\nactions = modified\n"

    def count(self):
        return sum(1 for m in self.d.messages() if m["msgid"] == "modified")

    def stop(self):
        self.d.stop()


class Mail:
    name = "mail (STARTTLS, AUTH)"

    def __init__(self, base):
        pki = make_pki(os.path.join(base, "pki"))
        self.d = SmtpDouble(pki, mode="starttls", users={"fimguard": "s3cret"})
        self.d.start()
        pw = os.path.join(base, "smtp-password")
        with open(pw, "w") as f:
            f.write("s3cret\n")
        self.conf = (f"[smtp]\nurl = {self.d.url}\nstarttls = required\n"
                     "from = fimguard@bench.example\nto = secops@example.com\n"
                     f"user = fimguard\npassword_file = {pw}\nca_file = {pki['ca']}\n"
                     "actions = modified\nrate = 100000\n")

    def count(self):
        return len(self.d.messages)

    def stop(self):
        self.d.stop()


def main():
    rc = 0
    for sink in (Mail, Syslog):
        rc |= bench(sink)
    return rc


def bench(sink):
    base = tempfile.mkdtemp(prefix="fimguard-bench-alerts-")
    os.chmod(base, 0o755)
    d = mon = None
    try:
        tree = os.path.join(base, "tree")
        os.makedirs(os.path.join(base, "policy.d"))
        os.makedirs(tree)
        target = os.path.join(tree, "a.conf")
        with open(target, "w") as f:
            f.write("start\n")
        d = sink(base)
        conf = os.path.join(base, "fimguard.conf")
        with open(conf, "w") as f:
            f.write(f"mode = audit\nevents = {base}/events.json\n{d.conf}")
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
            while d.count() < i + 1:
                if time.time() > deadline:
                    sys.exit(f"{d.name}: write {i}: no alert within 30 s")
                time.sleep(0.001)
            lat.append(time.time() - t0)
        lat.sort()
        p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(f"violation -> {d.name} ({N} writes): p50 {p50 * 1000:.1f} ms, "
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
