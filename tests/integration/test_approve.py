"""approve: accept changes of single paths or --all, history.jsonl, baseline-approved events."""

import base64
import os
import stat

import pytest

from conftest import assert_common_event_fields, one_event_for, sha256_bytes, verify_baseline_hmac


def hist_paths(h):
    """history "paths": the contract does not fix the item form; accept "PATH" or {"path": PATH}
    (or {"path_b64": ...})."""
    out = []
    for p in h["paths"]:
        if isinstance(p, str):
            out.append(p)
        elif "path_b64" in p:
            out.append(os.fsdecode(base64.b64decode(p["path_b64"])))
        else:
            out.append(p["path"])
    return sorted(out)


@pytest.fixture
def changed(fim):
    fim.write("one.conf", b"one\n")
    fim.write("two.conf", b"two\n")
    fim.write("three.conf", b"three\n")
    fim.rule(name="ap", severity="high")
    fim.init()
    fim.write("one.conf", b"ONE\n")
    fim.write("two.conf", b"TWO\n")
    return fim


def test_approve_one_path(changed):
    fim = changed
    p1, p2 = fim.t("one.conf"), fim.t("two.conf")
    n_before = len(fim.file_events())
    fim.run("approve", "--reason", "ticket 42", p1, expect=0)
    assert verify_baseline_hmac(fim)
    assert stat.S_IMODE(os.stat(fim.baseline_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(fim.history_file).st_mode) & 0o022 == 0
    p, evs = fim.check_json(expect=1)
    assert len(evs) == 1, evs
    one_event_for(evs, p2, "modified")
    assert fim.entry(p1)["sha256"] == sha256_bytes(b"ONE\n")
    assert fim.entry(p2)["sha256"] == sha256_bytes(b"two\n")

    hist = fim.history()
    assert len(hist) == 1, hist
    h = hist[0]
    assert h["reason"] == "ticket 42"
    assert h["uid"] in (0, "0"), h
    assert hist_paths(h) == [p1], h
    for k in ("@timestamp", "user", "auid"):
        assert k in h, f"{k} missing in history line {h}"
    assert h["@timestamp"].endswith("Z")

    approved = [e for e in fim.file_events()[n_before:] if e["event"]["action"] == "baseline-approved"]
    assert len(approved) == 1, fim.file_events()
    ev = approved[0]
    assert_common_event_fields(ev)
    assert ev["file"]["path"] == p1
    assert ev["fimguard"]["reason"] == "ticket 42"
    assert ev["user"]["id"] == "0"
    assert ev["user"]["name"] == "root"
    assert "audit" in ev["user"] and "id" in ev["user"]["audit"]
    assert ev["rule"]["name"] == "ap"
    assert ev["file"]["hash"]["sha256"] == sha256_bytes(b"ONE\n")


def test_approve_all(changed):
    fim = changed
    os.unlink(fim.t("three.conf"))
    fim.write("four.conf", b"four\n")
    os.chmod(fim.t("two.conf"), 0o600)
    fim.run("approve", "--all", "--reason", "bulk", expect=0)
    fim.check(expect=0)
    fim.check_json(expect=0)
    h = fim.history()[-1]
    assert h["reason"] == "bulk"
    want = sorted([fim.t("one.conf"), fim.t("two.conf"), fim.t("three.conf"), fim.t("four.conf")])
    # reading: for --all, either the approved paths are listed, or "all": true marks it
    # (the baseline-approved events name every path either way)
    if not (h.get("all") is True and h["paths"] == []):
        assert hist_paths(h) == want, h
    approved = [e for e in fim.file_events() if e["event"]["action"] == "baseline-approved"]
    assert sorted(e["file"]["path"] for e in approved) == want


def test_approve_without_reason(changed):
    fim = changed
    fim.run("approve", fim.t("one.conf"), fim.t("two.conf"), expect=0)
    fim.check(expect=0)
    assert hist_paths(fim.history()[-1]) == sorted([fim.t("one.conf"), fim.t("two.conf")])


def test_approve_path_outside_policy(changed):
    fim = changed
    with open(fim.baseline_file, "rb") as f:
        before = f.read()
    outside = os.path.join(fim.outside, "x")
    with open(outside, "w") as f:
        f.write("x")
    p = fim.run("approve", "--reason", "nope", outside, expect=2)
    assert p.stderr.strip()
    fim.run("approve", "/etc/passwd", expect=2)
    with open(fim.baseline_file, "rb") as f:
        assert f.read() == before
    assert not os.path.exists(fim.history_file) or fim.history() == []


def test_approve_mixed_inside_and_outside_is_refused(changed):
    """Reading: one bad path refuses the whole approval (nothing half-applied)."""
    fim = changed
    with open(fim.baseline_file, "rb") as f:
        before = f.read()
    fim.run("approve", fim.t("one.conf"), "/etc/passwd", expect=2)
    with open(fim.baseline_file, "rb") as f:
        assert f.read() == before


def test_approve_deleted_file(changed):
    fim = changed
    fim.run("approve", "--all", expect=0)
    os.unlink(fim.t("three.conf"))
    fim.check(expect=1)
    fim.run("approve", "--reason", "decommissioned", fim.t("three.conf"), expect=0)
    fim.check(expect=0)
    assert os.fsencode(fim.t("three.conf")) not in fim.entries()


def test_approve_created_file(changed):
    fim = changed
    fim.run("approve", "--all", expect=0)
    new = fim.write("sub/new.conf", b"n\n")
    fim.check(expect=1)
    fim.run("approve", new, fim.t("sub"), expect=0)
    fim.check(expect=0)
    assert fim.entry(new)["sha256"] == sha256_bytes(b"n\n")
    assert fim.entry(new)["rule"] == "ap"


def test_approve_renamed(changed):
    fim = changed
    fim.run("approve", "--all", expect=0)
    os.rename(fim.t("three.conf"), fim.t("three.conf.moved"))
    fim.check(expect=1)
    fim.run("approve", "--all", expect=0)
    fim.check(expect=0)
    ents = fim.entries()
    assert os.fsencode(fim.t("three.conf")) not in ents
    assert os.fsencode(fim.t("three.conf.moved")) in ents


def test_approve_no_args(changed):
    changed.run("approve", expect=2)
    changed.run("approve", "--reason", "x", expect=2)
    changed.check(expect=1)


def test_approve_without_baseline(fim):
    fim.write("a", b"a\n")
    fim.rule()
    p = fim.run("approve", "--all")
    assert p.returncode in (2, 3), p
    assert not os.path.exists(fim.baseline_file)


def test_approve_tampered_baseline_refused(changed):
    """approve must not re-sign a tampered baseline."""
    fim = changed
    with open(fim.baseline_file, "rb") as f:
        data = f.read()
    data = data.replace(b"\"three.conf\"", b"\"threX.conf\"") if b"\"three.conf\"" in data else \
        data.replace(b"three.conf", b"threX.conf", 1)
    with open(fim.baseline_file, "wb") as f:
        f.write(data)
    p = fim.run("approve", "--all")
    assert p.returncode != 0
    fim.check(expect=3)


def test_approve_relative_path(changed):
    """A relative PATH is taken from the current directory (the scratch
    base dir here) and spelled like the baseline: "." and ".." resolved."""
    fim = changed
    rel = os.path.relpath(fim.t("one.conf"), fim.base)
    fim.run("approve", "--reason", "rel", "./" + os.path.dirname(rel) + "/../"
            + rel, expect=0)
    p, evs = fim.check_json(expect=1)
    assert [e["file"]["path"] for e in evs] == [fim.t("two.conf")], evs
    assert hist_paths(fim.history()[-1]) == [fim.t("one.conf")]


def test_unnormalized_policy_path(fim):
    """A policy path written with // and /./ records the same paths as
    the clean spelling, so nested rules still take over their subtree."""
    fim.write("sub/secret", b"s\n")
    fim.write("other", b"o\n")
    fim.write_policy(f"[rule outer]\npaths = {fim.tree}//\nrecursive = yes\n"
                     f"[rule inner]\npaths = {fim.tree}/./sub/\n")
    fim.init()
    assert fim.entry(fim.t("sub/secret"))["rule"] == "inner"
    assert fim.entry(fim.t("sub"))["rule"] == "inner"
    assert fim.entry(fim.t("other"))["rule"] == "outer"
    fim.check(expect=0)
