"""Issue 9 case 7: the state and policy directories are protected like a
rule's directories (rule fimguard-self, critical): renaming the baseline
away or over it, new files in either directory, attribute changes of
fimguard's files, renaming the policy directory itself are reported.
fimguard's own bookkeeping (init, approve) is not. A reload says what
the new policy changes: one policy-changed event per rule added,
removed, or whose mode, paths, writers or restore changed."""

import os
import shutil
import signal
import time

from conftest import SEVERITY_NUM
from test_monitor import Monitor, by, replace_file, status, try_open


def started(fim, mode="audit", **rule):
    fim.write("a.conf", b"alpha\n")
    fim.write("b.conf", b"bravo\n")
    fim.rule(**rule)
    fim.init()
    return Monitor(fim, mode)


def self_event(m, action, path, timeout=10):
    ev = m.wait_for(by(action, path), f"{action} {path}", timeout)[0]
    assert ev["rule"]["name"] == "fimguard-self", ev
    assert ev["event"]["severity"] == SEVERITY_NUM["critical"], ev
    assert ev["fimguard"]["severity"] == "critical"
    return ev


def own_events(fim, m):
    return [(e["event"]["action"], e["file"]["path"]) for e in m.events()
            if e["file"]["path"].startswith((fim.state + "/",
                                             fim.policy + "/"))]


def test_baseline_renamed_away_is_reported(fim):
    m = started(fim)
    try:
        away = os.path.join(fim.state, "old-baseline")
        os.rename(fim.baseline_file, away)
        ev = self_event(m, "renamed", away)
        assert ev["fimguard"]["previous"]["path"] == fim.baseline_file
        assert ev["process"]["pid"] > 0
    finally:
        m.stop()


def test_baseline_renamed_over_is_reported_unless_a_newer_valid_one(fim):
    m = started(fim)
    try:
        older = os.path.join(fim.outside, "older.json")
        shutil.copy(fim.baseline_file, older)
        fim.write("a.conf", b"approved\n")
        fim.run("approve", "--all", "--reason", "r", expect=0)
        deadline = time.time() + 15
        while time.time() < deadline and status(fim)["reloads"] < 1:
            time.sleep(0.05)
        assert own_events(fim, m) == []     # approve's own doing
        # an older baseline, valid under the key, put back: a rollback
        os.rename(older, fim.baseline_file)
        self_event(m, "renamed", fim.baseline_file)
        # and something that does not verify at all
        junk = os.path.join(fim.state, "junk")
        with open(junk, "w") as f:
            f.write("{}\n")
        self_event(m, "created", junk)
        os.rename(junk, fim.baseline_file)
        m.wait_for(lambda e: by("renamed", fim.baseline_file)(e) and
                   e["fimguard"].get("previous", {}).get("path") == junk,
                   "junk over")
    finally:
        m.stop()


def test_new_files_in_state_and_policy_directories(fim):
    m = started(fim, "audit")
    try:
        evil = os.path.join(fim.state, "evil")
        with open(evil, "w") as f:
            f.write("x\n")
        self_event(m, "created", evil)
        rules = os.path.join(fim.policy, "00-x.rules")
        with open(rules, "w") as f:
            f.write(f"[rule x]\npaths = {fim.tree}/\nmode = audit\n")
        self_event(m, "created", rules)
        # watched from then on, in every mode
        assert try_open(rules, "append") == 13
        m.wait_for(lambda e: by("write-denied", rules)(e) and
                   e["fimguard"]["decision"] == "self-protection",
                   "self-protection")
        sub = os.path.join(fim.state, "vault", "zz")
        os.makedirs(sub)
        self_event(m, "created", sub)
    finally:
        m.stop()


def test_attributes_and_the_directories_themselves(fim):
    m = started(fim)
    try:
        key = os.path.join(fim.state, "hmac.key")
        os.chmod(key, 0o644)
        self_event(m, "attributes-changed", key)
        os.chmod(fim.state, 0o755)
        self_event(m, "attributes-changed", fim.state)
        moved = fim.policy + ".moved"
        os.rename(fim.policy, moved)
        ev = self_event(m, "renamed", moved)
        assert ev["fimguard"]["previous"]["path"] == fim.policy
    finally:
        m.stop()


def test_init_and_approve_raise_nothing_about_the_state(fim):
    """fimguard's own bookkeeping (temporary files, the journal, vault
    files, a new baseline that verifies, the history) is not reported,
    whoever is faster, the command or the monitor."""
    fim.write("a.conf", b"alpha\n")
    fim.rule(diff="yes", restore="yes")
    fim.init()
    m = Monitor(fim, "audit")
    try:
        for n in range(1, 4):
            fim.write("a.conf", f"version {n}\n".encode())
            fim.run("approve", "--all", "--reason", f"r{n}", expect=0)
        fim.write(f"new.conf", b"new\n")
        fim.run("init", "--force", expect=0)
        deadline = time.time() + 20
        while time.time() < deadline and status(fim)["reloads"] < 4:
            time.sleep(0.05)
        assert status(fim)["reloads"] == 4
        # a marker after all of it: the worker has read everything before
        marker = os.path.join(fim.state, "marker")
        os.mkdir(marker)
        self_event(m, "created", marker)
        assert own_events(fim, m) == [("created", marker)]
    finally:
        m.stop()


def test_reload_says_what_the_policy_changes(fim):
    cp = os.path.realpath(shutil.which("cp"))
    fim.write("a.conf", b"alpha\n")
    other = os.path.join(fim.outside, "other")
    os.mkdir(other)
    fim.write_policy(f"[rule tree]\npaths = {fim.tree}/\nmode = enforce\n"
                     f"restore = yes\nwriters = {cp}\n"
                     f"[rule gone]\npaths = {other}/\n", "10-test.rules")
    fim.init()
    m = Monitor(fim, "audit")
    try:
        replace_file(os.path.join(fim.policy, "10-test.rules"),
                     f"[rule tree]\npaths = {fim.tree}/ {other}/\n"
                     f"mode = audit\n")
        # what an intruder's file would do: its own rule, first in order
        x = fim.write_policy(f"[rule x]\npaths = {fim.t('a.conf')}\n"
                             f"writers = /bin/sh\n", "00-x.rules")
        os.kill(status(fim)["pid"], signal.SIGHUP)
        evs = {}
        deadline = time.time() + 15
        while time.time() < deadline and len(evs) < 3:
            evs = {e["rule"]["name"]: e for e in m.events()
                   if e["event"]["action"] == "policy-changed"}
            time.sleep(0.05)
        assert sorted(evs) == ["gone", "tree", "x"], m.events()
        for e in evs.values():
            assert e["event"]["severity"] == SEVERITY_NUM["critical"]
            assert e["event"]["category"] == ["configuration"]
        tree = evs["tree"]["fimguard"]["policy"]
        assert tree == {
            "change": "changed",
            "mode": {"previous": "enforce", "now": "audit"},
            "restore": {"previous": True, "now": False},
            "paths": {"added": [f"{other}/"]},
            "writers": {"removed": [cp]},
        }, tree
        assert evs["tree"]["file"]["path"] == \
            os.path.join(fim.policy, "10-test.rules")
        assert evs["x"]["fimguard"]["policy"] == {
            "change": "added",
            "mode": {"now": "audit"},
            "restore": {"now": False},
            "paths": {"added": [fim.t("a.conf")]},
            "writers": {"added": ["/bin/sh"]},
        }
        assert evs["x"]["file"]["path"] == x
        assert evs["gone"]["fimguard"]["policy"]["change"] == "removed"
        assert evs["gone"]["fimguard"]["policy"]["paths"] == \
            {"removed": [f"{other}/"]}
        # a reload that changes nothing says nothing
        n = len(m.events())
        os.kill(status(fim)["pid"], signal.SIGHUP)
        deadline = time.time() + 15
        while time.time() < deadline and status(fim)["reloads"] < 2:
            time.sleep(0.05)
        assert not [e for e in m.events()[n:]
                    if e["event"]["action"] == "policy-changed"]
    finally:
        m.stop()
