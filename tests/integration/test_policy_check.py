"""`policy check`: exact `FILE:LINE: message` for bad policy and config snippets, all errors in
one run, exit 2; good policy exit 0; init/check with a bad policy exit 2 and no baseline."""

import os
import re

import pytest

EXPECTED_KV = "expected 'key = value', '[section]' or '[rule NAME]'"

# (id, policy text, line, message); {F} is replaced by the policy file's path
POLICY_CASES = [
    ("garbage", "this is not valid\n", 1, EXPECTED_KV),
    ("garbage-after-rule", "[rule a]\npaths = /etc/x\njust words\n", 3, EXPECTED_KV),
    ("unknown-section", "[rule a]\npaths = /etc/x\n[bogus]\n", 3, "unknown section '[bogus]'"),
    ("rule-no-name", "[rule]\n", 1, "rule header needs a name: '[rule NAME]'"),
    ("duplicate-rule", "[rule a]\npaths = /etc/x\n[rule a]\npaths = /etc/y\n", 3,
     "duplicate rule 'a' (first defined at {F}:1)"),
    ("unknown-key", "[rule a]\npaths = /etc/x\ncolour = red\n", 3, "unknown key 'colour' in [rule a]"),
    ("duplicate-key", "[rule a]\npaths = /etc/x\npaths = /etc/y\n", 3, "duplicate key 'paths'"),
    ("key-outside-rule", "paths = /etc/x\n", 1, "key 'paths' outside of a rule"),
    ("empty-value", "[rule a]\npaths = /etc/x\nseverity =\n", 3, "empty value for 'severity'"),
    ("bad-recursive", "[rule a]\npaths = /etc/x\nrecursive = maybe\n", 3,
     "invalid value 'maybe' for 'recursive' (expected yes | no)"),
    ("bad-severity", "[rule a]\npaths = /etc/x\nseverity = urgent\n", 3,
     "invalid value 'urgent' for 'severity' (expected low | medium | high | critical)"),
    ("bad-mode", "[rule a]\npaths = /etc/x\nmode = strict\n", 3,
     "invalid value 'strict' for 'mode' (expected audit | enforce)"),
    ("bad-diff", "[rule a]\npaths = /etc/x\ndiff = 1\n", 3,
     "invalid value '1' for 'diff' (expected yes | no)"),
    ("bad-restore", "[rule a]\npaths = /etc/x\nrestore = true\n", 3,
     "invalid value 'true' for 'restore' (expected yes | no)"),
    ("relative-path", "[rule a]\npaths = etc/passwd\n", 2, "path 'etc/passwd' is not absolute"),
    ("relative-second-path", "[rule a]\npaths = /etc/ok etc/bad\n", 2, "path 'etc/bad' is not absolute"),
    ("relative-writer", "[rule a]\npaths = /etc/x\nwriters = /usr/bin/dpkg bin/sh\n", 3,
     "path 'bin/sh' is not absolute"),
    ("no-paths", "[rule a]\nseverity = high\n", 1, "rule 'a' has no paths"),
    ("no-paths-later-rule", "[rule a]\npaths = /etc/x\n\n[rule b]\nrecursive = yes\n", 4,
     "rule 'b' has no paths"),
    ("unterminated-quote", "[rule a]\npaths = /etc/x\nexclude = \"abc\n", 3, "unterminated quote"),
    ("jira-in-policy", "[jira]\n", 1, "section '[jira]' is not allowed in a policy file"),
    ("smtp-in-policy", "[rule a]\npaths = /etc/x\n[smtp]\n", 3,
     "section '[smtp]' is not allowed in a policy file"),
    ("comments-count-as-lines", "# comment\n[rule a]\n   # indented comment\n\npaths = /etc/x   # trailing\n"
     "foo = bar\n", 6, "unknown key 'foo' in [rule a]"),
]

# What each sink section needs besides the line a case is about.
JIRA_REST = "project = SEC\nissue_type = Task\nuser = a@b.c\ntoken_env = T\n"
SMTP_REST = "from = f@b.c\nto = t@b.c\n"

# (id, config text, line, message); policy is valid
CONFIG_CASES = [
    ("bad-mode", "mode = sometimes\n", 1, "invalid value 'sometimes' for 'mode' (expected audit | enforce)"),
    ("bad-unknown-intent", "mode = audit\nunknown_intent = maybe\n", 2,
     "invalid value 'maybe' for 'unknown_intent' (expected deny | allow)"),
    ("unknown-global", "mode = audit\nbogus = 1\n", 2, "unknown key 'bogus' in global settings"),
    ("rule-in-config", "mode = audit\n[rule x]\n", 2, "section '[rule x]' is not allowed in the config file"),
    ("unknown-jira-key", "[jira]\nfoo = bar\nurl = https://example.atlassian.net\n" + JIRA_REST, 2,
     "unknown key 'foo' in [jira]"),
    ("unknown-smtp-key", "[smtp]\nbar = 1\nurl = smtp://mail.example.com:587\n" + SMTP_REST, 2,
     "unknown key 'bar' in [smtp]"),
    ("jira-without-project", "[jira]\nurl = https://j.example\nissue_type = Task\n"
     "user = a@b.c\ntoken_env = T\n", 1, "section '[jira]' has no project"),
    ("unknown-webhook-key", "[webhook]\nbaz = 1\nurl = https://hooks.example.com/x\n", 2, "unknown key 'baz' in [webhook]"),
    ("relative-events", "events = relative.json\n", 1, "path 'relative.json' is not absolute"),
    ("unknown-section", "[nonsense]\n", 1, "unknown section '[nonsense]'"),
    ("duplicate-key", "mode = audit\nmode = enforce\n", 2, "duplicate key 'mode'"),
    ("no-equals", "mode\n", 1, EXPECTED_KV),
    ("unterminated-quote", "[smtp]\nurl = smtp://mail.example.com:587\nuser = \"fim guard\n"
     + SMTP_REST, 3, "unterminated quote"),
    ("empty-value", "mode =\n", 1, "empty value for 'mode'"),
    ("bad-starttls", "[smtp]\nurl = smtp://mail.example.com:587\nstarttls = maybe\n" + SMTP_REST, 3,
     "invalid value 'maybe' for 'starttls' (expected required | no)"),
    ("url-with-credentials", "[webhook]\nurl_env = HOOK\nurl = https://bob:hunter2@hooks.example.com/x\n", 3,
     "invalid value for 'url' (not shown: a URL must not hold user:password@)"),
]

ERR_LINE = re.compile(r"^(.+?):(\d+): (.*)$")


def error_lines(stderr, files):
    """stderr lines of the form FILE:LINE: msg for the given files."""
    out = []
    for l in stderr.split("\n"):
        for f in files:
            if l.startswith(f + ":") and re.match(r"^\d+: ", l[len(f) + 1:]):
                out.append(l)
    return out


def good_policy(fim):
    fim.rule()


@pytest.mark.parametrize("case", POLICY_CASES, ids=[c[0] for c in POLICY_CASES])
def test_bad_policy_message(fim, case):
    _, text, line, msg = case
    f = fim.write_policy(text, "10-bad.rules")
    msg = msg.replace("{F}", f)
    p = fim.run("policy", "check", expect=2)
    want = f"{f}:{line}: {msg}"
    errs = error_lines(p.stderr, [f, fim.conf])
    assert want in errs, f"want {want!r}\nstderr:\n{p.stderr}"
    assert errs == [want], f"exactly one error expected, got:\n" + "\n".join(errs)


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config_message(fim, case):
    _, text, line, msg = case
    good_policy(fim)
    fim.write_config(text=text)
    p = fim.run("policy", "check", expect=2)
    want = f"{fim.conf}:{line}: {msg}"
    errs = error_lines(p.stderr, [fim.conf])
    assert want in errs, f"want {want!r}\nstderr:\n{p.stderr}"
    assert errs == [want], "exactly one error expected, got:\n" + "\n".join(errs)


def test_all_errors_reported_in_one_run(fim):
    f1 = fim.write_policy(
        "[rule a]\n"                 # 1
        "paths = /etc/x\n"           # 2
        "colour = red\n"             # 3 unknown key
        "mode = strict\n"            # 4 invalid value
        "[rule b]\n"                 # 5
        "paths = /etc/b\n"           # 6
        "writers = relative\n"       # 7 not absolute
        "recursive = maybe\n"        # 8 invalid value
        "garbage here\n"             # 9 expected ...
        "[rule c]\n"                 # 10 no paths
        "severity = high\n"          # 11
        "[rule a]\n"                 # 12 duplicate rule
        "paths = /etc/y\n",          # 13
        "10-first.rules")
    f2 = fim.write_policy(
        "[rule d]\n"                 # 1
        "paths = /etc/d\n"           # 2
        "[jira]\n"                   # 3 not allowed
        "[rule a]\n"                 # 4 duplicate across files
        "paths = /etc/z\n",          # 5
        "20-second.rules")
    fim.write_config(text=f"mode = audit\nevents = {fim.events}\nbogus = 1\n")
    p = fim.run("policy", "check", expect=2)
    want = {
        f"{fim.conf}:3: unknown key 'bogus' in global settings",
        f"{f1}:3: unknown key 'colour' in [rule a]",
        f"{f1}:4: invalid value 'strict' for 'mode' (expected audit | enforce)",
        f"{f1}:7: path 'relative' is not absolute",
        f"{f1}:8: invalid value 'maybe' for 'recursive' (expected yes | no)",
        f"{f1}:9: {EXPECTED_KV}",
        f"{f1}:10: rule 'c' has no paths",
        f"{f1}:12: duplicate rule 'a' (first defined at {f1}:1)",
        f"{f2}:3: section '[jira]' is not allowed in a policy file",
        f"{f2}:4: duplicate rule 'a' (first defined at {f1}:1)",
    }
    errs = error_lines(p.stderr, [f1, f2, fim.conf])
    missing = want - set(errs)
    assert not missing, "missing:\n" + "\n".join(sorted(missing)) + "\nstderr:\n" + p.stderr
    extra = [e for e in errs if e not in want]
    assert not extra, "unexpected extra errors:\n" + "\n".join(extra)
    assert len(errs) == len(want), errs


def test_url_credentials_are_never_echoed(fim):
    # user:password@ in a URL is refused; the error names the key and the
    # line but repeats no part of the secret, whatever the command
    good_policy(fim)
    fim.write_config(text="[jira]\nurl = https://secops:hunter2-SECRET@jira.example.com\n"
                          + JIRA_REST)
    for args in (("policy", "check"), ("init",), ("check",), ("status",)):
        p = fim.run(*args, expect=2)
        assert f"{fim.conf}:2: invalid value for 'url'" in p.stderr, (args, p.stderr)
        for part in ("hunter2", "secops:", "@jira.example.com"):
            assert part not in p.stderr + p.stdout, (args, p.stderr)


def test_good_policy(fim):
    fim.write_config(text=f"# fimguard config\nmode = enforce\nevents = {fim.events}\nunknown_intent = allow\n"
                          "\n[jira]\nurl = https://example.atlassian.net\napi = 3\nproject = SEC\n"
                          "issue_type = Task\nuser = secops@example.com\ntoken_env = FIMGUARD_JIRA_TOKEN\n"
                          "[smtp]\nurl = smtp://mail.example.com:587\nstarttls = required\n"
                          "from = fimguard@host.example.com\nto = secops@example.com oncall@example.com\n"
                          "password_env = FIMGUARD_SMTP_PASSWORD\n"
                          "[webhook]\nurl = https://hooks.example.com/services/x\n")
    fim.write_policy(
        "# ssh rule\n"
        "[rule ssh]\n"
        "paths = /etc/ssh/\n"
        "recursive = yes\n"
        "exclude = *.swp *~ \"name with space\" \"quote\\\"d\" \"back\\\\slash\"   # trailing comment\n"
        "mode = enforce            # enforce | audit\n"
        "severity = critical\n"
        "writers = /usr/bin/dpkg /usr/bin/apt-get\n"
        "diff = yes\n"
        "restore = yes\n"
        "\n"
        "    # indented comment\n"
        "[rule passwd]\n"
        "paths = /etc/passwd /etc/shadow /etc/group\n"
        "severity = high\n"
        "mode = audit\n"
        "diff = no\n"
        "restore = no\n"
        "recursive = no\n", "10-ssh.rules")
    fim.write_policy(f"[rule tree]\npaths = {fim.t('*.conf')}\nseverity = low\n", "20-tree.rules")
    # files not named *.rules are ignored, even if they are garbage
    fim.write_policy("this is not a policy\n", "README")
    fim.write_policy("garbage\n", "30-old.rules.bak")
    p = fim.run("policy", "check", expect=0)
    assert not error_lines(p.stderr, [os.path.join(fim.policy, n) for n in os.listdir(fim.policy)] + [fim.conf])


def test_empty_config_is_fine(fim):
    good_policy(fim)
    fim.write_config(text="")
    fim.run("policy", "check", expect=0)


def test_init_with_bad_policy_creates_no_baseline(fim):
    fim.write("a", b"a\n")
    f = fim.write_policy(f"[rule a]\npaths = {fim.tree}\nrecursive = perhaps\n")
    p = fim.init(expect=2)
    assert f"{f}:3: invalid value 'perhaps' for 'recursive' (expected yes | no)" in p.stderr, p.stderr
    assert not os.path.exists(fim.baseline_file)


def test_init_with_bad_config_creates_no_baseline(fim):
    fim.write("a", b"a\n")
    fim.rule()
    fim.write_config(text="mode = loud\n")
    fim.init(expect=2)
    assert not os.path.exists(fim.baseline_file)


def test_check_with_bad_policy(fim):
    fim.write("a", b"a\n")
    fim.rule()
    fim.init()
    fim.write_policy("[rule broken\n", "20-broken.rules")
    fim.check(expect=2)
    fim.run("check", "--json", expect=2)
