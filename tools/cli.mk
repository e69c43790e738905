# redirect307 CLI: tests and man page check.  Included by the Makefile
# (-include tools/cli.mk); $(BUILD)/redirect307 is built there from
# tools/redirect307.c + redirect_rules.c.

.PHONY: cli-test

cli-test: $(BUILD)/redirect307
	python3 test/cli/run.py --bin $(CURDIR)/$(BUILD)/redirect307 --man $(CURDIR)/tools/redirect307.1
