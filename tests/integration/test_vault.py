"""vault/<sha[:2]>/<sha>: trusted content kept for rules with diff = yes or restore = yes only."""

import os

from conftest import sha256_bytes

CONTENT = {
    "diff": b"content kept because diff = yes\n" + bytes(range(256)),
    "restore": b"content kept because restore = yes\n",
    "both": b"content kept because diff and restore\n",
    "plain": b"plain rule: no vault copy\n",
}


def vault_path(fim, sha):
    return os.path.join(fim.state, "vault", sha[:2], sha)


def _setup(fim):
    for name, data in CONTENT.items():
        fim.write(f"{name}/file", data)
    fim.write_policy(
        f"[rule diff]\npaths = {fim.t('diff')}\ndiff = yes\n"
        f"[rule restore]\npaths = {fim.t('restore')}\nrestore = yes\n"
        f"[rule both]\npaths = {fim.t('both')}\ndiff = yes\nrestore = yes\n"
        f"[rule plain]\npaths = {fim.t('plain')}\ndiff = no\nrestore = no\n")
    fim.init()


def test_vault_copies(fim):
    _setup(fim)
    for name in ("diff", "restore", "both"):
        sha = sha256_bytes(CONTENT[name])
        vp = vault_path(fim, sha)
        assert os.path.isfile(vp), f"rule {name}: no vault copy at {vp}"
        with open(vp, "rb") as f:
            assert f.read() == CONTENT[name]
    assert not os.path.exists(vault_path(fim, sha256_bytes(CONTENT["plain"])))


def test_no_vault_without_diff_or_restore(fim):
    fim.write("f1", b"one\n")
    fim.write("f2", b"two\n")
    fim.rule()
    fim.init()
    vault = os.path.join(fim.state, "vault")
    files = []
    if os.path.isdir(vault):
        for root, dirs, fs in os.walk(vault):
            files += fs
    assert files == [], files


def test_vault_not_changed_by_check(fim):
    _setup(fim)
    fim.write("diff/file", b"tampered\n")
    fim.check(expect=1)
    assert not os.path.exists(vault_path(fim, sha256_bytes(b"tampered\n")))
    with open(vault_path(fim, sha256_bytes(CONTENT["diff"])), "rb") as f:
        assert f.read() == CONTENT["diff"]


def test_vault_gets_approved_content(fim):
    """Reading: approving new content of a diff/restore file stores the new trusted content."""
    _setup(fim)
    fim.write("restore/file", b"new trusted content\n")
    fim.run("approve", "--reason", "update", fim.t("restore/file"), expect=0)
    vp = vault_path(fim, sha256_bytes(b"new trusted content\n"))
    assert os.path.isfile(vp)
    with open(vp, "rb") as f:
        assert f.read() == b"new trusted content\n"
