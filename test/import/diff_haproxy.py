#!/usr/bin/env python3
"""Differential test of `redirect307 import --from haproxy` against Debian's
haproxy.

haproxy serves a map of redirects the way its documentation shows:

    http-request redirect location %[path,map(MAP)] code 301
        if { path,map(MAP) -m found }
    http-request return status 404

(three frontends: `code 301`, `code 308` and no code at all), and apache2
with mod_redirect307 serves what `redirect307 import --from haproxy`
wrote for the same map (with --status 301, --status 308 and none).  Both
get the same requests (GET HEAD POST PUT; exact keys, queries, trailing
slashes, other spellings of encoded keys, misses) and must answer with
the same status and Location, the hex case of %XX aside, except for what
the importer documents:

  - a path target: haproxy sends the map's value as it is ("/new"), the
    module an absolute URL on the request's host (as mod_alias does);
    compared as the same URL;
  - a trailing slash: haproxy compares paths exactly; with
    Redirect307TrailingSlash Ignore (the default, the importer's note says
    so) "/a/" is answered as "/a" is, with Strict as haproxy does: both
    are checked;
  - another spelling of a key (lower-case hex, %XX for a plain character,
    "//", "/./"): haproxy compares the raw path and misses, the module
    compares the decoded path and answers as for the key (a note says so);
  - a key reported as not converted: haproxy answers it, the module not.

Prints every mismatch and "N passed, M failed"; exit status 1 on a failure.

    python3 test/import/diff_haproxy.py [--bin B] [--module M] [--apache A]
        [--haproxy H] [-v] [--keep]

Python 3 standard library only; servers are started and stopped with
test/httpd_harness.py.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test"))
import httpd_harness as hh  # noqa: E402
import diff_common as dc  # noqa: E402


# ---------------------------------------------------------------------------
# Helpers every differential test needs (to be swapped for the shared
# test/import/diff_common.py): arguments, raw requests, comparing answers,
# the tally, importing, starting apache2 with the module and a server in
# the foreground.
# ---------------------------------------------------------------------------

# Every request names this host on the default port, so that the module's
# absolute Location leaves the port out whatever port it listens on.
HOST = "www.example.com"
HOST_HEADER = HOST + ":80"
IO_TIMEOUT = 5.0
START_TIMEOUT = 15.0


def parse_args(doc):
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build",
                                                  "redirect307"))
    ap.add_argument("--module", default=os.path.join(
        ROOT, ".libs", "mod_redirect307.so"))
    ap.add_argument("--apache", default="/usr/sbin/apache2")
    ap.add_argument("--haproxy", default=shutil.which("haproxy", path=path)
                    or "/usr/sbin/haproxy")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp dir and say where it is")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    args.module = os.path.abspath(args.module)
    return args


class Answer:
    def __init__(self, status, location):
        self.status = status
        self.location = location    # str (latin-1) or None

    def __str__(self):
        return "%s %s" % (self.status, self.location or "-")


def fetch(port, method, target):
    """Sends one request over a fresh connection; the status and Location
    of the answer (status 0 if there is none)."""
    body = b"hello" if method in ("POST", "PUT") else b""
    head = ["%s %s HTTP/1.1" % (method, target), "Host: " + HOST_HEADER,
            "Connection: close"]
    if body:
        head.append("Content-Length: %d" % len(body))
    data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
    got = b""
    try:
        with socket.create_connection((hh.LOOPBACK, port),
                                      timeout=IO_TIMEOUT) as s:
            s.sendall(data)
            while b"\r\n\r\n" not in got:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
    except OSError as e:
        return Answer(0, "(%s)" % e)
    lines = got.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    try:
        status = int(lines[0].split(b" ")[1])
    except (IndexError, ValueError):
        return Answer(0, "(no status line)")
    loc = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"location":
            loc = value.strip().decode("latin-1")
    return Answer(status, loc)


def upper_hex(s):
    """s with the hex digits of every %XX upper-cased."""
    return re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), s)


def absolute(location):
    """A Location as the URL a client follows from http://HOST/."""
    if location and location.startswith("/") and not \
            location.startswith("//"):
        return "http://" + HOST + location
    return location


def same(a, b):
    """Same status and the same URL in Location (hex case aside)."""
    if a.status != b.status:
        return False
    la, lb = absolute(a.location), absolute(b.location)
    return la == lb or (la and lb and upper_hex(la) == upper_hex(lb))


def run_import(binary, fmt, path, extra=()):
    """`redirect307 import --from fmt EXTRA path`: (rc, stdout, stderr)."""
    p = subprocess.run([binary, "import", "--from", fmt] + list(extra) +
                       [path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=60)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def messages(err, path):
    """The importer's messages: [(line, kind, text)]."""
    found = []
    for m in re.finditer(r"^%s:(\d+): (not converted|note): (.*)$"
                         % re.escape(path), err, re.M):
        found.append((int(m.group(1)), m.group(2), m.group(3)))
    return found


def start_ours(args, work, vhosts):
    """apache2 with mod_redirect307: one <VirtualHost> per (port,
    directives) of `vhosts`, on an empty DocumentRoot (a miss is a 404)."""
    ports = [port for port, _ in vhosts]
    docroot = os.path.join(work, "htdocs")
    os.makedirs(docroot, exist_ok=True)
    lines = hh.conf_head(work, ports, hh.CORE_MODULES + [
        ("redirect307_module", args.module)],
        comment="written by test/import/diff_haproxy.py")
    lines += ["DocumentRoot %s" % docroot,
              "<Directory %s>\n    Require all granted\n</Directory>"
              % docroot, "LogLevel warn"]
    for port, directives in vhosts:
        lines.append("<VirtualHost %s:%d>" % (hh.LOOPBACK, port))
        lines += ["    " + d for d in directives]
        lines.append("</VirtualHost>")
    srv = hh.Httpd(args.apache, "apache2", work, ports,
                   conf_text="\n".join(lines) + "\n",
                   start_timeout=START_TIMEOUT)
    srv.start()
    return srv


def start_foreground(name, work, argv, ports, errlog):
    """A server in the foreground, polled until every port answers."""
    srv = hh.Foreground(name, work, argv, ports[0], errlog)
    srv.start()

    def up():
        if not srv.alive():
            raise hh.StartError("%s exited: %s" % (name, srv.log_tail()))
        for port in ports:
            try:
                socket.create_connection((hh.LOOPBACK, port), 1).close()
            except OSError:
                return False
        return True

    if not hh.poll(up, START_TIMEOUT):
        srv.stop()
        raise hh.StartError("%s not ready: %s" % (name, srv.log_tail()))
    return srv


# ---------------------------------------------------------------------------
# This test
# ---------------------------------------------------------------------------

# The map: every kind of key and value.  The last two entries are reported
# as not converted (haproxy never matches the first; httpd never lets the
# second's raw path reach a rule).
MAP = """\
# redirects: KEY VALUE
/old-page              /new-page
/promo                 https://shop.example.com/sale
/docs/guide            https://docs.example.com/v2/guide
/with-query            /target?from=map
/abs-query             https://x.example/p?a=1&b=2
/caf%C3%A9             /coffee
/a%20b                 /space
/dir/                  /dir-target
/Case                  /case-target
/dup                   /first
/dup                   /second
/a-b                   /dash
/encoded%2Dkey         /encoded
/100%25                /percent
/x.html                /y.html
/root-target           /
/frag                  /page#section
/tilde~                /tilde
/semi;p=1              /semi
/plus+sign             https://x.example/plus%2Bsign
   /deep/a/b/c/d       https://deep.example/d
/never?x=1             /never-answered
/a//b                  /double
"""

# Keys the importer converts, one per entry (the second /dup is dropped:
# the first answers, in haproxy and in the module).
KEYS = ["/old-page", "/promo", "/docs/guide", "/with-query", "/abs-query",
        "/caf%C3%A9", "/a%20b", "/dir/", "/Case", "/dup", "/a-b",
        "/encoded%2Dkey", "/100%25", "/x.html", "/root-target", "/frag",
        "/tilde~", "/semi;p=1", "/plus+sign", "/deep/a/b/c/d"]

# Keys not converted, by the line the importer names: a request for each
# and whether haproxy answers it (a key with '?' never matches its path;
# httpd merges the '//' of a raw path before any rule sees it).
NOT_CONVERTED = {23: ("/never?x=1", False), 24: ("/a//b", True)}

QUERIES = ["", "?q=1", "?utm_source=news&b=2"]
METHODS = ["GET", "HEAD", "POST", "PUT"]

# Other spellings of keys: (request path, the key it decodes to).
SPELLINGS = [
    ("/caf%c3%a9", "/caf%C3%A9"),
    ("/caf%C3%a9", "/caf%C3%A9"),
    ("/old%2Dpage", "/old-page"),
    ("/encoded-key", "/encoded%2Dkey"),
    ("/encoded%2dkey", "/encoded%2Dkey"),
    ("/tilde%7E", "/tilde~"),
    ("/%78.html", "/x.html"),
    ("//old-page", "/old-page"),
    ("/./old-page", "/old-page"),
    ("/docs/x/../guide", "/docs/guide"),
    ("/deep//a/b/c/d", "/deep/a/b/c/d"),
]

# Paths no entry answers, in either server.
MISSES = ["/", "/nothing", "/old-pagex", "/old-page/sub", "/case", "/CASE",
          "/dup2", "/caf", "/x%2Fy", "/a", "/deep/a/b/c", "/semi",
          "/plus%20sign"]


def slashed(key):
    """The key with its trailing slash added or removed."""
    return key[:-1] if key.endswith("/") else key + "/"


def haproxy_conf(work, map_path, frontends):
    """frontends: [(port, code or None)]."""
    lines = ["global", "    maxconn 256", "defaults", "    mode http",
             "    timeout connect 5s", "    timeout client 10s",
             "    timeout server 10s"]
    for port, code in frontends:
        lines += [
            "frontend f%d" % port,
            "    bind %s:%d" % (hh.LOOPBACK, port),
            "    http-request redirect location %%[path,map(%s)]%s if "
            "{ path,map(%s) -m found }"
            % (map_path, " code %d" % code if code else "", map_path),
            "    http-request return status 404",
        ]
    path = os.path.join(work, "haproxy.cfg")
    hh.write_file(path, "\n".join(lines) + "\n")
    return path


def check_import(t, label, rc, out, err, path, status):
    """The importer's exit status, messages and rules for one --status."""
    msgs = messages(err, path)
    skipped = sorted(line for line, kind, _ in msgs
                     if kind == "not converted")
    t.check("%s: exit 1 for the unconverted keys" % label, rc == 1,
            "rc=%d\n%s" % (rc, err))
    t.check("%s: lines not converted" % label,
            skipped == sorted(NOT_CONVERTED), err)
    rules = [l for l in out.splitlines() if l and not l.startswith("#")]
    t.check("%s: one rule per key" % label, len(rules) == len(KEYS),
            "\n".join(rules))
    t.check("%s: status %d and qsdrop on every rule" % (label, status),
            all(r.endswith(" %d qsdrop" % status) for r in rules),
            "\n".join(rules))
    notes = " ".join(text for _, kind, text in msgs if kind == "note")
    for word in ("compares paths exactly", "raw path", "duplicate source"):
        t.check("%s: note on %s" % (label, word), word in notes, err)


def compare(t, label, hp, ours, method, path, want_ours=None):
    """Sends method path to both; ours must answer as haproxy, or as
    `want_ours` (an Answer) where the difference is documented."""
    a = fetch(hp, method, path)
    b = fetch(ours, method, path)
    want = want_ours or a
    name = "%s %s %s" % (label, method, path)
    if want_ours is not None:
        detail = "haproxy %s (expected a miss), ours %s (expected %s)" % (
            a, b, want)
        return t.check(name, a.status == 404 and same(b, want), detail)
    return t.check(name, same(a, b), "haproxy %s, ours %s" % (a, b))


def corpus(t, label, hp, ours, strict):
    """The full set of requests to one haproxy frontend and one vhost."""
    n = 0
    for key in KEYS:
        for q in QUERIES:
            for m in METHODS:
                compare(t, label, hp, ours, m, key + q)
                n += 1
        canonical = fetch(hp, "GET", key)
        t.check("%s haproxy answers %s" % (label, key),
                canonical.status in (301, 302, 308), str(canonical))
        compare(t, label, hp, ours, "GET", slashed(key),
                None if strict else canonical)
        n += 2
    for path, key in SPELLINGS:
        compare(t, label, hp, ours, "GET", path, fetch(hp, "GET", key))
        n += 1
    for path in MISSES:
        for m in ("GET", "POST"):
            compare(t, label, hp, ours, m, path)
            n += 1
    for path, answered in NOT_CONVERTED.values():
        a, b = fetch(hp, "GET", path), fetch(ours, "GET", path)
        t.check("%s GET %s: haproxy %s, ours not (not converted)"
                % (label, path, "answers" if answered else "neither"),
                (a.status in (301, 302, 308)) == answered
                and b.status == 404, "haproxy %s, ours %s" % (a, b))
        n += 1
    return n


def sample(t, label, hp, ours, status):
    """A few requests to a frontend with another code."""
    n = 0
    for key in ("/old-page", "/promo", "/with-query", "/caf%C3%A9"):
        for m in ("GET", "POST", "PUT"):
            a = fetch(hp, m, key + "?q=1")
            t.check("%s haproxy %s %s answers %d" % (label, m, key, status),
                    a.status == status, str(a))
            compare(t, label, hp, ours, m, key + "?q=1")
            n += 1
    return n


def main():
    args = parse_args(__doc__)
    t = dc.Tally(args.verbose)
    for what, path in (("redirect307", args.bin), ("module", args.module),
                       ("apache2", args.apache), ("haproxy", args.haproxy)):
        if not os.path.exists(path):
            t.check("%s exists" % what, False, "%s is missing (haproxy: "
                    "apt-get install haproxy)" % path)
            return t.finish()
    work = hh.make_root("r307-diff-haproxy-")
    servers = []
    try:
        map_path = os.path.join(work, "redirects.map")
        hh.write_file(map_path, MAP)
        rules = {}
        for label, extra, status in (("301", ["--status", "301"], 301),
                                     ("308", ["--status", "308"], 308),
                                     ("default", [], 302)):
            rc, out, err = run_import(args.bin, "haproxy", map_path, extra)
            check_import(t, "import " + label, rc, out, err, map_path,
                         status)
            rules[label] = os.path.join(work, "%s.rules" % label)
            hh.write_file(rules[label], out)
        t.check("import without --status notes haproxy's default",
                "no --status" in run_import(args.bin, "haproxy",
                                            map_path)[2])

        hp = [hh.free_port() for _ in range(3)]
        ours = [hh.free_port() for _ in range(4)]
        hcfg = haproxy_conf(work, map_path, [(hp[0], 301), (hp[1], 308),
                                             (hp[2], None)])
        servers.append(start_foreground(
            "haproxy", work, [args.haproxy, "-db", "-f", hcfg], hp,
            os.path.join(work, "stdout.log")))
        ap_work = os.path.join(work, "apache2")
        os.makedirs(os.path.join(ap_work, "run"))
        servers.append(start_ours(args, ap_work, [
            (ours[0], ["Redirect307Map %s" % rules["301"],
                       "Redirect307TrailingSlash Strict"]),
            (ours[1], ["Redirect307Map %s" % rules["301"]]),
            (ours[2], ["Redirect307Map %s" % rules["308"],
                       "Redirect307TrailingSlash Strict"]),
            (ours[3], ["Redirect307Map %s" % rules["default"],
                       "Redirect307TrailingSlash Strict"]),
        ]))

        n = corpus(t, "301/strict", hp[0], ours[0], True)
        n += corpus(t, "301/ignore", hp[0], ours[1], False)
        n += sample(t, "308", hp[1], ours[2], 308)
        n += sample(t, "no code", hp[2], ours[3], 302)
        print("%d requests compared" % n)
    except hh.StartError as e:
        t.check("servers start", False, str(e))
    finally:
        for srv in reversed(servers):
            srv.stop()
        if args.keep:
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
