"""Faults a server meets: a full disk (small tmpfs mounts and an LD_PRELOAD
shim that fails writes with ENOSPC), a kill -9 at a named point (the same
shim), temporary files left by killed runs, FIFOs swapped in for state,
policy and events files. Each test reproduces a case of issue 13 (or issue
8 case 7) that broke: nothing is lost or left unprotected silently."""

import contextlib
import errno
import json
import os
import signal
import stat
import subprocess
import time

import pytest

from conftest import parse_json_lines, sha256_bytes
from test_monitor import Monitor, by, op, status, try_open

HERE = os.path.dirname(os.path.abspath(__file__))
KEY_SIZES = {"xxh.key": 192, "hmac.key": 32}


@pytest.fixture(scope="session")
def shim(tmp_path_factory):
    out = tmp_path_factory.mktemp("faults") / "faults.so"
    p = subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(out),
                        os.path.join(HERE, "faults", "faults.c"), "-ldl"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return str(out)


def fault_env(shim, **faults):
    env = dict(os.environ)
    env["LD_PRELOAD"] = shim
    # Under the ASan build the shim comes before ASan's runtime.
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                           ":verify_asan_link_order=0").lstrip(":")
    env.update(faults)
    return env


@contextlib.contextmanager
def small_tmpfs(path, size="64k", mode="0755"):
    """A tmpfs of `size` on path, unmounted on the way out whatever
    happens (the fixture's cleanup unmounts it too)."""
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode={mode}",
                    "tmpfs", path], check=True, timeout=20)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], timeout=20)


def fill(directory, name="filler"):
    """Fill the filesystem of directory to the last page. Returns the
    filler's path (remove it to give the space back)."""
    path = os.path.join(directory, name)
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    return path


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def valid_json_lines(path):
    """Every line of path is one JSON object (the last ends the file)."""
    data = read_bytes(path)
    assert data == b"" or data.endswith(b"\n"), data[-200:]
    return parse_json_lines(data.decode("utf-8"), path)


def leftovers(fim):
    out = [n for n in os.listdir(fim.state) if n.startswith("baseline.json.")
           or n.startswith(".") or n.endswith(".tmp")]
    vault = os.path.join(fim.state, "vault")
    if os.path.isdir(vault):
        out += [os.path.join("vault", n) for n in os.listdir(vault)
                if n.startswith(".")]
    return sorted(out)


# ---- case 3: a full vault, sparse files, the size cap ----

@pytest.fixture
def vaulted(fim):
    for i in range(40):
        fim.write(f"f{i:02}", os.urandom(8192))
    fim.rule(diff="yes")
    return fim


def test_full_vault_fails_init_and_writes_no_false_baseline(vaulted):
    fim = vaulted
    os.mkdir(fim.state, 0o700)
    with small_tmpfs(os.path.join(fim.state, "vault"), "64k", "0700"):
        p = fim.init(expect=2)
        assert "vault" in p.stderr and "No space left on device" in p.stderr, p.stderr
        assert not os.path.exists(fim.baseline_file), \
            "a baseline was written although files have no vault copy"
    # with room again, init works and every file has its hash and copy
    fim.init()
    ents = fim.entries()
    assert all(e.get("sha256") and e.get("flags") == 1 and "error" not in e
               for p_, e in ents.items() if e["type"] == "file"), ents
    fim.check(expect=0)


def test_full_vault_fails_approve_and_keeps_the_baseline(vaulted):
    fim = vaulted
    os.mkdir(fim.state, 0o700)
    with small_tmpfs(os.path.join(fim.state, "vault"), "1m", "0700"):
        fim.init()
        before = read_bytes(fim.baseline_file)
        for i in range(40):
            fim.write(f"f{i:02}", os.urandom(8192))
        fill(os.path.join(fim.state, "vault"), ".filler")
        p = fim.run("approve", "--all", "--reason", "full", expect=2)
        assert "No space left on device" in p.stderr, p.stderr
        assert read_bytes(fim.baseline_file) == before
        assert effective_approvals(fim) == [], fim.history()
        os.unlink(os.path.join(fim.state, "vault", ".filler"))
    fim.check(expect=1)


def test_full_vault_holding_the_content_is_no_failure(vaulted):
    """Content already in the vault needs no new copy: a full vault
    fails only what it cannot hold."""
    fim = vaulted
    os.mkdir(fim.state, 0o700)
    with small_tmpfs(os.path.join(fim.state, "vault"), "1m", "0700"):
        fim.init()
        fill(os.path.join(fim.state, "vault"), ".filler")
        fim.init("--force")
        fim.check(expect=0)
        os.unlink(os.path.join(fim.state, "vault", ".filler"))


def test_vault_write_error_is_not_a_read_error(vaulted, shim):
    """The shim fails vault writes after 20 kB: init says the vault is
    full (not that the files could not be read) and fails."""
    fim = vaulted
    p = fim.run("init", expect=2, env=fault_env(
        shim, FAULT_ENOSPC="/vault/", FAULT_ENOSPC_AFTER="20000"))
    assert "No space left on device" in p.stderr and "vault" in p.stderr
    assert "recorded without content" not in p.stderr, p.stderr
    assert not os.path.exists(fim.baseline_file)


def test_vault_keeps_sparse_files_sparse(fim):
    path = fim.t("sparse.img")
    os.makedirs(fim.tree, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(32 << 20)
        f.seek(16 << 20)
        f.write(b"data in the middle")
    fim.rule(diff="yes")
    fim.init()
    sha = fim.entry(path)["sha256"]
    vp = os.path.join(fim.state, "vault", sha[:2], sha)
    st = os.stat(vp)
    assert st.st_size == 32 << 20
    assert st.st_blocks * 512 < 1 << 20, \
        f"vault copy of a sparse file takes {st.st_blocks * 512} bytes"
    with open(vp, "rb") as f:
        f.seek(16 << 20)
        assert f.read(18) == b"data in the middle"


def test_vault_size_cap_keeps_large_files_as_hashes(fim):
    fim.write("small.conf", b"small\n")
    big = fim.write("big.bin", os.urandom(12 * 1024))
    fim.rule(diff="yes", restore="yes")
    fim.write_config(extra="vault_max_size = 8K\n")
    p = fim.init()
    assert "big.bin" in p.stderr and "hash" in p.stderr, p.stderr
    e = fim.entry(big)
    assert e["sha256"] == sha256_bytes(read_bytes(big))
    assert e["flags"] == 0, e
    assert fim.entry(fim.t("small.conf"))["flags"] == 1
    sha = e["sha256"]
    assert not os.path.exists(os.path.join(fim.state, "vault", sha[:2], sha))
    fim.check(expect=0)
    m = Monitor(fim, "enforce")
    try:
        assert status(fim)["vault_hash_only"] == 1
        os.unlink(big)
        ev = m.wait_for(by("restore-failed", big), "restore attempt")[0]
        assert ev["event"]["outcome"] == "failure"
        assert "vault" in ev["fimguard"]["error"], ev
    finally:
        m.stop()


def test_vault_size_cap_is_validated(fim):
    fim.write("a", b"a\n")
    fim.rule()
    fim.write_config(extra="vault_max_size = lots\n")
    p = fim.run("policy", "check", expect=2)
    assert "invalid value 'lots' for 'vault_max_size'" in p.stderr, p.stderr


# ---- case 4: a full events disk ----

@pytest.fixture
def full_events(fim):
    """The events file on a 64 kB tmpfs that a filler then fills."""
    d = os.path.join(fim.base, "log")
    with small_tmpfs(d, "64k"):
        fim.events = os.path.join(d, "events.json")
        fim.write_config()
        for i in range(6):
            fim.write(f"f{i}.conf", f"trusted {i}\n")
        fim.rule()
        fim.init()
        yield fim, d


def test_full_events_disk_check_keeps_every_line_valid(full_events):
    fim, d = full_events
    # a few events first, so the file's last page has some room left
    fim.write("f0.conf", "changed\n")
    fim.check(expect=1)
    filler = fill(d)
    for i in range(6):
        fim.write(f"f{i}.conf", f"changed again {i}\n" * 20)
    p = fim.check(expect=1)
    evs = valid_json_lines(fim.events)
    assert len(evs) >= 1
    assert "No space left on device" in p.stderr, p.stderr
    assert "could not be written" in p.stderr, p.stderr
    os.unlink(filler)


def test_full_events_disk_monitor_counts_and_reports_lost(full_events):
    fim, d = full_events
    m = Monitor(fim, "audit")
    try:
        assert try_open(fim.t("f0.conf"), "append") == 0
        m.wait_for(by("modified", fim.t("f0.conf")), "first change")
        filler = fill(d)
        for i in range(1, 6):
            assert try_open(fim.t(f"f{i}.conf"), "append") == 0
        # 5 opens for writing, 5 changes: 10 events, each either written
        # (one may still fit in the slack of the events file's last page,
        # which the filler cannot take) or counted as lost

        def later():
            return [e for e in m.events() if e.get("file", {}).get("path")
                    in {fim.t(f"f{i}.conf") for i in range(1, 6)}]
        deadline = time.time() + 15
        while (time.time() < deadline and
               status(fim).get("events_lost", 0) + len(later()) < 10):
            time.sleep(0.1)
        lost = status(fim)["events_lost"]
        assert lost + len(later()) == 10 and lost >= 8, (lost, m.stderr())
        assert "No space left on device" in m.stderr()
        os.unlink(filler)
        assert try_open(fim.t("f0.conf"), "append") == 0
        ev = m.wait_for(lambda e: e["event"]["action"] == "events-lost",
                        "events-lost")
        assert len(ev) == 1, ev
        fg = ev[0]["fimguard"]
        # one notice for all of them, the count status shows
        assert fg["events_lost"] == status(fim)["events_lost"] >= lost
        assert fg["lost_first"] <= fg["lost_last"] <= ev[0]["@timestamp"]
        m.wait_for(lambda e: e["event"]["action"] == "write-allowed" and
                   e["@timestamp"] > fg["lost_last"], "events after the loss")
        valid_json_lines(fim.events)
    finally:
        m.stop()


# ---- case 5: keys ----

def test_killed_first_init_leaves_no_partial_key(fim, shim):
    fim.write("a", b"a\n")
    fim.rule()
    p = fim.run("init", env=fault_env(shim, FAULT_KILL="before-write:xxh.key"))
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stderr)
    for name, size in KEY_SIZES.items():
        path = os.path.join(fim.state, name)
        assert not os.path.exists(path) or os.path.getsize(path) == size, \
            f"{name}: {os.path.getsize(path)} bytes after a kill"
    fim.init()
    fim.check(expect=0)


@pytest.mark.parametrize("name,data", [("xxh.key", b""), ("hmac.key", b"x" * 10)])
def test_partial_key_without_baseline_is_recreated(fim, name, data):
    fim.write("a", b"a\n")
    fim.rule()
    os.mkdir(fim.state, 0o700)
    with open(os.path.join(fim.state, name), "wb") as f:
        f.write(data)
    p = fim.init()
    assert name in p.stderr, p.stderr
    assert os.path.getsize(os.path.join(fim.state, name)) == KEY_SIZES[name]
    fim.check(expect=0)


def test_partial_key_beside_a_baseline_is_refused(fim):
    fim.write("a", b"a\n")
    fim.rule()
    fim.init()
    with open(os.path.join(fim.state, "hmac.key"), "wb") as f:
        f.write(b"")
    p = fim.init("--force", expect=2)
    assert "hmac.key" in p.stderr, p.stderr
    fim.check(expect=3)


# ---- case 6: approve records who approved what, or fails ----

@pytest.fixture
def approvable(fim):
    fim.write("one.conf", b"one\n")
    fim.write("two.conf", b"two\n")
    fim.rule(diff="yes")
    fim.init()
    fim.write("one.conf", b"ONE\n")
    return fim


def effective_approvals(fim):
    """History records of approvals that took effect: those with no
    rolled_back record for their id."""
    if not os.path.exists(fim.history_file):
        return []
    hist = fim.history()
    rolled = {h.get("id") for h in hist if h.get("rolled_back")}
    return [h for h in hist if not h.get("rolled_back") and h.get("id") not in rolled]


def approved_events(fim):
    return [e for e in fim.file_events()
            if e["event"]["action"] == "baseline-approved"]


def test_approve_killed_after_the_rename_is_recorded(approvable, shim):
    fim = approvable
    p = fim.run("approve", "--reason", "r1", fim.t("one.conf"),
                env=fault_env(shim, FAULT_KILL="after-rename:/baseline.json"))
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stderr)
    # the baseline changed: the approval must be on record already
    assert fim.entry(fim.t("one.conf"))["sha256"] == sha256_bytes(b"ONE\n")
    hist = fim.history()
    assert [h["reason"] for h in hist] == ["r1"], hist
    assert [e["file"]["path"] for e in approved_events(fim)] == [fim.t("one.conf")]
    # the next command that takes the lock finishes it, adding nothing
    fim.write("two.conf", b"TWO\n")
    fim.run("approve", "--reason", "r2", fim.t("two.conf"), expect=0)
    assert [h["reason"] for h in fim.history()] == ["r1", "r2"]
    assert len(approved_events(fim)) == 2
    fim.check(expect=0)
    assert leftovers(fim) == []


@pytest.mark.parametrize("point", ["before-write:history.jsonl",
                                   "after-write:history.jsonl",
                                   "before-rename:/baseline.json"])
def test_approve_killed_before_the_rename_is_consistent(approvable, shim, point):
    """Killed anywhere before the baseline changes: the next command that
    takes the lock rolls the approval forward (history, events and baseline
    all say it happened) or back (none of them does)."""
    fim = approvable
    before = read_bytes(fim.baseline_file)
    p = fim.run("approve", "--reason", "r1", fim.t("one.conf"),
                env=fault_env(shim, FAULT_KILL=point))
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stderr)
    assert read_bytes(fim.baseline_file) == before
    fim.write("two.conf", b"TWO\n")
    fim.run("approve", "--reason", "r2", fim.t("two.conf"), expect=0)
    hist = effective_approvals(fim)
    approved = [e["file"]["path"] for e in approved_events(fim)]
    rolled_forward = fim.entry(fim.t("one.conf"))["sha256"] == sha256_bytes(b"ONE\n")
    if rolled_forward:
        assert [h["reason"] for h in hist] == ["r1", "r2"], fim.history()
        assert sorted(approved) == [fim.t("one.conf"), fim.t("two.conf")]
        fim.check(expect=0)
    else:
        assert [h["reason"] for h in hist] == ["r2"], fim.history()
        assert approved == [fim.t("two.conf")], approved
        fim.check(expect=1)
    assert leftovers(fim) == []


def test_approve_fails_when_events_cannot_be_written(approvable):
    fim = approvable
    d = os.path.join(fim.base, "log")
    with small_tmpfs(d, "16k"):
        fim.events = os.path.join(d, "events.json")
        fim.write_config()
        before = read_bytes(fim.baseline_file)
        filler = fill(d)
        p = fim.run("approve", "--reason", "r1", fim.t("one.conf"), expect=2)
        assert "No space left on device" in p.stderr, p.stderr
        assert read_bytes(fim.baseline_file) == before
        assert effective_approvals(fim) == [], fim.history()
        os.unlink(filler)
    fim.check(expect=1)


def test_approve_fails_when_history_cannot_be_written(approvable):
    fim = approvable
    d = os.path.join(fim.base, "full")
    with small_tmpfs(d, "16k"):
        hist = os.path.join(d, "history.jsonl")
        open(hist, "wb").close()
        fill(d)
        open(fim.history_file, "wb").close()
        os.chmod(fim.history_file, 0o600)
        subprocess.run(["mount", "--bind", hist, fim.history_file], check=True,
                       timeout=20)
        try:
            before = read_bytes(fim.baseline_file)
            p = fim.run("approve", "--reason", "r1", fim.t("one.conf"),
                        expect=2)
            assert "No space left on device" in p.stderr, p.stderr
            assert "history" in p.stderr, p.stderr
            assert read_bytes(fim.baseline_file) == before
            assert approved_events(fim) == []
        finally:
            subprocess.run(["umount", "-l", fim.history_file], timeout=20)
    fim.check(expect=1)


# ---- case 7: temporary files of killed runs ----

def test_next_locked_command_removes_temporaries(vaulted, shim):
    fim = vaulted
    fim.init()
    for i in range(3):
        fim.write(f"f{i:02}", os.urandom(8192))
    for point in ("before-rename:/baseline.json", "before-write:/vault/.tmp"):
        p = fim.run("init", "--force", env=fault_env(shim, FAULT_KILL=point))
        assert p.returncode == -signal.SIGKILL, (point, p.returncode, p.stderr)
    assert leftovers(fim), "the kills left nothing to clean up"
    fim.run("approve", "--all", expect=0)
    assert leftovers(fim) == []


# ---- case 8: no false alert for fimguard's own state files ----

def test_approve_while_monitor_runs_raises_no_self_alert(fim):
    """The lock, and history.jsonl once the monitor watches it (from the
    reload after the first approve): no alert for either."""
    fim.write("a.conf", b"a\n")
    fim.write("b.conf", b"b\n")
    fim.rule()
    fim.init()
    m = Monitor(fim, "audit")
    try:
        for n, path in enumerate((fim.t("a.conf"), fim.t("b.conf")), 1):
            assert try_open(path, "append") == 0
            m.wait_for(by("modified", path), "modified")
            fim.run("approve", "--all", "--reason", "ok", expect=0)
            deadline = time.time() + 15
            while time.time() < deadline and status(fim)["reloads"] < n:
                time.sleep(0.1)
            assert status(fim)["reloads"] == n
        assert try_open(fim.t("a.conf"), "append") == 0
        m.wait_for(lambda e: by("modified", fim.t("a.conf"))(e) and
                   e["file"]["hash"]["sha256"] ==
                   sha256_bytes(b"a\nEVIL\nEVIL\n"), "marker")
        own = [(e["event"]["action"], e["file"]["path"]) for e in m.events()
               if e["file"]["path"].startswith(fim.state + "/")]
        assert own == [], own
    finally:
        m.stop()


# ---- case 9: status since the process started; the start-up line ----

def test_status_counters_survive_reload(fim):
    fim.write("a.conf", b"a\n")
    fim.rule()
    fim.init()
    m = Monitor(fim, "enforce")
    try:
        assert try_open(fim.t("a.conf"), "append") == 13
        m.wait_for(by("write-denied", fim.t("a.conf")), "write-denied")
        time.sleep(1.1)
        st = status(fim)
        assert st["denied"] == 1 and st["uptime_s"] >= 1
        os.kill(st["pid"], signal.SIGHUP)
        deadline = time.time() + 15
        while time.time() < deadline and status(fim)["reloads"] < 1:
            time.sleep(0.1)
        after = status(fim)
        assert after["reloads"] == 1
        assert after["denied"] == 1 and after["writes"] >= st["writes"]
        assert after["events"] >= st["events"]
        assert after["uptime_s"] >= st["uptime_s"]
    finally:
        m.stop()


def test_startup_line_names_global_mode_and_overrides(fim):
    os.mkdir(fim.t("x"))
    os.mkdir(fim.t("y"))
    fim.write("x/a", b"a\n")
    fim.write("y/b", b"b\n")
    fim.write_policy(f"[rule strict]\npaths = {fim.t('x')}/\nmode = enforce\n"
                     f"[rule lax]\npaths = {fim.t('y')}/\n")
    fim.init()
    m = Monitor(fim, "audit")
    try:
        line = [l for l in m.stderr().splitlines() if "monitoring" in l][0]
        assert "audit" in line and "strict" in line and "enforce" in line, line
        assert "lax" not in line, line
    finally:
        m.stop()


# ---- issue 8 case 7: FIFOs in place of fimguard's files ----

def swap_fifo(path):
    tmp = path + ".fifo"
    os.mkfifo(tmp, 0o600)
    os.rename(tmp, path)


@pytest.fixture
def plain(fim):
    fim.write("a.conf", b"a\n")
    fim.rule()
    fim.init()
    return fim


@pytest.mark.parametrize("what,cmd,rc", [
    ("policy", ("policy", "check"), 2),
    ("policy", ("check",), 2),
    ("config", ("check",), 2),
    ("events", ("check",), 2),
    ("xxh.key", ("check",), 3),
    ("hmac.key", ("approve", "--all"), 3),
    ("baseline.json", ("check",), 3),
    ("history.jsonl", ("approve", "--all"), 2),
])
def test_fifo_is_refused_never_waited_on(plain, what, cmd, rc):
    fim = plain
    fim.write("a.conf", b"changed\n")
    path = {"policy": os.path.join(fim.policy, "10-test.rules"),
            "config": fim.conf, "events": fim.events}.get(
                what, os.path.join(fim.state, what))
    if not os.path.exists(path):
        open(path, "w").close()
    swap_fifo(path)
    p = fim.run(*cmd, expect=rc, timeout=10)
    assert "not a regular file" in p.stderr, p.stderr


@pytest.mark.parametrize("what", ["policy", "events", "xxh.key"])
def test_fifo_reload_keeps_the_old_policy(plain, what):
    fim = plain
    m = Monitor(fim, "enforce")
    try:
        path = {"policy": os.path.join(fim.policy, "10-test.rules"),
                "events": fim.events}.get(what, os.path.join(fim.state, what))
        swap_fifo(path)
        os.kill(status(fim)["pid"], signal.SIGHUP)
        deadline = time.time() + 15
        while time.time() < deadline and "reload failed" not in m.stderr():
            time.sleep(0.1)
        assert "reload failed" in m.stderr()
        assert "not a regular file" in m.stderr(), m.stderr()
        st = status(fim)
        assert st["reloads"] == 0
        assert try_open(fim.t("a.conf"), "append") == 13   # old policy holds
    finally:
        assert m.stop() == 0


def test_fifo_in_the_vault_fails_the_restore_never_hangs(fim):
    """A FIFO in place of a file's vault copy: the restore is refused
    with a reason (restore-failed), the worker goes on (a later change is
    still reported), and the monitor answers status."""
    fim.write("a.conf", b"alpha trusted\n", mode=0o640)
    fim.write("b.conf", b"bravo trusted\n", mode=0o640)
    fim.rule(restore="yes")
    fim.init()
    sha = sha256_bytes(b"alpha trusted\n")
    copy = os.path.join(fim.state, "vault", sha[:2], sha)
    os.unlink(copy)
    os.mkfifo(copy, 0o600)
    m = Monitor(fim, "enforce")
    try:
        rc, err = op("import os, sys; os.unlink(sys.argv[1])", fim.t("a.conf"))
        assert rc == 0, err
        ev = m.wait_for(by("restore-failed", fim.t("a.conf")),
                        "restore-failed")[0]
        assert ev["fimguard"].get("error"), ev
        rc, err = op("import os, sys; os.unlink(sys.argv[1])", fim.t("b.conf"))
        assert rc == 0, err
        m.wait_for(by("restored", fim.t("b.conf")), "b.conf restored")
        assert status(fim)["pid"] > 0
    finally:
        m.stop()
