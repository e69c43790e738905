#!/usr/bin/env python3
"""What Redirect307Stats costs: hit rps with hit counting on against off.

Both servers run at once with the same rules (bench/server_bench.py's
generator); wrk alternates between them for ROUNDS rounds, swapping who
goes first, and the median of the per-round ratios is the figure, so the
load of a shared machine at any moment falls on both sides alike.

    python3 bench/stats_cost.py --module $PWD/.libs/mod_redirect307.so
    env: STATS_N (rules, default 100000), STATS_ROUNDS (default 7),
         BENCH_DURATION (seconds per wrk run, default 5)
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import server_bench as sb  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module", required=True)
    ap.add_argument("--apache", default="/usr/sbin/apache2")
    opts = ap.parse_args()
    sb.require(["wrk", "httxt2dbm", opts.apache])
    n = int(os.environ.get("STATS_N", "100000"))
    rounds = int(os.environ.get("STATS_ROUNDS", "7"))
    seconds = int(os.environ.get("BENCH_DURATION", "5"))
    scratch = tempfile.mkdtemp(prefix="mod-redirect307-stats-cost-",
                               dir="/var/tmp")
    os.chmod(scratch, 0o755)
    servers = []
    try:
        rules = sb.RuleSet(scratch, n, shutil.which("httxt2dbm"))
        ours = ("redirect307_module", os.path.abspath(opts.module))
        body = 'Redirect307Map "%s"\n' % rules.r307
        cfgs = [sb.Config("stats-off", "Redirect307Stats Off", "apache", n,
                          307, rules, [ours], body + "Redirect307Stats Off"),
                sb.Config("stats-on", "Redirect307Stats On", "apache", n,
                          307, rules, [ours], body + "Redirect307Stats On")]
        up = []
        for cfg in cfgs:
            srv = sb.make_server(cfg, scratch, opts.apache)
            servers.append(srv)
            src, tgt = rules.probe_paths()[0]
            sb.wait_first_answer(srv, cfg, src, tgt, sb.START_LIMIT)
            up.append(srv)
        off, on = up
        for srv in up:
            sb.run_wrk(srv.port, rules.hits, "3xx", 2)
        ratios = []
        for k in range(rounds):
            order = [(off, on), (on, off)][k % 2]
            rps = {}
            for srv in order:
                res = sb.run_wrk(srv.port, rules.hits, "3xx", seconds)
                if res.get("bad"):
                    sys.exit("%s: %s unexpected answers" % (srv.name,
                                                            res["bad"]))
                rps[srv.name] = res["rps"]
            ratios.append(rps["stats-on"] / rps["stats-off"])
            print("round %d: stats off %.0f rps, on %.0f rps (%.1f%%)"
                  % (k + 1, rps["stats-off"], rps["stats-on"],
                     100 * ratios[-1]), flush=True)
        med = statistics.median(ratios)
        print("Redirect307Stats On / Off, hit rps, %d rules, median of %d "
              "rounds: %.1f%% (cost %.1f%%; target < 2%%)"
              % (n, rounds, 100 * med, 100 * (1 - med)))
    finally:
        for srv in servers:
            srv.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
