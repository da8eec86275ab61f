"""The protected tree, not only its files' content (issue 9, cases 2-5).

New entries in protected directories are quarantined (or reported and
protected when an allowed writer made them); directories and symlinks
are protected entries of their own; changes through a hard link outside
the tree are seen on the protected inode; a restore is `restored` only
when the result equals the baseline.

Every monitor runs under `timeout -s KILL` in its own session (the
Monitor class of test_monitor.py); this process never opens a protected
file while one runs: children with timeouts do (op())."""

import json
import os
import shutil
import stat
import subprocess
import time

import pytest

from test_monitor import Monitor, OP_TIMEOUT, PY, by, content, op, \
    try_open, wait_restored


def wait_until(pred, what, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    pytest.fail(f"not within {timeout}s: {what}")


def mode_of(path):
    return os.lstat(path).st_mode & 0o7777


# ---- case 4: hard links outside the tree ----

def test_hard_link_outside_the_tree(fim):
    """chmod, chown and truncate(2) through a hard link in a directory
    no rule covers change the protected inode: reported and undone."""
    path = fim.write("a.conf", b"trusted\n", mode=0o640)
    link = os.path.join(fim.outside, "a.link")
    os.link(path, link)
    fim.rule(restore="yes")
    fim.init()
    m = Monitor(fim, "enforce")
    try:
        rc, err = op("import os, sys; os.chmod(sys.argv[1], 0o666)", link)
        assert rc == 0, err
        ev = m.wait_for(by("attributes-changed", path), "attributes-changed")[0]
        assert "mode" in ev["fimguard"]["changes"]
        wait_restored(m, path, "attributes-changed")
        wait_until(lambda: mode_of(path) == 0o640, "mode 0640 back")
        rc, err = op("import os, sys; os.chown(sys.argv[1], 65534, 65534)",
                     link)
        assert rc == 0, err
        wait_until(lambda: os.stat(path).st_uid == 0, "owner root back")
        assert os.stat(path).st_gid == 0
        rc, err = op("import os, sys; os.truncate(sys.argv[1], 0)", link)
        assert rc == 0, err
        mod = m.wait_for(by("modified", path), "modified")[0]
        assert mod["file"]["hash"]["sha256"] == \
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        wait_restored(m, path, "modified")
        assert content(path) == "trusted\n"
    finally:
        m.stop()
