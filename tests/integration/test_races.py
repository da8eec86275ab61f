"""Real races, made deterministic with an LD_PRELOAD shim (faults/faults.c):
a file that vanishes between the walk and the read, and a file that grows
while it is being hashed."""

import json
import os
import subprocess

import pytest

from conftest import one_event_for, sha256_bytes

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="session")
def shim(tmp_path_factory):
    out = tmp_path_factory.mktemp("faults") / "faults.so"
    p = subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(out),
                        os.path.join(HERE, "faults", "faults.c"), "-ldl"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return str(out)


def _env(shim, **faults):
    env = dict(os.environ)
    env["LD_PRELOAD"] = shim
    # Under the ASan build the shim comes before ASan's runtime.
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                           ":verify_asan_link_order=0").lstrip(":")
    env.update(faults)
    return env


@pytest.fixture
def tree(fim):
    fim.write("stable", b"stable\n")
    fim.write("victim", b"victim\n")
    fim.write("growing", b"0123456789\n")
    fim.rule()
    fim.init()
    return fim


def test_vanish_between_walk_and_read_at_check(tree, shim):
    fim = tree
    p = fim.run("check", "--json", expect=1,
                env=_env(shim, FAULT_VANISH=fim.t("victim")))
    assert not os.path.exists(fim.t("victim"))
    evs = [json.loads(line) for line in p.stdout.splitlines()]
    assert [e["event"]["action"] for e in evs] == ["deleted"], evs
    assert evs[0]["file"]["path"] == fim.t("victim")


def test_vanish_between_walk_and_read_at_init(fim, shim):
    fim.write("stable", b"stable\n")
    fim.write("victim", b"victim\n")
    fim.rule()
    fim.run("init", expect=0, env=_env(shim, FAULT_VANISH=fim.t("victim")))
    assert fsb_in(fim, "stable") and not fsb_in(fim, "victim")
    fim.check(expect=0)


def fsb_in(fim, rel):
    return os.fsencode(fim.t(rel)) in fim.entries()


def test_grows_once_while_hashed_is_reread(fim, shim):
    """One append during the first read: the read is retried and the
    baseline holds the content as it finally is."""
    fim.write("growing", b"0123456789\n")
    fim.rule()
    fim.run("init", expect=0, env=_env(shim, FAULT_GROW=fim.t("growing"),
                                       FAULT_GROW_TIMES="1"))
    with open(fim.t("growing"), "rb") as f:
        data = f.read()
    assert data == b"0123456789\n+"
    e = fim.entry(fim.t("growing"))
    assert e["sha256"] == sha256_bytes(data) and e["size"] == len(data)
    assert "error" not in e
    fim.check(expect=0)


def test_keeps_growing_is_reported_not_hashed(tree, shim):
    """A file that changes on every read is reported as unverifiable,
    never given a hash of bytes that were never on disk at once."""
    fim = tree
    p = fim.run("check", "--json", expect=1,
                env=_env(shim, FAULT_GROW=fim.t("growing"),
                         FAULT_GROW_TIMES="50"))
    evs = [json.loads(line) for line in p.stdout.splitlines()]
    ev = one_event_for(evs, fim.t("growing"), "scan-failed")
    assert "changing" in ev["fimguard"]["error"]
    assert ev["event"]["outcome"] == "failure"
