"""Issue 9 case 1: what changed while no monitor was running. At every
start and every reload, before it says it is monitoring, the monitor
compares the tree with the baseline (check's engine), reports each
difference with `fimguard.phase: startup`, and in enforce mode with
`restore = yes` puts the trusted state back. `init --if-missing` (the
service's first start) never builds a new baseline over a state
directory that had one."""

import os
import signal
import subprocess
import time

import pytest

from conftest import sha256_bytes
from test_monitor import Monitor, by, content, status, try_open

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="session")
def shim(tmp_path_factory):
    out = tmp_path_factory.mktemp("faults") / "faults.so"
    p = subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(out),
                        os.path.join(HERE, "faults", "faults.c"), "-ldl"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return str(out)


def tree_with_baseline(fim, **rule):
    for name in ("a.conf", "b.conf", "c.conf", "d.conf"):
        fim.write(name, f"{name} trusted\n".encode(), mode=0o640)
    fim.rule(**rule)
    fim.init()


def change_while_stopped(fim):
    """What an intruder (or a package upgrade) does while no monitor
    runs: one file modified, one deleted, one chmod'ed, one added."""
    with open(fim.t("a.conf"), "ab") as f:
        f.write(b"PermitRootLogin yes\n")
    os.unlink(fim.t("b.conf"))
    os.chmod(fim.t("c.conf"), 0o666)
    fim.write("evil.conf", b"dropped\n")


def startup(events):
    return sorted((e["event"]["action"], os.path.basename(e["file"]["path"]),
                   e["fimguard"].get("cause"))
                  for e in events if e["fimguard"].get("phase") == "startup")


def test_changes_while_stopped_are_restored_before_ready(fim):
    tree_with_baseline(fim, restore="yes", diff="yes")
    change_while_stopped(fim)
    m = Monitor(fim, "enforce")    # returns once it says "monitoring"
    try:
        evs = m.events()           # all there before it said so
        assert startup(evs) == [
            ("attributes-changed", "c.conf", None),
            ("created", "evil.conf", None),
            ("deleted", "b.conf", None),
            ("modified", "a.conf", None),
            # new_files = quarantine, the default here: as a live one
            ("quarantined", "evil.conf", "created"),
            ("restored", "a.conf", "modified"),
            ("restored", "b.conf", "deleted"),
            ("restored", "c.conf", "attributes-changed"),
        ], evs
        q = [e for e in evs if by("quarantined", fim.t("evil.conf"))(e)][0]
        assert "process" not in q       # nobody is known
        assert not os.path.lexists(fim.t("evil.conf"))
        with open(q["fimguard"]["quarantine"]["path"]) as f:
            assert f.read() == "dropped\n"
        mod = [e for e in evs if by("modified", fim.t("a.conf"))(e)][0]
        assert mod["file"]["hash"]["sha256"] == sha256_bytes(
            b"a.conf trusted\nPermitRootLogin yes\n")
        assert mod["fimguard"]["baseline"]["sha256"] == sha256_bytes(
            b"a.conf trusted\n")
        assert "+PermitRootLogin yes" in mod["fimguard"]["diff"]
        assert "process" not in mod     # nobody is known
        assert mod["fimguard"]["mode"] == "enforce"
        for name in ("a.conf", "b.conf"):
            assert content(fim.t(name)) == f"{name} trusted\n"
        assert os.stat(fim.t("c.conf")).st_mode & 0o7777 == 0o640
        # the trusted state is what is protected now, not the changed
        # one (which an administrator could no longer have fixed)
        for name in ("a.conf", "b.conf", "c.conf"):
            assert try_open(fim.t(name), "append") == 13, name
        st = status(fim)
        assert st["last_reconciliation_changes"] == 4
        assert abs(st["last_reconciliation"] - time.time()) < 60
    finally:
        m.stop()
    fim.run("check", expect=0)     # the new file is in the quarantine


def test_changes_while_stopped_are_reported_in_audit(fim):
    tree_with_baseline(fim, restore="yes")
    change_while_stopped(fim)
    m = Monitor(fim, "audit")
    try:
        assert startup(m.events()) == [
            ("attributes-changed", "c.conf", None),
            ("created", "evil.conf", None),
            ("deleted", "b.conf", None),
            ("modified", "a.conf", None),
        ]
        assert not os.path.exists(fim.t("b.conf"))     # nothing undone
        # the changed file is still watched: a write is reported
        assert try_open(fim.t("a.conf"), "append") == 0
        m.wait_for(by("write-allowed", fim.t("a.conf")), "write-allowed")
    finally:
        m.stop()


def test_a_clean_start_reports_nothing(fim):
    tree_with_baseline(fim, restore="yes")
    m = Monitor(fim, "enforce")
    try:
        assert startup(m.events()) == []
        assert status(fim)["last_reconciliation_changes"] == 0
    finally:
        m.stop()


def test_reload_reconciles_again(fim):
    """A reload compares again: what still differs from the baseline is
    reported again, with the phase."""
    tree_with_baseline(fim)
    m = Monitor(fim, "audit")
    try:
        assert try_open(fim.t("d.conf"), "append") == 0
        m.wait_for(by("modified", fim.t("d.conf")), "modified")
        assert startup(m.events()) == []
        os.kill(status(fim)["pid"], signal.SIGHUP)
        ev = m.wait_for(lambda e: by("modified", fim.t("d.conf"))(e) and
                        e["fimguard"].get("phase") == "startup",
                        "startup modified")[0]
        assert ev["file"]["hash"]["sha256"] == sha256_bytes(
            b"d.conf trusted\nEVIL\n")
        deadline = time.time() + 10
        while time.time() < deadline and status(fim)["reloads"] < 1:
            time.sleep(0.05)
        assert status(fim)["last_reconciliation_changes"] == 1
    finally:
        m.stop()


def test_change_between_scan_and_marks_is_caught(fim, shim):
    """A write after the start-up scan read a file and before the file
    is marked (the shim appends just before its first fanotify_mark):
    the file's stat after its marks differs from the scanned one, so the
    worker confirms it first thing and restores it."""
    tree_with_baseline(fim, restore="yes")
    env = dict(os.environ, LD_PRELOAD=shim,
               FAULT_WRITE_MARK=fim.t("a.conf"),
               ASAN_OPTIONS="verify_asan_link_order=0")
    m = Monitor(fim, "enforce", env=env)
    try:
        assert startup(m.events()) == []    # the scan saw it trusted
        mod = m.wait_for(by("modified", fim.t("a.conf")), "modified")[0]
        assert mod["file"]["hash"]["sha256"] == sha256_bytes(
            b"a.conf trusted\n+")
        m.wait_for(by("restored", fim.t("a.conf")), "restored")
        assert content(fim.t("a.conf")) == "a.conf trusted\n"
    finally:
        m.stop()


# ---- init --if-missing: never a silent new baseline ----

@pytest.mark.parametrize("left", ["history.jsonl", "hmac.key", "vault"])
def test_init_if_missing_refuses_where_a_baseline_was(fim, left):
    fim.write("a.conf", b"a\n")
    fim.rule(diff="yes")
    fim.init()
    fim.write("a.conf", b"b\n")
    fim.run("approve", "--all", "--reason", "history", expect=0)
    # the baseline gone, and all but one sign that there was one
    os.unlink(fim.baseline_file)
    if left != "history.jsonl":
        os.unlink(fim.history_file)
    if left != "vault":
        subprocess.run(["rm", "-rf", os.path.join(fim.state, "vault")],
                       check=True)
    if left != "hmac.key":
        for k in ("hmac.key", "xxh.key"):
            os.unlink(os.path.join(fim.state, k))
    before = sorted(os.listdir(fim.state))
    p = fim.run("init", "--if-missing", expect=3)
    assert left in p.stderr and "baseline.json" in p.stderr, p.stderr
    assert "fimguard init" in p.stderr      # what to do instead
    assert not os.path.exists(fim.baseline_file)
    assert sorted(os.listdir(fim.state)) == before
    fim.run("init", expect=0)               # asked for: done


def test_init_if_missing_builds_in_an_empty_state(fim):
    fim.write("a.conf", b"a\n")
    fim.rule()
    os.mkdir(fim.state, 0o700)
    fim.run("init", "--if-missing", expect=0)
    assert os.path.exists(fim.baseline_file)
