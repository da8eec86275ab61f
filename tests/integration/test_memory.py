"""Issue 9 case 8: the monitor's memory does not grow with what comes and
goes in a protected directory. Each file created there is reported and
watched, each one deleted reported and forgotten: the resident set after
tens of thousands of such cycles is the one after the first few
thousand (within 10 %). `make bench` runs the same for 100,000 cycles
(tests/bench/scale.sh)."""

import os
import subprocess
import time

import pytest

from test_monitor import Monitor, status

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="session")
def churn(tmp_path_factory):
    out = tmp_path_factory.mktemp("churn") / "churn"
    p = subprocess.run(["cc", "-O1", "-o", str(out),
                        os.path.join(HERE, "churn", "churn.c")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return str(out)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def settle(fim, m, name):
    """Wait until the monitor has read everything up to a new file
    `name` (directory events are read in order)."""
    path = fim.write(name, b"")
    m.wait_for(lambda e: e["event"]["action"] == "created" and
               e["file"]["path"] == path, f"created {name}", timeout=120)


def test_rss_flat_over_create_delete_cycles(fim, churn):
    fim.write("a.conf", b"alpha\n")
    fim.rule()
    fim.init()
    # under ASan, freed blocks wait in a quarantine of 256 MiB before
    # reuse: a growth that says nothing about the monitor. A small one
    # still catches a use after free of what was just freed.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                           ":quarantine_size_mb=4:thread_local_quarantine_size_kb=64"
                           ).lstrip(":")
    m = Monitor(fim, "audit", env=env)
    try:
        pid = status(fim)["pid"]
        subprocess.run([churn, fim.tree, "3000", "100"], check=True,
                       timeout=120)
        settle(fim, m, "warm")
        before, files = rss_kib(pid), status(fim)["files"]
        t = time.time()
        subprocess.run([churn, fim.tree, "30000", "100"], check=True,
                       timeout=300)
        settle(fim, m, "done")
        after = rss_kib(pid)
        created = [e for e in m.events()
                   if e["event"]["action"] == "created"]
        assert len(created) >= 30000, len(created)
        assert after <= before * 1.10, \
            f"RSS {before} KiB -> {after} KiB over 30,000 cycles " \
            f"({time.time() - t:.1f} s)"
        # what came and went is forgotten; "done" is watched
        assert status(fim)["files"] == files + 1
    finally:
        m.stop()
