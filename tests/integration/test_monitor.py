"""fimguard run: real fanotify permission events on scratch files.

Safety: a monitor holding permission marks that stops answering freezes
every opener of the marked files. So every monitor runs under
`timeout -s KILL`, in its own session, and is stopped (SIGTERM, then
SIGKILL of the whole session) at teardown; and this test process never
opens a protected file itself while a monitor runs: every such open is
done by a child with a timeout (op()), which the test can abandon."""

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import FIMGUARD, Fim, sha256_bytes

PY = "/usr/bin/python3"
OP_TIMEOUT = 10


class Monitor:
    def __init__(self, fim, mode="audit", extra=(), env=None,
                 close_stdin=False):
        self.fim = fim
        self.err_path = os.path.join(fim.base, "monitor.err")
        self.out_path = os.path.join(fim.base, "monitor.out")
        cmd = ["timeout", "-s", "KILL", "180", FIMGUARD, "-c", fim.conf,
               "-p", fim.policy, "-s", fim.state, "run", "--mode", mode,
               "--foreground", *extra]
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.p = subprocess.Popen(cmd, stdout=out, stderr=err,
                                      stdin=subprocess.DEVNULL, env=env,
                                      start_new_session=True,
                                      preexec_fn=(lambda: os.close(0))
                                      if close_stdin else None)
        deadline = time.time() + 20
        while time.time() < deadline:
            if "monitoring" in self.stderr():
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        pytest.fail(f"monitor did not start: {self.stderr()}")

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def kill(self):
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.p.wait(timeout=30)

    def stop(self, timeout=15):
        """SIGTERM and wait; SIGKILL if it does not stop. Returns the
        exit status of the monitor (through timeout(1))."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail("monitor did not stop on SIGTERM")
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self.p.returncode

    def events(self):
        if not os.path.exists(self.fim.events):
            return []
        with open(self.fim.events, "rb") as f:
            data = f.read()
        # a line being written can be read half done: whole lines only
        data = data[:data.rfind(b"\n") + 1]
        return [json.loads(l) for l in data.decode().splitlines() if l]

    def wait_for(self, pred, what, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            hits = [e for e in self.events() if pred(e)]
            if hits:
                return hits
            time.sleep(0.05)
        pytest.fail(f"no event {what} within {timeout}s; have "
                    f"{[(e['event']['action'], e['file'].get('path')) for e in self.events()]}"
                    f"\nstderr: {self.stderr()}")


def op(code, *args, timeout=OP_TIMEOUT):
    """Run python code in a child with a timeout; returns (rc, stderr).
    rc 13 means the open got EPERM (see OPEN_SNIPPET)."""
    p = subprocess.run([PY, "-c", code, *args], capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stderr


OPEN_SNIPPET = """
import ctypes, errno, os, sys
path, how = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
def sysopen(nr, *args):
    fd = libc.syscall(nr, *args)
    if fd < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return fd
try:
    p = path.encode()
    if how == "wronly":
        fd = os.open(path, os.O_WRONLY)
    elif how == "rdwr":
        fd = os.open(path, os.O_RDWR)
    elif how == "trunc":
        fd = os.open(path, os.O_RDONLY | os.O_TRUNC)
    elif how == "append":
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    elif how == "creat-existing":
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    elif how == "creat":
        fd = sysopen(85, ctypes.c_char_p(p), 0o644)
    elif how == "open":
        fd = sysopen(2, ctypes.c_char_p(p), os.O_WRONLY)
    elif how == "openat2":
        how_s = (ctypes.c_uint64 * 3)(os.O_WRONLY, 0, 0)
        fd = sysopen(437, -100, ctypes.c_char_p(p), ctypes.byref(how_s), 24)
    elif how == "read":
        fd = os.open(path, os.O_RDONLY)
        os.read(fd, 100)
    else:
        sys.exit(99)
    if how != "read":
        os.write(fd, b"EVIL\\n")
    os.close(fd)
except PermissionError:
    sys.exit(13)
"""

FORMS = ["wronly", "rdwr", "trunc", "append", "creat-existing", "creat",
         "open", "openat2"]


def try_open(path, how):
    rc, err = op(OPEN_SNIPPET, path, how)
    assert rc in (0, 13), err
    return rc


@pytest.fixture
def tree(fim):
    fim.write("a.conf", b"alpha\n")
    fim.write("b.conf", b"bravo\n")
    fim.write("c.conf", b"charlie\n")
    fim.rule(writers=os.path.realpath(shutil.which("cp")))
    fim.init()
    return fim


@pytest.fixture
def audit(tree):
    m = Monitor(tree, "audit")
    yield m
    m.stop()


@pytest.fixture
def enforce(tree):
    m = Monitor(tree, "enforce")
    yield m
    m.stop()


def by(action, path):
    return lambda e: e["event"]["action"] == action and \
        e["file"].get("path") == path


def test_audit_write_allowed_and_reported(audit):
    fim, m = audit.fim, audit
    path = fim.t("a.conf")
    assert try_open(path, "append") == 0
    ev = m.wait_for(by("write-allowed", path), "write-allowed")[0]
    assert ev["process"]["executable"] == os.path.realpath(PY)
    assert ev["process"]["pid"] > 0
    assert ev["fimguard"]["decision"] == "audit"
    assert ev["fimguard"]["intent"] == "write"
    assert ev["fimguard"]["mode"] == "audit"
    assert ev["event"]["outcome"] == "success"
    assert ev["user"]["id"] == "0"
    mod = m.wait_for(by("modified", path), "modified")[0]
    assert mod["file"]["hash"]["sha256"] == sha256_bytes(b"alpha\nEVIL\n")
    assert mod["fimguard"]["baseline"]["sha256"] == sha256_bytes(b"alpha\n")


def test_audit_read_is_silent(audit):
    fim, m = audit.fim, audit
    assert try_open(fim.t("b.conf"), "read") == 0
    # A write elsewhere, after the read, marks the point in the stream.
    assert try_open(fim.t("c.conf"), "append") == 0
    m.wait_for(by("modified", fim.t("c.conf")), "marker")
    assert [e for e in m.events() if e["file"].get("path") == fim.t("b.conf")] == []


def test_audit_identical_rewrite_is_not_modified(audit):
    fim, m = audit.fim, audit
    rc, err = op("import sys; open(sys.argv[1], 'wb').write(b'bravo\\n')",
                 fim.t("b.conf"))
    assert rc == 0, err
    m.wait_for(by("write-allowed", fim.t("b.conf")), "write-allowed")
    assert try_open(fim.t("c.conf"), "append") == 0
    m.wait_for(by("modified", fim.t("c.conf")), "marker")
    assert not [e for e in m.events() if by("modified", fim.t("b.conf"))(e)]


def test_repeated_change_away_from_baseline_is_reported_each_time(audit):
    """Issue 9 case 6: A->B reported, B->A (the baseline) silent, A->B
    again reported again: the content last reported is forgotten once
    the file is back to the baseline."""
    fim, m = audit.fim, audit
    path, marker = fim.t("b.conf"), fim.t("c.conf")
    put = "import sys; open(sys.argv[1], 'wb').write(sys.argv[2].encode())"
    changed = sha256_bytes(b"changed\n")

    def reported():
        return [e for e in m.events() if by("modified", path)(e) and
                e["file"]["hash"]["sha256"] == changed]

    for n, marks in ((1, "x\n"), (2, "xy\n")):
        assert op(put, path, "changed\n")[0] == 0
        deadline = time.time() + 10
        while time.time() < deadline and len(reported()) < n:
            time.sleep(0.05)
        assert len(reported()) == n, [(e["event"]["action"],
                                       e["file"]["path"]) for e in m.events()]
        assert op(put, path, "bravo\n")[0] == 0        # the baseline again
        # the close-write queue is in order: once the marker's change is
        # reported, the return to the baseline has been judged (silent)
        assert op(put, marker, marks)[0] == 0
        m.wait_for(lambda e: by("modified", marker)(e) and
                   e["file"]["hash"]["sha256"] == sha256_bytes(
                       marks.encode()), "marker")
    assert len(reported()) == 2
    assert not [e for e in m.events() if by("modified", path)(e) and
                e["file"]["hash"]["sha256"] == sha256_bytes(b"bravo\n")]


@pytest.mark.parametrize("how", FORMS)
def test_enforce_denies_every_write_form(enforce, how):
    fim, m = enforce.fim, enforce
    path = fim.t("a.conf")
    assert try_open(path, how) == 13
    ev = m.wait_for(by("write-denied", path), "write-denied")[0]
    assert ev["event"]["outcome"] == "failure"
    assert ev["fimguard"]["decision"] == "deny"
    assert ev["process"]["executable"] == os.path.realpath(PY)
    with open(path, "rb") as f:        # reading is never blocked
        assert f.read() == b"alpha\n"


def test_enforce_allows_reads(enforce):
    assert try_open(enforce.fim.t("a.conf"), "read") == 0


def test_enforce_allowed_writer(enforce):
    fim, m = enforce.fim, enforce
    src = os.path.join(fim.outside, "new")
    with open(src, "wb") as f:
        f.write(b"from cp\n")
    p = subprocess.run(["cp", src, fim.t("b.conf")], capture_output=True,
                       timeout=OP_TIMEOUT)
    assert p.returncode == 0, p.stderr
    ev = m.wait_for(by("write-allowed", fim.t("b.conf")), "write-allowed")[0]
    assert ev["fimguard"]["decision"] == "writer"
    mod = m.wait_for(by("modified", fim.t("b.conf")), "modified")[0]
    assert mod["file"]["hash"]["sha256"] == sha256_bytes(b"from cp\n")


def test_slow_writer_is_reported_once_with_final_content(audit):
    # O_TRUNC raises MODIFY on an empty file before the writer writes:
    # the report must wait for the close and cite what was written.
    fim, m = audit.fim, audit
    rc, err = op("import sys, time\n"
                 "f = open(sys.argv[1], 'wb'); f.flush(); time.sleep(0.05)\n"
                 "f.write(b'slow\\n'); time.sleep(0.05); f.close()",
                 fim.t("b.conf"))
    assert rc == 0, err
    mod = m.wait_for(by("modified", fim.t("b.conf")), "modified")
    assert try_open(fim.t("c.conf"), "append") == 0
    m.wait_for(by("modified", fim.t("c.conf")), "marker")
    mods = [e for e in m.events() if by("modified", fim.t("b.conf"))(e)]
    assert [e["file"]["hash"]["sha256"] for e in mods] == \
        [sha256_bytes(b"slow\n")]


def test_self_protection_in_audit(audit):
    fim, m = audit.fim, audit
    for path in (fim.baseline_file, os.path.join(fim.state, "hmac.key"),
                 fim.conf, os.path.join(fim.policy, "10-test.rules")):
        assert try_open(path, "append") == 13, path
        ev = m.wait_for(by("write-denied", path), f"denied {path}")[0]
        assert ev["fimguard"]["decision"] == "self-protection"
    fim.run("check", expect=0)    # and the baseline is intact


def test_sigterm_stops_cleanly(tree):
    m = Monitor(tree, "enforce")
    assert m.stop() == 0
    # the marks are gone with the monitor: writes pass again
    assert try_open(tree.t("a.conf"), "append") == 0


def test_kill9_under_load_leaves_no_stuck_opener(tree):
    m = Monitor(tree, "enforce")
    loop = ("import sys, os\n"
            "for i in range(200000):\n"
            "    fd = os.open(sys.argv[1], os.O_RDONLY); os.close(fd)\n")
    readers = [subprocess.Popen([PY, "-c", loop, tree.t("a.conf")])
               for _ in range(4)]
    time.sleep(0.5)
    m.kill()
    for r in readers:
        try:
            assert r.wait(timeout=60) == 0
        except subprocess.TimeoutExpired:
            r.kill()
            pytest.fail("an opener stayed blocked after the monitor died")


# ---- what permission events cannot stop: detected, and restored ----

@pytest.fixture
def restoring(fim):
    for name in ("a.conf", "b.conf", "c.conf", "d.conf"):
        fim.write(name, f"{name} trusted\n".encode(), mode=0o640)
    fim.rule(restore="yes")
    fim.init()
    m = Monitor(fim, "enforce")
    yield m
    m.stop()


def content(path):
    rc, out = op("import sys; sys.stderr.write(open(sys.argv[1]).read())",
                 path)
    assert rc == 0
    return out


def wait_restored(m, path, cause):
    ev = m.wait_for(lambda e: by("restored", path)(e) and
                    e["fimguard"].get("cause", cause) == cause,
                    f"restored {path}")[0]
    assert ev["event"]["outcome"] == "success", ev
    return ev


def test_unlink_is_restored(restoring):
    fim, m = restoring.fim, restoring
    path = fim.t("a.conf")
    rc, err = op("import os, sys; os.unlink(sys.argv[1])", path)
    assert rc == 0, err
    m.wait_for(by("deleted", path), "deleted")
    wait_restored(m, path, "deleted")
    assert content(path) == "a.conf trusted\n"
    st = os.stat(path)
    assert st.st_mode & 0o7777 == 0o640
    # the new inode is protected again
    assert try_open(path, "append") == 13


# a name that would end a log line and colour the reader's terminal
NASTY = "evil\n\x1b[31mname"
NASTY_ESCAPED = "evil\\n\\x1b[31mname"


def raw_control_lines(text):
    """Lines (split on the newlines that end them) holding another
    control byte: a raw name in a log line."""
    return [l for l in text.split("\n")
            if any(ord(c) < 0x20 or c == "\x7f" for c in l)]


def test_names_in_monitor_log_lines_are_escaped(fim):
    path = fim.write(NASTY, b"trusted\n")
    fim.rule(restore="yes")
    fim.init()
    # without its vault copy the restore fails, and the log says which
    # file: a line that names it
    shutil.rmtree(os.path.join(fim.state, "vault"))
    m = Monitor(fim, "enforce")
    try:
        rc, err = op("import os, sys; os.unlink(sys.argv[1])", path)
        assert rc == 0, err
        m.wait_for(lambda e: by("restore-failed", path)(e) and
                   e["event"]["outcome"] == "failure", "restore failed")
        deadline = time.time() + 10
        while time.time() < deadline and "restore failed" not in m.stderr():
            time.sleep(0.05)
    finally:
        m.stop()
    err = m.stderr()
    assert NASTY_ESCAPED + ": restore failed" in err, err
    assert raw_control_lines(err) == [], err


def test_rename_over_is_restored(restoring):
    fim, m = restoring.fim, restoring
    path = fim.t("b.conf")
    evil = os.path.join(fim.outside, "evil")
    with open(evil, "w") as f:
        f.write("evil\n")
    rc, err = op("import os, sys; os.rename(sys.argv[1], sys.argv[2])",
                 evil, path)
    assert rc == 0, err
    ev = m.wait_for(by("renamed", path), "renamed")[0]
    wait_restored(m, path, "renamed over")
    assert content(path) == "b.conf trusted\n"
    assert ev["rule"]["name"] == "tree"


def test_truncate_syscall_is_restored(restoring):
    """truncate(2) never opens the file: no permission event. It is
    seen as a modification and undone."""
    fim, m = restoring.fim, restoring
    path = fim.t("c.conf")
    rc, err = op("import os, sys; os.truncate(sys.argv[1], 0)", path)
    assert rc == 0, err
    mod = m.wait_for(by("modified", path), "modified")[0]
    assert mod["file"]["hash"]["sha256"] == sha256_bytes(b"")
    wait_restored(m, path, "modified")
    assert content(path) == "c.conf trusted\n"


def test_chmod_chown_are_restored(restoring):
    fim, m = restoring.fim, restoring
    path = fim.t("d.conf")
    rc, err = op("import os, sys; os.chmod(sys.argv[1], 0o666); "
                 "os.chown(sys.argv[1], 65534, 65534)", path)
    assert rc == 0, err
    ev = m.wait_for(lambda e: by("attributes-changed", path)(e),
                    "attributes-changed")[0]
    assert "mode" in ev["fimguard"]["changes"] or "uid" in ev["fimguard"]["changes"]
    deadline = time.time() + 10
    while time.time() < deadline:
        st = os.stat(path)
        if st.st_mode & 0o7777 == 0o640 and st.st_uid == 0:
            break
        time.sleep(0.05)
    st = os.stat(path)
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o640, 0, 0)
    fim.run("check", expect=0)


def test_setgid_file_of_another_group_is_restored_whole(fim):
    # restoring it needs CAP_FSETID once the monitor dropped its other
    # capabilities: without it, chmod of a file whose group is not ours
    # silently clears the set-gid bit
    path = fim.write("sg.conf", b"setgid\n", mode=0o640)
    os.chown(path, 0, 8)                    # group mail
    os.chmod(path, 0o2750)
    fim.rule(restore="yes")
    fim.init()
    m = Monitor(fim, "enforce")
    try:
        rc, err = op("import os, sys; os.unlink(sys.argv[1])", path)
        assert rc == 0, err
        wait_restored(m, path, "deleted")
        st = os.stat(path)
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o2750, 0, 8)
    finally:
        m.stop()
    fim.run("check", expect=0)


def test_new_file_in_protected_dir_is_reported_and_watched(fim):
    """new_files = report: a new file is reported and protected from
    then on (quarantine, the default with restore = yes: test_tree.py)."""
    fim.write("a.conf", b"a\n")
    fim.rule(restore="yes", new_files="report")
    fim.init()
    m = Monitor(fim, "enforce")
    try:
        path = fim.t("new.conf")
        rc, err = op("import sys; open(sys.argv[1], 'w').write('x')", path)
        assert rc == 0, err
        m.wait_for(by("created", path), "created")
        # from now on it is protected like the rest
        assert try_open(path, "append") == 13
    finally:
        m.stop()


def test_audit_mode_does_not_restore(fim):
    fim.write("a.conf", b"trusted\n")
    fim.rule(restore="yes")
    fim.init()
    m = Monitor(fim, "audit")
    try:
        rc, err = op("import os, sys; os.unlink(sys.argv[1])", fim.t("a.conf"))
        assert rc == 0, err
        m.wait_for(by("deleted", fim.t("a.conf")), "deleted")
        time.sleep(0.5)
        assert not os.path.exists(fim.t("a.conf"))
        assert not [e for e in m.events() if e["event"]["action"] == "restored"]
    finally:
        m.stop()


# ---- status and reload ----

def replace_file(path, text):
    """Write a protected file the way editors do: a new file renamed
    over it (no open of the protected inode for writing)."""
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def status(fim, expect=0):
    p = fim.run("status", "--json", expect=expect, timeout=20)
    return json.loads(p.stdout) if expect == 0 else None


def test_status_reports_counters(enforce):
    fim, m = enforce.fim, enforce
    st = status(fim)
    assert st["mode"] == "enforce" and st["files"] >= 3 and st["rules"] == 1
    assert try_open(fim.t("a.conf"), "wronly") == 13
    m.wait_for(by("write-denied", fim.t("a.conf")), "write-denied")
    st = status(fim)
    assert st["denied"] >= 1 and st["writes"] >= 1 and st["events"] >= 1
    assert st["pid"] == int(open(f"/proc/{m.p.pid}/task/{m.p.pid}/children").read().split()[0])
    human = fim.run("status", expect=0).stdout
    assert "mode         enforce" in human


def test_status_without_monitor(tree):
    tree.run("status", expect=2)


def test_reload_applies_new_policy(enforce):
    fim, m = enforce.fim, enforce
    other = os.path.join(fim.base, "other")
    os.mkdir(other)
    with open(os.path.join(other, "x.conf"), "w") as f:
        f.write("x\n")
    pol = os.path.join(fim.policy, "10-test.rules")
    with open(pol) as f:
        text = f.read()
    replace_file(pol, text + f"[rule other]\npaths = {other}/\n")
    # approve tells the running monitor to reload (SIGHUP)
    p = fim.run("approve", "--all", "--reason", "new rule", expect=0)
    assert "reloads the new baseline" in p.stderr
    deadline = time.time() + 15
    while time.time() < deadline and status(fim)["reloads"] < 1:
        time.sleep(0.1)
    assert status(fim)["reloads"] == 1, m.stderr()
    assert try_open(os.path.join(other, "x.conf"), "append") == 13
    assert try_open(fim.t("a.conf"), "append") == 13


def fanotify_marks(pid):
    """Inode numbers marked on each fanotify group of pid (fd -> set),
    from /proc/<pid>/fdinfo: one "fanotify ino:<hex> ..." line a mark."""
    groups = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:[fanotify]":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                groups[int(fd)] = {int(l.split()[1][4:], 16) for l in f
                                   if l.startswith("fanotify ino:")}
        except OSError:  # closed meanwhile, or a path beyond PATH_MAX
            pass
    return groups


def test_reload_removes_the_marks_of_what_the_policy_dropped(fim):
    fim.write("a.conf", b"alpha\n")
    fim.write("sub/b.conf", b"bravo\n")
    keep, drop = fim.t("a.conf"), fim.t("sub/b.conf")
    pol = fim.rule(paths=f"{keep} {drop}", recursive=None)
    fim.init()
    m = Monitor(fim, "enforce")
    try:
        pid = status(fim)["pid"]
        a, b, sub = (os.stat(p).st_ino for p in (keep, drop, fim.t("sub")))
        before = fanotify_marks(pid)
        assert any(b in g for g in before.values()), before
        assert any(sub in g for g in before.values())  # its directory
        assert try_open(drop, "append") == 13
        replace_file(pol, f"[rule tree]\npaths = {keep}\n")
        os.kill(pid, signal.SIGHUP)
        deadline = time.time() + 15
        while time.time() < deadline and status(fim)["reloads"] < 1:
            time.sleep(0.05)
        assert status(fim)["reloads"] == 1, m.stderr()
        # the new instance's worker removes them: every group forgets the
        # dropped file and its directory; what is still covered stays
        deadline = time.time() + 10
        while time.time() < deadline and any(
                b in g or sub in g for g in fanotify_marks(pid).values()):
            time.sleep(0.05)
        after = fanotify_marks(pid)
        assert not any(b in g or sub in g for g in after.values()), after
        assert sum(a in g for g in after.values()) == \
            sum(a in g for g in before.values()) >= 2
        assert try_open(drop, "append") == 0      # no longer protected
        assert try_open(keep, "append") == 13
    finally:
        m.stop()


def test_reload_with_bad_policy_keeps_running(enforce):
    fim, m = enforce.fim, enforce
    pol = os.path.join(fim.policy, "10-test.rules")
    replace_file(pol, "[rule broken]\npaths = relative/path\n")
    os.kill(int(status(fim)["pid"]), signal.SIGHUP)
    deadline = time.time() + 15
    while time.time() < deadline and "reload failed" not in m.stderr():
        time.sleep(0.1)
    assert "reload failed" in m.stderr()
    assert "is not absolute" in m.stderr()
    assert status(fim)["reloads"] == 0
    assert try_open(fim.t("a.conf"), "append") == 13   # old policy holds
    assert m.stop() == 0


def test_writer_open_before_start_is_listed_and_watched(tree):
    """A process that opened a protected file for writing before the
    monitor started is beyond permission events: it is listed at start,
    and what it writes later is still seen (FAN_MODIFY)."""
    fim = tree
    code = ("import os, sys\n"
            "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)\n"
            "print('ready', flush=True)\n"
            "sys.stdin.readline()\n"
            "os.write(fd, b'late\\n')\n"
            "print('written', flush=True)\n"
            "sys.stdin.readline()\n")
    child = subprocess.Popen([PY, "-c", code, fim.t("a.conf")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    m = None
    try:
        assert child.stdout.readline().strip() == "ready"
        m = Monitor(fim, "audit")
        ev = m.wait_for(by("preexisting-writer", fim.t("a.conf")),
                        "preexisting-writer")[0]
        assert ev["process"]["pid"] == child.pid
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "written"
        mod = m.wait_for(by("modified", fim.t("a.conf")), "modified")[0]
        assert mod["file"]["hash"]["sha256"] == sha256_bytes(b"alpha\nlate\n")
    finally:
        child.kill()
        child.wait(timeout=10)
        if m is not None:
            m.stop()


def test_modified_event_carries_a_diff_when_asked(fim):
    fim.write("text.conf", b"one\ntwo\nthree\n")
    fim.write("secret.key", b"s3cret\n")
    fim.write_policy(f"[rule text]\npaths = {fim.t('text.conf')}\ndiff = yes\n"
                     f"[rule secret]\npaths = {fim.t('secret.key')}\ndiff = no\n")
    fim.init()
    m = Monitor(fim, "audit")
    try:
        for name, data in (("text.conf", "one\nTWO\nthree\n"),
                           ("secret.key", "n3w\n")):
            rc, err = op("import sys; open(sys.argv[1], 'w').write(sys.argv[2])",
                         fim.t(name), data)
            assert rc == 0, err
        ev = m.wait_for(by("modified", fim.t("text.conf")), "modified")[0]
        assert ev["fimguard"]["diff"] == ("--- baseline\n+++ now\n"
                                          "@@ -1,3 +1,3 @@\n one\n-two\n"
                                          "+TWO\n three\n")
        sec = m.wait_for(by("modified", fim.t("secret.key")), "modified")[0]
        assert "diff" not in sec["fimguard"]
    finally:
        m.stop()
    # check reports the same diff
    p, evs = fim.check_json(expect=1)
    byp = {e["file"]["path"]: e for e in evs}
    assert byp[fim.t("text.conf")]["fimguard"]["diff"].startswith("--- baseline")
    assert "diff" not in byp[fim.t("secret.key")]["fimguard"]


def test_acl_added_is_reported_and_removed(restoring):
    fim, m = restoring.fim, restoring
    path = fim.t("a.conf")
    p = subprocess.run(["setfacl", "-m", "u:65534:rw", path],
                       capture_output=True, timeout=OP_TIMEOUT)
    if p.returncode != 0:
        pytest.skip(f"no ACLs here: {p.stderr!r}")
    ev = m.wait_for(by("attributes-changed", path), "attributes-changed")[0]
    assert "xattrs" in ev["fimguard"]["changes"]
    m.wait_for(by("restored", path), "restored")
    assert "system.posix_acl_access" not in os.listxattr(path)
    fim.run("check", expect=0)


def test_truncate_deny_blocks_truncate_syscall(fim):
    """truncate = deny: a pre-content group sees truncate(2) before it
    happens (ext4 here; tmpfs cannot, and the file is restored there)."""
    fim.write("a.conf", b"keep me\n")
    fim.rule(truncate="deny")
    fim.init()
    m = Monitor(fim, "enforce")
    try:
        if "truncate = deny not possible" in m.stderr():
            pytest.skip("this filesystem has no pre-content events")
        rc, err = op("import os, sys\n"
                     "try:\n"
                     "    os.truncate(sys.argv[1], 0)\n"
                     "except PermissionError:\n"
                     "    sys.exit(13)\n", fim.t("a.conf"))
        assert rc == 13, err
        ev = m.wait_for(by("write-denied", fim.t("a.conf")), "denied")[0]
        assert ev["fimguard"]["open"]["syscall"] == "truncate"
        assert try_open(fim.t("a.conf"), "read") == 0   # reads still pass
        assert content(fim.t("a.conf")) == "keep me\n"
    finally:
        m.stop()


@pytest.fixture(scope="session")
def uring_open(tmp_path_factory):
    out = tmp_path_factory.mktemp("uring") / "uring_open"
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "uring", "uring_open.c")
    p = subprocess.run(["cc", "-O1", "-o", str(out), src, "-luring"],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        pytest.skip(f"no liburing to build the io_uring opener: {p.stderr}")
    return str(out)


@pytest.mark.parametrize("how", ["inline", "async"])
def test_io_uring_open_is_unknown_intent(enforce, uring_open, how):
    """An io_uring open cannot be decoded (inline: the thread sits in
    io_uring_enter; async: an iou-wrk worker thread opens): unknown
    intent, denied in enforce mode (unknown_intent defaults to deny)."""
    fim, m = enforce.fim, enforce
    p = subprocess.run([uring_open, fim.t("a.conf")] +
                       (["async"] if how == "async" else []),
                       capture_output=True, timeout=OP_TIMEOUT)
    assert p.returncode == 13, p.stderr
    ev = m.wait_for(by("write-denied", fim.t("a.conf")), "denied")[0]
    assert ev["fimguard"]["intent"] == "unknown"
    assert ev["fimguard"]["decision"] == "unknown-denied"
    assert content(fim.t("a.conf")) == "alpha\n"


def test_reads_under_load_are_never_denied(enforce):
    """Regression: the permission thread can read an opener's
    /proc/<tid>/syscall before the opener is off the CPU ("running");
    that must be waited out, never taken as unknown intent (denied)."""
    fim = enforce.fim
    loop = ("import sys, os\n"
            "for i in range(20000):\n"
            "    fd = os.open(sys.argv[1], os.O_RDONLY); os.close(fd)\n")
    readers = [subprocess.Popen([PY, "-c", loop, fim.t("a.conf")],
                                stderr=subprocess.PIPE) for _ in range(4)]
    for r in readers:
        try:
            _, err = r.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            r.kill()
            pytest.fail("a reader hung")
        assert r.returncode == 0, err
    st = status(fim)
    assert st["denied"] == 0 and st["events"] >= 80000


def test_allowed_writer_rename_over_is_kept_and_watched(fim):
    """dpkg and rpm replace a file by renaming a new one over it: from an
    allowed writer that is reported and the new file protected, not
    undone. The writer is recognised while it runs (as a package manager
    does); one that is gone before the event is read counts as unknown
    and is undone (fail-secure)."""
    writer = os.path.join(fim.outside, "pkgtool")   # a python of its own
    shutil.copy(os.path.realpath(PY), writer)
    fim.write("a.conf", b"old\n")
    fim.rule(restore="yes", writers=writer)
    fim.init()
    m = Monitor(fim, "enforce")
    try:
        new = os.path.join(fim.outside, "a.conf.new")
        with open(new, "w") as f:
            f.write("packaged\n")
        p = subprocess.run([writer, "-c", "import os, sys, time; "
                            "os.rename(sys.argv[1], sys.argv[2]); "
                            "time.sleep(1)", new, fim.t("a.conf")],
                           capture_output=True, timeout=OP_TIMEOUT)
        assert p.returncode == 0, p.stderr
        m.wait_for(by("renamed", fim.t("a.conf")), "renamed")
        time.sleep(0.5)
        assert content(fim.t("a.conf")) == "packaged\n"
        assert not [e for e in m.events() if e["event"]["action"] == "restored"]
        assert try_open(fim.t("a.conf"), "append") == 13   # watched
    finally:
        m.stop()


def test_new_inode_at_protected_path_is_watched_without_restore(tree):
    """restore = no: a file renamed over a protected one is reported and
    the new inode protected at once (not left unwatched until a reload);
    the same for a protected file deleted and created again."""
    fim = tree
    m = Monitor(fim, "enforce")
    try:
        evil = os.path.join(fim.outside, "evil")
        with open(evil, "w") as f:
            f.write("evil\n")
        rc, err = op("import os, sys; os.rename(sys.argv[1], sys.argv[2])",
                     evil, fim.t("a.conf"))
        assert rc == 0, err
        m.wait_for(by("renamed", fim.t("a.conf")), "renamed")
        deadline = time.time() + 5
        while time.time() < deadline and try_open(fim.t("a.conf"), "append") != 13:
            time.sleep(0.1)
        assert try_open(fim.t("a.conf"), "append") == 13
        rc, err = op("import os, sys; os.unlink(sys.argv[1]); "
                     "open(sys.argv[1], 'w').write('again')", fim.t("b.conf"))
        assert rc == 0, err
        m.wait_for(by("deleted", fim.t("b.conf")), "deleted")
        deadline = time.time() + 5
        while time.time() < deadline and try_open(fim.t("b.conf"), "append") != 13:
            time.sleep(0.1)
        assert try_open(fim.t("b.conf"), "append") == 13
    finally:
        m.stop()


def test_stalled_permission_thread_fails_open(tree, tmp_path):
    """If the permission thread stops answering (here: its writev hangs,
    through an LD_PRELOAD shim), the watchdog ends the process within
    seconds, the kernel allows the blocked open, and the exit status is
    3. Without the watchdog the opener below would hang until killed."""
    fim = tree
    shim = tmp_path / "stall.so"
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "faults", "stall.c")
    p = subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(shim), src],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    old = dict(os.environ)
    os.environ["LD_PRELOAD"] = str(shim)
    os.environ["FAULT_STALL_ANSWERS"] = "1"
    os.environ["ASAN_OPTIONS"] = (old.get("ASAN_OPTIONS", "") +
                                  ":verify_asan_link_order=0").lstrip(":")
    try:
        m = Monitor(fim, "enforce")
    finally:
        os.environ.clear()
        os.environ.update(old)
    try:
        t0 = time.time()
        rc, err = op(OPEN_SNIPPET, fim.t("a.conf"), "read", timeout=30)
        assert rc == 0, err                  # released, not denied
        assert time.time() - t0 < 15
        m.p.wait(timeout=15)
        assert m.p.returncode == 3, m.stderr()
        assert "stalled" in m.stderr()
    finally:
        m.kill()


def test_excluded_new_file_is_not_watched(fim):
    """exclude applies to files created after the start too: an editor's
    swap file in an enforce-mode directory stays writable and silent."""
    fim.write("a.conf", b"a\n")
    fim.rule(exclude="*.swp")
    fim.init()
    m = Monitor(fim, "enforce")
    try:
        swp = fim.t(".a.conf.swp")
        rc, err = op("import sys; open(sys.argv[1], 'w').write('x')", swp)
        assert rc == 0, err
        # the marker: a new file the rule covers (new_files = report),
        # protected as soon as it is seen, so its creator's own open may
        # already be refused; it is reported either way
        other = fim.t("b.conf")
        rc, err = op("import os, sys; os.close(os.open(sys.argv[1], "
                     "os.O_RDONLY | os.O_CREAT, 0o644))", other)
        assert rc == 0, err
        m.wait_for(by("created", other), "created")
        assert try_open(swp, "append") == 0
        assert not [e for e in m.events() if e["file"].get("path") == swp]
    finally:
        m.stop()


def test_a_copy_renamed_away_is_not_protected_after_the_restore(restoring):
    """A file renamed out of the tree is put back from the vault; the
    inode that left is an ordinary file now: writable in enforce, and no
    event names the protected path for it. (Its marks stay until a
    reload: opens of it are answered, allowed, by a table lookup that
    finds nothing; docs/privileges.md.)"""
    fim, m = restoring.fim, restoring
    path = fim.t("c.conf")
    moved = os.path.join(fim.outside, "moved")
    old_ino = os.stat(path).st_ino
    rc, err = op("import os, sys; os.rename(sys.argv[1], sys.argv[2])",
                 path, moved)
    assert rc == 0, err
    wait_restored(m, path, "renamed away")
    assert os.stat(path).st_ino != old_ino
    rc, err = op("import sys; f = open(sys.argv[1], 'a'); f.write('x\\n')",
                 moved)
    assert rc == 0, err
    # a later event on the protected path proves the worker got past the
    # write to the copy
    rc, err = op("import sys; open(sys.argv[1], 'a')", fim.t("d.conf"))
    assert rc != 0 and "Operation not permitted" in err, err
    m.wait_for(by("write-denied", fim.t("d.conf")), "the later denial")
    assert not [e for e in m.events() if e["file"]["path"] == path and
                e["event"]["action"] in ("modified", "write-denied",
                                         "write-attempt")], m.events()
    assert content(path) == "c.conf trusted\n"


def test_the_creating_open_of_a_new_file_is_not_denied(tmp_path_factory):
    """A new file in a protected directory is protected from then on,
    but not before its creating open is decided: the creation event
    wakes the worker, which on a busy CPU preempts the creator between
    the inode's creation and the open's permission check (one start in
    eight here); marking it then denied the creator's own open, in
    enforce and in fimguard's own directories. Ten fresh monitors, the
    first creation after each start (when it happened most)."""
    for i in range(10):
        fim = Fim(str(tmp_path_factory.mktemp("create")))
        fim.write("a.conf", b"a\n")
        fim.rule(restore="yes", new_files="report")
        fim.init()
        m = Monitor(fim, "enforce")
        try:
            path = fim.t("new.conf")
            rc, err = op("import sys; open(sys.argv[1], 'w').write('x')",
                         path)
            assert rc == 0, (i, err)
            m.wait_for(by("created", path), "created")
        finally:
            m.stop()
