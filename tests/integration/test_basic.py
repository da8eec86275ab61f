"""init / clean check, state-dir permissions, baseline format, identical rewrites, usage errors."""

import json
import os
import re
import stat
import time

from conftest import (FIMGUARD, sha256_bytes, sha256_file, verify_baseline_hmac)


def _populate(fim):
    fim.write("a.conf", b"alpha\n")
    fim.write("b.conf", b"bravo\n", mode=0o600)
    fim.write("empty", b"")
    fim.mkdir("sub")
    fim.write("sub/c.conf", b"charlie\n")
    os.symlink("a.conf", fim.t("link"))
    # tree, a.conf, b.conf, empty, sub, sub/c.conf, link
    return 7


def test_init_then_check_clean(fim):
    n = _populate(fim)
    fim.rule()
    assert not os.path.exists(fim.state)
    fim.init()
    p = fim.check(expect=0)
    first = p.stdout.split("\n")[0]
    assert first == f"fimguard check: no changes ({n} entries)", p.stdout
    # nothing else but the summary when clean
    assert p.stdout.strip() == first


def test_state_files_permissions(fim):
    _populate(fim)
    fim.rule()
    fim.init()
    st = os.stat(fim.state)
    assert stat.S_ISDIR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o700, oct(st.st_mode)
    for name in ("baseline.json", "xxh.key", "hmac.key"):
        st = os.lstat(os.path.join(fim.state, name))
        assert stat.S_ISREG(st.st_mode), name
        assert stat.S_IMODE(st.st_mode) == 0o600, f"{name}: {oct(st.st_mode)}"
        assert st.st_size > 0, name


def test_existing_state_dir_is_used(fim):
    """-s DIR that already exists (0700) is fine."""
    _populate(fim)
    fim.rule()
    os.mkdir(fim.state, 0o700)
    fim.init()
    fim.check(expect=0)


def test_baseline_format(fim):
    n = _populate(fim)
    fim.rule(name="myrule")
    fim.init()
    header, entries, mac = fim.baseline()
    assert header.get("format") == "fimguard-baseline"
    assert header.get("version") == 2      # 2: the package field (issue 10)
    assert set(mac) == {"hmac"} and re.fullmatch(r"[0-9a-f]{64}", mac["hmac"]), mac
    assert verify_baseline_hmac(fim), "HMAC-SHA256(hmac.key, bytes before last line) does not match"
    assert len(entries) == n
    ents = fim.entries()
    assert set(ents) == {os.fsencode(fim.tree)} | {
        os.fsencode(fim.t(x)) for x in ("a.conf", "b.conf", "empty", "sub", "sub/c.conf", "link")}
    for path, e in ents.items():
        st = os.lstat(path)
        assert e["rule"] == "myrule"
        for k in ("mode", "uid", "gid", "size", "mtime_ns", "ctime_ns", "inode", "dev", "nlink"):
            assert k in e, f"{k} missing in {e}"
        assert e["uid"] == st.st_uid and e["gid"] == st.st_gid
        assert e["inode"] == st.st_ino
        assert e["nlink"] == st.st_nlink
        assert e["mtime_ns"] == st.st_mtime_ns
        # mode: accept permission bits only or full st_mode
        assert e["mode"] in (stat.S_IMODE(st.st_mode), st.st_mode), (e, oct(st.st_mode))
    f = fim.entry(fim.t("a.conf"))
    assert f["type"] == "file"
    assert f["sha256"] == sha256_bytes(b"alpha\n")
    assert re.fullmatch(r"[0-9a-f]{16}", f["xxh3"]) or re.fullmatch(r"[0-9a-f]{32}", f["xxh3"]), f
    assert f["size"] == 6
    assert fim.entry(fim.t("b.conf"))["mode"] in (0o600, 0o100600)
    assert fim.entry(fim.t("empty"))["sha256"] == sha256_bytes(b"")
    assert fim.entry(fim.t("sub/c.conf"))["sha256"] == sha256_file(fim.t("sub/c.conf"))
    assert fim.entry(fim.t("sub"))["type"] == "dir"
    assert fim.entry(fim.tree)["type"] == "dir"
    ln = fim.entry(fim.t("link"))
    assert ln["type"] == "symlink" and ln["target"] == "a.conf"
    assert "sha256" not in ln


def test_touch_only_is_silent(fim):
    _populate(fim)
    fim.rule()
    fim.init()
    future = time.time() + 3600
    for rel in ("a.conf", "sub/c.conf", "sub", ""):
        os.utime(fim.t(rel), (future, future))
    fim.check(expect=0)


def test_identical_rewrite_in_place_is_silent(fim):
    _populate(fim)
    fim.rule()
    fim.init()
    time.sleep(0.02)
    with open(fim.t("a.conf"), "wb") as f:
        f.write(b"alpha\n")
    os.utime(fim.t("a.conf"), (time.time() + 100, time.time() + 100))
    fim.check(expect=0)


def test_identical_replace_via_rename_is_silent(fim):
    """Editor-style save: write a temp file, rename over (new inode, same content/mode/owner)."""
    _populate(fim)
    fim.rule()
    fim.init()
    old_ino = os.lstat(fim.t("b.conf")).st_ino
    tmp = fim.t("b.conf.tmp")
    with open(tmp, "wb") as f:
        f.write(b"bravo\n")
    os.chmod(tmp, 0o600)
    os.rename(tmp, fim.t("b.conf"))
    assert os.lstat(fim.t("b.conf")).st_ino != old_ino
    p = fim.check(expect=0)
    assert "no changes" in p.stdout
    fim.check_json(expect=0)


def test_second_check_still_reports(fim):
    """check never updates the baseline: a change is reported again and again."""
    _populate(fim)
    fim.rule()
    fim.init()
    fim.write("a.conf", b"changed\n")
    fim.check(expect=1)
    fim.check(expect=1)


def test_global_options_anywhere(fim):
    """GNU getopt permutation: -c/-p/-s after the command."""
    _populate(fim)
    fim.rule()
    fim.raw("init", "-c", fim.conf, "-p", fim.policy, "-s", fim.state, expect=0)
    fim.raw("check", "-s", fim.state, "-c", fim.conf, "-p", fim.policy, expect=0)
    fim.raw("-c", fim.conf, "check", "--json", "-p", fim.policy, "-s", fim.state, expect=0)


def test_usage_unknown_command(fim):
    fim.rule()
    p = fim.run("frobnicate", expect=2)
    assert p.stderr.strip(), "a usage error should say something on stderr"


def test_usage_unknown_option(fim):
    fim.rule()
    fim.run("check", "--bogus", expect=2)
    fim.run("--bogus", "check", expect=2)
    fim.run("-Z", "check", expect=2)
    fim.run("init", "--nope", expect=2)


def test_usage_no_command(fim):
    fim.rule()
    fim.run(expect=2)


def test_usage_missing_config_file(fim):
    fim.rule()
    missing = os.path.join(fim.base, "no-such.conf")
    fim.raw("-c", missing, "-p", fim.policy, "-s", fim.state, "init", expect=2)
    assert not os.path.exists(fim.baseline_file)
    fim.raw("-c", missing, "-p", fim.policy, "-s", fim.state, "check", expect=2)
    fim.raw("-c", missing, "-p", fim.policy, "-s", fim.state, "policy", "check", expect=2)


def test_usage_option_missing_argument(fim):
    fim.rule()
    fim.raw("check", "-c", expect=2)


def test_policy_unknown_subcommand(fim):
    fim.rule()
    fim.run("policy", "frob", expect=2)
    fim.run("policy", expect=2)


def test_init_if_missing(fim):
    """The service's first start builds the baseline; later starts keep
    the trusted one (never a silent re-baseline)."""
    fim.write("a.conf", b"one\n")
    fim.rule()
    fim.run("init", "--if-missing", expect=0)
    first = open(fim.baseline_file, "rb").read()
    fim.write("a.conf", b"two\n")
    p = fim.run("init", "--if-missing", expect=0)
    assert "kept" in p.stdout
    assert open(fim.baseline_file, "rb").read() == first
    fim.check(expect=1)
    fim.run("init", "--if-missing", "--force", expect=2)
    fim.run("check", "--if-missing", expect=2)
