#!/usr/bin/env python3
"""What Redirect307Missed costs: 404 rps with missed-URL counting on
against off.

Two servers at once, the module loaded in both, no rules, the same empty
document root, so that every request is the static handler's 404; one has
Redirect307Missed On (the default MissedSize 1000 and three ignore
patterns, which each 404 is matched against), the other Off.  wrk cycles
through 10,000 distinct missing paths, ten times what the table lists: once
the table has filled, nearly every request takes a slot over, the costly
case.  Rounds alternate between the servers, swapping who goes first, and
the median of the per-round ratios is the figure, so the load of a shared
machine at any moment falls on both sides alike (SPEC target: >= 0.95).
A second figure, less moved by other load on the machine, is the CPU time
the servers' processes spent per 404 (from /proc), On against Off.

    python3 bench/missed_cost.py --module $PWD/.libs/mod_redirect307.so
    env: MISSED_N (distinct paths, default 10000), MISSED_ROUNDS
         (default 7), BENCH_DURATION (seconds per wrk run, default 5)
"""
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import paired  # noqa: E402
import server_bench as sb  # noqa: E402

IGNORE = "Redirect307MissedIgnore *.php /wp-login* /.env"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """CPU time of a server: its parent, the children it reaped and the
    children it has (utime, stime, cutime, cstime of /proc/PID/stat)."""
    def fields(p):
        with open("/proc/%d/stat" % p) as f:
            return [int(x) for x in f.read().rsplit(")", 1)[1].split()[11:15]]
    total = sum(fields(pid))
    for kid in sb.hh.children_of(pid):
        try:
            total += sum(fields(kid)[:2])
        except OSError:     # exited since: now in the parent's cutime
            pass
    return total / TICK


def measure(run, seconds):
    """(rps, CPU microseconds per request) of one wrk run."""
    c0 = cpu_seconds(run.srv.pid)
    res = paired.wrk(run, seconds, run.srv.name)
    c1 = cpu_seconds(run.srv.pid)
    return res["rps"], 1e6 * (c1 - c0) / res["requests"]


def main():
    with paired.Bench(__doc__, "missed", "MISSED", 10000, 7) as b:
        n = b.n
        paths = b.path("missing.txt")
        with open(paths, "w") as f:
            f.write("".join("/missing/s-%d/p-%d\n" % (i // 100, i)
                            for i in range(n)))
        runs = {}
        for state, extra in (("Off", ""), ("On", "\n" + IGNORE)):
            cfg = sb.Config("missed-" + state.lower(),
                            "Redirect307Missed " + state, "apache", None, 404,
                            None, [b.ours()],
                            "Redirect307Missed " + state + extra)
            runs[state] = paired.Run(b.start(cfg, "/missing/first", None),
                                     paths, "404")
        b.warm_up(runs)     # fills the table of the On one
        ratios, cpu_ratios = [], []
        for k, got in b.rounds(runs, ["Off", "On"], measure):
            (rps_off, cpu_off), (rps_on, cpu_on) = got["Off"], got["On"]
            ratios.append(rps_on / rps_off)
            cpu_ratios.append(cpu_on / cpu_off)
            print("round %d: missed off %.0f rps (%.1f us CPU per 404), on "
                  "%.0f rps (%.1f us) (%.1f%%)"
                  % (k + 1, rps_off, cpu_off, rps_on, cpu_on,
                     100 * ratios[-1]), flush=True)
        print("Redirect307Missed On / Off, 404 rps, %d distinct missing "
              "paths, median of %d rounds: %.1f%% (target >= 95%%); CPU "
              "per 404, On / Off: %.1f%%"
              % (n, b.rounds_n, 100 * statistics.median(ratios),
                 100 * statistics.median(cpu_ratios)))


if __name__ == "__main__":
    main()
