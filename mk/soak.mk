# mk/soak.mk - the soak tests, included by the main Makefile (which defines
# deps, DEPS_SH, BUILD, APACHE2 and the module target
# .libs/mod_redirect307.so).  Never part of `make test`.
#
# `make soak` (about 4 minutes): test/soak/soak.py starts httpd (mpm_event)
# with a 100,000-rule map on a free loopback port; wrk (test/soak/soak.lua,
# 32 connections) sends hits, misses and POSTs for 60 s while the script
# runs 20 graceful restarts (edited map / same map) and one with a broken
# map that must be refused, and 4 threads send Connection: close requests
# that must never fail.  It then reports requests, socket errors,
# unexpected statuses and PSS before and after, and sends 100,000 distinct
# miss paths to a fresh server to check that its children do not grow.
# Exit status 1 when a correctness target fails; the memory targets only
# warn.
#
# SOAK_ARGS passes options to the script, e.g. SOAK_ARGS=--quick (a short
# run) or SOAK_ARGS=--keep (keep the temp dir with logs and maps).
#
# `make soak-restarts`: parent and server memory over 100 graceful restarts
# with a 200k-rule map, every other one with an edited map.

SOAK_ARGS ?=
# COMMAND:Debian package (see mk/deps.sh).
SOAK_DEB_PKGS = wrk:wrk

.PHONY: soak soak-deps soak-restarts

soak-deps: deps
	@$(DEPS_SH) $(SOAK_DEB_PKGS)

soak: deps .libs/mod_redirect307.so soak-deps
	python3 test/soak/soak.py --module $(CURDIR)/.libs/mod_redirect307.so \
	    --apache $(APACHE2) --wrk "$$(command -v wrk)" $(SOAK_ARGS)

soak-restarts: deps .libs/mod_redirect307.so
	python3 test/soak/restarts.py --module $(CURDIR)/.libs/mod_redirect307.so --apache $(APACHE2)
