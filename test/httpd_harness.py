"""Starting and stopping Apache httpd for the tests and the benchmarks.

The one copy of what test/integration.py, test/soak/soak.py,
test/soak/restarts.py and bench/server_bench.py (and through it
bench/stats_cost.py) share: a free loopback port, the head of an httpd
configuration, starting apache2 with -f and polling until it answers (no
fixed sleeps), stopping by pid and waiting until the parent and its
children are gone, reading the error log.

Scripts outside test/ put this directory on sys.path from their own
location:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "..", "test"))
    import httpd_harness as hh

Two ways to run a server:

    Httpd       `apache2 -k start`: httpd daemonises and its PidFile names
                the parent; `apache2 -k graceful` restarts it.
    Foreground  any server kept in the foreground under Popen (apache2
                -DFOREGROUND, nginx "daemon off;", haproxy); its pid is
                the Popen's.

Both stop the same way (stop_pid): SIGTERM to the parent, a wait, SIGKILL
to whatever is left of it and of the children it had, and a wait until
they are all gone.

Python 3 standard library only.
"""

import grp
import os
import pwd
import signal
import socket
import subprocess
import tempfile
import time

LOOPBACK = "127.0.0.1"
MODULE_DIR = "/usr/lib/apache2/modules"

# (module name, file in MODULE_DIR).  conf_head() loads each inside an
# <IfModule !name> guard, which skips those built into the binary (Debian
# builds log_config in).
CORE_MODULES = [
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
]
MIME_MODULE = ("mime_module", "mod_mime.so")
LOG_CONFIG_MODULE = ("log_config_module", "mod_log_config.so")
ALIAS_MODULE = ("alias_module", "mod_alias.so")
DIR_MODULE = ("dir_module", "mod_dir.so")


class StartError(Exception):
    """A server did not start, or did not answer in time."""


# ---------------------------------------------------------------------------
# Ports, files, processes
# ---------------------------------------------------------------------------

def free_port():
    """A TCP port on the loopback address that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def write_file(path, data, mode=0o644, atomic=False):
    """Writes data (str as UTF-8, or bytes) to path, creating its directory.
    atomic: through path.tmp and a rename, so that a reader never sees a
    half-written file."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp" if atomic else path
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    if atomic:
        os.replace(tmp, path)


def read_bytes(path, since=0):
    """The bytes of path from offset `since`; b"" if it cannot be read."""
    try:
        with open(path, "rb") as f:
            f.seek(since)
            return f.read()
    except OSError:
        return b""


def read_text(path, since=0):
    return read_bytes(path, since).decode("utf-8", "replace")


def pid_alive(pid):
    """True if pid runs and is not a zombie (daemons are not our children,
    so an exited one may linger as a zombie until init reaps it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:         # gone between kill() and open()
        return False
    except IndexError:
        return True


def poll(fn, timeout, interval=0.05):
    """Calls fn until it returns a true value or timeout passes; returns
    its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def run(cmd, timeout=30, env=None):
    """Runs cmd; returns (exit status, stdout+stderr as text); 124 and what
    it printed so far if it ran longer than timeout."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        return 124, out + "\n[timed out after %ss]" % timeout
    return p.returncode, p.stdout.decode("utf-8", "replace")


def _ppids():
    """{pid: (ppid, state)} of every process, from /proc/*/stat."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: fields start after the last ')'
        fields = stat.rsplit(")", 1)[1].split()
        table[int(name)] = (int(fields[1]), fields[0])
    return table


def children_of(pid, recursive=False):
    """Sorted pids of pid's children that are not zombies; with recursive,
    of all its descendants."""
    table = _ppids()
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, (pp, _) in table.items() if pp == p]
        found += [c for c in kids if table[c][1] != "Z"]
        if recursive:
            frontier += kids
    return sorted(found)


def stop_pid(pid, timeout=10.0, proc=None, interval=0.05):
    """Stops the server whose parent is pid: SIGTERM, up to `timeout` s
    for it to exit, then SIGKILL to it and its descendants.  Then waits
    (30 s at most) until the descendants it had are gone too, killing any
    that stay.  proc: the Popen of pid, if we started it (reaped here)."""
    if not pid:
        return
    kids = children_of(pid, recursive=True)

    def gone():
        if proc is not None:
            return proc.poll() is not None
        return not pid_alive(pid)

    if not gone():
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if not poll(gone, timeout, interval):
            for p in [pid] + children_of(pid, recursive=True):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            poll(gone, 30 if proc is not None else 5, interval)
    deadline = time.monotonic() + 30
    for p in kids:
        poll(lambda: not pid_alive(p), max(0.0, deadline - time.monotonic()),
             interval)
        if pid_alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

def service_user():
    """User/Group lines when we are root (httpd then drops its children to
    that user: www-data, else daemon, else nobody); "" otherwise."""
    if os.getuid() != 0:
        return ""
    for user in ("www-data", "daemon", "nobody"):
        try:
            pw = pwd.getpwnam(user)
            return "User %s\nGroup %s" % (user, grp.getgrgid(pw.pw_gid).gr_name)
        except KeyError:
            continue
    return ""


def make_root(prefix, parent=None):
    """A fresh server root (mode 755, so httpd's children can read it) with
    an empty run/ directory for DefaultRuntimeDir and the mutexes."""
    root = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.chmod(root, 0o755)
    os.makedirs(os.path.join(root, "run"), exist_ok=True)
    os.chmod(os.path.join(root, "run"), 0o755)
    return root


def conf_head(root, ports, modules=CORE_MODULES, pidfile=None, errlog=None,
              rundir=None, comment=None):
    """The lines every test server's configuration starts with: ServerRoot,
    Listen on LOOPBACK for each port, ServerName, PidFile, ErrorLog,
    DefaultRuntimeDir and Mutex, User/Group when root, and a guarded
    LoadModule for each (name, file) of modules.  Defaults: root/httpd.pid,
    root/error.log, root/run."""
    pidfile = pidfile or os.path.join(root, "httpd.pid")
    errlog = errlog or os.path.join(root, "error.log")
    rundir = rundir or os.path.join(root, "run")
    lines = ["# " + comment] if comment else []
    lines.append("ServerRoot %s" % root)
    lines += ["Listen %s:%d" % (LOOPBACK, p) for p in ports]
    lines += [
        "ServerName %s" % LOOPBACK,
        "PidFile %s" % pidfile,
        "ErrorLog %s" % errlog,
        "DefaultRuntimeDir %s" % rundir,
        "Mutex file:%s default" % rundir,
    ]
    user = service_user()
    if user:
        lines.append(user)
    for name, so in modules:
        path = so if os.path.isabs(so) else os.path.join(MODULE_DIR, so)
        lines.append("<IfModule !%s>\n    LoadModule %s %s\n</IfModule>"
                     % (name, name, path))
    return lines


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------

class Httpd:
    """One apache2 started with `-k start` and stopped by the pid in its
    PidFile.  conf_text, if given, is written to root/httpd.conf; the
    configuration must put its PidFile and ErrorLog where pidfile and
    errlog say (conf_head() does, by default)."""

    def __init__(self, apache, name, root, ports, conf_text=None, conf=None,
                 pidfile=None, errlog=None, accesslog=None, start_timeout=10.0,
                 stop_timeout=10.0, cmd_timeout=20.0, interval=0.05):
        self.apache = apache
        self.name = name
        self.root = root
        self.ports = list(ports)
        self.port = self.ports[0]
        self.conf = conf or os.path.join(root, "httpd.conf")
        self.pidfile = pidfile or os.path.join(root, "httpd.pid")
        self.errlog = errlog or os.path.join(root, "error.log")
        self.accesslog = accesslog or os.path.join(root, "access.log")
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.cmd_timeout = cmd_timeout
        self.interval = interval
        self.start_output = ""
        self.pid = None
        if conf_text is not None:
            write_file(self.conf, conf_text)

    def cmd(self, *args):
        return [self.apache, "-d", self.root, "-f", self.conf] + list(args)

    def start(self, ready=None):
        """apache2 -k start, then polls until the parent in the PidFile
        runs, every port accepts a connection and ready() (if given) is
        true.  Raises StartError otherwise."""
        rc, out = run(self.cmd("-k", "start"), timeout=self.cmd_timeout)
        self.start_output = out
        if rc != 0:
            raise StartError("%s: apache2 -k start exited %d:\n%s\n%s"
                             % (self.name, rc, out.strip(), self.log_tail(20)))

        def up():
            pid = self.read_pid()
            if not pid or not pid_alive(pid):
                return False
            for p in self.ports:
                try:
                    socket.create_connection((LOOPBACK, p), timeout=2).close()
                except OSError:
                    return False
            if ready is not None and not ready():
                return False
            self.pid = pid
            return True

        if not poll(up, self.start_timeout, self.interval):
            raise StartError("%s: not ready within %.0fs\n%s"
                             % (self.name, self.start_timeout, self.log_tail(20)))

    def read_pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def alive(self):
        pid = self.read_pid() or self.pid
        return bool(pid) and pid_alive(pid)

    def stop(self):
        stop_pid(self.read_pid() or self.pid, self.stop_timeout,
                 interval=self.interval)

    def graceful(self):
        return run(self.cmd("-k", "graceful"), timeout=self.cmd_timeout)

    def config_test(self):
        return run(self.cmd("-t"), timeout=self.cmd_timeout)

    def log_size(self):
        try:
            return os.path.getsize(self.errlog)
        except OSError:
            return 0

    def log_text(self, since=0):
        return read_text(self.errlog, since)

    def log_count(self, needle):
        return self.log_text().count(needle)

    def log_tail(self, n=20, since=None):
        lines = self.log_text(since or 0).splitlines()[-n:]
        return "\n".join("    | " + l for l in lines)


class Foreground:
    """A server kept in the foreground under Popen (its output goes to
    workdir/stdout.log) and stopped by its pid."""

    def __init__(self, name, workdir, argv, port, errlog, stop_timeout=60.0):
        self.name = name
        self.dir = workdir
        self.argv = argv
        self.port = port
        self.errlog = errlog
        self.stop_timeout = stop_timeout
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def start(self):
        with open(os.path.join(self.dir, "stdout.log"), "wb") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out,
                                         stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=8):
        text = ""
        for path in (self.errlog, os.path.join(self.dir, "stdout.log")):
            try:
                with open(path, errors="replace") as f:
                    text += "".join(f.readlines()[-n:])
            except OSError:
                pass
        return text.strip()

    def count_in_errlog(self, needle):
        return read_text(self.errlog).count(needle)

    def stop(self):
        if self.proc is None:
            return
        stop_pid(self.proc.pid, self.stop_timeout, proc=self.proc, interval=0.02)
        self.proc = None
