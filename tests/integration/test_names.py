"""Hostile file names: newline, invalid UTF-8, spaces, leading dash, backslash, tab."""

import base64
import os

import pytest

from conftest import event_path, one_event_for, sha256_bytes

NEWLINE = b"new\nline"
BAD = b"bad\xff\xfe"
SPACE = b"with space.conf"
DASH = b"-leading-dash"
BSLASH = b"back\\slash"
TAB = b"tab\there"
NAMES = [NEWLINE, BAD, SPACE, DASH, BSLASH, TAB]


@pytest.fixture
def named(fim):
    for i, n in enumerate(NAMES):
        fim.write(n, b"content %d\n" % i)
    # a directory with an invalid UTF-8 name, with a file inside
    os.mkdir(fim.t(b"dir\x80"))
    fim.write(os.path.join(b"dir\x80", b"inner"), b"inner\n")
    fim.rule()
    fim.init()
    return fim


def test_names_init_and_clean_check(named):
    fim = named
    ents = fim.entries()
    for n in NAMES:
        assert fim.t(n) in ents, f"{n!r} missing from baseline: {sorted(ents)}"
    assert fim.t(b"dir\x80", b"inner") in ents
    fim.check(expect=0)
    fim.check_json(expect=0)


def test_invalid_utf8_stored_as_path_b64(named):
    fim = named
    _, entries, _ = fim.baseline()
    bad = fim.t(BAD)
    hits = [e for e in entries if "path_b64" in e and base64.b64decode(e["path_b64"]) == bad]
    assert len(hits) == 1, entries
    assert "path" not in hits[0], hits[0]
    # valid UTF-8 names (newline, tab, ...) keep a plain "path"
    nl = [e for e in entries if e.get("path", "").encode() == fim.t(NEWLINE)]
    assert len(nl) == 1


def test_names_modified_reported(named):
    fim = named
    for n in NAMES:
        fim.write(n, b"tampered " + n + b"\n")
    fim.write(os.path.join(b"dir\x80", b"inner"), b"tampered\n")
    p, evs = fim.check_json(expect=1)
    for n in NAMES:
        ev = one_event_for(evs, fim.t(n), "modified")
        assert ev["file"]["hash"]["sha256"] == sha256_bytes(b"tampered " + n + b"\n")
    one_event_for(evs, fim.t(b"dir\x80", b"inner"), "modified")
    assert len(evs) == len(NAMES) + 1, evs


def test_invalid_utf8_event_path_base64(named):
    fim = named
    fim.write(BAD, b"x\n")
    p, evs = fim.check_json(expect=1)
    bad = fim.t(BAD)
    hits = [e for e in evs if "path_base64" in e.get("fimguard", {})]
    assert len(hits) == 1, evs
    ev = hits[0]
    assert base64.b64decode(ev["fimguard"]["path_base64"]) == bad
    # file.path is the lossy UTF-8 rendering with U+FFFD
    assert "\ufffd" in ev["file"]["path"]
    assert ev["file"]["path"].startswith(fim.tree + "/bad")
    assert ev["event"]["action"] == "modified"


def test_newline_name_in_json(named):
    fim = named
    fim.write(NEWLINE, b"x\n")
    p, evs = fim.check_json(expect=1)
    ev = one_event_for(evs, fim.t(NEWLINE), "modified")
    assert ev["file"]["path"] == fim.tree + "/new\nline"
    assert "path_base64" not in ev["fimguard"]
    # one event = one line: the newline is escaped inside the JSON
    assert len([l for l in p.stdout.split("\n") if l.strip()]) == 1


def test_human_output_escapes_names(named):
    fim = named
    fim.write(NEWLINE, b"x\n")
    fim.write(BAD, b"x\n")
    p = fim.check(expect=1)
    out = p.stdout_bytes
    # no raw newline inside the path, no raw invalid bytes
    assert b"\xff" not in out and b"\xfe" not in out
    assert (fim.tree.encode() + b"/new\\nline [rule tree, medium]") in out, out
    low = out.lower()
    assert (fim.tree.encode().lower() + b"/bad\\xff\\xfe [rule tree, medium]") in low, out


def test_rename_of_invalid_utf8_name(named):
    fim = named
    old, new = fim.t(BAD), fim.t(b"renamed\xfa")
    os.rename(old, new)
    p, evs = fim.check_json(expect=1)
    assert len(evs) == 1, evs
    ev = evs[0]
    assert ev["event"]["action"] == "renamed"
    assert event_path(ev) == new
    prev = ev["fimguard"]["previous"]
    # previous path of a non-UTF-8 name: accept a path_base64 next to it, or the lossy form
    if "path_base64" in prev:
        assert base64.b64decode(prev["path_base64"]) == old
    else:
        assert prev["path"] == old.decode("utf-8", "replace")


def test_dash_name_approve(named):
    """A path argument beginning with the tree (absolute) works even if the basename starts with '-'."""
    fim = named
    fim.write(DASH, b"changed\n")
    fim.check(expect=1)
    fim.run("approve", "--reason", "dash", fim.t(DASH).decode(), expect=0)
    fim.check(expect=0)


def test_approve_invalid_utf8_path(named):
    fim = named
    fim.write(BAD, b"changed\n")
    fim.check(expect=1)
    fim.run("approve", os.fsdecode(fim.t(BAD)), expect=0)
    fim.check(expect=0)
