# mk/import.mk - differential tests of `redirect307 import`, included by
# the main Makefile (which defines deps, DEPS_SH, APACHE2, BUILD, MODULE
# and their targets).
#
#   make import-test         every test/import/diff_*.py, in name order
#
# Each script starts the real source server (apache2 with mod_alias or
# mod_rewrite, nginx, haproxy, ...) on an original configuration and
# apache2 with mod_redirect307 on what `redirect307 import` made of it,
# sends both the same requests and compares status and Location (see
# test/import/diff_common.py, the machinery they share).  A new format's
# test is one more test/import/diff_FORMAT.py, picked up here; the servers it needs go into
# IMPORT_DEB_PKGS, which is part of `make test`'s package list.  Every
# script runs even when one fails; the target fails if any did.

# COMMAND:Debian package (see mk/deps.sh).
IMPORT_DEB_PKGS = nginx:nginx haproxy:haproxy
IMPORT_TESTS    = $(filter-out test/import/diff_common.py, \
                      $(sort $(wildcard test/import/diff_*.py)))

.PHONY: import-test import-deps

import-deps: deps
	@$(DEPS_SH) $(IMPORT_DEB_PKGS)

import-test: deps import-deps $(MODULE) $(BUILD)/redirect307
	@failed=""; \
	for t in $(IMPORT_TESTS); do \
	    echo "== $$t"; \
	    PATH="$$PATH:/usr/sbin:/sbin" python3 $$t \
	        --bin $(CURDIR)/$(BUILD)/redirect307 \
	        --module $(CURDIR)/$(MODULE) --apache $(APACHE2) \
	        || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "import tests failed:$$failed"; exit 1; fi
