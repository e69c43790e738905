# Soak test: `make soak` (about 4 minutes; never part of `make test`).
# Included from the main Makefile, which defines deps, BUILD, APACHE2 and
# the module target .libs/mod_redirect307.so:
#
#     -include test/soak/soak.mk
#
# test/soak/soak.py starts httpd (mpm_event) with a 100,000-rule map on a
# free loopback port; wrk (test/soak/soak.lua, 32 connections) sends hits,
# misses and POSTs for 60 s while the script runs 20 graceful restarts
# (edited map / same map) and one with a broken map that must be refused,
# and 4 threads send Connection: close requests that must never fail.  It
# then reports requests, socket errors, unexpected statuses and PSS before
# and after, and sends 100,000 distinct miss paths to a fresh server to
# check that its children do not grow.  Exit status 1 when a correctness
# target fails; the memory targets only warn.
#
# SOAK_ARGS passes options to the script, e.g. SOAK_ARGS=--quick (a short
# run) or SOAK_ARGS=--keep (keep the temp dir with logs and maps).

SOAK_ARGS ?=

.PHONY: soak soak-deps

# wrk: installed when root (apt-get update first), otherwise the apt-get
# line is printed and make stops, as `deps` does.
soak-deps: deps
	@if ! command -v wrk >/dev/null 2>&1; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "installing: wrk"; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null || exit 1; \
	    else \
	        echo "make soak needs wrk; run:"; \
	        echo "  sudo apt-get update && sudo apt-get install -y wrk"; \
	        exit 1; \
	    fi; \
	fi

soak: deps .libs/mod_redirect307.so soak-deps
	python3 test/soak/soak.py --module $(CURDIR)/.libs/mod_redirect307.so \
	    --apache $(APACHE2) --wrk "$$(command -v wrk)" $(SOAK_ARGS)

# Parent and server memory over 100 graceful restarts with a 200k-rule map,
# every other one with an edited map.  Not part of make test.
.PHONY: soak-restarts
soak-restarts: deps .libs/mod_redirect307.so
	python3 test/soak/restarts.py --module $(CURDIR)/.libs/mod_redirect307.so --apache $(APACHE2)
