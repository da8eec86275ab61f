"""Tests of the Jira double itself (jira_double.py), not of fimguard.

The double is only useful if it is as strict as real Jira, so most tests
here are tables of requests real Jira rejects, each with the exact status
and the error key a client would see.  No fimguard binary is needed (no
`fim` fixture), so these never skip."""

import base64
import http.client
import json
import socket
import urllib.error
import urllib.request

import pytest

from jira_double import (JiraDouble, MSG_NO_ISSUE, MSG_NOT_ADF, MSG_NOT_STRING,
                         MSG_TOO_LONG, MSG_UNAUTHENTICATED)

USER = "secops@example.com"
TOKEN = "tok-123"
PROJECTS = {"SEC": ["Task", "Bug"], "OPS": ["Task"]}

# Never go through a proxy from the environment: the double is on loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def basic(user=USER, token=TOKEN):
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def bearer(token=TOKEN):
    return "Bearer " + token


def good_auth(j):
    return basic() if j.api == 3 else bearer()


def call(j, method, path, body=None, *, auth="good", ctype="application/json", raw=None):
    """One request through urllib; returns (status, headers, parsed JSON or None).
    Note urllib itself adds a form Content-Type to a body without one, so
    'no Content-Type at all' is tested with http.client (raw_call)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {}
    if auth == "good":
        auth = good_auth(j)
    if auth is not None:
        headers["Authorization"] = auth
    if data is not None and ctype is not None:
        headers["Content-Type"] = ctype
    req = urllib.request.Request(j.url + path, data=data, method=method, headers=headers)
    try:
        with _OPENER.open(req, timeout=10) as r:
            status, hdrs, payload = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, payload = e.code, e.headers, e.read()
    return status, hdrs, (json.loads(payload) if payload else None)


def raw_call(j, method, path, headers, body=None, **kw):
    """One request through http.client, with exactly these headers."""
    conn = http.client.HTTPConnection("127.0.0.1", j.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers, **kw)
        r = conn.getresponse()
        payload = r.read()
        return r.status, r.headers, (json.loads(payload) if payload else None)
    finally:
        conn.close()


def v(j):
    return f"/rest/api/{j.api}"


def search_path(j):
    return f"{v(j)}/search/jql" if j.api == 3 else f"{v(j)}/search"


# ---- ADF builders ---------------------------------------------------------

def doc(*blocks):
    return {"type": "doc", "version": 1, "content": list(blocks)}


def para(*inline):
    return {"type": "paragraph", "content": list(inline)}


def text(t, *marks):
    node = {"type": "text", "text": t}
    if marks:
        node["marks"] = [m if isinstance(m, dict) else {"type": m} for m in marks]
    return node


def item(*blocks):
    return {"type": "listItem", "content": list(blocks)}


def rich(j, s):
    """Valid rich text for the double's api."""
    return doc(para(text(s))) if j.api == 3 else s


DROP = object()


def fields(**over):
    f = {"project": {"key": "SEC"}, "issuetype": {"name": "Task"},
         "summary": "fimguard: /etc/passwd modified on host-a"}
    for k, val in over.items():
        if val is DROP:
            f.pop(k, None)
        else:
            f[k] = val
    return f


def create(j, **over):
    status, _, body = call(j, "POST", f"{v(j)}/issue", {"fields": fields(**over)})
    assert status == 201, body
    return body


# ---- fixtures -------------------------------------------------------------

def _double(api):
    return JiraDouble(api=api, user=USER if api == 3 else None, token=TOKEN, projects=PROJECTS)


@pytest.fixture
def j3():
    with _double(3) as j:
        yield j
    assert not j.internal_errors, j.internal_errors[0]


@pytest.fixture
def j2():
    with _double(2) as j:
        yield j
    assert not j.internal_errors, j.internal_errors[0]


@pytest.fixture(params=[2, 3], ids=["v2", "v3"])
def jd(request):
    with _double(request.param) as j:
        yield j
    assert not j.internal_errors, j.internal_errors[0]


# ---- construction ---------------------------------------------------------

@pytest.mark.parametrize("kw", [
    dict(api=4, user=USER, token=TOKEN),
    dict(api=3, user=None, token=TOKEN),      # Cloud Basic auth needs an email
    dict(api=2, user=USER, token=TOKEN),      # DC PATs are Bearer only
    dict(api=3, user=USER, token=""),
    dict(api=3, user=USER, token=TOKEN, projects={"sec": ["Task"]}),
], ids=["api4", "v3-no-user", "v2-with-user", "no-token", "bad-project-key"])
def test_constructor_rejects(kw):
    with pytest.raises(ValueError):
        JiraDouble(**kw)


# ---- authentication -------------------------------------------------------

BAD_AUTH_V3 = {
    "none": None,
    "bearer-token": bearer(),
    "wrong-token": basic(token="tok-124"),
    "wrong-user": basic(user="other@example.com"),
    "no-colon": "Basic " + base64.b64encode(USER.encode()).decode(),
    "not-base64": "Basic !!!",
    "empty-basic": "Basic ",
    "token-scheme": "Token " + TOKEN,
    "bare-token": TOKEN,
}
BAD_AUTH_V2 = {
    "none": None,
    "basic": "Basic " + base64.b64encode(f"admin:{TOKEN}".encode()).decode(),
    "basic-empty-user": "Basic " + base64.b64encode(f":{TOKEN}".encode()).decode(),
    "wrong-token": bearer("tok-124"),
    "empty-bearer": "Bearer ",
    "token-scheme": "Token " + TOKEN,
    "bare-token": TOKEN,
}


@pytest.mark.parametrize("api,auth", [(3, a) for a in BAD_AUTH_V3.values()]
                         + [(2, a) for a in BAD_AUTH_V2.values()],
                         ids=[f"v3-{k}" for k in BAD_AUTH_V3] + [f"v2-{k}" for k in BAD_AUTH_V2])
@pytest.mark.parametrize("method,path,body", [
    ("GET", "/issue/SEC-1", None),
    ("POST", "/issue", {"fields": fields()}),
    ("GET", "/nonexistent", None),   # auth comes before routing
], ids=["get", "create", "unknown-path"])
def test_bad_auth_is_401(api, auth, method, path, body):
    with _double(api) as j:
        status, hdrs, resp = call(j, method, v(j) + path, body, auth=auth)
        assert status == 401
        assert resp == {"errorMessages": [MSG_UNAUTHENTICATED], "errors": {}}
        assert hdrs["WWW-Authenticate"]
        assert not j.issues


@pytest.mark.parametrize("api,auth", [
    (3, basic()),
    (3, "basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()),  # scheme is case-insensitive
    (2, bearer()),
], ids=["v3-basic", "v3-lowercase-scheme", "v2-bearer"])
def test_good_auth(api, auth):
    with _double(api) as j:
        status, _, resp = call(j, "GET", v(j) + "/issue/SEC-1", auth=auth)
        assert status == 404 and resp["errorMessages"] == [MSG_NO_ISSUE]


# ---- routing --------------------------------------------------------------

ROUTES_V3 = [
    ("GET", "/rest/api/2/issue/SEC-1", 404),        # wrong api version
    ("POST", "/rest/api/2/issue", 404),
    ("GET", "/rest/api/2/search?jql=project%3DSEC", 404),
    ("GET", "/rest/api/latest/issue/SEC-1", 404),
    ("GET", "/rest/api/3/search?jql=project%3DSEC", 410),   # removed by Atlassian
    ("POST", "/rest/api/3/search", 410),
    ("DELETE", "/rest/api/3/search", 405),
    ("GET", "/rest/api/3/search/jql/", 404),
    ("GET", "/rest/api/3/myself", 404),
    ("GET", "/rest/agile/1.0/board", 404),
    ("GET", "/", 404),
    ("GET", "/rest/api/3/issue", 405),
    ("PUT", "/rest/api/3/issue/SEC-1", 405),
    ("DELETE", "/rest/api/3/issue/SEC-1", 405),
    ("GET", "/rest/api/3/issue/SEC-1/comment", 405),
    ("PATCH", "/rest/api/3/search/jql", 405),
]
ROUTES_V2 = [
    ("GET", "/rest/api/3/issue/SEC-1", 404),
    ("POST", "/rest/api/3/issue", 404),
    ("GET", "/rest/api/2/search/jql?jql=project%3DSEC", 404),   # Cloud-only endpoint
    ("POST", "/rest/api/3/search/jql", 404),
    ("DELETE", "/rest/api/2/search", 405),
    ("GET", "/rest/api/2/issue", 405),
    ("PUT", "/rest/api/2/issue/SEC-1", 405),
]


@pytest.mark.parametrize("api,method,path,expect",
                         [(3, *r) for r in ROUTES_V3] + [(2, *r) for r in ROUTES_V2],
                         ids=[f"v3-{m}-{p}" for m, p, _ in ROUTES_V3] + [f"v2-{m}-{p}" for m, p, _ in ROUTES_V2])
def test_routes(api, method, path, expect):
    with _double(api) as j:
        body = {"jql": "project = SEC"} if method in ("POST", "PUT", "PATCH") else None
        status, hdrs, resp = call(j, method, path, body)
        assert status == expect, resp
        assert resp["errorMessages"] and resp["errors"] == {}
        if expect == 410:
            assert "/rest/api/3/search/jql" in resp["errorMessages"][0]
        if expect == 405:
            assert hdrs["Allow"]


def test_head_gets_no_body(j3):
    status, hdrs, resp = raw_call(j3, "HEAD", "/rest/api/3/issue/SEC-1",
                                  {"Authorization": basic()})
    assert status == 405 and resp is None and int(hdrs["Content-Length"]) > 0


# ---- content type and body parsing ----------------------------------------

@pytest.mark.parametrize("ctype,expect", [
    (None, 415),
    ("text/plain", 415),
    ("application/x-www-form-urlencoded", 415),
    ("application/jsonp", 415),
    ("application/json; charset=ISO-8859-1", 415),
    ("application/json", 201),
    ("application/json;charset=UTF-8", 201),
    ("Application/JSON; charset=utf-8", 201),
])
def test_content_type(jd, ctype, expect):
    headers = {"Authorization": good_auth(jd)}
    if ctype is not None:
        headers["Content-Type"] = ctype
    status, _, resp = raw_call(jd, "POST", f"{v(jd)}/issue", headers,
                               json.dumps({"fields": fields()}).encode())
    assert status == expect, resp
    assert len(jd.issues) == (1 if expect == 201 else 0)
    if expect == 415:
        assert resp["errorMessages"] and resp["errors"] == {}


@pytest.mark.parametrize("path", ["/issue/SEC-1/comment", "SEARCH"])
def test_content_type_checked_on_every_post(jd, path):
    if path == "/issue/SEC-1/comment":
        create(jd)
    url = search_path(jd) if path == "SEARCH" else v(jd) + path
    status, _, _ = call(jd, "POST", url, raw=b'{"jql": "project = SEC"}', ctype="text/plain")
    assert status == 415


@pytest.mark.parametrize("raw", [
    b"not json",
    b"",
    b"[]",
    b'"fields"',
    b'{"fields": {"summary": NaN}}',
    b'{"fields": ',
    b"\xff\xfe{}",
], ids=["garbage", "empty", "array", "string", "nan", "truncated", "bad-utf8"])
def test_body_must_be_a_json_object(jd, raw):
    status, _, resp = call(jd, "POST", f"{v(jd)}/issue", raw=raw)
    assert status == 400
    assert resp["errorMessages"] and resp["errors"] == {}
    assert not jd.issues


@pytest.mark.parametrize("body", [
    {"fields": fields(), "extra": 1},
    {"fields": fields(), "transition": {"id": "31"}},
    {"fields": fields(), "update": {"labels": [{"add": "x"}]}},
    {"fields": fields(), "update": []},
    {"fields": []},
    {"fields": "SEC"},
], ids=["extra-key", "transition", "update-ops", "update-not-object", "fields-array", "fields-string"])
def test_create_rejects_bad_top_level(jd, body):
    status, _, resp = call(jd, "POST", f"{v(jd)}/issue", body)
    assert status == 400
    assert resp["errorMessages"] and resp["errors"] == {}
    assert not jd.issues


def test_create_accepts_empty_update(jd):
    status, _, _ = call(jd, "POST", f"{v(jd)}/issue", {"fields": fields(), "update": {}})
    assert status == 201


# ---- create: field validation ---------------------------------------------

UNKNOWN_FIELD = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."

CREATE_BAD = [
    # id, field overrides, {error key: exact message or None}
    ("no-fields", None, {"project": "Specify a valid project ID or key",
                         "issuetype": "Specify an issue type",
                         "summary": "You must specify a summary of the issue."}),
    ("no-summary", dict(summary=DROP), {"summary": "You must specify a summary of the issue."}),
    ("empty-summary", dict(summary=""), {"summary": "You must specify a summary of the issue."}),
    ("blank-summary", dict(summary="   "), {"summary": "You must specify a summary of the issue."}),
    ("null-summary", dict(summary=None), {"summary": "You must specify a summary of the issue."}),
    ("int-summary", dict(summary=5), {"summary": "You must specify a summary of the issue."}),
    ("long-summary", dict(summary="x" * 256), {"summary": "Summary must be less than 255 characters."}),
    ("lf-summary", dict(summary="a\nb"),
     {"summary": "The summary is invalid because it contains newline characters."}),
    ("cr-summary", dict(summary="a\rb"),
     {"summary": "The summary is invalid because it contains newline characters."}),
    ("no-project", dict(project=DROP), {"project": "Specify a valid project ID or key"}),
    ("unknown-project", dict(project={"key": "NOPE"}), {"project": "Specify a valid project ID or key"}),
    ("lowercase-project", dict(project={"key": "sec"}), {"project": "Specify a valid project ID or key"}),
    ("project-string", dict(project="SEC"), {"project": "Specify a valid project ID or key"}),
    ("unknown-project-id", dict(project={"id": "99999"}), {"project": "Specify a valid project ID or key"}),
    ("no-issuetype", dict(issuetype=DROP), {"issuetype": "Specify an issue type"}),
    ("issuetype-not-configured", dict(issuetype={"name": "Epic"}), {"issuetype": "Specify a valid issue type"}),
    ("issuetype-other-project", dict(project={"key": "OPS"}, issuetype={"name": "Bug"}),
     {"issuetype": "Specify a valid issue type"}),
    ("issuetype-string", dict(issuetype="Task"), {"issuetype": "Specify a valid issue type"}),
    ("issuetype-bad-id", dict(issuetype={"id": "424242"}), {"issuetype": "Specify a valid issue type"}),
    ("labels-string", dict(labels="fimguard"), {"labels": None}),
    ("label-space", dict(labels=["ok", "has space"]),
     {"labels": "The label 'has space' contains spaces which is invalid."}),
    ("label-tab", dict(labels=["a\tb"]), {"labels": None}),
    ("label-newline", dict(labels=["a\nb"]), {"labels": None}),
    ("label-empty", dict(labels=[""]), {"labels": None}),
    ("label-int", dict(labels=[1]), {"labels": None}),
    ("label-too-long", dict(labels=["x" * 256]), {"labels": None}),
    ("priority-unknown-name", dict(priority={"name": "Urgent"}), {"priority": None}),
    ("priority-lowercase", dict(priority={"name": "high"}), {"priority": None}),
    ("priority-string", dict(priority="High"), {"priority": None}),
    ("priority-bad-id", dict(priority={"id": "42"}), {"priority": None}),
    ("assignee", dict(assignee={"accountId": "abc"}), {"assignee": UNKNOWN_FIELD.format("assignee")}),
    ("customfield", dict(customfield_10010="x"), {"customfield_10010": UNKNOWN_FIELD.format("customfield_10010")}),
    ("components", dict(components=[{"name": "fim"}]), {"components": UNKNOWN_FIELD.format("components")}),
    ("all-at-once", dict(summary="", labels=["a b"], duedate="2030-01-01", priority={"name": "P1"}),
     {"summary": None, "labels": None, "duedate": None, "priority": None}),
]


@pytest.mark.parametrize("over,expect", [(o, e) for _, o, e in CREATE_BAD], ids=[i for i, _, _ in CREATE_BAD])
def test_create_rejects_bad_fields(jd, over, expect):
    f = {} if over is None else fields(**over)
    status, _, resp = call(jd, "POST", f"{v(jd)}/issue", {"fields": f})
    assert status == 400, resp
    assert resp["errorMessages"] == []
    assert set(resp["errors"]) == set(expect), resp
    for key, message in expect.items():
        assert isinstance(resp["errors"][key], str) and resp["errors"][key]
        if message is not None:
            assert resp["errors"][key] == message
    assert not jd.issues
    assert jd.requests[-1]["status"] == 400


def test_create_good_v3(j3):
    description = doc(
        {"type": "heading", "attrs": {"level": 2}, "content": [text("Integrity violation")]},
        para(text("File "), text("/etc/passwd", "code"), text(" was "), text("modified", "strong", "em"),
             {"type": "hardBreak"}, text("see "),
             text("runbook", {"type": "link", "attrs": {"href": "https://example.com/rb", "title": "rb"}})),
        {"type": "codeBlock", "attrs": {"language": "diff"}, "content": [text("-a\n+b\n")]},
        {"type": "bulletList", "content": [item(para(text("old sha256 ab"))),
                                           item(para(text("new sha256 cd")),
                                                {"type": "orderedList", "content": [item(para(text("n")))]})]},
        {"type": "rule"},
        {"type": "paragraph"},
    )
    body = {"fields": fields(description=description, labels=["fimguard", "host-a", "sha:ab12"],
                             priority={"name": "High"}, summary="s" * 255)}
    status, _, resp = call(j3, "POST", "/rest/api/3/issue", body)
    assert status == 201, resp
    assert resp == {"id": "10001", "key": "SEC-1", "self": f"{j3.url}/rest/api/3/issue/10001"}
    issue = j3.issues["SEC-1"]
    assert issue["id"] == "10001" and issue["key"] == "SEC-1"
    assert issue["fields"]["description"] == description
    assert issue["fields"]["labels"] == ["fimguard", "host-a", "sha:ab12"]
    assert issue["fields"]["priority"]["name"] == "High"
    assert issue["fields"]["summary"] == "s" * 255
    assert issue["comments"] == [] and issue["resolved"] is False
    rec = j3.requests[-1]
    assert rec["json"] == body and rec["status"] == 201


def test_create_good_v2(j2):
    body = {"fields": fields(description="h2. Integrity violation\n{code}-a\n+b{code}",
                             labels=["fimguard"], priority={"id": "1"})}
    status, _, resp = call(j2, "POST", "/rest/api/2/issue", body)
    assert status == 201, resp
    assert resp == {"id": "10001", "key": "SEC-1", "self": f"{j2.url}/rest/api/2/issue/10001"}
    assert j2.issues["SEC-1"]["fields"]["description"].startswith("h2.")
    assert j2.issues["SEC-1"]["fields"]["priority"]["name"] == "Highest"


def test_create_by_ids_and_numbering(jd):
    # Keys count per project, ids globally.
    assert create(jd)["key"] == "SEC-1"
    assert create(jd, project={"id": jd.projects["SEC"]["id"]},
                  issuetype={"id": jd.issue_types["Bug"]})["key"] == "SEC-2"
    ops = create(jd, project={"key": "OPS"})
    assert ops["key"] == "OPS-1" and ops["id"] == "10003"
    assert create(jd)["key"] == "SEC-3"
    assert [jd.issues[k]["id"] for k in ("SEC-1", "SEC-2", "OPS-1", "SEC-3")] == \
        ["10001", "10002", "10003", "10004"]
    assert jd.issues["SEC-2"]["fields"]["issuetype"]["name"] == "Bug"


def test_chunked_body_is_accepted(jd):
    # Clients that stream bodies (curl with a read callback) send chunked.
    payload = json.dumps({"fields": fields()}).encode()
    status, _, resp = raw_call(jd, "POST", f"{v(jd)}/issue",
                               {"Authorization": good_auth(jd), "Content-Type": "application/json",
                                "Transfer-Encoding": "chunked"},
                               iter([payload[:10], payload[10:]]), encode_chunked=True)
    assert status == 201, resp
    assert jd.requests[-1]["body"] == payload


# ---- rich text ------------------------------------------------------------

BAD_ADF = [
    ("plain-string", "File modified"),
    ("empty-string", ""),
    ("list", [para(text("x"))]),
    ("no-content", {"type": "doc", "version": 1}),
    ("no-version", {"type": "doc", "content": []}),
    ("version-2", {"type": "doc", "version": 2, "content": []}),
    ("version-true", {"type": "doc", "version": True, "content": []}),
    ("version-string", {"type": "doc", "version": "1", "content": []}),
    ("type-document", {"type": "document", "version": 1, "content": []}),
    ("doc-extra-key", {"type": "doc", "version": 1, "content": [], "attrs": {}}),
    ("content-not-list", {"type": "doc", "version": 1, "content": para(text("x"))}),
    ("node-not-object", doc("text")),
    ("node-no-type", doc({"content": []})),
    ("unknown-block", doc({"type": "table", "content": []})),
    ("panel", doc({"type": "panel", "attrs": {"panelType": "info"}, "content": [para(text("x"))]})),
    ("text-at-top", doc(text("x"))),
    ("hardbreak-at-top", doc({"type": "hardBreak"})),
    ("block-in-paragraph", doc(para(para(text("x"))))),
    ("list-in-paragraph", doc(para({"type": "bulletList", "content": [item(para(text("x")))]}))),
    ("empty-text", doc(para(text("")))),
    ("text-missing", doc(para({"type": "text"}))),
    ("text-not-string", doc(para({"type": "text", "text": 5}))),
    ("text-extra-key", doc(para({"type": "text", "text": "x", "attrs": {}}))),
    ("mention", doc(para({"type": "mention", "attrs": {"id": "abc"}}))),
    ("emoji", doc(para({"type": "emoji", "attrs": {"shortName": ":x:"}}))),
    ("unknown-mark", doc(para(text("x", "bold")))),
    ("marks-not-list", doc(para({"type": "text", "text": "x", "marks": {"type": "strong"}}))),
    ("duplicate-mark", doc(para(text("x", "strong", "strong")))),
    ("link-no-attrs", doc(para(text("x", "link")))),
    ("link-no-href", doc(para(text("x", {"type": "link", "attrs": {}})))),
    ("link-empty-href", doc(para(text("x", {"type": "link", "attrs": {"href": ""}})))),
    ("strong-with-attrs", doc(para(text("x", {"type": "strong", "attrs": {}})))),
    ("code-with-strong", doc(para(text("x", "code", "strong")))),
    ("paragraph-attrs", doc({"type": "paragraph", "attrs": {"x": 1}, "content": []})),
    ("paragraph-extra-key", doc({"type": "paragraph", "content": [], "text": "x"})),
    ("paragraph-content-object", doc({"type": "paragraph", "content": text("x")})),
    ("heading-no-attrs", doc({"type": "heading", "content": [text("x")]})),
    ("heading-level-0", doc({"type": "heading", "attrs": {"level": 0}, "content": []})),
    ("heading-level-7", doc({"type": "heading", "attrs": {"level": 7}, "content": []})),
    ("heading-level-string", doc({"type": "heading", "attrs": {"level": "1"}, "content": []})),
    ("heading-extra-attr", doc({"type": "heading", "attrs": {"level": 1, "id": "x"}, "content": []})),
    ("heading-block-content", doc({"type": "heading", "attrs": {"level": 1}, "content": [para()]})),
    ("codeblock-marks", doc({"type": "codeBlock", "content": [text("x", "strong")]})),
    ("codeblock-hardbreak", doc({"type": "codeBlock", "content": [text("x"), {"type": "hardBreak"}]})),
    ("codeblock-paragraph", doc({"type": "codeBlock", "content": [para(text("x"))]})),
    ("codeblock-language-int", doc({"type": "codeBlock", "attrs": {"language": 5}, "content": []})),
    ("codeblock-extra-attr", doc({"type": "codeBlock", "attrs": {"wrap": True}, "content": []})),
    ("list-holds-paragraph", doc({"type": "bulletList", "content": [para(text("x"))]})),
    ("list-empty", doc({"type": "bulletList", "content": []})),
    ("list-no-content", doc({"type": "orderedList"})),
    ("orderedlist-order-negative", doc({"type": "orderedList", "attrs": {"order": -1},
                                        "content": [item(para(text("x")))]})),
    ("listitem-at-top", doc(item(para(text("x"))))),
    ("listitem-empty", doc({"type": "bulletList", "content": [item()]})),
    ("listitem-text", doc({"type": "bulletList", "content": [item(text("x"))]})),
    ("listitem-heading", doc({"type": "bulletList", "content": [
        item({"type": "heading", "attrs": {"level": 1}, "content": []})]})),
    ("listitem-starts-with-list", doc({"type": "bulletList", "content": [
        item({"type": "bulletList", "content": [item(para(text("x")))]})]})),
    ("rule-with-content", doc({"type": "rule", "content": []})),
    ("hardbreak-bad-attr", doc(para({"type": "hardBreak", "attrs": {"text": "x"}}))),
]

GOOD_ADF = [
    ("empty-doc", doc()),
    ("empty-paragraph", doc({"type": "paragraph"})),
    ("paragraph-empty-content", doc(para())),
    ("all-marks", doc(para(text("a", "strong", "em", "strike", "underline"),
                           text("b", "code", {"type": "link", "attrs": {"href": "https://x"}})))),
    ("empty-codeblock", doc({"type": "codeBlock"})),
    ("ordered-list-order", doc({"type": "orderedList", "attrs": {"order": 3},
                                "content": [item(para(text("x")))]})),
    ("item-codeblock", doc({"type": "bulletList", "content": [
        item({"type": "codeBlock", "content": [text("x")]}, para(text("y")))]})),
    ("hardbreak-attrs", doc(para(text("a"), {"type": "hardBreak", "attrs": {"text": "\n"}}, text("b")))),
]


@pytest.mark.parametrize("description", [d for _, d in BAD_ADF], ids=[i for i, _ in BAD_ADF])
def test_v3_description_must_be_adf(j3, description):
    status, _, resp = call(j3, "POST", "/rest/api/3/issue", {"fields": fields(description=description)})
    assert status == 400, resp
    assert resp == {"errorMessages": [], "errors": {"description": MSG_NOT_ADF}}
    assert j3.requests[-1]["reason"].startswith("ADF")
    assert not j3.issues


@pytest.mark.parametrize("description", [d for _, d in GOOD_ADF], ids=[i for i, _ in GOOD_ADF])
def test_v3_description_good_adf(j3, description):
    status, _, resp = call(j3, "POST", "/rest/api/3/issue", {"fields": fields(description=description)})
    assert status == 201, (resp, j3.requests[-1]["reason"])


@pytest.mark.parametrize("body", [d for _, d in BAD_ADF], ids=[i for i, _ in BAD_ADF])
def test_v3_comment_must_be_adf(j3, body):
    create(j3)
    status, _, resp = call(j3, "POST", "/rest/api/3/issue/SEC-1/comment", {"body": body})
    assert status == 400, resp
    expected = "Comment body can not be empty!" if body == "" else MSG_NOT_ADF
    assert resp == {"errorMessages": [], "errors": {"comment": expected}}
    assert j3.issues["SEC-1"]["comments"] == []


@pytest.mark.parametrize("description", [doc(para(text("x"))), {"text": "x"}, ["x"], 5, True],
                         ids=["adf", "object", "list", "int", "bool"])
def test_v2_description_must_be_string(j2, description):
    status, _, resp = call(j2, "POST", "/rest/api/2/issue", {"fields": fields(description=description)})
    assert status == 400
    assert resp == {"errorMessages": [], "errors": {"description": MSG_NOT_STRING}}


def test_text_length_limit(jd):
    ok = "x" * 32767
    too_long = "x" * 32768
    status, _, _ = call(jd, "POST", f"{v(jd)}/issue", {"fields": fields(description=rich(jd, ok))})
    assert status == 201
    status, _, resp = call(jd, "POST", f"{v(jd)}/issue", {"fields": fields(description=rich(jd, too_long))})
    assert status == 400 and resp["errors"] == {"description": MSG_TOO_LONG}
    status, _, resp = call(jd, "POST", f"{v(jd)}/issue/SEC-1/comment", {"body": rich(jd, too_long)})
    assert status == 400 and resp["errors"] == {"comment": MSG_TOO_LONG}


# ---- get issue ------------------------------------------------------------

def test_get_issue(jd):
    created = create(jd, labels=["fimguard"])
    for ref in ("SEC-1", created["id"]):
        status, _, resp = call(jd, "GET", f"{v(jd)}/issue/{ref}")
        assert status == 200
        assert resp["id"] == created["id"] and resp["key"] == "SEC-1" and resp["self"] == created["self"]
        assert resp["fields"]["labels"] == ["fimguard"]
        assert resp["fields"]["status"]["statusCategory"]["key"] == "new"
        assert resp["fields"]["comment"]["total"] == 0
    status, _, resp = call(jd, "GET", f"{v(jd)}/issue/SEC-1?fields=summary,labels")
    assert status == 200 and set(resp["fields"]) == {"summary", "labels"}
    status, _, resp = call(jd, "GET", f"{v(jd)}/issue/SEC-99")
    assert status == 404
    assert resp == {"errorMessages": [MSG_NO_ISSUE], "errors": {}}


# ---- comments -------------------------------------------------------------

def test_comment_good(jd):
    created = create(jd)
    body = rich(jd, "fimguard: still modified on host-a")
    status, _, resp = call(jd, "POST", f"{v(jd)}/issue/SEC-1/comment", {"body": body})
    assert status == 201, resp
    assert resp["id"] and resp["self"] == f"{created['self']}/comment/{resp['id']}"
    # by issue id too
    status, _, resp2 = call(jd, "POST", f"{v(jd)}/issue/{created['id']}/comment", {"body": body})
    assert status == 201 and resp2["id"] != resp["id"]
    assert jd.issues["SEC-1"]["comments"] == [body, body]
    status, _, issue = call(jd, "GET", f"{v(jd)}/issue/SEC-1")
    assert [c["body"] for c in issue["fields"]["comment"]["comments"]] == [body, body]


def test_comment_on_resolved_issue_is_allowed(jd):
    create(jd)
    jd.resolve("SEC-1")
    status, _, _ = call(jd, "POST", f"{v(jd)}/issue/SEC-1/comment", {"body": rich(jd, "again")})
    assert status == 201


@pytest.mark.parametrize("api,payload,status,errors", [
    (3, {"body": "plain string"}, 400, {"comment": MSG_NOT_ADF}),
    (3, {"body": doc(para(text("")))}, 400, {"comment": MSG_NOT_ADF}),
    (3, {}, 400, {"comment": "Comment body can not be empty!"}),
    (3, {"body": None}, 400, {"comment": "Comment body can not be empty!"}),
    (2, {"body": doc(para(text("x")))}, 400, {"comment": MSG_NOT_STRING}),
    (2, {"body": 5}, 400, {"comment": MSG_NOT_STRING}),
    (2, {"body": ""}, 400, {"comment": "Comment body can not be empty!"}),
    (2, {"body": "  \n"}, 400, {"comment": "Comment body can not be empty!"}),
    (2, {}, 400, {"comment": "Comment body can not be empty!"}),
    (2, {"body": "x", "author": "me"}, 400, {}),
    (3, {"body": doc(), "author": "me"}, 400, {}),
    (2, {"body": "x", "visibility": "internal"}, 400, {}),
], ids=["v3-string", "v3-bad-adf", "v3-missing", "v3-null", "v2-adf", "v2-int", "v2-empty",
        "v2-blank", "v2-missing", "v2-extra-key", "v3-extra-key", "v2-visibility-string"])
def test_comment_rejects(api, payload, status, errors):
    with _double(api) as j:
        create(j)
        got, _, resp = call(j, "POST", f"{v(j)}/issue/SEC-1/comment", payload)
        assert got == status, resp
        assert resp["errors"] == errors
        if not errors:
            assert resp["errorMessages"]
        assert j.issues["SEC-1"]["comments"] == []


def test_comment_unknown_issue(jd):
    for payload in ({"body": rich(jd, "x")}, {"body": 5}):  # existence is checked first
        status, _, resp = call(jd, "POST", f"{v(jd)}/issue/SEC-7/comment", payload)
        assert status == 404
        assert resp == {"errorMessages": [MSG_NO_ISSUE], "errors": {}}


# ---- search ---------------------------------------------------------------

def populate(j):
    create(j, labels=["fimguard", "host-a"])             # SEC-1
    create(j, labels=["fimguard", "host-b"])             # SEC-2 (resolved below)
    create(j, project={"key": "OPS"}, labels=["fimguard"])  # OPS-1
    create(j, labels=["other"])                           # SEC-3
    create(j, labels=['say"hi', "x.y"])                   # SEC-4
    j.resolve("SEC-2")
    return j


@pytest.fixture
def populated(jd):
    return populate(jd)


def search(j, jql, fields=("summary", "labels", "status"), how="GET", **extra):
    """Run a search both apis understand; returns (status, response)."""
    if how == "GET":
        from urllib.parse import urlencode
        params = {"jql": jql} if jql is not None else {}
        if fields is not None:
            params["fields"] = ",".join(fields)
        params.update(extra)
        status, _, resp = call(j, "GET", f"{search_path(j)}?{urlencode(params)}")
    else:
        body = {"jql": jql} if jql is not None else {}
        if fields is not None:
            body["fields"] = list(fields)
        body.update(extra)
        status, _, resp = call(j, "POST", search_path(j), body)
    return status, resp


SEARCHES = [
    ("project = SEC AND labels = fimguard AND statusCategory != Done", ["SEC-1"]),
    ("project = SEC AND labels = fimguard", ["SEC-2", "SEC-1"]),
    ("labels = fimguard", ["OPS-1", "SEC-2", "SEC-1"]),
    ("labels in (host-a, \"host-b\")", ["SEC-2", "SEC-1"]),
    ("labels IN ('host-a')", ["SEC-1"]),
    ("labels = fimguard and resolution = EMPTY", ["OPS-1", "SEC-1"]),
    ("labels = fimguard AND resolution is EMPTY ORDER BY created DESC", ["OPS-1", "SEC-1"]),
    ("labels = fimguard AND resolution IS empty order by created asc", ["SEC-1", "OPS-1"]),
    ("project = \"SEC\" AND statusCategory = Done", ["SEC-2"]),
    ("project = SEC AND statusCategory = \"To Do\"", ["SEC-4", "SEC-3", "SEC-1"]),
    ("project = sec and status != Done and labels = other", ["SEC-3"]),
    ("PROJECT = SEC AND STATUSCATEGORY != DONE AND LABELS = \"host-a\"", ["SEC-1"]),
    ("labels = \"say\\\"hi\"", ["SEC-4"]),
    ("labels = \"x.y\"", ["SEC-4"]),
    ("labels = 'say\"hi'", ["SEC-4"]),
    ("labels = \"\\u0078.y\"", ["SEC-4"]),
    ("labels = FIMGUARD", []),            # labels match exactly
    ("labels = nosuchlabel", []),
]


@pytest.mark.parametrize("how", ["GET", "POST"])
@pytest.mark.parametrize("jql,keys", SEARCHES, ids=[q for q, _ in SEARCHES])
def test_search(populated, how, jql, keys):
    j = populated
    status, resp = search(j, jql, how=how)
    assert status == 200, resp
    assert [i["key"] for i in resp["issues"]] == keys
    for i in resp["issues"]:
        assert set(i["fields"]) == {"summary", "labels", "status"}
        assert i["self"] == f"{j.url}{v(j)}/issue/{i['id']}"
        done = j.issues[i["key"]]["resolved"]
        assert i["fields"]["status"]["statusCategory"]["key"] == ("done" if done else "new")
    if j.api == 3:
        assert resp["isLast"] is True and "total" not in resp and "nextPageToken" not in resp
    else:
        assert resp["startAt"] == 0 and resp["maxResults"] == 50 and resp["total"] == len(keys)


BAD_JQL = [
    ("project = SEC OR labels = x", "Error in the JQL Query"),
    ("NOT labels = x", "Error in the JQL Query"),
    ("project ~ SEC", "Error in the JQL Query"),
    ("project == SEC", "Error in the JQL Query"),
    ("project = SEC AND", "Error in the JQL Query"),
    ("project = SEC AND AND labels = x", "Error in the JQL Query"),
    ("project = SEC labels = x", "Error in the JQL Query"),
    ("labels in ()", "Error in the JQL Query"),
    ("labels in (a, b", "Error in the JQL Query"),
    ("labels in a", "Error in the JQL Query"),
    ("labels != x", "Error in the JQL Query"),
    ("labels = and", "Error in the JQL Query"),
    ("labels = EMPTY", "Error in the JQL Query"),
    ("labels = \"unterminated", "Error in the JQL Query"),
    ("labels = \"bad\\escape\"", "Error in the JQL Query"),
    ("labels = x.y", "Error in the JQL Query"),
    ("labels = To Do", "Error in the JQL Query"),
    ("assignee = bob", "Error in the JQL Query"),
    ("summary ~ passwd", "Error in the JQL Query"),
    ("project in (SEC, OPS)", "Error in the JQL Query"),
    ("project != SEC", "Error in the JQL Query"),
    ("resolution = Done", "Error in the JQL Query"),
    ("resolution is not EMPTY", "Error in the JQL Query"),
    ("resolution != EMPTY", "Error in the JQL Query"),
    ("statusCategory in (Done)", "Error in the JQL Query"),
    ("ORDER BY created DESC", "Error in the JQL Query"),
    ("project = SEC ORDER BY key", "Error in the JQL Query"),
    ("project = SEC ORDER created", "Error in the JQL Query"),
    ("project = SEC ORDER BY created DESC extra", "Error in the JQL Query"),
    ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
    ("statusCategory = Closed", "The value 'Closed' does not exist for the field 'statusCategory'."),
    ("status != Resolved", "The value 'Resolved' does not exist for the field 'status'."),
]


@pytest.mark.parametrize("how", ["GET", "POST"])
@pytest.mark.parametrize("jql,prefix", BAD_JQL, ids=[q for q, _ in BAD_JQL])
def test_search_bad_jql(populated, how, jql, prefix):
    status, resp = search(populated, jql, how=how)
    assert status == 400, resp
    assert resp["errorMessages"][0].startswith(prefix), resp
    assert resp["errors"] == {}


@pytest.mark.parametrize("how", ["GET", "POST"])
@pytest.mark.parametrize("jql", [None, "", "   "], ids=["missing", "empty", "blank"])
def test_search_requires_jql(jd, how, jql):
    status, resp = search(jd, jql, how=how)
    assert status == 400 and resp["errorMessages"] and resp["errors"] == {}


@pytest.mark.parametrize("api,body", [
    (3, {"jql": "project = SEC", "startAt": 0}),        # v2 paging on the v3 endpoint
    (3, {"jql": "project = SEC", "fields": "summary"}),
    (3, {"jql": "project = SEC", "maxResults": "10"}),
    (3, {"jql": "project = SEC", "maxResults": 0}),
    (3, {"jql": ["project = SEC"]}),
    (3, {"jql": "project = SEC", "nextPageToken": "garbage"}),
    (2, {"jql": "project = SEC", "nextPageToken": "1"}),  # v3 paging on the v2 endpoint
    (2, {"jql": "project = SEC", "startAt": -1}),
    (2, {"jql": "project = SEC", "query": "x"}),
], ids=["v3-startAt", "v3-fields-string", "v3-max-string", "v3-max-0", "v3-jql-list",
        "v3-bad-token", "v2-token", "v2-negative-start", "v2-unknown-key"])
def test_search_post_rejects(api, body):
    with _double(api) as j:
        status, _, resp = call(j, "POST", search_path(j), body)
        assert status == 400 and resp["errorMessages"], resp


def test_search_v3_defaults_to_ids_only(j3):
    j = populate(j3)
    # Cloud's /search/jql returns only issue ids unless fields are requested.
    for how in ("GET", "POST"):
        status, resp = search(j, "labels = fimguard", fields=None, how=how)
        assert status == 200
        assert resp["issues"] == [{"id": j.issues[k]["id"]} for k in ("OPS-1", "SEC-2", "SEC-1")]
    status, resp = search(j, "labels = fimguard", fields=["key"])
    assert [i["key"] for i in resp["issues"]] == ["OPS-1", "SEC-2", "SEC-1"]
    assert all(i["fields"] == {} for i in resp["issues"])


def test_search_v3_pagination(j3):
    j = populate(j3)
    seen, token = [], None
    for _ in range(5):
        extra = {"maxResults": 2}
        if token:
            extra["nextPageToken"] = token
        status, resp = search(j, "project = SEC", fields=["key"], how="POST", **extra)
        assert status == 200
        seen += [i["key"] for i in resp["issues"]]
        if resp["isLast"]:
            assert "nextPageToken" not in resp
            break
        token = resp["nextPageToken"]
    assert seen == ["SEC-4", "SEC-3", "SEC-2", "SEC-1"]


def test_search_v2_defaults_and_paging(j2):
    j = populate(j2)
    status, resp = search(j, "project = SEC", fields=None, startAt="1", maxResults="2")
    assert status == 200
    assert resp["startAt"] == 1 and resp["maxResults"] == 2 and resp["total"] == 4
    assert [i["key"] for i in resp["issues"]] == ["SEC-3", "SEC-2"]
    # v2 defaults to all navigable fields
    assert {"summary", "labels", "status", "priority", "project"} <= set(resp["issues"][0]["fields"])
    status, resp = search(j, "project = SEC", fields=None, maxResults="0")
    assert status == 200 and resp["issues"] == [] and resp["total"] == 4


def test_resolve_hides_from_open_search(jd):
    create(jd, labels=["fimguard"])
    query = "project = SEC AND labels = fimguard AND statusCategory != Done"
    assert [i["key"] for i in search(jd, query)[1]["issues"]] == ["SEC-1"]
    jd.resolve("SEC-1")
    assert search(jd, query)[1]["issues"] == []
    assert jd.issues["SEC-1"]["resolved"] is True
    assert jd.issues["SEC-1"]["fields"]["status"]["statusCategory"]["key"] == "done"
    with pytest.raises(KeyError):
        jd.resolve("SEC-9")


# ---- fail_next ------------------------------------------------------------

def test_fail_next_with_retry_after(jd):
    jd.fail_next(429, count=2, retry_after=7)
    for _ in range(2):
        status, hdrs, resp = call(jd, "POST", f"{v(jd)}/issue", {"fields": fields()})
        assert status == 429
        assert hdrs["Retry-After"] == "7"
        assert resp["errorMessages"] and resp["errors"] == {}
    assert not jd.issues  # a failed create creates nothing
    status, hdrs, _ = call(jd, "POST", f"{v(jd)}/issue", {"fields": fields()})
    assert status == 201 and "Retry-After" not in hdrs
    assert [r["status"] for r in jd.requests] == [429, 429, 201]
    assert jd.requests[0]["json"] == {"fields": fields()}


@pytest.mark.parametrize("status", [400, 429, 500, 502, 503, 504])
def test_fail_next_statuses(jd, status):
    jd.fail_next(status)
    got, hdrs, resp = call(jd, "GET", f"{v(jd)}/issue/SEC-1")
    assert got == status and "Retry-After" not in hdrs and resp["errorMessages"]
    assert call(jd, "GET", f"{v(jd)}/issue/SEC-1")[0] == 404


def test_fail_next_precedes_everything_and_queues(jd):
    jd.fail_next(503, retry_after=1)
    jd.fail_next(429, retry_after="Wed, 21 Oct 2037 07:28:00 GMT")
    # even an unauthenticated request to a bogus path gets the injected failure
    status, hdrs, _ = call(jd, "GET", "/bogus", auth=None)
    assert status == 503 and hdrs["Retry-After"] == "1"
    status, hdrs, _ = call(jd, "POST", f"{v(jd)}/issue", raw=b"junk", ctype="text/plain")
    assert status == 429 and hdrs["Retry-After"] == "Wed, 21 Oct 2037 07:28:00 GMT"
    assert call(jd, "GET", "/bogus", auth=None)[0] == 401
    assert [r["status"] for r in jd.requests] == [503, 429, 401]


@pytest.mark.parametrize("args", [(200,), (302,), (429, 0), ("503",)])
def test_fail_next_rejects_bad_arguments(j3, args):
    with pytest.raises(ValueError):
        j3.fail_next(*args)


# ---- request log ----------------------------------------------------------

def test_request_log(jd):
    call(jd, "GET", search_path(jd) + "?jql=project%20%3D%20SEC&fields=summary&fields=labels")
    call(jd, "POST", f"{v(jd)}/issue", raw=b"junk")
    first, second = jd.requests
    assert first["method"] == "GET" and first["path"] == search_path(jd)
    assert first["query"] == {"jql": ["project = SEC"], "fields": ["summary", "labels"]}
    assert first["headers"]["authorization"] == good_auth(jd)
    assert all(k == k.lower() for k in first["headers"])
    assert first["body"] == b"" and first["json"] is None and first["status"] == 200
    assert second["body"] == b"junk" and second["json"] is None and second["status"] == 400
    assert second["headers"]["content-type"] == "application/json"


def test_silent(jd, capfd):
    create(jd)
    call(jd, "GET", "/nowhere")
    call(jd, "GET", "/nowhere", auth=None)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# ---- outage and recovery --------------------------------------------------

def test_stop_start_same_port_keeps_state(jd):
    url, port = jd.url, jd.port
    create(jd, labels=["fimguard"])
    jd.stop()
    jd.stop()  # idempotent
    with pytest.raises(urllib.error.URLError) as e:
        call(jd, "GET", f"{v(jd)}/issue/SEC-1")
    assert isinstance(e.value.reason, ConnectionRefusedError)
    jd.start()
    assert jd.url == url and jd.port == port
    status, _, resp = call(jd, "GET", f"{v(jd)}/issue/SEC-1")
    assert status == 200 and resp["fields"]["labels"] == ["fimguard"]
    assert create(jd)["key"] == "SEC-2"
    assert [r["status"] for r in jd.requests] == [201, 200, 201]
    with pytest.raises(RuntimeError):
        jd.start()


def test_stop_closes_keepalive_connections(jd):
    # A client reusing a kept-alive connection must see the outage too.
    conn = http.client.HTTPConnection("127.0.0.1", jd.port, timeout=5)
    try:
        conn.request("GET", f"{v(jd)}/issue/SEC-1", headers={"Authorization": good_auth(jd)})
        r = conn.getresponse()
        r.read()
        assert r.status == 404 and not r.will_close
        jd.stop()
        with pytest.raises((http.client.HTTPException, ConnectionError, socket.timeout)):
            conn.request("GET", f"{v(jd)}/issue/SEC-1", headers={"Authorization": good_auth(jd)})
            conn.getresponse().read()
    finally:
        conn.close()
    jd.start()
    assert call(jd, "GET", f"{v(jd)}/issue/SEC-1")[0] == 404
