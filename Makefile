# The kit's top-level Makefile. `make help` lists the targets.
#
#   make                 build every lab present (and netutil, the shared helper)
#   make 04_prefork      build one lab, and point ./server and ./client here at its programs
#   make test            build everything and run every test (and make handout-check); SAN=address or SAN=thread
#                        for sanitizer builds
#                        LAB=07_epoll: that lab's tests only; FILTER='Lab07EchoServer.*': GoogleTest's filter
#   make demo            play every lab's demo (LAB=01_mtserver: just that one)
#   make live LAB=01_mtserver   the server and each client in its own tmux pane, ready to type into
#   make bench           run the benchmarks, write docs/benchmarks.md + plots (QUICK=1: short; CHECK=1: smoke test)
#   make bench-handout   lab 08 handout's benchmark (wrk -t10 -c10 -d30s, best of 3), docs/08_handout_benchmark.md
#   make fuzz            fuzz the parsers that read network input (FUZZ_SECONDS=60 each by default)
#   make grade           grade the assignments (LAB=08_webclient or LAB=08.1, STAGE=K, VERBOSE=1, SAN=thread,
#                        TIMEOUT_SCALE=3, HIDDEN=1, SERVER="python3 server.py", CLIENT=...): ASSIGNMENTS.md
#   make hint LAB=08_webclient N=1 [LEVEL=2|3|all]   an assignment's graded hints, one level at a time
#   make handout-check   prove the handout and the grader (the stubs score 0, the kit full marks, known-bad fail)
#   make deps            install the Debian/Ubuntu packages that are missing
#   make format          lay out every C++ file with clang-format (.clang-format: 120 columns)
#   make handout         the student handout: build/handout/ (HANDOUT=DIR), every solution replaced by its stub
#   make clean           remove everything built

include mk/config.mk

LABS := $(sort $(patsubst %/Makefile,%,$(wildcard [0-9][0-9]_*/Makefile)))
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build netutil markers handout test demo live bench bench-handout fuzz deps format clean help grade \
	hint handout-check $(LABS)
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
	@SAN=$(SAN) tests/run.sh '$(TEST_FILTER)'; rc=$$?; \
	  if [ -z "$(SAN)$(LAB)$(FILTER)" ]; then \
	    echo "===== make handout-check (the grader's proof; counted in build/release/test-summary)"; \
	    python3 grading/check.py --add-to build/release/test-summary || rc=1; \
	  fi; exit $$rc

# The grader (grading/grade.py): builds the labs it grades (and their SAN= variant), then runs their stages.
# SERVER= and CLIENT= reach it through the environment (make exports command-line variables), so any quoting
# survives; their commands run from the folder make was started in ($(PWD), before any -C).
GRADE_CWD := $(if $(wildcard $(PWD)),$(PWD),$(CURDIR))
grade: deps
	@labs=$$(python3 grading/grade.py --list-labs $(if $(LAB),--lab '$(LAB)')) || exit 2; \
	  for san in '' $(SAN); do \
	    $(MAKE) --no-print-directory netutil SAN=$$san && \
	    $(MAKE) --no-print-directory -j$(JOBS) $$(for l in $$labs; do echo build-$$l; done) SAN=$$san || exit 2; \
	  done
	@python3 grading/grade.py --cwd '$(GRADE_CWD)' $(if $(LAB),--lab '$(LAB)') $(if $(STAGE),--stage $(STAGE)) \
	  $(if $(VERBOSE),--verbose) $(if $(SAN),--san $(SAN)) $(if $(TIMEOUT_SCALE),--timeout-scale $(TIMEOUT_SCALE)) \
	  $(if $(HIDDEN),--hidden) $${SERVER:+--server "$$SERVER"} $${CLIENT:+--client "$$CLIENT"}

# The hints of grading/hints/<id>.md: LEVEL=1 (the idea, the default), 2 (the system calls), 3 (the pitfall), all.
hint:
	@python3 grading/hint.py '$(LAB)' $(if $(N),'$(N)') --level '$(if $(LEVEL),$(LEVEL),1)'

handout-check: build
	@if [ ! -f grading/check.py ]; then echo "handout-check: grading/check.py is the instructor's (not in a handout)"; \
	  exit 2; fi
	@python3 grading/check.py

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
	@sed -n '3,20p' Makefile | sed 's/^# //'
	@echo
	@echo "labs: $(LABS)"
