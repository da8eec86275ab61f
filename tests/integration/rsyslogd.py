"""A real rsyslogd (Debian's rsyslog, rsyslog-relp, rsyslog-openssl) for
the syslog sink's tests: its own config, work directory, pid file and a
free loopback port, under `timeout -s KILL`, in its own session; never
the machine's rsyslog, never /dev/log (unix:// tests use a socket in the
scratch directory).

What it receives is written one message a line to <dir>/received, as
APP|MSGID|SEVERITY|FACILITY|STRUCTURED-DATA|MSG, so a test sees what
rsyslog parsed, not only the bytes."""

import os
import shutil
import signal
import socket
import subprocess
import time

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"

TEMPLATE = ('template(name="fields" type="string" string="%app-name%|%msgid%|'
            '%syslogseverity%|%syslogfacility%|%structured-data%|%msg%\\n")\n')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available():
    return os.path.exists(RSYSLOGD)


class Rsyslogd:
    """kind: relp | tcp | tls | unix | relay (RELP in, RELP out to
    forward_port, nothing written here)."""

    def __init__(self, base, kind, pki=None, port=None, forward_port=None,
                 central=False):
        self.dir = base
        os.makedirs(os.path.join(base, "work"), exist_ok=True)
        self.kind = kind
        self.port = port or free_port()
        self.sock = os.path.join(base, "log.sock")
        self.received = os.path.join(base, "received")
        self.conf = os.path.join(base, "rsyslog.conf")
        self.pid_file = os.path.join(base, "rsyslogd.pid")
        self.err = os.path.join(base, "rsyslogd.err")
        self.pki = pki
        self.forward_port = forward_port
        self.central = central
        self.ecs = os.path.join(base, "ecs.json")
        self.p = None
        with open(self.conf, "w") as f:
            f.write(self._config())
        self.start()

    def _config(self):
        c = (f'global(workDirectory="{self.dir}/work" maxMessageSize="64k")\n'
             + TEMPLATE)
        if self.kind == "tls":
            c += (f'global(DefaultNetstreamDriver="ossl" '
                  f'DefaultNetstreamDriverCAFile="{self.pki["ca"]}" '
                  f'DefaultNetstreamDriverCertFile="{self.pki["cert"]}" '
                  f'DefaultNetstreamDriverKeyFile="{self.pki["key"]}")\n'
                  'module(load="imtcp" StreamDriver.Name="ossl" '
                  'StreamDriver.Mode="1" StreamDriver.AuthMode="anon")\n'
                  f'input(type="imtcp" address="127.0.0.1" port="{self.port}")\n')
        elif self.kind == "tcp":
            c += ('module(load="imtcp")\n'
                  f'input(type="imtcp" address="127.0.0.1" port="{self.port}")\n')
        elif self.kind == "unix":
            c += ('module(load="imuxsock" SysSock.Use="off")\n'
                  f'input(type="imuxsock" Socket="{self.sock}" '
                  'UseSpecialParser="off" ParseHostname="on")\n')
        elif self.kind == "relay":
            # a host's rsyslog as docs/fleet.md sets it up (without TLS):
            # what arrives goes on to the central one, queued on disk
            # while it is away, retried for ever
            c += ('module(load="imrelp")\nmodule(load="omrelp")\n'
                  f'input(type="imrelp" address="127.0.0.1" port="{self.port}" '
                  'ruleset="fimguard")\n'
                  'ruleset(name="fimguard") {\n'
                  'action(type="omrelp" target="127.0.0.1" '
                  f'port="{self.forward_port}" template="RSYSLOG_SyslogProtocol23Format" '
                  'queue.type="LinkedList" queue.filename="fwd" '
                  'queue.saveOnShutdown="on" action.resumeRetryCount="-1" '
                  'action.resumeInterval="1")\n}\n')
        else:
            c += ('module(load="imrelp")\n'
                  f'input(type="imrelp" address="127.0.0.1" port="{self.port}")\n')
        if self.kind != "relay":
            c += (f'action(type="omfile" file="{self.received}" '
                  'template="fields")\n')
        if self.central:
            # docs/fleet.md's central server: the message parsed back
            # into the ECS event
            c += ('module(load="mmjsonparse")\n'
                  'template(name="ecs" type="list") { property(name="$!all-json") '
                  'constant(value="\\n") }\n'
                  'action(type="mmjsonparse" cookie="")\n'
                  f'action(type="omfile" file="{self.ecs}" template="ecs")\n')
        return c

    def start(self):
        with open(self.err, "ab") as err:
            self.p = subprocess.Popen(
                ["timeout", "-s", "KILL", "120", RSYSLOGD, "-n", "-f", self.conf,
                 "-i", self.pid_file],
                stdout=err, stderr=err, stdin=subprocess.DEVNULL,
                start_new_session=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError(f"rsyslogd exited: {self.stderr()}")
            if self._ready():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"rsyslogd did not start: {self.stderr()}")

    def _ready(self):
        if self.kind == "unix":
            return os.path.exists(self.sock)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stderr(self):
        try:
            with open(self.err, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        """SIGTERM (rsyslogd flushes its file and queues), SIGKILL after 10 s."""
        if self.p is None:
            return
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
                self.p.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.p.wait(timeout=10)
        self.p = None

    def lines(self):
        try:
            with open(self.received, "rb") as f:
                return [l.decode("utf-8", "replace") for l in f.read().split(b"\n") if l]
        except FileNotFoundError:
            return []

    def ecs_events(self):
        """central: what mmjsonparse made of each message."""
        import json
        try:
            with open(self.ecs, "rb") as f:
                return [json.loads(l) for l in f.read().split(b"\n") if l]
        except FileNotFoundError:
            return []

    def messages(self):
        """Each received message as a dict: app, msgid, severity,
        facility, sd, msg (the ECS JSON text)."""
        out = []
        for l in self.lines():
            app, msgid, sev, fac, sd, msg = l.split("|", 5)
            out.append(dict(app=app, msgid=msgid, severity=int(sev),
                            facility=int(fac), sd=sd, msg=msg.lstrip(" ")))
        return out
