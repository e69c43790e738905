"""What every *_cost.py benchmark shares: its command line, a scratch
directory, the servers it starts, and alternated wrk rounds.

A cost benchmark compares a few runs (a server and the request list sent
to it) on this shared machine, so it never reports an absolute rate: it
runs them one after the other in a round, reverses the order every other
round so that neither side always goes first, and reports the median of
the per-round ratios.

    with paired.Bench(__doc__, "pattern", "PATTERN", 1000000, 5) as b:
        srv = b.start(cfg, "/old/s-0/p-0", "/new/p-0")
        runs = {"a": paired.Run(srv, "/path/list", "3xx"), ...}
        b.warm_up(runs)
        for k, rps in b.rounds(runs, ["a", "b"]):
            ...

Environment: PREFIX_N (the benchmark's size), PREFIX_ROUNDS, and
BENCH_DURATION (seconds per wrk run, default 5).
"""
import argparse
import collections
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import server_bench as sb  # noqa: E402

# One run of a round: the server, the file of request lines wrk cycles
# through, and the answers it must give ("3xx", "404", ...).
Run = collections.namedtuple("Run", "srv paths expect")


def wrk(run, seconds, label):
    """One wrk run; stops the benchmark on any unexpected answer, since a
    rate of wrong answers measures nothing."""
    res = sb.run_wrk(run.srv.port, run.paths, run.expect, seconds)
    if res.get("bad") or not res.get("rps") or not res.get("requests"):
        sys.exit("%s: %s unexpected answers\n%s"
                 % (label, res.get("bad"), res.get("raw", "")))
    return res


class Bench:
    """The command line (--module, --apache), PREFIX_* settings, a scratch
    directory under /var/tmp (httpd's user must read it), and the servers
    started: all stopped and removed on leaving the `with`."""

    def __init__(self, doc, name, env, n, rounds, tools=()):
        ap = argparse.ArgumentParser(description=doc.split("\n")[0])
        ap.add_argument("--module", required=True)
        ap.add_argument("--apache", default="/usr/sbin/apache2")
        self.opts = ap.parse_args()
        self.module = os.path.abspath(self.opts.module)
        self.apache = self.opts.apache
        sb.require(["wrk", self.apache] + list(tools))
        self.n = int(os.environ.get(env + "_N", str(n)))
        self.rounds_n = int(os.environ.get(env + "_ROUNDS", str(rounds)))
        self.seconds = int(os.environ.get("BENCH_DURATION", "5"))
        self.name = name
        self.scratch = None
        self.servers = []

    def __enter__(self):
        self.scratch = tempfile.mkdtemp(
            prefix="mod-redirect307-%s-cost-" % self.name, dir="/var/tmp")
        os.chmod(self.scratch, 0o755)
        return self

    def __exit__(self, *exc):
        for srv in self.servers:
            srv.stop()
        shutil.rmtree(self.scratch, ignore_errors=True)
        return False

    def path(self, name):
        return os.path.join(self.scratch, name)

    def ours(self):
        """The module list entry of mod_redirect307 for sb.Config."""
        return ("redirect307_module", self.module)

    def make(self, cfg):
        """Writes cfg's server (not started answering yet); it is stopped
        with the others."""
        os.chmod(self.scratch, 0o755)
        srv = sb.make_server(cfg, self.scratch, self.apache)
        self.servers.append(srv)
        return srv

    def start(self, cfg, probe, expect_location):
        """make() and wait until it answers `probe` as it should."""
        srv = self.make(cfg)
        sb.wait_first_answer(srv, cfg, probe, expect_location,
                             sb.START_LIMIT)
        return srv

    def warm_up(self, runs, seconds=2):
        for label, run in runs.items():
            wrk(run, seconds, label)

    def rounds(self, runs, order, measure=None):
        """Yields (round, {label: result}) for each round, the runs taken
        in `order`, reversed every other round.  A result is the run's rps,
        or what measure(run, seconds) returns."""
        for k in range(self.rounds_n):
            got = {}
            for label in (order if k % 2 == 0 else order[::-1]):
                run = runs[label]
                got[label] = (measure(run, self.seconds) if measure
                              else wrk(run, self.seconds, label)["rps"])
            yield k, got
