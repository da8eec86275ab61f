"""Test doubles for fimguard's alert senders: an SMTP server and a webhook receiver.

Stdlib + aiosmtpd (Debian 12: python3-aiosmtpd 1.4.3) + the openssl CLI only.

    pki = make_pki(tmpdir)        # ca, cert, key (localhost / 127.0.0.1), bad_cert, bad_key
    with SmtpDouble(pki, mode="starttls") as smtp:      # smtp.url == "smtp://localhost:PORT"
        ... run fimguard with url = smtp.url, ca_file = pki["ca"] ...
        assert smtp.messages[0]["tls"] and smtp.messages[0]["auth_user"] == "fimguard"
    with WebhookDouble(pki, tls=True) as hook:          # hook.url == "https://localhost:PORT/hook"
        hook.fail_next(503, retry_after=1)
        ...

Both doubles bind 127.0.0.1 only (the URLs say "localhost", which /etc/hosts maps to
127.0.0.1, so the certificate's DNS:localhost name is what a client checks), keep what
they recorded across stop()/start(), and start() again on the same port, so a test can
take a server away and bring it back to exercise a sender's retries.
"""

import errno
import json
import logging
import os
import secrets
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# aiosmtpd 1.4.3's smtp_AUTH assigns the deprecated session.login_data on every successful
# AUTH, which logs a warning on its "mail.log" logger each time; drop just that line.
logging.getLogger("mail.log").addFilter(
    lambda rec: "login_data is deprecated" not in rec.getMessage())

OPENSSL_TIMEOUT = 30
START_TIMEOUT = 10.0      # aiosmtpd's own readiness wait (its default is 5 s)
STOP_TIMEOUT = 10.0
IO_TIMEOUT = 10.0         # per-connection socket timeouts inside the doubles
HOST = "127.0.0.1"


# --------------------------------------------------------------------------- PKI

_CA_EXT = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = fimguard test CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

# Leaf extensions written out in full (our own config, not the system openssl.cnf) so that
# strict verifiers (X509_STRICT, newer Pythons) accept the chain: CA:FALSE, serverAuth,
# SAN with both names a client may dial, SKI/AKI.
_LEAF_EXT = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = localhost
[v3_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_self]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
"""


def _openssl(*args, cwd):
    try:
        p = subprocess.run(["openssl", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=OPENSSL_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"openssl {' '.join(args)}: timed out after {OPENSSL_TIMEOUT}s") from e
    if p.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed ({p.returncode}):\n"
                           f"{p.stderr.decode(errors='replace')}")
    return p


def _ec_key(path, cwd):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", path, cwd=cwd)
    os.chmod(path, 0o600)


def make_pki(dirpath):
    """Throwaway PKI in dirpath (EC P-256, valid 2 days). Returns a dict of absolute paths:
    ca (CA cert), ca_key, cert/key (server, CN+SAN localhost / 127.0.0.1, signed by ca),
    bad_cert/bad_key (self-signed, same names, NOT signed by ca: verification must fail
    only because of the issuer, never because of the host name)."""
    d = os.path.abspath(dirpath)
    os.makedirs(d, exist_ok=True)
    p = {k: os.path.join(d, v) for k, v in dict(
        ca="ca.pem", ca_key="ca.key", cert="server.pem", key="server.key",
        bad_cert="bad.pem", bad_key="bad.key").items()}
    ca_cnf, leaf_cnf = os.path.join(d, "ca.cnf"), os.path.join(d, "leaf.cnf")
    csr = os.path.join(d, "server.csr")
    with open(ca_cnf, "w") as f:
        f.write(_CA_EXT)
    with open(leaf_cnf, "w") as f:
        f.write(_LEAF_EXT)

    _ec_key(p["ca_key"], d)
    _openssl("req", "-new", "-x509", "-config", ca_cnf, "-extensions", "v3_ca",
             "-key", p["ca_key"], "-days", "2", "-sha256",
             "-set_serial", "0x" + secrets.token_hex(8), "-out", p["ca"], cwd=d)

    _ec_key(p["key"], d)
    _openssl("req", "-new", "-config", leaf_cnf, "-key", p["key"], "-out", csr, cwd=d)
    # -set_serial instead of -CAcreateserial: no ca.srl side file, and a fresh serial each
    # time so two PKIs made in one run never present the same issuer+serial.
    _openssl("x509", "-req", "-in", csr, "-CA", p["ca"], "-CAkey", p["ca_key"],
             "-days", "2", "-sha256", "-set_serial", "0x" + secrets.token_hex(8),
             "-extfile", leaf_cnf, "-extensions", "v3_leaf", "-out", p["cert"], cwd=d)

    _ec_key(p["bad_key"], d)
    _openssl("req", "-new", "-x509", "-config", leaf_cnf, "-extensions", "v3_self",
             "-key", p["bad_key"], "-days", "2", "-sha256",
             "-set_serial", "0x" + secrets.token_hex(8), "-out", p["bad_cert"], cwd=d)
    return p


def _server_tls_context(pki, which):
    if which not in ("good", "bad"):
        raise ValueError(f"cert must be 'good' or 'bad', not {which!r}")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)   # CERT_NONE, no hostname check: a server
    if which == "good":
        ctx.load_cert_chain(pki["cert"], pki["key"])
    else:
        ctx.load_cert_chain(pki["bad_cert"], pki["bad_key"])
    return ctx


def _bind_listener(port):
    """A listening TCP socket on 127.0.0.1:port (0 = any free port). Binding ourselves,
    before any server thread exists, makes a bind error surface at once in start() instead
    of as aiosmtpd's 5 s "failed to start" timeout, and gives the real port with no
    pick-then-bind race. SO_REUSEADDR lets a restart reuse the port over TIME_WAIT
    leftovers; a short retry covers the old listener still being torn down."""
    deadline = time.monotonic() + 5
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((HOST, port))
            s.listen(64)
            return s
        except OSError as e:
            s.close()
            if e.errno != errno.EADDRINUSE or port == 0 or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _default_reply(code, stage):
    code = int(code)
    if 400 <= code < 500:
        return f"{code} 4.3.0 try later (fail_next)"
    if stage == "RCPT":
        return f"{code} 5.1.1 no such user (fail_next)"
    return f"{code} 5.6.0 rejected (fail_next)"


# --------------------------------------------------------------------------- SMTP

class _DoubleSMTP(SMTP):
    """aiosmtpd's SMTP with one fix-up of its private AUTH gate.

    aiosmtpd only knows STARTTLS: it decides "encrypted" by self._tls_protocol, which stays
    None on an implicit-TLS (smtps) connection, so auth_require_tls=True would answer 538
    to every AUTH on a session that *is* encrypted. Passing auth_require_tls=False instead
    works but makes every connection's __init__ emit a UserWarning (auth_required without
    TLS). So we construct with the default and relax the gate afterwards: for smtps (always
    encrypted) and for "plain" mode, whose point is to offer AUTH in the clear so a test can
    see whether a client leaks its password there (it should not even try)."""

    def __init__(self, handler, *, auth_in_clear=False, **kw):
        super().__init__(handler, **kw)
        if auth_in_clear:
            self._auth_require_tls = False


class _Controller(Controller):
    """Controller serving on a socket we bound ourselves (see _bind_listener), with a
    readiness probe that says QUIT politely instead of dropping the connection."""

    def __init__(self, handler, sock, smtp_kwargs, auth_in_clear, on_connect, **kw):
        self._sock = sock
        self._auth_in_clear = auth_in_clear
        self._on_connect = on_connect
        super().__init__(handler, hostname=HOST, port=sock.getsockname()[1],
                         ready_timeout=START_TIMEOUT, server_hostname="localhost",
                         **kw, **smtp_kwargs)

    def factory(self):
        # Called once per accepted connection (for smtps before the TLS handshake).
        self._on_connect()
        return _DoubleSMTP(self.handler, auth_in_clear=self._auth_in_clear, **self.SMTP_kwargs)

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self._sock,
                                       ssl=self.ssl_context)

    def _trigger_server(self):
        # Controller.start() connects once so that aiosmtpd's lazy factory() runs and its
        # errors surface. The stock probe reads 1 KiB and hangs up (mid-TLS for smtps, which
        # logs noise). Ours: connect, TLS without verification if implicit (the probe only
        # needs the server to answer; good and bad certs alike), read the greeting, QUIT.
        # Neither auth_required nor require_starttls apply to QUIT, so the probe never
        # trips them. Errors are ignored: start() still checks that factory() ran.
        try:
            with socket.create_connection((HOST, self.port), timeout=2.0) as raw:
                s = raw
                if self.ssl_context:
                    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                    cctx.check_hostname = False
                    cctx.verify_mode = ssl.CERT_NONE
                    s = cctx.wrap_socket(raw)
                f = s.makefile("rb")
                f.readline()
                s.sendall(b"QUIT\r\n")
                f.readline()
                f.close()
                if s is not raw:
                    s.close()
        except OSError:
            pass


class _Handler:
    """aiosmtpd hooks; all state lives in the SmtpDouble."""

    def __init__(self, double):
        self.d = double

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        fail = self.d._take_failure("MAIL")
        if fail:
            self.d._reject("MAIL", fail, address, [])
            return fail
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        fail = self.d._take_failure("RCPT")
        if fail:
            self.d._reject("RCPT", fail, envelope.mail_from, [address])
            return fail
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        fail = self.d._take_failure("DATA")
        if fail:
            self.d._reject("DATA", fail, envelope.mail_from, envelope.rcpt_tos)
            return fail
        self.d._accept({
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            # bytes as received after dot-unstuffing, CRLF line ends kept
            "data": bytes(envelope.original_content),
            "auth_user": session.auth_data if session.authenticated else None,
            "tls": _is_tls(server),
        })
        return "250 2.0.0 OK queued"


def _is_tls(server):
    # After STARTTLS server.transport is the SSL app transport; with implicit TLS the
    # connection's transport is one from the start. Both answer ssl_object.
    t = server.transport
    return t is not None and t.get_extra_info("ssl_object") is not None


class SmtpDouble:
    """aiosmtpd SMTP server on 127.0.0.1 for tests.

    mode:
      "starttls"          STARTTLS offered and required (anything but EHLO/NOOP/QUIT/STARTTLS
                          before it: 530); AUTH PLAIN/LOGIN advertised and accepted only after
                          TLS; AUTH required before MAIL when users is non-empty.
      "starttls-optional" STARTTLS offered, not required; AUTH still only after TLS (538 before).
      "smtps"             implicit TLS on connect; AUTH (required when users is non-empty).
      "plain"             no TLS at all, no STARTTLS advertised. AUTH is offered in the clear
                          (required when users is non-empty) so that a test can tell from
                          .auth_attempts whether a client sent its password unencrypted.
    users: {login: password}; empty/None = no AUTH required (AUTH still advertised, always
           fails). cert: "good" (signed by pki["ca"]) or "bad" (self-signed).

    Recorded (kept across stop/start; clear() empties):
      .messages       accepted messages: {mail_from, rcpt_tos, mail_options, data (bytes),
                      auth_user (str or None), tls (bool)}
      .rejected       {stage, reply, mail_from, rcpt_tos} for fail_next answers
      .auth_attempts  {user, mechanism, ok, tls}
      .sessions       connections accepted (the readiness probe of start() not counted)
    """

    MODES = ("starttls", "starttls-optional", "smtps", "plain")

    def __init__(self, pki, mode="starttls", users=None, cert="good", port=0):
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, not {mode!r}")
        self.pki = pki
        self.mode = mode
        self.users = {"fimguard": "s3cret"} if users is None else dict(users)
        self.cert = cert
        self.port = port
        self.host = "localhost"
        self._tls_ctx = None if mode == "plain" else _server_tls_context(pki, cert)
        self._lock = threading.Condition()
        self._failures = []          # [stage, reply, remaining]
        self._controller = None
        self._counting = False
        self.messages = []
        self.rejected = []
        self.auth_attempts = []
        self.sessions = 0

    # ---- public API ----------------------------------------------------------
    @property
    def url(self):
        scheme = "smtps" if self.mode == "smtps" else "smtp"
        return f"{scheme}://localhost:{self.port}"

    @property
    def running(self):
        return self._controller is not None

    def fail_next(self, code, count=1, on="DATA"):
        """The next `count` MAIL/RCPT/DATA commands (on=) answer `code` instead of 250.
        code: a full reply line ("451 4.3.0 try later") or an int (default text added).
        A RCPT failure applies per recipient command; a DATA failure is given after the
        message body has been read, as a real server would."""
        on = on.upper()
        if on not in ("MAIL", "RCPT", "DATA"):
            raise ValueError("on must be MAIL, RCPT or DATA")
        reply = str(code) if not isinstance(code, int) else _default_reply(code, on)
        if not reply[:3].isdigit() or reply[0] not in "45":
            raise ValueError(f"not a 4xx/5xx reply: {reply!r}")
        with self._lock:
            self._failures.append([on, reply, int(count)])

    def clear(self):
        with self._lock:
            self.messages.clear()
            self.rejected.clear()
            self.auth_attempts.clear()
            self._failures.clear()
            self.sessions = 0

    def wait_for_messages(self, n=1, timeout=5.0):
        """Block until at least n messages were accepted; returns the list (may be shorter
        on timeout: assert on its length)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return list(self.messages)

    def start(self):
        if self._controller is not None:
            raise RuntimeError("SmtpDouble already running")
        sock = _bind_listener(self.port)
        self.port = sock.getsockname()[1]   # fixed from now on: restarts reuse it
        tls = self._tls_ctx
        smtp_kwargs = dict(
            data_size_limit=10 * 1024 * 1024,
            timeout=30,                     # idle clients die instead of lingering
            authenticator=self._authenticate,
            auth_required=bool(self.users),
            # aiosmtpd ignores require_starttls when tls_context is None
            tls_context=tls if self.mode in ("starttls", "starttls-optional") else None,
            require_starttls=(self.mode == "starttls"),
            auth_require_tls=True,
        )
        c = _Controller(_Handler(self), sock, smtp_kwargs,
                        auth_in_clear=self.mode in ("smtps", "plain"),
                        on_connect=self._on_connect,
                        ssl_context=tls if self.mode == "smtps" else None)
        self._counting = False
        try:
            c.start()
        except BaseException:
            self._shutdown(c)
            sock.close()
            raise
        # Controller.start() returns only after factory() ran for its probe connection, so
        # every connection counted from here on is a client's.
        self._counting = True
        self._controller = c
        return self

    def stop(self):
        """Stop listening and drop open sessions. Safe to call twice or when not running."""
        c, self._controller = self._controller, None
        self._counting = False
        if c is not None:
            self._shutdown(c)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- internals -------------------------------------------------------------
    @staticmethod
    def _shutdown(c):
        # Controller.stop() joins the loop thread with no timeout and asserts it is running;
        # do the same work bounded, and tolerate a loop that already died. cancel_tasks
        # stops the loop and cancels every session task (each closes its transport); then
        # Controller._run closes the server (and so our listening socket) and the loop.
        try:
            c.loop.call_soon_threadsafe(c.cancel_tasks)
        except RuntimeError:
            pass                                    # loop already closed
        t = c._thread
        if t is not None:
            t.join(STOP_TIMEOUT)
            if t.is_alive():
                raise RuntimeError("SMTP double thread did not stop")
        c._thread = None
        c._sock.close()                             # no-op if the server closed it
        if not c.loop.is_closed() and not c.loop.is_running():
            c.loop.close()                          # _run failed before its own cleanup
        c._cleanup()

    def _on_connect(self):
        if self._counting:
            with self._lock:
                self.sessions += 1

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = False
        user = None
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            ok = user in self.users and self.users[user] == password
        with self._lock:
            self.auth_attempts.append({"user": user, "mechanism": mechanism, "ok": ok,
                                       "tls": _is_tls(server)})
        if ok:
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)    # -> 535 5.7.8

    def _take_failure(self, stage):
        with self._lock:
            for f in self._failures:
                if f[0] == stage:
                    f[2] -= 1
                    if f[2] <= 0:
                        self._failures.remove(f)
                    return f[1]
        return None

    def _reject(self, stage, reply, mail_from, rcpt_tos):
        with self._lock:
            self.rejected.append({"stage": stage, "reply": reply, "mail_from": mail_from,
                                  "rcpt_tos": list(rcpt_tos)})

    def _accept(self, rec):
        with self._lock:
            self.messages.append(rec)
            self._lock.notify_all()


# --------------------------------------------------------------------------- webhook

class _HookServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sock, double):
        self.double = double
        # bind_and_activate=False: we hand it a socket bound by _bind_listener
        super().__init__(sock.getsockname(), _HookHandler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_name = "localhost"
        self.server_port = sock.getsockname()[1]

    def handle_error(self, request, client_address):
        # Default prints a traceback to stderr; a client refusing our certificate or
        # hanging up is an expected test event, so just keep it for inspection.
        import sys
        with self.double._lock:
            self.double.errors.append(repr(sys.exc_info()[1]))


class _HookHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IO_TIMEOUT          # StreamRequestHandler applies it to the socket

    def setup(self):
        ctx = self.server.double._tls_ctx
        if ctx is not None:
            # Handshake here, in the per-connection thread, not on the listening socket:
            # a wrapped listener would do it in accept(), where one stuck client blocks all.
            self.request.settimeout(self.timeout)
            self.request = ctx.wrap_socket(self.request, server_side=True)
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            if isinstance(self.request, ssl.SSLSocket):
                self.request.close()   # the server only closes the pre-TLS socket object

    def log_message(self, fmt, *args):
        pass

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass                      # trailers
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()             # CRLF after the chunk
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _handle(self):
        body = self._read_body()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        d = self.server.double
        status, retry_after = d._take_failure()
        with d._lock:
            d.requests.append({
                "method": self.command, "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body, "json": parsed, "status": status,
                "tls": isinstance(self.request, ssl.SSLSocket),
            })
            d._lock.notify_all()
        payload = b'{"ok":true}' if status < 400 else b'{"error":"fail_next"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        # One request per connection: no idle keep-alive threads to outlive stop().
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = do_HEAD = _handle


class WebhookDouble:
    """HTTP(S) receiver on 127.0.0.1. url: http(s)://localhost:PORT/hook (any path is
    accepted and recorded). Every request is answered 200 {"ok":true} unless fail_next().

    .requests: {method, path, headers (names lower-cased), body (bytes), json (parsed or
    None), status (what we answered), tls (bool)} -- failed ones included, so retries can
    be counted. Kept across stop/start; clear() empties. .errors: connection-level errors
    (e.g. a client refusing the certificate)."""

    def __init__(self, pki=None, tls=False, cert="good", port=0, path="/hook"):
        if tls and pki is None:
            raise ValueError("tls=True needs the pki")
        self.tls = tls
        self.port = port
        self.path = path
        self._tls_ctx = _server_tls_context(pki, cert) if tls else None
        self._lock = threading.Condition()
        self._failures = []          # [status, retry_after, remaining]
        self._server = None
        self._thread = None
        self.requests = []
        self.errors = []

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://localhost:{self.port}{self.path}"

    @property
    def running(self):
        return self._server is not None

    def fail_next(self, status, count=1, retry_after=None):
        """The next `count` requests get HTTP `status` (with Retry-After if given)."""
        with self._lock:
            self._failures.append([int(status), retry_after, int(count)])

    def clear(self):
        with self._lock:
            self.requests.clear()
            self.errors.clear()
            self._failures.clear()

    def wait_for_requests(self, n=1, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return list(self.requests)

    def start(self):
        if self._server is not None:
            raise RuntimeError("WebhookDouble already running")
        sock = _bind_listener(self.port)
        self.port = sock.getsockname()[1]
        try:
            srv = _HookServer(sock, self)
        except BaseException:
            sock.close()
            raise
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                             name=f"webhook-double-{self.port}", daemon=True)
        t.start()
        self._server, self._thread = srv, t
        return self

    def stop(self):
        srv, t = self._server, self._thread
        self._server = self._thread = None
        if srv is None:
            return
        # shutdown() waits for serve_forever to leave its loop (<= poll_interval); safe
        # even if the thread has not entered it yet. Handler threads are daemons, each
        # bounded by IO_TIMEOUT, and every connection is closed after one request.
        srv.shutdown()
        srv.server_close()
        t.join(STOP_TIMEOUT)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _take_failure(self):
        with self._lock:
            if self._failures:
                f = self._failures[0]
                f[2] -= 1
                if f[2] <= 0:
                    self._failures.pop(0)
                return f[0], f[1]
        return 200, None
