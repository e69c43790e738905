#!/usr/bin/env python3
"""Differential test of `redirect307 export`: real nginx with the exported
nginx configuration and real HAProxy with the exported HAProxy
configuration answer the same request corpus as httpd with
mod_redirect307 on the original rules.

    python3 test/import/diff_export.py --module /abs/.libs/mod_redirect307.so \
        --bin /abs/build/redirect307 [--apache /usr/sbin/apache2] [-v]

Four configurations: a hand-written rules file and corpus (GET, HEAD,
POST, PUT; exact sources, paths below prefixes, trailing slashes, queries
in any order with and without tracking parameters, %20 and %C3%A9,
misses, statuses 301 302 303 307 308 410, host rules and several Host
headers, a chain) with httpd's defaults, and again with MatchCase Off,
TrailingSlash Strict, IgnoreParams none, Default 301 and Chains Collapse
(the export given the matching options); then 120 random rules and 600
random requests from a fixed seed, with both.  Every request goes to each
server over a raw socket with the same Host header, so that path targets
get the same base everywhere.  The
status and the Location must match byte for byte, the case of %XX hex
digits aside; a status that is no redirect counts as a miss on every
server.  A request httpd answers with a rule the export reported as not
exported is counted apart and not compared: those are the documented
gaps.  Prints each mismatch, a line per format, and "N passed, M failed"
last; exits non-zero on failure.

Servers are started on free loopback ports, polled until they answer (no
fixed sleeps) and stopped by pid (test/httpd_harness.py).

Python 3 standard library only.
"""

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test"))
import httpd_harness as hh  # noqa: E402
import diff_common as dc  # noqa: E402

START_TIMEOUT = 15.0
IO_TIMEOUT = 5.0
REDIRECTS = (301, 302, 303, 307, 308, 410)


# ---------------------------------------------------------------------------
# Helpers a shared module (test/import/diff_common.py) may take over:
# results, raw HTTP, starting the three servers.
# ---------------------------------------------------------------------------

def http(port, method, target, host, body=b""):
    """(status, Location bytes or None, headers dict) of one request sent
    raw on a fresh connection; (None, None, {}) if nothing came back."""
    head = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (
        method, target, host)
    if body:
        head += "Content-Length: %d\r\n" % len(body)
    data = b""
    with socket.create_connection((hh.LOOPBACK, port),
                                  timeout=IO_TIMEOUT) as s:
        s.sendall(head.encode("latin-1") + b"\r\n" + body)
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    lines = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    try:
        status = int(lines[0].split(b" ")[1])
    except (IndexError, ValueError):
        return None, None, {}
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return status, headers.get(b"location"), headers


def answers(port):
    """True once a server accepts a connection on port."""
    try:
        socket.create_connection((hh.LOOPBACK, port), timeout=1).close()
        return True
    except OSError:
        return False


def start_foreground(name, workdir, argv, port, errlog):
    srv = hh.Foreground(name, workdir, argv, port, errlog)
    srv.start()
    if not hh.poll(lambda: answers(port) or not srv.alive(), START_TIMEOUT) \
            or not srv.alive():
        tail = srv.log_tail()
        srv.stop()
        raise hh.StartError("%s did not start:\n%s" % (name, tail))
    return srv


def start_httpd(apache, module, rules, directives, workdir):
    """httpd with the module on the rules and the directives, in the
    foreground; the rule that answered comes back in X-R307-Rule."""
    port = hh.free_port()
    docroot = os.path.join(workdir, "www")
    os.makedirs(docroot, exist_ok=True)
    lines = hh.conf_head(workdir, [port], hh.CORE_MODULES + [
        ("headers_module", "mod_headers.so"),
        ("redirect307_module", module)], comment="diff_export.py")
    lines += [
        "DocumentRoot %s" % docroot,
        "Redirect307Map %s" % rules,
        'Header always set X-R307-Rule "%{REDIRECT307_RULE}e" '
        "env=REDIRECT307_RULE",
    ] + directives
    conf = os.path.join(workdir, "httpd.conf")
    hh.write_file(conf, "\n".join(lines) + "\n")
    rc, out = hh.run([apache, "-t", "-f", conf])
    if rc != 0:
        raise hh.StartError("apache2 -t:\n" + out)
    return start_foreground("httpd", workdir, [apache, "-f", conf,
                                               "-DFOREGROUND"],
                            port, os.path.join(workdir, "error.log"))


def start_nginx(maps, snippet, workdir):
    port = hh.free_port()
    conf = os.path.join(workdir, "nginx.conf")
    hh.write_file(conf, """pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    include %(maps)s;
    server {
        listen %(ip)s:%(port)d;
        server_name _;
        include %(snippet)s;
        location / { return 404; }
    }
}
""" % {"d": workdir, "maps": maps, "snippet": snippet, "ip": hh.LOOPBACK,
       "port": port})
    argv = ["nginx", "-p", workdir + "/", "-e",
            os.path.join(workdir, "error.log"), "-c", conf]
    rc, out = hh.run(argv + ["-t"])
    if rc != 0:
        raise hh.StartError("nginx -t:\n" + out)
    return start_foreground("nginx", workdir, argv + ["-g", "daemon off;"],
                            port, os.path.join(workdir, "error.log"))


def start_haproxy(lines, workdir):
    port = hh.free_port()
    conf = os.path.join(workdir, "haproxy.cfg")
    hh.write_file(conf, """global
    pidfile %(d)s/haproxy.pid
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend redirects
    bind %(ip)s:%(port)d
%(lines)s
    http-request return status 404 content-type text/plain string "miss"
""" % {"d": workdir, "ip": hh.LOOPBACK, "port": port,
       "lines": "\n".join("    " + l for l in lines.splitlines())})
    rc, out = hh.run(["haproxy", "-c", "-f", conf])
    if rc != 0:
        raise hh.StartError("haproxy -c:\n" + out)
    return start_foreground("haproxy", workdir, ["haproxy", "-f", conf],
                            port, os.path.join(workdir, "stdout.log"))


# ---------------------------------------------------------------------------
# The rules and the corpus
# ---------------------------------------------------------------------------

RULES = """\
# exact rules
/old-page              /new-page
/promo                 https://shop.example.com/sale        302
/with%20space          /spaced                              301
/café                  /coffee                              308
/Legal                 /legal                               301   nocase
/CaseSensitive         /cs-target                           303
/caseSensitive         /cs-twin                             303
/Mixed                 /mixed-target                        302   nocase
/retired               -                                    410
/faq                   /help#shipping                       302
/price                 https://shop.example.com/$price?x=1  301
/with-query            /target?a=1                          307
/bare-q                /target?                             307
/drop                  /dropped                             301   qsdrop
/append                /appended?t=1                        302   qsappend
/none                  /none-target                         301   qsnone
/slash/                /slash-target                        301
/self/                 /self                                301
# query rules
/index.php?id=42       /products/blue-widget                308
/q?a=1&b=2             /ab                                  303
/q                     /q-path                              307
/qa?x=1                /qa-target?k=v                       302   qsappend
/qd?x=%20y             /qd-target                           301
/rep?a=1&a=1           /rep-target                          301
# prefix rules
/docs/*                https://docs.example.com/v2/*        301
/docs/api/*            https://api.example.com/*            308
/docs/api/v1           /exact-under-prefix                  302
/perm/*                http://x.example/alias*              301
/Files/*               /files/*                             301   nocase
/np/*                  /np-target/*                         307   qsnone
/deep/a/b/c/*          /deep-target/*                       302
/espace/*              /new%20space/*                       301
/gone-dir/*            -                                    410
# host rules
//www.example.com/host          /host-target                301
https://www.example.com/secure  /secure-target              301
http://www.example.com/plain    /plain-target               302
//*.example.com/wild            /wild-target                307
//*.b.example.com/wild          /wild-b-target              308
//www.example.com/old-page      /host-old                   301
//shop.example.com/docs/*       https://shop-docs.example.com/*  302
//www.example.com/hq?x=1        /host-query                 303
# a chain (collapsed in the second configuration)
/hop1                  /hop2                                302
/hop2                  /hop3                                301
/hop3                  https://final.example.com/end
/hop-prefix/*          /hop1                                308
"""

HOST = "www.example.com:8080"

# Paths (with queries) asked of every host in HOSTS, with GET.
PATHS = [
    # exact
    "/old-page", "/old-page/", "/old-page?x=1", "/old-page?x=1&y=%20z",
    "/old-page?utm_source=a&x=1", "/old-pagex", "/Old-Page",
    "/promo", "/promo/?a=b", "/with%20space", "/with%20space/",
    "/caf%C3%A9", "/caf%c3%a9", "/%63af%C3%A9?q=1",
    "/Legal", "/legal", "/LEGAL", "/Legal/", "/legal/?x=1",
    "/CaseSensitive", "/caseSensitive", "/casesensitive",
    "/Mixed", "/mixed", "/MIXED/",
    "/retired", "/retired/?x=1", "/faq", "/faq?x=1",
    "/price", "/price?utm_medium=m&z=1",
    "/with-query", "/with-query?b=2", "/with-query?b=2&gclid=g",
    "/bare-q", "/bare-q?b=2", "/bare-q?utm_campaign=c&b=2",
    "/drop?x=1", "/drop?utm_source=s",
    "/append", "/append?x=1", "/append?x=1&utm_term=t",
    "/none", "/none?", "/none?x=1", "/none?utm_source=s", "/none?&&",
    "/slash", "/slash/", "/self", "/self/", "/self//",
    # query
    "/index.php?id=42", "/index.php?id=42&utm_source=x",
    "/index.php?utm_medium=y&id=42&fbclid=z", "/index.php?id=42&x=1",
    "/index.php?id=43", "/index.php", "/index.php/?id=42",
    "/q?a=1&b=2", "/q?b=2&a=1", "/q?b=2&&a=1&", "/q?a=1&b=2&gclid=5",
    "/q?a=1", "/q", "/q?a=1&b=2&c=3", "/q?a=%31&b=2",
    "/qa?x=1", "/qa?x=1&utm_source=s", "/qa?x=2",
    "/qd?x=%20y", "/qd?x=%20Y", "/qd?x=+y",
    "/rep?a=1&a=1",
    # prefix
    "/docs", "/docs/", "/docsx", "/docs/a/b", "/docs/a%20b/c?q=1",
    "/docs/caf%C3%A9", "/docs/a/b/?utm_source=x&y=1", "/DOCS/a",
    "/docs/api", "/docs/api/", "/docs/api/v1", "/docs/api/v1/",
    "/docs/api/v1/x", "/docs/api/v2?x=1", "/docs/apix",
    "/perm", "/perm/", "/perm/a", "/perm/a%20b",
    "/Files/x", "/files/x", "/FILES/x", "/files", "/Files",
    "/np/x", "/np/x?a=1", "/np/x?utm_source=z", "/np",
    "/deep/a/b/c", "/deep/a/b/c/d/e", "/deep/a/b",
    "/espace/a", "/espace/", "/gone-dir/x",
    # hosts
    "/host", "/host/?x=1", "/secure", "/plain", "/wild", "/wild/",
    "/hq?x=1", "/hq?x=2",
    # chains
    "/hop1", "/hop1?x=1", "/hop2/", "/hop-prefix/a",
    # misses
    "/nothing", "/", "/docs-not", "/a/b/c?x=1",
]

HOSTS = [HOST, "shop.example.com", "a.b.example.com:8443", "b.example.com",
         "WWW.Example.COM:8080", "other.test:80"]

# (method, path, host) asked once.
EXTRA = [
    ("HEAD", "/old-page", HOST), ("HEAD", "/docs/a", HOST),
    ("HEAD", "/retired", HOST), ("POST", "/old-page?x=1", HOST),
    ("POST", "/docs/api/v1/x", HOST), ("PUT", "/promo", HOST),
    ("PUT", "/index.php?id=42", HOST), ("POST", "/nothing", HOST),
    ("GET", "/old-page", "www.example.com"),
    ("GET", "/old-page", "www.example.com:80"),
    ("GET", "/perm/a", "[::1]:8080"),
    ("GET", "/wild", "deep.a.b.example.com"),
]


def corpus(hosts):
    reqs = [("GET", p, h) for h in hosts for p in PATHS]
    return reqs + EXTRA


# ---- random rules and requests, from a fixed seed -------------------------
# Short paths from a few segments (some non-ASCII, one with a space) make
# rules overlap: prefixes under prefixes, case twins, query rules beside
# exact ones, host rules beside hostless ones.  Targets live under /t or
# on another host, so that no rule leads to another: httpd refuses loops.

SEGMENTS = ["a", "b", "Ab", "caf\u00e9", "x y", "q", "docs", "A"]
PARAMS = ["id=1", "id=2", "x=%20y", "k", "k=", "z=caf%C3%A9"]
TRACKING = ["utm_source=s", "gclid=g", "utm_medium=m"]
RANDOM_HOSTS = ["www.example.com", "a.example.com", "b.a.example.com",
                "other.test"]


def quote(path):
    return urllib.parse.quote(path, safe="/")


def random_path(rng, n):
    return "/" + "/".join(rng.choice(SEGMENTS) for _ in range(n))


def random_target(rng, prefix):
    t = rng.choice([quote("/t/" + rng.choice(["n", "m", "p q"])),
                    "https://new.example/" + rng.choice(["n", "m"])])
    if prefix and rng.random() < 0.7:
        t += rng.choice(["/*", "*"])
    if rng.random() < 0.3:
        t += "?" + rng.choice(["a=1", "", "a=1&b=2"])
    if rng.random() < 0.1:
        t += "#f"
    return t


def random_source(rng, kind, path):
    src = quote(path)
    if kind == "prefix":
        src += "/*"
    elif kind == "query":
        src += "?" + "&".join(rng.sample(PARAMS, rng.randint(1, 2)))
    if rng.random() < 0.2:
        src = rng.choice(["//", "http://", "https://"]) + rng.choice(
            ["www.example.com", "*.example.com", "a.example.com"]) + src
    return src


def self_target(kind, path, flags):
    """A target that is the source in another spelling (the engine leaves
    a request spelled as it alone), or None where it would be a loop."""
    if kind == "exact":
        return quote(path.lower() if "nocase" in flags else path) + "/"
    if kind == "prefix" and "nocase" in flags and path != path.lower():
        return quote(path.lower()) + "/*"
    return None


def random_rule(rng):
    kind = rng.choice(["exact", "exact", "prefix", "query"])
    path = random_path(rng, rng.randint(1, 3))
    flags = []
    for f in ("nocase", "qsdrop", "qsappend", "qsnone"):
        clash = (f == "qsappend" and "qsdrop" in flags) \
            or (f == "qsnone" and kind == "query")
        if rng.random() < 0.15 and not clash:
            flags.append(f)
    status = rng.choice(["", "301", "302", "303", "307", "308", "410"])
    target = "-" if status == "410" else random_target(rng, kind == "prefix")
    if status != "410" and rng.random() < 0.05:
        target = self_target(kind, path, flags) or target
    return " ".join([random_source(rng, kind, path), target]
                    + ([status] if status else [])
                    + ([",".join(flags)] if flags else []))


def random_request(rng):
    path = random_path(rng, rng.randint(1, 4))
    if rng.random() < 0.3:
        path = path.upper() if rng.random() < 0.5 else path.lower()
    if rng.random() < 0.3:
        path += "/"
    target = quote(path)
    if rng.random() < 0.6:
        params = rng.sample(PARAMS + TRACKING, rng.randint(0, 4))
        if rng.random() < 0.2:
            params.insert(0, "")
        target += "?" + "&".join(params)
    return ("GET", target, rng.choice(RANDOM_HOSTS)
            + rng.choice(["", ":8080"]))


def random_config(seed, rules, requests):
    rng = random.Random(seed)
    return ("\n".join(random_rule(rng) for _ in range(rules)) + "\n",
            [random_request(rng) for _ in range(requests)])


RANDOM_RULES, RANDOM_REQUESTS = random_config(307, 120, 600)

# Each configuration: name, rules, httpd directives, the matching export
# options, the requests.
OPTIONS_DIRECTIVES = ["Redirect307MatchCase Off",
                      "Redirect307TrailingSlash Strict",
                      "Redirect307IgnoreParams none",
                      "Redirect307Default 301", "Redirect307Chains Collapse"]
OPTIONS_FLAGS = ["--case-insensitive", "--trailing-slash", "strict",
                 "--ignore-params", "none", "--default", "301", "--chains",
                 "collapse"]
CONFIGS = [
    ("defaults", RULES, [], [], corpus(HOSTS)),
    ("options", RULES, OPTIONS_DIRECTIVES, OPTIONS_FLAGS,
     corpus([HOST, "a.b.example.com:8443"])),
    ("random", RANDOM_RULES, [], [], RANDOM_REQUESTS),
    ("random with options", RANDOM_RULES, OPTIONS_DIRECTIVES, OPTIONS_FLAGS,
     RANDOM_REQUESTS),
]

# Requests the exports answer differently, as redirect307(1) documents:
# (format, method, path, host, why).  Each must still differ, so that the
# documentation stays true.
KNOWN = [
    ("nginx", "GET", "/docs/%41%20b", HOST,
     "a rest that needs escaping is copied as the client spelled it"),
    ("nginx", "GET", "/docs/a%2Fb", HOST,
     "nginx decodes %2F, httpd refuses it (AllowEncodedSlashes Off)"),
    ("nginx", "GET", "/old-page?q=caf\xc3\xa9", HOST,
     "the query is carried as sent: raw bytes are not escaped"),
    ("nginx", "GET", "/with-query?" + "&".join(
        "utm_x%d=%d" % (i, i) for i in range(9)), HOST,
     "at most 8 ignored parameters are passed through"),
    ("haproxy", "GET", "/docs/a%2Fb", HOST,
     "url_dec decodes %2F, httpd refuses it (AllowEncodedSlashes Off)"),
    ("haproxy", "GET", "/docs/a/./b", HOST,
     "HAProxy leaves dot segments in the path; httpd resolves them"),
    ("haproxy", "GET", "/old-page?q=caf\xc3\xa9", HOST,
     "HAProxy refuses raw non-ASCII bytes in the request line"),
]


# ---------------------------------------------------------------------------
# Exporting and comparing
# ---------------------------------------------------------------------------

NOT_EXPORTED = re.compile(r"^(.*:\d+): not exported: ", re.M)


def export(binary, fmt, options, rules, map_out):
    """(stdout, set of FILE:LINE not exported) of one export."""
    argv = [binary, "export", "--to", fmt, "--map-out", map_out] + options \
        + [rules]
    p = subprocess.run(argv, capture_output=True)
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode not in (0, 1):
        raise RuntimeError("%s exited %d:\n%s" % (" ".join(argv),
                                                  p.returncode, err))
    return p.stdout.decode("utf-8", "replace"), set(NOT_EXPORTED.findall(err))


def hex_upper(b):
    return re.sub(rb"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), b)


def answer(status, location):
    """What a server answered, comparable across servers."""
    if status not in REDIRECTS:
        return ("miss",)
    if status == 410:
        return (410,)
    return (status, hex_upper(location or b""))


def compare(t, name, port, reference, gaps, verbose):
    """Asks every request of `reference` of the server on port; returns
    (compared, skipped as not exported)."""
    compared = skipped = 0
    for (method, path, host, body), (want, rule) in reference.items():
        got = http(port, method, path, host, body)
        if rule in gaps:
            skipped += 1
            if verbose:
                print("skip %s %s %s %s: %s not exported" % (
                    name, method, host, path, rule))
            continue
        compared += 1
        ok = answer(got[0], got[1]) == want
        t.check("%s %s %s Host: %s" % (name, method, path, host), ok,
                "httpd %r (rule %s), %s %r" % (want, rule or "-", name,
                                               answer(got[0], got[1])))
    return compared, skipped


def reference_answers(port, requests):
    """httpd's answer to every request, with the rule that gave it."""
    ref = {}
    for method, path, host in requests:
        body = b"hello" if method in ("POST", "PUT") else b""
        status, location, headers = http(port, method, path, host, body)
        rule = headers.get(b"x-r307-rule", b"").decode("utf-8", "replace")
        ref[(method, path, host, body)] = (answer(status, location),
                                           rule or None)
    return ref


def start_export(binary, fmt, options, rules, work):
    """The server of format fmt on the export of rules; (server, FILE:LINE
    of the rules not exported)."""
    d = hh.make_root("diff-%s-" % fmt, work)
    if fmt == "nginx":
        maps = os.path.join(d, "redirect307-maps.conf")
        snippet = os.path.join(d, "redirect307-server.conf")
        text, gaps = export(binary, fmt, options, rules, maps)
        hh.write_file(snippet, text)
        return start_nginx(maps, snippet, d), gaps
    text, gaps = export(binary, fmt, options, rules,
                        os.path.join(d, "redirect307"))
    return start_haproxy(text, d), gaps


def check_known(t, servers, ref_port):
    """Each documented difference still differs from httpd."""
    for fmt, method, path, host, why in KNOWN:
        raw = path.encode("latin-1").decode("unicode_escape")
        want = http(ref_port, method, raw, host)
        got = http(servers[fmt].port, method, raw, host)
        t.check("%s differs as documented for %s (%s)" % (fmt, path, why),
                answer(*want[:2]) != answer(*got[:2]),
                "both answer %r" % (answer(*got[:2]),))


def run_config(args, t, work, config):
    name, text, directives, options, requests = config
    rules = os.path.join(work, "site.rules")
    hh.write_file(rules, text)
    servers = {}
    try:
        servers["httpd"] = start_httpd(args.apache, args.module, rules,
                                       directives,
                                       hh.make_root("diff-httpd-", work))
        ref = reference_answers(servers["httpd"].port, requests)
        redirects = sum(1 for a, _ in ref.values() if a[0] != "miss")
        t.check("%s: httpd answers the corpus with redirects" % name,
                redirects > len(ref) // 3, "only %d redirects" % redirects)
        for fmt in ("nginx", "haproxy"):
            servers[fmt], gaps = start_export(args.bin, fmt, options, rules,
                                              work)
            n, skipped = compare(t, "%s %s" % (name, fmt), servers[fmt].port,
                                 ref, gaps, args.verbose)
            print("%s, %s: %d requests compared, %d answered by the %d "
                  "rules not exported (%s)" % (
                      name, fmt, n, skipped, len(gaps),
                      " ".join(sorted(g.rsplit("/", 1)[-1] for g in gaps))))
        if name == "defaults":
            check_known(t, servers, servers["httpd"].port)
    finally:
        for srv in servers.values():
            srv.stop()


def run(args, t, work):
    for config in CONFIGS:
        run_config(args, t, work, config)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", default=os.path.join(
        ROOT, ".libs", "mod_redirect307.so"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "build",
                                                  "redirect307"))
    ap.add_argument("--apache", default="/usr/sbin/apache2")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    args.module = os.path.abspath(args.module)
    args.bin = os.path.abspath(args.bin)
    for tool in ("nginx", "haproxy"):
        if not shutil.which(tool, path=os.environ.get("PATH", "")
                            + ":/usr/sbin:/sbin"):
            print("FAIL %s is not installed (sh mk/deps.sh nginx:nginx-light "
                  "haproxy)" % tool)
            sys.exit(1)
    t = dc.Tally()
    work = tempfile.mkdtemp(prefix="r307-diff-export.")
    os.chmod(work, 0o755)
    try:
        run(args, t, work)
    except (hh.StartError, RuntimeError) as e:
        t.check("servers start", False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(t.finish())


if __name__ == "__main__":
    main()
