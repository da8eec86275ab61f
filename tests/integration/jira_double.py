"""A strict, in-process double of the Jira REST API, for integration tests.

Speaks the two dialects a client has to handle:

    api=3  Jira Cloud, REST v3:  Basic auth (email:API token), ADF rich text,
           search on /rest/api/3/search/jql (the old /rest/api/3/search is 410)
    api=2  Jira Data Center/Server, REST v2:  Bearer personal access token,
           plain-string rich text, search on /rest/api/2/search

The point of the double is to fail where real Jira fails, with Jira's error
shapes, so a client that passes against it has a fair chance against the
real thing.  It is deliberately narrow: what it does not implement is
rejected (404/405/400), never silently accepted.

Usage (stdlib only, runs in the pytest process):

    j = JiraDouble(api=3, user="secops@example.com", token="tok-123",
                   projects={"SEC": ["Task", "Bug"]})
    j.start()                 # j.url == "http://127.0.0.1:PORT"
    ...                       # point the client at j.url
    j.requests                # what the client sent, and the status it got
    j.issues                  # key -> {"id","key","fields","comments","resolved"}
    j.fail_next(503, count=2, retry_after=1)
    j.resolve("SEC-1")
    j.stop(); j.start()       # outage and recovery, same port, state kept
"""

import base64
import collections
import hmac
import http
import json
import re
import socket
import socketserver
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

__all__ = ["JiraDouble"]

# Jira's own wording, so a client that surfaces errorMessages/errors to the
# operator shows what it would show in production.
MSG_UNAUTHENTICATED = ("You are not authenticated. Authentication required to "
                       "perform this operation.")
MSG_NO_ISSUE = "Issue does not exist or you do not have permission to see it."
MSG_SEARCH_REMOVED = ("The requested API has been removed. Please migrate to the "
                      "/rest/api/3/search/jql API. A full migration guideline is "
                      "available at https://developer.atlassian.com/changelog/#CHANGE-2046")
MSG_NOT_ADF = "Operation value must be an Atlassian Document"
MSG_NOT_STRING = "Operation value must be a string"
MSG_TOO_LONG = ("The entered text is too long. It exceeds the allowed limit of "
                "32,767 characters.")

# Jira's default text-field limit (jira.text.field.character.limit).
TEXT_LIMIT = 32767

# Jira's default priority scheme, with its stock ids.
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}

# Fields a create request may set.  Everything else is "not on the screen",
# which is what a default Jira create screen answers for e.g. assignee.
CREATE_FIELDS = {"project", "issuetype", "summary", "description", "labels", "priority"}

STATUS_OPEN = {"self": "", "name": "To Do", "id": "10000",
               "statusCategory": {"id": 2, "key": "new", "name": "To Do"}}
STATUS_DONE = {"self": "", "name": "Done", "id": "10001",
               "statusCategory": {"id": 3, "key": "done", "name": "Done"}}


def _now():
    # Jira's timestamp format (millis, numeric zone without colon).
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03d+0000" % (int(t * 1000) % 1000)


def _err(status, messages=(), errors=None, headers=None):
    """A Jira-shaped error response: errorMessages + errors, both always present."""
    return status, {"errorMessages": list(messages), "errors": dict(errors or {})}, headers or {}


class _Reject(Exception):
    """Raised from deep inside a handler to answer with an error response."""

    def __init__(self, response, reason):
        super().__init__(reason)
        self.response = response
        self.reason = reason


# --------------------------------------------------------------------------
# JSON

def _no_constants(name):
    # Python's json accepts NaN/Infinity; Jira's Jackson parser does not.
    raise ValueError(f"Non-standard token '{name}'")


def _parse_json(body):
    """Parse a request body the way Jackson would (strict UTF-8, no NaN)."""
    text = body.decode("utf-8")  # UnicodeDecodeError is a ValueError
    return json.loads(text, parse_constant=_no_constants)


# --------------------------------------------------------------------------
# Atlassian Document Format (api=3 rich text)

class _AdfError(ValueError):
    pass


_TOP_BLOCKS = {"paragraph", "heading", "codeBlock", "bulletList", "orderedList", "rule"}
# ADF allows only these inside a list item (no heading, no rule).
_ITEM_BLOCKS = {"paragraph", "bulletList", "orderedList", "codeBlock"}
_MARKS = {"strong", "em", "code", "link", "strike", "underline"}


def _is_int(v):
    # bool is an int subclass in Python; JSON true is not a number.
    return isinstance(v, int) and not isinstance(v, bool)


def _keys(node, where, required=(), optional=()):
    if not isinstance(node, dict):
        raise _AdfError(f"{where}: not an object")
    missing = set(required) - node.keys()
    if missing:
        raise _AdfError(f"{where}: missing {sorted(missing)}")
    extra = node.keys() - set(required) - set(optional)
    if extra:
        raise _AdfError(f"{where}: unknown keys {sorted(extra)}")


def _node_type(node, where):
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        raise _AdfError(f"{where}: node without a string 'type'")
    return node["type"]


def _content(node, where, nonempty=False):
    content = node.get("content", [])
    if not isinstance(content, list):
        raise _AdfError(f"{where}.content: not an array")
    if nonempty and not content:
        raise _AdfError(f"{where}.content: must not be empty")
    return content


def _check_marks(marks, where):
    if not isinstance(marks, list):
        raise _AdfError(f"{where}.marks: not an array")
    seen = set()
    for i, mark in enumerate(marks):
        w = f"{where}.marks[{i}]"
        t = _node_type(mark, w)
        if t not in _MARKS:
            raise _AdfError(f"{w}: unknown mark '{t}'")
        if t in seen:
            raise _AdfError(f"{w}: duplicate mark '{t}'")
        seen.add(t)
        if t == "link":
            _keys(mark, w, required=("type", "attrs"))
            _keys(mark["attrs"], w + ".attrs", required=("href",), optional=("title",))
            if not isinstance(mark["attrs"]["href"], str) or not mark["attrs"]["href"]:
                raise _AdfError(f"{w}.attrs.href: not a non-empty string")
            if "title" in mark["attrs"] and not isinstance(mark["attrs"]["title"], str):
                raise _AdfError(f"{w}.attrs.title: not a string")
        else:
            _keys(mark, w, required=("type",))
    # ADF: code can only be combined with link.
    if "code" in seen and seen - {"code", "link"}:
        raise _AdfError(f"{where}.marks: 'code' combined with {sorted(seen - {'code', 'link'})}")


def _check_text(node, where, allow_marks=True):
    _keys(node, where, required=("type", "text"), optional=("marks",) if allow_marks else ())
    if not isinstance(node["text"], str) or not node["text"]:
        raise _AdfError(f"{where}.text: not a non-empty string")
    if "marks" in node:
        _check_marks(node["marks"], where)


def _check_inline(nodes, where):
    for i, node in enumerate(nodes):
        w = f"{where}[{i}]"
        t = _node_type(node, w)
        if t == "text":
            _check_text(node, w)
        elif t == "hardBreak":
            _keys(node, w, required=("type",), optional=("attrs",))
            if "attrs" in node:
                _keys(node["attrs"], w + ".attrs", optional=("text",))
                if node["attrs"].get("text", "\n") != "\n":
                    raise _AdfError(f"{w}.attrs.text: must be a newline")
        else:
            raise _AdfError(f"{w}: '{t}' is not an inline node")


def _check_block(node, allowed, where):
    t = _node_type(node, where)
    if t not in allowed:
        raise _AdfError(f"{where}: '{t}' not allowed here")
    if t == "paragraph":
        _keys(node, where, required=("type",), optional=("content",))
        _check_inline(_content(node, where), where + ".content")
    elif t == "heading":
        _keys(node, where, required=("type", "attrs"), optional=("content",))
        _keys(node["attrs"], where + ".attrs", required=("level",))
        level = node["attrs"]["level"]
        if not _is_int(level) or not 1 <= level <= 6:
            raise _AdfError(f"{where}.attrs.level: not an integer 1..6")
        _check_inline(_content(node, where), where + ".content")
    elif t == "codeBlock":
        _keys(node, where, required=("type",), optional=("content", "attrs"))
        if "attrs" in node:
            _keys(node["attrs"], where + ".attrs", optional=("language",))
            if not isinstance(node["attrs"].get("language", ""), str):
                raise _AdfError(f"{where}.attrs.language: not a string")
        for i, child in enumerate(_content(node, where)):
            w = f"{where}.content[{i}]"
            if _node_type(child, w) != "text":
                raise _AdfError(f"{w}: codeBlock holds only text")
            _check_text(child, w, allow_marks=False)
    elif t in ("bulletList", "orderedList"):
        optional = ("attrs",) if t == "orderedList" else ()
        _keys(node, where, required=("type", "content"), optional=optional)
        if "attrs" in node:
            _keys(node["attrs"], where + ".attrs", optional=("order",))
            order = node["attrs"].get("order", 1)
            if not _is_int(order) or order < 0:
                raise _AdfError(f"{where}.attrs.order: not a non-negative integer")
        for i, item in enumerate(_content(node, where, nonempty=True)):
            w = f"{where}.content[{i}]"
            if _node_type(item, w) != "listItem":
                raise _AdfError(f"{w}: lists hold only listItem")
            _keys(item, w, required=("type", "content"))
            children = _content(item, w, nonempty=True)
            # ADF: a list item starts with a paragraph or code block, never a nested list.
            if _node_type(children[0], w + ".content[0]") not in ("paragraph", "codeBlock"):
                raise _AdfError(f"{w}.content[0]: list item must start with paragraph or codeBlock")
            for k, child in enumerate(children):
                _check_block(child, _ITEM_BLOCKS, f"{w}.content[{k}]")
    elif t == "rule":
        _keys(node, where, required=("type",))


def _adf_text_length(node):
    if isinstance(node, dict):
        n = len(node["text"]) if node.get("type") == "text" else 0
        return n + sum(_adf_text_length(c) for c in node.get("content", []))
    return 0


def check_adf(doc):
    """Raise _AdfError (with a path to the offending node) unless doc is a
    document Jira Cloud accepts as rich text."""
    _keys(doc, "doc", required=("type", "version", "content"))
    if doc["type"] != "doc":
        raise _AdfError("doc.type: must be 'doc'")
    if not _is_int(doc["version"]) or doc["version"] != 1:
        raise _AdfError("doc.version: must be 1")
    for i, block in enumerate(_content(doc, "doc")):
        _check_block(block, _TOP_BLOCKS, f"doc.content[{i}]")


# --------------------------------------------------------------------------
# JQL: a conjunction of the few clauses a ticketing client needs.

class _JqlError(ValueError):
    pass


_JQL_TOKEN = re.compile(r"""
    (?P<op>!=|=)
  | (?P<lparen>\() | (?P<rparen>\)) | (?P<comma>,)
  | (?P<dq>"(?:[^"\\]|\\.)*")
  | (?P<sq>'(?:[^'\\]|\\.)*')
  | (?P<word>[A-Za-z0-9_-]+)
""", re.X | re.S)

# Unquoted, these are JQL keywords, never values.
_JQL_RESERVED = {"and", "or", "not", "empty", "null", "order", "by", "in", "is",
                 "asc", "desc", "was", "changed"}
_JQL_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "r": "\r", "t": "\t", " ": " "}


def _jql_unquote(raw, pos):
    out, i, body = [], 0, raw[1:-1]
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]  # the token regex guarantees a char after '\'
        if nxt in _JQL_ESCAPES:
            out.append(_JQL_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", body[i + 2:i + 6]):
            out.append(chr(int(body[i + 2:i + 6], 16)))
            i += 6
        else:
            raise _JqlError(f"'\\{nxt}' is an illegal JQL escape sequence. "
                            f"(line 1, character {pos + i + 2})")
    return "".join(out)


def _jql_tokens(text):
    toks, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return toks
        m = _JQL_TOKEN.match(text, pos)
        if not m:
            raise _JqlError(f"The character '{text[pos]}' is a reserved JQL character. "
                            f"You must enclose it in a string or use the escape '\\u{ord(text[pos]):04x}' "
                            f"instead. (line 1, character {pos + 1})")
        kind = m.lastgroup
        value = m.group()
        if kind in ("dq", "sq"):
            kind, value = "string", _jql_unquote(value, pos)
        toks.append((kind, value, pos + 1))
        pos = m.end()


class _JqlParser:
    """query := clause (AND clause)* [ORDER BY created [ASC|DESC]]

    Clauses (field names and keywords case-insensitive):
        project = V | labels = V | labels in (V, ...) |
        statusCategory (=|!=) V | status (=|!=) V |
        resolution = EMPTY | resolution is EMPTY
    Returns ([(field, op, [values])], descending)."""

    def __init__(self, text):
        self.toks = _jql_tokens(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def fail(self, expecting, tok=None):
        kind, value, pos = tok or self.peek()
        if kind is None:
            raise _JqlError(f"Expecting {expecting} but reached the end of the query.")
        raise _JqlError(f"Expecting {expecting} but got '{value}'. (line 1, character {pos})")

    def keyword(self, word):
        kind, value, _ = self.peek()
        return kind == "word" and value.lower() == word

    def expect_keyword(self, word, expecting):
        if not self.keyword(word):
            self.fail(expecting)
        self.take()

    def value(self):
        kind, value, _ = self.peek()
        if kind == "string" or (kind == "word" and value.lower() not in _JQL_RESERVED):
            self.take()
            return value
        self.fail("either a value, list or function")

    def empty(self):
        if self.keyword("empty") or self.keyword("null"):
            self.take()
        else:
            self.fail("EMPTY")

    def clause(self):
        kind, value, pos = self.peek()
        if kind != "word" or value.lower() in _JQL_RESERVED:
            self.fail("a field name")
        self.take()
        field = value.lower()
        if field not in ("project", "labels", "statuscategory", "status", "resolution"):
            raise _JqlError(f"Field '{value}' does not exist or you do not have permission "
                            f"to view it. (line 1, character {pos})")
        op_kind, op, _ = self.peek()
        if field == "resolution":
            if op_kind == "op" and op == "=":
                self.take()
            elif self.keyword("is"):
                self.take()
            else:
                self.fail("'=' or 'is'")
            self.empty()
            return ("resolution", "=", [None])
        if field == "labels" and self.keyword("in"):
            self.take()
            if self.take()[0] != "lparen":
                self.i -= 1
                self.fail("'('")
            values = [self.value()]
            while self.peek()[0] == "comma":
                self.take()
                values.append(self.value())
            if self.take()[0] != "rparen":
                self.i -= 1
                self.fail("')' or ','")
            return ("labels", "in", values)
        allowed = ("=", "!=") if field in ("statuscategory", "status") else ("=",)
        if op_kind != "op" or op not in allowed:
            self.fail("operator " + " or ".join(f"'{a}'" for a in allowed))
        self.take()
        return (field, op, [self.value()])

    def parse(self):
        clauses = [self.clause()]
        while self.peek()[0] is not None and not self.keyword("order"):
            if self.keyword("or") or self.keyword("not"):
                raise _JqlError(f"'{self.peek()[1]}' is valid JQL but this double only "
                                f"supports AND. (line 1, character {self.peek()[2]})")
            self.expect_keyword("and", "either 'OR' or 'AND'")
            clauses.append(self.clause())
        descending = True  # Jira lists newest first unless told otherwise
        if self.keyword("order"):
            self.take()
            self.expect_keyword("by", "'by'")
            self.expect_keyword("created", "the field 'created'")
            if self.keyword("asc") or self.keyword("desc"):
                descending = self.take()[1].lower() == "desc"
        if self.peek()[0] is not None:
            self.fail("end of query")
        return clauses, descending


def parse_jql(text):
    return _JqlParser(text).parse()


# --------------------------------------------------------------------------
# HTTP plumbing

class _Server(ThreadingHTTPServer):
    daemon_threads = True     # never keep the pytest process alive
    block_on_close = True     # but stop() still joins every handler thread
    allow_reuse_address = True  # restart on the same port despite TIME_WAIT

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn), which
        # can stall for seconds in a sandbox; the name is never used.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        # A client that hangs up mid-response is normal (and stop() causes
        # it on purpose); anything else is a bug in the double: keep it for
        # the test to see instead of printing it.
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, socket.timeout)):
            self.double.internal_errors.append(traceback.format_exc())


class _BadFraming(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 like Jira: keep-alive (which stop() must break), and
    # "Expect: 100-continue" is answered (curl sends it for large bodies).
    protocol_version = "HTTP/1.1"
    server_version = "JiraDouble"
    sys_version = ""
    timeout = 60  # drop idle keep-alive connections eventually

    def log_message(self, fmt, *args):
        # Silent: j.requests is the log, and pytest output must stay clean.
        pass

    def setup(self):
        super().setup()
        self.server.double._register_conn(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.double._unregister_conn(self.connection)

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "").strip().lower()
        if te:
            if te != "chunked":
                raise _BadFraming(f"unsupported Transfer-Encoding {te!r}")
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise _BadFraming(f"bad chunk size line {line!r}")
                if size == 0:
                    # trailers, up to the blank line
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            raise _BadFraming(f"bad Content-Length {length!r}")
        return self.rfile.read(int(length))

    def _handle(self):
        split = urlsplit(self.path)
        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        record = {"method": self.command, "path": split.path,
                  "query": parse_qs(split.query, keep_blank_values=True),
                  "headers": headers, "body": b"", "json": None, "status": None,
                  "reason": None}
        try:
            record["body"] = self._read_body()
        except _BadFraming as e:
            # The stream is out of sync: answer and drop the connection.
            self.close_connection = True
            response = self.server.double._dispatch(record, framing_error=str(e))
        else:
            try:
                record["json"] = _parse_json(record["body"]) if record["body"] else None
            except ValueError:
                pass
            response = self.server.double._dispatch(record)
        status, payload, extra = response
        data = json.dumps(payload).encode("ascii")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


# --------------------------------------------------------------------------
# The double

class JiraDouble:
    """See the module docstring.  All state is guarded by self.lock; the
    public attributes are plain containers the test may read (and, between
    requests, edit) directly."""

    def __init__(self, api=3, user=None, token=None, projects=None):
        if api not in (2, 3):
            raise ValueError("api must be 2 (Data Center) or 3 (Cloud)")
        if not token:
            raise ValueError("token is required")
        # Cloud authenticates email:API-token with Basic; Data Center PATs
        # are Bearer-only.  Refuse a config that blurs the two.
        if api == 3 and not user:
            raise ValueError("api=3 (Basic auth) needs user")
        if api == 2 and user is not None:
            raise ValueError("api=2 uses a Bearer token only; pass user=None")
        self.api = api
        self.user = user
        self.token = token
        projects = projects if projects is not None else {"SEC": ["Task", "Bug"]}
        # Stable ids, assigned in the order given (Jira ids are strings).
        self.projects = {}
        self.issue_types = {}  # name -> id
        for n, (key, types) in enumerate(projects.items()):
            if not re.fullmatch(r"[A-Z][A-Z0-9_]+", key):
                raise ValueError(f"bad project key {key!r}")
            self.projects[key] = {"id": str(10000 + n), "key": key, "name": key,
                                  "types": list(types)}
            for t in types:
                self.issue_types.setdefault(t, str(10001 + len(self.issue_types)))

        self.lock = threading.RLock()
        self.requests = []
        self.issues = {}
        self.internal_errors = []   # tracebacks of bugs in the double itself
        self._failures = collections.deque()
        self._next_issue_id = 10001
        self._next_comment_id = 10000
        self._next_number = {key: 1 for key in self.projects}
        self._comment_ids = {}      # issue key -> [comment id, ...]
        self._seq = {}              # issue key -> creation order, for ORDER BY created

        self.url = None
        self.port = None
        self._server = None
        self._thread = None
        self._conns = set()
        self._stopping = False

    # ---- lifecycle ------------------------------------------------------

    def start(self):
        """Serve on 127.0.0.1: a free port the first time, the same port
        after a stop() (so a client configured with j.url sees an outage and
        then a recovery)."""
        if self._server is not None:
            raise RuntimeError("already started")
        deadline = time.monotonic() + 5
        while True:
            try:
                server = _Server(("127.0.0.1", self.port or 0), _Handler)
                break
            except OSError:
                # Only a re-bind can race (a lingering socket); a first
                # bind to port 0 cannot fail this way.
                if self.port is None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        server.double = self
        self.port = server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        with self.lock:
            self._stopping = False
        self._server = server
        # A short poll interval only makes stop() (server.shutdown) quick;
        # tests start and stop hundreds of doubles.
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.01},
                                        name=f"JiraDouble:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving: close the listening socket and every open
        connection, so keep-alive clients see the outage too.  Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()  # no new connections accepted after this returns
        with self.lock:
            self._stopping = True
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()  # joins the handler threads
        self._thread.join()
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _register_conn(self, conn):
        with self.lock:
            if self._stopping:
                # Accepted just before stop(): do not let it be served.
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._conns.add(conn)

    def _unregister_conn(self, conn):
        with self.lock:
            self._conns.discard(conn)

    # ---- test controls --------------------------------------------------

    def fail_next(self, status, count=1, retry_after=None):
        """Answer the next `count` requests (whatever they are, even
        unauthenticated ones) with `status`, a Jira-style errorMessages body
        and, when given, a Retry-After header (seconds, or an HTTP date)."""
        if not _is_int(status) or not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400..599)")
        if not _is_int(count) or count < 1:
            raise ValueError("count must be >= 1")
        with self.lock:
            self._failures.extend([(status, retry_after)] * count)

    def resolve(self, key):
        """Move an issue to Done (statusCategory Done, resolution Done), as a
        human closing the ticket would; searches for open issues skip it."""
        with self.lock:
            issue = self.issues[key]
            issue["resolved"] = True
            now = _now()
            issue["fields"].update(status=dict(STATUS_DONE),
                                   resolution={"id": "10000", "name": "Done"},
                                   resolutiondate=now, updated=now)

    # ---- dispatch -------------------------------------------------------

    def _routes(self):
        v = self.api
        routes = [
            (r"/issue", {"POST": self._create_issue}),
            (r"/issue/([^/]+)", {"GET": self._get_issue}),
            (r"/issue/([^/]+)/comment", {"POST": self._add_comment}),
        ]
        if v == 3:
            routes.append((r"/search/jql", {"GET": self._search_get, "POST": self._search_post}))
        else:
            routes.append((r"/search", {"GET": self._search_get, "POST": self._search_post}))
        return routes

    def _dispatch(self, rec, framing_error=None):
        """Decide the response for one request and record it.  Order is what
        a client sees from real Jira: auth, then routing, then the body."""
        with self.lock:
            try:
                if framing_error is not None:
                    raise _Reject(_err(400, [f"Bad request framing: {framing_error}"]), framing_error)
                response, reason = self._decide(rec)
            except _Reject as r:
                response, reason = r.response, r.reason
            except Exception:
                self.internal_errors.append(traceback.format_exc())
                response, reason = _err(500, ["JiraDouble internal error (see internal_errors)"]), "bug"
            rec["status"] = response[0]
            rec["reason"] = reason
            # Recorded before the response is written, so a test that reads
            # j.requests right after its request returned sees it.
            self.requests.append(rec)
            return response

    def _decide(self, rec):
        method, path, headers = rec["method"], rec["path"], rec["headers"]

        if self._failures:
            status, retry_after = self._failures.popleft()
            extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            try:
                phrase = http.HTTPStatus(status).phrase
            except ValueError:
                phrase = "Error"
            return _err(status, [f"{phrase} (injected by JiraDouble.fail_next)"],
                        headers=extra), "fail_next"

        if not self._authenticated(headers.get("authorization")):
            return _err(401, [MSG_UNAUTHENTICATED],
                        headers={"WWW-Authenticate": 'Basic realm="protected-area"'
                                 if self.api == 3 else 'Bearer realm="Jira"'}), "auth"

        m = re.fullmatch(r"/rest/api/([^/]+)((?:/[^/]+)*)", path)
        if not m:
            return _err(404, [f"No resource at {path}"]), "no such path"
        if m.group(1) != str(self.api):
            return _err(404, [f"No resource at {path}"]), f"this double speaks api {self.api}"
        sub = m.group(2)
        if self.api == 3 and sub == "/search":
            if method in ("GET", "POST"):
                return _err(410, [MSG_SEARCH_REMOVED]), "removed endpoint"
            return _err(405, [f"Method {method} not allowed"], headers={"Allow": "GET,POST"}), "method"

        for pattern, methods in self._routes():
            pm = re.fullmatch(pattern, sub)
            if not pm:
                continue
            if method not in methods:
                return _err(405, [f"Method {method} not allowed"],
                            headers={"Allow": ",".join(methods)}), "method"
            body = self._json_body(rec) if method == "POST" or rec["body"] else None
            return methods[method](rec, body, *pm.groups())
        return _err(404, [f"No resource at {path}"]), "no such path"

    def _authenticated(self, value):
        if not value:
            return False
        scheme, _, cred = value.strip().partition(" ")
        cred = cred.strip()
        if self.api == 3:
            if scheme.lower() != "basic":
                return False
            try:
                raw = base64.b64decode(cred.encode("ascii"), validate=True)
            except (ValueError, UnicodeEncodeError):
                return False
            return hmac.compare_digest(raw, f"{self.user}:{self.token}".encode("utf-8"))
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(cred.encode("utf-8", "surrogateescape"),
                                   self.token.encode("utf-8"))

    def _json_body(self, rec):
        """The request's JSON object, or a _Reject with Jira's 415/400."""
        ctype = rec["headers"].get("content-type", "")
        media, *params = [p.strip().lower() for p in ctype.split(";")]
        charset_ok = all(not p.startswith("charset=") or p.split("=", 1)[1].strip('"') == "utf-8"
                         for p in params)
        if media != "application/json" or not charset_ok:
            raise _Reject(_err(415, [f"Unsupported Media Type: {ctype or '(none)'}; "
                                     f"expected application/json"]), "content-type")
        if not rec["body"]:
            raise _Reject(_err(400, ["No content to map due to end-of-input"]), "empty body")
        try:
            obj = _parse_json(rec["body"])
        except ValueError as e:
            raise _Reject(_err(400, [f"Unexpected character in request body: {e}"]), "bad json")
        if not isinstance(obj, dict):
            raise _Reject(_err(400, ["Unexpected character: the request body must be a JSON object"]),
                          "body not an object")
        return obj

    @staticmethod
    def _unrecognized(body, allowed):
        extra = sorted(set(body) - set(allowed))
        if extra:
            raise _Reject(_err(400, [f'Unrecognized field "{extra[0]}", not marked as ignorable']),
                          f"unknown keys {extra}")

    # ---- rich text ------------------------------------------------------

    def _rich_text_error(self, value):
        """None if value is acceptable rich text for this api, else the
        (message, reason) Jira would give."""
        if self.api == 2:
            if not isinstance(value, str):
                return MSG_NOT_STRING, "v2 rich text must be a string"
            if len(value) > TEXT_LIMIT:
                return MSG_TOO_LONG, "text too long"
            return None
        try:
            check_adf(value)
        except _AdfError as e:
            return MSG_NOT_ADF, f"ADF: {e}"
        if _adf_text_length(value) > TEXT_LIMIT:
            return MSG_TOO_LONG, "text too long"
        return None

    # ---- issues ---------------------------------------------------------

    def _issue_self(self, issue_id):
        return f"{self.url}/rest/api/{self.api}/issue/{issue_id}"

    def _find_issue(self, id_or_key):
        if id_or_key in self.issues:
            return self.issues[id_or_key]
        for issue in self.issues.values():
            if issue["id"] == id_or_key:
                return issue
        return None

    def _create_issue(self, rec, body):
        self._unrecognized(body, ("fields", "update"))
        update = body.get("update", {})
        if not isinstance(update, dict):
            return _err(400, ["Can not deserialize 'update': expected an object"]), "update"
        if update:
            # Real Jira would apply these operations; the double does not
            # implement them, and must not pretend it did.
            return _err(400, ["JiraDouble does not implement 'update' operations"]), "update"
        fields = body.get("fields", {})
        if not isinstance(fields, dict):
            return _err(400, ["Can not deserialize 'fields': expected an object"]), "fields"

        errors = {}
        for name in fields:
            if name not in CREATE_FIELDS:
                errors[name] = (f"Field '{name}' cannot be set. It is not on the "
                                f"appropriate screen, or unknown.")

        project = None
        p = fields.get("project")
        if isinstance(p, dict) and isinstance(p.get("key"), str):
            project = self.projects.get(p["key"])
        elif isinstance(p, dict) and isinstance(p.get("id"), (str, int)) and not isinstance(p.get("id"), bool):
            project = next((x for x in self.projects.values() if x["id"] == str(p["id"])), None)
        if project is None:
            errors["project"] = "Specify a valid project ID or key"

        issuetype = None
        it = fields.get("issuetype")
        if it is None:
            errors["issuetype"] = "Specify an issue type"
        elif project is not None:
            # Without a valid project the type cannot be checked (Jira
            # reports only the project then).
            if isinstance(it, dict) and isinstance(it.get("id"), str):
                issuetype = next((n for n, i in self.issue_types.items() if i == it["id"]), None)
            elif isinstance(it, dict) and isinstance(it.get("name"), str):
                issuetype = it["name"]
            if issuetype not in project["types"]:
                issuetype = None
                errors["issuetype"] = "Specify a valid issue type"

        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif "\n" in summary or "\r" in summary:
            errors["summary"] = "The summary is invalid because it contains newline characters."
        elif len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."

        labels = fields.get("labels", [])
        if not isinstance(labels, list):
            errors["labels"] = "data was not an array"
        else:
            for label in labels:
                if not isinstance(label, str):
                    errors["labels"] = MSG_NOT_STRING
                elif not label:
                    errors["labels"] = "Label cannot be empty."
                elif any(c.isspace() for c in label):
                    errors["labels"] = f"The label '{label}' contains spaces which is invalid."
                elif len(label) > 255:
                    errors["labels"] = f"The label '{label}' exceeds the 255 character limit."
                else:
                    continue
                break

        priority = {"name": "Medium", "id": PRIORITIES["Medium"]}
        if "priority" in fields:
            pr = fields["priority"]
            if isinstance(pr, dict) and isinstance(pr.get("id"), str):
                name = next((n for n, i in PRIORITIES.items() if i == pr["id"]), None)
                if name is None:
                    errors["priority"] = f"Priority with id '{pr['id']}' does not exist."
            elif isinstance(pr, dict) and isinstance(pr.get("name"), str):
                name = pr["name"] if pr["name"] in PRIORITIES else None
                if name is None:
                    errors["priority"] = f"Priority name '{pr['name']}' is not valid."
            else:
                name = None
                errors["priority"] = "Could not find valid 'id' or 'name' in priority object."
            if name:
                priority = {"name": name, "id": PRIORITIES[name]}

        description = fields.get("description")
        reason = None
        if description is not None:
            problem = self._rich_text_error(description)
            if problem:
                errors["description"], reason = problem

        if errors:
            return _err(400, [], errors), reason or f"fields {sorted(errors)}"

        issue_id = str(self._next_issue_id)
        self._next_issue_id += 1
        key = f"{project['key']}-{self._next_number[project['key']]}"
        self._next_number[project["key"]] += 1
        now = _now()
        self.issues[key] = {
            "id": issue_id,
            "key": key,
            "fields": {
                "summary": summary,
                "description": description,
                "labels": list(labels),
                "priority": priority,
                "issuetype": {"id": self.issue_types[issuetype], "name": issuetype, "subtask": False},
                "project": {"id": project["id"], "key": project["key"], "name": project["name"]},
                "status": dict(STATUS_OPEN),
                "resolution": None,
                "resolutiondate": None,
                "created": now,
                "updated": now,
            },
            "comments": [],
            "resolved": False,
        }
        self._comment_ids[key] = []
        self._seq[key] = len(self._seq)
        return (201, {"id": issue_id, "key": key, "self": self._issue_self(issue_id)}, {}), None

    def _render(self, issue, wanted, with_comments):
        """Issue JSON with the selected fields (None = all)."""
        fields = {k: v for k, v in issue["fields"].items() if wanted is None or k in wanted}
        if with_comments:
            ids = self._comment_ids[issue["key"]]
            comments = [{"id": cid, "self": f"{self._issue_self(issue['id'])}/comment/{cid}",
                         "body": body} for cid, body in zip(ids, issue["comments"])]
            fields["comment"] = {"comments": comments, "maxResults": len(comments),
                                 "total": len(comments), "startAt": 0}
        return {"expand": "", "id": issue["id"], "self": self._issue_self(issue["id"]),
                "key": issue["key"], "fields": fields}

    @staticmethod
    def _field_spec(names, default):
        """Jira's fields= selector -> (set of names or None for all, comment?)."""
        names = [n.strip() for n in (names if names is not None else default) if n.strip()]
        everything = any(n in ("*all", "*navigable") for n in names)
        excluded = {n[1:] for n in names if n.startswith("-")}
        if everything:
            # The double's fields are all navigable except the comment.
            return ("ALL", excluded, "*all" in names and "comment" not in excluded)
        wanted = {n for n in names if not n.startswith("-")} - excluded
        return (wanted, excluded, "comment" in wanted)

    def _project_fields(self, issue, spec):
        wanted, excluded, with_comments = spec
        if wanted == "ALL":
            keep = set(issue["fields"]) - excluded
        else:
            keep = wanted
        return self._render(issue, keep, with_comments)

    def _get_issue(self, rec, body, id_or_key):
        issue = self._find_issue(id_or_key)
        if issue is None:
            return _err(404, [MSG_NO_ISSUE]), "no such issue"
        names = ",".join(rec["query"].get("fields", [])).split(",") if "fields" in rec["query"] else None
        # GET issue defaults to all fields, comment included.
        spec = self._field_spec(names, ["*all"])
        return (200, self._project_fields(issue, spec), {}), None

    def _add_comment(self, rec, body, id_or_key):
        issue = self._find_issue(id_or_key)
        if issue is None:
            return _err(404, [MSG_NO_ISSUE]), "no such issue"
        self._unrecognized(body, ("body", "visibility", "properties"))
        if "visibility" in body and not isinstance(body["visibility"], dict):
            return _err(400, ["Can not deserialize 'visibility': expected an object"]), "visibility"
        text = body.get("body")
        if text is None or (isinstance(text, str) and not text.strip()):
            return _err(400, [], {"comment": "Comment body can not be empty!"}), "empty comment"
        problem = self._rich_text_error(text)
        if problem:
            return _err(400, [], {"comment": problem[0]}), problem[1]
        cid = str(self._next_comment_id)
        self._next_comment_id += 1
        issue["comments"].append(text)
        self._comment_ids[issue["key"]].append(cid)
        issue["fields"]["updated"] = _now()
        return (201, {"id": cid, "self": f"{self._issue_self(issue['id'])}/comment/{cid}",
                      "body": text, "created": issue["fields"]["updated"]}, {}), None

    # ---- search ---------------------------------------------------------

    def _search_get(self, rec, body):
        q = rec["query"]

        def one(name):
            return q[name][0] if name in q else None

        fields = ",".join(q["fields"]).split(",") if "fields" in q else None
        return self._search(one("jql"), fields, one("maxResults"), one("startAt"),
                            one("nextPageToken"))

    def _search_post(self, rec, body):
        if self.api == 3:
            allowed = ("jql", "nextPageToken", "maxResults", "fields", "expand",
                       "properties", "fieldsByKeys", "failFast", "reconcileIssues")
        else:
            allowed = ("jql", "startAt", "maxResults", "fields", "expand",
                       "properties", "fieldsByKeys", "validateQuery")
        self._unrecognized(body, allowed)
        fields = body.get("fields")
        if fields is not None and (not isinstance(fields, list)
                                   or not all(isinstance(f, str) for f in fields)):
            return _err(400, ["'fields' must be an array of strings"]), "fields"
        for name in ("maxResults", "startAt"):
            if name in body and not _is_int(body[name]):
                return _err(400, [f"'{name}' must be an integer"]), name
        jql = body.get("jql")
        if jql is not None and not isinstance(jql, str):
            return _err(400, ["'jql' must be a string"]), "jql"
        token = body.get("nextPageToken")
        if token is not None and not isinstance(token, str):
            return _err(400, ["'nextPageToken' must be a string"]), "nextPageToken"
        return self._search(jql, fields, body.get("maxResults"), body.get("startAt"), token)

    def _search(self, jql, fields, max_results, start_at, token):
        if jql is None or not jql.strip():
            # Cloud refuses unbounded searches; the double refuses a missing
            # query on both apis so a client cannot rely on "everything".
            return _err(400, ["Unbounded JQL queries are not allowed here. Please add a "
                              "search restriction to your query."]), "missing jql"
        try:
            max_results = 50 if max_results is None else int(max_results)
            start = int(start_at) if start_at is not None else 0
            if token is not None:
                if self.api == 2 or not token.isdigit():
                    raise ValueError
                start = int(token)
        except (TypeError, ValueError):
            return _err(400, ["Invalid maxResults, startAt or nextPageToken"]), "paging"
        if start < 0 or max_results < (1 if self.api == 3 else 0):
            return _err(400, ["Invalid maxResults or startAt"]), "paging"
        max_results = min(max_results, 5000 if self.api == 3 else 1000)

        try:
            clauses, descending = parse_jql(jql)
        except _JqlError as e:
            return _err(400, [f"Error in the JQL Query: {e}"]), "jql"
        problems = self._jql_values(clauses)
        if problems:
            return _err(400, problems), "jql value"

        hits = [i for i in self.issues.values() if all(self._matches(i, c) for c in clauses)]
        hits.sort(key=lambda i: self._seq[i["key"]], reverse=descending)
        page = hits[start:start + max_results]

        # v3 /search/jql returns issue ids only unless fields are asked for;
        # v2 defaults to all navigable fields.
        spec = self._field_spec(fields, ["id"] if self.api == 3 else ["*navigable"])
        if spec[0] != "ALL" and not (spec[0] - {"id"}) and not spec[2]:
            issues = [{"id": i["id"]} for i in page]
        else:
            issues = [self._project_fields(i, spec) for i in page]

        if self.api == 3:
            out = {"issues": issues, "isLast": start + len(page) >= len(hits)}
            if not out["isLast"]:
                out["nextPageToken"] = str(start + len(page))
            return (200, out, {}), None
        return (200, {"expand": "schema,names", "startAt": start, "maxResults": max_results,
                      "total": len(hits), "issues": issues}, {}), None

    def _jql_values(self, clauses):
        """Jira validates values against what exists: unknown project,
        status or category is an error, not an empty result."""
        problems = []
        for field, _, values in clauses:
            for v in values:
                if field == "project" and self._project_for(v) is None:
                    problems.append(f"The value '{v}' does not exist for the field 'project'.")
                elif field == "statuscategory" and self._category_for(v) is None:
                    problems.append(f"The value '{v}' does not exist for the field 'statusCategory'.")
                elif field == "status" and v.lower() not in ("to do", "done"):
                    problems.append(f"The value '{v}' does not exist for the field 'status'.")
        return problems

    def _project_for(self, v):
        for p in self.projects.values():
            if v.upper() == p["key"] or v == p["id"] or v.lower() == p["name"].lower():
                return p
        return None

    @staticmethod
    def _category_for(v):
        v = v.lower()
        for key, names in (("new", ("to do", "new", "2")), ("done", ("done", "3")),
                           ("indeterminate", ("in progress", "indeterminate", "4"))):
            if v in names:
                return key
        return None

    def _matches(self, issue, clause):
        field, op, values = clause
        f = issue["fields"]
        if field == "project":
            return f["project"]["key"] == self._project_for(values[0])["key"]
        if field == "labels":
            # Labels are matched exactly (case-sensitive), as they are stored.
            return any(v in f["labels"] for v in values)
        if field == "resolution":
            return not issue["resolved"]
        if field == "statuscategory":
            category = "done" if issue["resolved"] else "new"
            return (category == self._category_for(values[0])) == (op == "=")
        if field == "status":
            name = "done" if issue["resolved"] else "to do"
            return (name == values[0].lower()) == (op == "=")
        raise AssertionError(field)
