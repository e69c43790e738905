# mk/server.mk - the whole-server benchmark, included by the main Makefile
# (which defines deps, DEPS_SH, APACHE2 and the module target).  Never part
# of `make test`.
#
#   make bench                        N = 1, 10k, 100k, 1M (about 25 minutes)
#   make bench BENCH_QUICK=1          N = 1 and 100k (under five)
#   make bench-server BENCH_QUICK=1 BENCH_ONLY=ours BENCH_OUT=/tmp/b
#                                     only our configurations; results to /tmp/b
#   make bench-stats                  what Redirect307Stats On costs
#   make bench-match                  what visitors' tracking parameters cost
#                                     (1M rules, 10% host, 10% query; in make bench)
#   make bench BENCH_SCALE=10M        only the start-up and memory figures at
#                                     10M rules (about 10 minutes, 24 GiB box)
#   make bench-scale                  the same at 1M, with nginx and HAProxy
#                                     (in make bench)
#   make bench-missed                 what Redirect307Missed On costs on 404s
#                                     (10,000 distinct missing paths; in make bench)
#   make bench-dir                    a 100k-rule map in .htaccess against the
#                                     same map at server level (in make bench)
#   make bench-pattern                literal and pattern hits against the floor
#                                     (1M literal + 1,000 pattern rules in 50
#                                     shapes; in make bench)
#
# bench/server_bench.py starts ours, mod_alias, mod_rewrite (txt:, dbm:),
# nginx map and HAProxy map side by side on loopback, loads each with wrk
# and writes results.md, results.png, results.json and results-wrk.log to
# $(BENCH_OUT) (bench/, where the committed results are, unless told).
# BENCH_ONLY, BENCH_NS, BENCH_DURATION and BENCH_KEEP are read from the
# environment by the script (see its docstring).

# COMMAND:Debian package (see mk/deps.sh), for what the benchmark runs
# besides httpd.
BENCH_SERVER_TOOLS = wrk:wrk nginx:nginx-light haproxy:haproxy \
                     gnuplot:gnuplot-nox httxt2dbm:apache2-utils curl:curl
BENCH_QUICK ?=
BENCH_OUT   ?= $(CURDIR)/bench
BENCH_SCALE ?=
BENCH_SCALE_N = $(if $(BENCH_SCALE),$(subst M,000000,$(subst k,000,$(BENCH_SCALE))),1000000)

.PHONY: bench bench-server bench-server-deps bench-stats bench-match \
        bench-missed bench-dir bench-pattern bench-scale

ifneq ($(BENCH_SCALE),)
bench: deps .libs/mod_redirect307.so bench-scale
else
bench: deps .libs/mod_redirect307.so bench-server bench-scale bench-match \
       bench-missed bench-dir bench-pattern
endif

# Start-up, graceful, peak RSS and PSS at BENCH_SCALE rules (1M unless
# told), compiled tables in a scratch Redirect307CacheDir; nginx and
# HAProxy side by side up to 1M.  Writes bench/scale-results-N.md.
bench-scale: deps .libs/mod_redirect307.so $(BUILD)/redirect307 \
	     bench-server-deps
	PATH="$$PATH:/usr/sbin:/sbin" python3 bench/scale_bench.py \
	    --module $(CURDIR)/.libs/mod_redirect307.so --apache $(APACHE2) \
	    --cli $(CURDIR)/$(BUILD)/redirect307 \
	    --n $(BENCH_SCALE_N) --out $(BENCH_OUT)

bench-server-deps: deps
	@$(DEPS_SH) $(BENCH_SERVER_TOOLS)

bench-server: deps .libs/mod_redirect307.so bench-server-deps
	PATH="$$PATH:/usr/sbin:/sbin" BENCH_QUICK=$(BENCH_QUICK) \
	    python3 bench/server_bench.py --module $(CURDIR)/.libs/mod_redirect307.so \
	    --apache $(APACHE2) --out $(BENCH_OUT)

# The paired cost benchmarks, bench-NAME running bench/NAME_cost.py (one
# command line, bench/paired.py), each against its own baseline:
#   bench-stats    what Redirect307Stats On costs in hit rps
#   bench-match    what tracking parameters cost: 1M rules (10% host, 10%
#                  query), hits with two tracking parameters against the
#                  same hits without
#   bench-missed   what Redirect307Missed On costs in 404 rps: On and Off,
#                  the same empty docroot, 10,000 distinct missing paths
#   bench-dir      what a map in .htaccess costs in hit rps: a 100k-rule
#                  map in the docroot's .htaccess against the same map at
#                  server level
#   bench-pattern  what pattern rules cost in hit rps: 1M literal rules +
#                  1,000 pattern rules in 50 shapes; literal hits and
#                  pattern hits, each against the one-Redirect floor
BENCH_COSTS = bench-stats bench-match bench-missed bench-dir bench-pattern

$(BENCH_COSTS): bench-%: deps .libs/mod_redirect307.so bench-server-deps
	PATH="$$PATH:/usr/sbin:/sbin" python3 bench/$*_cost.py \
	    --module $(CURDIR)/.libs/mod_redirect307.so --apache $(APACHE2)
