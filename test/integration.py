#!/usr/bin/env python3
"""Integration tests for mod_redirect307 against a real Apache httpd.

Every server is started from a configuration written into a temp dir, on a
free loopback port, with `apache2 -k start`; readiness is polled (no fixed
sleeps) and every server is stopped by the pid in its PidFile, whatever
happens to the checks (test/httpd_harness.py does the starting and
stopping, as for the soak tests and the benchmarks).  Exact bytes are read over raw sockets; client-side
redirect behaviour (curl -L) is checked against a small echo server that
reports the method and body it received.  A miss is compared byte for
byte with a twin server that has the same configuration without the module.

    python3 test/integration.py --module /abs/.libs/mod_redirect307.so \
        --apache /usr/sbin/apache2 [-k SUBSTRING] [-v]

Prints "ok   NAME" or "FAIL NAME: reason" per check and ends with the line
"N passed, M failed"; exit status 0 only when nothing failed.

Python 3 standard library only.
"""

import argparse
import atexit
import calendar
from http import server as http_server
import json
import os
import re
import shutil
import signal
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpd_harness as hh  # noqa: E402
from httpd_harness import (LOOPBACK, free_port, pid_alive, poll,  # noqa: E402
                           read_bytes, run, write_file)

START_TIMEOUT = 10.0
IO_TIMEOUT = 5.0

# Modules every test server loads: (module name, file).  The <IfModule>
# guard skips those built into the binary (Debian builds log_config in).
BASE_MODULES = hh.CORE_MODULES + [hh.MIME_MODULE, hh.LOG_CONFIG_MODULE,
                                  hh.ALIAS_MODULE, hh.DIR_MODULE]


# ---------------------------------------------------------------------------
# Checks: registry, failures, transcript
# ---------------------------------------------------------------------------

class Failure(Exception):
    """A check's expectation did not hold."""


def registrar(checks):
    """A decorator factory registering checks in `checks`, a list of
    (name, function) in the order they run (integration_dir.py keeps a
    list of its own)."""
    def check(name):
        """Registers the decorated function as the check `name`."""
        def register(fn):
            if any(n == name for n, _ in checks):
                raise RuntimeError("duplicate check name " + name)
            checks.append((name, fn))
            return fn
        return register
    return check


CHECKS = []     # (name, function) in the order they run
check = registrar(CHECKS)


def expect(cond, message):
    if not cond:
        raise Failure(message)


def expect_eq(got, want, what):
    if got != want:
        raise Failure("%s: got %s, want %s" % (what, short(got), short(want)))


def short(value, limit=300):
    text = repr(value)
    if len(text) > limit:
        text = text[:limit] + "...(%d chars)" % len(text)
    return text


class Transcript:
    """What the running check did; printed with -v or when it fails."""

    def __init__(self):
        self.lines = []

    def note(self, text):
        self.lines.append(text)


T = Transcript()


def note(text):
    T.note(text)


# ---------------------------------------------------------------------------
# Small helpers (ports, files, processes: test/httpd_harness.py)
# ---------------------------------------------------------------------------

def clean_env():
    env = dict(os.environ)
    for k in list(env):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
                         "curl_home"):
            del env[k]
    return env


# ---------------------------------------------------------------------------
# HTTP over raw sockets
# ---------------------------------------------------------------------------

class Response:
    """A response parsed from raw bytes; header values kept as bytes."""

    def __init__(self, head, body, elapsed, complete=True):
        self.head = head
        self.body = body
        self.elapsed = elapsed
        self.complete = complete
        lines = head.split(b"\r\n")
        self.status_line = lines[0]
        parts = lines[0].split(b" ", 2)
        self.version = parts[0].decode("latin-1")
        try:
            self.status = int(parts[1])
        except (IndexError, ValueError):
            raise Failure("malformed status line %s" % short(lines[0]))
        self.header_lines = lines[1:]
        self.headers = []
        for line in self.header_lines:
            name, _, value = line.partition(b":")
            self.headers.append((name.decode("latin-1").strip(),
                                 value.strip(b" \t")))

    def get(self, name):
        """First value of header `name` as text (latin-1), or None."""
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v.decode("latin-1")
        return None

    def all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    @property
    def location(self):
        return self.get("Location")

    def __repr__(self):
        return "<%s Location=%s>" % (self.status_line.decode("latin-1"),
                                     self.location)


def _body_length(head, method):
    """Bytes of body to expect: int, 'chunked' or None (until EOF)."""
    status = int(head.split(b" ", 2)[1])
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return 0
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"transfer-encoding" and b"chunked" in value.lower():
            return "chunked"
        if name == b"content-length":
            length = int(value.strip())
    return length


def _dechunk(data):
    """Returns (body, complete) for a chunked body."""
    body = b""
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return body, False
        size = int(data[pos:end].split(b";")[0], 16)
        if size == 0:   # complete once the (empty) trailer section ends
            return body, data.find(b"\r\n", end + 2) >= 0
        start = end + 2
        if len(data) < start + size + 2:
            return body, False
        body += data[start:start + size]
        pos = start + size + 2


def exchange(port, data, timeout=IO_TIMEOUT, method="GET", head_only=False,
             keep=False):
    """Sends raw bytes, reads one response.

    Reads until the response is complete (by Content-Length / chunked / EOF),
    or only its head with head_only.  Raises Failure when nothing complete
    arrives within `timeout` seconds.  With keep, returns (response, socket)
    so that the caller can read on."""
    start = time.monotonic()
    deadline = start + timeout
    sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
    try:
        sock.sendall(data)
        buf = b""
        head = None
        want = None
        eof = False
        while True:
            if head is None:
                i = buf.find(b"\r\n\r\n")
                if i >= 0:
                    head, buf = buf[:i], buf[i + 4:]
                    if head_only:
                        break
                    want = _body_length(head, method)
            if head is not None:
                if want == "chunked":
                    body, done = _dechunk(buf)
                    if done:
                        buf = body
                        break
                elif want is not None and len(buf) >= want:
                    buf = buf[:want]
                    break
            if eof:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Failure("no complete response within %.0fs; got %s"
                              % (timeout, short(buf if head is None else head)))
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                eof = True
            buf += chunk
        if head is None:
            raise Failure("connection closed without a response head; got %s"
                          % short(buf))
        resp = Response(head, buf, time.monotonic() - start)
        if keep:
            return resp, sock
        return resp
    finally:
        if not keep:
            sock.close()


def build_request(method, path, host, headers=(), body=b"", version="HTTP/1.1",
                  close=True):
    if isinstance(path, str):
        path = path.encode("utf-8")
    lines = [method.encode() + b" " + path + b" " + version.encode()]
    if host is not None:
        lines.append(b"Host: " + host.encode())
    for h in headers:
        lines.append(h.encode("latin-1") if isinstance(h, str) else h)
    if body or method in ("POST", "PUT", "PATCH"):
        if not any(h.lower().startswith("content-length") for h in headers
                   if isinstance(h, str)):
            lines.append(b"Content-Length: %d" % len(body))
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def request(port, path, method="GET", host=None, headers=(), body=b"",
         version="HTTP/1.1"):
    """One request over a fresh connection; Host defaults to 127.0.0.1:port."""
    if host is None and version == "HTTP/1.1":
        host = "%s:%d" % (LOOPBACK, port)
    data = build_request(method, path, host, headers, body, version)
    resp = exchange(port, data, method=method)
    note("%s %s (Host %s) -> %s" % (method, short(path, 120), host, resp))
    return resp


# ---------------------------------------------------------------------------
# httpd servers
# ---------------------------------------------------------------------------

class Conf:
    """An httpd config under construction.  Lines tagged 'module' are left
    out of the twin config without the module; 'nomod' lines only go there.
    Marks record line numbers (1-based) in the module config."""

    def __init__(self):
        self.lines = []      # (text, tag)
        self.marks = {}

    def add(self, text, tag=None, mark=None):
        for line in text.split("\n"):
            self.lines.append((line, tag))
        if mark:
            self.marks[mark] = len([1 for _, t in self.lines if t != "nomod"])
        return self

    def render(self, with_module=True):
        skip = "nomod" if with_module else "module"
        return "\n".join(t for t, tag in self.lines if tag != skip) + "\n"


def base_conf(root, ports, module_path, docroot, log_format=True):
    """The part every server config shares."""
    c = Conf()
    for line in hh.conf_head(root, ports, BASE_MODULES,
                             comment="written by test/integration.py"):
        c.add(line)
    c.add("Timeout 15")
    c.add("LoadModule redirect307_module %s" % module_path, tag="module")
    c.add("TypesConfig %s/mime.types" % root)
    c.add("StartServers 1\nMinSpareThreads 5\nMaxSpareThreads 20\n"
          "ThreadsPerChild 10\nServerLimit 4\nMaxRequestWorkers 40")
    c.add("DocumentRoot %s" % docroot)
    c.add("<Directory %s>\n    Require all granted\n</Directory>" % docroot)
    c.add("DirectoryIndex index.html")
    c.add("LogLevel warn redirect307:debug", tag="module")
    c.add("LogLevel warn", tag="nomod")
    if log_format:
        c.add('LogFormat "%h \\"%r\\" %>s [%{REDIRECT307_RULE}e]" r307')
        c.add("CustomLog %s/access.log r307" % root)
    return c


def make_root(prefix):
    root = hh.make_root("r307-%s-" % prefix)
    write_file(os.path.join(root, "mime.types"),
               "text/html html htm\ntext/plain txt\napplication/json json\n")
    return root


# ---------------------------------------------------------------------------
# Echo server: answers every method with what it received
# ---------------------------------------------------------------------------

class EchoHandler(http_server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # so that Expect: 100-continue is answered

    def _echo(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        payload = json.dumps({
            "method": self.command,
            "path": self.path,
            "body_hex": body.hex(),
            "content_length": self.headers.get("Content-Length"),
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _echo
    do_OPTIONS = _echo

    def log_message(self, *args):
        pass


class EchoServer:
    def __init__(self):
        self.httpd = http_server.ThreadingHTTPServer((LOOPBACK, 0), EchoHandler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------------------
# The fixture: servers started on first use, all stopped at exit
# ---------------------------------------------------------------------------

class Suite:
    def __init__(self, args):
        self.apache = args.apache
        self.module = os.path.abspath(args.module)
        self.verbose = args.verbose
        self.keep = args.keep
        self.servers = {}       # name -> Httpd
        self.setup_errors = {}  # name -> message
        self.roots = []
        self.echo = None
        self.used = []          # servers the running check touched
        self.info = {}          # name -> dict of config facts (marks, paths)
        self.docroot = None

    # -- lifetime ---------------------------------------------------------

    def cleanup(self):
        for srv in list(self.servers.values()):
            try:
                srv.stop()
            except Exception as e:  # keep stopping the others
                print("warning: stopping %s: %s" % (srv.name, e), file=sys.stderr)
        self.servers.clear()
        if self.echo:
            self.echo.stop()
            self.echo = None
        if not self.keep:
            for root in self.roots:
                shutil.rmtree(root, ignore_errors=True)
        self.roots = []

    def new_root(self, prefix):
        root = make_root(prefix)
        self.roots.append(root)
        return root

    def server(self, name):
        """The running server `name`, started on first use."""
        if name in self.setup_errors:
            raise Failure("server '%s' did not start: %s"
                          % (name, self.setup_errors[name]))
        if name not in self.servers:
            setup = getattr(self, "setup_" + name)
            try:
                if name != "nomod" and not os.path.exists(self.module):
                    raise Failure("module %s does not exist" % self.module)
                setup()
            except Failure as e:
                self.setup_errors[name] = str(e)
                raise Failure("server '%s' did not start: %s" % (name, e))
        srv = self.servers[name]
        if srv not in [s for s, _ in self.used]:
            self.used.append((srv, srv.log_size()))
        return srv

    def echo_port(self):
        if self.echo is None:
            self.echo = EchoServer()
        return self.echo.port

    def start(self, name, root, conf, ports, with_module=True, info=None):
        srv = hh.Httpd(self.apache, name, root, ports,
                       conf_text=conf.render(with_module),
                       start_timeout=START_TIMEOUT, stop_timeout=10.0,
                       cmd_timeout=20.0)
        self.servers[name] = srv
        self.info[name] = info or {}
        try:
            srv.start()
        except hh.StartError as e:
            raise Failure(str(e))
        return srv

    # -- shared files -----------------------------------------------------

    def shared_docroot(self):
        if self.docroot is None:
            root = self.new_root("htdocs")
            d = os.path.join(root, "htdocs")
            write_file(os.path.join(d, "index.html"),
                       "<html><body>index of the test site</body></html>\n")
            write_file(os.path.join(d, "file.txt"), "plain file\n" * 20)
            write_file(os.path.join(d, "subdir", "index.html"), "<p>subdir</p>\n")
            write_file(os.path.join(d, "new-page"), "the new page\n")
            os.chmod(os.path.join(d, "subdir"), 0o755)
            os.chmod(d, 0o755)
            self.docroot = d
        return self.docroot

    # -- the main server: rules file, inline rules, mod_alias twins, vhosts --

    def main_conf(self, root, p_main, p_vhost, echo):
        rules = RulesFile(MAIN_RULES.replace("ECHO", str(echo)))
        write_file(os.path.join(root, "rules.map"), rules.text)
        write_file(os.path.join(root, "a.map"), "/only-a  /a-target  301\n")
        rules2 = RulesFile(SECOND_RULES)
        write_file(os.path.join(root, "rules2.map"), rules2.text)
        c = base_conf(root, [p_main, p_vhost], self.module, self.shared_docroot())
        c.add("Redirect307Map rules.map", tag="module", mark="map")
        c.add("Redirect307Map rules2.map", tag="module")
        c.add("Redirect307 301 /inline-301 /inline-target", tag="module",
              mark="inline301")
        c.add("Redirect307 /inline-dflt /inline-dflt-target", tag="module",
              mark="inlinedflt")
        c.add("Redirect307 410 /inline-gone -", tag="module")
        for status in (301, 302, 303, 307, 308):
            c.add("Redirect %d /alias-s%d /new-page" % (status, status))
        c.add("Redirect 410 /alias-s410")
        c.add("<VirtualHost %s:%d>" % (LOOPBACK, p_vhost))
        c.add("    ServerName a.test")
        c.add("    Redirect307 301 /override /a-version", tag="module",
              mark="a_override")
        c.add("    Redirect307Map a.map", tag="module")
        c.add("</VirtualHost>")
        c.add("<VirtualHost %s:%d>" % (LOOPBACK, p_vhost))
        c.add("    ServerName b.test")
        c.add("    Redirect307 301 /only-b /b-target", tag="module")
        c.add("</VirtualHost>")
        c.add("<VirtualHost %s:%d>" % (LOOPBACK, p_vhost))
        c.add("    ServerName off.test")
        c.add("    Redirect307Engine Off", tag="module")
        c.add("    Redirect307 301 /off-own /off-target", tag="module")
        c.add("</VirtualHost>")
        c.add("<VirtualHost %s:%d>" % (LOOPBACK, p_vhost))
        c.add("    ServerName dflt.test")
        c.add("    Redirect307Default 303", tag="module")
        c.add("    Redirect307 /vd-own /vd-target", tag="module")
        c.add("</VirtualHost>")
        return c, (rules, rules2)

    def setup_main(self):
        root = self.new_root("main")
        p_main, p_vhost = free_port(), free_port()
        c, (rules, rules2) = self.main_conf(root, p_main, p_vhost, self.echo_port())
        info = {"rules": rules, "rules2": rules2,
                "map": os.path.join(root, "rules.map"),
                "marks": c.marks, "vport": p_vhost,
                "conf": os.path.join(root, "httpd.conf")}
        self.start("main", root, c, [p_main, p_vhost], info=info)

    def setup_nomod(self):
        """The main server's twin without the module (same docroot)."""
        root = self.new_root("nomod")
        p_main, p_vhost = free_port(), free_port()
        c, _ = self.main_conf(root, p_main, p_vhost, 1)
        self.start("nomod", root, c, [p_main, p_vhost], with_module=False,
                   info={"vport": p_vhost})

    # -- options at server level ------------------------------------------

    def setup_opts(self):
        root = self.new_root("opts")
        port = free_port()
        rules = RulesFile(OPTS_RULES)
        write_file(os.path.join(root, "opts.map"), rules.text)
        c = base_conf(root, [port], self.module, self.shared_docroot())
        c.add("Redirect307MatchCase Off", tag="module")
        c.add("Redirect307TrailingSlash Strict", tag="module")
        c.add("Redirect307Default 302", tag="module")
        c.add("Redirect307Chains Collapse", tag="module")
        c.add("Redirect307Map opts.map", tag="module")
        c.add("Redirect307 /inline-dflt /inline-dflt-target", tag="module")
        self.start("opts", root, c, [port], info={"rules": rules})

    # -- matching: ignored parameters, query modes, host rules ------------

    def setup_match(self):
        root = self.new_root("match")
        port = free_port()
        write_file(os.path.join(root, "match.map"), MATCH_RULES)
        c = base_conf(root, [port], self.module, self.shared_docroot())
        c.add("Redirect307Map match.map", tag="module")
        self.start("match", root, c, [port])

    def setup_match_none(self):
        root = self.new_root("matchnone")
        port = free_port()
        write_file(os.path.join(root, "match.map"), MATCH_RULES)
        c = base_conf(root, [port], self.module, self.shared_docroot())
        c.add("Redirect307IgnoreParams none", tag="module")
        c.add("Redirect307Map match.map", tag="module")
        self.start("match_none", root, c, [port])

    def setup_hosts(self):
        root = self.new_root("hosts")
        port = free_port()
        write_file(os.path.join(root, "hosts.map"), HOST_RULES)
        c = base_conf(root, [port], self.module, self.shared_docroot())
        c.add("<VirtualHost %s:%d>" % (LOOPBACK, port))
        c.add("    ServerName brand.test")
        c.add("    ServerAlias old.example.com www.old.example.com "
              "*.shop.example xn--caf-dma.example")
        c.add("    Redirect307IgnoreParams default ref", tag="module")
        c.add("    Redirect307Stats On", tag="module")
        c.add("    Redirect307Map hosts.map", tag="module")
        c.add("    <Location /r307-status>\n        SetHandler "
              "redirect307-status\n    </Location>", tag="module")
        c.add("</VirtualHost>")
        self.start("hosts", root, c, [port])

    # -- pattern rules --------------------------------------------------------

    def setup_pattern(self):
        root = self.new_root("pattern")
        port = free_port()
        write_file(os.path.join(root, "pattern.map"),
                   PATTERN_RULES.replace("ECHO", str(self.echo_port())))
        c = base_conf(root, [port], self.module, self.shared_docroot())
        # r->uri keeps %2F as "%2F" (its '%' is then data); by default
        # httpd answers 404 before any module sees it
        c.add("AllowEncodedSlashes NoDecode")
        c.add("Redirect307Map pattern.map", tag="module")
        c.add("<Location /r307-status>\n    SetHandler redirect307-status\n"
              "</Location>", tag="module")
        self.start("pattern", root, c, [port])

    # -- monitoring: mod_status, Prometheus, the status page's texts -------

    def setup_monitor(self):
        root = self.new_root("monitor")
        port = free_port()
        write_file(os.path.join(root, "monitor.map"), MONITOR_RULES)
        c = base_conf(root, [port], self.module, self.shared_docroot())
        c.add("LoadModule status_module %s/mod_status.so" % hh.MODULE_DIR)
        c.add("ServerName monitor.test")
        c.add("Redirect307Stats On", tag="module")
        c.add("Redirect307Map monitor.map", tag="module")
        c.add("<Location /server-status>\n    SetHandler server-status\n"
              "</Location>")
        c.add("<Location /r307-status>\n    SetHandler redirect307-status\n"
              "</Location>", tag="module")
        for name, body in (("shared.test", ""),
                           ("own.test", "    Redirect307 301 /own /own-target"),
                           ("off.test", "    Redirect307Engine Off")):
            c.add("<VirtualHost %s:%d>" % (LOOPBACK, port))
            c.add("    ServerName %s" % name)
            if body:
                c.add(body, tag="module")
            c.add("</VirtualHost>")
        self.start("monitor", root, c, [port])

    # -- lifecycle: rule windows, Cache-Control on permanent redirects -----

    def setup_lifecycle(self):
        root = self.new_root("lifecycle")
        port = free_port()
        now = int(time.time())
        # whole seconds, as the rules file writes them; the closing check
        # runs first and waits for its window, then the opening one
        closes, opens = now + 5, now + 10
        rules = LIFECYCLE_RULES.format(
            opens=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(opens)),
            closes=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(closes)))
        write_file(os.path.join(root, "life.map"), rules)
        c = base_conf(root, [port], self.module, self.shared_docroot())
        c.add("Redirect307MaxAge 3600", tag="module")
        c.add("Redirect307Map life.map", tag="module")
        c.add("<VirtualHost %s:%d>" % (LOOPBACK, port))
        c.add("    ServerName nocache.test")
        c.add("    Redirect307 301 /own-301 /t", tag="module")
        c.add("</VirtualHost>")
        self.start("lifecycle", root, c, [port],
                   info={"opens": opens, "closes": closes})

    # -- reload -----------------------------------------------------------

    def setup_reload(self):
        root = self.new_root("reload")
        port = free_port()
        write_file(os.path.join(root, "reload.map"),
                   "# reloaded by the graceful checks\n/reload-me  /v1  301\n")
        c = base_conf(root, [port], self.module, self.shared_docroot())
        c.add("Redirect307Map reload.map", tag="module")
        self.start("reload", root, c, [port],
                   info={"map": os.path.join(root, "reload.map")})

    # -- reuse, status page, hit counters, memory (the reload cache) -----

    def setup_reuse(self):
        root = self.new_root("reuse")
        port = free_port()
        path = os.path.join(root, "reuse.map")
        write_file(path, "# the reuse checks\n/reuse-me  /r1  301\n"
                         "/reuse-other  /other  302\n")
        c = base_conf(root, [port], self.module, self.shared_docroot())
        c.add("Redirect307Map reuse.map", tag="module")
        self.start("reuse", root, c, [port], info={"map": path, "target": "r1"})

    def setup_status(self):
        """Stats On in the main server; name-based vhosts with own maps."""
        root = self.new_root("status")
        p_main, p_vhost = free_port(), free_port()
        write_file(os.path.join(root, "status.map"), STATUS_RULES)
        write_file(os.path.join(root, "va.map"), "/va-only  /va-target  301\n")
        write_file(os.path.join(root, "vb.map"),
                   "/vb-only  /vb-target  301\n/vb-two/*  /vb2/*  302\n")
        write_file(os.path.join(root, "vnostats.map"),
                   "/vn-only  /vn-target  301\n")
        c = base_conf(root, [p_main, p_vhost], self.module, self.shared_docroot())
        c.add("Redirect307Stats On", tag="module")
        c.add("Redirect307Map status.map", tag="module")
        c.add("Redirect307 301 /status-inline /status-inline-target",
              tag="module", mark="inline")
        c.add("<Location /r307-status>\n    SetHandler redirect307-status\n"
              "</Location>", tag="module")
        for name, m, extra in (("va.test", "va.map", ""),
                               ("vb.test", "vb.map", ""),
                               ("vnostats.test", "vnostats.map",
                                "    Redirect307Stats Off")):
            c.add("<VirtualHost %s:%d>" % (LOOPBACK, p_vhost))
            c.add("    ServerName %s" % name)
            c.add("    Redirect307Map %s" % m, tag="module")
            if extra:
                c.add(extra, tag="module")
            c.add("</VirtualHost>")
        self.start("status", root, c, [p_main, p_vhost], info={
            "map": os.path.join(root, "status.map"), "root": root,
            "conf": os.path.join(root, "httpd.conf"), "marks": c.marks,
            "vport": p_vhost})

    def setup_nostats(self):
        root = self.new_root("nostats")
        port = free_port()
        write_file(os.path.join(root, "nostats.map"),
                   "/ns-one  /ns-target  301\n/ns-two/*  /ns2/*  302\n")
        c = base_conf(root, [port], self.module, self.shared_docroot())
        c.add("Redirect307Stats Off", tag="module")
        c.add("Redirect307Map nostats.map", tag="module")
        c.add("Redirect307 301 /ns-inline /ns-inline-target", tag="module")
        c.add("<Location /r307-status>\n    SetHandler redirect307-status\n"
              "</Location>", tag="module")
        self.start("nostats", root, c, [port],
                   info={"map": os.path.join(root, "nostats.map")})

    def setup_counts(self):
        """prefork, 4 children from the start; Stats On; %P in the log."""
        root = self.new_root("counts")
        port = free_port()
        for name, text in (("count.map", COUNT_RULES),
                           ("stable.map", "/stable-a  /stable-target  301\n"
                                          "/stable-b  /stable-b-target  302\n"),
                           ("change.map", "/change-a  /change-v1  301\n")):
            write_file(os.path.join(root, name), text)
        c = base_conf(root, [port], self.module, self.shared_docroot(),
                      log_format=False)
        c.add('LogFormat "%P %U %>s" pids')
        c.add("CustomLog %s/access.log pids" % root)
        c.add("Redirect307Stats On", tag="module")
        for name in ("count.map", "stable.map", "change.map"):
            c.add("Redirect307Map %s" % name, tag="module")
        c.add("<Location /r307-status>\n    SetHandler redirect307-status\n"
              "</Location>", tag="module")
        use_prefork(c, servers=4)
        self.start("counts", root, c, [port], info={
            "root": root, "map": os.path.join(root, "count.map"),
            "stable": os.path.join(root, "stable.map"),
            "change": os.path.join(root, "change.map")})

    def setup_toggle(self):
        """Stats On at start; a check turns it Off with a graceful."""
        root = self.new_root("toggle")
        port = free_port()
        write_file(os.path.join(root, "toggle.map"), "/tg-a  /tg-target  301\n")
        texts = {}
        for stats in ("On", "Off"):
            c = base_conf(root, [port], self.module, self.shared_docroot())
            c.add("Redirect307Stats %s" % stats, tag="module")
            c.add("Redirect307Map toggle.map", tag="module")
            c.add("<Location /r307-status>\n    SetHandler redirect307-status\n"
                  "</Location>", tag="module")
            texts[stats] = c
        self.start("toggle", root, texts["On"], [port], info={
            "map": os.path.join(root, "toggle.map"),
            "off": texts["Off"].render()})

    def setup_memory(self):
        root = self.new_root("memory")
        port = free_port()
        path = os.path.join(root, "big.map")
        write_file(path, big_map_text(MEMORY_RULES, "a"))
        c = base_conf(root, [port], self.module, self.shared_docroot())
        c.add("Redirect307Map big.map", tag="module")
        self.start("memory", root, c, [port], info={"map": path})


class RulesFile:
    """Rules-file text whose lines can be found by their SOURCE field
    (the first occurrence, or `nth`)."""

    def __init__(self, text):
        self.text = text.lstrip("\n")

    def line_of(self, source, nth=1):
        seen = 0
        for i, line in enumerate(self.text.split("\n"), 1):
            fields = line.split()
            if fields and fields[0] == source:
                seen += 1
                if seen == nth:
                    return i
        raise KeyError(source)


# The main server's rules file.  ECHO is replaced by the echo server's port.
MAIN_RULES = """
# mod_redirect307 integration tests: the main server's rules

/old-page            /new-page
/s301                /new-page                       301
/s302                /new-page                       302
/s303                /new-page                       303
/s307                /new-page                       307
/s308                /new-page                       308
/s410                -                               410
/gone-implicit       -
/promo               https://shop.example.com/sale   302
/abs                 https://x.example:8443/p?q=1    301
/docs/*              https://docs.example.com/v2/*   301
/docs/api/*          https://api.example.com/*       301
/docs/special        /special                        301
/old-blog/*          /blog                           301
/index.php?id=42     /products/blue-widget           308
/q?a=1&b=2           /q-target                       301
/q                   /q-plain                        301
/qonly?a=1           /qonly-target                   301
/qa?x=1              /qa-target                      301   qsappend
/tq                  /tq-target?lang=en              301
/qd                  /qd-target                      301   qsdrop
/qs                  /qs-target?lang=en              301   qsappend
/frag                /frag-target#sec                301
/Terms               /terms-of-service               301   nocase
/slash/              /slash-target                   301
/caf%C3%A9           /coffee                         301
/th\u00e9                 /tea                            301
/naive               /na\u00efve                          301
\t/tabbed\t/tabbed-target\t301
/tc                  /tc-target                      301   # trailing comment
/hostile/*           https://safe.example/h/*        307
/hostile-path/*      /landing/*                      307
/method-test         /method-target                  307
/big-upload          /upload-target                  307
/post-301            http://127.0.0.1:ECHO/echo/post-301   301
/post-302            http://127.0.0.1:ECHO/echo/post-302   302
/post-303            http://127.0.0.1:ECHO/echo/post-303   303
/post-307            http://127.0.0.1:ECHO/echo/post-307   307
/post-308            http://127.0.0.1:ECHO/echo/post-308   308
/put-307             http://127.0.0.1:ECHO/echo/put-307    307
/put-308             http://127.0.0.1:ECHO/echo/put-308    308
/dup                 /dup-first                      301
/dup                 /dup-second                     302
/chain-a             /chain-b                        301
/chain-b             /chain-c                        301
/chain-c             /chain-end                      301
/override            /main-version                   301
/shared              /from-main                      301
/logged              /logged-target                  307
"""

# The main server's second rules file (Redirect307Map is repeatable).
SECOND_RULES = """
# second rules file of the main server
/second-map          /second-target                  301
/old-page            /from-second-map                302
/chain-abs           http://127.0.0.1/chain-abs-2    301
/chain-abs-2         /chain-abs-end                  301
"""

# Server-level options: MatchCase Off, TrailingSlash Strict, Default 302,
# Chains Collapse.
OPTS_RULES = """
/CaseTest            /case-target                    301
/strict              /strict-target                  301
/strict2/            /strict2-target                 301
/dflt                /dflt-target
/explicit307         /x307                           307
/c1                  /c2                             301
/c2                  /c3                             302
/c3                  /c-final                        308
"""


# The pattern server's rules (SPEC "Pattern rules").  ECHO: the echo
# server's port.
PATTERN_RULES = """\
/u/:name             /users/:name
/u/admin             /root
/blog/*              /b/*
/blog/:y/:slug       /never/:slug
/p/:x/:y             /one/:x/:y
/p/:x/c              /two/:x
/e/:a/x              /first/:a
/e/x/:b              /second/:b
/shop/:cat/*         /products/:cat/*              308
/post/:id            http://127.0.0.1:ECHO/echo/post/:id   307
/x/:v                https://new.example/:v        301
/q/:v                /search?q=:v
/a/:y/:slug.html     /articles/:slug?year=:y       301
"""


# ---------------------------------------------------------------------------
# Assertions on redirects
# ---------------------------------------------------------------------------

def expect_redirect(resp, status, location):
    expect_eq(resp.status, status, "status")
    expect_eq(resp.location, location, "Location")


def expect_clean_location(resp):
    """Location is one absolute URL of printable ASCII, no injected header."""
    for line in resp.header_lines:
        expect(b"\r" not in line and b"\n" not in line,
               "raw CR/LF inside header line %s" % short(line))
    for name, value in resp.headers:
        expect(name.lower() != "set-cookie",
               "injected header %s: %s" % (name, short(value)))
        expect(re.match(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", name) is not None,
               "malformed header name %s" % short(name))
    locs = resp.all("Location")
    expect(len(locs) <= 1, "%d Location headers" % len(locs))
    if locs:
        loc = locs[0]
        bad = [b for b in loc if b < 0x21 or b >= 0x7f]
        expect(not bad, "Location holds raw bytes %s: %s" % (bytes(bad), short(loc)))
        parts = urllib.parse.urlsplit(loc.decode("ascii"))
        expect(parts.scheme in ("http", "https") and parts.netloc,
               "Location is not an absolute URL: %s" % short(loc))


def main_port():
    return S.server("main").port


def main_base(port=None):
    return "http://%s:%d" % (LOOPBACK, port or main_port())


# ---------------------------------------------------------------------------
# Checks: statuses and Location
# ---------------------------------------------------------------------------

S = None  # the Suite, set in main()

for _status in (301, 302, 303, 307, 308):
    def _status_check(status=_status):
        r = request(main_port(), "/s%d" % status)
        expect_redirect(r, status, main_base() + "/new-page")
    check("status_%d" % _status)(_status_check)


@check("status_410_gone")
def _():
    r = request(main_port(), "/s410")
    expect_eq(r.status, 410, "status")
    expect_eq(r.location, None, "Location")


@check("status_410_implicit_for_dash_target")
def _():
    r = request(main_port(), "/gone-implicit")
    expect_eq(r.status, 410, "status")
    expect_eq(r.location, None, "Location")


@check("status_default_is_307")
def _():
    r = request(main_port(), "/old-page")
    expect_redirect(r, 307, main_base() + "/new-page")


for _status in (301, 302, 303, 307, 308, 410):
    def _same_as_alias(status=_status):
        """Status line, Location, Content-Type and body as mod_alias's."""
        port = main_port()
        ours = request(port, "/s%d" % status)
        alias = request(port, "/alias-s%d" % status)
        expect_eq(ours.status_line, alias.status_line, "status line vs mod_alias")
        expect_eq(ours.location, alias.location, "Location vs mod_alias")
        expect_eq(ours.get("Content-Type"), alias.get("Content-Type"),
                  "Content-Type vs mod_alias")
        expect_eq(ours.body, alias.body, "body vs mod_alias")
    check("status_%d_response_same_as_mod_alias" % _status)(_same_as_alias)


@check("default_directive_changes_status")
def _():
    r = request(S.server("opts").port, "/dflt")
    expect_redirect(r, 302, "http://%s:%d/dflt-target" % (LOOPBACK, S.server("opts").port))


@check("default_directive_keeps_explicit_status")
def _():
    port = S.server("opts").port
    r = request(port, "/explicit307")
    expect_redirect(r, 307, "http://%s:%d/x307" % (LOOPBACK, port))


@check("default_directive_applies_to_inline_rule")
def _():
    port = S.server("opts").port
    r = request(port, "/inline-dflt")
    expect_redirect(r, 302, "http://%s:%d/inline-dflt-target" % (LOOPBACK, port))


@check("default_directive_in_vhost")
def _():
    S.server("main")
    vport = S.info["main"]["vport"]
    r = request(vport, "/vd-own", host="dflt.test:%d" % vport)
    expect_redirect(r, 303, "http://dflt.test:%d/vd-target" % vport)


@check("inline_rule_with_status")
def _():
    r = request(main_port(), "/inline-301")
    expect_redirect(r, 301, main_base() + "/inline-target")


@check("inline_rule_default_status")
def _():
    r = request(main_port(), "/inline-dflt")
    expect_redirect(r, 307, main_base() + "/inline-dflt-target")


@check("inline_rule_gone")
def _():
    r = request(main_port(), "/inline-gone")
    expect_eq(r.status, 410, "status")
    expect_eq(r.location, None, "Location")


@check("location_path_target_is_absolute_url")
def _():
    r = request(main_port(), "/old-page")
    expect_eq(r.location, main_base() + "/new-page", "Location")


# Host headers to compare the Location of a path target with mod_alias's.
LOCATION_HOSTS = [
    ("host_with_port", lambda p: "127.0.0.1:%d" % p, "HTTP/1.1"),
    ("host_without_port", lambda p: "127.0.0.1", "HTTP/1.1"),
    ("host_name_and_other_port", lambda p: "www.example.org:8080", "HTTP/1.1"),
    ("host_localhost", lambda p: "localhost:%d" % p, "HTTP/1.1"),
    ("http10_no_host", lambda p: None, "HTTP/1.0"),
]

for _label, _host, _version in LOCATION_HOSTS:
    def _loc_vs_alias(host=_host, version=_version):
        port = main_port()
        h = host(port)
        ours = request(port, "/s307", host=h, version=version)
        alias = request(port, "/alias-s307", host=h, version=version)
        expect_eq(ours.status, 307, "status")
        expect(alias.location, "mod_alias gave no Location: %r" % alias)
        expect_eq(ours.location, alias.location, "Location vs mod_alias")
    check("location_same_as_mod_alias_" + _label)(_loc_vs_alias)


@check("location_query_carry_same_as_mod_alias")
def _():
    port = main_port()
    ours = request(port, "/s307?x=1&y=%20z")
    alias = request(port, "/alias-s307?x=1&y=%20z")
    expect_eq(ours.location, alias.location, "Location vs mod_alias")


@check("absolute_target_unchanged")
def _():
    r = request(main_port(), "/promo")
    expect_redirect(r, 302, "https://shop.example.com/sale")


@check("absolute_target_with_port_and_query_unchanged")
def _():
    r = request(main_port(), "/abs")
    expect_redirect(r, 301, "https://x.example:8443/p?q=1")


@check("redirect_sets_no_cookie_and_has_body")
def _():
    r = request(main_port(), "/s301")
    expect_clean_location(r)
    expect(b"/new-page" in r.body, "body does not link the target: %s" % short(r.body))


# ---------------------------------------------------------------------------
# Checks: matching
# ---------------------------------------------------------------------------

# (name, request path, status, Location relative to the main base or absolute)
MATCH_CASES = [
    ("exact_rule", "/old-page", 307, "/new-page"),
    ("exact_rule_miss_on_longer_path", "/old-page-x", 404, None),
    ("prefix_matches_path_itself", "/docs", 301, "https://docs.example.com/v2/"),
    ("prefix_matches_trailing_slash", "/docs/", 301, "https://docs.example.com/v2/"),
    ("prefix_carries_rest", "/docs/a/b", 301, "https://docs.example.com/v2/a/b"),
    ("prefix_segment_boundary", "/docsx", 404, None),
    ("prefix_longest_wins", "/docs/api/x/y", 301, "https://api.example.com/x/y"),
    ("prefix_exact_beats_prefix", "/docs/special", 301, "/special"),
    ("prefix_carries_query", "/docs/a?x=1", 301, "https://docs.example.com/v2/a?x=1"),
    ("prefix_target_without_star", "/old-blog/2020/post", 301, "/blog"),
    ("query_rule_matches", "/index.php?id=42", 308, "/products/blue-widget"),
    ("query_rule_order_insensitive", "/q?b=2&a=1", 301, "/q-target"),
    ("query_rule_beats_path_rule", "/q?a=1&b=2", 301, "/q-target"),
    ("query_rule_other_query_falls_to_path_rule", "/q?a=1", 301, "/q-plain?a=1"),
    ("query_rule_other_query_misses", "/qonly?a=2", 404, None),
    ("query_rule_extra_param_misses", "/qonly?a=1&b=2", 404, None),
    ("query_rule_no_query_misses", "/qonly", 404, None),
    ("query_rule_drops_request_query", "/index.php?id=42", 308, "/products/blue-widget"),
    ("query_rule_qsappend_keeps_query", "/qa?x=1", 301, "/qa-target?x=1"),
    ("query_carry_default_appends", "/old-page?utm=1&b=2", 307, "/new-page?utm=1&b=2"),
    ("query_carry_target_with_query_drops", "/tq?x=1", 301, "/tq-target?lang=en"),
    ("query_carry_qsdrop", "/qd?x=1", 301, "/qd-target"),
    ("query_carry_qsappend", "/qs?x=1", 301, "/qs-target?lang=en&x=1"),
    ("query_carry_before_fragment", "/frag?x=1", 301, "/frag-target?x=1#sec"),
    ("query_empty_not_carried", "/old-page?", 307, "/new-page"),
    ("nocase_flag_upper", "/TERMS", 301, "/terms-of-service"),
    ("nocase_flag_lower", "/terms", 301, "/terms-of-service"),
    ("match_case_default_on", "/OLD-PAGE", 404, None),
    ("trailing_slash_ignore_request_slash", "/old-page/", 307, "/new-page"),
    ("trailing_slash_ignore_source_slash", "/slash", 301, "/slash-target"),
    ("trailing_slash_ignore_both_slash", "/slash/", 301, "/slash-target"),
    ("source_percent_encoded_matches_encoded_request", "/caf%C3%A9", 301, "/coffee"),
    ("source_percent_encoded_matches_raw_request", "/caf\u00e9", 301, "/coffee"),
    ("source_literal_matches_encoded_request", "/th%C3%A9", 301, "/tea"),
    ("target_non_ascii_escaped", "/naive", 301, "/na%C3%AFve"),
    ("request_percent_encoded_path_matches", "/old%2Dpage", 307, "/new-page"),
    ("request_dot_segments_normalised", "/x/../old-page", 307, "/new-page"),
    ("rules_file_tab_separated", "/tabbed", 301, "/tabbed-target"),
    ("rules_file_trailing_comment", "/tc", 301, "/tc-target"),
    ("duplicate_first_wins", "/dup", 301, "/dup-first"),
    ("duplicate_across_files_first_file_wins", "/old-page", 307, "/new-page"),
    ("map_directive_repeatable", "/second-map", 301, "/second-target"),
    ("chain_warn_still_answers_first_hop", "/chain-a", 301, "/chain-b"),
]

for _name, _path, _status, _loc in MATCH_CASES:
    def _match(path=_path, status=_status, loc=_loc):
        r = request(main_port(), path)
        expect_eq(r.status, status, "status")
        if loc is not None:
            want = loc if "://" in loc else main_base() + loc
            expect_eq(r.location, want, "Location")
    check(_name)(_match)


# opts server: MatchCase Off, TrailingSlash Strict, Chains Collapse
OPTS_CASES = [
    ("match_case_off_upper", "/CASETEST", 301, "/case-target"),
    ("match_case_off_lower", "/casetest", 301, "/case-target"),
    ("match_case_off_as_written", "/CaseTest", 301, "/case-target"),
    ("trailing_slash_strict_exact", "/strict", 301, "/strict-target"),
    ("trailing_slash_strict_request_slash_misses", "/strict/", 404, None),
    ("trailing_slash_strict_source_slash", "/strict2/", 301, "/strict2-target"),
    ("trailing_slash_strict_source_slash_misses", "/strict2", 404, None),
    # SPEC "Collapsed status": 301, 302, 308 hops are neither all
    # permanent nor all method-preserving: 302
    ("chains_collapse_first_hop", "/c1", 302, "/c-final"),
    ("chains_collapse_middle_hop", "/c2", 302, "/c-final"),
    ("chains_collapse_last_hop", "/c3", 308, "/c-final"),
]

for _name, _path, _status, _loc in OPTS_CASES:
    def _opts(path=_path, status=_status, loc=_loc):
        port = S.server("opts").port
        r = request(port, path)
        expect_eq(r.status, status, "status")
        if loc is not None:
            expect_eq(r.location, "http://%s:%d%s" % (LOOPBACK, port, loc), "Location")
    check(_name)(_opts)


# ---------------------------------------------------------------------------
# Checks: methods and bodies
# ---------------------------------------------------------------------------

for _method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
    def _method_check(method=_method):
        body = b"payload=1" if method in ("POST", "PUT", "PATCH") else b""
        r = request(main_port(), "/method-test", method=method, body=body)
        expect_redirect(r, 307, main_base() + "/method-target")
        if method == "HEAD":
            expect_eq(r.body, b"", "HEAD body")
    check("method_%s_redirected" % _method.lower())(_method_check)


BINARY_BODY = bytes(range(256)) * 6 + b"\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\n\x00\xff"


def curl_follow(path, method, body, server="main"):
    """curl -L with a body; returns (echo's JSON, curl's redirect count)."""
    root = S.server(server).root
    body_file = os.path.join(root, "body.bin")
    write_file(body_file, body)
    out_file = os.path.join(root, "curl.out")
    if os.path.exists(out_file):
        os.unlink(out_file)
    url = "%s%s" % (main_base(S.server(server).port), path)
    cmd = ["curl", "-q", "-sS", "--noproxy", "*", "--max-time", "10", "-L",
           "--data-binary", "@" + body_file, "-o", out_file,
           "-w", "%{http_code} %{num_redirects} %{url_effective}"]
    if method != "POST":
        cmd += ["-X", method]
    cmd.append(url)
    rc, out = run(cmd, timeout=20, env=clean_env())
    note("%s -> rc %d: %s" % (" ".join(cmd), rc, out.strip()))
    expect_eq(rc, 0, "curl exit status (%s)" % out.strip())
    fields = out.strip().split()
    expect(fields and fields[0] == "200", "final status not 200: %s" % out.strip())
    try:
        echo = json.loads(read_bytes(out_file))
    except ValueError:
        raise Failure("echo server answer not JSON: %s" % short(read_bytes(out_file)))
    note("echo saw: %s %s, %d body bytes" % (echo["method"], echo["path"],
                                             len(echo["body_hex"]) // 2))
    return echo, int(fields[1])


# (check name, path, curl method, body, method the target sees, body it sees)
FOLLOW_CASES = [
    ("follow_307_post_keeps_method_and_body", "/post-307", "POST", b"a=1&b=2", "POST", True),
    ("follow_307_post_binary_body", "/post-307", "POST", BINARY_BODY, "POST", True),
    ("follow_308_post_keeps_method_and_body", "/post-308", "POST", BINARY_BODY, "POST", True),
    ("follow_307_put_keeps_method_and_body", "/put-307", "PUT", BINARY_BODY, "PUT", True),
    ("follow_308_put_keeps_method_and_body", "/put-308", "PUT", b"put body\n", "PUT", True),
    ("follow_303_post_becomes_get", "/post-303", "POST", b"a=1", "GET", False),
    ("follow_301_post_becomes_get_with_curl", "/post-301", "POST", b"a=1", "GET", False),
    ("follow_302_post_becomes_get_with_curl", "/post-302", "POST", b"a=1", "GET", False),
]

for _name, _path, _method, _body, _want_method, _keeps_body in FOLLOW_CASES:
    def _follow(path=_path, method=_method, body=_body, want_method=_want_method,
                keeps_body=_keeps_body):
        echo, hops = curl_follow(path, method, body)
        expect_eq(hops, 1, "redirects followed")
        expect_eq(echo["path"], "/echo" + path, "path the target saw")
        expect_eq(echo["method"], want_method, "method the target saw")
        got = bytes.fromhex(echo["body_hex"])
        expect_eq(got, body if keeps_body else b"", "body the target saw")
    check(_name)(_follow)


def unsent_body_request(expect_100):
    headers = ["Content-Type: application/octet-stream",
               "Content-Length: 10000000"]
    if expect_100:
        headers.append("Expect: 100-continue")
    port = main_port()
    data = build_request("POST", "/big-upload", "%s:%d" % (LOOPBACK, port),
                         headers, close=False)
    return port, data


@check("expect_100_continue_gets_redirect_not_continue")
def _():
    port, data = unsent_body_request(True)
    r = exchange(port, data, head_only=True)
    note("first response after %.2fs: %s" % (r.elapsed, short(r.head)))
    expect(r.status_line.startswith(b"HTTP/1.1 307"),
           "first status line %s, want HTTP/1.1 307" % short(r.status_line))
    expect_eq(r.location, main_base() + "/upload-target", "Location")


@check("expect_100_continue_never_sends_continue")
def _():
    port, data = unsent_body_request(True)
    r, sock = exchange(port, data, keep=True)
    try:
        rest = read_until_eof(sock, IO_TIMEOUT)
    finally:
        sock.close()
    allbytes = r.head + r.body + (rest or b"")
    expect(b"100 Continue" not in allbytes, "a 100 Continue was sent: %s" % short(allbytes))


@check("keepalive_connection_usable_after_get_redirect")
def _():
    port = main_port()
    host = "%s:%d" % (LOOPBACK, port)
    r, sock = exchange(port, build_request("GET", "/old-page", host, close=False),
                       keep=True)
    try:
        expect_eq(r.status, 307, "first response status")
        note("first response Connection: %s" % r.get("Connection"))
        # As mod_alias: a redirect of a request without a body keeps the
        # connection (closing is only for a body left unread).
        expect((r.get("Connection") or "").lower() != "close",
               "redirect of a GET closes the connection")
        sock.sendall(build_request("GET", "/index.html", host))
        rest = read_until_eof(sock, IO_TIMEOUT)
    finally:
        sock.close()
    expect(rest is not None, "second response not complete within %.0fs" % IO_TIMEOUT)
    expect(rest.startswith(b"HTTP/1.1 200"), "second response %s" % short(rest[:100]))


@check("post_body_never_parsed_as_next_request")
def _():
    """The body the module did not read must not become a request."""
    port = main_port()
    host = "%s:%d" % (LOOPBACK, port)
    smuggled = build_request("GET", "/index.html", host, close=False)
    data = build_request("POST", "/method-test", host, body=smuggled, close=False)
    sock = socket.create_connection((LOOPBACK, port), timeout=IO_TIMEOUT)
    try:
        sock.sendall(data)
        got = read_until_eof(sock, 2.0, partial=True)
    finally:
        sock.close()
    note("got %s" % short(got, 600))
    expect(got.startswith(b"HTTP/1.1 307"), "first response %s" % short(got[:80]))
    expect_eq(len(re.findall(rb"(?:^|\r\n)HTTP/1\.[01] \d\d\d", got)), 1,
              "responses on the connection")


def read_until_eof(sock, timeout, partial=False):
    """Reads until the peer closes; returns the bytes, or on timeout None
    (with partial: what arrived)."""
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return buf if partial else None
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return buf if partial else None
        except ConnectionResetError:
            return buf
        if not chunk:
            return buf
        buf += chunk


@check("unsent_body_gets_redirect_promptly")
def _():
    port, data = unsent_body_request(False)
    r = exchange(port, data, head_only=True)
    note("response after %.2fs" % r.elapsed)
    expect(r.status_line.startswith(b"HTTP/1.1 307"),
           "status line %s" % short(r.status_line))
    expect_eq(r.location, main_base() + "/upload-target", "Location")


for _label, _expect100 in (("unsent_body", False), ("expect_100_continue", True)):
    def _closes(expect100=_expect100):
        port, data = unsent_body_request(expect100)
        r, sock = exchange(port, data, keep=True)
        try:
            rest = read_until_eof(sock, IO_TIMEOUT)
        finally:
            sock.close()
        expect_eq(r.status, 307, "status")
        expect(rest is not None,
               "connection still open %.0fs after the redirect" % IO_TIMEOUT)
    check(_label + "_connection_closed_after_redirect")(_closes)


# ---------------------------------------------------------------------------
# Checks: hostile request paths
# ---------------------------------------------------------------------------

H = "https://safe.example/h/"

# (name, raw request-target, expected Location or None: any clean answer)
HOSTILE_CASES = [
    ("crlf_set_cookie", b"/hostile/x%0D%0ASet-Cookie:%20a=b", H + "x%0D%0ASet-Cookie:%20a=b"),
    ("lf_header", b"/hostile/x%0AX-Injected:%201", H + "x%0AX-Injected:%201"),
    ("cr_only", b"/hostile/x%0Dy", H + "x%0Dy"),
    ("space", b"/hostile/a%20b%20c", H + "a%20b%20c"),
    ("quotes", b"/hostile/%22q%22'", H + "%22q%22'"),
    ("nul", b"/hostile/a%00b", None),
    ("del", b"/hostile/a%7Fb", H + "a%7Fb"),
    ("byte_ff_encoded", b"/hostile/a%FFb", H + "a%FFb"),
    ("byte_ff_raw", b"/hostile/a\xffb", H + "a%FFb"),
    ("tab", b"/hostile/a%09b", H + "a%09b"),
    ("url_specials", b"/hostile/%3Cs%3E%5C%5E%60%7B%7C%7D", H + "%3Cs%3E%5C%5E%60%7B%7C%7D"),
    ("percent", b"/hostile/100%25", H + "100%25"),
    ("utf8", b"/hostile/caf%C3%A9/\xc3\xa9", H + "caf%C3%A9/%C3%A9"),
    ("question_mark", b"/hostile/a%3Fb?c=d", H + "a%3Fb?c=d"),
    ("hash", b"/hostile/a%23b", H + "a%23b"),
    ("query_specials", b'/hostile/q?x=%0D%0A"<>', H + "q?x=%0D%0A%22%3C%3E"),
    ("long_path", b"/hostile/" + b"a" * 7000, H + "a" * 7000),
    ("long_crlf_path", b"/hostile/" + b"%0D%0A" * 1150, H + "%0D%0A" * 1150),
    ("path_target_crlf", b"/hostile-path/x%0D%0ASet-Cookie:%20a=b",
     "BASE/landing/x%0D%0ASet-Cookie:%20a=b"),
]

for _name, _target, _loc in HOSTILE_CASES:
    def _hostile(target=_target, loc=_loc):
        port = main_port()
        data = build_request("GET", target, "%s:%d" % (LOOPBACK, port))
        r = exchange(port, data)
        note("GET %s -> %r" % (short(target, 120), r))
        expect_clean_location(r)
        if loc is not None:
            expect_eq(r.status, 307, "status")
            expect_eq(r.location, loc.replace("BASE", main_base()), "Location")
    check("hostile_" + _name)(_hostile)


# ---------------------------------------------------------------------------
# Checks: virtual hosts
# ---------------------------------------------------------------------------

# (name, Host name, path, status, Location path or None)
VHOST_CASES = [
    ("vhost_own_rule", "a.test", "/only-a", 301, "/a-target"),
    ("vhost_other_vhost_own_rule", "b.test", "/only-b", 301, "/b-target"),
    ("vhost_rule_not_seen_by_other_vhost", "b.test", "/only-a", 404, None),
    ("vhost_rule_not_seen_by_other_vhost_reverse", "a.test", "/only-b", 404, None),
    ("vhost_inherits_main_rules", "a.test", "/shared", 301, "/from-main"),
    ("vhost_inherits_main_rules_file", "b.test", "/old-page", 307, "/new-page"),
    ("vhost_overrides_main_rule", "a.test", "/override", 301, "/a-version"),
    ("vhost_without_override_uses_main_rule", "b.test", "/override", 301, "/main-version"),
]

for _name, _host, _path, _status, _loc in VHOST_CASES:
    def _vhost(host=_host, path=_path, status=_status, loc=_loc):
        S.server("main")
        vport = S.info["main"]["vport"]
        r = request(vport, path, host="%s:%d" % (host, vport))
        expect_eq(r.status, status, "status")
        if loc is not None:
            expect_eq(r.location, "http://%s:%d%s" % (host, vport, loc), "Location")
    check(_name)(_vhost)


@check("main_server_unaffected_by_vhost_override")
def _():
    r = request(main_port(), "/override")
    expect_redirect(r, 301, main_base() + "/main-version")


@check("main_server_does_not_see_vhost_rule")
def _():
    r = request(main_port(), "/only-a")
    expect_eq(r.status, 404, "status")


# ---------------------------------------------------------------------------
# Checks: a miss is served as if the module were not loaded
# ---------------------------------------------------------------------------

def comparable(resp, port):
    """Status line, headers but Date, body; the server's own port masked."""
    mask = lambda b: b.replace(b":%d" % port, b":PORT")
    headers = [(n, mask(v)) for n, v in resp.headers if n.lower() != "date"]
    return resp.status_line, headers, mask(resp.body)


def compare_with_nomod(vhost, method, path, host=None, body=b""):
    ours_srv = S.server("main")
    theirs_srv = S.server("nomod")
    if vhost:
        ports = (S.info["main"]["vport"], S.info["nomod"]["vport"])
    else:
        ports = (ours_srv.port, theirs_srv.port)
    results = []
    for port in ports:
        h = "%s:%d" % (host or LOOPBACK, port)
        results.append((request(port, path, method=method, host=h, body=body), port))
    (ours, p1), (theirs, p2) = results
    a, b = comparable(ours, p1), comparable(theirs, p2)
    expect_eq(a[0], b[0], "status line vs server without the module")
    expect_eq(a[1], b[1], "headers vs server without the module")
    expect_eq(a[2], b[2], "body vs server without the module")
    return ours


# (name, vhost?, method, path, Host name)
MISS_CASES = [
    ("file_200", False, "GET", "/index.html", None),
    ("directory_index_200", False, "GET", "/", None),
    ("text_file_with_query", False, "GET", "/file.txt?x=1", None),
    ("head_file", False, "HEAD", "/file.txt", None),
    ("missing_404", False, "GET", "/missing", None),
    ("directory_slash_redirect", False, "GET", "/subdir", None),
    ("post_to_missing", False, "POST", "/missing", None),
    ("prefix_boundary_404", False, "GET", "/docsx/a", None),
    ("query_rule_other_query_404", False, "GET", "/index.php?id=43", None),
    ("case_differs_404", False, "GET", "/OLD-PAGE", None),
    ("target_page_itself", False, "GET", "/new-page", None),
    ("vhost_file", True, "GET", "/index.html", "a.test"),
    ("vhost_other_rule_404", True, "GET", "/only-a", "b.test"),
]

for _name, _vhost, _method, _path, _host in MISS_CASES:
    def _miss(vhost=_vhost, method=_method, path=_path, host=_host):
        body = b"x=1" if method == "POST" else b""
        compare_with_nomod(vhost, method, path, host, body)
    check("miss_unchanged_" + _name)(_miss)


@check("engine_off_own_rule_served_as_without_module")
def _():
    r = compare_with_nomod(True, "GET", "/off-own", "off.test")
    expect_eq(r.status, 404, "status")


@check("engine_off_inherited_rule_served_as_without_module")
def _():
    r = compare_with_nomod(True, "GET", "/old-page", "off.test")
    expect_eq(r.status, 404, "status")


# ---------------------------------------------------------------------------
# Checks: logging
# ---------------------------------------------------------------------------

def logged_rule(srv, mark):
    """The [REDIRECT307_RULE] field of the access-log line holding mark."""
    def find():
        for line in read_bytes(srv.accesslog).decode("utf-8", "replace").splitlines():
            if mark in line:
                return line
        return None
    line = poll(find, 10)
    expect(line, "no access-log line for %s within 10s" % mark)
    note("access log: " + line)
    m = re.search(r"\[([^\]]*)\]\s*$", line)
    expect(m, "no [rule] field in %s" % short(line))
    return m.group(1)


def unique(prefix):
    return "%s%d%d" % (prefix, os.getpid(), int(time.monotonic() * 1e6))


@check("log_rule_env_rules_file")
def _():
    srv = S.server("main")
    mark = unique("m")
    r = request(srv.port, "/logged?mark=" + mark)
    expect_eq(r.status, 307, "status")
    info = S.info["main"]
    line = info["rules"].line_of("/logged")
    want = {"%s:%d" % (info["map"], line), "rules.map:%d" % line}
    got = logged_rule(srv, mark)
    expect(got in want, "REDIRECT307_RULE %s, want %s" % (short(got), " or ".join(sorted(want))))


@check("log_rule_env_inline_directive")
def _():
    srv = S.server("main")
    mark = unique("i")
    r = request(srv.port, "/inline-301?mark=" + mark)
    expect_eq(r.status, 301, "status")
    info = S.info["main"]
    want = "%s:%d" % (info["conf"], info["marks"]["inline301"])
    expect_eq(logged_rule(srv, mark), want, "REDIRECT307_RULE")


@check("log_rule_env_unset_on_miss")
def _():
    srv = S.server("main")
    mark = unique("n")
    request(srv.port, "/index.html?mark=" + mark)
    expect_eq(logged_rule(srv, mark), "-", "REDIRECT307_RULE")


@check("debug_log_records_decision")
def _():
    srv = S.server("main")
    tail = unique("dbg")
    request(srv.port, "/docs/" + tail)

    def found():
        return [l for l in srv.log_text().splitlines()
                if tail in l and "redirect307" in l and "debug" in l]
    lines = poll(found, 5)
    expect(lines, "no redirect307 debug line naming %s in error.log" % tail)
    note(lines[0])


# ---------------------------------------------------------------------------
# Checks: warnings at startup
# ---------------------------------------------------------------------------

def startup_messages(name):
    srv = S.server(name)
    rc, out = srv.config_test()
    note("apache2 -t: exit %d" % rc)
    return srv.start_output + "\n" + out + "\n" + srv.log_text()


def map_ref(basename, line):
    return re.compile(r"%s:%d(?!\d)" % (re.escape(basename), line))


@check("warn_duplicate_names_both_lines")
def _():
    text = startup_messages("main")
    rules = S.info["main"]["rules"]
    a, b = map_ref("rules.map", rules.line_of("/dup")), map_ref("rules.map", rules.line_of("/dup", 2))
    lines = [l for l in text.splitlines() if a.search(l) and b.search(l)]
    expect(lines, "no warning naming rules.map:%d and :%d"
           % (rules.line_of("/dup"), rules.line_of("/dup", 2)))
    note(lines[0])


@check("warn_chain_names_every_hop")
def _():
    text = startup_messages("main")
    rules = S.info["main"]["rules"]
    refs = [map_ref("rules.map", rules.line_of(s)) for s in ("/chain-a", "/chain-b", "/chain-c")]
    lines = [l for l in text.splitlines() if all(r.search(l) for r in refs)]
    expect(lines, "no chain warning naming rules.map:%s"
           % ",".join(str(rules.line_of(s)) for s in ("/chain-a", "/chain-b", "/chain-c")))
    note(lines[0])


@check("warn_duplicate_across_files_names_both")
def _():
    text = startup_messages("main")
    info = S.info["main"]
    a = map_ref("rules.map", info["rules"].line_of("/old-page"))
    b = map_ref("rules2.map", info["rules2"].line_of("/old-page"))
    lines = [l for l in text.splitlines() if a.search(l) and b.search(l)]
    expect(lines, "no warning naming rules.map:%d and rules2.map:%d"
           % (info["rules"].line_of("/old-page"), info["rules2"].line_of("/old-page")))
    note(lines[0])


@check("warn_chain_through_absolute_target_on_own_host")
def _():
    text = startup_messages("main")
    rules2 = S.info["main"]["rules2"]
    refs = [map_ref("rules2.map", rules2.line_of(s)) for s in ("/chain-abs", "/chain-abs-2")]
    lines = [l for l in text.splitlines()
             if all(r.search(l) for r in refs) and "chain" in l.lower()]
    expect(lines, "no chain warning naming rules2.map:%d and :%d"
           % (rules2.line_of("/chain-abs"), rules2.line_of("/chain-abs-2")))
    note(lines[0])


@check("warn_server_with_duplicates_and_chains_runs")
def _():
    srv = S.server("main")
    expect(srv.alive(), "server not running")
    rc, out = srv.config_test()
    expect_eq(rc, 0, "apache2 -t exit status (%s)" % out.strip()[-300:])


@check("vhost_override_not_warned_as_duplicate")
def _():
    """A vhost's own rule for a main-server source is an override, as in
    mod_alias, not a duplicate."""
    text = startup_messages("main")
    info = S.info["main"]
    vhost_ref = re.compile(r"httpd\.conf:%d(?!\d)" % info["marks"]["a_override"])
    lines = [l for l in text.splitlines()
             if vhost_ref.search(l) and "duplicate" in l.lower()]
    expect(not lines, "duplicate warning about the vhost override: %s" % short(lines))


@check("chains_collapse_no_chain_warning")
def _():
    text = startup_messages("opts")
    lines = [l for l in text.splitlines() if "chain" in l.lower() and "opts.map" in l]
    expect(not lines, "chain warning under Collapse: %s" % short(lines))


# ---------------------------------------------------------------------------
# Checks: pattern rules
# ---------------------------------------------------------------------------

def pattern_get(path):
    srv = S.server("pattern")
    return srv.port, request(srv.port, path)


# (check name, request path, status, Location after the server's base,
# or an absolute Location)
PATTERN_CASES = [
    ("pattern_hit", "/u/bob", 307, "/users/bob"),
    ("pattern_literal_exact_beats_pattern", "/u/admin", 307, "/root"),
    ("pattern_literal_prefix_beats_pattern", "/blog/2019/x", 307, "/b/2019/x"),
    ("pattern_more_literal_segments_win", "/p/1/c", 307, "/two/1"),
    ("pattern_fewer_literals_when_only_match", "/p/1/d", 307, "/one/1/d"),
    ("pattern_earlier_wins_at_equal_literals", "/e/x/x", 307, "/first/x"),
    ("pattern_prefix_carries_rest_and_query", "/shop/shoes/red/big?c=1", 308,
     "/products/shoes/red/big?c=1"),
    ("pattern_mixed_segment_into_query", "/a/2019/my-post.html", 301,
     "/articles/my-post?year=2019"),
    ("pattern_encoded_bytes_stay_in_path", "/x/%E2%82%AC%3F%23%20@evil.example:1",
     301, "https://new.example/%E2%82%AC%3F%23%20@evil.example:1"),
    ("pattern_encoded_slash_nodecode", "/x/a%2Fb", 301,
     "https://new.example/a%252Fb"),
    ("pattern_capture_in_query_escapes_separators", "/q/a%26b%3Dc%2Bd", 307,
     "/search?q=a%26b%3Dc%2Bd"),
    ("pattern_crlf_capture_cannot_inject", "/x/a%0D%0ASet-Cookie:%20x=1", 301,
     "https://new.example/a%0D%0ASet-Cookie:%20x=1"),
]

for _name, _path, _status, _loc in PATTERN_CASES:
    def _pattern(path=_path, status=_status, loc=_loc):
        port, r = pattern_get(path)
        want = loc if loc.startswith("https://") else main_base(port) + loc
        expect_redirect(r, status, want.encode("ascii")
                        if isinstance(r.location, bytes) else want)
        expect_clean_location(r)
    check(_name)(_pattern)


@check("pattern_miss_left_to_httpd")
def _():
    _, r = pattern_get("/u/")
    expect_eq(r.status, 404, "status of /u/ (no segment to capture)")
    _, r = pattern_get("/u/bob/extra")
    expect_eq(r.status, 404, "status of /u/bob/extra (one segment too many)")


@check("pattern_post_307_keeps_method_and_body")
def _():
    echo, hops = curl_follow("/post/42", "POST", BINARY_BODY, server="pattern")
    expect_eq(hops, 1, "redirects followed")
    expect_eq(echo["path"], "/echo/post/42", "path the target saw")
    expect_eq(echo["method"], "POST", "method the target saw")
    expect_eq(bytes.fromhex(echo["body_hex"]), BINARY_BODY, "body the target saw")


@check("pattern_rules_counted_on_status_page")
def _():
    doc = status_json(S.server("pattern").port)
    tables = [t for srv in doc["servers"] for t in srv["tables"]
              if t["file"].endswith("pattern.map")]
    expect(tables, "pattern.map not on the status page")
    expect_eq((tables[0]["rules"], tables[0]["pattern"], tables[0]["exact"],
               tables[0]["prefix"]), (13, 11, 1, 1),
              "rules, pattern, exact, prefix of pattern.map")


@check("pattern_shadowed_warning_in_config_test")
def _():
    rc, out = S.server("pattern").config_test()
    expect_eq(rc, 0, "apache2 -t")
    expect(re.search(r"pattern\.map:4: pattern rule never answers: literal "
                     r"prefix rule \S*pattern\.map:3", out),
           "no shadowed warning for pattern.map:4 in apache2 -t:\n%s"
           % out[-1500:])


# ---------------------------------------------------------------------------
# Checks: configuration errors (apache2 -t)
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# Checks: ignored parameters, query modes, host rules (SPEC second wave)
# ---------------------------------------------------------------------------

MATCH_RULES = """\
/product?id=61      /p/61              301
/shop?id=7          /s?sku=7           301
/drop?id=1          /d                 301  qsdrop
/plain              /new               301
/own                /o?x=1             301
/exact-only         /eo                302  qsnone
/exact-only/*       /eo-any/*          302
/never?utm_source=x /never-target      301
"""


def match_get(server, path, host=None, method="GET"):
    port = S.server(server).port
    return port, request(port, path, method=method, host=host)


@check("ignore_query_rule_with_tracking_params_in_every_position")
def _():
    for query, passed in [
            ("id=61", ""),
            ("id=61&gclid=X", "?gclid=X"),
            ("gclid=X&id=61", "?gclid=X"),
            ("utm_source=nl&id=61&utm_medium=email",
             "?utm_source=nl&utm_medium=email"),
            ("fbclid=1&id=61&_ga=2&msclkid=3", "?fbclid=1&_ga=2&msclkid=3"),
            ("%67clid=X&id=61", "?%67clid=X"),
            ("utm%5Fsource=a&id=61", "?utm%5Fsource=a")]:
        port, r = match_get("match", "/product?" + query)
        expect_redirect(r, 301, "%s/p/61%s" % (main_base(port), passed))


@check("ignore_other_params_still_count")
def _():
    for query in ("id=61&x=1", "id=61&GCLID=X", "id=62&gclid=X"):
        port, r = match_get("match", "/product?" + query)
        expect_eq(r.status, 404, "status for ?%s" % query)


@check("ignore_pass_through_after_targets_own_query_in_request_order")
def _():
    port, r = match_get("match", "/shop?gclid=y&id=7&utm_campaign=x")
    expect_redirect(r, 301, "%s/s?sku=7&gclid=y&utm_campaign=x" % main_base(port))
    port, r = match_get("match", "/own?q=2&utm_source=z&r=3")
    expect_redirect(r, 301, "%s/o?x=1&utm_source=z" % main_base(port))
    port, r = match_get("match", "/plain?q=1&utm_source=x")
    expect_redirect(r, 301, "%s/new?q=1&utm_source=x" % main_base(port))


@check("ignore_qsdrop_passes_nothing")
def _():
    port, r = match_get("match", "/drop?id=1&gclid=y&utm_source=z")
    expect_redirect(r, 301, "%s/d" % main_base(port))


@check("ignore_none_compares_every_parameter")
def _():
    port, r = match_get("match_none", "/product?id=61")
    expect_redirect(r, 301, "%s/p/61" % main_base(port))
    port, r = match_get("match_none", "/product?id=61&gclid=X")
    expect_eq(r.status, 404, "status with gclid and IgnoreParams none")
    port, r = match_get("match_none", "/own?utm_source=z")
    expect_redirect(r, 301, "%s/o?x=1" % main_base(port))


@check("ignore_post_keeps_method_and_passes_params")
def _():
    port, r = match_get("match", "/product?id=61&gclid=X", method="POST")
    expect_redirect(r, 301, "%s/p/61?gclid=X" % main_base(port))


@check("qsnone_answers_only_without_other_params")
def _():
    port, r = match_get("match", "/exact-only")
    expect_redirect(r, 302, "%s/eo" % main_base(port))
    port, r = match_get("match", "/exact-only?gclid=1")
    expect_redirect(r, 302, "%s/eo?gclid=1" % main_base(port))
    port, r = match_get("match", "/exact-only?page=2")
    expect_redirect(r, 302, "%s/eo-any/?page=2" % main_base(port))


@check("unmatchable_query_rule_is_a_warning_in_the_error_log")
def _():
    srv = S.server("match")
    log = startup_messages("match")
    expect("match.map:8: query parameter 'utm_source=x' is ignored" in log,
           "no unmatchable warning for match.map:8 in the error log")
    port, r = match_get("match", "/never?utm_source=x")
    expect_eq(r.status, 404, "status of the unmatchable rule's source")


HOST_RULES = """\
//old.example.com/a          /from-old
//www.old.example.com/a      /from-www
/a                           /hostless
https://old.example.com/s    /secure-only
//*.shop.example/sale        https://shop.example/sale       308
//sub.shop.example/sale      https://shop.example/sub-sale   308
//xn--caf-dma.example/menu   /coffee-menu                    301
//old.example.com/docs/*     /new-docs/*
/docs/intro                  /hostless-intro
//old.example.com/p?id=3     /product-3                      301
"""


@check("hosts_selected_by_host_header_with_ports_case_and_dots")
def _():
    srv = S.server("hosts")
    base = "http://%s:%d" % (LOOPBACK, srv.port)
    for host in ("old.example.com", "OLD.Example.COM",
                 "old.example.com:%d" % srv.port, "old.example.com.",
                 "Old.Example.Com.:%d" % srv.port):
        r = request(srv.port, "/a", host=host)
        expect_eq(r.status, 307, "status for Host: %s" % host)
        expect(r.location.endswith("/from-old"),
               "Host: %s -> %s" % (host, r.location))
    r = request(srv.port, "/a", host="www.old.example.com")
    expect(r.location.endswith("/from-www"), r.location)
    r = request(srv.port, "/a", host="brand.test")
    expect(r.location.endswith("/hostless"), r.location)
    r = request(srv.port, "/a", host="%s:%d" % (LOOPBACK, srv.port))
    expect_redirect(r, 307, base + "/hostless")


@check("hosts_path_target_answered_on_the_requests_host")
def _():
    srv = S.server("hosts")
    r = request(srv.port, "/a", host="old.example.com:%d" % srv.port)
    expect_redirect(r, 307, "http://old.example.com:%d/from-old" % srv.port)


@check("hosts_wildcard_exact_and_hostless")
def _():
    srv = S.server("hosts")
    r = request(srv.port, "/sale", host="x.shop.example")
    expect_redirect(r, 308, "https://shop.example/sale")
    r = request(srv.port, "/sale", host="a.b.shop.example")
    expect_redirect(r, 308, "https://shop.example/sale")
    r = request(srv.port, "/sale", host="sub.shop.example")
    expect_redirect(r, 308, "https://shop.example/sub-sale")
    r = request(srv.port, "/sale", host="shop.example")
    expect_eq(r.status, 404, "the wildcard's own name does not match")


@check("hosts_idna_punycode_host")
def _():
    srv = S.server("hosts")
    r = request(srv.port, "/menu", host="XN--CAF-DMA.example")
    # without a port in Host, httpd's Location names none either
    expect_redirect(r, 301, "http://xn--caf-dma.example/coffee-menu")


@check("hosts_scheme_rule_does_not_answer_http")
def _():
    srv = S.server("hosts")
    r = request(srv.port, "/s", host="old.example.com")
    expect_eq(r.status, 404, "https:// rule on an http request")


@check("hosts_host_prefix_before_hostless_exact")
def _():
    srv = S.server("hosts")
    r = request(srv.port, "/docs/intro", host="old.example.com")
    expect(r.status == 307 and r.location.endswith("/new-docs/intro"),
           "%d %s" % (r.status, r.location))
    r = request(srv.port, "/docs/intro", host="brand.test")
    expect(r.status == 307 and r.location.endswith("/hostless-intro"),
           "%d %s" % (r.status, r.location))


@check("hosts_query_rule_with_own_ignore_list")
def _():
    srv = S.server("hosts")
    r = request(srv.port, "/p?ref=nl&id=3&gclid=9", host="old.example.com")
    expect(r.status == 301 and r.location.endswith("/product-3?ref=nl&gclid=9"),
           "%d %s" % (r.status, r.location))


@check("hosts_absolute_request_line_selects_the_host")
def _():
    srv = S.server("hosts")
    data = (b"GET http://old.example.com/a HTTP/1.1\r\nHost: brand.test\r\n"
            b"Connection: close\r\n\r\n")
    r = exchange(srv.port, data)
    expect(r.status == 307 and r.location.endswith("/from-old"),
           "%d %s" % (r.status, r.location))


@check("hosts_status_page_shows_the_host")
def _():
    srv = S.server("hosts")
    r = request(srv.port, "/r307-status?json", host="brand.test")
    expect_eq(r.status, 200, "status page")
    doc = json.loads(r.body.decode("utf-8"))
    text = json.dumps(doc)
    for rule in ("//old.example.com/a -> /from-old",
                 "https://old.example.com/s -> /secure-only",
                 "//*.shop.example/sale -> https://shop.example/sale 308"):
        expect(rule in text, "status page lacks %r" % rule)


# ---------------------------------------------------------------------------
# Checks: monitoring and a new admin's findings (issue 16)
# ---------------------------------------------------------------------------

MONITOR_RULES = """\
/Legal          /legal          301  nocase
/old/           /new            308
/dup            /first          301
/dup            /second         302
/hop1           /hop2           301
/hop2           /hop3           301
/gone           -
"""


def monitor_get(path, host="monitor.test"):
    srv = S.server("monitor")
    return request(srv.port, path, host=host)


def auto_values():
    r = monitor_get("/server-status?auto")
    expect_eq(r.status, 200, "status of /server-status?auto")
    vals = {}
    for line in r.body.decode("utf-8", "replace").splitlines():
        if line.startswith("Redirect307") and ": " in line:
            k, v = line.split(": ", 1)
            vals[k] = v
    return vals


@check("mod_status_auto_has_redirect307_lines")
def _():
    before = auto_values()
    for key in ("Redirect307Rules", "Redirect307TableBytes",
                "Redirect307Redirects301", "Redirect307Redirects308",
                "Redirect307Redirects410", "Redirect307Misses",
                "Redirect307TablesReused", "Redirect307TablesParsed",
                "Redirect307LastReloadOK"):
        expect(key in before, "no %s: line in ?auto: %r" % (key, before))
    expect_eq(before["Redirect307Rules"], "7", "rules (the duplicate "
              "ignored, the vhost's inline rule counted)")
    monitor_get("/Legal")
    monitor_get("/gone")
    monitor_get("/not-a-rule")
    after = auto_values()
    for key, more in (("Redirect307Redirects301", 1),
                      ("Redirect307Redirects410", 1),
                      ("Redirect307Misses", 1)):
        expect(int(after[key]) >= int(before[key]) + more,
               "%s: %s then %s" % (key, before[key], after[key]))


@check("mod_status_html_has_a_redirect307_section")
def _():
    r = monitor_get("/server-status")
    expect("<h2>mod_redirect307</h2>" in r.body.decode("utf-8", "replace"),
           "no mod_redirect307 section on /server-status")


PROM_LINE = re.compile(r'^[a-z_][a-z0-9_]*(\{([a-z_]+="([^"\\\n]|\\.)*",?)*\})? '
                       r'-?[0-9.]+(e[+-]?[0-9]+)?$')


@check("metrics_prometheus_text_format")
def _():
    r = monitor_get("/r307-status?metrics")
    expect_eq(r.status, 200, "status")
    ctype = r.get("Content-Type") or ""
    expect(ctype.startswith("text/plain; version=0.0.4"),
           "Content-Type %r" % ctype)
    text = r.body.decode("utf-8")
    typed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            expect(kind in ("counter", "gauge"), line)
            expect(kind != "counter" or name.endswith("_total"), line)
            typed.add(name)
        elif line.startswith("# HELP "):
            continue
        else:
            expect(PROM_LINE.match(line), "not exposition format: %r" % line)
            expect(line.split("{")[0].split(" ")[0] in typed,
                   "sample before its TYPE: %r" % line)
    for name in ("redirect307_redirects_total", "redirect307_misses_total",
                 "redirect307_rules", "redirect307_table_bytes",
                 "redirect307_last_reload_timestamp_seconds",
                 "redirect307_last_reload_success"):
        expect(name in typed, "no %s" % name)


@check("metrics_count_redirects_by_server_and_status")
def _():
    def value(text, sample):
        for line in text.splitlines():
            if line.startswith(sample + " "):
                return int(line.split()[-1])
        raise Failure("no sample %s" % sample)
    own = 'redirect307_redirects_total{server="own.test",status="301"}'
    main = 'redirect307_redirects_total{server="monitor.test",status="308"}'
    t0 = monitor_get("/r307-status?metrics").body.decode("utf-8")
    monitor_get("/own", host="own.test")
    monitor_get("/old", host="monitor.test")
    monitor_get("/old", host="shared.test")     # counted with the main's
    t1 = monitor_get("/r307-status?metrics").body.decode("utf-8")
    expect_eq(value(t1, own) - value(t0, own), 1, "own.test 301s")
    expect_eq(value(t1, main) - value(t0, main), 2, "main server 308s")
    expect('server="shared.test"' not in t1,
           "a vhost sharing the main server's rules is counted apart")


@check("status_page_engine_off_vhost_answers_nothing")
def _():
    r = monitor_get("/r307-status")
    html = r.body.decode("utf-8", "replace")
    m = re.search(r"<h2>off\.test[^<]*</h2>", html)
    expect(m, "no heading for off.test")
    expect("answers no redirects" in m.group(0)
           and "main server" not in m.group(0), m.group(0))
    r = monitor_get("/own", host="off.test")
    expect_eq(r.status, 404, "Engine Off vhost answers")


@check("status_page_shows_sources_as_written")
def _():
    r = monitor_get("/r307-status?json")
    text = r.body.decode("utf-8")
    expect("/Legal -> /legal 301 nocase" in text, "no '/Legal -> /legal'")
    expect("/old/ -> /new 308" in text, "no '/old/ -> /new'")


@check("warnings_logged_once_with_vhosts_inheriting_the_map")
def _():
    srv = S.server("monitor")
    rc, out = srv.config_test()
    expect_eq(rc, 0, "apache2 -t")
    dups = [l for l in out.splitlines() if "monitor.map:4" in l
            and "duplicate" in l]
    chains = [l for l in out.splitlines() if "redirect chain" in l]
    expect_eq(len(dups), 1, "duplicate warnings in apache2 -t:\n" + out)
    expect_eq(len(chains), 1, "chain warnings in apache2 -t:\n" + out)


@check("malformed_percent_in_query_escaped_in_location")
def _():
    for query, tail in (("x=%", "?x=%25"), ("x=%zz", "?x=%25zz"),
                        ("x=%41%", "?x=%41%25")):
        r = monitor_get("/old?" + query)
        expect_eq(r.status, 308, "status")
        expect(r.location.endswith("/new" + tail),
               "?%s -> %s" % (query, r.location))
        expect_clean_location(r)


# ---------------------------------------------------------------------------
# Checks: rule windows and caching permanent redirects (issue 15)
# ---------------------------------------------------------------------------

LIFECYCLE_RULES = """\
/closing        /sale              307  until={closes}
/opening        /launch            307  from={opens}
/expired        /old-sale          307  from=2020-01-01,until=2020-02-01
/window/*       /open/*            302  from=2020-01-01,until=2099-01-01
/window/closed  /closed            302  until=2020-01-01
/perm301        /p                 301
/perm308        /p                 308
/temp302        /p                 302
/temp307        /p                 307
/gone           -                  410
"""


def life_get(path, host=None):
    srv = S.server("lifecycle")
    return srv, request(srv.port, path, host=host)


@check("window_closes_while_the_server_runs")
def _():
    srv, r = life_get("/closing")
    info = S.info["lifecycle"]
    expect(time.time() < info["closes"], "setup took too long")
    expect_redirect(r, 307, "%s/sale" % main_base(srv.port))
    # no restart: the rule stops answering once until= has passed
    def closed():
        return life_get("/closing")[1].status == 404
    expect(poll(closed, info["closes"] - time.time() + 10, interval=0.2),
           "still answering 10 s after until=")
    expect(time.time() >= info["closes"] - 1, "closed before until=")


@check("window_opens_while_the_server_runs")
def _():
    info = S.info["lifecycle"]
    srv, r = life_get("/opening")
    if time.time() < info["opens"] - 0.5:
        expect_eq(r.status, 404, "before from=")
    def opened():
        return life_get("/opening")[1].status == 307
    expect(poll(opened, info["opens"] - time.time() + 10, interval=0.2),
           "not answering 10 s after from=")
    expect(time.time() >= info["opens"] - 1, "opened before from=")


@check("window_outside_falls_through_to_other_rules")
def _():
    srv, r = life_get("/expired")
    expect_eq(r.status, 404, "expired rule")
    srv, r = life_get("/window/closed")
    expect_redirect(r, 302, "%s/open/closed" % main_base(srv.port))
    srv, r = life_get("/window/a")
    expect_redirect(r, 302, "%s/open/a" % main_base(srv.port))


@check("max_age_only_on_301_and_308")
def _():
    for path, status, cache in (("/perm301", 301, "max-age=3600"),
                                ("/perm308", 308, "max-age=3600"),
                                ("/temp302", 302, None),
                                ("/temp307", 307, None),
                                ("/gone", 410, None)):
        srv, r = life_get(path)
        expect_eq(r.status, status, "status of %s" % path)
        expect_eq(r.get("Cache-Control"), cache, "Cache-Control of %s" % path)


@check("max_age_inherited_by_vhost")
def _():
    srv, r = life_get("/own-301", host="nocache.test")
    expect_eq(r.status, 301, "status")
    expect_eq(r.get("Cache-Control"), "max-age=3600", "Cache-Control")


@check("expired_rule_warned_about_at_start")
def _():
    text = startup_messages("lifecycle")
    expect(re.search(r"life\.map:3: expired at 2020-02-01T00:00:00Z", text),
           "no expired warning for life.map:3")


# ---------------------------------------------------------------------------
# Checks: compiled tables (Redirect307CacheDir)
# ---------------------------------------------------------------------------

def image_server(name, cache_dir, target, more_rules="", more_conf=()):
    """A server of its own whose map answers /img-me with /TARGET (then
    more_rules), its compiled tables in cache_dir.  Returns (server, map
    path); started."""
    root = S.new_root(name)
    port = free_port()
    docroot = os.path.join(root, "www")
    os.makedirs(docroot, exist_ok=True)
    path = os.path.join(root, "img.map")
    write_file(path, "# compiled-table checks\n/img-me  /%s  301\n"
               "/img-prefix/*  /moved/*  308\n%s" % (target, more_rules))
    c = base_conf(root, [port], S.module, docroot, log_format=False)
    for line in more_conf:
        c.add(line, tag="module")
    c.add("Redirect307CacheDir %s" % cache_dir, tag="module")
    c.add("Redirect307Map %s" % path, tag="module")
    srv = hh.Httpd(S.apache, name, root, [port], conf_text=c.render())
    srv.start()
    return srv, path


def img_answer(srv):
    r = request(srv.port, "/img-me")
    if r.status == 301 and r.location:
        return r.location.rsplit("/", 1)[-1]
    return "status %d" % r.status


def expect_img_answers(srv, target):
    expect(poll(lambda: img_answer(srv) == target, 10, 0.1),
           "answers %s, want %s" % (img_answer(srv), target))
    r = request(srv.port, "/img-prefix/a/b")
    expect_redirect(r, 308, main_base(srv.port) + "/moved/a/b")
    expect_eq(request(srv.port, "/img-missing").status, 404, "a miss")


def images_in(cache_dir):
    return sorted(f for f in os.listdir(cache_dir) if f.endswith(".r307c"))


def start_again(srv):
    """Stops srv if it runs and starts it: what that start logged (the
    first configuration pass logs to apache2 -k start's output)."""
    srv.stop()
    since = srv.log_size()
    srv.start()
    return srv.start_output + srv.log_text(since)


def expect_mapped_not_parsed(text, what):
    expect("mapped its compiled table" in text and " parsed " not in text,
           "%s did not map the compiled table, or parsed the map:\n%s"
           % (what, text[-1500:]))


@check("compiled_table_written_and_graceful_picks_new_rules")
def _():
    cache = os.path.join(S.new_root("img-cache"), "cache")
    os.makedirs(cache)
    first = unique("v1-")
    srv, path = image_server("img-graceful", cache, first)
    try:
        expect_img_answers(srv, first)
        imgs = images_in(cache)
        expect_eq(len(imgs), 1, "compiled tables in the cache dir")
        before = os.stat(os.path.join(cache, imgs[0]))
        second = unique("v2-")
        old = os.stat(path)
        write_file(path, "# changed\n/img-me  /%s  301\n"
                   "/img-prefix/*  /moved/*  308\n" % second)
        os.utime(path, (old.st_atime, max(time.time(), old.st_mtime) + 2))
        restart_and_wait(srv)
        expect_img_answers(srv, second)
        after = os.stat(os.path.join(cache, imgs[0]))
        expect(after.st_ino != before.st_ino,
               "the compiled table was not rewritten for the changed map")
        # unchanged map, graceful again: the image is mapped, not rebuilt
        since = restart_and_wait(srv)
        expect(log_lines_with(srv, since, "unchanged, reusing its table"),
               "no reuse after an unchanged graceful")
        expect_img_answers(srv, second)
        # and a fresh start maps it (no parse)
        text = start_again(srv)
        expect_mapped_not_parsed(text, "a restart")
        expect("not checked again" in text,
               "the unchanged rules were checked again:\n%s" % text[-1500:])
        expect_img_answers(srv, second)
    finally:
        srv.stop()


@check("compiled_table_from_check_compile_is_mapped_not_parsed")
def _():
    """`redirect307 check --compile` writes the table httpd would: a start
    and a graceful restart after the map changed map the CLI's image
    instead of parsing the map (what keeps a big map's deploy from
    stalling httpd, which accepts nothing while it reads its
    configuration)."""
    cache = os.path.join(S.new_root("img-cache"), "cache")
    os.makedirs(cache)
    srv, path = image_server("img-cli", cache, unique("v1-"))

    def change_and_compile(target):
        old = os.stat(path)
        write_file(path, "# changed\n/img-me  /%s  301\n"
                   "/img-prefix/*  /moved/*  308\n" % target)
        os.utime(path, (old.st_atime, max(time.time(), old.st_mtime) + 2))
        # spelled otherwise than the configuration: httpd and the CLI both
        # clean the path before naming the image after it
        spelled = os.path.join(os.path.dirname(path), ".",
                               os.path.basename(path))
        rc, out = run_split([CLI, "check", "--compile", cache, spelled])
        expect(rc == 0 and ("compiled %s: %s/" % (spelled, cache)) in out[0],
               "check --compile: rc %d %r" % (rc, out))

    try:
        second = unique("v2-")
        change_and_compile(second)
        expect_mapped_not_parsed(start_again(srv), "a start")
        expect_img_answers(srv, second)
        third = unique("v3-")
        change_and_compile(third)
        since = restart_and_wait(srv)
        expect_mapped_not_parsed(srv.log_text(since), "a graceful restart")
        expect_img_answers(srv, third)
        expect_eq(len(images_in(cache)), 1, "compiled tables in the cache")
    finally:
        srv.stop()


@check("compiled_table_pattern_rules_survive_a_restart")
def _():
    """A map with pattern rules, compiled: every pattern case answers the
    same when the table was parsed, when a fresh start maps its image and
    after a graceful restart; the status page counts its pattern rules
    alike, and the shadowed-pattern warning comes back from the kept
    verdict."""
    cache = os.path.join(S.new_root("img-cache"), "cache")
    os.makedirs(cache)
    target = unique("p-")
    srv, _ = image_server(
        "img-pattern", cache, target,
        more_rules=PATTERN_RULES.replace("ECHO", "9"),
        more_conf=("AllowEncodedSlashes NoDecode",
                   "<Location /r307-status>\n    SetHandler "
                   "redirect307-status\n</Location>"))
    shadowed = re.compile(r"img\.map:7: pattern rule never answers: literal "
                          r"prefix rule \S*img\.map:6")

    def answers():
        expect_img_answers(srv, target)
        for name, path, status, loc in PATTERN_CASES:
            r = request(srv.port, path)
            want = loc if loc.startswith("https://") \
                else main_base(srv.port) + loc
            if isinstance(r.location, bytes):
                want = want.encode("ascii")
            expect_eq((r.status, r.location), (status, want), name)
            expect_clean_location(r)
        doc = status_json(srv.port)
        t = [t for s in doc["servers"] for t in s["tables"]
             if t["file"].endswith("img.map")]
        expect(t, "img.map not on the status page")
        return (t[0]["rules"], t[0]["pattern"], t[0]["exact"],
                t[0]["prefix"])

    try:
        parsed = answers()
        expect_eq(parsed, (15, 11, 2, 2),
                  "rules, pattern, exact, prefix of the parsed map")
        expect_eq(len(images_in(cache)), 1, "compiled tables in the cache")
        text = start_again(srv)
        expect_mapped_not_parsed(text, "a fresh start")
        expect("not checked again" in text and shadowed.search(text),
               "no shadowed warning from the kept verdict:\n%s"
               % text[-1500:])
        expect_eq(answers(), parsed, "counts of the mapped table")
        restart_and_wait(srv)
        expect_eq(answers(), parsed, "counts after a graceful restart")
    finally:
        srv.stop()


@check("compiled_table_windows_checked_at_every_start")
def _():
    """A kept check verdict cannot stand for rules with windows: which of
    them have expired depends on the clock."""
    cache = os.path.join(S.new_root("img-cache"), "cache")
    os.makedirs(cache)
    target = unique("w-")
    srv, path = image_server("img-windows", cache, target)
    srv.stop()
    old = os.stat(path)
    write_file(path, "/img-me  /%s  301\n/img-prefix/*  /moved/*  308\n"
               "/img-old  /gone-by  307  until=2020-02-01\n" % target)
    os.utime(path, (old.st_atime, max(time.time(), old.st_mtime) + 2))
    try:
        for start in ("first", "second"):
            text = start_again(srv)
            expect(re.search(r"img\.map:3: expired at 2020-02-01", text),
                   "%s start: no expired warning for img.map:3:\n%s"
                   % (start, text[-1500:]))
            expect("not checked again" not in text,
                   "%s start reused a verdict for rules with windows" % start)
            expect_img_answers(srv, target)
            srv.stop()
        expect(images_in(cache), "no compiled table written")
    finally:
        srv.stop()


@check("compiled_table_corrupt_or_truncated_is_rebuilt")
def _():
    cache = os.path.join(S.new_root("img-cache"), "cache")
    os.makedirs(cache)
    target = unique("c-")
    srv, path = image_server("img-corrupt", cache, target)
    try:
        expect_img_answers(srv, target)
        srv.stop()
        img = os.path.join(cache, images_in(cache)[0])
        good = read_bytes(img)
        damaged = [("flipped", good[:len(good) // 2]
                    + bytes([good[len(good) // 2] ^ 0x40])
                    + good[len(good) // 2 + 1:], "checksum mismatch"),
                   ("truncated", good[:len(good) - 9], "truncated")]
        for what, data, why in damaged:
            with open(img, "wb") as f:
                f.write(data)
            text = start_again(srv)
            expect("rejected (%s); rebuilding it" % why in text,
                   "%s image: no 'rejected (%s)' in the log:\n%s"
                   % (what, why, text[-1500:]))
            expect_img_answers(srv, target)
            srv.stop()
            expect_eq(read_bytes(img), good,
                      "the image rebuilt after it was %s" % what)
    finally:
        srv.stop()


@check("compiled_table_unwritable_cache_dir_still_serves")
def _():
    root = S.new_root("img-nodir")
    blocker = os.path.join(root, "a-file")
    write_file(blocker, "not a directory\n")
    target = unique("n-")
    # a path below a regular file can be neither created nor written
    srv, _ = image_server("img-nodir", os.path.join(blocker, "cache"),
                          target)
    try:
        expect_img_answers(srv, target)
        since = srv.log_size()
        restart_and_wait(srv, how="signal")
        expect_img_answers(srv, target)
        expect(srv.alive(), "server gone")
        note(srv.log_tail(5, since))
    finally:
        srv.stop()


class ConfigTests:
    """Small configs in one temp dir, checked with apache2 -t."""

    root = None

    @classmethod
    def dir(cls):
        if cls.root is None:
            cls.root = S.new_root("cfgtest")
        return cls.root

    @classmethod
    def conf(cls, name, body_lines):
        root = cls.dir()
        expect(os.path.exists(S.module), "module %s does not exist" % S.module)
        c = Conf()
        for line in hh.conf_head(root, [free_port()], hh.CORE_MODULES,
                                 pidfile="%s/%s.pid" % (root, name),
                                 errlog="%s/%s-error.log" % (root, name)):
            c.add(line)
        c.add("LoadModule redirect307_module %s" % S.module)
        for line in body_lines:     # "text" or ("text", mark)
            text, mark = line if isinstance(line, tuple) else (line, None)
            c.add(text, mark=mark)
        path = os.path.join(root, name + ".conf")
        write_file(path, c.render())
        return path, c.marks

    @classmethod
    def test(cls, conf):
        rc, out = run([S.apache, "-d", cls.dir(), "-f", conf, "-t"], timeout=30)
        note("apache2 -t -f %s: exit %d\n%s" % (conf, rc, out.strip()[-2000:]))
        return rc, out


def map_config_test(name, map_bytes):
    root = ConfigTests.dir()
    write_file(os.path.join(root, name + ".map"), map_bytes)
    conf, _ = ConfigTests.conf(name, ["Redirect307Map %s.map" % name])
    return ConfigTests.test(conf)


GOOD = b"# good lines first\n/fine  /fine-target  301\n"

# (name, map bytes, lines that must be named).  The bad line is line 3.
MAP_ERROR_CASES = [
    ("missing_target", GOOD + b"/lonely\n", [3]),
    ("source_not_slash", GOOD + b"old-page  /new-page\n", [3]),
    ("unknown_status", GOOD + b"/a  /b  399\n", [3]),
    ("unknown_flag", GOOD + b"/a  /b  301  bogusflag\n", [3]),
    ("control_character", GOOD + b"/a  /b\x01c  301\n", [3]),
    ("nul_byte", GOOD + b"/a  /b\x00c  301\n", [3]),
    ("line_over_8k", GOOD + b"/a  /" + b"x" * 8300 + b"\n", [3]),
    ("gone_with_target", GOOD + b"/a  /b  410\n", [3]),
    ("redirect_with_dash", GOOD + b"/a  -  301\n", [3]),
    ("invalid_utf8", GOOD + b"/caf\xe9  /b  301\n", [3]),
    ("too_many_fields", GOOD + b"/a  /b  301  nocase  extra\n", [3]),
    ("qsdrop_with_qsappend", GOOD + b"/a  /b  301  qsdrop,qsappend\n", [3]),
    ("bad_percent_encoding", GOOD + b"/a%zz  /b  301\n", [3]),
    ("prefix_with_query", GOOD + b"/a/*?x=1  /b  301\n", [3]),
    ("dot_segment_source", GOOD + b"/a/../b  /c  301\n", [3]),
    ("protocol_relative_target", GOOD + b"/a  //evil.example/x  301\n", [3]),
    ("loop_between_two_rules", GOOD + b"/loop-a  /loop-b  301\n/unrelated  /u  301\n/loop-b  /loop-a  302\n", [3, 5]),
    ("loop_three_rules_absolute", GOOD + b"/l1  /l2\n/l2  http://127.0.0.1/l3\n/l3  /l1\n", [3, 4, 5]),
    ("host_not_a_dns_name", GOOD + b"//exa_mple.com/a  /b  301\n", [3]),
    ("host_with_port", GOOD + b"//old.example.com:8080/a  /b  301\n", [3]),
    ("host_wildcard_not_first_label", GOOD + b"//a.*.example.com/a  /b\n", [3]),
    ("host_not_ascii", GOOD + "//caf\u00e9.example/a  /b\n".encode("utf-8"), [3]),
    ("qsnone_on_query_rule", GOOD + b"/a?x=1  /b  301  qsnone\n", [3]),
    ("loop_through_host_rules", GOOD + b"//h.example/a  /b\n//h.example/b  /a\n", [3, 4]),
    ("pattern_target_names_unknown", GOOD + b"/u/:name  /users/:id\n", [3]),
    ("pattern_name_twice", GOOD + b"/u/:a/:a  /x\n", [3]),
    ("pattern_nine_placeholders", GOOD + b"/:a/:b/:c/:d/:e/:f/:g/:h/:i  /x\n", [3]),
    ("pattern_two_in_a_segment", GOOD + b"/u/:a-:b  /x\n", [3]),
    ("pattern_in_query_rule", GOOD + b"/u?id=:v  /x\n", [3]),
    ("pattern_loop", GOOD + b"/a/:x  /b/:x\n/b/:y  /a/:y\n", [3, 4]),
]

for _name, _bytes, _lines in MAP_ERROR_CASES:
    def _map_error(name=_name, data=_bytes, lines=_lines):
        fname = "bad-" + name.replace("_", "-")
        rc, out = map_config_test(fname, data)
        expect(rc != 0, "apache2 -t exited 0:\n%s" % out.strip()[-500:])
        for n in lines:
            expect(map_ref(fname + ".map", n).search(out),
                   "output does not name %s.map:%d:\n%s" % (fname, n, out.strip()[-800:]))
    check("map_error_" + _name)(_map_error)


# Valid rules files that must pass the configuration test.
MAP_OK_CASES = [
    ("crlf_line_ends", b"/a  /b  301\r\n/c  /d\r\n"),
    ("no_final_newline", b"/a  /b  301\n/c  /d"),
    ("empty_file", b""),
    ("comments_and_blanks", b"# comment\n\n   \n\t# indented comment\n/a /b 301 # trailing\n"),
    ("line_of_exactly_8192_bytes", b"/a  /" + b"y" * (8192 - 5) + b"\n"),
    ("spec_example", (
        "/old-page              /new-page\n"
        "/promo                 https://shop.example.com/sale        302\n"
        "/docs/*                https://docs.example.com/v2/*        301\n"
        "/index.php?id=42       /products/blue-widget                308\n"
        "/retired               -                                    410\n"
        "/caf\u00e9                  /coffee                              301\n"
    ).encode("utf-8")),
]

for _name, _bytes in MAP_OK_CASES:
    def _map_ok(name=_name, data=_bytes):
        rc, out = map_config_test("ok-" + name.replace("_", "-"), data)
        expect_eq(rc, 0, "apache2 -t exit status (%s)" % out.strip()[-500:])
    check("map_ok_" + _name)(_map_ok)


def inline_error(name, directive):
    conf, marks = ConfigTests.conf(name, ["# the bad line is marked", (directive, "bad")])
    rc, out = ConfigTests.test(conf)
    expect(rc != 0, "apache2 -t exited 0:\n%s" % out.strip()[-500:])
    line = marks["bad"]
    named = (re.search(r"%s:%d(?!\d)" % (re.escape(conf), line), out)
             or re.search(r"line %d of %s" % (line, re.escape(conf)), out))
    expect(named, "output does not name %s:%d:\n%s" % (conf, line, out.strip()[-800:]))


INLINE_ERROR_CASES = [
    ("max_age_not_a_number", "Redirect307MaxAge soon"),
    ("window_bad_time", "Redirect307 301 /a /b until=2026-13-01"),
    ("window_from_after_until", "Redirect307 301 /a /b from=2027-01-01,until=2026-01-01"),
    ("ignore_params_star_inside", "Redirect307IgnoreParams utm_*x"),
    ("ignore_params_none_not_alone", "Redirect307IgnoreParams none gclid"),
    ("ignore_params_empty", "Redirect307IgnoreParams"),
    ("inline_bad_host", "Redirect307 301 //bad_host.example/a /b"),
    ("bad_status", "Redirect307 999 /a /b"),
    ("gone_with_target", "Redirect307 410 /a /b"),
    ("source_not_slash", "Redirect307 301 a /b"),
    ("missing_target", "Redirect307 301 /a"),
    ("bad_default", "Redirect307Default 404"),
    ("bad_chains_mode", "Redirect307Chains Sometimes"),
    ("unreadable_map_file", "Redirect307Map does-not-exist.map"),
]

for _name, _directive in INLINE_ERROR_CASES:
    check("inline_error_" + _name)(
        lambda name=_name, d=_directive: inline_error("inline-" + name.replace("_", "-"), d))


@check("inline_loop_error_names_config_lines")
def _():
    conf, marks = ConfigTests.conf("inline-loop", [
        ("Redirect307 301 /il-a /il-b", "a"),
        ("Redirect307 301 /il-b /il-a", "b")])
    rc, out = ConfigTests.test(conf)
    expect(rc != 0, "apache2 -t exited 0")
    for m in ("a", "b"):
        expect(re.search(r"%s:%d(?!\d)" % (re.escape(conf), marks[m]), out),
               "output does not name %s:%d" % (conf, marks[m]))


@check("map_error_refuses_start")
def _():
    root = ConfigTests.dir()
    write_file(os.path.join(root, "start-bad.map"), GOOD + b"/lonely\n")
    conf, _ = ConfigTests.conf("start-bad", ["Redirect307Map start-bad.map"])
    rc, out = run([S.apache, "-d", root, "-f", conf, "-k", "start"], timeout=30)
    note("apache2 -k start: exit %d\n%s" % (rc, out.strip()))
    pidfile = os.path.join(root, "start-bad.pid")
    pid = None
    try:
        pid = int(read_bytes(pidfile).strip() or 0)
    except ValueError:
        pass
    if pid and pid_alive(pid):
        hh.stop_pid(pid, 10)
        raise Failure("server started with a broken rules file")
    expect(rc != 0, "apache2 -k start exited 0")
    log = read_bytes(os.path.join(root, "start-bad-error.log")).decode("utf-8", "replace")
    expect(map_ref("start-bad.map", 3).search(out + log),
           "neither output nor error.log names start-bad.map:3")


# ---------------------------------------------------------------------------
# Checks: graceful restart
# ---------------------------------------------------------------------------

def reload_answer(srv):
    r = request(srv.port, "/reload-me")
    return r.location.rsplit("/", 1)[-1] if r.status == 301 and r.location else "status %d" % r.status


def write_reload_map(srv, text):
    path = S.info["reload"]["map"]
    old = os.stat(path)
    write_file(path, text)
    # A different size and mtime: "changed" whatever the filesystem's clock.
    os.utime(path, (old.st_atime, max(time.time(), old.st_mtime) + 2))


def graceful_to(srv, target):
    """Writes a good map answering `target`, reloads, waits for it."""
    write_reload_map(srv, "# reloaded\n/reload-me  /%s  301\n" % target)
    rc, out = srv.graceful()
    note("apache2 -k graceful: exit %d %s" % (rc, out.strip()))
    expect_eq(rc, 0, "apache2 -k graceful exit status (%s)" % out.strip())
    got = poll(lambda: reload_answer(srv) == target, 10, 0.1)
    expect(got, "still answering %s 10s after graceful, want %s"
           % (reload_answer(srv), target))


@check("graceful_serves_changed_rules")
def _():
    srv = S.server("reload")
    before = reload_answer(srv)
    expect(before.startswith("v1") or before.startswith("good-")
           or before.startswith("v2-"), "unexpected answer %s" % before)
    graceful_to(srv, unique("v2-"))


@check("graceful_with_broken_rules_fails_and_old_rules_answer")
def _():
    srv = S.server("reload")
    good = unique("good-")
    graceful_to(srv, good)
    write_reload_map(srv, "# broken\n/reload-me\n")
    rc, out = srv.graceful()
    note("apache2 -k graceful (broken map): exit %d %s" % (rc, out.strip()))
    expect(rc != 0, "apache2 -k graceful exited 0 with a broken rules file")
    expect(map_ref("reload.map", 2).search(out),
           "graceful output does not name reload.map:2: %s" % out.strip()[-500:])
    for _ in range(5):
        expect_eq(reload_answer(srv), good, "answer after the failed graceful")
    expect(srv.alive(), "server no longer running")


@check("restart_signal_with_broken_rules_keeps_last_good")
def _():
    """SPEC, Startup and reload cost: a running server whose rules file has
    become invalid logs FILE:LINE and keeps the last good table."""
    srv = S.server("reload")
    good = unique("last-good-")
    graceful_to(srv, good)
    since = srv.log_size()
    write_reload_map(srv, "# broken\n/reload-me\n")
    os.kill(srv.read_pid(), signal.SIGUSR1)     # what graceful would send

    def restarted():
        text = srv.log_text(since)
        return (map_ref("reload.map", 2).search(text)
                and "resuming normal operations" in text) or not srv.alive()
    poll(restarted, 10, 0.1)
    text = srv.log_text(since)
    expect(srv.alive(), "server exited after the restart:\n%s" % text[-1500:])
    expect(map_ref("reload.map", 2).search(text),
           "error.log does not name reload.map:2 after the restart")
    for _ in range(5):
        expect_eq(reload_answer(srv), good, "answer after the restart")


# ---------------------------------------------------------------------------
# Checks: reload cache (a rules file is parsed at most once per content)
# ---------------------------------------------------------------------------

def restart_and_wait(srv, how="graceful", timeout=20):
    """Restarts srv (apache2 -k graceful, or SIGUSR1 to the parent) and
    waits until its error log says the new generation is running.
    Returns the error-log offset from before the restart."""
    since = srv.log_size()
    if how == "graceful":
        rc, out = srv.graceful()
        note("apache2 -k graceful: exit %d %s" % (rc, out.strip()[-300:]))
        expect_eq(rc, 0, "apache2 -k graceful exit status (%s)" % out.strip()[-300:])
    else:
        os.kill(srv.read_pid(), signal.SIGUSR1)
        note("kill -USR1 %d" % srv.read_pid())

    def resumed():
        return ("resuming normal operations" in srv.log_text(since)
                or not srv.alive())
    poll(resumed, timeout, 0.05)
    expect(srv.alive(), "server exited after the restart:\n%s"
           % srv.log_text(since)[-1500:])
    expect("resuming normal operations" in srv.log_text(since),
           "no 'resuming normal operations' in error.log %ds after the restart"
           % timeout)
    return since


def log_lines_with(srv, since, *needles):
    """Error-log lines after `since` written by the parent (not by the
    apache2 -k graceful helper) that contain every needle."""
    parent = "[pid %d" % srv.read_pid()
    return [l for l in srv.log_text(since).splitlines()
            if parent in l and all(n in l for n in needles)]


def reuse_answer(srv):
    r = request(srv.port, "/reuse-me")
    if r.status == 301 and r.location:
        return r.location.rsplit("/", 1)[-1]
    return "status %d" % r.status


def write_reuse_map(target, extra=""):
    path = S.info["reuse"]["map"]
    old = os.stat(path) if os.path.exists(path) else None
    write_file(path, "# the reuse checks\n/reuse-me  /%s  301\n%s" % (target, extra))
    if old:     # a changed mtime whatever the filesystem's clock
        os.utime(path, (old.st_atime, max(time.time(), old.st_mtime) + 2))


def expect_reuse_answers(srv, target, what):
    got = poll(lambda: reuse_answer(srv) == target, 10, 0.1)
    expect(got, "%s: answers %s, want %s" % (what, reuse_answer(srv), target))
    for _ in range(3):
        expect_eq(reuse_answer(srv), target, what)


@check("reload_unchanged_map_not_reparsed")
def _():
    srv = S.server("reuse")
    info = S.info["reuse"]
    expect_reuse_answers(srv, info["target"], "answer before the restart")
    since = restart_and_wait(srv)
    reused = log_lines_with(srv, since, "unchanged, reusing its table", info["map"])
    expect(reused, "no 'unchanged, reusing its table' line naming %s:\n%s"
           % (info["map"], srv.log_tail(10, since)))
    note(reused[0])
    parsed = log_lines_with(srv, since, "parsed", info["map"])
    expect(not parsed, "unchanged map was parsed again: %s" % short(parsed))
    expect_reuse_answers(srv, info["target"], "answer after the restart")


@check("reload_changed_map_reparsed")
def _():
    srv = S.server("reuse")
    info = S.info["reuse"]
    path = info["map"]
    # Touched only: a new mtime is a change of identity, so it is parsed.
    st = os.stat(path)
    os.utime(path, (st.st_atime, max(time.time(), st.st_mtime) + 2))
    since = restart_and_wait(srv)
    parsed = log_lines_with(srv, since, "parsed 2 rules", path)
    expect(parsed, "touched map: no 'parsed 2 rules' line naming %s:\n%s"
           % (path, srv.log_tail(10, since)))
    note(parsed[0])
    expect(not log_lines_with(srv, since, "reusing", path),
           "touched map reported as reused")
    expect_reuse_answers(srv, info["target"], "answer after touching")
    # Edited: new rules answer.
    target = unique("r2-")
    write_reuse_map(target, "/reuse-added  /added  302\n/reuse-third  /third  301\n")
    since = restart_and_wait(srv)
    parsed = log_lines_with(srv, since, "parsed 3 rules", path)
    expect(parsed, "edited map: no 'parsed 3 rules' line naming %s:\n%s"
           % (path, srv.log_tail(10, since)))
    info["target"] = target
    expect_reuse_answers(srv, target, "answer after editing")
    r = request(srv.port, "/reuse-added")
    expect_eq(r.status, 302, "status of a rule added by the edit")


@check("restart_deleted_map_keeps_last_good")
def _():
    srv = S.server("reuse")
    info = S.info["reuse"]
    path = info["map"]
    good = info["target"]
    expect_reuse_answers(srv, good, "answer before deleting the map")
    os.remove(path)
    try:
        since = restart_and_wait(srv, how="usr1")
        errors = log_lines_with(srv, since, ":error]", path)
        expect(errors, "no error-level line naming %s:\n%s"
               % (path, srv.log_tail(10, since)))
        keep = log_lines_with(srv, since, "still serving its last good rules", path)
        expect(keep, "no 'still serving its last good rules' line naming %s:\n%s"
               % (path, srv.log_tail(10, since)))
        note(errors[0])
        note(keep[0])
        expect_reuse_answers(srv, good, "answer after the restart without the map")
        # A second restart while the file is still missing keeps it too.
        restart_and_wait(srv, how="usr1")
        expect_reuse_answers(srv, good, "answer after a second restart")
    finally:
        if not os.path.exists(path):
            write_reuse_map(good)
    # Back again: the recreated file is read.
    target = unique("r3-")
    write_reuse_map(target)
    since = restart_and_wait(srv)
    expect(log_lines_with(srv, since, "parsed", path),
           "recreated map not parsed:\n%s" % srv.log_tail(10, since))
    info["target"] = target
    expect_reuse_answers(srv, target, "answer after recreating the map")


@check("config_test_still_fails_on_broken_map_while_running")
def _():
    srv = S.server("reuse")
    info = S.info["reuse"]
    good = info["target"]
    expect_reuse_answers(srv, good, "answer before breaking the map")
    path = info["map"]
    saved = read_bytes(path)
    write_file(path, "# broken\n/reuse-me\n")
    try:
        rc, out = srv.config_test()
        note("apache2 -t: exit %d %s" % (rc, out.strip()[-500:]))
        expect(rc != 0, "apache2 -t exited 0 with a broken rules file")
        expect(re.search(r"%s:2(?!\d)" % re.escape(path), out),
               "apache2 -t output does not name %s:2: %s" % (path, out.strip()[-500:]))
        expect(srv.alive(), "server no longer running")
        expect_reuse_answers(srv, good, "answer while the map is broken")
    finally:
        write_file(path, saved)


# ---------------------------------------------------------------------------
# Checks: status page and hit counters
# ---------------------------------------------------------------------------

STATUS_RULES = """# status page checks
/st-exact-1          /st-target-1                    301
/st-exact-2          /st-target-2
/st-gone             -
/st-prefix/*         /st-new/*                       302
/st-q?a=1&b=2        /st-q-target?x=1&y=2            301
/st-q2?id=7          /st-q2-target                   308
"""

COUNT_RULES = """# hit counter checks
/cnt-a               /cnt-a-target                   301
/cnt-b               /cnt-b-target                   302
/cnt-never           /cnt-never-target               301
"""


def use_prefork(c, servers):
    """Turns a base_conf into a prefork one with `servers` children."""
    out = []
    for text, tag in c.lines:
        text = (text.replace("mpm_event_module", "mpm_prefork_module")
                .replace("mod_mpm_event.so", "mod_mpm_prefork.so"))
        key = text.split(" ")[0]
        if key in ("MinSpareThreads", "MaxSpareThreads", "ThreadsPerChild",
                   "ServerLimit", "MaxRequestWorkers", "StartServers"):
            continue
        out.append((text, tag))
    c.lines = out
    c.add("StartServers %d\nMinSpareServers %d\nMaxSpareServers %d\n"
          "ServerLimit %d\nMaxRequestWorkers %d"
          % (servers, servers, servers * 2, servers * 2, servers * 2))


def status_json(port, host=None):
    r = request(port, "/r307-status?json", host=host)
    expect_eq(r.status, 200, "status page status")
    ctype = r.get("Content-Type") or ""
    expect(ctype.startswith("application/json"),
           "status page ?json Content-Type %s" % short(ctype))
    try:
        return json.loads(r.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Failure("status page ?json is not JSON (%s): %s" % (e, short(r.body, 600)))


def server_entries(data, name):
    """Server entries whose name is `name` or starts with `name:`."""
    return [s for s in data["servers"]
            if s.get("server") == name or str(s.get("server")).startswith(name + ":")]


def table_for(data, path):
    """(server entry, table) of the first table loaded from path."""
    for s in data["servers"]:
        for t in s["tables"]:
            if t["file"] == path:
                return s, t
    raise Failure("no table for %s in the status JSON: %s" % (path, short(data, 800)))


def rule_hits(table, ref):
    """Hits of the rule FILE:LINE ref in a table's top list (0 if absent)."""
    for r in table.get("top", []):
        if r["rule"] == ref:
            return r["hits"]
    return 0


@check("status_page_json_valid")
def _():
    srv = S.server("status")
    info = S.info["status"]
    request(srv.port, "/st-exact-1")
    data = status_json(srv.port)
    expect(isinstance(data, dict) and isinstance(data.get("servers"), list),
           "top level is not {\"servers\": [...]}: %s" % short(data))
    expect(len(data["servers"]) >= 4, "%d servers listed, want the main server "
           "and 3 vhosts" % len(data["servers"]))
    now = time.time()
    for s in data["servers"]:
        for key, typ in (("server", str), ("engine", bool), ("stats", bool),
                         ("inherits_main", bool), ("tables", list)):
            expect(isinstance(s.get(key), typ), "server %s: %s is %s, want %s"
                   % (s.get("server"), key, short(s.get(key)), typ.__name__))
        for t in s["tables"]:
            for key in ("rules", "exact", "prefix", "query", "pattern", "bytes",
                        "loaded"):
                expect(isinstance(t.get(key), int) and not isinstance(t.get(key), bool)
                       and t[key] >= 0,
                       "table %s: %s is %s" % (t.get("file"), key, short(t.get(key))))
            expect(isinstance(t.get("load_seconds"), (int, float))
                   and 0 <= t["load_seconds"] < 60,
                   "table %s: load_seconds %s" % (t.get("file"), short(t.get("load_seconds"))))
            expect(abs(t["loaded"] - now) < 3600, "table %s: loaded %s is not "
                   "a recent epoch" % (t.get("file"), t["loaded"]))
            expect_eq(t["exact"] + t["prefix"] + t["query"] + t["pattern"],
                      t["rules"], "exact+prefix+query+pattern of %s" % t.get("file"))
    main = data["servers"][0]
    expect(main["engine"] is True and main["stats"] is True
           and main["inherits_main"] is False,
           "main server flags %s" % short({k: main[k] for k in
                                          ("engine", "stats", "inherits_main")}))
    files = [t["file"] for t in main["tables"]]
    inline = "inline rules from %s:%d" % (info["conf"], info["marks"]["inline"])
    expect_eq(files, [info["map"], inline], "main server's tables")
    t = main["tables"][0]
    for key, want in (("rules", 6), ("exact", 3), ("prefix", 1), ("query", 2)):
        expect_eq(t[key], want, "status.map %s" % key)
    expect(t["bytes"] > 0, "status.map bytes %s" % t["bytes"])
    expect_eq(main["tables"][1]["rules"], 1, "inline table rules")
    for key, typ in (("hits", int), ("never_hit", int), ("top", list),
                     ("never_hit_sample", list)):
        expect(isinstance(t.get(key), typ), "status.map %s is %s"
               % (key, short(t.get(key))))
    ref = "%s:2" % info["map"]
    top = [r for r in t["top"] if r.get("rule") == ref]
    expect(top, "rule %s not in top: %s" % (ref, short(t["top"])))
    expect(top[0]["hits"] >= 1 and isinstance(top[0]["last_hit"], int)
           and abs(top[0]["last_hit"] - now) < 600,
           "top entry %s" % short(top[0]))
    expect("/st-exact-1" in top[0]["redirect"] and "/st-target-1" in top[0]["redirect"],
           "top entry's redirect text %s" % short(top[0]["redirect"]))
    for r in t["never_hit_sample"]:
        expect(isinstance(r.get("rule"), str) and isinstance(r.get("redirect"), str),
               "never_hit_sample entry %s" % short(r))
    q = [r for r in t["top"] + t["never_hit_sample"] if r["rule"] == "%s:6" % info["map"]]
    expect(q and "a=1&b=2" in q[0]["redirect"],
           "query rule %s:6 not listed with a=1&b=2: %s" % (info["map"], short(t, 800)))


@check("status_page_html")
def _():
    srv = S.server("status")
    info = S.info["status"]
    r = request(srv.port, "/r307-status")
    expect_eq(r.status, 200, "status")
    ctype = r.get("Content-Type") or ""
    expect(ctype.startswith("text/html"), "Content-Type %s" % short(ctype))
    body = r.body.decode("utf-8", "replace")
    expect(info["map"] in body, "page does not show %s" % info["map"])
    expect("a=1&amp;b=2" in body and "x=1&amp;y=2" in body,
           "query rule not shown HTML-escaped (a=1&amp;b=2, x=1&amp;y=2): %s"
           % short(body, 1500))
    expect("a=1&b=2" not in body and "x=1&y=2" not in body,
           "raw '&' from rule text in the HTML")
    expect("st-prefix" in body, "page does not list /st-prefix/*")


@check("stats_counted_across_children")
def _():
    srv = S.server("counts")
    info = S.info["counts"]
    before = table_for(status_json(srv.port), info["map"])[1]
    base_a = rule_hits(before, "%s:2" % info["map"])
    base_b = rule_hits(before, "%s:3" % info["map"])
    base_total = before.get("hits")
    expect(isinstance(base_total, int), "count.map has no hits field: %s" % short(before))
    jobs = ["/cnt-a"] * 200 + ["/cnt-b"] * 50
    jobs.sort(key=lambda p: hash((p, id(jobs))))
    lock = threading.Lock()
    results, errors = [], []

    def worker():
        while True:
            with lock:
                if not jobs:
                    return
                path = jobs.pop()
            try:
                resp = exchange(srv.port, build_request(
                    "GET", path, "%s:%d" % (LOOPBACK, srv.port)))
                with lock:
                    results.append((path, resp.status))
            except Exception as e:
                with lock:
                    errors.append("%s: %s" % (path, e))
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    expect(not errors, "%d request(s) failed: %s" % (len(errors), short(errors[:3])))
    expect_eq(sorted(set(results)), [("/cnt-a", 301), ("/cnt-b", 302)],
              "statuses answered")
    expect_eq(len(results), 250, "requests answered")
    t = table_for(status_json(srv.port), info["map"])[1]
    a = rule_hits(t, "%s:2" % info["map"]) - base_a
    b = rule_hits(t, "%s:3" % info["map"]) - base_b
    note("hits: /cnt-a %d, /cnt-b %d, table %d (before: %d, %d, %d)"
         % (a, b, t["hits"], base_a, base_b, base_total))
    expect_eq(a, 200, "hits of /cnt-a")
    expect_eq(b, 50, "hits of /cnt-b")
    expect_eq(t["hits"] - base_total, 250, "hits of count.map")

    def served():
        pids = {}
        for line in read_bytes(srv.accesslog).decode("utf-8", "replace").splitlines():
            f = line.split()
            if len(f) == 3 and f[1] in ("/cnt-a", "/cnt-b"):
                pids.setdefault(f[0], 0)
                pids[f[0]] += 1
        return pids if sum(pids.values()) >= 250 else None
    pids = poll(served, 10)
    expect(pids, "access log does not hold the 250 requests")
    note("requests per child pid: %s" % pids)
    expect(len(pids) > 1, "all requests served by one child (%s): the check "
           "proves nothing about sharing" % pids)


def children_of(pid):
    return set(hh.children_of(pid))


def graceful_new_generation(srv):
    """apache2 -k graceful; waits until no child of the old generation is
    left, so that every answer comes from the new one."""
    old = children_of(srv.read_pid())
    since = restart_and_wait(srv)

    def new_only():
        kids = children_of(srv.read_pid())
        return kids and not (kids & old)
    expect(poll(new_only, 20, 0.05),
           "20s after the graceful: children %s, old ones %s"
           % (sorted(children_of(srv.read_pid())), sorted(old)))
    return since


@check("stats_survive_graceful_restart_unchanged_map")
def _():
    srv = S.server("counts")
    info = S.info["counts"]
    ref = "%s:1" % info["stable"]
    for _ in range(7):
        expect_eq(request(srv.port, "/stable-a").status, 301, "status")
    t = table_for(status_json(srv.port), info["stable"])[1]
    hits, total, loaded = rule_hits(t, ref), t["hits"], t["loaded"]
    expect(hits >= 7, "hits of /stable-a %d, want >= 7" % hits)
    since = graceful_new_generation(srv)
    expect(log_lines_with(srv, since, "unchanged, reusing its table", info["stable"]),
           "stable.map not reused:\n%s" % srv.log_tail(10, since))
    t = table_for(status_json(srv.port), info["stable"])[1]
    note("before: %d hits (table %d); after: %d (table %d)"
         % (hits, total, rule_hits(t, ref), t["hits"]))
    expect_eq(rule_hits(t, ref), hits, "hits of /stable-a after the graceful")
    expect_eq(t["hits"], total, "hits of stable.map after the graceful")
    expect_eq(t["loaded"], loaded, "loaded time of the reused table")
    expect_eq(request(srv.port, "/stable-a").status, 301, "status")
    t = table_for(status_json(srv.port), info["stable"])[1]
    expect_eq(rule_hits(t, ref), hits + 1, "hits of /stable-a after one more request")


@check("stats_reset_for_changed_map")
def _():
    srv = S.server("counts")
    info = S.info["counts"]
    path = info["change"]
    for _ in range(5):
        expect_eq(request(srv.port, "/change-a").status, 301, "status")
    t = table_for(status_json(srv.port), path)[1]
    expect(t["hits"] >= 5, "change.map hits %d before the change, want >= 5" % t["hits"])
    old = os.stat(path)
    target = unique("change-")
    write_file(path, "/change-a  /%s  301\n/change-new  /change-new-target  302\n" % target)
    os.utime(path, (old.st_atime, max(time.time(), old.st_mtime) + 2))
    since = graceful_new_generation(srv)
    expect(log_lines_with(srv, since, "parsed 2 rules", path),
           "change.map not parsed:\n%s" % srv.log_tail(10, since))
    t = table_for(status_json(srv.port), path)[1]
    note("change.map after the change: %s" % short(t))
    expect_eq(t["rules"], 2, "rules of the changed change.map")
    expect_eq(t["hits"], 0, "hits of the changed change.map")
    expect_eq(t["top"], [], "top of the changed change.map")
    r = request(srv.port, "/change-a")
    expect_redirect(r, 301, "http://%s:%d/%s" % (LOOPBACK, srv.port, target))
    t = table_for(status_json(srv.port), path)[1]
    expect_eq(t["hits"], 1, "hits of the changed change.map after one request")
    # the other maps kept theirs
    t = table_for(status_json(srv.port), info["stable"])[1]
    expect(t["hits"] > 0, "stable.map lost its hits")


@check("stats_off_has_no_hits_field")
def _():
    srv = S.server("nostats")
    for p in ("/ns-one", "/ns-two/x", "/ns-inline"):
        expect(request(srv.port, p).status in (301, 302), "status of %s" % p)
    data = status_json(srv.port)
    main = data["servers"][0]
    expect_eq(main["stats"], False, "stats of the main server")
    files = [t["file"] for t in main["tables"]]
    expect(S.info["nostats"]["map"] in files, "nostats.map not listed: %s" % files)
    for s in data["servers"]:
        for t in s["tables"]:
            for key in ("hits", "never_hit", "top", "never_hit_sample"):
                expect(key not in t, "%s: table %s has %s with Stats Off"
                       % (s["server"], t["file"], key))
    # A vhost that says Off under a main server that says On.
    srv = S.server("status")
    vport = S.info["status"]["vport"]
    expect_eq(request(vport, "/vn-only", host="vnostats.test").status, 301, "status")
    data = status_json(srv.port)
    vs = server_entries(data, "vnostats.test")
    expect(len(vs) == 1, "vnostats.test entries: %s" % short(vs))
    expect_eq(vs[0]["stats"], False, "stats of vnostats.test")
    for t in vs[0]["tables"]:
        expect("hits" not in t, "vnostats.test table %s has hits" % t["file"])


@check("stats_off_after_graceful_has_no_hits_field")
def _():
    """Stats turned Off by a graceful restart that keeps the (unchanged)
    table: the page must not go on showing the old, frozen counts."""
    srv = S.server("toggle")
    info = S.info["toggle"]
    for _ in range(3):
        expect_eq(request(srv.port, "/tg-a").status, 301, "status")
    t = table_for(status_json(srv.port), info["map"])[1]
    expect(t.get("hits", 0) >= 3, "hits %s with Stats On" % t.get("hits"))
    write_file(srv.conf, info["off"])
    since = restart_and_wait(srv)
    expect(log_lines_with(srv, since, "unchanged, reusing its table", info["map"]),
           "toggle.map not reused:\n%s" % srv.log_tail(8, since))
    expect_eq(request(srv.port, "/tg-a").status, 301, "status")
    data = poll(lambda: (lambda d: d if d["servers"][0]["stats"] is False else None)(
        status_json(srv.port)), 10, 0.1)
    expect(data, "status page still says stats true after the graceful")
    s0 = data["servers"][0]
    note("after Stats Off: %s" % short(s0, 600))
    for t in s0["tables"]:
        for key in ("hits", "never_hit", "top", "never_hit_sample"):
            expect(key not in t, "table %s has %s=%s with Stats Off (the server "
                   "says stats false)" % (t["file"], key, short(t.get(key), 120)))


@check("status_page_per_vhost")
def _():
    srv = S.server("status")
    info = S.info["status"]
    vport = info["vport"]
    expect_redirect(request(vport, "/va-only", host="va.test:%d" % vport), 301,
                    "http://va.test:%d/va-target" % vport)
    expect_redirect(request(vport, "/vb-only", host="vb.test:%d" % vport), 301,
                    "http://vb.test:%d/vb-target" % vport)
    for port, host in ((srv.port, None), (vport, "va.test:%d" % vport),
                       (vport, "vb.test:%d" % vport)):
        data = status_json(port, host=host)
        names = [s["server"] for s in data["servers"]]
        note("servers: %s" % names)
        for name, m, rules in (("va.test", "va.map", 1), ("vb.test", "vb.map", 2)):
            ent = server_entries(data, name)
            expect(len(ent) == 1, "%d entries for %s in %s" % (len(ent), name, names))
            ent = ent[0]
            expect_eq(ent["inherits_main"], True, "inherits_main of %s" % name)
            files = [t["file"] for t in ent["tables"]]
            expect_eq(files, [os.path.join(info["root"], m)], "tables of %s" % name)
            expect_eq(ent["tables"][0]["rules"], rules, "rules of %s" % m)
            expect(ent["tables"][0].get("hits", 0) >= 1,
                   "%s: hits %s" % (m, ent["tables"][0].get("hits")))
        main_files = [t["file"] for t in data["servers"][0]["tables"]]
        expect(all(not f.endswith(("va.map", "vb.map")) for f in main_files),
               "vhost maps listed under the main server: %s" % main_files)
    html = request(srv.port, "/r307-status").body.decode("utf-8", "replace")
    for name, m in (("va.test", "va.map"), ("vb.test", "vb.map")):
        at = html.find("<h2>%s" % name)
        expect(at >= 0, "HTML has no <h2> for %s" % name)
        nxt = html.find("<h2>", at + 1)
        section = html[at:nxt if nxt > 0 else len(html)]
        expect(os.path.join(info["root"], m) in section,
               "HTML section of %s does not show its map" % name)


# ---------------------------------------------------------------------------
# Checks: memory over graceful restarts
# ---------------------------------------------------------------------------

MEMORY_RULES = 200000


def big_map_text(n, variant):
    lines = ["# generated: %d rules, variant %s" % (n, variant),
             "/mem-probe  /probe-%s  301" % variant]
    for i in range(n - 1):
        k = i % 4
        if k == 0:
            lines.append("/m/p%d  /t%s/%d  301" % (i, variant, i))
        elif k == 1:
            lines.append("/m/d%d/*  /t%s/d%d/*  302" % (i, variant, i))
        elif k == 2:
            lines.append("/m/q%d?id=%d  /t%s/q%d  308" % (i, i, variant, i))
        else:
            lines.append("/m/e%d  https://x.example/%s/%d" % (i, variant, i))
    return "\n".join(lines) + "\n"


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Failure("no VmRSS for pid %d" % pid)


MEMORY_FIGURES = []


@check("memory_no_growth_over_graceful_restarts")
def _():
    srv = S.server("memory")
    path = S.info["memory"]["map"]
    pid = srv.read_pid()
    t0 = time.monotonic()

    def probe():
        r = request(srv.port, "/mem-probe")
        return r.location.rsplit("/", 1)[-1] if r.status == 301 and r.location else None

    def one_restart(variant, line):
        # SIGUSR1 is the graceful restart apache2 -k graceful sends, without
        # the helper process parsing the big map once more each time.
        since = restart_and_wait(srv, how="usr1")
        expect_eq(srv.read_pid(), pid, "parent pid")
        found = poll(lambda: log_lines_with(srv, since, line, path), 10)
        expect(found, "no '%s' line for %s after the restart:\n%s"
               % (line, path, srv.log_tail(8, since)))
        got = poll(lambda: probe() == "probe-" + variant, 10, 0.05)
        expect(got, "/mem-probe answers %s, want probe-%s" % (probe(), variant))
        return vm_rss_kib(pid)

    rss = {0: vm_rss_kib(pid)}
    for i in range(1, 31):
        rss[i] = one_restart("a", "unchanged, reusing its table")
    grow = (rss[30] - rss[5]) / rss[5]
    fig1 = ("unchanged map, %d rules: parent VmRSS start %d KiB, after restart 5 "
            "%d KiB, after 30 %d KiB (%+.1f%%)"
            % (MEMORY_RULES, rss[0], rss[5], rss[30], 100 * grow))
    note(fig1)
    t1 = time.monotonic()

    alt = {}
    for i in range(1, 11):
        variant = "b" if i % 2 else "a"
        old = os.stat(path)
        write_file(path, big_map_text(MEMORY_RULES, variant))
        os.utime(path, (old.st_atime, max(time.time(), old.st_mtime) + 2))
        alt[i] = one_restart(variant, "parsed %d rules" % MEMORY_RULES)
    grow2 = (alt[10] - alt[2]) / alt[2]
    fig2 = ("alternating maps: after restart 2 %d KiB, after 10 %d KiB (%+.1f%%); "
            "per restart %s" % (alt[2], alt[10], 100 * grow2,
                                 [alt[i] for i in range(1, 11)]))
    note(fig2)
    note("time: %.1fs unchanged, %.1fs alternating"
         % (t1 - t0, time.monotonic() - t1))
    MEMORY_FIGURES[:] = [fig1, fig2]
    print("    memory: " + fig1)
    print("    memory: " + fig2)
    expect(grow < 0.05, "RSS grew %.1f%% from restart 5 to 30 (%d -> %d KiB)"
           % (100 * grow, rss[5], rss[30]))
    expect(abs(grow2) <= 0.10, "RSS after alternating restart 10 is %+.1f%% of "
           "restart 2 (%d -> %d KiB)" % (100 * grow2, alt[2], alt[10]))


# ---------------------------------------------------------------------------
# Checks: the stats file (Redirect307StatsFile) and `redirect307 prune`
# ---------------------------------------------------------------------------
# The servers of this section are set up here and attached to Suite, so
# that the section stays in one place.  httpd runs its monitor hook about
# every 10 s, so the periodic save is polled for up to 40 s.

CLI = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                   "build", "redirect307")
SAVE_TIMEOUT = 40.0
DAY = 86400

SF_RULES = """# stats file checks
/sf-int              /sf-int-target                  301
/sf-q?b=2&a=1        /sf-q-target                    302
/sf-never            /sf-never-target                307
"""

SFR_RULES = """# restart and stop checks
/sfr-a               /sfr-a-target                   301
/sfr-b               /sfr-b-target                   302
"""


def sf_conf(root, ports, stats_lines, map_name, vhosts=()):
    c = base_conf(root, ports, S.module, S.shared_docroot())
    for line in stats_lines:
        c.add(line, tag="module")
    c.add("Redirect307Map %s" % map_name, tag="module")
    c.add("<Location /r307-status>\n    SetHandler redirect307-status\n"
          "</Location>", tag="module")
    for name, body in vhosts:
        c.add("<VirtualHost %s:%d>" % (LOOPBACK, ports[0]))
        c.add("    ServerName %s" % name)
        c.add(body, tag="module")
        c.add("</VirtualHost>")
    return c


def _setup_statsfile(self):
    """StatsFile saved every second (as often as the monitor hook runs);
    two vhosts whose own inline rules share a key."""
    root = self.new_root("statsfile")
    port = free_port()
    write_file(os.path.join(root, "sf.map"), SF_RULES)
    c = sf_conf(root, [port], ["Redirect307StatsFile stats.dat",
                               "Redirect307StatsInterval 1"], "sf.map",
                vhosts=[("v1.test", "    Redirect307 301 /sf-shared /one"),
                        ("v2.test", "    Redirect307 301 /sf-shared /two")])
    self.start("statsfile", root, c, [port],
               info={"stats": os.path.join(root, "stats.dat")})


def _setup_sfrestart(self):
    """StatsFile without periodic saves: only restarts and stops save."""
    root = self.new_root("sfrestart")
    port = free_port()
    write_file(os.path.join(root, "sfr.map"), SFR_RULES)
    c = sf_conf(root, [port], ["Redirect307StatsFile stats.dat",
                               "Redirect307StatsInterval 0"], "sfr.map")
    self.start("sfrestart", root, c, [port], info={
        "stats": os.path.join(root, "stats.dat"),
        "map": os.path.join(root, "sfr.map")})


def _setup_sfcorrupt(self):
    """A stats file that is not one: logged, ignored, never overwritten."""
    root = self.new_root("sfcorrupt")
    port = free_port()
    write_file(os.path.join(root, "c.map"), "/sfc-a  /sfc-target  301\n")
    write_file(os.path.join(root, "stats.dat"), SF_FOREIGN)
    c = sf_conf(root, [port], ["Redirect307StatsFile stats.dat",
                               "Redirect307StatsInterval 1"], "c.map")
    self.start("sfcorrupt", root, c, [port],
               info={"stats": os.path.join(root, "stats.dat")})


def _setup_sfbadline(self):
    """A stats file with a bad line among good ones."""
    root = self.new_root("sfbadline")
    port = free_port()
    last = int(time.time()) - 3 * DAY
    write_file(os.path.join(root, "b.map"),
               "# the second rule is the one with history\n"
               "/sfb-new  /sfb-new-target  301\n/sfb-a  /sfb-target  301\n")
    write_file(os.path.join(root, "stats.dat"),
               "redirect307-stats 1 since=%d\n7\tnot-a-time\t/sfb-new\n"
               "42\t%d\t/sfb-a\n" % (last - DAY, last))
    c = sf_conf(root, [port], ["Redirect307StatsFile stats.dat"], "b.map")
    self.start("sfbadline", root, c, [port], info={
        "stats": os.path.join(root, "stats.dat"),
        "map": os.path.join(root, "b.map"), "last": last})


def _setup_sfprune(self):
    """Stats On with a history 200 days long, for prune --stats URL."""
    root = self.new_root("sfprune")
    port = free_port()
    now = int(time.time())
    path = os.path.join(root, "pr.map")
    write_file(path, PRUNE_RULES)
    old = now - 200 * DAY
    os.utime(path, (old, old))
    write_file(os.path.join(root, "stats.dat"),
               "redirect307-stats 1 since=%d\n9\t%d\t/pr-old\n"
               "3\t%d\t/pr-recent\n" % (old, old + DAY, now - DAY))
    c = sf_conf(root, [port], ["Redirect307StatsFile stats.dat"], "pr.map")
    self.start("sfprune", root, c, [port],
               info={"map": path, "old_last": old + DAY})


Suite.setup_statsfile = _setup_statsfile
Suite.setup_sfrestart = _setup_sfrestart
Suite.setup_sfcorrupt = _setup_sfcorrupt
Suite.setup_sfbadline = _setup_sfbadline
Suite.setup_sfprune = _setup_sfprune

SF_FOREIGN = "/not-stats  /but-a-rules-file  301\n"

PRUNE_RULES = """# prune against a live server
/pr-old              /pr-old-target                  301
/pr-recent           /pr-recent-target               301

/pr-never            /pr-never-target                301
/pr-live             /pr-live-target                 301
/pr-q?b=2&a=1        /pr-q-target                    302
"""


def stats_lines(text):
    """{key: (hits, last)} of a stats file's text; its first line apart."""
    lines = text.split("\n")
    out = {}
    for line in lines[1:]:
        if line:
            hits, last, key = line.split("\t")
            out[key] = (int(hits), int(last))
    return lines[0], out


def saved_stats(path):
    return stats_lines(read_bytes(path).decode("utf-8"))[1]


def live_stats(port):
    r = request(port, "/r307-status?stats")
    expect_eq(r.status, 200, "status of ?stats")
    expect((r.get("Content-Type") or "").startswith("text/plain"),
           "?stats Content-Type %s" % short(r.get("Content-Type")))
    return stats_lines(r.body.decode("utf-8"))


def wait_saved(path, key, hits, timeout):
    """Polls the stats file until key has `hits`; returns its entries."""
    def ok():
        return saved_stats(path).get(key, (0, 0))[0] == hits
    got = poll(ok, timeout, 0.2)
    expect(got, "%s: %s has %s after %.0fs, want %d hits"
           % (path, key, saved_stats(path).get(key), timeout, hits))
    return saved_stats(path)


def stop_with_k_stop(srv):
    """apache2 -k stop, then waits until the parent has gone."""
    pid = srv.read_pid()
    rc, out = run(srv.cmd("-k", "stop"), timeout=30)
    note("apache2 -k stop: exit %d %s" % (rc, out.strip()[-300:]))
    expect_eq(rc, 0, "apache2 -k stop exit status")
    expect(poll(lambda: not pid_alive(pid), 20, 0.05),
           "parent %d still runs 20 s after apache2 -k stop" % pid)


def rule_entry(table, ref):
    """The top entry of the rule FILE:LINE ref, or None."""
    for r in table.get("top", []):
        if r["rule"] == ref:
            return r
    return None


@check("statsfile_saved_every_interval")
def _():
    srv = S.server("statsfile")
    path = S.info["statsfile"]["stats"]
    for _ in range(3):
        expect_eq(request(srv.port, "/sf-int").status, 301, "status")
    t0 = time.monotonic()
    saved = wait_saved(path, "/sf-int", 3, SAVE_TIMEOUT)
    note("saved after %.1fs: %s" % (time.monotonic() - t0, short(saved)))
    expect(abs(saved["/sf-int"][1] - time.time()) < 120,
           "last hit %d is not now" % saved["/sf-int"][1])
    expect("/sf-never" not in saved, "a rule never hit has a line")
    head = read_bytes(path).split(b"\n")[0]
    expect(re.match(rb"^redirect307-stats 1 since=\d+$", head),
           "first line %s" % short(head))
    expect(not [f for f in os.listdir(os.path.dirname(path))
                if f.startswith("stats.dat.")], "temporary files left behind")


@check("statsfile_status_answers_the_file_format_summed_by_key")
def _():
    srv = S.server("statsfile")
    for host in ("v1.test", "v2.test"):
        expect_eq(request(srv.port, "/sf-shared", host=host).status, 301,
                  "status on %s" % host)
    expect_eq(request(srv.port, "/sf-q?a=1&b=2").status, 302, "query rule")
    head, live = live_stats(srv.port)
    note("?stats: %s %s" % (head, short(live, 600)))
    expect(re.match(r"^redirect307-stats 1 since=\d+$", head),
           "first line %s" % short(head))
    # two vhosts, two tables, one key: one line with both hits
    expect_eq(live.get("/sf-shared", (0, 0))[0], 2, "hits of /sf-shared")
    # the query in canonical order, whatever order the rule wrote
    expect_eq(live.get("/sf-q?a=1&b=2", (0, 0))[0], 1, "hits of the query rule")
    body = request(srv.port, "/r307-status?stats").body.decode()
    keys = [l.split("\t")[2] for l in body.split("\n")[1:] if l]
    expect_eq(keys, sorted(keys), "lines sorted by key")


@check("statsfile_saved_at_graceful_restart")
def _():
    srv = S.server("sfrestart")
    path = S.info["sfrestart"]["stats"]
    for _ in range(4):
        expect_eq(request(srv.port, "/sfr-a").status, 301, "status")
    expect(not os.path.exists(path), "saved before the restart with "
           "Redirect307StatsInterval 0")
    restart_and_wait(srv)
    saved = wait_saved(path, "/sfr-a", 4, 10)
    note("after the graceful: %s" % short(saved))


@check("statsfile_rule_on_another_line_keeps_its_count")
def _():
    srv = S.server("sfrestart")
    info = S.info["sfrestart"]
    ref = "%s:2" % info["map"]
    t = table_for(status_json(srv.port), info["map"])[1]
    before = rule_hits(t, ref)
    expect(before >= 4, "hits of /sfr-a %d before the edit" % before)
    old = os.stat(info["map"])
    # two lines above it and a new target: line 4 now, a table parsed anew
    write_file(info["map"], "# restart and stop checks\n# moved down\n"
               "/sfr-new  /sfr-new-target  301\n"
               "/sfr-a  /sfr-a-moved  301\n/sfr-b  /sfr-b-target  302\n")
    os.utime(info["map"], (old.st_atime, max(time.time(), old.st_mtime) + 2))
    since = graceful_new_generation(srv)
    expect(log_lines_with(srv, since, "parsed 3 rules", info["map"]),
           "map not parsed anew:\n%s" % srv.log_tail(10, since))
    t = table_for(status_json(srv.port), info["map"])[1]
    note("after the edit: %s" % short(t.get("top"), 600))
    expect_eq(rule_hits(t, "%s:4" % info["map"]), before,
              "hits of /sfr-a, now on line 4")
    expect_eq(t["hits"], before, "hits of the parsed map")
    r = request(srv.port, "/sfr-a")
    expect_redirect(r, 301, "%s/sfr-a-moved" % main_base(srv.port))
    t = table_for(status_json(srv.port), info["map"])[1]
    expect_eq(rule_hits(t, "%s:4" % info["map"]), before + 1,
              "hits after one more request")


@check("statsfile_saved_at_stop_and_loaded_at_start")
def _():
    srv = S.server("sfrestart")
    info = S.info["sfrestart"]
    path = info["stats"]
    for _ in range(2):
        expect_eq(request(srv.port, "/sfr-b").status, 302, "status")
    t = table_for(status_json(srv.port), info["map"])[1]
    a_hits = rule_hits(t, "%s:4" % info["map"])
    a_last = rule_entry(t, "%s:4" % info["map"])["last_hit"]
    expect(a_hits >= 5, "hits of /sfr-a %d" % a_hits)
    stop_with_k_stop(srv)
    saved = saved_stats(path)
    note("after apache2 -k stop: %s" % short(saved))
    expect_eq(saved.get("/sfr-a"), (a_hits, a_last), "saved /sfr-a")
    expect_eq(saved.get("/sfr-b", (0, 0))[0], 2, "saved hits of /sfr-b")
    try:
        srv.start()
    except hh.StartError as e:
        raise Failure(str(e))
    t = table_for(status_json(srv.port), info["map"])[1]
    note("after the start: %s" % short(t.get("top"), 600))
    expect_eq(rule_hits(t, "%s:4" % info["map"]), a_hits, "hits of /sfr-a")
    expect_eq(rule_entry(t, "%s:4" % info["map"])["last_hit"], a_last,
              "last hit of /sfr-a")
    expect_eq(rule_hits(t, "%s:5" % info["map"]), 2, "hits of /sfr-b")
    # a restart that keeps the table neither loads the file again nor
    # counts its hits twice
    graceful_new_generation(srv)
    t = table_for(status_json(srv.port), info["map"])[1]
    expect_eq(rule_hits(t, "%s:4" % info["map"]), a_hits,
              "hits of /sfr-a after a graceful")
    stop_with_k_stop(srv)
    expect_eq(saved_stats(path).get("/sfr-a"), (a_hits, a_last),
              "saved /sfr-a after the second stop")
    srv.start()


@check("statsfile_foreign_file_logged_ignored_not_overwritten")
def _():
    srv = S.server("sfcorrupt")
    path = S.info["sfcorrupt"]["stats"]
    text = srv.log_text()
    expect(re.search(r"AH30742: %s:1: not a redirect307 stats file"
                     % re.escape(path), text),
           "no error naming %s:1 in error.log:\n%s" % (path, srv.log_tail(10)))
    for _ in range(3):
        expect_eq(request(srv.port, "/sfc-a").status, 301, "status")
    t = table_for(status_json(srv.port), os.path.join(
        os.path.dirname(path), "c.map"))[1]
    expect_eq(t["hits"], 3, "hits counted as without a file")
    # the restart saves (hits were counted): the save is refused, the
    # foreign file stays what it was, and its error is logged once
    since = restart_and_wait(srv)
    expect(poll(lambda: log_lines_with(srv, since, "AH30747", path), 10),
           "no refused save after the restart:\n%s" % srv.log_tail(10, since))
    expect_eq(read_bytes(path).decode(), SF_FOREIGN, "the foreign file")
    expect_eq(srv.log_count("AH30742"), 1, "times the problem was logged")
    expect(srv.alive(), "server no longer runs")


@check("statsfile_bad_line_skipped_and_the_rest_loaded")
def _():
    srv = S.server("sfbadline")
    info = S.info["sfbadline"]
    expect(re.search(r"AH30743: %s:2: LAST is not a number of seconds; 1 bad "
                     r"line skipped" % re.escape(info["stats"]), srv.log_text()),
           "no warning naming %s:2:\n%s" % (info["stats"], srv.log_tail(10)))
    t = table_for(status_json(srv.port), info["map"])[1]
    e = rule_entry(t, "%s:3" % info["map"])
    note("status page: %s" % short(t, 800))
    expect(e, "/sfb-a not among the top rules")
    expect_eq((e["hits"], e["last_hit"]), (42, info["last"]),
              "hits and last hit shown for /sfb-a")
    expect_eq(rule_hits(t, "%s:2" % info["map"]), 0, "hits of /sfb-new")
    html = request(srv.port, "/r307-status").body.decode("utf-8", "replace")
    expect("<td>42</td>" in html, "HTML page does not show the 42 hits")


def prune_live(port, *args):
    rc, out = run_split([CLI, "prune", S.info["sfprune"]["map"], "--stats",
                         "http://%s:%d/r307-status" % (LOOPBACK, port)]
                        + list(args))
    return rc, out


def run_split(argv):
    """Runs argv; (exit status, (stdout, stderr))."""
    import subprocess
    expect(os.path.exists(argv[0]), "%s does not exist (make builds it)"
           % argv[0])
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=60)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8",
                                                                    "replace")
    note("%s: exit %d\n--stdout--\n%s--stderr--\n%s"
         % (" ".join(argv[1:]), p.returncode, out, err))
    return p.returncode, (out, err)


@check("prune_stats_url_against_live_server")
def _():
    srv = S.server("sfprune")
    path = S.info["sfprune"]["map"]
    expect_eq(request(srv.port, "/pr-live").status, 301, "status")
    expect_eq(request(srv.port, "/pr-q?a=1&b=2").status, 302, "status")
    rc, (out, err) = prune_live(srv.port, "--unused-for", "90d")
    expect_eq(rc, 0, "exit status")
    want = PRUNE_RULES.replace(
        "/pr-old              /pr-old-target                  301\n", "").replace(
        "/pr-never            /pr-never-target                301\n", "")
    expect_eq(out, want, "rules written")
    lines = err.splitlines()
    old_last = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                             time.gmtime(S.info["sfprune"]["old_last"]))
    expect_eq(lines, ["%s:2: removed: last hit %s" % (path, old_last),
                      "%s:5: removed: never hit" % path,
                      "redirect307: 2 of 5 rules removed (2 not hit for 90d, "
                      "0 expired)"], "report on stderr")
    # the status handler's URL is checked, not guessed
    rc, (out, err) = run_split([CLI, "prune", path, "--stats",
                                "http://%s:%d/no-such-handler" % (LOOPBACK,
                                                                   srv.port),
                                "--unused-for", "90d"])
    expect(rc == 2 and "not 200" in err and out == "",
           "a 404 URL: exit %d, stderr %s" % (rc, short(err)))


SF_CONFIG_ERRORS = [
    ("statsfile_no_such_directory",
     "Redirect307StatsFile /nonexistent-r307-dir/stats.dat"),
    ("statsinterval_not_a_number", "Redirect307StatsInterval soon"),
    ("statsinterval_negative", "Redirect307StatsInterval -5"),
]

for _name, _directive in SF_CONFIG_ERRORS:
    check("inline_error_" + _name)(
        lambda name=_name, d=_directive: inline_error(
            "inline-" + name.replace("_", "-"), d))


@check("inline_error_statsfile_in_virtualhost")
def _():
    conf, marks = ConfigTests.conf("inline-statsfile-vhost", [
        "<VirtualHost %s:80>" % LOOPBACK,
        ("    Redirect307StatsFile stats.dat", "bad"),
        "</VirtualHost>"])
    rc, out = ConfigTests.test(conf)
    expect(rc != 0, "apache2 -t exited 0")
    expect(re.search(r"line %d of %s" % (marks["bad"], re.escape(conf)), out)
           and "VirtualHost" in out,
           "output does not name line %d and <VirtualHost>:\n%s"
           % (marks["bad"], out.strip()[-800:]))



# Checks: missed URLs (Redirect307Missed, issue 15)
# ---------------------------------------------------------------------------

MISSED_SIZE = 50        # missed.test: the checks' paths all fit
FLOOD_SIZE = 100        # flood.test: 400 slots; 100,000 singletons leave
                        # every bucket's smallest count near 250, far
                        # under the hot path's 500
FLOOD_SINGLETONS = 100000
FLOOD_HOT = 500
FLOOD_CONNECTIONS = 8


def _setup_missed(self):
    """Name-based vhosts on one port: missed.test counts its 404s (ignore
    patterns, MissedSize 50) and has 404s from several producers and
    other statuses; quiet.test has Missed Off; flood.test counts with
    MissedSize 100 for the top-K check.  MaxKeepAliveRequests 0 lets that
    check pipeline thousands of requests on one connection."""
    root = self.new_root("missed")
    port = free_port()
    docroot = os.path.join(root, "htdocs")
    write_file(os.path.join(docroot, "exists.txt"), "here\n")
    write_file(os.path.join(docroot, "notfound.html"), "<p>our own 404 page</p>\n")
    os.chmod(docroot, 0o755)
    c = base_conf(root, [port], self.module, docroot)
    c.add("<IfModule !rewrite_module>\n    LoadModule rewrite_module "
          "%s/mod_rewrite.so\n</IfModule>" % hh.MODULE_DIR)
    c.add("MaxKeepAliveRequests 0")
    c.add("<Location /r307-status>\n    SetHandler redirect307-status\n"
          "</Location>", tag="module")
    c.add("<VirtualHost %s:%d>" % (LOOPBACK, port))
    c.add("    ServerName missed.test")
    c.add("    Redirect307Missed On", tag="module")
    c.add("    Redirect307MissedSize %d" % MISSED_SIZE, tag="module")
    c.add("    Redirect307MissedIgnore *.php /wp-login*", tag="module")
    c.add("    Redirect307MissedIgnore /.env", tag="module")
    c.add("    Redirect307 301 /r307-old /exists.txt", tag="module")
    c.add("    Redirect 301 /moved /exists.txt")
    c.add("    Redirect gone /gone-alias")
    c.add("    RewriteEngine On\n    RewriteRule ^/rw404/ - [R=404]")
    # per-directory: an internal redirect to a missing path (the request's
    # own status stays 200; the one it was redirected to ends 404)
    c.add("    <Directory %s>\n        RewriteEngine On\n        RewriteRule "
          "^rwint/(.*)$ /nothing-here/$1 [L]\n    </Directory>" % docroot)
    c.add("    <Location /errdoc/>\n        ErrorDocument 404 /notfound.html\n"
          "    </Location>")
    c.add("    <Location /denied>\n        Require all denied\n    </Location>")
    c.add("</VirtualHost>")
    c.add("<VirtualHost %s:%d>" % (LOOPBACK, port))
    c.add("    ServerName quiet.test")
    c.add("    Redirect307Missed Off", tag="module")
    c.add("</VirtualHost>")
    c.add("<VirtualHost %s:%d>" % (LOOPBACK, port))
    c.add("    ServerName flood.test")
    c.add("    Redirect307Missed On", tag="module")
    c.add("    Redirect307MissedSize %d" % FLOOD_SIZE, tag="module")
    c.add("</VirtualHost>")
    self.start("missed", root, c, [port],
               info={"conf": os.path.join(root, "httpd.conf"), "root": root})


Suite.setup_missed = _setup_missed


def missed_get(path, host="missed.test", headers=()):
    return request(S.server("missed").port, path, host=host, headers=headers)


def missed_server(name="missed.test"):
    """The status page's JSON object for server `name`."""
    data = status_json(S.server("missed").port, host="missed.test")
    ent = server_entries(data, name)
    expect_eq(len(ent), 1, "server objects named %s" % name)
    return ent[0]


def missed_entry(obj, path):
    for e in obj.get("missed", []):
        if e["path"] == path:
            return e
    return None


def missed_wait(path, count, name="missed.test"):
    """Polls the status page until `path` has `count` requests (a request
    is counted once it is logged, just after its answer went out)."""
    def got():
        e = missed_entry(missed_server(name), path)
        return e if e and e["count"] >= count else None
    e = poll(got, 10, 0.05)
    expect(e, "%s not counted %d times within 10s: %s"
           % (path, count, short(missed_entry(missed_server(name), path))))
    expect_eq(e["count"], count, "count of %s" % path)
    return e


def missed_sentinel():
    """A 404 sent after the requests of a check and waited for: what they
    left in the tables is there once it is."""
    path = "/" + unique("sentinel-")
    expect_eq(missed_get(path).status, 404, "status of the sentinel")
    missed_wait(path, 1)
    return path


@check("missed_static_404_counted_by_path_without_query")
def _():
    path = "/" + unique("ms-static-")
    t0 = int(time.time())
    for suffix in ("?a=1", "?b=2&c", ""):
        expect_eq(missed_get(path + suffix).status, 404, "status")
    e = missed_wait(path, 3)
    expect_eq(e["error"], 0, "error of a path that found a free slot")
    expect(t0 - 1 <= e["first"] <= e["last"] <= int(time.time()) + 1,
           "first %d, last %d, around %d" % (e["first"], e["last"], t0))
    for other in missed_server()["missed"]:
        expect("?" not in other["path"], "a query kept: %r" % other["path"])


@check("missed_errordocument_counts_the_original_path")
def _():
    path = "/errdoc/" + unique("gone-")
    before = missed_entry(missed_server(), "/notfound.html")
    r = missed_get(path)
    expect_eq(r.status, 404, "status")
    expect(b"our own 404 page" in r.body, "ErrorDocument not served: %s"
           % short(r.body))
    missed_wait(path, 1)
    expect_eq(missed_entry(missed_server(), "/notfound.html"), before,
              "the error document's own path")


@check("missed_rewrite_404s_counted_by_the_requested_path")
def _():
    path = "/rw404/" + unique("x")
    expect_eq(missed_get(path).status, 404, "status of RewriteRule [R=404]")
    missed_wait(path, 1)
    name = unique("y")
    expect_eq(missed_get("/rwint/" + name).status, 404,
              "status of an internal redirect to a missing path")
    missed_wait("/rwint/" + name, 1)
    expect(missed_entry(missed_server(), "/nothing-here/" + name) is None,
           "the internal redirect's path counted")


@check("missed_other_statuses_not_counted")
def _():
    counted = missed_server()["missed_table"]["counted"]
    for path, status in (("/exists.txt", 200), ("/moved", 301),
                         ("/r307-old", 301), ("/gone-alias", 410),
                         ("/denied", 403)):
        expect_eq(missed_get(path).status, status, "status of %s" % path)
    missed_sentinel()
    obj = missed_server()
    expect_eq(obj["missed_table"]["counted"], counted + 1,
              "404s counted (only the sentinel)")
    for path in ("/exists.txt", "/moved", "/r307-old", "/gone-alias", "/denied"):
        expect(missed_entry(obj, path) is None, "%s listed" % path)


@check("missed_ignore_patterns_leave_out_probes")
def _():
    tag = unique("mi")
    ignored = missed_server()["missed_table"]["ignored"]
    probes = ("/%s/deep/x.php" % tag, "/wp-login.php?%s" % tag,
              "/wp-login-%s" % tag, "/.env")
    kept = ("/%s-php-notes" % tag, "/%s.php5" % tag)
    for path in probes + kept:
        expect_eq(missed_get(path).status, 404, "status of %s" % path)
    for path in kept:
        missed_wait(path, 1)
    obj = missed_server()
    expect_eq(obj["missed_table"]["ignored"], ignored + len(probes),
              "404s left out by Redirect307MissedIgnore")
    for path in probes:
        expect(missed_entry(obj, path.split("?")[0]) is None,
               "probe %s listed" % path)


@check("missed_off_vhost_not_counted")
def _():
    path = "/" + unique("mq-")
    for _ in range(2):
        expect_eq(missed_get(path, host="quiet.test").status, 404, "status")
    missed_sentinel()
    quiet = missed_server("quiet.test")
    expect_eq(quiet["missed"], [], "quiet.test's missed URLs")
    expect("missed_table" not in quiet, "quiet.test has a table")
    expect(missed_entry(missed_server(), path) is None,
           "quiet.test's 404 listed under missed.test")
    main = status_json(S.server("missed").port, host="missed.test")["servers"][0]
    expect_eq(main["missed"], [], "the main server's missed URLs")


@check("missed_first_last_and_majority_referrer")
def _():
    path = "/" + unique("mref-")
    for ref in ("http://a.example/x", "https://B.Example:8443/y",
                "http://a.example/z?q", None, "https://b.example/",
                "http://a.example/"):
        hdrs = ["Referer: %s" % ref] if ref else []
        expect_eq(missed_get(path, headers=hdrs).status, 404, "status")
    e = missed_wait(path, 6)
    expect_eq(e["referrer"], "a.example", "majority referrer (3 of 5)")
    other = "/" + unique("mref-b-")
    for ref in ("http://a.example/", "http://b.example/1",
                "http://b.example/2", "http://b.example/3"):
        missed_get(other, headers=["Referer: %s" % ref])
    expect_eq(missed_wait(other, 4)["referrer"], "b.example",
              "majority referrer (3 of 4)")
    lone = "/" + unique("mref-none-")
    missed_get(lone)
    expect_eq(missed_wait(lone, 1)["referrer"], None, "referrer of no Referer")
    # last moves on, first stays: one more request in a later second
    first = e["first"]
    expect(poll(lambda: int(time.time()) > e["last"], 2, 0.02),
           "the clock did not pass %d" % e["last"])
    missed_get(path)
    e2 = missed_wait(path, 7)
    expect_eq(e2["first"], first, "first after one more request")
    expect(e2["last"] > e["last"], "last %d, before %d" % (e2["last"], e["last"]))


MISSED_RULE_LINE = re.compile(r"^(\S+)  TARGET-HERE  # (\d+) requests, "
                              r"last (\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$")

# Request paths whose decoded form needs escaping again as a SOURCE; what
# the request sent is what ?missed=rules must write.
MISSED_ODD_PATHS = ["/mr-sp%20ace", "/mr-h%23ash", "/mr-q%3Fx", "/mr-pct%25",
                    "/mr-caf%C3%A9", "/mr-bad%FF"]


def missed_rules(server="missed.test"):
    r = missed_get("/r307-status?missed=rules&server=" + server)
    expect_eq(r.status, 200, "status of ?missed=rules")
    ctype = r.get("Content-Type") or ""
    expect(ctype.startswith("text/plain"), "Content-Type %r" % ctype)
    return r.body.decode("ascii")


@check("missed_json_shape_and_escaping")
def _():
    tag = unique("mj")
    odd = ["%s-%s" % (p, tag) for p in MISSED_ODD_PATHS]
    for p in odd:
        expect_eq(missed_get(p).status, 404, "status of %s" % p)
    missed_sentinel()
    obj = missed_server()
    missed = obj["missed"]
    expect(0 < len(missed) <= MISSED_SIZE, "%d listed" % len(missed))
    types = {"path": str, "source": str, "count": int, "error": int,
             "first": int, "last": int, "truncated": bool, "has_rule": bool}
    for e in missed:
        expect_eq(sorted(e), sorted(list(types) + ["referrer"]), "keys")
        for k, t in types.items():
            expect(isinstance(e[k], t), "%s of %r: %r" % (k, e["path"], e[k]))
        expect(e["referrer"] is None or isinstance(e["referrer"], str),
               "referrer %r" % e["referrer"])
        expect(e["count"] >= 1 and e["first"] <= e["last"], short(e))
    counts = [e["count"] for e in missed]
    expect_eq(counts, sorted(counts, reverse=True), "order of counts")
    tab = obj["missed_table"]
    expect_eq((tab["size"], tab["slots"]), (MISSED_SIZE, 4 * MISSED_SIZE),
              "size and slots")
    expect(tab["bytes"] > 4 * MISSED_SIZE * 256, "bytes %d" % tab["bytes"])
    by_source = {e["source"]: e for e in missed}
    for p in odd:
        expect(p in by_source, "no source %s in %s" % (p, sorted(by_source)))
    decoded = {p: by_source[p]["path"] for p in odd}
    expect_eq(decoded[odd[0]], "/mr-sp ace-" + tag, "decoded path")
    expect_eq(decoded[odd[4]], "/mr-caf\u00e9-" + tag, "UTF-8 path")
    expect_eq(decoded[odd[5]], "/mr-bad\ufffd-" + tag, "invalid UTF-8 in JSON")


@check("missed_rules_skeleton_format_and_order")
def _():
    tag = unique("mr")
    paths = {"/mr-a-" + tag: 3, "/mr-b-" + tag: 2, "/mr-c-" + tag: 1}
    for path, n in paths.items():
        for _ in range(n):
            missed_get(path)
    longp = "/mr-long-%s/" % tag + "x" * 300
    missed_get(longp)
    for path, n in paths.items():
        missed_wait(path, n)
    text = missed_rules()
    lines = text.splitlines()
    expect(lines and lines[0].startswith("# missed.test"), "first line %r"
           % (lines[:1],))
    order, counts, now = [], [], time.time()
    for line in lines[1:]:
        if line.startswith("# "):
            expect(line.startswith("# /mr-long-" + tag)
                   and "(path longer than 256 bytes, cut)" in line,
                   "comment line %r" % line)
            continue
        m = MISSED_RULE_LINE.match(line)
        expect(m, "not PATH  TARGET-HERE  # N requests, last TIME: %r" % line)
        order.append(m.group(1))
        counts.append(int(m.group(2)))
        when = calendar.timegm(tuple(int(x) for x in m.groups()[2:]))
        expect(when <= now + 1, "last %s in the future" % line)
    expect_eq(counts, sorted(counts, reverse=True), "order of counts")
    for path, n in paths.items():
        expect(path in order, "%s not in ?missed=rules:\n%s" % (path, text))
        expect_eq(counts[order.index(path)], n, "count of %s" % path)
    expect(order.index("/mr-a-" + tag) < order.index("/mr-b-" + tag)
           < order.index("/mr-c-" + tag), "most requested first")
    expect("# /mr-long-%s/%s" % (tag, "x" * 40) in text, "cut path not "
           "written as a comment")
    everything = missed_get("/r307-status?missed=rules").body.decode("ascii")
    expect("# flood.test" in everything and "# missed.test" in everything,
           "?missed=rules without server= lacks a server:\n%s"
           % everything[:300])
    expect("# quiet.test" not in everything, "quiet.test listed")
    expect_eq(missed_get("/r307-status?missed=rules&server=nowhere.test").status,
              404, "?missed=rules for an unknown server")


@check("missed_rules_filled_in_redirect_the_missed_urls")
def _():
    """The skeleton with its TARGET-HEREs filled in, loaded by httpd,
    answers each request that was missed: the sources are the paths."""
    tag = unique("mt")
    sent = ["%s-%s" % (p, tag) for p in MISSED_ODD_PATHS] + ["/mt-plain-" + tag]
    for p in sent:
        expect_eq(missed_get(p).status, 404, "status of %s" % p)
    missed_wait("/mt-plain-" + tag, 1)
    rules, targets = [], {}
    for line in missed_rules().splitlines():
        m = MISSED_RULE_LINE.match(line)
        if m and tag in m.group(1):
            targets[m.group(1)] = "/found/%d" % len(targets)
            rules.append(line.replace("TARGET-HERE", targets[m.group(1)]))
    expect_eq(sorted(targets), sorted(sent), "paths in ?missed=rules")
    root = S.new_root("missed-rt")
    write_file(os.path.join(root, "todo.rules"), "\n".join(rules) + "\n")
    port = free_port()
    c = base_conf(root, [port], S.module, os.path.join(root, "run"))
    c.add("Redirect307Map todo.rules")
    srv = S.start("missed_rt", root, c, [port])
    for p in sent:
        r = request(srv.port, p)
        expect_redirect(r, 307, "http://%s:%d%s" % (LOOPBACK, port, targets[p]))


@check("missed_status_page_escapes_a_hostile_path")
def _():
    tag = unique("mh")
    hostile = "/mh-%s-%%3Cscript%%3Ealert(1)%%3C/script%%3E" % tag
    amp = "/mh-%s-a&b%%22c" % tag
    missed_get(hostile, headers=["Referer: http://evil<b>.example/"])
    missed_get(amp)
    missed_wait("/mh-%s-<script>alert(1)</script>" % tag, 1)
    missed_wait('/mh-%s-a&b"c' % tag, 1)
    r = missed_get("/r307-status")
    html = r.body.decode("utf-8")
    expect("<script>" not in html and "<b>" not in html,
           "raw markup from a request on the status page")
    expect("/mh-%s-%%3Cscript%%3Ealert(1)%%3C/script%%3E" % tag in html,
           "the hostile path is not shown escaped")
    expect("/mh-%s-a&amp;b%%22c" % tag in html, "& not escaped")
    expect("evil&lt;b&gt;.example" in html, "referrer not escaped")
    at = html.find("<h2>missed.test")
    expect(at >= 0 and "Missed URLs" in html[at:], "no Missed URLs section")
    expect(re.search(r"in \d+ bytes of shared memory", html[at:]),
           "the section does not say how much memory the table takes")


def pipelined_404s(port, host, paths):
    """Sends GET paths on one keep-alive connection all at once (a thread
    reads the answers meanwhile); returns how many were 404s."""
    reqs = [b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (p.encode(), host.encode())
            for p in paths]
    reqs.append(b"GET /exists.txt HTTP/1.1\r\nHost: %s\r\nConnection: close"
                b"\r\n\r\n" % host.encode())
    sock = socket.create_connection((LOOPBACK, port), timeout=60)
    got = []

    def reader():
        buf = bytearray()
        while True:
            try:
                chunk = sock.recv(1 << 20)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
        got.append(bytes(buf))
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        sock.sendall(b"".join(reqs))
        t.join(60)
    finally:
        sock.close()
    return got[0].count(b"HTTP/1.1 404 Not Found\r\n") if got else 0


@check("missed_top_k_keeps_a_hot_path_through_100k_singletons")
def _():
    srv = S.server("missed")
    tag = unique("mf")
    hot = "/hot-" + tag
    before = missed_server("flood.test")["missed_table"]
    t0 = time.monotonic()
    expect_eq(pipelined_404s(srv.port, "flood.test", [hot] * FLOOD_HOT),
              FLOOD_HOT, "404s for the hot path")
    share = FLOOD_SINGLETONS // FLOOD_CONNECTIONS
    results = [0] * FLOOD_CONNECTIONS

    def flood(k):
        paths = ["/flood/%s-%d" % (tag, i)
                 for i in range(k * share, (k + 1) * share)]
        results[k] = pipelined_404s(srv.port, "flood.test", paths)
    threads = [threading.Thread(target=flood, args=(k,), daemon=True)
               for k in range(FLOOD_CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    expect_eq(sum(results), share * FLOOD_CONNECTIONS, "404s for the singletons")
    total = before["counted"] + FLOOD_HOT + share * FLOOD_CONNECTIONS
    expect(poll(lambda: missed_server("flood.test")["missed_table"]["counted"]
                >= total, 20, 0.1), "not every 404 counted within 20s")
    obj = missed_server("flood.test")
    note("%d requests in %.1fs; table %s" % (total - before["counted"],
                                            time.monotonic() - t0,
                                            obj["missed_table"]))
    tab = obj["missed_table"]
    expect_eq(tab["counted"], total, "404s counted")
    for k in ("size", "slots", "bytes"):
        expect_eq(tab[k], before[k], "missed_table %s after the flood" % k)
    expect_eq(len(obj["missed"]), FLOOD_SIZE, "paths listed")
    top = obj["missed"][0]
    expect_eq((top["path"], top["count"], top["error"]), (hot, FLOOD_HOT, 0),
              "the top entry")
    rest = obj["missed"][1:]
    expect(all(e["path"].startswith("/flood/" + tag) for e in rest),
           "unexpected paths in the list: %s" % short([e["path"] for e in rest]))
    expect(all(e["count"] <= 2 for e in rest),
           "a singleton counted more than twice: %s"
           % short([e for e in rest if e["count"] > 2]))
    expect(tab["dropped"] < FLOOD_SINGLETONS // 100,
           "%d counts dropped" % tab["dropped"])


@check("missed_counts_survive_graceful_restart")
def _():
    """A graceful restart that adds a rule to missed.test (moving the
    vhosts after it down a line) keeps every count; the path the new rule
    answers stays listed, marked, and leaves ?missed=rules."""
    srv = S.server("missed")
    tag = unique("mg")
    path, fixed, other = "/mg-p-" + tag, "/mg-q-" + tag, "/mg-f-" + tag
    for _ in range(3):
        missed_get(path, headers=["Referer: http://kept.example/"])
    for _ in range(2):
        missed_get(fixed)
    for _ in range(3):      # above the flood check's singletons
        missed_get(other, host="flood.test")
    e, q = missed_wait(path, 3), missed_wait(fixed, 2)
    f = missed_wait(other, 3, name="flood.test")
    expect_eq(q["has_rule"], False, "has_rule before the rule")
    conf = S.info["missed"]["conf"]
    with open(conf) as fh:
        text = fh.read()
    anchor = "    Redirect307 301 /r307-old /exists.txt\n"
    expect(anchor in text, "no %r in the configuration" % anchor)
    write_file(conf, text.replace(anchor, anchor + "    Redirect307 301 %s "
                                  "/exists.txt\n" % fixed))
    graceful_new_generation(srv)
    expect_eq(missed_entry(missed_server(), path), e, "the entry after the graceful")
    expect_eq(missed_entry(missed_server("flood.test"), other), f,
              "flood.test's entry after its <VirtualHost> moved down a line")
    expect_eq(missed_get(fixed).status, 301, "the path with a rule now")
    missed_get(path)
    missed_wait(path, 4)
    q2 = missed_entry(missed_server(), fixed)
    expect_eq(q2, dict(q, has_rule=True), "the entry of the path with a rule")
    text = missed_rules()
    expect(path in text and fixed not in text,
           "?missed=rules still lists %s, or not %s:\n%s" % (fixed, path, text))
    expect(re.search(r"^# \(and [1-9]\d* that a rule answers now\)$", text,
                     re.M), "no line counting the paths left out")


@check("missed_size_change_starts_afresh")
def _():
    """Last of the missed checks: it changes missed.test's MissedSize."""
    srv = S.server("missed")
    info = S.info["missed"]
    path = "/" + unique("mz-")
    missed_get(path)
    missed_wait(path, 1)
    flood = missed_server("flood.test")["missed_table"]
    with open(info["conf"]) as f:
        text = f.read()
    old = "Redirect307MissedSize %d" % MISSED_SIZE
    expect(old in text, "no %r in the configuration" % old)
    write_file(info["conf"], text.replace(old, "Redirect307MissedSize %d"
                                          % (MISSED_SIZE + 10)))
    since = graceful_new_generation(srv)
    expect(log_lines_with(srv, since, "Redirect307MissedSize is now %d"
                          % (MISSED_SIZE + 10), "counted afresh"),
           "no 'counted afresh' line:\n%s" % srv.log_tail(8, since))
    obj = missed_server()
    expect_eq(obj["missed_table"]["size"], MISSED_SIZE + 10, "size")
    expect(missed_entry(obj, path) is None, "%s kept across a resize" % path)
    expect_eq(missed_server("flood.test")["missed_table"]["counted"],
              flood["counted"], "flood.test (size unchanged) kept its counts")


# ---------------------------------------------------------------------------
# Last: no child crashed during all the above
# ---------------------------------------------------------------------------

@check("no_child_process_crashed")
def _():
    """httpd logs a child that died of a signal (AH00052 exit signal)."""
    if not S.servers:
        S.server("main")
    crashes = []
    for srv in S.servers.values():
        crashes += ["%s: %s" % (srv.name, l) for l in srv.log_text().splitlines()
                    if "exit signal" in l or "AH00052" in l]
    expect(not crashes, "%d crash(es): %s" % (len(crashes), short(crashes[:3], 800)))


# ---------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------

def run_checks(doc, checks, make_suite):
    """The command line and the run of a file of checks: each check whose
    name holds -k's text, "ok"/"FAIL" per check, the count, and the exit
    status.  make_suite(args) makes the Suite (S) the checks use."""
    global S
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--module", required=True, help="path to mod_redirect307.so")
    ap.add_argument("--apache", default="/usr/sbin/apache2", help="httpd binary")
    ap.add_argument("-k", dest="only", default="", help="run checks whose name contains this")
    ap.add_argument("-v", dest="verbose", action="store_true", help="print what each check did")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs (debugging)")
    args = ap.parse_args()

    S = make_suite(args)
    atexit.register(S.cleanup)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(130))

    passed = failed = 0
    start = time.monotonic()
    try:
        for name, fn in checks:
            if args.only and args.only not in name:
                continue
            T.lines = []
            S.used = []
            t0 = time.monotonic()
            try:
                fn()
            except Failure as e:
                failed += 1
                print("FAIL %s: %s" % (name, str(e).split("\n")[0]))
                report_failure(str(e), args.verbose)
            except Exception as e:  # a harness bug still counts as a failure
                failed += 1
                print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
                report_failure("", args.verbose)
                if args.verbose:
                    import traceback
                    traceback.print_exc(file=sys.stdout)
            else:
                passed += 1
                print("ok   %s" % name)
                if args.verbose:
                    for line in T.lines:
                        print("    " + line)
                    print("    (%.2fs)" % (time.monotonic() - t0))
            sys.stdout.flush()
    finally:
        S.cleanup()
    if args.verbose:
        print("(%.1fs)" % (time.monotonic() - start))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


def main():
    return run_checks(__doc__, CHECKS, Suite)


def report_failure(message, verbose):
    rest = message.split("\n")[1:]
    for line in rest:
        print("    " + line)
    for line in (T.lines if verbose else T.lines[-8:]):
        print("    " + line)
    for srv, since in S.used:
        tail = srv.log_tail(12, since)
        if tail:
            print("    %s error.log during the check:" % srv.name)
            print(tail)
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
