# The kit's top-level Makefile. `make help` lists the targets.
#
#   make                 build every lab present (and netutil, the shared helper)
#   make 04_prefork      build one lab, and point ./server and ./client here at its programs
#   make test            build everything and run every test; SAN=address or SAN=thread for sanitizer builds
#                        LAB=07_epoll: that lab's tests only; FILTER='Lab07EchoServer.*': GoogleTest's filter
#   make demo            play every lab's demo (LAB=01_mtserver: just that one)
#   make live LAB=01_mtserver   the server and each client in its own tmux pane, ready to type into
#   make bench           run the benchmarks, write docs/benchmarks.md + plots (QUICK=1: short; CHECK=1: smoke test)
#   make bench-handout   lab 08 handout's benchmark (wrk -t10 -c10 -d30s, best of 3), docs/08_handout_benchmark.md
#   make fuzz            fuzz the parsers that read network input (FUZZ_SECONDS=60 each by default)
#   make deps            install the Debian/Ubuntu packages that are missing
#   make format          lay out every C++ file with clang-format (.clang-format: 120 columns)
#   make handout         the student handout: build/handout/ (HANDOUT=DIR), every solution replaced by its stub
#   make clean           remove everything built

include mk/config.mk

LABS := $(sort $(patsubst %/Makefile,%,$(wildcard [0-9][0-9]_*/Makefile)))
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build netutil markers handout test demo live bench bench-handout fuzz deps format clean help $(LABS)
.DEFAULT_GOAL := all

# The student handout leaves out tests/, bench/, fuzz/ and tools/: their targets say so there.
needs = @[ -e $(1) ] || { echo "make $@: no $(1) in this tree (the student handout: see ASSIGNMENTS.md)" >&2; exit 2; }

all: build

# Every lab of the variant, in parallel, after netutil (built once, first).
build: netutil
	@$(MAKE) --no-print-directory -j$(JOBS) $(addprefix build-,$(LABS))

netutil: deps markers
	@$(MAKE) --no-print-directory -C netutil

# The solution markers of the assignments (tools/handout.py check: balanced, not nested, known ids), checked
# once per build; the labs' own Makefiles check them when built alone (mk/lab.mk). The student handout has no
# tools/ (and no markers): nothing to check there.
export MARKERS_CHECKED := 1
markers: deps
	@[ ! -f tools/handout.py ] || python3 tools/handout.py check

# The student handout (ASSIGNMENTS.md; the instructor's part of README.md says how to hand it out).
HANDOUT ?= build/handout
handout:
	$(call needs,tools/handout.py)
	@python3 tools/handout.py write $(HANDOUT)

build-%: netutil
	@$(MAKE) --no-print-directory -C $*

# `make 04_prefork` at the root: build the lab, then link ./server and ./client to its programs.
$(LABS): netutil
	@$(MAKE) --no-print-directory -C $@
ifeq ($(VARIANT),release)
	@ln -sfn $@/server server && ln -sfn $@/client client
	@echo "./server and ./client now run $@ (its README: $@/README.md)"
endif

# A lab's tests: every test whose full name starts with LabNN (the suites of tests/test_NN_*.cpp and the
# fault suites' instantiations for that lab) or names the lab's folder (the suites run over every lab).
TEST_FILTER := $(if $(FILTER),$(FILTER),$(if $(LAB),Lab$(firstword $(subst _, ,$(LAB)))*:*/$(LAB):*/$(LAB)_*,*))

test: build
	$(call needs,tests/)
	@$(MAKE) --no-print-directory -C tests -j$(JOBS)
	@[ -z "$(SAN)" ] || $(MAKE) --no-print-directory -C tests -j$(JOBS) SAN=
	@SAN=$(SAN) tests/run.sh '$(TEST_FILTER)'

demo: build
	@mk/demo.sh $(LAB)

live: build
	@mk/live.sh $(LAB)

fuzz:
	$(call needs,fuzz/)
	@mk/deps.sh fuzz
	@$(MAKE) --no-print-directory -C fuzz run

bench: build
	$(call needs,bench/)
	@mk/deps.sh bench
	@bench/run.sh

# The handout's own configuration against its three servers (QUICK=1: 3 s runs, one each).
bench-handout: netutil
	$(call needs,bench/)
	@bash bench/handout.sh

format:
	@mk/deps.sh format
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build server client $(addsuffix /server,$(LABS)) $(addsuffix /client,$(LABS))
	@for lab in $(LABS); do $(MAKE) --no-print-directory -C $$lab clean >/dev/null; done

help:
	@sed -n '3,15p' Makefile | sed 's/^# //'
	@echo
	@echo "labs: $(LABS)"
