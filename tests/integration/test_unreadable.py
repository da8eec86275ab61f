"""Unreadable files: fimguard run unprivileged (setpriv uid/gid 65534) over a tree holding a
root-owned mode-000 file: init warns but exits 0, check reports scan-failed and exits 1."""

import os
import shutil
import subprocess

import pytest

from conftest import events_for, has_header, one_event_for

NOBODY = 65534


@pytest.fixture
def unpriv(fim):
    if not shutil.which("setpriv"):
        pytest.skip("setpriv not installed")
    r = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        "true"], timeout=20)
    if r.returncode != 0:
        pytest.skip("setpriv cannot drop to uid 65534 here")
    # events file in a directory nobody can write
    evdir = os.path.join(fim.base, "ev")
    os.mkdir(evdir)
    os.chown(evdir, NOBODY, NOBODY)
    fim.events = os.path.join(evdir, "events.json")
    fim.write_config()
    os.mkdir(fim.state, 0o700)
    os.chown(fim.state, NOBODY, NOBODY)
    fim.write("readable", b"hello\n")
    fim.write("secret", b"top secret\n", mode=0o000)   # owned by root
    fim.rule(name="unpriv")
    # sanity: nobody really cannot read it
    r = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        "cat", fim.t("secret")], capture_output=True, timeout=20)
    assert r.returncode != 0
    return fim


def test_unreadable_init_warns_check_reports(unpriv):
    fim = unpriv
    p = fim.init(user=NOBODY, expect=0)
    assert fim.t("secret") in p.stderr, f"init should warn about the unreadable file:\n{p.stderr}"
    e = fim.entry(fim.t("secret"))
    assert e.get("error"), e
    assert "sha256" not in e
    assert fim.entry(fim.t("readable"))["sha256"]

    p, evs = fim.check_json(user=NOBODY, expect=1)
    ev = one_event_for(evs, fim.t("secret"), "scan-failed")
    assert ev["event"]["outcome"] == "failure"
    assert ev["fimguard"].get("error"), ev
    assert ev["rule"]["name"] == "unpriv"
    assert not events_for(evs, fim.t("readable"))
    assert len(evs) == 1, evs

    p = fim.check(user=NOBODY, expect=1)
    assert has_header(p.stdout, "scan-failed", fim.t("secret"), "unpriv", "medium"), p.stdout
    assert any(e["event"]["action"] == "scan-failed" for e in fim.file_events())


def test_unreadable_dir(unpriv):
    """Reading: a directory that cannot be listed is reported as scan-failed at its path."""
    fim = unpriv
    os.chmod(fim.t("secret"), 0o644)
    d = fim.mkdir("private", mode=0o700)
    fim.write("private/inner", b"x\n")
    os.chmod(d, 0o700)
    p = fim.init(user=NOBODY, expect=0)
    assert d in p.stderr, p.stderr
    p, evs = fim.check_json(user=NOBODY, expect=1)
    one_event_for(evs, d, "scan-failed")


def test_readable_again_after_chmod(unpriv):
    """The file becomes readable later: check no longer says scan-failed (it says what changed)."""
    fim = unpriv
    fim.init(user=NOBODY, expect=0)
    os.chmod(fim.t("secret"), 0o644)
    p, evs = fim.check_json(user=NOBODY, expect=1)
    ev = one_event_for(evs, fim.t("secret"))
    assert ev["event"]["action"] != "scan-failed"
    assert "mode" in ev["fimguard"]["changes"]


def test_scan_failed_keeps_the_mode_change(unpriv):
    """The chmod that made a file unreadable is said with the scan-failed
    event it causes, not dropped (issue 13, case 9)."""
    fim = unpriv
    os.chmod(fim.t("secret"), 0o644)
    fim.init(user=NOBODY, expect=0)
    os.chmod(fim.t("secret"), 0o000)
    p, evs = fim.check_json(user=NOBODY, expect=1)
    ev = one_event_for(evs, fim.t("secret"), "scan-failed")
    assert ev["fimguard"]["changes"] == ["mode"], ev
    assert ev["fimguard"].get("error"), ev
    p = fim.check(user=NOBODY, expect=1)
    assert "    mode 0644 -> 0000\n" in p.stdout, p.stdout


def test_names_in_log_lines_are_escaped(unpriv):
    """An unreadable file and directory whose names hold a newline and a
    terminal escape: init and check name them in their warnings, escaped,
    so no line of stderr carries a raw control byte."""
    fim = unpriv
    nasty = "evil\n\x1b[31m"
    fim.write(nasty + "file", b"x\n", mode=0o000)
    d = fim.mkdir(nasty + "dir", mode=0o700)
    fim.write(nasty + "dir/inner", b"x\n")
    os.chmod(d, 0o700)
    p = fim.init(user=NOBODY, expect=0)
    q = fim.check(user=NOBODY, expect=1)
    for out in (p.stderr, q.stderr):
        assert "evil\\n\\x1b[31mdir: cannot open directory" in out, out
        bad = [l for l in out.split("\n")
               if any(ord(c) < 0x20 or c == "\x7f" for c in l)]
        assert bad == [], out
    assert "evil\\n\\x1b[31mfile: recorded without content" in p.stderr
