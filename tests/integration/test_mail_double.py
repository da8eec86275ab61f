"""Tests of the SMTP / webhook test doubles themselves (mail_double.py), with Python's own
smtplib / ssl / urllib as the client. They need neither the fimguard binary nor root, so
they use no `fim` fixture and are never skipped. Every socket has a timeout (T) so that a
broken double fails a test in seconds instead of hanging it."""

import base64
import json
import smtplib
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from mail_double import SmtpDouble, WebhookDouble, make_pki

T = 5  # seconds, for every client socket

MSG = (b"From: fimguard <fimguard@localhost>\r\nTo: ops@example.org\r\n"
       b"Subject: fimguard alert\r\n\r\nmodified /etc/passwd\r\n.leading dot\r\n")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def ctx(pki):
    # what a correct client does: trust only our CA, check the host name
    return ssl.create_default_context(cafile=pki["ca"])


@pytest.fixture
def smtp_double(pki):
    """factory: smtp_double(mode=..., ...) -> started SmtpDouble, stopped at teardown"""
    made = []

    def make(**kw):
        d = SmtpDouble(pki, **kw).start()
        made.append(d)
        return d
    yield make
    for d in made:
        d.stop()


@pytest.fixture
def hook_double(pki):
    made = []

    def make(**kw):
        d = WebhookDouble(pki, **kw).start()
        made.append(d)
        return d
    yield make
    for d in made:
        d.stop()


def connect(d, ctx=None):
    if d.mode == "smtps":
        return smtplib.SMTP_SSL("localhost", d.port, context=ctx, timeout=T)
    return smtplib.SMTP("localhost", d.port, timeout=T)


def plain_auth(user, password):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=T).close()
        return False
    except ConnectionRefusedError:
        return True


# ---------------------------------------------------------------- PKI

def test_pki_files_and_names(pki):
    for k in ("ca", "cert", "key", "bad_cert", "bad_key"):
        with open(pki[k]) as f:
            assert "-----BEGIN" in f.read(), k
    # the server cert presents both names a client may dial
    out = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", pki["cert"]],
                         capture_output=True, text=True, timeout=T, check=True).stdout
    assert "DNS:localhost" in out and "IP Address:127.0.0.1" in out
    verify = lambda c: subprocess.run(["openssl", "verify", "-CAfile", pki["ca"], c],
                                      capture_output=True, timeout=T).returncode
    assert verify(pki["cert"]) == 0
    assert verify(pki["bad_cert"]) != 0


def test_smtps_by_ip_address_verifies(smtp_double, ctx):
    # a client dialing 127.0.0.1 checks the IP SAN
    d = smtp_double(mode="smtps")
    with smtplib.SMTP_SSL("127.0.0.1", d.port, context=ctx, timeout=T) as c:
        assert c.noop()[0] == 250


# ---------------------------------------------------------------- STARTTLS required

def test_starttls_mode_refuses_mail_and_auth_before_tls(smtp_double):
    d = smtp_double(mode="starttls")
    assert d.url == f"smtp://localhost:{d.port}"
    with connect(d) as c:
        c.ehlo()
        assert c.has_extn("starttls")
        assert not c.has_extn("auth"), "AUTH must not be advertised before TLS"
        code, msg = c.docmd("MAIL", "FROM:<fimguard@localhost>")
        assert code == 530, (code, msg)
        code, msg = c.docmd("AUTH", "PLAIN " + plain_auth("fimguard", "s3cret"))
        assert code == 530, (code, msg)   # require_starttls answers before the AUTH gate
    assert d.messages == [] and d.auth_attempts == []
    assert d.sessions == 1


def test_starttls_auth_send_is_recorded(smtp_double, ctx):
    d = smtp_double(mode="starttls")
    with connect(d) as c:
        c.ehlo()
        c.starttls(context=ctx)
        c.ehlo()
        assert c.has_extn("auth") and not c.has_extn("starttls")
        assert "PLAIN" in c.esmtp_features["auth"] and "LOGIN" in c.esmtp_features["auth"]
        c.login("fimguard", "s3cret")
        refused_rcpts = c.sendmail("fimguard@localhost", ["ops@example.org", "sec@example.org"], MSG)
        assert refused_rcpts == {}
    msgs = d.wait_for_messages(1, timeout=T)
    assert len(msgs) == 1
    m = msgs[0]
    assert m["mail_from"] == "fimguard@localhost"
    assert m["rcpt_tos"] == ["ops@example.org", "sec@example.org"]
    assert m["tls"] is True
    assert m["auth_user"] == "fimguard"
    # data as received (dot-unstuffed by the server, CRLF kept)
    assert m["data"] == MSG
    assert d.sessions == 1


def test_starttls_auth_login_mechanism(smtp_double, ctx):
    d = smtp_double(mode="starttls")
    with connect(d) as c:
        c.starttls(context=ctx)
        c.ehlo()
        c.user, c.password = "fimguard", "s3cret"
        code, _ = c.auth("LOGIN", c.auth_login, initial_response_ok=False)
        assert code == 235
    assert d.auth_attempts == [{"user": "fimguard", "mechanism": "LOGIN", "ok": True, "tls": True}]


def test_auth_required_after_tls(smtp_double, ctx):
    d = smtp_double(mode="starttls")
    with connect(d) as c:
        c.starttls(context=ctx)
        c.ehlo()
        code, msg = c.docmd("MAIL", "FROM:<fimguard@localhost>")
        assert code == 530 and b"Authentication required" in msg, (code, msg)


def test_wrong_password_is_535(smtp_double, ctx):
    d = smtp_double(mode="starttls")
    with connect(d) as c:
        c.starttls(context=ctx)
        with pytest.raises(smtplib.SMTPAuthenticationError) as ei:
            c.login("fimguard", "wrong")
        assert ei.value.smtp_code == 535
    assert d.auth_attempts and not any(a["ok"] for a in d.auth_attempts)
    assert d.messages == []


def test_starttls_bad_cert_fails_verification(smtp_double, ctx):
    d = smtp_double(mode="starttls", cert="bad")
    with connect(d) as c:
        with pytest.raises(ssl.SSLCertVerificationError):
            c.starttls(context=ctx)


def test_no_users_means_no_auth_needed(smtp_double, ctx):
    d = smtp_double(mode="starttls", users={})
    with connect(d) as c:
        c.starttls(context=ctx)
        c.sendmail("a@localhost", ["b@example.org"], MSG)
    assert d.wait_for_messages(1, timeout=T)[0]["auth_user"] is None


# ---------------------------------------------------------------- STARTTLS optional

def test_starttls_optional_accepts_mail_in_clear_but_not_auth(smtp_double, ctx):
    d = smtp_double(mode="starttls-optional", users={})
    with connect(d) as c:
        c.ehlo()
        assert c.has_extn("starttls")
        code, msg = c.docmd("AUTH", "PLAIN " + plain_auth("fimguard", "s3cret"))
        assert code == 538, (code, msg)   # auth_require_tls
        c.sendmail("a@localhost", ["b@example.org"], MSG)
    m = d.wait_for_messages(1, timeout=T)[0]
    assert m["tls"] is False and m["auth_user"] is None


def test_starttls_optional_with_users_still_needs_tls_for_auth(smtp_double, ctx):
    d = smtp_double(mode="starttls-optional")
    with connect(d) as c:
        c.ehlo()
        assert c.docmd("MAIL", "FROM:<a@localhost>")[0] == 530   # auth required
        c.starttls(context=ctx)
        c.login("fimguard", "s3cret")
        c.sendmail("a@localhost", ["b@example.org"], MSG)
    m = d.wait_for_messages(1, timeout=T)[0]
    assert m["tls"] is True and m["auth_user"] == "fimguard"


# ---------------------------------------------------------------- implicit TLS

def test_smtps_with_ca_works(smtp_double, ctx):
    d = smtp_double(mode="smtps")
    assert d.url == f"smtps://localhost:{d.port}"
    with connect(d, ctx) as c:
        c.ehlo()
        assert not c.has_extn("starttls")
        assert c.has_extn("auth")
        c.login("fimguard", "s3cret")
        c.sendmail("fimguard@localhost", ["ops@example.org"], MSG)
    m = d.wait_for_messages(1, timeout=T)[0]
    assert m["tls"] is True and m["auth_user"] == "fimguard" and m["data"] == MSG
    assert d.sessions == 1


def test_smtps_bad_cert_fails_verification(smtp_double, ctx):
    d = smtp_double(mode="smtps", cert="bad")
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(d, ctx)
    assert d.messages == []


def test_smtps_wrong_password_is_535(smtp_double, ctx):
    d = smtp_double(mode="smtps")
    with connect(d, ctx) as c:
        with pytest.raises(smtplib.SMTPAuthenticationError) as ei:
            c.login("fimguard", "nope")
        assert ei.value.smtp_code == 535


# ---------------------------------------------------------------- plain

def test_plain_has_no_starttls(smtp_double, ctx):
    d = smtp_double(mode="plain")
    assert d.url == f"smtp://localhost:{d.port}"
    with connect(d) as c:
        c.ehlo()
        assert not c.has_extn("starttls")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            c.starttls(context=ctx)
        assert c.docmd("STARTTLS")[0] == 454   # "TLS not available"
    assert d.auth_attempts == []


def test_plain_records_cleartext_auth(smtp_double):
    # the double lets a careless client authenticate in the clear and tells on it
    d = smtp_double(mode="plain")
    with connect(d) as c:
        c.login("fimguard", "s3cret")
        c.sendmail("a@localhost", ["b@example.org"], MSG)
    assert d.auth_attempts[0]["tls"] is False
    assert d.wait_for_messages(1, timeout=T)[0]["tls"] is False


# ---------------------------------------------------------------- fail_next

def test_fail_next_data_then_success(smtp_double, ctx):
    d = smtp_double(mode="starttls")
    d.fail_next("451 4.3.0 try later")
    with connect(d) as c:
        c.starttls(context=ctx)
        c.login("fimguard", "s3cret")
        with pytest.raises(smtplib.SMTPDataError) as ei:
            c.sendmail("a@localhost", ["b@example.org"], MSG)
        assert ei.value.smtp_code == 451 and b"try later" in ei.value.smtp_error
        c.sendmail("a@localhost", ["b@example.org"], MSG)   # next one goes through
    assert len(d.wait_for_messages(1, timeout=T)) == 1
    assert [r["stage"] for r in d.rejected] == ["DATA"]


def test_fail_next_count_and_int_code(smtp_double):
    d = smtp_double(mode="plain", users={})
    d.fail_next(554, count=2)
    for expect in (554, 554, None):
        with connect(d) as c:
            if expect is None:
                c.sendmail("a@localhost", ["b@example.org"], MSG)
            else:
                with pytest.raises(smtplib.SMTPDataError) as ei:
                    c.sendmail("a@localhost", ["b@example.org"], MSG)
                assert ei.value.smtp_code == expect
    assert len(d.messages) == 1 and d.sessions == 3


def test_fail_next_rcpt(smtp_double, ctx):
    d = smtp_double(mode="starttls")
    d.fail_next("550 5.1.1 no such user", on="RCPT")
    with connect(d) as c:
        c.starttls(context=ctx)
        c.login("fimguard", "s3cret")
        with pytest.raises(smtplib.SMTPRecipientsRefused) as ei:
            c.sendmail("a@localhost", ["nobody@example.org"], MSG)
        assert ei.value.recipients["nobody@example.org"][0] == 550
    assert d.messages == []
    assert d.rejected[0]["stage"] == "RCPT" and d.rejected[0]["rcpt_tos"] == ["nobody@example.org"]


# ---------------------------------------------------------------- lifecycle

@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_smtp_stop_start_same_port(smtp_double, ctx, mode):
    d = smtp_double(mode=mode)
    port = d.port
    with connect(d, ctx) as c:
        if mode == "starttls":
            c.starttls(context=ctx)
        c.login("fimguard", "s3cret")
        c.sendmail("a@localhost", ["b@example.org"], MSG)
    d.stop()
    assert refused(port)
    d.stop()                        # idempotent
    d.start()
    assert d.port == port
    with connect(d, ctx) as c:
        if mode == "starttls":
            c.starttls(context=ctx)
        c.login("fimguard", "s3cret")
        c.sendmail("a@localhost", ["b@example.org"], MSG)
    assert len(d.wait_for_messages(2, timeout=T)) == 2    # kept across the restart
    assert d.sessions == 2


def test_smtp_stop_with_client_still_connected(smtp_double):
    d = smtp_double(mode="starttls")
    c = connect(d)
    c.ehlo()
    t0 = time.monotonic()
    d.stop()
    assert time.monotonic() - t0 < 3
    # the session was dropped: the client sees the connection closed
    with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError)):
        c.noop()
    c.close()
    d.start()
    with connect(d) as c2:
        assert c2.noop()[0] == 250


# ---------------------------------------------------------------- webhook

def post(url, obj, ctx=None, headers=None):
    req = urllib.request.Request(url, data=json.dumps(obj).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    return urllib.request.urlopen(req, timeout=T, context=ctx)


def test_webhook_https_records_json(hook_double, ctx):
    h = hook_double(tls=True)
    assert h.url == f"https://localhost:{h.port}/hook"
    with post(h.url, {"event": {"action": "modified"}}, ctx, {"X-Token": "abc"}) as r:
        assert r.status == 200
        assert json.loads(r.read()) == {"ok": True}
    (rq,) = h.wait_for_requests(1, timeout=T)
    assert rq["method"] == "POST" and rq["path"] == "/hook" and rq["tls"] is True
    assert rq["headers"]["content-type"] == "application/json"
    assert rq["headers"]["x-token"] == "abc"
    assert rq["json"] == {"event": {"action": "modified"}}
    assert json.loads(rq["body"]) == rq["json"]
    assert rq["status"] == 200


def test_webhook_http_and_non_json_body(hook_double):
    h = hook_double()
    assert h.url == f"http://localhost:{h.port}/hook"
    req = urllib.request.Request(h.url, data=b"not json", method="PUT")
    with urllib.request.urlopen(req, timeout=T) as r:
        assert r.status == 200
    rq = h.requests[0]
    assert rq["body"] == b"not json" and rq["json"] is None and rq["tls"] is False


def test_webhook_fail_next_with_retry_after(hook_double, ctx):
    h = hook_double(tls=True)
    h.fail_next(503, count=2, retry_after=7)
    for _ in range(2):
        with pytest.raises(urllib.error.HTTPError) as ei:
            post(h.url, {"n": 1}, ctx)
        assert ei.value.code == 503
        assert ei.value.headers["Retry-After"] == "7"
        ei.value.close()
    h.fail_next(429)
    with pytest.raises(urllib.error.HTTPError) as ei:
        post(h.url, {"n": 2}, ctx)
    assert ei.value.code == 429 and ei.value.headers["Retry-After"] is None
    ei.value.close()
    with post(h.url, {"n": 3}, ctx) as r:
        assert r.status == 200
    assert [q["status"] for q in h.requests] == [503, 503, 429, 200]
    assert [q["json"]["n"] for q in h.requests] == [1, 1, 2, 3]


def test_webhook_bad_cert_fails_verification(hook_double, ctx):
    h = hook_double(tls=True, cert="bad")
    with pytest.raises(urllib.error.URLError) as ei:
        post(h.url, {"x": 1}, ctx)
    assert isinstance(ei.value.reason, ssl.SSLCertVerificationError)
    assert h.requests == []


def test_webhook_stop_start_same_port(hook_double, ctx):
    h = hook_double(tls=True)
    port = h.port
    with post(h.url, {"n": 1}, ctx):
        pass
    h.stop()
    assert refused(port)
    with pytest.raises(urllib.error.URLError):
        post(h.url, {"n": 2}, ctx)
    h.start()
    assert h.port == port
    with post(h.url, {"n": 3}, ctx) as r:
        assert r.status == 200
    assert [q["json"]["n"] for q in h.requests] == [1, 3]


def test_webhook_concurrent_requests(hook_double):
    # ThreadingHTTPServer: a client that connects and says nothing does not block others
    h = hook_double()
    idle = socket.create_connection(("127.0.0.1", h.port), timeout=T)
    try:
        errs = []

        def one(i):
            try:
                with post(h.url, {"i": i}) as r:
                    assert r.status == 200
            except Exception as e:  # reported below, in the test thread
                errs.append(e)
        ts = [threading.Thread(target=one, args=(i,)) for i in range(5)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(T)
        assert not errs
        assert sorted(q["json"]["i"] for q in h.wait_for_requests(5, timeout=T)) == list(range(5))
    finally:
        idle.close()
