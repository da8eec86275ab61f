"""A large (300 MB, sparse) file hashes correctly, and a one-byte change in its middle is found."""

import os

from conftest import one_event_for, sha256_file

SIZE = 300 * 1024 * 1024 + 12345   # not a multiple of any buffer size


def test_large_file_sha256(fim):
    path = fim.t("big.img")
    with open(path, "wb") as f:
        f.write(b"HEAD" * 1000)
        os.truncate(f.fileno(), SIZE)
        f.seek(SIZE // 2)
        f.write(b"middle bytes")
        f.seek(SIZE - 7)
        f.write(b"thetail")
    assert os.path.getsize(path) == SIZE
    fim.write("small", b"s\n")
    fim.rule()
    fim.init(timeout=90)
    e = fim.entry(path)
    assert e["size"] == SIZE
    assert e["sha256"] == sha256_file(path)
    fim.check(expect=0, timeout=90)

    # one byte in the middle, size and mtime restored
    st = os.stat(path)
    with open(path, "r+b") as f:
        f.seek(SIZE // 2 + 3)
        f.write(b"X")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    p, evs = fim.check_json(expect=1, timeout=90)
    ev = one_event_for(evs, path, "modified")
    assert ev["file"]["hash"]["sha256"] == sha256_file(path)
    assert ev["fimguard"]["baseline"]["sha256"] == e["sha256"]
    assert ev["file"]["size"] == SIZE


def test_many_files(fim):
    """3000 files in 30 directories: init and check are quick and complete."""
    for d in range(30):
        dd = fim.mkdir(f"d{d:02}")
        for i in range(100):
            with open(os.path.join(dd, f"f{i:03}"), "wb") as f:
                f.write(b"%d/%d\n" % (d, i))
    fim.rule()
    fim.init(timeout=30)
    assert len(fim.entries()) == 1 + 30 + 3000
    p = fim.check(expect=0, timeout=30)
    assert p.stdout.startswith("fimguard check: no changes (3031 entries)")
    fim.write("d17/f042", b"changed\n")
    os.unlink(fim.t("d03/f099"))
    p, evs = fim.check_json(expect=1, timeout=30)
    assert sorted((e["file"]["path"], e["event"]["action"]) for e in evs) == \
        sorted([(fim.t("d17/f042"), "modified"), (fim.t("d03/f099"), "deleted")])
