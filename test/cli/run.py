#!/usr/bin/env python3
"""Tests of the redirect307 command-line tool: every subcommand, its errors
and exit codes, check --json, stdin batches, --expect, the three importers
with realistic input, and a 100k-line import.  Standard library only; prints
"N passed, M failed" last and exits non-zero on failure."""

import argparse
import json
import os
import random
import re
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
    t_import_fidelity(b, tmp)
    t_robust_text(b, tmp)
    t_robust_blocks(b, tmp)
    t_robust_hostile(b, tmp)
    t_robust_stdin(b, tmp, rules)
    t_robust_cut(b, tmp)
    t_import_big(b, tmp)
    t_man(man)


def t_usage(b, tmp, rules):
    r = Run([b])
    check("no args: exit 2", r.rc == 2, repr(r))
    r = Run([b, "--help"])
    check("--help: exit 0 and usage", r.rc == 0 and "usage:" in r.out, repr(r))
    for cmd, word in (("check", "summary"), ("test", "--expect"),
                      ("import", "--from")):
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
    # Issue 12 (item 4): an unreadable input is exit 2 for every command
    # (check said 1, import and test --expect 2).
    r = Run([b, "check", os.path.join(tmp, "missing.rules")])
    check("check missing file: exit 2", r.rc == 2 and "cannot open" in r.err,
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
          sorted(d) == ["diagnostics", "files", "ok", "summary"], repr(d))
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
    check("check --json parse error: exit 2 (a file is unreadable), error "
          "at FILE:LINE, unreadable file as line null",
          r.rc == 2 and r.err == "" and [
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
    r = Run([b, "test", "--allow-encoded-slashes", "nodecode", rules, "--",
             "/docs/%41%2F%42", "/docs/%41%41%2F%2Fb"])
    check("test nodecode: %2F kept after decoded escapes (fuzz_request_url "
          "found the copy overlapping)", [x[2] for x in answers(r.out)] == [
              "https://docs.example.com/v2/A%252FB",
              "https://docs.example.com/v2/AA%252F%252Fb"], repr(r))
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
    # Issue 12 (item 4): a bad line in a list read is a problem found,
    # exit 1 (it was 2, which is for usage and unreadable input).
    r = Run([b, "test", rules], stdin=b"/old-page\nnot-a-url\nftp://x/y\n")
    check("test bad URL in batch: exit 1, line named, rest answered",
          r.rc == 1 and "-:2: bad URL 'not-a-url'" in r.err
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
    check("expect malformed lines: exit 1, each named",
          r.rc == 1 and all("%s:%d:" % (malformed, i) in r.err
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
    # Issue 12: a target without a trailing '/' takes the rest with its
    # slash ('*' after a non-slash), as mod_alias joins them: the old
    # output ("/old-page/* https://example.com/new-page/* 302") sent
    # /old-page to .../new-page/.
    want = [
        "/old-page/* https://example.com/new-page* 302",
        "/docs/* https://docs.example.com/v2* 301",
        "/with%20space/* /spaced* 301",
        "/temp/* /elsewhere/* 302",
        "/form/* /thanks* 303",
        "/retired/* - 410",
        "/retired2/* - 410",
        "/see/* /other* 303",
        "/dir/* /newdir/* 301",
        "/caf%C3%A9/* /coffee* 302",
        "/100%25/* /percent* 302",
        "/long/* /continued* 301",
        "/vh/* /vhost-target* 302",
        "/loop2/* /loop1* 302",
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
        ["/old-page", "302", "https://example.com/new-page", out + ":2"],
        ["/old-page/a/b?x=1", "302", "https://example.com/new-page/a/b?x=1",
         out + ":2"],
        ["/old-pagex", "no match"],
        ["/with%20space/q", "301", "/spaced/q", out + ":4"],
        ["/100%25", "302", "/percent", out + ":12"],
        ["/lower", "302", "https://example.org/", out + ":16"],
    ], repr(t))
    clean = write(tmp, "clean.conf", "Redirect /a /b\nRedirect 301 /c "
                  "http://x.example/d\n")
    r = Run([b, "import", "--from", "alias", clean])
    check("import alias all converted: exit 0", r.rc == 0, repr(r))
    r = Run([b, "import", "--from", "alias", "-"],
            stdin=b"Redirect /s /t\n")
    check("import alias from stdin", r.rc == 0
          and "/s/* /t* 302" in r.out and "-:1" not in r.err, repr(r))


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
    # Issue 12: "return 301 $new_uri" drops the request's query (qsdrop);
    # "rewrite ^ $legacy redirect" keeps it, also after a query rule
    # (qsappend).  The old output had neither flag.
    want = [
        "/old-page /new-page 301 nocase,qsdrop",
        "/Promo https://shop.example.com/sale 301 nocase,qsdrop",
        "/with%20space /spaced 301 nocase,qsdrop",
        "/quoted /target 301 nocase,qsdrop",
        "/caf%C3%A9 /coffee 301 nocase,qsdrop",
        "/index.php?id=42 /products/blue-widget 302 nocase,qsappend",
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
        ["302", "/products/blue-widget?id=42"], ["301", "/spaced"]], repr(t))
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
    # Issue 12 (item 4): a NUL byte is a FILE:LINE error and exit 1 (it
    # used to pass as part of a word, exit 0); the other lines convert.
    r = Run([b, "import", "--from", "nginx", "-"],
            stdin=b"map $uri $a {\n/a\0x /b;\n/c /d;\n}\n")
    check("import nginx: a NUL byte is an error at its line, not the end of "
          "the import", r.rc == 1 and "/c /d nocase" in r.out
          and "-:2: not converted: NUL byte" in r.err, repr(r))
    ab = write(tmp, "ab.rules", "/a /b\n")
    r = Run([b, "test", ab, "--", "http://h:4294967376/a",
             "http://h:0080/a"])
    check("test: a port past 65535 is a bad port, however long",
          r.rc == 2 and "'http://h:4294967376/a': bad port" in r.err
          and answers(r.out) == [["http://h:0080/a", "307", "http://h/b",
                                  ab + ":1"]], repr(r))


def rules_of(out):
    return [l for l in out.splitlines() if not l.startswith("#")]


def t_import_fidelity(b, tmp):
    """The issue's examples: mod_alias's join of URL and rest, nginx's
    dropped query, shadowed Redirects, differences said at their line."""
    r = Run([b, "import", "--from", "alias", "-"],
            stdin=b"Redirect /perm http://x.example/alias\n"
                  b"RedirectTemp /t http://x.example/index.html\n")
    out = write(tmp, "fid.rules", r.out)
    t = Run([b, "test", out, "--", "/perm", "/perm/", "/perm/a?q=1", "/t",
             "/t/x"])
    check("alias: Redirect without a trailing '/' answers as mod_alias",
          r.rc == 0 and [x[1:3] for x in answers(t.out)] == [
              ["302", "http://x.example/alias"],
              ["302", "http://x.example/alias/"],
              ["302", "http://x.example/alias/a?q=1"],
              ["302", "http://x.example/index.html"],
              ["302", "http://x.example/index.html/x"]], repr(r) + repr(t))
    r = Run([b, "import", "--from", "alias", "-"],
            stdin=b"Redirect /a http://x.example/first\n"
                  b"Redirect /a/b http://x.example/second\n"
                  b"Redirect /c/d http://x.example/cd\n"
                  b"Redirect /c http://x.example/c\n")
    check("alias: a Redirect an earlier one shadows is dropped with a note",
          r.rc == 0 and rules_of(r.out) == [
              "/a/* http://x.example/first* 302",
              "/c/d/* http://x.example/cd* 302",
              "/c/* http://x.example/c* 302"]
          and "-:2: note: never answers in mod_alias" in r.err, repr(r))
    r = Run([b, "import", "--from", "alias", "-"],
            stdin=b"Redirect /a /b/\nRedirect /q http://x/q?a=1\n"
                  b"Redirect /f http://x/f#top\n")
    check("alias: joins rules cannot make are said at their line",
          r.rc == 1 and "-:1: note: differs: mod_alias answers '/a/REST' "
          "with '/b//REST'" in r.err
          and "-:2: not converted: paths below '/q'" in r.err
          and "/q http://x/q?a=1 302" in r.out
          and "-:3: not converted: 'http://x/f#top' has a #fragment" in r.err,
          repr(r))
    r = Run([b, "import", "--from", "nginx", "-"],
            stdin=b"map $uri $n { /foo /bar; }\n"
                  b"server { if ($n) { return 301 $n; } }\n")
    out = write(tmp, "fidn.rules", r.out)
    t = Run([b, "test", out, "--", "/foo?x=1"])
    check("nginx: 'return 301 $target' drops the query as nginx does",
          r.rc == 0 and answers(t.out)[0][1:3] == ["301", "/bar"],
          repr(r) + repr(t))
    r = Run([b, "import", "--from", "nginx", "-"],
            stdin=b"map $uri $n { /foo /bar; }\n"
                  b"server { if ($n) { return 308 $n$is_args$args; } }\n")
    check("nginx: '$target$is_args$args' keeps the query",
          r.rc == 0 and rules_of(r.out) == ["/foo /bar 308 nocase"], repr(r))
    r = Run([b, "import", "--from", "nginx", "-"],
            stdin=b"map $uri $n { /foo /bar; }\n"
                  b"server { location /x { return 301 $n; } }\n")
    check("nginx: a return only inside a location is not converted",
          r.rc == 1 and rules_of(r.out) == []
          and "-:1: not converted: map $uri $n: its entries are not "
          "converted: it is answered only inside 'location /x'" in r.err,
          repr(r))
    r = Run([b, "import", "--from", "nginx", "-"],
            stdin=b"map $uri $n { /foo /bar; }\n"
                  b"server { rewrite ^ $n last; }\n")
    check("nginx: a map used only by an internal rewrite is no redirect map",
          r.rc == 1 and rules_of(r.out) == [] and "-:1: not converted: map "
          "$uri $n: its entries are not converted: $n is used by 'rewrite' "
          "(line 2), never in a redirect" in r.err, repr(r))
    r = Run([b, "import", "--from", "nginx", "-"],
            stdin=b"map $uri $n {\n default /home;\n /a /b;\n"
                  b" /c https://n.example/c;\n}\n"
                  b"server { if ($n) { return 302 https://new.example$n; } }\n")
    check("nginx: 'default' becomes /*, a text before $var prefixes targets",
          r.rc == 1 and rules_of(r.out) == [
              "/* https://new.example/home 302 qsdrop",
              "/a https://new.example/b 302 nocase,qsdrop"]
          and "-:4: not converted: 'https://n.example/c' is no path" in r.err,
          repr(r))


def t_robust_text(b, tmp):
    """Byte order marks, unknown directives, NUL bytes, long lines."""
    bom = b"\xef\xbb\xbf"
    r = Run([b, "import", "--from", "alias", "-"],
            stdin=bom + b"Redirect /a /b\n")
    check("import alias: a byte order mark is skipped (issue 12)",
          r.rc == 0 and rules_of(r.out) == ["/a/* /b* 302"], repr(r))
    r = Run([b, "import", "--from", "nginx", "-"],
            stdin=bom + b"map $uri $m { /a /b; }\n")
    check("import nginx: a byte order mark is skipped",
          r.rc == 0 and rules_of(r.out) == ["/a /b nocase"], repr(r))
    bomrules = write(tmp, "bom.rules", bom + b"/old /new\n", "wb")
    r = Run([b, "check", bomrules])
    check("check: a byte order mark is named in the error, not invisible",
          r.rc == 1 and "source '\\xEF\\xBB\\xBF/old'" in r.err
          and "\ufeff" not in r.err, repr(r))
    exp = write(tmp, "bom.expect", bom + b"/old-page 307 /new-page\n", "wb")
    r = Run([b, "test", write(tmp, "bt.rules", RULES), "--expect", exp])
    check("test --expect: a byte order mark is skipped",
          r.rc == 0 and "1 passed" in r.out, repr(r))

    conf = (b"ServerName www.example.com\nOptions -Indexes\n"
            b"php_value upload_max_filesize 10M\nSSLEngine on\n"
            b"Redirct /a /b\nRedirectPermanant /c /d\nredirecttemp /e /f\n"
            b"/x /y\nInclude conf.d/*.conf\nRedirect307Map x.rules\n")
    r = Run([b, "import", "--from", "alias", "-"], stdin=conf)
    lines = r.err.splitlines()
    check("import alias: misspelt directives reported with FILE:LINE",
          "-:5: not converted: unknown directive 'Redirct' (Redirect?)"
          in lines and "-:6: not converted: unknown directive "
          "'RedirectPermanant' (RedirectPermanent?)" in lines, r.err)
    check("import alias: a line that is no directive is reported",
          "-:8: not converted: '/x' is not a directive" in lines, r.err)
    check("import alias: other httpd and module directives pass quietly",
          not any(l.startswith(("-:1:", "-:2:", "-:3:", "-:4:", "-:10:"))
                  for l in lines) and r.rc == 1
          and rules_of(r.out) == ["/e/* /f* 302"], repr(r))
    check("import alias: Include gets a note",
          "-:9: note: Include conf.d/*.conf: not followed; import that file "
          "too" in lines, r.err)

    for fmt, text in (("alias", b"Redirect /a /b\nRedirect /c\0 /d\n"
                                b"Redirect /e /f\n"),
                      ("nginx", b"map $uri $m {\n/a /b;\n/c\0 /d;\n"
                                b"/e /f;\n}\n"),
                      ("csv", b"/a,/b,0,301\n/c\0,/d,0,301\n/e,/f,0,301\n")):
        r = Run([b, "import", "--from", fmt, "-"], stdin=text)
        line = 3 if fmt == "nginx" else 2
        check("import %s: a NUL byte is an error at its line, exit 1" % fmt,
              r.rc == 1 and "-:%d: not converted: NUL byte in the line" % line
              in r.err and len(rules_of(r.out)) == 2, repr(r))
    r = Run([b, "import", "--from", "nginx", "-"], stdin=b"x\0")
    check("import nginx: 'x\\0' on stdin (used to grow to 3.6 GB and "
          "crash)", r.rc == 1 and "-:1: not converted: NUL byte" in r.err,
          repr(r))
    r = Run([b, "test", write(tmp, "nul.rules", RULES)],
            stdin=b"/old-page\n/a\0b\n/promo\n")
    check("test stdin: a NUL byte is an error at its line, exit 1",
          r.rc == 1 and "-:2: NUL byte in the line" in r.err
          and len(answers(r.out)) == 2, repr(r))
    r = Run([b, "check", "-"], stdin=b"/a /b\n/c\0 /d\n")
    check("check stdin: a NUL byte is the engine's error at its line",
          r.rc == 1 and "error: -:2: NUL byte" in r.err, repr(r))

    big = os.path.join(tmp, "big-line.in")
    with open(big, "wb") as f:
        f.write(b"Redirect /a /b\n")
        f.write(b"Redirect /x " + b"y" * (100 * 1024 * 1024) + b"\n")
        f.write(b"/p /q\n")
    for argv, want in (
            (["import", "--from", "alias", "-"],
             "-:2: not converted: line longer than 1048576 bytes"),
            (["import", "--from", "nginx", "-"],
             "-:2: not converted: line longer than 1048576 bytes"),
            (["import", "--from", "csv", "-"],
             "-:2: not converted: line longer than 1048576 bytes"),
            (["check", "-"], "error: -:2: line longer than 8192 bytes"),
            (["test", write(tmp, "bl.rules", RULES)],
             "-:2: line longer than 1048576 bytes: line ignored")):
        rc, err, rss = run_measured([b] + argv, big)
        check("100 MB line, %s: FILE:LINE error, exit 1, under 64 MB"
              % " ".join(argv[:3]), rc == 1 and want in err
              and rss < 64 * 1024, "rc=%d rss=%d KiB %s" % (rc, rss,
                                                           err[:300]))


def run_measured(argv, stdin_path):
    """Runs argv with stdin from a file; returns (exit status, stderr, peak
    RSS in KiB of the command alone: a fresh Python measures its child)."""
    code = ("import resource, subprocess, sys\n"
            "p = subprocess.run(sys.argv[2:], stdin=open(sys.argv[1], 'rb'),"
            " stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
            "sys.stdout.write('%d %d\\n' % (p.returncode, resource.getrusage("
            "resource.RUSAGE_CHILDREN).ru_maxrss))\n"
            "sys.stdout.write(p.stderr.decode('utf-8', 'replace'))\n")
    p = subprocess.run([sys.executable, "-c", code, stdin_path] + argv,
                       capture_output=True)
    head, _, err = p.stdout.decode().partition("\n")
    rc, rss = (int(x) for x in head.split())
    return rc, err, rss


def t_robust_blocks(b, tmp):
    """Blocks, sections, quotes and continuations never closed."""
    cases = [
        ("nginx", b"map $uri $m {\n/a /b;\n", "-:1: not converted: map $uri "
         "$m: its '{' is never closed"),
        ("nginx", b"server {\n  listen 80;\n", "-:1: not converted: the '{' "
         "here is never closed"),
        ("nginx", b"map $uri $m { /a /b; }\n}\n", "-:2: not converted: '}' "
         "closes no block"),
        ("nginx", b"map $uri $m { /a \"/b; }\n", "-:1: not converted: the "
         "quote opened here is never closed"),
        ("alias", b"<VirtualHost *:80>\nRedirect /a /b\n", "-:1: not "
         "converted: <VirtualHost> is never closed"),
        ("alias", b"Redirect /a /b\n</If>\n", "-:2: not converted: '</If>' "
         "closes no section"),
        ("alias", b"<If \"true\">\n</Location>\n", "-:2: not converted: "
         "'</Location>' closes <If> (line 1)"),
        ("alias", b"Redirect /a \\\n", "-:1: not converted: the line "
         "continues"),
        ("alias", b"<Locaton /x>\nRedirect /a /b\n</Locaton>\n", "-:1: not "
         "converted: unknown section '<Locaton>' (<Location>?)"),
        ("csv", b"/a,/b,0,301\n\"/c,/d,0,301\n/e,/f\n", "-:2: not "
         "converted: the quote opened in this row is never closed"),
    ]
    for fmt, text, want in cases:
        r = Run([b, "import", "--from", fmt, "-"], stdin=text)
        check("import %s: %s" % (fmt, want[:60]), r.rc == 1
              and want in r.err, repr(r))


def t_robust_hostile(b, tmp):
    """Control bytes are shown escaped wherever input is echoed; random
    bytes give FILE:LINE errors and exit 1, never a crash."""
    esc = b"\x1b]0;pwned\x07\x1b[2J"
    r = Run([b, "import", "--from", "alias", "-"],
            stdin=b"Redirect /a" + esc + b" relative" + esc + b"\n")
    check("import: control bytes in 'not converted' messages are \\xNN",
          r.rc == 1 and "\\x1B]0;pwned\\x07\\x1B[2J" in r.err
          and not any(c in r.err for c in "\x1b\x07"), repr(r))
    r = Run([b, "import", "--from", "nginx", "-"],
            stdin=b"map $uri $m { /a" + esc + b" ~x" + esc + b"; }\n")
    check("import nginx: control bytes escaped", "\x1b" not in r.err
          and "\\x1B" in r.err, repr(r))
    rules = write(tmp, "h.rules", RULES)
    exp = write(tmp, "h.expect", "/old-page\x1b[31m 307 /x\x1b[0m\n"
                "/old-page 307 /new\x1b[0m\n/\u202eevil 307 /x\n", "w")
    r = Run([b, "test", rules, "--expect", exp])
    out = r.out + r.err
    check("test --expect: control bytes in errors and FAIL lines are \\xNN",
          r.rc == 1 and "\x1b" not in out and "/new\\x1B[0m" in out
          and "\\xE2\\x80\\xAE" in out and "\u202e" not in out, repr(r))
    r = Run([b, "test", rules], stdin=b"/a\tb\n/old-page\x1b\n")
    check("test: a URL echoed in a result line cannot split it or reach the "
          "terminal", "\x1b" not in r.out and "\t" not in r.out.split("\t", 1)[0]
          and r.out.startswith("/a\\x09b\trejected by httpd (400)"), repr(r))
    r = Run([b, "check", os.path.join(tmp, "no\x1b[31mfile.rules")])
    check("check: an unreadable file's name is escaped, exit 2",
          r.rc == 2 and "no\\x1B[31mfile.rules" in r.err
          and "\x1b" not in r.err, repr(r))

    rnd = random.Random(12)
    for fmt in ("alias", "nginx", "csv"):
        for n in range(3):
            data = bytes(rnd.getrandbits(8) for _ in range(20000))
            r = Run([b, "import", "--from", fmt, "-"], stdin=data)
            bad = [l for l in r.err.splitlines()
                   if not re.match(r"^(-:\d+: (not converted|note)|"
                                   r"redirect307: )", l)]
            check("import %s: binary garbage #%d: exit 1, every message "
                  "FILE:LINE, no control byte" % (fmt, n),
                  r.rc == 1 and not bad
                  and not re.search("[\x00-\x09\x0b-\x1f\x7f]", r.err),
                  "rc=%d %r" % (r.rc, bad[:3]))
    data = bytes(rnd.getrandbits(8) for _ in range(20000))
    r = Run([b, "check", "-"], stdin=data)
    check("check: binary garbage on stdin: exit 1, errors named, escaped",
          r.rc == 1 and "error: -:" in r.err
          and not re.search("[\x00-\x09\x0b-\x1f\x7f]", r.err), repr(r)[:500])
    r = Run([b, "test", rules], stdin=data)
    check("test: binary garbage on stdin: exit 1, no control byte out",
          r.rc == 1 and not re.search("[\x00-\x08\x0b-\x1f\x7f]",
                                      r.out + r.err), repr(r)[:500])


def t_robust_stdin(b, tmp, rules):
    """'-' is stdin for every command, and can be read once."""
    text = open(rules, "rb").read()
    r = Run([b, "check", "-"], stdin=text)
    check("check -: rules from stdin", r.rc == 0
          and r.out.startswith("ok: 9 rules") and "-:9: redirect chain" in
          r.err, repr(r))
    r = Run([b, "check", "--json", "-"], stdin=b"/a /b\nbad\n")
    d = json_doc(r) or {"diagnostics": []}
    check("check --json -: errors name '-' and the line", r.rc == 1
          and [places(x) for x in d["diagnostics"]] == [[("-", 2)]], repr(r))
    r = Run([b, "test", "-", "--", "/old-page"], stdin=text)
    check("test -: rules from stdin, URLs after --", r.rc == 0
          and answers(r.out) == [["/old-page", "307", "/new-page", "-:2"]],
          repr(r))
    exp = write(tmp, "s.expect", "/old-page 307 /new-page\n")
    r = Run([b, "test", "-", "--expect", exp], stdin=text)
    check("test -: rules from stdin with --expect", r.rc == 0
          and "1 passed, 0 failed" in r.out, repr(r))
    for argv, why in ((["check", "-", "-"], "named twice"),
                      (["test", "-"], "both rules and URLs"),
                      (["test", "-", "--", "-"], "both rules and URLs"),
                      (["test", "-", "--expect", "-"], "rules and "
                       "expectations"),
                      (["import", "--from", "csv", "-", "-"], "named twice")):
        r = Run([b] + argv, stdin=b"")
        check("%s: stdin read once: exit 2" % " ".join(argv),
              r.rc == 2 and why in r.err, repr(r))
    r = Run([b, "test", os.path.join(tmp, "missing.rules"), "--", "/a"])
    check("test with an unreadable rules file: exit 2", r.rc == 2
          and "cannot open" in r.err, repr(r))


def t_robust_cut(b, tmp):
    """A list cut at N errors says so."""
    many = write(tmp, "cut.rules", "".join("bad%d /x\n" % i
                                           for i in range(30)))
    r = Run([b, "check", many])
    check("check: 30 bad lines: 20 listed and the cut said",
          r.rc == 1 and r.err.count("error: ") == 20
          and "redirect307: list cut at 20 errors" in r.err
          and r.out.startswith("failed: 20 errors listed"), repr(r))
    r = Run([b, "check", "--json", many])
    d = json_doc(r) or {"summary": {}}
    check("check --json: the cut is in the summary",
          d["summary"].get("cut") is True, repr(d)[:300])
    dups = write(tmp, "cutw.rules", "".join("/d%d /x\n/d%d /y\n" % (i, i)
                                            for i in range(1100)))
    r = Run([b, "check", dups])
    check("check: warnings past 1000 are counted as cut",
          r.rc == 0 and "list cut: 0 more errors and 100 more warnings "
          "found, not listed" in r.err, r.err[-300:])
    r = Run([b, "check", write(tmp, "nocut.rules", "bad /x\n")])
    check("check: no cut, no word of it", "list cut" not in r.err, repr(r))


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


if __name__ == "__main__":
    main()
