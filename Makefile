# mod_redirect307 - build, test, demo, bench.
#
# The module is built with apxs, as every httpd module is; the engine's unit
# tests, the CLI and the benchmarks link redirect_rules.c alone with plain cc.

APXS      ?= $(shell command -v apxs 2>/dev/null || echo /usr/bin/apxs)
APACHE2   ?= /usr/sbin/apache2
CC        ?= cc
WARN       = -Wall -Wextra -Werror=implicit-function-declaration
APR_CFLAGS = $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null)
APR_LIBS   = $(shell apr-1-config --link-ld --libs 2>/dev/null) $(shell apu-1-config --link-ld --libs 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)
CFLAGS    ?= -O2 -g
BUILD      = build

# Debian packages the build and the tests need.
DEB_PKGS   = apache2 apache2-dev check curl pkg-config build-essential python3

MODULE     = .libs/mod_redirect307.so
ENGINE_SRC = redirect_rules.c $(wildcard engine/*.c)
ENGINE_HDR = redirect_rules.h $(wildcard engine/*.h)
ENGINE     = $(ENGINE_SRC) $(ENGINE_HDR)
UNIT_SRC   = $(wildcard test/unit/*.c)

.PHONY: all deps install clean test unit unit-asan integration demo bench bench-engine memcheck

all: $(MODULE) $(BUILD)/redirect307

# On a bare machine: install what is missing when root, otherwise say how.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "installing:$$missing"; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	    else \
	        echo "missing Debian packages; run:"; \
	        echo "  sudo apt-get install -y$$missing"; \
	        exit 1; \
	    fi; \
	fi

$(MODULE): mod_redirect307.c $(ENGINE)
	$(APXS) -c -I. $(addprefix -Wc$(,),$(WARN)) -o mod_redirect307.la mod_redirect307.c $(ENGINE_SRC)

, := ,

$(BUILD):
	mkdir -p $(BUILD)

$(BUILD)/redirect307: tools/redirect307.c $(ENGINE) | $(BUILD)
	$(CC) $(CFLAGS) $(WARN) $(APR_CFLAGS) -I. -o $@ tools/redirect307.c $(ENGINE_SRC) $(APR_LIBS)

$(BUILD)/unit_tests: $(UNIT_SRC) $(ENGINE) | $(BUILD)
	$(CC) $(CFLAGS) $(WARN) $(APR_CFLAGS) $(CHECK_CFLAGS) -I. -o $@ $(UNIT_SRC) $(ENGINE_SRC) $(APR_LIBS) $(CHECK_LIBS)

$(BUILD)/unit_tests_asan: $(UNIT_SRC) $(ENGINE) | $(BUILD)
	$(CC) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	    $(WARN) $(APR_CFLAGS) $(CHECK_CFLAGS) -I. -o $@ $(UNIT_SRC) $(ENGINE_SRC) $(APR_LIBS) $(CHECK_LIBS)

PREFIX ?= /usr/local

install: $(MODULE) $(BUILD)/redirect307
	$(APXS) -i -n redirect307 mod_redirect307.la
	install -D -m 755 $(BUILD)/redirect307 $(DESTDIR)$(PREFIX)/bin/redirect307
	install -D -m 644 tools/redirect307.1 $(DESTDIR)$(PREFIX)/share/man/man1/redirect307.1
	@if [ -d /etc/apache2/mods-available ]; then \
	    install -m 644 conf/redirect307.load /etc/apache2/mods-available/redirect307.load; \
	    install -m 644 conf/redirect307.conf /etc/apache2/mods-available/redirect307.conf; \
	    echo "installed /etc/apache2/mods-available/redirect307.{load,conf}: a2enmod redirect307"; \
	fi

unit: deps $(BUILD)/unit_tests
	CK_FORK=yes $(BUILD)/unit_tests

unit-asan: deps $(BUILD)/unit_tests_asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 CK_FORK=no $(BUILD)/unit_tests_asan

memcheck: deps $(BUILD)/unit_tests
	@if command -v valgrind >/dev/null; then \
	    CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite $(BUILD)/unit_tests; \
	else echo "valgrind not installed: memcheck skipped"; fi

integration: deps $(MODULE) $(BUILD)/redirect307
	python3 test/integration.py --module $(CURDIR)/$(MODULE) --apache $(APACHE2)

test: deps
	$(MAKE) unit unit-asan memcheck fuzz-short cli-test integration

demo: deps $(MODULE)
	@sh conf/demo.sh $(CURDIR) $(APACHE2)

# Benchmarks and fuzzers keep their rules in fragments of their own.
-include bench/bench.mk
-include bench/server.mk
-include test/fuzz/fuzz.mk
-include tools/cli.mk
-include test/soak/soak.mk

clean:
	rm -rf $(BUILD) .libs *.la *.lo *.slo *.o
