#!/usr/bin/env python3
"""Differential test of `redirect307 import --from alias` against apache2
with mod_alias.

The configuration below is served by apache2 with mod_alias and, after
`redirect307 import --from alias`, by apache2 with mod_redirect307 alone;
both get the same requests (exact paths, paths below each prefix, trailing
slashes, queries, %20 / %C3%A9 / %2F, GET HEAD POST PUT DELETE) and must
answer with the same status and Location, except on the lines the
importer reported as not converted or as answering differently.  Prints
every mismatch and "N passed, M failed"; exit status 1 on a failure.

    python3 test/import/diff_alias.py [--bin B] [--module M] [--apache A] [-v]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import diff_common as dc  # noqa: E402

# (tag, configuration text).  A tag names the entry's first Redirect line,
# for the requests that exercise it; PATH is the URL-path they go to.
ENTRIES = [
    ("perm", "Redirect /perm http://x.example/alias", "/perm"),
    ("docs", "Redirect permanent /docs https://docs.example.com/v2", "/docs"),
    ("temp", "RedirectTemp /t http://x.example/index.html", "/t"),
    ("rp", "RedirectPermanent /rp /new/place", "/rp"),
    ("dir", "Redirect 301 /dir/ /newdir/", "/dir/"),
    ("dbl", "Redirect /both /both-target/", "/both"),
    ("join", "Redirect /ns/ http://x.example/ns", "/ns/"),
    ("gone", "Redirect gone /retired", "/retired"),
    ("gone410", "Redirect 410 /retired2", "/retired2"),
    ("s303", "Redirect 303 /form /thanks", "/form"),
    ("seeother", "Redirect seeother /see http://x.example/other", "/see"),
    ("s307", "Redirect 307 /keep http://x.example/keep", "/keep"),
    ("s308", "Redirect 308 /keep8 /k8", "/keep8"),
    ("s404", "Redirect 404 /missing", "/missing"),
    ("query", "Redirect /q http://x.example/q?a=1", "/q"),
    ("host", "Redirect /h http://x.example", "/h"),
    ("space", 'Redirect "/with space" /spaced', "/with%20space"),
    ("utf8", "Redirect /caf\u00e9 /coffee", "/caf%C3%A9"),
    ("pct", "Redirect /100% /percent", "/100%25"),
    ("rawtgt", 'Redirect /rt "/a target"', "/rt"),
    ("match", "RedirectMatch 301 ^/blog/(.*)$ https://blog.example.com/$1",
     "/blog"),
    ("shadow1", "Redirect /sh http://x.example/first", "/sh"),
    ("shadow2", "Redirect /sh/deeper http://x.example/second", "/sh/deeper"),
    ("long1", "Redirect /lo/nger http://x.example/longer", "/lo/nger"),
    ("long2", "Redirect /lo http://x.example/lo", "/lo"),
    ("lower", "redirect /lower https://example.org/", "/lower"),
    ("cont", "Redirect permanent /long \\\n    /continued", "/long"),
    ("ifmod", "<IfModule alias_module>\n    Redirect /im /in-ifmodule\n"
              "</IfModule>", "/im"),
    ("vhost", "<VirtualHost *>\n    ServerName www.example.com\n"
              "    Redirect /vh http://x.example/vhost\n</VirtualHost>",
     "/vh"),
    ("loc", "<Location /loc>\n    Redirect http://x.example/loc\n"
            "</Location>", "/loc"),
    ("cond", "<If \"%{QUERY_STRING} == 'x=1'\">\n    Redirect /cond /x\n"
             "</If>", "/cond"),
    ("dup", "Redirect /perm http://x.example/duplicate", "/perm"),
]

# The entries whose requests are answered differently, as the importer
# says: a URL-path ending in '/' (mod_alias does not answer it without
# the '/'), a doubled or missing slash where mod_alias joins the URL and
# the rest, a URL with a query (mod_alias appends the rest after it), a
# host-only URL ('http://x.example' for the prefix itself), a URL with a
# space (sent raw by mod_alias), and what is not converted: RedirectMatch,
# Redirect inside <Location> and <If>, and "Redirect 404" (without it
# httpd answers a GET with 404 too, but a PUT or DELETE with 405).
DIFFERENT = ["dir", "dbl", "join", "s404", "query", "host", "rawtgt",
             "match", "lower", "loc", "cond"]

# Paths no rule answers: both servers must give the same 404.
MISSES = ["/", "/nothing", "/permx", "/PERM", "/per", "/dirx", "/d%C3%A9j%C3%A0",
          "/x%2Fy"]


def build_conf():
    """The configuration text and {tag: line of its Redirect}."""
    lines, tags = [], {}
    for tag, text, _ in ENTRIES:
        for i, line in enumerate(text.split("\n")):
            if tag not in tags and ("Redirect" in line or "redirect" in line):
                tags[tag] = len(lines) + i + 1
        lines += text.split("\n")
    return "\n".join(lines) + "\n", tags


def corpus(tags):
    reqs = []
    for tag, _, path in ENTRIES:
        line = tags[tag]
        paths = dc.below(path) + [path.rstrip("/") + "x"]
        reqs += dc.requests_for(paths, line, methods=("GET",))
        reqs += dc.requests_for([path, path.rstrip("/") + "/a"], line,
                                methods=("HEAD", "POST", "PUT", "DELETE"),
                                queries=("", "?x=1"))
    reqs += dc.requests_for(MISSES, None)
    return reqs


def main():
    args = dc.parse_args(__doc__)
    conf, tags = build_conf()
    with dc.DiffRun("diff_alias", args) as run:
        imp = run.import_text("alias", conf, name="site.conf")
        run.check("import exits 1 (some lines not converted)", imp.rc == 1,
                  imp.err)
        for tag in ("match", "loc", "cond", "s404", "query"):
            run.check("%s (line %d) reported as not converted"
                      % (tag, tags[tag]), imp.not_converted(tags[tag]),
                      imp.err)
        run.check("the shadowed Redirect is noted, not written",
                  "never answers in mod_alias" in
                  str(imp.messages.get(tags["shadow2"])), imp.err)
        ref = run.apache_reference(conf, modules=[dc.ALIAS],
                                   name="mod_alias")
        ours = run.ours(imp.rules, name="mod_redirect307")
        reqs = corpus(tags)
        differing = run.compare(ref, ours, reqs, imp)
        want = sorted(tags[t] for t in DIFFERENT)
        run.check("the lines answering differently are the ones expected",
                  sorted(differing) == want,
                  "got lines %s, want %s" % (sorted(differing), want))


if __name__ == "__main__":
    main()
