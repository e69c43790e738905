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
import os
import shutil
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import paired  # noqa: E402
import server_bench as sb  # noqa: E402


def main():
    with paired.Bench(__doc__, "stats", "STATS", 100000, 7,
                      tools=["httxt2dbm"]) as b:
        n = b.n
        rules = sb.RuleSet(b.scratch, n, shutil.which("httxt2dbm"))
        body = 'Redirect307Map "%s"\n' % rules.r307
        src, tgt = rules.probe_paths()[0]
        runs = {}
        for state in ("Off", "On"):
            cfg = sb.Config("stats-" + state.lower(),
                            "Redirect307Stats " + state, "apache", n, 307,
                            rules, [b.ours()],
                            body + "Redirect307Stats " + state)
            runs[state] = paired.Run(b.start(cfg, src, tgt), rules.hits,
                                     "3xx")
        b.warm_up(runs)
        ratios = []
        for k, rps in b.rounds(runs, ["Off", "On"]):
            ratios.append(rps["On"] / rps["Off"])
            print("round %d: stats off %.0f rps, on %.0f rps (%.1f%%)"
                  % (k + 1, rps["Off"], rps["On"], 100 * ratios[-1]),
                  flush=True)
        med = statistics.median(ratios)
        print("Redirect307Stats On / Off, hit rps, %d rules, median of %d "
              "rounds: %.1f%% (cost %.1f%%; target < 2%%)"
              % (n, b.rounds_n, 100 * med, 100 * (1 - med)))


if __name__ == "__main__":
    main()
