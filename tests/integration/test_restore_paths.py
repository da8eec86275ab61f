"""Restores follow no path an attacker controls (issue 8, case 4; issue 9
case 3).

A rule protects a user's ~/.ssh; the user owns the home directory around
it. The user swaps .ssh for a symlink to root's .ssh, then deletes (or
chmods) a protected file in the real one, now moved aside. A restore by
path would write the user's key file into root's .ssh (or chown root's
file to the user). fimguard restores only through directory fds verified
against the recorded (device, inode), and since issue 9 it sees the swap
itself: .ssh renamed away is made again from the baseline (owner, mode,
files from the vault) and the link, if it got in first, is quarantined.
What the user then does to the copy moved aside is not the protected
path's business. Root's directory is left exactly as it was throughout.

The user is a real unprivileged uid (setpriv), as in test_unreadable.py;
root's .ssh is a fake one in the scratch directory."""

import json
import os
import shutil
import stat
import subprocess
import time

import pytest

from test_monitor import Monitor, op

USER = 65534

LISTING = """
import hashlib, json, os, stat, sys
top = sys.argv[1]
out = {}
for d, dirs, files in os.walk(top):
    for n in [""] + dirs + files:
        p = os.path.join(d, n) if n else d
        st = os.lstat(p)
        e = {"mode": st.st_mode, "uid": st.st_uid, "gid": st.st_gid,
             "size": st.st_size, "ino": st.st_ino, "mtime": st.st_mtime_ns,
             "ctime": st.st_ctime_ns, "nlink": st.st_nlink,
             "xattrs": sorted(os.listxattr(p, follow_symlinks=False))}
        if stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                e["sha256"] = hashlib.sha256(f.read()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            e["target"] = os.readlink(p)
        out[os.path.relpath(p, top)] = e
print(json.dumps(out, sort_keys=True))
"""

# The user's side: swap .ssh for a link to root's, then act on a file
# of the real .ssh (moved aside).
SWAP = """
import os, sys
home, fake, what = sys.argv[1], sys.argv[2], sys.argv[3]
os.rename(home + "/.ssh", home + "/.ssh.old")
try:
    os.symlink(fake, home + "/.ssh")
except FileExistsError:
    pass            # the monitor made .ssh again first
if what == "unlink":
    os.unlink(home + "/.ssh.old/authorized_keys")
else:
    os.chmod(home + "/.ssh.old/config", 0o666)
"""


def listing(top):
    """Everything under top, read by a child (never by the test itself)."""
    p = subprocess.run(["/usr/bin/python3", "-c", LISTING, top],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def put(path, data, uid, mode):
    with open(path, "wb") as f:
        f.write(data)
    os.chown(path, uid, uid)
    os.chmod(path, mode)


@pytest.fixture
def home(fim):
    if not shutil.which("setpriv"):
        pytest.skip("setpriv not installed")
    base = fim.base
    u = os.path.join(base, "home", "u")
    os.makedirs(os.path.join(u, ".ssh"))
    os.chmod(os.path.join(base, "home"), 0o755)
    os.chown(u, USER, USER)
    os.chown(os.path.join(u, ".ssh"), USER, USER)
    os.chmod(os.path.join(u, ".ssh"), 0o700)
    put(os.path.join(u, ".ssh", "authorized_keys"),
        b"ssh-ed25519 AAAAuser user@host\n", USER, 0o600)
    put(os.path.join(u, ".ssh", "config"), b"Host *\n", USER, 0o644)
    # root's .ssh (a fake one, in the scratch directory)
    fake = os.path.join(base, "root", ".ssh")
    os.makedirs(fake)
    os.chmod(os.path.dirname(fake), 0o700)
    os.chmod(fake, 0o700)
    put(os.path.join(fake, "authorized_keys"), b"ssh-ed25519 AAAAroot root@host\n", 0, 0o600)
    put(os.path.join(fake, "config"), b"Host admin\n", 0, 0o600)
    put(os.path.join(fake, "id_ed25519"), b"PRIVATE KEY\n", 0, 0o600)
    fim.write_policy(f"[rule ssh]\npaths = {u}/.ssh/\nrecursive = yes\n"
                     "mode = enforce\nrestore = yes\n")
    fim.init()
    return fim, u, fake


def swap(u, fake, what):
    p = subprocess.run(["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups",
                        "/usr/bin/python3", "-c", SWAP, u, fake, what],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr


def owner_mode(path):
    st = os.lstat(path)
    return st.st_uid, stat.S_IMODE(st.st_mode)


@pytest.mark.parametrize("what", ["unlink", "chmod"])
def test_swapped_parent_is_undone_and_roots_untouched(home, what):
    fim, u, fake = home
    root_side = os.path.dirname(fake)
    ssh = os.path.join(u, ".ssh")
    before = listing(root_side)
    m = Monitor(fim, "enforce")
    try:
        swap(u, fake, what)
        ev = m.wait_for(lambda e: e["event"]["action"] in
                        ("restored", "restore-failed") and
                        e["file"]["path"] == ssh, f"a restore of {ssh}")[0]
        assert ev["event"]["action"] == "restored", ev
        assert ev["fimguard"]["cause"] == "renamed away", ev
        assert ev["rule"]["name"] == "ssh", ev
        time.sleep(0.5)             # anything that would follow
        # nothing of root's was created or changed...
        assert listing(root_side) == before
        # ...and .ssh is the user's directory again, as recorded
        assert not os.path.islink(ssh) and os.path.isdir(ssh)
        assert owner_mode(ssh) == (USER, 0o700)
        keys = os.path.join(ssh, "authorized_keys")
        assert owner_mode(keys) == (USER, 0o600)
        assert owner_mode(os.path.join(ssh, "config")) == (USER, 0o644)
        rc, out = op("import sys; sys.stderr.write(open(sys.argv[1]).read())",
                     keys)
        assert rc == 0 and out == "ssh-ed25519 AAAAuser user@host\n", out
        for e in m.events():
            assert not e["file"]["path"].startswith(root_side), e
            if e["event"]["action"] == "quarantined":
                assert e["file"]["path"] == ssh, e
                assert e["file"]["type"] == "symlink", e
    finally:
        m.stop()
    assert listing(root_side) == before
    fim.run("check", expect=0)
