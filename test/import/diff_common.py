"""Differential tests of `redirect307 import`: the shared machinery.

A differential test proves that an imported configuration answers as the
original did.  It starts the real source server (apache2 with mod_alias
or mod_rewrite, nginx, haproxy, ...) on the original configuration and
apache2 with mod_redirect307 on the rules `redirect307 import` wrote,
sends both the same requests, and compares status and Location byte for
byte (the hex case of %XX aside).  A request may be answered differently
only where the importer said so: every request names the input line it
exercises, and a difference is accepted (and printed as "documented")
only when the importer reported that line as `not converted` or with a
`note: differs ...`.  Anything else is a failure.

Each test is a standalone script test/import/diff_FORMAT.py that exits
non-zero on a failure; `make import-test` runs them all.  A script looks
like this:

    import diff_common as dc

    def main():
        args = dc.parse_args(__doc__)
        with dc.DiffRun("alias", args) as run:
            imp = run.import_text("alias", CONF, name="site.conf")
            ref = run.apache_reference(CONF, modules=[dc.ALIAS])
            ours = run.ours(imp.rules)
            run.compare(ref, ours, requests, imp)
        # leaving the block stops every server, removes the temp dir,
        # prints "N passed, M failed" and exits 1 on a failure

Other reference servers: apache2 with mod_rewrite is
`run.apache_reference(CONF, modules=[dc.REWRITE])`; haproxy (or anything
kept in the foreground) is

    def cfg(port, work):                # writes the config, returns its path
        path = os.path.join(work, "haproxy.cfg")
        dc.hh.write_file(path, HAPROXY_CFG % {"port": port})
        return path
    ref = run.foreground_reference(
        "haproxy", lambda conf: [args.haproxy, "-db", "-f", conf], cfg)

API (everything below is in this module):

  parse_args(doc, argv=None) -> argparse.Namespace
      --bin (redirect307), --module (mod_redirect307.so), --apache,
      --nginx, --haproxy, -v/--verbose (print every comparison), --keep
      (keep the temp dir and print where it is).

  DiffRun(name, args)                 a context manager; on exit stops what
                                      it started and ends the script
    .tmp                              a fresh temp dir (mode 755)
    .import_text(fmt, text, name=..., args=()) -> Imported
                                      writes `text` (str or bytes) to
                                      tmp/name, runs `redirect307 import
                                      --from fmt ARGS tmp/name`, checks
                                      that the output loads with `check`
    .apache_reference(body, modules=(), name="reference") -> Server
                                      apache2 with conf_head(), `modules`
                                      ((name, file) pairs) and `body`
    .ours(rules, directives=(), name="ours") -> Server
                                      apache2 + mod_redirect307 loading
                                      `rules` with Redirect307Map, and
                                      `directives` (e.g. "Redirect307-
                                      TrailingSlash Strict") after it
    .nginx_reference(http_body, server_body) -> Server
                                      nginx in the foreground: `http_body`
                                      inside http {}, `server_body` inside
                                      the one server {} that listens on a
                                      free port (with port_in_redirect off,
                                      as on port 80); Server.conf_text() is
                                      the whole nginx.conf, to import
    .foreground_reference(name, argv_fn, conf_fn) -> Server
                                      any other server (haproxy): conf_fn(
                                      port, workdir) writes its config and
                                      returns its path, argv_fn(conf) the
                                      command line; polled until it answers
    .compare(ref, ours, requests, imported, loose_misses=False) -> set
                                      sends every request to both and counts
                                      each as passed, documented or failed;
                                      returns the lines that answered
                                      differently (tests check that set, so
                                      that a "differs" note cannot hide
                                      more than it should);
                                      loose_misses: two answers that are
                                      neither redirects nor 410 count as the
                                      same whatever their statuses (servers
                                      of other kinds answer misses their own
                                      way: nginx's 405 for a PUT, say)
    .check(name, cond, detail="")     one more assertion of the test's own

  Imported                            what the importer said
    .rc, .rules (stdout), .err (stderr), .path (input file)
    .messages: {line: [(kind, text)]}, kind "not converted" or "note"
    .documented(line) -> bool        line not converted or noted "differs"

  Request(method, target, line=None, host=HOST)
      one request; `target` is the raw request-target (str: encoded as
      UTF-8, or bytes); `line` the input line it exercises, None for a
      request that must be answered identically (a miss, say).

  requests_for(paths, line, methods=METHODS, queries=QUERIES) -> [Request]
      every method x every path x every query suffix, tagged with `line`.

  line_of(text, needle) -> int        the first line of text holding needle
                                      (to tag requests with input lines)

  below(prefix) -> [paths]            a prefix's own path, with a trailing
                                      slash, and paths below it (plain,
                                      deeper, trailing slash, %20, %C3%A9,
                                      %2F, a dot segment)

  fetch(port, request) -> Answer      the raw answer: .status, .location
                                      (bytes or None)

Requests carry `Host: HOST:80` (HOST = www.example.com): every server then
builds the same absolute Location for a path target, whatever port it
listens on.  QUERIES leaves out an empty query ("/a?"): mod_alias answers
it with "...?" and mod_redirect307 without the '?', for every rule, which
is the module's choice, not an importer's.

Python 3 standard library only.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TEST_DIR = os.path.dirname(HERE)
ROOT = os.path.dirname(TEST_DIR)
sys.path.insert(0, TEST_DIR)
import httpd_harness as hh  # noqa: E402

HOST = "www.example.com"
# The port in the Host header: the default one, so that it is left out of
# absolute Locations, whichever port the server listens on.
HOST_PORT = 80
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE")
QUERIES = ("", "?x=1", "?a=1&b=%20c", "?q=a+b%26c%3D&&z")
IO_TIMEOUT = 5.0
START_TIMEOUT = 15.0

# mod_alias / mod_rewrite for apache_reference(modules=...).
ALIAS = hh.ALIAS_MODULE
REWRITE = ("rewrite_module", "mod_rewrite.so")

REDIRECT_STATUSES = (301, 302, 303, 307, 308, 410)

_MESSAGE = re.compile(r"^(.*):(\d+): (not converted|note): (.*)$")


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------

def parse_args(doc, argv=None):
    ap = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build",
                                                  "redirect307"))
    ap.add_argument("--module", default=os.path.join(
        ROOT, ".libs", "mod_redirect307.so"))
    ap.add_argument("--apache", default="/usr/sbin/apache2")
    ap.add_argument("--nginx", default=shutil.which(
        "nginx", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        or "/usr/sbin/nginx")
    ap.add_argument("--haproxy", default=shutil.which(
        "haproxy", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        or "/usr/sbin/haproxy")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    args.bin = os.path.abspath(args.bin)
    args.module = os.path.abspath(args.module)
    return args


# ---------------------------------------------------------------------------
# Requests and answers
# ---------------------------------------------------------------------------

class Request:
    def __init__(self, method, target, line=None, host=None):
        self.method = method
        self.target = target.encode("utf-8") if isinstance(target, str) \
            else target
        self.line = line
        self.host = host or "%s:%d" % (HOST, HOST_PORT)

    def raw(self):
        lines = [self.method.encode() + b" " + self.target + b" HTTP/1.1",
                 b"Host: " + self.host.encode(), b"Connection: close"]
        if self.method in ("POST", "PUT", "PATCH"):
            lines.append(b"Content-Length: 0")
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def __str__(self):
        where = " (line %d)" % self.line if self.line else ""
        return "%s %s%s" % (self.method,
                            self.target.decode("latin-1"), where)


class Answer:
    def __init__(self, status, location):
        self.status = status
        self.location = location

    def is_redirect(self):
        return self.status in REDIRECT_STATUSES

    def __str__(self):
        if self.location is None:
            return str(self.status)
        return "%d %s" % (self.status,
                          self.location.decode("latin-1").__repr__())


def fetch(port, req, timeout=IO_TIMEOUT):
    """Sends req on a fresh connection and reads the response head: its
    status and the raw bytes of its Location header (None without)."""
    deadline = time.monotonic() + timeout
    with socket.create_connection((hh.LOOPBACK, port), timeout=timeout) as s:
        s.sendall(req.raw())
        buf = b""
        while b"\r\n\r\n" not in buf:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                chunk = b""
            if not chunk:
                break
            buf += chunk
    head = buf.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split(b" ")[1])
    except (IndexError, ValueError):
        return Answer(0, b"no response: " + buf[:100])
    location = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"location":
            location = value.strip(b" \t")
    return Answer(status, location)


_HEX = re.compile(rb"%[0-9a-fA-F]{2}")


def same_location(a, b):
    """Byte for byte, the hex case of %XX aside."""
    if a is None or b is None:
        return a is b
    up = lambda s: _HEX.sub(lambda m: m.group(0).upper(), s)  # noqa: E731
    return up(a) == up(b)


def same_answer(ref, ours, loose_misses=False):
    if loose_misses and not ref.is_redirect() and not ours.is_redirect():
        return True
    return ref.status == ours.status and same_location(ref.location,
                                                       ours.location)


def line_of(text, needle):
    """The number of the first line of text holding needle."""
    for n, line in enumerate(text.split("\n"), 1):
        if needle in line:
            return n
    raise KeyError(needle)


def requests_for(paths, line, methods=METHODS, queries=QUERIES):
    return [Request(m, p + q, line) for p in paths for q in queries
            for m in methods]


def below(prefix):
    """The paths a prefix rule for `prefix` (no trailing slash) answers."""
    base = prefix.rstrip("/")
    return [base or "/", base + "/", base + "/a", base + "/a/b/",
            base + "/a%20b", base + "/caf%C3%A9", base + "/x%2Fy",
            base + "/./c", base + "/deep/er/page.html"]


# ---------------------------------------------------------------------------
# What the importer said
# ---------------------------------------------------------------------------

class Imported:
    def __init__(self, path, rc, out, err):
        self.path = path
        self.rc = rc
        self.rules = out
        self.err = err
        self.messages = {}
        for text in err.splitlines():
            m = _MESSAGE.match(text)
            if m and m.group(1) == path:
                self.messages.setdefault(int(m.group(2)), []).append(
                    (m.group(3), m.group(4)))

    def not_converted(self, line):
        return any(k == "not converted" for k, _ in
                   self.messages.get(line, []))

    def documented(self, line):
        """Did the importer say that this line answers differently?"""
        return any(k == "not converted" or t.startswith("differs")
                   for k, t in self.messages.get(line, []))


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------

class Server:
    """A started server: its name, port, configuration file and how to stop
    it."""

    def __init__(self, name, port, stop, log_tail, conf=None):
        self.name = name
        self.port = port
        self._stop = stop
        self.log_tail = log_tail
        self.conf = conf

    def conf_text(self):
        with open(self.conf, encoding="utf-8") as f:
            return f.read()

    def stop(self):
        if self._stop:
            self._stop()
            self._stop = None


def _accepts(port):
    try:
        socket.create_connection((hh.LOOPBACK, port), timeout=1).close()
        return True
    except OSError:
        return False


class Tally:
    """Counts checks; prints every failure as it happens, and every pass
    when verbose."""

    def __init__(self, verbose=False):
        self.verbose = verbose
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            if self.verbose:
                print("ok   %s" % name)
        else:
            self.failed += 1
            print("FAIL %s%s" % (name, (": " + detail) if detail else ""))
        return ok

    def finish(self):
        """Prints the summary line; returns the exit status."""
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


class DiffRun(Tally):
    def __init__(self, name, args):
        Tally.__init__(self, args.verbose)
        self.name = name
        self.args = args
        self.compared = 0       # requests sent to both servers
        self.alike = 0          # of those, answered alike
        self.documented = 0     # answered differently, as reported
        self.servers = []
        self.tmp = hh.make_root("r307-diff-%s-" % name)

    # -- lifetime ----------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, etype, value, tb):
        for srv in reversed(self.servers):
            try:
                srv.stop()
            except Exception as e:      # keep stopping the others
                print("warning: stopping %s: %s" % (srv.name, e))
        if etype is not None and not isinstance(value, SystemExit):
            self.failed += 1
            print("FAIL %s: %s: %s" % (self.name, etype.__name__, value))
        if self.args.keep:
            print("kept %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        print("%s: %d requests compared: %d answered alike, %d differently "
              "as the importer reported, %d mismatches"
              % (self.name, self.compared, self.alike, self.documented,
                 self.compared - self.alike - self.documented))
        sys.exit(self.finish())

    # -- importing ---------------------------------------------------------

    def import_text(self, fmt, text, name="input", args=()):
        path = os.path.join(self.tmp, name)
        hh.write_file(path, text)
        p = subprocess.run([self.args.bin, "import", "--from", fmt]
                           + list(args) + [path], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=60)
        imp = Imported(path, p.returncode,
                       p.stdout.decode("utf-8", "replace"),
                       p.stderr.decode("utf-8", "replace"))
        if self.args.verbose:
            print("--- redirect307 import --from %s %s (exit %d)\n%s%s---"
                  % (fmt, name, imp.rc, imp.rules, imp.err))
        rules = os.path.join(self.tmp, name + ".rules")
        hh.write_file(rules, imp.rules)
        c = subprocess.run([self.args.bin, "check", rules],
                           capture_output=True, stdin=subprocess.DEVNULL,
                           timeout=60)
        self.check("%s: imported rules pass check" % name,
                   c.returncode == 0, c.stderr.decode("utf-8", "replace"))
        return imp

    # -- servers -----------------------------------------------------------

    def _apache(self, name, body, modules):
        root = hh.make_root("apache-%s-" % name, parent=self.tmp)
        port = hh.free_port()
        head = hh.conf_head(root, [port], list(hh.CORE_MODULES)
                            + list(modules),
                            comment="%s, written by %s" % (name, self.name))
        conf = "\n".join(head + [
            "StartServers 1", "ThreadsPerChild 10", "ServerLimit 2",
            "MaxRequestWorkers 20", "LogLevel warn",
            "DocumentRoot %s/htdocs" % root,
            "<Directory %s/htdocs>\n    Require all granted\n</Directory>"
            % root, body]) + "\n"
        os.makedirs(os.path.join(root, "htdocs"), exist_ok=True)
        srv = hh.Httpd(self.args.apache, name, root, [port], conf_text=conf,
                       start_timeout=START_TIMEOUT)
        self.servers.append(Server(name, port, srv.stop, srv.log_tail,
                                   srv.conf))
        srv.start()
        return self.servers[-1]

    def apache_reference(self, body, modules=(), name="reference"):
        return self._apache(name, body, modules)

    def ours(self, rules, directives=(), name="ours"):
        path = os.path.join(self.tmp, "%s.rules" % name)
        hh.write_file(path, rules)
        body = "\n".join(["LoadModule redirect307_module %s"
                          % self.args.module,
                          "Redirect307Map %s" % path] + list(directives))
        return self._apache(name, body, ())

    def foreground_reference(self, name, argv_fn, conf_fn):
        work = tempfile.mkdtemp(prefix="%s-" % name, dir=self.tmp)
        os.chmod(work, 0o755)
        port = hh.free_port()
        conf = conf_fn(port, work)
        errlog = os.path.join(work, "error.log")
        fg = hh.Foreground(name, work, argv_fn(conf), port, errlog)
        self.servers.append(Server(name, port, fg.stop, fg.log_tail, conf))
        fg.start()
        if not hh.poll(lambda: not fg.alive() or _accepts(port),
                       START_TIMEOUT) or not fg.alive():
            raise hh.StartError("%s did not start:\n%s"
                                % (name, fg.log_tail()))
        return self.servers[-1]

    def nginx_reference(self, http_body, server_body, name="nginx"):
        def conf(port, work):
            path = os.path.join(work, "nginx.conf")
            hh.write_file(path, NGINX_CONF % {
                "work": work, "port": port, "host": HOST,
                "http": http_body, "server": server_body})
            return path

        return self.foreground_reference(
            name, lambda c: [self.args.nginx, "-c", c, "-p",
                             os.path.dirname(c)], conf)

    # -- comparing ---------------------------------------------------------

    def compare(self, ref, ours, requests, imported, loose_misses=False):
        """Each request to both servers; a difference passes only on a line
        the importer reported.  Returns the set of lines that answered
        differently (as documented), for the test to check that they are
        the ones it expects."""
        differing = set()
        for req in requests:
            a = fetch(ref.port, req)
            b = fetch(ours.port, req)
            self.compared += 1
            if same_answer(a, b, loose_misses):
                self.passed += 1
                self.alike += 1
                if self.args.verbose:
                    print("same %s: %s" % (req, a))
                continue
            if req.line and imported.documented(req.line):
                self.passed += 1
                self.documented += 1
                differing.add(req.line)
                if self.args.verbose:
                    print("documented %s: %s %s, %s %s"
                          % (req, ref.name, a, ours.name, b))
                continue
            self.failed += 1
            print("MISMATCH %s: %s %s, %s %s" % (req, ref.name, a,
                                                  ours.name, b))
        return differing


# The whole nginx configuration around the test's http and server parts.
# Temp paths go to the work dir: nginx's compiled-in ones may not exist.
NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid %(work)s/nginx.pid;
error_log %(work)s/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %(work)s/body;
    proxy_temp_path %(work)s/proxy;
    fastcgi_temp_path %(work)s/fastcgi;
    uwsgi_temp_path %(work)s/uwsgi;
    scgi_temp_path %(work)s/scgi;
%(http)s
    server {
        listen 127.0.0.1:%(port)d;
        server_name %(host)s;
        root %(work)s/htdocs;
        # The original listened on port 80: no port in its Locations.
        port_in_redirect off;
%(server)s
    }
}
"""
