"""What a person sees: `run --foreground` and `fimguard events` print one
line per event on a terminal (tested through a pseudo-terminal), JSON
lines elsewhere, each written out when it happens (tested through a
pipe, the monitor still running); `events` reads logrotate's copies,
filters, follows across both kinds of rotation and skips corrupt lines;
`suggest` proposes writers from audit-mode events."""

import datetime
import gzip
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import time

import pytest

from conftest import FIMGUARD
from test_monitor import PY, op

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def append(path, text):
    rc, err = op("import sys; open(sys.argv[1], 'a').write(sys.argv[2])", path, text)
    assert rc == 0, err


class Reader:
    """Reads a child's stdout (a pipe or a pty master) without blocking."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = b""

    def until(self, pred, what, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.buf.decode("utf-8", "replace")
            if pred(text):
                return text
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    time.sleep(0.05)
                self.buf += chunk
        pytest.fail(f"timed out waiting for {what}; have {self.buf!r}")


class Foreground:
    """`run --foreground` with stdout on a pipe or a pseudo-terminal."""

    def __init__(self, fim, tty, extra=(), env=None):
        if not os.path.exists(fim.baseline_file):
            fim.write_config(mode="audit")
            fim.init()
        self.err = os.path.join(fim.base, "fg.err")
        cmd = ["timeout", "-s", "KILL", "120", FIMGUARD, "-c", fim.conf, "-p", fim.policy,
               "-s", fim.state, "run", "--mode", "audit", "--foreground", *extra]
        if tty:
            master, slave = pty.openpty()
            out = slave
        else:
            master, out = os.pipe()
        with open(self.err, "wb") as err:
            self.p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                      start_new_session=True, env=env)
        os.close(out)
        self.fd = master
        self.out = Reader(master)
        deadline = time.time() + 20
        while "monitoring" not in self.stderr():
            if self.p.poll() is not None or time.time() > deadline:
                self.stop()
                pytest.fail(f"monitor did not start: {self.stderr()}")
            time.sleep(0.05)

    def stderr(self):
        with open(self.err, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.p.wait(timeout=10)
        os.close(self.fd)


@pytest.fixture
def fg():
    started = []
    yield started
    for f in started:
        f.stop()


@pytest.fixture
def tree(fim):
    fim.write("a.conf", "alpha\n")
    fim.rule(severity="high", diff="yes")
    return fim


def test_foreground_on_a_pipe_writes_each_json_line_at_once(tree, fg):
    f = Foreground(tree, tty=False)
    fg.append(f)
    append(tree.t("a.conf"), "more\n")
    text = f.out.until(lambda t: '"action":"modified"' in t, "the modified event on the pipe")
    assert f.p.poll() is None               # arrived while it runs, not at exit
    for line in text.splitlines():
        json.loads(line)


def test_foreground_on_a_terminal_shows_lines_with_colour(tree, fg):
    f = Foreground(tree, tty=True, env={k: v for k, v in os.environ.items() if k != "NO_COLOR"})
    fg.append(f)
    path = tree.t("a.conf")
    append(path, "more\n")
    text = f.out.until(lambda t: "modified" in t and "+more" in t, "a modified line")
    plain = ANSI.sub("", text).replace("\r\n", "\n")
    line = [l for l in plain.splitlines() if " modified " in l][0]
    assert LINE.match(line), line
    exe = os.path.realpath(PY)
    assert re.search(re.escape(f" modified {path} by {exe} (") + r".*\), pid \d+, uid 0 root "
                     r"\[rule tree, high\]$", line), line
    assert "\n    +more\n" in plain                   # the diff, indented below
    assert "\x1b[31mmodified\x1b[0m" in text           # high: red
    assert "{" not in line


def test_no_color_and_format_json_on_a_terminal(tree, fg):
    env = dict(os.environ, NO_COLOR="1")
    f = Foreground(tree, tty=True, env=env)
    fg.append(f)
    append(tree.t("a.conf"), "x\n")
    text = f.out.until(lambda t: "modified" in t and "+x" in t, "a modified line")
    assert "\x1b[" not in text
    f.stop()
    fg.remove(f)
    g = Foreground(tree, tty=True, extra=("--format", "json"))
    fg.append(g)
    append(tree.t("a.conf"), "y\n")
    # the whole line: a long one can come through the terminal in pieces
    text = g.out.until(lambda t: '"action":"modified"' in t and
                       "\n" in t[t.index('"action":"modified"'):],
                       "JSON on the terminal")
    assert "\x1b[" not in text
    # every whole line is JSON; another event's line may still be coming
    # through the terminal after the one waited for
    whole = text.replace("\r\n", "\n")
    whole = whole[:whole.rindex("\n") + 1]
    assert '"action":"modified"' in whole
    for line in whole.splitlines():
        json.loads(line)


# ---- fimguard events -------------------------------------------------------

def ev(ts, action, path, rule="r1", mode="audit", exe=None, sev="high"):
    e = {"@timestamp": ts, "event": {"action": action, "severity": 73},
         "file": {"path": path}, "rule": {"name": rule},
         "fimguard": {"severity": sev, "mode": mode}}
    if exe:
        e["process"] = {"executable": exe, "pid": 42, "args": [exe]}
        e["user"] = {"id": "0"}
    return json.dumps(e) + "\n"


def events(fim, *args, expect=0):
    p = fim.run("events", *args)
    assert p.returncode == expect, p.stderr
    return p


def paths(out):
    return [json.loads(l)["file"]["path"] for l in out.splitlines()]


def test_events_reads_rotated_copies_oldest_first_and_skips_corrupt_lines(fim):
    fim.rule()
    with gzip.open(fim.events + ".3.gz", "wt") as f:
        f.write(ev("2026-01-01T00:00:00.000Z", "modified", "/e/1"))
    with gzip.open(fim.events + ".2.gz", "wt") as f:
        f.write(ev("2026-01-02T00:00:00.000Z", "modified", "/e/2"))
        f.write("{not json\n")
        f.write(ev("2026-01-02T00:00:01.000Z", "deleted", "/e/3"))
    with open(fim.events + ".1", "w") as f:
        f.write(ev("2026-01-03T00:00:00.000Z", "created", "/e/4"))
    with open(fim.events, "w") as f:
        f.write(ev("2026-01-04T00:00:00.000Z", "modified", "/e/5"))
        f.write("\n")
        f.write('{"no":"timestamp"}\n')
        f.write(ev("2026-01-04T00:00:01.000Z", "modified", "/e/6").rstrip("\n"))
    p = events(fim)
    assert paths(p.stdout) == ["/e/1", "/e/2", "/e/3", "/e/4", "/e/5", "/e/6"]
    assert f"{fim.events}.2.gz:2: not an event" in p.stderr
    assert f"{fim.events}:3: not an event" in p.stderr
    assert p.stderr.count("not an event") == 2


def test_events_filters(fim):
    fim.rule()
    now = datetime.datetime.now(datetime.timezone.utc)
    old = (now - datetime.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    new = (now - datetime.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with open(fim.events, "w") as f:
        f.write(ev(old, "modified", "/etc/ssh/sshd_config", rule="ssh"))
        f.write(ev(new, "deleted", "/etc/ssh/x", rule="ssh"))
        f.write(ev(new, "modified", "/etc/passwd", rule="acct"))
    assert paths(events(fim, "--since", "2h").stdout) == ["/etc/ssh/x", "/etc/passwd"]
    assert paths(events(fim, "--since", "1d").stdout) == \
        ["/etc/ssh/sshd_config", "/etc/ssh/x", "/etc/passwd"]
    iso = (now - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert paths(events(fim, "--since", iso).stdout) == ["/etc/ssh/x", "/etc/passwd"]
    assert paths(events(fim, "--action", "modified").stdout) == \
        ["/etc/ssh/sshd_config", "/etc/passwd"]
    assert paths(events(fim, "--rule", "acct").stdout) == ["/etc/passwd"]
    assert paths(events(fim, "--path", "/etc/ssh/*").stdout) == \
        ["/etc/ssh/sshd_config", "/etc/ssh/x"]
    p = events(fim, "--since", "yesterday", expect=2)
    assert "--since" in p.stderr
    text = events(fim, "--format", "text", "--rule", "acct").stdout
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d modified /etc/passwd \[rule acct, high\]\n$",
                    text), text


def test_events_text_never_passes_control_bytes(fim):
    fim.rule()
    with open(fim.events, "w") as f:
        f.write(ev("2026-01-01T00:00:00.000Z", "modified", "/tmp/\x1b]0;owned\x07\u009b2J"))
    out = events(fim, "--format", "text").stdout
    assert "\x1b" not in out and "\x07" not in out and "\u009b" not in out
    assert "/tmp/?]0;owned??2J" in out


def test_events_follow_across_copytruncate_and_create(fim):
    fim.rule()
    with open(fim.events, "w") as f:
        f.write(ev("2026-01-01T00:00:00.000Z", "modified", "/f/0"))
    p = subprocess.Popen(["timeout", "-s", "KILL", "60", FIMGUARD, "-c", fim.conf, "-p",
                          fim.policy, "-s", fim.state, "events", "--follow", "--format", "json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        r = Reader(p.stdout.fileno())
        r.until(lambda t: "/f/0" in t, "the existing event")
        with open(fim.events, "a") as f:
            f.write(ev("2026-01-01T00:00:01.000Z", "modified", "/f/1"))
        r.until(lambda t: "/f/1" in t, "an appended event")
        # logrotate copytruncate: copy, then truncate in place
        shutil.copy(fim.events, fim.events + ".1")
        os.truncate(fim.events, 0)
        time.sleep(0.5)
        with open(fim.events, "a") as f:
            f.write(ev("2026-01-01T00:00:02.000Z", "modified", "/f/2"))
        r.until(lambda t: "/f/2" in t, "the event after copytruncate")
        # logrotate create: move away, a new file under the name
        os.rename(fim.events, fim.events + ".1")
        with open(fim.events + ".1", "a") as f:
            f.write(ev("2026-01-01T00:00:03.000Z", "modified", "/f/3"))
        with open(fim.events, "w") as f:
            f.write(ev("2026-01-01T00:00:04.000Z", "modified", "/f/4"))
        text = r.until(lambda t: "/f/4" in t, "the event in the new file")
        assert paths(text) == ["/f/0", "/f/1", "/f/2", "/f/3", "/f/4"]
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=10)


# ---- fimguard suggest ------------------------------------------------------

def test_suggest_proposes_writers_and_warns_about_interpreters(fim):
    fim.rule()
    t = "2026-01-0{}T00:00:00.000Z"
    with open(fim.events, "w") as f:
        for i in range(3):
            f.write(ev(t.format(1), "write-allowed", "/etc/a", exe="/usr/bin/dpkg"))
        f.write(ev(t.format(1), "modified", "/etc/a", exe="/usr/bin/dpkg"))
        f.write(ev(t.format(2), "write-allowed", "/etc/a", exe="/usr/bin/python3.11"))
        f.write(ev(t.format(3), "write-allowed", "/etc/a", exe="/opt/tool/bin/sync"))
        f.write(ev(t.format(3), "write-allowed", "/etc/a", exe="/usr/bin/dash"))
        f.write(ev(t.format(3), "write-denied", "/etc/a", exe="/usr/bin/vi"))
        f.write(ev(t.format(4), "write-allowed", "/etc/b", rule="r2", exe="/usr/sbin/useradd"))
        f.write(ev(t.format(4), "write-allowed", "/etc/b", rule="r2", mode="enforce",
                   exe="/usr/bin/perl"))
    out = fim.run("suggest").stdout
    r1 = out.split("[rule r2]")[0]
    assert re.search(r"^\s+3\s+1\s+\S+ \S+\s+/usr/bin/dpkg$", r1, re.M), r1
    assert "writers = /usr/bin/dpkg /opt/tool/bin/sync\n" in r1
    assert "warning: /usr/bin/python3.11 is an interpreter" in r1
    assert "warning: /usr/bin/dash is an interpreter" in r1
    assert "note: /opt/tool/bin/sync is outside /usr" in r1
    assert "/usr/bin/vi" not in out            # denied: not a writer seen in audit
    assert "/usr/bin/perl" not in out          # enforce mode: already decided
    assert "writers = /usr/sbin/useradd\n" in out.split("[rule r2]")[1]
    only = fim.run("suggest", "--rule", "r2").stdout
    assert "[rule r1]" not in only and "[rule r2]" in only
    since = fim.run("suggest", "--since", "2026-01-03").stdout
    assert "/usr/bin/dpkg" not in since and "/opt/tool/bin/sync" in since


def test_suggest_from_a_real_audit_run(tree, fg):
    f = Foreground(tree, tty=False)
    fg.append(f)
    append(tree.t("a.conf"), "by python\n")
    f.out.until(lambda t: '"action":"modified"' in t, "modified")
    out = tree.run("suggest").stdout
    exe = os.path.realpath(PY)
    assert "[rule tree]" in out and exe in out
    assert f"warning: {exe} is an interpreter" in out
    assert "no writer to propose" in out
