"""Alerts end to end: a real monitor (fanotify, scratch directories) with
its unprivileged alerter, delivering to local servers that check exactly
what was sent: a strict Jira double (jira_double.py; no real Jira can run
here), a real SMTP server (aiosmtpd, STARTTLS and AUTH) and a webhook
receiver (mail_double.py). Also: what each process holds after setup
(/proc/<pid>/status), restarts, outages, and that secrets never leak.

Every monitor runs under `timeout -s KILL` in its own session and is
stopped at teardown (see test_monitor.py)."""

import base64
import email
import email.policy
import glob
import hashlib
import json
import os
import pwd
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import FIMGUARD, sha256_bytes
from jira_double import JiraDouble
from mail_double import SmtpDouble, WebhookDouble, make_pki
from test_monitor import PY, Monitor, by, op

HOST = socket.gethostname()
JIRA_USER = "secops@example.com"
JIRA_TOKEN = "tok-SECRET-5a1d7e0c9b"
SMTP_PASSWORD = "pw-SECRET-83f2c41d"

CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 0, 1, 2, 3
CAP_FSETID, CAP_SYS_PTRACE, CAP_LEASE, CAP_SETFCAP = 4, 19, 28, 31


def wait_until(pred, what, timeout=15, fim=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def write(path, data):
    """Write a protected file from a child (never from this process).
    The child lives on a moment after its close, as editors and package
    managers do: a command line is read off the permission thread
    (args.c), so a writer gone at once may have none, on a busy machine."""
    rc, err = op("import sys, time; open(sys.argv[1], 'wb')"
                 ".write(sys.argv[2].encode()); time.sleep(0.3)", path, data)
    assert rc == 0, err


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def children(pid):
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(x) for x in f.read().split()]
        except FileNotFoundError:
            pass
    return kids


def status(fim):
    p = subprocess.run([FIMGUARD, "-c", fim.conf, "-p", fim.policy, "-s",
                        fim.state, "status", "--json"], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def spool(fim, sub=""):
    d = os.path.join(fim.state, "spool", sub)
    return sorted(n for n in os.listdir(d) if n.endswith(".json"))


def spool_what(fim):
    """(action, path, sha256) of each spooled alert, for a failure."""
    out = []
    for n in spool(fim):
        with open(os.path.join(fim.state, "spool", n)) as f:
            ev = json.load(f)["event"]
        out.append((ev["event"]["action"], ev["file"].get("path"),
                    ev["file"].get("hash", {}).get("sha256")))
    return out


def dedup_label(path, sha, action="modified"):
    h = hashlib.sha256()
    for part in (HOST, path, sha, action):
        h.update(part.encode() + b"\0")
    return "fimguard-" + h.hexdigest()[:24]


def alerter_user():
    try:
        return pwd.getpwnam("fimguard").pw_uid
    except KeyError:
        return pwd.getpwnam("nobody").pw_uid


@pytest.fixture
def pki(tmp_path_factory):
    return make_pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture
def tree(fim):
    fim.write("a.conf", b"alpha\n")
    fim.write("b.conf", b"bravo\n")
    fim.rule(severity="high", diff="yes")
    return fim


def start(fim, sinks, mode="audit", env=None):
    fim.write_config(mode=mode, extra=sinks)
    fim.init()
    return Monitor(fim, mode=mode, env=env)


@pytest.fixture
def monitors():
    started = []
    yield started
    for m in started:
        m.stop()


def jira_conf(j, api=3, extra=""):
    if api == 3:
        auth = f"user = {JIRA_USER}\ntoken_env = FIMGUARD_JIRA_TOKEN\n"
    else:
        auth = extra
    return (f"[jira]\nurl = {j.url}\napi = {api}\nproject = SEC\n"
            f"issue_type = Task\n{auth}")


def jira_env():
    return dict(os.environ, FIMGUARD_JIRA_TOKEN=JIRA_TOKEN)


def creates(j):
    return [r for r in j.requests if r["method"] == "POST" and
            re.fullmatch(r"/rest/api/[23]/issue", r["path"])]


def adf_texts(node):
    if isinstance(node, dict):
        if node.get("type") == "text":
            yield node["text"]
        for c in node.get("content", []):
            yield from adf_texts(c)


# ---- privileges ------------------------------------------------------------

def caps(st, key):
    return int(st[key], 16)


def bits(*caps_):
    return sum(1 << c for c in caps_)


@pytest.mark.parametrize("restore", ["no", "yes"])
def test_each_process_holds_only_what_it_needs(fim, monitors, restore):
    fim.write("a.conf", b"alpha\n")
    fim.rule(restore=restore)
    hook = WebhookDouble().start()
    try:
        m = start(fim, f"[webhook]\nurl = {hook.url}\n", mode="enforce")
        monitors.append(m)
        st = wait_until(lambda: status(fim).get("alerts", {}).get("worker"),
                        "the alerter's hello")
        s = status(fim)
        mon, sup, worker = s["pid"], s["alerts"]["pid"], s["alerts"]["worker"]
        assert sup in children(mon) and worker in children(sup)
        want = bits(CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, CAP_LEASE)
        if restore == "yes":
            want |= bits(CAP_CHOWN, CAP_FOWNER, CAP_DAC_OVERRIDE, CAP_FSETID,
                         CAP_SETFCAP)
        # every thread of the monitor: threads start after the drop
        for tid in os.listdir(f"/proc/{mon}/task"):
            st = proc_status(f"{mon}/task/{tid}")
            assert caps(st, "CapEff") == want, (tid, st["CapEff"])
            assert caps(st, "CapPrm") == want
            assert caps(st, "CapInh") == 0 and caps(st, "CapAmb") == 0
            assert caps(st, "CapBnd") == 0
            assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2"
            assert st["Uid"].split() == ["0"] * 4
        for pid in (sup, worker):
            st = proc_status(pid)
            for k in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"):
                assert caps(st, k) == 0, (pid, k, st[k])
            assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2"
            assert st["Uid"].split() == [str(alerter_user())] * 4
            # no fanotify group, no lock, no key: only the socket,
            # the spool and stdio
            fds = os.listdir(f"/proc/{pid}/fd")
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in fds]
            assert not [l for l in links if "fanotify" in l], links
            assert sorted(int(fd) for fd in fds) == [0, 1, 2, 3, 4], links
    finally:
        hook.stop()


def test_alerter_crash_is_restarted_while_opens_are_answered(tree, monitors):
    hook = WebhookDouble().start()
    try:
        m = start(tree, f"[webhook]\nurl = {hook.url}\n", mode="enforce")
        monitors.append(m)
        old = wait_until(lambda: status(tree).get("alerts", {}).get("worker"),
                         "alerter")
        os.kill(old, signal.SIGKILL)
        # the monitor keeps deciding opens while the alerter is away
        rc, _ = op("import sys; open(sys.argv[1], 'ab')", tree.t("a.conf"))
        assert rc != 0
        new = wait_until(lambda: (status(tree)["alerts"]["worker"]
                                  if status(tree)["alerts"]["worker"] != old
                                  else None), "a new alerter worker")
        assert new != old
        assert "killed by signal 9" in m.stderr()
        # and it delivers what was spooled meanwhile
        r = wait_until(lambda: [q for q in hook.requests if q["json"] and
                                q["json"]["event"]["event"]["action"] ==
                                "write-denied"], "the denial's webhook")
        assert r[0]["json"]["event"]["file"]["path"] == tree.t("a.conf")
        wait_until(lambda: spool(tree) == [], "an empty spool")
    finally:
        hook.stop()


# ---- webhook ---------------------------------------------------------------

def test_webhook_posts_slack_text_and_the_ecs_event(tree, monitors):
    hook = WebhookDouble().start()
    try:
        m = start(tree, f"[webhook]\nurl = {hook.url}\n")
        monitors.append(m)
        write(tree.t("a.conf"), "changed\n")
        req = wait_until(lambda: hook.requests, "a webhook request")[0]
        assert req["method"] == "POST" and req["path"] == "/hook"
        assert req["headers"]["content-type"].startswith("application/json")
        body = req["json"]
        sha = sha256_bytes(b"changed\n")
        assert body["text"].startswith(
            f"[fimguard][HIGH] modified {tree.t('a.conf')} on {HOST}")
        assert body["event"]["file"]["hash"]["sha256"] == sha
        assert body["event"]["event"]["action"] == "modified"
        assert body["fimguard"]["dedup"] == dedup_label(tree.t("a.conf"), sha)
        wait_until(lambda: spool(tree) == [], "an empty spool")
        assert len(hook.requests) == 1      # one change, one alert
    finally:
        hook.stop()


def test_alerts_flow_when_started_with_stdin_closed(tree, monitors):
    # fd 0 free at start: the spool and the socket land on low numbers,
    # and the alerter's own fd layout must not swap them
    hook = WebhookDouble().start()
    try:
        tree.write_config(extra=f"[webhook]\nurl = {hook.url}\n")
        tree.init()
        m = Monitor(tree, close_stdin=True)
        monitors.append(m)
        write(tree.t("a.conf"), "no stdin\n")
        req = wait_until(lambda: hook.requests, "a webhook request")[0]
        assert req["json"]["event"]["file"]["path"] == tree.t("a.conf")
        assert "Not a directory" not in m.stderr()
    finally:
        hook.stop()


def test_webhook_over_tls_with_a_secret_url_and_token(tree, monitors, pki):
    # the URL from an environment variable (Slack's URL is the secret),
    # a Bearer token from a file, TLS verified against ca_file
    hook = WebhookDouble(pki, tls=True).start()
    tok = os.path.join(tree.base, "hook.token")
    with open(tok, "w") as f:
        f.write("hook-SECRET-77\n")
    os.chmod(tok, 0o600)
    try:
        env = dict(os.environ, FIMGUARD_HOOK_URL=hook.url)
        m = start(tree, "[webhook]\nurl_env = FIMGUARD_HOOK_URL\n"
                  f"token_file = {tok}\nca_file = {pki['ca']}\n", env=env)
        monitors.append(m)
        write(tree.t("a.conf"), "tls\n")
        req = wait_until(lambda: hook.requests, "a webhook request")[0]
        assert req["tls"]
        assert req["headers"]["authorization"] == "Bearer hook-SECRET-77"
        wait_until(lambda: spool(tree) == [], "an empty spool")
        s = status(tree)
        for pid in (s["pid"], s["alerts"]["pid"], s["alerts"]["worker"]):
            with open(f"/proc/{pid}/environ", "rb") as f:
                assert hook.url.encode() not in f.read()
        assert "/hook" not in m.stderr()
    finally:
        hook.stop()


@pytest.mark.parametrize("sink", ["smtp", "webhook"])
def test_tls_verification_failure_is_kept_not_sent(tree, monitors, pki, sink):
    # a server whose certificate the configured CA did not sign
    if sink == "smtp":
        srv = SmtpDouble(pki, mode="starttls", cert="bad",
                         users={"fimguard": SMTP_PASSWORD}).start()
        conf, env = smtp_conf(srv, pki), smtp_env()
    else:
        srv = WebhookDouble(pki, tls=True, cert="bad").start()
        conf = f"[webhook]\nurl = {srv.url}\nca_file = {pki['ca']}\n"
        env = None
    try:
        m = start(tree, conf, env=env)
        monitors.append(m)
        write(tree.t("a.conf"), "unverified\n")
        wait_until(lambda: spool(tree, "failed"), "a kept entry")
        wait_until(lambda: "failed permanently" in m.stderr(), "the log")
        assert re.search(r"(?i)certificate|verif|SSL", m.stderr())
        if sink == "smtp":
            assert srv.messages == [] and srv.auth_attempts == []
        else:
            assert srv.requests == []
    finally:
        srv.stop()


def test_rate_limit_sends_one_digest_for_the_rest(tree, monitors):
    hook = WebhookDouble().start()
    try:
        m = start(tree, f"[webhook]\nurl = {hook.url}\nrate = 2\n")
        monitors.append(m)
        # the hook is down (503, Retry-After 1) until six alerts wait
        hook.fail_next(503, count=1000, retry_after=1)
        write(tree.t("a.conf"), "first\n")
        for i in range(5):
            write(tree.t("b.conf"), f"change {i}\n")
            time.sleep(0.15)
        wait_until(lambda: len(spool(tree)) == 6, "six spooled alerts")
        with hook._lock:
            hook._failures.clear()
        failed = len(hook.requests)
        wait_until(lambda: spool(tree) == [], "an empty spool", timeout=30)
        posts = [r["json"] for r in hook.requests[failed:]]
        # two a minute: one alert, then one digest of the other five
        assert len(posts) == 2, [p["text"][:60] for p in posts]
        assert posts[0]["fimguard"]["digest"] == 0
        assert posts[1]["fimguard"]["digest"] == 5
        assert len(posts[1]["event"]["items"]) == 5
        assert "digest: 5 alerts" in posts[1]["text"]
    finally:
        hook.stop()


# ---- floods ----------------------------------------------------------------

# one process opens a protected file for writing n times, as fast as it can
FLOOD = """
import os, sys
denied = 0
for i in range(int(sys.argv[2])):
    try:
        os.close(os.open(sys.argv[1], os.O_WRONLY))
    except PermissionError:
        denied += 1
print(os.getpid(), denied)
"""


def weight(ev):
    """How many occurrences an event or a digest item stands for."""
    return ev.get("fimguard", {}).get("repeat", {}).get("count", 1)


def flood(path, n):
    """(pid, seconds it took)"""
    t = time.monotonic()
    p = subprocess.run([PY, "-c", FLOOD, path, str(n)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    pid, denied = map(int, p.stdout.split())
    assert denied == n          # every one of them denied
    return pid, time.monotonic() - t


def test_a_write_flood_is_folded_counted_and_alerted(tree, monitors):
    hook = WebhookDouble().start()
    try:
        m = start(tree, f"repeat_interval = 1\n[webhook]\nurl = {hook.url}\n",
                  mode="enforce")
        monitors.append(m)
        path, n = tree.t("a.conf"), 5000
        pid, took = flood(path, n)

        def mine(e):
            return by("write-denied", path)(e) and e["process"]["pid"] == pid
        # the first denial at once, the others in one summary a second
        try:
            wait_until(lambda: sum(weight(e) for e in m.events()
                                   if mine(e)) == n,
                       "every denial counted in the events file")
        except BaseException:
            st = status(tree)
            print("counted", sum(weight(e) for e in m.events() if mine(e)),
                  "dropped", st.get("dropped"), "queue", st.get("queue"))
            raise
        evs = [e for e in m.events() if mine(e)]
        assert "repeat" not in evs[0]["fimguard"]
        # one a second (repeat_interval) while it lasted, one after
        assert 2 <= len(evs) <= 3 + int(took), (took, [weight(e) for e in evs])
        assert len(m.events()) == len(evs)      # nothing else was written
        for e in evs[1:]:
            rp = e["fimguard"]["repeat"]
            assert rp["count"] >= 1 and rp["first"] <= rp["last"]
            assert e["fimguard"]["decision"] == "deny"
            assert e["process"]["executable"] == os.path.realpath(PY)
        # the alerts add up too, one per event: the spool never held more

        def alerted():
            return [r["json"]["event"] for r in hook.requests
                    if r["json"] and r["json"]["event"].get("event", {})
                    .get("action") == "write-denied"]
        wait_until(lambda: sum(weight(e) for e in alerted()) == n,
                   "every denial counted in the alerts")
        assert len(alerted()) == len(evs)
        wait_until(lambda: spool(tree) == [], "an empty spool")
    finally:
        hook.stop()


def test_a_flood_behind_a_stalled_worker_loses_no_denial(tree, monitors):
    """The worker is blocked (its stdout is a pipe nobody reads yet, full
    of "created" events) while one process opens a protected file for
    writing 5,000 times: the permission thread folds the loop into the
    record the worker has not taken, so nothing overflows the ring
    (1,024 records) and every denial is counted once the worker runs."""
    from test_writer_identity import PipedMonitor
    tree.write_config(mode="enforce", extra="repeat_interval = 1\n")
    tree.init()
    m = PipedMonitor(tree, "enforce")
    monitors.append(m)
    rc, err = op("import os, stat, sys\n"
                 "for i in range(300):\n"
                 "    os.mknod(os.path.join(sys.argv[1], 'flood%d' % i),"
                 " stat.S_IFREG | 0o644)\n", tree.tree)
    assert rc == 0, err
    path, n = tree.t("a.conf"), 5000
    pid, _ = flood(path, n)
    m.release()

    def mine(e):
        return by("write-denied", path)(e) and e["process"]["pid"] == pid
    wait_until(lambda: sum(weight(e) for e in m.events() if mine(e)) == n,
               "every denial counted in the events file")
    assert status(tree)["dropped"] == 0


# n processes, each denied once: no two denials are alike, none folded
FORK_FLOOD = """
import os, sys
pids = []
for i in range(int(sys.argv[2])):
    pid = os.fork()
    if pid == 0:
        try:
            os.open(sys.argv[1], os.O_WRONLY)
        except PermissionError:
            os._exit(13)
        os._exit(0)
    pids.append(pid)
print(sum(os.waitpid(p, 0)[1] >> 8 == 13 for p in pids))
"""


def held_count(fim, sink="webhook"):
    """How many alerts the digest held aside for sink says it holds."""
    try:
        with open(os.path.join(fim.state, "spool",
                               f".overflow-{sink}.json")) as f:
            return json.load(f)["digest"]["count"]
    except (OSError, ValueError):
        return 0


def test_the_spool_is_bounded_and_the_rest_is_one_digest(tree, monitors):
    hook = WebhookDouble().start()
    try:
        m = start(tree, f"[webhook]\nurl = {hook.url}\nspool_max = 5\n",
                  mode="enforce")
        monitors.append(m)
        hook.fail_next(503, count=100000, retry_after=1)   # the sink is down
        path, n = tree.t("a.conf"), 60
        p = subprocess.run([PY, "-c", FORK_FLOOD, path, str(n)],
                           capture_output=True, text=True, timeout=120)
        assert p.stdout.split() == [str(n)], p.stderr
        # the events file has every denial; the spool five of them, and
        # the rest waits aside as one digest (on disk, out of the
        # alerter's sight) that says how many
        wait_until(lambda: len([e for e in m.events()
                                if by("write-denied", path)(e)]) == n,
                   "every denial in the events file")
        held = os.path.join(tree.state, "spool", ".overflow-webhook.json")
        wait_until(lambda: held_count(tree) == n - 5, "the held digest")
        assert sorted(spool(tree))[0] == ".overflow-webhook.json"
        assert len(spool(tree)) == 1 + 5
        # the sink is back: the five, then one digest of the other 55
        with hook._lock:
            hook._failures.clear()
        wait_until(lambda: spool(tree) == [] and not os.path.exists(held),
                   "an empty spool", timeout=30)
        posts = [r["json"] for r in hook.requests if r["status"] == 200]
        singles = [q for q in posts if q["fimguard"]["digest"] == 0]
        digests = [q["event"] for q in posts if q["fimguard"]["digest"] > 0]
        assert len(singles) == 5 and len(digests) == 1, posts
        d = digests[0]
        assert d["reason"] == "spool_max" and d["unlisted"] == 0
        assert d["count"] == n - 5
        # which: one item, the file and the action, with its count
        (item,) = d["items"]
        assert item["file"]["path"] == path
        assert item["event"]["action"] == "write-denied"
        assert weight(item) == n - 5
        assert "did not fit the alert spool" in \
            [q["text"] for q in posts if q["fimguard"]["digest"]][0]
        assert status(tree)["alerts"]["folded"] == n - 5
    finally:
        hook.stop()


def test_a_digest_held_at_a_crash_goes_out_after_the_restart(tree, monitors):
    hook = WebhookDouble().start()
    try:
        m = start(tree, f"[webhook]\nurl = {hook.url}\nspool_max = 2\n",
                  mode="enforce")
        monitors.append(m)
        hook.fail_next(503, count=100000, retry_after=1)
        path, n = tree.t("a.conf"), 10
        p = subprocess.run([PY, "-c", FORK_FLOOD, path, str(n)],
                           capture_output=True, text=True, timeout=120)
        assert p.stdout.split() == [str(n)], p.stderr
        wait_until(lambda: held_count(tree) == n - 2, "the held digest")
        m.kill()                # no clean stop that would release it
        with hook._lock:
            hook._failures.clear()
        m2 = Monitor(tree, "enforce")
        monitors.append(m2)
        wait_until(lambda: spool(tree) == [], "an empty spool", timeout=30)
        assert "a digest left by the last run" in m2.stderr()
        posts = [r["json"] for r in hook.requests if r["status"] == 200]
        assert sorted(q["fimguard"]["digest"] for q in posts) == [0, 0, n - 2]
    finally:
        hook.stop()


# ---- Jira ------------------------------------------------------------------

def test_jira_cloud_issue_then_comment_for_the_same_change(tree, monitors):
    j = JiraDouble(api=3, user=JIRA_USER, token=JIRA_TOKEN).start()
    try:
        m = start(tree, jira_conf(j) + "labels = fim prod-web\n"
                  "priority_high = Highest\n", env=jira_env())
        monitors.append(m)
        path = tree.t("a.conf")
        write(path, "evil\n")
        wait_until(lambda: j.issues, "an issue")
        (key, issue), = j.issues.items()
        sha = sha256_bytes(b"evil\n")
        f = issue["fields"]
        assert f["summary"] == f"[fimguard][HIGH] modified {path} on {HOST}"
        assert dedup_label(path, sha) in f["labels"] and "fimguard" in f["labels"]
        assert {"fim", "prod-web"} <= set(f["labels"])     # configured
        assert f["priority"]["name"] == "Highest"           # mapped: high
        text = "\n".join(adf_texts(f["description"]))
        for needle in (path, sha, "tree", "high", "modified",
                       sha256_bytes(b"alpha\n"), "+evil", "-alpha",
                       # who-data of the open for write, not just a pid
                       # (the arguments only with args = yes)
                       "User id:", "Argument count:", "Parent id:"):
            assert needle in text, needle
        # exactly one search (by the dedup label) before the create
        posts = [r for r in j.requests if r["method"] == "POST"]
        assert posts[0]["path"] == "/rest/api/3/search/jql"
        assert dedup_label(path, sha) in posts[0]["json"]["jql"]
        assert creates(j)[0]["headers"]["authorization"] == "Basic " + \
            base64.b64encode(f"{JIRA_USER}:{JIRA_TOKEN}".encode()).decode()
        # another change, then the first content again: a comment on the
        # open issue, not a second issue for the same change
        write(path, "other\n")
        wait_until(lambda: len(j.issues) == 2, "a second issue")
        write(path, "evil\n")
        wait_until(lambda: j.issues[key]["comments"], "a comment")
        assert len(j.issues) == 2
        assert len(creates(j)) == 2
    finally:
        j.stop()


def test_jira_data_center_v2_bearer_from_systemd_credential(tree, monitors,
                                                            tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir(mode=0o700)
    (creds / "jira-token").write_text(JIRA_TOKEN + "\n")
    j = JiraDouble(api=2, token=JIRA_TOKEN).start()
    try:
        env = dict(os.environ, CREDENTIALS_DIRECTORY=str(creds))
        m = start(tree, jira_conf(j, api=2,
                  extra="token_credential = jira-token\n"), env=env)
        monitors.append(m)
        write(tree.t("b.conf"), "dc\n")
        wait_until(lambda: j.issues, "an issue")
        req = creates(j)[0]
        assert req["headers"]["authorization"] == f"Bearer {JIRA_TOKEN}"
        desc = req["json"]["fields"]["description"]
        assert isinstance(desc, str) and tree.t("b.conf") in desc
        assert any(r["path"] == "/rest/api/2/search" for r in j.requests)
    finally:
        j.stop()


def test_jira_429_is_retried_after_retry_after(tree, monitors):
    j = JiraDouble(api=3, user=JIRA_USER, token=JIRA_TOKEN).start()
    try:
        j.fail_next(429, count=1, retry_after=2)
        m = start(tree, jira_conf(j), env=jira_env())
        monitors.append(m)
        write(tree.t("a.conf"), "later\n")
        wait_until(lambda: j.requests, "the first try")
        t0 = time.time()
        wait_until(lambda: j.issues, "an issue after the retry", timeout=20)
        assert time.time() - t0 >= 1.5      # Retry-After honoured
        assert j.requests[0]["status"] == 429
        wait_until(lambda: spool(tree) == [], "an empty spool")
        assert len(j.issues) == 1
        assert "will retry" in m.stderr()
    finally:
        j.stop()


def test_jira_permanent_error_is_kept_and_reported_once(tree, monitors):
    j = JiraDouble(api=3, user=JIRA_USER, token="the-right-one").start()
    try:
        m = start(tree, jira_conf(j), env=jira_env())     # wrong token
        monitors.append(m)
        write(tree.t("a.conf"), "x\n")
        wait_until(lambda: spool(tree, "failed"), "a kept entry")
        wait_until(lambda: "failed permanently" in m.stderr(), "the log")
        time.sleep(2)
        assert len(j.requests) == 1 and j.requests[0]["status"] == 401
        assert spool(tree) == []
        assert m.stderr().count("failed permanently") == 1
        assert "HTTP 401" in m.stderr()
        assert status(tree)["alerts"]["failed"] == 1
    finally:
        j.stop()


def test_outage_with_both_processes_restarted_loses_and_duplicates_nothing(
        tree, monitors):
    j = JiraDouble(api=3, user=JIRA_USER, token=JIRA_TOKEN).start()
    j.stop()                                # Jira is down
    m = start(tree, jira_conf(j), env=jira_env())
    write(tree.t("a.conf"), "during outage 1\n")
    write(tree.t("b.conf"), "during outage 2\n")
    wait_until(lambda: len(spool(tree)) >= 2, "two spooled alerts")
    time.sleep(0.5)
    assert len(spool(tree)) == 2, spool_what(tree)
    assert m.stop() == 0                    # monitor and alerter stop
    wait_until(lambda: not [p for p in os.listdir("/proc") if p.isdigit()
                            and _is_our_alerter(p, tree)], "alerter gone")
    assert len(spool(tree)) == 2            # nothing lost on the way down
    j.start()                               # Jira is back, same port
    m2 = Monitor(tree, mode="audit", env=jira_env())
    monitors.append(m2)
    wait_until(lambda: len(j.issues) == 2, "both issues", timeout=20)
    wait_until(lambda: spool(tree) == [], "an empty spool")
    time.sleep(1)
    assert len(creates(j)) == 2
    paths = sorted(i["fields"]["summary"].split()[2] for i in j.issues.values())
    assert paths == [tree.t("a.conf"), tree.t("b.conf")]
    j.stop()


def _is_our_alerter(pid, fim):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return fim.state.encode() in f.read()
    except OSError:
        return False


# ---- email -----------------------------------------------------------------

def smtp_conf(srv, pki, starttls="required"):
    return (f"[smtp]\nurl = {srv.url}\nstarttls = {starttls}\n"
            f"from = fimguard@{HOST}.example\n"
            "to = secops@example.com oncall@example.com\n"
            "user = fimguard\npassword_env = FIMGUARD_SMTP_PASSWORD\n"
            f"ca_file = {pki['ca']}\n")


def smtp_env():
    return dict(os.environ, FIMGUARD_SMTP_PASSWORD=SMTP_PASSWORD)


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_mail_arrives_over_tls_with_auth_and_headers(tree, monitors, pki, mode):
    srv = SmtpDouble(pki, mode=mode, users={"fimguard": SMTP_PASSWORD}).start()
    try:
        m = start(tree, smtp_conf(srv, pki), env=smtp_env())
        monitors.append(m)
        path = tree.t("a.conf")
        write(path, "mailed\n")
        msg = srv.wait_for_messages(1, timeout=15)[0]
        assert msg["tls"] and msg["auth_user"] == "fimguard"
        assert msg["mail_from"] == f"fimguard@{HOST}.example"
        assert sorted(msg["rcpt_tos"]) == ["oncall@example.com",
                                           "secops@example.com"]
        mail = email.message_from_bytes(msg["data"], policy=email.policy.default)
        for h in ("Date", "Message-ID", "From", "To", "Subject"):
            assert mail[h], h
        assert str(mail["Subject"]) == \
            f"[fimguard][HIGH] modified {path} on {HOST}"
        assert "secops@example.com" in str(mail["To"]) and \
            "oncall@example.com" in str(mail["To"])
        body = mail.get_content()
        for needle in (path, sha256_bytes(b"mailed\n"), "fimguard approve"):
            assert needle in body, needle
        wait_until(lambda: spool(tree) == [], "an empty spool")
    finally:
        srv.stop()


def test_a_file_name_cannot_inject_mail_headers(fim, monitors, pki):
    # the path goes into Subject: its CR/LF must not start a header
    name = "x\r\nBcc: evil@example.net\r\nX-Evil: 1"
    fim.write(name, b"one\n")
    fim.rule(severity="high")
    srv = SmtpDouble(pki, mode="starttls",
                     users={"fimguard": SMTP_PASSWORD}).start()
    try:
        m = start(fim, smtp_conf(srv, pki), env=smtp_env())
        monitors.append(m)
        write(fim.t(name), "two\n")
        msg = srv.wait_for_messages(1, timeout=15)[0]
        assert sorted(msg["rcpt_tos"]) == ["oncall@example.com",
                                           "secops@example.com"]
        mail = email.message_from_bytes(msg["data"],
                                        policy=email.policy.default)
        assert mail["Bcc"] is None and mail["X-Evil"] is None
        assert "Bcc: evil@example.net" in str(mail["Subject"])  # as text
        assert "\n" not in str(mail["Subject"])
    finally:
        srv.stop()


def test_plaintext_server_is_refused_when_starttls_is_required(tree, monitors,
                                                               pki):
    srv = SmtpDouble(pki, mode="plain",
                     users={"fimguard": SMTP_PASSWORD}).start()
    try:
        m = start(tree, smtp_conf(srv, pki), env=smtp_env())
        monitors.append(m)
        write(tree.t("a.conf"), "not in clear\n")
        wait_until(lambda: spool(tree, "failed"), "a kept entry")
        wait_until(lambda: "STARTTLS" in m.stderr(), "the reason logged")
        assert srv.messages == [] and srv.auth_attempts == []
    finally:
        srv.stop()


# ---- secrets ---------------------------------------------------------------

ARG_SECRET = "hunter2-ARG-SECRET"


@pytest.mark.parametrize("args", ["default", "yes"])
def test_command_lines_reach_sinks_only_with_args_yes(tree, monitors, pki,
                                                      args):
    # a writer whose arguments hold a secret, as `usermod -p HASH` does:
    # every sink gets the executable and the count, the arguments only
    # where it sets args = yes; the local events file keeps them
    j = JiraDouble(api=3, user=JIRA_USER, token=JIRA_TOKEN).start()
    srv = SmtpDouble(pki, mode="starttls",
                     users={"fimguard": SMTP_PASSWORD}).start()
    hook = WebhookDouble().start()
    extra = "args = yes\n" if args == "yes" else ""
    try:
        env = dict(jira_env(), FIMGUARD_SMTP_PASSWORD=SMTP_PASSWORD)
        m = start(tree, jira_conf(j) + extra + smtp_conf(srv, pki) + extra +
                  f"[webhook]\nurl = {hook.url}\n" + extra, env=env)
        monitors.append(m)
        path = tree.t("a.conf")
        code = "import sys; open(sys.argv[1], 'wb').write(b'x\\n')"
        rc, err = op(code, path, "-p", ARG_SECRET)
        assert rc == 0, err
        mod = m.wait_for(by("modified", path), "modified")[0]
        argv = ["/usr/bin/python3", "-c", code, path, "-p", ARG_SECRET]
        assert mod["process"]["args"] == argv      # kept locally
        msg = srv.wait_for_messages(1, timeout=15)[0]
        wait_until(lambda: j.issues, "an issue")
        req = wait_until(lambda: hook.requests, "a webhook request")[0]
        (issue,) = j.issues.values()
        mail = email.message_from_bytes(msg["data"],
                                        policy=email.policy.default)
        bodies = {"webhook": req["body"].decode(), "mail": mail.get_content(),
                  "jira": "\n".join(adf_texts(issue["fields"]["description"]))}
        proc = req["json"]["event"]["process"]
        assert proc["executable"] == os.path.realpath("/usr/bin/python3")
        if args == "yes":
            assert proc["args"] == argv and "args_count" not in proc
            for name, body in bodies.items():
                assert ARG_SECRET in body, name
            assert "Command line:" in bodies["mail"]
        else:
            assert "args" not in proc and proc["args_count"] == len(argv)
            for name, body in bodies.items():
                assert ARG_SECRET not in body, name
            for name in ("mail", "jira"):
                assert "Command line:" not in bodies[name], name
                assert re.search(r"(?m)^Argument count: +6\r?$",
                                 bodies[name]), name
        wait_until(lambda: spool(tree) == [], "an empty spool")
    finally:
        hook.stop()
        srv.stop()
        j.stop()


def test_secrets_never_leak(tree, monitors, pki):
    j = JiraDouble(api=3, user=JIRA_USER, token=JIRA_TOKEN).start()
    srv = SmtpDouble(pki, mode="starttls",
                     users={"fimguard": SMTP_PASSWORD}).start()
    try:
        env = dict(jira_env(), FIMGUARD_SMTP_PASSWORD=SMTP_PASSWORD)
        m = start(tree, jira_conf(j) + smtp_conf(srv, pki), env=env)
        monitors.append(m)
        j.fail_next(503, count=1)           # a failure gets logged too
        write(tree.t("a.conf"), "secret test\n")
        srv.wait_for_messages(1, timeout=15)
        wait_until(lambda: j.issues, "an issue", timeout=20)
        s = status(tree)
        pids = [s["pid"], s["alerts"]["pid"], s["alerts"]["worker"]]
        secrets = [JIRA_TOKEN.encode(), SMTP_PASSWORD.encode()]
        # no core dumps, and not dumpable (its /proc files then belong
        # to root, not to the process's own user)
        for pid in pids:
            with open(f"/proc/{pid}/limits") as f:
                core = [l for l in f if l.startswith("Max core file size")]
            assert core[0].split()[4:6] == ["0", "0"], core
            assert os.stat(f"/proc/{pid}/environ").st_uid == 0
        # argv and environment of every fimguard process
        for pid in pids:
            for what in ("cmdline", "environ"):
                with open(f"/proc/{pid}/{what}", "rb") as f:
                    data = f.read()
                for sec in secrets:
                    assert sec not in data, (pid, what)
        m.stop()
        blobs = {"stderr": m.stderr().encode(), "stdout": open(m.out_path, "rb").read(),
                 "events": open(tree.events, "rb").read()}
        for p in glob.glob(os.path.join(tree.state, "**"), recursive=True):
            if os.path.isfile(p):
                blobs[p] = open(p, "rb").read()
        blobs["mail"] = b"".join(msg["data"] for msg in srv.messages)
        blobs["jira"] = json.dumps(j.issues).encode()
        for name, data in blobs.items():
            for sec in secrets:
                assert sec not in data, name
    finally:
        srv.stop()
        j.stop()


# ---- status --format prometheus -------------------------------------------

PROM_SAMPLE = re.compile(
    r'^(fimguard_[a-z_]+)(\{sink="[a-z]+"\})? (\d+(?:\.\d+)?)$')


def prometheus(fim, expect=0):
    p = subprocess.run([FIMGUARD, "-c", fim.conf, "-p", fim.policy, "-s",
                        fim.state, "status", "--format", "prometheus"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == expect, p.stderr
    samples, declared = {}, set()
    for line in p.stdout.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            declared.add(line.split()[2])
            continue
        m = PROM_SAMPLE.match(line)
        assert m, f"not a textfile sample: {line!r}"
        assert m.group(1) in declared, f"{m.group(1)} has no HELP/TYPE"
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples


def test_status_prometheus_shows_spool_depth_age_and_restarts(tree, monitors):
    with socket.socket() as s:      # a port nobody listens on: sink down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = start(tree, f"[webhook]\nurl = http://127.0.0.1:{port}/hook\n",
              mode="enforce")
    monitors.append(m)
    old = wait_until(lambda: status(tree).get("alerts", {}).get("worker"),
                     "alerter")
    rc, _ = op("import sys; open(sys.argv[1], 'ab')", tree.t("a.conf"))
    assert rc != 0
    wait_until(lambda: spool(tree), "a spooled alert")
    time.sleep(1.1)                 # so that the oldest entry is >= 1 s old
    got = prometheus(tree)
    assert got["fimguard_up"] == 1
    assert got["fimguard_denied_total"] >= 1
    assert got["fimguard_permission_events_total"] >= 1
    assert got['fimguard_spool_depth{sink="webhook"}'] >= 1
    assert got["fimguard_spool_oldest_age_seconds"] >= 1
    assert got["fimguard_alerter_restarts_total"] == 0
    # when the monitor last compared the tree with the baseline (issue 9)
    assert abs(got["fimguard_last_reconciliation_timestamp_seconds"] -
               time.time()) < 120
    assert got["fimguard_last_reconciliation_changes"] == 0
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: status(tree)["alerts"]["worker"] not in (old, 0),
               "a new alerter worker")
    assert prometheus(tree)["fimguard_alerter_restarts_total"] == 1


def test_status_prometheus_without_monitor_says_down(tree):
    tree.write_config()
    assert prometheus(tree, expect=2) == {"fimguard_up": 0}
