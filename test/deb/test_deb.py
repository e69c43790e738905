#!/usr/bin/env python3
"""The Debian package on this machine's own apache2, as an administrator
uses it.

    python3 test/deb/test_deb.py --deb /abs/build/libapache2-mod-redirect307_V_A.deb [-v]

Root only: it installs and purges a package.  In order:

  1. before anything: the package is not installed, none of its files
     exists (a `make install` copy would be overwritten, then purged), the
     system configuration passes `apachectl -t`, and port 80 is free
     unless the system apache2 itself holds it;
  2. the .deb: its files (module, .load/.conf as conffiles, CLI, man page,
     README, changelog, copyright), its fields, and lintian (no errors);
  3. `apt-get install ./the.deb`: the module is enabled on installation
     (Debian's convention), `a2enmod redirect307` agrees, the installed
     CLI checks and tests a rules file;
  4. a rules file and a conf-available snippet with Redirect307Map,
     `a2enconf`, `apachectl -t`, then the stock apache2 is started
     (`apachectl start`; `apachectl graceful` if it already ran) and
     answers the rules on 127.0.0.1:80;
  5. `a2disconf`, `apt-get remove`: no module, CLI or docs left, the
     module disabled, `apachectl -t` passes; `apt-get purge`: none of the
     files `dpkg -L` listed exists, nor the a2enmod state, nor a dangling
     symlink in mods-enabled, and `apachectl -t` still passes.

Whatever happens, the machine is put back as it was: the snippet and the
rules file are removed, the package purged, and the system apache2 is
stopped by its pid if it did not run before (or reloaded without the
module if it did).  Other tests are not affected: they run apache2 with
their own configuration, on their own ports, with the module from the
checkout.

Prints "ok   NAME" or "FAIL NAME: reason" per check and ends with the line
"N passed, M failed"; exit status 0 only when nothing failed.  A failed
step stops the steps after it (their checks would only repeat it).

Python 3 standard library only.
"""

import argparse
import gzip
import http.client
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import httpd_harness as hh  # noqa: E402
from httpd_harness import pid_alive, poll, write_file  # noqa: E402

PKG = "libapache2-mod-redirect307"
MOD = "redirect307"
MODULE_SO = "/usr/lib/apache2/modules/mod_redirect307.so"
MODS_AVAILABLE = "/etc/apache2/mods-available"
MODS_ENABLED = "/etc/apache2/mods-enabled"
MODULE_STATE = "/var/lib/apache2/module"
CONF_NAME = "redirect307-debtest"
CONF = "/etc/apache2/conf-available/%s.conf" % CONF_NAME
CONF_ENABLED = "/etc/apache2/conf-enabled/%s.conf" % CONF_NAME
RULES = "/etc/apache2/%s.rules" % CONF_NAME
DOC = "/usr/share/doc/" + PKG
PORT = 80
HOST = "127.0.0.1"
START_TIMEOUT = 20.0
APT_TIMEOUT = 300

# What the package must hold; a docs file may or may not be compressed.
EXPECTED_FILES = [
    [MODULE_SO],
    [MODS_AVAILABLE + "/redirect307.load"],
    [MODS_AVAILABLE + "/redirect307.conf"],
    ["/usr/bin/redirect307"],
    ["/usr/share/man/man1/redirect307.1.gz"],
    [DOC + "/README.md.gz", DOC + "/README.md"],
    [DOC + "/changelog.gz", DOC + "/changelog.Debian.gz"],
    [DOC + "/copyright"],
]
EXPECTED_CONFFILES = [MODS_AVAILABLE + "/redirect307.load",
                      MODS_AVAILABLE + "/redirect307.conf"]

RULES_TEXT = """\
# written by test/deb/test_deb.py; removed when it ends
/deb-test/old        https://example.org/new
/deb-test/moved      /deb-test/new                   301
/deb-test/docs/*     https://docs.example.org/v2/*   308
/deb-test/gone       -                               410
"""
CONF_TEXT = """\
# written by test/deb/test_deb.py; removed when it ends
Redirect307Map %s
Redirect307 302 /deb-test/inline /deb-test/there
""" % RULES

# (method, path, status, Location or None)
ANSWERS = [
    ("GET", "/deb-test/old", 307, "https://example.org/new"),
    ("POST", "/deb-test/old", 307, "https://example.org/new"),
    ("GET", "/deb-test/moved?a=1", 301, "http://%s/deb-test/new?a=1" % HOST),
    ("GET", "/deb-test/docs/a/b", 308, "https://docs.example.org/v2/a/b"),
    ("GET", "/deb-test/gone", 410, None),
    ("GET", "/deb-test/inline", 302, "http://%s/deb-test/there" % HOST),
    ("GET", "/deb-test/nothing-here", 404, None),
]


class Failure(Exception):
    """A check's expectation did not hold."""


def expect(cond, message):
    if not cond:
        raise Failure(message)


VERBOSE = False


def note(text):
    if VERBOSE:
        print("     " + text.rstrip().replace("\n", "\n     "))


def run(cmd, timeout=60):
    """(status, output) of cmd, noninteractive, output noted with -v."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    rc, out = hh.run(cmd, timeout=timeout, env=env)
    note("$ %s -> %d\n%s" % (" ".join(cmd), rc, out))
    return rc, out


def must(cmd, timeout=60):
    rc, out = run(cmd, timeout)
    expect(rc == 0, "%s exited %d:\n%s" % (" ".join(cmd), rc, tail(out)))
    return out


def tail(text, n=15):
    return "\n".join("    | " + l for l in text.strip().splitlines()[-n:])


# ---------------------------------------------------------------------------
# The machine: package state, the system apache2
# ---------------------------------------------------------------------------

def package_status():
    """dpkg's status word of PKG ("installed", "config-files", ...), or
    None when dpkg does not know it."""
    rc, out = hh.run(["dpkg-query", "-W", "-f", "${db:Status-Status}", PKG])
    return out.strip() if rc == 0 and out.strip() != "not-installed" else None


def system_pidfile():
    """The system apache2's PidFile, from /etc/apache2/envvars as
    apache2ctl reads it."""
    rc, out = hh.run(["sh", "-c", ". /etc/apache2/envvars && "
                      "echo \"$APACHE_PID_FILE\""])
    return out.strip() if rc == 0 and out.strip() else \
        "/var/run/apache2/apache2.pid"


def system_pid():
    """The pid of the running system apache2, or None."""
    try:
        with open(system_pidfile()) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def port_open(port):
    try:
        socket.create_connection((HOST, port), timeout=1).close()
        return True
    except OSError:
        return False


def dangling_links(directory):
    out = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if os.path.islink(path) and not os.path.exists(path):
            out.append(path)
    return out


def module_state_files():
    """a2enmod's records of redirect307 (enabled/disabled by admin or by a
    maintainer script)."""
    found = []
    if os.path.isdir(MODULE_STATE):
        for kind in sorted(os.listdir(MODULE_STATE)):
            path = os.path.join(MODULE_STATE, kind, MOD)
            if os.path.lexists(path):
                found.append(path)
    return found


def request(method, path):
    """(status, Location) of one request to the system apache2."""
    conn = http.client.HTTPConnection(HOST, PORT, timeout=5)
    try:
        body = "name=value" if method == "POST" else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} \
            if body else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("Location")
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------

class DebTest:
    def __init__(self, deb):
        self.deb = deb
        self.passed = 0
        self.failed = 0
        self.stopped = None
        self.was_running = None     # the system apache2, before the test
        self.installing = False     # apt-get install was run: purge at the end
        self.wrote = []             # files this test created
        self.listed = []            # dpkg -L after installation
        self.deb_files = []         # regular files in the .deb

    # -- bookkeeping --------------------------------------------------------

    def check(self, name, fn):
        """Runs check fn; False (and no more checks) if it failed."""
        if self.stopped:
            return False
        try:
            fn()
        except Failure as e:
            print("FAIL %s: %s" % (name, e))
            self.failed += 1
            self.stopped = name
            return False
        except Exception as e:     # a bug or an OS error: still a failure
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            self.failed += 1
            self.stopped = name
            return False
        print("ok   " + name)
        self.passed += 1
        return True

    # -- 1. before anything -------------------------------------------------

    def preflight(self):
        expect(os.getuid() == 0, "must run as root (it installs %s)" % PKG)
        expect(os.path.isfile(self.deb), "no such file: " + self.deb)
        status = package_status()
        expect(status is None, "%s is already on this machine (dpkg: %s); "
               "apt-get purge it first" % (PKG, status))
        for path in (CONF, CONF_ENABLED, RULES):
            expect(not os.path.lexists(path),
                   "%s exists: a previous run's leftover?" % path)
        must(["apachectl", "-t"])
        self.was_running = system_pid() is not None
        note("system apache2 running before the test: %s" % self.was_running)
        expect(self.was_running or not port_open(PORT),
               "port %d is taken, and not by the system apache2" % PORT)

    def no_stray_files(self):
        out = must(["dpkg-deb", "-c", self.deb])
        for line in out.splitlines():
            fields = line.split(None, 5)
            if len(fields) == 6 and fields[0].startswith("-"):
                self.deb_files.append(fields[5].lstrip("."))
        stray = [p for p in self.deb_files if os.path.lexists(p)]
        expect(not stray, "the package would overwrite files it does not "
               "own (a `make install`? `make uninstall PREFIX=...`): %s"
               % " ".join(stray))

    # -- 2. the .deb --------------------------------------------------------

    def contents(self):
        missing = [" or ".join(alts) for alts in EXPECTED_FILES
                   if not any(a in self.deb_files for a in alts)]
        expect(not missing, "missing from the .deb: %s\n(it holds: %s)"
               % (", ".join(missing), " ".join(self.deb_files)))
        conffiles = must(["dpkg-deb", "-I", self.deb, "conffiles"]).split()
        expect(sorted(conffiles) == sorted(EXPECTED_CONFFILES),
               "conffiles: %s, want %s" % (conffiles, EXPECTED_CONFFILES))

    def fields(self):
        out = must(["dpkg-deb", "-f", self.deb, "Package", "Version",
                    "Architecture", "Depends"])
        f = dict(line.split(": ", 1) for line in out.splitlines()
                 if ": " in line)
        expect(f.get("Package") == PKG, "Package: %r" % f.get("Package"))
        name = os.path.basename(self.deb)
        want = "%s_%s_%s.deb" % (PKG, f.get("Version"), f.get("Architecture"))
        expect(name == want, "file name %s, fields say %s" % (name, want))
        depends = f.get("Depends", "")
        for dep in ("apache2-api-", "apache2-bin", "libapr1", "libjansson4"):
            expect(dep in depends, "Depends lacks %s: %s" % (dep, depends))

    def lintian(self):
        rc, out = run(["lintian", "--fail-on", "error", "--display-info",
                       self.deb], timeout=300)
        tags = [l for l in out.splitlines() if l[:3] in ("E: ", "W: ", "I: ")]
        for line in tags:
            print("     lintian " + line)
        expect(rc == 0 and not any(t.startswith("E: ") for t in tags),
               "lintian exited %d:\n%s" % (rc, tail(out)))

    # -- 3. installation ----------------------------------------------------

    def install(self):
        self.installing = True
        must(["apt-get", "install", "-y", "-q", self.deb], timeout=APT_TIMEOUT)
        expect(package_status() == "installed",
               "dpkg status after install: %s" % package_status())
        self.listed = must(["dpkg", "-L", PKG]).split("\n")
        self.listed = [p for p in self.listed if p.startswith("/")]
        for path in self.deb_files:
            expect(os.path.isfile(path), "not installed: " + path)

    def enabled_on_install(self):
        expect(os.path.islink(MODS_ENABLED + "/redirect307.load"),
               "postinst did not enable the module (no mods-enabled link)")
        must(["a2query", "-m", MOD])
        out = must(["a2enmod", MOD])
        expect("already enabled" in out, "a2enmod said: " + out.strip())
        out = must(["apachectl", "-M"])
        expect("redirect307_module (shared)" in out,
               "apachectl -M does not list redirect307_module:\n" + tail(out))

    def installed_cli(self):
        write_file(RULES, RULES_TEXT)
        self.wrote.append(RULES)
        out = must(["/usr/bin/redirect307", "check", RULES])
        note(out)
        out = must(["/usr/bin/redirect307", "test", RULES, "--",
                    "/deb-test/old", "/deb-test/nothing-here"])
        lines = out.splitlines()
        expect(len(lines) == 2 and "307" in lines[0]
               and "https://example.org/new" in lines[0]
               and "no match" in lines[1], "redirect307 test said:\n" + out)
        with gzip.open("/usr/share/man/man1/redirect307.1.gz", "rt") as f:
            expect(".TH REDIRECT307 1" in f.read(), "man page has no .TH line")

    # -- 4. serving ---------------------------------------------------------

    def configure(self):
        write_file(CONF, CONF_TEXT)
        self.wrote.append(CONF)
        must(["a2enconf", "-q", CONF_NAME])
        out = must(["apachectl", "-t"])
        expect("Syntax OK" in out, "apachectl -t said:\n" + tail(out))

    def serve(self):
        # The package's postinst may have (re)started it (invoke-rc.d, where
        # no policy-rc.d forbids it): graceful if it runs, start if not.
        if system_pid():
            must(["apachectl", "graceful"])
        else:
            must(["apachectl", "start"])

        def answers():
            try:
                return request(*ANSWERS[0][:2]) == ANSWERS[0][2:]
            except OSError:
                return False

        expect(poll(answers, START_TIMEOUT),
               "the system apache2 does not answer %s %s with %s within %.0fs"
               "\n%s" % (ANSWERS[0][0], ANSWERS[0][1], ANSWERS[0][2:],
                         START_TIMEOUT, self.system_log()))
        expect(system_pid() is not None, "no system apache2 pid")

    def answers(self):
        wrong = []
        for method, path, status, location in ANSWERS:
            got = request(method, path)
            if got != (status, location):
                wrong.append("%s %s: got %s, want %s"
                             % (method, path, got, (status, location)))
        expect(not wrong, "\n".join(wrong))

    @staticmethod
    def system_log():
        rc, out = hh.run(["sh", "-c", ". /etc/apache2/envvars && "
                          "tail -n 15 \"$APACHE_LOG_DIR/error.log\""])
        return tail(out)

    # -- 5. removal ---------------------------------------------------------

    def unconfigure(self):
        must(["a2disconf", "-q", CONF_NAME])
        for path in (CONF, RULES):
            os.unlink(path)
            self.wrote.remove(path)
        must(["apachectl", "-t"])

    def remove(self):
        must(["apt-get", "remove", "-y", "-q", PKG], timeout=APT_TIMEOUT)
        status = package_status()
        expect(status == "config-files", "dpkg status after remove: %s"
               % status)
        left = [p for p in self.deb_files
                if os.path.lexists(p) and p not in EXPECTED_CONFFILES]
        expect(not left, "left after remove: " + " ".join(left))
        expect(not os.path.lexists(MODS_ENABLED + "/redirect307.load"),
               "mods-enabled/redirect307.load left after remove")
        rc, out = run(["a2query", "-m", MOD])
        expect(rc != 0, "a2query -m %s after remove: %s" % (MOD, out.strip()))
        must(["apachectl", "-t"])

    def purge(self):
        must(["apt-get", "purge", "-y", "-q", PKG], timeout=APT_TIMEOUT)
        expect(package_status() is None,
               "dpkg still knows %s: %s" % (PKG, package_status()))
        left = [p for p in self.listed
                if os.path.lexists(p) and not os.path.isdir(p)]
        expect(not left, "left after purge: " + " ".join(left))
        expect(not os.path.lexists(DOC), DOC + " left after purge")
        state = module_state_files()
        expect(not state, "a2enmod state left after purge: " + " ".join(state))
        dangling = dangling_links(MODS_ENABLED)
        expect(not dangling, "dangling symlinks: " + " ".join(dangling))
        rc, out = run(["a2query", "-m", MOD])
        expect(rc != 0, "a2query -m %s after purge: %s" % (MOD, out.strip()))
        out = must(["apachectl", "-t"])
        expect("Syntax OK" in out, "apachectl -t said:\n" + tail(out))

    # -- restoring the machine, whatever happened ---------------------------

    def restore(self):
        """Puts the machine back: what this test enabled, wrote and
        installed goes, and the system apache2 runs only if it ran before.
        Each step is independent of the others' success."""
        problems = []
        if CONF in self.wrote and os.path.lexists(CONF_ENABLED):
            rc, out = run(["a2disconf", "-q", CONF_NAME])
            if rc:
                problems.append("a2disconf: " + out.strip())
        for path in list(self.wrote):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                problems.append(str(e))
        if self.installing and package_status() is not None:
            rc, out = run(["apt-get", "purge", "-y", "-q", PKG],
                          timeout=APT_TIMEOUT)
            if rc:
                problems.append("apt-get purge: " + tail(out))
        pid = system_pid()
        if pid and self.was_running is False:
            note("stopping the system apache2 (pid %d) this test started"
                 % pid)
            hh.stop_pid(pid)
            if pid_alive(pid):
                problems.append("system apache2 pid %d did not stop" % pid)
        elif pid and self.was_running:
            rc, out = run(["apachectl", "graceful"])
            if rc:
                problems.append("apachectl graceful: " + out.strip())
        for p in problems:
            print("restore: " + p)
        return not problems

    def main(self):
        t0 = time.monotonic()
        steps = [
            ("preflight: root, not installed, system config valid, port %d"
             % PORT, self.preflight),
            ("preflight: no file of the package exists yet",
             self.no_stray_files),
            ("deb: module, load/conf (conffiles), CLI, man page, README, "
             "changelog, copyright", self.contents),
            ("deb: fields and file name", self.fields),
            ("deb: lintian reports no errors", self.lintian),
            ("apt-get install ./%s" % os.path.basename(self.deb),
             self.install),
            ("installed: module enabled on install; a2enmod agrees",
             self.enabled_on_install),
            ("installed: redirect307 check/test, man page", self.installed_cli),
            ("Redirect307Map in conf-available, a2enconf, apachectl -t",
             self.configure),
            ("system apache2 started/reloaded answers on %s:%d"
             % (HOST, PORT), self.serve),
            ("system apache2: each rule's status and Location", self.answers),
            ("a2disconf, apachectl -t", self.unconfigure),
            ("apt-get remove: files gone (conffiles kept), module disabled",
             self.remove),
            ("apt-get purge: nothing left, apachectl -t", self.purge),
        ]
        try:
            for name, fn in steps:
                if not self.check(name, fn):
                    break
        finally:
            restored = self.restore()
        if not restored:
            print("FAIL restore: the machine may not be as it was")
            self.failed += 1
        if self.stopped:
            print("stopped after: " + self.stopped)
        print("(%.0f s)" % (time.monotonic() - t0))
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deb", required=True, help="the .deb to test")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every command and its output")
    args = ap.parse_args()
    VERBOSE = args.verbose
    # make's Ctrl-C or a CI timeout's SIGTERM: restore() still runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    sys.exit(DebTest(os.path.abspath(args.deb)).main())


if __name__ == "__main__":
    main()
