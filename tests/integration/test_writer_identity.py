"""Who made a change that no permission event shows (rename, unlink,
chmod, truncate(2)): the writer's identity must be the one the process
had when it made the change, not what it runs when the monitor gets to
the event (issue 8, case 3).

The attack: a protected file is changed behind a backlog of events (a
few hundred files created in a protected directory), and the process
then execs an allowed writer (here a copy of sleep(1)). A check of
/proc/<pid>/exe made when the event is handled sees the writer. How far
the worker is behind depends on the machine's load, so the tests make
it deterministic: the monitor's standard output (it writes every event
there in the foreground) is a pipe the test reads only once the attacker
has exec'd, and the worker blocks on it meanwhile.

Every monitor runs under `timeout -s KILL`, in its own session, and is
killed at teardown; the test process opens no protected file itself."""

import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

from conftest import FIMGUARD
from test_monitor import Monitor, PY, by, content, wait_restored

ATTACK = r"""
import os, stat, sys
tree, target, how, writer, evil, fail_first = sys.argv[1:7]
for i in range(300):     # "created" events: more than a pipe holds
    os.mknod(os.path.join(tree, "flood%d" % i), stat.S_IFREG | 0o644)
if fail_first == "1":
    # an exec of the writer that fails after the kernel opened it
    # (E2BIG): it must not vouch for what this process does next
    try:
        os.execv(writer, [writer, "x" * 200000])
    except OSError:
        pass
if how == "rename":
    os.rename(evil, target)
elif how == "unlink":
    os.unlink(target)
elif how == "chmod":
    os.chmod(target, 0o666)
elif how == "truncate":
    os.truncate(target, 0)
os.execv(writer, [writer, "5"])
"""


class PipedMonitor(Monitor):
    """A monitor whose standard output is a pipe read only after
    release(): until then the worker blocks writing events, as a worker
    behind a backlog would be."""

    def __init__(self, fim, mode):
        self.fim = fim
        self.err_path = os.path.join(fim.base, "monitor.err")
        self.out_path = os.path.join(fim.base, "monitor.out")
        self.drain = None
        cmd = ["timeout", "-s", "KILL", "180", FIMGUARD, "-c", fim.conf,
               "-p", fim.policy, "-s", fim.state, "run", "--mode", mode,
               "--foreground"]
        with open(self.err_path, "wb") as err:
            self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                                      stdin=subprocess.DEVNULL,
                                      start_new_session=True)
        deadline = time.time() + 20
        while time.time() < deadline and "monitoring" not in self.stderr():
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        if "monitoring" not in self.stderr():
            self.kill()
            pytest.fail(f"monitor did not start: {self.stderr()}")

    def release(self):
        def copy():
            with open(self.out_path, "wb") as out:
                shutil.copyfileobj(self.p.stdout, out)
        if self.drain is None:
            self.drain = threading.Thread(target=copy, daemon=True)
            self.drain.start()

    def stop(self, timeout=15):
        self.release()
        return super().stop(timeout)

    def wait_for(self, pred, what, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            hits = [e for e in self.events() if pred(e)]
            if hits:
                return hits
            time.sleep(0.05)
        seen = [(e["event"]["action"], e["file"].get("path"))
                for e in self.events() if e["event"]["action"] != "created"]
        pytest.fail(f"no event {what} within {timeout}s; have (besides "
                    f"created) {seen}\nstderr: {self.stderr()}")

    def kill(self):
        self.release()
        super().kill()


@pytest.fixture
def guarded(fim):
    """Enforce, restore = yes, one allowed writer: a copy of sleep."""
    fim.write("a.conf", b"trusted\n", mode=0o640)
    writer = os.path.join(fim.outside, "pkgtool")
    shutil.copy(shutil.which("sleep"), writer)
    fim.rule(restore="yes", writers=writer)
    fim.init()
    m = PipedMonitor(fim, "enforce")
    m.writer = writer
    yield m
    m.stop()


def start(m, argv, done):
    """Run argv (the attack) and release the worker once done(pid): the
    process has exec'd what it runs last."""
    p = subprocess.Popen(argv, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 20
        while time.time() < deadline and not done(p.pid):
            assert p.poll() is None, p.stderr.read()
            time.sleep(0.01)
        assert done(p.pid)
        m.release()
        return p
    except BaseException:
        p.kill()
        p.wait()
        raise


def runs(pid, exe, arg=None):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
        return os.readlink(f"/proc/{pid}/exe") == exe and \
            (arg is None or arg.encode() in args)
    except OSError:
        return False


def attack(m, how, fail_first=False):
    """Change a.conf behind the backlog, exec the writer; release the
    worker only once the exec is done."""
    fim = m.fim
    evil = os.path.join(fim.outside, "evil")
    with open(evil, "w") as f:
        f.write("evil\n")
    return start(m, [PY, "-c", ATTACK, fim.tree, fim.t("a.conf"), how,
                     m.writer, evil, "1" if fail_first else "0"],
                 lambda pid: runs(pid, m.writer))


@pytest.fixture
def attacker():
    procs = []
    yield procs
    for p in procs:
        p.kill()
        p.wait()


def wait_mode(path, mode, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline and os.stat(path).st_mode & 0o7777 != mode:
        time.sleep(0.05)
    return os.stat(path).st_mode & 0o7777


@pytest.mark.parametrize("how,cause", [("rename", "renamed over"),
                                       ("unlink", "deleted"),
                                       ("truncate", "modified")])
def test_exec_of_writer_after_change_is_restored(guarded, attacker, how,
                                                 cause):
    m = guarded
    path = m.fim.t("a.conf")
    attacker.append(attack(m, how))
    wait_restored(m, path, cause)
    assert content(path) == "trusted\n"


def test_exec_of_writer_after_chmod_is_restored(guarded, attacker):
    m = guarded
    path = m.fim.t("a.conf")
    attacker.append(attack(m, "chmod"))
    m.wait_for(by("attributes-changed", path), "attributes-changed")
    assert wait_mode(path, 0o640) == 0o640


def test_failed_exec_of_writer_before_change_vouches_for_nothing(guarded,
                                                                attacker):
    """An exec of the writer that fails, the change, then an exec that
    succeeds: fanotify merges the second exec event into the first one
    while both wait in the queue, so the only exec event sits before
    the change. Still restored."""
    m = guarded
    path = m.fim.t("a.conf")
    attacker.append(attack(m, "rename", fail_first=True))
    wait_restored(m, path, "renamed over")
    assert content(path) == "trusted\n"


def test_allowed_writer_changes_are_kept(fim):
    """A real allowed writer (a python of its own, started after the
    monitor, as a package manager is): its rename, unlink, chmod,
    truncate(2) and in-place write are kept, not undone."""
    writer = os.path.join(fim.outside, "pkgtool")
    shutil.copy(os.path.realpath(PY), writer)
    for name in ("r.conf", "u.conf", "c.conf", "t.conf", "w.conf"):
        fim.write(name, f"{name} old\n".encode(), mode=0o640)
    fim.rule(restore="yes", writers=writer)
    fim.init()
    m = Monitor(fim, "enforce")
    try:
        new = os.path.join(fim.outside, "r.conf.new")
        with open(new, "w") as f:
            f.write("packaged\n")
        code = ("import os, sys, time\n"
                "new, tree = sys.argv[1:3]\n"
                "j = lambda n: os.path.join(tree, n)\n"
                "os.rename(new, j('r.conf'))\n"
                "os.unlink(j('u.conf'))\n"
                "os.chmod(j('c.conf'), 0o600)\n"
                "os.truncate(j('t.conf'), 0)\n"
                "with open(j('w.conf'), 'a') as f: f.write('more\\n')\n"
                "time.sleep(1)\n")
        p = subprocess.run([writer, "-c", code, new, fim.tree],
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
        for name, action in (("r.conf", "renamed"), ("u.conf", "deleted"),
                             ("c.conf", "attributes-changed"),
                             ("t.conf", "modified"), ("w.conf", "modified")):
            m.wait_for(by(action, fim.t(name)), f"{action} {name}")
        time.sleep(0.5)
        assert not [e for e in m.events() if e["event"]["action"] == "restored"]
        assert content(fim.t("r.conf")) == "packaged\n"
        assert not os.path.exists(fim.t("u.conf"))
        assert os.stat(fim.t("c.conf")).st_mode & 0o7777 == 0o600
        assert content(fim.t("t.conf")) == ""
        assert content(fim.t("w.conf")) == "w.conf old\nmore\n"
    finally:
        m.stop()


def test_writer_that_runs_another_program_in_place(fim, attacker):
    """A real allowed writer, recognised (its own rename is kept), runs
    another program in its own process (exec, no fork); that program
    changes a file behind the backlog and execs the writer again. When
    the event is handled the process is the writer it was seen to be,
    but the exec of the writer waiting in the queue after the change
    gives it away: restored."""
    writer = os.path.join(fim.outside, "pkgtool")   # a python of its own
    shutil.copy(os.path.realpath(PY), writer)
    fim.write("a.conf", b"trusted\n", mode=0o640)
    fim.write("b.conf", b"b old\n", mode=0o640)
    fim.rule(restore="yes", writers=writer)
    fim.init()
    m = PipedMonitor(fim, "enforce")
    try:
        evil = os.path.join(fim.outside, "evil")
        new = os.path.join(fim.outside, "b.new")
        for path, text in ((evil, "evil\n"), (new, "b new\n")):
            with open(path, "w") as f:
                f.write(text)
        inner = ATTACK.replace('os.execv(writer, [writer, "5"])',
                               'os.execv(writer, [writer, "-c", '
                               '"import time; time.sleep(5)", "last"])')
        outer = ("import os, sys, time\n"
                 "time.sleep(1)\n"        # time to be recognised
                 f"os.rename({new!r}, {fim.t('b.conf')!r})\n"
                 "time.sleep(0.5)\n"
                 f"os.execv({PY!r}, [{PY!r}, '-c'] + sys.argv[1:])\n")
        attacker.append(start(m, [writer, "-c", outer, inner, fim.tree,
                                  fim.t("a.conf"), "rename", writer, evil,
                                  "0"],
                              lambda pid: runs(pid, writer, "last")))
        wait_restored(m, fim.t("a.conf"), "renamed over")
        assert content(fim.t("a.conf")) == "trusted\n"
        assert content(fim.t("b.conf")) == "b new\n"
        m.wait_for(by("renamed", fim.t("b.conf")), "renamed b.conf")
        assert not [e for e in m.events()
                    if by("restored", fim.t("b.conf"))(e)]
    finally:
        m.stop()


@pytest.fixture(scope="session")
def exec_race(tmp_path_factory):
    out = tmp_path_factory.mktemp("exec_race") / "exec_race"
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "writer", "exec_race.c")
    p = subprocess.run(["cc", "-O1", "-pthread", "-o", str(out), src],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return str(out)


def test_change_by_a_thread_while_another_execs_the_writer(fim, attacker,
                                                          exec_race):
    """One thread execs an allowed writer; another renames over the file
    after the kernel opened the writer (its exec event is already queued)
    and before the process image changes. The exec event sits before the
    change, and the process is the writer when the event is handled: it
    was not when it made the change. Restored."""
    writer = os.path.join(fim.outside, "pkgtool")   # a python of its own
    shutil.copy(os.path.realpath(PY), writer)
    fim.write("a.conf", b"trusted\n", mode=0o640)
    fim.rule(restore="yes", writers=writer)
    fim.init()
    m = PipedMonitor(fim, "enforce")
    try:
        flood = ATTACK[:ATTACK.index("if fail_first")]
        p = subprocess.run([PY, "-c", flood, fim.tree, "", "", "", "", ""],
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
        evil = os.path.join(fim.outside, "evil")
        # the renaming thread may be scheduled too late (after the exec
        # ended it): try again, with the worker still held back
        for _ in range(10):
            with open(evil, "w") as f:
                f.write("evil\n")
            p = subprocess.Popen([exec_race, fim.t("a.conf"), writer, evil],
                                 stderr=subprocess.PIPE)
            attacker.append(p)
            deadline = time.time() + 20
            while time.time() < deadline and not runs(p.pid, writer):
                assert p.poll() is None, p.stderr.read()
                time.sleep(0.01)
            assert runs(p.pid, writer)
            if not os.path.exists(evil):
                break
        assert not os.path.exists(evil), "the rename never fell in the exec"
        m.release()
        wait_restored(m, fim.t("a.conf"), "renamed over")
        assert content(fim.t("a.conf")) == "trusted\n"
    finally:
        m.stop()


# Run by the writer: a child (no exec: it runs the writer) with the pid
# given, through clone3's set_tid (root may pick a free pid).
CHILD_WITH_PID = r"""
import ctypes, os, signal, sys, time
args = (ctypes.c_uint64 * 11)()
want = (ctypes.c_int32 * 1)(int(sys.argv[1]))
args[4] = signal.SIGCHLD                    # exit_signal
args[8] = ctypes.addressof(want)            # set_tid
args[9] = 1                                 # set_tid_size
libc = ctypes.CDLL(None, use_errno=True)
pid = libc.syscall(435, ctypes.byref(args), 88)
if pid == 0:
    time.sleep(5)
    os._exit(0)
if pid < 0:
    sys.exit(ctypes.get_errno())
sys.stdout.write("%d\n" % pid)
sys.stdout.flush()
os.waitpid(pid, 0)
"""


def test_reused_pid_of_a_writers_child_is_not_the_writer(fim):
    """The process that renamed is gone; its pid now belongs to a child
    of a real allowed writer (a fork, no exec: it runs the writer) when
    the event is handled. The event's pidfd says the process that made
    the change is gone: restored."""
    writer = os.path.join(fim.outside, "pkgtool")   # a python of its own
    shutil.copy(os.path.realpath(PY), writer)
    fim.write("a.conf", b"trusted\n", mode=0o640)
    fim.rule(restore="yes", writers=writer)
    fim.init()
    m = PipedMonitor(fim, "enforce")
    child = None
    try:
        flood = ATTACK[:ATTACK.index("if fail_first")]
        p = subprocess.run([PY, "-c", flood, fim.tree, "", "", "", "", ""],
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
        evil = os.path.join(fim.outside, "evil")
        with open(evil, "w") as f:
            f.write("evil\n")
        p = subprocess.run([PY, "-c", "import os, sys; os.rename(*sys.argv[1:]); "
                            "print(os.getpid())", evil, fim.t("a.conf")],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        pid = int(p.stdout)
        child = subprocess.Popen([writer, "-c", CHILD_WITH_PID, str(pid)],
                                 stdout=subprocess.PIPE, text=True)
        line = child.stdout.readline()
        if not line:
            pytest.skip(f"pid {pid} was taken again before the writer's "
                        f"child could have it (rc {child.wait()})")
        assert int(line) == pid
        assert os.readlink(f"/proc/{pid}/exe") == writer
        m.release()
        wait_restored(m, fim.t("a.conf"), "renamed over")
        assert content(fim.t("a.conf")) == "trusted\n"
    finally:
        if child is not None:
            child.kill()
            child.wait()
            try:
                os.kill(pid, signal.SIGKILL)    # the writer's child
            except ProcessLookupError:
                pass
        m.stop()


def test_writer_running_before_the_monitor_starts_is_recognised(fim):
    """A package manager that restarts fimguard from a postinst and goes
    on with other packages: it was running before the monitor started,
    so no exec event of it is ever read. It is adopted at start; its
    rename and unlink are kept, not undone."""
    writer = os.path.join(fim.outside, "pkgtool")   # a python of its own
    shutil.copy(os.path.realpath(PY), writer)
    for name in ("r.conf", "u.conf"):
        fim.write(name, f"{name} old\n".encode(), mode=0o640)
    fim.rule(restore="yes", writers=writer)
    fim.init()
    go = os.path.join(fim.outside, "go")
    new = os.path.join(fim.outside, "r.conf.new")
    with open(new, "w") as f:
        f.write("packaged\n")
    done = os.path.join(fim.outside, "done")
    # The writer stays alive until its changes were judged: a change
    # whose writer is gone when it is read counts as a non-writer's. Its
    # last act, a new file, comes after them in the directory queue.
    code = ("import os, sys, time\n"
            "go, new, tree, done = sys.argv[1:5]\n"
            "t = time.time() + 60\n"
            "while not os.path.exists(go) and time.time() < t:\n"
            "    time.sleep(0.02)\n"
            "os.rename(new, os.path.join(tree, 'r.conf'))\n"
            "os.unlink(os.path.join(tree, 'u.conf'))\n"
            "open(os.path.join(tree, 'last.conf'), 'w').close()\n"
            "while not os.path.exists(done) and time.time() < t:\n"
            "    time.sleep(0.02)\n")
    p = subprocess.Popen(["timeout", "-s", "KILL", "90", writer, "-c", code,
                          go, new, fim.tree, done])
    m = None
    try:
        time.sleep(0.2)             # the writer runs before the monitor
        m = Monitor(fim, "enforce")
        open(go, "w").close()
        m.wait_for(by("renamed", fim.t("r.conf")), "renamed r.conf")
        m.wait_for(by("deleted", fim.t("u.conf")), "deleted u.conf")
        m.wait_for(by("created", fim.t("last.conf")), "created last.conf")
        open(done, "w").close()
        assert p.wait(timeout=60) == 0
        assert not [e for e in m.events() if e["event"]["action"] == "restored"]
        assert content(fim.t("r.conf")) == "packaged\n"
        assert not os.path.exists(fim.t("u.conf"))
    finally:
        if p.poll() is None:
            p.kill()
        if m is not None:
            m.stop()
