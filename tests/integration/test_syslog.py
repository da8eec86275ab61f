"""The [syslog] sink against a real rsyslogd (rsyslogd.py): RELP with its
acknowledgements, TCP with octet counting, TLS with a throwaway CA, a
local datagram socket; every event received once and in order; a
receiver that is down for a while and comes back loses nothing; and the
fleet path of docs/fleet.md: a host's rsyslog relays to a central one.

Every rsyslogd and monitor runs under `timeout -s KILL`, on loopback,
in the test's scratch directory, and is stopped at teardown."""

import json
import os
import re
import subprocess

import pytest

from mail_double import make_pki
from rsyslogd import Rsyslogd, available
from test_alerts import status, wait_until
from test_monitor import Monitor, op

pytestmark = pytest.mark.skipif(not available(), reason="rsyslogd not installed (make deps-test)")

SD = re.compile(r'^\[fimguard@32473( [a-z0-9_]+="(?:[^"\\\]]|\\.)*")*\]$')


@pytest.fixture
def daemons():
    started = []
    yield started
    for d in reversed(started):
        d.stop()


@pytest.fixture
def monitors():
    started = []
    yield started
    for m in started:
        m.stop()


def sdir(fim, name):
    """Under the test's scratch directory (0755): the alerter, an
    unprivileged user, must reach a unix socket there."""
    return os.path.join(fim.base, "rsyslog-" + name)


def connections_to(port):
    """Local ends of the established connections to port."""
    ss = subprocess.run(["ss", "-Htan", "state", "established", "(", "dport", "=", f":{port}",
                         ")"], capture_output=True, text=True, timeout=10, check=True)
    return sorted(l.split()[2] for l in ss.stdout.splitlines())


def syslog_conf(url, extra=""):
    return f"[syslog]\nurl = {url}\n{extra}"


def start(fim, monitors, sinks):
    fim.write_config(mode="audit", extra=sinks)
    fim.init()
    m = Monitor(fim, mode="audit")
    monitors.append(m)
    return m


def append(path, text):
    rc, err = op("import sys; open(sys.argv[1], 'a').write(sys.argv[2])", path, text)
    assert rc == 0, err


def as_sent(ev):
    """An event of the events file as every sink without args = yes gets
    it: the argument count in place of the arguments."""
    ev = json.loads(json.dumps(ev))
    proc = ev.get("process", {})
    if "args" in proc:
        proc["args_count"] = len(proc.pop("args"))
    return ev


def modified(d):
    return [json.loads(x["msg"]) for x in d.messages() if x["msgid"] == "modified"]


def spool_empty(fim):
    d = os.path.join(fim.state, "spool")
    return not [n for n in os.listdir(d) if n.endswith(".json")]


@pytest.fixture
def tree(fim):
    fim.write("a.conf", "alpha\n")
    fim.rule(severity="critical", diff="yes")
    return fim


def test_relp_every_event_once_in_order_as_rfc5424(tree, daemons, monitors):
    d = Rsyslogd(sdir(tree, "r"), "relp")
    daemons.append(d)
    m = start(tree, monitors, syslog_conf(f"relp://127.0.0.1:{d.port}"))
    path = tree.t("a.conf")
    for i in range(20):
        append(path, f"line {i}\n")
        m.wait_for(lambda e, i=i: e["event"]["action"] == "modified" and
                   e.get("file", {}).get("size", 0) == len("alpha\n") +
                   sum(len(f"line {k}\n") for k in range(i + 1)),
                   f"modified #{i}")
    local = [as_sent(e) for e in m.events() if e["event"]["action"] == "modified"]
    wait_until(lambda: len(modified(d)) >= len(local), "20 modified events at rsyslog", timeout=20)
    got = modified(d)
    # each once, in the order the monitor wrote them
    assert [e["file"]["hash"]["sha256"] for e in got] == \
        [e["file"]["hash"]["sha256"] for e in local]
    assert got == local
    wait_until(lambda: spool_empty(tree), "spool emptied by acknowledgements")
    msg = [x for x in d.messages() if x["msgid"] == "modified"][0]
    assert msg["app"] == "fimguard"
    assert msg["severity"] == 2          # critical -> crit
    assert msg["facility"] == 10         # authpriv
    assert SD.match(msg["sd"]), msg["sd"]
    assert f'path="{path}"' in msg["sd"] and 'rule="tree"' in msg["sd"]
    assert 'action="modified"' in msg["sd"]
    # the whole stream by default: the opens too
    assert any(x["msgid"] == "write-allowed" for x in d.messages())
    assert status(tree)["alerts"]["sinks"] == ["syslog"]


def test_relp_receiver_down_then_back_loses_nothing(tree, daemons, monitors):
    d = Rsyslogd(sdir(tree, "r"), "relp")
    daemons.append(d)
    m = start(tree, monitors, syslog_conf(f"relp://127.0.0.1:{d.port}",
                                          "actions = modified\n"))
    path = tree.t("a.conf")
    append(path, "before\n")
    wait_until(lambda: len(modified(d)) == 1, "first event")
    d.stop()
    for i in range(5):
        append(path, f"while down {i}\n")
        m.wait_for(lambda e, i=i: e["event"]["action"] == "modified" and
                   e["fimguard"].get("diff", "").find(f"while down {i}") >= 0,
                   f"modified while down #{i}")
    # nothing acknowledged, so everything is still spooled
    wait_until(lambda: len([n for n in os.listdir(os.path.join(tree.state, "spool"))
                            if n.endswith(".json")]) == 5, "5 alerts kept in the spool")
    d.start()
    local = [as_sent(e) for e in m.events() if e["event"]["action"] == "modified"]
    wait_until(lambda: len(modified(d)) >= 6, "the 5 spooled events after the restart",
               timeout=40)
    assert modified(d) == local
    wait_until(lambda: spool_empty(tree), "spool emptied")
    assert "will retry" in m.stderr()


def test_tcp_octet_counting_keeps_newlines_inside_one_message(fim, daemons, monitors):
    fim.write("a.conf", "one\n")
    fim.rule(severity="low", diff="yes")
    d = Rsyslogd(sdir(fim, "r"), "tcp")
    daemons.append(d)
    m = start(fim, monitors, syslog_conf(f"tcp://localhost:{d.port}",
                                         "actions = modified\nfacility = local3\n"))
    append(fim.t("a.conf"), "two\nthree\n")
    ev = as_sent(m.wait_for(lambda e: e["event"]["action"] == "modified", "modified")[0])
    wait_until(lambda: modified(d), "the event over TCP")
    x = [x for x in d.messages() if x["msgid"] == "modified"]
    assert len(x) == 1
    assert json.loads(x[0]["msg"]) == ev     # the diff's newlines inside
    assert x[0]["severity"] == 5 and x[0]["facility"] == 19


def test_tls_with_a_throwaway_ca(tree, daemons, monitors):
    pki = make_pki(sdir(tree, "pki"))
    d = Rsyslogd(sdir(tree, "r"), "tls", pki=pki)
    daemons.append(d)
    m = start(tree, monitors, syslog_conf(f"tls://127.0.0.1:{d.port}",
                                          f"ca_file = {pki['ca']}\nactions = modified\n"))
    seen = []
    for i in range(3):
        append(tree.t("a.conf"), f"over tls {i}\n")
        m.wait_for(lambda e, i=i: f"over tls {i}" in e["fimguard"].get("diff", ""), "modified")
        wait_until(lambda i=i: len(modified(d)) == i + 1, f"event {i} over TLS")
        seen.append(connections_to(d.port))
    local = [as_sent(e) for e in m.events() if e["event"]["action"] == "modified"]
    assert modified(d) == local
    # one connection for all three (TLS 1.3 session tickets are read, not
    # taken for a closed connection)
    assert len(seen[0]) == 1 and seen == [seen[0]] * 3, seen


def test_tls_refuses_a_server_the_ca_did_not_sign(tree, daemons, monitors):
    pki = make_pki(sdir(tree, "pki"))
    other = make_pki(sdir(tree, "other"))
    d = Rsyslogd(sdir(tree, "r"), "tls", pki=pki)
    daemons.append(d)
    m = start(tree, monitors, syslog_conf(f"tls://127.0.0.1:{d.port}",
                                          f"ca_file = {other['ca']}\nactions = modified\n"))
    append(tree.t("a.conf"), "not for them\n")
    m.wait_for(lambda e: e["event"]["action"] == "modified", "modified")
    wait_until(lambda: "failed permanently" in m.stderr(), "a permanent failure")
    assert "certificate" in m.stderr()
    assert os.listdir(os.path.join(tree.state, "spool", "failed"))
    assert modified(d) == []


def test_unix_socket_datagrams(tree, daemons, monitors):
    d = Rsyslogd(sdir(tree, "r"), "unix")
    daemons.append(d)
    m = start(tree, monitors, syslog_conf(f"unix://{d.sock}", "actions = modified\n"))
    append(tree.t("a.conf"), "local\n")
    ev = as_sent(m.wait_for(lambda e: e["event"]["action"] == "modified", "modified")[0])
    wait_until(lambda: modified(d), "the event on the socket")
    assert modified(d) == [ev]


def test_fleet_relay_host_rsyslog_to_central_rsyslog(tree, daemons, monitors):
    """docs/fleet.md: fimguard -> the host's rsyslog (RELP) -> a central
    rsyslog (RELP), the central one down for a while."""
    central = Rsyslogd(sdir(tree, "central"), "relp", central=True)
    daemons.append(central)
    relay = Rsyslogd(sdir(tree, "host"), "relay", forward_port=central.port)
    daemons.append(relay)
    m = start(tree, monitors, syslog_conf(f"relp://127.0.0.1:{relay.port}",
                                          "actions = modified\n"))
    path = tree.t("a.conf")
    append(path, "first\n")
    wait_until(lambda: len(modified(central)) == 1, "the event at the central rsyslog", timeout=20)
    central.stop()
    append(path, "second\n")
    m.wait_for(lambda e: "second" in e["fimguard"].get("diff", ""), "second modified")
    wait_until(lambda: spool_empty(tree), "the host's rsyslog acknowledged it")
    central.start()
    wait_until(lambda: len(modified(central)) == 2, "the queued event after the central restart",
               timeout=40)
    local = [as_sent(e) for e in m.events() if e["event"]["action"] == "modified"]
    assert modified(central) == local
    x = [x for x in central.messages() if x["msgid"] == "modified"]
    assert all(y["app"] == "fimguard" and SD.match(y["sd"]) for y in x)
    # the central server's mmjsonparse gives back the ECS events
    assert [e for e in central.ecs_events() if e["event"]["action"] == "modified"] == local


def test_policy_check_refuses_a_bad_syslog_url(fim):
    fim.rule()
    for url, ok in (("relp://127.0.0.1:2514", True), ("tcp://[::1]:514", True),
                    ("unix:///dev/log", True), ("relp://127.0.0.1", False),
                    ("udp://127.0.0.1:514", False), ("tls://:6514", False)):
        fim.write_config(extra=syslog_conf(url))
        p = fim.run("policy", "check")
        assert (p.returncode == 0) == ok, (url, p.stderr)
        if not ok:
            assert "[syslog]" in p.stderr or "url" in p.stderr
