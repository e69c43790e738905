#!/usr/bin/env python3
"""Differential test of `redirect307 import --from nginx` against nginx.

nginx serves the configuration below (map $uri and map $request_uri
blocks answered by return and rewrite in every form the importer
converts); `redirect307 import --from nginx` converts that nginx.conf, and
apache2 with mod_redirect307 serves the rules, loaded as the importer's
notes say (Redirect307TrailingSlash Strict, AllowEncodedSlashes On).  Both
get the same requests (exact keys, other cases and spellings, trailing
slashes, queries, %20 / %C3%A9 / %2F, GET HEAD POST PUT DELETE) and must
answer with the same status and Location, except on the lines the
importer reported as not converted or as answering differently.  Misses
compare loosely (nginx and httpd answer them with their own statuses).
Prints every mismatch and "N passed, M failed"; exit 1 on a failure.

    python3 test/import/diff_nginx.py [--bin B] [--module M] [--nginx N] [-v]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import diff_common as dc  # noqa: E402

HTTP = """\
    map $uri $new_uri {
        default              "";
        /old-page            /new-page;
        /Promo               https://shop.example.com/sale;
        "/with space"        /spaced;
        '/quoted'            "/target";
        /caf\u00e9                /coffee;
        /q                   /target?a=1;
        /dir/                /newdir/;
        /deep/er/page        /flat;
        /u8                  /caf\u00e9-raw;
        ~^/blog/(.*)$        /articles/$1;
        /var                 $scheme://x/y;
    }
    map $request_uri $legacy {
        /index.php?id=42     /products/blue-widget;
        /plain               /plain-target;
        /two?a=1&b=2         /two-target;
    }
    map $uri $kept {
        /k                   /kept;
        /kq                  /kept?z=1;
    }
    map $uri $isargs {
        /ia                  /ia-target;
    }
    map $uri $qargs {
        /qa                  /qa-target;
    }
    map $uri $abs {
        /c                   /c-target;
        /cu                  https://elsewhere.example/x;
    }
    map $uri $sh {
        /d                   /d-target;
    }
    map $uri $only {
        /only/e              /e-target;
    }
"""

SERVER = """\
        if ($new_uri) { return 301 $new_uri; }
        if ($legacy) { rewrite ^ $legacy redirect; }
        if ($kept) { rewrite ^ $kept permanent; }
        if ($isargs) { return 308 $isargs$is_args$args; }
        if ($qargs) { return 301 $qargs?$args; }
        if ($abs) { return 302 https://new.example$abs; }
        if ($sh) { return 307 $scheme://$host$sh; }
        location /only { if ($only) { return 301 $only; } return 404; }
        location / { return 404; }
"""

# A map whose default answers every other path.
DEFAULT_HTTP = """\
    map $uri $to {
        default              https://www.example.org/;
        /x                   https://www.example.org/x;
    }
"""
DEFAULT_SERVER = """\
        if ($to) { return 301 $to; }
        location / { return 404; }
"""

# How the rules must be loaded, as the importer's note on every $uri map
# says.
OURS = ["Redirect307TrailingSlash Strict", "AllowEncodedSlashes On"]

# key (as in a request), needle that finds its line in nginx.conf.
URI_KEYS = [
    ("/old-page", "/old-page "), ("/Promo", "/Promo "),
    ("/with%20space", '"/with space"'), ("/quoted", "'/quoted'"),
    ("/caf%C3%A9", "/caf\u00e9 "), ("/q", "/q "), ("/dir/", "/dir/ "),
    ("/deep/er/page", "/deep/er/page"), ("/u8", "/u8 "),
    ("/blog/post", "~^/blog"), ("/var", "/var "), ("/k", "/k "),
    ("/kq", "/kq "), ("/ia", "/ia "), ("/qa", "/qa "), ("/c", "/c "),
    ("/cu", "/cu "), ("/d", "/d "), ("/only/e", "/only/e "),
]

# The keys whose requests answer differently, as the importer says: a
# target nginx sends raw (/u8), a second '?' (/kq), a regex and a
# variable target (not converted), the map answered with "$qargs?$args"
# (an empty '?'), a map answered only inside a location (/e, not
# converted), an absolute URL after a literal prefix (/cu).
DIFFERENT_KEYS = ["/u8", "/kq", "/blog/post", "/var", "/qa", "/only/e",
                  "/cu"]


def uri_paths(key):
    """Spellings of a $uri key nginx and httpd both decode and normalise
    to it (or not): case, escapes, dot segments, '//', a trailing slash,
    %2F, a longer path."""
    base = key.rstrip("/")
    paths = [key, key.upper(), base + ("" if key.endswith("/") else "/"),
             "/a/.." + key, "/" + key, base + "x"]
    if base.count("/") > 1:
        paths.append(base.replace("/", "%2F", 2).replace("%2F", "/", 1))
    return paths


def corpus(conf):
    reqs, want = [], set()
    for key, needle in URI_KEYS:
        line = dc.line_of(conf, needle)
        # The map's own line carries its notes.
        if key in ("/qa",):
            line = dc.line_of(conf, "map $uri $qargs")
        if key == "/only/e":
            line = dc.line_of(conf, "map $uri $only")
        if key in DIFFERENT_KEYS:
            want.add(line)
        reqs += dc.requests_for(uri_paths(key), line, methods=("GET",))
        reqs += dc.requests_for([key], line, methods=("HEAD", "POST", "PUT",
                                                      "DELETE"),
                                queries=("", "?x=1"))
    reqs += request_uri_corpus(conf)
    reqs += dc.requests_for(["/", "/nothing", "/old-pagex", "/x%2Fy"], None)
    return reqs, want


def request_uri_corpus(conf):
    """The $request_uri map: the exact keys must answer alike; other
    spellings are the map's documented difference."""
    map_line = dc.line_of(conf, "map $request_uri")
    reqs = []
    for target, needle in (("/index.php?id=42", "/index.php?id=42"),
                           ("/plain", "/plain "),
                           ("/two?a=1&b=2", "/two?a=1&b=2")):
        line = dc.line_of(conf, needle)
        reqs += [dc.Request(m, target, line)
                 for m in ("GET", "HEAD", "POST", "PUT", "DELETE")]
    for target in ("/plain?x=1", "/plain/", "/PLAIN", "/two?b=2&a=1",
                   "/index.php?id=42&x=1", "/index.php?ID=42",
                   "/index.php?id=%342", "/a/../plain", "//plain"):
        reqs.append(dc.Request("GET", target, map_line))
    return reqs


def default_map(run):
    """`default VALUE` answers every other path: the prefix rule /*."""
    ref = run.nginx_reference(DEFAULT_HTTP, DEFAULT_SERVER,
                              name="nginx-default")
    conf = ref.conf_text()
    imp = run.import_text("nginx", conf, name="default.conf")
    run.check("default map: import exits 0", imp.rc == 0, imp.err)
    run.check("default map: default becomes /*", "\n/* https://www.example"
              ".org/ 301 qsdrop\n" in imp.rules, imp.rules)
    ours = run.ours(imp.rules, OURS, name="mod_redirect307-default")
    paths = ["/", "/x", "/X", "/y", "/a/b/c", "/caf%C3%A9", "/x/"]
    reqs = dc.requests_for(paths, None)
    run.compare(ref, ours, reqs, imp, loose_misses=True)


def main():
    args = dc.parse_args(__doc__)
    with dc.DiffRun("diff_nginx", args) as run:
        ref = run.nginx_reference(HTTP, SERVER)
        conf = ref.conf_text()
        imp = run.import_text("nginx", conf, name="nginx.conf")
        run.check("import exits 1 (some entries not converted)",
                  imp.rc == 1, imp.err)
        for needle in ("~^/blog", "/var ", "map $uri $only"):
            line = dc.line_of(conf, needle)
            run.check("line %d (%s) not converted" % (line, needle),
                      imp.not_converted(line), imp.err)
        run.check("return CODE $var drops the query: qsdrop",
                  "/old-page /new-page 301 nocase,qsdrop" in imp.rules,
                  imp.rules)
        run.check("rewrite keeps a query rule's query: qsappend",
                  "/index.php?id=42 /products/blue-widget 302 "
                  "nocase,qsappend" in imp.rules, imp.rules)
        ours = run.ours(imp.rules, OURS, name="mod_redirect307")
        reqs, want = corpus(conf)
        want.add(dc.line_of(conf, "map $request_uri"))
        differing = run.compare(ref, ours, reqs, imp, loose_misses=True)
        run.check("the lines answering differently are the ones expected",
                  differing == want, "got lines %s, want %s"
                  % (sorted(differing), sorted(want)))
        default_map(run)


if __name__ == "__main__":
    main()
