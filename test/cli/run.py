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
    t_check_compile(b, tmp, rules)
    t_test(b, tmp, rules)
    t_expect(b, tmp, rules)
    t_import_alias(b, tmp)
    t_import_nginx(b, tmp)
    t_import_csv(b, tmp)
    t_import_corners(b, tmp)
    t_import_haproxy(b, tmp)
    t_import_netlify(b, tmp)
    t_import_cloudflare(b, tmp)
    t_import_fidelity(b, tmp)
    t_robust_text(b, tmp)
    t_robust_blocks(b, tmp)
    t_robust_hostile(b, tmp)
    t_robust_stdin(b, tmp, rules)
    t_robust_cut(b, tmp)
    t_import_big(b, tmp)
    t_hosts_and_params(b, tmp)
    t_import_csv_absolute(b, tmp)
    t_import_rewrite(b, tmp)
    t_import_rewrite_htaccess(b, tmp)
    t_import_rewrite_contexts(b, tmp)
    t_import_rewritemap(b, tmp)
    t_import_netlify_patterns(b, tmp)
    t_import_rewrite_patterns(b, tmp)
    t_export_usage(b, tmp, rules)
    t_export_csv(b, tmp)
    t_export_csv_options(b, tmp)
    t_export_nginx(b, tmp)
    t_export_haproxy(b, tmp)
    t_export_corners(b, tmp)
    t_prune(b, tmp)
    t_patterns(b, tmp)
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


def images_in_dir(d):
    return [f for f in os.listdir(d) if f.endswith(".r307c")]


def t_check_compile(b, tmp, rules):
    cache = os.path.join(tmp, "cache")
    os.mkdir(cache)
    r = Run([b, "check", "--compile", cache, rules])
    images = sorted(os.listdir(cache))
    check("check --compile: exit 0, one image named after the map",
          r.rc == 0 and len(images) == 1
          and re.fullmatch(r"site\.rules\.[0-9a-f]{16}\.r307c", images[0]),
          "%r %r" % (r, images))
    image = os.path.join(cache, images[0]) if images else ""
    check("check --compile: says which file went where, after the summary",
          r.out.splitlines()[1:] == ["compiled %s: %s" % (rules, image)],
          repr(r))
    check("check --compile: the image is the owner's alone, not empty",
          image and os.stat(image).st_mode & 0o077 == 0
          and os.path.getsize(image) > 64, image)
    # the name depends on the options, as httpd's does
    r = Run([b, "check", "--compile", cache, "--case-insensitive", rules])
    check("check --compile --case-insensitive: a second image",
          r.rc == 0 and len(os.listdir(cache)) == 2, repr(r))
    r = Run([b, "check", "--json", "--compile", cache, rules])
    doc = json_doc(r)
    check("check --json --compile: a compiled list of file and image",
          doc is not None and doc.get("compiled") == [
              {"file": rules, "image": image}], repr(r))
    r = Run([b, "check", "--compile", cache, "site.rules"], cwd=tmp)
    check("check --compile: a relative FILE is bad usage (httpd names the "
          "map by its path)", r.rc == 2 and "absolute path" in r.err, repr(r))
    bad = write(tmp, "compile-bad.rules", "/ok /fine\nnot-a-path /x\n")
    r = Run([b, "check", "--compile", cache, bad])
    check("check --compile of a file with errors: exit 1, nothing written",
          r.rc == 1 and not any(f.startswith("compile-bad")
                                for f in os.listdir(cache)), repr(r))
    r = Run([b, "check", "--compile", os.path.join(tmp, "no-such-dir"),
             rules])
    check("check --compile into a missing directory: exit 2 naming it",
          r.rc == 2 and "cannot write %s" % os.path.join(tmp, "no-such-dir")
          in r.err, repr(r))
    r = Run([b, "check", "--json", "--compile",
             os.path.join(tmp, "no-such-dir"), rules])
    doc = json_doc(r)
    check("check --json --compile failing: exit 2, still one document on "
          "stdout with the error, nothing on stderr",
          r.rc == 2 and r.err == "" and doc is not None
          and doc["compiled"][0]["file"] == rules
          and "cannot write" in doc["compiled"][0]["error"], repr(r))
    # httpd cleans a map's path (ap_server_root_relative): so does --compile
    os.mkdir(os.path.join(tmp, "sub"))
    r = Run([b, "check", "--compile", cache,
             os.path.join(tmp, ".", "sub", "..", "site.rules")])
    check("check --compile of /dir/./sub/../site.rules: the image of "
          "/dir/site.rules", r.rc == 0 and r.out.splitlines()[1].endswith(
              ": " + image) and len(images_in_dir(cache)) == 2, repr(r))


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
    """The rules an import wrote, without its comment line."""
    return [l for l in out.splitlines() if l and not l.startswith("#")]


def said(err, where, kind, word):
    """Did the importer say `kind` ("not converted", "note") at `where`
    (FILE:LINE), with `word` in it?"""
    return any(l.startswith("%s: %s:" % (where, kind)) and word in l
               for l in err.splitlines())


HOST_SOURCE = re.compile(r"^(?:(https?):)?//(\*\.)?([^/\s]+)(/\S*)(\s.*)$")


def host_view(rules, host=None, scheme="http"):
    """The rules a request for scheme://host consults, as hostless rules:
    `redirect307 test` answers hostless rules only, so a host's rules are
    tested with their host cut off.  host None: the hostless rules.  In
    httpd the exact host's rules come first (its scheme's before those for
    any), then the wildcards', longest first: the view keeps that order,
    and of one path the first (check's duplicate rule) answers."""
    groups = {}
    for r in rules:
        m = HOST_SOURCE.match(r)
        if not m:
            if host is None:
                groups.setdefault((0,), []).append(r)
            continue
        sch, wild, h, path, rest = m.groups()
        if host is None or (sch and sch != scheme):
            continue
        if wild:
            if not host.endswith("." + h):
                continue
            rank = (2, -len(h), 0 if sch else 1)
        elif h == host:
            rank = (1, 0, 0 if sch else 1)
        else:
            continue
        groups.setdefault(rank, []).append(path + rest)
    return "".join(r + "\n" for k in sorted(groups) for r in groups[k])


def test_view(b, tmp, name, rules, host, urls, scheme="http", opts=()):
    """`redirect307 test` on host_view(): [[url, status, location], ...]."""
    view = write(tmp, name, host_view(rules, host, scheme))
    t = Run([b, "test"] + list(opts) + [view, "--"] + urls)
    return [a[:3] for a in answers(t.out)], t


HAPROXY_MAP = """\
# HAProxy map: redirect location %[path,map(this)] if { ... -m found }
/old-page      /new-page
  /promo       https://shop.example.com/sale
/caf%C3%A9     /coffee
/dup           /first
/dup           /second
/sp            http://x.example/a b\t
relative       /x
/q?x=1         /y
/100%          /p
/a%2Fb         /slash
/a/./b         /dot
/novalue
/rel           new-page
/x/%2E%2e/z    /dots
/dir/          /dir-target
"""


def t_import_haproxy(b, tmp):
    src = write(tmp, "redirects.map", HAPROXY_MAP)
    r = Run([b, "import", "--from", "haproxy", "--status", "301", src])
    check("import haproxy with skipped lines: exit 1", r.rc == 1, repr(r))
    want = [
        "/old-page /new-page 301 qsdrop",
        "/promo https://shop.example.com/sale 301 qsdrop",
        "/caf%C3%A9 /coffee 301 qsdrop",
        "/dup /first 301 qsdrop",
        "/sp http://x.example/a%20b 301 qsdrop",
        "/dir/ /dir-target 301 qsdrop",
    ]
    check("import haproxy output", rules_of(r.out) == want,
          "\n".join(rules_of(r.out)) + "\n" + r.err)
    for ln, word in ((8, "not a path"), (9, "never matches"),
                     (10, "no %XX"), (11, "encoded '/'"),
                     (12, "not a normalised path"), (13, "no value"),
                     (14, "neither an absolute URL nor a path"),
                     (15, "not a normalised path")):
        check("import haproxy: line %d not converted (%s)" % (ln, word),
              said(r.err, "%s:%d" % (src, ln), "not converted", word), r.err)
    for ln, word in ((2, "compares paths exactly"), (4, "raw path"),
                     (6, "duplicate source"), (7, "%-escaped")):
        check("import haproxy: line %d noted (%s)" % (ln, word),
              said(r.err, "%s:%d" % (src, ln), "note", word), r.err)
    check("import haproxy: no status note with --status",
          "no --status" not in r.err, r.err)
    check("import haproxy: summary", "6 rules written, 8 entries not "
          "converted" in r.err, r.err)
    out = write(tmp, "haproxy.rules", r.out)
    c = Run([b, "check", out])
    check("import haproxy output passes check", c.rc == 0, repr(c))
    # As haproxy answers (test/import/diff_haproxy.py compares them live):
    # the path is exact, the query never carried.
    t = Run([b, "test", "--trailing-slash", "strict", out, "--",
             "/old-page?x=1", "/old-page/", "/caf%C3%A9?utm_source=a",
             "/dup", "/dir/?a=b", "/dir", "/promo"])
    check("imported haproxy answers", [a[:3] for a in answers(t.out)] == [
        ["/old-page?x=1", "301", "/new-page"], ["/old-page/", "no match"],
        ["/caf%C3%A9?utm_source=a", "301", "/coffee"],
        ["/dup", "301", "/first"], ["/dir/?a=b", "301", "/dir-target"],
        ["/dir", "no match"],
        ["/promo", "301", "https://shop.example.com/sale"]], repr(t))
    r = Run([b, "import", "--from", "haproxy", "-"],
            stdin=b"# no code\n/a /b\n/c https://d.example/e\n")
    check("import haproxy without --status: 302 (haproxy's default), noted",
          r.rc == 0 and rules_of(r.out) == ["/a /b 302 qsdrop",
                                            "/c https://d.example/e 302 "
                                            "qsdrop"]
          and said(r.err, "-:2", "note", "no --status"), repr(r))


NETLIFY = """\
# Netlify _redirects
/home              /                      301
/old-page          /new-page
/promo             https://shop.example.com/sale   302!
/news/*            /blog/:splat
/docs/*            https://docs.example.com/v2/:splat  301!
/blog/:year/:month/:slug   /posts/:slug
/store id=:id      /blog/:id  301
/store id=42       /blog/42   301
/app/*             /index.html   200
/api/*             https://api.example.com/:splat  200
/ecommerce         /store-closed  404
/gone              /gone.html     410
/pricing           /fr/pricing    302  Country=fr
/admin/*           200!  Role=admin
https://old.example.com/*  https://new.example.com/:splat  301!
http://old.example.com/*   https://new.example.com/:splat  301!
/news/special      /special
/blog-x/*          /blog-:splat
/caf%C3%A9         /coffee
/with-q            /target?a=1
/temp              /elsewhere  307
/perm/*            https://x.example/alias  308!
/store             /shop
/shop              /store-front   301 # comment
/deep/*            /d/:splat/index.html
/cond/*            /c/:splat  301!  Language=de
"""


def t_import_netlify(b, tmp):
    src = write(tmp, "_redirects", NETLIFY)
    r = Run([b, "import", "--from", "netlify", src])
    check("import netlify with skipped lines: exit 1", r.rc == 1, repr(r))
    rules = rules_of(r.out)
    want = [
        "/home / 301",
        "/old-page /new-page 301",
        "/promo https://shop.example.com/sale 302",
        "/news/* /blog/* 301",
        "/docs/* https://docs.example.com/v2/* 301",
        "/blog/:year/:month/:slug /posts/:slug 301",
        "/store?id=42 /blog/42 301",
        "/gone - 410",
        "https://old.example.com/* https://new.example.com/* 301",
        "http://old.example.com/* https://new.example.com/* 301",
        "/caf%C3%A9 /coffee 301",
        "/with-q /target?a=1 301 qsappend",
        "/temp /elsewhere 307",
        "/perm/* https://x.example/alias 308",
        "/store /shop 301",
    ]
    check("import netlify output", rules == want,
          "\n".join(rules) + "\n" + r.err)
    for ln, word in ((8, "captures a placeholder"),
                     (10, "rewrite"), (11, "proxies"), (12, "404"),
                     (14, "condition 'Country=fr'"), (15, "no target"),
                     (18, "never reached in Netlify: the rule at line 5"),
                     (19, "elsewhere than at the end"),
                     (25, "unexpected '#'"), (26, "elsewhere than at the end"),
                     (27, "condition 'Language=de'")):
        check("import netlify: line %d not converted (%s)" % (ln, word),
              said(r.err, "%s:%d" % (src, ln), "not converted", word), r.err)
    for ln, word in ((2, "without '!'"), (9, "exactly these"),
                     (13, "410"), (16, "Netlify answers with them")):
        check("import netlify: line %d noted (%s)" % (ln, word),
              said(r.err, "%s:%d" % (src, ln), "note", word), r.err)
    check("import netlify: the shadowing note is given once",
          r.err.count("without '!'") == 1, r.err)
    out = write(tmp, "netlify.rules", r.out)
    c = Run([b, "check", out])
    check("import netlify output passes check", c.rc == 0, repr(c))
    # What Netlify documents: splats carry the rest, the query is passed
    # on, /a and /a/ are alike, the first matching rule answers.
    t = Run([b, "test", out, "--", "/news", "/news/a/b?c=d",
             "/news/special", "/old-page/", "/home?x=1",
             "/store?id=42", "/store?id=43", "/with-q?b=2", "/gone",
             "/perm", "/perm/a/b", "/caf%C3%A9", "/News/a", "/store"])
    check("imported netlify answers", [a[:3] for a in answers(t.out)] == [
        ["/news", "301", "/blog/"], ["/news/a/b?c=d", "301", "/blog/a/b?c=d"],
        ["/news/special", "301", "/blog/special"],
        ["/old-page/", "301", "/new-page"], ["/home?x=1", "301", "/?x=1"],
        ["/store?id=42", "301", "/blog/42"], ["/store?id=43", "301", "/shop?id=43"],
        ["/with-q?b=2", "301", "/target?a=1&b=2"], ["/gone", "410", "-"],
        ["/perm", "308", "https://x.example/alias"],
        ["/perm/a/b", "308", "https://x.example/alias"],
        ["/caf%C3%A9", "301", "/coffee"], ["/News/a", "no match"],
        ["/store", "301", "/shop"]], repr(t))
    a, t = test_view(b, tmp, "netlify-old.rules", rules, "old.example.com",
                     ["/", "/a/b?x=1"], scheme="https")
    check("imported netlify domain-level rule", a == [
        ["/", "301", "https://new.example.com/"],
        ["/a/b?x=1", "301", "https://new.example.com/a/b?x=1"]], repr(t))
    r = Run([b, "import", "--from", "netlify", "-"],
            stdin=b"/a /b 302!\n/c/* https://d.example/:splat 301!\n")
    check("import netlify all forced: exit 0, no shadowing note",
          r.rc == 0 and "note" not in r.err and rules_of(r.out) == [
              "/a /b 302", "/c/* https://d.example/* 301"], repr(r))
    r = Run([b, "import", "--from", "netlify", "-"],
            stdin=b"/x/deep /d\nhttps://h.example/x/* /hx 301!\n"
                  b"/* https://n.example/:splat 301!\n/y/* /why\n"
                  b"/y id=1 /q\n")
    check("import netlify: a later host rule overlapping an earlier rule "
          "is noted; a later rule reached only after an earlier one is not "
          "converted", r.rc == 1
          and said(r.err, "-:2", "note", "the rule at line 1")
          and said(r.err, "-:4", "not converted", "line 3")
          and said(r.err, "-:5", "not converted", "line 3")
          and "-:3: not converted" not in r.err, repr(r))


CLOUDFLARE = (
    b"example.com/contacts,https://example.net/contact-us,301,,,,\r\n"
    b"example.com/about,https://example.net/about-us,,FALSE,TRUE,,\r\n"
    b"example.com/docs,https://example.com/draft-docs,302,,TRUE\r\n"
    b"https://example.com/a,https://b.example/x,308,TRUE,FALSE,TRUE,TRUE\r\n"
    b"example.com/folder/,https://example.com/other/,307,true,false,true,"
    b"true\r\n"
    b'"example.com/with,comma","https://example.net/q?x=1",301,FALSE,,,\r\n'
    b"example.com/keep,https://example.net/k?x=1,301,TRUE\r\n"
    b"ftp://example.com/x,https://y.example/\r\n"
    b"example.com:8080/x,https://y.example/\r\n"
    b"example.com/q?x=1,https://y.example/\r\n"
    b"example.com/m,magnet:?xt=urn:btih:abc\r\n"
    b"example.com/s,https://y.example/,303\r\n"
    b"example.com/b,https://y.example/,301,maybe\r\n"
    b"example.com/nosuffix,https://y.example/n,301,,,TRUE\r\n"
    b"example.com/host-only,https://y.example,301,,,TRUE,TRUE\r\n"
    b"Example.COM/caf%C3%A9,https://y.example/coffee,301,1,0,0,0\r\n"
    b"\r\n"
    b"example.com/keepq,https://y.example/kept,302,TRUE\r\n"
    b"example.com/x,https://y.example/,301,,,,,extra\r\n"
    b'"example.com/multi\r\nline",https://y.example/,301\r\n'
    b"caf\xc3\xa9.example/x,https://y.example/\r\n")


def t_import_cloudflare(b, tmp):
    src = write(tmp, "bulk.csv", CLOUDFLARE, "wb")
    r = Run([b, "import", "--from", "cloudflare", src])
    check("import cloudflare with skipped rows: exit 1", r.rc == 1, repr(r))
    rules = rules_of(r.out)
    want = [
        "//example.com/contacts https://example.net/contact-us 301 qsdrop",
        "//example.com/about https://example.net/about-us 301 qsdrop",
        "//*.example.com/about https://example.net/about-us 301 qsdrop",
        "//example.com/docs https://example.com/draft-docs 302 qsdrop",
        "//*.example.com/docs https://example.com/draft-docs 302 qsdrop",
        "https://example.com/a/* https://b.example/x* 308",
        "//example.com/folder/* https://example.com/other/* 307",
        "//example.com/with,comma https://example.net/q?x=1 301 qsdrop",
        "//example.com/nosuffix/* https://y.example/n 301 qsdrop",
        "//example.com/host-only/* https://y.example/* 301 qsdrop",
        "//example.com/caf%C3%A9 https://y.example/coffee 301",
        "//example.com/keepq https://y.example/kept 302",
    ]
    check("import cloudflare output", rules == want,
          "\n".join(rules) + "\n" + r.err)
    for ln, word in ((7, "preserve_query_string is TRUE"), (8, "scheme"),
                     (9, "port"), (10, "query"), (11, "magnet"),
                     (12, "303"), (13, "'maybe'"), (19, "8 fields"),
                     (20, "control character"), (22, "IDNA")):
        check("import cloudflare: line %d not converted (%s)" % (ln, word),
              said(r.err, "%s:%d" % (src, ln), "not converted", word), r.err)
    for ln, word in ((1, "compares paths exactly"),
                     (14, "preserve_path_suffix not given")):
        check("import cloudflare: line %d noted (%s)" % (ln, word),
              said(r.err, "%s:%d" % (src, ln), "note", word), r.err)
    out = write(tmp, "cloudflare.rules", r.out)
    c = Run([b, "check", out])
    check("import cloudflare output passes check", c.rc == 0, repr(c))
    # What Cloudflare documents, per host (`test` answers hostless rules:
    # see host_view).
    a, t = test_view(b, tmp, "cf-example.rules", rules, "example.com", [
        "/contacts?x=1", "/about?utm_source=a", "/docs/", "/folder/foo?z=1",
        "/folder", "/nosuffix/deep/er", "/host-only/x/y?q=1", "/a/b/c?k=1",
        "/caf%C3%A9?x=1", "/keepq?a=1", "/with,comma?x=2"],
        opts=["--trailing-slash", "strict"])
    check("imported cloudflare answers on example.com over http", a == [
        ["/contacts?x=1", "301", "https://example.net/contact-us"],
        ["/about?utm_source=a", "301", "https://example.net/about-us"],
        ["/docs/", "no match"],
        ["/folder/foo?z=1", "307", "https://example.com/other/foo?z=1"],
        ["/folder", "307", "https://example.com/other/"],
        ["/nosuffix/deep/er", "301", "https://y.example/n"],
        ["/host-only/x/y?q=1", "301", "https://y.example/x/y"],
        ["/a/b/c?k=1", "no match"],
        ["/caf%C3%A9?x=1", "301", "https://y.example/coffee?x=1"],
        ["/keepq?a=1", "302", "https://y.example/kept?a=1"],
        ["/with,comma?x=2", "301", "https://example.net/q?x=1"]], repr(t))
    a, t = test_view(b, tmp, "cf-example-s.rules", rules, "example.com",
                     ["/a", "/a/", "/a/b/c?k=1"], scheme="https")
    check("imported cloudflare answers on https://example.com (subpath, "
          "path suffix with its slash, query kept)", a == [
              ["/a", "308", "https://b.example/x"],
              ["/a/", "308", "https://b.example/x/"],
              ["/a/b/c?k=1", "308", "https://b.example/x/b/c?k=1"]], repr(t))
    a, t = test_view(b, tmp, "cf-sub.rules", rules, "a.b.example.com",
                     ["/about", "/docs?x=1", "/contacts"])
    check("imported cloudflare include_subdomains", a == [
        ["/about", "301", "https://example.net/about-us"],
        ["/docs?x=1", "302", "https://example.com/draft-docs"],
        ["/contacts", "no match"]], repr(t))
    check("include_subdomains does not reach other hosts",
          host_view(rules, "example.net") == ""
          and "contacts" not in host_view(rules, "x.example.com"))
    head = (b"target_url,source_url,include_subdomains,status_code\n"
            b"https://n.example/,old.example/p,true,308\n")
    r = Run([b, "import", "--from", "cloudflare", "-"], stdin=head)
    check("import cloudflare with a header, columns by name", r.rc == 0
          and rules_of(r.out) == ["//old.example/p https://n.example/ 308 "
                                  "qsdrop", "//*.old.example/p "
                                  "https://n.example/ 308 qsdrop"], repr(r))
    r = Run([b, "import", "--from", "cloudflare", "-"],
            stdin=b"\xef\xbb\xbfsource_url,target_url\r\n"
                  b"old.example/p,https://n.example/\r\n")
    check("import cloudflare: a spreadsheet's byte order mark", r.rc == 0
          and rules_of(r.out) == ["//old.example/p https://n.example/ 301 "
                                  "qsdrop"], repr(r))
    r = Run([b, "import", "--from", "cloudflare", "-"],
            stdin=b"source_url,to\nx.example/a,https://y.example/\n")
    check("import cloudflare header without target_url: exit 1", r.rc == 1
          and said(r.err, "-:1", "not converted", "target_url")
          and rules_of(r.out) == [], repr(r))
    r = Run([b, "import", "--from", "cloudflare", "-"], stdin=(
        b"example.com/shop,https://s.example/,301,,TRUE,TRUE,TRUE\n"
        b"x.example.com/,https://x.example/,301,,,TRUE,TRUE\n"
        b"https://example.com/p,https://p.example/,301,,,TRUE\n"
        b"example.com/p/deep,https://deep.example/,301\n"
        b"example.com/p/other,https://o.example/,301\n"))
    check("import cloudflare: where rules would prefer a host or scheme to "
          "Cloudflare's more specific path, a note", r.rc == 0
          and said(r.err, "-:1", "note", "row at line 2")
          and said(r.err, "-:4", "note", "row at line 3")
          and said(r.err, "-:5", "note", "row at line 3")
          and "-:2: note" not in r.err and "-:3: note: where" not in r.err,
          repr(r))


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


# ---- export ----------------------------------------------------------


def not_exported(err):
    """The FILE:LINE places an export reported as not exported."""
    return sorted(l.split(": not exported: ")[0] for l in err.splitlines()
                  if ": not exported: " in l)


def same_answers(b, original, roundtrip, urls, skip=(), opts=()):
    """Answers of `redirect307 test` (status and Location) on the original
    and the round-tripped rules; returns the URLs answered differently,
    leaving out those whose original rule is in `skip`."""
    a = answers(Run([b, "test"] + list(opts) + [original, "--"]
                    + urls).out)
    c = answers(Run([b, "test"] + list(opts) + [roundtrip, "--"]
                    + urls).out)
    if len(a) != len(urls) or len(c) != len(urls):
        return ["%d/%d/%d answers" % (len(a), len(c), len(urls))]
    return ["%s: %r vs %r" % (u, x[1:3], y[1:3])
            for u, x, y in zip(urls, a, c)
            if x[-1] not in skip and x[1:3] != y[1:3]]


def t_export_usage(b, tmp, rules):
    r = Run([b, "export", "--help"])
    check("export --help", r.rc == 0 and "redirect307 export" in r.out
          and "--map-out" in r.out and "--ignore-params" in r.out, repr(r))
    r = Run([b, "--help"])
    check("--help lists export", "export --to" in r.out, repr(r))
    cases = [
        ([b, "export", rules], "--to"),
        ([b, "export", "--to", "yaml", rules], "--to"),
        ([b, "export", "--to", "nginx", rules], "--map-out"),
        ([b, "export", "--to", "haproxy", rules], "--map-out"),
        ([b, "export", "--to", "csv", "--map-out", "x", rules],
         "no --map-out"),
        ([b, "export", "--to", "csv"], "no rules file"),
        ([b, "export", "--to", "csv", "--from", "csv", rules],
         "unknown option"),
        ([b, "import", "--from", "csv", "--to", "csv", rules],
         "unknown option"),
        ([b, "export", "--to", "csv", "--ignore-params", "none,utm_x", rules],
         "--ignore-params"),
        ([b, "export", "--to", "csv", os.path.join(tmp, "nope.rules")],
         "cannot open"),
        ([b, "export", "--to", "nginx", "--map-out",
          os.path.join(tmp, "no-such-dir", "maps.conf"), rules],
         "cannot write"),
    ]
    for argv, word in cases:
        r = Run(argv)
        check("export usage error %s: exit 2" % " ".join(argv[2:]),
              r.rc == 2 and word in r.err, repr(r))
    loop = write(tmp, "xloop.rules", "/a /b\n/b /a\n")
    r = Run([b, "export", "--to", "csv", loop])
    check("export of rules httpd refuses: exit 1, nothing written",
          r.rc == 1 and r.out == "" and "redirect loop" in r.err
          and "not exporting" in r.err, repr(r))


CSV_EXPORT_RULES = """\
/old-page              /new-page
/promo                 https://shop.example.com/sale        302
/docs/*                https://docs.example.com/v2/*        301
/index.php?id=42       /products/blue-widget                308
/q?b=2&a=1             /ab?x=1                              303
/retired               -                                    410
/Legal                 /legal                               301   nocase
/café                  /coffee
/100%25                /percent                             301
/what%3F               /question                            301
/star%2A               /star-target                         302
/hash%23x              /hash-target                         302
/sp%20ace              /spaced                              308
/faq                   /help#shipping                       302
/self/                 /self                                301
/keep                  /kept                                307   qsappend
/drop                  /dropped?a=1                         301   qsdrop
/none                  /none-target                         301   qsnone
//www.example.com/host /host-target
/hop1                  /hop2                                301
/hop2                  /hop3                                301
"""

CSV_EXPORT_URLS = [
    "/old-page", "/old-page?x=1", "/old-page/", "/promo?a=b", "/docs/x",
    "/index.php?id=42", "/index.php?id=42&x=1", "/q?a=1&b=2", "/q?b=2",
    "/retired", "/Legal", "/legal", "/caf%C3%A9", "/100%25", "/what%3F",
    "/star%2A", "/star*", "/hash%23x", "/sp%20ace", "/faq?x=1", "/self",
    "/self/", "/keep?z=1", "/drop?utm_source=1", "/none", "/host", "/hop1",
    "/nothing",
]


def t_export_csv(b, tmp):
    src = write(tmp, "xcsv.rules", CSV_EXPORT_RULES)
    r = Run([b, "export", "--to", "csv", src])
    check("export csv with rules CSV cannot hold: exit 1", r.rc == 1,
          repr(r))
    check("export csv: not exported are the prefix, nocase, qsdrop, qsnone "
          "and host rules", not_exported(r.err) == sorted(
              "%s:%d" % (src, n) for n in (3, 7, 17, 18, 19)), r.err)
    for n, word in ((3, "prefix rule"), (7, "nocase"), (17, "qsdrop"),
                    (18, "qsnone"), (19, "host www.example.com")):
        check("export csv: %s:%d says why (%s)" % (src, n, word),
              any(l.startswith("%s:%d: not exported:" % (src, n))
                  and word in l for l in r.err.splitlines()), r.err)
    check("export csv: summary on stderr",
          "16 rules exported, 5 not exported" in r.err, r.err)
    rows = r.out.splitlines()
    check("export csv: the plugin's header",
          rows[:1] == ["source,target,regex,code,type,hits,title,status"],
          repr(rows[:1]))
    for head, n in (('"/old-page","/new-page",0,307,"url"', 1),
                    ('"/index.php?id=42","/products/blue-widget",0,308,"url"',
                     4),
                    ('"/retired","",0,410,"error"', 6),
                    ('"/caf%C3%A9","/coffee",0,307,"url"', 8),
                    ('"/100%25","/percent",0,301,"url"', 9),
                    ('"/what%3F","/question",0,301,"url"', 10),
                    ('"/star%2A","/star-target",0,302,"url"', 11),
                    ('"/self/","/self",0,301,"url"', 15)):
        row = '%s,0,"%s:%d","active"' % (head, src, n)
        check("export csv row %s" % row.split(",")[0], row in rows,
              "\n".join(rows))
    out = write(tmp, "xcsv.csv", r.out)
    i = Run([b, "import", "--from", "csv", out])
    check("export csv reads back with import --from csv: exit 0, all rows",
          i.rc == 0 and "16 rules written, 0 entries" in i.err, repr(i))
    back = write(tmp, "xcsv-back.rules", i.out)
    diff = same_answers(b, src, back, CSV_EXPORT_URLS,
                        skip=["%s:%d" % (src, n) for n in (3, 7, 17, 18, 19)])
    check("export csv round trip answers the same", diff == [],
          "\n".join(diff))
    r = Run([b, "export", "--to", "csv", "-"],
            stdin=b"/a /b 301\n/c /d\n")
    check("export csv from stdin", r.rc == 0 and r.out.splitlines()[1:] == [
        '"/a","/b",0,301,"url",0,"-:1","active"',
        '"/c","/d",0,307,"url",0,"-:2","active"'], repr(r))


def t_export_csv_options(b, tmp):
    src = write(tmp, "xopt.rules", "/a /b\n/hop1 /hop2 302\n/hop2 /hop3 301\n"
                "/slash/ /slash-target 301\n/Mixed /mixed 302 nocase\n"
                "/Self /self 301\n")
    opts = ["--default", "308", "--chains", "collapse", "--trailing-slash",
            "strict", "--case-insensitive"]
    r = Run([b, "export", "--to", "csv"] + opts + [src])
    rows = r.out.splitlines()
    check("export csv with options: everything exported", r.rc == 0
          and not_exported(r.err) == [], repr(r))
    for row, why in (('"/a","/b",0,308,', "--default"),
                     ('"/hop1","/hop3",0,302,', "--chains collapse"),
                     ('"/slash/","/slash-target",', "--trailing-slash strict"),
                     ('"/MIXED","/mixed",', "--case-insensitive: a self "
                      "rule spelled apart, in upper case"),
                     ('"/SELF","/self",', "self rule spelled apart")):
        check("export csv %s" % why, any(x.startswith(row) for x in rows),
              "\n".join(rows))
    back = write(tmp, "xopt-back.rules", Run(
        [b, "import", "--from", "csv", "-"], stdin=r.out.encode()).out)
    diff = same_answers(b, src, back, ["/a", "/hop1", "/hop2?x=1", "/slash",
                                       "/slash/", "/MIXED", "/self", "/SELF",
                                       "/Self/"], opts=opts)
    check("export csv round trip with the same options", diff == [],
          "\n".join(diff))


NGINX_EXPORT_RULES = """\
/old-page              /new-page
/promo                 https://shop.example.com/sale        302
/with-query            /target?a=1                          308
/café                  /coffee                              301
/Mixed                 /mixed-target                        302   nocase
/retired               -                                    410
/docs/*                https://docs.example.com/v2/*        301
/index.php?id=42       /products/blue-widget                308
/price                 https://shop.example.com/$price
/rep?a=1&a=1           /rep-target                          301
"""


def t_export_nginx(b, tmp):
    src = write(tmp, "xngx.rules", NGINX_EXPORT_RULES)
    maps = os.path.join(tmp, "xngx-maps.conf")
    r = Run([b, "export", "--to", "nginx", "--map-out", maps, src])
    check("export nginx: the repeated parameter is not exported, exit 1",
          r.rc == 1 and not_exported(r.err) == ["%s:10" % src]
          and "repeats a parameter" in r.err, repr(r))
    with open(maps) as f:
        m = f.read()
    for part in ('map $uri $r307_e307_qa_p {\n    default "";\n'
                 '    # %s:1\n    "/old-page" "/new-page";\n'
                 '    "/old-page/" "/new-page";\n' % src,
                 '"/caf\u00e9" "/coffee";', '"/mixed" "/mixed-target";',
                 '"https://shop.example.com/${r307_dollar}price"',
                 'geo $r307_dollar { default "$"; }',
                 'map "${uri}" $r307_case {', "map_hash_bucket_size 64;",
                 '"~(?s)^[^\\x20]*\\x20[a-z]+://[^/]*\\x2fdocs(?<r307_r>/'
                 '(?<r307_s>.*))?$" "301 https://docs.example.com/v2/'
                 '${r307_ro1}${r307_qa}";'):
        check("export nginx maps hold %r" % part[:60], part in m, m[:3000])
    for part in ('if ($r307_go_e307_qa_p) { return 307 '
                 '$r307_base$r307_e307_qa_p$r307_qa; }',
                 'if ($r307_go_e308_ap_p) { return 308 '
                 '$r307_base$r307_e308_ap_p$r307_ap; }',
                 'if ($r307_go_e410) { return 410; }',
                 'if ($r307_c ~ "^301 (.*)$") { return 301 $1; }',
                 'if ($r307_a ~ "^308 (.*)$") { return 308 $1; }',
                 "needs %s included in http {}" % maps):
        check("export nginx server lines hold %r" % part[:50], part in r.out,
              r.out)
    # The exporter's maps are chained through other maps and answered by
    # "if" lines; import --from nginx follows the statement that uses each
    # map variable in hand-written configurations and reads none of them:
    # it must say so for every map and write no rule it could get wrong
    # (the export itself is proven against a real nginx by
    # test/import/diff_export.py).
    i = Run([b, "import", "--from", "nginx", "-"],
            stdin=(m + r.out).encode("utf-8"))
    got = [l for l in i.out.splitlines() if l and not l.startswith("#")]
    check("export nginx: import --from nginx converts none of its chained "
          "maps, and says so", i.rc == 1 and got == []
          and i.err.count("not converted") + i.err.count("note: map") >= 3,
          "\n".join(got) + i.err)


def t_export_haproxy(b, tmp):
    src = write(tmp, "xhap.rules",
                "/old-page /new-page\n"
                "/docs/* https://docs.example.com/v2/* 301\n"
                "/NC /elsewhere 302 nocase\n"
                "/np/* /np-target/* 307 qsnone\n"
                "/q?a=1 /qa 303\n")
    base = os.path.join(tmp, "xhap")
    r = Run([b, "export", "--to", "haproxy", "--map-out", base, src])
    check("export haproxy: a qsnone prefix rule is not exported, exit 1",
          r.rc == 1 and not_exported(r.err) == ["%s:4" % src]
          and "map_beg" in r.err, repr(r))
    maps = {}
    for suffix in ("regex", "exact", "exact-nocase", "prefix",
                   "prefix-nocase"):
        path = "%s.%s.map" % (base, suffix)
        check("export haproxy writes %s" % path, os.path.exists(path))
        with open(path) as f:
            maps[suffix] = f.read()
    for suffix, entry in (
            ("exact", "/old-page 307|p|q|||/new-page|-|-|9|"),
            ("exact-nocase", "/nc 302|p|q|||/elsewhere|-|-|3|"),
            ("prefix", "/docs/ 301|a|q|||https://docs.example.com/v2/|o|1|5|"),
            ("regex", " 303|p|Q|||/qa|-|-|2|")):
        check("export haproxy %s map entry %r" % (suffix, entry),
              entry in maps[suffix], maps[suffix])
    for part in ("map_str(%s.exact.map)" % base,
                 "lower,map_str(%s.exact-nocase.map)" % base,
                 "map_beg(%s.prefix.map)" % base,
                 "map_regm(%s.regex.map)" % base,
                 "redirect code 303 location %[var(txn.r307_base)]"):
        check("export haproxy lines hold %r" % part, part in r.out, r.out)
    check("export haproxy: unused maps are not looked up",
          "prefix-nocase.map)" not in r.out, r.out)


def t_export_corners(b, tmp):
    one = write(tmp, "xdup1.rules", "/a /first\n/q?utm_source=x /never\n")
    two = write(tmp, "xdup2.rules", "/a /second\n/b /c\n")
    r = Run([b, "export", "--to", "csv", one, two])
    check("export: a later duplicate never answers and is left out",
          r.rc == 0 and '"/a","/first"' in r.out and "/second" not in r.out
          and '"/b","/c"' in r.out, repr(r))
    check("export: a query rule naming an ignored parameter is noted, left "
          "out", "%s:2: note: never answers" % one in r.err
          and "/never" not in r.out, repr(r))
    r = Run([b, "export", "--to", "csv", "--ignore-params", "none", one])
    check("export --ignore-params none: the utm_source rule answers",
          r.rc == 0 and '"/q?utm_source=x","/never"' in r.out, repr(r))
    src = write(tmp, "xign.rules", "/t /target?a=1 301\n")
    maps = os.path.join(tmp, "xign-maps.conf")
    r = Run([b, "export", "--to", "nginx", "--map-out", maps,
             "--ignore-params", "none", src])
    with open(maps) as f:
        m = f.read()
    check("export nginx --ignore-params none: no pass-through",
          r.rc == 0 and "r307_pass" not in m and "e301_none_p" in m, m)
    r = Run([b, "export", "--to", "nginx", "--map-out", maps,
             "--ignore-params", "ref*,src", src])
    with open(maps) as f:
        m = f.read()
    check("export nginx --ignore-params: the names given are passed through",
          r.rc == 0 and "(?:src)|(?:ref)[^&=\\x20]*" in m
          and "utm" not in m, m[-1500:])


def t_import_csv_absolute(b, tmp):
    src = write(tmp, "absolute.csv",
                "source,target,regex,code,type,hits,title,status\n"
                "https://old.example.com/a,/b,0,301,url,0,,enabled\n"
                "http://Shop.Example/x?y=1,https://n.example/x,0,302,url,0,,"
                "enabled\n"
                "ftp://x/y,/z,0,301,url,0,,enabled\n")
    r = Run([b, "import", "--from", "csv", src])
    check("import csv: absolute sources become host rules (any scheme)",
          rules_of(r.out) == ["//old.example.com/a /b 301",
                              "//Shop.Example/x?y=1 https://n.example/x 302"]
          and "%s:2: note: absolute source: a host rule for "
              "old.example.com" % src in r.err, repr(r))
    check("import csv: other schemes are not converted, exit 1",
          r.rc == 1 and "%s:4: not converted" % src in r.err, repr(r))
    rules = write(tmp, "absolute.rules", r.out)
    t = Run([b, "test", rules, "--", "https://old.example.com/a",
             "http://shop.example/x?y=1", "http://other.example/a"])
    check("import csv: the host rules answer their host only",
          answers(t.out) == [
              ["https://old.example.com/a", "301",
               "https://old.example.com/b", rules + ":2"],
              ["http://shop.example/x?y=1", "302", "https://n.example/x",
               rules + ":3"],
              ["http://other.example/a", "no match"]], repr(t))


PATTERN_RULES = """\
/u/:name            /users/:name
/u/admin            /root
/blog/*             /b/*
/blog/:y/:slug      /never
/u/:other           /again/:other
/shop/:cat/*        https://shop.example/p/:cat/*  308
"""


def t_patterns(b, tmp):
    rules = write(tmp, "pattern.rules", PATTERN_RULES)
    r = Run([b, "check", rules])
    check("patterns: check counts them", r.rc == 0
          and "(1 exact, 1 prefix, 0 query, 3 pattern;" in r.out, repr(r))
    d = json_doc(Run([b, "check", "--json", rules]))
    kinds = [(x["kind"], places(x)) for x in d["diagnostics"]] if d else None
    check("patterns: check --json summary and kinds",
          d is not None and d["summary"]["pattern"] == 3
          and kinds == [("duplicate", [(rules, 5), (rules, 1)]),
                        ("shadowed", [(rules, 4), (rules, 3)])], repr(d))
    r = Run([b, "test", "--allow-encoded-slashes", "nodecode", rules, "--",
             "/u/bob", "/u/admin", "/u/a%2Fb", "/u/a%3Fb",
             "/shop/shoes/red?x=1", "/u/"])
    want = [["/u/bob", "307", "/users/bob", rules + ":1", "pattern /u/:name"],
            ["/u/admin", "307", "/root", rules + ":2"],
            ["/u/a%2Fb", "307", "/users/a%252Fb", rules + ":1",
             "pattern /u/:name"],
            ["/u/a%3Fb", "307", "/users/a%3Fb", rules + ":1",
             "pattern /u/:name"],
            ["/shop/shoes/red?x=1", "308",
             "https://shop.example/p/shoes/red?x=1", rules + ":6",
             "pattern /shop/:cat"],
            ["/u/", "no match"]]
    check("patterns: test names the pattern that answered",
          r.rc == 0 and answers(r.out) == want, repr(r))
    bad = write(tmp, "pattern-bad.rules", "/u/:name /users/:id\n")
    r = Run([b, "check", bad])
    check("patterns: a target naming an unknown placeholder is FILE:LINE",
          r.rc == 1 and (bad + ":1: target names ':id'") in r.err, repr(r))


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


REWRITE = """\
# redirects.conf
RewriteEngine On
RewriteRule ^/old-page$ /new-page [R=307,L]
RewriteRule ^/docs/(.*)$ https://docs.example.com/v2/$1 [R=301,L]
RewriteRule ^/perm(/.*)?$ http://x.example/alias$1 [R=permanent,L]
RewriteRule ^/retired$ - [G]
RewriteRule ^/Legal$ /legal [R=301,NC,L]
RewriteRule ^/promo/?$ https://shop.example.com/sale? [R,L]
RewriteCond %{QUERY_STRING} ^id=42$
RewriteRule ^/index\\.php$ /products/blue [R=308,L]
RewriteRule ^/caf\u00e9$ "/new target" [R=303,L]
RewriteRule ^/ext$ http://other.example/x
RewriteRule ^/int$ /other.html [L]
RewriteCond %{HTTP_HOST} ^old\\.example$
RewriteRule ^/hosted$ /h [R,L]
RewriteRule ^/blog/(\\d+)/(.*)$ /posts/$2 [R=301,L]
RewriteRule ^/docs/special$ /special [R,L]
RewriteRule ^/dash/(.*)$ /new-$1 [R,L]
RewriteRule ^/r404$ /x [R=404,L]
RewriteRule ^/cookie$ /x [R,CO=a:b:.example.com,L]
RewriteRule old-page /x [R,L]
RewriteRule ^/bad$ /x [R=301, L]
RewriteRule ^/nol$ /nol-target [R]
RewriteRule ^/nol2$ /x/index.html [R]
RewriteRule (.*)/index\\.html$ $1/ [R=301,L]
RewriteRule ^/map$ ${moved:$1} [R,L]
"""


def said_at(err, src, ln, label, word):
    """Does stderr hold "src:ln: label: ...word..."?"""
    head = "%s:%d: %s:" % (src, ln, label)
    return any(l.startswith(head) and word in l for l in err.splitlines())


def t_import_rewrite(b, tmp):
    src = write(tmp, "redirects.conf", REWRITE)
    r = Run([b, "import", "--from", "rewrite", src])
    check("import rewrite with skipped lines: exit 1", r.rc == 1, repr(r))
    rules = [l for l in r.out.splitlines() if not l.startswith("#")]
    want = [
        "/old-page /new-page 307",
        "/docs/* https://docs.example.com/v2/* 301",
        "/perm/* http://x.example/alias* 301",
        "/retired - 410",
        "/Legal /legal 301 nocase",
        "/promo https://shop.example.com/sale 302 qsdrop",
        "/index.php?id=42 /products/blue 308 qsappend",
        "/caf%C3%A9 /new%20target 303",
        "/ext http://other.example/x 302",
        "/blog/:p1/* /posts/* 301",
        "/nol /nol-target 302",
    ]
    check("import rewrite output", rules == want,
          "\n".join(rules) + "\n" + r.err)
    for ln, word in ((13, "not a redirect"), (15, "%{HTTP_HOST}"),
                     (17, "line 4 comes first"),
                     (18, "after a '/'"), (19, "404"), (20, "[CO]"),
                     (21, "not anchored"), (22, "httpd would refuse"),
                     (24, "no [L]"), (25, "regular expression"),
                     (26, "rewritemap")):
        check("import rewrite: %d not converted (%s)" % (ln, word),
              said_at(r.err, src, ln, "not converted", word), r.err)
    for ln, word in ((3, "trailing slash"), (3, "empty query"),
                     (4, "carrying $1"), (4, "/docs itself"),
                     (7, "to itself"), (10, "query string as sent"),
                     (12, "--host"), (16, "differs: the rule also answers "
                                         "paths the regex does not match")):
        check("import rewrite: %d note (%s)" % (ln, word),
              said_at(r.err, src, ln, "note", word), r.err)
    check("import rewrite: summary", "11 rules written, 11 entries not "
          "converted" in r.err, r.err)
    out = write(tmp, "rewrite.rules", r.out)
    c = Run([b, "check", out])
    check("import rewrite output passes check", c.rc == 0
          and "warning" not in c.err, repr(c))
    t = Run([b, "test", out, "--", "/docs/a?x=1", "/docs", "/perm",
             "/perm/a", "/promo/?x=1", "/index.php?id=42", "/caf%C3%A9",
             "/legal"])
    check("imported rewrite answers", [x[1:3] for x in answers(t.out)] == [
        ["301", "https://docs.example.com/v2/a?x=1"],
        ["301", "https://docs.example.com/v2/"],
        ["301", "http://x.example/alias"],
        ["301", "http://x.example/alias/a"],
        ["302", "https://shop.example.com/sale"],
        ["308", "/products/blue?id=42"], ["303", "/new%20target"],
        ["no match"]], repr(t))
    r = Run([b, "import", "--from", "rewrite", "--host", "other.example",
             src])
    check("import rewrite --host: an own absolute target without R is an "
          "internal rewrite",
          said_at(r.err, src, 12, "not converted", "own host")
          and "/ext " not in r.out, r.err)


HTACCESS = """\
# BEGIN redirects
<IfModule mod_rewrite.c>
RewriteEngine On
RewriteBase /blog/
RewriteRule ^old-post$ new-post [R=301,L]
RewriteRule ^archive/(.*)$ /blog/posts/$1 [R=301,L]
RewriteRule ^/never$ /x [R,L]
RewriteRule ^index\\.php$ - [L]
RewriteCond %{REQUEST_FILENAME} !-f
RewriteCond %{REQUEST_FILENAME} !-d
RewriteRule . /blog/index.php [L]
RewriteRule ^late$ /blog/late-target [R=301,L]
</IfModule>
<IfModule !mod_rewrite.c>
RewriteRule ^x$ /y [R]
</IfModule>
"""


def t_import_rewrite_htaccess(b, tmp):
    r = Run([b, "import", "--from", "rewrite", "-"], stdin=HTACCESS.encode())
    rules = [l for l in r.out.splitlines() if not l.startswith("#")]
    check("import rewrite .htaccess from stdin (RewriteBase: per "
          "directory)", r.rc == 1 and rules == [
              "/blog/old-post /blog/new-post 301",
              "/blog/archive/* /blog/posts/* 301"], repr(r))
    for ln, word in ((7, "never matches"), (8, "not a redirect"),
                     (11, "not a redirect"), (12, "line 11 comes first")):
        check("import rewrite .htaccess: %d not converted (%s)" % (ln, word),
              said_at(r.err, "-", ln, "not converted", word), r.err)
    check("import rewrite .htaccess: base and <IfModule !...> noted",
          said_at(r.err, "-", 5, "note", "/blog/, their RewriteBase")
          and said_at(r.err, "-", 15, "note", "never applied"), r.err)
    path = write(tmp, ".htaccess", "RewriteEngine on\n"
                 "RewriteRule ^a/?$ /b [R=302,L]\n"
                 "RewriteRule ^rel$ rel-target [R,L]\n")
    r = Run([b, "import", "--from", "rewrite", path])
    check("import rewrite: a file named .htaccess is per directory, at the "
          "document root without a RewriteBase", r.rc == 1
          and "\n/a /b 302\n" in r.out
          and said_at(r.err, path, 2, "note", "document root")
          and said_at(r.err, path, 3, "not converted", "RewriteBase"),
          repr(r))


def t_import_rewrite_contexts(b, tmp):
    conf = ("RewriteEngine On\n"
            "RewriteRule ^/a$ /b [R,L]\n"
            "<VirtualHost *:80>\n"
            "ServerName www.example.com\n"
            "RewriteRule ^/v$ /w [R=301,L]\n"
            "RewriteRule ^/self$ http://www.example.com/other\n"
            "</VirtualHost>\n"
            "<VirtualHost *:80>\n"
            "RewriteEngine Off\n"
            "RewriteRule ^/off$ /x [R,L]\n"
            "</VirtualHost>\n"
            "<Directory /srv/www/old>\n"
            "RewriteRule ^x$ /y [R,L]\n"
            "</Directory>\n"
            "DocumentRoot /srv/www\n"
            "<If \"%{HTTP_HOST} == 'a'\">\n"
            "RewriteRule ^/if$ /x [R,L]\n"
            "</If>\n")
    src = write(tmp, "vhosts.conf", conf)
    r = Run([b, "import", "--from", "rewrite", src])
    rules = [l for l in r.out.splitlines() if not l.startswith("#")]
    check("import rewrite contexts: output", rules == [
        "/a /b 302", "/v /w 301", "/old/x /y 302"], repr(r))
    check("import rewrite contexts: vhost inherits RewriteEngine, noted",
          said_at(r.err, src, 5, "note", "<VirtualHost> at line 3"), r.err)
    check("import rewrite contexts: ServerName target is internal",
          said_at(r.err, src, 6, "not converted", "own host"), r.err)
    check("import rewrite contexts: RewriteEngine Off holds for the vhost",
          said_at(r.err, src, 10, "note", "inactive"), r.err)
    check("import rewrite contexts: <Directory> below DocumentRoot",
          said_at(r.err, src, 13, "note", "below the URL-path /old/"),
          r.err)
    check("import rewrite contexts: <If> is a condition",
          said_at(r.err, src, 17, "not converted", "<If>"), r.err)
    r = Run([b, "import", "--from", "rewrite", "-"],
            stdin=b"RewriteRule ^/a$ /b [R,L]\nRewriteEngine Off\n")
    check("import rewrite: RewriteEngine Off after the rules still holds",
          r.rc == 0 and r.out.count("\n") == 1
          and said_at(r.err, "-", 1, "note", "RewriteEngine Off (line 2)"),
          repr(r))
    r = Run([b, "import", "--from", "rewrite", "-"],
            stdin=b"RewriteRule ^/a$ /b [R,L]\n")
    check("import rewrite: no RewriteEngine at all: active, noted",
          r.rc == 0 and "/a /b 302" in r.out
          and said_at(r.err, "-", 1, "note", "no RewriteEngine"), repr(r))


REWRITEMAP = """\
# moved pages
/old-a /new-a
old-b https://b.example/new
/q /x?y=1
/dup /first
/dup /second
  /indented /x
/novalue
/rel relative
/pct%41 /a%20b  # comment
/caf\u00e9 /coffee
"""


def t_import_rewritemap(b, tmp):
    src = write(tmp, "moved.map", REWRITEMAP)
    r = Run([b, "import", "--from", "rewritemap", src])
    rules = [l for l in r.out.splitlines() if not l.startswith("#")]
    check("import rewritemap output (302 without --status)", r.rc == 1
          and rules == ["/old-a /new-a 302",
                        "/old-b https://b.example/new 302",
                        "/dup /first 302", "/pct%2541 /a%2520b 302",
                        "/caf%C3%A9 /coffee 302"], repr(r))
    for ln, word in ((4, "403"), (8, "no value"), (9, "neither")):
        check("import rewritemap: %d not converted (%s)" % (ln, word),
              said_at(r.err, src, ln, "not converted", word), r.err)
    for ln, word in ((2, "no --status"), (2, "trailing slash"),
                     (2, "with and without a leading '/'"),
                     (6, "duplicate source"), (7, "skips the line"),
                     (10, "literal '%'"), (10, "'%25'")):
        check("import rewritemap: %d note (%s)" % (ln, word),
              said_at(r.err, src, ln, "note", word), r.err)
    out = write(tmp, "map.rules", r.out)
    t = Run([b, "test", out, "--", "/old-b?q=1", "/dup", "/pct%2541"])
    check("imported rewritemap answers", [x[1:3] for x in answers(t.out)] == [
        ["302", "https://b.example/new?q=1"], ["302", "/first"],
        ["302", "/a%2520b"]], repr(t))
    r = Run([b, "import", "--from", "rewritemap", "--status", "301", "-"],
            stdin=b"/a /b\n")
    check("import rewritemap --status, stdin, exit 0", r.rc == 0
          and "\n/a /b 301\n" in r.out and "no --status" not in r.err,
          repr(r))


# ---------------------------------------------------------------------------
# prune: DURATION, the stats file, removal byte for byte, keys
# ---------------------------------------------------------------------------

NETLIFY_PATTERNS = """\
# Netlify placeholders
/blog/:year/:month/:slug   /posts/:slug   301!
/shop/:cat/*               /products/:cat/:splat  302!
/blog/2020/:month/:slug    /old/:slug  301!
/news/:id                  https://n.example:8443/a/:id?from=:id  301!
/u/:name                   /people/:name-profile  301!
/c/:a/:a                   /x 301!
/d/:slug.html              /x 301!
/e/:x                      /y/:z 301!
/f/:x id=1                 /y 301!
/g/:a/:b/:c/:d/:e/:f/:g/:h/:i /x 301!
/h/:splat                  /x 301!
/k/x                       /lit 301!
/k/:id                     /pat/:id 301!
/m/:id                     /pat 301!
/m/special                 /lit 301!
/time/10:30                /t 301!
/o/:a/:b                   /o2 301!
/o/x/:b                    /o3 301!
/q/:a/x                    /q1 301!
/q/x/:b                    /q2 301!
/r/:a/*                    /r1/:splat 301!
/r/x/:b                    /r2 301!
https://h.example/:lang/docs/*  https://docs.example/:lang/:splat 301!
/s/:a                      /s1 302
/w/*                       /w1 301!
/w/:a                      /w2 301!
"""


def pattern_answers(b, tmp, name, rules_text, cases):
    """`redirect307 test` of imported pattern rules: the answers the
    contract gives."""
    out = write(tmp, name + ".rules", rules_text)
    t = Run([b, "test", out, "--"] + [u for u, _ in cases])
    check(name, [a[1:3] for a in answers(t.out)] == [w for _, w in cases],
          repr(t))


def t_import_netlify_patterns(b, tmp):
    src = write(tmp, "_redirects_patterns", NETLIFY_PATTERNS)
    r = Run([b, "import", "--from", "netlify", src])
    check("import netlify placeholders: exit 1 (lines not converted)",
          r.rc == 1, repr(r))
    want = [
        "/blog/:year/:month/:slug /posts/:slug 301",
        "/shop/:cat/* /products/:cat/* 302",
        "/news/:id https://n.example:8443/a/:id?from=:id 301 qsappend",
        "/u/:name /people/:name-profile 301",
        "/k/x /lit 301",
        "/k/:id /pat/:id 301",
        "/m/:id /pat 301",
        "/time/10%3A30 /t 301",
        "/o/:a/:b /o2 301",
        "/q/:a/x /q1 301",
        "/q/x/:b /q2 301",
        "/r/:a/* /r1/* 301",
        "https://h.example/:lang/docs/* https://docs.example/:lang/* 301",
        "/s/:a /s1 302",
        "/w/* /w1 301",
    ]
    rules = rules_of(r.out)
    check("import netlify placeholders: pattern rules as written, a "
          "literal ':' escaped", rules == want,
          "\n".join(rules) + "\n" + r.err)
    for ln, word in ((4, "never reached in Netlify: the rule at line 2"),
                     (7, "':a' twice"), (8, "whole segment"),
                     (9, "':z', which is no placeholder"),
                     (10, "cannot have a query"), (11, "more than 8"),
                     (12, "':splat' as a placeholder"),
                     (16, "never reached in Netlify: the rule at line 15"),
                     (19, "never reached in Netlify: the rule at line 18"),
                     (23, "never reached in Netlify: the rule at line 22"),
                     (27, "never reached in Netlify: the rule at line 26")):
        check("import netlify placeholders: line %d not converted (%s)"
              % (ln, word), said(r.err, "%s:%d" % (src, ln), "not converted",
                                 word), r.err)
    check("import netlify placeholders: a host pattern that earlier "
          "hostless patterns overlap is noted",
          said(r.err, "%s:24" % src, "note", "Netlify answers with them"),
          r.err)
    check("import netlify placeholders: equal literal segments, the "
          "earlier answers in both: nothing said",
          not any(said(r.err, "%s:%d" % (src, ln), kind, "")
                  for ln in (13, 14, 20, 21)
                  for kind in ("note", "not converted")), r.err)
    check("import netlify placeholders: 15 written, 11 not converted",
          "15 rules written, 11 entries not converted" in r.err, r.err)
    c = Run([b, "check", write(tmp, "netlify-patterns.rules", r.out)])
    check("import netlify placeholders: the output passes check without "
          "a warning (no pattern another rule shadows)",
          c.rc == 0 and "warning" not in c.err, repr(c))
    pattern_answers(b, tmp, "imported netlify placeholders answer", r.out, [
        ("/blog/2020/05/hello", ["301", "/posts/hello"]),
        ("/blog/2020/05/hello/", ["301", "/posts/hello"]),
        ("/shop/toys", ["302", "/products/toys/"]),
        ("/shop/toys/a/b?x=1", ["302", "/products/toys/a/b?x=1"]),
        ("/news/42", ["301", "https://n.example:8443/a/42?from=42"]),
        ("/u/a%20b", ["301", "/people/a%20b-profile"]),
        ("/k/x", ["301", "/lit"]), ("/k/y", ["301", "/pat/y"]),
        ("/time/10:30", ["301", "/t"]), ("/time/x", ["no match"]),
        ("/q/x/x", ["301", "/q1"])])


REWRITE_PATTERNS = """\
RewriteEngine On
RewriteRule ^/blog/([0-9]+)/([0-9]+)/([^/]+)\\.html$ /articles/$3 [R=301,L]
RewriteRule ^/u/([^/]+)$ https://new.example/users/$1 [R=302,L]
RewriteRule ^/shop/([^/]+)/(.*)$ /products/$1/$2 [R=301,L]
RewriteRule ^/r/([^/]+)(/.*)?$ http://r.example/$1$2 [R,L]
RewriteRule ^/n/(\\d+)$ /news/$1?from=n [R,L]
RewriteRule ^/n/latest$ /n/latest-news [R,L]
RewriteRule ^/p/post-([^/]+)-old/?$ /p/$1 [R=308,L]
RewriteRule ^/t/([^/.]+)\\.php$ /t/$1 [R=301,NC,L]
RewriteRule ^/x/([^/]+)/([^/]+)$ /y/$2/$1 [R,L]
RewriteRule ^/x/a/([^/]+)$ /z/$1 [R,L]
RewriteRule ^/k/a$ /internal [L]
RewriteRule ^/k/([^/]+)$ /k2/$1 [R,L]
RewriteRule ^/m/([0-9]+)$ /m1/$1 [R,L]
RewriteRule ^/m/([a-z]+)$ /m2/$1 [R,L]
RewriteRule ^/w/(.+?)$ /w2/$1 [R,L]
RewriteRule ^/s/([^/]*)$ /s2/$1 [R,L]
RewriteRule ^/q/([^/]+)$ /q2/$0 [R,L]
RewriteRule ^/q2/([^/]+)$ /q3/$1abc [R,L]
RewriteRule ^/v/([a-z]+)x$ /v/$1 [R,L]
RewriteRule ^/y/([0-9]+)-([0-9]+)$ /y2/$1 [R,L]
RewriteRule ^/o/([^/]+)?$ /o2/$1 [R,L]
RewriteCond %{QUERY_STRING} ^a=1$
RewriteRule ^/cond/([^/]+)$ /c/$1 [R,L]
RewriteRule ^/colon/([^/]+)$ /c/a:b/$1 [R,L]
RewriteRule ^/g/([^/]+)$ - [G]
RewriteRule ^/ne/([^/]+)$ /ne2/$1 [R,NE,L]
RewriteRule ^/z/((\\d+))$ /z2/$1 [R,L]
RewriteRule ^/z2/([^/]+)/([^/]+)/([^/]+)/([^/]+)/([^/]+)/([^/]+)/([^/]+)/([^/]+)/([^/]+)$ /x [R,L]
RewriteRule ^/hh/([^/]+)$ https://$1.example.com/ [R,L]
RewriteRule ^/dead/(.*)$ /d/$1 [R,L]
RewriteRule ^/dead/([^/]+)$ /e/$1 [R,L]
"""


def t_import_rewrite_patterns(b, tmp):
    src = write(tmp, "patterns.conf", REWRITE_PATTERNS)
    r = Run([b, "import", "--from", "rewrite", src])
    check("import rewrite segment groups: exit 1 (lines not converted)",
          r.rc == 1, repr(r))
    want = [
        "/blog/:p1/:p2/:p3.html /articles/:p3 301",
        "/u/:p1 https://new.example/users/:p1 302",
        "/shop/:p1/* /products/:p1/* 301",
        "/r/:p1/* http://r.example/:p1* 302",
        "/n/:p1 /news/:p1?from=n 302",
        "/p/post-:p1-old /p/:p1 308",
        "/t/:p1.php /t/:p1 301 nocase",
        "/x/:p1/:p2 /y/:p2/:p1 302",
        "/m/:p1 /m1/:p1 302",
        "/g/:p1 - 410",
        "/ne/:p1 /ne2/:p1 302",
        "/dead/* /d/* 302",
    ]
    rules = rules_of(r.out)
    check("import rewrite segment groups: pattern rules, $N as :pN",
          rules == want, "\n".join(rules) + "\n" + r.err)
    narrower = "differs: the rule also answers paths the regex does not match"
    for ln, word in ((2, narrower), (2, "$1 ([0-9]+), $2 ([0-9]+)"),
                     (6, narrower), (9, narrower), (14, narrower),
                     (15, "line 14's rule, which answers more than its "
                          "regex"),
                     (2, "a captured segment goes into the Location"),
                     (4, "also answers /shop/:p1 itself"),
                     (27, "[NE]")):
        check("import rewrite segment groups: line %d noted (%s)"
              % (ln, word), said_at(r.err, src, ln, "note", word), r.err)
    for ln in (3, 4, 5, 8, 10):
        check("import rewrite segment groups: line %d, groups of any "
              "segment, has no 'differs' note" % ln,
              not said_at(r.err, src, ln, "note", "differs"), r.err)
    for ln, word in ((7, "line 6 comes first"),
                     (11, "line 10 comes first in mod_rewrite and may answer "
                          "some of its paths; the rules would answer them "
                          "with this one"),
                     (13, "line 12 comes first"),
                     (16, "'.', which also matches '/'"),
                     (17, "does not repeat its class with '+'"),
                     (18, "backreference $0"),
                     (19, "'$1' is followed by 'a'"),
                     (20, "the text 'x' after a capture"),
                     (21, "not a pattern of whole segments"),
                     (22, "not a pattern of whole segments"),
                     (24, "a query condition on a pattern"),
                     (25, "holds ':b' literally"),
                     (28, "not one character class"),
                     (29, "more than 8 groups"),
                     (30, "in the target's host"),
                     (32, "never reached: line 31 answers all its paths "
                          "first")):
        check("import rewrite segment groups: line %d not converted (%s)"
              % (ln, word), said_at(r.err, src, ln, "not converted", word),
              r.err)
    check("import rewrite segment groups: the later of two same-shaped "
          "patterns is dropped as a duplicate",
          said_at(r.err, src, 15, "note", "duplicate source"), r.err)
    d = os.path.join(tmp, "wp")
    os.makedirs(d, exist_ok=True)
    ht = write(d, ".htaccess", "RewriteEngine On\nRewriteBase /wp/\n"
               "RewriteRule ^old/([^/]+)$ new/$1 [R=301,L]\n")
    h = Run([b, "import", "--from", "rewrite", ht])
    check("import rewrite segment groups per directory: below the "
          "RewriteBase, a relative target made absolute",
          h.rc == 0 and rules_of(h.out) == ["/wp/old/:p1 /wp/new/:p1 301"],
          repr(h))
    c = Run([b, "check", write(tmp, "rewrite-patterns.rules", r.out)])
    check("import rewrite segment groups: the output passes check without "
          "a warning", c.rc == 0 and "warning" not in c.err, repr(c))
    pattern_answers(b, tmp, "imported segment groups answer", r.out, [
        ("/blog/2020/05/hello.html", ["301", "/articles/hello"]),
        ("/blog/x/y/hello.html", ["301", "/articles/hello"]),
        ("/u/ann", ["302", "https://new.example/users/ann"]),
        ("/shop/toys/a/b", ["301", "/products/toys/a/b"]),
        ("/r/a", ["302", "http://r.example/a"]),
        ("/r/a/b", ["302", "http://r.example/a/b"]),
        ("/n/42", ["302", "/news/42?from=n"]),
        ("/p/post-x-old/", ["308", "/p/x"]),
        ("/T/Page.PHP", ["301", "/t/Page"]),
        ("/x/a/b", ["302", "/y/b/a"]),
        ("/g/x", ["410", "-"])])


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
