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
import signal
import stat
import subprocess
import time

import pytest

from conftest import sha256_bytes
from test_monitor import Monitor, OP_TIMEOUT, PY, by, content, op, \
    status, try_open, wait_restored


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


# ---- case 5: a restore is what it says ----

def set_xattr(path, name, value):
    rc, err = op("import os, sys; os.setxattr(sys.argv[1], sys.argv[2], "
                 "sys.argv[3].encode(), follow_symlinks=False)",
                 path, name, value)
    if rc != 0 and "Operation not supported" in err:
        pytest.skip(f"no {name} here: {err}")
    assert rc == 0, err


def test_added_security_xattr_is_removed(fim):
    """security.* cannot be removed without CAP_SYS_ADMIN, which the
    monitor does not keep: the file is replaced from the vault instead,
    and `restored` follows only once it reads back as the baseline."""
    path = fim.write("a.conf", b"trusted\n", mode=0o640)
    fim.rule(restore="yes")
    fim.init()
    m = Monitor(fim, "enforce")
    try:
        set_xattr(path, "security.evil", "1")
        ev = m.wait_for(by("attributes-changed", path), "attributes-changed")[0]
        assert "xattrs" in ev["fimguard"]["changes"]
        m.wait_for(lambda e: e["file"].get("path") == path and
                   e["event"]["action"] in ("restored", "restore-failed"),
                   "restored or restore-failed")
        assert "security.evil" not in os.listxattr(path)
        assert not [e for e in m.events()
                    if e["event"]["action"] == "restore-failed"]
        assert content(path) == "trusted\n"
        assert mode_of(path) == 0o640
        assert try_open(path, "append") == 13      # the new inode: watched
    finally:
        m.stop()
    fim.run("check", expect=0)


def test_xattr_that_stays_is_restore_failed(fim):
    """Without a vault copy to fall back on, the added xattr stays: that
    is restore-failed, with the reason, never `restored`."""
    path = fim.write("a.conf", b"trusted\n", mode=0o640)
    fim.rule(restore="yes")
    fim.init()
    shutil.rmtree(os.path.join(fim.state, "vault"))
    m = Monitor(fim, "enforce")
    try:
        set_xattr(path, "security.evil", "1")
        ev = m.wait_for(by("restore-failed", path), "restore-failed")[0]
        assert "xattrs" in ev["fimguard"]["error"], ev
        assert "security.evil" in ev["fimguard"]["error"], ev
        time.sleep(0.3)
        assert not [e for e in m.events() if e["event"]["action"] == "restored"]
        assert "security.evil" in os.listxattr(path)
    finally:
        m.stop()


# ---- case 2: new entries in protected directories ----

def quarantined(m, path):
    ev = m.wait_for(by("quarantined", path), f"quarantined {path}")[0]
    assert ev["event"]["outcome"] == "success", ev
    return ev


def sidecar(fim, ev):
    q = ev["fimguard"]["quarantine"]
    with open(os.path.join(fim.state, "quarantine", q["id"] + ".json")) as f:
        return json.load(f)


@pytest.fixture
def guarded(fim):
    """enforce with restore = yes: new_files = quarantine by default."""
    fim.write("a.conf", b"a trusted\n", mode=0o640)
    fim.mkdir("sub")
    fim.write("sub/b.conf", b"b trusted\n")
    fim.rule(restore="yes")
    fim.init()
    m = Monitor(fim, "enforce")
    yield m
    m.stop()


# The creator stays a moment, like the shell of someone at work: its
# who-data is read from /proc when the event is handled.
CREATE = """
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL,
             int(sys.argv[3], 8) if len(sys.argv) > 3 else 0o644)
os.write(fd, sys.argv[2].encode())
os.close(fd)
time.sleep(1)
"""


def test_new_file_by_non_writer_is_quarantined(guarded):
    fim, m = guarded.fim, guarded
    path = fim.t("sub", "evil.conf")
    # the creator's own open is not refused: the file is taken whole
    rc, err = op(CREATE, path, "* * * * * root evil\n")
    assert rc == 0, err
    m.wait_for(by("created", path), "created")
    ev = quarantined(m, path)
    wait_until(lambda: not os.path.lexists(path), "gone from the tree")
    q = ev["fimguard"]["quarantine"]
    assert ev["fimguard"]["cause"] == "created"
    assert ev["process"]["executable"] == os.path.realpath(PY)
    assert ev["process"]["pid"] > 0
    assert ev["process"]["parent"]["pid"] == os.getpid()
    assert ev["user"]["id"] == "0"
    assert ev["file"]["type"] == "file"
    assert ev["file"]["mode"] == "0644" and ev["file"]["uid"] == "0"
    # what it held when it was taken: the creator may not have written
    # yet, and what it writes after goes to the same inode, kept
    assert ev["file"]["hash"]["sha256"] in (
        sha256_bytes(b""), sha256_bytes(b"* * * * * root evil\n"))
    assert q["method"] == "moved"
    kept = q["path"]
    assert kept == os.path.join(fim.state, "quarantine", q["id"])
    st = os.lstat(kept)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, 0, 0)
    with open(kept) as f:
        assert f.read() == "* * * * * root evil\n"
    side = sidecar(fim, ev)
    assert side["file"]["path"] == path
    assert side["event"]["action"] == "quarantined"
    assert side["process"]["pid"] == ev["process"]["pid"]
    assert status(fim)["quarantined"] == 1
    m.stop()
    fim.run("check", expect=0)      # the tree is the baseline again


def test_new_directory_symlink_fifo_are_taken_out(guarded):
    fim, m = guarded.fim, guarded
    d = fim.t("evil.d")
    made = os.path.join(fim.outside, "evil.d")
    os.mkdir(made)
    with open(os.path.join(made, "x"), "w") as f:
        f.write("x")
    os.mkfifo(os.path.join(made, "p"))
    rc, err = op("import os, sys; os.rename(sys.argv[1], sys.argv[2])",
                 made, d)
    assert rc == 0, err
    ev = quarantined(m, d)
    assert ev["file"]["type"] == "dir"
    wait_until(lambda: not os.path.lexists(d), "directory gone")
    kept = ev["fimguard"]["quarantine"]["path"]
    assert stat.S_IMODE(os.lstat(kept).st_mode) == 0o700
    assert os.listdir(kept) == ["x"]            # the FIFO inside: removed
    assert ev["fimguard"]["quarantine"]["entries"] == 2
    assert ev["fimguard"]["quarantine"]["not_kept"] == 1

    link = fim.t("evil.link")
    rc, err = op("import os, sys; os.symlink('/etc/shadow', sys.argv[1])", link)
    assert rc == 0, err
    ev = quarantined(m, link)
    assert ev["file"]["type"] == "symlink"
    assert ev["file"]["target_path"] == "/etc/shadow"
    wait_until(lambda: not os.path.lexists(link), "link gone")
    assert os.readlink(ev["fimguard"]["quarantine"]["path"]) == "/etc/shadow"

    # a FIFO is removed and recorded, never opened (inotify IN_OPEN)
    fifo = os.path.join(fim.outside, "evil.fifo")
    os.mkfifo(fifo)
    rc, err = op(INOTIFY_RENAME, fifo, fim.t("evil.fifo"))
    assert rc == 0, err
    ev = quarantined(m, fim.t("evil.fifo"))
    assert ev["file"]["type"] == "fifo"
    assert ev["fimguard"]["quarantine"]["method"] == "removed"
    assert "path" not in ev["fimguard"]["quarantine"]
    wait_until(lambda: not os.path.lexists(fim.t("evil.fifo")), "fifo gone")
    m.stop()
    fim.run("check", expect=0)


# Watch a FIFO with inotify, rename it into the tree, and fail (exit 3)
# if anything opens it before it is removed.
INOTIFY_RENAME = """
import ctypes, os, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
IN_OPEN, IN_DELETE_SELF, IN_NONBLOCK = 0x20, 0x400, 0o4000
fd = libc.inotify_init1(IN_NONBLOCK)
assert libc.inotify_add_watch(fd, os.fsencode(sys.argv[1]),
                              IN_OPEN | IN_DELETE_SELF) >= 0
os.rename(sys.argv[1], sys.argv[2])
deadline = time.time() + 8
while time.time() < deadline:
    try:
        buf = os.read(fd, 4096)
    except BlockingIOError:
        time.sleep(0.02)
        continue
    off = 0
    while off < len(buf):
        wd, mask, cookie, ln = struct.unpack_from("iIII", buf, off)
        off += 16 + ln
        if mask & IN_OPEN:
            sys.exit(3)
        if mask & IN_DELETE_SELF:
            sys.exit(0)
sys.exit(4)
"""


def test_allowed_writer_creates_files(fim):
    """An allowed writer's new files are created without EPERM (the new
    inode is marked while the creator is still in its own open), stay,
    are reported and are protected from then on."""
    writer = os.path.join(fim.outside, "pkgtool")
    shutil.copy(os.path.realpath(PY), writer)
    fim.write("a.conf", b"a\n")
    fim.rule(restore="yes", writers=writer)
    fim.init()
    m = Monitor(fim, "enforce")
    try:
        p = subprocess.run(
            [writer, "-c", "import os, sys, time\n"
             "for i in range(20):\n"
             "    fd = os.open(os.path.join(sys.argv[1], 'n%d.conf' % i),"
             " os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)\n"
             "    os.write(fd, b'packaged\\n'); os.close(fd)\n"
             "time.sleep(1.5)\n", fim.tree],
            capture_output=True, timeout=OP_TIMEOUT)
        assert p.returncode == 0, p.stderr
        last = fim.t("n19.conf")
        m.wait_for(by("created", last), "created")
        time.sleep(0.5)
        assert not [e for e in m.events()
                    if e["event"]["action"] == "quarantined"]
        for i in range(20):
            assert os.path.exists(fim.t(f"n{i}.conf"))
        assert content(last) == "packaged\n"
        assert try_open(last, "append") == 13       # protected now
    finally:
        m.stop()


def test_audit_mode_reports_new_files_and_moves_nothing(fim):
    fim.write("a.conf", b"a\n")
    fim.rule(restore="yes", new_files="quarantine")
    fim.init()
    m = Monitor(fim, "audit")
    try:
        path = fim.t("new.conf")
        rc, err = op(CREATE, path, "x")
        assert rc == 0, err
        m.wait_for(by("created", path), "created")
        time.sleep(0.5)
        assert os.path.exists(path)
        assert not [e for e in m.events()
                    if e["event"]["action"] == "quarantined"]
    finally:
        m.stop()


def test_approve_puts_a_quarantined_file_back(guarded):
    fim, m = guarded.fim, guarded
    path = fim.t("sub", "good.conf")
    rc, err = op(CREATE, path, "wanted after all\n", "640")
    assert rc == 0, err
    ev = quarantined(m, path)
    wait_until(lambda: not os.path.lexists(path), "quarantined")
    p = fim.run("approve", "--reason", "it is ours", path, expect=0)
    assert "1 change" in p.stdout, p.stdout
    assert os.path.exists(path)
    st = os.lstat(path)
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o640, 0)
    assert content(path) == "wanted after all\n"
    q = ev["fimguard"]["quarantine"]
    assert not os.path.lexists(q["path"])
    assert not os.path.exists(os.path.join(fim.state, "quarantine",
                                           q["id"] + ".json"))
    # the monitor took approve's put-back for what it is
    wait_until(lambda: len([e for e in m.events()
                            if by("created", path)(e)]) == 2,
               "the put-back reported")
    time.sleep(0.5)
    assert len([e for e in m.events() if by("quarantined", path)(e)]) == 1
    assert os.path.exists(path)
    assert fim.history()[-1]["paths"] == [path]
    m.stop()
    fim.run("check", expect=0)


def test_approve_of_a_path_never_quarantined_is_refused(fim):
    fim.write("a.conf", b"a\n")
    fim.rule(restore="yes")
    fim.init()
    p = fim.run("approve", fim.t("nothing.conf"), expect=2)
    assert "not covered by the policy or the baseline" in p.stderr, p.stderr


# ---- case 3: directories and symlinks are protected entries ----

@pytest.fixture
def dirs(fim):
    fim.write("a.conf", b"a trusted\n")
    fim.mkdir("sub")
    fim.write("sub/b.conf", b"b trusted\n", mode=0o640)
    fim.mkdir("sub/deep", mode=0o750)
    fim.write("sub/deep/c.conf", b"c trusted\n")
    fim.mkdir("empty", mode=0o750)
    fim.mkdir("wants")
    os.symlink("../a.conf", fim.t("wants", "x.service"))
    fim.rule(restore="yes")
    fim.init()
    m = Monitor(fim, "enforce")
    yield m
    m.stop()


def tree_is_baseline(fim, m):
    m.stop()
    p = fim.run("check", "--json", expect=None)
    assert p.returncode == 0, p.stdout


def test_dir_renamed_away_and_replaced_is_undone(dirs):
    """mv sub away, mkdir a new sub and write into it: the rename is
    reported, sub made again from the baseline (owner, mode, files from
    the vault), and the replacement quarantined with what was written
    into it (or, when the monitor was first, never made)."""
    fim, m = dirs.fim, dirs
    moved = os.path.join(fim.outside, "sub.old")
    rc, err = op("import os, sys\n"
                 "os.rename(sys.argv[1], sys.argv[2])\n"
                 "try:\n"
                 "    os.mkdir(sys.argv[1])\n"
                 "    open(sys.argv[1] + '/evil.conf', 'w').write('evil')\n"
                 "except OSError:\n"
                 "    pass\n", fim.t("sub"), moved)
    assert rc == 0, err
    # moved where nothing is watched: the event names where it was
    ev = m.wait_for(by("renamed", fim.t("sub")), "renamed")[0]
    assert ev["fimguard"]["previous"]["path"] == fim.t("sub")
    ev = m.wait_for(lambda e: by("restored", fim.t("sub"))(e) and
                    e["fimguard"]["cause"] == "renamed away", "restored")[0]
    assert ev["fimguard"]["restored_entries"] >= 4
    wait_until(lambda: not os.path.lexists(fim.t("sub", "evil.conf")),
               "the replacement gone")
    assert content(fim.t("sub", "deep", "c.conf")) == "c trusted\n"
    assert mode_of(fim.t("sub", "deep")) == 0o750
    assert mode_of(fim.t("sub", "b.conf")) == 0o640
    assert os.path.isdir(moved)                 # what was moved: left
    assert try_open(fim.t("sub", "b.conf"), "append") == 13   # watched
    # sub is a new inode, which the baseline does not have until approve:
    # after a reload it is still the directory expected there
    os.kill(status(fim)["pid"], signal.SIGHUP)
    wait_until(lambda: status(fim)["reloads"] == 1, "reloaded")
    rc, err = op("import os, sys; os.chmod(sys.argv[1], 0o777); "
                 "os.unlink(sys.argv[1] + '/b.conf')", fim.t("sub"))
    assert rc == 0, err
    wait_until(lambda: mode_of(fim.t("sub")) == 0o755, "mode back")
    m.wait_for(lambda e: by("restored", fim.t("sub", "b.conf"))(e) and
               e["fimguard"]["cause"] == "deleted", "restored after reload")
    assert content(fim.t("sub", "b.conf")) == "b trusted\n"
    tree_is_baseline(fim, m)


@pytest.mark.parametrize("mode", ["enforce", "audit"])
def test_dir_moved_away_and_back_is_still_watched(fim, mode):
    """mv sub away and straight back: the same directory, which is
    watched again, so what happens in it later is still seen. (In
    enforce mode the monitor may be first: then sub is made again, the
    moved one quarantined, and the move back fails; sub is watched all
    the same.)"""
    fim.mkdir("sub")
    fim.write("sub/b.conf", b"b trusted\n")
    fim.rule(restore="yes")
    fim.init()
    m = Monitor(fim, mode)
    try:
        d, f = fim.t("sub"), fim.t("sub", "b.conf")
        rc, err = op("import os, sys\n"
                     "os.rename(sys.argv[1], sys.argv[2])\n"
                     "try:\n"
                     "    os.rename(sys.argv[2], sys.argv[1])\n"
                     "except OSError:\n"
                     "    pass\n"
                     "open(sys.argv[1] + '.back', 'w').close()\n",
                     d, d + ".x")
        assert rc == 0, err
        # the marker after the move back: both renames were handled
        m.wait_for(by("created", d + ".back"), "the marker")
        rc, err = op("import os, sys; os.unlink(sys.argv[1])", f)
        assert rc == 0, err
        m.wait_for(by("deleted", f), "deleted, seen in the directory")
        if mode == "enforce":
            wait_restored(m, f, "deleted")
            assert content(f) == "b trusted\n"
    finally:
        m.stop()


def test_dir_brought_back_with_something_added_is_swept(dirs):
    """mv sub out of the tree, add a file to it there (nothing watches
    it), mv it back: what came back with it is a new entry, quarantined
    (or, when the monitor made sub again first, the move back fails and
    the file never enters)."""
    fim, m = dirs.fim, dirs
    away = os.path.join(fim.outside, "sub.x")
    rc, err = op("import os, sys\n"
                 "os.rename(sys.argv[1], sys.argv[2])\n"
                 "open(sys.argv[2] + '/evil.conf', 'w').write('evil')\n"
                 "try:\n"
                 "    os.rename(sys.argv[2], sys.argv[1])\n"
                 "except OSError:\n"
                 "    pass\n", fim.t("sub"), away)
    assert rc == 0, err
    evil = fim.t("sub", "evil.conf")
    if os.path.exists(away):        # sub made again first: it stays out
        m.wait_for(by("restored", fim.t("sub")), "sub made again")
    else:                           # it came back: what it brought, out
        quarantined(m, evil)
    wait_until(lambda: not os.path.lexists(evil), "nothing added is left")
    assert content(fim.t("sub", "b.conf")) == "b trusted\n"
    tree_is_baseline(fim, m)


def test_rmdir_is_undone(dirs):
    fim, m = dirs.fim, dirs
    d = fim.t("empty")
    rc, err = op("import os, sys; os.rmdir(sys.argv[1])", d)
    assert rc == 0, err
    m.wait_for(by("deleted", d), "deleted")
    m.wait_for(by("restored", d), "restored")
    assert os.path.isdir(d)
    assert mode_of(d) == 0o750
    tree_is_baseline(fim, m)


def test_symlink_removed_or_chowned_is_undone(dirs):
    fim, m = dirs.fim, dirs
    link = fim.t("wants", "x.service")
    rc, err = op("import os, sys; os.unlink(sys.argv[1])", link)
    assert rc == 0, err
    m.wait_for(by("deleted", link), "deleted")
    m.wait_for(by("restored", link), "restored")
    assert os.readlink(link) == "../a.conf"
    rc, err = op("import os, sys; os.chown(sys.argv[1], 65534, 65534, "
                 "follow_symlinks=False)", link)
    assert rc == 0, err
    ev = m.wait_for(by("attributes-changed", link), "attributes-changed")[0]
    assert "uid" in ev["fimguard"]["changes"]
    wait_until(lambda: os.lstat(link).st_uid == 0, "owner back")
    tree_is_baseline(fim, m)


def test_dir_chmod_chown_are_undone(dirs):
    fim, m = dirs.fim, dirs
    d = fim.t("sub")
    rc, err = op("import os, sys; os.chmod(sys.argv[1], 0o777)", d)
    assert rc == 0, err
    ev = m.wait_for(by("attributes-changed", d), "attributes-changed")[0]
    assert "mode" in ev["fimguard"]["changes"]
    wait_until(lambda: mode_of(d) == 0o755, "mode 0755 back")
    rc, err = op("import os, sys; os.chown(sys.argv[1], 65534, 65534)", d)
    assert rc == 0, err
    wait_until(lambda: os.stat(d).st_uid == 0 and os.stat(d).st_gid == 0,
               "owner back")
    assert [e for e in m.events() if by("restored", d)(e)]
    tree_is_baseline(fim, m)


def root_rule(fim, parts):
    """A rule whose root is tree/<parts>/root, with two files."""
    root = fim.t(*parts, "root")
    os.makedirs(root)
    for d in [fim.t(*parts[:i + 1]) for i in range(len(parts))] + [root]:
        os.chmod(d, 0o755)
    fim.write(os.path.join(root, "f.conf"), b"f trusted\n")
    fim.write(os.path.join(root, "g.conf"), b"g trusted\n", mode=0o600)
    fim.rule(paths=root, restore="yes")
    fim.init()
    return root


@pytest.mark.parametrize("moved", ["root", "parent"])
def test_rule_root_or_its_parent_renamed_is_undone(fim, moved):
    root = root_rule(fim, ["p"])
    what = root if moved == "root" else fim.t("p")
    m = Monitor(fim, "enforce")
    try:
        rc, err = op("import os, sys; os.rename(sys.argv[1], sys.argv[2])",
                     what, what + ".old")
        assert rc == 0, err
        m.wait_for(by("restored", what), "restored")
        assert content(os.path.join(root, "f.conf")) == "f trusted\n"
        assert mode_of(os.path.join(root, "g.conf")) == 0o600
        assert mode_of(fim.t("p")) == 0o755
        assert os.path.isdir(what + ".old")
        assert try_open(os.path.join(root, "f.conf"), "append") == 13
    finally:
        m.stop()
    fim.run("check", expect=0)


def test_audit_reports_dir_and_symlink_changes_only(fim):
    fim.write("a.conf", b"a\n")
    fim.mkdir("empty")
    os.symlink("a.conf", fim.t("l"))
    fim.rule(restore="yes")
    fim.init()
    m = Monitor(fim, "audit")
    try:
        rc, err = op("import os, sys; os.rmdir(sys.argv[1]); "
                     "os.unlink(sys.argv[2])", fim.t("empty"), fim.t("l"))
        assert rc == 0, err
        m.wait_for(by("deleted", fim.t("empty")), "deleted dir")
        m.wait_for(by("deleted", fim.t("l")), "deleted link")
        time.sleep(0.5)
        assert not os.path.lexists(fim.t("empty"))
        assert not os.path.lexists(fim.t("l"))
        assert not [e for e in m.events()
                    if e["event"]["action"] == "restored"]
    finally:
        m.stop()


@pytest.fixture
def other_fs(fim):
    """The protected tree on a tmpfs of its own: the state directory
    (and so the quarantine) is on another filesystem, as /etc and
    /var/lib can be."""
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755",
                    "tmpfs", fim.tree], check=True, timeout=20)
    try:
        yield fim
    finally:
        subprocess.run(["umount", "-l", fim.tree], timeout=20)


def test_quarantine_across_filesystems(other_fs):
    """rename(2) cannot cross filesystems (EXDEV): the entry is copied
    through fds, then removed; approve copies it back."""
    fim = other_fs
    fim.write("a.conf", b"a\n")
    fim.rule(restore="yes", exclude="*.tmp")
    fim.init()
    m = Monitor(fim, "enforce")
    try:
        # written whole under an excluded name, then renamed into place
        # (a copy takes what the file holds when it is taken)
        path = fim.t("evil.conf")
        rc, err = op("import os, sys\n" + CREATE.replace(
            "sys.argv[1]", "sys.argv[1] + '.tmp'") +
            "os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n",
            path, "evil across\n", "640")
        assert rc == 0, err
        ev = quarantined(m, path)
        q = ev["fimguard"]["quarantine"]
        assert q["method"] == "copied", ev
        wait_until(lambda: not os.path.lexists(path), "gone from the tree")
        st = os.lstat(q["path"])
        assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o600, 0)
        with open(q["path"]) as f:
            assert f.read() == "evil across\n"
        assert ev["file"]["hash"]["sha256"] == sha256_bytes(b"evil across\n")
        assert ev["file"]["mode"] == "0640"

        # a directory, made under an excluded name and renamed in
        rc, err = op("import os, sys\n"
                     "d = sys.argv[1] + '.tmp'\n"
                     "os.mkdir(d); os.mkdir(d + '/in')\n"
                     "open(d + '/in/x', 'w').write('x')\n"
                     "os.symlink('in/x', d + '/l')\n"
                     "os.mkfifo(d + '/p')\n"
                     "os.rename(d, sys.argv[1])\n", fim.t("evil.d"))
        assert rc == 0, err
        ev = quarantined(m, fim.t("evil.d"))
        kept = ev["fimguard"]["quarantine"]["path"]
        assert ev["fimguard"]["quarantine"]["method"] == "copied"
        wait_until(lambda: not os.path.lexists(fim.t("evil.d")), "dir gone")
        assert sorted(os.listdir(kept)) == ["in", "l"]
        assert os.readlink(os.path.join(kept, "l")) == "in/x"
        with open(os.path.join(kept, "in", "x")) as f:
            assert f.read() == "x"

        fim.run("approve", path, expect=0)
        assert content(path) == "evil across\n"
        assert mode_of(path) == 0o640
        assert not os.path.lexists(q["path"])
        time.sleep(0.5)
        assert len([e for e in m.events() if by("quarantined", path)(e)]) == 1
    finally:
        m.stop()
    fim.run("check", expect=0)
