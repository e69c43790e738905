# mod_redirect307 - build, test, demo, bench.
#
# The module is built with apxs, as every httpd module is; the engine's unit
# tests, the CLI and the benchmarks link the engine (redirect_rules.c and
# engine/*.c) with plain cc.  Every binary depends on every header it can
# include: edit one and what uses it is rebuilt.
#
# The rest of the rules live in mk/, included below (a missing fragment is
# an error, not a silent gap):
#   mk/deps.sh    the one Debian-package installer every *-deps target calls
#   mk/cli.mk     the redirect307 CLI: build/redirect307 and cli-test
#   mk/fuzz.mk    libFuzzer targets: fuzz, fuzz-short, fuzz-regressions
#   mk/import.mk  differential tests of `redirect307 import`: import-test
#   mk/bench.mk   the engine benchmark: bench-engine
#   mk/server.mk  the whole-server benchmark: bench, bench-server, bench-stats
#   mk/soak.mk    the soak tests: soak, soak-restarts
#   mk/deb.mk     the Debian package: deb, deb-build, deb-test
#
# Packages: `deps` installs what building, the demo and `make test` all
# need; targets that need more have their own list and a *-deps target
# (memcheck-deps, fuzz-deps, import-deps, deb-deps, bench-server-deps,
# soak-deps), each a call of mk/deps.sh: as root it installs what is
# missing (apt-get update first), as another user it prints the exact
# `sudo apt-get install -y ...` line and stops.  `make test` installs
# everything its parts need first.

APXS      ?= $(shell command -v apxs 2>/dev/null || echo /usr/bin/apxs)
APACHE2   ?= /usr/sbin/apache2
CC        ?= cc
WARN       = -Wall -Wextra -Werror=implicit-function-declaration
APR_CFLAGS = $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null)
APR_LIBS   = $(shell apr-1-config --link-ld --libs 2>/dev/null) $(shell apu-1-config --link-ld --libs 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)
JANSSON_CFLAGS = $(shell pkg-config --cflags jansson 2>/dev/null)
JANSSON_LIBS   = $(shell pkg-config --libs jansson 2>/dev/null)
CFLAGS    ?= -O2 -g
BUILD      = build

# Debian packages.  DEPS: building (module, CLI, unit tests), the demo and
# the integration tests.  DEPS_TEST: all of `make test` (the fuzzers' list
# is FUZZ_DEB_PKGS in mk/fuzz.mk, the import tests' servers
# IMPORT_DEB_PKGS in mk/import.mk, the package build's DEB_PKGS in
# mk/deb.mk).
DEPS_SH    = sh mk/deps.sh
DEPS       = apache2 apache2-dev check curl pkg-config build-essential python3 \
             libjansson-dev
DEPS_MEMCHECK = valgrind
DEPS_TEST  = $(DEPS) $(DEPS_MEMCHECK) $(FUZZ_DEB_PKGS) $(IMPORT_DEB_PKGS) \
             $(DEB_PKGS)

MODULE     = .libs/mod_redirect307.so
ENGINE_SRC = redirect_rules.c $(wildcard engine/*.c)
ENGINE_HDR = redirect_rules.h $(wildcard engine/*.h)
ENGINE     = $(ENGINE_SRC) $(ENGINE_HDR)
# httpd glue beyond the module's core (Redirect307Missed, the stats
# file): only in the module
GLUE_SRC   = $(wildcard httpd/*.c)
GLUE_HDR   = $(wildcard httpd/*.h)
# The CLI reads the stats file httpd writes: one format, one source.
CLI_SRC    = $(wildcard tools/*.c) httpd/r307_statsfmt.c httpd/r307_cache.c
CLI_HDR    = $(wildcard tools/*.h) httpd/r307_statsfmt.h httpd/r307_cache.h
UNIT_SRC   = $(wildcard test/unit/*.c)
UNIT_HDR   = $(wildcard test/unit/*.h)

.PHONY: all deps deps-test install uninstall clean test unit unit-asan \
        integration demo memcheck memcheck-deps

all: $(MODULE) $(BUILD)/redirect307

deps:
	@$(DEPS_SH) $(DEPS)

# Everything `make test` needs, in one apt-get run.
deps-test:
	@$(DEPS_SH) $(DEPS_TEST)

memcheck-deps: deps
	@$(DEPS_SH) $(DEPS_MEMCHECK)

$(MODULE): mod_redirect307.c $(GLUE_SRC) $(GLUE_HDR) $(ENGINE)
	$(APXS) -c -I. $(addprefix -Wc$(,),$(WARN)) -o mod_redirect307.la mod_redirect307.c $(GLUE_SRC) $(ENGINE_SRC)

, := ,

$(BUILD):
	mkdir -p $(BUILD)

$(BUILD)/unit_tests: $(UNIT_SRC) $(UNIT_HDR) $(ENGINE) | $(BUILD)
	$(CC) $(CFLAGS) $(WARN) $(APR_CFLAGS) $(CHECK_CFLAGS) -I. -o $@ $(UNIT_SRC) $(ENGINE_SRC) $(APR_LIBS) $(CHECK_LIBS)

$(BUILD)/unit_tests_asan: $(UNIT_SRC) $(UNIT_HDR) $(ENGINE) | $(BUILD)
	$(CC) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	    $(WARN) $(APR_CFLAGS) $(CHECK_CFLAGS) -I. -o $@ $(UNIT_SRC) $(ENGINE_SRC) $(APR_LIBS) $(CHECK_LIBS)

# Installation.  Everything goes under $(DESTDIR):
#   module   $(DESTDIR)$(MODDIR)/mod_redirect307.so   (apxs -q LIBEXECDIR;
#            not `apxs -i`, which ignores DESTDIR)
#   CLI      $(DESTDIR)$(PREFIX)/bin/redirect307
#   man page $(DESTDIR)$(PREFIX)/share/man/man1/redirect307.1
#   Debian   $(DESTDIR)/etc/apache2/mods-available/redirect307.{load,conf}
# The Debian a2enmod files are installed when DESTDIR is set (a staged
# install, e.g. for a package: the files belong in it whatever the build
# machine is) or when /etc/apache2/mods-available exists (installing onto
# a Debian-layout httpd).  conf/redirect307.load must load the module from
# where it is installed; install checks that.  uninstall removes exactly
# these files, under the same conditions, and leaves directories alone.
PREFIX  ?= /usr/local
MODDIR   = $(shell $(APXS) -q LIBEXECDIR)
MODS_AVAILABLE = /etc/apache2/mods-available
INSTALL_DEBIAN = $(if $(DESTDIR),yes,$(if $(wildcard $(MODS_AVAILABLE)),yes,))
INSTALLED = $(DESTDIR)$(MODDIR)/mod_redirect307.so \
            $(DESTDIR)$(PREFIX)/bin/redirect307 \
            $(DESTDIR)$(PREFIX)/share/man/man1/redirect307.1 \
            $(if $(INSTALL_DEBIAN),$(DESTDIR)$(MODS_AVAILABLE)/redirect307.load \
                                   $(DESTDIR)$(MODS_AVAILABLE)/redirect307.conf)

install: $(MODULE) $(BUILD)/redirect307
	@[ -n "$(MODDIR)" ] || { echo "$(APXS) -q LIBEXECDIR gave nothing"; exit 1; }
	install -D -m 644 $(MODULE) $(DESTDIR)$(MODDIR)/mod_redirect307.so
	install -D -m 755 $(BUILD)/redirect307 $(DESTDIR)$(PREFIX)/bin/redirect307
	install -D -m 644 tools/redirect307.1 $(DESTDIR)$(PREFIX)/share/man/man1/redirect307.1
ifneq ($(INSTALL_DEBIAN),)
	@grep -qx 'LoadModule redirect307_module $(MODDIR)/mod_redirect307.so' conf/redirect307.load || { \
	    echo "conf/redirect307.load does not load $(MODDIR)/mod_redirect307.so"; exit 1; }
	install -D -m 644 conf/redirect307.load $(DESTDIR)$(MODS_AVAILABLE)/redirect307.load
	install -D -m 644 conf/redirect307.conf $(DESTDIR)$(MODS_AVAILABLE)/redirect307.conf
	@echo "installed $(DESTDIR)$(MODS_AVAILABLE)/redirect307.{load,conf}: a2enmod redirect307"
endif

uninstall:
	@[ -n "$(MODDIR)" ] || { echo "$(APXS) -q LIBEXECDIR gave nothing"; exit 1; }
	rm -f $(INSTALLED)

unit: deps $(BUILD)/unit_tests
	CK_FORK=yes $(BUILD)/unit_tests

unit-asan: deps $(BUILD)/unit_tests_asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 CK_FORK=no $(BUILD)/unit_tests_asan

memcheck: memcheck-deps $(BUILD)/unit_tests
	CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite $(BUILD)/unit_tests

# test/integration_dir.py: per-directory rules (.htaccess, <Directory>,
# <Location>), on integration.py's helpers
integration: deps $(MODULE) $(BUILD)/redirect307
	python3 test/integration.py --module $(CURDIR)/$(MODULE) --apache $(APACHE2)
	python3 test/integration_dir.py --module $(CURDIR)/$(MODULE) --apache $(APACHE2)

test: deps-test
	$(MAKE) unit unit-asan memcheck fuzz-short cli-test import-test \
	    integration deb-test

# httpd in the foreground on 127.0.0.1:$(DEMO_PORT) (make demo DEMO_PORT=8080).
DEMO_PORT ?= 8307

demo: deps $(MODULE)
	@sh conf/demo.sh $(CURDIR) $(APACHE2) $(DEMO_PORT)

include mk/cli.mk
include mk/fuzz.mk
include mk/import.mk
include mk/bench.mk
include mk/server.mk
include mk/soak.mk
include mk/deb.mk

# apxs leaves libtool objects next to every source it compiled; a
# dpkg-buildpackage run in the checkout itself (`make deb` builds in a
# copy) leaves DEB_TREE_OUTPUTS (mk/deb.mk).
clean:
	rm -rf $(BUILD) .libs engine/.libs httpd/.libs *.la *.lo *.slo *.o \
	    engine/*.lo engine/*.slo engine/*.o httpd/*.lo httpd/*.slo httpd/*.o
	rm -rf $(DEB_TREE_OUTPUTS)
