"""Baseline missing / tampered / truncated / key deleted => exit 3; init --force semantics."""

import json
import os
import stat

import pytest

from conftest import sha256_bytes, verify_baseline_hmac


@pytest.fixture
def inited(fim):
    fim.write("a.conf", b"alpha\n")
    fim.write("b.conf", b"bravo\n")
    fim.mkdir("sub")
    fim.write("sub/c.conf", b"charlie\n")
    fim.rule()
    fim.init()
    fim.check(expect=0)
    return fim


def _read(fim):
    with open(fim.baseline_file, "rb") as f:
        return f.read()


def _write(fim, data):
    with open(fim.baseline_file, "wb") as f:
        f.write(data)


def test_missing_baseline_before_init(fim):
    fim.write("a", b"a")
    fim.rule()
    p = fim.check(expect=3)
    assert p.stderr.strip()
    fim.check_json(expect=3)


def test_baseline_deleted(inited):
    os.unlink(inited.baseline_file)
    inited.check(expect=3)


@pytest.mark.parametrize("what", ["sha256", "size", "path"])
def test_tampered_entry_byte(inited, what):
    """Flip one byte inside an entry line, keeping valid JSON: the HMAC must catch it."""
    fim = inited
    data = _read(fim)
    lines = data.split(b"\n")
    target = os.fsencode(fim.t("a.conf"))
    fields = json.loads(lines[0])["fields"]
    idx = None
    for i, l in enumerate(lines[1:-2], start=1):
        rec = json.loads(l)
        if isinstance(rec[0], str) and rec[0].encode() == target:
            idx = i
    assert idx is not None, data
    line = lines[idx]
    if what == "sha256":
        sha = sha256_bytes(b"alpha\n").encode()
        pos = line.index(sha) + 5
        new = b"0" if line[pos:pos + 1] != b"0" else b"1"
    elif what == "size":
        rec = json.loads(line)
        assert rec[fields.index("size")] == 6, line
        rec[fields.index("size")] = 7
        line = json.dumps(rec, separators=(",", ":"), ensure_ascii=False).encode()
        pos, new = 0, line[:1]   # the edit is already made; keep it
    else:
        pos = line.index(b"a.conf")
        new = b"x"          # a.conf -> x.conf
    lines[idx] = line[:pos] + new + line[pos + 1:]
    json.loads(lines[idx])  # still valid JSON
    _write(fim, b"\n".join(lines))
    p = fim.check(expect=3)
    assert "hmac" in (p.stdout + p.stderr).lower(), p.stderr
    fim.check_json(expect=3)


def test_tampered_header(inited):
    fim = inited
    data = _read(fim)
    first, rest = data.split(b"\n", 1)
    hdr = json.loads(first)
    hdr["tampered"] = 1
    _write(fim, json.dumps(hdr).encode() + b"\n" + rest)
    p = fim.check(expect=3)
    assert "hmac" in (p.stdout + p.stderr).lower()


def test_tampered_hmac_line(inited):
    fim = inited
    data = _read(fim)
    body, last = data.rstrip(b"\n").rsplit(b"\n", 1)
    mac = json.loads(last)["hmac"]
    mac = ("0" if mac[0] != "0" else "1") + mac[1:]
    _write(fim, body + b"\n" + json.dumps({"hmac": mac}).encode() + b"\n")
    p = fim.check(expect=3)
    assert "hmac" in (p.stdout + p.stderr).lower()


def test_entry_removed(inited):
    """Deleting a whole entry line (to hide a file) is tampering too."""
    fim = inited
    lines = _read(fim).split(b"\n")
    del lines[2]
    _write(fim, b"\n".join(lines))
    fim.check(expect=3)


def test_truncated_last_line(inited):
    fim = inited
    data = _read(fim)
    body = data.rstrip(b"\n").rsplit(b"\n", 1)[0] + b"\n"
    _write(fim, body)
    fim.check(expect=3)


def test_truncated_half(inited):
    fim = inited
    data = _read(fim)
    _write(fim, data[:len(data) // 2])
    fim.check(expect=3)
    fim.check_json(expect=3)


def test_truncated_mid_hmac(inited):
    fim = inited
    data = _read(fim)
    _write(fim, data[:-10])
    fim.check(expect=3)


def test_empty_baseline(inited):
    _write(inited, b"")
    inited.check(expect=3)


def test_garbage_appended(inited):
    fim = inited
    _write(fim, _read(fim) + b'{"path":"/etc/evil","type":"file"}\n')
    fim.check(expect=3)


def test_hmac_key_deleted(inited):
    os.unlink(os.path.join(inited.state, "hmac.key"))
    inited.check(expect=3)


def test_hmac_key_replaced(inited):
    fim = inited
    keyf = os.path.join(fim.state, "hmac.key")
    with open(keyf, "rb") as f:
        key = f.read()
    with open(keyf, "wb") as f:
        f.write(bytes(b ^ 1 for b in key[:1]) + key[1:])
    fim.check(expect=3)


def test_init_again_without_force(inited):
    fim = inited
    before = _read(fim)
    fim.write("a.conf", b"changed\n")
    p = fim.init(expect=2)
    assert p.stderr.strip()
    assert _read(fim) == before, "init without --force must not touch the baseline"
    fim.check(expect=1)


def test_init_force(inited):
    fim = inited
    fim.write("a.conf", b"changed\n")
    fim.write("d.conf", b"new\n")
    fim.check(expect=1)
    fim.init("--force", expect=0)
    assert stat.S_IMODE(os.stat(fim.baseline_file).st_mode) == 0o600
    assert verify_baseline_hmac(fim)
    fim.check(expect=0)
    assert fim.entry(fim.t("a.conf"))["sha256"] == sha256_bytes(b"changed\n")


def test_init_force_after_tamper(inited):
    fim = inited
    _write(fim, _read(fim)[:20])
    fim.check(expect=3)
    fim.init("--force", expect=0)
    fim.check(expect=0)
