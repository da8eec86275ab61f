"""Which paths a policy covers: excludes, recursive yes/no, longest-path rule wins, globs,
symlinks not followed, mount points not crossed."""

import os
import subprocess

import pytest

from conftest import one_event_for


def _b(*paths):
    return {os.fsencode(p) for p in paths}


def test_exclude_basename_glob(fim):
    fim.write("keep.conf", b"k\n")
    fim.write("skip.swp", b"s\n")
    fim.write("sub/deep.swp", b"s\n")
    fim.write("sub/keep2", b"k\n")
    fim.write("backup~", b"b\n")
    fim.rule(exclude="*.swp *~")
    fim.init()
    ents = set(fim.entries())
    assert ents == _b(fim.tree, fim.t("keep.conf"), fim.t("sub"), fim.t("sub/keep2"))
    # changes to excluded files and new excluded files are invisible
    fim.write("skip.swp", b"changed\n")
    fim.write("sub/new.swp", b"n\n")
    os.unlink(fim.t("backup~"))
    fim.check(expect=0)
    # but a new non-excluded file is not
    fim.write("sub/new.conf", b"n\n")
    p, evs = fim.check_json(expect=1)
    one_event_for(evs, fim.t("sub/new.conf"), "created")
    assert len(evs) == 1, evs


def test_exclude_full_path_glob(fim):
    fim.write("skipme", b"top-level: kept, the glob names sub/\n")
    fim.write("sub/skipme", b"excluded\n")
    fim.write("sub/skip-also", b"excluded\n")
    fim.write("sub/other", b"kept\n")
    fim.rule(exclude=f"{fim.t('sub')}/skip*")
    fim.init()
    ents = set(fim.entries())
    assert ents == _b(fim.tree, fim.t("skipme"), fim.t("sub"), fim.t("sub/other"))
    fim.write("sub/skipme", b"changed\n")
    fim.check(expect=0)


def test_exclude_quoted_name_with_space(fim):
    fim.write("my file.tmp", b"x\n")
    fim.write("other", b"y\n")
    fim.rule(exclude='"my file.tmp"')
    fim.init()
    assert set(fim.entries()) == _b(fim.tree, fim.t("other"))


def test_exclude_directory_prunes_subtree(fim):
    """Reading: an excluded directory is not descended into."""
    fim.write("cache/a", b"a\n")
    fim.write("cache/deeper/b", b"b\n")
    fim.write("real", b"r\n")
    fim.rule(exclude="cache")
    fim.init()
    assert set(fim.entries()) == _b(fim.tree, fim.t("real"))
    fim.write("cache/c", b"c\n")
    fim.check(expect=0)


def test_recursive_no_direct_children_only(fim):
    fim.write("top", b"t\n")
    fim.write("sub/child", b"c\n")
    fim.write("sub/deeper/grandchild", b"g\n")
    fim.rule(recursive="no")
    fim.init()
    assert set(fim.entries()) == _b(fim.tree, fim.t("top"), fim.t("sub"))
    # below depth 1 nothing is watched
    fim.write("sub/child", b"changed\n")
    fim.write("sub/new", b"n\n")
    fim.check(expect=0)
    # a new direct child is seen
    fim.write("new-top", b"n\n")
    p, evs = fim.check_json(expect=1)
    one_event_for(evs, fim.t("new-top"), "created")
    assert len(evs) == 1, evs


def test_recursive_default_is_no(fim):
    fim.write("top", b"t\n")
    fim.write("sub/child", b"c\n")
    fim.rule(recursive=None)
    fim.init()
    assert set(fim.entries()) == _b(fim.tree, fim.t("top"), fim.t("sub"))


def test_recursive_yes_all_depths(fim):
    deep = "a/b/c/d/e/f/g/h"
    fim.write("top", b"t\n")
    fim.write(deep + "/leaf", b"leaf\n")
    fim.rule(recursive="yes")
    fim.init()
    ents = set(fim.entries())
    assert os.fsencode(fim.t(deep + "/leaf")) in ents
    assert len(ents) == 1 + 1 + 8 + 1
    fim.write(deep + "/leaf", b"changed\n")
    p, evs = fim.check_json(expect=1)
    one_event_for(evs, fim.t(deep + "/leaf"), "modified")


def test_single_file_path(fim):
    fim.write("only", b"o\n")
    fim.write("notme", b"n\n")
    fim.rule(paths=fim.t("only"), recursive=None)
    fim.init()
    assert set(fim.entries()) == _b(fim.t("only"))
    fim.write("notme", b"changed\n")
    fim.check(expect=0)
    fim.write("only", b"changed\n")
    fim.check(expect=1)


def test_glob_and_multiple_paths(fim):
    fim.write("g1.conf", b"1\n")
    fim.write("g2.conf", b"2\n")
    fim.write("h.conf", b"h\n")
    fim.write("x/y.conf", b"y\n")
    fim.rule(paths=f"{fim.t('g*.conf')} {fim.t('x/y.conf')}", recursive=None)
    fim.init()
    assert set(fim.entries()) == _b(fim.t("g1.conf"), fim.t("g2.conf"), fim.t("x/y.conf"))


def test_longest_path_rule_wins(fim):
    fim.write("top.conf", b"t\n")
    fim.write("sub/inner.conf", b"i\n")
    fim.write("sub/deeper/x", b"x\n")
    # the broad rule sorts later, the specific rule earlier and vice versa: length decides
    fim.write_policy(f"[rule broad]\npaths = {fim.tree}\nrecursive = yes\nseverity = low\n", "10-broad.rules")
    fim.write_policy(f"[rule specific]\npaths = {fim.t('sub')}\nrecursive = yes\nseverity = critical\n",
                     "20-specific.rules")
    fim.init()
    ents = fim.entries()
    assert ents[os.fsencode(fim.t("top.conf"))]["rule"] == "broad"
    assert ents[os.fsencode(fim.tree)]["rule"] == "broad"
    assert ents[os.fsencode(fim.t("sub"))]["rule"] == "specific"
    assert ents[os.fsencode(fim.t("sub/inner.conf"))]["rule"] == "specific"
    assert ents[os.fsencode(fim.t("sub/deeper/x"))]["rule"] == "specific"
    fim.write("top.conf", b"T\n")
    fim.write("sub/inner.conf", b"I\n")
    fim.write("sub/deeper/x", b"X\n")
    p, evs = fim.check_json(expect=1)
    ev = one_event_for(evs, fim.t("sub/inner.conf"), "modified")
    assert ev["rule"]["name"] == "specific" and ev["event"]["severity"] == 99
    ev = one_event_for(evs, fim.t("sub/deeper/x"), "modified")
    assert ev["rule"]["name"] == "specific"
    ev = one_event_for(evs, fim.t("top.conf"), "modified")
    assert ev["rule"]["name"] == "broad" and ev["event"]["severity"] == 21


def test_longest_path_rule_wins_reverse_order(fim):
    fim.write("sub/inner.conf", b"i\n")
    fim.write_policy(f"[rule specific]\npaths = {fim.t('sub')}\nrecursive = yes\n"
                     f"[rule broad]\npaths = {fim.tree}\nrecursive = yes\n")
    fim.init()
    assert fim.entry(fim.t("sub/inner.conf"))["rule"] == "specific"
    assert fim.entry(fim.tree)["rule"] == "broad"


def test_tie_first_defined_wins(fim):
    fim.write("f", b"f\n")
    # rule names sort the other way round from definition order
    fim.write_policy(f"[rule zeta]\npaths = {fim.tree}\nrecursive = yes\n", "10-first.rules")
    fim.write_policy(f"[rule alpha]\npaths = {fim.tree}\nrecursive = yes\n", "20-second.rules")
    fim.init()
    assert fim.entry(fim.t("f"))["rule"] == "zeta"


def test_symlinks_recorded_not_followed(fim):
    target_dir = os.path.join(fim.outside, "elsewhere")
    os.mkdir(target_dir)
    with open(os.path.join(target_dir, "file"), "wb") as f:
        f.write(b"outside\n")
    os.symlink(target_dir, fim.t("dirlink"))
    os.symlink(os.path.join(target_dir, "file"), fim.t("filelink"))
    fim.rule()
    fim.init()
    ents = fim.entries()
    assert set(ents) == _b(fim.tree, fim.t("dirlink"), fim.t("filelink"))
    assert ents[os.fsencode(fim.t("dirlink"))]["type"] == "symlink"
    assert ents[os.fsencode(fim.t("filelink"))]["target"] == os.path.join(target_dir, "file")
    # changing the target's content is not a change of the tree
    with open(os.path.join(target_dir, "file"), "wb") as f:
        f.write(b"changed outside\n")
    fim.check(expect=0)


def test_does_not_cross_mount_points(fim):
    fim.write("onroot", b"r\n")
    mnt = fim.mkdir("mnt")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "fimguard-it", mnt],
                       capture_output=True, timeout=20)
    if r.returncode != 0:
        pytest.skip(f"cannot mount tmpfs: {r.stderr!r}")
    try:
        with open(os.path.join(mnt, "inner"), "wb") as f:
            f.write(b"on tmpfs\n")
        fim.rule()
        fim.init()
        ents = set(fim.entries())
        assert os.fsencode(mnt) in ents, "the mount point itself is recorded"
        assert os.fsencode(os.path.join(mnt, "inner")) not in ents
        assert ents == _b(fim.tree, fim.t("onroot"), mnt)
    finally:
        subprocess.run(["umount", mnt], timeout=20)


def test_missing_policy_path_then_created(fim):
    """Reading: a rule path that does not exist yet is not an error (init exits 0); when it
    appears later, check reports it as created."""
    fim.write("present", b"p\n")
    fim.write_policy(f"[rule some]\npaths = {fim.t('present')} {fim.t('absent.conf')}\n")
    fim.init()
    fim.check(expect=0)
    fim.write("absent.conf", b"now here\n")
    p, evs = fim.check_json(expect=1)
    ev = one_event_for(evs, fim.t("absent.conf"), "created")
    assert ev["rule"]["name"] == "some"
