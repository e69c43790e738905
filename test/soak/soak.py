#!/usr/bin/env python3
"""Soak test for mod_redirect307 (`make soak`, never part of `make test`).

Part 1, graceful soak: one httpd (mpm_event) with a ~100,000-rule map on a
free loopback port.  wrk (-t32 -c32, one connection per wrk thread, so that
test/soak/soak.lua checks every response against its own request) sends a
mix of hits, misses and POSTs for 60 s while this script runs 20
`apache2 -k graceful` restarts (alternately an edited map and the same map,
ending on the original) plus one graceful with a broken map, which must be
refused (non-zero exit, nothing signalled, the old rules keep answering).
Alongside wrk, 4 threads send requests with `Connection: close` (a new
connection each): any of those that fails (refused, reset, no or partial
response, wrong status or Location) is a dropped request.  A wrk request
that got no response is looked up in httpd's access log (every request
carries X-Soak-Id): logged means httpd answered it and the answer was lost;
not logged means httpd closed the keep-alive connection before reading it.
PSS (parent and children, /proc/PID/smaps_rollup) is measured after a
warm-up and after the soak, once the last restart has settled.

Part 2, miss run: a fresh server gets 100,000 requests to distinct random
miss paths (4 keep-alive clients, after a warm-up); the RSS and PSS of each
child (MaxConnectionsPerChild 0, a fixed number of children) before and
after must stay within 5%.

    python3 test/soak/soak.py --module /abs/.libs/mod_redirect307.so \
        [--apache /usr/sbin/apache2] [--wrk wrk] [--quick] [--keep]

Prints one results table and PASS/FAIL lines.  Exit status 1 when a
correctness target fails (unexpected statuses, dropped requests, socket
errors of the Connection: close client, a graceful that was not refused or
did not take effect, a crashed child); the memory targets only warn.
Every server is stopped by the pid in its PidFile, whatever happens
(test/httpd_harness.py starts and stops them).

Python 3 standard library only.
"""

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))          # test/: httpd_harness
import httpd_harness as hh  # noqa: E402
from httpd_harness import (LOOPBACK, free_port, poll, read_text,  # noqa: E402
                           write_file, children_of)

LUA = os.path.join(HERE, "soak.lua")
START_TIMEOUT = 30.0
IO_TIMEOUT = 30.0          # the machine is shared: be patient, not flaky

BASE_MODULES = hh.CORE_MODULES + [hh.MIME_MODULE, hh.LOG_CONFIG_MODULE,
                                  hh.DIR_MODULE]

RESUMING = "resuming normal operations"
SIGUSR1 = "SIGUSR1 received"
CRASH_RE = re.compile(r"exit signal|AH00052|AH00060|seg(mentation)? ?fault", re.I)


def log(msg):
    print("[soak %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


# ---------------------------------------------------------------------------
# Small helpers (ports, files, processes: test/httpd_harness.py)
# ---------------------------------------------------------------------------

def mib(kb):
    return "%.1f MiB" % (kb / 1024.0)


# ---------------------------------------------------------------------------
# Memory of a process tree
# ---------------------------------------------------------------------------

def mem_of(pid):
    """(Rss, Pss, Private_Clean + Private_Dirty) in kB from
    /proc/PID/smaps_rollup, or None."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            text = f.read()
    except OSError:
        return None
    rss = re.search(r"^Rss:\s+(\d+) kB", text, re.M)
    pss = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
    if not rss or not pss:
        return None
    priv = sum(int(v) for v in re.findall(r"^Private_(?:Clean|Dirty):\s+(\d+) kB",
                                          text, re.M))
    return int(rss.group(1)), int(pss.group(1)), priv


def tree_mem(parent):
    """[(pid, role, rss, pss, private)] for the parent and each child."""
    rows = []
    m = mem_of(parent)
    if m:
        rows.append((parent, "parent") + m)
    for pid in children_of(parent):
        m = mem_of(pid)
        if m:
            rows.append((pid, "child") + m)
    return rows


# ---------------------------------------------------------------------------
# The rules and the requests that go with them (soak.lua mirrors this)
# ---------------------------------------------------------------------------

class Rules:
    def __init__(self, exact, prefix, query, gone, edit_mod=3):
        self.exact, self.prefix, self.query, self.gone = exact, prefix, query, gone
        self.edit_mod = edit_mod

    @property
    def total(self):
        return self.exact + self.prefix + self.query + self.gone

    def env(self):
        return {"SOAK_EXACT": str(self.exact), "SOAK_PREFIX": str(self.prefix),
                "SOAK_QUERY": str(self.query), "SOAK_GONE": str(self.gone),
                "SOAK_EDIT_MOD": str(self.edit_mod)}

    def text(self, edited):
        """The map; `edited` sends the rules N % edit_mod == 0 to /newer..."""
        em = self.edit_mod
        out = ["# soak map (%s): %d rules" % ("edited" if edited else "original",
                                              self.total)]

        def new(n):
            return "/newer" if edited and n % em == 0 else "/new"
        for n in range(self.exact):
            out.append("/old/%d  %s/%d%s" % (n, new(n), n,
                                              "  308" if n % 10 == 7 else ""))
        for n in range(self.prefix):
            out.append("/pre/%d/*  %spre/%d/*" % (n, new(n), n))
        for n in range(self.query):
            out.append("/q/%d?id=%d&v=1  %sq/%d" % (n, n, new(n), n))
        for n in range(self.gone):
            out.append("/gone/%d  -  410" % n)
        return "\n".join(out) + "\n"

    def targets(self, base, family, n, rest):
        one = "%s/new%s%d%s" % (base, family, n, rest)
        if n % self.edit_mod == 0:
            return one, "%s/newer%s%d%s" % (base, family, n, rest)
        return one, None

    def pick(self, rng, base, tag, seq):
        """(kind, method, path, body, status, loc1, loc2), as soak.lua."""
        r = rng.random()
        k = rng.randint(0, 999999)
        status_of = lambda n: 308 if n % 10 == 7 else 307
        if r < 0.30:
            n = rng.randint(0, self.exact - 1)
            return ("hit-exact", "GET", "/old/%d" % n, None, status_of(n)) \
                + self.targets(base, "/", n, "")
        if r < 0.40:
            n = rng.randint(0, self.exact - 1)
            q = "?src=soak%d" % k
            return ("hit-exact-qs", "GET", "/old/%d%s" % (n, q), None,
                    status_of(n)) + self.targets(base, "/", n, q)
        if r < 0.50:
            n = rng.randint(0, self.prefix - 1)
            rest = "/a%d/b%d" % (k, k % 97)
            return ("hit-prefix", "GET", "/pre/%d%s" % (n, rest), None, 307) \
                + self.targets(base, "pre/", n, rest)
        if r < 0.58:
            n = rng.randint(0, self.query - 1)
            return ("hit-query", "GET", "/q/%d?v=1&id=%d" % (n, n), None, 307) \
                + self.targets(base, "q/", n, "")
        if r < 0.60:
            n = rng.randint(0, self.gone - 1)
            return ("hit-gone", "GET", "/gone/%d" % n, None, 410, None, None)
        if r < 0.80:
            m = rng.randint(1, 6)
            if m == 1:
                path = "/miss/%s" % tag
            elif m == 2:
                path = "/old/%d" % (self.exact + k)
            elif m == 3:
                path = "/q/%d" % rng.randint(0, self.query - 1)
            elif m == 4:
                path = "/q/%d?id=%d" % (rng.randint(0, self.query - 1), k)
            elif m == 5:
                path = "/pre/%d/x" % (self.prefix + k)
            else:
                path = "/OLD/%d" % rng.randint(0, self.exact - 1)
            return ("miss", "GET", path, None, 404, None, None)
        if r < 0.82:
            return ("static", "GET", "/static.html", None, 200, None, None)
        body = ("field=value&n=%d&pad=%s" % (k, "x" * (k % 200))).encode()
        if rng.random() < 0.7:
            n = rng.randint(0, self.exact - 1)
            return ("post", "POST", "/old/%d" % n, body, status_of(n)) \
                + self.targets(base, "/", n, "")
        n = rng.randint(0, self.prefix - 1)
        rest = "/form%d" % k
        return ("post", "POST", "/pre/%d%s" % (n, rest), body, 307) \
            + self.targets(base, "pre/", n, rest)


# ---------------------------------------------------------------------------
# HTTP over raw sockets
# ---------------------------------------------------------------------------

class HttpError(Exception):
    pass


class Resp:
    def __init__(self, status, headers):
        self.status = status
        self.headers = headers          # lower-case name -> value (text)

    def get(self, name):
        return self.headers.get(name.lower())


def _parse_head(head):
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        raise HttpError("malformed status line %r" % lines[0][:80])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = \
            value.strip().decode("latin-1")
    return status, headers


def _chunked_done(data):
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return False
        try:
            size = int(data[pos:end].split(b";")[0], 16)
        except ValueError:
            raise HttpError("bad chunk size")
        if size == 0:
            return data.find(b"\r\n", end + 2) >= 0
        pos = end + 2 + size + 2
        if pos > len(data):
            return False


def build(method, path, port, headers=(), body=None, close=True):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s:%d" % (LOOPBACK, port)]
    lines += list(headers)
    if body is not None:
        lines.append("Content-Type: application/x-www-form-urlencoded")
        lines.append("Content-Length: %d" % len(body))
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def read_response(sock, method, buf=b""):
    """Reads one complete response; returns (Resp, leftover bytes, eof)."""
    head = None
    want = None
    eof = False
    while True:
        if head is None:
            i = buf.find(b"\r\n\r\n")
            if i >= 0:
                head, buf = buf[:i], buf[i + 4:]
                status, headers = _parse_head(head)
                if method == "HEAD" or status in (204, 304) or status < 200:
                    want = 0
                elif "chunked" in headers.get("transfer-encoding", "").lower():
                    want = "chunked"
                elif "content-length" in headers:
                    want = int(headers["content-length"])
                else:
                    want = None      # until EOF
        if head is not None:
            if want == "chunked":
                if _chunked_done(buf):
                    return Resp(status, headers), b"", eof
            elif want is not None and len(buf) >= want:
                return Resp(status, headers), buf[want:], eof
            elif want is None and eof:
                return Resp(status, headers), b"", eof
        if eof:
            if head is None:
                raise HttpError("connection closed without a response (%d bytes)"
                                % len(buf))
            raise HttpError("connection closed in the middle of the body")
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            raise HttpError("no complete response within %.0fs" % IO_TIMEOUT)
        except ConnectionResetError:
            raise HttpError("connection reset by peer (%s)"
                            % ("after the head" if head else "before any response"))
        except OSError as e:
            raise HttpError("recv: %s" % e)
        if not chunk:
            eof = True
        buf += chunk


def http_once(port, method, path, headers=(), body=None):
    """One request on a new connection with Connection: close."""
    try:
        sock = socket.create_connection((LOOPBACK, port), timeout=IO_TIMEOUT)
    except OSError as e:
        raise HttpError("connect: %s" % e)
    try:
        try:
            sock.sendall(build(method, path, port, headers, body))
        except OSError as e:
            raise HttpError("send: %s" % e)
        resp, _, _ = read_response(sock, method)
        return resp
    finally:
        sock.close()


def check_resp(resp, want_status, l1, l2):
    """'' if as expected, else why; plus the generation seen."""
    loc = resp.get("Location")
    if resp.status != want_status:
        return "status %d (Location %s), want %d" % (resp.status, loc, want_status), None
    if l1 is None:
        if loc is not None:
            return "unexpected Location %s" % loc, None
        return "", None
    if loc == l1:
        return "", "original"
    if l2 is not None and loc == l2:
        return "", "edited"
    return "Location %s, want %s%s" % (loc, l1, (" or " + l2) if l2 else ""), None


# ---------------------------------------------------------------------------
# httpd
# ---------------------------------------------------------------------------

class Httpd(hh.Httpd):
    """The soak's httpd: root with a docroot, mime.types and soak.map (the
    rules, unedited), mpm settings `mpm`, stopped by its PidFile's pid."""

    def __init__(self, apache, module, root, port, mpm, rules, name):
        self.map = os.path.join(root, "soak.map")
        docroot = os.path.join(root, "htdocs")
        os.makedirs(os.path.join(root, "run"), exist_ok=True)
        os.makedirs(docroot, exist_ok=True)
        os.chmod(root, 0o755)
        os.chmod(os.path.join(root, "run"), 0o755)
        write_file(os.path.join(root, "mime.types"), "text/html html htm\ntext/plain txt\n")
        write_file(os.path.join(docroot, "index.html"), "<p>soak</p>\n")
        write_file(os.path.join(docroot, "static.html"), "<p>static</p>\n")
        write_file(self.map, rules.text(edited=False), atomic=True)
        lines = hh.conf_head(root, [port], BASE_MODULES,
                             comment="written by test/soak/soak.py")
        lines += [
            "LoadModule redirect307_module %s" % module,
            "TypesConfig %s/mime.types" % root,
            mpm,
            "MaxConnectionsPerChild 0",
            "Timeout 30",
            "KeepAlive On",
            "KeepAliveTimeout 15",
            "MaxKeepAliveRequests 100",
            "DocumentRoot %s" % docroot,
            "<Directory %s>\n    Require all granted\n</Directory>" % docroot,
            "DirectoryIndex index.html",
            "LogLevel warn",
            'LogFormat "%{X-Soak-Id}i %>s %P %k %{msec}t \\"%r\\"" soak',
            "CustomLog %s soak" % os.path.join(root, "access.log"),
            "Redirect307Map soak.map",
        ]
        super().__init__(apache, name, root, [port],
                         conf_text="\n".join(lines) + "\n",
                         start_timeout=START_TIMEOUT, stop_timeout=15.0,
                         cmd_timeout=60.0, interval=0.1)


# ---------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------

class CloseClient(threading.Thread):
    """Requests on a new connection each (Connection: close) until stopped;
    every failure is a dropped request."""

    def __init__(self, idx, port, rules, base, stop):
        super().__init__(daemon=True)
        self.idx, self.port, self.rules, self.base, self.stop_ev = idx, port, rules, base, stop
        self.sent = self.ok = 0
        self.failures = []           # (id, kind, method, path, reason)
        self.gens = {"original": 0, "edited": 0}
        self.kinds = {}

    def run(self):
        rng = random.Random(1000 + self.idx)
        seq = 0
        while not self.stop_ev.is_set():
            seq += 1
            rid = "c%d-%d" % (self.idx, seq)
            kind, method, path, body, status, l1, l2 = self.rules.pick(
                rng, self.base, rid, seq)
            self.sent += 1
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
            try:
                resp = http_once(self.port, method, path, ["X-Soak-Id: " + rid], body)
                why, gen = check_resp(resp, status, l1, l2)
            except HttpError as e:
                why, gen = str(e), None
            except Exception as e:  # a client bug still counts, visibly
                why, gen = "%s: %s" % (type(e).__name__, e), None
            if why:
                self.failures.append((rid, kind, method, path, why))
            else:
                self.ok += 1
                if gen:
                    self.gens[gen] += 1


class MissClient(threading.Thread):
    """Keep-alive GETs of the given miss paths; each must be a plain 404."""

    def __init__(self, port, paths):
        super().__init__(daemon=True)
        self.port, self.paths = port, paths
        self.ok = 0
        self.errors = []
        self.unexpected = []
        self.connections = 0

    def run(self):
        sock, buf = None, b""
        for path in self.paths:
            for attempt in (1, 2):
                fresh = sock is None
                try:
                    if sock is None:
                        sock = socket.create_connection((LOOPBACK, self.port),
                                                        timeout=IO_TIMEOUT)
                        buf = b""
                        self.connections += 1
                    sock.sendall(build("GET", path, self.port, close=False))
                    resp, buf, eof = read_response(sock, "GET", buf)
                except (HttpError, OSError) as e:
                    if sock:
                        sock.close()
                    sock = None
                    if fresh or attempt == 2:
                        self.errors.append("%s: %s" % (path[:80], e))
                        break
                    # the server may close a keep-alive connection between
                    # requests: that request was never read; send it again
                    continue
                if resp.status != 404 or resp.get("Location") is not None:
                    self.unexpected.append("%s -> %d %s" % (path[:80], resp.status,
                                                            resp.get("Location")))
                else:
                    self.ok += 1
                if eof or (resp.get("Connection") or "").lower() == "close":
                    sock.close()
                    sock = None
                break
        if sock:
            sock.close()


# ---------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------

class Wrk:
    def __init__(self, wrk, port, duration, tag, out_dir, rules, threads):
        self.out = os.path.join(out_dir, "wrk-%s.out" % tag)
        self.stdout = os.path.join(out_dir, "wrk-%s.stdout" % tag)
        env = dict(os.environ)
        env.update(rules.env())
        env.update({"SOAK_BASE": "http://%s:%d" % (LOOPBACK, port),
                    "SOAK_TAG": tag, "SOAK_OUT": self.out})
        self.cmd = [wrk, "-t%d" % threads, "-c%d" % threads, "-d%ds" % duration,
                    "--timeout", "30s", "-s", LUA, "http://%s:%d/" % (LOOPBACK, port)]
        self.f = open(self.stdout, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=self.f, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)
        RUNNING.append(self.proc)

    def wait(self, timeout):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("wrk did not finish in time")
        finally:
            self.f.close()
            if self.proc in RUNNING:
                RUNNING.remove(self.proc)
        if self.proc.returncode != 0:
            raise RuntimeError("wrk exited %d:\n%s" % (self.proc.returncode,
                                                        read_text(self.stdout)))
        return self.result()

    def result(self):
        res = {"counts": {}, "lost": [], "bad": [], "stdout": read_text(self.stdout)}
        text = read_text(self.out)
        if not text:
            raise RuntimeError("wrk wrote no results (%s):\n%s" % (self.out, res["stdout"]))
        for line in text.splitlines():
            kind, _, rest = line.partition(" ")
            if kind == "count":
                name, value = rest.rsplit(" ", 1)
                res["counts"][name] = int(value)
            elif kind == "lost":
                res["lost"].append(rest.split(" "))
            elif kind == "bad":
                res["bad"].append(rest)
        return res


RUNNING = []        # subprocesses to kill on the way out
SERVERS = []        # Httpd instances to stop on the way out


def cleanup():
    for proc in list(RUNNING):
        try:
            proc.kill()
            proc.wait(timeout=5)
        except Exception:
            pass
    RUNNING.clear()
    for srv in list(SERVERS):
        try:
            srv.stop()
        except Exception as e:
            print("warning: stopping %s: %s" % (srv.name, e), file=sys.stderr)
    SERVERS.clear()


# ---------------------------------------------------------------------------
# Part 1: the graceful soak
# ---------------------------------------------------------------------------

def scan_access_log(path, wanted):
    """({id: log line} for the ids in `wanted` that httpd logged,
    {child pid: time in ms of the first request it logged})."""
    found, first = {}, {}
    with open(path, "rb") as f:
        for line in f:
            fields = line.split(b" ", 5)
            if len(fields) < 6:
                continue
            rid = fields[0].decode("latin-1")
            if rid in wanted:
                found[rid] = line.decode("latin-1").strip()
            try:
                pid, ms = int(fields[2]), int(fields[4])
            except ValueError:
                continue
            if pid not in first or ms < first[pid]:
                first[pid] = ms
    return found, first


def prev_id(rid):
    head, _, n = rid.rpartition("-")
    return "%s-%d" % (head, int(n) - 1)


def probe(srv, rules, counter):
    """The generation the server answers /old/0 with (Connection: close)."""
    counter[0] += 1
    base = "http://%s:%d" % (LOOPBACK, srv.port)
    l1, l2 = rules.targets(base, "/", 0, "")
    try:
        resp = http_once(srv.port, "GET", "/old/0", ["X-Soak-Id: p-%d" % counter[0]])
    except HttpError as e:
        counter[1].append("probe p-%d: %s" % (counter[0], e))
        return "error"
    loc = resp.get("Location")
    if resp.status == 307 and loc == l1:
        return "original"
    if resp.status == 307 and loc == l2:
        return "edited"
    counter[1].append("probe p-%d: %d %s" % (counter[0], resp.status, loc))
    return "status %d %s" % (resp.status, loc)


def soak(args, rules, root, R):
    port = free_port()
    # Each child alone has threads for every client (32 wrk connections, 4
    # Connection: close clients, the probe): after a graceful restart httpd
    # starts the new generation's children one by one as old ones exit, and
    # a child whose workers are all busy closes its idle keep-alive
    # connections, which would blur what the restarts themselves do.
    tpc = args.threads_per_child
    mpm = ("StartServers %d\nServerLimit 16\nThreadsPerChild %d\nThreadLimit %d\n"
           "MaxRequestWorkers %d\nMinSpareThreads %d\nMaxSpareThreads %d"
           % (args.start_servers, tpc, tpc, tpc * args.start_servers, tpc // 2,
              tpc * args.start_servers))
    srv = Httpd(args.apache, args.module, root, port, mpm, rules, "soak")
    SERVERS.append(srv)
    t0 = time.monotonic()
    srv.start()
    R["start_s"] = time.monotonic() - t0
    R["soak_pid"] = srv.pid
    log("soak server pid %d on port %d (started in %.1fs)" % (srv.pid, port, R["start_s"]))
    good = {"original": rules.text(False), "edited": rules.text(True)}
    probes = [0, []]
    gen = poll(lambda: probe(srv, rules, probes) == "original", 10, 0.2)
    if not gen:
        raise RuntimeError("fresh server does not answer /old/0 as the map says")

    # -- warm-up, then memory before ---------------------------------------
    # the same load as the soak (wrk and the Connection: close clients),
    # without restarts, so that "before" and "after" compare like with like
    log("warm-up: wrk %d s" % args.warmup)
    base = "http://%s:%d" % (LOOPBACK, port)
    wstop = threading.Event()
    wclients = [CloseClient(100 + i, port, rules, base, wstop)
                for i in range(args.close_clients)]
    warm = Wrk(args.wrk, port, args.warmup, "w", root, rules, args.connections)
    for c in wclients:
        c.start()
    try:
        R["warm"] = warm.wait(args.warmup + 120)
    finally:
        wstop.set()
        for c in wclients:
            c.join(IO_TIMEOUT + 10)
    R["warm_clients"] = wclients
    time.sleep(2)
    R["mem_before"] = tree_mem(srv.pid)

    # -- the soak -----------------------------------------------------------
    stop = threading.Event()
    clients = [CloseClient(i, port, rules, base, stop) for i in range(args.close_clients)]
    log("soak: wrk -t%d -c%d for %d s, %d Connection: close clients, %d gracefuls"
        % (args.connections, args.connections, args.duration, len(clients), args.restarts))
    wrk = Wrk(args.wrk, port, args.duration, "s", root, rules, args.connections)
    started = time.monotonic()
    for c in clients:
        c.start()
    events = []          # dicts, one per graceful command
    current = "original"
    first, tail = 2.5, 10.0
    interval = max(0.5, (args.duration - first - tail) / max(1, args.restarts - 1))
    broken_after = args.restarts // 2 - 1
    try:
        for k in range(args.restarts):
            due = started + first + k * interval
            time.sleep(max(0, due - time.monotonic()))
            action = ("edited", "same", "original", "same")[k % 4]
            events.append(graceful_step(srv, rules, good, action, current, probes,
                                        started))
            if events[-1]["ok"] and action != "same":
                current = action
            if k == broken_after:
                time.sleep(max(0, due + interval / 2 - time.monotonic()))
                events.append(broken_step(srv, rules, good, current, probes, started))
        R["last_graceful_at"] = time.monotonic() - started
    finally:
        R["wrk"] = wrk.wait(args.duration + 180)
        stop.set()
        for c in clients:
            c.join(IO_TIMEOUT + 10)
    R["soak_elapsed"] = time.monotonic() - started
    R["events"] = events
    R["clients"] = clients
    R["probes"] = probes
    R["final_gen"] = current

    # -- settle, then memory after -----------------------------------------
    time.sleep(args.settle)
    poll(lambda: len(children_of(srv.pid)) <= args.start_servers, 30, 0.5)
    R["mem_after"] = tree_mem(srv.pid)
    R["soak_alive"] = srv.alive() and srv.read_pid() == R["soak_pid"]

    # -- classify wrk's requests without a response ---------------------------
    lost = R["wrk"]["lost"] + R["warm"]["lost"]
    wanted = set(l[0] for l in lost)
    # ... and the request before each on the same connection (one wrk
    # thread, one connection): which child answered it, and did that
    # child retire in a graceful restart?
    wanted |= set(prev_id(l[0]) for l in lost)
    wanted |= set(f[0] for c in clients + wclients for f in c.failures)
    R["logged"], R["pid_first_ms"] = scan_access_log(srv.accesslog, wanted)
    R["final_children"] = set(children_of(srv.pid))
    text = srv.log_text()
    R["crashes"] = [l for l in text.splitlines() if CRASH_RE.search(l)]
    R["errlog_errors"] = [l for l in text.splitlines()
                          if re.search(r":(error|crit|alert|emerg)\]", l)]
    R["resumes"] = text.count(RESUMING)
    srv.stop()
    SERVERS.remove(srv)


def graceful_step(srv, rules, good, action, current, probes, started):
    ev = {"action": action, "at": time.monotonic() - started, "ok": False, "why": "",
          "wall": time.time()}
    want = current if action == "same" else action
    if action != "same":
        old = os.stat(srv.map)
        write_file(srv.map, good[action], atomic=True)
        # a newer mtime whatever the filesystem clock does
        os.utime(srv.map, (old.st_atime, max(time.time(), old.st_mtime + 1)))
    resumes = srv.log_count(RESUMING)
    t = time.monotonic()
    rc, out = srv.graceful()
    ev["cmd_s"] = time.monotonic() - t
    if rc != 0:
        ev["why"] = "apache2 -k graceful exited %d: %s" % (rc, out.strip()[-300:])
        return ev
    if not poll(lambda: srv.log_count(RESUMING) > resumes, 30, 0.1):
        ev["why"] = "no '%s' within 30 s" % RESUMING
        return ev
    ev["resume_s"] = time.monotonic() - t
    got = poll(lambda: probe(srv, rules, probes) == want, 15, 0.1)
    if not got:
        ev["why"] = "still not answering the %s map 15 s after the restart" % want
        return ev
    ev["switch_s"] = time.monotonic() - t
    ev["parent_mem"] = mem_of(srv.read_pid())
    ev["ok"] = True
    log("graceful %-8s at %5.1fs: command %.2fs, resumed %.2fs, %s rules answer %.2fs"
        % (action, ev["at"], ev["cmd_s"], ev["resume_s"], want, ev["switch_s"]))
    return ev


def broken_step(srv, rules, good, current, probes, started):
    ev = {"action": "broken", "at": time.monotonic() - started, "ok": False, "why": "",
          "wall": time.time()}
    text = good[current]
    bad_line = text.count("\n") + 1
    old = os.stat(srv.map)
    write_file(srv.map, text + "/soak-broken-rule  /somewhere  309\n", atomic=True)
    os.utime(srv.map, (old.st_atime, max(time.time(), old.st_mtime + 1)))
    resumes, usr1 = srv.log_count(RESUMING), srv.log_count(SIGUSR1)
    parent = srv.read_pid()
    kids = children_of(parent) if parent else []
    t = time.monotonic()
    rc, out = srv.graceful()
    ev["cmd_s"] = time.monotonic() - t
    ev["rc"] = rc
    ev["out"] = out.strip()
    named = re.search(r"soak\.map:%d(?!\d)" % bad_line, out)
    time.sleep(2)       # anything signalled would show by now
    problems = []
    if rc == 0:
        problems.append("apache2 -k graceful exited 0 with a broken map")
    if not named:
        problems.append("its output does not name soak.map:%d" % bad_line)
    if srv.log_count(SIGUSR1) != usr1 or srv.log_count(RESUMING) != resumes:
        problems.append("the server was signalled (error.log shows a restart)")
    if srv.read_pid() != parent or not srv.alive():
        problems.append("the parent process changed or died")
    still = set(children_of(parent)) & set(kids) if parent else set()
    if kids and not still:
        problems.append("all children were replaced")
    answer = probe(srv, rules, probes)
    if answer != current:
        problems.append("answers %s, want the last good (%s) rules" % (answer, current))
    # restore the last good map
    old = os.stat(srv.map)
    write_file(srv.map, text, atomic=True)
    os.utime(srv.map, (old.st_atime, max(time.time(), old.st_mtime + 1)))
    ev["ok"] = not problems
    ev["why"] = "; ".join(problems)
    log("graceful broken   at %5.1fs: exit %d in %.2fs, %s"
        % (ev["at"], rc, ev["cmd_s"], "refused as expected" if ev["ok"] else ev["why"]))
    return ev


# ---------------------------------------------------------------------------
# Part 2: 100,000 distinct misses
# ---------------------------------------------------------------------------

def miss_paths(rules, count, tag, rng):
    paths = []
    for i in range(count):
        h = "%08x" % rng.getrandbits(32)
        m = i % 6
        if m == 0:
            p = "/miss/%s/%d-%s" % (tag, i, h)
        elif m == 1:
            p = "/old/%d%s" % (rules.exact + i, tag)
        elif m == 2:
            p = "/q/%d?id=%s%d-%s" % (i % rules.query, tag, i, h)
        elif m == 3:
            p = "/pre/%d/%s/deep/%s" % (rules.prefix + i, tag, h)
        elif m == 4:
            p = "/miss/caf%%C3%%A9-%s%d/%%7Euser/%s" % (tag, i, h)
        else:
            p = "/Old-%s%d/%s?r=%d" % (tag, i, h, i)
        if i % 10 == 0:          # some long ones
            p += "/" + "%x" % rng.getrandbits(4 * rng.randint(100, 1500))
        paths.append(p)
    return paths


def run_misses(paths, port, clients):
    cl = [MissClient(port, paths[i::clients]) for i in range(clients)]
    t = time.monotonic()
    for c in cl:
        c.start()
    for c in cl:
        c.join()
    return {"ok": sum(c.ok for c in cl),
            "errors": [e for c in cl for e in c.errors],
            "unexpected": [u for c in cl for u in c.unexpected],
            "connections": sum(c.connections for c in cl),
            "seconds": time.monotonic() - t}


def misses(args, rules, root, R):
    port = free_port()
    mpm = ("StartServers 2\nServerLimit 2\nThreadsPerChild 25\n"
           "MaxRequestWorkers 50\nMinSpareThreads 10\nMaxSpareThreads 50")
    srv = Httpd(args.apache, args.module, root, port, mpm, rules, "misses")
    SERVERS.append(srv)
    srv.start()
    log("miss server pid %d on port %d" % (srv.pid, port))
    rng = random.Random(4242)
    log("miss warm-up: %d requests" % args.miss_warmup)
    R["miss_warm"] = run_misses(miss_paths(rules, args.miss_warmup, "w", rng), port,
                                args.miss_clients)
    time.sleep(1)
    R["miss_before"] = tree_mem(srv.pid)
    paths = miss_paths(rules, args.misses, "r", rng)
    assert len(set(paths)) == len(paths)
    log("miss run: %d distinct miss paths, %d keep-alive clients"
        % (len(paths), args.miss_clients))
    half = len(paths) // 2
    first = run_misses(paths[:half], port, args.miss_clients)
    R["miss_mid"] = tree_mem(srv.pid)
    second = run_misses(paths[half:], port, args.miss_clients)
    R["miss_run"] = {k: first[k] + second[k] for k in first}
    time.sleep(1)
    R["miss_after"] = tree_mem(srv.pid)
    R["miss_alive"] = srv.alive()
    R["miss_crashes"] = [l for l in srv.log_text().splitlines() if CRASH_RE.search(l)]
    srv.stop()
    SERVERS.remove(srv)


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def report(args, rules, R):
    lines = []
    add = lambda k, v="": lines.append("  %-46s %s" % (k, v))
    W = R.get("wrk", {}).get("counts", {})
    WW = R.get("warm", {}).get("counts", {})
    lines.append("=" * 78)
    lines.append("mod_redirect307 soak results")
    lines.append("=" * 78)
    add("rules in the map", "{:,} ({:,} exact, {:,} prefix, {:,} query, {:,} gone)".format(
        rules.total, rules.exact, rules.prefix, rules.query, rules.gone))
    add("server start (100k-rule map)", "%.1f s" % R.get("start_s", 0))
    lines.append("")
    lines.append("Part 1: graceful soak (mpm_event, %d children x %d threads, KeepAlive On)"
                 % (args.start_servers, args.threads_per_child))
    evs = R.get("events", [])
    acc = [e for e in evs if e["action"] != "broken"]
    add("wrk", "-t%d -c%d -d%ds, warm-up %d s first" % (args.connections, args.connections,
                                                     args.duration, args.warmup))
    add("graceful restarts accepted / asked",
        "%d / %d (changed map %d, same map %d), last at %.1f s"
        % (sum(e["ok"] for e in acc), len(acc),
           sum(e["action"] in ("edited", "original") for e in acc),
           sum(e["action"] == "same" for e in acc), R.get("last_graceful_at", 0)))
    if acc:
        cmd = [e["cmd_s"] for e in acc if "cmd_s" in e]
        sw = [e["switch_s"] for e in acc if "switch_s" in e]
        add("  apache2 -k graceful command, max", "%.2f s" % max(cmd) if cmd else "-")
        add("  command to new rules answering, max", "%.2f s" % max(sw) if sw else "-")
    for e in evs:
        if e["action"] == "broken":
            add("broken-map graceful", "exit %s, %s" % (e.get("rc"),
                "refused, last good rules kept" if e["ok"] else "FAILED: " + e["why"]))
    add("wrk requests (responses)", "{:,} in {:.0f} s ({:,.0f}/s)".format(
        W.get("responses", 0), args.duration, W.get("responses", 0) / max(1, args.duration)))
    kinds = sorted(k[5:] for k in W if k.startswith("sent."))
    add("  by kind", ", ".join("%s %s" % (k, "{:,}".format(W.get("ok." + k, 0)))
                               for k in kinds))
    add("  hits answered by original / edited map",
        "{:,} / {:,}".format(W.get("gen.original", 0), W.get("gen.edited", 0)))
    add("wrk socket errors (connect/read/write/timeout)", "%d / %d / %d / %d" % (
        W.get("wrk.connect", 0), W.get("wrk.read", 0), W.get("wrk.write", 0),
        W.get("wrk.timeout", 0)))
    lost = R.get("wrk", {}).get("lost", [])
    logged = R.get("logged", {})
    lost_logged = [l for l in lost if l[0] in logged]
    first_ms = R.get("pid_first_ms", {})
    signals = [e["wall"] for e in R.get("events", []) if e["action"] != "broken" and e["ok"]]

    def retiring_prev(l):
        """The previous response on that connection came, without
        'Connection: close', from a child of a generation that a graceful
        restart had been asked to retire when it answered."""
        line = logged.get(prev_id(l[0]))
        if not line or l[5] != "keepalive":
            return False
        try:
            f = line.split(" ")
            pid, ms = int(f[2]), int(f[4])
        except (IndexError, ValueError):
            return False
        born = first_ms.get(pid, ms) / 1000.0
        return any(born < g and ms / 1000.0 >= g - 0.5 for g in signals)
    never = [l for l in lost if l[0] not in logged]
    lost_retiring = [l for l in never if retiring_prev(l)]
    idle = W.get("wrk.read", 0) + W.get("wrk.write", 0) - W.get("lost", 0)
    add("wrk requests sent without a response", "%d" % W.get("lost", 0))
    add("  httpd had read and answered it (dropped)", "%d" % len(lost_logged))
    add("  never read: idle conn. closed by a retiring child", "%d" % len(lost_retiring))
    add("  never read: idle conn. closed by a running child", "%d" % (len(never) - len(lost_retiring)))
    add("wrk read/write errors with no request on the conn.", "%d (httpd closed an idle "
        "keep-alive connection)" % idle)
    nacc = len([e for e in R.get("events", []) if e["action"] != "broken" and e["ok"]])
    if nacc:
        add("  wrk socket errors per graceful restart", "%.1f (of %d connections)" % (
            (W.get("wrk.read", 0) + W.get("wrk.write", 0)) / nacc, args.connections))
    add("wrk unexpected statuses/Locations", "%d (warm-up %d)" % (
        W.get("unexpected", 0), WW.get("unexpected", 0)))
    cl = R.get("clients", [])
    csent = sum(c.sent for c in cl)
    cfail = [f for c in cl + R.get("warm_clients", []) for f in c.failures]
    add("Connection: close client requests", "{:,} ({} threads; hits original/edited "
        "{:,}/{:,})".format(csent, len(cl), sum(c.gens["original"] for c in cl),
                            sum(c.gens["edited"] for c in cl)))
    add("  failed (dropped or wrong), incl. warm-up", "%d" % len(cfail))
    pr = R.get("probes", [0, []])
    add("generation probes / failed", "%d / %d" % (pr[0], len(pr[1])))
    add("child crashes in error.log", "%d" % len(R.get("crashes", [])))
    mb, ma = R.get("mem_before", []), R.get("mem_after", [])
    pb, pa = sum(r[3] for r in mb), sum(r[3] for r in ma)
    ratio = pa / pb if pb else 0
    add("PSS before (after warm-up)", "%s (%d processes: parent %s, children %s)" % (
        mib(pb), len(mb), mib(sum(r[3] for r in mb if r[1] == "parent")),
        " ".join(mib(r[3]) for r in mb if r[1] == "child")))
    add("PSS after (%d s after the soak)" % args.settle, "%s (%d processes: parent %s, children %s)" % (
        mib(pa), len(ma), mib(sum(r[3] for r in ma if r[1] == "parent")),
        " ".join(mib(r[3]) for r in ma if r[1] == "child")))
    add("PSS after / before", "%.3f" % ratio)
    trend = [e["parent_mem"] for e in R.get("events", []) if e.get("parent_mem")]
    if trend:
        add("parent RSS after each accepted graceful (MiB)",
            " ".join("%.1f" % (m[0] / 1024.0) for m in trend))
    orig = [e["parent_mem"][0] for e in R.get("events", [])
            if e["action"] == "original" and e.get("parent_mem")]
    per_restart = orig[-1] / orig[0] if len(orig) >= 2 else 0
    if per_restart:
        add("parent RSS, last / first reload of the original map",
            "%.3f (%d reloads apart: growth per restart, not the first one's)"
            % (per_restart, len(orig) - 1))
    add("RSS parent before / after", "%s / %s" % (
        mib(sum(r[2] for r in mb if r[1] == "parent")),
        mib(sum(r[2] for r in ma if r[1] == "parent"))))
    lines.append("")
    lines.append("Part 2: %s distinct miss paths on a fresh server (2 children, "
                 "MaxConnectionsPerChild 0)" % "{:,}".format(args.misses))
    mr = R.get("miss_run", {})
    mw = R.get("miss_warm", {})
    add("requests (after a warm-up of %s)" % "{:,}".format(args.miss_warmup),
        "{:,} in {:.1f} s over {} connections".format(
            mr.get("ok", 0) + len(mr.get("errors", [])) + len(mr.get("unexpected", [])),
            mr.get("seconds", 0), mr.get("connections", 0)))
    add("errors / unexpected (not a plain 404)", "%d / %d (warm-up %d / %d)" % (
        len(mr.get("errors", [])), len(mr.get("unexpected", [])),
        len(mw.get("errors", [])), len(mw.get("unexpected", []))))
    before = {r[0]: r for r in R.get("miss_before", []) if r[1] == "child"}
    mid = {r[0]: r for r in R.get("miss_mid", []) if r[1] == "child"}
    after = {r[0]: r for r in R.get("miss_after", []) if r[1] == "child"}
    worst = 0.0
    for pid in sorted(set(before) | set(after)):
        b, a = before.get(pid), after.get(pid)
        if b and a:
            rr, pp = a[2] / b[2], a[3] / b[3]
            worst = max(worst, rr, pp)
            add("  child %d RSS / PSS" % pid, "%s -> %s (%.3f) / %s -> %s (%.3f)" % (
                mib(b[2]), mib(a[2]), rr, mib(b[3]), mib(a[3]), pp))
            m = mid.get(pid, a)
            add("    PSS / private at 0, 50k, 100k requests",
                "%s %s %s / %s %s %s" % (mib(b[3]), mib(m[3]), mib(a[3]),
                                         mib(b[4]), mib(m[4]), mib(a[4])))
        else:
            add("  child %d" % pid, "only %s" % ("before" if b else "after"))
            worst = max(worst, 99.0)
    add("  largest after/before ratio", "%.3f" % worst)
    lines.append("")

    # -- targets ------------------------------------------------------------
    T = []      # (correctness?, ok, text)
    unexpected = W.get("unexpected", 0) + WW.get("unexpected", 0)
    T.append((True, unexpected == 0 and W.get("unmatched", 0) == 0,
              "zero unexpected statuses (wrk, exact per response): %d" % unexpected))
    T.append((True, not cfail,
              "zero dropped requests (Connection: close client during the restarts): %d"
              % len(cfail)))
    T.append((True, not lost_logged,
              "no wrk request answered by httpd and then lost: %d" % len(lost_logged)))
    sock_err = sum(W.get("wrk." + k, 0) for k in ("connect", "read", "write", "timeout"))
    # httpd may close an idle keep-alive connection (a retiring child
    # does); a request that crossed that close was never read by httpd.
    # Anything else (connect errors, timeouts, a request httpd read) is not
    # explained and fails.
    explained = (W.get("wrk.connect", 0) == 0 and W.get("wrk.timeout", 0) == 0
                 and not lost_logged and idle >= 0)
    T.append((True, explained,
              "wrk socket errors: %d (connect %d, read %d, write %d, timeout %d)%s" % (
                  sock_err, W.get("wrk.connect", 0), W.get("wrk.read", 0),
                  W.get("wrk.write", 0), W.get("wrk.timeout", 0),
                  "" if sock_err == 0 else
                  ": all on keep-alive connections httpd closed between requests "
                  "(no request httpd had read was lost)" if explained else
                  ": NOT all explained by idle keep-alive closes")))
    T.append((True, bool(evs) and all(e["ok"] for e in evs),
              "every graceful took effect and the broken one was refused (%d/%d)"
              % (sum(e["ok"] for e in evs), len(evs))))
    T.append((True, not R.get("crashes") and not R.get("miss_crashes")
              and R.get("soak_alive", False) and R.get("miss_alive", False),
              "no crashed child, servers alive to the end"))
    T.append((True, not pr[1], "generation probes all answered: %d failed" % len(pr[1])))
    mfail = len(mr.get("errors", [])) + len(mr.get("unexpected", [])) \
        + len(mw.get("errors", [])) + len(mw.get("unexpected", []))
    T.append((True, mfail == 0 and mr.get("ok", 0) == args.misses,
              "miss run: %s plain 404s, %d errors or unexpected"
              % ("{:,}".format(mr.get("ok", 0)), mfail)))
    T.append((False, pb > 0 and ratio <= 1.05,
              "PSS after within 5%% of before: %.3f" % ratio))
    if per_restart:
        T.append((False, per_restart <= 1.05,
                  "parent does not grow from one map reload to the next (within 5%%): %.3f"
                  % per_restart))
    T.append((False, 0 < worst <= 1.05,
              "miss run: no growth of the children (RSS and PSS within 5%%): %.3f" % worst))
    for corr, ok, text in T:
        lines.append("%s %s%s" % ("PASS" if ok else ("FAIL" if corr else "WARN"), text,
                                  "" if corr else " (memory target: warning only)"))
    failed = [t for c, ok, t in T if c and not ok]

    # -- evidence for anything that went wrong --------------------------------
    details = []
    for b in (R.get("wrk", {}).get("bad", []) + R.get("warm", {}).get("bad", []))[:15]:
        details.append("wrk " + b)
    for f in cfail[:15]:
        details.append("close-client %s %s %s %s: %s%s" % (
            f[0], f[1], f[2], f[3][:80], f[4],
            " [in access log: %s]" % logged[f[0]] if f[0] in logged else " [not in access log]"))
    running = [l for l in never if l not in lost_retiring]
    for l in (lost_logged + running[:6] + lost_retiring)[:10]:
        details.append("wrk lost %s %s %s %s (previous on that connection: %s, %s)%s"
                       % (l[0], l[1], l[2], l[3][:60], l[4], l[5],
                          " [answered: %s]" % logged[l[0]] if l[0] in logged else ""))
    if lost:
        prev = {}
        for l in lost:
            prev[l[4] + "/" + l[5]] = prev.get(l[4] + "/" + l[5], 0) + 1
        details.append("wrk lost requests by the previous response on their connection: "
                       + ", ".join("%s %d" % kv for kv in sorted(prev.items())))
    for e in evs:
        if not e["ok"]:
            details.append("graceful %s at %.1fs: %s" % (e["action"], e["at"], e["why"]))
    details += ["probe: " + p for p in pr[1][:10]]
    details += ["crash: " + c for c in (R.get("crashes", []) + R.get("miss_crashes", []))[:10]]
    details += ["error.log: " + c for c in R.get("errlog_errors", [])[:10]]
    details += ["miss: " + m for m in (mr.get("errors", []) + mr.get("unexpected", []))[:10]]
    if details:
        lines.append("")
        lines.append("Details:")
        lines += ["  " + d for d in details]
    print("\n".join(lines), flush=True)
    return failed


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--module", required=True)
    ap.add_argument("--apache", default="/usr/sbin/apache2")
    ap.add_argument("--wrk", default="wrk")
    ap.add_argument("--duration", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--restarts", type=int, default=20)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--close-clients", type=int, default=4)
    ap.add_argument("--start-servers", type=int, default=2)
    ap.add_argument("--threads-per-child", type=int, default=64)
    ap.add_argument("--settle", type=int, default=5)
    ap.add_argument("--rules", type=int, default=100000)
    ap.add_argument("--misses", type=int, default=100000)
    ap.add_argument("--miss-warmup", type=int, default=20000)
    ap.add_argument("--miss-clients", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="short run (debugging)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    if args.quick:
        args.duration, args.warmup, args.restarts = 20, 3, 6
        args.misses, args.miss_warmup = 10000, 2000
    args.module = os.path.abspath(args.module)
    for what, path in (("module", args.module), ("apache2", args.apache)):
        if not os.path.exists(path):
            sys.exit("soak: %s %s does not exist" % (what, path))
    wrk = shutil.which(args.wrk)
    if not wrk:
        sys.exit("soak: wrk not found (apt-get install wrk)")
    args.wrk = wrk

    n = args.rules
    rules = Rules(exact=n - n // 10, prefix=n // 25, query=n // 20, gone=n // 100)
    rules.exact = n - rules.prefix - rules.query - rules.gone

    top = tempfile.mkdtemp(prefix="redirsoak-")
    os.chmod(top, 0o755)
    R = {}
    failed = ["the run did not complete"]
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(130))
    try:
        soak(args, rules, os.path.join(top, "soak"), R)
        misses(args, rules, os.path.join(top, "misses"), R)
        failed = report(args, rules, R)
    except BaseException as e:
        if not isinstance(e, SystemExit):
            import traceback
            traceback.print_exc()
        for srv in SERVERS:
            print("%s error.log tail:\n%s" % (srv.name, srv.log_tail()), file=sys.stderr)
        if R.get("events") or R.get("wrk"):
            try:
                report(args, rules, R)
            except Exception:
                pass
    finally:
        cleanup()
        if failed or args.keep:
            print("kept %s (logs, maps, wrk output)" % top)
        else:
            shutil.rmtree(top, ignore_errors=True)
    if failed:
        print("soak: %d correctness target(s) failed" % len(failed))
        return 1
    print("soak: all correctness targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
