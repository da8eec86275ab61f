"""Shared fixtures for the fimguard integration tests.

Every test gets its own scratch directory (never the real /etc or /var/lib):

    <base>/fimguard.conf   config (-c), sets `events = <base>/events.json`
    <base>/policy.d/       policy directory (-p)
    <base>/state/          state directory (-s), created by `fimguard init`
    <base>/tree/           the protected tree the policies point at
    <base>/outside/        scratch space that no rule covers

The binary is /work/main/fimguard unless $FIMGUARD says otherwise.
Run with Debian's python:  /usr/bin/python3 -m pytest tests/integration
"""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIMGUARD = os.path.abspath(os.environ.get("FIMGUARD", os.path.join(REPO, "fimguard")))
TIMEOUT = 60

SEVERITY_NUM = {"low": 21, "medium": 47, "high": 73, "critical": 99}
ACTIONS = {"modified", "created", "deleted", "renamed", "attributes-changed",
           "scan-failed", "baseline-approved", "restore-failed", "quarantined"}


def _binary_or_skip():
    if not (os.path.isfile(FIMGUARD) and os.access(FIMGUARD, os.X_OK)):
        msg = f"fimguard binary not found at {FIMGUARD} (run make, or set FIMGUARD)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def fsb(path):
    """Path as bytes (as on disk)."""
    return os.fsencode(path)


def record_to_dict(fields, rec):
    """A baseline record (JSON array, names in the header's "fields") as
    a dict; names that are not UTF-8 ({"b64": ...}) become key_b64."""
    assert isinstance(rec, list) and len(rec) == len(fields), rec
    d = {}
    for name, val in zip(fields, rec):
        if isinstance(val, dict) and name in ("path", "target"):
            d[name + "_b64"] = val["b64"]
        elif val is not None:
            d[name] = val
    return d


def entry_path(entry):
    """Path of a baseline entry, as bytes."""
    if "path_b64" in entry:
        return base64.b64decode(entry["path_b64"])
    return entry["path"].encode("utf-8")


def event_path(ev):
    """Path of an event, as bytes (path_base64 wins when present)."""
    fg = ev.get("fimguard") or {}
    if "path_base64" in fg:
        return base64.b64decode(fg["path_base64"])
    return ev["file"]["path"].encode("utf-8")


def events_for(events, path):
    p = fsb(path)
    return [e for e in events if event_path(e) == p]


def one_event_for(events, path, action=None):
    evs = events_for(events, path)
    assert len(evs) == 1, f"expected exactly one event for {path!r}, got {len(evs)}: {evs}\nall events: {events}"
    if action is not None:
        assert evs[0]["event"]["action"] == action, f"wrong action for {path!r}: {evs[0]}"
    return evs[0]


def has_header(out, action, path, rule, severity):
    """Human `check` output holds the block header `ACTION PATH [rule NAME, SEVERITY]` on a line
    of its own. Reading of the contract: the gap after ACTION may be padded to align columns."""
    pat = (r"(?m)^" + re.escape(action) + r" +" + re.escape(path) + r" \[rule " + re.escape(rule)
           + ", " + re.escape(severity) + r"\]$")
    return re.search(pat, out) is not None


def actions_by_path(events):
    return sorted((event_path(e), e["event"]["action"]) for e in events)


class Fim:
    """One scratch fimguard installation."""

    def __init__(self, base):
        self.base = base
        self.tree = os.path.join(base, "tree")
        self.outside = os.path.join(base, "outside")
        self.conf = os.path.join(base, "fimguard.conf")
        self.policy = os.path.join(base, "policy.d")
        self.state = os.path.join(base, "state")
        self.events = os.path.join(base, "events.json")
        self.bin = FIMGUARD
        for d in (self.tree, self.outside, self.policy):
            os.mkdir(d)
            os.chmod(d, 0o755)
        self.write_config()

    # ---- paths ---------------------------------------------------------
    def t(self, *parts):
        """Path inside the protected tree (str, or bytes if any part is bytes)."""
        if any(isinstance(p, bytes) for p in parts):
            return os.path.join(fsb(self.tree), *[fsb(p) for p in parts])
        return os.path.join(self.tree, *parts)

    @property
    def baseline_file(self):
        return os.path.join(self.state, "baseline.json")

    @property
    def history_file(self):
        return os.path.join(self.state, "history.jsonl")

    # ---- setup ---------------------------------------------------------
    def write_config(self, text=None, mode="audit", extra=""):
        if text is None:
            text = f"mode = {mode}\nevents = {self.events}\n{extra}"
        with open(self.conf, "w") as f:
            f.write(text)
        os.chmod(self.conf, 0o644)

    def write_policy(self, text, name="10-test.rules"):
        path = os.path.join(self.policy, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        return path

    def rule(self, name="tree", paths=None, recursive="yes", file="10-test.rules", **keys):
        """Write a one-rule policy file; paths defaults to the tree."""
        if paths is None:
            paths = self.tree
        lines = [f"[rule {name}]", f"paths = {paths}"]
        if recursive is not None:
            lines.append(f"recursive = {recursive}")
        for k, v in keys.items():
            lines.append(f"{k} = {v}")
        return self.write_policy("\n".join(lines) + "\n", file)

    def write(self, rel, data=b"", mode=0o644):
        """Create/overwrite a file in the tree (rel may be str or bytes)."""
        path = self.t(rel) if not os.path.isabs(rel) else rel
        parent = os.path.dirname(path)
        os.makedirs(parent, exist_ok=True)
        if isinstance(data, str):
            data = data.encode()
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        return path

    def mkdir(self, rel, mode=0o755):
        path = self.t(rel)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)
        return path

    # ---- running ---------------------------------------------------------
    def raw(self, *args, expect=None, timeout=TIMEOUT, user=None, env=None):
        """Run the binary with exactly these arguments (no -c/-p/-s added)."""
        _binary_or_skip()
        cmd = [self.bin, *args]
        if user is not None:
            cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, timeout=timeout, env=env,
                               cwd=self.base)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"timeout after {timeout}s: {cmd}\nstdout: {e.stdout!r}\nstderr: {e.stderr!r}")
        p.stdout_bytes = p.stdout
        p.stderr_bytes = p.stderr
        p.stdout = p.stdout.decode("utf-8", "surrogateescape")
        p.stderr = p.stderr.decode("utf-8", "surrogateescape")
        if expect is not None:
            assert p.returncode == expect, (
                f"{cmd}\nexit {p.returncode}, expected {expect}\n"
                f"--- stdout ---\n{p.stdout[:6000]}\n--- stderr ---\n{p.stderr[:6000]}")
        return p

    def run(self, *args, expect=None, timeout=TIMEOUT, user=None, env=None):
        """Run `fimguard -c CONF -p POLICY -s STATE ARGS...`."""
        return self.raw("-c", self.conf, "-p", self.policy, "-s", self.state, *args,
                        expect=expect, timeout=timeout, user=user, env=env)

    def init(self, *extra, expect=0, **kw):
        return self.run("init", *extra, expect=expect, **kw)

    def check(self, expect=None, **kw):
        return self.run("check", expect=expect, **kw)

    def check_json(self, expect=1, **kw):
        """`check --json`; returns (proc, events). Every stdout line must be JSON."""
        p = self.run("check", "--json", expect=expect, **kw)
        return p, parse_json_lines(p.stdout, "check --json stdout")

    # ---- state files -----------------------------------------------------
    def baseline_lines(self):
        with open(self.baseline_file, "rb") as f:
            return f.read().split(b"\n")

    def baseline(self):
        """(header, entries, hmac_obj) of baseline.json."""
        with open(self.baseline_file, "rb") as f:
            data = f.read()
        assert data.endswith(b"\n"), "baseline.json must end with a newline"
        lines = data[:-1].split(b"\n")
        objs = [json.loads(l) for l in lines]
        header = objs[0]
        ents = [record_to_dict(header["fields"], e) for e in objs[1:-1]]
        return header, ents, objs[-1]

    def entries(self):
        """dict: path bytes -> entry."""
        _, ents, _ = self.baseline()
        return {entry_path(e): e for e in ents}

    def entry(self, path):
        ents = self.entries()
        p = fsb(path)
        assert p in ents, f"{path!r} not in baseline; have {sorted(ents)}"
        return ents[p]

    def file_events(self):
        if not os.path.exists(self.events):
            return []
        with open(self.events, "rb") as f:
            return parse_json_lines(f.read().decode("utf-8"), "events file")

    def history(self):
        with open(self.history_file, "rb") as f:
            return parse_json_lines(f.read().decode("utf-8"), "history.jsonl")

    def hmac_key_candidates(self):
        with open(os.path.join(self.state, "hmac.key"), "rb") as f:
            raw = f.read()
        cands = [raw]
        s = raw.strip()
        cands.append(s)
        try:
            cands.append(bytes.fromhex(s.decode()))
        except Exception:
            pass
        try:
            cands.append(base64.b64decode(s, validate=True))
        except Exception:
            pass
        return cands


def parse_json_lines(text, what):
    out = []
    for i, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise AssertionError(f"{what} line {i + 1} is not JSON ({e}): {line!r}")
        assert isinstance(obj, dict), f"{what} line {i + 1} is not an object: {line!r}"
        out.append(obj)
    return out


def _rmtree(path):
    # undo anything a test may have mounted inside its scratch dir
    try:
        with open("/proc/self/mounts") as f:
            mnts = [l.split()[1] for l in f]
        for m in reversed(mnts):
            m = m.encode().decode("unicode_escape")
            if m.startswith(path + "/"):
                subprocess.run(["umount", "-l", m], timeout=20)
    except Exception:
        pass

    def onerror(func, p, exc):
        try:
            os.chmod(os.path.dirname(p), 0o755)
            os.chmod(p, 0o755)
        except Exception:
            pass
        try:
            func(p)
        except Exception:
            pass
    shutil.rmtree(path, onerror=onerror)


@pytest.fixture
def fim():
    _binary_or_skip()
    old = os.umask(0o022)
    base = tempfile.mkdtemp(prefix="fimguard-it-", dir=os.environ.get("FIMGUARD_TEST_TMP", "/tmp"))
    os.chmod(base, 0o755)  # the setpriv test needs others to traverse it
    try:
        yield Fim(base)
    finally:
        os.umask(old)
        if not os.environ.get("FIMGUARD_KEEP"):
            _rmtree(base)


def assert_common_event_fields(ev):
    """Fields every event must carry (CONTRACT / DESIGN section 4)."""
    ts = ev.get("@timestamp")
    assert isinstance(ts, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ts), \
        f"bad @timestamp {ts!r} in {ev}"
    e = ev.get("event")
    assert isinstance(e, dict), ev
    assert e.get("action") in ACTIONS, f"bad event.action in {ev}"
    assert e.get("outcome") in ("success", "failure"), f"bad event.outcome in {ev}"
    assert e.get("severity") in SEVERITY_NUM.values(), f"bad event.severity in {ev}"
    assert isinstance(ev.get("file"), dict) and isinstance(ev["file"].get("path"), str), ev
    assert isinstance(ev.get("rule"), dict) and isinstance(ev["rule"].get("name"), str), ev
    assert isinstance(ev.get("fimguard"), dict) and ev["fimguard"].get("mode") in ("audit", "enforce"), ev


def verify_baseline_hmac(fim):
    with open(fim.baseline_file, "rb") as f:
        data = f.read()
    body, last = data[:-1].rsplit(b"\n", 1)
    body += b"\n"
    mac = json.loads(last)["hmac"]
    for key in fim.hmac_key_candidates():
        if hmac.new(key, body, hashlib.sha256).hexdigest() == mac.lower():
            return True
    return False
