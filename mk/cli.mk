# mk/cli.mk - the redirect307 CLI, included by the main Makefile (which
# defines CC, CFLAGS, WARN, APR_*, JANSSON_*, ENGINE, ENGINE_SRC, CLI_SRC,
# CLI_HDR, BUILD and deps).
#
# build/redirect307 is every tools/*.c plus the engine, compiled with
# -Itools and linked with jansson; it depends on every tools/*.h and every
# engine header.  cli-test runs test/cli/run.py against it and the man page.

.PHONY: cli-test

$(BUILD)/redirect307: $(CLI_SRC) $(CLI_HDR) $(ENGINE) | $(BUILD)
	$(CC) $(CFLAGS) $(WARN) $(APR_CFLAGS) $(JANSSON_CFLAGS) -I. -Itools -o $@ \
	    $(CLI_SRC) $(ENGINE_SRC) $(APR_LIBS) $(JANSSON_LIBS)

cli-test: deps $(BUILD)/redirect307
	python3 test/cli/run.py --bin $(CURDIR)/$(BUILD)/redirect307 --man $(CURDIR)/tools/redirect307.1
