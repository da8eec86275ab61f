"""The events file (config `events =`): same events as `check --json`, appended; ECS fields."""

import datetime
import os
import socket

from conftest import actions_by_path, assert_common_event_fields


def _setup(fim):
    fim.write("a", b"a\n")
    fim.write("b", b"b\n")
    fim.write("c", b"c\n")
    fim.rule(name="evrule", severity="high")
    fim.init()
    fim.write("a", b"A\n")
    os.unlink(fim.t("b"))
    fim.write("new", b"n\n")
    os.chmod(fim.t("c"), 0o600)


def _strip_ts(ev):
    ev = dict(ev)
    ev.pop("@timestamp", None)
    return ev


def test_events_file_gets_same_events(fim):
    _setup(fim)
    before = fim.file_events()
    p, evs = fim.check_json(expect=1)
    assert len(evs) == 4
    after = fim.file_events()
    appended = after[len(before):]
    assert [_strip_ts(e) for e in appended] == [_strip_ts(e) for e in evs]
    # identical objects, ideally including the timestamp
    assert [e["@timestamp"] for e in appended] == [e["@timestamp"] for e in evs]


def test_events_are_appended_not_truncated(fim):
    _setup(fim)
    with open(fim.events, "w") as f:
        f.write('{"pre":"existing line"}\n')
    fim.check_json(expect=1)
    fim.check_json(expect=1)
    evs = fim.file_events()
    assert evs[0] == {"pre": "existing line"}
    assert len(evs) == 1 + 4 + 4
    assert actions_by_path(evs[1:5]) == actions_by_path(evs[5:9])


def test_human_check_also_writes_events(fim):
    """Reading: events go to the events file whatever the output format of check."""
    _setup(fim)
    fim.check(expect=1)
    evs = fim.file_events()
    assert sorted(e["event"]["action"] for e in evs) == \
        ["attributes-changed", "created", "deleted", "modified"]


def test_clean_check_writes_no_events(fim):
    fim.write("a", b"a\n")
    fim.rule()
    fim.init()
    fim.check_json(expect=0)
    fim.check(expect=0)
    assert fim.file_events() == []


def test_every_event_has_required_fields(fim):
    _setup(fim)
    p, evs = fim.check_json(expect=1)
    now = datetime.datetime.now(datetime.timezone.utc)
    for ev in evs + fim.file_events():
        assert_common_event_fields(ev)
        ts = datetime.datetime.strptime(ev["@timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ") \
            .replace(tzinfo=datetime.timezone.utc)
        assert abs((now - ts).total_seconds()) < 120, f"@timestamp not current UTC: {ev['@timestamp']}"
        assert ev["rule"]["name"] == "evrule"
        assert ev["event"]["severity"] == 73
        assert ev["fimguard"]["severity"] == "high"
        assert ev["fimguard"]["mode"] == "audit"
        assert ev["event"]["outcome"] == "success"
        assert ev["event"]["kind"] == "alert"
        assert ev["event"]["module"] == "fimguard"
        assert ev["event"]["dataset"] == "fimguard.check"
        assert ev["event"]["category"] == ["file"]
        assert isinstance(ev["event"]["type"], list) and ev["event"]["type"]
        assert ev["ecs"]["version"] == "8.11.0"
        assert ev["host"]["hostname"] == socket.gethostname()
        assert isinstance(ev["fimguard"]["changes"], list)
        f = ev["file"]
        if ev["event"]["action"] != "deleted":
            assert f["type"] == "file"
            assert isinstance(f["size"], int)
            assert isinstance(f["mode"], str) and len(f["mode"]) == 4
            assert f["uid"] == "0" and f["gid"] == "0"
            assert f["inode"] == str(os.lstat(f["path"]).st_ino)


def test_json_stdout_is_only_events(fim):
    _setup(fim)
    p, evs = fim.check_json(expect=1)
    # no summary line mixed in (check_json already parsed every line as JSON)
    assert "fimguard check:" not in p.stdout
    assert all("event" in e for e in evs)
