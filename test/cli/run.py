#!/usr/bin/env python3
"""Tests of the redirect307 command-line tool: every subcommand, its errors
and exit codes, check --json, stdin batches, --expect, the three importers
with realistic input, and a 100k-line import.  Standard library only; prints
"N passed, M failed" last and exits non-zero on failure."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL %s%s" % (name, (": " + detail) if detail else ""))


class Run:
    def __init__(self, argv, stdin=None, cwd=None):
        p = subprocess.run(argv, input=stdin, cwd=cwd, capture_output=True,
                           stdin=None if stdin is not None
                           else subprocess.DEVNULL)
        self.rc = p.returncode
        self.out = p.stdout.decode("utf-8", "replace")
        self.err = p.stderr.decode("utf-8", "replace")

    def __repr__(self):
        return "rc=%d\n--stdout--\n%s--stderr--\n%s" % (self.rc, self.out,
                                                        self.err)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build",
                                                  "redirect307"))
    ap.add_argument("--man", default=os.path.join(ROOT, "tools",
                                                  "redirect307.1"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="r307cli.")
    try:
        run_all(args.bin, args.man, tmp)
    finally:
        shutil.rmtree(tmp)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


def write(tmp, name, text, mode="w"):
    path = os.path.join(tmp, name)
    with open(path, mode) as f:
        f.write(text)
    return path


RULES = """\
# example rules
/old-page              /new-page
/promo                 https://shop.example.com/sale        302
/docs/*                https://docs.example.com/v2/*        301
/index.php?id=42       /products/blue-widget                308
/retired               -                                    410
/Legal                 /legal                               301   nocase
/café                  /coffee
/hop1                  /hop2                                301
/hop2                  /hop3                                301
"""


def run_all(b, man, tmp):
    rules = write(tmp, "site.rules", RULES)
    t_usage(b, tmp, rules)
    t_check(b, tmp, rules)
    t_check_json(b, tmp, rules)
    t_test(b, tmp, rules)
    t_expect(b, tmp, rules)
    t_import_alias(b, tmp)
    t_import_nginx(b, tmp)
    t_import_csv(b, tmp)
    t_import_corners(b, tmp)
    t_import_big(b, tmp)
    t_hosts_and_params(b, tmp)
    t_prune(b, tmp)
    t_man(man)


def t_usage(b, tmp, rules):
    r = Run([b])
    check("no args: exit 2", r.rc == 2, repr(r))
    r = Run([b, "--help"])
    check("--help: exit 0 and usage", r.rc == 0 and "usage:" in r.out, repr(r))
    for cmd, word in (("check", "summary"), ("test", "--expect"),
                      ("import", "--from"), ("prune", "--unused-for")):
        r = Run([b, cmd, "--help"])
        check(cmd + " --help", r.rc == 0 and word in r.out
              and ("redirect307 " + cmd) in r.out, repr(r))
    cases = [
        ([b, "frobnicate"], "unknown command"),
        ([b, "check"], "no rules file"),
        ([b, "check", "--bogus", rules], "unknown option"),
        ([b, "check", "--chains", "sometimes", rules], "--chains"),
        ([b, "check", "--trailing-slash", "maybe", rules], "--trailing-slash"),
        ([b, "test", "--default", "404", rules, "--", "/a"], "--default"),
        ([b, "test", rules, "--default"], "needs a value"),
        ([b, "import", rules], "--from"),
        ([b, "import", "--from", "yaml", rules], "--from"),
        ([b, "import", "--from", "csv", "--status", "410", rules], "--status"),
        ([b, "import", "--from", "csv", os.path.join(tmp, "nope.csv")],
         "cannot open"),
        ([b, "test", "--expect", os.path.join(tmp, "nope.exp"), rules],
         "cannot open"),
        ([b, "test", "--expect", "-", rules, "-"], "stdin"),
    ]
    for argv, word in cases:
        r = Run(argv)
        check("usage error %s: exit 2" % " ".join(argv[1:]),
              r.rc == 2 and word in r.err, repr(r))
    r = Run([b, "check", "--default=301", "--chains=off", rules])
    check("--opt=value form", r.rc == 0, repr(r))


def t_check(b, tmp, rules):
    r = Run([b, "check", rules])
    check("check ok: exit 0", r.rc == 0, repr(r))
    lines = r.out.splitlines()
    check("check: one summary line", len(lines) == 1, repr(r))
    s = r.out
    for part in ("ok: 9 rules", "7 exact", "1 prefix", "1 query",
                 "2 default=307", "4 301", "1 302", "1 308", "1 410",
                 "1 chain,", "0 duplicates", "1 warning", "parsed in", "MiB"):
        check("check summary has %r" % part, part in s, s)
    check("check: chain warning names every FILE:LINE",
          "site.rules:9: redirect chain: %s:9 -> %s:10" % (rules, rules)
          in r.err, repr(r))
    r = Run([b, "check", "--default", "301", "--chains", "collapse", rules])
    check("check collapse: chains counted, no warning",
          r.rc == 0 and "1 chain collapsed" in r.out
          and "2 default=301" in r.out and "redirect chain" not in r.err,
          repr(r))
    r = Run([b, "check", "--chains", "off", rules])
    check("check chains off", "chains not checked" in r.out, repr(r))

    bad = write(tmp, "bad.rules", "/ok /fine\nnot-a-path /x\n/a /b 999\n"
                "/gone /x 410\n/x\n")
    r = Run([b, "check", bad])
    check("check bad: exit 1", r.rc == 1, repr(r))
    for ln in (2, 3, 4, 5):
        check("check bad: error names %s:%d" % (bad, ln),
              "error: %s:%d:" % (bad, ln) in r.err, repr(r))
    check("check bad: failed summary", r.out.startswith("failed: 4 errors"),
          repr(r))
    dup = write(tmp, "dup.rules", "/a /x\n/b /y\n")
    dup2 = write(tmp, "dup2.rules", "/a /z\n")
    r = Run([b, "check", dup, dup2])
    check("check duplicates across files: warning naming both, exit 0",
          r.rc == 0 and "%s:1: duplicate source" % dup2 in r.err
          and "%s:1" % dup in r.err and "1 duplicate," in r.out, repr(r))
    loop = write(tmp, "loop.rules", "/a /b\n/b /a\n")
    r = Run([b, "check", loop])
    check("check loop: exit 1 naming both lines",
          r.rc == 1 and "redirect loop" in r.err and "%s:2" % loop in r.err,
          repr(r))
    hosts = write(tmp, "hosts.rules", "/a https://www.example.com/b\n"
                  "/b /c\n")
    r = Run([b, "check", hosts])
    check("check: absolute target on a foreign host is no chain",
          "0 chains" in r.out, repr(r))
    r = Run([b, "check", "--host", "*.example.com", hosts])
    check("check --host: absolute target on our host is a chain",
          "1 chain," in r.out, repr(r))
    r = Run([b, "check", os.path.join(tmp, "missing.rules")])
    check("check missing file: exit 1", r.rc == 1 and "cannot open" in r.err,
          repr(r))
    ci = write(tmp, "ci.rules", "/A /x\n/a /y\n")
    r = Run([b, "check", "--case-insensitive", ci])
    check("check --case-insensitive: /A and /a are duplicates",
          "duplicate source" in r.err, repr(r))
    ts = write(tmp, "ts.rules", "/a /x\n/a/ /y\n")
    r = Run([b, "check", "--trailing-slash", "strict", ts])
    check("check --trailing-slash strict: /a and /a/ differ",
          "duplicate" not in r.err, repr(r))
    r = Run([b, "check", ts])
    check("check trailing slash ignored by default: duplicate",
          "duplicate source" in r.err, repr(r))


def json_doc(r):
    """The JSON document a check --json run printed, or None."""
    try:
        return json.loads(r.out)
    except ValueError:
        return None


def places(diag):
    return [(p["file"], p["line"]) for p in diag["places"]]


def t_check_json(b, tmp, rules):
    r = Run([b, "check", "--json", rules])
    d = json_doc(r)
    check("check --json ok: exit 0, valid JSON, nothing on stderr",
          r.rc == 0 and d is not None and r.err == "", repr(r))
    if d is None:
        return
    check("check --json: top-level keys",
          sorted(d) == ["diagnostics", "expiring", "files", "ok", "summary"], repr(d))
    check("check --json: files and ok", d["files"] == [rules]
          and d["ok"] is True, repr(d))
    s = d["summary"]
    check("check --json: summary figures", s["rules"] == 9
          and s["exact"] == 7 and s["prefix"] == 1 and s["query"] == 1
          and s["chains"] == 1 and s["duplicates"] == 0
          and s["warnings"] == 1 and s["errors"] == 0
          and s["default_status"] == 307 and s["chains_mode"] == "warn"
          and isinstance(s["load_ms"], float) and s["bytes"] > 0, repr(s))
    check("check --json: by_status", s["by_status"] == {
        "default": 2, "301": 4, "302": 1, "303": 0, "307": 0, "308": 1,
        "410": 1}, repr(s))
    diags = d["diagnostics"]
    check("check --json: chain kind, severity and places",
          len(diags) == 1 and diags[0]["kind"] == "chain"
          and diags[0]["severity"] == "warning"
          and places(diags[0]) == [(rules, 9), (rules, 10)]
          and diags[0]["message"].startswith(rules + ":9: "), repr(diags))
    h = Run([b, "check", rules])
    check("check without --json: unchanged, one line, no JSON",
          h.rc == 0 and len(h.out.splitlines()) == 1
          and h.out.startswith("ok: 9 rules") and "redirect chain" in h.err,
          repr(h))

    dup = write(tmp, "jdup.rules", "/a /x\n/b /y\n")
    dup2 = write(tmp, "jdup2.rules", "/c /q\n/a /r\n")
    r = Run([b, "check", "--json", dup, dup2])
    d = json_doc(r) or {"diagnostics": [], "summary": {}}
    check("check --json duplicate: exit 0, kind and both places",
          r.rc == 0 and r.err == "" and [
              (x["kind"], x["severity"], places(x)) for x in d["diagnostics"]]
          == [("duplicate", "warning", [(dup2, 2), (dup, 1)])]
          and d["summary"].get("duplicates") == 1, repr(r))

    loop = write(tmp, "jloop.rules", "/a /b\n/b /c\n/c /a\n")
    r = Run([b, "check", "--json", loop])
    d = json_doc(r) or {"diagnostics": [], "summary": {}}
    check("check --json loop: exit 1, ok false, nothing on stderr",
          r.rc == 1 and d.get("ok") is False and r.err == "", repr(r))
    check("check --json loop: kind, severity, every place in order",
          [(x["kind"], x["severity"], places(x)) for x in d["diagnostics"]]
          == [("loop", "error", [(loop, 1), (loop, 2), (loop, 3),
                                 (loop, 1)])], repr(d))
    check("check --json failed: summary holds the counts only",
          d["summary"].get("errors") == 1 and "rules" not in d["summary"],
          repr(d))

    bad = write(tmp, "jbad.rules", "/ok /fine\nnot-a-path /x\n")
    missing = os.path.join(tmp, "jmissing.rules")
    r = Run([b, "check", "--json", bad, missing])
    d = json_doc(r) or {"diagnostics": []}
    check("check --json parse error: exit 1, error at FILE:LINE, "
          "unreadable file as line null",
          r.rc == 1 and r.err == "" and [
              (x["kind"], x["severity"], places(x)) for x in d["diagnostics"]]
          == [("error", "error", [(bad, 2)]),
              ("error", "error", [(missing, None)])], repr(r))

    pc = write(tmp, "jpc.rules", "/p/* /q/*\n/q/* /r/*\n")
    r = Run([b, "check", "--json", "--chains", "collapse", pc])
    d = json_doc(r) or {"diagnostics": [], "summary": {}}
    check("check --json collapse: uncollapsed chain is a warning",
          r.rc == 0 and [(x["kind"], x["severity"], places(x))
                         for x in d["diagnostics"]]
          == [("uncollapsed", "warning", [(pc, 1), (pc, 2)])]
          and d["summary"].get("chains_mode") == "collapse", repr(r))
    r = Run([b, "check", "--json", "--chains", "off", rules])
    d = json_doc(r) or {"summary": {}}
    check("check --json --chains off: chains null",
          r.rc == 0 and d["summary"].get("chains", 0) is None
          and d["summary"].get("chains_mode") == "off", repr(r))

    many = write(tmp, "jmany.rules", "".join("/d%d /x\n/d%d /y\n" % (i, i)
                                             for i in range(1100)))
    r = Run([b, "check", "--json", many])
    d = json_doc(r) or {"diagnostics": [], "summary": {}}
    check("check --json past the caps: 1000 warnings kept, 100 dropped",
          r.rc == 0 and len(d["diagnostics"]) == 1000
          and d["summary"].get("warnings") == 1000
          and d["summary"].get("dropped") == 100, repr(d)[:500])

    latin1 = os.path.join(os.fsencode(tmp), b"caf\xe9.rules")
    with open(latin1, "wb") as f:
        f.write(b"/a /b\n/a /c\n")
    r = Run([b, "check", "--json", latin1])
    d = json_doc(r) or {"files": [""]}
    check("check --json: a file name that is not UTF-8 gives valid JSON",
          r.rc == 0 and d["files"][0].endswith("caf\ufffd.rules"), repr(r))

    r = Run([b, "check", "--help"])
    check("check --help documents --json", r.rc == 0 and "--json" in r.out,
          repr(r))
    r = Run([b, "test", "--json", rules, "--", "/old-page"])
    check("--json is for check only: test exits 2",
          r.rc == 2 and "unknown option --json" in r.err, repr(r))
    r = Run([b, "check", "--json"])
    check("check --json without a file: exit 2, nothing on stdout",
          r.rc == 2 and r.out == "" and "no rules file" in r.err, repr(r))


def answers(out):
    return [line.split("\t") for line in out.splitlines()]


def t_test(b, tmp, rules):
    urls = ["/old-page", "/old-page?x=1", "http://Example.COM:80/promo?a=b",
            "https://h:8443/docs/a%20b/c?q=1", "/docs", "/retired",
            "/index.php?id=42", "/index.php?id=42&x=1", "/LEGAL",
            "/caf%C3%A9", "/café", "/nothing", "/x%2Fy", "/a%00",
            "/a/../../x", "/%zz", "/a/%2e%2e/old-page", "//old-page/",
            "/old-page#frag"]
    r = Run([b, "test", rules, "--"] + urls)
    check("test: exit 0", r.rc == 0, repr(r))
    a = answers(r.out)
    want = [
        ["/old-page", "307", "/new-page", rules + ":2"],
        ["/old-page?x=1", "307", "/new-page?x=1", rules + ":2"],
        ["http://Example.COM:80/promo?a=b", "302",
         "https://shop.example.com/sale?a=b", rules + ":3"],
        ["https://h:8443/docs/a%20b/c?q=1", "301",
         "https://docs.example.com/v2/a%20b/c?q=1", rules + ":4"],
        ["/docs", "301", "https://docs.example.com/v2/", rules + ":4"],
        ["/retired", "410", "-", rules + ":6"],
        ["/index.php?id=42", "308", "/products/blue-widget", rules + ":5"],
        ["/index.php?id=42&x=1", "no match"],
        ["/LEGAL", "301", "/legal", rules + ":7"],
        ["/caf%C3%A9", "307", "/coffee", rules + ":8"],
        ["/café", "307", "/coffee", rules + ":8"],
        ["/nothing", "no match"],
    ]
    for i, w in enumerate(want):
        got = a[i] if i < len(a) else None
        check("test answer %s" % w[0], got == w, "got %r want %r" % (got, w))
    rej = {"/x%2Fy": "404", "/a%00": "404", "/a/../../x": "400",
           "/%zz": "400"}
    for i in range(12, 16):
        got = a[i] if i < len(a) else [""]
        check("test rejected %s" % urls[i], len(got) == 2
              and got[0] == urls[i]
              and got[1].startswith("rejected by httpd (%s)" % rej[urls[i]]),
              repr(got))
    for i in (16, 17, 18):
        got = a[i] if i < len(a) else [""]
        check("test normalised %s" % urls[i],
              got[1:3] == ["307", "/new-page"], repr(got))
    r = Run([b, "test", rules, "http://example.com/old-page"])
    check("test: absolute URL before -- gets a host-based Location",
          r.rc == 0 and answers(r.out) == [["http://example.com/old-page",
                                            "307",
                                            "http://example.com/new-page",
                                            rules + ":2"]], repr(r))
    r = Run([b, "test", "--default", "301", rules, "--", "/old-page"])
    check("test --default", answers(r.out)[0][1:2] == ["301"], repr(r))
    r = Run([b, "test", "--chains", "collapse", rules, "--", "/hop1"])
    check("test --chains collapse answers the final target",
          answers(r.out) == [["/hop1", "301", "/hop3", rules + ":9"]], repr(r))
    r = Run([b, "test", "--allow-encoded-slashes", "on", rules, "--",
             "/docs%2Fx"])
    check("test --allow-encoded-slashes on decodes %2F",
          answers(r.out)[0][1:3] == ["301", "https://docs.example.com/v2/x"],
          repr(r))
    r = Run([b, "test", "--allow-encoded-slashes", "nodecode", rules, "--",
             "/docs/a%2Fb"])
    check("test --allow-encoded-slashes nodecode keeps %2F",
          answers(r.out)[0][1:3] == ["301",
                                     "https://docs.example.com/v2/a%252Fb"],
          repr(r))
    # stdin batches
    batch = "/old-page\n\n# comment\nhttp://x.example/promo\n/nothing\r\n"
    r = Run([b, "test", rules], stdin=batch.encode())
    a = answers(r.out)
    check("test stdin batch (no URL given)", r.rc == 0 and len(a) == 3
          and a[0][1] == "307" and a[1][2] == "https://shop.example.com/sale"
          and a[2] == ["/nothing", "no match"], repr(r))
    r = Run([b, "test", rules, "--", "/promo", "-", "/retired"],
            stdin=b"/old-page\n")
    a = answers(r.out)
    check("test '-' reads stdin in place", [x[0] for x in a]
          == ["/promo", "/old-page", "/retired"], repr(r))
    r = Run([b, "test", rules], stdin=b"/old-page\nnot-a-url\nftp://x/y\n")
    check("test bad URL in batch: exit 2, line named, rest answered",
          r.rc == 2 and "-:2: bad URL 'not-a-url'" in r.err
          and "-:3:" in r.err and len(answers(r.out)) == 1, repr(r))
    r = Run([b, "test", rules, "--", "relative"])
    check("test bad URL argument: exit 2", r.rc == 2
          and "bad URL" in r.err, repr(r))
    bad = write(tmp, "bad2.rules", "/a\n")
    r = Run([b, "test", bad, "--", "/a"])
    check("test with a broken rules file: exit 1, nothing answered",
          r.rc == 1 and r.out == "" and "error:" in r.err, repr(r))
    n = 20000
    batch = "".join("/docs/p%d?i=%d\n" % (i, i) for i in range(n))
    t0 = time.time()
    r = Run([b, "test", rules], stdin=batch.encode())
    a = answers(r.out)
    check("test 20k-URL stdin batch", r.rc == 0 and len(a) == n
          and a[-1][2] == "https://docs.example.com/v2/p%d?i=%d"
          % (n - 1, n - 1), "rc=%d lines=%d" % (r.rc, len(a)))
    check("test 20k batch under 5 s", time.time() - t0 < 5)


EXPECT_OK = """\
# URL                            STATUS  LOCATION
/old-page                        307     /new-page
http://example.com/old-page      307     http://example.com/new-page
https://example.com/docs/a?x=1   301     https://docs.example.com/v2/a?x=1
/retired                         410     -
/retired                         410
/nothing                         no-match
/x%2Fy                           rejected
/x%2Fy                           404
/a/../..                         400     -   # trailing comment
"""


def t_expect(b, tmp, rules):
    exp = write(tmp, "ok.expect", EXPECT_OK)
    r = Run([b, "test", rules, "--expect", exp])
    check("expect all pass: exit 0", r.rc == 0
          and r.out.strip() == "9 expectations: 9 passed, 0 failed", repr(r))
    r = Run([b, "test", rules, "--expect", "-"], stdin=EXPECT_OK.encode())
    check("expect from stdin", r.rc == 0 and "9 passed" in r.out, repr(r))
    r = Run([b, "test", "-v", rules, "--expect", exp])
    check("expect -v prints every answer",
          r.rc == 0 and len(r.out.splitlines()) == 10, repr(r))
    fail = write(tmp, "fail.expect", "/old-page 301 /new-page\n"
                 "/old-page 307 /elsewhere\n/nothing 307 /x\n"
                 "/old-page no-match\n/retired 410 -\n/x%2Fy no-match\n")
    r = Run([b, "test", rules, "--expect", fail])
    check("expect failures: exit 1", r.rc == 1, repr(r))
    check("expect failures: summary", "6 expectations: 1 passed, 5 failed"
          in r.out, repr(r))
    check("expect failure names the expectation line and the rule",
          "FAIL %s:1: /old-page: expected 301 /new-page, got 307 /new-page "
          "(rule %s:2)" % (fail, rules) in r.out, repr(r))
    check("expect failure for a miss", "FAIL %s:3: /nothing: expected 307 /x,"
          " got no-match" % fail in r.out, repr(r))
    check("expect failure for a rejection", "got rejected by httpd (404)"
          in r.out, repr(r))
    malformed = write(tmp, "bad.expect", "/old-page\n/old-page 999 /x\n"
                      "/old-page 301\n/a no-match extra\n"
                      "nopath 307 /x\n/old-page 307 /new-page\n")
    r = Run([b, "test", rules, "--expect", malformed])
    check("expect malformed lines: exit 2, each named",
          r.rc == 2 and all("%s:%d:" % (malformed, i) in r.err
                            for i in (1, 2, 3, 4, 5))
          and "1 expectation: 1 passed" in r.out, repr(r))


ALIAS = """\
# Old site (httpd.conf / .htaccess)
Redirect /old-page https://example.com/new-page
Redirect permanent /docs https://docs.example.com/v2
RedirectPermanent "/with space" /spaced
RedirectTemp /temp /elsewhere/
Redirect 303 /form /thanks
Redirect gone /retired
Redirect 410 /retired2
Redirect seeother /see /other
Redirect 404 /missing
Redirect 301 /dir/ /newdir/
Redirect /café /coffee
Redirect /100% /percent
RedirectMatch 301 ^/blog/(.*)$ https://blog.example.com/$1
Redirect permanent /long \\
    /continued
<If "%{HTTP_HOST} == 'old.example.com'">
    Redirect /cond /x
</If>
<VirtualHost *:80>
  ServerName a.example
  Redirect /vh /vhost-target
</VirtualHost>
<Location /loc>
  Redirect /target
</Location>
RewriteRule ^/old$ /new [R=301,L]
RewriteRule ^/internal$ /other.html [L]
Redirect /loop1 /loop2
Redirect /loop2 /loop1
Redirect /old-page /dup
Redirect /bad relative-target
Redirect /a /b /c /d
redirect /lower https://example.org/
"""


def t_import_alias(b, tmp):
    src = write(tmp, "site.conf", ALIAS)
    r = Run([b, "import", "--from", "alias", src])
    check("import alias with skipped lines: exit 1", r.rc == 1, repr(r))
    rules = [l for l in r.out.splitlines() if not l.startswith("#")]
    want = [
        "/old-page/* https://example.com/new-page/* 302",
        "/docs/* https://docs.example.com/v2/* 301",
        "/with%20space/* /spaced/* 301",
        "/temp/* /elsewhere/* 302",
        "/form/* /thanks/* 303",
        "/retired/* - 410",
        "/retired2/* - 410",
        "/see/* /other/* 303",
        "/dir/* /newdir/* 301",
        "/caf%C3%A9/* /coffee/* 302",
        "/100%25/* /percent/* 302",
        "/long/* /continued/* 301",
        "/vh/* /vhost-target/* 302",
        "/loop2/* /loop1/* 302",
        "/lower/* https://example.org/* 302",
    ]
    check("import alias output", rules == want,
          "\n".join(rules) + "\n" + r.err)
    for ln, word in ((10, "status 404"), (14, "RedirectMatch"),
                     (18, "<If>"), (25, "<Location>"), (27, "RewriteRule"),
                     (29, "redirect loop"), (32, "relative-target"),
                     (33, "4 arguments")):
        check("import alias: %s:%d not converted (%s)" % (src, ln, word),
              any(l.startswith("%s:%d: not converted:" % (src, ln))
                  and word in l for l in r.err.splitlines()), r.err)
    check("import alias: RewriteRule without R is not a redirect",
          "%s:28:" % src not in r.err, r.err)
    check("import alias: duplicate noted, not counted",
          "%s:31: note: duplicate source" % src in r.err, r.err)
    check("import alias: trailing-slash source noted",
          "%s:11: note:" % src in r.err, r.err)
    check("import alias: vhost noted", "%s:22: note:" % src in r.err, r.err)
    check("import alias: summary on stderr",
          "15 rules written, 8 entries not converted" in r.err, r.err)
    out = write(tmp, "alias.rules", r.out)
    c = Run([b, "check", out])
    check("import alias output passes check", c.rc == 0
          and "15 rules" in c.out and "warning" not in c.err, repr(c))
    t = Run([b, "test", out, "--", "/old-page", "/old-page/a/b?x=1",
             "/old-pagex", "/with%20space/q", "/100%25", "/lower"])
    a = answers(t.out)
    check("imported mod_alias prefix semantics", a == [
        ["/old-page", "302", "https://example.com/new-page/", out + ":2"],
        ["/old-page/a/b?x=1", "302", "https://example.com/new-page/a/b?x=1",
         out + ":2"],
        ["/old-pagex", "no match"],
        ["/with%20space/q", "301", "/spaced/q", out + ":4"],
        ["/100%25", "302", "/percent/", out + ":12"],
        ["/lower", "302", "https://example.org/", out + ":16"],
    ], repr(t))
    clean = write(tmp, "clean.conf", "Redirect /a /b\nRedirect 301 /c "
                  "http://x.example/d\n")
    r = Run([b, "import", "--from", "alias", clean])
    check("import alias all converted: exit 0", r.rc == 0, repr(r))
    r = Run([b, "import", "--from", "alias", "-"],
            stdin=b"Redirect /s /t\n")
    check("import alias from stdin", r.rc == 0
          and "/s/* /t/* 302" in r.out and "-:1" not in r.err, repr(r))


NGINX = """\
http {
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }
    map $uri $new_uri {
        default "";
        hostnames;
        /old-page            /new-page;
        /Promo               https://shop.example.com/sale;
        "/with space"        /spaced;
        '/quoted'            "/target";
        /café                /coffee;
        ~^/blog/(.*)$        /articles/$1;
        ~*^/IMG/             /images/;
        /var                 $scheme://x/y;
        /bad;
        include more.map;
    }
    map $request_uri $legacy {
        /index.php?id=42     /products/blue-widget;
    }
    server {
        listen 80;
        if ($new_uri) {
            return 301 $new_uri;
        }
        if ($legacy) { rewrite ^ $legacy redirect; }
    }
}
"""


def t_import_nginx(b, tmp):
    src = write(tmp, "site.nginx", NGINX)
    r = Run([b, "import", "--from", "nginx", src])
    check("import nginx with skipped lines: exit 1", r.rc == 1, repr(r))
    rules = [l for l in r.out.splitlines() if not l.startswith("#")]
    want = [
        "/old-page /new-page 301 nocase",
        "/Promo https://shop.example.com/sale 301 nocase",
        "/with%20space /spaced 301 nocase",
        "/quoted /target 301 nocase",
        "/caf%C3%A9 /coffee 301 nocase",
        "/index.php?id=42 /products/blue-widget 302 nocase",
    ]
    check("import nginx output", rules == want,
          "\n".join(rules) + "\n" + r.err)
    for ln, word in ((14, "regular expression"), (15, "regular expression"),
                     (16, "variables"), (17, "SOURCE TARGET"),
                     (18, "include")):
        check("import nginx: line %d not converted (%s)" % (ln, word),
              any(l.startswith("%s:%d: not converted:" % (src, ln))
                  and word in l for l in r.err.splitlines()), r.err)
    check("import nginx: other maps ignored with a note",
          "%s:2: note: map $http_upgrade" % src in r.err, r.err)
    check("import nginx: default/hostnames skipped silently",
          "%s:7:" % src not in r.err and "%s:8:" % src not in r.err, r.err)
    out = write(tmp, "nginx.rules", r.out)
    c = Run([b, "check", out])
    check("import nginx output passes check", c.rc == 0, repr(c))
    t = Run([b, "test", out, "--", "/PROMO", "/index.php?id=42",
             "/with%20space"])
    a = answers(t.out)
    check("imported nginx answers", [x[1:3] for x in a] == [
        ["301", "https://shop.example.com/sale"],
        ["302", "/products/blue-widget"], ["301", "/spaced"]], repr(t))
    r = Run([b, "import", "--from", "nginx", "--status", "308", "-"],
            stdin=b"map $uri $to {\n  /a /b;\n  /c /d;\n}\n")
    check("import nginx --status and exit 0", r.rc == 0 and
          "/a /b 308 nocase\n/c /d 308 nocase\n" in r.out, repr(r))


CSV = (b"\xef\xbb\xbfsource,target,regex,code,type,hits,title,status\r\n"
       b'"/old-page","/new-page",0,301,"url",12,"Old page","active"\r\n'
       b'"/blog/(.*)","/articles/$1",1,301,"url",3,"","active"\r\n'
       b'"/promo?utm=1","https://shop.example.com/sale",0,302,"url",0,'
       b'"Promo, with comma","active"\r\n'
       b'"/gone","",0,410,"error",0,"","active"\r\n'
       b'"/missing","",0,404,"error",0,"","active"\r\n'
       b'"/disabled","/x",0,301,"url",0,"","disabled"\r\n'
       b'"/caf\xc3\xa9","/coffee",0,307,"url",0,"Caf\xc3\xa9 ""q""","active"'
       b'\r\n'
       b'"/multi","/target",0,308,"url",0,"line one\nline two","active"\r\n'
       b'"/random","",0,301,"random",0,"","active"\r\n'
       b'"/with space","/spaced",0,301,"url",0,"","active"\r\n'
       b'"/after","/after-target",0,301,"url",0,"","active"\r\n')


def t_import_csv(b, tmp):
    src = write(tmp, "redirection.csv", CSV, "wb")
    r = Run([b, "import", "--from", "csv", src])
    check("import csv with skipped rows: exit 1", r.rc == 1, repr(r))
    rules = [l for l in r.out.splitlines() if not l.startswith("#")]
    want = [
        "/old-page /new-page 301",
        "/promo?utm=1 https://shop.example.com/sale 302",
        "/gone - 410",
        "/caf%C3%A9 /coffee 307",
        "/multi /target 308",
        "/with%20space /spaced 301",
        "/after /after-target 301",
    ]
    check("import csv output", rules == want, "\n".join(rules) + "\n" + r.err)
    for ln, word in ((3, "regular expression"), (6, "status 404"),
                     (11, "random")):
        check("import csv: line %d not converted (%s)" % (ln, word),
              any(l.startswith("%s:%d: not converted:" % (src, ln))
                  and word in l for l in r.err.splitlines()), r.err)
    check("import csv: disabled row noted",
          "%s:7: note:" % src in r.err, r.err)
    out = write(tmp, "csv.rules", r.out)
    c = Run([b, "check", out])
    check("import csv output passes check", c.rc == 0, repr(c))
    t = Run([b, "test", out, "--", "/promo?utm=1", "/gone", "/café"])
    check("imported csv answers", [x[1:3] for x in answers(t.out)] == [
        ["302", "https://shop.example.com/sale"], ["410", "-"],
        ["307", "/coffee"]], repr(t))
    r = Run([b, "import", "--from", "csv", "-"],
            stdin=b"/x;/y;0;301\n/a|b;/c;0;302\n")
    check("import csv headerless ';' rows: exit 0", r.rc == 0
          and "/x /y 301\n/a%7Cb /c 302\n" in r.out, repr(r))
    r = Run([b, "import", "--from", "csv", "-"],
            stdin=b"Title,Source,Target,Code\nx,/a,/b,308\n")
    check("import csv header in another order", r.rc == 0
          and "/a /b 308" in r.out, repr(r))


def t_import_corners(b, tmp):
    r = Run([b, "import", "--from", "nginx", "-"],
            stdin=b"map $uri $z { /a /x; /a /y; /b /z; }\n"
                  b"map $uri $w { /l1 /l2; /l2 /l1; /q /r; }\n")
    rules = [l for l in r.out.splitlines() if not l.startswith("#")]
    check("import: duplicates and loops among entries on one line",
          r.rc == 1 and rules == ["/a /x nocase", "/b /z nocase",
                                  "/l2 /l1 nocase", "/q /r nocase"]
          and "-:1: note: duplicate source" in r.err
          and "-:2: not converted: redirect loop" in r.err, repr(r))
    q = "&".join("a%d=1" % i for i in range(40))
    rows = "".join("/q%d?%s,/y,0,301\n" % (i, q) for i in range(20))
    rows += "/%s,/y,0,301\n" % ("x" * 9000)
    r = Run([b, "import", "--from", "csv", "-"], stdin=rows.encode())
    last = r.err.splitlines()[-2] if len(r.err.splitlines()) > 1 else ""
    check("import: each refused row has its own reason, past 20 of them",
          r.rc == 1 and last.startswith("-:21: not converted: line longer")
          and "21 entries not converted" in r.err, last[:200])
    r = Run([b, "import", "--from", "nginx", "-"],
            stdin=b"map $uri $a {\n/a\0x /b;\n/c /d;\n}\n")
    check("import nginx: a NUL byte ends the input's word, not the import",
          r.rc == 0 and "/c /d nocase" in r.out, repr(r))
    ab = write(tmp, "ab.rules", "/a /b\n")
    r = Run([b, "test", ab, "--", "http://h:4294967376/a",
             "http://h:0080/a"])
    check("test: a port past 65535 is a bad port, however long",
          r.rc == 2 and "'http://h:4294967376/a': bad port" in r.err
          and answers(r.out) == [["http://h:0080/a", "307", "http://h/b",
                                  ab + ":1"]], repr(r))


def t_import_big(b, tmp):
    n = 100000
    src = os.path.join(tmp, "big.conf")
    with open(src, "w") as f:
        for i in range(n):
            f.write("Redirect 301 /old/s%d/page-%d https://new.example.com/"
                    "s%d/p%d\n" % (i % 97, i, i % 97, i))
    t0 = time.time()
    r = Run([b, "import", "--from", "alias", src])
    check("import 100k: exit 0", r.rc == 0, r.err[-500:])
    out = write(tmp, "big.rules", r.out)
    check("import 100k: 100k rules", r.out.count("\n") == n + 1)
    c = Run([b, "check", out])
    check("import 100k: check passes", c.rc == 0
          and ("ok: %d rules" % n) in c.out, repr(c))
    sample = list(range(0, n, 997)) + [n - 1]
    exp = "".join("/old/s%d/page-%d/x?q=%d 301 https://new.example.com/s%d/"
                  "p%d/x?q=%d\n" % (i % 97, i, i, i % 97, i, i)
                  for i in sample)
    exp += "/old/s1/page-%d no-match\n" % (n + 1)
    e = write(tmp, "big.expect", exp)
    t = Run([b, "test", out, "--expect", e])
    check("import 100k: sample answers", t.rc == 0 and
          "%d expectations: %d passed, 0 failed" % (len(sample) + 1,
                                                   len(sample) + 1) in t.out,
          repr(t)[-800:])
    check("import 100k round trip under 15 s", time.time() - t0 < 15)


HOST_RULES = """\
//old.example.com/a /x
/a /y
https://shop.example/b /s 301
//*.example.org/w https://new.example/w 308
/p?id=61 /p/61 301
/q /r 302 qsnone
/u?utm_source=x /never
"""


def t_hosts_and_params(b, tmp):
    rules = write(tmp, "hosts.rules", HOST_RULES)
    urls = ["http://OLD.example.com:8080/a", "http://new.example.com/a",
            "https://shop.example/b", "http://shop.example/b",
            "http://x.example.org/w", "http://example.org/w",
            "http://h/p?gclid=1&id=61&utm_source=n", "http://h/q?gclid=2",
            "http://h/q?x=1"]
    r = Run([b, "test", rules, "--", "/a"] + urls)
    a = answers(r.out)
    want = [
        ["/a", "307", "/y", rules + ":2"],
        [urls[0], "307", "http://old.example.com:8080/x", rules + ":1"],
        [urls[1], "307", "http://new.example.com/y", rules + ":2"],
        [urls[2], "301", "https://shop.example/s", rules + ":3"],
        [urls[3], "no match"],
        [urls[4], "308", "https://new.example/w", rules + ":4"],
        [urls[5], "no match"],
        [urls[6], "301", "http://h/p/61?gclid=1&utm_source=n", rules + ":5"],
        [urls[7], "302", "http://h/r?gclid=2", rules + ":6"],
        [urls[8], "no match"],
    ]
    check("hosts: test exit 0", r.rc == 0, repr(r))
    for i, w in enumerate(want):
        got = a[i] if i < len(a) else None
        check("hosts: test answer %s" % w[0], got == w,
              "got %r want %r" % (got, w))
    r = Run([b, "test", "--ignore-params", "none", rules, "--",
             "http://h/p?gclid=1&id=61", "http://h/q?gclid=2"])
    check("ignore-params none: tracking parameters count again",
          answers(r.out) == [["http://h/p?gclid=1&id=61", "no match"],
                             ["http://h/q?gclid=2", "no match"]], repr(r))
    r = Run([b, "test", "--ignore-params", "ref,trk_*", rules, "--",
             "/p?id=61&ref=a&trk_x=b", "/p?id=61&gclid=1"])
    check("ignore-params list: own names replace the default",
          answers(r.out) == [["/p?id=61&ref=a&trk_x=b", "301",
                              "/p/61?ref=a&trk_x=b", rules + ":5"],
                             ["/p?id=61&gclid=1", "no match"]], repr(r))
    r = Run([b, "check", "--ignore-params", "a*b", rules])
    check("ignore-params: a bad name is a usage error (exit 2)",
          r.rc == 2 and "'a*b'" in r.err, repr(r))
    r = Run([b, "check", "--json", rules])
    doc = json_doc(r)
    kinds = [(d["kind"], places(d)) for d in doc.get("diagnostics", [])]
    check("check --json: a query rule on an ignored parameter is "
          "'unmatchable' at its line",
          r.rc == 0 and kinds == [("unmatchable", [(rules, 7)])],
          repr(kinds))
    bad = write(tmp, "badhost.rules", "/ok /fine\n//exa_mple.com/a /b\n"
                "//a.example:8080/a /b\n//a.*.example/a /b\n")
    r = Run([b, "check", bad])
    check("check: bad hosts are FILE:LINE errors, exit 1",
          r.rc == 1 and all("%s:%d: " % (bad, n) in r.err
                            for n in (2, 3, 4)), repr(r))


def t_man(man):
    if not shutil.which("man"):
        check("man page exists", os.path.exists(man))
        return
    p = subprocess.run(["man", "--warnings", "-l", man], capture_output=True,
                       env=dict(os.environ, MANWIDTH="80", MANPAGER="cat",
                                PAGER="cat", LC_ALL="C.UTF-8"))
    out = p.stdout.decode("utf-8", "replace")
    check("man page renders", p.returncode == 0 and "REDIRECT307(1)" in out
          and "EXIT STATUS" in out, p.stderr.decode())
    check("man page renders without warnings", p.stderr == b"",
          p.stderr.decode())


# ---------------------------------------------------------------------------
# prune: DURATION, the stats file, removal byte for byte, keys
# ---------------------------------------------------------------------------

DAY = 86400


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def stats_text(since, entries):
    """A stats file: entries are (hits, last, key)."""
    head = "redirect307-stats 1" + (" since=%d" % since if since else "")
    return head + "\n" + "".join("%d\t%d\t%s\n" % e for e in entries)


def aged(path, days):
    """Sets path's modification time `days` ago."""
    t = time.time() - days * DAY
    os.utime(path, (t, t))
    return path


def without_lines(text, numbers):
    """text without the lines (1-based) in numbers, line ends kept."""
    lines = text.splitlines(keepends=True)
    return "".join(l for i, l in enumerate(lines, 1) if i not in numbers)


# A rules file with everything prune must keep byte for byte: comments,
# blank lines, CRLF line ends, tabs, a trailing comment, no final newline.
PRUNE_RULES = (
    "# stale redirects\r\n"                                 # 1
    "/p-hit        /t1   301\n"                             # 2
    "\n"                                                    # 3
    "/p-stale\t/t2\t302   # hit long ago\r\n"               # 4
    "   # indented comment\n"                               # 5
    "/p-never      /t3\n"                                   # 6
    "/p-exp        /t4   307   until=2030-01-01\n"          # 7
    "/p-win        /t5   307   from=2030-05-01\n"           # 8
    "/p-q?b=2&a=%31  /t6\n"                                 # 9
    "//Host.Example/p-h  /t7\n"                             # 10
    "https://*.example.org/p-w/*  /t8/*\n"                  # 11
    "/P-Case       /t9   301   nocase\n"                    # 12
    "/p-slash/     /t10\n"                                  # 13
    "/p-last       /t11")                                   # 14


def t_prune(b, tmp):
    now = int(time.time())
    rules = aged(write(tmp, "prune.rules", PRUNE_RULES), 400)
    hist = [(5, now - DAY, "/p-hit"), (9, now - 200 * DAY, "/p-stale"),
            (1, now - 2 * DAY, "/p-q?a=1&b=2"),
            (2, now - 3 * DAY, "//host.example/p-h"),
            (4, now - 4 * DAY, "https://*.example.org/p-w/*"),
            (1, now - 5 * DAY, "/P-Case"), (1, now - 6 * DAY, "/p-slash/"),
            (1, now - 7 * DAY, "/p-last")]
    stats = write(tmp, "prune.stats", stats_text(now - 365 * DAY, hist))
    base = [b, "prune", rules, "--stats", stats]

    for d in ("90d", "12w", "6m", "1d", "36500d"):
        r = Run(base + ["--unused-for", d])
        check("prune --unused-for %s: exit 0" % d, r.rc == 0, repr(r))
    for d in ("", "90", "d", "0d", "0w", "90x", "-1d", "1.5d", "90D",
              "36501d", "5215w", "1217m", "9999999d", "90dd", " 90d"):
        r = Run(base + ["--unused-for", d])
        check("prune --unused-for %r: exit 2" % d,
              r.rc == 2 and "--unused-for" in r.err and r.out == "", repr(r))

    # what goes and what stays, as at 2030-03-01 (the expired rule's
    # until= has passed, the window of line 8 has not opened)
    at = ["--at", "2030-03-01T00:00:00Z"]
    r = Run(base + ["--unused-for", "90d", "--at", iso(now)])
    want_err = [
        "%s:4: removed: last hit %s" % (rules, iso(now - 200 * DAY)),
        "%s:6: removed: never hit" % rules,
        "%s:7: removed: never hit" % rules,
        "redirect307: 3 of 11 rules removed (3 not hit for 90d, 0 expired)"]
    check("prune: exit 0", r.rc == 0, repr(r))
    check("prune: the rest byte for byte",
          r.out == without_lines(PRUNE_RULES, {4, 6, 7}), repr(r))
    check("prune: one report line per removed rule, then the summary",
          r.err.splitlines() == want_err, repr(r))
    r = Run(base + ["--unused-for", "90d", "--expired"] + at)
    want_err = [
        "%s:2: removed: last hit %s" % (rules, iso(now - DAY)),
        "%s:4: removed: last hit %s" % (rules, iso(now - 200 * DAY)),
        "%s:6: removed: never hit" % rules,
        "%s:7: removed: expired at 2030-01-01T00:00:00Z (until=), never hit"
        % rules]
    check("prune --expired --at: expired and unused rules go, the window "
          "not yet open stays", r.rc == 0
          and r.err.splitlines()[:4] == want_err
          and r.out.startswith("# stale redirects\r\n\n   # indented")
          and "/p-win " in r.out and "/p-exp " not in r.out, repr(r))
    r = Run([b, "prune", "--expired", "--at", "2030-03-01", rules])
    check("prune --expired alone: no history needed, no hit reported",
          r.rc == 0 and r.err.splitlines() == [
              "%s:7: removed: expired at 2030-01-01T00:00:00Z (until=)"
              % rules, "redirect307: 1 of 11 rules removed (0 not hit for -, "
              "1 expired)"] and r.out == without_lines(PRUNE_RULES, {7}),
          repr(r))

    # a rule never hit is removed only when the history and its file are
    # both older than the span
    young = write(tmp, "young.rules", "/p-hit /t1\n/p-never /t3\n")
    r = Run([b, "prune", young, "--stats", stats, "--unused-for", "90d"])
    check("prune: never hit in a file changed within the span: kept, noted",
          r.rc == 0 and r.out == "/p-hit /t1\n/p-never /t3\n"
          and "note: %s: 1 rule never hit was kept: the file changed" % young
          in r.err and "less than 90d ago" in r.err, repr(r))
    fresh = write(tmp, "fresh.stats", stats_text(now - 10 * DAY, hist))
    r = Run([b, "prune", rules, "--stats", fresh, "--unused-for", "90d"])
    check("prune: never hit under a history younger than the span: kept",
          r.rc == 0 and ":6: removed" not in r.err
          and ":4: removed: last hit" in r.err
          and "2 rules never hit were kept: the history begins %s"
          % iso(now - 10 * DAY) in r.err, repr(r))
    nosince = write(tmp, "nosince.stats", stats_text(0, hist))
    r = Run([b, "prune", rules, "--stats", nosince, "--unused-for", "90d"])
    check("prune: a history without since= removes no rule never hit",
          r.rc == 0 and ":6: removed" not in r.err
          and "does not say when it began" in r.err, repr(r))
    r = Run([b, "prune", "-", "--stats", stats, "--unused-for", "90d"],
            stdin=PRUNE_RULES.encode())
    check("prune -: rules from stdin, their age unknown",
          r.rc == 0 and "-:4: removed: last hit" in r.err
          and ":6: removed" not in r.err
          and "age of standard input is not known" in r.err, repr(r))
    r = Run([b, "prune", rules, "--stats", "-", "--unused-for", "90d"],
            stdin=stats_text(now - 365 * DAY, hist).encode())
    check("prune --stats -: the history from stdin",
          r.rc == 0 and r.out == without_lines(PRUNE_RULES, {4, 6, 7}),
          repr(r))
    r = Run([b, "prune", rules, "--stats", stats, "--unused-for", "90d",
             "--at", iso(now - 150 * DAY)])
    check("prune --at: the span ends at TIME",
          r.rc == 0 and ":4: removed" not in r.err, repr(r))

    t_prune_keys(b, tmp, now)
    t_prune_in_place(b, tmp, now)
    t_prune_errors(b, tmp, now, rules, stats)


def key_escape(bs, in_param):
    """The stats file's escaping of a rule's decoded bytes."""
    out = ""
    for c in bs:
        if c < 0x21 or c >= 0x7f or chr(c) in "%?#*" or (in_param
                                                         and c == 0x26):
            out += "%%%02X" % c
        else:
            out += chr(c)
    return out


def t_prune_keys(b, tmp, now):
    """Every byte class in a source path and in a query parameter: the
    keys written here by the rules of r307_statsfmt.h must name exactly
    the rules httpd would, else the rule counts as never hit and goes."""
    lines, hist = [], []
    for c in list(range(0x20, 0x7f)) + list(range(0x80, 0x100)):
        if chr(c) in "./":
            continue
        lines.append("/k%%%02X/x  /t" % c)
        hist.append((1, now, key_escape(b"/k" + bytes([c]) + b"/x", False)))
    for c in range(0x100):
        lines.append("/kq?p=%%%02X&z=1  /t" % c)
        hist.append((1, now, "/kq?" + "&".join(sorted(
            [key_escape(b"p=" + bytes([c]), True), "z=1"]))))
    # a '%' that starts no escape is itself; empty parameters do not
    # count, repeated ones do; '+' is no space; a literal star is no prefix
    for line, key in (("/kx?p=%zz", "/kx?p=%25zz"), ("/ky?p=%4", "/ky?p=%254"),
                      ("/kz?b=2&&a=1&a=1&", "/kz?a=1&a=1&b=2"),
                      ("/kw?c=a+b", "/kw?c=a+b"), ("/k-prefix/*", "/k-prefix/*"),
                      ("/k-lit/%2A", "/k-lit/%2A"), ("/k-lit2/%2A/*",
                                                     "/k-lit2/%2A/*"),
                      ("//[::1]/k6", "//[::1]/k6"),
                      ("http://K.Example/kh?x=%41", "http://k.example/kh?x=A"),
                      ("/K%c3%a9", "/K%C3%A9")):
        lines.append("%s  /t" % line)
        hist.append((1, now, key))
    lines.append("/k-decoy  /t")
    path = aged(write(tmp, "keys.rules", "\n".join(lines) + "\n"), 400)
    stats = write(tmp, "keys.stats", stats_text(now - 400 * DAY, hist))
    r = Run([b, "prune", path, "--stats", stats, "--unused-for", "30d"])
    n = len(lines)
    check("prune keys: every byte class of paths and parameters matches",
          r.rc == 0 and r.err.splitlines() == [
              "%s:%d: removed: never hit" % (path, n),
              "redirect307: 1 of %d rules removed (1 not hit for 30d, "
              "0 expired)" % n], repr(r)[:3000])


def t_prune_in_place(b, tmp, now):
    one = aged(write(tmp, "one.rules", "# one\n/i-hit /t\n/i-old /t\n"), 400)
    two = aged(write(tmp, "two.rules", "/i-two /t\n"), 400)
    three = aged(write(tmp, "three.rules", "/i-three /t\n"), 400)
    os.chmod(one, 0o640)
    stats = write(tmp, "inplace.stats", stats_text(
        now - 400 * DAY, [(1, now, "/i-hit"), (1, now - 100 * DAY, "/i-old"),
                          (2, now, "/i-three")]))
    r = Run([b, "prune", "--in-place", one, two, three, "--stats", stats,
             "--unused-for", "90d"])
    check("prune --in-place: each file rewritten, nothing on stdout",
          r.rc == 0 and r.out == ""
          and open(one).read() == "# one\n/i-hit /t\n"
          and open(two).read() == ""
          and open(three).read() == "/i-three /t\n", repr(r))
    check("prune --in-place: the old files kept as .bak, the mode too",
          open(one + ".bak").read() == "# one\n/i-hit /t\n/i-old /t\n"
          and open(two + ".bak").read() == "/i-two /t\n"
          and not os.path.exists(three + ".bak")
          and os.stat(one).st_mode & 0o777 == 0o640)
    check("prune --in-place: no temporary file left",
          not [f for f in os.listdir(tmp) if ".rules." in f
               and not f.endswith(".bak")], os.listdir(tmp))


def t_prune_errors(b, tmp, now, rules, stats):
    head = stats_text(now - 400 * DAY, [])
    cases = [
        ([b, "prune", rules], "--unused-for DURATION, --expired"),
        ([b, "prune", rules, "--unused-for", "90d"], "needs the hit history"),
        ([b, "prune", rules, rules, "--stats", stats, "--unused-for", "9d"],
         "--in-place"),
        ([b, "prune", "--in-place", "-", "--expired"], "stdin"),
        ([b, "prune", "-", "--stats", "-", "--unused-for", "9d"], "stdin"),
        ([b, "prune", rules, "--stats", "https://h.example/s",
          "--unused-for", "9d"], "https is not supported"),
        ([b, "prune", rules, "--stats", os.path.join(tmp, "nope.stats"),
          "--unused-for", "9d"], "cannot open"),
        ([b, "prune", os.path.join(tmp, "nope.rules"), "--expired"],
         "cannot open"),
        ([b, "prune", rules, "--json", "--expired"], "unknown option"),
        ([b, "prune", rules, "--stats", write(tmp, "foreign.stats",
                                               "/a /b 301\n"),
          "--unused-for", "9d"],
         "foreign.stats:1: not a redirect307 stats file"),
        ([b, "prune", rules, "--stats", write(tmp, "v2.stats",
                                               "redirect307-stats 2\n"),
          "--unused-for", "9d"], "v2.stats:1: stats file version '2'"),
        ([b, "prune", rules, "--stats", write(
            tmp, "badline.stats", head + "1\t2\t/ok\n1\tx\t/bad\n"),
          "--unused-for", "9d"], "badline.stats:3: LAST is not a number"),
        ([b, "prune", rules, "--stats", write(
            tmp, "blank.stats", head + "1\t2\t/a b\n"),
          "--unused-for", "9d"], "blank.stats:2: KEY holds a blank"),
        ([b, "prune", rules, "--stats", write(
            tmp, "big.stats", head + "18446744073709551616\t2\t/a\n"),
          "--unused-for", "9d"], "big.stats:2: HITS is not a number"),
        ([b, "prune", rules, "--stats", "http://127.0.0.1:1/status",
          "--unused-for", "9d"], "cannot fetch"),
    ]
    for argv, word in cases:
        r = Run(argv)
        check("prune usage or input error %s: exit 2" % " ".join(argv[2:])[-80:],
              r.rc == 2 and word in r.err and r.out == "", repr(r))
    ok = write(tmp, "ok.stats", head + "# a comment\n\n1\t2\t/ok\r\n"
               "18446744073709551615\t2\t/max\n")
    r = Run([b, "prune", rules, "--stats", ok, "--unused-for", "9d"])
    check("prune: comments, blank lines, CRLF and 2^64-1 hits in a stats "
          "file", r.rc == 0, repr(r))
    bad = write(tmp, "bad-prune.rules", "/ok /x\n/lonely\n/a /b\n/b /a\n")
    r = Run([b, "prune", bad, "--expired"])
    check("prune: rules httpd would refuse: exit 1, nothing written",
          r.rc == 1 and r.out == "" and "error: %s:2:" % bad in r.err,
          repr(r))
    loop = write(tmp, "loop-prune.rules", "/a /b\n/b /a\n")
    r = Run([b, "prune", loop, "--expired"])
    check("prune: a loop: exit 1", r.rc == 1 and r.out == ""
          and "redirect loop" in r.err, repr(r))


if __name__ == "__main__":
    main()
