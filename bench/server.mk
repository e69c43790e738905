# Whole-server benchmark: `make bench` (full: N = 1, 10k, 100k, 1M, about
# 25 minutes) or `make bench BENCH_QUICK=1` (N = 1 and 100k, under five).
# Included from the main Makefile, which defines deps, APACHE2 and the
# module target.  Never part of `make test`.
#
# bench/server_bench.py starts ours, mod_alias, mod_rewrite (txt:, dbm:),
# nginx map and HAProxy map side by side on loopback, loads each with wrk
# and writes bench/results.md and bench/results.png.

# command:Debian package, for what the benchmark runs besides httpd.
BENCH_SERVER_TOOLS = wrk:wrk nginx:nginx-light haproxy:haproxy \
                     gnuplot:gnuplot-nox httxt2dbm:apache2-utils curl:curl
BENCH_QUICK ?=

.PHONY: bench bench-server bench-server-deps

bench: deps .libs/mod_redirect307.so bench-server

# Installs what is missing when root (apt-get update first), otherwise
# prints the apt-get line and stops, as `deps` does.
bench-server-deps:
	@missing=""; for tp in $(BENCH_SERVER_TOOLS); do \
	    t=$${tp%%:*}; p=$${tp#*:}; \
	    PATH="$$PATH:/usr/sbin:/sbin" command -v $$t >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "installing:$$missing"; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	    else \
	        echo "the benchmark needs Debian packages; run:"; \
	        echo "  sudo apt-get update && sudo apt-get install -y$$missing"; \
	        exit 1; \
	    fi; \
	fi

bench-server: deps .libs/mod_redirect307.so bench-server-deps
	PATH="$$PATH:/usr/sbin:/sbin" BENCH_QUICK=$(BENCH_QUICK) \
	    python3 bench/server_bench.py --module $(CURDIR)/.libs/mod_redirect307.so \
	    --apache $(APACHE2)

# What Redirect307Stats On costs in hit rps (paired alternating runs).
.PHONY: bench-stats
bench-stats: deps .libs/mod_redirect307.so bench-server-deps
	PATH="$$PATH:/usr/sbin:/sbin" python3 bench/stats_cost.py \
	    --module $(CURDIR)/.libs/mod_redirect307.so --apache $(APACHE2)
