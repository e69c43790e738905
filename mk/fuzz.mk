# mk/fuzz.mk - libFuzzer targets for the rules engine and the CLI,
# included by the main Makefile (which defines BUILD, APR_CFLAGS, APR_LIBS,
# ENGINE, CLI_HDR, DEPS_SH, deps).
#
#   make fuzz                    each target for $(FUZZ_SECONDS) s (300)
#   make fuzz FUZZ_SECONDS=60
#   make fuzz-short              each engine target for 20 s and each CLI
#                                target for 10 s (part of `make test`: the
#                                CLI's targets are shallower, and 20 s each
#                                would make `make test` longer than it needs)
#   make fuzz-image-seeds        fuzz_image's seeds written again as images
#                                of fuzz_roundtrip's seeds (after a change
#                                of the image format)
#
# Engine targets (test/fuzz/*.c): fuzz_parse (parser on arbitrary bytes),
# fuzz_lookup (lookup + Location on arbitrary paths/queries against fixed
# tables), fuzz_roundtrip (parse -> rr_table_dump -> parse, same answers),
# fuzz_image (the compiled-table reader on arbitrary bytes, checksum
# fixed up so that the structural checks are reached).
# CLI targets: fuzz_import (`redirect307 import`, every input format of
# tools/cmd_import.c's table, on arbitrary bytes: reader, format, core,
# output), fuzz_request_url (the request-URL normaliser of `test`); they
# link the tools/*.c they need as well.
# Each run starts from a scratch copy of test/fuzz/corpus/<target>/ under
# $(BUILD)/fuzz/, so the committed seeds never grow.  A crash, leak, UB,
# timeout or violated property stops that target; its input is saved as
# $(BUILD)/fuzz/artifacts/<target>-crash-* and the run exits non-zero.
# Reproduce with:  $(BUILD)/fuzz/<target> FILE

FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 300
FUZZ_DIR       = $(BUILD)/fuzz
FUZZ_SRC       = test/fuzz
FUZZ_HDR       = $(wildcard $(FUZZ_SRC)/*.h)
FUZZ_ENGINE_TARGETS = fuzz_parse fuzz_lookup fuzz_roundtrip fuzz_image
FUZZ_CLI_TARGETS    = fuzz_import fuzz_request_url
FUZZ_TARGETS   = $(FUZZ_ENGINE_TARGETS) $(FUZZ_CLI_TARGETS)
FUZZ_BINS      = $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))
# The tools/*.c each CLI target links, besides the engine.
FUZZ_TOOLS_fuzz_import      = tools/cmd_import.c tools/importer.c \
                              tools/cli_util.c $(wildcard tools/import_*.c) \
                              tools/path_pattern.c tools/rewrite_pattern.c
FUZZ_TOOLS_fuzz_request_url = tools/request_url.c tools/cli_util.c
FUZZ_CFLAGS    = -g -O1 -fno-omit-frame-pointer \
                 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# Engine apr_palloc() calls become exact-size mallocs freed by pool
# cleanups (see fuzz_common.h), so ASan sees reads past a table's arrays.
FUZZ_LDFLAGS   = -Wl,--wrap=apr_palloc
# Debian 12: clang-14 itself, and libclang_rt.fuzzer-x86_64.a, which is in
# libclang-rt-14-dev (dpkg -S libclang_rt.fuzzer-x86_64.a).
FUZZ_DEB_PKGS  = clang libclang-rt-14-dev
# Per-target libFuzzer flags.
FUZZ_ARGS_fuzz_parse     = -max_len=16384
FUZZ_ARGS_fuzz_lookup    = -max_len=4096
FUZZ_ARGS_fuzz_roundtrip = -max_len=16384
FUZZ_ARGS_fuzz_image     = -max_len=65536
FUZZ_ARGS_fuzz_import    = -max_len=16384
FUZZ_ARGS_fuzz_request_url = -max_len=4096
FUZZ_COMMON_ARGS = -timeout=30 -rss_limit_mb=2048 -print_final_stats=1

.PHONY: fuzz fuzz-short fuzz-deps fuzz-build fuzz-regressions fuzz-image-seeds

# clang with the libFuzzer runtime, through mk/deps.sh (installed when
# root, else the apt-get line); then a probe that it links -fsanitize=fuzzer.
fuzz-deps: deps
	@$(DEPS_SH) $(FUZZ_DEB_PKGS)
	@echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
	    | $(FUZZ_CC) -fsanitize=fuzzer,address -x c - -o /dev/null || { \
	    echo "$(FUZZ_CC) cannot link -fsanitize=fuzzer (packages: $(FUZZ_DEB_PKGS))"; exit 1; }

$(FUZZ_DIR):
	mkdir -p $(FUZZ_DIR)

$(FUZZ_DIR)/fuzz_%: $(FUZZ_SRC)/fuzz_%.c $(FUZZ_HDR) $(ENGINE) | $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(WARN) $(APR_CFLAGS) -I. -o $@ $< $(ENGINE_SRC) $(FUZZ_LDFLAGS) $(APR_LIBS)

# The CLI targets: a rule each, as each links its own tools/*.c.
$(FUZZ_DIR)/fuzz_import: $(FUZZ_SRC)/fuzz_import.c $(FUZZ_HDR) $(ENGINE) \
                         $(FUZZ_TOOLS_fuzz_import) $(CLI_HDR) | $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(WARN) $(APR_CFLAGS) -I. -Itools -o $@ $< \
	    $(FUZZ_TOOLS_fuzz_import) $(ENGINE_SRC) $(FUZZ_LDFLAGS) $(APR_LIBS)

$(FUZZ_DIR)/fuzz_request_url: $(FUZZ_SRC)/fuzz_request_url.c $(FUZZ_HDR) \
                              $(ENGINE) $(FUZZ_TOOLS_fuzz_request_url) \
                              $(CLI_HDR) | $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(WARN) $(APR_CFLAGS) -I. -Itools -o $@ $< \
	    $(FUZZ_TOOLS_fuzz_request_url) $(ENGINE_SRC) $(FUZZ_LDFLAGS) \
	    $(APR_LIBS)

# fuzz_image's seeds: real images, one per roundtrip seed without errors.
$(BUILD)/image_seed: $(FUZZ_SRC)/image_seed.c $(ENGINE)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(WARN) $(APR_CFLAGS) -I. -o $@ $< $(ENGINE_SRC) $(APR_LIBS)

fuzz-image-seeds: $(BUILD)/image_seed
	rm -f $(FUZZ_SRC)/corpus/fuzz_image/*.r307c
	@for f in $(FUZZ_SRC)/corpus/fuzz_roundtrip/*; do \
	    $(BUILD)/image_seed $$f $(FUZZ_SRC)/corpus/fuzz_image/$${f##*/}.r307c \
	        2>/dev/null; \
	    case $$? in 0|2) ;; *) exit 1;; esac; \
	done
	@ls $(FUZZ_SRC)/corpus/fuzz_image

fuzz-build: fuzz-deps
	$(MAKE) --no-print-directory $(FUZZ_BINS)

# $(call fuzz_run,TARGETS,SECONDS): each of TARGETS for SECONDS from a
# scratch copy of its seeds; prints libFuzzer's final stats per target;
# fails if any failed.
define fuzz_run
	@failed=""; \
	for t in $(1); do \
	    work=$(FUZZ_DIR)/corpus-$$t; \
	    rm -rf $$work; mkdir -p $$work $(FUZZ_DIR)/artifacts; \
	    cp $(FUZZ_SRC)/corpus/$$t/* $$work/; \
	    case $$t in \
	        fuzz_parse) args="$(FUZZ_ARGS_fuzz_parse)";; \
	        fuzz_lookup) args="$(FUZZ_ARGS_fuzz_lookup)";; \
	        fuzz_roundtrip) args="$(FUZZ_ARGS_fuzz_roundtrip)";; \
	        fuzz_image) args="$(FUZZ_ARGS_fuzz_image)";; \
	        fuzz_import) args="$(FUZZ_ARGS_fuzz_import)";; \
	        *) args="$(FUZZ_ARGS_fuzz_request_url)";; \
	    esac; \
	    echo "== $$t: $(2) s"; \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(FUZZ_DIR)/$$t $(FUZZ_COMMON_ARGS) $$args -max_total_time=$(2) \
	        -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- $$work \
	        > $(FUZZ_DIR)/$$t.log 2>&1; \
	    rc=$$?; \
	    grep -E '^#[0-9]+[[:space:]]+(DONE|INITED|NEW|REDUCE|pulse)' $(FUZZ_DIR)/$$t.log | tail -n 1; \
	    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' $(FUZZ_DIR)/$$t.log; \
	    if [ $$rc -ne 0 ]; then \
	        echo "!! $$t FAILED (exit $$rc); log: $(FUZZ_DIR)/$$t.log"; \
	        grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|fuzz property violated|SUMMARY|Test unit written' \
	            $(FUZZ_DIR)/$$t.log | head -n 12; \
	        failed="$$failed $$t"; \
	    fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzzing found failures in:$$failed"; exit 1; fi; \
	echo "fuzzing: no failures"
endef

# Every input a fuzzer once failed on (test/fuzz/regressions/<target>-*,
# <target> without the fuzz_ prefix) must now pass.
fuzz-regressions: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	    set -- $(FUZZ_SRC)/regressions/$${t#fuzz_}-*; \
	    [ -e "$$1" ] || continue; \
	    ASAN_OPTIONS=detect_leaks=1 $(FUZZ_DIR)/$$t "$$@" > $(FUZZ_DIR)/$$t-regressions.log 2>&1 \
	        || { echo "!! $$t fails a regression input; see $(FUZZ_DIR)/$$t-regressions.log"; exit 1; }; \
	    echo "== $$t: $$# regression inputs pass"; \
	done

fuzz: fuzz-regressions
	$(call fuzz_run,$(FUZZ_TARGETS),$(FUZZ_SECONDS))

fuzz-short: fuzz-regressions
	$(call fuzz_run,$(FUZZ_ENGINE_TARGETS),20)
	$(call fuzz_run,$(FUZZ_CLI_TARGETS),10)
