"""FIFO, unix socket, char/block devices in the protected tree: recorded by type, never opened."""

import ctypes
import os
import socket
import stat

import pytest

from conftest import one_event_for

QUICK = 20  # seconds: an open() of a FIFO without writer would hang forever


def _make_specials(fim):
    made = {}
    os.mkfifo(fim.t("fifo"), 0o644)
    made["fifo"] = "fifo"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(fim.t("sock"))
    s.close()  # the socket inode stays behind
    made["sock"] = "socket"
    try:
        # same numbers as /dev/null
        os.mknod(fim.t("chr"), 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        made["chr"] = "chardev"
        # a block device node for a loop device: opening it would be wrong too
        os.mknod(fim.t("blk"), 0o600 | stat.S_IFBLK, os.makedev(7, 250))
        made["blk"] = "blockdev"
    except (PermissionError, OSError):
        pass
    fim.write("regular", b"plain\n")
    return made


def test_special_files_recorded_quickly(fim):
    made = _make_specials(fim)
    fim.rule()
    fim.init(timeout=QUICK)
    ents = fim.entries()
    for name, typ in made.items():
        e = ents.get(os.fsencode(fim.t(name)))
        assert e is not None, f"{name} not in baseline"
        assert e["type"] == typ, e
        assert "sha256" not in e and "xxh3" not in e, e
        assert "error" not in e, e
    fim.check(expect=0, timeout=QUICK)
    fim.check_json(expect=0, timeout=QUICK)


def test_fifo_chmod_detected_and_fifo_replaced(fim):
    _make_specials(fim)
    fim.rule()
    fim.init(timeout=QUICK)
    os.chmod(fim.t("fifo"), 0o600)
    # socket replaced by a FIFO: type change
    os.unlink(fim.t("sock"))
    os.mkfifo(fim.t("sock"))
    p, evs = fim.check_json(expect=1, timeout=QUICK)
    ev = one_event_for(evs, fim.t("fifo"), "attributes-changed")
    assert "mode" in ev["fimguard"]["changes"]
    ev = one_event_for(evs, fim.t("sock"))
    assert "type" in ev["fimguard"]["changes"]


def test_new_fifo_reported_as_created(fim):
    fim.write("regular", b"plain\n")
    fim.rule()
    fim.init(timeout=QUICK)
    os.mkfifo(fim.t("newfifo"))
    p, evs = fim.check_json(expect=1, timeout=QUICK)
    one_event_for(evs, fim.t("newfifo"), "created")


def test_special_files_never_opened(fim):
    """inotify IN_OPEN on the FIFO and the device nodes: init and check must not open them
    (O_PATH opens and stat do not count; they raise no IN_OPEN)."""
    made = _make_specials(fim)
    fim.rule()
    libc = ctypes.CDLL(None, use_errno=True)
    IN_OPEN, IN_NONBLOCK, IN_CLOEXEC = 0x20, 0o4000, 0o2000000
    fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
    if fd < 0:
        pytest.skip("inotify not available")
    try:
        watched = {}
        for name in made:
            if name == "sock":
                continue
            wd = libc.inotify_add_watch(fd, os.fsencode(fim.t(name)), IN_OPEN)
            assert wd >= 0
            watched[wd] = name
        fim.init(timeout=QUICK)
        fim.check(expect=0, timeout=QUICK)
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            data = b""
        opened = set()
        off = 0
        while off + 16 <= len(data):
            wd, mask, cookie, ln = (int.from_bytes(data[off + i:off + i + 4], "little", signed=(i == 0))
                                    for i in (0, 4, 8, 12))
            if mask & IN_OPEN:
                opened.add(watched.get(wd, wd))
            off += 16 + ln
        assert not opened, f"fimguard opened special files: {sorted(opened)}"
    finally:
        os.close(fd)
