"""Each kind of change is detected by `check --json` with the right event.action and details;
human output summary line and blocks."""

import os
import subprocess
import re
import shutil

import pytest

from conftest import (SEVERITY_NUM, has_header, actions_by_path, events_for, one_event_for, sha256_bytes)


@pytest.fixture
def tree(fim):
    fim.write("passwd", b"root:x:0:0::/root:/bin/sh\n")
    fim.write("shadow", b"root:*:19000::::::\n", mode=0o640)
    fim.write("unique.bin", b"some unique content 1234567\n")
    fim.mkdir("sub")
    fim.write("sub/nested.conf", b"nested = 1\n")
    os.symlink("passwd", fim.t("link"))
    fim.rule(name="tree")
    fim.init()
    return fim


def only_events(events, path):
    """All events are for `path` (nothing spurious for other entries)."""
    others = [e for e in events if e not in events_for(events, path)]
    assert not others, f"unexpected extra events: {others}"


def test_modified(tree):
    fim = tree
    old = b"root:x:0:0::/root:/bin/sh\n"
    new = b"root:x:0:0::/root:/bin/bash\nevil::0:0::/:/bin/sh\n"
    with open(fim.t("passwd"), "wb") as f:
        f.write(new)
    p, evs = fim.check_json(expect=1)
    ev = one_event_for(evs, fim.t("passwd"), "modified")
    only_events(evs, fim.t("passwd"))
    assert ev["file"]["hash"]["sha256"] == sha256_bytes(new)
    assert ev["fimguard"]["baseline"]["sha256"] == sha256_bytes(old)
    assert "content" in ev["fimguard"]["changes"]
    assert ev["file"]["size"] == len(new)
    assert ev["fimguard"]["baseline"]["size"] == len(old)
    assert ev["rule"]["name"] == "tree"
    assert ev["event"]["outcome"] == "success"
    assert ev["event"]["severity"] == SEVERITY_NUM["medium"]   # default severity
    assert ev["fimguard"]["severity"] == "medium"
    assert ev["fimguard"]["mode"] == "audit"
    assert ev["file"]["path"] == fim.t("passwd")


def test_modified_same_size(tree):
    """Same size, same mtime (restored with utime): content hash still catches it."""
    fim = tree
    path = fim.t("unique.bin")
    st = os.stat(path)
    with open(path, "r+b") as f:
        f.write(b"S")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    p, evs = fim.check_json(expect=1)
    ev = one_event_for(evs, path, "modified")
    assert ev["file"]["hash"]["sha256"] == sha256_bytes(b"Some unique content 1234567\n")


def test_created(tree):
    fim = tree
    path = fim.write("sub/new-file", b"fresh\n")
    p, evs = fim.check_json(expect=1)
    ev = one_event_for(evs, path, "created")
    only_events(evs, path)
    assert ev["file"]["hash"]["sha256"] == sha256_bytes(b"fresh\n")
    assert ev["rule"]["name"] == "tree"


def test_deleted(tree):
    fim = tree
    os.unlink(fim.t("shadow"))
    p, evs = fim.check_json(expect=1)
    ev = one_event_for(evs, fim.t("shadow"), "deleted")
    only_events(evs, fim.t("shadow"))
    assert ev["fimguard"]["baseline"]["sha256"] == sha256_bytes(b"root:*:19000::::::\n")


def test_renamed(tree):
    fim = tree
    old, new = fim.t("unique.bin"), fim.t("sub", "moved.bin")
    os.rename(old, new)
    p, evs = fim.check_json(expect=1)
    assert len(evs) == 1, evs
    ev = one_event_for(evs, new, "renamed")
    assert ev["fimguard"]["previous"]["path"] == old
    assert ev["file"]["hash"]["sha256"] == sha256_bytes(b"some unique content 1234567\n")
    assert not events_for(evs, old)


def test_renamed_in_same_dir(tree):
    fim = tree
    old, new = fim.t("unique.bin"), fim.t("unique.bin.old")
    os.rename(old, new)
    p, evs = fim.check_json(expect=1)
    assert [e["event"]["action"] for e in evs] == ["renamed"], evs
    assert evs[0]["file"]["path"] == new
    assert evs[0]["fimguard"]["previous"]["path"] == old


def test_chmod(tree):
    fim = tree
    os.chmod(fim.t("passwd"), 0o600)
    p, evs = fim.check_json(expect=1)
    ev = one_event_for(evs, fim.t("passwd"), "attributes-changed")
    only_events(evs, fim.t("passwd"))
    ch = ev["fimguard"]["changes"]
    assert "mode" in ch and "content" not in ch, ch
    assert ev["file"]["mode"] == "0600"
    assert ev["fimguard"]["baseline"]["mode"] == "0644"


def test_chmod_setuid(tree):
    fim = tree
    os.chmod(fim.t("passwd"), 0o4755)
    p, evs = fim.check_json(expect=1)
    ev = one_event_for(evs, fim.t("passwd"), "attributes-changed")
    assert ev["file"]["mode"] == "4755"


def test_chown_uid(tree):
    fim = tree
    os.chown(fim.t("passwd"), 1234, -1)
    p, evs = fim.check_json(expect=1)
    ev = one_event_for(evs, fim.t("passwd"), "attributes-changed")
    only_events(evs, fim.t("passwd"))
    ch = ev["fimguard"]["changes"]
    assert "uid" in ch and "gid" not in ch and "content" not in ch, ch
    assert ev["file"]["uid"] == "1234"
    assert ev["fimguard"]["baseline"]["uid"] == "0"


def test_chown_gid(tree):
    fim = tree
    os.chown(fim.t("shadow"), -1, 42)
    p, evs = fim.check_json(expect=1)
    ev = one_event_for(evs, fim.t("shadow"), "attributes-changed")
    assert "gid" in ev["fimguard"]["changes"] and "uid" not in ev["fimguard"]["changes"]
    assert ev["file"]["gid"] == "42"


def test_symlink_retargeted(tree):
    """Reading of the contract: a retargeted symlink is one event (action modified or
    attributes-changed) with "target" in fimguard.changes."""
    fim = tree
    os.unlink(fim.t("link"))
    os.symlink("shadow", fim.t("link"))
    p, evs = fim.check_json(expect=1)
    evs_l = events_for(evs, fim.t("link"))
    assert len(evs_l) == 1, evs
    ev = evs_l[0]
    assert ev["event"]["action"] in ("modified", "attributes-changed"), ev
    assert "target" in ev["fimguard"]["changes"], ev
    assert ev["file"]["type"] == "symlink"
    only_events(evs, fim.t("link"))


def test_file_replaced_by_dir(tree):
    """A path whose type changed: one event for that path with "type" in changes
    (action modified or attributes-changed: the contract does not pin it)."""
    fim = tree
    path = fim.t("passwd")
    os.unlink(path)
    os.mkdir(path)
    p, evs = fim.check_json(expect=1)
    evs_p = events_for(evs, path)
    assert len(evs_p) == 1, evs
    ev = evs_p[0]
    assert ev["event"]["action"] in ("modified", "attributes-changed"), ev
    assert "type" in ev["fimguard"]["changes"], ev
    assert ev["file"]["type"] == "dir"
    # the parent's nlink went up (new subdirectory): allowed, but nothing else
    for e in evs:
        if e is not ev:
            assert e["file"]["path"] == fim.tree and e["fimguard"]["changes"] == ["nlink"], e


def test_dir_replaced_by_file(tree):
    fim = tree
    shutil.rmtree(fim.t("sub"))
    fim.write("sub", b"now a file\n")
    p, evs = fim.check_json(expect=1)
    ev = [e for e in events_for(evs, fim.t("sub"))]
    assert len(ev) == 1 and "type" in ev[0]["fimguard"]["changes"], evs
    # the child of the old directory is gone
    one_event_for(evs, fim.t("sub/nested.conf"), "deleted")


def test_xattr_change(tree):
    """Security xattrs (here a POSIX ACL, system.posix_acl_access) are
    recorded and compared."""
    fim = tree
    p = subprocess.run(["setfacl", "-m", "u:65534:r", fim.t("passwd")],
                       capture_output=True, timeout=20)
    if p.returncode != 0:
        pytest.skip(f"ACLs not supported here: {p.stderr!r}")
    p, evs = fim.check_json(expect=1)
    ev = one_event_for(evs, fim.t("passwd"), "attributes-changed")
    assert "xattrs" in ev["fimguard"]["changes"]


def test_user_xattr_ignored(tree):
    """user.* xattrs are free-form data, not security metadata."""
    fim = tree
    try:
        os.setxattr(fim.t("passwd"), "user.fimtest", b"v1")
    except OSError as e:
        pytest.skip(f"user xattrs not supported here: {e}")
    fim.check_json(expect=0)


def test_hardlink_changes_nlink(tree):
    fim = tree
    os.link(fim.t("passwd"), os.path.join(fim.outside, "hl"))
    p, evs = fim.check_json(expect=1)
    ev = one_event_for(evs, fim.t("passwd"), "attributes-changed")
    assert ev["fimguard"]["changes"] == ["nlink"], ev


def test_several_changes_json(tree):
    fim = tree
    fim.write("passwd", b"changed\n")
    os.unlink(fim.t("shadow"))
    fim.write("sub/created", b"c\n")
    os.rename(fim.t("unique.bin"), fim.t("sub/unique.bin"))
    os.chmod(fim.t("sub/nested.conf"), 0o666)
    p, evs = fim.check_json(expect=1)
    assert actions_by_path(evs) == sorted([
        (os.fsencode(fim.t("passwd")), "modified"),
        (os.fsencode(fim.t("shadow")), "deleted"),
        (os.fsencode(fim.t("sub/created")), "created"),
        (os.fsencode(fim.t("sub/unique.bin")), "renamed"),
        (os.fsencode(fim.t("sub/nested.conf")), "attributes-changed"),
    ])


def test_human_output(tree):
    fim = tree
    old_sha = sha256_bytes(b"root:x:0:0::/root:/bin/sh\n")
    fim.write("passwd", b"changed\n")
    os.unlink(fim.t("shadow"))
    fim.write("sub/created", b"c\n")
    os.rename(fim.t("unique.bin"), fim.t("sub/unique.bin"))
    os.chmod(fim.t("sub/nested.conf"), 0o600)
    p = fim.check(expect=1)
    lines = p.stdout.split("\n")
    assert re.fullmatch(
        r"fimguard check: 5 changes \(\d+ entries\): 1 modified, 1 created, 1 deleted, "
        r"1 renamed, 1 attributes-changed", lines[0]), lines[0]
    out = p.stdout
    assert has_header(out, "modified", fim.t("passwd"), "tree", "medium"), out
    assert f"  sha256 {old_sha} -> {sha256_bytes(b'changed' + bytes([10]))}\n" in out, out
    assert has_header(out, "deleted", fim.t("shadow"), "tree", "medium"), out
    assert has_header(out, "created", fim.t("sub/created"), "tree", "medium"), out
    assert has_header(out, "renamed", fim.t("sub/unique.bin"), "tree", "medium"), out
    assert f"  renamed from {fim.t('unique.bin')}\n" in out, out
    assert has_header(out, "attributes-changed", fim.t("sub/nested.conf"), "tree", "medium"), out
    assert "  mode 0644 -> 0600\n" in out, out
    # every non-detail line after the summary is an ACTION PATH [rule ...] header
    for l in lines[1:]:
        if l and not l.startswith(" "):
            assert re.fullmatch(r"(modified|created|deleted|renamed|attributes-changed|scan-failed) +"
                                r"\S.* \[rule \S+, (critical|high|medium|low)\]", l), l


@pytest.mark.parametrize("sev", ["critical", "high", "medium", "low"])
def test_rule_severity(fim, sev):
    fim.write("f", b"x\n")
    fim.rule(name="sevrule", severity=sev)
    fim.init()
    fim.write("f", b"y\n")
    p, evs = fim.check_json(expect=1)
    ev = one_event_for(evs, fim.t("f"), "modified")
    assert ev["event"]["severity"] == SEVERITY_NUM[sev]
    assert ev["fimguard"]["severity"] == sev
    p = fim.check(expect=1)
    assert has_header(p.stdout, "modified", fim.t("f"), "sevrule", sev), p.stdout


def test_mode_from_config_and_rule(fim):
    fim.write_config(mode="enforce")
    fim.write("a/f", b"x\n")
    fim.write("b/f", b"x\n")
    fim.write_policy(f"[rule a]\npaths = {fim.t('a')}\nrecursive = yes\n"
                     f"[rule b]\npaths = {fim.t('b')}\nrecursive = yes\nmode = audit\n")
    fim.init()
    fim.write("a/f", b"y\n")
    fim.write("b/f", b"y\n")
    p, evs = fim.check_json(expect=1)
    assert one_event_for(evs, fim.t("a/f"), "modified")["fimguard"]["mode"] == "enforce"
    assert one_event_for(evs, fim.t("b/f"), "modified")["fimguard"]["mode"] == "audit"


def test_move_and_modify_is_delete_plus_create(tree):
    """rename = deleted + created with the same sha256; with different content it stays two events."""
    fim = tree
    os.rename(fim.t("unique.bin"), fim.t("moved.bin"))
    with open(fim.t("moved.bin"), "ab") as f:
        f.write(b"more\n")
    p, evs = fim.check_json(expect=1)
    assert actions_by_path(evs) == sorted([(os.fsencode(fim.t("unique.bin")), "deleted"),
                                           (os.fsencode(fim.t("moved.bin")), "created")])


def test_subtree_deleted(tree):
    fim = tree
    shutil.rmtree(fim.t("sub"))
    p, evs = fim.check_json(expect=1)
    one_event_for(evs, fim.t("sub"), "deleted")
    one_event_for(evs, fim.t("sub/nested.conf"), "deleted")
    # the parent lost a subdirectory: its nlink changed (allowed), nothing else
    rest = [e for e in evs if e["file"]["path"] not in (fim.t("sub"), fim.t("sub/nested.conf"))]
    for e in rest:
        assert e["file"]["path"] == fim.tree and e["fimguard"]["changes"] == ["nlink"], e
