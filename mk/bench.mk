# mk/bench.mk - the engine benchmark, included by the main Makefile
# (which defines CC, WARN, APR_CFLAGS, APR_LIBS, ENGINE, BUILD and deps).
#
#   make bench-engine                          1k, 100k and 1M rules
#   make bench-engine BENCH_ENGINE_SIZES="1000 50000"
#   BENCH_QUICK=1 make bench-engine            1k and 100k only
#
# Built with -O2 whatever CFLAGS says, so that runs compare; the output
# names the engine's git revision (+modified for an edited engine).

BENCH_ENGINE_SIZES ?=
BENCH_ENGINE_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)$(shell \
    git diff --quiet HEAD -- $(ENGINE) 2>/dev/null || echo +modified)

.PHONY: bench-engine

$(BUILD)/engine_bench: bench/engine_bench.c $(ENGINE) | $(BUILD)
	$(CC) -std=c99 -O2 -g $(WARN) $(APR_CFLAGS) -I. \
	    -DBENCH_ENGINE_REV='"$(BENCH_ENGINE_REV)"' -o $@ \
	    bench/engine_bench.c $(ENGINE_SRC) $(APR_LIBS)

bench-engine: deps $(BUILD)/engine_bench
	$(BUILD)/engine_bench $(BENCH_ENGINE_SIZES)
