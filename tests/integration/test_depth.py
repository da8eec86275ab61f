"""Files deeper than PATH_MAX (issue 13, case 1): 250 nested directories of
32 characters with a file at the bottom (a path of about 8,300 bytes) are
baselined, checked, watched and restored like any other, because fimguard
reaches every file through its directory's descriptor. And what cannot be
watched is named, with the reason (issue 13, case 9).

No path-based call can reach that file: the tree is made, changed and read
with *at calls relative to directory fds (Python's dir_fd), in a child
whenever a monitor runs."""

import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import one_event_for, sha256_bytes
from test_monitor import Monitor, by, fanotify_marks, replace_file, status
from test_races import _env, shim  # noqa: F401 (fixture)

DEPTH = 250
NAMES = [f"d{i:03d}" + "x" * 28 for i in range(DEPTH)]
TRUSTED = b"deep trusted\n"

# A child that walks down with openat() and does one thing to deep.conf.
DEEP_OP = """
import os, sys
base, what, names = sys.argv[1], sys.argv[2], sys.argv[3:]
fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
for n in names:
    nfd = os.open(n, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = nfd
try:
    if what == "append":
        f = os.open("deep.conf", os.O_WRONLY | os.O_APPEND, dir_fd=fd)
        os.write(f, b"EVIL\\n")
        os.close(f)
    elif what == "chmod":
        os.chmod("deep.conf", 0o4777, dir_fd=fd)
    elif what == "unlink":
        os.unlink("deep.conf", dir_fd=fd)
    elif what == "read":
        f = os.open("deep.conf", os.O_RDONLY, dir_fd=fd)
        st = os.fstat(f)
        sys.stdout.write("%o %s" % (st.st_mode & 0o7777, os.read(f, 4096).hex()))
        os.close(f)
except PermissionError:
    sys.exit(13)
"""


def deep_op(fim, what):
    p = subprocess.run(["/usr/bin/python3", "-c", DEEP_OP, fim.tree, what, *NAMES],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode in (0, 13), p.stderr
    return p.returncode, p.stdout


def deep_state(fim):
    """(mode, content) of the deep file, read by a child."""
    rc, out = deep_op(fim, "read")
    assert rc == 0
    mode, data = out.split(" ")
    return int(mode, 8), bytes.fromhex(data)


@pytest.fixture
def deep(fim):
    """The tree, made with mkdirat/openat (no path is ever longer than a
    name); returns the deep file's path as a string (for reports only)."""
    fd = os.open(fim.tree, os.O_RDONLY | os.O_DIRECTORY)
    for name in NAMES:
        os.mkdir(name, 0o755, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    f = os.open("deep.conf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(f, TRUSTED)
    os.close(f)
    os.close(fd)
    path = "/".join([fim.tree, *NAMES, "deep.conf"])
    assert len(path) > os.pathconf("/", "PC_PATH_MAX")
    return path


def test_deep_file_is_baselined_and_checked(fim, deep):
    fim.rule(name="deep")
    p = fim.init()
    assert "recorded without content" not in p.stderr, p.stderr
    e = fim.entry(deep)
    assert e.get("sha256") == sha256_bytes(TRUSTED), e
    assert "error" not in e, e
    assert e["size"] == len(TRUSTED) and e["mode"] == 0o644, e
    fim.check(expect=0)

    deep_op(fim, "append")
    deep_op(fim, "chmod")
    p, evs = fim.check_json(expect=1)
    ev = one_event_for(evs, deep, "modified")
    assert set(ev["fimguard"]["changes"]) >= {"content", "mode"}, ev
    assert ev["file"]["hash"]["sha256"] == sha256_bytes(TRUSTED + b"EVIL\n")
    assert len(evs) == 1, evs


def test_deep_file_that_cannot_be_read_is_an_error_with_its_reason(fim, deep):
    """Read as an unprivileged user, the deep file (mode 000) is recorded
    with its error, said by init with the reason still on the line, and
    check reports it as scan-failed (exit 1)."""
    if not shutil.which("setpriv"):
        pytest.skip("setpriv not installed")
    fd = os.open(fim.tree, os.O_RDONLY | os.O_DIRECTORY)
    for name in NAMES:
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    os.chmod("deep.conf", 0o000, dir_fd=fd)
    os.close(fd)
    evdir = os.path.join(fim.base, "ev")
    os.mkdir(evdir)
    os.chown(evdir, 65534, 65534)
    fim.events = os.path.join(evdir, "events.json")
    fim.write_config()
    os.mkdir(fim.state, 0o700)
    os.chown(fim.state, 65534, 65534)
    fim.rule(name="deep")
    p = fim.init(user=65534, expect=0)
    line = [l for l in p.stderr.splitlines() if "recorded without content" in l]
    assert len(line) == 1 and line[0].endswith(
        "deep.conf: recorded without content: open: Permission denied"), p.stderr
    assert "..." in line[0] and len(line[0]) < 1000, line
    p, evs = fim.check_json(user=65534, expect=1)
    ev = one_event_for(evs, deep, "scan-failed")
    assert "Permission denied" in ev["fimguard"]["error"], ev


def test_deep_file_is_protected_by_the_monitor(fim, deep):
    fim.rule(name="deep", restore="yes")
    fim.init()
    m = Monitor(fim, "enforce")
    try:
        assert "cannot be watched" not in m.stderr(), m.stderr()
        # a write is denied before it happens
        assert deep_op(fim, "append")[0] == 13
        m.wait_for(by("write-denied", deep), "write-denied")
        assert deep_state(fim) == (0o644, TRUSTED)
        # what no permission event stops is put back
        assert deep_op(fim, "chmod")[0] == 0
        m.wait_for(lambda e: by("restored", deep)(e) and
                   e["event"]["outcome"] == "success", "attributes restored")
        assert deep_op(fim, "unlink")[0] == 0
        m.wait_for(lambda e: by("restored", deep)(e) and
                   e["fimguard"].get("cause") == "deleted", "content restored")
        assert deep_state(fim) == (0o644, TRUSTED)
        # and the restored file is protected again
        assert deep_op(fim, "append")[0] == 13
    finally:
        m.stop()
    assert not [e for e in m.events() if e["event"]["action"] == "restore-failed"]
    fim.check(expect=0)


def test_unwatchable_file_is_named_with_its_reason(fim, shim):  # noqa: F811
    """A file the monitor cannot mark is named (escaped) with the reason,
    not folded into an anonymous "some files could not be watched"."""
    bad = fim.write(b"bad\nname.conf", b"x\n")
    fim.write("good.conf", b"y\n")
    fim.rule()
    fim.init()
    m = Monitor(fim, "audit", env=_env(shim, FAULT_MARK=os.fsdecode(bad)))
    try:
        err = m.stderr()
    finally:
        m.stop()
    shown = os.fsdecode(bad).replace("\n", "\\n")
    assert f"{shown}: cannot be watched: fanotify_mark: Operation not supported" in err, err
    assert "1 file or directory could not be watched" in err, err
    assert "good.conf" not in err, err
    assert "bad\nname" not in err, err  # no raw newline from the name


def deep_inodes(fim):
    """Inode numbers of the deep file and its directory (dir_fd walk)."""
    fd = os.open(fim.tree, os.O_RDONLY | os.O_DIRECTORY)
    for name in NAMES:
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    try:
        return (os.stat("deep.conf", dir_fd=fd, follow_symlinks=False).st_ino,
                os.fstat(fd).st_ino)
    finally:
        os.close(fd)


def test_reload_unmarks_a_deep_file_the_policy_dropped(fim, deep):
    """A reload removes the marks of a file beyond PATH_MAX, and of its
    directory, when the policy no longer covers them."""
    keep = fim.write(os.path.join(fim.outside, "a.conf"), b"alpha\n")
    pol = fim.write_policy(f"[rule keep]\npaths = {keep}\n\n"
                           f"[rule deep]\npaths = {fim.tree}/\nrecursive = yes\n")
    fim.init()
    f_ino, d_ino = deep_inodes(fim)
    m = Monitor(fim, "enforce")
    try:
        pid = status(fim)["pid"]
        before = fanotify_marks(pid)
        assert any(f_ino in g for g in before.values()), before
        assert any(d_ino in g for g in before.values()), before
        replace_file(pol, f"[rule keep]\npaths = {keep}\n")
        os.kill(pid, signal.SIGHUP)
        deadline = time.time() + 15
        while time.time() < deadline and status(fim)["reloads"] < 1:
            time.sleep(0.05)
        assert status(fim)["reloads"] == 1, m.stderr()
        deadline = time.time() + 10
        while time.time() < deadline and any(
                f_ino in g or d_ino in g for g in fanotify_marks(pid).values()):
            time.sleep(0.05)
        after = fanotify_marks(pid)
        assert not any(f_ino in g or d_ino in g for g in after.values()), after
        assert deep_op(fim, "append")[0] == 0     # no longer protected
    finally:
        m.stop()
